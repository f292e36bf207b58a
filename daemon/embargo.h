/* Newswire — embargo release.
 *
 * Items whose `embargoed` time is in the future are held in Redis
 * (<prefix>held:<uri> and the <prefix>embargo ZSET scored by release time)
 * by the publish script. Every instance runs the release script
 * (proto/release.lua): at the next release time it knows of (its own holds
 * are scheduled exactly; the script also reports the next due time of any
 * instance's holds) and at least every embargo_poll. The script takes each
 * due item out of the ZSET and puts it on the wire in one atomic step, so an
 * item is released exactly once however many instances run, and holds
 * survive restarts. Runs on the core thread. */
#ifndef NW_EMBARGO_H
#define NW_EMBARGO_H

#include <stdint.h>

#include "config.h"
#include "http.h"
#include "metrics.h"
#include "redis.h"

struct event_base;

typedef struct nw_embargo nw_embargo_t;

/* conn and the scripts are borrowed; the scripts must be registered on
 * conn. Polling starts at once. */
nw_embargo_t *nw_embargo_new(struct event_base *base, const nw_config_t *cfg, nw_metrics_t *metrics,
                             nw_redis_t *conn, nw_redis_script_t *release, nw_redis_script_t *list);

/* A hold was just stored for release_ms (Unix ms): make sure the release
 * runs then. */
void nw_embargo_schedule(nw_embargo_t *e, int64_t release_ms);

/* Handles GET /v1/embargoes?limit=N: the held items, soonest first. */
void nw_embargo_list(nw_embargo_t *e, nw_http_req_t *req);

/* Requests waiting for Redis. */
unsigned nw_embargo_pending(const nw_embargo_t *e);

/* Frees e; free its connection first. Accepts NULL. */
void nw_embargo_free(nw_embargo_t *e);

#endif
