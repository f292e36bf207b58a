/* Newswire — ingest: the newsroom side of the API.
 *
 * POST /v1/articles validates a ninjs item (JSON or msgpack) and its routing
 * topics, then stores it and puts it on the wire (or holds it until its
 * embargo) with one atomic Lua script; the 2xx answer is sent only after
 * Redis acknowledged that script. DELETE /v1/articles/<uri> kills a story. GET
 * /v1/articles/<url-encoded uri> returns the latest stored version. Runs on
 * the core thread. */
#ifndef NW_INGEST_H
#define NW_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "http.h"
#include "metrics.h"
#include "publishers.h"
#include "redis.h"

typedef struct nw_ingest nw_ingest_t;

/* conn and script are borrowed; script must be registered on conn. */
nw_ingest_t *nw_ingest_new(const nw_config_t *cfg, nw_metrics_t *metrics, nw_redis_t *conn,
                           nw_redis_script_t *publish);

/* Called when a publish was held until its embargo, with the release time
 * (Unix ms). */
typedef void (*nw_ingest_hold_cb)(int64_t release_ms, void *arg);

void nw_ingest_set_hold_cb(nw_ingest_t *ing, nw_ingest_hold_cb cb, void *arg);

/* Uses pubs (borrowed) for grants and rates from now on. */
void nw_ingest_set_publishers(nw_ingest_t *ing, nw_publishers_t *pubs);

/* Handles POST /v1/articles for the publisher who (identified by the
 * caller); finishes req now or when Redis answers. */
void nw_ingest_post(nw_ingest_t *ing, nw_http_req_t *req, const char *who);

/* Handles DELETE /v1/articles/<encoded uri>: publishes a kill (the newest
 * stored or held version with pubstatus canceled and the next version
 * number) on every topic the story was published on. */
void nw_ingest_delete(nw_ingest_t *ing, nw_http_req_t *req, const char *encoded, const char *who);

/* Handles GET /v1/articles/<encoded uri>; encoded is the raw path rest. */
void nw_ingest_get(nw_ingest_t *ing, nw_http_req_t *req, const char *encoded);

/* Requests waiting for Redis. */
size_t nw_ingest_pending(const nw_ingest_t *ing);

/* Frees ing; no request may be pending (free the connection first, which
 * answers them). Accepts NULL. */
void nw_ingest_free(nw_ingest_t *ing);

#endif
