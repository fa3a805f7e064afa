/* lookback — the video codecs stored as they come
 *
 * One table: the codec names the index and the MP4 reader use ("h264",
 * "h265"), their GStreamer media types, and the elements that parse and
 * decode them.  The recorder records these as they come (each through its
 * own pipelines/record-<name>.pipeline), the import remuxes them, the
 * recording source parses them; any other video is encoded by the recorder
 * and refused by the import.
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

typedef struct {
  const gchar *name;            /* "h264": LbSegment.codec, LbMp4Init.codec */
  const gchar *label;           /* "H.264", for people */
  const gchar *media;           /* "video/x-h264", the caps' name */
  const gchar *parser;          /* "h264parse" */
  const gchar *decoder;         /* "avdec_h264" */
  const gchar *timestamper;     /* "h264timestamper": DTS from PTS, for
                                 * streams that carry PTS only (RTP,
                                 * Matroska) */
  const gchar *rtp_encoding;    /* "H264": encoding-name of its RTP caps */
  const gchar *depayloader;     /* "rtph264depay" */
} LbCodec;

/* Every codec of the table; @n (out) gets their number. */
const LbCodec *lb_codecs            (guint        *n);
/* The codec of @name / of media type @media, or NULL. */
const LbCodec *lb_codec_from_name   (const gchar  *name);
const LbCodec *lb_codec_from_media  (const gchar  *media);
/* The codec of RTP caps @s (application/x-rtp, media=video, its
 * encoding-name), or NULL. */
const LbCodec *lb_codec_from_rtp    (const GstStructure *s);

/* The audio codecs stored as they come (with audio=true): AAC and Opus.
 * Any other audio (G.711, raw, MP3, …) is encoded to AAC by the recorder
 * (record-audio-encode.pipeline). */
typedef struct {
  const gchar *name;            /* "aac": LbSegment.audio, LbMp4Init.codec */
  const gchar *label;           /* "AAC" */
  const gchar *media;           /* "audio/mpeg" (mpegversion 2 or 4), "audio/x-opus" */
  const gchar *parser;          /* "aacparse" */
  const gchar *decoder;         /* "avdec_aac" */
} LbAudioCodec;

const LbAudioCodec *lb_audio_codecs          (guint        *n);
const LbAudioCodec *lb_audio_codec_from_name (const gchar  *name);
/* The codec of media type @media (@mpegversion: of audio/mpeg caps, 0
 * when absent), or NULL (MP3 is audio/mpeg version 1). */
const LbAudioCodec *lb_audio_codec_from_media (const gchar *media,
                                               gint         mpegversion);

G_END_DECLS
