/* Newswire — string formats of the article model: UTF-8, RFC 3339
 * date-times, absolute URIs, language tags and versions.
 *
 * These are the "format" keywords of the ninjs schema made concrete, and
 * stricter: a date-time must be a real calendar instant, a URI must be
 * absolute and plain ASCII (an IRI must be percent-encoded). */
#include "article.h"
#include "article_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Checks the encoding per Unicode Table 3-7 (well-formed UTF-8 byte
 * sequences): the second byte's range depends on the lead byte, which is
 * what rules out overlongs (C0, C1, E0 80..9F, F0 80..8F), surrogates
 * (ED A0..BF) and code points above U+10FFFF (F4 90.., F5..FF). */
bool nw_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < len) {
        unsigned char c = p[i];
        unsigned char lo = 0x80, hi = 0xbf;
        size_t n;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            n = 1;
        else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            if (c == 0xe0)
                lo = 0xa0;
            else if (c == 0xed)
                hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            if (c == 0xf0)
                lo = 0x90;
            else if (c == 0xf4)
                hi = 0x8f;
        } else
            return false;
        if (len - i - 1 < n)
            return false;
        if (p[i + 1] < lo || p[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= n; k++)
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
        i += n + 1;
    }
    return true;
}

/* Reads exactly n decimal digits at s into *v. */
static bool rfc3339_digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        *v = *v * 10 + (s[i] - '0');
    }
    return true;
}

static bool rfc3339_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (Howard Hinnant's days_from_civil). */
static int64_t rfc3339_days(int y, int m, int d)
{
    int64_t yy = y - (m <= 2);
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    int64_t yoe = yy - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}

/* RFC 3339 section 5.6 date-time: YYYY-MM-DD "T" HH:MM:SS [.frac]
 * ("Z" / ("+"|"-") HH:MM). "T" and "Z" may be lower case (RFC 3339 allows
 * it). The date must exist (leap years included); the hour is 00..23, the
 * minute 00..59 and the second 00..59 (a leap second ":60" is refused: it
 * cannot be represented in Unix time). The fraction has 1..9 digits and is
 * truncated to milliseconds. The string must be NUL-terminated right after
 * the zone. */
int nw_rfc3339_parse(const char *s, int64_t *ms)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, sec, oh = 0, om = 0, frac_ms = 0;
    int64_t t;
    size_t i = 19;

    if (s == NULL || strnlen(s, 20) < 20)
        return -EINVAL;
    if (!rfc3339_digits(s, 4, &y) || s[4] != '-' || !rfc3339_digits(s + 5, 2, &mo) || s[7] != '-' ||
        !rfc3339_digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
        !rfc3339_digits(s + 11, 2, &h) || s[13] != ':' || !rfc3339_digits(s + 14, 2, &mi) ||
        s[16] != ':' || !rfc3339_digits(s + 17, 2, &sec))
        return -EINVAL;
    if (mo < 1 || mo > 12 || d < 1)
        return -EINVAL;
    if (d > mdays[mo - 1] + (mo == 2 && rfc3339_leap(y)))
        return -EINVAL;
    if (h > 23 || mi > 59 || sec > 59)
        return -EINVAL;
    if (s[i] == '.') {
        size_t start = ++i;
        int scale = 100;

        while (s[i] >= '0' && s[i] <= '9') {
            if (i - start < 3) {
                frac_ms += (s[i] - '0') * scale;
                scale /= 10;
            }
            i++;
        }
        if (i == start || i - start > 9)
            return -EINVAL;
    }
    if (s[i] == 'Z' || s[i] == 'z') {
        i++;
    } else if (s[i] == '+' || s[i] == '-') {
        int sign = s[i] == '-' ? -1 : 1;

        if (strnlen(s + i, 6) < 6 || !rfc3339_digits(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
            !rfc3339_digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
            return -EINVAL;
        oh *= sign;
        om *= sign;
        i += 6;
    } else {
        return -EINVAL;
    }
    if (s[i] != '\0')
        return -EINVAL;
    t = rfc3339_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
    t -= (int64_t)oh * 3600 + (int64_t)om * 60;
    if (ms)
        *ms = t * 1000 + frac_ms;
    return 0;
}

int nw_article_format_datetime(const char *s, size_t len, char *why, size_t whylen)
{
    if (strlen(s) != len || nw_rfc3339_parse(s, NULL) < 0) {
        snprintf(why, whylen,
                 "must be an RFC 3339 date-time with a zone, e.g. 2026-11-27T09:12:00Z");
        return -EINVAL;
    }
    return 0;
}

static bool fmt_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool fmt_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool fmt_hex(char c)
{
    return fmt_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int nw_article_format_uri(const char *s, size_t len, char *why, size_t whylen)
{
    size_t i = 0;

    if (len == 0 || !fmt_alpha(s[0])) {
        snprintf(why, whylen, "must be an absolute URI: missing scheme");
        return -EINVAL;
    }
    while (i < len &&
           (fmt_alpha(s[i]) || fmt_digit(s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.'))
        i++;
    if (i == len || s[i] != ':') {
        snprintf(why, whylen, "must be an absolute URI: missing scheme");
        return -EINVAL;
    }
    if (++i == len) {
        snprintf(why, whylen, "must be an absolute URI: nothing after the scheme");
        return -EINVAL;
    }
    for (; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c <= 0x20 || c >= 0x7f || strchr("\"<>\\^`{|}", c) != NULL) {
            snprintf(why, whylen, "must be an absolute URI: invalid character at byte %zu%s", i,
                     c >= 0x80 ? " (percent-encode non-ASCII)" : "");
            return -EINVAL;
        }
        if (c == '%' && (len - i < 3 || !fmt_hex(s[i + 1]) || !fmt_hex(s[i + 2]))) {
            snprintf(why, whylen, "must be an absolute URI: bad percent-encoding at byte %zu", i);
            return -EINVAL;
        }
    }
    return 0;
}

int nw_article_format_language(const char *s, size_t len, char *why, size_t whylen)
{
    size_t i = 0, n;

    while (i < len && fmt_alpha(s[i]))
        i++;
    if (i < 2 || i > 3)
        goto bad;
    while (i < len) {
        if (s[i++] != '-')
            goto bad;
        for (n = 0; i < len && (fmt_alpha(s[i]) || fmt_digit(s[i])); i++)
            n++;
        if (n < 1 || n > 8)
            goto bad;
    }
    return 0;

bad:
    snprintf(why, whylen, "must be a BCP 47 language tag, e.g. fr or en-GB");
    return -EINVAL;
}

int nw_article_format_version(const char *s, size_t len, char *why, size_t whylen)
{
    if (len == 0 || len > NW_VERSION_MAX_DIGITS || s[0] < '1' || s[0] > '9')
        goto bad;
    for (size_t i = 1; i < len; i++)
        if (!fmt_digit(s[i]))
            goto bad;
    return 0;

bad:
    snprintf(why, whylen, "must be a decimal string 1..999999999 without leading zeros");
    return -EINVAL;
}

void nw_rfc3339_format(int64_t ms, char buf[NW_RFC3339_MAX])
{
    /* Floor division: before 1970, C's truncating '/' and '%' would give
     * the second after the instant and a negative fraction. */
    int64_t sec = ms / 1000, frac = ms % 1000;
    time_t t;
    struct tm tm;

    if (frac < 0) {
        frac += 1000;
        sec--;
    }
    t = (time_t)sec;
    gmtime_r(&t, &tm);
    snprintf(buf, NW_RFC3339_MAX, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
}
