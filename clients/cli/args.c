/* Newswire command — argument parsing (see args.h).
 *
 * Each subcommand describes its options in a table (name, kind, where the
 * value goes, bounds); one loop walks argv against the table, and a short
 * function per subcommand checks what the table cannot: required options,
 * operands, topic grammar, values that end up in HTTP headers. */
#include "args.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "op.h"
#include "topic.h"

typedef enum arg_kind {
    ARG_FLAG,   /* bool, no value */
    ARG_STRING, /* const char *, borrowed from argv */
    ARG_INT,    /* int within [min, max] */
    ARG_LONG,   /* long within [min, max] */
    ARG_MS,     /* decimal seconds, stored as int milliseconds within [min, max] */
} arg_kind_t;

typedef struct arg_spec {
    const char *name; /* "--topics" */
    char short_name;  /* 'v', or 0 */
    arg_kind_t kind;
    size_t offset; /* of the field in the options struct */
    long min, max; /* bounds of numeric kinds */
} arg_spec_t;

/* Stores one operand; returns 0 or -EINVAL with err. */
typedef int (*operand_fn)(void *out, const char *arg, nw_err_t *err);

/* A table of options whose fields sit at base in the options struct. */
typedef struct arg_table {
    const arg_spec_t *specs;
    size_t n;
    size_t base;
} arg_table_t;

/* The ingest API options, within nw_args_api_t. */
static const arg_spec_t api_specs[] = {
    {"--api", 0, ARG_STRING, offsetof(nw_args_api_t, api), 0, 0},
    {"--key", 0, ARG_STRING, offsetof(nw_args_api_t, key), 0, 0},
    {"--timeout", 0, ARG_MS, offsetof(nw_args_api_t, timeout_ms), 1, 3600 * 1000},
    {"--retries", 0, ARG_INT, offsetof(nw_args_api_t, retries), 0, 100},
    {"--insecure", 0, ARG_FLAG, offsetof(nw_args_api_t, insecure), 0, 0},
    {"--cacert", 0, ARG_STRING, offsetof(nw_args_api_t, cacert), 0, 0},
};

static const arg_spec_t publish_specs[] = {
    {"--topics", 0, ARG_STRING, offsetof(nw_args_publish_t, topics), 0, 0},
    {"--idempotency-key", 0, ARG_STRING, offsetof(nw_args_publish_t, idempotency_key), 0, 0},
    {"--msgpack", 0, ARG_FLAG, offsetof(nw_args_publish_t, msgpack), 0, 0},
};

static const arg_spec_t tail_specs[] = {
    {"--url", 0, ARG_STRING, offsetof(nw_args_tail_t, url), 0, 0},
    {"--since", 0, ARG_STRING, offsetof(nw_args_tail_t, since), 0, 0},
    {"--epoch", 0, ARG_STRING, offsetof(nw_args_tail_t, epoch), 0, 0},
    {"--token", 0, ARG_STRING, offsetof(nw_args_tail_t, token), 0, 0},
    {"--min-urgency", 0, ARG_INT, offsetof(nw_args_tail_t, min_urgency), 1, 9},
    {"--msgpack", 0, ARG_FLAG, offsetof(nw_args_tail_t, msgpack), 0, 0},
    {"--count", 0, ARG_LONG, offsetof(nw_args_tail_t, count), 1, 1000000000L},
    {"--insecure", 0, ARG_FLAG, offsetof(nw_args_tail_t, insecure), 0, 0},
    {"--cacert", 0, ARG_STRING, offsetof(nw_args_tail_t, cacert), 0, 0},
    {"--max-retries", 0, ARG_LONG, offsetof(nw_args_tail_t, max_retries), 0, 1000000000L},
    {"--backoff-max", 0, ARG_MS, offsetof(nw_args_tail_t, backoff_max_ms), 1, 3600 * 1000},
    {"--verbose", 'v', ARG_FLAG, offsetof(nw_args_tail_t, verbose), 0, 0},
};

static const arg_table_t publish_tables[] = {
    {publish_specs, NW_ARRAY_LEN(publish_specs), 0},
    {api_specs, NW_ARRAY_LEN(api_specs), offsetof(nw_args_publish_t, api)},
};

static const arg_table_t kill_tables[] = {
    {api_specs, NW_ARRAY_LEN(api_specs), offsetof(nw_args_kill_t, api)},
};

static const arg_table_t tail_tables[] = {
    {tail_specs, NW_ARRAY_LEN(tail_specs), 0},
};

bool nw_args_header_safe(const char *s, size_t max, bool strict)
{
    size_t n = strlen(s);

    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c > 0x20 && c < 0x7f)
            continue;
        if (strict || c == 0x7f || (c < 0x20 && c != '\t'))
            return false;
        if ((c == ' ' || c == '\t') && (i == 0 || i == n - 1))
            return false;
    }
    return true;
}

/* True when argv has -h or --help before any "--". */
static bool wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return false;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    }
    return false;
}

/* Parses a decimal integer filling the whole string. */
static int parse_long(const char *s, long min, long max, long *v)
{
    char *end;
    long n;

    if (s[0] == '\0' || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')))
        return -EINVAL;
    errno = 0;
    n = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || n < min || n > max)
        return -EINVAL;
    *v = n;
    return 0;
}

/* Parses decimal seconds ("10", "0.5") to milliseconds within [min, max]. */
static int parse_ms(const char *s, long min, long max, int *ms)
{
    char *end;
    double d;

    if (s[0] < '0' || s[0] > '9')
        return -EINVAL;
    d = strtod(s, &end);
    if (*end != '\0' || !isfinite(d) || d * 1000.0 < (double)min || d * 1000.0 > (double)max)
        return -EINVAL;
    *ms = (int)lround(d * 1000.0);
    return 0;
}

/* Stores value into the field spec describes, base bytes into out. */
static int store(const arg_spec_t *spec, size_t base, const char *value, void *out, nw_err_t *err)
{
    char *field = (char *)out + base + spec->offset;
    long n;

    switch (spec->kind) {
    case ARG_FLAG:
        *(bool *)(void *)field = true;
        return 0;
    case ARG_STRING:
        *(const char **)(void *)field = value;
        return 0;
    case ARG_INT:
    case ARG_LONG:
        if (parse_long(value, spec->min, spec->max, &n) < 0) {
            nw_err_set(err, spec->name, "must be an integer %ld..%ld", spec->min, spec->max);
            return -EINVAL;
        }
        if (spec->kind == ARG_INT)
            *(int *)(void *)field = (int)n;
        else
            *(long *)(void *)field = n;
        return 0;
    case ARG_MS:
        if (parse_ms(value, spec->min, spec->max, (int *)(void *)field) < 0) {
            nw_err_set(err, spec->name, "must be a number of seconds, %g..%g",
                       (double)spec->min / 1000.0, (double)spec->max / 1000.0);
            return -EINVAL;
        }
        return 0;
    }
    return -EINVAL;
}

/* Finds the spec of "--name" (name_len bytes) or of the short option c,
 * and the base of its table. */
static const arg_spec_t *find_spec(const arg_table_t *tables, size_t ntables, const char *name,
                                   size_t name_len, char c, size_t *base)
{
    for (size_t t = 0; t < ntables; t++) {
        for (size_t i = 0; i < tables[t].n; i++) {
            const arg_spec_t *spec = &tables[t].specs[i];
            if (c != 0
                    ? spec->short_name == c
                    : strlen(spec->name) == name_len && strncmp(spec->name, name, name_len) == 0) {
                *base = tables[t].base;
                return spec;
            }
        }
    }
    return NULL;
}

/* Walks argv[1..argc) against specs, passing operands to operand(). */
static int parse(int argc, char **argv, const arg_table_t *tables, size_t ntables, void *out,
                 operand_fn operand, nw_err_t *err)
{
    bool operands_only = false;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const arg_spec_t *spec;
        const char *value = NULL;
        size_t base = 0;

        if (operands_only || arg[0] != '-' || strcmp(arg, "-") == 0) {
            if (operand(out, arg, err) < 0)
                return -EINVAL;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            operands_only = true;
            continue;
        }
        if (arg[1] == '-') {
            const char *eq = strchr(arg, '=');
            size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
            spec = find_spec(tables, ntables, arg, len, 0, &base);
            if (spec == NULL) {
                nw_err_set(err, "", "unknown option %.*s", (int)NW_MIN(len, 64), arg);
                return -EINVAL;
            }
            if (eq != NULL)
                value = eq + 1;
        } else {
            spec = arg[2] == '\0' ? find_spec(tables, ntables, NULL, 0, arg[1], &base) : NULL;
            if (spec == NULL) {
                nw_err_set(err, "", "unknown option %.64s", arg);
                return -EINVAL;
            }
        }
        if (spec->kind == ARG_FLAG) {
            if (value != NULL) {
                nw_err_set(err, spec->name, "takes no value");
                return -EINVAL;
            }
        } else if (value == NULL) {
            if (i + 1 >= argc) {
                nw_err_set(err, spec->name, "needs a value");
                return -EINVAL;
            }
            value = argv[++i];
        }
        if (store(spec, base, value, out, err) < 0)
            return -EINVAL;
    }
    return 0;
}

/* The checks shared by publish and kill, after parsing. */
static int check_api(const nw_args_api_t *a, nw_err_t *err)
{
    if (a->api == NULL || a->api[0] == '\0') {
        nw_err_set(err, "--api", "is required (the API base URL, e.g. http://127.0.0.1:8081)");
        return -EINVAL;
    }
    if (a->key != NULL && !nw_args_header_safe(a->key, 4096, true)) {
        nw_err_set(err, "--key", "must be 1..4096 visible ASCII characters");
        return -EINVAL;
    }
    return 0;
}

static void api_defaults(nw_args_api_t *a)
{
    a->timeout_ms = NW_ARGS_TIMEOUT_DEFAULT_MS;
    a->retries = NW_ARGS_RETRIES_DEFAULT;
}

static int publish_operand(void *out, const char *arg, nw_err_t *err)
{
    nw_args_publish_t *o = out;

    if (o->file != NULL) {
        nw_err_set(err, "", "one FILE only (or - for standard input)");
        return -EINVAL;
    }
    o->file = arg;
    return 0;
}

int nw_args_publish(int argc, char **argv, nw_args_publish_t *out, nw_err_t *err)
{
    nw_topic_list_t *list = NULL;
    nw_err_t terr;

    memset(out, 0, sizeof(*out));
    api_defaults(&out->api);
    if (wants_help(argc, argv)) {
        out->help = true;
        return 0;
    }
    if (parse(argc, argv, publish_tables, NW_ARRAY_LEN(publish_tables), out, publish_operand, err) <
            0 ||
        check_api(&out->api, err) < 0)
        return -EINVAL;
    if (out->topics == NULL) {
        nw_err_set(err, "--topics", "is required (comma-separated topics)");
        return -EINVAL;
    }
    if (nw_topic_list_parse(out->topics, strlen(out->topics), NW_TOPICS_PER_ITEM_MAX, false,
                            "topics", &list, &terr) < 0) {
        nw_err_set(err, "--topics", "%s", terr.message);
        return -EINVAL;
    }
    nw_topic_list_free(list);
    if (out->idempotency_key != NULL && !nw_args_header_safe(out->idempotency_key, 255, true)) {
        nw_err_set(err, "--idempotency-key", "must be 1..255 visible ASCII characters");
        return -EINVAL;
    }
    if (out->file == NULL) {
        nw_err_set(err, "", "missing FILE (or - for standard input)");
        return -EINVAL;
    }
    return 0;
}

static int kill_operand(void *out, const char *arg, nw_err_t *err)
{
    nw_args_kill_t *o = out;

    if (o->uri != NULL) {
        nw_err_set(err, "", "one URI only");
        return -EINVAL;
    }
    o->uri = arg;
    return 0;
}

int nw_args_kill(int argc, char **argv, nw_args_kill_t *out, nw_err_t *err)
{
    memset(out, 0, sizeof(*out));
    api_defaults(&out->api);
    if (wants_help(argc, argv)) {
        out->help = true;
        return 0;
    }
    if (parse(argc, argv, kill_tables, NW_ARRAY_LEN(kill_tables), out, kill_operand, err) < 0 ||
        check_api(&out->api, err) < 0)
        return -EINVAL;
    if (out->uri == NULL || out->uri[0] == '\0') {
        nw_err_set(err, "", "missing URI (the article uri to kill)");
        return -EINVAL;
    }
    return 0;
}

static int tail_operand(void *out, const char *arg, nw_err_t *err)
{
    nw_args_tail_t *o = out;

    if (o->ntopics == NW_ARGS_TAIL_MAX_TOPICS) {
        nw_err_set(err, "", "more than %d topics", NW_ARGS_TAIL_MAX_TOPICS);
        return -EINVAL;
    }
    o->topics[o->ntopics++] = arg;
    return 0;
}

int nw_args_tail(int argc, char **argv, nw_args_tail_t *out, nw_err_t *err)
{
    nw_topic_list_t *list = NULL;
    nw_err_t terr;

    memset(out, 0, sizeof(*out));
    out->backoff_max_ms = 30000;
    if (wants_help(argc, argv)) {
        out->help = true;
        return 0;
    }
    if (parse(argc, argv, tail_tables, NW_ARRAY_LEN(tail_tables), out, tail_operand, err) < 0)
        return -EINVAL;
    if (out->url == NULL || out->url[0] == '\0') {
        nw_err_set(err, "--url", "is required (e.g. ws://127.0.0.1:8080/v1/stream)");
        return -EINVAL;
    }
    if (out->since != NULL && !nw_op_cursor_valid(out->since)) {
        nw_err_set(err, "--since", "must be an item id (<ms>-<seq>)");
        return -EINVAL;
    }
    if (out->epoch != NULL && out->since == NULL) {
        nw_err_set(err, "--epoch", "needs --since");
        return -EINVAL;
    }
    if (out->epoch != NULL && !nw_op_epoch_valid(out->epoch)) {
        nw_err_set(err, "--epoch", "must be the epoch of a subscribed message (hex digits)");
        return -EINVAL;
    }
    if (out->token != NULL && !nw_args_header_safe(out->token, 8192, true)) {
        nw_err_set(err, "--token", "must be 1..8192 visible ASCII characters");
        return -EINVAL;
    }
    if (out->ntopics == 0) {
        nw_err_set(err, "", "missing TOPIC (one or more topic patterns)");
        return -EINVAL;
    }
    if (nw_topic_list_from_array(out->topics, out->ntopics, NW_ARGS_TAIL_MAX_TOPICS, true, "topic",
                                 &list, &terr) < 0) {
        nw_err_set(err, "TOPIC", "%s", terr.message);
        return -EINVAL;
    }
    nw_topic_list_free(list);
    return 0;
}
