/* Newswire — helpers shared by the fuzz harnesses. */
#include "fuzz_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "codec.h"

/* The instants nw_rfc3339_format can write as a four-digit year:
 * 0000-01-01T00:00:00.000Z .. 9999-12-31T23:59:59.999Z. */
#define FUZZ_RFC3339_MIN_MS (-62167219200000LL)
#define FUZZ_RFC3339_MAX_MS 253402300799999LL

void nw_fuzz_check_err(const nw_err_t *err)
{
    size_t fl = strnlen(err->field, sizeof(err->field));
    size_t ml = strnlen(err->message, sizeof(err->message));

    NW_ASSERT(fl < sizeof(err->field));
    NW_ASSERT(ml < sizeof(err->message));
    NW_ASSERT(ml > 0);
    NW_ASSERT(nw_utf8_valid(err->field, fl));
    NW_ASSERT(nw_utf8_valid(err->message, ml));
}

bool nw_fuzz_printable(const char *s)
{
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return false;
    }
    return true;
}

char *nw_fuzz_pack(const json_t *v, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    char *out = NULL;
    int rc;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    rc = nw_codec_json_to_msgpack(v, &pk);
    NW_ASSERT(rc == 0 || rc == -EINVAL);
    if (rc == 0) {
        out = malloc(sb.size ? sb.size : 1);
        NW_ASSERT(out != NULL);
        if (sb.size > 0)
            memcpy(out, sb.data, sb.size);
        *len = sb.size;
    }
    msgpack_sbuffer_destroy(&sb);
    return out;
}

/* Formatting an instant and parsing the text back gives the instant. */
static void fuzz_check_rfc3339(int64_t ms)
{
    char buf[NW_RFC3339_MAX];
    int64_t back = 0;

    if (ms < FUZZ_RFC3339_MIN_MS || ms > FUZZ_RFC3339_MAX_MS)
        return;
    nw_rfc3339_format(ms, buf);
    if (nw_rfc3339_parse(buf, &back) != 0 || back != ms) {
        fprintf(stderr, "rfc3339: %lld formats as \"%s\", which parses as %lld\n", (long long)ms,
                buf, (long long)back);
        NW_ASSERT(!"nw_rfc3339_format output does not parse back");
    }
}

/* Reads the date-time at key of an accepted item; 0 when absent. */
static int64_t fuzz_item_time(const json_t *item, const char *key)
{
    const char *s = json_string_value(json_object_get(item, key));
    int64_t ms = 0;

    if (s == NULL)
        return 0;
    NW_ASSERT(nw_rfc3339_parse(s, &ms) == 0);
    fuzz_check_rfc3339(ms);
    return ms;
}

/* The routed fields of a and b agree. */
static void fuzz_same_fields(const nw_article_t *a, const nw_article_t *b)
{
    NW_ASSERT(strcmp(a->uri, b->uri) == 0);
    NW_ASSERT(strcmp(a->version, b->version) == 0);
    NW_ASSERT(a->version_num == b->version_num);
    NW_ASSERT(a->urgency == b->urgency);
    NW_ASSERT(a->has_urgency == b->has_urgency);
    NW_ASSERT(a->pubstatus == b->pubstatus);
    NW_ASSERT(a->versioncreated_ms == b->versioncreated_ms);
    NW_ASSERT(a->embargoed_ms == b->embargoed_ms);
}

/* Parses an encoding of a's canonical form (JSON or msgpack) and checks
 * that it gives the same article. */
static void fuzz_check_reparse(const nw_article_t *a, const char *canon, const char *buf,
                               size_t len, bool msgpack)
{
    nw_article_t *b = NULL;
    nw_err_t err;
    char *canon2;
    size_t len2 = 0;
    int rc;

    if (len > NW_ARTICLE_MAX_BYTES)
        return;
    rc = msgpack ? nw_article_parse_msgpack(buf, len, &b, &err)
                 : nw_article_parse_json(buf, len, &b, &err);
    if (rc != 0) {
        fprintf(stderr, "re-encoded article refused (%s): %s: %s\n", msgpack ? "msgpack" : "json",
                err.field, err.message);
        NW_ASSERT(!"an accepted article's canonical form is refused");
    }
    fuzz_same_fields(a, b);
    canon2 = nw_article_dump_canonical(b, &len2);
    NW_ASSERT(canon2 != NULL);
    NW_ASSERT(strcmp(canon, canon2) == 0);
    free(canon2);
    nw_article_free(b);
}

void nw_fuzz_check_article(const nw_article_t *a)
{
    const char *pubstatus;
    char digits[16];
    char *canon, *packed, *repacked;
    size_t canon_len = 0, packed_len = 0, repacked_len = 0;
    json_t *reloaded;

    NW_ASSERT(a->item != NULL && json_is_object(a->item));
    NW_ASSERT(a->uri != NULL &&
              strcmp(a->uri, json_string_value(json_object_get(a->item, "uri"))) == 0);
    NW_ASSERT(a->version != NULL &&
              strcmp(a->version, json_string_value(json_object_get(a->item, "version"))) == 0);
    NW_ASSERT(a->version_num >= 1 && a->version_num <= 999999999u);
    snprintf(digits, sizeof(digits), "%u", a->version_num);
    NW_ASSERT(strcmp(digits, a->version) == 0);
    NW_ASSERT(a->urgency >= NW_URGENCY_MIN && a->urgency <= NW_URGENCY_MAX);
    NW_ASSERT(a->has_urgency == (json_object_get(a->item, "urgency") != NULL));
    NW_ASSERT(a->has_urgency || a->urgency == NW_URGENCY_DEFAULT);
    pubstatus = json_string_value(json_object_get(a->item, "pubstatus"));
    NW_ASSERT(strcmp(nw_pubstatus_name(a->pubstatus), pubstatus ? pubstatus : "usable") == 0);
    NW_ASSERT(a->versioncreated_ms == fuzz_item_time(a->item, "versioncreated"));
    NW_ASSERT(a->embargoed_ms == fuzz_item_time(a->item, "embargoed"));
    (void)fuzz_item_time(a->item, "firstcreated");
    (void)fuzz_item_time(a->item, "contentcreated");
    (void)fuzz_item_time(a->item, "expires");

    /* canonical form: compact, sorted, and a fixed point */
    canon = nw_article_dump_canonical(a, &canon_len);
    NW_ASSERT(canon != NULL && strlen(canon) == canon_len);
    reloaded = json_loadb(canon, canon_len, JSON_REJECT_DUPLICATES, NULL);
    NW_ASSERT(reloaded != NULL && json_equal(reloaded, a->item));
    json_decref(reloaded);
    fuzz_check_reparse(a, canon, canon, canon_len, false);

    /* msgpack: an accepted item (nesting <= 16) always packs, deterministically */
    packed = nw_fuzz_pack(a->item, &packed_len);
    NW_ASSERT(packed != NULL);
    fuzz_check_reparse(a, canon, packed, packed_len, true);
    reloaded = json_loads(canon, 0, NULL);
    NW_ASSERT(reloaded != NULL);
    repacked = nw_fuzz_pack(reloaded, &repacked_len);
    NW_ASSERT(repacked != NULL && repacked_len == packed_len &&
              memcmp(packed, repacked, packed_len) == 0);
    json_decref(reloaded);
    free(repacked);
    free(packed);
    free(canon);
}

int nw_fuzz_article_verdict_of(const json_t *v)
{
    nw_article_t *a = NULL;
    nw_err_t err;
    char *text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    int rc;

    NW_ASSERT(text != NULL);
    if (strlen(text) > NW_ARTICLE_MAX_BYTES) {
        free(text);
        return 1;
    }
    rc = nw_article_parse_json(text, strlen(text), &a, &err);
    NW_ASSERT((rc == 0) == (a != NULL));
    nw_article_free(a);
    free(text);
    return rc;
}

void nw_fuzz_rng_seed(nw_fuzz_rng_t *r, const uint8_t *data, size_t size)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */

    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 1099511628211ULL;
    r->s = h ? h : 1;
}

uint64_t nw_fuzz_rng_next(nw_fuzz_rng_t *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 2685821657736338717ULL;
}
