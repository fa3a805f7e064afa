/* lookback — `lookback import`: existing H.264 recordings into the store
 *
 *   lookback [--config FILE] import --vehicle ID --input NAME
 *            --start RFC3339 [--framerate N/D] FILE... [--start RFC3339 FILE...]
 *
 * Each FILE (MP4/MOV, Matroska/WebM, MPEG-TS, or an H.264 Annex-B
 * elementary stream, which needs --framerate) is remuxed without
 * transcoding into the store's segment layout by the recorder's segment
 * sink (video only; audio is dropped; B-frames keep their PTS/DTS), then
 * every segment is indexed with lb_footage_index_file().
 *
 * --start is the wall-clock time of the first frame of the next FILE;
 * the files after it follow each other (each starts where the previous one
 * ended) until another --start.  --framerate applies to the files after it.
 *
 * A bad file (truncated, not video, not H.264 — H.265 is refused by name)
 * is reported and skipped: the segment files written for it are removed
 * and nothing of it stays in the index.
 */
#pragma once

#include "core/lb-config.h"
#include "store/lb-store.h"

G_BEGIN_DECLS

typedef struct {
  gint64 start_ns;              /* wall clock of the first frame */
  gint fps_n, fps_d;            /* for elementary streams; 0/0 = none given */
} LbImportOptions;

/* Imports one file.  On success *out_end_ns is the wall clock just after
 * its last frame and @report gets one line about it; on failure nothing of
 * the file remains. */
gboolean lb_import_file (LbStore               *store,
                         const gchar           *store_dir,
                         const gchar           *vehicle,
                         const gchar           *input,
                         const gchar           *path,
                         const LbImportOptions *options,
                         gint64                 segment_duration_ns,
                         gint64                *out_end_ns,
                         GString               *report,
                         GError               **error);

/* The `import` command of the CLI table. */
gboolean lb_import_command (LbConfig  *config,
                            gint       argc,
                            gchar    **argv,
                            GString   *out,
                            GError   **error);

G_END_DECLS
