/* lookback — the coverage manifest as the store keeps it
 *
 * A coverage column holds a small JSON object of nanosecond times:
 *
 *   {"requestedStartNs": …, "requestedEndNs": …, "deliveredStartNs": …,
 *    "deliveredEndNs": …, "gaps": [[start, end], …],
 *    "unsynced": [[start, end], …]}
 *
 * ("unsynced" is left out when empty; rows written before it have none;
 * "stream": "sub" is there when the output was made from the input's
 * sub-stream.)
 *
 * Rows written by the first wave hold the API's own coverage object
 * instead (RFC 3339 times in "requestedStartTime" …, gaps as objects with
 * "startTime" and "endTime"); they are read as well, at the millisecond
 * precision they were written with.
 */
#include "store/lb-store-private.h"

#include "core/lb-log.h"
#include "core/lb-time.h"

#include <json-glib/json-glib.h>

LbCoverage *
lb_coverage_new (void)
{
  LbCoverage *c = g_new0 (LbCoverage, 1);
  c->requested_start_ns = c->requested_end_ns = LB_TIME_NONE;
  c->delivered_start_ns = c->delivered_end_ns = LB_TIME_NONE;
  c->gaps = g_array_new (FALSE, FALSE, sizeof (LbTimeRange));
  c->unsynced = g_array_new (FALSE, FALSE, sizeof (LbTimeRange));
  return c;
}

LbCoverage *
lb_coverage_copy (const LbCoverage * coverage)
{
  g_return_val_if_fail (coverage != NULL, NULL);
  LbCoverage *c = lb_coverage_new ();
  GArray *gaps = c->gaps, *unsynced = c->unsynced;
  *c = *coverage;
  c->gaps = gaps;
  c->unsynced = unsynced;
  if (coverage->gaps)
    g_array_append_vals (c->gaps, coverage->gaps->data, coverage->gaps->len);
  if (coverage->unsynced)
    g_array_append_vals (c->unsynced, coverage->unsynced->data,
        coverage->unsynced->len);
  return c;
}

void
lb_coverage_free (LbCoverage * coverage)
{
  if (coverage == NULL)
    return;
  g_clear_pointer (&coverage->gaps, g_array_unref);
  g_clear_pointer (&coverage->unsynced, g_array_unref);
  g_free (coverage);
}

static void
add_ns (JsonBuilder * b, const gchar * name, gint64 ns)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, ns);
}

static void
add_ranges (JsonBuilder * b, const gchar * name, const GArray * ranges)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (guint i = 0; ranges && i < ranges->len; i++) {
    const LbTimeRange *g = &g_array_index (ranges, LbTimeRange, i);
    json_builder_begin_array (b);
    json_builder_add_int_value (b, g->start_ns);
    json_builder_add_int_value (b, g->end_ns);
    json_builder_end_array (b);
  }
  json_builder_end_array (b);
}

gchar *
lb_store_coverage_to_text (const LbCoverage * c)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  add_ns (b, "requestedStartNs", c->requested_start_ns);
  add_ns (b, "requestedEndNs", c->requested_end_ns);
  add_ns (b, "deliveredStartNs", c->delivered_start_ns);
  add_ns (b, "deliveredEndNs", c->delivered_end_ns);
  add_ranges (b, "gaps", c->gaps);
  if (c->unsynced && c->unsynced->len > 0)
    add_ranges (b, "unsynced", c->unsynced);
  if (c->sub_stream) {
    json_builder_set_member_name (b, "stream");
    json_builder_add_string_value (b, "sub");
  }
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

void
lb_store_bind_coverage (sqlite3_stmt * stmt, gint col,
    const LbCoverage * coverage)
{
  if (coverage == NULL) {
    sqlite3_bind_null (stmt, col);
    return;
  }
  sqlite3_bind_text (stmt, col, lb_store_coverage_to_text (coverage), -1,
      g_free);
}

static gboolean
node_ns (JsonNode * n, gint64 * out)
{
  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n)
      || json_node_get_value_type (n) != G_TYPE_INT64)
    return FALSE;
  *out = json_node_get_int (n);
  return TRUE;
}

static gboolean
node_rfc3339 (JsonNode * n, gint64 * out)
{
  return n != NULL && JSON_NODE_HOLDS_VALUE (n)
      && json_node_get_value_type (n) == G_TYPE_STRING
      && lb_time_parse_rfc3339 (json_node_get_string (n), out, NULL);
}

/* Member @what + "Ns", or a first-wave row's @what + "Time". */
static gboolean
member_time (JsonObject * o, const gchar * what, gint64 * out)
{
  g_autofree gchar *ns = g_strconcat (what, "Ns", NULL);
  g_autofree gchar *text = g_strconcat (what, "Time", NULL);
  return node_ns (json_object_get_member (o, ns), out)
      || node_rfc3339 (json_object_get_member (o, text), out);
}

static gboolean
gap_from_node (JsonNode * n, LbTimeRange * gap)
{
  if (JSON_NODE_HOLDS_ARRAY (n)) {
    JsonArray *a = json_node_get_array (n);
    return json_array_get_length (a) == 2
        && node_ns (json_array_get_element (a, 0), &gap->start_ns)
        && node_ns (json_array_get_element (a, 1), &gap->end_ns);
  }
  return JSON_NODE_HOLDS_OBJECT (n)
      && member_time (json_node_get_object (n), "start", &gap->start_ns)
      && member_time (json_node_get_object (n), "end", &gap->end_ns);
}

/* The ranges of the array @n into @out; FALSE when it is not one. */
static gboolean
ranges_from_node (JsonNode * n, GArray * out)
{
  if (n == NULL || !JSON_NODE_HOLDS_ARRAY (n))
    return FALSE;
  JsonArray *a = json_node_get_array (n);
  for (guint i = 0; i < json_array_get_length (a); i++) {
    LbTimeRange range;
    if (!gap_from_node (json_array_get_element (a, i), &range))
      return FALSE;
    g_array_append_val (out, range);
  }
  return TRUE;
}

LbCoverage *
lb_store_coverage_from_text (const gchar * text)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, text, -1, NULL))
    return NULL;
  JsonNode *root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return NULL;
  JsonObject *o = json_node_get_object (root);
  g_autoptr (LbCoverage) c = lb_coverage_new ();
  if (!member_time (o, "requestedStart", &c->requested_start_ns)
      || !member_time (o, "requestedEnd", &c->requested_end_ns)
      || !member_time (o, "deliveredStart", &c->delivered_start_ns)
      || !member_time (o, "deliveredEnd", &c->delivered_end_ns))
    return NULL;
  if (!ranges_from_node (json_object_get_member (o, "gaps"), c->gaps))
    return NULL;
  JsonNode *unsynced = json_object_get_member (o, "unsynced");
  if (unsynced && !ranges_from_node (unsynced, c->unsynced))
    return NULL;
  JsonNode *stream = json_object_get_member (o, "stream");
  c->sub_stream = stream && JSON_NODE_HOLDS_VALUE (stream)
      && json_node_get_value_type (stream) == G_TYPE_STRING
      && g_strcmp0 (json_node_get_string (stream), "sub") == 0;
  return g_steal_pointer (&c);
}

LbCoverage *
lb_store_col_coverage (sqlite3_stmt * stmt, gint col)
{
  const gchar *text = (const gchar *) sqlite3_column_text (stmt, col);
  if (text == NULL)
    return NULL;
  LbCoverage *c = lb_store_coverage_from_text (text);
  if (c == NULL)
    lb_log (LB_LOG_WARNING, NULL,
        "store: a coverage column does not parse; the row shows none");
  return c;
}
