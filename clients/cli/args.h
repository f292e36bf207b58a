/* Newswire command — argument parsing for the subcommands.
 *
 * Pure: no I/O, no environment. Each parser reads argv (argv[0] is the
 * subcommand name), fills an options struct whose strings are borrowed from
 * argv, and checks what can be checked locally (topics, cursors, numbers,
 * header-safe values), so that a mistake is reported before anything is
 * sent. Options take their value as "--name value" or "--name=value"; "--"
 * ends the options; "-" alone is an operand (standard input). */
#ifndef NW_ARGS_H
#define NW_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#include "common.h"

#define NW_ARGS_TIMEOUT_DEFAULT_MS 10000 /* --timeout */
#define NW_ARGS_RETRIES_DEFAULT    3     /* --retries: answers 503 retried */
#define NW_ARGS_TAIL_MAX_TOPICS    64    /* the server's ws_max_topics default */

/* Options shared by publish and kill (the ingest API). */
typedef struct nw_args_api {
    const char *api;    /* --api URL, required */
    const char *key;    /* --key, NULL when absent (then NEWSWIRE_KEY) */
    int timeout_ms;     /* --timeout SECONDS (decimal allowed) */
    int retries;        /* --retries N: how often a 503 is retried */
    bool insecure;      /* --insecure: skip TLS verification (https) */
    const char *cacert; /* --cacert FILE: trusted CA certificates (https) */
} nw_args_api_t;

typedef struct nw_args_publish {
    nw_args_api_t api;
    const char *topics;          /* --topics, checked as a topic list */
    const char *idempotency_key; /* --idempotency-key, NULL when absent */
    bool msgpack;                /* --msgpack: send the item as msgpack */
    const char *file;            /* the operand: a path, or "-" for stdin */
    bool help;                   /* --help: nothing else was checked */
} nw_args_publish_t;

typedef struct nw_args_kill {
    nw_args_api_t api;
    const char *uri; /* the operand */
    bool help;
} nw_args_kill_t;

typedef struct nw_args_tail {
    const char *url;    /* --url ws://host:port/v1/stream, required */
    const char *since;  /* --since ID, NULL when absent */
    const char *epoch;  /* --epoch E (needs --since), NULL when absent */
    const char *token;  /* --token T, NULL when absent (then NEWSWIRE_TOKEN) */
    int min_urgency;    /* --min-urgency 1..9, 0 when absent */
    bool msgpack;       /* --msgpack: newswire.v1.msgpack session */
    long count;         /* --count N: exit after N items; 0 = never */
    bool insecure;      /* --insecure: skip TLS verification (wss) */
    const char *cacert; /* --cacert FILE (wss) */
    long max_retries;   /* --max-retries N: failed attempts in a row before
                           giving up; 0 = never give up */
    int backoff_max_ms; /* --backoff-max SECONDS: cap of the reconnect delay */
    bool verbose;       /* -v, --verbose: session events on stderr */
    const char *topics[NW_ARGS_TAIL_MAX_TOPICS]; /* the operands */
    size_t ntopics;
    bool help;
} nw_args_tail_t;

/* Each returns 0 with *out filled, or -EINVAL with err naming the option
 * (err->field: "--topics", or "" for a missing operand) and what is wrong.
 * With --help, returns 0 and out->help at once. */
int nw_args_publish(int argc, char **argv, nw_args_publish_t *out, nw_err_t *err);
int nw_args_kill(int argc, char **argv, nw_args_kill_t *out, nw_err_t *err);
int nw_args_tail(int argc, char **argv, nw_args_tail_t *out, nw_err_t *err);

/* Checks that s can be sent as an HTTP header value: 1..max bytes of
 * visible ASCII (0x21..0x7e) when strict, else also inner spaces and tabs
 * and bytes >= 0x80, but never a control character. */
bool nw_args_header_safe(const char *s, size_t max, bool strict);

#endif
