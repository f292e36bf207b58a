/* Newswire — API routing: ingest, article lookup, webhooks, health and
 * metrics. */
#include "api.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "http.h"
#include "log.h"

struct nw_api {
    const nw_config_t *cfg;
    nw_metrics_t *metrics;
    nw_ingest_t *ingest;
    nw_embargo_t *embargo;
    nw_publishers_t *pubs;
    nw_webhooks_t *webhooks;
    nw_http_server_t *http;
    nw_api_ready_cb ready;
    void *ready_arg;
};

static bool method_is(const nw_http_req_t *req, const char *m)
{
    return strcmp(nw_http_req_method(req), m) == 0;
}

static void method_not_allowed(nw_http_req_t *req, const char *allow)
{
    nw_http_req_add_header(req, "Allow", allow);
    nw_http_reply_error(req, 405, "method not allowed", NULL);
}

static void serve_metrics(nw_api_t *api, nw_http_req_t *req)
{
    struct evbuffer *b = evbuffer_new();
    nw_http_stats_t *st = malloc(sizeof(*st));

    if (b == NULL || st == NULL || nw_metrics_render(api->metrics, b) < 0) {
        nw_http_reply_error(req, 500, "out of memory", NULL);
    } else {
        if (api->webhooks != NULL)
            nw_webhooks_render_metrics(api->webhooks, b);
        nw_http_server_stats(api->http, st);
        evbuffer_add_printf(b,
                            "# HELP newswire_api_connections_total API connections accepted.\n"
                            "# TYPE newswire_api_connections_total counter\n"
                            "newswire_api_connections_total %llu\n"
                            "# HELP newswire_api_connections_rejected_total API connections "
                            "refused over api_max_connections.\n"
                            "# TYPE newswire_api_connections_rejected_total counter\n"
                            "newswire_api_connections_rejected_total %llu\n"
                            "# HELP newswire_api_protocol_errors_total API requests refused by "
                            "the HTTP layer, by status.\n"
                            "# TYPE newswire_api_protocol_errors_total counter\n",
                            (unsigned long long)st->connections_accepted,
                            (unsigned long long)st->connections_rejected);
        for (int s = 400; s < 600; s++) {
            if (st->errors[s] != 0)
                evbuffer_add_printf(b, "newswire_api_protocol_errors_total{status=\"%d\"} %llu\n",
                                    s, (unsigned long long)st->errors[s]);
        }
        nw_http_reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", evbuffer_pullup(b, -1),
                      evbuffer_get_length(b));
    }
    free(st);
    if (b != NULL)
        evbuffer_free(b);
}

static void serve_ready(nw_api_t *api, nw_http_req_t *req)
{
    bool redis_up = false, wire_up = false;
    bool ok = api->ready(api->ready_arg, &redis_up, &wire_up);

    if (!ok)
        nw_http_req_add_header(req, "Retry-After", "1");
    nw_http_reply_json(req, ok ? 200 : 503,
                       json_pack("{s:s, s:b, s:b}", "status", ok ? "ready" : "not ready", "redis",
                                 redis_up, "wire", wire_up));
}

/* True if origin is in api_cors_origins ("*" allows any). */
static bool cors_allowed(const nw_api_t *api, const char *origin)
{
    const char *list = api->cfg->api_cors_origins;
    size_t olen = strlen(origin);

    for (const char *p = list; *p;) {
        size_t n;
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        n = strcspn(p, ", \t");
        if (n == 0)
            break;
        if ((n == 1 && p[0] == '*') || (n == olen && strncasecmp(p, origin, n) == 0))
            return true;
        p += n;
    }
    return false;
}

/* CORS for browser pages calling the API (the demo page): allowed origins
 * get Access-Control-Allow-Origin; a preflight (OPTIONS) is answered here.
 * Returns true when the request was answered. */
static bool cors(nw_api_t *api, nw_http_req_t *req)
{
    const char *origin = nw_http_req_header(req, "Origin");
    bool allowed = origin != NULL && cors_allowed(api, origin);

    if (allowed) {
        nw_http_req_add_header(req, "Access-Control-Allow-Origin", origin);
        nw_http_req_add_header(req, "Vary", "Origin");
    }
    if (!method_is(req, "OPTIONS"))
        return false;
    if (!allowed) {
        nw_http_reply_error(req, 403, "origin not allowed (api_cors_origins)", NULL);
        return true;
    }
    nw_http_req_add_header(req, "Access-Control-Allow-Methods", "GET, POST, DELETE");
    nw_http_req_add_header(req, "Access-Control-Allow-Headers",
                           "Authorization, Content-Type, Newswire-Topics, Idempotency-Key");
    nw_http_req_add_header(req, "Access-Control-Max-Age", "600");
    nw_http_reply(req, 204, NULL, NULL, 0);
    return true;
}

/* Identifies the publisher of a /v1/ request. Returns its name, or NULL
 * after answering 401 or 403. */
static const char *identify(nw_api_t *api, nw_http_req_t *req)
{
    const char *who = NULL;
    nw_pub_verdict_t v = nw_publishers_identify(api->pubs, nw_http_req_header(req, "Authorization"),
                                                nw_http_req_peer(req), &who);

    if (v == NW_PUB_OK)
        return who;
    NW_METRIC_INC(api->metrics->api_auth[v]);
    if (v == NW_PUB_LOOPBACK) {
        nw_http_reply_error(
            req, 403, "no publisher key is configured: the API serves loopback peers only", NULL);
        return NULL;
    }
    nw_http_req_add_header(req, "WWW-Authenticate", "Bearer");
    nw_http_reply_error(req, 401,
                        v == NW_PUB_MISSING ? "an API key is required (Authorization: Bearer)"
                                            : "unknown API key",
                        "Authorization");
    return NULL;
}

/* Routes one request. */
static void request_cb(nw_http_req_t *req, void *arg)
{
    nw_api_t *api = arg;
    const char *path = nw_http_req_path(req);
    bool get = method_is(req, "GET") || method_is(req, "HEAD");
    const char *who = NULL;

    if (strncmp(path, "/v1/", 4) == 0 && cors(api, req))
        return; /* a preflight, answered */
    if (strncmp(path, "/v1/", 4) == 0 && (who = identify(api, req)) == NULL)
        return;

    if (strcmp(path, "/v1/articles") == 0) {
        if (method_is(req, "POST"))
            nw_ingest_post(api->ingest, req, who);
        else
            method_not_allowed(req, "POST");
    } else if (strncmp(path, "/v1/articles/", 13) == 0) {
        if (get)
            nw_ingest_get(api->ingest, req, path + 13);
        else if (method_is(req, "DELETE"))
            nw_ingest_delete(api->ingest, req, path + 13, who);
        else
            method_not_allowed(req, "GET, HEAD, DELETE");
    } else if (strcmp(path, "/v1/embargoes") == 0) {
        if (get)
            nw_embargo_list(api->embargo, req);
        else
            method_not_allowed(req, "GET, HEAD");
    } else if ((strncmp(path, "/v1/webhooks", 12) == 0 && (path[12] == '\0' || path[12] == '/')) &&
               api->webhooks != NULL) {
        if (!nw_publishers_is_admin(api->pubs, who)) {
            NW_METRIC_INC(api->metrics->api_auth[NW_PUB_NOT_ADMIN]);
            nw_http_reply_error(req, 403, "webhooks need an admin key (admin = 1)",
                                "Authorization");
        } else {
            nw_webhooks_serve(api->webhooks, req, path + 12);
        }
    } else if (strcmp(path, "/healthz") == 0) {
        if (get)
            nw_http_reply_json(req, 200, json_pack("{s:s}", "status", "ok"));
        else
            method_not_allowed(req, "GET, HEAD");
    } else if (strcmp(path, "/readyz") == 0) {
        if (get)
            serve_ready(api, req);
        else
            method_not_allowed(req, "GET, HEAD");
    } else if (strcmp(path, "/metrics") == 0) {
        if (get)
            serve_metrics(api, req);
        else
            method_not_allowed(req, "GET, HEAD");
    } else {
        nw_http_reply_error(req, 404, "not found", NULL);
    }
}

/* The HTTP server's limits from the configuration. */
static void http_limits(const nw_config_t *cfg, nw_http_limits_t *lim)
{
    nw_http_limits_default(lim);
    lim->max_body_bytes = cfg->api_max_body;
    lim->max_header_bytes = cfg->api_max_header_bytes;
    lim->max_headers = cfg->api_max_headers;
    lim->max_connections = cfg->api_max_connections;
    lim->header_timeout_ms = cfg->api_header_timeout_ms;
    lim->body_timeout_ms = cfg->api_body_timeout_ms;
    lim->idle_timeout_ms = cfg->api_idle_timeout_ms;
}

void nw_api_set_limits(nw_api_t *api)
{
    nw_http_limits_t lim;

    http_limits(api->cfg, &lim);
    nw_http_server_set_limits(api->http, &lim);
}

nw_api_t *nw_api_new(struct event_base *base, const nw_config_t *cfg, nw_metrics_t *metrics,
                     nw_ingest_t *ingest, nw_embargo_t *embargo, nw_api_ready_cb ready,
                     void *ready_arg)
{
    nw_api_t *api = calloc(1, sizeof(*api));
    nw_http_limits_t lim;

    if (api == NULL)
        return NULL;
    api->cfg = cfg;
    api->metrics = metrics;
    api->ingest = ingest;
    api->embargo = embargo;
    api->ready = ready;
    api->ready_arg = ready_arg;
    http_limits(cfg, &lim);
    api->http = nw_http_server_new(base, &lim, request_cb, api);
    if (api->http == NULL) {
        free(api);
        return NULL;
    }
    return api;
}

int nw_api_listen(nw_api_t *api)
{
    return nw_http_server_listen(api->http, api->cfg->api_listen.host, api->cfg->api_listen.port);
}

void nw_api_set_webhooks(nw_api_t *api, nw_webhooks_t *wh)
{
    api->webhooks = wh;
}

void nw_api_set_publishers(nw_api_t *api, nw_publishers_t *pubs)
{
    api->pubs = pubs;
}

void nw_api_stop_accepting(nw_api_t *api)
{
    nw_http_server_stop_accepting(api->http);
}

void nw_api_free(nw_api_t *api)
{
    if (api == NULL)
        return;
    nw_http_server_free(api->http);
    free(api);
}
