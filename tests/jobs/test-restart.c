/* Jobs end to end with the real daemon: kill -9 in the middle of a
 * transcode, restart, and the retrieval ends once, charged once, with
 * nothing half-written left behind. */
#include "core/lb-sign.h"
#include "core/lb-time.h"
#include "quota/lb-quota.h"
#include "recorder/lb-indexer.h"
#include "store/lb-store-api.h"
#include "store/lb-store-footage.h"
#include "jobs-test-media.h"
#include "lb-test-common.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#define VEHICLE "1234"
#define INPUT "dashcamRoadFacing"

typedef struct
{
  gchar *dir;
  gchar *conf;
  gchar *token;
  gint64 t0;                    /* footage start */
  GPid pid;
  gchar *uri;
  SoupSession *session;
} Fixture;

/* Starts lookbackd and reads the API's address from its first line. */
static void
start_daemon (Fixture * f)
{
  const gchar *argv[] = { g_getenv ("LOOKBACKD"), "--config", f->conf, NULL };
  g_clear_pointer (&f->uri, g_free);
  f->pid = lb_test_daemon_spawn (argv, NULL, &f->uri, NULL);
}

static gint
stop_daemon (Fixture * f, gint sig)
{
  gint status = 0;
  kill (f->pid, sig);
  g_assert_cmpint (waitpid (f->pid, &status, 0), ==, f->pid);
  g_spawn_close_pid (f->pid);
  f->pid = 0;
  return status;
}

static JsonNode *
request (Fixture * f, const gchar * method, const gchar * path,
    const gchar * body, guint * status)
{
  return lb_test_api_call (f->session, f->uri, f->token, method, path, body,
      status);
}

static void
set_up (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  f->dir = g_dir_make_tmp ("lb-restart-XXXXXX", &error);
  g_assert_no_error (error);
  f->conf = g_build_filename (f->dir, "lookback.conf", NULL);
  g_autofree gchar *text = g_strdup_printf ("[server]\nlisten=127.0.0.1:0\n"
      "[store]\ndir=%s\n[recorder]\nenabled=false\n[jobs]\nworkers=1\n"
      "[api]\nreads-per-second=10000\n"
      "[input " VEHICLE " " INPUT "]\nsource=videotestsrc\n", f->dir);
  g_assert_true (g_file_set_contents (f->conf, text, -1, NULL));
  f->session = soup_session_new_with_options ("timeout", 30, NULL);

  /* footage 30 s of 640x480 until a minute ago, a token */
  f->t0 = (lb_time_now () / LB_NS_PER_SEC - 90) * LB_NS_PER_SEC;
  g_autoptr (LbStore) store = lb_test_store_open (f->dir);
  f->token = lb_sign_new_token (&error);
  g_autofree gchar *hash = lb_sign_hash_token (f->token);
  g_assert_true (lb_store_api_token_add (store, hash, "acme",
          "media:read,media:write", lb_time_now (), NULL, &error));
  g_autofree gchar *path =
      lb_footage_segment_path (f->dir, VEHICLE, INPUT, f->t0);
  g_autofree gchar *seg_dir = g_path_get_dirname (path);
  g_mkdir_with_parents (seg_dir, 0755);
  g_autofree gchar *d =
      g_strdup_printf ("videotestsrc pattern=smpte horizontal-speed=3 "
      "num-buffers=900 ! video/x-raw,width=640,height=480,framerate=30/1 "
      "! lbclockstamp source=pts offset=%" G_GINT64_FORMAT " ! videoconvert "
      "! video/x-raw,format=I420 ! x264enc speed-preset=ultrafast bframes=0 key-int-max=30 "
      "option-string=scenecut=0 ! h264parse ! mp4mux fragment-duration=1000 "
      "! filesink location=\"%s\"", f->t0, path);
  jt_run_launch (d);
  g_assert_true (lb_footage_index_file (store, VEHICLE, INPUT, path, f->t0,
          NULL, &error));
  g_assert_no_error (error);
}

static void
tear_down (Fixture * f, gconstpointer data)
{
  if (f->pid)
    stop_daemon (f, SIGKILL);
  g_clear_object (&f->session);
  lb_test_rm_rf (f->dir);
  g_free (f->dir);
  g_free (f->conf);
  g_free (f->token);
  g_free (f->uri);
}

static guint
count_outputs (Fixture * f, const gchar * suffix)
{
  g_autofree gchar *outputs = g_build_filename (f->dir, "outputs", NULL);
  g_autoptr (GDir) d = g_dir_open (outputs, 0, NULL);
  const gchar *name;
  guint n = 0;
  while (d && (name = g_dir_read_name (d)))
    if (suffix == NULL || g_str_has_suffix (name, suffix))
      n++;
  return n;
}

static void
test_kill_mid_transcode (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  guint status;
  start_daemon (f);

  g_autofree gchar *s = lb_time_format_rfc3339 (f->t0);
  g_autofree gchar *e = lb_time_format_rfc3339 (f->t0 + 30 * LB_NS_PER_SEC);
  g_autofree gchar *body = g_strdup_printf ("{\"vehicleId\": \"" VEHICLE "\", "
      "\"mediaType\": \"videoLowRes\", \"startTime\": \"%s\", \"endTime\": \"%s\", "
      "\"inputs\": [\"" INPUT "\"]}", s, e);
  g_autoptr (JsonNode) created =
      request (f, "POST", "/cameras/media/retrieval", body, &status);
  g_assert_cmpuint (status, ==, 200);
  g_autofree gchar *id =
      g_strdup (json_object_get_string_member (json_object_get_object_member
          (json_node_get_object (created), "data"), "retrievalId"));

  /* wait for the worker to be transcoding, then kill -9 */
  g_autoptr (LbStore) store = lb_test_store_open (f->dir);
  gint64 until = g_get_monotonic_time () + 20 * G_TIME_SPAN_SECOND;
  gboolean running = FALSE;
  while (!running && g_get_monotonic_time () < until) {
    g_autoptr (GPtrArray) rows = NULL;
    g_assert_true (lb_store_api_get_retrieval (store, id, "acme", &rows,
            &error));
    LbRetrieval *r = rows->pdata[0];
    g_assert_cmpint (r->status, !=, LB_RETRIEVAL_AVAILABLE);    /* too fast to test */
    running = r->status == LB_RETRIEVAL_RUNNING;
    g_usleep (5000);
  }
  g_assert_true (running);
  g_usleep (150000);
  gint st = stop_daemon (f, SIGKILL);
  g_assert_true (WIFSIGNALED (st));
  {
    g_autoptr (GPtrArray) rows = NULL;
    g_assert_true (lb_store_api_get_retrieval (store, id, "acme", &rows,
            &error));
    LbRetrieval *r = rows->pdata[0];
    g_assert_cmpint (r->status, ==, LB_RETRIEVAL_RUNNING);
  }
  g_assert_cmpuint (count_outputs (f, ".mp4"), ==, 0);

  /* restart: the row runs again and ends once */
  start_daemon (f);
  g_autofree gchar *path =
      g_strdup_printf ("/cameras/media/retrieval?retrievalId=%s", id);
  const gchar *st_text = NULL;
  g_autoptr (JsonNode) got = NULL;
  until = g_get_monotonic_time () + 60 * G_TIME_SPAN_SECOND;
  while (g_get_monotonic_time () < until) {
    g_clear_pointer (&got, json_node_unref);
    got = request (f, "GET", path, NULL, &status);
    g_assert_cmpuint (status, ==, 200);
    JsonObject *m =
        json_array_get_object_element (json_object_get_array_member
        (json_object_get_object_member (json_node_get_object (got), "data"),
            "media"), 0);
    st_text = json_object_get_string_member (m, "status");
    if (g_strcmp0 (st_text, "pending") != 0)
      break;
    g_usleep (50000);
  }
  g_assert_cmpstr (st_text, ==, "available");
  g_assert_cmpint (WEXITSTATUS (stop_daemon (f, SIGTERM)), ==, 0);

  g_autoptr (GPtrArray) rows = NULL;
  g_assert_true (lb_store_api_get_retrieval (store, id, "acme", &rows, &error));
  LbRetrieval *r = rows->pdata[0];
  g_assert_cmpint (r->attempts, ==, 2);
  gdouble used, reserved;
  g_assert_true (lb_quota_get_usage (store, "acme", lb_time_now (), &used,
          &reserved, &error));
  g_assert_cmpfloat_with_epsilon (used, r->cost_committed, 1e-6);
  g_assert_cmpfloat_with_epsilon (used, 30 * 0.25, 0.05);
  g_assert_cmpfloat_with_epsilon (reserved, 0, 1e-9);
  g_assert_cmpuint (count_outputs (f, NULL), ==, 1);
  g_assert_cmpuint (count_outputs (f, ".part"), ==, 0);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/jobs/restart/kill-mid-transcode", Fixture, NULL, set_up,
      test_kill_mid_transcode, tear_down);
  return g_test_run ();
}
