/* lookback — `lookback coverage`: what is recorded, and the gaps */
#include "cli/lb-cli.h"
#include "core/lb-debug.h"
#include "core/lb-error.h"
#include "core/lb-time.h"
#include "store/lb-store-footage.h"

GST_DEBUG_CATEGORY_STATIC (lb_coverage_debug);
#define GST_CAT_DEFAULT lb_coverage_debug

/* "1h02m03s", "2m", "0.500s": stable and readable. */
static gchar *
human_duration (gint64 ns)
{
  GString *s = g_string_new (NULL);
  if (ns < 0) {
    g_string_append_c (s, '-');
    ns = -ns;
  }
  gint64 h = ns / (3600 * LB_NS_PER_SEC);
  gint64 m = (ns / (60 * LB_NS_PER_SEC)) % 60;
  gint64 sec = (ns / LB_NS_PER_SEC) % 60;
  gint64 ms = (ns % LB_NS_PER_SEC) / LB_NS_PER_MS;
  if (h)
    g_string_append_printf (s, "%" G_GINT64_FORMAT "h", h);
  if (m || (h && (sec || ms)))
    g_string_append_printf (s,
        h ? "%02" G_GINT64_FORMAT "m" : "%" G_GINT64_FORMAT "m", m);
  if (ms)
    g_string_append_printf (s, (h
            || m) ? "%02" G_GINT64_FORMAT ".%03" G_GINT64_FORMAT "s" : "%"
        G_GINT64_FORMAT ".%03" G_GINT64_FORMAT "s", sec, ms);
  else if (sec || (!h && !m))
    g_string_append_printf (s, (h
            || m) ? "%02" G_GINT64_FORMAT "s" : "%" G_GINT64_FORMAT "s", sec);
  return g_string_free (s, FALSE);
}

typedef struct
{
  LbTimeRange range;
  guint kind;                   /* index in kind_labels */
} Entry;

static const gchar *const kind_labels[] = { "recorded", "unsynced", "gap" };

static gint
entry_cmp (gconstpointer a, gconstpointer b)
{
  const Entry *x = a, *y = b;
  if (x->range.start_ns != y->range.start_ns)
    return x->range.start_ns < y->range.start_ns ? -1 : 1;
  return (gint) x->kind - (gint) y->kind;
}

static gint64
total (const GArray * ranges)
{
  gint64 sum = 0;
  for (guint i = 0; i < ranges->len; i++) {
    const LbTimeRange *r = &g_array_index (ranges, LbTimeRange, i);
    sum += r->end_ns - r->start_ns;
  }
  return sum;
}

/* The recorded ranges, the unsynchronised parts and the gaps, one line
 * each, in time order. */
static void
print_entries (GString * out, GArray * ranges, GArray * unsynced, GArray * gaps)
{
  g_autoptr (GArray) all = g_array_new (FALSE, FALSE, sizeof (Entry));
  GArray *lists[] = { ranges, unsynced, gaps };
  for (guint l = 0; l < G_N_ELEMENTS (lists); l++)
    for (guint i = 0; i < lists[l]->len; i++) {
      Entry e = { g_array_index (lists[l], LbTimeRange, i), l };
      g_array_append_val (all, e);
    }
  g_array_sort (all, entry_cmp);
  for (guint i = 0; i < all->len; i++) {
    const Entry *e = &g_array_index (all, Entry, i);
    g_autofree gchar *a = lb_time_format_rfc3339 (e->range.start_ns);
    g_autofree gchar *b = lb_time_format_rfc3339 (e->range.end_ns);
    g_autofree gchar *d = human_duration (e->range.end_ns - e->range.start_ns);
    g_string_append_printf (out, "  %-8s %s .. %s  %s%s\n",
        kind_labels[e->kind], a, b, d, e->kind == 1 ?
        "  (clock not synchronised: times may be off)" : "");
  }
}

static gboolean
cover_input (LbStore * store, const gchar * vehicle, const gchar * input,
    gint64 from, gint64 to, GString * out, GError ** error)
{
  gint64 first, last;
  if (!lb_store_footage_extent (store, vehicle, input, &first, &last, error))
    return FALSE;
  if (first == LB_TIME_NONE) {
    g_string_append_printf (out, "%s %s: no footage\n", vehicle, input);
    return TRUE;
  }
  gint64 s = from != LB_TIME_NONE ? from : first;
  gint64 e = to != LB_TIME_NONE ? to : last;
  g_autoptr (GArray) ranges = NULL, gaps = NULL, unsynced = NULL;
  if (!lb_store_coverage (store, vehicle, input, s, e, &ranges, &gaps,
          &unsynced, error))
    return FALSE;
  g_autofree gchar *a = lb_time_format_rfc3339 (s);
  g_autofree gchar *b = lb_time_format_rfc3339 (e);
  g_autofree gchar *d = human_duration (total (ranges));
  g_string_append_printf (out,
      "%s %s: %s .. %s, %s recorded, %u range%s, %u gap%s", vehicle, input, a,
      b, d, ranges->len, ranges->len == 1 ? "" : "s", gaps->len,
      gaps->len == 1 ? "" : "s");
  if (unsynced->len > 0) {
    g_autofree gchar *u = human_duration (total (unsynced));
    g_string_append_printf (out, ", %s unsynchronised", u);
  }
  g_string_append_c (out, '\n');
  print_entries (out, ranges, unsynced, gaps);
  return TRUE;
}

const gchar lb_cli_coverage_help[] =
    "usage: lookback [--config FILE] coverage --vehicle ID [--input NAME] "
    "[--from TIME] [--to TIME]\n\n"
    "Per input of the vehicle, the recorded ranges and the gaps between\n"
    "them, from the store of the configuration.\n"
    "  --vehicle ID     the vehicle (required)\n"
    "  --input NAME     only this input (default: every input with footage)\n"
    "  --from TIME      start, RFC 3339 (default: the first footage)\n"
    "  --to TIME        end, RFC 3339 (default: the last footage)\n";

/**
 * lb_cli_coverage:
 *
 * `lookback coverage --vehicle ID [--input NAME] [--from T] [--to T]`:
 * per input, the recorded ranges and the gaps between @from and @to (by
 * default the whole footage of the input), and the parts recorded while
 * the clock was not known to be synchronised ("unsynced").
 */
gboolean
lb_cli_coverage (LbConfig * config, gint argc, gchar ** argv, GString * out,
    GError ** error)
{
  LB_DEBUG_INIT (lb_coverage_debug, "lookback-coverage",
      "lookback coverage command");

  g_autofree gchar *vehicle = NULL, *input = NULL, *from_s = NULL, *to_s = NULL;
  GOptionEntry entries[] = {
    {"vehicle", 0, 0, G_OPTION_ARG_STRING, &vehicle, "Vehicle id", "ID"},
    {"input", 0, 0, G_OPTION_ARG_STRING, &input, "Only this input", "NAME"},
    {"from", 0, 0, G_OPTION_ARG_STRING, &from_s, "Start (RFC 3339)", "TIME"},
    {"to", 0, 0, G_OPTION_ARG_STRING, &to_s, "End (RFC 3339)", "TIME"},
    {NULL}
  };
  g_autoptr (GOptionContext) ctx =
      g_option_context_new ("- recorded ranges and gaps");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_set_help_enabled (ctx, FALSE);
  g_autoptr (GError) local = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &local)) {
    g_set_error (error, LB_ERROR, LB_ERROR_INVALID, "%s", local->message);
    return FALSE;
  }
  if (vehicle == NULL) {
    g_set_error (error, LB_ERROR, LB_ERROR_INVALID, "--vehicle is required");
    return FALSE;
  }
  gint64 from = LB_TIME_NONE, to = LB_TIME_NONE;
  if ((from_s && !lb_time_parse_rfc3339 (from_s, &from, &local)) ||
      (to_s && !lb_time_parse_rfc3339 (to_s, &to, &local))) {
    g_set_error (error, LB_ERROR, LB_ERROR_INVALID, "--from/--to: %s",
        local->message);
    return FALSE;
  }
  if (from != LB_TIME_NONE && to != LB_TIME_NONE && to <= from) {
    g_set_error (error, LB_ERROR, LB_ERROR_INVALID,
        "--to must be after --from");
    return FALSE;
  }

  g_autofree gchar *db = lb_config_get_db_path (config);
  g_autoptr (LbStore) store =
      lb_store_open (db, LB_STORE_OPEN_READ_ONLY, error);
  if (store == NULL)
    return FALSE;

  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  if (input) {
    g_ptr_array_add (names, g_strdup (input));
  } else {
    g_autoptr (GPtrArray) inputs =
        lb_store_footage_inputs (store, vehicle, error);
    if (inputs == NULL)
      return FALSE;
    for (guint i = 0; i < inputs->len; i++)
      g_ptr_array_add (names,
          g_strdup (((LbFootageInput *) g_ptr_array_index (inputs, i))->input));
    if (names->len == 0) {
      g_string_append_printf (out, "%s: no footage\n", vehicle);
      return TRUE;
    }
  }
  for (guint i = 0; i < names->len; i++)
    if (!cover_input (store, vehicle, g_ptr_array_index (names, i), from, to,
            out, error))
      return FALSE;
  return TRUE;
}
