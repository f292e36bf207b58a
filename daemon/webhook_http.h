/* Newswire — one signed webhook request: the target URL, the Standard
 * Webhooks signature, and an HTTP(S) POST on the core thread's loop.
 *
 * Signature (https://www.standardwebhooks.com): the secret is configured as
 * "whsec_<base64>" and the HMAC key is the decoded bytes; the signed content
 * is "<webhook-id>.<webhook-timestamp>.<body>"; the header value is
 * "v1,<base64 HMAC-SHA256>".
 *
 * Requests use libevent's evhttp client, over an OpenSSL bufferevent for
 * https:// targets. Certificates are verified against the system store and
 * the host name (or IP address) of the URL, unless the webhook is marked
 * insecure (tests with self-signed certificates). Names are resolved with
 * evdns (never a blocking getaddrinfo on the loop). Each request has its
 * own connection, closed once answered: webhook rates are low, and a fresh
 * connection per request keeps TLS state simple. The timeout covers the
 * whole request: resolve, connect, handshake, send and the answer. */
#ifndef NW_WEBHOOK_HTTP_H
#define NW_WEBHOOK_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "config.h"

struct event_base;

#define NW_WEBHOOK_KEY_MAX 64 /* the spec allows 24..64 byte secrets */
#define NW_WEBHOOK_KEY_MIN 24
#define NW_WEBHOOK_SIG_MAX 64 /* "v1," + 44 base64 characters + NUL */

/* Decodes a "whsec_<base64>" secret into key (NW_WEBHOOK_KEY_MAX bytes) and
 * *keylen. Returns 0, or -EINVAL when the prefix is missing, the base64 is
 * invalid, or the key is not 24..64 bytes. */
int nw_webhook_secret_decode(const char *secret, unsigned char *key, size_t *keylen);

/* Writes the webhook-signature value "v1,<base64>" for the message id,
 * timestamp (Unix seconds) and body into out (NW_WEBHOOK_SIG_MAX bytes).
 * Returns 0 or -EINVAL (HMAC failure). */
int nw_webhook_sign(const unsigned char *key, size_t keylen, const char *msg_id, int64_t ts,
                    const void *body, size_t len, char *out);

/* Standard base64 (with padding) of len bytes into out, which must hold
 * 4 * ((len + 2) / 3) + 1 bytes. Returns the length written. */
size_t nw_webhook_base64(const unsigned char *in, size_t len, char *out);

/* Where a webhook posts: parsed from an http:// or https:// URL. */
typedef struct nw_webhook_target {
    bool https;
    char host[256]; /* name or address, without IPv6 brackets */
    int port;
    char path[NW_WEBHOOK_URL_MAX]; /* path and query, "/" at least */
    char host_header[300];         /* Host: value (port when not the default) */
} nw_webhook_target_t;

/* Parses url. Returns 0, or -EINVAL with err saying what is wrong (field
 * "url"): another scheme, no host, userinfo, a fragment, too long. */
int nw_webhook_target_parse(const char *url, nw_webhook_target_t *t, nw_err_t *err);

/* The shared client state: DNS resolver and TLS contexts. */
typedef struct nw_webhook_http nw_webhook_http_t;

nw_webhook_http_t *nw_webhook_http_new(struct event_base *base);

/* Frees the client. Cancel every request first. Accepts NULL. */
void nw_webhook_http_free(nw_webhook_http_t *h);

typedef struct nw_webhook_post nw_webhook_post_t;

typedef struct nw_webhook_header {
    const char *name, *value;
} nw_webhook_header_t;

/* The outcome of a request: the HTTP status, or 0 with error naming why
 * no answer came ("timeout", "connection refused or reset", "tls"...);
 * elapsed_ms is the time from start to the answer or failure. */
typedef void (*nw_webhook_post_cb)(int status, const char *error, uint64_t elapsed_ms, void *arg);

/* POSTs body (copied) with Content-Type: application/json and hdrs (copied)
 * to t (copied). Returns the request, whose callback is then called exactly
 * once, unless it is cancelled first; the request is freed when the
 * callback returns (do not cancel it from there). Returns NULL when the
 * request could not be started (the callback is never called). */
nw_webhook_post_t *nw_webhook_http_post(nw_webhook_http_t *h, const nw_webhook_target_t *t,
                                        bool insecure, unsigned timeout_ms,
                                        const nw_webhook_header_t *hdrs, size_t nhdrs,
                                        const void *body, size_t len, nw_webhook_post_cb cb,
                                        void *arg);

/* Abandons a request: its connection is closed and its callback never
 * called. */
void nw_webhook_http_cancel(nw_webhook_post_t *p);

#endif
