/* lookback — frame-exact remux: keep the pre-roll, hide it with an edit list */
#include "jobs/lb-remux.h"

#include "core/lb-debug.h"
#include "core/lb-error.h"
#include "mp4/lb-mp4-trim.h"

GST_DEBUG_CATEGORY_STATIC (lb_remux_debug);
#define GST_CAT_DEFAULT lb_remux_debug

#define PREROLL_MAX (3600 * GST_SECOND)

struct _LbRemux
{
  GMutex lock;
  GstClockTime first_pts;       /* protected by lock */
  GstClockTime stop;            /* the requested end: frames decoded after it go */
  guint samples;                /* protected by lock */
  GPtrArray *pads;              /* GstPad*, with probe ids in ids; protected
                                 * by lock (pads come while it streams) */
  GArray *ids;
  GstElement *mux;
  gulong pad_added;
};

static GstPadProbeReturn
on_data (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  LbRemux *remux = user_data;

  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
    GstClockTime pts = GST_BUFFER_PTS (buf);
    GstClockTime t = GST_BUFFER_DTS_IS_VALID (buf) ? GST_BUFFER_DTS (buf) : pts;
    g_mutex_lock (&remux->lock);
    /* Decoded after the stop: neither shown nor referenced by a frame that
     * is (frames that are keep their references, even past the stop). */
    if (GST_CLOCK_TIME_IS_VALID (remux->stop) && GST_CLOCK_TIME_IS_VALID (t)
        && t > remux->stop) {
      g_mutex_unlock (&remux->lock);
      GST_LOG_OBJECT (pad,
          "dropped %" GST_TIME_FORMAT ", decoded after the stop",
          GST_TIME_ARGS (t));
      return GST_PAD_PROBE_DROP;
    }
    if (GST_CLOCK_TIME_IS_VALID (pts) &&
        (!GST_CLOCK_TIME_IS_VALID (remux->first_pts) || pts < remux->first_pts))
      remux->first_pts = pts;
    remux->samples++;
    g_mutex_unlock (&remux->lock);
    return GST_PAD_PROBE_OK;
  }
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
  if (GST_EVENT_TYPE (event) != GST_EVENT_SEGMENT)
    return GST_PAD_PROBE_OK;

  const GstSegment *seg;
  gst_event_parse_segment (event, &seg);
  if (seg->format != GST_FORMAT_TIME)
    return GST_PAD_PROBE_OK;

  /* Same segment, but nothing within an hour before its start is clipped
   * (a pre-roll is one GOP), and no stop: the probe drops what follows it. */
  GstSegment wide;
  gst_segment_copy_into (seg, &wide);
  wide.start = seg->start > PREROLL_MAX ? seg->start - PREROLL_MAX : 0;
  wide.time = wide.start;
  wide.position = wide.start;
  wide.stop = GST_CLOCK_TIME_NONE;
  GST_DEBUG_OBJECT (pad,
      "segment start %" GST_TIME_FORMAT " widened to %" GST_TIME_FORMAT,
      GST_TIME_ARGS (seg->start), GST_TIME_ARGS (wide.start));
  GstEvent *replaced = gst_event_new_segment (&wide);
  gst_event_set_seqnum (replaced, gst_event_get_seqnum (event));
  gst_event_unref (event);
  info->data = replaced;
  return GST_PAD_PROBE_OK;
}

static void
watch_pad (LbRemux * remux, GstPad * pad)
{
  gulong id = gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER |
      GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, on_data, remux, NULL);
  g_mutex_lock (&remux->lock);
  g_ptr_array_add (remux->pads, gst_object_ref (pad));
  g_array_append_val (remux->ids, id);
  g_mutex_unlock (&remux->lock);
}

/* A sink pad requested once the pipeline runs (a demuxer's stream linked
 * late, a second track). */
static void
on_pad_added (GstElement * mux, GstPad * pad, gpointer user_data)
{
  if (GST_PAD_IS_SINK (pad))
    watch_pad (user_data, pad);
}

LbRemux *
lb_remux_attach (GstElement * mux, GstClockTime end)
{
  g_return_val_if_fail (GST_IS_ELEMENT (mux), NULL);

  LB_DEBUG_INIT (lb_remux_debug, "lookback-remux", "frame-exact remux");
  LbRemux *remux = g_new0 (LbRemux, 1);
  g_mutex_init (&remux->lock);
  remux->first_pts = GST_CLOCK_TIME_NONE;
  remux->stop = end;
  remux->pads = g_ptr_array_new_with_free_func (gst_object_unref);
  remux->ids = g_array_new (FALSE, FALSE, sizeof (gulong));
  remux->mux = gst_object_ref (mux);
  remux->pad_added = g_signal_connect (mux, "pad-added",
      G_CALLBACK (on_pad_added), remux);

  GstIterator *it = gst_element_iterate_sink_pads (mux);
  GValue v = G_VALUE_INIT;
  while (gst_iterator_next (it, &v) == GST_ITERATOR_OK) {
    watch_pad (remux, g_value_get_object (&v));
    g_value_reset (&v);
  }
  g_value_unset (&v);
  gst_iterator_free (it);
  return remux;
}

GstClockTime
lb_remux_first_pts (LbRemux * remux)
{
  g_return_val_if_fail (remux != NULL, GST_CLOCK_TIME_NONE);
  g_mutex_lock (&remux->lock);
  GstClockTime t = remux->first_pts;
  g_mutex_unlock (&remux->lock);
  return t;
}

guint
lb_remux_samples (LbRemux * remux)
{
  g_return_val_if_fail (remux != NULL, 0);
  g_mutex_lock (&remux->lock);
  guint n = remux->samples;
  g_mutex_unlock (&remux->lock);
  return n;
}

gboolean
lb_remux_finish (LbRemux * remux, const gchar * path, GstClockTime start,
    GstClockTime end, GstClockTime * delivered_start,
    GstClockTime * delivered_end, guint * frames, GError ** error)
{
  g_return_val_if_fail (remux != NULL, FALSE);
  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (end > start, FALSE);

  GstClockTime first = lb_remux_first_pts (remux);
  if (!GST_CLOCK_TIME_IS_VALID (first)) {
    g_set_error (error, LB_ERROR, LB_ERROR_UNAVAILABLE,
        "no frame reached the muxer");
    return FALSE;
  }
  GstClockTime from = MAX (start, first);
  LbMp4Trim trim;
  if (end <= from) {
    g_set_error (error, LB_ERROR, LB_ERROR_UNAVAILABLE,
        "the footage starts after the requested end");
    return FALSE;
  }
  if (!lb_mp4_trim (path, from - first, end - from, &trim, error))
    return FALSE;
  if (delivered_start)
    *delivered_start = first + trim.skip_ns;
  if (delivered_end)
    *delivered_end = first + trim.skip_ns + trim.duration_ns;
  if (frames)
    *frames = trim.frames;
  GST_INFO ("%s: %u of %u samples shown, from %" GST_TIME_FORMAT " for %"
      GST_TIME_FORMAT, path, trim.frames, trim.samples,
      GST_TIME_ARGS (first + trim.skip_ns), GST_TIME_ARGS (trim.duration_ns));
  return TRUE;
}

void
lb_remux_free (LbRemux * remux)
{
  if (remux == NULL)
    return;
  g_signal_handler_disconnect (remux->mux, remux->pad_added);
  gst_object_unref (remux->mux);
  for (guint i = 0; i < remux->pads->len; i++)
    gst_pad_remove_probe (remux->pads->pdata[i], g_array_index (remux->ids,
            gulong, i));
  g_ptr_array_unref (remux->pads);
  g_array_unref (remux->ids);
  g_mutex_clear (&remux->lock);
  g_free (remux);
}
