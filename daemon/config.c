/* Newswire — configuration table, config file and command line. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "config_int.h"
#include "log.h"

typedef enum cfg_type {
    CFG_STR,       /* plain string into a char array */
    CFG_UINT,      /* unsigned, bounded */
    CFG_SIZE,      /* size_t, bounded, k/m/g suffixes */
    CFG_MS,        /* unsigned milliseconds, bounded, ms/s/m/h suffixes */
    CFG_S,         /* unsigned seconds, bounded, s/m/h/d suffixes */
    CFG_LISTEN,    /* nw_listen_addr_t */
    CFG_REDIS,     /* URL string, also parsed into cfg->redis */
    CFG_LOGLEVEL,  /* int (nw_log_level_t) */
    CFG_WIRE_READ, /* unsigned nw_wire_read_t: the index of the value in wire_read_choices */
    CFG_REPLICA,   /* URL string (redis:// or unix:, or ""), also parsed into cfg->redis_replica */
} cfg_type_t;

/* One directive: the config key, where it lives, its bounds and default,
 * and the one-line description shown by --help. */
typedef struct cfg_key {
    const char *name;
    cfg_type_t type;
    size_t offset;
    size_t size; /* for CFG_STR: the array size */
    unsigned long long min, max;
    const char *def;
    const char *help;
} cfg_key_t;

#define OFF(f)    offsetof(nw_config_t, f)
#define STR(f)    CFG_STR, OFF(f), sizeof(((nw_config_t *)0)->f)
#define NUM(t, f) t, OFF(f), 0
#define KiB       1024ULL
/* The values of wire_read, in nw_wire_read_t order. */
static const char *const wire_read_choices[] = {"master", "replica", NULL};

#define MiB (1024ULL * 1024ULL)

static const cfg_key_t cfg_keys[] = {
    {"redis", CFG_REDIS, OFF(redis_url), 0, 0, 0, "redis://127.0.0.1:6379/0",
     "Redis server: redis://[:password@]host[:port][/db] or unix:/path[?db=N]"},
    {"listen", NUM(CFG_LISTEN, listen), 0, 0, "127.0.0.1:8080",
     "public gateway listener (WebSocket /v1/stream), ADDR:PORT"},
    {"api_listen", NUM(CFG_LISTEN, api_listen), 0, 0, "127.0.0.1:8081",
     "newsroom/admin API listener (ingest, health, metrics), ADDR:PORT"},
    {"log_level", NUM(CFG_LOGLEVEL, log_level), 0, 0, "info", "debug, info, warn or error"},

    {"redis_prefix", STR(redis_prefix), 1, 0, "{nw}:",
     "prefix of every Redis key Newswire uses (its {hash tag} keeps them in one cluster slot)"},
    {"redis_cluster", NUM(CFG_UINT, redis_cluster), 0, 1, "0",
     "1: Redis is a cluster node (redis_prefix must then carry a {hash tag})"},
    {"redis_replica", CFG_REPLICA, OFF(redis_replica_url), 0, 0, 0, "",
     "replica for wire_read = replica without Sentinel: redis://host[:port] or unix:/path"},
    {"sentinel_password", STR(sentinel_password), 0, 0, "",
     "password of the Sentinels themselves (their requirepass), with a sentinel:// redis"},
    {"ack_replicas", NUM(CFG_UINT, ack_replicas), 0, 16, "0",
     "replicas that must have a publish (WAIT) before it is answered 2xx (0: the master only)"},
    {"ack_timeout", NUM(CFG_MS, ack_timeout_ms), 10, 60000, "1s",
     "time the replicas have to acknowledge a publish (503 beyond)"},
    {"wire_read", CFG_WIRE_READ, OFF(wire_read), 0, 0, 0, "master",
     "where the wire tail and resume replays read the wire: master or replica"},
    {"redis_connect_timeout", NUM(CFG_MS, redis_connect_timeout_ms), 10, 600000, "2s",
     "time allowed to connect to Redis"},
    {"redis_command_timeout", NUM(CFG_MS, redis_command_timeout_ms), 10, 600000, "5s",
     "time allowed for one Redis command before the connection is dropped"},
    {"redis_reconnect_max", NUM(CFG_MS, redis_reconnect_max_ms), 10, 600000, "5s",
     "cap of the exponential backoff between Redis reconnection attempts"},
    {"wire_maxlen", NUM(CFG_UINT, wire_maxlen), 100, 100000000, "100000",
     "approximate number of events kept in the wire stream"},
    {"topic_maxlen", NUM(CFG_UINT, topic_maxlen), 10, 10000000, "1000",
     "approximate number of entries kept per topic index stream"},
    {"wire_max_age", NUM(CFG_S, wire_max_age_s), 0, 3650u * 86400u, "0",
     "events older than this leave the wire stream (0: only wire_maxlen trims)"},
    {"wire_read_count", NUM(CFG_UINT, wire_read_count), 1, 10000, "256",
     "wire events fetched per XREAD"},
    {"wire_block", NUM(CFG_MS, wire_block_ms), 100, 60000, "5s",
     "XREAD BLOCK time of the wire tail (an idle wire is re-polled this often)"},
    {"wire_batch_wait", NUM(CFG_MS, wire_batch_wait_ms), 0, 100, "1ms",
     "under load (an XREAD answered within this time with a partial batch) wait this long "
     "before the next XREAD, so that each read brings several events (0: never wait)"},

    {"api_max_body", NUM(CFG_SIZE, api_max_body), 1 * KiB, 64 * MiB, "1m",
     "largest ingest request body (413 beyond)"},
    {"api_max_header_bytes", NUM(CFG_SIZE, api_max_header_bytes), 1 * KiB, 1 * MiB, "16k",
     "largest request head on the API listener (431 beyond)"},
    {"api_max_headers", NUM(CFG_UINT, api_max_headers), 8, 1000, "64",
     "most header lines in one API request (431 beyond)"},
    {"api_max_connections", NUM(CFG_UINT, api_max_connections), 1, 100000, "1024",
     "open connections on the API listener (503 beyond)"},
    {"api_header_timeout", NUM(CFG_MS, api_header_timeout_ms), 100, 3600000, "10s",
     "time to receive a request head (408 beyond)"},
    {"api_body_timeout", NUM(CFG_MS, api_body_timeout_ms), 100, 3600000, "30s",
     "time to receive a request body (408 beyond)"},
    {"api_idle_timeout", NUM(CFG_MS, api_idle_timeout_ms), 100, 3600000, "60s",
     "keep-alive idle time before an API connection is closed"},
    {"ingest_max_pending", NUM(CFG_UINT, ingest_max_pending), 1, 1000000, "4096",
     "publishes waiting for Redis at once (503 beyond)"},
    {"api_cors_origins", STR(api_cors_origins), 0, 0, "",
     "browser origins allowed to call the API (CORS), comma-separated, or * (empty: none)"},
    {"idempotency_ttl", NUM(CFG_S, idempotency_ttl_s), 1, 30u * 86400u, "24h",
     "how long an Idempotency-Key is remembered"},
    {"item_ttl", NUM(CFG_S, item_ttl_s), 0, 3650u * 86400u, "0",
     "a story's stored record (latest version, topics: what versions, duplicates and kills are "
     "checked against) expires this long after its last version; 0: kept for ever"},
    {"embargo_poll", NUM(CFG_MS, embargo_poll_ms), 10, 60000, "1s",
     "how often each instance looks for embargoed items due (their own are timed exactly)"},
    {"embargo_batch", NUM(CFG_UINT, embargo_batch), 1, 10000, "100",
     "embargoed items released per script call"},

    {"gateway_threads", NUM(CFG_UINT, gateway_threads), 1, 64, "1",
     "gateway threads, each with its own event loop on the shared listener"},
    {"reuse_port", NUM(CFG_UINT, reuse_port), 0, 1, "0",
     "1: open the public listener with SO_REUSEPORT so that several instances share the port "
     "(always on with gateway_threads > 1)"},
    {"gateway_epoll", NUM(CFG_UINT, gateway_epoll), 0, 1, "1",
     "1: run each gateway's lws context on a libev epoll loop (needs libwebsockets-evlib-ev); "
     "0: lws' own poll() loop, whose wake-ups cost O(connections)"},
    {"write_now", NUM(CFG_UINT, write_now), 0, 1, "1",
     "1: write an item at once to a session with nothing queued (0: always wait for the "
     "writeable callback)"},
    {"ws_max_frame", NUM(CFG_SIZE, ws_max_frame), 256, 1 * MiB, "4k",
     "largest client WebSocket message (closed with 1009 beyond)"},
    {"ws_max_topics", NUM(CFG_UINT, ws_max_topics), 1, 4096, "64",
     "most subscriptions per session (closed with 1008 beyond)"},
    {"session_queue_bytes", NUM(CFG_SIZE, session_queue_bytes), 4 * KiB, 1024 * MiB, "1m",
     "bound of each session's output queue (overflow policy in PROTOCOL.md)"},
    {"ws_ping_interval", NUM(CFG_MS, ws_ping_interval_ms), 1000, 3600000, "30s",
     "idle time after which the server pings a WebSocket client"},
    {"ws_idle_timeout", NUM(CFG_MS, ws_idle_timeout_ms), 1000, 3600000, "75s",
     "idle time (no frame, no pong) after which a WebSocket is dropped"},
    {"ws_handshake_timeout", NUM(CFG_MS, ws_handshake_timeout_ms), 1000, 600000, "10s",
     "time allowed for the HTTP upgrade handshake"},
    {"sse_heartbeat", NUM(CFG_MS, sse_heartbeat_ms), 1000, 3600000, "15s",
     "time between the comment lines that keep an idle event stream open"},
    {"sse_check_interval", NUM(CFG_MS, sse_check_ms), 100, 60000, "1s",
     "how often an event stream's connection is checked for a client that hung up"},
    {"handoff_queue_events", NUM(CFG_UINT, handoff_queue_events), 16, 1000000, "4096",
     "wire events queued towards each gateway thread before the wire tail pauses"},

    {"replay_max", NUM(CFG_UINT, replay_max), 1, 10000000, "100000",
     "wire events a resume may scan; a longer gap gets recent items (recovered: false)"},
    {"recent_count", NUM(CFG_UINT, recent_count), 0, 1000, "10",
     "recent items per topic for a client that cannot resume"},
    {"recent_scan", NUM(CFG_UINT, recent_scan), 10, 1000000, "2000",
     "wire events scanned to find the recent items of a wildcard pattern"},
    {"history_max_pending", NUM(CFG_UINT, history_max_pending), 1, 1000000, "1024",
     "resume and recent-items requests waiting at once (clients beyond are told to retry)"},
    {"public_topics", STR(public_topics), 0, 0, "#",
     "topic patterns anyone may subscribe to; others need a token (comma-separated)"},
    {"allowed_origins", STR(allowed_origins), 0, 0, "",
     "browser origins allowed to open sessions, comma-separated (empty: any)"},
    {"jwt_secret", STR(jwt_secret), 0, 0, "",
     "HS256 secret of subscriber tokens (at least 32 bytes), or file:/path"},
    {"jwt_public_key", STR(jwt_public_key), 0, 0, "",
     "PEM public key (RS256 or ES256) of subscriber tokens"},
    {"max_connections", NUM(CFG_UINT, max_connections), 0, 10000000, "100000",
     "WebSocket sessions at once (0: no limit; 503 at the handshake beyond)"},
    {"max_connections_per_ip", NUM(CFG_UINT, max_connections_per_ip), 0, 10000000, "1000",
     "WebSocket sessions from one address (0: no limit; 429 at the handshake beyond)"},
    {"ws_ops_per_sec", NUM(CFG_UINT, ws_ops_per_sec), 1, 100000, "20",
     "client messages per second per session, on average"},
    {"ws_ops_burst", NUM(CFG_UINT, ws_ops_burst), 1, 100000, "40",
     "client messages a session may send at once (closed with 4029 beyond)"},
    {"tls_cert", STR(tls_cert), 0, 0, "",
     "PEM certificate (chain) of the public listener: serve wss:// and https://"},
    {"tls_key", STR(tls_key), 0, 0, "", "PEM private key of tls_cert"},
    {"static_dir", STR(static_dir), 0, 0, "",
     "directory of static files served on the public listener (empty: none)"},
    {"webhook_poll", NUM(CFG_MS, webhook_poll_ms), 100, 60000, "1s",
     "how often webhook registrations are reloaded from Redis and idle partners polled"},
    {"webhook_claim_idle", NUM(CFG_MS, webhook_claim_idle_ms), 1000, 3600000, "60s",
     "a webhook delivery left this long by a crashed instance is taken over by another"},
    {"webhook_retry_base", NUM(CFG_MS, webhook_retry_base_ms), 10, 3600000, "1s",
     "first webhook retry delay (doubled at each retry, with jitter)"},
    {"webhook_retry_max", NUM(CFG_MS, webhook_retry_max_ms), 10, 86400000, "1h",
     "longest delay between two webhook retries"},
    {"webhook_dead_maxlen", NUM(CFG_UINT, webhook_dead_maxlen), 10, 10000000, "10000",
     "approximate number of dead letters kept per webhook"},
    {"shutdown_timeout", NUM(CFG_MS, shutdown_timeout_ms), 0, 600000, "10s",
     "time allowed on SIGTERM for in-flight publishes, webhook requests and WebSocket closes"},
};

/* Keys a reload (SIGHUP) cannot change: they shape listeners, threads and
 * connections made at start. */
static const char *const static_keys[] = {
    "redis",
    "listen",
    "api_listen",
    "redis_prefix",
    "redis_connect_timeout",
    "redis_command_timeout",
    "redis_reconnect_max",
    "redis_cluster",
    "redis_replica",
    "sentinel_password",
    "wire_read",
    "gateway_threads",
    "reuse_port",
    "gateway_epoll",
    "write_now",
    "handoff_queue_events",
    "ws_handshake_timeout",
    "tls_cert",
    "tls_key",
};

/* Bytes of a key's value in nw_config_t. */
static size_t cfg_value_size(const cfg_key_t *k)
{
    switch (k->type) {
    case CFG_STR:
        return k->size;
    case CFG_SIZE:
        return sizeof(size_t);
    case CFG_LISTEN:
        return sizeof(nw_listen_addr_t);
    case CFG_REDIS:
        return sizeof(((nw_config_t *)0)->redis_url);
    case CFG_REPLICA:
        return sizeof(((nw_config_t *)0)->redis_replica_url);
    case CFG_LOGLEVEL:
        return sizeof(int);
    default:
        return sizeof(unsigned);
    }
}

static const cfg_key_t *cfg_find(const char *name);

size_t nw_config_keep_static(nw_config_t *next, const nw_config_t *cur, char *changed, size_t size)
{
    size_t n = 0, o = 0;

    if (size > 0)
        changed[0] = '\0';
    for (size_t i = 0; i < NW_ARRAY_LEN(static_keys); i++) {
        const cfg_key_t *k = cfg_find(static_keys[i]);
        size_t vs = cfg_value_size(k);
        char *np = (char *)next + k->offset;
        const char *cp = (const char *)cur + k->offset;

        if (memcmp(np, cp, vs) == 0)
            continue;
        memcpy(np, cp, vs);
        if (k->type == CFG_REDIS)
            next->redis = cur->redis;
        if (k->type == CFG_REPLICA)
            next->redis_replica = cur->redis_replica;
        if (o < size) {
            int w = snprintf(changed + o, size - o, "%s%s", n ? "," : "", k->name);
            o += w > 0 ? (size_t)w : 0;
        }
        n++;
    }
    return n;
}

static const cfg_key_t *cfg_find(const char *name)
{
    for (size_t i = 0; i < NW_ARRAY_LEN(cfg_keys); i++) {
        if (strcmp(cfg_keys[i].name, name) == 0)
            return &cfg_keys[i];
    }
    return NULL;
}

/* Parses a non-negative decimal integer followed by an optional unit suffix
 * from units[] (each with its multiplier). A bare number uses bare_mult. */
int nw_config_parse_scaled(const char *s, const nw_config_unit_t *units, size_t nunits,
                           unsigned long long bare_mult, unsigned long long *out)
{
    char *end;
    unsigned long long v;

    if (!isdigit((unsigned char)s[0]))
        return -EINVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0)
        return -EINVAL;
    if (*end == '\0') {
        if (bare_mult != 0 && v > ULLONG_MAX / bare_mult)
            return -EINVAL;
        *out = v * bare_mult;
        return 0;
    }
    for (size_t i = 0; i < nunits; i++) {
        if (strcasecmp(end, units[i].suffix) == 0) {
            if (v > ULLONG_MAX / units[i].mult)
                return -EINVAL;
            *out = v * units[i].mult;
            return 0;
        }
    }
    return -EINVAL;
}

static const nw_config_unit_t size_units[] = {
    {"k", KiB},   {"kb", KiB},       {"kib", KiB},       {"m", MiB},          {"mb", MiB},
    {"mib", MiB}, {"g", 1024 * MiB}, {"gb", 1024 * MiB}, {"gib", 1024 * MiB}, {"b", 1},
};
const nw_config_unit_t nw_config_ms_units[NW_CONFIG_MS_UNITS] = {
    {"ms", 1}, {"s", 1000}, {"m", 60000}, {"min", 60000}, {"h", 3600000},
};
const nw_config_unit_t nw_config_s_units[NW_CONFIG_S_UNITS] = {
    {"s", 1}, {"m", 60}, {"min", 60}, {"h", 3600}, {"d", 86400},
};

/* Applies value to the key k of cfg; on error fills err naming the key. */
static int cfg_apply(nw_config_t *cfg, const cfg_key_t *k, const char *value, nw_err_t *err)
{
    char *base = (char *)cfg;
    unsigned long long v = 0;
    int rc = 0;

    switch (k->type) {
    case CFG_STR:
        if (strlen(value) < k->min || strlen(value) >= k->size) {
            nw_err_set(err, k->name, "%s: length must be %llu..%zu bytes", k->name, k->min,
                       k->size - 1);
            return -EINVAL;
        }
        memcpy(base + k->offset, value, strlen(value) + 1);
        return 0;
    case CFG_UINT:
        rc = nw_config_parse_scaled(value, NULL, 0, 1, &v);
        break;
    case CFG_SIZE:
        rc = nw_config_parse_scaled(value, size_units, NW_ARRAY_LEN(size_units), 1, &v);
        break;
    case CFG_MS:
        rc = nw_config_parse_scaled(value, nw_config_ms_units, NW_CONFIG_MS_UNITS, 1, &v);
        break;
    case CFG_S:
        rc = nw_config_parse_scaled(value, nw_config_s_units, NW_CONFIG_S_UNITS, 1, &v);
        break;
    case CFG_LISTEN:
        if (nw_config_parse_listen(value, (nw_listen_addr_t *)(base + k->offset)) < 0) {
            nw_err_set(err, k->name, "%s: invalid address \"%s\" (want ADDR:PORT)", k->name, value);
            return -EINVAL;
        }
        return 0;
    case CFG_REDIS:
        if (strlen(value) >= sizeof(cfg->redis_url) ||
            nw_config_parse_redis_url(value, &cfg->redis) < 0) {
            nw_err_set(err, k->name,
                       "%s: invalid URL (want redis://host:port/db, unix:/path or "
                       "sentinel://host:port,host:port/master-name)",
                       k->name);
            return -EINVAL;
        }
        snprintf(cfg->redis_url, sizeof(cfg->redis_url), "%s", value);
        return 0;
    case CFG_REPLICA: {
        nw_redis_addr_t a;
        memset(&a, 0, sizeof(a));
        if (strlen(value) >= sizeof(cfg->redis_replica_url) ||
            (value[0] != '\0' && (nw_config_parse_redis_url(value, &a) < 0 || a.nsentinels > 0))) {
            nw_err_set(err, k->name, "%s: invalid URL (want redis://host:port or unix:/path)",
                       k->name);
            return -EINVAL;
        }
        cfg->redis_replica = a;
        snprintf(cfg->redis_replica_url, sizeof(cfg->redis_replica_url), "%s", value);
        return 0;
    }
    case CFG_WIRE_READ:
        for (unsigned i = 0; wire_read_choices[i] != NULL; i++) {
            if (strcmp(value, wire_read_choices[i]) == 0) {
                *(unsigned *)(base + k->offset) = i;
                return 0;
            }
        }
        nw_err_set(err, k->name, "%s: invalid value \"%s\" (want master or replica)", k->name,
                   value);
        return -EINVAL;
    case CFG_LOGLEVEL: {
        nw_log_level_t lvl;
        if (nw_log_level_parse(value, &lvl) < 0) {
            nw_err_set(err, k->name, "%s: invalid level \"%s\" (debug, info, warn, error)", k->name,
                       value);
            return -EINVAL;
        }
        cfg->log_level = (int)lvl;
        return 0;
    }
    }
    if (rc < 0 || v < k->min || v > k->max) {
        nw_err_set(err, k->name, "%s: invalid value \"%s\" (want %llu..%llu%s)", k->name, value,
                   k->min, k->max,
                   k->type == CFG_MS     ? " ms, or with a ms/s/m/h suffix"
                   : k->type == CFG_S    ? " seconds, or with a s/m/h/d suffix"
                   : k->type == CFG_SIZE ? " bytes, or with a k/m/g suffix"
                                         : "");
        return -EINVAL;
    }
    if (k->type == CFG_SIZE)
        *(size_t *)(base + k->offset) = (size_t)v;
    else
        *(unsigned *)(base + k->offset) = (unsigned)v;
    return 0;
}

void nw_config_defaults(nw_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < NW_ARRAY_LEN(cfg_keys); i++) {
        int rc = cfg_apply(cfg, &cfg_keys[i], cfg_keys[i].def, NULL);
        NW_ASSERT(rc == 0);
    }
}

int nw_config_set(nw_config_t *cfg, const char *key, const char *value, nw_err_t *err)
{
    const cfg_key_t *k = cfg_find(key);

    if (k == NULL) {
        nw_err_set(err, key, "unknown key \"%s\"", key);
        return -ENOENT;
    }
    return cfg_apply(cfg, k, value, err);
}

char *nw_config_trim(char *s)
{
    char *e;

    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
        *--e = '\0';
    return s;
}

int nw_config_load_file(nw_config_t *cfg, const char *path, nw_err_t *err)
{
    char line[NW_CONFIG_LIST_MAX + 256];
    unsigned lineno = 0;
    nw_config_section_t sec = {NULL, NULL};
    FILE *f = fopen(path, "r");
    int rc = 0;

    if (f == NULL) {
        rc = -errno;
        nw_err_set(err, "config", "cannot open config file %s: %s", path, strerror(errno));
        return rc;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        char *key, *value, *eq;
        nw_err_t kerr;

        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f)) {
            nw_err_set(err, "config", "%s:%u: line too long", path, lineno);
            rc = -EINVAL;
            break;
        }
        key = nw_config_trim(line);
        if (key[0] == '\0' || key[0] == '#')
            continue;
        if (key[0] == '[') {
            if (nw_config_section_end(&sec, &kerr) < 0 ||
                nw_config_section_begin(cfg, key, &sec, &kerr) < 0) {
                nw_err_set(err, kerr.field, "%s:%u: %s", path, lineno, kerr.message);
                rc = -EINVAL;
                break;
            }
            continue;
        }
        eq = strchr(key, '=');
        if (eq == NULL) {
            nw_err_set(err, "config", "%s:%u: expected \"key = value\"", path, lineno);
            rc = -EINVAL;
            break;
        }
        *eq = '\0';
        key = nw_config_trim(key);
        value = nw_config_trim(eq + 1);
        if (value[0] == '"') {
            /* a quoted value: up to the closing quote, then only blanks or
             * a comment */
            char *close = strchr(value + 1, '"');
            char *rest = close ? nw_config_trim(close + 1) : NULL;
            if (close == NULL || (rest[0] != '\0' && rest[0] != '#')) {
                nw_err_set(err, key, "%s:%u: %s: unterminated quoted value", path, lineno, key);
                rc = -EINVAL;
                break;
            }
            *close = '\0';
            value++;
        } else {
            /* an unquoted value ends at a " #" comment */
            char *hash = strstr(value, " #");
            if (hash != NULL)
                *hash = '\0';
            value = nw_config_trim(value);
        }
        if (sec.pub != NULL || sec.hook != NULL)
            rc = nw_config_section_set(&sec, key, value, &kerr);
        else
            rc = nw_config_set(cfg, key, value, &kerr);
        if (rc < 0) {
            nw_err_set(err, kerr.field, "%s:%u: %s", path, lineno, kerr.message);
            rc = -EINVAL;
            break;
        }
    }
    if (rc == 0) {
        nw_err_t kerr;
        if (nw_config_section_end(&sec, &kerr) < 0) {
            nw_err_set(err, kerr.field, "%s: %s", path, kerr.message);
            rc = -EINVAL;
        }
    }
    if (rc == 0 && ferror(f)) {
        nw_err_set(err, "config", "cannot read %s", path);
        rc = -EIO;
    }
    fclose(f);
    return rc;
}

/* True for keys whose value is a secret: the dump says whether one is set,
 * never what it is (a file: reference is a path, and shown). */
static bool is_secret(const cfg_key_t *k, const char *value)
{
    return (strcmp(k->name, "jwt_secret") == 0 && strncmp(value, "file:", 5) != 0) ||
           strcmp(k->name, "sentinel_password") == 0;
}

void nw_config_dump(const nw_config_t *cfg, FILE *out)
{
    const char *base = (const char *)cfg;

    for (size_t i = 0; i < NW_ARRAY_LEN(cfg_keys); i++) {
        const cfg_key_t *k = &cfg_keys[i];
        const void *p = base + k->offset;

        fprintf(out, "%s = ", k->name);
        switch (k->type) {
        case CFG_STR:
            if (is_secret(k, p))
                fprintf(out, "%s\n", *(const char *)p != '\0' ? "(set)" : "\"\"");
            else
                fprintf(out, "\"%s\"\n", (const char *)p);
            break;
        case CFG_UINT:
            fprintf(out, "%u\n", *(const unsigned *)p);
            break;
        case CFG_SIZE:
            fprintf(out, "%zu\n", *(const size_t *)p);
            break;
        case CFG_MS:
            fprintf(out, "%ums\n", *(const unsigned *)p);
            break;
        case CFG_S:
            fprintf(out, "%us\n", *(const unsigned *)p);
            break;
        case CFG_LISTEN: {
            const nw_listen_addr_t *a = p;
            fprintf(out, strchr(a->host, ':') ? "[%s]:%d\n" : "%s:%d\n", a->host, a->port);
            break;
        }
        case CFG_REDIS:
            if (cfg->redis.password[0] != '\0')
                fprintf(out, "%s (password set)\n",
                        cfg->redis.path[0]      ? "unix socket"
                        : cfg->redis.nsentinels ? "sentinel://***@hosts"
                                                : "redis://***@host");
            else
                fprintf(out, "%s\n", cfg->redis_url);
            break;
        case CFG_LOGLEVEL:
            fprintf(out, "%s\n", nw_log_level_name((nw_log_level_t)cfg->log_level));
            break;
        case CFG_WIRE_READ:
            fprintf(out, "%s\n", wire_read_choices[*(const unsigned *)p]);
            break;
        case CFG_REPLICA:
            fprintf(out, "\"%s\"\n",
                    cfg->redis_replica.password[0] ? "(password set)" : (const char *)p);
            break;
        }
    }
    nw_config_dump_sections(cfg, out);
}

void nw_config_usage(FILE *out, const char *argv0)
{
    fprintf(out,
            "Usage: %s [options]\n"
            "\n"
            "Newswire daemon: newsroom ingest, Redis wire, WebSocket gateway.\n"
            "\n"
            "Options:\n"
            "  -c, --config FILE       read settings from FILE (key = value lines)\n"
            "  -r, --redis URL         redis://host:port/db, unix:/path or\n"
            "                          sentinel://host:port,host:port/master-name\n"
            "  -l, --listen ADDR:PORT  public gateway listener (default 127.0.0.1:8080)\n"
            "  -a, --api-listen ADDR:PORT\n"
            "                          newsroom/admin API listener (default 127.0.0.1:8081)\n"
            "  -L, --log-level LEVEL   debug, info, warn or error (default info)\n"
            "  -s, --set KEY=VALUE     set any config key (repeatable)\n"
            "      --check-config      validate the configuration, print it, exit\n"
            "  -h, --help              show this help\n"
            "  -V, --version           show the version\n"
            "\n"
            "Command-line flags override the config file. Config keys:\n",
            argv0);
    for (size_t i = 0; i < NW_ARRAY_LEN(cfg_keys); i++)
        fprintf(out, "  %-22s %s (default %s)\n", cfg_keys[i].name, cfg_keys[i].help,
                cfg_keys[i].def);
}

/* Checks what involves several keys; err names the key to change. */
static int config_check(const nw_config_t *cfg, nw_err_t *err)
{
    if (cfg->redis_cluster && !nw_config_prefix_has_hash_tag(cfg->redis_prefix)) {
        nw_err_set(err, "redis_prefix",
                   "redis_prefix: \"%s\" has no {hash tag}; with redis_cluster = 1 every key must "
                   "hash to one slot (e.g. \"{nw}:\")",
                   cfg->redis_prefix);
        return -EINVAL;
    }
    if (cfg->redis_cluster && cfg->redis.nsentinels > 0) {
        nw_err_set(err, "redis_cluster",
                   "redis_cluster: a cluster is not addressed through Sentinel (use redis://)");
        return -EINVAL;
    }
    if (cfg->redis.nsentinels > 0 && cfg->redis_replica_url[0] != '\0') {
        nw_err_set(err, "redis_replica",
                   "redis_replica: not used with a sentinel:// address (Sentinel names the "
                   "replicas)");
        return -EINVAL;
    }
    if (cfg->wire_read == NW_WIRE_READ_REPLICA && cfg->redis.nsentinels == 0 &&
        cfg->redis_replica_url[0] == '\0') {
        nw_err_set(err, "wire_read",
                   "wire_read: replica needs a sentinel:// redis address or a redis_replica");
        return -EINVAL;
    }
    return 0;
}

int nw_config_from_args(nw_config_t *cfg, int argc, char **argv, nw_cli_action_t *action,
                        nw_err_t *err)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},    {"redis", required_argument, NULL, 'r'},
        {"listen", required_argument, NULL, 'l'},    {"api-listen", required_argument, NULL, 'a'},
        {"log-level", required_argument, NULL, 'L'}, {"set", required_argument, NULL, 's'},
        {"check-config", no_argument, NULL, 'C'},    {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},         {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL;
    int c, rc;

    nw_config_defaults(cfg);
    *action = NW_CLI_RUN;

    /* First pass: find --config, --help and --version, so the file is read
     * before the flags that override it. */
    /* optind = 0 (not 1) makes glibc reset its whole scanning state */
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":c:r:l:a:L:s:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'h':
            *action = NW_CLI_HELP;
            return 0;
        case 'V':
            *action = NW_CLI_VERSION;
            return 0;
        case '?':
            nw_err_set(err, argv[optind - 1], "unknown option %s", argv[optind - 1]);
            return -EINVAL;
        case ':':
            nw_err_set(err, argv[optind - 1], "option %s needs a value", argv[optind - 1]);
            return -EINVAL;
        default:
            break;
        }
    }
    if (optind < argc) {
        nw_err_set(err, argv[optind], "unexpected argument \"%s\"", argv[optind]);
        return -EINVAL;
    }
    if (config_path != NULL) {
        rc = nw_config_load_file(cfg, config_path, err);
        if (rc < 0)
            return -EINVAL;
    }

    optind = 0;
    while ((c = getopt_long(argc, argv, ":c:r:l:a:L:s:hV", opts, NULL)) != -1) {
        const char *key = NULL;
        char kv[NW_CONFIG_STR_MAX * 2];

        switch (c) {
        case 'r':
            key = "redis";
            break;
        case 'l':
            key = "listen";
            break;
        case 'a':
            key = "api_listen";
            break;
        case 'L':
            key = "log_level";
            break;
        case 'C':
            *action = NW_CLI_CHECK_CONFIG;
            break;
        case 's': {
            char *eq;
            snprintf(kv, sizeof(kv), "%s", optarg);
            eq = strchr(kv, '=');
            if (eq == NULL) {
                nw_err_set(err, "set", "--set needs KEY=VALUE, got \"%s\"", optarg);
                return -EINVAL;
            }
            *eq = '\0';
            if (nw_config_set(cfg, nw_config_trim(kv), nw_config_trim(eq + 1), err) < 0)
                return -EINVAL;
            break;
        }
        default:
            break;
        }
        if (key != NULL && nw_config_set(cfg, key, optarg, err) < 0)
            return -EINVAL;
    }
    return config_check(cfg, err);
}
