/* nwbench — the publisher: cfg->items publishes over cfg->pub_conns
 * keep-alive HTTP/1.1 connections, one request in flight on each, as fast
 * as the server answers or paced at cfg->rate items per second.
 *
 * The send time embedded in each item is read just before its request is
 * written. acked[seq] is set to 1 when the publish of seq is answered 2xx. */
#ifndef NWB_PUBLISHER_H
#define NWB_PUBLISHER_H

#include <stdint.h>

#include "bench.h"
#include "hist.h"

typedef struct {
    uint64_t sent;          /* requests written */
    uint64_t ok;            /* answered 2xx */
    uint64_t errors;        /* answered otherwise, or lost with their connection */
    uint64_t reconnects;    /* connections opened again after a close */
    uint64_t late;          /* paced items sent more than 1 ms after their time */
    uint64_t first_send_ns; /* first request written */
    uint64_t last_send_ns;
    uint64_t last_ack_ns; /* last answer read */
    int first_status;     /* status of the first failed publish (0: a transport error) */
    char first_error[200];
    nwb_hist_t rtt; /* request written -> answer read, µs */
} nwb_pub_stats_t;

typedef struct nwb_pub nwb_pub_t;

/* A publisher for cfg (borrowed until nwb_pub_free), marking answered items
 * in acked (cfg->items bytes, borrowed). NULL when out of memory. */
nwb_pub_t *nwb_pub_new(const nwb_config_t *cfg, uint8_t *acked);

/* Opens the connections (blocking connects to the API endpoint). 0 or
 * -errno. */
int nwb_pub_connect(nwb_pub_t *p);

/* Publishes every item and returns when each has its answer or failed.
 * 0, or -errno when no connection could be kept open. */
int nwb_pub_run(nwb_pub_t *p);

/* Borrowed until nwb_pub_free. */
const nwb_pub_stats_t *nwb_pub_stats(const nwb_pub_t *p);

/* Closes the connections; accepts NULL. */
void nwb_pub_free(nwb_pub_t *p);

#endif
