/* Newswire — a small, strict HTTP/1.1 server on libevent bufferevents, for
 * the newsroom/admin API listener.
 *
 * Why not evhttp: libevent 2.1's evhttp answers its own errors (413, 400)
 * with fixed HTML bodies and offers no hook to replace them; the API promises
 * a JSON body naming the fault for every error, and limits we can count.
 *
 * Scope: HTTP/1.0 and 1.1 requests; keep-alive; requests on one connection
 * are handled one at a time (pipelined requests wait in the socket buffer);
 * request bodies by Content-Length or chunked transfer coding;
 * "Expect: 100-continue"; every response carries Content-Length. Errors the
 * server detects itself are answered with a JSON body {"error": "..."} and
 * "Connection: close": 400 (malformed request line or header, conflicting
 * Content-Length, Content-Length with Transfer-Encoding), 408 (head or body
 * not received in time), 413 (body over max_body_bytes, decided from
 * Content-Length before reading it when possible), 414 (request target over
 * max_target_bytes), 431 (head over max_header_bytes or more than
 * max_headers lines), 501 (a transfer coding other than chunked), 505
 * (HTTP major version other than 1), 503 (max_connections reached). */
#ifndef NW_HTTP_H
#define NW_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct event_base;

typedef struct nw_http_server nw_http_server_t;
typedef struct nw_http_req nw_http_req_t;

typedef struct nw_http_limits {
    size_t max_header_bytes;    /* request line + headers (default 16 KiB) */
    size_t max_target_bytes;    /* request target (default 8 KiB) */
    size_t max_headers;         /* header lines (default 64) */
    size_t max_body_bytes;      /* decoded body (default 1 MiB) */
    unsigned header_timeout_ms; /* to receive a whole request head (default 10 s) */
    unsigned body_timeout_ms;   /* to receive the whole body once the head is in (default 30 s) */
    unsigned idle_timeout_ms;   /* keep-alive idle time before closing (default 60 s) */
    unsigned max_connections;   /* open connections (default 1024) */
} nw_http_limits_t;

/* Server-side counters, read with nw_http_server_stats(). */
typedef struct nw_http_stats {
    uint64_t connections_accepted;
    uint64_t connections_rejected; /* over max_connections */
    uint64_t requests;             /* handed to the request callback */
    uint64_t errors[600];          /* responses the server generated itself, by status */
} nw_http_stats_t;

void nw_http_limits_default(nw_http_limits_t *lim);

/* Called once per complete request (head and whole body read). From then on
 * the handler owns req and must finish it exactly once with nw_http_reply()
 * or nw_http_reply_error(), now or later from another callback of the same
 * event loop. If the client goes away first, the reply is still required: it
 * then only frees req. The connection reads no further request until then. */
typedef void (*nw_http_request_cb)(nw_http_req_t *req, void *arg);

/* Creates a server on base; lim is copied. Returns NULL on allocation
 * failure. */
nw_http_server_t *nw_http_server_new(struct event_base *base, const nw_http_limits_t *lim,
                                     nw_http_request_cb cb, void *arg);

/* Binds and listens on host:port (numeric IPv4 or IPv6 address, or a name
 * resolved once). May be called several times. Returns 0 or -errno. */
int nw_http_server_listen(nw_http_server_t *srv, const char *host, int port);

/* The port actually bound by the first listener (useful with port 0), or -1. */
int nw_http_server_port(const nw_http_server_t *srv);

/* Replaces the limits; open connections use the new values from their next
 * request. */
void nw_http_server_set_limits(nw_http_server_t *srv, const nw_http_limits_t *lim);

/* Graceful stop, step one: closes the listeners and idle keep-alive
 * connections; connections with a request in progress are closed once it is
 * answered. */
void nw_http_server_stop_accepting(nw_http_server_t *srv);

/* Requests handed to the callback and not yet answered. */
size_t nw_http_server_pending(const nw_http_server_t *srv);

/* Open connections. */
size_t nw_http_server_connections(const nw_http_server_t *srv);

void nw_http_server_stats(const nw_http_server_t *srv, nw_http_stats_t *out);

/* Closes everything at once (pending requests become orphans: their replies
 * only free them) and frees srv when the last one is answered. Accepts NULL. */
void nw_http_server_free(nw_http_server_t *srv);

/* Request accessors. Strings are borrowed from req until its reply. */
const char *nw_http_req_method(const nw_http_req_t *req); /* "GET", "POST", ... */
const char *nw_http_req_path(const nw_http_req_t *req);   /* raw path, no query, not decoded */
const char *nw_http_req_query(const nw_http_req_t *req);  /* raw query without '?', or "" */

/* The first value of a query parameter, percent-decoded ('+' is a space), or
 * NULL when absent or not validly encoded. */
const char *nw_http_req_query_param(nw_http_req_t *req, const char *name);

/* The value of a request header (name matched case-insensitively; values of
 * repeated headers joined with ", "), or NULL. */
const char *nw_http_req_header(const nw_http_req_t *req, const char *name);

/* The request body (NUL-terminated for convenience; may contain NULs) and its
 * length. Never NULL. */
const char *nw_http_req_body(const nw_http_req_t *req, size_t *len);

/* True if the request declared a body (Content-Length or chunked). */
bool nw_http_req_has_length(const nw_http_req_t *req);

/* The peer as "addr:port" ("[v6]:port" for IPv6). */
const char *nw_http_req_peer(const nw_http_req_t *req);

/* Milliseconds (CLOCK_MONOTONIC) when the request head was complete. */
uint64_t nw_http_req_start_ms(const nw_http_req_t *req);

/* False once the client has gone away (a reply will then be discarded). */
bool nw_http_req_connected(const nw_http_req_t *req);

/* Adds a response header; name and value are copied. Content-Length,
 * Content-Type, Date and Connection are set by the server. */
void nw_http_req_add_header(nw_http_req_t *req, const char *name, const char *value);

/* Sends the response (no body for HEAD or for status 1xx/204/304) and frees
 * req. content_type may be NULL when len is 0. */
void nw_http_reply(nw_http_req_t *req, int status, const char *content_type, const void *body,
                   size_t len);

/* Sends o (a reference, taken) as compact application/json, keys sorted
 * (nw_json_dump_canonical), with the given status, or 500 when o is NULL or
 * cannot be serialised; frees req. */
void nw_http_reply_json(nw_http_req_t *req, int status, json_t *o);

/* Sends {"error": message, "field": field} (field omitted when NULL) as
 * application/json with the given status, and frees req. */
void nw_http_reply_error(nw_http_req_t *req, int status, const char *message, const char *field);

/* Percent-decodes s[0..len) into a malloc'd NUL-terminated string; '+' stays
 * '+'. Returns NULL on invalid encoding ("%zz", a truncated escape) or on a
 * decoded NUL byte. */
char *nw_http_pct_decode(const char *s, size_t len);

const char *nw_http_status_text(int status);

#endif
