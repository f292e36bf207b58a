/* nwbench — a subscriber worker: one process, one epoll loop, its share of
 * the WebSocket subscribers.
 *
 * Connections are opened with at most cfg->window attempts in flight (a
 * burst of SYNs past the server's backlog would only measure the kernel's
 * retransmission timer). A subscriber is ready when the server confirmed
 * its subscription: Newswire's "subscribed" message, nchan's 101 (nchan
 * subscribes at the upgrade). Each received item is checked against the
 * subscriber's topic and a bitmap of the items it already has. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "item.h"
#include "proc.h"
#include "shm.h"
#include "ws.h"

#define WORKER_RX_BYTES  (256 * 1024)
#define WORKER_MAX_FRAME (16u * 1024 * 1024)
#define WORKER_MAX_HEAD  8192
#define WORKER_TRIES     3
#define WORKER_EVENTS    512

enum { C_IDLE, C_CONNECTING, C_HANDSHAKE, C_OPEN, C_READY, C_DEAD };

typedef struct {
    int fd;
    uint8_t state;
    uint8_t tries;
    uint32_t topic;
    uint64_t idx; /* connection number in the whole run */
    uint8_t *buf; /* bytes received and not parsed yet (owned) */
    uint32_t len, cap;
    uint8_t *msg; /* a fragmented message being put together (owned) */
    uint32_t mlen, mcap;
    uint64_t *bits; /* items received, one bit per item of its topic (owned) */
    char key[NWB_WS_KEY_LEN + 1];
} conn_t;

typedef struct {
    const nwb_config_t *cfg;
    nwb_slot_t *slot;
    nwb_shm_t *shm;
    int ep;
    int cmd_fd;
    conn_t *conns;
    uint64_t first, count;
    uint64_t next;     /* next connection to open */
    uint64_t inflight; /* connection attempts not settled */
    uint64_t settled;  /* ready or failed */
    uint64_t ready, failed, retries, delivered, last_rx;
    uint64_t dup, misrouted, foreign, unacked, other, errors, disconnects;
    uint64_t now; /* time the bytes being parsed were read */
    size_t words; /* bitmap words per connection */
    bool connecting;
    uint8_t *rx;
} worker_t;

static void worker_error(worker_t *w, const char *fmt, const char *detail)
{
    w->errors++;
    if (w->slot->first_error[0] == '\0')
        snprintf(w->slot->first_error, sizeof(w->slot->first_error), fmt, detail);
}

static int conn_launch(worker_t *w, conn_t *c);

/* Opens connections while fewer than cfg->window attempts are in flight,
 * and notes the time once every connection is settled. */
static void worker_fill(worker_t *w)
{
    while (w->connecting && w->inflight < w->cfg->window && w->next < w->count) {
        conn_t *c = &w->conns[w->next++];

        if (conn_launch(w, c) == 0) {
            w->inflight++;
        } else {
            w->settled++;
            w->failed++;
        }
    }
    if (w->connecting && w->settled == w->count) {
        w->connecting = false;
        atomic_store(&w->slot->connect_done_ns, nwb_now_ns());
    }
}

/* A connection attempt is over. */
static void worker_settle(worker_t *w, bool ok)
{
    w->inflight--;
    w->settled++;
    if (ok)
        w->ready++;
    else
        w->failed++;
    worker_fill(w);
}

static void conn_close(worker_t *w, conn_t *c)
{
    if (c->fd >= 0) {
        epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    c->len = 0;
    c->mlen = 0;
}

/* The connection failed or closed: retried while it is being opened,
 * counted as a disconnect once it was subscribed. */
static void conn_lost(worker_t *w, conn_t *c, const char *why)
{
    uint8_t state = c->state;

    conn_close(w, c);
    c->state = C_DEAD;
    if (state == C_READY) {
        w->disconnects++;
        worker_error(w, "subscriber disconnected: %s", why);
        return;
    }
    if (state == C_DEAD || state == C_IDLE)
        return;
    if (w->connecting && c->tries < WORKER_TRIES) {
        w->retries++;
        if (conn_launch(w, c) == 0)
            return;
    }
    worker_error(w, "connection failed: %s", why);
    worker_settle(w, false);
}

/* Opens connection c (a non-blocking connect; the handshake follows when it
 * becomes writable). Returns 0 or -errno (c is then dead). */
static int conn_launch(worker_t *w, conn_t *c)
{
    const nwb_config_t *cfg = w->cfg;
    const nwb_endpoint_t *ep = &cfg->sub[c->idx % cfg->nsub];
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
    int fd, one = 1;

    c->tries++;
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto fail;
    if (cfg->src_ips > 0) {
        /* The port is chosen at connect() time, per destination, so each
         * source address has the whole ephemeral range for each server. */
        struct sockaddr_in src = {.sin_family = AF_INET};

        src.sin_addr.s_addr = htonl(0x7F000002u + (uint32_t)(c->idx % cfg->src_ips));
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0)
            goto fail;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (const struct sockaddr *)&ep->addr, sizeof(ep->addr)) < 0 &&
        errno != EINPROGRESS)
        goto fail;
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
        goto fail;
    c->fd = fd;
    c->state = C_CONNECTING;
    return 0;
fail:;
    int err = errno;

    if (fd >= 0)
        close(fd);
    c->state = C_DEAD;
    worker_error(w, "cannot connect: %s", strerror(err));
    return -err;
}

/* The TCP connection is up: send the upgrade request. */
static void conn_connected(worker_t *w, conn_t *c)
{
    const nwb_config_t *cfg = w->cfg;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    char topic[160], path[256], req[1024];
    int err = 0, len;
    socklen_t elen = sizeof(err);

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0 || err != 0) {
        conn_lost(w, c, strerror(err ? err : errno));
        return;
    }
    nwb_topic_name(cfg, c->topic, topic, sizeof(topic));
    if (cfg->target == NWB_TARGET_NEWSWIRE)
        snprintf(path, sizeof(path), "/v1/stream?topics=%s", topic);
    else
        snprintf(path, sizeof(path), "/sub/%s", topic);
    len = nwb_ws_request(req, sizeof(req), cfg->sub[c->idx % cfg->nsub].text, path,
                         cfg->target == NWB_TARGET_NEWSWIRE ? "newswire.v1.json" : NULL, c->key);
    /* A fresh socket's send buffer takes a few hundred bytes at once. */
    if (len < 0 || write(c->fd, req, (size_t)len) != len) {
        conn_lost(w, c, "cannot send the upgrade request");
        return;
    }
    epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->state = C_HANDSHAKE;
}

static void conn_ready(worker_t *w, conn_t *c)
{
    c->state = C_READY;
    worker_settle(w, true);
}

/* One item received by subscriber c. */
static void conn_item(worker_t *w, conn_t *c, uint64_t seq, uint64_t send_ns)
{
    const nwb_config_t *cfg = w->cfg;
    uint64_t bit, *word;

    if (seq >= cfg->items) {
        w->foreign++;
        return;
    }
    if (seq % cfg->topics != c->topic) {
        w->misrouted++;
        return;
    }
    bit = seq / cfg->topics;
    word = &c->bits[bit / 64];
    if (*word & ((uint64_t)1 << (bit % 64))) {
        w->dup++;
        return;
    }
    *word |= (uint64_t)1 << (bit % 64);
    w->delivered++;
    w->last_rx = w->now;
    nwb_hist_add(&w->slot->hist, w->now > send_ns ? (w->now - send_ns) / 1000 : 0);
}

/* One complete message (text or binary) received by c. */
static void conn_message(worker_t *w, conn_t *c, const uint8_t *p, size_t len)
{
    uint64_t seq, send_ns;
    int rc = nwb_item_parse(p, len, w->cfg->run, &seq, &send_ns);

    if (rc == 0) {
        if (c->state == C_READY)
            conn_item(w, c, seq, send_ns);
        else
            w->other++;
        return;
    }
    if (rc == -ESRCH) {
        w->foreign++;
        return;
    }
    if (w->cfg->target == NWB_TARGET_NEWSWIRE) {
        if (memmem(p, len, "\"type\":\"subscribed\"", 19) != NULL) {
            if (c->state == C_OPEN)
                conn_ready(w, c);
            return;
        }
        if (memmem(p, len, "\"type\":\"hello\"", 14) != NULL ||
            memmem(p, len, "\"type\":\"pong\"", 13) != NULL)
            return;
        if (memmem(p, len, "\"type\":\"error\"", 14) != NULL) {
            char text[120];

            snprintf(text, sizeof(text), "%.*s", (int)(len < 110 ? len : 110), (const char *)p);
            worker_error(w, "server error message: %s", text);
            return;
        }
    }
    w->other++;
}

static void conn_send_control(worker_t *w, conn_t *c, unsigned opcode, const uint8_t *p, size_t len)
{
    uint8_t frame[125 + 14];

    if (len > 125)
        len = 125;
    len = nwb_ws_build(frame, opcode, p, len);
    /* A control frame to an idle socket; if the buffer is full the server
     * is not reading and a lost pong changes nothing measured here. */
    if (write(c->fd, frame, len) < 0 && errno != EAGAIN)
        w->errors++;
}

/* Adds a fragment to the message c is putting together; handles the
 * message once its last fragment is in. Returns false when c was closed. */
static bool conn_fragment(worker_t *w, conn_t *c, const nwb_ws_frame_t *f)
{
    if (c->mlen + f->len > WORKER_MAX_FRAME) {
        conn_lost(w, c, "message too big");
        return false;
    }
    if (c->mlen + f->len > c->mcap) {
        uint32_t cap = (uint32_t)(c->mlen + f->len) * 2;
        uint8_t *m = realloc(c->msg, cap);

        if (m == NULL) {
            conn_lost(w, c, "out of memory");
            return false;
        }
        c->msg = m;
        c->mcap = cap;
    }
    memcpy(c->msg + c->mlen, f->payload, f->len);
    c->mlen += (uint32_t)f->len;
    if (f->fin) {
        conn_message(w, c, c->msg, c->mlen);
        c->mlen = 0;
    }
    return true;
}

/* Handles one frame; returns false when c was closed. */
static bool conn_frame(worker_t *w, conn_t *c, const nwb_ws_frame_t *f)
{
    switch (f->opcode) {
    case NWB_WS_TEXT:
    case NWB_WS_BINARY:
        if (c->mlen != 0) {
            worker_error(w, "%s", "new message inside a fragmented one");
            conn_lost(w, c, "protocol error");
            return false;
        }
        if (!f->fin)
            return conn_fragment(w, c, f);
        conn_message(w, c, f->payload, f->len);
        return true;
    case NWB_WS_CONT:
        return conn_fragment(w, c, f);
    case NWB_WS_PING:
        conn_send_control(w, c, NWB_WS_PONG, f->payload, f->len);
        return true;
    case NWB_WS_PONG:
        return true;
    case NWB_WS_CLOSE: {
        char why[64];
        int code = f->len >= 2 ? (f->payload[0] << 8) | f->payload[1] : 1005;

        if (w->slot->close_code == 0)
            w->slot->close_code = code;
        snprintf(why, sizeof(why), "close frame %d", code);
        conn_send_control(w, c, NWB_WS_CLOSE, f->payload, f->len >= 2 ? 2 : 0);
        conn_lost(w, c, why);
        return false;
    }
    default:
        conn_lost(w, c, "unknown opcode");
        return false;
    }
}

/* Parses the frames at the start of p; returns the bytes consumed, or -1
 * when c was closed. */
static ssize_t conn_frames(worker_t *w, conn_t *c, const uint8_t *p, size_t len)
{
    size_t off = 0;

    while (off < len) {
        nwb_ws_frame_t f;
        ssize_t n = nwb_ws_parse(p + off, len - off, WORKER_MAX_FRAME, &f);

        if (n == 0)
            break;
        if (n < 0) {
            worker_error(w, "%s", "invalid frame from the server");
            conn_lost(w, c, "protocol error");
            return -1;
        }
        if (!conn_frame(w, c, &f))
            return -1;
        off += (size_t)n;
    }
    return (ssize_t)off;
}

/* Appends to c's pending bytes. */
static bool conn_keep(worker_t *w, conn_t *c, const uint8_t *p, size_t len)
{
    if (c->len + len > c->cap) {
        uint32_t cap = c->cap ? c->cap : 1024;
        uint8_t *b;

        while (cap < c->len + len)
            cap *= 2;
        b = realloc(c->buf, cap);
        if (b == NULL) {
            conn_lost(w, c, "out of memory");
            return false;
        }
        c->buf = b;
        c->cap = cap;
    }
    memcpy(c->buf + c->len, p, len);
    c->len += (uint32_t)len;
    return true;
}

/* The response head is in c->buf: check it and go on with the frames
 * behind it. Returns false when c was closed. */
static bool conn_handshake(worker_t *w, conn_t *c)
{
    const uint8_t *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
    size_t head;
    int status;

    if (end == NULL) {
        if (c->len > WORKER_MAX_HEAD) {
            conn_lost(w, c, "response head too long");
            return false;
        }
        return true;
    }
    head = (size_t)(end - c->buf) + 4;
    if (nwb_ws_check_response((const char *)c->buf, head, c->key, &status) < 0) {
        char why[64];

        snprintf(why, sizeof(why), "upgrade refused (HTTP %d)", status);
        conn_lost(w, c, why);
        return false;
    }
    memmove(c->buf, c->buf + head, c->len - head);
    c->len -= (uint32_t)head;
    if (w->cfg->target == NWB_TARGET_NCHAN)
        conn_ready(w, c);
    else
        c->state = C_OPEN;
    return true;
}

/* Feeds bytes just read to c. */
static void conn_feed(worker_t *w, conn_t *c, const uint8_t *p, size_t len)
{
    ssize_t used;

    if (c->state == C_HANDSHAKE) {
        if (!conn_keep(w, c, p, len) || !conn_handshake(w, c) || c->state == C_HANDSHAKE)
            return;
        p = NULL;
        len = 0;
    }
    if (c->len == 0) {
        /* the usual case: parse straight from the read buffer */
        used = conn_frames(w, c, p, len);
        if (used >= 0 && (size_t)used < len)
            conn_keep(w, c, p + used, len - (size_t)used);
        return;
    }
    if (len > 0 && !conn_keep(w, c, p, len))
        return;
    used = conn_frames(w, c, c->buf, c->len);
    if (used > 0) {
        memmove(c->buf, c->buf + used, c->len - (size_t)used);
        c->len -= (uint32_t)used;
    }
}

static void conn_readable(worker_t *w, conn_t *c)
{
    for (;;) {
        ssize_t n = read(c->fd, w->rx, WORKER_RX_BYTES);

        if (n > 0) {
            w->now = nwb_now_ns();
            conn_feed(w, c, w->rx, (size_t)n);
            if (c->fd < 0 || n < WORKER_RX_BYTES)
                return;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        conn_lost(w, c, n == 0 ? "closed by the server" : strerror(errno));
        return;
    }
}

/* After the run: every acknowledged item of a subscriber's topic it did not
 * receive is lost; every item it received without acknowledgement is
 * counted apart. */
static uint64_t worker_count_lost(worker_t *w)
{
    const nwb_config_t *cfg = w->cfg;
    uint64_t lost = 0;

    for (uint64_t i = 0; i < w->count; i++) {
        conn_t *c = &w->conns[i];

        for (uint64_t seq = c->topic; seq < cfg->items; seq += cfg->topics) {
            uint64_t bit = seq / cfg->topics;
            bool got = c->bits != NULL && (c->bits[bit / 64] >> (bit % 64)) & 1;

            if (w->shm->acked[seq] && !got)
                lost++;
            else if (!w->shm->acked[seq] && got)
                w->unacked++;
        }
    }
    return lost;
}

/* Resets every connection at exit instead of closing it: thousands of
 * sockets in TIME_WAIT would hold source ports the next run needs. */
static void worker_reset_all(worker_t *w)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};

    for (uint64_t i = 0; w->conns != NULL && i < w->count; i++)
        if (w->conns[i].fd >= 0)
            setsockopt(w->conns[i].fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

static _Noreturn void worker_finish(worker_t *w, bool count)
{
    nwb_slot_t *s = w->slot;

    s->cpu_end_us = nwb_self_cpu_us();
    if (count)
        s->lost = worker_count_lost(w);
    s->dup = w->dup;
    s->misrouted = w->misrouted;
    s->foreign = w->foreign;
    s->unacked = w->unacked;
    s->other = w->other;
    s->errors = w->errors;
    s->disconnects = w->disconnects;
    atomic_store(&s->delivered, w->delivered);
    atomic_store(&s->last_rx_ns, w->last_rx);
    atomic_store(&s->done, 1);
    worker_reset_all(w);
    _exit(0);
}

static void worker_command(worker_t *w)
{
    char cmd;
    ssize_t n = read(w->cmd_fd, &cmd, 1);

    if (n == 0)
        _exit(1); /* the parent is gone */
    if (n < 0)
        return;
    switch (cmd) {
    case NWB_CMD_START:
        w->slot->cpu_start_us = nwb_self_cpu_us();
        atomic_fetch_add(&w->slot->acks, 1);
        break;
    case NWB_CMD_END:
        worker_finish(w, true);
    case NWB_CMD_QUIT:
        worker_finish(w, false);
    default:
        break;
    }
}

/* Gives up the connections still not settled when the time is up. */
static void worker_timeout(worker_t *w)
{
    if (w->next < w->count)
        worker_error(w, "%s", "connections not attempted: timed out");
    for (; w->next < w->count; w->next++) {
        w->conns[w->next].state = C_DEAD;
        w->settled++;
        w->failed++;
    }
    for (uint64_t i = 0; i < w->count; i++) {
        conn_t *c = &w->conns[i];

        if (c->state == C_CONNECTING || c->state == C_HANDSHAKE || c->state == C_OPEN) {
            c->tries = WORKER_TRIES;
            conn_lost(w, c, "timed out");
        }
    }
    worker_fill(w);
}

static int worker_init(worker_t *w, const nwb_config_t *cfg, nwb_shm_t *shm, unsigned widx,
                       uint64_t first, uint64_t count, int cmd_fd)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    uint64_t per_topic = cfg->topics ? (cfg->items + cfg->topics - 1) / cfg->topics : 0;

    memset(w, 0, sizeof(*w));
    w->cfg = cfg;
    w->shm = shm;
    w->slot = &shm->slot[widx];
    w->cmd_fd = cmd_fd;
    w->first = first;
    w->count = count;
    w->words = (size_t)((per_topic + 63) / 64);
    w->ep = epoll_create1(EPOLL_CLOEXEC);
    w->rx = malloc(WORKER_RX_BYTES);
    w->conns = calloc(count ? count : 1, sizeof(conn_t));
    if (w->ep < 0 || w->rx == NULL || w->conns == NULL)
        return -ENOMEM;
    for (uint64_t i = 0; i < count; i++) {
        conn_t *c = &w->conns[i];

        c->fd = -1;
        c->idx = first + i;
        c->topic = (uint32_t)(c->idx % cfg->topics);
        if (w->words > 0) {
            c->bits = calloc(w->words, sizeof(uint64_t));
            if (c->bits == NULL)
                return -ENOMEM;
        }
    }
    return epoll_ctl(w->ep, EPOLL_CTL_ADD, cmd_fd, &ev) < 0 ? -errno : 0;
}

_Noreturn void nwb_worker_main(const nwb_config_t *cfg, nwb_shm_t *shm, unsigned widx,
                               uint64_t first, uint64_t count, int cmd_fd)
{
    static struct epoll_event events[WORKER_EVENTS];
    worker_t w;
    uint64_t deadline;

    if (worker_init(&w, cfg, shm, widx, first, count, cmd_fd) < 0) {
        snprintf(shm->slot[widx].first_error, sizeof(shm->slot[widx].first_error),
                 "worker %u: out of memory", widx);
        atomic_store(&shm->slot[widx].failed, count);
        atomic_store(&shm->slot[widx].connect_done_ns, nwb_now_ns());
        worker_finish(&w, false);
    }
    deadline = nwb_now_ns() + (uint64_t)cfg->connect_timeout_ms * 1000000u;
    w.connecting = true;
    worker_fill(&w);
    for (;;) {
        int n = epoll_wait(w.ep, events, WORKER_EVENTS, w.connecting ? 10 : 1000);

        for (int i = 0; i < n; i++) {
            conn_t *c = events[i].data.ptr;

            if (c == NULL) {
                worker_command(&w);
                continue;
            }
            if (c->fd < 0)
                continue;
            if (c->state == C_CONNECTING)
                conn_connected(&w, c);
            else if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                conn_readable(&w, c);
        }
        if (w.connecting && nwb_now_ns() > deadline)
            worker_timeout(&w);
        atomic_store_explicit(&w.slot->ready, w.ready, memory_order_relaxed);
        atomic_store_explicit(&w.slot->failed, w.failed, memory_order_relaxed);
        atomic_store_explicit(&w.slot->retries, w.retries, memory_order_relaxed);
        atomic_store_explicit(&w.slot->last_rx_ns, w.last_rx, memory_order_relaxed);
        atomic_store_explicit(&w.slot->delivered, w.delivered, memory_order_release);
    }
}
