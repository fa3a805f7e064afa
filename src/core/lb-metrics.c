/* lookback — metrics for Prometheus (see lb-metrics.h) */
#include "core/lb-metrics.h"

#include "core/lb-log.h"

#include <math.h>
#include <string.h>

/* Collectors run at most this often. */
#define COLLECT_INTERVAL_US G_USEC_PER_SEC

typedef enum
{
  COUNTER,
  GAUGE,
  HISTOGRAM,
} Type;

static const gchar *const type_names[] = { "counter", "gauge", "histogram" };

typedef struct
{
  gchar **values;               /* label values */
  gdouble value;                /* counter, gauge */
  guint64 *buckets;             /* histogram: per bound, then +Inf */
  guint64 count;                /* histogram */
  gdouble sum;                  /* histogram */
} Series;

struct _LbMetric
{
  gchar *name;
  gchar *help;
  Type type;
  gchar **labels;               /* label names */
  gdouble *bounds;              /* histogram */
  guint n_bounds;
  GHashTable *series;           /* joined values → Series*; registry lock */
  gboolean warned;              /* over the limit, said; registry lock */
};

typedef struct
{
  LbMetricsCollectFunc func;
  gpointer user_data;
} Collector;

/* Lock order: collect_lock, then lock. */
static GMutex lock;
static GHashTable *families;    /* name → LbMetric*; lock */
static GMutex collect_lock;
static GArray *collectors;      /* Collector; collect_lock */
static gint64 collected_us;     /* the last run; collect_lock */

static void
series_free (gpointer p)
{
  Series *s = p;
  g_strfreev (s->values);
  g_free (s->buckets);
  g_free (s);
}

static LbMetric *
family (const gchar * name, const gchar * help, const gchar * labels,
    Type type, const gdouble * bounds, guint n_bounds)
{
  g_return_val_if_fail (name != NULL && help != NULL, NULL);

  g_mutex_lock (&lock);
  if (families == NULL)
    families = g_hash_table_new (g_str_hash, g_str_equal);
  LbMetric *m = g_hash_table_lookup (families, name);
  if (m == NULL) {
    m = g_new0 (LbMetric, 1);
    m->name = g_strdup (name);
    m->help = g_strdup (help);
    m->type = type;
    m->labels = labels ? g_strsplit (labels, ",", -1) : g_new0 (gchar *, 1);
    m->bounds = g_memdup2 (bounds, n_bounds * sizeof (gdouble));
    m->n_bounds = n_bounds;
    m->series = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
        series_free);
    g_hash_table_insert (families, m->name, m);
  }
  g_mutex_unlock (&lock);
  g_return_val_if_fail (m->type == type, NULL);
  return m;
}

LbMetric *
lb_metrics_counter (const gchar * name, const gchar * help,
    const gchar * labels)
{
  return family (name, help, labels, COUNTER, NULL, 0);
}

LbMetric *
lb_metrics_gauge (const gchar * name, const gchar * help, const gchar * labels)
{
  return family (name, help, labels, GAUGE, NULL, 0);
}

LbMetric *
lb_metrics_histogram (const gchar * name, const gchar * help,
    const gchar * labels, const gdouble * bounds, guint n_bounds)
{
  g_return_val_if_fail (bounds != NULL && n_bounds > 0, NULL);
  return family (name, help, labels, HISTOGRAM, bounds, n_bounds);
}

/* The series of @labels, made on first use; NULL over the limit.  The lock
 * is held. */
static Series *
series_of (LbMetric * m, const gchar * const *labels)
{
  guint n = labels ? g_strv_length ((gchar **) labels) : 0;
  g_return_val_if_fail (n == g_strv_length (m->labels), NULL);

  g_autofree gchar *key = n ? g_strjoinv ("\x1f", (gchar **) labels)
      : g_strdup ("");
  Series *s = g_hash_table_lookup (m->series, key);
  if (s)
    return s;
  if (g_hash_table_size (m->series) >= LB_METRICS_MAX_SERIES) {
    if (!m->warned)
      lb_log (LB_LOG_WARNING, NULL, "metric %s: more than %d label sets; "
          "the others are not counted", m->name, LB_METRICS_MAX_SERIES);
    m->warned = TRUE;
    return NULL;
  }
  s = g_new0 (Series, 1);
  s->values = g_strdupv ((gchar **) (labels ? labels : LB_LABELS (NULL)));
  if (m->type == HISTOGRAM)
    s->buckets = g_new0 (guint64, m->n_bounds + 1);
  g_hash_table_insert (m->series, g_steal_pointer (&key), s);
  return s;
}

void
lb_metric_add (LbMetric * metric, const gchar * const *labels, gdouble value)
{
  g_return_if_fail (metric != NULL && metric->type != HISTOGRAM);

  g_mutex_lock (&lock);
  Series *s = series_of (metric, labels);
  if (s)
    s->value += value;
  g_mutex_unlock (&lock);
}

void
lb_metric_set (LbMetric * metric, const gchar * const *labels, gdouble value)
{
  g_return_if_fail (metric != NULL && metric->type != HISTOGRAM);

  g_mutex_lock (&lock);
  Series *s = series_of (metric, labels);
  if (s)
    s->value = value;
  g_mutex_unlock (&lock);
}

void
lb_metric_observe (LbMetric * metric, const gchar * const *labels,
    gdouble value)
{
  g_return_if_fail (metric != NULL && metric->type == HISTOGRAM);

  g_mutex_lock (&lock);
  Series *s = series_of (metric, labels);
  if (s) {
    guint i = 0;
    while (i < metric->n_bounds && value > metric->bounds[i])
      i++;
    s->buckets[i]++;
    s->count++;
    s->sum += value;
  }
  g_mutex_unlock (&lock);
}

void
lb_metric_clear (LbMetric * metric)
{
  g_return_if_fail (metric != NULL);

  g_mutex_lock (&lock);
  g_hash_table_remove_all (metric->series);
  g_mutex_unlock (&lock);
}

gdouble
lb_metric_get (LbMetric * metric, const gchar * const *labels)
{
  g_return_val_if_fail (metric != NULL, 0);

  gdouble v = 0;
  g_mutex_lock (&lock);
  guint n = labels ? g_strv_length ((gchar **) labels) : 0;
  g_autofree gchar *key = n ? g_strjoinv ("\x1f", (gchar **) labels)
      : g_strdup ("");
  Series *s = g_hash_table_lookup (metric->series, key);
  if (s)
    v = metric->type == HISTOGRAM ? (gdouble) s->count : s->value;
  g_mutex_unlock (&lock);
  return v;
}

/* --- collectors ---------------------------------------------------------- */

void
lb_metrics_add_collector (LbMetricsCollectFunc func, gpointer user_data)
{
  g_return_if_fail (func != NULL);

  Collector c = { func, user_data };
  g_mutex_lock (&collect_lock);
  if (collectors == NULL)
    collectors = g_array_new (FALSE, FALSE, sizeof (Collector));
  g_array_append_val (collectors, c);
  collected_us = 0;             /* the next render runs it */
  g_mutex_unlock (&collect_lock);
}

void
lb_metrics_remove_collector (LbMetricsCollectFunc func, gpointer user_data)
{
  g_mutex_lock (&collect_lock);
  for (guint i = 0; collectors && i < collectors->len; i++) {
    Collector *c = &g_array_index (collectors, Collector, i);
    if (c->func == func && c->user_data == user_data) {
      g_array_remove_index (collectors, i);
      break;
    }
  }
  g_mutex_unlock (&collect_lock);
}

static void
collect (void)
{
  g_mutex_lock (&collect_lock);
  gint64 now = g_get_monotonic_time ();
  if (collectors && (collected_us == 0 ||
          now - collected_us >= COLLECT_INTERVAL_US)) {
    for (guint i = 0; i < collectors->len; i++) {
      Collector *c = &g_array_index (collectors, Collector, i);
      c->func (c->user_data);
    }
    collected_us = now;
  }
  g_mutex_unlock (&collect_lock);
}

/* --- the text format ----------------------------------------------------- */

/* The shortest of %.15g and %.17g that reads back as @v ("0.1", not
 * "0.10000000000000001"). */
static const gchar *
format_double (gchar * buf, gsize size, gdouble v)
{
  g_ascii_formatd (buf, size, "%.15g", v);
  if (g_ascii_strtod (buf, NULL) != v)
    g_ascii_formatd (buf, size, "%.17g", v);
  return buf;
}

static void
append_number (GString * s, gdouble v)
{
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (isnan (v))
    g_string_append (s, "NaN");
  else if (isinf (v))
    g_string_append (s, v > 0 ? "+Inf" : "-Inf");
  else if (v == floor (v) && fabs (v) < 1e15)
    g_string_append_printf (s, "%.0f", v);
  else
    g_string_append (s, format_double (buf, sizeof buf, v));
}

/* @text with @specials (and newlines) escaped by a backslash. */
static void
append_escaped (GString * s, const gchar * text, gboolean quotes)
{
  for (const gchar * p = text; *p; p++) {
    if (*p == '\\' || (quotes && *p == '"'))
      g_string_append_c (s, '\\');
    if (*p == '\n')
      g_string_append (s, "\\n");
    else
      g_string_append_c (s, *p);
  }
}

/* name{a="x",b="y"[,le="…"]} */
static void
append_sample_name (GString * s, const LbMetric * m, const gchar * suffix,
    const Series * series, const gchar * le)
{
  gboolean any = FALSE;

  g_string_append_printf (s, "%s%s", m->name, suffix);
  for (guint i = 0; m->labels[i]; i++) {
    g_string_append_printf (s, "%s%s=\"", any ? "," : "{", m->labels[i]);
    append_escaped (s, series->values[i], TRUE);
    g_string_append_c (s, '"');
    any = TRUE;
  }
  if (le)
    g_string_append_printf (s, "%sle=\"%s\"", any ? "," : "{", le);
  if (any || le)
    g_string_append_c (s, '}');
  g_string_append_c (s, ' ');
}

static void
append_histogram (GString * s, const LbMetric * m, const Series * series)
{
  guint64 cumulative = 0;
  gchar le[G_ASCII_DTOSTR_BUF_SIZE];

  for (guint i = 0; i <= m->n_bounds; i++) {
    cumulative += series->buckets[i];
    if (i < m->n_bounds)
      format_double (le, sizeof le, m->bounds[i]);
    append_sample_name (s, m, "_bucket", series, i < m->n_bounds ? le : "+Inf");
    g_string_append_printf (s, "%" G_GUINT64_FORMAT "\n", cumulative);
  }
  append_sample_name (s, m, "_sum", series, NULL);
  append_number (s, series->sum);
  g_string_append_c (s, '\n');
  append_sample_name (s, m, "_count", series, NULL);
  g_string_append_printf (s, "%" G_GUINT64_FORMAT "\n", series->count);
}

static void
append_family (GString * s, const LbMetric * m)
{
  g_autoptr (GList) keys = g_hash_table_get_keys (m->series);

  g_string_append_printf (s, "# HELP %s ", m->name);
  append_escaped (s, m->help, FALSE);
  g_string_append_printf (s, "\n# TYPE %s %s\n", m->name, type_names[m->type]);
  keys = g_list_sort (keys, (GCompareFunc) strcmp);
  for (GList * l = keys; l; l = l->next) {
    const Series *series = g_hash_table_lookup (m->series, l->data);
    if (m->type == HISTOGRAM) {
      append_histogram (s, m, series);
      continue;
    }
    append_sample_name (s, m, "", series, NULL);
    append_number (s, series->value);
    g_string_append_c (s, '\n');
  }
}

gchar *
lb_metrics_render (void)
{
  GString *s = g_string_sized_new (8192);

  collect ();
  g_mutex_lock (&lock);
  if (families) {
    g_autoptr (GList) names = g_hash_table_get_keys (families);
    names = g_list_sort (names, (GCompareFunc) strcmp);
    for (GList * l = names; l; l = l->next)
      append_family (s, g_hash_table_lookup (families, l->data));
  }
  g_mutex_unlock (&lock);
  return g_string_free (s, FALSE);
}
