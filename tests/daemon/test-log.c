/* Logs for operators, from the real lookbackd, at the default level, with a
 * camera pointed at a dead RTSP port:
 *
 *  - on stderr: one plain line per event (start, camera not recording with
 *    its vehicle and input, stopping, stopped), no colour off a terminal;
 *  - under a real systemd-journald: every event a native journal entry with
 *    PRIORITY, GLIB_DOMAIN and the LB_* fields, read back with
 *    `journalctl -o json`.
 *
 * The program runs in a mount namespace of its own (meson starts it under
 * `unshare --map-root-user --mount`): a tmpfs on /run and /var/log/journal
 * gives it a private journald, as systemd would start one, and lookbackd's
 * stderr is connected to it the way systemd connects a service's. */
#include "lb-test-common.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define VEHICLE "v1"
#define INPUT "dashcamRoadFacing"
#define JOURNAL_DIR "/run/systemd/journal"

/* A store folder and a configuration with one camera at a dead port. */
static gchar *
dead_camera_conf (gchar ** out_dir)
{
  g_autoptr (GError) error = NULL;
  gchar *dir = g_dir_make_tmp ("lb-log-XXXXXX", &error);
  g_assert_no_error (error);
  gchar *conf = g_build_filename (dir, "lookback.conf", NULL);
  g_autofree gchar *text = g_strdup_printf ("[server]\nlisten=127.0.0.1:0\n"
      "[store]\ndir=%s\n"
      "[input " VEHICLE " " INPUT "]\n"
      "source=rtspsrc location=rtsp://127.0.0.1:%u/stream latency=200\n",
      dir, lb_test_dead_port ());
  g_assert_true (g_file_set_contents (conf, text, -1, NULL));
  *out_dir = dir;
  return conf;
}

/* --- stderr -------------------------------------------------------------- */

static void
test_stderr_lines (void)
{
  g_autofree gchar *dir = NULL;
  g_autofree gchar *conf = dead_camera_conf (&dir);
  g_autoptr (LbTestDaemon) d = lb_test_daemon_start (conf, NULL);

  g_autofree gchar *lost = lb_test_daemon_wait_line (d, "*Z WARNING "
      "camera not recording (*); retrying with a backoff of up to 30s "
      "vehicle=" VEHICLE " input=" INPUT);
  g_assert_nonnull (lost);
  g_assert_cmpint (lb_test_daemon_stop (d, SIGTERM), ==, 0);

  g_autofree gchar *out = lb_test_daemon_get_output (d);
  g_auto (GStrv) lines = g_strsplit (out, "\n", -1);
  const gchar *expected[] = {
    "*Z INFO    lookbackd * started: API on http://127.0.0.1:*",
    "*Z WARNING camera not recording (*",
    "*Z INFO    lookbackd stopping: closing the open segments",
    "*Z INFO    lookbackd stopped",
  };
  guint next = 0;
  for (guint i = 0; lines[i] && lines[i][0]; i++) {
    /* one event, one line: each starts with its time; no colour */
    g_assert_true (g_regex_match_simple ("^\\d{4}-\\d\\d-\\d\\dT", lines[i],
            0, 0));
    g_assert_null (strchr (lines[i], '\033'));
    if (next < G_N_ELEMENTS (expected) &&
        g_pattern_match_simple (expected[next], lines[i]))
      next++;
  }
  if (next < G_N_ELEMENTS (expected))
    g_error ("no line like '%s' in order in:\n%s", expected[next], out);
  lb_test_rm_rf (dir);
}

/* --- a private journald -------------------------------------------------- */

typedef struct
{
  GSubprocess *journald;
} Journal;

static void
wait_for_path (const gchar * path, GSubprocess * owner)
{
  while (!g_file_test (path, G_FILE_TEST_EXISTS)) {
    if (g_subprocess_get_identifier (owner) == NULL)
      g_error ("systemd-journald exited before making %s", path);
    g_usleep (20 * 1000);
  }
}

/* A tmpfs on /run (and on /var/log/journal, where the journal would
 * persist), then systemd-journald on it. */
static void
journal_start (Journal * j)
{
  g_autoptr (GError) error = NULL;

  if (mount ("tmpfs", "/run", "tmpfs", 0, "mode=0755") != 0)
    g_error ("mount /run: %s (run under unshare --map-root-user --mount)",
        g_strerror (errno));
  if (g_file_test ("/var/log/journal", G_FILE_TEST_IS_DIR) &&
      mount ("tmpfs", "/var/log/journal", "tmpfs", 0, "mode=0755") != 0)
    g_error ("mount /var/log/journal: %s", g_strerror (errno));
  g_assert_cmpint (g_mkdir_with_parents (JOURNAL_DIR, 0755), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents ("/run/log/journal", 0755), ==, 0);

  j->journald = g_subprocess_new (G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error,
      g_getenv ("LB_JOURNALD"), NULL);
  g_assert_no_error (error);
  wait_for_path (JOURNAL_DIR "/stdout", j->journald);
  wait_for_path (JOURNAL_DIR "/socket", j->journald);
}

static void
journal_stop (Journal * j)
{
  g_subprocess_send_signal (j->journald, SIGTERM);
  g_subprocess_wait (j->journald, NULL, NULL);
  g_clear_object (&j->journald);
}

/* What systemd gives a service with StandardError=journal: a stream to
 * journald's stdout socket that starts with the stream's header, and
 * JOURNAL_STREAM naming it. */
static gint
journal_stream (gchar ** out_env)
{
  struct sockaddr_un sa = {.sun_family = AF_UNIX };
  static const gchar header[] = "lookbackd\n"   /* identifier */
      "\n"                      /* unit */
      "6\n"                     /* priority */
      "0\n" "0\n" "0\n" "0\n";  /* level prefix, syslog, kmsg, console */
  struct stat st;
  gint fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_strlcpy (sa.sun_path, JOURNAL_DIR "/stdout", sizeof sa.sun_path);
  g_assert_cmpint (connect (fd, (struct sockaddr *) &sa, sizeof sa), ==, 0);
  g_assert_cmpint (shutdown (fd, SHUT_RD), ==, 0);
  g_assert_cmpint (write (fd, header, sizeof header - 1), ==,
      sizeof header - 1);
  g_assert_cmpint (fstat (fd, &st), ==, 0);
  *out_env = g_strdup_printf ("%" G_GUINT64_FORMAT ":%" G_GUINT64_FORMAT,
      (guint64) st.st_dev, (guint64) st.st_ino);
  return fd;
}

/* The journal entries of process @pid, as JSON objects. */
static GPtrArray *
journal_entries (GPid pid)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *match = g_strdup_printf ("_PID=%d", (gint) pid);
  g_autofree gchar *out = NULL;
  g_autoptr (GSubprocess) p = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE,
      &error, "journalctl", "--no-pager", "-o", "json", match, NULL);
  GPtrArray *entries =
      g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);

  g_assert_no_error (error);
  g_assert_true (g_subprocess_communicate_utf8 (p, NULL, NULL, &out, NULL,
          &error));
  g_assert_no_error (error);
  g_auto (GStrv) lines = g_strsplit (out ? out : "", "\n", -1);
  for (guint i = 0; lines[i]; i++) {
    if (lines[i][0] == '\0')
      continue;
    JsonNode *node = json_from_string (lines[i], &error);
    g_assert_no_error (error);
    g_ptr_array_add (entries, node);
  }
  return entries;
}

static const gchar *
field (JsonNode * entry, const gchar * name)
{
  return json_object_get_string_member_with_default (json_node_get_object
      (entry), name, NULL);
}

/* The entry of @pid whose MESSAGE matches @pattern, waiting for it. */
static JsonNode *
journal_wait (GPid pid, const gchar * pattern)
{
  for (;;) {
    g_autoptr (GPtrArray) entries = journal_entries (pid);
    for (guint i = 0; i < entries->len; i++) {
      const gchar *msg = field (entries->pdata[i], "MESSAGE");
      if (msg && g_pattern_match_simple (pattern, msg))
        return json_node_ref (entries->pdata[i]);
    }
    g_usleep (100 * 1000);
  }
}

static void
test_journal_fields (void)
{
  Journal j = { 0 };
  g_autoptr (GError) error = NULL;
  g_autofree gchar *dir = NULL;
  g_autofree gchar *conf = dead_camera_conf (&dir);
  g_autofree gchar *stream_id = NULL;

  journal_start (&j);
  gint fd = journal_stream (&stream_id);
  g_autoptr (GSubprocessLauncher) launcher =
      g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_subprocess_launcher_setenv (launcher, "JOURNAL_STREAM", stream_id, TRUE);
  g_subprocess_launcher_take_stderr_fd (launcher, fd);
  g_autoptr (GSubprocess) daemon = g_subprocess_launcher_spawn (launcher,
      &error, g_getenv ("LOOKBACKD"), "--config", conf, NULL);
  g_assert_no_error (error);
  GPid pid = atoi (g_subprocess_get_identifier (daemon));

  g_autoptr (JsonNode) started = journal_wait (pid, "lookbackd * started: *");
  g_assert_cmpstr (field (started, "PRIORITY"), ==, "6");
  g_assert_cmpstr (field (started, "GLIB_DOMAIN"), ==, "lookback");
  g_assert_null (field (started, "LB_VEHICLE"));

  g_autoptr (JsonNode) lost = journal_wait (pid, "camera not recording (*");
  g_assert_cmpstr (field (lost, "PRIORITY"), ==, "4");
  g_assert_cmpstr (field (lost, "LB_VEHICLE"), ==, VEHICLE);
  g_assert_cmpstr (field (lost, "LB_INPUT"), ==, INPUT);
  g_assert_null (field (lost, "LB_RETRIEVAL_ID"));

  g_subprocess_send_signal (daemon, SIGTERM);
  g_assert_true (g_subprocess_wait_check (daemon, NULL, &error));
  g_assert_no_error (error);
  g_autoptr (JsonNode) stopped = journal_wait (pid, "lookbackd stopped");
  g_assert_cmpstr (field (stopped, "PRIORITY"), ==, "6");

  /* Every event went through the native protocol, none as a text line. */
  g_autoptr (GPtrArray) all = journal_entries (pid);
  for (guint i = 0; i < all->len; i++) {
    g_assert_cmpstr (field (all->pdata[i], "_TRANSPORT"), ==, "journal");
    g_assert_nonnull (field (all->pdata[i], "PRIORITY"));
  }
  journal_stop (&j);
  lb_test_rm_rf (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/log/stderr-lines", test_stderr_lines);
  g_test_add_func ("/log/journal-fields", test_journal_fields);
  return g_test_run ();
}
