/* Newswire — fuzz harness for nw_article_parse_msgpack and the msgpack
 * decoder under it (nw_codec_msgpack_to_json).
 *
 * Invariants, beyond "no crash, no leak":
 * - the codec: a decoded value re-encodes (nw_codec_json_to_msgpack) to
 *   bytes that decode to an equal value and re-encode to the same bytes
 *   (the encoding is canonical); its JSON text parses back to an equal
 *   value; a refusal carries a non-empty, valid UTF-8 error;
 * - the article: the result is 0 with an article or an error without one;
 *   an accepted article passes nw_fuzz_check_article (its JSON canonical
 *   form parses and is accepted, and so on); and the verdict is the one
 *   the JSON parser gives to the same content. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "article.h"
#include "codec.h"
#include "fuzz.h"
#include "fuzz_util.h"

/* Round trips of a decoded value through both encodings. */
static void fuzz_codec_round_trip(const json_t *v)
{
    size_t len1 = 0, len2 = 0;
    char *b1 = nw_fuzz_pack(v, &len1), *b2, *text;
    json_t *v2 = NULL, *v3;
    nw_err_t err;
    int rc;

    /* the decoder and the encoder share NW_CODEC_MAX_DEPTH */
    NW_ASSERT(b1 != NULL);
    rc = nw_codec_msgpack_to_json(b1, len1, &v2, &err);
    NW_ASSERT(rc == 0);
    NW_ASSERT(json_equal(v, v2));
    b2 = nw_fuzz_pack(v2, &len2);
    NW_ASSERT(b2 != NULL && len1 == len2 && memcmp(b1, b2, len1) == 0);

    text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    NW_ASSERT(text != NULL);
    v3 = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
    NW_ASSERT(v3 != NULL && json_equal(v, v3));
    json_decref(v3);
    free(text);
    json_decref(v2);
    free(b2);
    free(b1);
}

bool nw_fuzz_article_msgpack(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    nw_article_t *a = NULL;
    json_t *v = NULL;
    nw_err_t err;
    int rc, crc;

    memset(&err, 0, sizeof(err));
    crc = nw_codec_msgpack_to_json(buf, size, &v, &err);
    NW_ASSERT(crc == 0 || crc == -EINVAL || crc == -ENOMEM);
    NW_ASSERT((crc == 0) == (v != NULL));
    if (crc == 0)
        fuzz_codec_round_trip(v);
    else
        nw_fuzz_check_err(&err);

    memset(&err, 0, sizeof(err));
    rc = nw_article_parse_msgpack(buf, size, &a, &err);
    NW_ASSERT(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
    NW_ASSERT((rc == 0) == (a != NULL));
    if (rc == 0) {
        NW_ASSERT(crc == 0);
        nw_fuzz_check_article(a);
    } else {
        nw_fuzz_check_err(&err);
    }
    if (crc == 0 && size <= NW_ARTICLE_MAX_BYTES) {
        int jrc = nw_fuzz_article_verdict_of(v);

        NW_ASSERT(jrc == 1 || jrc == rc);
    }
    json_decref(v);
    nw_article_free(a);
    return rc == 0;
}

NW_FUZZ_ENTRY(nw_fuzz_article_msgpack)
