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

struct nw_wire {
    struct event_base *base;
    nw_redis_t *conn;
    const nw_config_t *cfg;
    nw_metrics_t *metrics;
    nw_wire_sink_t sink;
    nw_redis_script_t *position;
    char key[96];
    char epoch_key[96];
    char cursor[NW_WIRE_ID_MAX];
    bool live;      /* connection up and position known */
    bool in_flight; /* an XREAD/XREVRANGE is outstanding */
    bool paused;    /* waiting for sink room */
    struct event *retry_ev;
};

static void wire_read(nw_wire_t *w);
static void wire_locate(nw_wire_t *w, bool renew);

static void retry_later(nw_wire_t *w, unsigned ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

    evtimer_add(w->retry_ev, &tv);
}

/* Decodes the entries of one XREAD reply ([[key, [entry...]]]) and hands
 * them to the sink. Entries that cannot be decoded are skipped, counted and
 * logged: the cursor still moves past them. */
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
        nw_event_t *ev;
        nw_err_t err;
        int rc;

        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            e->element[0]->type != REDIS_REPLY_STRING || e->element[0]->len >= sizeof(w->cursor))
            continue;
        memcpy(w->cursor, e->element[0]->str, e->element[0]->len + 1);
        rc = nw_event_from_entry(e, &ev, &err);
        if (rc < 0) {
            NW_METRIC_INC(w->metrics->wire_decode_errors);
            nw_log(NW_LOG_ERROR, "wire", "skipping undecodable entry",
                   "id=%s field=%s error=\"%s\"", w->cursor, err.field,
                   rc == -ENOMEM ? "out of memory" : err.message);
            continue;
        }
        NW_METRIC_INC(w->metrics->wire_events[ev->kind]);
        w->sink.push(ev, w->sink.arg);
        nw_event_unref(ev);
        pushed++;
    }
    if (pushed > 0)
        w->sink.flush(w->sink.arg);
}

static void xread_cb(nw_redis_t *r, redisReply *reply, void *arg)
{
    nw_wire_t *w = arg;

    w->in_flight = false;
    if (reply == NULL) /* connection lost: the state callback restarts us */
        return;
    if (reply->type == REDIS_REPLY_ERROR) {
        nw_log(NW_LOG_ERROR, "wire", "XREAD failed", "key=%s error=\"%s\"", w->key, reply->str);
        retry_later(w, NW_WIRE_ERROR_RETRY_MS);
        return;
    }
    if (reply->type == REDIS_REPLY_ARRAY)
        wire_consume(w, reply);
    wire_read(w);
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
    if (rc == 0)
        w->in_flight = true;
    else if (rc != -ENOTCONN)
        retry_later(w, NW_WIRE_ERROR_RETRY_MS);
}

/* The wire's position and epoch, read at each (re)connect: the start
 * position the first time; afterwards a check that Redis did not lose
 * entries we have already delivered (its last id is then behind our cursor:
 * the history was lost, so the epoch is renewed and the tail follows the
 * wire rather than wait for its ids to catch up). */
static void position_cb(nw_redis_t *r, redisReply *reply, void *arg)
{
    nw_wire_t *w = arg;
    const char *last;

    w->in_flight = false;
    if (reply == NULL)
        return;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 4 ||
        reply->element[1]->type != REDIS_REPLY_STRING) {
        nw_log(NW_LOG_ERROR, "wire", "cannot read the wire position", "key=%s error=\"%s\"", w->key,
               reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
        retry_later(w, NW_WIRE_ERROR_RETRY_MS);
        return;
    }
    last = reply->element[1]->str;
    if (w->cursor[0] == '\0') {
        snprintf(w->cursor, sizeof(w->cursor), "%s", last);
        nw_log(NW_LOG_INFO, "wire", "tail started", "key=%s from=%s", w->key, w->cursor);
    } else if (nw_stream_id_cmp(last, w->cursor) < 0) {
        nw_log(NW_LOG_WARN, "wire", "wire is behind the tail cursor: Redis lost entries",
               "key=%s cursor=%s last=%s", w->key, w->cursor, last);
        snprintf(w->cursor, sizeof(w->cursor), "%s", last);
        wire_locate(w, true);
        return;
    } else {
        nw_log(NW_LOG_INFO, "wire", "tail resumed", "key=%s from=%s", w->key, w->cursor);
    }
    if (w->sink.position != NULL)
        w->sink.position(w->cursor, w->sink.arg);
    w->live = true;
    wire_read(w);
}

/* Reads the wire position (renewing the epoch when history was lost). */
static void wire_locate(nw_wire_t *w, bool renew)
{
    char epoch[33];
    const char *argv[] = {w->key, w->epoch_key, epoch, renew ? "renew" : ""};
    size_t lens[NW_ARRAY_LEN(argv)];

    nw_epoch_random(epoch);
    for (size_t i = 0; i < NW_ARRAY_LEN(argv); i++)
        lens[i] = strlen(argv[i]);
    if (nw_redis_eval(w->conn, w->position, position_cb, w, 2, (int)NW_ARRAY_LEN(argv), argv,
                      lens) == 0)
        w->in_flight = true;
    else
        retry_later(w, NW_WIRE_ERROR_RETRY_MS);
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
    nw_wire_t *w = arg;

    if (!nw_redis_is_up(w->conn) || w->in_flight)
        return;
    if (w->live)
        wire_read(w);
    else
        wire_locate(w, false);
}

static void conn_state_cb(nw_redis_t *r, bool up, void *arg)
{
    nw_wire_t *w = arg;

    w->live = false;
    w->in_flight = false;
    evtimer_del(w->retry_ev);
    if (up)
        wire_locate(w, false);
    else
        nw_log(NW_LOG_WARN, "wire", "tail interrupted", "key=%s cursor=%s", w->key, w->cursor);
}

nw_wire_t *nw_wire_new(struct event_base *base, nw_redis_t *conn, const nw_config_t *cfg,
                       nw_metrics_t *metrics, const nw_wire_sink_t *sink,
                       nw_redis_script_t *position)
{
    nw_wire_t *w = calloc(1, sizeof(*w));

    if (w == NULL)
        return NULL;
    w->base = base;
    w->conn = conn;
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

bool nw_wire_is_live(const nw_wire_t *w)
{
    return w->live;
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
