/* Newswire — fuzz harness for nw_json_parse and nw_json_dump_canonical,
 * differential against jansson 2.14 (json_loadb, json_dumps).
 *
 * The input is a document, parsed under each of the four combinations of
 * NW_JSON_REJECT_DUPLICATES and NW_JSON_DECODE_ANY by both parsers (jansson
 * with the matching flags). Invariants, beyond "no crash, no leak":
 * - both accept, or both refuse;
 * - when they accept, the values are equal (json_equal), the canonical
 *   dumps are the same bytes (json_dumps with JSON_COMPACT |
 *   JSON_SORT_KEYS | JSON_ENCODE_ANY), and the canonical form parses again
 *   to an equal value with the same canonical form;
 * - when they refuse, at the same line and column, and nw_json_parse's
 *   message is a valid error (non-empty, UTF-8, fits).
 * The verdict is nw_json_parse's with NW_JSON_REJECT_DUPLICATES |
 * NW_JSON_DECODE_ANY, the flags of the article and client-op parsers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz.h"
#include "fuzz_util.h"
#include "json.h"

/* The canonical form of an accepted value: jansson's bytes, a fixed point. */
static void fuzz_json_check_dump(const json_t *v)
{
    char *ref = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    size_t len = 0, len2 = 0;
    char *canon = nw_json_dump_canonical(v, &len), *canon2;
    json_t *back = NULL;

    NW_ASSERT(ref != NULL && canon != NULL);
    if (strlen(ref) != len || memcmp(ref, canon, len) != 0) {
        fprintf(stderr, "json_dumps:             %s\nnw_json_dump_canonical: %s\n", ref, canon);
        NW_ASSERT(!"canonical dumps differ");
    }
    NW_ASSERT(strlen(canon) == len);
    NW_ASSERT(nw_json_parse(canon, len, NW_JSON_REJECT_DUPLICATES | NW_JSON_DECODE_ANY, &back,
                            NULL) == 0);
    NW_ASSERT(json_equal(back, v));
    canon2 = nw_json_dump_canonical(back, &len2);
    NW_ASSERT(canon2 != NULL && len2 == len && memcmp(canon, canon2, len) == 0);
    free(canon2);
    json_decref(back);
    free(canon);
    free(ref);
}

/* One flag combination; returns true when accepted. */
static bool fuzz_json_flags(const char *buf, size_t size, unsigned flags)
{
    size_t jflags = ((flags & NW_JSON_REJECT_DUPLICATES) ? JSON_REJECT_DUPLICATES : 0) |
                    ((flags & NW_JSON_DECODE_ANY) ? JSON_DECODE_ANY : 0);
    json_error_t jerr;
    nw_json_error_t merr;
    nw_err_t err;
    json_t *ref = json_loadb(buf, size, jflags, &jerr);
    json_t *mine = NULL, *again = NULL;
    int rc = nw_json_parse_ex(buf, size, flags, &mine, &merr);

    NW_ASSERT(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
    NW_ASSERT((rc == 0) == (mine != NULL));
    if (rc == -ENOMEM || (ref == NULL && json_error_code(&jerr) == json_error_out_of_memory)) {
        json_decref(ref);
        json_decref(mine);
        return rc == 0;
    }
    if ((ref != NULL) != (rc == 0)) {
        fprintf(stderr, "flags %u: json_loadb %s (%d:%d %s), nw_json_parse %s (%d:%d %s)\n", flags,
                ref ? "accepts" : "refuses", jerr.line, jerr.column, ref ? "" : jerr.text,
                rc == 0 ? "accepts" : "refuses", merr.line, merr.column, rc ? merr.text : "");
        NW_ASSERT(!"json_loadb and nw_json_parse disagree on the verdict");
    }
    if (rc == 0) {
        NW_ASSERT(json_equal(ref, mine));
        fuzz_json_check_dump(mine);
    } else {
        if (jerr.line != merr.line || jerr.column != merr.column) {
            fprintf(stderr,
                    "flags %u: json_loadb refuses at %d:%d (%s), nw_json_parse at %d:%d (%s)\n",
                    flags, jerr.line, jerr.column, jerr.text, merr.line, merr.column, merr.text);
            NW_ASSERT(!"json_loadb and nw_json_parse refuse at different places");
        }
        NW_ASSERT(merr.text[0] != '\0' && nw_fuzz_printable(merr.text));
        /* the nw_err_t form of the same error */
        memset(&err, 0, sizeof(err));
        NW_ASSERT(nw_json_parse(buf, size, flags, &again, &err) == -EINVAL && again == NULL);
        nw_fuzz_check_err(&err);
    }
    json_decref(ref);
    json_decref(mine);
    return rc == 0;
}

bool nw_fuzz_json(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    bool verdict = false;

    for (unsigned flags = 0; flags < 4; flags++) {
        bool ok = fuzz_json_flags(buf, size, flags);

        if (flags == (NW_JSON_REJECT_DUPLICATES | NW_JSON_DECODE_ANY))
            verdict = ok;
    }
    return verdict;
}

NW_FUZZ_ENTRY(nw_fuzz_json)
