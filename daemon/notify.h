/* Newswire — systemd service notifications (sd_notify): READY=1 once the
 * listeners and Redis are up, RELOADING=1 around a reload, STOPPING=1 on
 * the way out, WATCHDOG=1 while every thread is responsive, and a STATUS=
 * line. No-ops when not started by systemd (NOTIFY_SOCKET unset) or when
 * built without libsystemd. */
#ifndef NW_NOTIFY_H
#define NW_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "common.h"

void nw_notify_ready(const char *status);
void nw_notify_reloading(void);
void nw_notify_stopping(void);
void nw_notify_watchdog(void);
void nw_notify_status(const char *fmt, ...) NW_PRINTF(1, 2);

/* The watchdog interval systemd asks for (WatchdogSec=), in microseconds,
 * or 0 when the watchdog is off. */
uint64_t nw_notify_watchdog_usec(void);

#endif
