/* lookbackd with its wall clock an hour ahead (Debian's faketime, the
 * monotonic clock left alone) and not known to be synchronised, then
 * restarted with the right time: the footage recorded under the wrong clock
 * is marked (coverage, the retrieval's manifest); after the restart it is
 * re-timed, the index has no overlap and no misordering, and a retrieval
 * for the moment it was really recorded finds it, unmarked. */
#include "rec-util.h"

#include "core/lb-sign.h"
#include "core/lb-time.h"
#include "recorder/lb-reconcile.h"
#include "store/lb-store-api.h"
#include "store/lb-store-footage.h"
#include "lb-test-common.h"

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#define VEHICLE "veh-f"
#define INPUT "dashcamRoadFacing"
#define HOUR (3600 * LB_NS_PER_SEC)
#define S(x) ((gint64) ((x) * LB_NS_PER_SEC))
/* the last frame ends a frame (15 fps) after it was captured */
#define FRAME (LB_NS_PER_SEC / 15 + LB_NS_PER_MS)

typedef struct
{
  gchar *dir;
  gchar *conf;
  gchar *synced;                /* [recorder] time-sync-file */
  gchar *token;
  GPid pid;                     /* faketime, or lookbackd */
  GPid daemon;                  /* lookbackd itself: what is signalled */
  gchar *uri;
  GString *log;                 /* its output up to "API on" */
  SoupSession *session;
} Fixture;

static void
set_up (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  f->dir = g_dir_make_tmp ("lb-faketime-XXXXXX", &error);
  g_assert_no_error (error);
  f->conf = g_build_filename (f->dir, "lookback.conf", NULL);
  f->synced = g_build_filename (f->dir, "synchronized", NULL);
  g_autofree gchar *text = g_strdup_printf ("[server]\nlisten=127.0.0.1:0\n"
      "[store]\ndir=%s\n"
      "[recorder]\nsegment-duration=60s\nfragment-duration=1s\n"
      "time-source=file\ntime-sync-file=%s\n"
      "[jobs]\nworkers=1\n[api]\nreads-per-second=10000\n"
      "[input " VEHICLE " " INPUT "]\n"
      "source=videotestsrc is-live=true pattern=ball ! "
      "video/x-raw,width=160,height=120,framerate=15/1\n", f->dir, f->synced);
  g_assert_true (g_file_set_contents (f->conf, text, -1, NULL));
  f->session = soup_session_new_with_options ("timeout", 30, NULL);
  f->log = g_string_new (NULL);
  g_autoptr (LbStore) store = lb_test_store_open (f->dir);
  f->token = lb_sign_new_token (&error);
  g_autofree gchar *hash = lb_sign_hash_token (f->token);
  g_assert_true (lb_store_api_token_add (store, hash, "acme",
          "media:read,media:write", lb_time_now (), NULL, &error));
  g_assert_no_error (error);
}

/* Starts lookbackd (under faketime when @shift is set: the wrapper runs a
 * shell that writes its pid and becomes lookbackd, so that the daemon
 * itself can be signalled) and reads its output up to the API's address. */
static void
start_daemon (Fixture * f, const gchar * shift)
{
  g_autofree gchar *pidfile = g_build_filename (f->dir, "pid", NULL);
  /* setpriv: lookbackd dies with its parent (faketime), as faketime or a
   * plain lookbackd does with this test */
  g_autofree gchar *script = g_strdup_printf ("echo $$ > '%s'; exec setpriv "
      "--pdeathsig KILL \"$0\" --config \"$1\"", pidfile);
  const gchar *wrapped[] = { "faketime", "-f", shift, "/bin/sh", "-c", script,
    g_getenv ("LOOKBACKD"), f->conf, NULL
  };
  const gchar *plain[] = { g_getenv ("LOOKBACKD"), "--config", f->conf, NULL };
  g_auto (GStrv) env = g_environ_setenv (g_get_environ (),
      "FAKETIME_DONT_FAKE_MONOTONIC", "1", TRUE);
  /* a sanitized lookbackd: libfaketime is preloaded before ASan's runtime */
  const gchar *asan = g_environ_getenv (env, "ASAN_OPTIONS");
  g_autofree gchar *asan_options = g_strconcat (asan ? asan : "",
      asan ? ":" : "", "verify_asan_link_order=0", NULL);
  env = g_environ_setenv (env, "ASAN_OPTIONS", asan_options, TRUE);

  g_clear_pointer (&f->uri, g_free);
  g_string_truncate (f->log, 0);
  f->pid = lb_test_daemon_spawn (shift ? wrapped : plain, env, &f->uri, f->log);
  f->daemon = f->pid;
  g_autofree gchar *pid = NULL;
  if (shift) {
    g_assert_true (g_file_get_contents (pidfile, &pid, NULL, NULL));
    f->daemon = (GPid) g_ascii_strtoll (pid, NULL, 10);
  }
  g_test_message ("lookbackd (pid %d%s) on %s:\n%s", f->daemon,
      shift ? ", under faketime" : "", f->uri, f->log->str);
}

/* SIGTERM to lookbackd; the exit status of the process started. */
static gint
stop_daemon (Fixture * f)
{
  gint status = 0;
  kill (f->daemon, SIGTERM);
  g_assert_cmpint (waitpid (f->pid, &status, 0), ==, f->pid);
  g_spawn_close_pid (f->pid);
  f->pid = f->daemon = 0;
  return status;
}

static void
tear_down (Fixture * f, gconstpointer data)
{
  if (f->pid) {
    kill (f->daemon, SIGKILL);
    waitpid (f->pid, NULL, 0);
  }
  g_clear_object (&f->session);
  lb_test_rm_rf (f->dir);
  g_free (f->dir);
  g_free (f->conf);
  g_free (f->synced);
  g_free (f->token);
  g_free (f->uri);
  g_string_free (f->log, TRUE);
}

static JsonNode *
request (Fixture * f, const gchar * method, const gchar * path,
    const gchar * body)
{
  guint status = 0;
  JsonNode *reply = lb_test_api_call (f->session, f->uri, f->token, method,
      path, body, &status);
  g_assert_cmpuint (status, ==, 200);
  return reply;
}

/* A still at @at_ns, available: its media object (GET's first). */
static JsonObject *
retrieve_still (Fixture * f, gint64 at_ns, JsonNode ** keep)
{
  g_autofree gchar *at = lb_time_format_rfc3339 (at_ns);
  g_autofree gchar *body = g_strdup_printf ("{\"vehicleId\": \"" VEHICLE "\", "
      "\"mediaType\": \"image\", \"startTime\": \"%s\", \"endTime\": \"%s\", "
      "\"inputs\": [\"" INPUT "\"]}", at, at);
  g_autoptr (JsonNode) created = request (f, "POST",
      "/cameras/media/retrieval", body);
  const gchar *id = json_object_get_string_member (json_object_get_object_member
      (json_node_get_object (created), "data"), "retrievalId");
  g_autofree gchar *path =
      g_strdup_printf ("/cameras/media/retrieval?retrievalId=%s", id);
  for (guint i = 0; i < 300; i++) {
    *keep = request (f, "GET", path, NULL);
    JsonObject *m = json_array_get_object_element (json_object_get_array_member
        (json_object_get_object_member (json_node_get_object (*keep), "data"),
            "media"), 0);
    const gchar *status = json_object_get_string_member (m, "status");
    if (!g_str_equal (status, "pending"))
      return m;
    g_clear_pointer (keep, json_node_unref);
    g_usleep (100 * 1000);
  }
  g_error ("the still of %s stayed pending", at);
}

/* `lookback coverage` for the vehicle. */
static gchar *
coverage_text (Fixture * f)
{
  g_autoptr (GError) error = NULL;
  const gchar *argv[] = { g_getenv ("LOOKBACK"), "--config", f->conf,
    "coverage", "--vehicle", VEHICLE, NULL
  };
  gchar *out = NULL;
  gint status = 0;
  g_assert_true (g_spawn_sync (NULL, (gchar **) argv, NULL, G_SPAWN_DEFAULT,
          NULL, NULL, &out, NULL, &status, &error));
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_test_message ("%s", out);
  return out;
}

/* Waits until the input's indexed footage reaches @end_ns. */
static void
wait_footage (LbStore * store, gint64 end_ns)
{
  for (guint i = 0; i < 300; i++) {
    gint64 last = LB_TIME_NONE;
    g_assert_true (lb_store_footage_extent (store, VEHICLE, INPUT, NULL,
            &last, NULL));
    if (last != LB_TIME_NONE && last >= end_ns)
      return;
    g_usleep (100 * 1000);
  }
  g_error ("no footage recorded up to %" G_GINT64_FORMAT, end_ns);
}

static void
test_wrong_clock_then_right (Fixture * f, gconstpointer data)
{
  g_autoptr (LbStore) store = lb_test_store_open (f->dir);
  gint64 first = LB_TIME_NONE, last = LB_TIME_NONE;

  /* an hour ahead, not synchronised: the footage lands an hour ahead,
   * marked in coverage and in a retrieval's manifest */
  gint64 t0 = lb_time_now ();
  start_daemon (f, "+1h");
  g_assert_nonnull (strstr (f->log->str, "not known to be synchronised"));
  wait_footage (store, t0 + HOUR + S (5));
  g_assert_true (lb_store_footage_extent (store, VEHICLE, INPUT, &first, &last,
          NULL));
  g_assert_cmpint (first, >=, t0 + HOUR);
  g_assert_cmpint (first, <, t0 + HOUR + S (5));
  gint64 at = first + S (2);
  g_autoptr (JsonNode) keep1 = NULL;
  JsonObject *m = retrieve_still (f, at, &keep1);
  g_assert_cmpstr (json_object_get_string_member (m, "status"), ==,
      "available");
  JsonObject *cov = json_object_get_object_member (m, "coverage");
  JsonArray *marks = json_object_get_array_member (cov, "unsynchronized");
  g_assert_cmpuint (json_array_get_length (marks), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element
          (marks, 0), "startTime"), ==, json_object_get_string_member (cov,
          "deliveredStartTime"));
  g_autofree gchar *cov1 = coverage_text (f);
  g_assert_nonnull (strstr (cov1, "unsynchronised"));
  g_assert_cmpint (stop_daemon (f), ==, 0);
  gint64 t1 = lb_time_now ();
  g_assert_cmpint (rec_unsynced_ns (store, VEHICLE, INPUT, t0 + HOUR,
          t1 + HOUR), >, S (4));

  /* the right time, synchronised: re-timed at start, then recording on */
  g_assert_true (g_file_set_contents (f->synced, "", 0, NULL));
  start_daemon (f, NULL);
  g_assert_nonnull (strstr (f->log->str, "footage re-timed"));
  wait_footage (store, lb_time_now () + S (2));
  g_autoptr (JsonNode) keep2 = NULL;
  m = retrieve_still (f, at - HOUR, &keep2);
  g_assert_cmpstr (json_object_get_string_member (m, "status"), ==,
      "available");
  cov = json_object_get_object_member (m, "coverage");
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (cov,
              "unsynchronized")), ==, 0);
  g_assert_cmpfloat (ABS (json_object_get_double_member (cov, "offsetMs")),
      <=, 100.0);
  g_assert_cmpint (stop_daemon (f), ==, 0);
  gint64 t2 = lb_time_now ();

  /* in order, without overlap, nothing left an hour ahead or marked */
  g_autoptr (GPtrArray) segs = rec_sane_segments (store, VEHICLE, INPUT);
  g_assert_cmpuint (segs->len, ==, 2);
  g_assert_cmpint (((LbSegment *) segs->pdata[0])->start_ns, >=, t0);
  g_assert_cmpint (((LbSegment *) segs->pdata[0])->end_ns, <=, t1 + FRAME);
  g_assert_cmpint (((LbSegment *) segs->pdata[1])->end_ns, <=, t2 + FRAME);
  g_assert_cmpint (rec_unsynced_ns (store, VEHICLE, INPUT, t0 - HOUR,
          t2 + 2 * HOUR), ==, 0);
  g_autofree gchar *cov2 = coverage_text (f);
  g_assert_null (strstr (cov2, "unsynced"));

  /* the next start: the re-timed file keeps its name, an hour after the
   * newest row's start, and the index knows it */
  g_autoptr (GString) report = g_string_new (NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (lb_footage_reconcile (store, report, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (report->str, ==, "");
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/faketime/wrong-clock-then-right", Fixture, NULL, set_up,
      test_wrong_clock_then_right, tear_down);
  return g_test_run ();
}
