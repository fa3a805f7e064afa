/* lookback — lbframepick: passes the one frame nearest to a time */

/**
 * SECTION:element-lbframepick
 * @title: lbframepick
 * @see_also: lbrecordingsrc
 *
 * Passes exactly one buffer, the one whose PTS is nearest to
 * #LbFramePick:target-time, then sends EOS downstream and returns EOS
 * upstream.  When two frames are equally near, the earlier one wins.  If
 * the stream ends before a frame at or after the target arrives, the last
 * frame is the nearest.  A frame before the target that lies within half
 * its duration of it is passed at once: no later frame can be nearer, so
 * the next one is not waited for (nor decoded).  Frames must arrive in
 * presentation order (decoded video); buffers without a PTS are ignored.  If the stream ends without
 * any timestamped buffer the element posts an error.
 *
 * With lbrecordingsrc upstream, PTS and so #LbFramePick:target-time are
 * wall-clock nanoseconds since the Unix epoch.  Give lbrecordingsrc a range
 * that starts before the target (e.g. target − 1 s to target + 1 s): a
 * decoder drops the frames that end before the segment's start and moves
 * the PTS of the frame on screen at the start to the start itself.
 *
 * When it has chosen, the element posts an element message whose structure
 * is named `lbframepick`, with the fields:
 *
 * * `target-time` (#guint64): the target, in ns
 * * `frame-time` (#guint64): the PTS of the frame passed, in ns
 * * `distance` (#gint64): `frame-time` − `target-time`, in ns
 *   (negative when the frame is before the target)
 * * `frames` (#guint64): the timestamped frames that reached the element
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 -m videotestsrc num-buffers=100 ! video/x-raw,framerate=30/1 ! lbframepick target-time=1020000000 ! videoconvert ! jpegenc ! fakesink
 * ]|
 * Passes frame 31 (PTS 1.0333 s) of 30 fps test video, the nearest to
 * 1.02 s, and encodes it as JPEG.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "lbframepick.h"

GST_DEBUG_CATEGORY_STATIC (lb_frame_pick_debug);
#define GST_CAT_DEFAULT lb_frame_pick_debug

struct _LbFramePick
{
  GstElement parent;

  GstPad *sinkpad;
  GstPad *srcpad;

  /* protected by the object lock */
  GstClockTime target_time;

  /* protected by the sink pad's stream lock */
  GstBuffer *candidate;         /* nearest so far, before the target */
  gboolean done;                /* the frame went out, and EOS after it */
  guint64 frames;
};

enum
{
  PROP_0,
  PROP_TARGET_TIME,
};

#define DEFAULT_TARGET_TIME 0

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

#define lb_frame_pick_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE (LbFramePick, lb_frame_pick, GST_TYPE_ELEMENT,
    GST_DEBUG_CATEGORY_INIT (lb_frame_pick_debug, "lbframepick", 0,
        "lookback frame pick element"));
GST_ELEMENT_REGISTER_DEFINE (lbframepick, "lbframepick", GST_RANK_NONE,
    LB_TYPE_FRAME_PICK);

static void
lb_frame_pick_reset (LbFramePick * self)
{
  gst_clear_buffer (&self->candidate);
  self->done = FALSE;
  self->frames = 0;
}

static GstClockTime
lb_frame_pick_get_target (LbFramePick * self)
{
  GstClockTime target;

  GST_OBJECT_LOCK (self);
  target = self->target_time;
  GST_OBJECT_UNLOCK (self);
  return target;
}

static guint64
distance (GstClockTime a, GstClockTime b)
{
  return a > b ? a - b : b - a;
}

/* Sends @buffer (consumed), the one chosen, then EOS. */
static GstFlowReturn
lb_frame_pick_finish (LbFramePick * self, GstBuffer * buffer)
{
  GstClockTime target = lb_frame_pick_get_target (self);
  GstClockTime pts = GST_BUFFER_PTS (buffer);
  GstFlowReturn ret;

  self->done = TRUE;
  GST_INFO_OBJECT (self, "chose %" GST_TIME_FORMAT " for target %"
      GST_TIME_FORMAT " among %" G_GUINT64_FORMAT " frames",
      GST_TIME_ARGS (pts), GST_TIME_ARGS (target), self->frames);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self),
          gst_structure_new ("lbframepick",
              "target-time", G_TYPE_UINT64, target,
              "frame-time", G_TYPE_UINT64, pts,
              "distance", G_TYPE_INT64, (gint64) (pts - target),
              "frames", G_TYPE_UINT64, self->frames, NULL)));

  ret = gst_pad_push (self->srcpad, buffer);
  gst_pad_push_event (self->srcpad, gst_event_new_eos ());
  return ret == GST_FLOW_OK ? GST_FLOW_EOS : ret;
}

static GstFlowReturn
lb_frame_pick_chain (GstPad * pad, GstObject * parent, GstBuffer * buffer)
{
  LbFramePick *self = LB_FRAME_PICK (parent);
  GstClockTime target = lb_frame_pick_get_target (self);
  GstClockTime pts = GST_BUFFER_PTS (buffer);

  if (self->done) {
    gst_buffer_unref (buffer);
    return GST_FLOW_EOS;
  }
  if (!GST_CLOCK_TIME_IS_VALID (pts)) {
    GST_DEBUG_OBJECT (self, "ignoring %" GST_PTR_FORMAT ": no PTS", buffer);
    gst_buffer_unref (buffer);
    return GST_FLOW_OK;
  }
  self->frames++;

  if (pts < target) {
    GstClockTime duration = GST_BUFFER_DURATION (buffer);

    /* Within half its duration of the target: the next frame, at the
     * earliest pts + duration, cannot be nearer (a tie goes to this one), so
     * there is no need to wait for it (and to decode it). */
    if (GST_CLOCK_TIME_IS_VALID (duration) && 2 * (target - pts) <= duration) {
      gst_clear_buffer (&self->candidate);
      return lb_frame_pick_finish (self, buffer);
    }
    /* keep the nearest before the target (the latest, in order) */
    if (self->candidate == NULL ||
        distance (pts, target) < distance (GST_BUFFER_PTS (self->candidate),
            target))
      gst_buffer_replace (&self->candidate, buffer);
    gst_buffer_unref (buffer);
    return GST_FLOW_OK;
  }

  /* at or past the target: later frames can only be farther */
  if (self->candidate != NULL &&
      distance (GST_BUFFER_PTS (self->candidate), target) <=
      distance (pts, target)) {
    gst_buffer_unref (buffer);
    return lb_frame_pick_finish (self, g_steal_pointer (&self->candidate));
  }
  gst_clear_buffer (&self->candidate);
  return lb_frame_pick_finish (self, buffer);
}

static gboolean
lb_frame_pick_sink_event (GstPad * pad, GstObject * parent, GstEvent * event)
{
  LbFramePick *self = LB_FRAME_PICK (parent);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_FLUSH_STOP:
      lb_frame_pick_reset (self);
      break;
    case GST_EVENT_EOS:
      if (self->done) {
        /* ours went out with the frame */
        gst_event_unref (event);
        return TRUE;
      }
      if (self->candidate == NULL) {
        GST_ELEMENT_ERROR (self, STREAM, FAILED,
            ("No frame to pick: the stream ended before any timestamped "
                "frame arrived."), ("target-time %" GST_TIME_FORMAT,
                GST_TIME_ARGS (lb_frame_pick_get_target (self))));
        gst_event_unref (event);
        return FALSE;
      }
      /* the stream ended before the target: its last frame is nearest */
      lb_frame_pick_finish (self, g_steal_pointer (&self->candidate));
      gst_event_unref (event);
      return TRUE;
    default:
      break;
  }
  return gst_pad_event_default (pad, parent, event);
}

static GstStateChangeReturn
lb_frame_pick_change_state (GstElement * element, GstStateChange transition)
{
  LbFramePick *self = LB_FRAME_PICK (element);
  GstStateChangeReturn ret;

  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED) {
    GST_PAD_STREAM_LOCK (self->sinkpad);
    lb_frame_pick_reset (self);
    GST_PAD_STREAM_UNLOCK (self->sinkpad);
  }
  ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY) {
    GST_PAD_STREAM_LOCK (self->sinkpad);
    lb_frame_pick_reset (self);
    GST_PAD_STREAM_UNLOCK (self->sinkpad);
  }
  return ret;
}

static void
lb_frame_pick_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  LbFramePick *self = LB_FRAME_PICK (object);

  switch (prop_id) {
    case PROP_TARGET_TIME:
      GST_OBJECT_LOCK (self);
      self->target_time = g_value_get_uint64 (value);
      GST_OBJECT_UNLOCK (self);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
lb_frame_pick_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  LbFramePick *self = LB_FRAME_PICK (object);

  switch (prop_id) {
    case PROP_TARGET_TIME:
      GST_OBJECT_LOCK (self);
      g_value_set_uint64 (value, self->target_time);
      GST_OBJECT_UNLOCK (self);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
lb_frame_pick_finalize (GObject * object)
{
  LbFramePick *self = LB_FRAME_PICK (object);

  gst_clear_buffer (&self->candidate);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
lb_frame_pick_class_init (LbFramePickClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  gobject_class->set_property = lb_frame_pick_set_property;
  gobject_class->get_property = lb_frame_pick_get_property;
  gobject_class->finalize = lb_frame_pick_finalize;

  /**
   * LbFramePick:target-time:
   *
   * The time, in ns in the PTS domain (wall-clock ns since the epoch behind
   * lbrecordingsrc), that the frame passed is nearest to.
   */
  g_object_class_install_property (gobject_class, PROP_TARGET_TIME,
      g_param_spec_uint64 ("target-time", "Target time",
          "Pass the frame whose PTS is nearest to this time, in ns (behind "
          "lbrecordingsrc: wall-clock ns since the Unix epoch)",
          0, G_MAXUINT64, DEFAULT_TARGET_TIME,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "Frame pick", "Filter/Video",
      "Passes the one frame nearest to a target time, then EOS",
      "the lookback authors");

  element_class->change_state = GST_DEBUG_FUNCPTR (lb_frame_pick_change_state);
}

static void
lb_frame_pick_init (LbFramePick * self)
{
  self->target_time = DEFAULT_TARGET_TIME;

  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (self->sinkpad,
      GST_DEBUG_FUNCPTR (lb_frame_pick_chain));
  gst_pad_set_event_function (self->sinkpad,
      GST_DEBUG_FUNCPTR (lb_frame_pick_sink_event));
  GST_PAD_SET_PROXY_CAPS (self->sinkpad);
  GST_PAD_SET_PROXY_ALLOCATION (self->sinkpad);
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);

  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  GST_PAD_SET_PROXY_CAPS (self->srcpad);
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);
}
