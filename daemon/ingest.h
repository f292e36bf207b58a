/* Newswire — ingest: the newsroom side of the API.
 *
 * POST /v1/articles validates a ninjs item (JSON or msgpack) and its routing
 * topics, then stores it and puts it on the wire with one atomic Lua script;
 * the 2xx answer is sent only after Redis acknowledged that script. GET
 * /v1/articles/<url-encoded uri> returns the latest stored version. Runs on
 * the core thread. */
#ifndef NW_INGEST_H
#define NW_INGEST_H

#include <stddef.h>

#include "config.h"
#include "http.h"
#include "metrics.h"
#include "redis.h"

typedef struct nw_ingest nw_ingest_t;

/* conn and script are borrowed; script must be registered on conn. */
nw_ingest_t *nw_ingest_new(const nw_config_t *cfg, nw_metrics_t *metrics, nw_redis_t *conn,
                           nw_redis_script_t *publish);

/* Handles POST /v1/articles; finishes req now or when Redis answers. */
void nw_ingest_post(nw_ingest_t *ing, nw_http_req_t *req);

/* Handles GET /v1/articles/<encoded uri>; encoded is the raw path rest. */
void nw_ingest_get(nw_ingest_t *ing, nw_http_req_t *req, const char *encoded);

/* Requests waiting for Redis. */
size_t nw_ingest_pending(const nw_ingest_t *ing);

/* Frees ing; no request may be pending (free the connection first, which
 * answers them). Accepts NULL. */
void nw_ingest_free(nw_ingest_t *ing);

#endif
