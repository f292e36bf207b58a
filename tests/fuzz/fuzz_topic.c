/* Newswire — fuzz harness for the topic grammar (proto/topic.h).
 *
 * The input is text: lines, each a comma-separated list. Every line goes
 * through nw_topic_list_parse (topics, then patterns) and is compared with
 * a reference reading of the list; every entry goes through nw_topic_check
 * and nw_topic_pattern_check. The valid patterns then exercise matching and
 * covering against topics derived from the input (the valid topics given,
 * and each pattern instantiated with segments of the others or with a
 * segment found nowhere in the input). Invariants:
 * - a topic is a pattern; a pattern without wildcard segments is a topic;
 *   errors name the field and are printable ASCII, whatever the input;
 * - nw_topic_match agrees with a segment-by-segment reference matcher;
 * - nw_topic_pattern_covers(g, p) is sound: then every derived topic p
 *   matches is matched by g; and complete: otherwise some instantiation of
 *   p is matched by p and not by g; covers is reflexive and transitive,
 *   "#" covers everything, and for a concrete p it is nw_topic_match(g, p);
 * - a parsed list is the reference list, reads back the same from its
 *   entries (nw_topic_list_from_array) and from its entries joined again.
 * The input is accepted when every line (of the first FUZZ_TOPIC_LINES)
 * parses as a list of patterns. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "fuzz_util.h"
#include "topic.h"

#define FUZZ_TOPIC_LINES    16 /* lines read */
#define FUZZ_TOPIC_PIECES   32 /* entries checked one by one */
#define FUZZ_TOPIC_PATTERNS 10 /* valid patterns crossed with each other */
#define FUZZ_TOPIC_DERIVED  128
#define FUZZ_TOPIC_LIST_MAX 16

typedef struct fuzz_seg {
    const char *s;
    size_t len;
} fuzz_seg_t;

/* A bounded set of distinct strings (the derived topics). */
typedef struct fuzz_set {
    size_t n;
    char *v[FUZZ_TOPIC_DERIVED];
} fuzz_set_t;

static void fuzz_set_add(fuzz_set_t *set, const char *s)
{
    if (set->n == FUZZ_TOPIC_DERIVED || nw_topic_check(s, strlen(s), "t", NULL) != 0)
        return;
    for (size_t i = 0; i < set->n; i++) {
        if (strcmp(set->v[i], s) == 0)
            return;
    }
    set->v[set->n] = strdup(s);
    NW_ASSERT(set->v[set->n] != NULL);
    set->n++;
}

static void fuzz_set_clear(fuzz_set_t *set)
{
    for (size_t i = 0; i < set->n; i++)
        free(set->v[i]);
    set->n = 0;
}

/* Splits a valid topic or pattern into its segments. */
static size_t fuzz_split(const char *s, fuzz_seg_t out[NW_TOPIC_MAX_SEGMENTS])
{
    size_t n = 0;

    for (;;) {
        size_t len = strcspn(s, "/");

        NW_ASSERT(n < NW_TOPIC_MAX_SEGMENTS);
        out[n++] = (fuzz_seg_t){s, len};
        if (s[len] == '\0')
            return n;
        s += len + 1;
    }
}

static bool fuzz_seg_is(fuzz_seg_t g, const char *lit)
{
    return g.len == strlen(lit) && memcmp(g.s, lit, g.len) == 0;
}

static bool fuzz_seg_wild(fuzz_seg_t g)
{
    return fuzz_seg_is(g, "+") || fuzz_seg_is(g, "#");
}

/* The reference matcher: "+" takes one segment, a last "#" any number
 * (zero included), anything else itself. */
static bool fuzz_ref_match(const char *pattern, const char *topic)
{
    fuzz_seg_t p[NW_TOPIC_MAX_SEGMENTS], t[NW_TOPIC_MAX_SEGMENTS];
    size_t np = fuzz_split(pattern, p), nt = fuzz_split(topic, t);

    for (size_t i = 0; i < np; i++) {
        if (fuzz_seg_is(p[i], "#"))
            return true;
        if (i >= nt)
            return false;
        if (!fuzz_seg_is(p[i], "+") &&
            (p[i].len != t[i].len || memcmp(p[i].s, t[i].s, p[i].len) != 0))
            return false;
    }
    return np == nt;
}

static bool fuzz_ref_is_wildcard(const char *pattern)
{
    fuzz_seg_t p[NW_TOPIC_MAX_SEGMENTS];
    size_t np = fuzz_split(pattern, p);

    for (size_t i = 0; i < np; i++) {
        if (fuzz_seg_wild(p[i]))
            return true;
    }
    return false;
}

/* Appends a segment to a topic being built (bounded: an overlong result
 * is simply not a valid topic, and is dropped by fuzz_set_add). */
static void fuzz_put(char *buf, size_t size, fuzz_seg_t seg)
{
    size_t n = strlen(buf);

    if (n + 1 + seg.len + 1 > size)
        return;
    if (n > 0)
        buf[n++] = '/';
    memcpy(buf + n, seg.s, seg.len);
    buf[n + seg.len] = '\0';
}

/* Instantiates pattern p: each "+" becomes the donor's segment at that
 * place when it is a literal, else fresh; "#" becomes `hash` segments
 * (donor's, else fresh), or, when hash is -1, the donor's remaining
 * segments (wildcards made fresh). Adds the result to set. */
static void fuzz_instantiate(const char *p, const char *donor, int hash, const char *fresh,
                             fuzz_set_t *set)
{
    fuzz_seg_t ps[NW_TOPIC_MAX_SEGMENTS], ds[NW_TOPIC_MAX_SEGMENTS];
    size_t np = fuzz_split(p, ps), nd = donor ? fuzz_split(donor, ds) : 0;
    fuzz_seg_t f = {fresh, strlen(fresh)};
    char buf[4 * NW_TOPIC_MAX_LEN];

    buf[0] = '\0';
    for (size_t i = 0; i < np; i++) {
        if (fuzz_seg_is(ps[i], "#")) {
            size_t want = hash < 0 ? (nd > i ? nd - i : 0) : (size_t)hash;

            for (size_t k = 0; k < want; k++)
                fuzz_put(buf, sizeof(buf), i + k < nd && !fuzz_seg_wild(ds[i + k]) ? ds[i + k] : f);
        } else if (fuzz_seg_is(ps[i], "+")) {
            fuzz_put(buf, sizeof(buf), i < nd && !fuzz_seg_wild(ds[i]) ? ds[i] : f);
        } else {
            fuzz_put(buf, sizeof(buf), ps[i]);
        }
    }
    fuzz_set_add(set, buf);
}

/* A segment that appears nowhere in the patterns (so it matches only
 * wildcards). */
static void fuzz_fresh(char *const *pats, size_t n, char out[3])
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789_-";

    for (size_t len = 1; len <= 2; len++) {
        for (size_t i = 0; i < sizeof(alphabet) - 1; i++) {
            bool used = false;

            out[0] = alphabet[i];
            out[1] = len == 2 ? alphabet[(i * 7 + 3) % (sizeof(alphabet) - 1)] : '\0';
            out[2] = '\0';
            for (size_t k = 0; k < n && !used; k++) {
                fuzz_seg_t s[NW_TOPIC_MAX_SEGMENTS];
                size_t ns = fuzz_split(pats[k], s);

                for (size_t j = 0; j < ns && !used; j++)
                    used = fuzz_seg_is(s[j], out);
            }
            if (!used)
                return;
        }
    }
    NW_ASSERT(!"no fresh segment");
}

/* One entry through both checkers. */
static void fuzz_check_entry(const char *s, size_t len)
{
    nw_err_t et, ep;
    int rt, rp;

    memset(&et, 0, sizeof(et));
    memset(&ep, 0, sizeof(ep));
    rt = nw_topic_check(s, len, "f", &et);
    rp = nw_topic_pattern_check(s, len, "f", &ep);
    NW_ASSERT(rt == 0 || rt == -EINVAL);
    NW_ASSERT(rp == 0 || rp == -EINVAL);
    if (rt == 0)
        NW_ASSERT(rp == 0);
    if (rt < 0) {
        NW_ASSERT(strcmp(et.field, "f") == 0 && et.message[0] != '\0');
        NW_ASSERT(nw_fuzz_printable(et.message));
    }
    if (rp < 0) {
        NW_ASSERT(strcmp(ep.field, "f") == 0 && ep.message[0] != '\0');
        NW_ASSERT(nw_fuzz_printable(ep.message));
    }
    if (rp == 0) {
        char *z = strndup(s, len);

        NW_ASSERT(z != NULL);
        NW_ASSERT(nw_topic_is_wildcard(z) == fuzz_ref_is_wildcard(z));
        NW_ASSERT((rt == 0) == !nw_topic_is_wildcard(z));
        free(z);
    }
}

static bool fuzz_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* The reference list reader: 0 and the entries (malloc'd, *n of them) or
 * -EINVAL. */
static int fuzz_ref_list(const char *csv, size_t len, size_t max, bool patterns, char ***out,
                         size_t *n)
{
    size_t entries = 1, pos = 0, k = 0;
    char **v;

    *out = NULL;
    *n = 0;
    while (pos < len && fuzz_blank(csv[pos]))
        pos++;
    if (pos == len)
        return -EINVAL;
    for (size_t i = 0; i < len; i++)
        entries += csv[i] == ',';
    if (entries > max)
        return -EINVAL;
    v = calloc(entries, sizeof(*v));
    NW_ASSERT(v != NULL);
    for (size_t b = 0; k < entries; k++) {
        const char *comma = memchr(csv + b, ',', len - b);
        size_t e = comma ? (size_t)(comma - csv) : len, next = e + 1;
        int rc;

        while (b < e && fuzz_blank(csv[b]))
            b++;
        while (e > b && fuzz_blank(csv[e - 1]))
            e--;
        rc = patterns ? nw_topic_pattern_check(csv + b, e - b, "f", NULL)
                      : nw_topic_check(csv + b, e - b, "f", NULL);
        if (b == e || rc != 0)
            break;
        v[k] = strndup(csv + b, e - b);
        NW_ASSERT(v[k] != NULL);
        for (size_t j = 0; j < k && v[k] != NULL; j++) {
            if (strcmp(v[j], v[k]) == 0) {
                free(v[k]);
                v[k] = NULL;
            }
        }
        if (v[k] == NULL)
            break;
        b = next;
    }
    if (k < entries) {
        for (size_t j = 0; j < k; j++)
            free(v[j]);
        free(v);
        return -EINVAL;
    }
    *out = v;
    *n = entries;
    return 0;
}

static void fuzz_list_same(const nw_topic_list_t *l, char *const *v, size_t n)
{
    NW_ASSERT(l != NULL && l->n == n);
    for (size_t i = 0; i < n; i++)
        NW_ASSERT(strcmp(l->v[i], v[i]) == 0);
}

/* One line through nw_topic_list_parse, compared with the reference. Returns
 * the result for patterns. */
static int fuzz_check_list(const char *csv, size_t len)
{
    int rcs[2];

    for (int patterns = 0; patterns <= 1; patterns++) {
        static nw_topic_list_t sentinel;
        nw_topic_list_t *list = &sentinel; /* the parser must reset it */
        nw_err_t err;
        char **ref;
        size_t nref;
        int rc, rrc;

        memset(&err, 0, sizeof(err));
        rc = nw_topic_list_parse(csv, len, FUZZ_TOPIC_LIST_MAX, patterns, "topics", &list, &err);
        rrc = fuzz_ref_list(csv, len, FUZZ_TOPIC_LIST_MAX, patterns, &ref, &nref);
        NW_ASSERT(rc == rrc);
        rcs[patterns] = rc;
        if (rc < 0) {
            NW_ASSERT(list == NULL);
            NW_ASSERT(strcmp(err.field, "topics") == 0 && err.message[0] != '\0');
            NW_ASSERT(nw_fuzz_printable(err.message));
            continue;
        }
        fuzz_list_same(list, ref, nref);
        {
            nw_topic_list_t *again = NULL;
            char joined[FUZZ_TOPIC_LIST_MAX * (NW_TOPIC_MAX_LEN + 1)];
            size_t jl = 0;

            NW_ASSERT(nw_topic_list_from_array((const char *const *)list->v, list->n,
                                               FUZZ_TOPIC_LIST_MAX, patterns, "topics", &again,
                                               NULL) == 0);
            fuzz_list_same(again, list->v, list->n);
            nw_topic_list_free(again);
            for (size_t i = 0; i < list->n; i++) {
                size_t l = strlen(list->v[i]);

                if (i > 0)
                    joined[jl++] = ',';
                memcpy(joined + jl, list->v[i], l);
                jl += l;
            }
            again = NULL;
            NW_ASSERT(nw_topic_list_parse(joined, jl, FUZZ_TOPIC_LIST_MAX, patterns, "topics",
                                          &again, NULL) == 0);
            fuzz_list_same(again, list->v, list->n);
            nw_topic_list_free(again);
        }
        for (size_t i = 0; i < nref; i++)
            free(ref[i]);
        free(ref);
        nw_topic_list_free(list);
    }
    NW_ASSERT(rcs[0] != 0 || rcs[1] == 0); /* a list of topics is a list of patterns */
    return rcs[1];
}

/* Matching and covering over the valid patterns pats[0..n). */
static void fuzz_check_patterns(char *const *pats, size_t n, char *const *topics, size_t ntopics)
{
    fuzz_set_t derived = {0};
    fuzz_set_t *w = calloc(n, sizeof(*w)); /* w[i]: fresh instantiations of pats[i] */
    char fresh[3];
    bool short_fresh; /* a 1-byte fresh segment keeps every instance within the limits */

    NW_ASSERT(w != NULL);
    fuzz_fresh(pats, n, fresh);
    short_fresh = fresh[1] == '\0';
    for (size_t i = 0; i < ntopics; i++)
        fuzz_set_add(&derived, topics[i]);
    for (size_t i = 0; i < n; i++) {
        for (int hash = 0; hash <= 2; hash++)
            fuzz_instantiate(pats[i], NULL, hash, fresh, &w[i]);
        /* "#" alone has no 0-segment instance, but every pattern has a 1-segment one */
        NW_ASSERT(w[i].n > 0 || !short_fresh);
        for (size_t k = 0; k < w[i].n; k++)
            fuzz_set_add(&derived, w[i].v[k]);
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            for (int hash = -1; hash <= 1; hash++)
                fuzz_instantiate(pats[i], pats[j], hash, fresh, &derived);
        }
    }

    for (size_t i = 0; i < n; i++) {
        const char *p = pats[i];

        NW_ASSERT(nw_topic_pattern_covers(p, p));
        NW_ASSERT(nw_topic_pattern_covers("#", p));
        for (size_t k = 0; k < derived.n; k++) {
            bool m = nw_topic_match(p, derived.v[k]);

            if (m != fuzz_ref_match(p, derived.v[k])) {
                fprintf(stderr, "match(\"%s\", \"%s\") = %d\n", p, derived.v[k], m);
                NW_ASSERT(!"nw_topic_match disagrees with the reference");
            }
        }
        for (size_t k = 0; k < w[i].n; k++)
            NW_ASSERT(nw_topic_match(p, w[i].v[k]));
    }
    for (size_t gi = 0; gi < n; gi++) {
        for (size_t pi = 0; pi < n; pi++) {
            const char *g = pats[gi], *p = pats[pi];
            bool covers = nw_topic_pattern_covers(g, p);

            if (!nw_topic_is_wildcard(p))
                NW_ASSERT(covers == nw_topic_match(g, p));
            if (covers) {
                for (size_t k = 0; k < derived.n; k++) {
                    if (nw_topic_match(p, derived.v[k]) && !nw_topic_match(g, derived.v[k])) {
                        fprintf(stderr,
                                "covers(\"%s\", \"%s\") but \"%s\" matches only the "
                                "second\n",
                                g, p, derived.v[k]);
                        NW_ASSERT(!"nw_topic_pattern_covers is not sound");
                    }
                }
            } else if (short_fresh) {
                bool witness = false;

                for (size_t k = 0; k < w[pi].n && !witness; k++)
                    witness = !nw_topic_match(g, w[pi].v[k]);
                if (!witness) {
                    fprintf(stderr,
                            "!covers(\"%s\", \"%s\") but every instance of the second "
                            "matches the first\n",
                            g, p);
                    NW_ASSERT(!"nw_topic_pattern_covers is not complete");
                }
            }
            for (size_t ci = 0; covers && ci < n; ci++) {
                if (nw_topic_pattern_covers(p, pats[ci]))
                    NW_ASSERT(nw_topic_pattern_covers(g, pats[ci]));
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        fuzz_set_clear(&w[i]);
    free(w);
    fuzz_set_clear(&derived);
}

bool nw_fuzz_topic(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    char *pieces[FUZZ_TOPIC_PIECES], *pats[FUZZ_TOPIC_PATTERNS], *topics[FUZZ_TOPIC_PIECES];
    size_t npieces = 0, npats = 0, ntopics = 0, pos = 0;
    bool accepted = true;

    /* A last newline ends the last line rather than starting an empty one. */
    if (size > 0 && in[size - 1] == '\n')
        size--;
    for (size_t nlines = 0; nlines < FUZZ_TOPIC_LINES; nlines++) {
        const char *nl = memchr(in + pos, '\n', size - pos);
        size_t end = nl ? (size_t)(nl - in) : size;

        if (fuzz_check_list(in + pos, end - pos) != 0)
            accepted = false;
        for (size_t b = pos; b <= end && npieces < FUZZ_TOPIC_PIECES;) {
            const char *comma = memchr(in + b, ',', end - b);
            size_t e = comma ? (size_t)(comma - in) : end;

            fuzz_check_entry(in + b, e - b);
            if (memchr(in + b, '\0', e - b) == NULL) {
                pieces[npieces] = strndup(in + b, e - b);
                NW_ASSERT(pieces[npieces] != NULL);
                npieces++;
            }
            b = e + 1;
        }
        if (nl == NULL)
            break;
        pos = end + 1;
    }

    for (size_t i = 0; i < npieces; i++) {
        size_t len = strlen(pieces[i]);

        if (nw_topic_pattern_check(pieces[i], len, "p", NULL) != 0)
            continue;
        if (nw_topic_check(pieces[i], len, "t", NULL) == 0)
            topics[ntopics++] = pieces[i];
        if (npats < FUZZ_TOPIC_PATTERNS) {
            bool dup = false;

            for (size_t k = 0; k < npats; k++)
                dup = dup || strcmp(pats[k], pieces[i]) == 0;
            if (!dup)
                pats[npats++] = pieces[i];
        }
    }
    if (npats > 0)
        fuzz_check_patterns(pats, npats, topics, ntopics);
    for (size_t i = 0; i < npieces; i++)
        free(pieces[i]);
    return accepted;
}

NW_FUZZ_ENTRY(nw_fuzz_topic)
