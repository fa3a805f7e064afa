/* lookback — the store across boxes: joining a cluster (lb-store-cluster.h) */
#include "store/lb-store-cluster.h"
#include "store/lb-store-pg.h"
#include "core/lb-error.h"

gboolean
lb_store_join_cluster (LbStore * store, const LbClusterOptions * options,
    GError ** error)
{
  g_return_val_if_fail (store != NULL && options != NULL, FALSE);
  g_return_val_if_fail (options->database != NULL, FALSE);
  g_return_val_if_fail (store->pg == NULL && !store->read_only, FALSE);
  g_return_val_if_fail (options->node == NULL || options->advertise, FALSE);

  LB_STORE_LOCK (store);
  gboolean ok = lb_store_migrate_area (store, &lb_store_journal_schema, error);
  LB_STORE_UNLOCK (store);
  if (!ok)
    return FALSE;
  /* The thread the node starts may call the store: set before it runs. */
  store->pg = lb_store_pg_new (store, options, error);
  return store->pg != NULL;
}

/* Where other nodes and clients reach this node's API: [cluster]
 * advertise, else [server] public-url, else http://<listen>. */
static gchar *
advertise_of (LbConfig * config, GError ** error)
{
  const gchar *advertise = lb_config_get_string (config, "cluster",
      "advertise");
  const gchar *public_url = lb_config_get_string (config, "server",
      "public-url");
  const gchar *listen = lb_config_get_string (config, "server", "listen");
  if (*advertise)
    return g_strdup (advertise);
  if (*public_url)
    return g_strdup (public_url);
  if (!g_str_has_suffix (listen, ":0"))
    return g_strconcat ("http://", listen, NULL);
  g_set_error (error, LB_ERROR, LB_ERROR_CONFIG, "%s: [cluster] advertise: "
      "required when [server] listen picks its port (%s)",
      lb_config_get_source_name (config), listen);
  return NULL;
}

gboolean
lb_store_join_configured (LbStore * store, LbConfig * config,
    gboolean as_node, GError ** error)
{
  g_return_val_if_fail (store != NULL && config != NULL, FALSE);

  const gchar *database = lb_config_get_string (config, "cluster", "database");
  if (*database == '\0')
    return TRUE;
  const gchar *node = lb_config_get_string (config, "cluster", "node");
  g_autofree gchar *advertise = as_node ? advertise_of (config, error) : NULL;
  if (as_node && advertise == NULL)
    return FALSE;
  LbClusterOptions o = {
    .database = database,
    .node = as_node ? (*node ? node : g_get_host_name ()) : NULL,
    .advertise = advertise,
    .inputs = as_node ? lb_config_get_inputs (config) : NULL,
    .connections = lb_config_get_int (config, "cluster", "connections"),
    .heartbeat_ns = lb_config_get_duration (config, "cluster", "heartbeat"),
    .pending_deadline_ns =
        lb_config_get_duration (config, "jobs", "pending-deadline"),
  };
  return lb_store_join_cluster (store, &o, error);
}

gboolean
lb_store_is_clustered (LbStore * store)
{
  g_return_val_if_fail (store != NULL, FALSE);
  return store->pg != NULL;
}

gboolean
lb_store_cluster_vehicle (LbStore * store, const gchar * vehicle,
    GPtrArray ** out, GError ** error)
{
  g_return_val_if_fail (store != NULL && store->pg != NULL, FALSE);
  g_return_val_if_fail (vehicle != NULL && out != NULL, FALSE);
  return lb_store_pg_vehicle (store->pg, vehicle, out, error);
}

void
lb_store_set_work_func (LbStore * store, LbStoreWorkFunc func,
    gpointer user_data)
{
  g_return_if_fail (store != NULL);
  if (store->pg)
    lb_store_pg_set_work_func (store->pg, func, user_data);
}

gboolean
lb_store_cluster_status (LbStore * store, LbClusterStatus * out)
{
  g_return_val_if_fail (store != NULL && out != NULL, FALSE);
  return store->pg && lb_store_pg_status (store->pg, out);
}
