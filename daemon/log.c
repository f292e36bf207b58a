/* Newswire — logfmt logging on stderr. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>

/* The process-wide threshold: set at start and on reload, read by every
 * thread. */
static atomic_int log_threshold = NW_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int nw_log_level_get(void)
{
    return atomic_load_explicit(&log_threshold, memory_order_relaxed);
}

static atomic_bool lws_routed;
static void lws_log_cb(int lws_level, const char *line);

/* lws formats a line before our callback can drop it: ask it only for the
 * levels we keep. Its notices (one per socket event with the libev loop)
 * are wanted only at debug. */
static void lws_levels_apply(void)
{
    int levels = LLL_ERR | LLL_WARN | LLL_USER;

    if (atomic_load(&log_threshold) <= (int)NW_LOG_DEBUG)
        levels |= LLL_NOTICE;
    lws_set_log_level(levels, lws_log_cb);
}

void nw_log_level_set(nw_log_level_t level)
{
    atomic_store(&log_threshold, (int)level);
    if (atomic_load(&lws_routed))
        lws_levels_apply();
}

const char *nw_log_level_name(nw_log_level_t level)
{
    if ((unsigned)level >= NW_ARRAY_LEN(level_names))
        return "?";
    return level_names[level];
}

int nw_log_level_parse(const char *name, nw_log_level_t *out)
{
    for (size_t i = 0; i < NW_ARRAY_LEN(level_names); i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            *out = (nw_log_level_t)i;
            return 0;
        }
    }
    if (strcasecmp(name, "warning") == 0) {
        *out = NW_LOG_WARN;
        return 0;
    }
    return -EINVAL;
}

const char *nw_log_quote(const char *s, char *buf, size_t size)
{
    size_t o = 0;
    int plain = s[0] != '\0';

    for (const char *p = s; *p; p++) {
        if (*p == ' ' || *p == '"' || *p == '=' || *p == '\\' || (unsigned char)*p < 0x20) {
            plain = 0;
            break;
        }
    }
    if (plain || size < 3)
        return s;
    buf[o++] = '"';
    for (const char *p = s; *p && o + 4 < size; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)c;
        } else if (c == '\n') {
            buf[o++] = '\\';
            buf[o++] = 'n';
        } else if (c < 0x20) {
            buf[o++] = '?';
        } else {
            buf[o++] = (char)c;
        }
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

void nw_log_write(nw_log_level_t level, const char *module, const char *msg, const char *kvfmt, ...)
{
    char line[2048];
    char qbuf[512];
    struct timespec ts;
    struct tm tm;
    size_t n;
    int w;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    w = snprintf(line, sizeof(line),
                 "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s module=%s msg=%s",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 ts.tv_nsec / 1000000, nw_log_level_name(level), module,
                 nw_log_quote(msg, qbuf, sizeof(qbuf)));
    n = w < 0 ? 0 : NW_MIN((size_t)w, sizeof(line) - 2);
    if (kvfmt[0] != '\0' && n < sizeof(line) - 2) {
        va_list ap;
        line[n++] = ' ';
        va_start(ap, kvfmt);
        w = vsnprintf(line + n, sizeof(line) - n - 1, kvfmt, ap);
        va_end(ap);
        if (w > 0)
            n += NW_MIN((size_t)w, sizeof(line) - n - 2);
    }
    line[n++] = '\n';
    /* One write per line keeps lines from different threads whole. */
    while (write(STDERR_FILENO, line, n) < 0 && errno == EINTR)
        ;
}

static void lws_log_cb(int lws_level, const char *line)
{
    char buf[512];
    char qbuf[600];
    size_t len = strlen(line);
    nw_log_level_t level = NW_LOG_DEBUG;

    if (lws_level & LLL_ERR)
        level = NW_LOG_ERROR;
    else if (lws_level & LLL_WARN)
        level = NW_LOG_WARN;
    else if (lws_level & LLL_USER)
        level = NW_LOG_INFO;
    /* LLL_NOTICE is debug: lws' libev loop notes every socket event */
    if ((int)level < nw_log_level_get())
        return;
    len = NW_MIN(len, sizeof(buf) - 1);
    memcpy(buf, line, len);
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        len--;
    buf[len] = '\0';
    nw_log_write(level, "lws", "libwebsockets", "line=%s", nw_log_quote(buf, qbuf, sizeof(qbuf)));
}

void nw_log_route_lws(void)
{
    atomic_store(&lws_routed, true);
    lws_levels_apply();
}
