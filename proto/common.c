/* Newswire — shared helpers: invariant failures and validation errors. */
#include "common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

_Noreturn void nw_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "level=fatal module=assert msg=\"assertion failed\" expr=\"%s\" at=%s:%d\n",
            expr, file, line);
    abort();
}

/* snprintf truncates at a byte boundary; if that cut a multi-byte UTF-8
 * sequence in two, drop the incomplete tail so that field and message stay
 * valid UTF-8 (they end up in JSON error replies, which must be UTF-8). */
static void err_trim_partial_utf8(char *s)
{
    size_t len = strlen(s);
    size_t i = len;
    size_t need;
    unsigned char lead;

    while (i > 0 && len - i < 4 && ((unsigned char)s[i - 1] & 0xc0) == 0x80)
        i--;
    if (i == 0)
        return;
    lead = (unsigned char)s[i - 1];
    if (lead < 0xc0)
        return; /* ASCII (or a stray continuation byte: not ours to fix) */
    need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
    if (len - (i - 1) < need)
        s[i - 1] = '\0';
}

void nw_err_set(nw_err_t *err, const char *field, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return;
    snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    err_trim_partial_utf8(err->field);
    err_trim_partial_utf8(err->message);
}

int64_t nw_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t nw_mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t nw_mono_ms(void)
{
    return nw_mono_us() / 1000;
}
