/* GstHarness suite for lbrecordingsrc: caps, timestamps, segment, modes,
 * gaps, properties and error paths, on footage recorded and indexed by the
 * real segment sink and indexer */
/* before any GStreamer header (it says why) */
#include "mp4/lb-mp4-box.h"

#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <glib/gstdio.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "core/lb-time.h"
#include "recorder/lb-indexer.h"
#include "store/lb-store-footage.h"
#include "lbelements.h"
#include "lb-elements-test.h"
#include "lb-footage-test.h"

#define WALL0 (G_GINT64_CONSTANT (1767225600) * GST_SECOND)     /* 2026-01-01T00:00:00Z */
#define SEC GST_SECOND
#define MS GST_MSECOND
#define FRAME(i) LB_TEST_FRAME_TIME (WALL0, (i))
/* the second recording starts 60 s after the first: a gap from 40 to 60 s */
#define WALL1 (WALL0 + 60 * SEC)
#define FRAME1(i) LB_TEST_FRAME_TIME (WALL1, (i))

/* One store for the whole suite, recorded before the tests fork:
 * recording A, 40 s from WALL0 in 5 s files; recording B, 10 s from WALL1. */
static gchar *store_dir;
static gchar *db;

static void
record (const gchar * path)
{
  g_autoptr (GPtrArray) a = lb_test_record (path, "truck 7", "road", WALL0,
      40 * LB_TEST_FPS, 5 * SEC);
  g_autoptr (GPtrArray) b = lb_test_record (path, "truck 7", "road", WALL1,
      10 * LB_TEST_FPS, 5 * SEC);
  g_assert_cmpuint (a->len, ==, 8);
  g_assert_cmpuint (b->len, ==, 2);
}

/* Times read back from MP4 went through the file's timescale: they may
 * differ from the stamped ones by a rounding (1 ns here); allow 1 µs. */
#define assert_time(actual, expected) G_STMT_START {                    \
    gint64 _a = (gint64) (actual), _e = (gint64) (expected);            \
    fail_unless (ABS (_a - _e) <= 1000, "%s = %" G_GINT64_FORMAT        \
        ", expected %" G_GINT64_FORMAT, #actual, _a, _e);                \
  } G_STMT_END

static gchar *
ns_string (gint64 ns)
{
  return g_strdup_printf ("%" G_GINT64_FORMAT, ns);
}

/* A harness around a configured lbrecordingsrc (its bus set to @bus when
 * not NULL). */
static GstHarness *
source_harness (gint64 start, gint64 end, const gchar * mode, GstBus * bus)
{
  g_autofree gchar *start_text = ns_string (start);
  g_autofree gchar *end_text = ns_string (end);
  GstElement *src = gst_element_factory_make ("lbrecordingsrc", NULL);

  g_object_set (src, "db", db, "vehicle", "truck 7", "input", "road",
      "start-time", start_text, "end-time", end_text, NULL);
  gst_util_set_object_arg (G_OBJECT (src), "mode", mode);
  if (bus != NULL)
    gst_element_set_bus (src, bus);
  GstHarness *h = gst_harness_new_with_element (src, NULL, "src");
  gst_object_unref (src);
  return h;
}

/* Pulls every buffer until EOS. */
static GPtrArray *
pull_all (GstHarness * h)
{
  GPtrArray *buffers = g_ptr_array_new_with_free_func (
      (GDestroyNotify) gst_buffer_unref);
  GstBuffer *buffer = NULL;

  gst_harness_play (h);
  while (TRUE) {
    fail_unless (gst_harness_pull_until_eos (h, &buffer), "no EOS");
    if (buffer == NULL)
      break;
    g_ptr_array_add (buffers, buffer);
  }
  return buffers;
}

/* The segment event lbrecordingsrc pushed. */
static void
assert_segment (GstHarness * h, gint64 start, gint64 stop)
{
  g_autoptr (GstEvent) event = gst_pad_get_sticky_event (h->sinkpad,
      GST_EVENT_SEGMENT, 0);
  const GstSegment *segment;

  fail_unless (event != NULL);
  gst_event_parse_segment (event, &segment);
  fail_unless_equals_int (segment->format, GST_FORMAT_TIME);
  fail_unless_equals_uint64 (segment->start, start);
  fail_unless_equals_uint64 (segment->time, start);
  fail_unless_equals_uint64 (segment->stop, stop);
}

static guint64
buffers_size (GPtrArray * buffers)
{
  guint64 size = 0;

  for (guint i = 0; i < buffers->len; i++)
    size += gst_buffer_get_size (g_ptr_array_index (buffers, i));
  return size;
}

/* 2.5 s → 4.5 s: from the keyframe at 2 s, every frame up to the end, with
 * wall-clock timestamps, in a segment that starts at 2.5 s. */
GST_START_TEST (test_caps_and_timestamps)
{
  g_autoptr (GstBus) bus = gst_bus_new ();
  GstHarness *h = source_harness (WALL0 + 2500 * MS, WALL0 + 4500 * MS,
      "all", bus);
  g_autoptr (GPtrArray) buffers = pull_all (h);

  /* caps: parsed AVC with the stream's size and codec data */
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (h->sinkpad);
  GstStructure *s = gst_caps_get_structure (caps, 0);
  gint width = 0, height = 0;
  gboolean parsed = FALSE;
  fail_unless (gst_structure_has_name (s, "video/x-h264"), "%"
      GST_PTR_FORMAT, caps);
  fail_unless (gst_structure_get_int (s, "width", &width));
  fail_unless (gst_structure_get_int (s, "height", &height));
  fail_unless_equals_int (width, LB_TEST_WIDTH);
  fail_unless_equals_int (height, LB_TEST_HEIGHT);
  fail_unless (gst_structure_get_boolean (s, "parsed", &parsed) && parsed);
  fail_unless (gst_structure_has_field (s, "codec_data"));

  assert_segment (h, WALL0 + 2500 * MS, WALL0 + 4500 * MS);

  /* frames 60 (the keyframe at 2 s) to 134 (4.467 s) */
  fail_unless_equals_int (buffers->len, 75);
  for (guint i = 0; i < buffers->len; i++) {
    GstBuffer *b = g_ptr_array_index (buffers, i);
    guint frame = 60 + i;
    assert_time (GST_BUFFER_PTS (b), FRAME (frame));
    fail_unless_equals_uint64 (GST_BUFFER_DTS (b), GST_BUFFER_PTS (b));
    assert_time (GST_BUFFER_DURATION (b), FRAME (frame + 1) - FRAME (frame));
    fail_unless_equals_int (GST_BUFFER_FLAG_IS_SET (b,
            GST_BUFFER_FLAG_DELTA_UNIT), frame % LB_TEST_FPS != 0);
  }
  fail_unless (GST_BUFFER_FLAG_IS_SET (g_ptr_array_index (buffers, 0),
          GST_BUFFER_FLAG_DISCONT));

  /* bytes-read counts the samples; the done message sums up */
  guint64 bytes = 0;
  g_object_get (h->element, "bytes-read", &bytes, NULL);
  fail_unless_equals_uint64 (bytes, buffers_size (buffers));
  g_autoptr (GstMessage) msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT);
  fail_unless (msg != NULL);
  const GstStructure *done = gst_message_get_structure (msg);
  guint64 frames = 0, bytes_msg = 0;
  gint64 first = 0, last = 0;
  guint gaps = 9;
  fail_unless (gst_structure_has_name (done, "lbrecordingsrc-done"));
  fail_unless (gst_structure_get (done, "frames", G_TYPE_UINT64, &frames,
          "bytes-read", G_TYPE_UINT64, &bytes_msg, "first-time", G_TYPE_INT64,
          &first, "last-time", G_TYPE_INT64, &last, "gaps", G_TYPE_UINT,
          &gaps, NULL));
  fail_unless_equals_uint64 (frames, 75);
  fail_unless_equals_uint64 (bytes_msg, bytes);
  assert_time (first, FRAME (60));
  assert_time (last, FRAME (134));
  fail_unless_equals_int (gaps, 0);
  fail_unless (gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR) == NULL);

  gst_element_set_bus (h->element, NULL);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* 3.5 s → 33.5 s crosses six segment files: every frame once, in order,
 * no timestamp jump. */
GST_START_TEST (test_seamless_across_files)
{
  GstHarness *h = source_harness (WALL0 + 3500 * MS, WALL0 + 33500 * MS,
      "all", NULL);
  g_autoptr (GPtrArray) buffers = pull_all (h);

  fail_unless_equals_int (buffers->len, 1005 - 90);
  for (guint i = 0; i < buffers->len; i++) {
    GstBuffer *b = g_ptr_array_index (buffers, i);
    assert_time (GST_BUFFER_PTS (b), FRAME (90 + i));
    if (i > 0)
      fail_if (GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DISCONT),
          "DISCONT at frame %u", 90 + i);
  }
  gst_harness_teardown (h);
}

GST_END_TEST;

/* keyframes: one buffer per keyframe, each lasting until the next; only
 * the keyframes' bytes are read. */
GST_START_TEST (test_keyframes_mode)
{
  GstHarness *h = source_harness (WALL0 + 500 * MS, WALL0 + 40 * SEC,
      "keyframes", NULL);
  g_autoptr (GPtrArray) buffers = pull_all (h);

  fail_unless_equals_int (buffers->len, 40);
  for (guint i = 0; i < buffers->len; i++) {
    GstBuffer *b = g_ptr_array_index (buffers, i);
    assert_time (GST_BUFFER_PTS (b), FRAME (i * LB_TEST_FPS));
    fail_unless_equals_uint64 (GST_BUFFER_DTS (b), GST_BUFFER_PTS (b));
    fail_if (GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DELTA_UNIT));
    if (i + 1 < buffers->len)
      assert_time (GST_BUFFER_DURATION (b), SEC);
  }
  assert_segment (h, WALL0 + 500 * MS, WALL0 + 40 * SEC);

  /* exactly the keyframe samples the index lists */
  g_autoptr (GError) error = NULL;
  g_autoptr (LbStore) store = lb_store_open (db, LB_STORE_OPEN_READ_ONLY,
      &error);
  g_autoptr (LbFootagePlan) plan = lb_store_lookup (store, "truck 7", "road",
      WALL0 + 500 * MS, WALL0 + 40 * SEC, &error);
  fail_unless (plan != NULL);
  guint64 expected = 0;
  guint keyframes = 0;
  for (guint p = 0; p < plan->pieces->len; p++) {
    LbFootagePiece *piece = g_ptr_array_index (plan->pieces, p);
    for (guint k = 0; k < piece->keyframes->len; k++) {
      expected += g_array_index (piece->keyframes, LbKeyframe, k).sample_size;
      keyframes++;
    }
  }
  fail_unless_equals_int (keyframes, 40);
  guint64 bytes = 0;
  g_object_get (h->element, "bytes-read", &bytes, NULL);
  fail_unless_equals_uint64 (bytes, expected);
  fail_unless_equals_uint64 (bytes, buffers_size (buffers));
  gst_harness_teardown (h);
}

GST_END_TEST;

/* A gap inside the range is skipped, named in a message, and the first
 * buffer after it is DISCONT. */
GST_START_TEST (test_gap_inside_range)
{
  g_autoptr (GstBus) bus = gst_bus_new ();
  GstHarness *h = source_harness (WALL0 + 38 * SEC, WALL1 + 2 * SEC, "all",
      bus);
  g_autoptr (GPtrArray) buffers = pull_all (h);

  /* frames 1140..1199 of A, then 0..59 of B */
  fail_unless_equals_int (buffers->len, 60 + 60);
  for (guint i = 0; i < buffers->len; i++) {
    GstBuffer *b = g_ptr_array_index (buffers, i);
    gint64 expected = i < 60 ? FRAME (1140 + i) : FRAME1 (i - 60);
    assert_time (GST_BUFFER_PTS (b), expected);
    fail_unless_equals_int (GST_BUFFER_FLAG_IS_SET (b,
            GST_BUFFER_FLAG_DISCONT), i == 0 || i == 60);
  }

  g_autoptr (GstMessage) msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT);
  fail_unless (msg != NULL);
  const GstStructure *s = gst_message_get_structure (msg);
  gint64 start = 0, end = 0;
  fail_unless (gst_structure_has_name (s, "lbrecordingsrc-gap"), "%"
      GST_PTR_FORMAT, s);
  fail_unless (gst_structure_get (s, "start", G_TYPE_INT64, &start, "end",
          G_TYPE_INT64, &end, NULL));
  assert_time (start, FRAME (1200));
  assert_time (end, WALL1);
  g_autoptr (GstMessage) done = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT);
  guint gaps = 0;
  fail_unless (gst_structure_get_uint (gst_message_get_structure (done),
          "gaps", &gaps));
  fail_unless_equals_int (gaps, 1);

  gst_element_set_bus (h->element, NULL);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* lbrecordingsrc's output for @vehicle/cam from @start to @end is @media
 * whose frames are mostly reordered (DTS before PTS: B-frames). */
static void
assert_reordered (const gchar * db, const gchar * vehicle, const gchar * start,
    const gchar * end, const gchar * media)
{
  GstElement *src = gst_element_factory_make ("lbrecordingsrc", NULL);
  g_object_set (src, "db", db, "vehicle", vehicle, "input", "cam",
      "start-time", start, "end-time", end, NULL);
  GstHarness *h = gst_harness_new_with_element (src, NULL, "src");
  gst_object_unref (src);
  g_autoptr (GPtrArray) buffers = pull_all (h);
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (h->sinkpad);
  fail_unless (gst_structure_has_name (gst_caps_get_structure (caps, 0),
          media));
  guint reordered = 0;
  for (guint i = 0; i < buffers->len; i++) {
    GstBuffer *b = g_ptr_array_index (buffers, i);
    reordered += GST_BUFFER_DTS (b) < GST_BUFFER_PTS (b);
  }
  fail_unless (reordered > buffers->len / 2, "%u of %u", reordered,
      buffers->len);
  gst_harness_teardown (h);
}

/* With nearest-time the stream ends as soon as no later frame can be
 * nearer to it than one pushed: the nearest frame is the last a decoder
 * needs (before it, after it, and on either side of a gap). */
GST_START_TEST (test_nearest_time)
{
  const struct
  {
    gint64 start, nearest, end;
    guint frames;               /* pushed from the keyframe at start */
    gint64 last;                /* PTS of the last one */
  } cases[] = {
    /* frame 100 is 10 ms before: frame 101 (23 ms after) is not read */
    {FRAME (90), FRAME (100) + 10 * MS, WALL0 + 5 * SEC, 11, FRAME (100)},
    /* frame 101 is 13 ms after: the nearest, and the last */
    {FRAME (90), FRAME (100) + 20 * MS, WALL0 + 5 * SEC, 12, FRAME (101)},
    /* exactly on frame 119, the last of its GOP */
    {FRAME (90), FRAME (119), WALL0 + 5 * SEC, 30, FRAME (119)},
    /* in the gap, nearer its start: recording B is not read */
    {FRAME (1170), WALL0 + 45 * SEC, WALL1 + SEC, 30, FRAME (1199)},
    /* in the gap, nearer its end: B's first frame ends the stream */
    {FRAME (1170), WALL0 + 55 * SEC, WALL1 + SEC, 31, FRAME1 (0)},
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GstBus) bus = gst_bus_new ();
    GstHarness *h = source_harness (cases[i].start, cases[i].end, "all", bus);
    g_autofree gchar *nearest = ns_string (cases[i].nearest);
    g_object_set (h->element, "nearest-time", nearest, NULL);
    g_autoptr (GPtrArray) buffers = pull_all (h);

    fail_unless_equals_int (buffers->len, cases[i].frames);
    assert_time (GST_BUFFER_PTS (g_ptr_array_index (buffers, 0)),
        cases[i].start);
    assert_time (GST_BUFFER_PTS (g_ptr_array_index (buffers,
                buffers->len - 1)), cases[i].last);
    /* the segment is still the range asked for */
    assert_segment (h, cases[i].start, cases[i].end);
    fail_unless (gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR) == NULL);
    gst_element_set_bus (h->element, NULL);
    gst_harness_teardown (h);
  }
}

GST_END_TEST;

/* Footage with B-frames (DTS before PTS, decode order ≠ display order):
 * decoded, every frame of the range once, in order, across a file
 * boundary; the last frames in display order are not lost to an early
 * stop. */
GST_START_TEST (test_bframes)
{
  g_autofree gchar *bdb = NULL;
  g_autofree gchar *dir = lb_test_store_new (&bdb);
  g_autoptr (GPtrArray) files = lb_test_record_full (bdb, "b", "cam", WALL0,
      10 * LB_TEST_FPS, 5 * SEC, "speed-preset=superfast bframes=2 "
      "b-adapt=false");
  fail_unless_equals_int (files->len, 2);

  /* the reader's output really has reordered frames */
  g_autofree gchar *start_text = ns_string (FRAME (45) + 10 * MS);
  g_autofree gchar *end_text = ns_string (FRAME (255) + 10 * MS);
  assert_reordered (bdb, "b", start_text, end_text, "video/x-h264");

  g_autofree gchar *description = g_strdup_printf ("lbrecordingsrc "
      "db=\"%s\" vehicle=b input=cam start-time=%s end-time=%s ! avdec_h264 ! "
      "lbclockcheck ! fakesink", bdb, start_text, end_text);
  g_autoptr (LbTestRun) run = lb_test_run_launch (description,
      GST_CLOCK_TIME_NONE, 30);
  fail_unless (run->error == NULL, "%s", run->error ? run->error->message : "");
  g_autoptr (GPtrArray) checks = lb_test_run_messages (run, "lbclockcheck");
  fail_unless_equals_int (checks->len, 255 - 45 + 1);
  for (guint i = 0; i < checks->len; i++) {
    gint64 stamp = 0;
    fail_unless (gst_structure_get_int64 (g_ptr_array_index (checks, i),
            "stamp", &stamp), "frame %u unreadable", i);
    fail_unless_equals_int64 (stamp, FRAME (45 + i));
  }
  lb_test_rm_rf (dir);
}

GST_END_TEST;

/* nearest-time on reordered footage: the stream ends before frames that
 * are decoded later yet shown nearer are lost, so the frame lbframepick
 * picks after a decoder is still the nearest, at every place in a GOP. */
GST_START_TEST (test_nearest_time_bframes)
{
  g_autofree gchar *bdb = NULL;
  g_autofree gchar *dir = lb_test_store_new (&bdb);
  g_autoptr (GPtrArray) files = lb_test_record_full (bdb, "b", "cam", WALL0,
      3 * LB_TEST_FPS, 5 * SEC, "speed-preset=superfast bframes=2 "
      "b-adapt=false");

  for (guint k = LB_TEST_FPS; k < 2 * LB_TEST_FPS; k += 2) {
    for (guint after = 0; after < 2; after++) {
      /* 10 ms after frame k: k is the nearest; 20 ms after: k + 1 */
      gint64 target = FRAME (k) + (after ? 20 : 10) * MS;
      g_autofree gchar *description = g_strdup_printf ("lbrecordingsrc "
          "db=\"%s\" vehicle=b input=cam start-time=%" G_GINT64_FORMAT
          " end-time=%" G_GINT64_FORMAT " nearest-time=%" G_GINT64_FORMAT
          " ! avdec_h264 ! lbframepick target-time=%" G_GINT64_FORMAT
          " ! lbclockcheck ! fakesink", bdb, FRAME (LB_TEST_FPS),
          target + SEC, target, target);
      g_autoptr (LbTestRun) run = lb_test_run_launch (description,
          GST_CLOCK_TIME_NONE, 30);
      fail_unless (run->error == NULL, "%s", run->error ?
          run->error->message : "");
      g_autoptr (GPtrArray) checks = lb_test_run_messages (run, "lbclockcheck");
      gint64 stamp = 0;
      fail_unless_equals_int (checks->len, 1);
      fail_unless (gst_structure_get_int64 (g_ptr_array_index (checks, 0),
              "stamp", &stamp));
      fail_unless_equals_int64 (stamp, FRAME (k + after));
    }
  }
  lb_test_rm_rf (dir);
}

GST_END_TEST;

/* H.265 with B-frames, recorded as it comes: parsed by h265parse, every
 * frame of a range across a file boundary decoded once, in order; with
 * mode=keyframes, the keyframes alone, one per second. */
GST_START_TEST (test_h265_bframes)
{
  g_autofree gchar *hdb = NULL;
  g_autofree gchar *dir = lb_test_store_new (&hdb);
  g_autofree gchar *x265 = lb_test_x265_encoder (2);
  g_autoptr (GPtrArray) files = lb_test_record_encoded (hdb, "h", "cam",
      WALL0, 10 * LB_TEST_FPS, 5 * SEC, x265);
  fail_unless_equals_int (files->len, 2);

  g_autofree gchar *start_text = ns_string (FRAME (45) + 10 * MS);
  g_autofree gchar *end_text = ns_string (FRAME (255) + 10 * MS);
  assert_reordered (hdb, "h", start_text, end_text, "video/x-h265");

  for (guint keyframes = 0; keyframes < 2; keyframes++) {
    g_autofree gchar *description = g_strdup_printf ("lbrecordingsrc "
        "db=\"%s\" vehicle=h input=cam start-time=%s end-time=%s mode=%s ! "
        "avdec_h265 ! lbclockcheck ! fakesink", hdb, start_text, end_text,
        keyframes ? "keyframes" : "all");
    g_autoptr (LbTestRun) run = lb_test_run_launch (description,
        GST_CLOCK_TIME_NONE, 30);
    fail_unless (run->error == NULL, "%s", run->error ? run->error->message :
        "");
    g_autoptr (GPtrArray) checks = lb_test_run_messages (run, "lbclockcheck");
    /* all: frames 45..255; keyframes: those of seconds 1..8 (the one
     * before the start, then every one up to the end) */
    guint from = keyframes ? LB_TEST_FPS : 45;
    guint step = keyframes ? LB_TEST_FPS : 1;
    fail_unless_equals_int (checks->len, keyframes ? 8 : 255 - 45 + 1);
    for (guint i = 0; i < checks->len; i++) {
      gint64 stamp = 0;
      fail_unless (gst_structure_get_int64 (g_ptr_array_index (checks, i),
              "stamp", &stamp), "frame %u unreadable", i);
      fail_unless_equals_int64 (stamp, FRAME (from + i * step));
    }
  }
  lb_test_rm_rf (dir);
}

GST_END_TEST;

/* Counts the buffers reaching a pad and checks their PTS increase. */
typedef struct
{
  guint frames;
  GstClockTime first, last;
  gboolean ordered;
} Count;

static GstPadProbeReturn
count_buffer (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  Count *c = user_data;
  GstClockTime pts = GST_BUFFER_PTS (GST_PAD_PROBE_INFO_BUFFER (info));

  if (c->frames == 0)
    c->first = pts;
  else if (!(pts > c->last))
    c->ordered = FALSE;
  c->last = pts;
  c->frames++;
  return GST_PAD_PROBE_OK;
}

/* Real recordings from other systems (../shared/media), indexed as they
 * are: every frame decoded once, in display order, from the start (B-frames
 * with negative composition offsets, 1 fps, NTSC rate, audio track first,
 * H.265 through h265parse, a single GOP), and their keyframes alone. */
GST_START_TEST (test_shared_media)
{
  static const struct
  {
    const gchar *file;
    const gchar *decoder;
    guint frames, keyframes;
  } media[] = {
    {"kerberos-480p.mp4", "avdec_h264", 96, 4}, /* its edit list shows 95 */
    {"moonfire-clip.mp4", "avdec_h264", 10, 3},
    {"bbb-avc.mp4", "avdec_h264", 150, 3},
    {"bbb-hevc.mp4", "avdec_h265", 150, 3},
    {"gst-h264-aac.mp4", "avdec_h264", 15, 1},
    {"mediamtx-offline.mp4", "avdec_h264", 30, 1},
  };
  g_autofree gchar *folder = lb_test_shared_media (NULL);

  for (guint i = 0; i < G_N_ELEMENTS (media); i++) {
    g_autofree gchar *source = g_build_filename (folder, media[i].file, NULL);
    g_autofree gchar *mdb = NULL;
    g_autofree gchar *dir = lb_test_store_new (&mdb);
    g_autoptr (GError) error = NULL;
    g_autoptr (LbStore) store = lb_store_open (mdb, LB_STORE_OPEN_DEFAULT,
        &error);
    g_autofree gchar *path = lb_footage_segment_path (dir, "m", "cam", WALL0);
    g_autofree gchar *folder_of = g_path_get_dirname (path);
    g_autofree gchar *data = NULL;
    gsize size = 0;
    gint64 id = 0;

    fail_unless (g_file_get_contents (source, &data, &size, NULL));
    fail_unless_equals_int (g_mkdir_with_parents (folder_of, 0755), 0);
    fail_unless (g_file_set_contents (path, data, size, NULL));
    fail_unless (lb_footage_index_file (store, "m", "cam", path, WALL0, &id,
            &error), "%s: %s", media[i].file, error ? error->message : "");

    for (guint keyframes = 0; keyframes < 2; keyframes++) {
      g_autofree gchar *description = g_strdup_printf ("lbrecordingsrc "
          "db=\"%s\" vehicle=m input=cam start-time=%" G_GINT64_FORMAT
          " end-time=%" G_GINT64_FORMAT " mode=%s ! %s ! fakesink name=sink",
          mdb, WALL0, WALL0 + 60 * SEC, keyframes ? "keyframes" : "all",
          media[i].decoder);
      GstElement *pipeline = gst_parse_launch (description, &error);
      fail_unless (pipeline != NULL);
      g_autoptr (GstElement) sink = gst_bin_get_by_name (GST_BIN (pipeline),
          "sink");
      g_autoptr (GstPad) pad = gst_element_get_static_pad (sink, "sink");
      Count count = { 0, GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE, TRUE };
      gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, count_buffer, &count,
          NULL);
      g_autoptr (LbTestRun) run = lb_test_run (pipeline, GST_CLOCK_TIME_NONE,
          30);

      fail_unless (run->error == NULL, "%s: %s", media[i].file,
          run->error ? run->error->message : "");
      fail_unless_equals_int (count.frames, keyframes ? media[i].keyframes :
          media[i].frames);
      fail_unless (count.ordered, "%s: PTS out of order", media[i].file);
      assert_time (count.first, WALL0);
    }
    lb_test_rm_rf (dir);
  }
}

GST_END_TEST;

/* Runs @pipeline from READY to EOS; FALSE on an error. */
static gboolean
play_to_eos (GstElement * pipeline)
{
  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);

  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  g_autoptr (GstMessage) msg = gst_bus_timed_pop_filtered (bus,
      30 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg != NULL);
  gst_element_set_state (pipeline, GST_STATE_READY);
  return GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS;
}

/* The element runs again after going back to READY, with new properties
 * (another range, another mode). */
GST_START_TEST (test_restart)
{
  g_autofree gchar *description = g_strdup_printf ("lbrecordingsrc name=src "
      "db=\"%s\" vehicle=\"truck 7\" input=road start-time=%" G_GINT64_FORMAT
      " end-time=%" G_GINT64_FORMAT " ! fakesink name=sink", db,
      WALL0 + 2 * SEC, WALL0 + 3 * SEC);
  g_autoptr (GstElement) pipeline = gst_parse_launch (description, NULL);
  g_autoptr (GstElement) src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  g_autoptr (GstElement) sink = gst_bin_get_by_name (GST_BIN (pipeline),
      "sink");
  g_autoptr (GstPad) pad = gst_element_get_static_pad (sink, "sink");
  Count count = { 0, GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE, TRUE };

  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, count_buffer, &count,
      NULL);
  fail_unless (play_to_eos (pipeline));
  fail_unless_equals_int (count.frames, 30);
  assert_time (count.first, FRAME (60));

  g_autofree gchar *start = ns_string (WALL1);
  g_autofree gchar *end = ns_string (WALL1 + 5 * SEC);
  g_object_set (src, "start-time", start, "end-time", end, NULL);
  gst_util_set_object_arg (G_OBJECT (src), "mode", "keyframes");
  count = (Count) {
  0, GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE, TRUE};
  fail_unless (play_to_eos (pipeline));
  fail_unless_equals_int (count.frames, 5);
  assert_time (count.first, WALL1);
  fail_unless (count.ordered);
  gst_element_set_state (pipeline, GST_STATE_NULL);
}

GST_END_TEST;

/* Going down from PAUSED before any buffer was taken neither hangs nor
 * leaks the open file. */
GST_START_TEST (test_stop_early)
{
  for (guint i = 0; i < 3; i++) {
    GstHarness *h = source_harness (WALL0, WALL0 + 30 * SEC, "all", NULL);
    gst_harness_play (h);
    gst_buffer_unref (gst_harness_pull (h));
    gst_harness_teardown (h);
  }
}

GST_END_TEST;

/* RFC 3339 and integer ns are the same time; without end-time, the GOP
 * holding start-time. */
GST_START_TEST (test_time_formats)
{
  GstElement *src = gst_element_factory_make ("lbrecordingsrc", NULL);

  g_object_set (src, "db", db, "vehicle", "truck 7", "input", "road",
      "start-time", "2026-01-01T01:00:12.5+01:00", NULL);
  GstHarness *h = gst_harness_new_with_element (src, NULL, "src");
  gst_object_unref (src);
  g_autoptr (GPtrArray) buffers = pull_all (h);

  assert_segment (h, WALL0 + 12500 * MS, GST_CLOCK_TIME_NONE);
  fail_unless (buffers->len >= 1);
  assert_time (GST_BUFFER_PTS (g_ptr_array_index (buffers, 0)),
      WALL0 + 12 * SEC);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_properties)
{
  GstElement *src = gst_element_factory_make ("lbrecordingsrc", NULL);
  g_autofree gchar *db_value = NULL, *start = NULL, *end = NULL;
  gint mode = -1;
  guint64 bytes = 1;

  g_object_get (src, "db", &db_value, "start-time", &start, "end-time", &end,
      "mode", &mode, "bytes-read", &bytes, NULL);
  fail_unless (db_value == NULL && start == NULL && end == NULL);
  fail_unless_equals_int (mode, 0);
  fail_unless_equals_uint64 (bytes, 0);

  GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (src),
      "mode");
  GEnumClass *modes = G_PARAM_SPEC_ENUM (pspec)->enum_class;
  fail_unless_equals_string (g_enum_get_value (modes, 0)->value_nick, "all");
  gst_util_set_object_arg (G_OBJECT (src), "mode", "keyframes");
  g_object_get (src, "mode", &mode, NULL);
  fail_unless_equals_string (g_enum_get_value (modes, mode)->value_nick,
      "keyframes");

  pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (src), "bytes-read");
  fail_if (pspec->flags & G_PARAM_WRITABLE);
  static const gchar *const names[] = { "db", "vehicle", "input",
    "start-time", "end-time", "nearest-time", "mode", "bytes-read"
  };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (src), names[i]);
    fail_unless (pspec != NULL, "%s", names[i]);
    fail_unless (strlen (g_param_spec_get_blurb (pspec)) > 10);
  }

  g_autoptr (GstPad) pad = gst_element_get_static_pad (src, "src");
  fail_unless (pad != NULL);
  gst_object_unref (src);
}

GST_END_TEST;

/* ---- error paths: each ends with an error message naming the problem ---- */

static void
assert_fails (const gchar * properties, GQuark domain, gint code,
    const gchar * text)
{
  g_autofree gchar *description = g_strdup_printf ("lbrecordingsrc %s ! "
      "avdec_h264 ! fakesink", properties);
  g_autoptr (LbTestRun) run = lb_test_run_launch (description,
      GST_CLOCK_TIME_NONE, 30);

  fail_unless (run->error != NULL, "no error for %s", properties);
  fail_unless (g_error_matches (run->error, domain, code), "%s: %s (%s)",
      properties, run->error->message, run->error_debug);
  fail_unless (strstr (run->error->message, text) != NULL,
      "'%s' not in '%s'", text, run->error->message);
  GST_INFO ("%s → %s", properties, run->error->message);
}

static gchar *
range_properties (const gchar * vehicle, gint64 start, gint64 end)
{
  return g_strdup_printf ("db=\"%s\" vehicle=\"%s\" input=road "
      "start-time=%" G_GINT64_FORMAT " end-time=%" G_GINT64_FORMAT, db,
      vehicle, start, end);
}

GST_START_TEST (test_error_no_store)
{
  assert_fails ("db=/nonexistent/lookback.db vehicle=a input=b "
      "start-time=0 end-time=1", GST_RESOURCE_ERROR,
      GST_RESOURCE_ERROR_NOT_FOUND, "Cannot open the footage store "
      "/nonexistent/lookback.db");
}

GST_END_TEST;

GST_START_TEST (test_error_settings)
{
  assert_fails ("vehicle=a input=b start-time=0", GST_RESOURCE_ERROR,
      GST_RESOURCE_ERROR_SETTINGS, "needs the db property");
  assert_fails ("db=x.db vehicle=a input=b start-time=yesterday",
      GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS, "start-time "
      "'yesterday' is neither");
  assert_fails ("db=x.db vehicle=a input=b start-time=10 end-time=5",
      GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
      "end-time 5 is before start-time 10");
}

GST_END_TEST;

GST_START_TEST (test_error_nothing_recorded)
{
  g_autofree gchar *p = range_properties ("truck 8", WALL0, WALL0 + SEC);
  assert_fails (p, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND,
      "No footage is recorded for vehicle 'truck 8'");
}

GST_END_TEST;

GST_START_TEST (test_error_before_first_footage)
{
  g_autofree gchar *p = range_properties ("truck 7", WALL0 - 100 * SEC,
      WALL0 - 50 * SEC);
  assert_fails (p, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND,
      "is before the first footage");
}

GST_END_TEST;

GST_START_TEST (test_error_after_last_footage)
{
  g_autofree gchar *p = range_properties ("truck 7", WALL1 + 100 * SEC,
      WALL1 + 110 * SEC);
  assert_fails (p, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND,
      "is after the last footage");
}

GST_END_TEST;

/* A range (or a still's target) inside the gap from 40 s to 60 s. */
GST_START_TEST (test_error_in_gap)
{
  g_autofree gchar *range = range_properties ("truck 7", WALL0 + 45 * SEC,
      WALL0 + 50 * SEC);
  g_autofree gchar *still = g_strdup_printf ("db=\"%s\" vehicle=\"truck 7\" "
      "input=road start-time=2026-01-01T00:00:50Z", db);

  /* the message names the whole gap, not just the range asked for */
  assert_fails (range, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND,
      "falls in a gap in the footage of vehicle 'truck 7', input 'road': "
      "nothing is recorded from 2026-01-01T00:00:40Z to "
      "2026-01-01T00:01:00Z");
  assert_fails (still, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND,
      "nothing is recorded from 2026-01-01T00:00:40Z to "
      "2026-01-01T00:01:00Z");
}

GST_END_TEST;

/* ---- damaged files: a store of its own, one file broken per case ---- */

static gchar *
corrupt_store (gchar ** out_db, gchar ** out_file)
{
  gchar *dir = lb_test_store_new (out_db);
  g_autoptr (GPtrArray) files = lb_test_record (*out_db, "v", "c", WALL0,
      3 * LB_TEST_FPS, 60 * SEC);

  fail_unless_equals_int (files->len, 1);
  *out_file = g_strdup (g_ptr_array_index (files, 0));
  return dir;
}

static void
assert_corrupt_fails (const gchar * mode, void (*damage) (const gchar * path),
    GQuark domain, gint code, const gchar * text)
{
  g_autofree gchar *cdb = NULL, *file = NULL;
  g_autofree gchar *dir = corrupt_store (&cdb, &file);
  g_autofree gchar *p = g_strdup_printf ("db=\"%s\" vehicle=v input=c "
      "start-time=%" G_GINT64_FORMAT " end-time=%" G_GINT64_FORMAT " mode=%s",
      cdb, WALL0, WALL0 + 3 * SEC, mode);

  damage (file);
  assert_fails (p, domain, code, text);
  lb_test_rm_rf (dir);
}

/* Overwrites every byte from 1/4 of the file to its end with a pattern. */
static void
scribble (const gchar * path)
{
  g_autofree gchar *data = NULL;
  gsize size = 0;

  fail_unless (g_file_get_contents (path, &data, &size, NULL));
  for (gsize i = size / 4; i < size; i++)
    data[i] = (gchar) (0x5a ^ (i * 31));
  fail_unless (g_file_set_contents (path, data, size, NULL));
}

static void
truncate_half (const gchar * path)
{
  g_autofree gchar *data = NULL;
  gsize size = 0;

  fail_unless (g_file_get_contents (path, &data, &size, NULL));
  fail_unless (g_file_set_contents (path, data, size / 2, NULL));
}

static void
delete_file (const gchar * path)
{
  fail_unless_equals_int (g_unlink (path), 0);
}

GST_START_TEST (test_error_corrupt_segment)
{
  assert_corrupt_fails ("all", scribble, GST_STREAM_ERROR,
      GST_STREAM_ERROR_DEMUX, "is corrupt");
  assert_corrupt_fails ("keyframes", scribble, GST_STREAM_ERROR,
      GST_STREAM_ERROR_DEMUX, "is corrupt");
}

GST_END_TEST;

GST_START_TEST (test_error_truncated_segment)
{
  assert_corrupt_fails ("all", truncate_half, GST_STREAM_ERROR,
      GST_STREAM_ERROR_DEMUX, "is corrupt");
  assert_corrupt_fails ("keyframes", truncate_half, GST_STREAM_ERROR,
      GST_STREAM_ERROR_DEMUX, "is corrupt");
}

GST_END_TEST;

GST_START_TEST (test_error_missing_segment)
{
  assert_corrupt_fails ("all", delete_file, GST_RESOURCE_ERROR,
      GST_RESOURCE_ERROR_NOT_FOUND, "listed in the index is missing");
}

GST_END_TEST;

/* ---- a segment read while its recording closes it ---- */

/* The index row of @cdb's only segment ("v"/"c") marked open again, as it
 * is while the recorder finalises its file. */
static void
reopen_segment (const gchar * cdb)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LbStore) store = lb_store_open (cdb, LB_STORE_OPEN_DEFAULT,
      &error);
  g_assert_no_error (error);
  g_autoptr (LbFootagePlan) plan = lb_store_lookup (store, "v", "c", WALL0,
      WALL0 + 3 * SEC, &error);
  g_assert_no_error (error);
  fail_unless_equals_int (plan->pieces->len, 1);
  LbFootagePiece *piece = g_ptr_array_index (plan->pieces, 0);
  fail_unless (lb_store_segment_delete (store, piece->segment->id, &error));
  piece->segment->open = TRUE;
  g_autoptr (GPtrArray) segments = g_ptr_array_new ();
  g_autoptr (GPtrArray) keyframes = g_ptr_array_new ();
  g_ptr_array_add (segments, piece->segment);
  g_ptr_array_add (keyframes, piece->keyframes);
  fail_unless (lb_store_segment_add (store, segments, keyframes, &error));
  g_assert_no_error (error);
}

/* Cuts @path before its last top-level box, the moov mp4mux appends when
 * it finalises the file (its first mdat already covers every fragment),
 * and returns that box. */
static GBytes *
cut_final_moov (const gchar * path)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *data = NULL;
  gsize size = 0;
  gint64 pos = 0;
  LbMp4FileBox box = { 0 };

  fail_unless (g_file_get_contents (path, &data, &size, NULL));
  gint fd = open (path, O_RDONLY);
  fail_unless (fd >= 0);
  while (pos < (gint64) size) {
    fail_unless (lb_mp4_file_box (fd, pos, size, &box, &error), "%s",
        error ? error->message : "");
    fail_unless (lb_mp4_file_box_is_whole (&box, size), "box at %"
        G_GINT64_FORMAT " is cut", pos);
    pos += box.size;
  }
  close (fd);
  fail_unless (box.type == LB_MP4_FOURCC ('m', 'o', 'o', 'v'));
  fail_unless_equals_int (truncate (path, (off_t) box.pos), 0);
  return g_bytes_new (data + box.pos, size - box.pos);
}

typedef struct
{
  const gchar *path;
  GBytes *moov;
} Finalise;

/* The muxer's last step, 300 ms late: the moov appended in place. */
static gpointer
finalise_later (gpointer data)
{
  Finalise *f = data;
  gsize n = 0;
  const gchar *bytes = g_bytes_get_data (f->moov, &n);

  g_usleep (300 * 1000);
  gint fd = open (f->path, O_WRONLY | O_APPEND);
  fail_unless (fd >= 0);
  fail_unless_equals_int64 (write (fd, bytes, n), (gint64) n);
  close (fd);
  return NULL;
}

/* A range read while the recorder closes its segment: the open segment's
 * file has no moov for a moment (mp4mux has grown the first mdat over the
 * fragments and not yet appended the final moov); the source waits for it
 * instead of calling the file corrupt. */
GST_START_TEST (test_segment_being_finalised)
{
  g_autofree gchar *cdb = NULL, *file = NULL;
  g_autofree gchar *dir = corrupt_store (&cdb, &file);
  g_autofree gchar *description = g_strdup_printf ("lbrecordingsrc "
      "db=\"%s\" vehicle=v input=c start-time=%" G_GINT64_FORMAT
      " end-time=%" G_GINT64_FORMAT " ! fakesink sync=false", cdb, WALL0,
      WALL0 + 3 * SEC);

  reopen_segment (cdb);
  Finalise f = { file, cut_final_moov (file) };
  GThread *later = g_thread_new ("finalise", finalise_later, &f);
  g_autoptr (LbTestRun) run = lb_test_run_launch (description,
      GST_CLOCK_TIME_NONE, 30);
  g_thread_join (later);
  g_bytes_unref (f.moov);

  fail_unless (run->error == NULL, "%s", run->error ? run->error->message : "");
  fail_unless (run->eos);
  g_autoptr (GPtrArray) done = lb_test_run_messages (run,
      "lbrecordingsrc-done");
  fail_unless_equals_int (done->len, 1);
  guint64 frames = 0;
  fail_unless (gst_structure_get_uint64 (g_ptr_array_index (done, 0),
          "frames", &frames));
  fail_unless_equals_uint64 (frames, 3 * LB_TEST_FPS);
  lb_test_rm_rf (dir);
}

GST_END_TEST;

static Suite *
lbrecordingsrc_suite (void)
{
  Suite *s = suite_create ("lbrecordingsrc");
  TCase *tc = tcase_create ("general");

  g_assert_true (lb_elements_register (NULL));
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_caps_and_timestamps);
  tcase_add_test (tc, test_seamless_across_files);
  tcase_add_test (tc, test_keyframes_mode);
  tcase_add_test (tc, test_gap_inside_range);
  tcase_add_test (tc, test_nearest_time);
  tcase_add_test (tc, test_bframes);
  tcase_add_test (tc, test_nearest_time_bframes);
  tcase_add_test (tc, test_h265_bframes);
  tcase_add_test (tc, test_shared_media);
  tcase_add_test (tc, test_restart);
  tcase_add_test (tc, test_stop_early);
  tcase_add_test (tc, test_time_formats);
  tcase_add_test (tc, test_properties);
  tcase_add_test (tc, test_error_no_store);
  tcase_add_test (tc, test_error_settings);
  tcase_add_test (tc, test_error_nothing_recorded);
  tcase_add_test (tc, test_error_before_first_footage);
  tcase_add_test (tc, test_error_after_last_footage);
  tcase_add_test (tc, test_error_in_gap);
  tcase_add_test (tc, test_error_corrupt_segment);
  tcase_add_test (tc, test_error_truncated_segment);
  tcase_add_test (tc, test_error_missing_segment);
  tcase_add_test (tc, test_segment_being_finalised);
  return s;
}

int
main (int argc, char **argv)
{
  if (lb_test_is_recorder (argc, argv, record))
    return 0;
  gst_check_init (&argc, &argv);
  db = lb_test_prepare_store (argv[0], &store_dir);
  int ret = gst_check_run_suite (lbrecordingsrc_suite (), "lbrecordingsrc",
      __FILE__);
  lb_test_rm_rf (store_dir);
  return ret;
}
