/* lookback — store internals shared by the store's own files only */
#pragma once

#include "core/lb-media-type.h"
#include "store/lb-store.h"
#include "store/lb-store-footage.h"
#include "store/lb-store-api.h"

#include <sqlite3.h>

G_BEGIN_DECLS

/* One area of the schema: its name and its migration steps, in order.
 * Step i (0-based) takes the area from version i to i + 1.  Steps are only
 * ever appended; a released step is never edited. */
typedef struct {
  const gchar *area;
  const gchar *const *steps;
} LbStoreSchema;

extern const LbStoreSchema lb_store_footage_schema;
extern const LbStoreSchema lb_store_api_schema;
extern const LbStoreSchema lb_store_upload_schema;

/* Locks of an LbStore, in the order they are taken (a thread holding one
 * takes only locks further down the list, never one above it):
 *
 *   1. lock        the main connection.  Recursive: one store area may
 *                  finish another's row inside its own transaction.
 *   2. read_lock   the reader connection.  Never held with another store
 *                  lock: a read that needs the main connection as well
 *                  takes lock instead (lb_store_reader_lock() on a
 *                  read-only store).
 *   3. state_lock  the small state of the checkpointer thread, of the
 *                  group commit of creates and of the footage watcher.
 *                  Taken under lock (a commit's WAL hook asks for a
 *                  checkpoint), or alone; no other store lock is taken
 *                  under it and no SQL runs under it.  The footage watcher
 *                  runs under it (and only under it): it may take locks of
 *                  its own, never the store's.
 *
 * Fields written once by lb_store_open() before the store is shared (path,
 * dir, read_only, the connections themselves, checkpointer) need no lock.
 */
struct _LbStore {
  GRecMutex lock;
  sqlite3 *db;                  /* calls into it: protected by lock */
  GHashTable *stmts;            /* SQL text → cached sqlite3_stmt* of db;
                                 * protected by lock */

  GMutex read_lock;
  sqlite3 *rdb;                 /* second, read-only connection (WAL: it reads the
                                 * last commit while db writes); NULL when the
                                 * store is read-only; calls into it: protected
                                 * by read_lock */
  GHashTable *rstmts;           /* SQL text → cached sqlite3_stmt* of rdb;
                                 * protected by read_lock */

  GMutex state_lock;
  /* WAL checkpoints run on a thread of their own (a connection of its own,
   * PASSIVE), never inside a commit that a request waits for. */
  GThread *checkpointer;
  GCond ck_cond;                /* signalled with ck_wanted or ck_stop */
  gboolean ck_wanted;           /* protected by state_lock */
  gboolean ck_stop;             /* protected by state_lock */
  gint wal_limit_pages;         /* lb_store_set_wal_limit(); atomic */
  /* Group commit of retrieval creates (lb-store-api.c): the creates that
   * arrive while one commit is in flight share the next one. */
  GCond gc_cond;                /* signalled when a batch is committed */
  GQueue gc_queue;              /* waiting creates; protected by state_lock */
  gboolean gc_leader;           /* a thread is committing a batch; protected
                                 * by state_lock */
  gint n_commits;               /* atomic: commits the WAL took */
  /* The watcher of new footage (lb_store_set_footage_func()): called with
   * state_lock held, so that removing it waits for a call in progress. */
  LbFootageFunc footage_func;   /* protected by state_lock */
  gpointer footage_data;        /* protected by state_lock */

  gchar *path;
  gchar *dir;
  gboolean read_only;
  gint webhooks;                /* lb_store_upload_set_webhooks(); atomic */

  /* Cluster mode (lb-store-cluster.h): the 'api' area's PostgreSQL
   * backend, or NULL on a single box.  Set by lb_store_join_cluster()
   * before the store is shared, freed by lb_store_free(); its own locks
   * come after every lock above (lb-store-pg.c). */
  struct _LbStorePg *pg;
};

/* Creates or migrates one area of the schema on the main connection. */
gboolean lb_store_migrate_area   (LbStore              *store,
                                  const LbStoreSchema  *schema,
                                  GError              **error);

/* Makes the store folder private (lb-store-folder.c): the process's umask
 * loses its group and other bits, the folder is created 0700 and the
 * database 0600, and looser modes found are tightened with a log line. */
gboolean lb_store_folder_prepare (const gchar  *dir,
                                  const gchar  *db_path,
                                  GError      **error);

/* Tells the footage watcher, if any (call it with no store lock held). */
void     lb_store_footage_added  (LbStore      *store,
                                  const gchar  *vehicle,
                                  const gchar  *input,
                                  gint64        end_ns);

/* Lock helpers: every public store function brackets its work with these. */
#define LB_STORE_LOCK(s)   g_rec_mutex_lock (&(s)->lock)
#define LB_STORE_UNLOCK(s) g_rec_mutex_unlock (&(s)->lock)

/* Prepares @sql (cached by SQLite's own statement cache is not used; callers
 * finalize).  On failure sets @error naming the statement. */
sqlite3_stmt *lb_store_prepare (LbStore      *store,
                                const gchar  *sql,
                                GError      **error);

/* A statement of @store's statement cache, prepared once (persistent) and
 * kept for the store's lifetime: the caller holds the lock, binds, steps and
 * releases it (g_autoptr (LbStoreStmt) resets it and clears its bindings)
 * before unlocking.  Only for SQL of a bounded set of texts (the cache keys
 * on the text and never shrinks). */
typedef sqlite3_stmt LbStoreStmt;
LbStoreStmt  *lb_store_cached  (LbStore      *store,
                                const gchar  *sql,
                                GError      **error);

void          lb_store_stmt_release (LbStoreStmt *stmt);

/* The reader connection: for reads that must not wait for a write in
 * progress (an fsync) and only need the last committed state.  Between
 * lb_store_reader_lock() and _unlock() the caller may take statements with
 * lb_store_reader_cached() (the same contract as lb_store_cached()).
 * On a read-only store these fall back to the main connection and lock. */
void          lb_store_reader_lock   (LbStore *store);
void          lb_store_reader_unlock (LbStore *store);
LbStoreStmt  *lb_store_reader_cached (LbStore      *store,
                                      const gchar  *sql,
                                      GError      **error);
/* A statement of the reader connection prepared for one use (the caller
 * finalizes it before _unlock): for SQL built per call, which the cache
 * must not keep. */
sqlite3_stmt *lb_store_reader_prepare (LbStore      *store,
                                       const gchar  *sql,
                                       GError      **error);
/* Sets @error from @stmt's connection's last error. */
void          lb_store_set_stmt_error (LbStore      *store,
                                       sqlite3_stmt *stmt,
                                       GError      **error,
                                       const gchar  *what);

/* Runs one or more statements that return no rows. */
gboolean      lb_store_exec    (LbStore      *store,
                                const gchar  *sql,
                                GError      **error);

/* Runs @sql, a cached statement whose one parameter is @id and which
 * returns no rows; @what names it in the error.  The caller holds the lock. */
gboolean      lb_store_exec_id (LbStore      *store,
                                const gchar  *sql,
                                gint64        id,
                                GError      **error,
                                const gchar  *what);

gboolean      lb_store_begin    (LbStore *store, GError **error);   /* BEGIN IMMEDIATE */
gboolean      lb_store_commit   (LbStore *store, GError **error);
void          lb_store_rollback (LbStore *store);

/* Sets @error from the connection's last error, with @what as context. */
void          lb_store_set_error (LbStore      *store,
                                  GError      **error,
                                  const gchar  *what);

/* The columns of a retrieval row, in the order both backends read them. */
#define LB_STORE_ROW_COLUMNS \
  "id, retrieval_id, media_id, org, vehicle, input, camera_role, media_type, " \
  "trigger_reason, start_ns, end_ns, status, progress, not_before_ns, created_ns, " \
  "attempts, period, cost_reserved, cost_committed, output_path, content_type, " \
  "delivered_start_ns, delivered_end_ns, coverage, available_ns, failure_reason, public_url"

/* The wire names of the media types in @set, NULL-terminated in @out. */
void          lb_store_media_type_names (guint        set,
                                         const gchar *out[LB_MEDIA_TYPE_COUNT + 1]);
/* A page of the media list: @rows (taken) were read with a limit one above
 * @f's, to know whether more follow. */
void          lb_store_media_page     (GPtrArray           *rows,
                                       const LbMediaFilter *f,
                                       GPtrArray          **out_rows,
                                       gboolean            *out_more);

/* A create refused for the quota: LB_ERROR_QUOTA_EXCEEDED saying why. */
void          lb_store_quota_refused  (GError  **error,
                                       gdouble   used,
                                       gdouble   reserved,
                                       gdouble   cost,
                                       gdouble   allowance);

/* Rows of the api and upload areas (lb-store-api.c): a media type column
 * holds the wire name; one this build does not know (a newer build's row)
 * reads as a clip. */
LbMediaType   lb_store_col_media_type (sqlite3_stmt *stmt,
                                       gint          col);
LbMediaType   lb_store_media_type_from_text (const gchar *text);
/* "pending" … "invalid"; an unknown word reads as failed. */
LbRetrievalStatus lb_store_status_from_text (const gchar *text);

/* A coverage column (lb-store-coverage.c): the manifest as the store keeps
 * it.  NULL binds and reads as SQL NULL; a text that does not parse reads
 * as NULL (logged). */
void          lb_store_bind_coverage  (sqlite3_stmt     *stmt,
                                       gint              col,
                                       const LbCoverage *coverage);
LbCoverage   *lb_store_col_coverage   (sqlite3_stmt     *stmt,
                                       gint              col);
/* The same text, for the PostgreSQL backend and the local journal. */
gchar        *lb_store_coverage_to_text   (const LbCoverage *coverage);
LbCoverage   *lb_store_coverage_from_text (const gchar      *text);

/* Queues the webhook event of @row, which has just ended (lb-store-upload.c;
 * nothing when webhooks are off).  The caller holds the lock and has the
 * transaction open that ends the row. */
gboolean      lb_store_upload_queue_event (LbStore           *store,
                                           const LbRetrieval *row,
                                           gint64             now_ns,
                                           GError           **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sqlite3_stmt, sqlite3_finalize)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbStoreStmt, lb_store_stmt_release)

G_END_DECLS
