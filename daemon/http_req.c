/* Newswire — the request side of the HTTP server of http.h: the request
 * object handed to the callback, its accessors, and the reply path down to
 * the serialised response. Connections and reading are in http.c, parsing in
 * http_parse.c.
 *
 * A request is built from a connection's head and body when both are in
 * (nw_http_req_new) and lives until its reply. It keeps pointers to its
 * server and connection; the connection pointer is cleared by http.c when
 * the client goes away, and the server outlives every pending request (see
 * http.c), so a late reply only frees the request. */
#include "http_int.h"
#include "json.h"
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <jansson.h>

/* A message that is not valid UTF-8 is replaced rather than sent broken. */
char *nw_http_json_error(const char *message, const char *field)
{
    json_t *o = json_object(), *m = json_string(message ? message : "error");
    char *s = NULL;

    int rc;

    if (m == NULL)
        m = json_string("invalid error message");
    if (o == NULL || m == NULL)
        goto out;
    rc = json_object_set_new(o, "error", m); /* steals m even on failure */
    m = NULL;
    if (rc < 0 || (field != NULL && json_object_set_new(o, "field", json_string(field)) < 0))
        goto out;
    s = json_dumps(o, JSON_COMPACT);
out:
    json_decref(m);
    json_decref(o);
    return s;
}

/* The Date field's value, formatted once a second per thread. */
static const char *date_now(void)
{
    static __thread time_t last = (time_t)-1;
    static __thread char buf[40];
    time_t now = time(NULL);

    if (now != last) {
        nw_http_format_date(now, buf, sizeof(buf));
        last = now;
    }
    return buf;
}

/* Appends the NUL-terminated strings of the list (ended by NULL) to out. */
static int add_strs(struct evbuffer *out, const char *s, ...)
{
    va_list ap;
    int rc = 0;

    va_start(ap, s);
    for (; s != NULL && rc == 0; s = va_arg(ap, const char *))
        rc = evbuffer_add(out, s, strlen(s));
    va_end(ap);
    return rc;
}

/* Every response carries Date, Connection and, unless its status forbids a
 * body, Content-Length; the body is left out for HEAD (omit_body). Written
 * piece by piece: this runs once per request. */
int nw_http_response_format(struct evbuffer *out, int status, const char *ctype, const void *body,
                            size_t len, bool omit_body, bool close, struct evbuffer *extra,
                            const char *extra_line)
{
    bool no_length = status < 200 || status == 204 || status == 304;
    char code[4] = {(char)('0' + status / 100 % 10), (char)('0' + status / 10 % 10),
                    (char)('0' + status % 10), '\0'};
    char length[24];
    int rc;

    rc = add_strs(out, "HTTP/1.1 ", code, " ", nw_http_status_text(status),
                  "\r\nDate: ", date_now(), "\r\n", NULL);
    if (rc >= 0 && ctype != NULL)
        rc = add_strs(out, "Content-Type: ", ctype, "\r\n", NULL);
    if (rc >= 0 && !no_length) {
        char *p = length + sizeof(length);
        size_t v = len;

        *--p = '\0';
        do
            *--p = (char)('0' + v % 10);
        while ((v /= 10) > 0);
        rc = add_strs(out, "Content-Length: ", p, "\r\n", NULL);
    }
    if (rc >= 0)
        rc = add_strs(out, "Connection: ", close ? "close" : "keep-alive", "\r\n",
                      extra_line ? extra_line : "", NULL);
    if (rc >= 0 && extra != NULL)
        rc = evbuffer_add_buffer(out, extra);
    if (rc >= 0)
        rc = evbuffer_add(out, "\r\n", 2);
    if (rc >= 0 && !omit_body && !no_length && len > 0)
        rc = evbuffer_add(out, body, len);
    return rc < 0 ? -ENOMEM : 0;
}

/* Joins the values of repeated header fields with ", ", so that lookups see
 * one entry per name. */
static int req_merge_fields(nw_http_req_t *req)
{
    const nw_http_head_t *h = &req->head;

    req->fields = calloc(h->n_headers ? h->n_headers : 1, sizeof(*req->fields));
    if (req->fields == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < h->n_headers; i++) {
        req_field_t *f = NULL;
        size_t a, b;
        char *j;

        for (size_t k = 0; k < req->n_fields && f == NULL; k++) {
            if (strcasecmp(req->fields[k].name, h->headers[i].name) == 0)
                f = &req->fields[k];
        }
        if (f == NULL) {
            f = &req->fields[req->n_fields++];
            f->name = h->headers[i].name;
            f->value = h->headers[i].value;
            continue;
        }
        a = strlen(f->value);
        b = strlen(h->headers[i].value);
        j = malloc(a + 2 + b + 1);
        if (j == NULL)
            return -ENOMEM;
        memcpy(j, f->value, a);
        memcpy(j + a, ", ", 2);
        memcpy(j + a + 2, h->headers[i].value, b + 1);
        if (f->owned)
            free(f->value);
        f->value = j;
        f->owned = true;
    }
    return 0;
}

static void req_free(nw_http_req_t *req)
{
    for (size_t i = 0; i < req->n_fields; i++) {
        if (req->fields[i].owned)
            free(req->fields[i].value);
    }
    free(req->fields);
    while (req->qcache) {
        query_cache_t *q = req->qcache;
        req->qcache = q->next;
        free(q->name);
        free(q->value);
        free(q);
    }
    nw_http_head_free(&req->head);
    if (req->body_buf)
        evbuffer_free(req->body_buf);
    if (req->extra)
        evbuffer_free(req->extra);
    free(req);
}

nw_http_req_t *nw_http_req_new(nw_http_conn_t *c)
{
    nw_http_req_t *req = calloc(1, sizeof(*req));
    char *q;

    if (req == NULL)
        return NULL;
    req->srv = c->srv;
    req->conn = c;
    req->head = c->head;
    memset(&c->head, 0, sizeof(c->head));
    c->have_head = false;
    req->body_buf = c->body;
    c->body = NULL;
    req->path = req->head.target;
    q = strchr(req->head.target, '?');
    if (q != NULL)
        *q++ = '\0';
    req->query = q ? q : "";
    req->body = "";
    if (req->body_buf != NULL) {
        req->body_len = evbuffer_get_length(req->body_buf);
        if (evbuffer_add(req->body_buf, "", 1) < 0)
            goto fail;
        req->body = (const char *)evbuffer_pullup(req->body_buf, -1);
        if (req->body == NULL)
            goto fail;
    }
    if (req_merge_fields(req) < 0)
        goto fail;
    req->has_length = req->head.has_content_length || req->head.chunked;
    req->is_head = strcmp(req->head.method, "HEAD") == 0;
    req->keep_alive = req->head.keep_alive;
    req->start_ms = c->start_ms;
    memcpy(req->peer, c->peer, sizeof(req->peer));
    return req;
fail:
    req_free(req);
    return NULL;
}

const char *nw_http_req_method(const nw_http_req_t *req)
{
    return req->head.method;
}

const char *nw_http_req_path(const nw_http_req_t *req)
{
    return req->path;
}

const char *nw_http_req_query(const nw_http_req_t *req)
{
    return req->query;
}

const char *nw_http_req_query_param(nw_http_req_t *req, const char *name)
{
    query_cache_t *q;
    char *value = NULL;
    int rc;

    for (q = req->qcache; q != NULL; q = q->next) {
        if (strcmp(q->name, name) == 0)
            return q->value;
    }
    rc = nw_http_query_find(req->query, name, &value);
    if (rc == -ENOMEM)
        return NULL;
    q = calloc(1, sizeof(*q));
    if (q == NULL || (q->name = strdup(name)) == NULL) {
        free(q);
        free(value);
        return NULL;
    }
    q->value = rc == 1 ? value : NULL;
    q->next = req->qcache;
    req->qcache = q;
    return q->value;
}

const char *nw_http_req_header(const nw_http_req_t *req, const char *name)
{
    for (size_t i = 0; i < req->n_fields; i++) {
        if (strcasecmp(req->fields[i].name, name) == 0)
            return req->fields[i].value;
    }
    return NULL;
}

const char *nw_http_req_body(const nw_http_req_t *req, size_t *len)
{
    if (len)
        *len = req->body_len;
    return req->body;
}

bool nw_http_req_has_length(const nw_http_req_t *req)
{
    return req->has_length;
}

const char *nw_http_req_peer(const nw_http_req_t *req)
{
    return req->peer;
}

uint64_t nw_http_req_start_ms(const nw_http_req_t *req)
{
    return req->start_ms;
}

bool nw_http_req_connected(const nw_http_req_t *req)
{
    return req->conn != NULL;
}

/* Header names must be tokens and values free of control characters (no
 * response splitting); the framing headers belong to the server. */
void nw_http_req_add_header(nw_http_req_t *req, const char *name, const char *value)
{
    static const char *const reserved[] = {"content-length", "content-type", "date", "connection",
                                           "transfer-encoding"};

    for (const char *p = value; *p; p++) {
        if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f) {
            nw_log(NW_LOG_WARN, "http", "response header dropped", "name=%s reason=value", name);
            return;
        }
    }
    for (size_t i = 0; i < NW_ARRAY_LEN(reserved); i++) {
        if (strcasecmp(name, reserved[i]) == 0) {
            nw_log(NW_LOG_WARN, "http", "response header dropped", "name=%s reason=reserved", name);
            return;
        }
    }
    if (!nw_http_is_token(name, strlen(name))) {
        nw_log(NW_LOG_WARN, "http", "response header dropped", "reason=name");
        return;
    }
    if (req->extra == NULL)
        req->extra = evbuffer_new();
    if (req->extra == NULL || evbuffer_add_printf(req->extra, "%s: %s\r\n", name, value) < 0)
        nw_log(NW_LOG_WARN, "http", "response header dropped", "name=%s reason=memory", name);
}

/* Writes the response when the client is still there, then frees req; the
 * last reply after nw_http_server_free() also frees the server. */
/* One access-log line per answered request: info for the newsroom API
 * (/v1/...), debug for probes (/healthz, /readyz, /metrics). */
static void access_log(const nw_http_req_t *req, int status, size_t len)
{
    uint64_t now;
    char qpath[300];
    nw_log_level_t level = strncmp(req->path, "/v1/", 4) == 0 ? NW_LOG_INFO : NW_LOG_DEBUG;

    if ((int)level < nw_log_level_get())
        return;
    now = (uint64_t)nw_mono_ms();
    nw_log_write(level, "access", "request",
                 "method=%s path=%s status=%d bytes=%zu ms=%llu peer=%s", nw_http_req_method(req),
                 nw_log_quote(req->path, qpath, sizeof(qpath)), status, len,
                 (unsigned long long)(now >= req->start_ms ? now - req->start_ms : 0), req->peer);
}

void nw_http_reply(nw_http_req_t *req, int status, const char *content_type, const void *body,
                   size_t len)
{
    nw_http_server_t *srv = req->srv;
    nw_http_conn_t *c = req->conn;

    access_log(req, status, len);

    if (c != NULL) {
        NW_ASSERT(c->req == req && c->state == CS_HANDLER);
        if (status < 200 || status > 599) {
            nw_log(NW_LOG_WARN, "http", "invalid reply status, sending 500", "status=%d", status);
            status = 500;
            content_type = NULL;
            len = 0;
        }
        if (content_type != NULL && strpbrk(content_type, "\r\n") != NULL) {
            nw_log(NW_LOG_WARN, "http", "invalid content type dropped", "status=%d", status);
            content_type = NULL;
        }
        c->req = NULL;
        c->close_after = !req->keep_alive || srv->stopping;
        nw_http_conn_write_response(c, status, content_type, body, len, req->is_head, req->extra,
                                    NULL);
    }
    req_free(req);
    srv->pending--;
    if (srv->depth == 0 && srv->freed && srv->pending == 0)
        nw_http_server_destroy(srv);
}

void nw_http_reply_json(nw_http_req_t *req, int status, json_t *o)
{
    size_t len = 0;
    char *s = o ? nw_json_dump_canonical(o, &len) : NULL; /* keys sorted */

    json_decref(o);
    if (s == NULL) {
        nw_http_reply_error(req, 500, "out of memory", NULL);
        return;
    }
    nw_http_reply(req, status, "application/json", s, len);
    free(s);
}

void nw_http_reply_error(nw_http_req_t *req, int status, const char *message, const char *field)
{
    char *body = nw_http_json_error(message, field);
    const char *fallback = "{\"error\":\"internal error\"}";

    nw_http_reply(req, status, "application/json", body ? body : fallback,
                  strlen(body ? body : fallback));
    free(body);
}
