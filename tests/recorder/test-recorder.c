/* Recorder: ~10 s of videotestsrc into segments that decode, indexed as
 * recorded; the index matches the files read back. */
#include "rec-util.h"

#include "core/lb-config.h"
#include "core/lb-time.h"
#include "recorder/lb-recorder.h"
#include "recorder/lb-segment-writer.h"
#include "store/lb-store.h"
#include "store/lb-store-footage.h"
#include "lb-test-common.h"

#include <string.h>

#define FPS 15

static gint64
name_start_ns (const gchar * path)
{
  g_autofree gchar *base = g_path_get_basename (path);
  return g_ascii_strtoll (base, NULL, 10);
}

static void
test_record (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lb-rec-XXXXXX", NULL);
  g_autofree gchar *conf = g_strdup_printf ("[store]\ndir=%s\n"
      "[recorder]\nsegment-duration=5s\nfragment-duration=1s\n"
      "[input veh-1 dashcamRoadFacing]\n"
      "source=videotestsrc is-live=true pattern=ball ! "
      "video/x-raw,width=160,height=120,framerate=%d/1\n", dir, FPS);
  g_autoptr (GError) error = NULL;
  gint64 t0 = lb_time_now ();
  g_autoptr (RecSession) session = rec_session_start (conf);
  LbStore *store = session->store;
  LbRecorder *rec = session->recorder;
  rec_run_for (7000);
  g_assert_cmpuint (lb_recorder_count_recording (rec), ==, 1);
  {
    /* Indexed as it records: footage a few seconds old is findable. */
    gint64 now = lb_time_now ();
    g_autoptr (LbFootagePlan) live =
        lb_store_lookup (store, "veh-1", "dashcamRoadFacing", t0, now, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (live->pieces->len, >=, 1);
    LbFootagePiece *last = live->pieces->pdata[live->pieces->len - 1];
    g_assert_cmpint (last->segment->end_ns, >=, now - 3 * LB_NS_PER_SEC);
  }
  rec_run_for (3500);
  rec_session_stop (session);
  gint64 t1 = lb_time_now ();

  g_autofree gchar *segdir = g_build_filename (dir, "segments", "veh-1",
      "dashcamRoadFacing", NULL);
  g_autoptr (GPtrArray) files = rec_list_mp4 (segdir);
  g_assert_cmpuint (files->len, >=, 2);
  g_assert_cmpuint (lb_recorder_count_closed (rec), ==, files->len);

  gint total = 0;
  gint64 prev_end = 0;
  for (guint i = 0; i < files->len; i++) {
    const gchar *path = files->pdata[i];
    g_autofree gchar *why = NULL;
    gint n = rec_decode_count (path, &why);
    g_assert_cmpint (n, >, 0);
    total += n;
    gint64 start = name_start_ns (path);
    g_assert_cmpint (start, >=, t0);
    g_assert_cmpint (start, <=, t1);
    if (prev_end)               /* the next file starts where the last ended */
      g_assert_cmpint (ABS (start - prev_end), <, 2 * LB_NS_PER_SEC / FPS);
    prev_end = start + (gint64) n *LB_NS_PER_SEC / FPS;
  }
  /* ~10 s of 15 fps video */
  g_assert_cmpint (total, >=, 9 * FPS);
  g_assert_cmpint (total, <=, 12 * FPS);

  /* The index matches the files, read back (from the first frame: how long
   * the pipeline took to start is not the recorder's gap). */
  g_autoptr (LbFootagePlan) plan = lb_store_lookup (store, "veh-1",
      "dashcamRoadFacing", name_start_ns (files->pdata[0]), t1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (plan->pieces->len, ==, files->len);
  /* No gap between the first frame and the last.  (Before the first, the
   * pipeline was starting: how long that takes depends on the machine's
   * load, not on the recorder.) */
  gint64 first_ns =
      ((LbFootagePiece *) plan->pieces->pdata[0])->segment->start_ns;
  gint64 last_ns = ((LbFootagePiece *) plan->pieces->pdata[plan->pieces->len -
          1])->segment->end_ns;
  for (guint i = 0; i < plan->gaps->len; i++) {
    LbTimeRange *g = &g_array_index (plan->gaps, LbTimeRange, i);
    g_assert_true (g->end_ns <= first_ns || g->start_ns >= last_ns);
  }
  for (guint i = 0; i < files->len; i++) {
    LbFootagePiece *p = plan->pieces->pdata[i];
    LbSegment *seg = p->segment;
    g_assert_cmpstr (seg->path, ==, files->pdata[i]);
    g_assert_cmpint (seg->start_ns, ==, name_start_ns (seg->path));
    g_assert_false (seg->open);
    g_assert_cmpstr (seg->codec, ==, "h264");
    g_assert_cmpint (seg->width, ==, 160);
    g_assert_cmpint (seg->height, ==, 120);
    if (i + 1 < files->len) {
      LbSegment *next =
          ((LbFootagePiece *) plan->pieces->pdata[i + 1])->segment;
      g_assert_cmpint (ABS (next->start_ns - seg->end_ns), <,
          2 * LB_NS_PER_SEC / FPS);
    }

    g_autoptr (GArray) frames = rec_demux_frames (seg->path);
    g_assert_nonnull (frames);
    g_autofree gchar *contents = NULL;
    gsize len = 0;
    g_assert_true (g_file_get_contents (seg->path, &contents, &len, NULL));
    gint64 first_pts = g_array_index (frames, RecFrame, 0).pts_ns;
    const RecFrame *lastf = &g_array_index (frames, RecFrame, frames->len - 1);
    /* the segment ends after its last frame */
    g_assert_cmpint (ABS (seg->end_ns - (seg->start_ns + lastf->pts_ns -
                first_pts + LB_NS_PER_SEC / FPS)), <=, LB_NS_PER_SEC / FPS);
    guint k = 0;
    for (guint f = 0; f < frames->len; f++) {
      const RecFrame *fr = &g_array_index (frames, RecFrame, f);
      if (!fr->key)
        continue;
      g_assert_cmpuint (k, <, p->keyframes->len);
      LbKeyframe *kf = &g_array_index (p->keyframes, LbKeyframe, k);
      /* its wall-clock time ... */
      g_assert_cmpint (ABS (kf->time_ns - (seg->start_ns + fr->pts_ns -
                  first_pts)), <, LB_NS_PER_MS);
      /* ... and its bytes where the index says */
      g_assert_cmpint (kf->sample_offset + kf->sample_size, <=, (gint64) len);
      g_assert_cmpuint (kf->sample_size, ==, fr->size);
      g_assert_true (memcmp (contents + kf->sample_offset,
              g_bytes_get_data (fr->bytes, NULL), fr->size) == 0);
      g_assert_cmpint (kf->offset, <=, kf->sample_offset);
      k++;
    }
    g_assert_cmpuint (k, ==, p->keyframes->len);
    /* one keyframe a second (fragment-duration=1s) in the 5 s segments; the
     * last one is cut short by the stop */
    if (i + 1 < files->len)
      g_assert_cmpuint (k, ==, 5);
  }
  lb_test_rm_rf (dir);
}

/* A camera that sends Motion JPEG: decoded and encoded to H.264 with a
 * keyframe a second. */
static void
test_mjpeg_source (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lb-rec-XXXXXX", NULL);
  g_autofree gchar *conf = g_strdup_printf ("[store]\ndir=%s\n"
      "[input veh-5 analog2]\n"
      "source=videotestsrc is-live=true ! video/x-raw,width=160,height=120,framerate=%d/1 "
      "! jpegenc\n", dir, FPS);
  g_autoptr (GError) error = NULL;
  gint64 t0 = lb_time_now ();
  g_autoptr (RecSession) session = rec_session_start (conf);
  LbStore *store = session->store;
  rec_run_for (3500);
  rec_session_stop (session);

  g_autoptr (LbFootagePlan) plan =
      lb_store_lookup (store, "veh-5", "analog2", t0, lb_time_now (), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (plan->pieces->len, ==, 1);
  LbFootagePiece *p = plan->pieces->pdata[0];
  g_assert_cmpstr (p->segment->codec, ==, "h264");
  g_assert_cmpuint (p->keyframes->len, >=, 3);
  gint n = rec_decode_count (p->segment->path, NULL);
  g_assert_cmpint (n, >=, 3 * FPS);
  lb_test_rm_rf (dir);
}

/* ---- the segment writer under caps changes ---- */

#define CAPS_FRAMES 300
#define CAPS_CHANGES 4          /* before each frame */

/* A camera whose stream changes caps often (its parser updating them, as
 * H.265 with B-frames does at its start) is recorded: mp4mux 1.22.0 reads
 * the caps it configured while its own thread may free them
 * (lb-mux-guard.h), which crashed at the first few
 * changes now and then and, with this many, nearly always. */
static void
test_writer_caps_changes (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lb-rec-XXXXXX", NULL);
  g_autoptr (LbSegmentWriter) w = lb_segment_writer_new (dir, "v1",
      "dashcamRoadFacing", 60 * GST_SECOND, GST_SECOND);
  g_autoptr (GstElement) pipeline = gst_pipeline_new (NULL);
  GstElement *sink = lb_segment_writer_get_sink (w);
  gst_bin_add (GST_BIN (pipeline), sink);
  g_autoptr (GstPad) in = gst_element_request_pad_simple (sink, "video");
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  lb_test_push_caps_changes (in, CAPS_FRAMES, CAPS_CHANGES);
  gst_pad_send_event (in, gst_event_new_eos ());
  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);
  g_autoptr (GstMessage) msg = gst_bus_timed_pop_filtered (bus,
      60 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  g_assert_nonnull (msg);
  g_assert_cmpint (GST_MESSAGE_TYPE (msg), ==, GST_MESSAGE_EOS);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_element_release_request_pad (sink, in);

  /* every frame is in the one file */
  g_autofree gchar *segments = g_build_filename (dir, "segments", "v1",
      "dashcamRoadFacing", NULL);
  g_autoptr (GDir) d = g_dir_open (segments, 0, NULL);
  g_assert_nonnull (d);
  const gchar *name = g_dir_read_name (d);
  g_assert_nonnull (name);
  g_assert_true (g_str_has_suffix (name, ".mp4"));
  g_assert_null (g_dir_read_name (d));
  g_autofree gchar *file = g_build_filename (segments, name, NULL);
  g_assert_cmpuint (lb_test_mp4_video_samples (file), ==, CAPS_FRAMES);
  lb_test_rm_rf (dir);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/recorder/record", test_record);
  g_test_add_func ("/recorder/mjpeg-source", test_mjpeg_source);
  g_test_add_func ("/recorder/writer/caps-changes", test_writer_caps_changes);
  return g_test_run ();
}
