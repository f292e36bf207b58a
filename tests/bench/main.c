/* nwbench — load generator for Newswire (and nchan, the peer it is measured
 * against): command line, and the report of a run.
 *
 * Prints human-readable lines, then one "RESULT key=value ..." line for
 * scripts (tests/bench/compare.sh). Exits 0 when the run went through with
 * nothing lost, duplicated or misrouted, 1 when it did not, 2 on a usage
 * error. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run.h"

static const char usage[] =
    "usage: nwbench [options]\n"
    "  --target newswire|nchan   server type (default newswire)\n"
    "  --mode fanout|idle|ingest fanout: subscribers receive items; idle: connections only\n"
    "                            (memory per connection); ingest: publishing only (items/s)\n"
    "  --ws ADDR:PORT[,...]      WebSocket endpoints, used in turn (default 127.0.0.1:8080)\n"
    "  --api ADDR:PORT           publish endpoint (default 127.0.0.1:8081 for newswire,\n"
    "                            the first --ws endpoint for nchan)\n"
    "  -n, --subscribers N       WebSocket connections (default 1000)\n"
    "  -t, --topics T            topics; subscriber i takes topic i % T, item s goes to\n"
    "                            topic s % T (default 1)\n"
    "  -m, --items M             items published (default 100)\n"
    "  -r, --rate R              items per second, 0 = as fast as possible (default 0)\n"
    "  -s, --size BYTES          publish body size, 0 = the smallest (default 0)\n"
    "  -p, --pub-conns P         parallel keep-alive publishing connections (default 4)\n"
    "  -w, --workers W           subscriber processes (default: one per 15,000)\n"
    "  --src-ips K               bind subscribers to 127.0.0.2..127.0.0.(K+1) (default: none\n"
    "                            up to 20,000 subscribers, else one address per 10,000)\n"
    "  --window W                connection attempts in flight per worker (default 256)\n"
    "  --settle-ms MS            pause after the last subscription (default 1000)\n"
    "  --drain-ms MS             wait for missing deliveries this long (default 10000)\n"
    "  --connect-timeout-ms MS   give up connecting after this (default 60000)\n"
    "  --server-pid PID          server process to measure (repeatable)\n"
    "  --server-children         measure the children of the server pids too (nginx)\n"
    "  --aux-pid PID             process whose CPU (with its children's) is reported apart\n"
    "                            (redis-server and its AOF rewrite)\n"
    "  --label WORD              copied into the RESULT line (no blanks, no '=')\n";

static int parse_endpoint(const char *text, nwb_endpoint_t *ep)
{
    char host[64];
    const char *colon = strrchr(text, ':');
    char *end;
    long port;

    if (colon == NULL || (size_t)(colon - text) >= sizeof(host))
        return -EINVAL;
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port <= 0 || port > 65535)
        return -EINVAL;
    memset(ep, 0, sizeof(*ep));
    ep->addr.sin_family = AF_INET;
    ep->addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &ep->addr.sin_addr) != 1)
        return -EINVAL;
    snprintf(ep->text, sizeof(ep->text), "%s:%ld", host, port);
    return 0;
}

static int parse_endpoints(char *list, nwb_config_t *cfg)
{
    char *save = NULL;

    cfg->nsub = 0;
    for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (cfg->nsub == NWB_MAX_ENDPOINTS || parse_endpoint(tok, &cfg->sub[cfg->nsub]) < 0)
            return -EINVAL;
        cfg->nsub++;
    }
    return cfg->nsub > 0 ? 0 : -EINVAL;
}

static int parse_uint(const char *text, unsigned *out)
{
    char *end;
    unsigned long v = strtoul(text, &end, 10);

    if (*end != '\0' || end == text || v > 100000000ul)
        return -EINVAL;
    *out = (unsigned)v;
    return 0;
}

static int parse_pid(const char *text, pid_t *list, unsigned *n)
{
    unsigned v;

    if (*n == NWB_MAX_PIDS || parse_uint(text, &v) < 0 || v == 0)
        return -EINVAL;
    list[(*n)++] = (pid_t)v;
    return 0;
}

enum {
    OPT_TARGET = 256,
    OPT_MODE,
    OPT_WS,
    OPT_API,
    OPT_SRC_IPS,
    OPT_WINDOW,
    OPT_SETTLE,
    OPT_DRAIN,
    OPT_CONNECT_TIMEOUT,
    OPT_SERVER_PID,
    OPT_SERVER_CHILDREN,
    OPT_AUX_PID,
    OPT_LABEL,
};

static const struct option options[] = {
    {"target", required_argument, NULL, OPT_TARGET},
    {"mode", required_argument, NULL, OPT_MODE},
    {"ws", required_argument, NULL, OPT_WS},
    {"api", required_argument, NULL, OPT_API},
    {"subscribers", required_argument, NULL, 'n'},
    {"topics", required_argument, NULL, 't'},
    {"items", required_argument, NULL, 'm'},
    {"rate", required_argument, NULL, 'r'},
    {"size", required_argument, NULL, 's'},
    {"pub-conns", required_argument, NULL, 'p'},
    {"workers", required_argument, NULL, 'w'},
    {"src-ips", required_argument, NULL, OPT_SRC_IPS},
    {"window", required_argument, NULL, OPT_WINDOW},
    {"settle-ms", required_argument, NULL, OPT_SETTLE},
    {"drain-ms", required_argument, NULL, OPT_DRAIN},
    {"connect-timeout-ms", required_argument, NULL, OPT_CONNECT_TIMEOUT},
    {"server-pid", required_argument, NULL, OPT_SERVER_PID},
    {"server-children", no_argument, NULL, OPT_SERVER_CHILDREN},
    {"aux-pid", required_argument, NULL, OPT_AUX_PID},
    {"label", required_argument, NULL, OPT_LABEL},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Fills cfg from the command line; returns 0 or -EINVAL. */
static int parse_args(int argc, char **argv, nwb_config_t *cfg)
{
    bool api_set = false, src_set = false;
    char *end;
    int opt, rc = 0;

    memset(cfg, 0, sizeof(*cfg));
    cfg->subscribers = 1000;
    cfg->topics = 1;
    cfg->items = 100;
    cfg->pub_conns = 4;
    cfg->window = 256;
    cfg->settle_ms = 1000;
    cfg->drain_ms = 10000;
    cfg->connect_timeout_ms = 60000;
    cfg->label = "";
    parse_endpoint("127.0.0.1:8080", &cfg->sub[0]);
    cfg->nsub = 1;
    while (rc == 0 && (opt = getopt_long(argc, argv, "n:t:m:r:s:p:w:h", options, NULL)) != -1) {
        switch (opt) {
        case OPT_TARGET:
            if (strcmp(optarg, "newswire") == 0)
                cfg->target = NWB_TARGET_NEWSWIRE;
            else if (strcmp(optarg, "nchan") == 0)
                cfg->target = NWB_TARGET_NCHAN;
            else
                rc = -EINVAL;
            break;
        case OPT_MODE:
            if (strcmp(optarg, "fanout") == 0)
                cfg->mode = NWB_MODE_FANOUT;
            else if (strcmp(optarg, "idle") == 0)
                cfg->mode = NWB_MODE_IDLE;
            else if (strcmp(optarg, "ingest") == 0)
                cfg->mode = NWB_MODE_INGEST;
            else
                rc = -EINVAL;
            break;
        case OPT_WS:
            rc = parse_endpoints(optarg, cfg);
            break;
        case OPT_API:
            rc = parse_endpoint(optarg, &cfg->api);
            api_set = true;
            break;
        case 'n':
            rc = parse_uint(optarg, &cfg->subscribers);
            break;
        case 't':
            rc = parse_uint(optarg, &cfg->topics);
            break;
        case 'm':
            rc = parse_uint(optarg, &cfg->items);
            break;
        case 'r':
            cfg->rate = strtod(optarg, &end);
            rc = *end != '\0' || cfg->rate < 0 ? -EINVAL : 0;
            break;
        case 's':
            rc = parse_uint(optarg, &cfg->size);
            break;
        case 'p':
            rc = parse_uint(optarg, &cfg->pub_conns);
            break;
        case 'w':
            rc = parse_uint(optarg, &cfg->workers);
            break;
        case OPT_SRC_IPS:
            rc = parse_uint(optarg, &cfg->src_ips);
            src_set = true;
            break;
        case OPT_WINDOW:
            rc = parse_uint(optarg, &cfg->window);
            break;
        case OPT_SETTLE:
            rc = parse_uint(optarg, &cfg->settle_ms);
            break;
        case OPT_DRAIN:
            rc = parse_uint(optarg, &cfg->drain_ms);
            break;
        case OPT_CONNECT_TIMEOUT:
            rc = parse_uint(optarg, &cfg->connect_timeout_ms);
            break;
        case OPT_SERVER_PID:
            rc = parse_pid(optarg, cfg->server, &cfg->nserver);
            break;
        case OPT_SERVER_CHILDREN:
            cfg->server_children = true;
            break;
        case OPT_AUX_PID:
            rc = parse_pid(optarg, cfg->aux, &cfg->naux);
            break;
        case 'h':
            fputs(usage, stdout);
            exit(0);
        case OPT_LABEL:
            cfg->label = optarg;
            rc = strpbrk(optarg, " \t\n=") != NULL ? -EINVAL : 0;
            break;
        default:
            rc = -EINVAL;
            break;
        }
    }
    if (rc < 0 || optind != argc)
        return -EINVAL;
    if (!api_set) {
        if (cfg->target == NWB_TARGET_NEWSWIRE)
            parse_endpoint("127.0.0.1:8081", &cfg->api);
        else
            cfg->api = cfg->sub[0];
    }
    if (!src_set && cfg->subscribers > 20000)
        cfg->src_ips = (cfg->subscribers + 9999) / 10000;
    if (cfg->mode == NWB_MODE_INGEST)
        cfg->subscribers = 0;
    if (cfg->mode == NWB_MODE_IDLE)
        cfg->items = 0;
    if (cfg->topics == 0 || cfg->window == 0 || cfg->pub_conns == 0 || cfg->src_ips > 253 ||
        (cfg->mode != NWB_MODE_INGEST && cfg->subscribers == 0) ||
        (cfg->mode != NWB_MODE_IDLE && cfg->items == 0) || cfg->size > 1000000)
        return -EINVAL;
    return 0;
}

static double ms(uint64_t us)
{
    return (double)us / 1000.0;
}

static double per(double num, double den)
{
    return den > 0 ? num / den : 0.0;
}

static void report(const nwb_config_t *cfg, const nwb_result_t *r, int rc, bool ok)
{
    static const char *const modes[] = {"fanout", "idle", "ingest"};
    const char *target = cfg->target == NWB_TARGET_NEWSWIRE ? "newswire" : "nchan";
    double conn_rate = per((double)r->connected, r->connect_s);
    double rss_conn = per((double)(r->rss_after_kib - r->rss_before_kib), (double)r->connected);
    double pss_conn = per((double)(r->pss_after_kib - r->pss_before_kib), (double)r->connected);
    double ops = cfg->mode == NWB_MODE_FANOUT ? (double)r->delivered : (double)r->pub.ok;
    double srv_us = per((double)r->server_cpu_us, ops), gen_us = per((double)r->gen_cpu_us, ops);
    double aux_us = per((double)r->aux_cpu_us, ops);
    double items_s =
        r->pub.last_ack_ns > r->pub.first_send_ns
            ? per((double)r->pub.ok, (double)(r->pub.last_ack_ns - r->pub.first_send_ns) / 1e9)
            : 0;
    char pace[64];

    if (cfg->rate > 0)
        snprintf(pace, sizeof(pace), "at %g items/s", cfg->rate);
    else
        snprintf(pace, sizeof(pace), "as fast as possible");
    printf("nwbench: %s %s, run %s:", target, modes[cfg->mode], cfg->run);
    if (cfg->mode != NWB_MODE_INGEST)
        printf(" %u subscribers on %u topics (%u workers),", cfg->subscribers, cfg->topics,
               r->workers);
    if (cfg->mode != NWB_MODE_IDLE)
        printf(" %u items of %u bytes %s over %u connections", cfg->items, cfg->size, pace,
               cfg->pub_conns);
    printf("\n");
    if (cfg->mode != NWB_MODE_INGEST) {
        printf("connect   %llu subscribed in %.3f s: %.0f connections/s (%llu failed, %llu "
               "retries), server CPU %.1f us/connection\n",
               (unsigned long long)r->connected, r->connect_s, conn_rate,
               (unsigned long long)r->failed, (unsigned long long)r->retries,
               per((double)r->connect_cpu_us, (double)r->connected));
        printf("memory    server RSS %.1f MiB -> %.1f MiB: %.2f KiB per connection (PSS %.2f "
               "KiB)\n",
               (double)r->rss_before_kib / 1024, (double)r->rss_after_kib / 1024, rss_conn,
               pss_conn);
    }
    if (cfg->mode != NWB_MODE_IDLE) {
        printf("publish   %llu/%u answered 2xx at %.0f items/s, %llu errors, %llu late; "
               "round trip p50 %.3f ms p99 %.3f ms\n",
               (unsigned long long)r->pub.ok, cfg->items, items_s,
               (unsigned long long)r->pub.errors, (unsigned long long)r->pub.late,
               ms(nwb_hist_percentile(&r->pub.rtt, 0.5)),
               ms(nwb_hist_percentile(&r->pub.rtt, 0.99)));
        if (r->pub.first_error[0] != '\0')
            printf("          first publish error: %s\n", r->pub.first_error);
    }
    if (cfg->mode == NWB_MODE_FANOUT) {
        printf("deliver   %llu/%llu in %.3f s: %.0f deliveries/s%s\n",
               (unsigned long long)r->delivered, (unsigned long long)r->expected, r->measure_s,
               per((double)r->delivered, r->measure_s), r->drained ? "" : " (gave up waiting)");
        printf("latency   p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, max %.3f ms (publish sent -> "
               "frame received)\n",
               ms(nwb_hist_percentile(&r->lat, 0.5)), ms(nwb_hist_percentile(&r->lat, 0.9)),
               ms(nwb_hist_percentile(&r->lat, 0.99)), ms(r->lat.max));
    }
    printf("check     lost %llu, duplicated %llu, misrouted %llu, foreign %llu, unacknowledged "
           "%llu, other %llu, disconnects %llu, errors %llu\n",
           (unsigned long long)r->lost, (unsigned long long)r->dup,
           (unsigned long long)r->misrouted, (unsigned long long)r->foreign,
           (unsigned long long)r->unacked, (unsigned long long)r->other,
           (unsigned long long)r->disconnects, (unsigned long long)r->errors);
    if (r->first_error[0] != '\0')
        printf("          first error: %s%s (close code %d)\n", r->first_error,
               rc < 0 ? ", run aborted" : "", r->close_code);
    if (cfg->mode != NWB_MODE_IDLE)
        printf("cpu       server %.3f s = %.2f us/%s; generator %.3f s = %.2f us/%s; aux %.3f s "
               "= %.2f us/%s\n",
               (double)r->server_cpu_us / 1e6, srv_us,
               cfg->mode == NWB_MODE_FANOUT ? "delivery" : "item", (double)r->gen_cpu_us / 1e6,
               gen_us, cfg->mode == NWB_MODE_FANOUT ? "delivery" : "item",
               (double)r->aux_cpu_us / 1e6, aux_us,
               cfg->mode == NWB_MODE_FANOUT ? "delivery" : "item");
    if (cfg->mode != NWB_MODE_IDLE)
        printf("machine   other processes used %.0f%% of one CPU over the %.3f s measured "
               "(other_cpu_share: more than a few %% skews the figures)\n",
               100.0 * per((double)r->other_cpu_us / 1e6, r->phase_s), r->phase_s);
    printf("RESULT label=%s target=%s mode=%s subscribers=%u topics=%u items=%u rate=%g size=%u "
           "workers=%u connected=%llu failed=%llu conn_per_s=%.0f server_cpu_us_per_conn=%.1f "
           "rss_kib_per_conn=%.3f "
           "pss_kib_per_conn=%.3f published=%llu pub_errors=%llu items_per_s=%.1f "
           "expected=%llu deliveries=%llu deliveries_per_s=%.1f p50_ms=%.3f p90_ms=%.3f "
           "p99_ms=%.3f max_ms=%.3f lost=%llu dup=%llu misrouted=%llu foreign=%llu "
           "unacked=%llu disconnects=%llu errors=%llu server_cpu_s=%.3f "
           "server_cpu_us_per_op=%.3f gen_cpu_s=%.3f gen_cpu_us_per_op=%.3f "
           "aux_cpu_us_per_op=%.3f op=%s phase_s=%.3f other_cpu_share=%.3f ok=%d\n",
           cfg->label[0] ? cfg->label : "-", target, modes[cfg->mode], cfg->subscribers,
           cfg->topics, cfg->items, cfg->rate, cfg->size, r->workers,
           (unsigned long long)r->connected, (unsigned long long)r->failed, conn_rate,
           per((double)r->connect_cpu_us, (double)r->connected), rss_conn, pss_conn,
           (unsigned long long)r->pub.ok, (unsigned long long)r->pub.errors, items_s,
           (unsigned long long)r->expected, (unsigned long long)r->delivered,
           per((double)r->delivered, r->measure_s), ms(nwb_hist_percentile(&r->lat, 0.5)),
           ms(nwb_hist_percentile(&r->lat, 0.9)), ms(nwb_hist_percentile(&r->lat, 0.99)),
           ms(r->lat.max), (unsigned long long)r->lost, (unsigned long long)r->dup,
           (unsigned long long)r->misrouted, (unsigned long long)r->foreign,
           (unsigned long long)r->unacked, (unsigned long long)r->disconnects,
           (unsigned long long)r->errors, (double)r->server_cpu_us / 1e6, srv_us,
           (double)r->gen_cpu_us / 1e6, gen_us, aux_us,
           cfg->mode == NWB_MODE_FANOUT ? "delivery" : "item", r->phase_s,
           per((double)r->other_cpu_us / 1e6, r->phase_s), ok ? 1 : 0);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    static nwb_result_t result;
    nwb_config_t cfg;
    uint64_t seed;
    bool ok;
    int rc;

    if (parse_args(argc, argv, &cfg) < 0) {
        fputs(usage, stderr);
        return 2;
    }
    seed = nwb_now_ns() ^ ((uint64_t)getpid() << 32);
    seed *= 0x9E3779B97F4A7C15ull;
    snprintf(cfg.run, sizeof(cfg.run), "%08x", (unsigned)(seed >> 32));
    setvbuf(stdout, NULL, _IOLBF, 0);
    rc = nwb_run(&cfg, &result);
    ok = rc == 0 && result.failed == 0 && result.lost == 0 && result.dup == 0 &&
         result.misrouted == 0 && result.foreign == 0 && result.unacked == 0 &&
         result.disconnects == 0 && result.errors == 0 && result.pub.errors == 0 && result.drained;
    report(&cfg, &result, rc, ok);
    return ok ? 0 : 1;
}
