/* Newswire — a gateway thread: one libwebsockets context and its loop.
 *
 * Debian 12's libwebsockets 4.1 cannot share libevent's loop, so each
 * gateway runs lws in its own thread. It owns its sessions, its topic index
 * and the frames it builds; it never talks to Redis. The core thread hands
 * it wire events through a bounded locked queue and wakes it with
 * lws_cancel_service(); the gateway drains the queue in
 * LWS_CALLBACK_EVENT_WAIT_CANCELLED and routes each event through its topic
 * index to the sessions that match. With gateway_threads > 1, every gateway
 * listens on the same port (SO_REUSEPORT) and the kernel spreads new
 * connections over them.
 *
 * Functions here are called from the core thread unless noted. */
#ifndef NW_GATEWAY_H
#define NW_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>

#include "auth.h"
#include "config.h"
#include "connlimit.h"
#include "event.h"
#include "history.h"
#include "metrics.h"

typedef struct nw_gateway nw_gateway_t;

/* Creates gateway number index (config and metrics are borrowed and must
 * outlive it). Returns NULL on allocation failure. */
nw_gateway_t *nw_gateway_new(const nw_config_t *cfg, nw_metrics_t *metrics, unsigned index);

/* Starts the thread and waits until it listens. Returns 0 or a negative
 * errno (the thread is then already gone). */
int nw_gateway_start(nw_gateway_t *gw);

/* Queues an event (takes a new reference). Returns 0 or -EAGAIN when the
 * queue is full. Call nw_gateway_wake() after a batch. */
int nw_gateway_push(nw_gateway_t *gw, nw_event_t *ev);

/* Free slots in the hand-off queue. */
size_t nw_gateway_room(nw_gateway_t *gw);

/* Tells the gateway where the wire tail (re)starts reading: every event
 * after id will be pushed. A gateway that has dispatched nothing yet uses it
 * as the upper bound of the first resumes. */
void nw_gateway_set_position(nw_gateway_t *gw, const char *id);

/* Gives the gateway the history service (borrowed) for resumes. Call
 * before nw_gateway_start(). */
void nw_gateway_set_history(nw_gateway_t *gw, nw_history_t *history);

/* Gives the gateway the subscriber policy (a new reference is taken) and
 * the connection limits (borrowed, shared by every gateway). Call before
 * nw_gateway_start(). */
void nw_gateway_set_security(nw_gateway_t *gw, nw_auth_t *auth, nw_limits_t *limits);

/* Hands a reloaded configuration (copied) and subscriber policy (a new
 * reference) to the gateway thread, which applies them at its next
 * wake-up; open sessions are kept and use the new limits from then on.
 * Returns 0 or -ENOMEM. */
int nw_gateway_reconfigure(nw_gateway_t *gw, const nw_config_t *cfg, nw_auth_t *auth);

/* Wakes the gateway thread to drain its queue. */
void nw_gateway_wake(nw_gateway_t *gw);

/* Asks the gateway to close every session with 1012 ("service restart")
 * after flushing what is queued, and to refuse new ones, so that clients
 * resume elsewhere. Returns at once. */
void nw_gateway_stop(nw_gateway_t *gw);

/* How many times the gateway thread has woken up: the watchdog wakes every
 * gateway and checks that each counted it. */
uint64_t nw_gateway_heartbeat(nw_gateway_t *gw);

/* True once, after nw_gateway_stop(), every session is closed. */
bool nw_gateway_drained(nw_gateway_t *gw);

/* Ends the loop (closing what is left), joins the thread and frees gw.
 * Accepts NULL. */
void nw_gateway_free(nw_gateway_t *gw);

#endif
