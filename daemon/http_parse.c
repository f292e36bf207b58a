/* Newswire — pure HTTP/1.x request parsing: the request head, the chunked
 * transfer coding and the text helpers of http.h that need no socket. See
 * http_parse.h for the grammar accepted. */
#include "http_parse.h"
#include "http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A chunk-size line may carry extensions; we ignore them but bound them. */
#define NW_HTTP_CHUNK_EXT_MAX 4096
/* Content-Length above this is refused as malformed (1e15: 16 digits). */
#define NW_HTTP_CL_MAX 1000000000000000ULL

enum head_state { HP_START, HP_REQLINE, HP_FIELDS, HP_DONE, HP_ERROR };

struct nw_http_head_parser {
    nw_http_parse_limits_t lim;
    enum head_state state;
    char *buf; /* the head so far; finished lines end in NUL instead of CRLF */
    size_t len;
    size_t cap;
    size_t line_start; /* offset of the line being received */
    size_t total;      /* raw bytes consumed, line ends included */
    size_t spaces;     /* SP seen on the request line */
    size_t target_len; /* request target bytes seen so far */
    size_t method_off, target_off;
    int major, minor;
    size_t *offs; /* name, value offsets of each field line */
    size_t n_fields;
    size_t offs_cap;
    nw_http_head_t head; /* the result, once state is HP_DONE */
    int status;
    const char *reason;
};

enum chunk_state {
    CK_SIZE,
    CK_EXT,
    CK_SIZE_LF,
    CK_DATA,
    CK_DATA_CR,
    CK_DATA_LF,
    CK_TRAILER,
    CK_DONE,
    CK_ERROR
};

struct nw_http_chunked {
    nw_http_parse_limits_t lim;
    enum chunk_state state;
    uint64_t size; /* chunk size being read, then chunk data still to come */
    unsigned digits;
    size_t ext_len;
    uint64_t body;
    size_t tr_bytes, tr_lines, line_len;
    char line_first;
    int status;
    const char *reason;
};

/* tchar per RFC 9110 5.6.2. */
static bool is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

bool nw_http_is_token(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!is_tchar((unsigned char)s[i]))
            return false;
    }
    return true;
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Records a refusal; returns NW_HTTP_PARSE_ERROR for tail calls. */
static int head_fail(nw_http_head_parser_t *p, int status, const char *reason)
{
    p->state = HP_ERROR;
    p->status = status;
    p->reason = reason;
    return NW_HTTP_PARSE_ERROR;
}

nw_http_head_parser_t *nw_http_head_parser_new(const nw_http_parse_limits_t *lim)
{
    nw_http_head_parser_t *p = calloc(1, sizeof(*p));

    if (p == NULL)
        return NULL;
    p->lim = *lim;
    return p;
}

void nw_http_head_parser_reset(nw_http_head_parser_t *p, const nw_http_parse_limits_t *lim)
{
    nw_http_parse_limits_t keep = lim ? *lim : p->lim;

    free(p->buf);
    free(p->offs);
    nw_http_head_free(&p->head);
    memset(p, 0, sizeof(*p));
    p->lim = keep;
}

void nw_http_head_parser_free(nw_http_head_parser_t *p)
{
    if (p == NULL)
        return;
    nw_http_head_parser_reset(p, NULL);
    free(p);
}

bool nw_http_head_parser_started(const nw_http_head_parser_t *p)
{
    return p->state != HP_START;
}

int nw_http_head_parser_error(const nw_http_head_parser_t *p, const char **reason)
{
    if (reason)
        *reason = p->state == HP_ERROR ? p->reason : NULL;
    return p->state == HP_ERROR ? p->status : 0;
}

/* Appends n bytes to the head buffer, keeping room for a NUL. The buffer never
 * outgrows the head limit since stored bytes never exceed raw bytes. */
static int head_append(nw_http_head_parser_t *p, const char *s, size_t n)
{
    if (p->len + n + 1 > p->cap) {
        size_t cap = p->cap ? p->cap : 256;
        char *nb;

        while (cap < p->len + n + 1)
            cap *= 2;
        nb = realloc(p->buf, cap);
        if (nb == NULL)
            return head_fail(p, 500, "out of memory");
        p->buf = nb;
        p->cap = cap;
    }
    memcpy(p->buf + p->len, s, n);
    p->len += n;
    return 0;
}

/* Terminates the line being received (its LF was consumed, not stored): drops
 * one trailing CR, writes a NUL and returns the line's length. */
static size_t head_end_line(nw_http_head_parser_t *p)
{
    size_t n = p->len - p->line_start;

    if (n > 0 && p->buf[p->len - 1] == '\r') {
        n--;
        p->len--;
    }
    p->buf[p->len++] = '\0';
    return n;
}

/* Checks "METHOD SP target SP HTTP/d.d" (in buf at offset 0, length n) and
 * splits it in place. */
static int head_request_line(nw_http_head_parser_t *p, size_t n)
{
    char *s = p->buf, *end = p->buf + n;
    char *sp1 = memchr(s, ' ', n), *sp2, *t, *v;
    size_t tlen;

    if (sp1 == NULL || !nw_http_is_token(s, (size_t)(sp1 - s)))
        return head_fail(p, 400, "invalid method");
    t = sp1 + 1;
    sp2 = memchr(t, ' ', (size_t)(end - t));
    if (sp2 == NULL)
        return head_fail(p, 400, "missing HTTP version");
    tlen = (size_t)(sp2 - t);
    v = sp2 + 1;
    if (end - v != 8 || memcmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' || v[6] != '.' ||
        v[7] < '0' || v[7] > '9')
        return head_fail(p, 400, "invalid HTTP version");
    if (v[5] != '1')
        return head_fail(p, 505, "HTTP version not supported");
    if (tlen > p->lim.max_target_bytes)
        return head_fail(p, 414, "request target too long");
    if (tlen == 1 && t[0] == '*') {
        if ((size_t)(sp1 - s) != 7 || memcmp(s, "OPTIONS", 7) != 0)
            return head_fail(p, 400, "invalid request target");
    } else {
        if (tlen == 0 || t[0] != '/')
            return head_fail(p, 400, "invalid request target");
        for (size_t i = 0; i < tlen; i++) {
            if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7f)
                return head_fail(p, 400, "invalid request target");
        }
    }
    p->major = 1;
    p->minor = v[7] - '0';
    *sp1 = '\0';
    *sp2 = '\0';
    p->method_off = 0;
    p->target_off = (size_t)(t - s);
    return 0;
}

/* Parses a Content-Length value: digits only, at most 1e15. */
static int parse_content_length(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    size_t n = strlen(s);

    if (n == 0 || n > 16)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > NW_HTTP_CL_MAX)
        return -EINVAL;
    *out = v;
    return 0;
}

/* Derives framing and connection semantics from the fields of a complete
 * head, refusing the combinations that make framing ambiguous. */
static int head_analyze(nw_http_head_parser_t *p)
{
    nw_http_head_t *h = &p->head;
    bool te = false, te_ok = true, close = false, ka = false;
    int hosts = 0;

    for (size_t i = 0; i < h->n_headers; i++) {
        const char *name = h->headers[i].name, *value = h->headers[i].value;

        if (strcasecmp(name, "content-length") == 0) {
            uint64_t v;
            if (parse_content_length(value, &v) < 0)
                return head_fail(p, 400, "invalid Content-Length");
            if (h->has_content_length && v != h->content_length)
                return head_fail(p, 400, "conflicting Content-Length");
            h->has_content_length = true;
            h->content_length = v;
        } else if (strcasecmp(name, "transfer-encoding") == 0) {
            te_ok = te_ok && !te && strcasecmp(value, "chunked") == 0;
            te = true;
        } else if (strcasecmp(name, "connection") == 0) {
            close = close || nw_http_token_list_has(value, "close");
            ka = ka || nw_http_token_list_has(value, "keep-alive");
        } else if (strcasecmp(name, "expect") == 0) {
            if (strcasecmp(value, "100-continue") != 0)
                h->expect = NW_HTTP_EXPECT_OTHER;
            else if (h->expect == NW_HTTP_EXPECT_NONE)
                h->expect = NW_HTTP_EXPECT_CONTINUE;
        } else if (strcasecmp(name, "host") == 0) {
            hosts++;
        }
    }
    if (h->has_content_length && te)
        return head_fail(p, 400, "Content-Length with Transfer-Encoding");
    if (te && !te_ok)
        return head_fail(p, 501, "unsupported transfer coding");
    if (hosts > 1)
        return head_fail(p, 400, "duplicate Host");
    h->chunked = te;
    /* HTTP/1.0 has no Expect: RFC 9110 10.1.1 says to ignore it there. */
    if (h->version_minor == 0)
        h->expect = NW_HTTP_EXPECT_NONE;
    h->keep_alive = !close && (h->version_minor >= 1 || ka);
    return 0;
}

/* The empty line came in: turns offsets into the head's pointers. */
static int head_finish(nw_http_head_parser_t *p)
{
    nw_http_head_t *h = &p->head;

    h->headers = calloc(p->n_fields ? p->n_fields : 1, sizeof(*h->headers));
    if (h->headers == NULL)
        return head_fail(p, 500, "out of memory");
    h->storage = p->buf;
    p->buf = NULL;
    p->len = p->cap = 0;
    h->method = h->storage + p->method_off;
    h->target = h->storage + p->target_off;
    h->version_major = p->major;
    h->version_minor = p->minor;
    for (size_t i = 0; i < p->n_fields; i++) {
        h->headers[i].name = h->storage + p->offs[2 * i];
        h->headers[i].value = h->storage + p->offs[2 * i + 1];
    }
    h->n_headers = p->n_fields;
    h->head_bytes = p->total;
    if (head_analyze(p) < 0)
        return NW_HTTP_PARSE_ERROR;
    p->state = HP_DONE;
    return NW_HTTP_PARSE_DONE;
}

/* Checks one complete field line (length n at line_start) and records where
 * its name and value are; an empty line ends the head. */
static int head_field_line(nw_http_head_parser_t *p, size_t n)
{
    char *s = p->buf + p->line_start, *colon, *v, *e;

    if (n == 0)
        return head_finish(p);
    if (p->n_fields >= p->lim.max_headers)
        return head_fail(p, 431, "too many headers");
    if (s[0] == ' ' || s[0] == '\t')
        return head_fail(p, 400, "obsolete line folding");
    colon = memchr(s, ':', n);
    if (colon == NULL || colon == s)
        return head_fail(p, 400, "invalid header line");
    if (colon[-1] == ' ' || colon[-1] == '\t')
        return head_fail(p, 400, "whitespace before colon");
    if (!nw_http_is_token(s, (size_t)(colon - s)))
        return head_fail(p, 400, "invalid header name");
    v = colon + 1;
    e = s + n;
    while (v < e && (*v == ' ' || *v == '\t'))
        v++;
    while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    for (const char *c = v; c < e; c++) {
        unsigned char u = (unsigned char)*c;
        if (u == 0x7f || (u < 0x20 && u != '\t'))
            return head_fail(p, 400, "invalid header value");
    }
    *colon = '\0';
    *e = '\0';
    if (p->n_fields == p->offs_cap) {
        size_t cap = p->offs_cap ? p->offs_cap * 2 : 16;
        size_t *no = realloc(p->offs, cap * 2 * sizeof(*no));
        if (no == NULL)
            return head_fail(p, 500, "out of memory");
        p->offs = no;
        p->offs_cap = cap;
    }
    p->offs[2 * p->n_fields] = p->line_start;
    p->offs[2 * p->n_fields + 1] = (size_t)(v - p->buf);
    p->n_fields++;
    p->line_start = p->len;
    return NW_HTTP_PARSE_MORE;
}

/* Request line, byte by byte, so that the 414 and 431 limits trip at the same
 * byte however the input is split. Leading empty lines are skipped (RFC 9112
 * 2.2) but count against the head limit. */
static int head_feed_request_line(nw_http_head_parser_t *p, const char *data, size_t len, size_t *i)
{
    while (*i < len && (p->state == HP_START || p->state == HP_REQLINE)) {
        char b = data[(*i)++];

        if (++p->total > p->lim.max_header_bytes)
            return head_fail(p, 431, "request header too large");
        if (b == '\n' && p->state == HP_START) {
            p->len = 0; /* an empty line (only CRs were stored) */
            continue;
        }
        if (b == '\n') {
            if (head_request_line(p, head_end_line(p)) < 0)
                return NW_HTTP_PARSE_ERROR;
            p->state = HP_FIELDS;
            p->line_start = p->len;
            break;
        }
        if (b != '\r')
            p->state = HP_REQLINE;
        if (head_append(p, &b, 1) < 0)
            return NW_HTTP_PARSE_ERROR;
        if (b == ' ')
            p->spaces++;
        else if (p->spaces == 1 && ++p->target_len > p->lim.max_target_bytes)
            return head_fail(p, 414, "request target too long");
    }
    return NW_HTTP_PARSE_MORE;
}

int nw_http_head_parser_feed(nw_http_head_parser_t *p, const char *data, size_t len, size_t *used)
{
    size_t i = 0;
    int rc = NW_HTTP_PARSE_MORE;

    *used = 0;
    if (p->state == HP_DONE)
        return NW_HTTP_PARSE_DONE;
    if (p->state == HP_ERROR)
        return NW_HTTP_PARSE_ERROR;
    rc = head_feed_request_line(p, data, len, &i);
    while (rc == NW_HTTP_PARSE_MORE && i < len && p->state == HP_FIELDS) {
        const char *nl = memchr(data + i, '\n', len - i);
        size_t seg = nl ? (size_t)(nl - (data + i)) + 1 : len - i;

        p->total += seg;
        if (p->total > p->lim.max_header_bytes) {
            rc = head_fail(p, 431, "request header too large");
            break;
        }
        if (head_append(p, data + i, nl ? seg - 1 : seg) < 0) {
            rc = NW_HTTP_PARSE_ERROR;
            break;
        }
        i += seg;
        if (nl)
            rc = head_field_line(p, head_end_line(p));
    }
    *used = i;
    return rc;
}

int nw_http_head_parser_take(nw_http_head_parser_t *p, nw_http_head_t *out)
{
    if (p->state != HP_DONE)
        return -EINVAL;
    *out = p->head;
    memset(&p->head, 0, sizeof(p->head));
    nw_http_head_parser_reset(p, NULL);
    return 0;
}

void nw_http_head_free(nw_http_head_t *h)
{
    if (h == NULL)
        return;
    free(h->headers);
    free(h->storage);
    memset(h, 0, sizeof(*h));
}

const char *nw_http_head_get(const nw_http_head_t *h, const char *name)
{
    for (size_t i = 0; i < h->n_headers; i++) {
        if (strcasecmp(h->headers[i].name, name) == 0)
            return h->headers[i].value;
    }
    return NULL;
}

nw_http_chunked_t *nw_http_chunked_new(const nw_http_parse_limits_t *lim)
{
    nw_http_chunked_t *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->lim = *lim;
    return c;
}

void nw_http_chunked_free(nw_http_chunked_t *c)
{
    free(c);
}

void nw_http_chunked_reset(nw_http_chunked_t *c, const nw_http_parse_limits_t *lim)
{
    nw_http_parse_limits_t keep = lim ? *lim : c->lim;

    memset(c, 0, sizeof(*c));
    c->lim = keep;
}

int nw_http_chunked_error(const nw_http_chunked_t *c, const char **reason)
{
    if (reason)
        *reason = c->state == CK_ERROR ? c->reason : NULL;
    return c->state == CK_ERROR ? c->status : 0;
}

uint64_t nw_http_chunked_body_bytes(const nw_http_chunked_t *c)
{
    return c->body;
}

static int chunk_fail(nw_http_chunked_t *c, int status, const char *reason)
{
    c->state = CK_ERROR;
    c->status = status;
    c->reason = reason;
    return NW_HTTP_PARSE_ERROR;
}

/* The chunk-size line ended: data follows, or the trailers for size 0. */
static void chunk_size_done(nw_http_chunked_t *c)
{
    c->digits = 0;
    c->ext_len = 0;
    c->state = c->size ? CK_DATA : CK_TRAILER;
    c->line_len = 0;
}

/* One framing byte b outside chunk data; returns a parse outcome. */
static int chunk_framing_byte(nw_http_chunked_t *c, unsigned char b)
{
    int h;

    switch (c->state) {
    case CK_SIZE:
        h = hex_value(b);
        if (h >= 0) {
            if (c->size > (UINT64_MAX >> 4))
                return chunk_fail(c, 400, "invalid chunk size");
            c->size = c->size * 16 + (uint64_t)h;
            c->digits++;
            if (c->size > c->lim.max_body_bytes - c->body)
                return chunk_fail(c, 413, "request body too large");
        } else if (c->digits == 0) {
            return chunk_fail(c, 400, "invalid chunk size");
        } else if (b == ';' || b == ' ' || b == '\t') {
            c->state = CK_EXT;
        } else if (b == '\r') {
            c->state = CK_SIZE_LF;
        } else if (b == '\n') {
            chunk_size_done(c);
        } else {
            return chunk_fail(c, 400, "invalid chunk size");
        }
        break;
    case CK_EXT:
        if (b == '\r')
            c->state = CK_SIZE_LF;
        else if (b == '\n')
            chunk_size_done(c);
        else if (b == 0x7f || (b < 0x20 && b != '\t'))
            return chunk_fail(c, 400, "invalid chunk extension");
        else if (++c->ext_len > NW_HTTP_CHUNK_EXT_MAX)
            return chunk_fail(c, 400, "chunk extension too long");
        break;
    case CK_SIZE_LF:
        if (b != '\n')
            return chunk_fail(c, 400, "invalid chunk size");
        chunk_size_done(c);
        break;
    case CK_DATA_CR:
        if (b == '\r')
            c->state = CK_DATA_LF;
        else if (b == '\n')
            c->state = CK_SIZE;
        else
            return chunk_fail(c, 400, "invalid chunk end");
        break;
    case CK_DATA_LF:
        if (b != '\n')
            return chunk_fail(c, 400, "invalid chunk end");
        c->state = CK_SIZE;
        break;
    case CK_TRAILER:
        if (++c->tr_bytes > c->lim.max_header_bytes)
            return chunk_fail(c, 431, "trailer section too large");
        if (b != '\n') {
            if (c->line_len++ == 0)
                c->line_first = (char)b;
            break;
        }
        if (c->line_len == 0 || (c->line_len == 1 && c->line_first == '\r')) {
            c->state = CK_DONE;
            return NW_HTTP_PARSE_DONE;
        }
        if (++c->tr_lines > c->lim.max_headers)
            return chunk_fail(c, 431, "too many trailer fields");
        c->line_len = 0;
        break;
    default:
        break;
    }
    return NW_HTTP_PARSE_MORE;
}

int nw_http_chunked_feed(nw_http_chunked_t *c, const char *data, size_t len, size_t *used,
                         size_t *span)
{
    size_t i = 0;
    int rc = NW_HTTP_PARSE_MORE;

    *used = 0;
    *span = 0;
    if (c->state == CK_DONE)
        return NW_HTTP_PARSE_DONE;
    if (c->state == CK_ERROR)
        return NW_HTTP_PARSE_ERROR;
    while (i < len && rc == NW_HTTP_PARSE_MORE) {
        if (c->state == CK_DATA) {
            size_t n = c->size < len - i ? (size_t)c->size : len - i;
            i += n;
            c->size -= n;
            c->body += n;
            if (c->size == 0)
                c->state = CK_DATA_CR;
            *span = n;
            rc = NW_HTTP_PARSE_DATA;
            break;
        }
        rc = chunk_framing_byte(c, (unsigned char)data[i++]);
    }
    *used = i;
    return rc;
}

bool nw_http_token_list_has(const char *list, const char *token)
{
    size_t tlen = strlen(token);
    const char *s = list;

    while (*s) {
        const char *e;
        size_t n;

        while (*s == ' ' || *s == '\t' || *s == ',')
            s++;
        e = s;
        while (*e && *e != ',')
            e++;
        n = (size_t)(e - s);
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
            n--;
        if (n == tlen && n > 0 && strncasecmp(s, token, n) == 0)
            return true;
        s = e;
    }
    return false;
}

/* Percent-decodes s[0..len) into *out; plus turns '+' into a space. Returns 0,
 * -EINVAL (bad escape or decoded NUL) or -ENOMEM. */
static int pct_decode(const char *s, size_t len, bool plus, char **out)
{
    char *d = malloc(len + 1);
    size_t o = 0;

    *out = NULL;
    if (d == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            int hi = i + 2 < len ? hex_value((unsigned char)s[i + 1]) : -1;
            int lo = i + 2 < len ? hex_value((unsigned char)s[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                free(d);
                return -EINVAL;
            }
            c = (char)(hi * 16 + lo);
            i += 2;
        } else if (c == '+' && plus) {
            c = ' ';
        } else if (c == '\0') {
            free(d);
            return -EINVAL;
        }
        d[o++] = c;
    }
    d[o] = '\0';
    *out = d;
    return 0;
}

char *nw_http_pct_decode(const char *s, size_t len)
{
    char *out;

    return pct_decode(s, len, false, &out) == 0 ? out : NULL;
}

char *nw_http_form_decode(const char *s, size_t len)
{
    char *out;

    return pct_decode(s, len, true, &out) == 0 ? out : NULL;
}

int nw_http_query_find(const char *query, const char *name, char **value)
{
    const char *s = query;

    *value = NULL;
    while (*s) {
        const char *e = strchr(s, '&'), *eq;
        char *dname;
        int rc;

        if (e == NULL)
            e = s + strlen(s);
        eq = memchr(s, '=', (size_t)(e - s));
        rc = pct_decode(s, (size_t)((eq ? eq : e) - s), true, &dname);
        if (rc == -ENOMEM)
            return rc;
        if (rc == 0 && e > s && strcmp(dname, name) == 0) {
            free(dname);
            if (eq == NULL)
                return pct_decode("", 0, true, value) == 0 ? 1 : -ENOMEM;
            rc = pct_decode(eq + 1, (size_t)(e - eq - 1), true, value);
            return rc < 0 ? rc : 1;
        }
        free(dname);
        s = *e ? e + 1 : e;
    }
    return 0;
}

void nw_http_format_date(time_t t, char *buf, size_t size)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL)
        memset(&tm, 0, sizeof(tm));
    snprintf(buf, size, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7], tm.tm_mday,
             months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

const char *nw_http_status_text(int status)
{
    static const struct {
        int status;
        const char *text;
    } table[] = {
        {100, "Continue"},
        {200, "OK"},
        {201, "Created"},
        {202, "Accepted"},
        {204, "No Content"},
        {301, "Moved Permanently"},
        {302, "Found"},
        {304, "Not Modified"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {406, "Not Acceptable"},
        {408, "Request Timeout"},
        {409, "Conflict"},
        {410, "Gone"},
        {411, "Length Required"},
        {412, "Precondition Failed"},
        {413, "Content Too Large"},
        {414, "URI Too Long"},
        {415, "Unsupported Media Type"},
        {417, "Expectation Failed"},
        {422, "Unprocessable Content"},
        {429, "Too Many Requests"},
        {431, "Request Header Fields Too Large"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {502, "Bad Gateway"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
        {505, "HTTP Version Not Supported"},
    };

    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (table[i].status == status)
            return table[i].text;
    }
    return "Unknown";
}
