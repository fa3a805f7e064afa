/* lookback — `lookback uploads`: the upload journal, for operators */
#include "upload/lb-uploader.h"
#include "store/lb-store-upload.h"
#include "core/lb-error.h"
#include "core/lb-time.h"

gboolean lb_cli_uploads (LbConfig * config, gint argc, gchar ** argv,
    GString * out, GError ** error);
extern const gchar lb_cli_uploads_help[];

const gchar lb_cli_uploads_help[] =
    "usage: lookback [--config FILE] uploads [--all]\n\n"
    "The upload journal: how many uploads wait (and since when), are done\n"
    "or failed, then each waiting and failed entry with its last error.\n"
    "  --all    list the done entries too\n";

static const gchar *const state_names[] =
    { "waiting", "done", "failed", "local" };

/* lookback uploads [--all]: the figures, then the waiting and failed entries
 * (with --all the done ones too), in upload order. */
gboolean
lb_cli_uploads (LbConfig * config, gint argc, gchar ** argv, GString * out,
    GError ** error)
{
  g_return_val_if_fail (config != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  gboolean all = FALSE;
  for (gint i = 1; i < argc; i++) {
    if (g_str_equal (argv[i], "--all"))
      all = TRUE;
    else {
      g_set_error (error, LB_ERROR, LB_ERROR_INVALID,
          "unknown argument '%s' (usage: lookback uploads [--all])", argv[i]);
      return FALSE;
    }
  }

  g_autofree gchar *db = lb_config_get_db_path (config);
  g_autoptr (LbStore) store =
      lb_store_open (db, LB_STORE_OPEN_READ_ONLY, error);
  if (store == NULL)
    return FALSE;
  LbUploadCounts c;
  if (!lb_store_upload_counts (store, &c, error))
    return FALSE;

  g_string_append_printf (out, "upload to: %s\n", lb_uploader_enabled (config)
      ? lb_config_get_string (config, "upload", "url-template")
      : "(none: [upload] url-template is empty; the box serves its own URLs)");
  g_autofree gchar *oldest =
      c.waiting ? lb_time_format_rfc3339 (c.oldest_waiting_ns) : NULL;
  g_string_append_printf (out,
      "waiting %u%s%s%s, done %u, failed %u, %" G_GINT64_FORMAT
      " bytes uploaded\n", c.waiting, oldest ? " (oldest queued " : "",
      oldest ? oldest : "", oldest ? ")" : "", c.done, c.failed,
      c.bytes_uploaded);

  g_autoptr (GPtrArray) entries = lb_store_upload_list (store, error);
  if (entries == NULL)
    return FALSE;
  for (guint i = 0; i < entries->len; i++) {
    LbUploadEntry *e = entries->pdata[i];
    if ((e->state == LB_UPLOAD_DONE || e->state == LB_UPLOAD_RELEASED) && !all)
      continue;
    g_autofree gchar *queued = lb_time_format_rfc3339 (e->created_ns);
    g_string_append_printf (out,
        "%-7s %" G_GINT64_FORMAT " %s %s %s %s queued %s, %d failed "
        "attempts%s%s\n", state_names[CLAMP (e->state, 0, 3)], e->id,
        e->retrieval_id, e->input,
        lb_media_type_to_string (e->media_type), e->path, queued, e->attempts,
        e->last_error ? ", last error: " : "",
        e->last_error ? e->last_error : "");
  }
  return TRUE;
}
