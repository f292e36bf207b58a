/* Newswire — wire event decoding and per-format pre-encoding. */
#include "event.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <msgpack.h>

#include "article.h"
#include "codec.h"
#include "topic.h"

static const char *const kind_names[] = {"new", "update", "kill", "withhold"};

const char *nw_event_kind_name(nw_event_kind_t kind)
{
    return (unsigned)kind < NW_ARRAY_LEN(kind_names) ? kind_names[kind] : "?";
}

int nw_event_kind_parse(const char *s, size_t len, nw_event_kind_t *out)
{
    for (size_t i = 0; i < NW_ARRAY_LEN(kind_names); i++) {
        if (strlen(kind_names[i]) == len && memcmp(kind_names[i], s, len) == 0) {
            *out = (nw_event_kind_t)i;
            return 0;
        }
    }
    return -EINVAL;
}

nw_event_t *nw_event_ref(nw_event_t *ev)
{
    atomic_fetch_add_explicit(&ev->refs, 1, memory_order_relaxed);
    return ev;
}

static void event_free(nw_event_t *ev)
{
    if (ev->topics != NULL) {
        for (size_t i = 0; i < ev->ntopics; i++)
            free(ev->topics[i]);
        free(ev->topics);
    }
    free(ev->uri);
    free(ev->json_head.data);
    free(ev->json_tail.data);
    free(ev->mp_head.data);
    free(ev->mp_tail.data);
    free(ev);
}

void nw_event_unref(nw_event_t *ev)
{
    if (ev != NULL && atomic_fetch_sub_explicit(&ev->refs, 1, memory_order_acq_rel) == 1)
        event_free(ev);
}

static int bytes_set(nw_bytes_t *b, const void *data, size_t len)
{
    b->data = malloc(len ? len : 1);
    if (b->data == NULL)
        return -ENOMEM;
    memcpy(b->data, data, len);
    b->len = len;
    return 0;
}

/* Splits the comma-separated topics field, checking each topic. */
static int parse_topics(nw_event_t *ev, const char *s, size_t len, nw_err_t *err)
{
    nw_topic_list_t *list;
    int rc = nw_topic_list_parse(s, len, NW_TOPICS_PER_ITEM_MAX, false, "topics", &list, err);

    if (rc < 0)
        return rc;
    ev->ntopics = list->n;
    ev->topics = list->v;
    list->v = NULL;
    list->n = 0;
    nw_topic_list_free(list);
    return 0;
}

static void mp_str(msgpack_packer *pk, const char *s, size_t len)
{
    msgpack_pack_str(pk, len);
    msgpack_pack_str_body(pk, s, len);
}

/* Pre-encodes both formats. JSON: the stored item is canonical JSON
 * written by ingest and re-checked here by parsing it, so it is embedded
 * as is. msgpack: the parsed item is converted once. */
static int encode(nw_event_t *ev, const char *item_json, size_t item_len, const json_t *item)
{
    char head[256];
    int n;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    char *tail;
    size_t tail_len;
    int rc;

    n = snprintf(head, sizeof(head), "{\"type\":\"item\",\"id\":\"%s\",\"kind\":\"%s\",\"topics\":",
                 ev->id, nw_event_kind_name(ev->kind));
    if (n < 0 || (size_t)n >= sizeof(head))
        return -EINVAL;
    if (bytes_set(&ev->json_head, head, (size_t)n) < 0)
        return -ENOMEM;
    tail_len = item_len + 32;
    tail = malloc(tail_len);
    if (tail == NULL)
        return -ENOMEM;
    n = snprintf(tail, tail_len, ",\"urgency\":%d,\"item\":", ev->urgency);
    memcpy(tail + n, item_json, item_len);
    tail[n + item_len] = '}';
    ev->json_tail.data = (unsigned char *)tail;
    ev->json_tail.len = (size_t)n + item_len + 1;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 6);
    mp_str(&pk, "type", 4);
    mp_str(&pk, "item", 4);
    mp_str(&pk, "id", 2);
    mp_str(&pk, ev->id, strlen(ev->id));
    mp_str(&pk, "kind", 4);
    mp_str(&pk, nw_event_kind_name(ev->kind), strlen(nw_event_kind_name(ev->kind)));
    mp_str(&pk, "topics", 6);
    rc = bytes_set(&ev->mp_head, sb.data, sb.size);
    msgpack_sbuffer_clear(&sb);
    if (rc == 0) {
        mp_str(&pk, "urgency", 7);
        msgpack_pack_int(&pk, ev->urgency);
        mp_str(&pk, "item", 4);
        rc = nw_codec_json_to_msgpack(item, &pk);
    }
    if (rc == 0) {
        /* hand the sbuffer's storage over to the event */
        ev->mp_tail.data = (unsigned char *)sb.data;
        ev->mp_tail.len = sb.size;
        return 0;
    }
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

int nw_event_from_entry(const redisReply *entry, nw_event_t **out, nw_err_t *err)
{
    const redisReply *fields;
    const redisReply *item_r = NULL, *topics_r = NULL, *kind_r = NULL, *uri_r = NULL;
    const redisReply *urgency_r = NULL, *ts_r = NULL;
    nw_event_t *ev;
    json_t *item = NULL;
    json_error_t jerr;
    int rc = -EINVAL;

    *out = NULL;
    if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
        entry->element[0]->type != REDIS_REPLY_STRING ||
        entry->element[1]->type != REDIS_REPLY_ARRAY) {
        nw_err_set(err, "", "not a stream entry");
        return -EINVAL;
    }
    fields = entry->element[1];
    for (size_t i = 0; i + 1 < fields->elements; i += 2) {
        const redisReply *k = fields->element[i], *v = fields->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        if (strcmp(k->str, "item") == 0)
            item_r = v;
        else if (strcmp(k->str, "topics") == 0)
            topics_r = v;
        else if (strcmp(k->str, "kind") == 0)
            kind_r = v;
        else if (strcmp(k->str, "uri") == 0)
            uri_r = v;
        else if (strcmp(k->str, "urgency") == 0)
            urgency_r = v;
        else if (strcmp(k->str, "ts") == 0)
            ts_r = v;
    }
    if (item_r == NULL || topics_r == NULL || kind_r == NULL || uri_r == NULL) {
        nw_err_set(err, entry->element[0]->str, "entry lacks item, topics, kind or uri");
        return -EINVAL;
    }
    ev = calloc(1, sizeof(*ev));
    if (ev == NULL)
        return -ENOMEM;
    atomic_init(&ev->refs, 1);
    if (entry->element[0]->len >= sizeof(ev->id)) {
        nw_err_set(err, "id", "entry id too long");
        goto fail;
    }
    memcpy(ev->id, entry->element[0]->str, entry->element[0]->len + 1);
    if (nw_event_kind_parse(kind_r->str, kind_r->len, &ev->kind) < 0) {
        nw_err_set(err, "kind", "entry %s: unknown kind", ev->id);
        goto fail;
    }
    ev->urgency = urgency_r ? atoi(urgency_r->str) : NW_URGENCY_DEFAULT;
    if (ev->urgency < NW_URGENCY_MIN || ev->urgency > NW_URGENCY_MAX)
        ev->urgency = NW_URGENCY_DEFAULT;
    ev->ingest_ms = ts_r ? strtoll(ts_r->str, NULL, 10) : 0;
    ev->uri = strdup(uri_r->str);
    if (ev->uri == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    rc = parse_topics(ev, topics_r->str, topics_r->len, err);
    if (rc < 0)
        goto fail;
    item = json_loadb(item_r->str, item_r->len, JSON_REJECT_DUPLICATES, &jerr);
    if (item == NULL || !json_is_object(item)) {
        nw_err_set(err, "item", "entry %s: item is not a JSON object", ev->id);
        rc = -EINVAL;
        goto fail;
    }
    rc = encode(ev, item_r->str, item_r->len, item);
    if (rc < 0)
        goto fail;
    json_decref(item);
    *out = ev;
    return 0;
fail:
    json_decref(item);
    event_free(ev);
    return rc;
}
