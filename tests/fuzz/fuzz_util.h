/* Newswire — helpers shared by the fuzz harnesses (tests/fuzz/fuzz_util.c). */
#ifndef NW_FUZZ_UTIL_H
#define NW_FUZZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "article.h"
#include "common.h"

/* Checks a filled validation error: both strings NUL-terminated inside
 * their arrays and valid UTF-8 (they go into JSON replies), and a
 * non-empty message. */
void nw_fuzz_check_err(const nw_err_t *err);

/* True if every byte of s is printable ASCII (what topic errors promise). */
bool nw_fuzz_printable(const char *s);

/* Packs v as msgpack with nw_codec_json_to_msgpack. Returns a malloc'd
 * buffer (caller frees) and its length, or NULL when the codec refuses v
 * (nesting deeper than NW_CODEC_MAX_DEPTH). */
char *nw_fuzz_pack(const json_t *v, size_t *len);

/* Checks everything that must hold for an accepted article: the routed
 * fields agree with the item, its date-times survive formatting, its
 * canonical form parses again (as JSON and as msgpack) into an article with
 * the same canonical form and the same routed fields. */
void nw_fuzz_check_article(const nw_article_t *a);

/* Parses an article from a format-free json_t, as the daemon would from
 * either encoding: returns nw_article_parse_json's result on the compact,
 * key-sorted dump of v (0 or a negative errno), or 1 when the dump is over
 * NW_ARTICLE_MAX_BYTES and was not tried. */
int nw_fuzz_article_verdict_of(const json_t *v);

/* A small deterministic generator (xorshift64*), seeded from the input so
 * that a reproducer replays exactly. */
typedef struct nw_fuzz_rng {
    uint64_t s;
} nw_fuzz_rng_t;

void nw_fuzz_rng_seed(nw_fuzz_rng_t *r, const uint8_t *data, size_t size);
uint64_t nw_fuzz_rng_next(nw_fuzz_rng_t *r);

#endif
