/* Newswire — the HTTP/1.1 server of http.h on libevent bufferevents.
 *
 * One connection is one bufferevent and a timer, driven by a small state
 * machine: idle -> head -> body -> handler -> writing -> idle (keep-alive) or
 * linger -> closed. Parsing is in http_parse.c; the request object, its
 * accessors and the reply path are in http_req.c, and the structs both files
 * share in http_int.h. While a request is with the handler the connection
 * stops reading as soon as more input comes, so pipelined requests wait in
 * the socket buffer and a slow handler applies back-pressure; a client that
 * sends one request at a time costs no event changes. A response is written
 * at once, and only what the socket does not take waits for writeable.
 *
 * Lifetimes: connections are never freed inside their own callbacks. Closing
 * one unlinks it and moves it to a graveyard that is emptied when the
 * outermost server callback returns (srv->depth) or at once when no callback
 * is running. A request keeps a pointer to its server, which therefore lives
 * on after nw_http_server_free() until the last pending request is answered;
 * by then it holds no libevent object. */
#include "http_int.h"
#include "log.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#define NW_HTTP_BACKLOG         1024
#define NW_HTTP_LINGER_MS       2000 /* drain input this long after the last response */
#define NW_HTTP_MAX_REJECTING   64   /* 503 answers in flight; beyond, plain close */
#define NW_HTTP_ACCEPT_PAUSE_MS 100  /* after accept() failed (EMFILE...) */

static void conn_process(nw_http_conn_t *c);

static struct timeval ms_to_tv(unsigned ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

    return tv;
}

static nw_http_parse_limits_t parse_limits(const nw_http_limits_t *lim)
{
    nw_http_parse_limits_t pl = {
        .max_header_bytes = lim->max_header_bytes,
        .max_target_bytes = lim->max_target_bytes,
        .max_headers = lim->max_headers,
        .max_body_bytes = lim->max_body_bytes,
    };

    return pl;
}

void nw_http_limits_default(nw_http_limits_t *lim)
{
    lim->max_header_bytes = 16 * 1024;
    lim->max_target_bytes = 8 * 1024;
    lim->max_headers = 64;
    lim->max_body_bytes = 1024 * 1024;
    lim->header_timeout_ms = 10 * 1000;
    lim->body_timeout_ms = 30 * 1000;
    lim->idle_timeout_ms = 60 * 1000;
    lim->max_connections = 1024;
}

void nw_http_server_destroy(nw_http_server_t *srv)
{
    NW_ASSERT(srv->conns == NULL && srv->graveyard == NULL && srv->pending == 0);
    free(srv);
}

static void conn_destroy(nw_http_conn_t *c)
{
    if (c->bev)
        bufferevent_free(c->bev);
    if (c->timer)
        event_free(c->timer);
    if (c->done_ev)
        event_free(c->done_ev);
    nw_http_head_parser_free(c->parser);
    nw_http_chunked_free(c->chunked);
    nw_http_head_free(&c->head);
    if (c->body)
        evbuffer_free(c->body);
    free(c);
}

/* Frees the closed connections; only when no server callback is running. */
static void srv_reap(nw_http_server_t *srv)
{
    while (srv->depth == 0 && srv->graveyard) {
        nw_http_conn_t *c = srv->graveyard;
        srv->graveyard = c->next;
        conn_destroy(c);
    }
}

static void srv_enter(nw_http_server_t *srv)
{
    srv->depth++;
}

/* Leaves a server callback: the outermost one frees what was closed meanwhile
 * and the server itself if it was freed and nothing is pending. */
static void srv_leave(nw_http_server_t *srv)
{
    if (--srv->depth > 0)
        return;
    srv_reap(srv);
    if (srv->freed && srv->pending == 0)
        nw_http_server_destroy(srv);
}

/* Closes a connection: it stops all I/O at once and is freed when control
 * returns. Its pending request, if any, becomes an orphan. */
static void conn_close(nw_http_conn_t *c)
{
    nw_http_server_t *srv = c->srv;

    if (c->closing)
        return;
    c->closing = true;
    if (c->req) {
        c->req->conn = NULL;
        c->req = NULL;
    }
    bufferevent_disable(c->bev, EV_READ | EV_WRITE);
    event_del(c->timer);
    event_del(c->done_ev);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->rejecting) {
        srv->n_rejecting--;
    } else {
        srv->n_conns--;
        if (srv->n_conns < srv->lim.max_connections)
            srv->full_logged = false;
    }
    c->prev = NULL;
    c->next = srv->graveyard;
    srv->graveyard = c;
    srv_reap(srv);
}

/* Arms the connection timer for ms milliseconds; 0 disarms it. */
static void conn_arm(nw_http_conn_t *c, unsigned ms)
{
    struct timeval tv = ms_to_tv(ms);

    if (ms == 0)
        event_del(c->timer);
    else
        evtimer_add(c->timer, &tv);
}

/* The response itself is serialised by nw_http_response_format(); this
 * queues it and turns the connection to writing. */
int nw_http_conn_write_response(nw_http_conn_t *c, int status, const char *ctype, const void *body,
                                size_t len, bool omit_body, struct evbuffer *extra,
                                const char *extra_line)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    int n;

    if (nw_http_response_format(out, status, ctype, body, len, omit_body, c->close_after, extra,
                                extra_line) < 0) {
        nw_log(NW_LOG_WARN, "http", "cannot queue response", "peer=%s", c->peer);
        conn_close(c);
        return -ENOMEM;
    }
    c->state = CS_WRITING;
    conn_arm(c, 0);
    /* Most responses fit the socket buffer: write now, finish in this loop
     * turn without waiting for writeable. What is left (or an error) goes
     * through the bufferevent. Its output is frozen at the front except
     * while libevent writes it; this is such a write. */
    evbuffer_unfreeze(out, 1);
    n = evbuffer_write(out, bufferevent_getfd(c->bev));
    evbuffer_freeze(out, 1);
    if (n >= 0 && evbuffer_get_length(out) == 0)
        event_active(c->done_ev, EV_TIMEOUT, 1);
    else
        bufferevent_enable(c->bev, EV_WRITE);
    return 0;
}

/* Answers a fault the server found itself with a JSON body, and closes the
 * connection once the answer is out. */
static void conn_fail(nw_http_conn_t *c, int status, const char *reason)
{
    char qbuf[128];
    char *body = nw_http_json_error(reason, NULL);
    const char *fallback = "{\"error\":\"internal error\"}";
    bool is_head = c->have_head && strcmp(c->head.method, "HEAD") == 0;

    nw_log(NW_LOG_DEBUG, "http", "request refused", "peer=%s status=%d reason=%s", c->peer, status,
           nw_log_quote(reason, qbuf, sizeof(qbuf)));
    if (status >= 0 && status < 600)
        c->srv->stats.errors[status]++;
    c->close_after = true;
    nw_http_conn_write_response(c, status, "application/json", body ? body : fallback,
                                strlen(body ? body : fallback), is_head, NULL,
                                status == 503 ? "Retry-After: 1\r\n" : NULL);
    free(body);
}

/* Gets ready for the next request on the connection: fresh limits, empty
 * parser, reading on, and the idle timer (or none when timeout_ms is 0). */
static void conn_start_idle(nw_http_conn_t *c, unsigned timeout_ms)
{
    nw_http_parse_limits_t pl;

    c->lim = c->srv->lim;
    pl = parse_limits(&c->lim);
    nw_http_head_parser_reset(c->parser, &pl);
    nw_http_head_free(&c->head);
    c->have_head = false;
    if (c->body) {
        evbuffer_free(c->body);
        c->body = NULL;
    }
    c->state = CS_IDLE;
    c->head_timer = false;
    c->close_after = false;
    conn_arm(c, timeout_ms);
    bufferevent_disable(c->bev, EV_WRITE); /* on only while a write waits */
    bufferevent_enable(c->bev, EV_READ);
}

/* The output has drained after a response: close (with a lingering read so
 * the peer sees the response rather than a reset), or serve the next
 * request, which may already be buffered. */
static void conn_response_done(nw_http_conn_t *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);

    if (c->close_after || c->srv->stopping || (c->peer_eof && evbuffer_get_length(in) == 0)) {
        shutdown(bufferevent_getfd(c->bev), SHUT_WR);
        c->state = CS_LINGER;
        evbuffer_drain(in, evbuffer_get_length(in));
        bufferevent_enable(c->bev, EV_READ);
        conn_arm(c, NW_HTTP_LINGER_MS);
        return;
    }
    conn_start_idle(c, c->lim.idle_timeout_ms);
    if (evbuffer_get_length(in) > 0)
        conn_process(c);
}

/* The request is complete: hands it to the callback. Reading stays on until
 * more input comes (conn_read_cb), so a client that waits for the answer
 * costs no event change. */
static void conn_dispatch(nw_http_conn_t *c)
{
    nw_http_server_t *srv = c->srv;
    nw_http_req_t *req = nw_http_req_new(c);

    if (req == NULL) {
        conn_fail(c, 500, "out of memory");
        return;
    }
    c->req = req;
    c->state = CS_HANDLER;
    conn_arm(c, 0);
    srv->stats.requests++;
    srv->pending++;
    srv->cb(req, srv->arg);
}

/* A head is complete: refuses what can be refused before the body (unknown
 * expectation, declared length over the limit), then reads the body or
 * dispatches. */
static void conn_on_head(nw_http_conn_t *c)
{
    nw_http_head_t *h = &c->head;
    nw_http_parse_limits_t pl = parse_limits(&c->lim);

    NW_ASSERT(nw_http_head_parser_take(c->parser, h) == 0);
    c->have_head = true;
    c->head_timer = false;
    c->start_ms = (uint64_t)nw_mono_ms();
    if (h->expect == NW_HTTP_EXPECT_OTHER) {
        conn_fail(c, 417, "unsupported expectation");
        return;
    }
    if (h->has_content_length && h->content_length > c->lim.max_body_bytes) {
        conn_fail(c, 413, "request body too large");
        return;
    }
    if (!h->chunked && h->content_length == 0) {
        conn_dispatch(c);
        return;
    }
    c->body = evbuffer_new();
    if (c->body == NULL) {
        conn_fail(c, 500, "out of memory");
        return;
    }
    if (h->chunked) {
        if (c->chunked == NULL)
            c->chunked = nw_http_chunked_new(&pl);
        else
            nw_http_chunked_reset(c->chunked, &pl);
        if (c->chunked == NULL) {
            conn_fail(c, 500, "out of memory");
            return;
        }
    }
    c->body_left = h->content_length;
    c->state = CS_BODY;
    conn_arm(c, c->lim.body_timeout_ms);
    if (h->expect == NW_HTTP_EXPECT_CONTINUE &&
        evbuffer_get_length(bufferevent_get_input(c->bev)) == 0) {
        bufferevent_write(c->bev, "HTTP/1.1 100 Continue\r\n\r\n", 25);
        bufferevent_enable(c->bev, EV_WRITE);
    }
}

/* The first contiguous block of a non-empty input buffer. */
static bool input_block(struct evbuffer *in, struct evbuffer_iovec *v)
{
    size_t avail = evbuffer_get_length(in);

    if (evbuffer_peek(in, -1, NULL, v, 1) == 1 && v->iov_len > 0)
        return true;
    v->iov_len = avail < 4096 ? avail : 4096;
    v->iov_base = evbuffer_pullup(in, (ev_ssize_t)v->iov_len);
    return v->iov_base != NULL && v->iov_len > 0;
}

/* Feeds the first contiguous input block to the head parser. */
static void conn_read_head(nw_http_conn_t *c, struct evbuffer *in)
{
    struct evbuffer_iovec v;
    size_t used;
    const char *reason;
    int rc;

    if (!input_block(in, &v)) {
        conn_fail(c, 500, "out of memory");
        return;
    }
    rc = nw_http_head_parser_feed(c->parser, v.iov_base, v.iov_len, &used);
    evbuffer_drain(in, used);
    if (c->state == CS_IDLE &&
        (rc != NW_HTTP_PARSE_MORE || nw_http_head_parser_started(c->parser))) {
        c->state = CS_HEAD;
        if (!c->head_timer)
            conn_arm(c, c->lim.header_timeout_ms);
        c->head_timer = true;
    }
    if (rc == NW_HTTP_PARSE_ERROR) {
        int status = nw_http_head_parser_error(c->parser, &reason);
        conn_fail(c, status, reason);
    } else if (rc == NW_HTTP_PARSE_DONE) {
        conn_on_head(c);
    }
}

/* Moves body bytes from the input into c->body: Content-Length bytes as they
 * are, chunked ones through the decoder (which enforces the size limit). */
static void conn_read_body(nw_http_conn_t *c, struct evbuffer *in)
{
    struct evbuffer_iovec v;
    size_t used, span;
    const char *reason;
    int rc;

    if (!c->head.chunked) {
        size_t avail = evbuffer_get_length(in);
        size_t n = c->body_left < avail ? (size_t)c->body_left : avail;
        if (evbuffer_remove_buffer(in, c->body, n) != (int)n) {
            conn_fail(c, 500, "out of memory");
            return;
        }
        c->body_left -= n;
        if (c->body_left == 0)
            conn_dispatch(c);
        return;
    }
    if (!input_block(in, &v)) {
        conn_fail(c, 500, "out of memory");
        return;
    }
    rc = nw_http_chunked_feed(c->chunked, v.iov_base, v.iov_len, &used, &span);
    evbuffer_drain(in, used - span);
    if (span > 0 && evbuffer_remove_buffer(in, c->body, span) != (int)span) {
        conn_fail(c, 500, "out of memory");
        return;
    }
    if (rc == NW_HTTP_PARSE_ERROR) {
        int status = nw_http_chunked_error(c->chunked, &reason);
        conn_fail(c, status, reason);
    } else if (rc == NW_HTTP_PARSE_DONE) {
        conn_dispatch(c);
    }
}

/* Consumes buffered input as far as the state allows. */
static void conn_process(nw_http_conn_t *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);

    while (!c->closing && evbuffer_get_length(in) > 0) {
        if (c->state == CS_IDLE || c->state == CS_HEAD)
            conn_read_head(c, in);
        else if (c->state == CS_BODY)
            conn_read_body(c, in);
        else if (c->state == CS_LINGER)
            evbuffer_drain(in, evbuffer_get_length(in));
        else
            return;
    }
}

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
    nw_http_conn_t *c = arg;
    nw_http_server_t *srv = c->srv;

    srv_enter(srv);
    if (c->state == CS_HANDLER || c->state == CS_WRITING)
        bufferevent_disable(bev, EV_READ); /* pipelined: waits for the answer */
    else if (!c->closing)
        conn_process(c);
    srv_leave(srv);
}

static void conn_write_cb(struct bufferevent *bev, void *arg)
{
    nw_http_conn_t *c = arg;
    nw_http_server_t *srv = c->srv;

    srv_enter(srv);
    if (!c->closing && c->state == CS_WRITING)
        conn_response_done(c);
    srv_leave(srv);
}

/* The response was written whole by nw_http_conn_write_response(). */
static void conn_done_cb(evutil_socket_t fd, short what, void *arg)
{
    nw_http_conn_t *c = arg;

    conn_write_cb(c->bev, c);
}

static void conn_event_cb(struct bufferevent *bev, short events, void *arg)
{
    nw_http_conn_t *c = arg;
    nw_http_server_t *srv = c->srv;

    srv_enter(srv);
    if ((events & BEV_EVENT_EOF) && !(events & BEV_EVENT_ERROR) &&
        (c->state == CS_HANDLER || c->state == CS_WRITING)) {
        /* A client may send its request and shut down its side: it still
         * gets the answer, then the connection closes. */
        c->peer_eof = true;
        srv_leave(srv);
        return;
    }
    if (c->state != CS_IDLE && c->state != CS_LINGER)
        nw_log(NW_LOG_DEBUG, "http", "connection lost", "peer=%s state=%d events=0x%x", c->peer,
               (int)c->state, (unsigned)events);
    conn_close(c);
    srv_leave(srv);
}

/* The connection timer: header, body, idle and linger timeouts. */
static void conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    nw_http_conn_t *c = arg;
    nw_http_server_t *srv = c->srv;

    srv_enter(srv);
    if (c->state == CS_HEAD)
        conn_fail(c, 408, "request header timeout");
    else if (c->state == CS_BODY)
        conn_fail(c, 408, "request body timeout");
    else if (c->state == CS_IDLE || c->state == CS_LINGER)
        conn_close(c);
    srv_leave(srv);
}

/* Wraps an accepted socket (fd is owned from here on, closed on failure). */
static nw_http_conn_t *conn_new(nw_http_server_t *srv, evutil_socket_t fd,
                                const struct sockaddr *sa)
{
    nw_http_conn_t *c = calloc(1, sizeof(*c));
    nw_http_parse_limits_t pl = parse_limits(&srv->lim);
    char addr[INET6_ADDRSTRLEN] = "?";
    struct timeval wtv = ms_to_tv(srv->lim.idle_timeout_ms);

    if (c == NULL) {
        evutil_closesocket(fd);
        return NULL;
    }
    c->srv = srv;
    c->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (c->bev == NULL) {
        evutil_closesocket(fd);
        goto fail;
    }
    c->timer = evtimer_new(srv->base, conn_timer_cb, c);
    c->done_ev = event_new(srv->base, -1, 0, conn_done_cb, c);
    c->parser = nw_http_head_parser_new(&pl);
    if (c->timer == NULL || c->done_ev == NULL || c->parser == NULL)
        goto fail;
    if (sa->sa_family == AF_INET6) {
        /* A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d; log them as IPv4. */
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        bool v4 = IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr);
        evutil_inet_ntop(v4 ? AF_INET : AF_INET6,
                         v4 ? &s6->sin6_addr.s6_addr[12] : (const void *)&s6->sin6_addr, addr,
                         sizeof(addr));
        snprintf(c->peer, sizeof(c->peer), v4 ? "%s:%u" : "[%s]:%u", addr,
                 (unsigned)ntohs(s6->sin6_port));
    } else if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        evutil_inet_ntop(AF_INET, &s4->sin_addr, addr, sizeof(addr));
        snprintf(c->peer, sizeof(c->peer), "%s:%u", addr, (unsigned)ntohs(s4->sin_port));
    } else {
        snprintf(c->peer, sizeof(c->peer), "unknown");
    }
    bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
    if (srv->lim.idle_timeout_ms > 0)
        bufferevent_set_timeouts(c->bev, NULL, &wtv);
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    return c;
fail:
    conn_destroy(c);
    return NULL;
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg)
{
    nw_http_server_t *srv = arg;
    bool reject = srv->n_conns >= srv->lim.max_connections;
    int one = 1;
    nw_http_conn_t *c;

    srv_enter(srv);
    srv->accept_err_logged = false;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (reject && !srv->full_logged) {
        nw_log(NW_LOG_WARN, "http", "max connections reached, answering 503", "max=%u",
               srv->lim.max_connections);
        srv->full_logged = true;
    }
    if (reject && srv->n_rejecting >= NW_HTTP_MAX_REJECTING) {
        srv->stats.connections_rejected++;
        evutil_closesocket(fd);
        goto out;
    }
    c = conn_new(srv, fd, sa);
    if (c == NULL) {
        nw_log(NW_LOG_WARN, "http", "cannot set up connection", "error=ENOMEM");
        goto out;
    }
    c->lim = srv->lim;
    if (reject) {
        srv->stats.connections_rejected++;
        srv->n_rejecting++;
        c->rejecting = true;
        conn_fail(c, 503, "too many connections");
        goto out;
    }
    srv->stats.connections_accepted++;
    srv->n_conns++;
    conn_start_idle(c, srv->lim.header_timeout_ms);
    c->head_timer = srv->lim.header_timeout_ms > 0;
out:
    srv_leave(srv);
}

static void listeners_enable(nw_http_server_t *srv, bool on)
{
    for (size_t i = 0; i < srv->n_listeners; i++) {
        if (on)
            evconnlistener_enable(srv->listeners[i]);
        else
            evconnlistener_disable(srv->listeners[i]);
    }
}

/* accept() failed for a reason that will not clear by itself right away
 * (EMFILE, ENFILE, ENOBUFS): pause accepting instead of spinning. */
static void accept_error_cb(struct evconnlistener *l, void *arg)
{
    nw_http_server_t *srv = arg;
    int err = EVUTIL_SOCKET_ERROR();
    struct timeval tv = ms_to_tv(NW_HTTP_ACCEPT_PAUSE_MS);

    if (!srv->accept_err_logged)
        nw_log(NW_LOG_WARN, "http", "accept failed, pausing", "error=%s", strerror(err));
    srv->accept_err_logged = true;
    listeners_enable(srv, false);
    evtimer_add(srv->accept_pause, &tv);
}

static void accept_pause_cb(evutil_socket_t fd, short what, void *arg)
{
    nw_http_server_t *srv = arg;

    if (!srv->stopping)
        listeners_enable(srv, true);
}

nw_http_server_t *nw_http_server_new(struct event_base *base, const nw_http_limits_t *lim,
                                     nw_http_request_cb cb, void *arg)
{
    nw_http_server_t *srv = calloc(1, sizeof(*srv));

    if (srv == NULL)
        return NULL;
    srv->base = base;
    srv->lim = *lim;
    srv->cb = cb;
    srv->arg = arg;
    srv->port = -1;
    srv->accept_pause = evtimer_new(base, accept_pause_cb, srv);
    if (srv->accept_pause == NULL) {
        free(srv);
        return NULL;
    }
    return srv;
}

/* Maps a getaddrinfo() failure to an errno value. */
static int gai_errno(int rc)
{
    if (rc == EAI_SYSTEM)
        return errno ? errno : EIO;
    if (rc == EAI_MEMORY)
        return ENOMEM;
    if (rc == EAI_FAMILY || rc == EAI_SERVICE || rc == EAI_BADFLAGS)
        return EINVAL;
    return EADDRNOTAVAIL;
}

int nw_http_server_listen(nw_http_server_t *srv, const char *host, int port)
{
    struct addrinfo hints = {0}, *res = NULL;
    struct evconnlistener *l = NULL;
    const unsigned flags = LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC;
    const char *node = host;
    struct sockaddr_storage ss;
    socklen_t slen = sizeof(ss);
    char portstr[16];
    int rc, err = EADDRNOTAVAIL;

    if (port < 0 || port > 65535 || srv->stopping)
        return -EINVAL;
    if (srv->n_listeners == NW_HTTP_MAX_LISTENERS)
        return -ENOSPC;
    if (node != NULL && (node[0] == '\0' || strcmp(node, "*") == 0))
        node = NULL;
    snprintf(portstr, sizeof(portstr), "%d", port);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    rc = getaddrinfo(node, portstr, &hints, &res);
    if (rc != 0) {
        err = gai_errno(rc);
        nw_log(NW_LOG_ERROR, "http", "cannot resolve listen address", "host=%s error=%s",
               host ? host : "*", gai_strerror(rc));
        return -err;
    }
    for (struct addrinfo *ai = res; ai != NULL && l == NULL; ai = ai->ai_next) {
        errno = 0;
        l = evconnlistener_new_bind(srv->base, accept_cb, srv, flags, NW_HTTP_BACKLOG, ai->ai_addr,
                                    (int)ai->ai_addrlen);
        if (l == NULL)
            err = errno ? errno : EIO;
    }
    freeaddrinfo(res);
    if (l == NULL) {
        nw_log(NW_LOG_ERROR, "http", "cannot listen", "host=%s port=%d error=%s", host ? host : "*",
               port, strerror(err));
        return -err;
    }
    evconnlistener_set_error_cb(l, accept_error_cb);
    srv->listeners[srv->n_listeners++] = l;
    if (getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&ss, &slen) == 0)
        port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                              : ((struct sockaddr_in *)&ss)->sin_port);
    if (srv->port < 0)
        srv->port = port;
    nw_log(NW_LOG_INFO, "http", "listening", "host=%s port=%d", host ? host : "*", port);
    return 0;
}

int nw_http_server_port(const nw_http_server_t *srv)
{
    return srv->port;
}

void nw_http_server_set_limits(nw_http_server_t *srv, const nw_http_limits_t *lim)
{
    srv->lim = *lim;
}

void nw_http_server_stop_accepting(nw_http_server_t *srv)
{
    nw_http_conn_t *c, *next;

    srv->stopping = true;
    for (size_t i = 0; i < srv->n_listeners; i++)
        evconnlistener_free(srv->listeners[i]);
    srv->n_listeners = 0;
    event_del(srv->accept_pause);
    for (c = srv->conns; c != NULL; c = next) {
        next = c->next;
        if (c->state == CS_IDLE || c->state == CS_LINGER)
            conn_close(c);
    }
}

size_t nw_http_server_pending(const nw_http_server_t *srv)
{
    return srv->pending;
}

size_t nw_http_server_connections(const nw_http_server_t *srv)
{
    return srv->n_conns + srv->n_rejecting;
}

void nw_http_server_stats(const nw_http_server_t *srv, nw_http_stats_t *out)
{
    *out = srv->stats;
}

void nw_http_server_free(nw_http_server_t *srv)
{
    if (srv == NULL)
        return;
    nw_http_server_stop_accepting(srv);
    event_free(srv->accept_pause);
    srv->accept_pause = NULL;
    while (srv->conns)
        conn_close(srv->conns);
    srv->freed = true;
    if (srv->depth == 0 && srv->pending == 0)
        nw_http_server_destroy(srv);
}
