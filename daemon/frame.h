/* Newswire — frames: encoded server messages ready for lws_write().
 *
 * A frame holds one complete WebSocket message payload (JSON text or
 * msgpack binary), or one Server-Sent Event, with LWS_PRE bytes of headroom
 * before it, as lws_write() requires. Item frames are built once per event, format and set of
 * matched topics, and shared by every session of a gateway thread that needs that exact message:
 * queues hold references. The reference count is not atomic: a frame belongs to one gateway thread.
 */
#ifndef NW_FRAME_H
#define NW_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "event.h"

typedef enum nw_format {
    NW_FORMAT_JSON = 0,
    NW_FORMAT_MSGPACK = 1,
    NW_FORMAT_SSE = 2, /* text/event-stream: "id:", "event:", "data: <JSON message>" */
} nw_format_t;

#define NW_URGENCY_CONTROL 0 /* control frames (hello, errors...) are never dropped */

typedef struct nw_frame {
    uint64_t id_ms, id_seq; /* item frames: the event id; 0-0 for control frames */
    int64_t ingest_ms;      /* live item frames: ingest time (latency metric); 0 otherwise */
    uint32_t refs;
    uint32_t len;    /* payload bytes after the headroom */
    uint8_t urgency; /* 1..9 for items, NW_URGENCY_CONTROL otherwise */
    bool binary;
    bool sse;
    unsigned char *payload; /* = storage + LWS_PRE */
    unsigned char storage[];
} nw_frame_t;

/* Allocates a frame with room for len payload bytes (refs = 1). */
nw_frame_t *nw_frame_alloc(size_t len, nw_format_t fmt, int urgency);

static inline nw_frame_t *nw_frame_ref(nw_frame_t *f)
{
    f->refs++;
    return f;
}

/* Drops a reference; frees the frame with the last one. Accepts NULL. */
void nw_frame_unref(nw_frame_t *f);

/* Builds the item frame of ev for a session that matched the item's topics
 * whose indexes are the set bits of mask. Returns NULL on allocation
 * failure. */
nw_frame_t *nw_frame_item(const nw_event_t *ev, nw_format_t fmt, uint32_t mask);

/* A copy of the item frame f with a "cursor" member added first: the id a
 * client resumes from when f is sent ahead of older queued items. Returns
 * NULL on allocation failure. */
nw_frame_t *nw_frame_with_cursor(const nw_frame_t *f, uint64_t ms, uint64_t seq);

/* Encodes a control message (a JSON object, borrowed) in fmt; for SSE, the
 * event name is the message's "type". Returns NULL on allocation or
 * encoding failure. */
nw_frame_t *nw_frame_control(const json_t *msg, nw_format_t fmt);

#endif
