/* nwbench — one run (see run.h).
 *
 * The parent process publishes and keeps the clock; the subscribers live in
 * worker processes (each with its own epoll loop and at most ~15,000
 * connections, under the 20,000 open files a process may have here). They
 * share one anonymous mapping: each worker fills its slot, the parent adds
 * the slots up. */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"
#include "shm.h"

#define RUN_PER_WORKER 15000u
#define RUN_POLL_US    500
#define RUN_MAX0(v)    ((v) > 0 ? (v) : 0)

typedef struct {
    const nwb_config_t *cfg;
    nwb_result_t *r;
    nwb_shm_t *shm;
    size_t shm_bytes;
    unsigned nworkers;
    pid_t pid[NWB_MAX_WORKERS];
    int cmd[NWB_MAX_WORKERS]; /* write ends of the command pipes */
    nwb_procset_t server, aux;
} run_t;

static int run_fail(run_t *run, int err, const char *fmt, const char *detail)
{
    if (run->r->first_error[0] == '\0')
        snprintf(run->r->first_error, sizeof(run->r->first_error), fmt, detail);
    return err;
}

/* Starts the worker processes, each with its share of the subscribers. */
static int run_fork_workers(run_t *run)
{
    const nwb_config_t *cfg = run->cfg;
    uint64_t first = 0;
    unsigned n = cfg->workers;

    if (n == 0)
        n = (cfg->subscribers + RUN_PER_WORKER - 1) / RUN_PER_WORKER;
    if (n == 0)
        n = 1;
    if (n > NWB_MAX_WORKERS)
        return run_fail(run, -EINVAL, "%s", "too many workers");
    for (unsigned w = 0; w < n; w++) {
        uint64_t count = cfg->subscribers / n + (w < cfg->subscribers % n ? 1 : 0);
        int fds[2];
        pid_t pid;

        if (pipe2(fds, O_CLOEXEC) < 0)
            return run_fail(run, -errno, "pipe: %s", strerror(errno));
        pid = fork();
        if (pid < 0)
            return run_fail(run, -errno, "fork: %s", strerror(errno));
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            close(fds[1]);
            for (unsigned i = 0; i < run->nworkers; i++)
                close(run->cmd[i]);
            nwb_worker_main(cfg, run->shm, w, first, count, fds[0]);
        }
        close(fds[0]);
        run->pid[w] = pid;
        run->cmd[w] = fds[1];
        run->nworkers++;
        first += count;
    }
    run->r->workers = n;
    return 0;
}

static void run_command(run_t *run, char cmd)
{
    for (unsigned w = 0; w < run->nworkers; w++)
        if (write(run->cmd[w], &cmd, 1) != 1)
            run_fail(run, -EPIPE, "%s", "a worker is gone");
}

/* Waits until every worker acknowledged `want` commands, or set done. */
static int run_wait_workers(run_t *run, uint32_t want, bool done, unsigned timeout_ms)
{
    uint64_t deadline = nwb_now_ns() + (uint64_t)timeout_ms * 1000000u;

    for (;;) {
        unsigned ok = 0;

        for (unsigned w = 0; w < run->nworkers; w++) {
            nwb_slot_t *s = &run->shm->slot[w];

            if (done ? atomic_load(&s->done) != 0 : atomic_load(&s->acks) >= want)
                ok++;
        }
        if (ok == run->nworkers)
            return 0;
        if (nwb_now_ns() > deadline)
            return run_fail(run, -ETIMEDOUT, "%s", "workers did not answer");
        usleep(RUN_POLL_US);
    }
}

static void run_reap(run_t *run)
{
    for (unsigned w = 0; w < run->nworkers; w++) {
        close(run->cmd[w]);
        if (run->pid[w] > 0)
            waitpid(run->pid[w], NULL, 0);
    }
    run->nworkers = 0;
}

/* Waits until every subscriber is subscribed or given up. */
static void run_wait_connected(run_t *run, uint64_t t0)
{
    const nwb_config_t *cfg = run->cfg;
    nwb_result_t *r = run->r;
    uint64_t deadline = t0 + ((uint64_t)cfg->connect_timeout_ms + 5000u) * 1000000u, last = t0;

    for (;;) {
        uint64_t ready = 0, failed = 0, retries = 0;

        for (unsigned w = 0; w < run->nworkers; w++) {
            ready += atomic_load(&run->shm->slot[w].ready);
            failed += atomic_load(&run->shm->slot[w].failed);
            retries += atomic_load(&run->shm->slot[w].retries);
        }
        r->connected = ready;
        r->failed = failed;
        r->retries = retries;
        if (ready + failed >= cfg->subscribers || nwb_now_ns() > deadline)
            break;
        usleep(RUN_POLL_US);
    }
    for (unsigned w = 0; w < run->nworkers; w++) {
        uint64_t t = atomic_load(&run->shm->slot[w].connect_done_ns);

        if (t > last)
            last = t;
    }
    if (r->connected + r->failed < cfg->subscribers)
        r->failed = cfg->subscribers - r->connected;
    r->connect_s = (double)(last - t0) / 1e9;
}

/* Deliveries that the acknowledged publishes call for: each item reaches
 * the subscribers of its topic (subscriber i has topic i % topics). */
static uint64_t run_expected(const nwb_config_t *cfg, const uint8_t *acked)
{
    uint64_t total = 0;

    for (uint64_t seq = 0; seq < cfg->items; seq++) {
        uint64_t k = seq % cfg->topics;

        if (acked[seq])
            total += cfg->subscribers / cfg->topics + (k < cfg->subscribers % cfg->topics ? 1 : 0);
    }
    return total;
}

/* Waits for the expected deliveries; gives up after cfg->drain_ms without
 * any progress. */
static void run_drain(run_t *run)
{
    nwb_result_t *r = run->r;
    uint64_t prev = 0, last_progress = nwb_now_ns();

    for (;;) {
        uint64_t got = 0, now;

        for (unsigned w = 0; w < run->nworkers; w++)
            got += atomic_load_explicit(&run->shm->slot[w].delivered, memory_order_acquire);
        if (got >= r->expected) {
            r->drained = true;
            return;
        }
        now = nwb_now_ns();
        if (got != prev) {
            prev = got;
            last_progress = now;
        } else if (now - last_progress > (uint64_t)run->cfg->drain_ms * 1000000u) {
            return;
        }
        usleep(RUN_POLL_US);
    }
}

/* Adds up the workers' final figures. */
static void run_gather(run_t *run)
{
    nwb_result_t *r = run->r;
    uint64_t last_rx = 0;

    r->delivered = 0;
    for (unsigned w = 0; w < run->nworkers; w++) {
        nwb_slot_t *s = &run->shm->slot[w];

        r->delivered += atomic_load(&s->delivered);
        if (atomic_load(&s->last_rx_ns) > last_rx)
            last_rx = atomic_load(&s->last_rx_ns);
        r->dup += s->dup;
        r->misrouted += s->misrouted;
        r->foreign += s->foreign;
        r->lost += s->lost;
        r->unacked += s->unacked;
        r->other += s->other;
        r->errors += s->errors;
        r->disconnects += s->disconnects;
        r->gen_cpu_us += s->cpu_end_us - s->cpu_start_us;
        if (r->close_code == 0)
            r->close_code = s->close_code;
        if (r->first_error[0] == '\0' && s->first_error[0] != '\0')
            snprintf(r->first_error, sizeof(r->first_error), "%s", s->first_error);
        nwb_hist_merge(&r->lat, &s->hist);
    }
    if (last_rx > r->pub.first_send_ns)
        r->measure_s = (double)(last_rx - r->pub.first_send_ns) / 1e9;
}

/* Publishes (and, in fanout mode, waits for the deliveries) while the CPU
 * time of the server, the generator and the aux processes is measured. */
static int run_publish(run_t *run)
{
    const nwb_config_t *cfg = run->cfg;
    nwb_result_t *r = run->r;
    nwb_pub_t *pub = nwb_pub_new(cfg, run->shm->acked);
    int64_t srv0, aux0, srv1, aux1, busy0, busy1;
    uint64_t gen0, gen1, t0, t1;
    int rc;

    if (pub == NULL)
        return run_fail(run, -ENOMEM, "%s", "out of memory");
    rc = nwb_pub_connect(pub);
    if (rc < 0) {
        nwb_pub_free(pub);
        return run_fail(run, rc, "cannot connect to the publish endpoint: %s", strerror(-rc));
    }
    run_command(run, NWB_CMD_START);
    rc = run_wait_workers(run, 1, false, 5000);
    if (rc < 0) {
        nwb_pub_free(pub);
        return rc;
    }
    t0 = nwb_now_ns();
    busy0 = nwb_machine_busy_us();
    gen0 = nwb_self_cpu_us();
    srv0 = nwb_procset_cpu_us(&run->server);
    aux0 = nwb_procset_tree_cpu_us(&run->aux);

    rc = nwb_pub_run(pub);
    r->pub = *nwb_pub_stats(pub);
    if (cfg->mode == NWB_MODE_FANOUT) {
        r->expected = run_expected(cfg, run->shm->acked);
        run_drain(run);
    } else {
        r->drained = true;
    }

    srv1 = nwb_procset_cpu_us(&run->server);
    aux1 = nwb_procset_tree_cpu_us(&run->aux);
    gen1 = nwb_self_cpu_us();
    busy1 = nwb_machine_busy_us();
    t1 = nwb_now_ns();
    r->phase_s = (double)(t1 - t0) / 1e9;
    r->other_cpu_us = busy0 >= 0 && busy1 >= 0 ? busy1 - busy0 : 0;
    run_command(run, NWB_CMD_END);
    nwb_pub_free(pub);
    r->server_cpu_us = srv0 >= 0 && srv1 >= 0 ? srv1 - srv0 : -1;
    r->aux_cpu_us = aux0 >= 0 && aux1 >= 0 ? aux1 - aux0 : -1;
    r->gen_cpu_us = gen1 - gen0;
    if (rc < 0)
        run_fail(run, rc, "publishing failed: %s", r->pub.first_error);
    return run_wait_workers(run, 0, true, 60000);
}

int nwb_run(const nwb_config_t *cfg, nwb_result_t *r)
{
    run_t run = {.cfg = cfg, .r = r};
    uint64_t t0;
    int rc = 0;

    memset(r, 0, sizeof(*r));
    if (nwb_procset_init(&run.server, cfg->server, cfg->nserver, cfg->server_children) < 0 ||
        nwb_procset_init(&run.aux, cfg->aux, cfg->naux, false) < 0)
        return run_fail(&run, -ESRCH, "%s", "a server or aux pid does not exist");
    run.shm_bytes = sizeof(nwb_shm_t) + cfg->items;
    run.shm = mmap(NULL, run.shm_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (run.shm == MAP_FAILED)
        return run_fail(&run, -ENOMEM, "%s", "cannot map the shared memory");

    r->rss_before_kib = nwb_procset_rss_kib(&run.server);
    r->pss_before_kib = nwb_procset_pss_kib(&run.server);
    if (cfg->mode != NWB_MODE_INGEST) {
        int64_t cpu0 = nwb_procset_cpu_us(&run.server), cpu1;

        t0 = nwb_now_ns();
        rc = run_fork_workers(&run);
        if (rc < 0)
            goto out;
        run_wait_connected(&run, t0);
        cpu1 = nwb_procset_cpu_us(&run.server);
        r->connect_cpu_us = cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1;
        if (r->failed > 0) {
            /* The figures would be for fewer subscribers than asked. */
            run_command(&run, NWB_CMD_QUIT);
            run_wait_workers(&run, 0, true, 10000);
            run_gather(&run);
            rc = run_fail(&run, -ECONNREFUSED, "%s", "not every subscriber could subscribe");
            goto out;
        }
        usleep(cfg->settle_ms * 1000u);
        r->rss_after_kib = nwb_procset_rss_kib(&run.server);
        r->pss_after_kib = nwb_procset_pss_kib(&run.server);
    }
    if (cfg->mode == NWB_MODE_IDLE) {
        r->drained = true;
        run_command(&run, NWB_CMD_QUIT);
        rc = run_wait_workers(&run, 0, true, 10000);
        run_gather(&run);
        goto out;
    }
    rc = run_publish(&run);
    if (cfg->mode == NWB_MODE_FANOUT) {
        run_gather(&run);
    } else {
        r->lat = r->pub.rtt;
        if (r->pub.last_ack_ns > r->pub.first_send_ns)
            r->measure_s = (double)(r->pub.last_ack_ns - r->pub.first_send_ns) / 1e9;
    }
    /* What the machine did besides this run: other processes' share. */
    r->other_cpu_us -=
        (int64_t)r->gen_cpu_us + RUN_MAX0(r->server_cpu_us) + RUN_MAX0(r->aux_cpu_us);
out:
    run_reap(&run);
    munmap(run.shm, run.shm_bytes);
    return rc;
}
