/* Newswire command — the blocking HTTP/1.1 client (see http_client.h).
 *
 * The socket is non-blocking and every wait goes through poll() with what
 * is left of the deadline, so a silent server cannot hang the command past
 * --timeout. TLS rides on the same socket: OpenSSL's WANT_READ/WANT_WRITE
 * become poll() waits. */
#include "http_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

typedef struct conn {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    int64_t deadline; /* CLOCK_MONOTONIC milliseconds */
} conn_t;

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until the socket is ready for events, or the deadline. */
static int conn_wait(conn_t *c, short events)
{
    for (;;) {
        int64_t left = c->deadline - mono_ms();
        struct pollfd p = {.fd = c->fd, .events = events};
        int n;

        if (left <= 0)
            return -ETIMEDOUT;
        n = poll(&p, 1, (int)NW_MIN(left, (int64_t)INT32_MAX));
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -errno;
    }
}

/* Connects to one resolved address; returns 0 or a negative errno. */
static int connect_addr(conn_t *c, const struct addrinfo *ai)
{
    int one = 1, soerr = 0, rc;
    socklen_t len = sizeof(soerr);

    c->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (c->fd < 0)
        return -errno;
    if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        if (errno != EINPROGRESS) {
            rc = -errno;
            goto fail;
        }
        if ((rc = conn_wait(c, POLLOUT)) < 0)
            goto fail;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 || soerr != 0) {
            rc = soerr != 0 ? -soerr : -errno;
            goto fail;
        }
    }
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return 0;
fail:
    close(c->fd);
    c->fd = -1;
    return rc;
}

/* Resolves the URL's host and connects to the first address that answers. */
static int conn_open(conn_t *c, const nw_url_t *u, nw_err_t *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    char port[8];
    int gai, rc = -EHOSTUNREACH;

    snprintf(port, sizeof(port), "%d", u->port);
    gai = getaddrinfo(u->host, port, &hints, &res);
    if (gai != 0) {
        nw_err_set(err, "connect", "cannot resolve %s: %s", u->host, gai_strerror(gai));
        return gai == EAI_MEMORY ? -ENOMEM : -EHOSTUNREACH;
    }
    for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        rc = connect_addr(c, ai);
        if (rc == 0 || rc == -ETIMEDOUT)
            break;
    }
    freeaddrinfo(res);
    if (rc < 0)
        nw_err_set(err, "connect", "cannot connect to %s port %d: %s", u->host, u->port,
                   strerror(-rc));
    return rc;
}

/* Describes the last TLS failure: the verification result when the
 * certificate was refused, else OpenSSL's error queue. */
static void tls_error(conn_t *c, nw_err_t *err, const char *what)
{
    unsigned long e = ERR_get_error();
    long verify = c->ssl ? SSL_get_verify_result(c->ssl) : X509_V_OK;
    char buf[160];

    if (verify != X509_V_OK) {
        nw_err_set(err, "tls", "%s: certificate verification failed: %s", what,
                   X509_verify_cert_error_string(verify));
    } else {
        ERR_error_string_n(e, buf, sizeof(buf));
        nw_err_set(err, "tls", "%s: %s", what, e != 0 ? buf : "connection closed");
    }
    ERR_clear_error();
}

/* Runs the TLS handshake, verifying the server unless opts->insecure. */
static int tls_start(conn_t *c, const nw_url_t *u, const nw_http_client_opts_t *opts, nw_err_t *err)
{
    unsigned char addr[sizeof(struct in6_addr)];
    bool literal = u->ipv6 || inet_pton(AF_INET, u->host, addr) == 1;
    int rc;

    c->ctx = SSL_CTX_new(TLS_client_method());
    if (c->ctx == NULL) {
        tls_error(c, err, "cannot create a TLS context");
        return -ENOMEM;
    }
    SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(c->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    if (opts->insecure) {
        SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
    } else {
        SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
        if (opts->cacert != NULL ? SSL_CTX_load_verify_locations(c->ctx, opts->cacert, NULL) != 1
                                 : SSL_CTX_set_default_verify_paths(c->ctx) != 1) {
            tls_error(c, err, opts->cacert ? opts->cacert : "cannot load the system CA store");
            return -EINVAL;
        }
    }
    c->ssl = SSL_new(c->ctx);
    if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
        tls_error(c, err, "cannot create a TLS session");
        return -ENOMEM;
    }
    if (!literal)
        SSL_set_tlsext_host_name(c->ssl, u->host);
    if (!opts->insecure) {
        X509_VERIFY_PARAM *param = SSL_get0_param(c->ssl);
        if ((literal ? X509_VERIFY_PARAM_set1_ip_asc(param, u->host)
                     : X509_VERIFY_PARAM_set1_host(param, u->host, 0)) != 1) {
            tls_error(c, err, "cannot set the expected server name");
            return -EINVAL;
        }
    }
    for (;;) {
        int r = SSL_connect(c->ssl);
        if (r == 1)
            return 0;
        switch (SSL_get_error(c->ssl, r)) {
        case SSL_ERROR_WANT_READ:
            rc = conn_wait(c, POLLIN);
            break;
        case SSL_ERROR_WANT_WRITE:
            rc = conn_wait(c, POLLOUT);
            break;
        default:
            tls_error(c, err, "TLS handshake failed");
            return -EPROTO;
        }
        if (rc < 0) {
            nw_err_set(err, "tls", "TLS handshake: %s", strerror(-rc));
            return rc;
        }
    }
}

/* Writes all of buf; returns 0 or a negative errno. */
static int conn_write(conn_t *c, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n;
        short wait = POLLOUT;
        int rc;

        if (c->ssl != NULL) {
            int r = SSL_write(c->ssl, buf, (int)NW_MIN(len, (size_t)INT32_MAX));
            n = r;
            if (r <= 0) {
                int e = SSL_get_error(c->ssl, r);
                if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
                    ERR_clear_error();
                    return -ECONNRESET;
                }
                wait = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
            }
        } else {
            n = send(c->fd, buf, len, MSG_NOSIGNAL);
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                return -errno;
        }
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
        } else if ((rc = conn_wait(c, wait)) < 0) {
            return rc;
        }
    }
    return 0;
}

/* Reads some bytes: returns their count, 0 at the end of the stream, or a
 * negative errno. */
static ssize_t conn_read(conn_t *c, char *buf, size_t len)
{
    for (;;) {
        short wait = POLLIN;
        int rc;

        if (c->ssl != NULL) {
            int r = SSL_read(c->ssl, buf, (int)NW_MIN(len, (size_t)INT32_MAX));
            if (r > 0)
                return r;
            switch (SSL_get_error(c->ssl, r)) {
            case SSL_ERROR_ZERO_RETURN:
                return 0;
            case SSL_ERROR_WANT_READ:
                break;
            case SSL_ERROR_WANT_WRITE:
                wait = POLLOUT;
                break;
            default:
                ERR_clear_error();
                return -ECONNRESET;
            }
        } else {
            ssize_t n = recv(c->fd, buf, len, 0);
            if (n >= 0)
                return n;
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                return -errno;
        }
        if ((rc = conn_wait(c, wait)) < 0)
            return rc;
    }
}

static void conn_close(conn_t *c)
{
    if (c->ssl != NULL) {
        SSL_shutdown(c->ssl); /* best effort: one close_notify, no wait */
        SSL_free(c->ssl);
    }
    SSL_CTX_free(c->ctx);
    if (c->fd >= 0)
        close(c->fd);
    ERR_clear_error();
}

/* Builds the request head; returns a malloc'd string or NULL. */
static char *request_head(const nw_http_request_t *req, size_t *len)
{
    char host[NW_URL_HOST_MAX + 16];
    char *head = NULL;
    size_t size = 0;
    FILE *f;

    if (nw_url_host_header(req->url, host, sizeof(host)) < 0)
        return NULL;
    f = open_memstream(&head, &size);
    if (f == NULL)
        return NULL;
    fprintf(f,
            "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: newswire/" NW_VERSION
            "\r\nAccept: application/json\r\nConnection: close\r\n",
            req->method, req->target, host);
    for (const char *const *h = req->headers; h != NULL && *h != NULL; h++)
        fprintf(f, "%s\r\n", *h);
    if (req->body != NULL)
        fprintf(f, "Content-Length: %zu\r\n", req->body_len);
    fputs("\r\n", f);
    if (fclose(f) != 0) {
        free(head);
        return NULL;
    }
    *len = size;
    return head;
}

/* Reads the response into r until it is complete. */
static int read_reply(conn_t *c, nw_http_reply_t *r, nw_err_t *err)
{
    char buf[16384];

    for (;;) {
        ssize_t n = conn_read(c, buf, sizeof(buf));
        size_t used;
        int rc;

        if (n < 0) {
            nw_err_set(err, "receive", "reading the response: %s", strerror((int)-n));
            return (int)n;
        }
        rc = n == 0 ? nw_http_reply_eof(r) : nw_http_reply_feed(r, buf, (size_t)n, &used);
        if (rc == NW_HTTP_REPLY_DONE)
            return 0;
        if (rc < 0) {
            nw_err_set(err, "receive", "invalid response: %s", nw_http_reply_error(r));
            return rc == -ENOMEM ? -ENOMEM : -EPROTO;
        }
    }
}

int nw_http_client_request(const nw_http_request_t *req, const nw_http_client_opts_t *opts,
                           nw_http_reply_t **out, nw_err_t *err)
{
    conn_t c = {.fd = -1, .deadline = mono_ms() + opts->timeout_ms};
    nw_http_reply_t *r = NULL;
    size_t head_len = 0;
    char *head = request_head(req, &head_len);
    int rc, wrc;

    *out = NULL;
    if (head == NULL) {
        nw_err_set(err, "send", "out of memory");
        return -ENOMEM;
    }
    r = nw_http_reply_new(NW_HTTP_CLIENT_MAX_BODY);
    if (r == NULL) {
        rc = -ENOMEM;
        nw_err_set(err, "send", "out of memory");
        goto done;
    }
    if ((rc = conn_open(&c, req->url, err)) < 0)
        goto done;
    if (req->url->tls && (rc = tls_start(&c, req->url, opts, err)) < 0)
        goto done;
    /* A server may answer early (413, 401) and close before reading the
     * whole body: a failed write is reported only if no response follows. */
    wrc = conn_write(&c, head, head_len);
    if (wrc == 0 && req->body != NULL)
        wrc = conn_write(&c, req->body, req->body_len);
    rc = read_reply(&c, r, err);
    if (rc < 0 && wrc < 0) {
        nw_err_set(err, "send", "sending the request: %s", strerror(-wrc));
        rc = wrc;
    }
done:
    conn_close(&c);
    free(head);
    if (rc < 0) {
        nw_http_reply_free(r);
        return rc;
    }
    *out = r;
    return 0;
}
