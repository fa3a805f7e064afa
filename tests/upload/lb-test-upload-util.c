/* lookback tests — small helpers of the upload suite */
#include "lb-test-upload-util.h"
#include "store/lb-store-api.h"
#include "core/lb-time.h"

#include <gio/gio.h>

gchar *
lb_test_make_file (const gchar * path, gsize size, guint32 seed)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GFile) f = g_file_new_for_path (path);
  g_autoptr (GFileOutputStream) out =
      g_file_replace (f, NULL, FALSE, G_FILE_CREATE_NONE, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autoptr (GRand) rand = g_rand_new_with_seed (seed);
  guint32 block[16384];
  while (size > 0) {
    gsize n = MIN (size, sizeof block);
    for (guint i = 0; i < G_N_ELEMENTS (block); i++)
      block[i] = g_rand_int (rand);
    g_assert_true (g_output_stream_write_all (G_OUTPUT_STREAM (out), block, n,
            NULL, NULL, &error));
    g_checksum_update (sum, (const guchar *) block, n);
    size -= n;
  }
  g_assert_true (g_output_stream_close (G_OUTPUT_STREAM (out), NULL, &error));
  return g_strdup (g_checksum_get_string (sum));
}

gint64
lb_test_pending_row (LbStore * store, const gchar * rid, const gchar * vehicle,
    const gchar * input, LbMediaType type, gint64 start_ns, gint64 end_ns,
    gdouble cost)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) rows = g_ptr_array_new_with_free_func (
      (GDestroyNotify) lb_retrieval_free);
  LbRetrieval *r = lb_retrieval_new ();
  r->retrieval_id = g_strdup (rid);
  r->media_id = g_strdup_printf ("m-%s-%s", rid, input);
  r->org = g_strdup ("acme");
  r->vehicle = g_strdup (vehicle);
  r->input = g_strdup (input);
  r->media_type = type;
  r->start_ns = start_ns;
  r->end_ns = end_ns;
  r->status = LB_RETRIEVAL_PENDING;
  r->created_ns = lb_time_now ();
  r->period = g_strdup ("2026-11");
  r->cost_reserved = cost;
  g_ptr_array_add (rows, r);
  g_assert_true (lb_store_api_create_retrieval (store, rows, 1e6, NULL,
          &error));
  g_assert_no_error (error);
  return r->id;
}

gchar *
lb_test_file_sha256 (const gchar * path)
{
  g_autoptr (GMappedFile) m = g_mapped_file_new (path, FALSE, NULL);
  if (m == NULL)
    return NULL;
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256,
      (const guchar *) g_mapped_file_get_contents (m),
      g_mapped_file_get_length (m));
}

gchar *
lb_test_upload_conf_text (const gchar * store_dir, const gchar * url_template)
{
  return g_strdup_printf ("[store]\n"
      "dir=%s\n"
      "[recorder]\n"
      "enabled=false\n"
      "[upload]\n"
      "url-template=%s\n"
      "public-url-template=https://cdn.example.invalid/{vehicleId}/{retrievalId}/{input}.{ext}\n"
      "connect-timeout=1s\n"
      "timeout=5s\n"
      "backoff-min=20ms\n"
      "backoff-max=200ms\n"
      "keep=1h\n"
      "[upload-headers]\n"
      "x-lookback-test=hello world\n", store_dir, url_template);
}

LbConfig *
lb_test_upload_config (const gchar * store_dir, const gchar * url_template)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *text = lb_test_upload_conf_text (store_dir, url_template);
  g_autofree gchar *name = g_build_filename (store_dir, "lookback.conf", NULL);
  LbConfig *config = lb_config_load_data (text, name, &error);
  g_assert_no_error (error);
  return config;
}

gboolean
lb_test_wait_for (LbTestCond cond, gpointer data, guint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + timeout_ms * (gint64) 1000;
  while (!cond (data)) {
    if (g_get_monotonic_time () > end)
      return FALSE;
    g_usleep (10000);
  }
  return TRUE;
}
