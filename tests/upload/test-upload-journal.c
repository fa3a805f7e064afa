/* lookback tests — the upload journal (store area 'upload') and the
 * uploader's pure helpers: templates, Retry-After, backoff, the sweep */
#include "store/lb-store-upload.h"
#include "store/lb-store-api.h"
#include "store/lb-store-private.h"
#include "upload/lb-uploader.h"
#include "core/lb-error.h"
#include "core/lb-time.h"
#include "lb-test-upload-util.h"
#include "lb-test-common.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <sqlite3.h>
#include <string.h>

typedef struct
{
  gchar *dir;
  gchar *db;
  LbStore *store;
} Fixture;

static void
setup (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  f->dir = g_dir_make_tmp ("lb-upload-journal-XXXXXX", &error);
  g_assert_no_error (error);
  f->db = g_build_filename (f->dir, "lookback.db", NULL);
  f->store = lb_store_open (f->db, LB_STORE_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
}

static void
teardown (Fixture * f, gconstpointer data)
{
  lb_store_free (f->store);
  lb_test_rm_rf (f->dir);
  g_free (f->dir);
  g_free (f->db);
}

/* A coverage manifest: requested 1000..2000 ns, delivered 1000..2000 ns,
 * and @n gaps of 10 ns from 1100 on. */
static LbCoverage *
coverage_with_gaps (guint n)
{
  LbCoverage *c = lb_coverage_new ();
  c->requested_start_ns = c->delivered_start_ns = 1000;
  c->requested_end_ns = c->delivered_end_ns = 2000;
  for (guint i = 0; i < n; i++) {
    LbTimeRange g = { 1100 + 100 * i, 1110 + 100 * i };
    g_array_append_val (c->gaps, g);
  }
  return c;
}

static void
assert_coverage_equal (const LbCoverage * a, const LbCoverage * b)
{
  g_assert_nonnull (a);
  g_assert_nonnull (b);
  g_assert_cmpint (a->requested_start_ns, ==, b->requested_start_ns);
  g_assert_cmpint (a->requested_end_ns, ==, b->requested_end_ns);
  g_assert_cmpint (a->delivered_start_ns, ==, b->delivered_start_ns);
  g_assert_cmpint (a->delivered_end_ns, ==, b->delivered_end_ns);
  g_assert_cmpmem (a->gaps->data, a->gaps->len * sizeof (LbTimeRange),
      b->gaps->data, b->gaps->len * sizeof (LbTimeRange));
  g_assert_cmpmem (a->unsynced->data, a->unsynced->len * sizeof (LbTimeRange),
      b->unsynced->data, b->unsynced->len * sizeof (LbTimeRange));
}

static gint64
enqueue (LbStore * store, const gchar * rid, const gchar * input,
    LbMediaType type, const gchar * path, gint64 now)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LbCoverage) coverage = coverage_with_gaps (0);
  LbUploadJob job = { rid, "veh 1", input, type, path, 1000, 2000, coverage };
  gint64 id = 0;
  g_assert_true (lb_store_upload_enqueue (store, &job, now, &id, &error));
  g_assert_no_error (error);
  g_assert_cmpint (id, >, 0);
  return id;
}

static void
test_enqueue_order (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gint64 t = 1700000000 * LB_NS_PER_SEC;

  gint64 h1 =
      enqueue (f->store, "r1", "dashcamRoadFacing", LB_MEDIA_TYPE_HYPERLAPSE,
      "out/1.mp4",
      t);
  gint64 v1 = enqueue (f->store, "r2", "dashcamRoadFacing",
      LB_MEDIA_TYPE_VIDEO_HIGH_RES, "out/2.mp4",
      t + 1);
  gint64 i1 = enqueue (f->store, "r3", "dashcamRoadFacing", LB_MEDIA_TYPE_IMAGE,
      "out/3.jpg",
      t + 2);
  gint64 v2 = enqueue (f->store, "r4", "analog1", LB_MEDIA_TYPE_VIDEO_LOW_RES,
      "out/4.mp4", t + 3);
  gint64 i2 =
      enqueue (f->store, "r5", "analog1", LB_MEDIA_TYPE_IMAGE, "out/5.jpg",
      t + 4);

  /* Idempotent: the same retrieval and input again is the same entry. */
  g_assert_cmpint (enqueue (f->store, "r2", "dashcamRoadFacing",
          LB_MEDIA_TYPE_VIDEO_HIGH_RES, "elsewhere.mp4", t + 99), ==, v1);

  g_autoptr (GPtrArray) all = lb_store_upload_list (f->store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (all->len, ==, 5);
  gint64 expect[] = { i1, i2, v1, v2, h1 };
  for (guint i = 0; i < 5; i++)
    g_assert_cmpint (((LbUploadEntry *) all->pdata[i])->id, ==, expect[i]);
  LbUploadEntry *e = all->pdata[2];
  g_assert_cmpstr (e->path, ==, "out/2.mp4");
  g_assert_cmpstr (e->vehicle, ==, "veh 1");
  g_assert_cmpint (e->priority, ==,
      lb_media_type_priority (LB_MEDIA_TYPE_VIDEO_HIGH_RES));
  g_assert_cmpint (e->delivered_start_ns, ==, 1000);
  g_autoptr (LbCoverage) no_gaps = coverage_with_gaps (0);
  assert_coverage_equal (e->coverage, no_gaps);
  g_assert_cmpint (e->state, ==, LB_UPLOAD_WAITING);

  /* next: the head; once postponed, the next one, and the wake-up time. */
  LbUploadEntry *n = NULL;
  gint64 next = -1;
  g_assert_true (lb_store_upload_next (f->store, t + 10, 0, &n, &next, &error));
  g_assert_nonnull (n);
  g_assert_cmpint (n->id, ==, i1);
  g_assert_cmpint (next, ==, 0);
  lb_upload_entry_free (n);

  g_assert_true (lb_store_upload_retry_later (f->store, i1, t + 500, "HTTP 503",
          &error));
  g_assert_true (lb_store_upload_next (f->store, t + 10, 0, &n, &next, &error));
  g_assert_cmpint (n->id, ==, i2);
  g_assert_cmpint (next, ==, t + 500);
  lb_upload_entry_free (n);
  g_assert_true (lb_store_upload_next (f->store, t + 500, 0, &n, &next,
          &error));
  g_assert_cmpint (n->id, ==, i1);
  g_assert_cmpint (n->attempts, ==, 1);
  g_assert_cmpstr (n->last_error, ==, "HTTP 503");
  lb_upload_entry_free (n);
  /* Excluding the head gives the one after it. */
  g_assert_true (lb_store_upload_next (f->store, t + 500, i1, &n, NULL,
          &error));
  g_assert_cmpint (n->id, ==, i2);
  lb_upload_entry_free (n);
  /* A restart makes every wait due now. */
  g_assert_true (lb_store_upload_retry_later (f->store, v1, t + 9000, "x",
          &error));
  guint reset = 0;
  g_assert_true (lb_store_upload_reset_waits (f->store, t + 500, &reset,
          &error));
  g_assert_cmpuint (reset, ==, 1);
  g_assert_true (lb_store_upload_next (f->store, t + 500, 0, &n, &next,
          &error));
  g_assert_cmpint (n->id, ==, i1);
  g_assert_cmpint (next, ==, 0);
  lb_upload_entry_free (n);

  /* done and failed leave the queue. */
  g_assert_true (lb_store_upload_done (f->store, i1, t + 600, 1234, "abcd",
          NULL, &error));
  g_assert_true (lb_store_upload_fail (f->store, i2, t + 601, "HTTP 403: no",
          &error));
  g_assert_false (lb_store_upload_done (f->store, i1, t + 600, 1, "x", NULL,
          &error));
  g_assert_error (error, LB_ERROR, LB_ERROR_NOT_FOUND);
  g_clear_error (&error);

  LbUploadCounts c;
  g_assert_true (lb_store_upload_counts (f->store, &c, &error));
  g_assert_cmpuint (c.waiting, ==, 3);
  g_assert_cmpuint (c.done, ==, 1);
  g_assert_cmpuint (c.failed, ==, 1);
  g_assert_cmpint (c.bytes_uploaded, ==, 1234);
  g_assert_cmpint (c.oldest_waiting_ns, ==, t);

  g_assert_true (lb_store_upload_next (f->store, t + 700, 0, &n, NULL, &error));
  g_assert_cmpint (n->id, ==, v1);
  lb_upload_entry_free (n);

  /* Everything survives a restart. */
  lb_store_free (f->store);
  f->store = lb_store_open (f->db, LB_STORE_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
  g_autoptr (LbUploadEntry) d =
      lb_store_upload_find (f->store, "r3", "dashcamRoadFacing", &error);
  g_assert_no_error (error);
  g_assert_cmpint (d->state, ==, LB_UPLOAD_DONE);
  g_assert_cmpint (d->bytes, ==, 1234);
  g_assert_cmpstr (d->sha256, ==, "abcd");
  g_assert_cmpint (d->uploaded_ns, ==, t + 600);
  g_autoptr (LbUploadEntry) fl = lb_store_upload_get (f->store, i2, &error);
  g_assert_cmpint (fl->state, ==, LB_UPLOAD_FAILED);
  g_assert_cmpstr (fl->last_error, ==, "HTTP 403: no");
  g_assert_null (lb_store_upload_find (f->store, "nope", "analog1", &error));
  g_assert_error (error, LB_ERROR, LB_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_true (lb_store_upload_next (f->store, t + 700, 0, &n, NULL, &error));
  g_assert_cmpint (n->id, ==, v1);
  lb_upload_entry_free (n);
  g_assert_cmpint (lb_store_schema_version (f->store, "upload"), ==, 2);
}

/* A store function of another area holding the lock and a transaction can
 * queue an entry inside it: it commits or rolls back with the caller's work. */
static void
test_enqueue_joins_transaction (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  LbUploadJob job =
      { "rx", "v", "analog2", LB_MEDIA_TYPE_IMAGE, "x.jpg", LB_TIME_NONE,
    LB_TIME_NONE,
    NULL
  };

  LB_STORE_LOCK (f->store);
  g_assert_true (lb_store_begin (f->store, &error));
  g_assert_true (lb_store_upload_enqueue (f->store, &job, 5, NULL, &error));
  g_assert_no_error (error);
  lb_store_rollback (f->store);
  LB_STORE_UNLOCK (f->store);
  g_assert_null (lb_store_upload_find (f->store, "rx", "analog2", NULL));

  LB_STORE_LOCK (f->store);
  g_assert_true (lb_store_begin (f->store, &error));
  g_assert_true (lb_store_upload_enqueue (f->store, &job, 5, NULL, &error));
  g_assert_true (lb_store_commit (f->store, &error));
  LB_STORE_UNLOCK (f->store);
  g_autoptr (LbUploadEntry) e =
      lb_store_upload_find (f->store, "rx", "analog2", &error);
  g_assert_no_error (error);
  g_assert_cmpint (e->delivered_start_ns, ==, LB_TIME_NONE);
  g_assert_null (e->coverage);
}

static void
test_template (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *u =
      lb_upload_expand_template
      ("https://h.example/b/{vehicleId}/{retrievalId}-{input}.{ext}?t={mediaType}",
      "veh/1 ä", "2308cec4", "analog1", "image", "jpg", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (u, ==,
      "https://h.example/b/veh%2F1%20%C3%A4/2308cec4-analog1.jpg?t=image");

  g_assert_null (lb_upload_expand_template ("http://h/{vehicle}", "v", "r", "i",
          "m", "e", &error));
  g_assert_error (error, LB_ERROR, LB_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "{vehicle}"));
  g_clear_error (&error);
  g_assert_null (lb_upload_expand_template ("http://h/{input", "v", "r", "i",
          "m", "e", &error));
  g_assert_error (error, LB_ERROR, LB_ERROR_CONFIG);
}

static void
test_retry_after (void)
{
  gint64 d = -1;
  gint64 now = 1445412480 * LB_NS_PER_SEC;      /* Wed, 21 Oct 2015 07:28:00 GMT */
  g_assert_true (lb_upload_parse_retry_after ("120", now, &d));
  g_assert_cmpint (d, ==, 120 * LB_NS_PER_SEC);
  g_assert_true (lb_upload_parse_retry_after (" 0.5 ", now, &d));
  g_assert_cmpint (d, ==, LB_NS_PER_SEC / 2);
  g_assert_true (lb_upload_parse_retry_after ("Wed, 21 Oct 2015 07:28:30 GMT",
          now, &d));
  g_assert_cmpint (d, ==, 30 * LB_NS_PER_SEC);
  g_assert_true (lb_upload_parse_retry_after ("Wed, 21 Oct 2015 07:00:00 GMT",
          now, &d));
  g_assert_cmpint (d, ==, 0);
  g_assert_false (lb_upload_parse_retry_after ("soon", now, &d));
  g_assert_false (lb_upload_parse_retry_after ("-3", now, &d));
  g_assert_false (lb_upload_parse_retry_after (NULL, now, &d));
}

static void
test_backoff (void)
{
  gint64 min = 100 * LB_NS_PER_MS, max = 1000 * LB_NS_PER_MS;
  /* Upper half of min·2^(n-1), capped. */
  g_assert_cmpint (lb_upload_backoff (min, max, 1, 0.0), ==, min);
  g_assert_cmpint (lb_upload_backoff (min, max, 1, 1.0), ==, min);
  g_assert_cmpint (lb_upload_backoff (min, max, 3, 0.0), ==,
      200 * LB_NS_PER_MS);
  g_assert_cmpint (lb_upload_backoff (min, max, 3, 1.0), ==,
      400 * LB_NS_PER_MS);
  g_assert_cmpint (lb_upload_backoff (min, max, 30, 1.0), ==, max);
  g_assert_cmpint (lb_upload_backoff (min, max, 30, 0.0), ==, max / 2);
  for (guint n = 1; n < 100; n++) {
    gint64 b = lb_upload_backoff (min, max, n, g_random_double ());
    g_assert_cmpint (b, >=, min);
    g_assert_cmpint (b, <=, max);
  }
  g_assert_cmpstr (lb_upload_content_type ("jpg"), ==, "image/jpeg");
  g_assert_cmpstr (lb_upload_content_type ("MP4"), ==, "video/mp4");
  g_assert_cmpstr (lb_upload_content_type (""), ==, "application/octet-stream");
}

static void
test_config_checked (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LbConfig) none = lb_test_upload_config (f->dir, "");
  g_assert_false (lb_uploader_enabled (none));
  g_assert_null (lb_uploader_new (none, f->store, &error));
  g_assert_error (error, LB_ERROR, LB_ERROR_CONFIG);
  g_clear_error (&error);

  g_autoptr (LbConfig) bad =
      lb_test_upload_config (f->dir, "ftp://h/{retrievalId}");
  g_assert_null (lb_uploader_new (bad, f->store, &error));
  g_assert_error (error, LB_ERROR, LB_ERROR_CONFIG);
  g_clear_error (&error);

  g_autoptr (LbConfig) unk = lb_test_upload_config (f->dir, "http://h/{id}");
  g_assert_null (lb_uploader_new (unk, f->store, &error));
  g_assert_error (error, LB_ERROR, LB_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "url-template"));
  g_clear_error (&error);

  g_autoptr (LbConfig) ok =
      lb_test_upload_config (f->dir, "http://h/{retrievalId}");
  g_assert_true (lb_uploader_enabled (ok));
  g_autoptr (LbUploader) up = lb_uploader_new (ok, f->store, &error);
  g_assert_no_error (error);
  g_assert_nonnull (up);
}

/* Done outputs are deleted [upload] keep (1h here) after their upload;
 * waiting ones never. */
static void
test_sweep (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gint64 now = 1700000000 * LB_NS_PER_SEC;
  const gchar *names[] = { "old.jpg", "recent.jpg", "waiting.jpg" };
  g_autofree gchar *outdir = g_build_filename (f->dir, "outputs", NULL);
  g_mkdir (outdir, 0755);
  gint64 ids[3];
  for (guint i = 0; i < 3; i++) {
    g_autofree gchar *rel = g_build_filename ("outputs", names[i], NULL);
    g_autofree gchar *abs = g_build_filename (f->dir, rel, NULL);
    g_free (lb_test_make_file (abs, 100, i));
    g_autofree gchar *rid = g_strdup_printf ("r%u", i);
    ids[i] =
        enqueue (f->store, rid, "analog1", LB_MEDIA_TYPE_IMAGE,
        i == 0 ? abs : rel, now);
  }
  g_assert_true (lb_store_upload_done (f->store, ids[0],
          now - 2 * 3600 * LB_NS_PER_SEC, 100, "a", NULL, &error));
  g_assert_true (lb_store_upload_done (f->store, ids[1],
          now - 1800 * LB_NS_PER_SEC, 100, "b", NULL, &error));

  g_autoptr (LbConfig) config =
      lb_test_upload_config (f->dir, "http://h/{retrievalId}");
  g_autoptr (LbUploader) up = lb_uploader_new (config, f->store, &error);
  g_assert_no_error (error);
  guint deleted = 99;
  g_assert_true (lb_uploader_sweep (up, now, &deleted, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (deleted, ==, 1);
  for (guint i = 0; i < 3; i++) {
    g_autofree gchar *abs = g_build_filename (outdir, names[i], NULL);
    g_assert_cmpint (g_file_test (abs, G_FILE_TEST_EXISTS), ==, i != 0);
  }
  g_autoptr (LbUploadEntry) e = lb_store_upload_get (f->store, ids[0], &error);
  g_assert_true (e->file_deleted);
  /* Nothing more to do now; an hour later the second goes too. */
  g_assert_true (lb_uploader_sweep (up, now, &deleted, &error));
  g_assert_cmpuint (deleted, ==, 0);
  g_assert_true (lb_uploader_sweep (up, now + 3600 * LB_NS_PER_SEC, &deleted,
          &error));
  g_assert_cmpuint (deleted, ==, 1);
  g_autofree gchar *w = g_build_filename (outdir, "waiting.jpg", NULL);
  g_assert_true (g_file_test (w, G_FILE_TEST_EXISTS));
}


static gint64
make_row (LbStore * store, const gchar * rid, const gchar * input,
    LbMediaType type, gdouble cost)
{
  return lb_test_pending_row (store, rid, "veh 1", input, type, 1000,
      type == LB_MEDIA_TYPE_IMAGE ? 1000 : 1000 + 10 * LB_NS_PER_SEC, cost);
}

/* With webhooks on, a row's end and its event are one transaction: rolled
 * back together, committed together. */
static void
test_event_joins_transaction (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  LbUploadCounts c;

  lb_store_upload_set_webhooks (f->store, TRUE);
  gint64 row = make_row (f->store, "re", "analog1", LB_MEDIA_TYPE_IMAGE, 0.1);
  LB_STORE_LOCK (f->store);
  g_assert_true (lb_store_begin (f->store, &error));
  g_assert_true (lb_store_api_finish_failed (f->store, row, "no luck", &error));
  lb_store_rollback (f->store);
  LB_STORE_UNLOCK (f->store);
  g_assert_true (lb_store_upload_counts_kind (f->store,
          LB_UPLOAD_KIND_WEBHOOK, &c, &error));
  g_assert_cmpuint (c.waiting, ==, 0);
  g_autoptr (LbRetrieval) r = NULL;
  g_assert_true (lb_store_api_get (f->store, row, &r, &error));
  g_assert_cmpint (r->status, ==, LB_RETRIEVAL_PENDING);

  g_assert_true (lb_store_api_finish_failed (f->store, row, "no luck", &error));
  g_assert_true (lb_store_upload_counts_kind (f->store,
          LB_UPLOAD_KIND_WEBHOOK, &c, &error));
  g_assert_cmpuint (c.waiting, ==, 1);
  g_assert_true (lb_store_upload_counts (f->store, &c, &error));
  g_assert_cmpuint (c.waiting, ==, 0);
}

static void
assert_books (LbStore * store, gdouble used, gdouble reserved)
{
  g_autoptr (GError) error = NULL;
  gdouble u = -1, r = -1;
  g_assert_true (lb_store_api_quota_usage (store, "acme", "2026-11", &u, &r,
          &error));
  g_assert_cmpfloat_with_epsilon (u, used, 1e-9);
  g_assert_cmpfloat_with_epsilon (r, reserved, 1e-9);
}

/* With the 'api' area's rows: queued = pending and never claimed again;
 * uploaded = available + cost committed; refused = failed + refunded; each
 * in the journal's transaction. */
static void
test_retrieval_rows (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gint64 now = lb_time_now ();
  gint64 a = make_row (f->store, "ra", "analog1", LB_MEDIA_TYPE_IMAGE, 0.1);
  gint64 b =
      make_row (f->store, "rb", "analog1", LB_MEDIA_TYPE_VIDEO_HIGH_RES, 10);
  assert_books (f->store, 0, 10.1);

  LbRetrieval *claimed = NULL;
  g_assert_true (lb_store_api_claim_next (f->store, now, &claimed, &error));
  g_assert_cmpint (claimed->id, ==, a);
  g_clear_pointer (&claimed, lb_retrieval_free);

  g_autoptr (LbCoverage) gaps = coverage_with_gaps (2);
  LbUploadJob ja =
      { "ra", "veh 1", "analog1", LB_MEDIA_TYPE_IMAGE, "out/a.jpg", 1000, 1000,
    gaps, a, "image/jpeg", 0.1
  };
  g_assert_true (lb_store_upload_enqueue (f->store, &ja, now, NULL, &error));
  g_assert_no_error (error);
  g_autoptr (LbRetrieval) ra = NULL;
  g_assert_true (lb_store_api_get (f->store, a, &ra, &error));
  g_assert_cmpint (ra->status, ==, LB_RETRIEVAL_PENDING);
  g_assert_cmpfloat (ra->progress, ==, 1.0);
  /* Not run again: the next claim is b, then nothing; a restart does not
   * requeue it either. */
  g_assert_true (lb_store_api_claim_next (f->store, now + LB_NS_PER_SEC,
          &claimed, &error));
  g_assert_cmpint (claimed->id, ==, b);
  g_clear_pointer (&claimed, lb_retrieval_free);
  g_assert_true (lb_store_api_claim_next (f->store, now + 3600 * LB_NS_PER_SEC,
          &claimed, &error));
  g_assert_null (claimed);
  guint requeued = 99;
  g_assert_true (lb_store_api_requeue_running (f->store, &requeued, &error));
  g_assert_cmpuint (requeued, ==, 1);   /* b, which was running */
  assert_books (f->store, 0, 10.1);

  g_autoptr (LbUploadEntry) ea =
      lb_store_upload_find (f->store, "ra", "analog1", &error);
  g_assert_cmpint (ea->retrieval_row, ==, a);
  g_assert_true (lb_store_upload_done (f->store, ea->id, now + 5, 1234, "ab",
          "https://cdn/a.jpg", &error));
  g_assert_no_error (error);
  g_clear_pointer (&ra, lb_retrieval_free);
  g_assert_true (lb_store_api_get (f->store, a, &ra, &error));
  g_assert_cmpint (ra->status, ==, LB_RETRIEVAL_AVAILABLE);
  g_assert_cmpstr (ra->output_path, ==, "out/a.jpg");
  g_assert_cmpstr (ra->content_type, ==, "image/jpeg");
  assert_coverage_equal (ra->coverage, gaps);
  g_assert_cmpint (ra->delivered_start_ns, ==, 1000);
  g_assert_cmpint (ra->available_ns, ==, now + 5);
  g_assert_cmpfloat_with_epsilon (ra->cost_committed, 0.1, 1e-9);
  assert_books (f->store, 0.1, 10);
  g_autofree gchar *url = lb_store_upload_public_url (f->store, a, &error);
  g_assert_cmpstr (url, ==, "https://cdn/a.jpg");
  g_autofree gchar *no_url = lb_store_upload_public_url (f->store, b, &error);
  g_assert_null (no_url);
  g_assert_no_error (error);

  /* A finished row cannot be queued: nothing changes. */
  LbUploadJob again =
      { "ra", "veh 1", "analog2", LB_MEDIA_TYPE_IMAGE, "out/a2.jpg", 1000, 1000,
    NULL,
    a, "image/jpeg", 0.1
  };
  g_assert_false (lb_store_upload_enqueue (f->store, &again, now, NULL,
          &error));
  g_assert_error (error, LB_ERROR, LB_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (lb_store_upload_find (f->store, "ra", "analog2", NULL));

  /* b: queued, then refused by the endpoint: failed, refunded. */
  LbUploadJob jb =
      { "rb", "veh 1", "analog1", LB_MEDIA_TYPE_VIDEO_HIGH_RES, "out/b.mp4",
    1000,
    1000 + 10 * LB_NS_PER_SEC, NULL, b, "video/mp4", 10
  };
  gint64 eb = 0;
  g_assert_true (lb_store_upload_enqueue (f->store, &jb, now, &eb, &error));
  g_assert_true (lb_store_upload_fail (f->store, eb, now + 6,
          "cloud endpoint answered HTTP 403 Forbidden: no such bucket",
          &error));
  g_assert_no_error (error);
  g_autoptr (LbRetrieval) rb = NULL;
  g_assert_true (lb_store_api_get (f->store, b, &rb, &error));
  g_assert_cmpint (rb->status, ==, LB_RETRIEVAL_FAILED);
  g_assert_cmpstr (rb->failure_reason, ==,
      "cloud endpoint answered HTTP 403 Forbidden: no such bucket");
  assert_books (f->store, 0.1, 0);

  /* A row finished by someone else meanwhile: the entry still ends (it is
   * not uploaded forever) and the row keeps its state. */
  gint64 c = make_row (f->store, "rc", "analog4", LB_MEDIA_TYPE_IMAGE, 0.1);
  LbUploadJob jc =
      { "rc", "veh 1", "analog4", LB_MEDIA_TYPE_IMAGE, "out/c.jpg", 1000, 1000,
    NULL, c,
    "image/jpeg", 0.1
  };
  gint64 ec = 0;
  g_assert_true (lb_store_upload_enqueue (f->store, &jc, now, &ec, &error));
  g_assert_true (lb_store_api_finish_failed (f->store, c, "cancelled", &error));
  g_assert_true (lb_store_upload_done (f->store, ec, now + 7, 10, "cd", NULL,
          &error));
  g_assert_no_error (error);
  g_autoptr (LbRetrieval) rc = NULL;
  g_assert_true (lb_store_api_get (f->store, c, &rc, &error));
  g_assert_cmpint (rc->status, ==, LB_RETRIEVAL_FAILED);
  g_autoptr (LbUploadEntry) ecd = lb_store_upload_get (f->store, ec, &error);
  g_assert_cmpint (ecd->state, ==, LB_UPLOAD_DONE);
}

/* The job engine's one call: no url-template = available at once (cost
 * committed, nothing queued); with one = queued, row held pending. */
static void
test_finish_job (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gint64 now = lb_time_now ();
  gint64 a =
      make_row (f->store, "ra", "analog1", LB_MEDIA_TYPE_VIDEO_LOW_RES, 2.5);
  gint64 b = make_row (f->store, "rb", "analog1", LB_MEDIA_TYPE_IMAGE, 0.1);

  g_autoptr (LbConfig) local = lb_test_upload_config (f->dir, "");
  LbUploadJob ja =
      { "ra", "veh 1", "analog1", LB_MEDIA_TYPE_VIDEO_LOW_RES, "out/a.mp4",
    1000, 5000,
    NULL, a, "video/mp4", 2.0
  };
  g_assert_true (lb_upload_finish_job (local, f->store, NULL, &ja, now,
          &error));
  g_assert_no_error (error);
  g_autoptr (LbRetrieval) ra = NULL;
  g_assert_true (lb_store_api_get (f->store, a, &ra, &error));
  g_assert_cmpint (ra->status, ==, LB_RETRIEVAL_AVAILABLE);
  g_assert_cmpstr (ra->output_path, ==, "out/a.mp4");
  g_assert_cmpint (ra->available_ns, ==, now);
  g_assert_null (lb_store_upload_find (f->store, "ra", "analog1", NULL));
  assert_books (f->store, 2.0, 0.1);

  g_autoptr (LbConfig) cloud =
      lb_test_upload_config (f->dir, "http://h/{retrievalId}");
  LbUploadJob jb =
      { "rb", "veh 1", "analog1", LB_MEDIA_TYPE_IMAGE, "out/b.jpg", 1000, 1000,
    NULL, b, "image/jpeg", 0.1
  };
  g_assert_true (lb_upload_finish_job (cloud, f->store, NULL, &jb, now,
          &error));
  g_assert_no_error (error);
  g_autoptr (LbRetrieval) rb = NULL;
  g_assert_true (lb_store_api_get (f->store, b, &rb, &error));
  g_assert_cmpint (rb->status, ==, LB_RETRIEVAL_PENDING);
  g_autoptr (LbUploadEntry) e =
      lb_store_upload_find (f->store, "rb", "analog1", &error);
  g_assert_no_error (error);
  g_assert_cmpint (e->state, ==, LB_UPLOAD_WAITING);
  g_assert_cmpint (e->retrieval_row, ==, b);
  assert_books (f->store, 2.0, 0.1);

  /* Upload switched off later: the waiting entry is released at start, the
   * retrieval served by the box; nothing happens while upload is on. */
  guint released = 99;
  g_assert_true (lb_upload_release_if_disabled (cloud, f->store, &released,
          &error));
  g_assert_cmpuint (released, ==, 0);
  g_assert_true (lb_upload_release_if_disabled (local, f->store, &released,
          &error));
  g_assert_no_error (error);
  g_assert_cmpuint (released, ==, 1);
  g_clear_pointer (&rb, lb_retrieval_free);
  g_assert_true (lb_store_api_get (f->store, b, &rb, &error));
  g_assert_cmpint (rb->status, ==, LB_RETRIEVAL_AVAILABLE);
  g_assert_cmpstr (rb->output_path, ==, "out/b.jpg");
  assert_books (f->store, 2.1, 0);
  g_clear_pointer (&e, lb_upload_entry_free);
  e = lb_store_upload_find (f->store, "rb", "analog1", &error);
  g_assert_cmpint (e->state, ==, LB_UPLOAD_RELEASED);
  LbUploadCounts c;
  g_assert_true (lb_store_upload_counts (f->store, &c, &error));
  g_assert_cmpuint (c.waiting + c.done + c.failed, ==, 0);
}

gboolean lb_cli_uploads (LbConfig * config, gint argc, gchar ** argv,
    GString * out, GError ** error);

/* `lookback uploads`: figures, then waiting and failed entries (--all: done too). */
/* The store keeps the coverage manifest at nanosecond precision, and
 * reads the rows the first wave wrote (the API's JSON text) as well. */
static void
test_coverage_kept (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gint64 a = make_row (f->store, "ra", "analog1", LB_MEDIA_TYPE_IMAGE, 0.1);
  gint64 b = make_row (f->store, "rb", "analog2", LB_MEDIA_TYPE_IMAGE, 0.1);
  g_autoptr (LbCoverage) c = coverage_with_gaps (3);
  c->delivered_start_ns = 1001; /* a nanosecond after the request */
  LbTimeRange unsynced = { 1500, 2000 };        /* clock not synchronised */
  g_array_append_val (c->unsynced, unsynced);
  g_assert_true (lb_store_api_finish_available (f->store, a, "a.jpg",
          "image/jpeg", 1001, 2000, c, 5, 0.1, &error));
  g_autoptr (LbRetrieval) ra = NULL;
  g_assert_true (lb_store_api_get (f->store, a, &ra, &error));
  assert_coverage_equal (ra->coverage, c);

  g_assert_true (lb_store_api_finish_available (f->store, b, "b.jpg",
          "image/jpeg", 1000, 2000, NULL, 5, 0.1, &error));
  LB_STORE_LOCK (f->store);
  g_autofree gchar *sql = g_strdup_printf ("UPDATE api_retrievals SET coverage"
      " = '{\"requestedStartTime\": \"2019-06-13T19:08:25Z\", "
      "\"requestedEndTime\": \"2019-06-13T19:08:55Z\", "
      "\"deliveredStartTime\": \"2019-06-13T19:08:24.5Z\", "
      "\"deliveredEndTime\": \"2019-06-13T19:08:55Z\", \"offsetMs\": -500, "
      "\"gaps\": [{\"startTime\": \"2019-06-13T19:08:30Z\", "
      "\"endTime\": \"2019-06-13T19:08:31.25Z\"}]}' WHERE id = %"
      G_GINT64_FORMAT, b);
  g_assert_true (lb_store_exec (f->store, sql, &error));
  LB_STORE_UNLOCK (f->store);
  g_autoptr (LbRetrieval) rb = NULL;
  g_assert_true (lb_store_api_get (f->store, b, &rb, &error));
  g_assert_no_error (error);
  g_assert_nonnull (rb->coverage);
  const gint64 t = G_GINT64_CONSTANT (1560452905) * LB_NS_PER_SEC;
  g_assert_cmpint (rb->coverage->requested_start_ns, ==, t);
  g_assert_cmpint (rb->coverage->requested_end_ns, ==, t + 30 * LB_NS_PER_SEC);
  g_assert_cmpint (rb->coverage->delivered_start_ns, ==,
      t - 500 * LB_NS_PER_MS);
  g_assert_cmpuint (rb->coverage->gaps->len, ==, 1);
  LbTimeRange *g = &g_array_index (rb->coverage->gaps, LbTimeRange, 0);
  g_assert_cmpint (g->start_ns, ==, t + 5 * LB_NS_PER_SEC);
  g_assert_cmpint (g->end_ns, ==, t + 6250 * LB_NS_PER_MS);
}

static void
test_cli (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gint64 t = 1700000000 * LB_NS_PER_SEC;
  gint64 a =
      enqueue (f->store, "ra", "analog1", LB_MEDIA_TYPE_IMAGE, "out/a.jpg", t);
  gint64 b = enqueue (f->store, "rb", "analog1", LB_MEDIA_TYPE_VIDEO_HIGH_RES,
      "out/b.mp4", t + 1);
  enqueue (f->store, "rc", "analog1", LB_MEDIA_TYPE_HYPERLAPSE, "out/c.mp4",
      t + 2);
  g_assert_true (lb_store_upload_done (f->store, a, t + 5, 77, "x", NULL,
          &error));
  g_assert_true (lb_store_upload_fail (f->store, b, t + 6, "HTTP 403 Forbidden",
          &error));

  g_autoptr (LbConfig) config =
      lb_test_upload_config (f->dir, "http://h/{retrievalId}");
  gchar *args[] = { (gchar *) "uploads", NULL };
  g_autoptr (GString) out = g_string_new (NULL);
  g_assert_true (lb_cli_uploads (config, 1, args, out, &error));
  g_assert_no_error (error);
  g_test_message ("%s", out->str);
  g_assert_nonnull (strstr (out->str, "upload to: put http://h/{retrievalId}"));
  g_assert_nonnull (strstr (out->str,
          "waiting 1 (oldest queued 2023-11-14T22:13:20"));
  g_assert_nonnull (strstr (out->str, "done 1, failed 1, 77 bytes uploaded"));
  g_assert_nonnull (strstr (out->str, "failed  2 rb analog1 videoHighRes"));
  g_assert_nonnull (strstr (out->str, "HTTP 403 Forbidden"));
  g_assert_nonnull (strstr (out->str, "waiting 3 rc"));
  g_assert_null (strstr (out->str, " ra "));

  gchar *args_all[] = { (gchar *) "uploads", (gchar *) "--all", NULL };
  g_string_truncate (out, 0);
  g_assert_true (lb_cli_uploads (config, 2, args_all, out, &error));
  g_assert_nonnull (strstr (out->str, "done    1 ra analog1 image out/a.jpg"));

  gchar *bad[] = { (gchar *) "uploads", (gchar *) "--nope", NULL };
  g_assert_false (lb_cli_uploads (config, 2, bad, out, &error));
  g_assert_error (error, LB_ERROR, LB_ERROR_INVALID);
}

/* Sessions and parts of resumable uploads: recorded, read back in order,
 * forgotten with their session; only for a waiting entry. */
static void
test_session_parts (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gint64 id = enqueue (f->store, "r1", "analog1", LB_MEDIA_TYPE_HYPERLAPSE,
      "out/1.mp4", 1000);
  g_assert_true (lb_store_upload_set_session (f->store, id, "upload-1", 0,
          &error));
  LbUploadPart p2 = { 2, (gchar *) "\"b\"", 5, (gchar *) "bb" };
  LbUploadPart p1 = { 1, (gchar *) "\"a\"", 5, (gchar *) "aa" };
  g_assert_true (lb_store_upload_add_part (f->store, id, &p2, 5, &error));
  g_assert_true (lb_store_upload_add_part (f->store, id, &p1, 10, &error));
  g_autoptr (LbUploadEntry) e = lb_store_upload_get (f->store, id, &error);
  g_assert_cmpstr (e->session, ==, "upload-1");
  g_assert_cmpint (e->acked, ==, 10);
  g_assert_cmpint (e->kind, ==, LB_UPLOAD_KIND_MEDIA);
  g_autoptr (GArray) parts = lb_store_upload_parts (f->store, id, &error);
  g_assert_cmpuint (parts->len, ==, 2);
  g_assert_cmpint (g_array_index (parts, LbUploadPart, 0).number, ==, 1);
  g_assert_cmpstr (g_array_index (parts, LbUploadPart, 1).etag, ==, "\"b\"");

  /* the session is gone: so are its parts */
  g_assert_true (lb_store_upload_set_session (f->store, id, NULL, 0, &error));
  g_autoptr (GArray) none = lb_store_upload_parts (f->store, id, &error);
  g_assert_cmpuint (none->len, ==, 0);

  g_assert_true (lb_store_upload_done (f->store, id, 2000, 10, "x", NULL,
          &error));
  g_assert_false (lb_store_upload_set_session (f->store, id, "late", 1,
          &error));
  g_assert_error (error, LB_ERROR, LB_ERROR_NOT_FOUND);
}

/* A store of schema 'upload' version 1 with an entry: version 2 keeps it
 * (a media entry, no session). */
static void
test_migrate_v1 (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lb-upload-v1-XXXXXX", NULL);
  g_autofree gchar *db = g_build_filename (dir, "lookback.db", NULL);
  sqlite3 *raw = NULL;
  g_assert_cmpint (sqlite3_open (db, &raw), ==, SQLITE_OK);
  const gchar *v1 =
      "CREATE TABLE schema_version (area TEXT PRIMARY KEY, version INTEGER NOT NULL);"
      "INSERT INTO schema_version VALUES ('upload', 1);"
      "CREATE TABLE upload_journal (id INTEGER PRIMARY KEY, retrieval_id TEXT NOT NULL,"
      " vehicle TEXT NOT NULL, input TEXT NOT NULL, media_type TEXT NOT NULL,"
      " path TEXT NOT NULL, priority INTEGER NOT NULL, state INTEGER NOT NULL DEFAULT 0,"
      " attempts INTEGER NOT NULL DEFAULT 0, created_ns INTEGER NOT NULL,"
      " next_attempt_ns INTEGER NOT NULL, uploaded_ns INTEGER NOT NULL DEFAULT 0,"
      " bytes INTEGER NOT NULL DEFAULT 0, sha256 TEXT, public_url TEXT, last_error TEXT,"
      " delivered_start_ns INTEGER, delivered_end_ns INTEGER, coverage_json TEXT,"
      " file_deleted INTEGER NOT NULL DEFAULT 0, retrieval_row INTEGER, content_type TEXT,"
      " cost REAL NOT NULL DEFAULT 0, UNIQUE (retrieval_id, input));"
      "CREATE INDEX upload_journal_order ON upload_journal (state, priority, created_ns, id);"
      "CREATE INDEX upload_journal_uploaded ON upload_journal (state, file_deleted, uploaded_ns);"
      "INSERT INTO upload_journal (retrieval_id, vehicle, input, media_type, path,"
      " priority, created_ns, next_attempt_ns, attempts) VALUES ('r-old', 'v', 'analog1',"
      " 'image', 'out/old.jpg', 0, 5, 5, 3);";
  g_assert_cmpint (sqlite3_exec (raw, v1, NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (raw);

  g_autoptr (GError) error = NULL;
  LbStore *store = lb_store_open (db, LB_STORE_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
  g_assert_cmpint (lb_store_schema_version (store, "upload"), ==, 2);
  g_autoptr (LbUploadEntry) e = lb_store_upload_find (store, "r-old",
      "analog1", &error);
  g_assert_no_error (error);
  g_assert_cmpint (e->attempts, ==, 3);
  g_assert_cmpint (e->kind, ==, LB_UPLOAD_KIND_MEDIA);
  g_assert_null (e->session);
  lb_store_free (store);
  lb_test_rm_rf (dir);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/upload/journal/enqueue-order-restart", Fixture, NULL, setup,
      test_enqueue_order, teardown);
  g_test_add ("/upload/journal/joins-transaction", Fixture, NULL, setup,
      test_enqueue_joins_transaction, teardown);
  g_test_add ("/upload/journal/event-joins-transaction", Fixture, NULL,
      setup, test_event_joins_transaction, teardown);
  g_test_add ("/upload/journal/config-checked", Fixture, NULL, setup,
      test_config_checked, teardown);
  g_test_add ("/upload/journal/retrieval-rows", Fixture, NULL, setup,
      test_retrieval_rows, teardown);
  g_test_add ("/upload/journal/finish-job", Fixture, NULL, setup,
      test_finish_job, teardown);
  g_test_add ("/upload/journal/coverage-kept", Fixture, NULL, setup,
      test_coverage_kept, teardown);
  g_test_add ("/upload/journal/cli", Fixture, NULL, setup, test_cli, teardown);
  g_test_add ("/upload/journal/session-parts", Fixture, NULL, setup,
      test_session_parts, teardown);
  g_test_add_func ("/upload/journal/migrate-v1", test_migrate_v1);
  g_test_add ("/upload/journal/sweep", Fixture, NULL, setup, test_sweep,
      teardown);
  g_test_add_func ("/upload/template", test_template);
  g_test_add_func ("/upload/retry-after", test_retry_after);
  g_test_add_func ("/upload/backoff", test_backoff);
  return g_test_run ();
}
