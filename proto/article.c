/* Newswire — the article model: parsing (JSON, msgpack), validation against
 * the ninjs 2.2 table in article_schema.c, the fields the daemon routes on,
 * and the canonical form. */
#include "article.h"
#include "article_internal.h"
#include "codec.h"
#include "json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *nw_pubstatus_name(nw_pubstatus_t s)
{
    switch (s) {
    case NW_PUBSTATUS_USABLE:
        return "usable";
    case NW_PUBSTATUS_WITHHELD:
        return "withheld";
    case NW_PUBSTATUS_CANCELED:
        return "canceled";
    }
    return "unknown";
}

void nw_article_free(nw_article_t *a)
{
    if (a == NULL)
        return;
    json_decref(a->item);
    free(a);
}

/* Reads the date-time at key (already validated) into *ms; 0 when absent. */
static void article_time(const json_t *item, const char *key, int64_t *ms)
{
    const char *s = json_string_value(json_object_get(item, key));

    *ms = 0;
    if (s != NULL && nw_rfc3339_parse(s, ms) < 0)
        NW_ASSERT(!"date-time passed validation but does not parse");
}

int nw_article_from_json(json_t *item, nw_article_t **out, nw_err_t *err)
{
    nw_article_t *a;
    const char *pubstatus;
    json_t *urgency;
    int rc;

    *out = NULL;
    rc = nw_article_schema_validate(item, err);
    if (rc < 0)
        return rc;
    a = calloc(1, sizeof(*a));
    if (a == NULL) {
        nw_err_set(err, "", "out of memory");
        return -ENOMEM;
    }
    a->item = json_incref(item);
    a->uri = json_string_value(json_object_get(item, "uri"));
    a->version = json_string_value(json_object_get(item, "version"));
    a->version_num = (uint32_t)strtoul(a->version, NULL, 10);
    urgency = json_object_get(item, "urgency");
    a->has_urgency = urgency != NULL;
    a->urgency = urgency ? (int)json_integer_value(urgency) : NW_URGENCY_DEFAULT;
    a->pubstatus = NW_PUBSTATUS_USABLE;
    pubstatus = json_string_value(json_object_get(item, "pubstatus"));
    if (pubstatus != NULL && strcmp(pubstatus, "withheld") == 0)
        a->pubstatus = NW_PUBSTATUS_WITHHELD;
    else if (pubstatus != NULL && strcmp(pubstatus, "canceled") == 0)
        a->pubstatus = NW_PUBSTATUS_CANCELED;
    article_time(item, "versioncreated", &a->versioncreated_ms);
    article_time(item, "embargoed", &a->embargoed_ms);
    *out = a;
    return 0;
}

/* Copies the parser's syntax error text, replacing anything but printable
 * ASCII: the message goes back to the publisher, in JSON. */
static void article_clean_text(const char *in, char *out, size_t outlen)
{
    size_t n = 0;

    for (; *in != '\0' && n + 1 < outlen; in++) {
        unsigned char c = (unsigned char)*in;

        out[n++] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
    }
    out[n] = '\0';
}

/* Parses with duplicate keys refused and "\u0000" refused (nw_json_parse
 * reads as json_loadb with JSON_REJECT_DUPLICATES, without JSON_ALLOW_NUL);
 * invalid UTF-8 is refused too. NW_JSON_DECODE_ANY lets a scalar document
 * through the parser so that it gets the same "must be a JSON object" as
 * an array. */
int nw_article_parse_json(const char *buf, size_t len, nw_article_t **out, nw_err_t *err)
{
    nw_json_error_t jerr;
    json_t *item;
    char text[sizeof(jerr.text)];
    int rc;

    *out = NULL;
    if (len > NW_ARTICLE_MAX_BYTES) {
        nw_err_set(err, "", "too large: %zu bytes, max %d", len, NW_ARTICLE_MAX_BYTES);
        return -EINVAL;
    }
    rc = nw_json_parse_ex(buf, len, NW_JSON_REJECT_DUPLICATES | NW_JSON_DECODE_ANY, &item, &jerr);
    if (rc == -ENOMEM) {
        nw_err_set(err, "", "out of memory");
        return -ENOMEM;
    }
    if (rc < 0) {
        article_clean_text(jerr.text, text, sizeof(text));
        nw_err_set(err, "", "invalid JSON at line %d, column %d: %s", jerr.line, jerr.column, text);
        return -EINVAL;
    }
    rc = nw_article_from_json(item, out, err);
    json_decref(item);
    return rc;
}

int nw_article_parse_msgpack(const char *buf, size_t len, nw_article_t **out, nw_err_t *err)
{
    json_t *item = NULL;
    int rc;

    *out = NULL;
    if (len > NW_ARTICLE_MAX_BYTES) {
        nw_err_set(err, "", "too large: %zu bytes, max %d", len, NW_ARTICLE_MAX_BYTES);
        return -EINVAL;
    }
    rc = nw_codec_msgpack_to_json(buf, len, &item, err);
    if (rc < 0)
        return rc;
    rc = nw_article_from_json(item, out, err);
    json_decref(item);
    return rc;
}

/* nw_json_dump_canonical writes what json_dumps(JSON_COMPACT |
 * JSON_SORT_KEYS) would, faster. */
char *nw_article_dump_canonical(const nw_article_t *a, size_t *len)
{
    return nw_json_dump_canonical(a->item, len);
}
