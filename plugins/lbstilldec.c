/* lookback — lbstilldec: decodes to the one frame nearest a time */

/**
 * SECTION:element-lbstilldec
 * @title: lbstilldec
 * @see_also: lbframepick, lbrecordingsrc
 *
 * Decodes parsed H.264 or H.265 access units with libavcodec and passes
 * exactly one frame, the one whose stream time (its PTS in the segment's
 * time; behind lbrecordingsrc, wall-clock ns since the epoch) is nearest to
 * #LbStillDec:target-time, then sends EOS downstream and returns EOS
 * upstream: a still.  It does what a decoder followed by lbframepick does,
 * faster: the frames decoded only to reach the target are never copied out
 * of the decoder nor pushed, and the one passed is copied once.  When two
 * frames are equally near, the earlier one wins; when the stream ends
 * before a frame at or after the target is decoded, the last frame is the
 * nearest.  The segment does not clip: the frame keeps its PTS.
 *
 * With lbrecordingsrc upstream, give it `nearest-time` too: the source
 * stops reading as soon as no later frame can be nearer, and the decoder
 * drains at once.
 *
 * Output: progressive raw video in the decoder's planar format (I420 for
 * 8-bit 4:2:0; Y42B, Y444, GRAY8 and their 10-bit forms likewise), with the
 * stream's range, matrix, transfer and primaries and the caps' frame rate.
 * Threads: #LbStillDec:max-threads frame threads (0: one per processor).
 *
 * When it has chosen, the element posts an element message whose structure
 * is named `lbstilldec`, with the fields of lbframepick's:
 *
 * * `target-time` (#guint64): the target, in ns
 * * `frame-time` (#guint64): the stream time of the frame passed, in ns
 * * `distance` (#gint64): `frame-time` − `target-time`, in ns
 * * `frames` (#guint64): the frames decoded
 *
 * Errors: no frame decoded before the end of the stream (STREAM DECODE,
 * with how many packets the decoder refused), a pixel format it cannot
 * pass (STREAM FORMAT), a codec libavcodec cannot open (LIBRARY INIT).
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 -m videotestsrc num-buffers=60 ! video/x-raw,framerate=30/1 ! x264enc ! h264parse ! lbstilldec target-time=1020000000 ! videoconvert ! jpegenc ! filesink location=still.jpg
 * ]|
 * Writes frame 31 (PTS 1.0333 s) of 30 fps test video, the nearest to
 * 1.02 s, as a JPEG.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "lbstilldec.h"

#include <gst/video/video.h>
#include <libavcodec/avcodec.h>
#include <libavutil/pixdesc.h>
#include <gmodule.h>
#include <string.h>

GST_DEBUG_CATEGORY_STATIC (lb_still_dec_debug);
#define GST_CAT_DEFAULT lb_still_dec_debug

struct _LbStillDec
{
  GstElement parent;

  GstPad *sinkpad;
  GstPad *srcpad;

  /* protected by the object lock */
  GstClockTime target_time;
  guint max_threads;

  /* protected by the sink pad's stream lock */
  AVCodecContext *ctx;
  GstCaps *in_caps;             /* the caps ctx was opened for */
  gint fps_n, fps_d;
  AVPacket *packet;
  AVFrame *frame;               /* the decoder's latest */
  AVFrame *candidate;           /* nearest so far, before the target */
  GstEvent *segment;            /* pushed after the caps, with the frame */
  GstSegment in_segment;        /* frames' stream time */
  gboolean done;                /* the frame went out, and EOS after it */
  guint64 frames;
  guint64 refused;              /* packets the decoder refused */
};

enum
{
  PROP_0,
  PROP_TARGET_TIME,
  PROP_MAX_THREADS,
};

#define DEFAULT_TARGET_TIME 0
#define DEFAULT_MAX_THREADS 0
/* frame threads beyond this gain nothing for one GOP and cost a frame of
 * memory each */
#define MAX_THREADS_AUTO 4

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("video/x-h264, stream-format = (string) { avc, avc3, "
        "byte-stream }, alignment = (string) au; "
        "video/x-h265, stream-format = (string) { hvc1, hev1, byte-stream }, "
        "alignment = (string) au"));

#define OUT_FORMATS "{ I420, Y42B, Y444, GRAY8, I420_10LE, I422_10LE, " \
  "Y444_10LE }"

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (OUT_FORMATS)));

#define lb_still_dec_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE (LbStillDec, lb_still_dec, GST_TYPE_ELEMENT,
    GST_DEBUG_CATEGORY_INIT (lb_still_dec_debug, "lbstilldec", 0,
        "lookback still decoder element"));
GST_ELEMENT_REGISTER_DEFINE (lbstilldec, "lbstilldec", GST_RANK_NONE,
    LB_TYPE_STILL_DEC);

/* ---- libavcodec, opened at the first still ---- */

/* Linked, libavcodec and the codec libraries it pulls in (x264, x265,
 * vpx, aom, dav1d …) would cost every lookbackd ~12 MiB of RSS from its
 * start, stills or not: the element opens them when it first needs a
 * decoder, by the sonames of the headers it was built with, and keeps
 * them. */
typedef struct
{
  const AVCodec *(*find_decoder) (enum AVCodecID id);
  const char *(*get_name) (enum AVCodecID id);
  AVCodecContext *(*alloc_context3) (const AVCodec * codec);
  void (*free_context) (AVCodecContext ** ctx);
  int (*open2) (AVCodecContext * ctx, const AVCodec * codec,
      AVDictionary ** options);
  int (*send_packet) (AVCodecContext * ctx, const AVPacket * packet);
  int (*receive_frame) (AVCodecContext * ctx, AVFrame * frame);
  void (*flush_buffers) (AVCodecContext * ctx);
  AVPacket *(*packet_alloc) (void);
  void (*packet_free) (AVPacket ** packet);
  int (*new_packet) (AVPacket * packet, int size);
  void (*packet_unref) (AVPacket * packet);
  AVFrame *(*frame_alloc) (void);
  void (*frame_free) (AVFrame ** frame);
  void (*frame_unref) (AVFrame * frame);
  void (*frame_move_ref) (AVFrame * dst, AVFrame * src);
  void *(*mallocz) (size_t size);
  const char *(*get_pix_fmt_name) (enum AVPixelFormat format);
  int (*strerror) (int error, char *buf, size_t size);
} Libav;

typedef struct
{
  const gchar *name;
  gsize offset;
  gboolean util;                /* in libavutil, else libavcodec */
} LibavSymbol;

#define SYM(field, name, util) { name, G_STRUCT_OFFSET (Libav, field), util }
static const LibavSymbol libav_symbols[] = {
  SYM (find_decoder, "avcodec_find_decoder", FALSE),
  SYM (get_name, "avcodec_get_name", FALSE),
  SYM (alloc_context3, "avcodec_alloc_context3", FALSE),
  SYM (free_context, "avcodec_free_context", FALSE),
  SYM (open2, "avcodec_open2", FALSE),
  SYM (send_packet, "avcodec_send_packet", FALSE),
  SYM (receive_frame, "avcodec_receive_frame", FALSE),
  SYM (flush_buffers, "avcodec_flush_buffers", FALSE),
  SYM (packet_alloc, "av_packet_alloc", FALSE),
  SYM (packet_free, "av_packet_free", FALSE),
  SYM (new_packet, "av_new_packet", FALSE),
  SYM (packet_unref, "av_packet_unref", FALSE),
  SYM (frame_alloc, "av_frame_alloc", TRUE),
  SYM (frame_free, "av_frame_free", TRUE),
  SYM (frame_unref, "av_frame_unref", TRUE),
  SYM (frame_move_ref, "av_frame_move_ref", TRUE),
  SYM (mallocz, "av_mallocz", TRUE),
  SYM (get_pix_fmt_name, "av_get_pix_fmt_name", TRUE),
  SYM (strerror, "av_strerror", TRUE),
};

#undef SYM

static Libav libav;
static gchar *libav_error;      /* why it could not be opened, or NULL */

static gpointer
libav_open (gpointer unused)
{
  g_autofree gchar *codec_name = g_strdup_printf ("libavcodec.so.%d",
      LIBAVCODEC_VERSION_MAJOR);
  g_autofree gchar *util_name = g_strdup_printf ("libavutil.so.%d",
      LIBAVUTIL_VERSION_MAJOR);
  GModule *codec = g_module_open (codec_name, G_MODULE_BIND_LOCAL);
  GModule *util = g_module_open (util_name, G_MODULE_BIND_LOCAL);

  if (codec == NULL || util == NULL) {
    libav_error = g_strdup (g_module_error ());
    return NULL;
  }
  g_module_make_resident (codec);
  g_module_make_resident (util);
  for (guint i = 0; i < G_N_ELEMENTS (libav_symbols); i++) {
    const LibavSymbol *sym = &libav_symbols[i];
    gpointer *slot = G_STRUCT_MEMBER_P (&libav, sym->offset);
    if (!g_module_symbol (sym->util ? util : codec, sym->name, slot)) {
      libav_error = g_strdup_printf ("no %s in %s", sym->name,
          sym->util ? util_name : codec_name);
      return NULL;
    }
  }
  return &libav;
}

/* libavcodec, or NULL with *@why. */
static const Libav *
libav_get (const gchar ** why)
{
  static GOnce once = G_ONCE_INIT;
  const Libav *av = g_once (&once, libav_open, NULL);
  *why = libav_error;
  return av;
}

/* The text of libav error @code. */
static gchar *
libav_strerror (int code)
{
  gchar text[AV_ERROR_MAX_STRING_SIZE] = "";
  if (libav.strerror == NULL || libav.strerror (code, text, sizeof text) < 0)
    return g_strdup_printf ("error %d", code);
  return g_strdup (text);
}

/* ---- the decoder ---- */

static void
lb_still_dec_close (LbStillDec * self)
{
  gst_clear_event (&self->segment);
  gst_clear_caps (&self->in_caps);
  if (self->packet == NULL)
    return;                     /* libavcodec never opened */
  libav.free_context (&self->ctx);
  libav.packet_free (&self->packet);
  libav.frame_free (&self->frame);
  libav.frame_free (&self->candidate);
}

static void
lb_still_dec_reset (LbStillDec * self)
{
  if (self->ctx)
    libav.flush_buffers (self->ctx);
  if (self->candidate)
    libav.frame_unref (self->candidate);
  gst_clear_event (&self->segment);
  gst_segment_init (&self->in_segment, GST_FORMAT_TIME);
  self->done = FALSE;
  self->frames = 0;
  self->refused = 0;
}

static guint
lb_still_dec_threads (LbStillDec * self)
{
  GST_OBJECT_LOCK (self);
  guint n = self->max_threads;
  GST_OBJECT_UNLOCK (self);
  return n ? n : MIN (g_get_num_processors (), MAX_THREADS_AUTO);
}

/* Opens a decoder for @caps (a new one when they changed). */
static gboolean
lb_still_dec_open (LbStillDec * self, GstCaps * caps)
{
  if (self->ctx && self->in_caps && gst_caps_is_equal (caps, self->in_caps))
    return TRUE;

  const gchar *why = NULL;
  if (libav_get (&why) == NULL) {
    GST_ELEMENT_ERROR (self, LIBRARY, INIT, ("Cannot load libavcodec: %s.",
            why), (NULL));
    return FALSE;
  }
  GstStructure *s = gst_caps_get_structure (caps, 0);
  enum AVCodecID id = gst_structure_has_name (s, "video/x-h265") ?
      AV_CODEC_ID_HEVC : AV_CODEC_ID_H264;
  const AVCodec *codec = libav.find_decoder (id);
  if (codec == NULL) {
    GST_ELEMENT_ERROR (self, LIBRARY, INIT, ("libavcodec has no %s decoder.",
            libav.get_name (id)), (NULL));
    return FALSE;
  }

  libav.free_context (&self->ctx);
  self->ctx = libav.alloc_context3 (codec);
  const GValue *v = gst_structure_get_value (s, "codec_data");
  if (v && G_VALUE_HOLDS (v, GST_TYPE_BUFFER)) {
    GstMapInfo map;
    GstBuffer *data = gst_value_get_buffer (v);
    gst_buffer_map (data, &map, GST_MAP_READ);
    self->ctx->extradata =
        libav.mallocz (map.size + AV_INPUT_BUFFER_PADDING_SIZE);
    memcpy (self->ctx->extradata, map.data, map.size);
    self->ctx->extradata_size = (int) map.size;
    gst_buffer_unmap (data, &map);
  }
  self->fps_n = 0;
  self->fps_d = 1;
  gst_structure_get_fraction (s, "framerate", &self->fps_n, &self->fps_d);
  self->ctx->pkt_timebase = av_make_q (1, GST_SECOND);
  self->ctx->thread_count = (int) lb_still_dec_threads (self);
  self->ctx->thread_type = FF_THREAD_FRAME;

  int ret = libav.open2 (self->ctx, codec, NULL);
  if (ret < 0) {
    g_autofree gchar *text = libav_strerror (ret);
    GST_ELEMENT_ERROR (self, LIBRARY, INIT, ("libavcodec cannot open its "
            "%s decoder: %s.", codec->name, text),
        ("caps %" GST_PTR_FORMAT, caps));
    libav.free_context (&self->ctx);
    return FALSE;
  }
  gst_caps_replace (&self->in_caps, caps);
  if (self->packet == NULL) {
    self->packet = libav.packet_alloc ();
    self->frame = libav.frame_alloc ();
    self->candidate = libav.frame_alloc ();
  }
  GST_DEBUG_OBJECT (self, "%s decoder open, %d frame threads", codec->name,
      self->ctx->thread_count);
  return TRUE;
}

/* ---- the frame passed ---- */

static GstVideoFormat
video_format (int format)
{
  switch (format) {
    case AV_PIX_FMT_YUV420P:
    case AV_PIX_FMT_YUVJ420P:
      return GST_VIDEO_FORMAT_I420;
    case AV_PIX_FMT_YUV422P:
    case AV_PIX_FMT_YUVJ422P:
      return GST_VIDEO_FORMAT_Y42B;
    case AV_PIX_FMT_YUV444P:
    case AV_PIX_FMT_YUVJ444P:
      return GST_VIDEO_FORMAT_Y444;
    case AV_PIX_FMT_GRAY8:
      return GST_VIDEO_FORMAT_GRAY8;
    case AV_PIX_FMT_YUV420P10LE:
      return GST_VIDEO_FORMAT_I420_10LE;
    case AV_PIX_FMT_YUV422P10LE:
      return GST_VIDEO_FORMAT_I422_10LE;
    case AV_PIX_FMT_YUV444P10LE:
      return GST_VIDEO_FORMAT_Y444_10LE;
    default:
      return GST_VIDEO_FORMAT_UNKNOWN;
  }
}

/* The stream's colorimetry where it says it; the size's default else. */
static void
set_colorimetry (GstVideoInfo * info, const AVFrame * f)
{
  GstVideoColorimetry *c = &info->colorimetry;

  if (f->color_range == AVCOL_RANGE_JPEG || f->format == AV_PIX_FMT_YUVJ420P
      || f->format == AV_PIX_FMT_YUVJ422P || f->format == AV_PIX_FMT_YUVJ444P)
    c->range = GST_VIDEO_COLOR_RANGE_0_255;
  else if (f->color_range == AVCOL_RANGE_MPEG)
    c->range = GST_VIDEO_COLOR_RANGE_16_235;
  if (f->colorspace != AVCOL_SPC_UNSPECIFIED)
    c->matrix = gst_video_color_matrix_from_iso (f->colorspace);
  if (f->color_trc != AVCOL_TRC_UNSPECIFIED)
    c->transfer = gst_video_transfer_function_from_iso (f->color_trc);
  if (f->color_primaries != AVCOL_PRI_UNSPECIFIED)
    c->primaries = gst_video_color_primaries_from_iso (f->color_primaries);
}

/* @f as a buffer of raw video, the caps for it set on the source pad. */
static GstBuffer *
lb_still_dec_output (LbStillDec * self, const AVFrame * f)
{
  GstVideoFormat format = video_format (f->format);
  GstVideoInfo info;

  if (format == GST_VIDEO_FORMAT_UNKNOWN) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("The decoded frame's pixel "
            "format %s is not one lbstilldec passes.",
            libav.get_pix_fmt_name (f->format)), (NULL));
    return NULL;
  }
  gst_video_info_set_format (&info, format, f->width, f->height);
  set_colorimetry (&info, f);
  GST_VIDEO_INFO_FPS_N (&info) = self->fps_n;
  GST_VIDEO_INFO_FPS_D (&info) = self->fps_d;
  if (f->sample_aspect_ratio.num > 0 && f->sample_aspect_ratio.den > 0) {
    GST_VIDEO_INFO_PAR_N (&info) = f->sample_aspect_ratio.num;
    GST_VIDEO_INFO_PAR_D (&info) = f->sample_aspect_ratio.den;
  }
  g_autoptr (GstCaps) caps = gst_video_info_to_caps (&info);
  if (!gst_pad_set_caps (self->srcpad, caps)) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, ("Downstream does not take "
            "the decoded frame."), ("caps %" GST_PTR_FORMAT, caps));
    return NULL;
  }

  if (self->segment)
    gst_pad_push_event (self->srcpad, g_steal_pointer (&self->segment));

  GstBuffer *buffer = gst_buffer_new_allocate (NULL, info.size, NULL);
  GstVideoFrame out;
  gst_video_frame_map (&out, &info, buffer, GST_MAP_WRITE);
  for (guint p = 0; p < GST_VIDEO_FRAME_N_PLANES (&out); p++) {
    guint8 *dst = GST_VIDEO_FRAME_PLANE_DATA (&out, p);
    gint stride = GST_VIDEO_FRAME_PLANE_STRIDE (&out, p);
    gsize row = (gsize) GST_VIDEO_FRAME_COMP_WIDTH (&out, p) *
        GST_VIDEO_FRAME_COMP_PSTRIDE (&out, p);
    for (gint y = 0; y < GST_VIDEO_FRAME_COMP_HEIGHT (&out, p); y++)
      memcpy (dst + (gsize) y * stride, f->data[p] + (gsize) y *
          f->linesize[p], row);
  }
  gst_video_frame_unmap (&out);
  GST_BUFFER_PTS (buffer) = (GstClockTime) f->pts;
  if (self->fps_n > 0)
    GST_BUFFER_DURATION (buffer) = gst_util_uint64_scale (GST_SECOND,
        self->fps_d, self->fps_n);
  return buffer;
}

static GstClockTime
lb_still_dec_get_target (LbStillDec * self)
{
  GST_OBJECT_LOCK (self);
  GstClockTime target = self->target_time;
  GST_OBJECT_UNLOCK (self);
  return target;
}

/* @pts in the segment's stream time (negative before its start). */
static gint64
stream_time (LbStillDec * self, gint64 pts)
{
  guint64 t = 0;
  gint sign = gst_segment_to_stream_time_full (&self->in_segment,
      GST_FORMAT_TIME, (guint64) pts, &t);
  if (sign == 0)
    return pts;
  return sign > 0 ? (gint64) t : -(gint64) t;
}

static guint64
distance (gint64 a, GstClockTime b)
{
  return a > (gint64) b ? (guint64) a - b : b - (guint64) a;
}

/* Sends @f, the frame chosen, then EOS. */
static GstFlowReturn
lb_still_dec_finish (LbStillDec * self, const AVFrame * f)
{
  GstClockTime target = lb_still_dec_get_target (self);
  gint64 t = stream_time (self, f->pts);

  self->done = TRUE;
  GST_INFO_OBJECT (self, "chose %" GST_STIME_FORMAT " for target %"
      GST_TIME_FORMAT " among %" G_GUINT64_FORMAT " frames",
      GST_STIME_ARGS (t), GST_TIME_ARGS (target), self->frames);
  GstBuffer *buffer = lb_still_dec_output (self, f);
  if (buffer == NULL)
    return GST_FLOW_ERROR;
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self),
          gst_structure_new ("lbstilldec",
              "target-time", G_TYPE_UINT64, target,
              "frame-time", G_TYPE_UINT64, (guint64) MAX (t, 0),
              "distance", G_TYPE_INT64, t - (gint64) target,
              "frames", G_TYPE_UINT64, self->frames, NULL)));
  libav.frame_unref (self->candidate);
  GstFlowReturn ret = gst_pad_push (self->srcpad, buffer);
  gst_pad_push_event (self->srcpad, gst_event_new_eos ());
  return ret == GST_FLOW_OK ? GST_FLOW_EOS : ret;
}

/* A frame out of the decoder (presentation order): kept, dropped, or the
 * end (GST_FLOW_EOS once the chosen one is out). */
static GstFlowReturn
lb_still_dec_take (LbStillDec * self, AVFrame * f)
{
  GstClockTime target = lb_still_dec_get_target (self);

  if (f->pts == AV_NOPTS_VALUE) {
    /* (its packet had none: no time to be near to) */
    GST_DEBUG_OBJECT (self, "a frame without a PTS: ignored");
    return GST_FLOW_OK;
  }
  self->frames++;
  gint64 t = stream_time (self, f->pts);
  if (t < (gint64) target) {
    /* the nearest before the target is the latest, in order */
    libav.frame_unref (self->candidate);
    libav.frame_move_ref (self->candidate, f);
    return GST_FLOW_OK;
  }
  /* at or past the target: later frames can only be farther */
  if (self->candidate->buf[0] != NULL &&
      distance (stream_time (self, self->candidate->pts), target) <=
      distance (t, target))
    return lb_still_dec_finish (self, self->candidate);
  return lb_still_dec_finish (self, f);
}

/* Every frame the decoder has ready. */
static GstFlowReturn
lb_still_dec_receive (LbStillDec * self)
{
  GstFlowReturn ret = GST_FLOW_OK;

  while (ret == GST_FLOW_OK) {
    int r = libav.receive_frame (self->ctx, self->frame);
    if (r == AVERROR (EAGAIN) || r == AVERROR_EOF)
      break;
    if (r < 0) {
      g_autofree gchar *text = libav_strerror (r);
      GST_WARNING_OBJECT (self, "decoding failed: %s", text);
      break;
    }
    ret = lb_still_dec_take (self, self->frame);
    libav.frame_unref (self->frame);
  }
  return ret;
}

static GstFlowReturn
lb_still_dec_chain (GstPad * pad, GstObject * parent, GstBuffer * buffer)
{
  LbStillDec *self = LB_STILL_DEC (parent);
  GstFlowReturn ret = GST_FLOW_OK;
  GstMapInfo map;

  if (self->done || self->ctx == NULL) {
    gst_buffer_unref (buffer);
    return self->done ? GST_FLOW_EOS : GST_FLOW_NOT_NEGOTIATED;
  }
  /* libavcodec reads past the end of a packet: a padded copy */
  gst_buffer_map (buffer, &map, GST_MAP_READ);
  if (libav.new_packet (self->packet, (int) map.size) < 0) {
    gst_buffer_unmap (buffer, &map);
    gst_buffer_unref (buffer);
    GST_ELEMENT_ERROR (self, RESOURCE, FAILED, ("Out of memory."), (NULL));
    return GST_FLOW_ERROR;
  }
  memcpy (self->packet->data, map.data, map.size);
  gst_buffer_unmap (buffer, &map);
  self->packet->pts = GST_BUFFER_PTS_IS_VALID (buffer) ?
      (gint64) GST_BUFFER_PTS (buffer) : AV_NOPTS_VALUE;
  self->packet->dts = GST_BUFFER_DTS_IS_VALID (buffer) ?
      (gint64) GST_BUFFER_DTS (buffer) : AV_NOPTS_VALUE;
  if (!GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_DELTA_UNIT))
    self->packet->flags |= AV_PKT_FLAG_KEY;
  gst_buffer_unref (buffer);

  while (ret == GST_FLOW_OK) {
    int r = libav.send_packet (self->ctx, self->packet);
    if (r == AVERROR (EAGAIN)) {
      ret = lb_still_dec_receive (self);
      continue;
    }
    if (r < 0) {
      g_autofree gchar *text = libav_strerror (r);
      self->refused++;
      GST_WARNING_OBJECT (self, "the decoder refused a packet: %s", text);
    }
    break;
  }
  libav.packet_unref (self->packet);
  return ret == GST_FLOW_OK ? lb_still_dec_receive (self) : ret;
}

/* The stream ended: the decoder's last frames, then the nearest. */
static gboolean
lb_still_dec_drain (LbStillDec * self)
{
  if (self->ctx && libav.send_packet (self->ctx, NULL) == 0)
    lb_still_dec_receive (self);
  if (self->done)
    return TRUE;
  if (self->candidate == NULL || self->candidate->buf[0] == NULL) {
    GST_ELEMENT_ERROR (self, STREAM, DECODE, ("No frame decoded: the stream "
            "ended before the decoder gave one with a timestamp."),
        ("target-time %"
            GST_TIME_FORMAT ", %" G_GUINT64_FORMAT " packets refused",
            GST_TIME_ARGS (lb_still_dec_get_target (self)), self->refused));
    return FALSE;
  }
  /* the stream ended before the target: its last frame is nearest */
  return lb_still_dec_finish (self, self->candidate) != GST_FLOW_ERROR;
}

static gboolean
lb_still_dec_sink_event (GstPad * pad, GstObject * parent, GstEvent * event)
{
  LbStillDec *self = LB_STILL_DEC (parent);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS:{
      GstCaps *caps;
      gst_event_parse_caps (event, &caps);
      gboolean ok = lb_still_dec_open (self, caps);
      gst_event_unref (event);  /* the source pad's caps are the frame's */
      return ok;
    }
    case GST_EVENT_SEGMENT:
      gst_event_copy_segment (event, &self->in_segment);
      if (self->in_segment.format != GST_FORMAT_TIME) {
        GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("lbstilldec needs a time "
                "segment."), ("%" GST_SEGMENT_FORMAT, &self->in_segment));
        gst_event_unref (event);
        return FALSE;
      }
      /* sticky events go out in order: the segment after the caps */
      gst_event_replace (&self->segment, event);
      gst_event_unref (event);
      return TRUE;
    case GST_EVENT_TAG:
    case GST_EVENT_GAP:
      /* the coded stream's tags and gaps say nothing of the frame */
      gst_event_unref (event);
      return TRUE;
    case GST_EVENT_FLUSH_STOP:
      lb_still_dec_reset (self);
      break;
    case GST_EVENT_EOS:{
      gboolean ok = self->done || lb_still_dec_drain (self);
      /* ours went out with the frame */
      gst_event_unref (event);
      return ok;
    }
    default:
      break;
  }
  return gst_pad_event_default (pad, parent, event);
}

static GstStateChangeReturn
lb_still_dec_change_state (GstElement * element, GstStateChange transition)
{
  LbStillDec *self = LB_STILL_DEC (element);

  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED) {
    GST_PAD_STREAM_LOCK (self->sinkpad);
    lb_still_dec_reset (self);
    GST_PAD_STREAM_UNLOCK (self->sinkpad);
  }
  GstStateChangeReturn ret =
      GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY) {
    GST_PAD_STREAM_LOCK (self->sinkpad);
    lb_still_dec_close (self);
    self->done = FALSE;
    GST_PAD_STREAM_UNLOCK (self->sinkpad);
  }
  return ret;
}

static void
lb_still_dec_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  LbStillDec *self = LB_STILL_DEC (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_TARGET_TIME:
      self->target_time = g_value_get_uint64 (value);
      break;
    case PROP_MAX_THREADS:
      self->max_threads = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
lb_still_dec_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  LbStillDec *self = LB_STILL_DEC (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_TARGET_TIME:
      g_value_set_uint64 (value, self->target_time);
      break;
    case PROP_MAX_THREADS:
      g_value_set_uint (value, self->max_threads);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
lb_still_dec_finalize (GObject * object)
{
  lb_still_dec_close (LB_STILL_DEC (object));
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
lb_still_dec_class_init (LbStillDecClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  gobject_class->set_property = lb_still_dec_set_property;
  gobject_class->get_property = lb_still_dec_get_property;
  gobject_class->finalize = lb_still_dec_finalize;

  /**
   * LbStillDec:target-time:
   *
   * The time, in ns of stream time (behind lbrecordingsrc, the PTS:
   * wall-clock ns since the epoch), that the frame passed is nearest to.
   */
  g_object_class_install_property (gobject_class, PROP_TARGET_TIME,
      g_param_spec_uint64 ("target-time", "Target time",
          "Pass the frame whose stream time is nearest to this time, in ns "
          "(behind lbrecordingsrc: wall-clock ns since the Unix epoch)",
          0, G_MAXUINT64, DEFAULT_TARGET_TIME,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  /**
   * LbStillDec:max-threads:
   *
   * Frame threads of the decoder; 0: one per processor, at most 4.
   */
  g_object_class_install_property (gobject_class, PROP_MAX_THREADS,
      g_param_spec_uint ("max-threads", "Maximum threads",
          "Frame threads of the decoder (0: one per processor, at most 4)",
          0, 64, DEFAULT_MAX_THREADS,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "Still decoder", "Codec/Decoder/Video",
      "Decodes H.264 or H.265 to the one frame nearest a target time, then "
      "EOS", "the lookback authors");

  element_class->change_state = GST_DEBUG_FUNCPTR (lb_still_dec_change_state);
}

static void
lb_still_dec_init (LbStillDec * self)
{
  self->target_time = DEFAULT_TARGET_TIME;
  self->max_threads = DEFAULT_MAX_THREADS;
  gst_segment_init (&self->in_segment, GST_FORMAT_TIME);

  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (self->sinkpad,
      GST_DEBUG_FUNCPTR (lb_still_dec_chain));
  gst_pad_set_event_function (self->sinkpad,
      GST_DEBUG_FUNCPTR (lb_still_dec_sink_event));
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);

  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_use_fixed_caps (self->srcpad);
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);
}
