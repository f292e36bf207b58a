/* Newswire — Redis Sentinel client: master/replica discovery, +switch-master
 * events, steering of the daemon's Redis links. */
#include "sentinel.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>

#include "log.h"

#define NW_SENTINEL_REFRESH_MS  5000 /* ask again this often, events or not */
#define NW_SENTINEL_RETRY_MS    500  /* after every Sentinel failed to answer */
#define NW_SENTINEL_COALESCE_MS 50   /* stale reports this close make one query */

typedef struct link {
    nw_redis_t *r;
    bool replica;
} link_t;

struct nw_sentinel {
    struct event_base *base;
    nw_redis_addr_t addr;
    char password[NW_CONFIG_STR_MAX]; /* the Sentinels' own (AUTH), or "" */
    unsigned connect_timeout_ms, command_timeout_ms;
    nw_metrics_t *metrics;
    link_t links[NW_SENTINEL_MAX_LINKS];
    unsigned nlinks;
    bool want_replicas;
    bool freeing;

    /* where the links point now */
    nw_listen_addr_t master, replica;
    bool have_master, have_replica;

    /* the query in progress: one Sentinel at a time, the next on failure */
    redisAsyncContext *q;
    bool q_running;   /* from refresh_cb until query_next_cb is done */
    unsigned q_idx;   /* the Sentinel asked (the last one that answered, first) */
    unsigned q_tried; /* Sentinels tried in this round */
    unsigned q_left;  /* replies still expected */
    bool q_settled;   /* answered or failed; q_next_ev will act */
    bool q_failed;
    nw_listen_addr_t q_master, q_replica;
    bool q_have_replica;
    struct event *q_timer;    /* this Sentinel's time to answer */
    struct event *q_next_ev;  /* deferred: close q, then the next step */
    struct event *refresh_ev; /* the next query */

    /* the event subscription */
    redisAsyncContext *sub;
    unsigned sub_idx;
    bool sub_confirmed;
    struct event *sub_ev; /* subscribe timeout, or the delay before the next try */
};

static void query_ask(nw_sentinel_t *s);

static void timer_add_ms(struct event *ev, unsigned ms)
{
    struct timeval tv = {ms / 1000, (suseconds_t)(ms % 1000) * 1000};

    evtimer_add(ev, &tv);
}

/* Detaches ctx from us and frees it; its pending callbacks see
 * ac->data == NULL and do nothing. Never called inside a hiredis callback. */
static void ctx_drop(redisAsyncContext **ctx)
{
    redisAsyncContext *ac = *ctx;

    *ctx = NULL;
    if (ac != NULL) {
        ac->data = NULL;
        redisAsyncFree(ac);
    }
}

/* The answer to AUTH: a refusal is logged; the commands after it fail
 * (NOAUTH) and are handled as any Sentinel failing to answer. */
static void auth_reply_cb(redisAsyncContext *ac, void *reply_, void *priv)
{
    nw_sentinel_t *s = ac->data;
    const redisReply *reply = reply_;
    const nw_listen_addr_t *n;

    if (s == NULL || reply == NULL || reply->type != REDIS_REPLY_ERROR)
        return;
    n = &s->addr.sentinels[(uintptr_t)priv];
    nw_log(NW_LOG_ERROR, "sentinel", "the Sentinel refused sentinel_password",
           "sentinel=%s:%d error=\"%s\"", n->host, n->port, reply->str);
}

/* Opens an async connection to Sentinel idx with our callbacks, and
 * authenticates first when the Sentinels have a password. */
static redisAsyncContext *ctx_open(nw_sentinel_t *s, unsigned idx, redisConnectCallback *on_connect,
                                   redisDisconnectCallback *on_disconnect)
{
    const nw_listen_addr_t *n = &s->addr.sentinels[idx];
    redisAsyncContext *ac = redisAsyncConnect(n->host, n->port);

    if (ac == NULL || ac->err) {
        nw_log(NW_LOG_WARN, "sentinel", "cannot connect", "sentinel=%s:%d error=\"%s\"", n->host,
               n->port, ac ? ac->errstr : "out of memory");
        if (ac != NULL)
            redisAsyncFree(ac);
        return NULL;
    }
    ac->data = s;
    if (redisLibeventAttach(ac, s->base) != REDIS_OK) {
        ac->data = NULL;
        redisAsyncFree(ac);
        return NULL;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    if (s->password[0] != '\0' && redisAsyncCommand(ac, auth_reply_cb, (void *)(uintptr_t)idx,
                                                    "AUTH %s", s->password) != REDIS_OK) {
        ac->data = NULL;
        redisAsyncFree(ac);
        return NULL;
    }
    return ac;
}

/* Points every link at the current master, or replica. */
static void links_apply(nw_sentinel_t *s)
{
    for (unsigned i = 0; i < s->nlinks; i++) {
        const nw_listen_addr_t *a =
            s->links[i].replica && s->have_replica ? &s->replica : &s->master;
        nw_redis_set_addr(s->links[i].r, a->host, a->port);
    }
}

/* Records the master's address; a change of a known one is a failover. */
static void master_set(nw_sentinel_t *s, const nw_listen_addr_t *m, const char *source)
{
    if (s->have_master && strcmp(s->master.host, m->host) == 0 && s->master.port == m->port)
        return;
    if (s->have_master) {
        NW_METRIC_INC(s->metrics->redis_failovers);
        nw_log(NW_LOG_WARN, "sentinel", "master changed", "name=%s from=%s:%d to=%s:%d source=%s",
               s->addr.master_name, s->master.host, s->master.port, m->host, m->port, source);
    } else {
        nw_log(NW_LOG_INFO, "sentinel", "master found", "name=%s master=%s:%d source=%s",
               s->addr.master_name, m->host, m->port, source);
    }
    s->master = *m;
    s->have_master = true;
    /* a replica just promoted is no longer one */
    if (s->have_replica && strcmp(s->replica.host, m->host) == 0 && s->replica.port == m->port)
        s->have_replica = false;
}

/* Asks again after ms (or sooner if already due sooner: a later call only
 * shortens the wait while no query runs). */
static void query_schedule(nw_sentinel_t *s, unsigned ms)
{
    struct timeval left, now, want;

    if (s->freeing || s->q_running)
        return;
    if (evtimer_pending(s->refresh_ev, &left)) {
        evutil_gettimeofday(&now, NULL);
        want.tv_sec = now.tv_sec + (time_t)(ms / 1000);
        want.tv_usec = now.tv_usec + (suseconds_t)(ms % 1000) * 1000;
        if (want.tv_usec >= 1000000) {
            want.tv_sec++;
            want.tv_usec -= 1000000;
        }
        if (evutil_timercmp(&left, &want, <=))
            return;
    }
    timer_add_ms(s->refresh_ev, ms);
}

static void query_settle(nw_sentinel_t *s, bool failed)
{
    if (s->q_settled)
        return;
    s->q_settled = true;
    s->q_failed = failed;
    event_active(s->q_next_ev, EV_TIMEOUT, 0);
}

/* True and *out filled if reply is [host, port] with a port in range. */
static bool parse_addr_reply(const redisReply *reply, nw_listen_addr_t *out)
{
    long port;
    char *end;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_STRING ||
        reply->element[1]->type != REDIS_REPLY_STRING ||
        reply->element[0]->len >= sizeof(out->host) || reply->element[0]->len == 0)
        return false;
    port = strtol(reply->element[1]->str, &end, 10);
    if (*end != '\0' || port < 1 || port > 65535)
        return false;
    memcpy(out->host, reply->element[0]->str, reply->element[0]->len + 1);
    out->port = (int)port;
    return true;
}

static void master_reply_cb(redisAsyncContext *ac, void *reply_, void *priv)
{
    nw_sentinel_t *s = ac->data;
    const redisReply *reply = reply_;

    if (s == NULL || s->q != ac)
        return;
    if (!parse_addr_reply(reply, &s->q_master)) {
        const nw_listen_addr_t *n = &s->addr.sentinels[s->q_idx];
        nw_log(NW_LOG_WARN, "sentinel", "no master address from this Sentinel",
               "sentinel=%s:%d name=%s error=\"%s\"", n->host, n->port, s->addr.master_name,
               reply == NULL                      ? "no reply"
               : reply->type == REDIS_REPLY_ERROR ? reply->str
               : reply->type == REDIS_REPLY_NIL   ? "unknown master name"
                                                  : "unexpected reply");
        query_settle(s, true);
        return;
    }
    if (--s->q_left == 0)
        query_settle(s, false);
}

/* The value of field name in a flat [k, v, k, v...] reply, or "". */
static const char *kv_get(const redisReply *r, const char *name)
{
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        if (r->element[i]->type == REDIS_REPLY_STRING &&
            r->element[i + 1]->type == REDIS_REPLY_STRING && strcmp(r->element[i]->str, name) == 0)
            return r->element[i + 1]->str;
    }
    return "";
}

/* SENTINEL replicas: picks a replica that is up and in sync, the current
 * one if it still is (reads stay on one replica while it is healthy). */
static void replicas_reply_cb(redisAsyncContext *ac, void *reply_, void *priv)
{
    nw_sentinel_t *s = ac->data;
    const redisReply *reply = reply_;

    if (s == NULL || s->q != ac)
        return;
    s->q_have_replica = false;
    for (size_t i = 0; reply != NULL && reply->type == REDIS_REPLY_ARRAY && i < reply->elements;
         i++) {
        const redisReply *e = reply->element[i];
        const char *flags, *ip, *port;
        nw_listen_addr_t a;
        char *end;

        if (e->type != REDIS_REPLY_ARRAY)
            continue;
        flags = kv_get(e, "flags");
        ip = kv_get(e, "ip");
        port = kv_get(e, "port");
        if (strstr(flags, "s_down") != NULL || strstr(flags, "o_down") != NULL ||
            strstr(flags, "disconnected") != NULL ||
            strcmp(kv_get(e, "master-link-status"), "ok") != 0 || ip[0] == '\0' ||
            strlen(ip) >= sizeof(a.host))
            continue;
        snprintf(a.host, sizeof(a.host), "%s", ip);
        a.port = (int)strtol(port, &end, 10);
        if (*end != '\0' || a.port < 1 || a.port > 65535)
            continue;
        if (!s->q_have_replica || (s->have_replica && strcmp(a.host, s->replica.host) == 0 &&
                                   a.port == s->replica.port)) {
            s->q_replica = a;
            s->q_have_replica = true;
        }
    }
    if (--s->q_left == 0)
        query_settle(s, false);
}

static void query_connect_cb(const redisAsyncContext *ac, int status)
{
    nw_sentinel_t *s = ac->data;

    if (s == NULL || s->q != ac || status == REDIS_OK)
        return;
    s->q = NULL; /* hiredis frees it after this callback */
    nw_log(NW_LOG_WARN, "sentinel", "cannot connect", "sentinel=%s:%d error=\"%s\"",
           s->addr.sentinels[s->q_idx].host, s->addr.sentinels[s->q_idx].port, ac->errstr);
    query_settle(s, true);
}

static void query_disconnect_cb(const redisAsyncContext *ac, int status)
{
    nw_sentinel_t *s = ac->data;

    if (s == NULL || s->q != ac)
        return;
    s->q = NULL;
    query_settle(s, true);
}

static void query_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    nw_sentinel_t *s = arg;

    nw_log(NW_LOG_WARN, "sentinel", "no answer in time", "sentinel=%s:%d timeout_ms=%u",
           s->addr.sentinels[s->q_idx].host, s->addr.sentinels[s->q_idx].port,
           s->connect_timeout_ms + s->command_timeout_ms);
    query_settle(s, true);
}

/* After a query settled (outside hiredis callbacks): applies the answer, or
 * asks the next Sentinel, or after a round of failures waits and starts
 * over. */
static void query_next_cb(evutil_socket_t fd, short what, void *arg)
{
    nw_sentinel_t *s = arg;

    evtimer_del(s->q_timer);
    ctx_drop(&s->q);
    if (s->freeing)
        return;
    if (!s->q_failed) {
        s->q_running = false;
        NW_METRIC_INC(s->metrics->sentinel_queries[0]);
        master_set(s, &s->q_master, "query");
        if (s->want_replicas) {
            if (s->q_have_replica && !s->have_replica)
                nw_log(NW_LOG_INFO, "sentinel", "reading the wire from a replica", "replica=%s:%d",
                       s->q_replica.host, s->q_replica.port);
            else if (!s->q_have_replica && s->have_replica)
                nw_log(NW_LOG_WARN, "sentinel", "no replica in sync: reading from the master",
                       "master=%s:%d", s->master.host, s->master.port);
            s->replica = s->q_replica;
            s->have_replica = s->q_have_replica;
        }
        links_apply(s);
        if (s->sub == NULL && !evtimer_pending(s->sub_ev, NULL))
            timer_add_ms(s->sub_ev, 0);
        query_schedule(s, NW_SENTINEL_REFRESH_MS);
        return;
    }
    NW_METRIC_INC(s->metrics->sentinel_queries[1]);
    if (++s->q_tried < s->addr.nsentinels) {
        s->q_idx = (s->q_idx + 1) % s->addr.nsentinels;
        query_ask(s);
        return;
    }
    s->q_running = false;
    nw_log(NW_LOG_ERROR, "sentinel", "no Sentinel answered", "name=%s sentinels=%u retry_ms=%d",
           s->addr.master_name, s->addr.nsentinels, NW_SENTINEL_RETRY_MS);
    query_schedule(s, NW_SENTINEL_RETRY_MS);
}

/* Asks Sentinel q_idx where the master (and a replica) is. */
static void query_ask(nw_sentinel_t *s)
{
    s->q_settled = false;
    s->q_left = 0;
    s->q = ctx_open(s, s->q_idx, query_connect_cb, query_disconnect_cb);
    if (s->q == NULL) {
        query_settle(s, true);
        return;
    }
    if (redisAsyncCommand(s->q, master_reply_cb, NULL, "SENTINEL get-master-addr-by-name %s",
                          s->addr.master_name) == REDIS_OK)
        s->q_left++;
    if (s->want_replicas && redisAsyncCommand(s->q, replicas_reply_cb, NULL, "SENTINEL replicas %s",
                                              s->addr.master_name) == REDIS_OK)
        s->q_left++;
    if (s->q_left != (s->want_replicas ? 2u : 1u)) {
        query_settle(s, true);
        return;
    }
    timer_add_ms(s->q_timer, s->connect_timeout_ms + s->command_timeout_ms);
}

static void refresh_cb(evutil_socket_t fd, short what, void *arg)
{
    nw_sentinel_t *s = arg;

    if (s->q_running || s->freeing)
        return;
    s->q_running = true;
    s->q_tried = 0;
    query_ask(s);
}

/* A link's address may be stale: ask soon (several reports, one query). */
static void link_stale_cb(nw_redis_t *r, void *arg)
{
    query_schedule(arg, NW_SENTINEL_COALESCE_MS);
}

/* +switch-master "<name> <old-ip> <old-port> <new-ip> <new-port>": follow
 * it at once, then confirm (and find a replica) with a query. */
static void switch_master(nw_sentinel_t *s, const redisReply *payload)
{
    char name[NW_SENTINEL_NAME_MAX], oldip[NW_CONFIG_STR_MAX], newip[NW_CONFIG_STR_MAX];
    int oldport, newport;
    nw_listen_addr_t m;

    if (payload->type != REDIS_REPLY_STRING ||
        sscanf(payload->str, "%64s %255s %d %255s %d", name, oldip, &oldport, newip, &newport) !=
            5 ||
        strcmp(name, s->addr.master_name) != 0 || newport < 1 || newport > 65535)
        return;
    snprintf(m.host, sizeof(m.host), "%s", newip);
    m.port = newport;
    master_set(s, &m, "+switch-master");
    links_apply(s);
    query_schedule(s, 0);
}

static void sub_reply_cb(redisAsyncContext *ac, void *reply_, void *priv)
{
    nw_sentinel_t *s = ac->data;
    const redisReply *reply = reply_;
    const char *type;

    if (s == NULL || s->sub != ac || reply == NULL || reply->type != REDIS_REPLY_ARRAY ||
        reply->elements != 3 || reply->element[0]->type != REDIS_REPLY_STRING)
        return;
    type = reply->element[0]->str;
    if (strcmp(type, "subscribe") == 0) {
        s->sub_confirmed = true;
        evtimer_del(s->sub_ev);
        nw_log(NW_LOG_INFO, "sentinel", "following failovers", "sentinel=%s:%d",
               s->addr.sentinels[s->sub_idx].host, s->addr.sentinels[s->sub_idx].port);
    } else if (strcmp(type, "message") == 0) {
        switch_master(s, reply->element[2]);
    }
}

/* The subscription is gone: try the next Sentinel soon, and ask now (an
 * event may have been missed). */
static void sub_lost(nw_sentinel_t *s)
{
    s->sub_idx = (s->sub_idx + 1) % s->addr.nsentinels;
    if (!s->freeing) {
        timer_add_ms(s->sub_ev, NW_SENTINEL_RETRY_MS);
        query_schedule(s, 0);
    }
}

static void sub_connect_cb(const redisAsyncContext *ac, int status)
{
    nw_sentinel_t *s = ac->data;

    if (s == NULL || s->sub != ac || status == REDIS_OK)
        return;
    s->sub = NULL; /* hiredis frees it after this callback */
    sub_lost(s);
}

static void sub_disconnect_cb(const redisAsyncContext *ac, int status)
{
    nw_sentinel_t *s = ac->data;

    if (s == NULL || s->sub != ac)
        return;
    s->sub = NULL;
    nw_log(NW_LOG_WARN, "sentinel", "event subscription lost", "sentinel=%s:%d",
           s->addr.sentinels[s->sub_idx].host, s->addr.sentinels[s->sub_idx].port);
    sub_lost(s);
}

/* Subscribes (again), or gives up on a subscription not confirmed in
 * time. */
static void sub_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    nw_sentinel_t *s = arg;

    if (s->sub != NULL) {
        if (s->sub_confirmed)
            return;
        ctx_drop(&s->sub);
        sub_lost(s);
        return;
    }
    s->sub_confirmed = false;
    s->sub = ctx_open(s, s->sub_idx, sub_connect_cb, sub_disconnect_cb);
    if (s->sub == NULL ||
        redisAsyncCommand(s->sub, sub_reply_cb, NULL, "SUBSCRIBE +switch-master") != REDIS_OK) {
        ctx_drop(&s->sub);
        sub_lost(s);
        return;
    }
    timer_add_ms(s->sub_ev, s->connect_timeout_ms + s->command_timeout_ms);
}

nw_sentinel_t *nw_sentinel_new(struct event_base *base, const nw_redis_addr_t *addr,
                               const char *password, unsigned connect_timeout_ms,
                               unsigned command_timeout_ms, nw_metrics_t *metrics)
{
    nw_sentinel_t *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    NW_ASSERT(addr->nsentinels > 0 && addr->nsentinels <= NW_SENTINELS_MAX);
    s->base = base;
    s->addr = *addr;
    snprintf(s->password, sizeof(s->password), "%s", password);
    s->connect_timeout_ms = connect_timeout_ms;
    s->command_timeout_ms = command_timeout_ms;
    s->metrics = metrics;
    s->q_timer = evtimer_new(base, query_timeout_cb, s);
    s->q_next_ev = event_new(base, -1, 0, query_next_cb, s);
    s->refresh_ev = evtimer_new(base, refresh_cb, s);
    s->sub_ev = evtimer_new(base, sub_timer_cb, s);
    if (s->q_timer == NULL || s->q_next_ev == NULL || s->refresh_ev == NULL || s->sub_ev == NULL) {
        nw_sentinel_free(s);
        return NULL;
    }
    return s;
}

int nw_sentinel_add_link(nw_sentinel_t *s, nw_redis_t *r, bool replica)
{
    if (s->nlinks == NW_SENTINEL_MAX_LINKS)
        return -ENOSPC;
    s->links[s->nlinks++] = (link_t){r, replica};
    s->want_replicas = s->want_replicas || replica;
    nw_redis_set_stale_cb(r, link_stale_cb, s);
    return 0;
}

void nw_sentinel_start(nw_sentinel_t *s)
{
    nw_log(NW_LOG_INFO, "sentinel", "asking for the master", "name=%s sentinels=%u",
           s->addr.master_name, s->addr.nsentinels);
    timer_add_ms(s->refresh_ev, 0);
}

void nw_sentinel_free(nw_sentinel_t *s)
{
    if (s == NULL)
        return;
    s->freeing = true;
    for (unsigned i = 0; i < s->nlinks; i++)
        nw_redis_set_stale_cb(s->links[i].r, NULL, NULL);
    ctx_drop(&s->q);
    ctx_drop(&s->sub);
    if (s->q_timer != NULL)
        event_free(s->q_timer);
    if (s->q_next_ev != NULL)
        event_free(s->q_next_ev);
    if (s->refresh_ev != NULL)
        event_free(s->refresh_ev);
    if (s->sub_ev != NULL)
        event_free(s->sub_ev);
    free(s);
}
