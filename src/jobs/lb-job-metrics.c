/* lookback — the metrics of retrieval jobs (see lb-job-metrics.h) */
#include "jobs/lb-job-metrics.h"

#include "core/lb-metrics.h"

void
lb_job_metrics_ended (LbMediaType media_type, const gchar * status)
{
  g_return_if_fail (status != NULL);

  lb_metric_add (lb_metrics_counter ("lookback_retrievals_ended_total",
          "Retrieval rows (one per input) that reached a final status",
          "media_type,status"),
      LB_LABELS (lb_media_type_to_string (media_type), status), 1);
}

void
lb_job_metrics_duration (LbMediaType media_type, gdouble seconds)
{
  /* from a still in a blink to a 40-minute hyperlapse */
  static const gdouble bounds[] = { 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
    120, 300, 600
  };

  lb_metric_observe (lb_metrics_histogram ("lookback_job_duration_seconds",
          "How long retrieval jobs ran, from claim to output", "media_type",
          bounds, G_N_ELEMENTS (bounds)),
      LB_LABELS (lb_media_type_to_string (media_type)), seconds);
}
