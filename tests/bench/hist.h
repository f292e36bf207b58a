/* nwbench — latency histogram: log-linear buckets of microseconds (exact
 * below 128 µs, then 64 buckets per power of two, ~1.6% wide), so that
 * workers can fill it in shared memory and the parent can add them up. */
#ifndef NWB_HIST_H
#define NWB_HIST_H

#include <stdint.h>

#define NWB_HIST_BUCKETS (128 + 57 * 64)

typedef struct {
    uint64_t count[NWB_HIST_BUCKETS];
    uint64_t n;
    uint64_t max; /* exact, µs */
    uint64_t sum; /* µs */
} nwb_hist_t;

/* Records one value (µs). */
void nwb_hist_add(nwb_hist_t *h, uint64_t us);

/* Adds src's counts to dst. */
void nwb_hist_merge(nwb_hist_t *dst, const nwb_hist_t *src);

/* The value under which a fraction p (0..1) of the values lie: the middle
 * of the bucket holding that rank, never above the exact maximum. 0 for an
 * empty histogram. */
uint64_t nwb_hist_percentile(const nwb_hist_t *h, double p);

#endif
