/* Newswire command — the HTTP/1.x response parser (see http_reply.h).
 *
 * A byte-driven state machine: the head is collected whole (it is small and
 * bounded), then parsed in place; the body is appended to one growing
 * buffer, bounded by max_body. */
#include "http_reply.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common.h"

#define LINE_MAX_BYTES 1024 /* a chunk-size line or a trailer field */

typedef enum reply_state {
    S_HEAD,       /* collecting the status line and fields */
    S_LENGTH,     /* body of Content-Length bytes */
    S_CHUNK_SIZE, /* a chunk-size line */
    S_CHUNK_DATA, /* chunk data */
    S_CHUNK_END,  /* the line end after chunk data */
    S_TRAILER,    /* trailer fields up to an empty line */
    S_EOF,        /* body up to the end of the connection */
    S_DONE,
    S_ERROR,
} reply_state_t;

typedef struct reply_header {
    const char *name;
    const char *value;
} reply_header_t;

struct nw_http_reply {
    reply_state_t state;
    size_t max_body;
    int status;
    char head[NW_HTTP_REPLY_MAX_HEAD + 1];
    size_t head_len;
    reply_header_t headers[NW_HTTP_REPLY_MAX_HEADERS];
    size_t nheaders;
    char line[LINE_MAX_BYTES + 1]; /* chunk-size and trailer lines */
    size_t line_len;
    size_t trailer_bytes;
    uint64_t remaining; /* of the body (S_LENGTH) or of the chunk */
    char *body;
    size_t body_len, body_cap;
    char error[128];
};

nw_http_reply_t *nw_http_reply_new(size_t max_body)
{
    nw_http_reply_t *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return NULL;
    r->max_body = max_body;
    r->body = malloc(1);
    if (r->body == NULL) {
        free(r);
        return NULL;
    }
    r->body[0] = '\0';
    r->body_cap = 1;
    return r;
}

void nw_http_reply_free(nw_http_reply_t *r)
{
    if (r == NULL)
        return;
    free(r->body);
    free(r);
}

/* Records why the response is refused; returns rc. */
static int fail(nw_http_reply_t *r, int rc, const char *why)
{
    r->state = S_ERROR;
    snprintf(r->error, sizeof(r->error), "%s", why);
    return rc;
}

/* Appends body bytes, keeping the body NUL-terminated. */
static int body_append(nw_http_reply_t *r, const char *data, size_t len)
{
    if (len > r->max_body - r->body_len)
        return fail(r, -E2BIG, "response body too large");
    if (r->body_len + len + 1 > r->body_cap) {
        size_t cap = r->body_cap;
        char *b;
        while (cap < r->body_len + len + 1)
            cap *= 2;
        b = realloc(r->body, cap);
        if (b == NULL)
            return fail(r, -ENOMEM, "out of memory");
        r->body = b;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, len);
    r->body_len += len;
    r->body[r->body_len] = '\0';
    return 0;
}

/* Cuts the next line out of s (in place): returns it without its line end
 * and advances *s past it. */
static char *next_line(char **s)
{
    char *line = *s, *nl = strchr(line, '\n');

    if (nl == NULL) {
        *s = line + strlen(line);
        return line;
    }
    *nl = '\0';
    if (nl > line && nl[-1] == '\r')
        nl[-1] = '\0';
    *s = nl + 1;
    return line;
}

static char *trim(char *s)
{
    char *e;

    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        *--e = '\0';
    return s;
}

/* True when s is a token: field names and transfer codings. */
static bool is_token(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", c) != NULL)
            return false;
    }
    return true;
}

/* Parses a run of decimal digits (nothing else) into *v. */
static int parse_digits(const char *s, uint64_t *v)
{
    uint64_t n = 0;

    if (*s == '\0')
        return -EINVAL;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || n > (UINT64_MAX - 9) / 10)
            return -EINVAL;
        n = n * 10 + (uint64_t)(*s - '0');
    }
    *v = n;
    return 0;
}

/* Chooses how the body is delimited, once the head is parsed. */
static int choose_body(nw_http_reply_t *r)
{
    const char *te = nw_http_reply_header(r, "Transfer-Encoding");
    bool have_length = false;
    uint64_t length = 0;

    if (r->status == 204 || r->status == 304) {
        r->state = S_DONE;
        return 0;
    }
    if (te != NULL) {
        /* the last coding decides: chunked delimits the body, anything
         * else runs to the end of the connection */
        const char *last = strrchr(te, ',');
        last = last ? last + 1 : te;
        while (*last == ' ' || *last == '\t')
            last++;
        r->state = strncasecmp(last, "chunked", 7) == 0 &&
                           (last[7] == '\0' || last[7] == ' ' || last[7] == '\t')
                       ? S_CHUNK_SIZE
                       : S_EOF;
        return 0;
    }
    for (size_t i = 0; i < r->nheaders; i++) {
        uint64_t v;
        if (strcasecmp(r->headers[i].name, "Content-Length") != 0)
            continue;
        if (parse_digits(r->headers[i].value, &v) < 0)
            return fail(r, -EPROTO, "invalid Content-Length");
        if (have_length && v != length)
            return fail(r, -EPROTO, "conflicting Content-Length fields");
        have_length = true;
        length = v;
    }
    if (have_length && length > r->max_body)
        return fail(r, -E2BIG, "response body too large");
    r->remaining = length;
    r->state = have_length ? (length == 0 ? S_DONE : S_LENGTH) : S_EOF;
    return 0;
}

/* Parses the complete head in r->head (NUL-terminated). */
static int parse_head(nw_http_reply_t *r)
{
    char *s = r->head, *line = next_line(&s);
    int status = 0;

    if (strncmp(line, "HTTP/1.", 7) != 0 || line[7] < '0' || line[7] > '9' || line[8] != ' ')
        return fail(r, -EPROTO, "not an HTTP/1.x status line");
    for (int i = 9; i < 12; i++) {
        if (line[i] < '0' || line[i] > '9')
            return fail(r, -EPROTO, "invalid status code");
        status = status * 10 + (line[i] - '0');
    }
    if ((line[12] != ' ' && line[12] != '\0') || status < 100 || status > 599)
        return fail(r, -EPROTO, "invalid status code");
    r->status = status;
    r->nheaders = 0;
    while (*s != '\0') {
        char *colon;
        line = next_line(&s);
        if (line[0] == '\0')
            break;
        if (line[0] == ' ' || line[0] == '\t')
            return fail(r, -EPROTO, "obsolete line folding");
        colon = strchr(line, ':');
        if (colon == NULL)
            return fail(r, -EPROTO, "header field without a colon");
        *colon = '\0';
        if (!is_token(line))
            return fail(r, -EPROTO, "invalid header field name");
        if (r->nheaders == NW_HTTP_REPLY_MAX_HEADERS)
            return fail(r, -E2BIG, "too many header fields");
        r->headers[r->nheaders].name = line;
        r->headers[r->nheaders].value = trim(colon + 1);
        r->nheaders++;
    }
    return 0;
}

/* One byte of the head; parses it when the empty line arrives. */
static int head_byte(nw_http_reply_t *r, char c)
{
    int rc;

    if (r->head_len == 0 && (c == '\r' || c == '\n'))
        return 0; /* blank lines before a response are tolerated */
    if (c == '\0')
        return fail(r, -EPROTO, "NUL byte in the response head");
    if (r->head_len == NW_HTTP_REPLY_MAX_HEAD)
        return fail(r, -E2BIG, "response head too large");
    r->head[r->head_len++] = c;
    r->head[r->head_len] = '\0';
    if (c != '\n')
        return 0;
    if (!(r->head_len >= 2 && r->head[r->head_len - 2] == '\n') &&
        !(r->head_len >= 3 && r->head[r->head_len - 2] == '\r' && r->head[r->head_len - 3] == '\n'))
        return 0;
    if ((rc = parse_head(r)) < 0)
        return rc;
    if (r->status >= 100 && r->status < 200 && r->status != 101) {
        /* an interim response: the real one follows */
        r->head_len = 0;
        r->status = 0;
        r->nheaders = 0;
        return 0;
    }
    return choose_body(r);
}

/* Adds one byte to r->line; returns 1 when the line is complete (line end
 * stripped), 0 for more, or an error. */
static int line_byte(nw_http_reply_t *r, char c)
{
    if (c == '\n') {
        if (r->line_len > 0 && r->line[r->line_len - 1] == '\r')
            r->line_len--;
        r->line[r->line_len] = '\0';
        r->line_len = 0;
        return 1;
    }
    if (r->line_len == LINE_MAX_BYTES)
        return fail(r, -E2BIG, "chunk line too long");
    r->line[r->line_len++] = c;
    return 0;
}

/* Parses a chunk-size line: hex digits, then optional blanks and
 * extensions after ';'. */
static int chunk_size(nw_http_reply_t *r)
{
    const char *p = r->line;
    uint64_t n = 0;
    int digits = 0;

    for (; *p; p++, digits++) {
        int d;
        if (*p >= '0' && *p <= '9')
            d = *p - '0';
        else if (*p >= 'a' && *p <= 'f')
            d = *p - 'a' + 10;
        else if (*p >= 'A' && *p <= 'F')
            d = *p - 'A' + 10;
        else
            break;
        if (n > (UINT64_MAX >> 4))
            return fail(r, -EPROTO, "chunk size overflows");
        n = (n << 4) | (uint64_t)d;
    }
    while (*p == ' ' || *p == '\t')
        p++;
    if (digits == 0 || (*p != '\0' && *p != ';'))
        return fail(r, -EPROTO, "invalid chunk size");
    if (n > r->max_body - r->body_len)
        return fail(r, -E2BIG, "response body too large");
    r->remaining = n;
    r->state = n == 0 ? S_TRAILER : S_CHUNK_DATA;
    return 0;
}

int nw_http_reply_feed(nw_http_reply_t *r, const char *data, size_t len, size_t *used)
{
    size_t i = 0;
    int rc;

    *used = 0;
    if (r->state == S_ERROR)
        return -EPROTO;
    while (i < len && r->state != S_DONE) {
        switch (r->state) {
        case S_HEAD:
            if ((rc = head_byte(r, data[i++])) < 0)
                return rc;
            break;
        case S_LENGTH:
        case S_CHUNK_DATA: {
            size_t n = (size_t)NW_MIN(r->remaining, (uint64_t)(len - i));
            if ((rc = body_append(r, data + i, n)) < 0)
                return rc;
            i += n;
            r->remaining -= n;
            if (r->remaining == 0)
                r->state = r->state == S_LENGTH ? S_DONE : S_CHUNK_END;
            break;
        }
        case S_CHUNK_SIZE:
            if ((rc = line_byte(r, data[i++])) < 0)
                return rc;
            if (rc == 1 && (rc = chunk_size(r)) < 0)
                return rc;
            break;
        case S_CHUNK_END:
            if ((rc = line_byte(r, data[i++])) < 0)
                return rc;
            if (rc == 1) {
                if (r->line[0] != '\0')
                    return fail(r, -EPROTO, "chunk data longer than its size");
                r->state = S_CHUNK_SIZE;
            }
            break;
        case S_TRAILER:
            if (++r->trailer_bytes > NW_HTTP_REPLY_MAX_HEAD)
                return fail(r, -E2BIG, "trailer too large");
            if ((rc = line_byte(r, data[i++])) < 0)
                return rc;
            if (rc == 1 && r->line[0] == '\0')
                r->state = S_DONE;
            break;
        case S_EOF:
            if ((rc = body_append(r, data + i, len - i)) < 0)
                return rc;
            i = len;
            break;
        case S_DONE:
        case S_ERROR:
            break;
        }
    }
    *used = i;
    return r->state == S_DONE ? NW_HTTP_REPLY_DONE : NW_HTTP_REPLY_MORE;
}

int nw_http_reply_eof(nw_http_reply_t *r)
{
    if (r->state == S_EOF)
        r->state = S_DONE;
    if (r->state == S_DONE)
        return NW_HTTP_REPLY_DONE;
    if (r->state != S_ERROR)
        fail(r, -EPROTO,
             r->state == S_HEAD ? "connection closed before a complete response head"
                                : "connection closed before the end of the body");
    return -EPROTO;
}

int nw_http_reply_status(const nw_http_reply_t *r)
{
    return r->state == S_HEAD || r->state == S_ERROR ? 0 : r->status;
}

const char *nw_http_reply_header(const nw_http_reply_t *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++) {
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    }
    return NULL;
}

const char *nw_http_reply_body(const nw_http_reply_t *r, size_t *len)
{
    *len = r->body_len;
    return r->body;
}

long nw_http_reply_retry_after(const nw_http_reply_t *r)
{
    const char *v = nw_http_reply_header(r, "Retry-After");
    uint64_t n;

    if (v == NULL || parse_digits(v, &n) < 0 || n > 86400 * 365)
        return -1;
    return (long)n;
}

const char *nw_http_reply_error(const nw_http_reply_t *r)
{
    return r->error;
}
