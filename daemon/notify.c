/* Newswire — sd_notify wrappers. */
#include "notify.h"

#include <stdarg.h>
#include <stdio.h>

#ifdef NW_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

static void send_state(const char *state)
{
#ifdef NW_HAVE_SYSTEMD
    sd_notify(0, state);
#else
    (void)state;
#endif
}

void nw_notify_ready(const char *status)
{
    char buf[256];

    snprintf(buf, sizeof(buf), "READY=1\nSTATUS=%s", status);
    send_state(buf);
}

void nw_notify_reloading(void)
{
    send_state("RELOADING=1");
}

void nw_notify_stopping(void)
{
    send_state("STOPPING=1");
}

void nw_notify_watchdog(void)
{
    send_state("WATCHDOG=1");
}

void nw_notify_status(const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    int n = snprintf(buf, sizeof(buf), "STATUS=");

    va_start(ap, fmt);
    vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
    va_end(ap);
    send_state(buf);
}

uint64_t nw_notify_watchdog_usec(void)
{
#ifdef NW_HAVE_SYSTEMD
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0)
        return usec;
#endif
    return 0;
}
