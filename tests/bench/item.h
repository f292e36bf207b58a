/* nwbench — what is published and how a received message is recognised.
 *
 * Every published body carries the marker "NWB:<run>:<seq>:<send ns>:" —
 * in the ninjs headline for Newswire, at the start of the body for nchan —
 * so that a subscriber can tell which item a frame is, whether it belongs
 * to this run, and how long ago (CLOCK_MONOTONIC) it was sent. */
#ifndef NWB_ITEM_H
#define NWB_ITEM_H

#include <stddef.h>
#include <stdint.h>

#include "bench.h"

/* Writes the publish body of item seq, sent at send_ns, into out: a valid
 * ninjs 2.2 item for Newswire, plain text for nchan, padded to exactly
 * cfg->size bytes when that is more than the smallest body. Returns the
 * length, or 0 when cap is too small. */
size_t nwb_item_format(const nwb_config_t *cfg, uint64_t seq, uint64_t send_ns, char *out,
                       size_t cap);

/* Finds the marker in a received message. Returns 0 with *seq and *send_ns
 * set, -ENOENT when the message has no marker, -ESRCH when the marker is
 * another run's. */
int nwb_item_parse(const uint8_t *msg, size_t len, const char *run, uint64_t *seq,
                   uint64_t *send_ns);

#endif
