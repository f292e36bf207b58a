/* Newswire — the JSON parser of json.h (the dumper is json_dump.c).
 *
 * It mirrors the structure of jansson 2.14's load.c: the same
 * tokens (a number or a literal ends at the first character that cannot
 * continue it, which is read and put back), the same grammar functions
 * and the same order of checks, so that a document fails at the same
 * place. jansson keeps only the first error it sets, counts lines and
 * characters as it reads, and reads one character past a number or a
 * literal; a parse here records the byte offset of its first error and
 * computes line and column from the buffer once, at the end. Notable
 * jansson behaviours reproduced on purpose:
 * - every character read is checked as UTF-8, so an invalid sequence right
 *   after a number or a literal is reported there, before the grammar
 *   error that would follow;
 * - a lone surrogate is an error at the end of its string (jansson decodes
 *   escapes in a second pass over the whole string), but any other error
 *   later in the same string comes first;
 * - a NUL byte right after a number or a literal is skipped and not
 *   counted in the column (jansson's stream loses a pushed-back NUL);
 * - the nesting limit counts every value, scalars included. */
#include "json.h"
#include "json_internal.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Tokens: a structural character stands for itself. */
enum {
    TOK_INVALID = -1,
    TOK_EOF = 0,
    TOK_STRING = 256,
    TOK_INTEGER,
    TOK_REAL,
    TOK_TRUE,
    TOK_FALSE,
    TOK_NULL,
};

/* How long a token may be to be quoted in an error (jansson's limit). */
#define JP_CONTEXT_MAX 20
/* Decoded strings up to this size stay in the parser's inline buffer. */
#define JP_SCRATCH_INLINE 512
/* Keys remembered for the duplicate check (all objects being parsed), and
 * how many keys of one object are compared one by one before the check
 * goes to jansson's hash table, which costs more for a small object. */
#define JP_KEYS      128
#define JP_KEYS_SCAN 32

typedef struct jp_key {
    const char *s;
    size_t len;
} jp_key_t;

typedef struct json_parser {
    const unsigned char *buf, *p, *end;
    unsigned flags;
    size_t depth;
    int tok;
    const unsigned char *tok_start;
    /* TOK_STRING: the decoded bytes, in the input or in scratch */
    const char *str;
    size_t str_len;
    bool str_nul; /* holds a NUL (from \u0000) */
    bool str_scratch;
    json_int_t ival; /* TOK_INTEGER */
    double rval;     /* TOK_REAL */
    char *scratch;
    size_t scratch_len, scratch_cap;
    size_t nkeys; /* in keys[], pointing into the input */
    /* the first error */
    bool failed, oom;
    const unsigned char *err_at;
    const unsigned char *counted_nul; /* a NUL jansson counts in the column */
    char err_text[sizeof(((nw_json_error_t *)0)->text)];
    char scratch_inline[JP_SCRATCH_INLINE];
    jp_key_t keys[JP_KEYS];
} json_parser_t;

static json_t *jp_value(json_parser_t *jp);

/* Declared in json_internal.h. */
const unsigned char nw_json_plain_byte[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20: '"' */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x30 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* 0x50: '\\' */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x70 */
    /* 0x80..0xff: 0, UTF-8 to check */
};

/*** errors ***/

/* Records the first error: jansson's position is at (a byte offset into
 * the input), the text is printf-style, followed by the token read so far
 * when it is short, as jansson does. Later errors are ignored. */
NW_PRINTF(3, 4)
static void jp_fail(json_parser_t *jp, const unsigned char *at, const char *fmt, ...)
{
    size_t n, ctx;
    va_list ap;

    if (jp->failed)
        return;
    jp->failed = true;
    jp->err_at = at;
    va_start(ap, fmt);
    vsnprintf(jp->err_text, sizeof(jp->err_text), fmt, ap);
    va_end(ap);
    n = strlen(jp->err_text);
    ctx = jp->tok_start != NULL && at > jp->tok_start ? (size_t)(at - jp->tok_start) : 0;
    if (ctx > 0 && ctx <= JP_CONTEXT_MAX && n + ctx + 9 < sizeof(jp->err_text)) {
        /* quoted input: printable ASCII only, so the text is always UTF-8 */
        memcpy(jp->err_text + n, " near '", 7);
        n += 7;
        for (size_t i = 0; i < ctx; i++) {
            unsigned char c = jp->tok_start[i];
            jp->err_text[n++] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
        }
        jp->err_text[n++] = '\'';
        jp->err_text[n] = '\0';
    } else if (ctx == 0 && at == jp->end && n + 17 < sizeof(jp->err_text)) {
        memcpy(jp->err_text + n, " near end of file", 18);
    }
}

static void jp_utf8_fail(json_parser_t *jp, const unsigned char *at)
{
    jp_fail(jp, at, "unable to decode byte 0x%x", *at);
}

static void *jp_oom(json_parser_t *jp)
{
    if (!jp->failed) {
        jp->failed = true;
        jp->oom = true;
    }
    return NULL;
}

/* Line and column of an error at byte offset pos, as jansson counts them:
 * the column is the number of characters since the last newline. The only
 * NUL bytes before pos are ones jansson skipped without counting, but for
 * the one it read as the offending character (counted_nul). */
static void jp_where(const json_parser_t *jp, int *line, int *column)
{
    const unsigned char *p = jp->buf, *pos = jp->err_at, *nl;
    int l = 1, col = 0;

    while (p < pos && (nl = memchr(p, '\n', (size_t)(pos - p))) != NULL) {
        l++;
        p = nl + 1;
    }
    for (; p < pos; p++) {
        unsigned char c = *p;

        if (c == 0)
            col += p == jp->counted_nul;
        else if (c < 0x80 || c >= 0xc0) /* not a continuation byte */
            col++;
    }
    *line = l;
    *column = col;
}

/*** lexer ***/

/* "Reads" the character at q the way jansson's stream does when it looks
 * one past a token: returns its first byte, -1 at the end of input, or -2
 * (with the error set) when it is not valid UTF-8. */
static int jp_peek(json_parser_t *jp, const unsigned char *q)
{
    if (q >= jp->end)
        return -1;
    if (*q >= 0x80 && nw_json_utf8_len(q, jp->end) == 0) {
        jp_utf8_fail(jp, q);
        return -2;
    }
    return *q;
}

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A number or a literal has been read and the character after it put back:
 * jansson then loses a NUL there, so skip one. */
static int jp_token_end(json_parser_t *jp, const unsigned char *q, int tok)
{
    if (q < jp->end && *q == 0)
        q++;
    jp->p = q;
    return jp->tok = tok;
}

static int jp_scratch_append(json_parser_t *jp, const void *data, size_t n)
{
    if (jp->scratch_cap - jp->scratch_len < n) {
        size_t cap = jp->scratch_cap * 2;
        char *s;

        while (cap - jp->scratch_len < n)
            cap *= 2;
        s = jp->scratch == jp->scratch_inline ? malloc(cap) : realloc(jp->scratch, cap);
        if (s == NULL)
            return -ENOMEM;
        if (jp->scratch == jp->scratch_inline)
            memcpy(s, jp->scratch, jp->scratch_len);
        jp->scratch = s;
        jp->scratch_cap = cap;
    }
    memcpy(jp->scratch + jp->scratch_len, data, n);
    jp->scratch_len += n;
    return 0;
}

/* Appends code point cp as UTF-8 to the scratch buffer. */
static int jp_scratch_utf8(json_parser_t *jp, uint32_t cp)
{
    unsigned char u[4];
    size_t n;

    if (cp < 0x80) {
        u[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (unsigned char)(0xc0 | (cp >> 6));
        u[1] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (unsigned char)(0xe0 | (cp >> 12));
        u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (unsigned char)(0xf0 | (cp >> 18));
        u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    return jp_scratch_append(jp, u, n);
}

/* Reads the 4 hex digits of a \u escape at q (just after the 'u'). Returns
 * the value, or -1 with the error set where jansson sets it: after the
 * first character that is not a hex digit (that character is read), at the
 * end of input, or before an invalid UTF-8 sequence. */
static int32_t jp_hex4(json_parser_t *jp, const unsigned char *q)
{
    int32_t v = 0;

    for (int i = 0; i < 4; i++, q++) {
        int d = q < jp->end ? hex_value(*q) : -1;

        if (d >= 0) {
            v = (v << 4) | d;
            continue;
        }
        if (q >= jp->end)
            jp_fail(jp, q, "invalid escape");
        else if (*q >= 0x80 && nw_json_utf8_len(q, jp->end) == 0)
            jp_utf8_fail(jp, q);
        else {
            if (*q == 0)
                jp->counted_nul = q;
            jp_fail(jp, q + 1, "invalid escape");
        }
        return -1;
    }
    return v;
}

/* Decodes the escape whose backslash is at q into the scratch buffer and
 * returns the first byte after it, or NULL with the error set. A surrogate
 * that does not form a pair is not an error yet: *lone is set, and the
 * error is reported at the end of the string, as jansson does. */
static const unsigned char *jp_escape(json_parser_t *jp, const unsigned char *q, bool *lone)
{
    static const char simple_in[] = "\"\\/bfnrt", simple_out[] = "\"\\/\b\f\n\r\t";
    const char *s;
    int32_t v, v2;
    int rc;

    q++;
    if (q >= jp->end) {
        jp_fail(jp, q, "invalid escape");
        return NULL;
    }
    if (*q != 'u') {
        if (*q != 0 && (s = strchr(simple_in, *q)) != NULL) {
            if (jp_scratch_append(jp, &simple_out[s - simple_in], 1) < 0)
                return jp_oom(jp);
            return q + 1;
        }
        if (*q >= 0x80 && nw_json_utf8_len(q, jp->end) == 0)
            jp_utf8_fail(jp, q);
        else {
            if (*q == 0)
                jp->counted_nul = q;
            jp_fail(jp, q + 1, "invalid escape");
        }
        return NULL;
    }
    if ((v = jp_hex4(jp, q + 1)) < 0)
        return NULL;
    q += 5;
    if (v >= 0xdc00 && v <= 0xdfff) {
        *lone = true;
        return q;
    }
    if (v >= 0xd800 && v <= 0xdbff) {
        /* jansson pairs it with the escape that follows, if that is a \u */
        if (jp->end - q < 2 || q[0] != '\\' || q[1] != 'u') {
            *lone = true;
            return q;
        }
        if ((v2 = jp_hex4(jp, q + 2)) < 0)
            return NULL;
        q += 6;
        if (v2 < 0xdc00 || v2 > 0xdfff) {
            *lone = true;
            return q;
        }
        v = ((v - 0xd800) << 10) + (v2 - 0xdc00) + 0x10000;
    }
    if (v == 0)
        jp->str_nul = true;
    rc = jp_scratch_utf8(jp, (uint32_t)v);
    return rc < 0 ? jp_oom(jp) : q;
}

/* Scans the string whose opening quote is at jp->p. Unescaped strings are
 * left in the input; escaped ones are decoded into the scratch buffer. */
static int jp_scan_string(json_parser_t *jp)
{
    const unsigned char *q = jp->p + 1, *run = q;
    bool escaped = false, lone = false;

    jp->str_nul = false;
    jp->str_scratch = false;
    jp->tok = TOK_INVALID;
    for (;;) {
        unsigned char c;

        q = nw_json_plain_run(q, jp->end);
        if (q == jp->end) {
            jp_fail(jp, q, "premature end of input");
            return TOK_INVALID;
        }
        c = *q;
        if (c == '"')
            break;
        if (c < 0x20) {
            /* jansson puts the control character back: the error is before it */
            if (c == '\n')
                jp_fail(jp, q, "unexpected newline");
            else
                jp_fail(jp, q, "control character 0x%x", c);
            return TOK_INVALID;
        }
        if (c >= 0x80) {
            size_t n = nw_json_utf8_len(q, jp->end);

            if (n == 0) {
                jp_utf8_fail(jp, q);
                return TOK_INVALID;
            }
            q += n;
            continue;
        }
        if (!escaped) {
            escaped = true;
            jp->scratch_len = 0;
        }
        if (jp_scratch_append(jp, run, (size_t)(q - run)) < 0) {
            jp_oom(jp);
            return TOK_INVALID;
        }
        if ((q = jp_escape(jp, q, &lone)) == NULL)
            return TOK_INVALID;
        run = q;
    }
    jp->p = q + 1;
    if (lone) {
        jp_fail(jp, jp->p, "invalid Unicode escape (lone surrogate)");
        return TOK_INVALID;
    }
    if (escaped) {
        if (jp_scratch_append(jp, run, (size_t)(q - run)) < 0) {
            jp_oom(jp);
            return TOK_INVALID;
        }
        jp->str = jp->scratch;
        jp->str_len = jp->scratch_len;
        jp->str_scratch = true;
    } else {
        jp->str = (const char *)jp->tok_start + 1;
        jp->str_len = (size_t)(q - jp->tok_start - 1);
    }
    return jp->tok = TOK_STRING;
}

/* Converts the integer text [s, e) (optional '-', digits, no leading zero)
 * as strtoll would; false on overflow. */
static bool jp_integer(const unsigned char *s, const unsigned char *e, json_int_t *out)
{
    bool neg = *s == '-';
    uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;

    for (s += neg; s < e; s++) {
        unsigned d = (unsigned)(*s - '0');

        if (v > (limit - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (neg)
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(json_int_t)v;
    else
        *out = (json_int_t)v;
    return true;
}

/* Converts the real text [s, e) with strtod, as jansson does: the '.' is
 * replaced by the locale's decimal point; an overflow to infinity is an
 * error (-ERANGE), an underflow is not. */
static int jp_real(const unsigned char *s, const unsigned char *e, double *out)
{
    size_t n = (size_t)(e - s);
    char small[64], *text = n < sizeof(small) ? small : malloc(n + 1), *dot;
    double v;
    int saved;

    if (text == NULL)
        return -ENOMEM;
    memcpy(text, s, n);
    text[n] = '\0';
    dot = memchr(text, '.', n);
    if (dot != NULL)
        *dot = localeconv()->decimal_point[0];
    errno = 0;
    v = strtod(text, NULL);
    saved = errno;
    if (text != small)
        free(text);
    if ((v == HUGE_VAL || v == -HUGE_VAL) && saved == ERANGE)
        return -ERANGE;
    *out = v;
    return 0;
}

/* Scans a number at jp->p as jansson's lex_scan_number does: an invalid
 * number ends after its last valid character (the error itself is the
 * parser's "invalid token" there). */
static int jp_scan_number(json_parser_t *jp)
{
    const unsigned char *s = jp->p, *q = s;
    int c, rc;

    jp->tok = TOK_INVALID;
    if (*q == '-')
        q++;
    c = jp_peek(jp, q);
    if (c == '0') {
        c = jp_peek(jp, ++q);
        if (is_digit(c)) {
            jp->p = q;
            return TOK_INVALID;
        }
    } else if (is_digit(c)) {
        while (is_digit(c))
            c = jp_peek(jp, ++q);
    } else {
        jp->p = q;
        return TOK_INVALID;
    }
    if (c != '.' && c != 'e' && c != 'E') {
        jp->p = q;
        if (!jp_integer(s, q, &jp->ival)) {
            jp_fail(jp, q, *s == '-' ? "too big negative integer" : "too big integer");
            return TOK_INVALID;
        }
        return jp_token_end(jp, q, TOK_INTEGER);
    }
    if (c == '.') {
        c = jp_peek(jp, ++q);
        if (!is_digit(c)) {
            jp->p = q;
            return TOK_INVALID;
        }
        while (is_digit(c))
            c = jp_peek(jp, ++q);
    }
    if (c == 'e' || c == 'E') {
        c = jp_peek(jp, ++q);
        if (c == '+' || c == '-')
            c = jp_peek(jp, ++q);
        if (!is_digit(c)) {
            jp->p = q;
            return TOK_INVALID;
        }
        while (is_digit(c))
            c = jp_peek(jp, ++q);
    }
    jp->p = q;
    rc = jp_real(s, q, &jp->rval);
    if (rc == -ENOMEM) {
        jp_oom(jp);
        return TOK_INVALID;
    }
    if (rc < 0) {
        jp_fail(jp, q, "real number overflow");
        return TOK_INVALID;
    }
    return jp_token_end(jp, q, TOK_REAL);
}

/* A run of letters: true, false, null or an invalid token. */
static int jp_scan_word(json_parser_t *jp)
{
    const unsigned char *s = jp->p, *q = s;
    size_t n;

    while (q < jp->end && is_alpha(*q))
        q++;
    (void)jp_peek(jp, q); /* jansson reads the character after the word */
    n = (size_t)(q - s);
    jp->p = q;
    if (n == 4 && memcmp(s, "true", 4) == 0)
        return jp_token_end(jp, q, TOK_TRUE);
    if (n == 5 && memcmp(s, "false", 5) == 0)
        return jp_token_end(jp, q, TOK_FALSE);
    if (n == 4 && memcmp(s, "null", 4) == 0)
        return jp_token_end(jp, q, TOK_NULL);
    return jp->tok = TOK_INVALID;
}

/* Reads the next token into jp->tok. Once an error is set every token is
 * invalid: jansson's stream stays in error after a UTF-8 error, and any
 * other error ends the parse anyway. */
static int jp_scan(json_parser_t *jp)
{
    const unsigned char *p = jp->p, *end = jp->end;
    unsigned char c;

    if (jp->failed)
        return jp->tok = TOK_INVALID;
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')) {
        /* pretty-printed input: the indentation after a line break */
        if (*p++ == '\n')
            while (end - p >= 8 && memcmp(p, "        ", 8) == 0)
                p += 8;
    }
    jp->p = jp->tok_start = p;
    if (p == end)
        return jp->tok = TOK_EOF;
    c = *p;
    switch (c) {
    case '{':
    case '}':
    case '[':
    case ']':
    case ':':
    case ',':
        jp->p = p + 1;
        return jp->tok = c;
    case '"':
        return jp_scan_string(jp);
    default:
        break;
    }
    if (c == '-' || is_digit(c))
        return jp_scan_number(jp);
    if (is_alpha(c))
        return jp_scan_word(jp);
    /* any other character is an invalid token, read whole */
    if (c >= 0x80) {
        size_t n = nw_json_utf8_len(p, end);

        if (n == 0) {
            jp_utf8_fail(jp, p);
            return jp->tok = TOK_INVALID;
        }
        jp->p = p + n;
    } else {
        if (c == 0)
            jp->counted_nul = p;
        jp->p = p + 1;
    }
    return jp->tok = TOK_INVALID;
}

/*** parser ***/

/* True if obj already has the key of the current token. The keys of a
 * small object are compared one by one (keys[base..]); once the object is
 * large, a key was escaped (it is not in the input) or keys[] is full,
 * *hashed is set and jansson's table answers from then on. */
static bool jp_duplicate(json_parser_t *jp, const json_t *obj, size_t base, bool *hashed)
{
    if (!*hashed && (jp->str_scratch || jp->nkeys - base >= JP_KEYS_SCAN || jp->nkeys == JP_KEYS))
        *hashed = true;
    if (*hashed)
        return json_object_getn(obj, jp->str, jp->str_len) != NULL;
    for (size_t i = base; i < jp->nkeys; i++) {
        if (jp->keys[i].len == jp->str_len && memcmp(jp->keys[i].s, jp->str, jp->str_len) == 0)
            return true;
    }
    jp->keys[jp->nkeys++] = (jp_key_t){jp->str, jp->str_len};
    return false;
}

/* An object; jp->tok is its '{'. */
static json_t *jp_object(json_parser_t *jp)
{
    json_t *obj = json_object();
    size_t base = jp->nkeys;
    bool hashed = false;

    if (obj == NULL)
        return jp_oom(jp);
    if (jp_scan(jp) == '}')
        return obj;
    for (;;) {
        const char *key = jp->str;
        size_t klen = jp->str_len;
        char *kcopy = NULL;
        json_t *value;

        if (jp->tok != TOK_STRING) {
            jp_fail(jp, jp->p, "string or '}' expected");
            goto fail;
        }
        if (jp->str_nul) {
            jp_fail(jp, jp->p, "NUL byte in object key not supported");
            goto fail;
        }
        if ((jp->flags & NW_JSON_REJECT_DUPLICATES) && jp_duplicate(jp, obj, base, &hashed)) {
            jp_fail(jp, jp->p, "duplicate object key");
            goto fail;
        }
        if (jp->str_scratch) {
            /* the value's strings will reuse the scratch buffer */
            if ((kcopy = malloc(klen ? klen : 1)) == NULL) {
                jp_oom(jp);
                goto fail;
            }
            memcpy(kcopy, key, klen);
            key = kcopy;
        }
        if (jp_scan(jp) != ':') {
            free(kcopy);
            jp_fail(jp, jp->p, "':' expected");
            goto fail;
        }
        jp_scan(jp);
        value = jp_value(jp);
        if (value == NULL || json_object_setn_new_nocheck(obj, key, klen, value) < 0) {
            free(kcopy);
            if (value != NULL)
                jp_oom(jp);
            goto fail;
        }
        free(kcopy);
        if (jp_scan(jp) != ',')
            break;
        jp_scan(jp);
    }
    if (jp->tok != '}') {
        jp_fail(jp, jp->p, "'}' expected");
        goto fail;
    }
    jp->nkeys = base;
    return obj;

fail:
    jp->nkeys = base;
    json_decref(obj);
    return NULL;
}

/* An array; jp->tok is its '['. */
static json_t *jp_array(json_parser_t *jp)
{
    json_t *arr = json_array();

    if (arr == NULL)
        return jp_oom(jp);
    if (jp_scan(jp) == ']')
        return arr;
    while (jp->tok != TOK_EOF) {
        json_t *elem = jp_value(jp);

        if (elem == NULL)
            goto fail;
        if (json_array_append_new(arr, elem) < 0) {
            jp_oom(jp);
            goto fail;
        }
        if (jp_scan(jp) != ',')
            break;
        jp_scan(jp);
    }
    if (jp->tok != ']') {
        jp_fail(jp, jp->p, "']' expected");
        goto fail;
    }
    return arr;

fail:
    json_decref(arr);
    return NULL;
}

/* The value starting with the current token. */
static json_t *jp_value(json_parser_t *jp)
{
    json_t *v;

    if (++jp->depth > NW_JSON_MAX_DEPTH) {
        jp_fail(jp, jp->p, "maximum parsing depth reached");
        return NULL;
    }
    switch (jp->tok) {
    case TOK_STRING:
        if (jp->str_nul) {
            jp_fail(jp, jp->p, "\\u0000 is not allowed");
            return NULL;
        }
        v = json_stringn_nocheck(jp->str, jp->str_len);
        break;
    case TOK_INTEGER:
        v = json_integer(jp->ival);
        break;
    case TOK_REAL:
        v = json_real(jp->rval);
        break;
    case TOK_TRUE:
        v = json_true();
        break;
    case TOK_FALSE:
        v = json_false();
        break;
    case TOK_NULL:
        v = json_null();
        break;
    case '{':
        v = jp_object(jp);
        break;
    case '[':
        v = jp_array(jp);
        break;
    case TOK_INVALID:
        jp_fail(jp, jp->p, "invalid token");
        return NULL;
    default:
        jp_fail(jp, jp->p, "unexpected token");
        return NULL;
    }
    if (v == NULL)
        return jp->failed ? NULL : jp_oom(jp);
    jp->depth--;
    return v;
}

int nw_json_parse_ex(const char *buf, size_t len, unsigned flags, json_t **out,
                     nw_json_error_t *jerr)
{
    json_parser_t jp;
    json_t *v = NULL;

    *out = NULL;
    if (buf == NULL)
        buf = len == 0 ? "" : NULL;
    if (buf == NULL) {
        if (jerr != NULL)
            *jerr = (nw_json_error_t){.line = -1, .column = -1, .text = "wrong arguments"};
        return -EINVAL;
    }
    jp.buf = jp.p = (const unsigned char *)buf;
    jp.end = jp.buf + len;
    jp.flags = flags;
    jp.depth = 0;
    jp.tok = TOK_INVALID;
    jp.tok_start = NULL;
    jp.str = NULL;
    jp.str_len = 0;
    jp.str_nul = jp.str_scratch = false;
    jp.scratch = jp.scratch_inline;
    jp.scratch_len = 0;
    jp.scratch_cap = sizeof(jp.scratch_inline);
    jp.nkeys = 0;
    jp.failed = jp.oom = false;
    jp.err_at = NULL;
    jp.counted_nul = NULL;
    jp.err_text[0] = '\0';

    jp_scan(&jp);
    if (!(flags & NW_JSON_DECODE_ANY) && jp.tok != '[' && jp.tok != '{')
        jp_fail(&jp, jp.p, "'[' or '{' expected");
    else if ((v = jp_value(&jp)) != NULL && jp_scan(&jp) != TOK_EOF)
        jp_fail(&jp, jp.p, "end of file expected");
    if (jp.scratch != jp.scratch_inline)
        free(jp.scratch);
    if (!jp.failed) {
        *out = v;
        return 0;
    }
    json_decref(v);
    if (jp.oom) {
        if (jerr != NULL)
            *jerr = (nw_json_error_t){.line = 0, .column = 0, .text = "out of memory"};
        return -ENOMEM;
    }
    if (jerr != NULL) {
        jp_where(&jp, &jerr->line, &jerr->column);
        memcpy(jerr->text, jp.err_text, sizeof(jerr->text));
    }
    return -EINVAL;
}

int nw_json_parse(const char *buf, size_t len, unsigned flags, json_t **out, nw_err_t *err)
{
    nw_json_error_t jerr;
    int rc = nw_json_parse_ex(buf, len, flags, out, &jerr);

    if (rc == -ENOMEM)
        nw_err_set(err, "", "out of memory");
    else if (rc < 0)
        nw_err_set(err, "", "invalid JSON at line %d column %d: %s", jerr.line, jerr.column,
                   jerr.text);
    return rc;
}
