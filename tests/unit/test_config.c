/* Unit tests for daemon/config.c: defaults, value syntax and bounds, listen
 * addresses, Redis URLs, the config file, the command line and the dump. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "log.h"

#define KIB 1024ULL
#define MIB (1024ULL * 1024ULL)
#define GIB (1024ULL * MIB)

/* One numeric key: where its value lives and its documented bounds. */
typedef struct num_key {
    const char *name;
    size_t offset;
    int is_size; /* size_t rather than unsigned */
    unsigned long long min, max;
} num_key_t;

#define U(f) offsetof(nw_config_t, f), 0
#define Z(f) offsetof(nw_config_t, f), 1

static const num_key_t num_keys[] = {
    {"redis_connect_timeout", U(redis_connect_timeout_ms), 10, 600000},
    {"redis_command_timeout", U(redis_command_timeout_ms), 10, 600000},
    {"redis_reconnect_max", U(redis_reconnect_max_ms), 10, 600000},
    {"wire_maxlen", U(wire_maxlen), 100, 100000000},
    {"topic_maxlen", U(topic_maxlen), 10, 10000000},
    {"wire_max_age", U(wire_max_age_s), 0, 3650ULL * 86400},
    {"wire_read_count", U(wire_read_count), 1, 10000},
    {"wire_block", U(wire_block_ms), 100, 60000},
    {"wire_batch_wait", U(wire_batch_wait_ms), 0, 100},
    {"api_max_body", Z(api_max_body), 1 * KIB, 64 * MIB},
    {"api_max_header_bytes", Z(api_max_header_bytes), 1 * KIB, 1 * MIB},
    {"api_max_headers", U(api_max_headers), 8, 1000},
    {"api_max_connections", U(api_max_connections), 1, 100000},
    {"api_header_timeout", U(api_header_timeout_ms), 100, 3600000},
    {"api_body_timeout", U(api_body_timeout_ms), 100, 3600000},
    {"api_idle_timeout", U(api_idle_timeout_ms), 100, 3600000},
    {"ingest_max_pending", U(ingest_max_pending), 1, 1000000},
    {"idempotency_ttl", U(idempotency_ttl_s), 1, 30ULL * 86400},
    {"item_ttl", U(item_ttl_s), 0, 3650ULL * 86400},
    {"embargo_poll", U(embargo_poll_ms), 10, 60000},
    {"embargo_batch", U(embargo_batch), 1, 10000},
    {"gateway_threads", U(gateway_threads), 1, 64},
    {"reuse_port", U(reuse_port), 0, 1},
    {"gateway_epoll", U(gateway_epoll), 0, 1},
    {"write_now", U(write_now), 0, 1},
    {"ws_max_frame", Z(ws_max_frame), 256, 1 * MIB},
    {"ws_max_topics", U(ws_max_topics), 1, 4096},
    {"session_queue_bytes", Z(session_queue_bytes), 4 * KIB, 1 * GIB},
    {"ws_ping_interval", U(ws_ping_interval_ms), 1000, 3600000},
    {"ws_idle_timeout", U(ws_idle_timeout_ms), 1000, 3600000},
    {"ws_handshake_timeout", U(ws_handshake_timeout_ms), 1000, 600000},
    {"sse_heartbeat", U(sse_heartbeat_ms), 1000, 3600000},
    {"sse_check_interval", U(sse_check_ms), 100, 60000},
    {"handoff_queue_events", U(handoff_queue_events), 16, 1000000},
    {"replay_max", U(replay_max), 1, 10000000},
    {"recent_count", U(recent_count), 0, 1000},
    {"recent_scan", U(recent_scan), 10, 1000000},
    {"history_max_pending", U(history_max_pending), 1, 1000000},
    {"max_connections", U(max_connections), 0, 10000000},
    {"max_connections_per_ip", U(max_connections_per_ip), 0, 10000000},
    {"ws_ops_per_sec", U(ws_ops_per_sec), 1, 100000},
    {"ws_ops_burst", U(ws_ops_burst), 1, 100000},
    {"webhook_poll", U(webhook_poll_ms), 100, 60000},
    {"webhook_claim_idle", U(webhook_claim_idle_ms), 1000, 3600000},
    {"webhook_retry_base", U(webhook_retry_base_ms), 10, 3600000},
    {"webhook_retry_max", U(webhook_retry_max_ms), 10, 86400000},
    {"webhook_dead_maxlen", U(webhook_dead_maxlen), 10, 10000000},
    {"shutdown_timeout", U(shutdown_timeout_ms), 0, 600000},
    {"redis_cluster", U(redis_cluster), 0, 1},
    {"ack_replicas", U(ack_replicas), 0, 16},
    {"ack_timeout", U(ack_timeout_ms), 10, 60000},
};

/* The keys that are not numbers; with num_keys, every documented key. */
static const char *const other_keys[] = {"redis",
                                         "listen",
                                         "api_listen",
                                         "log_level",
                                         "redis_prefix",
                                         "public_topics",
                                         "allowed_origins",
                                         "jwt_secret",
                                         "jwt_public_key",
                                         "tls_cert",
                                         "tls_key",
                                         "static_dir",
                                         "api_cors_origins",
                                         "redis_replica",
                                         "wire_read",
                                         "sentinel_password"};

static unsigned long long num_get(const nw_config_t *cfg, const num_key_t *k)
{
    const char *p = (const char *)cfg + k->offset;

    return k->is_size ? (unsigned long long)*(const size_t *)p : *(const unsigned *)p;
}

static const num_key_t *num_key(const char *name)
{
    for (size_t i = 0; i < NW_ARRAY_LEN(num_keys); i++) {
        if (strcmp(num_keys[i].name, name) == 0)
            return &num_keys[i];
    }
    fail_msg("no key %s in the test table", name);
    return NULL;
}

/* Sets key = value on a default config and returns the stored number. */
static unsigned long long set_num(const char *key, const char *value)
{
    nw_config_t cfg;
    nw_err_t err = {.field = ""};
    int rc;

    nw_config_defaults(&cfg);
    rc = nw_config_set(&cfg, key, value, &err);
    if (rc != 0)
        fail_msg("%s = %s refused (%d): %s", key, value, rc, err.message);
    return num_get(&cfg, num_key(key));
}

/* Asserts key = value is refused with -EINVAL, err naming the key, and the
 * number left at its default. */
static void set_bad(const char *key, const char *value)
{
    nw_config_t cfg, def;
    nw_err_t err = {.field = ""};
    int rc;

    nw_config_defaults(&cfg);
    nw_config_defaults(&def);
    rc = nw_config_set(&cfg, key, value, &err);
    if (rc != -EINVAL)
        fail_msg("%s = \"%s\": rc %d, wanted -EINVAL", key, value, rc);
    assert_string_equal(err.field, key);
    if (strstr(err.message, key) == NULL)
        fail_msg("%s = \"%s\": message \"%s\" does not name the key", key, value, err.message);
    if (strcmp(key, "redis_prefix") == 0)
        assert_string_equal(cfg.redis_prefix, def.redis_prefix);
    else if (strcmp(key, "log_level") == 0)
        assert_int_equal(cfg.log_level, def.log_level);
    else if (strcmp(key, "redis") == 0)
        assert_string_equal(cfg.redis_url, def.redis_url);
    else if (strcmp(key, "listen") != 0 && strcmp(key, "api_listen") != 0)
        assert_int_equal(num_get(&cfg, num_key(key)), num_get(&def, num_key(key)));
}

static void test_config_defaults(void **state)
{
    nw_config_t c;

    (void)state;
    memset(&c, 0xa5, sizeof(c));
    nw_config_defaults(&c);
    assert_string_equal(c.redis_url, "redis://127.0.0.1:6379/0");
    assert_string_equal(c.redis.host, "127.0.0.1");
    assert_int_equal(c.redis.port, 6379);
    assert_string_equal(c.redis.path, "");
    assert_int_equal(c.redis.db, 0);
    assert_string_equal(c.redis.password, "");
    assert_string_equal(c.listen.host, "127.0.0.1");
    assert_int_equal(c.listen.port, 8080);
    assert_string_equal(c.api_listen.host, "127.0.0.1");
    assert_int_equal(c.api_listen.port, 8081);
    assert_int_equal(c.log_level, NW_LOG_INFO);
    assert_string_equal(c.redis_prefix, "{nw}:");
    assert_true(nw_config_prefix_has_hash_tag(c.redis_prefix));
    assert_int_equal(c.redis_cluster, 0);
    assert_int_equal(c.ack_replicas, 0);
    assert_int_equal(c.ack_timeout_ms, 1000);
    assert_int_equal(c.wire_read, NW_WIRE_READ_MASTER);
    assert_string_equal(c.redis_replica_url, "");
    assert_string_equal(c.sentinel_password, "");
    assert_int_equal(c.redis.nsentinels, 0);
    assert_int_equal(c.redis_connect_timeout_ms, 2000);
    assert_int_equal(c.redis_command_timeout_ms, 5000);
    assert_int_equal(c.redis_reconnect_max_ms, 5000);
    assert_int_equal(c.wire_maxlen, 100000);
    assert_int_equal(c.topic_maxlen, 1000);
    assert_int_equal(c.wire_read_count, 256);
    assert_int_equal(c.wire_block_ms, 5000);
    assert_int_equal(c.api_max_body, 1 * MIB);
    assert_int_equal(c.api_max_header_bytes, 16 * KIB);
    assert_int_equal(c.api_max_headers, 64);
    assert_int_equal(c.api_max_connections, 1024);
    assert_int_equal(c.api_header_timeout_ms, 10000);
    assert_int_equal(c.api_body_timeout_ms, 30000);
    assert_int_equal(c.api_idle_timeout_ms, 60000);
    assert_int_equal(c.ingest_max_pending, 4096);
    assert_int_equal(c.gateway_threads, 1);
    assert_int_equal(c.ws_max_frame, 4 * KIB);
    assert_int_equal(c.ws_max_topics, 64);
    assert_int_equal(c.session_queue_bytes, 1 * MIB);
    assert_int_equal(c.ws_ping_interval_ms, 30000);
    assert_int_equal(c.ws_idle_timeout_ms, 75000);
    assert_int_equal(c.ws_handshake_timeout_ms, 10000);
    assert_int_equal(c.handoff_queue_events, 4096);
    assert_int_equal(c.shutdown_timeout_ms, 10000);
}

static void test_config_size_suffixes(void **state)
{
    (void)state;
    assert_int_equal(set_num("api_max_body", "2048"), 2048);
    assert_int_equal(set_num("api_max_body", "4k"), 4 * KIB);
    assert_int_equal(set_num("api_max_body", "4K"), 4 * KIB);
    assert_int_equal(set_num("api_max_body", "3m"), 3 * MIB);
    assert_int_equal(set_num("api_max_body", "64M"), 64 * MIB);
    assert_int_equal(set_num("session_queue_bytes", "1g"), 1 * GIB);
    assert_int_equal(set_num("session_queue_bytes", "1G"), 1 * GIB);
    assert_int_equal(set_num("ws_max_frame", "1m"), 1 * MIB);
    set_bad("api_max_body", "4x");
    set_bad("api_max_body", "k");
    set_bad("api_max_body", "");
    set_bad("api_max_body", "-4k");
    set_bad("api_max_body", "1.5m");
    set_bad("api_max_body", "4 k");
    set_bad("api_max_body", "4kk");
    set_bad("session_queue_bytes", "2g");
    set_bad("session_queue_bytes", "99999999999999999999");
    set_bad("session_queue_bytes", "18446744073709551615k");
}

static void test_config_duration_suffixes(void **state)
{
    (void)state;
    assert_int_equal(set_num("api_idle_timeout", "1500"), 1500);
    assert_int_equal(set_num("api_idle_timeout", "250ms"), 250);
    assert_int_equal(set_num("api_idle_timeout", "2s"), 2000);
    assert_int_equal(set_num("api_idle_timeout", "3m"), 180000);
    assert_int_equal(set_num("api_idle_timeout", "1h"), 3600000);
    assert_int_equal(set_num("shutdown_timeout", "0"), 0);
    assert_int_equal(set_num("shutdown_timeout", "0s"), 0);
    set_bad("api_idle_timeout", "2h");
    set_bad("api_idle_timeout", "10d");
    set_bad("api_idle_timeout", "s");
    set_bad("api_idle_timeout", "1.5s");
    set_bad("api_idle_timeout", "-1s");
    set_bad("api_idle_timeout", "99999999999999999999h");
}

static void test_config_plain_numbers(void **state)
{
    (void)state;
    assert_int_equal(set_num("gateway_threads", "8"), 8);
    assert_int_equal(set_num("wire_maxlen", "100000000"), 100000000);
    set_bad("gateway_threads", "4k"); /* counts take no suffix */
    set_bad("gateway_threads", "2s");
    set_bad("gateway_threads", "0x10");
    set_bad("gateway_threads", "+4");
    set_bad("gateway_threads", " 4");
}

/* Each bound is accepted, one past it is refused. */
static void test_config_bounds(void **state)
{
    (void)state;
    for (size_t i = 0; i < NW_ARRAY_LEN(num_keys); i++) {
        const num_key_t *k = &num_keys[i];
        char v[32];

        snprintf(v, sizeof(v), "%llu", k->min);
        assert_int_equal(set_num(k->name, v), k->min);
        snprintf(v, sizeof(v), "%llu", k->max);
        assert_int_equal(set_num(k->name, v), k->max);
        snprintf(v, sizeof(v), "%llu", k->max + 1);
        set_bad(k->name, v);
        if (k->min > 0) {
            snprintf(v, sizeof(v), "%llu", k->min - 1);
            set_bad(k->name, v);
        } else {
            set_bad(k->name, "-1");
        }
    }
}

static void test_config_strings_and_levels(void **state)
{
    nw_config_t cfg;
    nw_err_t err = {.field = ""};
    char longest[64], too_long[65];

    (void)state;
    nw_config_defaults(&cfg);
    memset(longest, 'p', 63);
    longest[63] = '\0';
    memset(too_long, 'p', 64);
    too_long[64] = '\0';
    assert_int_equal(nw_config_set(&cfg, "redis_prefix", "news:", &err), 0);
    assert_string_equal(cfg.redis_prefix, "news:");
    assert_int_equal(nw_config_set(&cfg, "redis_prefix", longest, &err), 0);
    assert_string_equal(cfg.redis_prefix, longest);
    set_bad("redis_prefix", "");
    set_bad("redis_prefix", too_long);

    assert_int_equal(nw_config_set(&cfg, "log_level", "debug", &err), 0);
    assert_int_equal(cfg.log_level, NW_LOG_DEBUG);
    assert_int_equal(nw_config_set(&cfg, "log_level", "warn", &err), 0);
    assert_int_equal(cfg.log_level, NW_LOG_WARN);
    assert_int_equal(nw_config_set(&cfg, "log_level", "warning", &err), 0);
    assert_int_equal(cfg.log_level, NW_LOG_WARN);
    assert_int_equal(nw_config_set(&cfg, "log_level", "error", &err), 0);
    assert_int_equal(cfg.log_level, NW_LOG_ERROR);
    set_bad("log_level", "loud");
    set_bad("log_level", "");

    assert_int_equal(nw_config_set(&cfg, "redis", "unix:/run/redis.sock?db=2", &err), 0);
    assert_string_equal(cfg.redis_url, "unix:/run/redis.sock?db=2");
    assert_string_equal(cfg.redis.path, "/run/redis.sock");
    assert_int_equal(cfg.redis.db, 2);
    set_bad("redis", "http://h");
    set_bad("listen", "nowhere");
    set_bad("api_listen", "h:65536");
}

static void test_config_unknown_key(void **state)
{
    nw_config_t cfg;
    nw_err_t err = {.field = ""};

    (void)state;
    nw_config_defaults(&cfg);
    assert_int_equal(nw_config_set(&cfg, "no_such_key", "1", &err), -ENOENT);
    assert_string_equal(err.field, "no_such_key");
    assert_non_null(strstr(err.message, "no_such_key"));
    assert_int_equal(nw_config_set(&cfg, "Listen", "1.2.3.4:5", &err), -ENOENT);
    assert_int_equal(nw_config_set(&cfg, "", "1", &err), -ENOENT);
}

static void listen_ok(const char *s, const char *host, int port)
{
    nw_listen_addr_t a;

    memset(&a, 0, sizeof(a));
    if (nw_config_parse_listen(s, &a) != 0)
        fail_msg("listen \"%s\" refused", s);
    assert_string_equal(a.host, host);
    assert_int_equal(a.port, port);
}

static void test_config_parse_listen(void **state)
{
    static const char *const bad[] = {
        "h:65536", "h:99999999999", "h:",     "h",    "",     ":",     "[::1]",   "[::1]80",
        "[::1]:",  "[]:80",         "::1:80", "h:8x", "h:-1", "h: 80", "[::1:80", "h:80:81",
    };
    nw_listen_addr_t a;

    (void)state;
    listen_ok("0.0.0.0:80", "0.0.0.0", 80);
    listen_ok("localhost:65535", "localhost", 65535);
    listen_ok("[::1]:8443", "::1", 8443);
    listen_ok("[fe80::1%eth0]:1", "fe80::1%eth0", 1);
    listen_ok(":9000", "127.0.0.1", 9000);
    for (size_t i = 0; i < NW_ARRAY_LEN(bad); i++) {
        if (nw_config_parse_listen(bad[i], &a) != -EINVAL)
            fail_msg("listen \"%s\" accepted", bad[i]);
    }
}

static void redis_ok(const char *s, const char *host, int port, const char *path, int db,
                     const char *password)
{
    nw_redis_addr_t a;

    memset(&a, 0x5a, sizeof(a));
    if (nw_config_parse_redis_url(s, &a) != 0)
        fail_msg("redis URL \"%s\" refused", s);
    assert_string_equal(a.host, host);
    assert_int_equal(a.port, port);
    assert_string_equal(a.path, path);
    assert_int_equal(a.db, db);
    assert_string_equal(a.password, password);
}

static void test_config_parse_redis_url(void **state)
{
    static const char *const bad[] = {
        "http://h:6379", "rediss://h",    "h:6379",          "",
        "redis://",      "redis://h:0",   "redis://h:70000", "redis://h/16",
        "redis://h/-1",  "redis://h/x",   "redis://h/1x",    "redis://:pw@",
        "unix:",         "unix:relative", "unix:/p?db=16",   "unix:/p?db=",
        "unix:/p?foo=1", "unix:/p?db=x",  "unix:?db=1",      "redis://h:port",
    };
    nw_redis_addr_t a, before;

    (void)state;
    redis_ok("redis://10.0.0.5:6380/2", "10.0.0.5", 6380, "", 2, "");
    redis_ok("redis://example.com", "example.com", 6379, "", 0, "");
    redis_ok("redis://example.com/", "example.com", 6379, "", 0, "");
    redis_ok("redis://example.com/15", "example.com", 6379, "", 15, "");
    redis_ok("redis://:s3cret@example.com:7000/1", "example.com", 7000, "", 1, "s3cret");
    redis_ok("redis://:s3cret@example.com", "example.com", 6379, "", 0, "s3cret");
    redis_ok("redis://user:pw@h", "h", 6379, "", 0, "pw");
    redis_ok("redis://[::1]:6380/3", "::1", 6380, "", 3, "");
    redis_ok("redis://[::1]", "::1", 6379, "", 0, "");
    redis_ok("unix:/var/run/redis.sock", "", 0, "/var/run/redis.sock", 0, "");
    redis_ok("unix:/tmp/r.sock?db=3", "", 0, "/tmp/r.sock", 3, "");
    memset(&before, 0x5a, sizeof(before));
    for (size_t i = 0; i < NW_ARRAY_LEN(bad); i++) {
        memcpy(&a, &before, sizeof(a));
        if (nw_config_parse_redis_url(bad[i], &a) != -EINVAL)
            fail_msg("redis URL \"%s\" accepted", bad[i]);
        if (memcmp(&a, &before, sizeof(a)) != 0)
            fail_msg("redis URL \"%s\": output changed on error", bad[i]);
    }
}

static void test_config_parse_sentinel_url(void **state)
{
    static const char *const bad[] = {
        "sentinel://",
        "sentinel://h",
        "sentinel://h/",
        "sentinel:///m",
        "sentinel://h:0/m",
        "sentinel://h:70000/m",
        "sentinel://h,/m",
        "sentinel://,h/m",
        "sentinel://h,,k/m",
        "sentinel://h/m/16",
        "sentinel://h/m/x",
        "sentinel://h/m m",
        "sentinel://h/m{x}",
        "sentinel://h/mymaster/1/2",
        "sentinel://h:port/m",
        "sentinel://1,2,3,4,5,6,7,8,9/m",
        "sentinel://h/012345678901234567890123456789012345678901234567890123456789012345",
    };
    nw_redis_addr_t a, before;

    (void)state;
    memset(&a, 0x5a, sizeof(a));
    assert_int_equal(
        nw_config_parse_redis_url("sentinel://10.0.0.1:26380,s2,[::1]:5000/mymaster", &a), 0);
    assert_int_equal(a.nsentinels, 3);
    assert_string_equal(a.sentinels[0].host, "10.0.0.1");
    assert_int_equal(a.sentinels[0].port, 26380);
    assert_string_equal(a.sentinels[1].host, "s2");
    assert_int_equal(a.sentinels[1].port, 26379);
    assert_string_equal(a.sentinels[2].host, "::1");
    assert_int_equal(a.sentinels[2].port, 5000);
    assert_string_equal(a.master_name, "mymaster");
    assert_string_equal(a.host, ""); /* asked of the Sentinels at run time */
    assert_string_equal(a.path, "");
    assert_int_equal(a.db, 0);
    assert_string_equal(a.password, "");
    assert_int_equal(nw_config_parse_redis_url("sentinel://:pw@h1,h2/news-1.a_b/4", &a), 0);
    assert_int_equal(a.nsentinels, 2);
    assert_string_equal(a.master_name, "news-1.a_b");
    assert_string_equal(a.password, "pw");
    assert_int_equal(a.db, 4);
    assert_int_equal(nw_config_parse_redis_url("sentinel://1,2,3,4,5,6,7,8/m", &a), 0);
    assert_int_equal(a.nsentinels, NW_SENTINELS_MAX);
    /* a plain URL after a Sentinel one has no Sentinel left */
    assert_int_equal(nw_config_parse_redis_url("redis://h", &a), 0);
    assert_int_equal(a.nsentinels, 0);
    memset(&before, 0x5a, sizeof(before));
    for (size_t i = 0; i < NW_ARRAY_LEN(bad); i++) {
        memcpy(&a, &before, sizeof(a));
        if (nw_config_parse_redis_url(bad[i], &a) != -EINVAL)
            fail_msg("sentinel URL \"%s\" accepted", bad[i]);
        if (memcmp(&a, &before, sizeof(a)) != 0)
            fail_msg("sentinel URL \"%s\": output changed on error", bad[i]);
    }
}

static void test_config_hash_tag(void **state)
{
    (void)state;
    assert_true(nw_config_prefix_has_hash_tag("{nw}:"));
    assert_true(nw_config_prefix_has_hash_tag("news:{a}:"));
    assert_false(nw_config_prefix_has_hash_tag("nw:"));
    assert_false(nw_config_prefix_has_hash_tag("{}:"));
    assert_false(nw_config_prefix_has_hash_tag("{nw:"));
    assert_false(nw_config_prefix_has_hash_tag("nw}:{"));
}

/* Cross-key checks at load: each refusal names the key to change. */
static void test_config_ha_checks(void **state)
{
    struct {
        const char *args[6];
        const char *field;
    } bad[] = {
        {{"newswired", "-s", "redis_cluster=1", "-s", "redis_prefix=nw:", NULL}, "redis_prefix"},
        {{"newswired", "-s", "wire_read=replica", NULL}, "wire_read"},
        {{"newswired", "-s", "wire_read=primary", NULL}, "wire_read"},
        {{"newswired", "-s", "redis_replica=sentinel://h/m", NULL}, "redis_replica"},
        {{"newswired", "-r", "sentinel://h/m", "-s", "redis_cluster=1", NULL}, "redis_cluster"},
        {{"newswired", "-r", "sentinel://h:0/m", NULL}, "redis"},
        {{"newswired", "-r", "sentinel://h/m", "-s", "redis_replica=redis://r", NULL},
         "redis_replica"},
    };
    nw_config_t *cfg = malloc(sizeof(*cfg));
    nw_cli_action_t action;
    nw_err_t err;

    (void)state;
    assert_non_null(cfg);
    for (size_t i = 0; i < NW_ARRAY_LEN(bad); i++) {
        int argc = 0;
        while (bad[i].args[argc] != NULL)
            argc++;
        assert_int_equal(nw_config_from_args(cfg, argc, (char **)bad[i].args, &action, &err),
                         -EINVAL);
        assert_string_equal(err.field, bad[i].field);
    }
    {
        const char *ok[] = {"newswired",         "-r", "sentinel://h/m",  "-s",
                            "wire_read=replica", "-s", "redis_cluster=0", "-s",
                            "redis_prefix=nw:"};
        assert_int_equal(nw_config_from_args(cfg, 9, (char **)ok, &action, &err), 0);
        assert_int_equal(cfg->wire_read, NW_WIRE_READ_REPLICA);
    }
    {
        const char *ok[] = {"newswired", "-s", "wire_read=replica", "-s",
                            "redis_replica=redis://:pw@r1:6380"};
        assert_int_equal(nw_config_from_args(cfg, 5, (char **)ok, &action, &err), 0);
        assert_string_equal(cfg->redis_replica.host, "r1");
        assert_int_equal(cfg->redis_replica.port, 6380);
    }
    free(cfg);
}

/* A config file under /tmp holding text; the caller unlinks path. */
static void write_temp(char *path, size_t size, const char *text)
{
    int fd;
    ssize_t n;

    snprintf(path, size, "/tmp/nw-test-config-XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    n = write(fd, text, strlen(text));
    assert_int_equal(n, (ssize_t)strlen(text));
    close(fd);
}

/* Loads text as a config file into cfg (over the defaults). */
static int load_text(nw_config_t *cfg, const char *text, nw_err_t *err, char *path, size_t size)
{
    int rc;

    write_temp(path, size, text);
    nw_config_defaults(cfg);
    rc = nw_config_load_file(cfg, path, err);
    unlink(path);
    return rc;
}

static void test_config_file(void **state)
{
    const char *text = "# Newswire test configuration\n"
                       "   # an indented comment\n"
                       "\n"
                       "   \n"
                       "listen = 0.0.0.0:9000\n"
                       "api_listen=[::1]:9001\n"
                       "redis_prefix = \"pfx: #1\"\n"
                       "log_level = debug   # trailing comment\n"
                       "session_queue_bytes = 2m\n"
                       "\tws_max_topics\t=\t12\t\n"
                       "wire_block = 1s\r\n"
                       "redis = redis://:pw@db.example:6380/4 # primary\n"
                       "gateway_threads = 4"; /* no final newline */
    nw_config_t cfg;
    nw_err_t err = {.field = ""};
    char path[64];

    (void)state;
    if (load_text(&cfg, text, &err, path, sizeof(path)) != 0)
        fail_msg("load failed: %s", err.message);
    assert_string_equal(cfg.listen.host, "0.0.0.0");
    assert_int_equal(cfg.listen.port, 9000);
    assert_string_equal(cfg.api_listen.host, "::1");
    assert_int_equal(cfg.api_listen.port, 9001);
    assert_string_equal(cfg.redis_prefix, "pfx: #1");
    assert_int_equal(cfg.log_level, NW_LOG_DEBUG);
    assert_int_equal(cfg.session_queue_bytes, 2 * MIB);
    assert_int_equal(cfg.ws_max_topics, 12);
    assert_int_equal(cfg.wire_block_ms, 1000);
    assert_string_equal(cfg.redis_url, "redis://:pw@db.example:6380/4");
    assert_string_equal(cfg.redis.host, "db.example");
    assert_int_equal(cfg.redis.port, 6380);
    assert_int_equal(cfg.redis.db, 4);
    assert_string_equal(cfg.redis.password, "pw");
    assert_int_equal(cfg.gateway_threads, 4);
    assert_int_equal(cfg.wire_maxlen, 100000); /* untouched keys keep defaults */
}

/* deploy/newswired.conf: "'#' starts a comment (after a value, write it as
 * ' # ...'); values may be double-quoted" — so both together. */
static void test_config_file_quoted_then_comment(void **state)
{
    nw_config_t cfg;
    nw_err_t err = {.field = ""};
    char path[64];

    (void)state;
    if (load_text(&cfg, "redis_prefix = \"q:\"  # quoted, then a comment\n", &err, path,
                  sizeof(path)) != 0)
        fail_msg("quoted value followed by a comment refused: %s", err.message);
    assert_string_equal(cfg.redis_prefix, "q:");
}

/* Asserts that loading text fails on line `line` with err.field == field and
 * a message holding "PATH:LINE" and `needle`. */
static void file_bad(const char *text, unsigned line, const char *field, const char *needle)
{
    nw_config_t cfg;
    nw_err_t err = {.field = ""};
    char path[64], where[96];
    int rc = load_text(&cfg, text, &err, path, sizeof(path));

    if (rc != -EINVAL)
        fail_msg("file \"%s\": rc %d, wanted -EINVAL", text, rc);
    snprintf(where, sizeof(where), "%s:%u", path, line);
    if (strstr(err.message, where) == NULL)
        fail_msg("message \"%s\" does not name %s", err.message, where);
    assert_string_equal(err.field, field);
    if (strstr(err.message, needle) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", err.message, needle);
}

/* [webhook NAME] sections (defaults, durations, flags, errors) and the
 * admin key of [publisher NAME]. */
static void test_config_sections(void **state)
{
    nw_config_t *cfg = malloc(sizeof(*cfg));
    nw_err_t err = {.field = ""};
    char path[64];
    const char *text = "[publisher boss]\n"
                       "key_sha256 = "
                       "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
                       "topics = \"#\"\n"
                       "admin = 1\n"
                       "[webhook partner-a]\n"
                       "url = https://partner.example/hook\n"
                       "topics = \"monde/#, sport\"\n"
                       "secret = whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n"
                       "[webhook b]\n"
                       "url = \"http://127.0.0.1:9000/\"\n"
                       "topics = eco\n"
                       "secret = whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n"
                       "min_urgency = 3\n"
                       "concurrency = 16\n"
                       "timeout = 2s\n"
                       "horizon = 2h\n"
                       "insecure = 1\n"
                       "[publisher plain]\n"
                       "key_sha256 = "
                       "1123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
                       "topics = eco\n";

    (void)state;
    assert_non_null(cfg);
    if (load_text(cfg, text, &err, path, sizeof(path)) != 0)
        fail_msg("sections refused: %s", err.message);
    assert_int_equal(cfg->npublishers, 2);
    assert_true(cfg->publishers[0].admin);
    assert_false(cfg->publishers[1].admin);
    assert_int_equal(cfg->nwebhooks, 2);
    assert_string_equal(cfg->webhooks[0].name, "partner-a");
    assert_string_equal(cfg->webhooks[0].url, "https://partner.example/hook");
    assert_string_equal(cfg->webhooks[0].topics, "monde/#, sport");
    assert_int_equal(cfg->webhooks[0].min_urgency, 9);
    assert_int_equal(cfg->webhooks[0].concurrency, 4);
    assert_int_equal(cfg->webhooks[0].timeout_ms, 10000);
    assert_int_equal(cfg->webhooks[0].horizon_s, 86400);
    assert_false(cfg->webhooks[0].insecure);
    assert_int_equal(cfg->webhooks[1].min_urgency, 3);
    assert_int_equal(cfg->webhooks[1].concurrency, 16);
    assert_int_equal(cfg->webhooks[1].timeout_ms, 2000);
    assert_int_equal(cfg->webhooks[1].horizon_s, 7200);
    assert_true(cfg->webhooks[1].insecure);

    /* errors name the key */
    {
        static const struct {
            const char *text, *field;
        } bad[] = {
            {"[webhook a]\nurl = ftp://x/\ntopics = a\nsecret = s\n", "url"},
            {"[webhook a]\ntopics = a\nsecret = s\n", "url"},
            {"[webhook a]\nurl = http://x/\nsecret = s\n", "topics"},
            {"[webhook a]\nurl = http://x/\ntopics = a\n", "secret"},
            {"[webhook a]\nmin_urgency = 0\n", "min_urgency"},
            {"[webhook a]\nconcurrency = 1000\n", "concurrency"},
            {"[webhook a]\ntimeout = 50ms\n", "timeout"},
            {"[webhook a]\nhorizon = 0\n", "horizon"},
            {"[webhook a]\ninsecure = yes\n", "insecure"},
            {"[webhook a]\ncolour = red\n", "colour"},
            {"[webhook a/b]\n", "webhook"},
            {"[webhook a]\nurl = http://x/\ntopics = a\nsecret = s\n[webhook a]\n", "webhook"},
            {"[publisher p]\nadmin = 2\n", "admin"},
            {"[partner x]\n", "config"},
        };
        for (size_t i = 0; i < NW_ARRAY_LEN(bad); i++) {
            if (load_text(cfg, bad[i].text, &err, path, sizeof(path)) == 0)
                fail_msg("accepted: %s", bad[i].text);
            if (strcmp(err.field, bad[i].field) != 0)
                fail_msg("%s: field %s, want %s", bad[i].text, err.field, bad[i].field);
        }
    }
    free(cfg);
}

static void test_config_file_errors(void **state)
{
    nw_config_t cfg;
    nw_err_t err = {.field = ""};

    (void)state;
    file_bad("# ok\nlisten = :1\nbogus_key = 1\n", 3, "bogus_key", "bogus_key");
    file_bad("\n\njust words\n", 3, "config", "key = value");
    file_bad("gateway_threads = 65\n", 1, "gateway_threads", "gateway_threads");
    file_bad("log_level = quiet\n", 1, "log_level", "log_level");
    file_bad("redis_prefix = \"open\n", 1, "redis_prefix", "redis_prefix");
    file_bad("listen = 1.2.3.4\n", 1, "listen", "listen");
    nw_config_defaults(&cfg);
    assert_int_equal(nw_config_load_file(&cfg, "/nonexistent/newswired.conf", &err), -ENOENT);
    assert_non_null(strstr(err.message, "/nonexistent/newswired.conf"));
}

/* A writable argv built from literals (getopt_long permutes argv). */
typedef struct args {
    int argc;
    char *argv[16];
} args_t;

static void args_free(args_t *a)
{
    for (int i = 0; i < a->argc; i++)
        free(a->argv[i]);
}

/* Fully resets glibc's getopt: optind = 0 re-initialises its hidden state
 * (the rest of a short-option cluster), which optind = 1 does not. Used so
 * each test exercises one behaviour even though nw_config_from_args keeps
 * that state across calls (see test_config_args_independent_calls). */
static void getopt_reset(void)
{
    char prog[] = "reset";
    char *argv[] = {prog, NULL};

    optind = 0;
    while (getopt(1, argv, "") != -1)
        ;
}

/* Runs nw_config_from_args on the NULL-terminated argument list. */
#define RUN_ARGS(cfg, action, err, ...)                                                            \
    run_args((cfg), (action), (err), "newswired", __VA_ARGS__, (const char *)NULL)

static int run_args(nw_config_t *cfg, nw_cli_action_t *action, nw_err_t *err, ...)
{
    args_t a;
    va_list ap;
    const char *s;
    int rc;

    a.argc = 0;
    va_start(ap, err);
    for (s = va_arg(ap, const char *); s != NULL; s = va_arg(ap, const char *)) {
        assert_true(a.argc < 15);
        a.argv[a.argc++] = strdup(s);
    }
    va_end(ap);
    a.argv[a.argc] = NULL;
    getopt_reset();
    rc = nw_config_from_args(cfg, a.argc, a.argv, action, err);
    args_free(&a);
    return rc;
}

static void test_config_args_flags(void **state)
{
    nw_config_t cfg;
    nw_cli_action_t action = NW_CLI_HELP;
    nw_err_t err = {.field = ""};

    (void)state;
    assert_int_equal(run_args(&cfg, &action, &err, "newswired", (const char *)NULL), 0);
    assert_int_equal(action, NW_CLI_RUN);
    assert_string_equal(cfg.redis_url, "redis://127.0.0.1:6379/0");

    assert_int_equal(RUN_ARGS(&cfg, &action, &err, "--redis", "redis://r.example:7000/5",
                              "--listen", "0.0.0.0:80", "--api-listen", "[::1]:81", "--log-level",
                              "error", "--set", "ws_max_topics=7", "--set", " wire_block = 2s "),
                     0);
    assert_int_equal(action, NW_CLI_RUN);
    assert_string_equal(cfg.redis.host, "r.example");
    assert_int_equal(cfg.redis.port, 7000);
    assert_int_equal(cfg.redis.db, 5);
    assert_string_equal(cfg.listen.host, "0.0.0.0");
    assert_int_equal(cfg.listen.port, 80);
    assert_string_equal(cfg.api_listen.host, "::1");
    assert_int_equal(cfg.api_listen.port, 81);
    assert_int_equal(cfg.log_level, NW_LOG_ERROR);
    assert_int_equal(cfg.ws_max_topics, 7);
    assert_int_equal(cfg.wire_block_ms, 2000);

    /* short forms, and a later flag wins */
    assert_int_equal(RUN_ARGS(&cfg, &action, &err, "-r", "unix:/s.sock", "-l", ":1", "-a", ":2",
                              "-L", "debug", "-s", "gateway_threads=3", "-l", ":3"),
                     0);
    assert_string_equal(cfg.redis.path, "/s.sock");
    assert_int_equal(cfg.listen.port, 3);
    assert_int_equal(cfg.api_listen.port, 2);
    assert_int_equal(cfg.log_level, NW_LOG_DEBUG);
    assert_int_equal(cfg.gateway_threads, 3);
    assert_int_equal(RUN_ARGS(&cfg, &action, &err, "--listen=:4"), 0);
    assert_int_equal(cfg.listen.port, 4);
}

static void test_config_args_override_file(void **state)
{
    nw_config_t cfg;
    nw_cli_action_t action;
    nw_err_t err = {.field = ""};
    char path[64];

    (void)state;
    write_temp(path, sizeof(path),
               "listen = 10.0.0.1:1000\nlog_level = warn\ngateway_threads = 2\n"
               "ws_max_topics = 9\n");
    /* flags placed before --config still override the file */
    assert_int_equal(RUN_ARGS(&cfg, &action, &err, "--listen", "10.0.0.2:2000", "--set",
                              "gateway_threads=5", "--config", path),
                     0);
    assert_string_equal(cfg.listen.host, "10.0.0.2");
    assert_int_equal(cfg.listen.port, 2000);
    assert_int_equal(cfg.gateway_threads, 5);
    assert_int_equal(cfg.log_level, NW_LOG_WARN); /* from the file */
    assert_int_equal(cfg.ws_max_topics, 9);
    assert_int_equal(RUN_ARGS(&cfg, &action, &err, "-c", path, "-L", "info"), 0);
    assert_int_equal(cfg.log_level, NW_LOG_INFO);
    assert_int_equal(cfg.listen.port, 1000);
    unlink(path);
    assert_int_equal(RUN_ARGS(&cfg, &action, &err, "--config", path), -EINVAL);
    assert_non_null(strstr(err.message, path));
}

static void test_config_args_actions(void **state)
{
    nw_config_t cfg;
    nw_cli_action_t action;
    nw_err_t err = {.field = ""};

    (void)state;
    assert_int_equal(RUN_ARGS(&cfg, &action, &err, "--help"), 0);
    assert_int_equal(action, NW_CLI_HELP);
    assert_int_equal(RUN_ARGS(&cfg, &action, &err, "-h"), 0);
    assert_int_equal(action, NW_CLI_HELP);
    assert_int_equal(RUN_ARGS(&cfg, &action, &err, "--version"), 0);
    assert_int_equal(action, NW_CLI_VERSION);
    assert_int_equal(RUN_ARGS(&cfg, &action, &err, "-V"), 0);
    assert_int_equal(action, NW_CLI_VERSION);
    assert_int_equal(RUN_ARGS(&cfg, &action, &err, "--check-config", "--listen", ":7"), 0);
    assert_int_equal(action, NW_CLI_CHECK_CONFIG);
    assert_int_equal(cfg.listen.port, 7);
    /* --help wins even next to an invalid value */
    assert_int_equal(RUN_ARGS(&cfg, &action, &err, "--listen", "bad", "--help"), 0);
    assert_int_equal(action, NW_CLI_HELP);
}

static void args_bad(nw_err_t *err, const char *needle, int rc)
{
    if (rc != -EINVAL)
        fail_msg("rc %d, wanted -EINVAL", rc);
    if (strstr(err->message, needle) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", err->message, needle);
}

static void test_config_args_errors(void **state)
{
    nw_config_t cfg;
    nw_cli_action_t action;
    nw_err_t err = {.field = ""};

    (void)state;
    args_bad(&err, "--bogus", RUN_ARGS(&cfg, &action, &err, "--bogus"));
    assert_string_equal(err.field, "--bogus");
    args_bad(&err, "-x", RUN_ARGS(&cfg, &action, &err, "-x"));
    args_bad(&err, "--listen", RUN_ARGS(&cfg, &action, &err, "--listen"));
    args_bad(&err, "-l", RUN_ARGS(&cfg, &action, &err, "-l"));
    args_bad(&err, "--set", RUN_ARGS(&cfg, &action, &err, "--redis", "unix:/x", "--set"));
    args_bad(&err, "stray", RUN_ARGS(&cfg, &action, &err, "stray"));
    args_bad(&err, "novalue", RUN_ARGS(&cfg, &action, &err, "--set", "novalue"));
    args_bad(&err, "nokey", RUN_ARGS(&cfg, &action, &err, "--set", "nokey=1"));
    assert_string_equal(err.field, "nokey");
    args_bad(&err, "gateway_threads", RUN_ARGS(&cfg, &action, &err, "-s", "gateway_threads=0"));
    assert_string_equal(err.field, "gateway_threads");
    args_bad(&err, "listen", RUN_ARGS(&cfg, &action, &err, "--listen", "h:65536"));
    args_bad(&err, "log_level", RUN_ARGS(&cfg, &action, &err, "-L", "loud"));
    args_bad(&err, "redis", RUN_ARGS(&cfg, &action, &err, "--redis", "mysql://h"));
}

/* Each call parses its own argv: nothing of an earlier call's getopt state
 * (the rest of a short-option cluster such as "-hV" or "-xh") leaks into the
 * next call. Both argvs stay alive so the outcome is deterministic. */
static void test_config_args_independent_calls(void **state)
{
    char prog[] = "newswired", help_version[] = "-hV", bad_help[] = "-xh";
    char listen_flag[] = "--listen", listen_value[] = ":5";
    char *first[] = {prog, help_version, NULL};
    char *second[] = {prog, listen_flag, listen_value, NULL};
    char *third[] = {prog, bad_help, NULL};
    char *fourth[] = {prog, NULL};
    nw_config_t cfg;
    nw_cli_action_t action;
    nw_err_t err = {.field = ""};

    (void)state;
    getopt_reset();
    assert_int_equal(nw_config_from_args(&cfg, 2, first, &action, &err), 0);
    assert_int_equal(action, NW_CLI_HELP);
    assert_int_equal(nw_config_from_args(&cfg, 3, second, &action, &err), 0);
    assert_int_equal(action, NW_CLI_RUN);
    assert_int_equal(cfg.listen.port, 5);

    getopt_reset();
    assert_int_equal(nw_config_from_args(&cfg, 2, third, &action, &err), -EINVAL);
    assert_int_equal(nw_config_from_args(&cfg, 1, fourth, &action, &err), 0);
    assert_int_equal(action, NW_CLI_RUN);
}

/* The dump as a string (caller frees). */
static char *dump_string(const nw_config_t *cfg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    assert_non_null(f);
    nw_config_dump(cfg, f);
    fclose(f);
    return buf;
}

/* True if text has a line starting with "key = ". */
static bool has_line(const char *text, const char *key)
{
    size_t klen = strlen(key);

    const char *p = text;

    while (p != NULL && *p != '\0') {
        if (strncmp(p, key, klen) == 0 && strncmp(p + klen, " = ", 3) == 0)
            return true;
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    return false;
}

static void test_config_dump(void **state)
{
    nw_config_t cfg, back;
    nw_err_t err = {.field = ""};
    char *text, *again, path[64];
    size_t lines = 0;

    (void)state;
    nw_config_defaults(&cfg);
    assert_int_equal(nw_config_set(&cfg, "listen", "[::1]:9000", &err), 0);
    assert_int_equal(nw_config_set(&cfg, "redis_prefix", "x:", &err), 0);
    assert_int_equal(nw_config_set(&cfg, "session_queue_bytes", "2m", &err), 0);
    text = dump_string(&cfg);
    for (size_t i = 0; i < NW_ARRAY_LEN(other_keys); i++) {
        if (!has_line(text, other_keys[i]))
            fail_msg("dump lacks key %s:\n%s", other_keys[i], text);
    }
    for (size_t i = 0; i < NW_ARRAY_LEN(num_keys); i++) {
        if (!has_line(text, num_keys[i].name))
            fail_msg("dump lacks key %s:\n%s", num_keys[i].name, text);
    }
    for (const char *p = text; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, NW_ARRAY_LEN(other_keys) + NW_ARRAY_LEN(num_keys));
    assert_non_null(strstr(text, "listen = [::1]:9000\n"));
    assert_non_null(strstr(text, "session_queue_bytes = 2097152\n"));

    /* the dump reads back as a config file giving the same settings */
    write_temp(path, sizeof(path), text);
    nw_config_defaults(&back);
    if (nw_config_load_file(&back, path, &err) != 0)
        fail_msg("dump does not load back: %s", err.message);
    unlink(path);
    again = dump_string(&back);
    assert_string_equal(again, text);
    free(again);
    free(text);

    assert_int_equal(nw_config_set(&cfg, "redis", "redis://:hunter2@h:6379/1", &err), 0);
    text = dump_string(&cfg);
    assert_null(strstr(text, "hunter2"));
    assert_true(has_line(text, "redis"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_defaults),
        cmocka_unit_test(test_config_size_suffixes),
        cmocka_unit_test(test_config_duration_suffixes),
        cmocka_unit_test(test_config_plain_numbers),
        cmocka_unit_test(test_config_bounds),
        cmocka_unit_test(test_config_strings_and_levels),
        cmocka_unit_test(test_config_unknown_key),
        cmocka_unit_test(test_config_parse_listen),
        cmocka_unit_test(test_config_parse_redis_url),
        cmocka_unit_test(test_config_parse_sentinel_url),
        cmocka_unit_test(test_config_hash_tag),
        cmocka_unit_test(test_config_ha_checks),
        cmocka_unit_test(test_config_file),
        cmocka_unit_test(test_config_file_quoted_then_comment),
        cmocka_unit_test(test_config_file_errors),
        cmocka_unit_test(test_config_sections),
        cmocka_unit_test(test_config_args_flags),
        cmocka_unit_test(test_config_args_override_file),
        cmocka_unit_test(test_config_args_actions),
        cmocka_unit_test(test_config_args_errors),
        cmocka_unit_test(test_config_args_independent_calls),
        cmocka_unit_test(test_config_dump),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
