/* Unit tests for daemon/topic_index.c: exact and wildcard subscriptions,
 * MQTT matching with multiplicity, removal and pruning, a randomized run
 * against a brute-force model built on nw_topic_match(). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "topic.h"
#include "topic_index.h"

#define MAX_OWNERS 1024

/* Counts visits per owner; owners are the elements of base[]. */
typedef struct visits {
    const int *base;
    unsigned count[MAX_OWNERS];
    unsigned total;
    unsigned foreign; /* visits of a pointer that is no owner */
} visits_t;

static void visit_cb(void *owner, void *arg)
{
    visits_t *v = arg;
    const int *o = owner;

    v->total++;
    if (o < v->base || o >= v->base + MAX_OWNERS) {
        v->foreign++;
        return;
    }
    v->count[o - v->base]++;
}

static void match(const nw_topic_index_t *idx, const int *owners, const char *topic, visits_t *v)
{
    memset(v, 0, sizeof(*v));
    v->base = owners;
    nw_topic_index_match(idx, topic, visit_cb, v);
    assert_int_equal(v->foreign, 0);
}

static void test_topic_index_empty(void **state)
{
    nw_topic_index_t *idx = nw_topic_index_new();
    int owners[MAX_OWNERS];
    visits_t v;

    (void)state;
    assert_non_null(idx);
    assert_int_equal(nw_topic_index_count(idx), 0);
    match(idx, owners, "a", &v);
    assert_int_equal(v.total, 0);
    match(idx, owners, "a/b/c", &v);
    assert_int_equal(v.total, 0);
    nw_topic_index_free(idx);
    nw_topic_index_free(NULL);
}

static void test_topic_index_exact(void **state)
{
    nw_topic_index_t *idx = nw_topic_index_new();
    int owners[MAX_OWNERS];
    nw_sub_t *s1, *s2;
    visits_t v;

    (void)state;
    s1 = nw_topic_index_add(idx, "monde/afrique", &owners[1]);
    s2 = nw_topic_index_add(idx, "monde", &owners[2]);
    assert_non_null(s1);
    assert_non_null(s2);
    assert_string_equal(nw_sub_pattern(s1), "monde/afrique");
    assert_ptr_equal(nw_sub_owner(s1), &owners[1]);
    assert_int_equal(nw_topic_index_count(idx), 2);

    match(idx, owners, "monde/afrique", &v);
    assert_int_equal(v.total, 1);
    assert_int_equal(v.count[1], 1);
    match(idx, owners, "monde", &v);
    assert_int_equal(v.total, 1);
    assert_int_equal(v.count[2], 1);
    match(idx, owners, "monde/afrique/benin", &v);
    assert_int_equal(v.total, 0);
    match(idx, owners, "mond", &v);
    assert_int_equal(v.total, 0);

    nw_topic_index_remove(idx, s1);
    assert_int_equal(nw_topic_index_count(idx), 1);
    match(idx, owners, "monde/afrique", &v);
    assert_int_equal(v.total, 0);
    match(idx, owners, "monde", &v);
    assert_int_equal(v.count[2], 1);
    nw_topic_index_remove(idx, s2);
    assert_int_equal(nw_topic_index_count(idx), 0);
    match(idx, owners, "monde", &v);
    assert_int_equal(v.total, 0);
    nw_topic_index_free(idx);
}

static void test_topic_index_wildcard(void **state)
{
    nw_topic_index_t *idx = nw_topic_index_new();
    int owners[MAX_OWNERS];
    nw_sub_t *s;
    visits_t v;

    (void)state;
    s = nw_topic_index_add(idx, "monde/+/benin", &owners[0]);
    assert_non_null(s);
    assert_string_equal(nw_sub_pattern(s), "monde/+/benin");
    assert_ptr_equal(nw_sub_owner(s), &owners[0]);
    match(idx, owners, "monde/afrique/benin", &v);
    assert_int_equal(v.count[0], 1);
    match(idx, owners, "monde/benin", &v);
    assert_int_equal(v.total, 0);
    nw_topic_index_remove(idx, s);
    match(idx, owners, "monde/afrique/benin", &v);
    assert_int_equal(v.total, 0);
    assert_int_equal(nw_topic_index_count(idx), 0);
    nw_topic_index_free(idx);
}

/* One case: subscriptions "OWNER:pattern", a concrete topic, and the visits
 * expected per owner 0..3. */
typedef struct match_case {
    const char *subs[6];
    const char *topic;
    unsigned want[4];
} match_case_t;

static const match_case_t cases[] = {
    {{"0:a"}, "a", {1}},
    {{"0:a"}, "b", {0}},
    {{"0:a/b"}, "a", {0}},
    {{"0:a"}, "a/b", {0}},
    {{"0:+"}, "a", {1}},
    {{"0:+"}, "a/b", {0}},
    {{"0:#"}, "a", {1}},
    {{"0:#"}, "a/b/c", {1}},
    {{"0:a/#"}, "a", {1}},
    {{"0:a/#"}, "a/b", {1}},
    {{"0:a/#"}, "a/b/c/d", {1}},
    {{"0:a/#"}, "b", {0}},
    {{"0:a/#"}, "ab", {0}},
    {{"0:a/#"}, "b/a", {0}},
    {{"0:a/+"}, "a", {0}},
    {{"0:a/+"}, "a/b", {1}},
    {{"0:a/+"}, "a/b/c", {0}},
    {{"0:+/b"}, "a/b", {1}},
    {{"0:+/b"}, "a/c", {0}},
    {{"0:+/b"}, "b", {0}},
    {{"0:a/+/c"}, "a/x/c", {1}},
    {{"0:a/+/c"}, "a/x/d", {0}},
    {{"0:a/+/c"}, "a/c", {0}},
    {{"0:+/+"}, "a/b", {1}},
    {{"0:+/+"}, "a", {0}},
    {{"0:+/#"}, "a", {1}},
    {{"0:+/#"}, "a/b/c", {1}},
    {{"0:a/+/#"}, "a", {0}},
    {{"0:a/+/#"}, "a/b", {1}},
    {{"0:a/+/#"}, "a/b/c", {1}},
    {{"0:+/+/+/+/+/+/+/+"}, "a/b/c/d/e/f/g/h", {1}},
    {{"0:+/+/+/+/+/+/+/+"}, "a/b/c/d/e/f/g", {0}},
    /* multiplicity: one visit per matching subscription */
    {{"0:a/#", "0:a/+", "0:a/b", "1:#"}, "a/b", {3, 1}},
    {{"0:a/#", "0:a/+", "0:a/b", "1:#"}, "a", {1, 1}},
    {{"0:a/b", "0:a/b"}, "a/b", {2}},
    {{"0:a/+", "0:a/+", "1:a/+"}, "a/x", {2, 1}},
    {{"0:#", "1:+/#", "2:+/+/#", "3:+/+/+/#"}, "x", {1, 1, 0, 0}},
    {{"0:#", "1:+/#", "2:+/+/#", "3:+/+/+/#"}, "x/y", {1, 1, 1, 0}},
    {{"0:a/#", "1:a/b/#", "2:a/b/c/#"}, "a/b", {1, 1, 0}},
    {{"0:a/#", "1:a/b/#", "2:a/b/c/#"}, "a", {1, 0, 0}},
    {{"0:a/b", "1:a/+", "2:+/b", "3:+/+"}, "a/b", {1, 1, 1, 1}},
    {{"0:a/b", "1:a/+", "2:+/b", "3:+/+"}, "c/b", {0, 0, 1, 1}},
    {{"0:a/b/c", "1:a/b", "2:a/b/#", "3:b/#"}, "a/b/c", {1, 0, 1, 0}},
};

static void test_topic_index_match_table(void **state)
{
    int owners[MAX_OWNERS];

    (void)state;
    for (size_t c = 0; c < NW_ARRAY_LEN(cases); c++) {
        const match_case_t *mc = &cases[c];
        nw_topic_index_t *idx = nw_topic_index_new();
        nw_sub_t *subs[6];
        unsigned brute[4] = {0};
        size_t n = 0;
        visits_t v;

        for (; n < NW_ARRAY_LEN(mc->subs) && mc->subs[n] != NULL; n++) {
            int o = mc->subs[n][0] - '0';
            const char *pattern = mc->subs[n] + 2;
            subs[n] = nw_topic_index_add(idx, pattern, &owners[o]);
            assert_non_null(subs[n]);
            brute[o] += nw_topic_match(pattern, mc->topic);
        }
        assert_int_equal(nw_topic_index_count(idx), n);
        match(idx, owners, mc->topic, &v);
        for (int o = 0; o < 4; o++) {
            if (v.count[o] != mc->want[o] || brute[o] != mc->want[o])
                fail_msg("case %zu (topic %s): owner %d visited %u times, brute force %u, "
                         "wanted %u",
                         c, mc->topic, o, v.count[o], brute[o], mc->want[o]);
        }
        /* removing everything leaves an index that matches nothing */
        for (size_t i = 0; i < n; i++)
            nw_topic_index_remove(idx, subs[i]);
        assert_int_equal(nw_topic_index_count(idx), 0);
        match(idx, owners, mc->topic, &v);
        assert_int_equal(v.total, 0);
        nw_topic_index_free(idx);
    }
}

/* Removing the last subscription of a branch prunes its nodes; the index
 * keeps working for the patterns that share a prefix with it, and the same
 * patterns can be subscribed again. */
static void test_topic_index_remove_prunes(void **state)
{
    static const char *const patterns[] = {"a/b/c/#", "a/b/+", "a/+/c", "a/b", "#", "a/b/c"};
    nw_topic_index_t *idx = nw_topic_index_new();
    int owners[MAX_OWNERS];
    nw_sub_t *subs[NW_ARRAY_LEN(patterns)];
    visits_t v;

    (void)state;
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < NW_ARRAY_LEN(patterns); i++) {
            subs[i] = nw_topic_index_add(idx, patterns[i], &owners[i]);
            assert_non_null(subs[i]);
        }
        assert_int_equal(nw_topic_index_count(idx), NW_ARRAY_LEN(patterns));
        match(idx, owners, "a/b/c", &v);
        assert_int_equal(v.total, 5); /* all but "a/b" */
        assert_int_equal(v.count[3], 0);

        nw_topic_index_remove(idx, subs[0]); /* deepest branch first */
        match(idx, owners, "a/b/c", &v);
        assert_int_equal(v.total, 4);
        assert_int_equal(v.count[0], 0);
        match(idx, owners, "a/b/c/d", &v);
        assert_int_equal(v.total, 1); /* "#" only */
        nw_topic_index_remove(idx, subs[2]);
        nw_topic_index_remove(idx, subs[5]);
        match(idx, owners, "a/b/c", &v);
        assert_int_equal(v.total, 2);
        assert_int_equal(v.count[1], 1);
        assert_int_equal(v.count[4], 1);
        nw_topic_index_remove(idx, subs[4]);
        nw_topic_index_remove(idx, subs[1]);
        nw_topic_index_remove(idx, subs[3]);
        assert_int_equal(nw_topic_index_count(idx), 0);
        match(idx, owners, "a/b/c", &v);
        assert_int_equal(v.total, 0);
        match(idx, owners, "a/b", &v);
        assert_int_equal(v.total, 0);
    }
    nw_topic_index_free(idx);
}

/* Many owners on one exact topic and one pattern: each visited once per
 * subscription; removing every other one keeps the rest intact. */
static void test_topic_index_many_owners(void **state)
{
    enum { N = 1000 };
    nw_topic_index_t *idx = nw_topic_index_new();
    static int owners[MAX_OWNERS];
    static nw_sub_t *exact[N], *wild[N];
    visits_t v;

    (void)state;
    for (int i = 0; i < N; i++) {
        exact[i] = nw_topic_index_add(idx, "sport/football", &owners[i]);
        wild[i] = nw_topic_index_add(idx, "sport/#", &owners[i]);
        assert_non_null(exact[i]);
        assert_non_null(wild[i]);
    }
    assert_int_equal(nw_topic_index_count(idx), 2 * N);
    match(idx, owners, "sport/football", &v);
    assert_int_equal(v.total, 2 * N);
    for (int i = 0; i < N; i++)
        assert_int_equal(v.count[i], 2);
    match(idx, owners, "sport/tennis", &v);
    assert_int_equal(v.total, N);

    for (int i = 0; i < N; i += 2) {
        nw_topic_index_remove(idx, exact[i]);
        nw_topic_index_remove(idx, wild[N - 1 - i]);
    }
    match(idx, owners, "sport/football", &v);
    assert_int_equal(v.total, N);
    for (int i = 0; i < N; i++) /* exact[i] kept for odd i, wild[i] for even i */
        assert_int_equal(v.count[i], 1);
    for (int i = 1; i < N; i += 2) {
        nw_topic_index_remove(idx, exact[i]);
        nw_topic_index_remove(idx, wild[N - 1 - i]);
    }
    assert_int_equal(nw_topic_index_count(idx), 0);
    match(idx, owners, "sport/football", &v);
    assert_int_equal(v.total, 0);
    nw_topic_index_free(idx);
}

/* The index frees the subscriptions it still holds (checked by ASan). */
static void test_topic_index_free_with_subs(void **state)
{
    nw_topic_index_t *idx = nw_topic_index_new();
    int owners[MAX_OWNERS];

    (void)state;
    assert_non_null(nw_topic_index_add(idx, "a", &owners[0]));
    assert_non_null(nw_topic_index_add(idx, "a/b/#", &owners[1]));
    assert_non_null(nw_topic_index_add(idx, "+/b", &owners[2]));
    assert_non_null(nw_topic_index_add(idx, "#", &owners[3]));
    assert_non_null(nw_topic_index_add(idx, "#", &owners[4]));
    assert_int_equal(nw_topic_index_count(idx), 5);
    nw_topic_index_free(idx);
}

/* A random pattern over a small alphabet so that patterns collide and share
 * trie prefixes: 1..4 segments of a, b, c or "+", the last possibly "#". */
static void random_pattern(char *buf, unsigned *seed)
{
    static const char *const segs[] = {"a", "b", "c", "+"};
    int n = 1 + rand_r(seed) % 4;

    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        const char *seg = segs[rand_r(seed) % 4];
        if (i == n - 1 && rand_r(seed) % 4 == 0)
            seg = "#";
        if (i > 0)
            strcat(buf, "/");
        strcat(buf, seg);
    }
}

/* Every topic of 1..4 segments over {a, b, c}. */
static size_t all_topics(char topics[][16])
{
    size_t n = 0;

    for (int len = 1; len <= 4; len++) {
        int total = 1;
        for (int i = 0; i < len; i++)
            total *= 3;
        for (int code = 0; code < total; code++) {
            int c = code;
            topics[n][0] = '\0';
            for (int i = 0; i < len; i++) {
                char seg[3] = {(char)('a' + c % 3), '\0', '\0'};
                c /= 3;
                if (i > 0)
                    strcat(topics[n], "/");
                strcat(topics[n], seg);
            }
            n++;
        }
    }
    return n;
}

typedef struct model_sub {
    nw_sub_t *sub;
    char pattern[16];
    int owner;
} model_sub_t;

/* Compares the index with brute force over the model for every topic. */
static void check_model(const nw_topic_index_t *idx, const int *owners, const model_sub_t *model,
                        size_t nmodel, char topics[][16], size_t ntopics)
{
    static visits_t v;
    unsigned want[MAX_OWNERS];

    assert_int_equal(nw_topic_index_count(idx), nmodel);
    for (size_t i = 0; i < nmodel; i++) {
        assert_string_equal(nw_sub_pattern(model[i].sub), model[i].pattern);
        assert_ptr_equal(nw_sub_owner(model[i].sub), &owners[model[i].owner]);
    }
    for (size_t t = 0; t < ntopics; t++) {
        memset(want, 0, sizeof(want));
        for (size_t i = 0; i < nmodel; i++)
            want[model[i].owner] += nw_topic_match(model[i].pattern, topics[t]);
        match(idx, owners, topics[t], &v);
        for (int o = 0; o < MAX_OWNERS; o++) {
            if (v.count[o] != want[o])
                fail_msg("topic %s: owner %d visited %u times, brute force says %u", topics[t], o,
                         v.count[o], want[o]);
        }
    }
}

/* Random adds and removals (in random order, so the dense subscription
 * arrays are reshuffled by swap-removal) against a brute-force model. */
static void test_topic_index_random_model(void **state)
{
    enum { OWNERS = 16, MAXSUBS = 200, STEPS = 4000 };
    static char topics[200][16];
    static model_sub_t model[MAXSUBS];
    static int owners[MAX_OWNERS];
    nw_topic_index_t *idx = nw_topic_index_new();
    size_t ntopics = all_topics(topics), nmodel = 0;
    unsigned seed = 20240601;

    (void)state;
    assert_int_equal(ntopics, 3 + 9 + 27 + 81);
    for (int step = 0; step < STEPS; step++) {
        /* grow towards MAXSUBS / 2, then hover around it */
        int add = nmodel == 0 || (nmodel < MAXSUBS && rand_r(&seed) % 100 < 55);

        if (add) {
            model_sub_t *m = &model[nmodel];
            random_pattern(m->pattern, &seed);
            m->owner = rand_r(&seed) % OWNERS;
            m->sub = nw_topic_index_add(idx, m->pattern, &owners[m->owner]);
            assert_non_null(m->sub);
            nmodel++;
        } else {
            size_t i = (size_t)rand_r(&seed) % nmodel;
            nw_topic_index_remove(idx, model[i].sub);
            model[i] = model[--nmodel];
        }
        if (step % 50 == 0)
            check_model(idx, owners, model, nmodel, topics, ntopics);
    }
    check_model(idx, owners, model, nmodel, topics, ntopics);
    /* drain in random order, checking along the way */
    while (nmodel > 0) {
        size_t i = (size_t)rand_r(&seed) % nmodel;
        nw_topic_index_remove(idx, model[i].sub);
        model[i] = model[--nmodel];
        if (nmodel % 10 == 0)
            check_model(idx, owners, model, nmodel, topics, ntopics);
    }
    assert_int_equal(nw_topic_index_count(idx), 0);
    nw_topic_index_free(idx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topic_index_empty),
        cmocka_unit_test(test_topic_index_exact),
        cmocka_unit_test(test_topic_index_wildcard),
        cmocka_unit_test(test_topic_index_match_table),
        cmocka_unit_test(test_topic_index_remove_prunes),
        cmocka_unit_test(test_topic_index_many_owners),
        cmocka_unit_test(test_topic_index_free_with_subs),
        cmocka_unit_test(test_topic_index_random_model),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
