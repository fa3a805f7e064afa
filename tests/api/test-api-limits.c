/* lookback — API tests: per-token rate limits and monthly quota, with an
 * injectable clock; concurrent creates never overspend. */
#include "api-test.h"
#include "quota/lb-quota.h"
#include "lb-test-common.h"

#include <gst/gst.h>
#include <sqlite3.h>
#include <string.h>

#define IMG "2019-06-13T19:08:25Z"

static ApiReply *
create_image (ApiFixture * f, const gchar * token)
{
  return api_create (f, token, "1234", "image", IMG, IMG, NULL);
}

static gint64
retry_after_ns (ApiReply * r)
{
  const gchar *text = soup_message_headers_get_one (r->headers, "Retry-After");
  g_assert_nonnull (text);
  gchar *end;
  gdouble s = g_ascii_strtod (text, &end);
  g_assert_true (*end == '\0');
  g_assert_cmpfloat (s, >, 0);
  return (gint64) (s * 1e9 + 0.5);
}

/* The 101st create in a minute is refused; waiting Retry-After is enough,
 * waiting a little less is not. */
static void
test_rate_create (ApiFixture * f, gconstpointer data)
{

  for (guint i = 0; i < 100; i++) {
    g_autoptr (ApiReply) r = create_image (f, f->token);
    g_assert_cmpuint (r->status, ==, 200);
  }
  g_autoptr (ApiReply) over = create_image (f, f->token);
  api_assert_error (over, 429, NULL);
  g_assert_cmpstr (api_json_string (over, "message"), ==,
      "Exceeded rate limit.");
  gint64 wait = retry_after_ns (over);
  g_assert_cmpint (wait, >=, 590 * LB_NS_PER_MS);       /* 60 s / 100 */
  g_assert_cmpint (wait, <=, 610 * LB_NS_PER_MS);
  g_assert_true (strchr (soup_message_headers_get_one (over->headers,
              "Retry-After"), '.'));

  lb_clock_advance (f->clock, wait - 100 * LB_NS_PER_MS);
  g_autoptr (ApiReply) early = create_image (f, f->token);
  api_assert_error (early, 429, "Exceeded rate limit.");
  gint64 rest = retry_after_ns (early);
  g_assert_cmpint (rest, <=, 110 * LB_NS_PER_MS);
  g_assert_cmpint (rest, >=, 90 * LB_NS_PER_MS);

  lb_clock_advance (f->clock, rest);
  g_autoptr (ApiReply) ok = create_image (f, f->token);
  g_assert_cmpuint (ok->status, ==, 200);
  g_autoptr (ApiReply) again = create_image (f, f->token);
  api_assert_error (again, 429, "Exceeded rate limit.");

  /* Another token has a bucket of its own, even in the same organisation. */
  g_autofree gchar *other =
      api_fixture_add_token (f, "acme", "media:read,media:write");
  g_autoptr (ApiReply) fresh = create_image (f, other);
  g_assert_cmpuint (fresh->status, ==, 200);

  /* Reads have their own limit: creates being exhausted does not matter. */
  g_autoptr (ApiReply) read = api_request (f, "GET",
      "/cameras/media?vehicleIds=1234&startTime=2019-06-13T00:00:00Z"
      "&endTime=2019-06-13T01:00:00Z", f->token, NULL);
  g_assert_cmpuint (read->status, ==, 200);
}

/* Five GETs per second per token. */
static void
test_rate_reads (ApiFixture * f, gconstpointer data)
{
  const gchar *path =
      "/cameras/media?vehicleIds=1234&startTime=2019-06-13T00:00:00Z"
      "&endTime=2019-06-13T01:00:00Z";
  g_autofree gchar *other = api_fixture_add_token (f, "acme", "media:read");

  for (guint i = 0; i < 5; i++) {
    g_autoptr (ApiReply) r = api_request (f, "GET", path, f->token, NULL);
    g_assert_cmpuint (r->status, ==, 200);
  }
  g_autoptr (ApiReply) over = api_request (f, "GET",
      "/cameras/media/retrieval?retrievalId=2308cec4-82e0-46f1-8b3c-a3592e5cc21e",
      f->token, NULL);
  api_assert_error (over, 429, "Exceeded rate limit.");
  gint64 wait = retry_after_ns (over);
  g_assert_cmpint (wait, >=, 195 * LB_NS_PER_MS);
  g_assert_cmpint (wait, <=, 205 * LB_NS_PER_MS);
  g_autoptr (ApiReply) b = api_request (f, "GET", path, other, NULL);
  g_assert_cmpuint (b->status, ==, 200);
  lb_clock_advance (f->clock, wait);
  g_autoptr (ApiReply) ok = api_request (f, "GET", path, f->token, NULL);
  g_assert_cmpuint (ok->status, ==, 200);
}

static gint64
count_rows (ApiFixture * f)
{
  gint64 counts[LB_RETRIEVAL_INVALID + 1];
  g_autoptr (GError) error = NULL;
  lb_store_api_count_status (f->store, counts, &error);
  g_assert_no_error (error);
  gint64 n = 0;
  for (guint i = 0; i <= LB_RETRIEVAL_INVALID; i++)
    n += counts[i];
  return n;
}

/* An allowance of 1 s holds ten images; the eleventh is refused with 429 and
 * nothing is written; usage resets when the month turns (UTC). */
static void
test_quota_month (ApiFixture * f, gconstpointer data)
{
  LbTestLogCapture *cap = lb_test_log_capture_start ();

  for (guint i = 0; i < 10; i++) {
    g_autoptr (ApiReply) r = create_image (f, f->token);
    g_assert_cmpuint (r->status, ==, 200);
    g_assert_cmpstr (api_json_string (r, "data.quotaStatus"), ==,
        "Current monthly usage is 0.0 seconds of high-res video out of 1.0 available.");
  }
  gint64 rows = count_rows (f);
  g_autoptr (ApiReply) over = create_image (f, f->token);
  api_assert_error (over, 429, "monthly quota is exhausted");
  g_assert_cmpint (count_rows (f), ==, rows);
  /* 2026-11-15T12:00Z to 2026-12-01T00:00Z */
  g_assert_cmpstr (soup_message_headers_get_one (over->headers, "Retry-After"),
      ==, "1339200");

  /* Delivered: the usage shows in quotaStatus (a refused create still says). */
  g_assert_cmpuint (api_make_available (f), ==, 10);
  g_autoptr (ApiReply) still = create_image (f, f->token);
  api_assert_error (still, 429, "monthly quota is exhausted");

  /* The last millisecond of November (UTC) is still November. */
  g_autoptr (GError) error = NULL;
  gint64 dec1;
  lb_time_parse_rfc3339 ("2026-12-01T00:00:00Z", &dec1, &error);
  g_assert_no_error (error);
  lb_clock_set (f->clock, dec1 - LB_NS_PER_MS);
  g_autoptr (ApiReply) nov = create_image (f, f->token);
  api_assert_error (nov, 429, "monthly quota is exhausted");

  /* ...and in an offset zone it would already be December: no matter. */
  lb_clock_set (f->clock, dec1);
  g_autoptr (ApiReply) dec = create_image (f, f->token);
  g_assert_cmpuint (dec->status, ==, 200);
  g_assert_cmpstr (api_json_string (dec, "data.quotaStatus"), ==,
      "Current monthly usage is 0.0 seconds of high-res video out of 1.0 available.");
  gdouble used, reserved;
  lb_quota_get_usage (f->store, "acme", dec1 - 1, &used, &reserved, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat_with_epsilon (used, 1.0, 1e-9);
  g_assert_cmpfloat_with_epsilon (reserved, 0.0, 1e-9);
  lb_quota_get_usage (f->store, "acme", dec1, &used, &reserved, &error);
  g_assert_cmpfloat_with_epsilon (used, 0.0, 1e-9);
  g_assert_cmpfloat_with_epsilon (reserved, 0.1, 1e-9);

  /* three refusals in November: the operator reads one line */
  g_autofree gchar *events = lb_test_log_capture_text (cap);
  lb_test_log_capture_stop (cap);
  g_auto (GStrv) lines = g_strsplit (events, "quota of organisation", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 2);
  g_assert_nonnull (strstr (events, "warning quota of organisation acme "
          "exhausted for 2026-11: creates are refused until the month ends "
          "or its allowance grows (The monthly quota is exhausted"));
}

/* Usage shows in the quotaStatus sentence; other organisations have their
 * own books and their own allowance. */
static void
test_quota_status_and_orgs (ApiFixture * f, gconstpointer data)
{
  g_autofree gchar *big =
      api_fixture_add_token (f, "big", "media:read,media:write");

  g_autoptr (ApiReply) a = api_create (f, f->token, "1234", "videoHighRes",
      "2019-06-13T19:08:00Z", "2019-06-13T19:08:40.5Z", NULL);
  g_assert_cmpuint (a->status, ==, 200);
  api_make_available (f);
  g_autoptr (ApiReply) b = create_image (f, f->token);
  g_assert_cmpstr (api_json_string (b, "data.quotaStatus"), ==,
      "Current monthly usage is 40.5 seconds of high-res video out of 100.0 available.");
  g_autoptr (ApiReply) c = create_image (f, big);
  g_assert_cmpstr (api_json_string (c, "data.quotaStatus"), ==,
      "Current monthly usage is 0.0 seconds of high-res video out of 1000.0 available.");
  /* acme: 40.5 used + 0.1 reserved; 60 more s do not fit, 59 do. */
  g_autoptr (ApiReply) d = api_create (f, f->token, "1234", "videoHighRes",
      "2019-06-13T19:00:00Z", "2019-06-13T19:01:00Z", NULL);
  api_assert_error (d, 429, "monthly quota is exhausted");
  g_autoptr (ApiReply) e = api_create (f, big, "1234", "videoHighRes",
      "2019-06-13T19:00:00Z", "2019-06-13T19:01:00Z", NULL);
  g_assert_cmpuint (e->status, ==, 200);
  g_autoptr (ApiReply) g = api_create (f, f->token, "1234", "videoHighRes",
      "2019-06-13T19:00:00Z", "2019-06-13T19:00:59Z", NULL);
  g_assert_cmpuint (g->status, ==, 200);
}

/* Costs: image-cost, duration, duration × weights; reserve, commit, refund. */
static void
test_quota_costs (ApiFixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gdouble used, reserved;

  g_assert_cmpfloat_with_epsilon (lb_quota_cost (f->config, LB_MEDIA_TYPE_IMAGE,
          0, 0), 0.1, 1e-9);
  g_assert_cmpfloat_with_epsilon (lb_quota_cost (f->config,
          LB_MEDIA_TYPE_VIDEO_HIGH_RES, 0, 30 * LB_NS_PER_SEC), 30, 1e-9);
  g_assert_cmpfloat_with_epsilon (lb_quota_cost (f->config,
          LB_MEDIA_TYPE_VIDEO_LOW_RES, 0, 100 * LB_NS_PER_SEC), 50, 1e-9);
  g_assert_cmpfloat_with_epsilon (lb_quota_cost (f->config,
          LB_MEDIA_TYPE_HYPERLAPSE, 0, 1000 * LB_NS_PER_SEC), 100, 1e-9);

  /* Two inputs reserve twice; an invalid input reserves nothing. */
  g_autoptr (ApiReply) r = api_create (f, f->token, "1234", "videoLowRes",
      "2019-06-13T19:00:00Z", "2019-06-13T19:01:40Z",
      "[\"dashcamRoadFacing\", \"dashcamDriverFacing\", \"analog4\"]");
  g_assert_cmpuint (r->status, ==, 200);
  lb_quota_get_usage (f->store, "acme", API_TEST_START_NS, &used, &reserved,
      &error);
  g_assert_no_error (error);
  g_assert_cmpfloat_with_epsilon (used, 0, 1e-9);
  g_assert_cmpfloat_with_epsilon (reserved, 100, 1e-9);

  /* One is delivered shorter (commit its real cost), one fails (refund). */
  LbRetrieval *a = NULL, *b = NULL;
  lb_store_api_claim_next (f->store, API_TEST_START_NS, &a, &error);
  lb_store_api_claim_next (f->store, API_TEST_START_NS, &b, &error);
  g_assert_no_error (error);
  g_assert_nonnull (a);
  g_assert_nonnull (b);
  lb_store_api_finish_available (f->store, a->id, "/nonexistent.mp4",
      "video/mp4", a->start_ns, a->start_ns + 60 * LB_NS_PER_SEC, NULL,
      API_TEST_START_NS, lb_quota_cost (f->config, a->media_type, a->start_ns,
          a->start_ns + 60 * LB_NS_PER_SEC), &error);
  g_assert_no_error (error);
  lb_quota_get_usage (f->store, "acme", API_TEST_START_NS, &used, &reserved,
      &error);
  g_assert_cmpfloat_with_epsilon (used, 30, 1e-9);
  g_assert_cmpfloat_with_epsilon (reserved, 50, 1e-9);
  lb_store_api_finish_failed (f->store, b->id, "decoder exploded", &error);
  g_assert_no_error (error);
  lb_quota_get_usage (f->store, "acme", API_TEST_START_NS, &used, &reserved,
      &error);
  g_assert_cmpfloat_with_epsilon (used, 30, 1e-9);
  g_assert_cmpfloat_with_epsilon (reserved, 0, 1e-9);
  lb_retrieval_free (a);
  lb_retrieval_free (b);
}

/* 50 creates at once, from 50 client threads on their own connections,
 * against an allowance of 10 images: exactly 10 succeed. */
typedef struct
{
  ApiFixture *f;
  GMutex *lock;
  GCond *cond;
  gint *waiting;
  guint status;
} Racer;

static gpointer
racer (gpointer data)
{
  Racer *r = data;
  g_autoptr (SoupSession) session =
      soup_session_new_with_options ("timeout", 60, NULL);
  g_mutex_lock (r->lock);
  (*r->waiting)--;
  g_cond_broadcast (r->cond);
  while (*r->waiting > 0)
    g_cond_wait (r->cond, r->lock);
  g_mutex_unlock (r->lock);
  g_autoptr (ApiReply) reply = api_request_full (r->f, session, "POST",
      "/cameras/media/retrieval", r->f->token,
      "{\"vehicleId\": \"1234\", \"mediaType\": \"image\", \"startTime\": \""
      IMG "\", " "\"endTime\": \"" IMG
      "\", \"inputs\": [\"dashcamRoadFacing\"]}", NULL);
  r->status = reply->status;
  return NULL;
}

static void
test_quota_concurrent (ApiFixture * f, gconstpointer data)
{
  GMutex lock;
  GCond cond;
  gint waiting = 50;
  Racer racers[50];
  GThread *threads[50];

  g_mutex_init (&lock);
  g_cond_init (&cond);
  for (guint i = 0; i < 50; i++) {
    racers[i] = (Racer) {
    f, &lock, &cond, &waiting, 0};
    threads[i] = g_thread_new ("racer", racer, &racers[i]);
  }
  guint ok = 0, refused = 0;
  for (guint i = 0; i < 50; i++) {
    g_thread_join (threads[i]);
    if (racers[i].status == 200)
      ok++;
    else if (racers[i].status == 429)
      refused++;
  }
  g_assert_cmpuint (ok, ==, 10);
  g_assert_cmpuint (refused, ==, 40);
  gdouble used, reserved;
  g_autoptr (GError) error = NULL;
  lb_quota_get_usage (f->store, "acme", API_TEST_START_NS, &used, &reserved,
      &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (used + reserved, <=, 1.0 + 1e-9);
  g_assert_cmpint (count_rows (f), ==, 10);
  g_mutex_clear (&lock);
  g_cond_clear (&cond);
}

/* The books a create checks (kept by triggers) equal the sums over the rows
 * after inserts, claims, deliveries, failures and deletes. */
static void
assert_books_match (ApiFixture * f)
{
  sqlite3 *db;
  sqlite3_stmt *stmt;
  g_assert_cmpint (sqlite3_open (lb_store_get_path (f->store), &db), ==,
      SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db,
          "SELECT b.used, b.reserved,"
          "  (SELECT COALESCE (SUM (cost_committed), 0) FROM api_retrievals r"
          "    WHERE r.org = b.org AND r.period = b.period AND status = 'available'),"
          "  (SELECT COALESCE (SUM (cost_reserved), 0) FROM api_retrievals r"
          "    WHERE r.org = b.org AND r.period = b.period"
          "    AND status IN ('pending', 'running'))" " FROM api_quota_books b",
          -1, &stmt, NULL), ==, SQLITE_OK);
  guint n = 0;
  while (sqlite3_step (stmt) == SQLITE_ROW) {
    g_assert_cmpfloat_with_epsilon (sqlite3_column_double (stmt, 0),
        sqlite3_column_double (stmt, 2), 1e-9);
    g_assert_cmpfloat_with_epsilon (sqlite3_column_double (stmt, 1),
        sqlite3_column_double (stmt, 3), 1e-9);
    n++;
  }
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  g_assert_cmpuint (n, ==, 1);
}

static void
test_quota_books (ApiFixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  for (guint i = 0; i < 6; i++) {
    g_autoptr (ApiReply) r = create_image (f, f->token);
    g_assert_cmpuint (r->status, ==, 200);
  }
  assert_books_match (f);
  /* one runs, one fails, one is deferred, three are delivered */
  g_autoptr (LbRetrieval) a = NULL, b = NULL, c = NULL;
  gint64 now = lb_clock_now (f->clock);
  g_assert_true (lb_store_api_claim_next (f->store, now, &a, &error));
  g_assert_true (lb_store_api_claim_next (f->store, now, &b, &error));
  g_assert_true (lb_store_api_claim_next (f->store, now, &c, &error));
  g_assert_nonnull (c);
  assert_books_match (f);
  g_assert_true (lb_store_api_finish_failed (f->store, a->id, "no footage",
          &error));
  g_assert_true (lb_store_api_defer (f->store, b->id, now, &error));
  g_assert_no_error (error);
  assert_books_match (f);
  g_assert_cmpuint (api_make_available (f), >, 0);
  assert_books_match (f);
  /* as many more images fit as the exact sums leave room for */
  gdouble used, reserved;
  g_assert_true (lb_quota_get_usage (f->store, "acme", now, &used, &reserved,
          &error));
  guint room = (guint) ((1.0 - used - reserved) / 0.1 + 0.5);
  g_assert_cmpuint (room, >, 0);
  for (guint i = 0; i < room; i++) {
    g_autoptr (ApiReply) r = create_image (f, f->token);
    g_assert_cmpuint (r->status, ==, 200);
  }
  g_autoptr (ApiReply) over = create_image (f, f->token);
  api_assert_error (over, 429, "monthly quota is exhausted");
  /* a row deleted under the store (retention, a hand edit) leaves the books */
  sqlite3 *db;
  g_assert_cmpint (sqlite3_open (lb_store_get_path (f->store), &db), ==,
      SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db,
          "DELETE FROM api_retrievals WHERE id IN (SELECT id"
          " FROM api_retrievals WHERE status = 'pending' LIMIT 1)", NULL, NULL,
          NULL), ==, SQLITE_OK);
  sqlite3_close (db);
  assert_books_match (f);
  g_autoptr (ApiReply) again = create_image (f, f->token);
  g_assert_cmpuint (again->status, ==, 200);
  assert_books_match (f);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/api/rate/create-per-minute", ApiFixture, NULL,
      api_fixture_setup, test_rate_create, api_fixture_teardown);
  g_test_add ("/api/rate/reads-per-second", ApiFixture, NULL, api_fixture_setup,
      test_rate_reads, api_fixture_teardown);
  g_test_add ("/api/quota/month-rollover", ApiFixture, "[quota]\nallowance=1\n",
      api_fixture_setup, test_quota_month, api_fixture_teardown);
  g_test_add ("/api/quota/status-and-orgs", ApiFixture,
      "[quota]\nallowance=100\n[org big]\nallowance=1000\n", api_fixture_setup,
      test_quota_status_and_orgs, api_fixture_teardown);
  g_test_add ("/api/quota/costs-commit-refund", ApiFixture,
      "[quota]\nlow-res-weight=0.5\nhyperlapse-weight=0.1\n", api_fixture_setup,
      test_quota_costs, api_fixture_teardown);
  g_test_add ("/api/quota/concurrent-creates", ApiFixture,
      "[quota]\nallowance=1\n", api_fixture_setup, test_quota_concurrent,
      api_fixture_teardown);
  g_test_add ("/api/quota/books-follow-every-change", ApiFixture,
      "[quota]\nallowance=1\n", api_fixture_setup, test_quota_books,
      api_fixture_teardown);
  return g_test_run ();
}
