/* lookback — retrieval rows waiting for footage that is not recorded yet
 *
 * A row whose input has recorded nothing up to its requested end yet stays
 * pending until the footage comes or its deadline passes (lb-jobs.h).  It
 * is not polled: the jobs engine defers it in the store until its deadline
 * (one write) and keeps it here, where it is due again after a back-off
 * that doubles from LB_JOB_WAIT_MIN up to LB_JOB_WAIT_MAX, or at once when
 * new footage of its input reaches its end.  A check of a due row only
 * reads the index; the row is woken in the store (a write) when its footage
 * is there.
 *
 * Every function may be called from any thread; lb_job_waits_footage() is
 * cheap (it runs inside the store's commit notification).
 */
#pragma once

#include "store/lb-store-api.h"

G_BEGIN_DECLS

#define LB_JOB_WAIT_MIN (G_GINT64_CONSTANT (1000000000))        /* 1 s */
#define LB_JOB_WAIT_MAX (G_GINT64_CONSTANT (60000000000))       /* 60 s */

typedef struct _LbJobWaits LbJobWaits;

LbJobWaits *lb_job_waits_new       (void);
void        lb_job_waits_free      (LbJobWaits        *waits);

/* @row waits from @now_ns: due after LB_JOB_WAIT_MIN, or at once when footage
 * of its input already reached its end since it was last looked at.
 * @at_once: due now (rows found waiting at start). */
void        lb_job_waits_add       (LbJobWaits        *waits,
                                    const LbRetrieval *row,
                                    gint64             now_ns,
                                    gboolean           at_once);

/* A due row that was checked and must wait on: due again after twice its
 * last back-off (at most LB_JOB_WAIT_MAX). */
void        lb_job_waits_retry     (LbJobWaits        *waits,
                                    gint64             id,
                                    gint64             now_ns);

/* Footage of @vehicle/@input now reaches @end_ns: the rows whose end it
 * reaches are due.  TRUE when any became due. */
gboolean    lb_job_waits_footage   (LbJobWaits        *waits,
                                    const gchar       *vehicle,
                                    const gchar       *input,
                                    gint64             end_ns);

/* The rows due at @now_ns (copies, LbRetrieval*), or NULL when none; each
 * is handed to one caller, until lb_job_waits_retry() or _remove(). */
GPtrArray  *lb_job_waits_take_due  (LbJobWaits        *waits,
                                    gint64             now_ns);

/* The row does not wait any more (claimed, woken or finished). */
void        lb_job_waits_remove    (LbJobWaits        *waits,
                                    gint64             id);

/* The earliest time a row is due again (G_MAXINT64: none is); a row
 * handed out counts again once retried. */
gint64      lb_job_waits_next_due  (LbJobWaits        *waits);
/* Rows waiting. */
guint       lb_job_waits_count     (LbJobWaits        *waits);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbJobWaits, lb_job_waits_free)

G_END_DECLS
