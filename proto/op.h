/* Newswire — client messages of the WebSocket protocol.
 *
 * Decodes one client message (a JSON text or a msgpack binary message) and
 * checks it against the protocol (proto/PROTOCOL.md, "Client messages"):
 * the op, its fields, their types and values, the topic patterns. Pure: no
 * session state; the gateway applies what it returns. */
#ifndef NW_OP_H
#define NW_OP_H

#include <stdbool.h>
#include <stddef.h>

#include "common.h"
#include "topic.h"

#define NW_OP_TOKEN_MAX 8192 /* longest token accepted in an auth message */

typedef enum nw_op_kind {
    NW_OP_SUBSCRIBE = 0,
    NW_OP_UNSUBSCRIBE,
    NW_OP_PING,
    NW_OP_AUTH,
} nw_op_kind_t;

typedef struct nw_op {
    nw_op_kind_t kind;
    nw_topic_list_t *topics; /* subscribe, unsubscribe: owned */
    int min_urgency;         /* subscribe: 1..9, 0 when absent */
    char *since;             /* subscribe: a wire id, or NULL; owned */
    char *epoch;             /* subscribe: or NULL; owned */
    char *token;             /* auth: owned */
} nw_op_t;

/* Error codes of the protocol's error message, as returned in *code. */
#define NW_OP_ERR_JSON     "invalid_json"
#define NW_OP_ERR_MSGPACK  "invalid_msgpack"
#define NW_OP_ERR_MESSAGE  "invalid_message"
#define NW_OP_ERR_UNKNOWN  "unknown_op"
#define NW_OP_ERR_FIELD    "invalid_field"
#define NW_OP_ERR_TOPIC    "invalid_topic"
#define NW_OP_ERR_INTERNAL "internal"

/* Decodes and checks one message: JSON when msgpack is false. On success
 * returns 0 and fills *op (release with nw_op_clear()). On a refused
 * message returns -EINVAL with *code one of NW_OP_ERR_* and err->message
 * saying why; -E2BIG when it lists more than max_topics topics (a policy
 * violation: the session is closed); -ENOMEM. */
int nw_op_read(const char *data, size_t len, bool msgpack, size_t max_topics, nw_op_t *op,
               const char **code, nw_err_t *err);

void nw_op_clear(nw_op_t *op);

/* Checks a resume cursor: a wire id "<ms>-<seq>" (digits). */
bool nw_op_cursor_valid(const char *since);

/* Checks an epoch: 1..63 lower-case hex digits. */
bool nw_op_epoch_valid(const char *epoch);

#endif
