/* Newswire command — an incremental HTTP/1.x response parser.
 *
 * Pure: the caller feeds the bytes read from the connection and reads the
 * outcome, so it is unit-tested without sockets. It reads the status line
 * and header fields (CRLF or bare LF line ends), skips interim 1xx
 * responses, then a body delimited by Content-Length, by the chunked
 * transfer coding (extensions and trailers are skipped), or by the end of
 * the connection. 204 and 304 responses have no body. */
#ifndef NW_HTTP_REPLY_H
#define NW_HTTP_REPLY_H

#include <stddef.h>

#define NW_HTTP_REPLY_MAX_HEAD    (64 * 1024) /* status line and fields */
#define NW_HTTP_REPLY_MAX_HEADERS 100

/* Outcomes of nw_http_reply_feed() besides the negative errors. */
#define NW_HTTP_REPLY_MORE 0 /* every byte consumed; feed more */
#define NW_HTTP_REPLY_DONE 1 /* complete */

typedef struct nw_http_reply nw_http_reply_t;

/* A parser for one response whose body may hold up to max_body bytes.
 * Returns NULL on allocation failure. */
nw_http_reply_t *nw_http_reply_new(size_t max_body);

/* Accepts NULL. */
void nw_http_reply_free(nw_http_reply_t *r);

/* Feeds data[0..len). Returns NW_HTTP_REPLY_MORE (all consumed),
 * NW_HTTP_REPLY_DONE (*used tells how far the response went; anything
 * after it is not part of it), or -EPROTO for a malformed response, -E2BIG
 * for one over a limit, -ENOMEM; then nw_http_reply_error() says why and
 * the parser accepts nothing more. */
int nw_http_reply_feed(nw_http_reply_t *r, const char *data, size_t len, size_t *used);

/* The peer closed the connection. Returns NW_HTTP_REPLY_DONE when that
 * completes the response (a body delimited by the close, or a response
 * already complete), -EPROTO when the response was cut short. */
int nw_http_reply_eof(nw_http_reply_t *r);

/* The status code (100..599), or 0 before the head is complete. */
int nw_http_reply_status(const nw_http_reply_t *r);

/* The value of the first header field called name (case-insensitive), with
 * blanks around it removed, or NULL. Valid until the parser is freed. */
const char *nw_http_reply_header(const nw_http_reply_t *r, const char *name);

/* The body so far (NUL-terminated; *len excludes the NUL). Valid until the
 * next feed or the parser is freed. */
const char *nw_http_reply_body(const nw_http_reply_t *r, size_t *len);

/* Retry-After in seconds when it is given as delta-seconds, else -1. */
long nw_http_reply_retry_after(const nw_http_reply_t *r);

/* Why the response was refused ("" when it was not). */
const char *nw_http_reply_error(const nw_http_reply_t *r);

#endif
