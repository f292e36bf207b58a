/* Newswire — webhook signing and the HTTP(S) client of deliveries. */
#include "webhook_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "log.h"

#define NW_WEBHOOK_MAX_ANSWER_BODY   (1 << 20)
#define NW_WEBHOOK_MAX_ANSWER_HEADER (64 << 10)

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t nw_webhook_base64(const unsigned char *in, size_t len, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[o++] = b64_alphabet[(v >> 18) & 63];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? b64_alphabet[v & 63] : '=';
    }
    out[o] = '\0';
    return o;
}

/* Decodes standard base64 (padding optional, nothing else allowed) into
 * out (max bytes). Returns the length or -EINVAL. */
static ssize_t base64_decode(const char *s, unsigned char *out, size_t max)
{
    size_t len = strlen(s), o = 0;
    uint32_t acc = 0;
    unsigned bits = 0;

    while (len > 0 && s[len - 1] == '=')
        len--;
    if (strlen(s) - len > 2 || len % 4 == 1)
        return -EINVAL;
    for (size_t i = 0; i < len; i++) {
        const char *p = strchr(b64_alphabet, s[i]);
        if (s[i] == '\0' || p == NULL)
            return -EINVAL;
        acc = (acc << 6) | (uint32_t)(p - b64_alphabet);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o == max)
                return -EINVAL;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    return (ssize_t)o;
}

int nw_webhook_secret_decode(const char *secret, unsigned char *key, size_t *keylen)
{
    ssize_t n;

    if (strncmp(secret, "whsec_", 6) != 0)
        return -EINVAL;
    n = base64_decode(secret + 6, key, NW_WEBHOOK_KEY_MAX);
    if (n < NW_WEBHOOK_KEY_MIN)
        return -EINVAL;
    *keylen = (size_t)n;
    return 0;
}

int nw_webhook_sign(const unsigned char *key, size_t keylen, const char *msg_id, int64_t ts,
                    const void *body, size_t len, char *out)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    char head[96];
    int hn = snprintf(head, sizeof(head), "%s.%lld.", msg_id, (long long)ts);
    unsigned char *msg;

    if (hn < 0 || (size_t)hn >= sizeof(head))
        return -EINVAL;
    msg = malloc((size_t)hn + len + 1);
    if (msg == NULL)
        return -EINVAL;
    memcpy(msg, head, (size_t)hn);
    memcpy(msg + hn, body, len);
    if (HMAC(EVP_sha256(), key, (int)keylen, msg, (size_t)hn + len, mac, &maclen) == NULL ||
        maclen != 32) {
        free(msg);
        return -EINVAL;
    }
    free(msg);
    memcpy(out, "v1,", 3);
    nw_webhook_base64(mac, maclen, out + 3);
    return 0;
}

int nw_webhook_target_parse(const char *url, nw_webhook_target_t *t, nw_err_t *err)
{
    struct evhttp_uri *u;
    const char *scheme, *host, *path, *query;
    int port, n;

    memset(t, 0, sizeof(*t));
    if (strlen(url) >= NW_WEBHOOK_URL_MAX) {
        nw_err_set(err, "url", "url is longer than %d bytes", NW_WEBHOOK_URL_MAX - 1);
        return -EINVAL;
    }
    u = evhttp_uri_parse_with_flags(url, 0);
    if (u == NULL) {
        nw_err_set(err, "url", "url is not a valid URL");
        return -EINVAL;
    }
    scheme = evhttp_uri_get_scheme(u);
    host = evhttp_uri_get_host(u);
    path = evhttp_uri_get_path(u);
    query = evhttp_uri_get_query(u);
    port = evhttp_uri_get_port(u);
    if (scheme == NULL || (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        nw_err_set(err, "url", "url must be http:// or https://");
        goto fail;
    }
    if (host == NULL || host[0] == '\0' || strlen(host) >= sizeof(t->host)) {
        nw_err_set(err, "url", "url has no valid host");
        goto fail;
    }
    if (evhttp_uri_get_userinfo(u) != NULL || evhttp_uri_get_fragment(u) != NULL) {
        nw_err_set(err, "url", "url must not have userinfo or a fragment");
        goto fail;
    }
    t->https = strcmp(scheme, "https") == 0;
    if (port == 0 || port > 65535) {
        nw_err_set(err, "url", "url has an invalid port");
        goto fail;
    }
    t->port = port > 0 ? port : t->https ? 443 : 80;
    if (host[0] == '[') { /* evhttp keeps IPv6 brackets */
        snprintf(t->host, sizeof(t->host), "%.*s", (int)strlen(host) - 2, host + 1);
    } else {
        snprintf(t->host, sizeof(t->host), "%s", host);
    }
    n = snprintf(t->path, sizeof(t->path), "%s%s%s%s", path && path[0] ? "" : "/", path ? path : "",
                 query ? "?" : "", query ? query : "");
    if (n < 0 || (size_t)n >= sizeof(t->path)) {
        nw_err_set(err, "url", "url path is too long");
        goto fail;
    }
    if (port > 0)
        snprintf(t->host_header, sizeof(t->host_header), "%s:%d", host, port);
    else
        snprintf(t->host_header, sizeof(t->host_header), "%s", host);
    evhttp_uri_free(u);
    return 0;
fail:
    evhttp_uri_free(u);
    return -EINVAL;
}

struct nw_webhook_http {
    struct event_base *base;
    struct evdns_base *dns;
    SSL_CTX *verify_ctx;   /* created at the first https request */
    SSL_CTX *insecure_ctx; /* created at the first insecure https request */
};

struct nw_webhook_post {
    nw_webhook_http_t *h;
    struct evhttp_connection *evcon;
    struct event *timer;   /* the request's whole-time budget */
    struct event *done_ev; /* completion, outside of evhttp's callbacks */
    nw_webhook_post_cb cb;
    void *arg;
    int status;
    char error[64];
    bool answered;
    bool https;
    struct timespec start;
};

nw_webhook_http_t *nw_webhook_http_new(struct event_base *base)
{
    nw_webhook_http_t *h = calloc(1, sizeof(*h));

    if (h == NULL)
        return NULL;
    h->base = base;
    h->dns =
        evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE);
    if (h->dns == NULL) {
        free(h);
        return NULL;
    }
    return h;
}

void nw_webhook_http_free(nw_webhook_http_t *h)
{
    if (h == NULL)
        return;
    evdns_base_free(h->dns, 0);
    SSL_CTX_free(h->verify_ctx);
    SSL_CTX_free(h->insecure_ctx);
    free(h);
}

/* The TLS context: certificates checked against the system store, unless
 * insecure. Created once. */
static SSL_CTX *tls_ctx(nw_webhook_http_t *h, bool insecure)
{
    SSL_CTX **slot = insecure ? &h->insecure_ctx : &h->verify_ctx;
    SSL_CTX *ctx;

    if (*slot != NULL)
        return *slot;
    ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (insecure) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        if (SSL_CTX_set_default_verify_paths(ctx) != 1)
            nw_log(NW_LOG_WARN, "webhook", "cannot load the system certificate store");
    }
    *slot = ctx;
    return ctx;
}

/* A TLS bufferevent for t: SNI and, when verifying, the name or address
 * the certificate must carry. */
static struct bufferevent *tls_bev(nw_webhook_http_t *h, const nw_webhook_target_t *t,
                                   bool insecure)
{
    SSL_CTX *ctx = tls_ctx(h, insecure);
    unsigned char addr[16];
    bool is_ip = inet_pton(AF_INET, t->host, addr) == 1 || inet_pton(AF_INET6, t->host, addr) == 1;
    struct bufferevent *bev;
    SSL *ssl;

    if (ctx == NULL || (ssl = SSL_new(ctx)) == NULL)
        return NULL;
    if (!is_ip)
        SSL_set_tlsext_host_name(ssl, t->host);
    if (!insecure) {
        int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), t->host)
                       : SSL_set1_host(ssl, t->host);
        if (ok != 1) {
            SSL_free(ssl);
            return NULL;
        }
    }
    bev = bufferevent_openssl_socket_new(h->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                         BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (bev == NULL) {
        SSL_free(ssl);
        return NULL;
    }
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return bev;
}

static void post_free(nw_webhook_post_t *p)
{
    if (p->evcon != NULL)
        evhttp_connection_free(p->evcon);
    if (p->timer != NULL)
        event_free(p->timer);
    if (p->done_ev != NULL)
        event_free(p->done_ev);
    free(p);
}

static uint64_t elapsed_ms(const nw_webhook_post_t *p)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)((now.tv_sec - p->start.tv_sec) * 1000 +
                      (now.tv_nsec - p->start.tv_nsec) / 1000000);
}

/* Runs the user callback once, then frees the request: from our own
 * events only, never inside evhttp's callbacks (which still use the
 * connection when they return). */
static void post_finish(nw_webhook_post_t *p)
{
    p->cb(p->status, p->error, elapsed_ms(p), p->arg);
    post_free(p);
}

static void done_cb(evutil_socket_t fd, short what, void *arg)
{
    post_finish(arg);
}

static void timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    nw_webhook_post_t *p = arg;

    if (p->answered)
        return; /* done_ev is already active */
    p->status = 0;
    snprintf(p->error, sizeof(p->error), "timeout");
    /* freeing the connection drops its request without calling back */
    evhttp_connection_free(p->evcon);
    p->evcon = NULL;
    event_del(p->done_ev);
    post_finish(p);
}

static void error_cb(enum evhttp_request_error e, void *arg)
{
    nw_webhook_post_t *p = arg;
    static const char *const names[] = {"timeout",        "connection closed",
                                        "invalid answer", "connection failed",
                                        "canceled",       "answer too large"};

    snprintf(p->error, sizeof(p->error), "%s",
             (unsigned)e < NW_ARRAY_LEN(names) ? names[e] : "request failed");
}

/* evhttp's request callback: req is NULL (or has no status) on failure. */
static void request_cb(struct evhttp_request *req, void *arg)
{
    nw_webhook_post_t *p = arg;

    if (p->answered)
        return;
    p->answered = true;
    p->status = req != NULL ? evhttp_request_get_response_code(req) : 0;
    if (p->status == 0 && p->https) {
        /* a refused certificate shows as a closed connection: say why */
        unsigned long e =
            bufferevent_get_openssl_error(evhttp_connection_get_bufferevent(p->evcon));
        if (e != 0)
            snprintf(p->error, sizeof(p->error), "tls: %s",
                     ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "error");
    }
    if (p->status == 0 && p->error[0] == '\0')
        snprintf(p->error, sizeof(p->error), "connection failed");
    event_del(p->timer);
    event_active(p->done_ev, EV_TIMEOUT, 0);
}

nw_webhook_post_t *nw_webhook_http_post(nw_webhook_http_t *h, const nw_webhook_target_t *t,
                                        bool insecure, unsigned timeout_ms,
                                        const nw_webhook_header_t *hdrs, size_t nhdrs,
                                        const void *body, size_t len, nw_webhook_post_cb cb,
                                        void *arg)
{
    nw_webhook_post_t *p = calloc(1, sizeof(*p));
    struct bufferevent *bev = NULL;
    struct evhttp_request *req;
    struct evkeyvalq *out;
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};

    if (p == NULL)
        return NULL;
    p->h = h;
    p->cb = cb;
    p->arg = arg;
    clock_gettime(CLOCK_MONOTONIC, &p->start);
    p->timer = evtimer_new(h->base, timeout_cb, p);
    p->done_ev = event_new(h->base, -1, 0, done_cb, p);
    if (p->timer == NULL || p->done_ev == NULL)
        goto fail;
    p->https = t->https;
    if (t->https && (bev = tls_bev(h, t, insecure)) == NULL)
        goto fail;
    p->evcon =
        evhttp_connection_base_bufferevent_new(h->base, h->dns, bev, t->host, (ev_uint16_t)t->port);
    if (p->evcon == NULL) {
        if (bev != NULL)
            bufferevent_free(bev);
        goto fail;
    }
    evhttp_connection_set_timeout_tv(p->evcon, &tv);
    evhttp_connection_set_retries(p->evcon, 0);
    evhttp_connection_set_max_body_size(p->evcon, NW_WEBHOOK_MAX_ANSWER_BODY);
    evhttp_connection_set_max_headers_size(p->evcon, NW_WEBHOOK_MAX_ANSWER_HEADER);
    req = evhttp_request_new(request_cb, p);
    if (req == NULL)
        goto fail;
    evhttp_request_set_error_cb(req, error_cb);
    out = evhttp_request_get_output_headers(req);
    evhttp_add_header(out, "Host", t->host_header);
    evhttp_add_header(out, "User-Agent", "newswired/" NW_VERSION);
    evhttp_add_header(out, "Content-Type", "application/json");
    evhttp_add_header(out, "Connection", "close");
    for (size_t i = 0; i < nhdrs; i++)
        evhttp_add_header(out, hdrs[i].name, hdrs[i].value);
    if (evbuffer_add(evhttp_request_get_output_buffer(req), body, len) < 0) {
        evhttp_request_free(req);
        goto fail;
    }
    /* on failure the request has been freed by evhttp */
    if (evhttp_make_request(p->evcon, req, EVHTTP_REQ_POST, t->path) < 0)
        goto fail;
    evtimer_add(p->timer, &tv);
    return p;
fail:
    post_free(p);
    return NULL;
}

void nw_webhook_http_cancel(nw_webhook_post_t *p)
{
    if (p != NULL)
        post_free(p);
}
