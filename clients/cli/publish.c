/* Newswire command — publish and kill: the ingest API subcommands.
 *
 * publish reads one ninjs item, validates it with the same code the daemon
 * runs (so an invalid item is reported with its field and never sent), and
 * POSTs it; kill DELETEs a story by uri. Both print the receipt (the
 * response body) on stdout and map the HTTP status to the exit status
 * (cli.h). A 503 is retried with the same request — publishing is
 * idempotent on uri+version, and so is a kill — after the Retry-After the
 * server asked for. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <msgpack.h>

#include "args.h"
#include "article.h"
#include "cli.h"
#include "codec.h"
#include "http_client.h"
#include "url.h"

#define RETRY_AFTER_MAX_S 30 /* longest wait honoured between 503 retries */

static const char publish_usage[] =
    "Usage: newswire publish --api URL [--key KEY] --topics TOPICS [options] FILE|-\n"
    "\n"
    "Validates one ninjs 2.2 item (JSON, from FILE or standard input) and\n"
    "publishes it: POST URL/v1/articles. Prints the receipt on stdout.\n"
    "\n"
    "  --api URL                the ingest API, http://host:port (https:// too)\n"
    "  --key KEY                the publisher's API key (default: $NEWSWIRE_KEY)\n"
    "  --topics TOPICS          comma-separated topics (monde/afrique,sport)\n"
    "  --idempotency-key KEY    send Idempotency-Key: the same key and request get\n"
    "                           the first answer again\n"
    "  --msgpack                send the item as application/msgpack\n"
    "  --timeout SECONDS        bound on each attempt (default 10)\n"
    "  --retries N              how often a 503 is retried (default 3)\n"
    "  --cacert FILE            https: trust the CA certificates in FILE\n"
    "  --insecure               https: do not verify the server's certificate\n"
    "  -h, --help               show this help\n"
    "\n"
    "Exit status: 0 accepted (2xx, duplicates included), 2 usage error or item\n"
    "invalid locally (nothing sent), 3 refused (4xx; the error is on stderr),\n"
    "4 server error (5xx), 5 no answer (connection failed or timed out).\n";

static const char kill_usage[] =
    "Usage: newswire kill --api URL [--key KEY] [options] URI\n"
    "\n"
    "Kills a story: DELETE URL/v1/articles/<URI, percent-encoded>. The server\n"
    "publishes its next version with pubstatus canceled on every topic it was\n"
    "published on. Prints the receipt on stdout.\n"
    "\n"
    "  --api URL                the ingest API, http://host:port (https:// too)\n"
    "  --key KEY                the publisher's API key (default: $NEWSWIRE_KEY)\n"
    "  --timeout SECONDS        bound on each attempt (default 10)\n"
    "  --retries N              how often a 503 is retried (default 3)\n"
    "  --cacert FILE            https: trust the CA certificates in FILE\n"
    "  --insecure               https: do not verify the server's certificate\n"
    "  -h, --help               show this help\n"
    "\n"
    "Exit status: as for publish (0 2xx, 2 usage, 3 4xx, 4 5xx, 5 no answer).\n";

/* Sleeps for seconds, through signals. */
static void sleep_s(long seconds)
{
    struct timespec ts = {.tv_sec = seconds};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Writes a body and a line end if it has none. */
static void put_body(FILE *f, const char *body, size_t len)
{
    fwrite(body, 1, len, f);
    if (len == 0 || body[len - 1] != '\n')
        fputc('\n', f);
}

/* Parses --api: an http:// or https:// URL without a query. */
static int api_url(const char *s, nw_url_t *url, nw_err_t *err)
{
    nw_err_t uerr;

    if (nw_url_parse(s, url, &uerr) < 0) {
        nw_err_set(err, "--api", "%s", uerr.message);
        return -EINVAL;
    }
    if (strcmp(url->scheme, "http") != 0 && strcmp(url->scheme, "https") != 0) {
        nw_err_set(err, "--api", "must be an http:// or https:// URL");
        return -EINVAL;
    }
    if (strchr(url->path, '?') != NULL) {
        nw_err_set(err, "--api", "must not carry a query");
        return -EINVAL;
    }
    return 0;
}

/* Builds the request target: the --api path without its trailing slashes,
 * then path, then segment (percent-encoded; may be NULL). Returns a
 * malloc'd string, or NULL when out of memory. */
static char *api_target(const nw_url_t *u, const char *path, const char *segment)
{
    size_t n = strlen(u->path);
    char *enc = segment ? nw_url_encode_segment(segment) : NULL;
    char *t;

    if (segment != NULL && enc == NULL)
        return NULL;
    while (n > 0 && u->path[n - 1] == '/')
        n--;
    t = malloc(n + strlen(path) + (enc ? strlen(enc) : 0) + 1);
    if (t != NULL)
        sprintf(t, "%.*s%s%s", (int)n, u->path, path, enc ? enc : "");
    free(enc);
    return t;
}

/* The Authorization header from --key or $NEWSWIRE_KEY, into buf; an empty
 * string when neither is set. Returns 0 or -EINVAL (err says why). */
static int auth_header(const nw_args_api_t *a, char *buf, size_t size, nw_err_t *err)
{
    const char *key = a->key ? a->key : getenv("NEWSWIRE_KEY");

    buf[0] = '\0';
    if (key == NULL || key[0] == '\0')
        return 0;
    if (!nw_args_header_safe(key, 4096, true)) {
        nw_err_set(err, "NEWSWIRE_KEY", "must be 1..4096 visible ASCII characters");
        return -EINVAL;
    }
    snprintf(buf, size, "Authorization: Bearer %s", key);
    return 0;
}

/* Sends one request (retrying 503 answers), reports the outcome and returns
 * the exit status. */
static int exchange(const char *cmd, const nw_args_api_t *a, const nw_url_t *url,
                    const char *method, const char *target, const char *const *headers,
                    const char *body, size_t body_len)
{
    nw_http_request_t req = {.method = method,
                             .url = url,
                             .target = target,
                             .headers = headers,
                             .body = body,
                             .body_len = body_len};
    nw_http_client_opts_t opts = {
        .timeout_ms = a->timeout_ms, .insecure = a->insecure, .cacert = a->cacert};
    nw_http_reply_t *r = NULL;
    const char *rbody;
    size_t rlen;
    int status, code;

    for (int attempt = 0;; attempt++) {
        nw_err_t err;
        long wait;
        int rc = nw_http_client_request(&req, &opts, &r, &err);

        if (rc < 0) {
            fprintf(stderr, "newswire %s: %s\n", cmd, err.message);
            return rc == -ENOMEM ? NW_CLI_EXIT_ERROR : NW_CLI_EXIT_CONNECT;
        }
        if (nw_http_reply_status(r) != 503 || attempt >= a->retries)
            break;
        wait = nw_http_reply_retry_after(r);
        wait = wait < 0 ? 1 : NW_MIN(wait, RETRY_AFTER_MAX_S);
        fprintf(stderr, "newswire %s: 503 Service Unavailable, retrying in %lds (%d of %d)\n", cmd,
                wait, attempt + 1, a->retries);
        nw_http_reply_free(r);
        r = NULL;
        sleep_s(wait);
    }
    status = nw_http_reply_status(r);
    rbody = nw_http_reply_body(r, &rlen);
    if (status >= 200 && status < 300) {
        put_body(stdout, rbody, rlen);
        code = NW_CLI_EXIT_OK;
        if (fflush(stdout) != 0) {
            perror("newswire: stdout");
            code = NW_CLI_EXIT_ERROR;
        }
    } else {
        fprintf(stderr, "newswire %s: the server answered %d\n", cmd, status);
        put_body(stderr, rbody, rlen);
        code = status >= 500 ? NW_CLI_EXIT_SERVER : NW_CLI_EXIT_REFUSED;
    }
    nw_http_reply_free(r);
    return code;
}

/* Reads FILE (or stdin for "-") up to one byte over the item limit, which
 * the validation then reports. Returns 0 with *buf (malloc'd) or -errno. */
static int read_input(const char *path, char **buf, size_t *len)
{
    size_t cap = NW_ARTICLE_MAX_BYTES + 1, n = 0;
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    char *b;
    int rc = 0;

    if (f == NULL)
        return -errno;
    b = malloc(cap + 1);
    if (b == NULL) {
        rc = -ENOMEM;
    } else {
        n = fread(b, 1, cap, f);
        if (ferror(f))
            rc = -EIO;
    }
    if (f != stdin)
        fclose(f);
    if (rc < 0) {
        free(b);
        return rc;
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return 0;
}

/* Encodes the validated item as msgpack into sb. */
static int encode_msgpack(const nw_article_t *a, msgpack_sbuffer *sb)
{
    msgpack_packer pk;

    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    return nw_codec_json_to_msgpack(a->item, &pk);
}

int nw_cli_publish(int argc, char **argv)
{
    nw_args_publish_t o;
    nw_article_t *article = NULL;
    msgpack_sbuffer sb;
    nw_url_t url;
    nw_err_t err;
    char auth[4200], topics[1024], idem[300], *input = NULL, *target = NULL;
    const char *headers[6];
    size_t len = 0, nh = 0;
    int rc, code = NW_CLI_EXIT_USAGE;

    msgpack_sbuffer_init(&sb);
    if (nw_args_publish(argc, argv, &o, &err) < 0)
        return nw_cli_usage_error("publish", &err, publish_usage);
    if (o.help) {
        fputs(publish_usage, stdout);
        return NW_CLI_EXIT_OK;
    }
    if (api_url(o.api.api, &url, &err) < 0 || auth_header(&o.api, auth, sizeof(auth), &err) < 0)
        return nw_cli_usage_error("publish", &err, publish_usage);
    target = api_target(&url, "/v1/articles", NULL);
    if (target == NULL) {
        fprintf(stderr, "newswire publish: out of memory\n");
        return NW_CLI_EXIT_ERROR;
    }
    rc = read_input(o.file, &input, &len);
    if (rc < 0) {
        fprintf(stderr, "newswire publish: cannot read %s: %s\n",
                strcmp(o.file, "-") == 0 ? "standard input" : o.file, strerror(-rc));
        goto done;
    }
    if (nw_article_parse_json(input, len, &article, &err) < 0) {
        fprintf(stderr, "newswire publish: invalid item: %s%s%s\n", err.field,
                err.field[0] ? ": " : "", err.message);
        goto done;
    }
    if (o.msgpack && encode_msgpack(article, &sb) < 0) {
        fprintf(stderr, "newswire publish: cannot encode the item as msgpack\n");
        code = NW_CLI_EXIT_ERROR;
        goto done;
    }
    if (auth[0] != '\0')
        headers[nh++] = auth;
    snprintf(topics, sizeof(topics), "Newswire-Topics: %s", o.topics);
    headers[nh++] = topics;
    headers[nh++] =
        o.msgpack ? "Content-Type: application/msgpack" : "Content-Type: application/json";
    if (o.idempotency_key != NULL) {
        snprintf(idem, sizeof(idem), "Idempotency-Key: %s", o.idempotency_key);
        headers[nh++] = idem;
    }
    headers[nh] = NULL;
    code = exchange("publish", &o.api, &url, "POST", target, headers, o.msgpack ? sb.data : input,
                    o.msgpack ? sb.size : len);
done:
    nw_article_free(article);
    msgpack_sbuffer_destroy(&sb);
    free(input);
    free(target);
    return code;
}

int nw_cli_kill(int argc, char **argv)
{
    nw_args_kill_t o;
    nw_url_t url;
    nw_err_t err;
    char auth[4200], *target;
    const char *headers[2] = {NULL, NULL};
    int code;

    if (nw_args_kill(argc, argv, &o, &err) < 0)
        return nw_cli_usage_error("kill", &err, kill_usage);
    if (o.help) {
        fputs(kill_usage, stdout);
        return NW_CLI_EXIT_OK;
    }
    if (api_url(o.api.api, &url, &err) < 0 || auth_header(&o.api, auth, sizeof(auth), &err) < 0)
        return nw_cli_usage_error("kill", &err, kill_usage);
    target = api_target(&url, "/v1/articles/", o.uri);
    if (target == NULL) {
        fprintf(stderr, "newswire kill: out of memory\n");
        return NW_CLI_EXIT_ERROR;
    }
    if (auth[0] != '\0')
        headers[0] = auth;
    code = exchange("kill", &o.api, &url, "DELETE", target, headers, NULL, 0);
    free(target);
    return code;
}
