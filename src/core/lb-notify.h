/* lookback — telling the service manager how lookbackd is (systemd's notify
 * protocol, as sd_notify(3) speaks it, without libsystemd)
 *
 * Under a Type=notify unit, $NOTIFY_SOCKET names a unix datagram socket (a
 * path, or "@name" in the abstract namespace); each message is one datagram
 * of "KEY=value" lines: READY=1 once the service serves, STOPPING=1 when it
 * begins to stop, STATUS=… for `systemctl status`, WATCHDOG=1 to say it is
 * alive.  With WatchdogSec= the manager sets $WATCHDOG_USEC (and
 * $WATCHDOG_PID) and restarts a service that stays silent that long.
 * Without $NOTIFY_SOCKET every call does nothing.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Sends @state ("READY=1\nSTATUS=…").  TRUE when sent or when there is no
 * manager to tell; LB_ERROR_IO when the socket refuses it. */
gboolean lb_notify                   (const gchar   *state,
                                      GError       **error);

/* The watchdog period the manager asked for, in µs, or 0: $WATCHDOG_USEC
 * when $WATCHDOG_PID is unset or names this process. */
gint64   lb_notify_watchdog_usec     (void);

/* Sends WATCHDOG=1 every half period from @context (NULL: the default
 * one), so that only a loop that runs keeps the service alive: a loop
 * stuck for a whole period gets the service restarted.  Returns the
 * source's id in @context, or 0 when no watchdog is asked for. */
guint    lb_notify_watchdog_attach   (GMainContext  *context);

G_END_DECLS
