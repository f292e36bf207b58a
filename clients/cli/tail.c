/* Newswire command — tail: subscribe to the WebSocket stream and print
 * every item message as one JSON line on stdout.
 *
 * One libwebsockets client context, serviced by this thread only. Each
 * connection subscribes with the subscribe op as soon as it is open,
 * carrying the resume cursor and epoch (tail_state.h) once there is one,
 * so that a reconnect resumes where the last connection stopped. A drop
 * (connection lost or refused, 1012, 1013, ...) schedules a reconnect after
 * a capped exponential backoff with full jitter; a refusal for good
 * (4001-4008, a forbidden topic) ends the command with exit 3. SIGINT and
 * SIGTERM arrive through a signalfd adopted into the lws loop, so the
 * loop needs no global flag and ends cleanly with exit 0.
 *
 * stdout carries item lines only; everything else goes to stderr. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libwebsockets.h>
#include <msgpack.h>

#include "args.h"
#include "cli.h"
#include "codec.h"
#include "tail_state.h"
#include "url.h"

#define BACKOFF_BASE_MS 250
#define RX_MAX_BYTES    (8 * 1024 * 1024) /* largest message reassembled */
#define SIGNAL_PROTOCOL "newswire-signal"
#define STREAM_PROTOCOL "newswire-tail"

static const char tail_usage[] =
    "Usage: newswire tail --url ws://HOST:PORT/v1/stream [options] TOPIC...\n"
    "\n"
    "Subscribes to the topic patterns (monde/#, sport/+, ...) and prints each\n"
    "item message as one JSON line on stdout, nothing else (diagnostics go to\n"
    "stderr). After a drop it reconnects, with a capped exponential backoff\n"
    "and full jitter, and resumes after the last item it saw: no gap, and no\n"
    "item id printed twice.\n"
    "\n"
    "  --url URL                the stream, ws://host:port/v1/stream or wss://\n"
    "  --since ID               resume after this item id\n"
    "  --epoch EPOCH            with --since: the epoch its subscribed message gave\n"
    "  --token TOKEN            a subscriber token (default: $NEWSWIRE_TOKEN)\n"
    "  --min-urgency N          new and updated items of urgency <= N only (1..9)\n"
    "  --msgpack                speak newswire.v1.msgpack (lines stay JSON)\n"
    "  --count N                exit 0 after N items\n"
    "  --max-retries N          give up (exit 5) after N failed attempts in a row\n"
    "                           (default: never)\n"
    "  --backoff-max SECONDS    longest wait between attempts (default 30)\n"
    "  --cacert FILE            wss: trust the CA certificates in FILE\n"
    "  --insecure               wss: do not verify the server's certificate\n"
    "  -v, --verbose            report session events on stderr\n"
    "  -h, --help               show this help\n"
    "\n"
    "Exit status: 0 after --count items or on SIGINT/SIGTERM, 2 usage error,\n"
    "3 refused (bad or expired token, forbidden topic, protocol error),\n"
    "5 gave up after --max-retries failed attempts.\n";

typedef struct tail {
    const nw_args_tail_t *args;
    const char *token;
    nw_url_t url;
    char host[NW_URL_HOST_MAX + 16];
    struct lws_context *ctx;
    struct lws *wsi; /* the stream connection, NULL between connections */
    lws_sorted_usec_list_t sul_reconnect;
    nw_tail_state_t *st;
    uint64_t rng;      /* xorshift64 state for the backoff jitter */
    unsigned failures; /* attempts in a row that did not get subscribed */
    bool subscribed;   /* this connection got its subscribed message */
    bool live;         /* a connection attempt is under way or open */
    char *rx;          /* the message being reassembled */
    size_t rx_len, rx_cap;
    bool rx_binary, rx_overflow;
    unsigned char *tx; /* the subscribe op, after LWS_PRE bytes */
    size_t tx_len;
    int close_code; /* from the peer's close frame, 0 when none came */
    char close_reason[128];
    bool done;
    int exit_code;
} tail_t;

static void connect_cb(lws_sorted_usec_list_t *sul);

/* Ends the command with code (the first end wins). */
static void finish(tail_t *t, int code)
{
    if (!t->done) {
        t->done = true;
        t->exit_code = code;
    }
}

/* xorshift64: jitter needs spread, not secrecy. */
static uint64_t next_random(tail_t *t)
{
    t->rng ^= t->rng << 13;
    t->rng ^= t->rng >> 7;
    t->rng ^= t->rng << 17;
    return t->rng;
}

/* The connection is gone (closed, refused or never made): reconnect after
 * the backoff, or give up after --max-retries attempts in a row. Runs once
 * per connection attempt. */
static void dropped(tail_t *t, const char *why)
{
    int delay;

    if (!t->live)
        return;
    t->live = false;
    t->wsi = NULL;
    free(t->tx);
    t->tx = NULL;
    if (t->done)
        return;
    if (!t->subscribed)
        t->failures++;
    if (t->args->max_retries > 0 && t->failures > (unsigned long)t->args->max_retries) {
        fprintf(stderr, "newswire tail: %s; giving up after %u failed attempts\n", why,
                t->failures);
        finish(t, NW_CLI_EXIT_CONNECT);
        return;
    }
    delay = nw_tail_backoff_ms(t->subscribed ? 0 : t->failures - 1, BACKOFF_BASE_MS,
                               t->args->backoff_max_ms, next_random(t));
    fprintf(stderr, "newswire tail: %s; reconnecting in %d ms%s%s\n", why, delay,
            nw_tail_state_cursor(t->st) ? " after " : "",
            nw_tail_state_cursor(t->st) ? nw_tail_state_cursor(t->st) : "");
    lws_sul_schedule(t->ctx, 0, &t->sul_reconnect, connect_cb, (lws_usec_t)delay * LWS_US_PER_MS);
}

/* Builds the subscribe op of a new connection into t->tx. */
static int build_subscribe(tail_t *t)
{
    const char *cursor = nw_tail_state_cursor(t->st), *epoch = nw_tail_state_epoch(t->st);
    json_t *op = json_object(), *topics = json_array();
    char *text = NULL;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    int rc = -ENOMEM;

    msgpack_sbuffer_init(&sb);
    if (op == NULL || topics == NULL)
        goto done;
    for (size_t i = 0; i < t->args->ntopics; i++)
        json_array_append_new(topics, json_string(t->args->topics[i]));
    json_object_set_new(op, "op", json_string("subscribe"));
    json_object_set(op, "topics", topics);
    if (t->args->min_urgency > 0)
        json_object_set_new(op, "min_urgency", json_integer(t->args->min_urgency));
    if (cursor != NULL) {
        json_object_set_new(op, "since", json_string(cursor));
        if (epoch != NULL)
            json_object_set_new(op, "epoch", json_string(epoch));
    }
    if (t->args->msgpack) {
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        if (nw_codec_json_to_msgpack(op, &pk) < 0)
            goto done;
        t->tx_len = sb.size;
    } else {
        text = json_dumps(op, JSON_COMPACT);
        if (text == NULL)
            goto done;
        t->tx_len = strlen(text);
    }
    t->tx = malloc(LWS_PRE + t->tx_len);
    if (t->tx == NULL)
        goto done;
    memcpy(t->tx + LWS_PRE, t->args->msgpack ? sb.data : text, t->tx_len);
    rc = 0;
done:
    free(text);
    msgpack_sbuffer_destroy(&sb);
    json_decref(topics);
    json_decref(op);
    return rc;
}

/* Prints an item message as one line: the text as received when it is one
 * line already, else re-encoded compact. Returns 0 or -errno (stdout). */
static int print_item(const char *text, size_t len, json_t *msg)
{
    char *dump = NULL;

    if (text == NULL || memchr(text, '\n', len) != NULL || memchr(text, '\r', len) != NULL) {
        dump = json_dumps(msg, JSON_COMPACT);
        if (dump == NULL)
            return -ENOMEM;
        text = dump;
        len = strlen(dump);
    }
    fwrite(text, 1, len, stdout);
    fputc('\n', stdout);
    free(dump);
    return fflush(stdout) == 0 ? 0 : -errno;
}

static void on_item(tail_t *t, json_t *msg, const char *text, size_t len)
{
    const char *id = json_string_value(json_object_get(msg, "id"));
    const char *cursor = json_string_value(json_object_get(msg, "cursor"));
    int rc = nw_tail_state_item(t->st, id, cursor);

    if (rc < 0) {
        fprintf(stderr, "newswire tail: ignoring an item without a valid id\n");
        return;
    }
    if (rc == 0) {
        if (t->args->verbose)
            fprintf(stderr, "newswire tail: item %s again, not printed\n", id);
        return;
    }
    rc = print_item(text, len, msg);
    if (rc < 0) {
        if (rc != -EPIPE)
            fprintf(stderr, "newswire tail: stdout: %s\n", strerror(-rc));
        finish(t, rc == -EPIPE ? NW_CLI_EXIT_OK : NW_CLI_EXIT_ERROR);
        return;
    }
    if (t->args->count > 0 && nw_tail_state_printed(t->st) >= t->args->count)
        finish(t, NW_CLI_EXIT_OK);
}

/* Handles one complete server message. */
static void on_message(tail_t *t, const char *data, size_t len, bool binary)
{
    json_t *msg = NULL, *v;
    json_error_t jerr;
    nw_err_t err;
    const char *type;

    if (binary) {
        if (nw_codec_msgpack_to_json(data, len, &msg, &err) < 0) {
            fprintf(stderr, "newswire tail: invalid msgpack message: %s\n", err.message);
            return;
        }
    } else if ((msg = json_loadb(data, len, 0, &jerr)) == NULL) {
        fprintf(stderr, "newswire tail: invalid JSON message: %s\n", jerr.text);
        return;
    }
    type = json_string_value(json_object_get(msg, "type"));
    if (type == NULL) {
        fprintf(stderr, "newswire tail: a message without a type\n");
    } else if (strcmp(type, "item") == 0) {
        on_item(t, msg, binary ? NULL : data, len);
    } else if (strcmp(type, "subscribed") == 0) {
        v = json_object_get(msg, "recovered");
        nw_tail_state_subscribed(t->st, json_string_value(json_object_get(msg, "epoch")));
        if (json_is_false(v))
            fprintf(stderr,
                    "newswire tail: cursor %s not recovered: the server sends the "
                    "most recent items instead\n",
                    nw_tail_state_cursor(t->st) ? nw_tail_state_cursor(t->st) : "");
        else if (t->args->verbose)
            fprintf(stderr, "newswire tail: subscribed%s\n", json_is_true(v) ? ", resumed" : "");
        t->subscribed = true;
        t->failures = 0;
    } else if (strcmp(type, "error") == 0) {
        fprintf(stderr, "newswire tail: server error %s: %s\n",
                json_string_value(json_object_get(msg, "code")),
                json_string_value(json_object_get(msg, "message")));
        if (!t->subscribed) /* our subscription was refused */
            finish(t, NW_CLI_EXIT_REFUSED);
    } else if (t->args->verbose) {
        char *s = json_dumps(msg, JSON_COMPACT);
        fprintf(stderr, "newswire tail: %s\n", s ? s : type);
        free(s);
    }
    json_decref(msg);
}

/* Appends a received fragment; returns true when a message is complete. */
static bool rx_append(tail_t *t, struct lws *wsi, const void *in, size_t len)
{
    if (lws_is_first_fragment(wsi) && t->rx_len == 0) {
        t->rx_binary = lws_frame_is_binary(wsi);
        t->rx_overflow = false;
    }
    if (!t->rx_overflow && t->rx_len + len + 1 > t->rx_cap) {
        size_t cap = t->rx_cap ? t->rx_cap : 65536;
        char *b;
        while (cap < t->rx_len + len + 1 && cap <= RX_MAX_BYTES)
            cap *= 2;
        b = cap <= RX_MAX_BYTES * 2 ? realloc(t->rx, cap) : NULL;
        if (b == NULL) {
            t->rx_overflow = true;
        } else {
            t->rx = b;
            t->rx_cap = cap;
        }
    }
    if (!t->rx_overflow) {
        memcpy(t->rx + t->rx_len, in, len);
        t->rx_len += len;
    }
    return lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0;
}

/* Reads the status code and reason of a close frame from the peer. */
static void peer_close(tail_t *t, const unsigned char *in, size_t len)
{
    t->close_code = len >= 2 ? (in[0] << 8) | in[1] : 1005;
    snprintf(t->close_reason, sizeof(t->close_reason), "%.*s",
             len > 2 ? (int)NW_MIN(len - 2, sizeof(t->close_reason) - 1) : 0,
             len > 2 ? (const char *)in + 2 : "");
}

/* The connection closed after it was open: resume, or end for good. */
static void closed(tail_t *t)
{
    char why[512];

    if (t->close_code != 0)
        snprintf(why, sizeof(why), "closed by the server: code %d \"%s\"", t->close_code,
                 t->close_reason);
    else
        snprintf(why, sizeof(why), "connection lost");
    if (nw_tail_close_action(t->close_code) == NW_TAIL_CLOSE_FATAL) {
        fprintf(stderr, "newswire tail: %s\n", why);
        finish(t, NW_CLI_EXIT_REFUSED);
    }
    dropped(t, why);
}

/* A connection attempt failed before the WebSocket was open. */
static void connect_failed(tail_t *t, struct lws *wsi, const char *in)
{
    unsigned status = wsi ? lws_http_client_http_response(wsi) : 0;
    char why[512];

    snprintf(why, sizeof(why), "cannot connect to %s:%d: %s", t->url.host, t->url.port,
             in ? in : "connection failed");
    if (status == 400 || status == 401 || status == 403 || status == 404) {
        fprintf(stderr, "newswire tail: %s (HTTP %u)\n", why, status);
        finish(t, NW_CLI_EXIT_REFUSED);
    }
    dropped(t, why);
}

static int stream_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len)
{
    tail_t *t = lws_context_user(lws_get_context(wsi));

    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
        if (t->token != NULL) {
            unsigned char **p = in, *end = *p + len;
            char value[8300];
            int n = snprintf(value, sizeof(value), "Bearer %s", t->token);
            if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
                                             (unsigned char *)value, n, p, end))
                return -1;
        }
        return 0;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        t->rx_len = 0;
        t->close_code = 0;
        t->close_reason[0] = '\0';
        t->subscribed = false;
        if (t->args->verbose)
            fprintf(stderr, "newswire tail: connected to %s:%d\n", t->url.host, t->url.port);
        if (build_subscribe(t) < 0) {
            fprintf(stderr, "newswire tail: out of memory\n");
            finish(t, NW_CLI_EXIT_ERROR);
            return -1;
        }
        lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (t->tx != NULL) {
            int n = lws_write(wsi, t->tx + LWS_PRE, t->tx_len,
                              t->args->msgpack ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
            free(t->tx);
            t->tx = NULL;
            if (n < (int)t->tx_len)
                return -1;
        }
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (t->done)
            return 0;
        if (rx_append(t, wsi, in, len)) {
            if (t->rx_overflow)
                fprintf(stderr, "newswire tail: a message over %d bytes was skipped\n",
                        RX_MAX_BYTES);
            else
                on_message(t, t->rx, t->rx_len, t->rx_binary);
            t->rx_len = 0;
            t->rx_overflow = false;
        }
        return 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        peer_close(t, in, len);
        return 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        connect_failed(t, wsi, in);
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        closed(t);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

/* SIGINT or SIGTERM arrived on the signalfd. */
static int signal_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len)
{
    tail_t *t = lws_context_user(lws_get_context(wsi));
    struct signalfd_siginfo si;

    if (reason != LWS_CALLBACK_RAW_RX_FILE)
        return 0;
    if (read(lws_get_socket_fd(wsi), &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (t->args->verbose)
            fprintf(stderr, "newswire tail: %s, exiting\n", strsignal((int)si.ssi_signo));
        finish(t, NW_CLI_EXIT_OK);
    }
    return 0;
}

/* Starts a connection attempt (also the reconnect timer's callback). */
static void connect_cb(lws_sorted_usec_list_t *sul)
{
    tail_t *t = lws_container_of(sul, tail_t, sul_reconnect);
    struct lws_client_connect_info i;
    static const lws_retry_bo_t idle = {
        /* the server pings idle sessions every 30 s: a silence this long
         * means the connection is gone, even if TCP has not noticed */
        .secs_since_valid_ping = 45,
        .secs_since_valid_hangup = 100,
    };

    if (t->done)
        return;
    memset(&i, 0, sizeof(i));
    i.context = t->ctx;
    i.address = t->url.host;
    i.port = t->url.port;
    i.path = t->url.path;
    i.host = t->host;
    i.protocol = t->args->msgpack ? "newswire.v1.msgpack" : "newswire.v1.json";
    i.local_protocol_name = STREAM_PROTOCOL;
    i.ietf_version_or_minus_one = -1;
    i.alpn = "http/1.1";
    i.retry_and_idle_policy = &idle;
    i.pwsi = &t->wsi;
    if (t->url.tls) {
        i.ssl_connection = LCCSCF_USE_SSL;
        if (t->args->insecure)
            i.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK |
                                LCCSCF_ALLOW_EXPIRED | LCCSCF_ALLOW_INSECURE;
    }
    t->live = true;
    t->subscribed = false;
    if (lws_client_connect_via_info(&i) == NULL)
        dropped(t, "cannot start a connection");
}

/* Blocks SIGINT and SIGTERM and returns a signalfd that reads them. */
static int signals_fd(void)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return -1;
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

static void lws_log_cb(int level, const char *line)
{
    fprintf(stderr, "newswire tail: lws: %s", line);
}

int nw_cli_tail(int argc, char **argv)
{
    static const struct lws_protocols protocols[] = {
        {STREAM_PROTOCOL, stream_cb, 0, 65536, 0, NULL, 0},
        {SIGNAL_PROTOCOL, signal_cb, 0, 0, 0, NULL, 0},
        {NULL, NULL, 0, 0, 0, NULL, 0},
    };
    struct lws_context_creation_info info;
    nw_args_tail_t o;
    nw_err_t err, uerr;
    tail_t t;
    int sfd = -1;

    if (nw_args_tail(argc, argv, &o, &err) < 0)
        return nw_cli_usage_error("tail", &err, tail_usage);
    if (o.help) {
        fputs(tail_usage, stdout);
        return NW_CLI_EXIT_OK;
    }
    memset(&t, 0, sizeof(t));
    t.args = &o;
    t.token = o.token ? o.token : getenv("NEWSWIRE_TOKEN");
    if (t.token != NULL && t.token[0] == '\0')
        t.token = NULL;
    if (nw_url_parse(o.url, &t.url, &uerr) < 0) {
        nw_err_set(&err, "--url", "%s", uerr.message);
        return nw_cli_usage_error("tail", &err, tail_usage);
    }
    if (strcmp(t.url.scheme, "ws") != 0 && strcmp(t.url.scheme, "wss") != 0) {
        nw_err_set(&err, "--url", "must be a ws:// or wss:// URL");
        return nw_cli_usage_error("tail", &err, tail_usage);
    }
    if (t.token != NULL && !nw_args_header_safe(t.token, 8192, true)) {
        nw_err_set(&err, "NEWSWIRE_TOKEN", "must be 1..8192 visible ASCII characters");
        return nw_cli_usage_error("tail", &err, tail_usage);
    }
    if (strcmp(t.url.path, "/") == 0)
        snprintf(t.url.path, sizeof(t.url.path), "/v1/stream");
    nw_url_host_header(&t.url, t.host, sizeof(t.host));
    t.st = nw_tail_state_new(o.since, o.epoch);
    if (t.st == NULL) {
        fprintf(stderr, "newswire tail: out of memory\n");
        return NW_CLI_EXIT_ERROR;
    }
    if (getrandom(&t.rng, sizeof(t.rng), 0) != (ssize_t)sizeof(t.rng) || t.rng == 0)
        t.rng = (uint64_t)time(NULL) * 2654435761u + (uint64_t)getpid();

    lws_set_log_level(o.verbose ? LLL_ERR | LLL_WARN : LLL_ERR, lws_log_cb);
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.client_ssl_ca_filepath = o.cacert;
    info.fd_limit_per_thread = 16;
    info.user = &t;
    t.ctx = lws_create_context(&info);
    sfd = signals_fd();
    if (t.ctx == NULL || sfd < 0 ||
        lws_adopt_descriptor_vhost(lws_get_vhost_by_name(t.ctx, "default"), LWS_ADOPT_RAW_FILE_DESC,
                                   (lws_sock_file_fd_type){.filefd = sfd}, SIGNAL_PROTOCOL,
                                   NULL) == NULL) {
        fprintf(stderr, "newswire tail: cannot set up the client (%s)\n",
                t.ctx == NULL ? "lws context" : "signals");
        t.exit_code = NW_CLI_EXIT_ERROR;
        goto done;
    }
    connect_cb(&t.sul_reconnect);
    while (!t.done) {
        if (lws_service(t.ctx, 0) < 0) {
            fprintf(stderr, "newswire tail: the event loop failed\n");
            finish(&t, NW_CLI_EXIT_ERROR);
        }
    }
done:
    lws_sul_cancel(&t.sul_reconnect);
    t.done = true; /* callbacks run by the teardown must not reconnect */
    if (t.ctx != NULL)
        lws_context_destroy(t.ctx);
    else if (sfd >= 0)
        close(sfd);
    nw_tail_state_free(t.st);
    free(t.rx);
    free(t.tx);
    return t.exit_code;
}
