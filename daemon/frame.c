/* Newswire — frame allocation and encoding. */
#include "frame.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>
#include <msgpack.h>

#include "codec.h"

nw_frame_t *nw_frame_alloc(size_t len, nw_format_t fmt, int urgency)
{
    nw_frame_t *f;

    if (len > UINT32_MAX)
        return NULL;
    f = malloc(sizeof(*f) + LWS_PRE + len);
    if (f == NULL)
        return NULL;
    f->refs = 1;
    f->id_ms = f->id_seq = 0;
    f->ingest_ms = 0;
    f->len = (uint32_t)len;
    f->urgency = (uint8_t)urgency;
    f->binary = fmt == NW_FORMAT_MSGPACK;
    f->sse = fmt == NW_FORMAT_SSE;
    f->payload = f->storage + LWS_PRE;
    return f;
}

void nw_frame_unref(nw_frame_t *f)
{
    if (f != NULL && --f->refs == 0)
        free(f);
}

/* Bytes of the JSON topics array for mask: ["a","b/c"]. Topics need no
 * escaping (their alphabet is [a-z0-9_/-]). */
static size_t json_topics_len(const nw_event_t *ev, uint32_t mask)
{
    size_t n = 2, k = 0;

    for (size_t i = 0; i < ev->ntopics; i++) {
        if (mask & (1u << i)) {
            n += strlen(ev->topics[i]) + 2 + (k++ ? 1 : 0);
        }
    }
    return n;
}

static unsigned char *json_topics_put(unsigned char *p, const nw_event_t *ev, uint32_t mask)
{
    size_t k = 0;

    *p++ = '[';
    for (size_t i = 0; i < ev->ntopics; i++) {
        if (mask & (1u << i)) {
            size_t l = strlen(ev->topics[i]);
            if (k++)
                *p++ = ',';
            *p++ = '"';
            memcpy(p, ev->topics[i], l);
            p += l;
            *p++ = '"';
        }
    }
    *p++ = ']';
    return p;
}

/* The msgpack topics array: a fixarray/array16 header then fixstr/str8
 * strings (topics are at most 128 bytes). */
static size_t mp_topics_len(const nw_event_t *ev, uint32_t mask)
{
    size_t n = 0, count = 0;

    for (size_t i = 0; i < ev->ntopics; i++) {
        if (mask & (1u << i)) {
            size_t l = strlen(ev->topics[i]);
            n += l + (l < 32 ? 1 : 2);
            count++;
        }
    }
    return n + (count < 16 ? 1 : 3);
}

static unsigned char *mp_topics_put(unsigned char *p, const nw_event_t *ev, uint32_t mask)
{
    unsigned count = 0;

    for (size_t i = 0; i < ev->ntopics; i++)
        count += (mask >> i) & 1u;
    if (count < 16) {
        *p++ = (unsigned char)(0x90 | count);
    } else {
        *p++ = 0xdc;
        *p++ = (unsigned char)(count >> 8);
        *p++ = (unsigned char)count;
    }
    for (size_t i = 0; i < ev->ntopics; i++) {
        if (mask & (1u << i)) {
            size_t l = strlen(ev->topics[i]);
            if (l < 32) {
                *p++ = (unsigned char)(0xa0 | l);
            } else {
                *p++ = 0xd9;
                *p++ = (unsigned char)l;
            }
            memcpy(p, ev->topics[i], l);
            p += l;
        }
    }
    return p;
}

nw_frame_t *nw_frame_item(const nw_event_t *ev, nw_format_t fmt, uint32_t mask)
{
    bool json = fmt != NW_FORMAT_MSGPACK; /* SSE carries the JSON message */
    const nw_bytes_t *head = json ? &ev->json_head : &ev->mp_head;
    const nw_bytes_t *tail = json ? &ev->json_tail : &ev->mp_tail;
    size_t tlen = json ? json_topics_len(ev, mask) : mp_topics_len(ev, mask);
    char sse[128];
    int sn = 0;
    nw_frame_t *f;
    unsigned char *p;

    if (!json && nw_event_msgpack((nw_event_t *)ev) < 0)
        return NULL;
    if (fmt == NW_FORMAT_SSE) {
        /* compact JSON holds no raw newline: one data line per event */
        sn = snprintf(sse, sizeof(sse), "id: %s\nevent: %s\ndata: ", ev->id,
                      nw_event_kind_name(ev->kind));
        if (sn < 0 || (size_t)sn >= sizeof(sse))
            return NULL;
    }
    f = nw_frame_alloc((size_t)sn + head->len + tlen + tail->len + (sn ? 2 : 0), fmt, ev->urgency);
    if (f == NULL)
        return NULL;
    f->id_ms = ev->id_ms;
    f->id_seq = ev->id_seq;
    f->ingest_ms = ev->ingest_ms;
    p = f->payload;
    memcpy(p, sse, (size_t)sn);
    p += sn;
    memcpy(p, head->data, head->len);
    p += head->len;
    p = json ? json_topics_put(p, ev, mask) : mp_topics_put(p, ev, mask);
    memcpy(p, tail->data, tail->len);
    if (sn) {
        p += tail->len;
        memcpy(p, "\n\n", 2);
    }
    return f;
}

nw_frame_t *nw_frame_with_cursor(const nw_frame_t *f, uint64_t ms, uint64_t seq)
{
    char id[48];
    int n = snprintf(id, sizeof(id), "%llu-%llu", (unsigned long long)ms, (unsigned long long)seq);
    nw_format_t fmt = f->sse ? NW_FORMAT_SSE : f->binary ? NW_FORMAT_MSGPACK : NW_FORMAT_JSON;
    nw_frame_t *c;
    unsigned char *p;

    /* JSON: {"cursor":"<id>", + the rest after '{'. msgpack: the item map
     * has 6 entries (fixmap 0x86): 0x87, "cursor", "<id>", the entries.
     * SSE: the same in the JSON of the data line. */
    c = nw_frame_alloc(f->len + 2 * (size_t)n + 16, fmt, f->urgency);
    if (c == NULL)
        return NULL;
    c->id_ms = f->id_ms;
    c->id_seq = f->id_seq;
    c->ingest_ms = f->ingest_ms;
    p = c->payload;
    if (fmt == NW_FORMAT_SSE) {
        /* "id:" becomes the cursor too: an EventSource resumes from its
         * Last-Event-ID, which must not skip the items still queued */
        const unsigned char *brace = memchr(f->payload, '{', f->len);
        const unsigned char *nl = memchr(f->payload, '\n', f->len);
        size_t pre = brace ? (size_t)(brace - f->payload) : 0;
        if (brace == NULL || nl == NULL || nl > brace) {
            nw_frame_unref(c);
            return NULL;
        }
        p += sprintf((char *)p, "id: %s", id);
        memcpy(p, nl, (size_t)(brace - nl));
        p += brace - nl;
        p += sprintf((char *)p, "{\"cursor\":\"%s\",", id);
        memcpy(p, brace + 1, f->len - pre - 1);
        p += f->len - pre - 1;
    } else if (fmt == NW_FORMAT_JSON) {
        p += sprintf((char *)p, "{\"cursor\":\"%s\",", id);
        memcpy(p, f->payload + 1, f->len - 1);
        p += f->len - 1;
    } else {
        *p++ = (unsigned char)(f->payload[0] + 1);
        *p++ = 0xa6;
        memcpy(p, "cursor", 6);
        p += 6;
        *p++ = (unsigned char)(0xa0 | n);
        memcpy(p, id, (size_t)n);
        p += n;
        memcpy(p, f->payload + 1, f->len - 1);
        p += f->len - 1;
    }
    c->len = (uint32_t)(p - c->payload);
    return c;
}

nw_frame_t *nw_frame_control(const json_t *msg, nw_format_t fmt)
{
    nw_frame_t *f = NULL;

    if (fmt == NW_FORMAT_SSE) {
        const char *type = json_string_value(json_object_get(msg, "type"));
        char *s = json_dumps(msg, JSON_COMPACT);
        size_t tl = type ? strlen(type) : 7;
        if (s == NULL)
            return NULL;
        /* "event: " type "\ndata: " s "\n\n", and sprintf's NUL */
        f = nw_frame_alloc(7 + tl + 7 + strlen(s) + 2 + 1, fmt, NW_URGENCY_CONTROL);
        if (f != NULL) {
            int n =
                sprintf((char *)f->payload, "event: %s\ndata: %s\n\n", type ? type : "message", s);
            f->len = (uint32_t)n;
        }
        free(s);
    } else if (fmt == NW_FORMAT_JSON) {
        char *s = json_dumps(msg, JSON_COMPACT);
        if (s == NULL)
            return NULL;
        f = nw_frame_alloc(strlen(s), fmt, NW_URGENCY_CONTROL);
        if (f != NULL)
            memcpy(f->payload, s, f->len);
        free(s);
    } else {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        if (nw_codec_json_to_msgpack(msg, &pk) == 0) {
            f = nw_frame_alloc(sb.size, fmt, NW_URGENCY_CONTROL);
            if (f != NULL)
                memcpy(f->payload, sb.data, sb.size);
        }
        msgpack_sbuffer_destroy(&sb);
    }
    return f;
}
