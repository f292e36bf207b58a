/* Newswire — addresses in the configuration: listeners ("host:port"),
 * Redis ("redis://", "unix:") and Redis Sentinel ("sentinel://"). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int nw_config_parse_listen(const char *s, nw_listen_addr_t *out_)
{
    /* *out_ is written only on success; zeroed, so that two parses of one
     * address compare equal byte for byte (a reload's static-key check) */
    nw_listen_addr_t tmp, *out = &tmp;
    const char *colon;
    size_t hlen;
    char *end;
    long port;

    memset(&tmp, 0, sizeof(tmp));

    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (rb == NULL || rb[1] != ':')
            return -EINVAL;
        hlen = (size_t)(rb - s - 1);
        if (hlen == 0 || hlen >= sizeof(out->host))
            return -EINVAL;
        memcpy(out->host, s + 1, hlen);
        out->host[hlen] = '\0';
        colon = rb + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL)
            return -EINVAL;
        hlen = (size_t)(colon - s);
        if (memchr(s, ':', hlen) != NULL || hlen >= sizeof(out->host))
            return -EINVAL;
        if (hlen == 0)
            snprintf(out->host, sizeof(out->host), "127.0.0.1");
        else {
            memcpy(out->host, s, hlen);
            out->host[hlen] = '\0';
        }
    }
    if (!isdigit((unsigned char)colon[1]))
        return -EINVAL;
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (errno != 0 || *end != '\0' || port < 0 || port > 65535)
        return -EINVAL;
    out->port = (int)port;
    *out_ = tmp;
    return 0;
}

/* Parses a database number 0..15 (the whole of s). */
static int parse_db(const char *s, int *db)
{
    char *end;
    long v;

    if (!isdigit((unsigned char)s[0]))
        return -EINVAL;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < 0 || v > 15)
        return -EINVAL;
    *db = (int)v;
    return 0;
}

/* Parses the n bytes at p as "host[:port]" or "[v6][:port]" (the listen
 * grammar), defport when the port is missing; port 0 is refused. */
static int parse_host_port(const char *p, size_t n, int defport, nw_listen_addr_t *out)
{
    char hp[NW_CONFIG_STR_MAX + 8];

    if (n == 0 || n >= sizeof(hp) - 6)
        return -EINVAL;
    memcpy(hp, p, n);
    hp[n] = '\0';
    if (strchr(hp, ':') == NULL || (hp[0] == '[' && hp[n - 1] == ']'))
        snprintf(hp + n, sizeof(hp) - n, ":%d", defport);
    if (nw_config_parse_listen(hp, out) < 0 || out->port == 0)
        return -EINVAL;
    return 0;
}

/* Reads an optional userinfo ("[user]:password@" or "password@") before end
 * (or the end of the string) at *p into a->password and moves *p past it.
 * Only the password is used. */
static int parse_userinfo(const char **p, const char *end, nw_redis_addr_t *a)
{
    const char *at = strchr(*p, '@');
    const char *pc, *pw;
    size_t pwlen;

    if (at == NULL || (end != NULL && at > end))
        return 0;
    pc = memchr(*p, ':', (size_t)(at - *p));
    pw = pc ? pc + 1 : *p;
    pwlen = (size_t)(at - pw);
    if (pwlen >= sizeof(a->password))
        return -EINVAL;
    memcpy(a->password, pw, pwlen);
    *p = at + 1;
    return 0;
}

/* True for a Sentinel master name: 1..64 of [A-Za-z0-9._-]. */
static bool master_name_ok(const char *s, size_t n)
{
    if (n == 0 || n >= NW_SENTINEL_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)s[i]) && strchr("._-", s[i]) == NULL)
            return false;
    }
    return true;
}

/* Parses what follows "sentinel://": "[:password@]host[:port][,host[:port]]
 * .../master-name[/db]" (port 26379 by default). The password and db are
 * those of the master and replicas; the Sentinels are asked without one. */
static int parse_sentinel_url(const char *p, nw_redis_addr_t *out)
{
    nw_redis_addr_t a;
    const char *slash = strchr(p, '/');
    const char *name, *name_end;

    memset(&a, 0, sizeof(a));
    if (slash == NULL || parse_userinfo(&p, slash, &a) < 0)
        return -EINVAL;
    while (p < slash) {
        const char *comma = memchr(p, ',', (size_t)(slash - p));
        const char *e = comma ? comma : slash;
        if (a.nsentinels == NW_SENTINELS_MAX ||
            parse_host_port(p, (size_t)(e - p), 26379, &a.sentinels[a.nsentinels]) < 0)
            return -EINVAL;
        a.nsentinels++;
        p = comma ? comma + 1 : slash;
        if (comma != NULL && p == slash)
            return -EINVAL; /* a trailing comma */
    }
    if (a.nsentinels == 0)
        return -EINVAL;
    name = slash + 1;
    name_end = strchr(name, '/');
    if (name_end == NULL)
        name_end = name + strlen(name);
    if (!master_name_ok(name, (size_t)(name_end - name)))
        return -EINVAL;
    memcpy(a.master_name, name, (size_t)(name_end - name));
    if (*name_end == '/' && parse_db(name_end + 1, &a.db) < 0)
        return -EINVAL;
    *out = a;
    return 0;
}

int nw_config_parse_redis_url(const char *s, nw_redis_addr_t *out)
{
    nw_redis_addr_t a;
    const char *p, *slash, *hostend;

    memset(&a, 0, sizeof(a));
    if (strncmp(s, "sentinel://", 11) == 0)
        return parse_sentinel_url(s + 11, out);
    if (strncmp(s, "unix:", 5) == 0) {
        const char *q = strchr(s + 5, '?');
        size_t plen = q ? (size_t)(q - s - 5) : strlen(s + 5);
        if (plen == 0 || plen >= sizeof(a.path) || s[5] != '/')
            return -EINVAL;
        memcpy(a.path, s + 5, plen);
        if (q != NULL && (strncmp(q, "?db=", 4) != 0 || parse_db(q + 4, &a.db) < 0))
            return -EINVAL;
        *out = a;
        return 0;
    }
    if (strncmp(s, "redis://", 8) != 0)
        return -EINVAL;
    p = s + 8;
    slash = strchr(p, '/');
    if (parse_userinfo(&p, slash, &a) < 0)
        return -EINVAL;
    hostend = slash ? slash : p + strlen(p);
    {
        nw_listen_addr_t la;
        if (parse_host_port(p, (size_t)(hostend - p), 6379, &la) < 0)
            return -EINVAL;
        snprintf(a.host, sizeof(a.host), "%s", la.host);
        a.port = la.port;
    }
    if (slash != NULL && slash[1] != '\0' && parse_db(slash + 1, &a.db) < 0)
        return -EINVAL;
    *out = a;
    return 0;
}

bool nw_config_prefix_has_hash_tag(const char *prefix)
{
    const char *open = strchr(prefix, '{');
    const char *close = open ? strchr(open + 1, '}') : NULL;

    return close != NULL && close > open + 1;
}
