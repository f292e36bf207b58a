/* Newswire — webhook requests: signing and sending held items, retries
 * with backoff, dead letters, 410, replays and the hand-back on stop. */
#include "webhook_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "log.h"

#define WH_RELEASE_MAX  512          /* ids per hand-back XCLAIM */
#define WH_RELEASE_IDLE "2592000000" /* ms: a handed-back entry looks idle for 30 days */

static void post_cb(int status, const char *error, uint64_t elapsed_ms, void *arg);

/* Starts one attempt of d. Returns 0, or -1 when the request could not
 * be started (d is then handled as a failed attempt by the caller). */
static int send_attempt(wh_delivery_t *d)
{
    wh_partner_t *p = d->p;
    char ts[24], sig[NW_WEBHOOK_SIG_MAX];
    int64_t now_s = (int64_t)time(NULL);
    nw_webhook_header_t hdrs[3] = {
        {"webhook-id", d->id}, {"webhook-timestamp", ts}, {"webhook-signature", sig}};

    snprintf(ts, sizeof(ts), "%lld", (long long)now_s);
    d->attempts++;
    if (nw_webhook_sign(p->key, p->keylen, d->id, now_s, d->body, d->len, sig) < 0)
        return -1;
    d->post = nw_webhook_http_post(p->wh->http, &p->target, p->spec.insecure, p->spec.timeout_ms,
                                   hdrs, NW_ARRAY_LEN(hdrs), d->body, d->len, post_cb, d);
    if (d->post == NULL)
        return -1;
    p->in_flight++;
    atomic_store(&p->m.in_flight, (int64_t)p->in_flight);
    nw_log(NW_LOG_DEBUG, "webhook", "request sent", "webhook=%s id=%s attempt=%u", p->spec.name,
           d->id, d->attempts);
    return 0;
}

static bool failed(wh_delivery_t *d, const char *error);

void wh_partner_pump(wh_partner_t *p)
{
    nw_webhooks_t *wh = p->wh;
    int64_t now = nw_now_ms(), next = INT64_MAX;
    wh_delivery_t *d, *n;

    if (p->gone)
        return;
    for (d = p->head; d != NULL; d = n) {
        n = d->next;
        if (d->post != NULL || wh->stopping || p->disabled)
            continue;
        if (d->due_ms <= now && p->in_flight < p->spec.concurrency && send_attempt(d) < 0 &&
            !failed(d, "request not started"))
            continue; /* d is gone */
        if (d->post == NULL && d->due_ms > now)
            next = NW_MIN(next, d->due_ms);
    }
    evtimer_del(p->timer);
    if (next != INT64_MAX) {
        int64_t ms = next - now;
        struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
        evtimer_add(p->timer, &tv);
    }
}

void wh_partner_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    wh_partner_pump(arg);
}

/* The answer of the dead-letter script: counted when it wrote one. */
static void dead_cb(nw_redis_t *r, redisReply *reply, void *arg)
{
    wh_partner_t *p = arg;

    if (reply != NULL && reply->type == REDIS_REPLY_INTEGER && reply->integer == 1)
        NW_METRIC_INC(p->m.dead_lettered);
    else if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
        nw_log(NW_LOG_ERROR, "webhook", "dead letter failed", "webhook=%s error=\"%s\"",
               p->spec.name, reply->str);
    wh_partner_unref(p);
}

/* Moves d to the dead letters (and acknowledges it) and frees it. A
 * replay that fails again stays where it is: in the dead letters. If Redis
 * cannot be reached, the entry stays pending and is taken over later. */
static void dead_letter(wh_delivery_t *d, const char *reason)
{
    wh_partner_t *p = d->p;
    char attempts[16], status[16], maxlen[16];
    const char *argv[] = {p->wh->wire_key, p->dead_key, p->group, d->id, (const char *)d->body,
                          reason,          attempts,    status,   maxlen};
    size_t lens[NW_ARRAY_LEN(argv)];

    nw_log(NW_LOG_WARN, "webhook", d->dead_id[0] ? "replay failed" : "dead letter",
           "webhook=%s id=%s reason=%s attempts=%u last_status=%d", p->spec.name, d->id, reason,
           d->attempts, d->last_status);
    if (d->dead_id[0] == '\0') {
        snprintf(attempts, sizeof(attempts), "%u", d->attempts);
        snprintf(status, sizeof(status), "%d", d->last_status);
        snprintf(maxlen, sizeof(maxlen), "%u", p->wh->cfg->webhook_dead_maxlen);
        for (size_t i = 0; i < NW_ARRAY_LEN(argv); i++)
            lens[i] = i == 4 ? d->len : strlen(argv[i]);
        if (nw_redis_eval(p->wh->conn, p->wh->scripts.dead, dead_cb, p, 2, (int)NW_ARRAY_LEN(argv),
                          argv, lens) == 0)
            wh_partner_ref(p);
    }
    wh_delivery_free(d);
}

/* Hands ids (n) back to the group as idle, so that the next owner takes
 * them at once (a graceful stop). */
static void release_cb(nw_redis_t *r, redisReply *reply, void *arg)
{
    nw_webhooks_t *wh = arg;

    wh->ops--;
}

static void release_ids(wh_partner_t *p, const char **ids, size_t n)
{
    const char *argv[WH_RELEASE_MAX + 8];
    size_t lens[NW_ARRAY_LEN(argv)], k = 0;

    if (n == 0)
        return;
    argv[k++] = "XCLAIM";
    argv[k++] = p->wh->wire_key;
    argv[k++] = p->group;
    argv[k++] = p->wh->consumer;
    argv[k++] = "0";
    for (size_t i = 0; i < n && i < WH_RELEASE_MAX; i++)
        argv[k++] = ids[i];
    argv[k++] = "IDLE";
    argv[k++] = WH_RELEASE_IDLE;
    argv[k++] = "JUSTID";
    for (size_t i = 0; i < k; i++)
        lens[i] = strlen(argv[i]);
    if (nw_redis_command(p->wh->conn, release_cb, p->wh, 0, (int)k, argv, lens) == 0)
        p->wh->ops++;
}

void wh_partner_release(wh_partner_t *p)
{
    const char *ids[WH_RELEASE_MAX];
    size_t n = 0;

    evtimer_del(p->timer);
    for (wh_delivery_t *d = p->head; d != NULL && n < WH_RELEASE_MAX; d = d->next) {
        if (d->post == NULL && d->dead_id[0] == '\0' && !d->lost)
            ids[n++] = d->id;
    }
    release_ids(p, ids, n);
    for (wh_delivery_t *d = p->head, *next; d != NULL; d = next) {
        next = d->next;
        if (d->post == NULL)
            wh_delivery_free(d);
    }
}

/* A failed attempt: retried after the backoff, unless that passes the
 * horizon (dead letter), the partner is disabled (dead letter), another
 * instance took the item over (dropped) or the daemon stops (handed back).
 * Returns true when d is still held (for a retry), false when freed. */
static bool failed(wh_delivery_t *d, const char *error)
{
    wh_partner_t *p = d->p;
    nw_webhooks_t *wh = p->wh;
    int64_t now = nw_now_ms();
    unsigned delay;

    NW_METRIC_INC(p->m.failures);
    if (d->lost) {
        wh_delivery_free(d);
        return false;
    }
    if (wh->stopping) {
        const char *id = d->id;
        if (d->dead_id[0] == '\0')
            release_ids(p, &id, 1);
        wh_delivery_free(d);
        return false;
    }
    if (p->disabled) {
        dead_letter(d, "disabled");
        return false;
    }
    delay = nw_webhook_backoff_ms(d->attempts, wh->cfg->webhook_retry_base_ms,
                                  wh->cfg->webhook_retry_max_ms, (uint32_t)random());
    if (now + (int64_t)delay > d->deadline_ms) {
        dead_letter(d, "horizon");
        return false;
    }
    NW_METRIC_INC(p->m.retried);
    d->due_ms = now + delay;
    nw_log(NW_LOG_INFO, "webhook", "delivery failed, will retry",
           "webhook=%s id=%s attempt=%u status=%d error=\"%s\" retry_ms=%u", p->spec.name, d->id,
           d->attempts, d->last_status, error, delay);
    return true;
}

/* A 2xx: the item leaves the group (or, for a replay, the dead letters). */
static void delivered(wh_delivery_t *d)
{
    wh_partner_t *p = d->p;

    NW_METRIC_INC(p->m.delivered);
    if (d->dead_id[0] != '\0') {
        const char *argv[] = {"XDEL", p->dead_key, d->dead_id};
        size_t lens[] = {4, strlen(p->dead_key), strlen(d->dead_id)};
        wh_send_logged(p->wh, "XDEL", 3, argv, lens);
    } else {
        /* even when another instance took it over: it then drops it */
        const char *id = d->id;
        wh_ack_ids(p, &id, 1);
    }
    nw_log(NW_LOG_DEBUG, "webhook", "delivered", "webhook=%s id=%s attempts=%u", p->spec.name,
           d->id, d->attempts);
    wh_delivery_free(d);
}

static void post_cb(int status, const char *error, uint64_t elapsed_ms, void *arg)
{
    wh_delivery_t *d = arg;
    wh_partner_t *p = d->p;

    d->post = NULL;
    p->in_flight--;
    atomic_store(&p->m.in_flight, (int64_t)p->in_flight);
    if (status > 0)
        nw_metrics_observe_webhook(&p->m, (int64_t)elapsed_ms);
    d->last_status = status;
    if (status >= 200 && status < 300) {
        delivered(d);
    } else if (status == 410 && !p->disabled && !d->lost) {
        NW_METRIC_INC(p->m.failures);
        dead_letter(d, "gone");
        wh_partner_disable(p, nw_now_ms(), 410, true);
    } else {
        failed(d, status > 0 ? "HTTP status" : error);
    }
    wh_partner_pump(p);
}

/* The answer to storing a disabled mark. */
static void disable_cb(nw_redis_t *r, redisReply *reply, void *arg)
{
    wh_partner_t *p = arg;

    if (reply == NULL || reply->type == REDIS_REPLY_ERROR)
        nw_log(NW_LOG_ERROR, "webhook", "cannot store the disabled mark", "webhook=%s",
               p->spec.name);
    wh_partner_unref(p);
}

void wh_partner_disable(wh_partner_t *p, int64_t at, int status, bool store)
{
    nw_webhooks_t *wh = p->wh;

    p->disabled = true;
    p->disabled_at = at;
    p->disabled_status = status;
    atomic_store(&p->m.disabled, 1);
    nw_log(NW_LOG_WARN, "webhook", "partner disabled: it answered 410 Gone", "webhook=%s url=%s",
           p->spec.name, p->spec.url);
    if (store) {
        char json[96];
        const char *argv[] = {"HSET", wh->disabled_key, p->spec.name, json};
        size_t lens[4];
        snprintf(json, sizeof(json), "{\"at\":%lld,\"status\":%d}", (long long)at, status);
        for (size_t i = 0; i < 4; i++)
            lens[i] = strlen(argv[i]);
        if (nw_redis_command(wh->conn, disable_cb, p, 0, 4, argv, lens) == 0)
            wh_partner_ref(p);
        wh->local_seq = wh->load_seq;
    }
    /* what waits is dead-lettered now; requests in flight when they end */
    for (wh_delivery_t *d = p->head, *next; d != NULL; d = next) {
        next = d->next;
        if (d->post == NULL)
            dead_letter(d, "disabled");
    }
    evtimer_del(p->timer);
}

void wh_partner_enable(wh_partner_t *p)
{
    p->disabled = false;
    p->disabled_at = 0;
    p->disabled_status = 0;
    atomic_store(&p->m.disabled, 0);
    nw_log(NW_LOG_INFO, "webhook", "partner enabled", "webhook=%s", p->spec.name);
    /* the group was moved to the wire's end when it was enabled */
    p->group_ready = false;
    p->group_after = 0;
    wh_partner_ensure_group(p);
}

int wh_partner_replay(wh_partner_t *p, const redisReply *entry)
{
    const redisReply *fields, *id = NULL, *item = NULL;
    wh_delivery_t *d;

    if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
        entry->element[0]->type != REDIS_REPLY_STRING || entry->element[0]->len >= NW_WIRE_ID_MAX ||
        entry->element[1]->type != REDIS_REPLY_ARRAY)
        return -EINVAL;
    if (wh_find_held(p, entry->element[0]->str, true) != NULL)
        return 0;
    fields = entry->element[1];
    for (size_t i = 0; i + 1 < fields->elements; i += 2) {
        const redisReply *k = fields->element[i], *v = fields->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        if (strcmp(k->str, "id") == 0)
            id = v;
        else if (strcmp(k->str, "item") == 0)
            item = v;
    }
    if (id == NULL || item == NULL || id->len >= NW_WIRE_ID_MAX)
        return -EINVAL;
    d = calloc(1, sizeof(*d));
    if (d == NULL || (d->body = malloc(item->len + 1)) == NULL) {
        free(d);
        return -ENOMEM;
    }
    memcpy(d->body, item->str, item->len);
    d->body[item->len] = '\0';
    d->len = item->len;
    memcpy(d->id, id->str, id->len + 1);
    memcpy(d->dead_id, entry->element[0]->str, entry->element[0]->len + 1);
    d->due_ms = nw_now_ms();
    d->deadline_ms = d->due_ms + (int64_t)p->spec.horizon_s * 1000;
    wh_delivery_link(p, d);
    return 1;
}

void wh_partner_drop_all(wh_partner_t *p)
{
    while (p->head != NULL) {
        wh_delivery_t *d = p->head;
        if (d->post != NULL) {
            nw_webhook_http_cancel(d->post);
            d->post = NULL;
            p->in_flight--;
        }
        wh_delivery_free(d);
    }
    atomic_store(&p->m.in_flight, (int64_t)p->in_flight);
}
