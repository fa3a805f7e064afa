/* lookback tests — the upload seen through the HTTP API: a retrieval whose
 * output waits for the cloud endpoint stays pending (quota reserved, not
 * committed), /healthz shows the queue, and once the receiver (nginx) is up
 * the retrieval is available with its quota committed. */
#include "upload/lb-uploader.h"
#include "store/lb-store-api.h"
#include "store/lb-store-upload.h"
#include "api-test.h"
#include "lb-test-nginx.h"
#include "lb-test-upload-util.h"

#include <gst/gst.h>
#include <string.h>

typedef struct
{
  ApiFixture *api;
  gchar *path;
} StatusWait;

/* Polled every 10 ms: the API's clock stands still, so each poll lets it
 * go on by one read of the token's bucket ([api] reads-per-second = 5), or
 * the poll would be refused (429) after five reads. */
static gboolean
is_available (gpointer data)
{
  StatusWait *w = data;
  lb_clock_advance (w->api->clock, LB_NS_PER_SEC / 5);
  g_autoptr (ApiReply) r =
      api_request (w->api, "GET", w->path, w->api->token, NULL);
  g_assert_cmpuint (r->status, ==, 200);
  return g_strcmp0 (api_json_string (r, "data.media.0.status"),
      "available") == 0;
}

static gboolean
attempted_twice (gpointer data)
{
  ApiFixture *f = data;
  g_autoptr (GPtrArray) all = lb_store_upload_list (f->store, NULL);
  return all && all->len == 1
      && ((LbUploadEntry *) all->pdata[0])->attempts >= 2;
}

static void
assert_books (ApiFixture * f, gdouble used, gdouble reserved)
{
  g_autoptr (GError) error = NULL;
  gdouble u = -1, r = -1;
  g_assert_true (lb_store_api_quota_usage (f->store, "acme", "2026-11", &u, &r,
          &error));
  g_assert_no_error (error);
  g_assert_cmpfloat_with_epsilon (u, used, 1e-9);
  g_assert_cmpfloat_with_epsilon (r, reserved, 1e-9);
}

static void
test_pending_until_uploaded (void)
{
  g_autoptr (GError) error = NULL;
  guint port = lb_test_dead_port ();
  g_autofree gchar *extra = g_strdup_printf ("[upload]\n"
      "url-template=http://127.0.0.1:%u/up/{vehicleId}/{retrievalId}/{input}.{ext}\n"
      "public-url-template=https://cdn.example.invalid/{retrievalId}/{input}.{ext}\n"
      "backoff-min=20ms\nbackoff-max=200ms\nconnect-timeout=1s\ntimeout=5s\n"
      /* the test polls the status every 10 ms, however slow the build */
      "[api]\nreads-per-second=100000\n", port);
  ApiFixture *f = api_fixture_new (extra);
  LbTestNginx *ngx = lb_test_nginx_new (f->dir, port);
  g_autoptr (LbUploader) up = lb_uploader_new (f->config, f->store, &error);
  g_assert_no_error (error);
  g_assert_true (lb_uploader_start (up, &error));
  lb_api_server_add_health (f->server, "uploads", lb_upload_health_json, up,
      NULL);

  /* A retrieval, and its job done by hand: claim, write the output, hand over. */
  g_autoptr (ApiReply) created = api_create (f, f->token, "1234", "image",
      "2026-11-15T11:59:00Z", "2026-11-15T11:59:00Z",
      "[\"dashcamRoadFacing\"]");
  g_assert_cmpuint (created->status, ==, 200);
  const gchar *rid = api_json_string (created, "data.retrievalId");
  g_assert_nonnull (rid);
  g_autoptr (LbRetrieval) row = NULL;
  g_assert_true (lb_store_api_claim_next (f->store, API_TEST_START_NS, &row,
          &error));
  g_assert_nonnull (row);
  g_autofree gchar *out = g_build_filename (f->dir, "still.jpg", NULL);
  g_autofree gchar *sha = lb_test_make_file (out, 30000, 3);
  gint64 at = 1794743940 * LB_NS_PER_SEC;       /* 11:59:00 */
  LbUploadJob job =
      { rid, "1234", "dashcamRoadFacing", LB_MEDIA_TYPE_IMAGE, out, at, at,
    NULL,
    row->id, "image/jpeg", 0.1
  };
  g_assert_true (lb_upload_finish_job (f->config, f->store, up, &job,
          API_TEST_START_NS, &error));
  g_assert_no_error (error);

  /* The receiver is down: the retrieval stays pending, quota reserved. */
  g_assert_true (lb_test_wait_for (attempted_twice, f, 10000));
  g_autofree gchar *path =
      g_strdup_printf ("/cameras/media/retrieval?retrievalId=%s", rid);
  g_autoptr (ApiReply) pending = api_request (f, "GET", path, f->token, NULL);
  g_assert_cmpuint (pending->status, ==, 200);
  g_assert_cmpstr (api_json_string (pending, "data.media.0.status"), ==,
      "pending");
  g_assert_null (api_json_get (pending, "data.media.0.urlInfo"));
  assert_books (f, 0, 0.1);
  g_autoptr (ApiReply) health = api_request (f, "GET", "/healthz", f->token,
      NULL);
  g_assert_cmpuint (health->status, ==, 200);
  g_assert_cmpint (json_node_get_int (api_json_get (health, "uploads.waiting")),
      ==, 1);
  g_assert_nonnull (strstr (api_json_string (health, "uploads.lastError"),
          "unreachable"));
  g_assert_cmpfloat (json_node_get_double (api_json_get (health,
              "uploads.oldestWaitingSeconds")), >=, 0);

  /* Up: available, committed. */
  lb_test_nginx_start (ngx);
  StatusWait w = { f, path };
  g_assert_true (lb_test_wait_for (is_available, &w, 10000));
  assert_books (f, 0.1, 0);
  g_autofree gchar *obj =
      g_build_filename (lb_test_nginx_root (ngx), "up", "1234", rid,
      "dashcamRoadFacing.jpg", NULL);
  g_autofree gchar *got = lb_test_file_sha256 (obj);
  g_assert_cmpstr (got, ==, sha);
  g_autofree gchar *url =
      lb_store_upload_public_url (f->store, row->id, &error);
  g_autofree gchar *want =
      g_strdup_printf ("https://cdn.example.invalid/%s/dashcamRoadFacing.jpg",
      rid);
  g_assert_cmpstr (url, ==, want);
  g_autoptr (ApiReply) health2 = api_request (f, "GET", "/healthz", f->token,
      NULL);
  g_assert_cmpint (json_node_get_int (api_json_get (health2,
              "uploads.waiting")), ==, 0);
  g_assert_cmpint (json_node_get_int (api_json_get (health2,
              "uploads.bytesUploaded")), ==, 30000);

  lb_uploader_stop (up);
  lb_test_nginx_free (ngx);
  api_fixture_free (f);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/upload/api/pending-until-uploaded",
      test_pending_until_uploaded);
  return g_test_run ();
}
