/* Newswire — the ninjs 2.2 schema as a declarative table, and the small
 * engine that validates an item against it.
 *
 * Every object of ninjs 2.2 (ninjsType, its nested objects, contactinfoType)
 * is a table of property specs: name, type, length or item limit, format,
 * enumeration, nested object. The engine walks the item once, keeping the
 * JSON path of the value at hand, and stops at the first error, which names
 * that path. Newswire is stricter than the schema, never looser: unknown
 * properties are refused at every level (the schema already says so, except
 * inside rightsinfo), every string and array is bounded, "urgency" and
 * "version" have a fixed form, and the "format" keywords are enforced.
 *
 * Limits (these go into proto/PROTOCOL.md):
 *
 *   what                                             limit
 *   -----------------------------------------------  ------------------------
 *   encoded item (JSON or msgpack)                   1 MiB (NW_ARTICLE_MAX_BYTES)
 *   nesting of objects and arrays                    16 (NW_ARTICLE_MAX_DEPTH)
 *   levels of associations                           2 (item.associations[].associations[])
 *   uri (item, association) and every "uri"-like     512 bytes, absolute URI, non-empty
 *     property with format uri (people/.../uri,
 *     rightsinfo.langid, symbols.symboltype,
 *     trustindicators.role, digitalsourcetype.uri)
 *   href (renditions, trustindicators),              2048 bytes, absolute URI
 *     rightsinfo.linkedrights, standard.schema
 *   version                                          "1".."999999999", no leading zero
 *   urgency                                          JSON integer 1..9
 *   subjects[].relevance, subjects[].confidence      JSON integer 0..100
 *   bodies[].charcount/wordcount, renditions[].      JSON number >= 0
 *     height/width/sizeinbytes/duration
 *   date-times (firstcreated, versioncreated,        RFC 3339 with zone, <= 64 bytes
 *     contentcreated, embargoed, expires)
 *   language, contactinfo[].lang                     BCP 47-like tag, <= 35 bytes
 *   type / representationtype / pubstatus            ninjs enumerations
 *   identifiers: role, rel, contenttype, literal,    256 bytes
 *     profile, format, creator, genres[].uri,
 *     ticker, exchange, symbol, standard.name/
 *     version, contactinfo type/role, postalcode
 *   short texts: names, title, by, slugline,         1024 bytes
 *     located, copyrightholder, copyrightnotice,
 *     altids[].value, contactinfo value/name,
 *     address lines/locality/area/country
 *   headlines[].value                                1..1024 bytes (non-empty)
 *   ednote, usageterms                               4 KiB
 *   descriptions[].value, rightsinfo.encodedrights   16 KiB
 *   bodies[].value                                   512 KiB
 *   headlines (>= 1), descriptions, bodies           16 items
 *   people, organisations, places, subjects,         64 items
 *     events, objects, infosources, genres
 *   renditions, associations, altids,                32 items
 *     trustindicators
 *   contactinfo, organisations[].symbols             16 items
 *   contactinfo[].address.lines                      8 items
 *   places[].geojson                                 any JSON object (nesting limit only)
 *
 * Every string must be valid UTF-8 without NUL bytes. contactinfo needs
 * exactly one of value/address and rightsinfo exactly one of linkedrights/
 * encodedrights (the schema's oneOf). */
#include "article.h"
#include "article_internal.h"
#include "path.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define L_URI      512
#define L_HREF     2048
#define L_ID       256
#define L_TEXT     1024
#define L_DATETIME 64
#define L_LANG     35
#define L_NOTE     4096
#define L_DESC     (16 * 1024)
#define L_BODY     (512 * 1024)

#define N_TEXTS    16 /* headlines, descriptions, bodies */
#define N_CONCEPTS 64 /* people, organisations, places, subjects, ... */
#define N_LINKS    32 /* renditions, associations, altids, trustindicators */
#define N_CONTACTS 16 /* contactinfo, symbols */
#define N_LINES    8  /* address lines */

#define ASSOC_MAX_LEVELS 2

typedef enum schema_type {
    T_STRING = 1,
    T_INTEGER,   /* a JSON integer in [lo, hi] */
    T_NUMBER,    /* a JSON integer or real >= lo */
    T_OBJECT,    /* an object described by .object */
    T_OBJ_ARRAY, /* an array of objects described by .object */
    T_STR_ARRAY, /* an array of strings of at most .item_max bytes */
    T_ANY_OBJECT /* any JSON object (GeoJSON), only nesting is limited */
} schema_type_t;

typedef enum schema_format {
    F_NONE = 0,
    F_URI,
    F_DATETIME,
    F_LANGUAGE,
    F_VERSION,
} schema_format_t;

#define P_NONEMPTY 0x01 /* a string that may not be "" */
#define P_ASSOC    0x02 /* entering this array is one more level of associations */

typedef struct schema_object schema_object_t;

typedef struct schema_prop {
    const char *name;
    schema_type_t type;
    schema_format_t format;
    unsigned flags;
    size_t max;               /* T_STRING: bytes; arrays: items */
    size_t min;               /* arrays: items */
    size_t item_max;          /* T_STR_ARRAY: bytes per item */
    int64_t lo, hi;           /* T_INTEGER range; T_NUMBER minimum (lo) */
    const char *const *enums; /* T_STRING: NULL-terminated allowed values */
    const schema_object_t *object;
} schema_prop_t;

struct schema_object {
    const schema_prop_t *props;
    size_t n_props;
    const schema_prop_t *extra; /* properties added on top of props */
    size_t n_extra;
    const char *const *required; /* NULL-terminated, or NULL */
    const char *const *one_of;   /* exactly one must be present, or NULL */
};

/* clang-format off */
#define STR(n, m)         {.name = (n), .type = T_STRING, .max = (m)}
#define STR_NE(n, m)      {.name = (n), .type = T_STRING, .max = (m), .flags = P_NONEMPTY}
#define STR_F(n, m, f)    {.name = (n), .type = T_STRING, .max = (m), .format = (f)}
#define STR_E(n, m, e)    {.name = (n), .type = T_STRING, .max = (m), .enums = (e)}
#define INT(n, l, h)      {.name = (n), .type = T_INTEGER, .lo = (l), .hi = (h)}
#define NUM0(n)           {.name = (n), .type = T_NUMBER, .lo = 0}
#define OBJ(n, o)         {.name = (n), .type = T_OBJECT, .object = (o)}
#define OBJS(n, m, o)     {.name = (n), .type = T_OBJ_ARRAY, .max = (m), .object = (o)}
#define STRS(n, m, im)    {.name = (n), .type = T_STR_ARRAY, .max = (m), .item_max = (im)}
#define ANY_OBJ(n)        {.name = (n), .type = T_ANY_OBJECT}
#define OBJECT(p, r, one) {(p), NW_ARRAY_LEN(p), NULL, 0, (r), (one)}

static const char *const enum_type[] = {"text",    "audio",     "video",     "picture",
                                        "graphic", "composite", "component", NULL};
static const char *const enum_representationtype[] = {"full", "partial", NULL};
static const char *const enum_pubstatus[] = {"usable", "withheld", "canceled", NULL};

static const char *const req_value[] = {"value", NULL};
static const char *const req_name[] = {"name", NULL};
static const char *const one_value_address[] = {"value", "address", NULL};
static const char *const one_linked_encoded[] = {"linkedrights", "encodedrights", NULL};

/* headlines, descriptions and bodies items. */
static const schema_prop_t headline_props[] = {
    STR("role", L_ID),
    STR("contenttype", L_ID),
    STR_NE("value", L_TEXT),
};
static const schema_object_t headline_obj = OBJECT(headline_props, req_value, NULL);

static const schema_prop_t description_props[] = {
    STR("role", L_ID),
    STR("contenttype", L_ID),
    STR("value", L_DESC),
};
static const schema_object_t description_obj = OBJECT(description_props, req_value, NULL);

static const schema_prop_t body_props[] = {
    STR("role", L_ID),
    STR("contenttype", L_ID),
    NUM0("charcount"),
    NUM0("wordcount"),
    STR("value", L_BODY),
};
static const schema_object_t body_obj = OBJECT(body_props, req_value, NULL);

/* contactinfoType. */
static const schema_prop_t address_props[] = {
    STRS("lines", N_LINES, L_TEXT),
    STR("locality", L_TEXT),
    STR("area", L_TEXT),
    STR("postalcode", L_ID),
    STR("country", L_TEXT),
};
static const schema_object_t address_obj = OBJECT(address_props, NULL, NULL);

static const schema_prop_t contactinfo_props[] = {
    STR("type", L_ID),
    STR("role", L_ID),
    STR_F("lang", L_LANG, F_LANGUAGE),
    STR("name", L_TEXT),
    STR("value", L_TEXT),
    OBJ("address", &address_obj),
};
static const schema_object_t contactinfo_obj = OBJECT(contactinfo_props, NULL, one_value_address);

/* people, organisations (with symbols), places, subjects, events, objects,
 * infosources. */
static const schema_prop_t person_props[] = {
    STR("name", L_TEXT),
    STR("rel", L_ID),
    STR_F("uri", L_URI, F_URI),
    STR("literal", L_ID),
    OBJS("contactinfo", N_CONTACTS, &contactinfo_obj),
};
static const schema_object_t person_obj = OBJECT(person_props, NULL, NULL);

static const schema_prop_t symbol_props[] = {
    STR("ticker", L_ID),
    STR("exchange", L_ID),
    STR_F("symboltype", L_URI, F_URI),
    STR("symbol", L_ID),
};
static const schema_object_t symbol_obj = OBJECT(symbol_props, NULL, NULL);

static const schema_prop_t organisation_props[] = {
    STR("name", L_TEXT),
    STR("rel", L_ID),
    STR_F("uri", L_URI, F_URI),
    STR("literal", L_ID),
    OBJS("symbols", N_CONTACTS, &symbol_obj),
    OBJS("contactinfo", N_CONTACTS, &contactinfo_obj),
};
static const schema_object_t organisation_obj = OBJECT(organisation_props, NULL, NULL);

static const schema_prop_t place_props[] = {
    STR("name", L_TEXT),
    STR("rel", L_ID),
    STR_F("uri", L_URI, F_URI),
    STR("literal", L_ID),
    OBJS("contactinfo", N_CONTACTS, &contactinfo_obj),
    ANY_OBJ("geojson"),
};
static const schema_object_t place_obj = OBJECT(place_props, NULL, NULL);

static const schema_prop_t subject_props[] = {
    STR("name", L_TEXT),
    STR("rel", L_ID),
    STR_F("uri", L_URI, F_URI),
    STR("literal", L_ID),
    STR("creator", L_ID),
    INT("relevance", 0, 100),
    INT("confidence", 0, 100),
};
static const schema_object_t subject_obj = OBJECT(subject_props, NULL, NULL);

/* events and objects share one shape. */
static const schema_prop_t concept_props[] = {
    STR("name", L_TEXT),
    STR("rel", L_ID),
    STR_F("uri", L_URI, F_URI),
    STR("literal", L_ID),
};
static const schema_object_t concept_obj = OBJECT(concept_props, NULL, NULL);

static const schema_prop_t infosource_props[] = {
    STR("name", L_TEXT),
    STR("role", L_ID),
    STR_F("uri", L_URI, F_URI),
    STR("literal", L_ID),
    OBJS("contactinfo", N_CONTACTS, &contactinfo_obj),
};
static const schema_object_t infosource_obj = OBJECT(infosource_props, NULL, NULL);

static const schema_prop_t rendition_props[] = {
    STR_NE("name", L_TEXT),
    STR_F("href", L_HREF, F_URI),
    STR("contenttype", L_ID),
    STR("title", L_TEXT),
    NUM0("height"),
    NUM0("width"),
    NUM0("sizeinbytes"),
    NUM0("duration"),
    STR("format", L_ID),
};
static const schema_object_t rendition_obj = OBJECT(rendition_props, req_name, NULL);

static const schema_prop_t altid_props[] = {
    STR("role", L_ID),
    STR("value", L_TEXT),
};
static const schema_object_t altid_obj = OBJECT(altid_props, NULL, NULL);

static const schema_prop_t trustindicator_props[] = {
    STR_F("role", L_URI, F_URI),
    STR("title", L_TEXT),
    STR_F("href", L_HREF, F_URI),
};
static const schema_object_t trustindicator_obj = OBJECT(trustindicator_props, NULL, NULL);

static const schema_prop_t standard_props[] = {
    STR("name", L_ID),
    STR("version", L_ID),
    STR_F("schema", L_HREF, F_URI),
};
static const schema_object_t standard_obj = OBJECT(standard_props, NULL, NULL);

/* ninjs 2.2 gives genres[].uri no format: kept a plain identifier. */
static const schema_prop_t genre_props[] = {
    STR("name", L_TEXT),
    STR("uri", L_ID),
    STR("literal", L_ID),
};
static const schema_object_t genre_obj = OBJECT(genre_props, NULL, NULL);

static const schema_prop_t rightsinfo_props[] = {
    STR_F("langid", L_URI, F_URI),
    STR_F("linkedrights", L_HREF, F_URI),
    STR("encodedrights", L_DESC),
};
static const schema_object_t rightsinfo_obj = OBJECT(rightsinfo_props, NULL, one_linked_encoded);

static const schema_prop_t digitalsourcetype_props[] = {
    STR("name", L_TEXT),
    STR_F("uri", L_URI, F_URI),
    STR("literal", L_ID),
};
static const schema_object_t digitalsourcetype_obj = OBJECT(digitalsourcetype_props, NULL, NULL);

/* An association is a whole ninjsType plus "name" (defined below). */
static const schema_object_t association_obj;

/* ninjsType: every property of ninjs 2.2, in schema order. */
static const schema_prop_t ninjs_props[] = {
    {.name = "uri", .type = T_STRING, .max = L_URI, .format = F_URI, .flags = P_NONEMPTY},
    STR_E("type", L_ID, enum_type),
    STR_E("representationtype", L_ID, enum_representationtype),
    STR("profile", L_ID),
    STR_F("version", L_ID, F_VERSION), /* format: <= NW_VERSION_MAX_DIGITS */
    STR_F("firstcreated", L_DATETIME, F_DATETIME),
    STR_F("versioncreated", L_DATETIME, F_DATETIME),
    STR_F("contentcreated", L_DATETIME, F_DATETIME),
    STR_F("embargoed", L_DATETIME, F_DATETIME),
    STR_E("pubstatus", L_ID, enum_pubstatus),
    INT("urgency", NW_URGENCY_MIN, NW_URGENCY_MAX),
    STR("copyrightholder", L_TEXT),
    STR("copyrightnotice", L_TEXT),
    STR("usageterms", L_NOTE),
    STR("ednote", L_NOTE),
    STR_F("language", L_LANG, F_LANGUAGE),
    OBJS("descriptions", N_TEXTS, &description_obj),
    OBJS("bodies", N_TEXTS, &body_obj),
    {.name = "headlines", .type = T_OBJ_ARRAY, .max = N_TEXTS, .min = 1, .object = &headline_obj},
    OBJS("people", N_CONCEPTS, &person_obj),
    OBJS("organisations", N_CONCEPTS, &organisation_obj),
    OBJS("places", N_CONCEPTS, &place_obj),
    OBJS("subjects", N_CONCEPTS, &subject_obj),
    OBJS("events", N_CONCEPTS, &concept_obj),
    OBJS("objects", N_CONCEPTS, &concept_obj),
    OBJS("infosources", N_CONCEPTS, &infosource_obj),
    STR("title", L_TEXT),
    STR("by", L_TEXT),
    STR("slugline", L_TEXT),
    STR("located", L_TEXT),
    OBJS("renditions", N_LINKS, &rendition_obj),
    {.name = "associations",
     .type = T_OBJ_ARRAY,
     .max = N_LINKS,
     .flags = P_ASSOC,
     .object = &association_obj},
    OBJS("altids", N_LINKS, &altid_obj),
    OBJS("trustindicators", N_LINKS, &trustindicator_obj),
    OBJ("standard", &standard_obj),
    OBJS("genres", N_CONCEPTS, &genre_obj),
    STR_F("expires", L_DATETIME, F_DATETIME),
    OBJ("rightsinfo", &rightsinfo_obj),
    OBJ("digitalsourcetype", &digitalsourcetype_obj),
};

static const char *const req_item[] = {
    "uri", "version", "versioncreated", "type", "language", "headlines", NULL,
};
static const schema_object_t item_obj = OBJECT(ninjs_props, req_item, NULL);

static const schema_prop_t association_extra[] = {
    STR_NE("name", L_TEXT),
};
static const char *const req_association[] = {"name", "uri", NULL};
static const schema_object_t association_obj = {
    .props = ninjs_props,
    .n_props = NW_ARRAY_LEN(ninjs_props),
    .extra = association_extra,
    .n_extra = NW_ARRAY_LEN(association_extra),
    .required = req_association,
};

/* clang-format on */

/* The walk's state: where we are, how deep, and where errors go. */
typedef struct schema_ctx {
    nw_path_t path;
    int depth;       /* objects and arrays open around the current value */
    int assoc_level; /* associations arrays open around it */
    nw_err_t *err;
} schema_ctx_t;

static int schema_fail(schema_ctx_t *ctx, const char *fmt, ...) NW_PRINTF(2, 3);

/* Records an error at the current path and returns -EINVAL. */
static int schema_fail(schema_ctx_t *ctx, const char *fmt, ...)
{
    char msg[sizeof(ctx->err->message)];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    nw_err_set(ctx->err, ctx->path.buf, "%s", msg);
    return -EINVAL;
}

/* Opens one more level of nesting (an object or array about to be walked);
 * the caller decrements ctx->depth when done. */
static int schema_enter(schema_ctx_t *ctx)
{
    if (++ctx->depth > NW_ARTICLE_MAX_DEPTH)
        return schema_fail(ctx, "too deeply nested: max %d levels", NW_ARTICLE_MAX_DEPTH);
    return 0;
}

/* Lists an enumeration as "a, b, c". */
static void schema_enum_list(const char *const *e, char *out, size_t outlen)
{
    size_t n = 0;

    out[0] = '\0';
    for (; *e != NULL && n < outlen; e++) {
        int w = snprintf(out + n, outlen - n, "%s%s", n ? ", " : "", *e);
        if (w < 0)
            break;
        n += (size_t)w;
    }
}

/* A JSON string with no NUL byte and valid UTF-8; jansson guarantees the
 * latter for parsed text, but items can also be built through its API. */
static int schema_check_text(schema_ctx_t *ctx, const json_t *v)
{
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);

    if (memchr(s, '\0', len) != NULL)
        return schema_fail(ctx, "must not contain a NUL character");
    if (!nw_utf8_valid(s, len))
        return schema_fail(ctx, "must be valid UTF-8");
    return 0;
}

static int schema_check_string(schema_ctx_t *ctx, const schema_prop_t *p, const json_t *v,
                               size_t max)
{
    const char *s;
    size_t len;
    char why[160];
    int rc;

    if (!json_is_string(v))
        return schema_fail(ctx, "must be a string");
    s = json_string_value(v);
    len = json_string_length(v);
    rc = schema_check_text(ctx, v);
    if (rc < 0)
        return rc;
    if (len == 0 && (p->flags & P_NONEMPTY))
        return schema_fail(ctx, "must not be empty");
    if (len > max)
        return schema_fail(ctx, "too long: %zu bytes, max %zu", len, max);
    if (p->enums != NULL) {
        for (const char *const *e = p->enums; *e != NULL; e++)
            if (strcmp(*e, s) == 0)
                return 0;
        schema_enum_list(p->enums, why, sizeof(why));
        return schema_fail(ctx, "must be one of: %s", why);
    }
    switch (p->format) {
    case F_NONE:
        return 0;
    case F_URI:
        rc = nw_article_format_uri(s, len, why, sizeof(why));
        break;
    case F_DATETIME:
        rc = nw_article_format_datetime(s, len, why, sizeof(why));
        break;
    case F_LANGUAGE:
        rc = nw_article_format_language(s, len, why, sizeof(why));
        break;
    case F_VERSION:
        rc = nw_article_format_version(s, len, why, sizeof(why));
        break;
    }
    return rc < 0 ? schema_fail(ctx, "%s", why) : 0;
}

/* Any JSON value inside an opaque object (GeoJSON): only nesting, NUL bytes
 * and UTF-8 are checked. */
static int schema_check_any(schema_ctx_t *ctx, const json_t *v)
{
    const char *key;
    size_t key_len, mark;
    json_t *child;
    int rc = 0;

    if (json_is_string(v))
        return schema_check_text(ctx, v);
    if (!json_is_object(v) && !json_is_array(v))
        return 0;
    rc = schema_enter(ctx);
    if (rc < 0)
        return rc;
    if (json_is_object(v)) {
        json_object_keylen_foreach((json_t *)v, key, key_len, child)
        {
            mark = nw_path_push_key(&ctx->path, key, key_len);
            if (strlen(key) != key_len || !nw_utf8_valid(key, key_len))
                rc = schema_fail(ctx, "invalid key");
            else
                rc = schema_check_any(ctx, child);
            if (rc < 0)
                return rc;
            nw_path_pop(&ctx->path, mark);
        }
    } else {
        for (size_t i = 0; i < json_array_size(v); i++) {
            mark = nw_path_push_index(&ctx->path, i);
            rc = schema_check_any(ctx, json_array_get(v, i));
            if (rc < 0)
                return rc;
            nw_path_pop(&ctx->path, mark);
        }
    }
    ctx->depth--;
    return 0;
}

static int schema_check_object(schema_ctx_t *ctx, const schema_object_t *o, const json_t *v);

/* An array property: its size, then each item (objects or strings). */
static int schema_check_array(schema_ctx_t *ctx, const schema_prop_t *p, const json_t *v)
{
    size_t n;
    int rc;

    if (!json_is_array(v))
        return schema_fail(ctx, "must be an array");
    n = json_array_size(v);
    if (n < p->min)
        return schema_fail(ctx, "must have at least %zu item%s", p->min, p->min > 1 ? "s" : "");
    if (n > p->max)
        return schema_fail(ctx, "too many items: %zu, max %zu", n, p->max);
    if (p->flags & P_ASSOC) {
        if (ctx->assoc_level >= ASSOC_MAX_LEVELS && n > 0)
            return schema_fail(ctx, "too deeply nested: at most %d levels of associations",
                               ASSOC_MAX_LEVELS);
        ctx->assoc_level++;
    }
    rc = schema_enter(ctx);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const json_t *item = json_array_get(v, i);
        size_t mark = nw_path_push_index(&ctx->path, i);

        if (p->type == T_STR_ARRAY) {
            schema_prop_t item_spec = {.name = p->name, .type = T_STRING};

            rc = schema_check_string(ctx, &item_spec, item, p->item_max);
        } else {
            rc = schema_check_object(ctx, p->object, item);
        }
        if (rc == 0)
            nw_path_pop(&ctx->path, mark);
    }
    if (rc < 0)
        return rc;
    ctx->depth--;
    if (p->flags & P_ASSOC)
        ctx->assoc_level--;
    return 0;
}

/* One property value, dispatched on its declared type. */
static int schema_check_value(schema_ctx_t *ctx, const schema_prop_t *p, const json_t *v)
{
    switch (p->type) {
    case T_STRING:
        return schema_check_string(ctx, p, v, p->max);
    case T_INTEGER:
        if (!json_is_integer(v) || json_integer_value(v) < p->lo || json_integer_value(v) > p->hi)
            return schema_fail(ctx, "must be an integer %lld..%lld", (long long)p->lo,
                               (long long)p->hi);
        return 0;
    case T_NUMBER:
        if (!json_is_number(v))
            return schema_fail(ctx, "must be a number");
        if (json_number_value(v) < (double)p->lo)
            return schema_fail(ctx, "must be >= %lld", (long long)p->lo);
        return 0;
    case T_OBJECT:
        return schema_check_object(ctx, p->object, v);
    case T_OBJ_ARRAY:
    case T_STR_ARRAY:
        return schema_check_array(ctx, p, v);
    case T_ANY_OBJECT:
        if (!json_is_object(v))
            return schema_fail(ctx, "must be an object");
        return schema_check_any(ctx, v);
    }
    NW_ASSERT(!"unknown schema type");
    return -EINVAL;
}

/* Finds the spec of key[0..len) in o, or NULL if o has no such property. */
static const schema_prop_t *schema_find(const schema_object_t *o, const char *key, size_t len)
{
    for (size_t i = 0; i < o->n_props + o->n_extra; i++) {
        const schema_prop_t *p = i < o->n_props ? &o->props[i] : &o->extra[i - o->n_props];

        if (strlen(p->name) == len && memcmp(p->name, key, len) == 0)
            return p;
    }
    return NULL;
}

/* An object: unknown keys first (in document order), then missing required
 * properties (in table order), then each present property (in table order),
 * then the "exactly one of" rule. The first error wins, so the same item
 * always gets the same error whatever its key order. */
static int schema_check_object(schema_ctx_t *ctx, const schema_object_t *o, const json_t *v)
{
    const char *key;
    size_t key_len, mark;
    json_t *child;
    size_t present = 0;
    int rc;

    if (!json_is_object(v))
        return schema_fail(ctx, "must be an object");
    rc = schema_enter(ctx);
    if (rc < 0)
        return rc;
    json_object_keylen_foreach((json_t *)v, key, key_len, child)
    {
        if (schema_find(o, key, key_len) == NULL) {
            nw_path_push_key(&ctx->path, key, key_len);
            return schema_fail(ctx, "unknown property");
        }
    }
    for (const char *const *r = o->required; r != NULL && *r != NULL; r++) {
        if (json_object_get(v, *r) == NULL) {
            nw_path_push_key(&ctx->path, *r, strlen(*r));
            return schema_fail(ctx, "required");
        }
    }
    for (size_t i = 0; i < o->n_props + o->n_extra; i++) {
        const schema_prop_t *p = i < o->n_props ? &o->props[i] : &o->extra[i - o->n_props];

        child = json_object_get(v, p->name);
        if (child == NULL)
            continue;
        mark = nw_path_push_key(&ctx->path, p->name, strlen(p->name));
        rc = schema_check_value(ctx, p, child);
        if (rc < 0)
            return rc;
        nw_path_pop(&ctx->path, mark);
    }
    if (o->one_of != NULL) {
        char list[96];

        for (const char *const *k = o->one_of; *k != NULL; k++)
            present += json_object_get(v, *k) != NULL;
        if (present != 1) {
            schema_enum_list(o->one_of, list, sizeof(list));
            return schema_fail(ctx, "must have exactly one of: %s", list);
        }
    }
    ctx->depth--;
    return 0;
}

int nw_article_schema_validate(const json_t *item, nw_err_t *err)
{
    schema_ctx_t ctx = {.err = err};

    nw_path_init(&ctx.path);
    if (!json_is_object(item)) {
        nw_err_set(err, "", "must be a JSON object");
        return -EINVAL;
    }
    return schema_check_object(&ctx, &item_obj, item);
}
