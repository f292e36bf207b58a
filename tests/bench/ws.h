/* nwbench — a minimal RFC 6455 client: the opening handshake (request and
 * check of the answer), frame decoding, and masked client frames. No I/O:
 * the worker owns the sockets. */
#ifndef NWB_WS_H
#define NWB_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NWB_WS_KEY_LEN 24 /* base64 of 16 random bytes */

enum {
    NWB_WS_CONT = 0x0,
    NWB_WS_TEXT = 0x1,
    NWB_WS_BINARY = 0x2,
    NWB_WS_CLOSE = 0x8,
    NWB_WS_PING = 0x9,
    NWB_WS_PONG = 0xA,
};

/* One decoded frame; payload points into the caller's buffer. */
typedef struct {
    unsigned opcode;
    bool fin;
    const uint8_t *payload;
    size_t len;
} nwb_ws_frame_t;

/* Writes the upgrade request for GET path on host into out, with a fresh
 * key (returned in key, NUL-terminated) and, when subprotocol is not NULL,
 * Sec-WebSocket-Protocol. Returns the request's length, or -ENOSPC. */
int nwb_ws_request(char *out, size_t cap, const char *host, const char *path,
                   const char *subprotocol, char key[NWB_WS_KEY_LEN + 1]);

/* Checks a complete response head (up to and including the blank line):
 * 101, Upgrade: websocket and the Sec-WebSocket-Accept that key calls for.
 * Returns 0, or -EPROTO (then *status holds the HTTP status, 0 if none). */
int nwb_ws_check_response(const char *head, size_t len, const char *key, int *status);

/* Decodes the frame at the start of buf. Returns the bytes it spans, 0 when
 * buf does not hold all of it yet, -EPROTO for a frame a server must not
 * send (masked, reserved bits, a payload over max). */
ssize_t nwb_ws_parse(const uint8_t *buf, size_t len, size_t max, nwb_ws_frame_t *f);

/* Writes a final, masked client frame into out (cap >= len + 14). Returns
 * its length. */
size_t nwb_ws_build(uint8_t *out, unsigned opcode, const uint8_t *payload, size_t len);

#endif
