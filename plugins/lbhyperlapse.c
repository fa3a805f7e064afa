/* lookback — lbhyperlapse: one frame per interval, re-timed to a frame rate */

/**
 * SECTION:element-lbhyperlapse
 * @title: lbhyperlapse
 * @see_also: lbrecordingsrc
 *
 * Turns a long stream of raw video into a short one.  Source time (the
 * input PTS) is cut into consecutive slots of #LbHyperlapse:interval
 * starting at the upstream segment's start (or at the first frame's PTS
 * when the segment has no start), and the first frame of each slot is kept.
 * Kept frames are re-timestamped to #LbHyperlapse:framerate from 0 (PTS
 * n / framerate, a duration of one frame) in a new segment that starts at
 * 0, and the output caps carry that frame rate.
 *
 * Instead of an interval, #LbHyperlapse:target-duration asks for an output
 * of that length: the interval is then the input range (the upstream
 * segment's start to stop) divided by the number of output frames
 * (target-duration × framerate).  The upstream segment must then have a
 * stop, as lbrecordingsrc's has.
 *
 * The input may be a full-rate stream or a sparse one, such as the decoded
 * keyframes of lbrecordingsrc `mode=keyframes`.  When frames are sparser
 * than the interval, slots without a frame are skipped: every input frame
 * is kept once and none is repeated, so the output is shorter than
 * target-duration and its playback speed follows the frames, not the slots.
 * Buffers without a PTS are dropped.
 *
 * The input may also be encoded H.264 or H.265 (access units): then only
 * keyframes are kept (a buffer flagged DELTA_UNIT is dropped), each with
 * DTS = PTS, so that a muxer can write a keyframes-only stream without
 * decoding or encoding anything (e.g. after lbrecordingsrc
 * `mode=keyframes`).
 *
 * At EOS the element posts an element message whose structure is named
 * `lbhyperlapse`, with the fields:
 *
 * * `interval` (#guint64): the interval used, in ns
 * * `frames-in` (#guint64): timestamped frames received
 * * `frames-out` (#guint64): frames passed
 * * `first-time` (#guint64): source PTS of the first frame passed
 *   (GST_CLOCK_TIME_NONE when none)
 * * `last-time` (#guint64): source PTS of the last frame passed
 *
 * If the stream ends without any frame passed, or neither interval nor
 * target-duration is set, or target-duration is set and the upstream
 * segment has no stop, the element posts an error.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 -m videotestsrc num-buffers=300 ! video/x-raw,framerate=30/1 ! lbhyperlapse interval=500000000 framerate=25/1 ! videoconvert ! x264enc ! mp4mux ! fakesink
 * ]|
 * Keeps one frame per half second of 10 s of test video (20 frames) and
 * plays them at 25 fps: 0.8 s of H.264.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "lbhyperlapse.h"

GST_DEBUG_CATEGORY_STATIC (lb_hyperlapse_debug);
#define GST_CAT_DEFAULT lb_hyperlapse_debug

struct _LbHyperlapse
{
  GstElement parent;

  GstPad *sinkpad;
  GstPad *srcpad;

  /* protected by the object lock */
  GstClockTime interval;        /* 0: from target_duration */
  GstClockTime target_duration; /* 0: not set */
  gint fps_n, fps_d;

  /* protected by the sink pad's stream lock */
  GstSegment segment;           /* upstream's */
  gboolean encoded;             /* H.264/H.265 access units, not raw video */
  gboolean need_segment;        /* ours is not sent yet */
  GstClockTime step;            /* the interval in use, NONE until resolved */
  gint out_fps_n, out_fps_d;
  GstClockTime origin;          /* start of slot 0 */
  guint64 next_slot;            /* first slot whose frame is still wanted */
  guint64 frames_in, frames_out;
  GstClockTime first_time, last_time;
};

enum
{
  PROP_0,
  PROP_INTERVAL,
  PROP_TARGET_DURATION,
  PROP_FRAMERATE,
};

#define DEFAULT_INTERVAL 0
#define DEFAULT_TARGET_DURATION 0
#define DEFAULT_FPS_N 30
#define DEFAULT_FPS_D 1

#define LB_HYPERLAPSE_CAPS "video/x-raw(ANY); " \
    "video/x-h264, alignment = (string) au; " \
    "video/x-h265, alignment = (string) au"

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (LB_HYPERLAPSE_CAPS));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (LB_HYPERLAPSE_CAPS));

#define lb_hyperlapse_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE (LbHyperlapse, lb_hyperlapse, GST_TYPE_ELEMENT,
    GST_DEBUG_CATEGORY_INIT (lb_hyperlapse_debug, "lbhyperlapse", 0,
        "lookback hyperlapse element"));
GST_ELEMENT_REGISTER_DEFINE (lbhyperlapse, "lbhyperlapse", GST_RANK_NONE,
    LB_TYPE_HYPERLAPSE);

static void
lb_hyperlapse_reset (LbHyperlapse * self)
{
  gst_segment_init (&self->segment, GST_FORMAT_TIME);
  self->need_segment = TRUE;
  self->step = GST_CLOCK_TIME_NONE;
  self->origin = GST_CLOCK_TIME_NONE;
  self->next_slot = 0;
  self->frames_in = 0;
  self->frames_out = 0;
  self->first_time = GST_CLOCK_TIME_NONE;
  self->last_time = GST_CLOCK_TIME_NONE;
}

/* @caps with the framerate field replaced by @fps_n/@fps_d, or removed
 * when @fps_n is 0. */
static GstCaps *
caps_with_framerate (GstCaps * caps, gint fps_n, gint fps_d)
{
  GstCaps *out = gst_caps_copy (caps);

  for (guint i = 0; i < gst_caps_get_size (out); i++) {
    GstStructure *s = gst_caps_get_structure (out, i);
    if (fps_n > 0)
      gst_structure_set (s, "framerate", GST_TYPE_FRACTION, fps_n, fps_d, NULL);
    else
      gst_structure_remove_field (s, "framerate");
  }
  return out;
}

static void
lb_hyperlapse_get_framerate (LbHyperlapse * self, gint * fps_n, gint * fps_d)
{
  GST_OBJECT_LOCK (self);
  *fps_n = self->fps_n;
  *fps_d = self->fps_d;
  GST_OBJECT_UNLOCK (self);
}

/* Caps on one side are the caps on the other with another frame rate. */
static gboolean
lb_hyperlapse_query_caps (LbHyperlapse * self, GstPad * pad, GstQuery * query)
{
  GstPad *other = pad == self->sinkpad ? self->srcpad : self->sinkpad;
  GstCaps *filter = NULL;
  gint fps_n, fps_d;

  lb_hyperlapse_get_framerate (self, &fps_n, &fps_d);
  gst_query_parse_caps (query, &filter);

  g_autoptr (GstCaps) other_filter = NULL;
  if (filter != NULL)
    other_filter = pad == self->sinkpad ?
        caps_with_framerate (filter, fps_n, fps_d) :
        caps_with_framerate (filter, 0, 1);

  g_autoptr (GstCaps) peer = gst_pad_peer_query_caps (other, other_filter);
  g_autoptr (GstCaps) template = gst_pad_get_pad_template_caps (pad);
  g_autoptr (GstCaps) mapped = pad == self->sinkpad ?
      caps_with_framerate (peer, 0, 1) :
      caps_with_framerate (peer, fps_n, fps_d);
  GstCaps *result = gst_caps_intersect (mapped, template);
  if (filter != NULL) {
    GstCaps *tmp = gst_caps_intersect_full (filter, result,
        GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref (result);
    result = tmp;
  }
  gst_query_set_caps_result (query, result);
  gst_caps_unref (result);
  return TRUE;
}

static gboolean
lb_hyperlapse_query (GstPad * pad, GstObject * parent, GstQuery * query)
{
  if (GST_QUERY_TYPE (query) == GST_QUERY_CAPS)
    return lb_hyperlapse_query_caps (LB_HYPERLAPSE (parent), pad, query);
  return gst_pad_query_default (pad, parent, query);
}

/* Picks the interval at the first frame; FALSE after posting an error. */
static gboolean
lb_hyperlapse_resolve (LbHyperlapse * self, GstClockTime first_pts)
{
  GstClockTime interval, target_duration;

  GST_OBJECT_LOCK (self);
  interval = self->interval;
  target_duration = self->target_duration;
  self->out_fps_n = self->fps_n;
  self->out_fps_d = self->fps_d;
  GST_OBJECT_UNLOCK (self);

  self->origin = GST_CLOCK_TIME_IS_VALID (self->segment.start) &&
      self->segment.start > 0 ? self->segment.start : first_pts;

  if (interval == 0) {
    if (target_duration == 0) {
      GST_ELEMENT_ERROR (self, LIBRARY, SETTINGS,
          ("Set either interval or target-duration on lbhyperlapse."), (NULL));
      return FALSE;
    }
    if (!GST_CLOCK_TIME_IS_VALID (self->segment.stop)) {
      GST_ELEMENT_ERROR (self, STREAM, FAILED,
          ("lbhyperlapse cannot derive an interval from target-duration: "
              "the input has no known end (its segment has no stop); set "
              "interval instead."), ("segment %" GST_SEGMENT_FORMAT,
              &self->segment));
      return FALSE;
    }
    guint64 n_out = gst_util_uint64_scale (target_duration, self->out_fps_n,
        self->out_fps_d * GST_SECOND);
    GstClockTime range = self->segment.stop > self->origin ?
        self->segment.stop - self->origin : 0;
    interval = range / MAX (n_out, 1);
    if (interval == 0) {
      GST_ELEMENT_ERROR (self, STREAM, FAILED,
          ("lbhyperlapse: the input range is empty or shorter than the "
              "output's frames."), ("segment %" GST_SEGMENT_FORMAT
              ", %" G_GUINT64_FORMAT " output frames", &self->segment, n_out));
      return FALSE;
    }
  }
  self->step = interval;
  GST_INFO_OBJECT (self, "one frame per %" GST_TIME_FORMAT " from %"
      GST_TIME_FORMAT " at %d/%d fps", GST_TIME_ARGS (interval),
      GST_TIME_ARGS (self->origin), self->out_fps_n, self->out_fps_d);
  return TRUE;
}

static GstFlowReturn
lb_hyperlapse_chain (GstPad * pad, GstObject * parent, GstBuffer * buffer)
{
  LbHyperlapse *self = LB_HYPERLAPSE (parent);
  GstClockTime pts = GST_BUFFER_PTS (buffer);

  if (!GST_CLOCK_TIME_IS_VALID (pts)) {
    GST_DEBUG_OBJECT (self, "dropping %" GST_PTR_FORMAT ": no PTS", buffer);
    gst_buffer_unref (buffer);
    return GST_FLOW_OK;
  }
  if (!GST_CLOCK_TIME_IS_VALID (self->step) &&
      !lb_hyperlapse_resolve (self, pts)) {
    gst_buffer_unref (buffer);
    return GST_FLOW_ERROR;
  }
  self->frames_in++;

  /* encoded: a frame that needs others cannot stand alone in the output */
  if (self->encoded && GST_BUFFER_FLAG_IS_SET (buffer,
          GST_BUFFER_FLAG_DELTA_UNIT)) {
    GST_LOG_OBJECT (self, "dropping %" GST_TIME_FORMAT ": not a keyframe",
        GST_TIME_ARGS (pts));
    gst_buffer_unref (buffer);
    return GST_FLOW_OK;
  }

  /* A frame a hair before a slot's start (< 1 ms, at most half the
   * interval) belongs to that slot: timestamps drift by nanoseconds from
   * rounding (lbrecordingsrc chains segment starts from rounded durations),
   * and the frame at 60 s stamped 59.999999999 s must not lose its slot to
   * the frame at 59 s. */
  GstClockTime nudge = MIN (self->step / 2, GST_MSECOND);
  guint64 slot = pts + nudge > self->origin ?
      (pts + nudge - self->origin) / self->step : 0;
  if (slot < self->next_slot) {
    GST_LOG_OBJECT (self, "dropping %" GST_TIME_FORMAT " (slot %"
        G_GUINT64_FORMAT ")", GST_TIME_ARGS (pts), slot);
    gst_buffer_unref (buffer);
    return GST_FLOW_OK;
  }
  self->next_slot = slot + 1;

  if (self->need_segment) {
    GstSegment segment;
    gst_segment_init (&segment, GST_FORMAT_TIME);
    gst_pad_push_event (self->srcpad, gst_event_new_segment (&segment));
    self->need_segment = FALSE;
  }

  buffer = gst_buffer_make_writable (buffer);
  GST_BUFFER_PTS (buffer) = gst_util_uint64_scale (self->frames_out,
      self->out_fps_d * GST_SECOND, self->out_fps_n);
  /* keyframes only: decoded in the order shown */
  GST_BUFFER_DTS (buffer) = self->encoded ? GST_BUFFER_PTS (buffer) :
      GST_CLOCK_TIME_NONE;
  GST_BUFFER_DURATION (buffer) = gst_util_uint64_scale (self->frames_out + 1,
      self->out_fps_d * GST_SECOND, self->out_fps_n) - GST_BUFFER_PTS (buffer);
  if (self->frames_out == 0)
    GST_BUFFER_FLAG_SET (buffer, GST_BUFFER_FLAG_DISCONT);
  else
    GST_BUFFER_FLAG_UNSET (buffer, GST_BUFFER_FLAG_DISCONT);
  if (self->first_time == GST_CLOCK_TIME_NONE)
    self->first_time = pts;
  self->last_time = pts;
  self->frames_out++;

  GST_LOG_OBJECT (self, "keeping %" GST_TIME_FORMAT " (slot %"
      G_GUINT64_FORMAT ") as %" GST_TIME_FORMAT, GST_TIME_ARGS (pts), slot,
      GST_TIME_ARGS (GST_BUFFER_PTS (buffer)));
  return gst_pad_push (self->srcpad, buffer);
}

static gboolean
lb_hyperlapse_sink_event (GstPad * pad, GstObject * parent, GstEvent * event)
{
  LbHyperlapse *self = LB_HYPERLAPSE (parent);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS:{
      GstCaps *caps;
      gint fps_n, fps_d;

      gst_event_parse_caps (event, &caps);
      self->encoded = !gst_structure_has_name (gst_caps_get_structure (caps,
              0), "video/x-raw");
      lb_hyperlapse_get_framerate (self, &fps_n, &fps_d);
      g_autoptr (GstCaps) out = caps_with_framerate (caps, fps_n, fps_d);
      gst_event_unref (event);
      return gst_pad_push_event (self->srcpad, gst_event_new_caps (out));
    }
    case GST_EVENT_SEGMENT:{
      const GstSegment *segment;

      gst_event_parse_segment (event, &segment);
      if (segment->format != GST_FORMAT_TIME) {
        GST_ELEMENT_ERROR (self, STREAM, FAILED,
            ("lbhyperlapse needs a stream in time format."),
            ("segment %" GST_SEGMENT_FORMAT, segment));
        gst_event_unref (event);
        return FALSE;
      }
      /* ours, which starts at 0, goes out before the first frame */
      gst_segment_copy_into (segment, &self->segment);
      gst_event_unref (event);
      return TRUE;
    }
    case GST_EVENT_FLUSH_STOP:
      lb_hyperlapse_reset (self);
      break;
    case GST_EVENT_EOS:
      if (self->frames_out == 0) {
        GST_ELEMENT_ERROR (self, STREAM, FAILED,
            ("No frame for the hyperlapse: the stream ended before any "
                "timestamped frame arrived."), (NULL));
        gst_event_unref (event);
        return FALSE;
      }
      gst_element_post_message (GST_ELEMENT (self),
          gst_message_new_element (GST_OBJECT (self),
              gst_structure_new ("lbhyperlapse",
                  "interval", G_TYPE_UINT64, self->step,
                  "frames-in", G_TYPE_UINT64, self->frames_in,
                  "frames-out", G_TYPE_UINT64, self->frames_out,
                  "first-time", G_TYPE_UINT64, self->first_time,
                  "last-time", G_TYPE_UINT64, self->last_time, NULL)));
      break;
    default:
      break;
  }
  return gst_pad_event_default (pad, parent, event);
}

static GstStateChangeReturn
lb_hyperlapse_change_state (GstElement * element, GstStateChange transition)
{
  LbHyperlapse *self = LB_HYPERLAPSE (element);

  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED) {
    GST_PAD_STREAM_LOCK (self->sinkpad);
    lb_hyperlapse_reset (self);
    self->encoded = FALSE;      /* until the caps say */
    GST_PAD_STREAM_UNLOCK (self->sinkpad);
  }
  return GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
}

static void
lb_hyperlapse_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  LbHyperlapse *self = LB_HYPERLAPSE (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_INTERVAL:
      self->interval = g_value_get_uint64 (value);
      break;
    case PROP_TARGET_DURATION:
      self->target_duration = g_value_get_uint64 (value);
      break;
    case PROP_FRAMERATE:
      self->fps_n = gst_value_get_fraction_numerator (value);
      self->fps_d = gst_value_get_fraction_denominator (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
lb_hyperlapse_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  LbHyperlapse *self = LB_HYPERLAPSE (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_INTERVAL:
      g_value_set_uint64 (value, self->interval);
      break;
    case PROP_TARGET_DURATION:
      g_value_set_uint64 (value, self->target_duration);
      break;
    case PROP_FRAMERATE:
      gst_value_set_fraction (value, self->fps_n, self->fps_d);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
lb_hyperlapse_class_init (LbHyperlapseClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  gobject_class->set_property = lb_hyperlapse_set_property;
  gobject_class->get_property = lb_hyperlapse_get_property;

  g_object_class_install_property (gobject_class, PROP_INTERVAL,
      g_param_spec_uint64 ("interval", "Interval",
          "Keep one frame per this much source (PTS) time, in ns; 0 derives "
          "it from target-duration and the input's segment",
          0, G_MAXUINT64, DEFAULT_INTERVAL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_TARGET_DURATION,
      g_param_spec_uint64 ("target-duration", "Target duration",
          "Length of the output, in ns, when interval is 0: the interval is "
          "the upstream segment's start-to-stop range divided by "
          "target-duration × framerate frames (0 = not set)",
          0, G_MAXUINT64, DEFAULT_TARGET_DURATION,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_FRAMERATE,
      gst_param_spec_fraction ("framerate", "Frame rate",
          "Frame rate of the output: kept frames get PTS n / framerate "
          "from 0, and the output caps carry it",
          1, 1, G_MAXINT, 1, DEFAULT_FPS_N, DEFAULT_FPS_D,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "Hyperlapse", "Filter/Video",
      "Keeps one frame per interval of source time and re-times them to a "
      "frame rate", "the lookback authors");

  element_class->change_state = GST_DEBUG_FUNCPTR (lb_hyperlapse_change_state);
}

static void
lb_hyperlapse_init (LbHyperlapse * self)
{
  self->interval = DEFAULT_INTERVAL;
  self->target_duration = DEFAULT_TARGET_DURATION;
  self->fps_n = DEFAULT_FPS_N;
  self->fps_d = DEFAULT_FPS_D;
  lb_hyperlapse_reset (self);

  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (self->sinkpad,
      GST_DEBUG_FUNCPTR (lb_hyperlapse_chain));
  gst_pad_set_event_function (self->sinkpad,
      GST_DEBUG_FUNCPTR (lb_hyperlapse_sink_event));
  gst_pad_set_query_function (self->sinkpad,
      GST_DEBUG_FUNCPTR (lb_hyperlapse_query));
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);

  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_set_query_function (self->srcpad,
      GST_DEBUG_FUNCPTR (lb_hyperlapse_query));
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);
}
