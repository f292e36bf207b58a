/* Newswire — wire events.
 *
 * One entry of the <prefix>wire stream, decoded once by the wire tail (core
 * thread) and pre-encoded for both wire formats: each format's item frame is
 * "head + topics + tail", where only the topics array differs between
 * sessions (it lists the item's topics the session matched). Events are
 * immutable after nw_event_from_entry() and reference-counted atomically, so
 * every gateway thread can hold them. */
#ifndef NW_EVENT_H
#define NW_EVENT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdbool.h>

#include <hiredis/hiredis.h>

#include "common.h"

typedef enum nw_event_kind {
    NW_KIND_NEW = 0,
    NW_KIND_UPDATE,
    NW_KIND_KILL,
    NW_KIND_WITHHOLD,
} nw_event_kind_t;

#define NW_WIRE_ID_MAX 48

typedef struct nw_bytes {
    unsigned char *data;
    size_t len;
} nw_bytes_t;

typedef struct nw_event {
    atomic_uint refs;
    char id[NW_WIRE_ID_MAX]; /* the wire entry id, the clients' cursor */
    uint64_t id_ms, id_seq;  /* id parsed, for ordering */
    nw_event_kind_t kind;
    int urgency;       /* 1..9 */
    int64_t ingest_ms; /* wall clock at ingest, from the entry */
    char *uri;
    size_t ntopics; /* 1..NW_TOPICS_PER_ITEM_MAX */
    char **topics;
    nw_bytes_t json_head, json_tail; /* JSON frame: head + ["t",...] + tail */
    size_t item_off;                 /* where the item JSON starts in json_tail */
    /* The msgpack frame parts, same layout, built on first use (most wires
     * have no msgpack session: the item is then never parsed at all). */
    pthread_mutex_t mp_lock;
    atomic_bool mp_ready;
    int mp_error;
    nw_bytes_t mp_head, mp_tail;
} nw_event_t;

/* Decodes one XREAD/XRANGE entry (an array [id, [field, value, ...]]) into a
 * new event (refs = 1). Returns 0, -EINVAL with err saying what is wrong
 * with the entry, or -ENOMEM. */
int nw_event_from_entry(const redisReply *entry, nw_event_t **out, nw_err_t *err);

/* The fields of an event, as stored on the wire or in an item hash. */
typedef struct nw_event_fields {
    const char *id;
    const char *kind;
    const char *uri;
    const char *urgency; /* may be NULL: NW_URGENCY_DEFAULT */
    const char *topics;  /* comma-separated */
    size_t topics_len;
    const char *ts;   /* may be NULL */
    const char *item; /* JSON */
    size_t item_len;
} nw_event_fields_t;

/* Builds an event from its fields. kind_override, when not NULL, replaces
 * the stored kind (a replay shows an update of a story the client never
 * saw as "new"). Same returns as nw_event_from_entry(). */
int nw_event_from_fields(const nw_event_fields_t *f, const char *kind_override, nw_event_t **out,
                         nw_err_t *err);

/* Compares the ids of two events, or of an event and a parsed id. */
int nw_event_id_cmp(const nw_event_t *a, uint64_t ms, uint64_t seq);

/* Compares two parsed stream ids (ms-seq): <0, 0, >0. */
int nw_id_cmp(uint64_t ams, uint64_t aseq, uint64_t bms, uint64_t bseq);

/* Compares two stream ids ("ms-seq"): <0, 0, >0. Malformed ids compare as
 * 0-0. */
int nw_stream_id_cmp(const char *a, const char *b);

/* Parses a stream id "ms-seq" (digits only). Returns 0 or -EINVAL. */
int nw_stream_id_parse(const char *s, uint64_t *ms, uint64_t *seq);

/* Builds the msgpack frame parts if not done yet (any thread; once).
 * Returns 0, or a negative errno when the stored item cannot be encoded. */
int nw_event_msgpack(nw_event_t *ev);

nw_event_t *nw_event_ref(nw_event_t *ev);

/* Drops a reference; the last one frees the event. Accepts NULL. */
void nw_event_unref(nw_event_t *ev);

const char *nw_event_kind_name(nw_event_kind_t kind);

/* Parses "new", "update", "kill", "withhold". Returns 0 or -EINVAL. */
int nw_event_kind_parse(const char *s, size_t len, nw_event_kind_t *out);

#endif
