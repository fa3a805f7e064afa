/* lookback tests — nginx upload receiver (see lb-test-nginx.h) */
#include "lb-test-nginx.h"

#include "lb-test-common.h"

#include <gio/gio.h>
#include <signal.h>

struct _LbTestNginx
{
  gchar *dir;
  gchar *root;
  gchar *flag;
  gchar *conf;
  gchar *log;
  guint port;
  GSubprocess *proc;
};

LbTestNginx *
lb_test_nginx_new (const gchar * dir, guint port)
{
  LbTestNginx *ngx = g_new0 (LbTestNginx, 1);
  ngx->dir = g_build_filename (dir, "nginx", NULL);
  ngx->root = g_build_filename (ngx->dir, "root", NULL);
  ngx->flag = g_build_filename (ngx->dir, "flaky-ok", NULL);
  ngx->conf = g_build_filename (ngx->dir, "nginx.conf", NULL);
  ngx->log = g_build_filename (ngx->dir, "access.log", NULL);
  ngx->port = port ? port : lb_test_dead_port ();
  g_autofree gchar *tmp = g_build_filename (ngx->dir, "body-tmp", NULL);
  g_assert_cmpint (g_mkdir_with_parents (ngx->root, 0755), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (tmp, 0755), ==, 0);

  const gchar *dav = "dav_methods PUT; create_full_put_path on; "
      "dav_access user:rw group:r all:r;";
  g_autofree gchar *conf = g_strdup_printf ("daemon off;\n"
      "master_process off;\n"
      "user root;\n"
      "pid %s/nginx.pid;\n"
      "error_log %s/error.log info;\n"
      "events { worker_connections 256; }\n"
      "http {\n"
      "  log_format up '$msec $request_method $uri $status $request_length "
      "\"$http_x_checksum_sha256\" \"$content_type\" \"$http_x_lookback_test\"';\n"
      "  access_log %s up;\n"
      "  client_body_temp_path %s;\n"
      "  client_max_body_size 0;\n"
      "  server {\n"
      "    listen 127.0.0.1:%u;\n"
      "    root %s;\n"
      "    location /up/ { %s }\n"
      "    location /flaky/ {\n"
      "      if (!-f %s) { add_header Retry-After 1 always; return 503; }\n"
      "      %s\n"
      "    }\n"
      "    location /forbidden/ { return 403 \"no such bucket\\n\"; }\n"
      "    location /up/veh+1/r-poison/ { return 500 \"internal trouble\\n\"; }\n"
      "  }\n" "}\n",
      ngx->dir, ngx->dir, ngx->log, tmp, ngx->port, ngx->root, dav, ngx->flag,
      dav);
  g_autoptr (GError) error = NULL;
  g_assert_true (g_file_set_contents (ngx->conf, conf, -1, &error));
  return ngx;
}

void
lb_test_nginx_start (LbTestNginx * ngx)
{
  g_autoptr (GError) error = NULL;
  g_assert_null (ngx->proc);
  const gchar *argv[] = { "nginx", "-c", ngx->conf, "-p", ngx->dir, "-e",
    "stderr", NULL
  };
  g_autofree gchar *nginx = g_find_program_in_path ("nginx");
  if (nginx == NULL
      && g_file_test ("/usr/sbin/nginx", G_FILE_TEST_IS_EXECUTABLE))
    nginx = g_strdup ("/usr/sbin/nginx");
  g_assert_nonnull (nginx);
  argv[0] = nginx;
  ngx->proc = lb_test_spawn_tied (argv, &error);
  g_assert_no_error (error);

  /* Ready when it accepts a connection. */
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  for (guint i = 0; i < 500; i++) {
    g_autoptr (GSocketConnection) c =
        g_socket_client_connect_to_host (client, "127.0.0.1", ngx->port, NULL,
        NULL);
    if (c)
      return;
    if (g_subprocess_get_identifier (ngx->proc) == NULL)
      g_error ("nginx exited at start (see %s/error.log)", ngx->dir);
    g_usleep (10000);
  }
  g_error ("nginx did not start on port %u (see %s/error.log)", ngx->port,
      ngx->dir);
}

void
lb_test_nginx_stop (LbTestNginx * ngx)
{
  if (ngx->proc == NULL)
    return;
  g_subprocess_send_signal (ngx->proc, SIGTERM);
  g_subprocess_wait (ngx->proc, NULL, NULL);
  g_clear_object (&ngx->proc);
}

guint
lb_test_nginx_port (LbTestNginx * ngx)
{
  return ngx->port;
}

const gchar *
lb_test_nginx_root (LbTestNginx * ngx)
{
  return ngx->root;
}

const gchar *
lb_test_nginx_flag (LbTestNginx * ngx)
{
  return ngx->flag;
}

GStrv
lb_test_nginx_log_lines (LbTestNginx * ngx)
{
  g_autofree gchar *text = NULL;
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  if (g_file_get_contents (ngx->log, &text, NULL, NULL)) {
    g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
    for (guint i = 0; lines[i]; i++)
      if (*lines[i])
        g_strv_builder_add (b, lines[i]);
  }
  return g_strv_builder_end (b);
}

void
lb_test_nginx_free (LbTestNginx * ngx)
{
  if (ngx == NULL)
    return;
  lb_test_nginx_stop (ngx);
  g_free (ngx->dir);
  g_free (ngx->root);
  g_free (ngx->flag);
  g_free (ngx->conf);
  g_free (ngx->log);
  g_free (ngx);
}
