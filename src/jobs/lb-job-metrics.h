/* lookback — the metrics of retrieval jobs (GET /metrics)
 *
 * A retrieval row ends in the jobs engine (unavailable, failed, available
 * when nothing is uploaded) or in the uploader (available once uploaded,
 * failed when the endpoint refuses it for good): both count it here.
 */
#pragma once

#include "core/lb-media-type.h"

G_BEGIN_DECLS

/* lookback_retrievals_ended_total{media_type,status}: one row of a
 * retrieval reached @status ("available", "unavailable", "failed"). */
void lb_job_metrics_ended    (LbMediaType  media_type,
                              const gchar *status);
/* lookback_job_duration_seconds{media_type}: a job ran (claimed to done,
 * whatever its outcome) for @seconds. */
void lb_job_metrics_duration (LbMediaType  media_type,
                              gdouble      seconds);

G_END_DECLS
