/* nwbench — memory shared by the parent and its subscriber workers (one
 * anonymous MAP_SHARED mapping made before fork).
 *
 * Each worker writes only its own slot; the parent only reads slots. The
 * counters the parent polls while the run goes on are atomics; the rest is
 * written before the worker sets done and read after the parent saw it. */
#ifndef NWB_SHM_H
#define NWB_SHM_H

#include <stdatomic.h>
#include <stdint.h>

#include "bench.h"
#include "hist.h"

typedef struct {
    _Atomic uint64_t ready;  /* connections open and subscribed */
    _Atomic uint64_t failed; /* connections given up */
    _Atomic uint64_t retries;
    _Atomic uint64_t connect_done_ns; /* when the worker's last connection settled */
    _Atomic uint64_t delivered;       /* distinct (subscriber, item) pairs received */
    _Atomic uint64_t last_rx_ns;      /* when the last of them arrived */
    _Atomic uint32_t acks;            /* commands carried out */
    _Atomic uint32_t done;
    /* Final figures, valid once done is set. */
    uint64_t cpu_start_us, cpu_end_us;
    uint64_t dup;         /* an item a subscriber had already received */
    uint64_t misrouted;   /* an item of a topic the subscriber did not ask for */
    uint64_t foreign;     /* an item of another run, or a sequence number never published */
    uint64_t lost;        /* an acknowledged item a subscriber of its topic never received */
    uint64_t unacked;     /* received although its publish got no 2xx */
    uint64_t other;       /* messages that are neither items nor expected control */
    uint64_t errors;      /* error messages, protocol errors */
    uint64_t disconnects; /* subscribed connections that closed during the run */
    int close_code;       /* first close code received, 0 if none */
    char first_error[160];
    nwb_hist_t hist; /* publish sent -> frame received, µs */
} nwb_slot_t;

typedef struct {
    nwb_slot_t slot[NWB_MAX_WORKERS];
    uint8_t acked[]; /* per item: 1 once its publish was answered 2xx */
} nwb_shm_t;

/* Commands the parent writes to a worker's pipe, one byte each. */
#define NWB_CMD_START 'S' /* note the CPU time used so far */
#define NWB_CMD_END   'E' /* note it again, count the losses, exit */
#define NWB_CMD_QUIT  'Q' /* exit */

/* Runs subscriber worker w: opens connections [first, first + count) of
 * the run, then serves them and the commands read from cmd_fd. Never
 * returns. */
_Noreturn void nwb_worker_main(const nwb_config_t *cfg, nwb_shm_t *shm, unsigned w, uint64_t first,
                               uint64_t count, int cmd_fd);

#endif
