/* nwbench — server resource use from /proc (see proc.h). */
#include "proc.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Parent pid, utime + stime and cutime + cstime (children waited for) of
 * pid, from /proc/<pid>/stat; -1 when unreadable. The comm field may hold
 * blanks and parentheses, so fields are counted from the last ')'. */
static int proc_stat_fields3(pid_t pid, pid_t *ppid, uint64_t *ticks, uint64_t *child_ticks)
{
    char path[64], buf[1024], *p;
    unsigned long long utime, stime, cutime, cstime;
    int ppid_i;
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    p = strrchr(buf, ')');
    if (p == NULL)
        return -1;
    /* fields 3.. : state ppid pgrp session tty tpgid flags minflt cminflt
     * majflt cmajflt utime stime cutime cstime */
    if (sscanf(p + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu", &ppid_i,
               &utime, &stime, &cutime, &cstime) != 5)
        return -1;
    if (ppid != NULL)
        *ppid = (pid_t)ppid_i;
    if (ticks != NULL)
        *ticks = utime + stime;
    if (child_ticks != NULL)
        *child_ticks = cutime + cstime;
    return 0;
}

static int proc_stat_fields(pid_t pid, pid_t *ppid, uint64_t *ticks)
{
    return proc_stat_fields3(pid, ppid, ticks, NULL);
}

static void procset_add(nwb_procset_t *set, pid_t pid)
{
    for (unsigned i = 0; i < set->n; i++)
        if (set->pid[i] == pid)
            return;
    if (set->n < NWB_PROC_MAX)
        set->pid[set->n++] = pid;
}

/* Calls fn for each live process whose parent is one of parents[0..n), with
 * its utime + stime in ticks. Returns 0, or -errno when /proc is unreadable. */
static int for_each_child(const pid_t *parents, unsigned n,
                          void (*fn)(pid_t pid, uint64_t ticks, void *arg), void *arg)
{
    DIR *d = opendir("/proc");
    struct dirent *e;

    if (d == NULL)
        return -errno;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        uint64_t ticks;
        pid_t ppid;

        if (*end != '\0' || pid <= 0 || proc_stat_fields((pid_t)pid, &ppid, &ticks) < 0)
            continue;
        for (unsigned i = 0; i < n; i++)
            if (ppid == parents[i])
                fn((pid_t)pid, ticks, arg);
    }
    closedir(d);
    return 0;
}

static void add_child(pid_t pid, uint64_t ticks, void *arg)
{
    (void)ticks;
    procset_add(arg, pid);
}

static void sum_child(pid_t pid, uint64_t ticks, void *arg)
{
    (void)pid;
    *(uint64_t *)arg += ticks;
}

int nwb_procset_init(nwb_procset_t *set, const pid_t *pids, unsigned n, bool children)
{
    set->n = 0;
    for (unsigned i = 0; i < n; i++) {
        if (proc_stat_fields(pids[i], NULL, NULL) < 0)
            return -ESRCH;
        procset_add(set, pids[i]);
    }
    return children ? for_each_child(pids, n, add_child, set) : 0;
}

/* Value in kB of the line starting with key in a /proc text file. */
static int64_t proc_kib(pid_t pid, const char *file, const char *key)
{
    char path[64], line[256];
    size_t klen = strlen(key);
    int64_t v = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, key, klen) == 0) {
            v = strtoll(line + klen, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}

static int64_t procset_sum_kib(const nwb_procset_t *set, const char *file, const char *key)
{
    int64_t total = 0;

    for (unsigned i = 0; i < set->n; i++) {
        int64_t v = proc_kib(set->pid[i], file, key);

        if (v < 0)
            return -1;
        total += v;
    }
    return total;
}

int64_t nwb_procset_rss_kib(const nwb_procset_t *set)
{
    return procset_sum_kib(set, "status", "VmRSS:");
}

int64_t nwb_procset_pss_kib(const nwb_procset_t *set)
{
    return procset_sum_kib(set, "smaps_rollup", "Pss:");
}

int64_t nwb_procset_cpu_us(const nwb_procset_t *set)
{
    long hz = sysconf(_SC_CLK_TCK);
    uint64_t ticks, total = 0;

    for (unsigned i = 0; i < set->n; i++) {
        if (proc_stat_fields(set->pid[i], NULL, &ticks) < 0)
            return -1;
        total += ticks;
    }
    return (int64_t)(total * 1000000u / (uint64_t)(hz > 0 ? hz : 100));
}

int64_t nwb_procset_tree_cpu_us(const nwb_procset_t *set)
{
    long hz = sysconf(_SC_CLK_TCK);
    uint64_t ticks, child_ticks, total = 0;

    for (unsigned i = 0; i < set->n; i++) {
        if (proc_stat_fields3(set->pid[i], NULL, &ticks, &child_ticks) < 0)
            return -1;
        total += ticks + child_ticks;
    }
    if (for_each_child(set->pid, set->n, sum_child, &total) < 0)
        return -1;
    return (int64_t)(total * 1000000u / (uint64_t)(hz > 0 ? hz : 100));
}

int64_t nwb_machine_busy_us(void)
{
    unsigned long long user, nice, sys, idle, iowait, irq, softirq, steal;
    long hz = sysconf(_SC_CLK_TCK);
    FILE *f = fopen("/proc/stat", "r");
    int n;

    if (f == NULL)
        return -1;
    n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &user, &nice, &sys, &idle, &iowait,
               &irq, &softirq, &steal);
    fclose(f);
    if (n != 8)
        return -1;
    /* With tick-based accounting, a tick that lands in a softirq counts in
     * the interrupted process's stime and here under softirq: keep both. */
    return (int64_t)((user + nice + sys + irq + softirq + steal) * 1000000u /
                     (uint64_t)(hz > 0 ? hz : 100));
}

uint64_t nwb_self_cpu_us(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
           (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}
