/* Newswire — internals shared by the two halves of the HTTP server: http.c
 * (listeners, connections, reading requests) and http_req.c (the request
 * object, its accessors and the reply path). Not for other modules: they use
 * http.h, whose types stay opaque. */
#ifndef NW_HTTP_INT_H
#define NW_HTTP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "http_parse.h"

struct bufferevent;
struct event;
struct evbuffer;
struct evconnlistener;

#define NW_HTTP_MAX_LISTENERS 8

typedef enum conn_state {
    CS_IDLE,    /* waiting for the first byte of a request */
    CS_HEAD,    /* reading a request head */
    CS_BODY,    /* reading its body */
    CS_HANDLER, /* the request callback owns the request; not reading */
    CS_WRITING, /* response queued; waiting for the output to drain */
    CS_LINGER,  /* output shut down; discarding input until EOF or timeout */
} conn_state_t;

typedef struct nw_http_conn nw_http_conn_t;

struct nw_http_conn {
    nw_http_server_t *srv;
    nw_http_conn_t *prev, *next; /* in srv->conns, or srv->graveyard */
    struct bufferevent *bev;
    struct event *timer;
    struct event *done_ev; /* the response went out in one write: finish it */
    conn_state_t state;
    nw_http_limits_t lim; /* snapshot for the current request */
    nw_http_head_parser_t *parser;
    nw_http_chunked_t *chunked; /* created on the first chunked body */
    nw_http_head_t head;        /* the head, while its body is read */
    bool have_head;
    struct evbuffer *body;
    uint64_t body_left; /* Content-Length bytes still to read */
    uint64_t start_ms;
    nw_http_req_t *req; /* with the handler, or NULL */
    bool head_timer;    /* the header timeout runs (from accept) */
    bool close_after;   /* close once the response has drained */
    bool peer_eof;      /* the peer finished sending while a request was handled */
    bool closing;       /* unlinked; freed when control returns */
    bool rejecting;     /* accepted over max_connections */
    char peer[64];
};

struct nw_http_server {
    struct event_base *base;
    nw_http_limits_t lim;
    nw_http_request_cb cb;
    void *arg;
    struct evconnlistener *listeners[NW_HTTP_MAX_LISTENERS];
    size_t n_listeners;
    int port;
    struct event *accept_pause;
    nw_http_conn_t *conns;
    nw_http_conn_t *graveyard;
    size_t n_conns, n_rejecting, pending;
    unsigned depth;                                       /* server callbacks on the stack */
    bool stopping, freed, full_logged, accept_err_logged; /* log once per episode */
    nw_http_stats_t stats;
};

typedef struct req_field {
    const char *name;
    char *value;
    bool owned; /* value was joined from repeats and malloc'd */
} req_field_t;

typedef struct query_cache {
    struct query_cache *next;
    char *name;
    char *value; /* NULL: absent or invalid */
} query_cache_t;

struct nw_http_req {
    nw_http_server_t *srv;
    nw_http_conn_t *conn; /* NULL once the client is gone */
    nw_http_head_t head;
    req_field_t *fields;
    size_t n_fields;
    const char *path, *query;
    struct evbuffer *body_buf;
    const char *body;
    size_t body_len;
    bool has_length, is_head, keep_alive;
    uint64_t start_ms;
    struct evbuffer *extra; /* response headers added by the handler */
    query_cache_t *qcache;
    char peer[64];
};

/* http.c */

/* Destroys a server that has been freed and has no pending request. */
void nw_http_server_destroy(nw_http_server_t *srv);

/* Queues a complete response on c and waits for it to drain. extra holds
 * handler headers (moved out), extra_line one more preformatted header line.
 * Returns 0, or -ENOMEM after closing the connection. */
int nw_http_conn_write_response(nw_http_conn_t *c, int status, const char *ctype, const void *body,
                                size_t len, bool omit_body, struct evbuffer *extra,
                                const char *extra_line);

/* http_req.c */

/* Builds the request from the connection's head and body, taking them over.
 * Returns NULL on allocation failure (the connection keeps neither). */
nw_http_req_t *nw_http_req_new(nw_http_conn_t *c);

/* Builds {"error": message[, "field": field]}; malloc'd, or NULL. */
char *nw_http_json_error(const char *message, const char *field);

/* Serialises a response (status line, server headers, extra, body) into out.
 * Returns 0, or a negative value when out could not grow (out may then hold
 * part of the response). */
int nw_http_response_format(struct evbuffer *out, int status, const char *ctype, const void *body,
                            size_t len, bool omit_body, bool close, struct evbuffer *extra,
                            const char *extra_line);

#endif
