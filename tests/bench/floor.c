/* nwfloor — the floor of the comparison: about the least work a WebSocket
 * fan-out server can do, so that the figures of a load on this machine can
 * be split into what the machine (kernel, loopback TCP, the generator on the
 * same cores) costs and what a server adds to it.
 *
 * It speaks what nwbench's nchan target speaks: subscribers upgrade on
 * GET /sub/<channel>; POST /pub/<channel> sends its body as one text frame
 * to every subscriber of the channel and is answered 201 once the frame is
 * written (or queued) to those of its own thread and handed to the other
 * threads. Each thread has its own listening socket on the port
 * (SO_REUSEPORT), its own epoll loop and its own channel table; a frame is
 * built once per publish and shared by reference. Bounds: 2048 channels
 * per thread (an upgrade beyond is refused with 503), 65,536 publishes
 * waiting for another thread (a publish beyond is answered 503), 64 MiB
 * queued per subscriber (dropped beyond). No storage, no validation, no
 * history, no pings: a benchmark tool, never a server to put on a network.
 *
 *   nwfloor [--listen 127.0.0.1:9095] [--threads 2]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define FL_MAX_THREADS 16
#define FL_HEAD_MAX    8192
#define FL_BODY_MAX    (1024 * 1024)
#define FL_OUT_MAX     (64u * 1024 * 1024) /* a subscriber this far behind is dropped */
#define FL_EVENTS      512
#define FL_CHAN_SLOTS  4096                /* channel hash table size per thread (power of two) */
#define FL_CHAN_MAX    (FL_CHAN_SLOTS / 2) /* channels per thread: probes stay short */
#define FL_INBOX_MAX   65536               /* publishes waiting for a thread (503 beyond) */

/* One published frame, shared by every thread that sends it. */
typedef struct {
    atomic_int refs;
    size_t len;
    char chan[256];
    unsigned char data[]; /* frame header + payload */
} fl_msg_t;

typedef struct fl_conn fl_conn_t;

typedef struct {
    char *name;
    fl_conn_t **subs;
    size_t n, cap;
} fl_chan_t;

typedef struct fl_inbox_node {
    struct fl_inbox_node *next;
    fl_msg_t *msg;
} fl_inbox_node_t;

typedef struct {
    pthread_t tid;
    int lfd, epfd, efd;
    fl_chan_t *chans[FL_CHAN_SLOTS]; /* open addressing on the name's hash */
    unsigned nchans;
    pthread_mutex_t lock; /* guards the inbox */
    fl_inbox_node_t *head, **tail;
    unsigned queued; /* nodes in the inbox */
    fl_conn_t *dead; /* closed during this batch of events, freed after it */
} fl_thread_t;

struct fl_conn {
    int fd;
    bool ws;
    fl_chan_t *chan; /* subscribers: their channel */
    size_t slot;     /* index in chan->subs */
    char *in;        /* HTTP connections: bytes not parsed yet */
    size_t ilen, icap;
    unsigned char *out; /* bytes the socket did not take yet */
    size_t olen, ooff, ocap;
    fl_conn_t *next_dead;
};

static fl_thread_t threads[FL_MAX_THREADS];
static unsigned nthreads = 2;
static struct sockaddr_in listen_addr;

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);

    if (q == NULL) {
        fputs("nwfloor: out of memory\n", stderr);
        abort();
    }
    return q;
}

static void msg_unref(fl_msg_t *m)
{
    if (atomic_fetch_sub(&m->refs, 1) == 1)
        free(m);
}

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */

    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

/* The channel called name in t, created when create is set (up to
 * FL_CHAN_MAX); NULL if none. */
static fl_chan_t *chan_get(fl_thread_t *t, const char *name, bool create)
{
    uint32_t i = hash(name) & (FL_CHAN_SLOTS - 1);

    for (;; i = (i + 1) & (FL_CHAN_SLOTS - 1)) {
        fl_chan_t *c = t->chans[i];

        if (c == NULL)
            break;
        if (strcmp(c->name, name) == 0)
            return c;
    }
    if (!create || t->nchans == FL_CHAN_MAX)
        return NULL;
    t->nchans++;
    t->chans[i] = xrealloc(NULL, sizeof(fl_chan_t));
    *t->chans[i] = (fl_chan_t){.name = xrealloc(NULL, strlen(name) + 1)};
    strcpy(t->chans[i]->name, name);
    return t->chans[i];
}

/* Closes c; it is freed after the current batch of events, which may still
 * name it (fd -1 then). */
static void conn_close(fl_thread_t *t, fl_conn_t *c)
{
    if (c->chan != NULL) {
        fl_chan_t *ch = c->chan;

        ch->subs[c->slot] = ch->subs[--ch->n];
        ch->subs[c->slot]->slot = c->slot;
        c->chan = NULL;
    }
    close(c->fd); /* also leaves the epoll set */
    c->fd = -1;
    c->next_dead = t->dead;
    t->dead = c;
}

/* Sends data to c, queueing what the socket does not take. Returns false
 * when c was dropped. */
static bool conn_send(fl_thread_t *t, fl_conn_t *c, const void *data, size_t len)
{
    ssize_t n = 0;

    if (c->olen == c->ooff) {
        n = send(c->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            conn_close(t, c);
            return false;
        }
        if (n < 0)
            n = 0;
        if ((size_t)n == len)
            return true;
        c->olen = c->ooff = 0;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};

        epoll_ctl(t->epfd, EPOLL_CTL_MOD, c->fd, &ev);
    }
    if (c->olen - c->ooff + len - (size_t)n > FL_OUT_MAX) {
        conn_close(t, c);
        return false;
    }
    if (c->olen + len - (size_t)n > c->ocap) {
        memmove(c->out, c->out + c->ooff, c->olen - c->ooff);
        c->olen -= c->ooff;
        c->ooff = 0;
        if (c->olen + len - (size_t)n > c->ocap) {
            c->ocap = 2 * (c->olen + len);
            c->out = xrealloc(c->out, c->ocap);
        }
    }
    memcpy(c->out + c->olen, (const unsigned char *)data + n, len - (size_t)n);
    c->olen += len - (size_t)n;
    return true;
}

/* Writes what c has queued; on EPOLLOUT. */
static void conn_flush(fl_thread_t *t, fl_conn_t *c)
{
    while (c->ooff < c->olen) {
        ssize_t n = send(c->fd, c->out + c->ooff, c->olen - c->ooff, MSG_NOSIGNAL);

        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return;
            conn_close(t, c);
            return;
        }
        c->ooff += (size_t)n;
    }
    c->olen = c->ooff = 0;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};

    epoll_ctl(t->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void deliver(fl_thread_t *t, const fl_msg_t *m)
{
    fl_chan_t *ch = chan_get(t, m->chan, false);

    /* conn_send may drop a subscriber, which moves the last one into its
     * slot: walk from the end */
    for (size_t i = ch ? ch->n : 0; i-- > 0;)
        if (i < ch->n)
            conn_send(t, ch->subs[i], m->data, m->len);
}

/* True when another thread has FL_INBOX_MAX publishes waiting (checked
 * before a publish is handed over: the bound is approximate when several
 * threads publish at once). */
static bool inbox_full(const fl_thread_t *self)
{
    bool full = false;

    for (unsigned i = 0; i < nthreads && !full; i++) {
        fl_thread_t *t = &threads[i];

        if (t == self)
            continue;
        pthread_mutex_lock(&t->lock);
        full = t->queued >= FL_INBOX_MAX;
        pthread_mutex_unlock(&t->lock);
    }
    return full;
}

/* Hands m to every thread: its own delivers now, the others on their
 * eventfd. */
static void publish(fl_thread_t *self, fl_msg_t *m)
{
    atomic_store(&m->refs, (int)nthreads);
    for (unsigned i = 0; i < nthreads; i++) {
        fl_thread_t *t = &threads[i];
        fl_inbox_node_t *node;
        uint64_t one = 1;
        bool was_empty;

        if (t == self)
            continue;
        node = xrealloc(NULL, sizeof(*node));
        node->next = NULL;
        node->msg = m;
        pthread_mutex_lock(&t->lock);
        was_empty = t->head == NULL;
        *t->tail = node;
        t->tail = &node->next;
        t->queued++;
        pthread_mutex_unlock(&t->lock);
        if (was_empty && write(t->efd, &one, sizeof(one)) < 0)
            perror("nwfloor: eventfd");
    }
    deliver(self, m);
    msg_unref(m);
}

static void inbox_drain(fl_thread_t *t)
{
    fl_inbox_node_t *node;
    uint64_t n;

    if (read(t->efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
        perror("nwfloor: eventfd");
    pthread_mutex_lock(&t->lock);
    node = t->head;
    t->head = NULL;
    t->tail = &t->head;
    t->queued = 0;
    pthread_mutex_unlock(&t->lock);
    while (node != NULL) {
        fl_inbox_node_t *next = node->next;

        deliver(t, node->msg);
        msg_unref(node->msg);
        free(node);
        node = next;
    }
}

/* Value of header name in head (NUL-terminated), trimmed, copied into out. */
static bool header(const char *head, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);

    for (const char *p = strchr(head, '\n'); p != NULL; p = strchr(p, '\n')) {
        p++;
        if (strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
            const char *v = p + nlen + 1;
            size_t n;

            v += strspn(v, " \t");
            n = strcspn(v, "\r\n");
            if (n >= cap)
                return false;
            memcpy(out, v, n);
            out[n] = '\0';
            return true;
        }
    }
    return false;
}

#define FL_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* Answers the upgrade of key (room for FL_GUID after it) and subscribes c
 * to ch. Returns false when c was closed. */
static bool upgrade(fl_thread_t *t, fl_conn_t *c, char *key, fl_chan_t *ch)
{
    char accept[64], out[256];
    unsigned char sha[EVP_MAX_MD_SIZE];
    unsigned shalen;
    int n;

    strcat(key, FL_GUID);
    EVP_Digest(key, strlen(key), sha, &shalen, EVP_sha1(), NULL);
    EVP_EncodeBlock((unsigned char *)accept, sha, (int)shalen);
    n = snprintf(out, sizeof(out),
                 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                 accept);
    c->ws = true;
    c->chan = ch;
    if (c->chan->n == c->chan->cap) {
        c->chan->cap = c->chan->cap ? 2 * c->chan->cap : 16;
        c->chan->subs = xrealloc(c->chan->subs, c->chan->cap * sizeof(fl_conn_t *));
    }
    c->slot = c->chan->n;
    c->chan->subs[c->chan->n++] = c;
    free(c->in);
    c->in = NULL;
    c->ilen = c->icap = 0;
    return conn_send(t, c, out, (size_t)n);
}

static fl_msg_t *msg_new(const char *chan, const char *body, size_t len)
{
    size_t hlen = len < 126 ? 2 : len < 65536 ? 4 : 10;
    fl_msg_t *m = xrealloc(NULL, sizeof(*m) + hlen + len);

    snprintf(m->chan, sizeof(m->chan), "%s", chan);
    m->len = hlen + len;
    m->data[0] = 0x81; /* FIN, text */
    if (hlen == 2) {
        m->data[1] = (unsigned char)len;
    } else if (hlen == 4) {
        m->data[1] = 126;
        m->data[2] = (unsigned char)(len >> 8);
        m->data[3] = (unsigned char)len;
    } else {
        m->data[1] = 127;
        for (int i = 0; i < 8; i++)
            m->data[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
    }
    memcpy(m->data + hlen, body, len);
    return m;
}

/* Answers the requests c->in holds. Returns false when c was closed. */
static bool http_parse(fl_thread_t *t, fl_conn_t *c)
{
    static const char created[] = "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n";
    static const char missing[] =
        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";
    static const char full[] =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

    while (!c->ws) {
        char *end = memmem(c->in, c->ilen, "\r\n\r\n", 4), method[8], path[256], len[32];
        char key[128];
        size_t head, body = 0;
        bool ok;

        if (end == NULL) {
            if (c->ilen <= FL_HEAD_MAX)
                return true;
            conn_close(t, c);
            return false;
        }
        *end = '\0';
        head = (size_t)(end - c->in) + 4;
        if (sscanf(c->in, "%7s %255s", method, path) != 2) {
            conn_close(t, c);
            return false;
        }
        if (header(c->in, "Content-Length", len, sizeof(len)))
            body = strtoul(len, NULL, 10);
        if (body > FL_BODY_MAX) {
            conn_close(t, c);
            return false;
        }
        if (c->ilen < head + body) {
            *end = '\r';
            return true;
        }
        if (strcmp(method, "GET") == 0 && strncmp(path, "/sub/", 5) == 0 &&
            header(c->in, "Sec-WebSocket-Key", key, sizeof(key) - sizeof(FL_GUID))) {
            fl_chan_t *ch = chan_get(t, path + 5, true);

            if (ch != NULL)
                return upgrade(t, c, key, ch);
            if (conn_send(t, c, full, sizeof(full) - 1)) /* FL_CHAN_MAX channels */
                conn_close(t, c);
            return false;
        }
        if (strcmp(method, "POST") != 0 || strncmp(path, "/pub/", 5) != 0) {
            if (conn_send(t, c, missing, sizeof(missing) - 1))
                conn_close(t, c);
            return false;
        }
        ok = !inbox_full(t);
        if (ok)
            publish(t, msg_new(path + 5, c->in + head, body));
        memmove(c->in, c->in + head + body, c->ilen - head - body);
        c->ilen -= head + body;
        if (!(ok ? conn_send(t, c, created, sizeof(created) - 1)
                 : conn_send(t, c, busy, sizeof(busy) - 1)))
            return false;
    }
    return true;
}

static void conn_read(fl_thread_t *t, fl_conn_t *c)
{
    for (;;) {
        char scratch[4096];
        ssize_t n;

        if (!c->ws && c->icap - c->ilen < 4096) {
            c->icap = c->icap ? 2 * c->icap : 8192;
            c->in = xrealloc(c->in, c->icap);
        }
        /* what a subscriber sends (a close, a pong) is read and dropped */
        n = c->ws ? recv(c->fd, scratch, sizeof(scratch), 0)
                  : recv(c->fd, c->in + c->ilen, c->icap - c->ilen, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            conn_close(t, c);
            return;
        }
        if (n < 0)
            return;
        if (!c->ws) {
            c->ilen += (size_t)n;
            if (!http_parse(t, c))
                return;
        }
    }
}

static void accept_all(fl_thread_t *t)
{
    for (;;) {
        int fd = accept4(t->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), one = 1;
        fl_conn_t *c;

        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                perror("nwfloor: accept");
            return;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c = xrealloc(NULL, sizeof(*c));
        *c = (fl_conn_t){.fd = fd};
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};

        if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            free(c);
        }
    }
}

static void *thread_main(void *arg)
{
    fl_thread_t *t = arg;
    struct epoll_event evs[FL_EVENTS];

    for (;;) {
        int n = epoll_wait(t->epfd, evs, FL_EVENTS, -1);

        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;

            if (p == &t->lfd)
                accept_all(t);
            else if (p == &t->efd)
                inbox_drain(t);
            else if (((fl_conn_t *)p)->fd < 0)
                continue;
            else if (evs[i].events & EPOLLOUT)
                conn_flush(t, p);
            else
                conn_read(t, p);
        }
        while (t->dead != NULL) {
            fl_conn_t *c = t->dead;

            t->dead = c->next_dead;
            free(c->in);
            free(c->out);
            free(c);
        }
    }
    return NULL;
}

/* Opens t's listening socket, epoll set and eventfd; returns 0 or -errno. */
static int thread_open(fl_thread_t *t)
{
    int one = 1;

    t->tail = &t->head;
    pthread_mutex_init(&t->lock, NULL);
    t->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    t->epfd = epoll_create1(EPOLL_CLOEXEC);
    t->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (t->lfd < 0 || t->epfd < 0 || t->efd < 0 ||
        setsockopt(t->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        setsockopt(t->lfd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
        bind(t->lfd, (struct sockaddr *)&listen_addr, sizeof(listen_addr)) < 0 ||
        listen(t->lfd, 4096) < 0)
        return -errno;
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = &t->lfd};
    struct epoll_event eev = {.events = EPOLLIN, .data.ptr = &t->efd};

    if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->lfd, &lev) < 0 ||
        epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->efd, &eev) < 0)
        return -errno;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"listen", required_argument, NULL, 'l'},
        {"threads", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char host[64] = "127.0.0.1";
    unsigned port = 9095;
    int opt;

    while ((opt = getopt_long(argc, argv, "l:t:h", options, NULL)) != -1) {
        char *colon;

        switch (opt) {
        case 'l':
            colon = strrchr(optarg, ':');
            if (colon == NULL || (size_t)(colon - optarg) >= sizeof(host))
                goto usage;
            memcpy(host, optarg, (size_t)(colon - optarg));
            host[colon - optarg] = '\0';
            port = (unsigned)strtoul(colon + 1, NULL, 10);
            break;
        case 't':
            nthreads = (unsigned)strtoul(optarg, NULL, 10);
            break;
        default:
            goto usage;
        }
    }
    if (optind != argc || nthreads == 0 || nthreads > FL_MAX_THREADS || port == 0 || port > 65535)
        goto usage;
    listen_addr.sin_family = AF_INET;
    listen_addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &listen_addr.sin_addr) != 1)
        goto usage;
    signal(SIGPIPE, SIG_IGN);
    for (unsigned i = 0; i < nthreads; i++) {
        int rc = thread_open(&threads[i]);

        if (rc < 0) {
            fprintf(stderr, "nwfloor: listen %s:%u: %s\n", host, port, strerror(-rc));
            return 1;
        }
    }
    for (unsigned i = 1; i < nthreads; i++)
        pthread_create(&threads[i].tid, NULL, thread_main, &threads[i]);
    thread_main(&threads[0]);
    return 0;
usage:
    fputs("usage: nwfloor [--listen HOST:PORT] [--threads N (1-16)]\n", stderr);
    return 2;
}
