/* Newswire — WebSocket session: lifecycle, output queue, writing, history
 * answers. Client messages are in session_ops.c. */
#include "session.h"
#include "session_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <jansson.h>
#include <libwebsockets.h>

#include "article.h"
#include "codec.h"
#include "log.h"
#include "op.h"
#include "recent.h"
#include "topic.h"

#define NW_WRITE_BATCH     64 /* frames written per WRITEABLE callback at most */
#define NW_CLOSE_TIMEOUT_S 3  /* seconds to get a close frame out before dropping the link */

int nw_session_end(nw_session_t *s)
{
    nw_gateway_metrics_t *m = s->env->metrics;

    if (s->close_code == NW_WS_CLOSE_RESTART || s->close_code == NW_WS_CLOSE_GOING_AWAY)
        NW_METRIC_INC1(m->closes[NW_CLOSE_SHUTDOWN]);
    if (s->fmt == NW_FORMAT_SSE)
        return -1; /* the "close" event went out; end the response */
    lws_close_reason(s->wsi, (enum lws_close_status)s->close_code, (unsigned char *)s->close_reason,
                     strlen(s->close_reason));
    return -1;
}

/* Sets the close code and reason on wsi; the caller then returns -1 to lws. */
int nw_session_close_now(nw_session_t *s, uint16_t code, const char *reason, nw_close_reason_t why)
{
    NW_METRIC_INC1(s->env->metrics->closes[why]);
    nw_log(NW_LOG_DEBUG, "session", "closing", "session=%u-%llu code=%u reason=\"%s\"",
           s->env->gateway_id, (unsigned long long)s->id, code, reason);
    lws_close_reason(s->wsi, (enum lws_close_status)code, (unsigned char *)reason, strlen(reason));
    return -1;
}

/* Asks lws for a writeable callback. An event stream's connection is read
 * only while it has something to write: lws 4.1 serves POLLOUT of an HTTP
 * connection only when it also takes POLLIN, and never reads one whose
 * response goes on, so a client that hung up would spin its loop. While a
 * stream is idle the keepalive sweep watches for a hang-up (sse_client_gone()). */
static void want_writeable(nw_session_t *s)
{
    if (s->fmt == NW_FORMAT_SSE)
        lws_rx_flow_control(s->wsi, 1);
    lws_callback_on_writable(s->wsi);
}

/* An event stream with nothing left to write stops taking POLLIN. */
static void sse_idle(nw_session_t *s)
{
    if (s->fmt == NW_FORMAT_SSE && s->close_code == 0 && nw_outq_empty(&s->q) &&
        !lws_partial_buffered(s->wsi))
        lws_rx_flow_control(s->wsi, 0);
}

void nw_session_drop_cb(int urgency, void *arg)
{
    nw_session_t *s = arg;

    NW_METRIC_INC1(s->env->metrics->drops[NW_DROP_OVERFLOW][urgency]);
}

/* Queues f (a new reference) and asks for a writeable callback when the
 * queue was empty. Returns NW_OUTQ_* from the push. */
nw_outq_result_t nw_session_enqueue(nw_session_t *s, nw_frame_t *f)
{
    bool was_empty = nw_outq_empty(&s->q);
    size_t before = s->q.bytes;
    nw_outq_result_t r =
        nw_outq_push(&s->q, f, s->env->cfg->session_queue_bytes, nw_session_drop_cb, s);

    NW_METRIC_ADD1(s->env->metrics->queued_bytes, (int64_t)s->q.bytes - (int64_t)before);
    if (was_empty && !nw_outq_empty(&s->q))
        want_writeable(s);
    return r;
}

void nw_session_close(nw_session_t *s, uint16_t code, const char *reason, bool flush)
{
    bool timed = !flush;

    if (s->close_code != 0)
        return;
    s->close_code = code;
    s->close_reason = reason;
    s->close_flush = flush;
    if (s->fmt == NW_FORMAT_SSE) {
        /* SSE has no close frame: a last "close" event says why, written
         * after what is kept of the queue. */
        if (!flush) {
            NW_METRIC_ADD1(s->env->metrics->queued_bytes, -(int64_t)s->q.bytes);
            nw_outq_clear(&s->q);
        }
        s->close_code = 0; /* let the event through the queue */
        nw_session_send_control(
            s, json_pack("{s:s, s:i, s:s}", "type", "close", "code", (int)code, "reason", reason));
        s->close_code = code;
        s->close_flush = true;
        flush = true;
    }
    if (!flush) {
        NW_METRIC_ADD1(s->env->metrics->queued_bytes, -(int64_t)s->q.bytes);
        nw_outq_clear(&s->q);
    }
    want_writeable(s);
    /* A client that does not read never makes the socket writeable: drop
     * it if the close cannot be sent in time (a slow consumer, mostly). */
    if (timed)
        lws_set_timeout(s->wsi, PENDING_TIMEOUT_CLOSE_SEND, NW_CLOSE_TIMEOUT_S);
}

/* Closes a session that cannot keep up (or ran out of memory). */
static void close_slow(nw_session_t *s, nw_outq_result_t r)
{
    NW_METRIC_INC1(s->env->metrics->closes[NW_CLOSE_SLOW]);
    nw_log(NW_LOG_INFO, "session", "slow consumer closed", "session=%u-%llu queued_bytes=%zu",
           s->env->gateway_id, (unsigned long long)s->id, s->q.bytes);
    nw_session_close(s, NW_WS_CLOSE_TRY_AGAIN,
                     r == NW_OUTQ_OVERFLOW ? "slow consumer: output queue full" : "out of memory",
                     false);
}

/* Closes a session whose token expired (4002); true when it did. Checked
 * by the keepalive sweep and before each delivery (against env->wake_ms,
 * read once per dispatch chunk rather than per delivery), so that
 * nothing goes out after the expiry even between two sweeps. */
static bool token_expired(nw_session_t *s, int64_t now_ms)
{
    if (s->grant == NULL || now_ms < s->grant->exp_ms || s->close_code != 0)
        return false;
    NW_METRIC_INC1(s->env->metrics->closes[NW_CLOSE_TOKEN_EXPIRED]);
    nw_session_close(s, NW_WS_CLOSE_TOKEN_EXPIRED, "token expired", false);
    return true;
}

void nw_session_deliver(nw_session_t *s, const nw_event_t *ev, nw_frame_t *f)
{
    nw_outq_result_t r;

    if (s->close_code != 0 || (s->grant != NULL && token_expired(s, s->env->wake_ms)))
        return;
    if (s->skipping) {
        if (nw_event_id_cmp(ev, s->skip_ms, s->skip_seq) <= 0)
            return; /* the client had it before it resumed here */
        s->skipping = false;
    }
    if (s->replaying) {
        r = nw_outq_push(s->held, f, s->env->cfg->session_queue_bytes, nw_session_drop_cb, s);
        if (r != NW_OUTQ_OK)
            close_slow(s, r);
        return;
    }
    NW_METRIC_INC1(s->env->metrics->deliveries);
    if (s->env->batching) {
        /* written when the batch ends, together with the batch's other
         * items for this session */
        size_t before = s->q.bytes;

        r = nw_outq_push(&s->q, f, s->env->cfg->session_queue_bytes, nw_session_drop_cb, s);
        NW_METRIC_ADD1(s->env->metrics->queued_bytes, (int64_t)s->q.bytes - (int64_t)before);
        if (r != NW_OUTQ_OK) {
            close_slow(s, r);
        } else if (!s->dirty) {
            s->dirty = true;
            s->dirty_next = s->env->dirty;
            s->env->dirty = s;
        }
        return;
    }
    r = nw_session_enqueue(s, f);
    if (r != NW_OUTQ_OK)
        close_slow(s, r);
}

/* Queues bytes written as they are (SSE retry hint and heartbeats). */
static void queue_raw(nw_session_t *s, const char *text)
{
    nw_frame_t *f = nw_frame_alloc(strlen(text), s->fmt, NW_URGENCY_CONTROL);

    if (f == NULL)
        return;
    memcpy(f->payload, text, f->len);
    if (s->close_code == 0 && nw_session_enqueue(s, f) != NW_OUTQ_OK)
        nw_session_close(s, NW_WS_CLOSE_TRY_AGAIN, "slow consumer: output queue full", false);
    nw_frame_unref(f);
}

/* Encodes and queues a control message; steals the reference to msg. */
void nw_session_send_control(nw_session_t *s, json_t *msg)
{
    nw_frame_t *f;

    if (msg == NULL)
        return;
    f = nw_frame_control(msg, s->fmt);
    json_decref(msg);
    if (f == NULL) {
        nw_session_close(s, NW_WS_CLOSE_INTERNAL, "out of memory", false);
        return;
    }
    if (s->close_code == 0 && nw_session_enqueue(s, f) != NW_OUTQ_OK)
        nw_session_close(s, NW_WS_CLOSE_TRY_AGAIN, "slow consumer: output queue full", false);
    nw_frame_unref(f);
}

void nw_session_send_error(nw_session_t *s, const char *code, const char *message)
{
    NW_METRIC_INC1(s->env->metrics->client_errors);
    nw_session_send_control(
        s, json_pack("{s:s, s:s, s:s}", "type", "error", "code", code, "message", message));
}

json_t *nw_session_topics_json(const nw_session_t *s)
{
    json_t *a = json_array();

    for (uint32_t i = 0; a != NULL && i < s->nsubs; i++)
        json_array_append_new(a, json_string(nw_sub_pattern(s->subs[i])));
    return a;
}

/* Takes the next frame to write off the queue, keeping the resume cursor
 * and the latency metric. The cursor never moves back: an item sent out of
 * wire order (a flash ahead of older items, or an entry the wire tail found
 * late after a failover) comes back as a copy carrying "cursor". The caller
 * owns the frame returned. Sets *err on allocation failure. */
static nw_frame_t *next_frame(nw_session_t *s, int64_t *now_ms, bool *err)
{
    bool jumped;
    nw_frame_t *f = nw_outq_pop_urgent_first(&s->q, &jumped);

    if (f == NULL)
        return NULL;
    if (!jumped && (f->id_ms != 0 || f->id_seq != 0) &&
        nw_id_cmp(f->id_ms, f->id_seq, s->cursor_ms, s->cursor_seq) < 0)
        jumped = true; /* behind the cursor: resuming from its id would repeat items */
    if (jumped) {
        /* tell the client where to resume from, since the item's id is
         * not past every item it has got */
        nw_frame_t *c = nw_frame_with_cursor(f, s->cursor_ms, s->cursor_seq);
        nw_frame_unref(f);
        if (c == NULL) {
            *err = true;
            return NULL;
        }
        f = c;
    } else if (f->id_ms != 0 || f->id_seq != 0) {
        s->cursor_ms = f->id_ms;
        s->cursor_seq = f->id_seq;
    }
    if (f->ingest_ms > 0) {
        if (*now_ms == 0)
            *now_ms = nw_now_ms();
        nw_metrics_observe_latency(s->env->metrics, f->urgency, *now_ms - f->ingest_ms);
    }
    return f;
}

/* The WebSocket frame header of f (server to client: FIN, no mask) into h;
 * returns its length, 0 for an SSE frame. */
static size_t ws_header(const nw_frame_t *f, unsigned char h[10])
{
    uint64_t len = f->len;

    if (f->sse)
        return 0;
    h[0] = 0x80 | (f->binary ? 0x2 : 0x1);
    if (len < 126) {
        h[1] = (unsigned char)len;
        return 2;
    }
    if (len <= 0xffff) {
        h[1] = 126;
        h[2] = (unsigned char)(len >> 8);
        h[3] = (unsigned char)len;
        return 4;
    }
    h[1] = 127;
    for (int i = 0; i < 8; i++)
        h[2 + i] = (unsigned char)(len >> (56 - 8 * i));
    return 10;
}

/* Sends bytes already framed (lws passes them through as they are). */
static int send_raw(nw_session_t *s, unsigned char *buf, size_t len)
{
    return lws_write(s->wsi, buf, len, LWS_WRITE_RAW) < (int)len ? -1 : 0;
}

/* Sends one frame from its own storage. Takes the reference to f. */
static int send_frame(nw_session_t *s, nw_frame_t *f)
{
    enum lws_write_protocol wp = f->sse      ? LWS_WRITE_HTTP
                                 : f->binary ? LWS_WRITE_BINARY
                                             : LWS_WRITE_TEXT;
    int n = lws_write(s->wsi, f->payload, f->len, wp) < (int)f->len ? -1 : 0;

    nw_frame_unref(f);
    return n;
}

/* Writes up to NW_WRITE_BATCH queued frames: several small ones are framed
 * into env->wbuf and go out in one send(); one alone, or a big one, from
 * its own storage. Stops early when lws had to buffer part of a send (the
 * socket is full: the writeable callback continues). Counts frames in
 * *written. Returns 0, or -1 when the connection is broken. */
static int write_queued(nw_session_t *s, unsigned *written)
{
    unsigned char *buf = s->env->wbuf + LWS_PRE; /* always there: see nw_gateway_new() */
    int64_t now_ms = 0;
    size_t pos = 0;
    bool err = false;
    nw_frame_t *f;

    if (s->ping_due) {
        /* a ping ahead of the queue, with a payload: lws 4.1 hands an empty
         * pong to nobody */
        memcpy(buf, "\x89\x04nwka", 6);
        pos = 6;
        s->ping_due = false;
    }
    while (*written < NW_WRITE_BATCH && (f = next_frame(s, &now_ms, &err)) != NULL) {
        unsigned char h[10];
        size_t hl = ws_header(f, h);

        (*written)++;
        if (pos > 0 && pos + hl + f->len > NW_COALESCE_BYTES) {
            if (send_raw(s, buf, pos) < 0) {
                nw_frame_unref(f);
                return -1;
            }
            pos = 0;
        }
        if (hl + f->len > NW_COALESCE_BYTES || (pos == 0 && nw_outq_empty(&s->q))) {
            if (send_frame(s, f) < 0)
                return -1;
        } else {
            memcpy(buf + pos, h, hl);
            memcpy(buf + pos + hl, f->payload, f->len);
            pos += hl + f->len;
            nw_frame_unref(f);
        }
        if (nw_outq_empty(&s->q) || (pos == 0 && lws_partial_buffered(s->wsi)))
            break;
    }
    if (err)
        return -1;
    return pos > 0 ? send_raw(s, buf, pos) : 0;
}

/* Writes the session's queue now: the end of a dispatch batch. */
static void flush_session(nw_session_t *s)
{
    nw_gateway_metrics_t *m = s->env->metrics;
    size_t before = s->q.bytes;
    unsigned written = 0;
    int rc;

    if (nw_outq_empty(&s->q))
        return;
    if (!s->open || s->close_code != 0 || s->replaying || lws_partial_buffered(s->wsi)) {
        want_writeable(s);
        return;
    }
    rc = write_queued(s, &written);
    NW_METRIC_ADD1(m->frames_written, written);
    NW_METRIC_ADD1(m->queued_bytes, (int64_t)s->q.bytes - (int64_t)before);
    if (rc < 0)
        nw_session_close(s, NW_WS_CLOSE_INTERNAL, "write failed",
                         false); /* lws sees the broken link */
    else if (!nw_outq_empty(&s->q) || lws_partial_buffered(s->wsi))
        want_writeable(s);
    else
        sse_idle(s);
}

void nw_session_flush_dirty(nw_session_env_t *env)
{
    nw_session_t *s;

    while ((s = env->dirty) != NULL) {
        env->dirty = s->dirty_next;
        s->dirty_next = NULL;
        s->dirty = false;
        flush_session(s);
    }
}

int nw_session_writeable(nw_session_t *s)
{
    nw_gateway_metrics_t *m = s->env->metrics;
    size_t before = s->q.bytes;
    unsigned written = 0;
    int rc;

    if (s->close_code != 0 && !s->close_flush)
        goto close;
    rc = write_queued(s, &written);
    NW_METRIC_ADD1(m->frames_written, written);
    NW_METRIC_ADD1(m->queued_bytes, (int64_t)s->q.bytes - (int64_t)before);
    if (rc < 0)
        return -1;
    if (!nw_outq_empty(&s->q)) {
        want_writeable(s);
        return 0;
    }
    if (s->close_code == 0) {
        sse_idle(s);
        return 0;
    }
    if (written > 0 || lws_partial_buffered(s->wsi)) {
        /* Close in a later WRITEABLE, once lws has sent all of the last
         * frame: closing with part of it still buffered loses the close
         * frame. */
        want_writeable(s);
        return 0;
    }
close:
    return nw_session_end(s);
}

int nw_session_open(nw_session_t *s, struct lws *wsi, nw_session_env_t *env, nw_format_t fmt)
{
    char sid[48];

    s->wsi = wsi;
    s->env = env;
    s->fmt = fmt;
    s->id = ++env->next_id;
    s->min_urgency = NW_URGENCY_MAX;
    nw_stream_id_parse(env->last_id, &s->cursor_ms, &s->cursor_seq);
    nw_outq_init(&s->q);
    s->open = true;
    s->last_rx_ms = nw_now_ms();
    s->next = env->head;
    if (env->head != NULL)
        env->head->prev = s;
    env->head = s;
    snprintf(sid, sizeof(sid), "%llu", (unsigned long long)s->id);
    if (nw_strmap_put(env->by_id, sid, strlen(sid), s) < 0) {
        nw_session_close(s, NW_WS_CLOSE_INTERNAL, "out of memory", false);
        return 0;
    }
    NW_METRIC_INC1(env->metrics->sessions_opened);
    NW_METRIC_ADD1(env->metrics->sessions, 1);
    if (fmt == NW_FORMAT_SSE) {
        NW_METRIC_ADD1(env->metrics->sessions_sse, 1);
        queue_raw(s, "retry: 3000\n\n");
        s->heartbeat_ms = nw_now_ms() + env->cfg->sse_heartbeat_ms;
    }
    if (fmt == NW_FORMAT_MSGPACK)
        NW_METRIC_ADD1(env->metrics->sessions_msgpack, 1);
    snprintf(sid, sizeof(sid), "%u-%llu", env->gateway_id, (unsigned long long)s->id);
    nw_session_send_control(s, json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:i, s:i}}", "type", "hello",
                                         "protocol", "newswire.v1", "server",
                                         "newswired/" NW_VERSION, "session", sid, "format",
                                         fmt == NW_FORMAT_JSON  ? "json"
                                         : fmt == NW_FORMAT_SSE ? "sse"
                                                                : "msgpack",
                                         "limits", "max_topics", (int)env->cfg->ws_max_topics,
                                         "max_message_bytes", (int)env->cfg->ws_max_frame));
    lws_get_peer_simple(wsi, s->peer, sizeof(s->peer));
    if (env->limits != NULL) {
        /* checked at the upgrade already; a race between gateways may still
         * push one over */
        if (nw_limits_acquire(env->limits, s->peer) < 0) {
            nw_session_close(s, NW_WS_CLOSE_TRY_AGAIN, "too many connections", true);
            return 0;
        }
        s->counted = true;
    }
    {
        /* a token in the handshake: ?token= or Authorization: Bearer */
        char buf[NW_OP_TOKEN_MAX + 16];
        const char *token = lws_get_urlarg_by_name(wsi, "token=", buf, sizeof(buf));
        if (token == NULL &&
            lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_HTTP_AUTHORIZATION) > 7 &&
            strncasecmp(buf, "Bearer ", 7) == 0)
            token = buf + 7;
        if (token != NULL && token[0] != '\0')
            nw_session_auth(s, token);
    }
    if (s->close_code != 0)
        return 0;
    return nw_session_apply_url(s);
}

/* An event stream's client sends nothing after its request, and lws 4.1
 * does not read an HTTP connection while its response goes on: look at the
 * socket ourselves. True when the client hung up (end of stream, an error)
 * or sent bytes (a TLS close_notify, or a client that does not follow the
 * protocol): either way the stream ends. */
static bool sse_client_gone(nw_session_t *s)
{
    char c;
    ssize_t n = recv(lws_get_socket_fd(s->wsi), &c, 1, MSG_PEEK | MSG_DONTWAIT);

    return n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* Drops the connection without a close frame, once lws gets back to it
 * (the sweep goes on over the session list meanwhile). */
static void keepalive_drop(nw_session_t *s, const char *why, int64_t silent_ms)
{
    nw_log(NW_LOG_DEBUG, "session", why, "session=%u-%llu silent_ms=%lld", s->env->gateway_id,
           (unsigned long long)s->id, (long long)silent_ms);
    s->dropping = true;
    lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* An event stream: a client that hung up is dropped (lws would not notice,
 * see want_writeable()); a heartbeat comment is due every sse_heartbeat. */
static void sse_keepalive(nw_session_t *s, int64_t now_ms)
{
    if (sse_client_gone(s)) {
        keepalive_drop(s, "event stream client gone", now_ms - s->last_rx_ms);
        return;
    }
    if (s->close_code == 0 && now_ms >= s->heartbeat_ms) {
        /* a comment line keeps proxies and the client's timers quiet */
        queue_raw(s, ": keepalive\n\n");
        s->heartbeat_ms = now_ms + s->env->cfg->sse_heartbeat_ms;
    }
}

void nw_session_keepalive(nw_session_t *s, int64_t now_ms)
{
    const nw_config_t *cfg = s->env->cfg;
    int64_t silent = now_ms - s->last_rx_ms;

    if (!s->open || s->dropping || token_expired(s, now_ms))
        return;
    if (s->fmt == NW_FORMAT_SSE) {
        sse_keepalive(s, now_ms);
        return;
    }
    if (s->close_code != 0 || s->peer_closed)
        return;
    if (silent >= (int64_t)cfg->ws_idle_timeout_ms) {
        NW_METRIC_INC1(s->env->metrics->closes[NW_CLOSE_IDLE]);
        keepalive_drop(s, "idle: dropped", silent);
        return;
    }
    if (silent >= (int64_t)cfg->ws_ping_interval_ms &&
        now_ms - s->ping_ms >= (int64_t)cfg->ws_ping_interval_ms) {
        s->ping_ms = now_ms;
        s->ping_due = true;
        lws_callback_on_writable(s->wsi);
    }
}

void nw_session_closed(nw_session_t *s)
{
    nw_session_env_t *env = s->env;

    if (!s->open)
        return;
    s->open = false;
    if (s->dirty) {
        for (nw_session_t **p = &env->dirty; *p != NULL; p = &(*p)->dirty_next) {
            if (*p == s) {
                *p = s->dirty_next;
                break;
            }
        }
        s->dirty = false;
    }
    for (uint32_t i = 0; i < s->nsubs; i++)
        nw_topic_index_remove(env->index, s->subs[i]);
    NW_METRIC_ADD1(env->metrics->subscriptions, -(int64_t)s->nsubs);
    free(s->subs);
    s->subs = NULL;
    s->nsubs = 0;
    NW_METRIC_ADD1(env->metrics->queued_bytes, -(int64_t)s->q.bytes);
    nw_outq_clear(&s->q);
    free(s->rx);
    s->rx = NULL;
    if (s->held != NULL) {
        nw_outq_clear(s->held);
        free(s->held);
        s->held = NULL;
    }
    if (s->grant != NULL) {
        if (s->grant->max_conn > 0)
            nw_limits_sub_release(env->limits, s->grant->sub);
        nw_grant_clear(s->grant);
        free(s->grant);
        s->grant = NULL;
    }
    if (s->counted) {
        nw_limits_release(env->limits, s->peer);
        s->counted = false;
    }
    {
        char sid[24];
        snprintf(sid, sizeof(sid), "%llu", (unsigned long long)s->id);
        nw_strmap_del(env->by_id, sid, strlen(sid));
    }
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        env->head = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    NW_METRIC_INC1(env->metrics->sessions_closed);
    NW_METRIC_ADD1(env->metrics->sessions, -1);
    if (s->fmt == NW_FORMAT_MSGPACK)
        NW_METRIC_ADD1(env->metrics->sessions_msgpack, -1);
    if (s->fmt == NW_FORMAT_SSE)
        NW_METRIC_ADD1(env->metrics->sessions_sse, -1);
}

nw_session_t *nw_session_find(nw_session_env_t *env, uint64_t id)
{
    char sid[24];

    snprintf(sid, sizeof(sid), "%llu", (unsigned long long)id);
    return nw_strmap_get(env->by_id, sid, strlen(sid));
}

/* The bits of the event's topics that the session's patterns match. */
static uint32_t session_mask(const nw_session_t *s, const nw_event_t *ev)
{
    uint32_t mask = 0;

    for (size_t i = 0; i < ev->ntopics; i++) {
        for (uint32_t j = 0; j < s->nsubs; j++) {
            if (nw_topic_match(nw_sub_pattern(s->subs[j]), ev->topics[i])) {
                mask |= 1u << i;
                break;
            }
        }
    }
    return mask;
}

void nw_session_history_done(nw_session_env_t *env, nw_hist_req_t *req)
{
    nw_session_t *s = nw_session_find(env, req->owner);
    nw_frame_t *f;

    if (s != NULL && s->http) {
        if (s->http_waiting)
            nw_recent_http_done(env, s, req);
        else
            nw_hist_req_free(req);
        return;
    }
    if (s == NULL || !s->replaying || s->close_code != 0) {
        nw_hist_req_free(req);
        return;
    }
    if (req->status != 0) {
        nw_log(NW_LOG_WARN, "session", "resume failed", "session=%u-%llu error=%d", env->gateway_id,
               (unsigned long long)s->id, req->status);
        nw_hist_req_free(req);
        nw_session_close(s, NW_WS_CLOSE_TRY_AGAIN, "history unavailable: retry", true);
        return;
    }
    if (!req->recovered) {
        /* an unknown cursor says nothing of what the client has, and is no
         * position to keep (next_frame() never moves the cursor back) */
        s->skipping = false;
        s->cursor_ms = s->cursor_seq = 0;
    }
    nw_session_send_control(s,
                            json_pack("{s:s, s:o, s:i, s:b, s:s}", "type", "subscribed", "topics",
                                      nw_session_topics_json(s), "min_urgency", s->min_urgency,
                                      "recovered", req->recovered, "epoch", req->cur_epoch));
    s->replaying = false;
    for (size_t i = 0; i < req->nevents && s->close_code == 0; i++) {
        const nw_event_t *ev = req->events[i];
        uint32_t mask = session_mask(s, ev);
        bool filterable = ev->kind == NW_KIND_NEW || ev->kind == NW_KIND_UPDATE;

        if (mask == 0 || (filterable && ev->urgency > s->min_urgency))
            continue;
        f = nw_frame_item(ev, s->fmt, mask);
        if (f == NULL) {
            nw_session_close(s, NW_WS_CLOSE_INTERNAL, "out of memory", false);
            break;
        }
        f->ingest_ms = 0; /* replayed, not live: not a delivery latency */
        nw_session_deliver(s, ev, f);
        nw_frame_unref(f);
    }
    /* The answer covers everything up to req->upto: live events up to it,
     * held or still to come from a trailing tail, are in it already. */
    if (req->upto[0] != '+') {
        uint64_t ms, seq;

        nw_stream_id_parse(req->upto, &ms, &seq);
        if (!s->skipping || nw_id_cmp(ms, seq, s->skip_ms, s->skip_seq) > 0) {
            s->skipping = true;
            s->skip_ms = ms;
            s->skip_seq = seq;
        }
    }
    /* then what arrived live meanwhile, in order, past the answer's bound */
    while (s->held != NULL && (f = nw_outq_pop(s->held)) != NULL) {
        bool covered = s->skipping && nw_id_cmp(f->id_ms, f->id_seq, s->skip_ms, s->skip_seq) <= 0;

        if (covered && f->urgency != NW_URGENCY_CONTROL) {
            nw_frame_unref(f);
            continue;
        }
        if (s->close_code == 0) {
            nw_outq_result_t r = nw_session_enqueue(s, f);
            if (r != NW_OUTQ_OK)
                close_slow(s, r);
            else
                NW_METRIC_INC1(env->metrics->deliveries);
        }
        nw_frame_unref(f);
    }
    if (s->held != NULL) {
        nw_outq_clear(s->held);
        free(s->held);
        s->held = NULL;
    }
    nw_hist_req_free(req);
}
