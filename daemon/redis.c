/* Newswire — managed hiredis async connection: timeouts, reconnects,
 * handshake (AUTH, SELECT, SCRIPT LOAD), EVALSHA with NOSCRIPT fallback. */
#include "redis.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

#include "log.h"

#define NW_REDIS_MAX_SCRIPTS     16
#define NW_REDIS_BACKOFF_BASE_MS 100

typedef enum conn_state {
    CONN_DOWN = 0,   /* no connection; a retry timer may be pending */
    CONN_CONNECTING, /* TCP/unix connect in progress */
    CONN_HANDSHAKE,  /* AUTH/SELECT/SCRIPT LOAD in flight */
    CONN_UP,         /* ready for commands */
} conn_state_t;

struct nw_redis {
    struct event_base *base;
    nw_redis_addr_t addr;
    nw_redis_opts_t opts;
    char name[32];
    nw_metrics_t *metrics;

    redisAsyncContext *ac; /* owned by hiredis once attached; NULL when down */
    conn_state_t state;
    unsigned attempts;       /* failed attempts since the last success */
    unsigned handshake_left; /* handshake replies still expected */
    bool freeing;

    struct event *retry_ev;    /* reconnect after backoff */
    struct event *connect_ev;  /* connect + handshake timeout */
    struct event *teardown_ev; /* deferred redisAsyncFree (never inside a hiredis callback) */
    struct event *flush_ev;    /* writes queued commands at the end of this loop turn */

    nw_redis_script_t *scripts[NW_REDIS_MAX_SCRIPTS];
    size_t nscripts;

    nw_redis_state_cb state_cb;
    void *state_arg;
    nw_redis_stale_cb stale_cb;
    void *stale_arg;
};

/* The handshake argument that marks the ROLE check (others are NULL or a
 * script). */
static char role_check;

/* One command in flight. For scripts, the arguments are kept so that the
 * call can be sent again as EVAL after NOSCRIPT. */
typedef struct cmd {
    nw_redis_t *r;
    nw_redis_reply_cb cb;
    void *arg;
    struct event *timer;
    bool done; /* the user callback already ran (timeout) */
    nw_redis_script_t *script;
    int argc;
    char **argv;
    size_t *argvlen;
} cmd_t;

static void conn_schedule_retry(nw_redis_t *r);
static int cmd_send(nw_redis_t *r, cmd_t *cmd, unsigned timeout_ms, int argc, const char **argv,
                    const size_t *argvlen);

bool nw_redis_reply_is_error(const redisReply *reply, const char *prefix)
{
    return reply != NULL && reply->type == REDIS_REPLY_ERROR && reply->str != NULL &&
           strncmp(reply->str, prefix, strlen(prefix)) == 0;
}

static void cmd_free(cmd_t *cmd)
{
    if (cmd == NULL)
        return;
    if (cmd->timer != NULL)
        event_free(cmd->timer);
    free(cmd->argv); /* one block: argv pointers, lengths and bytes */
    free(cmd);
}

/* Copies argv into one allocation owned by cmd, for a later EVAL resend. */
static int cmd_keep_args(cmd_t *cmd, int argc, const char **argv, const size_t *argvlen)
{
    size_t total = (size_t)argc * (sizeof(char *) + sizeof(size_t));
    char *p;

    for (int i = 0; i < argc; i++)
        total += argvlen[i] + 1;
    p = malloc(total);
    if (p == NULL)
        return -ENOMEM;
    cmd->argv = (char **)p;
    cmd->argvlen = (size_t *)(p + (size_t)argc * sizeof(char *));
    p += (size_t)argc * (sizeof(char *) + sizeof(size_t));
    for (int i = 0; i < argc; i++) {
        cmd->argv[i] = p;
        cmd->argvlen[i] = argvlen[i];
        memcpy(p, argv[i], argvlen[i]);
        p[argvlen[i]] = '\0';
        p += argvlen[i] + 1;
    }
    cmd->argc = argc;
    return 0;
}

/* Sends the kept EVALSHA call again as EVAL with the script source. Returns
 * 0 when the resend owns the user callback now. */
static int cmd_resend_eval(cmd_t *old)
{
    cmd_t *cmd = calloc(1, sizeof(*cmd));
    const char **argv;
    size_t *argvlen;
    int rc;

    if (cmd == NULL)
        return -ENOMEM;
    argv = calloc((size_t)old->argc, sizeof(*argv));
    argvlen = calloc((size_t)old->argc, sizeof(*argvlen));
    if (argv == NULL || argvlen == NULL) {
        free(argv);
        free(argvlen);
        free(cmd);
        return -ENOMEM;
    }
    for (int i = 0; i < old->argc; i++) {
        argv[i] = old->argv[i];
        argvlen[i] = old->argvlen[i];
    }
    argv[0] = "EVAL";
    argvlen[0] = 4;
    argv[1] = old->script->source;
    argvlen[1] = strlen(old->script->source);
    cmd->r = old->r;
    cmd->cb = old->cb;
    cmd->arg = old->arg;
    rc = cmd_send(old->r, cmd, 0, old->argc, argv, argvlen);
    free(argv);
    free(argvlen);
    return rc;
}

/* hiredis reply callback for every command: runs the user callback once
 * (unless the timeout already did), handles NOSCRIPT, frees the command. */
static void cmd_reply_cb(redisAsyncContext *ac, void *reply_, void *priv)
{
    cmd_t *cmd = priv;
    nw_redis_t *r = cmd->r;
    redisReply *reply = reply_;

    if (cmd->timer != NULL) {
        event_free(cmd->timer);
        cmd->timer = NULL;
    }
    if (!cmd->done) {
        cmd->done = true;
        if (cmd->script != NULL && nw_redis_reply_is_error(reply, "NOSCRIPT")) {
            NW_METRIC_INC(r->metrics->redis_noscript);
            nw_log(NW_LOG_WARN, "redis", "script missing, sending it again", "conn=%s script=%s",
                   r->name, cmd->script->name);
            if (cmd_resend_eval(cmd) == 0) {
                cmd_free(cmd);
                return;
            }
            reply = NULL;
        }
        if (reply == NULL || reply->type == REDIS_REPLY_ERROR)
            NW_METRIC_INC(r->metrics->redis_errors);
        cmd->cb(r, reply, cmd->arg);
        /* a master demoted by a failover while we were connected: the
         * reconnect reports the address stale */
        if (r->opts.role != NULL && nw_redis_reply_is_error(reply, "READONLY"))
            nw_redis_reconnect(r, "the server is a replica now");
    }
    cmd_free(cmd);
}

/* A command took too long: tell its caller now and drop the connection, as
 * the late reply would put the connection out of step. */
static void cmd_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    cmd_t *cmd = arg;
    nw_redis_t *r = cmd->r;

    event_free(cmd->timer);
    cmd->timer = NULL;
    cmd->done = true;
    NW_METRIC_INC(r->metrics->redis_timeouts);
    NW_METRIC_INC(r->metrics->redis_errors);
    cmd->cb(r, NULL, cmd->arg);
    nw_redis_reconnect(r, "command timeout");
}

/* Queues cmd on the live context with its timeout. On failure frees cmd and
 * returns a negative errno (the callback is not called). */
static int cmd_send(nw_redis_t *r, cmd_t *cmd, unsigned timeout_ms, int argc, const char **argv,
                    const size_t *argvlen)
{
    struct timeval tv;

    if (r->ac == NULL) {
        cmd_free(cmd);
        return -ENOTCONN;
    }
    if (timeout_ms == 0)
        timeout_ms = r->opts.command_timeout_ms;
    cmd->timer = evtimer_new(r->base, cmd_timeout_cb, cmd);
    if (cmd->timer == NULL) {
        cmd_free(cmd);
        return -ENOMEM;
    }
    if (redisAsyncCommandArgv(r->ac, cmd_reply_cb, cmd, argc, argv, argvlen) != REDIS_OK) {
        cmd_free(cmd);
        return -ENOTCONN;
    }
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    evtimer_add(cmd->timer, &tv);
    event_active(r->flush_ev, EV_TIMEOUT, 1); /* once per turn: already active is a no-op */
    return 0;
}

/* Writes the commands queued during this loop turn once its callbacks are
 * done, rather than on the next turn when the socket reports writeable: one
 * write for all of them, and hiredis' write event comes and goes inside the
 * turn, which costs libevent's change list no epoll_ctl(). A failed write
 * tears the link down through hiredis as on the writeable path. */
static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
    nw_redis_t *r = arg;
    int flags = r->ac != NULL ? r->ac->c.flags : 0;

    if ((flags & REDIS_CONNECTED) && !(flags & (REDIS_DISCONNECTING | REDIS_FREEING)))
        redisAsyncHandleWrite(r->ac);
}

int nw_redis_command(nw_redis_t *r, nw_redis_reply_cb cb, void *arg, unsigned timeout_ms, int argc,
                     const char **argv, const size_t *argvlen)
{
    cmd_t *cmd;

    if (r->state != CONN_UP)
        return -ENOTCONN;
    cmd = calloc(1, sizeof(*cmd));
    if (cmd == NULL)
        return -ENOMEM;
    cmd->r = r;
    cmd->cb = cb;
    cmd->arg = arg;
    return cmd_send(r, cmd, timeout_ms, argc, argv, argvlen);
}

int nw_redis_eval(nw_redis_t *r, nw_redis_script_t *script, nw_redis_reply_cb cb, void *arg,
                  int nkeys, int argc, const char **argv, const size_t *argvlen)
{
    const char **av;
    size_t *al;
    char nk[16];
    cmd_t *cmd;
    int rc;

    if (r->state != CONN_UP)
        return -ENOTCONN;
    cmd = calloc(1, sizeof(*cmd));
    av = calloc((size_t)argc + 3, sizeof(*av));
    al = calloc((size_t)argc + 3, sizeof(*al));
    if (cmd == NULL || av == NULL || al == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    snprintf(nk, sizeof(nk), "%d", nkeys);
    av[0] = "EVALSHA";
    al[0] = 7;
    av[1] = script->sha;
    al[1] = strlen(script->sha);
    av[2] = nk;
    al[2] = strlen(nk);
    for (int i = 0; i < argc; i++) {
        av[i + 3] = argv[i];
        al[i + 3] = argvlen[i];
    }
    cmd->r = r;
    cmd->cb = cb;
    cmd->arg = arg;
    cmd->script = script;
    rc = cmd_keep_args(cmd, argc + 3, av, al);
    if (rc < 0)
        goto fail;
    rc = cmd_send(r, cmd, 0, argc + 3, av, al);
    free(av);
    free(al);
    return rc;
fail:
    free(cmd);
    free(av);
    free(al);
    return rc;
}

/* Marks the connection ready and tells the owner. */
static void conn_up(nw_redis_t *r)
{
    event_del(r->connect_ev);
    r->state = CONN_UP;
    r->attempts = 0;
    NW_METRIC_INC(r->metrics->redis_reconnects);
    if (r->addr.path[0] != '\0')
        nw_log(NW_LOG_INFO, "redis", "connected", "conn=%s path=%s db=%d", r->name, r->addr.path,
               r->addr.db);
    else
        nw_log(NW_LOG_INFO, "redis", "connected", "conn=%s host=%s port=%d db=%d", r->name,
               r->addr.host, r->addr.port, r->addr.db);
    if (r->state_cb != NULL)
        r->state_cb(r, true, r->state_arg);
}

/* True if a ROLE reply shows the role the link wants: "master", or
 * "slave" whose link to its master is up (a replica still syncing has a
 * partial wire). */
static bool role_ok(const nw_redis_t *r, const redisReply *reply)
{
    const redisReply *e;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
        reply->element[0]->type != REDIS_REPLY_STRING ||
        strcmp(reply->element[0]->str, r->opts.role) != 0)
        return false;
    if (strcmp(r->opts.role, "slave") != 0)
        return true;
    e = reply->elements >= 4 ? reply->element[3] : NULL;
    return e != NULL && e->type == REDIS_REPLY_STRING && strcmp(e->str, "connected") == 0;
}

/* A handshake reply (AUTH, SELECT, ROLE, SCRIPT LOAD): any failure restarts
 * the connection; the last success makes it ready. */
static void handshake_reply_cb(nw_redis_t *r, redisReply *reply, void *arg)
{
    nw_redis_script_t *script = arg == &role_check ? NULL : arg;

    if (r->state != CONN_HANDSHAKE)
        return;
    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        nw_log(NW_LOG_ERROR, "redis", "handshake failed", "conn=%s step=%s error=\"%s\"", r->name,
               script ? script->name : "auth/select",
               reply && reply->str ? reply->str : "no reply");
        nw_redis_reconnect(r, "handshake failed");
        return;
    }
    if (arg == &role_check && !role_ok(r, reply)) {
        nw_log(NW_LOG_WARN, "redis", "server has the wrong role", "conn=%s host=%s port=%d want=%s",
               r->name, r->addr.host, r->addr.port, r->opts.role);
        nw_redis_reconnect(r, "wrong role");
        return;
    }
    if (script != NULL) {
        if (reply->type != REDIS_REPLY_STRING || reply->len != 40) {
            nw_redis_reconnect(r, "unexpected SCRIPT LOAD reply");
            return;
        }
        memcpy(script->sha, reply->str, 40);
        script->sha[40] = '\0';
    }
    if (--r->handshake_left == 0)
        conn_up(r);
}

/* Sends one handshake command; returns 0 or a negative errno. */
static int handshake_send(nw_redis_t *r, void *arg, int argc, const char **argv)
{
    size_t lens[4];
    cmd_t *cmd = calloc(1, sizeof(*cmd));

    if (cmd == NULL)
        return -ENOMEM;
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    cmd->r = r;
    cmd->cb = handshake_reply_cb;
    cmd->arg = arg;
    r->handshake_left++;
    return cmd_send(r, cmd, 0, argc, argv, lens);
}

static void conn_connect_cb(const redisAsyncContext *ac, int status)
{
    nw_redis_t *r = ac->data;
    char db[16];
    int rc = 0;

    if (r == NULL)
        return;
    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback returns */
        nw_log(NW_LOG_WARN, "redis", "connect failed", "conn=%s error=\"%s\" attempt=%u", r->name,
               ac->errstr, r->attempts + 1);
        r->ac = NULL;
        r->state = CONN_DOWN;
        event_del(r->connect_ev);
        conn_schedule_retry(r);
        return;
    }
    r->state = CONN_HANDSHAKE;
    r->handshake_left = 0;
    if (r->addr.password[0] != '\0') {
        const char *av[] = {"AUTH", r->addr.password};
        rc = rc ? rc : handshake_send(r, NULL, 2, av);
    }
    if (r->addr.db != 0) {
        const char *av[] = {"SELECT", db};
        snprintf(db, sizeof(db), "%d", r->addr.db);
        rc = rc ? rc : handshake_send(r, NULL, 2, av);
    }
    if (r->opts.role != NULL) {
        const char *av[] = {"ROLE"};
        rc = rc ? rc : handshake_send(r, &role_check, 1, av);
    }
    for (size_t i = 0; i < r->nscripts; i++) {
        const char *av[] = {"SCRIPT", "LOAD", r->scripts[i]->source};
        rc = rc ? rc : handshake_send(r, r->scripts[i], 3, av);
    }
    if (rc < 0)
        nw_redis_reconnect(r, "handshake could not be sent");
    else if (r->handshake_left == 0)
        conn_up(r);
}

static void conn_disconnect_cb(const redisAsyncContext *ac, int status)
{
    nw_redis_t *r = ac->data;
    bool was_up;

    if (r == NULL) /* we tore it down ourselves */
        return;
    was_up = r->state == CONN_UP;
    r->ac = NULL;
    r->state = CONN_DOWN;
    event_del(r->connect_ev);
    nw_log(NW_LOG_WARN, "redis", "connection lost", "conn=%s error=\"%s\"", r->name,
           status == REDIS_OK ? "closed" : ac->errstr);
    if (r->freeing)
        return;
    if (was_up && r->state_cb != NULL)
        r->state_cb(r, false, r->state_arg);
    conn_schedule_retry(r);
}

/* Starts one connection attempt. */
static void conn_start(nw_redis_t *r)
{
    redisAsyncContext *ac;
    struct timeval tv;

    if (r->addr.path[0] == '\0' && r->addr.host[0] == '\0')
        return; /* no address yet: nw_redis_set_addr() starts us */
    if (r->addr.path[0] != '\0')
        ac = redisAsyncConnectUnix(r->addr.path);
    else
        ac = redisAsyncConnect(r->addr.host, r->addr.port);
    if (ac == NULL || ac->err) {
        nw_log(NW_LOG_WARN, "redis", "connect failed", "conn=%s error=\"%s\" attempt=%u", r->name,
               ac ? ac->errstr : "out of memory", r->attempts + 1);
        if (ac != NULL)
            redisAsyncFree(ac);
        conn_schedule_retry(r);
        return;
    }
    ac->data = r;
    if (redisLibeventAttach(ac, r->base) != REDIS_OK) {
        ac->data = NULL;
        redisAsyncFree(ac);
        conn_schedule_retry(r);
        return;
    }
    redisAsyncSetConnectCallback(ac, conn_connect_cb);
    redisAsyncSetDisconnectCallback(ac, conn_disconnect_cb);
    r->ac = ac;
    r->state = CONN_CONNECTING;
    tv.tv_sec = r->opts.connect_timeout_ms / 1000;
    tv.tv_usec = (r->opts.connect_timeout_ms % 1000) * 1000;
    evtimer_add(r->connect_ev, &tv);
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
    conn_start(arg);
}

/* Schedules the next attempt: capped exponential backoff with jitter
 * (between half and all of min(max, base * 2^attempts)). */
static void conn_schedule_retry(nw_redis_t *r)
{
    unsigned long long cap = NW_REDIS_BACKOFF_BASE_MS;
    unsigned long long delay;
    struct timeval tv;

    if (r->freeing)
        return;
    if (r->stale_cb != NULL)
        r->stale_cb(r, r->stale_arg);
    for (unsigned i = 0; i < r->attempts && cap < r->opts.reconnect_max_ms; i++)
        cap *= 2;
    if (cap > r->opts.reconnect_max_ms)
        cap = r->opts.reconnect_max_ms;
    delay = cap / 2 + (unsigned long long)(random() % (long)(cap / 2 + 1));
    r->attempts++;
    tv.tv_sec = (time_t)(delay / 1000);
    tv.tv_usec = (suseconds_t)((delay % 1000) * 1000);
    evtimer_add(r->retry_ev, &tv);
}

static void connect_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    nw_redis_reconnect(arg, "connect timeout");
}

/* Frees the hiredis context outside of any hiredis callback: pending
 * commands get NULL replies, then a new attempt is scheduled. */
static void teardown_cb(evutil_socket_t fd, short what, void *arg)
{
    nw_redis_t *r = arg;
    redisAsyncContext *ac = r->ac;

    r->ac = NULL;
    if (ac != NULL) {
        ac->data = NULL; /* our disconnect callback ignores it */
        redisAsyncFree(ac);
    }
    if (!r->freeing && r->state == CONN_DOWN && !evtimer_pending(r->retry_ev, NULL))
        conn_schedule_retry(r);
}

void nw_redis_reconnect(nw_redis_t *r, const char *why)
{
    bool was_up = r->state == CONN_UP;

    if (r->state == CONN_DOWN && r->ac == NULL)
        return;
    nw_log(NW_LOG_WARN, "redis", "dropping connection", "conn=%s reason=\"%s\"", r->name, why);
    r->state = CONN_DOWN;
    event_del(r->connect_ev);
    event_active(r->teardown_ev, EV_TIMEOUT, 0);
    if (was_up && r->state_cb != NULL)
        r->state_cb(r, false, r->state_arg);
}

nw_redis_t *nw_redis_new(struct event_base *base, const nw_redis_addr_t *addr,
                         const nw_redis_opts_t *opts, const char *name, nw_metrics_t *metrics)
{
    nw_redis_t *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return NULL;
    r->base = base;
    r->addr = *addr;
    r->opts = *opts;
    r->metrics = metrics;
    snprintf(r->name, sizeof(r->name), "%s", name);
    r->retry_ev = evtimer_new(base, retry_cb, r);
    r->connect_ev = evtimer_new(base, connect_timeout_cb, r);
    r->teardown_ev = event_new(base, -1, 0, teardown_cb, r);
    r->flush_ev = event_new(base, -1, 0, flush_cb, r);
    if (r->retry_ev == NULL || r->connect_ev == NULL || r->teardown_ev == NULL ||
        r->flush_ev == NULL)
        goto fail;
    return r;
fail:
    nw_redis_free(r);
    return NULL;
}

void nw_redis_set_state_cb(nw_redis_t *r, nw_redis_state_cb cb, void *arg)
{
    r->state_cb = cb;
    r->state_arg = arg;
}

void nw_redis_set_stale_cb(nw_redis_t *r, nw_redis_stale_cb cb, void *arg)
{
    r->stale_cb = cb;
    r->stale_arg = arg;
}

const char *nw_redis_name(const nw_redis_t *r)
{
    return r->name;
}

void nw_redis_set_addr(nw_redis_t *r, const char *host, int port)
{
    if (strcmp(r->addr.host, host) == 0 && r->addr.port == port)
        return;
    nw_log(NW_LOG_INFO, "redis", "switching address", "conn=%s from=%s:%d to=%s:%d", r->name,
           r->addr.host[0] ? r->addr.host : "-", r->addr.port, host, port);
    snprintf(r->addr.host, sizeof(r->addr.host), "%s", host);
    r->addr.port = port;
    r->attempts = 0;
    if (r->freeing)
        return;
    if (r->state != CONN_DOWN || r->ac != NULL) {
        nw_redis_reconnect(r, "address changed");
        return;
    }
    /* down: try the new address now rather than after the backoff */
    evtimer_del(r->retry_ev);
    conn_start(r);
}

int nw_redis_add_script(nw_redis_t *r, nw_redis_script_t *script)
{
    if (r->nscripts == NW_REDIS_MAX_SCRIPTS)
        return -ENOSPC;
    r->scripts[r->nscripts++] = script;
    return 0;
}

void nw_redis_start(nw_redis_t *r)
{
    conn_start(r);
}

bool nw_redis_is_up(const nw_redis_t *r)
{
    return r->state == CONN_UP;
}

void nw_redis_free(nw_redis_t *r)
{
    if (r == NULL)
        return;
    r->freeing = true;
    r->state = CONN_DOWN;
    if (r->ac != NULL) {
        redisAsyncContext *ac = r->ac;
        r->ac = NULL;
        ac->data = NULL;
        redisAsyncFree(ac);
    }
    if (r->retry_ev != NULL)
        event_free(r->retry_ev);
    if (r->connect_ev != NULL)
        event_free(r->connect_ev);
    if (r->teardown_ev != NULL)
        event_free(r->teardown_ev);
    if (r->flush_ev != NULL)
        event_free(r->flush_ev);
    free(r);
}
