/* lookback — `lookback import`: remux existing H.264 and H.265 recordings into segments */
#include "recorder/lb-import.h"

#include "core/lb-codec.h"
#include "core/lb-debug.h"
#include "core/lb-error.h"
#include "core/lb-log.h"
#include "core/lb-time.h"
#include "recorder/lb-indexer.h"
#include "recorder/lb-recorder.h"
#include "recorder/lb-segment-writer.h"
#include "store/lb-store-footage.h"

#include <errno.h>
#include <gio/gio.h>
#include <gst/base/gsttypefindhelper.h>
#include <glib/gstdio.h>
#include <string.h>

GST_DEBUG_CATEGORY_STATIC (lb_import_debug);
#define GST_CAT_DEFAULT lb_import_debug

/* How long one file may take to remux (it runs as fast as the disk). */
#define IMPORT_TIMEOUT (10 * 60 * GST_SECOND)
/* How far one stream may run ahead of the other in an imported file (a
 * GOP, and then some): a file interleaved more coarsely stalls and is
 * refused. */
#define STREAM_AHEAD (30 * GST_SECOND)

/* A remux that makes no progress for this long has failed. */
#define IMPORT_STALL_US (10 * G_USEC_PER_SEC)
/* Bytes read to recognise a file. */
#define TYPEFIND_BYTES (256 * 1024)

/* One file's import (main thread unless said otherwise). */
typedef struct
{
  const LbImportOptions *opt;
  const gchar *path;
  const LbCodec *elementary;    /* the codec of an elementary stream, or NULL */
  gboolean pts_only;            /* the container stores no decode times */
  GstElement *pipeline;
  LbSegmentWriter *writer;
  GstPad *sink_pad;             /* the writer's splitmuxsink's video pad */
  GPtrArray *written;           /* every file the writer named: removed on failure */
  GPtrArray *closed;            /* the closed segment files, in order */
  GArray *starts;               /* their first-frame wall clocks */
  gchar *failure;               /* why the file is not imported */

  GMutex lock;
  gchar *refusal;               /* protected by lock: why the file is refused */
  gboolean linked;              /* protected by lock */
  gboolean audio_linked;        /* protected by lock */
  /* streaming thread only */
  gboolean have_first;
  gint64 first_rt;
  gint64 end_rt;
  guint64 frames;
  gint progress;                /* atomic: buffers seen, for the stall check */
  gint exposed;                 /* atomic: parsebin exposed a stream */
  guint64 elementary_n;         /* frames timestamped so far (elementary) */
  GArray *display;              /* elementary: display index of each frame */
  guint64 reorder;              /* elementary: frames of reordering */
} Import;

static void
refuse (Import * imp, const gchar * why)
{
  g_mutex_lock (&imp->lock);
  if (imp->refusal == NULL)
    imp->refusal = g_strdup (why);
  g_mutex_unlock (&imp->lock);
  gst_element_post_message (imp->pipeline,
      gst_message_new_application (GST_OBJECT (imp->pipeline),
          gst_structure_new_empty ("lb-import-refused")));
}

/* Streaming thread, elementary streams: the frames come in decode order
 * without timestamps.  Frame n is decoded n-th (DTS n) and shown
 * display[n]-th (PTS), both at --framerate; PTS are moved by the reorder
 * depth so that no DTS is after its PTS. */
static GstPadProbeReturn
on_elementary_buffer (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  Import *imp = data;
  GstBuffer *buf = gst_buffer_make_writable (GST_PAD_PROBE_INFO_BUFFER (info));
  guint64 n = imp->elementary_n++;
  guint64 shown =
      n < imp->display->len ? g_array_index (imp->display, guint64, n) : n;

  GST_BUFFER_DTS (buf) = gst_util_uint64_scale (n, GST_SECOND * imp->opt->fps_d,
      imp->opt->fps_n);
  GST_BUFFER_PTS (buf) = gst_util_uint64_scale (shown + imp->reorder,
      GST_SECOND * imp->opt->fps_d, imp->opt->fps_n);
  GST_BUFFER_DURATION (buf) =
      gst_util_uint64_scale (GST_SECOND, imp->opt->fps_d, imp->opt->fps_n);
  GST_PAD_PROBE_INFO_DATA (info) = buf;
  return GST_PAD_PROBE_OK;
}

static GstCaps *
frame_number_caps (void)
{
  static GstCaps *caps;
  static gsize once;
  if (g_once_init_enter (&once)) {
    caps = gst_caps_new_empty_simple ("timestamp/x-lookback-decode-order");
    GST_MINI_OBJECT_FLAG_SET (caps, GST_MINI_OBJECT_FLAG_MAY_BE_LEAKED);
    g_once_init_leave (&once, 1);
  }
  return caps;
}

/* Numbers each frame in decode order with a meta the decoder carries over. */
static GstPadProbeReturn
on_number_frames (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  guint64 *n = data;
  GstBuffer *buf = gst_buffer_make_writable (GST_PAD_PROBE_INFO_BUFFER (info));

  GST_BUFFER_PTS (buf) = *n * GST_MSECOND;
  GST_BUFFER_DTS (buf) = GST_CLOCK_TIME_NONE;
  GST_BUFFER_DURATION (buf) = GST_MSECOND;
  gst_buffer_add_reference_timestamp_meta (buf, frame_number_caps (), *n, 0);
  (*n)++;
  GST_PAD_PROBE_INFO_DATA (info) = buf;
  return GST_PAD_PROBE_OK;
}

static void
on_decoded (GstElement * sink, GstBuffer * buf, GstPad * pad, gpointer data)
{
  GArray *order = data;
  GstReferenceTimestampMeta *meta =
      gst_buffer_get_reference_timestamp_meta (buf,
      frame_number_caps ());
  guint64 n = meta ? meta->timestamp : G_MAXUINT64;

  g_array_append_val (order, n);
}

/* An elementary stream carries no order of display: decode it once,
 * numbering the frames in decode order, and see in which order the decoder
 * shows them.  Returns display[n] for each frame n, or NULL. */
static GArray *
elementary_display_order (const gchar * path, const LbCodec * codec,
    GError ** error)
{
  g_autoptr (GError) err = NULL;
  g_autofree gchar *desc = g_strdup_printf ("filesrc name=src ! %s name=parse "
      "! %s ! fakesink name=sink signal-handoffs=true sync=false",
      codec->parser, codec->decoder);
  g_autoptr (GstElement) p = gst_parse_launch (desc, &err);
  if (p == NULL) {
    g_set_error (error, LB_ERROR, LB_ERROR_FAILED, "cannot decode %s: %s",
        codec->label, err->message);
    return NULL;
  }
  g_autoptr (GstElement) src = gst_bin_get_by_name (GST_BIN (p), "src");
  g_autoptr (GstElement) parse = gst_bin_get_by_name (GST_BIN (p), "parse");
  g_autoptr (GstElement) sink = gst_bin_get_by_name (GST_BIN (p), "sink");
  g_autoptr (GstPad) parsed = gst_element_get_static_pad (parse, "src");
  g_autoptr (GArray) shown = g_array_new (FALSE, FALSE, sizeof (guint64));
  guint64 frames = 0;

  g_object_set (src, "location", path, NULL);
  gst_pad_add_probe (parsed, GST_PAD_PROBE_TYPE_BUFFER, on_number_frames,
      &frames, NULL);
  g_signal_connect (sink, "handoff", G_CALLBACK (on_decoded), shown);
  gst_element_set_state (p, GST_STATE_PLAYING);
  g_autoptr (GstBus) bus = gst_element_get_bus (p);
  g_autoptr (GstMessage) msg = gst_bus_timed_pop_filtered (bus, IMPORT_TIMEOUT,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  gst_element_set_state (p, GST_STATE_NULL);
  if (msg == NULL || GST_MESSAGE_TYPE (msg) != GST_MESSAGE_EOS || frames == 0 ||
      shown->len != frames) {
    g_set_error (error, LB_ERROR, LB_ERROR_INVALID,
        "the %s stream does not decode whole (%u of %" G_GUINT64_FORMAT
        " frames)", codec->label, shown->len, frames);
    return NULL;
  }
  /* shown[k] = decode index of the k-th frame shown → display[n] = k */
  GArray *display = g_array_new (FALSE, TRUE, sizeof (guint64));
  g_array_set_size (display, frames);
  for (guint64 n = 0; n < frames; n++)
    g_array_index (display, guint64, n) = G_MAXUINT64;
  for (guint k = 0; k < shown->len; k++) {
    guint64 n = g_array_index (shown, guint64, k);
    if (n < frames)
      g_array_index (display, guint64, n) = k;
  }
  for (guint64 n = 0; n < frames; n++) {
    if (g_array_index (display, guint64, n) == G_MAXUINT64) {
      g_array_unref (display);
      g_set_error (error, LB_ERROR, LB_ERROR_INVALID,
          "the order of display of its frames " "cannot be worked out");
      return NULL;
    }
  }
  return display;
}

/* Streaming thread: the wall-clock origin from the first buffer, and the
 * extent of what reached the segment sink. */
static GstPadProbeReturn
on_buffer (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  Import *imp = data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);

  GstClockTime ts =
      GST_BUFFER_PTS_IS_VALID (buf) ? GST_BUFFER_PTS (buf) :
      GST_BUFFER_DTS (buf);
  if (!GST_CLOCK_TIME_IS_VALID (ts))
    return GST_PAD_PROBE_OK;
  g_autoptr (GstEvent) ev =
      gst_pad_get_sticky_event (pad, GST_EVENT_SEGMENT, 0);
  const GstSegment *seg = NULL;
  guint64 rt = ts;
  if (ev) {
    gst_event_parse_segment (ev, &seg);
    if (gst_segment_to_running_time_full (seg, GST_FORMAT_TIME, ts, &rt) < 0)
      rt = 0;
  }
  GST_LOG ("buffer %" GST_PTR_FORMAT, buf);
  /* Outside the segment (past an edit list's end): the muxer clips it. */
  if (seg && GST_CLOCK_TIME_IS_VALID (seg->stop) && ts >= seg->stop)
    return GST_PAD_PROBE_OK;
  if (!imp->have_first) {
    imp->have_first = TRUE;
    imp->first_rt = (gint64) rt;
    lb_segment_writer_set_origin (imp->writer,
        imp->opt->start_ns - (gint64) rt);
  }
  gint64 end = (gint64) rt + (GST_BUFFER_DURATION_IS_VALID (buf) ?
      (gint64) GST_BUFFER_DURATION (buf) : 0);
  imp->end_rt = MAX (imp->end_rt, end);
  imp->frames++;
  g_atomic_int_inc (&imp->progress);
  return GST_PAD_PROBE_OK;
}

/* A dropped stream ended while no video was found: the file has none. */
static GstPadProbeReturn
on_dropped_event (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  Import *imp = data;

  if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) == GST_EVENT_EOS) {
    g_mutex_lock (&imp->lock);
    gboolean linked = imp->linked;
    g_mutex_unlock (&imp->lock);
    if (!linked)
      refuse (imp, "it holds no video stream");
  }
  return GST_PAD_PROBE_OK;
}

static void
link_fakesink (Import * imp, GstPad * pad)
{
  g_autoptr (GstPad) sinkpad = lb_recorder_drop_stream (imp->pipeline, pad);
  gst_pad_add_probe (sinkpad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
      on_dropped_event, imp, NULL);
}

/* An element of @factory added to the pipeline, or NULL when it is not
 * installed. */
static GstElement *
add_element (Import * imp, const gchar * factory)
{
  GstElement *e = gst_element_factory_make (factory, NULL);
  if (e)
    gst_bin_add (GST_BIN (imp->pipeline), e);
  return e;
}

/* A queue that lets the demuxer go on to the other stream while the
 * segment sink waits for this one (it holds each stream until the video's
 * GOP is complete, and the demuxer feeds all streams from one thread):
 * bounded to STREAM_AHEAD of media. */
static GstElement *
add_queue (Import * imp)
{
  GstElement *queue = add_element (imp, "queue");
  if (queue)
    g_object_set (queue, "max-size-buffers", 0, "max-size-bytes", 0,
        "max-size-time", (guint64) STREAM_AHEAD, NULL);
  return queue;
}

/* @pad (a stream of @codec) → its parser [→ its timestamper, when the
 * container stores no decode times (Matroska): mp4mux needs them] → the
 * segment sink.  (Not otherwise: the timestamper guesses decode times from
 * the frame rate, which breaks footage whose frames are irregular.) */
static gboolean
link_parser (Import * imp, GstPad * pad, const LbCodec * codec)
{
  GstElement *parse = add_element (imp, codec->parser);
  GstElement *stamp = imp->pts_only ? add_element (imp, codec->timestamper)
      : NULL;
  GstElement *queue = add_queue (imp);
  if (parse == NULL || queue == NULL || (imp->pts_only && stamp == NULL))
    return FALSE;
  g_autoptr (GstPad) in = gst_element_get_static_pad (parse, "sink");
  g_autoptr (GstPad) out = gst_element_get_static_pad (queue, "src");
  if ((stamp && !gst_element_link_many (parse, stamp, queue, NULL))
      || (!stamp && !gst_element_link (parse, queue))
      || gst_pad_link (pad, in) != GST_PAD_LINK_OK
      || gst_pad_link (out, imp->sink_pad) != GST_PAD_LINK_OK)
    return FALSE;
  gst_element_sync_state_with_parent (queue);
  if (stamp)
    gst_element_sync_state_with_parent (stamp);
  gst_element_sync_state_with_parent (parse);
  return TRUE;
}

/* The elements of an audio stream of @caps that is not AAC or Opus, from
 * its decoder (*@head; none for raw audio) to its AAC (*@tail): decoded,
 * then encoded as the recorder does (record-audio-encode.pipeline).
 * FALSE when that cannot be set up. */
static gboolean
add_audio_encoder (Import * imp, GstCaps * caps, GstElement ** head,
    GstElement ** tail)
{
  g_autoptr (GError) error = NULL;
  const gchar *media = gst_structure_get_name (gst_caps_get_structure (caps,
          0));
  g_autofree gchar *tpl =
      lb_recorder_read_template ("record-audio-encode.pipeline", &error);
  GstElement *dec = g_str_equal (media, "audio/x-raw") ? NULL :
      lb_recorder_make_decoder (caps);
  GstElement *bin = tpl ? gst_parse_bin_from_description (tpl, TRUE,
      &error) : NULL;
  if (bin == NULL || (dec == NULL && !g_str_equal (media, "audio/x-raw"))) {
    lb_log (LB_LOG_WARNING, LB_LOG_CTX (.vehicle = imp->opt->vehicle,.input =
            imp->opt->input), "importing %s without its audio (%s): %s",
        imp->path, media, error ? error->message : "no decoder for it");
    if (dec)
      gst_object_unref (gst_object_ref_sink (dec));
    if (bin)
      gst_object_unref (gst_object_ref_sink (bin));
    return FALSE;
  }
  gst_bin_add (GST_BIN (imp->pipeline), bin);
  if (dec) {
    gst_bin_add (GST_BIN (imp->pipeline), dec);
    if (!gst_element_link (dec, bin))
      return FALSE;
    gst_element_sync_state_with_parent (bin);
  }
  *head = dec ? dec : bin;
  *tail = bin;
  return TRUE;
}

/* With options->audio: the first audio stream → the segment sink's audio
 * pad: AAC and Opus as they are (their parser), G.711, raw and any other
 * audio that decodes encoded to AAC, as the recorder does; the others are
 * dropped. */
static gboolean
take_audio (Import * imp, GstPad * pad, GstCaps * caps)
{
  const GstStructure *s = gst_caps_get_structure (caps, 0);
  const gchar *media = gst_structure_get_name (s);
  gint version = 0;
  gst_structure_get_int (s, "mpegversion", &version);
  const LbAudioCodec *codec = lb_audio_codec_from_media (media, version);
  if (!imp->opt->audio || !g_str_has_prefix (media, "audio/"))
    return FALSE;
  g_mutex_lock (&imp->lock);
  gboolean take = !imp->audio_linked;
  imp->audio_linked = TRUE;
  g_mutex_unlock (&imp->lock);
  if (!take)
    return FALSE;
  GstElement *head = NULL, *tail = NULL;
  if (codec)
    head = tail = add_element (imp, codec->parser);
  else if (!add_audio_encoder (imp, caps, &head, &tail))
    return FALSE;
  GstElement *queue = add_queue (imp);
  g_autoptr (GstPad) sink = gst_element_request_pad_simple
      (lb_segment_writer_get_sink (imp->writer), "audio_%u");
  if (head == NULL || queue == NULL || sink == NULL)
    return FALSE;
  g_autoptr (GstPad) in = gst_element_get_static_pad (head, "sink");
  g_autoptr (GstPad) out = gst_element_get_static_pad (queue, "src");
  if (!gst_element_link (tail, queue) || gst_pad_link (pad, in) !=
      GST_PAD_LINK_OK || gst_pad_link (out, sink) != GST_PAD_LINK_OK)
    return FALSE;
  gst_element_sync_state_with_parent (queue);
  gst_element_sync_state_with_parent (head);
  GST_INFO ("%s: importing its %s audio%s", imp->path, codec ? codec->label :
      media, codec ? "" : ", encoded to AAC");
  return TRUE;
}

static const gchar *
codec_name (const gchar * media)
{
  static const struct
  {
    const gchar *caps, *name;
  } names[] = {
    {"video/x-vp8", "VP8"}, {"video/x-vp9", "VP9"},
    {"video/x-av1", "AV1"}, {"video/mpeg", "MPEG video"}, {"image/jpeg",
        "Motion JPEG"},
    {"video/x-raw", "uncompressed video"}, {"video/x-divx", "DivX"},
  };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (g_str_equal (names[i].caps, media))
      return names[i].name;
  return media;
}

static void
on_pad_added (GstElement * parsebin, GstPad * pad, gpointer data)
{
  Import *imp = data;
  g_atomic_int_set (&imp->exposed, 1);
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);
  if (caps == NULL)
    caps = gst_pad_query_caps (pad, NULL);
  const gchar *media =
      gst_structure_get_name (gst_caps_get_structure (caps, 0));
  gboolean video = g_str_has_prefix (media, "video/")
      || g_str_has_prefix (media, "image/");

  const LbCodec *codec = lb_codec_from_media (media);
  g_mutex_lock (&imp->lock);
  gboolean take = video && !imp->linked && codec != NULL;
  gboolean first_video = video && !imp->linked;
  if (take)
    imp->linked = TRUE;
  g_mutex_unlock (&imp->lock);

  if (take) {
    if (!link_parser (imp, pad, codec)) {
      g_autofree gchar *why = g_strdup_printf ("cannot set up the remux (%s "
          "or %s missing?)", codec->parser, codec->timestamper);
      refuse (imp, why);
    }
    return;
  }
  if (!video && take_audio (imp, pad, caps))
    return;
  link_fakesink (imp, pad);
  if (first_video) {
    g_autofree gchar *why =
        g_strdup_printf ("its video is %s; lookback imports H.264 and H.265 "
        "only (remuxed, never transcoded)", codec_name (media));
    refuse (imp, why);
  }
}

static void
on_no_more_pads (GstElement * parsebin, gpointer data)
{
  Import *imp = data;

  g_mutex_lock (&imp->lock);
  gboolean linked = imp->linked;
  g_mutex_unlock (&imp->lock);
  if (!linked)
    refuse (imp, "it holds no video stream");
}

static void
remove_files (GPtrArray * paths)
{
  for (guint i = 0; i < paths->len; i++) {
    if (g_unlink (paths->pdata[i]) == 0)
      GST_INFO ("removed %s", (const gchar *) paths->pdata[i]);
  }
}

static void
add_path (GPtrArray * paths, const gchar * path)
{
  for (guint i = 0; i < paths->len; i++)
    if (g_str_equal (paths->pdata[i], path))
      return;
  g_ptr_array_add (paths, g_strdup (path));
}

/* Recognises @path from its first bytes: the caps of its content or NULL. */
static GstCaps *
typefind_file (const gchar * path, GError ** error)
{
  g_autoptr (GFile) file = g_file_new_for_path (path);
  g_autoptr (GFileInputStream) in = g_file_read (file, NULL, error);
  if (in == NULL)
    return NULL;
  g_autofree guint8 *data = g_malloc (TYPEFIND_BYTES);
  gsize got = 0;
  if (!g_input_stream_read_all (G_INPUT_STREAM (in), data, TYPEFIND_BYTES, &got,
          NULL, error))
    return NULL;
  if (got == 0) {
    g_set_error (error, LB_ERROR, LB_ERROR_INVALID, "the file is empty");
    return NULL;
  }
  const gchar *dot = strrchr (path, '.');
  GstCaps *caps = gst_type_find_helper_for_data_with_extension (NULL, data, got,
      dot ? dot + 1 : NULL, NULL);
  if (caps == NULL)
    g_set_error (error, LB_ERROR, LB_ERROR_INVALID,
        "not a media file GStreamer recognises");
  return caps;
}

/* What kind of file @path is; FALSE with the reason for one lookback does
 * not import.  *@elementary: the codec of an H.264 or H.265 elementary
 * stream (Annex B), NULL for a container; *@pts_only for a container
 * without decode times. */
static gboolean
check_file (const gchar * path, const LbImportOptions * opt,
    const LbCodec ** elementary, gboolean * pts_only, GError ** error)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (GstCaps) type = typefind_file (path, &err);
  if (type == NULL) {
    g_set_error (error, LB_ERROR, LB_ERROR_INVALID, "%s: %s", path,
        err->message);
    return FALSE;
  }
  const gchar *media =
      gst_structure_get_name (gst_caps_get_structure (type, 0));
  *elementary = lb_codec_from_media (media);
  *pts_only = g_str_equal (media, "video/x-matroska")
      || g_str_equal (media, "video/webm");
  GST_INFO ("%s: %" GST_PTR_FORMAT, path, type);

  if (*elementary && opt->fps_n <= 0) {
    g_set_error (error, LB_ERROR, LB_ERROR_INVALID,
        "%s: an %s elementary stream (Annex B) carries no timestamps: give "
        "its frame rate with --framerate N/D", path, (*elementary)->label);
    return FALSE;
  }
  if (!g_str_has_prefix (media, "video/")
      && !g_str_has_prefix (media, "application/")
      && !g_str_has_prefix (media, "audio/")) {
    g_set_error (error, LB_ERROR, LB_ERROR_INVALID, "%s: not a video file (%s)",
        path, media);
    return FALSE;
  }
  return TRUE;
}

static void
import_init (Import * imp, const LbImportOptions * opt, const gchar * path,
    const LbCodec * elementary)
{
  memset (imp, 0, sizeof *imp);
  imp->opt = opt;
  imp->path = path;
  imp->elementary = elementary;
  imp->written = g_ptr_array_new_with_free_func (g_free);
  imp->closed = g_ptr_array_new_with_free_func (g_free);
  imp->starts = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_mutex_init (&imp->lock);
}

static void
import_clear (Import * imp)
{
  g_ptr_array_unref (imp->written);
  g_ptr_array_unref (imp->closed);
  g_array_unref (imp->starts);
  g_free (imp->failure);
  g_mutex_clear (&imp->lock);
  g_free (imp->refusal);
  g_clear_pointer (&imp->display, g_array_unref);
}

/* An elementary stream: filesrc ! its parser ! segment sink, the frames
 * timestamped from their order of display (on_elementary_buffer). */
static gboolean
link_elementary (Import * imp, GstElement * src)
{
  g_autoptr (GError) derr = NULL;

  imp->display = elementary_display_order (imp->path, imp->elementary, &derr);
  if (imp->display == NULL) {
    imp->failure = g_strdup (derr->message);
    return FALSE;
  }
  for (guint n = 0; n < imp->display->len; n++) {
    guint64 shown = g_array_index (imp->display, guint64, n);
    if (n > shown)
      imp->reorder = MAX (imp->reorder, n - shown);
  }
  GstElement *parse = add_element (imp, imp->elementary->parser);
  if (parse == NULL)
    return FALSE;
  g_autoptr (GstPad) parsed = gst_element_get_static_pad (parse, "src");
  gst_pad_add_probe (parsed, GST_PAD_PROBE_TYPE_BUFFER,
      on_elementary_buffer, imp, NULL);
  imp->linked = TRUE;           /* before any streaming thread exists */
  return gst_element_link (src, parse)
      && gst_pad_link (parsed, imp->sink_pad) == GST_PAD_LINK_OK;
}

/* A container: filesrc ! parsebin, whose H.264 or H.265 stream on_pad_added
 * links. */
static gboolean
link_container (Import * imp, GstElement * src)
{
  GstElement *pb = add_element (imp, "parsebin");
  if (pb == NULL)
    return FALSE;
  g_signal_connect (pb, "pad-added", G_CALLBACK (on_pad_added), imp);
  g_signal_connect (pb, "no-more-pads", G_CALLBACK (on_no_more_pads), imp);
  return gst_element_link (src, pb);
}

/* The remux pipeline: file → segment writer.  FALSE with imp->failure. */
static gboolean
build_remux (Import * imp)
{
  const LbImportOptions *opt = imp->opt;
  GstElement *src = gst_element_factory_make ("filesrc", NULL);
  gboolean ok = FALSE;

  imp->pipeline = gst_object_ref_sink (gst_pipeline_new ("import"));
  imp->writer = lb_segment_writer_new (lb_store_get_dir (opt->store),
      opt->vehicle, opt->input, opt->segment_duration_ns, LB_NS_PER_SEC);
  if (src && imp->writer) {
    GstElement *sink = lb_segment_writer_get_sink (imp->writer);
    g_object_set (src, "location", imp->path, NULL);
    gst_bin_add_many (GST_BIN (imp->pipeline), src, sink, NULL);
    imp->sink_pad = gst_element_request_pad_simple (sink, "video");
    gst_pad_add_probe (imp->sink_pad, GST_PAD_PROBE_TYPE_BUFFER, on_buffer,
        imp, NULL);
    ok = imp->elementary ? link_elementary (imp, src)
        : link_container (imp, src);
  } else if (src) {
    gst_object_unref (gst_object_ref_sink (src));
  }
  if (!ok && imp->failure == NULL)
    imp->failure = g_strdup ("the remux pipeline cannot be built "
        "(missing GStreamer plugins)");
  return ok;
}

/* One message of the remux's bus: segment files named and closed, a
 * refusal or an error (imp->failure), or the end (*@eos). */
static void
handle_message (Import * imp, GstMessage * msg, gboolean * eos)
{
  g_autofree gchar *path = NULL;
  gint64 start = 0;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ELEMENT:
      switch (lb_segment_writer_parse_message (imp->writer, msg, &path, &start)) {
        case LB_SEGMENT_EVENT_OPENED:
          add_path (imp->written, path);
          break;
        case LB_SEGMENT_EVENT_CLOSED:
          add_path (imp->written, path);
          g_ptr_array_add (imp->closed, g_strdup (path));
          g_array_append_val (imp->starts, start);
          break;
        default:
          break;
      }
      break;
    case GST_MESSAGE_APPLICATION:
      g_mutex_lock (&imp->lock);
      imp->failure = g_strdup (imp->refusal);
      g_mutex_unlock (&imp->lock);
      break;
    case GST_MESSAGE_ERROR:{
      g_autoptr (GError) gerr = NULL;
      g_autofree gchar *dbg = NULL;
      gst_message_parse_error (msg, &gerr, &dbg);
      GST_INFO ("%s: error: %s (%s)", imp->path, gerr->message, dbg ? dbg : "");
      g_mutex_lock (&imp->lock);
      imp->failure = imp->refusal ? g_strdup (imp->refusal)
          : g_strdup_printf ("unreadable (truncated or damaged?): %s",
          gerr->message);
      g_mutex_unlock (&imp->lock);
      break;
    }
    case GST_MESSAGE_EOS:
      *eos = TRUE;
      break;
    default:
      break;
  }
}

/* Nothing has moved for a while: a demuxer stuck on a damaged file.
 * (parsebin drops an error a demuxer posts while it is still being
 * plugged, as qtdemux does at once for an MP4 without its moov.) */
static gboolean
stalled (Import * imp, gint64 last_progress)
{
  gint64 stall = g_atomic_int_get (&imp->exposed)
      || imp->elementary ? IMPORT_STALL_US : IMPORT_STALL_US / 3;
  return g_get_monotonic_time () - last_progress > stall;
}

/* Plays the remux to its end: TRUE at EOS, FALSE with imp->failure. */
static gboolean
run_remux (Import * imp)
{
  g_autoptr (GstBus) bus = gst_pipeline_get_bus (GST_PIPELINE (imp->pipeline));
  gint64 deadline = g_get_monotonic_time () + IMPORT_TIMEOUT / GST_USECOND;
  gint64 last_progress = g_get_monotonic_time ();
  gint seen = 0;
  gboolean eos = FALSE;

  if (gst_element_set_state (imp->pipeline,
          GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    imp->failure = g_strdup ("the file cannot be opened");
  while (imp->failure == NULL && !eos) {
    if (g_get_monotonic_time () > deadline) {
      imp->failure = g_strdup ("remuxing took too long");
      break;
    }
    g_autoptr (GstMessage) msg = gst_bus_timed_pop_filtered (bus, GST_SECOND,
        GST_MESSAGE_ERROR | GST_MESSAGE_EOS | GST_MESSAGE_ELEMENT |
        GST_MESSAGE_APPLICATION);
    gint now_seen = g_atomic_int_get (&imp->progress);
    if (msg || now_seen != seen)
      last_progress = g_get_monotonic_time ();
    seen = now_seen;
    if (msg)
      handle_message (imp, msg, &eos);
    else if (stalled (imp, last_progress))
      imp->failure = g_strdup ("unreadable (truncated or damaged?): "
          "nothing came out of it");
  }
  return eos;
}

/* At EOS: frames came out, as many as the container declares (a file cut
 * short still plays to its cut), and every segment file is closed. */
static gboolean
check_complete (Import * imp)
{
  gint64 declared = -1;

  if (imp->frames == 0) {
    imp->failure = g_strdup ("it holds no video frames");
    return FALSE;
  }
  if (!imp->elementary
      && gst_element_query_duration (imp->pipeline, GST_FORMAT_TIME, &declared)
      && declared > 0) {
    gint64 got = imp->end_rt - imp->first_rt;
    gint64 slack = MAX (LB_NS_PER_SEC / 2, declared / 10);
    if (got + slack < declared) {
      g_autofree gchar *a = lb_time_format_duration (got);
      g_autofree gchar *b = lb_time_format_duration (declared);
      imp->failure = g_strdup_printf ("truncated: it holds %s of the %s its "
          "header declares", a, b);
      return FALSE;
    }
  }
  if (lb_segment_writer_count_open (imp->writer) > 0) {
    imp->failure = g_strdup ("the segment sink did not close its files");
    return FALSE;
  }
  return TRUE;
}

/* The pipeline to NULL; files the writer left open count as written. */
static void
stop_remux (Import * imp)
{
  if (imp->pipeline) {
    lb_recorder_release_dropped (imp->pipeline);
    gst_element_set_state (imp->pipeline, GST_STATE_NULL);
  }
  if (imp->writer) {
    g_auto (GStrv) open = lb_segment_writer_list_open (imp->writer);
    for (guint i = 0; open[i]; i++)
      add_path (imp->written, open[i]);
  }
  gst_clear_object (&imp->sink_pad);
  gst_clear_object (&imp->pipeline);
  g_clear_pointer (&imp->writer, lb_segment_writer_free);
}

/* Indexes every closed segment; a failure takes back the ones done. */
static gboolean
index_segments (Import * imp)
{
  const LbImportOptions *opt = imp->opt;
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));

  for (guint i = 0; i < imp->closed->len && imp->failure == NULL; i++) {
    gint64 id = 0;
    g_autoptr (GError) ierr = NULL;
    if (lb_footage_index_file (opt->store, opt->vehicle, opt->input,
            imp->closed->pdata[i], g_array_index (imp->starts, gint64, i), &id,
            &ierr))
      g_array_append_val (ids, id);
    else
      imp->failure = g_strdup_printf ("cannot be indexed: %s", ierr->message);
  }
  for (guint i = 0; imp->failure && i < ids->len; i++) {
    g_autoptr (GError) derr = NULL;
    gint64 id = g_array_index (ids, gint64, i);
    if (!lb_store_segment_delete (opt->store, id, &derr))
      lb_log (LB_LOG_WARNING, LB_LOG_CTX (.vehicle = opt->vehicle,.input =
              opt->input), "import of %s: cannot take back its segment row %"
          G_GINT64_FORMAT ": %s", imp->path, id, derr->message);
  }
  return imp->failure == NULL;
}

static void
report_imported (Import * imp, gint64 * out_end_ns, GString * report)
{
  gint64 start = imp->opt->start_ns;
  gint64 end = start + (imp->end_rt - imp->first_rt);

  if (out_end_ns)
    *out_end_ns = end;
  if (report) {
    g_autofree gchar *a = lb_time_format_rfc3339 (start);
    g_autofree gchar *b = lb_time_format_rfc3339 (end);
    g_autofree gchar *d = lb_time_format_duration (end - start);
    g_string_append_printf (report,
        "imported %s: %s to %s (%s, %" G_GUINT64_FORMAT
        " frames, %u segments)\n", imp->path, a, b, d, imp->frames,
        imp->closed->len);
  }
}

gboolean
lb_import_file (const LbImportOptions * opt, const gchar * path,
    gint64 * out_end_ns, GString * report, GError ** error)
{
  g_return_val_if_fail (opt != NULL && opt->store != NULL, FALSE);
  g_return_val_if_fail (opt->vehicle != NULL && opt->input != NULL, FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  LB_DEBUG_INIT (lb_import_debug, "lookback-import", "lookback import");

  const LbCodec *elementary = NULL;
  gboolean pts_only = FALSE;
  if (!check_file (path, opt, &elementary, &pts_only, error))
    return FALSE;

  Import imp;
  import_init (&imp, opt, path, elementary);
  imp.pts_only = pts_only;
  gboolean ok = build_remux (&imp) && run_remux (&imp)
      && check_complete (&imp);
  stop_remux (&imp);
  ok = ok && index_segments (&imp);
  if (ok) {
    report_imported (&imp, out_end_ns, report);
  } else {
    remove_files (imp.written);
    g_set_error (error, LB_ERROR, LB_ERROR_INVALID, "%s: %s", path,
        imp.failure ? imp.failure : "not imported");
  }
  import_clear (&imp);
  return ok;
}
