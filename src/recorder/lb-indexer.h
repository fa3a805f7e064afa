/* lookback — the footage indexer: segment files → index rows
 *
 * An LbIndexer follows one segment file while it is recorded: each update
 * parses the fragments completed since the last one, fdatasync()s the file
 * (and, the first time, its folders) and only then commits, in one
 * transaction, their keyframe rows and the segment's new end and size.  So
 * no row ever points at bytes that a power cut could lose.
 *
 * Index rows: one per fragment that holds a keyframe (the first keyframe of
 * the fragment); fragments without a keyframe grow the row before them.
 *
 * Not thread-safe: one indexer is driven from one thread.
 */
#pragma once

#include "store/lb-store-footage.h"

G_BEGIN_DECLS

typedef struct _LbIndexer LbIndexer;

/* @path: the segment file (it may not exist yet); @start_ns: wall-clock
 * time of its first frame (the first sample's media PTS maps to it). */
LbIndexer *lb_indexer_new     (LbStore      *store,
                               const gchar  *vehicle,
                               const gchar  *input,
                               const gchar  *path,
                               gint64        start_ns,
                               GError      **error);

/* Indexes the fragments completed since the last call.  TRUE when nothing
 * new is there yet.  LB_ERROR_CORRUPT when the file is not a segment. */
gboolean   lb_indexer_update  (LbIndexer    *indexer,
                               GError      **error);

/* A last update, then the segment row is closed.  After a failure (a full
 * disk, a busy store) it may be called again. */
gboolean   lb_indexer_finish  (LbIndexer    *indexer,
                               GError      **error);

/* The segment row (0 until the first fragment is indexed). */
gint64     lb_indexer_get_segment_id (LbIndexer *indexer);
/* Wall-clock end of the indexed footage (start_ns until then). */
gint64     lb_indexer_get_end (LbIndexer *indexer);

void       lb_indexer_free    (LbIndexer    *indexer);

/* Indexes a complete file in ONE transaction (closed segment); refuses a
 * file with no complete fragment or no H.264/H.265 video, leaving no rows.
 * A torn tail (crash) is left out. */
gboolean   lb_footage_index_file (LbStore      *store,
                                  const gchar  *vehicle,
                                  const gchar  *input,
                                  const gchar  *path,
                                  gint64        start_ns,
                                  gint64       *out_segment_id,
                                  GError      **error);

/* Start-up crash recovery: open segments are re-indexed up to their last
 * complete fragment and closed.  First the fragment whose moof the killed
 * muxer had not written yet gets one (lb_mp4_recover_tail: H.264 without
 * B-frames), so that only what never reached the file is lost; whatever is
 * still torn after that is cut off the file.  Rows
 * whose file is gone are removed; files under segments/ that the index does
 * not know are indexed when their name and content parse (their moof-less
 * tail recovered the same way).  Everything done
 * or found wrong is written to @report, one line each. */
gboolean   lb_footage_reconcile  (LbStore      *store,
                                  GString      *report,
                                  GError      **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbIndexer, lb_indexer_free)

G_END_DECLS
