/* Newswire command — a small blocking HTTP/1.1 client.
 *
 * One request per connection ("Connection: close"), over TCP or, for
 * https URLs, over TLS (OpenSSL; the peer's certificate is verified against
 * the system store or a given CA file, and its name or address against the
 * URL's host). The whole exchange — name resolution excepted — is bounded
 * by one deadline. Used by publish and kill; the response is read by
 * http_reply.h. */
#ifndef NW_HTTP_CLIENT_H
#define NW_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "common.h"
#include "http_reply.h"
#include "url.h"

#define NW_HTTP_CLIENT_MAX_BODY (16 * 1024 * 1024) /* largest response body read */

typedef struct nw_http_client_opts {
    int timeout_ms;     /* connect, TLS handshake, request and response */
    bool insecure;      /* https: accept any certificate */
    const char *cacert; /* https: PEM file of trusted CAs; NULL: the system's */
} nw_http_client_opts_t;

typedef struct nw_http_request {
    const char *method;         /* "POST" */
    const nw_url_t *url;        /* host, port and scheme to connect to */
    const char *target;         /* request target: path and query */
    const char *const *headers; /* extra "Name: value" lines, NULL-terminated; or NULL */
    const char *body;           /* body_len bytes, sent with Content-Length; or NULL */
    size_t body_len;
} nw_http_request_t;

/* Sends req on a new connection and reads the response. Returns 0 with
 * *out (owned: nw_http_reply_free) whatever its status, or a negative errno
 * with err saying what failed (err->field: "connect", "tls", "send" or
 * "receive"): the connection could not be made or broke, the deadline
 * passed (-ETIMEDOUT), or the answer was not HTTP (-EPROTO); -ENOMEM. */
int nw_http_client_request(const nw_http_request_t *req, const nw_http_client_opts_t *opts,
                           nw_http_reply_t **out, nw_err_t *err);

#endif
