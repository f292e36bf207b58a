/* Newswire — Redis Sentinel: where the master (and a replica) is now.
 *
 * With `redis = sentinel://h1:26379,h2:26379/<name>` the daemon's Redis
 * links start without an address. This module asks the Sentinels in turn
 * (SENTINEL get-master-addr-by-name, and SENTINEL replicas when some link
 * reads from a replica), points every registered link at the answer
 * (nw_redis_set_addr), and keeps a pub/sub connection to one Sentinel to
 * follow +switch-master. It asks again when a link reports its address
 * stale (connect failed, connection lost, wrong ROLE, READONLY), when the
 * subscription drops, and every few seconds in any case, so a missed event
 * costs seconds, not a restart. Links check ROLE at each connect
 * (nw_redis_opts_t.role): a Sentinel's stale answer is never trusted for
 * writes. Runs on the core thread. */
#ifndef NW_SENTINEL_H
#define NW_SENTINEL_H

#include <stdbool.h>

#include "config.h"
#include "metrics.h"
#include "redis.h"

struct event_base;

typedef struct nw_sentinel nw_sentinel_t;

#define NW_SENTINEL_MAX_LINKS 8

/* addr (copied) must have nsentinels > 0. Timeouts bound each Sentinel
 * connection and query. Returns NULL on allocation failure. */
nw_sentinel_t *nw_sentinel_new(struct event_base *base, const nw_redis_addr_t *addr,
                               const char *password, unsigned connect_timeout_ms,
                               unsigned command_timeout_ms, nw_metrics_t *metrics);

/* Steers link r (borrowed: free s first, which detaches it) to the master, or with
 * replica to a replica whose replication link is up (the master when
 * there is none). Returns 0 or -ENOSPC beyond NW_SENTINEL_MAX_LINKS. */
int nw_sentinel_add_link(nw_sentinel_t *s, nw_redis_t *r, bool replica);

/* Asks the Sentinels now and subscribes to their events. */
void nw_sentinel_start(nw_sentinel_t *s);

/* Closes the Sentinel connections and frees s. Accepts NULL. */
void nw_sentinel_free(nw_sentinel_t *s);

#endif
