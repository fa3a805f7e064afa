/* Test helpers of the footage tests */
#include "footage-util.h"

#include <gst/gst.h>
#include <glib/gstdio.h>

typedef struct
{
  GMutex lock;
  GCond cond;
  guint seen;
} Counter;

static GstPadProbeReturn
drop_eos (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  Counter *c = user_data;
  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
    GstEvent *ev = GST_PAD_PROBE_INFO_EVENT (info);
    if (GST_EVENT_TYPE (ev) == GST_EVENT_EOS) {
      g_mutex_lock (&c->lock);
      c->seen = G_MAXUINT;
      g_cond_signal (&c->cond);
      g_mutex_unlock (&c->lock);
      return GST_PAD_PROBE_DROP;
    }
  }
  return GST_PAD_PROBE_OK;
}

gboolean
lbt_record (const gchar * path, const LbtRecording * rec)
{
  g_autofree gchar *dir = g_path_get_dirname (path);
  g_autofree gchar *tmpl = g_build_filename (dir, "lbt-rec-%03d.mp4", NULL);
  g_autofree gchar *first = g_build_filename (dir, "lbt-rec-000.mp4", NULL);
  gint gop = rec->gop ? rec->gop : 30;
  g_autofree gchar *encoder = g_strcmp0 (rec->codec, "h265") == 0 ?
      /* closed GOPs (IDR), a fixed pattern of B-frames */
      g_strdup_printf ("x265enc name=enc speed-preset=ultrafast key-int-max=%d "
      "option-string=\"scenecut=0:open-gop=0:bframes=%d:b-adapt=0\" ! "
      "h265parse name=parse", gop, rec->bframes) :
      g_strdup_printf ("x264enc name=enc speed-preset=superfast bframes=%d "
      "key-int-max=%d option-string=scenecut=0:slices=%d ! "
      "video/x-h264,profile=%s ! h264parse name=parse", rec->bframes, gop,
      rec->slices,
      rec->bframes ? "main" : "high");
  g_autofree gchar *desc =
      g_strdup_printf ("videotestsrc num-buffers=%u pattern=ball ! "
      "video/x-raw,width=%d,height=%d,framerate=%d/1 ! videoconvert ! "
      "video/x-raw,format=I420 ! %s ! "
      "splitmuxsink name=sink async-finalize=true muxer-factory=mp4mux "
      "muxer-properties=\"properties,fragment-duration=(uint)%u,fragment-mode=(int)1\" "
      "location=%s max-size-time=3600000000000",
      rec->frames, rec->width ? rec->width : 160,
      rec->height ? rec->height : 120,
      rec->fps ? rec->fps : 30, encoder,
      rec->fragment_ms ? rec->fragment_ms : 1000, tmpl);
  GError *error = NULL;
  GstElement *pipeline = gst_parse_launch (desc, &error);
  g_assert_no_error (error);

  Counter c = { 0 };
  g_mutex_init (&c.lock);
  g_cond_init (&c.cond);
  if (rec->crash) {
    /* the sink's pad is a request pad: probe the parser's src instead */
    GstElement *parse = gst_bin_get_by_name (GST_BIN (pipeline), "parse");
    GstPad *pad = gst_element_get_static_pad (parse, "src");
    gst_object_unref (parse);
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, drop_eos, &c,
        NULL);
    gst_object_unref (pad);
  }

  gboolean ok = TRUE;
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  if (rec->crash) {
    g_mutex_lock (&c.lock);
    gint64 deadline = g_get_monotonic_time () + 60 * G_TIME_SPAN_SECOND;
    while (c.seen != G_MAXUINT)
      if (!g_cond_wait_until (&c.cond, &c.lock, deadline)) {
        ok = FALSE;
        break;
      }
    g_mutex_unlock (&c.lock);
    /* let the muxer write what it has */
    g_usleep (200 * 1000);
  } else {
    GstBus *bus = gst_element_get_bus (pipeline);
    GstMessage *msg = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND,
        GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
    if (msg == NULL || GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      if (msg) {
        GError *err = NULL;
        gst_message_parse_error (msg, &err, NULL);
        g_printerr ("recording failed: %s\n", err->message);
        g_clear_error (&err);
      }
      ok = FALSE;
    }
    if (msg)
      gst_message_unref (msg);
    gst_object_unref (bus);
  }
  if (rec->crash) {
    /* Copy the bytes as they are now: what a crash would leave. */
    gchar *data = NULL;
    gsize len = 0;
    ok = ok && g_file_get_contents (first, &data, &len, NULL);
    gst_element_set_state (pipeline, GST_STATE_NULL);
    ok = ok && g_file_set_contents (path, data, len, NULL);
    g_free (data);
  } else {
    gst_element_set_state (pipeline, GST_STATE_NULL);
    ok = ok && g_rename (first, path) == 0;
  }
  g_unlink (first);
  gst_object_unref (pipeline);
  g_mutex_clear (&c.lock);
  g_cond_clear (&c.cond);
  return ok;
}

GBytes *
lbt_read_bytes (const gchar * path)
{
  gchar *data = NULL;
  gsize len = 0;
  if (!g_file_get_contents (path, &data, &len, NULL))
    return NULL;
  return g_bytes_new_take (data, len);
}

gboolean
lbt_avc_sample_is_idr (const guint8 * data, gsize size)
{
  gsize pos = 0;
  while (pos + 4 < size) {
    guint32 n = ((guint32) data[pos] << 24) | ((guint32) data[pos + 1] << 16) |
        ((guint32) data[pos + 2] << 8) | data[pos + 3];
    if (n == 0 || n > size - pos - 4)
      return FALSE;
    guint type = data[pos + 4] & 0x1f;
    if (type == 5)
      return TRUE;
    if (type == 1)
      return FALSE;
    pos += 4 + n;
  }
  return FALSE;
}

void
lbt_write_file (const gchar * path, const gchar * text)
{
  g_autofree gchar *dir = g_path_get_dirname (path);
  g_mkdir_with_parents (dir, 0755);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
}
