/* lookback — metrics for Prometheus (GET /metrics)
 *
 * One registry for the process.  A module declares its families once
 * (counter, gauge or histogram, with the names of their labels) and moves
 * their values where things happen; values that are state rather than
 * events (a queue's length, a camera's last frame) are set by collectors,
 * which the registry runs just before it renders.  lb_metrics_render()
 * writes the text exposition format 0.0.4.
 *
 * Every value lives in memory.  Collectors may read the store, so render
 * only off the main loop (the API renders on a worker thread); collectors
 * run at most once a second, however often the metrics are read.
 *
 * Limits: a family keeps at most LB_METRICS_MAX_SERIES label sets; values
 * for more are dropped (and said once in the log).  Label values come from
 * the configuration and from fixed sets (routes, statuses, media types),
 * never from a request as it is.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define LB_METRICS_MAX_SERIES 1024

typedef struct _LbMetric LbMetric;

/* Label values, in the order of the family's label names. */
#define LB_LABELS(...) ((const gchar *const []) { __VA_ARGS__, NULL })

/* The family @name, registered on first use (the same family after that;
 * a name is one type for ever).  @labels: its label names, comma-separated
 * ("route,method,status"), or NULL.  Returned families are never freed. */
LbMetric *lb_metrics_counter   (const gchar   *name,
                                const gchar   *help,
                                const gchar   *labels);
LbMetric *lb_metrics_gauge     (const gchar   *name,
                                const gchar   *help,
                                const gchar   *labels);
/* @bounds: the buckets' upper bounds, increasing (+Inf is added). */
LbMetric *lb_metrics_histogram (const gchar   *name,
                                const gchar   *help,
                                const gchar   *labels,
                                const gdouble *bounds,
                                guint          n_bounds);

/* Adds @value to a counter or gauge (@labels: NULL for a family without). */
void      lb_metric_add        (LbMetric           *metric,
                                const gchar *const *labels,
                                gdouble             value);
/* Sets a gauge, or a counter to a total kept elsewhere (a collector's). */
void      lb_metric_set        (LbMetric           *metric,
                                const gchar *const *labels,
                                gdouble             value);
/* Counts one observation of a histogram. */
void      lb_metric_observe    (LbMetric           *metric,
                                const gchar *const *labels,
                                gdouble             value);
/* Forgets every label set of @metric (a collector that publishes the
 * current set: organisations, inputs). */
void      lb_metric_clear      (LbMetric           *metric);
/* The value of a counter or gauge (0 when never set); the number of
 * observations of a histogram. */
gdouble   lb_metric_get        (LbMetric           *metric,
                                const gchar *const *labels);

typedef void (*LbMetricsCollectFunc) (gpointer user_data);

/* Runs @func (on the rendering thread) before each render.  Remove it
 * before @user_data goes: removal waits for a run in progress. */
void      lb_metrics_add_collector    (LbMetricsCollectFunc func,
                                       gpointer             user_data);
void      lb_metrics_remove_collector (LbMetricsCollectFunc func,
                                       gpointer             user_data);

/* Every family, in the text exposition format 0.0.4, collectors run
 * first (at most once a second).  Not on the main loop. */
gchar    *lb_metrics_render    (void);

/* Its content type. */
#define LB_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

G_END_DECLS
