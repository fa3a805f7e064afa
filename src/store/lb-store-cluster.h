/* lookback — the store across boxes: cluster mode on PostgreSQL
 *
 * With [cluster] database= set, the 'api' area of the store (tokens,
 * retrieval rows, quota books, the URL-signing key) lives in PostgreSQL,
 * shared by every node; the footage index, pins and the upload journal stay
 * in each node's own SQLite, next to the files they describe.  Each node
 * registers the (vehicle, input) pairs it records and says every heartbeat
 * that it is alive.
 *
 * The functions of lb-store-api.h keep their contract on both backends,
 * with these differences in cluster mode:
 *
 *  - a create names, for each row, the node that records its vehicle and
 *    input as the row's owner, and wakes that node (LISTEN/NOTIFY);
 *  - claim_next, list_open and requeue_running see only the rows this node
 *    owns (claim_next takes them FOR UPDATE SKIP LOCKED);
 *  - the job-side writes (set_progress, finish_*, set_public_url, defer,
 *    wake) go to the node's local journal (SQLite, in the caller's
 *    transaction when one is open) and are applied to PostgreSQL, in
 *    order, by the store's own thread: at once while the database answers,
 *    else when it is back.  An outcome recorded locally is never lost, and a
 *    row ends once: applying is conditional on the row being still open, so
 *    a second application (after a crash) changes nothing.  Problems with
 *    the row itself (finished meanwhile) are logged by that thread instead
 *    of returned;
 *  - while the database is unreachable every other call fails at once with
 *    LB_ERROR_OFFLINE (the API answers 503), except that claim_next finds
 *    nothing and list_open an empty list, so that recording and the jobs
 *    already running go on;
 *  - rows of a node that has been silent for three heartbeats are ended by
 *    the other nodes once their pending deadline has passed (unavailable,
 *    refunded); until then they wait, pending, for their node to return.
 *
 * Unset, nothing of this exists: the store is SQLite alone, as it always was.
 */
#pragma once

#include "core/lb-config.h"
#include "store/lb-store.h"

G_BEGIN_DECLS

typedef struct {
  const gchar *database;        /* libpq connection string or postgresql:// URI */
  const gchar *node;            /* this node's name; NULL: a client (the CLI),
                                 * which neither registers nor owns rows */
  const gchar *advertise;       /* node: base URL of its API, for the signed
                                 * URLs of the media it makes */
  GPtrArray *inputs;            /* node: LbInputConfig* of what it records */
  guint connections;            /* database connections for calls (at least 1) */
  gint64 heartbeat_ns;          /* node: how often it says it is alive */
  gint64 pending_deadline_ns;   /* [jobs] pending-deadline */
} LbClusterOptions;

/* Moves the 'api' area of @store (opened read-write, not yet used) to the
 * database of @options.  A client connects now and fails when it cannot.
 * A node connects now if it can (the schema is migrated, its inputs
 * registered, the rows it left running requeued) and otherwise goes on
 * offline and keeps trying in the background; it fails only on a bad
 * connection string. */
gboolean     lb_store_join_cluster   (LbStore                 *store,
                                      const LbClusterOptions  *options,
                                      GError                 **error);

/* lb_store_join_cluster() with the [cluster] settings of @config (a node
 * when @as_node: [cluster] node, advertise, the configured inputs); does
 * nothing and returns TRUE when [cluster] database is empty. */
gboolean     lb_store_join_configured (LbStore   *store,
                                       LbConfig  *config,
                                       gboolean   as_node,
                                       GError   **error);

gboolean     lb_store_is_clustered   (LbStore *store);

/* One (vehicle, input) pair of the cluster's registry. */
typedef struct {
  gchar *vehicle;
  gchar *input;
  gchar *role;                  /* cameraRole, or NULL */
  gchar *node;                  /* the node that records it */
} LbClusterInput;

void         lb_cluster_input_free   (LbClusterInput *input);

/* The inputs of @vehicle that some node records (LbClusterInput*, by
 * input name); an empty array when none does. */
gboolean     lb_store_cluster_vehicle (LbStore      *store,
                                       const gchar  *vehicle,
                                       GPtrArray   **out,
                                       GError      **error);

/* Called on the store's thread when this node has work: rows were created
 * for it, rows of it were woken, or the database came back.  It must be
 * quick and must not call the store. */
typedef void (*LbStoreWorkFunc) (gpointer user_data);

/* The one work watcher (the jobs engine); NULL removes it.  Once this
 * returns, the previous one is not running and will not be called. */
void         lb_store_set_work_func  (LbStore         *store,
                                      LbStoreWorkFunc  func,
                                      gpointer         user_data);

/* What /healthz tells about the cluster, from memory. */
typedef struct {
  gboolean connected;           /* the database answered the last time it was asked */
  gint64 offline_since_ns;      /* wall clock when it stopped answering, or 0 */
  guint journal;                /* job outcomes waiting for the database */
  gchar *last_error;            /* the database's last complaint, or NULL */
} LbClusterStatus;

/* FALSE (and nothing set) when @store is not clustered.  Free last_error. */
gboolean     lb_store_cluster_status (LbStore          *store,
                                      LbClusterStatus  *out);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbClusterInput, lb_cluster_input_free)

G_END_DECLS
