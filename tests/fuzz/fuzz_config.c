/* Newswire — fuzz harness for the config file reader and the address
 * parsers (daemon/config.h).
 *
 * The input is written to a memfd and read with nw_config_load_file into a
 * fresh nw_config_defaults() configuration. Each input line, and the value
 * after its '=', also goes through nw_config_parse_listen and
 * nw_config_parse_redis_url. Invariants, beyond "no crash, no leak":
 * - loading is deterministic (same result, error and configuration twice);
 *   a refusal names a reason;
 * - a loaded configuration holds only valid values: every publisher section
 *   is complete and within bounds, and every key's effective value, as
 *   nw_config_dump prints it, is accepted again by nw_config_set and gives
 *   the same dump line (except what the dump cannot show: a masked Redis
 *   password, a listen host holding '[' or ']');
 * - the address parsers write *out only on success, and what they accept
 *   is well formed and reads back the same once written out again.
 * The input is accepted when nw_config_load_file returns 0. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "fuzz.h"
#include "fuzz_util.h"

#define FUZZ_CONFIG_LINES 32 /* lines also fed to the address parsers */

static const char fuzz_name_chars[] =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-";

/* Writes data to the harness's memfd (created once) and returns its path. */
static void fuzz_config_file(const uint8_t *data, size_t size, char *path, size_t pathlen)
{
    static int fd = -1;
    size_t off = 0;

    if (fd < 0) {
        fd = memfd_create("nw-fuzz-config", MFD_CLOEXEC);
        NW_ASSERT(fd >= 0);
    }
    NW_ASSERT(ftruncate(fd, 0) == 0);
    while (off < size) {
        ssize_t n = pwrite(fd, data + off, size - off, (off_t)off);

        NW_ASSERT(n > 0);
        off += (size_t)n;
    }
    snprintf(path, pathlen, "/proc/self/fd/%d", fd);
}

static char *fuzz_config_dump(const nw_config_t *cfg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    NW_ASSERT(f != NULL);
    nw_config_dump(cfg, f);
    NW_ASSERT(fclose(f) == 0);
    return buf;
}

static void fuzz_check_publishers(const nw_config_t *cfg)
{
    NW_ASSERT(cfg->npublishers <= NW_MAX_PUBLISHERS);
    for (unsigned i = 0; i < cfg->npublishers; i++) {
        const nw_publisher_cfg_t *p = &cfg->publishers[i];
        size_t n = strnlen(p->name, sizeof(p->name));

        NW_ASSERT(n >= 1 && n <= 64 && strspn(p->name, fuzz_name_chars) == n);
        NW_ASSERT(p->key_sha256_set);
        NW_ASSERT(p->topics[0] != '\0' &&
                  strnlen(p->topics, sizeof(p->topics)) < sizeof(p->topics));
        NW_ASSERT(p->rate >= 1 && p->rate <= 100000);
        for (unsigned j = 0; j < i; j++)
            NW_ASSERT(strcmp(cfg->publishers[j].name, p->name) != 0);
    }
}

/* True when the dump line of key cannot be read back as is. */
static bool fuzz_dump_opaque(const nw_config_t *cfg, const char *key)
{
    if (strcmp(key, "redis") == 0)
        return cfg->redis.password[0] != '\0'; /* printed masked */
    if (strcmp(key, "listen") == 0)
        return strpbrk(cfg->listen.host, "[]") != NULL;
    if (strcmp(key, "api_listen") == 0)
        return strpbrk(cfg->api_listen.host, "[]") != NULL;
    return false;
}

/* Sets every key of a's dump on fresh defaults in b, and compares the
 * dumps line by line. */
static void fuzz_check_dump(const nw_config_t *a, nw_config_t *b)
{
    char *d1 = fuzz_config_dump(a), *d2, *line, *l2;
    char *end = strstr(d1, "\n\n[publisher ");

    if (end != NULL)
        end[1] = '\0';
    nw_config_defaults(b);
    for (line = d1; *line != '\0';) {
        char *nl = strchr(line, '\n'), *sep = strstr(line, " = "), *value;
        size_t vlen;
        nw_err_t err;

        NW_ASSERT(nl != NULL && sep != NULL && sep < nl);
        *sep = '\0';
        *nl = '\0';
        value = sep + 3;
        vlen = strlen(value);
        if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"') {
            value[vlen - 1] = '\0';
            value++;
        }
        if (!fuzz_dump_opaque(a, line) && nw_config_set(b, line, value, &err) != 0) {
            fprintf(stderr, "dumped %s = \"%s\" is refused: %s\n", line, value, err.message);
            NW_ASSERT(!"a loaded value does not set again");
        }
        line = nl + 1;
    }
    free(d1);

    /* the same dump, but for the lines left out */
    d1 = fuzz_config_dump(a);
    d2 = fuzz_config_dump(b);
    for (line = d1, l2 = d2; *line != '\0' && *line != '\n';) {
        size_t n1 = strcspn(line, "\n"), n2 = strcspn(l2, "\n");
        char key[64];

        snprintf(key, sizeof(key), "%.*s", (int)strcspn(line, " "), line);
        if (!fuzz_dump_opaque(a, key) && (n1 != n2 || memcmp(line, l2, n1) != 0)) {
            fprintf(stderr, "dump line \"%.*s\" reads back as \"%.*s\"\n", (int)n1, line, (int)n2,
                    l2);
            NW_ASSERT(!"a loaded value reads back differently");
        }
        line += n1 + (line[n1] == '\n');
        l2 += n2 + (l2[n2] == '\n');
    }
    free(d2);
    free(d1);
}

static void fuzz_check_listen(const char *s)
{
    nw_listen_addr_t la, before, again;
    char text[NW_CONFIG_STR_MAX + 16];
    int rc;

    memset(&la, 0xa5, sizeof(la));
    before = la;
    rc = nw_config_parse_listen(s, &la);
    NW_ASSERT(rc == 0 || rc == -EINVAL);
    if (rc != 0) {
        NW_ASSERT(memcmp(&la, &before, sizeof(la)) == 0);
        return;
    }
    NW_ASSERT(memchr(la.host, '\0', sizeof(la.host)) != NULL && la.host[0] != '\0');
    NW_ASSERT(la.port >= 0 && la.port <= 65535);
    if (strpbrk(la.host, "[]") != NULL)
        return;
    snprintf(text, sizeof(text), strchr(la.host, ':') ? "[%s]:%d" : "%s:%d", la.host, la.port);
    NW_ASSERT(nw_config_parse_listen(text, &again) == 0);
    NW_ASSERT(strcmp(again.host, la.host) == 0 && again.port == la.port);
}

static void fuzz_check_redis(const char *s)
{
    nw_redis_addr_t ra, before, again;
    char text[4 * NW_CONFIG_STR_MAX];
    int rc;

    memset(&ra, 0xa5, sizeof(ra));
    before = ra;
    rc = nw_config_parse_redis_url(s, &ra);
    NW_ASSERT(rc == 0 || rc == -EINVAL);
    if (rc != 0) {
        NW_ASSERT(memcmp(&ra, &before, sizeof(ra)) == 0);
        return;
    }
    NW_ASSERT(memchr(ra.host, '\0', sizeof(ra.host)) != NULL);
    NW_ASSERT(memchr(ra.path, '\0', sizeof(ra.path)) != NULL);
    NW_ASSERT(memchr(ra.password, '\0', sizeof(ra.password)) != NULL);
    NW_ASSERT(ra.db >= 0 && ra.db <= 15);
    if (ra.nsentinels > 0) {
        /* sentinel://: the master's address is asked at run time */
        NW_ASSERT(ra.nsentinels <= NW_SENTINELS_MAX && ra.host[0] == '\0' && ra.path[0] == '\0');
        NW_ASSERT(ra.master_name[0] != '\0' && strlen(ra.master_name) < NW_SENTINEL_NAME_MAX);
        for (unsigned i = 0; i < ra.nsentinels; i++)
            NW_ASSERT(ra.sentinels[i].host[0] != '\0' && ra.sentinels[i].port >= 1 &&
                      ra.sentinels[i].port <= 65535);
        return;
    }
    if (ra.path[0] != '\0') {
        NW_ASSERT(ra.path[0] == '/' && ra.host[0] == '\0' && ra.port == 0);
        NW_ASSERT(ra.password[0] == '\0' && strchr(ra.path, '?') == NULL);
        snprintf(text, sizeof(text), "unix:%s?db=%d", ra.path, ra.db);
    } else {
        NW_ASSERT(ra.host[0] != '\0' && ra.port >= 1 && ra.port <= 65535);
        NW_ASSERT(strpbrk(ra.password, "@/") == NULL);
        /* hosts the URL grammar cannot carry back, and long ones (a
         * bracketed host without a port has a little more room) */
        if (strpbrk(ra.host, "[]@") != NULL || strlen(ra.host) + strlen(ra.password) > 200)
            return;
        snprintf(text, sizeof(text), "redis://%s%s%s%s%s%s:%d/%d", ra.password[0] ? ":" : "",
                 ra.password, ra.password[0] ? "@" : "", strchr(ra.host, ':') ? "[" : "", ra.host,
                 strchr(ra.host, ':') ? "]" : "", ra.port, ra.db);
    }
    if (nw_config_parse_redis_url(text, &again) != 0) {
        fprintf(stderr, "\"%s\" parsed, but its rewrite \"%s\" is refused\n", s, text);
        NW_ASSERT(!"a Redis address does not read back");
    }
    NW_ASSERT(strcmp(again.host, ra.host) == 0 && again.port == ra.port);
    NW_ASSERT(strcmp(again.path, ra.path) == 0 && again.db == ra.db);
    NW_ASSERT(strcmp(again.password, ra.password) == 0);
}

/* Each line, and its value (blanks and quotes stripped), as an address. */
static void fuzz_check_addresses(const uint8_t *data, size_t size)
{
    size_t pos = 0;

    for (int n = 0; n < FUZZ_CONFIG_LINES && pos < size; n++) {
        const uint8_t *nl = memchr(data + pos, '\n', size - pos);
        size_t end = nl ? (size_t)(nl - data) : size;
        char *line = strndup((const char *)data + pos, end - pos), *v, *e;

        NW_ASSERT(line != NULL);
        fuzz_check_listen(line);
        fuzz_check_redis(line);
        v = strchr(line, '=');
        if (v != NULL) {
            for (v++; *v == ' ' || *v == '\t' || *v == '"'; v++)
                ;
            e = v + strlen(v);
            while (e > v && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '"'))
                *--e = '\0';
            fuzz_check_listen(v);
            fuzz_check_redis(v);
        }
        free(line);
        pos = end + 1;
    }
}

bool nw_fuzz_config(const uint8_t *data, size_t size)
{
    /* ~1 MiB each: allocated once, filled with defaults for every input */
    static nw_config_t *a, *b;
    char path[64];
    nw_err_t ea, eb;
    char *da, *db;
    int rc, rc2;

    if (a == NULL) {
        a = malloc(sizeof(*a));
        b = malloc(sizeof(*b));
        NW_ASSERT(a != NULL && b != NULL);
    }
    fuzz_config_file(data, size, path, sizeof(path));
    memset(&ea, 0, sizeof(ea));
    memset(&eb, 0, sizeof(eb));
    nw_config_defaults(a);
    rc = nw_config_load_file(a, path, &ea);
    NW_ASSERT(rc <= 0);
    if (rc < 0)
        NW_ASSERT(ea.message[0] != '\0' && memchr(ea.message, '\0', sizeof(ea.message)) != NULL);

    nw_config_defaults(b);
    rc2 = nw_config_load_file(b, path, &eb);
    NW_ASSERT(rc2 == rc);
    NW_ASSERT(strcmp(ea.field, eb.field) == 0 && strcmp(ea.message, eb.message) == 0);
    da = fuzz_config_dump(a);
    db = fuzz_config_dump(b);
    NW_ASSERT(strcmp(da, db) == 0);
    free(da);
    free(db);

    if (rc == 0) {
        fuzz_check_publishers(a);
        fuzz_check_dump(a, b);
    }
    fuzz_check_addresses(data, size);
    return rc == 0;
}

NW_FUZZ_ENTRY(nw_fuzz_config)
