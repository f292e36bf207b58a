/* nwbench — what the server processes use, read from /proc: resident
 * memory and CPU time, summed over a set of processes. */
#ifndef NWB_PROC_H
#define NWB_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define NWB_PROC_MAX 64

typedef struct {
    pid_t pid[NWB_PROC_MAX];
    unsigned n;
} nwb_procset_t;

/* Fills set with pids and, when children is true, their child processes
 * (nginx's workers under its master). Returns 0, or -ESRCH when a pid does
 * not exist. */
int nwb_procset_init(nwb_procset_t *set, const pid_t *pids, unsigned n, bool children);

/* Sum of VmRSS over the set, in KiB; -1 when a process is gone. */
int64_t nwb_procset_rss_kib(const nwb_procset_t *set);

/* Sum of Pss (smaps_rollup) over the set, in KiB; -1 when unavailable. */
int64_t nwb_procset_pss_kib(const nwb_procset_t *set);

/* Sum of utime + stime over the set, in microseconds (clock-tick
 * resolution); -1 when a process is gone. */
int64_t nwb_procset_cpu_us(const nwb_procset_t *set);

/* The same, with the CPU time of the set's child processes: those still
 * running and those exited and waited for (cutime, cstime). Redis forks for
 * an AOF rewrite; that is Redis' work, not another process's. */
int64_t nwb_procset_tree_cpu_us(const nwb_procset_t *set);

/* CPU time the whole machine spent busy (/proc/stat: all but idle and
 * iowait, every CPU), in microseconds; -1 when unreadable. */
int64_t nwb_machine_busy_us(void);

/* This process's user + system CPU time (getrusage), in microseconds. */
uint64_t nwb_self_cpu_us(void);

#endif
