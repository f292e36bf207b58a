/* Newswire command — what tail remembers across connections.
 *
 * Pure: the resume cursor and epoch, the ids already printed (so that no
 * id is printed twice, whatever a resume replays), the reading of close
 * codes and the reconnect delay. The WebSocket side lives in tail.c. */
#ifndef NW_TAIL_STATE_H
#define NW_TAIL_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NW_TAIL_SEEN_MAX  16384 /* printed ids remembered, the newest kept */
#define NW_TAIL_ID_MAX    48    /* "<ms>-<seq>" */
#define NW_TAIL_EPOCH_MAX 64

typedef struct nw_tail_state nw_tail_state_t;

/* A state starting from the cursor since (NULL: the live end) and its
 * epoch (NULL: none). Both must be valid (nw_op_cursor_valid,
 * nw_op_epoch_valid). Returns NULL on allocation failure. */
nw_tail_state_t *nw_tail_state_new(const char *since, const char *epoch);

/* Accepts NULL. */
void nw_tail_state_free(nw_tail_state_t *s);

/* The cursor to resume from, or NULL when no item was seen and none was
 * given. Valid until the next call that changes the state. */
const char *nw_tail_state_cursor(const nw_tail_state_t *s);

/* The epoch to send with the cursor, or NULL. */
const char *nw_tail_state_epoch(const nw_tail_state_t *s);

/* A subscribed message arrived; epoch is its "epoch" (NULL when absent,
 * which keeps the one known). */
void nw_tail_state_subscribed(nw_tail_state_t *s, const char *epoch);

/* An item message arrived with id and cursor (NULL when absent). The resume
 * cursor becomes cursor, else id. Returns 1 when the item is to be printed,
 * 0 when its id was printed already, -EINVAL when id or cursor is not a
 * wire id (the state is then unchanged). */
int nw_tail_state_item(nw_tail_state_t *s, const char *id, const char *cursor);

/* Counts an item printed; returns the count. */
long nw_tail_state_printed(nw_tail_state_t *s);

typedef enum nw_tail_close {
    NW_TAIL_CLOSE_RECONNECT, /* a drop: reconnect and resume */
    NW_TAIL_CLOSE_FATAL,     /* refused for good: report and exit */
} nw_tail_close_t;

/* What a close with code means (0: the connection ended without a close
 * frame). Restarts, overloads and losses (1000, 1001, 1005, 1006, 1011,
 * 1012, 1013, 1014, none) call for a reconnect, and so does 1002, which is
 * how libwebsockets 4.1 reports 1012-1014 to its clients; token refusals
 * (4001, 4002, 4003, 4008), 4029 and policy or size violations (1003,
 * 1007, 1008, 1009, 1010) are fatal. */
nw_tail_close_t nw_tail_close_action(int code);

/* The delay before reconnect attempt number attempt (0 for the first after
 * a drop): full jitter, uniform in [0, min(cap_ms, base_ms * 2^attempt)],
 * drawn from rnd (a uniform random 64-bit value). */
int nw_tail_backoff_ms(unsigned attempt, int base_ms, int cap_ms, uint64_t rnd);

#endif
