/* Jobs tests: the scheduler and workers against a real store, with stock
 * pipelines standing in for the templates and a scripted footage resolver:
 * statuses, quota books, retries, deadlines, restarts, a full disk. */
#include "jobs/lb-jobs.h"
#include "jobs/lb-pipelines.h"
#include "core/lb-error.h"
#include "quota/lb-quota.h"
#include "store/lb-store-api.h"
#include "store/lb-store-footage.h"
#include "upload/lb-uploader.h"
#include "lb-test-common.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>

#define T0 (G_GINT64_CONSTANT (1785000000) * LB_NS_PER_SEC)

/* Stock pipelines with the templates' names and named elements; their
 * frames carry wall-clock times from T0 like lbrecordingsrc's. */
#define TS "1785000000000000000"
static const struct
{
  const gchar *name;
  const gchar *text;
} stock[] = {
  {"image",
      "videotestsrc name=src timestamp-offset=" TS
        " num-buffers=1 pattern=ball ! video/x-raw,width=64,height=48 "
        "! videoconvert ! jpegenc name=enc ! filesink name=sink"},
  {"video-high-res",
      "videotestsrc name=src timestamp-offset=" TS
        " num-buffers=15 ! video/x-raw,width=64,height=48,"
        "framerate=15/1 ! x264enc name=enc ! mp4mux name=mux ! filesink name=sink"},
  {"video-high-res-transcode",
      "videotestsrc name=src timestamp-offset=" TS
        " num-buffers=15 ! video/x-raw,width=64,"
        "height=48,framerate=15/1 ! x264enc name=enc ! mp4mux name=mux ! filesink name=sink"},
  /* slow: 10 s of live video, for stopping mid-run */
  {"video-low-res",
      "videotestsrc name=src timestamp-offset=" TS
        " is-live=true num-buffers=150 ! video/x-raw,"
        "width=64,height=48,framerate=15/1 ! x264enc name=enc ! mp4mux name=mux "
        "! filesink name=sink"},
  /* big: 256 KiB of raw frames, more than the small disk holds */
  {"hyperlapse",
      "videotestsrc name=src num-buffers=60 pattern=snow ! video/x-raw,width=64,"
        "height=48,framerate=30/1 ! identity name=enc ! filesink name=sink"},
};

typedef struct
{
  gchar *dir;
  gchar *pipelines_dir;
  LbConfig *config;
  LbStore *store;
  LbClock *clock;
  LbJobs *jobs;
  GMutex lock;
  GCond cond;
  /* the gated resolver: rows other than images wait while the gate is
   * closed; blocked counts them */
  gboolean gate_closed;
  guint blocked;
  /* the scripted resolver */
  gint64 last_ns;               /* LB_TIME_NONE: nothing recorded */
  gboolean covered;
  gint fail_code;               /* 0: resolve normally */
  guint resolves;
  gboolean mounted;
} Fixture;

static gboolean
scripted_resolve (LbStore * store, const LbRetrieval * row, LbJobFootage * out,
    gpointer user_data, GError ** error)
{
  Fixture *f = user_data;
  g_mutex_lock (&f->lock);
  f->resolves++;
  gint code = f->fail_code;
  out->last_ns = f->last_ns;
  out->first_ns =
      f->last_ns == LB_TIME_NONE ? LB_TIME_NONE : T0 - 3600 * LB_NS_PER_SEC;
  gboolean covered = f->covered;
  g_mutex_unlock (&f->lock);
  if (code) {
    g_set_error (error, LB_ERROR, code, "scripted failure %d", code);
    return FALSE;
  }
  out->covered_start_ns = covered ? row->start_ns : LB_TIME_NONE;
  out->covered_end_ns = covered ? row->end_ns : LB_TIME_NONE;
  out->gaps = g_array_new (FALSE, FALSE, sizeof (LbTimeRange));
  out->codec = g_strdup ("h265");
  out->width = 64;
  out->height = 48;
  return TRUE;
}

static gboolean
gated_resolve (LbStore * store, const LbRetrieval * row, LbJobFootage * out,
    gpointer user_data, GError ** error)
{
  Fixture *f = user_data;
  if (row->media_type != LB_MEDIA_TYPE_IMAGE) {
    g_mutex_lock (&f->lock);
    f->blocked++;
    g_cond_broadcast (&f->cond);
    while (f->gate_closed)
      g_cond_wait (&f->cond, &f->lock);
    g_mutex_unlock (&f->lock);
  }
  return scripted_resolve (store, row, out, user_data, error);
}

static void
make_jobs (Fixture * f)
{
  g_autoptr (GError) error = NULL;
  f->jobs = lb_jobs_new (f->config, f->store, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (lb_jobs_set_pipelines_dir (f->jobs, f->pipelines_dir, &error));
  lb_jobs_set_clock (f->jobs, f->clock);
  lb_jobs_set_resolver (f->jobs, scripted_resolve, f);
}

static void
set_up (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  f->dir = g_dir_make_tmp ("lb-sched-XXXXXX", &error);
  g_assert_no_error (error);
  f->pipelines_dir = g_build_filename (f->dir, "pipelines", NULL);
  g_mkdir (f->pipelines_dir, 0755);
  for (guint i = 0; i < G_N_ELEMENTS (stock); i++) {
    g_autofree gchar *file = g_strconcat (stock[i].name, ".pipeline", NULL);
    g_autofree gchar *path = g_build_filename (f->pipelines_dir, file, NULL);
    g_assert_true (g_file_set_contents (path, stock[i].text, -1, NULL));
  }
  g_autofree gchar *conf =
      g_strdup_printf ("[store]\ndir=%s/store\n[jobs]\nworkers=2\n"
      "retries=2\npending-deadline=60s\n%s", f->dir,
      data ? (const gchar *) data : "");
  f->config = lb_config_load_data (conf, "test.conf", &error);
  g_assert_no_error (error);
  g_autofree gchar *store_dir = g_build_filename (f->dir, "store", NULL);
  g_mkdir (store_dir, 0755);
  g_autofree gchar *db = lb_config_get_db_path (f->config);
  f->store = lb_store_open (db, LB_STORE_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
  f->clock = lb_clock_new_manual (T0 + 60 * LB_NS_PER_SEC);
  g_mutex_init (&f->lock);
  g_cond_init (&f->cond);
  f->last_ns = T0 + 3600 * LB_NS_PER_SEC;
  f->covered = TRUE;
  make_jobs (f);
}

static void
tear_down (Fixture * f, gconstpointer data)
{
  g_clear_pointer (&f->jobs, lb_jobs_free);
  g_clear_pointer (&f->store, lb_store_free);
  g_clear_pointer (&f->config, lb_config_free);
  g_clear_pointer (&f->clock, lb_clock_free);
  if (f->mounted) {
    g_autofree gchar *outputs =
        g_build_filename (f->dir, "store", "outputs", NULL);
    umount (outputs);
  }
  lb_test_rm_rf (f->dir);
  g_free (f->dir);
  g_free (f->pipelines_dir);
  g_mutex_clear (&f->lock);
  g_cond_clear (&f->cond);
}

static gint64
create (Fixture * f, LbMediaType media_type, gint64 start, gint64 end)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) rows =
      g_ptr_array_new_with_free_func ((GDestroyNotify) lb_retrieval_free);
  LbRetrieval *r = lb_retrieval_new ();
  r->retrieval_id = g_uuid_string_random ();
  r->media_id = g_uuid_string_random ();
  r->org = g_strdup ("acme");
  r->vehicle = g_strdup ("v1");
  r->input = g_strdup ("dashcamRoadFacing");
  r->media_type = media_type;
  r->trigger_reason = g_strdup ("api");
  r->start_ns = start;
  r->end_ns = end;
  r->created_ns = lb_clock_now (f->clock);
  r->period = lb_quota_period (r->created_ns);
  r->status = LB_RETRIEVAL_PENDING;
  r->cost_reserved = lb_quota_cost (f->config, media_type, start, end);
  g_ptr_array_add (rows, r);
  g_assert_true (lb_store_api_create_retrieval (f->store, rows, 1e6, NULL,
          &error));
  g_assert_no_error (error);
  if (f->jobs)
    lb_jobs_poke (f->jobs);
  return r->id;
}

/* The manual clock runs on: the workers look again. */
static void
advance (Fixture * f, gint64 ns)
{
  lb_clock_advance (f->clock, ns);
  if (f->jobs)
    lb_jobs_poke (f->jobs);
}

static LbRetrieval *
get (Fixture * f, gint64 id)
{
  g_autoptr (GError) error = NULL;
  LbRetrieval *r = NULL;
  g_assert_true (lb_store_api_get (f->store, id, &r, &error));
  g_assert_no_error (error);
  return r;
}

/* Waits until the row is no longer pending/running (or @max_s passes). */
static LbRetrieval *
wait_done (Fixture * f, gint64 id, gdouble max_s)
{
  gint64 until = g_get_monotonic_time () + max_s * G_TIME_SPAN_SECOND;
  for (;;) {
    LbRetrieval *r = get (f, id);
    if ((r->status != LB_RETRIEVAL_PENDING && r->status != LB_RETRIEVAL_RUNNING)
        || g_get_monotonic_time () > until)
      return r;
    lb_retrieval_free (r);
    g_usleep (20000);
  }
}

static void
assert_books (Fixture * f, gdouble used, gdouble reserved)
{
  g_autoptr (GError) error = NULL;
  gdouble u, r;
  g_autofree gchar *period = lb_quota_period (lb_clock_now (f->clock));
  g_assert_true (lb_store_api_quota_usage (f->store, "acme", period, &u, &r,
          &error));
  g_assert_no_error (error);
  g_assert_cmpfloat_with_epsilon (u, used, 1e-6);
  g_assert_cmpfloat_with_epsilon (r, reserved, 1e-6);
}

/* Files in outputs/ (ignoring none). */
static guint
count_outputs (Fixture * f)
{
  g_autofree gchar *outputs =
      g_build_filename (f->dir, "store", "outputs", NULL);
  g_autoptr (GDir) d = g_dir_open (outputs, 0, NULL);
  guint n = 0;
  while (d && g_dir_read_name (d))
    n++;
  return n;
}

static void
test_image_available (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (lb_jobs_start (f->jobs, &error));
  gint64 id = create (f, LB_MEDIA_TYPE_IMAGE, T0, T0);
  g_autoptr (LbRetrieval) r = wait_done (f, id, 20);
  g_assert_cmpstr (lb_retrieval_status_to_string (r->status), ==, "available");
  g_assert_cmpstr (r->content_type, ==, "image/jpeg");
  g_autofree gchar *expect =
      g_strconcat ("outputs/", r->media_id, ".jpg", NULL);
  g_assert_cmpstr (r->output_path, ==, expect);
  g_autofree gchar *path =
      g_build_filename (f->dir, "store", r->output_path, NULL);
  g_autofree gchar *jpeg = NULL;
  gsize len;
  g_assert_true (g_file_get_contents (path, &jpeg, &len, NULL));
  g_assert_cmpuint (len, >, 100);
  g_assert_cmpint ((guchar) jpeg[0], ==, 0xff);
  g_assert_cmpint ((guchar) jpeg[1], ==, 0xd8);
  g_assert_cmpint (r->available_ns, ==, lb_clock_now (f->clock));
  g_assert_cmpfloat (r->progress, ==, 1.0);
  /* coverage: requested and delivered range, no gap */
  g_assert_nonnull (r->coverage);
  g_assert_cmpint (r->coverage->requested_start_ns, ==, T0);
  g_assert_cmpint (r->coverage->requested_end_ns, ==, T0);
  g_assert_cmpint (r->coverage->delivered_start_ns, ==, r->delivered_start_ns);
  g_assert_cmpint (r->coverage->delivered_end_ns, ==, r->delivered_end_ns);
  g_assert_cmpuint (r->coverage->gaps->len, ==, 0);
  assert_books (f, 0.1, 0);
  g_assert_cmpuint (count_outputs (f), ==, 1);
  /* counted just after the row's transaction */
  for (guint i = 0; i < 100 && lb_jobs_get_n_finished (f->jobs) == 0; i++)
    g_usleep (10000);
  g_assert_cmpuint (lb_jobs_get_n_finished (f->jobs), ==, 1);
}

/* An idle engine does not poll the store: once each worker has looked,
 * none claims again until poked; a created row (poked, as the API does)
 * still runs at once, well before the idle fallback (30 s). */
static void
test_idle_quiet (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (lb_jobs_start (f->jobs, &error));
  guint workers =
      lb_jobs_get_n_workers (f->jobs) + lb_jobs_get_n_image_workers (f->jobs);
  while (lb_jobs_get_n_claims (f->jobs) < workers)
    g_usleep (10000);
  g_usleep (G_USEC_PER_SEC);
  g_assert_cmpuint (lb_jobs_get_n_claims (f->jobs), ==, workers);

  gint64 id = create (f, LB_MEDIA_TYPE_IMAGE, T0, T0);
  g_autoptr (LbRetrieval) r = wait_done (f, id, 20);
  g_assert_cmpstr (lb_retrieval_status_to_string (r->status), ==, "available");
  /* the poke, the claim of the row and one more look per worker */
  g_assert_cmpuint (lb_jobs_get_n_claims (f->jobs), <=, 3 * workers + 1);
}

/* Footage exists after the requested time but none at it: unavailable at
 * once, refunded, nothing written. */
static void
test_unavailable (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  f->covered = FALSE;
  g_assert_true (lb_jobs_start (f->jobs, &error));
  gint64 id =
      create (f, LB_MEDIA_TYPE_VIDEO_HIGH_RES, T0, T0 + 10 * LB_NS_PER_SEC);
  g_autoptr (LbRetrieval) r = wait_done (f, id, 10);
  g_assert_cmpstr (lb_retrieval_status_to_string (r->status), ==,
      "unavailable");
  g_assert_nonnull (r->failure_reason);
  assert_books (f, 0, 0);
  g_assert_cmpuint (count_outputs (f), ==, 0);
}

/* Not recorded yet: stays pending (reservation held), then the footage
 * arrives and the row becomes available. */
static void
test_footage_arrives_late (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  f->covered = FALSE;
  f->last_ns = LB_TIME_NONE;    /* nothing recorded at all yet */
  g_assert_true (lb_jobs_start (f->jobs, &error));
  gint64 id =
      create (f, LB_MEDIA_TYPE_VIDEO_HIGH_RES, T0, T0 + 1 * LB_NS_PER_SEC);
  g_usleep (600000);
  {
    g_autoptr (LbRetrieval) r = get (f, id);
    g_assert_cmpstr (lb_retrieval_status_to_string (r->status), ==, "pending");
    assert_books (f, 0, 1.0);
  }
  g_mutex_lock (&f->lock);
  guint resolves = f->resolves;
  f->covered = TRUE;
  f->last_ns = T0 + 30 * LB_NS_PER_SEC;
  g_mutex_unlock (&f->lock);
  g_assert_cmpuint (resolves, >=, 1);
  /* re-checked every second of the (manual) clock */
  advance (f, 2 * LB_NS_PER_SEC);
  g_autoptr (LbRetrieval) r = wait_done (f, id, 20);
  g_assert_cmpstr (lb_retrieval_status_to_string (r->status), ==, "available");
  g_assert_cmpstr (r->content_type, ==, "video/mp4");
  g_assert_cmpuint (count_outputs (f), ==, 1);
  g_assert_cmpfloat (r->cost_committed, >, 0);
  assert_books (f, r->cost_committed, 0);
}

/* Nothing arrives before the pending deadline: unavailable, refunded. */
static void
test_pending_deadline (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  f->covered = FALSE;
  f->last_ns = T0 - 5 * LB_NS_PER_SEC;
  g_assert_true (lb_jobs_start (f->jobs, &error));
  gint64 id = create (f, LB_MEDIA_TYPE_IMAGE, T0 + 120 * LB_NS_PER_SEC,
      T0 + 120 * LB_NS_PER_SEC);
  g_usleep (400000);
  {
    g_autoptr (LbRetrieval) r = get (f, id);
    g_assert_cmpstr (lb_retrieval_status_to_string (r->status), ==, "pending");
  }
  /* deadline: 60 s after the requested end */
  lb_clock_set (f->clock, T0 + 181 * LB_NS_PER_SEC);
  g_autoptr (LbRetrieval) r = wait_done (f, id, 10);
  g_assert_cmpstr (lb_retrieval_status_to_string (r->status), ==,
      "unavailable");
  g_assert_nonnull (strstr (r->failure_reason, "deadline"));
  assert_books (f, 0, 0);
}

/* A transient failure is retried [jobs] retries times, then failed. */
static void
test_retries_then_failed (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  f->fail_code = LB_ERROR_IO;
  LbTestLogCapture *cap = lb_test_log_capture_start ();
  g_assert_true (lb_jobs_start (f->jobs, &error));
  gint64 id = create (f, LB_MEDIA_TYPE_IMAGE, T0, T0);
  /* retries are deferred on the manual clock */
  gint64 until = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;
  LbRetrieval *r = NULL;
  while (g_get_monotonic_time () < until) {
    advance (f, LB_NS_PER_SEC);
    r = get (f, id);
    if (r->status == LB_RETRIEVAL_FAILED)
      break;
    g_clear_pointer (&r, lb_retrieval_free);
    g_usleep (50000);
  }
  g_assert_nonnull (r);
  g_assert_cmpstr (lb_retrieval_status_to_string (r->status), ==, "failed");
  g_assert_nonnull (strstr (r->failure_reason, "scripted failure"));
  g_assert_cmpuint (f->resolves, ==, 3);        /* 1 + 2 retries */
  assert_books (f, 0, 0);
  /* the operator reads the failure once, not each retry */
  g_autofree gchar *events = lb_test_log_capture_text (cap);
  lb_test_log_capture_stop (cap);
  g_autofree gchar *line = g_strdup_printf ("warning image failed after "
      "retries: scripted failure %d input=dashcamRoadFacing retrieval=%s\n",
      LB_ERROR_IO, r->retrieval_id);
  const gchar *at = strstr (events, line);
  g_assert_nonnull (at);
  g_assert_null (strstr (at + strlen (line), "failed"));
  g_assert_null (g_strstr_len (events, at - events, "failed"));
  lb_retrieval_free (r);
}

/* Corrupt footage is not retried. */
static void
test_corrupt_fails_at_once (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  f->fail_code = LB_ERROR_CORRUPT;
  g_assert_true (lb_jobs_start (f->jobs, &error));
  gint64 id =
      create (f, LB_MEDIA_TYPE_VIDEO_LOW_RES, T0, T0 + 5 * LB_NS_PER_SEC);
  g_autoptr (LbRetrieval) r = wait_done (f, id, 10);
  g_assert_cmpstr (lb_retrieval_status_to_string (r->status), ==, "failed");
  g_assert_cmpuint (f->resolves, ==, 1);
  assert_books (f, 0, 0);
}

/* Stopped mid-run: the row goes back to pending, runs again after a
 * restart, ends once, charged once. */
static void
test_stop_and_restart (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (lb_jobs_start (f->jobs, &error));
  gint64 id =
      create (f, LB_MEDIA_TYPE_VIDEO_LOW_RES, T0, T0 + 4 * LB_NS_PER_SEC);
  /* running: the live stand-in takes 10 s */
  gint64 until = g_get_monotonic_time () + 5 * G_TIME_SPAN_SECOND;
  for (;;) {
    g_autoptr (LbRetrieval) r = get (f, id);
    if (r->status == LB_RETRIEVAL_RUNNING || g_get_monotonic_time () > until)
      break;
    g_usleep (10000);
  }
  g_usleep (300000);
  lb_jobs_stop (f->jobs);
  {
    g_autoptr (LbRetrieval) r = get (f, id);
    g_assert_cmpstr (lb_retrieval_status_to_string (r->status), ==, "pending");
    assert_books (f, 0, 1.0);
  }
  g_assert_cmpuint (count_outputs (f), ==, 0);
  g_clear_pointer (&f->jobs, lb_jobs_free);

  /* a quicker pipeline for the second run */
  g_autofree gchar *path =
      g_build_filename (f->pipelines_dir, "video-low-res.pipeline", NULL);
  g_assert_true (g_file_set_contents (path, stock[1].text, -1, NULL));
  make_jobs (f);
  g_assert_true (lb_jobs_start (f->jobs, &error));
  g_autoptr (LbRetrieval) r = wait_done (f, id, 20);
  g_assert_cmpstr (lb_retrieval_status_to_string (r->status), ==, "available");
  g_assert_cmpint (r->attempts, ==, 2);
  assert_books (f, r->cost_committed, 0);
  g_assert_cmpuint (count_outputs (f), ==, 1);
}

/* A crash (kill -9) leaves the row running and a half-written file: the
 * next start requeues the row and removes the file. */
static void
test_crash_recovery (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gint64 id = create (f, LB_MEDIA_TYPE_IMAGE, T0, T0);
  g_autoptr (LbRetrieval) claimed = NULL;
  g_assert_true (lb_store_api_claim_next (f->store, lb_clock_now (f->clock),
          &claimed, &error));
  g_assert_cmpint (claimed->id, ==, id);
  g_autofree gchar *outputs =
      g_build_filename (f->dir, "store", "outputs", NULL);
  g_mkdir_with_parents (outputs, 0755);
  g_autofree gchar *stale = g_build_filename (outputs, "dead.jpg.part", NULL);
  g_assert_true (g_file_set_contents (stale, "half", -1, NULL));

  g_assert_true (lb_jobs_start (f->jobs, &error));
  g_autoptr (LbRetrieval) r = wait_done (f, id, 20);
  g_assert_cmpstr (lb_retrieval_status_to_string (r->status), ==, "available");
  g_assert_false (g_file_test (stale, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (count_outputs (f), ==, 1);
  assert_books (f, 0.1, 0);
}

/* A full disk: writing the output fails; retried, then failed, refunded,
 * nothing left behind. */
static void
test_full_disk (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *outputs =
      g_build_filename (f->dir, "store", "outputs", NULL);
  g_mkdir_with_parents (outputs, 0755);
  if (mount ("tmpfs", outputs, "tmpfs", 0, "size=64k") == 0) {
    f->mounted = TRUE;
  } else {
    /* no mount here: a size limit on files does the same to filesink */
    struct rlimit rl = { 64 * 1024, 64 * 1024 };
    signal (SIGXFSZ, SIG_IGN);
    g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &rl), ==, 0);
  }
  g_assert_true (lb_jobs_start (f->jobs, &error));
  gint64 id = create (f, LB_MEDIA_TYPE_HYPERLAPSE, T0, T0 + 60 * LB_NS_PER_SEC);
  gint64 until = g_get_monotonic_time () + 20 * G_TIME_SPAN_SECOND;
  LbRetrieval *r = NULL;
  while (g_get_monotonic_time () < until) {
    advance (f, LB_NS_PER_SEC);
    r = get (f, id);
    if (r->status == LB_RETRIEVAL_FAILED || r->status == LB_RETRIEVAL_AVAILABLE)
      break;
    g_clear_pointer (&r, lb_retrieval_free);
    g_usleep (50000);
  }
  if (!f->mounted) {
    struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
    setrlimit (RLIMIT_FSIZE, &rl);
  }
  g_assert_nonnull (r);
  g_assert_cmpstr (lb_retrieval_status_to_string (r->status), ==, "failed");
  g_assert_nonnull (r->failure_reason);
  assert_books (f, 0, 0);
  g_assert_cmpuint (count_outputs (f), ==, 0);
  lb_retrieval_free (r);
}

/* With an upload endpoint, a finished output waits in the upload journal:
 * the row stays pending (progress 1) until the upload succeeds. */
static void
test_hands_over_to_upload (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (lb_jobs_start (f->jobs, &error));
  gint64 id = create (f, LB_MEDIA_TYPE_IMAGE, T0, T0);
  gint64 until = g_get_monotonic_time () + 20 * G_TIME_SPAN_SECOND;
  LbUploadCounts counts = { 0 };
  while (g_get_monotonic_time () < until) {
    g_assert_true (lb_store_upload_counts (f->store, &counts, &error));
    if (counts.waiting == 1)
      break;
    g_usleep (20000);
  }
  g_assert_cmpuint (counts.waiting, ==, 1);
  g_usleep (300000);            /* never claimed again */
  g_autoptr (LbRetrieval) r = get (f, id);
  g_assert_cmpstr (lb_retrieval_status_to_string (r->status), ==, "pending");
  g_assert_cmpfloat (r->progress, ==, 1.0);
  g_assert_cmpint (r->attempts, ==, 1);
  g_assert_cmpuint (count_outputs (f), ==, 1);
  assert_books (f, 0, 0.1);     /* committed when uploaded */
}

/* The index's own resolver, counted: how often rows were looked at. */
static gboolean
counting_resolve (LbStore * store, const LbRetrieval * row, LbJobFootage * out,
    gpointer user_data, GError ** error)
{
  Fixture *f = user_data;
  g_mutex_lock (&f->lock);
  f->resolves++;
  g_mutex_unlock (&f->lock);
  return lb_jobs_resolve_from_index (store, row, out, NULL, error);
}

/* Waits until rows were looked at @n times in all. */
static void
wait_resolves (Fixture * f, guint n)
{
  for (;;) {
    g_mutex_lock (&f->lock);
    guint done = f->resolves;
    g_mutex_unlock (&f->lock);
    if (done >= n)
      return;
    g_usleep (10000);
  }
}

/* Waits until every row of @ids is pending and deferred in the store. */
static void
wait_deferred (Fixture * f, const gint64 * ids, guint n)
{
  for (guint i = 0; i < n;) {
    g_autoptr (LbRetrieval) r = get (f, ids[i]);
    if (r->status == LB_RETRIEVAL_PENDING && r->not_before_ns > 0)
      i++;
    else
      g_usleep (10000);
  }
}

/* Footage of the fixture's input over [start, end), committed as the
 * recorder's indexer commits it: a segment begun, then a GOP a second. */
static void
record_footage (Fixture * f, gint64 start, gint64 end)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *path =
      lb_footage_segment_relpath ("v1", "dashcamRoadFacing", start);
  LbSegment seg = {.vehicle = (gchar *) "v1",.input =
        (gchar *) "dashcamRoadFacing",.path = path,.start_ns = start,
    .codec = (gchar *) "h264",.caps = (gchar *) "video/x-h264",.width = 64,
    .height = 48,.fps_n = 15,.fps_d = 1,.init_size = 1000,
  };
  g_assert_true (lb_store_segment_begin (f->store, &seg, &error));
  g_assert_no_error (error);
  for (gint64 t = start, off = 1000; t < end; t += LB_NS_PER_SEC) {
    g_autoptr (GArray) kf = g_array_new (FALSE, TRUE, sizeof (LbKeyframe));
    LbKeyframe k = { seg.id, t, off, 5000, off + 100, 2000, 15 };
    g_array_append_val (kf, k);
    off += k.size;
    g_assert_true (lb_store_segment_append (f->store, seg.id, 0, 0, kf,
            t + LB_NS_PER_SEC, off, &error));
    g_assert_no_error (error);
  }
}

/* Images dated ahead of what is recorded wait without writing: looked at
 * once, deferred in the store, then only read from the index as their
 * back-off runs out (1 s, 2 s, 4 s of the clock) — the store counts no
 * change.  The input's footage arriving runs them all at once, with the
 * clock standing still. */
static void
test_pending_quiet (Fixture * f, gconstpointer data)
{
  const gint64 ahead = T0 + 24 * 3600 * LB_NS_PER_SEC;
  enum
  { N = 30 };
  gint64 ids[N];
  g_autoptr (GError) error = NULL;

  lb_jobs_set_resolver (f->jobs, counting_resolve, f);
  g_assert_true (lb_jobs_start (f->jobs, &error));
  for (guint i = 0; i < N; i++)
    ids[i] = create (f, LB_MEDIA_TYPE_IMAGE, ahead + i * LB_NS_PER_SEC,
        ahead + i * LB_NS_PER_SEC);
  wait_resolves (f, N);
  wait_deferred (f, ids, N);

  guint64 writes = lb_store_get_n_changes (f->store);
  for (guint round = 1; round <= 3; round++) {
    advance (f, (G_GINT64_CONSTANT (1) << round) * LB_NS_PER_SEC);
    wait_resolves (f, N * (round + 1));
  }
  g_assert_cmpuint (lb_store_get_n_changes (f->store), ==, writes);
  for (guint i = 0; i < N; i++) {
    g_autoptr (LbRetrieval) r = get (f, ids[i]);
    g_assert_cmpint (r->status, ==, LB_RETRIEVAL_PENDING);
    g_assert_cmpint (r->attempts, ==, 1);
  }

  record_footage (f, ahead - 5 * LB_NS_PER_SEC, ahead + (N + 5) *
      LB_NS_PER_SEC);
  for (guint i = 0; i < N; i++) {
    g_autoptr (LbRetrieval) r = wait_done (f, ids[i], 30);
    g_assert_cmpstr (lb_retrieval_status_to_string (r->status), ==,
        "available");
    g_assert_cmpint (r->attempts, ==, 2);
  }
}

/* Rows left waiting by a previous run whose footage came meanwhile (an
 * import while lookbackd was down) run as soon as the engine starts. */
static void
test_pending_after_restart (Fixture * f, gconstpointer data)
{
  const gint64 ahead = T0 + 3600 * LB_NS_PER_SEC;
  g_autoptr (GError) error = NULL;

  lb_jobs_set_resolver (f->jobs, counting_resolve, f);
  g_assert_true (lb_jobs_start (f->jobs, &error));
  gint64 id = create (f, LB_MEDIA_TYPE_IMAGE, ahead, ahead);
  wait_deferred (f, &id, 1);
  g_clear_pointer (&f->jobs, lb_jobs_free);

  record_footage (f, ahead - 2 * LB_NS_PER_SEC, ahead + 2 * LB_NS_PER_SEC);
  make_jobs (f);
  lb_jobs_set_resolver (f->jobs, counting_resolve, f);
  g_assert_true (lb_jobs_start (f->jobs, &error));
  g_autoptr (LbRetrieval) r = wait_done (f, id, 30);
  g_assert_cmpstr (lb_retrieval_status_to_string (r->status), ==, "available");
}

/* A burst of stills is not stuck behind long jobs: with both workers busy
 * on clips, the image worker makes the image — and never takes a clip. */
static void
test_image_workers (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  lb_jobs_set_resolver (f->jobs, gated_resolve, f);
  f->gate_closed = TRUE;
  g_assert_cmpuint (lb_jobs_get_n_image_workers (f->jobs), ==, 1);
  g_assert_true (lb_jobs_start (f->jobs, &error));
  gint64 clips[3];
  for (guint i = 0; i < G_N_ELEMENTS (clips); i++)
    clips[i] = create (f, LB_MEDIA_TYPE_VIDEO_HIGH_RES, T0, T0 + LB_NS_PER_SEC);
  g_mutex_lock (&f->lock);
  while (f->blocked < 2)
    g_cond_wait (&f->cond, &f->lock);
  g_mutex_unlock (&f->lock);

  gint64 image = create (f, LB_MEDIA_TYPE_IMAGE, T0, T0);
  g_autoptr (LbRetrieval) r = wait_done (f, image, 20);
  g_assert_cmpstr (lb_retrieval_status_to_string (r->status), ==, "available");
  guint pending = 0;
  for (guint i = 0; i < G_N_ELEMENTS (clips); i++) {
    g_autoptr (LbRetrieval) c = get (f, clips[i]);
    pending += c->status == LB_RETRIEVAL_PENDING;
  }
  g_assert_cmpuint (pending, ==, 1);
  g_mutex_lock (&f->lock);
  g_assert_cmpuint (f->blocked, ==, 2);
  f->gate_closed = FALSE;
  g_cond_broadcast (&f->cond);
  g_mutex_unlock (&f->lock);
  for (guint i = 0; i < G_N_ELEMENTS (clips); i++) {
    g_autoptr (LbRetrieval) c = wait_done (f, clips[i], 20);
    g_assert_cmpstr (lb_retrieval_status_to_string (c->status), ==,
        "available");
  }
}

static void
test_default_workers (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("lb-sched-XXXXXX", &error);
  g_autofree gchar *conf = g_strdup_printf ("[store]\ndir=%s\n", dir);
  g_autoptr (LbConfig) config = lb_config_load_data (conf, "t.conf", &error);
  g_autofree gchar *db = lb_config_get_db_path (config);
  g_autoptr (LbStore) store = lb_store_open (db, LB_STORE_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
  g_autoptr (LbJobs) jobs = lb_jobs_new (config, store, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (lb_jobs_get_n_workers (jobs), ==, MAX (1,
          g_get_num_processors () - 1));
  g_assert_cmpuint (lb_jobs_get_n_image_workers (jobs), ==, 1);
  g_clear_pointer (&jobs, lb_jobs_free);
  g_clear_pointer (&store, lb_store_free);
  lb_test_rm_rf (dir);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
#define ADD(name, fn, data) g_test_add (name, Fixture, data, set_up, fn, tear_down)
  ADD ("/jobs/scheduler/image-available", test_image_available, NULL);
  ADD ("/jobs/scheduler/idle-quiet", test_idle_quiet, NULL);
  ADD ("/jobs/scheduler/unavailable", test_unavailable, NULL);
  ADD ("/jobs/scheduler/footage-arrives-late", test_footage_arrives_late, NULL);
  ADD ("/jobs/scheduler/pending-deadline", test_pending_deadline, NULL);
  ADD ("/jobs/scheduler/pending-quiet", test_pending_quiet, NULL);
  ADD ("/jobs/scheduler/pending-after-restart", test_pending_after_restart,
      NULL);
  ADD ("/jobs/scheduler/retries-then-failed", test_retries_then_failed, NULL);
  ADD ("/jobs/scheduler/corrupt-fails-at-once", test_corrupt_fails_at_once,
      NULL);
  ADD ("/jobs/scheduler/stop-and-restart", test_stop_and_restart, NULL);
  ADD ("/jobs/scheduler/crash-recovery", test_crash_recovery, NULL);
  ADD ("/jobs/scheduler/full-disk", test_full_disk, NULL);
  ADD ("/jobs/scheduler/hands-over-to-upload", test_hands_over_to_upload,
      "[upload]\nurl-template=http://127.0.0.1:9/{retrievalId}.{ext}\n");
  ADD ("/jobs/scheduler/image-workers", test_image_workers, NULL);
  g_test_add_func ("/jobs/scheduler/default-workers", test_default_workers);
  return g_test_run ();
}
