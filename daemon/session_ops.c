/* Newswire — a session's client messages: subscribe (with resume),
 * unsubscribe, ping, and the URL query of the handshake. */
#include "session.h"
#include "session_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <libwebsockets.h>

#include "article.h"
#include "codec.h"
#include "log.h"
#include "op.h"
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
    NW_METRIC_ADD1(s->env->metrics->subscriptions, (int64_t)added);
    return 0;
}

/* Applies a subscription request; returns -1 when the session must close. */
static int apply_subscribe(nw_session_t *s, const nw_topic_list_t *list, int min_urgency)
{
    int rc = subscribe_list(s, list);

    if (rc == 1) {
        NW_METRIC_INC1(s->env->metrics->client_errors);
        NW_METRIC_INC1(s->env->metrics->closes[NW_CLOSE_POLICY]);
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

/* Subscribes to list, resuming from since when given. Returns -1 when the
 * session must close now. */
static int subscribe(nw_session_t *s, const nw_topic_list_t *list, int min_urgency,
                     const char *since, const char *epoch)
{
    for (size_t i = 0; i < list->n; i++) {
        if (!nw_auth_pattern_allowed(s->env->auth, s->grant, list->v[i])) {
            char m[NW_TOPIC_MAX_LEN + 96];
            snprintf(m, sizeof(m), "not allowed to subscribe to \"%s\": %s", list->v[i],
                     s->grant ? "the token does not grant it"
                              : "it is not public and no token grants it");
            NW_METRIC_INC1(s->env->metrics->forbidden);
            nw_session_send_error(s, "forbidden", m);
            return 0;
        }
    }
    if (since == NULL)
        return apply_subscribe(s, list, min_urgency);
    switch (subscribe_list(s, list)) {
    case 0:
        break;
    case 1:
        NW_METRIC_INC1(s->env->metrics->client_errors);
        NW_METRIC_INC1(s->env->metrics->closes[NW_CLOSE_POLICY]);
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

/* Handles one complete client message. Returns -1 to close now. */
/* Checks that a resume is allowed now. Returns true, or false after
 * sending an error message. */
static bool resume_allowed(nw_session_t *s)
{
    if (s->nsubs > 0 || s->replaying) {
        nw_session_send_error(
            s, "invalid_field",
            "\"since\" is only accepted with the first subscription of a session");
        return false;
    }
    return true;
}

static void op_unsubscribe(nw_session_t *s, const nw_topic_list_t *list)
{
    json_t *removed = json_array();

    for (size_t i = 0; i < list->n; i++) {
        for (uint32_t j = 0; j < s->nsubs; j++) {
            if (strcmp(nw_sub_pattern(s->subs[j]), list->v[i]) == 0) {
                json_array_append_new(removed, json_string(list->v[i]));
                nw_topic_index_remove(s->env->index, s->subs[j]);
                s->subs[j] = s->subs[--s->nsubs];
                NW_METRIC_ADD1(s->env->metrics->subscriptions, -1);
                break;
            }
        }
    }
    nw_session_send_control(s, json_pack("{s:s, s:o}", "type", "unsubscribed", "topics", removed));
}

int nw_session_handle_message(nw_session_t *s, const char *data, size_t len, bool binary)
{
    nw_op_t op;
    const char *code = NULL;
    nw_err_t err;
    int rc;

    if (!nw_session_rate_take(s)) {
        NW_METRIC_INC1(s->env->metrics->client_errors);
        return nw_session_close_now(s, NW_WS_CLOSE_RATE, "too many messages", NW_CLOSE_RATE);
    }

    if (binary != (s->fmt == NW_FORMAT_MSGPACK)) {
        nw_session_send_error(s, "unsupported_frame",
                              s->fmt == NW_FORMAT_JSON
                                  ? "binary messages are not accepted with newswire.v1.json"
                                  : "text messages are not accepted with newswire.v1.msgpack");
        return 0;
    }
    rc = nw_op_read(data, len, binary, s->env->cfg->ws_max_topics, &op, &code, &err);
    if (rc == -E2BIG) {
        NW_METRIC_INC1(s->env->metrics->client_errors);
        return nw_session_close_now(s, NW_WS_CLOSE_POLICY, "too many topics", NW_CLOSE_POLICY);
    }
    if (rc < 0) {
        nw_session_send_error(s, code, err.message);
        return 0;
    }
    rc = 0;
    switch (op.kind) {
    case NW_OP_SUBSCRIBE:
        if (op.since == NULL || resume_allowed(s))
            rc = subscribe(s, op.topics, op.min_urgency, op.since, op.epoch);
        break;
    case NW_OP_UNSUBSCRIBE:
        op_unsubscribe(s, op.topics);
        break;
    case NW_OP_PING:
        nw_session_send_control(s, json_pack("{s:s}", "type", "pong"));
        break;
    case NW_OP_AUTH:
        rc = nw_session_auth(s, op.token);
        break;
    }
    nw_op_clear(&op);
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
    if (s->rx != NULL && max > s->rx_cap)
        max = s->rx_cap; /* the limit grew in a reload: this message keeps its buffer */
    if (s->rx == NULL) {
        s->rx = malloc(max);
        s->rx_cap = max;
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
    /* an EventSource that reconnects sends the last id it saw */
    if (s->fmt == NW_FORMAT_SSE && lws_hdr_custom_copy(s->wsi, buf, 64, "last-event-id:", 14) > 0) {
        has_since = true;
        snprintf(since, sizeof(since), "%.*s", (int)sizeof(since) - 1, buf);
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
            NW_METRIC_INC1(s->env->metrics->client_errors);
            NW_METRIC_INC1(s->env->metrics->closes[NW_CLOSE_POLICY]);
            nw_session_close(s, NW_WS_CLOSE_POLICY, "too many topics", false);
            return 0;
        }
        if (nw_topic_list_parse(v, n, s->env->cfg->ws_max_topics, true, "topics", &list, &err) <
            0) {
            nw_session_send_error(s, "invalid_topic", err.message);
            return 0;
        }
        if (has_since && (!nw_op_cursor_valid(since) || (has_epoch && !nw_op_epoch_valid(epoch)))) {
            nw_session_send_error(s, "invalid_field",
                                  "\"since\" must be an item id and \"epoch\" the epoch given "
                                  "in \"subscribed\"");
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

/* Closes with one of the 4xxx codes and counts why. */
static void close_auth(nw_session_t *s, uint16_t code, const char *reason, nw_close_reason_t why)
{
    NW_METRIC_INC1(s->env->metrics->closes[why]);
    nw_log(NW_LOG_INFO, "session", "closing", "session=%u-%llu peer=%s code=%u reason=\"%s\"",
           s->env->gateway_id, (unsigned long long)s->id, s->peer, code, reason);
    nw_session_close(s, code, reason, true);
}

int nw_session_auth(nw_session_t *s, const char *token)
{
    nw_session_env_t *env = s->env;
    int64_t now = nw_now_ms();
    nw_grant_t *g = calloc(1, sizeof(*g));
    const char *why = "invalid token";
    char expires[NW_RFC3339_MAX];
    json_t *topics;
    int rc;

    if (g == NULL) {
        nw_session_close(s, NW_WS_CLOSE_INTERNAL, "out of memory", false);
        return 0;
    }
    rc = nw_auth_verify(env->auth, token, now, g, &why);
    if (rc < 0) {
        free(g);
        if (rc == -NW_TOKEN_EXPIRED)
            close_auth(s, NW_WS_CLOSE_TOKEN_EXPIRED, why, NW_CLOSE_TOKEN_EXPIRED);
        else
            close_auth(s, NW_WS_CLOSE_TOKEN_INVALID, why, NW_CLOSE_TOKEN_INVALID);
        return 0;
    }
    /* A new token must cover what the session already holds. */
    for (uint32_t i = 0; i < s->nsubs; i++) {
        if (!nw_auth_pattern_allowed(env->auth, g, nw_sub_pattern(s->subs[i]))) {
            nw_grant_clear(g);
            free(g);
            close_auth(s, NW_WS_CLOSE_FORBIDDEN, "token does not cover the subscriptions",
                       NW_CLOSE_FORBIDDEN);
            return 0;
        }
    }
    if (s->grant != NULL && s->grant->max_conn > 0)
        nw_limits_sub_release(env->limits, s->grant->sub);
    if (s->grant != NULL) {
        nw_grant_clear(s->grant);
        free(s->grant);
    }
    s->grant = g;
    if (g->max_conn > 0 && !nw_limits_sub_acquire(env->limits, g->sub, g->max_conn)) {
        g->max_conn = 0; /* not counted: nothing to release */
        close_auth(s, NW_WS_CLOSE_MAX_CONN, "too many sessions for this token", NW_CLOSE_MAX_CONN);
        return 0;
    }
    /* the session ends when the token expires (nw_session_keepalive(),
     * nw_session_deliver()) */
    nw_rfc3339_format(g->exp_ms, expires);
    topics = json_array();
    for (size_t i = 0; topics != NULL && i < g->topics->n; i++)
        json_array_append_new(topics, json_string(g->topics->v[i]));
    nw_session_send_control(s, json_pack("{s:s, s:s, s:o, s:s}", "type", "authenticated", "sub",
                                         g->sub, "topics", topics, "expires", expires));
    return 0;
}

/* Takes one message from the session's rate bucket (ws_ops_per_sec,
 * ws_ops_burst). Returns false when the bucket is empty. */
bool nw_session_rate_take(nw_session_t *s)
{
    const nw_config_t *cfg = s->env->cfg;
    uint64_t now = (uint64_t)nw_mono_ms(), cap = (uint64_t)cfg->ws_ops_burst * 1000;
    uint64_t tokens = s->ops_milli;

    if (s->ops_last_ms == 0)
        tokens = cap;
    else
        tokens += (now - s->ops_last_ms) * cfg->ws_ops_per_sec;
    s->ops_last_ms = now;
    if (tokens > cap)
        tokens = cap;
    if (tokens < 1000) {
        s->ops_milli = (uint32_t)tokens;
        return false;
    }
    s->ops_milli = (uint32_t)(tokens - 1000);
    return true;
}
