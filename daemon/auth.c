/* Newswire — subscriber authorization: JWT verification, topic grants,
 * origins, per-subject session counts. */
#include "auth.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <jwt.h>

#include "log.h"

#define NW_AUTH_KEY_MAX (64 * 1024)

struct nw_auth {
    nw_topic_list_t *public_topics; /* NULL: none */
    char **origins;                 /* NULL-terminated, or NULL: any */
    unsigned char *key;             /* HS256 secret or PEM public key */
    size_t key_len;
    bool key_is_public; /* RS256/ES256 */
    atomic_uint refs;
};

/* Reads a whole file (at most NW_AUTH_KEY_MAX bytes). */
static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    size_t n;

    if (f == NULL)
        return NULL;
    buf = malloc(NW_AUTH_KEY_MAX + 1);
    if (buf == NULL) {
        fclose(f);
        return NULL;
    }
    n = fread(buf, 1, NW_AUTH_KEY_MAX + 1, f);
    fclose(f);
    if (n == 0 || n > NW_AUTH_KEY_MAX) {
        free(buf);
        errno = n == 0 ? EINVAL : EFBIG;
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Splits a comma-separated list into a NULL-terminated array of trimmed,
 * non-empty strings. */
static char **split_list(const char *csv)
{
    size_t n = 1;
    char **v, *copy, *save = NULL;
    size_t i = 0;

    for (const char *p = csv; *p; p++)
        n += *p == ',';
    v = calloc(n + 1, sizeof(*v));
    copy = strdup(csv);
    if (v == NULL || copy == NULL) {
        free(v);
        free(copy);
        return NULL;
    }
    for (char *t = strtok_r(copy, ", \t", &save); t != NULL; t = strtok_r(NULL, ", \t", &save))
        v[i++] = strdup(t);
    free(copy);
    return v;
}

static void free_list(char **v)
{
    for (size_t i = 0; v != NULL && v[i] != NULL; i++)
        free(v[i]);
    free(v);
}

nw_auth_t *nw_auth_new(const nw_config_t *cfg, nw_err_t *err)
{
    nw_auth_t *a = calloc(1, sizeof(*a));

    if (a == NULL) {
        nw_err_set(err, "", "out of memory");
        return NULL;
    }
    atomic_init(&a->refs, 1);
    if (cfg->public_topics[0] != '\0' &&
        nw_topic_list_parse(cfg->public_topics, strlen(cfg->public_topics), 1024, true,
                            "public_topics", &a->public_topics, err) < 0)
        goto fail;
    if (cfg->allowed_origins[0] != '\0') {
        a->origins = split_list(cfg->allowed_origins);
        if (a->origins == NULL) {
            nw_err_set(err, "allowed_origins", "out of memory");
            goto fail;
        }
    }
    if (cfg->jwt_secret[0] != '\0' && cfg->jwt_public_key[0] != '\0') {
        nw_err_set(err, "jwt_secret", "jwt_secret and jwt_public_key exclude each other");
        goto fail;
    }
    if (cfg->jwt_secret[0] != '\0') {
        const char *s = cfg->jwt_secret;
        if (strncmp(s, "file:", 5) == 0) {
            a->key = read_file(s + 5, &a->key_len);
            if (a->key == NULL) {
                nw_err_set(err, "jwt_secret", "jwt_secret: cannot read %s: %s", s + 5,
                           strerror(errno));
                goto fail;
            }
            while (a->key_len > 0 &&
                   (a->key[a->key_len - 1] == '\n' || a->key[a->key_len - 1] == '\r'))
                a->key[--a->key_len] = '\0';
        } else {
            a->key = (unsigned char *)strdup(s);
            a->key_len = strlen(s);
        }
        if (a->key == NULL || a->key_len < 32) {
            nw_err_set(err, "jwt_secret", "jwt_secret must hold at least 32 bytes");
            goto fail;
        }
    } else if (cfg->jwt_public_key[0] != '\0') {
        a->key = read_file(cfg->jwt_public_key, &a->key_len);
        if (a->key == NULL) {
            nw_err_set(err, "jwt_public_key", "jwt_public_key: cannot read %s: %s",
                       cfg->jwt_public_key, strerror(errno));
            goto fail;
        }
        if (strstr((char *)a->key, "-----BEGIN PUBLIC KEY-----") == NULL) {
            nw_err_set(err, "jwt_public_key", "jwt_public_key: %s is not a PEM public key",
                       cfg->jwt_public_key);
            goto fail;
        }
        a->key_is_public = true;
    }
    return a;
fail:
    nw_auth_free(a);
    return NULL;
}

nw_auth_t *nw_auth_ref(nw_auth_t *a)
{
    atomic_fetch_add(&a->refs, 1);
    return a;
}

void nw_auth_free(nw_auth_t *a)
{
    if (a == NULL || atomic_fetch_sub(&a->refs, 1) != 1)
        return;
    nw_topic_list_free(a->public_topics);
    free_list(a->origins);
    free(a->key);
    free(a);
}

bool nw_auth_any_origin(const nw_auth_t *a)
{
    return a->origins == NULL;
}

bool nw_auth_tokens_enabled(const nw_auth_t *a)
{
    return a->key != NULL;
}

void nw_grant_clear(nw_grant_t *g)
{
    nw_topic_list_free(g->topics);
    memset(g, 0, sizeof(*g));
}

/* Reads the "topics" claim: an array of valid patterns. */
static int read_topics_claim(jwt_t *jwt, nw_grant_t *g)
{
    char *js = jwt_get_grants_json(jwt, "topics");
    json_t *arr = js ? json_loads(js, JSON_DECODE_ANY, NULL) : NULL;
    const char **v = NULL;
    size_t n;
    int rc = -1;

    free(js);
    if (!json_is_array(arr) || (n = json_array_size(arr)) == 0 || n > 1024)
        goto done;
    v = calloc(n, sizeof(*v));
    if (v == NULL)
        goto done;
    for (size_t i = 0; i < n; i++) {
        v[i] = json_string_value(json_array_get(arr, i));
        if (v[i] == NULL)
            goto done;
    }
    if (nw_topic_list_from_array(v, n, n, true, "topics", &g->topics, NULL) == 0)
        rc = 0;
done:
    free(v);
    json_decref(arr);
    return rc;
}

int nw_auth_verify(const nw_auth_t *a, const char *token, int64_t now_ms, nw_grant_t *g,
                   const char **why)
{
    jwt_t *jwt = NULL;
    jwt_alg_t alg;
    long exp, nbf, max_conn;
    const char *sub;
    int rc = -NW_TOKEN_INVALID;

    memset(g, 0, sizeof(*g));
    if (a->key == NULL) {
        *why = "tokens are not accepted: no key configured";
        return -NW_TOKEN_NO_KEY;
    }
    if (jwt_decode(&jwt, token, a->key, (int)a->key_len) != 0 || jwt == NULL) {
        *why = "invalid token";
        return -NW_TOKEN_INVALID;
    }
    /* The signature was checked with the algorithm the token names: accept
     * only the ones that fit the configured key (an HS256 token "signed"
     * with a public key must not pass). */
    alg = jwt_get_alg(jwt);
    if (a->key_is_public ? (alg != JWT_ALG_RS256 && alg != JWT_ALG_ES256) : alg != JWT_ALG_HS256) {
        *why = "invalid token: unexpected algorithm";
        goto done;
    }
    errno = 0;
    exp = jwt_get_grant_int(jwt, "exp");
    if (errno != 0 || exp <= 0) {
        *why = "invalid token: no exp";
        goto done;
    }
    errno = 0;
    nbf = jwt_get_grant_int(jwt, "nbf");
    if (errno == 0 && nbf > 0 && (int64_t)nbf * 1000 > now_ms) {
        *why = "token not valid yet";
        rc = -NW_TOKEN_EXPIRED;
        goto done;
    }
    if ((int64_t)exp * 1000 <= now_ms) {
        *why = "token expired";
        rc = -NW_TOKEN_EXPIRED;
        goto done;
    }
    if (read_topics_claim(jwt, g) < 0) {
        *why = "invalid token: \"topics\" must be an array of topic patterns";
        goto done;
    }
    sub = jwt_get_grant(jwt, "sub");
    if (sub != NULL)
        snprintf(g->sub, sizeof(g->sub), "%s", sub);
    errno = 0;
    max_conn = jwt_get_grant_int(jwt, "max_conn");
    if (errno == 0) {
        if (max_conn < 1 || max_conn > 1000000 || g->sub[0] == '\0') {
            *why = "invalid token: \"max_conn\" must be 1..1000000 and come with \"sub\"";
            goto done;
        }
        g->max_conn = (unsigned)max_conn;
    }
    g->exp_ms = (int64_t)exp * 1000;
    rc = 0;
done:
    if (rc < 0)
        nw_grant_clear(g);
    jwt_free(jwt);
    return rc;
}

bool nw_auth_pattern_allowed(const nw_auth_t *a, const nw_grant_t *g, const char *pattern)
{
    for (size_t i = 0; a->public_topics != NULL && i < a->public_topics->n; i++) {
        if (nw_topic_pattern_covers(a->public_topics->v[i], pattern))
            return true;
    }
    for (size_t i = 0; g != NULL && g->topics != NULL && i < g->topics->n; i++) {
        if (nw_topic_pattern_covers(g->topics->v[i], pattern))
            return true;
    }
    return false;
}

bool nw_auth_origin_allowed(const nw_auth_t *a, const char *origin)
{
    if (a->origins == NULL)
        return true;
    for (size_t i = 0; a->origins[i] != NULL; i++) {
        if (strcasecmp(a->origins[i], origin) == 0)
            return true;
    }
    return false;
}
