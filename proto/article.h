/* Newswire — the article model: an IPTC ninjs 2.2 item, validated.
 *
 * Validation is stricter than the ninjs 2.2 schema, never looser, so every
 * item Newswire accepts (and therefore emits) validates against ninjs 2.2:
 * unknown properties are rejected at every level, types and enumerations are
 * checked, and every string and array has a length limit (NW_ARTICLE_* and
 * the table in article.c, documented in proto/PROTOCOL.md). Required:
 * uri, version, versioncreated, type, language, headlines (>= 1 entry). */
#ifndef NW_ARTICLE_H
#define NW_ARTICLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common.h"

#define NW_ARTICLE_MAX_BYTES  (1024 * 1024) /* encoded item, either format */
#define NW_ARTICLE_MAX_DEPTH  16            /* nesting of objects/arrays */
#define NW_URGENCY_MIN        1
#define NW_URGENCY_MAX        9
#define NW_URGENCY_DEFAULT    5 /* when the item carries no urgency */
#define NW_VERSION_MAX_DIGITS 9 /* "version" is a decimal string 1..999999999 */

typedef enum nw_pubstatus {
    NW_PUBSTATUS_USABLE = 0,
    NW_PUBSTATUS_WITHHELD,
    NW_PUBSTATUS_CANCELED,
} nw_pubstatus_t;

typedef struct nw_article {
    json_t *item;         /* owned reference to the validated ninjs object */
    const char *uri;      /* borrowed from item */
    const char *version;  /* borrowed from item: decimal string */
    uint32_t version_num; /* its value, >= 1 */
    int urgency;          /* 1..9; NW_URGENCY_DEFAULT when absent */
    bool has_urgency;
    nw_pubstatus_t pubstatus;  /* NW_PUBSTATUS_USABLE when absent */
    int64_t versioncreated_ms; /* Unix epoch milliseconds */
    int64_t embargoed_ms;      /* 0 when absent */
} nw_article_t;

/* Parses and validates a JSON document (must be a single object; duplicate
 * keys, invalid UTF-8 and \u0000 are rejected). Returns 0 and *out (owned),
 * or -EINVAL with err naming the field (a JSON path like
 * "headlines[0].value"; "" for a syntax error, whose message then carries
 * line and column), or -ENOMEM. */
int nw_article_parse_json(const char *buf, size_t len, nw_article_t **out, nw_err_t *err);

/* The same for a msgpack document holding a map with the same keys. */
int nw_article_parse_msgpack(const char *buf, size_t len, nw_article_t **out, nw_err_t *err);

/* Validates an already parsed item. On success takes a new reference to
 * item and returns 0 with *out (owned). */
int nw_article_from_json(json_t *item, nw_article_t **out, nw_err_t *err);

/* Serialises the item to its canonical form: compact JSON, keys sorted,
 * UTF-8 unescaped. Two items with the same content have the same canonical
 * form. Returns a malloc'd NUL-terminated string (caller frees) and its
 * length in *len, or NULL on allocation failure. */
char *nw_article_dump_canonical(const nw_article_t *a, size_t *len);

void nw_article_free(nw_article_t *a);

const char *nw_pubstatus_name(nw_pubstatus_t s);

/* Parses an RFC 3339 date-time ("2026-11-27T09:12:00Z",
 * "2026-11-27T10:12:00.250+01:00") to Unix epoch milliseconds. Returns 0 or
 * -EINVAL. */
int nw_rfc3339_parse(const char *s, int64_t *ms);

/* Formats Unix epoch milliseconds as an RFC 3339 UTC date-time with
 * milliseconds ("2026-11-27T09:12:00.250Z") into buf (NW_RFC3339_MAX bytes). */
#define NW_RFC3339_MAX 64
void nw_rfc3339_format(int64_t ms, char buf[NW_RFC3339_MAX]);

/* True if s[0..len) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
bool nw_utf8_valid(const char *s, size_t len);

#endif
