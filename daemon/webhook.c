/* Newswire — webhook engine: the registry of partners (configuration and
 * Redis), their lifecycle, timers and metrics. */
#include "webhook_int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/rand.h>

#include "log.h"

int wh_spec_check(const nw_webhook_cfg_t *spec, nw_err_t *err)
{
    nw_webhook_target_t t;
    nw_topic_list_t *topics = NULL;
    unsigned char key[NW_WEBHOOK_KEY_MAX];
    size_t keylen;

    if (nw_webhook_target_parse(spec->url, &t, err) < 0)
        return -EINVAL;
    if (nw_topic_list_parse(spec->topics, strlen(spec->topics), 1024, true, "topics", &topics,
                            err) < 0)
        return -EINVAL;
    nw_topic_list_free(topics);
    if (nw_webhook_secret_decode(spec->secret, key, &keylen) < 0) {
        nw_err_set(err, "secret", "secret must be \"whsec_\" and the base64 of 24..64 bytes");
        return -EINVAL;
    }
    return 0;
}

int nw_webhooks_check_config(const nw_config_t *cfg, nw_err_t *err)
{
    for (unsigned i = 0; i < cfg->nwebhooks; i++) {
        nw_err_t e;
        if (wh_spec_check(&cfg->webhooks[i], &e) < 0) {
            nw_err_set(err, e.field, "webhook %s: %s", cfg->webhooks[i].name, e.message);
            return -EINVAL;
        }
    }
    return 0;
}

/* Copies the string member key of o into dst (1..size-1 bytes). */
static int json_str(const json_t *o, const char *key, char *dst, size_t size, bool required,
                    nw_err_t *err)
{
    const json_t *v = json_object_get(o, key);

    if (v == NULL && !required)
        return 0;
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) >= size) {
        nw_err_set(err, key, "%s must be a string of 1..%zu bytes", key, size - 1);
        return -EINVAL;
    }
    memcpy(dst, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

/* Reads the optional number member key of o, scaled by mult, within
 * min..max (in the scaled unit). */
static int json_num(const json_t *o, const char *key, double mult, unsigned min, unsigned max,
                    unsigned *out, nw_err_t *err)
{
    const json_t *v = json_object_get(o, key);
    double d;

    if (v == NULL)
        return 0;
    d = json_is_number(v) ? json_number_value(v) * mult : -1;
    if (!json_is_number(v) || isnan(d) || d < min || d > max) {
        nw_err_set(err, key, "%s must be a number within %g..%g", key, min / mult, max / mult);
        return -EINVAL;
    }
    *out = (unsigned)llround(d);
    return 0;
}

int wh_spec_from_json(const json_t *o, nw_webhook_cfg_t *spec, bool make_secret, nw_err_t *err)
{
    static const char *const known[] = {"name",    "url",         "topics",
                                        "secret",  "min_urgency", "concurrency",
                                        "timeout", "horizon",     "insecure"};
    const char *k;
    const json_t *v;
    size_t n;

    memset(spec, 0, sizeof(*spec));
    spec->min_urgency = 9;
    spec->concurrency = 4;
    spec->timeout_ms = 10000;
    spec->horizon_s = 86400;
    if (!json_is_object(o)) {
        nw_err_set(err, "", "the registration must be a JSON object");
        return -EINVAL;
    }
    json_object_foreach((json_t *)o, k, v)
    {
        bool ok = false;
        for (size_t i = 0; i < NW_ARRAY_LEN(known) && !ok; i++)
            ok = strcmp(k, known[i]) == 0;
        if (!ok) {
            nw_err_set(err, k, "unknown member \"%s\"", k);
            return -EINVAL;
        }
    }
    if (json_str(o, "name", spec->name, sizeof(spec->name), true, err) < 0)
        return -EINVAL;
    n = strlen(spec->name);
    if (strspn(spec->name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
        n) {
        nw_err_set(err, "name", "name must be 1..64 of [A-Za-z0-9_.-]");
        return -EINVAL;
    }
    if (json_str(o, "url", spec->url, sizeof(spec->url), true, err) < 0 ||
        json_str(o, "secret", spec->secret, sizeof(spec->secret), false, err) < 0)
        return -EINVAL;
    v = json_object_get(o, "topics");
    if (json_is_string(v)) {
        if (json_str(o, "topics", spec->topics, sizeof(spec->topics), true, err) < 0)
            return -EINVAL;
    } else if (json_is_array(v) && json_array_size(v) > 0) {
        size_t off = 0, i;
        const json_t *t;
        json_array_foreach(v, i, t)
        {
            size_t l = json_is_string(t) ? json_string_length(t) : 0;
            if (l == 0 || off + l + 2 > sizeof(spec->topics)) {
                nw_err_set(err, "topics", "topics must hold non-empty strings (%zu bytes in all)",
                           sizeof(spec->topics) - 1);
                return -EINVAL;
            }
            off += (size_t)snprintf(spec->topics + off, sizeof(spec->topics) - off, "%s%s",
                                    i ? "," : "", json_string_value(t));
        }
    } else {
        nw_err_set(err, "topics", "topics must be a non-empty array of topic patterns");
        return -EINVAL;
    }
    if (json_num(o, "min_urgency", 1, 1, 9, &spec->min_urgency, err) < 0 ||
        json_num(o, "concurrency", 1, 1, 256, &spec->concurrency, err) < 0 ||
        json_num(o, "timeout", 1000, 100, 300000, &spec->timeout_ms, err) < 0 ||
        json_num(o, "horizon", 1, 1, 30u * 86400u, &spec->horizon_s, err) < 0)
        return -EINVAL;
    v = json_object_get(o, "insecure");
    if (v != NULL && !json_is_boolean(v)) {
        nw_err_set(err, "insecure", "insecure must be true or false");
        return -EINVAL;
    }
    spec->insecure = json_is_true(v);
    if (spec->secret[0] == '\0' && !make_secret) {
        nw_err_set(err, "secret", "secret is required");
        return -EINVAL;
    }
    if (spec->secret[0] == '\0') {
        /* none given: a fresh one, as the spec's servers do */
        unsigned char key[32];
        char b64[48];
        if (RAND_bytes(key, sizeof(key)) != 1) {
            nw_err_set(err, "secret", "cannot generate a secret");
            return -EINVAL;
        }
        nw_webhook_base64(key, sizeof(key), b64);
        snprintf(spec->secret, sizeof(spec->secret), "whsec_%s", b64);
    }
    return wh_spec_check(spec, err);
}

json_t *wh_spec_to_json(const nw_webhook_cfg_t *spec, bool with_secret)
{
    json_t *topics = json_array();
    json_t *o;
    char *copy = strdup(spec->topics), *save = NULL;

    if (topics == NULL || copy == NULL) {
        json_decref(topics);
        free(copy);
        return NULL;
    }
    for (char *t = strtok_r(copy, ", ", &save); t != NULL; t = strtok_r(NULL, ", ", &save))
        json_array_append_new(topics, json_string(t));
    free(copy);
    o = json_pack("{s:s, s:s, s:o, s:i, s:i, s:f, s:i, s:b}", "name", spec->name, "url", spec->url,
                  "topics", topics, "min_urgency", (int)spec->min_urgency, "concurrency",
                  (int)spec->concurrency, "timeout", spec->timeout_ms / 1000.0, "horizon",
                  (int)spec->horizon_s, "insecure", spec->insecure);
    if (o != NULL && with_secret)
        json_object_set_new(o, "secret", json_string(spec->secret));
    return o;
}

void wh_partner_ref(wh_partner_t *p)
{
    p->refs++;
}

void wh_partner_unref(wh_partner_t *p)
{
    if (--p->refs > 0)
        return;
    NW_ASSERT(p->gone && p->head == NULL);
    if (p->timer != NULL)
        event_free(p->timer);
    nw_topic_list_free(p->topics);
    free(p);
}

/* Applies spec to p (new, or a changed registration): items held keep
 * their bodies; what they are sent with next follows the new spec. */
static int partner_set_spec(wh_partner_t *p, const nw_webhook_cfg_t *spec, bool from_config)
{
    nw_topic_list_t *topics;
    nw_err_t err;

    if (nw_webhook_target_parse(spec->url, &p->target, &err) < 0 ||
        nw_webhook_secret_decode(spec->secret, p->key, &p->keylen) < 0 ||
        nw_topic_list_parse(spec->topics, strlen(spec->topics), 1024, true, "topics", &topics,
                            &err) < 0)
        return -EINVAL;
    nw_topic_list_free(p->topics);
    p->topics = topics;
    p->spec = *spec;
    p->from_config = from_config;
    return 0;
}

static wh_partner_t *partner_new(nw_webhooks_t *wh, const nw_webhook_cfg_t *spec, bool from_config)
{
    wh_partner_t *p = calloc(1, sizeof(*p));

    if (p == NULL)
        return NULL;
    p->wh = wh;
    p->refs = 1;
    snprintf(p->group, sizeof(p->group), "%swh:%s", wh->cfg->redis_prefix, spec->name);
    snprintf(p->dead_key, sizeof(p->dead_key), "%s:dead", p->group);
    snprintf(p->claim_cursor, sizeof(p->claim_cursor), "0-0");
    p->timer = evtimer_new(wh->base, wh_partner_timer_cb, p);
    if (p->timer == NULL || partner_set_spec(p, spec, from_config) < 0) {
        if (p->timer == NULL)
            nw_log(NW_LOG_ERROR, "webhook", "out of memory", "webhook=%s", spec->name);
        else
            nw_log(NW_LOG_ERROR, "webhook", "invalid registration ignored", "webhook=%s",
                   spec->name);
        p->gone = true;
        wh_partner_unref(p);
        return NULL;
    }
    p->next = wh->partners;
    wh->partners = p;
    nw_log(NW_LOG_INFO, "webhook", "partner added", "webhook=%s url=%s source=%s", spec->name,
           spec->url, from_config ? "config" : "api");
    return p;
}

/* Takes p out of the registry: its requests are cancelled and what it
 * holds forgotten (still pending in the group, for whoever owns it next). */
static void partner_remove(wh_partner_t *p)
{
    nw_webhooks_t *wh = p->wh;

    for (wh_partner_t **pp = &wh->partners; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    nw_log(NW_LOG_INFO, "webhook", "partner removed", "webhook=%s", p->spec.name);
    wh_partner_drop_all(p);
    evtimer_del(p->timer);
    p->gone = true;
    wh_partner_unref(p);
}

wh_partner_t *wh_partner_find(nw_webhooks_t *wh, const char *name)
{
    for (wh_partner_t *p = wh->partners; p != NULL; p = p->next) {
        if (strcmp(p->spec.name, name) == 0)
            return p;
    }
    return NULL;
}

static const nw_webhook_cfg_t *config_spec(const nw_webhooks_t *wh, const char *name)
{
    for (unsigned i = 0; i < wh->cfg->nwebhooks; i++) {
        if (strcmp(wh->cfg->webhooks[i].name, name) == 0)
            return &wh->cfg->webhooks[i];
    }
    return NULL;
}

/* Creates, updates or keeps the partner of one wanted registration. */
static wh_partner_t *registry_want(nw_webhooks_t *wh, const nw_webhook_cfg_t *spec,
                                   bool from_config)
{
    wh_partner_t *p = wh_partner_find(wh, spec->name);

    if (p == NULL)
        return partner_new(wh, spec, from_config);
    if (p->from_config != from_config || memcmp(&p->spec, spec, sizeof(*spec)) != 0) {
        if (partner_set_spec(p, spec, from_config) < 0) {
            nw_log(NW_LOG_ERROR, "webhook", "invalid registration ignored", "webhook=%s",
                   spec->name);
            return p;
        }
        nw_log(NW_LOG_INFO, "webhook", "partner updated", "webhook=%s url=%s", spec->name,
               spec->url);
    }
    return p;
}

/* Makes the partners match the configuration plus the API registrations
 * (a configured name wins). disabled (n marks) replaces every partner's
 * disabled state, unless NULL (kept as it is). */
static void registry_apply(nw_webhooks_t *wh, const wh_disabled_t *disabled, size_t ndisabled)
{
    wh_partner_t *keep = NULL;

    /* the partners to keep are moved to a new list as they are wanted */
    for (unsigned i = 0; i < wh->cfg->nwebhooks + wh->napi; i++) {
        bool cfg_side = i < wh->cfg->nwebhooks;
        const nw_webhook_cfg_t *spec =
            cfg_side ? &wh->cfg->webhooks[i] : &wh->api_specs[i - wh->cfg->nwebhooks];
        wh_partner_t *p;

        if (!cfg_side && config_spec(wh, spec->name) != NULL)
            continue;
        p = registry_want(wh, spec, cfg_side);
        if (p == NULL)
            continue;
        for (wh_partner_t **pp = &wh->partners; *pp != NULL; pp = &(*pp)->next) {
            if (*pp == p) {
                *pp = p->next;
                break;
            }
        }
        p->next = keep;
        keep = p;
    }
    while (wh->partners != NULL)
        partner_remove(wh->partners);
    wh->partners = keep;
    if (disabled == NULL)
        return;
    for (wh_partner_t *p = wh->partners; p != NULL; p = p->next) {
        const wh_disabled_t *d = NULL;
        for (size_t i = 0; i < ndisabled && d == NULL; i++)
            d = strcmp(disabled[i].name, p->spec.name) == 0 ? &disabled[i] : NULL;
        if (d != NULL && !p->disabled)
            wh_partner_disable(p, d->at, d->status, false);
        else if (d == NULL && p->disabled)
            wh_partner_enable(p);
    }
}

/* A registry read in progress: the registrations, then the marks. */
typedef struct load_ctx {
    nw_webhooks_t *wh;
    wh_loaded_cb cb;
    void *arg;
    bool periodic;
    uint64_t seq;
    nw_webhook_cfg_t *specs;
    size_t nspecs;
} load_ctx_t;

static void load_done(load_ctx_t *c, bool ok)
{
    if (c->periodic)
        c->wh->loading = false;
    if (c->cb != NULL)
        c->cb(c->wh, ok, c->arg);
    free(c->specs);
    free(c);
}

static void disabled_cb(nw_redis_t *r, redisReply *reply, void *arg)
{
    load_ctx_t *c = arg;
    nw_webhooks_t *wh = c->wh;
    wh_disabled_t *marks;
    size_t n = 0;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        load_done(c, false);
        return;
    }
    if (c->seq <= wh->local_seq) {
        load_done(c, true); /* older than a local change: the local view is newer */
        return;
    }
    marks = calloc(reply->elements / 2 + 1, sizeof(*marks));
    if (marks == NULL) {
        load_done(c, false);
        return;
    }
    for (size_t i = 0; i + 1 < reply->elements; i += 2) {
        const redisReply *k = reply->element[i], *v = reply->element[i + 1];
        json_t *o = v->type == REDIS_REPLY_STRING ? json_loadb(v->str, v->len, 0, NULL) : NULL;
        if (k->type == REDIS_REPLY_STRING && k->len < sizeof(marks[n].name)) {
            memcpy(marks[n].name, k->str, k->len + 1);
            marks[n].at = (int64_t)json_integer_value(json_object_get(o, "at"));
            marks[n].status = (int)json_integer_value(json_object_get(o, "status"));
            n++;
        }
        json_decref(o);
    }
    free(wh->api_specs);
    wh->api_specs = c->specs;
    wh->napi = c->nspecs;
    c->specs = NULL;
    registry_apply(wh, marks, n);
    free(marks);
    if (!wh->synced) {
        wh->synced = true;
        nw_log(NW_LOG_INFO, "webhook", "registry loaded", "partners=%zu api=%zu",
               (size_t)wh->cfg->nwebhooks + wh->napi, wh->napi);
    }
    for (wh_partner_t *p = wh->partners; p != NULL; p = p->next) {
        if (!p->group_ready && !p->disabled && c->seq > p->group_after)
            wh_partner_ensure_group(p);
        wh_partner_fetch(p);
    }
    load_done(c, true);
}

static void registrations_cb(nw_redis_t *r, redisReply *reply, void *arg)
{
    load_ctx_t *c = arg;
    const char *argv[] = {"HGETALL", c->wh->disabled_key};
    size_t lens[] = {7, strlen(c->wh->disabled_key)};

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        if (reply != NULL)
            nw_log(NW_LOG_ERROR, "webhook", "cannot read the registrations", "key=%s error=\"%s\"",
                   c->wh->hash_key, reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected");
        load_done(c, false);
        return;
    }
    c->specs = calloc(reply->elements / 2 + 1, sizeof(*c->specs));
    if (c->specs == NULL) {
        load_done(c, false);
        return;
    }
    for (size_t i = 0; i + 1 < reply->elements; i += 2) {
        const redisReply *v = reply->element[i + 1];
        json_t *o = v->type == REDIS_REPLY_STRING ? json_loadb(v->str, v->len, 0, NULL) : NULL;
        nw_err_t err;
        if (o != NULL && wh_spec_from_json(o, &c->specs[c->nspecs], false, &err) == 0)
            c->nspecs++;
        else
            nw_log(NW_LOG_WARN, "webhook", "ignoring an invalid stored registration",
                   "name=%.64s field=%s", reply->element[i]->str ? reply->element[i]->str : "",
                   o ? err.field : "json");
        json_decref(o);
    }
    if (nw_redis_command(r, disabled_cb, c, 0, 2, argv, lens) < 0)
        load_done(c, false);
}

static int registry_read(nw_webhooks_t *wh, wh_loaded_cb cb, void *arg, bool periodic)
{
    const char *argv[] = {"HGETALL", wh->hash_key};
    size_t lens[] = {7, strlen(wh->hash_key)};
    load_ctx_t *c = calloc(1, sizeof(*c));
    int rc;

    if (c == NULL)
        return -ENOMEM;
    c->wh = wh;
    c->cb = cb;
    c->arg = arg;
    c->periodic = periodic;
    c->seq = ++wh->load_seq;
    rc = nw_redis_command(wh->conn, registrations_cb, c, 0, 2, argv, lens);
    if (rc < 0) {
        free(c);
        return rc;
    }
    if (periodic)
        wh->loading = true;
    return 0;
}

int wh_registry_load(nw_webhooks_t *wh, wh_loaded_cb cb, void *arg)
{
    return registry_read(wh, cb, arg, false);
}

int wh_registry_upsert(nw_webhooks_t *wh, const nw_webhook_cfg_t *spec)
{
    wh_partner_t *p;
    size_t i;

    for (i = 0; i < wh->napi && strcmp(wh->api_specs[i].name, spec->name) != 0; i++)
        ;
    if (i == wh->napi) {
        nw_webhook_cfg_t *v = realloc(wh->api_specs, (wh->napi + 1) * sizeof(*v));
        if (v == NULL)
            return -ENOMEM;
        wh->api_specs = v;
        wh->napi++;
    }
    wh->api_specs[i] = *spec;
    wh->local_seq = wh->load_seq;
    registry_apply(wh, NULL, 0);
    p = wh_partner_find(wh, spec->name);
    if (p != NULL && p->disabled) {
        wh_partner_enable(p);
    } else if (p != NULL && !p->group_ready) {
        p->group_after = 0; /* the script has just made it */
        wh_partner_ensure_group(p);
    } else if (p != NULL) {
        wh_partner_fetch(p);
    }
    return 0;
}

void wh_registry_forget(nw_webhooks_t *wh, const char *name)
{
    for (size_t i = 0; i < wh->napi; i++) {
        if (strcmp(wh->api_specs[i].name, name) == 0) {
            wh->api_specs[i] = wh->api_specs[--wh->napi];
            break;
        }
    }
    wh->local_seq = wh->load_seq;
    registry_apply(wh, NULL, 0);
}

/* The engine's period: registry reads, idle partners, claims, touches. */
static unsigned tick_ms(const nw_webhooks_t *wh)
{
    return NW_MIN(wh->cfg->webhook_poll_ms, wh->cfg->webhook_claim_idle_ms / 3);
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    nw_webhooks_t *wh = arg;
    int64_t now = nw_now_ms();
    unsigned t = wh->synced ? tick_ms(wh) : NW_MIN(tick_ms(wh), 100u); /* start promptly */
    struct timeval tv = {t / 1000, (t % 1000) * 1000};

    if (!wh->stopping && !wh->loading && nw_redis_is_up(wh->conn))
        registry_read(wh, NULL, NULL, true);
    for (wh_partner_t *p = wh->partners; p != NULL; p = p->next) {
        if (now - p->last_touch_ms >= (int64_t)wh->cfg->webhook_claim_idle_ms / 3)
            wh_partner_touch(p);
        if (!wh->stopping) {
            if (now - p->last_claim_ms >= (int64_t)wh->cfg->webhook_claim_idle_ms / 2)
                wh_partner_claim(p);
            if (now - p->last_prune_ms >= (int64_t)wh->cfg->webhook_claim_idle_ms)
                wh_partner_prune(p);
            wh_partner_fetch(p);
        }
    }
    evtimer_add(wh->tick_ev, &tv);
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
    nw_webhooks_t *wh = arg;

    for (wh_partner_t *p = wh->partners; p != NULL; p = p->next)
        wh_partner_fetch(p);
}

bool nw_webhooks_ready(nw_webhooks_t *wh)
{
    if (wh->ready)
        return true;
    if (!wh->synced)
        return false;
    for (const wh_partner_t *p = wh->partners; p != NULL; p = p->next) {
        if (!p->disabled && !p->group_ready)
            return false;
    }
    wh->ready = true;
    return true;
}

void nw_webhooks_kick(nw_webhooks_t *wh)
{
    if (wh != NULL && !wh->stopping)
        event_active(wh->kick_ev, EV_TIMEOUT, 0);
}

void nw_webhooks_reconfigure(nw_webhooks_t *wh)
{
    nw_err_t err;

    if (nw_webhooks_check_config(wh->cfg, &err) < 0) {
        nw_log(NW_LOG_ERROR, "webhook", "reload: invalid webhook kept out", "error=\"%s\"",
               err.message);
    }
    registry_apply(wh, NULL, 0);
    for (wh_partner_t *p = wh->partners; p != NULL; p = p->next)
        wh_partner_fetch(p);
}

void nw_webhooks_stop(nw_webhooks_t *wh)
{
    if (wh == NULL || wh->stopping)
        return;
    wh->stopping = true;
    for (wh_partner_t *p = wh->partners; p != NULL; p = p->next)
        wh_partner_release(p);
}

bool nw_webhooks_drained(const nw_webhooks_t *wh)
{
    if (wh == NULL)
        return true;
    for (const wh_partner_t *p = wh->partners; p != NULL; p = p->next) {
        if (p->in_flight > 0)
            return false;
    }
    return wh->ops == 0;
}

void nw_webhooks_render_metrics(const nw_webhooks_t *wh, struct evbuffer *out)
{
    const char *names[NW_MAX_WEBHOOKS * 4];
    const nw_webhook_metrics_t *m[NW_MAX_WEBHOOKS * 4];
    size_t n = 0;

    for (const wh_partner_t *p = wh->partners; p != NULL && n < NW_ARRAY_LEN(names); p = p->next) {
        names[n] = p->spec.name;
        m[n++] = &p->m;
    }
    nw_metrics_render_webhooks(out, n, names, m);
}

nw_webhooks_t *nw_webhooks_new(struct event_base *base, const nw_config_t *cfg,
                               nw_metrics_t *metrics, nw_redis_t *conn,
                               const nw_webhook_scripts_t *scripts)
{
    nw_webhooks_t *wh = calloc(1, sizeof(*wh));
    unsigned char rnd[4];
    char host[64] = "host";
    struct timeval tv = {0, 0};

    if (wh == NULL)
        return NULL;
    wh->base = base;
    wh->cfg = cfg;
    wh->metrics = metrics;
    wh->conn = conn;
    wh->scripts = *scripts;
    /* one consumer per process: a restarted instance is a new consumer,
     * and takes over what its predecessor left once it is idle */
    gethostname(host, sizeof(host) - 1);
    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
        memset(rnd, 0, sizeof(rnd));
    snprintf(wh->consumer, sizeof(wh->consumer), "%s-%d-%02x%02x%02x%02x", host, (int)getpid(),
             rnd[0], rnd[1], rnd[2], rnd[3]);
    snprintf(wh->wire_key, sizeof(wh->wire_key), "%swire", cfg->redis_prefix);
    snprintf(wh->hash_key, sizeof(wh->hash_key), "%swebhooks", cfg->redis_prefix);
    snprintf(wh->disabled_key, sizeof(wh->disabled_key), "%swebhooks:disabled", cfg->redis_prefix);
    wh->http = nw_webhook_http_new(base);
    wh->tick_ev = evtimer_new(base, tick_cb, wh);
    wh->kick_ev = event_new(base, -1, 0, kick_cb, wh);
    if (wh->http == NULL || wh->tick_ev == NULL || wh->kick_ev == NULL)
        goto fail;
    /* configured partners exist at once; they read once the registry (their
     * disabled marks) is known */
    registry_apply(wh, NULL, 0);
    evtimer_add(wh->tick_ev, &tv);
    return wh;
fail:
    nw_webhooks_free(wh);
    return NULL;
}

void nw_webhooks_free(nw_webhooks_t *wh)
{
    if (wh == NULL)
        return;
    while (wh->partners != NULL)
        partner_remove(wh->partners);
    if (wh->tick_ev != NULL)
        event_free(wh->tick_ev);
    if (wh->kick_ev != NULL)
        event_free(wh->kick_ev);
    nw_webhook_http_free(wh->http);
    free(wh->api_specs);
    free(wh);
}
