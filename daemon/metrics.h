/* Newswire — process metrics.
 *
 * One nw_metrics_t per process, created by main and handed to every module
 * at init. Counters are atomics updated with relaxed ordering: each counter
 * has one writer thread in practice (the core thread, or one gateway thread
 * for per-gateway counters), and readers only need eventually consistent
 * values. nw_metrics_render() writes the Prometheus text exposition format. */
#ifndef NW_METRICS_H
#define NW_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "common.h"

struct evbuffer;

/* Results of an ingest request, one counter each. */
typedef enum nw_ingest_result {
    NW_INGEST_ACCEPTED = 0, /* 202: stored and on the wire */
    NW_INGEST_DUPLICATE,    /* 200: same uri+version+content, nothing new */
    NW_INGEST_INVALID,      /* 400 */
    NW_INGEST_CONFLICT,     /* 409 */
    NW_INGEST_TOO_LARGE,    /* 413 */
    NW_INGEST_UNSUPPORTED,  /* 415 */
    NW_INGEST_NO_LENGTH,    /* 411 */
    NW_INGEST_UNAVAILABLE,  /* 503: Redis unreachable or failed */
    NW_INGEST_EMBARGOED,    /* 202: held until its embargo */
    NW_INGEST__COUNT
} nw_ingest_result_t;

/* Why a queued item was dropped or a session closed by the server. */
typedef enum nw_drop_reason {
    NW_DROP_OVERFLOW = 0, /* lowest urgency dropped from a full session queue */
    NW_DROP__COUNT
} nw_drop_reason_t;

typedef enum nw_close_reason {
    NW_CLOSE_SLOW = 0,      /* 1013: queue still over bound with urgent items */
    NW_CLOSE_TOO_BIG,       /* 1009: client message over ws_max_frame */
    NW_CLOSE_POLICY,        /* 1008: too many topics, binary on a JSON session... */
    NW_CLOSE_SHUTDOWN,      /* 1012: the server stops */
    NW_CLOSE_TOKEN_INVALID, /* 4001 */
    NW_CLOSE_TOKEN_EXPIRED, /* 4002 */
    NW_CLOSE_FORBIDDEN,     /* 4003 */
    NW_CLOSE_MAX_CONN,      /* 4008 */
    NW_CLOSE_RATE,          /* 4029 */
    NW_CLOSE_IDLE,          /* no close frame: silent for ws_idle_timeout (pings unanswered) */
    NW_CLOSE__COUNT
} nw_close_reason_t;

/* Why an upgrade was refused. */
typedef enum nw_refuse_reason {
    NW_REFUSE_PATH = 0,    /* 404 */
    NW_REFUSE_SUBPROTOCOL, /* 400 */
    NW_REFUSE_SHUTDOWN,    /* 503 */
    NW_REFUSE_ORIGIN,      /* 403 */
    NW_REFUSE_TOTAL,       /* 503: max_connections */
    NW_REFUSE_PER_IP,      /* 429: max_connections_per_ip */
    NW_REFUSE__COUNT
} nw_refuse_reason_t;

#define NW_EVENT_KINDS 4 /* new, update, kill, withhold (see event.h) */

/* Upper bounds (ms) of the delivery latency histogram buckets; one more
 * bucket counts what is above the last. */
#define NW_LATENCY_BUCKETS 13
extern const unsigned nw_latency_bounds_ms[NW_LATENCY_BUCKETS];

typedef struct nw_gateway_metrics {
    _Atomic uint64_t sessions_opened;
    _Atomic uint64_t sessions_closed;
    _Atomic int64_t sessions; /* open now (gauge) */
    _Atomic int64_t sessions_msgpack;
    _Atomic int64_t sessions_sse;
    _Atomic int64_t subscriptions; /* gauge */
    _Atomic int64_t queued_bytes;  /* gauge */
    _Atomic uint64_t deliveries;   /* frames queued to sessions */
    _Atomic uint64_t frames_written;
    _Atomic uint64_t events;                    /* wire events dispatched */
    _Atomic uint64_t client_errors;             /* error frames sent for bad client ops */
    _Atomic uint64_t drops[NW_DROP__COUNT][10]; /* by urgency 1..9 (0 unused) */
    _Atomic uint64_t closes[NW_CLOSE__COUNT];
    _Atomic uint64_t rejected_handshakes;
    _Atomic uint64_t handshake_timeouts; /* dropped after ws_handshake_timeout without a request */
    _Atomic uint64_t handshake_aborts;   /* gone before sending a whole request */
    _Atomic uint64_t refused[NW_REFUSE__COUNT]; /* upgrades refused, by reason */
    _Atomic uint64_t forbidden;                 /* subscriptions refused (not granted) */
    /* ingest -> socket latency of live items, by urgency (index 1..9) */
    _Atomic uint64_t latency[10][NW_LATENCY_BUCKETS + 1];
    _Atomic uint64_t latency_sum_ms[10];
} nw_gateway_metrics_t;

#define NW_METRICS_MAX_GATEWAYS 64

typedef struct nw_metrics {
    _Atomic uint64_t ingest[NW_INGEST__COUNT];
    _Atomic uint64_t api_auth[8]; /* API requests refused, by nw_pub_verdict_t */
    _Atomic uint64_t wire_events[NW_EVENT_KINDS];
    _Atomic uint64_t wire_decode_errors;
    _Atomic uint64_t wire_backpressure_pauses;
    _Atomic uint64_t wire_batch_waits;
    _Atomic uint64_t embargo_released;
    _Atomic uint64_t history_replays;         /* resumes replayed from the wire */
    _Atomic uint64_t history_replayed_events; /* events sent by those replays */
    _Atomic uint64_t history_errors;          /* history requests that failed */
    _Atomic uint64_t redis_reconnects;
    _Atomic uint64_t redis_errors; /* error replies and failed commands */
    _Atomic uint64_t redis_timeouts;
    _Atomic uint64_t redis_noscript;      /* NOSCRIPT answers (script reloaded) */
    _Atomic uint64_t redis_failovers;     /* master address changes seen through Sentinel */
    _Atomic uint64_t sentinel_queries[2]; /* Sentinel queries answered, failed */
    _Atomic uint64_t ack_waits[3];        /* publish WAITs: acknowledged, short, failed */
    _Atomic uint64_t wire_resyncs;        /* tail reconnects that found the wire changed */
    _Atomic uint64_t wire_resync_missed;  /* entries found behind the cursor and delivered */
    unsigned ngateways;
    nw_gateway_metrics_t gateways[NW_METRICS_MAX_GATEWAYS];
} nw_metrics_t;

/* One webhook partner's counters (webhook.h). The engine owns one per
 * partner, on the core thread; /metrics renders them with a webhook="NAME"
 * label. */
typedef struct nw_webhook_metrics {
    _Atomic uint64_t delivered;     /* items the partner acknowledged with a 2xx */
    _Atomic uint64_t retried;       /* failed attempts that were scheduled again */
    _Atomic uint64_t dead_lettered; /* items moved to the dead-letter stream */
    _Atomic uint64_t skipped;       /* wire entries the partner does not want (acked at once) */
    _Atomic uint64_t failures;      /* attempts that failed (non-2xx, timeout, network) */
    /* duration of the requests that got an answer, any status */
    _Atomic uint64_t latency[NW_LATENCY_BUCKETS + 1];
    _Atomic uint64_t latency_sum_ms;
    _Atomic int64_t pending;   /* items this instance holds (gauge) */
    _Atomic int64_t in_flight; /* requests in flight (gauge) */
    _Atomic int64_t disabled;  /* 1 after a 410, until registered again */
} nw_webhook_metrics_t;

/* Counts one webhook request that got an answer after ms. */
void nw_metrics_observe_webhook(nw_webhook_metrics_t *w, int64_t ms);

/* Appends the webhook families to out: n partners, names[i] with w[i]. */
void nw_metrics_render_webhooks(struct evbuffer *out, size_t n, const char *const *names,
                                const nw_webhook_metrics_t *const *w);

/* Allocates zeroed metrics for ngateways gateway threads; NULL on failure. */
nw_metrics_t *nw_metrics_new(unsigned ngateways);
void nw_metrics_free(nw_metrics_t *m);

#define NW_METRIC_INC(ctr)    atomic_fetch_add_explicit(&(ctr), 1, memory_order_relaxed)
#define NW_METRIC_ADD(ctr, n) atomic_fetch_add_explicit(&(ctr), (n), memory_order_relaxed)
#define NW_METRIC_GET(ctr)    atomic_load_explicit(&(ctr), memory_order_relaxed)

/* For counters with a single writer thread (a gateway's own counters):
 * a plain relaxed load and store, without the locked read-modify-write that
 * would cost on the per-delivery path. Readers still see whole values. */
#define NW_METRIC_ADD1(ctr, n)                                                                     \
    atomic_store_explicit(&(ctr), atomic_load_explicit(&(ctr), memory_order_relaxed) + (n),        \
                          memory_order_relaxed)
#define NW_METRIC_INC1(ctr) NW_METRIC_ADD1(ctr, 1)

/* Counts one live delivery that took ms from ingest to socket. */
void nw_metrics_observe_latency(nw_gateway_metrics_t *g, int urgency, int64_t ms);

/* Appends the Prometheus text exposition of m to out. Returns 0 or -ENOMEM. */
int nw_metrics_render(const nw_metrics_t *m, struct evbuffer *out);

const char *nw_ingest_result_name(nw_ingest_result_t r);

#endif
