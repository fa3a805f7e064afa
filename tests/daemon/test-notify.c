/* systemd's notify protocol (lb-notify) and lookbackd under Type=notify:
 * the test listens on a unix datagram socket as the service manager does
 * and reads what lookbackd tells it — READY=1 once it serves, WATCHDOG=1
 * from its main loop, STOPPING=1 when it stops. */
#include "core/lb-error.h"
#include "core/lb-notify.h"
#include "lb-test-common.h"

#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

/* A receiving end: a datagram socket at @name (a path, or "@name"). */
static GSocket *
manager_socket (const gchar * name)
{
  g_autoptr (GError) error = NULL;
  gboolean abstract = name[0] == '@';
  g_autoptr (GSocketAddress) address =
      g_unix_socket_address_new_with_type (abstract ? name + 1 : name, -1,
      abstract ? G_UNIX_SOCKET_ADDRESS_ABSTRACT : G_UNIX_SOCKET_ADDRESS_PATH);
  GSocket *sock = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_DATAGRAM,
      G_SOCKET_PROTOCOL_DEFAULT, &error);

  g_assert_no_error (error);
  g_assert_true (g_socket_bind (sock, address, FALSE, &error));
  g_assert_no_error (error);
  /* A ceiling for a daemon that never speaks, not a measure of speed. */
  g_socket_set_timeout (sock, 60);
  return sock;
}

/* The next datagram, waiting for it. */
static gchar *
receive (GSocket * sock)
{
  g_autoptr (GError) error = NULL;
  gchar buf[4096];
  gssize n = g_socket_receive (sock, buf, sizeof buf - 1, NULL, &error);

  g_assert_no_error (error);
  buf[n] = '\0';
  return g_strdup (buf);
}

/* A datagram waiting now, or NULL. */
static gchar *
receive_now (GSocket * sock)
{
  return g_socket_condition_check (sock, G_IO_IN) ? receive (sock) : NULL;
}

static void
test_protocol (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("lb-notify-XXXXXX", &error);
  g_autofree gchar *path = g_build_filename (dir, "notify", NULL);
  g_autofree gchar *abstract = g_strdup_printf ("@lookback-test-%d",
      (gint) getpid ());
  g_autoptr (GSocket) at_path = manager_socket (path);
  g_autoptr (GSocket) at_name = manager_socket (abstract);

  /* no manager: nothing to do, no error */
  g_unsetenv ("NOTIFY_SOCKET");
  g_assert_true (lb_notify ("READY=1", &error));

  g_setenv ("NOTIFY_SOCKET", path, TRUE);
  g_assert_true (lb_notify ("READY=1\nSTATUS=serving", &error));
  g_autofree gchar *a = receive (at_path);
  g_assert_cmpstr (a, ==, "READY=1\nSTATUS=serving");

  g_setenv ("NOTIFY_SOCKET", abstract, TRUE);
  g_assert_true (lb_notify ("STOPPING=1", &error));
  g_autofree gchar *b = receive (at_name);
  g_assert_cmpstr (b, ==, "STOPPING=1");

  g_setenv ("NOTIFY_SOCKET", "relative/path", TRUE);
  g_assert_false (lb_notify ("READY=1", &error));
  g_assert_error (error, LB_ERROR, LB_ERROR_IO);
  g_clear_error (&error);
  g_unsetenv ("NOTIFY_SOCKET");
  lb_test_rm_rf (dir);
}

static void
test_watchdog_period (void)
{
  g_autofree gchar *us = g_strdup_printf ("%d", (gint) getpid ());

  g_unsetenv ("WATCHDOG_USEC");
  g_unsetenv ("WATCHDOG_PID");
  g_assert_cmpint (lb_notify_watchdog_usec (), ==, 0);
  g_setenv ("WATCHDOG_USEC", "30000000", TRUE);
  g_assert_cmpint (lb_notify_watchdog_usec (), ==, 30000000);
  g_setenv ("WATCHDOG_PID", us, TRUE);
  g_assert_cmpint (lb_notify_watchdog_usec (), ==, 30000000);
  g_setenv ("WATCHDOG_PID", "1", TRUE); /* another process's */
  g_assert_cmpint (lb_notify_watchdog_usec (), ==, 0);
  g_unsetenv ("WATCHDOG_PID");
  g_setenv ("WATCHDOG_USEC", "soon", TRUE);
  g_assert_cmpint (lb_notify_watchdog_usec (), ==, 0);
  g_unsetenv ("WATCHDOG_USEC");
  g_assert_cmpuint (lb_notify_watchdog_attach (NULL), ==, 0);
}

/* The pings come from the loop: a loop that does not run sends none, so
 * the manager restarts a service whose loop hangs. */
static void
test_watchdog_from_loop (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("lb-notify-XXXXXX", &error);
  g_autofree gchar *path = g_build_filename (dir, "notify", NULL);
  g_autoptr (GSocket) sock = manager_socket (path);
  g_autoptr (GMainContext) context = g_main_context_new ();

  g_setenv ("NOTIFY_SOCKET", path, TRUE);
  g_setenv ("WATCHDOG_USEC", "20000", TRUE);    /* a ping every 10 ms */
  guint id = lb_notify_watchdog_attach (context);
  g_assert_cmpuint (id, >, 0);

  /* five periods with the loop stuck: silence */
  g_usleep (100 * 1000);
  g_assert_null (receive_now (sock));
  /* the loop runs again: the pings are back, one per turn that is due */
  for (guint i = 0; i < 3; i++) {
    g_main_context_iteration (context, TRUE);
    g_autofree gchar *ping = receive (sock);
    g_assert_cmpstr (ping, ==, "WATCHDOG=1");
  }
  g_source_destroy (g_main_context_find_source_by_id (context, id));
  g_unsetenv ("NOTIFY_SOCKET");
  g_unsetenv ("WATCHDOG_USEC");
  lb_test_rm_rf (dir);
}

/* lookbackd: READY=1 (with its status) once it listens, pings at half the
 * watchdog period, STOPPING=1 at SIGTERM. */
static void
test_daemon (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("lb-notify-XXXXXX", &error);
  g_autofree gchar *path = g_build_filename (dir, "notify", NULL);
  g_autofree gchar *conf = g_build_filename (dir, "lookback.conf", NULL);
  g_autofree gchar *text = g_strdup_printf ("[server]\nlisten=127.0.0.1:0\n"
      "[store]\ndir=%s\n[recorder]\nenabled=false\n", dir);
  g_autoptr (GSocket) sock = manager_socket (path);
  g_autofree gchar *env_socket = g_strconcat ("NOTIFY_SOCKET=", path, NULL);
  const gchar *env[] = { env_socket, "WATCHDOG_USEC=200000", NULL };

  g_assert_true (g_file_set_contents (conf, text, -1, NULL));
  g_autoptr (LbTestDaemon) d = lb_test_daemon_start (conf, env);

  g_autofree gchar *ready = receive (sock);
  g_autofree gchar *expected = g_strdup_printf ("READY=1\nSTATUS=API on %s, ",
      lb_test_daemon_get_uri (d));
  g_assert_true (g_str_has_prefix (ready, expected));
  /* ready means serving */
  g_autoptr (SoupSession) session = soup_session_new ();
  g_autofree gchar *url = g_strconcat (lb_test_daemon_get_uri (d), "/healthz",
      NULL);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
  g_autoptr (GBytes) body = soup_session_send_and_read (session, msg, NULL,
      &error);
  g_assert_no_error (error);
  g_assert_cmpuint (soup_message_get_status (msg), ==, 200);

  for (guint i = 0; i < 3; i++) {
    g_autofree gchar *ping = receive (sock);
    g_assert_cmpstr (ping, ==, "WATCHDOG=1");
  }
  kill (lb_test_daemon_get_pid (d), SIGTERM);
  for (;;) {
    g_autofree gchar *m = receive (sock);
    if (g_str_equal (m, "WATCHDOG=1"))
      continue;
    g_assert_cmpstr (m, ==, "STOPPING=1\nSTATUS=closing the open segments");
    break;
  }
  g_assert_cmpint (lb_test_daemon_stop (d, SIGTERM), ==, 0);
  lb_test_rm_rf (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/notify/protocol", test_protocol);
  g_test_add_func ("/notify/watchdog-period", test_watchdog_period);
  g_test_add_func ("/notify/watchdog-from-loop", test_watchdog_from_loop);
  g_test_add_func ("/notify/daemon", test_daemon);
  return g_test_run ();
}
