/* Newswire — embargo release timer and the held-items listing. */
#include "embargo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>

#include "article.h"
#include "log.h"

struct nw_embargo {
    struct event_base *base;
    const nw_config_t *cfg;
    nw_metrics_t *metrics;
    nw_redis_t *conn;
    nw_redis_script_t *release;
    nw_redis_script_t *list;
    struct event *timer;
    int64_t next_ms;  /* earliest release time known, or -1 */
    bool in_flight;   /* a release script is running */
    bool again;       /* run again as soon as it answers */
    unsigned pending; /* listings waiting for Redis */
};

/* Arms the timer for the earlier of the next known release and the poll
 * interval. */
static void arm(nw_embargo_t *e)
{
    int64_t now = nw_now_ms();
    int64_t delay = e->cfg->embargo_poll_ms;
    struct timeval tv;

    if (e->next_ms >= 0 && e->next_ms - now < delay)
        delay = e->next_ms > now ? e->next_ms - now : 0;
    tv.tv_sec = (time_t)(delay / 1000);
    tv.tv_usec = (suseconds_t)((delay % 1000) * 1000);
    evtimer_add(e->timer, &tv);
}

static void run_release(nw_embargo_t *e);

static void release_cb(nw_redis_t *r, redisReply *reply, void *arg)
{
    nw_embargo_t *e = arg;
    long long released = 0;

    e->in_flight = false;
    if (reply != NULL && reply->type == REDIS_REPLY_ARRAY && reply->elements >= 2 &&
        reply->element[0]->type == REDIS_REPLY_INTEGER &&
        reply->element[1]->type == REDIS_REPLY_INTEGER) {
        released = reply->element[0]->integer;
        e->next_ms = reply->element[1]->integer;
        if (released > 0) {
            NW_METRIC_ADD(e->metrics->embargo_released, (uint64_t)released);
            nw_log(NW_LOG_INFO, "embargo", "released held items", "count=%lld", released);
        }
    } else if (reply != NULL) {
        nw_log(NW_LOG_ERROR, "embargo", "release script failed", "error=\"%s\"",
               reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
    }
    if (e->again || released >= (long long)e->cfg->embargo_batch) {
        e->again = false;
        run_release(e);
        return;
    }
    arm(e);
}

/* Runs the release script now (or right after the one in flight). */
static void run_release(nw_embargo_t *e)
{
    char now[24], limit[16], wire_max[16], topic_max[16], max_age[24], wire_key[96];
    char item_ttl[16];
    const char *argv[] = {wire_key, e->cfg->redis_prefix, now, limit, wire_max, topic_max, max_age,
                          item_ttl};
    size_t lens[NW_ARRAY_LEN(argv)];

    if (e->in_flight) {
        e->again = true;
        return;
    }
    evtimer_del(e->timer);
    if (!nw_redis_is_up(e->conn)) {
        arm(e);
        return;
    }
    snprintf(wire_key, sizeof(wire_key), "%swire", e->cfg->redis_prefix);
    snprintf(now, sizeof(now), "%lld", (long long)nw_now_ms());
    snprintf(limit, sizeof(limit), "%u", e->cfg->embargo_batch);
    snprintf(wire_max, sizeof(wire_max), "%u", e->cfg->wire_maxlen);
    snprintf(topic_max, sizeof(topic_max), "%u", e->cfg->topic_maxlen);
    snprintf(max_age, sizeof(max_age), "%llu", (unsigned long long)e->cfg->wire_max_age_s * 1000);
    snprintf(item_ttl, sizeof(item_ttl), "%u", e->cfg->item_ttl_s);
    for (size_t i = 0; i < NW_ARRAY_LEN(argv); i++)
        lens[i] = strlen(argv[i]);
    if (nw_redis_eval(e->conn, e->release, release_cb, e, 1, (int)NW_ARRAY_LEN(argv), argv, lens) ==
        0)
        e->in_flight = true;
    else
        arm(e);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    run_release(arg);
}

void nw_embargo_schedule(nw_embargo_t *e, int64_t release_ms)
{
    if (e->next_ms < 0 || release_ms < e->next_ms) {
        e->next_ms = release_ms;
        if (!e->in_flight)
            arm(e);
    }
}

nw_embargo_t *nw_embargo_new(struct event_base *base, const nw_config_t *cfg, nw_metrics_t *metrics,
                             nw_redis_t *conn, nw_redis_script_t *release, nw_redis_script_t *list)
{
    nw_embargo_t *e = calloc(1, sizeof(*e));

    if (e == NULL)
        return NULL;
    e->base = base;
    e->cfg = cfg;
    e->metrics = metrics;
    e->conn = conn;
    e->release = release;
    e->list = list;
    e->next_ms = -1;
    e->timer = evtimer_new(base, timer_cb, e);
    if (e->timer == NULL) {
        free(e);
        return NULL;
    }
    arm(e);
    return e;
}

void nw_embargo_free(nw_embargo_t *e)
{
    if (e == NULL)
        return;
    event_free(e->timer);
    free(e);
}

unsigned nw_embargo_pending(const nw_embargo_t *e)
{
    return e->pending + (e->in_flight ? 1 : 0);
}

typedef struct list_ctx {
    nw_embargo_t *e;
    nw_http_req_t *req;
} list_ctx_t;

static void list_cb(nw_redis_t *r, redisReply *reply, void *arg)
{
    list_ctx_t *c = arg;
    json_t *items;

    c->e->pending--;
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        nw_http_req_add_header(c->req, "Retry-After", "1");
        nw_http_reply_error(c->req, 503, "storage unavailable", NULL);
        free(c);
        return;
    }
    items = json_array();
    for (size_t i = 0; i + 4 < reply->elements; i += 5) {
        char when[NW_RFC3339_MAX];
        redisReply **el = reply->element + i;
        json_t *topics = json_array();
        char *save = NULL, *tcopy = strdup(el[3]->str ? el[3]->str : "");

        for (char *t = tcopy ? strtok_r(tcopy, ",", &save) : NULL; t != NULL;
             t = strtok_r(NULL, ",", &save))
            json_array_append_new(topics, json_string(t));
        free(tcopy);
        nw_rfc3339_format(strtoll(el[2]->str ? el[2]->str : "0", NULL, 10), when);
        json_array_append_new(items,
                              json_pack("{s:s, s:s, s:s, s:o, s:i}", "uri", el[0]->str, "version",
                                        el[1]->str, "release", when, "topics", topics, "urgency",
                                        atoi(el[4]->str ? el[4]->str : "5")));
    }
    nw_http_reply_json(c->req, 200, json_pack("{s:o}", "items", items));
    free(c);
}

void nw_embargo_list(nw_embargo_t *e, nw_http_req_t *req)
{
    const char *lim = nw_http_req_query_param(req, "limit");
    char limit[16];
    const char *argv[] = {e->cfg->redis_prefix, limit};
    size_t lens[2];
    list_ctx_t *c;
    long n = 100;

    if (lim != NULL) {
        char *end;
        n = strtol(lim, &end, 10);
        if (*lim == '\0' || *end != '\0' || n < 1 || n > 10000) {
            nw_http_reply_error(req, 400, "limit must be an integer 1..10000", "limit");
            return;
        }
    }
    snprintf(limit, sizeof(limit), "%ld", n);
    lens[0] = strlen(argv[0]);
    lens[1] = strlen(argv[1]);
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        nw_http_reply_error(req, 500, "out of memory", NULL);
        return;
    }
    c->e = e;
    c->req = req;
    if (nw_redis_eval(e->conn, e->list, list_cb, c, 0, 2, argv, lens) < 0) {
        free(c);
        nw_http_req_add_header(req, "Retry-After", "1");
        nw_http_reply_error(req, 503, "storage unavailable: Redis is not reachable", NULL);
        return;
    }
    e->pending++;
}
