/* Newswire — a session's bounded output queue and its overflow policy.
 *
 * The queue holds frame references in order and counts their bytes. When a
 * push would exceed the byte bound, the lowest-urgency items go first:
 * urgency 9 before 8 ... before 3, the oldest first within one urgency; the
 * new item itself is dropped when it is less urgent than everything that
 * could make room. Flashes and bulletins (urgency 1-2) and control frames
 * are never dropped: when only they remain and the bound is still exceeded,
 * the push reports NW_OUTQ_OVERFLOW and the caller closes the session (1013)
 * so that the client resumes from its cursor instead of the server growing
 * memory. An empty queue accepts any frame, however large: an item bigger
 * than the bound is sent when it is alone. Pure data structure: no I/O, one
 * thread. */
#ifndef NW_OUTQ_H
#define NW_OUTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"

typedef struct nw_outq_ent {
    nw_frame_t *frame; /* NULL: dropped in place */
} nw_outq_ent_t;

typedef struct nw_outq {
    nw_outq_ent_t *ring;
    uint32_t cap;   /* power of two, or 0 */
    uint32_t head;  /* index of the oldest entry */
    uint32_t count; /* entries, dropped ones included */
    uint32_t live;  /* entries not dropped */
    size_t bytes;   /* payload bytes of live entries */
    uint32_t per_urgency[10];
} nw_outq_t;

typedef enum nw_outq_result {
    NW_OUTQ_OK = 0,
    NW_OUTQ_OVERFLOW, /* over the bound with nothing left to drop; frame not queued */
    NW_OUTQ_NOMEM,    /* frame not queued */
} nw_outq_result_t;

/* Called for each item dropped by the overflow policy (the new frame
 * included), with its urgency. */
typedef void (*nw_outq_drop_cb)(int urgency, void *arg);

void nw_outq_init(nw_outq_t *q);

/* Releases every frame and the ring. */
void nw_outq_clear(nw_outq_t *q);

/* Queues a new reference to f, applying the policy for the bound limit
 * (bytes). */
nw_outq_result_t nw_outq_push(nw_outq_t *q, nw_frame_t *f, size_t limit, nw_outq_drop_cb drop_cb,
                              void *arg);

/* Removes and returns the oldest live frame (the caller owns that
 * reference), or NULL when empty. */
nw_frame_t *nw_outq_pop(nw_outq_t *q);

/* Like nw_outq_pop(), but flashes and bulletins (urgency 1-2) go first: the
 * oldest of them when any is queued, unless a control message comes before
 * it (control messages keep their order: "subscribed" precedes the items it
 * announces). *jumped is set when the frame returned leaves older items
 * (urgency 3-9) behind it in the queue. */
nw_frame_t *nw_outq_pop_urgent_first(nw_outq_t *q, bool *jumped);

static inline int nw_outq_empty(const nw_outq_t *q)
{
    return q->live == 0;
}

#endif
