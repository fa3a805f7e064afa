/* lookback — helpers shared by every test suite */
#include "lb-test-common.h"

#include <gio/gunixinputstream.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>

void
lb_test_rm_rf (const gchar * path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR)
      && !g_file_test (path, G_FILE_TEST_IS_SYMLINK)) {
    g_autoptr (GDir) d = g_dir_open (path, 0, NULL);
    const gchar *name;
    while (d != NULL && (name = g_dir_read_name (d)) != NULL) {
      g_autofree gchar *child = g_build_filename (path, name, NULL);
      lb_test_rm_rf (child);
    }
    g_rmdir (path);
  } else {
    g_unlink (path);
  }
}

LbStore *
lb_test_store_open (const gchar * dir)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *db = g_build_filename (dir, "lookback.db", NULL);
  LbStore *store = lb_store_open (db, LB_STORE_OPEN_DEFAULT, &error);

  g_assert_no_error (error);
  return store;
}

gchar *
lb_test_store_new (gchar ** out_db)
{
  g_autoptr (GError) error = NULL;
  gchar *dir = g_dir_make_tmp ("lb-store-XXXXXX", &error);

  g_assert_no_error (error);
  g_autofree gchar *db = g_build_filename (dir, "lookback.db", NULL);
  lb_store_free (lb_test_store_open (dir));
  if (out_db != NULL)
    *out_db = g_steal_pointer (&db);
  return dir;
}

gchar *
lb_test_shared_media (const gchar * file)
{
  const gchar *folder = g_getenv ("LB_SHARED_MEDIA");
  gchar *path;

  if (folder == NULL)
    g_error ("LB_SHARED_MEDIA is not set: run the tests with meson test, "
        "which points it at ../shared/media");
  path = g_build_filename (folder, file, NULL);
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    g_error ("%s is missing: this test needs the shared recordings "
        "(../shared/media beside the checkout; see README, Tests)", path);
  return path;
}

void
lb_test_store_fixture_setup (LbTestStoreFixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *db = NULL;

  f->dir = g_dir_make_tmp ("lb-store-XXXXXX", &error);
  g_assert_no_error (error);
  db = g_build_filename (f->dir, "lookback.db", NULL);
  f->store = lb_store_open (db, LB_STORE_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
}

void
lb_test_store_fixture_teardown (LbTestStoreFixture * f, gconstpointer data)
{
  g_clear_pointer (&f->store, lb_store_free);
  lb_test_rm_rf (f->dir);
  g_clear_pointer (&f->dir, g_free);
}

/* A failed assertion aborts a test: nothing it started outlives it. */
static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

GPid
lb_test_daemon_spawn (const gchar * const *argv, gchar ** envp, gchar ** uri,
    GString * log)
{
  g_autoptr (GError) error = NULL;
  GPid pid = 0;
  gint err_fd;

  g_assert_nonnull (argv[0]);
  g_assert_true (g_spawn_async_with_pipes (NULL, (gchar **) argv, envp,
          G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH |
          G_SPAWN_STDOUT_TO_DEV_NULL, die_with_parent, NULL, &pid, NULL, NULL,
          &err_fd, &error));
  g_assert_no_error (error);
  g_autoptr (GInputStream) raw = g_unix_input_stream_new (err_fd, TRUE);
  g_autoptr (GDataInputStream) in = g_data_input_stream_new (raw);
  *uri = NULL;
  while (*uri == NULL) {
    g_autofree gchar *line =
        g_data_input_stream_read_line (in, NULL, NULL, &error);
    g_assert_no_error (error);
    g_assert_nonnull (line);    /* the daemon died before listening */
    if (log)
      g_string_append_printf (log, "%s\n", line);
    const gchar *at = strstr (line, "API on ");
    if (at)
      *uri = g_strndup (at + 7, strcspn (at + 7, ","));
  }
  return pid;
}

JsonNode *
lb_test_api_call (SoupSession * session, const gchar * base_uri,
    const gchar * token, const gchar * method, const gchar * path,
    const gchar * body, guint * status)
{
  g_autofree gchar *url = g_strconcat (base_uri, path, NULL);
  g_autoptr (SoupMessage) msg = soup_message_new (method, url);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *auth = g_strconcat ("Bearer ", token, NULL);
  soup_message_headers_append (soup_message_get_request_headers (msg),
      "Authorization", auth);
  if (body) {
    g_autoptr (GBytes) b = g_bytes_new (body, strlen (body));
    soup_message_set_request_body_from_bytes (msg, "application/json", b);
  }
  g_autoptr (GBytes) reply =
      soup_session_send_and_read (session, msg, NULL, &error);
  g_assert_no_error (error);
  *status = soup_message_get_status (msg);
  gsize len;
  const gchar *data = g_bytes_get_data (reply, &len);
  return json_from_string (len ? data : "null", NULL);
}
