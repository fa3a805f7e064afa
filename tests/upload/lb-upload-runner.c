/* lookback tests — runs the uploader on a store until the journal has no
 * waiting entry (exit 0), or for at most 60 s (exit 2).  The crash test kills
 * it with SIGKILL in the middle of an upload and runs it again.
 *
 *   lb-upload-runner CONFIG
 */
#include "upload/lb-uploader.h"
#include "store/lb-store-upload.h"

#include <gst/gst.h>

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;

  gst_init (&argc, &argv);
  if (argc != 2) {
    g_printerr ("usage: lb-upload-runner CONFIG\n");
    return 1;
  }
  g_autoptr (LbConfig) config = lb_config_load (argv[1], &error);
  if (config == NULL) {
    g_printerr ("lb-upload-runner: %s\n", error->message);
    return 1;
  }
  g_autofree gchar *db = lb_config_get_db_path (config);
  g_autoptr (LbStore) store = lb_store_open (db, LB_STORE_OPEN_DEFAULT, &error);
  g_autoptr (LbUploader) up =
      store ? lb_uploader_new (config, store, &error) : NULL;
  if (up == NULL || !lb_uploader_start (up, &error)) {
    g_printerr ("lb-upload-runner: %s\n", error->message);
    return 1;
  }
  for (guint i = 0; i < 6000; i++) {
    LbUploadCounts c;
    if (!lb_store_upload_counts (store, &c, &error)) {
      g_printerr ("lb-upload-runner: %s\n", error->message);
      return 1;
    }
    if (c.waiting == 0) {
      lb_uploader_stop (up);
      return 0;
    }
    g_usleep (10000);
  }
  g_printerr ("lb-upload-runner: entries still waiting after 60 s\n");
  return 2;
}
