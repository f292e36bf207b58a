/* Newswire — a pure, incremental HTTP/1.x request parser: the request head
 * (request line and header fields) and the chunked transfer coding, plus the
 * small text helpers the server needs (query strings, percent-decoding,
 * dates). No sockets and no libevent here: the caller feeds bytes as they
 * arrive and reads the outcome, so all of it is unit-tested on its own.
 *
 * Strictness: the request line is exactly "METHOD SP target SP HTTP/x.y"
 * (CRLF or a bare LF ends a line), the method is a token, the target is in
 * origin-form ("*" only for OPTIONS), field names are tokens with nothing
 * between them and the colon, obs-fold and control characters in values are
 * refused, Content-Length is digits only, and the only transfer coding is
 * "chunked". A refused request yields the status to answer with (400, 413,
 * 414, 431, 501, 505) and a short reason. */
#ifndef NW_HTTP_PARSE_H
#define NW_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Outcome of a feed call. */
typedef enum nw_http_parse_rc {
    NW_HTTP_PARSE_ERROR = -1, /* refused: see the status and reason accessors */
    NW_HTTP_PARSE_MORE = 0,   /* every byte consumed; feed more */
    NW_HTTP_PARSE_DONE = 1,   /* complete; bytes after the end were not consumed */
    NW_HTTP_PARSE_DATA = 2,   /* chunked decoder only: a span of body data */
} nw_http_parse_rc_t;

typedef struct nw_http_parse_limits {
    size_t max_header_bytes; /* request line + fields, line ends included */
    size_t max_target_bytes; /* request target */
    size_t max_headers;      /* field lines */
    uint64_t max_body_bytes; /* decoded chunked body */
} nw_http_parse_limits_t;

typedef enum nw_http_expect {
    NW_HTTP_EXPECT_NONE = 0,
    NW_HTTP_EXPECT_CONTINUE, /* "Expect: 100-continue" */
    NW_HTTP_EXPECT_OTHER,    /* any other expectation (answer 417) */
} nw_http_expect_t;

typedef struct nw_http_header {
    char *name;  /* as sent; compare case-insensitively */
    char *value; /* leading and trailing whitespace removed */
} nw_http_header_t;

/* A complete request head. All strings live in storage, which the head owns
 * (release with nw_http_head_free); the owner may modify them in place. */
typedef struct nw_http_head {
    char *method;
    char *target;
    int version_major;
    int version_minor;
    nw_http_header_t *headers; /* in arrival order, repeats kept apart */
    size_t n_headers;
    bool keep_alive;         /* after Connection and the version default */
    bool chunked;            /* Transfer-Encoding: chunked */
    bool has_content_length; /* Content-Length present (then not chunked) */
    uint64_t content_length; /* 0 when absent */
    nw_http_expect_t expect; /* meaningful for HTTP/1.1 and later only */
    size_t head_bytes;       /* raw bytes of the head, line ends included */
    char *storage;
} nw_http_head_t;

typedef struct nw_http_head_parser nw_http_head_parser_t;
typedef struct nw_http_chunked nw_http_chunked_t;

/* Creates a head parser for one request at a time; lim is copied. Returns
 * NULL on allocation failure. */
nw_http_head_parser_t *nw_http_head_parser_new(const nw_http_parse_limits_t *lim);
void nw_http_head_parser_free(nw_http_head_parser_t *p);

/* Forgets any partial head and takes new limits (NULL keeps the old ones),
 * ready for the next request. */
void nw_http_head_parser_reset(nw_http_head_parser_t *p, const nw_http_parse_limits_t *lim);

/* Feeds data[0..len). Sets *used to the bytes consumed: all of them for
 * NW_HTTP_PARSE_MORE, up to the end of the head for NW_HTTP_PARSE_DONE (the
 * rest is body or the next request). After DONE or ERROR, further feeds
 * consume nothing and repeat the outcome until reset. The outcome does not
 * depend on how the input is split across calls. */
int nw_http_head_parser_feed(nw_http_head_parser_t *p, const char *data, size_t len, size_t *used);

/* True once a byte of the head other than leading empty lines came in. */
bool nw_http_head_parser_started(const nw_http_head_parser_t *p);

/* After NW_HTTP_PARSE_DONE: moves the head into *out (the caller then owns
 * it) and resets the parser with its current limits. Returns 0, or -EINVAL
 * when no head is complete. */
int nw_http_head_parser_take(nw_http_head_parser_t *p, nw_http_head_t *out);

/* After NW_HTTP_PARSE_ERROR: the status to answer with (500 only when memory
 * ran out) and *reason, a static string; 0 when there is no error. */
int nw_http_head_parser_error(const nw_http_head_parser_t *p, const char **reason);

/* Releases what a head owns and zeroes it. Accepts NULL. */
void nw_http_head_free(nw_http_head_t *h);

/* The first value of a header field (name matched case-insensitively), or
 * NULL. */
const char *nw_http_head_get(const nw_http_head_t *h, const char *name);

/* Creates a chunked-body decoder: the body may decode to at most
 * lim->max_body_bytes (else 413) and the trailer section gets the head limits
 * (max_header_bytes, max_headers; else 431). Returns NULL on allocation
 * failure. */
nw_http_chunked_t *nw_http_chunked_new(const nw_http_parse_limits_t *lim);
void nw_http_chunked_free(nw_http_chunked_t *c);
void nw_http_chunked_reset(nw_http_chunked_t *c, const nw_http_parse_limits_t *lim);

/* Decodes data[0..len), consuming framing as it goes. Returns
 * NW_HTTP_PARSE_DATA when it reaches chunk data: the body bytes are then the
 * last *span bytes of the *used bytes consumed (data + *used - *span) — the
 * caller keeps them and calls again with the rest. NW_HTTP_PARSE_DONE once
 * the last chunk and the trailers are read (*used stops at the end of the
 * body), NW_HTTP_PARSE_MORE when everything was consumed, or
 * NW_HTTP_PARSE_ERROR. */
int nw_http_chunked_feed(nw_http_chunked_t *c, const char *data, size_t len, size_t *used,
                         size_t *span);

/* As nw_http_head_parser_error, for the chunked decoder. */
int nw_http_chunked_error(const nw_http_chunked_t *c, const char **reason);

/* Body bytes decoded so far. */
uint64_t nw_http_chunked_body_bytes(const nw_http_chunked_t *c);

/* True if s is a non-empty RFC 9110 token. */
bool nw_http_is_token(const char *s, size_t len);

/* True if the comma-separated list holds token (case-insensitive), as in
 * "Connection: keep-alive, Upgrade". */
bool nw_http_token_list_has(const char *list, const char *token);

/* Percent-decodes s[0..len) with the form convention ('+' is a space) into a
 * malloc'd NUL-terminated string; NULL on invalid encoding, a decoded NUL or
 * allocation failure. */
char *nw_http_form_decode(const char *s, size_t len);

/* Looks name up in a raw query string ("a=1&b=x%20y"): names and values are
 * form-decoded, the first match wins, a parameter without '=' has the value
 * "". Returns 1 with *value malloc'd, 0 when absent, -EINVAL when the
 * matching value is not validly encoded, -ENOMEM. Pairs whose name does not
 * decode are skipped. */
int nw_http_query_find(const char *query, const char *name, char **value);

/* Formats t as an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") into buf,
 * which holds at least 30 bytes. */
void nw_http_format_date(time_t t, char *buf, size_t size);

#endif
