/* lookback — store internals: the PostgreSQL backend (cluster mode)
 *
 * Only the store's own files include this.  lb-store-pg.c keeps the
 * connections and the node's thread; lb-store-pg-api.c is the 'api' area on
 * PostgreSQL; lb-store-pg-cluster.c the registry of nodes and inputs;
 * lb-store-journal.c the node's local journal of job outcomes (SQLite).
 *
 * Connections: a pool of [cluster] connections for calls (API requests,
 * claims), each used by one thread at a time, plus the node's own
 * connection, used only by its thread: it LISTENs, beats the heartbeat,
 * applies the journal and ends the rows of nodes gone silent.
 *
 * Durable without holding locks through a disk flush: a transaction that
 * touches the quota books (a create, a finish) commits with
 * synchronous_commit off, which releases its row locks at once, and the
 * caller then waits for the flush with a small synchronous transaction on
 * the same connection (lb_store_pg_run (LB_PG_DURABLE)): the WAL is written
 * in order, so that flush covers the commit before it.  Nothing is answered
 * or forgotten before it returns.
 */
#pragma once

#include "store/lb-store-private.h"
#include "store/lb-store-cluster.h"

#include <libpq-fe.h>

G_BEGIN_DECLS

typedef struct _LbStorePg LbStorePg;

/* The text every call fails with while the database is unreachable. */
#define LB_STORE_PG_OFFLINE "The cluster database is unreachable; try again later."

/* Parameters of one statement, as text (NULL is SQL NULL). */
#define LB_PG_MAX_PARAMS 24
typedef struct {
  guint n;
  gchar *values[LB_PG_MAX_PARAMS];
} LbPgParams;

void      lb_pg_text          (LbPgParams *p, const gchar *text);
void      lb_pg_int           (LbPgParams *p, gint64 value);
void      lb_pg_double        (LbPgParams *p, gdouble value);
/* A text[] literal of @values (NULL or empty: SQL NULL). */
void      lb_pg_text_array    (LbPgParams *p, const gchar *const *values);
void      lb_pg_params_clear  (LbPgParams *p);

/* Column readers: text (NULL when SQL NULL), integers (0), times
 * (LB_TIME_NONE), doubles (0). */
gchar    *lb_pg_get_text      (const PGresult *res, gint row, gint col);
gint64    lb_pg_get_int       (const PGresult *res, gint row, gint col);
gint64    lb_pg_get_time      (const PGresult *res, gint row, gint col);
gdouble   lb_pg_get_double    (const PGresult *res, gint row, gint col);
gboolean  lb_pg_get_bool      (const PGresult *res, gint row, gint col);

typedef enum {
  LB_PG_WRITE = 0,
  LB_PG_READ = 1 << 0,          /* may run again on a fresh connection */
  LB_PG_DURABLE = 1 << 1,       /* waits for the flush of what it committed */
} LbPgFlags;

/* Runs @sql (one statement, prepared once per connection) on a connection
 * of the pool.  NULL with @error on failure: LB_ERROR_OFFLINE when the
 * database is unreachable, LB_ERROR_BUSY on a conflict or a time-out,
 * LB_ERROR_FAILED otherwise. */
PGresult *lb_store_pg_run     (LbStorePg         *pg,
                               LbPgFlags          flags,
                               const gchar       *sql,
                               const LbPgParams  *params,
                               GError           **error);

/* The same on one connection the caller holds (the node's thread). */
typedef struct _LbPgConn LbPgConn;
PGresult *lb_store_pg_run_on  (LbStorePg         *pg,
                               LbPgConn          *conn,
                               const gchar       *sql,
                               const LbPgParams  *params,
                               GError           **error);
/* Commands without parameters or rows (BEGIN, COMMIT, SET …). */
gboolean  lb_store_pg_command (LbStorePg         *pg,
                               LbPgConn          *conn,
                               const gchar       *sql,
                               GError           **error);

/* A node's caches, each emptied when the database notifies a change
 * (lb_tokens: a token revoked; lb_registry: a node registered), when the
 * node reconnects, and after 30 s anyway.  A client caches nothing. */
typedef enum {
  LB_PG_CACHE_TOKENS,           /* token hash → LbToken */
  LB_PG_CACHE_VEHICLES,         /* vehicle → GPtrArray of LbClusterInput */
  LB_PG_CACHE_N,
} LbPgCacheKind;

/* A copy (by @copy) of the value kept for @key, or NULL. */
gpointer  lb_store_pg_cache_get (LbStorePg       *pg,
                                 LbPgCacheKind    kind,
                                 const gchar     *key,
                                 GCopyFunc        copy);
/* Keeps @value (taken) for @key. */
void      lb_store_pg_cache_put (LbStorePg       *pg,
                                 LbPgCacheKind    kind,
                                 const gchar     *key,
                                 gpointer         value,
                                 GDestroyNotify   free_func);

/* Migrates the PostgreSQL areas (cluster, api) on @conn. */
gboolean  lb_store_pg_migrate (LbStorePg  *pg,
                               LbPgConn   *conn,
                               GError    **error);

LbStore     *lb_store_pg_store     (LbStorePg *pg);     /* the local store */
const gchar *lb_store_pg_node      (LbStorePg *pg);     /* NULL for a client */
const gchar *lb_store_pg_advertise (LbStorePg *pg);
gint64    lb_store_pg_pending_deadline (LbStorePg *pg);
gint64    lb_store_pg_heartbeat_us     (LbStorePg *pg);
/* Whether the node's first steps on the database are done (claims wait for
 * them: rows it left running must be requeued before it claims any). */
gboolean  lb_store_pg_ready   (LbStorePg *pg);
/* The journal has news for the node's thread (any thread; @added: entries
 * written, negative: entries applied). */
void      lb_store_pg_kick    (LbStorePg *pg,
                               gint       added);
/* Tells the work watcher (the node's thread only). */
void      lb_store_pg_tell_work (LbStorePg *pg);
/* A statement failed because the database went away (any thread). */
void      lb_store_pg_set_down  (LbStorePg *pg,
                                 const gchar *why);

/* ---- the 'api' area (lb-store-pg-api.c); the contract of lb-store-api.h,
 * except that get_retrieval finds no rows without an error */

extern const LbStoreSchema lb_store_pg_api_schema;

gboolean lb_store_pg_create_retrieval (LbStorePg *pg, GPtrArray *rows,
                                       gdouble allowance, gdouble cost,
                                       gdouble *out_used, GError **error);
gboolean lb_store_pg_get_retrieval  (LbStorePg *pg, const gchar *retrieval_id,
                                     const gchar *org, GPtrArray **out_rows,
                                     GError **error);
gboolean lb_store_pg_get_media      (LbStorePg *pg, const gchar *media_id,
                                     LbRetrieval **out, GError **error);
gboolean lb_store_pg_list_media     (LbStorePg *pg, const LbMediaFilter *f,
                                     GPtrArray **out_rows, gboolean *out_more,
                                     GError **error);
gboolean lb_store_pg_quota_usage    (LbStorePg *pg, const gchar *org,
                                     const gchar *period, gdouble *out_used,
                                     gdouble *out_reserved, GError **error);
gboolean lb_store_pg_count_status   (LbStorePg *pg, gint64 *counts,
                                     GError **error);
/* The open rows this node owns (a client: every node's). */
gboolean lb_store_pg_pending_summary (LbStorePg *pg, gint64 *out_count,
                                     gint64 *out_oldest_ns, GError **error);
gboolean lb_store_pg_claim_next     (LbStorePg *pg, gint64 now_ns,
                                     LbRetrieval **out, GError **error);
gboolean lb_store_pg_list_open      (LbStorePg *pg, GPtrArray **out_rows,
                                     GError **error);
gboolean lb_store_pg_get            (LbStorePg *pg, gint64 id,
                                     LbRetrieval **out, GError **error);
gboolean lb_store_pg_find           (LbStorePg *pg, const gchar *retrieval_id,
                                     const gchar *input, LbRetrieval **out,
                                     GError **error);
gboolean lb_store_pg_token_add      (LbStorePg *pg, const gchar *hash,
                                     const gchar *org, const gchar *scopes,
                                     gint64 created_ns, gint64 *out_id,
                                     GError **error);
gboolean lb_store_pg_token_lookup   (LbStorePg *pg, const gchar *hash,
                                     LbToken **out, GError **error);
gboolean lb_store_pg_token_list     (LbStorePg *pg, GPtrArray **out,
                                     GError **error);
gboolean lb_store_pg_token_revoke   (LbStorePg *pg, gint64 id,
                                     gint64 revoked_ns, GError **error);
GBytes  *lb_store_pg_signing_key    (LbStorePg *pg, GError **error);

/* The node's rows left running by its previous run go back to pending
 * (its first connection, after the journal was applied). */
gboolean lb_store_pg_requeue_own    (LbStorePg *pg, LbPgConn *conn,
                                     guint *out_count, GError **error);

/* ---- the registry (lb-store-pg-cluster.c) */

extern const LbStoreSchema lb_store_pg_cluster_schema;

/* Registers the node, its advertise URL and its inputs; beats. */
gboolean lb_store_pg_register       (LbStorePg *pg, LbPgConn *conn,
                                     GPtrArray *inputs, GError **error);
gboolean lb_store_pg_heartbeat      (LbStorePg *pg, LbPgConn *conn,
                                     GError **error);
/* Ends the open rows of silent nodes whose pending deadline has passed. */
gboolean lb_store_pg_end_orphans    (LbStorePg *pg, LbPgConn *conn,
                                     GError **error);
gboolean lb_store_pg_vehicle        (LbStorePg *pg, const gchar *vehicle,
                                     GPtrArray **out, GError **error);

/* ---- the local journal (lb-store-journal.c, SQLite) */

extern const LbStoreSchema lb_store_journal_schema;

typedef enum {
  LB_JOURNAL_PROGRESS,
  LB_JOURNAL_AVAILABLE,
  LB_JOURNAL_FAILED,
  LB_JOURNAL_UNAVAILABLE,
  LB_JOURNAL_PUBLIC_URL,
  LB_JOURNAL_DEFER,
  LB_JOURNAL_WAKE,
} LbJournalKind;

/* One job-side write of a retrieval row, waiting to be applied. */
typedef struct {
  gint64 id;                    /* the journal's, set when read */
  gint64 row;                   /* api_retrievals.id in PostgreSQL */
  LbJournalKind kind;
  gdouble number;               /* PROGRESS: progress; AVAILABLE: cost */
  gint64 not_before_ns;         /* DEFER */
  const gchar *text;            /* AVAILABLE: output path; FAILED, UNAVAILABLE:
                                 * reason; PUBLIC_URL: the URL */
  const gchar *content_type;    /* AVAILABLE */
  gint64 delivered_start_ns, delivered_end_ns, available_ns;    /* AVAILABLE */
  const LbCoverage *coverage;   /* AVAILABLE, may be NULL */
  /* private: what a read entry owns */
  gchar *owned_text, *owned_type;
  LbCoverage *owned_coverage;
} LbJournalEntry;

void       lb_journal_entry_free (LbJournalEntry *e);

/* Writes @e, joining the caller's open transaction if any, and tells the
 * node's thread. */
gboolean   lb_store_journal_add   (LbStore               *store,
                                   const LbJournalEntry  *e,
                                   GError               **error);
/* The oldest @max entries (LbJournalEntry*), in order. */
GPtrArray *lb_store_journal_head  (LbStore  *store,
                                   guint     max,
                                   GError  **error);
/* Drops the entries up to @last_id (applied). */
gboolean   lb_store_journal_drop  (LbStore  *store,
                                   gint64    last_id,
                                   GError  **error);
gint64     lb_store_journal_count (LbStore  *store);
/* The local copy of the cluster's signing key (a node that starts while
 * the database is unreachable still signs and checks media URLs). */
GBytes    *lb_store_journal_get_key (LbStore *store);
void       lb_store_journal_set_key (LbStore *store,
                                     GBytes  *key);

/* Applies the journal's entries to the database on @conn, oldest first,
 * then drops them; FALSE when the database went away (what was applied is
 * dropped, the rest waits).  TRUE when the journal is empty. */
gboolean   lb_store_pg_apply_journal (LbStorePg *pg,
                                      LbPgConn  *conn,
                                      gboolean  *out_woke,
                                      GError   **error);

/* ---- life (lb-store-pg.c) */
LbStorePg *lb_store_pg_new  (LbStore                 *store,
                             const LbClusterOptions  *options,
                             GError                 **error);
void       lb_store_pg_free (LbStorePg *pg);
gboolean   lb_store_pg_status (LbStorePg *pg, LbClusterStatus *out);
void       lb_store_pg_set_work_func (LbStorePg *pg, LbStoreWorkFunc func,
                                      gpointer user_data);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PGresult, PQclear)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (LbPgParams, lb_pg_params_clear)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbJournalEntry, lb_journal_entry_free)

G_END_DECLS
