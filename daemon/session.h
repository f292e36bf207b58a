/* Newswire — one WebSocket session of a gateway thread.
 *
 * A session lives in the per-session memory lws allocates for the
 * connection (zeroed at ESTABLISHED, released after CLOSED). It holds the
 * session's subscriptions (handles into the gateway's topic index), its
 * bounded output queue of shared frames, and the reassembly buffer for
 * fragmented client messages. All functions run on the gateway thread that
 * owns the connection. Writes happen in nw_session_writeable() (lws
 * WRITEABLE) and, for items, at the end of a dispatch batch
 * (nw_session_flush_dirty()); everything else queues and asks for a
 * writeable callback. */
#ifndef NW_SESSION_H
#define NW_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "config.h"
#include "connlimit.h"
#include "event.h"
#include "frame.h"
#include "history.h"
#include "metrics.h"
#include "outq.h"
#include "strmap.h"
#include "topic_index.h"

struct lws;

/* WebSocket close codes the server uses (RFC 6455 section 7.4.1). */
#define NW_WS_CLOSE_GOING_AWAY    1001 /* server shutting down */
#define NW_WS_CLOSE_POLICY        1008 /* too many topics */
#define NW_WS_CLOSE_TOO_BIG       1009 /* client message over ws_max_frame */
#define NW_WS_CLOSE_INTERNAL      1011 /* out of memory */
#define NW_WS_CLOSE_RESTART       1012 /* server stopping: resume elsewhere */
#define NW_WS_CLOSE_TRY_AGAIN     1013 /* slow consumer: resume from the cursor */
#define NW_WS_CLOSE_TOKEN_INVALID 4001 /* token refused */
#define NW_WS_CLOSE_TOKEN_EXPIRED 4002 /* token expired (or not valid yet) */
#define NW_WS_CLOSE_FORBIDDEN     4003 /* a new token does not cover the subscriptions */
#define NW_WS_CLOSE_MAX_CONN      4008 /* too many sessions for the token's subject */
#define NW_WS_CLOSE_RATE          4029 /* too many client messages */

/* What sessions of one gateway thread share. */
typedef struct nw_session_env {
    const nw_config_t *cfg;
    nw_topic_index_t *index;
    nw_gateway_metrics_t *metrics;
    unsigned gateway_id;
    uint64_t next_id;
    struct nw_session *head; /* every open session, for shutdown */
    nw_strmap_t *by_id;      /* session id (decimal) -> session, for history answers */
    bool shutting_down;
    uint16_t shutdown_code;   /* close code sent when shutting down */
    bool write_now;           /* write queued items at the end of each dispatch batch */
    bool batching;            /* a dispatch batch is running: deliveries mark sessions dirty */
    int64_t wake_ms;          /* Unix ms at the start of the dispatch chunk (gw_wake_cb) */
    struct nw_session *dirty; /* sessions given items in this batch (dirty_next list) */
    unsigned char *wbuf;      /* LWS_PRE + NW_COALESCE_BYTES: frames coalesced into one send */

    /* security, shared by every gateway thread */
    nw_auth_t *auth;
    nw_limits_t *limits;

    /* resume */
    nw_history_t *history;
    nw_hist_done_cb hist_done; /* hands an answer back to this gateway */
    void *hist_done_arg;
    char last_id[NW_WIRE_ID_MAX]; /* last wire event dispatched here ("" = unknown) */
} nw_session_env_t;

typedef struct nw_session {
    struct lws *wsi;
    nw_session_env_t *env;
    struct nw_session *prev, *next;
    uint64_t id;
    nw_format_t fmt;
    nw_outq_t q;
    nw_sub_t **subs;
    uint32_t nsubs, capsubs;
    uint64_t mark; /* dispatch scratch: event sequence last matched */
    struct nw_session *dirty_next;
    bool dirty;    /* in env->dirty */
    uint32_t mask; /* dispatch scratch: the item's topics matched */
    uint8_t min_urgency;
    bool open;
    uint16_t close_code;      /* nonzero: close once the queue allows */
    bool close_flush;         /* write what is queued before closing */
    const char *close_reason; /* static string */
    char *rx;                 /* reassembly of a fragmented message, or NULL */
    size_t rx_len;
    size_t rx_cap;                  /* size of rx */
    bool rx_too_big;                /* discarding the rest of an oversized message */
    bool replaying;                 /* a resume is being answered: live items wait in held */
    nw_outq_t *held;                /* live items that arrived during the resume, or NULL */
    uint64_t cursor_ms, cursor_seq; /* every item up to here was written (or dropped) */
    int64_t heartbeat_ms;           /* SSE: next heartbeat (Unix ms) */
    int64_t last_rx_ms;             /* WebSocket: last message or pong from the client */
    int64_t ping_ms;                /* WebSocket: when the last ping was queued */
    bool peer_closed;               /* WebSocket: the client sent a close frame */
    bool ping_due;                  /* WebSocket: a ping goes ahead of the next write */
    bool dropping;                  /* dropped by nw_session_keepalive(), lws closes it */
    bool skipping;                  /* drop live events up to skip (the client had them) */
    uint64_t skip_ms, skip_seq;

    nw_grant_t *grant;    /* what the session's token grants, or NULL */
    bool counted;         /* counted in env->limits under peer */
    char peer[48];        /* peer address */
    uint32_t ops_milli;   /* rate limit: message tokens, in thousandths */
    uint64_t ops_last_ms; /* rate limit: last refill (CLOCK_MONOTONIC) */

    /* a plain HTTP request on the public listener (recent.h) */
    bool http;
    bool http_waiting;
    int http_status;
    char *http_body;
    size_t http_len;
    char *http_origin; /* Access-Control-Allow-Origin to send, or NULL */
} nw_session_t;

/* Starts a session on an established connection: sends hello, and applies
 * the topics of the URL query (?topics=a,b/+) if any. Returns 0, or -1 when
 * the connection must be closed (close reason already set on wsi). */
int nw_session_open(nw_session_t *s, struct lws *wsi, nw_session_env_t *env, nw_format_t fmt);

/* Handles a piece of a client message (lws RECEIVE). Returns -1 when the
 * connection must close now (close reason already set on wsi). */
int nw_session_receive(nw_session_t *s, const void *in, size_t len);

/* Writes queued frames (lws SERVER_WRITEABLE). Returns -1 to close. */
int nw_session_writeable(nw_session_t *s);

/* The gateway thread's sweep (every second or so) over its sessions. A
 * WebSocket silent for ws_ping_interval is pinged (again each interval while
 * it stays silent), one silent for ws_idle_timeout dropped without a close
 * frame (counted as idle_timeout). An event stream whose client hung up is
 * dropped, and gets its heartbeat comment when due. lws 4.1 could time each
 * connection itself (retry policy, lws_set_timer_usecs()), but keeps those
 * timers in one sorted list and inserts each by walking it: O(connections)
 * per accept, per pong, per re-arm. A session whose token expired is closed
 * (4002) here, and before any delivery after the expiry. */
void nw_session_keepalive(nw_session_t *s, int64_t now_ms);

/* Verifies token and makes it the session's grant; closes the session
 * (4001, 4002, 4003, 4008) when it cannot be used. Returns -1 when the
 * connection must close now. */
int nw_session_auth(nw_session_t *s, const char *token);

/* Releases everything (lws CLOSED). */
void nw_session_closed(nw_session_t *s);

/* Queues the item frame f of event ev (a new reference to f is taken)
 * under the overflow policy; closes the session with 1013 when it cannot
 * keep up. While a resume is answered, the frame waits in the session's
 * held queue. */
void nw_session_deliver(nw_session_t *s, const nw_event_t *ev, nw_frame_t *f);

/* Bytes of frames coalesced into one send() at most (env->wbuf). */
#define NW_COALESCE_BYTES (64 * 1024)

/* Ends a dispatch batch: writes what each session given items in it has
 * queued, at once when its socket has room (one send() for several frames,
 * no poll registration), and otherwise asks for a writeable callback. */
void nw_session_flush_dirty(nw_session_env_t *env);

/* Delivers a history answer to the session it was made for (req->owner):
 * the subscribed message, the replayed or recent items, then what was held
 * meanwhile. Frees req. Runs on the gateway thread. */
void nw_session_history_done(nw_session_env_t *env, nw_hist_req_t *req);

/* The session with this id, or NULL. */
nw_session_t *nw_session_find(nw_session_env_t *env, uint64_t id);

/* Asks for the session to close with code and reason (a static string):
 * after writing what is queued when flush, at once otherwise. */
void nw_session_close(nw_session_t *s, uint16_t code, const char *reason, bool flush);

#endif
