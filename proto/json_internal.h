/* Newswire — helpers shared by the JSON parser (json.c) and the canonical
 * dumper (json_dump.c); not part of the public API (json.h). */
#ifndef NW_JSON_INTERNAL_H
#define NW_JSON_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* 1 for the bytes a string holds as they are: printable ASCII but '"' and
 * '\\' (and DEL, which needs no escape either); 0 for the rest, including
 * every non-ASCII byte, which is UTF-8 to check. */
extern const unsigned char nw_json_plain_byte[256];

/* Length of the valid UTF-8 sequence starting at p (2..4), or 0 when it is
 * invalid or truncated (overlongs, surrogates and > U+10FFFF included). */
static inline size_t nw_json_utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned char c = p[0], lo = 0x80, hi = 0xbf;
    size_t n;

    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        lo = c == 0xe0 ? 0xa0 : 0x80;
        hi = c == 0xed ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf;
    } else
        return 0;
    if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

/* The first byte at or after p that a string cannot copy as is: '"', '\\',
 * a control character or a non-ASCII byte; end if none. Eight bytes at a
 * time where the byte order allows it. */
static inline const unsigned char *nw_json_plain_run(const unsigned char *p,
                                                     const unsigned char *end)
{
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;

    while (end - p >= 8) {
        uint64_t x, q, b, m;

        memcpy(&x, p, 8);
        q = x ^ (ones * '"');
        b = x ^ (ones * '\\');
        /* a high bit per byte that is >= 0x80, '"', '\\' or < 0x20; only the
         * lowest one is exact, which is the one used */
        m = (x | ((q - ones) & ~q) | ((b - ones) & ~b) | ((x - ones * 0x20) & ~x)) & highs;
        if (m != 0)
            return p + (__builtin_ctzll(m) >> 3);
        p += 8;
    }
#endif
    while (p < end && nw_json_plain_byte[*p])
        p++;
    return p;
}

#endif
