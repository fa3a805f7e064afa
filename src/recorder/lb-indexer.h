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

/* lb_indexer_update() of @n indexers over one store, the new rows of all
 * committed in ONE transaction (after each file is synced): one sync of
 * the store's log a round, not one a file.  @errors (@n, each NULL on
 * entry) gets each indexer's failure. */
void       lb_indexer_update_all (LbIndexer **indexers,
                                  guint       n,
                                  GError    **errors);

/* A last update, then the segment row is closed.  After a failure (a full
 * disk, a busy store) it may be called again. */
gboolean   lb_indexer_finish  (LbIndexer    *indexer,
                               GError      **error);

/* The segment row (0 until the first fragment is indexed). */
gint64     lb_indexer_get_segment_id (LbIndexer *indexer);
/* Wall-clock end of the indexed footage (start_ns until then). */
gint64     lb_indexer_get_end (LbIndexer *indexer);

/* The file's times move by @delta_ns (its rows in the store have moved
 * already: lb_store_footage_retime()), and a segment row it begins from now
 * on carries @clock_epoch (0: synchronised).  With a delta of 0, sets the
 * epoch of a new indexer. */
void       lb_indexer_retime  (LbIndexer    *indexer,
                               gint64        delta_ns,
                               gint64        clock_epoch);

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

/* Scans the whole file at @path, touching no store: the closed segment it
 * makes (bytes = the end of its last complete fragment, or the whole file
 * once finalised) and its keyframe rows; *@file_size gets the file's size.
 * LB_ERROR_CORRUPT when it does not parse or holds no complete fragment with
 * a keyframe. */
LbSegment *lb_footage_scan_file  (const gchar  *vehicle,
                                  const gchar  *input,
                                  const gchar  *path,
                                  gint64        start_ns,
                                  GArray      **rows,
                                  gint64       *file_size,
                                  GError      **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbIndexer, lb_indexer_free)

G_END_DECLS
