/* Unit tests for daemon/http_parse.c: the request-head parser, the chunked
 * decoder and the text helpers. Every parse runs three times — whole, byte by
 * byte and in 7-byte pieces — and the outcomes must agree. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http.h"
#include "http_parse.h"

static const nw_http_parse_limits_t test_limits = {
    .max_header_bytes = 1024,
    .max_target_bytes = 64,
    .max_headers = 8,
    .max_body_bytes = 1000,
};

typedef struct head_outcome {
    int rc;
    int status;
    const char *reason;
    size_t used;
    nw_http_head_t head;
} head_outcome_t;

/* Feeds data in pieces of step bytes until the parser stops asking. */
static void head_run(const char *data, size_t len, const nw_http_parse_limits_t *lim, size_t step,
                     head_outcome_t *o)
{
    nw_http_head_parser_t *p = nw_http_head_parser_new(lim);
    int rc = NW_HTTP_PARSE_MORE;
    size_t off = 0;

    assert_non_null(p);
    memset(o, 0, sizeof(*o));
    while (off < len && rc == NW_HTTP_PARSE_MORE) {
        size_t n = len - off < step ? len - off : step;
        size_t used = 0;
        rc = nw_http_head_parser_feed(p, data + off, n, &used);
        if (rc == NW_HTTP_PARSE_MORE)
            assert_int_equal(used, n);
        assert_true(used <= n);
        off += used;
    }
    o->rc = rc;
    o->used = off;
    o->status = nw_http_head_parser_error(p, &o->reason);
    if (rc == NW_HTTP_PARSE_DONE)
        assert_int_equal(nw_http_head_parser_take(p, &o->head), 0);
    else
        assert_int_equal(nw_http_head_parser_take(p, &o->head), -EINVAL);
    nw_http_head_parser_free(p);
}

static void head_assert_same(const head_outcome_t *a, const head_outcome_t *b)
{
    assert_int_equal(a->rc, b->rc);
    assert_int_equal(a->status, b->status);
    if (a->rc != NW_HTTP_PARSE_ERROR)
        assert_int_equal(a->used, b->used);
    if (a->reason || b->reason)
        assert_string_equal(a->reason, b->reason);
    if (a->rc != NW_HTTP_PARSE_DONE)
        return;
    assert_string_equal(a->head.method, b->head.method);
    assert_string_equal(a->head.target, b->head.target);
    assert_int_equal(a->head.version_minor, b->head.version_minor);
    assert_int_equal(a->head.n_headers, b->head.n_headers);
    for (size_t i = 0; i < a->head.n_headers; i++) {
        assert_string_equal(a->head.headers[i].name, b->head.headers[i].name);
        assert_string_equal(a->head.headers[i].value, b->head.headers[i].value);
    }
    assert_int_equal(a->head.keep_alive, b->head.keep_alive);
    assert_int_equal(a->head.chunked, b->head.chunked);
    assert_int_equal(a->head.has_content_length, b->head.has_content_length);
    assert_int_equal(a->head.content_length, b->head.content_length);
    assert_int_equal(a->head.expect, b->head.expect);
    assert_int_equal(a->head.head_bytes, b->head.head_bytes);
}

/* Parses s with lim (or the test limits) three ways; returns the whole-input
 * outcome in *o (the caller frees o->head). */
static void head_parse_lim(const char *s, const nw_http_parse_limits_t *lim, head_outcome_t *o)
{
    head_outcome_t bytewise, pieces;
    size_t len = strlen(s);

    head_run(s, len, lim, len ? len : 1, o);
    head_run(s, len, lim, 1, &bytewise);
    head_run(s, len, lim, 7, &pieces);
    head_assert_same(o, &bytewise);
    head_assert_same(o, &pieces);
    nw_http_head_free(&bytewise.head);
    nw_http_head_free(&pieces.head);
}

static void head_parse(const char *s, head_outcome_t *o)
{
    head_parse_lim(s, &test_limits, o);
}

/* Asserts that s is refused with status. */
static void expect_refused(const char *s, int status)
{
    head_outcome_t o;

    head_parse(s, &o);
    if (o.rc != NW_HTTP_PARSE_ERROR || o.status != status)
        fail_msg("request %s: rc %d status %d (%s), wanted %d", s, o.rc, o.status,
                 o.reason ? o.reason : "-", status);
    assert_non_null(o.reason);
    nw_http_head_free(&o.head);
}

static void test_get(void **state)
{
    const char *s = "GET /items/1?q=a%20b&x HTTP/1.1\r\nHost: example.org\r\n"
                    "User-Agent:  curl/7.88 \r\nAccept: */*\r\n\r\n";
    head_outcome_t o;

    head_parse(s, &o);
    assert_int_equal(o.rc, NW_HTTP_PARSE_DONE);
    assert_int_equal(o.used, strlen(s));
    assert_string_equal(o.head.method, "GET");
    assert_string_equal(o.head.target, "/items/1?q=a%20b&x");
    assert_int_equal(o.head.version_major, 1);
    assert_int_equal(o.head.version_minor, 1);
    assert_int_equal(o.head.n_headers, 3);
    assert_string_equal(o.head.headers[1].name, "User-Agent");
    assert_string_equal(o.head.headers[1].value, "curl/7.88");
    assert_string_equal(nw_http_head_get(&o.head, "host"), "example.org");
    assert_null(nw_http_head_get(&o.head, "cookie"));
    assert_true(o.head.keep_alive);
    assert_false(o.head.chunked);
    assert_false(o.head.has_content_length);
    assert_int_equal(o.head.expect, NW_HTTP_EXPECT_NONE);
    assert_int_equal(o.head.head_bytes, strlen(s));
    nw_http_head_free(&o.head);
}

static void test_post_content_length(void **state)
{
    const char *s = "POST /items HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                    "Content-Length: 5\r\nExpect: 100-continue\r\n\r\nhello";
    head_outcome_t o;

    head_parse(s, &o);
    assert_int_equal(o.rc, NW_HTTP_PARSE_DONE);
    assert_int_equal(o.used, strlen(s) - 5);
    assert_true(o.head.has_content_length);
    assert_int_equal(o.head.content_length, 5);
    assert_int_equal(o.head.expect, NW_HTTP_EXPECT_CONTINUE);
    nw_http_head_free(&o.head);
}

static void test_http10_and_connection(void **state)
{
    head_outcome_t o;

    head_parse("GET / HTTP/1.0\r\n\r\n", &o);
    assert_int_equal(o.rc, NW_HTTP_PARSE_DONE);
    assert_int_equal(o.head.version_minor, 0);
    assert_false(o.head.keep_alive);
    nw_http_head_free(&o.head);

    head_parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\nExpect: 100-continue\r\n\r\n", &o);
    assert_true(o.head.keep_alive);
    assert_int_equal(o.head.expect, NW_HTTP_EXPECT_NONE); /* ignored in 1.0 */
    nw_http_head_free(&o.head);

    head_parse("GET / HTTP/1.1\r\nConnection: upgrade, CLOSE\r\n\r\n", &o);
    assert_false(o.head.keep_alive);
    nw_http_head_free(&o.head);

    head_parse("GET / HTTP/1.1\r\nConnection: closed\r\nExpect: 200-ok\r\n\r\n", &o);
    assert_true(o.head.keep_alive);
    assert_int_equal(o.head.expect, NW_HTTP_EXPECT_OTHER);
    nw_http_head_free(&o.head);
}

static void test_bare_lf_and_leading_empty_lines(void **state)
{
    head_outcome_t o;

    head_parse("\r\n\nDELETE /x HTTP/1.1\nHost: a\nX-Empty:\n\nrest", &o);
    assert_int_equal(o.rc, NW_HTTP_PARSE_DONE);
    assert_string_equal(o.head.method, "DELETE");
    assert_int_equal(o.head.n_headers, 2);
    assert_string_equal(o.head.headers[1].value, "");
    assert_int_equal(o.used, strlen("\r\n\nDELETE /x HTTP/1.1\nHost: a\nX-Empty:\n\n"));
    nw_http_head_free(&o.head);
}

static void test_options_star(void **state)
{
    head_outcome_t o;

    head_parse("OPTIONS * HTTP/1.1\r\n\r\n", &o);
    assert_int_equal(o.rc, NW_HTTP_PARSE_DONE);
    assert_string_equal(o.head.target, "*");
    nw_http_head_free(&o.head);
    expect_refused("GET * HTTP/1.1\r\n\r\n", 400);
}

static void test_incomplete_and_started(void **state)
{
    nw_http_head_parser_t *p = nw_http_head_parser_new(&test_limits);
    size_t used;

    assert_non_null(p);
    assert_int_equal(nw_http_head_parser_feed(p, "\r\n", 2, &used), NW_HTTP_PARSE_MORE);
    assert_false(nw_http_head_parser_started(p));
    assert_int_equal(nw_http_head_parser_feed(p, "GET / HT", 8, &used), NW_HTTP_PARSE_MORE);
    assert_int_equal(used, 8);
    assert_true(nw_http_head_parser_started(p));
    assert_int_equal(nw_http_head_parser_error(p, NULL), 0);
    nw_http_head_parser_free(p);
}

static void test_parser_reuse(void **state)
{
    const char *two = "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\nX: y\r\n\r\n";
    nw_http_head_parser_t *p = nw_http_head_parser_new(&test_limits);
    nw_http_head_t h;
    size_t used, used2;

    assert_non_null(p);
    assert_int_equal(nw_http_head_parser_feed(p, two, strlen(two), &used), NW_HTTP_PARSE_DONE);
    assert_int_equal(nw_http_head_parser_feed(p, two, strlen(two), &used2), NW_HTTP_PARSE_DONE);
    assert_int_equal(used2, 0);
    assert_int_equal(nw_http_head_parser_take(p, &h), 0);
    assert_string_equal(h.target, "/a");
    nw_http_head_free(&h);
    assert_int_equal(nw_http_head_parser_feed(p, two + used, strlen(two) - used, &used2),
                     NW_HTTP_PARSE_DONE);
    assert_int_equal(used + used2, strlen(two));
    assert_int_equal(nw_http_head_parser_take(p, &h), 0);
    assert_string_equal(h.target, "/b");
    assert_string_equal(nw_http_head_get(&h, "x"), "y");
    nw_http_head_free(&h);
    nw_http_head_free(NULL);
    nw_http_head_parser_free(p);
    nw_http_head_parser_free(NULL);
}

static void test_request_line_errors(void **state)
{
    expect_refused("G@T / HTTP/1.1\r\n\r\n", 400);
    expect_refused(" GET / HTTP/1.1\r\n\r\n", 400);
    expect_refused("GET\r\n\r\n", 400);
    expect_refused("GET /\r\n\r\n", 400);
    expect_refused("GET / \r\n\r\n", 400);
    expect_refused("GET  / HTTP/1.1\r\n\r\n", 400);
    expect_refused("GET / HTTP/1.1 \r\n\r\n", 400);
    expect_refused("GET / http/1.1\r\n\r\n", 400);
    expect_refused("GET / HTTP/1.10\r\n\r\n", 400);
    expect_refused("GET / HTTP/2.0\r\n\r\n", 505);
    expect_refused("GET / HTTP/0.9\r\n\r\n", 505);
    expect_refused("GET http://example.org/ HTTP/1.1\r\n\r\n", 400);
    expect_refused("GET /a\x01 HTTP/1.1\r\n\r\n", 400);
    expect_refused("GET /\xc3\xa9 HTTP/1.1\r\n\r\n", 400);
    expect_refused("GET / HTTP/1.1\rX\r\n\r\n", 400);
}

static void test_target_too_long(void **state)
{
    char s[512];
    head_outcome_t o;

    /* Exactly at the limit is fine. */
    snprintf(s, sizeof(s), "GET /%063d HTTP/1.1\r\n\r\n", 0);
    head_parse(s, &o);
    assert_int_equal(o.rc, NW_HTTP_PARSE_DONE);
    nw_http_head_free(&o.head);
    snprintf(s, sizeof(s), "GET /%064d HTTP/1.1\r\n\r\n", 0);
    expect_refused(s, 414);
    /* Refused before the line ends. */
    snprintf(s, sizeof(s), "GET /%0100d", 0);
    expect_refused(s, 414);
}

static void test_header_limits(void **state)
{
    char s[4096];
    size_t n;
    head_outcome_t o;

    n = (size_t)snprintf(s, sizeof(s), "GET / HTTP/1.1\r\nX-Big: ");
    memset(s + n, 'a', 1100);
    s[n + 1100] = '\0';
    expect_refused(s, 431);

    n = (size_t)snprintf(s, sizeof(s), "GET / HTTP/1.1\r\n");
    for (int i = 0; i < 8; i++)
        n += (size_t)snprintf(s + n, sizeof(s) - n, "X-%d: %d\r\n", i, i);
    snprintf(s + n, sizeof(s) - n, "\r\n");
    head_parse(s, &o);
    assert_int_equal(o.rc, NW_HTTP_PARSE_DONE);
    assert_int_equal(o.head.n_headers, 8);
    nw_http_head_free(&o.head);
    snprintf(s + n, sizeof(s) - n, "X-9: 9\r\n\r\n");
    expect_refused(s, 431);

    /* Endless empty lines before the request line count too. */
    memset(s, '\n', 2000);
    s[2000] = '\0';
    expect_refused(s, 431);
}

static void test_header_syntax_errors(void **state)
{
    expect_refused("GET / HTTP/1.1\r\nX-A: a\r\n  folded\r\n\r\n", 400);
    expect_refused("GET / HTTP/1.1\r\n\tfolded\r\n\r\n", 400);
    expect_refused("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400);
    expect_refused("GET / HTTP/1.1\r\nHost\t: x\r\n\r\n", 400);
    expect_refused("GET / HTTP/1.1\r\nNo colon\r\n\r\n", 400);
    expect_refused("GET / HTTP/1.1\r\n: empty\r\n\r\n", 400);
    expect_refused("GET / HTTP/1.1\r\nBad(name): x\r\n\r\n", 400);
    expect_refused("GET / HTTP/1.1\r\nX: a\x01z\r\n\r\n", 400);
    expect_refused("GET / HTTP/1.1\r\nX: a\rz\r\n\r\n", 400);
    expect_refused("GET / HTTP/1.1\r\nX: a\x7fz\r\n\r\n", 400);
    expect_refused("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
}

static void test_framing_errors(void **state)
{
    head_outcome_t o;

    expect_refused("POST / HTTP/1.1\r\nContent-Length: 12a\r\n\r\n", 400);
    expect_refused("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400);
    expect_refused("POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n", 400);
    expect_refused("POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", 400);
    expect_refused("POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n", 400);
    expect_refused("POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n", 400);
    expect_refused("POST / HTTP/1.1\r\nContent-Length: 1000000000000001\r\n\r\n", 400);
    expect_refused("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400);
    expect_refused("POST / HTTP/1.1\r\nContent-Length: 5\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n",
                   400);
    expect_refused("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501);
    expect_refused("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501);
    expect_refused("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n",
                   501);

    head_parse("POST / HTTP/1.1\r\nContent-Length: 1000000000000000\r\n\r\n", &o);
    assert_int_equal(o.rc, NW_HTTP_PARSE_DONE);
    assert_int_equal(o.head.content_length, 1000000000000000ULL);
    nw_http_head_free(&o.head);
    head_parse("POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n", &o);
    assert_int_equal(o.rc, NW_HTTP_PARSE_DONE);
    assert_true(o.head.chunked);
    nw_http_head_free(&o.head);
}

typedef struct chunk_outcome {
    int rc;
    int status;
    size_t used;
    char body[2048];
    size_t body_len;
} chunk_outcome_t;

static void chunk_run(const char *data, size_t len, const nw_http_parse_limits_t *lim, size_t step,
                      chunk_outcome_t *o)
{
    nw_http_chunked_t *c = nw_http_chunked_new(lim);
    int rc = NW_HTTP_PARSE_MORE;
    size_t off = 0;

    assert_non_null(c);
    memset(o, 0, sizeof(*o));
    while (off < len && (rc == NW_HTTP_PARSE_MORE || rc == NW_HTTP_PARSE_DATA)) {
        size_t n = len - off < step ? len - off : step;
        size_t used = 0, span = 0;
        rc = nw_http_chunked_feed(c, data + off, n, &used, &span);
        assert_true(used <= n && span <= used);
        if (rc == NW_HTTP_PARSE_DATA) {
            assert_true(span > 0 && o->body_len + span <= sizeof(o->body));
            memcpy(o->body + o->body_len, data + off + used - span, span);
            o->body_len += span;
        } else {
            assert_int_equal(span, 0);
        }
        off += used;
    }
    o->rc = rc == NW_HTTP_PARSE_DATA ? NW_HTTP_PARSE_MORE : rc;
    o->used = off;
    o->status = nw_http_chunked_error(c, NULL);
    if (rc != NW_HTTP_PARSE_ERROR)
        assert_int_equal(nw_http_chunked_body_bytes(c), o->body_len);
    nw_http_chunked_free(c);
}

static void chunk_parse_lim(const char *s, size_t len, const nw_http_parse_limits_t *lim,
                            chunk_outcome_t *o)
{
    static chunk_outcome_t b, p;

    chunk_run(s, len, lim, len, o);
    chunk_run(s, len, lim, 1, &b);
    chunk_run(s, len, lim, 7, &p);
    assert_int_equal(o->rc, b.rc);
    assert_int_equal(o->rc, p.rc);
    assert_int_equal(o->status, b.status);
    assert_int_equal(o->status, p.status);
    if (o->rc != NW_HTTP_PARSE_ERROR) {
        assert_int_equal(o->used, b.used);
        assert_int_equal(o->used, p.used);
        assert_int_equal(o->body_len, b.body_len);
        assert_memory_equal(o->body, b.body, o->body_len);
        assert_memory_equal(o->body, p.body, o->body_len);
    }
}

static void chunk_parse(const char *s, chunk_outcome_t *o)
{
    chunk_parse_lim(s, strlen(s), &test_limits, o);
}

static void test_chunked_valid(void **state)
{
    static chunk_outcome_t o;
    const char *s = "4;name=value;x=\"q\"\r\nWiki\r\n5 ; ext\r\npedia\r\nE\r\n in\r\n\r\nchunks."
                    "\r\n0;last\r\nX-Trailer: yes\r\nX-Other: 2\r\n\r\nGET /next";

    chunk_parse(s, &o);
    assert_int_equal(o.rc, NW_HTTP_PARSE_DONE);
    assert_int_equal(o.used, strlen(s) - strlen("GET /next"));
    assert_int_equal(o.body_len, 23);
    assert_memory_equal(o.body, "Wikipedia in\r\n\r\nchunks.", 23);

    chunk_parse("a\nabcdefghij\n00\n\n", &o); /* bare LF, uppercase-free hex, zeros */
    assert_int_equal(o.rc, NW_HTTP_PARSE_DONE);
    assert_int_equal(o.body_len, 10);

    chunk_parse("0\r\n\r\n", &o);
    assert_int_equal(o.rc, NW_HTTP_PARSE_DONE);
    assert_int_equal(o.body_len, 0);

    chunk_parse("3\r\nabc\r\n", &o);
    assert_int_equal(o.rc, NW_HTTP_PARSE_MORE);
    assert_int_equal(o.body_len, 3);
}

static void expect_chunk_refused(const char *s, int status)
{
    static chunk_outcome_t o;

    chunk_parse(s, &o);
    if (o.rc != NW_HTTP_PARSE_ERROR || o.status != status)
        fail_msg("chunked %s: rc %d status %d, wanted %d", s, o.rc, o.status, status);
}

static void test_chunked_errors(void **state)
{
    static chunk_outcome_t o;

    expect_chunk_refused("zz\r\n", 400);
    expect_chunk_refused("\r\n", 400);
    expect_chunk_refused(";ext\r\n", 400);
    expect_chunk_refused("0x5\r\nabcde\r\n", 400);
    expect_chunk_refused("5\r\nabcdeX\r\n", 400);
    expect_chunk_refused("5\r\nabcde\rX", 400);
    expect_chunk_refused("5\rX", 400);
    expect_chunk_refused("5;a\x01\r\n", 400);
    expect_chunk_refused("fffffffffffffffffffff\r\n", 413);
    expect_chunk_refused("3e9\r\n", 413);
    expect_chunk_refused("3E9\r\n", 413);
    chunk_parse("3e8\r\n", &o); /* exactly the limit */
    assert_int_equal(o.rc, NW_HTTP_PARSE_MORE);
}

static void test_chunked_limits(void **state)
{
    static char s[8192];
    static chunk_outcome_t o;
    size_t n = 0;

    /* 600 + 400 = 1000 bytes fit; one more byte does not. */
    n += (size_t)snprintf(s + n, sizeof(s) - n, "258\r\n");
    memset(s + n, 'a', 600);
    n += 600;
    n += (size_t)snprintf(s + n, sizeof(s) - n, "\r\n190\r\n");
    memset(s + n, 'b', 400);
    n += 400;
    n += (size_t)snprintf(s + n, sizeof(s) - n, "\r\n0\r\n\r\n");
    chunk_parse_lim(s, n, &test_limits, &o);
    assert_int_equal(o.rc, NW_HTTP_PARSE_DONE);
    assert_int_equal(o.body_len, 1000);
    n -= strlen("0\r\n\r\n");
    n += (size_t)snprintf(s + n, sizeof(s) - n, "1\r\nc\r\n0\r\n\r\n");
    chunk_parse_lim(s, n, &test_limits, &o);
    assert_int_equal(o.rc, NW_HTTP_PARSE_ERROR);
    assert_int_equal(o.status, 413);

    /* Trailers: at most max_headers lines and max_header_bytes bytes. */
    n = (size_t)snprintf(s, sizeof(s), "0\r\n");
    for (int i = 0; i < 9; i++)
        n += (size_t)snprintf(s + n, sizeof(s) - n, "T%d: x\r\n", i);
    n += (size_t)snprintf(s + n, sizeof(s) - n, "\r\n");
    chunk_parse_lim(s, n, &test_limits, &o);
    assert_int_equal(o.status, 431);
    n = (size_t)snprintf(s, sizeof(s), "0\r\nT: ");
    memset(s + n, 'x', 1100);
    n += 1100;
    chunk_parse_lim(s, n, &test_limits, &o);
    assert_int_equal(o.status, 431);

    /* Extensions are bounded. */
    n = (size_t)snprintf(s, sizeof(s), "1;");
    memset(s + n, 'e', 5000);
    n += 5000;
    chunk_parse_lim(s, n, &test_limits, &o);
    assert_int_equal(o.status, 400);
}

static void test_pct_decode(void **state)
{
    char *s;

    s = nw_http_pct_decode("a%20b+c%2Fd%e2%82%AC", 20);
    assert_string_equal(s, "a b+c/d\xe2\x82\xac");
    free(s);
    s = nw_http_form_decode("a%20b+c", 7);
    assert_string_equal(s, "a b c");
    free(s);
    s = nw_http_pct_decode("", 0);
    assert_string_equal(s, "");
    free(s);
    assert_null(nw_http_pct_decode("%zz", 3));
    assert_null(nw_http_pct_decode("ab%2", 4));
    assert_null(nw_http_pct_decode("ab%", 3));
    assert_null(nw_http_pct_decode("a%00b", 5));
    /* Only len bytes are read. */
    s = nw_http_pct_decode("ab%41", 2);
    assert_string_equal(s, "ab");
    free(s);
}

static void test_query_find(void **state)
{
    const char *q = "topic=world%2Feurope&limit=10&flag&topic=second&name=J+Doe&bad=%zz&"
                    "%6Bey=encoded&&=empty";
    char *v;

    assert_int_equal(nw_http_query_find(q, "topic", &v), 1);
    assert_string_equal(v, "world/europe");
    free(v);
    assert_int_equal(nw_http_query_find(q, "flag", &v), 1);
    assert_string_equal(v, "");
    free(v);
    assert_int_equal(nw_http_query_find(q, "name", &v), 1);
    assert_string_equal(v, "J Doe");
    free(v);
    assert_int_equal(nw_http_query_find(q, "key", &v), 1);
    assert_string_equal(v, "encoded");
    free(v);
    assert_int_equal(nw_http_query_find(q, "bad", &v), -EINVAL);
    assert_null(v);
    assert_int_equal(nw_http_query_find(q, "absent", &v), 0);
    assert_null(v);
    assert_int_equal(nw_http_query_find(q, "", &v), 1);
    assert_string_equal(v, "empty");
    free(v);
    assert_int_equal(nw_http_query_find("", "a", &v), 0);
}

static void test_helpers(void **state)
{
    char date[40];

    assert_true(nw_http_token_list_has("keep-alive, Upgrade", "upgrade"));
    assert_true(nw_http_token_list_has(" close ", "close"));
    assert_true(nw_http_token_list_has("a,,close,", "close"));
    assert_false(nw_http_token_list_has("closed, xclose", "close"));
    assert_false(nw_http_token_list_has("", "close"));
    assert_true(nw_http_is_token("X-Custom_1.2~", 13));
    assert_false(nw_http_is_token("a b", 3));
    assert_false(nw_http_is_token("", 0));
    nw_http_format_date(784111777, date, sizeof(date));
    assert_string_equal(date, "Sun, 06 Nov 1994 08:49:37 GMT");
    assert_string_equal(nw_http_status_text(413), "Content Too Large");
    assert_string_equal(nw_http_status_text(431), "Request Header Fields Too Large");
    assert_string_equal(nw_http_status_text(299), "Unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get),
        cmocka_unit_test(test_post_content_length),
        cmocka_unit_test(test_http10_and_connection),
        cmocka_unit_test(test_bare_lf_and_leading_empty_lines),
        cmocka_unit_test(test_options_star),
        cmocka_unit_test(test_incomplete_and_started),
        cmocka_unit_test(test_parser_reuse),
        cmocka_unit_test(test_request_line_errors),
        cmocka_unit_test(test_target_too_long),
        cmocka_unit_test(test_header_limits),
        cmocka_unit_test(test_header_syntax_errors),
        cmocka_unit_test(test_framing_errors),
        cmocka_unit_test(test_chunked_valid),
        cmocka_unit_test(test_chunked_errors),
        cmocka_unit_test(test_chunked_limits),
        cmocka_unit_test(test_pct_decode),
        cmocka_unit_test(test_query_find),
        cmocka_unit_test(test_helpers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
