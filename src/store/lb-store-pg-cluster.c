/* lookback — store area 'cluster' on PostgreSQL: the nodes, the inputs each
 * records, and the rows of nodes gone silent (lb-store-cluster.h) */
#include "store/lb-store-pg.h"
#include "core/lb-error.h"
#include "core/lb-log.h"
#include "core/lb-time.h"

static const gchar *const cluster_steps[] = {
  /* 1: nodes (seen by the database's clock, which every node shares; a
   * node is silent once it missed SILENT_BEATS of its heartbeats) and the
   * (vehicle, input) pairs each records */
  "CREATE TABLE cluster_nodes ("
      "  name text PRIMARY KEY,"
      "  advertise text NOT NULL DEFAULT '',"
      "  heartbeat interval NOT NULL,"
      "  seen timestamptz NOT NULL DEFAULT now ());"
      "CREATE TABLE cluster_inputs ("
      "  vehicle text NOT NULL,"
      "  input text NOT NULL,"
      "  role text,"
      "  node text NOT NULL,"
      "  PRIMARY KEY (vehicle, input));"
      "CREATE INDEX cluster_inputs_node ON cluster_inputs (node);",
  NULL,
};

const LbStoreSchema lb_store_pg_cluster_schema = { "cluster", cluster_steps };

/* A node is silent once it has missed this many heartbeats: its inputs may
 * be taken over and its rows are ended at their pending deadline. */
#define SILENT_BEATS "3"
#define SILENT(n) "(" n ".seen < now () - " SILENT_BEATS " * " n ".heartbeat)"

void
lb_cluster_input_free (LbClusterInput * input)
{
  if (input == NULL)
    return;
  g_free (input->vehicle);
  g_free (input->input);
  g_free (input->role);
  g_free (input->node);
  g_free (input);
}

gboolean
lb_store_pg_heartbeat (LbStorePg * pg, LbPgConn * conn, GError ** error)
{
  g_auto (LbPgParams) p = { 0 };
  lb_pg_text (&p, lb_store_pg_node (pg));
  lb_pg_text (&p, lb_store_pg_advertise (pg));
  lb_pg_int (&p, lb_store_pg_heartbeat_us (pg));
  g_autoptr (PGresult) res = lb_store_pg_run_on (pg, conn,
      "INSERT INTO cluster_nodes (name, advertise, heartbeat, seen)"
      " VALUES ($1, $2, $3 * interval '1 microsecond', now ())"
      " ON CONFLICT (name) DO UPDATE SET advertise = EXCLUDED.advertise,"
      "   heartbeat = EXCLUDED.heartbeat, seen = now ()", &p, error);
  return res != NULL;
}

/* One input: ours, unless another node that is alive records it. */
static gboolean
register_input (LbStorePg * pg, LbPgConn * conn, const LbClusterInput * in,
    GError ** error)
{
  g_auto (LbPgParams) p = { 0 };
  lb_pg_text (&p, in->vehicle);
  lb_pg_text (&p, in->input);
  lb_pg_text (&p, in->role);
  lb_pg_text (&p, in->node);
  g_autoptr (PGresult) res = lb_store_pg_run_on (pg, conn,
      "INSERT INTO cluster_inputs AS ci (vehicle, input, role, node)"
      " VALUES ($1, $2, $3, $4)"
      " ON CONFLICT (vehicle, input) DO UPDATE SET role = EXCLUDED.role,"
      "   node = EXCLUDED.node"
      " WHERE ci.node = EXCLUDED.node OR NOT EXISTS (SELECT 1 FROM cluster_nodes n"
      "   WHERE n.name = ci.node AND NOT " SILENT ("n") ")"
      " RETURNING node", &p, error);
  if (res == NULL)
    return FALSE;
  if (PQntuples (res) == 0)
    lb_log (LB_LOG_ERROR, LB_LOG_CTX (.vehicle = in->vehicle,.input =
            in->input), "another node of the cluster records vehicle %s "
        "input %s: its retrievals go there, not to this node (%s); give each "
        "input to one node only", in->vehicle, in->input, in->node);
  return TRUE;
}

gboolean
lb_store_pg_register (LbStorePg * pg, LbPgConn * conn, GPtrArray * inputs,
    GError ** error)
{
  if (!lb_store_pg_heartbeat (pg, conn, error))
    return FALSE;
  g_autoptr (GStrvBuilder) keys = g_strv_builder_new ();
  for (guint i = 0; i < inputs->len; i++) {
    const LbClusterInput *in = inputs->pdata[i];
    if (!register_input (pg, conn, in, error))
      return FALSE;
    g_autofree gchar *key = g_strconcat (in->vehicle, "\n", in->input, NULL);
    g_strv_builder_add (keys, key);
  }
  /* what this node recorded before and records no more */
  g_auto (GStrv) mine = g_strv_builder_end (keys);
  g_auto (LbPgParams) p = { 0 };
  lb_pg_text (&p, lb_store_pg_node (pg));
  lb_pg_text_array (&p, (const gchar * const *) mine);
  g_autoptr (PGresult) res = lb_store_pg_run_on (pg, conn,
      "WITH gone AS (DELETE FROM cluster_inputs WHERE node = $1"
      "   AND NOT (vehicle || E'\\n' || input = ANY (COALESCE ($2::text[], '{}'))))"
      " SELECT pg_notify ('lb_registry', $1)", &p, error);
  if (res == NULL)
    return FALSE;
  lb_log (LB_LOG_INFO, NULL, "node %s joined the cluster with %u inputs; "
      "media served from %s", lb_store_pg_node (pg), inputs->len,
      lb_store_pg_advertise (pg));
  return TRUE;
}

gboolean
lb_store_pg_end_orphans (LbStorePg * pg, LbPgConn * conn, GError ** error)
{
  g_auto (LbPgParams) p = { 0 };
  lb_pg_int (&p, lb_time_now () - lb_store_pg_pending_deadline (pg));
  lb_pg_text (&p, lb_store_pg_node (pg));
  lb_pg_text (&p, "No node recording this input answered before the "
      "pending deadline.");
  g_autoptr (PGresult) res = lb_store_pg_run_on (pg, conn,
      "UPDATE api_retrievals SET status = 'unavailable', failure_reason = $3,"
      "   cost_committed = 0"
      " WHERE id IN (SELECT o.id FROM api_retrievals o"
      "   LEFT JOIN cluster_nodes n ON n.name = o.owner"
      "   WHERE o.status IN ('pending', 'running') AND o.end_ns < $1"
      "   AND o.owner IS DISTINCT FROM $2"
      "   AND (n.name IS NULL OR " SILENT ("n") ")"
      "   FOR UPDATE OF o SKIP LOCKED)", &p, error);
  if (res == NULL)
    return FALSE;
  const gchar *n = PQcmdTuples (res);
  if (*n && !g_str_equal (n, "0"))
    lb_log (LB_LOG_INFO, NULL, "%s retrievals of silent nodes passed their "
        "pending deadline: unavailable, refunded", n);
  return TRUE;
}

static gpointer
inputs_copy (gconstpointer data, gpointer unused)
{
  const GPtrArray *from = data;
  GPtrArray *to =
      g_ptr_array_new_with_free_func ((GDestroyNotify) lb_cluster_input_free);
  for (guint i = 0; i < from->len; i++) {
    const LbClusterInput *in = from->pdata[i];
    LbClusterInput *c = g_new0 (LbClusterInput, 1);
    c->vehicle = g_strdup (in->vehicle);
    c->input = g_strdup (in->input);
    c->role = g_strdup (in->role);
    c->node = g_strdup (in->node);
    g_ptr_array_add (to, c);
  }
  return to;
}

/* Every create asks: a node keeps what it read of the registry; a node
 * that registers empties every node's copy (NOTIFY lb_registry). */
gboolean
lb_store_pg_vehicle (LbStorePg * pg, const gchar * vehicle, GPtrArray ** out,
    GError ** error)
{
  *out = lb_store_pg_cache_get (pg, LB_PG_CACHE_VEHICLES, vehicle, inputs_copy);
  if (*out)
    return TRUE;
  g_auto (LbPgParams) p = { 0 };
  lb_pg_text (&p, vehicle);
  g_autoptr (PGresult) res = lb_store_pg_run (pg, LB_PG_READ,
      "SELECT vehicle, input, role, node FROM cluster_inputs WHERE vehicle = $1"
      " ORDER BY input", &p, error);
  if (res == NULL)
    return FALSE;
  *out =
      g_ptr_array_new_with_free_func ((GDestroyNotify) lb_cluster_input_free);
  for (gint i = 0; i < PQntuples (res); i++) {
    LbClusterInput *in = g_new0 (LbClusterInput, 1);
    in->vehicle = lb_pg_get_text (res, i, 0);
    in->input = lb_pg_get_text (res, i, 1);
    in->role = lb_pg_get_text (res, i, 2);
    in->node = lb_pg_get_text (res, i, 3);
    g_ptr_array_add (*out, in);
  }
  if ((*out)->len)
    lb_store_pg_cache_put (pg, LB_PG_CACHE_VEHICLES, vehicle,
        inputs_copy (*out, NULL), (GDestroyNotify) g_ptr_array_unref);
  return TRUE;
}
