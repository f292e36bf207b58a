/* Newswire — topic grammar, wildcard matching and topic lists.
 *
 * Grammar (see topic.h): segments [a-z0-9_-]+ joined by '/', at most
 * NW_TOPIC_MAX_SEGMENTS segments and NW_TOPIC_MAX_LEN bytes. Patterns may
 * also use a whole "+" segment anywhere and a whole "#" segment last.
 * Errors quote the offending topic (made printable, shortened if long) so a
 * publisher can find it in a list of thirty. */
#include "topic.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How much of an offending topic an error message quotes. */
#define TOPIC_QUOTE_MAX 48

/* Writes a printable rendering of s[0..len) into out (at most
 * TOPIC_QUOTE_MAX bytes of it, then "..."): anything outside printable ASCII
 * and the '"' and '\' characters become '?', so the quote is safe in a log
 * line and in a JSON string whatever the input was. */
static void topic_quote(const char *s, size_t len, char *out, size_t outlen)
{
    size_t n = 0;
    size_t shown = NW_MIN(len, (size_t)TOPIC_QUOTE_MAX);

    NW_ASSERT(outlen >= TOPIC_QUOTE_MAX + 4);
    for (size_t i = 0; i < shown; i++) {
        unsigned char c = (unsigned char)s[i];

        out[n++] = (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') ? '?' : (char)c;
    }
    if (shown < len) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
}

/* Describes the byte c for an error message ("'A'", "0x09"). */
static void topic_describe_byte(unsigned char c, char *out, size_t outlen)
{
    if (c > 0x20 && c < 0x7f && c != '"' && c != '\\')
        snprintf(out, outlen, "'%c'", c);
    else
        snprintf(out, outlen, "byte 0x%02x", c);
}

static bool topic_char_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* The shared checker: a concrete topic, or a pattern when patterns is true.
 * Fills err with `invalid topic "<quote>": <reason>` (or "invalid pattern")
 * and returns -EINVAL on the first rule broken. */
static int topic_check(const char *s, size_t len, bool patterns, const char *field, nw_err_t *err)
{
    const char *what = patterns ? "pattern" : "topic";
    char quote[TOPIC_QUOTE_MAX + 4];
    char byte[16];
    size_t segments = 0;
    size_t start = 0;

    topic_quote(s, len, quote, sizeof(quote));
    if (len == 0) {
        nw_err_set(err, field, "invalid %s \"\": empty", what);
        return -EINVAL;
    }
    if (len > NW_TOPIC_MAX_LEN) {
        nw_err_set(err, field, "invalid %s \"%s\": too long: %zu bytes, max %d", what, quote, len,
                   NW_TOPIC_MAX_LEN);
        return -EINVAL;
    }
    /* Walk segment by segment: [start, i) is the current segment. */
    for (size_t i = 0; i <= len; i++) {
        unsigned char c = i < len ? (unsigned char)s[i] : '/';
        size_t seglen;

        if (c != '/') {
            if (topic_char_ok(c) || c == '+' || c == '#')
                continue;
            if (c >= 'A' && c <= 'Z')
                nw_err_set(err, field, "invalid %s \"%s\": upper-case letter at byte %zu", what,
                           quote, i);
            else {
                topic_describe_byte(c, byte, sizeof(byte));
                nw_err_set(err, field, "invalid %s \"%s\": invalid character %s at byte %zu", what,
                           quote, byte, i);
            }
            return -EINVAL;
        }
        seglen = i - start;
        if (seglen == 0) {
            nw_err_set(err, field, "invalid %s \"%s\": empty segment at byte %zu%s", what, quote,
                       i == len ? i - 1 : i,
                       start == 0 ? " (leading '/')"
                       : i == len ? " (trailing '/')"
                                  : "");
            return -EINVAL;
        }
        if (++segments > NW_TOPIC_MAX_SEGMENTS) {
            nw_err_set(err, field, "invalid %s \"%s\": too many segments, max %d", what, quote,
                       NW_TOPIC_MAX_SEGMENTS);
            return -EINVAL;
        }
        /* Wildcards: only whole "+" / "#" segments, only in patterns. */
        for (size_t j = start; j < i; j++) {
            char w = s[j];

            if (w != '+' && w != '#')
                continue;
            if (!patterns) {
                nw_err_set(err, field,
                           "invalid topic \"%s\": wildcard '%c' at byte %zu (only subscription "
                           "patterns may use wildcards)",
                           quote, w, j);
                return -EINVAL;
            }
            if (seglen != 1) {
                nw_err_set(err, field,
                           "invalid pattern \"%s\": '%c' at byte %zu must be a whole segment",
                           quote, w, j);
                return -EINVAL;
            }
            if (w == '#' && i != len) {
                nw_err_set(err, field,
                           "invalid pattern \"%s\": '#' at byte %zu must be the last segment",
                           quote, j);
                return -EINVAL;
            }
        }
        start = i + 1;
    }
    return 0;
}

int nw_topic_check(const char *s, size_t len, const char *field, nw_err_t *err)
{
    return topic_check(s, len, false, field, err);
}

int nw_topic_pattern_check(const char *s, size_t len, const char *field, nw_err_t *err)
{
    return topic_check(s, len, true, field, err);
}

bool nw_topic_is_wildcard(const char *pattern)
{
    const char *p = pattern;

    for (;;) {
        size_t n = strcspn(p, "/");

        if (n == 1 && (p[0] == '+' || p[0] == '#'))
            return true;
        if (p[n] == '\0')
            return false;
        p += n + 1;
    }
}

/* Matches segment by segment. "#" matches whatever is left of the topic,
 * nothing included, which is why "a/#" matches "a": when the topic runs out
 * the pattern may still have its "#" to consume. */
bool nw_topic_match(const char *pattern, const char *topic)
{
    const char *p = pattern;
    const char *t = topic;
    bool t_more = true; /* a topic segment starts at t */

    for (;;) {
        size_t pl = strcspn(p, "/");
        size_t tl;
        bool p_more;

        if (pl == 1 && p[0] == '#')
            return true;
        if (!t_more)
            return false;
        tl = strcspn(t, "/");
        if (!(pl == 1 && p[0] == '+') && (pl != tl || memcmp(p, t, pl) != 0))
            return false;
        p += pl;
        t += tl;
        p_more = *p == '/';
        t_more = *t == '/';
        if (!p_more)
            return !t_more;
        p++;
        if (t_more)
            t++;
    }
}

void nw_topic_list_free(nw_topic_list_t *list)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < list->n; i++)
        free(list->v[i]);
    free(list->v);
    free(list);
}

static int topic_cmp_cb(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Rejects a list holding the same topic twice. Sorting a copy of the
 * pointers keeps this O(n log n) whatever max the caller allows, and leaves
 * the list itself in the caller's order. */
static int topic_list_check_dups(const nw_topic_list_t *list, const char *field, nw_err_t *err)
{
    char **sorted;
    char quote[TOPIC_QUOTE_MAX + 4];
    int rc = 0;

    if (list->n < 2)
        return 0;
    sorted = malloc(list->n * sizeof(*sorted));
    if (sorted == NULL) {
        nw_err_set(err, field, "out of memory");
        return -ENOMEM;
    }
    memcpy(sorted, list->v, list->n * sizeof(*sorted));
    qsort(sorted, list->n, sizeof(*sorted), topic_cmp_cb);
    for (size_t i = 1; i < list->n; i++) {
        if (strcmp(sorted[i - 1], sorted[i]) == 0) {
            topic_quote(sorted[i], strlen(sorted[i]), quote, sizeof(quote));
            nw_err_set(err, field, "duplicate topic \"%s\"", quote);
            rc = -EINVAL;
            break;
        }
    }
    free(sorted);
    return rc;
}

/* Allocates an empty list with room for n entries. */
static nw_topic_list_t *topic_list_new(size_t n)
{
    nw_topic_list_t *list = calloc(1, sizeof(*list));

    if (list == NULL)
        return NULL;
    list->v = calloc(n > 0 ? n : 1, sizeof(*list->v));
    if (list->v == NULL) {
        free(list);
        return NULL;
    }
    return list;
}

/* Checks s[0..len) and appends a copy of it to list (which has room). */
static int topic_list_add(nw_topic_list_t *list, const char *s, size_t len, bool allow_patterns,
                          const char *field, nw_err_t *err)
{
    int rc = allow_patterns ? nw_topic_pattern_check(s, len, field, err)
                            : nw_topic_check(s, len, field, err);

    if (rc < 0)
        return rc;
    list->v[list->n] = strndup(s, len);
    if (list->v[list->n] == NULL) {
        nw_err_set(err, field, "out of memory");
        return -ENOMEM;
    }
    list->n++;
    return 0;
}

static bool topic_is_blank(char c)
{
    return c == ' ' || c == '\t';
}

int nw_topic_list_parse(const char *csv, size_t len, size_t max, bool allow_patterns,
                        const char *field, nw_topic_list_t **out, nw_err_t *err)
{
    nw_topic_list_t *list = NULL;
    size_t entries = 1;
    size_t pos = 0;
    size_t index = 0;
    int rc;

    *out = NULL;
    while (pos < len && topic_is_blank(csv[pos]))
        pos++;
    if (pos == len) {
        nw_err_set(err, field, "no topic");
        return -EINVAL;
    }
    for (size_t i = 0; i < len; i++)
        entries += csv[i] == ',';
    if (entries > max) {
        nw_err_set(err, field, "too many topics: %zu, max %zu", entries, max);
        return -EINVAL;
    }
    list = topic_list_new(entries);
    if (list == NULL) {
        nw_err_set(err, field, "out of memory");
        return -ENOMEM;
    }
    pos = 0;
    for (;;) {
        const char *comma = memchr(csv + pos, ',', len - pos);
        size_t end = comma ? (size_t)(comma - csv) : len;
        size_t b = pos;
        size_t e = end;

        while (b < e && topic_is_blank(csv[b]))
            b++;
        while (e > b && topic_is_blank(csv[e - 1]))
            e--;
        index++;
        if (b == e) {
            nw_err_set(err, field, "empty entry #%zu in the topic list", index);
            rc = -EINVAL;
            goto fail;
        }
        rc = topic_list_add(list, csv + b, e - b, allow_patterns, field, err);
        if (rc < 0)
            goto fail;
        if (comma == NULL)
            break;
        pos = end + 1;
    }
    rc = topic_list_check_dups(list, field, err);
    if (rc < 0)
        goto fail;
    *out = list;
    return 0;

fail:
    nw_topic_list_free(list);
    return rc;
}

int nw_topic_list_from_array(const char *const *v, size_t n, size_t max, bool allow_patterns,
                             const char *field, nw_topic_list_t **out, nw_err_t *err)
{
    nw_topic_list_t *list = NULL;
    int rc;

    *out = NULL;
    if (n == 0) {
        nw_err_set(err, field, "no topic");
        return -EINVAL;
    }
    if (n > max) {
        nw_err_set(err, field, "too many topics: %zu, max %zu", n, max);
        return -EINVAL;
    }
    list = topic_list_new(n);
    if (list == NULL) {
        nw_err_set(err, field, "out of memory");
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        if (v[i] == NULL) {
            nw_err_set(err, field, "entry #%zu is not a string", i + 1);
            rc = -EINVAL;
            goto fail;
        }
        rc = topic_list_add(list, v[i], strlen(v[i]), allow_patterns, field, err);
        if (rc < 0)
            goto fail;
    }
    rc = topic_list_check_dups(list, field, err);
    if (rc < 0)
        goto fail;
    *out = list;
    return 0;

fail:
    nw_topic_list_free(list);
    return rc;
}

/* Next segment of *p: its start and length; advances *p past it. */
static const char *next_segment(const char **p, size_t *len)
{
    const char *s = *p;
    const char *slash = strchr(s, '/');

    *len = slash ? (size_t)(slash - s) : strlen(s);
    *p = slash ? slash + 1 : NULL;
    return s;
}

bool nw_topic_pattern_covers(const char *grant, const char *pattern)
{
    const char *g = grant, *p = pattern;

    /* A topic has at least one segment, so "+/#" matches every topic, as
     * "#" does; the walk below would refuse the pattern "#" under it. */
    if (strcmp(grant, "+/#") == 0)
        return true;
    /* Walk both segment by segment: a grant "#" covers whatever is left; a
     * grant "+" covers any one segment of the pattern but "#"; a literal
     * covers only itself. */
    while (g != NULL) {
        size_t glen, plen;
        const char *gs = next_segment(&g, &glen);
        const char *ps;

        if (glen == 1 && gs[0] == '#')
            return true;
        if (p == NULL)
            return false;
        ps = next_segment(&p, &plen);
        if (plen == 1 && ps[0] == '#')
            return false;
        if (glen == 1 && gs[0] == '+')
            continue;
        if (plen != glen || memcmp(gs, ps, glen) != 0)
            return false;
    }
    return p == NULL;
}
