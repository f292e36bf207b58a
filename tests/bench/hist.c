/* nwbench — latency histogram (see hist.h). */
#include "hist.h"

#include <string.h>

static unsigned hist_index(uint64_t v)
{
    unsigned msb, shift;

    if (v < 128)
        return (unsigned)v;
    msb = 63u - (unsigned)__builtin_clzll(v);
    shift = msb - 6;
    return 128 + (msb - 7) * 64 + (unsigned)((v >> shift) - 64);
}

/* Lowest value of bucket i and its width. */
static void hist_bucket(unsigned i, uint64_t *low, uint64_t *width)
{
    unsigned msb, shift;

    if (i < 128) {
        *low = i;
        *width = 1;
        return;
    }
    msb = (i - 128) / 64 + 7;
    shift = msb - 6;
    *low = ((uint64_t)((i - 128) % 64) + 64) << shift;
    *width = (uint64_t)1 << shift;
}

void nwb_hist_add(nwb_hist_t *h, uint64_t us)
{
    h->count[hist_index(us)]++;
    h->n++;
    h->sum += us;
    if (us > h->max)
        h->max = us;
}

void nwb_hist_merge(nwb_hist_t *dst, const nwb_hist_t *src)
{
    for (unsigned i = 0; i < NWB_HIST_BUCKETS; i++)
        dst->count[i] += src->count[i];
    dst->n += src->n;
    dst->sum += src->sum;
    if (src->max > dst->max)
        dst->max = src->max;
}

uint64_t nwb_hist_percentile(const nwb_hist_t *h, double p)
{
    uint64_t rank, seen = 0, low, width, v;

    if (h->n == 0)
        return 0;
    rank = (uint64_t)(p * (double)h->n + 0.5);
    if (rank < 1)
        rank = 1;
    if (rank > h->n)
        rank = h->n;
    for (unsigned i = 0; i < NWB_HIST_BUCKETS; i++) {
        seen += h->count[i];
        if (seen >= rank) {
            hist_bucket(i, &low, &width);
            v = low + width / 2;
            return v > h->max ? h->max : v;
        }
    }
    return h->max;
}
