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

#include <glib.h>

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
} LbCodec;

/* Every codec of the table; @n (out) gets their number. */
const LbCodec *lb_codecs            (guint        *n);
/* The codec of @name / of media type @media, or NULL. */
const LbCodec *lb_codec_from_name   (const gchar  *name);
const LbCodec *lb_codec_from_media  (const gchar  *media);

G_END_DECLS
