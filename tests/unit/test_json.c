/* Unit tests for proto/json.c, differential against jansson 2.14: for
 * every input, under every combination of NW_JSON_REJECT_DUPLICATES and
 * NW_JSON_DECODE_ANY, nw_json_parse and json_loadb (with the matching
 * flags) must agree on accepting it, on the value (json_equal), and on the
 * line and column of a refusal; nw_json_dump_canonical must write the
 * bytes of json_dumps(JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY).
 * Inputs: a table of hand-written documents, byte-by-byte sweeps of every
 * context (string, escape, \u digit, after a number, after a literal,
 * between tokens), UTF-8 boundaries, nesting around the depth limit, and
 * random values dumped by jansson in random layouts, whole and damaged. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"

/* Prints buf[0..len) with C escapes, for a failure message. */
static void print_input(const char *buf, size_t len)
{
    fprintf(stderr, "input (%zu bytes): \"", len);
    for (size_t i = 0; i < len && i < 400; i++) {
        unsigned char c = (unsigned char)buf[i];

        if (c == '"' || c == '\\')
            fprintf(stderr, "\\%c", c);
        else if (c >= 0x20 && c < 0x7f)
            fputc(c, stderr);
        else
            fprintf(stderr, "\\x%02x", c);
    }
    fprintf(stderr, "%s\"\n", len > 400 ? "..." : "");
}

static size_t jansson_flags(unsigned flags)
{
    return ((flags & NW_JSON_REJECT_DUPLICATES) ? JSON_REJECT_DUPLICATES : 0) |
           ((flags & NW_JSON_DECODE_ANY) ? JSON_DECODE_ANY : 0);
}

/* Both dumpers agree on v: the same bytes, or both refuse. */
static void check_dump(const json_t *v)
{
    char *ref = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    size_t len = 0;
    char *mine = nw_json_dump_canonical(v, &len);

    if ((ref == NULL) != (mine == NULL) ||
        (ref != NULL && (strlen(ref) != len || memcmp(ref, mine, len) != 0))) {
        fprintf(stderr, "jansson: %s\nmine:    %s\n", ref ? ref : "(NULL)", mine ? mine : "(NULL)");
        fail_msg("canonical dumps differ");
    }
    free(ref);
    free(mine);
}

/* Parses buf with both parsers under flags and checks that they agree.
 * Returns true if accepted. */
static bool check_parse(const char *buf, size_t len, unsigned flags)
{
    json_error_t jerr;
    nw_json_error_t merr;
    json_t *ref = json_loadb(buf, len, jansson_flags(flags), &jerr);
    json_t *mine = (json_t *)1;
    int rc = nw_json_parse_ex(buf, len, flags, &mine, &merr);
    bool ok = ref != NULL;

    if (rc != 0 && rc != -EINVAL) {
        print_input(buf, len);
        fail_msg("nw_json_parse returned %d", rc);
    }
    if ((rc == 0) != (mine != NULL)) {
        print_input(buf, len);
        fail_msg("nw_json_parse returned %d with *out %p", rc, (void *)mine);
    }
    if ((ref != NULL) != (rc == 0)) {
        print_input(buf, len);
        fail_msg("flags %u: jansson %s (%d:%d %s), nw_json_parse %s (%d:%d %s)", flags,
                 ref ? "accepts" : "refuses", jerr.line, jerr.column, ref ? "" : jerr.text,
                 rc == 0 ? "accepts" : "refuses", merr.line, merr.column, rc ? merr.text : "");
    }
    if (ref != NULL) {
        if (!json_equal(ref, mine)) {
            print_input(buf, len);
            fail_msg("flags %u: values differ", flags);
        }
        check_dump(mine);
    } else if (jerr.line != merr.line || jerr.column != merr.column) {
        print_input(buf, len);
        fail_msg("flags %u: jansson refuses at %d:%d (%s), nw_json_parse at %d:%d (%s)", flags,
                 jerr.line, jerr.column, jerr.text, merr.line, merr.column, merr.text);
    }
    json_decref(ref);
    json_decref(mine);
    return ok;
}

/* Under all four flag combinations; returns the verdict with both flags. */
static bool check_all(const char *buf, size_t len)
{
    bool ok = false;

    for (unsigned flags = 0; flags < 4; flags++)
        ok = check_parse(buf, len, flags);
    return ok;
}

typedef struct json_case {
    const char *s;
    size_t len;
} json_case_t;

#define J(lit)                                                                                     \
    {                                                                                              \
        lit, sizeof(lit) - 1                                                                       \
    }

/* One line per kind of input, grouped. */
/* clang-format off */
static const json_case_t cases[] = {
    /* structure */
    J("{}"), J("[]"), J(" {} "), J("\t\r\n[]\n"), J("[[]]"), J("{\"a\":{}}"), J("[{}, [], {}]"),
    J("{\"a\":1,\"b\":2}"), J("{\"b\":1,\"a\":2}"), J("[1,2,3]"), J("[1 , 2 ,3 ]"),
    J("{ \"a\" : [ 1 , { \"b\" : null } ] }"), J("{\"\":0}"), J("{\"\":{\"\":[\"\"]}}"), J(""),
    J(" "), J("\n\n\n"), J("["), J("]"), J("{"), J("}"), J("[1"), J("[1,"), J("[1,]"),
    J("[,1]"), J("[,]"),
    J("{,}"), J("{\"a\"}"), J("{\"a\":}"), J("{\"a\" 1}"), J("{\"a\":1,}"), J("{\"a\":1 \"b\":2}"),
    J("{1:2}"), J("{a:1}"), J("{'a':1}"), J("[1]]"), J("[1]}"), J("{}}"), J("[][]"), J("{} {}"),
    J("[] x"), J("[1] 2"), J("[:]"), J("{:}"), J("{\"a\"::1}"), J("[1:2]"), J("{\"a\",1}"),
    J("[\n1,\n2\n,\n]"), J("\n\n  [1,\n  2 3]"), J("{\"k\"\n:\n1,}"), J("[1,\n"), J("{\"a\":\n"),
    J("\r\r[x]"), J("[\r\n\t ]"), J("[\f]"), J("[\v]"), J("[\x0b]"), J("\xef\xbb\xbf[]"),
    J("[/* c */]"), J("[1]//"), J("#"), J("()"),
    /* scalars (top level only with DECODE_ANY) */
    J("1"), J("-1"), J("0"), J("-0"), J("\"\""), J("\"x\""), J("true"), J("false"), J("null"),
    J(" 1 "), J("1 2"), J("\"a\" \"b\""), J("nul"), J("nulll"), J("True"), J("FALSE"), J("NULL"),
    J("[true, false, null]"), J("[truex]"), J("[true1]"), J("[true,]"), J("[tru]"), J("[t]"),
    J("[undefined]"), J("[Infinity]"), J("[-Infinity]"), J("[NaN]"), J("[inf]"), J("[nan]"),
    /* integers */
    J("[0]"), J("[-0]"), J("[1]"), J("[12345]"), J("[9223372036854775807]"),
    J("[9223372036854775808]"), J("[-9223372036854775808]"), J("[-9223372036854775809]"),
    J("[18446744073709551615]"), J("[18446744073709551616]"), J("[99999999999999999999]"),
    J("[123456789012345678901234567890]"), J("[-123456789012345678901234567890]"),
    J("9223372036854775808"), J("-9223372036854775809"), J("[01]"), J("[00]"), J("[-01]"),
    J("[007]"), J("[+1]"), J("[- 1]"), J("[--1]"), J("[-]"), J("[-a]"), J("[0x10]"), J("[1a]"),
    J("[1_000]"), J("[١]"),
    /* reals */
    J("[0.1]"), J("[1.0]"), J("[-1.0]"), J("[-0.0]"), J("[0.0]"), J("[1e2]"), J("[1E2]"),
    J("[1e+2]"), J("[1e-2]"), J("[1E-2]"), J("[1.5e300]"), J("[1e400]"), J("[-1e400]"),
    J("[1E-400]"), J("[-1e-400]"), J("[1e308]"), J("[1.7976931348623157e308]"),
    J("[1.7976931348623158e308]"), J("[1.7976931348623159e308]"), J("[2.2250738585072014e-308]"),
    J("[4.9e-324]"), J("[5e-324]"), J("[2e-324]"), J("[1e16]"), J("[1e17]"), J("[1e-4]"),
    J("[1e-5]"), J("[0.0001]"), J("[0.00001]"), J("[123456789.123456789]"),
    J("[0.30000000000000004]"), J("[3.141592653589793238462643383279]"), J("[1e0]"), J("[0e0]"),
    J("[0E+0]"), J("[-0e-0]"), J("[0.5e-3]"), J("[1e01]"), J("[1e-0001]"), J("[1.]"), J("[1.e5]"),
    J("[.5]"), J("[-.5]"), J("[1.5.]"), J("[1.5.2]"), J("[-0.]"), J("[1e]"), J("[1e+]"), J("[1e-]"),
    J("[1ee2]"), J("[1e2e3]"), J("[1e2.5]"), J("[1.5e]"), J("[1E+-2]"), J("[0.1e]"), J("1.5"),
    J("1e400"), J("-1e400 "), J("[100000000000000000000000000000000000000000000000000000000.0]"),
    J("[0.000000000000000000000000000000000000000000000000000000000000000000000000001]"),
    J("[1.00000000000000011102230246251565404236316680908203125]"), J("[9007199254740993]"),
    J("[9007199254740993.0]"), J("[1e23]"), J("[8.41e21]"),
    /* strings and escapes */
    J("[\"abc\"]"), J("[\"\"]"), J("[\"\\\"\"]"), J("[\"\\\\\"]"), J("[\"\\/\"]"),
    J("[\"\\b\\f\\n\\r\\t\"]"), J("[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]"), J("[\"\\u0041\"]"),
    J("[\"\\u00e9\"]"), J("[\"\\u00E9\"]"), J("[\"\\u20ac\"]"), J("[\"\\uFFFF\"]"),
    J("[\"\\uffff\\ufffe\"]"), J("[\"\\u007f\"]"), J("[\"\\u001f\"]"), J("[\"\\u0001\"]"),
    J("[\"\\u0000\"]"), J("[\"a\\u0000b\"]"), J("{\"\\u0000\":1}"), J("{\"a\\u0000\":1}"),
    J("\"\\u0000\""), J("[\"\\ud83d\\ude00\"]"), J("[\"\\uD83D\\uDE00\"]"),
    J("[\"\\ud800\\udc00\"]"), J("[\"\\udbff\\udfff\"]"), J("[\"\\ud800\"]"), J("[\"\\udbff\"]"),
    J("[\"\\udc00\"]"), J("[\"\\udfff\"]"), J("[\"\\ud800x\"]"), J("[\"\\ud800\\u0041\"]"),
    J("[\"\\ud800\\ud800\"]"), J("[\"\\ud800\\ud800\\udc00\"]"), J("[\"\\udc00\\ud800\"]"),
    J("[\"\\ud800\\n\"]"), J("[\"\\ud800\\\"]"), J("[\"\\ud800\\u12\"]"), J("[\"\\ud800\\u\"]"),
    J("[\"\\ud800\\uzzzz\"]"), J("[\"\\ud800\" \n x]"), J("[\"\\ud800\\n\" \n x]"),
    J("[\"\\ud800\n\"]"), J("[\"\\ud800\x01\"]"), J("[\"\\ud800\xff\"]"), J("[\"\\ud800\\x\"]"),
    J("[\"\\ud800\""), J("\"\\ud800\""), J("\"\\ud800\\u0041\""), J("\"\\udc00\""),
    J("{\"\\ud800\":1}"), J("{\"\\ud83d\\ude00\":1,\"\\ud83d\\ude01\":2}"), J("[\"\\x\"]"),
    J("[\"\\a\"]"), J("[\"\\U0041\"]"), J("[\"\\u41\"]"), J("[\"\\u004\"]"), J("[\"\\u004g\"]"),
    J("[\"\\u"), J("[\"\\u0"), J("[\"\\u00"), J("[\"\\u004"), J("[\"\\u0041"), J("[\"\\"),
    J("[\"\\'\"]"), J("[\"\\ \"]"), J("[\"\\\n\"]"), J("[\"\\u\n\"]"), J("[\"\\u00\n0\"]"),
    J("[\"abc"), J("\"abc"), J("\"abc\\"), J("[\"a\"b\"]"), J("[\"a\" \"b\"]"), J("[\"a\",]"),
    J("[\"a\nb\"]"), J("[\"a\rb\"]"), J("[\"a\tb\"]"), J("[\"\x01\"]"), J("[\"\x1f\"]"),
    J("[\"\x7f\"]"), J("[\"a\x00b\"]"), J("[\"\\u12\xc3\xa9\"]"), J("[\"\\\xc3\xa9\"]"),
    J("[\"\\u12\xff\"]"), J("[\"\\\xff\"]"), J("['a']"),
    J("[\"0123456789abcdef0123456789abcdef0123456789\\n0123456789abcdef\"]"),
    J("[\"long string with an escape at the end, past the eight-byte fast path\\t\"]"),
    J("[\"\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\"]"),
    /* UTF-8 */
    J("[\"\xc3\xa9\"]"), J("[\"\xe2\x82\xac\"]"), J("[\"\xf0\x9f\x98\x80\"]"),
    J("[\"\xef\xbf\xbf\"]"), J("[\"\xf4\x8f\xbf\xbf\"]"), J("[\"\xc2\x80\"]"), J("[\"\xdf\xbf\"]"),
    J("[\"\xe0\xa0\x80\"]"), J("[\"\xed\x9f\xbf\"]"), J("[\"\xee\x80\x80\"]"),
    J("[\"\xf0\x90\x80\x80\"]"), J("[\"\xc3\"]"), J("[\"\xc3\""), J("[\"\xc3"), J("[\"\x80\"]"),
    J("[\"\xbf\"]"), J("[\"\xc0\xaf\"]"), J("[\"\xc1\xbf\"]"), J("[\"\xe0\x80\xaf\"]"),
    J("[\"\xe0\x9f\xbf\"]"), J("[\"\xed\xa0\x80\"]"), J("[\"\xed\xbf\xbf\"]"),
    J("[\"\xf0\x80\x80\xaf\"]"), J("[\"\xf0\x8f\xbf\xbf\"]"), J("[\"\xf4\x90\x80\x80\"]"),
    J("[\"\xf5\x80\x80\x80\"]"), J("[\"\xf8\x88\x80\x80\x80\"]"),
    J("[\"\xfc\x84\x80\x80\x80\x80\"]"), J("[\"\xfe\"]"), J("[\"\xff\"]"), J("[\"\xe2\x82\"]"),
    J("[\"\xe2\x82x\"]"), J("[\"\xf0\x9f\x98\"]"), J("[\"\xf0\x9f\x98"), J("[\"\xf0\x9f\"]"),
    J("[\"\xc3\xa9\xc3\"]"), J("[\"a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z\"]"), J("[\xff]"),
    J("[\xc3\xa9]"), J("\xc3\xa9\xc3\xa9["), J("[1\xc3\xa9]"), J("[1\xff]"), J("[1 \xff]"),
    J("[tru\xff]"), J("[true\xff]"), J("[true\xc3\xa9]"), J("[-\xff]"), J("[-\xc3\xa9]"),
    J("[1.\xff]"), J("[1e\xff]"), J("[1e+\xff]"), J("[0\xff]"), J("{\"a\"\xff:1}"),
    J("{\"a\":1\xff}"), J("[\"a\"\xff]"), J("{}\xff"), J("[]\xc3\xa9"), J("\xff"), J("\xc3\xa9"),
    J("\xed\xa0\x80"), J("[\"\xc3\xa9\" x]"),
    J("[\"\xe2\x82\xac\xe2\x82\xac\",\n\"\xe2\x82\xac\" y]"), J("{\"\xc3\xa9\":1,\"\xc3\xa9\":2}"),
    J("{\"\xc3\xa9\":1,\"\\u00e9\":2}"),
    /* NUL bytes: jansson loses one right after a number or a literal */
    J("\0"), J("[\0]"), J("[1\0]"), J("1\0"), J("1\0\0"), J("[1\0\0]"), J("[1\0x]"), J("[1\0\n x]"),
    J("[true\0,1]"), J("[null\0]"), J("[false\0\0]"), J("{\"a\":1\0,\"b\":2}"), J("{\"a\":1\0}"),
    J("{\"a\":1.5\0}"), J("[1e5\0]"), J("[-\0]"), J("[0\0]"), J("[tru\0]"), J("[\"\\u00\0\"]"),
    J("[\"\\\0\"]"), J("[\"a\0\"]"), J("{\"a\"\0:1}"), J("[]\0"), J("{}\0"), J("[1,\0 2]"),
    J("[1\0 2]"), J("[1\0,\0 2]"), J("\0[]"), J(" \0"), J("[\"\\ud800\\\0\"]"),
    /* duplicate keys */
    J("{\"a\":1,\"a\":2}"), J("{\"a\":1,\"b\":2,\"a\":3}"), J("{\"a\":{\"a\":1},\"b\":{\"a\":2}}"),
    J("{\"a\":1,\"\\u0061\":2}"), J("{\"a\":1,\"a\":x}"), J("{\"a\":1,\"a\"}"),
    J("{\"\":1,\"\":2}"), J("{\"ab\":1,\"a\":2,\"abc\":3}"), J("[{\"a\":1},{\"a\":1}]"),
    J("{\"a\":[1,{\"a\":2,\"a\":3}]}"),
    /* key order in the canonical form */
    J("{\"b\":1,\"a\":2,\"ab\":3,\"\":4,\"B\":5,\"\xc3\xa9\":6,\"~\":7,\"a b\":8}"),
    J("{\"z\":{\"y\":{\"x\":1,\"w\":2},\"v\":3},\"u\":[{\"t\":1,\"s\":2}]}"),
    J("{\"k1\":1,\"k10\":10,\"k2\":2,\"k11\":11,\"k3\":3,\"k12\":12,\"k4\":4,\"k13\":13,"
      "\"k5\":5,\"k14\":14,\"k6\":6,\"k15\":15,\"k7\":7,\"k16\":16,\"k8\":8,\"k17\":17,"
      "\"k9\":9,\"k18\":18}"),
};
/* clang-format on */

/* The table, under every combination of flags. */
static void test_table(void **state)
{
    size_t accepted = 0;

    (void)state;
    for (size_t i = 0; i < NW_ARRAY_LEN(cases); i++)
        accepted += check_all(cases[i].s, cases[i].len);
    /* the table holds both kinds */
    assert_true(accepted > 50);
    assert_true(NW_ARRAY_LEN(cases) - accepted > 150);
}

/* Every byte in every context where jansson reads a character: alone,
 * inside a string, after a backslash, as a \u digit, right after a
 * number, a literal, a word, a string and a structural character. */
static void test_byte_sweeps(void **state)
{
    static const char *const frames[][2] = {
        {"", ""},
        {"[\"", "\"]"},
        {"[\"\\", "\"]"},
        {"[\"\\u", "000\"]"},
        {"[\"\\u00", "0\"]"},
        {"[\"\\u000", "\"]"},
        {"[1", "]"},
        {"[-1.5", "]"},
        {"[1e5", "]"},
        {"[-", "1]"},
        {"[1.", "5]"},
        {"[1e", "5]"},
        {"[0", "]"},
        {"[true", "]"},
        {"[nul", "]"},
        {"[\"a\"", "]"},
        {"[", "]"},
        {"{", "}"},
        {"{\"a\"", "1}"},
        {"{\"a\":1", "}"},
        {"[1,", "]"},
        {"{\"a\":", "}"},
        {"[\"\\ud800", "\"]"},
        {"\"x\" ", ""},
        {"[\"\xc3\xa9", "\"]"},
        {"[\"\xe2\x82", "\xac\"]"},
        {"[\"\xf0", "\x98\x80\"]"},
    };
    char buf[64];

    (void)state;
    for (size_t f = 0; f < NW_ARRAY_LEN(frames); f++) {
        for (int b = 0; b < 256; b++) {
            size_t n = strlen(frames[f][0]);

            memcpy(buf, frames[f][0], n);
            buf[n++] = (char)b;
            memcpy(buf + n, frames[f][1], strlen(frames[f][1]));
            n += strlen(frames[f][1]);
            check_all(buf, n);
        }
    }
}

/* Every lead byte with second bytes around each UTF-8 boundary, complete
 * and truncated, in a string and as a bare token. */
static void test_utf8_boundaries(void **state)
{
    static const unsigned char seconds[] = {0x00, 0x20, 0x7f, 0x80, 0x8f, 0x90,
                                            0x9f, 0xa0, 0xbf, 0xc0, 0xc3, 0xff};
    char buf[32];

    (void)state;
    for (int lead = 0x80; lead < 0x100; lead++) {
        for (size_t s = 0; s < sizeof(seconds); s++) {
            for (size_t extra = 0; extra < 4; extra++) {
                size_t n = 0;

                memcpy(buf, "[\"", 2);
                n = 2;
                buf[n++] = (char)lead;
                buf[n++] = (char)seconds[s];
                for (size_t k = 0; k < extra; k++)
                    buf[n++] = (char)0x80;
                memcpy(buf + n, "\"]", 2);
                check_all(buf, n + 2);
                check_all(buf, n);     /* unterminated */
                check_all(buf + 1, n); /* bare token, no leading [ */
            }
        }
    }
}

/* Builds depth nested containers (alternating arrays and objects when
 * mixed) around inner, with a line break every few levels. */
static char *nested(size_t depth, bool mixed, const char *inner, size_t *len)
{
    size_t cap = depth * 12 + strlen(inner) + 16, n = 0;
    char *s = malloc(cap);

    assert_non_null(s);
    for (size_t i = 0; i < depth; i++) {
        if (mixed && i % 2 == 1) {
            memcpy(s + n, "{\"k\":", 5);
            n += 5;
        } else
            s[n++] = '[';
        if (i % 7 == 3)
            s[n++] = '\n';
    }
    memcpy(s + n, inner, strlen(inner));
    n += strlen(inner);
    for (size_t i = depth; i-- > 0;)
        s[n++] = mixed && i % 2 == 1 ? '}' : ']';
    *len = n;
    return s;
}

/* The nesting limit counts every value, scalars included. */
static void test_depth(void **state)
{
    static const char *const inners[] = {"", "1", "\"s\"", "[]", "{}", "x", "\"\\ud800\""};
    static const size_t depths[] = {1, 2, 100, 2046, 2047, 2048, 2049, 2050, 3000};

    (void)state;
    for (size_t d = 0; d < NW_ARRAY_LEN(depths); d++) {
        for (size_t i = 0; i < NW_ARRAY_LEN(inners); i++) {
            for (int mixed = 0; mixed < 2; mixed++) {
                size_t len;
                char *s = nested(depths[d], mixed, inners[i], &len);

                check_all(s, len);
                check_all(s, len - depths[d] / 2); /* cut short */
                free(s);
            }
        }
    }
}

/* Appends the key "k<i>" (escaped as \u006b<i> when escape) to s. */
static size_t put_key(char *s, size_t n, unsigned i, bool escape)
{
    return n + (size_t)sprintf(s + n, "%s\"%sk%u\":%u", n > 1 ? "," : "", escape ? "\\u006b" : "",
                               i, i);
}

/* Duplicate keys in small and large objects, before and after escaped
 * keys, and in objects nested deep enough that the parser stops
 * remembering keys itself. */
static void test_duplicates(void **state)
{
    static const unsigned sizes[] = {2, 8, 31, 32, 33, 34, 64, 65, 300};
    char *s = malloc(64 * 1024);

    (void)state;
    assert_non_null(s);
    for (size_t z = 0; z < NW_ARRAY_LEN(sizes); z++) {
        unsigned n = sizes[z];

        for (unsigned dup = 0; dup <= n; dup += (n > 40 ? 7 : 1)) {
            for (unsigned esc = 0; esc < 4; esc++) {
                size_t len = 1;

                s[0] = '{';
                for (unsigned i = 0; i < n; i++)
                    len = put_key(s, len, i, (esc == 1 && i == n / 2) || (esc == 2 && i == 0));
                /* a repeat of key dup (or a fresh key when dup == n) */
                len = put_key(s, len, dup, esc == 3);
                s[len++] = '}';
                check_all(s, len);
            }
        }
    }
    /* nested objects of 10 keys each, a duplicate at the innermost level
     * and, after it, at every level on the way out */
    for (unsigned depth = 1; depth <= 40; depth += 3) {
        for (unsigned where = 0; where <= depth; where += 2) {
            size_t len = 0;

            for (unsigned d = 0; d < depth; d++) {
                len += (size_t)sprintf(s + len, "{");
                for (unsigned i = 0; i < 10; i++)
                    len += (size_t)sprintf(s + len, "\"k%u\":%u,", i, i);
                len += (size_t)sprintf(s + len, "\"in\":");
            }
            len += (size_t)sprintf(s + len, "null");
            for (unsigned d = depth; d-- > 0;)
                len += (size_t)sprintf(s + len, d == where ? ",\"k9\":1}" : ",\"x\":1}");
            check_all(s, len);
        }
    }
    free(s);
}

/* The canonical dump of values built directly, not parsed. */
static void test_dump_values(void **state)
{
    static const double reals[] = {
        0.0,
        -0.0,
        0.1,
        0.5,
        1.0,
        -1.0,
        1.5,
        100.0,
        1e15,
        1e16,
        1e17,
        1e21,
        1e22,
        1e23,
        123456789012345678.0,
        1e-4,
        1e-5,
        1.0 / 3.0,
        2.0 / 3.0,
        M_PI,
        DBL_MAX,
        -DBL_MAX,
        DBL_MIN,
        DBL_MIN / 3,
        5e-324,
        1e308,
        1e-308,
        1e100,
        1e-100,
        9007199254740993.0,
        0.30000000000000004,
        1e7,
        12345.678,
        -98765.4321e-10,
        4.35,
        0.000123,
        1e+5,
    };
    static const json_int_t ints[] = {0,
                                      1,
                                      -1,
                                      9,
                                      10,
                                      -10,
                                      123456789,
                                      INT64_MAX,
                                      INT64_MIN,
                                      INT64_MIN + 1,
                                      1000000000000000000LL};
    json_t *o, *a;
    char bytes[2];

    (void)state;
    for (size_t i = 0; i < NW_ARRAY_LEN(reals); i++) {
        json_t *r = json_real(reals[i]);

        check_dump(r);
        json_decref(r);
    }
    for (size_t i = 0; i < NW_ARRAY_LEN(ints); i++) {
        json_t *v = json_integer(ints[i]);

        check_dump(v);
        json_decref(v);
    }
    /* every single byte as a string, and as a key where it is UTF-8 */
    for (int b = 0; b < 256; b++) {
        bytes[0] = (char)b;
        o = json_object();
        json_object_setn_new_nocheck(o, b < 0x80 ? bytes : "k", 1, json_stringn_nocheck(bytes, 1));
        check_dump(o);
        json_decref(o);
    }
    /* invalid UTF-8 in a string (which nw_json_parse never produces): both
     * refuse */
    a = json_pack("[s]", "ok");
    json_array_append_new(a, json_stringn_nocheck("\xc3(", 2));
    check_dump(a);
    json_decref(a);
    /* in a key, jansson ignores the error and writes broken JSON
     * ({"a\n:null}); nw_json_dump_canonical refuses, on purpose */
    o = json_object();
    json_object_setn_new_nocheck(o, "a\n\xff", 3, json_null());
    assert_null(nw_json_dump_canonical(o, NULL));
    json_object_setn_new_nocheck(o, "\xed\xa0\x80", 3, json_null());
    json_object_deln(o, "a\n\xff", 3);
    assert_null(nw_json_dump_canonical(o, NULL));
    json_decref(o);
    /* NUL bytes in strings and keys (JSON_ALLOW_NUL values) */
    o = json_object();
    json_object_setn_new_nocheck(o, "a\0b", 3, json_stringn("x\0y", 3));
    json_object_setn_new_nocheck(o, "a", 1, json_true());
    json_object_setn_new_nocheck(o, "a\0", 2, json_false());
    check_dump(o);
    json_decref(o);
    /* many keys (sorted by qsort), nested objects (the member stack grows
     * while a parent's members are in use) */
    o = json_object();
    for (int i = 0; i < 300; i++) {
        char key[16];
        json_t *inner = json_object();

        snprintf(key, sizeof(key), "k%d", (i * 7919) % 1000);
        for (int j = 0; j < i % 40; j++) {
            char k2[16];

            snprintf(k2, sizeof(k2), "%d", (j * 31) % 97);
            json_object_set_new(inner, k2, json_integer(j));
        }
        json_object_set_new(o, key, inner);
    }
    check_dump(o);
    json_decref(o);
    /* scalars at the top */
    a = json_string("top");
    check_dump(a);
    json_decref(a);
    check_dump(json_null());
    check_dump(json_true());
}

/* A cyclic value does not recurse forever. */
static void test_dump_cycle(void **state)
{
    json_t *a = json_array(), *b = json_array();
    size_t len = 7;

    (void)state;
    json_array_append(a, b);
    json_array_append(b, a);
    assert_null(nw_json_dump_canonical(a, &len));
    assert_int_equal(len, 7);
    json_array_clear(b);
    json_decref(b);
    json_decref(a);
}

/* The message of nw_json_parse, the error of nw_json_parse_ex. */
static void test_messages(void **state)
{
    nw_err_t err;
    nw_json_error_t jerr;
    json_t *v = (json_t *)1;

    (void)state;
    assert_int_equal(nw_json_parse("[1,\n 2 x]", 9, 0, &v, &err), -EINVAL);
    assert_null(v);
    assert_string_equal(err.field, "");
    assert_non_null(strstr(err.message, "invalid JSON at line 2 column 4: "));
    assert_int_equal(nw_json_parse_ex("[\"\xc3(\"]", 6, 0, &v, &jerr), -EINVAL);
    assert_int_equal(jerr.line, 1);
    assert_int_equal(jerr.column, 2);
    for (const char *t = jerr.text; *t != '\0'; t++)
        assert_true(*t >= 0x20 && *t < 0x7f);
    assert_int_equal(nw_json_parse(NULL, 0, NW_JSON_DECODE_ANY, &v, &err), -EINVAL);
    assert_int_equal(nw_json_parse(NULL, 3, NW_JSON_DECODE_ANY, &v, NULL), -EINVAL);
    assert_int_equal(nw_json_parse("{\"a\":[1]}", 9, 0, &v, NULL), 0);
    assert_int_equal(json_array_size(json_object_get(v, "a")), 1);
    json_decref(v);
}

/*** random documents ***/

typedef struct rng {
    uint64_t s;
} rng_t;

static uint64_t rng_next(rng_t *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 2685821657736338717ULL;
}

static unsigned rng_below(rng_t *r, unsigned n)
{
    return (unsigned)(rng_next(r) % n);
}

/* A random string: ASCII, control characters, escapes' targets and code
 * points of every UTF-8 length. */
static size_t random_text(rng_t *r, char *out, size_t max)
{
    size_t n = 0, want = rng_below(r, 4) == 0 ? rng_below(r, 40) : rng_below(r, 8);

    while (want-- > 0 && n + 4 <= max) {
        unsigned kind = rng_below(r, 10);
        uint32_t cp;

        if (kind < 5)
            cp = 0x20 + rng_below(r, 0x5f);
        else if (kind == 5)
            cp = rng_below(r, 0x20);
        else if (kind == 6)
            cp = "\"\\/\x7f"[rng_below(r, 4)];
        else if (kind == 7)
            cp = 0x80 + rng_below(r, 0x780);
        else if (kind == 8) {
            cp = 0x800 + rng_below(r, 0xf800);
            if (cp >= 0xd800 && cp <= 0xdfff)
                cp = 0xfffd;
        } else
            cp = 0x10000 + rng_below(r, 0x100000);
        if (cp == 0)
            cp = 1; /* "\u0000" is refused: keep the documents valid */
        if (cp < 0x80)
            out[n++] = (char)cp;
        else if (cp < 0x800) {
            out[n++] = (char)(0xc0 | (cp >> 6));
            out[n++] = (char)(0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
            out[n++] = (char)(0xe0 | (cp >> 12));
            out[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
            out[n++] = (char)(0x80 | (cp & 0x3f));
        } else {
            out[n++] = (char)(0xf0 | (cp >> 18));
            out[n++] = (char)(0x80 | ((cp >> 12) & 0x3f));
            out[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
            out[n++] = (char)(0x80 | (cp & 0x3f));
        }
    }
    return n;
}

static double random_real(rng_t *r)
{
    double d;
    uint64_t bits;

    switch (rng_below(r, 5)) {
    case 0:
        bits = rng_next(r);
        memcpy(&d, &bits, sizeof(d));
        return isfinite(d) ? d : 0.5;
    case 1:
        return (double)(int64_t)rng_next(r) / (double)(1 + rng_below(r, 1000000));
    case 2:
        return ldexp((double)rng_below(r, 1000), (int)rng_below(r, 200) - 100);
    case 3:
        return (double)rng_below(r, 100000) / 100.0;
    default:
        return rng_below(r, 2) ? -0.0 : 1e16 * rng_below(r, 100);
    }
}

static json_t *random_value(rng_t *r, int depth)
{
    unsigned kind = rng_below(r, depth > 5 ? 6 : 9);
    char text[256];
    json_t *v;

    switch (kind) {
    case 0:
        return json_null();
    case 1:
        return json_boolean(rng_below(r, 2));
    case 2: {
        static const json_int_t edges[] = {0, -1, INT64_MAX, INT64_MIN, 1000000};
        return json_integer(rng_below(r, 4) == 0 ? edges[rng_below(r, 5)]
                                                 : (json_int_t)rng_next(r) >> rng_below(r, 64));
    }
    case 3:
        return json_real(random_real(r));
    case 4:
    case 5:
        return json_stringn(text, random_text(r, text, sizeof(text)));
    case 6:
    case 7:
        v = json_object();
        for (unsigned i = rng_below(r, 8); i > 0; i--) {
            size_t n = random_text(r, text, 32);

            json_object_setn_new(v, text, n, random_value(r, depth + 1));
        }
        return v;
    default:
        v = json_array();
        for (unsigned i = rng_below(r, 8); i > 0; i--)
            json_array_append_new(v, random_value(r, depth + 1));
        return v;
    }
}

/* Replaces each line break of an indented dump (never inside a string:
 * jansson escapes those) and the indentation after it by random
 * whitespace. */
static size_t rewhitespace(rng_t *r, const char *in, char *out)
{
    static const char ws[] = " \t\r\n";
    size_t n = 0;

    for (const char *p = in; *p != '\0'; p++) {
        if (*p != '\n') {
            out[n++] = *p;
            continue;
        }
        while (p[1] == ' ')
            p++;
        for (unsigned k = rng_below(r, 4); k > 0; k--)
            out[n++] = ws[rng_below(r, 4)];
    }
    return n;
}

/* Random values, dumped by jansson in random layouts (indentation, key
 * order, \u escapes, escaped slashes, short real precision), then
 * damaged: both parsers agree on each, and both dumpers on what parses. */
static void test_random(void **state)
{
    rng_t r = {0x5eed5eed12345678ULL};

    (void)state;
    for (int iter = 0; iter < 3000; iter++) {
        json_t *v = random_value(&r, 0);
        size_t flags = JSON_ENCODE_ANY | JSON_INDENT(rng_below(&r, 4));
        char *text, *doc;
        size_t len;

        if (rng_below(&r, 2))
            flags |= JSON_SORT_KEYS;
        if (rng_below(&r, 3) == 0)
            flags |= JSON_ENSURE_ASCII;
        if (rng_below(&r, 3) == 0)
            flags |= JSON_ESCAPE_SLASH;
        if (rng_below(&r, 4) == 0)
            flags |= JSON_REAL_PRECISION(1 + rng_below(&r, 17));
        else if (rng_below(&r, 2))
            flags |= JSON_COMPACT;
        text = json_dumps(v, flags);
        assert_non_null(text);
        doc = malloc(strlen(text) * 4 + 16);
        assert_non_null(doc);
        len = rewhitespace(&r, text, doc);
        check_dump(v);
        /* a short real precision can round a huge real up to infinity */
        if (!check_all(doc, len) && !(flags & JSON_REAL_PRECISION(31)))
            fail_msg("a jansson dump is refused: %s", text);
        /* damaged copies: a byte changed, inserted, removed, or cut short */
        for (int k = 0; k < 6 && len > 0; k++) {
            size_t at = rng_below(&r, (unsigned)len), n = len;
            char *bad = malloc(len + 1);
            unsigned op = rng_below(&r, 4);

            assert_non_null(bad);
            memcpy(bad, doc, len);
            if (op == 0)
                bad[at] = (char)rng_below(&r, 256);
            else if (op == 1) {
                memmove(bad + at + 1, bad + at, len - at);
                bad[at] = "\"\\{}[]:,0-e.\x00\xc3\xff\n"[rng_below(&r, 16)];
                n++;
            } else if (op == 2) {
                memmove(bad + at, bad + at + 1, len - at - 1);
                n--;
            } else
                n = at;
            check_all(bad, n);
            free(bad);
        }
        free(doc);
        free(text);
        json_decref(v);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),           cmocka_unit_test(test_byte_sweeps),
        cmocka_unit_test(test_utf8_boundaries), cmocka_unit_test(test_depth),
        cmocka_unit_test(test_dump_values),     cmocka_unit_test(test_dump_cycle),
        cmocka_unit_test(test_messages),        cmocka_unit_test(test_random),
        cmocka_unit_test(test_duplicates),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
