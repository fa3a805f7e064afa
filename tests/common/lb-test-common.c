/* lookback — helpers shared by every test suite */
#include "lb-test-common.h"

#include "core/lb-log.h"
#include "core/lb-time.h"
#include "mp4/lb-mp4.h"
#include "quota/lb-quota.h"

#include <execinfo.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <gio/gunixinputstream.h>
#include <gst/app/gstappsink.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- where a test died ---- */

#ifndef __SANITIZE_ADDRESS__
/* A test program that aborts (a failed assertion, a critical under
 * G_DEBUG=fatal-criticals, which raises SIGTRAP or SIGABRT) prints its
 * stack first: the log of a rare failure then says where.  The system
 * libraries have no symbols: their frames are addresses in a library, which
 * `objdump -d` and the library's strings place.  Not in the sanitized build:
 * ASan prints its own stacks, and a leak report must end the log. */
static void
on_fatal_signal (gint sig)
{
  static const gchar head[] = "test program died; its stack:\n";
  gpointer frames[64];
  gint n = backtrace (frames, G_N_ELEMENTS (frames));

  if (write (STDERR_FILENO, head, sizeof head - 1) > 0)
    backtrace_symbols_fd (frames, n, STDERR_FILENO);
  signal (sig, SIG_DFL);
  raise (sig);
}

static void install_fatal_handlers (void) __attribute__((constructor));

static void
install_fatal_handlers (void)
{
  gpointer frame;

  backtrace (&frame, 1);        /* loads libgcc now, not in the handler */
  signal (SIGABRT, on_fatal_signal);
  signal (SIGTRAP, on_fatal_signal);
}
#endif

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

LbSegment *
lb_test_segment_new (const gchar * vehicle, const gchar * input,
    gint64 start_ns, gint64 end_ns, gint64 gop_ns, GArray ** keyframes)
{
  LbSegment *s = g_new0 (LbSegment, 1);
  gint64 off = 1000;

  s->vehicle = g_strdup (vehicle);
  s->input = g_strdup (input);
  s->path = lb_footage_segment_relpath (vehicle, input, start_ns);
  s->start_ns = start_ns;
  s->end_ns = end_ns;
  s->codec = g_strdup ("h264");
  s->caps = g_strdup ("video/x-h264");
  s->width = 320;
  s->height = 240;
  s->fps_n = 30;
  s->fps_d = 1;
  s->init_size = 1000;
  *keyframes = g_array_new (FALSE, TRUE, sizeof (LbKeyframe));
  for (gint64 t = start_ns; t < end_ns; t += gop_ns, off += 5000) {
    LbKeyframe k = { 0, t, off, 5000, off + 16, 900,
      (guint) (gop_ns * 30 / LB_NS_PER_SEC)
    };
    g_array_append_val (*keyframes, k);
  }
  s->bytes = off;
  return s;
}

void
lb_test_add_footage (LbStore * store, const gchar * vehicle,
    const gchar * input, gint64 epoch, const gint64 (*spans)[2], guint n)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) segs =
      g_ptr_array_new_with_free_func ((GDestroyNotify) lb_segment_free);
  g_autoptr (GPtrArray) kfs =
      g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);

  for (guint i = 0; i < n; i++) {
    GArray *k;
    LbSegment *s = lb_test_segment_new (vehicle, input, spans[i][0],
        spans[i][1], LB_NS_PER_SEC, &k);
    s->clock_epoch = epoch;
    g_ptr_array_add (segs, s);
    g_ptr_array_add (kfs, k);
  }
  g_assert_true (lb_store_segment_add (store, segs, kfs, &error));
  g_assert_no_error (error);
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

/* --- lookbackd run by a test ------------------------------------------- */


/* The API's base URI in lookbackd's start line ("… started: API on URI,
 * …"), or NULL in any other line. */
static gchar *
api_uri_of (const gchar * line)
{
  const gchar *at = strstr (line, "API on ");
  return at ? g_strndup (at + 7, strcspn (at + 7, ",")) : NULL;
}

struct _LbTestDaemon
{
  GSubprocess *proc;
  gchar *uri;
  GThread *reader;
  GMutex lock;
  GCond cond;
  GPtrArray *lines;             /* protected by lock */
  gboolean ended;               /* protected by lock: stderr closed */
};

static gpointer
daemon_reader (gpointer data)
{
  LbTestDaemon *d = data;
  g_autoptr (GDataInputStream) in =
      g_data_input_stream_new (g_subprocess_get_stderr_pipe (d->proc));

  for (;;) {
    gchar *line = g_data_input_stream_read_line_utf8 (in, NULL, NULL, NULL);
    g_mutex_lock (&d->lock);
    if (line)
      g_ptr_array_add (d->lines, line);
    else
      d->ended = TRUE;
    g_cond_broadcast (&d->cond);
    g_mutex_unlock (&d->lock);
    if (line == NULL)
      return NULL;
  }
}

LbTestDaemon *
lb_test_daemon_start (const gchar * conf, const gchar * const *env)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocessLauncher) launcher =
      g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_PIPE);
  const gchar *exe = g_getenv ("LOOKBACKD");
  LbTestDaemon *d = g_new0 (LbTestDaemon, 1);

  g_assert_nonnull (exe);
  g_subprocess_launcher_set_child_setup (launcher, lb_test_child_setup, NULL,
      NULL);
  for (guint i = 0; env && env[i]; i++) {
    g_auto (GStrv) kv = g_strsplit (env[i], "=", 2);
    g_subprocess_launcher_setenv (launcher, kv[0], kv[1] ? kv[1] : "", TRUE);
  }
  d->proc = g_subprocess_launcher_spawn (launcher, &error, exe, "--config",
      conf, NULL);
  g_assert_no_error (error);
  g_mutex_init (&d->lock);
  g_cond_init (&d->cond);
  d->lines = g_ptr_array_new_with_free_func (g_free);
  d->reader = g_thread_new ("lb-test-daemon", daemon_reader, d);

  g_autofree gchar *line = lb_test_daemon_wait_line (d, "* started: API on *");
  if (line == NULL) {
    g_autofree gchar *out = lb_test_daemon_get_output (d);
    g_error ("lookbackd exited before listening:\n%s", out);
  }
  d->uri = api_uri_of (line);
  return d;
}

const gchar *
lb_test_daemon_get_uri (LbTestDaemon * d)
{
  return d->uri;
}

GPid
lb_test_daemon_get_pid (LbTestDaemon * d)
{
  const gchar *id = g_subprocess_get_identifier (d->proc);
  return id ? (GPid) atoi (id) : 0;
}

gchar *
lb_test_daemon_wait_line (LbTestDaemon * d, const gchar * pattern)
{
  g_autoptr (GPatternSpec) spec = g_pattern_spec_new (pattern);
  gchar *found = NULL;

  g_mutex_lock (&d->lock);
  for (guint i = 0; found == NULL;) {
    for (; found == NULL && i < d->lines->len; i++)
      if (g_pattern_spec_match_string (spec, d->lines->pdata[i]))
        found = g_strdup (d->lines->pdata[i]);
    if (found || d->ended)
      break;
    g_cond_wait (&d->cond, &d->lock);
  }
  g_mutex_unlock (&d->lock);
  return found;
}

gchar *
lb_test_daemon_get_output (LbTestDaemon * d)
{
  GString *s = g_string_new (NULL);

  g_mutex_lock (&d->lock);
  for (guint i = 0; i < d->lines->len; i++)
    g_string_append_printf (s, "%s\n", (const gchar *) d->lines->pdata[i]);
  g_mutex_unlock (&d->lock);
  return g_string_free (s, FALSE);
}

gint
lb_test_daemon_stop (LbTestDaemon * d, gint sig)
{
  g_autoptr (GError) error = NULL;

  gint status;

  g_subprocess_send_signal (d->proc, sig);
  g_subprocess_wait (d->proc, NULL, &error);
  g_assert_no_error (error);
  if (g_subprocess_get_if_signaled (d->proc))
    status = 128 + g_subprocess_get_term_sig (d->proc);
  else
    status = g_subprocess_get_exit_status (d->proc);
  if (status != 0 && status != 128 + sig) {
    /* what it said before it ended badly (a sanitizer's report) */
    g_mutex_lock (&d->lock);
    while (!d->ended)
      g_cond_wait (&d->cond, &d->lock);
    g_mutex_unlock (&d->lock);
    g_autofree gchar *out = lb_test_daemon_get_output (d);
    g_test_message ("lookbackd ended with %d:\n%s", status, out);
  }
  return status;
}

void
lb_test_daemon_free (LbTestDaemon * d)
{
  if (d == NULL)
    return;
  if (g_subprocess_get_identifier (d->proc)) {
    g_subprocess_force_exit (d->proc);
    g_subprocess_wait (d->proc, NULL, NULL);
  }
  g_thread_join (d->reader);
  g_object_unref (d->proc);
  g_ptr_array_unref (d->lines);
  g_mutex_clear (&d->lock);
  g_cond_clear (&d->cond);
  g_free (d->uri);
  g_free (d);
}

/* --- operator log capture ---------------------------------------------- */

struct _LbTestLogCapture
{
  GMutex lock;
  GString *text;
};

static void
capture_event (LbLogLevel level, const GLogField * fields, gsize n,
    gpointer data)
{
  LbTestLogCapture *c = data;

  g_mutex_lock (&c->lock);
  g_string_append (c->text, lb_log_level_name (level));
  for (gsize i = 0; i < n; i++)
    if (g_str_equal (fields[i].key, "MESSAGE"))
      g_string_append_printf (c->text, " %s", (const gchar *) fields[i].value);
  for (gsize i = 0; i < n; i++)
    if (g_str_equal (fields[i].key, "LB_INPUT"))
      g_string_append_printf (c->text, " input=%s",
          (const gchar *) fields[i].value);
  for (gsize i = 0; i < n; i++)
    if (g_str_equal (fields[i].key, "LB_RETRIEVAL_ID"))
      g_string_append_printf (c->text, " retrieval=%s",
          (const gchar *) fields[i].value);
  g_string_append_c (c->text, '\n');
  g_mutex_unlock (&c->lock);
}

LbTestLogCapture *
lb_test_log_capture_start (void)
{
  LbTestLogCapture *c = g_new0 (LbTestLogCapture, 1);
  g_mutex_init (&c->lock);
  c->text = g_string_new (NULL);
  lb_log_set_capture (capture_event, c);
  return c;
}

gboolean
lb_test_log_capture_has (LbTestLogCapture * c, const gchar * needle)
{
  g_mutex_lock (&c->lock);
  gboolean has = strstr (c->text->str, needle) != NULL;
  g_mutex_unlock (&c->lock);
  return has;
}

gchar *
lb_test_log_capture_text (LbTestLogCapture * c)
{
  g_mutex_lock (&c->lock);
  gchar *text = g_strdup (c->text->str);
  g_mutex_unlock (&c->lock);
  return text;
}

void
lb_test_log_capture_stop (LbTestLogCapture * c)
{
  lb_log_set_capture (NULL, NULL);
  /* in the test's output, for whoever reads a failure */
  g_test_message ("operator log:\n%s", c->text->str);
  g_string_free (c->text, TRUE);
  g_mutex_clear (&c->lock);
  g_free (c);
}

/* --- programs run to their end ----------------------------------------- */

void
lb_test_program_run (LbTestProgram * r, const gchar * cwd,
    const gchar * const *env, const gchar * const *argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocessLauncher) l =
      g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
      G_SUBPROCESS_FLAGS_STDERR_PIPE);

  if (cwd)
    g_subprocess_launcher_set_cwd (l, cwd);
  for (guint i = 0; env && env[i]; i++) {
    g_auto (GStrv) kv = g_strsplit (env[i], "=", 2);
    if (kv[1])
      g_subprocess_launcher_setenv (l, kv[0], kv[1], TRUE);
    else
      g_subprocess_launcher_unsetenv (l, kv[0]);
  }
  g_autoptr (GSubprocess) p = g_subprocess_launcher_spawnv (l, argv, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_communicate_utf8 (p, NULL, NULL, &r->out,
          &r->err, &error));
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (p));
  r->status = g_subprocess_get_exit_status (p);
}

void
lb_test_lookback (LbTestProgram * r, const gchar * conf, const gchar * cwd,
    const gchar * const *env, const gchar * const *args)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();

  g_ptr_array_add (argv, (gpointer) g_getenv ("LOOKBACK"));
  g_ptr_array_add (argv, (gpointer) "--config");
  g_ptr_array_add (argv, (gpointer) conf);
  for (guint i = 0; args[i]; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  lb_test_program_run (r, cwd, env, (const gchar * const *) argv->pdata);
}

guint16
lb_test_dead_port (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) sock = g_socket_new (G_SOCKET_FAMILY_IPV4,
      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_autoptr (GInetAddress) lo =
      g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (lo, 0);

  g_assert_no_error (error);
  g_assert_true (g_socket_bind (sock, any, FALSE, &error));
  g_autoptr (GSocketAddress) bound = g_socket_get_local_address (sock, &error);
  g_assert_no_error (error);
  /* closed here: bound, never listening, and free again */
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

void
lb_test_program_clear (LbTestProgram * r)
{
  g_clear_pointer (&r->out, g_free);
  g_clear_pointer (&r->err, g_free);
}

/* A failed assertion aborts a test: nothing it started outlives it. */
void
lb_test_child_setup (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

LbTestCamera *
lb_test_camera_start (gint port, const gchar * const *args)
{
  g_autofree gchar *exe =
      g_build_filename (g_getenv ("LB_BUILD_ROOT"), "tests", "tools",
      "lb-test-camera", NULL);
  g_autofree gchar *port_s = g_strdup_printf ("%d", port);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;
  gint out_fd = -1;
  LbTestCamera *cam = g_new0 (LbTestCamera, 1);

  g_ptr_array_add (argv, exe);
  g_ptr_array_add (argv, (gpointer) "--port");
  g_ptr_array_add (argv, port_s);
  for (guint i = 0; args && args[i]; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  g_assert_true (g_spawn_async_with_pipes (NULL, (gchar **) argv->pdata, NULL,
          G_SPAWN_DO_NOT_REAP_CHILD, lb_test_child_setup, NULL, &cam->pid,
          NULL, &out_fd, NULL, &error));
  g_assert_no_error (error);
  FILE *f = fdopen (out_fd, "r");
  gchar line[256] = "";
  g_assert_nonnull (fgets (line, sizeof line, f));
  fclose (f);
  cam->url = g_strdup (g_strstrip (line));
  g_assert_true (g_str_has_prefix (cam->url, "rtsp://127.0.0.1:"));
  return cam;
}

gint
lb_test_camera_port (LbTestCamera * cam)
{
  return atoi (strrchr (cam->url, ':') + 1);
}

void
lb_test_camera_kill (LbTestCamera * cam)
{
  kill (cam->pid, SIGKILL);
  waitpid (cam->pid, NULL, 0);
  g_spawn_close_pid (cam->pid);
  g_free (cam->url);
  g_free (cam);
}

/* The rest of a daemon's stderr, after the line that says where it
 * listens, to the test's stderr (what meson shows of a failed test), until
 * the daemon closes it. */
static gpointer
relay_stderr (gpointer data)
{
  g_autoptr (GDataInputStream) in = data;
  gchar *line;

  while ((line = g_data_input_stream_read_line (in, NULL, NULL, NULL))) {
    g_printerr ("lookbackd: %s\n", line);
    g_free (line);
  }
  return NULL;
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
          G_SPAWN_STDOUT_TO_DEV_NULL, lb_test_child_setup, NULL, &pid, NULL,
          NULL, &err_fd, &error));
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
    *uri = api_uri_of (line);
  }
  g_thread_unref (g_thread_new ("daemon-stderr", relay_stderr,
          g_steal_pointer (&in)));
  return pid;
}

GBytes *
lb_test_http_call (SoupSession * session, const gchar * base_uri,
    const gchar * token, const gchar * method, const gchar * path,
    const gchar * body, guint * status)
{
  g_autofree gchar *url = g_strconcat (base_uri, path, NULL);
  g_autoptr (SoupMessage) msg = soup_message_new (method, url);
  g_autoptr (GError) error = NULL;

  if (token) {
    g_autofree gchar *auth = g_strconcat ("Bearer ", token, NULL);
    soup_message_headers_append (soup_message_get_request_headers (msg),
        "Authorization", auth);
  }
  if (body) {
    g_autoptr (GBytes) b = g_bytes_new (body, strlen (body));
    soup_message_set_request_body_from_bytes (msg, "application/json", b);
  }
  GBytes *reply = soup_session_send_and_read (session, msg, NULL, &error);
  /* nothing answered (a daemon starting or killed): status 0, no body */
  *status = reply ? soup_message_get_status (msg) : 0;
  return reply ? reply : g_bytes_new (NULL, 0);
}

JsonNode *
lb_test_api_call (SoupSession * session, const gchar * base_uri,
    const gchar * token, const gchar * method, const gchar * path,
    const gchar * body, guint * status)
{
  g_autoptr (GBytes) reply = lb_test_http_call (session, base_uri, token,
      method, path, body, status);
  gsize len;
  const gchar *data = g_bytes_get_data (reply, &len);
  return json_from_string (len ? data : "null", NULL);
}

GSubprocess *
lb_test_spawn_tied_logged (const gchar * const *argv, const gchar * log,
    GError ** error)
{
  g_autoptr (GSubprocessLauncher) l =
      g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_subprocess_launcher_set_child_setup (l, lb_test_child_setup, NULL, NULL);
  if (log) {
    g_subprocess_launcher_set_stdout_file_path (l, log);
    g_subprocess_launcher_set_stderr_file_path (l, log);
  }
  return g_subprocess_launcher_spawnv (l, argv, error);
}

GSubprocess *
lb_test_spawn_tied (const gchar * const *argv, GError ** error)
{
  return lb_test_spawn_tied_logged (argv, NULL, error);
}

void
lb_test_assert_books (LbStore * store, const gchar * org, gdouble used,
    gdouble reserved)
{
  g_autoptr (GError) error = NULL;
  gdouble u = -1, r = -1;
  g_assert_true (lb_quota_get_usage (store, org, lb_time_now (), &u, &r,
          &error));
  g_assert_no_error (error);
  g_assert_cmpfloat_with_epsilon (u, used, 1e-6);
  g_assert_cmpfloat_with_epsilon (r, reserved, 1e-6);
}

void
lb_test_play_to_eos (GstElement * pipeline)
{
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);
  g_autoptr (GstMessage) msg = gst_bus_timed_pop_filtered (bus, 30 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  g_assert_nonnull (msg);
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    g_autoptr (GError) err = NULL;
    gst_message_parse_error (msg, &err, NULL);
    g_error ("%s: %s", GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)), err->message);
  }
}

/* @n frames of H.264 and their caps in *@caps. */
static GPtrArray *
encoded_frames (guint n, GstCaps ** caps)
{
  g_autofree gchar *desc = g_strdup_printf ("videotestsrc num-buffers=%u ! "
      "video/x-raw,width=64,height=48,framerate=15/1 ! x264enc "
      "key-int-max=15 speed-preset=ultrafast ! h264parse ! "
      "video/x-h264,stream-format=avc,alignment=au ! appsink name=out "
      "sync=false", n);
  g_autoptr (GError) error = NULL;
  g_autoptr (GstElement) p = gst_parse_launch (desc, &error);
  g_assert_no_error (error);
  g_autoptr (GstElement) out = gst_bin_get_by_name (GST_BIN (p), "out");
  GPtrArray *frames = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_buffer_unref);
  gst_element_set_state (p, GST_STATE_PLAYING);
  GstSample *sample;
  while ((sample = gst_app_sink_pull_sample (GST_APP_SINK (out)))) {
    g_ptr_array_add (frames, gst_buffer_ref (gst_sample_get_buffer (sample)));
    gst_caps_replace (caps, gst_sample_get_caps (sample));
    gst_sample_unref (sample);
  }
  gst_element_set_state (p, GST_STATE_NULL);
  g_assert_cmpuint (frames->len, ==, n);
  return frames;
}

void
lb_test_push_caps_changes (GstPad * sink, guint frames, guint changes)
{
  g_autoptr (GstCaps) caps = NULL;
  g_autoptr (GPtrArray) encoded = encoded_frames (frames, &caps);
  g_autoptr (GstPad) src = gst_pad_new ("src", GST_PAD_SRC);
  gst_pad_set_active (src, TRUE);
  g_assert_cmpint (gst_pad_link (src, sink), ==, GST_PAD_LINK_OK);

  GstSegment segment;
  gst_segment_init (&segment, GST_FORMAT_TIME);
  gst_pad_push_event (src, gst_event_new_stream_start ("caps-changes"));
  gst_pad_push_event (src, gst_event_new_caps (caps));
  gst_pad_push_event (src, gst_event_new_segment (&segment));
  for (guint i = 0; i < encoded->len; i++) {
    for (guint j = 0; j < changes; j++) {
      g_autoptr (GstCaps) next = gst_caps_copy (caps);
      gst_caps_set_simple (next, "framerate", GST_TYPE_FRACTION,
          15 + (i * changes + j) % 2, 1, NULL);
      g_assert_true (gst_pad_push_event (src, gst_event_new_caps (next)));
    }
    GstBuffer *buf = gst_buffer_copy (encoded->pdata[i]);
    GST_BUFFER_PTS (buf) = GST_BUFFER_DTS (buf) = i * GST_SECOND / 15;
    GST_BUFFER_DURATION (buf) = GST_SECOND / 15;
    g_assert_cmpint (gst_pad_push (src, buf), ==, GST_FLOW_OK);
  }
  gst_pad_unlink (src, sink);
}

guint
lb_test_mp4_video_samples (const gchar * path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LbMp4Init) init = NULL;
  g_autoptr (LbMp4Fragment) all = NULL;
  gint fd = g_open (path, O_RDONLY, 0);
  g_assert_cmpint (fd, >=, 0);
  gboolean ok = lb_mp4_read_init (fd, &init, &error) &&
      lb_mp4_read_range (fd, init, 0, G_MAXINT64, &all, &error);
  close (fd);
  g_assert_no_error (error);
  g_assert_true (ok);
  return all->samples->len;
}
