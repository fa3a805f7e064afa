/* lookback — the service manager's notify protocol (see lb-notify.h) */
#include "core/lb-notify.h"

#include "core/lb-error.h"
#include "core/lb-log.h"

#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The longest $NOTIFY_SOCKET path (sockaddr_un's sun_path). */
#define MAX_SOCKET_PATH 107

static GSocketAddress *
manager_address (const gchar * name)
{
  gboolean abstract = name[0] == '@';
  const gchar *path = abstract ? name + 1 : name;

  if ((!abstract && path[0] != '/') || *path == '\0'
      || strlen (path) > MAX_SOCKET_PATH)
    return NULL;
  return g_unix_socket_address_new_with_type (path, -1, abstract ?
      G_UNIX_SOCKET_ADDRESS_ABSTRACT : G_UNIX_SOCKET_ADDRESS_PATH);
}

gboolean
lb_notify (const gchar * state, GError ** error)
{
  g_return_val_if_fail (state != NULL, FALSE);

  const gchar *name = g_getenv ("NOTIFY_SOCKET");
  g_autoptr (GError) err = NULL;

  if (name == NULL || *name == '\0')
    return TRUE;
  g_autoptr (GSocketAddress) address = manager_address (name);
  if (address == NULL) {
    g_set_error (error, LB_ERROR, LB_ERROR_IO, "NOTIFY_SOCKET=%s is not a "
        "socket address", name);
    return FALSE;
  }
  /* One socket per message: a few a minute, and no state to keep across
   * threads. */
  g_autoptr (GSocket) sock = g_socket_new (G_SOCKET_FAMILY_UNIX,
      G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_DEFAULT, &err);
  gsize len = strlen (state);
  if (sock == NULL ||
      g_socket_send_to (sock, address, state, len, NULL,
          &err) != (gssize) len) {
    g_set_error (error, LB_ERROR, LB_ERROR_IO, "cannot notify %s: %s", name,
        err ? err->message : "short write");
    return FALSE;
  }
  return TRUE;
}

gint64
lb_notify_watchdog_usec (void)
{
  const gchar *usec = g_getenv ("WATCHDOG_USEC");
  const gchar *pid = g_getenv ("WATCHDOG_PID");
  gchar *end = NULL;

  if (usec == NULL)
    return 0;
  if (pid && g_ascii_strtoll (pid, NULL, 10) != (gint64) getpid ())
    return 0;                   /* meant for another process */
  gint64 v = g_ascii_strtoll (usec, &end, 10);
  return end != usec && *end == '\0' && v > 0 ? v : 0;
}

static gboolean
on_watchdog (gpointer user_data)
{
  static gboolean warned;       /* the loop's thread only */
  g_autoptr (GError) error = NULL;

  if (!lb_notify ("WATCHDOG=1", &error) && !warned) {
    lb_log (LB_LOG_WARNING, NULL, "the service manager's watchdog is not "
        "fed: %s", error->message);
    warned = TRUE;
  }
  return G_SOURCE_CONTINUE;
}

guint
lb_notify_watchdog_attach (GMainContext * context)
{
  gint64 usec = lb_notify_watchdog_usec ();

  if (usec == 0)
    return 0;
  GSource *source = g_timeout_source_new (MAX (1, usec / 2 / 1000));
  g_source_set_callback (source, on_watchdog, NULL, NULL);
  /* Ahead of the loop's ordinary work: a busy loop is not a hung one. */
  g_source_set_priority (source, G_PRIORITY_HIGH);
  guint id = g_source_attach (source, context);
  g_source_unref (source);
  return id;
}
