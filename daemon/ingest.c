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
#include "embargo.h"
#include "log.h"
#include "publishers.h"
#include "topic.h"

struct nw_ingest {
    const nw_config_t *cfg;
    nw_metrics_t *metrics;
    nw_redis_t *conn;
    nw_redis_script_t *publish;
    size_t pending;
    nw_ingest_hold_cb on_hold;
    void *on_hold_arg;
    nw_publishers_t *pubs; /* borrowed; replaced on reload */
};

/* One publish waiting for Redis. */
typedef struct pending {
    nw_ingest_t *ing;
    nw_http_req_t *req;
    char *uri;
    char version[16];
    char *embargoed; /* the item's embargoed date-time, or NULL */
    int64_t embargo_ms;
    /* the receipt held back while WAIT runs (ack_replicas > 0) */
    int ack_status;
    char ack_result[16], ack_kind[16];
    char *ack_id;
} pending_t;

static void pending_free(pending_t *p)
{
    free(p->uri);
    free(p->embargoed);
    free(p->ack_id);
    free(p);
}

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

void nw_ingest_set_publishers(nw_ingest_t *ing, nw_publishers_t *pubs)
{
    ing->pubs = pubs;
}

/* Applies the publisher's grant and rate to topics. Returns true, or false
 * after answering 403 or 429. */
static bool admit(nw_ingest_t *ing, nw_http_req_t *req, const char *who,
                  const nw_topic_list_t *topics)
{
    const char *topic = NULL;
    unsigned retry = 1;
    char msg[NW_TOPIC_MAX_LEN + 96], ra[16];

    switch (nw_publishers_admit(ing->pubs, who, topics, &topic, &retry)) {
    case NW_PUB_OK:
        return true;
    case NW_PUB_FORBIDDEN:
        NW_METRIC_INC(ing->metrics->api_auth[NW_PUB_FORBIDDEN]);
        snprintf(msg, sizeof(msg), "publisher %s may not publish to \"%s\"", who, topic);
        nw_http_reply_error(req, 403, msg, "topics");
        return false;
    case NW_PUB_RATE:
        NW_METRIC_INC(ing->metrics->api_auth[NW_PUB_RATE]);
        snprintf(ra, sizeof(ra), "%u", retry);
        nw_http_req_add_header(req, "Retry-After", ra);
        snprintf(msg, sizeof(msg), "publisher %s is over its rate", who);
        nw_http_reply_error(req, 429, msg, NULL);
        return false;
    default:
        NW_METRIC_INC(ing->metrics->api_auth[NW_PUB_UNKNOWN]);
        nw_http_req_add_header(req, "WWW-Authenticate", "Bearer");
        nw_http_reply_error(req, 401, "unknown API key", "Authorization");
        return false;
    }
}

void nw_ingest_set_hold_cb(nw_ingest_t *ing, nw_ingest_hold_cb cb, void *arg)
{
    ing->on_hold = cb;
    ing->on_hold_arg = arg;
}

/* Sends a receipt: {"status", "id" (when on the wire), "uri", "version",
 * "kind", "release" (when held)} with the HTTP status. */
static void reply_receipt(nw_http_req_t *req, int http_status, const char *status, const char *id,
                          const pending_t *p, const char *kind)
{
    json_t *o =
        json_pack("{s:s, s:s, s:s}", "status", status, "uri", p->uri, "version", p->version);

    if (o != NULL && id != NULL && id[0] != '\0')
        json_object_set_new(o, "id", json_string(id));
    if (o != NULL && kind != NULL && kind[0] != '\0' && strcmp(kind, "held") != 0)
        json_object_set_new(o, "kind", json_string(kind));
    if (o != NULL && strcmp(status, "embargoed") == 0 && p->embargoed != NULL)
        json_object_set_new(o, "release", json_string(p->embargoed));
    nw_http_reply_json(req, http_status, o);
}

static const char *elem_str(const redisReply *r, size_t i)
{
    if (r->type != REDIS_REPLY_ARRAY || i >= r->elements ||
        r->element[i]->type != REDIS_REPLY_STRING)
        return NULL;
    return r->element[i]->str;
}

/* WAIT answered: the held receipt goes out if ack_replicas replicas have
 * the write, else 503 (the item may be stored; the retry is idempotent and
 * waits again). The script's outcome was counted already; the wait's is
 * counted in ack_waits. */
static void ack_cb(nw_redis_t *r, redisReply *reply, void *arg)
{
    pending_t *p = arg;
    nw_ingest_t *ing = p->ing;
    unsigned want = ing->cfg->ack_replicas;
    char qbuf[600], msg[200];

    ing->pending--;
    if (reply != NULL && reply->type == REDIS_REPLY_INTEGER && reply->integer >= (long long)want) {
        NW_METRIC_INC(ing->metrics->ack_waits[0]);
        reply_receipt(p->req, p->ack_status, p->ack_result, p->ack_id, p, p->ack_kind);
    } else {
        long long got = reply != NULL && reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1;
        NW_METRIC_INC(ing->metrics->ack_waits[got < 0 ? 2 : 1]);
        nw_log(NW_LOG_WARN, "ingest", "publish not acknowledged by enough replicas",
               "uri=%s version=%s want=%u got=%lld timeout_ms=%u",
               nw_log_quote(p->uri, qbuf, sizeof(qbuf)), p->version, want, got,
               ing->cfg->ack_timeout_ms);
        snprintf(msg, sizeof(msg),
                 "not acknowledged by %u replica(s) in time; the item may be stored: retry with "
                 "the same uri and version",
                 want);
        nw_http_req_add_header(p->req, "Retry-After", "1");
        nw_http_reply_error(p->req, 503, msg, NULL);
    }
    pending_free(p);
}

/* Answers a successful publish with a receipt, at once, or with
 * ack_replicas > 0 after WAIT ack_replicas ack_timeout. Returns true when
 * the receipt is held: p then belongs to ack_cb. */
static bool receipt(pending_t *p, int http_status, const char *status, const char *id,
                    const char *kind)
{
    nw_ingest_t *ing = p->ing;
    char n[16], ms[16];
    const char *argv[] = {"WAIT", n, ms};
    size_t lens[3];

    if (ing->cfg->ack_replicas == 0) {
        reply_receipt(p->req, http_status, status, id, p, kind);
        return false;
    }
    snprintf(n, sizeof(n), "%u", ing->cfg->ack_replicas);
    snprintf(ms, sizeof(ms), "%u", ing->cfg->ack_timeout_ms);
    for (size_t i = 0; i < 3; i++)
        lens[i] = strlen(argv[i]);
    p->ack_status = http_status;
    snprintf(p->ack_result, sizeof(p->ack_result), "%s", status);
    snprintf(p->ack_kind, sizeof(p->ack_kind), "%s", kind ? kind : "");
    p->ack_id = id ? strdup(id) : NULL;
    if ((id != NULL && p->ack_id == NULL) ||
        nw_redis_command(ing->conn, ack_cb, p,
                         ing->cfg->ack_timeout_ms + ing->cfg->redis_command_timeout_ms, 3, argv,
                         lens) < 0) {
        NW_METRIC_INC(ing->metrics->ack_waits[2]);
        nw_http_req_add_header(p->req, "Retry-After", "1");
        nw_http_reply_error(p->req, 503,
                            "storage unavailable before the replicas acknowledged; the item may "
                            "be stored: retry with the same uri and version",
                            NULL);
        return false;
    }
    ing->pending++;
    return true;
}

/* The publish script answered (or not): map its answer to the HTTP reply
 * (see proto/publish.lua for the answers). */
static void publish_cb(nw_redis_t *r, redisReply *reply, void *arg)
{
    pending_t *p = arg;
    nw_ingest_t *ing = p->ing;
    const char *result = reply ? elem_str(reply, 0) : NULL;
    const char *id = reply ? elem_str(reply, 1) : NULL;
    const char *kind = reply ? elem_str(reply, 2) : NULL;
    const char *ver = reply ? elem_str(reply, 3) : NULL;
    bool replay = reply != NULL && elem_str(reply, 4) != NULL;
    bool held = false; /* the receipt waits for the replicas */
    char qbuf[600];
    char msg[160];

    ing->pending--;
    if (replay)
        nw_http_req_add_header(p->req, "Idempotent-Replayed", "true");
    if (reply == NULL) {
        reply_unavailable(ing, p->req, "storage unavailable: no answer from Redis");
    } else if (reply->type == REDIS_REPLY_ERROR || result == NULL || id == NULL || kind == NULL ||
               ver == NULL) {
        nw_log(NW_LOG_ERROR, "ingest", "publish script failed", "uri=%s error=\"%s\"",
               nw_log_quote(p->uri, qbuf, sizeof(qbuf)),
               reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
        reply_unavailable(ing, p->req, "storage unavailable: the publish script failed");
    } else if (strcmp(result, "ok") == 0) {
        count(ing, replay ? NW_INGEST_DUPLICATE : NW_INGEST_ACCEPTED);
        if (!replay)
            nw_log(NW_LOG_INFO, "ingest", "item published", "uri=%s version=%s id=%s kind=%s",
                   nw_log_quote(p->uri, qbuf, sizeof(qbuf)), p->version, id, kind);
        held = receipt(p, 202, "published", id, kind);
    } else if (strcmp(result, "dup") == 0) {
        count(ing, NW_INGEST_DUPLICATE);
        held = receipt(p, 200, "duplicate", id, kind);
    } else if (strcmp(result, "embargoed") == 0) {
        count(ing, replay ? NW_INGEST_DUPLICATE : NW_INGEST_EMBARGOED);
        if (!replay && ing->on_hold != NULL)
            ing->on_hold(p->embargo_ms, ing->on_hold_arg);
        nw_log(NW_LOG_INFO, "ingest", "item held until its embargo", "uri=%s version=%s",
               nw_log_quote(p->uri, qbuf, sizeof(qbuf)), p->version);
        held = receipt(p, 202, "embargoed", NULL, kind);
    } else if (strcmp(result, "canceled") == 0) {
        count(ing, replay ? NW_INGEST_DUPLICATE : NW_INGEST_ACCEPTED);
        held = receipt(p, 202, "canceled", NULL, kind);
    } else if (strcmp(result, "conflict") == 0) {
        count(ing, NW_INGEST_CONFLICT);
        snprintf(msg, sizeof(msg),
                 "version %s of this uri was already published with different content", p->version);
        nw_http_reply_error(p->req, 409, msg, "version");
    } else if (strcmp(result, "stale") == 0) {
        count(ing, NW_INGEST_CONFLICT);
        snprintf(msg, sizeof(msg), "version %s is lower than the stored version %s", p->version,
                 ver);
        nw_http_reply_error(p->req, 409, msg, "version");
    } else if (strcmp(result, "too_many_topics") == 0) {
        count(ing, NW_INGEST_CONFLICT);
        nw_http_reply_error(p->req, 409,
                            "a story may be published on at most 32 topics over all its versions",
                            "topics");
    } else if (strcmp(result, "idem_conflict") == 0) {
        count(ing, NW_INGEST_CONFLICT);
        nw_http_reply_error(p->req, 422,
                            "this Idempotency-Key was already used for a different request",
                            "Idempotency-Key");
    } else {
        reply_unavailable(ing, p->req, "storage unavailable: unexpected script answer");
    }
    if (!held)
        pending_free(p);
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
        nw_http_reply_error(req, 400, "give the topics in ?topics= or in Newswire-Topics, not both",
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

/* Checks the Idempotency-Key header: 1..255 visible ASCII characters.
 * Returns the key ("" when absent), or NULL after replying 400. */
static const char *read_idempotency_key(nw_ingest_t *ing, nw_http_req_t *req)
{
    const char *k = nw_http_req_header(req, "Idempotency-Key");
    size_t n;

    if (k == NULL)
        return "";
    n = strlen(k);
    for (size_t i = 0; i < n; i++) {
        if (k[i] <= 0x20 || k[i] >= 0x7f)
            n = 0;
    }
    if (n == 0 || n > 255) {
        count(ing, NW_INGEST_INVALID);
        nw_http_reply_error(req, 400, "Idempotency-Key must be 1..255 visible ASCII characters",
                            "Idempotency-Key");
        return NULL;
    }
    return k;
}

/* Joins a topic list with commas into a malloc'd string. */
static char *topics_csv(const nw_topic_list_t *topics)
{
    size_t len = 1;
    char *csv;

    for (size_t i = 0; i < topics->n; i++)
        len += strlen(topics->v[i]) + 1;
    csv = malloc(len);
    if (csv == NULL)
        return NULL;
    csv[0] = '\0';
    for (size_t i = 0, o = 0; i < topics->n; i++)
        o += (size_t)sprintf(csv + o, "%s%s", i ? "," : "", topics->v[i]);
    return csv;
}

/* Runs the publish script for a validated article a (borrowed) routed to
 * csv, and answers req when Redis does. Answers 503 at once when Redis is
 * not reachable. */
static void publish(nw_ingest_t *ing, nw_http_req_t *req, const nw_article_t *a, const char *csv,
                    const char *idem_key)
{
    char wire_key[96], urgency[8], wire_max[16], topic_max[16], now[24], embargo[24];
    char ttl[16], max_age[24], item_ttl[16];
    const char *argv[] = {wire_key,
                          ing->cfg->redis_prefix,
                          a->uri,
                          a->version,
                          NULL,
                          urgency,
                          nw_pubstatus_name(a->pubstatus),
                          csv,
                          wire_max,
                          topic_max,
                          now,
                          embargo,
                          idem_key,
                          item_ttl,
                          ttl,
                          max_age};
    size_t lens[NW_ARRAY_LEN(argv)];
    size_t canon_len;
    char *canon;
    pending_t *p;
    int64_t now_ms = nw_now_ms();
    int rc;

    if (ing->pending >= ing->cfg->ingest_max_pending) {
        reply_unavailable(ing, req, "too many publishes in progress");
        return;
    }
    if (!nw_redis_is_up(ing->conn)) {
        reply_unavailable(ing, req, "storage unavailable: Redis is not reachable");
        return;
    }
    canon = nw_article_dump_canonical(a, &canon_len);
    p = calloc(1, sizeof(*p));
    if (canon == NULL || p == NULL || (p->uri = strdup(a->uri)) == NULL) {
        free(canon);
        free(p);
        nw_http_reply_error(req, 500, "out of memory", NULL);
        return;
    }
    if (a->embargoed_ms > now_ms) {
        const char *e = json_string_value(json_object_get(a->item, "embargoed"));
        p->embargoed = e ? strdup(e) : NULL;
        p->embargo_ms = a->embargoed_ms;
    }
    argv[4] = canon;
    snprintf(wire_key, sizeof(wire_key), "%swire", ing->cfg->redis_prefix);
    snprintf(urgency, sizeof(urgency), "%d", a->urgency);
    snprintf(wire_max, sizeof(wire_max), "%u", ing->cfg->wire_maxlen);
    snprintf(topic_max, sizeof(topic_max), "%u", ing->cfg->topic_maxlen);
    snprintf(now, sizeof(now), "%lld", (long long)now_ms);
    snprintf(embargo, sizeof(embargo), "%lld", (long long)p->embargo_ms);
    snprintf(ttl, sizeof(ttl), "%u", ing->cfg->idempotency_ttl_s);
    snprintf(item_ttl, sizeof(item_ttl), "%u", ing->cfg->item_ttl_s);
    snprintf(max_age, sizeof(max_age), "%llu", (unsigned long long)ing->cfg->wire_max_age_s * 1000);
    for (size_t i = 0; i < NW_ARRAY_LEN(argv); i++)
        lens[i] = i == 4 ? canon_len : strlen(argv[i]);
    p->ing = ing;
    p->req = req;
    snprintf(p->version, sizeof(p->version), "%s", a->version);
    rc = nw_redis_eval(ing->conn, ing->publish, publish_cb, p, 1, (int)NW_ARRAY_LEN(argv), argv,
                       lens);
    free(canon);
    if (rc < 0) {
        pending_free(p);
        reply_unavailable(ing, req, "storage unavailable: Redis is not reachable");
        return;
    }
    ing->pending++;
}

void nw_ingest_post(nw_ingest_t *ing, nw_http_req_t *req, const char *who)
{
    body_format_t fmt = body_format(nw_http_req_header(req, "Content-Type"));
    nw_article_t *a = NULL;
    nw_topic_list_t *topics = NULL;
    const char *idem_key;
    char *csv = NULL;
    size_t body_len;
    const char *body;
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
    idem_key = topics ? read_idempotency_key(ing, req) : NULL;
    if (idem_key != NULL && !admit(ing, req, who, topics))
        idem_key = NULL;
    if (idem_key != NULL) {
        csv = topics_csv(topics);
        if (csv == NULL)
            nw_http_reply_error(req, 500, "out of memory", NULL);
        else
            publish(ing, req, a, csv, idem_key);
    }
    free(csv);
    nw_topic_list_free(topics);
    nw_article_free(a);
}

/* One DELETE waiting for the stored versions. */
typedef struct kill_ctx {
    nw_ingest_t *ing;
    nw_http_req_t *req;
    char *uri;
    char who[65];
} kill_ctx_t;

/* The stored ([version, item, topics] of the public version) and held
 * versions are in: build the kill — the newest version with pubstatus
 * canceled, the next version number and versioncreated now — and publish
 * it on every topic the story was published on. */
static void kill_lookup_cb(nw_redis_t *r, redisReply *reply, void *arg)
{
    kill_ctx_t *k = arg;
    nw_ingest_t *ing = k->ing;
    const redisReply *pub, *held, *src = NULL;
    nw_article_t *a = NULL;
    json_t *item = NULL;
    char version[16], created[NW_RFC3339_MAX];
    unsigned long v = 0;
    nw_err_t err;

    ing->pending--;
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_ARRAY ||
        reply->element[1]->type != REDIS_REPLY_ARRAY || reply->element[0]->elements != 3 ||
        reply->element[1]->elements != 3) {
        reply_unavailable(ing, k->req, "storage unavailable");
        goto done;
    }
    pub = reply->element[0];
    held = reply->element[1];
    for (int i = 0; i < 2; i++) {
        const redisReply *c = i ? held : pub;
        if (c->element[0]->type == REDIS_REPLY_STRING &&
            strtoul(c->element[0]->str, NULL, 10) >= v) {
            v = strtoul(c->element[0]->str, NULL, 10);
            src = c;
        }
    }
    if (src == NULL || pub->element[2]->type != REDIS_REPLY_STRING) {
        if (src == NULL || held->element[2]->type != REDIS_REPLY_STRING) {
            nw_http_reply_error(k->req, 404, "no article with this uri", "uri");
            goto done;
        }
    }
    if (v >= 999999999UL) {
        nw_http_reply_error(k->req, 409, "the story is at the highest version", "version");
        goto done;
    }
    item = json_loadb(src->element[1]->str, src->element[1]->len, 0, NULL);
    if (item == NULL || !json_is_object(item)) {
        reply_unavailable(ing, k->req, "the stored item cannot be read");
        goto done;
    }
    snprintf(version, sizeof(version), "%lu", v + 1);
    nw_rfc3339_format(nw_now_ms(), created);
    json_object_set_new(item, "version", json_string(version));
    json_object_set_new(item, "versioncreated", json_string(created));
    json_object_set_new(item, "pubstatus", json_string("canceled"));
    json_object_del(item, "embargoed");
    if (nw_article_from_json(item, &a, &err) < 0) {
        nw_http_reply_error(k->req, 500, "the kill could not be built from the stored item",
                            err.field);
        goto done;
    }
    {
        const char *csv = pub->element[2]->type == REDIS_REPLY_STRING ? pub->element[2]->str
                                                                      : held->element[2]->str;
        nw_topic_list_t *topics = NULL;
        /* the publisher must be granted every topic the kill goes to */
        if (nw_topic_list_parse(csv, strlen(csv), 4096, false, "topics", &topics, NULL) < 0) {
            reply_unavailable(ing, k->req, "the stored topics cannot be read");
        } else if (admit(ing, k->req, k->who, topics)) {
            publish(ing, k->req, a, csv, "");
        }
        nw_topic_list_free(topics);
    }
done:
    nw_article_free(a);
    json_decref(item);
    free(k->uri);
    free(k);
}

void nw_ingest_delete(nw_ingest_t *ing, nw_http_req_t *req, const char *encoded, const char *who)
{
    char *uri = nw_http_pct_decode(encoded, strlen(encoded));
    kill_ctx_t *k = NULL;
    char *ikey = NULL, *hkey = NULL;
    int rc;

    if (uri == NULL || uri[0] == '\0' || strlen(uri) > 2048) {
        nw_http_reply_error(req, 400, "the article uri must be percent-encoded after /v1/articles/",
                            "uri");
        goto done;
    }
    if (!nw_redis_is_up(ing->conn)) {
        reply_unavailable(ing, req, "storage unavailable: Redis is not reachable");
        goto done;
    }
    k = calloc(1, sizeof(*k));
    ikey = malloc(strlen(ing->cfg->redis_prefix) + strlen(uri) + 8);
    hkey = malloc(strlen(ing->cfg->redis_prefix) + strlen(uri) + 8);
    if (k == NULL || ikey == NULL || hkey == NULL) {
        nw_http_reply_error(req, 500, "out of memory", NULL);
        goto done;
    }
    sprintf(ikey, "%sitem:%s", ing->cfg->redis_prefix, uri);
    sprintf(hkey, "%sheld:%s", ing->cfg->redis_prefix, uri);
    k->ing = ing;
    k->req = req;
    k->uri = uri;
    snprintf(k->who, sizeof(k->who), "%s", who);
    uri = NULL;
    {
        /* One round trip for both versions: a tiny read-only script. */
        static const char lookup[] =
            "return {redis.call('HMGET', KEYS[1], 'version', 'item', 'topics'),"
            " redis.call('HMGET', KEYS[2], 'version', 'item', 'topics')}";
        const char *argv[] = {"EVAL", lookup, "2", ikey, hkey};
        size_t lens[] = {4, sizeof(lookup) - 1, 1, strlen(ikey), strlen(hkey)};
        rc = nw_redis_command(ing->conn, kill_lookup_cb, k, 0, 5, argv, lens);
    }
    if (rc < 0) {
        reply_unavailable(ing, req, "storage unavailable: Redis is not reachable");
        goto done;
    }
    ing->pending++;
    k = NULL;
done:
    if (k != NULL)
        free(k->uri);
    free(k);
    free(ikey);
    free(hkey);
    free(uri);
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
