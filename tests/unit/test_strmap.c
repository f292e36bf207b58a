/* Unit tests for daemon/strmap.c: put/get/del, growth, backward-shift
 * deletion, keys sharing prefixes, iteration. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common.h"
#include "strmap.h"

#define MANY 10000

static int put(nw_strmap_t *m, const char *key, void *value)
{
    return nw_strmap_put(m, key, strlen(key), value);
}

static void *get(const nw_strmap_t *m, const char *key)
{
    return nw_strmap_get(m, key, strlen(key));
}

static void *del(nw_strmap_t *m, const char *key)
{
    return nw_strmap_del(m, key, strlen(key));
}

/* The i-th key of the bulk tests, and its value (never NULL). */
static void key_of(char *buf, size_t size, size_t i)
{
    snprintf(buf, size, "monde/region-%zu/topic", i);
}

static void *value_of(size_t i)
{
    return (void *)(uintptr_t)(i + 1);
}

static void test_strmap_empty(void **state)
{
    nw_strmap_t *m = nw_strmap_new();

    (void)state;
    assert_non_null(m);
    assert_int_equal(nw_strmap_count(m), 0);
    assert_null(get(m, "a"));
    assert_null(del(m, "a"));
    assert_null(nw_strmap_get(m, "", 0));
    nw_strmap_free(m);
    nw_strmap_free(NULL);
}

static void test_strmap_put_get_del(void **state)
{
    nw_strmap_t *m = nw_strmap_new();
    int a, b;

    (void)state;
    assert_int_equal(put(m, "alpha", &a), 0);
    assert_int_equal(put(m, "beta", &b), 0);
    assert_int_equal(nw_strmap_count(m), 2);
    assert_ptr_equal(get(m, "alpha"), &a);
    assert_ptr_equal(get(m, "beta"), &b);
    assert_null(get(m, "gamma"));

    assert_ptr_equal(del(m, "alpha"), &a);
    assert_int_equal(nw_strmap_count(m), 1);
    assert_null(get(m, "alpha"));
    assert_null(del(m, "alpha"));
    assert_int_equal(nw_strmap_count(m), 1);
    assert_ptr_equal(get(m, "beta"), &b);

    assert_ptr_equal(del(m, "beta"), &b);
    assert_int_equal(nw_strmap_count(m), 0);
    assert_int_equal(put(m, "alpha", &b), 0); /* reusable once empty */
    assert_ptr_equal(get(m, "alpha"), &b);
    nw_strmap_free(m);
}

static void test_strmap_overwrite(void **state)
{
    nw_strmap_t *m = nw_strmap_new();
    int a, b;

    (void)state;
    assert_int_equal(put(m, "k", &a), 0);
    assert_int_equal(put(m, "k", &b), 0);
    assert_int_equal(nw_strmap_count(m), 1);
    assert_ptr_equal(get(m, "k"), &b);
    assert_ptr_equal(del(m, "k"), &b);
    assert_null(get(m, "k"));
    nw_strmap_free(m);
}

/* Keys are (pointer, length) pairs: the map copies exactly len bytes, so a
 * key need not be NUL-terminated and a prefix is a different key. */
static void test_strmap_key_bytes(void **state)
{
    nw_strmap_t *m = nw_strmap_new();
    const char *topic = "monde/afrique/benin";
    char buf[8];
    int a, b, c, e;

    (void)state;
    assert_int_equal(nw_strmap_put(m, topic, 5, &a), 0);  /* "monde" */
    assert_int_equal(nw_strmap_put(m, topic, 13, &b), 0); /* "monde/afrique" */
    assert_int_equal(nw_strmap_put(m, topic, 19, &c), 0);
    assert_int_equal(nw_strmap_put(m, "", 0, &e), 0);
    assert_int_equal(nw_strmap_count(m), 4);
    assert_ptr_equal(get(m, "monde"), &a);
    assert_ptr_equal(get(m, "monde/afrique"), &b);
    assert_ptr_equal(get(m, "monde/afrique/benin"), &c);
    assert_ptr_equal(nw_strmap_get(m, "", 0), &e);
    assert_null(get(m, "mond"));
    assert_null(get(m, "monde/"));
    memcpy(buf, "mondeXY", 8); /* a key inside a larger buffer */
    assert_ptr_equal(nw_strmap_get(m, buf, 5), &a);
    assert_ptr_equal(nw_strmap_del(m, topic, 13), &b);
    assert_ptr_equal(get(m, "monde"), &a);
    assert_ptr_equal(get(m, "monde/afrique/benin"), &c);
    nw_strmap_free(m);
}

/* Keys sharing long prefixes and differing in one byte or in length. */
static void test_strmap_equal_prefixes(void **state)
{
    nw_strmap_t *m = nw_strmap_new();
    char key[80];
    size_t n = 0;

    (void)state;
    for (size_t len = 1; len < 64; len++) {
        memset(key, 'p', len);
        for (char last = 'a'; last <= 'e'; last++) {
            key[len - 1] = last;
            assert_int_equal(nw_strmap_put(m, key, len, value_of(n)), 0);
            n++;
        }
    }
    assert_int_equal(nw_strmap_count(m), n);
    n = 0;
    for (size_t len = 1; len < 64; len++) {
        memset(key, 'p', len);
        for (char last = 'a'; last <= 'e'; last++) {
            key[len - 1] = last;
            assert_ptr_equal(nw_strmap_get(m, key, len), value_of(n));
            n++;
        }
        key[len - 1] = 'f';
        assert_null(nw_strmap_get(m, key, len));
    }
    nw_strmap_free(m);
}

static void test_strmap_many(void **state)
{
    nw_strmap_t *m = nw_strmap_new();
    char key[64];

    (void)state;
    for (size_t i = 0; i < MANY; i++) {
        key_of(key, sizeof(key), i);
        assert_int_equal(put(m, key, value_of(i)), 0);
        assert_int_equal(nw_strmap_count(m), i + 1);
    }
    for (size_t i = 0; i < MANY; i++) {
        key_of(key, sizeof(key), i);
        assert_ptr_equal(get(m, key), value_of(i));
    }
    key_of(key, sizeof(key), MANY);
    assert_null(get(m, key));
    nw_strmap_free(m);
}

/* Deleting every other key leaves holes in the probe clusters; backward
 * shift must keep every remaining key reachable, and a deleted key must not
 * come back. */
static void test_strmap_delete_half(void **state)
{
    nw_strmap_t *m = nw_strmap_new();
    char key[64];

    (void)state;
    for (size_t i = 0; i < MANY; i++) {
        key_of(key, sizeof(key), i);
        assert_int_equal(put(m, key, value_of(i)), 0);
    }
    for (size_t i = 0; i < MANY; i += 2) {
        key_of(key, sizeof(key), i);
        assert_ptr_equal(del(m, key), value_of(i));
    }
    assert_int_equal(nw_strmap_count(m), MANY / 2);
    for (size_t i = 0; i < MANY; i++) {
        key_of(key, sizeof(key), i);
        if (i % 2 == 0)
            assert_null(get(m, key));
        else
            assert_ptr_equal(get(m, key), value_of(i));
    }
    /* put the deleted half back with new values, then empty the map */
    for (size_t i = 0; i < MANY; i += 2) {
        key_of(key, sizeof(key), i);
        assert_int_equal(put(m, key, value_of(i + MANY)), 0);
    }
    assert_int_equal(nw_strmap_count(m), MANY);
    for (size_t i = 0; i < MANY; i++) {
        key_of(key, sizeof(key), i);
        assert_ptr_equal(get(m, key), value_of(i % 2 == 0 ? i + MANY : i));
    }
    for (size_t i = MANY; i-- > 0;) {
        key_of(key, sizeof(key), i);
        assert_non_null(del(m, key));
    }
    assert_int_equal(nw_strmap_count(m), 0);
    nw_strmap_free(m);
}

/* Random puts and deletes against a plain array model, with a fixed seed;
 * a small key space forces long clusters and wrap-around at the table end. */
static void test_strmap_random_model(void **state)
{
    enum { NKEYS = 300, STEPS = 200000 };
    void *model[NKEYS];
    nw_strmap_t *m = nw_strmap_new();
    unsigned seed = 12345;
    size_t live = 0;
    char key[32];

    (void)state;
    memset(model, 0, sizeof(model));
    for (size_t step = 0; step < STEPS; step++) {
        size_t i = (size_t)rand_r(&seed) % NKEYS;
        int op = rand_r(&seed) % 3;

        snprintf(key, sizeof(key), "k%zu", i);
        if (op < 2) {
            void *v = value_of(step);
            assert_int_equal(put(m, key, v), 0);
            live += model[i] == NULL;
            model[i] = v;
        } else {
            assert_ptr_equal(del(m, key), model[i]);
            live -= model[i] != NULL;
            model[i] = NULL;
        }
        assert_int_equal(nw_strmap_count(m), live);
        if (step % 1000 == 0) {
            for (size_t j = 0; j < NKEYS; j++) {
                snprintf(key, sizeof(key), "k%zu", j);
                assert_ptr_equal(get(m, key), model[j]);
            }
        }
    }
    nw_strmap_free(m);
}

typedef struct visit {
    unsigned seen[MANY];
    size_t calls;
    int bad;
} visit_t;

static void visit_cb(const char *key, void *value, void *arg)
{
    visit_t *v = arg;
    size_t i = (size_t)(uintptr_t)value - 1;
    char want[64];

    v->calls++;
    if (i >= MANY) {
        v->bad++;
        return;
    }
    key_of(want, sizeof(want), i);
    if (strcmp(key, want) != 0) /* the key handed out is NUL-terminated */
        v->bad++;
    v->seen[i]++;
}

static void test_strmap_each(void **state)
{
    nw_strmap_t *m = nw_strmap_new();
    visit_t *v = calloc(1, sizeof(*v));
    char key[64];

    (void)state;
    assert_non_null(v);
    nw_strmap_each(m, visit_cb, v);
    assert_int_equal(v->calls, 0);
    for (size_t i = 0; i < MANY; i++) {
        key_of(key, sizeof(key), i);
        assert_int_equal(put(m, key, value_of(i)), 0);
    }
    for (size_t i = 0; i < MANY; i += 3) {
        key_of(key, sizeof(key), i);
        assert_non_null(del(m, key));
    }
    nw_strmap_each(m, visit_cb, v);
    assert_int_equal(v->bad, 0);
    assert_int_equal(v->calls, nw_strmap_count(m));
    for (size_t i = 0; i < MANY; i++)
        assert_int_equal(v->seen[i], i % 3 == 0 ? 0 : 1);
    free(v);
    nw_strmap_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strmap_empty),          cmocka_unit_test(test_strmap_put_get_del),
        cmocka_unit_test(test_strmap_overwrite),      cmocka_unit_test(test_strmap_key_bytes),
        cmocka_unit_test(test_strmap_equal_prefixes), cmocka_unit_test(test_strmap_many),
        cmocka_unit_test(test_strmap_delete_half),    cmocka_unit_test(test_strmap_random_model),
        cmocka_unit_test(test_strmap_each),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
