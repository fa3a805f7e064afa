/* GstHarness suite for lbhyperlapse */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>

#include "lbelements.h"
#include "lb-elements-test.h"

#define MS GST_MSECOND
#define IN_CAPS "video/x-raw,format=I420,width=64,height=48,framerate=30/1"

typedef struct
{
  GstHarness *h;
  GstBus *bus;
} Lapse;

static Lapse
lapse_new (const gchar * properties)
{
  Lapse l;
  g_autofree gchar *launch = g_strdup_printf ("lbhyperlapse %s", properties);

  l.h = gst_harness_new_parse (launch);
  l.bus = gst_bus_new ();
  gst_element_set_bus (l.h->element, l.bus);
  gst_harness_set_src_caps_str (l.h, IN_CAPS);
  return l;
}

/* Encoded H.264 access units instead of raw video. */
static Lapse
lapse_new_h264 (const gchar * properties)
{
  Lapse l = lapse_new (properties);

  gst_harness_set_src_caps_str (l.h, "video/x-h264,stream-format=avc,"
      "alignment=au,width=64,height=48,framerate=30/1");
  return l;
}

static void
lapse_free (Lapse * l)
{
  gst_element_set_bus (l->h->element, NULL);
  gst_object_unref (l->bus);
  gst_harness_teardown (l->h);
}

/* A frame at @pts whose offset field carries @index (the element leaves it
 * alone), so the test can tell which input frames came out. */
static GstBuffer *
frame (GstClockTime pts, guint64 index)
{
  GstBuffer *buffer = gst_buffer_new_allocate (NULL, 64 * 48 * 3 / 2, NULL);
  GST_BUFFER_PTS (buffer) = pts;
  GST_BUFFER_DTS (buffer) = pts;
  GST_BUFFER_DURATION (buffer) = GST_SECOND / 30;
  GST_BUFFER_OFFSET (buffer) = index;
  return buffer;
}

static void
push_segment (Lapse * l, GstClockTime start, GstClockTime stop)
{
  GstSegment segment;

  gst_segment_init (&segment, GST_FORMAT_TIME);
  segment.start = start;
  segment.stop = stop;
  segment.time = start;
  fail_unless (gst_harness_push_event (l->h, gst_event_new_segment (&segment)));
}

/* Pushes @n frames at 30 fps from @start. */
static void
push_full_rate (Lapse * l, GstClockTime start, guint n)
{
  for (guint i = 0; i < n; i++)
    fail_unless_equals_int (gst_harness_push (l->h, frame (start +
                gst_util_uint64_scale (i, GST_SECOND, 30), i)), GST_FLOW_OK);
}

/* Asserts the output frames are the inputs @indices, re-timed to
 * @fps_n/@fps_d from 0. */
static void
assert_output (Lapse * l, const guint64 * indices, guint n, gint fps_n,
    gint fps_d)
{
  fail_unless_equals_int (gst_harness_buffers_in_queue (l->h), n);
  for (guint i = 0; i < n; i++) {
    g_autoptr (GstBuffer) out = gst_harness_pull (l->h);
    GstClockTime pts = gst_util_uint64_scale (i, fps_d * GST_SECOND, fps_n);
    GstClockTime next = gst_util_uint64_scale (i + 1, fps_d * GST_SECOND,
        fps_n);
    fail_unless_equals_uint64 (GST_BUFFER_OFFSET (out), indices[i]);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (out), pts);
    fail_unless_equals_uint64 (GST_BUFFER_DURATION (out), next - pts);
    fail_unless_equals_uint64 (GST_BUFFER_DTS (out), GST_CLOCK_TIME_NONE);
  }

  /* caps carry the output rate; the segment starts at 0 */
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (l->h->sinkpad);
  gint n_out = 0, d_out = 0;
  fail_unless (gst_structure_get_fraction (gst_caps_get_structure (caps, 0),
          "framerate", &n_out, &d_out));
  fail_unless_equals_int (n_out, fps_n);
  fail_unless_equals_int (d_out, fps_d);
  const GstSegment *segment = NULL;
  GstEvent *event;
  guint segments = 0;
  while ((event = gst_harness_try_pull_event (l->h)) != NULL) {
    if (GST_EVENT_TYPE (event) == GST_EVENT_SEGMENT) {
      gst_event_parse_segment (event, &segment);
      fail_unless_equals_uint64 (segment->start, 0);
      fail_unless_equals_uint64 (segment->stop, GST_CLOCK_TIME_NONE);
      segments++;
    }
    gst_event_unref (event);
  }
  fail_unless_equals_int (segments, 1);
}

/* The EOS message of @l. */
/* Timestamps a few ns early (rounding drift across segment files): the
 * frame of second n is still slot n's, not a second frame in slot n-1 that
 * is dropped. */
GST_START_TEST (test_drifting_timestamps)
{
  static const guint64 all[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
  Lapse l = lapse_new ("interval=1000000000");

  push_segment (&l, 0, 10 * GST_SECOND);
  for (guint i = 0; i < 10; i++)
    fail_unless_equals_int (gst_harness_push (l.h, frame (i * GST_SECOND -
                (i > 0 ? i : 0), i)), GST_FLOW_OK);
  assert_output (&l, all, G_N_ELEMENTS (all), 30, 1);
  lapse_free (&l);
}

GST_END_TEST;

/* Encoded input: only keyframes are kept (a delta frame cannot stand
 * alone), one per interval, re-timed with DTS = PTS; the caps keep their
 * codec and get the output rate. */
GST_START_TEST (test_encoded_keyframes)
{
  Lapse l = lapse_new_h264 ("interval=1000000000 framerate=25/1");

  /* 4 s at 30 fps, a keyframe every 15 frames (0.5 s) */
  for (guint i = 0; i < 120; i++) {
    GstBuffer *b = frame (gst_util_uint64_scale (i, GST_SECOND, 30), i);
    if (i % 15 != 0)
      GST_BUFFER_FLAG_SET (b, GST_BUFFER_FLAG_DELTA_UNIT);
    fail_unless_equals_int (gst_harness_push (l.h, b), GST_FLOW_OK);
  }
  /* a delta frame first in its slot is skipped, not kept: slot 1's first
   * keyframe is frame 30 (1 s), not frame 31 */
  fail_unless_equals_int (gst_harness_buffers_in_queue (l.h), 4);
  for (guint i = 0; i < 4; i++) {
    g_autoptr (GstBuffer) out = gst_harness_pull (l.h);
    fail_unless_equals_uint64 (GST_BUFFER_OFFSET (out), i * 30);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (out), i * GST_SECOND / 25);
    fail_unless_equals_uint64 (GST_BUFFER_DTS (out), GST_BUFFER_PTS (out));
    fail_if (GST_BUFFER_FLAG_IS_SET (out, GST_BUFFER_FLAG_DELTA_UNIT));
  }
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (l.h->sinkpad);
  GstStructure *st = gst_caps_get_structure (caps, 0);
  fail_unless (gst_structure_has_name (st, "video/x-h264"));
  gint n = 0, d = 0;
  fail_unless (gst_structure_get_fraction (st, "framerate", &n, &d));
  fail_unless_equals_int (n, 25);
  fail_unless_equals_int (d, 1);
  lapse_free (&l);
}

GST_END_TEST;

static void
assert_summary (Lapse * l, GstClockTime interval, guint64 in, guint64 out,
    GstClockTime first, GstClockTime last)
{
  fail_unless (gst_harness_push_event (l->h, gst_event_new_eos ()));
  g_autoptr (GstMessage) msg = gst_bus_pop_filtered (l->bus,
      GST_MESSAGE_ELEMENT);
  fail_unless (msg != NULL);
  const GstStructure *s = gst_message_get_structure (msg);
  guint64 v_interval, v_in, v_out, v_first, v_last;
  fail_unless (gst_structure_has_name (s, "lbhyperlapse"));
  fail_unless (gst_structure_get (s, "interval", G_TYPE_UINT64, &v_interval,
          "frames-in", G_TYPE_UINT64, &v_in, "frames-out", G_TYPE_UINT64,
          &v_out, "first-time", G_TYPE_UINT64, &v_first, "last-time",
          G_TYPE_UINT64, &v_last, NULL));
  fail_unless_equals_uint64 (v_interval, interval);
  fail_unless_equals_uint64 (v_in, in);
  fail_unless_equals_uint64 (v_out, out);
  fail_unless_equals_uint64 (v_first, first);
  fail_unless_equals_uint64 (v_last, last);
  fail_unless (gst_bus_pop_filtered (l->bus, GST_MESSAGE_ERROR) == NULL);
}

GST_START_TEST (test_interval)
{
  Lapse l = lapse_new ("interval=500000000 framerate=25/1");
  static const guint64 kept[] = { 0, 15, 30, 45 };

  push_full_rate (&l, 0, 60);
  assert_output (&l, kept, G_N_ELEMENTS (kept), 25, 1);
  assert_summary (&l, 500 * MS, 60, 4, 0, 1500 * MS);
  lapse_free (&l);
}

GST_END_TEST;

/* Slots start at the segment's start, not at the first frame. */
GST_START_TEST (test_slots_from_segment_start)
{
  Lapse l = lapse_new ("interval=1000000000 framerate=30000/1001");
  static const guint64 kept[] = { 0, 15, 45 };

  push_segment (&l, 10 * GST_SECOND - 500 * MS, GST_CLOCK_TIME_NONE);
  /* frames from 10 s: slot [9.5, 10.5) holds frames 0..14 */
  push_full_rate (&l, 10 * GST_SECOND, 60);
  assert_output (&l, kept, G_N_ELEMENTS (kept), 30000, 1001);
  assert_summary (&l, GST_SECOND, 60, 3, 10 * GST_SECOND,
      10 * GST_SECOND + 1500 * MS);
  lapse_free (&l);
}

GST_END_TEST;

/* 10 s of input in 1 s at 10 fps: one frame per second. */
GST_START_TEST (test_target_duration)
{
  Lapse l = lapse_new ("target-duration=1000000000 framerate=10/1");
  guint64 kept[10];

  for (guint i = 0; i < 10; i++)
    kept[i] = i * 30;
  push_segment (&l, 100 * GST_SECOND, 110 * GST_SECOND);
  push_full_rate (&l, 100 * GST_SECOND, 300);
  assert_output (&l, kept, 10, 10, 1);
  assert_summary (&l, GST_SECOND, 300, 10, 100 * GST_SECOND, 109 * GST_SECOND);
  lapse_free (&l);
}

GST_END_TEST;

/* Keyframes once a second: sparser than a 0.5 s interval, so every frame
 * is kept once (none repeated); with 2.5 s slots, the first of each. */
GST_START_TEST (test_sparse_input)
{
  static const guint64 all[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
  static const guint64 some[] = { 0, 3, 5, 8 };
  Lapse l = lapse_new ("interval=500000000");

  for (guint i = 0; i < 10; i++)
    fail_unless_equals_int (gst_harness_push (l.h, frame (i * GST_SECOND, i)),
        GST_FLOW_OK);
  assert_output (&l, all, G_N_ELEMENTS (all), 30, 1);
  assert_summary (&l, 500 * MS, 10, 10, 0, 9 * GST_SECOND);
  lapse_free (&l);

  l = lapse_new ("interval=2500000000");
  for (guint i = 0; i < 10; i++)
    fail_unless_equals_int (gst_harness_push (l.h, frame (i * GST_SECOND, i)),
        GST_FLOW_OK);
  assert_output (&l, some, G_N_ELEMENTS (some), 30, 1);
  assert_summary (&l, 2500 * MS, 10, 4, 0, 8 * GST_SECOND);
  lapse_free (&l);
}

GST_END_TEST;

static void
assert_error (Lapse * l, GQuark domain, gint code, const gchar * text)
{
  g_autoptr (GstMessage) msg = gst_bus_pop_filtered (l->bus, GST_MESSAGE_ERROR);
  g_autoptr (GError) error = NULL;

  fail_unless (msg != NULL);
  gst_message_parse_error (msg, &error, NULL);
  fail_unless (g_error_matches (error, domain, code), "%s", error->message);
  fail_unless (strstr (error->message, text) != NULL, "%s", error->message);
}

GST_START_TEST (test_nothing_set)
{
  Lapse l = lapse_new ("");

  fail_unless_equals_int (gst_harness_push (l.h, frame (0, 0)), GST_FLOW_ERROR);
  assert_error (&l, GST_LIBRARY_ERROR, GST_LIBRARY_ERROR_SETTINGS,
      "interval or target-duration");
  lapse_free (&l);
}

GST_END_TEST;

GST_START_TEST (test_target_duration_unbounded)
{
  Lapse l = lapse_new ("target-duration=1000000000");

  fail_unless_equals_int (gst_harness_push (l.h, frame (0, 0)), GST_FLOW_ERROR);
  assert_error (&l, GST_STREAM_ERROR, GST_STREAM_ERROR_FAILED, "no known end");
  fail_unless_equals_int (gst_harness_buffers_in_queue (l.h), 0);
  lapse_free (&l);
}

GST_END_TEST;

GST_START_TEST (test_no_frame)
{
  Lapse l = lapse_new ("interval=1000000000");

  fail_unless_equals_int (gst_harness_push (l.h, frame (GST_CLOCK_TIME_NONE,
              0)), GST_FLOW_OK);
  fail_if (gst_harness_push_event (l.h, gst_event_new_eos ()));
  assert_error (&l, GST_STREAM_ERROR, GST_STREAM_ERROR_FAILED, "No frame");
  lapse_free (&l);
}

GST_END_TEST;

GST_START_TEST (test_caps_query)
{
  GstHarness *h = gst_harness_new ("lbhyperlapse");

  /* downstream takes 25 fps only; upstream offers 30: still accepted */
  gst_harness_set_sink_caps_str (h, "video/x-raw,format=I420,width=64,"
      "height=48,framerate=25/1");
  g_object_set (h->element, "framerate", 25, 1, NULL);
  g_autoptr (GstCaps) offered = gst_caps_from_string (IN_CAPS);
  fail_unless (gst_pad_peer_query_accept_caps (h->srcpad, offered));
  g_autoptr (GstCaps) caps = gst_pad_peer_query_caps (h->srcpad, NULL);
  fail_unless (gst_caps_can_intersect (caps, offered));
  g_autoptr (GstCaps) wrong = gst_caps_from_string ("video/x-raw,"
      "format=NV12,width=64,height=48,framerate=30/1");
  fail_if (gst_pad_peer_query_accept_caps (h->srcpad, wrong));
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_properties)
{
  GstElement *e = gst_element_factory_make ("lbhyperlapse", NULL);
  guint64 interval = 1, target = 1;
  GValue fps = G_VALUE_INIT;

  g_object_get (e, "interval", &interval, "target-duration", &target, NULL);
  fail_unless_equals_uint64 (interval, 0);
  fail_unless_equals_uint64 (target, 0);
  g_value_init (&fps, GST_TYPE_FRACTION);
  g_object_get_property (G_OBJECT (e), "framerate", &fps);
  fail_unless_equals_int (gst_value_get_fraction_numerator (&fps), 30);
  fail_unless_equals_int (gst_value_get_fraction_denominator (&fps), 1);
  gst_util_set_object_arg (G_OBJECT (e), "framerate", "24000/1001");
  g_object_get_property (G_OBJECT (e), "framerate", &fps);
  fail_unless_equals_int (gst_value_get_fraction_numerator (&fps), 24000);
  fail_unless_equals_int (gst_value_get_fraction_denominator (&fps), 1001);
  g_value_unset (&fps);
  gst_object_unref (e);
}

GST_END_TEST;

/* In a pipeline with an encoder and a muxer behind it. */
GST_START_TEST (test_pipeline)
{
  g_autoptr (LbTestRun) run = lb_test_run_launch ("videotestsrc "
      "num-buffers=300 ! video/x-raw,format=I420,width=160,height=120,"
      "framerate=30/1 ! lbhyperlapse interval=1000000000 "
      "framerate=15/1 ! x264enc speed-preset=ultrafast ! mp4mux ! fakesink",
      GST_CLOCK_TIME_NONE, 30);

  fail_unless (run->error == NULL, "%s", run->error->message);
  fail_unless (run->eos);
  g_autoptr (GPtrArray) msgs = lb_test_run_messages (run, "lbhyperlapse");
  fail_unless_equals_int (msgs->len, 1);
  guint64 out = 0;
  fail_unless (gst_structure_get_uint64 (g_ptr_array_index (msgs, 0),
          "frames-out", &out));
  fail_unless_equals_uint64 (out, 10);
}

GST_END_TEST;

static Suite *
lbhyperlapse_suite (void)
{
  Suite *s = suite_create ("lbhyperlapse");
  TCase *tc = tcase_create ("general");

  g_assert_true (lb_elements_register (NULL));
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_interval);
  tcase_add_test (tc, test_slots_from_segment_start);
  tcase_add_test (tc, test_target_duration);
  tcase_add_test (tc, test_sparse_input);
  tcase_add_test (tc, test_encoded_keyframes);
  tcase_add_test (tc, test_drifting_timestamps);
  tcase_add_test (tc, test_nothing_set);
  tcase_add_test (tc, test_target_duration_unbounded);
  tcase_add_test (tc, test_no_frame);
  tcase_add_test (tc, test_caps_query);
  tcase_add_test (tc, test_properties);
  tcase_add_test (tc, test_pipeline);
  return s;
}

GST_CHECK_MAIN (lbhyperlapse);
