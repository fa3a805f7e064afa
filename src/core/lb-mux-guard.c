/* lookback — mp4mux 1.22.0 guarded (lb-mux-guard.h) */
#include "core/lb-mux-guard.h"

/* What the probes of one muxer share (a reference each, and the muxer's). */
typedef struct
{
  gint failed;                  /* atomic: lb_mux_guard_failed() */
} Guard;

typedef struct
{
  GstCaps *caps[LB_MUX_GUARD_CAPS];
  guint next;                   /* the slot the next caps goes to */
} KeptCaps;

static GQuark
guard_quark (void)
{
  return g_quark_from_static_string ("lb-mux-guard");
}

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

static void
keep_caps (GstPad * pad, GstEvent * ev)
{
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
}

/* Before the muxer sees the event, under @pad's stream lock (caps and EOS
 * are serialized): one thread at a time. */
static GstPadProbeReturn
on_event (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  Guard *g = data;
  GstEvent *ev = GST_PAD_PROBE_INFO_EVENT (info);
  if (GST_EVENT_TYPE (ev) == GST_EVENT_CAPS)
    keep_caps (pad, ev);
  else if (GST_EVENT_TYPE (ev) == GST_EVENT_EOS
      && g_atomic_int_get (&g->failed))
    return GST_PAD_PROBE_DROP;
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

/* (a pad the muxer adds while lb_mux_guard looks at its pads may come
 * twice) */
static void
guard_pad (GstPad * pad, Guard * g)
{
  if (GST_PAD_IS_SINK (pad) && mark_once (GST_OBJECT (pad), "lb-mux-guard"))
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, on_event,
        g_atomic_rc_box_acquire (g), (GDestroyNotify) g_atomic_rc_box_release);
}

static void
guard_release (gpointer data, GClosure * closure)
{
  g_atomic_rc_box_release (data);
}

static void
on_pad_added (GstElement * muxer, GstPad * pad, gpointer data)
{
  guard_pad (pad, data);
}

static void
guard_existing_pad (const GValue * v, gpointer data)
{
  guard_pad (g_value_get_object (v), data);
}

void
lb_mux_guard (GstElement * muxer)
{
  g_return_if_fail (GST_IS_ELEMENT (muxer));

  if (!mark_once (GST_OBJECT (muxer), "lb-mux-guard"))
    return;
  Guard *g = g_atomic_rc_box_new0 (Guard);
  g_object_set_qdata_full (G_OBJECT (muxer), guard_quark (), g,
      (GDestroyNotify) g_atomic_rc_box_release);
  g_signal_connect_data (muxer, "pad-added", G_CALLBACK (on_pad_added),
      g_atomic_rc_box_acquire (g), guard_release, 0);
  GstIterator *it = gst_element_iterate_sink_pads (muxer);
  while (gst_iterator_foreach (it, guard_existing_pad, g) ==
      GST_ITERATOR_RESYNC)
    gst_iterator_resync (it);
  gst_iterator_free (it);
}

void
lb_mux_guard_failed (GstElement * muxer)
{
  g_return_if_fail (GST_IS_ELEMENT (muxer));

  Guard *g = g_object_get_qdata (G_OBJECT (muxer), guard_quark ());
  if (g)
    g_atomic_int_set (&g->failed, 1);
}
