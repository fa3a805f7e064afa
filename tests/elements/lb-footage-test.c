/* lookback — recorded footage for the lbrecordingsrc tests */
#include "lb-footage-test.h"

#include "lbelements.h"
#include "recorder/lb-indexer.h"
#include "recorder/lb-segment-writer.h"
#include "store/lb-store.h"

#include <gio/gio.h>
#include <glib/gstdio.h>

GPtrArray *
lb_test_record (const gchar * db, const gchar * vehicle, const gchar * input,
    gint64 origin_ns, guint n_frames, gint64 segment_ns)
{
  return lb_test_record_full (db, vehicle, input, origin_ns, n_frames,
      segment_ns, "");
}

GPtrArray *
lb_test_record_full (const gchar * db, const gchar * vehicle,
    const gchar * input, gint64 origin_ns, guint n_frames, gint64 segment_ns,
    const gchar * x264_options)
{
  g_autofree gchar *encoder = g_strdup_printf ("x264enc "
      "speed-preset=ultrafast key-int-max=%d option-string=scenecut=0 %s ! "
      "h264parse name=parse", LB_TEST_FPS, x264_options);
  return lb_test_record_encoded (db, vehicle, input, origin_ns, n_frames,
      segment_ns, encoder);
}

gchar *
lb_test_x265_encoder (guint bframes)
{
  return g_strdup_printf ("x265enc speed-preset=ultrafast key-int-max=%d "
      "option-string=\"scenecut=0:open-gop=0:bframes=%u:b-adapt=0\" ! "
      "h265parse name=parse", LB_TEST_FPS, bframes);
}

GPtrArray *
lb_test_record_encoded (const gchar * db, const gchar * vehicle,
    const gchar * input, gint64 origin_ns, guint n_frames, gint64 segment_ns,
    const gchar * encoder)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LbStore) store = lb_store_open (db, LB_STORE_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
  g_autofree gchar *description = g_strdup_printf ("videotestsrc "
      "pattern=ball num-buffers=%u ! video/x-raw,format=I420,width=%d,"
      "height=%d,framerate=%d/1 ! lbclockstamp source=pts offset=%"
      G_GINT64_FORMAT " ! %s", n_frames, LB_TEST_WIDTH, LB_TEST_HEIGHT,
      LB_TEST_FPS, origin_ns, encoder);
  GstElement *pipeline = gst_parse_launch (description, &error);
  g_assert_no_error (error);

  g_autoptr (LbSegmentWriter) writer =
      lb_segment_writer_new (lb_store_get_dir (store), vehicle, input,
      segment_ns, GST_SECOND);
  g_assert_nonnull (writer);
  lb_segment_writer_set_origin (writer, origin_ns);
  GstElement *sink = lb_segment_writer_get_sink (writer);
  gst_bin_add (GST_BIN (pipeline), sink);
  g_autoptr (GstElement) parse = gst_bin_get_by_name (GST_BIN (pipeline),
      "parse");
  g_assert_true (gst_element_link (parse, sink));

  GPtrArray *paths = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GArray) starts = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);
  gboolean done = FALSE;

  g_assert_cmpint (gst_element_set_state (pipeline, GST_STATE_PLAYING), !=,
      GST_STATE_CHANGE_FAILURE);
  while (!done) {
    g_autoptr (GstMessage) msg = gst_bus_timed_pop_filtered (bus,
        60 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR |
        GST_MESSAGE_ELEMENT);
    g_assert_nonnull (msg);
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      g_autoptr (GError) e = NULL;
      g_autofree gchar *debug = NULL;
      gst_message_parse_error (msg, &e, &debug);
      g_error ("recording failed: %s (%s)", e->message, debug);
    }
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS)
      done = TRUE;
    gchar *path = NULL;
    gint64 start_ns = 0;
    if (lb_segment_writer_parse_message (writer, msg, &path, &start_ns) ==
        LB_SEGMENT_EVENT_CLOSED) {
      g_ptr_array_add (paths, path);
      g_array_append_val (starts, start_ns);
    } else {
      g_free (path);
    }
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);

  for (guint i = 0; i < paths->len; i++) {
    gint64 id = 0;
    g_assert_true (lb_footage_index_file (store, vehicle, input,
            g_ptr_array_index (paths, i), g_array_index (starts, gint64, i),
            &id, &error));
    g_assert_no_error (error);
  }
  return paths;
}

gboolean
lb_test_is_recorder (int argc, char **argv, LbTestRecordFunc record)
{
  if (argc != 3 || g_strcmp0 (argv[1], "--record") != 0)
    return FALSE;
  gst_init (NULL, NULL);
  g_assert_true (lb_elements_register (NULL));
  record (argv[2]);
  return TRUE;
}

gchar *
lb_test_prepare_store (const gchar * program, gchar ** out_dir)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *out = NULL, *err = NULL;
  gchar *db = NULL;
  gint status = 0;

  *out_dir = lb_test_store_new (&db);
  const gchar *argv[] = { program, "--record", db, NULL };
  g_assert_true (g_spawn_sync (NULL, (gchar **) argv, NULL,
          G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status, &error));
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, &error))
    g_error ("recording the test footage failed: %s\n%s%s", error->message,
        out, err);
  return db;
}
