/* lookback tests — completion webhooks: events queued with each row's end in
 * the same transaction, delivered signed to a real receiver on 127.0.0.1
 * that fails its first answers and drops a connection, at least once each,
 * duplicates only as retries of the same event id. */
#include "upload/lb-uploader.h"
#include "store/lb-store-upload.h"
#include "store/lb-store-api.h"
#include "media/lb-media-item.h"
#include "core/lb-time.h"
#include "lb-test-peers.h"
#include "lb-test-upload-util.h"
#include "lb-test-common.h"
#include "core/lb-error.h"

#include <glib/gstdio.h>
#include <gst/gst.h>
#include <string.h>

#define SECRET "whsec-test-0123456789"
#define N_ROWS 12

typedef struct
{
  gchar *dir;
  LbStore *store;
  LbConfig *config;
  LbUploader *hooks;
  LbTestReceiver *recv;
} Fixture;

static void
setup (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  f->dir = g_dir_make_tmp ("lb-webhook-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree gchar *db = g_build_filename (f->dir, "lookback.db", NULL);
  f->store = lb_store_open (db, LB_STORE_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
}

static void
teardown (Fixture * f, gconstpointer data)
{
  g_clear_pointer (&f->hooks, lb_uploader_free);
  g_clear_pointer (&f->recv, lb_test_receiver_free);
  g_clear_pointer (&f->config, lb_config_free);
  g_clear_pointer (&f->store, lb_store_free);
  lb_test_rm_rf (f->dir);
  g_free (f->dir);
}

static void
start_hooks (Fixture * f, guint fail_first, gboolean drop_one,
    const gchar * deadline)
{
  g_autoptr (GError) error = NULL;
  f->recv = lb_test_receiver_new (SECRET, fail_first, drop_one);
  g_autofree gchar *secret = g_build_filename (f->dir, "webhook.secret", NULL);
  g_assert_true (g_file_set_contents (secret, SECRET "\n", -1, &error));
  g_autofree gchar *text = g_strdup_printf ("[store]\ndir=%s\n"
      "[recorder]\nenabled=false\n[server]\npublic-url=https://box.example\n"
      "[upload]\nconnect-timeout=1s\n"
      "[webhook]\nurl=http://127.0.0.1:%u/hook\nsecret-file=%s\n"
      "backoff-min=20ms\nbackoff-max=200ms\ntimeout=5s\ndeadline=%s\n",
      f->dir, lb_test_receiver_port (f->recv), secret, deadline);
  f->config = lb_config_load_data (text, "webhook.conf", &error);
  g_assert_no_error (error);
  lb_store_upload_set_webhooks (f->store, TRUE);
  f->hooks = lb_uploader_new_webhooks (f->config, f->store, &error);
  g_assert_no_error (error);
  g_assert_true (lb_uploader_start (f->hooks, &error));
}

static gint64
make_row (Fixture * f, guint i)
{
  g_autofree gchar *rid = g_uuid_string_random ();
  gint64 t = 1764000000 * LB_NS_PER_SEC;
  return lb_test_pending_row (f->store, rid, "veh1", "dashcamRoadFacing",
      LB_MEDIA_TYPE_IMAGE, t, t, 0.1);
}

/* Ends row @id: available, failed or unavailable by @i. */
static void
finish (Fixture * f, gint64 id, guint i)
{
  g_autoptr (GError) error = NULL;
  gint64 t = 1764000000 * LB_NS_PER_SEC;
  gboolean ok = i % 3 == 0
      ? lb_store_api_finish_available (f->store, id, "outputs/x.jpg",
      "image/jpeg", t, t, NULL, lb_time_now (), 0.1, &error)
      : i % 3 == 1 ? lb_store_api_finish_failed (f->store, id, "no luck",
      &error) : lb_store_api_finish_unavailable (f->store, id, "nothing",
      &error);
  g_assert_no_error (error);
  g_assert_true (ok);
}

static LbUploadCounts
counts (Fixture * f)
{
  LbUploadCounts c;
  g_assert_true (lb_store_upload_counts_kind (f->store,
          LB_UPLOAD_KIND_WEBHOOK, &c, NULL));
  return c;
}

static gboolean
all_delivered (gpointer data)
{
  Fixture *f = data;
  g_autoptr (GHashTable) ev = lb_test_receiver_events (f->recv);
  return g_hash_table_size (ev) == N_ROWS && counts (f).waiting == 0;
}

/* The media item of @row as the API writes it, urlInfo left out. */
static gchar *
expected_media (Fixture * f, gint64 row)
{
  g_autoptr (LbRetrieval) r = NULL;
  g_assert_true (lb_store_api_get (f->store, row, &r, NULL));
  g_autoptr (GBytes) key = lb_store_api_get_signing_key (f->store, NULL);
  LbMediaUrls urls = { key, "https://box.example", 8 * 3600 * LB_NS_PER_SEC };
  g_autoptr (JsonBuilder) b = json_builder_new ();
  lb_media_item_write (b, r, &urls, lb_time_now ());
  g_autoptr (JsonNode) n = json_builder_get_root (b);
  json_object_remove_member (json_node_get_object (n), "urlInfo");
  return json_to_string (n, FALSE);
}

static void
test_faults (Fixture * f, gconstpointer data)
{
  start_hooks (f, 3, TRUE, "1h");
  gint64 rows[N_ROWS];
  for (guint i = 0; i < N_ROWS; i++) {
    rows[i] = make_row (f, i);
    finish (f, rows[i], i);
  }
  /* a row cannot end twice: no second event */
  g_autoptr (GError) error = NULL;
  g_assert_false (lb_store_api_finish_failed (f->store, rows[0], "again",
          &error));
  g_assert_error (error, LB_ERROR, LB_ERROR_INVALID);
  lb_uploader_poke (f->hooks);
  g_assert_true (lb_test_wait_for (all_delivered, f, 60000));

  g_autoptr (GHashTable) ev = lb_test_receiver_events (f->recv);
  g_autoptr (GPtrArray) ids = lb_test_receiver_ids (f->recv);
  g_test_message ("%u requests for %u events", ids->len, N_ROWS);
  g_assert_cmpuint (lb_test_receiver_bad (f->recv), ==, 0);
  g_assert_cmpuint (ids->len, >=, N_ROWS + 4);
  for (guint i = 0; i < ids->len; i++)  /* every request was one of the events */
    g_assert_true (g_hash_table_contains (ev, ids->pdata[i]));
  LbUploadCounts c = counts (f);
  g_assert_cmpuint (c.done, ==, N_ROWS);
  g_assert_cmpuint (c.failed, ==, 0);

  /* each row's event: its retrievalId and its media item exactly */
  for (guint i = 0; i < N_ROWS; i++) {
    g_autoptr (LbRetrieval) r = NULL;
    g_assert_true (lb_store_api_get (f->store, rows[i], &r, NULL));
    GHashTableIter it;
    gpointer k, v;
    gboolean found = FALSE;
    g_hash_table_iter_init (&it, ev);
    while (g_hash_table_iter_next (&it, &k, &v)) {
      g_autoptr (JsonParser) p = json_parser_new ();
      g_assert_true (json_parser_load_from_data (p, v, -1, NULL));
      JsonObject *o = json_node_get_object (json_parser_get_root (p));
      if (!g_str_equal (json_object_get_string_member (o, "retrievalId"),
              r->retrieval_id))
        continue;
      g_assert_false (found);
      found = TRUE;
      g_assert_cmpstr (json_object_get_string_member (o, "eventId"), ==, k);
      JsonNode *media = json_object_get_member (o, "media");
      JsonObject *mo = json_node_get_object (media);
      if (r->status == LB_RETRIEVAL_AVAILABLE) {
        const gchar *url = json_object_get_string_member
            (json_object_get_object_member (mo, "urlInfo"), "url");
        g_assert_true (g_str_has_prefix (url, "https://box.example/media/"));
        json_object_remove_member (mo, "urlInfo");
      }
      g_autofree gchar *got = json_to_string (media, FALSE);
      g_autofree gchar *want = expected_media (f, rows[i]);
      g_assert_cmpstr (got, ==, want);
    }
    g_assert_true (found);
  }
}

static gboolean
given_up (gpointer data)
{
  return counts (data).failed == 1;
}

/* A receiver that never takes it: retried until [webhook] deadline, then
 * the event fails (logged); the retrieval stays as it ended. */
static void
test_deadline (Fixture * f, gconstpointer data)
{
  start_hooks (f, 1000000, FALSE, "1s");
  gint64 row = make_row (f, 0);
  finish (f, row, 1);
  lb_uploader_poke (f->hooks);
  g_assert_true (lb_test_wait_for (given_up, f, 30000));
  g_assert_cmpuint (lb_test_receiver_requests (f->recv), >=, 2);
  g_autoptr (LbRetrieval) r = NULL;
  g_assert_true (lb_store_api_get (f->store, row, &r, NULL));
  g_assert_cmpint (r->status, ==, LB_RETRIEVAL_FAILED);
  g_assert_cmpstr (r->failure_reason, ==, "no luck");
}

/* Webhooks off: ending a row queues nothing. */
static void
test_off (Fixture * f, gconstpointer data)
{
  gint64 row = make_row (f, 0);
  finish (f, row, 0);
  LbUploadCounts c = counts (f);
  g_assert_cmpuint (c.waiting + c.done + c.failed, ==, 0);
}

/* A receiver's check of the signature: the documented recipe. */
static void
test_signature (void)
{
  g_autoptr (GBytes) key = g_bytes_new_static (SECRET, strlen (SECRET));
  const gchar *body = "{\"eventId\":\"e\"}";
  g_autofree gchar *sig = lb_webhook_signature (key, 1764000000, body,
      strlen (body));
  g_autofree gchar *want = g_compute_hmac_for_string (G_CHECKSUM_SHA256,
      (const guchar *) SECRET, strlen (SECRET),
      "1764000000.{\"eventId\":\"e\"}",
      -1);
  g_autofree gchar *header = g_strdup_printf ("t=1764000000,v1=%s", want);
  g_assert_cmpstr (sig, ==, header);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/upload/webhook/signature", test_signature);
  g_test_add ("/upload/webhook/faults", Fixture, NULL, setup, test_faults,
      teardown);
  g_test_add ("/upload/webhook/deadline", Fixture, NULL, setup, test_deadline,
      teardown);
  g_test_add ("/upload/webhook/off", Fixture, NULL, setup, test_off, teardown);
  return g_test_run ();
}
