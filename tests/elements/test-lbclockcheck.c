/* GstHarness suite for lbclockcheck, and the round trips of the clock code
 * through H.264, scaling and JPEG */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>

#include "lbclockcode.h"
#include "lbelements.h"
#include "lb-elements-test.h"

#define BASE_TIME (G_GUINT64_CONSTANT (1767225600) * GST_SECOND)        /* 2026-01-01 */
#define STAMP (G_GINT64_CONSTANT (1767225600123456789))
#define WIDTH 320
#define HEIGHT 180

static GstBuffer *
stamped_frame (gint64 stamp, GstClockTime pts)
{
  GstBuffer *buffer = lb_test_make_frame (GST_VIDEO_FORMAT_I420, WIDTH,
      HEIGHT, 120, 90, pts);
  GstVideoInfo info;
  GstVideoFrame frame;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_I420, WIDTH, HEIGHT);
  fail_unless (gst_video_frame_map (&frame, &info, buffer, GST_MAP_WRITE));
  lb_clock_code_draw (&frame, stamp);
  gst_video_frame_unmap (&frame);
  return buffer;
}

/* Sets the luma of the middle of data cell @bit (0 = first stamp bit). */
static void
paint_cell (GstBuffer * buffer, guint bit, guint8 luma)
{
  GstMapInfo map;
  gint col = bit % LB_CLOCK_CODE_COLS, row = 1 + bit / LB_CLOCK_CODE_COLS;
  gint x0 = col * WIDTH / LB_CLOCK_CODE_COLS;
  gint x1 = (col + 1) * WIDTH / LB_CLOCK_CODE_COLS;
  gint y0 = row * HEIGHT / LB_CLOCK_CODE_ROW_DIV;
  gint y1 = (row + 1) * HEIGHT / LB_CLOCK_CODE_ROW_DIV;

  fail_unless (gst_buffer_map (buffer, &map, GST_MAP_WRITE));
  for (gint y = y0; y < y1; y++)
    for (gint x = x0; x < x1; x++)
      map.data[y * WIDTH + x] = luma;   /* I420 luma stride == WIDTH here */
  gst_buffer_unmap (buffer, &map);
}

typedef struct
{
  GstHarness *h;
  GstBus *bus;
} Check;

static Check
check_new (void)
{
  Check c;
  g_autoptr (GstCaps) caps = lb_test_frame_caps (GST_VIDEO_FORMAT_I420,
      WIDTH, HEIGHT);

  c.h = gst_harness_new ("lbclockcheck");
  c.bus = gst_bus_new ();
  gst_element_set_bus (c.h->element, c.bus);
  gst_harness_set_src_caps (c.h, g_steal_pointer (&caps));
  return c;
}

static void
check_free (Check * c)
{
  gst_element_set_bus (c->h->element, NULL);
  gst_object_unref (c->bus);
  gst_harness_teardown (c->h);
}

/* Pushes @buffer and returns the structure of the message it produced. */
static GstStructure *
check_push (Check * c, GstBuffer * buffer)
{
  fail_unless_equals_int (gst_harness_push (c->h, buffer), GST_FLOW_OK);
  gst_buffer_unref (gst_harness_pull (c->h));
  g_autoptr (GstMessage) msg = gst_bus_pop_filtered (c->bus,
      GST_MESSAGE_ELEMENT);
  fail_unless (msg != NULL);
  fail_unless_equals_string (GST_MESSAGE_SRC_NAME (msg),
      GST_ELEMENT_NAME (c->h->element));
  return gst_structure_copy (gst_message_get_structure (msg));
}

static void
assert_unreadable (const GstStructure * s, const gchar * result)
{
  gboolean readable = TRUE;

  fail_unless (gst_structure_has_name (s, "lbclockcheck"));
  fail_unless (gst_structure_get_boolean (s, "readable", &readable));
  fail_if (readable);
  fail_unless_equals_string (gst_structure_get_string (s, "result"), result);
  fail_if (gst_structure_has_field (s, "stamp"));
}

GST_START_TEST (test_reads_stamp)
{
  Check c = check_new ();
  GstSegment segment;
  gboolean readable = FALSE;
  gint64 stamp = 0;
  guint64 pts = 0, running_time = 0, frame = 99;

  gst_segment_init (&segment, GST_FORMAT_TIME);
  segment.start = GST_SECOND;
  fail_unless (gst_harness_push_event (c.h, gst_event_new_segment (&segment)));

  g_autoptr (GstStructure) s = check_push (&c, stamped_frame (STAMP,
          3 * GST_SECOND));
  fail_unless (gst_structure_has_name (s, "lbclockcheck"));
  fail_unless (gst_structure_get (s, "frame", G_TYPE_UINT64, &frame,
          "readable", G_TYPE_BOOLEAN, &readable, "stamp", G_TYPE_INT64, &stamp,
          "pts", G_TYPE_UINT64, &pts, "running-time", G_TYPE_UINT64,
          &running_time, NULL));
  fail_unless_equals_uint64 (frame, 0);
  fail_unless (readable);
  fail_unless_equals_string (gst_structure_get_string (s, "result"), "ok");
  fail_unless_equals_int64 (stamp, STAMP);
  fail_unless_equals_uint64 (pts, 3 * GST_SECOND);
  fail_unless_equals_uint64 (running_time, 2 * GST_SECOND);

  /* negative and extreme values survive too */
  g_autoptr (GstStructure) s2 = check_push (&c, stamped_frame (-1, 0));
  fail_unless (gst_structure_get (s2, "stamp", G_TYPE_INT64, &stamp,
          "frame", G_TYPE_UINT64, &frame, "running-time", G_TYPE_UINT64,
          &running_time, NULL));
  fail_unless_equals_int64 (stamp, -1);
  fail_unless_equals_uint64 (frame, 1);
  /* before the segment: no running time */
  fail_unless_equals_uint64 (running_time, GST_CLOCK_TIME_NONE);
  g_autoptr (GstStructure) s3 = check_push (&c, stamped_frame (G_MAXINT64,
          GST_CLOCK_TIME_NONE));
  fail_unless (gst_structure_get (s3, "stamp", G_TYPE_INT64, &stamp,
          "pts", G_TYPE_UINT64, &pts, NULL));
  fail_unless_equals_int64 (stamp, G_MAXINT64);
  fail_unless_equals_uint64 (pts, GST_CLOCK_TIME_NONE);
  check_free (&c);
}

GST_END_TEST;

GST_START_TEST (test_no_code)
{
  Check c = check_new ();

  /* a flat picture, and a picture with stripes where the code would be */
  g_autoptr (GstStructure) s = check_push (&c,
      lb_test_make_frame (GST_VIDEO_FORMAT_I420, WIDTH, HEIGHT, 120, 90, 0));
  assert_unreadable (s, "no-code");

  GstBuffer *stripes = lb_test_make_frame (GST_VIDEO_FORMAT_I420, WIDTH,
      HEIGHT, 16, 128, 0);
  for (guint bit = 0; bit < 100; bit += 2)
    paint_cell (stripes, bit, 235);
  g_autoptr (GstStructure) s2 = check_push (&c, stripes);
  assert_unreadable (s2, "no-code");
  check_free (&c);
}

GST_END_TEST;

/* A cell that is neither black nor white: damaged, not guessed. */
GST_START_TEST (test_damaged_cell)
{
  Check c = check_new ();

  for (guint bit = 0; bit < 100; bit += 7) {
    GstBuffer *buffer = stamped_frame (STAMP, 0);
    paint_cell (buffer, bit, 125);
    g_autoptr (GstStructure) s = check_push (&c, buffer);
    assert_unreadable (s, "damaged");
  }
  check_free (&c);
}

GST_END_TEST;

/* A cell flipped cleanly to the other level: the checksum catches it. */
GST_START_TEST (test_flipped_bit)
{
  Check c = check_new ();

  for (guint bit = 0; bit < 100; bit++) {
    GstBuffer *buffer = stamped_frame (STAMP, 0);
    GstMapInfo map;
    gint col = bit % LB_CLOCK_CODE_COLS, row = 1 + bit / LB_CLOCK_CODE_COLS;
    gint x = (2 * col + 1) * WIDTH / (2 * LB_CLOCK_CODE_COLS);
    gint y = (2 * row + 1) * HEIGHT / (2 * LB_CLOCK_CODE_ROW_DIV);

    fail_unless (gst_buffer_map (buffer, &map, GST_MAP_READ));
    guint8 level = map.data[y * WIDTH + x];
    gst_buffer_unmap (buffer, &map);
    paint_cell (buffer, bit, level == 16 ? 235 : 16);
    g_autoptr (GstStructure) s = check_push (&c, buffer);
    assert_unreadable (s, "damaged");
  }
  check_free (&c);
}

GST_END_TEST;

GST_START_TEST (test_passthrough_and_counters)
{
  Check c = check_new ();
  guint64 read = 9, unreadable = 9;

  GstBuffer *in = stamped_frame (STAMP, 0);
  fail_unless_equals_int (gst_harness_push (c.h, gst_buffer_ref (in)),
      GST_FLOW_OK);
  GstBuffer *out = gst_harness_pull (c.h);
  fail_unless (out == in);
  gst_buffer_unref (out);
  gst_buffer_unref (in);
  gst_buffer_unref (gst_harness_push_and_pull (c.h,
          lb_test_make_frame (GST_VIDEO_FORMAT_I420, WIDTH, HEIGHT, 0, 0, 0)));

  g_object_get (c.h->element, "frames-read", &read, "frames-unreadable",
      &unreadable, NULL);
  fail_unless_equals_uint64 (read, 1);
  fail_unless_equals_uint64 (unreadable, 1);

  fail_unless (gst_harness_push_event (c.h, gst_event_new_eos ()));
  gboolean eos = FALSE;
  GstEvent *event;
  while ((event = gst_harness_try_pull_event (c.h)) != NULL) {
    eos |= GST_EVENT_TYPE (event) == GST_EVENT_EOS;
    gst_event_unref (event);
  }
  fail_unless (eos);
  check_free (&c);
}

GST_END_TEST;

GST_START_TEST (test_refuses_other_caps)
{
  GstHarness *h = gst_harness_new ("lbclockcheck");

  gst_harness_set_src_caps_str (h,
      "video/x-raw,format=BGRx,width=320,height=180,framerate=30/1");
  fail_unless_equals_int (gst_harness_push (h,
          gst_buffer_new_allocate (NULL, 320 * 180 * 4, NULL)),
      GST_FLOW_NOT_NEGOTIATED);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* Runs videotestsrc → lbclockstamp → @middle → lbclockcheck with a fixed
 * base time and asserts that every frame comes out with the stamp it got. */
static void
round_trip (const gchar * source_caps, const gchar * middle, guint n_frames)
{
  g_autofree gchar *description = g_strdup_printf ("videotestsrc "
      "pattern=snow num-buffers=%u ! %s,framerate=30/1 ! lbclockstamp ! %s ! "
      "lbclockcheck ! fakesink", n_frames, source_caps, middle);
  g_autoptr (LbTestRun) run = lb_test_run_launch (description, BASE_TIME, 60);

  fail_unless (run->error == NULL, "%s: %s", description,
      run->error ? run->error->message : "");
  fail_unless (run->eos);
  g_autoptr (GPtrArray) checks = lb_test_run_messages (run, "lbclockcheck");
  fail_unless_equals_int (checks->len, n_frames);
  for (guint i = 0; i < checks->len; i++) {
    GstStructure *s = g_ptr_array_index (checks, i);
    gint64 stamp = 0;
    gboolean readable = FALSE;

    fail_unless (gst_structure_get_boolean (s, "readable", &readable));
    fail_unless (readable, "%s: frame %u unreadable: %" GST_PTR_FORMAT,
        middle, i, s);
    fail_unless (gst_structure_get_int64 (s, "stamp", &stamp));
    fail_unless_equals_int64 (stamp, BASE_TIME +
        gst_util_uint64_scale (i, GST_SECOND, 30));
  }
}

GST_START_TEST (test_round_trip_h264)
{
  round_trip ("video/x-raw,format=I420,width=640,height=360",
      "x264enc bitrate=500 ! avdec_h264", 45);
}

GST_END_TEST;

GST_START_TEST (test_round_trip_h264_720p)
{
  round_trip ("video/x-raw,format=NV12,width=1280,height=720",
      "x264enc bitrate=500 speed-preset=ultrafast ! avdec_h264", 20);
}

GST_END_TEST;

GST_START_TEST (test_round_trip_scale)
{
  round_trip ("video/x-raw,format=I420,width=1280,height=720",
      "videoscale ! video/x-raw,width=640,height=360", 10);
  round_trip ("video/x-raw,format=NV12,width=1920,height=1080",
      "videoscale ! video/x-raw,width=640,height=360", 5);
}

GST_END_TEST;

GST_START_TEST (test_round_trip_jpeg)
{
  round_trip ("video/x-raw,format=I420,width=640,height=360",
      "jpegenc quality=75 ! jpegdec", 20);
}

GST_END_TEST;

GST_START_TEST (test_round_trip_all)
{
  round_trip ("video/x-raw,format=I420,width=1280,height=720",
      "x264enc bitrate=500 speed-preset=ultrafast ! avdec_h264 ! videoscale ! "
      "video/x-raw,width=640,height=360 ! jpegenc quality=75 ! jpegdec", 20);
}

GST_END_TEST;

static Suite *
lbclockcheck_suite (void)
{
  Suite *s = suite_create ("lbclockcheck");
  TCase *tc = tcase_create ("general");

  g_assert_true (lb_elements_register (NULL));
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_reads_stamp);
  tcase_add_test (tc, test_no_code);
  tcase_add_test (tc, test_damaged_cell);
  tcase_add_test (tc, test_flipped_bit);
  tcase_add_test (tc, test_passthrough_and_counters);
  tcase_add_test (tc, test_refuses_other_caps);
  tcase_add_test (tc, test_round_trip_h264);
  tcase_add_test (tc, test_round_trip_h264_720p);
  tcase_add_test (tc, test_round_trip_scale);
  tcase_add_test (tc, test_round_trip_jpeg);
  tcase_add_test (tc, test_round_trip_all);
  return s;
}

GST_CHECK_MAIN (lbclockcheck);
