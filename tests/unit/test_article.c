/* Unit tests for proto/article*.c: ninjs 2.2 validation, the Newswire
 * limits, date-times, UTF-8, parsing from JSON and msgpack, canonical form.
 * Fixtures are in $NW_TEST_DATA/ninjs/ (article_full.json uses every ninjs
 * 2.2 property). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "article.h"
#include "codec.h"

#define MINIMAL                                                                                    \
    "{\"uri\":\"urn:x:1\",\"version\":\"1\",\"versioncreated\":\"2026-11-27T09:12:00Z\","          \
    "\"type\":\"text\",\"language\":\"fr\",\"headlines\":[{\"value\":\"Titre\"}]}"

/* Reads $NW_TEST_DATA/name into a malloc'd buffer. */
static char *load(const char *name, size_t *len)
{
    const char *dir = getenv("NW_TEST_DATA");
    char path[1024];
    FILE *f;
    char *buf;
    long n;

    if (dir == NULL)
        dir = "tests/unit/data";
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static json_t *load_json(const char *name)
{
    size_t len;
    char *buf = load(name, &len);
    json_t *v = json_loadb(buf, len, 0, NULL);

    free(buf);
    assert_non_null(v);
    return v;
}

static json_t *from_text(const char *text)
{
    json_t *v = json_loads(text, 0, NULL);

    if (v == NULL)
        fail_msg("bad test JSON: %s", text);
    return v;
}

/* Resolves a path such as "people[0].contactinfo[1].address" (borrowed). */
static json_t *at(json_t *root, const char *path)
{
    json_t *v = root;
    const char *p = path;

    while (*p != '\0' && v != NULL) {
        if (*p == '.')
            p++;
        if (*p == '[') {
            char *end;
            size_t i = strtoul(p + 1, &end, 10);

            v = json_array_get(v, i);
            p = end + 1;
        } else {
            size_t n = strcspn(p, ".[");
            char key[128];

            snprintf(key, sizeof(key), "%.*s", (int)n, p);
            v = json_object_get(v, key);
            p += n;
        }
    }
    if (v == NULL)
        fail_msg("no %s in the test item", path);
    return v;
}

/* Sets (value non-NULL, stolen) or deletes the node at path. */
static void set(json_t *root, const char *path, json_t *value)
{
    const char *last = strrchr(path, '.');
    const char *bracket = strrchr(path, '[');
    char parent[256];
    json_t *p;

    if (bracket != NULL && (last == NULL || bracket > last)) {
        snprintf(parent, sizeof(parent), "%.*s", (int)(bracket - path), path);
        p = at(root, parent);
        if (value)
            assert_int_equal(json_array_set_new(p, strtoul(bracket + 1, NULL, 10), value), 0);
        else
            assert_int_equal(json_array_remove(p, strtoul(bracket + 1, NULL, 10)), 0);
        return;
    }
    snprintf(parent, sizeof(parent), "%.*s", last ? (int)(last - path) : 0, path);
    p = parent[0] ? at(root, parent) : root;
    if (value)
        assert_int_equal(json_object_set_new(p, last ? last + 1 : path, value), 0);
    else
        assert_int_equal(json_object_del(p, last ? last + 1 : path), 0);
}

/* Validates item expecting success; returns the article (caller frees). */
static nw_article_t *ok(json_t *item)
{
    nw_article_t *a = NULL;
    nw_err_t err = {.field = ""};
    int rc = nw_article_from_json(item, &a, &err);

    if (rc != 0)
        fail_msg("refused: %s: %s", err.field, err.message);
    assert_non_null(a);
    return a;
}

static void ok_free(json_t *item)
{
    nw_article_free(ok(item));
}

/* Validates item expecting -EINVAL naming field with a message that
 * contains msg. */
static void bad(json_t *item, const char *field, const char *msg)
{
    nw_article_t *a = (nw_article_t *)&a;
    nw_err_t err = {.field = ""};
    int rc = nw_article_from_json(item, &a, &err);

    if (rc != -EINVAL)
        fail_msg("accepted (rc %d), expected %s: %s", rc, field, msg);
    assert_null(a);
    if (strcmp(err.field, field) != 0 || strstr(err.message, msg) == NULL)
        fail_msg("got %s: \"%s\", expected %s: \"%s\"", err.field, err.message, field, msg);
}

/* Sets path to value in a fresh copy of the fixture, expects the error. */
static void bad_with(const char *fixture, const char *path, json_t *value, const char *field,
                     const char *msg)
{
    json_t *item = fixture[0] == '{' ? from_text(fixture) : load_json(fixture);

    set(item, path, value);
    bad(item, field, msg);
    json_decref(item);
}

static void ok_with(const char *fixture, const char *path, json_t *value)
{
    json_t *item = fixture[0] == '{' ? from_text(fixture) : load_json(fixture);

    set(item, path, value);
    ok_free(item);
    json_decref(item);
}

#define FULL "ninjs/article_full.json"

static json_t *str_n(size_t len, char c)
{
    char *s = malloc(len + 1);
    json_t *v;

    memset(s, c, len);
    s[len] = '\0';
    v = json_string(s);
    free(s);
    return v;
}

/* A valid value of kind k ("s" plain, "u" URI, "l" language) of len bytes. */
static json_t *value_n(char k, size_t len)
{
    char *s = malloc(len + 16);
    json_t *v;

    if (k == 'u') {
        memcpy(s, "urn:", 4);
        memset(s + 4, 'a', len - 4);
    } else if (k == 'l') {
        size_t n = 2;

        memcpy(s, "en", 2);
        while (len - n > 9) {
            memcpy(s + n, "-abcdefgh", 9);
            n += 9;
        }
        s[n++] = '-';
        memset(s + n, 'x', len - n);
    } else {
        memset(s, 'x', len);
    }
    s[len] = '\0';
    v = json_string(s);
    free(s);
    return v;
}

static void test_samples_accepted(void **state)
{
    static const struct {
        const char *file;
        const char *version;
        nw_pubstatus_t pubstatus;
        int64_t versioncreated_ms, embargoed_ms;
    } samples[] = {
        {"ninjs/article_v1.json", "1", NW_PUBSTATUS_USABLE, 1795770720000, 0},
        {"ninjs/article_embargoed.json", "1", NW_PUBSTATUS_USABLE, 1795770720000, 1795845600000},
        {"ninjs/article_v2_correction.json", "2", NW_PUBSTATUS_USABLE, 1795773900000, 0},
        {"ninjs/article_v3_kill.json", "3", NW_PUBSTATUS_CANCELED, 1795777200000, 0},
    };

    (void)state;
    for (size_t i = 0; i < NW_ARRAY_LEN(samples); i++) {
        size_t len;
        char *buf = load(samples[i].file, &len);
        nw_article_t *a = NULL;
        nw_err_t err = {.field = ""};

        if (nw_article_parse_json(buf, len, &a, &err) != 0)
            fail_msg("%s refused: %s: %s", samples[i].file, err.field, err.message);
        assert_string_equal(a->uri,
                            "urn:newsml:exemple-presse.example:20261127:diplo-abidjan-accra-0001");
        assert_string_equal(a->version, samples[i].version);
        assert_int_equal(a->version_num, (uint32_t)atoi(samples[i].version));
        assert_true(a->has_urgency);
        assert_int_equal(a->urgency, 2);
        assert_int_equal(a->pubstatus, samples[i].pubstatus);
        assert_int_equal(a->versioncreated_ms, samples[i].versioncreated_ms);
        assert_int_equal(a->embargoed_ms, samples[i].embargoed_ms);
        assert_true(json_is_object(a->item));
        assert_ptr_equal(a->uri, json_string_value(json_object_get(a->item, "uri")));
        nw_article_free(a);
        free(buf);
    }
}

/* Every property of ninjsType in ninjs 2.2: the full fixture has them all,
 * so accepting it shows none is missing from the table. */
static const char *const ninjs_props[] = {
    "uri",
    "type",
    "representationtype",
    "profile",
    "version",
    "firstcreated",
    "versioncreated",
    "contentcreated",
    "embargoed",
    "pubstatus",
    "urgency",
    "copyrightholder",
    "copyrightnotice",
    "usageterms",
    "ednote",
    "language",
    "descriptions",
    "bodies",
    "headlines",
    "people",
    "organisations",
    "places",
    "subjects",
    "events",
    "objects",
    "infosources",
    "title",
    "by",
    "slugline",
    "located",
    "renditions",
    "associations",
    "altids",
    "trustindicators",
    "standard",
    "genres",
    "expires",
    "rightsinfo",
    "digitalsourcetype",
};

static void test_full_item(void **state)
{
    json_t *item = load_json(FULL);
    size_t refs = item->refcount;
    nw_article_t *a;

    (void)state;
    assert_int_equal(json_object_size(item), NW_ARRAY_LEN(ninjs_props));
    for (size_t i = 0; i < NW_ARRAY_LEN(ninjs_props); i++)
        assert_non_null(json_object_get(item, ninjs_props[i]));
    a = ok(item);
    assert_ptr_equal(a->item, item);
    assert_int_equal(item->refcount, refs + 1); /* a new reference */
    assert_string_equal(a->version, "7");
    assert_int_equal(a->version_num, 7);
    assert_int_equal(a->urgency, 1);
    assert_true(a->has_urgency);
    assert_int_equal(a->pubstatus, NW_PUBSTATUS_WITHHELD);
    assert_int_equal(a->versioncreated_ms, 1795770720250); /* 10:12:00.250+01:00 */
    assert_int_equal(a->embargoed_ms, 1795845600000);
    nw_article_free(a);
    assert_int_equal(item->refcount, refs);
    json_decref(item);
    nw_article_free(NULL);
}

static void test_minimal_defaults(void **state)
{
    json_t *item = from_text(MINIMAL);
    nw_article_t *a = ok(item);

    (void)state;
    assert_string_equal(a->uri, "urn:x:1");
    assert_int_equal(a->version_num, 1);
    assert_false(a->has_urgency);
    assert_int_equal(a->urgency, NW_URGENCY_DEFAULT);
    assert_int_equal(a->pubstatus, NW_PUBSTATUS_USABLE);
    assert_int_equal(a->versioncreated_ms, 1795770720000);
    assert_int_equal(a->embargoed_ms, 0);
    nw_article_free(a);
    json_decref(item);
    assert_string_equal(nw_pubstatus_name(NW_PUBSTATUS_USABLE), "usable");
    assert_string_equal(nw_pubstatus_name(NW_PUBSTATUS_WITHHELD), "withheld");
    assert_string_equal(nw_pubstatus_name(NW_PUBSTATUS_CANCELED), "canceled");
}

static void test_required(void **state)
{
    static const char *const required[] = {"uri",  "version",  "versioncreated",
                                           "type", "language", "headlines"};

    (void)state;
    for (size_t i = 0; i < NW_ARRAY_LEN(required); i++)
        bad_with(MINIMAL, required[i], NULL, required[i], "required");
    bad_with(MINIMAL, "headlines", json_array(), "headlines", "must have at least 1 item");
    bad_with(MINIMAL, "headlines[0].value", NULL, "headlines[0].value", "required");
    bad_with(MINIMAL, "headlines[0].value", json_string(""), "headlines[0].value",
             "must not be empty");
    bad_with(FULL, "descriptions[0].value", NULL, "descriptions[0].value", "required");
    bad_with(FULL, "bodies[0].value", NULL, "bodies[0].value", "required");
    bad_with(FULL, "renditions[0].name", NULL, "renditions[0].name", "required");
    bad_with(FULL, "associations[0].name", NULL, "associations[0].name", "required");
    bad_with(FULL, "associations[0].uri", NULL, "associations[0].uri", "required");
    bad_with(FULL, "associations[0].associations[0].uri", NULL,
             "associations[0].associations[0].uri", "required");
    /* an association needs no version, type, ... */
    ok_with(MINIMAL, "associations", from_text("[{\"name\":\"n\",\"uri\":\"urn:y\"}]"));
}

/* Every top-level property given a value of the wrong JSON type. */
static void test_wrong_types(void **state)
{
    json_t *full = load_json(FULL);
    const char *key;
    json_t *v;

    (void)state;
    json_object_foreach(full, key, v)
    {
        json_t *wrong;
        const char *msg;

        if (json_is_string(v)) {
            wrong = json_integer(42);
            msg = "must be a string";
        } else if (json_is_array(v)) {
            wrong = json_object();
            msg = "must be an array";
        } else if (json_is_object(v)) {
            wrong = json_array();
            msg = "must be an object";
        } else {
            assert_string_equal(key, "urgency");
            wrong = json_string("1");
            msg = "must be an integer 1..9";
        }
        bad_with(FULL, key, wrong, key, msg);
    }
    json_decref(full);
    bad_with(FULL, "uri", json_null(), "uri", "must be a string");
    bad_with(FULL, "version", json_true(), "version", "must be a string");
    bad_with(FULL, "headlines[0]", json_string("x"), "headlines[0]", "must be an object");
    bad_with(FULL, "headlines[0].value", json_integer(1), "headlines[0].value", "must be a string");
    bad_with(FULL, "bodies[0].charcount", json_string("12"), "bodies[0].charcount",
             "must be a number");
    bad_with(FULL, "renditions[0].height", json_integer(-1), "renditions[0].height",
             "must be >= 0");
    bad_with(FULL, "people[0].contactinfo[1].address.lines", json_string("l"),
             "people[0].contactinfo[1].address.lines", "must be an array");
    bad_with(FULL, "people[0].contactinfo[1].address.lines[0]", json_integer(1),
             "people[0].contactinfo[1].address.lines[0]", "must be a string");
    bad_with(FULL, "places[0].geojson", json_array(), "places[0].geojson", "must be an object");
    bad_with(FULL, "associations[0]", json_string("urn:x"), "associations[0]", "must be an object");
}

static void test_enumerations(void **state)
{
    static const char *const types[] = {"text",    "audio",     "video",    "picture",
                                        "graphic", "composite", "component"};

    (void)state;
    for (size_t i = 0; i < NW_ARRAY_LEN(types); i++)
        ok_with(MINIMAL, "type", json_string(types[i]));
    bad_with(MINIMAL, "type", json_string("article"), "type",
             "must be one of: text, audio, video, picture, graphic, composite, component");
    bad_with(MINIMAL, "type", json_string("Text"), "type", "must be one of");
    bad_with(MINIMAL, "pubstatus", json_string("killed"), "pubstatus",
             "must be one of: usable, withheld, canceled");
    bad_with(MINIMAL, "pubstatus", json_string("cancelled"), "pubstatus", "must be one of");
    bad_with(MINIMAL, "representationtype", json_string("summary"), "representationtype",
             "must be one of: full, partial");
    bad_with(FULL, "associations[0].type", json_string("photo"), "associations[0].type",
             "must be one of");
}

static void test_urgency(void **state)
{
    json_t *item;
    nw_article_t *a;

    (void)state;
    for (int u = NW_URGENCY_MIN; u <= NW_URGENCY_MAX; u++) {
        item = from_text(MINIMAL);
        set(item, "urgency", json_integer(u));
        a = ok(item);
        assert_int_equal(a->urgency, u);
        assert_true(a->has_urgency);
        nw_article_free(a);
        json_decref(item);
    }
    bad_with(MINIMAL, "urgency", json_integer(0), "urgency", "must be an integer 1..9");
    bad_with(MINIMAL, "urgency", json_integer(10), "urgency", "must be an integer 1..9");
    bad_with(MINIMAL, "urgency", json_integer(-1), "urgency", "must be an integer 1..9");
    bad_with(MINIMAL, "urgency", json_real(1.5), "urgency", "must be an integer 1..9");
    bad_with(MINIMAL, "urgency", json_real(1.0), "urgency", "must be an integer 1..9");
    bad_with(MINIMAL, "urgency", json_string("1"), "urgency", "must be an integer 1..9");
    bad_with(MINIMAL, "urgency", json_null(), "urgency", "must be an integer 1..9");
}

static void test_version(void **state)
{
    static const char *const bad_versions[] = {"0",  "01", "abc", "",    "-1",        "1.0",
                                               " 1", "1 ", "+1",  "1e3", "1000000000"};
    json_t *item;
    nw_article_t *a;

    (void)state;
    for (size_t i = 0; i < NW_ARRAY_LEN(bad_versions); i++)
        bad_with(MINIMAL, "version", json_string(bad_versions[i]), "version",
                 "must be a decimal string 1..999999999");
    bad_with(MINIMAL, "version", json_integer(1), "version", "must be a string");
    item = from_text(MINIMAL);
    set(item, "version", json_string("999999999"));
    a = ok(item);
    assert_int_equal(a->version_num, 999999999u);
    nw_article_free(a);
    set(item, "version", json_string("10"));
    a = ok(item);
    assert_int_equal(a->version_num, 10);
    nw_article_free(a);
    json_decref(item);
}

static void test_datetime_fields(void **state)
{
    static const char *const fields[] = {"firstcreated", "versioncreated", "contentcreated",
                                         "embargoed", "expires"};
    static const char *const bad_times[] = {
        "2026-02-30T00:00:00Z",
        "2026-11-27T25:00:00Z",
        "2026-11-27T09:12:00",
        "2026-11-27",
        "2026-11-27 09:12:00Z",
        "not a date",
        "",
    };

    (void)state;
    for (size_t f = 0; f < NW_ARRAY_LEN(fields); f++)
        for (size_t i = 0; i < NW_ARRAY_LEN(bad_times); i++)
            bad_with(FULL, fields[f], json_string(bad_times[i]), fields[f], "RFC 3339");
    bad_with(FULL, "associations[0].versioncreated", json_string("2026-13-01T00:00:00Z"),
             "associations[0].versioncreated", "RFC 3339");
    ok_with(MINIMAL, "versioncreated", json_string("2024-02-29t23:59:59.999-00:30"));
}

static void test_rfc3339(void **state)
{
    static const struct {
        const char *s;
        int64_t ms;
    } good[] = {
        {"1970-01-01T00:00:00Z", 0},
        {"2026-11-27T09:12:00Z", 1795770720000},
        {"2026-11-27T10:12:00.250+01:00", 1795770720250},
        {"2024-02-29T23:59:59.999-00:30", 1709252999999},
        {"2000-01-01T00:00:00Z", 946684800000},
        {"2000-02-29T00:00:00Z", 951782400000},
        {"1969-12-31T23:59:59Z", -1000},
        {"0001-01-01T00:00:00Z", -62135596800000},
        {"9999-12-31T23:59:59Z", 253402300799000},
        {"2026-11-27t09:12:00z", 1795770720000},
        {"2026-11-27T09:12:00.1Z", 1795770720100},
        {"2026-11-27T09:12:00.123456789Z", 1795770720123},
        {"2026-11-27T09:12:00+00:00", 1795770720000},
        {"2026-11-27T09:12:00-00:00", 1795770720000},
        {"2026-11-27T23:59:59+23:59", 1795737659000},
    };
    static const char *const invalid[] = {
        "2026-02-30T00:00:00Z",
        "2025-02-29T00:00:00Z",
        "1900-02-29T00:00:00Z",
        "2026-04-31T00:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-00-01T00:00:00Z",
        "2026-01-00T00:00:00Z",
        "2026-01-32T00:00:00Z",
        "2026-11-27T24:00:00Z",
        "2026-11-27T25:00:00Z",
        "2026-11-27T23:60:00Z",
        "2026-11-27T23:59:60Z",
        "2026-11-27T09:12:00",
        "2026-11-27T09:12:00+01",
        "2026-11-27T09:12:00+0100",
        "2026-11-27T09:12:00+24:00",
        "2026-11-27T09:12:00+01:60",
        "2026-11-27 09:12:00Z",
        "2026-11-27T09:12Z",
        "2026-11-27T09:12:00.Z",
        "2026-11-27T09:12:00.1234567890Z",
        "2026-11-27T09:12:00ZZ",
        "2026-11-27T09:12:00Z ",
        " 2026-11-27T09:12:00Z",
        "26-11-27T09:12:00Z",
        "2026-1-27T09:12:00Z",
        "2026/11/27T09:12:00Z",
        "2026-11-27X09:12:00Z",
        "",
        "2026",
    };

    (void)state;
    for (size_t i = 0; i < NW_ARRAY_LEN(good); i++) {
        int64_t ms = 42;

        if (nw_rfc3339_parse(good[i].s, &ms) != 0)
            fail_msg("\"%s\" refused", good[i].s);
        if (ms != good[i].ms)
            fail_msg("\"%s\": %lld, expected %lld", good[i].s, (long long)ms,
                     (long long)good[i].ms);
    }
    for (size_t i = 0; i < NW_ARRAY_LEN(invalid); i++) {
        int64_t ms;

        if (nw_rfc3339_parse(invalid[i], &ms) != -EINVAL)
            fail_msg("\"%s\" accepted", invalid[i]);
    }
    assert_int_equal(nw_rfc3339_parse(NULL, NULL), -EINVAL);
}

static void test_uri_format(void **state)
{
    static const char *const good[] = {
        "urn:x",
        "http://example.com/a?b=c&d=e#f",
        "urn:newsml:x:%41%2f",
        "mailto:a@b.example",
        "tag:example.com,2026:x",
        "a+b.c-d:x",
        "https://[::1]:8080/p;q=1!$'()*",
    };
    static const char *const invalid[] = {
        "abc",         "not a uri",   "1abc:x",
        "ht tp://x",   "http:",       ":x",
        "http://a b",  "http://a\"b", "http://a<b>",
        "http://a{b}", "http://a|b",  "http://a\\b",
        "http://a^b",  "http://a`b",  "http://a%zz",
        "http://a%4",  "http://a%",   "urn:x\ny",
        "urn:x\x7f",   "-x:y",        "http://caf\xc3\xa9.example",
    };

    (void)state;
    for (size_t i = 0; i < NW_ARRAY_LEN(good); i++) {
        ok_with(MINIMAL, "uri", json_string(good[i]));
        ok_with(FULL, "renditions[0].href", json_string(good[i]));
    }
    for (size_t i = 0; i < NW_ARRAY_LEN(invalid); i++) {
        bad_with(MINIMAL, "uri", json_string(invalid[i]), "uri", "must be an absolute URI");
        bad_with(FULL, "subjects[0].uri", json_string(invalid[i]), "subjects[0].uri",
                 "must be an absolute URI");
    }
    bad_with(MINIMAL, "uri", json_string(""), "uri", "must not be empty");
    bad_with(FULL, "renditions[0].href", json_string("/relative/path"), "renditions[0].href",
             "must be an absolute URI");
    bad_with(FULL, "associations[0].uri", json_string("photo-1"), "associations[0].uri",
             "must be an absolute URI");
    bad_with(FULL, "rightsinfo.linkedrights", json_string("droits"), "rightsinfo.linkedrights",
             "absolute URI");
    bad_with(FULL, "standard.schema", json_string("x y"), "standard.schema", "absolute URI");
    bad_with(FULL, "trustindicators[0].role", json_string("policy"), "trustindicators[0].role",
             "absolute URI");
    bad_with(FULL, "organisations[0].symbols[0].symboltype", json_string("ticker"),
             "organisations[0].symbols[0].symboltype", "absolute URI");
    ok_with(FULL, "genres[0].uri", json_string("not-a-uri")); /* no format in ninjs 2.2 */
}

static void test_language(void **state)
{
    static const char *const good[] = {"fr", "en-GB", "zh-Hant-TW", "fra", "de-CH-1996", "FR"};
    static const char *const invalid[] = {"f",      "french",       "en_GB", "en-", "-en",
                                          "en--gb", "en-abcdefghi", "e1",    "",    "fr "};

    (void)state;
    for (size_t i = 0; i < NW_ARRAY_LEN(good); i++)
        ok_with(MINIMAL, "language", json_string(good[i]));
    for (size_t i = 0; i < NW_ARRAY_LEN(invalid); i++)
        bad_with(MINIMAL, "language", json_string(invalid[i]), "language", "language tag");
    bad_with(FULL, "people[0].contactinfo[0].lang", json_string("french"),
             "people[0].contactinfo[0].lang", "language tag");
}

/* Each string limit: accepted at the bound, refused one byte past it. */
static void test_string_limits(void **state)
{
    static const struct {
        const char *path;
        size_t max;
        char kind;
    } limits[] = {
        {"uri", 512, 'u'},
        {"language", 35, 'l'},
        {"headlines[0].value", 1024, 's'},
        {"headlines[0].role", 256, 's'},
        {"headlines[0].contenttype", 256, 's'},
        {"descriptions[0].value", 16 * 1024, 's'},
        {"bodies[0].value", 512 * 1024, 's'},
        {"ednote", 4096, 's'},
        {"usageterms", 4096, 's'},
        {"copyrightholder", 1024, 's'},
        {"copyrightnotice", 1024, 's'},
        {"title", 1024, 's'},
        {"by", 1024, 's'},
        {"slugline", 1024, 's'},
        {"located", 1024, 's'},
        {"profile", 256, 's'},
        {"renditions[0].href", 2048, 'u'},
        {"renditions[0].name", 1024, 's'},
        {"renditions[0].format", 256, 's'},
        {"subjects[0].uri", 512, 'u'},
        {"subjects[0].name", 1024, 's'},
        {"subjects[0].literal", 256, 's'},
        {"people[0].contactinfo[1].address.lines[0]", 1024, 's'},
        {"people[0].contactinfo[0].value", 1024, 's'},
        {"people[0].contactinfo[1].address.postalcode", 256, 's'},
        {"altids[0].value", 1024, 's'},
        {"rightsinfo.linkedrights", 2048, 'u'},
        {"standard.version", 256, 's'},
        {"genres[0].uri", 256, 's'},
        {"associations[0].name", 1024, 's'},
        {"associations[0].uri", 512, 'u'},
        {"associations[0].headlines[0].value", 1024, 's'},
        {"associations[0].associations[0].name", 1024, 's'},
    };
    char msg[96];

    (void)state;
    for (size_t i = 0; i < NW_ARRAY_LEN(limits); i++) {
        ok_with(FULL, limits[i].path, value_n(limits[i].kind, limits[i].max));
        snprintf(msg, sizeof(msg), "too long: %zu bytes, max %zu", limits[i].max + 1,
                 limits[i].max);
        bad_with(FULL, limits[i].path, value_n(limits[i].kind, limits[i].max + 1), limits[i].path,
                 msg);
    }
    /* encodedrights: 16 KiB (rightsinfo has exactly one of linked/encoded) */
    {
        json_t *item = load_json(FULL);

        set(item, "rightsinfo.linkedrights", NULL);
        set(item, "rightsinfo.encodedrights", str_n(16 * 1024, 'r'));
        ok_free(item);
        set(item, "rightsinfo.encodedrights", str_n(16 * 1024 + 1, 'r'));
        bad(item, "rightsinfo.encodedrights", "too long: 16385 bytes, max 16384");
        json_decref(item);
    }
}

/* Each array limit: accepted at the bound, refused one item past it. */
static void test_array_limits(void **state)
{
    static const struct {
        const char *path;
        size_t max;
        const char *item;
    } limits[] = {
        {"headlines", 16, "{\"value\":\"h\"}"},
        {"descriptions", 16, "{\"value\":\"d\"}"},
        {"bodies", 16, "{\"value\":\"b\"}"},
        {"people", 64, "{\"name\":\"p\"}"},
        {"organisations", 64, "{\"name\":\"o\"}"},
        {"places", 64, "{\"name\":\"p\"}"},
        {"subjects", 64, "{\"name\":\"s\"}"},
        {"events", 64, "{\"name\":\"e\"}"},
        {"objects", 64, "{\"name\":\"o\"}"},
        {"infosources", 64, "{\"name\":\"i\"}"},
        {"genres", 64, "{\"name\":\"g\"}"},
        {"renditions", 32, "{\"name\":\"r\"}"},
        {"associations", 32, "{\"name\":\"a\",\"uri\":\"urn:a\"}"},
        {"altids", 32, "{\"value\":\"v\"}"},
        {"trustindicators", 32, "{\"title\":\"t\"}"},
        {"people[0].contactinfo", 16, "{\"value\":\"v\"}"},
        {"organisations[0].symbols", 16, "{\"ticker\":\"T\"}"},
        {"infosources[0].contactinfo", 16, "{\"value\":\"v\"}"},
        {"associations[0].renditions", 32, "{\"name\":\"r\"}"},
        {"people[0].contactinfo[1].address.lines", 8, "\"line\""},
    };
    char msg[96];

    (void)state;
    for (size_t i = 0; i < NW_ARRAY_LEN(limits); i++) {
        json_t *one = json_loads(limits[i].item, JSON_DECODE_ANY, NULL);
        json_t *arr = json_array();

        assert_non_null(one);
        for (size_t n = 0; n < limits[i].max; n++)
            json_array_append_new(arr, json_deep_copy(one));
        ok_with(FULL, limits[i].path, json_deep_copy(arr));
        json_array_append_new(arr, one);
        snprintf(msg, sizeof(msg), "too many items: %zu, max %zu", limits[i].max + 1,
                 limits[i].max);
        bad_with(FULL, limits[i].path, arr, limits[i].path, msg);
    }
}

static void test_unknown_properties(void **state)
{
    (void)state;
    bad_with(MINIMAL, "foo", json_true(), "foo", "unknown property");
    bad_with(MINIMAL, "Uri", json_string("urn:x"), "Uri", "unknown property");
    bad_with(MINIMAL, "name", json_string("n"), "name", "unknown property"); /* assoc-only */
    bad_with(MINIMAL, "headlines[0].lang", json_string("fr"), "headlines[0].lang",
             "unknown property");
    bad_with(FULL, "standard.x", json_string("y"), "standard.x", "unknown property");
    bad_with(FULL, "rightsinfo.extra", json_string("y"), "rightsinfo.extra", "unknown property");
    bad_with(FULL, "people[0].contactinfo[1].address.zip", json_string("1"),
             "people[0].contactinfo[1].address.zip", "unknown property");
    bad_with(FULL, "organisations[0].symbols[0].isin", json_string("1"),
             "organisations[0].symbols[0].isin", "unknown property");
    bad_with(FULL, "associations[0].headlines[0].bogus", json_string("1"),
             "associations[0].headlines[0].bogus", "unknown property");
    bad_with(FULL, "associations[0].associations[0].foo", json_string("1"),
             "associations[0].associations[0].foo", "unknown property");
    bad_with(FULL, "digitalsourcetype.href", json_string("urn:x"), "digitalsourcetype.href",
             "unknown property");
    /* geojson is opaque: any keys */
    ok_with(FULL, "places[0].geojson.properties", from_text("{\"anything\":[1,{\"x\":null}]}"));
}

static void test_associations_depth(void **state)
{
    json_t *item = load_json(FULL);

    (void)state;
    ok_free(item); /* two levels */
    set(item, "associations[0].associations[0].associations",
        from_text("[{\"name\":\"n\",\"uri\":\"urn:n\"}]"));
    bad(item, "associations[0].associations[0].associations", "at most 2 levels of associations");
    json_decref(item);
}

static void test_nesting_depth(void **state)
{
    /* root, places, places[0] and geojson are 4 levels: 12 more reach the
     * limit of 16 exactly, 13 go past it */
    for (int extra = 12; extra <= 13; extra++) {
        json_t *geo = json_object();
        json_t *item = load_json(FULL);

        for (int i = 0; i < extra; i++) {
            json_t *outer = json_object();

            json_object_set_new(outer, "a", geo);
            geo = outer;
        }
        json_object_set_new(geo, "type", json_string("Point"));
        set(item, "places[0].geojson", geo);
        if (extra == 12) {
            ok_free(item);
        } else {
            nw_err_t err = {.field = ""};
            nw_article_t *a = NULL;

            assert_int_equal(nw_article_from_json(item, &a, &err), -EINVAL);
            assert_string_equal(err.message, "too deeply nested: max 16 levels");
            assert_string_equal(err.field, "places[0].geojson.a.a.a.a.a.a.a.a.a.a.a.a.a");
        }
        json_decref(item);
    }
    (void)state;
}

static void test_one_of_and_ranges(void **state)
{
    (void)state;
    bad_with(FULL, "people[0].contactinfo[0].address", from_text("{\"locality\":\"x\"}"),
             "people[0].contactinfo[0]", "must have exactly one of: value, address");
    bad_with(FULL, "people[0].contactinfo[0]", from_text("{\"type\":\"email\"}"),
             "people[0].contactinfo[0]", "must have exactly one of: value, address");
    bad_with(FULL, "rightsinfo.encodedrights", json_string("<x/>"), "rightsinfo",
             "must have exactly one of: linkedrights, encodedrights");
    bad_with(FULL, "rightsinfo", from_text("{\"langid\":\"urn:l\"}"), "rightsinfo",
             "must have exactly one of");
    ok_with(FULL, "rightsinfo", from_text("{\"encodedrights\":\"<x/>\"}"));
    bad_with(FULL, "subjects[0].relevance", json_integer(-1), "subjects[0].relevance",
             "must be an integer 0..100");
    bad_with(FULL, "subjects[0].relevance", json_integer(101), "subjects[0].relevance",
             "must be an integer 0..100");
    bad_with(FULL, "subjects[0].confidence", json_real(50.5), "subjects[0].confidence",
             "must be an integer 0..100");
    bad_with(FULL, "subjects[0].confidence", json_string("50"), "subjects[0].confidence",
             "must be an integer 0..100");
    ok_with(FULL, "subjects[0].relevance", json_integer(0));
    ok_with(FULL, "subjects[0].confidence", json_integer(100));
    ok_with(FULL, "renditions[0].duration", json_real(12.5));
    bad_with(FULL, "renditions[0].sizeinbytes", json_real(-0.5), "renditions[0].sizeinbytes",
             "must be >= 0");
}

static void test_strings_nul(void **state)
{
    (void)state;
    bad_with(MINIMAL, "headlines[0].value", json_stringn("a\0b", 3), "headlines[0].value",
             "must not contain a NUL character");
    bad_with(FULL, "places[0].geojson.type", json_stringn("a\0b", 3), "places[0].geojson.type",
             "must not contain a NUL character");
}

static void expect_parse_error(const char *text, size_t len, const char *field, const char *msg)
{
    nw_article_t *a = (nw_article_t *)&a;
    nw_err_t err = {.field = ""};

    assert_int_equal(nw_article_parse_json(text, len, &a, &err), -EINVAL);
    assert_null(a);
    if (strcmp(err.field, field) != 0 || strstr(err.message, msg) == NULL)
        fail_msg("got %s: \"%s\", expected %s: \"%s\"", err.field, err.message, field, msg);
}

static void test_parse_json_errors(void **state)
{
    static const char dup[] = "{\"uri\":\"urn:a\",\"uri\":\"urn:b\"}";
    static const char nul[] = "{\"headlines\":[{\"value\":\"a\\u0000b\"}]}";
    static const char syntax[] = "{\n  \"uri\": ,\n}";
    static const char badutf8[] = "{\"by\":\"\xff\"}";
    char *big;
    size_t minimal_len = strlen(MINIMAL);
    nw_article_t *a = NULL;

    (void)state;
    expect_parse_error(syntax, strlen(syntax), "", "invalid JSON at line 2, column");
    expect_parse_error(dup, strlen(dup), "", "duplicate");
    expect_parse_error(nul, strlen(nul), "", "invalid JSON");
    expect_parse_error(badutf8, strlen(badutf8), "", "invalid JSON");
    expect_parse_error("[]", 2, "", "must be a JSON object");
    expect_parse_error("42", 2, "", "must be a JSON object");
    expect_parse_error("\"x\"", 3, "", "must be a JSON object");
    expect_parse_error("", 0, "", "invalid JSON");
    expect_parse_error(MINIMAL " {}", minimal_len + 3, "", "invalid JSON");
    /* a well-formed document is then validated */
    {
        char text[512];

        snprintf(text, sizeof(text), "{\"urgency\":\"1\",%s", MINIMAL + 1);
        expect_parse_error(text, strlen(text), "urgency", "must be an integer 1..9");
    }
    /* the size limit: exactly NW_ARTICLE_MAX_BYTES (padded with blanks) is
     * fine, one more byte is not */
    big = malloc(NW_ARTICLE_MAX_BYTES + 1);
    memset(big, ' ', NW_ARTICLE_MAX_BYTES + 1);
    memcpy(big, MINIMAL, minimal_len);
    assert_int_equal(nw_article_parse_json(big, NW_ARTICLE_MAX_BYTES, &a, NULL), 0);
    nw_article_free(a);
    expect_parse_error(big, NW_ARTICLE_MAX_BYTES + 1, "", "too large: 1048577 bytes, max 1048576");
    assert_int_equal(nw_article_parse_msgpack(big, NW_ARTICLE_MAX_BYTES + 1, &a, NULL), -EINVAL);
    free(big);
}

/* Packs the minimal item by hand with a chosen headline value. */
static void pack_minimal(msgpack_packer *pk, const char *headline, size_t hlen)
{
    static const char *const kv[][2] = {
        {"uri", "urn:x:1"}, {"version", "1"},   {"versioncreated", "2026-11-27T09:12:00Z"},
        {"type", "text"},   {"language", "fr"},
    };

    msgpack_pack_map(pk, NW_ARRAY_LEN(kv) + 1);
    for (size_t i = 0; i < NW_ARRAY_LEN(kv); i++) {
        msgpack_pack_str_with_body(pk, kv[i][0], strlen(kv[i][0]));
        msgpack_pack_str_with_body(pk, kv[i][1], strlen(kv[i][1]));
    }
    msgpack_pack_str_with_body(pk, "headlines", 9);
    msgpack_pack_array(pk, 1);
    msgpack_pack_map(pk, 1);
    msgpack_pack_str_with_body(pk, "value", 5);
    msgpack_pack_str_with_body(pk, headline, hlen);
}

static void test_parse_msgpack(void **state)
{
    static const char *const bad_utf8[] = {"\xff", "\xc0\x80", "\xed\xa0\x80", "abc\xe2\x82"};
    msgpack_sbuffer sb;
    msgpack_packer pk;
    nw_article_t *a = NULL, *b = NULL;
    nw_err_t err = {.field = ""};
    char *c1, *c2;
    size_t len;
    char *buf = load("ninjs/article_embargoed.json", &len);
    json_t *item;

    (void)state;
    /* the same item through JSON and msgpack */
    assert_int_equal(nw_article_parse_json(buf, len, &a, &err), 0);
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    assert_int_equal(nw_codec_json_to_msgpack(a->item, &pk), 0);
    assert_int_equal(nw_article_parse_msgpack(sb.data, sb.size, &b, &err), 0);
    assert_int_equal(b->embargoed_ms, a->embargoed_ms);
    assert_int_equal(b->versioncreated_ms, a->versioncreated_ms);
    assert_string_equal(b->uri, a->uri);
    c1 = nw_article_dump_canonical(a, NULL);
    c2 = nw_article_dump_canonical(b, NULL);
    assert_string_equal(c1, c2);
    free(c1);
    free(c2);
    nw_article_free(a);
    nw_article_free(b);
    free(buf);

    /* invalid UTF-8 can only arrive through msgpack */
    for (size_t i = 0; i < NW_ARRAY_LEN(bad_utf8); i++) {
        msgpack_sbuffer_clear(&sb);
        pack_minimal(&pk, bad_utf8[i], strlen(bad_utf8[i]));
        b = (nw_article_t *)&b;
        assert_int_equal(nw_article_parse_msgpack(sb.data, sb.size, &b, &err), -EINVAL);
        assert_null(b);
        assert_string_equal(err.field, "headlines[0].value");
        assert_string_equal(err.message, "string is not valid UTF-8");
    }
    /* a valid msgpack item is checked like a JSON one */
    msgpack_sbuffer_clear(&sb);
    pack_minimal(&pk, "", 0);
    assert_int_equal(nw_article_parse_msgpack(sb.data, sb.size, &b, &err), -EINVAL);
    assert_string_equal(err.field, "headlines[0].value");
    assert_string_equal(err.message, "must not be empty");
    msgpack_sbuffer_clear(&sb);
    pack_minimal(&pk, "Caf\xc3\xa9", 5);
    assert_int_equal(nw_article_parse_msgpack(sb.data, sb.size, &b, &err), 0);
    item = json_object_get(json_array_get(json_object_get(b->item, "headlines"), 0), "value");
    assert_string_equal(json_string_value(item), "Caf\xc3\xa9");
    nw_article_free(b);
    /* not a map */
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_array(&pk, 0);
    assert_int_equal(nw_article_parse_msgpack(sb.data, sb.size, &b, &err), -EINVAL);
    assert_string_equal(err.message, "must be a JSON object");
    msgpack_sbuffer_destroy(&sb);
}

static char *canonical_of(const char *text)
{
    nw_article_t *a = NULL;
    nw_err_t err = {.field = ""};
    size_t len = 0;
    char *s;

    if (nw_article_parse_json(text, strlen(text), &a, &err) != 0)
        fail_msg("refused: %s: %s", err.field, err.message);
    s = nw_article_dump_canonical(a, &len);
    assert_non_null(s);
    assert_int_equal(len, strlen(s));
    nw_article_free(a);
    return s;
}

static void test_canonical(void **state)
{
    static const char reordered[] =
        "{ \"headlines\" : [ { \"value\" : \"Titre\" } ],\n \"language\": \"fr\", \"version\": "
        "\"1\", \"versioncreated\": \"2026-11-27T09:12:00Z\", \"uri\": \"urn:x:1\", \"type\": "
        "\"text\" }";
    static const char nested_a[] = "{\"uri\":\"urn:x:1\",\"version\":\"1\",\"versioncreated\":"
                                   "\"2026-11-27T09:12:00Z\",\"type\":\"text\",\"language\":"
                                   "\"fr\",\"headlines\":[{\"role\":\"main\",\"value\":\"T\"}],"
                                   "\"urgency\":3,\"by\":\"R\xc3\xa9"
                                   "daction\"}";
    static const char nested_b[] = "{\"by\":\"R\\u00e9daction\",\"urgency\":3,\"headlines\":"
                                   "[{\"value\":\"T\",\"role\":\"main\"}],\"language\":\"fr\","
                                   "\"type\":\"text\",\"versioncreated\":\"2026-11-27T09:12:00Z\","
                                   "\"version\":\"1\",\"uri\":\"urn:x:1\"}";
    char *c1 = canonical_of(MINIMAL);
    char *c2 = canonical_of(reordered);
    char *c3, *c4, *again;
    size_t len;
    char *sample;

    (void)state;
    assert_string_equal(c1, "{\"headlines\":[{\"value\":\"Titre\"}],\"language\":\"fr\","
                            "\"type\":\"text\",\"uri\":\"urn:x:1\",\"version\":\"1\","
                            "\"versioncreated\":\"2026-11-27T09:12:00Z\"}");
    assert_string_equal(c1, c2);
    c3 = canonical_of(nested_a);
    c4 = canonical_of(nested_b);
    assert_string_equal(c3, c4);
    assert_non_null(strstr(c3, "\"by\":\"R\xc3\xa9"
                               "daction\"")); /* not \u-escaped */
    assert_non_null(strstr(c3, "[{\"role\":\"main\",\"value\":\"T\"}]"));
    /* canonical of canonical is itself; a sample keeps its accents raw */
    sample = load("ninjs/article_v1.json", &len);
    free(c1);
    c1 = canonical_of(sample);
    again = canonical_of(c1);
    assert_string_equal(c1, again);
    assert_non_null(strstr(c1, "C\xc3\xb4te d'Ivoire"));
    assert_null(strstr(c1, "\\u"));
    assert_null(strstr(c1, "\": "));
    assert_null(strstr(c1, "\n"));
    assert_int_equal(strncmp(c1, "{\"altids\":", 10), 0);
    free(sample);
    free(again);
    free(c1);
    free(c2);
    free(c3);
    free(c4);
}

static void test_utf8_valid(void **state)
{
    static const char *const good[] = {
        "",
        "ascii",
        "\xc3\xa9",
        "\xe2\x82\xac",
        "\xf0\x9f\x93\xb0",
        "\xc2\x80",
        "\xdf\xbf",
        "\xe0\xa0\x80",
        "\xed\x9f\xbf",
        "\xee\x80\x80",
        "\xef\xbf\xbf",
        "\xf0\x90\x80\x80",
        "\xf4\x8f\xbf\xbf",
    };
    static const char *const invalid[] = {
        "\x80",
        "\xbf",
        "\xc0\x80",
        "\xc1\xbf",
        "\xe0\x80\x80",
        "\xe0\x9f\xbf",
        "\xed\xa0\x80",
        "\xed\xbf\xbf",
        "\xf0\x80\x80\x80",
        "\xf0\x8f\xbf\xbf",
        "\xf4\x90\x80\x80",
        "\xf5\x80\x80\x80",
        "\xff",
        "\xfe",
        "\xc3",
        "\xe2\x82",
        "\xf0\x9f\x93",
        "\xc3\x28",
        "\xe2\x28\xa1",
        "a\xc3",
    };

    (void)state;
    for (size_t i = 0; i < NW_ARRAY_LEN(good); i++)
        if (!nw_utf8_valid(good[i], strlen(good[i])))
            fail_msg("good[%zu] refused", i);
    for (size_t i = 0; i < NW_ARRAY_LEN(invalid); i++)
        if (nw_utf8_valid(invalid[i], strlen(invalid[i])))
            fail_msg("invalid[%zu] accepted", i);
    assert_true(nw_utf8_valid("a\0b", 3)); /* NUL is valid UTF-8; refused elsewhere */
    assert_false(nw_utf8_valid("\xc3\xa9", 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_samples_accepted),
        cmocka_unit_test(test_full_item),
        cmocka_unit_test(test_minimal_defaults),
        cmocka_unit_test(test_required),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_enumerations),
        cmocka_unit_test(test_urgency),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_datetime_fields),
        cmocka_unit_test(test_rfc3339),
        cmocka_unit_test(test_uri_format),
        cmocka_unit_test(test_language),
        cmocka_unit_test(test_string_limits),
        cmocka_unit_test(test_array_limits),
        cmocka_unit_test(test_unknown_properties),
        cmocka_unit_test(test_associations_depth),
        cmocka_unit_test(test_nesting_depth),
        cmocka_unit_test(test_one_of_and_ranges),
        cmocka_unit_test(test_strings_nul),
        cmocka_unit_test(test_parse_json_errors),
        cmocka_unit_test(test_parse_msgpack),
        cmocka_unit_test(test_canonical),
        cmocka_unit_test(test_utf8_valid),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
