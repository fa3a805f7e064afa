/* lookback — lbrecordingsrc: recorded footage out of a lookback store */

/**
 * SECTION:element-lbrecordingsrc
 * @title: lbrecordingsrc
 * @see_also: lbstilldec, lbframepick, lbhyperlapse
 *
 * Pushes the footage a lookback store recorded for one vehicle and input
 * between #LbRecordingSrc:start-time and #LbRecordingSrc:end-time, as
 * parsed H.264 (or H.265) from the bin's `src` pad.  It opens the store's
 * database read-only, asks the index which segment files and fragments
 * hold the range, and reads exactly those bytes with pread(); it never
 * lists a directory.
 *
 * Buffer PTS and DTS are wall-clock nanoseconds since the Unix epoch.
 * Reading starts at the keyframe at or before the start, and the segment
 * pushed downstream starts at the requested start (and stops at the
 * requested end), so a decoder downstream clips the frames before it: the
 * first decoded frame is the one shown at the start.  Segment files follow
 * each other seamlessly (no timestamp jump, no frame twice or missing).
 *
 * With `audio=true` (and `mode=all`), when the footage of the range has
 * audio (lookback records it with an input's `audio=true`), the element
 * adds a sometimes pad `audio` before it leaves READY: AAC (raw, with its
 * codec data) or Opus as recorded, exactly the frames that sound in the
 * range (the first may begin up to one frame before the start), timed on
 * the same wall clock as the video (the tracks of a segment file line up
 * by their edit lists); a segment without audio, or a gap, is a DISCONT.
 * Link it before going to PAUSED (a muxer's request pad), e.g.
 * `lbrecordingsrc name=src audio=true … ! mp4mux name=mux ! filesink …
 * src.audio ! mux.`.
 *
 * With #LbRecordingSrc:nearest-time (and `mode=all`) the stream ends as
 * soon as no later frame can be nearer to that time than one already
 * pushed (decode times only grow and no frame is shown before it is
 * decoded), so the frame nearest to it is the last one a decoder needs:
 * for a still, the decoder drains at once instead of decoding frames after
 * it.  The segment is still [start-time, end-time).
 *
 * With `mode=keyframes` only the keyframes are pushed, and only their bytes
 * are read (their offsets and sizes come from the index); each lasts until
 * the next one.  #LbRecordingSrc:bytes-read counts the sample bytes read.
 *
 * A part of the range with no footage is skipped: the element posts an
 * element message named `lbrecordingsrc-gap` when it reaches it, with the
 * fields `start` and `end` (#gint64, ns since the epoch) and `description`
 * (#gchararray), and marks the next buffer DISCONT.  At the end it posts
 * `lbrecordingsrc-done` with `frames` (#guint64, buffers pushed),
 * `bytes-read` (#guint64), `first-time` and `last-time` (#gint64, PTS of the
 * first and last buffer pushed; the first may be before the start) and
 * `gaps` (#guint).
 *
 * Footage still being recorded reads like any other, up to its last
 * indexed fragment; when the recording closes a segment file while it is
 * read (mp4mux rewrites the file's index then), the element waits for the
 * new index, up to 2 s.
 *
 * Errors (the pipeline fails to start, or stops with an error message): no
 * store at #LbRecordingSrc:db (RESOURCE NOT_FOUND); a missing or malformed
 * property (RESOURCE SETTINGS); nothing recorded for the vehicle and input,
 * a range before the first or after the last footage, or a range entirely
 * in a gap, named in the message (RESOURCE NOT_FOUND); a segment file that
 * is missing (RESOURCE NOT_FOUND) or corrupt (STREAM DEMUX).
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 lbrecordingsrc db=lookback-data/lookback.db vehicle=demo input=dashcamRoadFacing start-time=2026-01-01T00:00:02Z end-time=2026-01-01T00:00:04Z ! avdec_h264 ! videoconvert ! jpegenc ! multifilesink location=frame-%05d.jpg
 * ]|
 * Decodes two seconds of the demo camera's footage into JPEG files (run it
 * in the folder that holds `lookback-data`).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "lbrecordingsrc.h"
#include "lbrecordingreader.h"

#include "core/lb-codec.h"
#include "core/lb-error.h"
#include "core/lb-time.h"
#include "store/lb-store-footage.h"

GST_DEBUG_CATEGORY (lb_recording_src_debug);
#define GST_CAT_DEFAULT lb_recording_src_debug

struct _LbRecordingSrc
{
  GstBin parent;

  GstElement *reader;
  GstElement *parser;           /* h264parse or h265parse, from the index */
  GstPad *srcpad;               /* ghost of the parser's src pad */
  GstElement *audio_reader;     /* audio=true and the footage has audio */
  GstPad *audio_pad;            /* ghost of its src pad ("audio") */

  /* protected by the object lock */
  gchar *db;
  gchar *vehicle;
  gchar *input;
  gchar *start_time;
  gchar *end_time;
  gchar *nearest_time;
  LbRecordingSrcMode mode;
  gboolean audio;
};

enum
{
  PROP_0,
  PROP_DB,
  PROP_VEHICLE,
  PROP_INPUT,
  PROP_START_TIME,
  PROP_END_TIME,
  PROP_NEAREST_TIME,
  PROP_MODE,
  PROP_AUDIO,
  PROP_BYTES_READ,
};

#define DEFAULT_MODE LB_RECORDING_SRC_MODE_ALL

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("video/x-h264, parsed = (boolean) true; "
        "video/x-h265, parsed = (boolean) true"));

static GstStaticPadTemplate audio_template = GST_STATIC_PAD_TEMPLATE ("audio",
    GST_PAD_SRC, GST_PAD_SOMETIMES,
    GST_STATIC_CAPS ("audio/mpeg, mpegversion = (int) 4, "
        "stream-format = (string) raw; audio/x-opus"));

GType
lb_recording_src_mode_get_type (void)
{
  static const GEnumValue values[] = {
    {LB_RECORDING_SRC_MODE_ALL, "Every frame", "all"},
    {LB_RECORDING_SRC_MODE_KEYFRAMES,
        "Keyframes only (only their bytes are read)", "keyframes"},
    {0, NULL, NULL},
  };
  static gsize type = 0;

  if (g_once_init_enter (&type))
    g_once_init_leave (&type,
        g_enum_register_static ("LbRecordingSrcMode", values));
  return type;
}

#define lb_recording_src_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE (LbRecordingSrc, lb_recording_src, GST_TYPE_BIN,
    GST_DEBUG_CATEGORY_INIT (lb_recording_src_debug, "lbrecordingsrc", 0,
        "lookback recording source element"));
GST_ELEMENT_REGISTER_DEFINE (lbrecordingsrc, "lbrecordingsrc", GST_RANK_NONE,
    LB_TYPE_RECORDING_SRC);

/* A time property: RFC 3339 or integer nanoseconds since the epoch. */
static gboolean
parse_time (const gchar * name, const gchar * text, gint64 * out_ns,
    GError ** error)
{
  g_autoptr (GError) rfc_error = NULL;
  gint64 ns;

  if (g_ascii_string_to_signed (text, 10, G_MININT64 + 1, G_MAXINT64, &ns,
          NULL)) {
    *out_ns = ns;
    return TRUE;
  }
  if (lb_time_parse_rfc3339 (text, out_ns, &rfc_error))
    return TRUE;
  g_set_error (error, LB_ERROR, LB_ERROR_INVALID,
      "%s '%s' is neither an RFC 3339 time nor integer nanoseconds since the "
      "epoch: %s", name, text, rfc_error->message);
  return FALSE;
}

/* The whole gap (footage on both sides) that holds the plan's range: the
 * lookup clips gaps to the range, so widen the window until both ends of
 * the gap are found.  Only on the error path. */
static void
find_gap (LbStore * store, const LbFootagePlan * plan, gint64 * gap_start,
    gint64 * gap_end)
{
  gint64 window = 60 * LB_NS_PER_SEC;

  *gap_start = plan->start_ns;
  *gap_end = plan->end_ns;
  for (guint round = 0; round < 24; round++, window *= 4) {
    gint64 s = MAX (plan->start_ns - window, plan->first_ns);
    gint64 e = MIN (plan->end_ns + window, plan->last_ns);
    g_autoptr (GArray) ranges = NULL, gaps = NULL;

    if (!lb_store_coverage (store, plan->vehicle, plan->input, s, e, &ranges,
            &gaps, NULL, NULL))
      return;
    for (guint i = 0; i < gaps->len; i++) {
      const LbTimeRange *gap = &g_array_index (gaps, LbTimeRange, i);
      if (gap->start_ns > plan->start_ns || gap->end_ns < plan->end_ns)
        continue;
      *gap_start = gap->start_ns;
      *gap_end = gap->end_ns;
      if ((gap->start_ns > s || s == plan->first_ns) &&
          (gap->end_ns < e || e == plan->last_ns))
        return;
    }
  }
}

/* The message for a range the index has no footage for. */
static gchar *
describe_missing (LbStore * store, const LbFootagePlan * plan)
{
  g_autofree gchar *start = lb_time_format_rfc3339 (plan->start_ns);
  g_autofree gchar *end = lb_time_format_rfc3339 (plan->end_ns);
  const gchar *vehicle = plan->vehicle, *input = plan->input;

  if (plan->first_ns == LB_TIME_NONE)
    return g_strdup_printf ("No footage is recorded for vehicle '%s', input "
        "'%s'.", vehicle, input);

  g_autofree gchar *first = lb_time_format_rfc3339 (plan->first_ns);
  g_autofree gchar *last = lb_time_format_rfc3339 (plan->last_ns);
  if (plan->end_ns < plan->first_ns ||
      (plan->end_ns == plan->first_ns && plan->start_ns < plan->end_ns))
    return g_strdup_printf ("The range %s – %s is before the first footage "
        "of vehicle '%s', input '%s' (recorded from %s).", start, end,
        vehicle, input, first);
  if (plan->start_ns >= plan->last_ns)
    return g_strdup_printf ("The range %s – %s is after the last footage of "
        "vehicle '%s', input '%s' (recorded until %s).", start, end,
        vehicle, input, last);

  gint64 gap_start, gap_end;
  find_gap (store, plan, &gap_start, &gap_end);
  g_autofree gchar *gs = lb_time_format_rfc3339 (gap_start);
  g_autofree gchar *ge = lb_time_format_rfc3339 (gap_end);
  return g_strdup_printf ("The range %s – %s falls in a gap in the footage "
      "of vehicle '%s', input '%s': nothing is recorded from %s to %s.",
      start, end, vehicle, input, gs, ge);
}

/* keyframes mode: each keyframe lasts until the next, whatever the parser
 * made of its duration. */
static GstPadProbeReturn
restore_duration (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  LbRecordingReader *reader = user_data;
  GstBuffer *buffer = gst_buffer_make_writable (GST_PAD_PROBE_INFO_BUFFER
      (info));

  lb_recording_reader_restore_duration (reader, buffer);
  GST_PAD_PROBE_INFO_DATA (info) = buffer;
  return GST_PAD_PROBE_OK;
}

/* Makes sure the parser for @codec sits between the reader and the ghost
 * pad. */
static gboolean
lb_recording_src_ensure_parser (LbRecordingSrc * self, const gchar * codec)
{
  const LbCodec *known = lb_codec_from_name (codec);
  const gchar *factory = known ? known->parser : "h264parse";

  if (self->parser != NULL) {
    g_autofree gchar *current =
        gst_object_get_name (GST_OBJECT (gst_element_get_factory
            (self->parser)));
    if (g_strcmp0 (current, factory) == 0)
      return TRUE;
    gst_ghost_pad_set_target (GST_GHOST_PAD (self->srcpad), NULL);
    gst_element_set_state (self->parser, GST_STATE_NULL);
    gst_bin_remove (GST_BIN (self), self->parser);
    self->parser = NULL;
  }

  GstElement *parser = gst_element_factory_make (factory, "parse");
  if (parser == NULL) {
    GST_ELEMENT_ERROR (self, CORE, MISSING_PLUGIN,
        ("The %s element is missing (gst-plugins-bad).", factory), (NULL));
    return FALSE;
  }
  gst_bin_add (GST_BIN (self), parser);
  if (!gst_element_link (self->reader, parser)) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("Cannot link the reader to %s.", factory), (NULL));
    return FALSE;
  }
  g_autoptr (GstPad) target = gst_element_get_static_pad (parser, "src");
  gst_pad_add_probe (target, GST_PAD_PROBE_TYPE_BUFFER, restore_duration,
      self->reader, NULL);
  gst_ghost_pad_set_target (GST_GHOST_PAD (self->srcpad), target);
  self->parser = parser;
  return TRUE;
}

/* audio=true, mode=all: when the footage of the range has audio (of one
 * codec), a second reader for it behind the "audio" pad (added now, before
 * any data flows, then no-more-pads). */
static void
lb_recording_src_add_audio (LbRecordingSrc * self, LbStore * store,
    const LbFootagePlan * plan, LbFootagePlan * audio_plan)
{
  const gchar *codec = NULL;
  for (guint i = 0; i < plan->pieces->len; i++) {
    const LbSegment *seg =
        ((LbFootagePiece *) g_ptr_array_index (plan->pieces, i))->segment;
    if (seg->audio && codec && g_strcmp0 (seg->audio, codec) != 0) {
      GST_WARNING_OBJECT (self, "the audio changes codec within the range "
          "(%s, then %s): no audio", codec, seg->audio);
      lb_footage_plan_free (audio_plan);
      return;
    }
    codec = codec ? codec : seg->audio;
  }
  self->audio_reader = g_object_new (LB_TYPE_RECORDING_READER, "name",
      "audio-reader", NULL);
  gst_bin_add (GST_BIN (self), self->audio_reader);
  lb_recording_reader_configure (LB_RECORDING_READER (self->audio_reader),
      GST_ELEMENT (self), lb_store_get_dir (store), audio_plan,
      plan->start_ns, plan->end_ns, FALSE);
  lb_recording_reader_set_audio (LB_RECORDING_READER (self->audio_reader),
      TRUE);
  g_autoptr (GstPad) target =
      gst_element_get_static_pad (self->audio_reader, "src");
  GstPadTemplate *template = gst_static_pad_template_get (&audio_template);
  self->audio_pad = gst_ghost_pad_new_from_template ("audio", target, template);
  gst_object_unref (template);
  gst_pad_set_active (self->audio_pad, TRUE);
  gst_element_add_pad (GST_ELEMENT (self), self->audio_pad);
  gst_element_no_more_pads (GST_ELEMENT (self));
  gst_element_sync_state_with_parent (self->audio_reader);
}

/* Opens the store, looks the range up and hands the plan to the reader;
 * FALSE after posting an error. */
static gboolean
lb_recording_src_prepare (LbRecordingSrc * self)
{
  g_autofree gchar *db = NULL, *vehicle = NULL, *input = NULL;
  g_autofree gchar *start_text = NULL, *end_text = NULL, *nearest_text = NULL;
  g_autoptr (GError) error = NULL;
  LbRecordingSrcMode mode;
  gint64 start_ns, end_ns, nearest_ns = LB_TIME_NONE;

  GST_OBJECT_LOCK (self);
  db = g_strdup (self->db);
  vehicle = g_strdup (self->vehicle);
  input = g_strdup (self->input);
  start_text = g_strdup (self->start_time);
  end_text = g_strdup (self->end_time);
  nearest_text = g_strdup (self->nearest_time);
  mode = self->mode;
  gboolean audio = self->audio && self->audio_reader == NULL;
  GST_OBJECT_UNLOCK (self);

  const gchar *missing = db == NULL ? "db" : vehicle == NULL ? "vehicle" :
      input == NULL ? "input" : start_text == NULL ? "start-time" : NULL;
  if (missing != NULL) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("lbrecordingsrc needs the %s property.", missing), (NULL));
    return FALSE;
  }
  if (!parse_time ("start-time", start_text, &start_ns, &error) ||
      (end_text != NULL && !parse_time ("end-time", end_text, &end_ns,
              &error)) || (nearest_text != NULL
          && !parse_time ("nearest-time", nearest_text, &nearest_ns, &error))) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("%s", error->message),
        (NULL));
    return FALSE;
  }
  if (end_text == NULL)
    end_ns = start_ns;
  if (end_ns < start_ns) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("end-time %s is before start-time %s.", end_text, start_text), (NULL));
    return FALSE;
  }

  g_autoptr (LbStore) store = lb_store_open (db, LB_STORE_OPEN_READ_ONLY,
      &error);
  if (store == NULL) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
        ("Cannot open the footage store %s: %s", db, error->message), (NULL));
    return FALSE;
  }
  g_autoptr (LbFootagePlan) plan = lb_store_lookup (store, vehicle, input,
      start_ns, end_ns, &error);
  if (plan == NULL) {
    GST_ELEMENT_ERROR (self, RESOURCE, READ,
        ("Cannot look up the footage in %s: %s", db, error->message), (NULL));
    return FALSE;
  }
  if (plan->pieces->len == 0) {
    g_autofree gchar *why = describe_missing (store, plan);
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("%s", why), (NULL));
    return FALSE;
  }

  LbFootagePiece *first = g_ptr_array_index (plan->pieces, 0);
  for (guint i = 1; i < plan->pieces->len; i++) {
    LbFootagePiece *piece = g_ptr_array_index (plan->pieces, i);
    if (g_strcmp0 (piece->segment->codec, first->segment->codec) != 0) {
      GST_ELEMENT_ERROR (self, STREAM, FORMAT,
          ("The footage changes codec within the range (%s, then %s); ask "
              "for the two parts separately.", first->segment->codec,
              piece->segment->codec), (NULL));
      return FALSE;
    }
  }
  if (!lb_recording_src_ensure_parser (self, first->segment->codec))
    return FALSE;

  GST_INFO_OBJECT (self, "%s/%s from %" G_GINT64_FORMAT " to %"
      G_GINT64_FORMAT ": %u segment files, %u gaps", vehicle, input,
      start_ns, end_ns, plan->pieces->len, plan->gaps ? plan->gaps->len : 0);
  if (audio && mode == LB_RECORDING_SRC_MODE_ALL
      && lb_recording_plan_has_audio (plan)) {
    LbFootagePlan *audio_plan = lb_store_lookup (store, vehicle, input,
        start_ns, end_ns, &error);
    if (audio_plan == NULL) {
      GST_ELEMENT_ERROR (self, RESOURCE, READ,
          ("Cannot look up the footage in %s: %s", db, error->message), (NULL));
      return FALSE;
    }
    lb_recording_src_add_audio (self, store, plan, audio_plan);
  }
  lb_recording_reader_configure (LB_RECORDING_READER (self->reader),
      GST_ELEMENT (self), lb_store_get_dir (store), g_steal_pointer (&plan),
      start_ns, end_ns, mode == LB_RECORDING_SRC_MODE_KEYFRAMES);
  lb_recording_reader_set_nearest (LB_RECORDING_READER (self->reader),
      nearest_ns);
  return TRUE;
}

static GstStateChangeReturn
lb_recording_src_change_state (GstElement * element, GstStateChange transition)
{
  LbRecordingSrc *self = LB_RECORDING_SRC (element);

  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED &&
      !lb_recording_src_prepare (self))
    return GST_STATE_CHANGE_FAILURE;

  GstStateChangeReturn ret =
      GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY && self->audio_reader) {
    /* the next start looks the footage up again */
    gst_element_set_state (self->audio_reader, GST_STATE_NULL);
    gst_element_remove_pad (element, self->audio_pad);
    gst_bin_remove (GST_BIN (self), self->audio_reader);
    self->audio_pad = NULL;
    self->audio_reader = NULL;
  }
  return ret;
}

static void
lb_recording_src_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  LbRecordingSrc *self = LB_RECORDING_SRC (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_DB:
      g_free (self->db);
      self->db = g_value_dup_string (value);
      break;
    case PROP_VEHICLE:
      g_free (self->vehicle);
      self->vehicle = g_value_dup_string (value);
      break;
    case PROP_INPUT:
      g_free (self->input);
      self->input = g_value_dup_string (value);
      break;
    case PROP_START_TIME:
      g_free (self->start_time);
      self->start_time = g_value_dup_string (value);
      break;
    case PROP_END_TIME:
      g_free (self->end_time);
      self->end_time = g_value_dup_string (value);
      break;
    case PROP_NEAREST_TIME:
      g_free (self->nearest_time);
      self->nearest_time = g_value_dup_string (value);
      break;
    case PROP_MODE:
      self->mode = g_value_get_enum (value);
      break;
    case PROP_AUDIO:
      self->audio = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
lb_recording_src_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  LbRecordingSrc *self = LB_RECORDING_SRC (object);

  if (prop_id == PROP_BYTES_READ) {
    g_value_set_uint64 (value, lb_recording_reader_get_bytes_read
        (LB_RECORDING_READER (self->reader)));
    return;
  }

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_DB:
      g_value_set_string (value, self->db);
      break;
    case PROP_VEHICLE:
      g_value_set_string (value, self->vehicle);
      break;
    case PROP_INPUT:
      g_value_set_string (value, self->input);
      break;
    case PROP_START_TIME:
      g_value_set_string (value, self->start_time);
      break;
    case PROP_END_TIME:
      g_value_set_string (value, self->end_time);
      break;
    case PROP_NEAREST_TIME:
      g_value_set_string (value, self->nearest_time);
      break;
    case PROP_MODE:
      g_value_set_enum (value, self->mode);
      break;
    case PROP_AUDIO:
      g_value_set_boolean (value, self->audio);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
lb_recording_src_finalize (GObject * object)
{
  LbRecordingSrc *self = LB_RECORDING_SRC (object);

  g_free (self->db);
  g_free (self->vehicle);
  g_free (self->input);
  g_free (self->start_time);
  g_free (self->end_time);
  g_free (self->nearest_time);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
lb_recording_src_class_init (LbRecordingSrcClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GParamFlags flags = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_READY;

  gobject_class->set_property = lb_recording_src_set_property;
  gobject_class->get_property = lb_recording_src_get_property;
  gobject_class->finalize = lb_recording_src_finalize;

  g_object_class_install_property (gobject_class, PROP_DB,
      g_param_spec_string ("db", "Database",
          "Path of the lookback store's database (opened read-only; segment "
          "paths in it are relative to its folder)", NULL, flags));
  g_object_class_install_property (gobject_class, PROP_VEHICLE,
      g_param_spec_string ("vehicle", "Vehicle",
          "Vehicle whose footage to read", NULL, flags));
  g_object_class_install_property (gobject_class, PROP_INPUT,
      g_param_spec_string ("input", "Input",
          "Input (camera) of the vehicle, e.g. dashcamRoadFacing", NULL,
          flags));
  g_object_class_install_property (gobject_class, PROP_START_TIME,
      g_param_spec_string ("start-time", "Start time",
          "Start of the range: RFC 3339 (2026-01-01T10:00:00.5Z) or integer "
          "ns since the Unix epoch; the output segment starts here", NULL,
          flags));
  g_object_class_install_property (gobject_class, PROP_END_TIME,
      g_param_spec_string ("end-time", "End time",
          "End of the range (exclusive), same formats as start-time; unset: "
          "the GOP holding start-time only", NULL, flags));
  g_object_class_install_property (gobject_class, PROP_NEAREST_TIME,
      g_param_spec_string ("nearest-time", "Nearest time",
          "With mode=all: end the stream as soon as no later frame can be "
          "nearer to this time (same formats as start-time) than one "
          "already pushed, so that the nearest frame is the last a decoder "
          "needs; unset: read to end-time", NULL, flags));
  g_object_class_install_property (gobject_class, PROP_MODE,
      g_param_spec_enum ("mode", "Mode",
          "all: every frame from the keyframe at or before the start; "
          "keyframes: keyframes only, reading only their bytes",
          LB_TYPE_RECORDING_SRC_MODE, DEFAULT_MODE, flags));
  g_object_class_install_property (gobject_class, PROP_AUDIO,
      g_param_spec_boolean ("audio", "Audio",
          "With mode=all: when the footage of the range has audio, add an "
          "'audio' pad with exactly the audio of the range (AAC or Opus as "
          "recorded), before the element leaves READY", FALSE, flags));
  g_object_class_install_property (gobject_class, PROP_BYTES_READ,
      g_param_spec_uint64 ("bytes-read", "Bytes read",
          "Sample bytes read from segment files since the element started "
          "(MP4 headers not counted)", 0, G_MAXUINT64, 0,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_add_static_pad_template (element_class, &audio_template);
  gst_element_class_set_static_metadata (element_class,
      "Recording source", "Source/Video",
      "Reads recorded footage of a vehicle's input for a wall-clock range "
      "from a lookback store", "the lookback authors");

  element_class->change_state =
      GST_DEBUG_FUNCPTR (lb_recording_src_change_state);

  gst_type_mark_as_plugin_api (LB_TYPE_RECORDING_SRC_MODE, 0);
}

static void
lb_recording_src_init (LbRecordingSrc * self)
{
  self->mode = DEFAULT_MODE;

  self->reader = g_object_new (LB_TYPE_RECORDING_READER, "name", "reader",
      NULL);
  gst_bin_add (GST_BIN (self), self->reader);

  GstPadTemplate *template = gst_static_pad_template_get (&src_template);
  self->srcpad = gst_ghost_pad_new_no_target_from_template ("src", template);
  gst_object_unref (template);
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);

  GST_OBJECT_FLAG_SET (self, GST_ELEMENT_FLAG_SOURCE);
}
