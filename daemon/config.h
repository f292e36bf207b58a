/* Newswire — configuration: defaults, the config file, the command line.
 *
 * Every setting is one key in a declarative table (config.c) with its type,
 * bounds and default; the config file sets keys as "key = value" lines and
 * the command-line flags set the same keys, after the file. Sizes accept
 * k/m/g suffixes (KiB, MiB, GiB); durations accept ms/s/m/h suffixes, and
 * d for the keys counted in seconds (a bare number is in the key's unit). deploy/newswired.conf
 * documents every key. */
#ifndef NW_CONFIG_H
#define NW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common.h"

#define NW_CONFIG_STR_MAX 256

/* A listening address: host (numeric IPv4/IPv6 or name) and port. */
typedef struct nw_listen_addr {
    char host[NW_CONFIG_STR_MAX];
    int port;
} nw_listen_addr_t;

#define NW_SENTINELS_MAX     8
#define NW_SENTINEL_NAME_MAX 65

/* Where Redis is: TCP (host, port) or a unix socket path; db and password
 * apply to both. With Sentinel (nsentinels > 0) host is "" in the
 * configuration: the master's address is asked of the Sentinels at run
 * time (sentinel.h). */
typedef struct nw_redis_addr {
    char host[NW_CONFIG_STR_MAX]; /* "" when unix socket or not known yet */
    int port;
    char path[NW_CONFIG_STR_MAX]; /* unix socket path, or "" */
    int db;
    char password[NW_CONFIG_STR_MAX];
    nw_listen_addr_t sentinels[NW_SENTINELS_MAX]; /* sentinel:// only */
    unsigned nsentinels;
    char master_name[NW_SENTINEL_NAME_MAX];
} nw_redis_addr_t;

/* wire_read: where the wire tail and resume replays read the wire. */
typedef enum nw_wire_read {
    NW_WIRE_READ_MASTER = 0,
    NW_WIRE_READ_REPLICA,
} nw_wire_read_t;

#define NW_MAX_PUBLISHERS     256
#define NW_MAX_WEBHOOKS       64
#define NW_CONFIG_LIST_MAX    4096
#define NW_WEBHOOK_URL_MAX    1024
#define NW_WEBHOOK_SECRET_MAX 128

/* One [publisher NAME] section: who may publish, where, how fast. */
typedef struct nw_publisher_cfg {
    char name[65];
    unsigned char key_sha256[32];    /* SHA-256 of the API key */
    char topics[NW_CONFIG_LIST_MAX]; /* granted patterns, comma-separated */
    unsigned rate;                   /* items per second (burst: the same count) */
    bool key_sha256_set;
    bool admin; /* may manage webhooks (/v1/webhooks) */
} nw_publisher_cfg_t;

/* One [webhook NAME] section: a partner that gets signed HTTP POSTs of the
 * items on its topics (webhook.h). The secret is checked by
 * nw_webhooks_check_config(), the rest here. */
typedef struct nw_webhook_cfg {
    char name[65];
    char url[NW_WEBHOOK_URL_MAX];
    char topics[NW_CONFIG_LIST_MAX];    /* patterns, comma-separated */
    char secret[NW_WEBHOOK_SECRET_MAX]; /* "whsec_<base64>" */
    unsigned min_urgency;               /* 1..9: items less urgent are not sent (9: all) */
    unsigned concurrency;               /* requests in flight at once */
    unsigned timeout_ms;                /* per request */
    unsigned horizon_s;                 /* retries stop after this; then dead letter */
    bool insecure;                      /* https: do not verify the certificate (tests) */
} nw_webhook_cfg_t;

typedef struct nw_config {
    /* where */
    char redis_url[NW_CONFIG_STR_MAX];
    nw_redis_addr_t redis;
    nw_listen_addr_t listen;
    nw_listen_addr_t api_listen;
    int log_level; /* nw_log_level_t */

    /* Redis */
    char redis_prefix[64];
    unsigned redis_connect_timeout_ms;
    unsigned redis_command_timeout_ms;
    unsigned redis_reconnect_max_ms;
    unsigned wire_maxlen;
    unsigned topic_maxlen;
    unsigned wire_max_age_s;
    unsigned wire_read_count;
    unsigned wire_block_ms;
    unsigned wire_batch_wait_ms;
    unsigned redis_cluster;  /* 1: Redis Cluster; redis_prefix must carry a hash tag */
    unsigned ack_replicas;   /* WAIT for this many replicas before a 2xx */
    unsigned ack_timeout_ms; /* ... at most this long */
    unsigned wire_read;      /* nw_wire_read_t */
    char redis_replica_url[NW_CONFIG_STR_MAX]; /* wire_read = replica without Sentinel */
    char sentinel_password[NW_CONFIG_STR_MAX]; /* the Sentinels' requirepass, or "" */
    nw_redis_addr_t redis_replica;

    /* ingest API */
    size_t api_max_body;
    size_t api_max_header_bytes;
    unsigned api_max_headers;
    unsigned api_max_connections;
    unsigned api_header_timeout_ms;
    unsigned api_body_timeout_ms;
    unsigned api_idle_timeout_ms;
    unsigned ingest_max_pending;
    char api_cors_origins[NW_CONFIG_LIST_MAX];
    unsigned idempotency_ttl_s;
    unsigned item_ttl_s;
    unsigned embargo_poll_ms;
    unsigned embargo_batch;

    /* gateway */
    unsigned gateway_threads;
    unsigned reuse_port;
    unsigned gateway_epoll;
    unsigned write_now;
    size_t ws_max_frame;
    unsigned ws_max_topics;
    size_t session_queue_bytes;
    unsigned ws_ping_interval_ms;
    unsigned ws_idle_timeout_ms;
    unsigned ws_handshake_timeout_ms;
    unsigned sse_heartbeat_ms;
    unsigned sse_check_ms;
    unsigned handoff_queue_events;

    /* history */
    unsigned replay_max;
    unsigned recent_count;
    unsigned recent_scan;
    unsigned history_max_pending;

    /* security of the public listener */
    char public_topics[NW_CONFIG_LIST_MAX];
    char allowed_origins[NW_CONFIG_LIST_MAX];
    char jwt_secret[NW_CONFIG_STR_MAX];     /* the secret, or "file:/path" */
    char jwt_public_key[NW_CONFIG_STR_MAX]; /* path of a PEM public key */
    unsigned max_connections;
    unsigned max_connections_per_ip;
    unsigned ws_ops_per_sec;
    unsigned ws_ops_burst;
    char tls_cert[NW_CONFIG_STR_MAX];
    char tls_key[NW_CONFIG_STR_MAX];
    char static_dir[NW_CONFIG_STR_MAX];

    /* publishers ([publisher NAME] sections) */
    nw_publisher_cfg_t publishers[NW_MAX_PUBLISHERS];
    unsigned npublishers;

    /* webhooks ([webhook NAME] sections and the engine's settings) */
    nw_webhook_cfg_t webhooks[NW_MAX_WEBHOOKS];
    unsigned nwebhooks;
    unsigned webhook_poll_ms;
    unsigned webhook_claim_idle_ms;
    unsigned webhook_retry_base_ms;
    unsigned webhook_retry_max_ms;
    unsigned webhook_dead_maxlen;

    /* lifecycle */
    unsigned shutdown_timeout_ms;
} nw_config_t;

/* Fills cfg with every default. */
void nw_config_defaults(nw_config_t *cfg);

/* Sets one key from its text value. Returns 0, or -ENOENT for an unknown key,
 * or -EINVAL for a bad value, with err naming the key. */
int nw_config_set(nw_config_t *cfg, const char *key, const char *value, nw_err_t *err);

/* Reads a config file: "key = value" lines, '#' comments, blank lines;
 * values may be double-quoted; "[publisher NAME]" starts a publisher
 * section (keys key_sha256, topics, rate, admin) and "[webhook NAME]" a
 * webhook section (url, topics, secret, min_urgency, concurrency, timeout,
 * horizon, insecure), each lasting until the next section. Returns 0, or a negative errno with err
 * naming "file:line: key" and the reason. */
int nw_config_load_file(nw_config_t *cfg, const char *path, nw_err_t *err);

/* Parses "host:port", "[v6]:port" or ":port" (host defaults to 127.0.0.1). */
int nw_config_parse_listen(const char *s, nw_listen_addr_t *out);

/* Parses "redis://[:password@]host[:port][/db]", "unix:/path[?db=N]" or
 * "sentinel://[:password@]host[:port][,host[:port]...]/master-name[/db]"
 * (at most NW_SENTINELS_MAX Sentinels, port 26379 by default; the password
 * and db are the master's). Returns 0 or -EINVAL (out untouched). */
int nw_config_parse_redis_url(const char *s, nw_redis_addr_t *out);

/* True if every key built from prefix has the same Redis Cluster hash tag:
 * the prefix holds a '{', then at least one byte, then a '}'. */
bool nw_config_prefix_has_hash_tag(const char *prefix);

/* For a reload: copies into next the current values of the keys that
 * cannot change without a restart (listeners, Redis address, threads, TLS,
 * WebSocket timeouts), and lists those that differed, comma-separated, in
 * changed. Returns how many differed. */
size_t nw_config_keep_static(nw_config_t *next, const nw_config_t *cur, char *changed, size_t size);

/* Writes every key with its effective value, one "key = value" per line (the
 * Redis password is masked). */
void nw_config_dump(const nw_config_t *cfg, FILE *out);

/* Outcome of command-line parsing. */
typedef enum nw_cli_action {
    NW_CLI_RUN = 0,
    NW_CLI_HELP,
    NW_CLI_VERSION,
    NW_CLI_CHECK_CONFIG,
} nw_cli_action_t;

/* Parses argv into cfg (defaults, then --config FILE, then the other flags
 * in order). Returns 0 and *action, or -EINVAL with err filled (the caller
 * prints it and exits with status 2). */
int nw_config_from_args(nw_config_t *cfg, int argc, char **argv, nw_cli_action_t *action,
                        nw_err_t *err);

/* Prints --help. */
void nw_config_usage(FILE *out, const char *argv0);

#endif
