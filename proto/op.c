/* Newswire — decoding and checking client messages. */
#include "op.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "codec.h"
#include "json.h"

#define NW_OP_CURSOR_MAX 47

void nw_op_clear(nw_op_t *op)
{
    nw_topic_list_free(op->topics);
    free(op->since);
    free(op->epoch);
    free(op->token);
    memset(op, 0, sizeof(*op));
}

bool nw_op_cursor_valid(const char *since)
{
    size_t n = strlen(since), d1 = strspn(since, "0123456789");

    if (n == 0 || n > NW_OP_CURSOR_MAX || d1 == 0 || d1 > 20)
        return false;
    if (since[d1] == '\0')
        return true;
    if (since[d1] != '-')
        return false;
    n = strspn(since + d1 + 1, "0123456789");
    return n > 0 && n <= 20 && since[d1 + 1 + n] == '\0';
}

bool nw_op_epoch_valid(const char *epoch)
{
    size_t n = strlen(epoch);

    return n > 0 && n <= 63 && strspn(epoch, "0123456789abcdef") == n;
}

/* How many bytes of the UTF-8 string s an error may quote: at most max, and
 * never half a character (the message goes back in a JSON error frame,
 * which must be UTF-8). */
static int op_quote_len(const char *s, size_t max)
{
    size_t n = strnlen(s, max);

    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    return (int)n;
}

/* Copies the parser's syntax error text, replacing anything but printable
 * ASCII: it may quote the input around the error, cut anywhere. */
static void op_clean_text(const char *in, char *out, size_t outlen)
{
    size_t n = 0;

    for (; *in != '\0' && n + 1 < outlen; in++) {
        unsigned char c = (unsigned char)*in;

        out[n++] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
    }
    out[n] = '\0';
}

/* Refuses a message: sets *code and the message. */
static int refuse(const char **code, const char *c, nw_err_t *err, const char *fmt, const char *arg)
{
    *code = c;
    nw_err_set(err, "", fmt, arg);
    return -EINVAL;
}

/* Checks that msg has no member outside allowed (NULL-terminated). */
static int only_fields(const json_t *msg, const char *const *allowed, const char **code,
                       nw_err_t *err)
{
    const char *key;
    json_t *value;

    json_object_foreach((json_t *)msg, key, value)
    {
        bool ok = false;
        for (const char *const *a = allowed; *a != NULL; a++)
            ok = ok || strcmp(*a, key) == 0;
        if (!ok) {
            *code = NW_OP_ERR_FIELD;
            nw_err_set(err, "", "unknown field \"%.*s\"", op_quote_len(key, 64), key);
            return -EINVAL;
        }
    }
    return 0;
}

/* Reads msg.topics: a non-empty array of at most max_topics patterns. */
static int read_topics(const json_t *msg, size_t max_topics, nw_op_t *op, const char **code,
                       nw_err_t *err)
{
    const json_t *arr = json_object_get(msg, "topics");
    const char **v;
    nw_err_t terr;
    size_t n;
    int rc = 0;

    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return refuse(code, NW_OP_ERR_FIELD, err, "%s",
                      "\"topics\" must be a non-empty array of strings");
    n = json_array_size(arr);
    if (n > max_topics) {
        *code = NW_OP_ERR_FIELD;
        nw_err_set(err, "", "too many topics (max %zu)", max_topics);
        return -E2BIG;
    }
    v = calloc(n, sizeof(*v));
    if (v == NULL) {
        *code = NW_OP_ERR_INTERNAL;
        nw_err_set(err, "", "out of memory");
        return -ENOMEM;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        v[i] = json_string_value(json_array_get(arr, i));
        if (v[i] == NULL)
            rc = refuse(code, NW_OP_ERR_FIELD, err, "%s",
                        "\"topics\" must be a non-empty array of strings");
    }
    if (rc == 0 && nw_topic_list_from_array(v, n, n, true, "topics", &op->topics, &terr) < 0)
        rc = refuse(code, NW_OP_ERR_TOPIC, err, "%s", terr.message);
    free(v);
    return rc;
}

/* Copies an optional string field that must pass valid(). */
static int read_string(const json_t *msg, const char *name, bool (*valid)(const char *),
                       const char *what, char **out, const char **code, nw_err_t *err)
{
    const json_t *v = json_object_get(msg, name);
    const char *s = json_string_value(v);

    if (v == NULL)
        return 0;
    if (s == NULL || !valid(s)) {
        *code = NW_OP_ERR_FIELD;
        nw_err_set(err, "", "\"%s\" must be %s", name, what);
        return -EINVAL;
    }
    *out = strdup(s);
    if (*out == NULL) {
        *code = NW_OP_ERR_INTERNAL;
        nw_err_set(err, "", "out of memory");
        return -ENOMEM;
    }
    return 0;
}

static bool token_valid(const char *t)
{
    size_t n = strlen(t);

    return n > 0 && n <= NW_OP_TOKEN_MAX;
}

static int parse_subscribe(const json_t *msg, size_t max_topics, nw_op_t *op, const char **code,
                           nw_err_t *err)
{
    static const char *const allowed[] = {"op", "topics", "min_urgency", "since", "epoch", NULL};
    const json_t *mu = json_object_get(msg, "min_urgency");
    int rc;

    if ((rc = only_fields(msg, allowed, code, err)) < 0 ||
        (rc = read_string(msg, "since", nw_op_cursor_valid, "an item id (\"<ms>-<seq>\")",
                          &op->since, code, err)) < 0 ||
        (rc = read_string(msg, "epoch", nw_op_epoch_valid, "the epoch given in \"subscribed\"",
                          &op->epoch, code, err)) < 0)
        return rc;
    if (op->epoch != NULL && op->since == NULL)
        return refuse(code, NW_OP_ERR_FIELD, err, "%s", "\"epoch\" goes with \"since\"");
    if (mu != NULL) {
        if (!json_is_integer(mu) || json_integer_value(mu) < 1 || json_integer_value(mu) > 9)
            return refuse(code, NW_OP_ERR_FIELD, err, "%s",
                          "\"min_urgency\" must be an integer 1..9");
        op->min_urgency = (int)json_integer_value(mu);
    }
    return read_topics(msg, max_topics, op, code, err);
}

/* Checks a decoded message and fills op. */
static int parse(const json_t *msg, size_t max_topics, nw_op_t *op, const char **code,
                 nw_err_t *err)
{
    static const char *const unsub_allowed[] = {"op", "topics", NULL};
    static const char *const ping_allowed[] = {"op", NULL};
    static const char *const auth_allowed[] = {"op", "token", NULL};
    const char *name = json_string_value(json_object_get(msg, "op"));
    int rc;

    if (!json_is_object(msg) || name == NULL)
        return refuse(code, NW_OP_ERR_MESSAGE, err, "%s",
                      "a message is an object with a string \"op\"");
    if (strcmp(name, "subscribe") == 0) {
        op->kind = NW_OP_SUBSCRIBE;
        return parse_subscribe(msg, max_topics, op, code, err);
    }
    if (strcmp(name, "unsubscribe") == 0) {
        op->kind = NW_OP_UNSUBSCRIBE;
        if ((rc = only_fields(msg, unsub_allowed, code, err)) < 0)
            return rc;
        rc = read_topics(msg, max_topics, op, code, err);
        if (rc == -E2BIG) /* asking to leave many topics harms no one */
            rc = refuse(code, NW_OP_ERR_FIELD, err, "%s", "too many topics in one request");
        return rc;
    }
    if (strcmp(name, "ping") == 0) {
        op->kind = NW_OP_PING;
        return only_fields(msg, ping_allowed, code, err);
    }
    if (strcmp(name, "auth") == 0) {
        op->kind = NW_OP_AUTH;
        if ((rc = only_fields(msg, auth_allowed, code, err)) < 0 ||
            (rc = read_string(msg, "token", token_valid, "a non-empty string", &op->token, code,
                              err)) < 0)
            return rc;
        if (op->token == NULL)
            return refuse(code, NW_OP_ERR_FIELD, err, "%s", "\"auth\" needs a \"token\"");
        return 0;
    }
    *code = NW_OP_ERR_UNKNOWN;
    nw_err_set(err, "", "unknown op \"%.*s\"", op_quote_len(name, 64), name);
    return -EINVAL;
}

int nw_op_read(const char *data, size_t len, bool msgpack, size_t max_topics, nw_op_t *op,
               const char **code, nw_err_t *err)
{
    json_t *msg;
    int rc;

    memset(op, 0, sizeof(*op));
    if (!msgpack) {
        nw_json_error_t jerr;
        char text[sizeof(jerr.text)];

        rc = nw_json_parse_ex(data, len, NW_JSON_REJECT_DUPLICATES | NW_JSON_DECODE_ANY, &msg,
                              &jerr);
        if (rc == -ENOMEM) {
            *code = NW_OP_ERR_INTERNAL;
            nw_err_set(err, "", "out of memory");
            return rc;
        }
        if (rc < 0) {
            *code = NW_OP_ERR_JSON;
            op_clean_text(jerr.text, text, sizeof(text));
            nw_err_set(err, "", "invalid JSON at line %d column %d: %s", jerr.line, jerr.column,
                       text);
            return -EINVAL;
        }
    } else {
        nw_err_t merr;
        rc = nw_codec_msgpack_to_json(data, len, &msg, &merr);
        if (rc < 0) {
            *code = rc == -ENOMEM ? NW_OP_ERR_INTERNAL : NW_OP_ERR_MSGPACK;
            nw_err_set(err, "", "invalid msgpack%s%s: %s", merr.field[0] ? " at " : "", merr.field,
                       merr.message);
            return rc;
        }
    }
    rc = parse(msg, max_topics, op, code, err);
    json_decref(msg);
    if (rc < 0)
        nw_op_clear(op);
    return rc;
}
