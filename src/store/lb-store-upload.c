/* lookback — store area 'upload': the upload journal (see lb-store-upload.h) */
#include "store/lb-store-upload.h"
#include "store/lb-store-api.h"
#include "store/lb-store-private.h"
#include "core/lb-debug.h"
#include "core/lb-error.h"
#include "core/lb-time.h"

#include <string.h>

GST_DEBUG_CATEGORY_STATIC (lb_store_upload_debug);
#define GST_CAT_DEFAULT lb_store_upload_debug

static const gchar *const upload_steps[] = {
  /* 1: the journal */
  "CREATE TABLE upload_journal (" "  id INTEGER PRIMARY KEY," "  retrieval_id TEXT NOT NULL," "  vehicle TEXT NOT NULL," "  input TEXT NOT NULL," "  media_type TEXT NOT NULL," "  path TEXT NOT NULL," "  priority INTEGER NOT NULL," "  state INTEGER NOT NULL DEFAULT 0,"    /* LbUploadState */
      "  attempts INTEGER NOT NULL DEFAULT 0," "  created_ns INTEGER NOT NULL," "  next_attempt_ns INTEGER NOT NULL," "  uploaded_ns INTEGER NOT NULL DEFAULT 0," "  bytes INTEGER NOT NULL DEFAULT 0," "  sha256 TEXT," "  public_url TEXT," "  last_error TEXT," "  delivered_start_ns INTEGER," "  delivered_end_ns INTEGER," "  coverage_json TEXT," "  file_deleted INTEGER NOT NULL DEFAULT 0," "  retrieval_row INTEGER,"        /* api_retrievals.id, or NULL */
      "  content_type TEXT,"
      "  cost REAL NOT NULL DEFAULT 0,"
      "  UNIQUE (retrieval_id, input));"
      "CREATE INDEX upload_journal_order ON upload_journal (state, priority, created_ns, id);"
      "CREATE INDEX upload_journal_uploaded ON upload_journal (state, file_deleted, uploaded_ns);",
  NULL,
};

const LbStoreSchema lb_store_upload_schema = { "upload", upload_steps };

#define ENTRY_COLUMNS \
  "id, retrieval_id, vehicle, input, media_type, path, priority, state, attempts, " \
  "created_ns, next_attempt_ns, uploaded_ns, bytes, sha256, public_url, last_error, " \
  "delivered_start_ns, delivered_end_ns, coverage_json, file_deleted, retrieval_row, " \
  "content_type, cost"

static void
init_debug (void)
{
  LB_DEBUG_INIT (lb_store_upload_debug, "lookback-store-upload",
      "lookback store: upload journal");
}

void
lb_upload_entry_free (LbUploadEntry * entry)
{
  if (entry == NULL)
    return;
  g_free (entry->retrieval_id);
  g_free (entry->vehicle);
  g_free (entry->input);
  g_free (entry->path);
  g_free (entry->sha256);
  g_free (entry->public_url);
  g_free (entry->last_error);
  lb_coverage_free (entry->coverage);
  g_free (entry->content_type);
  g_free (entry);
}

static gchar *
col_text (sqlite3_stmt * stmt, gint col)
{
  return g_strdup ((const gchar *) sqlite3_column_text (stmt, col));
}

static gint64
col_time (sqlite3_stmt * stmt, gint col)
{
  return sqlite3_column_type (stmt, col) == SQLITE_NULL ? LB_TIME_NONE
      : sqlite3_column_int64 (stmt, col);
}

static LbUploadEntry *
entry_from_row (sqlite3_stmt * stmt)
{
  LbUploadEntry *e = g_new0 (LbUploadEntry, 1);
  e->id = sqlite3_column_int64 (stmt, 0);
  e->retrieval_id = col_text (stmt, 1);
  e->vehicle = col_text (stmt, 2);
  e->input = col_text (stmt, 3);
  e->media_type = lb_store_col_media_type (stmt, 4);
  e->path = col_text (stmt, 5);
  e->priority = sqlite3_column_int (stmt, 6);
  e->state = sqlite3_column_int (stmt, 7);
  e->attempts = sqlite3_column_int (stmt, 8);
  e->created_ns = sqlite3_column_int64 (stmt, 9);
  e->next_attempt_ns = sqlite3_column_int64 (stmt, 10);
  e->uploaded_ns = sqlite3_column_int64 (stmt, 11);
  e->bytes = sqlite3_column_int64 (stmt, 12);
  e->sha256 = col_text (stmt, 13);
  e->public_url = col_text (stmt, 14);
  e->last_error = col_text (stmt, 15);
  e->delivered_start_ns = col_time (stmt, 16);
  e->delivered_end_ns = col_time (stmt, 17);
  e->coverage = lb_store_col_coverage (stmt, 18);
  e->file_deleted = sqlite3_column_int (stmt, 19) != 0;
  e->retrieval_row = sqlite3_column_int64 (stmt, 20);
  e->content_type = col_text (stmt, 21);
  e->cost = sqlite3_column_double (stmt, 22);
  return e;
}

/* Opens a transaction unless the calling thread (which holds the recursive
 * store lock) already has one open; *owned tells which. */
static gboolean
txn_begin (LbStore * store, gboolean * owned, GError ** error)
{
  if (!sqlite3_get_autocommit (store->db)) {
    *owned = FALSE;
    return TRUE;
  }
  *owned = TRUE;
  return lb_store_begin (store, error);
}

/* Commits (or rolls back when !ok) an owned transaction; a joined one is left
 * to the caller, who rolls back when we report failure. */
static gboolean
txn_end (LbStore * store, gboolean owned, gboolean ok, GError ** error)
{
  if (!owned)
    return ok;
  if (!ok) {
    lb_store_rollback (store);
    return FALSE;
  }
  return lb_store_commit (store, error);
}

static gboolean
step_done (LbStore * store, sqlite3_stmt * stmt, GError ** error,
    const gchar * what)
{
  if (sqlite3_step (stmt) != SQLITE_DONE) {
    lb_store_set_error (store, error, what);
    return FALSE;
  }
  return TRUE;
}

static void
bind_time (sqlite3_stmt * stmt, gint col, gint64 t)
{
  if (t == LB_TIME_NONE)
    sqlite3_bind_null (stmt, col);
  else
    sqlite3_bind_int64 (stmt, col, t);
}

/* --- the retrieval row (the 'api' area's functions, which join the
 * transaction the journal holds):
 *   queued:   pending (shown as pending), never claimed again
 *             (deferred for ever), progress 1
 *   uploaded: available, output fields set, cost committed
 *   refused:  failed with the reason, nothing committed (refund) */

/* A row finished (or removed) by someone else while its upload waited: the
 * journal entry still ends, else it would be uploaded again forever. */
static gboolean
row_gone (const LbUploadEntry * e, GError ** row_error, GError ** error)
{
  GError *err = *row_error;
  if (err->domain != LB_ERROR ||
      (err->code != LB_ERROR_INVALID && err->code != LB_ERROR_NOT_FOUND)) {
    g_propagate_error (error, g_steal_pointer (row_error));
    return FALSE;
  }
  init_debug ();
  GST_WARNING ("upload %" G_GINT64_FORMAT ": %s; the entry ends anyway", e->id,
      err->message);
  return TRUE;
}

static gboolean
row_hold_for_upload (LbStore * store, gint64 row, GError ** error)
{
  return lb_store_api_defer (store, row, G_MAXINT64, error) &&
      lb_store_api_set_progress (store, row, 1.0, error);
}

static gboolean
row_available (LbStore * store, const LbUploadEntry * e, gint64 now_ns,
    GError ** error)
{
  return lb_store_api_finish_available (store, e->retrieval_row, e->path,
      e->content_type, e->delivered_start_ns, e->delivered_end_ns,
      e->coverage, now_ns, e->cost, error);
}

static gboolean
row_failed (LbStore * store, gint64 row, const gchar * reason, GError ** error)
{
  return lb_store_api_finish_failed (store, row, reason, error);
}

gboolean
lb_store_upload_enqueue (LbStore * store, const LbUploadJob * job,
    gint64 now_ns, gint64 * out_id, GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (job != NULL, FALSE);
  g_return_val_if_fail (job->retrieval_id && job->vehicle && job->input &&
      job->path, FALSE);

  init_debug ();
  gboolean owned, ok = FALSE;
  gint64 id = 0;

  LB_STORE_LOCK (store);
  if (!txn_begin (store, &owned, error))
    goto out;
  {
    g_autoptr (sqlite3_stmt) ins = lb_store_prepare (store,
        "INSERT INTO upload_journal (retrieval_id, vehicle, input, media_type, path, "
        "  priority, created_ns, next_attempt_ns, delivered_start_ns, delivered_end_ns, "
        "  coverage_json, retrieval_row, content_type, cost) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (retrieval_id, input) DO NOTHING", error);
    if (ins == NULL)
      goto end;
    sqlite3_bind_text (ins, 1, job->retrieval_id, -1, SQLITE_STATIC);
    sqlite3_bind_text (ins, 2, job->vehicle, -1, SQLITE_STATIC);
    sqlite3_bind_text (ins, 3, job->input, -1, SQLITE_STATIC);
    sqlite3_bind_text (ins, 4, lb_media_type_to_string (job->media_type), -1,
        SQLITE_STATIC);
    sqlite3_bind_text (ins, 5, job->path, -1, SQLITE_STATIC);
    sqlite3_bind_int (ins, 6, lb_media_type_priority (job->media_type));
    sqlite3_bind_int64 (ins, 7, now_ns);
    sqlite3_bind_int64 (ins, 8, now_ns);
    bind_time (ins, 9, job->delivered_start_ns);
    bind_time (ins, 10, job->delivered_end_ns);
    lb_store_bind_coverage (ins, 11, job->coverage);
    if (job->retrieval_row > 0)
      sqlite3_bind_int64 (ins, 12, job->retrieval_row);
    else
      sqlite3_bind_null (ins, 12);
    if (job->content_type)
      sqlite3_bind_text (ins, 13, job->content_type, -1, SQLITE_STATIC);
    else
      sqlite3_bind_null (ins, 13);
    sqlite3_bind_double (ins, 14, MAX (job->cost, 0.0));
    if (!step_done (store, ins, error, "queueing an upload"))
      goto end;
    if (job->retrieval_row > 0
        && !row_hold_for_upload (store, job->retrieval_row, error))
      goto end;

    g_autoptr (sqlite3_stmt) sel = lb_store_prepare (store,
        "SELECT id FROM upload_journal WHERE retrieval_id = ? AND input = ?",
        error);
    if (sel == NULL)
      goto end;
    sqlite3_bind_text (sel, 1, job->retrieval_id, -1, SQLITE_STATIC);
    sqlite3_bind_text (sel, 2, job->input, -1, SQLITE_STATIC);
    if (sqlite3_step (sel) != SQLITE_ROW) {
      lb_store_set_error (store, error, "reading the queued upload");
      goto end;
    }
    id = sqlite3_column_int64 (sel, 0);
    ok = TRUE;
  }
end:
  ok = txn_end (store, owned, ok, error);
out:
  LB_STORE_UNLOCK (store);
  if (ok) {
    GST_DEBUG ("queued upload %" G_GINT64_FORMAT " (%s %s %s) %s", id,
        job->retrieval_id, job->input,
        lb_media_type_to_string (job->media_type), job->path);
    if (out_id)
      *out_id = id;
  }
  return ok;
}

gboolean
lb_store_upload_next (LbStore * store, gint64 now_ns, gint64 exclude_id,
    LbUploadEntry ** out_entry, gint64 * out_next_ns, GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (out_entry != NULL, FALSE);

  gboolean ok = FALSE;
  *out_entry = NULL;
  if (out_next_ns)
    *out_next_ns = 0;

  LB_STORE_LOCK (store);
  g_autoptr (sqlite3_stmt) sel = lb_store_prepare (store,
      "SELECT " ENTRY_COLUMNS " FROM upload_journal "
      "WHERE state = 0 AND next_attempt_ns <= ? AND id != ? "
      "ORDER BY state, priority, created_ns, id LIMIT 1", error);
  if (sel == NULL)
    goto out;
  sqlite3_bind_int64 (sel, 1, now_ns);
  sqlite3_bind_int64 (sel, 2, exclude_id);
  gint rc = sqlite3_step (sel);
  if (rc == SQLITE_ROW)
    *out_entry = entry_from_row (sel);
  else if (rc != SQLITE_DONE) {
    lb_store_set_error (store, error, "choosing the next upload");
    goto out;
  }
  if (out_next_ns) {
    g_autoptr (sqlite3_stmt) nxt = lb_store_prepare (store,
        "SELECT MIN(next_attempt_ns) FROM upload_journal "
        "WHERE state = 0 AND next_attempt_ns > ?", error);
    if (nxt == NULL)
      goto out;
    sqlite3_bind_int64 (nxt, 1, now_ns);
    if (sqlite3_step (nxt) == SQLITE_ROW
        && sqlite3_column_type (nxt, 0) != SQLITE_NULL)
      *out_next_ns = sqlite3_column_int64 (nxt, 0);
  }
  ok = TRUE;
out:
  LB_STORE_UNLOCK (store);
  if (!ok)
    g_clear_pointer (out_entry, lb_upload_entry_free);
  return ok;
}

static LbUploadEntry *
get_where (LbStore * store, const gchar * where, gint64 id,
    const gchar * retrieval_id, const gchar * input, GError ** error)
{
  LbUploadEntry *e = NULL;
  g_autofree gchar *sql =
      g_strconcat ("SELECT " ENTRY_COLUMNS " FROM upload_journal WHERE ",
      where, NULL);

  LB_STORE_LOCK (store);
  g_autoptr (sqlite3_stmt) sel = lb_store_prepare (store, sql, error);
  if (sel) {
    if (retrieval_id) {
      sqlite3_bind_text (sel, 1, retrieval_id, -1, SQLITE_STATIC);
      sqlite3_bind_text (sel, 2, input, -1, SQLITE_STATIC);
    } else {
      sqlite3_bind_int64 (sel, 1, id);
    }
    gint rc = sqlite3_step (sel);
    if (rc == SQLITE_ROW)
      e = entry_from_row (sel);
    else if (rc == SQLITE_DONE)
      g_set_error (error, LB_ERROR, LB_ERROR_NOT_FOUND, "no upload entry %s",
          retrieval_id ? retrieval_id : "with that id");
    else
      lb_store_set_error (store, error, "reading an upload entry");
  }
  LB_STORE_UNLOCK (store);
  return e;
}

LbUploadEntry *
lb_store_upload_get (LbStore * store, gint64 id, GError ** error)
{
  g_return_val_if_fail (store != NULL, NULL);
  return get_where (store, "id = ?", id, NULL, NULL, error);
}

LbUploadEntry *
lb_store_upload_find (LbStore * store, const gchar * retrieval_id,
    const gchar * input, GError ** error)
{
  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (retrieval_id != NULL && input != NULL, NULL);
  return get_where (store, "retrieval_id = ? AND input = ?", 0, retrieval_id,
      input, error);
}

static GPtrArray *
list_where (LbStore * store, const gchar * sql_tail, gint64 arg,
    gboolean bind_arg, GError ** error)
{
  g_autofree gchar *sql =
      g_strconcat ("SELECT " ENTRY_COLUMNS " FROM upload_journal ",
      sql_tail, NULL);
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func (
      (GDestroyNotify) lb_upload_entry_free);
  gboolean ok = FALSE;

  LB_STORE_LOCK (store);
  g_autoptr (sqlite3_stmt) sel = lb_store_prepare (store, sql, error);
  if (sel) {
    if (bind_arg)
      sqlite3_bind_int64 (sel, 1, arg);
    gint rc;
    while ((rc = sqlite3_step (sel)) == SQLITE_ROW)
      g_ptr_array_add (out, entry_from_row (sel));
    if (rc == SQLITE_DONE)
      ok = TRUE;
    else
      lb_store_set_error (store, error, "listing upload entries");
  }
  LB_STORE_UNLOCK (store);
  return ok ? g_steal_pointer (&out) : NULL;
}

GPtrArray *
lb_store_upload_list (LbStore * store, GError ** error)
{
  g_return_val_if_fail (store != NULL, NULL);
  return list_where (store, "ORDER BY state, priority, created_ns, id", 0,
      FALSE, error);
}

/* Binds @id at @id_col, runs the UPDATE and checks that it changed one row
 * (the entry exists and is still waiting). */
static gboolean
update_one (LbStore * store, sqlite3_stmt * stmt, gint id_col, gint64 id,
    GError ** error, const gchar * what)
{
  sqlite3_bind_int64 (stmt, id_col, id);
  if (!step_done (store, stmt, error, what))
    return FALSE;
  if (sqlite3_changes (store->db) != 1) {
    g_set_error (error, LB_ERROR, LB_ERROR_NOT_FOUND,
        "%s: no waiting upload entry %" G_GINT64_FORMAT, what, id);
    return FALSE;
  }
  return TRUE;
}

gboolean
lb_store_upload_reset_waits (LbStore * store, gint64 now_ns, guint * out_count,
    GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);

  gboolean ok = FALSE;
  LB_STORE_LOCK (store);
  g_autoptr (sqlite3_stmt) up = lb_store_prepare (store,
      "UPDATE upload_journal SET next_attempt_ns = ? WHERE state = 0 AND next_attempt_ns > ?",
      error);
  if (up) {
    sqlite3_bind_int64 (up, 1, now_ns);
    sqlite3_bind_int64 (up, 2, now_ns);
    ok = step_done (store, up, error, "resetting upload waits");
    if (ok && out_count)
      *out_count = sqlite3_changes (store->db);
  }
  LB_STORE_UNLOCK (store);
  return ok;
}

gboolean
lb_store_upload_retry_later (LbStore * store, gint64 id, gint64 next_ns,
    const gchar * reason, GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);

  gboolean owned, ok = FALSE;
  LB_STORE_LOCK (store);
  if (txn_begin (store, &owned, error)) {
    g_autoptr (sqlite3_stmt) up = lb_store_prepare (store,
        "UPDATE upload_journal SET attempts = attempts + 1, next_attempt_ns = ?, "
        "last_error = ? WHERE id = ? AND state = 0", error);
    if (up) {
      sqlite3_bind_int64 (up, 1, next_ns);
      sqlite3_bind_text (up, 2, reason, -1, SQLITE_STATIC);
      ok = update_one (store, up, 3, id, error, "postponing an upload");
    }
    ok = txn_end (store, owned, ok, error);
  }
  LB_STORE_UNLOCK (store);
  return ok;
}

gboolean
lb_store_upload_done (LbStore * store, gint64 id, gint64 now_ns, gint64 bytes,
    const gchar * sha256, const gchar * public_url, GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);

  gboolean owned, ok = FALSE;
  LB_STORE_LOCK (store);
  if (txn_begin (store, &owned, error)) {
    g_autoptr (sqlite3_stmt) up = lb_store_prepare (store,
        "UPDATE upload_journal SET state = 1, uploaded_ns = ?, bytes = ?, sha256 = ?, "
        "public_url = ?, last_error = NULL WHERE id = ? AND state = 0", error);
    if (up) {
      sqlite3_bind_int64 (up, 1, now_ns);
      sqlite3_bind_int64 (up, 2, bytes);
      sqlite3_bind_text (up, 3, sha256, -1, SQLITE_STATIC);
      if (public_url)
        sqlite3_bind_text (up, 4, public_url, -1, SQLITE_STATIC);
      else
        sqlite3_bind_null (up, 4);
      ok = update_one (store, up, 5, id, error, "recording an upload");
    }
    /* The retrieval becomes available, its cost committed: same transaction. */
    if (ok) {
      g_autoptr (GError) row_error = NULL;
      g_autoptr (LbUploadEntry) e =
          get_where (store, "id = ?", id, NULL, NULL, error);
      ok = e != NULL && (e->retrieval_row <= 0
          || row_available (store, e, now_ns, &row_error)
          || row_gone (e, &row_error, error));
    }
    ok = txn_end (store, owned, ok, error);
  }
  LB_STORE_UNLOCK (store);
  return ok;
}

gboolean
lb_store_upload_fail (LbStore * store, gint64 id, gint64 now_ns,
    const gchar * reason, GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (reason != NULL, FALSE);

  gboolean owned, ok = FALSE;
  LB_STORE_LOCK (store);
  if (txn_begin (store, &owned, error)) {
    g_autoptr (sqlite3_stmt) up = lb_store_prepare (store,
        "UPDATE upload_journal SET state = 2, attempts = attempts + 1, last_error = ?, "
        "next_attempt_ns = ? WHERE id = ? AND state = 0", error);
    if (up) {
      sqlite3_bind_text (up, 1, reason, -1, SQLITE_STATIC);
      sqlite3_bind_int64 (up, 2, now_ns);
      ok = update_one (store, up, 3, id, error, "failing an upload");
    }
    /* The retrieval fails with the same reason, its reservation refunded. */
    if (ok) {
      g_autoptr (GError) row_error = NULL;
      g_autoptr (LbUploadEntry) e =
          get_where (store, "id = ?", id, NULL, NULL, error);
      ok = e != NULL && (e->retrieval_row <= 0
          || row_failed (store, e->retrieval_row, reason, &row_error)
          || row_gone (e, &row_error, error));
    }
    ok = txn_end (store, owned, ok, error);
  }
  LB_STORE_UNLOCK (store);
  return ok;
}

gboolean
lb_store_upload_release_waiting (LbStore * store, gint64 now_ns,
    guint * out_count, GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);

  init_debug ();
  guint n = 0;
  g_autoptr (GPtrArray) all =
      list_where (store, "WHERE state = 0 ORDER BY id", 0, FALSE, error);
  if (all == NULL)
    return FALSE;
  for (guint i = 0; i < all->len; i++) {
    LbUploadEntry *e = all->pdata[i];
    gboolean owned, ok = FALSE;
    LB_STORE_LOCK (store);
    if (txn_begin (store, &owned, error)) {
      g_autoptr (sqlite3_stmt) up = lb_store_prepare (store,
          "UPDATE upload_journal SET state = 3, last_error = 'released: upload switched off' "
          "WHERE id = ? AND state = 0", error);
      ok = up != NULL
          && update_one (store, up, 1, e->id, error, "releasing an upload");
      if (ok && e->retrieval_row > 0) {
        g_autoptr (GError) row_error = NULL;
        ok = row_available (store, e, now_ns, &row_error) ||
            row_gone (e, &row_error, error);
      }
      ok = txn_end (store, owned, ok, error);
    }
    LB_STORE_UNLOCK (store);
    if (!ok)
      return FALSE;
    GST_INFO ("upload %" G_GINT64_FORMAT
        " (%s %s) released: upload is switched off", e->id, e->retrieval_id,
        e->input);
    n++;
  }
  if (out_count)
    *out_count = n;
  return TRUE;
}

GPtrArray *
lb_store_upload_expired (LbStore * store, gint64 before_ns, GError ** error)
{
  g_return_val_if_fail (store != NULL, NULL);
  return list_where (store,
      "WHERE state = 1 AND file_deleted = 0 AND uploaded_ns <= ? ORDER BY uploaded_ns, id",
      before_ns, TRUE, error);
}

gboolean
lb_store_upload_mark_deleted (LbStore * store, gint64 id, GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);

  gboolean ok = FALSE;
  LB_STORE_LOCK (store);
  g_autoptr (sqlite3_stmt) up = lb_store_prepare (store,
      "UPDATE upload_journal SET file_deleted = 1 WHERE id = ?", error);
  if (up) {
    sqlite3_bind_int64 (up, 1, id);
    ok = step_done (store, up, error, "marking an uploaded file deleted");
  }
  LB_STORE_UNLOCK (store);
  return ok;
}

gboolean
lb_store_upload_counts (LbStore * store, LbUploadCounts * out, GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  gboolean ok = FALSE;
  memset (out, 0, sizeof *out);
  /* The last committed state, without waiting for a write in progress. */
  lb_store_reader_lock (store);
  {
    g_autoptr (LbStoreStmt) sel = lb_store_reader_cached (store,
        "SELECT state, COUNT(*), MIN(created_ns), SUM(bytes) FROM upload_journal "
        "GROUP BY state", error);
    if (sel) {
      gint rc;
      while ((rc = sqlite3_step (sel)) == SQLITE_ROW) {
        guint n = sqlite3_column_int (sel, 1);
        switch (sqlite3_column_int (sel, 0)) {
          case LB_UPLOAD_WAITING:
            out->waiting = n;
            out->oldest_waiting_ns = sqlite3_column_int64 (sel, 2);
            break;
          case LB_UPLOAD_DONE:
            out->done = n;
            out->bytes_uploaded = sqlite3_column_int64 (sel, 3);
            break;
          case LB_UPLOAD_FAILED:
            out->failed = n;
            break;
        }
      }
      if (rc == SQLITE_DONE)
        ok = TRUE;
      else
        lb_store_set_stmt_error (store, sel, error, "counting upload entries");
    }
  }
  lb_store_reader_unlock (store);
  return ok;
}

gchar *
lb_store_upload_public_url (LbStore * store, gint64 retrieval_row,
    GError ** error)
{
  g_return_val_if_fail (store != NULL, NULL);

  gchar *url = NULL;
  LB_STORE_LOCK (store);
  g_autoptr (sqlite3_stmt) sel = lb_store_prepare (store,
      "SELECT public_url FROM upload_journal WHERE retrieval_row = ? AND state = 1",
      error);
  if (sel) {
    sqlite3_bind_int64 (sel, 1, retrieval_row);
    gint rc = sqlite3_step (sel);
    if (rc == SQLITE_ROW)
      url = col_text (sel, 0);
    else if (rc != SQLITE_DONE)
      lb_store_set_error (store, error, "reading an upload's public URL");
  }
  LB_STORE_UNLOCK (store);
  return url;
}
