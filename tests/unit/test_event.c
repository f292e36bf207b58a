/* Unit tests for daemon/event.c and daemon/frame.c: decoding a wire entry
 * (a hiredis reply built in memory) and the item frames built from it for
 * each set of matched topics, in JSON (checked with jansson) and msgpack
 * (checked with msgpack-c); rejected entries; control frames. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <msgpack.h>

#include "event.h"
#include "frame.h"

#define ENTRY_ID "1700000000000-7"
#define ITEM_JSON                                                                                  \
    "{\"uri\": \"urn:newsml:afp.com:20240601:abc\", \"version\": 3, "                              \
    "\"headlines\": [{\"value\": \"Sommet \\\"historique\\\" \\u00e0 Cotonou\"}], "                \
    "\"score\": 1.5, \"neg\": -42, \"big\": 9007199254740993, \"flag\": true, "                    \
    "\"none\": null, \"nested\": {\"a\": [[], {}, \"\"]}}"

/* A hiredis string reply (owned by its parent). */
static redisReply *r_str(const char *s)
{
    redisReply *r = calloc(1, sizeof(*r));

    assert_non_null(r);
    r->type = REDIS_REPLY_STRING;
    r->str = strdup(s);
    assert_non_null(r->str);
    r->len = strlen(s);
    return r;
}

static redisReply *r_int(long long v)
{
    redisReply *r = calloc(1, sizeof(*r));

    assert_non_null(r);
    r->type = REDIS_REPLY_INTEGER;
    r->integer = v;
    return r;
}

/* An array reply of the n replies in v (taken over). */
static redisReply *r_arr(redisReply **v, size_t n)
{
    redisReply *r = calloc(1, sizeof(*r));

    assert_non_null(r);
    r->type = REDIS_REPLY_ARRAY;
    r->elements = n;
    r->element = calloc(n ? n : 1, sizeof(*r->element));
    assert_non_null(r->element);
    memcpy(r->element, v, n * sizeof(*v));
    return r;
}

static void r_free(redisReply *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->elements; i++)
        r_free(r->element[i]);
    free(r->element);
    free(r->str);
    free(r);
}

/* A wire entry [id, [k1, v1, k2, v2, ...]] from a NULL-terminated list of
 * field names and values. */
static redisReply *entry_v(const char *id, const char *const *kv)
{
    redisReply *fields[64], *pair[2];
    size_t n = 0;

    for (; kv[n] != NULL; n++) {
        assert_true(n < 64);
        fields[n] = r_str(kv[n]);
    }
    pair[0] = r_str(id);
    pair[1] = r_arr(fields, n);
    return r_arr(pair, 2);
}

/* The usual entry, with topics and item replaceable (NULL: the default). */
static redisReply *entry_with(const char *kind, const char *topics, const char *item)
{
    const char *kv[] = {
        "kind",    kind ? kind : "new",
        "uri",     "urn:newsml:afp.com:20240601:abc",
        "version", "3",
        "urgency", "2",
        "topics",  topics ? topics : "a,b/c,d",
        "ts",      "123",
        "item",    item ? item : ITEM_JSON,
        NULL,
    };

    return entry_v(ENTRY_ID, kv);
}

static nw_event_t *decode_ok(const redisReply *entry)
{
    nw_event_t *ev = NULL;
    nw_err_t err = {.field = ""};
    int rc = nw_event_from_entry(entry, &ev, &err);

    if (rc != 0)
        fail_msg("entry refused (%d): %s: %s", rc, err.field, err.message);
    assert_non_null(ev);
    return ev;
}

/* A msgpack object as jansson, independently of the daemon's codec. */
static json_t *mp_to_json(const msgpack_object *o)
{
    json_t *v = NULL;

    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return json_null();
    case MSGPACK_OBJECT_BOOLEAN:
        return json_boolean(o->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return json_integer((json_int_t)o->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return json_integer((json_int_t)o->via.i64);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return json_real(o->via.f64);
    case MSGPACK_OBJECT_STR:
        return json_stringn(o->via.str.ptr, o->via.str.size);
    case MSGPACK_OBJECT_ARRAY:
        v = json_array();
        for (uint32_t i = 0; i < o->via.array.size; i++)
            json_array_append_new(v, mp_to_json(&o->via.array.ptr[i]));
        return v;
    case MSGPACK_OBJECT_MAP:
        v = json_object();
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];
            assert_int_equal(kv->key.type, MSGPACK_OBJECT_STR);
            json_object_setn_new(v, kv->key.via.str.ptr, kv->key.via.str.size,
                                 mp_to_json(&kv->val));
        }
        return v;
    default:
        fail_msg("unexpected msgpack type %d", o->type);
        return NULL;
    }
}

/* The message a session matching the masked topics should receive. */
static json_t *expected_item(const nw_event_t *ev, uint32_t mask, const char *item_json)
{
    json_t *topics = json_array(), *item = json_loads(item_json, 0, NULL);

    assert_non_null(item);
    for (size_t i = 0; i < ev->ntopics; i++) {
        if (mask & (1u << i))
            json_array_append_new(topics, json_string(ev->topics[i]));
    }
    return json_pack("{s:s, s:s, s:s, s:o, s:i, s:o}", "type", "item", "id", ev->id, "kind",
                     nw_event_kind_name(ev->kind), "topics", topics, "urgency", ev->urgency, "item",
                     item);
}

static void assert_json_same(json_t *got, json_t *want, const char *what, uint32_t mask)
{
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_SORT_KEYS), *w = json_dumps(want, JSON_SORT_KEYS);
        fail_msg("%s frame, mask 0x%x:\n got  %s\n want %s", what, mask, g, w);
    }
}

/* Builds both frames of ev for mask and checks they decode to the expected
 * message; also returns the msgpack topics array header byte. */
static unsigned char check_frames(const nw_event_t *ev, uint32_t mask, const char *item_json)
{
    json_t *want = expected_item(ev, mask, item_json), *got;
    nw_frame_t *jf = nw_frame_item(ev, NW_FORMAT_JSON, mask);
    nw_frame_t *mf = nw_frame_item(ev, NW_FORMAT_MSGPACK, mask);
    json_error_t jerr;
    msgpack_unpacked up;
    size_t off = 0;
    unsigned char header;

    assert_non_null(jf);
    assert_non_null(mf);
    assert_int_equal(jf->refs, 1);
    assert_false(jf->binary);
    assert_true(mf->binary);
    assert_int_equal(jf->urgency, ev->urgency);
    assert_int_equal(mf->urgency, ev->urgency);

    got = json_loadb((const char *)jf->payload, jf->len, JSON_REJECT_DUPLICATES, &jerr);
    if (got == NULL)
        fail_msg("JSON frame, mask 0x%x, does not parse: %s: %.*s", mask, jerr.text, (int)jf->len,
                 (const char *)jf->payload);
    assert_json_same(got, want, "JSON", mask);
    json_decref(got);

    msgpack_unpacked_init(&up);
    assert_int_equal(msgpack_unpack_next(&up, (const char *)mf->payload, mf->len, &off),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, mf->len); /* exactly one object, no trailing bytes */
    assert_int_equal(up.data.type, MSGPACK_OBJECT_MAP);
    assert_int_equal(up.data.via.map.size, 6);
    got = mp_to_json(&up.data);
    assert_json_same(got, want, "msgpack", mask);
    json_decref(got);
    msgpack_unpacked_destroy(&up);

    /* the topics array follows the head: "topics" is its last key */
    header = mf->payload[ev->mp_head.len];
    nw_frame_unref(jf);
    nw_frame_unref(mf);
    json_decref(want);
    return header;
}

static void test_event_decode(void **state)
{
    redisReply *e = entry_with(NULL, NULL, NULL);
    nw_event_t *ev = decode_ok(e);

    (void)state;
    assert_string_equal(ev->id, ENTRY_ID);
    assert_int_equal(ev->kind, NW_KIND_NEW);
    assert_int_equal(ev->urgency, 2);
    assert_int_equal(ev->ingest_ms, 123);
    assert_string_equal(ev->uri, "urn:newsml:afp.com:20240601:abc");
    assert_int_equal(ev->ntopics, 3);
    assert_string_equal(ev->topics[0], "a");
    assert_string_equal(ev->topics[1], "b/c");
    assert_string_equal(ev->topics[2], "d");
    r_free(e); /* the event keeps copies, not the reply */
    assert_string_equal(ev->uri, "urn:newsml:afp.com:20240601:abc");
    assert_ptr_equal(nw_event_ref(ev), ev);
    nw_event_unref(ev);
    nw_event_unref(ev);
    nw_event_unref(NULL);
}

static void test_event_frames_per_mask(void **state)
{
    static const uint32_t masks[] = {0x1, 0x2, 0x4, 0x3, 0x5, 0x6, 0x7, 0x0};
    redisReply *e = entry_with(NULL, NULL, NULL);
    nw_event_t *ev = decode_ok(e);

    (void)state;
    for (size_t i = 0; i < NW_ARRAY_LEN(masks); i++)
        assert_int_equal(check_frames(ev, masks[i], ITEM_JSON),
                         0x90 | __builtin_popcount(masks[i]));
    check_frames(ev, 0xfffffff8 | 0x2, ITEM_JSON); /* bits past ntopics are ignored */
    nw_event_unref(ev);
    r_free(e);
}

static void test_event_kinds(void **state)
{
    static const char *const kinds[] = {"new", "update", "kill", "withhold"};

    (void)state;
    for (size_t i = 0; i < NW_ARRAY_LEN(kinds); i++) {
        redisReply *e = entry_with(kinds[i], "x", "{}");
        nw_event_t *ev = decode_ok(e);
        nw_event_kind_t k;

        assert_int_equal(ev->kind, (nw_event_kind_t)i);
        assert_string_equal(nw_event_kind_name(ev->kind), kinds[i]);
        assert_int_equal(nw_event_kind_parse(kinds[i], strlen(kinds[i]), &k), 0);
        assert_int_equal(k, (nw_event_kind_t)i);
        check_frames(ev, 0x1, "{}");
        nw_event_unref(ev);
        r_free(e);
    }
    {
        nw_event_kind_t k;
        assert_int_equal(nw_event_kind_parse("newer", 3, &k), 0); /* length-bounded */
        assert_int_equal(k, NW_KIND_NEW);
        assert_int_equal(nw_event_kind_parse("newer", 5, &k), -EINVAL);
        assert_int_equal(nw_event_kind_parse("", 0, &k), -EINVAL);
        assert_int_equal(nw_event_kind_parse("NEW", 3, &k), -EINVAL);
        assert_string_equal(nw_event_kind_name((nw_event_kind_t)42), "?");
    }
}

/* Topics "t0,t1,..." (n of them) and an event carrying them. */
static nw_event_t *event_with_topics(const char *const *topics, size_t n, redisReply **entry)
{
    char csv[8192] = "";

    for (size_t i = 0; i < n; i++) {
        if (i)
            strcat(csv, ",");
        strcat(csv, topics[i]);
    }
    *entry = entry_with("update", csv, "{\"n\": 1}");
    return decode_ok(*entry);
}

/* 16 or more matched topics need the array16 header (0xdc). */
static void test_event_many_topics(void **state)
{
    static char names[32][8];
    const char *topics[32];
    redisReply *e;
    nw_event_t *ev;

    (void)state;
    for (int i = 0; i < 32; i++) {
        snprintf(names[i], sizeof(names[i]), "t%d", i);
        topics[i] = names[i];
    }
    ev = event_with_topics(topics, 32, &e);
    assert_int_equal(ev->ntopics, 32);
    assert_int_equal(check_frames(ev, 0x7fff, "{\"n\": 1}"), 0x9f);     /* 15: fixarray */
    assert_int_equal(check_frames(ev, 0xffff, "{\"n\": 1}"), 0xdc);     /* 16: array16 */
    assert_int_equal(check_frames(ev, 0xffff0000, "{\"n\": 1}"), 0xdc); /* the high bits */
    assert_int_equal(check_frames(ev, 0x55555555, "{\"n\": 1}"), 0xdc);
    assert_int_equal(check_frames(ev, 0xffffffff, "{\"n\": 1}"), 0xdc); /* all 32 */
    assert_int_equal(check_frames(ev, 0x80000001, "{\"n\": 1}"), 0x92);
    nw_event_unref(ev);
    r_free(e);
}

/* Topics of 32 bytes or more need str8 (0xd9) rather than fixstr. */
static void test_event_long_topics(void **state)
{
    static char t31[32], t32[33], t100[101], t128[129], multi[129];
    const char *topics[] = {t31, t32, t100, t128, "short", multi};
    redisReply *e;
    nw_event_t *ev;

    (void)state;
    memset(t31, 'a', 31);
    memset(t32, 'b', 32);
    memset(t100, 'c', 100);
    memset(t128, 'd', 128);
    for (int i = 0; i < 8; i++) { /* 8 segments of 15 bytes, 127 bytes in all */
        if (i > 0)
            strcat(multi, "/");
        strcat(multi, "eeeeeeeeeeeeeee");
    }
    ev = event_with_topics(topics, NW_ARRAY_LEN(topics), &e);
    assert_int_equal(ev->ntopics, 6);
    assert_string_equal(ev->topics[3], t128);
    for (uint32_t mask = 1; mask < (1u << 6); mask++)
        check_frames(ev, mask, "{\"n\": 1}");
    nw_event_unref(ev);
    r_free(e);
}

/* The stored item is embedded as is in JSON, whatever its spacing, and its
 * strings (escapes, UTF-8) survive the msgpack conversion. */
static void test_event_item_contents(void **state)
{
    static const char *const items[] = {
        "{}",
        "  {\n\t\"a\" : [ 1 , 2 ] }  ",
        "{\"s\": \"quote \\\" backslash \\\\ tab \\t nl \\n \\u0001 \\u00e9 \\ud83d\\ude00\"}",
        "{\"deep\": [[[[[[[[[[{\"x\": 0.25}]]]]]]]]]]}",
        "{\"min\": -9223372036854775808, \"max\": 9223372036854775807, \"z\": -0.0}",
    };
    char *big;
    size_t n = 200000;

    (void)state;
    for (size_t i = 0; i < NW_ARRAY_LEN(items); i++) {
        redisReply *e = entry_with("new", "a,b", items[i]);
        nw_event_t *ev = decode_ok(e);
        check_frames(ev, 0x3, items[i]);
        nw_event_unref(ev);
        r_free(e);
    }
    big = malloc(n + 16);
    assert_non_null(big);
    memcpy(big, "{\"body\": \"", 10);
    memset(big + 10, 'x', n);
    memcpy(big + 10 + n, "\"}", 3);
    {
        redisReply *e = entry_with("new", "a", big);
        nw_event_t *ev = decode_ok(e);
        check_frames(ev, 0x1, big);
        nw_event_unref(ev);
        r_free(e);
    }
    free(big);
}

/* Field order does not matter, unknown fields and non-string values are
 * skipped, urgency and ts fall back when absent or out of range. */
static void test_event_lenient_fields(void **state)
{
    static const struct {
        const char *urgency; /* NULL: absent */
        int want;
    } urg[] = {{NULL, 5}, {"1", 1}, {"9", 9}, {"0", 5}, {"10", 5}, {"-1", 5}, {"x", 5}};

    (void)state;
    for (size_t i = 0; i < NW_ARRAY_LEN(urg); i++) {
        const char *kv[] = {"item",
                            "{}",
                            "extra",
                            "ignored",
                            "topics",
                            "z",
                            "uri",
                            "u",
                            "kind",
                            "kill",
                            urg[i].urgency ? "urgency" : NULL,
                            urg[i].urgency,
                            NULL};
        redisReply *e = entry_v("5-0", kv);
        nw_event_t *ev = decode_ok(e);

        assert_int_equal(ev->urgency, urg[i].want);
        assert_int_equal(ev->ingest_ms, 0);
        assert_int_equal(ev->kind, NW_KIND_KILL);
        check_frames(ev, 0x1, "{}");
        nw_event_unref(ev);
        r_free(e);
    }
    {
        /* an integer-typed field is not the string it should be: skipped,
         * and a trailing key without value is ignored */
        redisReply *e = entry_with(NULL, NULL, NULL);
        redisReply *fields = e->element[1];
        redisReply **grown = realloc(fields->element, (fields->elements + 1) * sizeof(*grown));
        nw_event_t *ev;

        assert_non_null(grown);
        fields->element = grown;
        assert_string_equal(fields->element[6]->str, "urgency");
        r_free(fields->element[7]);
        fields->element[7] = r_int(1);
        fields->element[fields->elements++] = r_str("dangling");
        ev = decode_ok(e);
        assert_int_equal(ev->urgency, 5);
        nw_event_unref(ev);
        r_free(e);
    }
}

/* Asserts that entry is refused with -EINVAL, *out NULL and nothing
 * leaked (ASan), and returns nothing; err must say something. */
static void decode_bad(redisReply *entry, const char *what)
{
    nw_event_t *ev = (nw_event_t *)0x1;
    nw_err_t err = {.field = "", .message = ""};
    int rc = nw_event_from_entry(entry, &ev, &err);

    if (rc != -EINVAL)
        fail_msg("%s: rc %d, wanted -EINVAL", what, rc);
    assert_null(ev);
    if (err.message[0] == '\0')
        fail_msg("%s: no error message", what);
    r_free(entry);
}

static redisReply *without(const char *field)
{
    const char *all[] = {"kind", "new", "uri", "u", "topics", "a", "item", "{}", "ts", "1"};
    const char *kv[16];
    size_t n = 0;

    for (size_t i = 0; i < NW_ARRAY_LEN(all); i += 2) {
        if (strcmp(all[i], field) != 0) {
            kv[n++] = all[i];
            kv[n++] = all[i + 1];
        }
    }
    kv[n] = NULL;
    return entry_v("1-1", kv);
}

static void test_event_rejects_bad_shape(void **state)
{
    redisReply *v[3];
    const char *none[] = {NULL};
    char long_id[64];

    (void)state;
    decode_bad(r_str("1-1"), "a string");
    v[0] = r_str("1-1");
    decode_bad(r_arr(v, 1), "one element");
    v[0] = r_int(1);
    v[1] = r_arr(v, 0);
    decode_bad(r_arr(v, 2), "integer id");
    v[0] = r_str("1-1");
    v[1] = r_str("fields");
    decode_bad(r_arr(v, 2), "fields not an array");
    v[0] = r_str("1-1");
    v[1] = r_arr(v, 0);
    v[2] = r_str("extra");
    decode_bad(r_arr(v, 3), "three elements");
    decode_bad(entry_v("1-1", none), "no fields");
    decode_bad(without("item"), "no item");
    decode_bad(without("topics"), "no topics");
    decode_bad(without("kind"), "no kind");
    decode_bad(without("uri"), "no uri");
    memset(long_id, '1', 48);
    long_id[48] = '\0';
    decode_bad(entry_v(long_id, (const char *[]){"kind", "new", "uri", "u", "topics", "a", "item",
                                                 "{}", NULL}),
               "id too long");
}

static void test_event_rejects_bad_values(void **state)
{
    static const char *const kinds[] = {"delete", "", "New", "new "};
    static const char *const topics[] = {
        "",
        "A",
        "a,,b",
        "a,a",
        "a/+",
        "#",
        "a/",
        "a b",
        "t0,t1,t2,t3,t4,t5,t6,t7,t8,t9,t10,t11,t12,t13,t14,t15,t16,t17,t18,t19,t20,t21,t22,"
        "t23,t24,t25,t26,t27,t28,t29,t30,t31,t32", /* 33 topics */
    };
    /* The wire tail checks only the shape of the stored item (ingest wrote
     * it as canonical JSON; parsing it on every event is too dear): what is
     * not an object is refused here, and a malformed object makes its
     * msgpack frame fail (test_event_msgpack_of_a_broken_item). */
    static const char *const items[] = {
        "not json", "[1, 2]", "\"string\"", "42", "null", "{", "", "{} trailing",
    };

    (void)state;
    for (size_t i = 0; i < NW_ARRAY_LEN(kinds); i++)
        decode_bad(entry_with(kinds[i], NULL, NULL), kinds[i]);
    for (size_t i = 0; i < NW_ARRAY_LEN(topics); i++)
        decode_bad(entry_with(NULL, topics[i], NULL), topics[i]);
    for (size_t i = 0; i < NW_ARRAY_LEN(items); i++)
        decode_bad(entry_with(NULL, NULL, items[i]), items[i]);
}

/* An item that looks like an object but is not valid JSON decodes (its JSON
 * frame embeds it as stored), but its msgpack frame cannot be built. */
static void test_event_msgpack_of_a_broken_item(void **state)
{
    redisReply *e = entry_with("new", "a", "{\"a\": 1, \"a\": 2}");
    nw_event_t *ev = decode_ok(e);

    (void)state;
    assert_null(nw_frame_item(ev, NW_FORMAT_MSGPACK, 0x1));
    assert_int_equal(nw_event_msgpack(ev), -EINVAL);
    {
        nw_frame_t *f = nw_frame_item(ev, NW_FORMAT_JSON, 0x1);
        assert_non_null(f);
        nw_frame_unref(f);
    }
    nw_event_unref(ev);
    r_free(e);
}

static void test_frame_alloc(void **state)
{
    nw_frame_t *j = nw_frame_alloc(10, NW_FORMAT_JSON, 4);
    nw_frame_t *m = nw_frame_alloc(0, NW_FORMAT_MSGPACK, NW_URGENCY_CONTROL);

    (void)state;
    assert_non_null(j);
    assert_non_null(m);
    assert_int_equal(j->refs, 1);
    assert_int_equal(j->len, 10);
    assert_int_equal(j->urgency, 4);
    assert_false(j->binary);
    assert_true(m->binary);
    assert_int_equal(m->len, 0);
    assert_true(j->payload > j->storage); /* headroom before the payload */
    memset(j->payload, 'x', 10);
    assert_ptr_equal(nw_frame_ref(j), j);
    assert_int_equal(j->refs, 2);
    nw_frame_unref(j);
    nw_frame_unref(j);
    nw_frame_unref(m);
    nw_frame_unref(NULL);
}

static void test_frame_control(void **state)
{
    json_t *msg = json_pack("{s:s, s:s, s:i, s:[s, s], s:b}", "type", "hello", "session", "s-1",
                            "max_topics", 64, "formats", "json", "msgpack", "resume", 1);
    nw_frame_t *j = nw_frame_control(msg, NW_FORMAT_JSON);
    nw_frame_t *m = nw_frame_control(msg, NW_FORMAT_MSGPACK);
    msgpack_unpacked up;
    size_t off = 0;
    json_t *got;

    (void)state;
    assert_non_null(j);
    assert_non_null(m);
    assert_int_equal(j->urgency, NW_URGENCY_CONTROL);
    assert_int_equal(m->urgency, NW_URGENCY_CONTROL);
    assert_false(j->binary);
    assert_true(m->binary);
    got = json_loadb((const char *)j->payload, j->len, 0, NULL);
    assert_non_null(got);
    assert_true(json_equal(got, msg));
    json_decref(got);
    msgpack_unpacked_init(&up);
    assert_int_equal(msgpack_unpack_next(&up, (const char *)m->payload, m->len, &off),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, m->len);
    got = mp_to_json(&up.data);
    assert_true(json_equal(got, msg));
    json_decref(got);
    msgpack_unpacked_destroy(&up);
    nw_frame_unref(j);
    nw_frame_unref(m);
    json_decref(msg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_decode),
        cmocka_unit_test(test_event_frames_per_mask),
        cmocka_unit_test(test_event_kinds),
        cmocka_unit_test(test_event_many_topics),
        cmocka_unit_test(test_event_long_topics),
        cmocka_unit_test(test_event_item_contents),
        cmocka_unit_test(test_event_lenient_fields),
        cmocka_unit_test(test_event_rejects_bad_shape),
        cmocka_unit_test(test_event_rejects_bad_values),
        cmocka_unit_test(test_event_msgpack_of_a_broken_item),
        cmocka_unit_test(test_frame_alloc),
        cmocka_unit_test(test_frame_control),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
