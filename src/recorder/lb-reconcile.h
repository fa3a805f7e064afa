/* lookback — reconcile: the index and the segments folder agree at start
 *
 * Before recording starts, lb_footage_reconcile() makes the index tell the
 * truth about <store>/segments after a crash, a power cut or an operator's
 * hand, at a cost that does not grow with the footage kept:
 *
 *   - open segments (the writer died) are re-indexed up to their last
 *     complete fragment and closed.  First the fragment whose moof the
 *     killed muxer had not written yet gets one (lb_mp4_recover_tail_journal:
 *     H.264 or H.265, with B-frames, and with audio by the sample journal
 *     the writer kept beside the segment, removed once used; journals left
 *     without an open segment are removed too), so that only what never
 *     reached the file is lost;
 *     whatever is still torn after that is cut off the file.  An open row
 *     whose file is gone is removed;
 *   - then the two places a crash leaves the index and the files apart: an
 *     input's oldest rows whose file is gone (retention deletes the file,
 *     then the row; a few rows are looked at) are removed, and files newer
 *     than an input's newest row (the recorder creates a file before its
 *     row), or in a folder without rows, are indexed when their name and
 *     content parse (their moof-less tail recovered the same way).  The
 *     names of an input's older files are read, not stat'ed.  Closed
 *     segments in between are not looked at: rows or files changed by hand
 *     there are not found;
 *   - a segment file that does not parse (garbage, cut short, damaged) is
 *     quarantined: moved to <store>/quarantine/<its path in the store>, its
 *     rows removed, one lb_log line; never an error of the start.  The
 *     quarantine keeps its newest 32 files and 1 GiB at most (the newest
 *     file always); older ones are deleted.
 *
 * Everything done or found wrong is written to @report, one line each.
 * Only a store error fails it.
 */
#pragma once

#include "store/lb-store-footage.h"

G_BEGIN_DECLS

gboolean lb_footage_reconcile (LbStore  *store,
                               GString  *report,
                               GError  **error);

G_END_DECLS
