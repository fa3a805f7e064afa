/* lookback — the store: the one module that speaks SQL
 *
 * One SQLite database in WAL mode holds the footage index (segments and
 * keyframes), retrievals, tokens, quota, the upload journal and pins.  The
 * schema of each area is created and migrated by the store itself: every area
 * ("footage", "api", "upload", ...) keeps its own list of migration steps and
 * its own version in the schema_version table, so areas evolve independently.
 *
 * An LbStore may be used from several threads: each call takes the store's
 * lock for its whole transaction.  Other processes (the CLI, a second
 * lbrecordingsrc) may open the same file; SQLite's WAL and busy timeout
 * handle that.
 *
 * The functions of each area are declared in lb-store-<area>.h.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _LbStore LbStore;

typedef enum {
  LB_STORE_OPEN_DEFAULT = 0,
  LB_STORE_OPEN_READ_ONLY = 1 << 0,   /* never creates or migrates */
} LbStoreOpenFlags;

LbStore     *lb_store_open       (const gchar       *db_path,
                                  LbStoreOpenFlags   flags,
                                  GError           **error);
void         lb_store_free       (LbStore *store);
const gchar *lb_store_get_path   (LbStore *store);

/* Folder of the database: segment paths in the index are relative to it. */
const gchar *lb_store_get_dir    (LbStore *store);

/* The version of an area's schema (0 when the area has no tables yet). */
gint         lb_store_schema_version (LbStore      *store,
                                      const gchar  *area);

/* The bound of the write-ahead log, in bytes (default LB_STORE_WAL_LIMIT):
 * while the store is open its WAL is checkpointed into the database in the
 * background well before it holds that much, and cut back to a quarter of
 * it; nothing waits for a clean exit.  Only a reader that keeps one
 * snapshot open for long (another process) can hold it above. */
#define LB_STORE_WAL_LIMIT (32 * 1024 * 1024)
void         lb_store_set_wal_limit (LbStore  *store,
                                     gint64    bytes);

/* Rows inserted, updated or deleted through this store since it was opened
 * (SQLite's total_changes): how much it writes, for tests and counters. */
guint64      lb_store_get_n_changes (LbStore *store);
/* Transactions this store committed to its write-ahead log since it was
 * opened (each one a sync of the log): how often it writes, for tests. */
guint        lb_store_get_n_commits (LbStore *store);

/* PRAGMA integrity_check: TRUE when it answers "ok". */
gboolean     lb_store_check_integrity (LbStore  *store,
                                       GError  **error);

/* The query plan SQLite would use for @sql, one line per step (tests). */
gchar       *lb_store_explain   (LbStore      *store,
                                 const gchar  *sql,
                                 GError      **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbStore, lb_store_free)

G_END_DECLS
