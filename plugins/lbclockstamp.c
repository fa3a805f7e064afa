/* lookback — lbclockstamp: draws the frame's wall-clock time into the picture */

/**
 * SECTION:element-lbclockstamp
 * @title: lbclockstamp
 * @see_also: lbclockcheck
 *
 * Draws a time into every frame as a block code that survives H.264 at
 * 500 kbit/s, downscaling to 640×360 and JPEG at quality 75: a band of
 * black and white cells over the top quarter of the picture (neutral
 * chroma) holding 64 bits of time in nanoseconds and a CRC-32, so that a
 * damaged code is detected rather than misread.  lbclockcheck reads it
 * back.  The cells are fractions of the frame size (1/20 of the width, 1/24
 * of the height), so frames must be at least 80×48.
 *
 * The time written is chosen by #LbClockStamp:source: by default the
 * element's base time plus the buffer's running time, i.e. the time on the
 * pipeline clock at which the frame was captured.  With a realtime
 * pipeline clock that is wall-clock time in nanoseconds since the Unix
 * epoch; gst-launch-1.0 and lookbackd use the monotonic system clock, and
 * `source=wall` moves that time to the wall clock (lookbackd's demo
 * cameras).  Frames that pass before the pipeline is PLAYING (the
 * preroll of a non-live pipeline) are stamped with the base time the
 * element has then, so stamp live sources, or set the base time yourself.
 * For footage made faster than real time, `source=pts` draws the buffer's
 * PTS plus #LbClockStamp:offset: with `offset` set to the wall-clock time
 * the footage is imported at, stamps are the frames' wall-clock times.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 videotestsrc is-live=true num-buffers=60 ! video/x-raw,format=I420,width=640,height=360 ! lbclockstamp ! lbclockcheck ! fakesink
 * ]|
 * Stamps 60 frames and reads the stamps back (run with -m to see
 * lbclockcheck's messages).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "lbclockstamp.h"
#include "lbclockcode.h"

GST_DEBUG_CATEGORY_STATIC (lb_clock_stamp_debug);
#define GST_CAT_DEFAULT lb_clock_stamp_debug

struct _LbClockStamp
{
  GstVideoFilter parent;

  /* protected by the object lock */
  LbClockStampSource source;
  gint64 offset;

  /* streaming thread only */
  gboolean warned;
};

enum
{
  PROP_0,
  PROP_SOURCE,
  PROP_OFFSET,
};

#define DEFAULT_SOURCE LB_CLOCK_STAMP_SOURCE_RUNNING_TIME
#define DEFAULT_OFFSET 0

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (LB_CLOCK_CODE_CAPS));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (LB_CLOCK_CODE_CAPS));

GType
lb_clock_stamp_source_get_type (void)
{
  static const GEnumValue values[] = {
    {LB_CLOCK_STAMP_SOURCE_RUNNING_TIME,
        "Base time plus the buffer's running time", "running-time"},
    {LB_CLOCK_STAMP_SOURCE_CLOCK,
        "The pipeline clock's current time", "clock"},
    {LB_CLOCK_STAMP_SOURCE_PTS,
        "The buffer's PTS plus the offset property", "pts"},
    {LB_CLOCK_STAMP_SOURCE_WALL,
          "Base time plus the buffer's running time, on the wall clock",
        "wall"},
    {0, NULL, NULL},
  };
  static gsize type = 0;

  if (g_once_init_enter (&type))
    g_once_init_leave (&type,
        g_enum_register_static ("LbClockStampSource", values));
  return type;
}

#define lb_clock_stamp_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE (LbClockStamp, lb_clock_stamp, GST_TYPE_VIDEO_FILTER,
    GST_DEBUG_CATEGORY_INIT (lb_clock_stamp_debug, "lbclockstamp", 0,
        "lookback clock stamp element"));
GST_ELEMENT_REGISTER_DEFINE (lbclockstamp, "lbclockstamp", GST_RANK_NONE,
    LB_TYPE_CLOCK_STAMP);

/* The time to draw into @frame; FALSE when there is none to draw. */
static gboolean
lb_clock_stamp_pick_time (LbClockStamp * self, GstVideoFrame * frame,
    gint64 * out_stamp, const gchar ** why_not)
{
  GstBaseTransform *trans = GST_BASE_TRANSFORM (self);
  LbClockStampSource source;
  gint64 offset;

  GST_OBJECT_LOCK (self);
  source = self->source;
  offset = self->offset;
  GST_OBJECT_UNLOCK (self);

  if (source == LB_CLOCK_STAMP_SOURCE_CLOCK) {
    g_autoptr (GstClock) clock = gst_element_get_clock (GST_ELEMENT (self));
    if (clock == NULL) {
      *why_not = "the element has no clock yet (source=clock)";
      return FALSE;
    }
    *out_stamp = (gint64) gst_clock_get_time (clock);
    return TRUE;
  }

  GstClockTime pts = GST_BUFFER_PTS (frame->buffer);
  guint64 running_time;
  if (!GST_CLOCK_TIME_IS_VALID (pts)) {
    *why_not = "the frame has no timestamp";
    return FALSE;
  }
  if (source == LB_CLOCK_STAMP_SOURCE_PTS) {
    *out_stamp = offset + (gint64) pts;
    return TRUE;
  }
  running_time = gst_segment_to_running_time (&trans->segment,
      GST_FORMAT_TIME, pts);
  if (!GST_CLOCK_TIME_IS_VALID (running_time)) {
    *why_not = "the frame is outside the segment (source=running-time)";
    return FALSE;
  }
  *out_stamp = (gint64) (gst_element_get_base_time (GST_ELEMENT (self)) +
      running_time);
  if (source == LB_CLOCK_STAMP_SOURCE_WALL) {
    g_autoptr (GstClock) clock = gst_element_get_clock (GST_ELEMENT (self));
    if (clock == NULL) {
      *why_not = "the element has no clock yet (source=wall)";
      return FALSE;
    }
    *out_stamp += g_get_real_time () * 1000 -
        (gint64) gst_clock_get_time (clock);
  }
  return TRUE;
}

static GstFlowReturn
lb_clock_stamp_transform_frame_ip (GstVideoFilter * filter,
    GstVideoFrame * frame)
{
  LbClockStamp *self = LB_CLOCK_STAMP (filter);
  const gchar *why_not = NULL;
  gint64 stamp;

  if (!lb_clock_stamp_pick_time (self, frame, &stamp, &why_not)) {
    /* the frame goes on without a code: lbclockcheck reports it as such */
    if (!self->warned) {
      GST_ELEMENT_WARNING (self, STREAM, FAILED,
          ("Frames are passed without a time stamp: %s.", why_not), (NULL));
      self->warned = TRUE;
    }
    GST_DEBUG_OBJECT (self, "not stamping %" GST_PTR_FORMAT ": %s",
        frame->buffer, why_not);
    return GST_FLOW_OK;
  }

  GST_LOG_OBJECT (self, "stamping %" G_GINT64_FORMAT " into %"
      GST_PTR_FORMAT, stamp, frame->buffer);
  lb_clock_code_draw (frame, stamp);
  return GST_FLOW_OK;
}

static gboolean
lb_clock_stamp_start (GstBaseTransform * trans)
{
  LB_CLOCK_STAMP (trans)->warned = FALSE;
  return TRUE;
}

static void
lb_clock_stamp_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  LbClockStamp *self = LB_CLOCK_STAMP (object);

  switch (prop_id) {
    case PROP_SOURCE:
      GST_OBJECT_LOCK (self);
      self->source = g_value_get_enum (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_OFFSET:
      GST_OBJECT_LOCK (self);
      self->offset = g_value_get_int64 (value);
      GST_OBJECT_UNLOCK (self);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
lb_clock_stamp_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  LbClockStamp *self = LB_CLOCK_STAMP (object);

  switch (prop_id) {
    case PROP_SOURCE:
      GST_OBJECT_LOCK (self);
      g_value_set_enum (value, self->source);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_OFFSET:
      GST_OBJECT_LOCK (self);
      g_value_set_int64 (value, self->offset);
      GST_OBJECT_UNLOCK (self);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
lb_clock_stamp_class_init (LbClockStampClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  GstVideoFilterClass *filter_class = GST_VIDEO_FILTER_CLASS (klass);

  gobject_class->set_property = lb_clock_stamp_set_property;
  gobject_class->get_property = lb_clock_stamp_get_property;

  /**
   * LbClockStamp:source:
   *
   * Which time to draw: `running-time` (base time + the buffer's running
   * time, the default), `clock` (the pipeline clock's time when the frame
   * passes) or `pts` (the buffer's PTS plus #LbClockStamp:offset).  The
   * first two are wall clock when the pipeline clock is realtime.
   */
  g_object_class_install_property (gobject_class, PROP_SOURCE,
      g_param_spec_enum ("source", "Source",
          "Time to draw: base time + the buffer's running time, the "
          "pipeline clock's current time (wall clock with a realtime clock), "
          "or the buffer's PTS + offset",
          LB_TYPE_CLOCK_STAMP_SOURCE, DEFAULT_SOURCE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));

  /**
   * LbClockStamp:offset:
   *
   * Nanoseconds added to the PTS with `source=pts`, e.g. the wall-clock
   * time (ns since the Unix epoch) of the footage's first frame.
   */
  g_object_class_install_property (gobject_class, PROP_OFFSET,
      g_param_spec_int64 ("offset", "Offset",
          "Nanoseconds added to the buffer's PTS when source=pts",
          G_MININT64, G_MAXINT64, DEFAULT_OFFSET,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "Clock stamp", "Filter/Effect/Video",
      "Draws the frame's wall-clock time into the picture as a block code",
      "the lookback authors");

  trans_class->start = GST_DEBUG_FUNCPTR (lb_clock_stamp_start);
  filter_class->transform_frame_ip =
      GST_DEBUG_FUNCPTR (lb_clock_stamp_transform_frame_ip);

  gst_type_mark_as_plugin_api (LB_TYPE_CLOCK_STAMP_SOURCE, 0);
}

static void
lb_clock_stamp_init (LbClockStamp * self)
{
  self->source = DEFAULT_SOURCE;
  self->offset = DEFAULT_OFFSET;
}
