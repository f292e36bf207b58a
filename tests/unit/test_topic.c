/* Unit tests for proto/topic.c: grammar, wildcard matching, topic lists. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "topic.h"

/* Checks a topic (or pattern) that must be accepted. */
static void accept(const char *s, bool pattern)
{
    nw_err_t err = {.field = ""};
    int rc = pattern ? nw_topic_pattern_check(s, strlen(s), "topics", &err)
                     : nw_topic_check(s, strlen(s), "topics", &err);

    if (rc != 0)
        fail_msg("\"%s\" refused: %s", s, err.message);
}

/* Checks a topic (or pattern) that must be refused with a message holding
 * `reason`, naming field "topics", and quoting the topic. */
static void reject(const char *s, size_t len, bool pattern, const char *reason)
{
    nw_err_t err = {.field = ""};
    int rc = pattern ? nw_topic_pattern_check(s, len, "topics", &err)
                     : nw_topic_check(s, len, "topics", &err);

    if (rc != -EINVAL)
        fail_msg("\"%.*s\" accepted (rc %d)", (int)len, s, rc);
    assert_string_equal(err.field, "topics");
    if (strstr(err.message, reason) == NULL)
        fail_msg("\"%.*s\": message \"%s\" lacks \"%s\"", (int)len, s, err.message, reason);
    assert_non_null(strstr(err.message, pattern ? "invalid pattern \"" : "invalid topic \""));
}

static void reject_both(const char *s, const char *reason)
{
    reject(s, strlen(s), false, reason);
    reject(s, strlen(s), true, reason);
}

/* A topic of n segments "a/a/..." or of total length len ("aaa...a"). */
static void make_segments(char *buf, size_t n)
{
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++)
        strcat(buf, i ? "/s" : "s");
}

static void make_len(char *buf, size_t len)
{
    memset(buf, 'a', len);
    buf[len] = '\0';
}

static void test_topic_valid(void **state)
{
    static const char *const ok[] = {
        "monde",    "monde/afrique",          "monde/afrique/benin", "a", "0", "_", "-", "a-b_c/9",
        "x1/y2/z3", "economie/bourse/cac-40", "a/b/c/d/e/f/g/h",
    };

    (void)state;
    for (size_t i = 0; i < NW_ARRAY_LEN(ok); i++) {
        accept(ok[i], false);
        accept(ok[i], true); /* every topic is also a pattern */
    }
}

static void test_topic_message_names_topic(void **state)
{
    nw_err_t err = {.field = ""};

    (void)state;
    assert_int_equal(nw_topic_check("Monde", 5, "topics", &err), -EINVAL);
    assert_string_equal(err.field, "topics");
    assert_string_equal(err.message, "invalid topic \"Monde\": upper-case letter at byte 0");
    assert_int_equal(nw_topic_check("monde/Afrique", 13, "subscribe.topics", &err), -EINVAL);
    assert_string_equal(err.field, "subscribe.topics");
    assert_string_equal(err.message,
                        "invalid topic \"monde/Afrique\": upper-case letter at byte 6");
    /* NULL err is allowed */
    assert_int_equal(nw_topic_check("A", 1, "topics", NULL), -EINVAL);
}

static void test_topic_bad_characters(void **state)
{
    (void)state;
    reject_both("Monde", "upper-case letter at byte 0");
    reject_both("mondE", "upper-case letter at byte 4");
    reject_both("monde afrique", "invalid character byte 0x20 at byte 5");
    reject_both("monde.afrique", "invalid character '.' at byte 5");
    reject_both("monde,afrique", "invalid character ',' at byte 5");
    reject_both("caf\xc3\xa9", "invalid character byte 0xc3 at byte 3");
    reject_both("a\tb", "byte 0x09");
    reject_both("a*", "'*'");
    reject_both("a\"b", "byte 0x22");
    reject("a\0b", 3, false, "byte 0x00 at byte 1");
    reject("a\0b", 3, true, "byte 0x00 at byte 1");
}

static void test_topic_empty_segments(void **state)
{
    (void)state;
    reject_both("", "empty");
    reject_both("/", "empty segment at byte 0 (leading '/')");
    reject_both("/monde", "empty segment at byte 0 (leading '/')");
    reject_both("monde/", "empty segment at byte 5 (trailing '/')");
    reject_both("monde//afrique", "empty segment at byte 6");
    reject_both("a///b", "empty segment");
}

static void test_topic_limits(void **state)
{
    char buf[512];

    (void)state;
    /* length: exactly NW_TOPIC_MAX_LEN is fine, one more is not */
    make_len(buf, NW_TOPIC_MAX_LEN);
    accept(buf, false);
    accept(buf, true);
    make_len(buf, NW_TOPIC_MAX_LEN + 1);
    reject_both(buf, "too long: 129 bytes, max 128");
    /* the quote of a long topic is shortened */
    {
        nw_err_t err = {.field = ""};

        assert_int_equal(nw_topic_check(buf, strlen(buf), "topics", &err), -EINVAL);
        assert_non_null(strstr(err.message, "aaaa...\""));
        assert_true(strlen(err.message) < 120);
    }
    make_len(buf, 400);
    reject_both(buf, "too long: 400 bytes");
    /* segments: exactly NW_TOPIC_MAX_SEGMENTS is fine, one more is not */
    make_segments(buf, NW_TOPIC_MAX_SEGMENTS);
    accept(buf, false);
    make_segments(buf, NW_TOPIC_MAX_SEGMENTS + 1);
    reject_both(buf, "too many segments, max 8");
    accept("+/+/+/+/+/+/+/#", true);
    reject("+/+/+/+/+/+/+/+/#", 17, true, "too many segments");
    /* 128 bytes in 8 segments of 15 bytes + 7 slashes = 127, +1 byte = 128 */
    strcpy(buf, "aaaaaaaaaaaaaaa/aaaaaaaaaaaaaaa/aaaaaaaaaaaaaaa/aaaaaaaaaaaaaaa/"
                "aaaaaaaaaaaaaaa/aaaaaaaaaaaaaaa/aaaaaaaaaaaaaaa/aaaaaaaaaaaaaaaa");
    assert_int_equal(strlen(buf), 128);
    accept(buf, false);
}

static void test_topic_wildcards_refused_in_topics(void **state)
{
    (void)state;
    reject("+", 1, false, "wildcard '+' at byte 0");
    reject("#", 1, false, "wildcard '#' at byte 0");
    reject("monde/+", 7, false, "wildcard '+' at byte 6");
    reject("monde/#", 7, false, "wildcard '#' at byte 6");
    reject("monde/+/benin", 13, false, "wildcard '+'");
    reject("a#", 2, false, "wildcard '#'");
}

static void test_topic_patterns(void **state)
{
    static const char *const ok[] = {
        "#", "+", "monde/#", "monde/+", "+/afrique", "+/+", "monde/+/benin", "+/#", "a/b/+/#",
    };

    (void)state;
    for (size_t i = 0; i < NW_ARRAY_LEN(ok); i++)
        accept(ok[i], true);
    reject("#/monde", 7, true, "'#' at byte 0 must be the last segment");
    reject("monde/#/benin", 13, true, "'#' at byte 6 must be the last segment");
    reject("#/#", 3, true, "must be the last segment");
    reject("a#", 2, true, "'#' at byte 1 must be a whole segment");
    reject("#a", 2, true, "'#' at byte 0 must be a whole segment");
    reject("monde/a#", 8, true, "must be a whole segment");
    reject("+a", 2, true, "'+' at byte 0 must be a whole segment");
    reject("a+", 2, true, "'+' at byte 1 must be a whole segment");
    reject("monde/++", 8, true, "must be a whole segment");
    reject("++", 2, true, "must be a whole segment");
    reject("monde/+/", 8, true, "trailing '/'");
    reject("/#", 2, true, "leading '/'");
    reject("Monde/#", 7, true, "upper-case letter at byte 0");
}

static void test_topic_is_wildcard(void **state)
{
    (void)state;
    assert_true(nw_topic_is_wildcard("#"));
    assert_true(nw_topic_is_wildcard("+"));
    assert_true(nw_topic_is_wildcard("monde/#"));
    assert_true(nw_topic_is_wildcard("+/afrique"));
    assert_true(nw_topic_is_wildcard("monde/+/benin"));
    assert_false(nw_topic_is_wildcard("monde"));
    assert_false(nw_topic_is_wildcard("monde/afrique"));
    assert_false(nw_topic_is_wildcard("a-b/c_d"));
}

struct match_case {
    const char *pattern;
    const char *topic;
    bool match;
};

static void test_topic_match_table(void **state)
{
    static const struct match_case cases[] = {
        /* exact */
        {"monde", "monde", true},
        {"monde", "mond", false},
        {"mond", "monde", false},
        {"monde", "monde/afrique", false},
        {"monde/afrique", "monde", false},
        {"monde/afrique", "monde/afrique", true},
        {"monde/afrique", "monde/asie", false},
        {"a/b/c", "a/b/c", true},
        {"a/b/c", "a/b/d", false},
        {"a/b", "a/bc", false},
        {"a/bc", "a/b", false},
        /* "#" */
        {"#", "monde", true},
        {"#", "monde/afrique/benin", true},
        {"#", "a/b/c/d/e/f/g/h", true},
        {"monde/#", "monde", true},
        {"monde/#", "monde/afrique", true},
        {"monde/#", "monde/afrique/benin", true},
        {"monde/#", "mondes", false},
        {"monde/#", "mond", false},
        {"monde/#", "sport", false},
        {"monde/#", "sport/monde", false},
        {"monde/afrique/#", "monde", false},
        {"monde/afrique/#", "monde/afrique", true},
        {"monde/afrique/#", "monde/afrique/benin/cotonou", true},
        {"monde/afrique/#", "monde/asie/japon", false},
        /* "+" */
        {"+", "monde", true},
        {"+", "monde/afrique", false},
        {"monde/+", "monde", false},
        {"monde/+", "monde/afrique", true},
        {"monde/+", "monde/afrique/benin", false},
        {"+/afrique", "monde/afrique", true},
        {"+/afrique", "sport/afrique", true},
        {"+/afrique", "monde/asie", false},
        {"+/afrique", "afrique", false},
        {"monde/+/benin", "monde/afrique/benin", true},
        {"monde/+/benin", "monde/afrique/togo", false},
        {"monde/+/benin", "monde/benin", false},
        {"+/+", "a/b", true},
        {"+/+", "a", false},
        {"+/+", "a/b/c", false},
        {"+/+/+", "a/b/c", true},
        /* both */
        {"+/#", "a", true},
        {"+/#", "a/b/c", true},
        {"+/afrique/#", "monde/afrique", true},
        {"+/afrique/#", "monde/afrique/benin", true},
        {"+/afrique/#", "monde/asie/benin", false},
        {"a/+/#", "a", false},
        {"a/+/#", "a/b", true},
    };

    (void)state;
    for (size_t i = 0; i < NW_ARRAY_LEN(cases); i++) {
        const struct match_case *c = &cases[i];

        /* the table itself must be valid input */
        assert_int_equal(nw_topic_pattern_check(c->pattern, strlen(c->pattern), "p", NULL), 0);
        assert_int_equal(nw_topic_check(c->topic, strlen(c->topic), "t", NULL), 0);
        if (nw_topic_match(c->pattern, c->topic) != c->match)
            fail_msg("match(\"%s\", \"%s\") should be %s", c->pattern, c->topic,
                     c->match ? "true" : "false");
    }
}

/* Parses csv expecting success and the given entries, in order. */
static void list_ok(const char *csv, size_t max, bool patterns, size_t n, const char *const *want)
{
    nw_topic_list_t *list = NULL;
    nw_err_t err = {.field = ""};

    if (nw_topic_list_parse(csv, strlen(csv), max, patterns, "topics", &list, &err) != 0)
        fail_msg("\"%s\" refused: %s", csv, err.message);
    assert_non_null(list);
    assert_int_equal(list->n, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(list->v[i], want[i]);
    nw_topic_list_free(list);
}

static void list_bad(const char *csv, size_t len, size_t max, bool patterns, const char *reason)
{
    nw_topic_list_t *list = (nw_topic_list_t *)&list; /* must be reset to NULL */
    nw_err_t err = {.field = ""};

    assert_int_equal(nw_topic_list_parse(csv, len, max, patterns, "topics", &list, &err), -EINVAL);
    assert_null(list);
    assert_string_equal(err.field, "topics");
    if (strstr(err.message, reason) == NULL)
        fail_msg("\"%.*s\": message \"%s\" lacks \"%s\"", (int)len, csv, err.message, reason);
}

static void test_topic_list_parse(void **state)
{
    (void)state;
    list_ok("monde", 32, false, 1, (const char *const[]){"monde"});
    list_ok("monde/afrique, diplomatie", 32, false, 2,
            (const char *const[]){"monde/afrique", "diplomatie"});
    list_ok("  a ,\tb\t,c  ", 32, false, 3, (const char *const[]){"a", "b", "c"});
    list_ok("c,b,a", 3, false, 3, (const char *const[]){"c", "b", "a"}); /* order kept */
    list_ok("monde/#,+/sport", 32, true, 2, (const char *const[]){"monde/#", "+/sport"});
    /* only len bytes are read */
    {
        nw_topic_list_t *list = NULL;

        assert_int_equal(nw_topic_list_parse("a,b,GARBAGE", 3, 32, false, "t", &list, NULL), 0);
        assert_int_equal(list->n, 2);
        assert_string_equal(list->v[1], "b");
        nw_topic_list_free(list);
    }
}

static void test_topic_list_errors(void **state)
{
    (void)state;
    list_bad("", 0, 32, false, "no topic");
    list_bad("   ", 3, 32, false, "no topic");
    list_bad("\t \t", 3, 32, true, "no topic");
    list_bad("a,,b", 4, 32, false, "empty entry #2");
    list_bad("a, ,b", 5, 32, false, "empty entry #2");
    list_bad(",a", 2, 32, false, "empty entry #1");
    list_bad("a,", 2, 32, false, "empty entry #2");
    list_bad("a,b,a", 5, 32, false, "duplicate topic \"a\"");
    list_bad("a, b ,b", 7, 32, false, "duplicate topic \"b\"");
    list_bad("monde/#,monde/#", 15, 32, true, "duplicate topic \"monde/#\"");
    list_bad("a,Monde", 7, 32, false, "invalid topic \"Monde\": upper-case letter at byte 0");
    list_bad("a,monde/#", 9, 32, false, "wildcard '#'");
    list_bad("a,#/x", 5, 32, true, "must be the last segment");
    list_bad("a b", 3, 32, false, "invalid character");
    list_bad("a,b,c", 5, 2, false, "too many topics: 3, max 2");
    list_bad("a", 1, 0, false, "too many topics: 1, max 0");
}

static void test_topic_list_max(void **state)
{
    char csv[NW_TOPICS_PER_ITEM_MAX * 8 + 16];
    nw_topic_list_t *list = NULL;
    size_t n = 0;

    (void)state;
    csv[0] = '\0';
    for (int i = 0; i < NW_TOPICS_PER_ITEM_MAX; i++)
        n += (size_t)sprintf(csv + n, "%st%d", i ? "," : "", i);
    assert_int_equal(
        nw_topic_list_parse(csv, n, NW_TOPICS_PER_ITEM_MAX, false, "topics", &list, NULL), 0);
    assert_int_equal(list->n, NW_TOPICS_PER_ITEM_MAX);
    assert_string_equal(list->v[31], "t31");
    nw_topic_list_free(list);
    n += (size_t)sprintf(csv + n, ",t%d", NW_TOPICS_PER_ITEM_MAX);
    list_bad(csv, n, NW_TOPICS_PER_ITEM_MAX, false, "too many topics: 33, max 32");
}

static void test_topic_list_from_array(void **state)
{
    const char *const ok[] = {"monde/afrique", "diplomatie"};
    const char *const pats[] = {"monde/#", "+"};
    const char *const dup[] = {"a", "b", "a"};
    const char *const blank[] = {" a"};
    const char *const empty[] = {"a", ""};
    const char *const with_null[] = {"a", NULL};
    nw_topic_list_t *list = NULL;
    nw_err_t err = {.field = ""};

    (void)state;
    assert_int_equal(nw_topic_list_from_array(ok, 2, 32, false, "topics", &list, &err), 0);
    assert_int_equal(list->n, 2);
    assert_string_equal(list->v[0], "monde/afrique");
    assert_string_equal(list->v[1], "diplomatie");
    nw_topic_list_free(list);

    assert_int_equal(nw_topic_list_from_array(pats, 2, 32, true, "topics", &list, &err), 0);
    nw_topic_list_free(list);
    assert_int_equal(nw_topic_list_from_array(pats, 2, 32, false, "topics", &list, &err), -EINVAL);
    assert_null(list);
    assert_non_null(strstr(err.message, "wildcard"));

    assert_int_equal(nw_topic_list_from_array(dup, 3, 32, false, "topics", &list, &err), -EINVAL);
    assert_string_equal(err.message, "duplicate topic \"a\"");
    assert_int_equal(nw_topic_list_from_array(blank, 1, 32, false, "topics", &list, &err), -EINVAL);
    assert_non_null(strstr(err.message, "invalid character"));
    assert_int_equal(nw_topic_list_from_array(empty, 2, 32, false, "topics", &list, &err), -EINVAL);
    assert_non_null(strstr(err.message, "empty"));
    assert_int_equal(nw_topic_list_from_array(with_null, 2, 32, false, "topics", &list, &err),
                     -EINVAL);
    assert_non_null(strstr(err.message, "not a string"));
    assert_int_equal(nw_topic_list_from_array(ok, 0, 32, false, "topics", &list, &err), -EINVAL);
    assert_string_equal(err.message, "no topic");
    assert_int_equal(nw_topic_list_from_array(ok, 2, 1, false, "topics", &list, &err), -EINVAL);
    assert_string_equal(err.message, "too many topics: 2, max 1");
    assert_string_equal(err.field, "topics");
    assert_null(list);
    nw_topic_list_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topic_valid),
        cmocka_unit_test(test_topic_message_names_topic),
        cmocka_unit_test(test_topic_bad_characters),
        cmocka_unit_test(test_topic_empty_segments),
        cmocka_unit_test(test_topic_limits),
        cmocka_unit_test(test_topic_wildcards_refused_in_topics),
        cmocka_unit_test(test_topic_patterns),
        cmocka_unit_test(test_topic_is_wildcard),
        cmocka_unit_test(test_topic_match_table),
        cmocka_unit_test(test_topic_list_parse),
        cmocka_unit_test(test_topic_list_errors),
        cmocka_unit_test(test_topic_list_max),
        cmocka_unit_test(test_topic_list_from_array),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
