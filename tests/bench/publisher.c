/* nwbench — publisher over keep-alive HTTP/1.1 (see publisher.h). */
#include "publisher.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "item.h"

#define PUB_IN_BYTES  65536
#define PUB_HEAD_MAX  1024
#define PUB_LATE_NS   1000000u
#define PUB_STALL_NS  (30 * 1000000000ull) /* no answer for this long: give up */
#define PUB_TIMER_TAG ((void *)1)

typedef struct {
    int fd;
    bool busy;
    uint64_t seq;     /* item in flight */
    uint64_t sent_ns; /* when its request was written */
    char *out;        /* request being written (owned) */
    size_t olen, ooff, ocap;
    char *in; /* answer being read (owned) */
    size_t ilen;
    /* answer being parsed */
    bool head_done, chunked, close;
    int status;
    uint64_t body_left;
    char snippet[120];
} pconn_t;

struct nwb_pub {
    const nwb_config_t *cfg;
    uint8_t *acked;
    pconn_t *conns;
    unsigned n;
    int ep;
    int tfd;
    uint64_t next;     /* next item to send */
    uint64_t answered; /* items with an answer or failed */
    uint64_t t0;
    char *body;
    size_t body_cap;
    nwb_pub_stats_t st;
};

nwb_pub_t *nwb_pub_new(const nwb_config_t *cfg, uint8_t *acked)
{
    nwb_pub_t *p = calloc(1, sizeof(*p));

    if (p == NULL)
        return NULL;
    p->cfg = cfg;
    p->acked = acked;
    p->n = cfg->pub_conns ? cfg->pub_conns : 1;
    p->ep = -1;
    p->tfd = -1;
    p->body_cap = (size_t)cfg->size + 1024;
    p->body = malloc(p->body_cap);
    p->conns = calloc(p->n, sizeof(pconn_t));
    if (p->body == NULL || p->conns == NULL)
        goto fail;
    for (unsigned i = 0; i < p->n; i++) {
        p->conns[i].fd = -1;
        p->conns[i].ocap = p->body_cap + 512;
        p->conns[i].out = malloc(p->conns[i].ocap);
        p->conns[i].in = malloc(PUB_IN_BYTES);
        if (p->conns[i].out == NULL || p->conns[i].in == NULL)
            goto fail;
    }
    p->ep = epoll_create1(EPOLL_CLOEXEC);
    p->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (p->ep < 0 || p->tfd < 0)
        goto fail;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = PUB_TIMER_TAG};
    if (epoll_ctl(p->ep, EPOLL_CTL_ADD, p->tfd, &ev) < 0)
        goto fail;
    return p;
fail:
    nwb_pub_free(p);
    return NULL;
}

void nwb_pub_free(nwb_pub_t *p)
{
    if (p == NULL)
        return;
    for (unsigned i = 0; p->conns != NULL && i < p->n; i++) {
        if (p->conns[i].fd >= 0)
            close(p->conns[i].fd);
        free(p->conns[i].out);
        free(p->conns[i].in);
    }
    if (p->ep >= 0)
        close(p->ep);
    if (p->tfd >= 0)
        close(p->tfd);
    free(p->conns);
    free(p->body);
    free(p);
}

const nwb_pub_stats_t *nwb_pub_stats(const nwb_pub_t *p)
{
    return &p->st;
}

/* (Re)opens connection c: a blocking connect, then non-blocking I/O. */
static int pconn_open(nwb_pub_t *p, pconn_t *c)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    int fd, one = 1;

    if (c->fd >= 0) {
        epoll_ctl(p->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    c->busy = false;
    c->ilen = 0;
    c->head_done = false;
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (const struct sockaddr *)&p->cfg->api.addr, sizeof(p->cfg->api.addr)) < 0 ||
        nwb_set_nonblock(fd) < 0 || epoll_ctl(p->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        int err = errno;

        close(fd);
        return -err;
    }
    c->fd = fd;
    return 0;
}

int nwb_pub_connect(nwb_pub_t *p)
{
    for (unsigned i = 0; i < p->n; i++) {
        int rc = pconn_open(p, &p->conns[i]);

        if (rc < 0)
            return rc;
    }
    return 0;
}

static void pub_failed(nwb_pub_t *p, int status, const char *what)
{
    p->st.errors++;
    if (p->st.first_error[0] == '\0') {
        p->st.first_status = status;
        snprintf(p->st.first_error, sizeof(p->st.first_error), "%s", what);
    }
}

/* The item in flight on c is over (answered or failed). */
static void pconn_done(nwb_pub_t *p, pconn_t *c, bool ok, int status, const char *what)
{
    uint64_t now = nwb_now_ns();

    c->busy = false;
    p->answered++;
    p->st.last_ack_ns = now;
    nwb_hist_add(&p->st.rtt, (now - c->sent_ns) / 1000);
    if (ok) {
        p->acked[c->seq] = 1;
        p->st.ok++;
    } else {
        pub_failed(p, status, what);
    }
}

/* The connection broke: its item failed; open it again. */
static void pconn_broken(nwb_pub_t *p, pconn_t *c, const char *why)
{
    if (c->busy)
        pconn_done(p, c, false, 0, why);
    p->st.reconnects++;
    if (pconn_open(p, c) < 0) {
        epoll_ctl(p->ep, EPOLL_CTL_DEL, c->fd, NULL);
        c->fd = -1;
    }
}

static void pconn_flush(nwb_pub_t *p, pconn_t *c)
{
    while (c->ooff < c->olen) {
        ssize_t n = write(c->fd, c->out + c->ooff, c->olen - c->ooff);

        if (n < 0) {
            if (errno == EAGAIN) {
                struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};

                epoll_ctl(p->ep, EPOLL_CTL_MOD, c->fd, &ev);
                return;
            }
            if (errno == EINTR)
                continue;
            pconn_broken(p, c, strerror(errno));
            return;
        }
        c->ooff += (size_t)n;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(p->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Writes the publish of item seq on idle connection c. */
static void pconn_send(nwb_pub_t *p, pconn_t *c, uint64_t seq)
{
    const nwb_config_t *cfg = p->cfg;
    char topic[160];
    size_t blen;
    int hlen;

    nwb_topic_name(cfg, (unsigned)(seq % cfg->topics), topic, sizeof(topic));
    c->seq = seq;
    c->busy = true;
    c->sent_ns = nwb_now_ns();
    blen = nwb_item_format(cfg, seq, c->sent_ns, p->body, p->body_cap);
    if (cfg->target == NWB_TARGET_NEWSWIRE)
        hlen = snprintf(c->out, c->ocap,
                        "POST /v1/articles?topics=%s HTTP/1.1\r\nHost: %s\r\n"
                        "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                        topic, cfg->api.text, blen);
    else
        hlen = snprintf(c->out, c->ocap,
                        "POST /pub/%s HTTP/1.1\r\nHost: %s\r\n"
                        "Content-Type: text/plain\r\nContent-Length: %zu\r\n\r\n",
                        topic, cfg->api.text, blen);
    memcpy(c->out + hlen, p->body, blen);
    c->olen = (size_t)hlen + blen;
    c->ooff = 0;
    c->head_done = false;
    if (p->st.sent == 0)
        p->st.first_send_ns = c->sent_ns;
    p->st.last_send_ns = c->sent_ns;
    p->st.sent++;
    pconn_flush(p, c);
}

/* Reads the head of an answer: status, body framing, keep-alive. */
static void pconn_head(pconn_t *c, const char *head, size_t len)
{
    const char *p = head, *end = head + len;

    c->status = len > 12 && memcmp(head, "HTTP/1.", 7) == 0 ? atoi(head + 9) : 0;
    c->chunked = false;
    c->close = len > 8 && memcmp(head, "HTTP/1.0", 8) == 0;
    c->body_left = 0;
    while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL && ++p < end) {
        if (strncasecmp(p, "Content-Length:", 15) == 0)
            c->body_left = strtoull(p + 15, NULL, 10);
        else if (strncasecmp(p, "Transfer-Encoding:", 18) == 0)
            c->chunked =
                memmem(p, (size_t)(end - p) < 64 ? (size_t)(end - p) : 64, "chunked", 7) != NULL;
        else if (strncasecmp(p, "Connection:", 11) == 0)
            c->close = strncasecmp(p + 11 + strspn(p + 11, " "), "close", 5) == 0;
    }
}

/* Consumes the body of a chunked answer in c->in; returns the bytes used
 * when the last chunk is in, 0 while more is needed. */
static size_t pconn_chunks(pconn_t *c, size_t off)
{
    size_t start = off;

    for (;;) {
        char *eol = memmem(c->in + off, c->ilen - off, "\r\n", 2);
        unsigned long long size;

        if (eol == NULL)
            return 0;
        size = strtoull(c->in + off, NULL, 16);
        off = (size_t)(eol - c->in) + 2;
        if (size == 0) {
            /* no trailers expected: the final CRLF */
            if (c->ilen - off < 2)
                return 0;
            return off + 2 - start;
        }
        if (c->ilen - off < size + 2)
            return 0;
        if (c->snippet[0] == '\0')
            snprintf(c->snippet, sizeof(c->snippet), "%.*s", (int)(size < 100 ? size : 100),
                     c->in + off);
        off += size + 2;
    }
}

/* Parses what c->in holds; finishes the request once its answer is in. */
static void pconn_parse(nwb_pub_t *p, pconn_t *c)
{
    size_t used;

    if (!c->head_done) {
        char *end = memmem(c->in, c->ilen, "\r\n\r\n", 4);

        if (end == NULL) {
            if (c->ilen > PUB_HEAD_MAX * 8)
                pconn_broken(p, c, "answer head too long");
            return;
        }
        pconn_head(c, c->in, (size_t)(end - c->in) + 4);
        used = (size_t)(end - c->in) + 4;
        memmove(c->in, c->in + used, c->ilen - used);
        c->ilen -= used;
        c->head_done = true;
        c->snippet[0] = '\0';
    }
    if (c->chunked) {
        used = pconn_chunks(c, 0);
        if (used == 0)
            return;
    } else {
        if (c->ilen < c->body_left)
            return;
        used = (size_t)c->body_left;
        snprintf(c->snippet, sizeof(c->snippet), "%.*s", (int)(used < 100 ? used : 100), c->in);
    }
    memmove(c->in, c->in + used, c->ilen - used);
    c->ilen -= used;
    c->head_done = false;
    if (!c->busy) {
        pconn_broken(p, c, "answer without a request");
        return;
    }
    if (c->status >= 200 && c->status < 300) {
        pconn_done(p, c, true, c->status, NULL);
    } else {
        char what[200];

        snprintf(what, sizeof(what), "HTTP %d: %s", c->status, c->snippet);
        pconn_done(p, c, false, c->status, what);
    }
    if (c->close)
        pconn_broken(p, c, "closed by the server");
}

static void pconn_readable(nwb_pub_t *p, pconn_t *c)
{
    for (;;) {
        ssize_t n;

        if (c->ilen == PUB_IN_BYTES) {
            pconn_broken(p, c, "answer too long");
            return;
        }
        n = read(c->fd, c->in + c->ilen, PUB_IN_BYTES - c->ilen);
        if (n > 0) {
            c->ilen += (size_t)n;
            pconn_parse(p, c);
            if (c->fd < 0)
                return;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        pconn_broken(p, c, n == 0 ? "closed by the server" : strerror(errno));
        return;
    }
}

/* Sends every item that is due on the idle connections; arms the timer for
 * the next one when pacing. */
static void pub_fill(nwb_pub_t *p)
{
    const nwb_config_t *cfg = p->cfg;

    for (unsigned i = 0; i < p->n && p->next < cfg->items; i++) {
        pconn_t *c = &p->conns[i];

        if (c->busy || c->fd < 0)
            continue;
        if (cfg->rate > 0) {
            uint64_t due = p->t0 + (uint64_t)((double)p->next * 1e9 / cfg->rate);
            uint64_t now = nwb_now_ns();

            if (due > now) {
                struct itimerspec its = {.it_value = {.tv_sec = (time_t)(due / 1000000000u),
                                                      .tv_nsec = (long)(due % 1000000000u)}};

                timerfd_settime(p->tfd, TFD_TIMER_ABSTIME, &its, NULL);
                return;
            }
            if (now - due > PUB_LATE_NS)
                p->st.late++;
        }
        pconn_send(p, c, p->next++);
    }
}

/* True when a request has waited PUB_STALL_NS for its answer. */
static bool pub_stalled(const nwb_pub_t *p)
{
    uint64_t now = nwb_now_ns();

    for (unsigned i = 0; i < p->n; i++)
        if (p->conns[i].busy && now - p->conns[i].sent_ns > PUB_STALL_NS)
            return true;
    return false;
}

/* A request went unanswered for PUB_STALL_NS: every item in flight and
 * every item not sent yet fails. */
static void pub_give_up(nwb_pub_t *p)
{
    for (unsigned i = 0; i < p->n; i++)
        if (p->conns[i].busy)
            pconn_done(p, &p->conns[i], false, 0, "no answer in 30 s");
    for (; p->next < p->cfg->items; p->next++, p->answered++)
        pub_failed(p, 0, "not sent: the server stopped answering");
}

int nwb_pub_run(nwb_pub_t *p)
{
    struct epoll_event events[64];
    const nwb_config_t *cfg = p->cfg;

    p->t0 = nwb_now_ns();
    while (p->answered < cfg->items) {
        bool alive = false;
        int n;

        pub_fill(p);
        for (unsigned i = 0; i < p->n; i++)
            alive = alive || p->conns[i].fd >= 0;
        if (!alive) {
            for (; p->next < cfg->items; p->next++, p->answered++)
                pub_failed(p, 0, "no connection to the API");
            return -ECONNREFUSED;
        }
        n = epoll_wait(p->ep, events, 64, 1000);
        for (int i = 0; i < n; i++) {
            pconn_t *c = events[i].data.ptr;

            if (events[i].data.ptr == PUB_TIMER_TAG) {
                uint64_t ticks;

                if (read(p->tfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
                    return -errno;
                continue;
            }
            if (c->fd < 0)
                continue;
            if (events[i].events & EPOLLOUT)
                pconn_flush(p, c);
            if (c->fd >= 0 && events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                pconn_readable(p, c);
        }
        if (pub_stalled(p)) {
            pub_give_up(p);
            return -ETIMEDOUT;
        }
    }
    return 0;
}
