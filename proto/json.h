/* Newswire — a fast JSON parser and canonical dumper over jansson values.
 *
 * jansson's json_loadb reads its input one byte at a time through a
 * callback and json_dumps writes through one; on the ingest path that cost
 * dominated. nw_json_parse and nw_json_dump_canonical produce and consume
 * the same jansson values (json_t) but scan the buffer directly.
 *
 * They are drop-in replacements, held to jansson 2.14's behaviour by a
 * differential unit test (tests/unit/test_json.c) and a differential fuzz
 * target (tests/fuzz/fuzz_json.c):
 * - nw_json_parse accepts exactly what json_loadb accepts with the
 *   corresponding flags (JSON_REJECT_DUPLICATES, JSON_DECODE_ANY; never
 *   JSON_ALLOW_NUL, so "\u0000" is refused), gives equal values, and on a
 *   refusal reports the same line and column as json_loadb;
 * - nw_json_dump_canonical writes the same bytes as
 *   json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY). */
#ifndef NW_JSON_H
#define NW_JSON_H

#include <stddef.h>

#include <jansson.h>

#include "common.h"

/* Flags of nw_json_parse. */
#define NW_JSON_REJECT_DUPLICATES 0x1u /* an object with a key twice is an error */
#define NW_JSON_DECODE_ANY        0x2u /* any value at the top, not only [ or { */

/* jansson's JSON_PARSER_MAX_DEPTH: values (scalars included) nested deeper
 * are refused. */
#define NW_JSON_MAX_DEPTH 2048

/* Why a document was refused, as jansson's json_error_t would say it:
 * line is 1-based, column counts the characters (not bytes) of that line
 * before the point of the error, text is a short printable-ASCII reason
 * (not jansson's exact wording). */
typedef struct nw_json_error {
    int line;
    int column;
    char text[160];
} nw_json_error_t;

/* Parses buf[0..len) (not NUL-terminated; a NUL byte is input) into *out,
 * a new reference (owned by the caller). Grammar: RFC 8259 as jansson 2.14
 * reads it: strict UTF-8 (no overlongs, no surrogates, <= U+10FFFF), no
 * lone surrogate in \u escapes, no \u0000, integers within int64_t ("too
 * big integer" otherwise, no fallback to real), reals parsed with strtod
 * and refused when they overflow to infinity (underflow gives 0 or a
 * subnormal), nesting up to NW_JSON_MAX_DEPTH, whitespace around the value,
 * nothing after it. Like jansson, a NUL byte right after a number or a
 * literal is skipped. Returns 0; -EINVAL with jerr (may be NULL) filled;
 * or -ENOMEM (jerr->text "out of memory", line and column 0). */
int nw_json_parse_ex(const char *buf, size_t len, unsigned flags, json_t **out,
                     nw_json_error_t *jerr);

/* The same, filling err (may be NULL) with field "" and the message
 * "invalid JSON at line L column C: <text>" (or "out of memory"). */
int nw_json_parse(const char *buf, size_t len, unsigned flags, json_t **out, nw_err_t *err);

/* Serialises v compactly with object keys sorted bytewise (as strcmp, and
 * a key that is a prefix of another first), strings in UTF-8 with only
 * '"', '\\' and control characters escaped, integers in decimal, reals as
 * jansson writes them ("%.17g", with ".0" added to an integral value and
 * the exponent's '+' and leading zeros dropped). Any value may be at the
 * top, as with JSON_ENCODE_ANY. Returns a malloc'd NUL-terminated string
 * (caller frees) and its length in *len (len may be NULL); NULL on
 * allocation failure, when a string is not valid UTF-8 (as json_dumps),
 * when a key is not (where json_dumps writes malformed JSON), or when v
 * nests containers deeper than NW_JSON_MAX_DEPTH (which nw_json_parse never
 * produces; it also stops a cyclic value, which json_dumps detects). */
char *nw_json_dump_canonical(const json_t *v, size_t *len);

#endif
