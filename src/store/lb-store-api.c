/* lookback — store area 'api': tokens, retrievals, quota, signing key */
#include "store/lb-store-api.h"
#include "store/lb-store-private.h"
#include "store/lb-store-pg.h"
#include "core/lb-debug.h"
#include "core/lb-error.h"
#include "core/lb-log.h"
#include "core/lb-sign.h"
#include "core/lb-time.h"

#include <string.h>

GST_DEBUG_CATEGORY_STATIC (lb_store_api_debug);
#define GST_CAT_DEFAULT lb_store_api_debug

static const gchar *const api_steps[] = {
  /* 1: tokens, retrieval rows, secrets */
  "CREATE TABLE api_tokens ("
      "  id INTEGER PRIMARY KEY,"
      "  hash TEXT NOT NULL UNIQUE,"
      "  org TEXT NOT NULL,"
      "  scopes TEXT NOT NULL,"
      "  created_ns INTEGER NOT NULL,"
      "  revoked_ns INTEGER NOT NULL DEFAULT 0);"
      "CREATE TABLE api_retrievals ("
      "  id INTEGER PRIMARY KEY,"
      "  retrieval_id TEXT NOT NULL,"
      "  media_id TEXT NOT NULL UNIQUE,"
      "  org TEXT NOT NULL,"
      "  vehicle TEXT NOT NULL,"
      "  input TEXT,"
      "  camera_role TEXT,"
      "  media_type TEXT NOT NULL,"
      "  priority INTEGER NOT NULL,"
      "  trigger_reason TEXT NOT NULL DEFAULT 'api',"
      "  start_ns INTEGER NOT NULL,"
      "  end_ns INTEGER NOT NULL,"
      "  status TEXT NOT NULL,"
      "  progress REAL NOT NULL DEFAULT 0,"
      "  not_before_ns INTEGER NOT NULL DEFAULT 0,"
      "  created_ns INTEGER NOT NULL,"
      "  attempts INTEGER NOT NULL DEFAULT 0,"
      "  period TEXT NOT NULL,"
      "  cost_reserved REAL NOT NULL DEFAULT 0,"
      "  cost_committed REAL NOT NULL DEFAULT 0,"
      "  output_path TEXT,"
      "  content_type TEXT,"
      "  delivered_start_ns INTEGER,"
      "  delivered_end_ns INTEGER,"
      "  coverage TEXT,"
      "  available_ns INTEGER NOT NULL DEFAULT 0,"
      "  failure_reason TEXT);"
      "CREATE INDEX api_retrievals_by_request ON api_retrievals (retrieval_id);"
      "CREATE INDEX api_retrievals_queue ON api_retrievals (status, priority, created_ns, id);"
      "CREATE INDEX api_retrievals_quota ON api_retrievals (org, period, status);"
      "CREATE INDEX api_retrievals_media ON api_retrievals (org, status, id);"
      "CREATE TABLE api_secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL);",
  /* 2: the public URL of an uploaded object */
  "ALTER TABLE api_retrievals ADD COLUMN public_url TEXT;",
  /* 3: the quota books of each org and period, kept by triggers, so that a
   * create reads one row instead of summing every row of the month */
  "CREATE TABLE api_quota_books ("
      "  org TEXT NOT NULL,"
      "  period TEXT NOT NULL,"
      "  used REAL NOT NULL DEFAULT 0,"
      "  reserved REAL NOT NULL DEFAULT 0,"
      "  PRIMARY KEY (org, period)) WITHOUT ROWID;"
      "INSERT INTO api_quota_books (org, period, used, reserved)"
      "  SELECT org, period,"
      "    COALESCE (SUM (CASE WHEN status = 'available' THEN cost_committed END), 0),"
      "    COALESCE (SUM (CASE WHEN status IN ('pending', 'running') THEN cost_reserved END), 0)"
      "  FROM api_retrievals GROUP BY org, period;"
      "CREATE TRIGGER api_quota_books_insert AFTER INSERT ON api_retrievals BEGIN"
      "  INSERT INTO api_quota_books (org, period) VALUES (NEW.org, NEW.period)"
      "    ON CONFLICT DO NOTHING;"
      "  UPDATE api_quota_books SET"
      "    used = used + (CASE WHEN NEW.status = 'available' THEN NEW.cost_committed ELSE 0 END),"
      "    reserved = reserved + (CASE WHEN NEW.status IN ('pending', 'running')"
      "      THEN NEW.cost_reserved ELSE 0 END)"
      "    WHERE org = NEW.org AND period = NEW.period;"
      "END;"
      "CREATE TRIGGER api_quota_books_delete AFTER DELETE ON api_retrievals BEGIN"
      "  UPDATE api_quota_books SET"
      "    used = used - (CASE WHEN OLD.status = 'available' THEN OLD.cost_committed ELSE 0 END),"
      "    reserved = reserved - (CASE WHEN OLD.status IN ('pending', 'running')"
      "      THEN OLD.cost_reserved ELSE 0 END)"
      "    WHERE org = OLD.org AND period = OLD.period;"
      "END;"
      "CREATE TRIGGER api_quota_books_update"
      "  AFTER UPDATE OF org, period, status, cost_reserved, cost_committed ON api_retrievals"
      "  BEGIN"
      "  UPDATE api_quota_books SET"
      "    used = used - (CASE WHEN OLD.status = 'available' THEN OLD.cost_committed ELSE 0 END),"
      "    reserved = reserved - (CASE WHEN OLD.status IN ('pending', 'running')"
      "      THEN OLD.cost_reserved ELSE 0 END)"
      "    WHERE org = OLD.org AND period = OLD.period;"
      "  INSERT INTO api_quota_books (org, period) VALUES (NEW.org, NEW.period)"
      "    ON CONFLICT DO NOTHING;"
      "  UPDATE api_quota_books SET"
      "    used = used + (CASE WHEN NEW.status = 'available' THEN NEW.cost_committed ELSE 0 END),"
      "    reserved = reserved + (CASE WHEN NEW.status IN ('pending', 'running')"
      "      THEN NEW.cost_reserved ELSE 0 END)"
      "    WHERE org = NEW.org AND period = NEW.period;" "END;",
  NULL,
};

const LbStoreSchema lb_store_api_schema = { "api", api_steps };

static const gchar *const status_names[] = {
  [LB_RETRIEVAL_PENDING] = "pending",
  [LB_RETRIEVAL_RUNNING] = "running",
  [LB_RETRIEVAL_AVAILABLE] = "available",
  [LB_RETRIEVAL_FAILED] = "failed",
  [LB_RETRIEVAL_UNAVAILABLE] = "unavailable",
  [LB_RETRIEVAL_INVALID] = "invalid",
};

static void
debug_init (void)
{
  LB_DEBUG_INIT (lb_store_api_debug, "lookback-store-api",
      "lookback store: tokens, retrievals, quota");
}

const gchar *
lb_retrieval_status_to_string (LbRetrievalStatus status)
{
  g_return_val_if_fail (status <= LB_RETRIEVAL_INVALID, NULL);
  return status_names[status];
}

static LbRetrievalStatus
status_from_string (const gchar * s)
{
  for (guint i = 0; i < G_N_ELEMENTS (status_names); i++)
    if (g_strcmp0 (status_names[i], s) == 0)
      return i;
  return LB_RETRIEVAL_FAILED;
}

LbRetrievalStatus
lb_store_status_from_text (const gchar * text)
{
  return status_from_string (text);
}

LbMediaType
lb_store_media_type_from_text (const gchar * text)
{
  LbMediaType t = LB_MEDIA_TYPE_VIDEO_HIGH_RES;
  if (!lb_media_type_from_string (text, &t))
    lb_log (LB_LOG_WARNING, NULL,
        "store: unknown media type '%s' in a row: read as videoHighRes", text);
  return t;
}

LbMediaType
lb_store_col_media_type (sqlite3_stmt * stmt, gint col)
{
  return lb_store_media_type_from_text ((const gchar *)
      sqlite3_column_text (stmt, col));
}

LbRetrieval *
lb_retrieval_new (void)
{
  LbRetrieval *r = g_new0 (LbRetrieval, 1);
  r->delivered_start_ns = LB_TIME_NONE;
  r->delivered_end_ns = LB_TIME_NONE;
  return r;
}

void
lb_retrieval_free (LbRetrieval * r)
{
  if (r == NULL)
    return;
  g_free (r->retrieval_id);
  g_free (r->media_id);
  g_free (r->org);
  g_free (r->vehicle);
  g_free (r->input);
  g_free (r->camera_role);
  g_free (r->trigger_reason);
  g_free (r->period);
  g_free (r->output_path);
  g_free (r->content_type);
  lb_coverage_free (r->coverage);
  g_free (r->failure_reason);
  g_free (r->public_url);
  g_free (r->owner);
  g_free (r->media_base);
  g_free (r);
}

void
lb_token_free (LbToken * token)
{
  if (token == NULL)
    return;
  g_free (token->org);
  g_free (token->scopes);
  g_free (token);
}

gboolean
lb_token_has_scope (const LbToken * token, const gchar * scope)
{
  g_return_val_if_fail (token != NULL && scope != NULL, FALSE);
  g_auto (GStrv) scopes = g_strsplit (token->scopes, ",", -1);
  for (guint i = 0; scopes[i]; i++)
    if (g_str_equal (g_strstrip (scopes[i]), scope))
      return TRUE;
  return FALSE;
}

#define ROW_COLUMNS LB_STORE_ROW_COLUMNS

static gchar *
col_text (sqlite3_stmt * stmt, gint i)
{
  const guchar *t = sqlite3_column_text (stmt, i);
  return t ? g_strdup ((const gchar *) t) : NULL;
}

static gint64
col_time (sqlite3_stmt * stmt, gint i)
{
  if (sqlite3_column_type (stmt, i) == SQLITE_NULL)
    return LB_TIME_NONE;
  return sqlite3_column_int64 (stmt, i);
}

static LbRetrieval *
row_from_stmt (sqlite3_stmt * stmt)
{
  LbRetrieval *r = lb_retrieval_new ();
  gint c = 0;
  r->id = sqlite3_column_int64 (stmt, c++);
  r->retrieval_id = col_text (stmt, c++);
  r->media_id = col_text (stmt, c++);
  r->org = col_text (stmt, c++);
  r->vehicle = col_text (stmt, c++);
  r->input = col_text (stmt, c++);
  r->camera_role = col_text (stmt, c++);
  r->media_type = lb_store_col_media_type (stmt, c++);
  r->trigger_reason = col_text (stmt, c++);
  r->start_ns = sqlite3_column_int64 (stmt, c++);
  r->end_ns = sqlite3_column_int64 (stmt, c++);
  r->status =
      status_from_string ((const gchar *) sqlite3_column_text (stmt, c++));
  r->progress = sqlite3_column_double (stmt, c++);
  r->not_before_ns = sqlite3_column_int64 (stmt, c++);
  r->created_ns = sqlite3_column_int64 (stmt, c++);
  r->attempts = sqlite3_column_int (stmt, c++);
  r->period = col_text (stmt, c++);
  r->cost_reserved = sqlite3_column_double (stmt, c++);
  r->cost_committed = sqlite3_column_double (stmt, c++);
  r->output_path = col_text (stmt, c++);
  r->content_type = col_text (stmt, c++);
  r->delivered_start_ns = col_time (stmt, c++);
  r->delivered_end_ns = col_time (stmt, c++);
  r->coverage = lb_store_col_coverage (stmt, c++);
  r->available_ns = sqlite3_column_int64 (stmt, c++);
  r->failure_reason = col_text (stmt, c++);
  r->public_url = col_text (stmt, c++);
  return r;
}

static void
bind_text_or_null (sqlite3_stmt * stmt, gint i, const gchar * text)
{
  if (text)
    sqlite3_bind_text (stmt, i, text, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null (stmt, i);
}

/* A transaction of its own, or a savepoint inside the caller's open one
 * (another store area finishing a retrieval in its own transaction).  The
 * caller holds the lock. */
static gboolean
tx_begin (LbStore * store, gboolean * nested, GError ** error)
{
  *nested = !sqlite3_get_autocommit (store->db);
  return *nested ? lb_store_exec (store, "SAVEPOINT lb_api", error)
      : lb_store_begin (store, error);
}

static gboolean
tx_commit (LbStore * store, gboolean nested, GError ** error)
{
  return nested ? lb_store_exec (store, "RELEASE lb_api", error)
      : lb_store_commit (store, error);
}

static void
tx_rollback (LbStore * store, gboolean nested)
{
  if (nested) {
    sqlite3_exec (store->db, "ROLLBACK TO lb_api; RELEASE lb_api", NULL, NULL,
        NULL);
  } else {
    lb_store_rollback (store);
  }
}

/* Usage and reservations of @org in @period; the caller holds the lock. */
static gboolean
quota_books (LbStore * store, const gchar * org, const gchar * period,
    gdouble * used, gdouble * reserved, GError ** error)
{
  g_autoptr (LbStoreStmt) stmt = lb_store_cached (store,
      "SELECT"
      "  COALESCE (SUM (CASE WHEN status = 'available' THEN cost_committed END), 0),"
      "  COALESCE (SUM (CASE WHEN status IN ('pending', 'running') THEN cost_reserved END), 0)"
      " FROM api_retrievals WHERE org = ? AND period = ?", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, org, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, period, -1, SQLITE_STATIC);
  if (sqlite3_step (stmt) != SQLITE_ROW) {
    lb_store_set_error (store, error, "reading the quota");
    return FALSE;
  }
  if (used)
    *used = sqlite3_column_double (stmt, 0);
  if (reserved)
    *reserved = sqlite3_column_double (stmt, 1);
  return TRUE;
}

gboolean
lb_store_api_quota_usage (LbStore * store, const gchar * org,
    const gchar * period, gdouble * out_used, gdouble * out_reserved,
    GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (org != NULL && period != NULL, FALSE);
  if (store->pg)
    return lb_store_pg_quota_usage (store->pg, org, period, out_used,
        out_reserved, error);

  LB_STORE_LOCK (store);
  gboolean ok = quota_books (store, org, period, out_used, out_reserved, error);
  LB_STORE_UNLOCK (store);
  return ok;
}

static gboolean
insert_row (LbStore * store, LbRetrieval * r, GError ** error)
{
  g_autoptr (LbStoreStmt) stmt = lb_store_cached (store,
      "INSERT INTO api_retrievals (retrieval_id, media_id, org, vehicle, input,"
      " camera_role, media_type, priority, trigger_reason, start_ns, end_ns, status,"
      " created_ns, period, cost_reserved, failure_reason)"
      " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", error);
  if (stmt == NULL)
    return FALSE;
  gint c = 1;
  sqlite3_bind_text (stmt, c++, r->retrieval_id, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, c++, r->media_id, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, c++, r->org, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, c++, r->vehicle, -1, SQLITE_STATIC);
  bind_text_or_null (stmt, c++, r->input);
  bind_text_or_null (stmt, c++, r->camera_role);
  sqlite3_bind_text (stmt, c++, lb_media_type_to_string (r->media_type), -1,
      SQLITE_STATIC);
  sqlite3_bind_int (stmt, c++, lb_media_type_priority (r->media_type));
  sqlite3_bind_text (stmt, c++, r->trigger_reason ? r->trigger_reason : "api",
      -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, c++, r->start_ns);
  sqlite3_bind_int64 (stmt, c++, r->end_ns);
  sqlite3_bind_text (stmt, c++, status_names[r->status], -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, c++, r->created_ns);
  sqlite3_bind_text (stmt, c++, r->period, -1, SQLITE_STATIC);
  sqlite3_bind_double (stmt, c++,
      r->status == LB_RETRIEVAL_INVALID ? 0 : r->cost_reserved);
  bind_text_or_null (stmt, c++, r->failure_reason);
  if (sqlite3_step (stmt) != SQLITE_DONE) {
    lb_store_set_error (store, error, "inserting a retrieval");
    return FALSE;
  }
  r->id = sqlite3_last_insert_rowid (store->db);
  return TRUE;
}

/* The books of @org in @period as the triggers keep them (the same sums as
 * quota_books() up to float rounding); the caller holds the lock. */
static gboolean
quota_books_kept (LbStore * store, const gchar * org, const gchar * period,
    gdouble * used, gdouble * reserved, GError ** error)
{
  g_autoptr (LbStoreStmt) stmt = lb_store_cached (store,
      "SELECT used, reserved FROM api_quota_books WHERE org = ? AND period = ?",
      error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, org, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, period, -1, SQLITE_STATIC);
  gint rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    lb_store_set_error (store, error, "reading the quota");
    return FALSE;
  }
  /* Rounding residue of the running sums is below a micro-second. */
  *used = rc == SQLITE_ROW ? MAX (sqlite3_column_double (stmt, 0), 0.0) : 0;
  *reserved = rc == SQLITE_ROW ? MAX (sqlite3_column_double (stmt, 1), 0.0) : 0;
  return TRUE;
}

/* One create waiting for a commit. */
typedef struct
{
  GPtrArray *rows;
  gdouble allowance;
  gdouble cost;
  gdouble used;
  gboolean ok;
  gboolean done;
  GError *error;
} Create;

void
lb_store_quota_refused (GError ** error, gdouble used, gdouble reserved,
    gdouble cost, gdouble allowance)
{
  g_set_error (error, LB_ERROR, LB_ERROR_QUOTA_EXCEEDED,
      "The monthly quota is exhausted: usage %.1f and pending %.1f seconds of "
      "high-res video, this request needs %.1f more, of %.1f available.",
      used, reserved, cost, allowance);
}

/* Checks one create against the quota and inserts its rows, inside the
 * batch's transaction; nothing of it stays on failure.  The lock is held. */
static gboolean
create_one (LbStore * store, Create * c, GError ** error)
{
  LbRetrieval *first = c->rows->pdata[0];
  gdouble used = 0, reserved = 0;

  if (!lb_store_exec (store, "SAVEPOINT lb_create", error))
    return FALSE;
  /* Sees the creates before it in the batch: they are in the transaction. */
  if (!quota_books_kept (store, first->org, first->period, &used, &reserved,
          error))
    goto fail;
  c->used = used;
  /* A small tolerance so that ten images of 0.1 fit an allowance of 1.0. */
  if (c->cost > 0 && used + reserved + c->cost > c->allowance + 1e-9) {
    GST_INFO ("org %s, %s: usage %.3f + reserved %.3f + %.3f > allowance %.3f",
        first->org, first->period, used, reserved, c->cost, c->allowance);
    lb_store_quota_refused (error, used, reserved, c->cost, c->allowance);
    goto fail;
  }
  for (guint i = 0; i < c->rows->len; i++)
    if (!insert_row (store, c->rows->pdata[i], error))
      goto fail;
  if (!lb_store_exec (store, "RELEASE lb_create", error))
    goto fail;
  return TRUE;

fail:
  sqlite3_exec (store->db, "ROLLBACK TO lb_create; RELEASE lb_create", NULL,
      NULL, NULL);
  return FALSE;
}

/* Commits @batch (Create*, in arrival order) in one transaction. */
static void
create_batch (LbStore * store, GPtrArray * batch)
{
  g_autoptr (GError) error = NULL;

  LB_STORE_LOCK (store);
  if (!lb_store_begin (store, &error)) {
    for (guint i = 0; i < batch->len; i++)
      ((Create *) batch->pdata[i])->error = g_error_copy (error);
    LB_STORE_UNLOCK (store);
    return;
  }
  guint committed = 0;
  for (guint i = 0; i < batch->len; i++) {
    Create *c = batch->pdata[i];
    c->ok = create_one (store, c, &c->error);
    committed += c->ok;
  }
  if (committed > 0 && !lb_store_commit (store, &error)) {
    for (guint i = 0; i < batch->len; i++) {
      Create *c = batch->pdata[i];
      if (c->ok) {
        c->ok = FALSE;
        c->error = g_error_copy (error);
      }
    }
  } else if (committed == 0) {
    lb_store_rollback (store);
  }
  LB_STORE_UNLOCK (store);
  if (batch->len > 1)
    GST_LOG ("%u creates in one commit", batch->len);
}

gboolean
lb_store_api_create_retrieval (LbStore * store, GPtrArray * rows,
    gdouble allowance, gdouble * out_used, GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (rows != NULL && rows->len > 0, FALSE);

  debug_init ();
  LbRetrieval *first = rows->pdata[0];
  Create c = { rows, allowance, 0, 0, FALSE, FALSE, NULL };
  for (guint i = 0; i < rows->len; i++) {
    LbRetrieval *r = rows->pdata[i];
    g_return_val_if_fail (r->status == LB_RETRIEVAL_PENDING ||
        r->status == LB_RETRIEVAL_INVALID, FALSE);
    g_return_val_if_fail (g_strcmp0 (r->org, first->org) == 0 &&
        g_strcmp0 (r->period, first->period) == 0, FALSE);
    if (r->status == LB_RETRIEVAL_PENDING)
      c.cost += r->cost_reserved;
  }
  if (store->pg)
    return lb_store_pg_create_retrieval (store->pg, rows, allowance, c.cost,
        out_used, error);

  /* Group commit: the first waiting thread commits everything queued (in
   * order, each create checked against the quota after the ones before it),
   * the others wait for it; what arrives meanwhile is the next batch. */
  g_mutex_lock (&store->state_lock);
  g_queue_push_tail (&store->gc_queue, &c);
  while (!c.done) {
    if (store->gc_leader) {
      g_cond_wait (&store->gc_cond, &store->state_lock);
      continue;
    }
    store->gc_leader = TRUE;
    g_autoptr (GPtrArray) batch = g_ptr_array_new ();
    while (!g_queue_is_empty (&store->gc_queue))
      g_ptr_array_add (batch, g_queue_pop_head (&store->gc_queue));
    g_mutex_unlock (&store->state_lock);
    create_batch (store, batch);
    g_mutex_lock (&store->state_lock);
    for (guint i = 0; i < batch->len; i++)
      ((Create *) batch->pdata[i])->done = TRUE;
    store->gc_leader = FALSE;
    g_cond_broadcast (&store->gc_cond);
  }
  g_mutex_unlock (&store->state_lock);

  if (out_used)
    *out_used = c.used;
  if (!c.ok) {
    g_propagate_error (error, c.error);
    return FALSE;
  }
  GST_DEBUG ("retrieval %s: %u rows, reserved %.3f", first->retrieval_id,
      rows->len, c.cost);
  return TRUE;
}

static gboolean
collect_rows (LbStore * store, sqlite3_stmt * stmt, GPtrArray * out,
    GError ** error)
{
  gint rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (out, row_from_stmt (stmt));
  if (rc != SQLITE_DONE) {
    lb_store_set_stmt_error (store, stmt, error, "reading retrievals");
    return FALSE;
  }
  return TRUE;
}

/* No rows: LB_ERROR_NOT_FOUND (and *@rows freed). */
static gboolean
any_rows (GPtrArray ** rows, const gchar * retrieval_id, GError ** error)
{
  if ((*rows)->len)
    return TRUE;
  g_clear_pointer (rows, g_ptr_array_unref);
  g_set_error (error, LB_ERROR, LB_ERROR_NOT_FOUND,
      "No retrieval with id %s.", retrieval_id);
  return FALSE;
}

gboolean
lb_store_api_get_retrieval (LbStore * store, const gchar * retrieval_id,
    const gchar * org, GPtrArray ** out_rows, GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (retrieval_id != NULL && org != NULL, FALSE);
  g_return_val_if_fail (out_rows != NULL, FALSE);
  if (store->pg)
    return lb_store_pg_get_retrieval (store->pg, retrieval_id, org, out_rows,
        error) && any_rows (out_rows, retrieval_id, error);

  g_autoptr (GPtrArray) rows =
      g_ptr_array_new_with_free_func ((GDestroyNotify) lb_retrieval_free);
  gboolean ok = FALSE;

  /* The last committed state, without waiting for a write in progress. */
  lb_store_reader_lock (store);
  {
    g_autoptr (LbStoreStmt) stmt = lb_store_reader_cached (store,
        "SELECT " ROW_COLUMNS " FROM api_retrievals"
        " WHERE retrieval_id = ? AND org = ? ORDER BY id", error);
    if (stmt) {
      sqlite3_bind_text (stmt, 1, retrieval_id, -1, SQLITE_STATIC);
      sqlite3_bind_text (stmt, 2, org, -1, SQLITE_STATIC);
      ok = collect_rows (store, stmt, rows, error);
    }
  }
  lb_store_reader_unlock (store);
  if (!ok)
    return FALSE;
  *out_rows = g_steal_pointer (&rows);
  return any_rows (out_rows, retrieval_id, error);
}

/* One row selected by @where (with one bound parameter), through the
 * reader connection or the main one; its lock is held. */
static gboolean
get_one (LbStore * store, gboolean reader, const gchar * where, gint64 id,
    const gchar * text, LbRetrieval ** out, GError ** error)
{
  g_autofree gchar *sql =
      g_strconcat ("SELECT " ROW_COLUMNS " FROM api_retrievals WHERE ",
      where, NULL);
  g_autoptr (LbStoreStmt) stmt = reader
      ? lb_store_reader_cached (store, sql, error)
      : lb_store_cached (store, sql, error);
  if (stmt == NULL)
    return FALSE;
  if (text)
    sqlite3_bind_text (stmt, 1, text, -1, SQLITE_STATIC);
  else
    sqlite3_bind_int64 (stmt, 1, id);
  gint rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW) {
    *out = row_from_stmt (stmt);
    return TRUE;
  }
  if (rc != SQLITE_DONE) {
    lb_store_set_stmt_error (store, stmt, error, "reading a retrieval");
    return FALSE;
  }
  if (text)
    g_set_error (error, LB_ERROR, LB_ERROR_NOT_FOUND, "No media with id %s.",
        text);
  else
    g_set_error (error, LB_ERROR, LB_ERROR_NOT_FOUND,
        "No retrieval row %" G_GINT64_FORMAT ".", id);
  return FALSE;
}

gboolean
lb_store_api_get (LbStore * store, gint64 id, LbRetrieval ** out,
    GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);
  if (store->pg)
    return lb_store_pg_get (store->pg, id, out, error);

  LB_STORE_LOCK (store);
  gboolean ok = get_one (store, FALSE, "id = ?", id, NULL, out, error);
  LB_STORE_UNLOCK (store);
  return ok;
}

gboolean
lb_store_api_find (LbStore * store, const gchar * retrieval_id,
    const gchar * input, LbRetrieval ** out, GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (retrieval_id != NULL && input != NULL
      && out != NULL, FALSE);
  if (store->pg)
    return lb_store_pg_find (store->pg, retrieval_id, input, out, error);

  gboolean ok = FALSE;
  LB_STORE_LOCK (store);
  g_autoptr (sqlite3_stmt) stmt = lb_store_prepare (store,
      "SELECT " ROW_COLUMNS
      " FROM api_retrievals WHERE retrieval_id = ? AND input = ?"
      " ORDER BY id LIMIT 1", error);
  if (stmt) {
    sqlite3_bind_text (stmt, 1, retrieval_id, -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 2, input, -1, SQLITE_STATIC);
    gint rc = sqlite3_step (stmt);
    if (rc == SQLITE_ROW) {
      *out = row_from_stmt (stmt);
      ok = TRUE;
    } else if (rc == SQLITE_DONE) {
      g_set_error (error, LB_ERROR, LB_ERROR_NOT_FOUND,
          "No retrieval %s for input %s.", retrieval_id, input);
    } else {
      lb_store_set_error (store, error, "finding a retrieval");
    }
  }
  LB_STORE_UNLOCK (store);
  return ok;
}

gboolean
lb_store_api_get_media (LbStore * store, const gchar * media_id,
    LbRetrieval ** out, GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (media_id != NULL && out != NULL, FALSE);
  if (store->pg)
    return lb_store_pg_get_media (store->pg, media_id, out, error);

  lb_store_reader_lock (store);
  gboolean ok =
      get_one (store, TRUE, "media_id = ? AND status = 'available'", 0,
      media_id, out, error);
  lb_store_reader_unlock (store);
  return ok;
}

static void
append_in (GString * sql, const gchar * column, const gchar * const *values)
{
  if (values == NULL || values[0] == NULL)
    return;
  g_string_append_printf (sql, " AND %s IN (", column);
  for (guint i = 0; values[i]; i++)
    g_string_append (sql, i ? ", ?" : "?");
  g_string_append (sql, ")");
}

static void
bind_in (sqlite3_stmt * stmt, gint * c, const gchar * const *values)
{
  for (guint i = 0; values && values[i]; i++)
    sqlite3_bind_text (stmt, (*c)++, values[i], -1, SQLITE_STATIC);
}

void
lb_store_media_type_names (guint set,
    const gchar * out[LB_MEDIA_TYPE_COUNT + 1])
{
  guint n = 0;
  for (guint t = 0; t < LB_MEDIA_TYPE_COUNT; t++)
    if (set & LB_MEDIA_TYPE_BIT (t))
      out[n++] = lb_media_type_to_string (t);
  out[n] = NULL;
}

gboolean
lb_store_api_list_media (LbStore * store, const LbMediaFilter * f,
    GPtrArray ** out_rows, gboolean * out_more, GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (f != NULL && f->org != NULL
      && f->vehicles != NULL, FALSE);
  g_return_val_if_fail (f->limit > 0, FALSE);
  g_return_val_if_fail (out_rows != NULL, FALSE);
  if (store->pg)
    return lb_store_pg_list_media (store->pg, f, out_rows, out_more, error);

  const gchar *types[LB_MEDIA_TYPE_COUNT + 1];
  lb_store_media_type_names (f->media_types, types);
  g_autoptr (GString) sql =
      g_string_new ("SELECT " ROW_COLUMNS " FROM api_retrievals"
      " WHERE org = ? AND status = 'available' AND id > ?"
      " AND delivered_end_ns >= ? AND delivered_start_ns <= ?");
  append_in (sql, "vehicle", f->vehicles);
  append_in (sql, "input", f->inputs);
  append_in (sql, "media_type", types);
  append_in (sql, "trigger_reason", f->trigger_reasons);
  if (f->available_after_ns != LB_TIME_NONE)
    g_string_append (sql, " AND available_ns > ?");
  g_string_append (sql, " ORDER BY id LIMIT ?");

  g_autoptr (GPtrArray) rows =
      g_ptr_array_new_with_free_func ((GDestroyNotify) lb_retrieval_free);
  gboolean ok = FALSE;
  /* The last committed state, without waiting for a write in progress. */
  lb_store_reader_lock (store);
  sqlite3_stmt *stmt = lb_store_reader_prepare (store, sql->str, error);
  if (stmt) {
    gint c = 1;
    sqlite3_bind_text (stmt, c++, f->org, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, c++, f->after_id);
    sqlite3_bind_int64 (stmt, c++, f->start_ns);
    sqlite3_bind_int64 (stmt, c++, f->end_ns);
    bind_in (stmt, &c, f->vehicles);
    bind_in (stmt, &c, f->inputs);
    bind_in (stmt, &c, types);
    bind_in (stmt, &c, f->trigger_reasons);
    if (f->available_after_ns != LB_TIME_NONE)
      sqlite3_bind_int64 (stmt, c++, f->available_after_ns);
    sqlite3_bind_int64 (stmt, c++, (gint64) f->limit + 1);
    ok = collect_rows (store, stmt, rows, error);
    sqlite3_finalize (stmt);
  }
  lb_store_reader_unlock (store);
  if (!ok)
    return FALSE;
  lb_store_media_page (g_steal_pointer (&rows), f, out_rows, out_more);
  return TRUE;
}

void
lb_store_media_page (GPtrArray * rows, const LbMediaFilter * f,
    GPtrArray ** out_rows, gboolean * out_more)
{
  gboolean more = rows->len > f->limit;
  if (more)
    g_ptr_array_set_size (rows, f->limit);
  if (out_more)
    *out_more = more;
  *out_rows = rows;
}

gboolean
lb_store_api_pending_summary (LbStore * store, gint64 * out_count,
    gint64 * out_oldest_ns, GError ** error)
{
  g_return_val_if_fail (store != NULL && out_count && out_oldest_ns, FALSE);

  if (store->pg)
    return lb_store_pg_pending_summary (store->pg, out_count, out_oldest_ns,
        error);
  gboolean ok = FALSE;
  lb_store_reader_lock (store);
  {
    /* two ranges of the queue index */
    g_autoptr (LbStoreStmt) stmt = lb_store_reader_cached (store,
        "SELECT COUNT (*), IFNULL (MIN (created_ns), 0) FROM api_retrievals"
        " WHERE status IN ('pending', 'running')", error);
    if (stmt) {
      ok = sqlite3_step (stmt) == SQLITE_ROW;
      if (ok) {
        *out_count = sqlite3_column_int64 (stmt, 0);
        *out_oldest_ns = sqlite3_column_int64 (stmt, 1);
      } else {
        lb_store_set_stmt_error (store, stmt, error, "counting pending rows");
      }
    }
  }
  lb_store_reader_unlock (store);
  return ok;
}

gboolean
lb_store_api_count_status (LbStore * store, gint64 * counts, GError ** error)
{
  g_return_val_if_fail (store != NULL && counts != NULL, FALSE);

  memset (counts, 0, sizeof (gint64) * (LB_RETRIEVAL_INVALID + 1));
  if (store->pg)
    return lb_store_pg_count_status (store->pg, counts, error);
  gboolean ok = FALSE;
  lb_store_reader_lock (store);
  {
    g_autoptr (LbStoreStmt) stmt = lb_store_reader_cached (store,
        "SELECT status, COUNT (*) FROM api_retrievals GROUP BY status", error);
    if (stmt) {
      gint rc;
      while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
        counts[status_from_string ((const gchar *) sqlite3_column_text (stmt,
                    0))] += sqlite3_column_int64 (stmt, 1);
      ok = rc == SQLITE_DONE;
      if (!ok)
        lb_store_set_stmt_error (store, stmt, error, "counting retrievals");
    }
  }
  lb_store_reader_unlock (store);
  return ok;
}

/* ------------------------------------------------------------------------- */

gboolean
lb_store_api_claim_next (LbStore * store, gint64 now_ns, LbRetrieval ** out,
    GError ** error)
{
  return lb_store_api_claim_next_upto (store, now_ns, G_MAXINT, out, error);
}

gboolean
lb_store_api_claim_next_upto (LbStore * store, gint64 now_ns,
    gint max_priority, LbRetrieval ** out, GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);
  if (store->pg)
    return lb_store_pg_claim_next (store->pg, now_ns, out, error);

  debug_init ();
  *out = NULL;
  LB_STORE_LOCK (store);
  if (!lb_store_begin (store, error))
    goto fail;
  {
    g_autoptr (LbStoreStmt) pick = lb_store_cached (store,
        "SELECT id FROM api_retrievals WHERE status = 'pending' AND not_before_ns <= ?"
        " AND priority <= ? ORDER BY priority, created_ns, id LIMIT 1", error);
    if (pick == NULL)
      goto fail;
    sqlite3_bind_int64 (pick, 1, now_ns);
    sqlite3_bind_int (pick, 2, max_priority);
    gint rc = sqlite3_step (pick);
    if (rc == SQLITE_DONE) {
      lb_store_stmt_release (g_steal_pointer (&pick));  /* before unlocking */
      lb_store_rollback (store);
      LB_STORE_UNLOCK (store);
      return TRUE;
    }
    if (rc != SQLITE_ROW) {
      lb_store_set_error (store, error, "picking a retrieval");
      goto fail;
    }
    gint64 id = sqlite3_column_int64 (pick, 0);
    g_autoptr (LbStoreStmt) mark = lb_store_cached (store,
        "UPDATE api_retrievals SET status = 'running', attempts = attempts + 1"
        " WHERE id = ?", error);
    if (mark == NULL)
      goto fail;
    sqlite3_bind_int64 (mark, 1, id);
    if (sqlite3_step (mark) != SQLITE_DONE) {
      lb_store_set_error (store, error, "claiming a retrieval");
      goto fail;
    }
    if (!get_one (store, FALSE, "id = ?", id, NULL, out, error))
      goto fail;
  }
  if (!lb_store_commit (store, error)) {
    g_clear_pointer (out, lb_retrieval_free);
    goto fail;
  }
  LB_STORE_UNLOCK (store);
  GST_DEBUG ("claimed row %" G_GINT64_FORMAT " (%s %s)", (*out)->id,
      lb_media_type_to_string ((*out)->media_type), (*out)->input);
  return TRUE;

fail:
  lb_store_rollback (store);
  LB_STORE_UNLOCK (store);
  return FALSE;
}

/* Runs @sql (an UPDATE whose last parameter is the row id, the ones before
 * bound by @bind) on a row that is pending or running, in a transaction. */
typedef void (*BindFunc) (sqlite3_stmt * stmt, gpointer data);

static gboolean
update_open_row (LbStore * store, gint64 id, const gchar * sql, BindFunc bind,
    gpointer data, const gchar * what, GError ** error)
{
  gboolean nested = FALSE;

  debug_init ();
  LB_STORE_LOCK (store);
  if (!tx_begin (store, &nested, error)) {
    LB_STORE_UNLOCK (store);
    return FALSE;
  }
  {
    g_autoptr (LbRetrieval) row = NULL;
    if (!get_one (store, FALSE, "id = ?", id, NULL, &row, error))
      goto fail;
    if (row->status != LB_RETRIEVAL_PENDING
        && row->status != LB_RETRIEVAL_RUNNING) {
      g_set_error (error, LB_ERROR, LB_ERROR_INVALID,
          "retrieval row %" G_GINT64_FORMAT " is %s already; cannot %s it", id,
          status_names[row->status], what);
      goto fail;
    }
    g_autoptr (sqlite3_stmt) stmt = lb_store_prepare (store, sql, error);
    if (stmt == NULL)
      goto fail;
    bind (stmt, data);
    sqlite3_bind_int64 (stmt, sqlite3_bind_parameter_count (stmt), id);
    if (sqlite3_step (stmt) != SQLITE_DONE) {
      lb_store_set_error (store, error, what);
      goto fail;
    }
  }
  if (!tx_commit (store, nested, error))
    goto fail;
  LB_STORE_UNLOCK (store);
  GST_DEBUG ("row %" G_GINT64_FORMAT ": %s", id, what);
  return TRUE;

fail:
  tx_rollback (store, nested);
  LB_STORE_UNLOCK (store);
  return FALSE;
}

/* update_open_row() for a row that ends (available, failed, unavailable):
 * with webhooks on, its event is queued in the same transaction. */
static gboolean
finish_row (LbStore * store, gint64 id, const gchar * sql, BindFunc bind,
    gpointer data, const gchar * what, GError ** error)
{
  gboolean nested = FALSE, ok;

  LB_STORE_LOCK (store);
  ok = tx_begin (store, &nested, error);
  if (ok) {
    g_autoptr (LbRetrieval) row = NULL;
    ok = update_open_row (store, id, sql, bind, data, what, error)
        && get_one (store, FALSE, "id = ?", id, NULL, &row, error)
        && lb_store_upload_queue_event (store, row, g_get_real_time () * 1000,
        error)
        && tx_commit (store, nested, error);
    if (!ok)
      tx_rollback (store, nested);
  }
  LB_STORE_UNLOCK (store);
  return ok;
}

static void
bind_double (sqlite3_stmt * stmt, gpointer data)
{
  sqlite3_bind_double (stmt, 1, *(gdouble *) data);
}

gboolean
lb_store_api_set_progress (LbStore * store, gint64 id, gdouble progress,
    GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);

  progress = CLAMP (progress, 0.0, 1.0);
  if (store->pg) {
    /* cluster mode: to the node's journal (lb-store-cluster.h) */
    LbJournalEntry e = {.row = id,.kind = LB_JOURNAL_PROGRESS,.number = progress
    };
    return lb_store_journal_add (store, &e, error);
  }
  return update_open_row (store, id,
      "UPDATE api_retrievals SET progress = ? WHERE id = ?", bind_double,
      &progress, "set the progress of", error);
}

typedef struct
{
  const gchar *output_path, *content_type;
  const LbCoverage *coverage;
  gint64 start_ns, end_ns, available_ns;
  gdouble cost;
} Available;

static void
bind_available (sqlite3_stmt * stmt, gpointer data)
{
  Available *a = data;
  gint c = 1;
  sqlite3_bind_text (stmt, c++, a->output_path, -1, SQLITE_STATIC);
  bind_text_or_null (stmt, c++, a->content_type);
  sqlite3_bind_int64 (stmt, c++, a->start_ns);
  sqlite3_bind_int64 (stmt, c++, a->end_ns);
  lb_store_bind_coverage (stmt, c++, a->coverage);
  sqlite3_bind_int64 (stmt, c++, a->available_ns);
  sqlite3_bind_double (stmt, c++, a->cost);
}

gboolean
lb_store_api_finish_available (LbStore * store, gint64 id,
    const gchar * output_path, const gchar * content_type,
    gint64 delivered_start_ns, gint64 delivered_end_ns,
    const LbCoverage * coverage, gint64 available_ns, gdouble cost,
    GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (output_path != NULL, FALSE);
  g_return_val_if_fail (delivered_end_ns >= delivered_start_ns, FALSE);

  if (store->pg) {
    /* cluster mode: to the node's journal (lb-store-cluster.h) */
    LbJournalEntry e = {.row = id,.kind = LB_JOURNAL_AVAILABLE,.text =
          output_path,.content_type = content_type,.delivered_start_ns =
          delivered_start_ns,.delivered_end_ns = delivered_end_ns,.coverage =
          coverage,.available_ns = available_ns,.number = MAX (cost, 0.0)
    };
    return lb_store_journal_add (store, &e, error);
  }
  Available a = { output_path, content_type, coverage, delivered_start_ns,
    delivered_end_ns, available_ns, MAX (cost, 0.0)
  };
  return finish_row (store, id,
      "UPDATE api_retrievals SET status = 'available', progress = 1,"
      " output_path = ?, content_type = ?, delivered_start_ns = ?, delivered_end_ns = ?,"
      " coverage = ?, available_ns = ?, cost_committed = ?, failure_reason = NULL"
      " WHERE id = ?", bind_available, &a, "finish (available)", error);
}

static void
bind_reason (sqlite3_stmt * stmt, gpointer data)
{
  bind_text_or_null (stmt, 1, data);
}

gboolean
lb_store_api_finish_failed (LbStore * store, gint64 id, const gchar * reason,
    GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  if (store->pg) {
    /* cluster mode: to the node's journal (lb-store-cluster.h) */
    LbJournalEntry e = {.row = id,.kind = LB_JOURNAL_FAILED,.text = reason };
    return lb_store_journal_add (store, &e, error);
  }
  return finish_row (store, id,
      "UPDATE api_retrievals SET status = 'failed', failure_reason = ?,"
      " cost_committed = 0 WHERE id = ?", bind_reason, (gpointer) reason,
      "fail", error);
}

gboolean
lb_store_api_finish_unavailable (LbStore * store, gint64 id,
    const gchar * reason, GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  if (store->pg) {
    /* cluster mode: to the node's journal (lb-store-cluster.h) */
    LbJournalEntry e = {.row = id,.kind = LB_JOURNAL_UNAVAILABLE,.text = reason
    };
    return lb_store_journal_add (store, &e, error);
  }
  return finish_row (store, id,
      "UPDATE api_retrievals SET status = 'unavailable', failure_reason = ?,"
      " cost_committed = 0 WHERE id = ?", bind_reason, (gpointer) reason,
      "mark unavailable", error);
}

static void
bind_int64 (sqlite3_stmt * stmt, gpointer data)
{
  sqlite3_bind_int64 (stmt, 1, *(gint64 *) data);
}

gboolean
lb_store_api_set_public_url (LbStore * store, gint64 id,
    const gchar * public_url, GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  if (store->pg) {
    /* cluster mode: to the node's journal (lb-store-cluster.h) */
    LbJournalEntry e = {.row = id,.kind = LB_JOURNAL_PUBLIC_URL,.text =
          public_url
    };
    return lb_store_journal_add (store, &e, error);
  }
  return update_open_row (store, id,
      "UPDATE api_retrievals SET public_url = ? WHERE id = ?", bind_reason,
      (gpointer) public_url, "set the public URL of", error);
}

gboolean
lb_store_api_defer (LbStore * store, gint64 id, gint64 not_before_ns,
    GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  if (store->pg) {
    /* cluster mode: to the node's journal (lb-store-cluster.h) */
    LbJournalEntry e = {.row = id,.kind = LB_JOURNAL_DEFER,.not_before_ns =
          not_before_ns
    };
    return lb_store_journal_add (store, &e, error);
  }
  return update_open_row (store, id,
      "UPDATE api_retrievals SET status = 'pending', not_before_ns = ? WHERE id = ?",
      bind_int64, &not_before_ns, "defer", error);
}

gboolean
lb_store_api_wake (LbStore * store, gint64 id, GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  if (store->pg) {
    /* cluster mode: to the node's journal (lb-store-cluster.h) */
    LbJournalEntry e = {.row = id,.kind = LB_JOURNAL_WAKE };
    return lb_store_journal_add (store, &e, error);
  }

  LB_STORE_LOCK (store);
  gboolean ok = lb_store_exec_id (store,
      "UPDATE api_retrievals SET not_before_ns = 0"
      " WHERE id = ? AND status = 'pending' AND not_before_ns > 0", id, error,
      "waking a retrieval");
  LB_STORE_UNLOCK (store);
  return ok;
}

gboolean
lb_store_api_list_open (LbStore * store, GPtrArray ** out_rows, GError ** error)
{
  g_return_val_if_fail (store != NULL && out_rows != NULL, FALSE);
  if (store->pg)
    return lb_store_pg_list_open (store->pg, out_rows, error);

  g_autoptr (GPtrArray) rows =
      g_ptr_array_new_with_free_func ((GDestroyNotify) lb_retrieval_free);
  gboolean ok = FALSE;
  LB_STORE_LOCK (store);
  g_autoptr (sqlite3_stmt) stmt = lb_store_prepare (store,
      "SELECT " ROW_COLUMNS
      " FROM api_retrievals WHERE status IN ('pending', 'running')"
      " ORDER BY created_ns, id", error);
  if (stmt)
    ok = collect_rows (store, stmt, rows, error);
  LB_STORE_UNLOCK (store);
  if (ok)
    *out_rows = g_steal_pointer (&rows);
  return ok;
}

gboolean
lb_store_api_requeue_running (LbStore * store, guint * out_count,
    GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  if (store->pg) {
    /* the node's thread did it when it first reached the database */
    if (out_count)
      *out_count = 0;
    return TRUE;
  }

  debug_init ();
  LB_STORE_LOCK (store);
  gboolean ok = lb_store_exec (store,
      "UPDATE api_retrievals SET status = 'pending', progress = 0 WHERE status = 'running'",
      error);
  guint n = ok ? (guint) sqlite3_changes (store->db) : 0;
  LB_STORE_UNLOCK (store);
  if (ok && n > 0)
    GST_INFO ("requeued %u retrievals left running", n);
  if (out_count)
    *out_count = n;
  return ok;
}

/* ------------------------------------------------------------------------- */

gboolean
lb_store_api_token_add (LbStore * store, const gchar * hash, const gchar * org,
    const gchar * scopes, gint64 created_ns, gint64 * out_id, GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (hash != NULL && org != NULL && scopes != NULL, FALSE);
  if (store->pg)
    return lb_store_pg_token_add (store->pg, hash, org, scopes, created_ns,
        out_id, error);

  gboolean ok = FALSE;
  LB_STORE_LOCK (store);
  g_autoptr (sqlite3_stmt) stmt = lb_store_prepare (store,
      "INSERT INTO api_tokens (hash, org, scopes, created_ns) VALUES (?, ?, ?, ?)",
      error);
  if (stmt) {
    sqlite3_bind_text (stmt, 1, hash, -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 2, org, -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 3, scopes, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 4, created_ns);
    ok = sqlite3_step (stmt) == SQLITE_DONE;
    if (!ok)
      lb_store_set_error (store, error, "adding a token");
    else if (out_id)
      *out_id = sqlite3_last_insert_rowid (store->db);
  }
  LB_STORE_UNLOCK (store);
  return ok;
}

static LbToken *
token_from_stmt (sqlite3_stmt * stmt)
{
  LbToken *t = g_new0 (LbToken, 1);
  t->id = sqlite3_column_int64 (stmt, 0);
  t->org = col_text (stmt, 1);
  t->scopes = col_text (stmt, 2);
  t->created_ns = sqlite3_column_int64 (stmt, 3);
  t->revoked_ns = sqlite3_column_int64 (stmt, 4);
  return t;
}

gboolean
lb_store_api_token_lookup (LbStore * store, const gchar * hash, LbToken ** out,
    GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (hash != NULL && out != NULL, FALSE);
  if (store->pg)
    return lb_store_pg_token_lookup (store->pg, hash, out, error);

  gboolean ok = FALSE;
  *out = NULL;
  /* Revocations are committed before they return: the reader sees them. */
  lb_store_reader_lock (store);
  {
    g_autoptr (LbStoreStmt) stmt = lb_store_reader_cached (store,
        "SELECT id, org, scopes, created_ns, revoked_ns FROM api_tokens"
        " WHERE hash = ? AND revoked_ns = 0", error);
    if (stmt) {
      sqlite3_bind_text (stmt, 1, hash, -1, SQLITE_STATIC);
      gint rc = sqlite3_step (stmt);
      ok = rc == SQLITE_ROW || rc == SQLITE_DONE;
      if (rc == SQLITE_ROW)
        *out = token_from_stmt (stmt);
      else if (!ok)
        lb_store_set_stmt_error (store, stmt, error, "looking up a token");
    }
  }
  lb_store_reader_unlock (store);
  return ok;
}

gboolean
lb_store_api_token_list (LbStore * store, GPtrArray ** out, GError ** error)
{
  g_return_val_if_fail (store != NULL && out != NULL, FALSE);
  if (store->pg)
    return lb_store_pg_token_list (store->pg, out, error);

  g_autoptr (GPtrArray) tokens =
      g_ptr_array_new_with_free_func ((GDestroyNotify) lb_token_free);
  gboolean ok = FALSE;
  LB_STORE_LOCK (store);
  g_autoptr (sqlite3_stmt) stmt = lb_store_prepare (store,
      "SELECT id, org, scopes, created_ns, revoked_ns FROM api_tokens ORDER BY id",
      error);
  if (stmt) {
    gint rc;
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
      g_ptr_array_add (tokens, token_from_stmt (stmt));
    ok = rc == SQLITE_DONE;
    if (!ok)
      lb_store_set_error (store, error, "listing tokens");
  }
  LB_STORE_UNLOCK (store);
  if (ok)
    *out = g_steal_pointer (&tokens);
  return ok;
}

gboolean
lb_store_api_token_revoke (LbStore * store, gint64 id, gint64 revoked_ns,
    GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  if (store->pg)
    return lb_store_pg_token_revoke (store->pg, id, revoked_ns, error);

  gboolean ok = FALSE;
  LB_STORE_LOCK (store);
  g_autoptr (sqlite3_stmt) stmt = lb_store_prepare (store,
      "UPDATE api_tokens SET revoked_ns = ? WHERE id = ? AND revoked_ns = 0",
      error);
  if (stmt) {
    sqlite3_bind_int64 (stmt, 1, MAX (revoked_ns, 1));
    sqlite3_bind_int64 (stmt, 2, id);
    ok = sqlite3_step (stmt) == SQLITE_DONE;
    if (!ok)
      lb_store_set_error (store, error, "revoking a token");
    else if (sqlite3_changes (store->db) == 0) {
      ok = FALSE;
      g_set_error (error, LB_ERROR, LB_ERROR_NOT_FOUND,
          "no valid token with id %" G_GINT64_FORMAT, id);
    }
  }
  LB_STORE_UNLOCK (store);
  return ok;
}

GBytes *
lb_store_api_get_signing_key (LbStore * store, GError ** error)
{
  g_return_val_if_fail (store != NULL, NULL);
  if (store->pg)
    return lb_store_pg_signing_key (store->pg, error);

  GBytes *key = NULL;
  g_autoptr (GBytes) fresh = lb_sign_new_key (error);
  if (fresh == NULL)
    return NULL;
  LB_STORE_LOCK (store);
  if (!lb_store_begin (store, error))
    goto out;
  {
    g_autoptr (sqlite3_stmt) ins = lb_store_prepare (store,
        "INSERT OR IGNORE INTO api_secrets (name, value) VALUES ('url-signing', ?)",
        error);
    if (ins == NULL)
      goto out;
    sqlite3_bind_blob (ins, 1, g_bytes_get_data (fresh, NULL),
        g_bytes_get_size (fresh), SQLITE_STATIC);
    if (sqlite3_step (ins) != SQLITE_DONE) {
      lb_store_set_error (store, error, "saving the signing key");
      goto out;
    }
    g_autoptr (sqlite3_stmt) sel = lb_store_prepare (store,
        "SELECT value FROM api_secrets WHERE name = 'url-signing'", error);
    if (sel == NULL)
      goto out;
    if (sqlite3_step (sel) != SQLITE_ROW) {
      lb_store_set_error (store, error, "reading the signing key");
      goto out;
    }
    key =
        g_bytes_new (sqlite3_column_blob (sel, 0), sqlite3_column_bytes (sel,
            0));
  }
  if (!lb_store_commit (store, error))
    g_clear_pointer (&key, g_bytes_unref);

out:
  lb_store_rollback (store);
  LB_STORE_UNLOCK (store);
  return key;
}
