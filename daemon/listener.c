/* Newswire — listening sockets with SO_REUSEPORT, and accept. */
#include "listener.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int nw_listen_socket(const char *host, int port, bool reuse_port, int backlog)
{
    struct addrinfo hints, *res = NULL;
    char service[16];
    int fd = -1, one = 1, rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(service, sizeof(service), "%d", port);
    rc = getaddrinfo(host[0] ? host : NULL, service, &hints, &res);
    if (rc != 0)
        return -EADDRNOTAVAIL;
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto fail;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
        goto fail;
    if (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
        goto fail;
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, backlog) < 0)
        goto fail;
    freeaddrinfo(res);
    return fd;
fail:
    rc = -errno;
    if (fd >= 0)
        close(fd);
    freeaddrinfo(res);
    return rc;
}

int nw_listen_accept(int lfd, int *spare)
{
    int one = 1;
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

    if (fd < 0) {
        int e = errno;
        if (e == EAGAIN || e == EWOULDBLOCK)
            return -EAGAIN;
        if ((e == EMFILE || e == ENFILE) && *spare >= 0) {
            /* Out of descriptors: give the spare back, take the pending
             * connection and close it, and keep a spare again. */
            close(*spare);
            fd = accept(lfd, NULL, NULL);
            if (fd >= 0)
                close(fd);
            *spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
            return -EMFILE;
        }
        return -e;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}
