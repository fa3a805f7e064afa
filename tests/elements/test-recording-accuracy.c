/* Accuracy of the lookback elements on stamped footage: every frame of a
 * 40 s recording carries its wall-clock time (lbclockstamp); the recording
 * goes through x264, the segment sink (5 s files, 1 s GOPs) and the
 * indexer; lbrecordingsrc reads it back and lbclockcheck reads the stamps
 * of what comes out. */
#include <gst/check/gstcheck.h>

#include "lbelements.h"
#include "lb-elements-test.h"
#include "lb-footage-test.h"

#define WALL0 (G_GINT64_CONSTANT (1767225600) * GST_SECOND)     /* 2026-01-01T00:00:00Z */
#define SEC GST_SECOND
#define MS GST_MSECOND
#define N_FRAMES (40 * LB_TEST_FPS)
#define FRAME(i) LB_TEST_FRAME_TIME (WALL0, (i))

/* The recording, made before the tests fork: 40 s in 5 s files. */
static gchar *store_dir;
static gchar *db;

static void
record (const gchar * path)
{
  g_autoptr (GPtrArray) files = lb_test_record (path, "bus", "front", WALL0,
      N_FRAMES, 5 * SEC);
  g_assert_cmpuint (files->len, ==, 8);
}

/* The frame nearest @target (the earlier on a tie). */
static guint
nearest_frame (gint64 target)
{
  if (target <= FRAME (0))
    return 0;
  guint i = (guint) gst_util_uint64_scale (target - WALL0, LB_TEST_FPS, SEC);
  if (i >= N_FRAMES - 1)
    return N_FRAMES - 1;
  /* FRAME (i) <= target < FRAME (i + 1) */
  return target - FRAME (i) <= FRAME (i + 1) - target ? i : i + 1;
}

/* PTS come back through the MP4 timescale: they may differ from the
 * stamps (ns truncated by videotestsrc) by a rounding; allow 1 µs. */
#define ROUNDING 1000

/* The stamps lbclockcheck read, in order; every frame must be readable and
 * its PTS must be its stamp, except that the decoder moves the PTS of a
 * frame that starts before the segment to the segment's start
 * (@clipped_start, or -1). */
static GArray *
stamps_of (LbTestRun * run, gint64 clipped_start)
{
  g_autoptr (GPtrArray) checks = lb_test_run_messages (run, "lbclockcheck");
  GArray *stamps = g_array_new (FALSE, FALSE, sizeof (gint64));

  for (guint i = 0; i < checks->len; i++) {
    GstStructure *s = g_ptr_array_index (checks, i);
    gboolean readable = FALSE;
    gint64 stamp = 0;
    guint64 pts = 0;
    fail_unless (gst_structure_get_boolean (s, "readable", &readable) &&
        readable, "frame %u: %" GST_PTR_FORMAT, i, s);
    fail_unless (gst_structure_get_int64 (s, "stamp", &stamp));
    fail_unless (gst_structure_get_uint64 (s, "pts", &pts));
    if (i == 0 && (gint64) pts == clipped_start)
      fail_unless (stamp < clipped_start &&
          stamp + SEC / LB_TEST_FPS > clipped_start);
    else
      fail_unless (ABS ((gint64) pts - stamp) <= ROUNDING, "PTS %"
          G_GUINT64_FORMAT " of the frame stamped %" G_GINT64_FORMAT, pts,
          stamp);
    g_array_append_val (stamps, stamp);
  }
  return stamps;
}

static void
check_target (gint64 target)
{
  g_autofree gchar *description = g_strdup_printf ("lbrecordingsrc "
      "db=\"%s\" vehicle=bus input=front start-time=%" G_GINT64_FORMAT
      " end-time=%" G_GINT64_FORMAT " ! avdec_h264 ! lbframepick "
      "target-time=%" G_GINT64_FORMAT " ! lbclockcheck ! fakesink", db,
      target - 500 * MS, target + 500 * MS, target);
  g_autoptr (LbTestRun) run = lb_test_run_launch (description,
      GST_CLOCK_TIME_NONE, 30);
  guint expected = nearest_frame (target);

  fail_unless (run->error == NULL, "target %" G_GINT64_FORMAT ": %s",
      target, run->error ? run->error->message : "");
  fail_unless (run->eos);

  g_autoptr (GArray) stamps = stamps_of (run, target - 500 * MS);
  fail_unless_equals_int (stamps->len, 1);
  gint64 stamp = g_array_index (stamps, gint64, 0);
  /* the nearest frame; on a tie within the rounding either neighbour */
  if (stamp != FRAME (expected)) {
    gint64 best = ABS (FRAME (expected) - target);
    fail_unless (ABS (ABS (stamp - target) - best) <= ROUNDING,
        "target %" G_GINT64_FORMAT ": got the frame stamped %" G_GINT64_FORMAT
        ", expected %" G_GINT64_FORMAT, target, stamp, FRAME (expected));
  }
  if (target >= FRAME (0) && target <= FRAME (N_FRAMES - 1))
    fail_unless (ABS (stamp - target) <= SEC / LB_TEST_FPS / 2 + ROUNDING,
        "target %" G_GINT64_FORMAT ": stamp %" G_GINT64_FORMAT, target, stamp);

  g_autoptr (GPtrArray) picks = lb_test_run_messages (run, "lbframepick");
  fail_unless_equals_int (picks->len, 1);
  guint64 frame_time = 0, target_time = 0;
  gint64 distance = 0;
  fail_unless (gst_structure_get (g_ptr_array_index (picks, 0), "frame-time",
          G_TYPE_UINT64, &frame_time, "target-time", G_TYPE_UINT64,
          &target_time, "distance", G_TYPE_INT64, &distance, NULL));
  fail_unless_equals_int64 ((gint64) target_time, target);
  fail_unless (ABS ((gint64) frame_time - stamp) <= ROUNDING);
  fail_unless_equals_int64 (distance, (gint64) frame_time - target);
}

/* 100 targets, drawn with a fixed seed, and the frames around keyframes and
 * file boundaries: lbrecordingsrc ! avdec_h264 ! lbframepick gives the
 * frame stamped nearest the target. */
GST_START_TEST (test_nearest_frame)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (20260101);
  g_autoptr (GArray) targets = g_array_new (FALSE, FALSE, sizeof (gint64));
  const gint64 special[] = {
    FRAME (0),                  /* the first frame */
    FRAME (29),                 /* the last frame before a keyframe */
    FRAME (299) + 2 * MS,
    FRAME (149),                /* the last frame of a file */
    FRAME (599) - 3 * MS,
    FRAME (150),                /* the first frame of a file */
    FRAME (600) + 4 * MS,
    FRAME (1049) + 16 * MS,     /* just before half way to the next */
    FRAME (1199),               /* the last frame */
    (FRAME (450) + FRAME (451)) / 2,    /* between two frames */
  };

  for (guint i = 0; i < G_N_ELEMENTS (special); i++)
    g_array_append_val (targets, special[i]);
  while (targets->len < 100) {
    gint64 t = WALL0 + (gint64) (g_rand_double (rand) *
        (FRAME (N_FRAMES - 1) - WALL0));
    g_array_append_val (targets, t);
  }
  for (guint i = 0; i < targets->len; i++)
    check_target (g_array_index (targets, gint64, i));
}

GST_END_TEST;

/* 30 s across six file boundaries, from mid-GOP and mid-frame: every frame
 * shown in the range exactly once, the first one the frame shown at the
 * requested start. */
GST_START_TEST (test_range_every_frame_once)
{
  const gint64 start = FRAME (105) + 10 * MS, end = start + 30 * SEC;
  /* frame 105 (3.500 s) is on screen at 3.510 s; frame 1005 (33.500 s) is
   * the last that starts before 33.510 s */
  const guint first_frame = 105, last_frame = 1005;
  g_autofree gchar *description = g_strdup_printf ("lbrecordingsrc "
      "db=\"%s\" vehicle=bus input=front start-time=%" G_GINT64_FORMAT
      " end-time=%" G_GINT64_FORMAT " mode=all ! avdec_h264 ! lbclockcheck ! "
      "fakesink", db, start, end);
  g_autoptr (LbTestRun) run = lb_test_run_launch (description,
      GST_CLOCK_TIME_NONE, 60);

  fail_unless (run->error == NULL, "%s", run->error ? run->error->message : "");
  g_autoptr (GArray) stamps = stamps_of (run, start);
  fail_unless_equals_int (stamps->len, last_frame - first_frame + 1);
  for (guint i = 0; i < stamps->len; i++)
    fail_unless_equals_int64 (g_array_index (stamps, gint64, i),
        FRAME (first_frame + i));
}

GST_END_TEST;

/* keyframes: one decoded frame per keyframe, and a hyperlapse built on
 * them keeps the first keyframe of each slot. */
GST_START_TEST (test_keyframes_decoded)
{
  g_autofree gchar *description = g_strdup_printf ("lbrecordingsrc "
      "db=\"%s\" vehicle=bus input=front start-time=%" G_GINT64_FORMAT
      " end-time=%" G_GINT64_FORMAT " mode=keyframes ! avdec_h264 ! "
      "lbclockcheck ! fakesink", db, WALL0, WALL0 + 40 * SEC);
  g_autoptr (LbTestRun) run = lb_test_run_launch (description,
      GST_CLOCK_TIME_NONE, 60);

  fail_unless (run->error == NULL, "%s", run->error ? run->error->message : "");
  g_autoptr (GArray) stamps = stamps_of (run, -1);
  fail_unless_equals_int (stamps->len, 40);
  for (guint i = 0; i < stamps->len; i++)
    fail_unless_equals_int64 (g_array_index (stamps, gint64, i),
        FRAME (i * LB_TEST_FPS));

  /* 40 s in 1 s at 10 fps: one keyframe per 4 s */
  g_autofree gchar *lapse = g_strdup_printf ("lbrecordingsrc db=\"%s\" "
      "vehicle=bus input=front start-time=%" G_GINT64_FORMAT " end-time=%"
      G_GINT64_FORMAT " mode=keyframes ! avdec_h264 ! lbhyperlapse "
      "target-duration=1000000000 framerate=10/1 ! lbclockcheck name=check ! "
      "fakesink", db, WALL0, WALL0 + 40 * SEC);
  g_autoptr (LbTestRun) lapse_run = lb_test_run_launch (lapse,
      GST_CLOCK_TIME_NONE, 60);
  fail_unless (lapse_run->error == NULL, "%s", lapse_run->error ?
      lapse_run->error->message : "");
  g_autoptr (GPtrArray) checks = lb_test_run_messages (lapse_run,
      "lbclockcheck");
  fail_unless_equals_int (checks->len, 10);
  for (guint i = 0; i < checks->len; i++) {
    GstStructure *s = g_ptr_array_index (checks, i);
    gint64 stamp = 0;
    guint64 pts = 0;
    fail_unless (gst_structure_get_int64 (s, "stamp", &stamp));
    fail_unless (gst_structure_get_uint64 (s, "pts", &pts));
    fail_unless_equals_int64 (stamp, FRAME (i * 4 * LB_TEST_FPS));
    fail_unless_equals_uint64 (pts, i * 100 * MS);      /* re-timed: 10 fps */
  }
}

GST_END_TEST;

static Suite *
recording_accuracy_suite (void)
{
  Suite *s = suite_create ("recording-accuracy");
  TCase *tc = tcase_create ("general");

  g_assert_true (lb_elements_register (NULL));
  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_nearest_frame);
  tcase_add_test (tc, test_range_every_frame_once);
  tcase_add_test (tc, test_keyframes_decoded);
  return s;
}

int
main (int argc, char **argv)
{
  if (lb_test_is_recorder (argc, argv, record))
    return 0;
  gst_check_init (&argc, &argv);
  db = lb_test_prepare_store (argv[0], &store_dir);
  int ret = gst_check_run_suite (recording_accuracy_suite (),
      "recording-accuracy", __FILE__);
  lb_test_rm_rf (store_dir);
  return ret;
}
