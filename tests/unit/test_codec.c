/* Unit tests for proto/codec.c: JSON <-> msgpack round trips, and every
 * kind of msgpack input the decoder must refuse (built with msgpack-c's
 * packer, or by hand where the packer cannot produce it). */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec.h"

typedef struct fixture {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    msgpack_sbuffer_init(&f->sb);
    msgpack_packer_init(&f->pk, &f->sb, msgpack_sbuffer_write);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;

    msgpack_sbuffer_destroy(&f->sb);
    free(f);
    return 0;
}

static json_t *load_json(const char *name)
{
    const char *dir = getenv("NW_TEST_DATA");
    char path[1024];
    json_error_t jerr;
    json_t *v;

    snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tests/unit/data", name);
    v = json_load_file(path, 0, &jerr);
    if (v == NULL)
        fail_msg("%s: %s", path, jerr.text);
    return v;
}

/* Encodes v, decodes the result and checks it equals v. */
static void round_trip(fixture_t *f, json_t *v)
{
    json_t *back = NULL;
    nw_err_t err = {.field = ""};

    msgpack_sbuffer_clear(&f->sb);
    assert_int_equal(nw_codec_json_to_msgpack(v, &f->pk), 0);
    if (nw_codec_msgpack_to_json(f->sb.data, f->sb.size, &back, &err) != 0)
        fail_msg("decode refused: %s: %s", err.field, err.message);
    if (!json_equal(v, back)) {
        char *a = json_dumps(v, JSON_ENCODE_ANY), *b = json_dumps(back, JSON_ENCODE_ANY);

        fail_msg("round trip changed %s into %s", a, b);
    }
    /* the types survive too (json_equal already tells integer from real) */
    assert_int_equal(json_typeof(back), json_typeof(v));
    json_decref(back);
}

/* Decodes the packer's buffer expecting -EINVAL at field with msg. */
static void refused(const char *buf, size_t len, const char *field, const char *msg)
{
    json_t *out = (json_t *)&out;
    nw_err_t err = {.field = ""};
    int rc = nw_codec_msgpack_to_json(buf, len, &out, &err);

    if (rc != -EINVAL)
        fail_msg("accepted (rc %d), expected %s: %s", rc, field, msg);
    assert_null(out);
    if (strcmp(err.field, field) != 0 || strstr(err.message, msg) == NULL)
        fail_msg("got %s: \"%s\", expected %s: \"%s\"", err.field, err.message, field, msg);
}

static void refused_sb(fixture_t *f, const char *field, const char *msg)
{
    refused(f->sb.data, f->sb.size, field, msg);
}

static json_t *decoded(const char *buf, size_t len)
{
    json_t *out = NULL;
    nw_err_t err = {.field = ""};

    if (nw_codec_msgpack_to_json(buf, len, &out, &err) != 0)
        fail_msg("refused: %s: %s", err.field, err.message);
    return out;
}

static void test_round_trip_samples(void **state)
{
    static const char *const files[] = {
        "ninjs/article_v1.json",
        "ninjs/article_embargoed.json",
        "ninjs/article_v2_correction.json",
        "ninjs/article_v3_kill.json",
        "ninjs/article_full.json",
    };

    for (size_t i = 0; i < NW_ARRAY_LEN(files); i++) {
        json_t *v = load_json(files[i]);

        round_trip(*state, v);
        json_decref(v);
    }
}

static void test_round_trip_values(void **state)
{
    static const char *const texts[] = {
        "{}",
        "[]",
        "[[], {}, [[]], [{}], {\"a\": []}]",
        "[[[[[[1, [2, [3]]]]]]]]",
        "{\"s\": \"\", \"u\": \"Caf\\u00e9 \\u20ac \\ud83d\\udcf0 \\u4e2d\\u6587\"}",
        "[9223372036854775807, -9223372036854775808, 0, -1, 1, 127, 128, -32, -33, 255, 256, "
        "65535, 65536, 4294967295, 4294967296, -128, -129, -32768, -32769, -2147483648, "
        "-2147483649]",
        "[0.5, -0.0, 1.0, 1e300, -1e-300, 3.141592653589793, 2.5e-8, 123456789.125]",
        "[true, false, null]",
        "{\"z\": 1, \"a\": {\"y\": [true, null], \"b\": \"\"}, \"\": 0}",
        "\"scalar at the root\"",
        "42",
        "null",
    };

    for (size_t i = 0; i < NW_ARRAY_LEN(texts); i++) {
        json_t *v = json_loads(texts[i], JSON_DECODE_ANY, NULL);

        if (v == NULL)
            fail_msg("bad test JSON %s", texts[i]);
        round_trip(*state, v);
        json_decref(v);
    }
}

/* Containers nested n deep: [[[...]]] with 1 inside. */
static json_t *nested(int n)
{
    json_t *v = json_integer(1);

    for (int i = 0; i < n; i++) {
        json_t *a = json_array();

        json_array_append_new(a, v);
        v = a;
    }
    return v;
}

static void test_depth(void **state)
{
    fixture_t *f = *state;
    json_t *ok = nested(NW_CODEC_MAX_DEPTH);
    json_t *deep = nested(NW_CODEC_MAX_DEPTH + 1);
    char path[256] = "";

    round_trip(f, ok);
    msgpack_sbuffer_clear(&f->sb);
    assert_int_equal(nw_codec_json_to_msgpack(deep, &f->pk), -EINVAL);
    /* the same too-deep document packed by hand */
    msgpack_sbuffer_clear(&f->sb);
    for (int i = 0; i < NW_CODEC_MAX_DEPTH + 1; i++)
        msgpack_pack_array(&f->pk, 1);
    msgpack_pack_int(&f->pk, 1);
    for (int i = 0; i < NW_CODEC_MAX_DEPTH; i++)
        strcat(path, "[0]");
    refused_sb(f, path, "too deeply nested: max 32 levels");
    /* too deep even when the innermost container is empty */
    msgpack_sbuffer_clear(&f->sb);
    for (int i = 0; i < NW_CODEC_MAX_DEPTH; i++)
        msgpack_pack_array(&f->pk, 1);
    msgpack_pack_map(&f->pk, 0);
    refused_sb(f, path, "too deeply nested");
    /* and through maps, with the keys in the path */
    msgpack_sbuffer_clear(&f->sb);
    for (int i = 0; i < NW_CODEC_MAX_DEPTH + 1; i++) {
        msgpack_pack_map(&f->pk, 1);
        msgpack_pack_str_with_body(&f->pk, "k", 1);
    }
    msgpack_pack_nil(&f->pk);
    refused_sb(f, "k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k",
               "too deeply nested");
    json_decref(ok);
    json_decref(deep);
}

static void test_integers(void **state)
{
    fixture_t *f = *state;
    json_t *v;
    /* the same values in every width msgpack has */
    static const unsigned char wide[] = {
        0x9a,                                                 /* array of 10 */
        0x07,                                                 /* fixint 7 */
        0xcc, 0x07,                                           /* uint8 */
        0xcd, 0x00, 0x07,                                     /* uint16 */
        0xce, 0x00, 0x00, 0x00, 0x07,                         /* uint32 */
        0xcf, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, /* uint64 */
        0xd0, 0x07,                                           /* int8 +7 */
        0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf9, /* int64 -7 */
        0xf9,                                                 /* negative fixint -7 */
        0xca, 0x3f, 0xc0, 0x00, 0x00,                         /* float32 1.5 */
        0xcb, 0x3f, 0xf8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* float64 1.5 */
    };

    v = decoded((const char *)wide, sizeof(wide));
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(json_integer_value(json_array_get(v, i)), 7);
    assert_int_equal(json_integer_value(json_array_get(v, 6)), -7);
    assert_int_equal(json_integer_value(json_array_get(v, 7)), -7);
    assert_true(json_is_real(json_array_get(v, 8)));
    assert_true(json_real_value(json_array_get(v, 8)) == 1.5);
    assert_true(json_real_value(json_array_get(v, 9)) == 1.5);
    json_decref(v);

    msgpack_sbuffer_clear(&f->sb);
    msgpack_pack_uint64(&f->pk, (uint64_t)INT64_MAX);
    v = decoded(f->sb.data, f->sb.size);
    assert_int_equal(json_integer_value(v), INT64_MAX);
    json_decref(v);
    msgpack_sbuffer_clear(&f->sb);
    msgpack_pack_int64(&f->pk, INT64_MIN);
    v = decoded(f->sb.data, f->sb.size);
    assert_true(json_integer_value(v) == INT64_MIN);
    json_decref(v);

    msgpack_sbuffer_clear(&f->sb);
    msgpack_pack_uint64(&f->pk, (uint64_t)INT64_MAX + 1);
    refused_sb(f, "", "integer out of range");
    msgpack_sbuffer_clear(&f->sb);
    msgpack_pack_map(&f->pk, 1);
    msgpack_pack_str_with_body(&f->pk, "n", 1);
    msgpack_pack_array(&f->pk, 2);
    msgpack_pack_int(&f->pk, 0);
    msgpack_pack_uint64(&f->pk, UINT64_MAX);
    refused_sb(f, "n[1]", "integer out of range: 18446744073709551615");
}

static void test_floats_not_finite(void **state)
{
    fixture_t *f = *state;

    msgpack_sbuffer_clear(&f->sb);
    msgpack_pack_array(&f->pk, 1);
    msgpack_pack_double(&f->pk, NAN);
    refused_sb(f, "[0]", "must be a finite number");
    msgpack_sbuffer_clear(&f->sb);
    msgpack_pack_float(&f->pk, INFINITY);
    refused_sb(f, "", "must be a finite number");
    msgpack_sbuffer_clear(&f->sb);
    msgpack_pack_double(&f->pk, -INFINITY);
    refused_sb(f, "", "must be a finite number");
}

static void test_map_keys(void **state)
{
    fixture_t *f = *state;

    /* non-string keys */
    msgpack_sbuffer_clear(&f->sb);
    msgpack_pack_map(&f->pk, 1);
    msgpack_pack_int(&f->pk, 1);
    msgpack_pack_true(&f->pk);
    refused_sb(f, "", "map keys must be strings");
    msgpack_sbuffer_clear(&f->sb);
    msgpack_pack_map(&f->pk, 1);
    msgpack_pack_str_with_body(&f->pk, "a", 1);
    msgpack_pack_map(&f->pk, 1);
    msgpack_pack_nil(&f->pk);
    msgpack_pack_nil(&f->pk);
    refused_sb(f, "a", "map keys must be strings");
    msgpack_sbuffer_clear(&f->sb);
    msgpack_pack_map(&f->pk, 1);
    msgpack_pack_bin_with_body(&f->pk, "k", 1);
    msgpack_pack_nil(&f->pk);
    refused_sb(f, "", "map keys must be strings");
    /* duplicate keys */
    msgpack_sbuffer_clear(&f->sb);
    msgpack_pack_map(&f->pk, 3);
    msgpack_pack_str_with_body(&f->pk, "uri", 3);
    msgpack_pack_int(&f->pk, 1);
    msgpack_pack_str_with_body(&f->pk, "b", 1);
    msgpack_pack_int(&f->pk, 2);
    msgpack_pack_str_with_body(&f->pk, "uri", 3);
    msgpack_pack_int(&f->pk, 3);
    refused_sb(f, "uri", "duplicate key");
    /* keys must be UTF-8 without NUL */
    msgpack_sbuffer_clear(&f->sb);
    msgpack_pack_map(&f->pk, 1);
    msgpack_pack_str_with_body(&f->pk, "\xc3", 1);
    msgpack_pack_nil(&f->pk);
    refused_sb(f, "", "map key is not valid UTF-8");
    msgpack_sbuffer_clear(&f->sb);
    msgpack_pack_map(&f->pk, 1);
    msgpack_pack_str_with_body(&f->pk, "a\0b", 3);
    msgpack_pack_nil(&f->pk);
    refused_sb(f, "", "map key contains a NUL character");
}

static void test_strings(void **state)
{
    static const char *const invalid[] = {"\xff", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                                          "ok\xe2\x82"};
    fixture_t *f = *state;
    json_t *v;

    for (size_t i = 0; i < NW_ARRAY_LEN(invalid); i++) {
        msgpack_sbuffer_clear(&f->sb);
        msgpack_pack_map(&f->pk, 1);
        msgpack_pack_str_with_body(&f->pk, "headlines", 9);
        msgpack_pack_array(&f->pk, 2);
        msgpack_pack_str_with_body(&f->pk, "fine", 4);
        msgpack_pack_str_with_body(&f->pk, invalid[i], strlen(invalid[i]));
        refused_sb(f, "headlines[1]", "string is not valid UTF-8");
    }
    msgpack_sbuffer_clear(&f->sb);
    msgpack_pack_str_with_body(&f->pk, "a\0b", 3);
    refused_sb(f, "", "string contains a NUL character");
    /* str 8, 16 and 32 headers all decode */
    msgpack_sbuffer_clear(&f->sb);
    msgpack_pack_array(&f->pk, 3);
    {
        static char big[70000];

        memset(big, 'x', sizeof(big));
        msgpack_pack_str_with_body(&f->pk, big, 200);
        msgpack_pack_str_with_body(&f->pk, big, 1000);
        msgpack_pack_str_with_body(&f->pk, big, sizeof(big));
    }
    v = decoded(f->sb.data, f->sb.size);
    assert_int_equal(json_string_length(json_array_get(v, 0)), 200);
    assert_int_equal(json_string_length(json_array_get(v, 1)), 1000);
    assert_int_equal(json_string_length(json_array_get(v, 2)), 70000);
    json_decref(v);
}

static void test_bin_ext(void **state)
{
    static const unsigned char fixext[] = {0x91, 0xd4, 0x01, 0x00};
    static const unsigned char timestamp[] = {0xd6, 0xff, 0x00, 0x00, 0x00, 0x00};
    fixture_t *f = *state;

    msgpack_sbuffer_clear(&f->sb);
    msgpack_pack_map(&f->pk, 1);
    msgpack_pack_str_with_body(&f->pk, "a", 1);
    msgpack_pack_array(&f->pk, 2);
    msgpack_pack_int(&f->pk, 1);
    msgpack_pack_map(&f->pk, 1);
    msgpack_pack_str_with_body(&f->pk, "b", 1);
    msgpack_pack_bin_with_body(&f->pk, "xyz", 3);
    refused_sb(f, "a[1].b", "bin values are not allowed");
    msgpack_sbuffer_clear(&f->sb);
    msgpack_pack_bin_with_body(&f->pk, "", 0);
    refused_sb(f, "", "bin values are not allowed");
    msgpack_sbuffer_clear(&f->sb);
    msgpack_pack_map(&f->pk, 1);
    msgpack_pack_str_with_body(&f->pk, "e", 1);
    msgpack_pack_ext_with_body(&f->pk, "data", 4, 5);
    refused_sb(f, "e", "ext values are not allowed");
    refused((const char *)fixext, sizeof(fixext), "[0]", "ext values are not allowed");
    refused((const char *)timestamp, sizeof(timestamp), "", "ext values are not allowed");
}

static void test_framing(void **state)
{
    static const unsigned char huge_array[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    static const unsigned char huge_map[] = {0x81, 0xa1, 'k', 0xdf, 0x7f, 0xff, 0xff, 0xff, 0x00};
    static const unsigned char huge_str[] = {0xdb, 0xff, 0xff, 0xff, 0xff, 'a'};
    static const unsigned char reserved[] = {0x92, 0x01, 0xc1};
    static const unsigned char cut_header[] = {0xcd, 0x01};
    fixture_t *f = *state;
    json_t *v = load_json("ninjs/article_v1.json");
    char *copy;
    size_t n;

    /* trailing bytes */
    msgpack_sbuffer_clear(&f->sb);
    msgpack_pack_map(&f->pk, 0);
    msgpack_pack_nil(&f->pk);
    refused_sb(f, "", "trailing bytes: 1 after the msgpack document");
    msgpack_sbuffer_clear(&f->sb);
    assert_int_equal(nw_codec_json_to_msgpack(v, &f->pk), 0);
    assert_int_equal(nw_codec_json_to_msgpack(v, &f->pk), 0); /* two documents */
    n = f->sb.size / 2;
    refused(f->sb.data, f->sb.size, "", "trailing bytes");
    /* every truncation of a real document is refused, never read past */
    for (size_t len = 0; len < n; len++) {
        json_t *out = (json_t *)&out;

        copy = malloc(len ? len : 1); /* exact size: ASan catches over-reads */
        memcpy(copy, f->sb.data, len);
        assert_int_equal(nw_codec_msgpack_to_json(copy, len, &out, NULL), -EINVAL);
        assert_null(out);
        free(copy);
    }
    refused(f->sb.data, 0, "", "truncated msgpack");
    /* the error names where the input ran out: the last key, in sorted order */
    refused(f->sb.data, n - 1, "versioncreated", "truncated msgpack: value at byte");
    /* counts and lengths larger than what is left: refused before msgpack-c
     * would allocate for them */
    refused((const char *)huge_array, sizeof(huge_array), "",
            "truncated msgpack: array of 4294967295 items");
    refused((const char *)huge_map, sizeof(huge_map), "k", "truncated msgpack: map of");
    refused((const char *)huge_str, sizeof(huge_str), "", "truncated msgpack");
    refused((const char *)reserved, sizeof(reserved), "[1]", "reserved type 0xc1");
    refused((const char *)cut_header, sizeof(cut_header), "", "truncated msgpack");
    json_decref(v);
}

static void test_encoding_is_canonical(void **state)
{
    fixture_t *f = *state;
    json_t *a = json_loads("{\"b\": 1, \"a\": {\"y\": 2, \"x\": 3}, \"aa\": 4}", 0, NULL);
    json_t *b = json_loads("{\"aa\": 4, \"a\": {\"x\": 3, \"y\": 2}, \"b\": 1}", 0, NULL);
    static const unsigned char want[] = {0x83, 0xa1, 'a', 0x82, 0xa1, 'x',  0x03, 0xa1, 'y',
                                         0x02, 0xa2, 'a', 'a',  0x04, 0xa1, 'b',  0x01};
    char *first;
    size_t first_len;

    msgpack_sbuffer_clear(&f->sb);
    assert_int_equal(nw_codec_json_to_msgpack(a, &f->pk), 0);
    first_len = f->sb.size;
    first = malloc(first_len);
    memcpy(first, f->sb.data, first_len);
    msgpack_sbuffer_clear(&f->sb);
    assert_int_equal(nw_codec_json_to_msgpack(b, &f->pk), 0);
    assert_int_equal(f->sb.size, first_len);
    assert_memory_equal(f->sb.data, first, first_len);
    /* sorted keys, smallest integer encodings */
    assert_int_equal(first_len, sizeof(want));
    assert_memory_equal(first, want, sizeof(want));
    free(first);
    json_decref(a);
    json_decref(b);
    assert_int_equal(nw_codec_json_to_msgpack(NULL, &f->pk), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip_samples, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_depth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_integers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_floats_not_finite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bin_ext, setup, teardown),
        cmocka_unit_test_setup_teardown(test_framing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_encoding_is_canonical, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
