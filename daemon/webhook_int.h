/* Newswire — internals shared by the webhook engine's files: webhook.c
 * (registry, partners, timers), webhook_deliver.c (reading the consumer
 * group: new entries, take-overs, touches), webhook_send.c (requests,
 * retries, dead letters, 410, replays) and webhook_api.c (/v1/webhooks).
 * Not for other modules: they use webhook.h. */
#ifndef NW_WEBHOOK_INT_H
#define NW_WEBHOOK_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/util.h>
#include <jansson.h>

#include "event.h"
#include "topic.h"
#include "webhook.h"
#include "webhook_http.h"

struct event;

typedef struct wh_partner wh_partner_t;
typedef struct wh_delivery wh_delivery_t;

/* One item a partner is owed, held by this instance. Items read from the
 * group are acknowledged when done; replays of dead letters (dead_id set)
 * are not in the group: they leave the dead stream when delivered. */
struct wh_delivery {
    wh_delivery_t *prev, *next; /* in the partner's list */
    wh_partner_t *p;
    char id[NW_WIRE_ID_MAX];      /* wire id: the webhook-id */
    char dead_id[NW_WIRE_ID_MAX]; /* replays: the dead entry's id; "" otherwise */
    unsigned char *body;          /* the JSON item message, owned */
    size_t len;
    int64_t deadline_ms; /* Unix ms: no retry after this */
    int64_t due_ms;      /* Unix ms: next attempt */
    unsigned attempts;
    int last_status;         /* 0: no answer */
    nw_webhook_post_t *post; /* in flight */
    bool lost;               /* another instance took the entry over */
};

struct wh_partner {
    nw_webhooks_t *wh;
    wh_partner_t *next; /* in wh->partners */
    unsigned refs;      /* the registry's, and one per Redis command in flight */
    bool gone;          /* removed from the registry; freed with the last ref */
    nw_webhook_cfg_t spec;
    bool from_config;
    nw_webhook_target_t target;
    nw_topic_list_t *topics;
    unsigned char key[NW_WEBHOOK_KEY_MAX];
    size_t keylen;
    char group[160];    /* <prefix>wh:<name> */
    char dead_key[192]; /* <prefix>wh:<name>:dead */
    bool disabled;
    int64_t disabled_at;
    int disabled_status;
    bool group_ready;     /* the consumer group is known to exist */
    uint64_t group_after; /* create the group after a registry read newer than this */
    bool creating, fetching, claiming, touching, pruning;
    unsigned fetch_count; /* COUNT of the XREADGROUP in flight */
    char claim_cursor[NW_WIRE_ID_MAX];
    int64_t last_touch_ms, last_claim_ms, last_prune_ms;
    wh_delivery_t *head, *tail;
    unsigned held, in_flight;
    struct event *timer; /* the next retry */
    nw_webhook_metrics_t m;
};

/* A name's disabled mark in <prefix>webhooks:disabled. */
typedef struct wh_disabled {
    char name[65];
    int64_t at;
    int status;
} wh_disabled_t;

struct nw_webhooks {
    struct event_base *base;
    const nw_config_t *cfg;
    nw_metrics_t *metrics;
    nw_redis_t *conn;
    nw_webhook_scripts_t scripts;
    nw_webhook_http_t *http;
    wh_partner_t *partners;
    nw_webhook_cfg_t *api_specs; /* registrations last read from Redis */
    size_t napi;
    bool synced;   /* the registry was read from Redis at least once */
    bool ready;    /* nw_webhooks_ready() was true once */
    bool loading;  /* the periodic registry read is in flight */
    bool stopping; /* nw_webhooks_stop() was called */
    unsigned ops;  /* hand-backs in flight while stopping */
    /* Registry reads are numbered; a local change (a registration, a 410)
     * makes the reads already sent stale: their answers are dropped. */
    uint64_t load_seq, local_seq;
    char consumer[96];
    char wire_key[96], hash_key[96], disabled_key[112];
    struct event *tick_ev, *kick_ev;
};

/* webhook.c */

/* Callback of a registry read: ok is false when Redis could not be read
 * (the registry is then as it was). */
typedef void (*wh_loaded_cb)(nw_webhooks_t *wh, bool ok, void *arg);

/* Reads the registrations and disabled marks from Redis and applies them;
 * then calls cb (may be NULL). Returns 0, or -ENOTCONN/-ENOMEM (cb is then
 * never called). */
int wh_registry_load(nw_webhooks_t *wh, wh_loaded_cb cb, void *arg);

/* The partner named name, or NULL. */
wh_partner_t *wh_partner_find(nw_webhooks_t *wh, const char *name);

/* Adds or replaces an API registration locally (after Redis stored it) and
 * clears its disabled mark. Returns 0 or -ENOMEM. */
int wh_registry_upsert(nw_webhooks_t *wh, const nw_webhook_cfg_t *spec);

/* Forgets an API registration locally (after Redis deleted it). */
void wh_registry_forget(nw_webhooks_t *wh, const char *name);

/* Parses a registration (the API body, or the stored JSON) into spec; with
 * make_secret, a missing secret is generated. Returns 0, or -EINVAL with
 * err naming the field. */
int wh_spec_from_json(const json_t *o, nw_webhook_cfg_t *spec, bool make_secret, nw_err_t *err);

/* The JSON of a registration; with_secret for storage. NULL on failure. */
json_t *wh_spec_to_json(const nw_webhook_cfg_t *spec, bool with_secret);

/* Checks a spec (URL, topics, secret) as nw_webhooks_check_config() does. */
int wh_spec_check(const nw_webhook_cfg_t *spec, nw_err_t *err);

void wh_partner_ref(wh_partner_t *p);
void wh_partner_unref(wh_partner_t *p);

/* webhook_deliver.c */

/* Appends d to p's list (p holds one more item). */
void wh_delivery_link(wh_partner_t *p, wh_delivery_t *d);

/* Unlinks and frees d (its request must be finished or cancelled). */
void wh_delivery_free(wh_delivery_t *d);

/* The held delivery of a wire id (dead false) or of a dead entry id. */
wh_delivery_t *wh_find_held(const wh_partner_t *p, const char *id, bool dead);

/* Sends a command whose answer only matters for the log (what names it). */
void wh_send_logged(nw_webhooks_t *wh, const char *what, int argc, const char **argv,
                    const size_t *lens);

/* Acknowledges ids (n of them) in p's group, in one XACK. */
void wh_ack_ids(wh_partner_t *p, const char **ids, size_t n);

/* Reads new entries for p when it has room and may. */
void wh_partner_fetch(wh_partner_t *p);

/* Creates p's consumer group if needed, then reads. */
void wh_partner_ensure_group(wh_partner_t *p);

/* Takes over entries idle for webhook_claim_idle; refreshes p's own. */
void wh_partner_claim(wh_partner_t *p);

/* Removes the group's consumers that own nothing and have been idle for
 * webhook_claim_idle (those of stopped instances: each process is a
 * consumer of its own name), atomically (webhook_prune.lua). */
void wh_partner_prune(wh_partner_t *p);
void wh_partner_touch(wh_partner_t *p);

/* webhook_send.c */

/* Starts the due requests and arms the retry timer. */
void wh_partner_pump(wh_partner_t *p);

/* Marks p disabled (status: the answer that disabled it; store: write the
 * mark to Redis) and dead-letters what it holds. */
void wh_partner_disable(wh_partner_t *p, int64_t at, int status, bool store);

/* Clears the disabled mark locally and resumes reading. */
void wh_partner_enable(wh_partner_t *p);

/* Hands what p holds back to the group (idle at once), for a stop. */
void wh_partner_release(wh_partner_t *p);

/* Queues a replay of one dead letter (entry [id, fields]). Returns 1 when
 * queued, 0 when already queued, or a negative errno. */
int wh_partner_replay(wh_partner_t *p, const redisReply *entry);

/* Cancels requests and frees every delivery of p (nothing is acknowledged). */
void wh_partner_drop_all(wh_partner_t *p);

/* The timer callback of p (due retries). */
void wh_partner_timer_cb(evutil_socket_t fd, short what, void *arg);

/* webhook_api.c: nw_webhooks_serve(). */

#endif
