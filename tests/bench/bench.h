/* nwbench — load generator for Newswire and nchan: configuration and the
 * helpers every module of the generator shares.
 *
 * Functions of the generator are named nwb_<module>_<verb>, types
 * nwb_<thing>_t, so that they never clash with the daemon's nw_ names. */
#ifndef NWB_BENCH_H
#define NWB_BENCH_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define NWB_MAX_ENDPOINTS 8
#define NWB_MAX_PIDS      16
#define NWB_MAX_WORKERS   16
#define NWB_RUN_LEN       8 /* hex digits of the run id */

typedef enum { NWB_MODE_FANOUT, NWB_MODE_IDLE, NWB_MODE_INGEST } nwb_mode_t;
typedef enum { NWB_TARGET_NEWSWIRE, NWB_TARGET_NCHAN } nwb_target_t;

/* One TCP endpoint on this machine ("127.0.0.1:8080"). */
typedef struct {
    struct sockaddr_in addr;
    char text[80];
} nwb_endpoint_t;

/* Everything a run needs; filled by the command line, then read-only (the
 * workers inherit a copy through fork). */
typedef struct {
    nwb_mode_t mode;
    nwb_target_t target;
    nwb_endpoint_t sub[NWB_MAX_ENDPOINTS]; /* WebSocket endpoints, round-robin */
    unsigned nsub;
    nwb_endpoint_t api; /* where items are published */
    unsigned subscribers;
    unsigned topics;
    unsigned items;
    unsigned size;      /* publish body bytes (0: the smallest valid body) */
    double rate;        /* items per second, 0: as fast as possible */
    unsigned pub_conns; /* parallel keep-alive publishing connections */
    unsigned workers;   /* subscriber processes (0: one per 15,000) */
    unsigned src_ips;   /* source addresses 127.0.0.2.. (0: auto) */
    unsigned window;    /* connection attempts in flight per worker */
    unsigned settle_ms; /* pause after the last subscription */
    unsigned drain_ms;  /* wait this long without progress before counting losses */
    unsigned connect_timeout_ms;
    pid_t server[NWB_MAX_PIDS]; /* server processes measured (RSS, CPU) */
    unsigned nserver;
    bool server_children;    /* measure the children of server[] too (nginx workers) */
    pid_t aux[NWB_MAX_PIDS]; /* CPU reported apart (redis-server) */
    unsigned naux;
    const char *label; /* copied into the RESULT line */
    char run[NWB_RUN_LEN + 1];
} nwb_config_t;

/* CLOCK_MONOTONIC in nanoseconds: the same clock in every process of this
 * machine, so a worker can subtract the publisher's send time. */
static inline uint64_t nwb_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Topic (Newswire) or channel (nchan) name of topic number k of this run,
 * into out; returns its length. */
int nwb_topic_name(const nwb_config_t *cfg, unsigned k, char *out, size_t cap);

/* Puts fd in non-blocking mode; 0 or -errno. */
int nwb_set_nonblock(int fd);

#endif
