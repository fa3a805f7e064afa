/* Unit tests: the metrics registry and its text format (lb-metrics) */
#include "core/lb-metrics.h"

#include <string.h>

static void
test_render (void)
{
  static const gdouble bounds[] = { 0.1, 1 };
  LbMetric *requests = lb_metrics_counter ("t_requests_total",
      "Requests\nanswered", "route,status");
  LbMetric *temp = lb_metrics_gauge ("t_temperature", "A gauge", NULL);
  LbMetric *took = lb_metrics_histogram ("t_took_seconds", "Durations",
      "kind", bounds, G_N_ELEMENTS (bounds));

  g_assert_true (lb_metrics_counter ("t_requests_total", "again",
          "route,status") == requests);
  lb_metric_add (requests, LB_LABELS ("/a", "200"), 1);
  lb_metric_add (requests, LB_LABELS ("/a", "200"), 2);
  lb_metric_add (requests, LB_LABELS ("/b\"\\\n", "500"), 1);
  lb_metric_set (temp, NULL, 21.5);
  lb_metric_observe (took, LB_LABELS ("x"), 0.05);
  lb_metric_observe (took, LB_LABELS ("x"), 0.1);
  lb_metric_observe (took, LB_LABELS ("x"), 5);
  g_assert_cmpfloat (lb_metric_get (requests, LB_LABELS ("/a", "200")), ==, 3);
  g_assert_cmpfloat (lb_metric_get (took, LB_LABELS ("x")), ==, 3);

  g_autofree gchar *text = lb_metrics_render ();
  g_assert_nonnull (strstr (text,
          "# HELP t_requests_total Requests\\nanswered\n"
          "# TYPE t_requests_total counter\n"
          "t_requests_total{route=\"/a\",status=\"200\"} 3\n"
          "t_requests_total{route=\"/b\\\"\\\\\\n\",status=\"500\"} 1\n"));
  g_assert_nonnull (strstr (text, "# TYPE t_temperature gauge\n"
          "t_temperature 21.5\n"));
  g_assert_nonnull (strstr (text, "# TYPE t_took_seconds histogram\n"
          "t_took_seconds_bucket{kind=\"x\",le=\"0.1\"} 2\n"
          "t_took_seconds_bucket{kind=\"x\",le=\"1\"} 2\n"
          "t_took_seconds_bucket{kind=\"x\",le=\"+Inf\"} 3\n"
          "t_took_seconds_sum{kind=\"x\"} 5.15\n"
          "t_took_seconds_count{kind=\"x\"} 3\n"));

  lb_metric_clear (requests);
  g_assert_cmpfloat (lb_metric_get (requests, LB_LABELS ("/a", "200")), ==, 0);
}

static gint collected;

static void
collect (gpointer data)
{
  collected++;
  lb_metric_set (data, NULL, collected);
}

static void
test_collector (void)
{
  LbMetric *g = lb_metrics_gauge ("t_collected", "Set by a collector", NULL);

  lb_metrics_add_collector (collect, g);
  g_autofree gchar *a = lb_metrics_render ();
  g_assert_cmpint (collected, ==, 1);
  g_assert_nonnull (strstr (a, "t_collected 1\n"));
  /* within a second: the values collected last */
  g_autofree gchar *b = lb_metrics_render ();
  g_assert_cmpint (collected, ==, 1);
  lb_metrics_remove_collector (collect, g);
  lb_metrics_add_collector (collect, g);
  g_free (lb_metrics_render ());
  g_assert_cmpint (collected, ==, 2);
  lb_metrics_remove_collector (collect, g);
}

static void
test_series_limit (void)
{
  LbMetric *c = lb_metrics_counter ("t_many_total", "Many", "n");

  for (guint i = 0; i < LB_METRICS_MAX_SERIES + 10; i++) {
    g_autofree gchar *n = g_strdup_printf ("%u", i);
    lb_metric_add (c, LB_LABELS (n), 1);
  }
  g_assert_cmpfloat (lb_metric_get (c, LB_LABELS ("0")), ==, 1);
  g_assert_cmpfloat (lb_metric_get (c, LB_LABELS ("1030")), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/metrics/render", test_render);
  g_test_add_func ("/metrics/collector", test_collector);
  g_test_add_func ("/metrics/series-limit", test_series_limit);
  return g_test_run ();
}
