/* lookback tests (jobs): a real lookbackd and its API */
#include "jobs-test-daemon.h"

#include "core/lb-sign.h"
#include "core/lb-time.h"
#include "store/lb-store-api.h"
#include "lb-test-common.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>

JtDaemon *
jt_daemon_new (const gchar * conf)
{
  g_autoptr (GError) error = NULL;
  JtDaemon *d = g_new0 (JtDaemon, 1);
  d->dir = g_dir_make_tmp ("lb-daemon-XXXXXX", &error);
  g_assert_no_error (error);
  d->conf = g_build_filename (d->dir, "lookback.conf", NULL);
  g_autofree gchar *text = g_strdup_printf ("[server]\nlisten=127.0.0.1:0\n"
      "[store]\ndir=%s\n%s", d->dir, conf);
  g_assert_true (g_file_set_contents (d->conf, text, -1, NULL));
  d->session = soup_session_new_with_options ("timeout", 60, NULL);

  g_autoptr (LbStore) store = jt_daemon_open_store (d);
  d->token = lb_sign_new_token (&error);
  g_assert_no_error (error);
  g_autofree gchar *hash = lb_sign_hash_token (d->token);
  g_assert_true (lb_store_api_token_add (store, hash, "acme",
          "media:read,media:write", lb_time_now (), NULL, &error));
  g_assert_no_error (error);
  return d;
}

void
jt_daemon_free (JtDaemon * d)
{
  if (d == NULL)
    return;
  if (d->pid)
    jt_daemon_stop (d, SIGKILL);
  g_clear_object (&d->session);
  if (!g_getenv ("LB_TEST_KEEP"))
    lb_test_rm_rf (d->dir);
  g_free (d->dir);
  g_free (d->conf);
  g_free (d->token);
  g_free (d->uri);
  g_free (d);
}

LbStore *
jt_daemon_open_store (JtDaemon * d)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *db = g_build_filename (d->dir, "lookback.db", NULL);
  LbStore *store = lb_store_open (db, LB_STORE_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
  return store;
}

void
jt_daemon_start (JtDaemon * d)
{
  const gchar *argv[] = { g_getenv ("LOOKBACKD"), "--config", d->conf, NULL };
  g_autoptr (GString) log = g_string_new (NULL);
  g_clear_pointer (&d->uri, g_free);
  d->pid = lb_test_daemon_spawn (argv, NULL, &d->uri, log);
  g_test_message ("lookbackd:\n%s", log->str);
}

gint
jt_daemon_stop (JtDaemon * d, gint sig)
{
  gint status = 0;
  kill (d->pid, sig);
  g_assert_cmpint (waitpid (d->pid, &status, 0), ==, d->pid);
  g_spawn_close_pid (d->pid);
  d->pid = 0;
  return status;
}

void
jt_daemon_finish (JtDaemon * d)
{
  if (d == NULL)
    return;
  gint status = jt_daemon_stop (d, SIGTERM);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
  jt_daemon_free (d);
}

JsonNode *
jt_daemon_request (JtDaemon * d, const gchar * method, const gchar * path,
    const gchar * body, guint * status)
{
  return lb_test_api_call (d->session, d->uri, d->token, method, path, body,
      status);
}

static JsonObject *
data_of (JsonNode * node)
{
  return json_object_get_object_member (json_node_get_object (node), "data");
}

JsonObject *
jt_daemon_retrieve (JtDaemon * d, const gchar * vehicle, const gchar * input,
    const gchar * media_type, gint64 start_ns, gint64 end_ns, gdouble max_s)
{
  g_autofree gchar *s = lb_time_format_rfc3339 (start_ns);
  g_autofree gchar *e = lb_time_format_rfc3339 (end_ns);
  g_autofree gchar *body = g_strdup_printf ("{\"vehicleId\": \"%s\", "
      "\"mediaType\": \"%s\", \"startTime\": \"%s\", \"endTime\": \"%s\", "
      "\"inputs\": [\"%s\"]}", vehicle, media_type, s, e, input);
  guint status = 0;
  g_autoptr (JsonNode) created = jt_daemon_request (d, "POST",
      "/cameras/media/retrieval", body, &status);
  g_assert_cmpuint (status, ==, 200);
  g_autofree gchar *path =
      g_strdup_printf ("/cameras/media/retrieval?retrievalId=%s",
      json_object_get_string_member (data_of (created), "retrievalId"));
  gint64 until = g_get_monotonic_time () + max_s * G_TIME_SPAN_SECOND;
  for (;;) {
    g_autoptr (JsonNode) got = jt_daemon_request (d, "GET", path, NULL,
        &status);
    g_assert_cmpuint (status, ==, 200);
    JsonObject *m = json_array_get_object_element (json_object_get_array_member
        (data_of (got), "media"), 0);
    if (g_strcmp0 (json_object_get_string_member (m, "status"), "pending")
        || g_get_monotonic_time () > until)
      return json_object_ref (m);
    g_usleep (50000);
  }
}

void
jt_daemon_download (JtDaemon * d, JsonObject * media, const gchar * path)
{
  const gchar *url =
      json_object_get_string_member (json_object_get_object_member (media,
          "urlInfo"), "url");
  g_assert_nonnull (url);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) body =
      soup_session_send_and_read (d->session, msg, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (soup_message_get_status (msg), ==, 200);
  gsize len;
  const gchar *data = g_bytes_get_data (body, &len);
  g_assert_true (g_file_set_contents (path, data, len, NULL));
}
