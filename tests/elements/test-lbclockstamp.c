/* GstHarness suite for lbclockstamp */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>

#include "lbclockcode.h"
#include "lbelements.h"
#include "lb-elements-test.h"

#define BASE_TIME (G_GUINT64_CONSTANT (1767225600) * GST_SECOND)        /* 2026-01-01 */
#define WIDTH 320
#define HEIGHT 180

/* Reads the code of @buffer (of @format, WIDTH×HEIGHT). */
static LbClockCodeResult
read_code (GstBuffer * buffer, GstVideoFormat format, gint64 * stamp)
{
  GstVideoInfo info;
  GstVideoFrame frame;

  gst_video_info_set_format (&info, format, WIDTH, HEIGHT);
  fail_unless (gst_video_frame_map (&frame, &info, buffer, GST_MAP_READ));
  LbClockCodeResult result = lb_clock_code_read (&frame, stamp);
  gst_video_frame_unmap (&frame);
  return result;
}

static GstHarness *
new_harness (GstVideoFormat format)
{
  GstHarness *h = gst_harness_new ("lbclockstamp");
  g_autoptr (GstCaps) caps = lb_test_frame_caps (format, WIDTH, HEIGHT);

  gst_harness_set_src_caps (h, g_steal_pointer (&caps));
  return h;
}

GST_START_TEST (test_formats)
{
  static const GstVideoFormat formats[] = {
    GST_VIDEO_FORMAT_I420, GST_VIDEO_FORMAT_YV12, GST_VIDEO_FORMAT_NV12,
    GST_VIDEO_FORMAT_NV21, GST_VIDEO_FORMAT_Y42B, GST_VIDEO_FORMAT_Y444,
    GST_VIDEO_FORMAT_Y41B, GST_VIDEO_FORMAT_GRAY8,
  };

  for (guint i = 0; i < G_N_ELEMENTS (formats); i++) {
    GstHarness *h = new_harness (formats[i]);
    gint64 stamp = 0;
    GstVideoInfo info;
    GstVideoFrame frame;

    gst_element_set_base_time (h->element, BASE_TIME);
    fail_unless_equals_int (gst_harness_push (h, lb_test_make_frame (formats[i],
                WIDTH, HEIGHT, 100, 60, GST_SECOND)), GST_FLOW_OK);
    g_autoptr (GstBuffer) out = gst_harness_pull (h);

    fail_unless_equals_int (read_code (out, formats[i], &stamp),
        LB_CLOCK_CODE_OK);
    fail_unless_equals_int64 (stamp, BASE_TIME + GST_SECOND);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (out), GST_SECOND);

    /* the band holds only black and white luma over neutral chroma; the
     * picture below it is untouched */
    gst_video_info_set_format (&info, formats[i], WIDTH, HEIGHT);
    fail_unless (gst_video_frame_map (&frame, &info, out, GST_MAP_READ));
    const guint8 *y = GST_VIDEO_FRAME_COMP_DATA (&frame, 0);
    gint ys = GST_VIDEO_FRAME_COMP_STRIDE (&frame, 0);
    for (gint row = 0; row < HEIGHT / 4; row++)
      for (gint x = 0; x < WIDTH; x++)
        fail_unless (y[row * ys + x] == 16 || y[row * ys + x] == 235);
    fail_unless_equals_int (y[(HEIGHT / 4) * ys], 100);
    fail_unless_equals_int (y[(HEIGHT - 1) * ys + WIDTH - 1], 100);
    for (guint c = 1; c < GST_VIDEO_FRAME_N_COMPONENTS (&frame); c++) {
      const guint8 *d = GST_VIDEO_FRAME_COMP_DATA (&frame, c);
      gint s = GST_VIDEO_FRAME_COMP_STRIDE (&frame, c);
      gint ps = GST_VIDEO_FRAME_COMP_PSTRIDE (&frame, c);
      gint h2 = GST_VIDEO_FRAME_COMP_HEIGHT (&frame, c);
      fail_unless_equals_int (d[0], 128);
      fail_unless_equals_int (d[(h2 / 8) * s + 3 * ps], 128);
      fail_unless_equals_int (d[(h2 - 1) * s], 60);
    }
    gst_video_frame_unmap (&frame);
    gst_harness_teardown (h);
  }
}

GST_END_TEST;

GST_START_TEST (test_refuses_other_caps)
{
  GstHarness *h = gst_harness_new ("lbclockstamp");

  gst_harness_set_src_caps_str (h,
      "video/x-raw,format=RGB,width=320,height=180,framerate=30/1");
  fail_unless_equals_int (gst_harness_push (h,
          gst_buffer_new_allocate (NULL, 320 * 180 * 3, NULL)),
      GST_FLOW_NOT_NEGOTIATED);
  gst_harness_teardown (h);

  /* too small for cells that survive compression */
  h = gst_harness_new ("lbclockstamp");
  gst_harness_set_src_caps_str (h,
      "video/x-raw,format=I420,width=64,height=32,framerate=30/1");
  fail_unless_equals_int (gst_harness_push (h,
          lb_test_make_frame (GST_VIDEO_FORMAT_I420, 64, 32, 0, 0, 0)),
      GST_FLOW_NOT_NEGOTIATED);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* Pushes three frames at 12 s + i/30 in a segment starting at 10 s (base
 * 5 s) with the base time BASE_TIME, and checks each stamp is @offset plus
 * the PTS, minus @minus. */
static void
check_three_stamps (GstHarness * h, gint64 offset, gint64 minus)
{
  GstSegment segment;
  gint64 stamp = 0;

  gst_segment_init (&segment, GST_FORMAT_TIME);
  segment.start = 10 * GST_SECOND;
  segment.base = 5 * GST_SECOND;
  fail_unless (gst_harness_push_event (h, gst_event_new_segment (&segment)));
  gst_element_set_base_time (h->element, BASE_TIME);

  for (guint i = 0; i < 3; i++) {
    GstClockTime pts = 12 * GST_SECOND + i * GST_SECOND / 30;
    fail_unless_equals_int (gst_harness_push (h,
            lb_test_make_frame (GST_VIDEO_FORMAT_I420, WIDTH, HEIGHT, 50, 50,
                pts)), GST_FLOW_OK);
    g_autoptr (GstBuffer) out = gst_harness_pull (h);
    fail_unless_equals_int (read_code (out, GST_VIDEO_FORMAT_I420, &stamp),
        LB_CLOCK_CODE_OK);
    fail_unless_equals_int64 (stamp, offset + (gint64) pts - minus);
  }
}

/* running-time: base time + running time (PTS − segment start + base). */
GST_START_TEST (test_running_time)
{
  GstHarness *h = new_harness (GST_VIDEO_FORMAT_I420);

  check_three_stamps (h, BASE_TIME, 5 * GST_SECOND);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* source=pts draws PTS + offset, whatever the segment and base time. */
GST_START_TEST (test_source_pts)
{
  GstHarness *h = new_harness (GST_VIDEO_FORMAT_I420);
  const gint64 offset = G_GINT64_CONSTANT (1767607200000000000);

  gst_util_set_object_arg (G_OBJECT (h->element), "source", "pts");
  g_object_set (h->element, "offset", offset, NULL);
  check_three_stamps (h, offset, 0);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* clock: the pipeline clock's time when the frame passes */
GST_START_TEST (test_source_clock)
{
  GstHarness *h = new_harness (GST_VIDEO_FORMAT_NV12);
  gint64 stamp = 0;

  gst_util_set_object_arg (G_OBJECT (h->element), "source", "clock");
  gst_harness_use_testclock (h);
  fail_unless (gst_harness_set_time (h, BASE_TIME + 42 * GST_MSECOND));

  fail_unless_equals_int (gst_harness_push (h,
          lb_test_make_frame (GST_VIDEO_FORMAT_NV12, WIDTH, HEIGHT, 50, 50,
              0)), GST_FLOW_OK);
  g_autoptr (GstBuffer) out = gst_harness_pull (h);
  fail_unless_equals_int (read_code (out, GST_VIDEO_FORMAT_NV12, &stamp),
      LB_CLOCK_CODE_OK);
  fail_unless_equals_int64 (stamp, BASE_TIME + 42 * GST_MSECOND);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* wall: the running-time stamp moved by (wall clock − pipeline clock): a
 * frame passing when the pipeline clock says it is captured is stamped
 * with the wall clock's time then. */
GST_START_TEST (test_source_wall)
{
  GstHarness *h = new_harness (GST_VIDEO_FORMAT_I420);
  GstSegment segment;
  gint64 stamp = 0;

  gst_util_set_object_arg (G_OBJECT (h->element), "source", "wall");
  gst_harness_use_testclock (h);
  gst_segment_init (&segment, GST_FORMAT_TIME);
  fail_unless (gst_harness_push_event (h, gst_event_new_segment (&segment)));
  gst_element_set_base_time (h->element, BASE_TIME);
  fail_unless (gst_harness_set_time (h, BASE_TIME + 3 * GST_SECOND));
  gint64 before = g_get_real_time () * 1000;
  fail_unless_equals_int (gst_harness_push (h,
          lb_test_make_frame (GST_VIDEO_FORMAT_I420, WIDTH, HEIGHT, 50, 50,
              3 * GST_SECOND)), GST_FLOW_OK);
  gint64 after = g_get_real_time () * 1000;
  g_autoptr (GstBuffer) out = gst_harness_pull (h);
  fail_unless_equals_int (read_code (out, GST_VIDEO_FORMAT_I420, &stamp),
      LB_CLOCK_CODE_OK);
  fail_unless (stamp >= before && stamp <= after);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* Without a time to draw the frame passes unchanged and the element warns
 * once on the bus. */
static void
check_unstamped (GstHarness * h, GstBuffer * in)
{
  g_autoptr (GstBus) bus = gst_bus_new ();
  gint64 stamp;

  gst_element_set_bus (h->element, bus);
  for (guint i = 0; i < 2; i++) {
    fail_unless_equals_int (gst_harness_push (h, gst_buffer_copy_deep (in)),
        GST_FLOW_OK);
    g_autoptr (GstBuffer) out = gst_harness_pull (h);
    fail_unless_equals_int (read_code (out, GST_VIDEO_FORMAT_I420, &stamp),
        LB_CLOCK_CODE_NONE);
    GstMapInfo a, b;
    fail_unless (gst_buffer_map (out, &a, GST_MAP_READ));
    fail_unless (gst_buffer_map (in, &b, GST_MAP_READ));
    fail_unless (a.size == b.size && memcmp (a.data, b.data, a.size) == 0);
    gst_buffer_unmap (out, &a);
    gst_buffer_unmap (in, &b);
  }
  g_autoptr (GstMessage) msg = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING);
  fail_unless (msg != NULL);
  g_autoptr (GError) warning = NULL;
  gst_message_parse_warning (msg, &warning, NULL);
  fail_unless (strstr (warning->message, "without a time stamp") != NULL,
      "%s", warning->message);
  g_autoptr (GstMessage) second = gst_bus_pop_filtered (bus,
      GST_MESSAGE_WARNING);
  fail_unless (second == NULL);
  gst_element_set_bus (h->element, NULL);
}

GST_START_TEST (test_no_timestamp)
{
  GstHarness *h = new_harness (GST_VIDEO_FORMAT_I420);
  g_autoptr (GstBuffer) in = lb_test_make_frame (GST_VIDEO_FORMAT_I420,
      WIDTH, HEIGHT, 80, 128, GST_CLOCK_TIME_NONE);

  check_unstamped (h, in);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_no_clock)
{
  GstElement *element = gst_element_factory_make ("lbclockstamp", NULL);
  g_autoptr (GstBuffer) in = lb_test_make_frame (GST_VIDEO_FORMAT_I420,
      WIDTH, HEIGHT, 80, 128, 0);

  gst_util_set_object_arg (G_OBJECT (element), "source", "clock");
  GstHarness *h = gst_harness_new_with_element (element, "sink", "src");
  g_autoptr (GstCaps) caps = lb_test_frame_caps (GST_VIDEO_FORMAT_I420,
      WIDTH, HEIGHT);
  gst_harness_set_src_caps (h, g_steal_pointer (&caps));
  gst_element_set_clock (h->element, NULL);
  fail_unless (gst_element_get_clock (h->element) == NULL);

  check_unstamped (h, in);
  gst_harness_teardown (h);
  gst_object_unref (element);
}

GST_END_TEST;

GST_START_TEST (test_properties)
{
  GstElement *element = gst_element_factory_make ("lbclockstamp", NULL);
  GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS
      (element), "source");
  GEnumClass *enum_class = G_PARAM_SPEC_ENUM (pspec)->enum_class;
  gint source = -1;

  fail_unless (pspec->flags & G_PARAM_WRITABLE);
  fail_unless (g_param_spec_get_blurb (pspec) != NULL);
  g_object_get (element, "source", &source, NULL);
  fail_unless_equals_string (g_enum_get_value (enum_class, source)->value_nick,
      "running-time");
  gst_util_set_object_arg (G_OBJECT (element), "source", "clock");
  g_object_get (element, "source", &source, NULL);
  fail_unless_equals_string (g_enum_get_value (enum_class, source)->value_nick,
      "clock");
  fail_unless (g_enum_get_value_by_nick (enum_class, "running-time") != NULL);
  gst_object_unref (element);
}

GST_END_TEST;

GST_START_TEST (test_eos)
{
  GstHarness *h = new_harness (GST_VIDEO_FORMAT_I420);

  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  GstEvent *event;
  gboolean eos = FALSE;
  while ((event = gst_harness_try_pull_event (h)) != NULL) {
    eos |= GST_EVENT_TYPE (event) == GST_EVENT_EOS;
    gst_event_unref (event);
  }
  fail_unless (eos);
  gst_harness_teardown (h);
}

GST_END_TEST;

static Suite *
lbclockstamp_suite (void)
{
  Suite *s = suite_create ("lbclockstamp");
  TCase *tc = tcase_create ("general");

  g_assert_true (lb_elements_register (NULL));
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_formats);
  tcase_add_test (tc, test_refuses_other_caps);
  tcase_add_test (tc, test_running_time);
  tcase_add_test (tc, test_source_clock);
  tcase_add_test (tc, test_source_wall);
  tcase_add_test (tc, test_source_pts);
  tcase_add_test (tc, test_no_timestamp);
  tcase_add_test (tc, test_no_clock);
  tcase_add_test (tc, test_properties);
  tcase_add_test (tc, test_eos);
  return s;
}

GST_CHECK_MAIN (lbclockstamp);
