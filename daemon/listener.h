/* Newswire — the public listener's socket, made by Newswire rather than
 * libwebsockets.
 *
 * Debian 12's libwebsockets 4.1 cannot share a port between contexts
 * (LWS_SERVER_OPTION_ALLOW_LISTEN_SHARE does not apply SO_REUSEPORT across
 * contexts, and its SMP mode is compiled out), so each gateway thread opens
 * its own listening socket with SO_REUSEPORT, watches it in its lws loop as
 * a raw file descriptor, accepts connections itself and hands them to lws
 * (lws_adopt_descriptor_vhost). The kernel spreads new connections over the
 * gateway threads, and several instances may share a port too. */
#ifndef NW_LISTENER_H
#define NW_LISTENER_H

#include <stdbool.h>

/* Opens a non-blocking listening TCP socket on host:port (numeric address
 * or name). Returns the fd or a negative errno. */
int nw_listen_socket(const char *host, int port, bool reuse_port, int backlog);

/* Accepts one pending connection (non-blocking, close-on-exec,
 * TCP_NODELAY). Returns the fd, -EAGAIN when none is pending, or another
 * negative errno. On EMFILE/ENFILE the connection is accepted and closed
 * at once with the spare descriptor (*spare), so that the listener does not
 * spin; -EMFILE is returned. */
int nw_listen_accept(int lfd, int *spare);

#endif
