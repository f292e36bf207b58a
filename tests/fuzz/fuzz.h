/* Newswire — fuzz harnesses: one per parser (tests/fuzz/fuzz_<target>.c).
 *
 * Each harness runs one input through its parser's entry points, checks the
 * invariants that hold for that parser (round trips, split independence,
 * agreement with a reference) and aborts through NW_ASSERT when one breaks,
 * which libFuzzer reports as a crash. It returns the input's verdict: true
 * when the parser accepted it. libFuzzer calls the harness through
 * LLVMFuzzerTestOneInput; tests/unit/test_fuzz_regressions.c compiles the
 * same files with NW_FUZZ_REPLAY defined (no libFuzzer entry point) and
 * replays the committed corpus and regressions, checking each verdict
 * against the file's name: "ok-*" must be accepted, "bad-*" refused. */
#ifndef NW_FUZZ_H
#define NW_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

/* A JSON article (ninjs): nw_article_parse_json. */
bool nw_fuzz_article_json(const uint8_t *data, size_t size);

/* A msgpack article: nw_article_parse_msgpack and the codec. */
bool nw_fuzz_article_msgpack(const uint8_t *data, size_t size);

/* A client op: byte 0 selects the format (even: JSON, odd: msgpack), the
 * rest is the message. */
bool nw_fuzz_op(const uint8_t *data, size_t size);

/* Topics and patterns, one per line: check, pattern check, list parse,
 * match and covers. Accepted when every line parses as a pattern list. */
bool nw_fuzz_topic(const uint8_t *data, size_t size);

/* A config file: nw_config_load_file; each line (and its value) also goes
 * through nw_config_parse_listen and nw_config_parse_redis_url. */
bool nw_fuzz_config(const uint8_t *data, size_t size);

/* An HTTP request: head (and chunked body) fed whole and in pieces.
 * Accepted when neither the head parser nor the chunked decoder refused. */
bool nw_fuzz_http_parse(const uint8_t *data, size_t size);

/* A JSON document: nw_json_parse and nw_json_dump_canonical against
 * jansson, under every flag combination. Accepted when nw_json_parse takes
 * it with NW_JSON_REJECT_DUPLICATES | NW_JSON_DECODE_ANY. */
bool nw_fuzz_json(const uint8_t *data, size_t size);

/* Defines the libFuzzer entry point of a harness, except when the harness is
 * compiled into the replay unit test. */
#ifdef NW_FUZZ_REPLAY
#define NW_FUZZ_ENTRY(fn)
#else
#define NW_FUZZ_ENTRY(fn)                                                                          \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);                                  \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)                                   \
    {                                                                                              \
        (void)fn(data, size);                                                                      \
        return 0;                                                                                  \
    }
#endif

#endif
