/* Newswire — definitions shared by every module of the daemon and clients. */
#ifndef NW_COMMON_H
#define NW_COMMON_H

#include <stddef.h>
#include <stdint.h>

#define NW_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define NW_MIN(a, b)    ((a) < (b) ? (a) : (b))
#define NW_MAX(a, b)    ((a) > (b) ? (a) : (b))

#if defined(__GNUC__)
#define NW_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define NW_PRINTF(fmt, args)
#endif

/* NW_ASSERT guards invariants only (never input): always on, aborts with the
 * expression and place on failure. */
#define NW_ASSERT(cond)                                                                            \
    do {                                                                                           \
        if (!(cond))                                                                               \
            nw_assert_fail(#cond, __FILE__, __LINE__);                                             \
    } while (0)

_Noreturn void nw_assert_fail(const char *expr, const char *file, int line);

/* A validation error: the field at fault (a JSON path such as
 * "headlines[0].value", or "" when no single field is to blame) and a short
 * human-readable message. Functions that fill one return -EINVAL. */
typedef struct nw_err {
    char field[128];
    char message[192];
} nw_err_t;

/* Unix time in milliseconds (CLOCK_REALTIME). */
int64_t nw_now_ms(void);

/* Time for intervals and timeouts (CLOCK_MONOTONIC), in microseconds and in
 * milliseconds. */
int64_t nw_mono_us(void);
int64_t nw_mono_ms(void);

/* Fills err (which may be NULL) with field and a printf-style message. */
void nw_err_set(nw_err_t *err, const char *field, const char *fmt, ...) NW_PRINTF(3, 4);

#endif
