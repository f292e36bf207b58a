/* Newswire — who may subscribe to what, and from which browser origins.
 *
 * Topics matching a `public_topics` pattern are open to anyone. Others need
 * a JWT signed with the configured HS256 secret, or with the private key
 * whose public key (RS256 or ES256, PEM) is configured. Its claims: `topics`
 * (an array of patterns the bearer may subscribe to), `exp` (required),
 * optionally `nbf`, `sub` and `max_conn` (most concurrent sessions for that
 * `sub`). A subscription pattern is allowed when one public or granted
 * pattern covers it entirely (nw_topic_pattern_covers), so a token for
 * "monde/#" never receives "sport" items, even through "#".
 *
 * An nw_auth_t is immutable once built and shared (reference-counted) by
 * every gateway thread; a reload builds a new one. */
#ifndef NW_AUTH_H
#define NW_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "topic.h"

typedef struct nw_auth nw_auth_t;

/* What a verified token grants. */
typedef struct nw_grant {
    nw_topic_list_t *topics; /* owned */
    int64_t exp_ms;          /* expiry, Unix ms */
    char sub[128];           /* "" when absent */
    unsigned max_conn;       /* 0: no limit */
} nw_grant_t;

/* Why a token was refused. */
typedef enum nw_token_error {
    NW_TOKEN_INVALID = 1, /* malformed, bad signature, wrong algorithm, bad claims */
    NW_TOKEN_EXPIRED,     /* exp passed (or nbf not reached) */
    NW_TOKEN_NO_KEY,      /* no secret or public key configured */
} nw_token_error_t;

/* Builds the policy from cfg: reads the key files, parses public_topics
 * and allowed_origins. Returns NULL with err naming the key at fault. */
nw_auth_t *nw_auth_new(const nw_config_t *cfg, nw_err_t *err);

/* Takes a reference: gateway threads each hold one, so a reload can
 * replace the policy while they still use the old one. */
nw_auth_t *nw_auth_ref(nw_auth_t *a);

/* Drops a reference; the last one frees. Accepts NULL. */
void nw_auth_free(nw_auth_t *a);

/* Verifies token; on success fills *g (release with nw_grant_clear) and
 * returns 0, else returns -nw_token_error_t with *why a short reason. */
int nw_auth_verify(const nw_auth_t *a, const char *token, int64_t now_ms, nw_grant_t *g,
                   const char **why);

void nw_grant_clear(nw_grant_t *g);

/* True if pattern may be subscribed to with grant g (NULL: anonymous). */
bool nw_auth_pattern_allowed(const nw_auth_t *a, const nw_grant_t *g, const char *pattern);

/* True if a browser Origin header value may open sessions (always true
 * when allowed_origins is empty). */
bool nw_auth_origin_allowed(const nw_auth_t *a, const char *origin);

/* True when allowed_origins is empty (any origin). */
bool nw_auth_any_origin(const nw_auth_t *a);

/* True if tokens can be verified (a secret or public key is configured). */
bool nw_auth_tokens_enabled(const nw_auth_t *a);

#endif
