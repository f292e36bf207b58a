/* Newswire — history service: resume replay with per-story collapse, and
 * recent items, on the core thread. */
#include "history.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "strmap.h"

#define NW_REPLAY_PAGE 500

struct nw_history {
    struct event_base *base;
    const nw_config_t *cfg;
    nw_metrics_t *metrics;
    nw_redis_t *conn;  /* the master: the resume decision (position, epoch) */
    nw_redis_t *rconn; /* reads the wire: conn, or the wire tail's replica */
    nw_redis_script_t *position;
    nw_redis_script_t *recent;
    bool (*epoch_owed)(void *arg); /* the wire tail still has to renew the epoch */
    void *epoch_owed_arg;
    struct event *wake_ev; /* activated from gateway threads */
    pthread_mutex_t lock;
    nw_hist_req_t *queue_head, *queue_tail; /* submitted, not started */
    unsigned queued;
    unsigned running;
    char wire_key[96];
    char epoch_key[96];
};

/* One story seen inside the replay gap: the kind of its first event there
 * and a copy of its latest event's fields. */
typedef struct story {
    char first_kind[12];
    char *id, *kind, *uri, *urgency, *topics, *ts, *item;
    size_t topics_len, item_len;
} story_t;

/* Per-request work state. */
typedef struct work {
    nw_history_t *h;
    nw_hist_req_t *req;
    nw_strmap_t *stories; /* uri -> story_t */
    size_t scanned;
} work_t;

void nw_epoch_random(char buf[33])
{
    unsigned char b[16];
    ssize_t n = getrandom(b, sizeof(b), 0);

    if (n != (ssize_t)sizeof(b)) {
        /* no getrandom: time and pid still make a fresh id per process */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        for (size_t i = 0; i < sizeof(b); i++)
            b[i] = (unsigned char)((ts.tv_nsec >> (i % 8)) ^ (getpid() >> (i % 4)) ^ random());
    }
    for (size_t i = 0; i < sizeof(b); i++)
        snprintf(buf + 2 * i, 3, "%02x", b[i]);
}

nw_hist_req_t *nw_hist_req_new(void)
{
    return calloc(1, sizeof(nw_hist_req_t));
}

void nw_hist_req_free(nw_hist_req_t *req)
{
    if (req == NULL)
        return;
    nw_topic_list_free(req->patterns);
    for (size_t i = 0; i < req->nevents; i++)
        nw_event_unref(req->events[i]);
    free(req->events);
    free(req);
}

static void story_free(story_t *s)
{
    if (s == NULL)
        return;
    free(s->id);
    free(s->kind);
    free(s->uri);
    free(s->urgency);
    free(s->topics);
    free(s->ts);
    free(s->item);
    free(s);
}

static void story_free_cb(const char *key, void *value, void *arg)
{
    story_free(value);
}

static void work_free(work_t *w)
{
    if (w == NULL)
        return;
    if (w->stories != NULL) {
        nw_strmap_each(w->stories, story_free_cb, NULL);
        nw_strmap_free(w->stories);
    }
    free(w);
}

/* Finishes a request: hands it back through its done callback. */
static void finish(nw_history_t *h, nw_hist_req_t *req, int status)
{
    work_free(req->work);
    req->work = NULL;
    req->status = status;
    h->running--;
    if (status != 0)
        NW_METRIC_INC(h->metrics->history_errors);
    req->done(req, req->done_arg);
}

/* Appends an event to the request's answer. */
static int add_event(nw_hist_req_t *req, nw_event_t *ev)
{
    nw_event_t **n;

    if ((req->nevents & (req->nevents - 1)) == 0) {
        size_t cap = req->nevents ? req->nevents * 2 : 8;
        n = realloc(req->events, cap * sizeof(*n));
        if (n == NULL)
            return -ENOMEM;
        req->events = n;
    }
    req->events[req->nevents++] = ev;
    return 0;
}

static int cmp_events(const void *a, const void *b)
{
    const nw_event_t *x = *(nw_event_t *const *)a, *y = *(nw_event_t *const *)b;

    return nw_event_id_cmp(x, y->id_ms, y->id_seq);
}

static void sort_events(nw_hist_req_t *req)
{
    if (req->nevents > 1)
        qsort(req->events, req->nevents, sizeof(*req->events), cmp_events);
}

/* The recent items answer: flat [id, kind, uri, version, urgency, topics,
 * item] * n. */
static void recent_cb(nw_redis_t *r, redisReply *reply, void *arg)
{
    work_t *w = arg;
    nw_hist_req_t *req = w->req;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        if (reply != NULL)
            nw_log(NW_LOG_ERROR, "history", "recent items script failed", "error=\"%s\"",
                   reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
        finish(w->h, req, -EAGAIN);
        return;
    }
    for (size_t i = 0; i + 6 < reply->elements; i += 7) {
        redisReply **el = reply->element + i;
        nw_event_fields_t f;
        nw_event_t *ev;
        nw_err_t err;
        bool ok = true;

        for (int k = 0; k < 7; k++)
            ok = ok && el[k]->type == REDIS_REPLY_STRING;
        if (!ok)
            continue;
        f = (nw_event_fields_t){.id = el[0]->str,
                                .kind = el[1]->str,
                                .uri = el[2]->str,
                                .urgency = el[4]->str,
                                .topics = el[5]->str,
                                .topics_len = el[5]->len,
                                .item = el[6]->str,
                                .item_len = el[6]->len};
        if (nw_event_from_fields(&f, NULL, &ev, &err) < 0)
            continue;
        if (add_event(req, ev) < 0) {
            nw_event_unref(ev);
            finish(w->h, req, -ENOMEM);
            return;
        }
    }
    sort_events(req);
    finish(w->h, req, 0);
}

/* Asks for the recent items of the request's patterns. */
static void run_recent(work_t *w)
{
    nw_hist_req_t *req = w->req;
    size_t n = req->patterns->n;
    const char **argv = calloc(n + 5, sizeof(*argv));
    size_t *lens = calloc(n + 5, sizeof(*lens));
    char per[16], scan[16];
    int rc = -ENOMEM;

    if (argv != NULL && lens != NULL) {
        snprintf(per, sizeof(per), "%u", req->per_topic);
        snprintf(scan, sizeof(scan), "%u", w->h->cfg->recent_scan);
        argv[0] = w->h->wire_key;
        argv[1] = w->h->cfg->redis_prefix;
        argv[2] = per;
        argv[3] = scan;
        argv[4] = req->upto[0] ? req->upto : "+";
        for (size_t i = 0; i < n; i++)
            argv[5 + i] = req->patterns->v[i];
        for (size_t i = 0; i < n + 5; i++)
            lens[i] = strlen(argv[i]);
        rc = nw_redis_eval(w->h->rconn, w->h->recent, recent_cb, w, 1, (int)(n + 5), argv, lens);
    }
    free(argv);
    free(lens);
    if (rc < 0)
        finish(w->h, req, rc == -ENOMEM ? -ENOMEM : -EAGAIN);
}

/* True if any topic of csv matches any of the request's patterns. */
static bool matches(const nw_hist_req_t *req, const char *csv, size_t len)
{
    char topic[NW_TOPIC_MAX_LEN + 1];
    const char *p = csv, *end = csv + len;

    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        size_t n = (size_t)((comma ? comma : end) - p);
        if (n > 0 && n <= NW_TOPIC_MAX_LEN) {
            memcpy(topic, p, n);
            topic[n] = '\0';
            for (size_t i = 0; i < req->patterns->n; i++) {
                if (nw_topic_match(req->patterns->v[i], topic))
                    return true;
            }
        }
        p = comma ? comma + 1 : end;
    }
    return false;
}

static char *dup_reply(const redisReply *r, size_t *len)
{
    char *s = malloc(r->len + 1);

    if (s != NULL) {
        memcpy(s, r->str, r->len + 1);
        if (len != NULL)
            *len = r->len;
    }
    return s;
}

/* Records one wire entry of the gap in the story collapse. */
static int collapse_entry(work_t *w, const redisReply *e)
{
    const redisReply *fields = e->element[1];
    const redisReply *kind = NULL, *uri = NULL, *topics = NULL, *urgency = NULL, *ts = NULL;
    const redisReply *item = NULL;
    story_t *s;

    for (size_t i = 0; i + 1 < fields->elements; i += 2) {
        const redisReply *k = fields->element[i], *v = fields->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        if (strcmp(k->str, "kind") == 0)
            kind = v;
        else if (strcmp(k->str, "uri") == 0)
            uri = v;
        else if (strcmp(k->str, "topics") == 0)
            topics = v;
        else if (strcmp(k->str, "urgency") == 0)
            urgency = v;
        else if (strcmp(k->str, "ts") == 0)
            ts = v;
        else if (strcmp(k->str, "item") == 0)
            item = v;
    }
    if (kind == NULL || uri == NULL || topics == NULL || item == NULL ||
        !matches(w->req, topics->str, topics->len))
        return 0;
    s = nw_strmap_get(w->stories, uri->str, uri->len);
    if (s == NULL) {
        s = calloc(1, sizeof(*s));
        if (s == NULL || nw_strmap_put(w->stories, uri->str, uri->len, s) < 0) {
            free(s);
            return -ENOMEM;
        }
        snprintf(s->first_kind, sizeof(s->first_kind), "%s", kind->str);
    }
    free(s->id);
    free(s->kind);
    free(s->uri);
    free(s->urgency);
    free(s->topics);
    free(s->ts);
    free(s->item);
    s->id = dup_reply(e->element[0], NULL);
    s->kind = dup_reply(kind, NULL);
    s->uri = dup_reply(uri, NULL);
    s->urgency = urgency ? dup_reply(urgency, NULL) : NULL;
    s->topics = dup_reply(topics, &s->topics_len);
    s->ts = ts ? dup_reply(ts, NULL) : NULL;
    s->item = dup_reply(item, &s->item_len);
    if (s->id == NULL || s->kind == NULL || s->uri == NULL || s->topics == NULL || s->item == NULL)
        return -ENOMEM;
    return 0;
}

typedef struct emit_ctx {
    work_t *w;
    int rc;
} emit_ctx_t;

/* Turns one collapsed story into the event the client gets, if any. */
static void emit_story_cb(const char *key, void *value, void *arg)
{
    emit_ctx_t *c = arg;
    story_t *s = value;
    bool began_in_gap = strcmp(s->first_kind, "new") == 0;
    bool gone = strcmp(s->kind, "kill") == 0 || strcmp(s->kind, "withhold") == 0;
    const char *override = NULL;
    nw_event_fields_t f;
    nw_event_t *ev;
    nw_err_t err;

    if (c->rc < 0 || (gone && began_in_gap))
        return; /* the client never saw it: nothing to recall */
    if (began_in_gap && strcmp(s->kind, "update") == 0)
        override = "new";
    f = (nw_event_fields_t){.id = s->id,
                            .kind = s->kind,
                            .uri = s->uri,
                            .urgency = s->urgency,
                            .topics = s->topics,
                            .topics_len = s->topics_len,
                            .ts = s->ts,
                            .item = s->item,
                            .item_len = s->item_len};
    if (nw_event_from_fields(&f, override, &ev, &err) < 0)
        return;
    if (add_event(c->w->req, ev) < 0) {
        nw_event_unref(ev);
        c->rc = -ENOMEM;
    }
}

static void replay_page(work_t *w, const char *start);

static void xrange_cb(nw_redis_t *r, redisReply *reply, void *arg)
{
    work_t *w = arg;
    nw_hist_req_t *req = w->req;
    char next[NW_WIRE_ID_MAX + 1];
    emit_ctx_t c = {w, 0};

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        finish(w->h, req, -EAGAIN);
        return;
    }
    for (size_t i = 0; i < reply->elements; i++) {
        const redisReply *e = reply->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_ARRAY)
            continue;
        if (collapse_entry(w, e) < 0) {
            finish(w->h, req, -ENOMEM);
            return;
        }
    }
    w->scanned += reply->elements;
    if (w->scanned > w->h->cfg->replay_max) {
        /* Too much to replay: the client starts over from recent items. */
        nw_log(NW_LOG_INFO, "history", "gap too long to replay", "since=%s scanned=%zu", req->since,
               w->scanned);
        req->recovered = false;
        run_recent(w);
        return;
    }
    if (reply->elements == NW_REPLAY_PAGE) {
        const redisReply *last = reply->element[reply->elements - 1];
        if (last->type == REDIS_REPLY_ARRAY && last->elements == 2 &&
            last->element[0]->type == REDIS_REPLY_STRING &&
            last->element[0]->len < NW_WIRE_ID_MAX) {
            snprintf(next, sizeof(next), "(%s", last->element[0]->str);
            replay_page(w, next);
            return;
        }
    }
    nw_strmap_each(w->stories, emit_story_cb, &c);
    if (c.rc < 0) {
        finish(w->h, req, c.rc);
        return;
    }
    sort_events(req);
    NW_METRIC_INC(w->h->metrics->history_replays);
    NW_METRIC_ADD(w->h->metrics->history_replayed_events, req->nevents);
    finish(w->h, req, 0);
}

/* Reads the next page of the gap, from start (exclusive "(id") to upto. */
static void replay_page(work_t *w, const char *start)
{
    char count[16];
    const char *argv[] = {"XRANGE", w->h->wire_key, start, w->req->upto, "COUNT", count};
    size_t lens[NW_ARRAY_LEN(argv)];

    snprintf(count, sizeof(count), "%d", NW_REPLAY_PAGE);
    for (size_t i = 0; i < NW_ARRAY_LEN(argv); i++)
        lens[i] = strlen(argv[i]);
    if (nw_redis_command(w->h->rconn, xrange_cb, w, 0, (int)NW_ARRAY_LEN(argv), argv, lens) < 0)
        finish(w->h, w->req, -EAGAIN);
}

static bool h_reads_master(const nw_history_t *h)
{
    return h->rconn == h->conn;
}

/* The wire's position is known: decide whether the cursor is recovered. */
static void position_cb(nw_redis_t *r, redisReply *reply, void *arg)
{
    work_t *w = arg;
    nw_hist_req_t *req = w->req;
    const char *epoch, *last, *deleted, *first;
    char start[NW_WIRE_ID_MAX + 1];
    bool trimmed;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements != 6 ||
        reply->element[0]->type != REDIS_REPLY_STRING ||
        reply->element[1]->type != REDIS_REPLY_STRING ||
        reply->element[2]->type != REDIS_REPLY_STRING ||
        reply->element[3]->type != REDIS_REPLY_STRING ||
        reply->element[4]->type != REDIS_REPLY_INTEGER ||
        reply->element[5]->type != REDIS_REPLY_INTEGER) {
        finish(w->h, req, -EAGAIN);
        return;
    }
    epoch = reply->element[0]->str;
    last = reply->element[1]->str;
    deleted = reply->element[2]->str;
    first = reply->element[3]->str;
    trimmed = reply->element[4]->integer > reply->element[5]->integer;
    snprintf(req->cur_epoch, sizeof(req->cur_epoch), "%s", epoch);
    /* The gateway's own position may trail the wire (its tail reads in
     * batches): read up to the wire's end, so that what the client missed
     * comes collapsed in the replay rather than item by item live; the
     * session then drops live events up to this bound (it had them here).
     * Not when the wire is read from a replica, which may not have them yet:
     * the gateway's position is what that replica surely has. */
    if (h_reads_master(w->h) && nw_stream_id_cmp(last, req->upto) > 0 &&
        strlen(last) < sizeof(req->upto))
        memcpy(req->upto, last, strlen(last) + 1);
    /* Recovered: the same epoch, a cursor not ahead of the wire, and nothing
     * after it removed: either nothing was ever trimmed, or the cursor is
     * at or after the first entry kept (an older cursor may have missed
     * trimmed entries; we cannot tell, so we say so). */
    req->recovered = (req->epoch[0] == '\0' || strcmp(req->epoch, epoch) == 0) &&
                     nw_stream_id_cmp(req->since, last) <= 0 &&
                     nw_stream_id_cmp(req->since, deleted) >= 0 &&
                     (!trimmed || nw_stream_id_cmp(req->since, first) >= 0) &&
                     /* entries were lost in a failover and the epoch that
                      * says so is not written yet: nothing can be promised */
                     !(w->h->epoch_owed != NULL && w->h->epoch_owed(w->h->epoch_owed_arg));
    if (!req->recovered) {
        nw_log(NW_LOG_DEBUG, "history", "cursor not recovered",
               "since=%s epoch=%s wire_epoch=%s last=%s first=%s trimmed=%d", req->since,
               req->epoch[0] ? req->epoch : "-", epoch, last, first, (int)trimmed);
        run_recent(w);
        return;
    }
    if (nw_stream_id_cmp(req->since, req->upto) >= 0) {
        /* nothing between the cursor and what the gateway already sends live */
        finish(w->h, req, 0);
        return;
    }
    w->stories = nw_strmap_new();
    if (w->stories == NULL) {
        finish(w->h, req, -ENOMEM);
        return;
    }
    snprintf(start, sizeof(start), "(%s", req->since);
    replay_page(w, start);
}

/* Starts one request's Redis work. */
static void start(nw_history_t *h, nw_hist_req_t *req)
{
    work_t *w = calloc(1, sizeof(*w));
    char epoch[33];
    const char *argv[] = {h->wire_key, h->epoch_key, epoch, ""};
    size_t lens[4];

    h->running++;
    if (w == NULL) {
        finish(h, req, -ENOMEM);
        return;
    }
    w->h = h;
    w->req = req;
    req->work = w;
    if (req->kind == NW_HIST_RECENT) {
        run_recent(w);
        return;
    }
    nw_epoch_random(epoch);
    for (size_t i = 0; i < 4; i++)
        lens[i] = strlen(argv[i]);
    if (nw_redis_eval(h->conn, h->position, position_cb, w, 2, 4, argv, lens) < 0)
        finish(h, req, -EAGAIN);
}

/* Takes the submitted requests off the shared queue and starts them. */
static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
    nw_history_t *h = arg;
    nw_hist_req_t *list;

    pthread_mutex_lock(&h->lock);
    list = h->queue_head;
    h->queue_head = h->queue_tail = NULL;
    h->queued = 0;
    pthread_mutex_unlock(&h->lock);
    while (list != NULL) {
        nw_hist_req_t *req = list;
        list = req->next;
        req->next = NULL;
        start(h, req);
    }
}

int nw_history_submit(nw_history_t *h, nw_hist_req_t *req)
{
    pthread_mutex_lock(&h->lock);
    if (h->queued >= h->cfg->history_max_pending) {
        pthread_mutex_unlock(&h->lock);
        return -EAGAIN;
    }
    req->next = NULL;
    if (h->queue_tail != NULL)
        h->queue_tail->next = req;
    else
        h->queue_head = req;
    h->queue_tail = req;
    h->queued++;
    pthread_mutex_unlock(&h->lock);
    event_active(h->wake_ev, EV_READ, 0);
    return 0;
}

unsigned nw_history_pending(nw_history_t *h)
{
    unsigned n;

    pthread_mutex_lock(&h->lock);
    n = h->queued + h->running;
    pthread_mutex_unlock(&h->lock);
    return n;
}

nw_history_t *nw_history_new(struct event_base *base, const nw_config_t *cfg, nw_metrics_t *metrics,
                             nw_redis_t *conn, nw_redis_script_t *position,
                             nw_redis_script_t *recent)
{
    nw_history_t *h = calloc(1, sizeof(*h));

    if (h == NULL)
        return NULL;
    h->base = base;
    h->cfg = cfg;
    h->metrics = metrics;
    h->conn = conn;
    h->rconn = conn;
    h->position = position;
    h->recent = recent;
    snprintf(h->wire_key, sizeof(h->wire_key), "%swire", cfg->redis_prefix);
    snprintf(h->epoch_key, sizeof(h->epoch_key), "%sepoch", cfg->redis_prefix);
    h->wake_ev = event_new(base, -1, 0, wake_cb, h);
    if (h->wake_ev == NULL || pthread_mutex_init(&h->lock, NULL) != 0) {
        if (h->wake_ev != NULL)
            event_free(h->wake_ev);
        free(h);
        return NULL;
    }
    return h;
}

void nw_history_set_epoch_check(nw_history_t *h, bool (*owed)(void *arg), void *arg)
{
    h->epoch_owed = owed;
    h->epoch_owed_arg = arg;
}

void nw_history_set_read_conn(nw_history_t *h, nw_redis_t *conn)
{
    h->rconn = conn;
}

void nw_history_free(nw_history_t *h)
{
    nw_hist_req_t *list;

    if (h == NULL)
        return;
    list = h->queue_head;
    h->queue_head = h->queue_tail = NULL;
    while (list != NULL) {
        nw_hist_req_t *req = list;
        list = req->next;
        req->status = -ECANCELED;
        req->done(req, req->done_arg);
    }
    event_free(h->wake_ev);
    pthread_mutex_destroy(&h->lock);
    free(h);
}
