/* nwbench — one run: connect the subscribers (in worker processes), publish,
 * wait for the deliveries, and gather what everyone measured. */
#ifndef NWB_RUN_H
#define NWB_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "bench.h"
#include "hist.h"
#include "publisher.h"

typedef struct {
    unsigned workers;
    uint64_t connected, failed, retries;
    double connect_s;       /* first connect -> last subscription confirmed */
    int64_t connect_cpu_us; /* server CPU time meanwhile */
    int64_t rss_before_kib, rss_after_kib, pss_before_kib, pss_after_kib;
    uint64_t expected; /* deliveries the acknowledged publishes call for */
    uint64_t delivered, dup, misrouted, foreign, lost, unacked, other, errors, disconnects;
    int close_code;
    char first_error[256];
    bool drained;     /* every expected delivery arrived */
    double measure_s; /* first publish sent -> last delivery (fanout) or last answer (ingest) */
    int64_t server_cpu_us, aux_cpu_us;
    uint64_t gen_cpu_us;
    double phase_s;       /* wall time over which the CPU times were taken */
    int64_t other_cpu_us; /* machine busy time not ours (server, aux, generator) */
    nwb_hist_t lat;       /* fanout: publish sent -> frame received; ingest: publish round trip */
    nwb_pub_stats_t pub;
} nwb_result_t;

/* Runs cfg; fills r. Returns 0 when the run went through (its figures may
 * still show losses), -errno when it could not be carried out (r's
 * first_error says why). */
int nwb_run(const nwb_config_t *cfg, nwb_result_t *r);

#endif
