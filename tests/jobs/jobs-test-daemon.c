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
  d->log = g_build_filename (d->dir, "lookbackd.log", NULL);
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
  g_autofree gchar *log = NULL;
  if (g_file_get_contents (d->log, &log, NULL, NULL))
    g_test_message ("lookbackd log:\n%s", log);
  g_clear_object (&d->session);
  if (!g_getenv ("LB_TEST_KEEP"))
    lb_test_rm_rf (d->dir);
  g_free (d->dir);
  g_free (d->conf);
  g_free (d->log);
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
  g_autoptr (GError) error = NULL;
  const gchar *exe = g_getenv ("LOOKBACKD");
  g_assert_nonnull (exe);
  g_autofree gchar *cmd = g_strdup_printf ("exec '%s' --config '%s' >>'%s' "
      "2>&1", exe, d->conf, d->log);
  const gchar *argv[] = { "/bin/sh", "-c", cmd, NULL };
  g_autofree gchar *before = NULL;
  gsize from = 0;
  g_file_get_contents (d->log, &before, &from, NULL);
  g_assert_true (g_spawn_async (NULL, (gchar **) argv, NULL,
          G_SPAWN_DO_NOT_REAP_CHILD, lb_test_child_setup, NULL, &d->pid,
          &error));
  g_assert_no_error (error);
  /* the address it logs once it listens (after what earlier runs logged) */
  g_clear_pointer (&d->uri, g_free);
  for (guint i = 0; i < 300 && d->uri == NULL; i++) {
    g_autofree gchar *text = NULL;
    gsize len = 0;
    g_file_get_contents (d->log, &text, &len, NULL);
    const gchar *at = text && len > from ? strstr (text + from, "API on ")
        : NULL;
    if (at)
      d->uri = g_strndup (at + 7, strcspn (at + 7, ", \n"));
    else if (waitpid (d->pid, NULL, WNOHANG) == d->pid)
      g_error ("lookbackd exited before listening:\n%s", text);
    else
      g_usleep (100 * 1000);
  }
  g_assert_nonnull (d->uri);
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

JsonNode *
jt_daemon_request (JtDaemon * d, const gchar * method, const gchar * path,
    const gchar * body, guint * status)
{
  g_autofree gchar *url = g_strconcat (d->uri, path, NULL);
  g_autoptr (SoupMessage) msg = soup_message_new (method, url);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *auth = g_strconcat ("Bearer ", d->token, NULL);
  soup_message_headers_append (soup_message_get_request_headers (msg),
      "Authorization", auth);
  if (body) {
    g_autoptr (GBytes) b = g_bytes_new (body, strlen (body));
    soup_message_set_request_body_from_bytes (msg, "application/json", b);
  }
  g_autoptr (GBytes) reply =
      soup_session_send_and_read (d->session, msg, NULL, &error);
  g_assert_no_error (error);
  *status = soup_message_get_status (msg);
  gsize len;
  const gchar *data = g_bytes_get_data (reply, &len);
  return json_from_string (len ? data : "null", NULL);
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
