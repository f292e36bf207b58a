/* Newswire — WebSocket session: client ops, subscriptions, output queue. */
#include "session.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libwebsockets.h>

#include "article.h"
#include "codec.h"
#include "log.h"
#include "recent.h"
#include "topic.h"

#define NW_WRITE_BATCH 64 /* frames written per WRITEABLE callback at most */

/* Sets the close code and reason on wsi; the caller then returns -1 to lws. */
static int close_now(nw_session_t *s, uint16_t code, const char *reason, nw_close_reason_t why)
{
    NW_METRIC_INC(s->env->metrics->closes[why]);
    nw_log(NW_LOG_DEBUG, "session", "closing", "session=%u-%llu code=%u reason=\"%s\"",
           s->env->gateway_id, (unsigned long long)s->id, code, reason);
    lws_close_reason(s->wsi, (enum lws_close_status)code, (unsigned char *)reason,
                     strlen(reason));
    return -1;
}

/* Queues f (a new reference) and asks for a writeable callback when the
 * queue was empty. Returns NW_OUTQ_* from the push. */
static void drop_cb(int urgency, void *arg)
{
    nw_session_t *s = arg;

    NW_METRIC_INC(s->env->metrics->drops[NW_DROP_OVERFLOW][urgency]);
}

static nw_outq_result_t enqueue(nw_session_t *s, nw_frame_t *f)
{
    bool was_empty = nw_outq_empty(&s->q);
    size_t before = s->q.bytes;
    nw_outq_result_t r = nw_outq_push(&s->q, f, s->env->cfg->session_queue_bytes, drop_cb, s);

    NW_METRIC_ADD(s->env->metrics->queued_bytes, (int64_t)s->q.bytes - (int64_t)before);
    if (was_empty && !nw_outq_empty(&s->q))
        lws_callback_on_writable(s->wsi);
    return r;
}

void nw_session_close(nw_session_t *s, uint16_t code, const char *reason, bool flush)
{
    if (s->close_code != 0)
        return;
    s->close_code = code;
    s->close_reason = reason;
    s->close_flush = flush;
    if (!flush) {
        NW_METRIC_ADD(s->env->metrics->queued_bytes, -(int64_t)s->q.bytes);
        nw_outq_clear(&s->q);
    }
    lws_callback_on_writable(s->wsi);
}

/* Closes a session that cannot keep up (or ran out of memory). */
static void close_slow(nw_session_t *s, nw_outq_result_t r)
{
    NW_METRIC_INC(s->env->metrics->closes[NW_CLOSE_SLOW]);
    nw_log(NW_LOG_INFO, "session", "slow consumer closed", "session=%u-%llu queued_bytes=%zu",
           s->env->gateway_id, (unsigned long long)s->id, s->q.bytes);
    nw_session_close(s, NW_WS_CLOSE_TRY_AGAIN,
                     r == NW_OUTQ_OVERFLOW ? "slow consumer: output queue full" : "out of memory",
                     false);
}

void nw_session_deliver(nw_session_t *s, const nw_event_t *ev, nw_frame_t *f)
{
    nw_outq_result_t r;

    if (s->close_code != 0)
        return;
    if (s->skipping) {
        if (nw_event_id_cmp(ev, s->skip_ms, s->skip_seq) <= 0)
            return; /* the client had it before it resumed here */
        s->skipping = false;
    }
    if (s->replaying) {
        r = nw_outq_push(s->held, f, s->env->cfg->session_queue_bytes, drop_cb, s);
        if (r != NW_OUTQ_OK)
            close_slow(s, r);
        return;
    }
    r = enqueue(s, f);
    if (r == NW_OUTQ_OK) {
        NW_METRIC_INC(s->env->metrics->deliveries);
        return;
    }
    close_slow(s, r);
}

/* Encodes and queues a control message; steals the reference to msg. */
static void send_control(nw_session_t *s, json_t *msg)
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
    if (s->close_code == 0 && enqueue(s, f) != NW_OUTQ_OK)
        nw_session_close(s, NW_WS_CLOSE_TRY_AGAIN, "slow consumer: output queue full",
                         false);
    nw_frame_unref(f);
}

static void send_error(nw_session_t *s, const char *code, const char *message)
{
    NW_METRIC_INC(s->env->metrics->client_errors);
    send_control(s, json_pack("{s:s, s:s, s:s}", "type", "error", "code", code, "message",
                              message));
}

static json_t *topics_json(const nw_session_t *s)
{
    json_t *a = json_array();

    for (uint32_t i = 0; a != NULL && i < s->nsubs; i++)
        json_array_append_new(a, json_string(nw_sub_pattern(s->subs[i])));
    return a;
}

static bool subscribed_to(const nw_session_t *s, const char *pattern)
{
    for (uint32_t i = 0; i < s->nsubs; i++) {
        if (strcmp(nw_sub_pattern(s->subs[i]), pattern) == 0)
            return true;
    }
    return false;
}

/* Subscribes to every pattern of list not yet held (all or nothing).
 * Returns 0, 1 when the limit would be exceeded (the caller closes), or
 * -ENOMEM. */
static int subscribe_list(nw_session_t *s, const nw_topic_list_t *list)
{
    uint32_t fresh = 0, added = 0;

    for (size_t i = 0; i < list->n; i++)
        fresh += !subscribed_to(s, list->v[i]);
    if (s->nsubs + fresh > s->env->cfg->ws_max_topics)
        return 1;
    if (s->nsubs + fresh > s->capsubs) {
        uint32_t ncap = s->nsubs + fresh;
        nw_sub_t **ns = realloc(s->subs, ncap * sizeof(*ns));
        if (ns == NULL)
            return -ENOMEM;
        s->subs = ns;
        s->capsubs = ncap;
    }
    for (size_t i = 0; i < list->n; i++) {
        nw_sub_t *sub;
        if (subscribed_to(s, list->v[i]))
            continue;
        sub = nw_topic_index_add(s->env->index, list->v[i], s);
        if (sub == NULL) {
            while (added-- > 0)
                nw_topic_index_remove(s->env->index, s->subs[--s->nsubs]);
            return -ENOMEM;
        }
        s->subs[s->nsubs++] = sub;
        added++;
    }
    NW_METRIC_ADD(s->env->metrics->subscriptions, (int64_t)added);
    return 0;
}

/* Applies a subscription request; returns -1 when the session must close. */
static int apply_subscribe(nw_session_t *s, const nw_topic_list_t *list, int min_urgency)
{
    int rc = subscribe_list(s, list);

    if (rc == 1) {
        NW_METRIC_INC(s->env->metrics->client_errors);
        NW_METRIC_INC(s->env->metrics->closes[NW_CLOSE_POLICY]);
        nw_session_close(s, NW_WS_CLOSE_POLICY, "too many topics", false);
        return 0;
    }
    if (rc < 0) {
        send_error(s, "internal", "out of memory");
        return 0;
    }
    if (min_urgency > 0)
        s->min_urgency = (uint8_t)min_urgency;
    send_control(s, json_pack("{s:s, s:o, s:i}", "type", "subscribed", "topics", topics_json(s),
                              "min_urgency", s->min_urgency));
    return 0;
}

/* Reads msg.topics as a list of patterns. Returns 0, or -1 after sending an
 * error frame, or 1 when there are more than the limit (caller closes). */
static int read_topics(nw_session_t *s, const json_t *msg, nw_topic_list_t **out)
{
    const json_t *arr = json_object_get(msg, "topics");
    const char **v;
    nw_err_t err;
    size_t n;
    int rc = 0;

    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        send_error(s, "invalid_field", "\"topics\" must be a non-empty array of strings");
        return -1;
    }
    n = json_array_size(arr);
    if (n > s->env->cfg->ws_max_topics)
        return 1;
    v = calloc(n, sizeof(*v));
    if (v == NULL) {
        send_error(s, "internal", "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        v[i] = json_string_value(json_array_get(arr, i));
        if (v[i] == NULL) {
            send_error(s, "invalid_field", "\"topics\" must be a non-empty array of strings");
            rc = -1;
        }
    }
    if (rc == 0 && nw_topic_list_from_array(v, n, n, true, "topics", out, &err) < 0) {
        send_error(s, "invalid_topic", err.message);
        rc = -1;
    }
    free(v);
    return rc;
}

/* Reads the optional min_urgency field: 0 when absent, 1..9, or -1 after
 * sending an error frame. */
static int read_min_urgency(nw_session_t *s, const json_t *msg)
{
    const json_t *v = json_object_get(msg, "min_urgency");

    if (v == NULL)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 9) {
        send_error(s, "invalid_field", "\"min_urgency\" must be an integer 1..9");
        return -1;
    }
    return (int)json_integer_value(v);
}

/* Checks that msg has no member outside allowed (NULL-terminated). */
static bool only_fields(nw_session_t *s, const json_t *msg, const char *const *allowed)
{
    const char *key;
    json_t *value;

    json_object_foreach((json_t *)msg, key, value) {
        bool ok = false;
        for (const char *const *a = allowed; *a != NULL; a++)
            ok = ok || strcmp(*a, key) == 0;
        if (!ok) {
            char m[192];
            snprintf(m, sizeof(m), "unknown field \"%.64s\"", key);
            send_error(s, "invalid_field", m);
            return false;
        }
    }
    return true;
}

/* Starts a resume: the session holds its subscriptions already (live
 * events wait in held); the history service answers (since, last id
 * dispatched here]. Returns -1 when the session must close now. */
static int start_resume(nw_session_t *s, const nw_topic_list_t *list, const char *since,
                        const char *epoch)
{
    nw_session_env_t *env = s->env;
    nw_hist_req_t *req;
    uint64_t ms, seq, last_ms, last_seq;

    if (env->history == NULL || env->last_id[0] == '\0') {
        nw_session_close(s, NW_WS_CLOSE_TRY_AGAIN, "not ready to resume: retry", false);
        return 0;
    }
    req = nw_hist_req_new();
    s->held = calloc(1, sizeof(*s->held));
    if (req == NULL || s->held == NULL ||
        nw_topic_list_from_array((const char *const *)list->v, list->n, list->n, true, "topics",
                                 &req->patterns, NULL) < 0) {
        nw_hist_req_free(req);
        free(s->held);
        s->held = NULL;
        nw_session_close(s, NW_WS_CLOSE_INTERNAL, "out of memory", false);
        return 0;
    }
    nw_outq_init(s->held);
    req->kind = NW_HIST_RESUME;
    req->owner = s->id;
    req->done = env->hist_done;
    req->done_arg = env->hist_done_arg;
    snprintf(req->since, sizeof(req->since), "%s", since);
    snprintf(req->epoch, sizeof(req->epoch), "%s", epoch ? epoch : "");
    snprintf(req->upto, sizeof(req->upto), "%s", env->last_id);
    req->per_topic = env->cfg->recent_count;
    /* A client ahead of this gateway already has what comes live up to its
     * cursor. */
    nw_stream_id_parse(since, &ms, &seq);
    nw_stream_id_parse(env->last_id, &last_ms, &last_seq);
    s->cursor_ms = ms;
    s->cursor_seq = seq;
    if (ms > last_ms || (ms == last_ms && seq > last_seq)) {
        s->skipping = true;
        s->skip_ms = ms;
        s->skip_seq = seq;
    }
    s->replaying = true;
    if (nw_history_submit(env->history, req) < 0) {
        nw_hist_req_free(req);
        nw_session_close(s, NW_WS_CLOSE_TRY_AGAIN, "server busy: retry", false);
        return 0;
    }
    return 0;
}

/* Checks since (a wire id) and epoch (hex, optional). Returns true, or false
 * after sending an error frame. */
static bool valid_cursor(nw_session_t *s, const char *since, const char *epoch)
{
    uint64_t ms, seq;

    if (since == NULL || strlen(since) >= NW_WIRE_ID_MAX || nw_stream_id_parse(since, &ms, &seq) < 0) {
        send_error(s, "invalid_field", "\"since\" must be an item id (\"<ms>-<seq>\")");
        return false;
    }
    if (epoch != NULL && (strlen(epoch) == 0 || strlen(epoch) > 63 ||
                          strspn(epoch, "0123456789abcdef") != strlen(epoch))) {
        send_error(s, "invalid_field", "\"epoch\" must be the epoch given in \"subscribed\"");
        return false;
    }
    if (s->nsubs > 0 || s->replaying) {
        send_error(s, "invalid_field",
                   "\"since\" is only accepted with the first subscription of a session");
        return false;
    }
    return true;
}

/* Subscribes to list, resuming from since when given. Returns -1 when the
 * session must close now. */
static int subscribe(nw_session_t *s, const nw_topic_list_t *list, int min_urgency,
                     const char *since, const char *epoch)
{
    if (since == NULL)
        return apply_subscribe(s, list, min_urgency);
    switch (subscribe_list(s, list)) {
    case 0:
        break;
    case 1:
        NW_METRIC_INC(s->env->metrics->client_errors);
        NW_METRIC_INC(s->env->metrics->closes[NW_CLOSE_POLICY]);
        nw_session_close(s, NW_WS_CLOSE_POLICY, "too many topics", false);
        return 0;
    default:
        send_error(s, "internal", "out of memory");
        return 0;
    }
    if (min_urgency > 0)
        s->min_urgency = (uint8_t)min_urgency;
    return start_resume(s, list, since, epoch);
}

static int op_subscribe(nw_session_t *s, const json_t *msg)
{
    static const char *const allowed[] = {"op", "topics", "min_urgency", "since", "epoch", NULL};
    const json_t *since_j = json_object_get(msg, "since");
    const json_t *epoch_j = json_object_get(msg, "epoch");
    const char *since = json_string_value(since_j), *epoch = json_string_value(epoch_j);
    nw_topic_list_t *list = NULL;
    int mu, rc;

    if (!only_fields(s, msg, allowed))
        return 0;
    if ((since_j != NULL && since == NULL) || (epoch_j != NULL && epoch == NULL)) {
        send_error(s, "invalid_field", "\"since\" and \"epoch\" must be strings");
        return 0;
    }
    if (since_j != NULL && !valid_cursor(s, since, epoch))
        return 0;
    rc = read_topics(s, msg, &list);
    if (rc == 1) {
        NW_METRIC_INC(s->env->metrics->client_errors);
        return close_now(s, NW_WS_CLOSE_POLICY, "too many topics", NW_CLOSE_POLICY);
    }
    if (rc < 0)
        return 0;
    mu = read_min_urgency(s, msg);
    if (mu >= 0)
        rc = subscribe(s, list, mu, since, epoch);
    nw_topic_list_free(list);
    return rc;
}

static int op_unsubscribe(nw_session_t *s, const json_t *msg)
{
    static const char *const allowed[] = {"op", "topics", NULL};
    nw_topic_list_t *list = NULL;
    json_t *removed;
    int rc;

    if (!only_fields(s, msg, allowed))
        return 0;
    rc = read_topics(s, msg, &list);
    if (rc == 1) {
        send_error(s, "invalid_field", "too many topics in one request");
        return 0;
    }
    if (rc < 0)
        return 0;
    removed = json_array();
    for (size_t i = 0; i < list->n; i++) {
        for (uint32_t j = 0; j < s->nsubs; j++) {
            if (strcmp(nw_sub_pattern(s->subs[j]), list->v[i]) == 0) {
                json_array_append_new(removed, json_string(list->v[i]));
                nw_topic_index_remove(s->env->index, s->subs[j]);
                s->subs[j] = s->subs[--s->nsubs];
                NW_METRIC_ADD(s->env->metrics->subscriptions, -1);
                break;
            }
        }
    }
    nw_topic_list_free(list);
    send_control(s, json_pack("{s:s, s:o}", "type", "unsubscribed", "topics", removed));
    return 0;
}

/* Handles one complete client message. Returns -1 to close now. */
static int handle_message(nw_session_t *s, const char *data, size_t len, bool binary)
{
    json_t *msg;
    const char *op;
    int rc = 0;

    if (binary != (s->fmt == NW_FORMAT_MSGPACK)) {
        send_error(s, "unsupported_frame",
                   s->fmt == NW_FORMAT_JSON
                       ? "binary messages are not accepted with newswire.v1.json"
                       : "text messages are not accepted with newswire.v1.msgpack");
        return 0;
    }
    if (s->fmt == NW_FORMAT_JSON) {
        json_error_t jerr;
        msg = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
        if (msg == NULL) {
            char m[256];
            snprintf(m, sizeof(m), "invalid JSON at line %d column %d: %s", jerr.line,
                     jerr.column, jerr.text);
            send_error(s, "invalid_json", m);
            return 0;
        }
    } else {
        nw_err_t err;
        if (nw_codec_msgpack_to_json(data, len, &msg, &err) < 0) {
            char m[sizeof(err.field) + sizeof(err.message) + 32];
            snprintf(m, sizeof(m), "invalid msgpack%s%s: %s", err.field[0] ? " at " : "",
                     err.field, err.message);
            send_error(s, "invalid_msgpack", m);
            return 0;
        }
    }
    op = json_string_value(json_object_get(msg, "op"));
    if (!json_is_object(msg) || op == NULL)
        send_error(s, "invalid_message", "a message is an object with a string \"op\"");
    else if (strcmp(op, "subscribe") == 0)
        rc = op_subscribe(s, msg);
    else if (strcmp(op, "unsubscribe") == 0)
        rc = op_unsubscribe(s, msg);
    else if (strcmp(op, "ping") == 0)
        send_control(s, json_pack("{s:s}", "type", "pong"));
    else {
        char m[128];
        snprintf(m, sizeof(m), "unknown op \"%.64s\"", op);
        send_error(s, "unknown_op", m);
    }
    json_decref(msg);
    return rc;
}

int nw_session_receive(nw_session_t *s, const void *in, size_t len)
{
    bool first = lws_is_first_fragment(s->wsi);
    bool final = lws_is_final_fragment(s->wsi) && lws_remaining_packet_payload(s->wsi) == 0;
    size_t max = s->env->cfg->ws_max_frame;
    bool binary = lws_frame_is_binary(s->wsi);
    int rc;

    if (s->close_code != 0)
        return 0;
    if (s->rx_too_big) {
        /* Closing in the middle of a fragmented message sometimes left lws
         * hanging up without the close frame: discard the rest of the
         * message and close once it has all arrived. */
        if (!final)
            return 0;
        s->rx_too_big = false;
        return close_now(s, NW_WS_CLOSE_TOO_BIG, "message too big", NW_CLOSE_TOO_BIG);
    }
    if (first && final && s->rx == NULL) {
        if (len > max)
            return close_now(s, NW_WS_CLOSE_TOO_BIG, "message too big", NW_CLOSE_TOO_BIG);
        return handle_message(s, in, len, binary);
    }
    if (s->rx == NULL) {
        s->rx = malloc(max);
        s->rx_len = 0;
        if (s->rx == NULL)
            return close_now(s, NW_WS_CLOSE_INTERNAL, "out of memory", NW_CLOSE_POLICY);
    }
    if (s->rx_len + len > max) {
        free(s->rx);
        s->rx = NULL;
        s->rx_len = 0;
        if (final)
            return close_now(s, NW_WS_CLOSE_TOO_BIG, "message too big", NW_CLOSE_TOO_BIG);
        s->rx_too_big = true;
        return 0;
    }
    memcpy(s->rx + s->rx_len, in, len);
    s->rx_len += len;
    if (!final)
        return 0;
    rc = handle_message(s, s->rx, s->rx_len, binary);
    free(s->rx);
    s->rx = NULL;
    s->rx_len = 0;
    return rc;
}

int nw_session_writeable(nw_session_t *s)
{
    nw_gateway_metrics_t *m = s->env->metrics;
    size_t before = s->q.bytes;
    unsigned written = 0;
    bool jumped;
    nw_frame_t *f;

    if (s->close_code != 0 && !s->close_flush)
        goto close;
    while (written < NW_WRITE_BATCH && (f = nw_outq_pop_urgent_first(&s->q, &jumped)) != NULL) {
        int n;
        bool short_write;

        if (jumped) {
            /* A flash sent ahead of older items: tell the client where to
             * resume from, since its id is past items it has not got. */
            nw_frame_t *c = nw_frame_with_cursor(f, s->cursor_ms, s->cursor_seq);
            nw_frame_unref(f);
            if (c == NULL)
                return -1;
            f = c;
        } else if (f->id_ms != 0 || f->id_seq != 0) {
            s->cursor_ms = f->id_ms;
            s->cursor_seq = f->id_seq;
        }
        n = lws_write(s->wsi, f->payload, f->len, f->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
        short_write = n < (int)f->len;
        nw_frame_unref(f);
        if (short_write) {
            NW_METRIC_ADD(m->queued_bytes, (int64_t)s->q.bytes - (int64_t)before);
            return -1;
        }
        written++;
        if (nw_outq_empty(&s->q) || lws_send_pipe_choked(s->wsi))
            break;
    }
    NW_METRIC_ADD(m->frames_written, written);
    NW_METRIC_ADD(m->queued_bytes, (int64_t)s->q.bytes - (int64_t)before);
    if (!nw_outq_empty(&s->q)) {
        lws_callback_on_writable(s->wsi);
        return 0;
    }
    if (s->close_code == 0)
        return 0;
close:
    if (s->close_code == NW_WS_CLOSE_RESTART || s->close_code == NW_WS_CLOSE_GOING_AWAY)
        NW_METRIC_INC(m->closes[NW_CLOSE_SHUTDOWN]);
    lws_close_reason(s->wsi, (enum lws_close_status)s->close_code,
                     (unsigned char *)s->close_reason, strlen(s->close_reason));
    return -1;
}

/* Applies ?topics= and ?min_urgency= from the handshake URL. Returns -1
 * when the session must close. */
static int apply_url(nw_session_t *s)
{
    char buf[8192], since[NW_WIRE_ID_MAX + 1], epoch[80];
    const char *v;
    bool has_since = false, has_epoch = false;
    int mu = 0;

    v = lws_get_urlarg_by_name(s->wsi, "since=", buf, sizeof(buf));
    if (v != NULL) {
        has_since = true;
        snprintf(since, sizeof(since), "%s", v);
    }
    v = lws_get_urlarg_by_name(s->wsi, "epoch=", buf, sizeof(buf));
    if (v != NULL) {
        has_epoch = true;
        snprintf(epoch, sizeof(epoch), "%s", v);
    }
    v = lws_get_urlarg_by_name(s->wsi, "min_urgency=", buf, sizeof(buf));
    if (v != NULL) {
        if (v[0] < '1' || v[0] > '9' || v[1] != '\0') {
            send_error(s, "invalid_field", "\"min_urgency\" must be an integer 1..9");
            return 0;
        }
        mu = v[0] - '0';
    }
    v = lws_get_urlarg_by_name(s->wsi, "topics=", buf, sizeof(buf));
    if (v != NULL) {
        nw_topic_list_t *list;
        nw_err_t err;
        size_t n = strlen(v), count = 1;
        int rc;
        /* lws decodes '+' in query values to a space; no topic holds a
         * space, so it can only have been a '+' wildcard. */
        for (char *p = (char *)v; *p; p++) {
            if (*p == ' ')
                *p = '+';
            count += *p == ',';
        }
        if (count > s->env->cfg->ws_max_topics) {
            /* Not close_now(): failing ESTABLISHED would leave lws to decide
             * whether CLOSED follows; a queued close always goes through
             * WRITEABLE and CLOSED. */
            NW_METRIC_INC(s->env->metrics->client_errors);
            NW_METRIC_INC(s->env->metrics->closes[NW_CLOSE_POLICY]);
            nw_session_close(s, NW_WS_CLOSE_POLICY, "too many topics", false);
            return 0;
        }
        if (nw_topic_list_parse(v, n, s->env->cfg->ws_max_topics, true, "topics", &list, &err) <
            0) {
            send_error(s, "invalid_topic", err.message);
            return 0;
        }
        if (has_since && !valid_cursor(s, since, has_epoch ? epoch : NULL)) {
            nw_topic_list_free(list);
            return 0;
        }
        rc = subscribe(s, list, mu, has_since ? since : NULL, has_epoch ? epoch : NULL);
        nw_topic_list_free(list);
        return rc;
    }
    if (has_since)
        send_error(s, "invalid_field", "\"since\" needs \"topics\" in the URL");
    if (mu > 0)
        s->min_urgency = (uint8_t)mu;
    return 0;
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
    s->next = env->head;
    if (env->head != NULL)
        env->head->prev = s;
    env->head = s;
    snprintf(sid, sizeof(sid), "%llu", (unsigned long long)s->id);
    if (nw_strmap_put(env->by_id, sid, strlen(sid), s) < 0) {
        nw_session_close(s, NW_WS_CLOSE_INTERNAL, "out of memory", false);
        return 0;
    }
    NW_METRIC_INC(env->metrics->sessions_opened);
    NW_METRIC_ADD(env->metrics->sessions, 1);
    if (fmt == NW_FORMAT_MSGPACK)
        NW_METRIC_ADD(env->metrics->sessions_msgpack, 1);
    snprintf(sid, sizeof(sid), "%u-%llu", env->gateway_id, (unsigned long long)s->id);
    send_control(s, json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:i, s:i}}", "type", "hello",
                              "protocol", "newswire.v1", "server", "newswired/" NW_VERSION,
                              "session", sid, "format",
                              fmt == NW_FORMAT_JSON ? "json" : "msgpack", "limits", "max_topics",
                              (int)env->cfg->ws_max_topics, "max_message_bytes",
                              (int)env->cfg->ws_max_frame));
    return apply_url(s);
}

void nw_session_closed(nw_session_t *s)
{
    nw_session_env_t *env = s->env;

    if (!s->open)
        return;
    s->open = false;
    for (uint32_t i = 0; i < s->nsubs; i++)
        nw_topic_index_remove(env->index, s->subs[i]);
    NW_METRIC_ADD(env->metrics->subscriptions, -(int64_t)s->nsubs);
    free(s->subs);
    s->subs = NULL;
    s->nsubs = 0;
    NW_METRIC_ADD(env->metrics->queued_bytes, -(int64_t)s->q.bytes);
    nw_outq_clear(&s->q);
    free(s->rx);
    s->rx = NULL;
    if (s->held != NULL) {
        nw_outq_clear(s->held);
        free(s->held);
        s->held = NULL;
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
    NW_METRIC_INC(env->metrics->sessions_closed);
    NW_METRIC_ADD(env->metrics->sessions, -1);
    if (s->fmt == NW_FORMAT_MSGPACK)
        NW_METRIC_ADD(env->metrics->sessions_msgpack, -1);
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
        nw_log(NW_LOG_WARN, "session", "resume failed", "session=%u-%llu error=%d",
               env->gateway_id, (unsigned long long)s->id, req->status);
        nw_hist_req_free(req);
        nw_session_close(s, NW_WS_CLOSE_TRY_AGAIN, "history unavailable: retry", false);
        return;
    }
    if (!req->recovered)
        s->skipping = false; /* an unknown cursor says nothing of what the client has */
    send_control(s, json_pack("{s:s, s:o, s:i, s:b, s:s}", "type", "subscribed", "topics",
                              topics_json(s), "min_urgency", s->min_urgency, "recovered",
                              req->recovered, "epoch", req->cur_epoch));
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
        nw_session_deliver(s, ev, f);
        nw_frame_unref(f);
    }
    /* then what arrived live meanwhile, in order */
    while (s->held != NULL && (f = nw_outq_pop(s->held)) != NULL) {
        if (s->close_code == 0) {
            nw_outq_result_t r = enqueue(s, f);
            if (r != NW_OUTQ_OK)
                close_slow(s, r);
            else
                NW_METRIC_INC(env->metrics->deliveries);
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
