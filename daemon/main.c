/* Newswire — newswired: the daemon's entry point and lifecycle.
 *
 * Threads: the core thread runs one libevent loop (the API, both Redis
 * connections, the wire tail, timers, signals); gateway threads run the
 * WebSocket listeners (gateway.h). Start-up: config, Redis links (they
 * connect in the background and retry forever), API listener, gateways,
 * wire tail. SIGINT/SIGTERM: stop accepting on both listeners, let
 * in-flight publishes finish and gateways flush and close their sessions
 * with 1012 (clients resume elsewhere), bounded by shutdown_timeout; then
 * exit 0. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "api.h"
#include "auth.h"
#include "config.h"
#include "connlimit.h"
#include "embargo.h"
#include "gateway.h"
#include "history.h"
#include "ingest.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "publishers.h"
#include "redis.h"
#include "sentinel.h"
#include "webhook.h"
#include "wire.h"

extern const char nw_publish_lua[];
extern const char nw_release_lua[];
extern const char nw_embargoes_lua[];
extern const char nw_position_lua[];
extern const char nw_recent_lua[];
extern const char nw_webhook_admin_lua[];
extern const char nw_webhook_dead_lua[];
extern const char nw_webhook_touch_lua[];
extern const char nw_webhook_prune_lua[];

#define NW_SHUTDOWN_POLL_MS 20

typedef struct daemon {
    nw_config_t cfg;
    int argc;
    char **argv;
    nw_auth_t *auth;
    nw_limits_t *limits;
    nw_publishers_t *pubs;
    struct event_base *base;
    nw_metrics_t *metrics;
    nw_redis_t *cmd;         /* publishes and lookups */
    nw_redis_t *tail;        /* dedicated to XREAD BLOCK */
    nw_redis_t *hist;        /* wire_read = replica: replays on the tail's replica (else NULL) */
    nw_sentinel_t *sentinel; /* sentinel:// only */
    nw_redis_script_t publish, release, embargoes, position, recent;
    nw_redis_script_t wh_admin, wh_dead, wh_touch, wh_prune;
    nw_history_t *history;
    nw_ingest_t *ingest;
    nw_embargo_t *embargo;
    nw_webhooks_t *webhooks;
    nw_api_t *api;
    nw_wire_t *wire;
    nw_gateway_t **gateways;
    unsigned ngateways;
    struct event *sigint_ev, *sigterm_ev, *sighup_ev, *shutdown_ev;
    struct timespec shutdown_deadline;
    bool stopping;
    struct event *service_ev; /* readiness, watchdog and status (systemd) */
    bool ready_sent;
    uint64_t *heartbeats; /* last heartbeat seen per gateway */
    uint64_t watchdog_usec;
} daemon_t;

/* Wire sink: every gateway gets every event. */
static size_t sink_room(void *arg)
{
    daemon_t *d = arg;
    size_t room = SIZE_MAX;

    for (unsigned i = 0; i < d->ngateways; i++)
        room = NW_MIN(room, nw_gateway_room(d->gateways[i]));
    return room;
}

static void sink_push(nw_event_t *ev, void *arg)
{
    daemon_t *d = arg;

    for (unsigned i = 0; i < d->ngateways; i++) {
        /* room() was checked for the whole batch: this cannot fail */
        int rc = nw_gateway_push(d->gateways[i], ev);
        NW_ASSERT(rc == 0);
    }
}

static void sink_position(const char *id, void *arg)
{
    daemon_t *d = arg;

    for (unsigned i = 0; i < d->ngateways; i++)
        nw_gateway_set_position(d->gateways[i], id);
}

static void sink_flush(void *arg)
{
    daemon_t *d = arg;

    for (unsigned i = 0; i < d->ngateways; i++)
        nw_gateway_wake(d->gateways[i]);
    /* webhooks read the wire through their own consumer groups: only tell
     * them that there is something new */
    nw_webhooks_kick(d->webhooks);
}

static void hold_cb(int64_t release_ms, void *arg)
{
    daemon_t *d = arg;

    nw_embargo_schedule(d->embargo, release_ms);
}

static bool epoch_owed_cb(void *arg)
{
    daemon_t *d = arg;

    return d->wire != NULL && nw_wire_epoch_owed(d->wire);
}

static bool ready_cb(void *arg, bool *redis_up, bool *wire_up)
{
    daemon_t *d = arg;

    *redis_up = nw_redis_is_up(d->cmd);
    *wire_up = d->wire != NULL && nw_wire_is_live(d->wire);
    /* at start, also the webhooks' consumer groups (webhook.h) */
    return *redis_up && *wire_up && !d->stopping && nw_webhooks_ready(d->webhooks);
}

/* Every second (or twice per watchdog interval): tells systemd when the
 * daemon first becomes ready, pets the watchdog only while the core loop
 * runs and every gateway thread answered the previous wake-up, and keeps a
 * status line. */
static void service_cb(evutil_socket_t fd, short what, void *arg)
{
    daemon_t *d = arg;
    bool redis_up, wire_up, alive = true;
    int64_t sessions = 0;

    if (!d->ready_sent && ready_cb(d, &redis_up, &wire_up)) {
        d->ready_sent = true;
        nw_notify_ready("ready");
        nw_log(NW_LOG_INFO, "main", "ready", "redis=up wire=up");
    }
    for (unsigned i = 0; i < d->ngateways; i++) {
        uint64_t hb = nw_gateway_heartbeat(d->gateways[i]);
        alive = alive && hb != d->heartbeats[i];
        d->heartbeats[i] = hb;
        nw_gateway_wake(d->gateways[i]);
        sessions += (int64_t)NW_METRIC_GET(d->metrics->gateways[i].sessions);
    }
    if (d->watchdog_usec != 0 && alive)
        nw_notify_watchdog();
    nw_notify_status("sessions=%lld redis=%s wire=%s", (long long)sessions,
                     nw_redis_is_up(d->cmd) ? "up" : "down",
                     nw_wire_is_live(d->wire) ? "live" : "down");
}

static bool deadline_passed(const struct timespec *deadline)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > deadline->tv_sec ||
           (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

/* Polls the graceful stop: done when no publish waits for Redis and every
 * gateway has closed its sessions, or when the deadline passes. */
static void shutdown_poll_cb(evutil_socket_t fd, short what, void *arg)
{
    daemon_t *d = arg;
    bool drained = true;

    for (unsigned i = 0; i < d->ngateways; i++) {
        drained = drained && nw_gateway_drained(d->gateways[i]);
        nw_gateway_wake(d->gateways[i]);
    }
    drained = drained && nw_webhooks_drained(d->webhooks);
    if ((drained && nw_ingest_pending(d->ingest) == 0 && nw_embargo_pending(d->embargo) == 0) ||
        deadline_passed(&d->shutdown_deadline)) {
        if (!drained || nw_ingest_pending(d->ingest) != 0)
            nw_log(NW_LOG_WARN, "main", "shutdown timeout: closing what is left",
                   "pending_publishes=%zu", nw_ingest_pending(d->ingest));
        event_base_loopbreak(d->base);
        return;
    }
    {
        struct timeval tv = {0, NW_SHUTDOWN_POLL_MS * 1000};
        evtimer_add(d->shutdown_ev, &tv);
    }
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    daemon_t *d = arg;
    struct timeval tv = {0, 0};

    if (d->stopping) {
        nw_log(NW_LOG_WARN, "main", "second signal: stopping now", "signal=%d", (int)sig);
        event_base_loopbreak(d->base);
        return;
    }
    d->stopping = true;
    nw_notify_stopping();
    nw_log(NW_LOG_INFO, "main", "shutting down", "signal=%s timeout_ms=%u",
           sig == SIGINT ? "SIGINT" : "SIGTERM", d->cfg.shutdown_timeout_ms);
    clock_gettime(CLOCK_MONOTONIC, &d->shutdown_deadline);
    d->shutdown_deadline.tv_sec += d->cfg.shutdown_timeout_ms / 1000;
    d->shutdown_deadline.tv_nsec += (long)(d->cfg.shutdown_timeout_ms % 1000) * 1000000L;
    if (d->shutdown_deadline.tv_nsec >= 1000000000L) {
        d->shutdown_deadline.tv_sec++;
        d->shutdown_deadline.tv_nsec -= 1000000000L;
    }
    nw_api_stop_accepting(d->api);
    nw_webhooks_stop(d->webhooks);
    for (unsigned i = 0; i < d->ngateways; i++)
        nw_gateway_stop(d->gateways[i]);
    evtimer_add(d->shutdown_ev, &tv);
}

/* SIGHUP: reads the configuration again and applies what can change live
 * (publisher keys, subscriber policy, limits, log level...); keys that need
 * a restart are kept and named in a warning; an invalid configuration is
 * refused, logged, and the running one kept. No connection is dropped. */
static void reload_cb(evutil_socket_t sig, short what, void *arg)
{
    daemon_t *d = arg;
    nw_config_t *cfg = malloc(sizeof(*cfg));
    nw_cli_action_t action;
    nw_publishers_t *pubs = NULL;
    nw_auth_t *auth = NULL;
    nw_err_t err;
    char q[512], kept[512];

    if (cfg == NULL)
        return;
    nw_notify_reloading();
    if (nw_config_from_args(cfg, d->argc, d->argv, &action, &err) < 0 ||
        nw_webhooks_check_config(cfg, &err) < 0 || (auth = nw_auth_new(cfg, &err)) == NULL ||
        (pubs = nw_publishers_new(cfg, &err)) == NULL) {
        nw_log(NW_LOG_ERROR, "main", "reload refused: invalid configuration", "key=%s error=%s",
               err.field, nw_log_quote(err.message, q, sizeof(q)));
        nw_auth_free(auth);
        free(cfg);
        nw_notify_ready("running (reload refused)");
        return;
    }
    if (nw_config_keep_static(cfg, &d->cfg, kept, sizeof(kept)) > 0)
        nw_log(NW_LOG_WARN, "main", "reload: these keys need a restart, kept as they were",
               "keys=%s", kept);
    /* The core thread's modules read d->cfg: update it in place. */
    memcpy(&d->cfg, cfg, sizeof(*cfg));
    free(cfg);
    nw_log_level_set((nw_log_level_t)d->cfg.log_level);
    nw_api_set_publishers(d->api, pubs);
    nw_ingest_set_publishers(d->ingest, pubs);
    nw_publishers_free(d->pubs);
    d->pubs = pubs;
    nw_api_set_limits(d->api);
    nw_limits_set(d->limits, d->cfg.max_connections, d->cfg.max_connections_per_ip);
    for (unsigned i = 0; i < d->ngateways; i++) {
        if (nw_gateway_reconfigure(d->gateways[i], &d->cfg, auth) < 0)
            nw_log(NW_LOG_ERROR, "main", "reload: out of memory for a gateway", "gateway=%u", i);
    }
    nw_auth_free(d->auth);
    d->auth = auth;
    nw_webhooks_reconfigure(d->webhooks);
    nw_log(NW_LOG_INFO, "main", "configuration reloaded", "publishers=%u webhooks=%u log_level=%s",
           d->cfg.npublishers, d->cfg.nwebhooks,
           nw_log_level_name((nw_log_level_t)d->cfg.log_level));
    if (d->cfg.npublishers == 0)
        nw_log(NW_LOG_WARN, "main",
               "no publisher key configured: the API serves loopback peers only");
    nw_notify_ready("running");
}

/* Creates one Redis link: to the master, or with replica to the replica
 * the wire is read from (wire_read = replica). With Sentinel the link
 * starts without an address and checks the server's ROLE at each connect;
 * the Sentinel client steers it. */
static nw_redis_t *redis_link(daemon_t *d, const char *name, bool replica)
{
    bool sentinel = d->cfg.redis.nsentinels > 0;
    nw_redis_opts_t o = {
        .connect_timeout_ms = d->cfg.redis_connect_timeout_ms,
        .command_timeout_ms = d->cfg.redis_command_timeout_ms,
        .reconnect_max_ms = d->cfg.redis_reconnect_max_ms,
        .role = replica    ? "slave"
                : sentinel ? "master"
                           : NULL,
    };
    nw_redis_addr_t addr = d->cfg.redis;
    nw_redis_t *r;

    if (replica && !sentinel) {
        addr = d->cfg.redis_replica;
        addr.db = d->cfg.redis.db;
        if (addr.password[0] == '\0')
            memcpy(addr.password, d->cfg.redis.password, sizeof(addr.password));
    }
    r = nw_redis_new(d->base, &addr, &o, name, d->metrics);
    if (r != NULL && d->sentinel != NULL && nw_sentinel_add_link(d->sentinel, r, replica) < 0) {
        nw_redis_free(r);
        return NULL;
    }
    return r;
}

/* The core thread's event base. With epoll's change list, an event added
 * and removed within one loop iteration (hiredis arms its write event for
 * every command, and disarms it once written) costs no epoll_ctl() at all:
 * about a tenth of the ingest path's CPU otherwise. */
static struct event_base *core_base_new(void)
{
    struct event_config *ec = event_config_new();
    struct event_base *base;

    if (ec == NULL)
        return NULL;
    event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    base = event_base_new_with_config(ec);
    event_config_free(ec);
    return base;
}

/* Builds and starts everything. Returns 0, or a negative errno after
 * logging what failed. */
static int daemon_start(daemon_t *d)
{
    nw_wire_sink_t sink = {sink_room, sink_push, sink_flush, sink_position, d};
    int rc;

    d->base = core_base_new();
    d->metrics = nw_metrics_new(d->cfg.gateway_threads);
    if (d->base == NULL || d->metrics == NULL)
        return -ENOMEM;
    d->publish = (nw_redis_script_t){.name = "publish", .source = nw_publish_lua};
    d->release = (nw_redis_script_t){.name = "release", .source = nw_release_lua};
    d->embargoes = (nw_redis_script_t){.name = "embargoes", .source = nw_embargoes_lua};
    d->position = (nw_redis_script_t){.name = "position", .source = nw_position_lua};
    d->recent = (nw_redis_script_t){.name = "recent", .source = nw_recent_lua};
    d->wh_admin = (nw_redis_script_t){.name = "webhook_admin", .source = nw_webhook_admin_lua};
    d->wh_dead = (nw_redis_script_t){.name = "webhook_dead", .source = nw_webhook_dead_lua};
    d->wh_touch = (nw_redis_script_t){.name = "webhook_touch", .source = nw_webhook_touch_lua};
    d->wh_prune = (nw_redis_script_t){.name = "webhook_prune", .source = nw_webhook_prune_lua};
    if (d->cfg.redis.nsentinels > 0) {
        d->sentinel = nw_sentinel_new(d->base, &d->cfg.redis, d->cfg.sentinel_password,
                                      d->cfg.redis_connect_timeout_ms,
                                      d->cfg.redis_command_timeout_ms, d->metrics);
        if (d->sentinel == NULL)
            return -ENOMEM;
    }
    d->cmd = redis_link(d, "command", false);
    d->tail = redis_link(d, "wire", d->cfg.wire_read == NW_WIRE_READ_REPLICA);
    if (d->cfg.wire_read == NW_WIRE_READ_REPLICA) {
        d->hist = redis_link(d, "history", true);
        if (d->hist == NULL || nw_redis_add_script(d->hist, &d->recent) < 0)
            return -ENOMEM;
    }
    if (d->cmd == NULL || d->tail == NULL || nw_redis_add_script(d->cmd, &d->publish) < 0 ||
        nw_redis_add_script(d->cmd, &d->release) < 0 ||
        nw_redis_add_script(d->cmd, &d->embargoes) < 0 ||
        nw_redis_add_script(d->cmd, &d->position) < 0 ||
        nw_redis_add_script(d->cmd, &d->recent) < 0 ||
        nw_redis_add_script(d->cmd, &d->wh_admin) < 0 ||
        nw_redis_add_script(d->cmd, &d->wh_dead) < 0 ||
        nw_redis_add_script(d->cmd, &d->wh_touch) < 0 ||
        nw_redis_add_script(d->cmd, &d->wh_prune) < 0)
        return -ENOMEM;
    d->history = nw_history_new(d->base, &d->cfg, d->metrics, d->cmd, &d->position, &d->recent);
    if (d->history == NULL)
        return -ENOMEM;
    if (d->hist != NULL)
        nw_history_set_read_conn(d->history, d->hist);
    d->ingest = nw_ingest_new(&d->cfg, d->metrics, d->cmd, &d->publish);
    d->embargo = nw_embargo_new(d->base, &d->cfg, d->metrics, d->cmd, &d->release, &d->embargoes);
    if (d->ingest == NULL || d->embargo == NULL)
        return -ENOMEM;
    nw_ingest_set_hold_cb(d->ingest, hold_cb, d);
    {
        nw_webhook_scripts_t ws = {&d->wh_admin, &d->wh_dead, &d->wh_touch, &d->wh_prune};
        d->webhooks = nw_webhooks_new(d->base, &d->cfg, d->metrics, d->cmd, &ws);
    }
    if (d->webhooks == NULL)
        return -ENOMEM;
    d->api = nw_api_new(d->base, &d->cfg, d->metrics, d->ingest, d->embargo, ready_cb, d);
    if (d->api == NULL)
        return -ENOMEM;
    nw_api_set_webhooks(d->api, d->webhooks);
    nw_api_set_publishers(d->api, d->pubs);
    nw_ingest_set_publishers(d->ingest, d->pubs);
    if (nw_publishers_empty(d->pubs))
        nw_log(NW_LOG_WARN, "main",
               "no publisher key configured: the API serves loopback peers only");
    rc = nw_api_listen(d->api);
    if (rc < 0) {
        nw_log(NW_LOG_ERROR, "main", "cannot listen (API)", "addr=%s port=%d error=\"%s\"",
               d->cfg.api_listen.host, d->cfg.api_listen.port, strerror(-rc));
        return rc;
    }
    d->ngateways = d->cfg.gateway_threads;
    d->gateways = calloc(d->ngateways, sizeof(*d->gateways));
    if (d->gateways == NULL)
        return -ENOMEM;
    for (unsigned i = 0; i < d->ngateways; i++) {
        d->gateways[i] = nw_gateway_new(&d->cfg, d->metrics, i);
        if (d->gateways[i] == NULL)
            return -ENOMEM;
        nw_gateway_set_history(d->gateways[i], d->history);
        nw_gateway_set_security(d->gateways[i], d->auth, d->limits);
        rc = nw_gateway_start(d->gateways[i]);
        if (rc < 0) {
            nw_log(NW_LOG_ERROR, "main", "cannot listen (gateway)", "addr=%s port=%d",
                   d->cfg.listen.host, d->cfg.listen.port);
            return rc;
        }
    }
    d->wire = nw_wire_new(d->base, d->tail, d->cmd, &d->cfg, d->metrics, &sink, &d->position);
    if (d->history != NULL)
        nw_history_set_epoch_check(d->history, epoch_owed_cb, d);
    d->sigint_ev = evsignal_new(d->base, SIGINT, signal_cb, d);
    d->sigterm_ev = evsignal_new(d->base, SIGTERM, signal_cb, d);
    d->sighup_ev = evsignal_new(d->base, SIGHUP, reload_cb, d);
    d->shutdown_ev = evtimer_new(d->base, shutdown_poll_cb, d);
    if (d->wire == NULL || d->sigint_ev == NULL || d->sigterm_ev == NULL || d->sighup_ev == NULL ||
        d->shutdown_ev == NULL)
        return -ENOMEM;
    evsignal_add(d->sigint_ev, NULL);
    evsignal_add(d->sigterm_ev, NULL);
    evsignal_add(d->sighup_ev, NULL);
    d->heartbeats = calloc(d->ngateways, sizeof(*d->heartbeats));
    d->service_ev = event_new(d->base, -1, EV_PERSIST, service_cb, d);
    if (d->heartbeats == NULL || d->service_ev == NULL)
        return -ENOMEM;
    d->watchdog_usec = nw_notify_watchdog_usec();
    {
        /* at least twice per watchdog interval, and at most every second */
        uint64_t us = d->watchdog_usec ? NW_MIN(d->watchdog_usec / 2, 1000000) : 1000000;
        struct timeval tv = {(time_t)(us / 1000000), (suseconds_t)(us % 1000000)};
        event_add(d->service_ev, &tv);
    }
    nw_redis_start(d->cmd);
    nw_redis_start(d->tail);
    if (d->hist != NULL)
        nw_redis_start(d->hist);
    if (d->sentinel != NULL)
        nw_sentinel_start(d->sentinel);
    nw_log(NW_LOG_INFO, "main", "newswired started",
           "version=%s listen=%s:%d api_listen=%s:%d gateway_threads=%u pid=%d", NW_VERSION,
           d->cfg.listen.host, d->cfg.listen.port, d->cfg.api_listen.host, d->cfg.api_listen.port,
           d->ngateways, (int)getpid());
    return 0;
}

/* Tears down in dependency order: the Redis links first (their pending
 * callbacks answer waiting requests, handing history answers to gateways
 * that are still there, and release what webhook commands held), then
 * what they referred to. */
static void daemon_free(daemon_t *d)
{
    if (d->sigint_ev)
        event_free(d->sigint_ev);
    if (d->sigterm_ev)
        event_free(d->sigterm_ev);
    if (d->sighup_ev)
        event_free(d->sighup_ev);
    if (d->service_ev)
        event_free(d->service_ev);
    free(d->heartbeats);
    if (d->shutdown_ev)
        event_free(d->shutdown_ev);
    if (d->api != NULL)
        nw_api_stop_accepting(d->api);
    nw_sentinel_free(d->sentinel);
    nw_redis_free(d->hist);
    nw_redis_free(d->tail);
    nw_redis_free(d->cmd);
    nw_history_free(d->history);
    nw_wire_free(d->wire);
    for (unsigned i = 0; d->gateways != NULL && i < d->ngateways; i++)
        nw_gateway_free(d->gateways[i]);
    free(d->gateways);
    nw_api_free(d->api);
    nw_webhooks_free(d->webhooks);
    nw_embargo_free(d->embargo);
    nw_ingest_free(d->ingest);
    nw_metrics_free(d->metrics);
    nw_publishers_free(d->pubs);
    nw_auth_free(d->auth);
    nw_limits_free(d->limits);
    if (d->base != NULL)
        event_base_free(d->base);
}

int main(int argc, char **argv)
{
    static daemon_t d;
    nw_cli_action_t action;
    nw_err_t err;
    struct sigaction sa;
    int rc;

    if (nw_config_from_args(&d.cfg, argc, argv, &action, &err) < 0) {
        fprintf(stderr, "newswired: %s\n", err.message);
        fprintf(stderr, "Try 'newswired --help'.\n");
        return 2;
    }
    if (action == NW_CLI_HELP) {
        nw_config_usage(stdout, "newswired");
        return 0;
    }
    if (action == NW_CLI_VERSION) {
        printf("newswired %s\n", NW_VERSION);
        return 0;
    }
    /* What the config names but the table cannot check: key files,
     * patterns in lists. Errors here are configuration errors too. */
    d.auth = nw_auth_new(&d.cfg, &err);
    d.pubs = d.auth ? nw_publishers_new(&d.cfg, &err) : NULL;
    if (d.auth == NULL || d.pubs == NULL || nw_webhooks_check_config(&d.cfg, &err) < 0) {
        fprintf(stderr, "newswired: %s\n", err.message);
        nw_auth_free(d.auth);
        nw_publishers_free(d.pubs);
        return 2;
    }
    if ((d.cfg.tls_cert[0] == '\0') != (d.cfg.tls_key[0] == '\0')) {
        fprintf(stderr, "newswired: tls_cert and tls_key go together\n");
        nw_auth_free(d.auth);
        nw_publishers_free(d.pubs);
        return 2;
    }
    if (action == NW_CLI_CHECK_CONFIG) {
        nw_config_dump(&d.cfg, stdout);
        nw_auth_free(d.auth);
        nw_publishers_free(d.pubs);
        return 0;
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    srandom((unsigned)time(NULL) ^ (unsigned)getpid());
    nw_log_level_set((nw_log_level_t)d.cfg.log_level);
    nw_log_route_lws();
    evthread_use_pthreads();

    d.argc = argc;
    d.argv = argv;
    d.limits = nw_limits_new(d.cfg.max_connections, d.cfg.max_connections_per_ip);
    rc = d.limits ? daemon_start(&d) : -ENOMEM;
    if (rc == 0) {
        event_base_dispatch(d.base);
        nw_log(NW_LOG_INFO, "main", "stopped");
    } else {
        nw_log(NW_LOG_ERROR, "main", "start-up failed", "error=\"%s\"", strerror(-rc));
    }
    daemon_free(&d);
    return rc == 0 ? 0 : 1;
}
