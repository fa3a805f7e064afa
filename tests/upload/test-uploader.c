/* lookback tests — the uploader against a real receiver: Debian's nginx with
 * WebDAV PUT on 127.0.0.1 (see lb-test-nginx.h), started and stopped by each
 * test.  Backoff is 20 ms .. 200 ms here, so every case takes seconds. */
#include "upload/lb-uploader.h"
#include "store/lb-store-upload.h"
#include "store/lb-store-api.h"
#include "core/lb-error.h"
#include "core/lb-time.h"
#include "lb-test-nginx.h"
#include "lb-test-upload-util.h"
#include "lb-test-common.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>

typedef struct
{
  gchar *dir;
  gchar *outputs;
  LbStore *store;
  LbTestNginx *ngx;
  LbConfig *config;
  LbUploader *up;
} Fixture;

static void
setup (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  f->dir = g_dir_make_tmp ("lb-uploader-XXXXXX", &error);
  g_assert_no_error (error);
  f->outputs = g_build_filename (f->dir, "outputs", NULL);
  g_assert_cmpint (g_mkdir (f->outputs, 0755), ==, 0);
  g_autofree gchar *db = g_build_filename (f->dir, "lookback.db", NULL);
  f->store = lb_store_open (db, LB_STORE_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
  f->ngx = lb_test_nginx_new (f->dir, 0);
}

static void
teardown (Fixture * f, gconstpointer data)
{
  g_clear_pointer (&f->up, lb_uploader_free);
  g_clear_pointer (&f->config, lb_config_free);
  g_clear_pointer (&f->ngx, lb_test_nginx_free);
  g_clear_pointer (&f->store, lb_store_free);
  lb_test_rm_rf (f->dir);
  g_free (f->dir);
  g_free (f->outputs);
}

/* An uploader for @location ("up", "flaky", "forbidden") on the fixture's nginx. */
static gchar *
url_template (Fixture * f, const gchar * location)
{
  return
      g_strdup_printf
      ("http://127.0.0.1:%u/%s/{vehicleId}/{retrievalId}/{input}.{ext}",
      lb_test_nginx_port (f->ngx), location);
}

static void
start_uploader (Fixture * f, const gchar * location)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *tmpl = url_template (f, location);
  f->config = lb_test_upload_config (f->dir, tmpl);
  f->up = lb_uploader_new (f->config, f->store, &error);
  g_assert_no_error (error);
  g_assert_true (lb_uploader_start (f->up, &error));
}

static const gchar *
ext_of (LbMediaType media_type)
{
  return media_type == LB_MEDIA_TYPE_IMAGE ? "jpg" : "mp4";
}

/* A pending retrieval row of the 'api' area (organisation acme). */
static gint64
make_row (Fixture * f, const gchar * rid, const gchar * input,
    LbMediaType type, gdouble cost)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) rows = g_ptr_array_new_with_free_func (
      (GDestroyNotify) lb_retrieval_free);
  LbRetrieval *r = lb_retrieval_new ();
  r->retrieval_id = g_strdup (rid);
  r->media_id = g_strdup_printf ("m-%s", rid);
  r->org = g_strdup ("acme");
  r->vehicle = g_strdup ("veh+1");
  r->input = g_strdup (input);
  r->media_type = type;
  r->start_ns = r->end_ns = 1000;
  r->status = LB_RETRIEVAL_PENDING;
  r->created_ns = lb_time_now ();
  r->period = g_strdup ("2026-11");
  r->cost_reserved = cost;
  g_ptr_array_add (rows, r);
  g_assert_true (lb_store_api_create_retrieval (f->store, rows, 1000, NULL,
          &error));
  g_assert_no_error (error);
  return r->id;
}

static gchar *queue_output_row (Fixture * f, const gchar * rid,
    const gchar * input, LbMediaType type, gsize size, gint64 now, gint64 row);

/* Makes an output file and queues it; returns its SHA-256. */
static gchar *
queue_output (Fixture * f, const gchar * rid, const gchar * input,
    LbMediaType type, gsize size, gint64 now)
{
  return queue_output_row (f, rid, input, type, size, now, 0);
}

static gchar *
queue_output_row (Fixture * f, const gchar * rid, const gchar * input,
    LbMediaType type, gsize size, gint64 now, gint64 row)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *name =
      g_strdup_printf ("%s-%s.%s", rid, input, ext_of (type));
  g_autofree gchar *path = g_build_filename (f->outputs, name, NULL);
  gchar *sha = lb_test_make_file (path, size, g_str_hash (name));
  g_autofree gchar *rel = g_build_filename ("outputs", name, NULL);
  LbUploadJob job = { rid, "veh+1", input, type, rel, 1000, 1000, NULL, row,
    lb_upload_content_type (ext_of (type)), 0.1
  };
  g_assert_true (lb_store_upload_enqueue (f->store, &job, now, NULL, &error));
  g_assert_no_error (error);
  if (f->up)
    lb_uploader_poke (f->up);
  return sha;
}

/* Where nginx stored an object of the "up" or "flaky" location. */
static gchar *
received_path (Fixture * f, const gchar * location, const gchar * rid,
    const gchar * input, LbMediaType type)
{
  g_autofree gchar *name = g_strdup_printf ("%s.%s", input, ext_of (type));
  return g_build_filename (lb_test_nginx_root (f->ngx), location, "veh+1", rid,
      name, NULL);
}

typedef struct
{
  gdouble msec;
  gchar *method, *uri;
  guint status;
  gint64 length;
  gchar *checksum, *content_type, *test_header;
} LogLine;

static void
log_line_free (gpointer p)
{
  LogLine *l = p;
  g_free (l->method);
  g_free (l->uri);
  g_free (l->checksum);
  g_free (l->content_type);
  g_free (l->test_header);
  g_free (l);
}

static GPtrArray *
read_log (Fixture * f)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (log_line_free);
  g_auto (GStrv) lines = lb_test_nginx_log_lines (f->ngx);
  for (guint i = 0; lines[i]; i++) {
    g_auto (GStrv) w = g_strsplit (lines[i], " ", 6);
    g_assert_cmpuint (g_strv_length (w), ==, 6);
    LogLine *l = g_new0 (LogLine, 1);
    l->msec = g_ascii_strtod (w[0], NULL);
    l->method = g_strdup (w[1]);
    l->uri = g_strdup (w[2]);
    l->status = atoi (w[3]);
    l->length = g_ascii_strtoll (w[4], NULL, 10);
    gchar *rest = w[5];
    g_assert_true (g_str_has_prefix (rest, "\"")
        && g_str_has_suffix (rest, "\""));
    rest[strlen (rest) - 1] = '\0';
    g_auto (GStrv) q = g_strsplit (rest + 1, "\" \"", 3);
    g_assert_cmpuint (g_strv_length (q), ==, 3);
    l->checksum = g_strdup (q[0]);
    l->content_type = g_strdup (q[1]);
    l->test_header = g_strdup (q[2]);
    g_ptr_array_add (out, l);
  }
  return out;
}

static LbUploadCounts
counts (Fixture * f)
{
  LbUploadCounts c;
  g_autoptr (GError) error = NULL;
  g_assert_true (lb_store_upload_counts (f->store, &c, &error));
  g_assert_no_error (error);
  return c;
}

static gboolean
queue_empty (gpointer data)
{
  LbUploadCounts c = counts (data);
  return c.waiting == 0;
}

typedef struct
{
  Fixture *f;
  const gchar *rid, *input;
  gint attempts;
} AttemptsWait;

static gboolean
attempts_reached (gpointer data)
{
  AttemptsWait *w = data;
  g_autoptr (LbUploadEntry) e =
      lb_store_upload_find (w->f->store, w->rid, w->input, NULL);
  return e && e->attempts >= w->attempts;
}

static glong
max_rss_kib (void)
{
  struct rusage ru;
  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

/* Normal upload: bytes, checksum and headers arrive; images go before the
 * video queued earlier; memory does not grow with the file. */
static void
test_normal (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gint64 now = lb_time_now ();
  const gsize big = 32 * 1024 * 1024;

  lb_test_nginx_start (f->ngx);
  g_autofree gchar *vsha = queue_output (f, "r-vid", "dashcamRoadFacing",
      LB_MEDIA_TYPE_VIDEO_HIGH_RES,
      big, now);
  gint64 row = make_row (f, "r-img", "analog1", LB_MEDIA_TYPE_IMAGE, 0.1);
  g_autofree gchar *isha =
      queue_output_row (f, "r-img", "analog1", LB_MEDIA_TYPE_IMAGE, 100 * 1024,
      now + 1, row);
  glong rss_before = max_rss_kib ();
  start_uploader (f, "up");
  g_assert_true (lb_test_wait_for (queue_empty, f, 20000));
  glong rss_after = max_rss_kib ();
  g_test_message ("max RSS %ld KiB before, %ld KiB after a %zu byte upload",
      rss_before, rss_after, big);
  g_assert_cmpint (rss_after - rss_before, <, 16 * 1024);

  g_autofree gchar *vpath =
      received_path (f, "up", "r-vid", "dashcamRoadFacing",
      LB_MEDIA_TYPE_VIDEO_HIGH_RES);
  g_autofree gchar *ipath =
      received_path (f, "up", "r-img", "analog1", LB_MEDIA_TYPE_IMAGE);
  g_autofree gchar *vgot = lb_test_file_sha256 (vpath);
  g_autofree gchar *igot = lb_test_file_sha256 (ipath);
  g_assert_cmpstr (vgot, ==, vsha);
  g_assert_cmpstr (igot, ==, isha);

  g_autoptr (GPtrArray) log = read_log (f);
  g_assert_cmpuint (log->len, ==, 2);
  LogLine *il = log->pdata[0], *vl = log->pdata[1];
  g_assert_cmpstr (il->method, ==, "PUT");
  g_assert_cmpstr (il->uri, ==, "/up/veh+1/r-img/analog1.jpg");
  g_assert_cmpuint (il->status, ==, 201);
  g_assert_cmpstr (il->checksum, ==, isha);
  g_assert_cmpstr (il->content_type, ==, "image/jpeg");
  g_assert_cmpstr (il->test_header, ==, "hello world");
  g_assert_cmpint (il->length, >, 100 * 1024);
  g_assert_cmpstr (vl->uri, ==, "/up/veh+1/r-vid/dashcamRoadFacing.mp4");
  g_assert_cmpuint (vl->status, ==, 201);
  g_assert_cmpstr (vl->checksum, ==, vsha);
  g_assert_cmpstr (vl->content_type, ==, "video/mp4");
  g_assert_cmpstr (vl->test_header, ==, "hello world");
  g_assert_cmpint (vl->length, >, (gint64) big);

  g_autoptr (LbUploadEntry) e = lb_store_upload_find (f->store, "r-vid",
      "dashcamRoadFacing", &error);
  g_assert_no_error (error);
  g_assert_cmpint (e->state, ==, LB_UPLOAD_DONE);
  g_assert_cmpint (e->bytes, ==, (gint64) big);
  g_assert_cmpstr (e->sha256, ==, vsha);
  g_assert_cmpstr (e->public_url, ==,
      "https://cdn.example.invalid/veh%2B1/r-vid/dashcamRoadFacing.mp4");
  g_assert_cmpint (e->uploaded_ns, >=, now);

  /* The retrieval is available, its cost committed, its URL the cloud's. */
  g_autoptr (LbRetrieval) r = NULL;
  g_assert_true (lb_store_api_get (f->store, row, &r, &error));
  g_assert_cmpint (r->status, ==, LB_RETRIEVAL_AVAILABLE);
  g_assert_cmpfloat_with_epsilon (r->cost_committed, 0.1, 1e-9);
  g_assert_cmpstr (r->content_type, ==, "image/jpeg");
  g_autofree gchar *url = lb_store_upload_public_url (f->store, row, &error);
  g_assert_cmpstr (url, ==,
      "https://cdn.example.invalid/veh%2B1/r-img/analog1.jpg");
  gdouble used = -1, reserved = -1;
  g_assert_true (lb_store_api_quota_usage (f->store, "acme", "2026-11", &used,
          &reserved, &error));
  g_assert_cmpfloat_with_epsilon (used, 0.1, 1e-9);
  g_assert_cmpfloat_with_epsilon (reserved, 0, 1e-9);

  LbUploadStats st;
  g_assert_true (lb_uploader_get_stats (f->up, &st, &error));
  g_assert_cmpuint (st.queue_length, ==, 0);
  g_assert_cmpuint (st.done, ==, 2);
  g_assert_cmpint (st.bytes_uploaded, ==, (gint64) big + 100 * 1024);
  g_assert_null (st.last_error);
  lb_upload_stats_clear (&st);
}

/* The receiver is down for the first attempts, then comes up: everything
 * arrives once. */
static void
test_down_then_up (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gint64 now = lb_time_now ();
  const LbMediaType types[] =
      { LB_MEDIA_TYPE_IMAGE, LB_MEDIA_TYPE_VIDEO_HIGH_RES,
    LB_MEDIA_TYPE_VIDEO_LOW_RES, LB_MEDIA_TYPE_HYPERLAPSE
  };
  gchar *shas[4];

  for (guint i = 0; i < 4; i++) {
    g_autofree gchar *rid = g_strdup_printf ("r%u", i);
    shas[i] =
        queue_output (f, rid, "dashcamDriverFacing", types[i], 5000 + i,
        now + i);
  }
  LbTestLogCapture *cap = lb_test_log_capture_start ();
  start_uploader (f, "up");
  AttemptsWait w = { f, "r0", "dashcamDriverFacing", 3 };
  g_assert_true (lb_test_wait_for (attempts_reached, &w, 10000));
  LbUploadStats st;
  g_assert_true (lb_uploader_get_stats (f->up, &st, &error));
  g_assert_nonnull (st.last_error);
  g_assert_nonnull (strstr (st.last_error, "unreachable"));
  g_assert_cmpuint (st.queue_length, ==, 4);
  g_assert_cmpint (st.oldest_waiting_ns, ==, now);
  lb_upload_stats_clear (&st);
  g_autoptr (LbUploadEntry) head = lb_store_upload_find (f->store, "r0",
      "dashcamDriverFacing", &error);
  g_assert_nonnull (strstr (head->last_error, "unreachable"));

  lb_test_nginx_start (f->ngx);
  g_assert_true (lb_test_wait_for (queue_empty, f, 10000));

  /* The operator reads one line when uploads start failing, however many
   * attempts fail, and one when they recover. */
  g_autofree gchar *events = lb_test_log_capture_text (cap);
  lb_test_log_capture_stop (cap);
  g_auto (GStrv) parts = g_strsplit (events, "upload failed:", -1);
  g_assert_cmpuint (g_strv_length (parts), ==, 2);
  const gchar *failed = strstr (events, "warning upload failed: cloud "
      "endpoint unreachable");
  g_assert_nonnull (failed);
  g_assert_nonnull (strstr (failed, "info uploads recovered: the cloud "
          "endpoint took an upload after "));
  g_assert_nonnull (strstr (failed, "info image uploaded (5000 bytes) "
          "input=dashcamDriverFacing retrieval=r0\n"));

  g_autoptr (GPtrArray) log = read_log (f);
  g_assert_cmpuint (log->len, ==, 4);
  for (guint i = 0; i < 4; i++) {
    g_autofree gchar *rid = g_strdup_printf ("r%u", i);
    g_autofree gchar *uri =
        g_strdup_printf ("/up/veh+1/%s/dashcamDriverFacing.%s", rid,
        ext_of (types[i]));
    LogLine *l = log->pdata[i];
    g_assert_cmpstr (l->uri, ==, uri);
    g_assert_cmpuint (l->status, ==, 201);
    g_autofree gchar *p =
        received_path (f, "up", rid, "dashcamDriverFacing", types[i]);
    g_autofree gchar *got = lb_test_file_sha256 (p);
    g_assert_cmpstr (got, ==, shas[i]);
    g_autoptr (LbUploadEntry) e = lb_store_upload_find (f->store, rid,
        "dashcamDriverFacing", &error);
    g_assert_cmpint (e->state, ==, LB_UPLOAD_DONE);
    g_free (shas[i]);
  }
  head = (lb_upload_entry_free (head), lb_store_upload_find (f->store, "r0",
          "dashcamDriverFacing", &error));
  g_assert_cmpint (head->attempts, >=, 3);
}

/* 503 with Retry-After: 1 is honoured (backoff-max is 200 ms here), then the
 * upload goes through. */
static void
test_retry_after (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  lb_test_nginx_start (f->ngx);
  g_autofree gchar *sha =
      queue_output (f, "r-flaky", "analog2", LB_MEDIA_TYPE_IMAGE, 70000,
      lb_time_now ());
  start_uploader (f, "flaky");
  AttemptsWait w = { f, "r-flaky", "analog2", 2 };
  g_assert_true (lb_test_wait_for (attempts_reached, &w, 10000));
  g_autoptr (LbUploadEntry) e =
      lb_store_upload_find (f->store, "r-flaky", "analog2", &error);
  g_assert_cmpint (e->state, ==, LB_UPLOAD_WAITING);
  g_assert_nonnull (strstr (e->last_error, "503"));
  g_assert_true (g_file_set_contents (lb_test_nginx_flag (f->ngx), "", 0,
          &error));
  g_assert_true (lb_test_wait_for (queue_empty, f, 10000));

  g_autoptr (GPtrArray) log = read_log (f);
  g_assert_cmpuint (log->len, >=, 3);
  for (guint i = 0; i < log->len; i++) {
    LogLine *l = log->pdata[i];
    g_assert_cmpstr (l->uri, ==, "/flaky/veh+1/r-flaky/analog2.jpg");
    g_assert_cmpuint (l->status, ==, i + 1 < log->len ? 503 : 201);
    if (i > 0) {
      gdouble gap = l->msec - ((LogLine *) log->pdata[i - 1])->msec;
      g_test_message ("attempt %u came %.3f s after the previous one", i + 1,
          gap);
      g_assert_cmpfloat (gap, >=, 0.95);
    }
  }
  g_autofree gchar *p =
      received_path (f, "flaky", "r-flaky", "analog2", LB_MEDIA_TYPE_IMAGE);
  g_autofree gchar *got = lb_test_file_sha256 (p);
  g_assert_cmpstr (got, ==, sha);
  g_clear_pointer (&e, lb_upload_entry_free);
  e = lb_store_upload_find (f->store, "r-flaky", "analog2", &error);
  g_assert_cmpint (e->state, ==, LB_UPLOAD_DONE);
}

static gboolean
all_failed (gpointer data)
{
  LbUploadCounts c = counts (data);
  return c.waiting == 0 && c.failed == 2;
}

/* 403: the entry fails at once with the endpoint's answer; no retry. */
static void
test_forbidden (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  lb_test_nginx_start (f->ngx);
  gint64 row = make_row (f, "r-no", "analog3", LB_MEDIA_TYPE_IMAGE, 0.1);
  g_free (queue_output_row (f, "r-no", "analog3", LB_MEDIA_TYPE_IMAGE, 1000,
          lb_time_now (), row));
  g_free (queue_output (f, "r-no2", "analog3", LB_MEDIA_TYPE_VIDEO_LOW_RES,
          3000000, lb_time_now ()));
  start_uploader (f, "forbidden");
  g_assert_true (lb_test_wait_for (all_failed, f, 10000));
  g_usleep (300000);            /* more than backoff-max: nothing is retried */

  g_autoptr (LbUploadEntry) e =
      lb_store_upload_find (f->store, "r-no", "analog3", &error);
  g_assert_cmpint (e->state, ==, LB_UPLOAD_FAILED);
  g_test_message ("reason: %s", e->last_error);
  g_assert_nonnull (strstr (e->last_error, "403"));
  g_assert_nonnull (strstr (e->last_error, "no such bucket"));
  g_autoptr (LbRetrieval) r = NULL;
  g_assert_true (lb_store_api_get (f->store, row, &r, &error));
  g_assert_cmpint (r->status, ==, LB_RETRIEVAL_FAILED);
  g_assert_cmpstr (r->failure_reason, ==, e->last_error);
  gdouble used = -1, reserved = -1;
  g_assert_true (lb_store_api_quota_usage (f->store, "acme", "2026-11", &used,
          &reserved, &error));
  g_assert_cmpfloat (used, ==, 0);
  g_assert_cmpfloat (reserved, ==, 0);

  g_autoptr (GPtrArray) log = read_log (f);
  g_assert_cmpuint (log->len, ==, 2);
  g_assert_cmpuint (((LogLine *) log->pdata[0])->status, ==, 403);
  LbUploadStats st;
  g_assert_true (lb_uploader_get_stats (f->up, &st, &error));
  g_assert_cmpuint (st.failed, ==, 2);
  g_assert_nonnull (strstr (st.last_error, "403"));
  lb_upload_stats_clear (&st);
}

/* ---- a slow TCP relay between the uploader and nginx (crash test) ---- */

typedef struct
{
  GSocket *listen;
  guint port, upstream;
  gint rate;                    /* bytes per second client → nginx; 0: unthrottled */
  gint64 forwarded;             /* bytes client → nginx */
  GCancellable *cancel;
  GThread *thread;
} Relay;

typedef struct
{
  Relay *relay;
  GSocket *from, *to;
  GSocketConnection *conn;      /* owns the nginx side's socket */
  gboolean upstream;            /* client → nginx direction */
} Pump;

static gpointer
pump_main (gpointer data)
{
  Pump *p = data;
  gchar buf[16384];
  for (;;) {
    gssize n = g_socket_receive (p->from, buf, sizeof buf, NULL, NULL);
    if (n <= 0)
      break;
    gssize off = 0;
    while (off < n) {
      gssize w = g_socket_send (p->to, buf + off, n - off, NULL, NULL);
      if (w <= 0)
        goto out;
      off += w;
    }
    if (p->upstream) {
      g_atomic_pointer_add (&p->relay->forwarded, n);
      gint rate = g_atomic_int_get (&p->relay->rate);
      if (rate > 0)
        g_usleep ((gulong) (n * 1e6 / rate));
    }
  }
out:
  g_socket_shutdown (p->to, FALSE, TRUE, NULL);
  g_object_unref (p->from);
  g_object_unref (p->to);
  g_object_unref (p->conn);
  g_free (p);
  return NULL;
}

static gpointer
relay_main (gpointer data)
{
  Relay *r = data;
  for (;;) {
    GSocket *c = g_socket_accept (r->listen, r->cancel, NULL);
    if (c == NULL)
      break;
    g_socket_set_blocking (c, TRUE);
    g_autoptr (GSocketClient) client = g_socket_client_new ();
    g_autoptr (GSocketConnection) up = g_socket_client_connect_to_host (client,
        "127.0.0.1", r->upstream, NULL, NULL);
    if (up == NULL) {
      g_object_unref (c);
      continue;
    }
    GSocket *s = g_socket_connection_get_socket (up);
    Pump *a = g_new0 (Pump, 1), *b = g_new0 (Pump, 1);
    /* each pump holds both sockets and the connection that owns one */
    *a = (Pump) {
    r, g_object_ref (c), g_object_ref (s), g_object_ref (up), TRUE};
    *b = (Pump) {
    r, g_object_ref (s), c, g_object_ref (up), FALSE};
    g_thread_unref (g_thread_new ("relay-up", pump_main, a));
    g_thread_unref (g_thread_new ("relay-down", pump_main, b));
  }
  return NULL;
}

static Relay *
relay_new (guint upstream, gint rate)
{
  g_autoptr (GError) error = NULL;
  Relay *r = g_new0 (Relay, 1);
  r->upstream = upstream;
  r->rate = rate;
  r->cancel = g_cancellable_new ();
  r->listen = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
      G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_autoptr (GInetAddress) lo =
      g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_assert_true (g_socket_bind (r->listen, any, TRUE, &error));
  g_assert_true (g_socket_listen (r->listen, &error));
  g_autoptr (GSocketAddress) bound =
      g_socket_get_local_address (r->listen, &error);
  r->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  r->thread = g_thread_new ("relay", relay_main, r);
  return r;
}

/* Stops accepting; pumps end with their connections (the relay itself is
 * left allocated for them). */
static void
relay_stop (Relay * r)
{
  g_cancellable_cancel (r->cancel);
  g_thread_join (r->thread);
  g_socket_close (r->listen, NULL);
}

static gboolean
relay_forwarded (gpointer data)
{
  Relay *r = data;
  return g_atomic_pointer_get (&r->forwarded) >= 2 * 1024 * 1024;
}

/* kill -9 of a process uploading a large file, restart: the object on the
 * receiver is complete and matches; the entry is done. */
static void
test_crash_mid_upload (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  const gsize size = 24 * 1024 * 1024;
  const gchar *runner = g_getenv ("LB_UPLOAD_RUNNER");
  g_assert_nonnull (runner);

  lb_test_nginx_start (f->ngx);
  static Relay *relay;
  relay = relay_new (lb_test_nginx_port (f->ngx), 2 * 1024 * 1024);
  g_autofree gchar *tmpl =
      g_strdup_printf
      ("http://127.0.0.1:%u/up/{vehicleId}/{retrievalId}/{input}.{ext}",
      relay->port);
  g_autofree gchar *conf_text = lb_test_upload_conf_text (f->dir, tmpl);
  g_autofree gchar *conf = g_build_filename (f->dir, "lookback.conf", NULL);
  g_assert_true (g_file_set_contents (conf, conf_text, -1, &error));
  g_autofree gchar *sha = queue_output (f, "r-big", "dashcamRoadFacing",
      LB_MEDIA_TYPE_VIDEO_HIGH_RES,
      size, lb_time_now ());

  const gchar *argv[] = { runner, conf, NULL };
  g_autoptr (GSubprocess) p1 = lb_test_spawn_tied (argv, &error);
  g_assert_no_error (error);
  g_assert_true (lb_test_wait_for (relay_forwarded, relay, 20000));
  g_subprocess_force_exit (p1);
  g_assert_true (g_subprocess_wait (p1, NULL, &error));
  g_assert_true (g_subprocess_get_if_signaled (p1));
  g_assert_cmpint (g_subprocess_get_term_sig (p1), ==, SIGKILL);
  g_test_message ("killed the uploader after %" G_GINT64_FORMAT
      " bytes had reached nginx",
      (gint64) g_atomic_pointer_get (&relay->forwarded));

  g_autoptr (LbUploadEntry) e = lb_store_upload_find (f->store, "r-big",
      "dashcamRoadFacing", &error);
  g_assert_cmpint (e->state, ==, LB_UPLOAD_WAITING);
  g_autofree gchar *obj = received_path (f, "up", "r-big", "dashcamRoadFacing",
      LB_MEDIA_TYPE_VIDEO_HIGH_RES);
  /* The receiver keeps no half object. */
  g_autofree gchar *partial = lb_test_file_sha256 (obj);
  g_assert_true (partial == NULL || g_strcmp0 (partial, sha) != 0 ||
      !"a complete object before the restart");
  g_assert_null (partial);

  /* Restart at full speed: the same object, complete. */
  g_atomic_int_set (&relay->rate, 0);
  g_autoptr (GSubprocess) p2 = lb_test_spawn_tied (argv, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_wait (p2, NULL, &error));
  g_assert_true (g_subprocess_get_if_exited (p2));
  g_assert_cmpint (g_subprocess_get_exit_status (p2), ==, 0);
  relay_stop (relay);

  g_autofree gchar *got = lb_test_file_sha256 (obj);
  g_assert_cmpstr (got, ==, sha);
  g_clear_pointer (&e, lb_upload_entry_free);
  e = lb_store_upload_find (f->store, "r-big", "dashcamRoadFacing", &error);
  g_assert_cmpint (e->state, ==, LB_UPLOAD_DONE);
  g_assert_cmpint (e->bytes, ==, (gint64) size);
  g_autoptr (GPtrArray) log = read_log (f);
  guint ok = 0;
  for (guint i = 0; i < log->len; i++) {
    LogLine *l = log->pdata[i];
    g_test_message ("nginx: %s %s %u %" G_GINT64_FORMAT, l->method, l->uri,
        l->status, l->length);
    g_assert_cmpstr (l->uri, ==, "/up/veh+1/r-big/dashcamRoadFacing.mp4");
    if (l->status == 201 || l->status == 204)
      ok++;
  }
  g_assert_cmpuint (ok, ==, 1);
}

/* 200 entries queued while the receiver is down; it comes up: all arrive,
 * once each, in priority order (images, videos, hyperlapses; oldest first). */
static void
test_queue_200_offline (Fixture * f, gconstpointer data)
{
  const LbMediaType types[] =
      { LB_MEDIA_TYPE_HYPERLAPSE, LB_MEDIA_TYPE_VIDEO_HIGH_RES,
    LB_MEDIA_TYPE_IMAGE, LB_MEDIA_TYPE_VIDEO_LOW_RES
  };
  const gchar *inputs[] = { "dashcamRoadFacing", "dashcamDriverFacing" };
  gint64 now = lb_time_now ();
  GPtrArray *expected[3];
  g_autoptr (GHashTable) shas =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  for (guint p = 0; p < 3; p++)
    expected[p] = g_ptr_array_new_with_free_func (g_free);

  start_uploader (f, "up");
  for (guint i = 0; i < 200; i++) {
    LbMediaType type = types[i % 4];
    const gchar *input = inputs[(i / 4) % 2];
    g_autofree gchar *rid = g_strdup_printf ("r%03u", i);
    gchar *sha = queue_output (f, rid, input, type, 1000 + i, now + i);
    gchar *uri =
        g_strdup_printf ("/up/veh+1/%s/%s.%s", rid, input, ext_of (type));
    g_hash_table_insert (shas, g_strdup (uri), sha);
    g_ptr_array_add (expected[lb_media_type_priority (type)], uri);
  }
  AttemptsWait w = { f, "r002", "dashcamRoadFacing", 2 };
  g_assert_true (lb_test_wait_for (attempts_reached, &w, 10000));
  g_assert_cmpuint (counts (f).waiting, ==, 200);

  lb_test_nginx_start (f->ngx);
  g_assert_true (lb_test_wait_for (queue_empty, f, 60000));
  LbUploadCounts c = counts (f);
  g_assert_cmpuint (c.done, ==, 200);
  g_assert_cmpuint (c.failed, ==, 0);

  g_autoptr (GPtrArray) log = read_log (f);
  g_assert_cmpuint (log->len, ==, 200);
  guint k = 0;
  for (guint p = 0; p < 3; p++) {
    for (guint i = 0; i < expected[p]->len; i++, k++) {
      LogLine *l = log->pdata[k];
      g_assert_cmpstr (l->uri, ==, expected[p]->pdata[i]);
      g_assert_cmpuint (l->status, ==, 201);
      g_assert_cmpstr (l->checksum, ==, g_hash_table_lookup (shas, l->uri));
      g_autofree gchar *path =
          g_build_filename (lb_test_nginx_root (f->ngx), l->uri + 1,
          NULL);
      g_autofree gchar *got = lb_test_file_sha256 (path);
      g_assert_cmpstr (got, ==, g_hash_table_lookup (shas, l->uri));
    }
  }
  g_assert_cmpuint (k, ==, 200);
  for (guint p = 0; p < 3; p++)
    g_ptr_array_unref (expected[p]);
}

static gboolean
row_available (gpointer data)
{
  gpointer *d = data;
  g_autoptr (LbRetrieval) r = NULL;
  g_assert_true (lb_store_api_get (((Fixture *) d[0])->store,
          GPOINTER_TO_INT (d[1]), &r, NULL));
  return r->status == LB_RETRIEVAL_AVAILABLE;
}

/* The job engine's call wakes the running uploader: the retrieval is
 * available well before the uploader would have looked again by itself. */
static void
test_finish_job_pokes (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  lb_test_nginx_start (f->ngx);
  start_uploader (f, "up");
  g_usleep (300000);            /* the uploader has found nothing and sleeps */
  gint64 row =
      make_row (f, "r-poke", "dashcamRoadFacing", LB_MEDIA_TYPE_IMAGE, 0.1);
  g_autofree gchar *path = g_build_filename (f->outputs, "poke.jpg", NULL);
  g_autofree gchar *sha = lb_test_make_file (path, 4096, 7);
  LbUploadJob job =
      { "r-poke", "veh+1", "dashcamRoadFacing", LB_MEDIA_TYPE_IMAGE, path, 1000,
    1000,
    NULL, row, "image/jpeg", 0.1
  };
  gint64 t0 = g_get_monotonic_time ();
  g_assert_true (lb_upload_finish_job (f->config, f->store, f->up, &job,
          lb_time_now (), &error));
  g_assert_no_error (error);
  gpointer d[2] = { f, GINT_TO_POINTER ((gint) row) };
  g_assert_true (lb_test_wait_for (row_available, d, 5000));
  gint64 took = g_get_monotonic_time () - t0;
  g_test_message ("available %.3f s after the job finished", took / 1e6);
  g_assert_cmpint (took, <, 1500000);
  g_autofree gchar *obj = received_path (f, "up", "r-poke", "dashcamRoadFacing",
      LB_MEDIA_TYPE_IMAGE);
  g_autofree gchar *got = lb_test_file_sha256 (obj);
  g_assert_cmpstr (got, ==, sha);
}

static gboolean
three_done (gpointer data)
{
  return counts (data).done == 3;
}

/* One object the endpoint always answers 500 does not hold the queue: after
 * a few refusals the others go first; it keeps waiting, not failed. */
static void
test_poisoned_entry (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gint64 now = lb_time_now ();
  lb_test_nginx_start (f->ngx);
  g_free (queue_output (f, "r-poison", "analog1", LB_MEDIA_TYPE_IMAGE, 2000,
          now));
  for (guint i = 0; i < 3; i++) {
    g_autofree gchar *rid = g_strdup_printf ("r-ok%u", i);
    g_free (queue_output (f, rid, "analog1", LB_MEDIA_TYPE_VIDEO_LOW_RES, 3000,
            now + 1 + i));
  }
  start_uploader (f, "up");
  g_assert_true (lb_test_wait_for (three_done, f, 10000));
  g_autoptr (LbUploadEntry) e =
      lb_store_upload_find (f->store, "r-poison", "analog1", &error);
  g_assert_cmpint (e->state, ==, LB_UPLOAD_WAITING);
  g_assert_cmpint (e->attempts, >=, 3);
  g_assert_nonnull (strstr (e->last_error, "500"));
  g_assert_nonnull (strstr (e->last_error, "internal trouble"));
  g_autoptr (GPtrArray) log = read_log (f);
  guint ok = 0;
  for (guint i = 0; i < log->len; i++)
    ok += ((LogLine *) log->pdata[i])->status == 201;
  g_assert_cmpuint (ok, ==, 3);
}

/* A socket listening on 127.0.0.1 that never accepts; with @fill, its
 * accept queue (backlog 0) is filled first so that a further connect hangs. */
static GSocket *
silent_listener (guint * port, GPtrArray * fillers)
{
  g_autoptr (GError) error = NULL;
  GSocket *sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
      G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_autoptr (GInetAddress) lo =
      g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_assert_true (g_socket_bind (sock, any, TRUE, &error));
  g_socket_set_listen_backlog (sock, fillers ? 0 : 16);
  g_assert_true (g_socket_listen (sock, &error));
  g_autoptr (GSocketAddress) bound = g_socket_get_local_address (sock, &error);
  *port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  for (guint i = 0; fillers && i < 4; i++) {
    /* Fill the queue; the connects that do not get in just time out. */
    g_autoptr (GSocketClient) client = g_socket_client_new ();
    g_socket_client_set_timeout (client, 1);
    GSocketConnection *c =
        g_socket_client_connect_to_host (client, "127.0.0.1", *port,
        NULL, NULL);
    if (c == NULL)
      break;
    g_ptr_array_add (fillers, c);
  }
  return sock;
}

typedef struct
{
  Fixture *f;
  const gchar *rid, *input;
} EntryWait;

static gboolean
has_error (gpointer data)
{
  EntryWait *w = data;
  g_autoptr (LbUploadEntry) e =
      lb_store_upload_find (w->f->store, w->rid, w->input, NULL);
  return e && e->last_error != NULL;
}

/* An endpoint that accepts the connection but never answers: [upload]
 * timeout (1 s here) abandons the upload, which stays queued. */
static void
test_read_timeout (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  guint port = 0;
  GSocket *sock = silent_listener (&port, NULL);
  g_autofree gchar *tmpl =
      g_strdup_printf ("http://127.0.0.1:%u/up/{retrievalId}.{ext}",
      port);
  f->config = lb_test_upload_config (f->dir, tmpl);
  g_assert_true (lb_config_set (f->config, "upload", "timeout", "1s", &error));
  g_free (queue_output (f, "r-silent", "analog1", LB_MEDIA_TYPE_IMAGE, 1000,
          lb_time_now ()));
  f->up = lb_uploader_new (f->config, f->store, &error);
  g_assert_no_error (error);
  gint64 t0 = g_get_monotonic_time ();
  g_assert_true (lb_uploader_start (f->up, &error));
  EntryWait w = { f, "r-silent", "analog1" };
  g_assert_true (lb_test_wait_for (has_error, &w, 10000));
  gint64 took = g_get_monotonic_time () - t0;
  g_autoptr (LbUploadEntry) e =
      lb_store_upload_find (f->store, "r-silent", "analog1", &error);
  g_test_message ("after %.2f s: %s", took / 1e6, e->last_error);
  g_assert_cmpint (took, >=, 900000);
  g_assert_cmpint (e->state, ==, LB_UPLOAD_WAITING);
  g_assert_cmpint (e->attempts, ==, 1);
  g_assert_nonnull (strstr (e->last_error, "unreachable"));
  g_assert_null (strstr (e->last_error, "no connection within"));
  g_object_unref (sock);
}

/* An endpoint whose connect never completes: [upload] connect-timeout
 * (300 ms here, shorter than the I/O timeout) gives up on it. */
static void
test_connect_timeout (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  guint port = 0;
  g_autoptr (GPtrArray) fillers =
      g_ptr_array_new_with_free_func (g_object_unref);
  GSocket *sock = silent_listener (&port, fillers);
  g_autofree gchar *tmpl =
      g_strdup_printf ("http://127.0.0.1:%u/up/{retrievalId}.{ext}",
      port);
  f->config = lb_test_upload_config (f->dir, tmpl);
  g_assert_true (lb_config_set (f->config, "upload", "connect-timeout", "300ms",
          &error));
  g_free (queue_output (f, "r-hang", "analog1", LB_MEDIA_TYPE_IMAGE, 1000,
          lb_time_now ()));
  f->up = lb_uploader_new (f->config, f->store, &error);
  g_assert_no_error (error);
  gint64 t0 = g_get_monotonic_time ();
  g_assert_true (lb_uploader_start (f->up, &error));
  EntryWait w = { f, "r-hang", "analog1" };
  g_assert_true (lb_test_wait_for (has_error, &w, 10000));
  gint64 took = g_get_monotonic_time () - t0;
  g_autoptr (LbUploadEntry) e =
      lb_store_upload_find (f->store, "r-hang", "analog1", &error);
  g_test_message ("after %.2f s (%u queued connections): %s", took / 1e6,
      fillers->len, e->last_error);
  g_assert_cmpint (e->state, ==, LB_UPLOAD_WAITING);
  g_assert_nonnull (strstr (e->last_error, "no connection within 0.3 s"));
  g_assert_cmpint (took, >=, 250000);
  g_assert_cmpint (took, <, 1000000);
  g_object_unref (sock);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
#define ADD(name, fn) g_test_add ("/upload/nginx/" name, Fixture, NULL, setup, fn, teardown)
  ADD ("normal", test_normal);
  ADD ("down-then-up", test_down_then_up);
  ADD ("retry-after", test_retry_after);
  ADD ("forbidden", test_forbidden);
  ADD ("poisoned-entry", test_poisoned_entry);
  ADD ("finish-job-pokes", test_finish_job_pokes);
  ADD ("crash-mid-upload", test_crash_mid_upload);
  ADD ("queue-200-offline", test_queue_200_offline);
  g_test_add ("/upload/silent/read-timeout", Fixture, NULL, setup,
      test_read_timeout, teardown);
  g_test_add ("/upload/silent/connect-timeout", Fixture, NULL, setup,
      test_connect_timeout, teardown);
  return g_test_run ();
}
