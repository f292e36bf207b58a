/* Newswire — signed webhooks: partners get each item on their topics as an
 * HTTP POST, at least once.
 *
 * Partners come from [webhook NAME] sections of the configuration and from
 * registrations made through the API (POST /v1/webhooks), stored in the
 * <prefix>webhooks hash (name -> JSON) so that every instance sees them;
 * each instance reloads that hash every webhook_poll and before answering
 * any /v1/webhooks request.
 *
 * Delivery: one Redis consumer group per partner on the wire stream
 * (<prefix>wh:<name>, created at "$"). Each instance is one consumer and
 * reads new entries with XREADGROUP (no BLOCK, on the shared command
 * connection) when the wire tail has read something new (nw_webhooks_kick)
 * and on a timer. An entry the partner does not want (topics, min_urgency)
 * is acknowledged at once; the others are POSTed (webhook_http.h), at most
 * `concurrency` at a time, and acknowledged (XACK) after a 2xx. A failed
 * attempt (other status, timeout, network) is retried with capped
 * exponential backoff and jitter until `horizon` after the item entered the
 * wire; then the item goes to the dead-letter stream <prefix>wh:<name>:dead
 * and is acknowledged, in one script. A 410 disables the partner (stored in
 * <prefix>webhooks:disabled) until it is registered or enabled again.
 *
 * Crashes: entries a consumer read and did not acknowledge stay pending in
 * the group. Every instance takes over entries idle for webhook_claim_idle
 * (XAUTOCLAIM), and keeps its own live retries fresh (a script that
 * re-claims only the entries it still owns) so that nobody takes them from
 * it. On SIGTERM, what is left is handed back at once (made idle).
 *
 * Memory: each partner holds at most NW_WEBHOOK_WINDOW(concurrency) items;
 * beyond that, new entries wait in Redis. Everything runs on the core
 * thread. */
#ifndef NW_WEBHOOK_H
#define NW_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "http.h"
#include "metrics.h"
#include "redis.h"

struct event_base;
struct evbuffer;

typedef struct nw_webhooks nw_webhooks_t;

/* Items a partner may hold at once (in flight or waiting for a retry). */
#define NW_WEBHOOK_WINDOW(concurrency) NW_MAX(16u, 4u * (concurrency))

/* The scripts the engine runs on its connection (proto/webhook_*.lua),
 * registered by the caller. */
typedef struct nw_webhook_scripts {
    nw_redis_script_t *admin; /* register, enable, delete */
    nw_redis_script_t *dead;  /* dead-letter and acknowledge */
    nw_redis_script_t *touch; /* keep this consumer's entries fresh */
    nw_redis_script_t *prune; /* remove stopped instances' consumers */
} nw_webhook_scripts_t;

/* Checks what the configuration table cannot: each [webhook]'s URL,
 * topic patterns and secret. Returns 0, or -EINVAL with err naming the
 * webhook and field. */
int nw_webhooks_check_config(const nw_config_t *cfg, nw_err_t *err);

/* Creates the engine on conn (borrowed; the command connection: free it
 * before the engine, whose state its pending callbacks use). cfg is
 * borrowed and may change in place on reload (then call
 * nw_webhooks_reconfigure). Returns NULL on allocation failure. */
nw_webhooks_t *nw_webhooks_new(struct event_base *base, const nw_config_t *cfg,
                               nw_metrics_t *metrics, nw_redis_t *conn,
                               const nw_webhook_scripts_t *scripts);

/* True once the registry has been read and every enabled partner's
 * consumer group exists (then true for good): items published before that
 * would not reach a new partner, so readiness waits for it at start. */
bool nw_webhooks_ready(nw_webhooks_t *wh);

/* New entries are on the wire: every partner reads soon (coalesced). */
void nw_webhooks_kick(nw_webhooks_t *wh);

/* Applies a reloaded configuration's [webhook] sections. */
void nw_webhooks_reconfigure(nw_webhooks_t *wh);

/* Graceful stop: no new reads or requests; requests in flight finish; what
 * is left is handed back to the group at once. */
void nw_webhooks_stop(nw_webhooks_t *wh);

/* True once, after nw_webhooks_stop(), nothing is in flight. */
bool nw_webhooks_drained(const nw_webhooks_t *wh);

/* Appends the per-partner metric families to out. */
void nw_webhooks_render_metrics(const nw_webhooks_t *wh, struct evbuffer *out);

/* Serves /v1/webhooks<rest> (rest is "" or "/NAME..."): registration,
 * listing, deletion, dead letters and their replay (proto/PROTOCOL.md,
 * "Webhooks"). The caller has checked that the publisher is an admin. */
void nw_webhooks_serve(nw_webhooks_t *wh, nw_http_req_t *req, const char *rest);

/* Frees the engine: cancels requests in flight, forgets held items (they
 * stay pending in Redis for the next owner). Accepts NULL. */
void nw_webhooks_free(nw_webhooks_t *wh);

/* The delay before retry number attempt (1 = after the first failure):
 * between half and all of min(max_ms, base_ms * 2^(attempt-1)), placed by
 * rnd (any 32-bit random value). */
unsigned nw_webhook_backoff_ms(unsigned attempt, unsigned base_ms, unsigned max_ms, uint32_t rnd);

#endif
