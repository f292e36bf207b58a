/* Newswire — webhook deliveries: reading a partner's consumer group,
 * signed requests, retries with backoff, dead letters, take-overs. */
#include "webhook_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "log.h"

#define WH_TOUCH_MAX 512 /* ids per touch script call */

unsigned nw_webhook_backoff_ms(unsigned attempt, unsigned base_ms, unsigned max_ms, uint32_t rnd)
{
    uint64_t cap = base_ms, half;

    for (unsigned i = 1; i < attempt && cap < max_ms; i++)
        cap *= 2;
    if (cap > max_ms)
        cap = max_ms;
    half = cap / 2;
    return (unsigned)(half + rnd % (cap - half + 1));
}

static bool may_read(const wh_partner_t *p)
{
    const nw_webhooks_t *wh = p->wh;

    return !p->gone && !wh->stopping && wh->synced && !p->disabled && p->group_ready &&
           nw_redis_is_up(wh->conn);
}

static unsigned room(const wh_partner_t *p)
{
    unsigned window = NW_WEBHOOK_WINDOW(p->spec.concurrency);

    return p->held < window ? window - p->held : 0;
}

void wh_delivery_link(wh_partner_t *p, wh_delivery_t *d)
{
    d->p = p;
    d->prev = p->tail;
    d->next = NULL;
    if (p->tail != NULL)
        p->tail->next = d;
    else
        p->head = d;
    p->tail = d;
    p->held++;
    atomic_store(&p->m.pending, (int64_t)p->held);
}

void wh_delivery_free(wh_delivery_t *d)
{
    wh_partner_t *p = d->p;

    if (d->prev != NULL)
        d->prev->next = d->next;
    else
        p->head = d->next;
    if (d->next != NULL)
        d->next->prev = d->prev;
    else
        p->tail = d->prev;
    p->held--;
    atomic_store(&p->m.pending, (int64_t)p->held);
    free(d->body);
    free(d);
}

wh_delivery_t *wh_find_held(const wh_partner_t *p, const char *id, bool dead)
{
    for (wh_delivery_t *d = p->head; d != NULL; d = d->next) {
        if (strcmp(dead ? d->dead_id : d->id, id) == 0 && (dead || d->dead_id[0] == '\0'))
            return d;
    }
    return NULL;
}

static void logged_cb(nw_redis_t *r, redisReply *reply, void *arg)
{
    if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
        nw_log(NW_LOG_ERROR, "webhook", "Redis command failed", "what=%s error=\"%s\"",
               (const char *)arg, reply->str);
}

void wh_send_logged(nw_webhooks_t *wh, const char *what, int argc, const char **argv,
                    const size_t *lens)
{
    if (nw_redis_command(wh->conn, logged_cb, (void *)what, 0, argc, argv, lens) < 0)
        nw_log(NW_LOG_WARN, "webhook", "Redis unavailable: left pending", "what=%s", what);
}

void wh_ack_ids(wh_partner_t *p, const char **ids, size_t n)
{
    const char **argv;
    size_t *lens;

    if (n == 0)
        return;
    argv = calloc(n + 3, sizeof(*argv));
    lens = calloc(n + 3, sizeof(*lens));
    if (argv != NULL && lens != NULL) {
        argv[0] = "XACK";
        argv[1] = p->wh->wire_key;
        argv[2] = p->group;
        memcpy(argv + 3, ids, n * sizeof(*ids));
        for (size_t i = 0; i < n + 3; i++)
            lens[i] = strlen(argv[i]);
        wh_send_logged(p->wh, "XACK", (int)(n + 3), argv, lens);
    }
    free(argv);
    free(lens);
}

/* The JSON item message for the topics of ev in mask: the same bytes as a
 * WebSocket item message (event.h: head + topics + tail). */
static unsigned char *item_body(const nw_event_t *ev, uint32_t mask, size_t *len)
{
    size_t n = ev->json_head.len + ev->json_tail.len + 2, o;
    unsigned char *b;

    for (size_t i = 0; i < ev->ntopics; i++)
        n += (mask >> i) & 1u ? strlen(ev->topics[i]) + 3 : 0;
    b = malloc(n);
    if (b == NULL)
        return NULL;
    memcpy(b, ev->json_head.data, ev->json_head.len);
    o = ev->json_head.len;
    b[o++] = '[';
    for (size_t i = 0, k = 0; i < ev->ntopics; i++) {
        if ((mask >> i) & 1u)
            o += (size_t)sprintf((char *)b + o, "%s\"%s\"", k++ ? "," : "", ev->topics[i]);
    }
    b[o++] = ']';
    memcpy(b + o, ev->json_tail.data, ev->json_tail.len);
    *len = o + ev->json_tail.len;
    return b;
}

/* Takes one entry read from the group: held (wanted), or to acknowledge
 * (*ack set to its id: not wanted, or undecodable). */
static void take_entry(wh_partner_t *p, const redisReply *e, const char **ack)
{
    const char *id;
    nw_event_t *ev;
    nw_err_t err;
    uint32_t mask = 0;
    wh_delivery_t *d;
    int rc;

    *ack = NULL;
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[0]->type != REDIS_REPLY_STRING || e->element[0]->len >= NW_WIRE_ID_MAX)
        return; /* a deleted entry (nil): nothing to deliver */
    id = e->element[0]->str;
    if (wh_find_held(p, id, false) != NULL)
        return;
    rc = nw_event_from_entry(e, &ev, &err);
    if (rc == -ENOMEM)
        return; /* left pending: taken over again later */
    if (rc < 0) {
        nw_log(NW_LOG_ERROR, "webhook", "skipping undecodable entry", "webhook=%s id=%s field=%s",
               p->spec.name, id, err.field);
        *ack = id;
        return;
    }
    for (size_t i = 0; i < ev->ntopics; i++) {
        for (size_t j = 0; j < p->topics->n; j++) {
            if (nw_topic_match(p->topics->v[j], ev->topics[i])) {
                mask |= 1u << i;
                break;
            }
        }
    }
    /* as for sessions, kills and withholds reach whoever got the story */
    if (mask == 0 || ((ev->kind == NW_KIND_NEW || ev->kind == NW_KIND_UPDATE) &&
                      ev->urgency > (int)p->spec.min_urgency)) {
        NW_METRIC_INC(p->m.skipped);
        *ack = id;
        nw_event_unref(ev);
        return;
    }
    d = calloc(1, sizeof(*d));
    if (d == NULL || (d->body = item_body(ev, mask, &d->len)) == NULL) {
        free(d);
        nw_event_unref(ev);
        return;
    }
    memcpy(d->id, ev->id, sizeof(d->id));
    d->deadline_ms = (int64_t)ev->id_ms + (int64_t)p->spec.horizon_s * 1000;
    d->due_ms = nw_now_ms();
    wh_delivery_link(p, d);
    nw_event_unref(ev);
}

/* Takes every entry of an array of stream entries; acknowledges the ones
 * not wanted. Returns how many entries there were. */
static size_t take_entries(wh_partner_t *p, const redisReply *entries)
{
    const char **acks;
    size_t n = 0;

    if (entries->type != REDIS_REPLY_ARRAY || entries->elements == 0)
        return 0;
    acks = calloc(entries->elements, sizeof(*acks));
    if (acks == NULL)
        return 0;
    for (size_t i = 0; i < entries->elements; i++) {
        take_entry(p, entries->element[i], &acks[n]);
        n += acks[n] != NULL;
    }
    wh_ack_ids(p, acks, n);
    free(acks);
    return entries->elements;
}

/* An error answer to a read: a missing group is created again after the
 * next registry read (unless the webhook was deleted meanwhile). */
static void read_error(wh_partner_t *p, const redisReply *reply, const char *what)
{
    if (nw_redis_reply_is_error(reply, "NOGROUP")) {
        p->group_ready = false;
        p->group_after = p->wh->load_seq;
        return;
    }
    nw_log(NW_LOG_ERROR, "webhook", "read failed", "webhook=%s what=%s error=\"%s\"", p->spec.name,
           what, reply->str);
}

static void fetch_cb(nw_redis_t *r, redisReply *reply, void *arg)
{
    wh_partner_t *p = arg;
    size_t asked = p->fetch_count, got = 0;

    p->fetching = false;
    if (reply != NULL && !p->gone) {
        if (reply->type == REDIS_REPLY_ERROR)
            read_error(p, reply, "XREADGROUP");
        else if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 1 &&
                 reply->element[0]->type == REDIS_REPLY_ARRAY && reply->element[0]->elements == 2)
            got = take_entries(p, reply->element[0]->element[1]);
        wh_partner_pump(p);
        if (got > 0 && got >= asked)
            wh_partner_fetch(p); /* there may be more */
    }
    wh_partner_unref(p);
}

void wh_partner_fetch(wh_partner_t *p)
{
    char count[16];
    const char *argv[] = {"XREADGROUP", "GROUP",         p->group, p->wh->consumer, "COUNT", count,
                          "STREAMS",    p->wh->wire_key, ">"};
    size_t lens[NW_ARRAY_LEN(argv)];

    if (!may_read(p) || p->fetching || room(p) == 0)
        return;
    p->fetch_count = room(p);
    snprintf(count, sizeof(count), "%u", p->fetch_count);
    for (size_t i = 0; i < NW_ARRAY_LEN(argv); i++)
        lens[i] = strlen(argv[i]);
    if (nw_redis_command(p->wh->conn, fetch_cb, p, 0, (int)NW_ARRAY_LEN(argv), argv, lens) == 0) {
        p->fetching = true;
        wh_partner_ref(p);
    }
}

static void group_cb(nw_redis_t *r, redisReply *reply, void *arg)
{
    wh_partner_t *p = arg;

    p->creating = false;
    if (reply != NULL && !p->gone) {
        if (reply->type != REDIS_REPLY_ERROR || nw_redis_reply_is_error(reply, "BUSYGROUP")) {
            p->group_ready = true;
            wh_partner_fetch(p);
        } else {
            nw_log(NW_LOG_ERROR, "webhook", "cannot create the consumer group",
                   "webhook=%s group=%s error=\"%s\"", p->spec.name, p->group, reply->str);
        }
    }
    wh_partner_unref(p);
}

void wh_partner_ensure_group(wh_partner_t *p)
{
    const char *argv[] = {"XGROUP", "CREATE", p->wh->wire_key, p->group, "$", "MKSTREAM"};
    size_t lens[NW_ARRAY_LEN(argv)];

    if (p->gone || p->creating || p->group_ready)
        return;
    for (size_t i = 0; i < NW_ARRAY_LEN(argv); i++)
        lens[i] = strlen(argv[i]);
    if (nw_redis_command(p->wh->conn, group_cb, p, 0, (int)NW_ARRAY_LEN(argv), argv, lens) == 0) {
        p->creating = true;
        wh_partner_ref(p);
    }
}

static void claim_cb(nw_redis_t *r, redisReply *reply, void *arg)
{
    wh_partner_t *p = arg;

    p->claiming = false;
    if (reply != NULL && !p->gone) {
        if (reply->type == REDIS_REPLY_ERROR) {
            read_error(p, reply, "XAUTOCLAIM");
        } else if (reply->type == REDIS_REPLY_ARRAY && reply->elements >= 2 &&
                   reply->element[0]->type == REDIS_REPLY_STRING &&
                   reply->element[0]->len < sizeof(p->claim_cursor)) {
            size_t n = take_entries(p, reply->element[1]);
            memcpy(p->claim_cursor, reply->element[0]->str, reply->element[0]->len + 1);
            if (n > 0)
                nw_log(NW_LOG_INFO, "webhook", "took over pending deliveries",
                       "webhook=%s count=%zu", p->spec.name, n);
            if (reply->elements >= 3 && reply->element[2]->type == REDIS_REPLY_ARRAY &&
                reply->element[2]->elements > 0)
                nw_log(NW_LOG_WARN, "webhook", "pending entries left the wire before delivery",
                       "webhook=%s count=%zu", p->spec.name, reply->element[2]->elements);
            if (n > 0 && strcmp(p->claim_cursor, "0-0") != 0)
                p->last_claim_ms = 0; /* more to look at: at the next tick */
            wh_partner_pump(p);
        }
    }
    wh_partner_unref(p);
}

void wh_partner_claim(wh_partner_t *p)
{
    char idle[16], count[16];
    const char *argv[] = {"XAUTOCLAIM", p->wh->wire_key, p->group, p->wh->consumer,
                          idle,         p->claim_cursor, "COUNT",  count};
    size_t lens[NW_ARRAY_LEN(argv)];

    if (!may_read(p) || p->claiming || room(p) == 0)
        return;
    p->last_claim_ms = nw_now_ms();
    snprintf(idle, sizeof(idle), "%u", p->wh->cfg->webhook_claim_idle_ms);
    snprintf(count, sizeof(count), "%u", room(p));
    for (size_t i = 0; i < NW_ARRAY_LEN(argv); i++)
        lens[i] = strlen(argv[i]);
    if (nw_redis_command(p->wh->conn, claim_cb, p, 0, (int)NW_ARRAY_LEN(argv), argv, lens) == 0) {
        p->claiming = true;
        wh_partner_ref(p);
    }
}

static void prune_cb(nw_redis_t *r, redisReply *reply, void *arg)
{
    wh_partner_t *p = arg;

    p->pruning = false;
    if (reply != NULL && !p->gone) {
        if (reply->type == REDIS_REPLY_ERROR)
            read_error(p, reply, "prune");
        else if (reply->type == REDIS_REPLY_INTEGER && reply->integer > 0)
            nw_log(NW_LOG_INFO, "webhook", "removed the consumers of stopped instances",
                   "webhook=%s count=%lld", p->spec.name, reply->integer);
    }
    wh_partner_unref(p);
}

void wh_partner_prune(wh_partner_t *p)
{
    char idle[16];
    const char *argv[] = {p->wh->wire_key, p->group, p->wh->consumer, idle};
    size_t lens[NW_ARRAY_LEN(argv)];

    if (!may_read(p) || p->pruning)
        return;
    p->last_prune_ms = nw_now_ms();
    snprintf(idle, sizeof(idle), "%u", p->wh->cfg->webhook_claim_idle_ms);
    for (size_t i = 0; i < NW_ARRAY_LEN(argv); i++)
        lens[i] = strlen(argv[i]);
    if (nw_redis_eval(p->wh->conn, p->wh->scripts.prune, prune_cb, p, 1, (int)NW_ARRAY_LEN(argv),
                      argv, lens) == 0) {
        p->pruning = true;
        wh_partner_ref(p);
    }
}

static void touch_cb(nw_redis_t *r, redisReply *reply, void *arg)
{
    wh_partner_t *p = arg;

    p->touching = false;
    if (reply != NULL && !p->gone && reply->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < reply->elements; i++) {
            wh_delivery_t *d;
            if (reply->element[i]->type != REDIS_REPLY_STRING)
                continue;
            d = wh_find_held(p, reply->element[i]->str, false);
            if (d == NULL)
                continue;
            nw_log(NW_LOG_INFO, "webhook", "delivery taken over by another instance",
                   "webhook=%s id=%s", p->spec.name, d->id);
            if (d->post != NULL)
                d->lost = true;
            else
                wh_delivery_free(d);
        }
    } else if (reply != NULL && reply->type == REDIS_REPLY_ERROR && !p->gone) {
        read_error(p, reply, "touch");
    }
    wh_partner_unref(p);
}

void wh_partner_touch(wh_partner_t *p)
{
    const char *argv[WH_TOUCH_MAX + 3];
    size_t lens[WH_TOUCH_MAX + 3];
    int n = 3;

    p->last_touch_ms = nw_now_ms();
    if (p->gone || p->touching || !nw_redis_is_up(p->wh->conn))
        return;
    /* the key (the wire), then the group, this consumer and the ids */
    argv[0] = p->wh->wire_key;
    argv[1] = p->group;
    argv[2] = p->wh->consumer;
    for (wh_delivery_t *d = p->head; d != NULL && n < (int)NW_ARRAY_LEN(argv); d = d->next) {
        if (d->dead_id[0] == '\0' && !d->lost)
            argv[n++] = d->id;
    }
    if (n == 3)
        return;
    for (int i = 0; i < n; i++)
        lens[i] = strlen(argv[i]);
    if (nw_redis_eval(p->wh->conn, p->wh->scripts.touch, touch_cb, p, 1, n, argv, lens) == 0) {
        p->touching = true;
        wh_partner_ref(p);
    }
}
