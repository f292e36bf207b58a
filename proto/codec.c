/* Newswire — JSON <-> msgpack codecs.
 *
 * Decoding runs in two passes over the one buffer:
 *
 * 1. codec_scan walks the msgpack framing without building anything: every
 *    length and element count must fit in the bytes that remain, nesting
 *    stays within NW_CODEC_MAX_DEPTH, and exactly one object fills the
 *    buffer. This matters because msgpack-c allocates count *
 *    sizeof(msgpack_object) as soon as it reads an array or map header, so a
 *    five-byte header could otherwise ask for gigabytes; and because its
 *    fixed parse stack (MSGPACK_EMBED_STACK_SIZE, 32) reports deeper
 *    nesting as "out of memory". After the scan, msgpack-c's allocations are
 *    bounded by a small multiple of the input size.
 * 2. msgpack_unpack_next builds the object tree in a zone, and codec_to_json
 *    converts it, refusing what JSON (as Newswire parses it) cannot carry:
 *    bin, ext, non-string or duplicate map keys, invalid UTF-8, NUL
 *    characters (refused in JSON text too), integers above INT64_MAX, and
 *    non-finite floats.
 *
 * Errors name the JSON path of the offending value ("" for the document). */
#include "codec.h"
#include "article.h" /* nw_utf8_valid */
#include "path.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* One open array or map during the framing scan. */
typedef struct scan_frame {
    bool is_map;
    size_t total;    /* elements: items, or 2 per map entry (key, value) */
    size_t left;     /* elements not yet complete */
    const char *key; /* the current entry's key, when it is a str */
    size_t key_len;
} scan_frame_t;

typedef struct scan_ctx {
    const unsigned char *buf;
    size_t len;
    size_t pos;
    int depth;
    scan_frame_t frames[NW_CODEC_MAX_DEPTH];
} scan_ctx_t;

/* Builds the JSON path of the value the scan is at, from its open frames. */
static void scan_path(const scan_ctx_t *s, nw_path_t *path)
{
    nw_path_init(path);
    for (int i = 0; i < s->depth; i++) {
        const scan_frame_t *f = &s->frames[i];
        size_t elem = f->total - f->left;

        if (!f->is_map)
            nw_path_push_index(path, elem);
        else if (elem % 2 == 1)
            nw_path_push_key(path, f->key ? f->key : "?", f->key ? f->key_len : 1);
    }
}

static uint64_t scan_be(const unsigned char *p, size_t n)
{
    uint64_t v = 0;

    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Decodes the header at s->pos: *head is its size in bytes, *body the
 * payload that follows (str/bin/ext data, fixed-size scalars), *count the
 * number of elements of an array or map (-1 for anything else). Returns
 * false for the reserved byte 0xc1 or a header cut short. */
static bool scan_header(const scan_ctx_t *s, size_t *head, uint64_t *body, int64_t *count,
                        bool *is_map, bool *is_str)
{
    const unsigned char *p = s->buf + s->pos;
    size_t avail = s->len - s->pos;
    unsigned char b = p[0];
    size_t lenbytes = 0;

    *head = 1;
    *body = 0;
    *count = -1;
    *is_map = false;
    *is_str = false;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
        return true;
    if (b <= 0x9f) { /* fixmap 0x80..0x8f, fixarray 0x90..0x9f */
        *is_map = b <= 0x8f;
        *count = b & 0x0f;
        return true;
    }
    if (b <= 0xbf) {
        *is_str = true;
        *body = b & 0x1f;
        return true;
    }
    switch (b) {
    case 0xc1:
        return false;
    case 0xc4:
    case 0xc5:
    case 0xc6: /* bin 8/16/32 */
        lenbytes = (size_t)1 << (b - 0xc4);
        break;
    case 0xc7:
    case 0xc8:
    case 0xc9: /* ext 8/16/32: length, then a type byte */
        lenbytes = (size_t)1 << (b - 0xc7);
        *body = 1;
        break;
    case 0xca:
    case 0xcb: /* float 32/64 */
        *body = b == 0xca ? 4 : 8;
        return true;
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf: /* uint 8..64 */
        *body = (uint64_t)1 << (b - 0xcc);
        return true;
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: /* int 8..64 */
        *body = (uint64_t)1 << (b - 0xd0);
        return true;
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8: /* fixext 1..16 */
        *body = 1 + ((uint64_t)1 << (b - 0xd4));
        return true;
    case 0xd9:
    case 0xda:
    case 0xdb: /* str 8/16/32 */
        *is_str = true;
        lenbytes = (size_t)1 << (b - 0xd9);
        break;
    case 0xdc:
    case 0xdd: /* array 16/32 */
    case 0xde:
    case 0xdf: /* map 16/32 */
        *is_map = b >= 0xde;
        lenbytes = (size_t)2 << ((b - 0xdc) & 1);
        if (avail < 1 + lenbytes)
            return false;
        *count = (int64_t)scan_be(p + 1, lenbytes);
        *head = 1 + lenbytes;
        return true;
    }
    if (avail < 1 + lenbytes)
        return false;
    *body += scan_be(p + 1, lenbytes);
    *head = 1 + lenbytes;
    return true;
}

/* Checks the framing of buf[0..len): see the comment at the top. */
static int codec_scan(const char *buf, size_t len, nw_err_t *err)
{
    scan_ctx_t s = {.buf = (const unsigned char *)buf, .len = len};
    nw_path_t path;

    for (;;) {
        size_t head;
        uint64_t body;
        int64_t count;
        bool is_map, is_str;
        scan_frame_t *top = s.depth > 0 ? &s.frames[s.depth - 1] : NULL;

        if (s.pos >= len) {
            scan_path(&s, &path);
            nw_err_set(err, path.buf, "truncated msgpack: input ends at byte %zu", len);
            return -EINVAL;
        }
        if (!scan_header(&s, &head, &body, &count, &is_map, &is_str)) {
            scan_path(&s, &path);
            nw_err_set(err, path.buf, "%s at byte %zu",
                       s.buf[s.pos] == 0xc1 ? "invalid msgpack: reserved type 0xc1"
                                            : "truncated msgpack: header cut",
                       s.pos);
            return -EINVAL;
        }
        if (body > len - s.pos - head) {
            scan_path(&s, &path);
            nw_err_set(err, path.buf, "truncated msgpack: value at byte %zu needs %llu bytes",
                       s.pos, (unsigned long long)(head + body));
            return -EINVAL;
        }
        /* remember map keys (once known to fit) for error paths */
        if (top != NULL && top->is_map && (top->total - top->left) % 2 == 0) {
            top->key = is_str ? buf + s.pos + head : NULL;
            top->key_len = is_str ? (size_t)body : 0;
        }
        s.pos += head + (size_t)body;
        if (count >= 0) {
            uint64_t elems = (uint64_t)count * (is_map ? 2 : 1);

            if (s.depth >= NW_CODEC_MAX_DEPTH) {
                scan_path(&s, &path);
                nw_err_set(err, path.buf, "too deeply nested: max %d levels", NW_CODEC_MAX_DEPTH);
                return -EINVAL;
            }
            if (elems > len - s.pos) {
                scan_path(&s, &path);
                nw_err_set(err, path.buf,
                           "truncated msgpack: %s of %lld %s at byte %zu, only %zu bytes left",
                           is_map ? "map" : "array", (long long)count, is_map ? "entries" : "items",
                           s.pos - head, len - s.pos);
                return -EINVAL;
            }
            if (elems > 0) {
                s.frames[s.depth++] =
                    (scan_frame_t){.is_map = is_map, .total = (size_t)elems, .left = (size_t)elems};
                continue;
            }
        }
        /* A value is complete: so may be the containers it closes. */
        while (s.depth > 0 && --s.frames[s.depth - 1].left == 0)
            s.depth--;
        if (s.depth == 0)
            break;
    }
    if (s.pos != len) {
        nw_err_set(err, "", "trailing bytes: %zu after the msgpack document", len - s.pos);
        return -EINVAL;
    }
    return 0;
}

/* Checks a msgpack str for use as a JSON string or key. */
static int codec_check_str(const char *s, size_t len, const nw_path_t *path, const char *what,
                           nw_err_t *err)
{
    if (!nw_utf8_valid(s, len)) {
        nw_err_set(err, path->buf, "%s is not valid UTF-8", what);
        return -EINVAL;
    }
    if (memchr(s, '\0', len) != NULL) {
        nw_err_set(err, path->buf, "%s contains a NUL character", what);
        return -EINVAL;
    }
    return 0;
}

/* Converts one msgpack object (framing already checked by codec_scan) into
 * a new json_t in *out. Returns 0, -EINVAL (err names path) or -ENOMEM. */
static int codec_to_json(const msgpack_object *o, nw_path_t *path, int depth, json_t **out,
                         nw_err_t *err)
{
    json_t *v = NULL;
    int rc;

    *out = NULL;
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        v = json_null();
        break;
    case MSGPACK_OBJECT_BOOLEAN:
        v = json_boolean(o->via.boolean);
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (o->via.u64 > (uint64_t)INT64_MAX) {
            nw_err_set(err, path->buf, "integer out of range: %llu > %lld",
                       (unsigned long long)o->via.u64, (long long)INT64_MAX);
            return -EINVAL;
        }
        v = json_integer((json_int_t)o->via.u64);
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        v = json_integer((json_int_t)o->via.i64);
        break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        if (!isfinite(o->via.f64)) {
            nw_err_set(err, path->buf, "must be a finite number");
            return -EINVAL;
        }
        v = json_real(o->via.f64);
        break;
    case MSGPACK_OBJECT_STR: {
        /* msgpack-c may leave ptr NULL for an empty str */
        const char *str = o->via.str.size ? o->via.str.ptr : "";

        rc = codec_check_str(str, o->via.str.size, path, "string", err);
        if (rc < 0)
            return rc;
        v = json_stringn_nocheck(str, o->via.str.size);
        break;
    }
    case MSGPACK_OBJECT_BIN:
        nw_err_set(err, path->buf, "bin values are not allowed (use a string)");
        return -EINVAL;
    case MSGPACK_OBJECT_EXT:
        nw_err_set(err, path->buf, "ext values are not allowed");
        return -EINVAL;
    case MSGPACK_OBJECT_ARRAY:
    case MSGPACK_OBJECT_MAP:
        if (depth >= NW_CODEC_MAX_DEPTH) {
            nw_err_set(err, path->buf, "too deeply nested: max %d levels", NW_CODEC_MAX_DEPTH);
            return -EINVAL;
        }
        v = o->type == MSGPACK_OBJECT_ARRAY ? json_array() : json_object();
        if (v == NULL)
            goto nomem;
        if (o->type == MSGPACK_OBJECT_ARRAY) {
            for (uint32_t i = 0; i < o->via.array.size; i++) {
                size_t mark = nw_path_push_index(path, i);
                json_t *item;

                rc = codec_to_json(&o->via.array.ptr[i], path, depth + 1, &item, err);
                if (rc < 0)
                    goto fail;
                if (json_array_append_new(v, item) < 0)
                    goto nomem;
                nw_path_pop(path, mark);
            }
        } else {
            for (uint32_t i = 0; i < o->via.map.size; i++) {
                const msgpack_object_kv *kv = &o->via.map.ptr[i];
                size_t key_len = kv->key.via.str.size, mark;
                const char *key = key_len ? kv->key.via.str.ptr : "";
                json_t *item;

                if (kv->key.type != MSGPACK_OBJECT_STR) {
                    nw_err_set(err, path->buf, "map keys must be strings");
                    rc = -EINVAL;
                    goto fail;
                }
                rc = codec_check_str(key, key_len, path, "map key", err);
                if (rc < 0)
                    goto fail;
                mark = nw_path_push_key(path, key, key_len);
                if (json_object_getn(v, key, key_len) != NULL) {
                    nw_err_set(err, path->buf, "duplicate key");
                    rc = -EINVAL;
                    goto fail;
                }
                rc = codec_to_json(&kv->val, path, depth + 1, &item, err);
                if (rc < 0)
                    goto fail;
                if (json_object_setn_new_nocheck(v, key, key_len, item) < 0)
                    goto nomem;
                nw_path_pop(path, mark);
            }
        }
        break;
    }
    if (v == NULL)
        goto nomem;
    *out = v;
    return 0;

nomem:
    nw_err_set(err, path->buf, "out of memory");
    rc = -ENOMEM;
fail:
    json_decref(v);
    return rc;
}

int nw_codec_msgpack_to_json(const char *buf, size_t len, json_t **out, nw_err_t *err)
{
    msgpack_unpacked up;
    msgpack_unpack_return ur;
    nw_path_t path;
    size_t off = 0;
    int rc;

    *out = NULL;
    rc = codec_scan(buf, len, err);
    if (rc < 0)
        return rc;
    msgpack_unpacked_init(&up);
    ur = msgpack_unpack_next(&up, buf, len, &off);
    if (ur == MSGPACK_UNPACK_NOMEM_ERROR) {
        nw_err_set(err, "", "out of memory");
        rc = -ENOMEM;
        goto done;
    }
    if (ur != MSGPACK_UNPACK_SUCCESS || off != len) {
        /* Not expected once the scan has passed; refuse rather than trust. */
        nw_err_set(err, "", "invalid msgpack");
        rc = -EINVAL;
        goto done;
    }
    nw_path_init(&path);
    rc = codec_to_json(&up.data, &path, 0, out, err);
done:
    msgpack_unpacked_destroy(&up);
    return rc;
}

typedef struct codec_key {
    const char *s;
    size_t len;
} codec_key_t;

static int codec_key_cmp_cb(const void *a, const void *b)
{
    const codec_key_t *x = a, *y = b;
    int c = memcmp(x->s, y->s, NW_MIN(x->len, y->len));

    if (c != 0)
        return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

static int codec_pack_str(msgpack_packer *pk, const char *s, size_t len)
{
    if (len > UINT32_MAX)
        return -EINVAL;
    if (msgpack_pack_str(pk, len) < 0 || msgpack_pack_str_body(pk, s, len) < 0)
        return -ENOMEM;
    return 0;
}

/* Packs v; depth counts the containers around it. Object keys are packed
 * sorted (bytewise), like JSON_SORT_KEYS, so the same content always has
 * the same encoding. */
static int codec_pack(const json_t *v, msgpack_packer *pk, int depth)
{
    int rc = 0;

    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        size_t n = json_object_size(v), i = 0;
        codec_key_t *keys;
        const char *key;
        size_t key_len;
        json_t *child;

        if (depth >= NW_CODEC_MAX_DEPTH || n > UINT32_MAX)
            return -EINVAL;
        keys = malloc((n ? n : 1) * sizeof(*keys));
        if (keys == NULL)
            return -ENOMEM;
        json_object_keylen_foreach((json_t *)v, key, key_len, child)
        {
            keys[i++] = (codec_key_t){key, key_len};
        }
        qsort(keys, n, sizeof(*keys), codec_key_cmp_cb);
        if (msgpack_pack_map(pk, n) < 0)
            rc = -ENOMEM;
        for (i = 0; rc == 0 && i < n; i++) {
            rc = codec_pack_str(pk, keys[i].s, keys[i].len);
            if (rc == 0)
                rc = codec_pack(json_object_getn(v, keys[i].s, keys[i].len), pk, depth + 1);
        }
        free(keys);
        return rc;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(v);

        if (depth >= NW_CODEC_MAX_DEPTH || n > UINT32_MAX)
            return -EINVAL;
        if (msgpack_pack_array(pk, n) < 0)
            return -ENOMEM;
        for (size_t i = 0; rc == 0 && i < n; i++)
            rc = codec_pack(json_array_get(v, i), pk, depth + 1);
        return rc;
    }
    case JSON_STRING:
        return codec_pack_str(pk, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return msgpack_pack_int64(pk, json_integer_value(v)) < 0 ? -ENOMEM : 0;
    case JSON_REAL:
        return msgpack_pack_double(pk, json_real_value(v)) < 0 ? -ENOMEM : 0;
    case JSON_TRUE:
        return msgpack_pack_true(pk) < 0 ? -ENOMEM : 0;
    case JSON_FALSE:
        return msgpack_pack_false(pk) < 0 ? -ENOMEM : 0;
    case JSON_NULL:
        return msgpack_pack_nil(pk) < 0 ? -ENOMEM : 0;
    }
    return -EINVAL;
}

int nw_codec_json_to_msgpack(const json_t *v, msgpack_packer *pk)
{
    if (v == NULL)
        return -EINVAL;
    return codec_pack(v, pk, 0);
}
