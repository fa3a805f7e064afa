/* GET /metrics from a real lookbackd: promtool (Debian's prometheus) checks
 * the text, and the values move when things happen — a camera records, a
 * retrieval is made, retention deletes old footage, uploads fail, a
 * request is answered — and stay when nothing does (a dead camera). */
#include "jobs-test-media.h"
#include "lb-test-common.h"

#include <gio/gio.h>
#include <libsoup/soup.h>
#include <stdlib.h>
#include <string.h>

#define VEHICLE "1234"
#define LIVE "dashcamRoadFacing"        /* a test camera, recorded */
#define DEAD "dashcamDriverFacing"      /* a dead RTSP port; imported footage */
#define OLD "analog1"           /* a dead RTSP port; footage past its age */

typedef struct
{
  gchar *dir;
  gchar *conf;
  gchar *footage;               /* an MP4 made at test time */
  gchar *token;
  LbTestDaemon *daemon;
  SoupSession *session;
} Fixture;

/* lookback --config CONF @args…, which must succeed; its stdout. */
static gchar *
lookback (Fixture * f, const gchar * const *args)
{
  g_auto (LbTestProgram) p = { 0 };

  lb_test_lookback (&p, f->conf, NULL, NULL, args);
  if (p.status != 0)
    g_error ("lookback %s: %d: %s", args[0], p.status, p.err);
  return g_steal_pointer (&p.out);
}

#define LOOKBACK(f, ...) \
  lookback (f, (const gchar * const []) { __VA_ARGS__, NULL })

/* A store with footage of DEAD, a token, and lookbackd on it with @extra
 * appended to the configuration. */
static void
start (Fixture * f, const gchar * extra)
{
  g_autoptr (GError) error = NULL;
  guint16 port = lb_test_dead_port ();

  f->dir = g_dir_make_tmp ("lb-metrics-XXXXXX", &error);
  g_assert_no_error (error);
  f->conf = g_build_filename (f->dir, "lookback.conf", NULL);
  g_autofree gchar *text = g_strdup_printf ("[server]\nlisten=127.0.0.1:0\n"
      "[store]\ndir=%s\n[retention]\nmax-age=0\ninterval=1s\n"
      "[jobs]\nworkers=1\n[api]\nreads-per-second=1000\n"
      "[input " VEHICLE " " LIVE "]\nsource=videotestsrc is-live=true ! "
      "video/x-raw,width=160,height=120,framerate=10/1\n"
      "[input " VEHICLE " " DEAD "]\n"
      "source=rtspsrc location=rtsp://127.0.0.1:%u/x\n"
      "[input " VEHICLE " " OLD "]\nretention-max-age=1d\n"
      "source=rtspsrc location=rtsp://127.0.0.1:%u/x\n%s", f->dir, port, port,
      extra);
  g_assert_true (g_file_set_contents (f->conf, text, -1, NULL));
  f->footage = g_build_filename (f->dir, "footage.mp4", NULL);
  jt_make_h264_mp4 (f->footage, 90, 160, 120, 0);
  g_free (LOOKBACK (f, "import", "--vehicle", VEHICLE, "--input", DEAD,
          "--start", "2026-01-01T10:00:00Z", f->footage));
  f->token = g_strstrip (LOOKBACK (f, "token", "add", "--org", "acme"));
  f->daemon = lb_test_daemon_start (f->conf, NULL);
  f->session = soup_session_new ();
}

static void
tear_down (Fixture * f, gconstpointer data)
{
  g_clear_object (&f->session);
  g_clear_pointer (&f->daemon, lb_test_daemon_free);
  lb_test_rm_rf (f->dir);
  g_free (f->dir);
  g_free (f->conf);
  g_free (f->footage);
  g_free (f->token);
}

/* @method @path with @bearer (or none) and @body; the body of the answer,
 * whose status must be @want. */
static gchar *
request (Fixture * f, const gchar * method, const gchar * path,
    const gchar * bearer, const gchar * body, guint want)
{
  guint status = 0;
  g_autoptr (GBytes) reply = lb_test_http_call (f->session,
      lb_test_daemon_get_uri (f->daemon), bearer, method, path, body, &status);

  g_assert_cmpuint (status, ==, want);
  return g_strndup (g_bytes_get_data (reply, NULL), g_bytes_get_size (reply));
}

/* /metrics, checked by promtool. */
static gchar *
scrape (Fixture * f, const gchar * token)
{
  g_autoptr (GError) error = NULL;
  gchar *text = request (f, "GET", "/metrics", token, NULL, 200);
  g_autoptr (GSubprocess) p = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE
      | G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE,
      &error, "promtool", "check", "metrics", NULL);
  g_autofree gchar *said = NULL;

  g_assert_no_error (error);
  g_assert_true (g_subprocess_communicate_utf8 (p, text, NULL, &said, NULL,
          &error));
  g_assert_no_error (error);
  if (!g_subprocess_get_successful (p))
    g_error ("promtool check metrics: %s\n%s", said, text);
  return text;
}

/* The value of the sample @series ("name{labels}"), or -1 when absent. */
static gdouble
value (const gchar * text, const gchar * series)
{
  g_autofree gchar *line = g_strconcat ("\n", series, " ", NULL);
  const gchar *at = strstr (text, line);
  return at ? g_ascii_strtod (at + strlen (line), NULL) : -1;
}

/* Scrapes until @series reaches @at_least. */
static gchar *
scrape_until (Fixture * f, const gchar * token, const gchar * series,
    gdouble at_least)
{
  for (;;) {
    gchar *text = scrape (f, token);
    if (value (text, series) >= at_least)
      return text;
    g_free (text);
    g_usleep (200 * 1000);      /* collectors run at most once a second */
  }
}

/* Whether lookbackd maps libavcodec: lbstilldec opens it at the first
 * still, so a lookbackd that records and makes none does not pay the RSS
 * of it and of the codec libraries it pulls in. */
static gboolean
maps_libavcodec (Fixture * f)
{
  g_autofree gchar *path = g_strdup_printf ("/proc/%d/maps",
      (int) lb_test_daemon_get_pid (f->daemon));
  g_autofree gchar *maps = NULL;

  g_assert_true (g_file_get_contents (path, &maps, NULL, NULL));
  return strstr (maps, "/libavcodec.so") != NULL;
}

#define LIVE_L "{vehicle=\"" VEHICLE "\",input=\"" LIVE "\"}"
#define DEAD_L "{vehicle=\"" VEHICLE "\",input=\"" DEAD "\"}"

static void
test_recording_jobs_retention (Fixture * f, gconstpointer data)
{
  start (f, "");

  g_autofree gchar *before = scrape (f, NULL);
  g_assert_cmpfloat (value (before, "lookback_retention_deleted_segments_total"
          "{reason=\"age\"}"), ==, 0);
  g_assert_cmpfloat (value (before, "lookback_store_footage_bytes" DEAD_L),
      >, 0);
  g_assert_cmpfloat (value (before, "lookback_store_disk_free_bytes"), >, 0);
  g_assert_cmpfloat (value (before, "lookback_store_disk_size_bytes"), >, 0);
  g_assert_cmpfloat (value (before, "lookback_store_wal_bytes"), >=, 0);

  /* the test camera records: its frames and bytes grow, it is connected;
   * the dead one is not, and has nothing */
  g_autofree gchar *a = scrape_until (f, NULL,
      "lookback_input_frames_total" LIVE_L, 1);
  g_autofree gchar *b = scrape_until (f, NULL,
      "lookback_input_frames_total" LIVE_L,
      value (a, "lookback_input_frames_total" LIVE_L) + 10);
  g_assert_cmpfloat (value (b, "lookback_input_bytes_total" LIVE_L), >,
      value (a, "lookback_input_bytes_total" LIVE_L));
  g_autofree gchar *c = scrape_until (f, NULL,
      "lookback_input_connected" LIVE_L, 1);
  g_assert_cmpfloat (value (c, "lookback_input_connected" DEAD_L), ==, 0);
  g_assert_cmpfloat (value (c, "lookback_input_frames_total" DEAD_L), ==, 0);
  g_assert_cmpfloat (value (c, "lookback_input_gaps_total" DEAD_L), ==, 0);
  g_assert_cmpfloat (value (c, "lookback_input_last_frame_age_seconds"
          DEAD_L), >=, 0);

  /* a still: created, ended available, one job, the organisation charged;
   * libavcodec is opened for it, not before */
  g_assert_false (maps_libavcodec (f));
  g_free (request (f, "POST", "/cameras/media/retrieval", f->token,
          "{\"vehicleId\":\"" VEHICLE "\",\"mediaType\":\"image\","
          "\"inputs\":[\"" DEAD "\"],\"startTime\":\"2026-01-01T10:00:01Z\","
          "\"endTime\":\"2026-01-01T10:00:01Z\"}", 200));
  g_autofree gchar *d = scrape_until (f, NULL,
      "lookback_retrievals_ended_total{media_type=\"image\","
      "status=\"available\"}", 1);
  g_assert_true (maps_libavcodec (f));
  g_assert_cmpfloat (value (d, "lookback_retrievals_created_total"
          "{media_type=\"image\",status=\"pending\"}"), ==, 1);
  g_assert_cmpfloat (value (d, "lookback_job_duration_seconds_count"
          "{media_type=\"image\"}"), ==, 1);
  g_assert_cmpfloat (value (d, "lookback_http_requests_total{route=\"POST "
          "/cameras/media/retrieval\",status=\"200\"}"), ==, 1);
  g_assert_cmpfloat (value (d, "lookback_http_request_duration_seconds_count"
          "{route=\"POST /cameras/media/retrieval\"}"), ==, 1);
  g_assert_cmpfloat (value (d, "lookback_quota_allowance_seconds"
          "{org=\"acme\"}"), ==, 900000);
  g_autofree gchar *e = scrape_until (f, NULL,
      "lookback_quota_used_seconds{org=\"acme\"}", 0.1);

  g_assert_cmpfloat (value (e, "lookback_retrievals_pending"), ==, 0);

  /* footage older than OLD's max-age, imported while lookbackd runs:
   * retention deletes it */
  g_free (LOOKBACK (f, "import", "--vehicle", VEHICLE, "--input", OLD,
          "--start", "2026-01-01T10:00:00Z", f->footage));
  g_autofree gchar *g = scrape_until (f, NULL,
      "lookback_retention_deleted_segments_total{reason=\"age\"}", 1);
  g_assert_cmpfloat (value (g, "lookback_retention_deleted_bytes_total"
          "{reason=\"age\"}"), >, 0);
  g_assert_cmpfloat (value (g, "lookback_retention_deleted_segments_total"
          "{reason=\"floor\"}"), ==, 0);
}

/* Uploads to an endpoint that is not there, and a token on /metrics. */
static void
test_uploads_and_token (Fixture * f, gconstpointer data)
{
  g_autofree gchar *extra = g_strdup_printf ("[upload]\nurl-template="
      "http://127.0.0.1:%u/{retrievalId}/{input}.{ext}\nbackoff-min=50ms\n"
      "backoff-max=200ms\n[metrics]\ntoken=s3cret\n", lb_test_dead_port ());

  start (f, extra);
  g_autofree gchar *denied = request (f, "GET", "/metrics", NULL, NULL, 401);
  g_autofree gchar *wrong = request (f, "GET", "/metrics", "s3cre", NULL, 401);
  g_autofree gchar *before = scrape (f, "s3cret");
  g_assert_cmpfloat (value (before, "lookback_upload_failures_total"
          "{class=\"unreachable\"}"), ==, 0);
  g_assert_cmpfloat (value (before, "lookback_upload_queue_length"), ==, 0);

  g_free (request (f, "POST", "/cameras/media/retrieval", f->token,
          "{\"vehicleId\":\"" VEHICLE "\",\"mediaType\":\"image\","
          "\"inputs\":[\"" DEAD "\"],\"startTime\":\"2026-01-01T10:00:01Z\","
          "\"endTime\":\"2026-01-01T10:00:01Z\"}", 200));
  g_autofree gchar *failing = scrape_until (f, "s3cret",
      "lookback_upload_failures_total{class=\"unreachable\"}", 2);
  /* the queue is state: collected, at most once a second */
  g_autofree gchar *after = scrape_until (f, "s3cret",
      "lookback_upload_oldest_age_seconds", 0.001);
  g_assert_cmpfloat (value (after, "lookback_upload_queue_length"), ==, 1);
  g_assert_cmpfloat (value (after, "lookback_upload_oldest_age_seconds"), >, 0);
  g_assert_cmpfloat (value (after, "lookback_upload_bytes_total"), ==, 0);
  g_assert_cmpfloat (value (after, "lookback_retrievals_pending"), ==, 1);
  g_assert_cmpfloat (value (after, "lookback_retrievals_ended_total"
          "{media_type=\"image\",status=\"available\"}"), ==, -1);
  g_assert_cmpfloat (value (after, "lookback_http_requests_total"
          "{route=\"GET /metrics\",status=\"401\"}"), ==, 2);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/metrics/recording-jobs-retention", Fixture, NULL, NULL,
      test_recording_jobs_retention, tear_down);
  g_test_add ("/metrics/uploads-and-token", Fixture, NULL, NULL,
      test_uploads_and_token, tear_down);
  return g_test_run ();
}
