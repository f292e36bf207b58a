/* Unit tests for the newswire command's HTTP pieces: the response parser
 * (clients/cli/http_reply.c) and URL parsing and encoding
 * (clients/cli/url.c). Every response is parsed three times — whole, byte
 * by byte and in 7-byte pieces — and the outcomes must agree. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http_reply.h"
#include "url.h"

typedef struct outcome {
    int rc;      /* last feed (or eof) result */
    size_t used; /* bytes consumed in all */
    int status;
    char body[4096];
    size_t body_len;
    char header[256]; /* the header asked for, or "" */
    long retry_after;
} outcome_t;

/* Feeds data in pieces of step bytes; at_eof adds the end of the
 * connection when the parser still wants more. */
static void run_step(const char *data, size_t len, size_t step, bool at_eof, size_t max_body,
                     const char *header, outcome_t *o)
{
    nw_http_reply_t *r = nw_http_reply_new(max_body);
    size_t off = 0;
    int rc = NW_HTTP_REPLY_MORE;

    assert_non_null(r);
    memset(o, 0, sizeof(*o));
    while (off < len && rc == NW_HTTP_REPLY_MORE) {
        size_t n = len - off < step ? len - off : step, used = 0;
        rc = nw_http_reply_feed(r, data + off, n, &used);
        assert_true(used <= n);
        if (rc == NW_HTTP_REPLY_MORE)
            assert_int_equal(used, n);
        off += used;
    }
    if (rc == NW_HTTP_REPLY_MORE && at_eof)
        rc = nw_http_reply_eof(r);
    o->rc = rc;
    o->used = off;
    o->status = nw_http_reply_status(r);
    if (rc == NW_HTTP_REPLY_DONE) {
        size_t blen;
        const char *b = nw_http_reply_body(r, &blen);
        assert_true(blen < sizeof(o->body));
        memcpy(o->body, b, blen);
        o->body_len = blen;
        assert_int_equal(b[blen], '\0');
    } else if (rc < 0) {
        assert_true(nw_http_reply_error(r)[0] != '\0');
    }
    if (header != NULL && nw_http_reply_header(r, header) != NULL)
        snprintf(o->header, sizeof(o->header), "%s", nw_http_reply_header(r, header));
    o->retry_after = nw_http_reply_retry_after(r);
    nw_http_reply_free(r);
}

/* Parses whole, byte by byte and in 7-byte pieces; checks they agree and
 * returns the whole-buffer outcome. */
static outcome_t parse(const char *data, bool at_eof, size_t max_body, const char *header)
{
    size_t len = strlen(data);
    outcome_t whole, bytes, sevens;

    run_step(data, len, len ? len : 1, at_eof, max_body, header, &whole);
    run_step(data, len, 1, at_eof, max_body, header, &bytes);
    run_step(data, len, 7, at_eof, max_body, header, &sevens);
    assert_int_equal(whole.rc, bytes.rc);
    assert_int_equal(whole.rc, sevens.rc);
    if (whole.rc >= 0) { /* after an error, how far it read is not told */
        assert_int_equal(whole.used, bytes.used);
        assert_int_equal(whole.used, sevens.used);
    }
    assert_int_equal(whole.status, bytes.status);
    assert_int_equal(whole.body_len, bytes.body_len);
    assert_int_equal(whole.body_len, sevens.body_len);
    assert_memory_equal(whole.body, bytes.body, whole.body_len);
    assert_memory_equal(whole.body, sevens.body, whole.body_len);
    assert_string_equal(whole.header, sevens.header);
    return whole;
}

static void test_content_length(void **state)
{
    const char *resp = "HTTP/1.1 202 Accepted\r\n"
                       "Content-Type: application/json\r\n"
                       "Content-Length: 11\r\n"
                       "\r\n"
                       "{\"ok\":true}";
    outcome_t o = parse(resp, false, 1000, "content-type");

    assert_int_equal(o.rc, NW_HTTP_REPLY_DONE);
    assert_int_equal(o.status, 202);
    assert_int_equal(o.body_len, 11);
    assert_memory_equal(o.body, "{\"ok\":true}", 11);
    assert_string_equal(o.header, "application/json");
    assert_int_equal(o.used, strlen(resp));
    assert_int_equal(o.retry_after, -1);
}

static void test_trailing_bytes_not_consumed(void **state)
{
    const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA";
    outcome_t o = parse(resp, false, 1000, NULL);

    assert_int_equal(o.rc, NW_HTTP_REPLY_DONE);
    assert_int_equal(o.used, strlen(resp) - 5);
    assert_int_equal(o.body_len, 2);
}

static void test_zero_length_and_no_body_statuses(void **state)
{
    outcome_t o = parse("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false, 10, NULL);
    assert_int_equal(o.rc, NW_HTTP_REPLY_DONE);
    assert_int_equal(o.body_len, 0);

    /* 204 and 304 have no body whatever the fields say */
    o = parse("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", false, 10, NULL);
    assert_int_equal(o.rc, NW_HTTP_REPLY_DONE);
    assert_int_equal(o.status, 204);
    o = parse("HTTP/1.1 304 Not Modified\r\n\r\n", false, 10, NULL);
    assert_int_equal(o.rc, NW_HTTP_REPLY_DONE);
}

static void test_bare_lf_and_case(void **state)
{
    outcome_t o = parse("HTTP/1.0 404 Not Found\ncontent-LENGTH:   3  \nX: y\n\nabc", false, 10,
                        "Content-Length");

    assert_int_equal(o.rc, NW_HTTP_REPLY_DONE);
    assert_int_equal(o.status, 404);
    assert_string_equal(o.header, "3");
    assert_memory_equal(o.body, "abc", 3);
}

static void test_status_line_without_reason(void **state)
{
    outcome_t o =
        parse("HTTP/1.1 503\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n", false, 10, NULL);

    assert_int_equal(o.rc, NW_HTTP_REPLY_DONE);
    assert_int_equal(o.status, 503);
    assert_int_equal(o.retry_after, 7);

    o = parse("HTTP/1.1 503 Busy\r\nRetry-After: Fri, 27 Nov 2026 09:00:00 GMT\r\n"
              "Content-Length: 0\r\n\r\n",
              false, 10, NULL);
    assert_int_equal(o.retry_after, -1); /* a date: not honoured */
}

static void test_chunked(void **state)
{
    const char *resp = "HTTP/1.1 200 OK\r\n"
                       "Transfer-Encoding: chunked\r\n"
                       "\r\n"
                       "5\r\nhello\r\n"
                       "1;ext=1\r\n,\r\n"
                       "A \r\n world!!!!\r\n"
                       "0\r\n"
                       "Trailer: x\r\n"
                       "\r\n";
    outcome_t o = parse(resp, false, 1000, NULL);

    assert_int_equal(o.rc, NW_HTTP_REPLY_DONE);
    assert_int_equal(o.body_len, 16);
    assert_memory_equal(o.body, "hello, world!!!!", 16);
    assert_int_equal(o.used, strlen(resp));
}

static void test_chunked_wins_over_length(void **state)
{
    outcome_t o = parse("HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: gzip, "
                        "chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
                        false, 1000, NULL);

    assert_int_equal(o.rc, NW_HTTP_REPLY_DONE);
    assert_int_equal(o.body_len, 2);
}

static void test_body_until_close(void **state)
{
    outcome_t o = parse("HTTP/1.1 200 OK\r\n\r\nall of it", true, 1000, NULL);

    assert_int_equal(o.rc, NW_HTTP_REPLY_DONE);
    assert_int_equal(o.body_len, 9);

    /* without the close it is not complete */
    o = parse("HTTP/1.1 200 OK\r\n\r\nall of it", false, 1000, NULL);
    assert_int_equal(o.rc, NW_HTTP_REPLY_MORE);
}

static void test_interim_responses_skipped(void **state)
{
    outcome_t o = parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\n"
                        "HTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nx",
                        false, 10, "Link");

    assert_int_equal(o.rc, NW_HTTP_REPLY_DONE);
    assert_int_equal(o.status, 201);
    assert_string_equal(o.header, ""); /* the interim fields are gone */
}

static void test_truncated(void **state)
{
    outcome_t o = parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", true, 100, NULL);
    assert_int_equal(o.rc, -EPROTO);

    o = parse("HTTP/1.1 200 OK\r\nContent-Le", true, 100, NULL);
    assert_int_equal(o.rc, -EPROTO);
    assert_int_equal(o.status, 0);

    o = parse("", true, 100, NULL);
    assert_int_equal(o.rc, -EPROTO);

    o = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", true, 100, NULL);
    assert_int_equal(o.rc, -EPROTO);
}

static void test_malformed(void **state)
{
    static const char *bad[] = {
        "HTTP/2 200 OK\r\n\r\n",
        "ICY 200 OK\r\n\r\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/1.1 099 Low\r\n\r\n",
        "HTTP/1.1 600 High\r\n\r\n",
        "HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n",
        "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
        "HTTP/1.1 200 OK\r\n folded\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFF\r\n",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        outcome_t o = parse(bad[i], true, 1000, NULL);
        if (o.rc != -EPROTO && o.rc != -E2BIG)
            fail_msg("accepted: %s (rc %d)", bad[i], o.rc);
    }
}

static void test_nul_in_head(void **state)
{
    static const char resp[] = "HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n";
    outcome_t o;

    run_step(resp, sizeof(resp) - 1, sizeof(resp) - 1, true, 100, NULL, &o);
    assert_int_equal(o.rc, -EPROTO);
}

static void test_limits(void **state)
{
    char *big;
    outcome_t o = parse("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", false, 10, NULL);
    assert_int_equal(o.rc, -E2BIG);

    o = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n5\r\nabcde\r\n",
              false, 10, NULL);
    assert_int_equal(o.rc, -E2BIG);

    o = parse("HTTP/1.1 200 OK\r\n\r\n12345678901", true, 10, NULL);
    assert_int_equal(o.rc, -E2BIG);

    /* a head over NW_HTTP_REPLY_MAX_HEAD */
    big = malloc(NW_HTTP_REPLY_MAX_HEAD + 64);
    assert_non_null(big);
    strcpy(big, "HTTP/1.1 200 OK\r\nX: ");
    memset(big + strlen(big), 'a', NW_HTTP_REPLY_MAX_HEAD);
    big[NW_HTTP_REPLY_MAX_HEAD + 20] = '\0';
    run_step(big, strlen(big), 4096, true, 10, NULL, &o);
    assert_int_equal(o.rc, -E2BIG);
    free(big);
}

static void test_feed_after_error_or_done(void **state)
{
    nw_http_reply_t *r = nw_http_reply_new(10);
    size_t used;

    assert_int_equal(nw_http_reply_feed(r, "junk\r\n\r\n", 8, &used), -EPROTO);
    assert_int_equal(nw_http_reply_feed(r, "HTTP/1.1 200 OK\r\n\r\n", 19, &used), -EPROTO);
    assert_int_equal(nw_http_reply_eof(r), -EPROTO);
    nw_http_reply_free(r);

    r = nw_http_reply_new(10);
    assert_int_equal(
        nw_http_reply_feed(r, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 38, &used),
        NW_HTTP_REPLY_DONE);
    assert_int_equal(nw_http_reply_feed(r, "more", 4, &used), NW_HTTP_REPLY_DONE);
    assert_int_equal(used, 0);
    assert_int_equal(nw_http_reply_eof(r), NW_HTTP_REPLY_DONE);
    nw_http_reply_free(r);
    nw_http_reply_free(NULL);
}

static void test_url_parse(void **state)
{
    nw_url_t u;
    nw_err_t err;
    char host[300];

    assert_int_equal(nw_url_parse("http://127.0.0.1:8081", &u, &err), 0);
    assert_string_equal(u.scheme, "http");
    assert_false(u.tls);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 8081);
    assert_false(u.default_port);
    assert_string_equal(u.path, "/");
    assert_int_equal(nw_url_host_header(&u, host, sizeof(host)), 0);
    assert_string_equal(host, "127.0.0.1:8081");

    assert_int_equal(nw_url_parse("WSS://wire.example.com/v1/stream?x=1", &u, &err), 0);
    assert_string_equal(u.scheme, "wss");
    assert_true(u.tls);
    assert_int_equal(u.port, 443);
    assert_true(u.default_port);
    assert_string_equal(u.path, "/v1/stream?x=1");
    assert_int_equal(nw_url_host_header(&u, host, sizeof(host)), 0);
    assert_string_equal(host, "wire.example.com");

    assert_int_equal(nw_url_parse("ws://[::1]:8080/v1/stream", &u, &err), 0);
    assert_true(u.ipv6);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 8080);
    assert_int_equal(nw_url_host_header(&u, host, sizeof(host)), 0);
    assert_string_equal(host, "[::1]:8080");
    assert_int_equal(nw_url_host_header(&u, host, 6), -ENOSPC);

    assert_int_equal(nw_url_parse("https://h?q", &u, &err), 0);
    assert_string_equal(u.path, "/?q");
    assert_int_equal(u.port, 443);
}

static void test_url_errors(void **state)
{
    static const char *bad[] = {
        "127.0.0.1:8081",  "ftp://host/",       "http://",       "http:///path",
        "http://host:0/",  "http://host:65536", "http://host:/", "http://host:8x",
        "http://u@host/",  "http://[::1/",      "http://[]/",    "http://ho st/",
        "http://host/a b", "http://host/#frag", "http://host#f",
    };
    nw_url_t u;
    nw_err_t err;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (nw_url_parse(bad[i], &u, &err) != -EINVAL)
            fail_msg("accepted: %s", bad[i]);
        assert_string_equal(err.field, "url");
        assert_true(err.message[0] != '\0');
    }
}

static void test_url_encode(void **state)
{
    char *s = nw_url_encode_segment("urn:newsml:example.com:20261127:a b/c~d_e-f%");

    assert_non_null(s);
    assert_string_equal(s, "urn%3Anewsml%3Aexample.com%3A20261127%3Aa%20b%2Fc~d_e-f%25");
    free(s);
    s = nw_url_encode_segment("\xc3\xa9");
    assert_string_equal(s, "%C3%A9");
    free(s);
    s = nw_url_encode_segment("");
    assert_string_equal(s, "");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_length),
        cmocka_unit_test(test_trailing_bytes_not_consumed),
        cmocka_unit_test(test_zero_length_and_no_body_statuses),
        cmocka_unit_test(test_bare_lf_and_case),
        cmocka_unit_test(test_status_line_without_reason),
        cmocka_unit_test(test_chunked),
        cmocka_unit_test(test_chunked_wins_over_length),
        cmocka_unit_test(test_body_until_close),
        cmocka_unit_test(test_interim_responses_skipped),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_nul_in_head),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_feed_after_error_or_done),
        cmocka_unit_test(test_url_parse),
        cmocka_unit_test(test_url_errors),
        cmocka_unit_test(test_url_encode),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
