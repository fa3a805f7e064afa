/* lookback — the segment sink: splitmuxsink writing crash-safe fMP4 segments */
#include "recorder/lb-segment-sink.h"

#include "core/lb-debug.h"
#include "store/lb-store-footage.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

GST_DEBUG_CATEGORY_STATIC (lb_segment_sink_debug);
#define GST_CAT_DEFAULT lb_segment_sink_debug

#define SINK_DATA "lb-segment-sink"


/* What a segment sink knows, attached to the splitmuxsink as object data. */
typedef struct
{
  gchar *store_dir;
  gchar *vehicle;
  gchar *input;
  GMutex lock;
  gboolean has_origin;          /* protected by lock */
  gint64 origin_ns;             /* protected by lock */
  GHashTable *starts;           /* location → gint64* start_ns; protected by lock */
} SinkData;

static void
sink_data_free (gpointer p)
{
  SinkData *d = p;

  g_free (d->store_dir);
  g_free (d->vehicle);
  g_free (d->input);
  g_mutex_clear (&d->lock);
  g_hash_table_unref (d->starts);
  g_free (d);
}

/* splitmuxsink's format-location-full: the file of a new segment, named by
 * the wall clock of its first buffer (streaming thread). */
static gchar *
on_format_location (GstElement * splitmux, guint fragment_id, GstSample * first,
    gpointer user_data)
{
  SinkData *d = user_data;
  GstBuffer *buf = gst_sample_get_buffer (first);
  const GstSegment *seg = gst_sample_get_segment (first);
  GstClockTime ts = GST_CLOCK_TIME_NONE;
  guint64 running = 0;
  gint64 origin, start_ns;

  if (buf) {
    ts = GST_BUFFER_PTS (buf);
    if (!GST_CLOCK_TIME_IS_VALID (ts))
      ts = GST_BUFFER_DTS (buf);
  }
  if (GST_CLOCK_TIME_IS_VALID (ts) && seg && seg->format == GST_FORMAT_TIME) {
    if (gst_segment_to_running_time_full (seg, GST_FORMAT_TIME, ts,
            &running) < 0)
      running = 0;
  }

  g_mutex_lock (&d->lock);
  origin =
      d->
      has_origin ? d->origin_ns : (gint64) gst_element_get_base_time (splitmux);
  start_ns = origin + (gint64) running;

  gchar *path =
      lb_footage_segment_path (d->store_dir, d->vehicle, d->input, start_ns);
  /* Two files never share a name: a clash (same first-frame time) moves the
   * new one by a nanosecond. */
  while (g_hash_table_contains (d->starts, path)
      || g_file_test (path, G_FILE_TEST_EXISTS)) {
    g_free (path);
    path =
        lb_footage_segment_path (d->store_dir, d->vehicle, d->input,
        ++start_ns);
  }
  gint64 *v = g_new (gint64, 1);
  *v = start_ns;
  g_hash_table_insert (d->starts, g_strdup (path), v);
  g_mutex_unlock (&d->lock);

  g_autofree gchar *dir = g_path_get_dirname (path);
  if (g_mkdir_with_parents (dir, 0755) < 0)
    GST_ERROR_OBJECT (splitmux, "cannot create %s: %s", dir,
        g_strerror (errno));
  GST_INFO_OBJECT (splitmux,
      "segment %u: %s (first frame at %" G_GINT64_FORMAT ", running time %"
      GST_TIME_FORMAT ")", fragment_id, path, start_ns,
      GST_TIME_ARGS (running));
  return path;
}

/* Sets @name of @props to the value @nick of the enum property @name of
 * @factory_name's elements (the enum type exists once the element class is
 * loaded). */
static gboolean
set_enum_by_nick (GstStructure * props, const gchar * factory_name,
    const gchar * name, const gchar * nick)
{
  GstElementFactory *factory = gst_element_factory_find (factory_name);
  if (factory == NULL)
    return FALSE;
  GstPluginFeature *loaded =
      gst_plugin_feature_load (GST_PLUGIN_FEATURE (factory));
  gst_object_unref (factory);
  if (loaded == NULL)
    return FALSE;
  GType type =
      gst_element_factory_get_element_type (GST_ELEMENT_FACTORY (loaded));
  gst_object_unref (loaded);
  if (type == 0)
    return FALSE;
  GObjectClass *klass = g_type_class_ref (type);
  GParamSpec *pspec = g_object_class_find_property (klass, name);
  GType enum_type = pspec
      && G_IS_PARAM_SPEC_ENUM (pspec) ? pspec->value_type : 0;
  g_type_class_unref (klass);
  if (enum_type == 0)
    return FALSE;
  GEnumClass *eclass = g_type_class_ref (enum_type);
  GEnumValue *v = g_enum_get_value_by_nick (eclass, nick);
  if (v) {
    GValue gv = G_VALUE_INIT;
    g_value_init (&gv, enum_type);
    g_value_set_enum (&gv, v->value);
    gst_structure_set_value (props, name, &gv);
    g_value_unset (&gv);
  }
  g_type_class_unref (eclass);
  return v != NULL;
}

static GstStructure *
muxer_properties (gint64 fragment_cap_ns)
{
  /* The enum type of fragment-mode exists only once mp4mux is loaded and
   * its class initialised: take it from the property itself. */
  GstElementFactory *factory = gst_element_factory_find ("mp4mux");
  if (factory == NULL)
    return NULL;
  GstPluginFeature *loaded =
      gst_plugin_feature_load (GST_PLUGIN_FEATURE (factory));
  gst_object_unref (factory);
  if (loaded == NULL)
    return NULL;
  GType mux_type =
      gst_element_factory_get_element_type (GST_ELEMENT_FACTORY (loaded));
  gst_object_unref (loaded);
  if (mux_type == 0)
    return NULL;
  GObjectClass *mux_class = g_type_class_ref (mux_type);
  GParamSpec *pspec = g_object_class_find_property (mux_class, "fragment-mode");
  GType mode_type = pspec
      && G_IS_PARAM_SPEC_ENUM (pspec) ? pspec->value_type : 0;
  g_type_class_unref (mux_class);
  if (mode_type == 0)
    return NULL;
  GEnumClass *klass = g_type_class_ref (mode_type);
  GEnumValue *mode =
      g_enum_get_value_by_nick (klass, "first-moov-then-finalise");
  if (mode == NULL) {
    g_type_class_unref (klass);
    return NULL;
  }

  GstStructure *s = gst_structure_new_empty ("properties");
  GValue v = G_VALUE_INIT;
  guint cap_ms = (guint) CLAMP (fragment_cap_ns / GST_MSECOND, 1, G_MAXUINT);

  g_value_init (&v, G_TYPE_UINT);
  g_value_set_uint (&v, cap_ms);
  gst_structure_set_value (s, "fragment-duration", &v);
  g_value_unset (&v);
  g_value_init (&v, mode_type);
  g_value_set_enum (&v, mode->value);
  gst_structure_set_value (s, "fragment-mode", &v);
  g_value_unset (&v);
  g_type_class_unref (klass);
  return s;
}

/**
 * lb_segment_sink_new:
 * @fragment_duration_ns: the GOP length the recorder asks of encoders; the
 *   muxer cuts a fragment at every keyframe, and at the latest after
 *   max(@segment_duration_ns, @fragment_duration_ns).
 *
 * Returns: (transfer floating): a configured splitmuxsink, or %NULL when
 * mp4mux or splitmuxsink is missing.
 */
GstElement *
lb_segment_sink_new (const gchar * store_dir, const gchar * vehicle,
    const gchar * input, gint64 segment_duration_ns,
    gint64 fragment_duration_ns)
{
  g_return_val_if_fail (store_dir != NULL, NULL);
  g_return_val_if_fail (vehicle != NULL && input != NULL, NULL);
  g_return_val_if_fail (segment_duration_ns > 0, NULL);

  LB_DEBUG_INIT (lb_segment_sink_debug, "lookback-segment-sink",
      "lookback segment sink");

  g_autoptr (GstStructure) props = muxer_properties (MAX (segment_duration_ns,
          fragment_duration_ns));
  if (props == NULL) {
    GST_ERROR ("mp4mux (gst-plugins-good) is not available");
    return NULL;
  }
  GstElement *sink = gst_element_factory_make ("splitmuxsink", NULL);
  if (sink == NULL) {
    GST_ERROR ("splitmuxsink (gst-plugins-good) is not available");
    return NULL;
  }
  /* The file sink neither prerolls nor syncs: a live pipeline goes to
   * PLAYING without waiting on it (a prerolling sink created by splitmuxsink
   * for each new file can otherwise stay in PAUSED). */
  g_autoptr (GstStructure) sink_props = gst_structure_new ("properties",
      "async", G_TYPE_BOOLEAN, FALSE, "sync", G_TYPE_BOOLEAN, FALSE, NULL);
  /* Unbuffered: every buffer mp4mux pushes reaches the file at once.  With
   * filesink's default 64 KiB buffer, a fragment's moof (and the samples of
   * the next one) wait in memory until mp4mux's next seek, and a kill loses
   * them: one GOP more than the GOP splitmuxsink holds back. */
  if (!set_enum_by_nick (sink_props, "filesink", "buffer-mode", "unbuffered")) {
    GST_ERROR ("filesink (gstreamer core) is not available");
    return NULL;
  }
  g_object_set (sink,
      "async-finalize", TRUE,
      "sink-factory", "filesink",
      "sink-properties", sink_props,
      "muxer-factory", "mp4mux",
      "muxer-properties", props,
      "max-size-time", (guint64) segment_duration_ns,
      "max-size-bytes", (guint64) 0, "send-keyframe-requests", FALSE, NULL);

  SinkData *d = g_new0 (SinkData, 1);
  d->store_dir = g_strdup (store_dir);
  d->vehicle = g_strdup (vehicle);
  d->input = g_strdup (input);
  g_mutex_init (&d->lock);
  d->starts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_object_set_data_full (G_OBJECT (sink), SINK_DATA, d, sink_data_free);
  g_signal_connect (sink, "format-location-full",
      G_CALLBACK (on_format_location), d);
  return sink;
}

void
lb_segment_sink_set_origin (GstElement * sink, gint64 origin_ns)
{
  g_return_if_fail (GST_IS_ELEMENT (sink));
  SinkData *d = g_object_get_data (G_OBJECT (sink), SINK_DATA);
  g_return_if_fail (d != NULL);

  g_mutex_lock (&d->lock);
  d->has_origin = TRUE;
  d->origin_ns = origin_ns;
  g_mutex_unlock (&d->lock);
}

GstClock *
lb_segment_sink_new_clock (void)
{
  return g_object_new (GST_TYPE_SYSTEM_CLOCK, "name", "lookback-realtime-clock",
      "clock-type", GST_CLOCK_TYPE_REALTIME, NULL);
}

guint
lb_segment_sink_count_open (GstElement * sink)
{
  g_return_val_if_fail (GST_IS_ELEMENT (sink), 0);
  SinkData *d = g_object_get_data (G_OBJECT (sink), SINK_DATA);
  g_return_val_if_fail (d != NULL, 0);

  g_mutex_lock (&d->lock);
  guint n = g_hash_table_size (d->starts);
  g_mutex_unlock (&d->lock);
  return n;
}

GStrv
lb_segment_sink_list_open (GstElement * sink)
{
  g_return_val_if_fail (GST_IS_ELEMENT (sink), NULL);
  SinkData *d = g_object_get_data (G_OBJECT (sink), SINK_DATA);
  g_return_val_if_fail (d != NULL, NULL);

  g_mutex_lock (&d->lock);
  GStrv paths = (GStrv) g_hash_table_get_keys_as_array (d->starts, NULL);
  for (guint i = 0; paths[i]; i++)
    paths[i] = g_strdup (paths[i]);
  g_mutex_unlock (&d->lock);
  return paths;
}

LbSegmentEvent
lb_segment_sink_parse_message (GstElement * sink, GstMessage * message,
    gchar ** out_path, gint64 * out_start_ns)
{
  g_return_val_if_fail (GST_IS_MESSAGE (message), LB_SEGMENT_EVENT_NONE);

  if (GST_MESSAGE_TYPE (message) != GST_MESSAGE_ELEMENT)
    return LB_SEGMENT_EVENT_NONE;
  if (sink && GST_MESSAGE_SRC (message) != GST_OBJECT (sink))
    return LB_SEGMENT_EVENT_NONE;
  if (!GST_IS_ELEMENT (GST_MESSAGE_SRC (message)))
    return LB_SEGMENT_EVENT_NONE;
  SinkData *d =
      g_object_get_data (G_OBJECT (GST_MESSAGE_SRC (message)), SINK_DATA);
  if (d == NULL)
    return LB_SEGMENT_EVENT_NONE;

  const GstStructure *s = gst_message_get_structure (message);
  LbSegmentEvent ev;
  if (gst_structure_has_name (s, "splitmuxsink-fragment-opened"))
    ev = LB_SEGMENT_EVENT_OPENED;
  else if (gst_structure_has_name (s, "splitmuxsink-fragment-closed"))
    ev = LB_SEGMENT_EVENT_CLOSED;
  else
    return LB_SEGMENT_EVENT_NONE;

  const gchar *location = gst_structure_get_string (s, "location");
  if (location == NULL)
    return LB_SEGMENT_EVENT_NONE;

  gint64 start_ns = 0;
  g_mutex_lock (&d->lock);
  gint64 *v = g_hash_table_lookup (d->starts, location);
  if (v)
    start_ns = *v;
  if (v && ev == LB_SEGMENT_EVENT_CLOSED)
    g_hash_table_remove (d->starts, location);
  g_mutex_unlock (&d->lock);
  if (v == NULL)
    return LB_SEGMENT_EVENT_NONE;

  if (out_path)
    *out_path = g_strdup (location);
  if (out_start_ns)
    *out_start_ns = start_ns;
  return ev;
}

GstPad *
lb_segment_sink_drop_stream (GstElement * pipeline, GstPad * pad)
{
  g_return_val_if_fail (GST_IS_BIN (pipeline), NULL);
  g_return_val_if_fail (GST_IS_PAD (pad), NULL);

  GstElement *fake = gst_element_factory_make ("fakesink", NULL);
  g_object_set (fake, "sync", FALSE, "async", FALSE, NULL);
  gst_bin_add (GST_BIN (pipeline), fake);
  GstPad *sinkpad = gst_element_get_static_pad (fake, "sink");
  gst_pad_link (pad, sinkpad);
  gst_element_set_locked_state (fake, TRUE);
  gst_element_set_state (fake, GST_STATE_PLAYING);
  return sinkpad;
}

void
lb_segment_sink_release_dropped (GstElement * pipeline)
{
  g_return_if_fail (GST_IS_BIN (pipeline));

  GstIterator *it = gst_bin_iterate_sinks (GST_BIN (pipeline));
  GValue v = G_VALUE_INIT;

  while (gst_iterator_next (it, &v) == GST_ITERATOR_OK) {
    GstElement *e = g_value_get_object (&v);
    if (gst_element_is_locked_state (e)) {
      gst_element_set_locked_state (e, FALSE);
      gst_element_set_state (e, GST_STATE_NULL);
    }
    g_value_reset (&v);
  }
  g_value_unset (&v);
  gst_iterator_free (it);
}
