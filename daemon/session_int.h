/* Newswire — what session.c (queues, lifecycle) and session_ops.c (client
 * messages) share. Private to those two files. */
#ifndef NW_SESSION_INT_H
#define NW_SESSION_INT_H

#include <jansson.h>

#include "session.h"

/* Sets the close code and reason on the session's wsi and counts the
 * close; the caller then returns -1 to lws. */
int nw_session_close_now(nw_session_t *s, uint16_t code, const char *reason, nw_close_reason_t why);

/* Queues f (a new reference) and asks for a writeable callback when the
 * queue was empty. */
nw_outq_result_t nw_session_enqueue(nw_session_t *s, nw_frame_t *f);

/* Encodes and queues a control message; steals the reference to msg. */
void nw_session_send_control(nw_session_t *s, json_t *msg);

/* Queues {"type":"error","code","message"} and counts it. */
void nw_session_send_error(nw_session_t *s, const char *code, const char *message);

/* The session's patterns as a new JSON array. */
json_t *nw_session_topics_json(const nw_session_t *s);

/* Applies ?topics=, ?min_urgency=, ?since= and ?epoch= of the handshake URL.
 * Returns -1 when the session must close. */
int nw_session_apply_url(nw_session_t *s);

/* Handles one complete client message. Returns -1 to close now. */
int nw_session_handle_message(nw_session_t *s, const char *data, size_t len, bool binary);

/* Takes one message from the session's rate bucket; false when empty. */
bool nw_session_rate_take(nw_session_t *s);

/* Ends the session from its writeable callback: sets the close code and
 * reason; the caller returns -1 to lws. */
int nw_session_end(nw_session_t *s);

/* Counts an item dropped by the overflow policy (nw_outq_drop_cb). */
void nw_session_drop_cb(int urgency, void *arg);

#endif
