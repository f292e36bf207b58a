/* Unit tests for daemon/wire.c: the pure part, stream id ordering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "event.h"

static int sign(int v)
{
    return (v > 0) - (v < 0);
}

/* Asserts cmp(a, b) has the sign want, and cmp(b, a) the opposite. */
static void cmp_is(const char *a, const char *b, int want)
{
    int ab = sign(nw_stream_id_cmp(a, b)), ba = sign(nw_stream_id_cmp(b, a));

    if (ab != want || ba != -want)
        fail_msg("cmp(%s, %s) = %d, cmp(%s, %s) = %d; wanted %d", a, b, ab, b, a, ba, want);
}

static void test_wire_stream_id_order(void **state)
{
    (void)state;
    cmp_is("1-0", "1-0", 0);
    cmp_is("0-0", "0-1", -1);
    cmp_is("1-0", "2-0", -1);
    cmp_is("1700000000000-5", "1700000000000-12", -1); /* numeric, not lexical */
    cmp_is("999-99", "1000-0", -1);
    cmp_is("1700000000001-0", "1700000000000-999999", 1);
    cmp_is("5", "5-0", 0); /* a bare ms part has sequence 0 */
    cmp_is("5", "5-1", -1);
    cmp_is("18446744073709551615-18446744073709551615", "18446744073709551615-18446744073709551614",
           1);
    cmp_is("18446744073709551615-0", "1-0", 1);
}

/* wire.h: "Malformed ids compare as 0-0." */
static void test_wire_stream_id_malformed(void **state)
{
    static const char *const bad[] = {"", "abc", "x-1", "-5", "5-x", "5x", "5-1x"};
    char wrong[128] = "";

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (nw_stream_id_cmp(bad[i], "0-0") != 0 || nw_stream_id_cmp(bad[i], "0-1") >= 0) {
            strcat(wrong, " \"");
            strcat(wrong, bad[i]);
            strcat(wrong, "\"");
        }
    }
    if (wrong[0] != '\0')
        fail_msg("malformed ids not compared as 0-0:%s", wrong);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wire_stream_id_order),
        cmocka_unit_test(test_wire_stream_id_malformed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
