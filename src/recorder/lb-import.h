/* lookback — import: existing H.264 and H.265 recordings into the store
 *
 * A file (MP4/MOV, Matroska/WebM, MPEG-TS, or an H.264 or H.265 Annex-B
 * elementary stream, which needs a frame rate) holding H.264 or H.265
 * video (lb-codec.h) is remuxed without transcoding into the
 * store's segment layout by the recorder's segment writer (B-frames keep
 * their PTS/DTS; with @audio its first audio stream goes along: AAC or
 * Opus as it is, G.711, raw and other audio encoded to AAC as the
 * recorder does), then every segment is indexed
 * with lb_footage_index_file().  The `lookback import` command
 * (src/cli/lb-cli-import.c) calls it for each file it is given.
 *
 * A bad file (truncated, not video, another codec — refused by name) is
 * reported and skipped: the segment files written for it are removed
 * and nothing of it stays in the index.
 */
#pragma once

#include "store/lb-store.h"

G_BEGIN_DECLS

typedef struct {
  LbStore *store;               /* segments go under its folder */
  const gchar *vehicle;
  const gchar *input;
  gint64 segment_duration_ns;   /* [recorder] segment-duration */
  gint64 start_ns;              /* wall clock of the file's first frame */
  gint fps_n, fps_d;            /* for elementary streams; 0/0 = none given */
  gboolean audio;               /* the input records audio (audio=true):
                                 * keep the file's audio (AAC, Opus) or
                                 * encode it to AAC (G.711, raw, …) */
} LbImportOptions;

/* Imports the file at @path.  On success *@out_end_ns is the wall clock just
 * after its last frame and @report gets one line about it; on failure
 * (LB_ERROR_INVALID, the message saying why) nothing of the file remains. */
gboolean lb_import_file (const LbImportOptions  *options,
                         const gchar            *path,
                         gint64                 *out_end_ns,
                         GString                *report,
                         GError                **error);

G_END_DECLS
