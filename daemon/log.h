/* Newswire — logging.
 *
 * Lines are logfmt on stderr (journald keeps them):
 *   ts=2026-11-27T16:00:00.123Z level=info module=ingest msg="item stored" uri=... id=...
 * A call names its module, a short constant message and optional key=value
 * context. Values that may hold spaces or quotes are passed through
 * nw_log_quote(). The level is checked before any argument is evaluated, so
 * debug lines cost nothing when debug is off. Safe from any thread: each line
 * is written with a single write(2). Article bodies are never logged above
 * debug. */
#ifndef NW_LOG_H
#define NW_LOG_H

#include "common.h"

typedef enum nw_log_level {
    NW_LOG_DEBUG = 0,
    NW_LOG_INFO = 1,
    NW_LOG_WARN = 2,
    NW_LOG_ERROR = 3,
} nw_log_level_t;

#define nw_log(level, module, msg, ...)                                                            \
    do {                                                                                           \
        if ((int)(level) >= nw_log_level_get())                                                    \
            nw_log_write((level), (module), (msg), "" __VA_ARGS__);                                \
    } while (0)

/* Writes one line unconditionally; use the nw_log() macro instead. kvfmt is a
 * printf format producing space-separated key=value pairs, or "". */
void nw_log_write(nw_log_level_t level, const char *module, const char *msg, const char *kvfmt, ...)
    NW_PRINTF(4, 5);

int nw_log_level_get(void);
void nw_log_level_set(nw_log_level_t level);

/* Parses "debug", "info", "warn"/"warning", "error". Returns 0 or -EINVAL. */
int nw_log_level_parse(const char *name, nw_log_level_t *out);
const char *nw_log_level_name(nw_log_level_t level);

/* Quotes s for a logfmt value: returns s itself when it needs no quoting,
 * otherwise a quoted, escaped and possibly truncated copy in buf. The result
 * is borrowed from s or buf. */
const char *nw_log_quote(const char *s, char *buf, size_t size);

/* Routes libwebsockets' own log lines through nw_log (module=lws). */
void nw_log_route_lws(void);

#endif
