/* Newswire command — URLs: parsing the --api and --url arguments and
 * percent-encoding path segments.
 *
 * Pure: no I/O. Accepted schemes are http, https, ws and wss; the authority
 * is a host name, an IPv4 address or a bracketed IPv6 address, with an
 * optional port; no user information, no fragment. */
#ifndef NW_URL_H
#define NW_URL_H

#include <stdbool.h>
#include <stddef.h>

#include "common.h"

#define NW_URL_HOST_MAX 256
#define NW_URL_PATH_MAX 4096

typedef struct nw_url {
    char scheme[8];             /* lower-case: "http", "https", "ws", "wss" */
    bool tls;                   /* https or wss */
    char host[NW_URL_HOST_MAX]; /* without the brackets of an IPv6 literal */
    bool ipv6;                  /* host is an IPv6 literal */
    int port;                   /* the given port, or the scheme's default */
    bool default_port;          /* no port was given */
    char path[NW_URL_PATH_MAX]; /* path and query as given; "/" when empty */
} nw_url_t;

/* Parses s into *out. Returns 0, or -EINVAL with err (field "url") saying
 * what is wrong. */
int nw_url_parse(const char *s, nw_url_t *out, nw_err_t *err);

/* Writes the Host header value ("host", "host:port", "[::1]:port") into
 * buf. Returns 0, or -ENOSPC when it does not fit. */
int nw_url_host_header(const nw_url_t *u, char *buf, size_t size);

/* Percent-encodes s as one path segment: every byte but the unreserved
 * characters (ALPHA DIGIT - . _ ~) becomes %XX. Returns a malloc'd string
 * (caller frees), or NULL on allocation failure. */
char *nw_url_encode_segment(const char *s);

#endif
