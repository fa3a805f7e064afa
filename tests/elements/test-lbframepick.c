/* GstHarness suite for lbframepick */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>

#include "lbelements.h"
#include "lb-elements-test.h"

#define MS GST_MSECOND

typedef struct
{
  GstHarness *h;
  GstBus *bus;
} Pick;

static Pick
pick_new (GstClockTime target)
{
  Pick p;

  p.h = gst_harness_new ("lbframepick");
  p.bus = gst_bus_new ();
  gst_element_set_bus (p.h->element, p.bus);
  g_object_set (p.h->element, "target-time", (guint64) target, NULL);
  gst_harness_set_src_caps_str (p.h, "video/x-raw,format=I420,width=64,"
      "height=48,framerate=10/1");
  return p;
}

static void
pick_free (Pick * p)
{
  gst_element_set_bus (p->h->element, NULL);
  gst_object_unref (p->bus);
  gst_harness_teardown (p->h);
}

static GstBuffer *
frame (GstClockTime pts)
{
  GstBuffer *buffer = gst_buffer_new_allocate (NULL, 64 * 48 * 3 / 2, NULL);
  GST_BUFFER_PTS (buffer) = pts;
  GST_BUFFER_DURATION (buffer) = 100 * MS;
  return buffer;
}

/* Asserts the one buffer out has @pts, EOS follows, and the message says
 * so. */
static void
assert_picked (Pick * p, GstClockTime target, GstClockTime pts, guint64 frames)
{
  fail_unless_equals_int (gst_harness_buffers_in_queue (p->h), 1);
  g_autoptr (GstBuffer) out = gst_harness_pull (p->h);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (out), pts);

  gboolean eos = FALSE;
  GstEvent *event;
  while ((event = gst_harness_try_pull_event (p->h)) != NULL) {
    eos |= GST_EVENT_TYPE (event) == GST_EVENT_EOS;
    gst_event_unref (event);
  }
  fail_unless (eos);

  g_autoptr (GstMessage) msg = gst_bus_pop_filtered (p->bus,
      GST_MESSAGE_ELEMENT);
  fail_unless (msg != NULL);
  const GstStructure *s = gst_message_get_structure (msg);
  guint64 target_time = 0, frame_time = 0, n = 0;
  gint64 dist = 0;
  fail_unless (gst_structure_has_name (s, "lbframepick"));
  fail_unless (gst_structure_get (s, "target-time", G_TYPE_UINT64,
          &target_time, "frame-time", G_TYPE_UINT64, &frame_time,
          "distance", G_TYPE_INT64, &dist, "frames", G_TYPE_UINT64, &n, NULL));
  fail_unless_equals_uint64 (target_time, target);
  fail_unless_equals_uint64 (frame_time, pts);
  fail_unless_equals_int64 (dist, (gint64) pts - (gint64) target);
  fail_unless_equals_uint64 (n, frames);
  fail_unless (gst_bus_pop_filtered (p->bus, GST_MESSAGE_ERROR) == NULL);
}

/* Pushes frames every 100 ms from 0 until the element says EOS. */
static guint
push_until_eos (Pick * p, guint max)
{
  for (guint i = 0; i < max; i++) {
    GstFlowReturn ret = gst_harness_push (p->h, frame (i * 100 * MS));
    if (ret == GST_FLOW_EOS)
      return i + 1;
    fail_unless_equals_int (ret, GST_FLOW_OK);
    fail_unless_equals_int (gst_harness_buffers_in_queue (p->h), 0);
  }
  return max;
}

GST_START_TEST (test_nearest_after)
{
  Pick p = pick_new (260 * MS);

  fail_unless_equals_int (push_until_eos (&p, 10), 4);
  assert_picked (&p, 260 * MS, 300 * MS, 4);
  pick_free (&p);
}

GST_END_TEST;

/* Frame 200 ms lasts to 300 ms: 40 ms from the target, it is nearer than
 * any later frame can be, so it is passed without waiting for the next. */
GST_START_TEST (test_nearest_before)
{
  Pick p = pick_new (240 * MS);

  fail_unless_equals_int (push_until_eos (&p, 10), 3);
  assert_picked (&p, 240 * MS, 200 * MS, 3);
  pick_free (&p);
}

GST_END_TEST;

GST_START_TEST (test_tie_goes_to_earlier)
{
  Pick p = pick_new (250 * MS);

  fail_unless_equals_int (push_until_eos (&p, 10), 3);
  assert_picked (&p, 250 * MS, 200 * MS, 3);
  pick_free (&p);
}

GST_END_TEST;

/* Without durations the element cannot know where the next frame falls:
 * it waits for the first frame at or after the target. */
GST_START_TEST (test_no_duration_waits)
{
  Pick p = pick_new (240 * MS);

  for (guint i = 0; i < 3; i++) {
    GstBuffer *b = frame (i * 100 * MS);
    GST_BUFFER_DURATION (b) = GST_CLOCK_TIME_NONE;
    fail_unless_equals_int (gst_harness_push (p.h, b), GST_FLOW_OK);
  }
  fail_unless_equals_int (gst_harness_buffers_in_queue (p.h), 0);
  GstBuffer *b = frame (300 * MS);
  GST_BUFFER_DURATION (b) = GST_CLOCK_TIME_NONE;
  fail_unless_equals_int (gst_harness_push (p.h, b), GST_FLOW_EOS);
  assert_picked (&p, 240 * MS, 200 * MS, 4);
  pick_free (&p);
}

GST_END_TEST;

GST_START_TEST (test_exact)
{
  Pick p = pick_new (200 * MS);

  fail_unless_equals_int (push_until_eos (&p, 10), 3);
  assert_picked (&p, 200 * MS, 200 * MS, 3);
  pick_free (&p);
}

GST_END_TEST;

GST_START_TEST (test_target_before_first_frame)
{
  Pick p = pick_new (0);

  fail_unless_equals_int (gst_harness_push (p.h, frame (5 * GST_SECOND)),
      GST_FLOW_EOS);
  assert_picked (&p, 0, 5 * GST_SECOND, 1);
  pick_free (&p);
}

GST_END_TEST;

/* The stream ends before the target: the last frame is the nearest. */
GST_START_TEST (test_stream_ends_first)
{
  Pick p = pick_new (10 * GST_SECOND);

  fail_unless_equals_int (push_until_eos (&p, 4), 4);
  fail_unless_equals_int (gst_harness_buffers_in_queue (p.h), 0);
  fail_unless (gst_harness_push_event (p.h, gst_event_new_eos ()));
  assert_picked (&p, 10 * GST_SECOND, 300 * MS, 4);
  pick_free (&p);
}

GST_END_TEST;

GST_START_TEST (test_after_the_pick)
{
  Pick p = pick_new (0);

  fail_unless_equals_int (gst_harness_push (p.h, frame (0)), GST_FLOW_EOS);
  fail_unless_equals_int (gst_harness_push (p.h, frame (100 * MS)),
      GST_FLOW_EOS);
  /* upstream's EOS after ours is not repeated */
  fail_unless (gst_harness_push_event (p.h, gst_event_new_eos ()));
  assert_picked (&p, 0, 0, 1);
  fail_unless_equals_int (gst_harness_events_in_queue (p.h), 0);
  pick_free (&p);
}

GST_END_TEST;

static void
assert_no_frame_error (Pick * p)
{
  fail_if (gst_harness_push_event (p->h, gst_event_new_eos ()));
  fail_unless_equals_int (gst_harness_buffers_in_queue (p->h), 0);
  g_autoptr (GstMessage) msg = gst_bus_pop_filtered (p->bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL);
  fail_unless_message_error (msg, STREAM, FAILED);
  g_autoptr (GError) error = NULL;
  gst_message_parse_error (msg, &error, NULL);
  fail_unless (strstr (error->message, "No frame to pick") != NULL, "%s",
      error->message);
}

GST_START_TEST (test_no_frame)
{
  Pick p = pick_new (GST_SECOND);

  assert_no_frame_error (&p);
  pick_free (&p);
}

GST_END_TEST;

GST_START_TEST (test_untimestamped_ignored)
{
  Pick p = pick_new (GST_SECOND);

  fail_unless_equals_int (gst_harness_push (p.h, frame (GST_CLOCK_TIME_NONE)),
      GST_FLOW_OK);
  assert_no_frame_error (&p);
  pick_free (&p);
}

GST_END_TEST;

GST_START_TEST (test_flush_starts_over)
{
  Pick p = pick_new (0);

  fail_unless_equals_int (gst_harness_push (p.h, frame (0)), GST_FLOW_EOS);
  gst_buffer_unref (gst_harness_pull (p.h));
  fail_unless (gst_harness_push_event (p.h, gst_event_new_flush_start ()));
  fail_unless (gst_harness_push_event (p.h, gst_event_new_flush_stop (TRUE)));
  GstEvent *event;
  while ((event = gst_harness_try_pull_event (p.h)) != NULL)
    gst_event_unref (event);
  gst_message_unref (gst_bus_pop_filtered (p.bus, GST_MESSAGE_ELEMENT));

  g_object_set (p.h->element, "target-time", (guint64) 150 * MS, NULL);
  fail_unless (gst_harness_push_event (p.h, gst_event_new_segment (&(GstSegment) {
              .format = GST_FORMAT_TIME,.rate = 1.0,.applied_rate =
                1.0,.stop = -1,.duration = -1,.position = 0}
          )));
  /* 100 ms is a tie with 200 ms: passed as soon as it arrives */
  fail_unless_equals_int (push_until_eos (&p, 10), 2);
  assert_picked (&p, 150 * MS, 100 * MS, 2);
  pick_free (&p);
}

GST_END_TEST;

GST_START_TEST (test_caps_and_properties)
{
  Pick p = pick_new (42);
  guint64 target = 0;

  fail_unless_equals_int (gst_harness_push (p.h, frame (0)), GST_FLOW_EOS);
  assert_picked (&p, 42, 0, 1);
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (p.h->sinkpad);
  g_autoptr (GstCaps) expected = gst_caps_from_string ("video/x-raw,"
      "format=I420,width=64,height=48,framerate=10/1");
  fail_unless (gst_caps_is_equal (caps, expected));
  g_object_get (p.h->element, "target-time", &target, NULL);
  fail_unless_equals_uint64 (target, 42);
  pick_free (&p);

  GstElement *element = gst_element_factory_make ("lbframepick", NULL);
  g_object_get (element, "target-time", &target, NULL);
  fail_unless_equals_uint64 (target, 0);
  gst_object_unref (element);
}

GST_END_TEST;

/* In a pipeline: decoded video, the nearest frame, one JPEG; upstream
 * stops at the EOS it gets back. */
GST_START_TEST (test_pipeline)
{
  g_autoptr (LbTestRun) run = lb_test_run_launch ("videotestsrc "
      "num-buffers=90 ! video/x-raw,format=I420,width=160,height=120,"
      "framerate=30/1 ! jpegenc ! jpegdec ! "
      "lbframepick target-time=2010000000 ! jpegenc ! fakesink",
      GST_CLOCK_TIME_NONE, 30);

  fail_unless (run->error == NULL);
  fail_unless (run->eos);
  g_autoptr (GPtrArray) picks = lb_test_run_messages (run, "lbframepick");
  fail_unless_equals_int (picks->len, 1);
  guint64 frame_time = 0;
  fail_unless (gst_structure_get_uint64 (g_ptr_array_index (picks, 0),
          "frame-time", &frame_time));
  /* frame 60 is at 2.000 s, 61 at 2.033 s */
  fail_unless_equals_uint64 (frame_time, 2 * GST_SECOND);
}

GST_END_TEST;

static Suite *
lbframepick_suite (void)
{
  Suite *s = suite_create ("lbframepick");
  TCase *tc = tcase_create ("general");

  g_assert_true (lb_elements_register (NULL));
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_nearest_after);
  tcase_add_test (tc, test_nearest_before);
  tcase_add_test (tc, test_tie_goes_to_earlier);
  tcase_add_test (tc, test_no_duration_waits);
  tcase_add_test (tc, test_exact);
  tcase_add_test (tc, test_target_before_first_frame);
  tcase_add_test (tc, test_stream_ends_first);
  tcase_add_test (tc, test_after_the_pick);
  tcase_add_test (tc, test_no_frame);
  tcase_add_test (tc, test_untimestamped_ignored);
  tcase_add_test (tc, test_flush_starts_over);
  tcase_add_test (tc, test_caps_and_properties);
  tcase_add_test (tc, test_pipeline);
  return s;
}

GST_CHECK_MAIN (lbframepick);
