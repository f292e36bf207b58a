/* Newswire — the hand-off queue from the core thread to one gateway thread.
 *
 * A bounded FIFO of event references under a mutex: the core thread pushes
 * (taking a reference for the queue) and wakes the gateway with
 * lws_cancel_service(); the gateway drains it from its
 * LWS_CALLBACK_EVENT_WAIT_CANCELLED. When full, push fails and the wire tail
 * stops reading from Redis until there is room (the wire is durable; nothing
 * is dropped here). */
#ifndef NW_HANDOFF_H
#define NW_HANDOFF_H

#include <stddef.h>

#include "event.h"

typedef struct nw_handoff nw_handoff_t;

nw_handoff_t *nw_handoff_new(size_t capacity);

/* Frees the queue, dropping the references it still holds. Accepts NULL. */
void nw_handoff_free(nw_handoff_t *q);

/* Queues a new reference to ev. Returns 0 or -EAGAIN when full. */
int nw_handoff_push(nw_handoff_t *q, nw_event_t *ev);

/* Moves up to max queued events into out (the caller owns those references)
 * and returns how many. */
size_t nw_handoff_drain(nw_handoff_t *q, nw_event_t **out, size_t max);

/* Free slots now. */
size_t nw_handoff_room(nw_handoff_t *q);

#endif
