/* Newswire — configuration sections: [publisher NAME] (who may publish,
 * where, how fast, whether it manages webhooks) and [webhook NAME] (a
 * partner that gets items by signed HTTP POST). Each key of a section is
 * checked here with its bounds; what needs more than the text (topic
 * patterns, webhook secrets and URLs) is checked by the modules that use
 * them (publishers.c, webhook.c). */
#include "config_int.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Parses 64 hex digits into 32 bytes. */
static int parse_sha256(const char *hex, unsigned char out[32])
{
    if (strlen(hex) != 64 || strspn(hex, "0123456789abcdefABCDEF") != 64)
        return -EINVAL;
    for (int i = 0; i < 32; i++) {
        char b[3] = {hex[2 * i], hex[2 * i + 1], '\0'};
        out[i] = (unsigned char)strtoul(b, NULL, 16);
    }
    return 0;
}

/* True if name is 1..64 of [A-Za-z0-9_.-] (publisher and webhook names:
 * they appear in logs, metric labels and Redis keys). */
static bool section_name_ok(const char *name)
{
    size_t n = strlen(name);

    return n > 0 && n <= 64 &&
           strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

/* Starts a [publisher NAME] section. */
static int publisher_begin(nw_config_t *cfg, const char *name, nw_err_t *err)
{
    if (!section_name_ok(name)) {
        nw_err_set(err, "publisher", "publisher name must be 1..64 of [A-Za-z0-9_.-]");
        return -EINVAL;
    }
    for (unsigned i = 0; i < cfg->npublishers; i++) {
        if (strcmp(cfg->publishers[i].name, name) == 0) {
            nw_err_set(err, "publisher", "publisher %s is defined twice", name);
            return -EINVAL;
        }
    }
    if (cfg->npublishers == NW_MAX_PUBLISHERS) {
        nw_err_set(err, "publisher", "more than %d publishers", NW_MAX_PUBLISHERS);
        return -EINVAL;
    }
    memset(&cfg->publishers[cfg->npublishers], 0, sizeof(cfg->publishers[0]));
    memcpy(cfg->publishers[cfg->npublishers].name, name, strlen(name) + 1);
    cfg->publishers[cfg->npublishers].rate = 10;
    cfg->npublishers++;
    return 0;
}

/* Parses an unsigned section value within min..max; bare numbers are in
 * the key's unit, units (may be NULL) gives the accepted suffixes. */
static int section_uint(const char *value, const nw_config_unit_t *units, size_t nunits,
                        unsigned long long min, unsigned long long max, unsigned *out)
{
    unsigned long long v;

    if (nw_config_parse_scaled(value, units, nunits, 1, &v) < 0 || v < min || v > max)
        return -EINVAL;
    *out = (unsigned)v;
    return 0;
}

/* Parses a 0/1 flag. */
static int section_flag(const char *value, bool *out)
{
    if (strcmp(value, "0") != 0 && strcmp(value, "1") != 0)
        return -EINVAL;
    *out = value[0] == '1';
    return 0;
}

/* Sets a key of the current publisher section. */
static int publisher_set(nw_publisher_cfg_t *p, const char *key, const char *value, nw_err_t *err)
{
    if (strcmp(key, "key_sha256") == 0) {
        if (parse_sha256(value, p->key_sha256) < 0) {
            nw_err_set(err, key, "publisher %s: key_sha256 must be 64 hex digits", p->name);
            return -EINVAL;
        }
        p->key_sha256_set = true;
        return 0;
    }
    if (strcmp(key, "topics") == 0) {
        if (strlen(value) == 0 || strlen(value) >= sizeof(p->topics)) {
            nw_err_set(err, key, "publisher %s: topics must be 1..%zu bytes", p->name,
                       sizeof(p->topics) - 1);
            return -EINVAL;
        }
        memcpy(p->topics, value, strlen(value) + 1);
        return 0;
    }
    if (strcmp(key, "rate") == 0) {
        if (section_uint(value, NULL, 0, 1, 100000, &p->rate) < 0) {
            nw_err_set(err, key, "publisher %s: rate must be 1..100000 items per second", p->name);
            return -EINVAL;
        }
        return 0;
    }
    if (strcmp(key, "admin") == 0) {
        if (section_flag(value, &p->admin) < 0) {
            nw_err_set(err, key, "publisher %s: admin must be 0 or 1", p->name);
            return -EINVAL;
        }
        return 0;
    }
    nw_err_set(err, key, "publisher %s: unknown key \"%s\" (key_sha256, topics, rate, admin)",
               p->name, key);
    return -ENOENT;
}

/* Checks that a finished publisher section has what it needs. */
static int publisher_end(const nw_publisher_cfg_t *p, nw_err_t *err)
{
    if (!p->key_sha256_set) {
        nw_err_set(err, "key_sha256", "publisher %s: key_sha256 is required", p->name);
        return -EINVAL;
    }
    if (p->topics[0] == '\0') {
        nw_err_set(err, "topics", "publisher %s: topics is required", p->name);
        return -EINVAL;
    }
    return 0;
}

/* Starts a [webhook NAME] section, with the defaults of its optional keys. */
static int webhook_begin(nw_config_t *cfg, const char *name, nw_err_t *err)
{
    nw_webhook_cfg_t *w;

    if (!section_name_ok(name)) {
        nw_err_set(err, "webhook", "webhook name must be 1..64 of [A-Za-z0-9_.-]");
        return -EINVAL;
    }
    for (unsigned i = 0; i < cfg->nwebhooks; i++) {
        if (strcmp(cfg->webhooks[i].name, name) == 0) {
            nw_err_set(err, "webhook", "webhook %s is defined twice", name);
            return -EINVAL;
        }
    }
    if (cfg->nwebhooks == NW_MAX_WEBHOOKS) {
        nw_err_set(err, "webhook", "more than %d webhooks", NW_MAX_WEBHOOKS);
        return -EINVAL;
    }
    w = &cfg->webhooks[cfg->nwebhooks++];
    memset(w, 0, sizeof(*w));
    memcpy(w->name, name, strlen(name) + 1);
    w->min_urgency = 9;
    w->concurrency = 4;
    w->timeout_ms = 10000;
    w->horizon_s = 86400;
    return 0;
}

/* Copies a string value of a webhook section (1..size-1 bytes). */
static int webhook_str(const nw_webhook_cfg_t *w, const char *key, const char *value, char *dst,
                       size_t size, nw_err_t *err)
{
    if (strlen(value) == 0 || strlen(value) >= size) {
        nw_err_set(err, key, "webhook %s: %s must be 1..%zu bytes", w->name, key, size - 1);
        return -EINVAL;
    }
    memcpy(dst, value, strlen(value) + 1);
    return 0;
}

/* Sets a key of the current webhook section. */
static int webhook_set(nw_webhook_cfg_t *w, const char *key, const char *value, nw_err_t *err)
{
    if (strcmp(key, "url") == 0) {
        if (strncmp(value, "http://", 7) != 0 && strncmp(value, "https://", 8) != 0) {
            nw_err_set(err, key, "webhook %s: url must start with http:// or https://", w->name);
            return -EINVAL;
        }
        return webhook_str(w, key, value, w->url, sizeof(w->url), err);
    }
    if (strcmp(key, "topics") == 0)
        return webhook_str(w, key, value, w->topics, sizeof(w->topics), err);
    if (strcmp(key, "secret") == 0)
        return webhook_str(w, key, value, w->secret, sizeof(w->secret), err);
    if (strcmp(key, "min_urgency") == 0) {
        if (section_uint(value, NULL, 0, 1, 9, &w->min_urgency) < 0) {
            nw_err_set(err, key, "webhook %s: min_urgency must be 1..9", w->name);
            return -EINVAL;
        }
        return 0;
    }
    if (strcmp(key, "concurrency") == 0) {
        if (section_uint(value, NULL, 0, 1, 256, &w->concurrency) < 0) {
            nw_err_set(err, key, "webhook %s: concurrency must be 1..256", w->name);
            return -EINVAL;
        }
        return 0;
    }
    if (strcmp(key, "timeout") == 0) {
        if (section_uint(value, nw_config_ms_units, NW_CONFIG_MS_UNITS, 100, 300000,
                         &w->timeout_ms) < 0) {
            nw_err_set(err, key, "webhook %s: timeout must be 100ms..300s (ms, or a suffix)",
                       w->name);
            return -EINVAL;
        }
        return 0;
    }
    if (strcmp(key, "horizon") == 0) {
        if (section_uint(value, nw_config_s_units, NW_CONFIG_S_UNITS, 1, 30u * 86400u,
                         &w->horizon_s) < 0) {
            nw_err_set(err, key, "webhook %s: horizon must be 1s..30d (s, or a suffix)", w->name);
            return -EINVAL;
        }
        return 0;
    }
    if (strcmp(key, "insecure") == 0) {
        if (section_flag(value, &w->insecure) < 0) {
            nw_err_set(err, key, "webhook %s: insecure must be 0 or 1", w->name);
            return -EINVAL;
        }
        return 0;
    }
    nw_err_set(err, key,
               "webhook %s: unknown key \"%s\" (url, topics, secret, min_urgency, concurrency, "
               "timeout, horizon, insecure)",
               w->name, key);
    return -ENOENT;
}

/* Checks that a finished webhook section has what it needs. */
static int webhook_end(const nw_webhook_cfg_t *w, nw_err_t *err)
{
    static const char *const required[] = {"url", "topics", "secret"};
    const char *values[] = {w->url, w->topics, w->secret};

    for (size_t i = 0; i < NW_ARRAY_LEN(required); i++) {
        if (values[i][0] == '\0') {
            nw_err_set(err, required[i], "webhook %s: %s is required", w->name, required[i]);
            return -EINVAL;
        }
    }
    return 0;
}

int nw_config_section_end(const nw_config_section_t *sec, nw_err_t *err)
{
    if (sec->pub != NULL)
        return publisher_end(sec->pub, err);
    if (sec->hook != NULL)
        return webhook_end(sec->hook, err);
    return 0;
}

int nw_config_section_set(nw_config_section_t *sec, const char *key, const char *value,
                          nw_err_t *err)
{
    if (sec->pub != NULL)
        return publisher_set(sec->pub, key, value, err);
    return webhook_set(sec->hook, key, value, err);
}

int nw_config_section_begin(nw_config_t *cfg, char *line, nw_config_section_t *sec, nw_err_t *err)
{
    char *close = strchr(line, ']');

    sec->pub = NULL;
    sec->hook = NULL;
    if (close == NULL || nw_config_trim(close + 1)[0] != '\0') {
        nw_err_set(err, "config", "expected \"[publisher NAME]\" or \"[webhook NAME]\"");
        return -EINVAL;
    }
    *close = '\0';
    if (strncmp(line, "[publisher ", 11) == 0) {
        if (publisher_begin(cfg, nw_config_trim(line + 11), err) < 0)
            return -EINVAL;
        sec->pub = &cfg->publishers[cfg->npublishers - 1];
        return 0;
    }
    if (strncmp(line, "[webhook ", 9) == 0) {
        if (webhook_begin(cfg, nw_config_trim(line + 9), err) < 0)
            return -EINVAL;
        sec->hook = &cfg->webhooks[cfg->nwebhooks - 1];
        return 0;
    }
    nw_err_set(err, "config", "expected \"[publisher NAME]\" or \"[webhook NAME]\"");
    return -EINVAL;
}

static void dump_publishers(const nw_config_t *cfg, FILE *out)
{
    for (unsigned i = 0; i < cfg->npublishers; i++) {
        const nw_publisher_cfg_t *p = &cfg->publishers[i];
        fprintf(out, "\n[publisher %s]\nkey_sha256 = ", p->name);
        for (int b = 0; b < 32; b++)
            fprintf(out, "%02x", p->key_sha256[b]);
        fprintf(out, "\ntopics = \"%s\"\nrate = %u\nadmin = %d\n", p->topics, p->rate,
                p->admin ? 1 : 0);
    }
}

/* Writes the [webhook] sections after the publishers (the secret masked). */
static void dump_webhooks(const nw_config_t *cfg, FILE *out)
{
    for (unsigned i = 0; i < cfg->nwebhooks; i++) {
        const nw_webhook_cfg_t *w = &cfg->webhooks[i];
        fprintf(out,
                "\n[webhook %s]\nurl = \"%s\"\ntopics = \"%s\"\nsecret = (set)\n"
                "min_urgency = %u\nconcurrency = %u\ntimeout = %ums\nhorizon = %us\n"
                "insecure = %d\n",
                w->name, w->url, w->topics, w->min_urgency, w->concurrency, w->timeout_ms,
                w->horizon_s, w->insecure ? 1 : 0);
    }
}

void nw_config_dump_sections(const nw_config_t *cfg, FILE *out)
{
    dump_publishers(cfg, out);
    dump_webhooks(cfg, out);
}
