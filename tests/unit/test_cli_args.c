/* Unit tests for the newswire command's argument parsing
 * (clients/cli/args.c): options in both forms, defaults, bounds, required
 * options and operands, and the local checks (topics, cursors, values that
 * end up in HTTP headers). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "args.h"

#define ARGV(...)              ((char *[]){__VA_ARGS__, NULL})
#define ARGC(...)              ((int)(sizeof((char *[]){__VA_ARGS__}) / sizeof(char *)))
#define PUBLISH(out, err, ...) nw_args_publish(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), out, err)
#define KILL(out, err, ...)    nw_args_kill(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), out, err)
#define TAIL(out, err, ...)    nw_args_tail(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), out, err)

static void test_publish_full(void **state)
{
    nw_args_publish_t o;
    nw_err_t err;

    assert_int_equal(PUBLISH(&o, &err, "publish", "--api", "http://127.0.0.1:8081", "--key=k1",
                             "--topics", "monde/afrique, sport", "--idempotency-key", "abc-1",
                             "--msgpack", "--timeout", "2.5", "--retries=0", "--insecure",
                             "--cacert", "/tmp/ca.pem", "item.json"),
                     0);
    assert_false(o.help);
    assert_string_equal(o.api.api, "http://127.0.0.1:8081");
    assert_string_equal(o.api.key, "k1");
    assert_string_equal(o.topics, "monde/afrique, sport");
    assert_string_equal(o.idempotency_key, "abc-1");
    assert_true(o.msgpack);
    assert_int_equal(o.api.timeout_ms, 2500);
    assert_int_equal(o.api.retries, 0);
    assert_true(o.api.insecure);
    assert_string_equal(o.api.cacert, "/tmp/ca.pem");
    assert_string_equal(o.file, "item.json");
}

static void test_publish_defaults_and_stdin(void **state)
{
    nw_args_publish_t o;
    nw_err_t err;

    assert_int_equal(PUBLISH(&o, &err, "publish", "-", "--api", "http://h", "--topics", "a"), 0);
    assert_string_equal(o.file, "-");
    assert_null(o.api.key);
    assert_null(o.idempotency_key);
    assert_false(o.msgpack);
    assert_int_equal(o.api.timeout_ms, NW_ARGS_TIMEOUT_DEFAULT_MS);
    assert_int_equal(o.api.retries, NW_ARGS_RETRIES_DEFAULT);

    /* "--" ends the options: a file may start with a dash */
    assert_int_equal(PUBLISH(&o, &err, "publish", "--api", "http://h", "--topics", "a", "--",
                             "--weird-name.json"),
                     0);
    assert_string_equal(o.file, "--weird-name.json");
}

static void test_help_wins(void **state)
{
    nw_args_publish_t p;
    nw_args_kill_t k;
    nw_args_tail_t t;
    nw_err_t err;

    assert_int_equal(PUBLISH(&p, &err, "publish", "--help"), 0);
    assert_true(p.help);
    assert_int_equal(PUBLISH(&p, &err, "publish", "--bogus", "-h"), 0);
    assert_true(p.help);
    assert_int_equal(KILL(&k, &err, "kill", "-h"), 0);
    assert_true(k.help);
    assert_int_equal(TAIL(&t, &err, "tail", "x", "--help"), 0);
    assert_true(t.help);
    /* after "--" it is an operand */
    assert_int_equal(PUBLISH(&p, &err, "publish", "--", "--help"), -EINVAL);
}

static void test_publish_errors(void **state)
{
    nw_args_publish_t o;
    nw_err_t err;

    assert_int_equal(
        PUBLISH(&o, &err, "publish", "--api", "http://h", "--topics", "a", "--nope", "f"), -EINVAL);
    assert_string_equal(err.message, "unknown option --nope");
    assert_int_equal(PUBLISH(&o, &err, "publish", "--api", "http://h", "--topics", "a", "-x", "f"),
                     -EINVAL);
    assert_string_equal(err.message, "unknown option -x");
    assert_int_equal(PUBLISH(&o, &err, "publish", "--api=http://h", "--topics", "a", "--nope=1"),
                     -EINVAL);
    assert_string_equal(err.message, "unknown option --nope");

    assert_int_equal(PUBLISH(&o, &err, "publish", "--topics", "a", "f"), -EINVAL);
    assert_string_equal(err.field, "--api");
    assert_int_equal(PUBLISH(&o, &err, "publish", "--api", "http://h", "f"), -EINVAL);
    assert_string_equal(err.field, "--topics");
    assert_int_equal(PUBLISH(&o, &err, "publish", "--api", "http://h", "--topics", "a"), -EINVAL);
    assert_string_equal(err.field, "");
    assert_int_equal(PUBLISH(&o, &err, "publish", "--api", "http://h", "--topics", "a", "f", "g"),
                     -EINVAL);
    assert_int_equal(PUBLISH(&o, &err, "publish", "--api", "http://h", "f", "--topics"), -EINVAL);
    assert_string_equal(err.field, "--topics");
    assert_string_equal(err.message, "needs a value");
    assert_int_equal(
        PUBLISH(&o, &err, "publish", "--api", "http://h", "--topics", "a", "--msgpack=yes", "f"),
        -EINVAL);
    assert_string_equal(err.field, "--msgpack");
}

static void test_publish_local_checks(void **state)
{
    nw_args_publish_t o;
    nw_err_t err;

    /* topics: the grammar of proto/topic.c, no wildcards */
    assert_int_equal(PUBLISH(&o, &err, "publish", "--api", "http://h", "--topics", "Monde", "f"),
                     -EINVAL);
    assert_string_equal(err.field, "--topics");
    assert_int_equal(PUBLISH(&o, &err, "publish", "--api", "http://h", "--topics", "monde/#", "f"),
                     -EINVAL);
    assert_int_equal(PUBLISH(&o, &err, "publish", "--api", "http://h", "--topics", "a,,b", "f"),
                     -EINVAL);
    assert_int_equal(PUBLISH(&o, &err, "publish", "--api", "http://h", "--topics", "a,a", "f"),
                     -EINVAL);
    assert_int_equal(PUBLISH(&o, &err, "publish", "--api", "http://h", "--topics", "", "f"),
                     -EINVAL);
    /* header values */
    assert_int_equal(PUBLISH(&o, &err, "publish", "--api", "http://h", "--topics", "a",
                             "--idempotency-key", "has space", "f"),
                     -EINVAL);
    assert_string_equal(err.field, "--idempotency-key");
    assert_int_equal(PUBLISH(&o, &err, "publish", "--api", "http://h", "--topics", "a", "--key",
                             "k\r\nX-Injected: 1", "f"),
                     -EINVAL);
    assert_string_equal(err.field, "--key");
    /* numbers */
    assert_int_equal(
        PUBLISH(&o, &err, "publish", "--api", "http://h", "--topics", "a", "--timeout", "0", "f"),
        -EINVAL);
    assert_string_equal(err.field, "--timeout");
    assert_int_equal(
        PUBLISH(&o, &err, "publish", "--api", "http://h", "--topics", "a", "--timeout", "1s", "f"),
        -EINVAL);
    assert_int_equal(PUBLISH(&o, &err, "publish", "--api", "http://h", "--topics", "a", "--timeout",
                             "0.001", "f"),
                     0);
    assert_int_equal(o.api.timeout_ms, 1);
    assert_int_equal(
        PUBLISH(&o, &err, "publish", "--api", "http://h", "--topics", "a", "--retries", "101", "f"),
        -EINVAL);
    assert_int_equal(
        PUBLISH(&o, &err, "publish", "--api", "http://h", "--topics", "a", "--retries", "-1", "f"),
        -EINVAL);
    assert_int_equal(
        PUBLISH(&o, &err, "publish", "--api", "http://h", "--topics", "a", "--retries", "", "f"),
        -EINVAL);
}

static void test_kill(void **state)
{
    nw_args_kill_t o;
    nw_err_t err;

    assert_int_equal(KILL(&o, &err, "kill", "--api", "http://h:1", "urn:x:1", "--key", "k"), 0);
    assert_string_equal(o.uri, "urn:x:1");
    assert_string_equal(o.api.key, "k");
    assert_int_equal(o.api.timeout_ms, NW_ARGS_TIMEOUT_DEFAULT_MS);
    assert_int_equal(KILL(&o, &err, "kill", "--api", "http://h:1"), -EINVAL);
    assert_int_equal(KILL(&o, &err, "kill", "--api", "http://h:1", "a", "b"), -EINVAL);
    assert_int_equal(KILL(&o, &err, "kill", "--api", "http://h:1", "--topics", "a", "u"), -EINVAL);
    assert_int_equal(KILL(&o, &err, "kill", "u"), -EINVAL);
    assert_string_equal(err.field, "--api");
}

static void test_tail(void **state)
{
    nw_args_tail_t o;
    nw_err_t err;

    assert_int_equal(TAIL(&o, &err, "tail", "--url", "ws://h:1/v1/stream", "monde/#", "--since",
                          "1795796770690-0", "--epoch", "8f0c", "--token", "t.o.k", "--min-urgency",
                          "3", "--msgpack", "--count", "10", "-v", "--max-retries=4",
                          "--backoff-max", "2", "sport/+"),
                     0);
    assert_string_equal(o.url, "ws://h:1/v1/stream");
    assert_int_equal(o.ntopics, 2);
    assert_string_equal(o.topics[0], "monde/#");
    assert_string_equal(o.topics[1], "sport/+");
    assert_string_equal(o.since, "1795796770690-0");
    assert_string_equal(o.epoch, "8f0c");
    assert_string_equal(o.token, "t.o.k");
    assert_int_equal(o.min_urgency, 3);
    assert_true(o.msgpack);
    assert_int_equal(o.count, 10);
    assert_true(o.verbose);
    assert_int_equal(o.max_retries, 4);
    assert_int_equal(o.backoff_max_ms, 2000);

    assert_int_equal(TAIL(&o, &err, "tail", "--url", "ws://h", "#"), 0);
    assert_null(o.since);
    assert_int_equal(o.count, 0);
    assert_int_equal(o.min_urgency, 0);
    assert_int_equal(o.max_retries, 0);
    assert_int_equal(o.backoff_max_ms, 30000);
}

static void test_tail_errors(void **state)
{
    nw_args_tail_t o;
    nw_err_t err;

    assert_int_equal(TAIL(&o, &err, "tail", "monde"), -EINVAL);
    assert_string_equal(err.field, "--url");
    assert_int_equal(TAIL(&o, &err, "tail", "--url", "ws://h"), -EINVAL);
    assert_string_equal(err.field, "");
    assert_int_equal(TAIL(&o, &err, "tail", "--url", "ws://h", "Monde"), -EINVAL);
    assert_string_equal(err.field, "TOPIC");
    assert_int_equal(TAIL(&o, &err, "tail", "--url", "ws://h", "a/#/b"), -EINVAL);
    assert_int_equal(TAIL(&o, &err, "tail", "--url", "ws://h", "a", "a"), -EINVAL);
    assert_int_equal(TAIL(&o, &err, "tail", "--url", "ws://h", "--since", "abc", "a"), -EINVAL);
    assert_string_equal(err.field, "--since");
    assert_int_equal(TAIL(&o, &err, "tail", "--url", "ws://h", "--epoch", "8f", "a"), -EINVAL);
    assert_string_equal(err.field, "--epoch");
    assert_int_equal(
        TAIL(&o, &err, "tail", "--url", "ws://h", "--since", "1-0", "--epoch", "XY", "a"), -EINVAL);
    assert_string_equal(err.field, "--epoch");
    assert_int_equal(TAIL(&o, &err, "tail", "--url", "ws://h", "--min-urgency", "0", "a"), -EINVAL);
    assert_int_equal(TAIL(&o, &err, "tail", "--url", "ws://h", "--min-urgency", "10", "a"),
                     -EINVAL);
    assert_int_equal(TAIL(&o, &err, "tail", "--url", "ws://h", "--count", "0", "a"), -EINVAL);
    assert_int_equal(TAIL(&o, &err, "tail", "--url", "ws://h", "--token", "a b", "a"), -EINVAL);
    assert_string_equal(err.field, "--token");
    assert_int_equal(TAIL(&o, &err, "tail", "--url", "ws://h", "-q", "a"), -EINVAL);
    assert_int_equal(TAIL(&o, &err, "tail", "--url", "ws://h", "-vv", "a"), -EINVAL);
}

static void test_tail_too_many_topics(void **state)
{
    char names[NW_ARGS_TAIL_MAX_TOPICS + 1][8];
    char *argv[NW_ARGS_TAIL_MAX_TOPICS + 5];
    nw_args_tail_t o;
    nw_err_t err;
    int argc = 0;

    argv[argc++] = "tail";
    argv[argc++] = "--url";
    argv[argc++] = "ws://h";
    for (int i = 0; i < NW_ARGS_TAIL_MAX_TOPICS; i++) {
        snprintf(names[i], sizeof(names[i]), "t%d", i);
        argv[argc++] = names[i];
    }
    argv[argc] = NULL;
    assert_int_equal(nw_args_tail(argc, argv, &o, &err), 0);
    assert_int_equal(o.ntopics, NW_ARGS_TAIL_MAX_TOPICS);
    snprintf(names[NW_ARGS_TAIL_MAX_TOPICS], 8, "extra");
    argv[argc++] = names[NW_ARGS_TAIL_MAX_TOPICS];
    argv[argc] = NULL;
    assert_int_equal(nw_args_tail(argc, argv, &o, &err), -EINVAL);
}

static void test_header_safe(void **state)
{
    assert_true(nw_args_header_safe("abc", 3, true));
    assert_false(nw_args_header_safe("abcd", 3, true));
    assert_false(nw_args_header_safe("", 3, true));
    assert_false(nw_args_header_safe("a b", 3, true));
    assert_true(nw_args_header_safe("a b", 3, false));
    assert_false(nw_args_header_safe(" ab", 3, false));
    assert_false(nw_args_header_safe("ab ", 3, false));
    assert_false(nw_args_header_safe("a\nb", 3, false));
    assert_false(nw_args_header_safe("a\x7f", 3, false));
    assert_true(nw_args_header_safe("\xc3\xa9", 3, false));
    assert_false(nw_args_header_safe("\xc3\xa9", 3, true));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_publish_full),
        cmocka_unit_test(test_publish_defaults_and_stdin),
        cmocka_unit_test(test_help_wins),
        cmocka_unit_test(test_publish_errors),
        cmocka_unit_test(test_publish_local_checks),
        cmocka_unit_test(test_kill),
        cmocka_unit_test(test_tail),
        cmocka_unit_test(test_tail_errors),
        cmocka_unit_test(test_tail_too_many_topics),
        cmocka_unit_test(test_header_safe),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
