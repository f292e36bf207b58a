/* Newswire — GET /v1/topics/<topic>/recent?limit=N on the public listener.
 *
 * First paint for widgets: the latest items of a topic (or pattern), newest
 * first, killed and withheld stories left out, each in the shape of a
 * WebSocket item message. The gateway thread cannot ask Redis itself, so
 * the request goes to the history service and the answer comes back
 * through the session map like a resume (nw_session_history_done). Runs on
 * the gateway thread. */
#ifndef NW_RECENT_H
#define NW_RECENT_H

#include "history.h"
#include "session.h"

struct lws;

#define NW_RECENT_MAX_LIMIT 100

/* Handles an HTTP request whose path is in path. Returns 1 when the path
 * is not ours, 0 when the request is handled (answered now or later), -1
 * when the connection must close. */
int nw_recent_http_start(nw_session_env_t *env, nw_session_t *s, struct lws *wsi, const char *path);

/* The history answer for an HTTP request: prepares the response and asks
 * for a writeable callback. Frees req. */
void nw_recent_http_done(nw_session_env_t *env, nw_session_t *s, nw_hist_req_t *req);

/* Writes the prepared response (lws HTTP_WRITEABLE). Returns -1 to close. */
int nw_recent_http_writeable(nw_session_t *s);

/* Releases the request's state (lws CLOSED_HTTP). */
void nw_recent_http_closed(nw_session_env_t *env, nw_session_t *s);

#endif
