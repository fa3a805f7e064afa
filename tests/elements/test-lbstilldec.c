/* GstHarness/GstCheck suite for lbstilldec: the frame nearest the target at
 * every place in a GOP (H.264 and H.265 with B-frames, read back by its
 * stamp), the stream's end before the target, stream time behind an
 * encoder, the output caps and the error without a frame */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/app/gstappsrc.h>

#include "lbelements.h"
#include "lb-elements-test.h"
#include "lb-footage-test.h"

#define WALL0 (G_GINT64_CONSTANT (1767225600) * GST_SECOND)     /* 2026-01-01T00:00:00Z */
#define SEC GST_SECOND
#define MS GST_MSECOND
#define FRAME(i) LB_TEST_FRAME_TIME (WALL0, (i))

/* One store for the suite, recorded before the tests fork: 3 s of H.264
 * and 3 s of H.265, both with two B-frames in a fixed pattern. */
static gchar *store_dir;
static gchar *db;

static void
record (const gchar * path)
{
  g_autofree gchar *x265 = lb_test_x265_encoder (2);
  g_autoptr (GPtrArray) a = lb_test_record_full (path, "v", "h264", WALL0,
      3 * LB_TEST_FPS, 60 * SEC, "speed-preset=superfast bframes=2 "
      "b-adapt=false");
  g_autoptr (GPtrArray) b = lb_test_record_encoded (path, "v", "h265", WALL0,
      3 * LB_TEST_FPS, 60 * SEC, x265);
  g_assert_cmpuint (a->len, ==, 1);
  g_assert_cmpuint (b->len, ==, 1);
}

/* Runs lbrecordingsrc (@input, from the keyframe at 1 s, @nearest: with
 * nearest-time) ! lbstilldec target-time=@target ! lbclockcheck and returns
 * the run; the one frame passed is read back by its stamp into *@stamp. */
static LbTestRun *
still (const gchar * input, gint64 target, gboolean nearest, gint64 * stamp)
{
  g_autofree gchar *nearest_time = nearest ? g_strdup_printf (" nearest-time="
      "%" G_GINT64_FORMAT, target) : g_strdup ("");
  g_autofree gchar *description = g_strdup_printf ("lbrecordingsrc "
      "db=\"%s\" vehicle=v input=%s start-time=%" G_GINT64_FORMAT
      " end-time=%" G_GINT64_FORMAT "%s ! lbstilldec target-time=%"
      G_GINT64_FORMAT " ! lbclockcheck ! fakesink", db, input,
      FRAME (LB_TEST_FPS), WALL0 + 3 * SEC, nearest_time, target);
  LbTestRun *run = lb_test_run_launch (description, GST_CLOCK_TIME_NONE, 30);

  fail_unless (run->error == NULL, "%s: %s", description, run->error ?
      run->error->message : "");
  fail_unless (run->eos);
  g_autoptr (GPtrArray) checks = lb_test_run_messages (run, "lbclockcheck");
  fail_unless_equals_int (checks->len, 1);
  fail_unless (gst_structure_get_int64 (g_ptr_array_index (checks, 0),
          "stamp", stamp), "the frame passed is unreadable");
  return run;
}

/* The lbstilldec message of @run says it chose @frame_time. */
static void
assert_chose (LbTestRun * run, gint64 target, gint64 frame_time)
{
  g_autoptr (GPtrArray) chose = lb_test_run_messages (run, "lbstilldec");
  guint64 t = 0, f = 0, frames = 0;
  gint64 distance = 0;

  fail_unless_equals_int (chose->len, 1);
  GstStructure *s = g_ptr_array_index (chose, 0);
  fail_unless (gst_structure_get (s, "target-time", G_TYPE_UINT64, &t,
          "frame-time", G_TYPE_UINT64, &f, "distance", G_TYPE_INT64,
          &distance, "frames", G_TYPE_UINT64, &frames, NULL));
  fail_unless_equals_uint64 (t, target);
  /* times read back from MP4 went through the file's timescale */
  fail_unless (ABS ((gint64) f - frame_time) <= 1000, "frame-time %"
      G_GUINT64_FORMAT ", expected %" G_GINT64_FORMAT, f, frame_time);
  fail_unless_equals_int64 (distance, (gint64) f - target);
  fail_unless (frames >= 1);
}

/* Every place of the B-frame pattern (its first 9 frames, and the last
 * two) of the second GOP, just after a frame (that frame is the nearest)
 * and nearer the next one: the frame passed is the nearest, in display
 * order, although the decoder gets them in decode order. */
static void
assert_every_position (const gchar * input)
{
  static const guint places[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 28, 29 };

  for (guint i = 0; i < G_N_ELEMENTS (places); i++) {
    guint k = LB_TEST_FPS + places[i];
    for (guint after = 0; after < 2; after++) {
      gint64 target = FRAME (k) + (after ? 20 : 10) * MS;
      gint64 stamp = 0;
      g_autoptr (LbTestRun) run = still (input, target, TRUE, &stamp);
      fail_unless_equals_int64 (stamp, FRAME (k + after));
      assert_chose (run, target, FRAME (k + after));
    }
  }
}

GST_START_TEST (test_h264_every_position)
{
  assert_every_position ("h264");
}

GST_END_TEST;

GST_START_TEST (test_h265_every_position)
{
  assert_every_position ("h265");
}

GST_END_TEST;

/* Without nearest-time the source reads on past the target: the element
 * passes the nearest frame all the same, then ends the stream. */
GST_START_TEST (test_source_reads_on)
{
  gint64 stamp = 0;
  g_autoptr (LbTestRun) run = still ("h264", FRAME (40) + 5 * MS, FALSE,
      &stamp);

  fail_unless_equals_int64 (stamp, FRAME (40));
  assert_chose (run, FRAME (40) + 5 * MS, FRAME (40));
}

GST_END_TEST;

/* A target after the footage: the stream ends first, its last frame (in
 * display order) is the nearest. */
GST_START_TEST (test_target_after_the_end)
{
  gint64 stamp = 0;
  g_autoptr (LbTestRun) run = still ("h265", WALL0 + 10 * SEC, FALSE, &stamp);

  fail_unless_equals_int64 (stamp, FRAME (3 * LB_TEST_FPS - 1));
  assert_chose (run, WALL0 + 10 * SEC, FRAME (3 * LB_TEST_FPS - 1));
}

GST_END_TEST;

/* Behind an encoder whose PTS are not its stream time (x264enc puts its
 * frames 1000 h on, in a segment that starts there): the target is in
 * stream time, and the frame keeps its PTS. */
GST_START_TEST (test_stream_time)
{
  g_autoptr (LbTestRun) run = lb_test_run_launch ("videotestsrc "
      "num-buffers=45 ! video/x-raw,format=I420,width=320,height=180,"
      "framerate=30/1 ! lbclockstamp source=running-time ! x264enc "
      "speed-preset=superfast key-int-max=30 bframes=2 ! h264parse "
      "! lbstilldec target-time=1020000000 ! lbclockcheck ! fakesink",
      GST_CLOCK_TIME_NONE, 30);

  fail_unless (run->error == NULL, "%s", run->error ? run->error->message : "");
  g_autoptr (GPtrArray) checks = lb_test_run_messages (run, "lbclockcheck");
  gint64 stamp = 0;
  guint64 pts = 0;
  fail_unless_equals_int (checks->len, 1);
  fail_unless (gst_structure_get_int64 (g_ptr_array_index (checks, 0),
          "stamp", &stamp));
  fail_unless (gst_structure_get_uint64 (g_ptr_array_index (checks, 0),
          "pts", &pts));
  /* frame 31, at 1.0333 s, is the nearest to 1.02 s */
  fail_unless_equals_int64 (stamp, gst_util_uint64_scale (31, SEC, 30));
  fail_unless (pts > 1000 * 3600 * SEC, "PTS %" G_GUINT64_FORMAT, pts);
  assert_chose (run, 1020000000, gst_util_uint64_scale (31, SEC, 30));
}

GST_END_TEST;

/* The frame goes out as I420 of the stream's size and frame rate, with its
 * PTS, after the caps and the segment; then EOS. */
GST_START_TEST (test_output)
{
  GstHarness *h = gst_harness_new_parse ("lbrecordingsrc name=src "
      "! lbstilldec name=dec");
  g_autoptr (GstElement) src = gst_bin_get_by_name (GST_BIN (h->element),
      "src");
  g_autoptr (GstElement) dec = gst_bin_get_by_name (GST_BIN (h->element),
      "dec");
  g_autofree gchar *start = g_strdup_printf ("%" G_GINT64_FORMAT, FRAME (30));
  g_autofree gchar *end = g_strdup_printf ("%" G_GINT64_FORMAT, FRAME (60));
  g_object_set (src, "db", db, "vehicle", "v", "input", "h264", "start-time",
      start, "end-time", end, NULL);
  g_object_set (dec, "target-time", (guint64) FRAME (45), NULL);

  gst_harness_play (h);
  GstBuffer *buffer = gst_harness_pull (h);
  fail_unless (buffer != NULL);
  fail_unless (ABS ((gint64) GST_BUFFER_PTS (buffer) - FRAME (45)) <= 1000);
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (h->sinkpad);
  GstVideoInfo info;
  fail_unless (gst_video_info_from_caps (&info, caps));
  fail_unless_equals_int (GST_VIDEO_INFO_FORMAT (&info), GST_VIDEO_FORMAT_I420);
  fail_unless_equals_int (GST_VIDEO_INFO_WIDTH (&info), LB_TEST_WIDTH);
  fail_unless_equals_int (GST_VIDEO_INFO_HEIGHT (&info), LB_TEST_HEIGHT);
  fail_unless_equals_int (GST_VIDEO_INFO_FPS_N (&info), LB_TEST_FPS);
  fail_unless_equals_uint64 (gst_buffer_get_size (buffer),
      GST_VIDEO_INFO_SIZE (&info));
  gst_buffer_unref (buffer);
  g_autoptr (GstEvent) segment = gst_pad_get_sticky_event (h->sinkpad,
      GST_EVENT_SEGMENT, 0);
  fail_unless (segment != NULL);
  gboolean eos = FALSE;
  GstEvent *event;
  while (!eos && (event = gst_harness_pull_event (h)) != NULL) {
    eos = GST_EVENT_TYPE (event) == GST_EVENT_EOS;
    gst_event_unref (event);
  }
  fail_unless (eos, "no EOS after the frame");
  gst_harness_teardown (h);
}

GST_END_TEST;

/* A stream that ends before the decoder gives a frame is an error that
 * says so. */
GST_START_TEST (test_error_no_frame)
{
  GstElement *pipeline = gst_parse_launch ("appsrc name=in format=time "
      "caps=\"video/x-h264,stream-format=byte-stream,alignment=au\" "
      "! lbstilldec ! fakesink", NULL);
  g_autoptr (GstElement) in = gst_bin_get_by_name (GST_BIN (pipeline), "in");
  /* not H.264 at all: the decoder refuses it or gives nothing */
  GstBuffer *junk = gst_buffer_new_allocate (NULL, 64, NULL);
  gst_buffer_memset (junk, 0, 0x5a, 64);
  GST_BUFFER_PTS (junk) = 0;
  gst_app_src_push_buffer (GST_APP_SRC (in), junk);
  gst_app_src_end_of_stream (GST_APP_SRC (in));
  g_autoptr (LbTestRun) run = lb_test_run (pipeline, GST_CLOCK_TIME_NONE, 30);

  fail_unless (run->error != NULL);
  fail_unless (g_error_matches (run->error, GST_STREAM_ERROR,
          GST_STREAM_ERROR_DECODE), "%s", run->error->message);
  fail_unless (strstr (run->error->message, "No frame decoded") != NULL,
      "%s", run->error->message);
}

GST_END_TEST;

static Suite *
lbstilldec_suite (void)
{
  Suite *s = suite_create ("lbstilldec");
  TCase *tc = tcase_create ("general");

  g_assert_true (lb_elements_register (NULL));
  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_h264_every_position);
  tcase_add_test (tc, test_h265_every_position);
  tcase_add_test (tc, test_source_reads_on);
  tcase_add_test (tc, test_target_after_the_end);
  tcase_add_test (tc, test_stream_time);
  tcase_add_test (tc, test_output);
  tcase_add_test (tc, test_error_no_frame);
  return s;
}

int
main (int argc, char **argv)
{
  if (lb_test_is_recorder (argc, argv, record))
    return 0;
  gst_check_init (&argc, &argv);
  db = lb_test_prepare_store (argv[0], &store_dir);
  int ret = gst_check_run_suite (lbstilldec_suite (), "lbstilldec", __FILE__);
  lb_test_rm_rf (store_dir);
  return ret;
}
