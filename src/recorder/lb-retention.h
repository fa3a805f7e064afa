/* lookback — retention: what stays on disk
 *
 * Footage, per input, by age ([retention] max-age or the input's
 * retention-max-age: segments that ended before now - max-age) and by bytes
 * (max-bytes: the oldest segments go until the input fits), oldest first.
 *
 * Footage, across inputs, by the free-space floor ([store] min-free, a size
 * or a percentage of the store's file system): while the file system has
 * less free space than that, the oldest segments of all inputs go, oldest
 * first, until it has it again.  The floor is checked every few seconds, so
 * recording goes on at the floor without a gap; when nothing more can go
 * (only open or pinned segments are left) that is logged as an error.
 *
 * Never the open segment (being recorded), never a pinned segment (a
 * retrieval still needs it).  When pins alone keep an input over its budget,
 * that is logged loudly and reported, and the footage is kept.  The file is
 * deleted first, then its row: a crash in between leaves a row without a
 * file, which reconcile removes.
 *
 * Outputs (when the box serves its own media, uploads off): the file of an
 * available retrieval under <store>/outputs is deleted once its URL has
 * expired, [jobs] url-ttl after it became available.  With uploads on, the
 * uploader deletes them [upload] keep after the upload.
 *
 * Each deletion pass is one log line per input (lb_log, info); reaching the
 * floor and failing to hold it are logged once each.
 */
#pragma once

#include "core/lb-config.h"
#include "core/lb-time.h"
#include "store/lb-store-footage.h"

G_BEGIN_DECLS

/* One pass over every input with footage: age, bytes, then the floor.  One
 * line per deleted segment and per input kept over budget in @report (may
 * be NULL). */
gboolean lb_retention_run (LbStore   *store,
                           LbConfig  *config,
                           gint64     now_ns,
                           GString   *report,
                           GError   **error);

/* Deletes the files under <store>/outputs of retrievals that became
 * available at or before @before_ns.  One line per deleted file in @report
 * (may be NULL); @out_deleted (optional) gets their number. */
gboolean lb_retention_sweep_outputs (LbStore   *store,
                                     gint64     before_ns,
                                     GString   *report,
                                     guint     *out_deleted,
                                     GError   **error);

typedef struct {
  LbClock *clock;               /* NULL: the system clock */
  gint64 output_ttl_ns;         /* > 0: outputs are swept this long after they
                                 * became available; 0: never (the uploader
                                 * sweeps them) */
} LbRetentionOptions;

/* A thread that runs lb_retention_run() (and the outputs sweep) at start and
 * then every [retention] interval, and checks the floor every few seconds
 * in between (file deletions never block the main loop).  @options may be
 * NULL.  lb_retention_stop() wakes it, joins it and frees. */
typedef struct _LbRetention LbRetention;

LbRetention *lb_retention_start (LbStore                  *store,
                                 LbConfig                 *config,
                                 const LbRetentionOptions *options);
/* Runs a pass now (tests, or after a burst of imports). */
void         lb_retention_poke  (LbRetention *retention);
/* The number of passes done so far. */
guint        lb_retention_get_passes (LbRetention *retention);
void         lb_retention_stop  (LbRetention *retention);

G_END_DECLS
