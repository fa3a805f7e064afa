/* Test helpers of the footage tests: recordings made at test time */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  guint frames;
  gint fps;
  gint gop;                     /* key-int-max */
  gint bframes;
  gint width, height;
  guint fragment_ms;            /* mp4mux fragment-duration */
  gboolean crash;               /* stop without EOS: the file stays "growing" */
  gint slices;                  /* x264 slices per picture (0: its default) */
  const gchar *codec;           /* "h264" (NULL) or "h265" (x265enc) */
} LbtRecording;

/* Records @rec into @path (a fragmented MP4 written by splitmuxsink with
 * mp4mux, like the recorder) and returns TRUE on success. */
gboolean lbt_record (const gchar *path, const LbtRecording *rec);

/* Bytes of @path, or NULL. */
GBytes  *lbt_read_bytes (const gchar *path);

/* TRUE when the AVC length-prefixed access unit holds an IDR slice (NAL 5). */
gboolean lbt_avc_sample_is_idr (const guint8 *data, gsize size);

/* Writes @len bytes of text to @path. */
void     lbt_write_file (const gchar *path, const gchar *text);

G_END_DECLS
