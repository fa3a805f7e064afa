/* lookback — the daemon: owns the store and the modules, starts and stops them */
#include "lb-daemon.h"

#include "api/lb-api-server.h"
#include "core/lb-debug.h"
#include "core/lb-error.h"
#include "core/lb-log.h"
#include "core/lb-time.h"
#include "jobs/lb-jobs.h"
#include "lbelements.h"
#include "recorder/lb-reconcile.h"
#include "recorder/lb-recorder.h"
#include "recorder/lb-retention.h"
#include "store/lb-store.h"
#include "store/lb-store-cluster.h"
#include "upload/lb-uploader.h"

GST_DEBUG_CATEGORY_STATIC (lb_daemon_debug);
#define GST_CAT_DEFAULT lb_daemon_debug

struct _LbDaemon
{
  LbConfig *config;             /* not owned */
  GMainLoop *loop;
  LbStore *store;
  LbApiServer *api;
  LbJobs *jobs;
  LbUploader *uploader;         /* NULL when uploads are off */
  LbUploader *webhooks;         /* NULL when [webhook] url is empty */
  LbRecorder *recorder;         /* NULL when nothing is recorded */
  LbRetention *retention;       /* its own thread: file deletions stay off the loop */
  gchar *description;
  gboolean stopping;
};

/* --- recording: reconcile, recorder, retention ------------------------- */

/* Before recording: footage left open by a crash is recovered and closed;
 * then retention starts on its interval and the inputs are recorded. */
static gboolean
recording_start (LbDaemon * daemon, GError ** error)
{
  g_autoptr (GString) report = g_string_new (NULL);

  if (!lb_footage_reconcile (daemon->store, report, error))
    return FALSE;
  if (report->len)
    GST_INFO ("reconcile: %s", report->str);

  /* Uploads off: the box serves its outputs until their URL expires.  Uploads
   * on: the uploader deletes them [upload] keep after the upload. */
  LbRetentionOptions retention = {
    .output_ttl_ns = lb_uploader_enabled (daemon->config) ? 0
        : lb_config_get_duration (daemon->config, "jobs", "url-ttl"),
  };
  daemon->retention =
      lb_retention_start (daemon->store, daemon->config, &retention);

  if (!lb_config_get_bool (daemon->config, "recorder", "enabled") ||
      lb_config_get_inputs (daemon->config)->len == 0)
    return TRUE;
  daemon->recorder = lb_recorder_new (daemon->config, daemon->store, error);
  return daemon->recorder && lb_recorder_start (daemon->recorder, error);
}

static void
on_recording_stopped (LbRecorder * recorder, gpointer data)
{
  LbDaemon *daemon = data;

  GST_INFO ("recording stopped: every segment closed and indexed");
  g_main_loop_quit (daemon->loop);
}

/* Closes the open segments cleanly; TRUE when the loop quits later. */
static gboolean
recording_stop (LbDaemon * daemon)
{
  if (daemon->recorder == NULL)
    return FALSE;
  lb_recorder_stop (daemon->recorder, on_recording_stopped, daemon);
  return TRUE;
}

/* ------------------------------------------------------------------------ */

LbDaemon *
lb_daemon_new (LbConfig * config, GMainLoop * loop, GError ** error)
{
  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (loop != NULL, NULL);

  LB_DEBUG_INIT (lb_daemon_debug, "lookback-daemon", "lookback daemon");

  g_autoptr (LbDaemon) daemon = g_new0 (LbDaemon, 1);
  g_autofree gchar *db_path = lb_config_get_db_path (config);

  daemon->config = config;
  daemon->loop = g_main_loop_ref (loop);
  /* lookbackd links the lookback elements in: the demo cameras stamp their
   * frames with lbclockstamp and every job reads with lbrecordingsrc,
   * whatever GST_PLUGIN_PATH says. */
  lb_elements_register (NULL);
  daemon->store = lb_store_open (db_path, LB_STORE_OPEN_DEFAULT, error);
  /* [cluster] database=: the API area moves to PostgreSQL */
  if (daemon->store == NULL
      || !lb_store_join_configured (daemon->store, config, TRUE, error))
    return NULL;
  return g_steal_pointer (&daemon);
}

/* --- jobs and uploads --------------------------------------------------- */

static void
jobs_health (JsonBuilder * b, gpointer user_data)
{
  LbJobs *jobs = user_data;
  json_builder_set_member_name (b, "workers");
  json_builder_add_int_value (b, lb_jobs_get_n_workers (jobs));
  json_builder_set_member_name (b, "imageWorkers");
  json_builder_add_int_value (b, lb_jobs_get_n_image_workers (jobs));
  json_builder_set_member_name (b, "finished");
  json_builder_add_int_value (b, lb_jobs_get_n_finished (jobs));
}

/* A create has committed (or, in cluster mode, the store says this node has
 * work): a worker takes it at once instead of at its next poll. */
static void
on_retrieval_created (gpointer user_data)
{
  lb_jobs_poke (user_data);
}

/* Workers run pipelines on their own threads; rows left running by a crash
 * run again now. */
static gboolean
start_jobs (LbDaemon * daemon, GError ** error)
{
  daemon->jobs =
      lb_jobs_new (daemon->config, daemon->store, daemon->uploader, error);
  if (daemon->jobs == NULL || !lb_jobs_start (daemon->jobs, error))
    return FALSE;
  lb_api_server_add_health (daemon->api, "jobs", jobs_health, daemon->jobs,
      NULL);
  /* cluster mode: the database tells the node that owns the rows */
  if (lb_store_is_clustered (daemon->store))
    lb_store_set_work_func (daemon->store, on_retrieval_created, daemon->jobs);
  else
    lb_api_server_set_created_func (daemon->api, on_retrieval_created,
        daemon->jobs);
  return TRUE;
}

/* Cluster mode: the database as this node last saw it. */
static void
cluster_health (JsonBuilder * b, gpointer user_data)
{
  LbClusterStatus st = { 0 };
  if (!lb_store_cluster_status (user_data, &st))
    return;
  json_builder_set_member_name (b, "databaseReachable");
  json_builder_add_boolean_value (b, st.connected);
  json_builder_set_member_name (b, "journal");
  json_builder_add_int_value (b, st.journal);
  if (st.last_error) {
    json_builder_set_member_name (b, "lastError");
    json_builder_add_string_value (b, st.last_error);
  }
  g_free (st.last_error);
}

/* Uploads on: finished media waits in the journal until the endpoint takes
 * it.  Uploads off: entries a previous configuration left waiting are
 * released to be served by this box. */
static gboolean
start_uploads (LbDaemon * daemon, GError ** error)
{
  if (!lb_uploader_enabled (daemon->config))
    return lb_upload_release_if_disabled (daemon->config, daemon->store, NULL,
        error);

  daemon->uploader = lb_uploader_new (daemon->config, daemon->store, error);
  if (daemon->uploader == NULL || !lb_uploader_start (daemon->uploader, error))
    return FALSE;
  lb_api_server_add_health (daemon->api, "uploads", lb_upload_health_json,
      daemon->uploader, NULL);
  return TRUE;
}

/* S3 without a public-url-template: urlInfo is a presigned URL. */
static gboolean
presigns (LbDaemon * daemon)
{
  const gchar *pub = lb_config_get_string (daemon->config, "upload",
      "public-url-template");
  return daemon->uploader && *pub == '\0'
      && g_str_equal (lb_config_get_string (daemon->config, "upload",
          "protocol"), "s3");
}

/* Webhooks on: every ended media item queues an event (in the transaction
 * that ends it) and the sender delivers them.  Before the jobs start. */
static gboolean
start_webhooks (LbDaemon * daemon, GError ** error)
{
  gboolean on = lb_webhooks_enabled (daemon->config);
  if (presigns (daemon))
    lb_api_server_set_presign (daemon->api, lb_uploader_presign,
        daemon->uploader);
  if (on && lb_store_is_clustered (daemon->store)) {
    /* a row's end goes to the node's journal, applied to the database
     * later: no transaction holds both it and its event yet */
    g_set_error (error, LB_ERROR, LB_ERROR_CONFIG, "[webhook] url: "
        "completion webhooks are not available in cluster mode yet");
    return FALSE;
  }
  lb_store_upload_set_webhooks (daemon->store, on);
  if (!on)
    return TRUE;
  daemon->webhooks = lb_uploader_new_webhooks (daemon->config, daemon->store,
      error);
  if (daemon->webhooks == NULL)
    return FALSE;
  const gchar *pub = lb_config_get_string (daemon->config, "server",
      "public-url");
  g_autofree gchar *uri = lb_api_server_get_uri (daemon->api);
  lb_uploader_set_media_urls (daemon->webhooks, *pub ? pub : uri,
      presigns (daemon) ? lb_uploader_presign : NULL, daemon->uploader);
  if (!lb_uploader_start (daemon->webhooks, error))
    return FALSE;
  lb_api_server_add_health (daemon->api, "webhooks", lb_upload_health_json,
      daemon->webhooks, NULL);
  return TRUE;
}

gboolean
lb_daemon_start (LbDaemon * daemon, GError ** error)
{
  g_return_val_if_fail (daemon != NULL, FALSE);

  if (!recording_start (daemon, error))
    return FALSE;

  daemon->api = lb_api_server_new (daemon->config, daemon->store, NULL, error);
  if (daemon->api == NULL || !lb_api_server_listen (daemon->api, error))
    return FALSE;
  if (lb_store_is_clustered (daemon->store))
    lb_api_server_add_health (daemon->api, "cluster", cluster_health,
        daemon->store, NULL);

  if (!start_uploads (daemon, error) || !start_webhooks (daemon, error)
      || !start_jobs (daemon, error))
    return FALSE;

  g_autofree gchar *uri = lb_api_server_get_uri (daemon->api);
  daemon->description = g_strdup_printf ("API on %s, configuration from %s, "
      "store %s, %u inputs", uri, lb_config_get_source_name (daemon->config),
      lb_store_get_path (daemon->store),
      lb_config_get_inputs (daemon->config)->len);
  GST_INFO ("started: %s", daemon->description);
  return TRUE;
}

void
lb_daemon_stop (LbDaemon * daemon)
{
  g_return_if_fail (daemon != NULL);

  if (daemon->stopping)
    return;
  daemon->stopping = TRUE;
  lb_log (LB_LOG_INFO, NULL, "lookbackd stopping%s",
      daemon->recorder ? ": closing the open segments" : "");
  if (recording_stop (daemon))
    return;                     /* the loop quits once the segments are closed */
  g_main_loop_quit (daemon->loop);
}

gboolean
lb_daemon_finish (LbDaemon * daemon, GError ** error)
{
  g_return_val_if_fail (daemon != NULL, FALSE);
  if (daemon->jobs)
    lb_jobs_stop (daemon->jobs);        /* rows in progress go back to pending */
  if (daemon->uploader)
    lb_uploader_stop (daemon->uploader);        /* the upload in flight stays queued */
  if (daemon->webhooks)
    lb_uploader_stop (daemon->webhooks);
  GST_INFO ("finished");
  return TRUE;
}

const gchar *
lb_daemon_describe (LbDaemon * daemon)
{
  g_return_val_if_fail (daemon != NULL, NULL);
  return daemon->description;
}

void
lb_daemon_free (LbDaemon * daemon)
{
  if (daemon == NULL)
    return;
  if (daemon->store)
    lb_store_set_work_func (daemon->store, NULL, NULL);
  g_clear_pointer (&daemon->api, lb_api_server_free);
  g_clear_pointer (&daemon->jobs, lb_jobs_free);
  g_clear_pointer (&daemon->uploader, lb_uploader_free);
  g_clear_pointer (&daemon->webhooks, lb_uploader_free);
  g_clear_pointer (&daemon->recorder, lb_recorder_free);
  g_clear_pointer (&daemon->retention, lb_retention_stop);
  g_clear_pointer (&daemon->store, lb_store_free);
  g_clear_pointer (&daemon->loop, g_main_loop_unref);
  g_free (daemon->description);
  g_free (daemon);
}
