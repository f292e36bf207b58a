/* Newswire — publisher keys, grants and rates. */
#include "publishers.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

typedef struct publisher {
    char name[65];
    unsigned char key_sha256[32];
    nw_topic_list_t *topics;
    unsigned rate;
    bool admin;
    double tokens;    /* rate bucket */
    uint64_t last_ms; /* last refill, CLOCK_MONOTONIC */
} publisher_t;

struct nw_publishers {
    publisher_t *v;
    unsigned n;
};

nw_publishers_t *nw_publishers_new(const nw_config_t *cfg, nw_err_t *err)
{
    nw_publishers_t *p = calloc(1, sizeof(*p));

    if (p == NULL ||
        (cfg->npublishers > 0 && (p->v = calloc(cfg->npublishers, sizeof(*p->v))) == NULL)) {
        free(p);
        nw_err_set(err, "", "out of memory");
        return NULL;
    }
    for (unsigned i = 0; i < cfg->npublishers; i++) {
        const nw_publisher_cfg_t *c = &cfg->publishers[i];
        publisher_t *d = &p->v[i];
        nw_err_t terr;

        memcpy(d->name, c->name, sizeof(d->name));
        memcpy(d->key_sha256, c->key_sha256, sizeof(d->key_sha256));
        d->rate = c->rate;
        d->admin = c->admin;
        d->tokens = c->rate;
        p->n++;
        if (nw_topic_list_parse(c->topics, strlen(c->topics), 1024, true, "topics", &d->topics,
                                &terr) < 0) {
            nw_err_set(err, "topics", "publisher %s: %s", c->name, terr.message);
            nw_publishers_free(p);
            return NULL;
        }
    }
    return p;
}

void nw_publishers_free(nw_publishers_t *p)
{
    if (p == NULL)
        return;
    for (unsigned i = 0; i < p->n; i++)
        nw_topic_list_free(p->v[i].topics);
    free(p->v);
    free(p);
}

bool nw_publishers_empty(const nw_publishers_t *p)
{
    return p->n == 0;
}

bool nw_peer_is_loopback(const char *peer)
{
    if (strncmp(peer, "127.", 4) == 0)
        return true;
    return strncmp(peer, "[::1]:", 6) == 0 || strncmp(peer, "[::ffff:127.", 12) == 0;
}

nw_pub_verdict_t nw_publishers_identify(const nw_publishers_t *p, const char *authorization,
                                        const char *peer, const char **who)
{
    unsigned char digest[32];
    unsigned int dlen = 0;
    const char *key;
    const publisher_t *found = NULL;

    if (p->n == 0) {
        *who = "loopback";
        return nw_peer_is_loopback(peer) ? NW_PUB_OK : NW_PUB_LOOPBACK;
    }
    if (authorization == NULL || strncasecmp(authorization, "Bearer ", 7) != 0)
        return NW_PUB_MISSING;
    key = authorization + 7;
    while (*key == ' ')
        key++;
    if (*key == '\0' || EVP_Digest(key, strlen(key), digest, &dlen, EVP_sha256(), NULL) != 1 ||
        dlen != 32)
        return NW_PUB_UNKNOWN;
    /* Compare with every key, in constant time each, without stopping at
     * the match: the time taken says nothing about which key matched. */
    for (unsigned i = 0; i < p->n; i++) {
        if (CRYPTO_memcmp(digest, p->v[i].key_sha256, 32) == 0)
            found = &p->v[i];
    }
    if (found == NULL)
        return NW_PUB_UNKNOWN;
    *who = found->name;
    return NW_PUB_OK;
}

bool nw_publishers_is_admin(const nw_publishers_t *p, const char *who)
{
    if (p->n == 0)
        return true; /* loopback-only mode: identify() let only loopback in */
    for (unsigned i = 0; i < p->n; i++) {
        if (strcmp(p->v[i].name, who) == 0)
            return p->v[i].admin;
    }
    return false;
}

nw_pub_verdict_t nw_publishers_admit(nw_publishers_t *p, const char *who,
                                     const nw_topic_list_t *list, const char **topic,
                                     unsigned *retry_s)
{
    publisher_t *pub = NULL;
    uint64_t now;

    if (p->n == 0)
        return NW_PUB_OK; /* loopback mode: no grant, no rate */
    for (unsigned i = 0; i < p->n && pub == NULL; i++) {
        if (strcmp(p->v[i].name, who) == 0)
            pub = &p->v[i];
    }
    if (pub == NULL)
        return NW_PUB_UNKNOWN;
    for (size_t t = 0; t < list->n; t++) {
        bool ok = false;
        for (size_t g = 0; g < pub->topics->n && !ok; g++)
            ok = nw_topic_pattern_covers(pub->topics->v[g], list->v[t]);
        if (!ok) {
            *topic = list->v[t];
            return NW_PUB_FORBIDDEN;
        }
    }
    now = (uint64_t)nw_mono_ms();
    if (pub->last_ms != 0)
        pub->tokens += (double)(now - pub->last_ms) * pub->rate / 1000.0;
    pub->last_ms = now;
    if (pub->tokens > pub->rate)
        pub->tokens = pub->rate;
    if (pub->tokens < 1.0) {
        double wait = (1.0 - pub->tokens) / pub->rate;
        *retry_s = (unsigned)wait + 1;
        return NW_PUB_RATE;
    }
    pub->tokens -= 1.0;
    return NW_PUB_OK;
}
