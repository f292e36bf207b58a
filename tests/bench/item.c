/* nwbench — published bodies and their marker (see item.h). */
#include "item.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Fills p with n bytes of padding, never holding the marker's "NWB:". */
static void item_pad(char *p, size_t n)
{
    static const char words[] = "lorem ipsum dolor sit amet consectetur adipiscing elit ";
    static char pattern[4096];

    if (pattern[0] == '\0')
        for (size_t i = 0; i < sizeof(pattern); i++)
            pattern[i] = words[i % (sizeof(words) - 1)];
    while (n > 0) {
        size_t k = n < sizeof(pattern) ? n : sizeof(pattern);

        memcpy(p, pattern, k);
        p += k;
        n -= k;
    }
}

size_t nwb_item_format(const nwb_config_t *cfg, uint64_t seq, uint64_t send_ns, char *out,
                       size_t cap)
{
    char marker[96];
    int mlen, n;

    mlen = snprintf(marker, sizeof(marker), "NWB:%s:%llu:%llu:", cfg->run, (unsigned long long)seq,
                    (unsigned long long)send_ns);
    if (cfg->target == NWB_TARGET_NCHAN) {
        size_t len = cfg->size > (unsigned)mlen ? cfg->size : (size_t)mlen;

        if (len > cap)
            return 0;
        memcpy(out, marker, (size_t)mlen);
        item_pad(out + mlen, len - (size_t)mlen);
        return len;
    }
    /* The smallest item Newswire accepts (required properties only); the
     * padding goes into a body when there is room for one. */
    static const char body_open[] = ",\"bodies\":[{\"value\":\"";
    static const char body_close[] = "\"}]}";
    n = snprintf(out, cap,
                 "{\"uri\":\"urn:nwbench:%s:%llu\",\"version\":\"1\","
                 "\"versioncreated\":\"2026-01-01T00:00:00Z\",\"type\":\"text\","
                 "\"language\":\"en\",\"headlines\":[{\"value\":\"%s\"}]",
                 cfg->run, (unsigned long long)seq, marker);
    if (n < 0 || (size_t)n + 1 >= cap)
        return 0;
    size_t base = (size_t)n, wrap = sizeof(body_open) - 1 + sizeof(body_close) - 1;
    if (cfg->size < base + wrap + 1) {
        out[base] = '}';
        return base + 1;
    }
    if (cfg->size > cap)
        return 0;
    size_t pad = cfg->size - base - wrap;
    memcpy(out + base, body_open, sizeof(body_open) - 1);
    item_pad(out + base + sizeof(body_open) - 1, pad);
    memcpy(out + base + sizeof(body_open) - 1 + pad, body_close, sizeof(body_close) - 1);
    return cfg->size;
}

/* Reads a decimal number ending in ':'; returns the byte after it or NULL. */
static const uint8_t *item_number(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
    const uint8_t *start = p;

    *v = 0;
    while (p < end && *p >= '0' && *p <= '9')
        *v = *v * 10 + (uint64_t)(*p++ - '0');
    if (p == start || p >= end || *p != ':')
        return NULL;
    return p + 1;
}

int nwb_item_parse(const uint8_t *msg, size_t len, const char *run, uint64_t *seq,
                   uint64_t *send_ns)
{
    const uint8_t *p = memmem(msg, len, "NWB:", 4), *end = msg + len;

    if (p == NULL)
        return -ENOENT;
    p += 4;
    if ((size_t)(end - p) < NWB_RUN_LEN + 1 || p[NWB_RUN_LEN] != ':')
        return -ENOENT;
    if (memcmp(p, run, NWB_RUN_LEN) != 0)
        return -ESRCH;
    p += NWB_RUN_LEN + 1;
    p = item_number(p, end, seq);
    if (p == NULL)
        return -ENOENT;
    if (item_number(p, end, send_ns) == NULL)
        return -ENOENT;
    return 0;
}
