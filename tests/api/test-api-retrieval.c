/* lookback — API tests: retrieval life cycle through the job-facing store
 * functions, tokens, organisations, pagination, signed media URLs, OpenAPI,
 * health, logging and timeouts. */
#include "api-test.h"
#include "core/lb-error.h"
#include "core/lb-sign.h"
#include "quota/lb-quota.h"
#include "store/lb-store-private.h"

#include <gst/gst.h>
#include <sqlite3.h>
#include <string.h>

#define IMG "2019-06-13T19:08:25Z"
#define FAST "[api]\ncreate-per-minute=100000\nreads-per-second=100000\n"

static ApiReply *
get_retrieval (ApiFixture * f, const gchar * token, const gchar * id)
{
  g_autofree gchar *path =
      g_strdup_printf ("/cameras/media/retrieval?retrievalId=%s", id);
  return api_request (f, "GET", path, token, NULL);
}

static gchar *
create_id (ApiFixture * f, const gchar * media_type, const gchar * start,
    const gchar * end, const gchar * inputs)
{
  g_autoptr (ApiReply) r =
      api_create (f, f->token, "1234", media_type, start, end, inputs);
  g_assert_cmpuint (r->status, ==, 200);
  return g_strdup (api_json_string (r, "data.retrievalId"));
}

/* ------------------------------------------------------------------------- */
/* Job-facing store functions and what the API shows of them */

static void
test_claim_order (ApiFixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  const gchar *order[] =
      { "hyperlapse", "videoLowRes", "image", "videoHighRes", "image" };

  for (guint i = 0; i < G_N_ELEMENTS (order); i++) {
    gboolean image = g_str_equal (order[i], "image");
    g_free (create_id (f, order[i], "2019-06-13T19:00:00Z",
            image ? "2019-06-13T19:00:00Z" : "2019-06-13T19:00:30Z", NULL));
    lb_clock_advance (f->clock, LB_NS_PER_SEC);
  }
  /* images (oldest first), then clips (oldest first), then hyperlapses */
  const gchar *want[] =
      { "image", "image", "videoLowRes", "videoHighRes", "hyperlapse" };
  gint64 last_image_created = 0;
  for (guint i = 0; i < G_N_ELEMENTS (want); i++) {
    g_autoptr (LbRetrieval) r = NULL;
    g_assert_true (lb_store_api_claim_next (f->store, lb_clock_now (f->clock),
            &r, &error));
    g_assert_no_error (error);
    g_assert_nonnull (r);
    g_assert_cmpstr (lb_media_type_to_string (r->media_type), ==, want[i]);
    g_assert_cmpint (r->status, ==, LB_RETRIEVAL_RUNNING);
    g_assert_cmpint (r->attempts, ==, 1);
    if (i == 1)
      g_assert_cmpint (r->created_ns, >, last_image_created);
    last_image_created = r->created_ns;
  }
  g_autoptr (LbRetrieval) none = NULL;
  g_assert_true (lb_store_api_claim_next (f->store, lb_clock_now (f->clock),
          &none, &error));
  g_assert_null (none);
}

static void
test_lifecycle (ApiFixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *id = create_id (f, "videoHighRes", "2019-06-13T19:08:25Z",
      "2019-06-13T19:08:55Z",
      "[\"dashcamRoadFacing\", \"dashcamDriverFacing\", \"analog1\"]");

  g_autoptr (LbRetrieval) a = NULL;
  g_autoptr (LbRetrieval) b = NULL;
  g_autoptr (LbRetrieval) c = NULL;
  lb_store_api_claim_next (f->store, lb_clock_now (f->clock), &a, &error);
  lb_store_api_claim_next (f->store, lb_clock_now (f->clock), &b, &error);
  lb_store_api_claim_next (f->store, lb_clock_now (f->clock), &c, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (a->input, ==, "dashcamRoadFacing");
  g_assert_cmpstr (a->retrieval_id, ==, id);

  /* running shows as pending, with progress */
  lb_store_api_set_progress (f->store, a->id, 0.25, &error);
  g_assert_no_error (error);
  lb_store_api_set_progress (f->store, b->id, 7, &error);       /* clamped */
  g_assert_no_error (error);
  g_autoptr (ApiReply) p = get_retrieval (f, f->token, id);
  g_assert_cmpstr (api_json_string (p, "data.media.0.status"), ==, "pending");
  g_assert_cmpfloat (json_node_get_double (api_json_get (p,
              "data.media.0.progress")), ==, 0.25);
  g_assert_cmpfloat (json_node_get_double (api_json_get (p,
              "data.media.1.progress")), ==, 1.0);

  /* available: delivered times, availableAtTime, urlInfo, coverage */
  g_autofree gchar *file = g_build_filename (f->dir, "clip.mp4", NULL);
  g_file_set_contents (file, "not really an mp4", -1, &error);
  g_autoptr (LbCoverage) coverage = lb_coverage_new ();
  coverage->requested_start_ns = a->start_ns;
  coverage->requested_end_ns = a->end_ns;
  coverage->delivered_start_ns = a->start_ns - 500 * LB_NS_PER_MS;
  coverage->delivered_end_ns = a->end_ns;
  LbTimeRange gap = { a->start_ns + 10 * LB_NS_PER_SEC,
    a->start_ns + 12 * LB_NS_PER_SEC
  };
  g_array_append_val (coverage->gaps, gap);
  /* recorded before the clock was synchronised: the last 5 s */
  LbTimeRange unsynced = { a->end_ns - 5 * LB_NS_PER_SEC, a->end_ns };
  g_array_append_val (coverage->unsynced, unsynced);
  coverage->sub_stream = TRUE;  /* made from the camera's sub-stream */
  gint64 avail_ns = lb_clock_now (f->clock) + 1500 * LB_NS_PER_MS;
  lb_store_api_finish_available (f->store, a->id, file, "video/mp4",
      a->start_ns - 500 * LB_NS_PER_MS, a->end_ns, coverage, avail_ns,
      lb_quota_cost (f->config, LB_MEDIA_TYPE_VIDEO_HIGH_RES,
          a->start_ns - 500 * LB_NS_PER_MS, a->end_ns), &error);
  g_assert_no_error (error);
  /* failed and unavailable carry their reason */
  lb_store_api_finish_failed (f->store, b->id, "encoder crashed", &error);
  g_assert_no_error (error);
  lb_store_api_finish_unavailable (f->store, c->id, "nothing recorded", &error);
  g_assert_no_error (error);
  /* a finished row cannot finish again */
  g_assert_false (lb_store_api_finish_failed (f->store, a->id, "late", &error));
  g_assert_error (error, LB_ERROR, LB_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (lb_store_api_set_progress (f->store, c->id, 0.5, &error));
  g_assert_error (error, LB_ERROR, LB_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (lb_store_api_finish_failed (f->store, 424242, "x", &error));
  g_assert_error (error, LB_ERROR, LB_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_autoptr (ApiReply) g = get_retrieval (f, f->token, id);
  g_assert_cmpuint (g->status, ==, 200);
  g_assert_cmpstr (api_json_string (g, "data.media.0.status"), ==, "available");
  g_assert_cmpstr (api_json_string (g, "data.media.0.startTime"), ==,
      "2019-06-13T19:08:24.500Z");
  g_assert_cmpstr (api_json_string (g, "data.media.0.endTime"), ==,
      "2019-06-13T19:08:55Z");
  g_assert_cmpstr (api_json_string (g, "data.media.0.availableAtTime"), ==,
      "2026-11-15T12:00:01.500Z");
  g_assert_nonnull (api_json_string (g, "data.media.0.urlInfo.url"));
  g_assert_cmpstr (api_json_string (g, "data.media.0.urlInfo.urlExpiryTime"),
      ==, "2026-11-15T20:00:00Z");
  g_assert_cmpstr (api_json_string (g,
          "data.media.0.coverage.requestedStartTime"), ==,
      "2019-06-13T19:08:25Z");
  g_assert_cmpstr (api_json_string (g,
          "data.media.0.coverage.deliveredStartTime"), ==,
      "2019-06-13T19:08:24.500Z");
  g_assert_cmpfloat (json_node_get_double (api_json_get (g,
              "data.media.0.coverage.offsetMs")), ==, -500.0);
  g_assert_cmpstr (api_json_string (g,
          "data.media.0.coverage.gaps.0.startTime"), ==,
      "2019-06-13T19:08:35Z");
  g_assert_cmpstr (api_json_string (g,
          "data.media.0.coverage.gaps.0.endTime"), ==, "2019-06-13T19:08:37Z");
  g_assert_cmpstr (api_json_string (g,
          "data.media.0.coverage.unsynchronized.0.startTime"), ==,
      "2019-06-13T19:08:50Z");
  g_assert_cmpstr (api_json_string (g,
          "data.media.0.coverage.unsynchronized.0.endTime"), ==,
      "2019-06-13T19:08:55Z");
  g_assert_cmpstr (api_json_string (g, "data.media.0.coverage.stream"), ==,
      "sub");
  g_assert_null (api_json_get (g, "data.media.0.progress"));
  g_assert_cmpstr (api_json_string (g, "data.media.1.status"), ==, "failed");
  g_assert_cmpstr (api_json_string (g, "data.media.1.failureReason"), ==,
      "encoder crashed");
  g_assert_null (api_json_get (g, "data.media.1.urlInfo"));
  g_assert_null (api_json_get (g, "data.media.1.availableAtTime"));
  g_assert_cmpstr (api_json_string (g, "data.media.2.status"), ==,
      "unavailable");
  g_assert_cmpstr (api_json_string (g, "data.media.2.startTime"), ==,
      "2019-06-13T19:08:25Z");

  g_autoptr (LbRetrieval) row = NULL;
  lb_store_api_get (f->store, a->id, &row, &error);
  g_assert_no_error (error);
  g_assert_cmpint (row->status, ==, LB_RETRIEVAL_AVAILABLE);
  g_assert_cmpfloat_with_epsilon (row->cost_committed, 30.5, 1e-9);
  g_assert_false (lb_store_api_get (f->store, 999999, &row, &error));
  g_assert_error (error, LB_ERROR, LB_ERROR_NOT_FOUND);
}

/* Footage not recorded yet: defer; a crash leaves rows running: requeue. */
static void
test_defer_and_requeue (ApiFixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_free (create_id (f, "image", IMG, IMG,
          "[\"dashcamRoadFacing\", \"analog1\"]"));
  gint64 now = lb_clock_now (f->clock);

  g_autoptr (LbRetrieval) a = NULL;
  lb_store_api_claim_next (f->store, now, &a, &error);
  g_assert_no_error (error);
  lb_store_api_defer (f->store, a->id, now + 60 * LB_NS_PER_SEC, &error);
  g_assert_no_error (error);
  g_autoptr (LbRetrieval) b = NULL;
  lb_store_api_claim_next (f->store, now, &b, &error);
  g_assert_cmpint (b->id, !=, a->id);   /* the deferred one waits */
  g_autoptr (LbRetrieval) none = NULL;
  lb_store_api_claim_next (f->store, now + 59 * LB_NS_PER_SEC, &none, &error);
  g_assert_null (none);
  g_autoptr (LbRetrieval) again = NULL;
  lb_store_api_claim_next (f->store, now + 60 * LB_NS_PER_SEC, &again, &error);
  g_assert_cmpint (again->id, ==, a->id);
  g_assert_cmpint (again->attempts, ==, 2);

  g_autoptr (GPtrArray) open_rows = NULL;
  lb_store_api_list_open (f->store, &open_rows, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (open_rows->len, ==, 2);

  /* both are running now; a restart puts them back */
  lb_store_api_set_progress (f->store, again->id, 0.5, &error);
  guint n = 0;
  lb_store_api_requeue_running (f->store, &n, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, 2);
  g_autoptr (LbRetrieval) row = NULL;
  lb_store_api_get (f->store, a->id, &row, &error);
  g_assert_cmpint (row->status, ==, LB_RETRIEVAL_PENDING);
  g_assert_cmpfloat (row->progress, ==, 0);
  gdouble used, reserved;
  lb_quota_get_usage (f->store, "acme", now, &used, &reserved, &error);
  g_assert_cmpfloat_with_epsilon (reserved, 0.2, 1e-9); /* still reserved */
}

/* Another store area (the upload journal) finishes a retrieval inside its
 * own transaction: the api functions join it, and roll back with it. */
static void
test_join_transaction (ApiFixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *id =
      create_id (f, "image", IMG, IMG, "[\"dashcamRoadFacing\", \"analog1\"]");
  gint64 now = lb_clock_now (f->clock);

  g_autoptr (LbRetrieval) a = NULL;
  lb_store_api_find (f->store, id, "analog1", &a, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (a->input, ==, "analog1");
  g_autoptr (LbRetrieval) none = NULL;
  g_assert_false (lb_store_api_find (f->store, id, "analog4", &none, &error));
  g_assert_error (error, LB_ERROR, LB_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* rolled back with the caller */
  LB_STORE_LOCK (f->store);
  g_assert_true (lb_store_begin (f->store, &error));
  lb_store_api_set_public_url (f->store, a->id, "https://cdn.example/x.jpg",
      &error);
  g_assert_no_error (error);
  lb_store_api_finish_available (f->store, a->id, "x.jpg", "image/jpeg",
      a->start_ns, a->end_ns, NULL, now, 0.1, &error);
  g_assert_no_error (error);
  lb_store_rollback (f->store);
  LB_STORE_UNLOCK (f->store);
  g_autoptr (LbRetrieval) after = NULL;
  lb_store_api_get (f->store, a->id, &after, &error);
  g_assert_cmpint (after->status, ==, LB_RETRIEVAL_PENDING);
  g_assert_null (after->public_url);

  /* committed with the caller; a failing call inside leaves the caller's
   * transaction usable */
  LB_STORE_LOCK (f->store);
  g_assert_true (lb_store_begin (f->store, &error));
  g_assert_false (lb_store_api_finish_failed (f->store, 777777, "x", &error));
  g_clear_error (&error);
  lb_store_api_set_public_url (f->store, a->id, "https://cdn.example/x.jpg",
      &error);
  lb_store_api_finish_available (f->store, a->id, "x.jpg", "image/jpeg",
      a->start_ns, a->end_ns, NULL, now, 0.1, &error);
  g_assert_no_error (error);
  g_assert_true (lb_store_commit (f->store, &error));
  LB_STORE_UNLOCK (f->store);

  g_autoptr (ApiReply) g = get_retrieval (f, f->token, id);
  g_assert_cmpstr (api_json_string (g, "data.media.1.status"), ==, "available");
  g_assert_cmpstr (api_json_string (g, "data.media.1.urlInfo.url"), ==,
      "https://cdn.example/x.jpg");
  gdouble used, reserved;
  lb_quota_get_usage (f->store, "acme", now, &used, &reserved, &error);
  g_assert_cmpfloat_with_epsilon (used, 0.1, 1e-9);
  g_assert_cmpfloat_with_epsilon (reserved, 0.1, 1e-9);
}

/* ------------------------------------------------------------------------- */
/* Tokens */

static gchar *
run_cli (ApiFixture * f, const gchar * const *args, gint * out_status)
{
  g_autofree gchar *conf = g_build_filename (f->dir, "lookback.conf", NULL);
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  const gchar *exe = g_getenv ("LOOKBACK");
  g_assert_nonnull (exe);
  g_strv_builder_add_many (b, exe, "--config", conf, NULL);
  g_strv_builder_addv (b, (const gchar **) args);
  g_auto (GStrv) argv = g_strv_builder_end (b);
  gchar *out = NULL;
  g_autoptr (GError) error = NULL;
  g_spawn_sync (NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, NULL,
      out_status, &error);
  g_assert_no_error (error);
  return out;
}

static void
test_tokens_cli (ApiFixture * f, gconstpointer data)
{
  gint status;
  const gchar *add[] =
      { "token", "add", "--org", "acme", "--scopes", "media:read", NULL };
  g_autofree gchar *out = run_cli (f, add, &status);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_autofree gchar *token = g_strstrip (g_strdup (out));
  g_assert_true (g_str_has_prefix (token, "lbt_"));
  g_assert_cmpuint (strlen (token), ==, 4 + 64);

  /* Only the SHA-256 is in the store, never the token. */
  sqlite3 *db;
  sqlite3_stmt *stmt;
  g_assert_cmpint (sqlite3_open (lb_store_get_path (f->store), &db), ==,
      SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT * FROM api_tokens", -1,
          &stmt, NULL), ==, SQLITE_OK);
  g_autofree gchar *hash =
      g_compute_checksum_for_string (G_CHECKSUM_SHA256, token, -1);
  guint found = 0;
  while (sqlite3_step (stmt) == SQLITE_ROW) {
    for (gint c = 0; c < sqlite3_column_count (stmt); c++) {
      const gchar *v = (const gchar *) sqlite3_column_text (stmt, c);
      g_assert_true (v == NULL || strstr (v, token + 4) == NULL);
      if (g_strcmp0 (v, hash) == 0)
        found++;
    }
  }
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  g_assert_cmpuint (found, ==, 1);

  /* read scope only */
  g_autoptr (ApiReply) w =
      api_create (f, token, "1234", "image", IMG, IMG, NULL);
  api_assert_error (w, 403, "media:write");
  const gchar *path =
      "/cameras/media?vehicleIds=1234&startTime=2019-06-13T00:00:00Z"
      "&endTime=2019-06-13T01:00:00Z";
  g_autoptr (ApiReply) r = api_request (f, "GET", path, token, NULL);
  g_assert_cmpuint (r->status, ==, 200);

  const gchar *list[] = { "token", "list", NULL };
  g_autofree gchar *listing = run_cli (f, list, &status);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_assert_nonnull (strstr (listing, "media:read"));
  g_assert_null (strstr (listing, token));
  /* the fixture's own token is 1, this one 2 */
  g_assert_nonnull (strstr (listing, "\n2 "));

  /* Revoking takes effect at once, on the running server. */
  const gchar *revoke[] = { "token", "revoke", "2", NULL };
  g_free (run_cli (f, revoke, &status));
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_autoptr (ApiReply) gone = api_request (f, "GET", path, token, NULL);
  api_assert_error (gone, 401, "revoked");
  g_free (run_cli (f, revoke, &status));
  g_assert_false (g_spawn_check_wait_status (status, NULL));

  const gchar *bad[] =
      { "token", "add", "--org", "acme", "--scopes", "admin", NULL };
  g_free (run_cli (f, bad, &status));
  g_assert_false (g_spawn_check_wait_status (status, NULL));
  const gchar *noorg[] = { "token", "add", NULL };
  g_free (run_cli (f, noorg, &status));
  g_assert_false (g_spawn_check_wait_status (status, NULL));
}

/* Another organisation sees 404, never someone else's retrieval or media. */
static void
test_cross_org (ApiFixture * f, gconstpointer data)
{
  g_autofree gchar *other =
      api_fixture_add_token (f, "globex", "media:read,media:write");
  g_autofree gchar *id = create_id (f, "image", IMG, IMG, NULL);

  g_autoptr (ApiReply) mine = get_retrieval (f, f->token, id);
  g_assert_cmpuint (mine->status, ==, 200);
  g_autoptr (ApiReply) theirs = get_retrieval (f, other, id);
  api_assert_error (theirs, 404, NULL);

  api_make_available (f);
  const gchar *path =
      "/cameras/media?vehicleIds=1234&startTime=2019-06-13T19:00:00Z"
      "&endTime=2019-06-13T20:00:00Z";
  g_autoptr (ApiReply) l1 = api_request (f, "GET", path, f->token, NULL);
  g_assert_nonnull (api_json_get (l1, "data.media.0"));
  g_autoptr (ApiReply) l2 = api_request (f, "GET", path, other, NULL);
  g_assert_cmpuint (l2->status, ==, 200);
  g_assert_null (api_json_get (l2, "data.media.0"));
  g_autoptr (ApiReply) again = get_retrieval (f, other, id);
  api_assert_error (again, 404, NULL);
}

/* ------------------------------------------------------------------------- */
/* Pagination over 250 media: no duplicates, no skips */

static void
test_pagination (ApiFixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  /* 125 retrievals of two inputs each, straight into the store. */
  for (guint i = 0; i < 125; i++) {
    g_autoptr (GPtrArray) rows =
        g_ptr_array_new_with_free_func ((GDestroyNotify) lb_retrieval_free);
    g_autofree gchar *rid = g_uuid_string_random ();
    for (guint j = 0; j < 2; j++) {
      LbRetrieval *r = lb_retrieval_new ();
      r->retrieval_id = g_strdup (rid);
      r->media_id = g_uuid_string_random ();
      r->org = g_strdup ("acme");
      r->vehicle = g_strdup (i % 5 == 0 ? "5678" : "1234");
      r->input = g_strdup (j ? "dashcamDriverFacing" : "dashcamRoadFacing");
      r->media_type = LB_MEDIA_TYPE_IMAGE;
      /* one image every 5 minutes from 19:00 */
      r->start_ns = r->end_ns =
          API_TEST_START_NS + (gint64) i *300 * LB_NS_PER_SEC;
      r->created_ns = API_TEST_START_NS;
      r->period = lb_quota_period (API_TEST_START_NS);
      r->cost_reserved = 0.1;
      r->status = LB_RETRIEVAL_PENDING;
      g_ptr_array_add (rows, r);
    }
    lb_store_api_create_retrieval (f->store, rows, 1e9, NULL, &error);
    g_assert_no_error (error);
  }
  g_assert_cmpuint (api_make_available (f), ==, 250);

  g_autofree gchar *start = lb_time_format_rfc3339 (API_TEST_START_NS);
  g_autofree gchar *end =
      lb_time_format_rfc3339 (API_TEST_START_NS + 24 * 3600 * LB_NS_PER_SEC);
  g_autoptr (GHashTable) seen =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree gchar *cursor = NULL;
  guint pages = 0;
  while (TRUE) {
    g_autofree gchar *path =
        g_strdup_printf ("/cameras/media?vehicleIds=1234,5678"
        "&startTime=%s&endTime=%s%s%s", start, end, cursor ? "&after=" : "",
        cursor ? cursor : "");
    g_autoptr (ApiReply) r = api_request (f, "GET", path, f->token, NULL);
    g_assert_cmpuint (r->status, ==, 200);
    pages++;
    JsonArray *media = json_node_get_array (api_json_get (r, "data.media"));
    for (guint i = 0; i < json_array_get_length (media); i++) {
      JsonObject *m = json_array_get_object_element (media, i);
      g_assert_true (json_object_has_member (m, "urlInfo"));
      const gchar *url =
          json_object_get_string_member (json_object_get_object_member (m,
              "urlInfo"), "url");
      g_assert_nonnull (url);
      const gchar *id = strstr (url, "/media/") + 7;
      g_autofree gchar *media_id = g_strndup (id, strchr (id, '?') - id);
      g_assert_false (g_hash_table_contains (seen, media_id));
      g_hash_table_add (seen, g_steal_pointer (&media_id));
      g_assert_false (json_object_has_member (m, "status"));
      g_assert_cmpstr (json_object_get_string_member (m, "triggerReason"), ==,
          "api");
      const gchar *input = json_object_get_string_member (m, "input");
      g_assert_true (g_str_equal (input, "dashcamForwardFacing") ||
          g_str_equal (input, "dashcamInwardFacing"));
      g_assert_nonnull (json_object_get_string_member (m, "availableAtTime"));
    }
    gboolean more =
        json_node_get_boolean (api_json_get (r, "pagination.hasNextPage"));
    const gchar *next = api_json_string (r, "pagination.endCursor");
    g_assert_nonnull (next);
    g_assert_cmpuint (json_array_get_length (media), ==, more ? 100 : 50);
    if (!more) {
      g_assert_cmpstr (next, ==, "");
      break;
    }
    g_assert_cmpstr (next, !=, "");
    g_free (cursor);
    cursor = g_uri_escape_string (next, NULL, FALSE);
    g_assert_cmpuint (pages, <, 10);
  }
  g_assert_cmpuint (pages, ==, 3);
  g_assert_cmpuint (g_hash_table_size (seen), ==, 250);

  /* Filters: one vehicle, one input (list spelling), a time window. */
  g_autofree gchar *w_end =
      lb_time_format_rfc3339 (API_TEST_START_NS + 3600 * LB_NS_PER_SEC);
  g_autofree gchar *path =
      g_strdup_printf ("/cameras/media?vehicleIds=5678&startTime=%s"
      "&endTime=%s&inputs=dashcamInwardFacing&mediaTypes=image&triggerReasons=api",
      start,
      w_end);
  g_autoptr (ApiReply) r = api_request (f, "GET", path, f->token, NULL);
  g_assert_cmpuint (r->status, ==, 200);
  /* images at 0, 25 min... of 5678 (i % 5 == 0): i = 0, 5, 10 within the hour */
  JsonArray *media = json_node_get_array (api_json_get (r, "data.media"));
  g_assert_cmpuint (json_array_get_length (media), ==, 3);
  g_assert_cmpstr (api_json_string (r, "data.media.0.input"), ==,
      "dashcamInwardFacing");
  g_assert_cmpstr (api_json_string (r, "data.media.0.vehicleId"), ==, "5678");
  /* availableAfterTime excludes everything made available at the start */
  g_autofree gchar *p2 =
      g_strdup_printf ("%s&availableAfterTime=%s", path, start);
  g_autoptr (ApiReply) r2 = api_request (f, "GET", p2, f->token, NULL);
  g_assert_null (api_json_get (r2, "data.media.0"));
}

/* ------------------------------------------------------------------------- */
/* Signed media URLs */

static gchar *
url_path (ApiFixture * f, const gchar * url)
{
  g_assert_true (g_str_has_prefix (url, f->uri));
  return g_strdup (url + strlen (f->uri));
}

/* Range on the 14 bytes "media of row 1" at @path. */
static void
check_ranges (ApiFixture * f, const gchar * path)
{
  struct
  {
    const gchar *range;
    guint status;
    const gchar *body;
    const gchar *cr;
  } ranges[] = {
    {"bytes=0-4", 206, "media", "bytes 0-4/14"},
    {"bytes=9-", 206, "row 1", "bytes 9-13/14"},
    {"bytes=-3", 206, "w 1", "bytes 11-13/14"},
    {"bytes=6-100", 206, "of row 1", "bytes 6-13/14"},
    {"bytes=14-", 416, NULL, "bytes */14"},
    {"bytes=-0", 416, NULL, "bytes */14"},
    /* not one well-formed range: ignored, the whole file */
    {"bytes=--5", 200, "media of row 1", NULL},
    {"bytes=99999999999999999999-", 200, "media of row 1", NULL},
    {"bytes=1-2,4-5", 200, "media of row 1", NULL},
    {"bytes=+1-2", 200, "media of row 1", NULL},
  };
  for (guint i = 0; i < G_N_ELEMENTS (ranges); i++) {
    const gchar *h[] = { "Range", ranges[i].range, NULL };
    g_autoptr (ApiReply) r =
        api_request_full (f, NULL, "GET", path, NULL, NULL, h);
    g_assert_cmpuint (r->status, ==, ranges[i].status);
    g_assert_cmpstr (soup_message_headers_get_one (r->headers, "Content-Range"),
        ==, ranges[i].cr);
    if (ranges[i].body)
      g_assert_cmpmem (g_bytes_get_data (r->body, NULL),
          g_bytes_get_size (r->body), ranges[i].body, strlen (ranges[i].body));
    else
      api_assert_error (r, 416, "Range");
  }
}

static void
test_signed_urls (ApiFixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *id = create_id (f, "image", IMG, IMG, NULL);
  g_assert_cmpuint (api_make_available (f), ==, 1);

  g_autoptr (ApiReply) g = get_retrieval (f, f->token, id);
  const gchar *url = api_json_string (g, "data.media.0.urlInfo.url");
  g_autofree gchar *u = g_strdup_printf ("%s/media/", f->uri);
  g_assert_true (g_str_has_prefix (url, u));
  g_autofree gchar *path = url_path (f, url);

  /* valid: the whole file, its type, an ETag; no token needed */
  g_autoptr (ApiReply) ok = api_request (f, "GET", path, NULL, NULL);
  g_assert_cmpuint (ok->status, ==, 200);
  const gchar *want = "media of row 1";
  g_assert_cmpmem (g_bytes_get_data (ok->body, NULL),
      g_bytes_get_size (ok->body), want, strlen (want));
  g_assert_cmpstr (soup_message_headers_get_one (ok->headers, "Content-Type"),
      ==, "image/jpeg");
  const gchar *etag = soup_message_headers_get_one (ok->headers, "ETag");
  g_assert_nonnull (etag);
  g_assert_cmpstr (soup_message_headers_get_one (ok->headers, "Accept-Ranges"),
      ==, "bytes");

  check_ranges (f, path);
  const gchar *inm[] = { "If-None-Match", etag, NULL };
  g_autoptr (ApiReply) nm =
      api_request_full (f, NULL, "GET", path, NULL, NULL, inm);
  g_assert_cmpuint (nm->status, ==, 304);

  /* tampered: signature, id, expiry; missing signature */
  g_autofree gchar *t1 = g_strdup (path);
  gchar *sig = strstr (t1, "signature=") + 10;
  sig[0] = sig[0] == 'a' ? 'b' : 'a';
  g_autoptr (ApiReply) bad1 = api_request (f, "GET", t1, NULL, NULL);
  api_assert_error (bad1, 403, "signature");
  g_autofree gchar *t2 = g_strdup (path);
  t2[strlen ("/media/")] = t2[strlen ("/media/")] == '0' ? '1' : '0';
  g_autoptr (ApiReply) bad2 = api_request (f, "GET", t2, NULL, NULL);
  api_assert_error (bad2, 403, NULL);
  g_autofree gchar *t3 = g_strdup (path);
  gchar *exp = strstr (t3, "expires=") + 8;
  exp[0] = exp[0] == '1' ? '2' : '1';
  g_autoptr (ApiReply) bad3 = api_request (f, "GET", t3, NULL, NULL);
  api_assert_error (bad3, 403, NULL);
  g_autofree gchar *t4 = g_strndup (path, strstr (path, "&signature") - path);
  g_autoptr (ApiReply) bad4 = api_request (f, "GET", t4, NULL, NULL);
  api_assert_error (bad4, 403, NULL);

  /* expires after url-ttl (8 h); each GET issues a fresh one */
  lb_clock_advance (f->clock, 8 * 3600 * LB_NS_PER_SEC);
  g_autoptr (ApiReply) last = api_request (f, "GET", path, NULL, NULL);
  g_assert_cmpuint (last->status, ==, 200);
  lb_clock_advance (f->clock, LB_NS_PER_SEC);
  g_autoptr (ApiReply) expired = api_request (f, "GET", path, NULL, NULL);
  api_assert_error (expired, 403, "expired");
  g_autoptr (ApiReply) g2 = get_retrieval (f, f->token, id);
  const gchar *url2 = api_json_string (g2, "data.media.0.urlInfo.url");
  g_assert_cmpstr (url2, !=, url);
  g_autofree gchar *path2 = url_path (f, url2);
  g_autoptr (ApiReply) fresh = api_request (f, "GET", path2, NULL, NULL);
  g_assert_cmpuint (fresh->status, ==, 200);

  /* the key is generated once and kept by the store */
  g_autoptr (GBytes) k1 = lb_store_api_get_signing_key (f->store, &error);
  g_autoptr (GBytes) k2 = lb_store_api_get_signing_key (f->store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (k1), ==, LB_SIGN_KEY_SIZE);
  g_assert_true (g_bytes_equal (k1, k2));
}

static void
test_public_url (ApiFixture * f, gconstpointer data)
{
  g_autofree gchar *id = create_id (f, "image", IMG, IMG, NULL);
  api_make_available (f);
  g_autoptr (ApiReply) g = get_retrieval (f, f->token, id);
  const gchar *url = api_json_string (g, "data.media.0.urlInfo.url");
  g_assert_true (g_str_has_prefix (url, "https://box.example:8443/lb/media/"));
}

/* ------------------------------------------------------------------------- */
/* OpenAPI, health, logging, timeouts */

static void
test_openapi (ApiFixture * f, gconstpointer data)
{
  g_autoptr (ApiReply) r = api_request (f, "GET", "/openapi.json", NULL, NULL);
  g_assert_cmpuint (r->status, ==, 200);
  g_assert_nonnull (r->json);
  g_assert_true (g_str_has_prefix (api_json_string (r, "openapi"), "3."));
  JsonObject *paths = json_node_get_object (api_json_get (r, "paths"));
  const gchar *const *routes = lb_api_server_routes ();
  guint n = 0;
  for (guint i = 0; routes[i]; i++, n++) {
    g_auto (GStrv) mp = g_strsplit (routes[i], " ", 2);
    g_autofree gchar *method = g_ascii_strdown (mp[0], -1);
    JsonObject *item = json_object_get_object_member (paths, mp[1]);
    if (item == NULL || !json_object_has_member (item, method))
      g_error ("the OpenAPI document lacks %s", routes[i]);
  }
  /* and documents nothing the server does not have */
  guint documented = 0;
  g_autoptr (GList) names = json_object_get_members (paths);
  for (GList * l = names; l; l = l->next) {
    JsonObject *item = json_object_get_object_member (paths, l->data);
    g_autoptr (GList) methods = json_object_get_members (item);
    for (GList * m = methods; m; m = m->next) {
      if (g_str_equal (m->data, "parameters"))
        continue;
      g_autofree gchar *up = g_ascii_strup (m->data, -1);
      g_autofree gchar *route =
          g_strdup_printf ("%s %s", up, (const gchar *) l->data);
      g_assert_true (g_strv_contains (routes, route));
      documented++;
    }
  }
  g_assert_cmpuint (documented, ==, n);

  /* the served document is data/openapi.json */
  g_autofree gchar *src = g_build_filename (g_getenv ("LB_SOURCE_ROOT"), "data",
      "openapi.json", NULL);
  g_autofree gchar *text = NULL;
  gsize len;
  g_assert_true (g_file_get_contents (src, &text, &len, NULL));
  g_assert_cmpmem (text, len, g_bytes_get_data (r->body, NULL),
      g_bytes_get_size (r->body));
}

static void
secret_health (JsonBuilder * b, gpointer user_data)
{
  json_builder_set_member_name (b, "lastError");
  json_builder_add_string_value (b, "PUT /srv/outputs/1234/x.jpg: refused");
}

/* Without a token /healthz tells the status and the server's counters only;
 * with one it adds the retrievals per status and the modules' objects. */
static void
test_health (ApiFixture * f, gconstpointer data)
{
  lb_api_server_add_health (f->server, "uploads", secret_health, NULL, NULL);
  g_free (create_id (f, "image", IMG, IMG,
          "[\"dashcamRoadFacing\", \"analog3\"]"));

  g_autoptr (ApiReply) r = api_request (f, "GET", "/healthz", NULL, NULL);
  g_assert_cmpuint (r->status, ==, 200);
  g_assert_cmpstr (api_json_string (r, "status"), ==, "ok");
  g_assert_cmpint (json_node_get_int (api_json_get (r, "requests")), >=, 2);
  g_assert_null (api_json_get (r, "retrievals"));
  g_assert_null (api_json_get (r, "uploads"));
  g_autofree gchar *text = g_strndup (g_bytes_get_data (r->body, NULL),
      g_bytes_get_size (r->body));
  g_assert_null (strstr (text, "/srv"));
  g_assert_null (strstr (text, "1234"));

  g_autoptr (ApiReply) t = api_request (f, "GET", "/healthz", f->token, NULL);
  g_assert_cmpuint (t->status, ==, 200);
  g_assert_cmpstr (api_json_string (t, "status"), ==, "ok");
  g_assert_cmpint (json_node_get_int (api_json_get (t, "retrievals.pending")),
      ==, 1);
  g_assert_cmpint (json_node_get_int (api_json_get (t, "retrievals.invalid")),
      ==, 1);
  g_assert_nonnull (strstr (api_json_string (t, "uploads.lastError"), "/srv"));

  g_autoptr (ApiReply) bad = api_request (f, "GET", "/healthz", "lbt_0", NULL);
  api_assert_error (bad, 401, NULL);
}

typedef struct
{
  ApiFixture *f;
  gint done;
  guint status;
} AsyncCreate;

static gpointer
create_in_thread (gpointer data)
{
  AsyncCreate *c = data;
  g_autoptr (SoupSession) session =
      soup_session_new_with_options ("timeout", 60, NULL);
  g_autoptr (ApiReply) r = api_request_full (c->f, session, "POST",
      "/cameras/media/retrieval", c->f->token,
      "{\"vehicleId\": \"1234\", \"mediaType\": \"image\", \"startTime\": \""
      IMG "\", \"endTime\": \"" IMG "\", \"inputs\": [\"analog1\"]}", NULL);
  c->status = r->status;
  g_atomic_int_set (&c->done, 1);
  return NULL;
}

/* Another process holds the store's write lock (sqlite3 … BEGIN EXCLUSIVE):
 * a create waits for it on its worker thread, and meanwhile /healthz (with
 * and without a token), /openapi.json and reads answer; the create ends
 * only once the lock is released.  The main loop never waits on SQLite. */
static void
test_health_under_write_lock (ApiFixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) holder = g_subprocess_new
      (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
      "sqlite3", lb_store_get_path (f->store), NULL);
  g_assert_no_error (error);
  GOutputStream *in = g_subprocess_get_stdin_pipe (holder);
  const gchar *lock = "BEGIN EXCLUSIVE;\nSELECT 'locked';\n";
  g_output_stream_write_all (in, lock, strlen (lock), NULL, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (GDataInputStream) out =
      g_data_input_stream_new (g_subprocess_get_stdout_pipe (holder));
  g_autofree gchar *line =
      g_data_input_stream_read_line (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (line, ==, "locked");

  /* The create's commit holds the writer connection while SQLite waits for
   * the lock (up to its busy timeout): from then on it is stuck. */
  AsyncCreate c = { f, 0, 0 };
  GThread *thread = g_thread_new ("create", create_in_thread, &c);
  while (!g_atomic_int_get (&c.done) && g_rec_mutex_trylock (&f->store->lock)) {
    g_rec_mutex_unlock (&f->store->lock);
    g_usleep (1000);
  }

  g_autoptr (ApiReply) h = api_request (f, "GET", "/healthz", NULL, NULL);
  g_assert_cmpuint (h->status, ==, 200);
  g_autoptr (ApiReply) o = api_request (f, "GET", "/openapi.json", NULL, NULL);
  g_assert_cmpuint (o->status, ==, 200);
  g_autoptr (ApiReply) t = api_request (f, "GET", "/healthz", f->token, NULL);
  g_assert_cmpuint (t->status, ==, 200);
  g_assert_nonnull (api_json_get (t, "retrievals.pending"));
  g_autoptr (ApiReply) l = api_request (f, "GET", "/cameras/media?vehicleIds="
      "1234&startTime=2019-06-13T00:00:00Z&endTime=2019-06-13T01:00:00Z",
      f->token, NULL);
  g_assert_cmpuint (l->status, ==, 200);
  /* all answered while the create still waits for the lock */
  g_assert_false (g_atomic_int_get (&c.done));

  const gchar *release = "COMMIT;\n";
  g_output_stream_write_all (in, release, strlen (release), NULL, NULL, &error);
  g_output_stream_close (in, NULL, &error);
  g_assert_no_error (error);
  g_subprocess_wait_check (holder, NULL, &error);
  g_assert_no_error (error);
  g_thread_join (thread);
  g_assert_cmpuint (c.status, ==, 200);
}

static void
count_created (gpointer user_data)
{
  g_atomic_int_inc ((gint *) user_data);
}

/* The created hook runs once per committed create, never for a refused one. */
static void
test_created_hook (ApiFixture * f, gconstpointer data)
{
  gint created = 0;

  lb_api_server_set_created_func (f->server, count_created, &created);
  g_free (create_id (f, "image", IMG, IMG, NULL));
  g_assert_cmpint (g_atomic_int_get (&created), ==, 1);
  g_autoptr (ApiReply) over =
      api_create (f, f->token, "1234", "image", IMG, IMG, NULL);
  g_assert_cmpuint (over->status, ==, 429);
  g_autoptr (ApiReply) bad =
      api_create (f, f->token, "1234", "image", IMG, "junk", NULL);
  g_assert_cmpuint (bad->status, ==, 400);
  g_assert_cmpint (g_atomic_int_get (&created), ==, 1);
}

static GMutex log_lock;
static GString *log_text;

static void
capture_log (GstDebugCategory * category, GstDebugLevel level,
    const gchar * file, const gchar * function, gint line, GObject * object,
    GstDebugMessage * message, gpointer user_data)
{
  if (g_strcmp0 (gst_debug_category_get_name (category), "lookback-api") != 0)
    return;
  g_mutex_lock (&log_lock);
  g_string_append_printf (log_text, "%s\n", gst_debug_message_get (message));
  g_mutex_unlock (&log_lock);
}

/* One log line per request, with its requestId, route, status, duration. */
static void
test_request_log (ApiFixture * f, gconstpointer data)
{
  log_text = g_string_new (NULL);
  gst_debug_set_active (TRUE);
  gst_debug_set_threshold_for_name ("lookback-api", GST_LEVEL_INFO);
  gst_debug_add_log_function (capture_log, NULL, NULL);

  g_autoptr (ApiReply) r =
      api_create (f, f->token, "9999", "image", IMG, IMG, NULL);
  api_assert_error (r, 404, NULL);
  const gchar *rid = api_json_string (r, "requestId");
  g_autoptr (ApiReply) h = api_request (f, "GET", "/healthz", NULL, NULL);
  g_assert_cmpuint (h->status, ==, 200);
  g_autofree gchar *hid =
      g_strdup (soup_message_headers_get_one (h->headers, "X-Request-Id"));
  api_fixture_stop_server (f);  /* joins the server thread: every line is out */

  gst_debug_remove_log_function (capture_log);
  g_mutex_lock (&log_lock);
  g_autofree gchar *want = g_strdup_printf ("requestId=%s method=POST "
      "path=/cameras/media/retrieval route=POST /cameras/media/retrieval status=404 duration=",
      rid);
  g_assert_nonnull (strstr (log_text->str, want));
  g_autofree gchar *want2 =
      g_strdup_printf ("requestId=%s method=GET path=/healthz "
      "route=GET /healthz status=200", hid);
  g_assert_nonnull (strstr (log_text->str, want2));
  /* once */
  g_assert_null (strstr (strstr (log_text->str, rid) + 1, rid));
  g_string_free (log_text, TRUE);
  g_mutex_unlock (&log_lock);
}

static gboolean
closed_within (GSocketConnection * conn, gint64 limit_us)
{
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (conn));
  GSocket *sock = g_socket_connection_get_socket (conn);
  gchar buf[512];
  gint64 start = g_get_monotonic_time ();

  g_socket_set_timeout (sock, (limit_us / G_USEC_PER_SEC) + 1);
  while (TRUE) {
    g_autoptr (GError) error = NULL;
    gssize n = g_input_stream_read (in, buf, sizeof buf, NULL, &error);
    if (n == 0 || (n < 0
            && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)))
      return g_get_monotonic_time () - start <= limit_us;
    if (n < 0)
      return FALSE;             /* still open after the limit */
  }
}

/* Slow clients (a request that never completes) and idle connections are
 * cut off. */
static void
test_timeouts (ApiFixture * f, gconstpointer data)
{
  g_autoptr (GUri) uri = g_uri_parse (f->uri, G_URI_FLAGS_NONE, NULL);
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GError) error = NULL;

  /* slow: headers trickle in, never finished; cut after 1-2 s (one-second
   * ticks), well before the idle timeout */
  g_autoptr (GSocketConnection) slow =
      g_socket_client_connect_to_host (client, "127.0.0.1",
      g_uri_get_port (uri), NULL, &error);
  g_assert_no_error (error);
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (slow));
  const gchar *part = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
  g_output_stream_write_all (out, part, strlen (part), NULL, NULL, &error);
  g_assert_no_error (error);
  gint64 t0 = g_get_monotonic_time ();
  g_assert_true (closed_within (slow, 2500 * 1000));
  g_assert_cmpint (g_get_monotonic_time () - t0, >=, 900 * 1000);

  /* idle: connects and says nothing; cut after the idle timeout (3 s) */
  g_autoptr (GSocketConnection) idle =
      g_socket_client_connect_to_host (client, "127.0.0.1",
      g_uri_get_port (uri), NULL, &error);
  g_assert_no_error (error);
  t0 = g_get_monotonic_time ();
  g_assert_true (closed_within (idle, 4500 * 1000));
  g_assert_cmpint (g_get_monotonic_time () - t0, >=, 2500 * 1000);

  /* a chunked body that outgrows max-body is cut off */
  g_autoptr (GSocketConnection) big =
      g_socket_client_connect_to_host (client, "127.0.0.1",
      g_uri_get_port (uri), NULL, &error);
  g_assert_no_error (error);
  GOutputStream *bout = g_io_stream_get_output_stream (G_IO_STREAM (big));
  const gchar *head = "POST /cameras/media/retrieval HTTP/1.1\r\nHost: x\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  g_output_stream_write_all (bout, head, strlen (head), NULL, NULL, &error);
  g_assert_no_error (error);
  g_autofree gchar *chunk = g_strnfill (4096, 'x');
  g_autofree gchar *line = g_strdup_printf ("1000\r\n%s\r\n", chunk);
  gboolean cut = FALSE;
  for (guint i = 0; i < 64 && !cut; i++)        /* 256 KiB > 64 KiB */
    cut =
        !g_output_stream_write_all (bout, line, strlen (line), NULL, NULL,
        NULL);
  g_assert_true (cut || closed_within (big, 2 * G_USEC_PER_SEC));

  /* a normal request on a fresh connection still works */
  g_autoptr (ApiReply) r = api_request (f, "GET", "/healthz", NULL, NULL);
  g_assert_cmpuint (r->status, ==, 200);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/api/jobs/claim-order", ApiFixture, FAST, api_fixture_setup,
      test_claim_order, api_fixture_teardown);
  g_test_add ("/api/jobs/created-hook", ApiFixture,
      FAST "[quota]\nallowance=0.1\n", api_fixture_setup, test_created_hook,
      api_fixture_teardown);
  g_test_add ("/api/jobs/lifecycle", ApiFixture, FAST, api_fixture_setup,
      test_lifecycle, api_fixture_teardown);
  g_test_add ("/api/jobs/defer-and-requeue", ApiFixture, FAST,
      api_fixture_setup, test_defer_and_requeue, api_fixture_teardown);
  g_test_add ("/api/jobs/join-transaction", ApiFixture, FAST, api_fixture_setup,
      test_join_transaction, api_fixture_teardown);
  g_test_add ("/api/tokens/cli-hash-revoke", ApiFixture, FAST,
      api_fixture_setup, test_tokens_cli, api_fixture_teardown);
  g_test_add ("/api/orgs/isolation", ApiFixture, FAST, api_fixture_setup,
      test_cross_org, api_fixture_teardown);
  g_test_add ("/api/list/pagination-250", ApiFixture, FAST, api_fixture_setup,
      test_pagination, api_fixture_teardown);
  g_test_add ("/api/media/signed-urls", ApiFixture, FAST, api_fixture_setup,
      test_signed_urls, api_fixture_teardown);
  g_test_add ("/api/media/public-url", ApiFixture,
      FAST "[server]\npublic-url=https://box.example:8443/lb/\n",
      api_fixture_setup, test_public_url, api_fixture_teardown);
  g_test_add ("/api/openapi/routes", ApiFixture, FAST, api_fixture_setup,
      test_openapi, api_fixture_teardown);
  g_test_add ("/api/health", ApiFixture, FAST, api_fixture_setup, test_health,
      api_fixture_teardown);
  g_test_add ("/api/health/under-write-lock", ApiFixture, FAST,
      api_fixture_setup, test_health_under_write_lock, api_fixture_teardown);
  g_test_add ("/api/log/one-line-per-request", ApiFixture, FAST,
      api_fixture_setup, test_request_log, api_fixture_teardown);
  g_test_add ("/api/server/timeouts", ApiFixture,
      "[server]\nrequest-timeout=1s\nidle-timeout=3s\n", api_fixture_setup,
      test_timeouts, api_fixture_teardown);
  return g_test_run ();
}
