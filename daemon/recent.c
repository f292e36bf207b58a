/* Newswire — recent items over plain HTTP on the public listener. */
#include "recent.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <libwebsockets.h>

#include "log.h"
#include "op.h"
#include "topic.h"

/* Prepares a JSON response; the body is copied. */
static int prepare(nw_session_t *s, int status, const char *body, size_t len)
{
    free(s->http_body);
    s->http_body = malloc(len + 1);
    if (s->http_body == NULL)
        return -1;
    memcpy(s->http_body, body, len);
    s->http_len = len;
    s->http_status = status;
    lws_callback_on_writable(s->wsi);
    return 0;
}

static int prepare_error(nw_session_t *s, int status, const char *message)
{
    json_t *o = json_pack("{s:s}", "error", message);
    char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    int rc = body ? prepare(s, status, body, strlen(body)) : -1;

    json_decref(o);
    free(body);
    return rc;
}

/* Registers the HTTP request in the session map so the answer finds it. */
static int track(nw_session_env_t *env, nw_session_t *s)
{
    char sid[24];

    s->id = ++env->next_id;
    snprintf(sid, sizeof(sid), "%llu", (unsigned long long)s->id);
    return nw_strmap_put(env->by_id, sid, strlen(sid), s);
}

/* Browser origin and token checks. Returns 0 to go on, 1 when an error is
 * prepared, -1 to close. Remembers the origin to allow in the answer. */
static int authorize(nw_session_env_t *env, nw_session_t *s, struct lws *wsi, const char *topic)
{
    char origin[512], buf[NW_OP_TOKEN_MAX + 16];
    const char *token, *why = NULL;
    nw_grant_t g;
    bool allowed;

    if (lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) > 0) {
        if (lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) < 0 ||
            !nw_auth_origin_allowed(env->auth, origin))
            return prepare_error(s, HTTP_STATUS_FORBIDDEN, "origin not allowed") < 0 ? -1 : 1;
        s->http_origin = strdup(nw_auth_any_origin(env->auth) ? "*" : origin);
    }
    token = lws_get_urlarg_by_name(wsi, "token=", buf, sizeof(buf));
    if (token == NULL && lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_HTTP_AUTHORIZATION) > 7 &&
        strncasecmp(buf, "Bearer ", 7) == 0)
        token = buf + 7;
    memset(&g, 0, sizeof(g));
    if (token != NULL && token[0] != '\0' &&
        nw_auth_verify(env->auth, token, nw_now_ms(), &g, &why) < 0)
        return prepare_error(s, HTTP_STATUS_UNAUTHORIZED, why) < 0 ? -1 : 1;
    allowed = nw_auth_pattern_allowed(env->auth, token ? &g : NULL, topic);
    nw_grant_clear(&g);
    if (!allowed)
        return prepare_error(s, HTTP_STATUS_FORBIDDEN,
                             "not allowed: the topic is not public and no token grants it") < 0
                   ? -1
                   : 1;
    return 0;
}

int nw_recent_http_start(nw_session_env_t *env, nw_session_t *s, struct lws *wsi, const char *path)
{
    static const char prefix[] = "/v1/topics/", suffix[] = "/recent";
    size_t plen = strlen(path), tlen;
    char topic[NW_TOPIC_MAX_LEN + 1], buf[64];
    const char *limit_s;
    long limit = env->cfg->recent_count ? (long)env->cfg->recent_count : 10;
    nw_hist_req_t *req;
    nw_err_t err;

    if (plen <= sizeof(prefix) - 1 + sizeof(suffix) - 1 ||
        strncmp(path, prefix, sizeof(prefix) - 1) != 0 ||
        strcmp(path + plen - (sizeof(suffix) - 1), suffix) != 0)
        return 1;
    s->wsi = wsi;
    s->http = true;
    tlen = plen - (sizeof(prefix) - 1) - (sizeof(suffix) - 1);
    if (tlen > NW_TOPIC_MAX_LEN) {
        return prepare_error(s, HTTP_STATUS_BAD_REQUEST, "topic too long");
    }
    memcpy(topic, path + sizeof(prefix) - 1, tlen);
    topic[tlen] = '\0';
    if (nw_topic_pattern_check(topic, tlen, "topic", &err) < 0)
        return prepare_error(s, HTTP_STATUS_BAD_REQUEST, err.message);
    if (env->auth != NULL) {
        int rc = authorize(env, s, wsi, topic);
        if (rc != 0)
            return rc < 0 ? -1 : 0;
    }
    limit_s = lws_get_urlarg_by_name(wsi, "limit=", buf, sizeof(buf));
    if (limit_s != NULL) {
        char *end;
        limit = strtol(limit_s, &end, 10);
        if (*limit_s == '\0' || *end != '\0' || limit < 1 || limit > NW_RECENT_MAX_LIMIT)
            return prepare_error(s, HTTP_STATUS_BAD_REQUEST, "limit must be an integer 1..100");
    }
    if (env->history == NULL || env->shutting_down)
        return prepare_error(s, HTTP_STATUS_SERVICE_UNAVAILABLE, "not ready");
    req = nw_hist_req_new();
    if (req == NULL || track(env, s) < 0) {
        nw_hist_req_free(req);
        return -1;
    }
    {
        const char *one[] = {topic};
        if (nw_topic_list_from_array(one, 1, 1, true, "topic", &req->patterns, NULL) < 0) {
            nw_hist_req_free(req);
            return -1;
        }
    }
    req->kind = NW_HIST_RECENT;
    req->owner = s->id;
    req->done = env->hist_done;
    req->done_arg = env->hist_done_arg;
    snprintf(req->upto, sizeof(req->upto), "+");
    req->per_topic = (unsigned)limit;
    if (nw_history_submit(env->history, req) < 0) {
        nw_hist_req_free(req);
        return prepare_error(s, HTTP_STATUS_SERVICE_UNAVAILABLE, "busy: retry");
    }
    s->http_waiting = true;
    /* the answer comes from Redis: give up if it takes too long */
    lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, 15);
    return 0;
}

void nw_recent_http_done(nw_session_env_t *env, nw_session_t *s, nw_hist_req_t *req)
{
    json_t *items = json_array();
    json_t *o;
    char *body;
    int rc = -1;

    s->http_waiting = false;
    if (req->status != 0 || items == NULL) {
        json_decref(items);
        nw_hist_req_free(req);
        prepare_error(s, HTTP_STATUS_SERVICE_UNAVAILABLE, "storage unavailable: retry");
        return;
    }
    /* newest first */
    for (size_t i = req->nevents; i-- > 0;) {
        const nw_event_t *ev = req->events[i];
        uint32_t all = ev->ntopics >= 32 ? UINT32_MAX : (1u << ev->ntopics) - 1;
        nw_frame_t *f = nw_frame_item(ev, NW_FORMAT_JSON, all);
        json_t *m = f ? json_loadb((const char *)f->payload, f->len, 0, NULL) : NULL;
        nw_frame_unref(f);
        if (m != NULL)
            json_array_append_new(items, m);
    }
    o = json_pack("{s:s, s:o}", "topic", req->patterns->v[0], "items", items);
    body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (body != NULL)
        rc = prepare(s, HTTP_STATUS_OK, body, strlen(body));
    if (rc < 0)
        prepare_error(s, HTTP_STATUS_INTERNAL_SERVER_ERROR, "out of memory");
    json_decref(o);
    free(body);
    nw_hist_req_free(req);
}

int nw_recent_http_writeable(nw_session_t *s)
{
    unsigned char hdr[LWS_PRE + 512];
    unsigned char *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof(hdr) - 1;
    unsigned char *body;

    if (s->http_body == NULL)
        return 0;
    if (lws_add_http_common_headers(s->wsi, (unsigned)s->http_status, "application/json",
                                    (lws_filepos_t)s->http_len, &p, end) ||
        lws_add_http_header_by_name(s->wsi, (const unsigned char *)"cache-control:",
                                    (const unsigned char *)"no-cache", 8, &p, end) ||
        lws_add_http_header_by_name(s->wsi, (const unsigned char *)"x-content-type-options:",
                                    (const unsigned char *)"nosniff", 7, &p, end) ||
        (s->http_origin != NULL &&
         (lws_add_http_header_by_name(s->wsi, (const unsigned char *)"access-control-allow-origin:",
                                      (const unsigned char *)s->http_origin,
                                      (int)strlen(s->http_origin), &p, end) ||
          lws_add_http_header_by_name(s->wsi, (const unsigned char *)"vary:",
                                      (const unsigned char *)"origin", 6, &p, end))) ||
        lws_finalize_write_http_header(s->wsi, start, &p, end))
        return -1;
    body = malloc(LWS_PRE + s->http_len);
    if (body == NULL)
        return -1;
    memcpy(body + LWS_PRE, s->http_body, s->http_len);
    if (lws_write(s->wsi, body + LWS_PRE, s->http_len, LWS_WRITE_HTTP_FINAL) != (int)s->http_len) {
        free(body);
        return -1;
    }
    free(body);
    free(s->http_body);
    s->http_body = NULL;
    return lws_http_transaction_completed(s->wsi) ? -1 : 0;
}

void nw_recent_http_closed(nw_session_env_t *env, nw_session_t *s)
{
    char sid[24];

    if (!s->http)
        return;
    if (s->id != 0) {
        snprintf(sid, sizeof(sid), "%llu", (unsigned long long)s->id);
        if (nw_strmap_get(env->by_id, sid, strlen(sid)) == s)
            nw_strmap_del(env->by_id, sid, strlen(sid));
    }
    free(s->http_body);
    s->http_body = NULL;
    free(s->http_origin);
    s->http_origin = NULL;
    s->http = false;
    s->id = 0;
}
