/* lookback — the segment writer: splitmuxsink writing crash-safe fMP4 segments */
#include "recorder/lb-segment-writer.h"

#include "core/lb-debug.h"
#include "core/lb-log.h"
#include "core/lb-mux-guard.h"
#include "mp4/lb-mp4-journal.h"
#include "store/lb-store-footage.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

GST_DEBUG_CATEGORY_STATIC (lb_segment_writer_debug);
#define GST_CAT_DEFAULT lb_segment_writer_debug

struct _LbSegmentWriter
{
  GstElement *sink;             /* the splitmuxsink (a reference) */
  gulong location_handler;
  gchar *store_dir;
  gchar *vehicle;
  gchar *input;
  GMutex lock;                  /* the sink's streaming thread names files */
  gboolean has_origin;          /* protected by lock */
  gint64 origin_ns;             /* protected by lock */
  LbSegmentPlaceFunc place;     /* set before the pipeline runs */
  gpointer place_data;
  guint files;                  /* files named; protected by lock */
  GHashTable *starts;           /* location → LbSegmentTiming*; protected by lock */
  GstElement *new_muxer;        /* the muxer of the next file, until it is
                                 * named; protected by lock */
  gulong muxer_handler;
};

/* ---- the sample journal of a file with audio (lb-mp4-journal.h) ---- */

/* What a muxer (one per file: async-finalize) journals, set when its file
 * is named.  The journal is created at the first sample when the muxer has
 * an audio pad, else never (one video track needs none). */
typedef struct
{
  GMutex lock;
  gchar *path;                  /* the segment */
  gchar *vehicle, *input;
  gboolean decided;             /* protected by lock */
  LbMp4Journal *journal;        /* protected by lock */
  gboolean stopped;             /* a write failed or it is full (logged) */
} MuxerJournal;

static GQuark
muxer_journal_quark (void)
{
  return g_quark_from_static_string ("lb-muxer-journal");
}

static GQuark
pad_segment_quark (void)
{
  return g_quark_from_static_string ("lb-pad-segment");
}

static void
muxer_journal_free (gpointer data)
{
  MuxerJournal *mj = data;
  g_clear_pointer (&mj->journal, lb_mp4_journal_close);
  g_mutex_clear (&mj->lock);
  g_free (mj->path);
  g_free (mj->vehicle);
  g_free (mj->input);
  g_free (mj);
}

static gboolean
has_audio_pad (GstElement * muxer)
{
  gboolean audio = FALSE;
  GST_OBJECT_LOCK (muxer);
  for (GList * l = muxer->sinkpads; l; l = l->next)
    audio |= g_str_has_prefix (GST_OBJECT_NAME (l->data), "audio");
  GST_OBJECT_UNLOCK (muxer);
  return audio;
}

/* The journal of @muxer's file, created at its first sample (NULL: none). */
static LbMp4Journal *
muxer_journal (MuxerJournal * mj, GstElement * muxer)
{
  g_mutex_lock (&mj->lock);
  if (!mj->decided) {
    mj->decided = TRUE;
    g_autoptr (GError) error = NULL;
    if (has_audio_pad (muxer)
        && !(mj->journal = lb_mp4_journal_create (mj->path, &error)))
      lb_log (LB_LOG_WARNING, LB_LOG_CTX (.vehicle = mj->vehicle,.input =
              mj->input), "no sample journal for %s (%s): a crash will cut "
          "its last fragment off", mj->path, error->message);
  }
  LbMp4Journal *j = mj->journal;
  g_mutex_unlock (&mj->lock);
  return j;
}

static gint64
running_ns (const GstSegment * seg, GstClockTime ts)
{
  guint64 rt;
  if (!GST_CLOCK_TIME_IS_VALID (ts) || seg == NULL
      || seg->format != GST_FORMAT_TIME)
    return -1;
  gint sign = gst_segment_to_running_time_full (seg, GST_FORMAT_TIME, ts,
      &rt);
  return sign > 0 ? (gint64) rt : sign < 0 ? -(gint64) rt : -1;
}

static void
journal_buffer (MuxerJournal * mj, LbMp4Journal * j, GstPad * pad,
    GstBuffer * buf)
{
  const GstSegment *seg = g_object_get_qdata (G_OBJECT (pad),
      pad_segment_quark ());
  gsize size = gst_buffer_get_size (buf), n = MIN (size, 32);
  guint8 head[32], tail[32];
  gst_buffer_extract (buf, 0, head, n);
  gst_buffer_extract (buf, size - n, tail, n);
  LbMp4JournalEntry e = {
    .track = g_str_has_prefix (GST_OBJECT_NAME (pad), "audio") ?
        LB_MP4_JOURNAL_AUDIO : LB_MP4_JOURNAL_VIDEO,
    .sync = !GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT),
    .size = (guint32) size,
    .digest = lb_mp4_journal_digest ((guint32) size, head, tail),
    .dts_ns = running_ns (seg, GST_BUFFER_DTS (buf)),
    .pts_ns = running_ns (seg, GST_BUFFER_PTS (buf)),
    .duration_ns = GST_BUFFER_DURATION_IS_VALID (buf) ?
        (gint64) GST_BUFFER_DURATION (buf) : 0,
  };
  if (!lb_mp4_journal_append (j, &e) && !g_atomic_int_exchange (&mj->stopped,
          TRUE))
    lb_log (LB_LOG_WARNING, LB_LOG_CTX (.vehicle = mj->vehicle,.input =
            mj->input), "the sample journal of %s is full or cannot be "
        "written: a crash will cut its last fragment off", mj->path);
}

/* Every sample a muxer receives, before it writes it (streaming threads). */
static GstPadProbeReturn
on_muxer_data (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  GstElement *muxer = user_data;
  if (info->type & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
    GstEvent *ev = GST_PAD_PROBE_INFO_EVENT (info);
    if (GST_EVENT_TYPE (ev) == GST_EVENT_SEGMENT) {
      const GstSegment *seg;
      gst_event_parse_segment (ev, &seg);
      g_object_set_qdata_full (G_OBJECT (pad), pad_segment_quark (),
          gst_segment_copy (seg), (GDestroyNotify) gst_segment_free);
    }
    return GST_PAD_PROBE_OK;
  }
  MuxerJournal *mj = g_object_get_qdata (G_OBJECT (muxer),
      muxer_journal_quark ());
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  LbMp4Journal *j = mj && buf ? muxer_journal (mj, muxer) : NULL;
  if (j && gst_buffer_get_size (buf) > 0)
    journal_buffer (mj, j, pad, buf);
  return GST_PAD_PROBE_OK;
}

/* Journals what @pad receives (once per pad). */
static void
probe_muxer_pad (GstElement * muxer, GstPad * pad)
{
  static const gchar *mark = "lb-journal-probe";
  if (!GST_PAD_IS_SINK (pad) || g_object_get_data (G_OBJECT (pad), mark))
    return;
  g_object_set_data (G_OBJECT (pad), mark, GINT_TO_POINTER (1));
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER |
      GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, on_muxer_data, muxer, NULL);
}

static void
on_muxer_pad_added (GstElement * muxer, GstPad * pad, gpointer user_data)
{
  probe_muxer_pad (muxer, pad);
}

static void
probe_existing_pad (const GValue * v, gpointer muxer)
{
  probe_muxer_pad (muxer, g_value_get_object (v));
}

/* splitmuxsink made the muxer of the next file (it is named next); it
 * says so again for the same muxer at each NULL to READY. */
static void
on_muxer_added (GstElement * splitmux, GstElement * muxer, gpointer user_data)
{
  static const gchar *mark = "lb-journal-pads";
  LbSegmentWriter *w = user_data;
  lb_mux_guard (muxer);
  if (!g_object_get_data (G_OBJECT (muxer), mark)) {
    g_object_set_data (G_OBJECT (muxer), mark, GINT_TO_POINTER (1));
    g_signal_connect (muxer, "pad-added", G_CALLBACK (on_muxer_pad_added),
        NULL);
    GstIterator *it = gst_element_iterate_sink_pads (muxer);
    while (gst_iterator_foreach (it, probe_existing_pad, muxer) ==
        GST_ITERATOR_RESYNC)
      gst_iterator_resync (it);
    gst_iterator_free (it);
  }
  g_mutex_lock (&w->lock);
  gst_object_replace ((GstObject **) & w->new_muxer, GST_OBJECT (muxer));
  g_mutex_unlock (&w->lock);
}

/* The file @path is named: the muxer made for it journals into its
 * journal (under w->lock). */
static void
bind_journal (LbSegmentWriter * w, const gchar * path)
{
  if (w->new_muxer == NULL)
    return;
  MuxerJournal *mj = g_new0 (MuxerJournal, 1);
  g_mutex_init (&mj->lock);
  mj->path = g_strdup (path);
  mj->vehicle = g_strdup (w->vehicle);
  mj->input = g_strdup (w->input);
  g_object_set_qdata_full (G_OBJECT (w->new_muxer), muxer_journal_quark (),
      mj, muxer_journal_free);
  gst_clear_object (&w->new_muxer);
}

/* The journal of a closed file is not needed any more. */
static void
remove_journal (const gchar * path)
{
  g_autofree gchar *journal = lb_mp4_journal_path (path);
  if (g_unlink (journal) != 0 && errno != ENOENT)
    GST_WARNING ("cannot remove %s: %s", journal, g_strerror (errno));
}

/* The timing of @first, the first buffer of a new file (under w->lock). */
static void
first_frame_time (LbSegmentWriter * w, GstElement * splitmux,
    GstSample * first, guint64 * out_running, LbSegmentTiming * timing)
{
  GstBuffer *buf = gst_sample_get_buffer (first);
  const GstSegment *seg = gst_sample_get_segment (first);
  GstClockTime ts = GST_CLOCK_TIME_NONE;
  guint64 running = 0;

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
  *out_running = running;
  memset (timing, 0, sizeof (*timing));
  timing->synced = TRUE;
  if (w->has_origin) {
    timing->anchor_ns = timing->epoch_anchor_ns = w->origin_ns;
    timing->start_ns = w->origin_ns + (gint64) running;
    return;
  }
  gint64 clock_ns = (gint64) gst_element_get_base_time (splitmux) + running;
  if (w->place)
    w->place (w->files > 0, clock_ns, timing, w->place_data);
  else
    timing->start_ns = clock_ns;
}

/* splitmuxsink's format-location-full: the file of a new segment, named by
 * the wall clock of its first buffer (streaming thread). */
static gchar *
on_format_location (GstElement * splitmux, guint fragment_id, GstSample * first,
    gpointer user_data)
{
  LbSegmentWriter *w = user_data;
  guint64 running = 0;

  g_mutex_lock (&w->lock);
  LbSegmentTiming *timing = g_new0 (LbSegmentTiming, 1);
  first_frame_time (w, splitmux, first, &running, timing);
  w->files++;
  gint64 start_ns = timing->start_ns;
  gchar *path = lb_footage_segment_path (w->store_dir, w->vehicle, w->input,
      start_ns);
  /* Two files never share a name: a clash (same first-frame time, or a
   * re-timed file's name) names the new one a nanosecond later; its timing
   * stays. */
  for (gint64 name_ns = start_ns; g_hash_table_contains (w->starts, path)
      || g_file_test (path, G_FILE_TEST_EXISTS);) {
    g_free (path);
    path = lb_footage_segment_path (w->store_dir, w->vehicle, w->input,
        ++name_ns);
  }
  g_hash_table_insert (w->starts, g_strdup (path), timing);
  bind_journal (w, path);
  g_mutex_unlock (&w->lock);

  g_autofree gchar *dir = g_path_get_dirname (path);
  if (g_mkdir_with_parents (dir, 0755) < 0)
    lb_log (LB_LOG_ERROR, LB_LOG_CTX (.vehicle = w->vehicle,.input =
            w->input), "cannot create the segment folder %s: %s", dir,
        g_strerror (errno));
  GST_INFO_OBJECT (splitmux,
      "segment %u: %s (first frame at %" G_GINT64_FORMAT ", running time %"
      GST_TIME_FORMAT ")", fragment_id, path, start_ns,
      GST_TIME_ARGS (running));
  return path;
}

/* Sets @name of @props to the value @nick of the enum property @name of
 * @factory_name's elements (the enum type exists once the element class is
 * loaded, so it is taken from the property itself). */
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
  guint cap_ms = (guint) CLAMP (fragment_cap_ns / GST_MSECOND, 1, G_MAXUINT);
  GstStructure *s = gst_structure_new ("properties",
      "fragment-duration", G_TYPE_UINT, cap_ms, NULL);

  if (!set_enum_by_nick (s, "mp4mux", "fragment-mode",
          "first-moov-then-finalise")) {
    gst_structure_free (s);
    return NULL;
  }
  return s;
}

/* A splitmuxsink configured as the header says, or NULL. */
static GstElement *
make_splitmuxsink (gint64 segment_duration_ns, gint64 fragment_duration_ns)
{
  g_autoptr (GstStructure) props = muxer_properties (MAX (segment_duration_ns,
          fragment_duration_ns));
  if (props == NULL) {
    GST_ERROR ("mp4mux (gst-plugins-good) is not available");
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
  GstElement *sink = gst_element_factory_make ("splitmuxsink", NULL);
  if (sink == NULL) {
    GST_ERROR ("splitmuxsink (gst-plugins-good) is not available");
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
  return sink;
}

LbSegmentWriter *
lb_segment_writer_new (const gchar * store_dir, const gchar * vehicle,
    const gchar * input, gint64 segment_duration_ns,
    gint64 fragment_duration_ns)
{
  g_return_val_if_fail (store_dir != NULL, NULL);
  g_return_val_if_fail (vehicle != NULL && input != NULL, NULL);
  g_return_val_if_fail (segment_duration_ns > 0, NULL);

  LB_DEBUG_INIT (lb_segment_writer_debug, "lookback-segment-writer",
      "lookback segment writer");

  GstElement *sink =
      make_splitmuxsink (segment_duration_ns, fragment_duration_ns);
  if (sink == NULL)
    return NULL;
  LbSegmentWriter *w = g_new0 (LbSegmentWriter, 1);
  w->sink = gst_object_ref_sink (sink);
  w->store_dir = g_strdup (store_dir);
  w->vehicle = g_strdup (vehicle);
  w->input = g_strdup (input);
  g_mutex_init (&w->lock);
  w->starts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  w->location_handler = g_signal_connect (sink, "format-location-full",
      G_CALLBACK (on_format_location), w);
  w->muxer_handler = g_signal_connect (sink, "muxer-added",
      G_CALLBACK (on_muxer_added), w);
  return w;
}

void
lb_segment_writer_free (LbSegmentWriter * w)
{
  if (w == NULL)
    return;
  g_signal_handler_disconnect (w->sink, w->location_handler);
  g_signal_handler_disconnect (w->sink, w->muxer_handler);
  gst_clear_object (&w->new_muxer);
  gst_object_unref (w->sink);
  g_free (w->store_dir);
  g_free (w->vehicle);
  g_free (w->input);
  g_mutex_clear (&w->lock);
  g_hash_table_unref (w->starts);
  g_free (w);
}

GstElement *
lb_segment_writer_get_sink (LbSegmentWriter * w)
{
  g_return_val_if_fail (w != NULL, NULL);
  return w->sink;
}

void
lb_segment_writer_set_placer (LbSegmentWriter * w, LbSegmentPlaceFunc func,
    gpointer user_data)
{
  g_return_if_fail (w != NULL);

  g_mutex_lock (&w->lock);
  w->place = func;
  w->place_data = user_data;
  g_mutex_unlock (&w->lock);
}

gboolean
lb_segment_writer_get_timing (LbSegmentWriter * w, const gchar * path,
    LbSegmentTiming * timing)
{
  g_return_val_if_fail (w != NULL && path != NULL && timing != NULL, FALSE);

  g_mutex_lock (&w->lock);
  LbSegmentTiming *t = g_hash_table_lookup (w->starts, path);
  if (t)
    *timing = *t;
  g_mutex_unlock (&w->lock);
  return t != NULL;
}

void
lb_segment_writer_split (LbSegmentWriter * w)
{
  g_return_if_fail (w != NULL);
  g_signal_emit_by_name (w->sink, "split-now");
}

void
lb_segment_writer_set_origin (LbSegmentWriter * w, gint64 origin_ns)
{
  g_return_if_fail (w != NULL);

  g_mutex_lock (&w->lock);
  w->has_origin = TRUE;
  w->origin_ns = origin_ns;
  g_mutex_unlock (&w->lock);
}

GstClock *
lb_segment_writer_new_clock (void)
{
  return g_object_new (GST_TYPE_SYSTEM_CLOCK, "name",
      "lookback-monotonic-clock", "clock-type", GST_CLOCK_TYPE_MONOTONIC, NULL);
}

guint
lb_segment_writer_count_open (LbSegmentWriter * w)
{
  g_return_val_if_fail (w != NULL, 0);

  g_mutex_lock (&w->lock);
  guint n = g_hash_table_size (w->starts);
  g_mutex_unlock (&w->lock);
  return n;
}

GStrv
lb_segment_writer_list_open (LbSegmentWriter * w)
{
  g_return_val_if_fail (w != NULL, NULL);

  g_mutex_lock (&w->lock);
  GStrv paths = (GStrv) g_hash_table_get_keys_as_array (w->starts, NULL);
  for (guint i = 0; paths[i]; i++)
    paths[i] = g_strdup (paths[i]);
  g_mutex_unlock (&w->lock);
  return paths;
}

LbSegmentEvent
lb_segment_writer_parse_message (LbSegmentWriter * w, GstMessage * message,
    gchar ** out_path, gint64 * out_start_ns)
{
  g_return_val_if_fail (w != NULL, LB_SEGMENT_EVENT_NONE);
  g_return_val_if_fail (GST_IS_MESSAGE (message), LB_SEGMENT_EVENT_NONE);

  if (GST_MESSAGE_TYPE (message) != GST_MESSAGE_ELEMENT
      || GST_MESSAGE_SRC (message) != GST_OBJECT (w->sink))
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
  g_mutex_lock (&w->lock);
  LbSegmentTiming *v = g_hash_table_lookup (w->starts, location);
  if (v)
    start_ns = v->start_ns;
  if (v && ev == LB_SEGMENT_EVENT_CLOSED)
    g_hash_table_remove (w->starts, location);
  g_mutex_unlock (&w->lock);
  if (v == NULL)
    return LB_SEGMENT_EVENT_NONE;
  if (ev == LB_SEGMENT_EVENT_CLOSED)
    remove_journal (location);

  if (out_path)
    *out_path = g_strdup (location);
  if (out_start_ns)
    *out_start_ns = start_ns;
  return ev;
}
