/* Newswire — a session's client messages: subscribe (with resume),
 * unsubscribe, ping, and the URL query of the handshake. */
#include "session.h"
#include "session_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libwebsockets.h>

#include "article.h"
#include "codec.h"
#include "log.h"
#include "topic.h"

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
        nw_session_send_error(s, "internal", "out of memory");
        return 0;
    }
    if (min_urgency > 0)
        s->min_urgency = (uint8_t)min_urgency;
    nw_session_send_control(s, json_pack("{s:s, s:o, s:i}", "type", "subscribed", "topics",
                                         nw_session_topics_json(s), "min_urgency", s->min_urgency));
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
        nw_session_send_error(s, "invalid_field",
                              "\"topics\" must be a non-empty array of strings");
        return -1;
    }
    n = json_array_size(arr);
    if (n > s->env->cfg->ws_max_topics)
        return 1;
    v = calloc(n, sizeof(*v));
    if (v == NULL) {
        nw_session_send_error(s, "internal", "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        v[i] = json_string_value(json_array_get(arr, i));
        if (v[i] == NULL) {
            nw_session_send_error(s, "invalid_field",
                                  "\"topics\" must be a non-empty array of strings");
            rc = -1;
        }
    }
    if (rc == 0 && nw_topic_list_from_array(v, n, n, true, "topics", out, &err) < 0) {
        nw_session_send_error(s, "invalid_topic", err.message);
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
        nw_session_send_error(s, "invalid_field", "\"min_urgency\" must be an integer 1..9");
        return -1;
    }
    return (int)json_integer_value(v);
}

/* Checks that msg has no member outside allowed (NULL-terminated). */
static bool only_fields(nw_session_t *s, const json_t *msg, const char *const *allowed)
{
    const char *key;
    json_t *value;

    json_object_foreach((json_t *)msg, key, value)
    {
        bool ok = false;
        for (const char *const *a = allowed; *a != NULL; a++)
            ok = ok || strcmp(*a, key) == 0;
        if (!ok) {
            char m[192];
            snprintf(m, sizeof(m), "unknown field \"%.64s\"", key);
            nw_session_send_error(s, "invalid_field", m);
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
        nw_session_close(s, NW_WS_CLOSE_TRY_AGAIN, "not ready to resume: retry", true);
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
        nw_session_close(s, NW_WS_CLOSE_TRY_AGAIN, "server busy: retry", true);
        return 0;
    }
    return 0;
}

/* Checks since (a wire id) and epoch (hex, optional). Returns true, or false
 * after sending an error frame. */
static bool valid_cursor(nw_session_t *s, const char *since, const char *epoch)
{
    uint64_t ms, seq;

    if (since == NULL || strlen(since) >= NW_WIRE_ID_MAX ||
        nw_stream_id_parse(since, &ms, &seq) < 0) {
        nw_session_send_error(s, "invalid_field", "\"since\" must be an item id (\"<ms>-<seq>\")");
        return false;
    }
    if (epoch != NULL && (strlen(epoch) == 0 || strlen(epoch) > 63 ||
                          strspn(epoch, "0123456789abcdef") != strlen(epoch))) {
        nw_session_send_error(s, "invalid_field",
                              "\"epoch\" must be the epoch given in \"subscribed\"");
        return false;
    }
    if (s->nsubs > 0 || s->replaying) {
        nw_session_send_error(
            s, "invalid_field",
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
        nw_session_send_error(s, "internal", "out of memory");
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
        nw_session_send_error(s, "invalid_field", "\"since\" and \"epoch\" must be strings");
        return 0;
    }
    if (since_j != NULL && !valid_cursor(s, since, epoch))
        return 0;
    rc = read_topics(s, msg, &list);
    if (rc == 1) {
        NW_METRIC_INC(s->env->metrics->client_errors);
        return nw_session_close_now(s, NW_WS_CLOSE_POLICY, "too many topics", NW_CLOSE_POLICY);
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
        nw_session_send_error(s, "invalid_field", "too many topics in one request");
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
    nw_session_send_control(s, json_pack("{s:s, s:o}", "type", "unsubscribed", "topics", removed));
    return 0;
}

/* Handles one complete client message. Returns -1 to close now. */
int nw_session_handle_message(nw_session_t *s, const char *data, size_t len, bool binary)
{
    json_t *msg;
    const char *op;
    int rc = 0;

    if (binary != (s->fmt == NW_FORMAT_MSGPACK)) {
        nw_session_send_error(s, "unsupported_frame",
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
            snprintf(m, sizeof(m), "invalid JSON at line %d column %d: %s", jerr.line, jerr.column,
                     jerr.text);
            nw_session_send_error(s, "invalid_json", m);
            return 0;
        }
    } else {
        nw_err_t err;
        if (nw_codec_msgpack_to_json(data, len, &msg, &err) < 0) {
            char m[sizeof(err.field) + sizeof(err.message) + 32];
            snprintf(m, sizeof(m), "invalid msgpack%s%s: %s", err.field[0] ? " at " : "", err.field,
                     err.message);
            nw_session_send_error(s, "invalid_msgpack", m);
            return 0;
        }
    }
    op = json_string_value(json_object_get(msg, "op"));
    if (!json_is_object(msg) || op == NULL)
        nw_session_send_error(s, "invalid_message", "a message is an object with a string \"op\"");
    else if (strcmp(op, "subscribe") == 0)
        rc = op_subscribe(s, msg);
    else if (strcmp(op, "unsubscribe") == 0)
        rc = op_unsubscribe(s, msg);
    else if (strcmp(op, "ping") == 0)
        nw_session_send_control(s, json_pack("{s:s}", "type", "pong"));
    else {
        char m[128];
        snprintf(m, sizeof(m), "unknown op \"%.64s\"", op);
        nw_session_send_error(s, "unknown_op", m);
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
        return nw_session_close_now(s, NW_WS_CLOSE_TOO_BIG, "message too big", NW_CLOSE_TOO_BIG);
    }
    if (first && final && s->rx == NULL) {
        if (len > max)
            return nw_session_close_now(s, NW_WS_CLOSE_TOO_BIG, "message too big",
                                        NW_CLOSE_TOO_BIG);
        return nw_session_handle_message(s, in, len, binary);
    }
    if (s->rx == NULL) {
        s->rx = malloc(max);
        s->rx_len = 0;
        if (s->rx == NULL)
            return nw_session_close_now(s, NW_WS_CLOSE_INTERNAL, "out of memory", NW_CLOSE_POLICY);
    }
    if (s->rx_len + len > max) {
        free(s->rx);
        s->rx = NULL;
        s->rx_len = 0;
        if (final)
            return nw_session_close_now(s, NW_WS_CLOSE_TOO_BIG, "message too big",
                                        NW_CLOSE_TOO_BIG);
        s->rx_too_big = true;
        return 0;
    }
    memcpy(s->rx + s->rx_len, in, len);
    s->rx_len += len;
    if (!final)
        return 0;
    rc = nw_session_handle_message(s, s->rx, s->rx_len, binary);
    free(s->rx);
    s->rx = NULL;
    s->rx_len = 0;
    return rc;
}

/* Applies ?topics= and ?min_urgency= from the handshake URL. Returns -1
 * when the session must close. */
int nw_session_apply_url(nw_session_t *s)
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
            nw_session_send_error(s, "invalid_field", "\"min_urgency\" must be an integer 1..9");
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
            /* Not nw_session_close_now(): failing ESTABLISHED would leave lws to decide
             * whether CLOSED follows; a queued close always goes through
             * WRITEABLE and CLOSED. */
            NW_METRIC_INC(s->env->metrics->client_errors);
            NW_METRIC_INC(s->env->metrics->closes[NW_CLOSE_POLICY]);
            nw_session_close(s, NW_WS_CLOSE_POLICY, "too many topics", false);
            return 0;
        }
        if (nw_topic_list_parse(v, n, s->env->cfg->ws_max_topics, true, "topics", &list, &err) <
            0) {
            nw_session_send_error(s, "invalid_topic", err.message);
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
        nw_session_send_error(s, "invalid_field", "\"since\" needs \"topics\" in the URL");
    if (mu > 0)
        s->min_urgency = (uint8_t)mu;
    return 0;
}
