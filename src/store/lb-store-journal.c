/* lookback — store area 'cluster' in the node's SQLite: the journal of job
 * outcomes waiting for the cluster database, and the local copy of the
 * URL-signing key (lb-store-pg.h)
 *
 * The journal is bounded by the rows this node runs: each row ends once
 * and a row's progress is kept as its one latest entry. */
#include "store/lb-store-pg.h"
#include "core/lb-error.h"
#include "core/lb-log.h"
#include "core/lb-time.h"

static const gchar *const journal_steps[] = {
  /* 1 */
  "CREATE TABLE cluster_journal ("
      "  id INTEGER PRIMARY KEY,"
      "  row_id INTEGER NOT NULL,"
      "  kind TEXT NOT NULL,"
      "  number REAL NOT NULL DEFAULT 0,"
      "  not_before_ns INTEGER NOT NULL DEFAULT 0,"
      "  text TEXT,"
      "  content_type TEXT,"
      "  delivered_start_ns INTEGER NOT NULL DEFAULT 0,"
      "  delivered_end_ns INTEGER NOT NULL DEFAULT 0,"
      "  available_ns INTEGER NOT NULL DEFAULT 0,"
      "  coverage TEXT,"
      "  created_ns INTEGER NOT NULL);"
      "CREATE INDEX cluster_journal_row ON cluster_journal (row_id, kind);"
      "CREATE TABLE cluster_cache (name TEXT PRIMARY KEY, value BLOB NOT NULL);",
  NULL,
};

const LbStoreSchema lb_store_journal_schema = { "cluster", journal_steps };

/* Stored by name: the enum may grow, a row's word never changes. */
static const gchar *const kind_names[] = {
  [LB_JOURNAL_PROGRESS] = "progress",
  [LB_JOURNAL_AVAILABLE] = "available",
  [LB_JOURNAL_FAILED] = "failed",
  [LB_JOURNAL_UNAVAILABLE] = "unavailable",
  [LB_JOURNAL_PUBLIC_URL] = "public-url",
  [LB_JOURNAL_DEFER] = "defer",
  [LB_JOURNAL_WAKE] = "wake",
};

void
lb_journal_entry_free (LbJournalEntry * e)
{
  if (e == NULL)
    return;
  g_free (e->owned_text);
  g_free (e->owned_type);
  lb_coverage_free (e->owned_coverage);
  g_free (e);
}

static void
bind_text (sqlite3_stmt * stmt, gint col, const gchar * text)
{
  if (text)
    sqlite3_bind_text (stmt, col, text, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null (stmt, col);
}

/* The lock is held, in a transaction or a savepoint. */
static gboolean
insert_entry (LbStore * store, const LbJournalEntry * e, gint * out_dropped,
    GError ** error)
{
  *out_dropped = 0;
  if (e->kind == LB_JOURNAL_PROGRESS) {
    /* only the latest progress of a row waits */
    g_autoptr (LbStoreStmt) del = lb_store_cached (store,
        "DELETE FROM cluster_journal WHERE row_id = ? AND kind = 'progress'",
        error);
    if (del == NULL)
      return FALSE;
    sqlite3_bind_int64 (del, 1, e->row);
    if (sqlite3_step (del) != SQLITE_DONE) {
      lb_store_set_error (store, error, "journal: dropping a progress");
      return FALSE;
    }
    *out_dropped = sqlite3_changes (store->db);
  }
  g_autoptr (LbStoreStmt) ins = lb_store_cached (store,
      "INSERT INTO cluster_journal (row_id, kind, number, not_before_ns, text,"
      " content_type, delivered_start_ns, delivered_end_ns, available_ns,"
      " coverage, created_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", error);
  if (ins == NULL)
    return FALSE;
  gint c = 1;
  sqlite3_bind_int64 (ins, c++, e->row);
  sqlite3_bind_text (ins, c++, kind_names[e->kind], -1, SQLITE_STATIC);
  sqlite3_bind_double (ins, c++, e->number);
  sqlite3_bind_int64 (ins, c++, e->not_before_ns);
  bind_text (ins, c++, e->text);
  bind_text (ins, c++, e->content_type);
  sqlite3_bind_int64 (ins, c++, e->delivered_start_ns);
  sqlite3_bind_int64 (ins, c++, e->delivered_end_ns);
  sqlite3_bind_int64 (ins, c++, e->available_ns);
  lb_store_bind_coverage (ins, c++, e->coverage);
  sqlite3_bind_int64 (ins, c++, lb_time_now ());
  if (sqlite3_step (ins) != SQLITE_DONE) {
    lb_store_set_error (store, error, "journal: writing an outcome");
    return FALSE;
  }
  return TRUE;
}

gboolean
lb_store_journal_add (LbStore * store, const LbJournalEntry * e,
    GError ** error)
{
  g_return_val_if_fail (e->kind < G_N_ELEMENTS (kind_names), FALSE);

  if (lb_store_pg_node (store->pg) == NULL) {
    g_set_error (error, LB_ERROR, LB_ERROR_INVALID,
        "a client of the cluster owns no retrieval rows (row %"
        G_GINT64_FORMAT ")", e->row);
    return FALSE;
  }
  gint dropped = 0;
  LB_STORE_LOCK (store);
  /* joins the caller's transaction (e.g. the upload journal's) */
  gboolean nested = !sqlite3_get_autocommit (store->db);
  gboolean ok = nested ? lb_store_exec (store, "SAVEPOINT lb_journal", error)
      : lb_store_begin (store, error);
  if (ok && insert_entry (store, e, &dropped, error))
    ok = nested ? lb_store_exec (store, "RELEASE lb_journal", error)
        : lb_store_commit (store, error);
  else if (ok) {
    ok = FALSE;
    if (nested)
      sqlite3_exec (store->db, "ROLLBACK TO lb_journal; RELEASE lb_journal",
          NULL, NULL, NULL);
    else
      lb_store_rollback (store);
  }
  if (ok)
    lb_store_pg_kick (store->pg, 1 - dropped);
  LB_STORE_UNLOCK (store);
  return ok;
}

static LbJournalEntry *
entry_from_stmt (sqlite3_stmt * stmt)
{
  LbJournalEntry *e = g_new0 (LbJournalEntry, 1);
  gint c = 0;
  e->id = sqlite3_column_int64 (stmt, c++);
  e->row = sqlite3_column_int64 (stmt, c++);
  const gchar *kind = (const gchar *) sqlite3_column_text (stmt, c++);
  for (guint i = 0; i < G_N_ELEMENTS (kind_names); i++)
    if (g_strcmp0 (kind, kind_names[i]) == 0)
      e->kind = i;
  e->number = sqlite3_column_double (stmt, c++);
  e->not_before_ns = sqlite3_column_int64 (stmt, c++);
  e->text = e->owned_text =
      g_strdup ((const gchar *) sqlite3_column_text (stmt, c++));
  e->content_type = e->owned_type =
      g_strdup ((const gchar *) sqlite3_column_text (stmt, c++));
  e->delivered_start_ns = sqlite3_column_int64 (stmt, c++);
  e->delivered_end_ns = sqlite3_column_int64 (stmt, c++);
  e->available_ns = sqlite3_column_int64 (stmt, c++);
  e->coverage = e->owned_coverage = lb_store_col_coverage (stmt, c++);
  return e;
}

GPtrArray *
lb_store_journal_head (LbStore * store, guint max, GError ** error)
{
  g_autoptr (GPtrArray) out =
      g_ptr_array_new_with_free_func ((GDestroyNotify) lb_journal_entry_free);
  gboolean ok = FALSE;
  LB_STORE_LOCK (store);
  {
    g_autoptr (LbStoreStmt) sel = lb_store_cached (store,
        "SELECT id, row_id, kind, number, not_before_ns, text, content_type,"
        " delivered_start_ns, delivered_end_ns, available_ns, coverage"
        " FROM cluster_journal ORDER BY id LIMIT ?", error);
    if (sel) {
      sqlite3_bind_int (sel, 1, (gint) max);
      gint rc;
      while ((rc = sqlite3_step (sel)) == SQLITE_ROW)
        g_ptr_array_add (out, entry_from_stmt (sel));
      ok = rc == SQLITE_DONE;
      if (!ok)
        lb_store_set_error (store, error, "journal: reading");
    }
  }
  LB_STORE_UNLOCK (store);
  return ok ? g_steal_pointer (&out) : NULL;
}

gboolean
lb_store_journal_drop (LbStore * store, gint64 last_id, GError ** error)
{
  LB_STORE_LOCK (store);
  gboolean ok = lb_store_exec_id (store,
      "DELETE FROM cluster_journal WHERE id <= ?", last_id, error,
      "journal: dropping applied entries");
  LB_STORE_UNLOCK (store);
  return ok;
}

gint64
lb_store_journal_count (LbStore * store)
{
  gint64 n = 0;
  LB_STORE_LOCK (store);
  {
    g_autoptr (LbStoreStmt) sel = lb_store_cached (store,
        "SELECT COUNT (*) FROM cluster_journal", NULL);
    if (sel && sqlite3_step (sel) == SQLITE_ROW)
      n = sqlite3_column_int64 (sel, 0);
  }
  LB_STORE_UNLOCK (store);
  return n;
}

GBytes *
lb_store_journal_get_key (LbStore * store)
{
  GBytes *key = NULL;
  LB_STORE_LOCK (store);
  {
    g_autoptr (LbStoreStmt) sel = lb_store_cached (store,
        "SELECT value FROM cluster_cache WHERE name = 'url-signing'", NULL);
    if (sel && sqlite3_step (sel) == SQLITE_ROW)
      key = g_bytes_new (sqlite3_column_blob (sel, 0),
          sqlite3_column_bytes (sel, 0));
  }
  LB_STORE_UNLOCK (store);
  return key;
}

void
lb_store_journal_set_key (LbStore * store, GBytes * key)
{
  g_autoptr (GError) error = NULL;
  LB_STORE_LOCK (store);
  {
    g_autoptr (LbStoreStmt) ins = lb_store_cached (store,
        "INSERT INTO cluster_cache (name, value) VALUES ('url-signing', ?)"
        " ON CONFLICT (name) DO UPDATE SET value = excluded.value", &error);
    gsize size;
    gconstpointer data = g_bytes_get_data (key, &size);
    if (ins)
      sqlite3_bind_blob (ins, 1, data, (gint) size, SQLITE_STATIC);
    if (ins && sqlite3_step (ins) != SQLITE_DONE)
      lb_store_set_error (store, &error, "keeping the signing key");
  }
  LB_STORE_UNLOCK (store);
  if (error)
    lb_log (LB_LOG_WARNING, NULL, "%s", error->message);
}
