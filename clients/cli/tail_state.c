/* Newswire command — tail's resume state (see tail_state.h). */
#include "tail_state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "op.h"

typedef struct wire_id {
    uint64_t ms, seq;
} wire_id_t;

struct nw_tail_state {
    char cursor[NW_TAIL_ID_MAX];
    char epoch[NW_TAIL_EPOCH_MAX];
    wire_id_t seen[NW_TAIL_SEEN_MAX]; /* ring of printed ids */
    size_t nseen, next;
    wire_id_t max; /* highest id printed */
    long printed;
};

/* Parses "<ms>-<seq>" (digits); returns 0 or -EINVAL. */
static int id_parse(const char *s, wire_id_t *id)
{
    char *end;

    if (s == NULL || strlen(s) >= NW_TAIL_ID_MAX || !nw_op_cursor_valid(s))
        return -EINVAL;
    errno = 0;
    id->ms = strtoull(s, &end, 10);
    if (errno != 0 || *end != '-')
        return -EINVAL;
    id->seq = strtoull(end + 1, &end, 10);
    if (errno != 0 || *end != '\0')
        return -EINVAL;
    return 0;
}

static int id_cmp(wire_id_t a, wire_id_t b)
{
    if (a.ms != b.ms)
        return a.ms < b.ms ? -1 : 1;
    return a.seq < b.seq ? -1 : a.seq > b.seq;
}

nw_tail_state_t *nw_tail_state_new(const char *since, const char *epoch)
{
    nw_tail_state_t *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    if (since != NULL)
        snprintf(s->cursor, sizeof(s->cursor), "%s", since);
    if (epoch != NULL)
        snprintf(s->epoch, sizeof(s->epoch), "%s", epoch);
    return s;
}

void nw_tail_state_free(nw_tail_state_t *s)
{
    free(s);
}

const char *nw_tail_state_cursor(const nw_tail_state_t *s)
{
    return s->cursor[0] ? s->cursor : NULL;
}

const char *nw_tail_state_epoch(const nw_tail_state_t *s)
{
    return s->epoch[0] ? s->epoch : NULL;
}

void nw_tail_state_subscribed(nw_tail_state_t *s, const char *epoch)
{
    if (epoch != NULL && nw_op_epoch_valid(epoch) && strlen(epoch) < sizeof(s->epoch))
        snprintf(s->epoch, sizeof(s->epoch), "%s", epoch);
}

/* True when id was printed: above the highest printed it cannot have been;
 * below, the ring tells. */
static bool seen(const nw_tail_state_t *s, wire_id_t id)
{
    if (s->nseen == 0 || id_cmp(id, s->max) > 0)
        return false;
    for (size_t i = 0; i < s->nseen; i++) {
        if (id_cmp(s->seen[i], id) == 0)
            return true;
    }
    return false;
}

int nw_tail_state_item(nw_tail_state_t *s, const char *id, const char *cursor)
{
    wire_id_t wid, wcur;
    bool fresh;

    if (id_parse(id, &wid) < 0 || (cursor != NULL && id_parse(cursor, &wcur) < 0))
        return -EINVAL;
    snprintf(s->cursor, sizeof(s->cursor), "%s", cursor ? cursor : id);
    fresh = !seen(s, wid);
    if (fresh) {
        s->seen[s->next] = wid;
        s->next = (s->next + 1) % NW_TAIL_SEEN_MAX;
        if (s->nseen < NW_TAIL_SEEN_MAX)
            s->nseen++;
        if (s->nseen == 1 || id_cmp(wid, s->max) > 0)
            s->max = wid;
    }
    return fresh ? 1 : 0;
}

long nw_tail_state_printed(nw_tail_state_t *s)
{
    return ++s->printed;
}

nw_tail_close_t nw_tail_close_action(int code)
{
    switch (code) {
    case 0:    /* no close frame: the connection was lost */
    case 1000: /* normal closure: the server ended the session */
    case 1001: /* going away */
    case 1002: /* libwebsockets up to 4.1 reports 1012, 1013 and 1014 as 1002;
                * a real protocol error would be ours, and a new session
                * starts clean */
    case 1005: /* no status code in the close frame */
    case 1006: /* abnormal closure */
    case 1011: /* server error (out of memory) */
    case 1012: /* service restart */
    case 1013: /* try again later: slow consumer, busy, history unavailable */
    case 1014: /* bad gateway (a proxy) */
        return NW_TAIL_CLOSE_RECONNECT;
    default:
        return NW_TAIL_CLOSE_FATAL;
    }
}

int nw_tail_backoff_ms(unsigned attempt, int base_ms, int cap_ms, uint64_t rnd)
{
    int64_t ceiling = base_ms;

    for (unsigned i = 0; i < attempt && ceiling < cap_ms; i++)
        ceiling *= 2;
    ceiling = NW_MIN(ceiling, (int64_t)cap_ms);
    if (ceiling <= 0)
        return 0;
    return (int)(rnd % (uint64_t)(ceiling + 1));
}
