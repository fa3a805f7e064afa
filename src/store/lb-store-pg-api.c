/* lookback — store area 'api' on PostgreSQL (cluster mode): the contract
 * of lb-store-api.h, for rows shared by every node (lb-store-cluster.h) */
#include "store/lb-store-pg.h"
#include "core/lb-error.h"
#include "core/lb-log.h"
#include "core/lb-sign.h"
#include "core/lb-time.h"

#include <json-glib/json-glib.h>
#include <string.h>

/* The quota books are kept by a trigger, as in SQLite: a row counts its
 * reservation while pending or running, its committed cost once available.
 * The trigger does nothing when a row moves between pending and running
 * (claims, defers), so that only creates and finishes lock an
 * organisation's books.
 *
 * api_create () is one create: the books row of the organisation and
 * period is locked, the allowance checked (usage + reservations + this
 * request), the rows inserted with their owner (the node that records
 * their vehicle and input, from the registry), and each owner notified —
 * all in one statement whose commit is asynchronous: the caller waits for
 * the flush afterwards (lb-store-pg.h), not while it holds the books. */
static const gchar *const api_steps[] = {
  /* 1 */
  "CREATE TABLE api_tokens ("
      "  id bigserial PRIMARY KEY,"
      "  hash text NOT NULL UNIQUE,"
      "  org text NOT NULL,"
      "  scopes text NOT NULL,"
      "  created_ns bigint NOT NULL,"
      "  revoked_ns bigint NOT NULL DEFAULT 0);"
      "CREATE TABLE api_retrievals ("
      "  id bigserial PRIMARY KEY,"
      "  retrieval_id text NOT NULL,"
      "  media_id text NOT NULL UNIQUE,"
      "  org text NOT NULL,"
      "  vehicle text NOT NULL,"
      "  input text,"
      "  camera_role text,"
      "  media_type text NOT NULL,"
      "  priority integer NOT NULL,"
      "  trigger_reason text NOT NULL DEFAULT 'api',"
      "  start_ns bigint NOT NULL,"
      "  end_ns bigint NOT NULL,"
      "  status text NOT NULL,"
      "  progress double precision NOT NULL DEFAULT 0,"
      "  not_before_ns bigint NOT NULL DEFAULT 0,"
      "  created_ns bigint NOT NULL,"
      "  attempts integer NOT NULL DEFAULT 0,"
      "  period text NOT NULL,"
      "  cost_reserved double precision NOT NULL DEFAULT 0,"
      "  cost_committed double precision NOT NULL DEFAULT 0,"
      "  output_path text,"
      "  content_type text,"
      "  delivered_start_ns bigint,"
      "  delivered_end_ns bigint,"
      "  coverage text,"
      "  available_ns bigint NOT NULL DEFAULT 0,"
      "  failure_reason text,"
      "  public_url text,"
      "  owner text,"
      "  media_base text);"
      "CREATE INDEX api_retrievals_by_request ON api_retrievals (retrieval_id);"
      "CREATE INDEX api_retrievals_queue ON api_retrievals"
      "  (owner, priority, created_ns, id) WHERE status = 'pending';"
      "CREATE INDEX api_retrievals_open ON api_retrievals (owner, created_ns, id)"
      "  WHERE status IN ('pending', 'running');"
      "CREATE INDEX api_retrievals_media ON api_retrievals (org, vehicle, id)"
      "  WHERE status = 'available';"
      "CREATE TABLE api_quota_books ("
      "  org text NOT NULL,"
      "  period text NOT NULL,"
      "  used double precision NOT NULL DEFAULT 0,"
      "  reserved double precision NOT NULL DEFAULT 0,"
      "  PRIMARY KEY (org, period));"
      "CREATE TABLE api_secrets (name text PRIMARY KEY, value text NOT NULL);"
      "CREATE FUNCTION api_books_add (p_org text, p_period text,"
      "    p_used double precision, p_reserved double precision)"
      "  RETURNS void LANGUAGE plpgsql AS $$ BEGIN"
      "  IF p_used = 0 AND p_reserved = 0 THEN RETURN; END IF;"
      "  INSERT INTO api_quota_books AS b (org, period, used, reserved)"
      "    VALUES (p_org, p_period, p_used, p_reserved)"
      "    ON CONFLICT (org, period) DO UPDATE SET used = b.used + EXCLUDED.used,"
      "      reserved = b.reserved + EXCLUDED.reserved;"
      "  END $$;"
      "CREATE FUNCTION api_retrievals_books () RETURNS trigger"
      "  LANGUAGE plpgsql AS $$ BEGIN"
      "  IF TG_OP <> 'INSERT' THEN"
      "    PERFORM api_books_add (OLD.org, OLD.period,"
      "      - (CASE WHEN OLD.status = 'available' THEN OLD.cost_committed ELSE 0 END),"
      "      - (CASE WHEN OLD.status IN ('pending', 'running') THEN OLD.cost_reserved ELSE 0 END));"
      "  END IF;"
      "  IF TG_OP <> 'DELETE' THEN"
      "    PERFORM api_books_add (NEW.org, NEW.period,"
      "      CASE WHEN NEW.status = 'available' THEN NEW.cost_committed ELSE 0 END,"
      "      CASE WHEN NEW.status IN ('pending', 'running') THEN NEW.cost_reserved ELSE 0 END);"
      "  END IF;"
      "  RETURN NULL;"
      "  END $$;"
      "CREATE TRIGGER api_retrievals_books AFTER INSERT OR DELETE ON api_retrievals"
      "  FOR EACH ROW EXECUTE FUNCTION api_retrievals_books ();"
      "CREATE TRIGGER api_retrievals_books_update"
      "  AFTER UPDATE OF org, period, status, cost_reserved, cost_committed"
      "  ON api_retrievals FOR EACH ROW"
      "  WHEN (OLD.org IS DISTINCT FROM NEW.org OR OLD.period IS DISTINCT FROM NEW.period"
      "    OR (OLD.status = 'available') <> (NEW.status = 'available')"
      "    OR (OLD.status IN ('pending', 'running')) <> (NEW.status IN ('pending', 'running'))"
      "    OR OLD.cost_reserved <> NEW.cost_reserved"
      "    OR OLD.cost_committed <> NEW.cost_committed)"
      "  EXECUTE FUNCTION api_retrievals_books ();"
      "CREATE FUNCTION api_create (p_org text, p_period text,"
      "    p_allowance double precision, p_cost double precision, p_rows jsonb,"
      "    OUT ok boolean, OUT used double precision,"
      "    OUT reserved double precision, OUT ids bigint[])"
      "  LANGUAGE plpgsql AS $$"
      "  DECLARE r jsonb; new_id bigint;"
      "  BEGIN"
      "  PERFORM set_config ('synchronous_commit', 'off', true);"
      "  INSERT INTO api_quota_books (org, period) VALUES (p_org, p_period)"
      "    ON CONFLICT DO NOTHING;"
      "  SELECT GREATEST (b.used, 0), GREATEST (b.reserved, 0) INTO used, reserved"
      "    FROM api_quota_books b WHERE b.org = p_org AND b.period = p_period"
      "    FOR UPDATE;"
      /* a small tolerance: ten images of 0.1 fit an allowance of 1.0 */
      "  ok := p_cost <= 0 OR used + reserved + p_cost <= p_allowance + 1e-9;"
      "  IF NOT ok THEN RETURN; END IF;"
      "  ids := '{}';"
      "  FOR r IN SELECT value FROM jsonb_array_elements (p_rows) LOOP"
      "    INSERT INTO api_retrievals (retrieval_id, media_id, org, vehicle, input,"
      "      camera_role, media_type, priority, trigger_reason, start_ns, end_ns,"
      "      status, created_ns, period, cost_reserved, failure_reason, owner)"
      "    VALUES (r->>'retrieval_id', r->>'media_id', p_org, r->>'vehicle',"
      "      r->>'input', r->>'camera_role', r->>'media_type',"
      "      (r->>'priority')::integer, r->>'trigger_reason',"
      "      (r->>'start_ns')::bigint, (r->>'end_ns')::bigint, r->>'status',"
      "      (r->>'created_ns')::bigint, p_period,"
      "      (r->>'cost_reserved')::double precision, r->>'failure_reason',"
      "      CASE WHEN r->>'status' = 'pending' THEN (SELECT ci.node"
      "        FROM cluster_inputs ci WHERE ci.vehicle = r->>'vehicle'"
      "        AND ci.input = r->>'input') END)"
      "    RETURNING id INTO new_id;"
      "    ids := ids || new_id;"
      "  END LOOP;"
      "  PERFORM pg_notify ('lb_work', o) FROM (SELECT DISTINCT owner AS o"
      "    FROM api_retrievals WHERE id = ANY (ids) AND owner IS NOT NULL) s;"
      "  END $$;"
      /* a claim lost with the database's last moments before a crash only
       * runs its row once more: its commit does not wait for the disk */
      "CREATE FUNCTION api_claim (p_owner text, p_now bigint)"
      "  RETURNS SETOF api_retrievals LANGUAGE plpgsql AS $$ BEGIN"
      "  PERFORM set_config ('synchronous_commit', 'off', true);"
      "  RETURN QUERY UPDATE api_retrievals"
      "    SET status = 'running', attempts = attempts + 1"
      "    WHERE id = (SELECT id FROM api_retrievals WHERE owner = p_owner"
      "      AND status = 'pending' AND not_before_ns <= p_now"
      "      ORDER BY priority, created_ns, id LIMIT 1 FOR UPDATE SKIP LOCKED)"
      "    RETURNING *;" "  END $$;",
  NULL,
};

const LbStoreSchema lb_store_pg_api_schema = { "api", api_steps };

#define PG_ROW_COLUMNS LB_STORE_ROW_COLUMNS ", owner, media_base"
#define SELECT_ROWS "SELECT " PG_ROW_COLUMNS " FROM api_retrievals "

/* Rows are open while pending or running; only their owner ends them. */
#define OPEN_OWN "WHERE id = $1 AND owner = $2 AND status IN ('pending', 'running')"

static LbRetrieval *
row_from_result (const PGresult * res, gint i)
{
  LbRetrieval *r = lb_retrieval_new ();
  gint c = 0;
  r->id = lb_pg_get_int (res, i, c++);
  r->retrieval_id = lb_pg_get_text (res, i, c++);
  r->media_id = lb_pg_get_text (res, i, c++);
  r->org = lb_pg_get_text (res, i, c++);
  r->vehicle = lb_pg_get_text (res, i, c++);
  r->input = lb_pg_get_text (res, i, c++);
  r->camera_role = lb_pg_get_text (res, i, c++);
  r->media_type = lb_store_media_type_from_text (PQgetvalue (res, i, c++));
  r->trigger_reason = lb_pg_get_text (res, i, c++);
  r->start_ns = lb_pg_get_int (res, i, c++);
  r->end_ns = lb_pg_get_int (res, i, c++);
  r->status = lb_store_status_from_text (PQgetvalue (res, i, c++));
  r->progress = lb_pg_get_double (res, i, c++);
  r->not_before_ns = lb_pg_get_int (res, i, c++);
  r->created_ns = lb_pg_get_int (res, i, c++);
  r->attempts = (gint) lb_pg_get_int (res, i, c++);
  r->period = lb_pg_get_text (res, i, c++);
  r->cost_reserved = lb_pg_get_double (res, i, c++);
  r->cost_committed = lb_pg_get_double (res, i, c++);
  r->output_path = lb_pg_get_text (res, i, c++);
  r->content_type = lb_pg_get_text (res, i, c++);
  r->delivered_start_ns = lb_pg_get_time (res, i, c++);
  r->delivered_end_ns = lb_pg_get_time (res, i, c++);
  if (!PQgetisnull (res, i, c))
    r->coverage = lb_store_coverage_from_text (PQgetvalue (res, i, c));
  c++;
  r->available_ns = lb_pg_get_int (res, i, c++);
  r->failure_reason = lb_pg_get_text (res, i, c++);
  r->public_url = lb_pg_get_text (res, i, c++);
  r->owner = lb_pg_get_text (res, i, c++);
  r->media_base = lb_pg_get_text (res, i, c++);
  return r;
}

static GPtrArray *
rows_from_result (const PGresult * res)
{
  GPtrArray *rows =
      g_ptr_array_new_with_free_func ((GDestroyNotify) lb_retrieval_free);
  for (gint i = 0; i < PQntuples (res); i++)
    g_ptr_array_add (rows, row_from_result (res, i));
  return rows;
}

/* ---- API side ---------------------------------------------------------- */

static void
add_member (JsonBuilder * b, const gchar * name, const gchar * text)
{
  json_builder_set_member_name (b, name);
  if (text)
    json_builder_add_string_value (b, text);
  else
    json_builder_add_null_value (b);
}

static void
add_int_member (JsonBuilder * b, const gchar * name, gint64 value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, value);
}

/* The rows of one create, as api_create () reads them. */
static gchar *
rows_json (GPtrArray * rows)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_array (b);
  for (guint i = 0; i < rows->len; i++) {
    const LbRetrieval *r = rows->pdata[i];
    gboolean invalid = r->status == LB_RETRIEVAL_INVALID;
    json_builder_begin_object (b);
    add_member (b, "retrieval_id", r->retrieval_id);
    add_member (b, "media_id", r->media_id);
    add_member (b, "vehicle", r->vehicle);
    add_member (b, "input", r->input);
    add_member (b, "camera_role", r->camera_role);
    add_member (b, "media_type", lb_media_type_to_string (r->media_type));
    add_int_member (b, "priority", lb_media_type_priority (r->media_type));
    add_member (b, "trigger_reason", r->trigger_reason ? r->trigger_reason
        : "api");
    add_int_member (b, "start_ns", r->start_ns);
    add_int_member (b, "end_ns", r->end_ns);
    add_member (b, "status", lb_retrieval_status_to_string (r->status));
    add_int_member (b, "created_ns", r->created_ns);
    json_builder_set_member_name (b, "cost_reserved");
    json_builder_add_double_value (b, invalid ? 0 : r->cost_reserved);
    add_member (b, "failure_reason", r->failure_reason);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

/* "{1,2,3}" into the rows' ids, in order. */
static void
set_ids (GPtrArray * rows, const gchar * array)
{
  const gchar *p = array + (*array == '{');
  for (guint i = 0; i < rows->len && *p && *p != '}'; i++) {
    gchar *end;
    ((LbRetrieval *) rows->pdata[i])->id = g_ascii_strtoll (p, &end, 10);
    p = *end == ',' ? end + 1 : end;
  }
}

gboolean
lb_store_pg_create_retrieval (LbStorePg * pg, GPtrArray * rows,
    gdouble allowance, gdouble cost, gdouble * out_used, GError ** error)
{
  const LbRetrieval *first = rows->pdata[0];
  g_autofree gchar *json = rows_json (rows);
  g_auto (LbPgParams) p = { 0 };
  lb_pg_text (&p, first->org);
  lb_pg_text (&p, first->period);
  lb_pg_double (&p, allowance);
  lb_pg_double (&p, cost);
  lb_pg_text (&p, json);
  g_autoptr (PGresult) res = lb_store_pg_run (pg, LB_PG_DURABLE,
      "SELECT ok, used, reserved, ids FROM api_create ($1, $2, $3, $4, $5::jsonb)",
      &p, error);
  if (res == NULL)
    return FALSE;
  gdouble used = lb_pg_get_double (res, 0, 1);
  if (out_used)
    *out_used = used;
  if (!lb_pg_get_bool (res, 0, 0)) {
    lb_store_quota_refused (error, used, lb_pg_get_double (res, 0, 2), cost,
        allowance);
    return FALSE;
  }
  set_ids (rows, PQgetvalue (res, 0, 3));
  return TRUE;
}

/* The rows @sql selects with @p: none is not an error here. */
static GPtrArray *
select_rows (LbStorePg * pg, LbPgFlags flags, const gchar * sql,
    const LbPgParams * p, GError ** error)
{
  g_autoptr (PGresult) res = lb_store_pg_run (pg, flags, sql, p, error);
  return res ? rows_from_result (res) : NULL;
}

/* The first row @sql selects with @p, or LB_ERROR_NOT_FOUND with @missing. */
static gboolean
select_one (LbStorePg * pg, const gchar * sql, const LbPgParams * p,
    LbRetrieval ** out, const gchar * missing, GError ** error)
{
  g_autoptr (GPtrArray) rows = select_rows (pg, LB_PG_READ, sql, p, error);
  if (rows == NULL)
    return FALSE;
  if (rows->len == 0) {
    g_set_error_literal (error, LB_ERROR, LB_ERROR_NOT_FOUND, missing);
    return FALSE;
  }
  *out = g_ptr_array_steal_index (rows, 0);
  return TRUE;
}

gboolean
lb_store_pg_get_retrieval (LbStorePg * pg, const gchar * retrieval_id,
    const gchar * org, GPtrArray ** out_rows, GError ** error)
{
  g_auto (LbPgParams) p = { 0 };
  lb_pg_text (&p, retrieval_id);
  lb_pg_text (&p, org);
  *out_rows = select_rows (pg, LB_PG_READ, SELECT_ROWS
      "WHERE retrieval_id = $1 AND org = $2 ORDER BY id", &p, error);
  return *out_rows != NULL;
}

gboolean
lb_store_pg_get_media (LbStorePg * pg, const gchar * media_id,
    LbRetrieval ** out, GError ** error)
{
  g_auto (LbPgParams) p = { 0 };
  lb_pg_text (&p, media_id);
  g_autofree gchar *missing = g_strdup_printf ("No media with id %s.",
      media_id);
  return select_one (pg, SELECT_ROWS
      "WHERE media_id = $1 AND status = 'available'", &p, out, missing, error);
}

gboolean
lb_store_pg_get (LbStorePg * pg, gint64 id, LbRetrieval ** out, GError ** error)
{
  g_auto (LbPgParams) p = { 0 };
  lb_pg_int (&p, id);
  g_autofree gchar *missing = g_strdup_printf ("No retrieval row %"
      G_GINT64_FORMAT ".", id);
  return select_one (pg, SELECT_ROWS "WHERE id = $1", &p, out, missing, error);
}

gboolean
lb_store_pg_find (LbStorePg * pg, const gchar * retrieval_id,
    const gchar * input, LbRetrieval ** out, GError ** error)
{
  g_auto (LbPgParams) p = { 0 };
  lb_pg_text (&p, retrieval_id);
  lb_pg_text (&p, input);
  g_autofree gchar *missing = g_strdup_printf ("No retrieval %s for input %s.",
      retrieval_id, input);
  return select_one (pg, SELECT_ROWS
      "WHERE retrieval_id = $1 AND input = $2 ORDER BY id LIMIT 1", &p, out,
      missing, error);
}

gboolean
lb_store_pg_list_media (LbStorePg * pg, const LbMediaFilter * f,
    GPtrArray ** out_rows, gboolean * out_more, GError ** error)
{
  const gchar *types[LB_MEDIA_TYPE_COUNT + 1];
  lb_store_media_type_names (f->media_types, types);

  g_auto (LbPgParams) p = { 0 };
  lb_pg_text (&p, f->org);
  lb_pg_int (&p, f->after_id);
  lb_pg_int (&p, f->start_ns);
  lb_pg_int (&p, f->end_ns);
  lb_pg_text_array (&p, f->vehicles);
  lb_pg_text_array (&p, f->inputs);
  lb_pg_text_array (&p, types);
  lb_pg_text_array (&p, f->trigger_reasons);
  if (f->available_after_ns == LB_TIME_NONE)
    lb_pg_text (&p, NULL);
  else
    lb_pg_int (&p, f->available_after_ns);
  lb_pg_int (&p, (gint64) f->limit + 1);
  g_autoptr (GPtrArray) rows = select_rows (pg, LB_PG_READ, SELECT_ROWS
      "WHERE org = $1 AND status = 'available' AND id > $2"
      " AND delivered_end_ns >= $3 AND delivered_start_ns <= $4"
      " AND vehicle = ANY ($5::text[])"
      " AND ($6::text[] IS NULL OR input = ANY ($6::text[]))"
      " AND ($7::text[] IS NULL OR media_type = ANY ($7::text[]))"
      " AND ($8::text[] IS NULL OR trigger_reason = ANY ($8::text[]))"
      " AND ($9::bigint IS NULL OR available_ns > $9::bigint)"
      " ORDER BY id LIMIT $10", &p, error);
  if (rows == NULL)
    return FALSE;
  lb_store_media_page (g_steal_pointer (&rows), f, out_rows, out_more);
  return TRUE;
}

gboolean
lb_store_pg_quota_usage (LbStorePg * pg, const gchar * org,
    const gchar * period, gdouble * out_used, gdouble * out_reserved,
    GError ** error)
{
  g_auto (LbPgParams) p = { 0 };
  lb_pg_text (&p, org);
  lb_pg_text (&p, period);
  g_autoptr (PGresult) res = lb_store_pg_run (pg, LB_PG_READ,
      "SELECT GREATEST (used, 0), GREATEST (reserved, 0) FROM api_quota_books"
      " WHERE org = $1 AND period = $2", &p, error);
  if (res == NULL)
    return FALSE;
  gboolean any = PQntuples (res) > 0;
  if (out_used)
    *out_used = any ? lb_pg_get_double (res, 0, 0) : 0;
  if (out_reserved)
    *out_reserved = any ? lb_pg_get_double (res, 0, 1) : 0;
  return TRUE;
}

gboolean
lb_store_pg_count_status (LbStorePg * pg, gint64 * counts, GError ** error)
{
  g_autoptr (PGresult) res = lb_store_pg_run (pg, LB_PG_READ,
      "SELECT status, COUNT (*) FROM api_retrievals GROUP BY status", NULL,
      error);
  if (res == NULL)
    return FALSE;
  for (gint i = 0; i < PQntuples (res); i++)
    counts[lb_store_status_from_text (PQgetvalue (res, i, 0))] +=
        lb_pg_get_int (res, i, 1);
  return TRUE;
}

gboolean
lb_store_pg_pending_summary (LbStorePg * pg, gint64 * out_count,
    gint64 * out_oldest_ns, GError ** error)
{
  /* the node's own queue (a client's: every node's) */
  g_auto (LbPgParams) p = { 0 };
  lb_pg_text (&p, lb_store_pg_node (pg));
  g_autoptr (PGresult) res = lb_store_pg_run (pg, LB_PG_READ,
      "SELECT COUNT (*), COALESCE (MIN (created_ns), 0) FROM api_retrievals"
      " WHERE status IN ('pending', 'running')"
      "   AND ($1::text IS NULL OR owner = $1)", &p, error);
  if (res == NULL)
    return FALSE;
  *out_count = lb_pg_get_int (res, 0, 0);
  *out_oldest_ns = lb_pg_get_int (res, 0, 1);
  return TRUE;
}

/* ---- job side ---------------------------------------------------------- */

gboolean
lb_store_pg_claim_next (LbStorePg * pg, gint64 now_ns, LbRetrieval ** out,
    GError ** error)
{
  *out = NULL;
  /* The rows this node left running are requeued before it claims any;
   * offline, there is nothing to claim. */
  if (!lb_store_pg_ready (pg))
    return TRUE;
  g_auto (LbPgParams) p = { 0 };
  lb_pg_text (&p, lb_store_pg_node (pg));
  lb_pg_int (&p, now_ns);
  g_autoptr (GError) local = NULL;
  g_autoptr (GPtrArray) rows = select_rows (pg, LB_PG_WRITE,
      "SELECT " PG_ROW_COLUMNS " FROM api_claim ($1, $2)", &p, &local);
  if (rows == NULL && g_error_matches (local, LB_ERROR, LB_ERROR_OFFLINE))
    return TRUE;
  if (rows == NULL) {
    g_propagate_error (error, g_steal_pointer (&local));
    return FALSE;
  }
  if (rows->len)
    *out = g_ptr_array_steal_index (rows, 0);
  return TRUE;
}

gboolean
lb_store_pg_list_open (LbStorePg * pg, GPtrArray ** out_rows, GError ** error)
{
  g_auto (LbPgParams) p = { 0 };
  lb_pg_text (&p, lb_store_pg_node (pg));
  g_autoptr (GError) local = NULL;
  GPtrArray *rows = select_rows (pg, LB_PG_READ, SELECT_ROWS
      "WHERE owner = $1 AND status IN ('pending', 'running')"
      " ORDER BY created_ns, id", &p, &local);
  /* Offline, nothing is known to wait: rows waiting for footage are then
   * looked at again at their deadline. */
  if (rows == NULL && g_error_matches (local, LB_ERROR, LB_ERROR_OFFLINE))
    rows = g_ptr_array_new_with_free_func ((GDestroyNotify) lb_retrieval_free);
  if (rows == NULL) {
    g_propagate_error (error, g_steal_pointer (&local));
    return FALSE;
  }
  *out_rows = rows;
  return TRUE;
}

gboolean
lb_store_pg_requeue_own (LbStorePg * pg, LbPgConn * conn, guint * out_count,
    GError ** error)
{
  g_auto (LbPgParams) p = { 0 };
  lb_pg_text (&p, lb_store_pg_node (pg));
  g_autoptr (PGresult) res = lb_store_pg_run_on (pg, conn,
      "UPDATE api_retrievals SET status = 'pending', progress = 0"
      " WHERE owner = $1 AND status = 'running'", &p, error);
  if (res == NULL)
    return FALSE;
  *out_count = (guint) g_ascii_strtoull (PQcmdTuples (res), NULL, 10);
  return TRUE;
}

/* ---- the journal, applied ---------------------------------------------- */

typedef struct
{
  const gchar *sql;             /* $1 the row, $2 the node, then below */
  gboolean ends;                /* ends the row: it matters when it did not */
} JournalSql;

static const JournalSql journal_sql[] = {
  [LB_JOURNAL_PROGRESS] = {"UPDATE api_retrievals SET progress = $3 " OPEN_OWN},
  [LB_JOURNAL_AVAILABLE] = {"UPDATE api_retrievals SET status = 'available',"
        " progress = 1, output_path = $3, content_type = $4,"
        " delivered_start_ns = $5, delivered_end_ns = $6, coverage = $7,"
        " available_ns = $8, cost_committed = $9, failure_reason = NULL,"
        " media_base = $10 " OPEN_OWN, TRUE},
  [LB_JOURNAL_FAILED] = {"UPDATE api_retrievals SET status = 'failed',"
        " failure_reason = $3, cost_committed = 0 " OPEN_OWN, TRUE},
  [LB_JOURNAL_UNAVAILABLE] =
      {"UPDATE api_retrievals SET status = 'unavailable',"
        " failure_reason = $3, cost_committed = 0 " OPEN_OWN, TRUE},
  [LB_JOURNAL_PUBLIC_URL] =
      {"UPDATE api_retrievals SET public_url = $3 " OPEN_OWN},
  [LB_JOURNAL_DEFER] =
      {"UPDATE api_retrievals SET status = 'pending'," " not_before_ns = $3 "
        OPEN_OWN},
  [LB_JOURNAL_WAKE] =
      {"UPDATE api_retrievals SET not_before_ns = 0"
        " WHERE id = $1 AND owner = $2 AND status = 'pending'"
        " AND not_before_ns > 0"},
};

static void
journal_params (LbStorePg * pg, const LbJournalEntry * e, LbPgParams * p)
{
  lb_pg_int (p, e->row);
  lb_pg_text (p, lb_store_pg_node (pg));
  switch (e->kind) {
    case LB_JOURNAL_PROGRESS:
      lb_pg_double (p, e->number);
      break;
    case LB_JOURNAL_AVAILABLE:{
      g_autofree gchar *coverage =
          e->coverage ? lb_store_coverage_to_text (e->coverage) : NULL;
      lb_pg_text (p, e->text);
      lb_pg_text (p, e->content_type);
      lb_pg_int (p, e->delivered_start_ns);
      lb_pg_int (p, e->delivered_end_ns);
      lb_pg_text (p, coverage);
      lb_pg_int (p, e->available_ns);
      lb_pg_double (p, MAX (e->number, 0.0));
      lb_pg_text (p, lb_store_pg_advertise (pg));
      break;
    }
    case LB_JOURNAL_FAILED:
    case LB_JOURNAL_UNAVAILABLE:
    case LB_JOURNAL_PUBLIC_URL:
      lb_pg_text (p, e->text);
      break;
    case LB_JOURNAL_DEFER:
      lb_pg_int (p, e->not_before_ns);
      break;
    case LB_JOURNAL_WAKE:
      break;
  }
}

/* One entry; FALSE only when the statement failed. */
static gboolean
apply_entry (LbStorePg * pg, LbPgConn * conn, const LbJournalEntry * e,
    gboolean * woke, GError ** error)
{
  g_auto (LbPgParams) p = { 0 };
  journal_params (pg, e, &p);
  g_autoptr (PGresult) res =
      lb_store_pg_run_on (pg, conn, journal_sql[e->kind].sql, &p, error);
  if (res == NULL)
    return FALSE;
  gboolean changed = g_strcmp0 (PQcmdTuples (res), "0") != 0;
  if (!changed && journal_sql[e->kind].ends)
    lb_log (LB_LOG_WARNING, NULL, "retrieval row %" G_GINT64_FORMAT " was "
        "ended elsewhere before this node's outcome reached the cluster "
        "database; that outcome is dropped", e->row);
  *woke |= changed && (e->kind == LB_JOURNAL_DEFER
      || e->kind == LB_JOURNAL_WAKE);
  return TRUE;
}

/* Entries that the batch could not take, one transaction each: one that
 * the database refuses is logged and dropped, never retried for ever. */
static gboolean
apply_singly (LbStorePg * pg, LbPgConn * conn, GPtrArray * head,
    gboolean * woke, GError ** error)
{
  for (guint i = 0; i < head->len; i++) {
    g_autoptr (GError) local = NULL;
    if (apply_entry (pg, conn, head->pdata[i], woke, &local))
      continue;
    if (g_error_matches (local, LB_ERROR, LB_ERROR_OFFLINE)) {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
    lb_log (LB_LOG_ERROR, NULL, "retrieval row %" G_GINT64_FORMAT ": its "
        "outcome could not be recorded and is dropped: %s",
        ((LbJournalEntry *) head->pdata[i])->row, local->message);
  }
  return TRUE;
}

/* @head in one transaction whose commit does not hold the books through
 * the flush; then the flush. */
static gboolean
apply_batch (LbStorePg * pg, LbPgConn * conn, GPtrArray * head,
    gboolean * woke, GError ** error)
{
  g_autoptr (GError) local = NULL;
  gboolean ok = lb_store_pg_command (pg, conn,
      "BEGIN; SET LOCAL synchronous_commit = off", &local);
  for (guint i = 0; ok && i < head->len; i++)
    ok = apply_entry (pg, conn, head->pdata[i], woke, &local);
  ok = ok && lb_store_pg_command (pg, conn, "COMMIT", &local);
  if (!ok && !g_error_matches (local, LB_ERROR, LB_ERROR_OFFLINE)) {
    lb_store_pg_command (pg, conn, "ROLLBACK", NULL);
    g_clear_error (&local);
    ok = apply_singly (pg, conn, head, woke, &local);
  }
  if (ok) {
    g_autoptr (PGresult) flushed = lb_store_pg_run_on (pg, conn,
        "SELECT txid_current ()", NULL, &local);
    ok = flushed != NULL;
  }
  if (!ok)
    g_propagate_error (error, g_steal_pointer (&local));
  return ok;
}

gboolean
lb_store_pg_apply_journal (LbStorePg * pg, LbPgConn * conn,
    gboolean * out_woke, GError ** error)
{
  gboolean woke = FALSE;
  for (;;) {
    g_autoptr (GPtrArray) head =
        lb_store_journal_head (lb_store_pg_store (pg), 64, error);
    if (head == NULL)
      return FALSE;
    if (head->len == 0)
      break;
    gboolean ok = apply_batch (pg, conn, head, &woke, error);
    if (!ok)
      return FALSE;
    gint64 last = ((LbJournalEntry *) head->pdata[head->len - 1])->id;
    if (!lb_store_journal_drop (lb_store_pg_store (pg), last, error))
      return FALSE;
    lb_store_pg_kick (pg, -(gint) head->len);
  }
  if (out_woke)
    *out_woke = woke;
  return TRUE;
}

/* ---- tokens and the signing key --------------------------------------- */

static LbToken *
token_from_result (const PGresult * res, gint i)
{
  LbToken *t = g_new0 (LbToken, 1);
  t->id = lb_pg_get_int (res, i, 0);
  t->org = lb_pg_get_text (res, i, 1);
  t->scopes = lb_pg_get_text (res, i, 2);
  t->created_ns = lb_pg_get_int (res, i, 3);
  t->revoked_ns = lb_pg_get_int (res, i, 4);
  return t;
}

gboolean
lb_store_pg_token_add (LbStorePg * pg, const gchar * hash, const gchar * org,
    const gchar * scopes, gint64 created_ns, gint64 * out_id, GError ** error)
{
  g_auto (LbPgParams) p = { 0 };
  lb_pg_text (&p, hash);
  lb_pg_text (&p, org);
  lb_pg_text (&p, scopes);
  lb_pg_int (&p, created_ns);
  g_autoptr (PGresult) res = lb_store_pg_run (pg, LB_PG_WRITE,
      "INSERT INTO api_tokens (hash, org, scopes, created_ns)"
      " VALUES ($1, $2, $3, $4) RETURNING id", &p, error);
  if (res && out_id)
    *out_id = lb_pg_get_int (res, 0, 0);
  return res != NULL;
}

static gpointer
token_copy (gconstpointer data, gpointer unused)
{
  const LbToken *t = data;
  LbToken *c = g_new0 (LbToken, 1);
  *c = *t;
  c->org = g_strdup (t->org);
  c->scopes = g_strdup (t->scopes);
  return c;
}

/* Every request asks: a node keeps the valid tokens it has seen; a
 * revocation empties every node's cache (NOTIFY lb_tokens). */
gboolean
lb_store_pg_token_lookup (LbStorePg * pg, const gchar * hash, LbToken ** out,
    GError ** error)
{
  *out = lb_store_pg_cache_get (pg, LB_PG_CACHE_TOKENS, hash, token_copy);
  if (*out)
    return TRUE;
  g_auto (LbPgParams) p = { 0 };
  lb_pg_text (&p, hash);
  g_autoptr (PGresult) res = lb_store_pg_run (pg, LB_PG_READ,
      "SELECT id, org, scopes, created_ns, revoked_ns FROM api_tokens"
      " WHERE hash = $1 AND revoked_ns = 0", &p, error);
  if (res == NULL)
    return FALSE;
  *out = PQntuples (res) ? token_from_result (res, 0) : NULL;
  if (*out)
    lb_store_pg_cache_put (pg, LB_PG_CACHE_TOKENS, hash, token_copy (*out,
            NULL), (GDestroyNotify) lb_token_free);
  return TRUE;
}

gboolean
lb_store_pg_token_list (LbStorePg * pg, GPtrArray ** out, GError ** error)
{
  g_autoptr (PGresult) res = lb_store_pg_run (pg, LB_PG_READ,
      "SELECT id, org, scopes, created_ns, revoked_ns FROM api_tokens"
      " ORDER BY id", NULL, error);
  if (res == NULL)
    return FALSE;
  *out = g_ptr_array_new_with_free_func ((GDestroyNotify) lb_token_free);
  for (gint i = 0; i < PQntuples (res); i++)
    g_ptr_array_add (*out, token_from_result (res, i));
  return TRUE;
}

gboolean
lb_store_pg_token_revoke (LbStorePg * pg, gint64 id, gint64 revoked_ns,
    GError ** error)
{
  g_auto (LbPgParams) p = { 0 };
  lb_pg_int (&p, MAX (revoked_ns, 1));
  lb_pg_int (&p, id);
  g_autoptr (PGresult) res = lb_store_pg_run (pg, LB_PG_WRITE,
      "WITH r AS (UPDATE api_tokens SET revoked_ns = $1"
      "   WHERE id = $2 AND revoked_ns = 0 RETURNING id)"
      " SELECT id, pg_notify ('lb_tokens', '') FROM r", &p, error);
  if (res == NULL)
    return FALSE;
  if (PQntuples (res) == 0) {
    g_set_error (error, LB_ERROR, LB_ERROR_NOT_FOUND,
        "no valid token with id %" G_GINT64_FORMAT, id);
    return FALSE;
  }
  return TRUE;
}

/* The cluster's key, made by the first node that asks; kept locally too,
 * so that a node starting while the database is unreachable still signs. */
GBytes *
lb_store_pg_signing_key (LbStorePg * pg, GError ** error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (GBytes) fresh = lb_sign_new_key (error);
  if (fresh == NULL)
    return NULL;
  gsize size;
  const guchar *data = g_bytes_get_data (fresh, &size);
  g_autofree gchar *hex = g_malloc0 (2 * size + 1);
  for (gsize i = 0; i < size; i++)
    g_snprintf (hex + 2 * i, 3, "%02x", data[i]);
  g_auto (LbPgParams) p = { 0 };
  lb_pg_text (&p, hex);
  g_autoptr (PGresult) res = lb_store_pg_run (pg, LB_PG_DURABLE,
      "WITH made AS (INSERT INTO api_secrets (name, value)"
      "  VALUES ('url-signing', $1) ON CONFLICT DO NOTHING RETURNING value)"
      " SELECT value FROM made UNION ALL"
      " SELECT value FROM api_secrets WHERE name = 'url-signing' LIMIT 1",
      &p, &local);
  if (res == NULL || PQntuples (res) == 0) {
    GBytes *kept = lb_store_journal_get_key (lb_store_pg_store (pg));
    if (kept)
      return kept;
    if (local == NULL)
      g_set_error_literal (&local, LB_ERROR, LB_ERROR_FAILED,
          "cluster database: no URL-signing key");
    g_propagate_error (error, g_steal_pointer (&local));
    return NULL;
  }
  const gchar *text = PQgetvalue (res, 0, 0);
  gsize n = strlen (text) / 2;
  guchar *key = g_malloc (n);
  for (gsize i = 0; i < n; i++)
    key[i] = (g_ascii_xdigit_value (text[2 * i]) << 4)
        | g_ascii_xdigit_value (text[2 * i + 1]);
  GBytes *bytes = g_bytes_new_take (key, n);
  lb_store_journal_set_key (lb_store_pg_store (pg), bytes);
  return bytes;
}
