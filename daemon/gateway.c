/* Newswire — gateway thread: lws context, WebSocket callback, event
 * dispatch through the topic index. */
#include "gateway.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <libwebsockets.h>

#include "frame.h"
#include "handoff.h"
#include "listener.h"
#include "log.h"
#include "recent.h"
#include "session.h"
#include "static.h"
#include "topic_index.h"

#define NW_DRAIN_BATCH     64
#define NW_ACCEPT_BATCH    64 /* connections accepted per wake-up of the listener */
#define NW_LISTEN_BACKLOG  4096
#define NW_FRAME_CACHE     32           /* distinct (format, topic mask) frames kept per event */
#define NW_TX_PACKET_BYTES (256 * 1024) /* one send() at most */

struct nw_gateway {
    unsigned index;
    const nw_config_t *cfg; /* as at start: listeners, TLS, threads */
    nw_config_t *own_cfg;   /* this gateway's copy, replaced on reload */
    nw_gateway_metrics_t *metrics;
    nw_handoff_t *handoff;
    struct lws_context *ctx;
    struct ev_loop *loop; /* libev (epoll) loop of the lws context, or NULL: lws' poll() */
    pthread_t thread;
    bool thread_started;

    /* start-up hand-shake between the core and the gateway thread */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool start_done;
    int start_rc;
    bool closed;

    /* a reload handed over by the core thread, applied at the next wake-up */
    nw_config_t *pending_cfg;
    nw_auth_t *pending_auth;

    /* history answers handed back by the core thread */
    nw_hist_req_t *replies;
    char position[NW_WIRE_ID_MAX]; /* wire position set by the core, under lock */
    bool position_set;

    atomic_uint_fast64_t heartbeat; /* gateway: counts wake-ups (watchdog) */
    atomic_bool stop;               /* core: close sessions, refuse new ones */
    atomic_bool drained;            /* gateway: stop seen and no session left */
    atomic_bool quit;               /* core: leave the loop */
    atomic_bool wake_pending;       /* core: woken, gateway: not yet drained */

    /* gateway-thread state */
    nw_session_env_t env;
    size_t nsessions;
    uint64_t seq;
    nw_session_t **hits; /* dispatch scratch, capacity >= nsessions */
    size_t caphits;
    size_t nhits;

    lws_retry_bo_t retry;         /* all zero: no lws validity timers */
    lws_sorted_usec_list_t sweep; /* nw_session_keepalive() over every session */
    struct lws_protocols protocols[4];
    struct lws_vhost *vhost;
    int listen_fd, spare_fd;
    bool accept_error_logged;
};

/* Per-event dispatch scratch: the bit of the topic being matched. */
typedef struct match_ctx {
    nw_gateway_t *gw;
    uint32_t bit;
} match_ctx_t;

static void match_visit_cb(void *owner, void *arg)
{
    match_ctx_t *mc = arg;
    nw_gateway_t *gw = mc->gw;
    nw_session_t *s = owner;

    if (s->mark != gw->seq) {
        s->mark = gw->seq;
        s->mask = 0;
        gw->hits[gw->nhits++] = s;
    }
    s->mask |= mc->bit;
}

/* Routes one event to every session with a matching subscription: each
 * session gets the event once, with the item's topics it matched. Frames are
 * built once per (format, mask) and shared. */
static void gw_dispatch(nw_gateway_t *gw, const nw_event_t *ev)
{
    struct {
        nw_format_t fmt;
        uint32_t mask;
        nw_frame_t *frame;
    } cache[NW_FRAME_CACHE];
    size_t ncache = 0;
    bool filterable = ev->kind == NW_KIND_NEW || ev->kind == NW_KIND_UPDATE;

    gw->seq++;
    gw->nhits = 0;
    memcpy(gw->env.last_id, ev->id, sizeof(ev->id));
    NW_METRIC_INC1(gw->metrics->events);
    for (size_t i = 0; i < ev->ntopics; i++) {
        match_ctx_t mc = {gw, 1u << i};
        nw_topic_index_match(gw->env.index, ev->topics[i], match_visit_cb, &mc);
    }
    for (size_t h = 0; h < gw->nhits; h++) {
        nw_session_t *s = gw->hits[h];
        nw_frame_t *f = NULL;
        size_t c;

        if (filterable && ev->urgency > s->min_urgency)
            continue;
        for (c = 0; c < ncache; c++) {
            if (cache[c].fmt == s->fmt && cache[c].mask == s->mask) {
                f = cache[c].frame;
                break;
            }
        }
        if (f == NULL) {
            f = nw_frame_item(ev, s->fmt, s->mask);
            if (f == NULL) {
                nw_session_close(s, NW_WS_CLOSE_INTERNAL, "out of memory", false);
                continue;
            }
            if (ncache < NW_FRAME_CACHE) {
                cache[ncache].fmt = s->fmt;
                cache[ncache].mask = s->mask;
                cache[ncache++].frame = f;
            } else {
                nw_session_deliver(s, ev, f);
                nw_frame_unref(f);
                continue;
            }
        }
        nw_session_deliver(s, ev, f);
    }
    for (size_t c = 0; c < ncache; c++)
        nw_frame_unref(cache[c].frame);
}

/* Runs on the gateway thread when woken: drains the hand-off queue, starts
 * the shutdown when asked. */
/* After a reload narrowed the policy (public_topics, a token key): a
 * session holding a pattern it may no longer subscribe to is closed (4003),
 * so a reload really revokes access. */
static void gw_recheck_sessions(nw_gateway_t *gw)
{
    for (nw_session_t *s = gw->env.head; s != NULL; s = s->next) {
        for (uint32_t i = 0; i < s->nsubs && s->close_code == 0; i++) {
            if (!nw_auth_pattern_allowed(gw->env.auth, s->grant, nw_sub_pattern(s->subs[i]))) {
                NW_METRIC_INC1(gw->metrics->closes[NW_CLOSE_FORBIDDEN]);
                nw_session_close(s, NW_WS_CLOSE_FORBIDDEN, "no longer allowed", false);
            }
        }
    }
}

static void gw_wake_cb(nw_gateway_t *gw)
{
    nw_event_t *batch[NW_DRAIN_BATCH];
    nw_hist_req_t *replies;
    bool reconfigured = false;
    size_t n;

    atomic_fetch_add(&gw->heartbeat, 1);
    /* from here on a new event needs a new wake-up */
    atomic_store(&gw->wake_pending, false);
    if (atomic_load(&gw->quit) && gw->loop != NULL) {
        ev_break(gw->loop, EVBREAK_ALL);
        return;
    }
    pthread_mutex_lock(&gw->lock);
    if (gw->pending_cfg != NULL) {
        /* a reload: sessions read limits through env.cfg and env.auth */
        free(gw->own_cfg);
        gw->own_cfg = gw->pending_cfg;
        gw->env.cfg = gw->own_cfg;
        gw->pending_cfg = NULL;
        nw_auth_free(gw->env.auth);
        gw->env.auth = gw->pending_auth;
        gw->pending_auth = NULL;
        reconfigured = true;
    }
    if (gw->position_set) {
        /* The tail (re)started: every event after this id will come. */
        gw->position_set = false;
        if (nw_stream_id_cmp(gw->position, gw->env.last_id) > 0 || gw->env.last_id[0] == '\0')
            memcpy(gw->env.last_id, gw->position, sizeof(gw->position));
    }
    replies = gw->replies;
    gw->replies = NULL;
    pthread_mutex_unlock(&gw->lock);
    if (reconfigured)
        gw_recheck_sessions(gw);

    /* Items are queued during the batch and written after it: a session
     * given several items gets them in one send(). */
    gw->env.batching = gw->env.write_now;
    while ((n = nw_handoff_drain(gw->handoff, batch, NW_DRAIN_BATCH)) > 0) {
        gw->env.wake_ms = nw_now_ms(); /* token expiry, for every delivery of the chunk */
        for (size_t i = 0; i < n; i++) {
            gw_dispatch(gw, batch[i]);
            nw_event_unref(batch[i]);
        }
    }
    gw->env.batching = false;
    nw_session_flush_dirty(&gw->env);
    /* History answers after the events drained above: an answer covers up
     * to the last event dispatched when its session subscribed, and every
     * later event has reached the session's held queue by now. */
    gw->env.wake_ms = nw_now_ms();
    while (replies != NULL) {
        nw_hist_req_t *req = replies;
        replies = req->next;
        req->next = NULL;
        nw_session_history_done(&gw->env, req);
    }
    if (atomic_load(&gw->stop) && !gw->env.shutting_down) {
        gw->env.shutting_down = true;
        for (nw_session_t *s = gw->env.head; s != NULL; s = s->next)
            nw_session_close(s, NW_WS_CLOSE_RESTART, "service restart", true);
    }
    if (gw->env.shutting_down && gw->env.head == NULL)
        atomic_store(&gw->drained, true);
}

/* Answers a refused upgrade with status and a JSON error body. Returns 1
 * (the upgrade was answered), or -1 to just hang up when the answer cannot
 * be written. */
static int gw_refuse_upgrade(nw_gateway_t *gw, struct lws *wsi, nw_refuse_reason_t why,
                             unsigned status, const char *message)
{
    unsigned char buf[LWS_PRE + 1024];
    char *head = (char *)buf + LWS_PRE;
    char body[256];
    int n = snprintf(body, sizeof(body), "{\"error\":\"%s\"}", message);
    bool retry_after = status == 429 || status == HTTP_STATUS_SERVICE_UNAVAILABLE;
    const char *text = status == 400   ? "Bad Request"
                       : status == 403 ? "Forbidden"
                       : status == 404 ? "Not Found"
                       : status == 429 ? "Too Many Requests"
                                       : "Service Unavailable";
    int h;

    NW_METRIC_INC1(gw->metrics->rejected_handshakes);
    NW_METRIC_INC1(gw->metrics->refused[why]);
    /* The response head is written whole: at this point lws has not
     * recorded the request's HTTP version and would answer "HTTP/1.0",
     * which some WebSocket clients refuse to parse. */
    h = snprintf(head, sizeof(buf) - LWS_PRE,
                 "HTTP/1.1 %u %s\x0d\x0a"
                 "content-type: application/json\x0d\x0a"
                 "content-length: %d\x0d\x0a"
                 "x-content-type-options: nosniff\x0d\x0a"
                 "%s"
                 "connection: close\x0d\x0a\x0d\x0a",
                 status, text, n, retry_after ? "retry-after: 1\x0d\x0a" : "");
    if (h < 0 || (size_t)h >= sizeof(buf) - LWS_PRE)
        return -1;
    if (lws_write(wsi, (unsigned char *)head, (size_t)h, LWS_WRITE_HTTP_HEADERS) != h)
        return -1;
    if (lws_write(wsi, (unsigned char *)body, (size_t)n, LWS_WRITE_HTTP_FINAL) != n)
        return -1;
    return 1;
}

/* True if the comma-separated Sec-WebSocket-Protocol list names one of
 * ours (or is absent: JSON). */
static bool gw_offers_known_protocol(struct lws *wsi)
{
    char list[512];
    char *save = NULL;

    if (lws_hdr_total_length(wsi, WSI_TOKEN_PROTOCOL) <= 0)
        return true;
    if (lws_hdr_copy(wsi, list, sizeof(list), WSI_TOKEN_PROTOCOL) < 0)
        return false;
    for (char *t = strtok_r(list, ", \t", &save); t != NULL; t = strtok_r(NULL, ", \t", &save)) {
        if (strcmp(t, "newswire.v1.json") == 0 || strcmp(t, "newswire.v1.msgpack") == 0)
            return true;
    }
    return false;
}

/* The origin and connection-limit checks shared by WebSocket upgrades and
 * SSE streams. Returns 0 to go on (*cors, when not NULL, is set to the
 * Access-Control-Allow-Origin to send, or NULL), or what gw_refuse_upgrade
 * returned. origin is scratch space. */
static int gw_refuse_check(nw_gateway_t *gw, struct lws *wsi, char *origin, size_t olen,
                           const char **cors)
{
    char peer[48];
    int rc;

    /* Origins protect browsers: a request without Origin is not a
     * browser's and is not refused. */
    if (gw->env.auth != NULL && lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) > 0) {
        if (lws_hdr_copy(wsi, origin, (int)olen, WSI_TOKEN_ORIGIN) < 0 ||
            !nw_auth_origin_allowed(gw->env.auth, origin))
            return gw_refuse_upgrade(gw, wsi, NW_REFUSE_ORIGIN, HTTP_STATUS_FORBIDDEN,
                                     "origin not allowed");
        if (cors != NULL)
            *cors = nw_auth_any_origin(gw->env.auth) ? "*" : origin;
    }
    if (gw->env.limits != NULL) {
        lws_get_peer_simple(wsi, peer, sizeof(peer));
        rc = nw_limits_check(gw->env.limits, peer);
        if (rc == -EMFILE)
            return gw_refuse_upgrade(gw, wsi, NW_REFUSE_TOTAL, HTTP_STATUS_SERVICE_UNAVAILABLE,
                                     "too many connections");
        if (rc == -EUSERS)
            return gw_refuse_upgrade(gw, wsi, NW_REFUSE_PER_IP, 429,
                                     "too many connections from this address");
    }
    return 0;
}

/* Accepts an upgrade only on /v1/stream with a known subprotocol (or none),
 * and not while shutting down. */
static int gw_confirm_upgrade(nw_gateway_t *gw, struct lws *wsi)
{
    char uri[256], origin[512];

    if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) < 0 ||
        strcmp(uri, "/v1/stream") != 0)
        return gw_refuse_upgrade(gw, wsi, NW_REFUSE_PATH, HTTP_STATUS_NOT_FOUND,
                                 "not found: the WebSocket endpoint is /v1/stream");
    if (!gw_offers_known_protocol(wsi))
        return gw_refuse_upgrade(gw, wsi, NW_REFUSE_SUBPROTOCOL, HTTP_STATUS_BAD_REQUEST,
                                 "unsupported subprotocol: use newswire.v1.json or "
                                 "newswire.v1.msgpack");
    if (gw->env.shutting_down)
        return gw_refuse_upgrade(gw, wsi, NW_REFUSE_SHUTDOWN, HTTP_STATUS_SERVICE_UNAVAILABLE,
                                 "server shutting down");
    return gw_refuse_check(gw, wsi, origin, sizeof(origin), NULL);
}

/* Makes room in the dispatch scratch for one more session. */
static int gw_reserve_hit(nw_gateway_t *gw)
{
    if (gw->nsessions + 1 > gw->caphits) {
        size_t ncap = gw->caphits ? gw->caphits * 2 : 64;
        nw_session_t **nh = realloc(gw->hits, ncap * sizeof(*nh));
        if (nh == NULL)
            return -ENOMEM;
        gw->hits = nh;
        gw->caphits = ncap;
    }
    return 0;
}

/* Static files, with the CORS answer an allowed Origin gets ("*" when any
 * origin is allowed). A disallowed Origin is refused (403). */
static int gw_serve_static(nw_gateway_t *gw, struct lws *wsi, const char *path)
{
    char origin[512];
    const char *cors = NULL;

    if (gw->env.auth != NULL && lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) > 0) {
        if (lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) < 0 ||
            !nw_auth_origin_allowed(gw->env.auth, origin)) {
            /* answered (then closed): 0 tells the caller not to 404 it */
            return gw_refuse_upgrade(gw, wsi, NW_REFUSE_ORIGIN, HTTP_STATUS_FORBIDDEN,
                                     "origin not allowed") < 0
                       ? -1
                       : 0;
        }
        cors = nw_auth_any_origin(gw->env.auth) ? "*" : origin;
    } else if (gw->env.auth == NULL || nw_auth_any_origin(gw->env.auth)) {
        cors = "*";
    }
    return nw_static_serve(wsi, gw->env.cfg->static_dir, path, cors);
}

static void gw_session_closed(nw_gateway_t *gw, nw_session_t *s)
{
    nw_session_closed(s);
    gw->nsessions--;
    if (gw->env.shutting_down && gw->env.head == NULL)
        atomic_store(&gw->drained, true);
}

/* GET /v1/events: a Server-Sent Events stream. The same refusals as a
 * WebSocket upgrade; then the response head, and a session in SSE format
 * that the writeable callback feeds for as long as the client reads. */
static int gw_sse_start(nw_gateway_t *gw, nw_session_t *s, struct lws *wsi)
{
    unsigned char buf[LWS_PRE + 640];
    char *head = (char *)buf + LWS_PRE, origin[512];
    const char *cors = NULL;
    int rc, n;

    char topics[4096];

    if (gw->env.shutting_down)
        rc = gw_refuse_upgrade(gw, wsi, NW_REFUSE_SHUTDOWN, HTTP_STATUS_SERVICE_UNAVAILABLE,
                               "server shutting down");
    else if (lws_get_urlarg_by_name(wsi, "topics=", topics, sizeof(topics)) == NULL)
        rc = gw_refuse_upgrade(gw, wsi, NW_REFUSE_PATH, HTTP_STATUS_BAD_REQUEST,
                               "an event stream needs ?topics=");
    else
        rc = gw_refuse_check(gw, wsi, origin, sizeof(origin), &cors);
    if (rc != 0)
        return rc < 0 ? -1 : 0; /* answered */
    n = snprintf(head, sizeof(buf) - LWS_PRE,
                 "HTTP/1.1 200 OK\x0d\x0a"
                 "content-type: text/event-stream; charset=utf-8\x0d\x0a"
                 "cache-control: no-cache\x0d\x0a"
                 "x-accel-buffering: no\x0d\x0a"
                 "x-content-type-options: nosniff\x0d\x0a"
                 "%s%s%s"
                 "connection: close\x0d\x0a\x0d\x0a",
                 cors ? "access-control-allow-origin: " : "", cors ? cors : "",
                 cors ? "\x0d\x0avary: origin\x0d\x0a" : "");
    if (n < 0 || (size_t)n >= sizeof(buf) - LWS_PRE ||
        lws_write(wsi, (unsigned char *)head, (size_t)n, LWS_WRITE_HTTP_HEADERS) != n)
        return -1;
    /* the stream lasts: no HTTP transaction timeout */
    lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
    if (gw_reserve_hit(gw) < 0)
        return -1;
    gw->nsessions++;
    return nw_session_open(s, wsi, &gw->env, NW_FORMAT_SSE);
}

/* A connection's request head arrived: it is no longer in its handshake. */
static void gw_handshake_done(struct lws *wsi)
{
    lws_set_opaque_user_data(wsi, NULL);
}

/* A connection ends: one that never sent a whole request head either ran
 * into ws_handshake_timeout (lws dropped it) or was closed by the client. */
static void gw_handshake_end(nw_gateway_t *gw, struct lws *wsi)
{
    uintptr_t accepted = (uintptr_t)lws_get_opaque_user_data(wsi);
    int64_t limit;

    if (accepted == 0 || gw == NULL)
        return;
    lws_set_opaque_user_data(wsi, NULL);
    /* lws times out in whole seconds (info.timeout_secs) */
    limit = (int64_t)NW_MAX(1u, gw->cfg->ws_handshake_timeout_ms / 1000) * 1000 - 250;
    if (nw_now_ms() - (int64_t)accepted >= limit)
        NW_METRIC_INC1(gw->metrics->handshake_timeouts);
    else
        NW_METRIC_INC1(gw->metrics->handshake_aborts);
}

static int gw_ws_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct lws_context *ctx = lws_get_context(wsi);
    nw_gateway_t *gw = ctx ? lws_context_user(ctx) : NULL;
    nw_session_t *s = user;

    switch (reason) {
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        gw_handshake_done(wsi);
        return gw_confirm_upgrade(gw, wsi);
    case LWS_CALLBACK_WSI_DESTROY:
        gw_handshake_end(gw, wsi);
        return 0;
    case LWS_CALLBACK_RECEIVE_PONG:
        if (s != NULL && s->open)
            s->last_rx_ms = nw_now_ms();
        return 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (s != NULL && s->open)
            s->peer_closed = true;
        return 0;
    case LWS_CALLBACK_ESTABLISHED: {
        const struct lws_protocols *p = lws_get_protocol(wsi);
        if (gw_reserve_hit(gw) < 0)
            return -1;
        gw->nsessions++;
        return nw_session_open(s, wsi, &gw->env,
                               p->id == NW_FORMAT_MSGPACK ? NW_FORMAT_MSGPACK : NW_FORMAT_JSON);
    }
    case LWS_CALLBACK_RECEIVE:
        s->last_rx_ms = nw_now_ms();
        return nw_session_receive(s, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return nw_session_writeable(s);
    case LWS_CALLBACK_CLOSED:
        if (s != NULL && s->open)
            gw_session_closed(gw, s);
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (gw != NULL)
            gw_wake_cb(gw);
        return 0;
    case LWS_CALLBACK_HTTP: {
        int rc;
        gw_handshake_done(wsi);
        if (strcmp((const char *)in, "/v1/events") == 0)
            return gw_sse_start(gw, s, wsi);
        rc = nw_recent_http_start(&gw->env, s, wsi, (const char *)in);
        if (rc <= 0)
            return rc;
        if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0 ||
            lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) > 0) {
            rc = gw_serve_static(gw, wsi, (const char *)in);
            if (rc <= 0)
                return rc;
        }
        break; /* not ours: lws_callback_http_dummy answers (404) */
    }
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (s != NULL && s->http)
            return nw_recent_http_writeable(s);
        if (s != NULL && s->open && s->fmt == NW_FORMAT_SSE)
            return nw_session_writeable(s);
        break;
    case LWS_CALLBACK_CLOSED_HTTP:
        if (s != NULL && s->http)
            nw_recent_http_closed(&gw->env, s);
        if (s != NULL && s->open && s->fmt == NW_FORMAT_SSE)
            gw_session_closed(gw, s);
        break;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* The accept protocol's callback: the listening socket is readable. */
static int gw_accept_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len)
{
    struct lws_context *ctx = lws_get_context(wsi);
    nw_gateway_t *gw = ctx ? lws_context_user(ctx) : NULL;
    struct lws *nw;
    bool tls;

    if (reason != LWS_CALLBACK_RAW_RX_FILE || gw == NULL)
        return 0;
    tls = gw->cfg->tls_cert[0] != '\0';
    for (int i = 0; i < NW_ACCEPT_BATCH; i++) {
        lws_sock_file_fd_type fd;
        int rc = nw_listen_accept(gw->listen_fd, &gw->spare_fd);

        if (rc == -EAGAIN)
            break;
        if (rc < 0) {
            if (!gw->accept_error_logged)
                nw_log(NW_LOG_ERROR, "gateway", "accept failed", "gateway=%u error=\"%s\"",
                       gw->index, strerror(-rc));
            gw->accept_error_logged = true;
            break;
        }
        gw->accept_error_logged = false;
        fd.sockfd = rc;
        /* on failure lws closes the descriptor itself */
        nw = lws_adopt_descriptor_vhost(
            gw->vhost, LWS_ADOPT_SOCKET | LWS_ADOPT_HTTP | (tls ? LWS_ADOPT_ALLOW_SSL : 0), fd,
            NULL, NULL);
        /* the accept time, until a request head arrives (gw_handshake_*) */
        if (nw != NULL)
            lws_set_opaque_user_data(nw, (void *)(uintptr_t)nw_now_ms());
    }
    return 0;
}

/* Opens this gateway's listening socket and watches it from the lws loop. */
static int gw_listen(nw_gateway_t *gw)
{
    const nw_config_t *cfg = gw->cfg;
    lws_sock_file_fd_type fd;
    int lfd;

    gw->vhost = lws_get_vhost_by_name(gw->ctx, "default");
    if (gw->vhost == NULL)
        return -ENOENT;
    lfd = nw_listen_socket(cfg->listen.host, cfg->listen.port,
                           cfg->gateway_threads > 1 || cfg->reuse_port, NW_LISTEN_BACKLOG);
    if (lfd < 0)
        return lfd;
    gw->listen_fd = lfd;
    gw->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    fd.filefd = lfd;
    if (lws_adopt_descriptor_vhost(gw->vhost, LWS_ADOPT_RAW_FILE_DESC, fd, "newswire-accept",
                                   NULL) == NULL)
        return -EIO; /* lws closed lfd */
    return 0;
}

/* Creates the lws context on a libev loop of this thread: libev waits with
 * epoll, so a wake-up costs what is ready rather than a poll() over every
 * connection (lws' default loop, which made fan-out to many topics cost
 * O(connections) per item). Falls back to lws' own poll() loop, with a
 * warning, when the libev plugin of lws (libwebsockets-evlib-ev) is missing. */
static struct lws_context *gw_create_context(nw_gateway_t *gw,
                                             struct lws_context_creation_info *info)
{
    struct lws_context *ctx;
    void *loops[1];

    if (gw->cfg->gateway_epoll) {
        gw->loop = ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOSIGMASK);
        if (gw->loop != NULL) {
            loops[0] = gw->loop;
            info->foreign_loops = loops;
            info->options |= LWS_SERVER_OPTION_LIBEV;
            ctx = lws_create_context(info);
            info->foreign_loops = NULL;
            info->options &= ~(uint64_t)LWS_SERVER_OPTION_LIBEV;
            if (ctx != NULL)
                return ctx;
            ev_loop_destroy(gw->loop);
            gw->loop = NULL;
        }
        if (gw->index == 0)
            nw_log(NW_LOG_WARN, "gateway", "no epoll loop for lws, using poll()",
                   "hint=\"install libwebsockets-evlib-ev\"");
    }
    return lws_create_context(info);
}

/* The keepalive sweep runs four times per ws_ping_interval or
 * ws_idle_timeout, whichever is shorter, every sse_check_interval, and at
 * least every second. */
static lws_usec_t gw_sweep_us(const nw_gateway_t *gw)
{
    const nw_config_t *cfg = gw->env.cfg;
    unsigned ms = NW_MIN(cfg->ws_ping_interval_ms, cfg->ws_idle_timeout_ms) / 4;

    ms = NW_MIN(ms, cfg->sse_check_ms);
    return (lws_usec_t)NW_MAX(100u, NW_MIN(1000u, ms)) * 1000;
}

/* One timer for the thread instead of one per connection (see
 * nw_session_keepalive()). */
static void gw_sweep_cb(lws_sorted_usec_list_t *sul)
{
    nw_gateway_t *gw = lws_container_of(sul, nw_gateway_t, sweep);
    int64_t now = nw_now_ms();

    for (nw_session_t *s = gw->env.head; s != NULL; s = s->next)
        nw_session_keepalive(s, now);
    lws_sul_schedule(gw->ctx, 0, &gw->sweep, gw_sweep_cb, gw_sweep_us(gw));
}

static void *gw_thread(void *arg)
{
    nw_gateway_t *gw = arg;
    const nw_config_t *cfg = gw->cfg;
    struct lws_context_creation_info info;
    int rc;

    memset(&info, 0, sizeof(info));
    /* No lws listener: ours (listener.h) shares the port between gateway
     * threads and hands accepted connections to this vhost. */
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.protocols = gw->protocols;
    info.user = gw;
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
    if (strchr(cfg->listen.host, ':') == NULL)
        info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    if (cfg->tls_cert[0] != '\0') {
        /* wss:// and https:// on the public listener */
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = cfg->tls_cert;
        info.ssl_private_key_filepath = cfg->tls_key;
    }
    info.timeout_secs = NW_MAX(1u, cfg->ws_handshake_timeout_ms / 1000);
    /* a connection still sending its request head is timed by this one */
    info.timeout_secs_ah_idle = info.timeout_secs;
    info.max_http_header_data = 8192;
    info.retry_and_idle_policy = &gw->retry;

    gw->ctx = gw_create_context(gw, &info);
    rc = gw->ctx ? gw_listen(gw) : -ENOMEM;
    if (rc < 0) {
        nw_log(NW_LOG_ERROR, "gateway", "cannot listen", "gateway=%u host=%s port=%d error=\"%s\"",
               gw->index, cfg->listen.host, cfg->listen.port, strerror(-rc));
        if (gw->ctx != NULL)
            lws_context_destroy(gw->ctx);
        gw->ctx = NULL;
    }
    pthread_mutex_lock(&gw->lock);
    gw->start_rc = gw->ctx ? 0 : rc;
    gw->start_done = true;
    pthread_cond_signal(&gw->cond);
    pthread_mutex_unlock(&gw->lock);
    if (gw->ctx == NULL)
        return NULL;

    lws_sul_schedule(gw->ctx, 0, &gw->sweep, gw_sweep_cb, gw_sweep_us(gw));
    /* The core thread destroys the context after joining this thread, so
     * that it can keep calling lws_cancel_service() on it until then. */
    while (!atomic_load(&gw->quit)) {
        if (gw->loop != NULL)
            ev_run(gw->loop, 0); /* until gw_wake_cb() breaks it on quit */
        else
            lws_service(gw->ctx, 0);
    }
    lws_sul_cancel(&gw->sweep);
    return NULL;
}

/* Runs on the core thread: hands a history answer back to the gateway that
 * asked, and wakes it. */
static void gw_hist_done_cb(nw_hist_req_t *req, void *arg)
{
    nw_gateway_t *gw = arg;
    nw_hist_req_t **tail;

    pthread_mutex_lock(&gw->lock);
    if (gw->closed) {
        pthread_mutex_unlock(&gw->lock);
        nw_hist_req_free(req);
        return;
    }
    for (tail = &gw->replies; *tail != NULL; tail = &(*tail)->next)
        ;
    req->next = NULL;
    *tail = req;
    pthread_mutex_unlock(&gw->lock);
    nw_gateway_wake(gw);
}

void nw_gateway_set_security(nw_gateway_t *gw, nw_auth_t *auth, nw_limits_t *limits)
{
    gw->env.auth = nw_auth_ref(auth);
    gw->env.limits = limits;
}

int nw_gateway_reconfigure(nw_gateway_t *gw, const nw_config_t *cfg, nw_auth_t *auth)
{
    nw_config_t *copy = malloc(sizeof(*copy));

    if (copy == NULL)
        return -ENOMEM;
    memcpy(copy, cfg, sizeof(*copy));
    pthread_mutex_lock(&gw->lock);
    free(gw->pending_cfg);
    nw_auth_free(gw->pending_auth);
    gw->pending_cfg = copy;
    gw->pending_auth = nw_auth_ref(auth);
    pthread_mutex_unlock(&gw->lock);
    nw_gateway_wake(gw);
    return 0;
}

void nw_gateway_set_history(nw_gateway_t *gw, nw_history_t *history)
{
    gw->env.history = history;
}

void nw_gateway_set_position(nw_gateway_t *gw, const char *id)
{
    pthread_mutex_lock(&gw->lock);
    snprintf(gw->position, sizeof(gw->position), "%s", id);
    gw->position_set = true;
    pthread_mutex_unlock(&gw->lock);
    nw_gateway_wake(gw);
}

nw_gateway_t *nw_gateway_new(const nw_config_t *cfg, nw_metrics_t *metrics, unsigned index)
{
    nw_gateway_t *gw = calloc(1, sizeof(*gw));

    if (gw == NULL)
        return NULL;
    gw->index = index;
    gw->cfg = cfg;
    gw->metrics = &metrics->gateways[index];
    gw->handoff = nw_handoff_new(cfg->handoff_queue_events);
    gw->env.index = nw_topic_index_new();
    gw->env.by_id = nw_strmap_new();
    gw->env.wbuf = malloc(LWS_PRE + NW_COALESCE_BYTES);
    if (gw->handoff == NULL || gw->env.index == NULL || gw->env.by_id == NULL ||
        gw->env.wbuf == NULL)
        goto fail;
    pthread_mutex_init(&gw->lock, NULL);
    pthread_cond_init(&gw->cond, NULL);
    gw->own_cfg = malloc(sizeof(*gw->own_cfg));
    if (gw->own_cfg == NULL)
        goto fail;
    memcpy(gw->own_cfg, cfg, sizeof(*cfg));
    gw->env.cfg = gw->own_cfg;
    gw->env.metrics = gw->metrics;
    gw->env.gateway_id = index;
    gw->env.hist_done = gw_hist_done_cb;
    gw->env.hist_done_arg = gw;

    /* The WebSocket protocols come first: lws uses protocols[0] for plain
     * HTTP too, which gw_ws_cb hands to lws_callback_http_dummy(). A client
     * that names no subprotocol gets protocols[0], JSON. */
    gw->env.shutdown_code = NW_WS_CLOSE_RESTART;
    gw->env.write_now = cfg->write_now != 0;
    /* tx_packet_size: without it lws cuts every send() to rx_buffer_size
     * and copies the rest aside for later writeable callbacks. */
    gw->protocols[0] =
        (struct lws_protocols){"newswire.v1.json", gw_ws_cb, sizeof(nw_session_t), 1024,
                               NW_FORMAT_JSON,     NULL,     NW_TX_PACKET_BYTES};
    gw->protocols[1] =
        (struct lws_protocols){"newswire.v1.msgpack", gw_ws_cb, sizeof(nw_session_t), 1024,
                               NW_FORMAT_MSGPACK,     NULL,     NW_TX_PACKET_BYTES};
    gw->protocols[2] = (struct lws_protocols){"newswire-accept", gw_accept_cb, 0, 0, 0, NULL, 0};
    gw->listen_fd = gw->spare_fd = -1;
    return gw;
fail:
    nw_handoff_free(gw->handoff);
    nw_topic_index_free(gw->env.index);
    nw_strmap_free(gw->env.by_id);
    free(gw->env.wbuf);
    free(gw->own_cfg);
    free(gw);
    return NULL;
}

int nw_gateway_start(nw_gateway_t *gw)
{
    int rc = pthread_create(&gw->thread, NULL, gw_thread, gw);

    if (rc != 0)
        return -rc;
    gw->thread_started = true;
    pthread_mutex_lock(&gw->lock);
    while (!gw->start_done)
        pthread_cond_wait(&gw->cond, &gw->lock);
    rc = gw->start_rc;
    pthread_mutex_unlock(&gw->lock);
    if (rc < 0) {
        pthread_join(gw->thread, NULL);
        gw->thread_started = false;
    }
    return rc;
}

int nw_gateway_push(nw_gateway_t *gw, nw_event_t *ev)
{
    return nw_handoff_push(gw->handoff, ev);
}

size_t nw_gateway_room(nw_gateway_t *gw)
{
    return nw_handoff_room(gw->handoff);
}

/* A wake-up the gateway has not yet acted on covers whatever was handed
 * over since: under load most hand-offs then cost no pipe write. */
void nw_gateway_wake(nw_gateway_t *gw)
{
    if (gw->ctx != NULL && !atomic_exchange(&gw->wake_pending, true))
        lws_cancel_service(gw->ctx);
}

void nw_gateway_stop(nw_gateway_t *gw)
{
    atomic_store(&gw->stop, true);
    nw_gateway_wake(gw);
}

uint64_t nw_gateway_heartbeat(nw_gateway_t *gw)
{
    return atomic_load(&gw->heartbeat);
}

bool nw_gateway_drained(nw_gateway_t *gw)
{
    return !gw->thread_started || atomic_load(&gw->drained);
}

void nw_gateway_free(nw_gateway_t *gw)
{
    if (gw == NULL)
        return;
    pthread_mutex_lock(&gw->lock);
    gw->closed = true; /* history answers from now on are just freed */
    pthread_mutex_unlock(&gw->lock);
    if (gw->thread_started) {
        atomic_store(&gw->quit, true);
        lws_cancel_service(gw->ctx);
        pthread_join(gw->thread, NULL);
        /* closes what is left; callbacks now run on this thread, alone */
        lws_context_destroy(gw->ctx);
    }
    /* also when the thread gave up at start (its context is gone then,
     * the loop it was made on is not) */
    if (gw->loop != NULL)
        ev_loop_destroy(gw->loop);
    if (gw->spare_fd >= 0)
        close(gw->spare_fd);
    while (gw->replies != NULL) {
        nw_hist_req_t *req = gw->replies;
        gw->replies = req->next;
        nw_hist_req_free(req);
    }
    pthread_mutex_destroy(&gw->lock);
    pthread_cond_destroy(&gw->cond);
    nw_handoff_free(gw->handoff);
    nw_topic_index_free(gw->env.index);
    nw_strmap_free(gw->env.by_id);
    free(gw->env.wbuf);
    free(gw->pending_cfg);
    nw_auth_free(gw->pending_auth);
    nw_auth_free(gw->env.auth);
    free(gw->own_cfg);
    free(gw->hits);
    free(gw);
}
