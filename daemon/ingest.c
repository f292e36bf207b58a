/* Newswire — ingest: POST /v1/articles and GET /v1/articles/<uri>. */
#include "ingest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "article.h"
#include "log.h"
#include "topic.h"

struct nw_ingest {
    const nw_config_t *cfg;
    nw_metrics_t *metrics;
    nw_redis_t *conn;
    nw_redis_script_t *publish;
    size_t pending;
};

/* One publish waiting for Redis. */
typedef struct pending {
    nw_ingest_t *ing;
    nw_http_req_t *req;
    char *uri;
    char version[16];
} pending_t;

typedef enum body_format { BODY_JSON, BODY_MSGPACK, BODY_OTHER } body_format_t;

nw_ingest_t *nw_ingest_new(const nw_config_t *cfg, nw_metrics_t *metrics, nw_redis_t *conn,
                           nw_redis_script_t *publish)
{
    nw_ingest_t *ing = calloc(1, sizeof(*ing));

    if (ing == NULL)
        return NULL;
    ing->cfg = cfg;
    ing->metrics = metrics;
    ing->conn = conn;
    ing->publish = publish;
    return ing;
}

void nw_ingest_free(nw_ingest_t *ing)
{
    if (ing == NULL)
        return;
    NW_ASSERT(ing->pending == 0);
    free(ing);
}

size_t nw_ingest_pending(const nw_ingest_t *ing)
{
    return ing->pending;
}

/* The media type of Content-Type without parameters, matched
 * case-insensitively. */
static body_format_t body_format(const char *ct)
{
    size_t n;

    if (ct == NULL)
        return BODY_OTHER;
    n = strcspn(ct, "; \t");
    if (n == 16 && strncasecmp(ct, "application/json", n) == 0)
        return BODY_JSON;
    if ((n == 19 && strncasecmp(ct, "application/msgpack", n) == 0) ||
        (n == 21 && strncasecmp(ct, "application/x-msgpack", n) == 0) ||
        (n == 23 && strncasecmp(ct, "application/vnd.msgpack", n) == 0))
        return BODY_MSGPACK;
    return BODY_OTHER;
}

static void count(nw_ingest_t *ing, nw_ingest_result_t r)
{
    NW_METRIC_INC(ing->metrics->ingest[r]);
}

static void reply_unavailable(nw_ingest_t *ing, nw_http_req_t *req, const char *why)
{
    count(ing, NW_INGEST_UNAVAILABLE);
    nw_http_req_add_header(req, "Retry-After", "1");
    nw_http_reply_error(req, 503, why, NULL);
}

/* Sends the receipt {"id","uri","version","kind"} with status. */
static void reply_receipt(nw_http_req_t *req, int status, const char *id, const char *uri,
                          const char *version, const char *kind)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "id", id, "uri", uri, "version", version,
                          "kind", kind);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

    json_decref(o);
    if (s == NULL) {
        nw_http_reply_error(req, 500, "out of memory", NULL);
        return;
    }
    nw_http_reply(req, status, "application/json", s, strlen(s));
    free(s);
}

static const char *elem_str(const redisReply *r, size_t i)
{
    if (r->type != REDIS_REPLY_ARRAY || i >= r->elements ||
        r->element[i]->type != REDIS_REPLY_STRING)
        return NULL;
    return r->element[i]->str;
}

/* The publish script answered (or not): map its answer to the HTTP reply. */
static void publish_cb(nw_redis_t *r, redisReply *reply, void *arg)
{
    pending_t *p = arg;
    nw_ingest_t *ing = p->ing;
    const char *status = reply ? elem_str(reply, 0) : NULL;
    char qbuf[600];
    char msg[160];

    ing->pending--;
    if (reply == NULL) {
        reply_unavailable(ing, p->req, "storage unavailable: no answer from Redis");
    } else if (reply->type == REDIS_REPLY_ERROR || status == NULL) {
        nw_log(NW_LOG_ERROR, "ingest", "publish script failed", "uri=%s error=\"%s\"",
               nw_log_quote(p->uri, qbuf, sizeof(qbuf)),
               reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
        reply_unavailable(ing, p->req, "storage unavailable: the publish script failed");
    } else if (strcmp(status, "ok") == 0 && elem_str(reply, 1) && elem_str(reply, 2)) {
        count(ing, NW_INGEST_ACCEPTED);
        nw_log(NW_LOG_INFO, "ingest", "item published", "uri=%s version=%s id=%s kind=%s",
               nw_log_quote(p->uri, qbuf, sizeof(qbuf)), p->version, elem_str(reply, 1),
               elem_str(reply, 2));
        reply_receipt(p->req, 202, elem_str(reply, 1), p->uri, p->version, elem_str(reply, 2));
    } else if (strcmp(status, "dup") == 0 && elem_str(reply, 1) && elem_str(reply, 2)) {
        count(ing, NW_INGEST_DUPLICATE);
        reply_receipt(p->req, 200, elem_str(reply, 1), p->uri, p->version, elem_str(reply, 2));
    } else if (strcmp(status, "conflict") == 0) {
        count(ing, NW_INGEST_CONFLICT);
        snprintf(msg, sizeof(msg),
                 "version %s of this uri was already published with different content",
                 p->version);
        nw_http_reply_error(p->req, 409, msg, "version");
    } else if (strcmp(status, "stale") == 0) {
        count(ing, NW_INGEST_CONFLICT);
        snprintf(msg, sizeof(msg), "version %s is lower than the stored version %s", p->version,
                 elem_str(reply, 1) ? elem_str(reply, 1) : "?");
        nw_http_reply_error(p->req, 409, msg, "version");
    } else {
        reply_unavailable(ing, p->req, "storage unavailable: unexpected script answer");
    }
    free(p->uri);
    free(p);
}

/* Reads the routing topics from ?topics= or the Newswire-Topics header
 * (exactly one of them). Returns the list or NULL after replying 400. */
static nw_topic_list_t *read_topics(nw_ingest_t *ing, nw_http_req_t *req)
{
    const char *q = nw_http_req_query_param(req, "topics");
    const char *h = nw_http_req_header(req, "Newswire-Topics");
    nw_topic_list_t *list;
    nw_err_t err;

    if (q != NULL && h != NULL) {
        count(ing, NW_INGEST_INVALID);
        nw_http_reply_error(req, 400,
                            "give the topics in ?topics= or in Newswire-Topics, not both",
                            "topics");
        return NULL;
    }
    if (q == NULL && h == NULL) {
        count(ing, NW_INGEST_INVALID);
        nw_http_reply_error(req, 400, "topics are required (?topics= or Newswire-Topics)",
                            "topics");
        return NULL;
    }
    if (q == NULL)
        q = h;
    if (nw_topic_list_parse(q, strlen(q), NW_TOPICS_PER_ITEM_MAX, false, "topics", &list, &err) <
        0) {
        count(ing, NW_INGEST_INVALID);
        nw_http_reply_error(req, 400, err.message, "topics");
        return NULL;
    }
    return list;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void nw_ingest_post(nw_ingest_t *ing, nw_http_req_t *req)
{
    body_format_t fmt = body_format(nw_http_req_header(req, "Content-Type"));
    nw_article_t *a = NULL;
    nw_topic_list_t *topics = NULL;
    char *canon = NULL, *csv = NULL;
    size_t body_len, canon_len, csv_len = 0;
    const char *body;
    pending_t *p = NULL;
    nw_err_t err;
    int rc;

    if (fmt == BODY_OTHER) {
        count(ing, NW_INGEST_UNSUPPORTED);
        nw_http_reply_error(req, 415,
                            "Content-Type must be application/json or application/msgpack",
                            "Content-Type");
        return;
    }
    if (!nw_http_req_has_length(req)) {
        count(ing, NW_INGEST_NO_LENGTH);
        nw_http_reply_error(req, 411, "a Content-Length (or chunked body) is required",
                            "Content-Length");
        return;
    }
    body = nw_http_req_body(req, &body_len);
    if (body_len > ing->cfg->api_max_body) {
        count(ing, NW_INGEST_TOO_LARGE);
        nw_http_reply_error(req, 413, "request body too large", NULL);
        return;
    }
    if (body_len == 0) {
        count(ing, NW_INGEST_INVALID);
        nw_http_reply_error(req, 400, "empty body: a ninjs item is required", "");
        return;
    }
    rc = fmt == BODY_JSON ? nw_article_parse_json(body, body_len, &a, &err)
                          : nw_article_parse_msgpack(body, body_len, &a, &err);
    if (rc < 0) {
        count(ing, NW_INGEST_INVALID);
        nw_http_reply_error(req, rc == -ENOMEM ? 500 : 400,
                            rc == -ENOMEM ? "out of memory" : err.message,
                            rc == -ENOMEM ? NULL : err.field);
        return;
    }
    topics = read_topics(ing, req);
    if (topics == NULL)
        goto done;
    if (ing->pending >= ing->cfg->ingest_max_pending) {
        reply_unavailable(ing, req, "too many publishes in progress");
        goto done;
    }
    if (!nw_redis_is_up(ing->conn)) {
        reply_unavailable(ing, req, "storage unavailable: Redis is not reachable");
        goto done;
    }
    canon = nw_article_dump_canonical(a, &canon_len);
    for (size_t i = 0; i < topics->n; i++)
        csv_len += strlen(topics->v[i]) + 1;
    csv = malloc(csv_len + 1);
    p = calloc(1, sizeof(*p));
    if (canon == NULL || csv == NULL || p == NULL || (p->uri = strdup(a->uri)) == NULL) {
        nw_http_reply_error(req, 500, "out of memory", NULL);
        goto done;
    }
    csv[0] = '\0';
    for (size_t i = 0, o = 0; i < topics->n; i++)
        o += (size_t)sprintf(csv + o, "%s%s", i ? "," : "", topics->v[i]);
    {
        char wire_key[96], urgency[8], wire_max[16], topic_max[16], ts[24];
        const char *pubstatus = nw_pubstatus_name(a->pubstatus);
        const char *argv[] = {wire_key, ing->cfg->redis_prefix, a->uri, a->version, canon,
                              urgency, pubstatus, csv, wire_max, topic_max, ts};
        size_t lens[NW_ARRAY_LEN(argv)];

        snprintf(wire_key, sizeof(wire_key), "%swire", ing->cfg->redis_prefix);
        snprintf(urgency, sizeof(urgency), "%d", a->urgency);
        snprintf(wire_max, sizeof(wire_max), "%u", ing->cfg->wire_maxlen);
        snprintf(topic_max, sizeof(topic_max), "%u", ing->cfg->topic_maxlen);
        snprintf(ts, sizeof(ts), "%lld", (long long)now_ms());
        for (size_t i = 0; i < NW_ARRAY_LEN(argv); i++)
            lens[i] = i == 4 ? canon_len : strlen(argv[i]);
        p->ing = ing;
        p->req = req;
        snprintf(p->version, sizeof(p->version), "%s", a->version);
        rc = nw_redis_eval(ing->conn, ing->publish, publish_cb, p, 1, (int)NW_ARRAY_LEN(argv),
                           argv, lens);
        if (rc < 0) {
            free(p->uri);
            reply_unavailable(ing, req, "storage unavailable: Redis is not reachable");
            goto done;
        }
        ing->pending++;
        p = NULL; /* owned by the callback now */
    }
done:
    if (p != NULL)
        free(p);
    free(csv);
    free(canon);
    nw_topic_list_free(topics);
    nw_article_free(a);
}

/* One GET waiting for Redis. */
typedef struct get_ctx {
    nw_ingest_t *ing;
    nw_http_req_t *req;
} get_ctx_t;

static void get_cb(nw_redis_t *r, redisReply *reply, void *arg)
{
    get_ctx_t *g = arg;

    g->ing->pending--;
    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        nw_http_req_add_header(g->req, "Retry-After", "1");
        nw_http_reply_error(g->req, 503, "storage unavailable", NULL);
    } else if (reply->type != REDIS_REPLY_STRING) {
        nw_http_reply_error(g->req, 404, "no article with this uri", "uri");
    } else {
        nw_http_reply(g->req, 200, "application/json", reply->str, reply->len);
    }
    free(g);
}

void nw_ingest_get(nw_ingest_t *ing, nw_http_req_t *req, const char *encoded)
{
    char *uri = nw_http_pct_decode(encoded, strlen(encoded));
    char *key = NULL;
    get_ctx_t *g = NULL;
    int rc;

    if (uri == NULL || uri[0] == '\0' || strlen(uri) > 2048) {
        nw_http_reply_error(req, 400, "the article uri must be percent-encoded after /v1/articles/",
                            "uri");
        goto done;
    }
    if (!nw_redis_is_up(ing->conn)) {
        nw_http_req_add_header(req, "Retry-After", "1");
        nw_http_reply_error(req, 503, "storage unavailable: Redis is not reachable", NULL);
        goto done;
    }
    key = malloc(strlen(ing->cfg->redis_prefix) + strlen(uri) + 8);
    g = calloc(1, sizeof(*g));
    if (key == NULL || g == NULL) {
        nw_http_reply_error(req, 500, "out of memory", NULL);
        goto done;
    }
    sprintf(key, "%sitem:%s", ing->cfg->redis_prefix, uri);
    {
        const char *argv[] = {"HGET", key, "item"};
        size_t lens[] = {4, strlen(key), 4};
        g->ing = ing;
        g->req = req;
        rc = nw_redis_command(ing->conn, get_cb, g, 0, 3, argv, lens);
    }
    if (rc < 0) {
        nw_http_req_add_header(req, "Retry-After", "1");
        nw_http_reply_error(req, 503, "storage unavailable: Redis is not reachable", NULL);
        goto done;
    }
    ing->pending++;
    g = NULL;
done:
    free(g);
    free(key);
    free(uri);
}
