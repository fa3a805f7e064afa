/* lbrecordingsrc mode=keyframes over ten minutes of footage: only the
 * keyframes' bytes are read (counted against the index and the files), and
 * a decoder downstream yields exactly one frame per keyframe, each the
 * keyframe the index lists (checked by its stamp). */
#include "lb-footage-test.h"
#include "lbelements.h"
#include "store/lb-store-footage.h"

#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <glib/gstdio.h>

#define SEC GST_SECOND
#define MINUTES 10
#define WALL0 (G_GINT64_CONSTANT (1767225600) * GST_SECOND)     /* 2026-01-01T00:00:00Z */

static gchar *db;
static gchar *store_dir;

static void
record (const gchar * path)
{
  g_autoptr (GPtrArray) files =
      lb_test_record (path, "bus 9", "dashcamRoadFacing", WALL0,
      MINUTES * 60 * LB_TEST_FPS, 60 * SEC);
  g_assert_cmpuint (files->len, ==, MINUTES);
}

static gchar *
ns_text (gint64 ns)
{
  return g_strdup_printf ("%" G_GINT64_FORMAT, ns);
}

GST_START_TEST (test_keyframes_only_bytes)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LbStore) store =
      lb_store_open (db, LB_STORE_OPEN_READ_ONLY, &error);
  g_autoptr (LbFootagePlan) plan =
      lb_store_lookup (store, "bus 9", "dashcamRoadFacing", WALL0,
      WALL0 + MINUTES * 60 * SEC, &error);
  fail_unless (plan != NULL, "%s", error ? error->message : "");

  /* What the index says the keyframes are, and what the files weigh. */
  g_autoptr (GArray) key_times = g_array_new (FALSE, FALSE, sizeof (gint64));
  guint64 key_bytes = 0, file_bytes = 0;
  for (guint p = 0; p < plan->pieces->len; p++) {
    LbFootagePiece *piece = g_ptr_array_index (plan->pieces, p);
    GStatBuf st;
    fail_unless (g_stat (piece->segment->path, &st) == 0);
    file_bytes += st.st_size;
    for (guint k = 0; k < piece->keyframes->len; k++) {
      LbKeyframe *kf = &g_array_index (piece->keyframes, LbKeyframe, k);
      key_bytes += kf->sample_size;
      g_array_append_val (key_times, kf->time_ns);
    }
  }
  fail_unless_equals_int (plan->pieces->len, MINUTES);
  fail_unless_equals_int (key_times->len, MINUTES * 60);

  /* Decode the keyframes-only stream and read each frame's stamp. */
  g_autofree gchar *start = ns_text (WALL0);
  g_autofree gchar *end = ns_text (WALL0 + MINUTES * 60 * SEC);
  g_autofree gchar *desc =
      g_strdup_printf ("lbrecordingsrc name=src mode=keyframes "
      "db=\"%s\" vehicle=\"bus 9\" input=dashcamRoadFacing start-time=%s end-time=%s "
      "! avdec_h264 ! videoconvert ! video/x-raw,format=I420 ! lbclockcheck name=check "
      "! fakesink", db, start, end);
  GstElement *pipeline = gst_parse_launch (desc, &error);
  fail_unless (pipeline != NULL, "%s", error ? error->message : "");
  GstBus *bus = gst_element_get_bus (pipeline);
  g_autoptr (GArray) stamps = g_array_new (FALSE, FALSE, sizeof (gint64));

  fail_unless (gst_element_set_state (pipeline,
          GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  for (gboolean done = FALSE; !done;) {
    GstMessage *msg = gst_bus_timed_pop_filtered (bus, 120 * SEC,
        GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_ELEMENT);
    fail_unless (msg != NULL, "no EOS in 120 s");
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      g_autoptr (GError) err = NULL;
      gst_message_parse_error (msg, &err, NULL);
      fail ("pipeline error: %s", err->message);
    } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS) {
      done = TRUE;
    } else if (gst_message_has_name (msg, "lbclockcheck")) {
      const GstStructure *s = gst_message_get_structure (msg);
      gint64 stamp = -1;
      fail_unless (gst_structure_get_int64 (s, "stamp", &stamp),
          "unreadable frame");
      g_array_append_val (stamps, stamp);
    }
    gst_message_unref (msg);
  }

  guint64 bytes_read = 0;
  GstElement *src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  g_object_get (src, "bytes-read", &bytes_read, NULL);
  gst_object_unref (src);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipeline);

  /* Only keyframe bytes: exactly the index's keyframe samples, a small part
   * of the files. */
  fail_unless_equals_uint64 (bytes_read, key_bytes);
  fail_unless (bytes_read < file_bytes / 2, "read %" G_GUINT64_FORMAT " of %"
      G_GUINT64_FORMAT " bytes", bytes_read, file_bytes);

  /* One frame per keyframe, each the keyframe (its stamp is its time). */
  fail_unless_equals_int (stamps->len, key_times->len);
  for (guint i = 0; i < stamps->len; i++) {
    gint64 got = g_array_index (stamps, gint64, i);
    gint64 want = g_array_index (key_times, gint64, i);
    fail_unless (ABS (got - want) <= 1000, "frame %u: stamp %" G_GINT64_FORMAT
        ", keyframe %" G_GINT64_FORMAT, i, got, want);
    fail_unless (ABS (want - (WALL0 + (gint64) i * SEC)) <= 1000);
  }
}

GST_END_TEST;

static Suite *
keyframes_suite (void)
{
  Suite *s = suite_create ("keyframes-10min");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 180);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_keyframes_only_bytes);
  return s;
}

int
main (int argc, char **argv)
{
  if (lb_test_is_recorder (argc, argv, record))
    return 0;
  gst_check_init (&argc, &argv);
  lb_elements_register (NULL);
  db = lb_test_prepare_store (argv[0], &store_dir);
  int ret =
      gst_check_run_suite (keyframes_suite (), "keyframes-10min", __FILE__);
  lb_test_rm_rf (store_dir);
  return ret;
}
