/* Newswire — the newsroom/admin API listener: routing of /v1/articles,
 * /v1/embargoes, /v1/webhooks (admin publishers only), /healthz, /readyz
 * and /metrics on the core thread's HTTP server. */
#ifndef NW_API_H
#define NW_API_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "embargo.h"
#include "ingest.h"
#include "metrics.h"
#include "publishers.h"
#include "webhook.h"

struct event_base;

typedef struct nw_api nw_api_t;

/* Readiness probe supplied by main: true when Redis and the wire tail are
 * up. */
typedef bool (*nw_api_ready_cb)(void *arg, bool *redis_up, bool *wire_up);

/* Creates the API server on base (nothing is borrowed beyond cfg, metrics
 * and ingest, which must outlive it). */
nw_api_t *nw_api_new(struct event_base *base, const nw_config_t *cfg, nw_metrics_t *metrics,
                     nw_ingest_t *ingest, nw_embargo_t *embargo, nw_api_ready_cb ready,
                     void *ready_arg);

/* Uses pubs (borrowed) to identify publishers from now on (replaced on
 * reload). Required before serving. */
void nw_api_set_publishers(nw_api_t *api, nw_publishers_t *pubs);

/* Serves /v1/webhooks with wh (borrowed; must outlive the API). */
void nw_api_set_webhooks(nw_api_t *api, nw_webhooks_t *wh);

/* Applies the configuration's HTTP limits again (after a reload). */
void nw_api_set_limits(nw_api_t *api);

/* Listens on cfg->api_listen. Returns 0 or a negative errno. */
int nw_api_listen(nw_api_t *api);

/* Closes the listener and idle connections; requests in flight finish. */
void nw_api_stop_accepting(nw_api_t *api);

void nw_api_free(nw_api_t *api);

#endif
