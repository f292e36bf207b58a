/* Newswire — bounded, locked hand-off queue of wire events. */
#include "handoff.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

struct nw_handoff {
    pthread_mutex_t lock;
    nw_event_t **ring;
    size_t cap, head, count;
};

nw_handoff_t *nw_handoff_new(size_t capacity)
{
    nw_handoff_t *q = calloc(1, sizeof(*q));

    if (q == NULL)
        return NULL;
    q->ring = calloc(capacity, sizeof(*q->ring));
    if (q->ring == NULL || pthread_mutex_init(&q->lock, NULL) != 0) {
        free(q->ring);
        free(q);
        return NULL;
    }
    q->cap = capacity;
    return q;
}

void nw_handoff_free(nw_handoff_t *q)
{
    if (q == NULL)
        return;
    for (size_t i = 0; i < q->count; i++)
        nw_event_unref(q->ring[(q->head + i) % q->cap]);
    pthread_mutex_destroy(&q->lock);
    free(q->ring);
    free(q);
}

int nw_handoff_push(nw_handoff_t *q, nw_event_t *ev)
{
    int rc = 0;

    pthread_mutex_lock(&q->lock);
    if (q->count == q->cap)
        rc = -EAGAIN;
    else
        q->ring[(q->head + q->count++) % q->cap] = nw_event_ref(ev);
    pthread_mutex_unlock(&q->lock);
    return rc;
}

size_t nw_handoff_drain(nw_handoff_t *q, nw_event_t **out, size_t max)
{
    size_t n = 0;

    pthread_mutex_lock(&q->lock);
    while (n < max && q->count > 0) {
        out[n++] = q->ring[q->head];
        q->head = (q->head + 1) % q->cap;
        q->count--;
    }
    pthread_mutex_unlock(&q->lock);
    return n;
}

size_t nw_handoff_room(nw_handoff_t *q)
{
    size_t room;

    pthread_mutex_lock(&q->lock);
    room = q->cap - q->count;
    pthread_mutex_unlock(&q->lock);
    return room;
}
