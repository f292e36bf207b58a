/* Unit tests for tail's resume state (clients/cli/tail_state.c): the
 * cursor it resumes from, the epoch, never printing an id twice, the
 * reading of close codes and the reconnect backoff. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tail_state.h"

static void test_fresh_state(void **state)
{
    nw_tail_state_t *s = nw_tail_state_new(NULL, NULL);

    assert_non_null(s);
    assert_null(nw_tail_state_cursor(s));
    assert_null(nw_tail_state_epoch(s));
    nw_tail_state_subscribed(s, NULL);
    assert_null(nw_tail_state_epoch(s));
    nw_tail_state_subscribed(s, "8f0c");
    assert_string_equal(nw_tail_state_epoch(s), "8f0c");
    nw_tail_state_subscribed(s, NULL); /* keeps the known epoch */
    assert_string_equal(nw_tail_state_epoch(s), "8f0c");
    nw_tail_state_subscribed(s, "NOT-HEX");
    assert_string_equal(nw_tail_state_epoch(s), "8f0c");
    nw_tail_state_free(s);
    nw_tail_state_free(NULL);
}

static void test_since_and_epoch_given(void **state)
{
    nw_tail_state_t *s = nw_tail_state_new("100-0", "abc");

    assert_string_equal(nw_tail_state_cursor(s), "100-0");
    assert_string_equal(nw_tail_state_epoch(s), "abc");
    nw_tail_state_free(s);
}

static void test_cursor_follows_items(void **state)
{
    nw_tail_state_t *s = nw_tail_state_new(NULL, NULL);

    assert_int_equal(nw_tail_state_item(s, "100-0", NULL), 1);
    assert_string_equal(nw_tail_state_cursor(s), "100-0");
    /* a flash sent ahead of older queued items carries the cursor */
    assert_int_equal(nw_tail_state_item(s, "105-0", "100-0"), 1);
    assert_string_equal(nw_tail_state_cursor(s), "100-0");
    assert_int_equal(nw_tail_state_item(s, "101-0", NULL), 1);
    assert_string_equal(nw_tail_state_cursor(s), "101-0");
    /* invalid ids change nothing */
    assert_int_equal(nw_tail_state_item(s, NULL, NULL), -EINVAL);
    assert_int_equal(nw_tail_state_item(s, "x", NULL), -EINVAL);
    assert_int_equal(nw_tail_state_item(s, "102-0", "nope"), -EINVAL);
    assert_string_equal(nw_tail_state_cursor(s), "101-0");
    nw_tail_state_free(s);
}

static void test_never_twice(void **state)
{
    nw_tail_state_t *s = nw_tail_state_new(NULL, NULL);

    assert_int_equal(nw_tail_state_item(s, "100-0", NULL), 1);
    assert_int_equal(nw_tail_state_item(s, "105-1", "100-0"), 1);
    assert_int_equal(nw_tail_state_item(s, "101-0", NULL), 1);
    /* a resume from 101-0 replays the flash 105-1: not printed again, but
     * the cursor moves on */
    assert_int_equal(nw_tail_state_item(s, "105-1", NULL), 0);
    assert_string_equal(nw_tail_state_cursor(s), "105-1");
    assert_int_equal(nw_tail_state_item(s, "100-0", NULL), 0);
    assert_int_equal(nw_tail_state_item(s, "105-0", NULL), 1); /* never seen */
    assert_int_equal(nw_tail_state_item(s, "99-9", NULL), 1);  /* older, never seen */
    assert_int_equal(nw_tail_state_item(s, "99-9", NULL), 0);
    assert_int_equal(nw_tail_state_item(s, "106-0", NULL), 1);
    nw_tail_state_free(s);
}

static void test_seen_ring_keeps_the_newest(void **state)
{
    nw_tail_state_t *s = nw_tail_state_new(NULL, NULL);
    char id[32];

    for (int i = 0; i < NW_TAIL_SEEN_MAX + 10; i++) {
        snprintf(id, sizeof(id), "%d-0", 1000 + i);
        assert_int_equal(nw_tail_state_item(s, id, NULL), 1);
    }
    /* the newest are remembered, the oldest ten forgotten */
    snprintf(id, sizeof(id), "%d-0", 1000 + NW_TAIL_SEEN_MAX + 9);
    assert_int_equal(nw_tail_state_item(s, id, NULL), 0);
    assert_int_equal(nw_tail_state_item(s, "1010-0", NULL), 0);
    assert_int_equal(nw_tail_state_item(s, "1009-0", NULL), 1);
    nw_tail_state_free(s);
}

static void test_printed_count(void **state)
{
    nw_tail_state_t *s = nw_tail_state_new(NULL, NULL);

    assert_int_equal(nw_tail_state_printed(s), 1);
    assert_int_equal(nw_tail_state_printed(s), 2);
    nw_tail_state_free(s);
}

static void test_close_actions(void **state)
{
    static const int reconnect[] = {0, 1000, 1001, 1002, 1005, 1006, 1011, 1012, 1013, 1014};
    static const int fatal[] = {1003, 1007, 1008, 1009, 1010, 4001, 4002, 4003, 4008, 4029};

    for (size_t i = 0; i < sizeof(reconnect) / sizeof(reconnect[0]); i++)
        assert_int_equal(nw_tail_close_action(reconnect[i]), NW_TAIL_CLOSE_RECONNECT);
    for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
        assert_int_equal(nw_tail_close_action(fatal[i]), NW_TAIL_CLOSE_FATAL);
}

static void test_backoff(void **state)
{
    /* the ceiling doubles from the base up to the cap */
    assert_int_equal(nw_tail_backoff_ms(0, 250, 30000, UINT64_MAX - 1), (UINT64_MAX - 1) % 251);
    assert_int_equal(nw_tail_backoff_ms(0, 250, 30000, 250), 250);
    assert_int_equal(nw_tail_backoff_ms(0, 250, 30000, 251), 0);
    assert_int_equal(nw_tail_backoff_ms(1, 250, 30000, 500), 500);
    assert_int_equal(nw_tail_backoff_ms(2, 250, 30000, 1000), 1000);
    assert_int_equal(nw_tail_backoff_ms(7, 250, 30000, 30000), 30000);
    assert_int_equal(nw_tail_backoff_ms(8, 250, 30000, 30000), 30000);
    assert_int_equal(nw_tail_backoff_ms(8, 250, 30000, 30001), 0);
    assert_int_equal(nw_tail_backoff_ms(4000000000u, 250, 30000, 29999), 29999);
    /* full jitter: every value in [0, ceiling] is reachable, none above */
    for (uint64_t r = 0; r < 2000; r++) {
        int d = nw_tail_backoff_ms(3, 250, 1500, r * 7919);
        assert_true(d >= 0 && d <= 1500);
    }
    assert_int_equal(nw_tail_backoff_ms(0, 0, 100, 5), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fresh_state),
        cmocka_unit_test(test_since_and_epoch_given),
        cmocka_unit_test(test_cursor_follows_items),
        cmocka_unit_test(test_never_twice),
        cmocka_unit_test(test_seen_ring_keeps_the_newest),
        cmocka_unit_test(test_printed_count),
        cmocka_unit_test(test_close_actions),
        cmocka_unit_test(test_backoff),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
