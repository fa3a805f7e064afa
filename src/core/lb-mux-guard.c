/* lookback — a muxer's caps kept alive (lb-mux-guard.h) */
#include "core/lb-mux-guard.h"

typedef struct
{
  GstCaps *caps[LB_MUX_GUARD_CAPS];
  guint next;                   /* the slot the next caps goes to */
} KeptCaps;

static GQuark
kept_caps_quark (void)
{
  return g_quark_from_static_string ("lb-mux-guard-caps");
}

static void
kept_caps_free (gpointer p)
{
  KeptCaps *k = p;
  for (guint i = 0; i < LB_MUX_GUARD_CAPS; i++)
    gst_clear_caps (&k->caps[i]);
  g_free (k);
}

/* Before the muxer sees the event, under @pad's stream lock (caps events
 * are serialized): one thread at a time. */
static GstPadProbeReturn
on_event (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  GstEvent *ev = GST_PAD_PROBE_INFO_EVENT (info);
  if (GST_EVENT_TYPE (ev) != GST_EVENT_CAPS)
    return GST_PAD_PROBE_OK;
  KeptCaps *k = g_object_get_qdata (G_OBJECT (pad), kept_caps_quark ());
  if (k == NULL) {
    k = g_new0 (KeptCaps, 1);
    g_object_set_qdata_full (G_OBJECT (pad), kept_caps_quark (), k,
        kept_caps_free);
  }
  GstCaps *caps;
  gst_event_parse_caps (ev, &caps);
  gst_caps_replace (&k->caps[k->next], caps);
  k->next = (k->next + 1) % LB_MUX_GUARD_CAPS;
  return GST_PAD_PROBE_OK;
}

/* Once per object: whether @object was not marked @mark yet (it is now). */
static gboolean
mark_once (GstObject * object, const gchar * mark)
{
  GST_OBJECT_LOCK (object);
  gboolean first = g_object_get_data (G_OBJECT (object), mark) == NULL;
  if (first)
    g_object_set_data (G_OBJECT (object), mark, GINT_TO_POINTER (1));
  GST_OBJECT_UNLOCK (object);
  return first;
}

/* (a pad the muxer adds while lb_mux_guard_caps looks at its pads may
 * come twice) */
static void
guard_pad (GstPad * pad)
{
  if (GST_PAD_IS_SINK (pad) && mark_once (GST_OBJECT (pad), "lb-mux-guard"))
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, on_event,
        NULL, NULL);
}

static void
on_pad_added (GstElement * muxer, GstPad * pad, gpointer user_data)
{
  guard_pad (pad);
}

static void
guard_existing_pad (const GValue * v, gpointer user_data)
{
  guard_pad (g_value_get_object (v));
}

void
lb_mux_guard_caps (GstElement * muxer)
{
  g_return_if_fail (GST_IS_ELEMENT (muxer));

  if (!mark_once (GST_OBJECT (muxer), "lb-mux-guard"))
    return;
  g_signal_connect (muxer, "pad-added", G_CALLBACK (on_pad_added), NULL);
  GstIterator *it = gst_element_iterate_sink_pads (muxer);
  while (gst_iterator_foreach (it, guard_existing_pad, NULL) ==
      GST_ITERATOR_RESYNC)
    gst_iterator_resync (it);
  gst_iterator_free (it);
}
