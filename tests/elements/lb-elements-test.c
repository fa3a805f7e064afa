/* lookback — helpers shared by the element tests */
#include "lb-elements-test.h"

#include <gst/check/gstcheck.h>

LbTestRun *
lb_test_run (GstElement * pipeline, GstClockTime base_time, guint timeout_s)
{
  LbTestRun *run = g_new0 (LbTestRun, 1);
  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);
  gint64 deadline = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;

  run->messages = g_ptr_array_new_with_free_func (
      (GDestroyNotify) gst_structure_free);
  run->warnings = g_ptr_array_new_with_free_func (g_free);

  if (GST_CLOCK_TIME_IS_VALID (base_time)) {
    gst_element_set_start_time (pipeline, GST_CLOCK_TIME_NONE);
    gst_element_set_base_time (pipeline, base_time);
  }
  if (gst_element_set_state (pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE) {
    /* the error message, if any, is on the bus */
  }

  while (!run->eos && run->error == NULL) {
    gint64 left = deadline - g_get_monotonic_time ();
    fail_unless (left > 0, "pipeline did not finish in %u s", timeout_s);
    g_autoptr (GstMessage) msg = gst_bus_timed_pop_filtered (bus,
        left * GST_USECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR |
        GST_MESSAGE_WARNING | GST_MESSAGE_ELEMENT);
    if (msg == NULL)
      continue;
    switch (GST_MESSAGE_TYPE (msg)) {
      case GST_MESSAGE_EOS:
        run->eos = TRUE;
        break;
      case GST_MESSAGE_ERROR:
        gst_message_parse_error (msg, &run->error, &run->error_debug);
        GST_INFO ("error from %s: %s (%s)", GST_MESSAGE_SRC_NAME (msg),
            run->error->message, run->error_debug);
        break;
      case GST_MESSAGE_WARNING:{
        g_autoptr (GError) warning = NULL;
        gst_message_parse_warning (msg, &warning, NULL);
        g_ptr_array_add (run->warnings, g_strdup (warning->message));
        break;
      }
      case GST_MESSAGE_ELEMENT:
        if (gst_message_get_structure (msg) != NULL)
          g_ptr_array_add (run->messages,
              gst_structure_copy (gst_message_get_structure (msg)));
        break;
      default:
        break;
    }
  }

  fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  gst_object_unref (pipeline);
  return run;
}

LbTestRun *
lb_test_run_launch (const gchar * description, GstClockTime base_time,
    guint timeout_s)
{
  g_autoptr (GError) error = NULL;
  GstElement *pipeline = gst_parse_launch (description, &error);

  fail_unless (pipeline != NULL, "cannot parse '%s': %s", description,
      error ? error->message : "?");
  fail_unless (error == NULL, "'%s': %s", description, error->message);
  return lb_test_run (pipeline, base_time, timeout_s);
}

void
lb_test_run_free (LbTestRun * run)
{
  g_ptr_array_unref (run->messages);
  g_ptr_array_unref (run->warnings);
  g_clear_error (&run->error);
  g_free (run->error_debug);
  g_free (run);
}

GPtrArray *
lb_test_run_messages (LbTestRun * run, const gchar * name)
{
  GPtrArray *out = g_ptr_array_new ();

  for (guint i = 0; i < run->messages->len; i++) {
    GstStructure *s = g_ptr_array_index (run->messages, i);
    if (gst_structure_has_name (s, name))
      g_ptr_array_add (out, s);
  }
  return out;
}

GstCaps *
lb_test_frame_caps (GstVideoFormat format, gint width, gint height)
{
  GstVideoInfo info;

  gst_video_info_set_format (&info, format, width, height);
  GST_VIDEO_INFO_FPS_N (&info) = 30;
  GST_VIDEO_INFO_FPS_D (&info) = 1;
  return gst_video_info_to_caps (&info);
}

GstBuffer *
lb_test_make_frame (GstVideoFormat format, gint width, gint height,
    guint8 luma, guint8 chroma, GstClockTime pts)
{
  GstVideoInfo info;
  GstVideoFrame frame;

  gst_video_info_set_format (&info, format, width, height);
  GstBuffer *buffer = gst_buffer_new_allocate (NULL, info.size, NULL);
  fail_unless (gst_video_frame_map (&frame, &info, buffer, GST_MAP_WRITE));
  for (guint c = 0; c < GST_VIDEO_FRAME_N_COMPONENTS (&frame); c++) {
    guint8 *data = GST_VIDEO_FRAME_COMP_DATA (&frame, c);
    gint stride = GST_VIDEO_FRAME_COMP_STRIDE (&frame, c);
    gint pstride = GST_VIDEO_FRAME_COMP_PSTRIDE (&frame, c);
    for (gint y = 0; y < GST_VIDEO_FRAME_COMP_HEIGHT (&frame, c); y++)
      for (gint x = 0; x < GST_VIDEO_FRAME_COMP_WIDTH (&frame, c); x++)
        data[y * stride + x * pstride] = c == 0 ? luma : chroma;
  }
  gst_video_frame_unmap (&frame);
  GST_BUFFER_PTS (buffer) = pts;
  GST_BUFFER_DURATION (buffer) = gst_util_uint64_scale (GST_SECOND, 1, 30);
  return buffer;
}
