/* Camera loss: an RTSP camera (lb-test-camera, recorded through lbrtspsrc)
 * stops and comes back; the recorder closes and indexes the open segment,
 * retries with backoff and resumes by itself; the gap shows in the index.
 * (tests/jobs/test-audio.c loses a camera recorded through rtspsrc.) */
#include "rec-util.h"

#include "core/lb-config.h"
#include "core/lb-time.h"
#include "recorder/lb-recorder.h"
#include "store/lb-store.h"
#include "store/lb-store-footage.h"
#include "lb-test-common.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

static gboolean
wait_recording (LbRecorder * rec, guint ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;
  while (g_get_monotonic_time () < end) {
    if (lb_recorder_count_recording (rec) == 1)
      return TRUE;
    rec_run_for (100);
  }
  return FALSE;
}

static void
test_camera_loss (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lb-cam-XXXXXX", NULL);
  LbTestCamera *cam = lb_test_camera_start (0, NULL);
  gint port = lb_test_camera_port (cam);
  g_autofree gchar *conf = g_strdup_printf ("[store]\ndir=%s\n"
      "[recorder]\nsegment-duration=5s\nretry-min=200ms\nretry-max=800ms\n"
      "[input veh-2 analog1]\n"
      "source=lbrtspsrc location=%s\n", dir, cam->url);
  g_autoptr (GError) error = NULL;
  gint64 t0 = lb_time_now ();
  RecLogCapture *log = rec_log_capture_start ();
  g_autoptr (RecSession) session = rec_session_start (conf);
  LbStore *store = session->store;
  LbRecorder *rec = session->recorder;
  g_assert_true (wait_recording (rec, 10000));
  rec_run_for (3000);

  /* The camera goes away for a few seconds. */
  gint64 t_lost = lb_time_now ();
  lb_test_camera_kill (cam);
  rec_run_for (3000);
  g_assert_cmpuint (lb_recorder_count_recording (rec), ==, 0);
  g_assert_cmpuint (lb_recorder_count_closed (rec), >=, 1);
  gint64 t_back = lb_time_now ();
  cam = lb_test_camera_start (port, NULL);

  /* ... and comes back at the same address: recording resumes by itself. */
  g_assert_true (wait_recording (rec, 10000));
  rec_run_for (3000);
  rec_session_stop (session);
  gint64 t1 = lb_time_now ();
  lb_test_camera_kill (cam);

  g_autoptr (LbFootagePlan) plan =
      lb_store_lookup (store, "veh-2", "analog1", t0, t1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (plan->pieces->len, >=, 2);
  /* Footage before the loss and after the return ... */
  LbFootagePiece *first = plan->pieces->pdata[0];
  LbFootagePiece *last = plan->pieces->pdata[plan->pieces->len - 1];
  g_assert_cmpint (first->segment->start_ns, <, t_lost);
  g_assert_cmpint (last->segment->end_ns, >, t_back + LB_NS_PER_SEC);
  g_assert_false (last->segment->open);
  /* ... and a gap covering the time the camera was away. */
  gboolean found = FALSE;
  for (guint i = 0; i < plan->gaps->len; i++) {
    LbTimeRange *g = &g_array_index (plan->gaps, LbTimeRange, i);
    if (g->start_ns <= t_lost + LB_NS_PER_SEC && g->end_ns >= t_back &&
        g->end_ns - g->start_ns >= 2 * LB_NS_PER_SEC)
      found = TRUE;
  }
  g_assert_true (found);
  /* The same in the store's coverage: two recorded ranges around a gap. */
  g_autoptr (GArray) ranges = NULL;
  g_autoptr (GArray) gaps = NULL;
  g_assert_true (lb_store_coverage (store, "veh-2", "analog1", t0, t1, &ranges,
          &gaps, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (ranges->len, >=, 2);
  found = FALSE;
  for (guint i = 0; i < gaps->len; i++) {
    LbTimeRange *g = &g_array_index (gaps, LbTimeRange, i);
    if (g->start_ns <= t_lost + LB_NS_PER_SEC && g->end_ns >= t_back)
      found = TRUE;
  }
  g_assert_true (found);
  /* Every segment decodes, one frame a sample: the camera's keyframes are
   * sliced, each slice led by SPS/PPS (x264 tune=zerolatency sent by
   * rtph264pay config-interval=-1), and each is still stored as one
   * access unit, never two samples of one time. */
  for (guint i = 0; i < plan->pieces->len; i++) {
    LbFootagePiece *p = plan->pieces->pdata[i];
    g_autoptr (GArray) frames = rec_demux_frames (p->segment->path);
    g_assert_nonnull (frames);
    for (guint k = 1; k < frames->len; k++)
      g_assert_cmpint (g_array_index (frames, RecFrame, k).dts_ns, >,
          g_array_index (frames, RecFrame, k - 1).dts_ns);
    g_assert_cmpint (rec_decode_count (p->segment->path, NULL), ==,
        frames->len);
  }
  /* The operator heard of it: connected, lost once (not once per retry),
   * back with the length of the gap. */
  g_autofree gchar *text = rec_log_capture_text (log);
  g_auto (GStrv) lost = g_strsplit (text, "camera lost (", -1);
  g_assert_cmpuint (g_strv_length (lost), ==, 2);
  g_assert_true (rec_log_capture_has (log,
          "info camera connected: recording input=analog1"));
  g_assert_true (rec_log_capture_has (log,
          "info camera back: recording again after a gap of "));
  rec_log_capture_stop (log);
  lb_test_rm_rf (dir);
}

/* A source that ends its stream (EOS after 2 s of video): the segment is
 * closed and indexed, the source is opened again after retry-min, and each
 * run lands in a segment of its own. */
static void
test_source_eos (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lb-eos-XXXXXX", NULL);
  g_autofree gchar *conf = g_strdup_printf ("[store]\ndir=%s\n"
      "[recorder]\nretry-min=500ms\nretry-max=500ms\n"
      "[input veh-6 analog3]\n"
      "source=videotestsrc is-live=true num-buffers=30 ! "
      "video/x-raw,width=160,height=120,framerate=15/1\n", dir);
  g_autoptr (GError) error = NULL;
  gint64 t0 = lb_time_now ();
  g_autoptr (RecSession) session = rec_session_start (conf);
  LbStore *store = session->store;
  LbRecorder *rec = session->recorder;
  /* 2 s of video, 0.5 s pause, 2 s of video, ... */
  gint64 end = g_get_monotonic_time () + 8 * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < end && lb_recorder_count_closed (rec) < 2)
    rec_run_for (100);
  g_assert_cmpuint (lb_recorder_count_closed (rec), >=, 2);
  rec_session_stop (session);

  g_autoptr (LbFootagePlan) plan =
      lb_store_lookup (store, "veh-6", "analog3", t0, lb_time_now (), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (plan->pieces->len, >=, 2);
  for (guint i = 0; i < plan->pieces->len; i++) {
    LbFootagePiece *p = plan->pieces->pdata[i];
    g_assert_false (p->segment->open);
    gint n = rec_decode_count (p->segment->path, NULL);
    if (i + 1 < plan->pieces->len) {
      /* a whole run: 30 frames, 2 s, then a gap before the next */
      g_assert_cmpint (n, ==, 30);
      LbSegment *next =
          ((LbFootagePiece *) plan->pieces->pdata[i + 1])->segment;
      g_assert_cmpint (next->start_ns - p->segment->end_ns, >=,
          400 * LB_NS_PER_MS);
    } else {
      g_assert_cmpint (n, >, 0);
    }
  }
  g_assert_cmpuint (plan->gaps->len, >=, 1);
  lb_test_rm_rf (dir);
}

/* audio=true, a camera without audio: the recording starts as soon as the
 * source has said what streams the camera sends (no-more-pads), not
 * after the wait for a late audio stream (test-audio's PCMA camera). */
static void
test_no_audio_stream (gconstpointer data)
{
  const gchar *element = data;
  g_autofree gchar *dir = g_dir_make_tmp ("lb-noaudio-XXXXXX", NULL);
  LbTestCamera *cam = lb_test_camera_start (0, NULL);
  g_autofree gchar *conf = g_strdup_printf ("[store]\ndir=%s\n"
      "[input veh-7 analog1]\nsource=%s location=%s\naudio=true\n", dir,
      element, cam->url);
  RecLogCapture *log = rec_log_capture_start ();
  g_autoptr (RecSession) session = rec_session_start (conf);
  g_assert_true (wait_recording (session->recorder, 10000));
  rec_session_stop (session);
  lb_test_camera_kill (cam);
  g_assert_true (rec_log_capture_has (log, "info the camera sends no audio "
          "stream: recording video alone input=analog1"));
  g_assert_false (rec_log_capture_has (log, "no audio stream within"));
  rec_log_capture_stop (log);
  lb_test_rm_rf (dir);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/recorder/camera-loss", test_camera_loss);
  g_test_add_func ("/recorder/source-eos", test_source_eos);
  g_test_add_data_func ("/recorder/no-audio-stream/lbrtspsrc", "lbrtspsrc",
      test_no_audio_stream);
  g_test_add_data_func ("/recorder/no-audio-stream/rtspsrc",
      "rtspsrc protocols=tcp", test_no_audio_stream);
  return g_test_run ();
}
