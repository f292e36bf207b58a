/* Newswire command — URL parsing and percent-encoding (see url.h). */
#include "url.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *name;
    bool tls;
    int port;
} schemes[] = {
    {"http", false, 80},
    {"https", true, 443},
    {"ws", false, 80},
    {"wss", true, 443},
};

/* True for the characters a host name or IPv4 address may hold. */
static bool host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
}

int nw_url_parse(const char *s, nw_url_t *out, nw_err_t *err)
{
    const char *sep = strstr(s, "://");
    const char *auth, *auth_end, *host_end, *p;
    size_t slen, hlen;
    bool found = false;

    memset(out, 0, sizeof(*out));
    if (sep == NULL) {
        nw_err_set(err, "url", "\"%.64s\" is not a URL (scheme://host[:port][/path])", s);
        return -EINVAL;
    }
    slen = (size_t)(sep - s);
    for (size_t i = 0; i < NW_ARRAY_LEN(schemes) && !found; i++) {
        if (strlen(schemes[i].name) == slen && strncasecmp(s, schemes[i].name, slen) == 0) {
            snprintf(out->scheme, sizeof(out->scheme), "%s", schemes[i].name);
            out->tls = schemes[i].tls;
            out->port = schemes[i].port;
            found = true;
        }
    }
    if (!found) {
        nw_err_set(err, "url", "unsupported scheme \"%.*s\" (http, https, ws, wss)",
                   (int)NW_MIN(slen, 16), s);
        return -EINVAL;
    }
    auth = sep + 3;
    auth_end = auth + strcspn(auth, "/?#");
    if (*auth_end == '#' || strchr(auth_end, '#') != NULL) {
        nw_err_set(err, "url", "a fragment (#) has no meaning here");
        return -EINVAL;
    }
    if (memchr(auth, '@', (size_t)(auth_end - auth)) != NULL) {
        nw_err_set(err, "url", "user information (user@) is not supported");
        return -EINVAL;
    }
    if (*auth == '[') {
        host_end = memchr(auth, ']', (size_t)(auth_end - auth));
        if (host_end == NULL || host_end == auth + 1) {
            nw_err_set(err, "url", "unterminated IPv6 address");
            return -EINVAL;
        }
        for (p = auth + 1; p < host_end; p++) {
            if (!(host_char(*p) || *p == ':')) {
                nw_err_set(err, "url", "invalid IPv6 address");
                return -EINVAL;
            }
        }
        out->ipv6 = true;
        hlen = (size_t)(host_end - auth - 1);
        auth++;
        host_end++; /* past ']' */
    } else {
        host_end = auth;
        while (host_end < auth_end && *host_end != ':') {
            if (!host_char(*host_end)) {
                nw_err_set(err, "url", "invalid character in host name");
                return -EINVAL;
            }
            host_end++;
        }
        hlen = (size_t)(host_end - auth);
    }
    if (hlen == 0 || hlen >= sizeof(out->host)) {
        nw_err_set(err, "url", "missing or overlong host");
        return -EINVAL;
    }
    memcpy(out->host, auth, hlen);
    out->host[hlen] = '\0';
    out->default_port = true;
    if (host_end < auth_end) {
        long port = 0;
        if (*host_end != ':' || host_end + 1 == auth_end) {
            nw_err_set(err, "url", "invalid port");
            return -EINVAL;
        }
        for (p = host_end + 1; p < auth_end; p++) {
            if (*p < '0' || *p > '9' || port > 65535) {
                nw_err_set(err, "url", "invalid port");
                return -EINVAL;
            }
            port = port * 10 + (*p - '0');
        }
        if (port < 1 || port > 65535) {
            nw_err_set(err, "url", "port must be 1..65535");
            return -EINVAL;
        }
        out->port = (int)port;
        out->default_port = false;
    }
    if (*auth_end == '\0') {
        snprintf(out->path, sizeof(out->path), "/");
    } else {
        for (p = auth_end; *p; p++) {
            if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
                nw_err_set(err, "url", "blank or control character in path");
                return -EINVAL;
            }
        }
        if (snprintf(out->path, sizeof(out->path), "%s%s", *auth_end == '?' ? "/" : "", auth_end) >=
            (int)sizeof(out->path)) {
            nw_err_set(err, "url", "path longer than %d bytes", NW_URL_PATH_MAX - 1);
            return -EINVAL;
        }
    }
    return 0;
}

int nw_url_host_header(const nw_url_t *u, char *buf, size_t size)
{
    int n;

    if (u->default_port)
        n = snprintf(buf, size, u->ipv6 ? "[%s]" : "%s", u->host);
    else
        n = snprintf(buf, size, u->ipv6 ? "[%s]:%d" : "%s:%d", u->host, u->port);
    return n < 0 || (size_t)n >= size ? -ENOSPC : 0;
}

char *nw_url_encode_segment(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = malloc(n * 3 + 1), *o = out;

    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            *o++ = (char)c;
        } else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o = '\0';
    return out;
}
