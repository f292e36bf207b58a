/* Newswire — who may publish: API keys, granted topics, rates.
 *
 * Each [publisher NAME] of the config holds the SHA-256 of an API key, the
 * topic patterns the key may publish to and a rate (items per second, with
 * a burst of the same count). A request presents the key as
 * "Authorization: Bearer <key>"; its hash is compared with every configured
 * hash in constant time. With no publisher configured, the API serves
 * loopback peers only. Used on the core thread only; replaced as a whole on
 * reload (SIGHUP). */
#ifndef NW_PUBLISHERS_H
#define NW_PUBLISHERS_H

#include <stdbool.h>

#include "config.h"
#include "topic.h"

typedef struct nw_publishers nw_publishers_t;

typedef enum nw_pub_verdict {
    NW_PUB_OK = 0,
    NW_PUB_MISSING,   /* 401: no Authorization: Bearer */
    NW_PUB_UNKNOWN,   /* 401: no publisher has this key */
    NW_PUB_LOOPBACK,  /* 403: no publisher configured and the peer is not loopback */
    NW_PUB_FORBIDDEN, /* 403: a topic outside the grant */
    NW_PUB_RATE,      /* 429: over the publisher's rate */
    NW_PUB_NOT_ADMIN, /* 403: /v1/webhooks with a key that is not admin */
} nw_pub_verdict_t;

/* Builds the table from cfg. Returns NULL with err naming the publisher at
 * fault (bad topic patterns). */
nw_publishers_t *nw_publishers_new(const nw_config_t *cfg, nw_err_t *err);

void nw_publishers_free(nw_publishers_t *p);

/* True when no publisher is configured (loopback-only mode). */
bool nw_publishers_empty(const nw_publishers_t *p);

/* Identifies the caller from the Authorization header (may be NULL) and
 * the peer ("addr:port" or "[v6]:port"). On NW_PUB_OK, *who is the
 * publisher's name ("loopback" in loopback-only mode). */
nw_pub_verdict_t nw_publishers_identify(const nw_publishers_t *p, const char *authorization,
                                        const char *peer, const char **who);

/* True if who (a name nw_publishers_identify() returned) may manage
 * webhooks: a publisher with admin = 1, or any loopback peer in
 * loopback-only mode. */
bool nw_publishers_is_admin(const nw_publishers_t *p, const char *who);

/* Checks that who may publish to every topic of list (a topic outside the
 * grant is named in *topic) and takes one item from its rate (*retry_s
 * says when to retry). */
nw_pub_verdict_t nw_publishers_admit(nw_publishers_t *p, const char *who,
                                     const nw_topic_list_t *list, const char **topic,
                                     unsigned *retry_s);

/* True if peer ("addr:port", "[v6]:port") is a loopback address. */
bool nw_peer_is_loopback(const char *peer);

#endif
