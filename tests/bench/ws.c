/* nwbench — minimal RFC 6455 client (see ws.h). */
#include "ws.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/* xorshift64*: masking keys and handshake nonces need not be secret here,
 * only different from one connection to the next. Seeded per process. */
static uint64_t ws_rand_state;

static uint64_t ws_rand(void)
{
    uint64_t x = ws_rand_state;

    if (x == 0) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        x = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)getpid() ^ 0x9E3779B97F4A7C15ull;
    }
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    ws_rand_state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

int nwb_ws_request(char *out, size_t cap, const char *host, const char *path,
                   const char *subprotocol, char key[NWB_WS_KEY_LEN + 1])
{
    uint64_t nonce[2] = {ws_rand(), ws_rand()};
    int n;

    EVP_EncodeBlock((unsigned char *)key, (const unsigned char *)nonce, 16);
    key[NWB_WS_KEY_LEN] = '\0';
    n = snprintf(out, cap,
                 "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s%s%s\r\n",
                 path, host, key, subprotocol ? "Sec-WebSocket-Protocol: " : "",
                 subprotocol ? subprotocol : "", subprotocol ? "\r\n" : "");
    if (n < 0 || (size_t)n >= cap)
        return -ENOSPC;
    return n;
}

/* Value of header name in a response head, trimmed; NULL when absent. */
static const char *ws_header(const char *head, size_t len, const char *name, size_t *vlen)
{
    size_t nlen = strlen(name);
    const char *p = memchr(head, '\n', len), *end = head + len;

    while (p != NULL && p + 1 < end) {
        const char *line = p + 1, *eol = memchr(line, '\n', (size_t)(end - line));

        if (eol == NULL)
            return NULL;
        if ((size_t)(eol - line) > nlen && line[nlen] == ':' &&
            strncasecmp(line, name, nlen) == 0) {
            const char *v = line + nlen + 1, *ve = eol;

            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            *vlen = (size_t)(ve - v);
            return v;
        }
        p = eol;
    }
    return NULL;
}

int nwb_ws_check_response(const char *head, size_t len, const char *key, int *status)
{
    char src[NWB_WS_KEY_LEN + sizeof(ws_guid)];
    unsigned char md[EVP_MAX_MD_SIZE];
    char accept[64];
    unsigned mdlen = 0;
    const char *v;
    size_t vlen;

    *status = 0;
    if (len < 12 || memcmp(head, "HTTP/1.1 ", 9) != 0)
        return -EPROTO;
    *status = atoi(head + 9);
    if (*status != 101)
        return -EPROTO;
    v = ws_header(head, len, "Upgrade", &vlen);
    if (v == NULL || vlen != 9 || strncasecmp(v, "websocket", 9) != 0)
        return -EPROTO;
    snprintf(src, sizeof(src), "%s%s", key, ws_guid);
    if (!EVP_Digest(src, strlen(src), md, &mdlen, EVP_sha1(), NULL))
        return -EPROTO;
    EVP_EncodeBlock((unsigned char *)accept, md, (int)mdlen);
    v = ws_header(head, len, "Sec-WebSocket-Accept", &vlen);
    if (v == NULL || vlen != strlen(accept) || memcmp(v, accept, vlen) != 0)
        return -EPROTO;
    return 0;
}

ssize_t nwb_ws_parse(const uint8_t *buf, size_t len, size_t max, nwb_ws_frame_t *f)
{
    size_t hdr = 2;
    uint64_t plen;

    if (len < 2)
        return 0;
    if ((buf[0] & 0x70) != 0 || (buf[1] & 0x80) != 0)
        return -EPROTO; /* reserved bits (no extension was offered), or masked */
    plen = buf[1] & 0x7F;
    if (plen == 126) {
        if (len < 4)
            return 0;
        plen = ((uint64_t)buf[2] << 8) | buf[3];
        hdr = 4;
    } else if (plen == 127) {
        if (len < 10)
            return 0;
        plen = 0;
        for (int i = 0; i < 8; i++)
            plen = (plen << 8) | buf[2 + i];
        hdr = 10;
    }
    if (plen > max)
        return -EPROTO;
    if (len - hdr < plen)
        return 0;
    f->opcode = buf[0] & 0x0F;
    f->fin = (buf[0] & 0x80) != 0;
    f->payload = buf + hdr;
    f->len = (size_t)plen;
    return (ssize_t)(hdr + plen);
}

size_t nwb_ws_build(uint8_t *out, unsigned opcode, const uint8_t *payload, size_t len)
{
    uint32_t mask = (uint32_t)ws_rand();
    uint8_t m[4] = {(uint8_t)mask, (uint8_t)(mask >> 8), (uint8_t)(mask >> 16),
                    (uint8_t)(mask >> 24)};
    size_t hdr;

    out[0] = (uint8_t)(0x80 | (opcode & 0x0F));
    if (len < 126) {
        out[1] = (uint8_t)(0x80 | len);
        hdr = 2;
    } else if (len <= 0xFFFF) {
        out[1] = 0x80 | 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        hdr = 4;
    } else {
        out[1] = 0x80 | 127;
        for (int i = 0; i < 8; i++)
            out[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
        hdr = 10;
    }
    memcpy(out + hdr, m, 4);
    hdr += 4;
    for (size_t i = 0; i < len; i++)
        out[hdr + i] = payload[i] ^ m[i & 3];
    return hdr + len;
}
