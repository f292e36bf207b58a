/* Unit tests for the pure parts of the webhook modules (daemon/webhook.h,
 * daemon/webhook_http.h): the Standard Webhooks signature (the spec's own
 * test vector), secret decoding, the retry backoff schedule, base64 and
 * target URLs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "webhook.h"
#include "webhook_http.h"

/* The example of https://github.com/standard-webhooks/standard-webhooks
 * (spec/standard-webhooks.md and its libraries' tests). */
#define SPEC_SECRET  "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define SPEC_MSG_ID  "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define SPEC_TS      1614265330
#define SPEC_PAYLOAD "{\"test\": 2432232314}"
#define SPEC_SIG     "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

static void test_sign_spec_vector(void **state)
{
    unsigned char key[NW_WEBHOOK_KEY_MAX];
    size_t keylen = 0;
    char sig[NW_WEBHOOK_SIG_MAX];

    assert_int_equal(nw_webhook_secret_decode(SPEC_SECRET, key, &keylen), 0);
    assert_int_equal(keylen, 24);
    assert_int_equal(
        nw_webhook_sign(key, keylen, SPEC_MSG_ID, SPEC_TS, SPEC_PAYLOAD, strlen(SPEC_PAYLOAD), sig),
        0);
    assert_string_equal(sig, SPEC_SIG);
}

static void test_sign_depends_on_every_part(void **state)
{
    unsigned char key[NW_WEBHOOK_KEY_MAX];
    size_t keylen = 0;
    char sig[NW_WEBHOOK_SIG_MAX];

    assert_int_equal(nw_webhook_secret_decode(SPEC_SECRET, key, &keylen), 0);
    /* another timestamp, id, body or key: another signature */
    nw_webhook_sign(key, keylen, SPEC_MSG_ID, SPEC_TS + 1, SPEC_PAYLOAD, strlen(SPEC_PAYLOAD), sig);
    assert_string_not_equal(sig, SPEC_SIG);
    nw_webhook_sign(key, keylen, "msg_other", SPEC_TS, SPEC_PAYLOAD, strlen(SPEC_PAYLOAD), sig);
    assert_string_not_equal(sig, SPEC_SIG);
    nw_webhook_sign(key, keylen, SPEC_MSG_ID, SPEC_TS, "{\"test\": 2432232315}",
                    strlen(SPEC_PAYLOAD), sig);
    assert_string_not_equal(sig, SPEC_SIG);
    key[0] ^= 1;
    nw_webhook_sign(key, keylen, SPEC_MSG_ID, SPEC_TS, SPEC_PAYLOAD, strlen(SPEC_PAYLOAD), sig);
    assert_string_not_equal(sig, SPEC_SIG);
    /* the body is bytes: a NUL inside is signed too */
    key[0] ^= 1;
    nw_webhook_sign(key, keylen, SPEC_MSG_ID, SPEC_TS, "{\"test\": 2432232314}\0x",
                    strlen(SPEC_PAYLOAD) + 2, sig);
    assert_string_not_equal(sig, SPEC_SIG);
}

static void test_secret_decode(void **state)
{
    unsigned char key[NW_WEBHOOK_KEY_MAX];
    size_t keylen = 0;
    /* 64 bytes: the longest secret */
    const char *longest = "whsec_"
                          "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1"
                          "Njc4OTo7PD0+Pw==";

    assert_int_equal(nw_webhook_secret_decode(longest, key, &keylen), 0);
    assert_int_equal(keylen, 64);
    for (int i = 0; i < 64; i++)
        assert_int_equal(key[i], i);
    /* padding is optional */
    assert_int_equal(nw_webhook_secret_decode("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
                                              "gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw",
                                              key, &keylen),
                     0);
    assert_int_equal(keylen, 64);
    /* refused: no prefix, bad characters, too short, too long, bad length */
    assert_int_equal(nw_webhook_secret_decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", key, &keylen),
                     -EINVAL);
    assert_int_equal(
        nw_webhook_secret_decode("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS!", key, &keylen), -EINVAL);
    assert_int_equal(nw_webhook_secret_decode("whsec_c2hvcnQ=", key, &keylen), -EINVAL);
    assert_int_equal(nw_webhook_secret_decode("whsec_", key, &keylen), -EINVAL);
    assert_int_equal(nw_webhook_secret_decode("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
                                              "gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0BB",
                                              key, &keylen),
                     -EINVAL);
    assert_int_equal(
        nw_webhook_secret_decode("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwA", key, &keylen), -EINVAL);
    assert_int_equal(
        nw_webhook_secret_decode("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw===", key, &keylen),
        -EINVAL);
}

static void test_base64(void **state)
{
    char out[16];

    assert_int_equal(nw_webhook_base64((const unsigned char *)"", 0, out), 0);
    assert_string_equal(out, "");
    nw_webhook_base64((const unsigned char *)"f", 1, out);
    assert_string_equal(out, "Zg==");
    nw_webhook_base64((const unsigned char *)"fo", 2, out);
    assert_string_equal(out, "Zm8=");
    nw_webhook_base64((const unsigned char *)"foo", 3, out);
    assert_string_equal(out, "Zm9v");
    nw_webhook_base64((const unsigned char *)"foob", 4, out);
    assert_string_equal(out, "Zm9vYg==");
    nw_webhook_base64((const unsigned char *)"\xfb\xff", 2, out);
    assert_string_equal(out, "+/8=");
}

/* The schedule: attempt n waits between half and all of
 * min(max, base * 2^(n-1)), and the random value places it. */
static void test_backoff_schedule(void **state)
{
    static const unsigned caps[] = {1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000};

    for (unsigned n = 1; n <= NW_ARRAY_LEN(caps); n++) {
        unsigned cap = caps[n - 1];
        assert_int_equal(nw_webhook_backoff_ms(n, 1000, 60000, 0), cap / 2);
        assert_int_equal(nw_webhook_backoff_ms(n, 1000, 60000, cap - cap / 2), cap);
        for (uint32_t r = 0; r < 100000; r += 997) {
            unsigned d = nw_webhook_backoff_ms(n, 1000, 60000, r * 2654435761u);
            assert_true(d >= cap / 2 && d <= cap);
        }
    }
    /* the cap holds for huge attempt numbers (no overflow) */
    assert_int_equal(nw_webhook_backoff_ms(1000000, 1000, 3600000, UINT32_MAX - 1) <= 3600000, 1);
    assert_true(nw_webhook_backoff_ms(1000000, 1000, 3600000, 0) >= 1800000);
    /* attempt 0 is treated as the first */
    assert_int_equal(nw_webhook_backoff_ms(0, 500, 60000, 0), 250);
    /* a base above the cap is capped */
    assert_int_equal(nw_webhook_backoff_ms(1, 5000, 1000, 0), 500);
    /* the delays of a 24 h horizon with the defaults: the sum of the
     * shortest delays reaches 24 h within a bounded number of attempts */
    {
        uint64_t total = 0;
        unsigned n = 0;
        while (total < 86400000ULL) {
            total += nw_webhook_backoff_ms(++n, 1000, 3600000, 0);
            assert_true(n < 64);
        }
        assert_true(n > 20);
    }
}

static void test_target_parse(void **state)
{
    nw_webhook_target_t t;
    nw_err_t err;

    assert_int_equal(nw_webhook_target_parse("https://partner.example/hooks/nw?x=1", &t, &err), 0);
    assert_true(t.https);
    assert_string_equal(t.host, "partner.example");
    assert_int_equal(t.port, 443);
    assert_string_equal(t.path, "/hooks/nw?x=1");
    assert_string_equal(t.host_header, "partner.example");

    assert_int_equal(nw_webhook_target_parse("http://127.0.0.1:8099", &t, &err), 0);
    assert_false(t.https);
    assert_string_equal(t.host, "127.0.0.1");
    assert_int_equal(t.port, 8099);
    assert_string_equal(t.path, "/");
    assert_string_equal(t.host_header, "127.0.0.1:8099");

    assert_int_equal(nw_webhook_target_parse("http://[::1]:9000/h", &t, &err), 0);
    assert_string_equal(t.host, "::1");
    assert_string_equal(t.host_header, "[::1]:9000");

    assert_int_equal(nw_webhook_target_parse("ftp://x/", &t, &err), -EINVAL);
    assert_string_equal(err.field, "url");
    assert_int_equal(nw_webhook_target_parse("http:///nohost", &t, &err), -EINVAL);
    assert_int_equal(nw_webhook_target_parse("http://u:p@host/", &t, &err), -EINVAL);
    assert_int_equal(nw_webhook_target_parse("http://host/#frag", &t, &err), -EINVAL);
    assert_int_equal(nw_webhook_target_parse("http://host:0/", &t, &err), -EINVAL);
    assert_int_equal(nw_webhook_target_parse("not a url", &t, &err), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_spec_vector), cmocka_unit_test(test_sign_depends_on_every_part),
        cmocka_unit_test(test_secret_decode),    cmocka_unit_test(test_base64),
        cmocka_unit_test(test_backoff_schedule), cmocka_unit_test(test_target_parse),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
