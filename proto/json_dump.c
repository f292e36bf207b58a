/* Newswire — the canonical dump of jansson values: the bytes of
 * json_dumps(JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY), written into
 * one growing buffer instead of through a callback per piece. */
#include "json.h"
#include "json_internal.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct jd_member {
    const char *key;
    size_t key_len;
    const json_t *value;
} jd_member_t;

/* The output, and a stack of object members being sorted: each object
 * pushes its members above those of the objects that contain it. */
typedef struct json_dumper {
    char *data;
    size_t len, cap;
    jd_member_t *members;
    size_t nmembers, members_cap;
} json_dumper_t;

/* Makes room for n more bytes. */
static int jd_reserve(json_dumper_t *d, size_t n)
{
    size_t cap;
    char *s;

    if (d->cap - d->len >= n)
        return 0;
    cap = d->cap ? d->cap : 1024;
    while (cap - d->len < n)
        cap *= 2;
    s = realloc(d->data, cap);
    if (s == NULL)
        return -ENOMEM;
    d->data = s;
    d->cap = cap;
    return 0;
}

static int jd_putc(json_dumper_t *d, char c)
{
    if (d->len == d->cap && jd_reserve(d, 1) < 0)
        return -ENOMEM;
    d->data[d->len++] = c;
    return 0;
}

static int jd_write(json_dumper_t *d, const void *s, size_t n)
{
    if (jd_reserve(d, n) < 0)
        return -ENOMEM;
    memcpy(d->data + d->len, s, n);
    d->len += n;
    return 0;
}

/* A string as jansson writes it without JSON_ENSURE_ASCII: '"' and '\\'
 * escaped, \b \f \n \r \t, other control characters as \u00XX (upper-case
 * hex), everything else copied; invalid UTF-8 is an error (-EINVAL). */
static int jd_string(json_dumper_t *d, const char *str, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p = (const unsigned char *)str, *end = p + len;

    /* room for the common case, no escapes; each escape asks for more */
    if (jd_reserve(d, len + 2) < 0)
        return -ENOMEM;
    d->data[d->len++] = '"';
    while (p < end) {
        const unsigned char *q = nw_json_plain_run(p, end);
        char *o;

        memcpy(d->data + d->len, p, (size_t)(q - p));
        d->len += (size_t)(q - p);
        p = q;
        if (p == end)
            break;
        if (*p >= 0x80) {
            size_t n = nw_json_utf8_len(p, end);

            if (n == 0)
                return -EINVAL;
            memcpy(d->data + d->len, p, n);
            d->len += n;
            p += n;
            continue;
        }
        if (jd_reserve(d, 6 + (size_t)(end - p) + 1) < 0)
            return -ENOMEM;
        o = d->data + d->len;
        o[0] = '\\';
        switch (*p) {
        case '"':
        case '\\':
            o[1] = (char)*p;
            break;
        case '\b':
            o[1] = 'b';
            break;
        case '\f':
            o[1] = 'f';
            break;
        case '\n':
            o[1] = 'n';
            break;
        case '\r':
            o[1] = 'r';
            break;
        case '\t':
            o[1] = 't';
            break;
        default:
            memcpy(o + 1, "u00", 3);
            o[4] = hex[*p >> 4];
            o[5] = hex[*p & 0xf];
            d->len += 4;
            break;
        }
        d->len += 2;
        p++;
    }
    d->data[d->len++] = '"';
    return 0;
}

static int jd_integer(json_dumper_t *d, json_int_t v)
{
    char buf[24], *p = buf + sizeof(buf);
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        *--p = '-';
    return jd_write(d, p, (size_t)(buf + sizeof(buf) - p));
}

/* A real as jansson 2.14 writes it: "%.17g" with the locale's decimal
 * point made '.', ".0" appended when there is neither '.' nor exponent,
 * the exponent without '+' and without leading zeros. */
static int jd_real(json_dumper_t *d, double v)
{
    char buf[64], out[64];
    size_t n = 0;
    int len = snprintf(buf, sizeof(buf), "%.17g", v);
    bool point = false, exp = false;

    if (len < 0 || (size_t)len >= sizeof(buf))
        return -EINVAL;
    for (int i = 0; i < len; i++) {
        char c = buf[i];

        if (c == 'e') {
            exp = true;
            out[n++] = 'e';
            if (buf[++i] == '-')
                out[n++] = '-';
            i++; /* past the sign */
            while (i < len - 1 && buf[i] == '0')
                i++;
            memcpy(out + n, buf + i, (size_t)(len - i));
            n += (size_t)(len - i);
            break;
        }
        if ((c < '0' || c > '9') && c != '-') {
            point = true;
            c = '.';
        }
        out[n++] = c;
    }
    if (!point && !exp) {
        out[n++] = '.';
        out[n++] = '0';
    }
    return jd_write(d, out, n);
}

/* Orders members by key bytes, a prefix first (jansson's compare_keys). */
static int jd_member_cmp(const jd_member_t *a, const jd_member_t *b)
{
    size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
    int r;

    /* keys mostly differ in their first byte */
    if (n > 0 && a->key[0] != b->key[0])
        return (unsigned char)a->key[0] - (unsigned char)b->key[0];
    if ((r = memcmp(a->key, b->key, n)) != 0)
        return r;
    return a->key_len < b->key_len ? -1 : a->key_len > b->key_len;
}

static int jd_member_cmp_cb(const void *a, const void *b)
{
    return jd_member_cmp(a, b);
}

static void jd_sort(jd_member_t *m, size_t n)
{
    if (n > 64) {
        qsort(m, n, sizeof(*m), jd_member_cmp_cb);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        jd_member_t t = m[i];
        size_t j = i;

        for (; j > 0 && jd_member_cmp(&m[j - 1], &t) > 0; j--)
            m[j] = m[j - 1];
        m[j] = t;
    }
}

static int jd_value(json_dumper_t *d, const json_t *v, int depth);

static int jd_object(json_dumper_t *d, const json_t *v, int depth)
{
    size_t n = json_object_size(v), base = d->nmembers, i = 0;
    void *it;
    int rc = 0;

    if (n == 0)
        return jd_write(d, "{}", 2);
    if (d->members_cap - base < n) {
        size_t cap = d->members_cap ? d->members_cap : 64;
        jd_member_t *m;

        while (cap - base < n)
            cap *= 2;
        if ((m = realloc(d->members, cap * sizeof(*m))) == NULL)
            return -ENOMEM;
        d->members = m;
        d->members_cap = cap;
    }
    for (it = json_object_iter((json_t *)v); it != NULL && i < n;
         it = json_object_iter_next((json_t *)v, it), i++) {
        jd_member_t *m = &d->members[base + i];

        m->key = json_object_iter_key(it);
        m->key_len = json_object_iter_key_len(it);
        m->value = json_object_iter_value(it);
    }
    d->nmembers = base + i;
    jd_sort(d->members + base, i);
    rc = jd_putc(d, '{');
    for (size_t k = 0; k < i && rc == 0; k++) {
        /* members may move while a nested object grows the stack */
        const jd_member_t m = d->members[base + k];

        if (k > 0)
            rc = jd_putc(d, ',');
        if (rc == 0)
            rc = jd_string(d, m.key, m.key_len);
        if (rc == 0)
            rc = jd_putc(d, ':');
        if (rc == 0)
            rc = jd_value(d, m.value, depth);
    }
    d->nmembers = base;
    return rc < 0 ? rc : jd_putc(d, '}');
}

static int jd_array(json_dumper_t *d, const json_t *v, int depth)
{
    size_t n = json_array_size(v);
    int rc = jd_putc(d, '[');

    for (size_t i = 0; i < n && rc == 0; i++) {
        if (i > 0)
            rc = jd_putc(d, ',');
        if (rc == 0)
            rc = jd_value(d, json_array_get(v, i), depth);
    }
    return rc < 0 ? rc : jd_putc(d, ']');
}

static int jd_value(json_dumper_t *d, const json_t *v, int depth)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return depth >= NW_JSON_MAX_DEPTH ? -ELOOP : jd_object(d, v, depth + 1);
    case JSON_ARRAY:
        return depth >= NW_JSON_MAX_DEPTH ? -ELOOP : jd_array(d, v, depth + 1);
    case JSON_STRING:
        return jd_string(d, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return jd_integer(d, json_integer_value(v));
    case JSON_REAL:
        return jd_real(d, json_real_value(v));
    case JSON_TRUE:
        return jd_write(d, "true", 4);
    case JSON_FALSE:
        return jd_write(d, "false", 5);
    case JSON_NULL:
        return jd_write(d, "null", 4);
    }
    return -EINVAL;
}

char *nw_json_dump_canonical(const json_t *v, size_t *len)
{
    json_dumper_t d = {NULL, 0, 0, NULL, 0, 0};
    int rc = v == NULL ? -EINVAL : jd_value(&d, v, 0);

    if (rc == 0)
        rc = jd_putc(&d, '\0');
    free(d.members);
    if (rc < 0) {
        free(d.data);
        return NULL;
    }
    if (len != NULL)
        *len = d.len - 1;
    return d.data;
}
