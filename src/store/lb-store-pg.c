/* lookback — store: the PostgreSQL backend's connections and the node's
 * thread (see lb-store-pg.h and lb-store-cluster.h) */
#include "store/lb-store-pg.h"
#include "core/lb-debug.h"
#include "core/lb-error.h"
#include "core/lb-log.h"
#include "core/lb-time.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

GST_DEBUG_CATEGORY_STATIC (lb_store_pg_debug);
#define GST_CAT_DEFAULT lb_store_pg_debug

/* Bounds of a connection: connecting, one statement, waiting for a lock. */
#define CONNECT_TIMEOUT_S "3"
#define SESSION_SETTINGS \
  "SET statement_timeout = '30s'; SET lock_timeout = '10s'"
/* A caller waits this long for a free connection of the pool, then 503. */
#define ACQUIRE_TIMEOUT_US (10 * G_USEC_PER_SEC)
/* The node's thread reconnects after this, doubling up to the max. */
#define RETRY_MIN_US (G_USEC_PER_SEC / 4)
#define RETRY_MAX_US (2 * G_USEC_PER_SEC)
/* A node's caches of tokens and of the registry: emptied by the database's
 * notifications of a change, kept at most this long and this many. */
#define CACHE_TTL_US (30 * G_USEC_PER_SEC)
#define CACHE_MAX 1024

static const gchar *const cache_channels[LB_PG_CACHE_N] = {
  [LB_PG_CACHE_TOKENS] = "lb_tokens",
  [LB_PG_CACHE_VEHICLES] = "lb_registry",
};

struct _LbPgConn
{
  PGconn *conn;
  GHashTable *prepared;         /* names of the statements prepared on it */
};

/* Locks: lock (and work_lock) come after every lock of the store, and
 * neither is held while talking to the database; work_lock is held only
 * while calling the work watcher, lock never while taking work_lock. */
struct _LbStorePg
{
  LbStore *store;               /* not owned: it owns us */
  gchar *conninfo;
  gchar *node;                  /* NULL for a client */
  gchar *advertise;
  GPtrArray *inputs;            /* LbClusterInput*, what the node records */
  guint max_conns;
  gint64 heartbeat_us;
  gint64 pending_deadline_ns;

  GMutex lock;
  GCond cond;                   /* a connection came back to the pool */
  GPtrArray *idle;              /* LbPgConn* of the pool; lock */
  guint n_open;                 /* pool connections in existence; lock */
  GHashTable *names;            /* SQL text → statement name; lock */
  gboolean down;                /* calls fail at once; lock */
  gboolean reached;             /* it answered once; lock */
  gint64 down_since_ns;         /* lock */
  gchar *last_error;            /* lock */
  gboolean ready;               /* lock */
  gint64 journal;               /* entries waiting; lock */
  gboolean kicked;              /* the journal has news; lock */
  gboolean probe;               /* a call saw the database go; lock */
  gboolean stop;                /* lock */
  GHashTable *cache[LB_PG_CACHE_N];     /* key → Cached*; lock; nodes only */

  GMutex work_lock;
  LbStoreWorkFunc work_func;    /* work_lock */
  gpointer work_data;           /* work_lock */

  /* The node's thread; own and migrated are the thread's (or
   * lb_store_pg_new()'s, before the thread starts). */
  GThread *thread;
  gint event_fd;
  LbPgConn *own;
  gboolean migrated;
  gint64 next_beat_us;
};

static void
debug_init (void)
{
  LB_DEBUG_INIT (lb_store_pg_debug, "lookback-store-pg",
      "lookback store: PostgreSQL (cluster mode)");
}

/* ---- parameters and columns ------------------------------------------ */

static void
params_add (LbPgParams * p, gchar * owned)
{
  g_assert (p->n < LB_PG_MAX_PARAMS);
  p->values[p->n++] = owned;
}

void
lb_pg_text (LbPgParams * p, const gchar * text)
{
  params_add (p, g_strdup (text));
}

void
lb_pg_int (LbPgParams * p, gint64 value)
{
  params_add (p, g_strdup_printf ("%" G_GINT64_FORMAT, value));
}

void
lb_pg_double (LbPgParams * p, gdouble value)
{
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE];
  params_add (p, g_strdup (g_ascii_dtostr (buf, sizeof buf, value)));
}

void
lb_pg_text_array (LbPgParams * p, const gchar * const *values)
{
  if (values == NULL || values[0] == NULL) {
    params_add (p, NULL);
    return;
  }
  GString *s = g_string_new ("{");
  for (guint i = 0; values[i]; i++) {
    g_string_append (s, i ? ",\"" : "\"");
    for (const gchar * c = values[i]; *c; c++) {
      if (*c == '"' || *c == '\\')
        g_string_append_c (s, '\\');
      g_string_append_c (s, *c);
    }
    g_string_append_c (s, '"');
  }
  g_string_append_c (s, '}');
  params_add (p, g_string_free (s, FALSE));
}

void
lb_pg_params_clear (LbPgParams * p)
{
  for (guint i = 0; i < p->n; i++)
    g_free (p->values[i]);
  p->n = 0;
}

gchar *
lb_pg_get_text (const PGresult * res, gint row, gint col)
{
  return PQgetisnull (res, row, col) ? NULL
      : g_strdup (PQgetvalue (res, row, col));
}

gint64
lb_pg_get_int (const PGresult * res, gint row, gint col)
{
  return PQgetisnull (res, row, col) ? 0
      : g_ascii_strtoll (PQgetvalue (res, row, col), NULL, 10);
}

gint64
lb_pg_get_time (const PGresult * res, gint row, gint col)
{
  return PQgetisnull (res, row, col) ? LB_TIME_NONE
      : g_ascii_strtoll (PQgetvalue (res, row, col), NULL, 10);
}

gdouble
lb_pg_get_double (const PGresult * res, gint row, gint col)
{
  return PQgetisnull (res, row, col) ? 0
      : g_ascii_strtod (PQgetvalue (res, row, col), NULL);
}

gboolean
lb_pg_get_bool (const PGresult * res, gint row, gint col)
{
  return !PQgetisnull (res, row, col)
      && g_str_equal (PQgetvalue (res, row, col), "t");
}

/* ---- state ------------------------------------------------------------ */

static void
set_offline_error (GError ** error)
{
  g_set_error_literal (error, LB_ERROR, LB_ERROR_OFFLINE, LB_STORE_PG_OFFLINE);
}

static void
wake_thread (LbStorePg * pg)
{
  guint64 one = 1;
  if (pg->event_fd >= 0 && write (pg->event_fd, &one, sizeof one) < 0
      && errno != EAGAIN)
    GST_WARNING ("waking the cluster thread: %s", g_strerror (errno));
}

/* libpq's messages span lines: one line for the log. */
static gchar *
one_line (const gchar * text)
{
  g_auto (GStrv) words = g_strsplit_set (text ? text : "no answer", " \t\n",
      -1);
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  for (guint i = 0; words[i]; i++)
    if (*words[i])
      g_strv_builder_add (b, words[i]);
  g_auto (GStrv) kept = g_strv_builder_end (b);
  return g_strjoinv (" ", kept);
}

void
lb_store_pg_set_down (LbStorePg * pg, const gchar * why)
{
  g_autofree gchar *text = one_line (why);
  g_mutex_lock (&pg->lock);
  gboolean was_down = pg->down;
  /* A client has no thread to bring it back up: it just tries again. */
  pg->down = pg->node != NULL;
  pg->probe = TRUE;
  if (!was_down && pg->down)
    pg->down_since_ns = lb_time_now ();
  g_free (pg->last_error);
  pg->last_error = g_strdup (text);
  g_mutex_unlock (&pg->lock);
  if (!was_down)
    lb_log (LB_LOG_WARNING, NULL, "cluster database unreachable: %s", text);
  wake_thread (pg);
}

static void
set_up (LbStorePg * pg)
{
  g_mutex_lock (&pg->lock);
  gboolean again = pg->down && pg->reached;
  pg->down = FALSE;
  pg->reached = TRUE;
  pg->probe = FALSE;
  pg->down_since_ns = 0;
  g_mutex_unlock (&pg->lock);
  if (again)
    lb_log (LB_LOG_NOTICE, NULL, "cluster database reachable again");
}

/* ---- caches ----------------------------------------------------------- */

typedef struct
{
  gpointer value;
  GDestroyNotify free_func;
  gint64 until_us;
} Cached;

static void
cached_free (gpointer data)
{
  Cached *c = data;
  c->free_func (c->value);
  g_free (c);
}

gpointer
lb_store_pg_cache_get (LbStorePg * pg, LbPgCacheKind kind, const gchar * key,
    GCopyFunc copy)
{
  gpointer out = NULL;
  g_mutex_lock (&pg->lock);
  Cached *c = pg->cache[kind] ? g_hash_table_lookup (pg->cache[kind], key)
      : NULL;
  if (c && c->until_us > g_get_monotonic_time ())
    out = copy (c->value, NULL);
  g_mutex_unlock (&pg->lock);
  return out;
}

void
lb_store_pg_cache_put (LbStorePg * pg, LbPgCacheKind kind, const gchar * key,
    gpointer value, GDestroyNotify free_func)
{
  Cached *c = g_new0 (Cached, 1);
  c->value = value;
  c->free_func = free_func;
  c->until_us = g_get_monotonic_time () + CACHE_TTL_US;
  g_mutex_lock (&pg->lock);
  if (pg->cache[kind] == NULL) {
    /* a client: nobody would tell it of a change */
    g_mutex_unlock (&pg->lock);
    cached_free (c);
    return;
  }
  if (g_hash_table_size (pg->cache[kind]) >= CACHE_MAX)
    g_hash_table_remove_all (pg->cache[kind]);
  g_hash_table_replace (pg->cache[kind], g_strdup (key), c);
  g_mutex_unlock (&pg->lock);
}

static void
cache_clear (LbStorePg * pg, gint kind)
{
  g_mutex_lock (&pg->lock);
  for (gint k = 0; k < LB_PG_CACHE_N; k++)
    if (pg->cache[k] && (kind < 0 || kind == k))
      g_hash_table_remove_all (pg->cache[k]);
  g_mutex_unlock (&pg->lock);
}

/* ---- connections ------------------------------------------------------ */

static void
conn_free (LbPgConn * c)
{
  if (c == NULL)
    return;
  PQfinish (c->conn);
  g_hash_table_unref (c->prepared);
  g_free (c);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbPgConn, conn_free);

/* The server's notices (NOTICE: … already exists) are for debugging. */
static void
on_notice (void *data, const char *message)
{
  GST_DEBUG ("cluster database: %s", message);
}

static gboolean
conn_settle (LbStorePg * pg, LbPgConn * c, GError ** error)
{
  g_hash_table_remove_all (c->prepared);
  PQsetNoticeProcessor (c->conn, on_notice, NULL);
  if (PQstatus (c->conn) != CONNECTION_OK) {
    lb_store_pg_set_down (pg, PQerrorMessage (c->conn));
    set_offline_error (error);
    return FALSE;
  }
  return lb_store_pg_command (pg, c, SESSION_SETTINGS, error);
}

static LbPgConn *
conn_open (LbStorePg * pg, GError ** error)
{
  g_autofree gchar *app =
      g_strdup_printf ("lookback %s", pg->node ? pg->node : "client");
  /* dbname last: what the operator's connection string says wins */
  const gchar *const keys[] = { "application_name", "connect_timeout",
    "keepalives", "keepalives_idle", "keepalives_interval",
    "keepalives_count", "tcp_user_timeout", "dbname", NULL
  };
  const gchar *const values[] = { app, CONNECT_TIMEOUT_S, "1", "10", "5", "3",
    "10000", pg->conninfo, NULL
  };
  g_autoptr (LbPgConn) c = g_new0 (LbPgConn, 1);
  c->prepared = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  c->conn = PQconnectdbParams (keys, values, 1);
  if (!conn_settle (pg, c, error))
    return NULL;
  return g_steal_pointer (&c);
}

/* Reconnects a connection whose peer went away: nothing is ever due on an
 * idle one, so a byte waiting there is the server's farewell (a restart)
 * or an end of file. */
static gboolean
conn_check (LbStorePg * pg, LbPgConn * c, GError ** error)
{
  struct pollfd fd = { PQsocket (c->conn), POLLIN, 0 };
  if (PQstatus (c->conn) == CONNECTION_OK && fd.fd >= 0
      && poll (&fd, 1, 0) == 0)
    return TRUE;
  GST_DEBUG ("a pool connection went away; reconnecting");
  PQreset (c->conn);
  return conn_settle (pg, c, error);
}

static LbPgConn *
acquire (LbStorePg * pg, GError ** error)
{
  gint64 until = g_get_monotonic_time () + ACQUIRE_TIMEOUT_US;
  LbPgConn *c = NULL;

  g_mutex_lock (&pg->lock);
  while (!pg->down && pg->idle->len == 0 && pg->n_open >= pg->max_conns)
    if (!g_cond_wait_until (&pg->cond, &pg->lock, until))
      break;
  gboolean down = pg->down;
  if (!down && pg->idle->len)
    c = g_ptr_array_steal_index (pg->idle, pg->idle->len - 1);
  gboolean open_new = !down && c == NULL && pg->n_open < pg->max_conns;
  if (open_new)
    pg->n_open++;
  g_mutex_unlock (&pg->lock);

  if (down) {
    set_offline_error (error);
    return NULL;
  }
  if (c == NULL && !open_new) {
    g_set_error (error, LB_ERROR, LB_ERROR_BUSY,
        "all %u connections to the cluster database stayed busy",
        pg->max_conns);
    return NULL;
  }
  if (c == NULL)
    c = conn_open (pg, error);
  else if (!conn_check (pg, c, error))
    g_clear_pointer (&c, conn_free);
  if (c)
    return c;
  g_mutex_lock (&pg->lock);
  pg->n_open--;
  g_cond_signal (&pg->cond);
  g_mutex_unlock (&pg->lock);
  return NULL;
}

static void
release (LbStorePg * pg, LbPgConn * c)
{
  g_mutex_lock (&pg->lock);
  g_ptr_array_add (pg->idle, c);
  g_cond_signal (&pg->cond);
  g_mutex_unlock (&pg->lock);
}

/* ---- statements ------------------------------------------------------- */

static const gchar *
statement_name (LbStorePg * pg, const gchar * sql)
{
  g_mutex_lock (&pg->lock);
  const gchar *name = g_hash_table_lookup (pg->names, sql);
  if (name == NULL) {
    gchar *n = g_strdup_printf ("lb%u", g_hash_table_size (pg->names));
    g_hash_table_insert (pg->names, g_strdup (sql), n);
    name = n;
  }
  g_mutex_unlock (&pg->lock);
  return name;
}

static gboolean
sqlstate_is (const PGresult * res, const gchar * prefix)
{
  const gchar *state = res ? PQresultErrorField (res, PG_DIAG_SQLSTATE) : NULL;
  return state && g_str_has_prefix (state, prefix);
}

/* TRUE when @res succeeded; otherwise @error says how it failed. */
static gboolean
result_ok (LbStorePg * pg, LbPgConn * c, const PGresult * res,
    const gchar * sql, GError ** error)
{
  ExecStatusType st = res ? PQresultStatus (res) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
    return TRUE;
  const gchar *msg = res ? PQresultErrorMessage (res) : "";
  if (*msg == '\0')
    msg = PQerrorMessage (c->conn);
  if (PQstatus (c->conn) != CONNECTION_OK || sqlstate_is (res, "08")
      || sqlstate_is (res, "57P")) {
    lb_store_pg_set_down (pg, msg);
    set_offline_error (error);
    return FALSE;
  }
  gboolean busy = sqlstate_is (res, "40") || sqlstate_is (res, "53")
      || sqlstate_is (res, "55P03") || sqlstate_is (res, "57014");
  g_autofree gchar *text = one_line (msg);
  GST_WARNING ("cluster database: %s (statement: %.200s)", text, sql);
  g_set_error (error, LB_ERROR, busy ? LB_ERROR_BUSY : LB_ERROR_FAILED,
      "cluster database: %s", text);
  if (!busy)
    lb_log (LB_LOG_ERROR, NULL, "cluster database: %s", text);
  return FALSE;
}

gboolean
lb_store_pg_command (LbStorePg * pg, LbPgConn * c, const gchar * sql,
    GError ** error)
{
  g_autoptr (PGresult) res = PQexec (c->conn, sql);
  return result_ok (pg, c, res, sql, error);
}

PGresult *
lb_store_pg_run_on (LbStorePg * pg, LbPgConn * c, const gchar * sql,
    const LbPgParams * params, GError ** error)
{
  const gchar *name = statement_name (pg, sql);
  if (!g_hash_table_contains (c->prepared, name)) {
    g_autoptr (PGresult) prep = PQprepare (c->conn, name, sql, 0, NULL);
    if (!result_ok (pg, c, prep, sql, error))
      return NULL;
    g_hash_table_add (c->prepared, g_strdup (name));
  }
  PGresult *res = PQexecPrepared (c->conn, name, params ? params->n : 0,
      params ? (const char *const *) params->values : NULL, NULL, NULL, 0);
  if (!result_ok (pg, c, res, sql, error)) {
    PQclear (res);
    return NULL;
  }
  return res;
}

PGresult *
lb_store_pg_run (LbStorePg * pg, LbPgFlags flags, const gchar * sql,
    const LbPgParams * params, GError ** error)
{
  for (guint attempt = 0;; attempt++) {
    g_autoptr (GError) local = NULL;
    LbPgConn *c = acquire (pg, error);
    if (c == NULL)
      return NULL;
    PGresult *res = lb_store_pg_run_on (pg, c, sql, params, &local);
    if (res && (flags & LB_PG_DURABLE)) {
      /* a transaction with an id: its synchronous commit flushes the WAL
       * up to here, the asynchronous commit before it included */
      g_autoptr (PGresult) flushed =
          lb_store_pg_run_on (pg, c, "SELECT txid_current ()", NULL, &local);
      if (flushed == NULL)
        g_clear_pointer (&res, PQclear);
    }
    gboolean lost = PQstatus (c->conn) != CONNECTION_OK;
    release (pg, c);
    if (res)
      return res;
    /* A read that met a connection the server had just closed runs again
     * on a fresh one (which the next acquire makes). */
    if (!(attempt == 0 && lost && (flags & LB_PG_READ))) {
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  }
}

/* ---- migrations ------------------------------------------------------- */

static const LbStoreSchema *const pg_schemas[] = {
  &lb_store_pg_cluster_schema,
  &lb_store_pg_api_schema,
};

static gint
pg_version (LbStorePg * pg, LbPgConn * c, const gchar * area, GError ** error)
{
  LbPgParams p = { 0 };
  lb_pg_text (&p, area);
  g_autoptr (PGresult) res = lb_store_pg_run_on (pg, c,
      "SELECT version FROM lb_schema_version WHERE area = $1", &p, error);
  lb_pg_params_clear (&p);
  if (res == NULL)
    return -1;
  return PQntuples (res) ? (gint) lb_pg_get_int (res, 0, 0) : 0;
}

/* One step, in a transaction that holds the migration lock (nodes that
 * start together migrate one after the other). */
static gboolean
migrate_step (LbStorePg * pg, LbPgConn * c, const LbStoreSchema * schema,
    guint target, gboolean * done, GError ** error)
{
  if (!lb_store_pg_command (pg, c, "BEGIN; "
          "SELECT pg_advisory_xact_lock (7723012345)", error))
    return FALSE;
  gint version = pg_version (pg, c, schema->area, error);
  if (version < 0)
    goto fail;
  if ((guint) version > target) {
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT, "the cluster database's "
        "'%s' schema is at version %d, newer than this lookback knows (%u)",
        schema->area, version, target);
    goto fail;
  }
  *done = (guint) version == target;
  if (!*done) {
    LbPgParams p = { 0 };
    lb_pg_text (&p, schema->area);
    lb_pg_int (&p, version + 1);
    g_autoptr (PGresult) res = NULL;
    gboolean ok = lb_store_pg_command (pg, c, schema->steps[version], error)
        && (res = lb_store_pg_run_on (pg, c,
            "INSERT INTO lb_schema_version (area, version) VALUES ($1, $2)"
            " ON CONFLICT (area) DO UPDATE SET version = EXCLUDED.version",
            &p, error)) != NULL;
    lb_pg_params_clear (&p);
    if (!ok)
      goto fail;
    lb_log (LB_LOG_INFO, NULL, "cluster database: schema '%s' migrated to "
        "version %d", schema->area, version + 1);
  }
  return lb_store_pg_command (pg, c, "COMMIT", error);

fail:
  lb_store_pg_command (pg, c, "ROLLBACK", NULL);
  return FALSE;
}

gboolean
lb_store_pg_migrate (LbStorePg * pg, LbPgConn * c, GError ** error)
{
  if (!lb_store_pg_command (pg, c,
          "CREATE TABLE IF NOT EXISTS lb_schema_version ("
          "  area text PRIMARY KEY, version integer NOT NULL)", error))
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (pg_schemas); i++) {
    guint target = g_strv_length ((GStrv) pg_schemas[i]->steps);
    gboolean done = FALSE;
    while (!done)
      if (!migrate_step (pg, c, pg_schemas[i], target, &done, error)) {
        g_prefix_error (error, "migrating '%s': ", pg_schemas[i]->area);
        return FALSE;
      }
  }
  return TRUE;
}

/* ---- the node's thread ------------------------------------------------ */

LbStore *
lb_store_pg_store (LbStorePg * pg)
{
  return pg->store;
}

const gchar *
lb_store_pg_node (LbStorePg * pg)
{
  return pg->node;
}

const gchar *
lb_store_pg_advertise (LbStorePg * pg)
{
  return pg->advertise;
}

gint64
lb_store_pg_pending_deadline (LbStorePg * pg)
{
  return pg->pending_deadline_ns;
}

gint64
lb_store_pg_heartbeat_us (LbStorePg * pg)
{
  return pg->heartbeat_us;
}

gboolean
lb_store_pg_ready (LbStorePg * pg)
{
  g_mutex_lock (&pg->lock);
  gboolean ready = pg->ready && !pg->down;
  g_mutex_unlock (&pg->lock);
  return ready;
}

void
lb_store_pg_kick (LbStorePg * pg, gint added)
{
  g_mutex_lock (&pg->lock);
  pg->journal = MAX (pg->journal + added, 0);
  pg->kicked |= added > 0;
  g_mutex_unlock (&pg->lock);
  if (added > 0)
    wake_thread (pg);
}

void
lb_store_pg_tell_work (LbStorePg * pg)
{
  g_mutex_lock (&pg->work_lock);
  if (pg->work_func)
    pg->work_func (pg->work_data);
  g_mutex_unlock (&pg->work_lock);
}

void
lb_store_pg_set_work_func (LbStorePg * pg, LbStoreWorkFunc func,
    gpointer user_data)
{
  g_mutex_lock (&pg->work_lock);
  pg->work_func = func;
  pg->work_data = user_data;
  g_mutex_unlock (&pg->work_lock);
}

static void
drop_own (LbStorePg * pg)
{
  g_clear_pointer (&pg->own, conn_free);
}

/* The journal, to the database: FALSE when the connection went. */
static gboolean
apply_journal (LbStorePg * pg)
{
  g_autoptr (GError) error = NULL;
  gboolean woke = FALSE;

  g_mutex_lock (&pg->lock);
  pg->kicked = FALSE;
  g_mutex_unlock (&pg->lock);
  gboolean ok = lb_store_pg_apply_journal (pg, pg->own, &woke, &error);
  if (woke)
    lb_store_pg_tell_work (pg);
  /* offline: said once by lb_store_pg_set_down; anything else, here (the
   * entries wait for the next kick or reconnection) */
  if (!ok && !g_error_matches (error, LB_ERROR, LB_ERROR_OFFLINE))
    lb_log (LB_LOG_WARNING, NULL, "cluster journal: the waiting job outcomes "
        "cannot be recorded yet: %s", error->message);
  return ok || !g_error_matches (error, LB_ERROR, LB_ERROR_OFFLINE);
}

/* A fresh connection of the node's own: the schema (once), LISTEN, the
 * registry, the journal, and the first time the rows it left running. */
static gboolean
node_connect (LbStorePg * pg, GError ** error)
{
  guint requeued = 0;

  pg->own = conn_open (pg, error);
  if (pg->own == NULL)
    return FALSE;
  if ((!pg->migrated && !lb_store_pg_migrate (pg, pg->own, error))
      || !lb_store_pg_command (pg, pg->own, "LISTEN lb_work; "
          "LISTEN lb_tokens; LISTEN lb_registry", error)
      || !lb_store_pg_register (pg, pg->own, pg->inputs, error))
    goto fail;
  /* what changed while it did not listen */
  cache_clear (pg, -1);
  pg->migrated = TRUE;
  if (!lb_store_pg_apply_journal (pg, pg->own, NULL, error))
    goto fail;
  g_mutex_lock (&pg->lock);
  gboolean ready = pg->ready;
  g_mutex_unlock (&pg->lock);
  if (!ready && !lb_store_pg_requeue_own (pg, pg->own, &requeued, error))
    goto fail;
  if (requeued)
    lb_log (LB_LOG_INFO, NULL, "%u retrievals were running when lookbackd "
        "stopped; they run again", requeued);
  g_mutex_lock (&pg->lock);
  pg->ready = TRUE;
  g_mutex_unlock (&pg->lock);
  set_up (pg);
  pg->next_beat_us = g_get_monotonic_time () + pg->heartbeat_us;
  lb_store_pg_tell_work (pg);
  return TRUE;

fail:
  drop_own (pg);
  return FALSE;
}

/* Waits @us for the event fd (or the database's socket, when >= 0). */
static gboolean
node_wait (LbStorePg * pg, gint sock, gint64 us)
{
  struct pollfd fds[2] = { {pg->event_fd, POLLIN, 0}, {sock, POLLIN, 0} };
  gint n = poll (fds, sock >= 0 ? 2 : 1, (gint) MAX (us / 1000, 0));
  if (n > 0 && fds[0].revents) {
    guint64 v;
    if (read (pg->event_fd, &v, sizeof v) < 0 && errno != EAGAIN)
      GST_WARNING ("cluster thread: %s", g_strerror (errno));
  }
  return n > 0 && sock >= 0 && fds[1].revents;
}

/* Notifications for this node: FALSE when the connection went. */
static gboolean
read_notifies (LbStorePg * pg, gboolean * work)
{
  if (!PQconsumeInput (pg->own->conn)) {
    lb_store_pg_set_down (pg, PQerrorMessage (pg->own->conn));
    return FALSE;
  }
  PGnotify *n;
  while ((n = PQnotifies (pg->own->conn)) != NULL) {
    if (g_str_equal (n->relname, "lb_work"))
      *work |= g_strcmp0 (n->extra, pg->node) == 0;
    for (gint k = 0; k < LB_PG_CACHE_N; k++)
      if (g_str_equal (n->relname, cache_channels[k]))
        cache_clear (pg, k);
    PQfreemem (n);
  }
  return TRUE;
}

/* The heartbeat, the rows of silent nodes, and after a call saw the
 * database go, a probe: FALSE when the connection went. */
static gboolean
beat (LbStorePg * pg)
{
  g_autoptr (GError) error = NULL;
  g_mutex_lock (&pg->lock);
  gboolean probe = pg->probe;
  gboolean journal = pg->journal > 0;
  pg->probe = FALSE;
  g_mutex_unlock (&pg->lock);
  gint64 now = g_get_monotonic_time ();
  if (!probe && now < pg->next_beat_us)
    return TRUE;
  pg->next_beat_us = now + pg->heartbeat_us;
  if (!lb_store_pg_heartbeat (pg, pg->own, &error)
      || !lb_store_pg_end_orphans (pg, pg->own, &error))
    return !g_error_matches (error, LB_ERROR, LB_ERROR_OFFLINE);
  set_up (pg);
  /* entries an earlier turn could not apply (not a lost connection) */
  return !journal || apply_journal (pg);
}

/* One turn of a connected node: FALSE when the connection went. */
static gboolean
node_step (LbStorePg * pg)
{
  gboolean work = FALSE;
  gint64 wait = pg->next_beat_us - g_get_monotonic_time ();

  g_mutex_lock (&pg->lock);
  gboolean busy = pg->kicked || pg->probe || pg->stop;
  g_mutex_unlock (&pg->lock);
  if (!busy)
    node_wait (pg, PQsocket (pg->own->conn), wait);
  if (!read_notifies (pg, &work))
    return FALSE;
  if (work)
    lb_store_pg_tell_work (pg);
  g_mutex_lock (&pg->lock);
  gboolean kicked = pg->kicked;
  g_mutex_unlock (&pg->lock);
  if (kicked && !apply_journal (pg))
    return FALSE;
  return beat (pg);
}

static gboolean
stopping (LbStorePg * pg)
{
  g_mutex_lock (&pg->lock);
  gboolean stop = pg->stop;
  g_mutex_unlock (&pg->lock);
  return stop;
}

static gpointer
node_main (gpointer data)
{
  LbStorePg *pg = data;
  gint64 backoff = RETRY_MIN_US;

  while (!stopping (pg)) {
    if (pg->own == NULL) {
      g_autoptr (GError) error = NULL;
      if (!node_connect (pg, &error)) {
        if (!g_error_matches (error, LB_ERROR, LB_ERROR_OFFLINE))
          lb_log (LB_LOG_ERROR, NULL, "cluster database: %s", error->message);
        node_wait (pg, -1, backoff);
        backoff = MIN (backoff * 2, RETRY_MAX_US);
        continue;
      }
      backoff = RETRY_MIN_US;
    }
    if (!node_step (pg))
      drop_own (pg);
  }
  /* what the jobs wrote while stopping (rows put back to pending) */
  if (pg->own)
    apply_journal (pg);
  return NULL;
}

/* ---- life ------------------------------------------------------------- */

static GPtrArray *
copy_inputs (const LbClusterOptions * o)
{
  GPtrArray *out =
      g_ptr_array_new_with_free_func ((GDestroyNotify) lb_cluster_input_free);
  for (guint i = 0; o->inputs && i < o->inputs->len; i++) {
    const LbInputConfig *in = o->inputs->pdata[i];
    LbClusterInput *ci = g_new0 (LbClusterInput, 1);
    ci->vehicle = g_strdup (in->vehicle);
    ci->input = g_strdup (in->input);
    ci->role = in->role && *in->role ? g_strdup (in->role) : NULL;
    ci->node = g_strdup (o->node);
    g_ptr_array_add (out, ci);
  }
  return out;
}

static gboolean
check_conninfo (const gchar * conninfo, GError ** error)
{
  gchar *why = NULL;
  PQconninfoOption *opts = PQconninfoParse (conninfo, &why);
  if (opts == NULL) {
    g_set_error (error, LB_ERROR, LB_ERROR_CONFIG,
        "[cluster] database: %s", why ? g_strstrip (why) : "does not parse");
    PQfreemem (why);
    return FALSE;
  }
  PQconninfoFree (opts);
  return TRUE;
}

static LbStorePg *
pg_alloc (LbStore * store, const LbClusterOptions * o)
{
  LbStorePg *pg = g_new0 (LbStorePg, 1);
  pg->store = store;
  pg->conninfo = g_strdup (o->database);
  pg->node = g_strdup (o->node);
  pg->advertise = g_strdup (o->advertise);
  pg->inputs = copy_inputs (o);
  pg->max_conns = MAX (o->connections, 1);
  pg->heartbeat_us = MAX (o->heartbeat_ns / 1000, G_USEC_PER_SEC / 10);
  pg->pending_deadline_ns = o->pending_deadline_ns;
  g_mutex_init (&pg->lock);
  g_cond_init (&pg->cond);
  g_mutex_init (&pg->work_lock);
  pg->idle = g_ptr_array_new_with_free_func ((GDestroyNotify) conn_free);
  pg->names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  pg->event_fd = -1;
  return pg;
}

/* A client: one connection now, the schema migrated. */
static gboolean
client_start (LbStorePg * pg, GError ** error)
{
  g_autoptr (LbPgConn) c = conn_open (pg, error);
  if (c == NULL || !lb_store_pg_migrate (pg, c, error))
    return FALSE;
  g_mutex_lock (&pg->lock);
  pg->n_open++;
  g_ptr_array_add (pg->idle, g_steal_pointer (&c));
  g_mutex_unlock (&pg->lock);
  return TRUE;
}

/* A node: connected now if the database answers, then its thread. */
static gboolean
node_start (LbStorePg * pg, GError ** error)
{
  g_autoptr (GError) local = NULL;

  for (gint k = 0; k < LB_PG_CACHE_N; k++)
    pg->cache[k] = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
        cached_free);
  pg->event_fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (pg->event_fd < 0) {
    g_set_error (error, LB_ERROR, LB_ERROR_IO, "eventfd: %s",
        g_strerror (errno));
    return FALSE;
  }
  pg->journal = lb_store_journal_count (pg->store);
  pg->down = TRUE;              /* until the first connection */
  pg->down_since_ns = lb_time_now ();
  if (!node_connect (pg, &local)) {
    if (!g_error_matches (local, LB_ERROR, LB_ERROR_OFFLINE)) {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
    g_mutex_lock (&pg->lock);
    g_autofree gchar *why = g_strdup (pg->last_error);
    g_mutex_unlock (&pg->lock);
    lb_log (LB_LOG_WARNING, NULL, "node %s starts without the cluster "
        "database (%s): creates and reads answer 503 until it is reached",
        pg->node, why ? why : local->message);
  }
  pg->thread = g_thread_new ("lb-cluster", node_main, pg);
  return TRUE;
}

LbStorePg *
lb_store_pg_new (LbStore * store, const LbClusterOptions * o, GError ** error)
{
  debug_init ();
  if (!check_conninfo (o->database, error))
    return NULL;
  LbStorePg *pg = pg_alloc (store, o);
  if (o->node ? node_start (pg, error) : client_start (pg, error))
    return pg;
  lb_store_pg_free (pg);
  return NULL;
}

void
lb_store_pg_free (LbStorePg * pg)
{
  if (pg == NULL)
    return;
  if (pg->thread) {
    g_mutex_lock (&pg->lock);
    pg->stop = TRUE;
    g_mutex_unlock (&pg->lock);
    wake_thread (pg);
    g_thread_join (pg->thread);
  }
  drop_own (pg);
  if (pg->event_fd >= 0)
    close (pg->event_fd);
  g_ptr_array_unref (pg->idle);
  g_hash_table_unref (pg->names);
  for (gint k = 0; k < LB_PG_CACHE_N; k++)
    g_clear_pointer (&pg->cache[k], g_hash_table_unref);
  g_ptr_array_unref (pg->inputs);
  g_mutex_clear (&pg->lock);
  g_cond_clear (&pg->cond);
  g_mutex_clear (&pg->work_lock);
  g_free (pg->conninfo);
  g_free (pg->node);
  g_free (pg->advertise);
  g_free (pg->last_error);
  g_free (pg);
}

gboolean
lb_store_pg_status (LbStorePg * pg, LbClusterStatus * out)
{
  g_mutex_lock (&pg->lock);
  out->connected = !pg->down;
  out->offline_since_ns = pg->down ? pg->down_since_ns : 0;
  out->journal = (guint) MIN (pg->journal, G_MAXUINT);
  out->last_error = g_strdup (pg->last_error);
  g_mutex_unlock (&pg->lock);
  return TRUE;
}
