/* Newswire — a managed Redis connection on the core thread's event loop.
 *
 * Wraps one hiredis async context (hiredis 0.14, libevent adapter) and adds
 * what 0.14 lacks: a connect timeout, a per-command timeout, reconnection
 * with capped exponential backoff and jitter, AUTH and SELECT on every
 * connect, and Lua scripts loaded at connect and run with EVALSHA (sent
 * again with EVAL when Redis answers NOSCRIPT).
 *
 * Contract for commands: when nw_redis_command() returns 0 the callback is
 * called exactly once, with the reply, or with NULL when no reply will come
 * (connection lost, command timed out, connection freed); when it returns
 * an error the callback is never called. Replies are borrowed: valid only
 * for the duration of the callback. A command that times out makes the
 * connection reconnect, because its reply might still arrive out of step. */
#ifndef NW_REDIS_H
#define NW_REDIS_H

#include <stdbool.h>
#include <stddef.h>

#include <hiredis/hiredis.h>

#include "config.h"
#include "metrics.h"

struct event_base;

typedef struct nw_redis nw_redis_t;

typedef struct nw_redis_opts {
    unsigned connect_timeout_ms;
    unsigned command_timeout_ms; /* default for nw_redis_command(timeout_ms = 0) */
    unsigned reconnect_max_ms;
    /* NULL, or the ROLE the server must have ("master", or "slave" with its
     * replication link up), checked at each connect: a server with another
     * role is dropped and retried, and the address is reported stale. */
    const char *role;
} nw_redis_opts_t;

/* A Lua script: its source, and its SHA1 as Redis reported it on the last
 * SCRIPT LOAD. Scripts are static objects registered before start. */
typedef struct nw_redis_script {
    const char *name;
    const char *source;
    char sha[41];
} nw_redis_script_t;

/* reply is NULL when the command got no reply (see the contract above). */
typedef void (*nw_redis_reply_cb)(nw_redis_t *r, redisReply *reply, void *arg);

/* Called with up=true once a connection is ready for commands (AUTH,
 * SELECT and script loading done), up=false when it is lost. */
typedef void (*nw_redis_state_cb)(nw_redis_t *r, bool up, void *arg);

/* Creates a connection manager; name appears in logs ("command", "wire").
 * Nothing happens until nw_redis_start(). Returns NULL on allocation failure. */
nw_redis_t *nw_redis_new(struct event_base *base, const nw_redis_addr_t *addr,
                         const nw_redis_opts_t *opts, const char *name, nw_metrics_t *metrics);

void nw_redis_set_state_cb(nw_redis_t *r, nw_redis_state_cb cb, void *arg);

/* Called when the link's address may be out of date: a connect failed,
 * the connection was lost, the server had the wrong ROLE or answered
 * READONLY (a master demoted by a failover). Sentinel (sentinel.h) uses it
 * to ask where the master is now. */
typedef void (*nw_redis_stale_cb)(nw_redis_t *r, void *arg);

void nw_redis_set_stale_cb(nw_redis_t *r, nw_redis_stale_cb cb, void *arg);

/* Points the link at another TCP address. If it differs from the current
 * one, the connection (if any) is dropped (pending callbacks get NULL) and
 * the new address is tried at once, backoff reset. A link created with an
 * empty host and path waits for this before its first attempt. */
void nw_redis_set_addr(nw_redis_t *r, const char *host, int port);

/* The name given at creation ("command", "wire"...). */
const char *nw_redis_name(const nw_redis_t *r);
/* Registers a script (borrowed; must outlive r) to load on each connect. */
int nw_redis_add_script(nw_redis_t *r, nw_redis_script_t *script);

/* Starts connecting; on failure retries forever with backoff. */
void nw_redis_start(nw_redis_t *r);

bool nw_redis_is_up(const nw_redis_t *r);

/* Sends a command. timeout_ms 0 means the configured command timeout.
 * Returns 0 (callback will run exactly once), -ENOTCONN when the connection
 * is not up, or -ENOMEM. Arguments are copied before returning. */
int nw_redis_command(nw_redis_t *r, nw_redis_reply_cb cb, void *arg, unsigned timeout_ms, int argc,
                     const char **argv, const size_t *argvlen);

/* Runs a registered script: EVALSHA sha nkeys args...; on NOSCRIPT the
 * same call is sent again as EVAL with the source. Same contract as
 * nw_redis_command(). argv holds the keys then the other arguments. */
int nw_redis_eval(nw_redis_t *r, nw_redis_script_t *script, nw_redis_reply_cb cb, void *arg,
                  int nkeys, int argc, const char **argv, const size_t *argvlen);

/* Drops the connection now (pending callbacks get NULL) and reconnects
 * after the backoff delay. */
void nw_redis_reconnect(nw_redis_t *r, const char *why);

/* Stops reconnecting, closes the connection (pending callbacks get NULL)
 * and frees r. Accepts NULL. */
void nw_redis_free(nw_redis_t *r);

/* True if reply is an error reply whose message starts with prefix. */
bool nw_redis_reply_is_error(const redisReply *reply, const char *prefix);

#endif
