/* Newswire — fuzz harness for nw_op_read (client WebSocket messages).
 *
 * Byte 0 selects the format (even: JSON text, odd: msgpack binary); the
 * rest is the message. Invariants, beyond "no crash, no leak":
 * - a refusal returns -EINVAL, -E2BIG or -ENOMEM with one of the
 *   NW_OP_ERR_* codes, a non-empty, valid UTF-8 message (it is sent back in
 *   a JSON error frame) and a zeroed op;
 * - an accepted op is well formed for its kind: 1..max distinct valid
 *   patterns, a valid cursor and epoch (epoch only with since), urgency
 *   0..9, a token of 1..NW_OP_TOKEN_MAX bytes;
 * - the two formats agree: a message that decodes gets the same outcome
 *   (result, code, op) once re-encoded in the other format;
 * - an accepted op, written back as a message, reads back as the same op in
 *   both formats. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "codec.h"
#include "fuzz.h"
#include "fuzz_util.h"
#include "op.h"

#define FUZZ_OP_MAX_TOPICS 8 /* small, so that -E2BIG is easy to reach */

static bool fuzz_op_code_known(const char *code)
{
    static const char *const codes[] = {NW_OP_ERR_JSON,    NW_OP_ERR_MSGPACK, NW_OP_ERR_MESSAGE,
                                        NW_OP_ERR_UNKNOWN, NW_OP_ERR_FIELD,   NW_OP_ERR_TOPIC,
                                        NW_OP_ERR_INTERNAL};

    for (size_t i = 0; code != NULL && i < NW_ARRAY_LEN(codes); i++) {
        if (strcmp(code, codes[i]) == 0)
            return true;
    }
    return false;
}

static void fuzz_op_check_topics(const nw_topic_list_t *l)
{
    NW_ASSERT(l != NULL && l->n >= 1 && l->n <= FUZZ_OP_MAX_TOPICS);
    for (size_t i = 0; i < l->n; i++) {
        NW_ASSERT(nw_topic_pattern_check(l->v[i], strlen(l->v[i]), "topics", NULL) == 0);
        for (size_t j = 0; j < i; j++)
            NW_ASSERT(strcmp(l->v[i], l->v[j]) != 0);
    }
}

/* An accepted op is well formed for its kind. */
static void fuzz_op_check(const nw_op_t *op)
{
    switch (op->kind) {
    case NW_OP_SUBSCRIBE:
        fuzz_op_check_topics(op->topics);
        NW_ASSERT(op->min_urgency >= 0 && op->min_urgency <= 9);
        NW_ASSERT(op->since == NULL || nw_op_cursor_valid(op->since));
        NW_ASSERT(op->epoch == NULL || (nw_op_epoch_valid(op->epoch) && op->since != NULL));
        NW_ASSERT(op->token == NULL);
        return;
    case NW_OP_UNSUBSCRIBE:
        fuzz_op_check_topics(op->topics);
        NW_ASSERT(op->min_urgency == 0 && op->since == NULL && op->epoch == NULL);
        NW_ASSERT(op->token == NULL);
        return;
    case NW_OP_PING:
        NW_ASSERT(op->topics == NULL && op->min_urgency == 0 && op->since == NULL);
        NW_ASSERT(op->epoch == NULL && op->token == NULL);
        return;
    case NW_OP_AUTH:
        NW_ASSERT(op->token != NULL && op->token[0] != '\0');
        NW_ASSERT(strlen(op->token) <= NW_OP_TOKEN_MAX);
        NW_ASSERT(op->topics == NULL && op->min_urgency == 0 && op->since == NULL);
        NW_ASSERT(op->epoch == NULL);
        return;
    }
    NW_ASSERT(!"unknown op kind");
}

/* Reads one message and checks the outcome's form. */
static int fuzz_op_read(const char *buf, size_t len, bool msgpack, nw_op_t *op, const char **code)
{
    static const nw_op_t zero;
    nw_err_t err;
    int rc;

    memset(&err, 0, sizeof(err));
    *code = NULL;
    rc = nw_op_read(buf, len, msgpack, FUZZ_OP_MAX_TOPICS, op, code, &err);
    NW_ASSERT(rc == 0 || rc == -EINVAL || rc == -E2BIG || rc == -ENOMEM);
    if (rc == 0) {
        fuzz_op_check(op);
        return 0;
    }
    NW_ASSERT(memcmp(op, &zero, sizeof(*op)) == 0);
    NW_ASSERT(fuzz_op_code_known(*code));
    NW_ASSERT(rc != -E2BIG || strcmp(*code, NW_OP_ERR_FIELD) == 0);
    NW_ASSERT(rc != -ENOMEM || strcmp(*code, NW_OP_ERR_INTERNAL) == 0);
    nw_fuzz_check_err(&err);
    return rc;
}

static bool fuzz_str_same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void fuzz_op_same(const nw_op_t *a, const nw_op_t *b)
{
    NW_ASSERT(a->kind == b->kind && a->min_urgency == b->min_urgency);
    NW_ASSERT(fuzz_str_same(a->since, b->since) && fuzz_str_same(a->epoch, b->epoch));
    NW_ASSERT(fuzz_str_same(a->token, b->token));
    NW_ASSERT((a->topics == NULL) == (b->topics == NULL));
    if (a->topics != NULL) {
        NW_ASSERT(a->topics->n == b->topics->n);
        for (size_t i = 0; i < a->topics->n; i++)
            NW_ASSERT(strcmp(a->topics->v[i], b->topics->v[i]) == 0);
    }
}

/* Reads doc encoded in the given format and checks that the outcome is
 * (rc, code, op). */
static void fuzz_op_expect(const json_t *doc, bool msgpack, int rc, const char *code,
                           const nw_op_t *op)
{
    nw_op_t op2;
    const char *code2;
    size_t len = 0;
    char *buf = msgpack ? nw_fuzz_pack(doc, &len) : json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY);
    int rc2;

    if (buf == NULL) /* nested deeper than msgpack allows */
        return;
    if (!msgpack)
        len = strlen(buf);
    rc2 = fuzz_op_read(buf, len, msgpack, &op2, &code2);
    NW_ASSERT(rc2 == rc);
    if (rc == 0)
        fuzz_op_same(op, &op2);
    else
        NW_ASSERT(strcmp(code, code2) == 0);
    nw_op_clear(&op2);
    free(buf);
}

/* Writes an accepted op back as a client message. */
static json_t *fuzz_op_message(const nw_op_t *op)
{
    static const char *const names[] = {"subscribe", "unsubscribe", "ping", "auth"};
    json_t *m = json_pack("{s:s}", "op", names[op->kind]);

    NW_ASSERT(m != NULL);
    if (op->topics != NULL) {
        json_t *a = json_array();

        for (size_t i = 0; i < op->topics->n; i++)
            json_array_append_new(a, json_string(op->topics->v[i]));
        json_object_set_new(m, "topics", a);
    }
    if (op->min_urgency != 0)
        json_object_set_new(m, "min_urgency", json_integer(op->min_urgency));
    if (op->since != NULL)
        json_object_set_new(m, "since", json_string(op->since));
    if (op->epoch != NULL)
        json_object_set_new(m, "epoch", json_string(op->epoch));
    if (op->token != NULL)
        json_object_set_new(m, "token", json_string(op->token));
    return m;
}

bool nw_fuzz_op(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data + 1;
    size_t len = size ? size - 1 : 0;
    bool msgpack = size > 0 && (data[0] & 1);
    const char *code;
    json_t *doc = NULL;
    nw_op_t op;
    int rc;

    if (size == 0)
        return false;
    rc = fuzz_op_read(buf, len, msgpack, &op, &code);

    if (!msgpack) {
        doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
    } else {
        nw_err_t err;

        if (nw_codec_msgpack_to_json(buf, len, &doc, &err) < 0)
            doc = NULL;
    }
    if (doc == NULL) {
        NW_ASSERT(rc < 0);
        NW_ASSERT(rc == -ENOMEM || strcmp(code, msgpack ? NW_OP_ERR_MSGPACK : NW_OP_ERR_JSON) == 0);
    } else {
        fuzz_op_expect(doc, !msgpack, rc, code, &op);
        json_decref(doc);
    }
    if (rc == 0) {
        json_t *m = fuzz_op_message(&op);

        fuzz_op_expect(m, false, 0, NULL, &op);
        fuzz_op_expect(m, true, 0, NULL, &op);
        json_decref(m);
    }
    nw_op_clear(&op);
    return rc == 0;
}

NW_FUZZ_ENTRY(nw_fuzz_op)
