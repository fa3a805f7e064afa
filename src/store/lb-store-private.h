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

G_END_DECLS
