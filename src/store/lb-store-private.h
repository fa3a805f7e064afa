/* lookback — store internals shared by the store's own files only */
#pragma once

#include "store/lb-store.h"

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

struct _LbStore {
  GRecMutex lock;               /* held for every call into db */
  sqlite3 *db;                  /* protected by lock */
  GHashTable *stmts;            /* SQL text → cached sqlite3_stmt* of db; lock */
  GMutex read_lock;             /* held for every call into rdb */
  sqlite3 *rdb;                 /* second, read-only connection (WAL: it reads the
                                 * last commit while db writes); NULL when the
                                 * store is read-only; protected by read_lock */
  GHashTable *rstmts;           /* SQL text → cached sqlite3_stmt* of rdb; read_lock */
  /* WAL checkpoints run on a thread of their own (a connection of its own,
   * PASSIVE), never inside a commit that a request waits for. */
  GThread *checkpointer;
  GMutex ck_lock;
  GCond ck_cond;
  gboolean ck_wanted;           /* ck_lock */
  gboolean ck_stop;             /* ck_lock */
  /* Group commit of retrieval creates (lb-store-api.c): the creates that
   * arrive while one commit is in flight share the next one. */
  GMutex gc_lock;
  GCond gc_cond;
  GQueue gc_queue;              /* waiting creates; gc_lock */
  gboolean gc_leader;           /* a thread is committing a batch; gc_lock */
  gchar *path;
  gchar *dir;
  gboolean read_only;
};

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

gboolean      lb_store_begin    (LbStore *store, GError **error);   /* BEGIN IMMEDIATE */
gboolean      lb_store_commit   (LbStore *store, GError **error);
void          lb_store_rollback (LbStore *store);

/* Sets @error from the connection's last error, with @what as context. */
void          lb_store_set_error (LbStore      *store,
                                  GError      **error,
                                  const gchar  *what);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sqlite3_stmt, sqlite3_finalize)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbStoreStmt, lb_store_stmt_release)

G_END_DECLS
