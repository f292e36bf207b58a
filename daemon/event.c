/* Newswire — wire event decoding and per-format pre-encoding. */
#include "event.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <msgpack.h>

#include "article.h"
#include "codec.h"
#include "json.h"
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
    pthread_mutex_destroy(&ev->mp_lock);
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
/* Pre-encodes the JSON frame parts. The stored item is canonical JSON
 * written by ingest: it is embedded as is, never parsed here. */
static int encode(nw_event_t *ev, const char *item_json, size_t item_len)
{
    char head[256];
    int n;
    char *tail;
    size_t tail_len;

    n = snprintf(head, sizeof(head),
                 "{\"type\":\"item\",\"id\":\"%s\",\"kind\":\"%s\",\"topics\":", ev->id,
                 nw_event_kind_name(ev->kind));
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
    ev->item_off = (size_t)n;
    return 0;
}

/* Encodes the msgpack frame parts; called once, under mp_lock. */
static int encode_msgpack(nw_event_t *ev)
{
    const char *item_json = (const char *)ev->json_tail.data + ev->item_off;
    size_t item_len = ev->json_tail.len - ev->item_off - 1;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    json_t *item = NULL;
    int rc = nw_json_parse(item_json, item_len, NW_JSON_REJECT_DUPLICATES, &item, NULL);

    if (item == NULL || !json_is_object(item)) {
        json_decref(item);
        return -EINVAL;
    }
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
    json_decref(item);
    if (rc == 0) {
        /* hand the sbuffer's storage over to the event */
        ev->mp_tail.data = (unsigned char *)sb.data;
        ev->mp_tail.len = sb.size;
        return 0;
    }
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

int nw_event_msgpack(nw_event_t *ev)
{
    if (atomic_load_explicit(&ev->mp_ready, memory_order_acquire))
        return ev->mp_error;
    pthread_mutex_lock(&ev->mp_lock);
    if (!atomic_load_explicit(&ev->mp_ready, memory_order_relaxed)) {
        ev->mp_error = encode_msgpack(ev);
        atomic_store_explicit(&ev->mp_ready, true, memory_order_release);
    }
    pthread_mutex_unlock(&ev->mp_lock);
    return ev->mp_error;
}

int nw_stream_id_parse(const char *s, uint64_t *ms, uint64_t *seq)
{
    uint64_t v[2] = {0, 0};
    int part = 0;

    if (*s < '0' || *s > '9')
        return -EINVAL;
    for (const char *p = s; *p; p++) {
        if (*p == '-' && part == 0 && p[1] >= '0' && p[1] <= '9') {
            part = 1;
        } else if (*p >= '0' && *p <= '9') {
            uint64_t d = (uint64_t)(*p - '0');
            if (v[part] > (UINT64_MAX - d) / 10)
                return -EINVAL;
            v[part] = v[part] * 10 + d;
        } else {
            return -EINVAL;
        }
    }
    *ms = v[0];
    *seq = v[1];
    return 0;
}

/* Parses an id; anything malformed is 0-0. */
static void parse_id(const char *s, uint64_t *ms, uint64_t *seq)
{
    if (nw_stream_id_parse(s, ms, seq) < 0)
        *ms = *seq = 0;
}

int nw_stream_id_cmp(const char *a, const char *b)
{
    uint64_t am, as, bm, bs;

    parse_id(a, &am, &as);
    parse_id(b, &bm, &bs);
    return nw_id_cmp(am, as, bm, bs);
}

int nw_id_cmp(uint64_t ams, uint64_t aseq, uint64_t bms, uint64_t bseq)
{
    if (ams != bms)
        return ams < bms ? -1 : 1;
    if (aseq != bseq)
        return aseq < bseq ? -1 : 1;
    return 0;
}

int nw_event_id_cmp(const nw_event_t *a, uint64_t ms, uint64_t seq)
{
    return nw_id_cmp(a->id_ms, a->id_seq, ms, seq);
}

/* True if s is '{' ... '}' around JSON blanks: the shape of an object. */
static bool looks_like_object(const char *s, size_t len)
{
    size_t a = 0, b = len;

    while (a < b && (s[a] == ' ' || s[a] == '\t' || s[a] == '\n' || s[a] == '\r'))
        a++;
    while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t' || s[b - 1] == '\n' || s[b - 1] == '\r'))
        b--;
    return b - a >= 2 && s[a] == '{' && s[b - 1] == '}';
}

int nw_event_from_fields(const nw_event_fields_t *f, const char *kind_override, nw_event_t **out,
                         nw_err_t *err)
{
    const char *kind = kind_override ? kind_override : f->kind;
    nw_event_t *ev;
    int rc = -EINVAL;

    *out = NULL;
    ev = calloc(1, sizeof(*ev));
    if (ev == NULL)
        return -ENOMEM;
    atomic_init(&ev->refs, 1);
    atomic_init(&ev->mp_ready, false);
    pthread_mutex_init(&ev->mp_lock, NULL);
    if (strlen(f->id) >= sizeof(ev->id) || nw_stream_id_parse(f->id, &ev->id_ms, &ev->id_seq) < 0) {
        nw_err_set(err, "id", "invalid entry id");
        goto fail;
    }
    memcpy(ev->id, f->id, strlen(f->id) + 1);
    if (nw_event_kind_parse(kind, strlen(kind), &ev->kind) < 0) {
        nw_err_set(err, "kind", "entry %s: unknown kind", ev->id);
        goto fail;
    }
    ev->urgency = f->urgency ? atoi(f->urgency) : NW_URGENCY_DEFAULT;
    if (ev->urgency < NW_URGENCY_MIN || ev->urgency > NW_URGENCY_MAX)
        ev->urgency = NW_URGENCY_DEFAULT;
    ev->ingest_ms = f->ts ? strtoll(f->ts, NULL, 10) : 0;
    ev->uri = strdup(f->uri);
    if (ev->uri == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    rc = parse_topics(ev, f->topics, f->topics_len, err);
    if (rc < 0)
        goto fail;
    /* The item was written by ingest as canonical JSON: a cheap shape check
     * is enough here (parsing 4 KB with jansson costs ~80 us per event). */
    if (!looks_like_object(f->item, f->item_len)) {
        nw_err_set(err, "item", "entry %s: item is not a JSON object", ev->id);
        rc = -EINVAL;
        goto fail;
    }
    rc = encode(ev, f->item, f->item_len);
    if (rc < 0)
        goto fail;
    *out = ev;
    return 0;
fail:
    event_free(ev);
    return rc;
}

int nw_event_from_entry(const redisReply *entry, nw_event_t **out, nw_err_t *err)
{
    const redisReply *fields;
    const redisReply *item_r = NULL, *topics_r = NULL, *kind_r = NULL, *uri_r = NULL;
    const redisReply *urgency_r = NULL, *ts_r = NULL;
    nw_event_fields_t f;

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
    f = (nw_event_fields_t){
        .id = entry->element[0]->str,
        .kind = kind_r->str,
        .uri = uri_r->str,
        .urgency = urgency_r ? urgency_r->str : NULL,
        .topics = topics_r->str,
        .topics_len = topics_r->len,
        .ts = ts_r ? ts_r->str : NULL,
        .item = item_r->str,
        .item_len = item_r->len,
    };
    return nw_event_from_fields(&f, NULL, out, err);
}
