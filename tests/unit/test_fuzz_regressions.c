/* Unit tests: the fuzz corpus and the fuzz regressions, replayed.
 *
 * Every file of tests/fuzz/corpus/<target>/ (the seeds) and of
 * tests/fuzz/regressions/<target>/ (inputs that once crashed a harness or
 * broke one of its invariants) goes through the same harness the fuzzer
 * runs (tests/fuzz/fuzz_<target>.c, compiled here without its libFuzzer
 * entry point): the parsers must not crash, the harness's invariants must
 * hold (it aborts otherwise), and the verdict must be the one the file's
 * name announces: "ok-*" accepted, "bad-*" refused. NW_FUZZ_DIR is the
 * tests/fuzz directory of the source tree. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "fuzz.h"

typedef struct replay_target {
    const char *name;
    bool (*run)(const uint8_t *data, size_t size);
} replay_target_t;

static const replay_target_t replay_article_json = {"fuzz_article_json", nw_fuzz_article_json};
static const replay_target_t replay_article_msgpack = {"fuzz_article_msgpack",
                                                       nw_fuzz_article_msgpack};
static const replay_target_t replay_op = {"fuzz_op", nw_fuzz_op};
static const replay_target_t replay_topic = {"fuzz_topic", nw_fuzz_topic};
static const replay_target_t replay_config = {"fuzz_config", nw_fuzz_config};
static const replay_target_t replay_http_parse = {"fuzz_http_parse", nw_fuzz_http_parse};
static const replay_target_t replay_json = {"fuzz_json", nw_fuzz_json};

/* What a directory held: files accepted and refused as announced. */
typedef struct replay_count {
    size_t ok;
    size_t bad;
} replay_count_t;

static uint8_t *replay_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t cap = 0;

    if (f == NULL)
        fail_msg("cannot open %s: %s", path, strerror(errno));
    *len = 0;
    for (;;) {
        size_t n;

        if (*len == cap) {
            cap = cap ? cap * 2 : 4096;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        n = fread(buf + *len, 1, cap - *len, f);
        if (n == 0)
            break;
        *len += n;
    }
    assert_int_equal(ferror(f), 0);
    fclose(f);
    return buf;
}

static int replay_name_cmp_cb(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replays every file of NW_FUZZ_DIR/<sub>/<target>/, in name order, and
 * counts them; a missing directory counts nothing (regressions/ may not
 * have one for every target). */
static replay_count_t replay_dir(const replay_target_t *t, const char *sub)
{
    replay_count_t count = {0, 0};
    char dir[PATH_MAX];
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    DIR *d;

    snprintf(dir, sizeof(dir), "%s/%s/%s", NW_FUZZ_DIR, sub, t->name);
    d = opendir(dir);
    if (d == NULL) {
        if (errno != ENOENT)
            fail_msg("cannot open %s: %s", dir, strerror(errno));
        return count;
    }
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            names = realloc(names, cap * sizeof(*names));
            assert_non_null(names);
        }
        names[n] = strdup(de->d_name);
        assert_non_null(names[n]);
        n++;
    }
    closedir(d);
    if (n > 0)
        qsort(names, n, sizeof(*names), replay_name_cmp_cb);

    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX];
        bool expect = false, verdict;
        struct stat st;
        uint8_t *data;
        size_t len;

        if (snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >= (int)sizeof(path))
            fail_msg("%s/%s: path too long", dir, names[i]);
        assert_int_equal(stat(path, &st), 0);
        if (!S_ISREG(st.st_mode))
            fail_msg("%s: not a regular file", path);
        if (strncmp(names[i], "ok-", 3) == 0)
            expect = true;
        else if (strncmp(names[i], "bad-", 4) == 0)
            expect = false;
        else
            fail_msg("%s: name it ok-* (must be accepted) or bad-* (must be refused)", path);
        data = replay_read(path, &len);
        verdict = t->run(data, len);
        free(data);
        if (verdict != expect)
            fail_msg("%s: %s, expected %s", path, verdict ? "accepted" : "refused",
                     expect ? "accepted" : "refused");
        if (expect)
            count.ok++;
        else
            count.bad++;
        free(names[i]);
    }
    free(names);
    return count;
}

/* The seeds: every target has some accepted and some refused, each gets
 * its announced verdict. */
static void test_fuzz_corpus(void **state)
{
    const replay_target_t *t = *state;
    replay_count_t c = replay_dir(t, "corpus");

    if (c.ok == 0 || c.bad == 0)
        fail_msg("corpus/%s needs ok-* and bad-* seeds (has %zu and %zu)", t->name, c.ok, c.bad);
}

/* The inputs that once broke a harness. */
static void test_fuzz_regressions(void **state)
{
    const replay_target_t *t = *state;

    (void)replay_dir(t, "regressions");
}

/* One corpus test and one regressions test per target. */
#define REPLAY_TESTS(t)                                                                            \
    {.name = "corpus/" #t, .test_func = test_fuzz_corpus, .initial_state = (void *)&replay_##t},   \
    {                                                                                              \
        .name = "regressions/" #t, .test_func = test_fuzz_regressions,                             \
        .initial_state = (void *)&replay_##t                                                       \
    }

int main(void)
{
    const struct CMUnitTest tests[] = {
        REPLAY_TESTS(article_json), REPLAY_TESTS(article_msgpack), REPLAY_TESTS(op),
        REPLAY_TESTS(topic),        REPLAY_TESTS(config),          REPLAY_TESTS(http_parse),
        REPLAY_TESTS(json),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
