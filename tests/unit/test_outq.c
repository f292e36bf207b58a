/* Unit tests for daemon/outq.c: FIFO order, byte accounting, the urgency
 * overflow policy in each branch, reference counts, ring growth with
 * wrap-around, and a randomized run against a simple model. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "outq.h"

#define NOLIMIT ((size_t)-1)

/* A frame of len bytes (len >= 4) carrying id in its first bytes. The test
 * keeps this first reference, so refs == 1 means "not held by the queue". */
static nw_frame_t *frame_new(int id, size_t len, int urgency)
{
    nw_frame_t *f = nw_frame_alloc(len, NW_FORMAT_JSON, urgency);

    assert_non_null(f);
    assert_true(len >= sizeof(id));
    assert_int_equal(f->refs, 1);
    memcpy(f->payload, &id, sizeof(id));
    return f;
}

static int frame_id(const nw_frame_t *f)
{
    int id;

    memcpy(&id, f->payload, sizeof(id));
    return id;
}

/* Records the drop callbacks of one or more pushes. */
typedef struct drops {
    int urgency[64];
    int n;
} drops_t;

static void drop_cb(int urgency, void *arg)
{
    drops_t *d = arg;

    assert_true(d->n < 64);
    d->urgency[d->n++] = urgency;
}

static nw_outq_result_t push(nw_outq_t *q, nw_frame_t *f, size_t limit, drops_t *d)
{
    return nw_outq_push(q, f, limit, drop_cb, d);
}

/* Asserts the live frames of q, oldest first, are ids[0..n) (without
 * popping: the ring is part of the header). */
static void assert_queue(const nw_outq_t *q, const int *ids, size_t n)
{
    size_t k = 0, bytes = 0;

    for (uint32_t i = 0; i < q->count; i++) {
        const nw_frame_t *f = q->ring[(q->head + i) & (q->cap - 1)].frame;
        if (f == NULL)
            continue;
        if (k >= n || frame_id(f) != ids[k])
            fail_msg("queue entry %zu is frame %d, wanted %d", k, frame_id(f), k < n ? ids[k] : -1);
        bytes += f->len;
        k++;
    }
    assert_int_equal(k, n);
    assert_int_equal(q->live, n);
    assert_int_equal(q->bytes, bytes);
}

static void test_outq_fifo(void **state)
{
    nw_outq_t q;
    nw_frame_t *f[5];

    (void)state;
    nw_outq_init(&q);
    assert_true(nw_outq_empty(&q));
    assert_null(nw_outq_pop(&q));
    for (int i = 0; i < 5; i++) {
        f[i] = frame_new(i, 10, 1 + 2 * i);
        assert_int_equal(nw_outq_push(&q, f[i], NOLIMIT, NULL, NULL), NW_OUTQ_OK);
        assert_false(nw_outq_empty(&q));
    }
    for (int i = 0; i < 5; i++) {
        nw_frame_t *p = nw_outq_pop(&q);
        assert_ptr_equal(p, f[i]);
        assert_int_equal(p->refs, 2); /* ours and the one pop handed over */
        nw_frame_unref(p);
        nw_frame_unref(f[i]);
    }
    assert_true(nw_outq_empty(&q));
    assert_null(nw_outq_pop(&q));
    nw_outq_clear(&q);
}

static void test_outq_bytes(void **state)
{
    nw_outq_t q;
    nw_frame_t *a = frame_new(1, 100, 5), *b = frame_new(2, 250, 1), *c = frame_new(3, 7, 0);
    nw_frame_t *p;

    (void)state;
    nw_outq_init(&q);
    assert_int_equal(q.bytes, 0);
    assert_int_equal(nw_outq_push(&q, a, NOLIMIT, NULL, NULL), NW_OUTQ_OK);
    assert_int_equal(q.bytes, 100);
    assert_int_equal(nw_outq_push(&q, b, NOLIMIT, NULL, NULL), NW_OUTQ_OK);
    assert_int_equal(nw_outq_push(&q, c, NOLIMIT, NULL, NULL), NW_OUTQ_OK);
    assert_int_equal(q.bytes, 357);
    assert_int_equal(q.live, 3);
    p = nw_outq_pop(&q);
    nw_frame_unref(p);
    assert_int_equal(q.bytes, 257);
    assert_int_equal(q.live, 2);
    nw_outq_clear(&q);
    assert_int_equal(q.bytes, 0);
    assert_int_equal(q.live, 0);
    assert_true(nw_outq_empty(&q));
    nw_frame_unref(a);
    nw_frame_unref(b);
    nw_frame_unref(c);
}

/* A push that fits exactly is not a drop. */
static void test_outq_exact_fit(void **state)
{
    nw_outq_t q;
    nw_frame_t *a = frame_new(1, 60, 9), *b = frame_new(2, 40, 9);
    drops_t d = {.n = 0};
    int want[] = {1, 2};

    (void)state;
    nw_outq_init(&q);
    assert_int_equal(push(&q, a, 100, &d), NW_OUTQ_OK);
    assert_int_equal(push(&q, b, 100, &d), NW_OUTQ_OK);
    assert_int_equal(d.n, 0);
    assert_queue(&q, want, 2);
    nw_outq_clear(&q);
    nw_frame_unref(a);
    nw_frame_unref(b);
}

/* Room is made by dropping the least urgent items, oldest first within an
 * urgency; each drop is reported with its urgency and releases the queue's
 * reference. */
static void test_outq_drops_least_urgent_oldest_first(void **state)
{
    static const int urg[] = {5, 9, 7, 9, 8, 3, 4};
    nw_outq_t q;
    nw_frame_t *f[9];
    drops_t d = {.n = 0};

    (void)state;
    nw_outq_init(&q);
    for (int i = 0; i < 7; i++) {
        f[i] = frame_new(i, 100, urg[i]);
        assert_int_equal(push(&q, f[i], 700, &d), NW_OUTQ_OK);
    }
    assert_int_equal(d.n, 0);

    /* 100 bytes needed: the oldest urgency-9 item (1) goes */
    f[7] = frame_new(7, 100, 4);
    assert_int_equal(push(&q, f[7], 700, &d), NW_OUTQ_OK);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.urgency[0], 9);
    assert_int_equal(f[1]->refs, 1);
    {
        const int want[] = {0, 2, 3, 4, 5, 6, 7};
        assert_queue(&q, want, NW_ARRAY_LEN(want));
    }

    /* 300 bytes for a bulletin: the other 9 (3), then 8 (4), then 7 (2) */
    d.n = 0;
    f[8] = frame_new(8, 300, 2);
    assert_int_equal(push(&q, f[8], 700, &d), NW_OUTQ_OK);
    assert_int_equal(d.n, 3);
    assert_int_equal(d.urgency[0], 9);
    assert_int_equal(d.urgency[1], 8);
    assert_int_equal(d.urgency[2], 7);
    assert_int_equal(f[3]->refs, 1);
    assert_int_equal(f[4]->refs, 1);
    assert_int_equal(f[2]->refs, 1);
    {
        const int want[] = {0, 5, 6, 7, 8};
        assert_queue(&q, want, NW_ARRAY_LEN(want));
    }
    assert_int_equal(q.bytes, 700);
    assert_int_equal(f[0]->refs, 2);
    assert_int_equal(f[8]->refs, 2);
    nw_outq_clear(&q);
    for (int i = 0; i < 9; i++) {
        assert_int_equal(f[i]->refs, 1);
        nw_frame_unref(f[i]);
    }
}

/* An item less urgent than every droppable queued item is itself dropped:
 * reported, not queued, no reference kept; the queue is untouched. */
static void test_outq_drops_new_when_less_urgent(void **state)
{
    nw_outq_t q;
    nw_frame_t *f[3], *low = frame_new(10, 100, 6), *lowest = frame_new(11, 4, 9);
    drops_t d = {.n = 0};
    const int want[] = {0, 1, 2};

    (void)state;
    nw_outq_init(&q);
    for (int i = 0; i < 3; i++) {
        f[i] = frame_new(i, 100, 3 + i); /* urgencies 3, 4, 5 */
        assert_int_equal(push(&q, f[i], 300, &d), NW_OUTQ_OK);
    }
    assert_int_equal(push(&q, low, 300, &d), NW_OUTQ_OK);
    assert_int_equal(push(&q, lowest, 300, &d), NW_OUTQ_OK);
    assert_int_equal(d.n, 2);
    assert_int_equal(d.urgency[0], 6);
    assert_int_equal(d.urgency[1], 9);
    assert_int_equal(low->refs, 1);
    assert_int_equal(lowest->refs, 1);
    assert_queue(&q, want, 3);
    nw_outq_clear(&q);
    for (int i = 0; i < 3; i++)
        nw_frame_unref(f[i]);
    nw_frame_unref(low);
    nw_frame_unref(lowest);
}

/* At equal urgency the oldest queued item goes, not the new one. */
static void test_outq_equal_urgency_drops_oldest(void **state)
{
    nw_outq_t q;
    nw_frame_t *f[4];
    drops_t d = {.n = 0};

    (void)state;
    nw_outq_init(&q);
    for (int i = 0; i < 4; i++)
        f[i] = frame_new(i, 100, 6);
    for (int i = 0; i < 3; i++)
        assert_int_equal(push(&q, f[i], 300, &d), NW_OUTQ_OK);
    assert_int_equal(push(&q, f[3], 300, &d), NW_OUTQ_OK);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.urgency[0], 6);
    assert_int_equal(f[0]->refs, 1);
    {
        const int want[] = {1, 2, 3};
        assert_queue(&q, want, 3);
    }
    nw_outq_clear(&q);
    for (int i = 0; i < 4; i++)
        nw_frame_unref(f[i]);
}

/* Flashes, bulletins and control frames are never dropped: with only them
 * queued, a push of any of them reports NW_OUTQ_OVERFLOW and queues nothing,
 * while a droppable item is itself dropped. */
static void test_outq_never_drops_urgent_or_control(void **state)
{
    nw_outq_t q;
    nw_frame_t *f[3], *flash = frame_new(10, 100, 1), *bulletin = frame_new(11, 100, 2);
    nw_frame_t *control = frame_new(12, 100, NW_URGENCY_CONTROL), *routine = frame_new(13, 100, 3);
    nw_frame_t *p;
    drops_t d = {.n = 0};
    const int want[] = {0, 1, 2};

    (void)state;
    nw_outq_init(&q);
    f[0] = frame_new(0, 100, 1);
    f[1] = frame_new(1, 100, NW_URGENCY_CONTROL);
    f[2] = frame_new(2, 100, 2);
    for (int i = 0; i < 3; i++)
        assert_int_equal(push(&q, f[i], 300, &d), NW_OUTQ_OK);
    assert_int_equal(push(&q, flash, 300, &d), NW_OUTQ_OVERFLOW);
    assert_int_equal(push(&q, bulletin, 300, &d), NW_OUTQ_OVERFLOW);
    assert_int_equal(push(&q, control, 300, &d), NW_OUTQ_OVERFLOW);
    assert_int_equal(d.n, 0);
    assert_int_equal(flash->refs, 1);
    assert_int_equal(bulletin->refs, 1);
    assert_int_equal(control->refs, 1);
    assert_queue(&q, want, 3);

    assert_int_equal(push(&q, routine, 300, &d), NW_OUTQ_OK);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.urgency[0], 3);
    assert_int_equal(routine->refs, 1);
    assert_queue(&q, want, 3);

    /* once the client drains one, the flash fits */
    p = nw_outq_pop(&q);
    assert_ptr_equal(p, f[0]);
    nw_frame_unref(p);
    assert_int_equal(push(&q, flash, 300, &d), NW_OUTQ_OK);
    assert_int_equal(flash->refs, 2);
    nw_outq_clear(&q);
    for (int i = 0; i < 3; i++)
        nw_frame_unref(f[i]);
    nw_frame_unref(flash);
    nw_frame_unref(bulletin);
    nw_frame_unref(control);
    nw_frame_unref(routine);
}

/* A flash makes room by dropping routine items around the urgent ones. */
static void test_outq_flash_drops_routine(void **state)
{
    nw_outq_t q;
    nw_frame_t *f[4], *flash = frame_new(10, 150, 1);
    drops_t d = {.n = 0};
    const int want[] = {0, 2, 10};

    (void)state;
    nw_outq_init(&q);
    f[0] = frame_new(0, 100, 1);
    f[1] = frame_new(1, 100, 5);
    f[2] = frame_new(2, 100, NW_URGENCY_CONTROL);
    f[3] = frame_new(3, 100, 5);
    for (int i = 0; i < 4; i++)
        assert_int_equal(push(&q, f[i], 400, &d), NW_OUTQ_OK);
    assert_int_equal(push(&q, flash, 400, &d), NW_OUTQ_OK);
    assert_int_equal(d.n, 2);
    assert_int_equal(d.urgency[0], 5);
    assert_int_equal(d.urgency[1], 5);
    assert_queue(&q, want, 3);
    assert_int_equal(q.bytes, 350);
    nw_outq_clear(&q);
    for (int i = 0; i < 4; i++)
        nw_frame_unref(f[i]);
    nw_frame_unref(flash);
}

/* A frame larger than the whole bound is taken by an empty queue, whatever
 * its urgency (it can only ever be sent alone); behind another frame it is
 * dropped when droppable, and overflows otherwise. A NULL drop callback is
 * allowed. */
static void test_outq_oversized(void **state)
{
    nw_outq_t q;
    nw_frame_t *routine = frame_new(1, 100, 5), *flash = frame_new(2, 100, 1);
    nw_frame_t *control = frame_new(3, 100, NW_URGENCY_CONTROL);
    drops_t d = {.n = 0};

    (void)state;
    nw_outq_init(&q);
    assert_int_equal(push(&q, control, 50, &d), NW_OUTQ_OK);
    assert_int_equal(d.n, 0);
    assert_int_equal(q.bytes, 100);
    assert_int_equal(push(&q, routine, 50, &d), NW_OUTQ_OK);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.urgency[0], 5);
    assert_int_equal(nw_outq_push(&q, routine, 50, NULL, NULL), NW_OUTQ_OK);
    assert_int_equal(push(&q, flash, 50, &d), NW_OUTQ_OVERFLOW);
    assert_int_equal(d.n, 1);
    assert_int_equal(q.bytes, 100);
    assert_int_equal(routine->refs, 1);
    assert_int_equal(flash->refs, 1);
    assert_int_equal(control->refs, 2);
    assert_ptr_equal(nw_outq_pop(&q), control);
    nw_frame_unref(control);
    assert_true(nw_outq_empty(&q));
    assert_int_equal(push(&q, flash, 50, &d), NW_OUTQ_OK);
    assert_int_equal(flash->refs, 2);
    assert_int_equal(q.bytes, 100);
    nw_outq_clear(&q);
    assert_int_equal(flash->refs, 1);
    nw_frame_unref(routine);
    nw_frame_unref(flash);
    nw_frame_unref(control);
}

/* The queue holds one reference per entry and gives each back: on drop, on
 * pop (to the caller) and on clear. */
static void test_outq_refcounts(void **state)
{
    nw_outq_t q;
    nw_frame_t *shared = frame_new(1, 100, 7), *urgent = frame_new(2, 100, 1), *p;
    drops_t d = {.n = 0};

    (void)state;
    nw_outq_init(&q);
    for (int i = 0; i < 3; i++)
        assert_int_equal(push(&q, shared, 300, &d), NW_OUTQ_OK);
    assert_int_equal(shared->refs, 4);
    p = nw_outq_pop(&q);
    assert_ptr_equal(p, shared);
    assert_int_equal(shared->refs, 4);
    nw_frame_unref(p);
    assert_int_equal(shared->refs, 3);
    assert_int_equal(push(&q, urgent, 300, &d), NW_OUTQ_OK);
    assert_int_equal(d.n, 0);
    assert_int_equal(push(&q, urgent, 300, &d), NW_OUTQ_OK); /* drops one shared */
    assert_int_equal(d.n, 1);
    assert_int_equal(shared->refs, 2);
    assert_int_equal(urgent->refs, 3);
    nw_outq_clear(&q);
    assert_int_equal(shared->refs, 1);
    assert_int_equal(urgent->refs, 1);
    nw_outq_clear(&q); /* clearing an empty queue is fine */
    nw_frame_unref(shared);
    nw_frame_unref(urgent);

    /* frames handed over to the queue alone are freed by it (ASan) */
    nw_outq_init(&q);
    for (int i = 0; i < 20; i++) {
        nw_frame_t *f = frame_new(i, 50, 3 + i % 7);
        assert_int_equal(push(&q, f, 500, &d), NW_OUTQ_OK);
        nw_frame_unref(f);
    }
    p = nw_outq_pop(&q);
    assert_int_equal(p->refs, 1);
    nw_frame_unref(p);
    nw_outq_clear(&q);
}

/* Drops in the middle of a wrapped ring, then growth while the head is not
 * at slot 0 and dropped slots are still inside: order is kept. */
static void test_outq_ring_wrap_and_growth(void **state)
{
    static const int urg[] = {1, 9, 1, 8, 1, 9, 1}; /* ids 6..12 */
    nw_outq_t q;
    nw_frame_t *f[20], *p;
    drops_t d = {.n = 0};
    const int want[] = {5, 6, 8, 10, 12, 13, 14, 15, 16, 17, 18, 19};

    (void)state;
    nw_outq_init(&q);
    for (int i = 0; i < 6; i++) {
        f[i] = frame_new(i, 10, 1);
        assert_int_equal(push(&q, f[i], NOLIMIT, &d), NW_OUTQ_OK);
    }
    for (int i = 0; i < 5; i++) {
        p = nw_outq_pop(&q);
        assert_ptr_equal(p, f[i]);
        nw_frame_unref(p);
    }
    for (int i = 6; i < 13; i++) {
        f[i] = frame_new(i, 10, urg[i - 6]);
        assert_int_equal(push(&q, f[i], NOLIMIT, &d), NW_OUTQ_OK);
    }
    /* 8 entries; each new flash under an 80-byte bound drops one in place */
    for (int i = 13; i < 16; i++) {
        f[i] = frame_new(i, 10, 1);
        assert_int_equal(push(&q, f[i], 80, &d), NW_OUTQ_OK);
    }
    assert_int_equal(d.n, 3);
    assert_int_equal(d.urgency[0], 9);
    assert_int_equal(d.urgency[1], 9);
    assert_int_equal(d.urgency[2], 8);
    for (int i = 16; i < 20; i++) {
        f[i] = frame_new(i, 10, 2);
        assert_int_equal(push(&q, f[i], NOLIMIT, &d), NW_OUTQ_OK);
    }
    assert_true(q.cap >= 16);
    assert_queue(&q, want, NW_ARRAY_LEN(want));
    for (size_t k = 0; k < NW_ARRAY_LEN(want); k++) {
        p = nw_outq_pop(&q);
        assert_non_null(p);
        assert_int_equal(frame_id(p), want[k]);
        nw_frame_unref(p);
    }
    assert_null(nw_outq_pop(&q));
    assert_int_equal(q.bytes, 0);
    nw_outq_clear(&q);
    for (int i = 0; i < 20; i++) {
        assert_int_equal(f[i]->refs, 1);
        nw_frame_unref(f[i]);
    }
}

/* Slots of items dropped in place behind a live head are reclaimed: with a
 * stalled client whose oldest frame is not droppable (here a control frame)
 * and routine items replacing each other behind it, the ring stays about
 * the size of what is live ("every queue is bounded", STYLE.md). */
static void test_outq_dropped_slots_reclaimed(void **state)
{
    enum { PUSHES = 20000 };
    nw_outq_t q;
    nw_frame_t *hello = frame_new(-1, 10, NW_URGENCY_CONTROL);
    unsigned drops = 0;
    uint32_t cap, count;

    (void)state;
    nw_outq_init(&q);
    assert_int_equal(nw_outq_push(&q, hello, 100, NULL, NULL), NW_OUTQ_OK);
    nw_frame_unref(hello);
    for (int i = 0; i < PUSHES; i++) {
        nw_frame_t *f = frame_new(i, 10, 5);
        drops_t d = {.n = 0};
        assert_int_equal(push(&q, f, 100, &d), NW_OUTQ_OK);
        drops += (unsigned)d.n;
        nw_frame_unref(f);
    }
    assert_int_equal(drops, PUSHES - 9);
    assert_int_equal(q.live, 10);
    assert_int_equal(q.bytes, 100);
    cap = q.cap;
    count = q.count;
    nw_outq_clear(&q); /* before asserting, so a failure leaks nothing */
    if (cap > 64)
        fail_msg("ring of %u slots (%u entries) for 10 live frames", cap, count);
}

/* The model: live items oldest first, and the policy as the header states
 * it — drop the least urgent droppable item (3..9), oldest first, the new
 * item counting as the newest, until the new one fits or is dropped. */
typedef struct model {
    nw_frame_t *item[4096];
    size_t n, bytes;
} model_t;

/* Removes item i and drops the model's reference to it. */
static void model_remove(model_t *m, size_t i)
{
    nw_frame_t *f = m->item[i];

    m->bytes -= f->len;
    memmove(&m->item[i], &m->item[i + 1], (m->n - i - 1) * sizeof(m->item[0]));
    m->n--;
    nw_frame_unref(f);
}

static nw_outq_result_t model_push(model_t *m, nw_frame_t *f, size_t limit, drops_t *d)
{
    while (m->n > 0 && m->bytes + f->len > limit) {
        size_t victim = SIZE_MAX;
        for (size_t i = 0; i < m->n; i++) {
            int u = m->item[i]->urgency;
            if (u >= 3 && (victim == SIZE_MAX || u > m->item[victim]->urgency))
                victim = i;
        }
        if (f->urgency >= 3 && (victim == SIZE_MAX || f->urgency > m->item[victim]->urgency)) {
            d->urgency[d->n++] = f->urgency;
            return NW_OUTQ_OK;
        }
        if (victim == SIZE_MAX)
            return NW_OUTQ_OVERFLOW;
        d->urgency[d->n++] = m->item[victim]->urgency;
        model_remove(m, victim);
    }
    m->item[m->n++] = nw_frame_ref(f);
    m->bytes += f->len;
    return NW_OUTQ_OK;
}

static void test_outq_random_model(void **state)
{
    enum { STEPS = 30000, LIMIT = 1500 };
    static model_t m;
    nw_outq_t q;
    unsigned seed = 4242;
    unsigned overflows = 0, new_dropped = 0, queued_dropped = 0, pops = 0;

    (void)state;
    memset(&m, 0, sizeof(m));
    nw_outq_init(&q);
    for (int step = 0; step < STEPS; step++) {
        int r = rand_r(&seed) % 100;

        if (r < 35) {
            nw_frame_t *want = m.n ? m.item[0] : NULL;
            nw_frame_t *p = nw_outq_pop(&q);
            assert_ptr_equal(p, want);
            if (p != NULL) {
                pops++;
                model_remove(&m, 0);
                nw_frame_unref(p);
            }
        } else {
            /* urgencies: mostly routine, some flashes and control frames */
            int u = rand_r(&seed) % 12;
            nw_frame_t *f = frame_new(step, 4 + (size_t)(rand_r(&seed) % 300), u > 9 ? 0 : u);
            drops_t got = {.n = 0}, want = {.n = 0};
            nw_outq_result_t wr = model_push(&m, f, LIMIT, &want);
            nw_outq_result_t gr = push(&q, f, LIMIT, &got);

            assert_int_equal(gr, wr);
            assert_int_equal(got.n, want.n);
            for (int i = 0; i < got.n; i++)
                assert_int_equal(got.urgency[i], want.urgency[i]);
            overflows += gr == NW_OUTQ_OVERFLOW;
            new_dropped += gr == NW_OUTQ_OK && f->refs == 1;
            queued_dropped += (unsigned)got.n - (gr == NW_OUTQ_OK && f->refs == 1);
            nw_frame_unref(f);
        }
        assert_true(q.bytes <= LIMIT);
        assert_int_equal(q.bytes, m.bytes);
        assert_int_equal(q.live, m.n);
        if (step % 97 == 0) {
            for (size_t i = 0; i < m.n; i++) /* the model's ref and the queue's */
                assert_int_equal(m.item[i]->refs, 2);
            {
                int ids[4096];
                for (size_t i = 0; i < m.n; i++)
                    ids[i] = frame_id(m.item[i]);
                assert_queue(&q, ids, m.n);
            }
        }
    }
    /* every branch of the policy was taken, many times */
    assert_true(overflows > 100);
    assert_true(new_dropped > 100);
    assert_true(queued_dropped > 100);
    assert_true(pops > 1000);
    nw_outq_clear(&q);
    for (size_t i = 0; i < m.n; i++) {
        assert_int_equal(m.item[i]->refs, 1);
        nw_frame_unref(m.item[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outq_fifo),
        cmocka_unit_test(test_outq_bytes),
        cmocka_unit_test(test_outq_exact_fit),
        cmocka_unit_test(test_outq_drops_least_urgent_oldest_first),
        cmocka_unit_test(test_outq_drops_new_when_less_urgent),
        cmocka_unit_test(test_outq_equal_urgency_drops_oldest),
        cmocka_unit_test(test_outq_never_drops_urgent_or_control),
        cmocka_unit_test(test_outq_flash_drops_routine),
        cmocka_unit_test(test_outq_oversized),
        cmocka_unit_test(test_outq_refcounts),
        cmocka_unit_test(test_outq_ring_wrap_and_growth),
        cmocka_unit_test(test_outq_dropped_slots_reclaimed),
        cmocka_unit_test(test_outq_random_model),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
