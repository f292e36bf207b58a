/* Newswire — the history service: resume replays and recent items.
 *
 * Gateway threads never talk to Redis: when a session resumes from a cursor
 * (`since`) or a client asks for a topic's recent items, the gateway fills a
 * request and submits it here from its own thread; the core thread runs the
 * Redis work on the command connection and calls the request's done
 * callback (on the core thread), which hands the request back to its
 * gateway.
 *
 * Resume: the service reads the wire's position and epoch (proto/
 * position.lua). The cursor is recovered when the client's epoch (if it
 * gave one) is the current one, and the cursor is neither ahead of the wire
 * (lost writes, another epoch) nor behind what the wire has trimmed. A
 * recovered cursor gets every event of (since, upto] matching its patterns,
 * collapsed per story: only the latest version; nothing for a story that
 * began and was killed or withheld inside the gap; an update of a story
 * that began inside the gap shown as "new". `upto` is at least the last
 * event the gateway dispatched when the session subscribed; reading the
 * master, the service moves it on to the wire's end, and the session drops
 * live events up to it: nothing is missed or sent twice. A cursor that cannot be
 * recovered gets the recent items of each pattern (proto/recent.lua). */
#ifndef NW_HISTORY_H
#define NW_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "event.h"
#include "metrics.h"
#include "redis.h"
#include "topic.h"

struct event_base;

typedef struct nw_history nw_history_t;
typedef struct nw_hist_req nw_hist_req_t;

typedef enum nw_hist_kind {
    NW_HIST_RESUME = 0, /* replay (since, upto] or fall back to recent items */
    NW_HIST_RECENT,     /* recent items only */
} nw_hist_kind_t;

/* Called on the core thread when the request is answered (status set). */
typedef void (*nw_hist_done_cb)(nw_hist_req_t *req, void *arg);

struct nw_hist_req {
    /* filled by the requester */
    nw_hist_kind_t kind;
    uint64_t owner; /* the requester's handle (a session id...) */
    nw_hist_done_cb done;
    void *done_arg;
    char since[NW_WIRE_ID_MAX]; /* RESUME: the client's cursor */
    char epoch[64];             /* RESUME: the client's epoch, or "" */
    char upto[NW_WIRE_ID_MAX];  /* last id to include, "+" for no bound; RESUME:
                                   the service may move it later (to the wire's
                                   end): the answer covers up to it */
    nw_topic_list_t *patterns;  /* owned */
    unsigned per_topic;         /* recent items per pattern */

    /* filled by the service */
    int status; /* 0, -EAGAIN (Redis unavailable), -ENOMEM, -ECANCELED */
    bool recovered;
    char cur_epoch[64];
    nw_event_t **events; /* owned references, in id order */
    size_t nevents;

    /* service state */
    struct nw_hist_req *next;
    void *work;
};

/* conn and the scripts are borrowed (scripts registered on conn). */
nw_history_t *nw_history_new(struct event_base *base, const nw_config_t *cfg, nw_metrics_t *metrics,
                             nw_redis_t *conn, nw_redis_script_t *position,
                             nw_redis_script_t *recent);

/* wire_read = replica: replays and recent items read the wire on conn
 * (borrowed; a link to the replica the wire tail reads, so that the
 * replay reaches the tail's position), while the resume decision (epoch,
 * cursor ahead of the wire) stays on the master. recent must be
 * registered on conn. */
/* owed(arg), on the core thread, is true while the wire tail still has to
 * renew the epoch after a failover lost entries: resumes are then not
 * recovered. */
void nw_history_set_epoch_check(nw_history_t *h, bool (*owed)(void *arg), void *arg);

void nw_history_set_read_conn(nw_history_t *h, nw_redis_t *conn);

/* Submits req (ownership passes to the service until done is called).
 * Thread-safe. Returns 0, or -EAGAIN when history_max_pending requests are
 * already waiting (req stays the caller's). */
int nw_history_submit(nw_history_t *h, nw_hist_req_t *req);

/* Allocates a zeroed request. */
nw_hist_req_t *nw_hist_req_new(void);

/* Frees a request and what it owns. Accepts NULL. */
void nw_hist_req_free(nw_hist_req_t *req);

/* Requests submitted and not yet answered. */
unsigned nw_history_pending(nw_history_t *h);

/* Answers every request not yet answered with -ECANCELED and frees h. Free
 * the connection first. Accepts NULL. */
void nw_history_free(nw_history_t *h);

/* Draws a random epoch id (32 hex digits) into buf. */
void nw_epoch_random(char buf[33]);

#endif
