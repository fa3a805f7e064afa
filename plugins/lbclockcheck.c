/* lookback — lbclockcheck: reads back the time lbclockstamp drew */

/**
 * SECTION:element-lbclockcheck
 * @title: lbclockcheck
 * @see_also: lbclockstamp
 *
 * Reads the block code that lbclockstamp drew into each frame and posts one
 * element message per frame; the frames pass unchanged.  A frame whose code
 * is missing or damaged (a cell that is neither clearly black nor clearly
 * white, or a checksum mismatch) is reported as unreadable: a stamp is
 * never guessed.
 *
 * The message is an element message whose structure is named
 * `lbclockcheck`, with the fields:
 *
 * * `frame` (#guint64): index of the frame since the element started, from 0
 * * `readable` (#gboolean): whether the frame holds a readable code
 * * `result` (#gchararray): `ok`, `no-code` or `damaged`
 * * `stamp` (#gint64): the time read, in ns (only when `readable`)
 * * `pts` (#guint64): the buffer's PTS (GST_CLOCK_TIME_NONE when none)
 * * `running-time` (#guint64): the PTS as running time (GST_CLOCK_TIME_NONE
 *   when there is no PTS or it is outside the segment)
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 -m videotestsrc is-live=true num-buffers=30 ! video/x-raw,format=NV12,width=1280,height=720 ! lbclockstamp ! x264enc bitrate=500 ! avdec_h264 ! videoscale ! video/x-raw,width=640,height=360 ! lbclockcheck ! fakesink
 * ]|
 * Stamps frames, encodes them at 500 kbit/s, decodes, scales them down and
 * prints what lbclockcheck reads.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "lbclockcheck.h"
#include "lbclockcode.h"

GST_DEBUG_CATEGORY_STATIC (lb_clock_check_debug);
#define GST_CAT_DEFAULT lb_clock_check_debug

struct _LbClockCheck
{
  GstVideoFilter parent;

  /* protected by the object lock */
  guint64 frames_read;
  guint64 frames_unreadable;
};

enum
{
  PROP_0,
  PROP_FRAMES_READ,
  PROP_FRAMES_UNREADABLE,
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (LB_CLOCK_CODE_CAPS));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (LB_CLOCK_CODE_CAPS));

#define lb_clock_check_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE (LbClockCheck, lb_clock_check, GST_TYPE_VIDEO_FILTER,
    GST_DEBUG_CATEGORY_INIT (lb_clock_check_debug, "lbclockcheck", 0,
        "lookback clock check element"));
GST_ELEMENT_REGISTER_DEFINE (lbclockcheck, "lbclockcheck", GST_RANK_NONE,
    LB_TYPE_CLOCK_CHECK);

static GstFlowReturn
lb_clock_check_transform_frame_ip (GstVideoFilter * filter,
    GstVideoFrame * frame)
{
  LbClockCheck *self = LB_CLOCK_CHECK (filter);
  GstBaseTransform *trans = GST_BASE_TRANSFORM (filter);
  GstClockTime pts = GST_BUFFER_PTS (frame->buffer);
  GstClockTime running_time = GST_CLOCK_TIME_NONE;
  gint64 stamp = 0;
  guint64 index;

  LbClockCodeResult result = lb_clock_code_read (frame, &stamp);

  if (GST_CLOCK_TIME_IS_VALID (pts))
    running_time = gst_segment_to_running_time (&trans->segment,
        GST_FORMAT_TIME, pts);

  GST_OBJECT_LOCK (self);
  index = self->frames_read + self->frames_unreadable;
  if (result == LB_CLOCK_CODE_OK)
    self->frames_read++;
  else
    self->frames_unreadable++;
  GST_OBJECT_UNLOCK (self);

  GstStructure *s = gst_structure_new ("lbclockcheck",
      "frame", G_TYPE_UINT64, index,
      "readable", G_TYPE_BOOLEAN, result == LB_CLOCK_CODE_OK,
      "result", G_TYPE_STRING, lb_clock_code_result_nick (result),
      "pts", G_TYPE_UINT64, pts,
      "running-time", G_TYPE_UINT64, running_time, NULL);
  if (result == LB_CLOCK_CODE_OK)
    gst_structure_set (s, "stamp", G_TYPE_INT64, stamp, NULL);

  GST_LOG_OBJECT (self, "frame %" G_GUINT64_FORMAT ": %" GST_PTR_FORMAT,
      index, s);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));
  return GST_FLOW_OK;
}

static gboolean
lb_clock_check_start (GstBaseTransform * trans)
{
  LbClockCheck *self = LB_CLOCK_CHECK (trans);

  GST_OBJECT_LOCK (self);
  self->frames_read = 0;
  self->frames_unreadable = 0;
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

static void
lb_clock_check_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  LbClockCheck *self = LB_CLOCK_CHECK (object);

  switch (prop_id) {
    case PROP_FRAMES_READ:
      GST_OBJECT_LOCK (self);
      g_value_set_uint64 (value, self->frames_read);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_FRAMES_UNREADABLE:
      GST_OBJECT_LOCK (self);
      g_value_set_uint64 (value, self->frames_unreadable);
      GST_OBJECT_UNLOCK (self);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
lb_clock_check_class_init (LbClockCheckClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  GstVideoFilterClass *filter_class = GST_VIDEO_FILTER_CLASS (klass);

  gobject_class->get_property = lb_clock_check_get_property;

  g_object_class_install_property (gobject_class, PROP_FRAMES_READ,
      g_param_spec_uint64 ("frames-read", "Frames read",
          "Frames whose stamp was read since the element started",
          0, G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_FRAMES_UNREADABLE,
      g_param_spec_uint64 ("frames-unreadable", "Frames unreadable",
          "Frames without a readable stamp (none, or damaged) since the "
          "element started", 0, G_MAXUINT64, 0,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "Clock check", "Filter/Analyzer/Video",
      "Reads the time lbclockstamp drew into each frame and posts it",
      "the lookback authors");

  trans_class->start = GST_DEBUG_FUNCPTR (lb_clock_check_start);
  filter_class->transform_frame_ip =
      GST_DEBUG_FUNCPTR (lb_clock_check_transform_frame_ip);
}

static void
lb_clock_check_init (LbClockCheck * self)
{
  gst_base_transform_set_passthrough (GST_BASE_TRANSFORM (self), TRUE);
}
