/* Newswire — JSON <-> msgpack codecs.
 *
 * The msgpack wire format carries the same keys and values as JSON: maps with
 * string keys, arrays, strings (valid UTF-8), integers, floats, booleans and
 * nil. bin and ext types are rejected. Values are held as jansson json_t. */
#ifndef NW_CODEC_H
#define NW_CODEC_H

#include <stddef.h>

#include <jansson.h>
#include <msgpack.h>

#include "common.h"

#define NW_CODEC_MAX_DEPTH 32

/* Decodes exactly one msgpack object filling buf[0..len) (trailing bytes are
 * an error) into *out (a new reference). Rejects: non-string map keys,
 * duplicate map keys, invalid UTF-8, bin/ext, integers outside the int64
 * range, nesting beyond NW_CODEC_MAX_DEPTH. Returns 0, -EINVAL (err says
 * where: a JSON path to the offending value), or -ENOMEM. */
int nw_codec_msgpack_to_json(const char *buf, size_t len, json_t **out, nw_err_t *err);

/* Appends the msgpack encoding of v to pk's buffer. Integers are packed as
 * integers, reals as float64, objects as maps in key order. Returns 0 or
 * -ENOMEM (or -EINVAL for a value deeper than NW_CODEC_MAX_DEPTH). */
int nw_codec_json_to_msgpack(const json_t *v, msgpack_packer *pk);

#endif
