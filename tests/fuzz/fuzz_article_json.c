/* Newswire — fuzz harness for nw_article_parse_json.
 *
 * Invariants, beyond "no crash, no leak":
 * - the result is 0 with an article, or -EINVAL/-ENOMEM with none and a
 *   non-empty, valid UTF-8 error (it goes into a JSON reply);
 * - an accepted article passes nw_fuzz_check_article (its canonical form is
 *   a fixed point and parses again, as JSON and as msgpack, to the same
 *   article; its date-times format and parse back);
 * - the verdict does not depend on the encoding: any input that is JSON
 *   gets the same verdict from its compact key-sorted dump and from its
 *   msgpack encoding (same content, other bytes and key order). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "article.h"
#include "fuzz.h"
#include "fuzz_util.h"

bool nw_fuzz_article_json(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    nw_article_t *a = NULL;
    nw_err_t err;
    json_t *doc;
    int rc;

    memset(&err, 0, sizeof(err));
    rc = nw_article_parse_json(buf, size, &a, &err);
    NW_ASSERT(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
    NW_ASSERT((rc == 0) == (a != NULL));
    if (rc == 0)
        nw_fuzz_check_article(a);
    else
        nw_fuzz_check_err(&err);

    /* The same content in other clothes gets the same verdict. */
    doc = size <= NW_ARTICLE_MAX_BYTES
              ? json_loadb(buf, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL)
              : NULL;
    if (doc != NULL) {
        int rc2 = nw_fuzz_article_verdict_of(doc);
        size_t plen = 0;
        char *packed = nw_fuzz_pack(doc, &plen);

        NW_ASSERT(rc2 == 1 || rc2 == rc);
        if (packed != NULL && plen <= NW_ARTICLE_MAX_BYTES) {
            nw_article_t *m = NULL;
            nw_err_t merr;
            int rc3 = nw_article_parse_msgpack(packed, plen, &m, &merr);

            NW_ASSERT(rc3 == rc);
            nw_article_free(m);
        }
        free(packed);
        json_decref(doc);
    } else {
        NW_ASSERT(rc != 0); /* not JSON: refused */
    }
    nw_article_free(a);
    return rc == 0;
}

NW_FUZZ_ENTRY(nw_fuzz_article_json)
