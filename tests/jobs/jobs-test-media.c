/* lookback tests (jobs): making and checking media at test time */
#include "jobs-test-media.h"

#include <gst/app/gstappsink.h>
#include <gst/pbutils/pbutils.h>
#include <gst/video/video.h>

void
jt_run_launch (const gchar * description)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GstElement) p = gst_parse_launch (description, &error);
  g_assert_no_error (error);
  g_assert_cmpint (gst_element_set_state (p, GST_STATE_PLAYING), !=,
      GST_STATE_CHANGE_FAILURE);
  g_autoptr (GstBus) bus = gst_element_get_bus (p);
  g_autoptr (GstMessage) msg = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  g_assert_nonnull (msg);
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    g_autoptr (GError) err = NULL;
    gst_message_parse_error (msg, &err, NULL);
    g_error ("%s: %s", description, err->message);
  }
  gst_element_set_state (p, GST_STATE_NULL);
}

void
jt_make_h264_mp4 (const gchar * path, guint frames, gint width, gint height,
    guint bframes)
{
  g_autofree gchar *d =
      g_strdup_printf ("videotestsrc pattern=ball num-buffers=%u "
      "! video/x-raw,width=%d,height=%d,framerate=30/1 ! videoconvert "
      "! video/x-raw,format=I420 ! x264enc speed-preset=superfast bframes=%u "
      "key-int-max=30 option-string=scenecut=0 ! video/x-h264,profile=high ! h264parse "
      "! mp4mux ! filesink location=\"%s\"", frames, width, height, bframes,
      path);
  jt_run_launch (d);
}

JtDecoded *
jt_decode (const gchar * path)
{
  g_autofree gchar *d =
      g_strdup_printf ("filesrc location=\"%s\" ! qtdemux ! decodebin "
      "! videoconvert ! video/x-raw,format=I420 ! appsink name=out sync=false",
      path);
  g_autoptr (GError) error = NULL;
  g_autoptr (GstElement) p = gst_parse_launch (d, &error);
  g_assert_no_error (error);
  g_autoptr (GstElement) sink = gst_bin_get_by_name (GST_BIN (p), "out");
  JtDecoded *out = g_new0 (JtDecoded, 1);
  out->frames = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  out->pts = g_array_new (FALSE, FALSE, sizeof (GstClockTime));

  g_assert_cmpint (gst_element_set_state (p, GST_STATE_PLAYING), !=,
      GST_STATE_CHANGE_FAILURE);
  for (;;) {
    g_autoptr (GstSample) s =
        gst_app_sink_try_pull_sample (GST_APP_SINK (sink), 30 * GST_SECOND);
    if (s == NULL)
      break;
    GstBuffer *buf = gst_sample_get_buffer (s);
    GstVideoInfo info;
    g_assert_true (gst_video_info_from_caps (&info, gst_sample_get_caps (s)));
    out->width = info.width;
    out->height = info.height;
    /* the visible pixels only: row padding may hold anything */
    GstVideoFrame frame;
    g_assert_true (gst_video_frame_map (&frame, &info, buf, GST_MAP_READ));
    GByteArray *pixels = g_byte_array_new ();
    for (guint c = 0; c < GST_VIDEO_FRAME_N_COMPONENTS (&frame); c++) {
      const guint8 *row = GST_VIDEO_FRAME_COMP_DATA (&frame, c);
      gint stride = GST_VIDEO_FRAME_COMP_STRIDE (&frame, c);
      gint w = GST_VIDEO_FRAME_COMP_WIDTH (&frame,
          c) * GST_VIDEO_FRAME_COMP_PSTRIDE (&frame, c);
      for (gint y = 0; y < GST_VIDEO_FRAME_COMP_HEIGHT (&frame, c); y++)
        g_byte_array_append (pixels, row + y * stride, w);
    }
    gst_video_frame_unmap (&frame);
    g_ptr_array_add (out->frames, g_byte_array_free_to_bytes (pixels));
    GstClockTime pts = GST_BUFFER_PTS (buf);
    g_array_append_val (out->pts, pts);
  }
  g_autoptr (GstBus) bus = gst_element_get_bus (p);
  g_autoptr (GstMessage) err = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  g_assert_null (err);
  gst_element_set_state (p, GST_STATE_NULL);
  return out;
}

void
jt_decoded_free (JtDecoded * d)
{
  if (d == NULL)
    return;
  g_ptr_array_unref (d->frames);
  g_array_unref (d->pts);
  g_free (d);
}

gint
jt_find_frame (JtDecoded * all, GBytes * frame)
{
  gint found = -1;
  for (guint i = 0; i < all->frames->len; i++)
    if (g_bytes_equal (all->frames->pdata[i], frame)) {
      g_assert_cmpint (found, ==, -1);  /* the pattern must tell frames apart */
      found = i;
    }
  return found;
}

JtInfo *
jt_discover (const gchar * path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GstDiscoverer) disc = gst_discoverer_new (20 * GST_SECOND, &error);
  g_assert_no_error (error);
  g_autofree gchar *uri = gst_filename_to_uri (path, &error);
  g_assert_no_error (error);
  g_autoptr (GstDiscovererInfo) info =
      gst_discoverer_discover_uri (disc, uri, &error);
  g_assert_no_error (error);
  g_assert_cmpint (gst_discoverer_info_get_result (info), ==,
      GST_DISCOVERER_OK);

  JtInfo *out = g_new0 (JtInfo, 1);
  out->duration = gst_discoverer_info_get_duration (info);
  g_autoptr (GstDiscovererStreamInfo) top =
      gst_discoverer_info_get_stream_info (info);
  g_autoptr (GstCaps) tcaps = gst_discoverer_stream_info_get_caps (top);
  out->container =
      g_strdup (gst_structure_get_name (gst_caps_get_structure (tcaps, 0)));
  GList *videos = gst_discoverer_info_get_video_streams (info);
  if (videos) {
    GstDiscovererVideoInfo *v = videos->data;
    g_autoptr (GstCaps) vcaps =
        gst_discoverer_stream_info_get_caps (GST_DISCOVERER_STREAM_INFO (v));
    out->video =
        g_strdup (gst_structure_get_name (gst_caps_get_structure (vcaps, 0)));
    out->width = gst_discoverer_video_info_get_width (v);
    out->height = gst_discoverer_video_info_get_height (v);
  }
  gst_discoverer_stream_info_list_free (videos);
  return out;
}

void
jt_info_free (JtInfo * info)
{
  if (info == NULL)
    return;
  g_free (info->container);
  g_free (info->video);
  g_free (info);
}

GArray *
jt_read_frames (const gchar * description)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GstElement) p = gst_parse_launch (description, &error);
  g_assert_no_error (error);
  GArray *frames = g_array_new (FALSE, FALSE, sizeof (JtFrame));
  g_autoptr (GstBus) bus = gst_element_get_bus (p);
  gst_element_set_state (p, GST_STATE_PLAYING);
  for (;;) {
    g_autoptr (GstMessage) m = gst_bus_timed_pop_filtered (bus, 30 * GST_SECOND,
        GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_ELEMENT);
    g_assert_nonnull (m);
    if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR) {
      g_autoptr (GError) err = NULL;
      gst_message_parse_error (m, &err, NULL);
      g_error ("%s: %s", description, err->message);
    }
    if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_EOS)
      break;
    const GstStructure *s = gst_message_get_structure (m);
    JtFrame f;
    guint64 pts = 0;
    if (gst_structure_has_name (s, "lbclockcheck")) {
      g_assert_true (gst_structure_get_int64 (s, "stamp", &f.stamp));
      g_assert_true (gst_structure_get_uint64 (s, "pts", &pts));
      f.pts = (gint64) pts;
      g_array_append_val (frames, f);
    }
  }
  gst_element_set_state (p, GST_STATE_NULL);
  return frames;
}

GArray *
jt_read_stamps (const gchar * path)
{
  g_autofree gchar *d =
      g_strdup_printf ("filesrc location=\"%s\" ! decodebin ! videoconvert "
      "! lbclockcheck ! fakesink", path);
  g_autoptr (GArray) frames = jt_read_frames (d);
  GArray *stamps = g_array_new (FALSE, FALSE, sizeof (gint64));
  for (guint i = 0; i < frames->len; i++)
    g_array_append_val (stamps, g_array_index (frames, JtFrame, i).stamp);
  return stamps;
}
