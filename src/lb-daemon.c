/* lookback — the daemon: owns the store and the modules, starts and stops them */
#include "lb-daemon.h"

#include "api/lb-api-server.h"
#include "core/lb-debug.h"
#include "jobs/lb-jobs.h"
#include "upload/lb-uploader.h"
#include "store/lb-store.h"

GST_DEBUG_CATEGORY_STATIC (lb_daemon_debug);
#define GST_CAT_DEFAULT lb_daemon_debug

struct _LbDaemon {
  LbConfig *config;             /* not owned */
  GMainLoop *loop;
  LbStore *store;
  LbApiServer *api;
  LbJobs *jobs;
  LbUploader *uploader;          /* NULL when [upload] url-template is empty */
  gchar *description;
  gboolean stopping;
};

LbDaemon *
lb_daemon_new (LbConfig *config, GMainLoop *loop, GError **error)
{
  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (loop != NULL, NULL);

  LB_DEBUG_INIT (lb_daemon_debug, "lookback-daemon", "lookback daemon");

  g_autoptr (LbDaemon) daemon = g_new0 (LbDaemon, 1);
  g_autofree gchar *db_path = lb_config_get_db_path (config);

  daemon->config = config;
  daemon->loop = g_main_loop_ref (loop);
  daemon->store = lb_store_open (db_path, LB_STORE_OPEN_DEFAULT, error);
  if (daemon->store == NULL)
    return NULL;
  return g_steal_pointer (&daemon);
}

/* ---- jobs: retrieval workers (owner: jobs) ---- */

static void
jobs_health (JsonBuilder *b, gpointer user_data)
{
  LbJobs *jobs = user_data;
  json_builder_set_member_name (b, "workers");
  json_builder_add_int_value (b, lb_jobs_get_n_workers (jobs));
  json_builder_set_member_name (b, "finished");
  json_builder_add_int_value (b, lb_jobs_get_n_finished (jobs));
}

/* Workers run pipelines on their own threads; rows left running by a crash
 * run again now.  New retrievals are found by polling the store (100 ms). */
static gboolean
start_jobs (LbDaemon *daemon, GError **error)
{
  daemon->jobs = lb_jobs_new (daemon->config, daemon->store, error);
  if (daemon->jobs == NULL || !lb_jobs_start (daemon->jobs, error))
    return FALSE;
  lb_api_server_add_health (daemon->api, "jobs", jobs_health, daemon->jobs, NULL);
  return TRUE;
}

/* ---- end of jobs ---- */

/* Uploads on: finished media waits in the journal until the endpoint takes
 * it.  Uploads off: entries a previous configuration left waiting are
 * released to be served by this box. */
static gboolean
start_uploads (LbDaemon *daemon, GError **error)
{
  if (!lb_uploader_enabled (daemon->config))
    return lb_upload_release_if_disabled (daemon->config, daemon->store, NULL, error);

  daemon->uploader = lb_uploader_new (daemon->config, daemon->store, error);
  if (daemon->uploader == NULL || !lb_uploader_start (daemon->uploader, error))
    return FALSE;
  lb_api_server_add_health (daemon->api, "uploads", lb_upload_health_json, daemon->store,
      NULL);
  return TRUE;
}

gboolean
lb_daemon_start (LbDaemon *daemon, GError **error)
{
  g_return_val_if_fail (daemon != NULL, FALSE);

  daemon->api = lb_api_server_new (daemon->config, daemon->store, NULL, error);
  if (daemon->api == NULL || !lb_api_server_listen (daemon->api, error))
    return FALSE;

  if (!start_uploads (daemon, error) || !start_jobs (daemon, error))
    return FALSE;

  g_autofree gchar *uri = lb_api_server_get_uri (daemon->api);
  daemon->description = g_strdup_printf ("API on %s, configuration from %s, "
      "store %s, %u inputs", uri, lb_config_get_source_name (daemon->config),
      lb_store_get_path (daemon->store), lb_config_get_inputs (daemon->config)->len);
  GST_INFO ("started: %s", daemon->description);
  return TRUE;
}

void
lb_daemon_stop (LbDaemon *daemon)
{
  g_return_if_fail (daemon != NULL);

  if (daemon->stopping)
    return;
  daemon->stopping = TRUE;
  GST_INFO ("stopping");
  g_main_loop_quit (daemon->loop);
}

gboolean
lb_daemon_finish (LbDaemon *daemon, GError **error)
{
  g_return_val_if_fail (daemon != NULL, FALSE);
  if (daemon->jobs)
    lb_jobs_stop (daemon->jobs);        /* rows in progress go back to pending */
  if (daemon->uploader)
    lb_uploader_stop (daemon->uploader);        /* the upload in flight stays queued */
  GST_INFO ("finished");
  return TRUE;
}

const gchar *
lb_daemon_describe (LbDaemon *daemon)
{
  g_return_val_if_fail (daemon != NULL, NULL);
  return daemon->description;
}

void
lb_daemon_free (LbDaemon *daemon)
{
  if (daemon == NULL)
    return;
  g_clear_pointer (&daemon->api, lb_api_server_free);
  g_clear_pointer (&daemon->jobs, lb_jobs_free);
  g_clear_pointer (&daemon->uploader, lb_uploader_free);
  g_clear_pointer (&daemon->store, lb_store_free);
  g_clear_pointer (&daemon->loop, g_main_loop_unref);
  g_free (daemon->description);
  g_free (daemon);
}
