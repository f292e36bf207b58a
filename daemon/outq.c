/* Newswire — bounded output queue with the urgency overflow policy. */
#include "outq.h"

#include <stdlib.h>
#include <string.h>

#include "common.h"

/* Highest urgency number (least urgent) among droppable live items, 3..9,
 * or 0 when none is droppable. */
static int least_urgent(const nw_outq_t *q)
{
    for (int u = 9; u >= 3; u--) {
        if (q->per_urgency[u] > 0)
            return u;
    }
    return 0;
}

void nw_outq_init(nw_outq_t *q)
{
    memset(q, 0, sizeof(*q));
}

void nw_outq_clear(nw_outq_t *q)
{
    for (uint32_t i = 0; i < q->count; i++)
        nw_frame_unref(q->ring[(q->head + i) & (q->cap - 1)].frame);
    free(q->ring);
    nw_outq_init(q);
}

/* Drops the oldest live item of urgency u in place. */
static void drop_oldest(nw_outq_t *q, int u)
{
    for (uint32_t i = 0; i < q->count; i++) {
        nw_outq_ent_t *e = &q->ring[(q->head + i) & (q->cap - 1)];
        if (e->frame != NULL && e->frame->urgency == u) {
            q->bytes -= e->frame->len;
            q->per_urgency[u]--;
            q->live--;
            nw_frame_unref(e->frame);
            e->frame = NULL;
            return;
        }
    }
    NW_ASSERT(!"urgency count out of step");
}

static int ring_grow(nw_outq_t *q)
{
    uint32_t ncap = q->cap ? q->cap * 2 : 8;
    nw_outq_ent_t *nr = malloc(ncap * sizeof(*nr));

    if (nr == NULL)
        return -1;
    for (uint32_t i = 0; i < q->count; i++)
        nr[i] = q->ring[(q->head + i) & (q->cap - 1)];
    free(q->ring);
    q->ring = nr;
    q->cap = ncap;
    q->head = 0;
    return 0;
}

/* Squeezes out the entries dropped in place behind the head, which
 * trim_front() cannot reach while an older entry stays queued: the ring then
 * holds only live entries, so its size stays bounded by what is queued. */
static void compact(nw_outq_t *q)
{
    uint32_t n = 0;

    for (uint32_t i = 0; i < q->count; i++) {
        nw_outq_ent_t e = q->ring[(q->head + i) & (q->cap - 1)];
        if (e.frame != NULL)
            q->ring[(q->head + n++) & (q->cap - 1)] = e;
    }
    q->count = n;
}

/* Removes dropped entries from the front so they do not hold ring slots. */
static void trim_front(nw_outq_t *q)
{
    while (q->count > 0 && q->ring[q->head].frame == NULL) {
        q->head = (q->head + 1) & (q->cap - 1);
        q->count--;
    }
}

nw_outq_result_t nw_outq_push(nw_outq_t *q, nw_frame_t *f, size_t limit, nw_outq_drop_cb drop_cb,
                              void *arg)
{
    bool droppable_new = f->urgency >= 3;

    /* An empty queue takes any frame: one item larger than the bound can
     * only ever be sent alone. */
    while (q->live > 0 && q->bytes + f->len > limit) {
        int u = least_urgent(q);
        if (droppable_new && (u == 0 || f->urgency > u)) {
            if (drop_cb != NULL)
                drop_cb(f->urgency, arg);
            return NW_OUTQ_OK;
        }
        if (u == 0)
            return NW_OUTQ_OVERFLOW;
        drop_oldest(q, u);
        if (drop_cb != NULL)
            drop_cb(u, arg);
    }
    trim_front(q);
    if (q->count == q->cap && q->live < q->count)
        compact(q);
    if (q->count == q->cap && ring_grow(q) < 0)
        return NW_OUTQ_NOMEM;
    q->ring[(q->head + q->count) & (q->cap - 1)].frame = nw_frame_ref(f);
    q->count++;
    q->live++;
    q->bytes += f->len;
    if (f->urgency < 10)
        q->per_urgency[f->urgency]++;
    return NW_OUTQ_OK;
}

nw_frame_t *nw_outq_pop(nw_outq_t *q)
{
    nw_frame_t *f;

    trim_front(q);
    if (q->count == 0)
        return NULL;
    f = q->ring[q->head].frame;
    q->head = (q->head + 1) & (q->cap - 1);
    q->count--;
    q->live--;
    q->bytes -= f->len;
    if (f->urgency < 10)
        q->per_urgency[f->urgency]--;
    return f;
}

nw_frame_t *nw_outq_pop_urgent_first(nw_outq_t *q, bool *jumped)
{
    bool behind = false;

    *jumped = false;
    if (q->per_urgency[1] + q->per_urgency[2] == 0)
        return nw_outq_pop(q);
    trim_front(q);
    for (uint32_t i = 0; i < q->count; i++) {
        nw_outq_ent_t *e = &q->ring[(q->head + i) & (q->cap - 1)];
        nw_frame_t *f = e->frame;
        if (f == NULL)
            continue;
        if (f->urgency == NW_URGENCY_CONTROL)
            return nw_outq_pop(q); /* never ahead of a control message */
        if (f->urgency == 1 || f->urgency == 2) {
            if (i == 0)
                return nw_outq_pop(q);
            e->frame = NULL;
            q->live--;
            q->bytes -= f->len;
            q->per_urgency[f->urgency]--;
            *jumped = behind;
            return f;
        }
        behind = behind || f->urgency >= 3;
    }
    NW_ASSERT(!"urgent count out of step");
    return NULL;
}
