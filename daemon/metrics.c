/* Newswire — metrics storage and Prometheus text exposition. */
#include "metrics.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#include <event2/buffer.h>

static const char *const ingest_names[NW_INGEST__COUNT] = {
    "accepted",        "duplicate",   "invalid",
    "conflict",        "too_large",   "unsupported_media_type",
    "length_required", "unavailable", "embargoed",
};
static const char *const kind_names[NW_EVENT_KINDS] = {"new", "update", "kill", "withhold"};
static const char *const drop_names[NW_DROP__COUNT] = {"overflow"};
static const char *const close_names[NW_CLOSE__COUNT] = {
    "slow_consumer", "message_too_big", "policy",   "shutdown",     "token_invalid",
    "token_expired", "forbidden",       "max_conn", "rate_limited", "idle_timeout"};
static const char *const refuse_names[NW_REFUSE__COUNT] = {
    "path", "subprotocol", "shutdown", "origin", "max_connections", "max_connections_per_ip"};

const unsigned nw_latency_bounds_ms[NW_LATENCY_BUCKETS] = {1,   2,   5,    10,   25,   50,   100,
                                                           250, 500, 1000, 2500, 5000, 10000};

void nw_metrics_observe_latency(nw_gateway_metrics_t *g, int urgency, int64_t ms)
{
    unsigned b = 0;

    if (urgency < 1 || urgency > 9)
        return;
    if (ms < 0)
        ms = 0;
    while (b < NW_LATENCY_BUCKETS && (uint64_t)ms > nw_latency_bounds_ms[b])
        b++;
    NW_METRIC_INC1(g->latency[urgency][b]);
    NW_METRIC_ADD1(g->latency_sum_ms[urgency], (uint64_t)ms);
}

/* The delivery latency histogram, cumulative per Prometheus, summed over
 * gateway threads. */
static void render_latency(const nw_metrics_t *m, struct evbuffer *out)
{
    for (unsigned u = 1; u <= 9; u++) {
        uint64_t cum = 0, sum = 0;
        for (unsigned b = 0; b <= NW_LATENCY_BUCKETS; b++) {
            for (unsigned g = 0; g < m->ngateways; g++)
                cum += NW_METRIC_GET(m->gateways[g].latency[u][b]);
            if (b < NW_LATENCY_BUCKETS)
                evbuffer_add_printf(out,
                                    "newswire_delivery_latency_seconds_bucket{urgency=\"%u\","
                                    "le=\"%.3f\"} %llu\n",
                                    u, nw_latency_bounds_ms[b] / 1000.0, (unsigned long long)cum);
            else
                evbuffer_add_printf(out,
                                    "newswire_delivery_latency_seconds_bucket{urgency=\"%u\","
                                    "le=\"+Inf\"} %llu\n",
                                    u, (unsigned long long)cum);
        }
        for (unsigned g = 0; g < m->ngateways; g++)
            sum += NW_METRIC_GET(m->gateways[g].latency_sum_ms[u]);
        evbuffer_add_printf(out, "newswire_delivery_latency_seconds_sum{urgency=\"%u\"} %.3f\n", u,
                            sum / 1000.0);
        evbuffer_add_printf(out, "newswire_delivery_latency_seconds_count{urgency=\"%u\"} %llu\n",
                            u, (unsigned long long)cum);
    }
}

void nw_metrics_observe_webhook(nw_webhook_metrics_t *w, int64_t ms)
{
    unsigned b = 0;

    if (ms < 0)
        ms = 0;
    while (b < NW_LATENCY_BUCKETS && (uint64_t)ms > nw_latency_bounds_ms[b])
        b++;
    NW_METRIC_INC(w->latency[b]);
    NW_METRIC_ADD(w->latency_sum_ms, (uint64_t)ms);
}

static void header(struct evbuffer *out, const char *name, const char *type, const char *help);

/* One counter or gauge family over every partner; off is the byte offset
 * of a 64-bit field in nw_webhook_metrics_t. */
static void webhook_family(struct evbuffer *out, const char *name, const char *type,
                           const char *help, size_t n, const char *const *names,
                           const nw_webhook_metrics_t *const *w, size_t off)
{
    header(out, name, type, help);
    for (size_t i = 0; i < n; i++) {
        const char *base = (const char *)w[i];
        long long v =
            (long long)atomic_load_explicit((_Atomic uint64_t *)(base + off), memory_order_relaxed);
        evbuffer_add_printf(out, "%s{webhook=\"%s\"} %lld\n", name, names[i], v);
    }
}

#define WH_FAMILY(out, name, type, help, n, names, w, field)                                       \
    webhook_family(out, name, type, help, n, names, w, offsetof(nw_webhook_metrics_t, field))

void nw_metrics_render_webhooks(struct evbuffer *out, size_t n, const char *const *names,
                                const nw_webhook_metrics_t *const *w)
{
    WH_FAMILY(out, "newswire_webhook_delivered_total", "counter",
              "Items a webhook partner acknowledged with a 2xx.", n, names, w, delivered);
    WH_FAMILY(out, "newswire_webhook_retried_total", "counter",
              "Failed webhook attempts scheduled again.", n, names, w, retried);
    WH_FAMILY(out, "newswire_webhook_dead_lettered_total", "counter",
              "Items moved to a webhook's dead-letter stream.", n, names, w, dead_lettered);
    WH_FAMILY(out, "newswire_webhook_failures_total", "counter",
              "Webhook attempts that failed (non-2xx, timeout, network).", n, names, w, failures);
    WH_FAMILY(out, "newswire_webhook_skipped_total", "counter",
              "Wire entries a webhook does not want (topics, min_urgency).", n, names, w, skipped);
    WH_FAMILY(out, "newswire_webhook_pending", "gauge",
              "Items this instance holds for a webhook (in flight or waiting to retry).", n, names,
              w, pending);
    WH_FAMILY(out, "newswire_webhook_in_flight", "gauge", "Webhook requests in flight.", n, names,
              w, in_flight);
    WH_FAMILY(out, "newswire_webhook_disabled", "gauge",
              "1 when the partner answered 410 Gone and deliveries stopped.", n, names, w,
              disabled);
    evbuffer_add_printf(out, "# HELP newswire_webhook_request_seconds Duration of the webhook "
                             "requests that got an answer.\n"
                             "# TYPE newswire_webhook_request_seconds histogram\n");
    for (size_t i = 0; i < n; i++) {
        uint64_t cum = 0;
        for (unsigned b = 0; b <= NW_LATENCY_BUCKETS; b++) {
            cum += NW_METRIC_GET(w[i]->latency[b]);
            if (b < NW_LATENCY_BUCKETS)
                evbuffer_add_printf(out,
                                    "newswire_webhook_request_seconds_bucket{webhook=\"%s\","
                                    "le=\"%.3f\"} %llu\n",
                                    names[i], nw_latency_bounds_ms[b] / 1000.0,
                                    (unsigned long long)cum);
            else
                evbuffer_add_printf(out,
                                    "newswire_webhook_request_seconds_bucket{webhook=\"%s\","
                                    "le=\"+Inf\"} %llu\n",
                                    names[i], (unsigned long long)cum);
        }
        evbuffer_add_printf(out, "newswire_webhook_request_seconds_sum{webhook=\"%s\"} %.3f\n",
                            names[i], NW_METRIC_GET(w[i]->latency_sum_ms) / 1000.0);
        evbuffer_add_printf(out, "newswire_webhook_request_seconds_count{webhook=\"%s\"} %llu\n",
                            names[i], (unsigned long long)cum);
    }
}

const char *nw_ingest_result_name(nw_ingest_result_t r)
{
    return (unsigned)r < NW_INGEST__COUNT ? ingest_names[r] : "?";
}

nw_metrics_t *nw_metrics_new(unsigned ngateways)
{
    nw_metrics_t *m;

    if (ngateways > NW_METRICS_MAX_GATEWAYS)
        return NULL;
    m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    m->ngateways = ngateways;
    return m;
}

void nw_metrics_free(nw_metrics_t *m)
{
    free(m);
}

/* Sums one per-gateway counter (at byte offset off in nw_gateway_metrics_t;
 * every counter there is 64 bits wide) over every gateway thread. */
static int64_t gw_sum(const nw_metrics_t *m, size_t off)
{
    int64_t s = 0;

    for (unsigned g = 0; g < m->ngateways; g++) {
        const char *base = (const char *)&m->gateways[g];
        s += (int64_t)atomic_load_explicit((_Atomic uint64_t *)(base + off), memory_order_relaxed);
    }
    return s;
}

#define GW_SUM(m, field) gw_sum((m), offsetof(nw_gateway_metrics_t, field))

/* A family of one sample without labels, read at off: in nw_metrics_t
 * (core_counters) or summed over the gateway threads' nw_gateway_metrics_t
 * (gateway_families). */
typedef struct {
    const char *name, *type, *help;
    size_t off;
} single_t;

#define CORE(name, field, help)                                                                    \
    {                                                                                              \
        name, "counter", help, offsetof(nw_metrics_t, field)                                       \
    }
#define GW(name, type, field, help)                                                                \
    {                                                                                              \
        name, type, help, offsetof(nw_gateway_metrics_t, field)                                    \
    }

static const single_t core_counters[] = {
    CORE("newswire_wire_decode_errors_total", wire_decode_errors,
         "Wire entries that could not be decoded (skipped)."),
    CORE("newswire_wire_backpressure_total", wire_backpressure_pauses,
         "Times the wire tail paused because a gateway queue was full."),
    CORE("newswire_wire_batch_waits_total", wire_batch_waits,
         "Times the wire tail waited wire_batch_wait before its next read (under load)."),
    CORE("newswire_embargo_released_total", embargo_released,
         "Embargoed items this instance released to the wire."),
    CORE("newswire_history_replays_total", history_replays, "Resumes replayed from the wire."),
    CORE("newswire_history_replayed_events_total", history_replayed_events,
         "Events sent by resume replays (after collapse)."),
    CORE("newswire_history_errors_total", history_errors,
         "Resume or recent-items requests that failed (Redis unavailable)."),
    CORE("newswire_redis_reconnects_total", redis_reconnects, "Redis connections (re)established."),
    CORE("newswire_redis_errors_total", redis_errors,
         "Redis commands that failed (error reply, lost connection or timeout)."),
    CORE("newswire_redis_timeouts_total", redis_timeouts, "Redis commands that timed out."),
    CORE("newswire_redis_noscript_total", redis_noscript,
         "NOSCRIPT answers (the script was sent again)."),
};

static const single_t gateway_families[] = {
    GW("newswire_subscriptions", "gauge", subscriptions, "Subscriptions (topic patterns) held."),
    GW("newswire_queued_bytes", "gauge", queued_bytes, "Bytes queued in session output queues."),
    GW("newswire_deliveries_total", "counter", deliveries, "Item frames queued to sessions."),
    GW("newswire_frames_written_total", "counter", frames_written, "Frames written to sockets."),
    GW("newswire_gateway_events_total", "counter", events,
       "Wire events dispatched, summed over gateway threads."),
    GW("newswire_client_errors_total", "counter", client_errors,
       "Error frames sent for invalid client messages."),
    GW("newswire_handshakes_rejected_total", "counter", rejected_handshakes,
       "WebSocket handshakes refused (wrong path, shutting down)."),
    GW("newswire_handshake_timeouts_total", "counter", handshake_timeouts,
       "Connections dropped after ws_handshake_timeout without a complete request head."),
    GW("newswire_handshake_aborts_total", "counter", handshake_aborts,
       "Connections the client closed before sending a complete request head."),
};

static void header(struct evbuffer *out, const char *name, const char *type, const char *help)
{
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A family of one sample without labels: a counter (single_u) or a gauge
 * that is a signed sum over gateway threads (single_i). */
static void single_u(struct evbuffer *out, const char *name, const char *type, const char *help,
                     uint64_t v)
{
    header(out, name, type, help);
    evbuffer_add_printf(out, "%s %llu\n", name, (unsigned long long)v);
}

static void single_i(struct evbuffer *out, const char *name, const char *type, const char *help,
                     int64_t v)
{
    header(out, name, type, help);
    evbuffer_add_printf(out, "%s %lld\n", name, (long long)v);
}

/* The high-availability families: Sentinel, replicated acknowledgements,
 * wire resynchronisation after a failover. */
static void render_ha(const nw_metrics_t *m, struct evbuffer *out)
{
    static const char *const waits[] = {"acknowledged", "short", "failed"};

    single_u(out, "newswire_redis_failovers_total", "counter",
             "Master changes followed through Sentinel.", NW_METRIC_GET(m->redis_failovers));
    header(out, "newswire_sentinel_queries_total", "counter",
           "Sentinel queries for the master's address, by result.");
    evbuffer_add_printf(out, "newswire_sentinel_queries_total{result=\"ok\"} %llu\n",
                        (unsigned long long)NW_METRIC_GET(m->sentinel_queries[0]));
    evbuffer_add_printf(out, "newswire_sentinel_queries_total{result=\"failed\"} %llu\n",
                        (unsigned long long)NW_METRIC_GET(m->sentinel_queries[1]));
    header(out, "newswire_ack_waits_total", "counter",
           "Publish WAITs for ack_replicas: acknowledged, short (fewer replicas in time: 503), "
           "failed (no answer: 503).");
    for (size_t i = 0; i < NW_ARRAY_LEN(waits); i++)
        evbuffer_add_printf(out, "newswire_ack_waits_total{result=\"%s\"} %llu\n", waits[i],
                            (unsigned long long)NW_METRIC_GET(m->ack_waits[i]));
    single_u(out, "newswire_wire_resyncs_total", "counter",
             "Wire tail reconnects that found the wire diverged from what it had delivered "
             "(failover to a replica that missed writes).",
             NW_METRIC_GET(m->wire_resyncs));
    single_u(out, "newswire_wire_resync_missed_total", "counter",
             "Entries found behind the tail's cursor after a failover, delivered late.",
             NW_METRIC_GET(m->wire_resync_missed));
}

int nw_metrics_render(const nw_metrics_t *m, struct evbuffer *out)
{
    header(out, "newswire_ingest_items_total", "counter", "Ingest requests by result.");
    for (unsigned i = 0; i < NW_INGEST__COUNT; i++)
        evbuffer_add_printf(out, "newswire_ingest_items_total{result=\"%s\"} %llu\n",
                            ingest_names[i], (unsigned long long)NW_METRIC_GET(m->ingest[i]));

    header(out, "newswire_api_auth_refused_total", "counter",
           "API requests refused by publisher authorization, by reason.");
    {
        static const char *const reasons[] = {
            "",
            "missing_key",
            "unknown_key",
            "not_loopback",
            "forbidden_topic",
            "rate_limited",
            "not_admin",
        };
        for (unsigned i = 1; i < NW_ARRAY_LEN(reasons); i++)
            evbuffer_add_printf(out, "newswire_api_auth_refused_total{reason=\"%s\"} %llu\n",
                                reasons[i], (unsigned long long)NW_METRIC_GET(m->api_auth[i]));
    }
    header(out, "newswire_wire_events_total", "counter", "Wire events read from Redis by kind.");
    for (unsigned i = 0; i < NW_EVENT_KINDS; i++)
        evbuffer_add_printf(out, "newswire_wire_events_total{kind=\"%s\"} %llu\n", kind_names[i],
                            (unsigned long long)NW_METRIC_GET(m->wire_events[i]));
    for (size_t i = 0; i < NW_ARRAY_LEN(core_counters); i++) {
        const single_t *c = &core_counters[i];
        const _Atomic uint64_t *v = (const _Atomic uint64_t *)((const char *)m + c->off);

        single_u(out, c->name, c->type, c->help, NW_METRIC_GET(*v));
    }

    render_ha(m, out);

    header(out, "newswire_sessions", "gauge", "Open sessions by transport and format.");
    evbuffer_add_printf(
        out, "newswire_sessions{transport=\"ws\",format=\"json\"} %lld\n",
        (long long)(GW_SUM(m, sessions) - GW_SUM(m, sessions_msgpack) - GW_SUM(m, sessions_sse)));
    evbuffer_add_printf(out, "newswire_sessions{transport=\"sse\",format=\"json\"} %lld\n",
                        (long long)GW_SUM(m, sessions_sse));
    evbuffer_add_printf(out, "newswire_sessions{transport=\"ws\",format=\"msgpack\"} %lld\n",
                        (long long)GW_SUM(m, sessions_msgpack));
    header(out, "newswire_sessions_opened_total", "counter", "Sessions opened.");
    evbuffer_add_printf(out, "newswire_sessions_opened_total{transport=\"ws\"} %lld\n",
                        (long long)GW_SUM(m, sessions_opened));
    for (size_t i = 0; i < NW_ARRAY_LEN(gateway_families); i++) {
        const single_t *f = &gateway_families[i];

        single_i(out, f->name, f->type, f->help, gw_sum(m, f->off));
    }

    header(out, "newswire_handshakes_refused_total", "counter",
           "WebSocket upgrades refused, by reason.");
    for (unsigned r = 0; r < NW_REFUSE__COUNT; r++) {
        int64_t s = 0;
        for (unsigned g = 0; g < m->ngateways; g++)
            s += (int64_t)NW_METRIC_GET(m->gateways[g].refused[r]);
        evbuffer_add_printf(out, "newswire_handshakes_refused_total{reason=\"%s\"} %lld\n",
                            refuse_names[r], (long long)s);
    }
    single_i(out, "newswire_subscriptions_forbidden_total", "counter",
             "Subscriptions refused because no public pattern or token grant covers them.",
             GW_SUM(m, forbidden));
    header(out, "newswire_delivery_latency_seconds", "histogram",
           "Time from ingest (or embargo release) to the socket, live items, by urgency.");
    render_latency(m, out);
    header(out, "newswire_drops_total", "counter", "Queued items dropped, by reason and urgency.");
    for (unsigned r = 0; r < NW_DROP__COUNT; r++) {
        for (unsigned u = 1; u <= 9; u++) {
            int64_t s = 0;
            for (unsigned g = 0; g < m->ngateways; g++)
                s += (int64_t)NW_METRIC_GET(m->gateways[g].drops[r][u]);
            evbuffer_add_printf(out, "newswire_drops_total{reason=\"%s\",urgency=\"%u\"} %lld\n",
                                drop_names[r], u, (long long)s);
        }
    }
    header(out, "newswire_session_closes_total", "counter",
           "Sessions closed by the server, by reason.");
    for (unsigned r = 0; r < NW_CLOSE__COUNT; r++) {
        int64_t s = 0;
        for (unsigned g = 0; g < m->ngateways; g++)
            s += (int64_t)NW_METRIC_GET(m->gateways[g].closes[r]);
        evbuffer_add_printf(out, "newswire_session_closes_total{reason=\"%s\"} %lld\n",
                            close_names[r], (long long)s);
    }
    return 0;
}
