/* lookback — retention: deleting the oldest footage
 *
 * Per input, by age ([retention] max-age or the input's retention-max-age:
 * segments that ended before now - max-age) and by bytes (max-bytes: the
 * oldest segments go until the input fits), oldest first.  Never the open
 * segment (being recorded), never a pinned segment (a retrieval still needs
 * it).  When pins alone keep an input over its budget, that is logged
 * loudly and reported, and the footage is kept.  The file is deleted first,
 * then its row: a crash in between leaves a row without a file, which
 * reconcile removes.
 */
#pragma once

#include "core/lb-config.h"
#include "core/lb-time.h"
#include "store/lb-store-footage.h"

G_BEGIN_DECLS

/* One pass over every input with footage; one line per deleted segment and
 * per input kept over budget in @report (may be NULL). */
gboolean lb_retention_run (LbStore   *store,
                           LbConfig  *config,
                           gint64     now_ns,
                           GString   *report,
                           GError   **error);

/* A thread that runs lb_retention_run() at start and then every [retention]
 * interval (file deletions never block the main loop).  @clock may be NULL
 * (the system clock).  lb_retention_stop() wakes it, joins it and frees. */
typedef struct _LbRetention LbRetention;

LbRetention *lb_retention_start (LbStore   *store,
                                 LbConfig  *config,
                                 LbClock   *clock);
/* Runs a pass now (tests, or after a burst of imports). */
void         lb_retention_poke  (LbRetention *retention);
/* The number of passes done so far. */
guint        lb_retention_get_passes (LbRetention *retention);
void         lb_retention_stop  (LbRetention *retention);

G_END_DECLS
