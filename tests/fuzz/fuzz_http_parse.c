/* Newswire — fuzz harness for the pure HTTP request parser
 * (daemon/http_parse.h).
 *
 * The input is a request as received: the head, then (when the head says
 * chunked) the chunked body. Both are fed whole, byte by byte and in
 * pieces of random sizes (drawn from a generator seeded by the input), with
 * two sets of limits: small ones, to reach every limit, and the daemon's
 * defaults. Invariants, beyond "no crash, no leak":
 * - the outcome does not depend on how the input is split: same result,
 *   status and reason, same bytes consumed, same head, same body;
 * - a complete head is within its limits and well formed (token method,
 *   origin-form target, token field names, values without CTLs or
 *   surrounding blanks, not both Content-Length and chunked); a refusal has
 *   one of the documented statuses and a reason; after DONE or ERROR a
 *   feed consumes nothing and repeats the outcome; a parser that was
 *   taken from (or reset) parses the input again as a fresh one would;
 * - the decoded body is within max_body_bytes and its length is
 *   nw_http_chunked_body_bytes;
 * - the query helpers never read past the target: a decoded value is never
 *   longer than its encoding.
 * The input is accepted when, with the default limits, neither the head
 * parser nor the chunked decoder refused it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "fuzz_util.h"
#include "http_parse.h"

static const nw_http_parse_limits_t fuzz_small = {
    .max_header_bytes = 512,
    .max_target_bytes = 64,
    .max_headers = 8,
    .max_body_bytes = 256,
};

/* The daemon's defaults (api_max_header_bytes, 8 KiB targets,
 * api_max_headers, api_max_body). */
static const nw_http_parse_limits_t fuzz_default = {
    .max_header_bytes = 16 * 1024,
    .max_target_bytes = 8 * 1024,
    .max_headers = 64,
    .max_body_bytes = 1024 * 1024,
};

typedef struct fuzz_head {
    int rc;
    int status;
    const char *reason;
    size_t used;
    nw_http_head_t head;
} fuzz_head_t;

typedef struct fuzz_body {
    int rc;
    int status;
    const char *reason;
    size_t used;
    char *data; /* decoded body */
    size_t len;
} fuzz_body_t;

/* The next piece size: 0 means "all that is left". */
static size_t fuzz_step(nw_fuzz_rng_t *rng, int mode)
{
    if (mode == 0)
        return 0;
    if (mode == 1)
        return 1;
    return 1 + (size_t)(nw_fuzz_rng_next(rng) % 24);
}

/* Feeds data to p in pieces until it stops asking; fills o. */
static void fuzz_feed_head(nw_http_head_parser_t *p, const char *data, size_t len, int mode,
                           nw_fuzz_rng_t *rng, fuzz_head_t *o)
{
    int rc = NW_HTTP_PARSE_MORE;
    size_t off = 0;

    memset(o, 0, sizeof(*o));
    while (off < len && rc == NW_HTTP_PARSE_MORE) {
        size_t step = fuzz_step(rng, mode);
        size_t n = step == 0 || step > len - off ? len - off : step;
        size_t used = (size_t)-1;

        rc = nw_http_head_parser_feed(p, data + off, n, &used);
        NW_ASSERT(rc == NW_HTTP_PARSE_MORE || rc == NW_HTTP_PARSE_DONE ||
                  rc == NW_HTTP_PARSE_ERROR);
        NW_ASSERT(used <= n);
        if (rc == NW_HTTP_PARSE_MORE)
            NW_ASSERT(used == n);
        off += used;
    }
    o->rc = rc;
    o->used = off;
    o->status = nw_http_head_parser_error(p, &o->reason);
    if (rc == NW_HTTP_PARSE_ERROR) {
        size_t used = 1;

        NW_ASSERT(o->reason != NULL);
        NW_ASSERT(o->status == 400 || o->status == 413 || o->status == 414 || o->status == 431 ||
                  o->status == 501 || o->status == 505 || o->status == 500);
        NW_ASSERT(nw_http_head_parser_feed(p, "x", 1, &used) == NW_HTTP_PARSE_ERROR && used == 0);
        NW_ASSERT(nw_http_head_parser_take(p, &o->head) == -EINVAL);
    } else {
        NW_ASSERT(o->status == 0 && o->reason == NULL);
    }
    if (rc == NW_HTTP_PARSE_DONE) {
        size_t used = 1;

        NW_ASSERT(nw_http_head_parser_feed(p, "x", 1, &used) == NW_HTTP_PARSE_DONE && used == 0);
        NW_ASSERT(nw_http_head_parser_take(p, &o->head) == 0);
        NW_ASSERT(!nw_http_head_parser_started(p));
    }
}

static void fuzz_same_head(const fuzz_head_t *a, const fuzz_head_t *b)
{
    const nw_http_head_t *x = &a->head, *y = &b->head;

    NW_ASSERT(a->rc == b->rc && a->status == b->status);
    NW_ASSERT((a->reason == NULL) == (b->reason == NULL));
    NW_ASSERT(a->reason == NULL || strcmp(a->reason, b->reason) == 0);
    if (a->rc == NW_HTTP_PARSE_ERROR)
        return; /* where a refusal is noticed may depend on the pieces */
    NW_ASSERT(a->used == b->used);
    if (a->rc != NW_HTTP_PARSE_DONE)
        return;
    NW_ASSERT(strcmp(x->method, y->method) == 0 && strcmp(x->target, y->target) == 0);
    NW_ASSERT(x->version_major == y->version_major && x->version_minor == y->version_minor);
    NW_ASSERT(x->n_headers == y->n_headers);
    for (size_t i = 0; i < x->n_headers; i++) {
        NW_ASSERT(strcmp(x->headers[i].name, y->headers[i].name) == 0);
        NW_ASSERT(strcmp(x->headers[i].value, y->headers[i].value) == 0);
    }
    NW_ASSERT(x->keep_alive == y->keep_alive && x->chunked == y->chunked);
    NW_ASSERT(x->has_content_length == y->has_content_length);
    NW_ASSERT(x->content_length == y->content_length && x->expect == y->expect);
    NW_ASSERT(x->head_bytes == y->head_bytes);
}

/* A complete head is within its limits and well formed. */
static void fuzz_check_head(const fuzz_head_t *o, const nw_http_parse_limits_t *lim)
{
    const nw_http_head_t *h = &o->head;
    size_t tlen = strlen(h->target);

    NW_ASSERT(h->head_bytes == o->used && h->head_bytes <= lim->max_header_bytes);
    NW_ASSERT(nw_http_is_token(h->method, strlen(h->method)));
    NW_ASSERT(tlen <= lim->max_target_bytes);
    NW_ASSERT(h->target[0] == '/' ||
              (strcmp(h->target, "*") == 0 && strcmp(h->method, "OPTIONS") == 0));
    for (size_t i = 0; i < tlen; i++)
        NW_ASSERT((unsigned char)h->target[i] > 0x20 && (unsigned char)h->target[i] < 0x7f);
    NW_ASSERT(h->version_major == 1 && h->version_minor >= 0 && h->version_minor <= 9);
    NW_ASSERT(h->n_headers <= lim->max_headers);
    for (size_t i = 0; i < h->n_headers; i++) {
        const char *v = h->headers[i].value;
        size_t vl = strlen(v);

        NW_ASSERT(nw_http_is_token(h->headers[i].name, strlen(h->headers[i].name)));
        for (size_t k = 0; k < vl; k++) {
            unsigned char c = (unsigned char)v[k];

            NW_ASSERT(c != 0x7f && (c >= 0x20 || c == '\t'));
        }
        NW_ASSERT(vl == 0 ||
                  (v[0] != ' ' && v[0] != '\t' && v[vl - 1] != ' ' && v[vl - 1] != '\t'));
    }
    NW_ASSERT(!(h->chunked && h->has_content_length));
    NW_ASSERT(h->has_content_length || h->content_length == 0);
    NW_ASSERT(nw_http_head_get(h, "content-length") == NULL || h->has_content_length);
}

/* Decodes a chunked body in pieces; fills o (o->data is malloc'd). */
static void fuzz_feed_body(const char *data, size_t len, const nw_http_parse_limits_t *lim,
                           int mode, nw_fuzz_rng_t *rng, fuzz_body_t *o)
{
    nw_http_chunked_t *c = nw_http_chunked_new(lim);
    int rc = NW_HTTP_PARSE_MORE;
    size_t off = 0;

    NW_ASSERT(c != NULL);
    memset(o, 0, sizeof(*o));
    o->data = malloc(len + 1);
    NW_ASSERT(o->data != NULL);
    while (off < len) {
        size_t step = fuzz_step(rng, mode);
        size_t n = step == 0 || step > len - off ? len - off : step;
        size_t used = (size_t)-1, span = (size_t)-1;

        rc = nw_http_chunked_feed(c, data + off, n, &used, &span);
        NW_ASSERT(used <= n);
        if (rc == NW_HTTP_PARSE_DATA) {
            NW_ASSERT(span > 0 && span <= used);
            memcpy(o->data + o->len, data + off + used - span, span);
            o->len += span;
        } else {
            NW_ASSERT(span == 0);
        }
        if (rc == NW_HTTP_PARSE_MORE)
            NW_ASSERT(used == n);
        off += used;
        if (rc == NW_HTTP_PARSE_DONE || rc == NW_HTTP_PARSE_ERROR)
            break;
    }
    /* input ran out in the middle of chunk data: as good as MORE */
    o->rc = rc == NW_HTTP_PARSE_DATA ? NW_HTTP_PARSE_MORE : rc;
    o->used = off;
    o->status = nw_http_chunked_error(c, &o->reason);
    NW_ASSERT(o->len <= lim->max_body_bytes);
    NW_ASSERT(nw_http_chunked_body_bytes(c) == o->len);
    if (rc == NW_HTTP_PARSE_ERROR) {
        NW_ASSERT(o->reason != NULL);
        NW_ASSERT(o->status == 400 || o->status == 413 || o->status == 431);
    }
    if (rc == NW_HTTP_PARSE_DONE || rc == NW_HTTP_PARSE_ERROR) {
        size_t used = 1, span = 1;

        NW_ASSERT(nw_http_chunked_feed(c, "0", 1, &used, &span) == rc && used == 0 && span == 0);
    }
    nw_http_chunked_free(c);
}

static void fuzz_same_body(const fuzz_body_t *a, const fuzz_body_t *b)
{
    NW_ASSERT(a->rc == b->rc && a->status == b->status);
    NW_ASSERT(a->reason == NULL || strcmp(a->reason, b->reason) == 0);
    if (a->rc == NW_HTTP_PARSE_ERROR)
        return;
    NW_ASSERT(a->len == b->len && memcmp(a->data, b->data, a->len) == 0);
    NW_ASSERT(a->rc != NW_HTTP_PARSE_DONE || a->used == b->used);
}

/* The query helpers on the target's query string. */
static void fuzz_check_query(const char *target)
{
    static const char *const names[] = {"topics", "limit", "since", "min_urgency", ""};
    const char *q = strchr(target, '?');
    char *decoded;

    if (q == NULL)
        return;
    q++;
    for (size_t i = 0; i < NW_ARRAY_LEN(names); i++) {
        char *value = (char *)&value; /* must be reset */
        int rc = nw_http_query_find(q, names[i], &value);

        NW_ASSERT(rc == 1 || rc == 0 || rc == -EINVAL || rc == -ENOMEM);
        NW_ASSERT((rc == 1) == (value != NULL));
        NW_ASSERT(value == NULL || strlen(value) <= strlen(q));
        free(value);
    }
    decoded = nw_http_form_decode(q, strlen(q));
    if (decoded != NULL) {
        size_t pct = 0;

        for (const char *s = q; *s != '\0'; s++)
            pct += *s == '%';
        NW_ASSERT(strlen(decoded) == strlen(q) - 2 * pct);
        free(decoded);
    }
}

/* Parses the input with one set of limits; returns true unless refused. */
static bool fuzz_http_run(const char *data, size_t size, const nw_http_parse_limits_t *lim,
                          nw_fuzz_rng_t *rng)
{
    nw_http_head_parser_t *p = nw_http_head_parser_new(lim);
    fuzz_head_t whole, split, again;
    bool accepted;

    NW_ASSERT(p != NULL);
    fuzz_feed_head(p, data, size, 0, rng, &whole);
    for (int mode = 1; mode <= 2; mode++) {
        nw_http_head_parser_t *q = nw_http_head_parser_new(lim);

        NW_ASSERT(q != NULL);
        fuzz_feed_head(q, data, size, mode, rng, &split);
        fuzz_same_head(&whole, &split);
        nw_http_head_free(&split.head);
        nw_http_head_parser_free(q);
    }
    /* the parser reused (reset by take, else explicitly) parses like a new one */
    if (whole.rc != NW_HTTP_PARSE_DONE)
        nw_http_head_parser_reset(p, NULL);
    fuzz_feed_head(p, data, size, 0, rng, &again);
    fuzz_same_head(&whole, &again);
    nw_http_head_free(&again.head);
    nw_http_head_parser_free(p);

    accepted = whole.rc != NW_HTTP_PARSE_ERROR;
    if (whole.rc == NW_HTTP_PARSE_DONE) {
        const char *conn = nw_http_head_get(&whole.head, "connection");

        fuzz_check_head(&whole, lim);
        fuzz_check_query(whole.head.target);
        (void)nw_http_token_list_has(conn ? conn : "", "close");
    }
    if (whole.rc == NW_HTTP_PARSE_DONE && whole.head.chunked) {
        fuzz_body_t b1, b2;

        fuzz_feed_body(data + whole.used, size - whole.used, lim, 0, rng, &b1);
        for (int mode = 1; mode <= 2; mode++) {
            fuzz_feed_body(data + whole.used, size - whole.used, lim, mode, rng, &b2);
            fuzz_same_body(&b1, &b2);
            free(b2.data);
        }
        accepted = b1.rc != NW_HTTP_PARSE_ERROR;
        free(b1.data);
    }
    nw_http_head_free(&whole.head);
    return accepted;
}

bool nw_fuzz_http_parse(const uint8_t *data, size_t size)
{
    nw_fuzz_rng_t rng;

    nw_fuzz_rng_seed(&rng, data, size);
    (void)fuzz_http_run((const char *)data, size, &fuzz_small, &rng);
    return fuzz_http_run((const char *)data, size, &fuzz_default, &rng);
}

NW_FUZZ_ENTRY(nw_fuzz_http_parse)
