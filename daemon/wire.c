/* Newswire — wire tail: XREAD BLOCK loop, decode, hand-off with
 * backpressure. */
#include "wire.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "history.h"
#include "log.h"

#define NW_WIRE_PAUSE_MS       5 /* recheck interval while the sink is full */
#define NW_WIRE_ERROR_RETRY_MS 1000
#define NW_WIRE_WAIT_MASTER_MS 100 /* the command link is not up yet */
/* Entries delivered last, remembered to compare with the wire after a
 * reconnect; and how many entries at or before the cursor are read back
 * then. Bounds how far a failover's divergence is repaired entry by entry;
 * beyond, the epoch is renewed and resuming clients are told. */
#define NW_WIRE_RING 256

/* One delivered entry: its id and a fingerprint of its uri and version (a
 * new master may reuse the id of an entry it never got for another one). */
typedef struct seen {
    char id[NW_WIRE_ID_MAX];
    uint64_t fp;
} seen_t;

struct nw_wire {
    struct event_base *base;
    nw_redis_t *conn;   /* reads the wire (master or replica) */
    nw_redis_t *master; /* the command link: epoch and first position */
    const nw_config_t *cfg;
    nw_metrics_t *metrics;
    nw_wire_sink_t sink;
    nw_redis_script_t *position;
    char key[96];
    char epoch_key[96];
    char cursor[NW_WIRE_ID_MAX];
    bool live;          /* connection up and position known */
    bool in_flight;     /* an XREAD/XREVRANGE is outstanding */
    int64_t read_at_us; /* when the outstanding XREAD was sent */
    size_t read_count;  /* its COUNT */
    bool paused;        /* waiting for sink room */
    bool renew;         /* the epoch must be renewed on the master */
    bool renewing;      /* that renewal is in flight (on the master link) */
    struct event *retry_ev;
    seen_t ring[NW_WIRE_RING]; /* oldest first */
    size_t nring;
    /* entries at or before this id count as delivered: the start position,
     * then the newest entry that left the ring */
    char floor[NW_WIRE_ID_MAX];
};

static void wire_read(nw_wire_t *w);
static void wire_locate(nw_wire_t *w);
static void wire_resync(nw_wire_t *w);

static void retry_later(nw_wire_t *w, unsigned ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

    evtimer_add(w->retry_ev, &tv);
}

/* True if e is a well-formed stream entry [id, [field, value...]]. */
static bool entry_ok(const redisReply *e)
{
    return e->type == REDIS_REPLY_ARRAY && e->elements == 2 &&
           e->element[0]->type == REDIS_REPLY_STRING && e->element[0]->len < NW_WIRE_ID_MAX &&
           e->element[1]->type == REDIS_REPLY_ARRAY;
}

/* FNV-1a of the entry's uri and version fields. */
static uint64_t entry_fp(const redisReply *e)
{
    const redisReply *f = e->element[1];
    uint64_t h = 14695981039346656037ULL;

    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        const redisReply *k = f->element[i], *v = f->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
            (strcmp(k->str, "uri") != 0 && strcmp(k->str, "version") != 0))
            continue;
        for (size_t j = 0; j <= v->len; j++) /* with the NUL: "a"+"bc" != "ab"+"c" */
            h = (h ^ (unsigned char)v->str[j]) * 1099511628211ULL;
    }
    return h;
}

static void ring_add(nw_wire_t *w, const redisReply *e)
{
    if (w->nring == NW_WIRE_RING) {
        memcpy(w->floor, w->ring[0].id, sizeof(w->floor));
        memmove(w->ring, w->ring + 1, (NW_WIRE_RING - 1) * sizeof(w->ring[0]));
        w->nring--;
    }
    memcpy(w->ring[w->nring].id, e->element[0]->str, e->element[0]->len + 1);
    w->ring[w->nring].fp = entry_fp(e);
    w->nring++;
}

/* True if e was delivered: remembered, or at or before the floor. */
static bool ring_has(const nw_wire_t *w, const redisReply *e)
{
    uint64_t fp = entry_fp(e);

    if (w->floor[0] != '\0' && nw_stream_id_cmp(e->element[0]->str, w->floor) <= 0)
        return true;
    for (size_t i = w->nring; i-- > 0;) {
        if (w->ring[i].fp == fp && strcmp(w->ring[i].id, e->element[0]->str) == 0)
            return true;
    }
    return false;
}

/* Decodes one entry and hands it to the sink (room was checked). An entry
 * that cannot be decoded is skipped, counted and logged. Returns true if
 * one event was pushed. */
static bool push_entry(nw_wire_t *w, const redisReply *e)
{
    nw_event_t *ev;
    nw_err_t err;
    int rc;

    ring_add(w, e);
    rc = nw_event_from_entry(e, &ev, &err);
    if (rc < 0) {
        NW_METRIC_INC(w->metrics->wire_decode_errors);
        nw_log(NW_LOG_ERROR, "wire", "skipping undecodable entry", "id=%s field=%s error=\"%s\"",
               e->element[0]->str, err.field, rc == -ENOMEM ? "out of memory" : err.message);
        return false;
    }
    NW_METRIC_INC(w->metrics->wire_events[ev->kind]);
    w->sink.push(ev, w->sink.arg);
    nw_event_unref(ev);
    return true;
}

/* Hands the entries of one XREAD reply ([[key, [entry...]]]) to the sink;
 * the cursor moves past every entry, decodable or not. */
static void wire_consume(nw_wire_t *w, const redisReply *reply)
{
    const redisReply *entries;
    size_t pushed = 0;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
        reply->element[0]->type != REDIS_REPLY_ARRAY || reply->element[0]->elements != 2)
        return;
    entries = reply->element[0]->element[1];
    if (entries->type != REDIS_REPLY_ARRAY)
        return;
    for (size_t i = 0; i < entries->elements; i++) {
        const redisReply *e = entries->element[i];

        if (!entry_ok(e))
            continue;
        memcpy(w->cursor, e->element[0]->str, e->element[0]->len + 1);
        pushed += push_entry(w, e);
    }
    if (pushed > 0)
        w->sink.flush(w->sink.arg);
}

/* Entries in an XREAD reply. */
static size_t xread_entries(const redisReply *reply)
{
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
        reply->element[0]->type != REDIS_REPLY_ARRAY || reply->element[0]->elements != 2 ||
        reply->element[0]->element[1]->type != REDIS_REPLY_ARRAY)
        return 0;
    return reply->element[0]->element[1]->elements;
}

/* Under load a read answered at once brings one or two events, each costing
 * Redis and every gateway a round: when the answer came within
 * wire_batch_wait with a partial batch, the next read waits that long. A
 * read that blocked longer (a quiet wire) is followed at once, so the first
 * event after a pause is never delayed. */
static bool wire_should_wait(const nw_wire_t *w, const redisReply *reply)
{
    int64_t wait = (int64_t)w->cfg->wire_batch_wait_ms * 1000;
    size_t n = xread_entries(reply);

    return wait > 0 && n > 0 && n < w->read_count && nw_mono_us() - w->read_at_us < wait;
}

static void xread_cb(nw_redis_t *r, redisReply *reply, void *arg)
{
    nw_wire_t *w = arg;
    bool wait;

    w->in_flight = false;
    if (reply == NULL) /* connection lost: the state callback restarts us */
        return;
    if (reply->type == REDIS_REPLY_ERROR) {
        nw_log(NW_LOG_ERROR, "wire", "XREAD failed", "key=%s error=\"%s\"", w->key, reply->str);
        retry_later(w, NW_WIRE_ERROR_RETRY_MS);
        return;
    }
    wait = wire_should_wait(w, reply);
    if (reply->type == REDIS_REPLY_ARRAY)
        wire_consume(w, reply);
    if (wait) {
        NW_METRIC_INC(w->metrics->wire_batch_waits);
        retry_later(w, w->cfg->wire_batch_wait_ms);
    } else {
        wire_read(w);
    }
}

/* Issues the next XREAD BLOCK, or pauses while the sink is full. */
static void wire_read(nw_wire_t *w)
{
    char count[16], block[16];
    const char *argv[] = {"XREAD", "COUNT", count, "BLOCK", block, "STREAMS", w->key, w->cursor};
    size_t lens[NW_ARRAY_LEN(argv)];
    size_t room;
    int rc;

    if (!w->live || w->in_flight)
        return;
    room = w->sink.room(w->sink.arg);
    if (room == 0) {
        if (!w->paused)
            NW_METRIC_INC(w->metrics->wire_backpressure_pauses);
        w->paused = true;
        retry_later(w, NW_WIRE_PAUSE_MS);
        return;
    }
    w->paused = false;
    snprintf(count, sizeof(count), "%zu", NW_MIN(room, (size_t)w->cfg->wire_read_count));
    snprintf(block, sizeof(block), "%u", w->cfg->wire_block_ms);
    for (size_t i = 0; i < NW_ARRAY_LEN(argv); i++)
        lens[i] = strlen(argv[i]);
    rc = nw_redis_command(w->conn, xread_cb, w,
                          w->cfg->wire_block_ms + w->cfg->redis_command_timeout_ms,
                          (int)NW_ARRAY_LEN(argv), argv, lens);
    if (rc == 0) {
        w->in_flight = true;
        w->read_at_us = nw_mono_us();
        w->read_count = NW_MIN(room, (size_t)w->cfg->wire_read_count);
    } else if (rc != -ENOTCONN)
        retry_later(w, NW_WIRE_ERROR_RETRY_MS);
}

/* Starts (or resumes) reading from the cursor. */
static void wire_go_live(nw_wire_t *w, const char *how)
{
    nw_log(NW_LOG_INFO, "wire", how, "key=%s from=%s conn=%s", w->key, w->cursor,
           nw_redis_name(w->conn));
    if (w->sink.position != NULL)
        w->sink.position(w->cursor, w->sink.arg);
    w->live = true;
    wire_read(w);
}

/* True if reply is proto/position.lua's answer (epoch and last id first). */
static bool position_ok(const nw_wire_t *w, const redisReply *reply)
{
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements >= 4 &&
        reply->element[0]->type == REDIS_REPLY_STRING &&
        reply->element[1]->type == REDIS_REPLY_STRING && reply->element[1]->len < sizeof(w->cursor))
        return true;
    nw_log(NW_LOG_ERROR, "wire", "cannot read the wire position", "key=%s error=\"%s\"", w->key,
           reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
    return false;
}

/* The wire's position and epoch from the master (proto/position.lua),
 * at the first start: reading begins after its last id. */
static void position_cb(nw_redis_t *r, redisReply *reply, void *arg)
{
    nw_wire_t *w = arg;

    w->in_flight = false;
    if (reply == NULL || !position_ok(w, reply)) {
        retry_later(w, reply == NULL ? NW_WIRE_WAIT_MASTER_MS : NW_WIRE_ERROR_RETRY_MS);
        return;
    }
    memcpy(w->cursor, reply->element[1]->str, reply->element[1]->len + 1);
    memcpy(w->floor, w->cursor, sizeof(w->floor));
    wire_go_live(w, "tail started");
}

/* Runs proto/position.lua on the master: cb gets the position, and with
 * renew the epoch is replaced first. Returns 0 or a negative errno. */
static int position_ask(nw_wire_t *w, bool renew, nw_redis_reply_cb cb)
{
    char epoch[33];
    const char *argv[] = {w->key, w->epoch_key, epoch, renew ? "renew" : ""};
    size_t lens[NW_ARRAY_LEN(argv)];

    nw_epoch_random(epoch);
    for (size_t i = 0; i < NW_ARRAY_LEN(argv); i++)
        lens[i] = strlen(argv[i]);
    return nw_redis_eval(w->master, w->position, cb, w, 2, (int)NW_ARRAY_LEN(argv), argv, lens);
}

/* The first start position; waits for the command link if it is not up. */
static void wire_locate(nw_wire_t *w)
{
    if (position_ask(w, false, position_cb) == 0)
        w->in_flight = true;
    else
        retry_later(w, NW_WIRE_WAIT_MASTER_MS);
}

static void renew_cb(nw_redis_t *r, redisReply *reply, void *arg)
{
    nw_wire_t *w = arg;

    w->renewing = false;
    if (reply == NULL || !position_ok(w, reply)) {
        retry_later(w, NW_WIRE_WAIT_MASTER_MS); /* retry_cb sends it again */
        return;
    }
    w->renew = false;
    nw_log(NW_LOG_WARN, "wire", "epoch renewed: resuming clients are told history was lost",
           "key=%s epoch=%s", w->key, reply->element[0]->str);
}

/* Renews the epoch on the master, beside reading (its own flag: the
 * master link is not the tail's). */
static void wire_renew(nw_wire_t *w)
{
    if (w->renewing)
        return;
    if (position_ask(w, true, renew_cb) == 0)
        w->renewing = true;
    else
        retry_later(w, NW_WIRE_WAIT_MASTER_MS);
}

/* XREVRANGE wire <cursor> - COUNT NW_WIRE_RING answered: compares the
 * newest entries at or before the cursor on this server with those
 * delivered last. Normally the newest is the cursor itself. After a
 * failover to a replica that missed writes, delivered entries are missing
 * (lost: the epoch is renewed so that resuming clients get recovered:
 * false) and the new master may hold entries we never saw with ids at or
 * before the cursor (its clock behind the old one's): those are delivered
 * now, and reading goes on from the newest entry this server has at or
 * before the cursor, so that nothing it writes next is skipped. */
static void resync_cb(nw_redis_t *r, redisReply *reply, void *arg)
{
    nw_wire_t *w = arg;
    size_t match = SIZE_MAX, missed = 0, lost = 0, kept = 0;
    const char *match_id = NULL;

    w->in_flight = false;
    if (reply == NULL)
        return; /* connection lost: the state callback starts over */
    if (reply->type != REDIS_REPLY_ARRAY) {
        nw_log(NW_LOG_ERROR, "wire", "cannot read the wire back", "key=%s error=\"%s\"", w->key,
               reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
        retry_later(w, NW_WIRE_ERROR_RETRY_MS);
        return;
    }
    for (size_t i = 0; i < reply->elements && match == SIZE_MAX; i++) {
        if (!entry_ok(reply->element[i]))
            continue;
        if (ring_has(w, reply->element[i])) {
            match = i;
            match_id = reply->element[i]->element[0]->str;
        } else {
            missed++;
        }
    }
    if (match == SIZE_MAX)
        match = reply->elements;
    if (missed > 0 && w->sink.room(w->sink.arg) < missed) {
        retry_later(w, NW_WIRE_PAUSE_MS); /* nothing done yet: all again */
        return;
    }
    /* delivered entries this server does not have are lost: forget them */
    for (size_t i = 0; i < w->nring; i++) {
        if (match_id != NULL && nw_stream_id_cmp(w->ring[i].id, match_id) <= 0)
            w->ring[kept++] = w->ring[i];
        else
            lost++;
    }
    w->nring = kept;
    if (missed > 0 || lost > 0) {
        NW_METRIC_INC(w->metrics->wire_resyncs);
        NW_METRIC_ADD(w->metrics->wire_resync_missed, missed);
        nw_log(NW_LOG_WARN, "wire", "the wire differs from what the tail delivered (failover?)",
               "key=%s cursor=%s newest=%s lost=%zu missed=%zu conn=%s", w->key, w->cursor,
               reply->elements > 0 && entry_ok(reply->element[0])
                   ? reply->element[0]->element[0]->str
                   : "none",
               lost, missed, nw_redis_name(w->conn));
        for (size_t i = match; i-- > 0;) { /* the newer than the match, oldest first */
            if (entry_ok(reply->element[i]))
                push_entry(w, reply->element[i]);
        }
        if (missed > 0)
            w->sink.flush(w->sink.arg);
        if (reply->elements > 0 && entry_ok(reply->element[0]))
            memcpy(w->cursor, reply->element[0]->element[0]->str,
                   reply->element[0]->element[0]->len + 1);
        else
            snprintf(w->cursor, sizeof(w->cursor), "0-0");
    }
    if (lost > 0) {
        w->renew = true;
        wire_renew(w);
    }
    wire_go_live(w, missed > 0 || lost > 0 ? "tail resynchronised" : "tail resumed");
}

/* At a reconnect: reads back the newest entries at or before the cursor
 * (see resync_cb). */
static void wire_resync(nw_wire_t *w)
{
    char count[16];
    const char *argv[] = {"XREVRANGE", w->key, w->cursor, "-", "COUNT", count};
    size_t lens[NW_ARRAY_LEN(argv)];

    snprintf(count, sizeof(count), "%d", NW_WIRE_RING);
    for (size_t i = 0; i < NW_ARRAY_LEN(argv); i++)
        lens[i] = strlen(argv[i]);
    if (nw_redis_command(w->conn, resync_cb, w, 0, (int)NW_ARRAY_LEN(argv), argv, lens) == 0)
        w->in_flight = true;
    else
        retry_later(w, NW_WIRE_ERROR_RETRY_MS);
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
    nw_wire_t *w = arg;

    if (w->renew)
        wire_renew(w); /* still owed to the master */
    if (!nw_redis_is_up(w->conn) || w->in_flight)
        return;
    if (w->live)
        wire_read(w);
    else if (w->cursor[0] == '\0')
        wire_locate(w);
    else
        wire_resync(w);
}

static void conn_state_cb(nw_redis_t *r, bool up, void *arg)
{
    nw_wire_t *w = arg;

    w->live = false;
    w->in_flight = false;
    evtimer_del(w->retry_ev);
    if (up && w->cursor[0] == '\0')
        wire_locate(w);
    else if (up)
        wire_resync(w);
    else
        nw_log(NW_LOG_WARN, "wire", "tail interrupted", "key=%s cursor=%s", w->key, w->cursor);
}

nw_wire_t *nw_wire_new(struct event_base *base, nw_redis_t *conn, nw_redis_t *master,
                       const nw_config_t *cfg, nw_metrics_t *metrics, const nw_wire_sink_t *sink,
                       nw_redis_script_t *position)
{
    nw_wire_t *w = calloc(1, sizeof(*w));

    if (w == NULL)
        return NULL;
    w->base = base;
    w->conn = conn;
    w->master = master;
    w->cfg = cfg;
    w->metrics = metrics;
    w->sink = *sink;
    w->position = position;
    snprintf(w->key, sizeof(w->key), "%swire", cfg->redis_prefix);
    snprintf(w->epoch_key, sizeof(w->epoch_key), "%sepoch", cfg->redis_prefix);
    w->retry_ev = evtimer_new(base, retry_cb, w);
    if (w->retry_ev == NULL) {
        free(w);
        return NULL;
    }
    nw_redis_set_state_cb(conn, conn_state_cb, w);
    return w;
}

bool nw_wire_epoch_owed(const nw_wire_t *w)
{
    return w->renew;
}

bool nw_wire_is_live(const nw_wire_t *w)
{
    /* after a failover lost entries, the epoch must be renewed before the
     * wire's position can be trusted by resuming clients */
    return w->live && !w->renew;
}

const char *nw_wire_cursor(const nw_wire_t *w)
{
    return w->cursor;
}

void nw_wire_free(nw_wire_t *w)
{
    if (w == NULL)
        return;
    event_free(w->retry_ev);
    free(w);
}
