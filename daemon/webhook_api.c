/* Newswire — /v1/webhooks on the API listener: registrations, listing,
 * deletion, enabling, dead letters and their replay. Every request first
 * reads the registry from Redis, so that each instance answers with what
 * the others registered. */
#include "webhook_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "article.h"
#include "log.h"

#define WH_DEAD_LIMIT_MAX 1000
#define WH_REPLAY_MAX     1000

typedef enum route {
    R_LIST,
    R_REGISTER,
    R_ONE,
    R_DELETE,
    R_ENABLE,
    R_DEAD,
    R_REPLAY,
} route_t;

/* One request on its way through Redis. */
typedef struct api_ctx {
    nw_webhooks_t *wh;
    nw_http_req_t *req;
    route_t route;
    char name[65];
    nw_webhook_cfg_t spec; /* R_REGISTER */
    bool generated;        /* the secret was made here: shown once */
    char id[NW_WIRE_ID_MAX];
    unsigned limit;
} api_ctx_t;

static void unavailable(nw_http_req_t *req)
{
    nw_http_req_add_header(req, "Retry-After", "1");
    nw_http_reply_error(req, 503, "storage unavailable: Redis is not reachable", NULL);
}

static void done(api_ctx_t *c)
{
    free(c);
}

/* A partner as the API shows it (never its secret). */
static json_t *describe(const wh_partner_t *p)
{
    json_t *o = wh_spec_to_json(&p->spec, false);

    if (o == NULL)
        return NULL;
    json_object_set_new(o, "source", json_string(p->from_config ? "config" : "api"));
    json_object_set_new(o, "disabled", json_boolean(p->disabled));
    if (p->disabled) {
        char when[NW_RFC3339_MAX];
        nw_rfc3339_format(p->disabled_at, when);
        json_object_set_new(o, "disabled_at", json_string(when));
        json_object_set_new(o, "disabled_status", json_integer(p->disabled_status));
    }
    json_object_set_new(o, "pending", json_integer(p->held));
    json_object_set_new(o, "in_flight", json_integer(p->in_flight));
    json_object_set_new(o, "delivered", json_integer((json_int_t)NW_METRIC_GET(p->m.delivered)));
    json_object_set_new(o, "dead_lettered",
                        json_integer((json_int_t)NW_METRIC_GET(p->m.dead_lettered)));
    return o;
}

static int by_name(const void *a, const void *b)
{
    const wh_partner_t *pa = *(wh_partner_t *const *)a, *pb = *(wh_partner_t *const *)b;

    return strcmp(pa->spec.name, pb->spec.name);
}

static void serve_list(api_ctx_t *c)
{
    wh_partner_t *v[NW_MAX_WEBHOOKS * 4];
    size_t n = 0;
    json_t *arr = json_array();

    for (wh_partner_t *p = c->wh->partners; p != NULL && n < NW_ARRAY_LEN(v); p = p->next)
        v[n++] = p;
    qsort(v, n, sizeof(v[0]), by_name);
    for (size_t i = 0; i < n && arr != NULL; i++)
        json_array_append_new(arr, describe(v[i]));
    nw_http_reply_json(c->req, 200, arr ? json_pack("{s:o}", "webhooks", arr) : NULL);
}

/* The EVALSHA of the admin script for c (op: register, enable, delete). */
static int run_admin(api_ctx_t *c, const char *op, const char *json, nw_redis_reply_cb cb)
{
    nw_webhooks_t *wh = c->wh;
    char group[160], dead[192];
    const char *argv[] = {wh->wire_key, wh->hash_key, wh->disabled_key, dead, op, c->name,
                          group,        json};
    size_t lens[NW_ARRAY_LEN(argv)];

    snprintf(group, sizeof(group), "%swh:%s", wh->cfg->redis_prefix, c->name);
    snprintf(dead, sizeof(dead), "%s:dead", group);
    for (size_t i = 0; i < NW_ARRAY_LEN(argv); i++)
        lens[i] = strlen(argv[i]);
    return nw_redis_eval(wh->conn, wh->scripts.admin, cb, c, 4, (int)NW_ARRAY_LEN(argv), argv,
                         lens);
}

static bool admin_reply_ok(api_ctx_t *c, const redisReply *reply)
{
    if (reply == NULL) {
        unavailable(c->req);
        return false;
    }
    if (reply->type != REDIS_REPLY_INTEGER) {
        nw_log(NW_LOG_ERROR, "webhook", "registration script failed", "webhook=%s error=\"%s\"",
               c->name, reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
        nw_http_reply_error(c->req, 500, "storage error", NULL);
        return false;
    }
    return true;
}

static void registered_cb(nw_redis_t *r, redisReply *reply, void *arg)
{
    api_ctx_t *c = arg;
    wh_partner_t *p;
    json_t *o;

    if (admin_reply_ok(c, reply)) {
        if (wh_registry_upsert(c->wh, &c->spec) < 0 ||
            (p = wh_partner_find(c->wh, c->name)) == NULL || (o = describe(p)) == NULL) {
            nw_http_reply_error(c->req, 500, "out of memory", NULL);
        } else {
            if (c->generated)
                json_object_set_new(o, "secret", json_string(c->spec.secret));
            nw_log(NW_LOG_INFO, "webhook", "registered", "webhook=%s url=%s replaced=%lld", c->name,
                   c->spec.url, reply->integer);
            nw_http_reply_json(c->req, reply->integer ? 200 : 201, o);
        }
    }
    done(c);
}

static void serve_register(api_ctx_t *c)
{
    json_t *o = wh_spec_to_json(&c->spec, true);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

    json_decref(o);
    if (s == NULL) {
        nw_http_reply_error(c->req, 500, "out of memory", NULL);
        done(c);
        return;
    }
    if (run_admin(c, "register", s, registered_cb) < 0) {
        unavailable(c->req);
        done(c);
    }
    free(s);
}

static void deleted_cb(nw_redis_t *r, redisReply *reply, void *arg)
{
    api_ctx_t *c = arg;

    if (admin_reply_ok(c, reply)) {
        if (reply->integer == 0) {
            nw_http_reply_error(c->req, 404, "no such webhook", NULL);
        } else {
            wh_registry_forget(c->wh, c->name);
            nw_log(NW_LOG_INFO, "webhook", "deleted", "webhook=%s", c->name);
            nw_http_reply(c->req, 204, NULL, NULL, 0);
        }
    }
    done(c);
}

static void enabled_cb(nw_redis_t *r, redisReply *reply, void *arg)
{
    api_ctx_t *c = arg;
    wh_partner_t *p;

    if (admin_reply_ok(c, reply)) {
        p = wh_partner_find(c->wh, c->name);
        if (p == NULL) {
            nw_http_reply_error(c->req, 404, "no such webhook", NULL);
        } else {
            c->wh->local_seq = c->wh->load_seq;
            if (p->disabled)
                wh_partner_enable(p);
            nw_http_reply_json(c->req, 200, describe(p));
        }
    }
    done(c);
}

/* A dead letter as the API shows it. */
static json_t *dead_entry(const redisReply *e)
{
    json_t *o;
    const redisReply *f;

    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_ARRAY)
        return NULL;
    o = json_pack("{s:s}", "dead_id", e->element[0]->str);
    f = e->element[1];
    for (size_t i = 0; o != NULL && i + 1 < f->elements; i += 2) {
        const redisReply *k = f->element[i], *v = f->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        if (strcmp(k->str, "item") == 0) {
            json_t *item = json_loadb(v->str, v->len, 0, NULL);
            json_object_set_new(o, "item", item ? item : json_stringn(v->str, v->len));
        } else if (strcmp(k->str, "attempts") == 0 || strcmp(k->str, "last_status") == 0) {
            json_object_set_new(o, k->str, json_integer(strtoll(v->str, NULL, 10)));
        } else {
            json_object_set_new(o, k->str, json_stringn(v->str, v->len));
        }
    }
    return o;
}

static void dead_list_cb(nw_redis_t *r, redisReply *reply, void *arg)
{
    api_ctx_t *c = arg;
    json_t *arr;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        unavailable(c->req);
        done(c);
        return;
    }
    arr = json_array();
    for (size_t i = 0; arr != NULL && i < reply->elements; i++) {
        json_t *e = dead_entry(reply->element[i]);
        if (e != NULL)
            json_array_append_new(arr, e);
    }
    nw_http_reply_json(c->req, 200,
                       arr ? json_pack("{s:s, s:o}", "webhook", c->name, "dead", arr) : NULL);
    done(c);
}

static void replay_cb(nw_redis_t *r, redisReply *reply, void *arg)
{
    api_ctx_t *c = arg;
    wh_partner_t *p = wh_partner_find(c->wh, c->name);
    size_t n = 0;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        unavailable(c->req);
    } else if (p == NULL) {
        nw_http_reply_error(c->req, 404, "no such webhook", NULL);
    } else if (c->id[0] != '\0' && reply->elements == 0) {
        nw_http_reply_error(c->req, 404, "no such dead letter", "id");
    } else {
        for (size_t i = 0; i < reply->elements; i++)
            n += wh_partner_replay(p, reply->element[i]) == 1;
        nw_log(NW_LOG_INFO, "webhook", "replaying dead letters", "webhook=%s count=%zu", c->name,
               n);
        wh_partner_pump(p);
        nw_http_reply_json(c->req, 202,
                           json_pack("{s:s, s:i}", "webhook", c->name, "replaying", (int)n));
    }
    done(c);
}

/* XRANGE on p's dead letters: one id, or the first count. */
static int dead_range(api_ctx_t *c, const wh_partner_t *p, unsigned count, nw_redis_reply_cb cb)
{
    char n[16];
    const char *argv[] = {
        "XRANGE", p->dead_key, c->id[0] ? c->id : "-", c->id[0] ? c->id : "+", "COUNT", n};
    size_t lens[NW_ARRAY_LEN(argv)];

    snprintf(n, sizeof(n), "%u", count);
    for (size_t i = 0; i < NW_ARRAY_LEN(argv); i++)
        lens[i] = strlen(argv[i]);
    return nw_redis_command(c->wh->conn, cb, c, 0, (int)NW_ARRAY_LEN(argv), argv, lens);
}

/* The registry is fresh: answers, or goes on to Redis. */
static void loaded_cb(nw_webhooks_t *wh, bool ok, void *arg)
{
    api_ctx_t *c = arg;
    wh_partner_t *p = c->route == R_LIST ? NULL : wh_partner_find(wh, c->name);
    int rc = 0;

    if (!ok) {
        unavailable(c->req);
        done(c);
        return;
    }
    if (c->route != R_LIST && c->route != R_REGISTER && p == NULL) {
        nw_http_reply_error(c->req, 404, "no such webhook", NULL);
        done(c);
        return;
    }
    if ((c->route == R_REGISTER || c->route == R_DELETE) && p != NULL && p->from_config) {
        nw_http_reply_error(c->req, 409, "this webhook is defined in the configuration", "name");
        done(c);
        return;
    }
    switch (c->route) {
    case R_LIST:
        serve_list(c);
        done(c);
        return;
    case R_ONE:
        nw_http_reply_json(c->req, 200, describe(p));
        done(c);
        return;
    case R_REGISTER:
        serve_register(c);
        return;
    case R_DELETE:
        rc = run_admin(c, "delete", "", deleted_cb);
        break;
    case R_ENABLE:
        rc = run_admin(c, "enable", "", enabled_cb);
        break;
    case R_DEAD:
        rc = dead_range(c, p, c->limit, dead_list_cb);
        break;
    case R_REPLAY:
        if (p->disabled) {
            nw_http_reply_error(c->req, 409, "this webhook is disabled: enable it first", NULL);
            done(c);
            return;
        }
        rc = dead_range(c, p, WH_REPLAY_MAX, replay_cb);
        break;
    }
    if (rc < 0) {
        unavailable(c->req);
        done(c);
    }
}

static bool method_is(const nw_http_req_t *req, const char *m)
{
    return strcmp(nw_http_req_method(req), m) == 0;
}

static void method_not_allowed(nw_http_req_t *req, const char *allow)
{
    nw_http_req_add_header(req, "Allow", allow);
    nw_http_reply_error(req, 405, "method not allowed", NULL);
}

/* Reads the route from rest; answers 404/405 itself (returns false). */
static bool parse_route(api_ctx_t *c, const char *rest)
{
    nw_http_req_t *req = c->req;
    bool get = method_is(req, "GET") || method_is(req, "HEAD");
    bool post = method_is(req, "POST");
    const char *slash;
    size_t n;

    if (rest[0] == '\0') {
        if (get || post) {
            c->route = get ? R_LIST : R_REGISTER;
            return true;
        }
        method_not_allowed(req, "GET, HEAD, POST");
        return false;
    }
    slash = strchr(rest + 1, '/');
    n = slash ? (size_t)(slash - rest - 1) : strlen(rest + 1);
    if (rest[0] != '/' || n == 0 || n >= sizeof(c->name)) {
        nw_http_reply_error(req, 404, "not found", NULL);
        return false;
    }
    memcpy(c->name, rest + 1, n);
    c->name[n] = '\0';
    rest = slash ? slash : "";
    if (rest[0] == '\0') {
        if (get || method_is(req, "DELETE")) {
            c->route = get ? R_ONE : R_DELETE;
            return true;
        }
        method_not_allowed(req, "GET, HEAD, DELETE");
    } else if (strcmp(rest, "/dead") == 0) {
        if (get) {
            c->route = R_DEAD;
            return true;
        }
        method_not_allowed(req, "GET, HEAD");
    } else if (strcmp(rest, "/dead/replay") == 0 || strcmp(rest, "/enable") == 0) {
        if (post) {
            c->route = rest[1] == 'd' ? R_REPLAY : R_ENABLE;
            return true;
        }
        method_not_allowed(req, "POST");
    } else {
        nw_http_reply_error(req, 404, "not found", NULL);
    }
    return false;
}

/* Checks what the request carries before Redis is asked anything. */
static bool parse_input(api_ctx_t *c)
{
    nw_http_req_t *req = c->req;

    if (c->route == R_REGISTER) {
        size_t len;
        const char *body = nw_http_req_body(req, &len);
        json_error_t jerr;
        json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
        nw_err_t err;

        if (o == NULL) {
            nw_http_reply_error(req, 400, "the body must be a JSON object", "");
            return false;
        }
        c->generated = json_object_get(o, "secret") == NULL;
        if (wh_spec_from_json(o, &c->spec, true, &err) < 0) {
            json_decref(o);
            nw_http_reply_error(req, 400, err.message, err.field);
            return false;
        }
        json_decref(o);
        memcpy(c->name, c->spec.name, sizeof(c->name));
    } else if (c->route == R_DEAD) {
        const char *lim = nw_http_req_query_param(req, "limit");
        char *end;
        long v = lim ? strtol(lim, &end, 10) : 100;
        if (lim != NULL && (*lim == '\0' || *end != '\0' || v < 1 || v > WH_DEAD_LIMIT_MAX)) {
            nw_http_reply_error(req, 400, "limit must be an integer 1..1000", "limit");
            return false;
        }
        c->limit = (unsigned)v;
    } else if (c->route == R_REPLAY) {
        const char *id = nw_http_req_query_param(req, "id");
        uint64_t ms, seq;
        if (id != NULL && (strlen(id) >= sizeof(c->id) || nw_stream_id_parse(id, &ms, &seq) < 0)) {
            nw_http_reply_error(req, 400, "id must be a dead letter id (ms-seq)", "id");
            return false;
        }
        if (id != NULL)
            memcpy(c->id, id, strlen(id) + 1);
    }
    return true;
}

void nw_webhooks_serve(nw_webhooks_t *wh, nw_http_req_t *req, const char *rest)
{
    api_ctx_t *c = calloc(1, sizeof(*c));

    if (c == NULL) {
        nw_http_reply_error(req, 500, "out of memory", NULL);
        return;
    }
    c->wh = wh;
    c->req = req;
    if (!parse_route(c, rest) || !parse_input(c)) {
        done(c);
        return;
    }
    if (wh_registry_load(wh, loaded_cb, c) < 0) {
        unavailable(req);
        done(c);
    }
}
