/* Jobs tests: resolving retrievals against the real footage index
 * (segments indexed through the store's write side, no files needed), and
 * the scheduler's decisions from it: unavailable, not yet, deadline, pins. */
#include "jobs/lb-jobs.h"
#include "core/lb-error.h"
#include "quota/lb-quota.h"
#include "store/lb-store-api.h"
#include "store/lb-store-footage.h"

#include <glib/gstdio.h>
#include <gst/gst.h>

#define T0 (G_GINT64_CONSTANT (1785000000) * LB_NS_PER_SEC)
#define S(x) ((gint64) ((x) * LB_NS_PER_SEC))

typedef struct
{
  gchar *dir;
  LbConfig *config;
  LbStore *store;
  LbClock *clock;
} Fixture;

/* A closed H.264 segment [start, end) with a keyframe every second. */
static LbSegment *
add_segment (Fixture * f, const gchar * input, gint64 start, gint64 end)
{
  g_autoptr (GError) error = NULL;
  LbSegment *seg = g_new0 (LbSegment, 1);
  seg->vehicle = g_strdup ("v1");
  seg->input = g_strdup (input);
  seg->path =
      lb_footage_segment_path (lb_store_get_dir (f->store), "v1", input, start);
  seg->start_ns = start;
  seg->end_ns = end;
  seg->codec = g_strdup ("h264");
  seg->caps = g_strdup ("video/x-h264");
  seg->width = 320;
  seg->height = 240;
  seg->fps_n = 30;
  seg->fps_d = 1;
  seg->init_size = 1000;
  seg->bytes = 1000 + (end - start) / LB_NS_PER_SEC * 10000;
  g_autoptr (GArray) kf = g_array_new (FALSE, TRUE, sizeof (LbKeyframe));
  for (gint64 t = start, i = 0; t < end; t += LB_NS_PER_SEC, i++) {
    LbKeyframe k =
        { 0, t, 1000 + i * 10000, 10000, 1100 + i * 10000, 3000, 30 };
    g_array_append_val (kf, k);
  }
  g_autoptr (GPtrArray) segs = g_ptr_array_new ();
  g_autoptr (GPtrArray) kfs = g_ptr_array_new ();
  g_ptr_array_add (segs, seg);
  g_ptr_array_add (kfs, kf);
  g_assert_true (lb_store_segment_add (f->store, segs, kfs, &error));
  g_assert_no_error (error);
  return seg;
}

static void
set_up (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  f->dir = g_dir_make_tmp ("lb-resolve-XXXXXX", &error);
  g_autofree gchar *conf =
      g_strdup_printf ("[store]\ndir=%s\n[jobs]\nworkers=1\n"
      "pending-deadline=30s\n", f->dir);
  f->config = lb_config_load_data (conf, "t.conf", &error);
  g_assert_no_error (error);
  g_autofree gchar *db = lb_config_get_db_path (f->config);
  f->store = lb_store_open (db, LB_STORE_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
  f->clock = lb_clock_new_manual (T0 + S (120));
}

static void
tear_down (Fixture * f, gconstpointer data)
{
  g_clear_pointer (&f->store, lb_store_free);
  g_clear_pointer (&f->config, lb_config_free);
  g_clear_pointer (&f->clock, lb_clock_free);
  g_autofree gchar *db = g_build_filename (f->dir, "lookback.db", NULL);
  const gchar *suffixes[] = { "", "-wal", "-shm" };
  for (guint i = 0; i < G_N_ELEMENTS (suffixes); i++) {
    g_autofree gchar *p = g_strconcat (db, suffixes[i], NULL);
    g_unlink (p);
  }
  g_rmdir (f->dir);
  g_free (f->dir);
}

static LbRetrieval *
row_for (LbMediaType media_type, const gchar * input, gint64 start, gint64 end)
{
  LbRetrieval *r = lb_retrieval_new ();
  r->id = 1;
  r->vehicle = g_strdup ("v1");
  r->input = g_strdup (input);
  r->media_type = media_type;
  r->start_ns = start;
  r->end_ns = end;
  return r;
}

static void
resolve (Fixture * f, LbRetrieval * row, LbJobFootage * out)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (lb_jobs_resolve_from_index (f->store, row, out, NULL, &error));
  g_assert_no_error (error);
}

static void
test_resolve (Fixture * f, gconstpointer data)
{
  lb_segment_free (add_segment (f, "road", T0, T0 + S (10)));
  lb_segment_free (add_segment (f, "road", T0 + S (20), T0 + S (30)));

  /* inside the first segment */
  {
    g_autoptr (LbRetrieval) row =
        row_for (LB_MEDIA_TYPE_VIDEO_HIGH_RES, "road", T0 + S (2.5),
        T0 + S (5));
    LbJobFootage fo = { 0 };
    resolve (f, row, &fo);
    g_assert_cmpint (fo.first_ns, ==, T0);
    g_assert_cmpint (fo.last_ns, ==, T0 + S (30));
    g_assert_cmpint (fo.covered_start_ns, ==, T0 + S (2.5));
    g_assert_cmpint (fo.covered_end_ns, ==, T0 + S (5));
    g_assert_cmpstr (fo.codec, ==, "h264");
    g_assert_cmpint (fo.width, ==, 320);
    g_assert_cmpint (fo.fps_n, ==, 30);
    g_assert_cmpuint (fo.gaps->len, ==, 0);
    /* from the keyframe at or before the start */
    g_assert_cmpuint (fo.keyframes_ns->len, >=, 3);
    g_assert_cmpint (g_array_index (fo.keyframes_ns, gint64, 0), ==,
        T0 + S (2));
    lb_job_footage_clear (&fo);
  }
  /* across the gap */
  {
    g_autoptr (LbRetrieval) row =
        row_for (LB_MEDIA_TYPE_VIDEO_LOW_RES, "road", T0 + S (5), T0 + S (25));
    LbJobFootage fo = { 0 };
    resolve (f, row, &fo);
    g_assert_cmpint (fo.covered_start_ns, ==, T0 + S (5));
    g_assert_cmpint (fo.covered_end_ns, ==, T0 + S (25));
    g_assert_cmpuint (fo.gaps->len, ==, 1);
    g_assert_cmpint (g_array_index (fo.gaps, LbTimeRange, 0).start_ns, ==,
        T0 + S (10));
    g_assert_cmpint (g_array_index (fo.gaps, LbTimeRange, 0).end_ns, ==,
        T0 + S (20));
    lb_job_footage_clear (&fo);
  }
  /* an image in the gap: nothing covers it */
  {
    g_autoptr (LbRetrieval) row =
        row_for (LB_MEDIA_TYPE_IMAGE, "road", T0 + S (15), T0 + S (15));
    LbJobFootage fo = { 0 };
    resolve (f, row, &fo);
    g_assert_cmpint (fo.covered_start_ns, ==, LB_TIME_NONE);
    lb_job_footage_clear (&fo);
  }
  /* an image in a segment */
  {
    g_autoptr (LbRetrieval) row =
        row_for (LB_MEDIA_TYPE_IMAGE, "road", T0 + S (21.5), T0 + S (21.5));
    LbJobFootage fo = { 0 };
    resolve (f, row, &fo);
    g_assert_cmpint (fo.covered_start_ns, ==, T0 + S (21.5));
    g_assert_cmpint (fo.covered_end_ns, ==, T0 + S (21.5));
    lb_job_footage_clear (&fo);
  }
  /* after the last footage; another input with nothing */
  {
    g_autoptr (LbRetrieval) row =
        row_for (LB_MEDIA_TYPE_VIDEO_HIGH_RES, "road", T0 + S (40),
        T0 + S (50));
    LbJobFootage fo = { 0 };
    resolve (f, row, &fo);
    g_assert_cmpint (fo.covered_start_ns, ==, LB_TIME_NONE);
    g_assert_cmpint (fo.last_ns, <, row->end_ns);
    lb_job_footage_clear (&fo);
    g_autoptr (LbRetrieval) other =
        row_for (LB_MEDIA_TYPE_IMAGE, "cabin", T0, T0);
    LbJobFootage none = { 0 };
    resolve (f, other, &none);
    g_assert_cmpint (none.last_ns, ==, LB_TIME_NONE);
    g_assert_cmpint (none.covered_start_ns, ==, LB_TIME_NONE);
    lb_job_footage_clear (&none);
  }
}

static gint64
create (Fixture * f, LbMediaType media_type, const gchar * input,
    gint64 start, gint64 end)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) rows =
      g_ptr_array_new_with_free_func ((GDestroyNotify) lb_retrieval_free);
  LbRetrieval *r = row_for (media_type, input, start, end);
  r->id = 0;
  r->retrieval_id = g_uuid_string_random ();
  r->media_id = g_uuid_string_random ();
  r->org = g_strdup ("acme");
  r->trigger_reason = g_strdup ("api");
  r->created_ns = lb_clock_now (f->clock);
  r->period = lb_quota_period (r->created_ns);
  r->status = LB_RETRIEVAL_PENDING;
  r->cost_reserved = lb_quota_cost (f->config, media_type, start, end);
  g_ptr_array_add (rows, r);
  g_assert_true (lb_store_api_create_retrieval (f->store, rows, 1e6, NULL,
          &error));
  return r->id;
}

static LbRetrievalStatus
status_after (Fixture * f, gint64 id, gdouble s)
{
  g_autoptr (GError) error = NULL;
  gint64 until = g_get_monotonic_time () + s * G_TIME_SPAN_SECOND;
  for (;;) {
    g_autoptr (LbRetrieval) r = NULL;
    g_assert_true (lb_store_api_get (f->store, id, &r, &error));
    if ((r->status != LB_RETRIEVAL_PENDING && r->status != LB_RETRIEVAL_RUNNING)
        || g_get_monotonic_time () > until)
      return r->status;
    g_usleep (20000);
  }
}

/* The engine's decisions with the real index: footage after the request
 * → unavailable at once; nothing yet → pending with the range pinned,
 * until the deadline → unavailable, pin gone. */
static void
test_decisions (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  lb_segment_free (add_segment (f, "road", T0, T0 + S (60)));
  g_autoptr (LbJobs) jobs = lb_jobs_new (f->config, f->store, NULL, &error);
  g_assert_no_error (error);
  lb_jobs_set_clock (jobs, f->clock);
  g_assert_true (lb_jobs_start (jobs, &error));

  gint64 before = create (f, LB_MEDIA_TYPE_VIDEO_HIGH_RES, "road", T0 - S (100),
      T0 - S (90));
  lb_jobs_poke (jobs);          /* as the API does on create */
  g_assert_cmpint (status_after (f, before, 10), ==, LB_RETRIEVAL_UNAVAILABLE);

  /* the clock is at T0 + 120 s; a request at T0 + 100 s on an input whose
   * footage ends at T0 + 60 s: not recorded yet */
  gint64 later =
      create (f, LB_MEDIA_TYPE_IMAGE, "road", T0 + S (100), T0 + S (100));
  lb_jobs_poke (jobs);
  g_assert_cmpint (status_after (f, later, 0.5), ==, LB_RETRIEVAL_PENDING);
  g_autoptr (LbSegment) probe = g_new0 (LbSegment, 1);
  probe->vehicle = g_strdup ("v1");
  probe->input = g_strdup ("road");
  probe->start_ns = T0 + S (90);
  probe->end_ns = T0 + S (110);
  g_assert_true (lb_store_segment_is_pinned (f->store, probe, &error));
  /* deadline: 30 s after the requested time */
  lb_clock_set (f->clock, T0 + S (131));
  lb_jobs_poke (jobs);          /* the manual clock jumped past the deadline */
  g_assert_cmpint (status_after (f, later, 10), ==, LB_RETRIEVAL_UNAVAILABLE);
  g_assert_false (lb_store_segment_is_pinned (f->store, probe, &error));
  gdouble used, reserved;
  g_assert_true (lb_quota_get_usage (f->store, "acme", lb_clock_now (f->clock),
          &used, &reserved, &error));
  g_assert_cmpfloat (used, ==, 0);
  g_assert_cmpfloat (reserved, ==, 0);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/jobs/resolve/index", Fixture, NULL, set_up, test_resolve,
      tear_down);
  g_test_add ("/jobs/resolve/decisions", Fixture, NULL, set_up, test_decisions,
      tear_down);
  return g_test_run ();
}
