/* lookback — the store: connection, pragmas, per-area migrations */
#include "store/lb-store-pg.h"
#include "core/lb-debug.h"
#include "core/lb-error.h"
#include "core/lb-log.h"

#include <glib/gstdio.h>

GST_DEBUG_CATEGORY_STATIC (lb_store_debug);
#define GST_CAT_DEFAULT lb_store_debug

static const LbStoreSchema *const schemas[] = {
  &lb_store_footage_schema,
  &lb_store_api_schema,
  &lb_store_upload_schema,
};

static void
set_db_error (LbStore * store, sqlite3 * db, GError ** error,
    const gchar * what)
{
  gint code = sqlite3_errcode (db);
  gint domain_code = (code == SQLITE_BUSY
      || code == SQLITE_LOCKED) ? LB_ERROR_BUSY : (code == SQLITE_FULL
      || code == SQLITE_IOERR) ? LB_ERROR_IO : (code == SQLITE_CORRUPT
      || code == SQLITE_NOTADB) ? LB_ERROR_CORRUPT : LB_ERROR_FAILED;

  GST_WARNING ("%s: %s: %s", store->path, what, sqlite3_errmsg (db));
  g_set_error (error, LB_ERROR, domain_code, "store %s: %s: %s", store->path,
      what, sqlite3_errmsg (db));
}

void
lb_store_set_error (LbStore * store, GError ** error, const gchar * what)
{
  set_db_error (store, store->db, error, what);
}

void
lb_store_set_stmt_error (LbStore * store, sqlite3_stmt * stmt, GError ** error,
    const gchar * what)
{
  set_db_error (store, sqlite3_db_handle (stmt), error, what);
}

static LbStoreStmt *
cached (LbStore * store, sqlite3 * db, GHashTable * cache, const gchar * sql,
    GError ** error)
{
  sqlite3_stmt *stmt = g_hash_table_lookup (cache, sql);

  if (stmt)
    return stmt;
  if (sqlite3_prepare_v3 (db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt,
          NULL) != SQLITE_OK) {
    set_db_error (store, db, error, "preparing a statement");
    GST_ERROR ("could not prepare: %s", sql);
    return NULL;
  }
  g_hash_table_insert (cache, g_strdup (sql), stmt);
  return stmt;
}

LbStoreStmt *
lb_store_cached (LbStore * store, const gchar * sql, GError ** error)
{
  return cached (store, store->db, store->stmts, sql, error);
}

void
lb_store_stmt_release (LbStoreStmt * stmt)
{
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
}

void
lb_store_reader_lock (LbStore * store)
{
  if (store->rdb)
    g_mutex_lock (&store->read_lock);
  else
    LB_STORE_LOCK (store);
}

void
lb_store_reader_unlock (LbStore * store)
{
  if (store->rdb)
    g_mutex_unlock (&store->read_lock);
  else
    LB_STORE_UNLOCK (store);
}

LbStoreStmt *
lb_store_reader_cached (LbStore * store, const gchar * sql, GError ** error)
{
  if (store->rdb == NULL)
    return lb_store_cached (store, sql, error);
  return cached (store, store->rdb, store->rstmts, sql, error);
}

sqlite3_stmt *
lb_store_reader_prepare (LbStore * store, const gchar * sql, GError ** error)
{
  sqlite3 *db = store->rdb ? store->rdb : store->db;
  sqlite3_stmt *stmt = NULL;

  if (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) != SQLITE_OK) {
    set_db_error (store, db, error, "preparing a statement");
    GST_ERROR ("could not prepare: %s", sql);
    return NULL;
  }
  return stmt;
}

sqlite3_stmt *
lb_store_prepare (LbStore * store, const gchar * sql, GError ** error)
{
  sqlite3_stmt *stmt = NULL;

  if (sqlite3_prepare_v2 (store->db, sql, -1, &stmt, NULL) != SQLITE_OK) {
    lb_store_set_error (store, error, "preparing a statement");
    GST_ERROR ("could not prepare: %s", sql);
    return NULL;
  }
  return stmt;
}

gboolean
lb_store_exec (LbStore * store, const gchar * sql, GError ** error)
{
  g_autofree gchar *msg = NULL;
  gchar *errmsg = NULL;

  if (sqlite3_exec (store->db, sql, NULL, NULL, &errmsg) != SQLITE_OK) {
    msg = g_strdup (errmsg ? errmsg : "unknown error");
    sqlite3_free (errmsg);
    lb_store_set_error (store, error, msg);
    return FALSE;
  }
  return TRUE;
}

gboolean
lb_store_exec_id (LbStore * store, const gchar * sql, gint64 id,
    GError ** error, const gchar * what)
{
  g_autoptr (LbStoreStmt) stmt = lb_store_cached (store, sql, error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, id);
  if (sqlite3_step (stmt) != SQLITE_DONE) {
    lb_store_set_error (store, error, what);
    return FALSE;
  }
  return TRUE;
}

gboolean
lb_store_begin (LbStore * store, GError ** error)
{
  return lb_store_exec (store, "BEGIN IMMEDIATE", error);
}

gboolean
lb_store_commit (LbStore * store, GError ** error)
{
  if (lb_store_exec (store, "COMMIT", error))
    return TRUE;
  lb_store_rollback (store);
  return FALSE;
}

void
lb_store_rollback (LbStore * store)
{
  if (!sqlite3_get_autocommit (store->db))
    sqlite3_exec (store->db, "ROLLBACK", NULL, NULL, NULL);
}

gint
lb_store_schema_version (LbStore * store, const gchar * area)
{
  g_return_val_if_fail (store != NULL, -1);
  g_return_val_if_fail (area != NULL, -1);

  gint version = 0;
  LB_STORE_LOCK (store);
  g_autoptr (sqlite3_stmt) stmt = lb_store_prepare (store,
      "SELECT version FROM schema_version WHERE area = ?", NULL);
  if (stmt) {
    sqlite3_bind_text (stmt, 1, area, -1, SQLITE_STATIC);
    if (sqlite3_step (stmt) == SQLITE_ROW)
      version = sqlite3_column_int (stmt, 0);
  }
  LB_STORE_UNLOCK (store);
  return version;
}

gboolean
lb_store_migrate_area (LbStore * store, const LbStoreSchema * schema,
    GError ** error)
{
  guint target = schema->steps ? g_strv_length ((GStrv) schema->steps) : 0;
  guint version = lb_store_schema_version (store, schema->area);

  if (version > target) {
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT,
        "store %s: the '%s' schema is at version %u, newer than this lookback "
        "knows (%u); refusing to use it", store->path, schema->area, version,
        target);
    return FALSE;
  }
  for (; version < target; version++) {
    if (!lb_store_begin (store, error))
      return FALSE;
    if (!lb_store_exec (store, schema->steps[version], error))
      goto fail;
    g_autoptr (sqlite3_stmt) stmt = lb_store_prepare (store,
        "INSERT INTO schema_version (area, version) VALUES (?, ?) "
        "ON CONFLICT (area) DO UPDATE SET version = excluded.version", error);
    if (stmt == NULL)
      goto fail;
    sqlite3_bind_text (stmt, 1, schema->area, -1, SQLITE_STATIC);
    sqlite3_bind_int (stmt, 2, version + 1);
    if (sqlite3_step (stmt) != SQLITE_DONE) {
      lb_store_set_error (store, error, "recording the schema version");
      goto fail;
    }
    if (!lb_store_commit (store, error))
      return FALSE;
    GST_INFO ("%s: schema '%s' migrated to version %u", store->path,
        schema->area, version + 1);
  }
  return TRUE;

fail:
  lb_store_rollback (store);
  g_prefix_error (error, "migrating '%s' to version %u: ", schema->area,
      version + 1);
  return FALSE;
}

/* The WAL is bounded while lookbackd runs (a box stopped by power cuts
 * never gets the clean exit that folds it back):
 *
 *  - the checkpointer thread, on a connection of its own, copies the WAL
 *    into the database (PASSIVE: it never blocks readers or writers) once
 *    a commit leaves a quarter of the limit in the WAL, and at least every
 *    CHECKPOINT_INTERVAL_US;
 *  - a commit that finds half of the limit in the WAL (the thread has
 *    fallen behind) checkpoints at once, on the committing connection;
 *  - the writer restarts the WAL from its beginning at the first commit
 *    after a complete checkpoint, and journal_size_limit cuts the file back
 *    to a quarter of the limit then.
 * Only a reader that keeps one snapshot for a long time can hold the WAL
 * above the limit; the store's own reads are short. */
#define WAL_PAGE_SIZE 4096      /* SQLite's default page size, ours */
#define CHECKPOINT_INTERVAL_US (2 * G_USEC_PER_SEC)

static gint
wal_pages (LbStore * store, guint fraction)
{
  return (gint) MAX (g_atomic_int_get (&store->wal_limit_pages) / fraction, 1);
}

static int
wal_hook (void *data, sqlite3 * db, const char *name, int pages)
{
  LbStore *store = data;

  g_atomic_int_inc (&store->n_commits);
  if (pages >= wal_pages (store, 2)) {
    gint log = 0, done = 0;
    sqlite3_wal_checkpoint_v2 (db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log,
        &done);
    GST_DEBUG ("%s: the WAL held %d pages: checkpointed %d of %d at commit",
        store->path, pages, done, log);
  } else if (pages >= wal_pages (store, 4)) {
    g_mutex_lock (&store->state_lock);
    if (!store->ck_wanted) {
      store->ck_wanted = TRUE;
      g_cond_signal (&store->ck_cond);
    }
    g_mutex_unlock (&store->state_lock);
  }
  return SQLITE_OK;
}

static void
set_size_limit (LbStore * store, sqlite3 * db)
{
  g_autofree gchar *sql = g_strdup_printf ("PRAGMA journal_size_limit = %"
      G_GINT64_FORMAT, (gint64) wal_pages (store, 4) * WAL_PAGE_SIZE);
  sqlite3_exec (db, sql, NULL, NULL, NULL);
}

/* The checkpointer's connection.  It reads the database once: a connection
 * that never has does not know the file is in WAL mode, and its checkpoints
 * do nothing (log = -1). */
static sqlite3 *
checkpointer_open (LbStore * store)
{
  sqlite3 *db = NULL;

  if (sqlite3_open_v2 (store->path, &db,
          SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK
      || sqlite3_exec (db, "SELECT COUNT (*) FROM sqlite_schema", NULL, NULL,
          NULL) != SQLITE_OK) {
    lb_log (LB_LOG_WARNING, NULL, "store %s: no checkpoint connection (%s): "
        "the WAL is only checkpointed by commits", store->path,
        sqlite3_errmsg (db));
    sqlite3_close_v2 (db);
    return NULL;
  }
  sqlite3_busy_timeout (db, 1000);
  return db;
}

static void
checkpoint (LbStore * store, sqlite3 * db)
{
  gint log = 0, done = 0;

  set_size_limit (store, db);
  gint rc = sqlite3_wal_checkpoint_v2 (db, NULL, SQLITE_CHECKPOINT_PASSIVE,
      &log, &done);
  if (rc != SQLITE_OK && rc != SQLITE_BUSY)
    GST_WARNING ("%s: checkpoint: %s", store->path, sqlite3_errmsg (db));
  else if (log > 0)
    GST_LOG ("%s: checkpointed %d of %d WAL pages", store->path, done, log);
}

static gpointer
checkpointer_main (gpointer data)
{
  LbStore *store = data;
  sqlite3 *db = checkpointer_open (store);

  g_mutex_lock (&store->state_lock);
  while (db && !store->ck_stop) {
    gint64 until = g_get_monotonic_time () + CHECKPOINT_INTERVAL_US;
    while (!store->ck_stop && !store->ck_wanted)
      if (!g_cond_wait_until (&store->ck_cond, &store->state_lock, until))
        break;
    if (store->ck_stop)
      break;
    store->ck_wanted = FALSE;
    g_mutex_unlock (&store->state_lock);
    checkpoint (store, db);
    g_mutex_lock (&store->state_lock);
  }
  g_mutex_unlock (&store->state_lock);
  sqlite3_close_v2 (db);
  return NULL;
}

void
lb_store_set_wal_limit (LbStore * store, gint64 bytes)
{
  g_return_if_fail (store != NULL);
  g_return_if_fail (bytes >= 4 * WAL_PAGE_SIZE);

  g_atomic_int_set (&store->wal_limit_pages,
      (gint) MIN (bytes / WAL_PAGE_SIZE, G_MAXINT));
  if (store->read_only)
    return;
  LB_STORE_LOCK (store);
  set_size_limit (store, store->db);
  LB_STORE_UNLOCK (store);
}

static LbStore *
store_new (const gchar * db_path, gboolean read_only)
{
  LbStore *store = g_new0 (LbStore, 1);

  g_rec_mutex_init (&store->lock);
  g_mutex_init (&store->read_lock);
  g_mutex_init (&store->state_lock);
  g_cond_init (&store->ck_cond);
  g_cond_init (&store->gc_cond);
  store->stmts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) sqlite3_finalize);
  store->rstmts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) sqlite3_finalize);
  store->path = g_canonicalize_filename (db_path, NULL);
  store->dir = g_path_get_dirname (store->path);
  store->read_only = read_only;
  store->wal_limit_pages = LB_STORE_WAL_LIMIT / WAL_PAGE_SIZE;
  return store;
}

/* The main connection: WAL with synchronous=FULL (a commit is on disk when
 * COMMIT returns) unless read-only. */
static gboolean
open_main (LbStore * store, GError ** error)
{
  gint oflags = SQLITE_OPEN_FULLMUTEX | (store->read_only ?
      SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);

  if (sqlite3_open_v2 (store->path, &store->db, oflags, NULL) != SQLITE_OK) {
    lb_store_set_error (store, error, "opening");
    return FALSE;
  }
  sqlite3_busy_timeout (store->db, 10000);
  sqlite3_extended_result_codes (store->db, 0);
  if (!store->read_only &&
      !lb_store_exec (store,
          "PRAGMA journal_mode = WAL;" "PRAGMA synchronous = FULL;", error))
    return FALSE;
  return lb_store_exec (store, "PRAGMA foreign_keys = ON;", error);
}

static gboolean
migrate (LbStore * store, GError ** error)
{
  if (!lb_store_exec (store,
          "CREATE TABLE IF NOT EXISTS schema_version ("
          "  area TEXT PRIMARY KEY, version INTEGER NOT NULL)", error))
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (schemas); i++)
    if (!lb_store_migrate_area (store, schemas[i], error))
      return FALSE;
  return TRUE;
}

/* The reader (WAL lets it see the last commit without waiting for the
 * writer and its fsync), and checkpoints on a thread of their own. */
static gboolean
start_reader_and_checkpointer (LbStore * store, GError ** error)
{
  if (sqlite3_open_v2 (store->path, &store->rdb, SQLITE_OPEN_READONLY |
          SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
    set_db_error (store, store->rdb, error, "opening the reader connection");
    return FALSE;
  }
  sqlite3_busy_timeout (store->rdb, 10000);
  sqlite3_extended_result_codes (store->rdb, 0);
  set_size_limit (store, store->db);
  sqlite3_wal_autocheckpoint (store->db, 0);
  sqlite3_wal_hook (store->db, wal_hook, store);
  store->checkpointer = g_thread_new ("lb-store-ckpt", checkpointer_main,
      store);
  return TRUE;
}

/* A read-only opener still refuses a file that is not a store. */
static gboolean
probe_read_only (LbStore * store, GError ** error)
{
  if (!g_file_test (store->path, G_FILE_TEST_IS_REGULAR)) {
    g_set_error (error, LB_ERROR, LB_ERROR_NOT_FOUND,
        "no lookback store at %s", store->path);
    return FALSE;
  }
  if (!open_main (store, error))
    return FALSE;
  g_autoptr (sqlite3_stmt) probe = lb_store_prepare (store,
      "SELECT version FROM schema_version LIMIT 1", NULL);
  if (probe == NULL) {
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT,
        "%s is not a lookback store", store->path);
    return FALSE;
  }
  return TRUE;
}

/**
 * lb_store_open:
 * @db_path: the database file; its folder is created when missing
 *
 * Opens (and unless read-only, creates and migrates) the store.  Opening
 * for writing makes the folder private (lb-store-folder.c).
 */
LbStore *
lb_store_open (const gchar * db_path, LbStoreOpenFlags flags, GError ** error)
{
  g_return_val_if_fail (db_path != NULL, NULL);

  LB_DEBUG_INIT (lb_store_debug, "lookback-store", "lookback store (SQLite)");

  gboolean read_only = (flags & LB_STORE_OPEN_READ_ONLY) != 0;
  g_autoptr (LbStore) store = store_new (db_path, read_only);

  if (read_only) {
    if (!probe_read_only (store, error))
      return NULL;
  } else if (!lb_store_folder_prepare (store->dir, store->path, error)
      || !open_main (store, error) || !migrate (store, error)
      || !start_reader_and_checkpointer (store, error)) {
    return NULL;
  }
  GST_DEBUG ("opened %s%s", store->path, read_only ? " (read-only)" : "");
  return g_steal_pointer (&store);
}

void
lb_store_free (LbStore * store)
{
  if (store == NULL)
    return;
  /* its thread applies the journal: first, while SQLite is open */
  g_clear_pointer (&store->pg, lb_store_pg_free);
  if (store->checkpointer) {
    g_mutex_lock (&store->state_lock);
    store->ck_stop = TRUE;
    g_cond_signal (&store->ck_cond);
    g_mutex_unlock (&store->state_lock);
    g_thread_join (store->checkpointer);
  }
  /* Cached statements first: a connection with statements left open
   * would only become a zombie. */
  g_clear_pointer (&store->stmts, g_hash_table_unref);
  g_clear_pointer (&store->rstmts, g_hash_table_unref);
  if (store->rdb)
    sqlite3_close_v2 (store->rdb);
  if (store->db)
    sqlite3_close_v2 (store->db);
  g_rec_mutex_clear (&store->lock);
  g_mutex_clear (&store->read_lock);
  g_mutex_clear (&store->state_lock);
  g_cond_clear (&store->ck_cond);
  g_cond_clear (&store->gc_cond);
  g_free (store->path);
  g_free (store->dir);
  g_free (store);
}

void
lb_store_set_footage_func (LbStore * store, LbFootageFunc func,
    gpointer user_data)
{
  g_return_if_fail (store != NULL);

  g_mutex_lock (&store->state_lock);
  store->footage_func = func;
  store->footage_data = user_data;
  g_mutex_unlock (&store->state_lock);
}

void
lb_store_footage_added (LbStore * store, const gchar * vehicle,
    const gchar * input, gint64 end_ns)
{
  g_mutex_lock (&store->state_lock);
  if (store->footage_func)
    store->footage_func (vehicle, input, end_ns, store->footage_data);
  g_mutex_unlock (&store->state_lock);
}

guint
lb_store_get_n_commits (LbStore * store)
{
  g_return_val_if_fail (store != NULL, 0);
  return g_atomic_int_get (&store->n_commits);
}

guint64
lb_store_get_n_changes (LbStore * store)
{
  g_return_val_if_fail (store != NULL, 0);

  LB_STORE_LOCK (store);
  guint64 n = sqlite3_total_changes64 (store->db);
  LB_STORE_UNLOCK (store);
  return n;
}

const gchar *
lb_store_get_path (LbStore * store)
{
  g_return_val_if_fail (store != NULL, NULL);
  return store->path;
}

const gchar *
lb_store_get_dir (LbStore * store)
{
  g_return_val_if_fail (store != NULL, NULL);
  return store->dir;
}

gboolean
lb_store_check_integrity (LbStore * store, GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);

  gboolean ok = FALSE;
  LB_STORE_LOCK (store);
  g_autoptr (sqlite3_stmt) stmt =
      lb_store_prepare (store, "PRAGMA integrity_check", error);
  if (stmt && sqlite3_step (stmt) == SQLITE_ROW) {
    const gchar *answer = (const gchar *) sqlite3_column_text (stmt, 0);
    ok = g_strcmp0 (answer, "ok") == 0;
    if (!ok)
      g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT,
          "store %s: integrity check: %s", store->path, answer);
  }
  LB_STORE_UNLOCK (store);
  return ok;
}

gchar *
lb_store_explain (LbStore * store, const gchar * sql, GError ** error)
{
  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (sql != NULL, NULL);

  g_autofree gchar *q = g_strconcat ("EXPLAIN QUERY PLAN ", sql, NULL);
  GString *out = g_string_new (NULL);
  LB_STORE_LOCK (store);
  g_autoptr (sqlite3_stmt) stmt = lb_store_prepare (store, q, error);
  if (stmt == NULL) {
    LB_STORE_UNLOCK (store);
    g_string_free (out, TRUE);
    return NULL;
  }
  while (sqlite3_step (stmt) == SQLITE_ROW)
    g_string_append_printf (out, "%s\n",
        (const gchar *) sqlite3_column_text (stmt, 3));
  LB_STORE_UNLOCK (store);
  return g_string_free (out, FALSE);
}
