/* Jobs tests: the real templates' downstream (decodebin, lbstilldec,
 * videoscale, x264enc, lbhyperlapse, mp4mux + edit list) run by the job
 * runner on stamped footage; only the source is swapped for
 * filesrc ! qtdemux, whose timestamps are the stamps (lbclockstamp
 * source=pts), so lbclockcheck tells exactly which frames came out. */
#include "jobs/lb-job-kind.h"
#include "jobs/lb-job-run.h"
#include "jobs/lb-pipelines.h"
#include "core/lb-error.h"
#include "core/lb-time.h"
#include "jobs-test-media.h"
#include "lb-test-common.h"

#include <glib/gstdio.h>
#include <string.h>

#define FRAME (GST_SECOND / 30)
/* the time of frame n, as videotestsrc stamps it */
#define F(n) ((gint64) gst_util_uint64_scale ((n), GST_SECOND, 30))

typedef struct
{
  gchar *dir;
  gchar *src_720;               /* 4 s, 1280x720 → no: 320x180 keeps it fast */
  gchar *src_43;                /* 4 s, 320x240 */
  LbPipelines *pipelines;
} Fixture;

static void
make_source (const gchar * path, gint w, gint h, guint frames)
{
  g_autofree gchar *d =
      g_strdup_printf ("videotestsrc pattern=smpte horizontal-speed=3 "
      "num-buffers=%u ! video/x-raw,width=%d,height=%d,framerate=30/1 "
      "! lbclockstamp source=pts ! videoconvert ! video/x-raw,format=I420 "
      "! x264enc speed-preset=ultrafast bframes=0 key-int-max=30 option-string=scenecut=0 "
      "! h264parse ! mp4mux ! filesink location=\"%s\"", frames, w, h, path);
  jt_run_launch (d);
}

/* Copies the real templates with the recording source swapped for @src. */
static LbPipelines *
swapped_templates_full (const gchar * dir, const gchar * src,
    const gchar * tail)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *tdir = g_build_filename (dir, *tail ? "templates-parsed" :
      "templates", NULL);
  g_mkdir (tdir, 0755);
  guint n;
  const LbJobKind *kinds = lb_job_kinds (&n);
  for (guint i = 0; i < n; i++) {
    g_autofree gchar *file =
        g_strconcat (kinds[i].template_name, ".pipeline", NULL);
    g_autofree gchar *from =
        g_build_filename (g_getenv ("LB_SOURCE_ROOT"), "pipelines", file, NULL);
    g_autofree gchar *to = g_build_filename (tdir, file, NULL);
    g_autofree gchar *text = NULL;
    g_assert_true (g_file_get_contents (from, &text, NULL, NULL));
    g_autoptr (GRegex) re =
        g_regex_new ("lbrecordingsrc name=src( mode=keyframes)?", 0, 0, NULL);
    g_autofree gchar *repl =
        g_strdup_printf ("filesrc name=src location=\"%s\" ! qtdemux%s", src,
        tail);
    g_autofree gchar *out =
        g_regex_replace_literal (re, text, -1, 0, repl, 0, &error);
    g_assert_no_error (error);
    g_assert_nonnull (strstr (out, "qtdemux"));
    g_assert_true (g_file_set_contents (to, out, -1, NULL));
  }
  LbPipelines *p = lb_pipelines_load (tdir, &error);
  g_assert_no_error (error);
  return p;
}

static LbPipelines *
swapped_templates (const gchar * dir, const gchar * src)
{
  return swapped_templates_full (dir, src, "");
}

static void
set_up (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  f->dir = g_dir_make_tmp ("lb-runner-XXXXXX", &error);
  g_assert_no_error (error);
  f->src_720 = g_build_filename (f->dir, "wide.mp4", NULL);
  make_source (f->src_720, 320, 180, 120);
  f->pipelines = swapped_templates (f->dir, f->src_720);
}

static void
tear_down (Fixture * f, gconstpointer data)
{
  g_clear_pointer (&f->pipelines, lb_pipelines_free);
  if (!g_getenv ("LB_TEST_KEEP"))
    lb_test_rm_rf (f->dir);
  g_free (f->dir);
  g_free (f->src_720);
  g_free (f->src_43);
}

static LbJobRun
make_run (Fixture * f, LbMediaType media_type, gint64 start, gint64 end,
    const gchar * out)
{
  LbJobRun run = {
    .media_type = media_type,.db_path = "unused",.vehicle = "v",.input = "i",
    .start_ns = start,.end_ns = end,.output_path = out,.codec = "h264",
    .width = 320,.height = 180,.fps_n = 30,.fps_d = 1,
    .low_res_width = 160,.low_res_height = 120,.low_res_bitrate = 200,
    .hyperlapse_interval_ns = GST_SECOND,.hyperlapse_framerate = 30,
    .hyperlapse_max_output_ns = 120 * GST_SECOND,.hyperlapse_remux_max_kbps =
        8000,
  };
  return run;
}

static void
test_image_nearest (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *out = g_build_filename (f->dir, "still.jpg", NULL);
  /* 1.51 s → frame 45 (1.500); 1.52 s → frame 46 (1.533) */
  const gint64 targets[][2] = { {1510, 45}, {1520, 46}, {990, 30}, {2000, 60} };
  for (guint i = 0; i < G_N_ELEMENTS (targets); i++) {
    gint64 t = targets[i][0] * GST_MSECOND;
    LbJobRun run = make_run (f, LB_MEDIA_TYPE_IMAGE, t, t, out);
    gboolean ran = lb_job_run (f->pipelines, &run, &error);
    g_assert_no_error (error);
    g_assert_true (ran);
    g_assert_cmpstr (run.content_type, ==, "image/jpeg");
    g_assert_cmpstr (run.template_used, ==, "image");
    g_autoptr (GArray) stamps = jt_read_stamps (out);
    g_assert_cmpuint (stamps->len, ==, 1);
    g_assert_cmpint (STAMP (stamps, 0), ==, F (targets[i][1]));
    g_assert_cmpint (run.delivered_start_ns, ==, F (targets[i][1]));
    g_autoptr (JtInfo) info = jt_discover (out);
    g_assert_cmpstr (info->video, ==, "image/jpeg");
    g_assert_cmpint (info->width, ==, 320);
  }
}

/* How many of this process's descriptors are open on @path. */
static guint
open_on (const gchar * path)
{
  g_autoptr (GDir) fds = g_dir_open ("/proc/self/fd", 0, NULL);
  const gchar *name;
  guint n = 0;

  g_assert_nonnull (fds);
  while ((name = g_dir_read_name (fds)) != NULL) {
    g_autofree gchar *link = g_build_filename ("/proc/self/fd", name, NULL);
    g_autofree gchar *target = g_file_read_link (link, NULL);
    n += target != NULL && g_str_equal (target, path);
  }
  return n;
}

/* A still's run returns at EOS with its file whole; its pipeline stops on
 * another thread, and lb_job_run_drain() waits for it: then nothing holds
 * the footage or the output open. */
static void
test_image_stops_after (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *out = g_build_filename (f->dir, "still.jpg", NULL);

  for (guint i = 0; i < 4; i++) {
    gint64 t = F (30 + 7 * i);
    LbJobRun run = make_run (f, LB_MEDIA_TYPE_IMAGE, t, t, out);
    gboolean ran = lb_job_run (f->pipelines, &run, &error);
    g_assert_no_error (error);
    g_assert_true (ran);
    /* whole at once: a JPEG that ends with its EOI marker, the frame */
    g_autofree gchar *jpeg = NULL;
    gsize size = 0;
    g_assert_true (g_file_get_contents (out, &jpeg, &size, NULL));
    g_assert_cmpuint (size, >, 4);
    g_assert_cmpint ((guint8) jpeg[size - 2], ==, 0xff);
    g_assert_cmpint ((guint8) jpeg[size - 1], ==, 0xd9);
    g_autoptr (GArray) stamps = jt_read_stamps (out);
    g_assert_cmpuint (stamps->len, ==, 1);
    g_assert_cmpint (STAMP (stamps, 0), ==, t);
  }
  lb_job_run_drain ();
  g_assert_cmpuint (open_on (f->src_720), ==, 0);
  g_assert_cmpuint (open_on (out), ==, 0);
}

/* How many elements of @factory @bin holds, at any depth. */
static guint
count_elements (GstElement * bin, const gchar * factory)
{
  GstIterator *it = gst_bin_iterate_recurse (GST_BIN (bin));
  GValue v = G_VALUE_INIT;
  guint n = 0;

  while (gst_iterator_next (it, &v) == GST_ITERATOR_OK) {
    GstElementFactory *f = gst_element_get_factory (g_value_get_object (&v));
    n += f && g_str_equal (GST_OBJECT_NAME (f), factory);
    g_value_reset (&v);
  }
  g_value_unset (&v);
  gst_iterator_free (it);
  return n;
}

/* A still decodes with lbstilldec behind the source's own parser: no
 * decodebin, no GstVideoDecoder, no second parser. */
static void
test_image_still_decoder (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *out = g_build_filename (f->dir, "parsed.jpg", NULL);
  LbPipelines *parsed = swapped_templates_full (f->dir, f->src_720,
      " ! h264parse");
  LbJobRun run = make_run (f, LB_MEDIA_TYPE_IMAGE, F (40), F (40), out);
  g_autoptr (LbJobPass) pass = lb_job_pass_new (parsed, &run,
      lb_job_kind_for (LB_MEDIA_TYPE_IMAGE), &error);
  g_assert_no_error (error);

  gst_element_set_state (pass->pipeline, GST_STATE_PLAYING);
  g_autoptr (GstBus) bus = gst_element_get_bus (pass->pipeline);
  g_autoptr (GstMessage) m = gst_bus_timed_pop_filtered (bus,
      30 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  g_assert_nonnull (m);
  g_assert_cmpint (GST_MESSAGE_TYPE (m), ==, GST_MESSAGE_EOS);
  g_assert_cmpuint (count_elements (pass->pipeline, "lbstilldec"), ==, 1);
  g_assert_cmpuint (count_elements (pass->pipeline, "avdec_h264"), ==, 0);
  g_assert_cmpuint (count_elements (pass->pipeline, "h264parse"), ==, 1);
  gst_element_set_state (pass->pipeline, GST_STATE_NULL);
  g_autoptr (GArray) stamps = jt_read_stamps (out);
  g_assert_cmpuint (stamps->len, ==, 1);
  g_assert_cmpint (STAMP (stamps, 0), ==, F (40));
  lb_pipelines_free (parsed);
}

static void
check_clip (const gchar * out, guint first, guint frames, gint w, gint h)
{
  g_autoptr (JtInfo) info = jt_discover (out);
  g_assert_cmpstr (info->container, ==, "video/quicktime");
  g_assert_cmpstr (info->video, ==, "video/x-h264");
  g_assert_cmpint (info->width, ==, w);
  g_assert_cmpint (info->height, ==, h);
  g_assert_cmpint (ABS (GST_CLOCK_DIFF (F (frames), info->duration)), <=,
      FRAME);
  g_autoptr (GArray) stamps = jt_read_stamps (out);
  g_assert_cmpuint (stamps->len, ==, frames);
  g_assert_cmpint (STAMP (stamps, 0), ==, F (first));
  g_assert_cmpint (STAMP (stamps, frames - 1), ==, F (first + frames - 1));
}

/* Remux with the pre-roll hidden: no encoder ran, first and last frames
 * are the requested ones. */
static void
test_high_res_remux (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *out = g_build_filename (f->dir, "hi.mp4", NULL);
  LbJobRun run =
      make_run (f, LB_MEDIA_TYPE_VIDEO_HIGH_RES, F (15), F (75), out);
  gboolean ran = lb_job_run (f->pipelines, &run, &error);
  g_assert_no_error (error);
  g_assert_true (ran);
  g_assert_cmpstr (run.template_used, ==, "video-high-res");
  g_assert_cmpint (ABS (run.delivered_start_ns - (gint64) (F (15))), <=, 1);
  g_assert_cmpint (ABS (run.delivered_end_ns - (gint64) (F (75))), <=, 1);
  check_clip (out, 15, 60, 320, 180);
}

/* The source here starts at the file's first frame: a pre-roll as long as
 * the clip cannot be hidden from qtdemux, so the runner transcodes. */
static void
test_high_res_long_preroll_transcodes (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *out = g_build_filename (f->dir, "hi.mp4", NULL);
  LbJobRun run =
      make_run (f, LB_MEDIA_TYPE_VIDEO_HIGH_RES, F (70), F (100), out);
  gboolean ran = lb_job_run (f->pipelines, &run, &error);
  g_assert_no_error (error);
  g_assert_true (ran);
  g_assert_cmpstr (run.template_used, ==, "video-high-res-transcode");
  check_clip (out, 70, 30, 320, 180);
}

static void
test_low_res (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *out = g_build_filename (f->dir, "lo.mp4", NULL);
  LbJobRun run = make_run (f, LB_MEDIA_TYPE_VIDEO_LOW_RES, F (30), F (90), out);
  gboolean ran = lb_job_run (f->pipelines, &run, &error);
  g_assert_no_error (error);
  g_assert_true (ran);
  /* 320x180 into 160x120: 160x90 */
  check_clip (out, 30, 60, 160, 90);
  g_assert_cmpint (run.delivered_start_ns, ==, F (30));

  /* Index times run a few ns early (segment starts chained from rounded
   * durations): frame 90, 3 ns before the requested end, is AT the end and
   * excluded; frame 30, 3 ns before the start, is the first. */
  LbJobRun drift =
      make_run (f, LB_MEDIA_TYPE_VIDEO_LOW_RES, F (30) + 3, F (90) + 3, out);
  ran = lb_job_run (f->pipelines, &drift, &error);
  g_assert_no_error (error);
  g_assert_true (ran);
  check_clip (out, 30, 60, 160, 90);
  g_assert_cmpuint (drift.frames, ==, 60);
}

/* A camera with B-frames whose times step forward mid-GOP (rtpbin lining
 * the video up with the audio at the first RTCP sender report, 2.5 s in):
 * B-frame 41 is timed 80 ms later, after the P-frame 42 shown after it (a
 * probe on the encoder's output, whose times are 1000 h ahead). */
static GstPadProbeReturn
step_b_frame (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);

  if (GST_BUFFER_PTS (buf) % (3600 * GST_SECOND) != (GstClockTime) F (41))
    return GST_PAD_PROBE_OK;
  buf = gst_buffer_make_writable (buf);
  GST_BUFFER_PTS (buf) += 80 * GST_MSECOND;
  GST_PAD_PROBE_INFO_DATA (info) = buf;
  return GST_PAD_PROBE_OK;
}

/* Footage whose times disagree with the order its pictures show in: the
 * decoder hands on a frame timed before the one it showed last as of that
 * one's time (GstVideoDecoder), two frames of one time, which x264enc and
 * mp4mux refused ("Buffer has no PTS": jobs-audio's lost camera, sanitized
 * runs); the clip keeps the first of them.  Here frames 42 and 43 come out
 * at 41's stepped time, after it: 28 of the 30 frames are delivered. */
static void
test_low_res_times_out_of_order (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *src = g_build_filename (f->dir, "stepped.mp4", NULL);
  g_autofree gchar *d =
      g_strdup_printf ("videotestsrc pattern=smpte horizontal-speed=3 "
      "num-buffers=90 ! video/x-raw,width=320,height=180,framerate=30/1 "
      "! videoconvert ! video/x-raw,format=I420 ! x264enc name=enc "
      "speed-preset=superfast bframes=2 b-adapt=false key-int-max=30 "
      "option-string=scenecut=0 ! h264parse ! mp4mux "
      "! filesink location=\"%s\"", src);
  g_autoptr (GstElement) p = gst_parse_launch (d, &error);
  g_assert_no_error (error);
  g_autoptr (GstElement) enc = gst_bin_get_by_name (GST_BIN (p), "enc");
  g_autoptr (GstPad) pad = gst_element_get_static_pad (enc, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, step_b_frame, NULL, NULL);
  lb_test_play_to_eos (p);

  g_autoptr (LbPipelines) pipelines = swapped_templates (f->dir, src);
  g_autofree gchar *out = g_build_filename (f->dir, "lo.mp4", NULL);
  LbJobRun run = make_run (f, LB_MEDIA_TYPE_VIDEO_LOW_RES, F (30), F (60), out);
  gboolean ran = lb_job_run (pipelines, &run, &error);
  g_assert_no_error (error);
  g_assert_true (ran);
  g_autoptr (JtDecoded) got = jt_decode (out);
  for (guint i = 1; i < got->pts->len; i++)
    g_assert_cmpuint (g_array_index (got->pts, GstClockTime, i), >,
        g_array_index (got->pts, GstClockTime, i - 1));
  g_assert_cmpuint (got->pts->len, ==, 28);
  g_assert_cmpuint (run.frames, ==, 28);
}

static void
test_hyperlapse (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *out = g_build_filename (f->dir, "lapse.mp4", NULL);
  /* here the source sends every frame, not keyframes only: lbhyperlapse
   * still keeps one per second */
  LbJobRun run = make_run (f, LB_MEDIA_TYPE_HYPERLAPSE, 0, 4 * GST_SECOND, out);
  gboolean ran = lb_job_run (f->pipelines, &run, &error);
  g_assert_no_error (error);
  g_assert_true (ran);
  /* H.264: the recorded keyframes are remuxed (the delta frames this
   * source also sends are skipped) */
  g_assert_cmpstr (run.template_used, ==, "hyperlapse-remux");
  g_autoptr (GArray) stamps = jt_read_stamps (out);
  g_assert_cmpuint (stamps->len, ==, 4);
  for (guint i = 0; i < stamps->len; i++)
    g_assert_cmpint (STAMP (stamps, i), ==, i * GST_SECOND);
  g_autoptr (JtInfo) info = jt_discover (out);
  g_assert_cmpint (ABS (GST_CLOCK_DIFF (F (4), info->duration)), <=, FRAME);
}

/* Keyframes too big to be played as they are at the output rate (or a cap
 * of 0): the hyperlapse is transcoded, with the same frames. */
static void
test_hyperlapse_heavy_keyframes (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *out = g_build_filename (f->dir, "heavy.mp4", NULL);
  g_autoptr (GArray) keyframes = g_array_new (FALSE, FALSE, sizeof (gint64));
  for (gint64 i = 0; i < 4; i++) {
    gint64 t = i * GST_SECOND;
    g_array_append_val (keyframes, t);
  }
  const gint caps_kbps[] = { 8000, 0 };

  for (guint c = 0; c < G_N_ELEMENTS (caps_kbps); c++) {
    LbJobRun run =
        make_run (f, LB_MEDIA_TYPE_HYPERLAPSE, 0, 4 * GST_SECOND, out);
    run.keyframes_ns = keyframes;
    /* 4 keyframes of 40 kB at 30 fps: 9600 kbit/s */
    run.keyframe_bytes = 4 * 40000;
    run.hyperlapse_remux_max_kbps = caps_kbps[c];
    gboolean ran = lb_job_run (f->pipelines, &run, &error);
    g_assert_no_error (error);
    g_assert_true (ran);
    g_assert_cmpstr (run.template_used, ==, "hyperlapse");
    g_autoptr (GArray) stamps = jt_read_stamps (out);
    g_assert_cmpuint (stamps->len, ==, 4);
    for (guint i = 0; i < stamps->len; i++)
      g_assert_cmpint (STAMP (stamps, i), ==, i * GST_SECOND);
  }
  /* light ones are copied */
  LbJobRun light =
      make_run (f, LB_MEDIA_TYPE_HYPERLAPSE, 0, 4 * GST_SECOND, out);
  light.keyframes_ns = keyframes;
  light.keyframe_bytes = 4 * 20000;     /* 4800 kbit/s */
  gboolean ran = lb_job_run (f->pipelines, &light, &error);
  g_assert_no_error (error);
  g_assert_true (ran);
  g_assert_cmpstr (light.template_used, ==, "hyperlapse-remux");
}

/* No frame in the range: an error, and no file left. */
static void
test_nothing_in_range (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *out = g_build_filename (f->dir, "none.mp4", NULL);
  LbJobRun run = make_run (f, LB_MEDIA_TYPE_VIDEO_LOW_RES, 10 * GST_SECOND,
      12 * GST_SECOND, out);
  g_assert_false (lb_job_run (f->pipelines, &run, &error));
  g_assert_nonnull (error);
  g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
#define ADD(name, fn) g_test_add (name, Fixture, NULL, set_up, fn, tear_down)
  ADD ("/jobs/runner/image-nearest", test_image_nearest);
  ADD ("/jobs/runner/image-stops-after", test_image_stops_after);
  ADD ("/jobs/runner/image-still-decoder", test_image_still_decoder);
  ADD ("/jobs/runner/high-res-remux", test_high_res_remux);
  ADD ("/jobs/runner/high-res-long-preroll-transcodes",
      test_high_res_long_preroll_transcodes);
  ADD ("/jobs/runner/low-res", test_low_res);
  ADD ("/jobs/runner/low-res-times-out-of-order",
      test_low_res_times_out_of_order);
  ADD ("/jobs/runner/hyperlapse", test_hyperlapse);
  ADD ("/jobs/runner/hyperlapse-heavy-keyframes",
      test_hyperlapse_heavy_keyframes);
  ADD ("/jobs/runner/nothing-in-range", test_nothing_in_range);
  return g_test_run ();
}
