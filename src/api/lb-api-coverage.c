/* lookback — what was recorded when, and the organisation's quota (ours)
 *
 * GET /cameras/media/coverage?startTime=…&endTime=…[&vehicleIds=…][&inputs=…]
 *   Per input of the vehicles asked for (every vehicle of the box when none
 *   is named), in the configuration's order: the recorded ranges, the gaps
 *   and the parts recorded while the clock was not known to be synchronised
 *   within the window (at most 7 days), and the first and last recorded
 *   times of the input whatever the window.  What a timeline draws, and
 *   what a client needs before it asks for a retrieval.  An input with a
 *   sub-stream (sub-source=) has the same about it in `subStream`.
 *
 * GET /cameras/media/quota
 *   The calling token's organisation: usage, reservations and allowance
 *   this month, and the quotaStatus sentence a create answers.
 *
 * Both are additive (the vendor's API has neither), take a media:read token
 * and the reads' rate limit, and run on a worker thread: they read the
 * store.
 *
 * Limits: a page answers at most PAGE_INPUTS inputs (pagination as GET
 * /cameras/media: pass pagination.endCursor as `after`), and the store
 * reads one input's segments of the window at a time.  An input with more
 * than MAX_RANGES recorded ranges in the window has its shortest spaces
 * merged over until MAX_RANGES are left (such spaces are far narrower than
 * a pixel of a week-long timeline): the object then says up to which length
 * spaces were merged (`gapsMergedUpToMs`), and the gaps merged over are not
 * listed.  The parts recorded unsynchronised are bounded the same way.
 */
#include "api/lb-api-parse.h"
#include "api/lb-api-private.h"
#include "core/lb-error.h"
#include "quota/lb-quota.h"
#include "store/lb-store-footage.h"

#define PAGE_INPUTS 8
#define MAX_RANGES 1000

static gint
cmp_desc (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? 1 : x > y ? -1 : 0;
}

/* Merges the shortest spaces between @ranges (LbTimeRange, in order) until
 * at most @max ranges are left, and drops the @gaps (nullable) that end up
 * inside a merged range.  Returns the longest space merged, or 0. */
static gint64
coarsen (GArray * ranges, GArray * gaps, guint max)
{
  if (ranges->len <= max)
    return 0;
  g_autoptr (GArray) spaces = g_array_sized_new (FALSE, FALSE,
      sizeof (gint64), ranges->len - 1);
  for (guint i = 1; i < ranges->len; i++) {
    gint64 space = g_array_index (ranges, LbTimeRange, i).start_ns -
        g_array_index (ranges, LbTimeRange, i - 1).end_ns;
    g_array_append_val (spaces, space);
  }
  g_array_sort (spaces, cmp_desc);
  /* Spaces longer than this one stay: at most max - 1 of them. */
  gint64 merged = g_array_index (spaces, gint64, max - 1);
  guint n = 0;
  for (guint i = 0; i < ranges->len; i++) {
    LbTimeRange r = g_array_index (ranges, LbTimeRange, i);
    LbTimeRange *last = n ? &g_array_index (ranges, LbTimeRange, n - 1) : NULL;
    if (last && r.start_ns - last->end_ns <= merged)
      last->end_ns = MAX (last->end_ns, r.end_ns);
    else
      g_array_index (ranges, LbTimeRange, n++) = r;
  }
  g_array_set_size (ranges, n);
  guint kept = 0;
  for (guint i = 0, r = 0; gaps && i < gaps->len; i++) {
    LbTimeRange g = g_array_index (gaps, LbTimeRange, i);
    while (r < n && g_array_index (ranges, LbTimeRange, r).end_ns < g.end_ns)
      r++;
    if (r == n || g_array_index (ranges, LbTimeRange, r).start_ns > g.start_ns)
      g_array_index (gaps, LbTimeRange, kept++) = g;
  }
  if (gaps)
    g_array_set_size (gaps, kept);
  return merged;
}

/* The inputs of @c, in the configuration's order (LbInputConfig*, not
 * owned), or NULL with LB_ERROR_NOT_FOUND naming a vehicle the box does not
 * record. */
static GPtrArray *
select_inputs (LbConfig * config, const LbApiCoverage * c, GError ** error)
{
  GPtrArray *all = lb_config_get_inputs (config);
  g_autoptr (GPtrArray) out = g_ptr_array_new ();

  for (guint i = 0; c->vehicles[i]; i++)
    if (!lb_config_has_vehicle (config, c->vehicles[i])) {
      g_set_error (error, LB_ERROR, LB_ERROR_NOT_FOUND,
          "vehicleIds: this box records no vehicle '%s'.", c->vehicles[i]);
      return NULL;
    }
  for (guint i = 0; i < all->len; i++) {
    const LbInputConfig *in = all->pdata[i];
    if ((c->vehicles[0] == NULL
            || g_strv_contains ((const gchar * const *) c->vehicles,
                in->vehicle))
        && (c->inputs[0] == NULL
            || g_strv_contains ((const gchar * const *) c->inputs, in->input)))
      g_ptr_array_add (out, (gpointer) in);
  }
  return g_steal_pointer (&out);
}

/* The members about one stream of @in (@input: as it is indexed). */
static gboolean
add_stream (LbStore * store, JsonBuilder * b, const LbInputConfig * in,
    const gchar * input, const LbApiCoverage * c, GError ** error)
{
  gint64 first, last;
  g_autoptr (GArray) ranges = NULL, gaps = NULL, unsynced = NULL;

  if (!lb_store_footage_extent (store, in->vehicle, input, &first, &last, error)
      || !lb_store_coverage (store, in->vehicle, input, c->start_ns,
          c->end_ns, &ranges, &gaps, &unsynced, error))
    return FALSE;
  gint64 merged = coarsen (ranges, gaps, MAX_RANGES);
  merged = MAX (merged, coarsen (unsynced, NULL, MAX_RANGES));

  if (first != LB_TIME_NONE) {
    lb_api_json_add_time (b, "firstRecordedTime", first);
    lb_api_json_add_time (b, "lastRecordedTime", last);
  }
  lb_api_json_add_ranges (b, "recorded", ranges);
  lb_api_json_add_ranges (b, "gaps", gaps);
  lb_api_json_add_ranges (b, "unsynchronized", unsynced);
  if (merged > 0) {
    json_builder_set_member_name (b, "gapsMergedUpToMs");
    json_builder_add_double_value (b, (gdouble) (merged / 1000) / 1000.0);
  }
  return TRUE;
}

/* One object of the coverage answer. */
static gboolean
add_input (LbStore * store, JsonBuilder * b, const LbInputConfig * in,
    const LbApiCoverage * c, GError ** error)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "vehicleId");
  json_builder_add_string_value (b, in->vehicle);
  json_builder_set_member_name (b, "input");
  json_builder_add_string_value (b, in->input);
  if (in->role) {
    json_builder_set_member_name (b, "cameraRole");
    json_builder_add_string_value (b, in->role);
  }
  if (!add_stream (store, b, in, in->input, c, error))
    return FALSE;
  if (in->sub_source) {
    g_autofree gchar *sub = lb_footage_sub_input (in->input);
    json_builder_set_member_name (b, "subStream");
    json_builder_begin_object (b);
    if (!add_stream (store, b, in, sub, c, error))
      return FALSE;
    json_builder_end_object (b);
  }
  json_builder_end_object (b);
  return TRUE;
}

/* The page of @inputs (LbInputConfig*) from the cursor of @c on. */
static JsonNode *
coverage_page (LbStore * store, const LbApiCoverage * c, GPtrArray * inputs,
    GError ** error)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  guint from = MIN ((guint64) c->after, inputs->len);
  guint to = MIN (from + PAGE_INPUTS, inputs->len);
  g_autofree gchar *cursor = to < inputs->len ? lb_api_cursor_encode (to)
      : g_strdup ("");

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "data");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "coverage");
  json_builder_begin_array (b);
  for (guint i = from; i < to; i++)
    if (!add_input (store, b, inputs->pdata[i], c, error))
      return NULL;
  json_builder_end_array (b);
  json_builder_end_object (b);
  lb_api_json_add_pagination (b, cursor, to < inputs->len);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* GET /cameras/media/coverage */
void
lb_api_route_coverage (LbApiRequest * req)
{
  LbApiServer *server = req->server;
  g_autoptr (GError) error = NULL;
  g_autoptr (LbToken) token = NULL;
  g_autoptr (LbApiCoverage) c = NULL;
  g_autoptr (GPtrArray) inputs = NULL;
  g_autoptr (JsonNode) root = NULL;

  token = lb_api_authorize (req, "media:read", server->reads);
  if (token == NULL)
    return;                     /* the reply is set */
  c = lb_api_coverage_parse (req->query, &error);
  if (c == NULL || !(inputs = select_inputs (server->config, c, &error))
      || !(root = coverage_page (server->store, c, inputs, &error))) {
    lb_api_reply_gerror (req, error);
    return;
  }
  lb_api_reply_json (req, SOUP_STATUS_OK, root);
}

static void
add_seconds (JsonBuilder * b, const gchar * name, gdouble seconds)
{
  json_builder_set_member_name (b, name);
  json_builder_add_double_value (b, seconds);
}

/* GET /cameras/media/quota */
void
lb_api_route_quota (LbApiRequest * req)
{
  LbApiServer *server = req->server;
  g_autoptr (GError) error = NULL;
  g_autoptr (LbToken) token = NULL;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  gdouble used = 0, reserved = 0;

  token = lb_api_authorize (req, "media:read", server->reads);
  if (token == NULL)
    return;                     /* the reply is set */
  gint64 now = lb_api_now (server);
  if (!lb_quota_get_usage (server->store, token->org, now, &used, &reserved,
          &error)) {
    lb_api_reply_gerror (req, error);
    return;
  }
  gdouble allowance = lb_config_get_org_allowance (server->config, token->org);
  g_autofree gchar *period = lb_quota_period (now);
  g_autofree gchar *sentence = lb_quota_status_sentence (used, allowance);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "data");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "organization");
  json_builder_add_string_value (b, token->org);
  json_builder_set_member_name (b, "period");
  json_builder_add_string_value (b, period);
  lb_api_json_add_time (b, "periodEndTime", lb_quota_period_end (now));
  add_seconds (b, "usedSeconds", used);
  add_seconds (b, "reservedSeconds", reserved);
  add_seconds (b, "allowanceSeconds", allowance);
  json_builder_set_member_name (b, "quotaStatus");
  json_builder_add_string_value (b, sentence);
  json_builder_end_object (b);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  lb_api_reply_json (req, SOUP_STATUS_OK, root);
}
