/* lookback — the retrieval jobs engine: scheduler and workers */
#include "jobs/lb-jobs.h"

#include "core/lb-debug.h"
#include "core/lb-error.h"
#include "core/lb-log.h"
#include "core/lb-metrics.h"
#include "jobs/lb-job-kind.h"
#include "jobs/lb-job-metrics.h"
#include "jobs/lb-job-run.h"
#include "jobs/lb-job-waits.h"
#include "jobs/lb-pipelines.h"
#include "quota/lb-quota.h"
#include "store/lb-store-footage.h"
#include "upload/lb-uploader.h"

#include <errno.h>
#include <glib/gstdio.h>

GST_DEBUG_CATEGORY_STATIC (lb_jobs_debug);
#define GST_CAT_DEFAULT lb_jobs_debug


#define POLL_INTERVAL (100 * G_TIME_SPAN_MILLISECOND)   /* until the API pokes on create */

struct _LbJobs
{
  LbConfig *config;             /* not owned */
  LbStore *store;               /* not owned */
  LbUploader *uploader;         /* not owned; NULL when uploads are off */
  LbClock *clock;               /* not owned, NULL = real time */
  LbPipelines *pipelines;
  gchar *outputs_dir;
  gchar *db_path;
  LbJobsResolveFunc resolve;
  gpointer resolve_data;

  guint n_workers;              /* take any row */
  guint n_image_workers;        /* take images only */
  gint retries;
  gint64 pending_deadline;

  /* Never held while calling the store: the store's footage watcher
   * (on_footage) takes it under the store's state lock. */
  GMutex lock;
  GCond cond;
  gboolean stopping;            /* protected by lock */
  guint pokes;                  /* protected by lock */
  GPtrArray *threads;
  GPtrArray *cancellables;      /* one per worker */
  GHashTable *failures;         /* row id → transient failures so far; protected by lock */
  GHashTable *pinned;           /* row ids whose footage is pinned; protected by lock */
  guint finished;               /* protected by lock */
  gboolean claim_failing;       /* protected by lock: logged once */
  LbJobWaits *waits;            /* rows waiting for footage; its own lock */
};

void
lb_job_footage_clear (LbJobFootage * f)
{
  g_clear_pointer (&f->gaps, g_array_unref);
  g_clear_pointer (&f->unsynced, g_array_unref);
  g_clear_pointer (&f->keyframes_ns, g_array_unref);
  g_clear_pointer (&f->codec, g_free);
  g_clear_pointer (&f->sub_input, g_free);
  if (f->sub) {
    lb_job_footage_clear (f->sub);
    g_clear_pointer (&f->sub, g_free);
  }
}

/* What the index has for @row's range of @input (the row's, or its
 * sub-stream's) into @out. */
static gboolean
resolve_input (LbStore * store, const LbRetrieval * row, const gchar * input,
    LbJobFootage * out, GError ** error)
{
  LbFootagePlan *plan =
      lb_store_lookup (store, row->vehicle, input, row->start_ns,
      row->end_ns, error);
  if (plan == NULL)
    return FALSE;

  out->first_ns = plan->first_ns;
  out->last_ns = plan->last_ns;
  out->covered_start_ns = out->covered_end_ns = LB_TIME_NONE;
  out->gaps = g_array_new (FALSE, FALSE, sizeof (LbTimeRange));
  out->keyframes_ns = g_array_new (FALSE, FALSE, sizeof (gint64));
  if (plan->gaps)
    g_array_append_vals (out->gaps, plan->gaps->data, plan->gaps->len);
  /* all of the pieces: what is delivered may start before the range (at a
   * keyframe) or, for an image, be the frame nearest to it */
  out->unsynced = lb_footage_plan_unsynced (plan, G_MININT64, G_MAXINT64);
  for (guint i = 0; plan->pieces && i < plan->pieces->len; i++) {
    LbFootagePiece *piece = plan->pieces->pdata[i];
    LbSegment *seg = piece->segment;
    gint64 from = MAX (row->start_ns, seg->start_ns);
    gint64 to = MIN (row->end_ns, seg->end_ns);
    if (row->start_ns == row->end_ns) {
      /* an image: the lookup gives the segment that covers the instant, or
       * the nearest one across a crack of a frame or two */
      from = to = row->start_ns;
    } else if (to <= from) {
      continue;
    }
    if (out->covered_start_ns == LB_TIME_NONE) {
      out->covered_start_ns = from;
      out->codec = g_strdup (seg->codec);
      out->width = seg->width;
      out->height = seg->height;
      out->fps_n = seg->fps_n;
      out->fps_d = seg->fps_d;
    }
    out->covered_end_ns = to;
    out->audio |= seg->audio != NULL;
    out->silent |= seg->audio == NULL;
    for (guint k = 0; piece->keyframes && k < piece->keyframes->len; k++) {
      const LbKeyframe *kf = &g_array_index (piece->keyframes, LbKeyframe, k);
      g_array_append_val (out->keyframes_ns, kf->time_ns);
      out->keyframe_bytes += kf->sample_size;
    }
  }
  lb_footage_plan_free (plan);
  return TRUE;
}

/* The sub-stream of @row's input when it covers the whole range without a
 * gap, and carries audio all along when the main stream (@main) has any;
 * else NULL (a lookup failure of it too: the main stream is transcoded). */
static LbJobFootage *
resolve_sub (LbStore * store, const LbRetrieval * row,
    const LbJobFootage * main)
{
  g_autofree gchar *input = lb_footage_sub_input (row->input);
  LbJobFootage *sub = g_new0 (LbJobFootage, 1);

  if (!resolve_input (store, row, input, sub, NULL)
      || sub->covered_start_ns != row->start_ns
      || sub->covered_end_ns < row->end_ns || sub->gaps->len > 0
      || (main->audio && sub->silent)) {
    lb_job_footage_clear (sub);
    g_clear_pointer (&sub, g_free);
  } else {
    sub->sub_input = g_steal_pointer (&input);
  }
  return sub;
}

gboolean
lb_jobs_resolve_from_index (LbStore * store, const LbRetrieval * row,
    LbJobFootage * out, gpointer user_data, GError ** error)
{
  if (!resolve_input (store, row, row->input, out, error))
    return FALSE;
  if (row->media_type == LB_MEDIA_TYPE_VIDEO_LOW_RES
      && row->start_ns < row->end_ns)
    out->sub = resolve_sub (store, row, out);
  return TRUE;
}

static gint64
now_ns (LbJobs * jobs)
{
  return lb_clock_now (jobs->clock);
}

LbJobs *
lb_jobs_new (LbConfig * config, LbStore * store, LbUploader * uploader,
    GError ** error)
{
  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (store != NULL, NULL);

  LB_DEBUG_INIT (lb_jobs_debug, "lookback-jobs",
      "retrieval scheduler and workers");
  g_autoptr (LbJobs) jobs = g_new0 (LbJobs, 1);
  jobs->config = config;
  jobs->store = store;
  jobs->uploader = uploader;
  jobs->resolve = lb_jobs_resolve_from_index;
  g_mutex_init (&jobs->lock);
  g_cond_init (&jobs->cond);
  jobs->threads = g_ptr_array_new ();
  jobs->cancellables = g_ptr_array_new_with_free_func (g_object_unref);
  jobs->failures =
      g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  jobs->pinned =
      g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  jobs->waits = lb_job_waits_new ();

  jobs->n_workers = lb_config_get_job_workers (config, &jobs->n_image_workers);
  jobs->retries = lb_config_get_int (config, "jobs", "retries");
  jobs->pending_deadline =
      lb_config_get_duration (config, "jobs", "pending-deadline");
  jobs->db_path = g_strdup (lb_store_get_path (store));
  jobs->outputs_dir =
      g_build_filename (lb_store_get_dir (store), "outputs", NULL);
  jobs->pipelines = lb_pipelines_load (NULL, error);
  if (jobs->pipelines == NULL)
    return NULL;
  return g_steal_pointer (&jobs);
}

gboolean
lb_jobs_set_pipelines_dir (LbJobs * jobs, const gchar * dir, GError ** error)
{
  g_return_val_if_fail (jobs != NULL, FALSE);
  LbPipelines *p = lb_pipelines_load (dir, error);
  if (p == NULL)
    return FALSE;
  lb_pipelines_free (jobs->pipelines);
  jobs->pipelines = p;
  return TRUE;
}

void
lb_jobs_set_clock (LbJobs * jobs, LbClock * clock)
{
  g_return_if_fail (jobs != NULL);
  jobs->clock = clock;
}

void
lb_jobs_set_resolver (LbJobs * jobs, LbJobsResolveFunc func, gpointer user_data)
{
  g_return_if_fail (jobs != NULL);
  jobs->resolve = func ? func : lb_jobs_resolve_from_index;
  jobs->resolve_data = user_data;
}

guint
lb_jobs_get_n_workers (LbJobs * jobs)
{
  g_return_val_if_fail (jobs != NULL, 0);
  return jobs->n_workers;
}

guint
lb_jobs_get_n_image_workers (LbJobs * jobs)
{
  g_return_val_if_fail (jobs != NULL, 0);
  return jobs->n_image_workers;
}

guint
lb_jobs_get_n_finished (LbJobs * jobs)
{
  g_return_val_if_fail (jobs != NULL, 0);
  g_mutex_lock (&jobs->lock);
  guint n = jobs->finished;
  g_mutex_unlock (&jobs->lock);
  return n;
}

void
lb_jobs_poke (LbJobs * jobs)
{
  g_return_if_fail (jobs != NULL);
  g_mutex_lock (&jobs->lock);
  jobs->pokes++;
  g_cond_broadcast (&jobs->cond);
  g_mutex_unlock (&jobs->lock);
}

/* ---- one row ---------------------------------------------------------- */

/* What an operator's line about @row is about. */
#define ROW_CTX(row) LB_LOG_CTX (.vehicle = (row)->vehicle, .input = \
    (row)->input, .retrieval_id = (row)->retrieval_id)

typedef struct
{
  LbJobs *jobs;
  gint64 id;
  gdouble last;
  gint64 last_at;
} Progress;

static void
on_progress (gdouble progress, gpointer user_data)
{
  Progress *p = user_data;
  gint64 t = g_get_monotonic_time ();
  if (progress < 1.0 && progress - p->last < 0.05
      && t - p->last_at < G_TIME_SPAN_SECOND)
    return;
  p->last = progress;
  p->last_at = t;
  g_autoptr (GError) error = NULL;
  if (!lb_store_api_set_progress (p->jobs->store, p->id, MIN (progress, 0.99),
          &error))
    GST_WARNING ("row %" G_GINT64_FORMAT ": progress: %s", p->id,
        error->message);
}

/* The parts of @unsynced within [@start_ns, @end_ns] into @out (an
 * instant, @start_ns == @end_ns, inside one of them: that instant). */
static void
clip_ranges (const GArray * unsynced, gint64 start_ns, gint64 end_ns,
    GArray * out)
{
  for (guint i = 0; unsynced && i < unsynced->len; i++) {
    const LbTimeRange *u = &g_array_index (unsynced, LbTimeRange, i);
    LbTimeRange r = { MAX (u->start_ns, start_ns), MIN (u->end_ns, end_ns) };
    if (r.end_ns > r.start_ns || (start_ns == end_ns
            && u->start_ns <= start_ns && start_ns < u->end_ns)) {
      r.end_ns = MAX (r.end_ns, r.start_ns);
      g_array_append_val (out, r);
    }
  }
}

/* The coverage manifest of @row's output: @run's delivered range, the gaps
 * the index found and the delivered parts whose clock was not known to be
 * synchronised. */
static LbCoverage *
coverage_of (const LbRetrieval * row, const LbJobFootage * f,
    const LbJobRun * run)
{
  LbCoverage *c = lb_coverage_new ();
  c->requested_start_ns = row->start_ns;
  c->requested_end_ns = row->end_ns;
  c->delivered_start_ns = run->delivered_start_ns;
  c->delivered_end_ns = run->delivered_end_ns;
  c->sub_stream = run->sub_stream_used;
  if (f->gaps)
    g_array_append_vals (c->gaps, f->gaps->data, f->gaps->len);
  clip_ranges (f->unsynced, c->delivered_start_ns, c->delivered_end_ns,
      c->unsynced);
  return c;
}

/* Retention keeps the footage of a row that is pending or running. */
static void
pin (LbJobs * jobs, const LbRetrieval * row)
{
  g_mutex_lock (&jobs->lock);
  gboolean done = g_hash_table_contains (jobs->pinned, &row->id);
  if (!done) {
    gint64 *key = g_new (gint64, 1);
    *key = row->id;
    g_hash_table_add (jobs->pinned, key);
  }
  g_mutex_unlock (&jobs->lock);
  if (done)
    return;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *owner =
      g_strdup_printf ("retrieval:%" G_GINT64_FORMAT, row->id);
  /* one pin per owner, whatever a previous run left */
  if (!lb_store_unpin (jobs->store, owner, &error) ||
      !lb_store_pin (jobs->store, owner, row->vehicle, row->input,
          row->start_ns, row->end_ns, &error))
    GST_WARNING ("row %" G_GINT64_FORMAT ": pin: %s", row->id, error->message);
}

static void
unpin (LbJobs * jobs, gint64 id)
{
  g_mutex_lock (&jobs->lock);
  g_hash_table_remove (jobs->pinned, &id);
  g_mutex_unlock (&jobs->lock);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *owner = g_strdup_printf ("retrieval:%" G_GINT64_FORMAT, id);
  if (!lb_store_unpin (jobs->store, owner, &error))
    GST_WARNING ("row %" G_GINT64_FORMAT ": unpin: %s", id, error->message);
}

static void
count_finished (LbJobs * jobs, gint64 id)
{
  g_mutex_lock (&jobs->lock);
  jobs->finished++;
  g_hash_table_remove (jobs->failures, &id);
  g_mutex_unlock (&jobs->lock);
}

static void
finish_unavailable (LbJobs * jobs, const LbRetrieval * row, const gchar * why)
{
  g_autoptr (GError) error = NULL;
  lb_log (LB_LOG_INFO, ROW_CTX (row), "%s unavailable: %s",
      lb_media_type_to_string (row->media_type), why);
  unpin (jobs, row->id);
  if (!lb_store_api_finish_unavailable (jobs->store, row->id, why, &error))
    lb_log (LB_LOG_ERROR, ROW_CTX (row), "cannot record the retrieval as "
        "unavailable: %s", error->message);
  else
    lb_job_metrics_ended (row->media_type, "unavailable");
  count_finished (jobs, row->id);
}

static void
defer (LbJobs * jobs, const LbRetrieval * row, gint64 not_before)
{
  g_autoptr (GError) error = NULL;
  if (!lb_store_api_defer (jobs->store, row->id, not_before, &error))
    GST_WARNING ("row %" G_GINT64_FORMAT ": defer: %s", row->id,
        error->message);
}

/* A failure: retried while transient and under [jobs] retries. */
static void
fail (LbJobs * jobs, const LbRetrieval * row, const GError * err)
{
  gboolean transient = err->domain == LB_ERROR &&
      (err->code == LB_ERROR_IO || err->code == LB_ERROR_BUSY
      || err->code == LB_ERROR_FAILED);
  g_mutex_lock (&jobs->lock);
  gint n = GPOINTER_TO_INT (g_hash_table_lookup (jobs->failures, &row->id)) + 1;
  gint64 *key = g_new (gint64, 1);
  *key = row->id;
  g_hash_table_replace (jobs->failures, key, GINT_TO_POINTER (n));
  g_mutex_unlock (&jobs->lock);

  if (transient && n <= jobs->retries) {
    GST_INFO ("row %" G_GINT64_FORMAT ": %s; retry %d of %d", row->id,
        err->message, n, jobs->retries);
    defer (jobs, row, now_ns (jobs) + n * 200 * LB_NS_PER_MS);
    return;
  }
  g_autoptr (GError) error = NULL;
  lb_log (LB_LOG_WARNING, ROW_CTX (row), "%s failed%s: %s",
      lb_media_type_to_string (row->media_type), n > 1 ? " after retries" : "",
      err->message);
  unpin (jobs, row->id);
  if (!lb_store_api_finish_failed (jobs->store, row->id, err->message, &error))
    lb_log (LB_LOG_ERROR, ROW_CTX (row), "cannot record the retrieval as "
        "failed: %s", error->message);
  else
    lb_job_metrics_ended (row->media_type, "failed");
  count_finished (jobs, row->id);
}

/* ---- rows waiting for footage (lb-job-waits.h) ------------------------ */

/* The input has recorded nothing up to the row's end yet. */
static gboolean
footage_may_come (const LbRetrieval * row, const LbJobFootage * f)
{
  return f->last_ns == LB_TIME_NONE || f->last_ns < row->end_ns;
}

/* The row sleeps in the store until its deadline (one write) and waits in
 * memory for its footage. */
static void
wait_for_footage (LbJobs * jobs, const LbRetrieval * row, gint64 now,
    gint64 deadline)
{
  defer (jobs, row, deadline);
  lb_job_waits_add (jobs->waits, row, now, FALSE);
}

/* Checks the waiting rows that are due, reading the index only; those
 * whose footage is there are woken in the store.  TRUE when any was. */
static gboolean
check_waiting (LbJobs * jobs)
{
  gint64 now = now_ns (jobs);
  g_autoptr (GPtrArray) due = lb_job_waits_take_due (jobs->waits, now);
  gboolean woke = FALSE;

  for (guint i = 0; due && i < due->len; i++) {
    const LbRetrieval *row = due->pdata[i];
    LbJobFootage f = {.first_ns = LB_TIME_NONE,.last_ns = LB_TIME_NONE };
    g_autoptr (GError) error = NULL;
    /* a resolver error is for the row's own run to report */
    gboolean ready = !jobs->resolve (jobs->store, row, &f, jobs->resolve_data,
        NULL) || !footage_may_come (row, &f);
    lb_job_footage_clear (&f);
    if (!ready) {
      lb_job_waits_retry (jobs->waits, row->id, now);
      continue;
    }
    lb_job_waits_remove (jobs->waits, row->id);
    if (!lb_store_api_wake (jobs->store, row->id, &error))
      GST_WARNING ("row %" G_GINT64_FORMAT ": wake: %s", row->id,
          error->message);
    GST_DEBUG ("row %" G_GINT64_FORMAT ": its footage is there", row->id);
    woke = TRUE;
  }
  return woke;
}

/* The store committed footage (any thread, under the store's state lock). */
static void
on_footage (const gchar * vehicle, const gchar * input, gint64 end_ns,
    gpointer user_data)
{
  LbJobs *jobs = user_data;

  if (lb_job_waits_footage (jobs->waits, vehicle, input, end_ns))
    lb_jobs_poke (jobs);
}

/* Rows a previous run left waiting for footage are checked at once. */
static gboolean
watch_footage (LbJobs * jobs, GError ** error)
{
  g_autoptr (GPtrArray) rows = NULL;
  gint64 now = now_ns (jobs);

  lb_store_set_footage_func (jobs->store, on_footage, jobs);
  if (!lb_store_api_list_open (jobs->store, &rows, error))
    return FALSE;
  for (guint i = 0; i < rows->len; i++) {
    const LbRetrieval *row = rows->pdata[i];
    if (row->status == LB_RETRIEVAL_PENDING && row->not_before_ns > now)
      lb_job_waits_add (jobs->waits, row, now, TRUE);
  }
  return TRUE;
}

/* What the index has for @row: TRUE with @f filled when the job can run;
 * FALSE when the row is done with for now (deferred until its footage is
 * recorded, unavailable, or failed). */
static gboolean
resolve_footage (LbJobs * jobs, LbRetrieval * row, LbJobFootage * f)
{
  g_autoptr (GError) error = NULL;
  gint64 now = now_ns (jobs);
  gint64 deadline = row->end_ns + jobs->pending_deadline;

  pin (jobs, row);
  if (!jobs->resolve (jobs->store, row, f, jobs->resolve_data, &error)) {
    fail (jobs, row, error);
    return FALSE;
  }
  /* Footage that may still come: the input has recorded nothing up to the
   * requested end yet. */
  gboolean may_come = footage_may_come (row, f);
  gboolean complete = f->covered_start_ns != LB_TIME_NONE &&
      (row->start_ns == row->end_ns || f->covered_end_ns >= row->end_ns);
  if (!complete && may_come && now < deadline) {
    GST_DEBUG ("row %" G_GINT64_FORMAT ": footage not recorded yet", row->id);
    wait_for_footage (jobs, row, now, deadline);
    return FALSE;
  }
  if (f->covered_start_ns == LB_TIME_NONE) {
    finish_unavailable (jobs, row, may_come ?
        "Nothing was recorded for this input and time before the pending deadline."
        : "Nothing was recorded for this input and time.");
    return FALSE;
  }
  return TRUE;
}

/* The job of @row over @f, with the [jobs] settings, written to @path. */
static LbJobRun
job_run_for (LbJobs * jobs, const LbRetrieval * row, const LbJobFootage * f,
    const gchar * path)
{
  LbConfig *c = jobs->config;
  LbJobRun run = {
    .media_type = row->media_type,.db_path = jobs->db_path,
    .vehicle = row->vehicle,.input = row->input,
    .start_ns = row->start_ns,.end_ns = row->end_ns,.output_path = path,
    .codec = f->codec,.width = f->width,.height = f->height,
    .fps_n = f->fps_n,.fps_d = f->fps_d,.keyframes_ns = f->keyframes_ns,
    .keyframe_bytes = f->keyframe_bytes,
    .low_res_width = lb_config_get_int (c, "jobs", "low-res-width"),
    .low_res_height = lb_config_get_int (c, "jobs", "low-res-height"),
    .low_res_bitrate = lb_config_get_int (c, "jobs", "low-res-bitrate"),
    .hyperlapse_interval_ns =
        lb_config_get_duration (c, "jobs", "hyperlapse-interval"),
    .hyperlapse_framerate =
        lb_config_get_int (c, "jobs", "hyperlapse-framerate"),
    .hyperlapse_max_output_ns =
        lb_config_get_duration (c, "jobs", "hyperlapse-max-output"),
    .hyperlapse_remux_max_kbps =
        lb_config_get_int (c, "jobs", "hyperlapse-remux-max-bitrate"),
    .copy_h264_only = g_str_equal (lb_config_get_string (c, "jobs",
            "high-res-codec"), "h264"),
  };
  if (f->sub) {
    const LbJobFootage *s = f->sub;
    run.sub.input = s->sub_input;
    run.sub.codec = s->codec;
    run.sub.width = s->width;
    run.sub.height = s->height;
    run.sub.fps_n = s->fps_n;
    run.sub.fps_d = s->fps_d;
    run.sub.keyframes_ns = s->keyframes_ns;
    run.sub.keyframe_bytes = s->keyframe_bytes;
  }
  return run;
}

/* Runs @run into @final (through @final.part, renamed when whole).  FALSE
 * when it did not: the row is then deferred (stopping), unavailable, or
 * failed. */
static gboolean
make_output (LbJobs * jobs, LbRetrieval * row, LbJobRun * run,
    const gchar * final, GCancellable * cancellable)
{
  g_autoptr (GError) error = NULL;
  const gchar *part = run->output_path;

  if (g_mkdir_with_parents (jobs->outputs_dir, 0755) < 0) {
    int e = errno;
    g_set_error (&error, LB_ERROR, LB_ERROR_IO, "cannot create %s: %s",
        jobs->outputs_dir, g_strerror (e));
    goto failed;
  }
  if (!lb_job_run (jobs->pipelines, run, &error)) {
    g_unlink (part);
    if (g_error_matches (error, LB_ERROR, LB_ERROR_BUSY)
        && g_cancellable_is_cancelled (cancellable))
      defer (jobs, row, 0);     /* stopping: runs again at the next start */
    else if (g_error_matches (error, LB_ERROR, LB_ERROR_UNAVAILABLE))
      finish_unavailable (jobs, row, error->message);
    else
      fail (jobs, row, error);
    return FALSE;
  }
  if (g_rename (part, final) < 0) {
    int e = errno;
    g_unlink (part);
    g_set_error (&error, LB_ERROR, LB_ERROR_IO, "cannot rename %s: %s", part,
        g_strerror (e));
    goto failed;
  }
  return TRUE;

failed:
  fail (jobs, row, error);
  return FALSE;
}

/* The output @rel (@final) is made: the row becomes available, now or
 * once uploaded, with its coverage and the cost of what was delivered. */
static void
hand_over (LbJobs * jobs, LbRetrieval * row, const LbJobFootage * f,
    const LbJobRun * run, const gchar * rel, const gchar * final)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LbCoverage) coverage = coverage_of (row, f, run);
  gdouble cost =
      lb_quota_cost (jobs->config, row->media_type, run->delivered_start_ns,
      run->delivered_end_ns);
  LbUploadJob done = {
    .retrieval_id = row->retrieval_id,.vehicle = row->vehicle,
    .input = row->input,.media_type = row->media_type,.path = rel,
    .delivered_start_ns = run->delivered_start_ns,
    .delivered_end_ns = run->delivered_end_ns,.coverage = coverage,
    .retrieval_row = row->id,.content_type = run->content_type,.cost = cost,
  };
  unpin (jobs, row->id);        /* the output exists: the footage may go */
  if (!lb_upload_finish_job (jobs->config, jobs->store, jobs->uploader, &done,
          now_ns (jobs), &error)) {
    lb_log (LB_LOG_WARNING, ROW_CTX (row), "cannot hand the output over: %s",
        error->message);
    g_unlink (final);
    if (!g_error_matches (error, LB_ERROR, LB_ERROR_INVALID))
      fail (jobs, row, error);
    return;
  }
  lb_log (LB_LOG_INFO, ROW_CTX (row), "%s %s: %s (%s, cost %.1f s)",
      lb_media_type_to_string (row->media_type),
      jobs->uploader ? "made, waiting for its upload" : "available", rel,
      run->template_used, cost);
  if (jobs->uploader == NULL)
    lb_job_metrics_ended (row->media_type, "available");
  count_finished (jobs, row->id);
}

/* One claimed row: its footage, its output, its hand-over. */
static void
process (LbJobs * jobs, LbRetrieval * row, GCancellable * cancellable)
{
  LbJobFootage f = {.first_ns = LB_TIME_NONE,.last_ns = LB_TIME_NONE,
    .covered_start_ns = LB_TIME_NONE,.covered_end_ns = LB_TIME_NONE
  };

  GST_DEBUG ("row %" G_GINT64_FORMAT ": %s %s/%s", row->id,
      lb_media_type_to_string (row->media_type), row->vehicle, row->input);
  if (resolve_footage (jobs, row, &f)) {
    g_autofree gchar *name = g_strconcat (row->media_id,
        lb_job_kind_for (row->media_type)->extension, NULL);
    g_autofree gchar *rel = g_build_filename ("outputs", name, NULL);
    g_autofree gchar *final = g_build_filename (jobs->outputs_dir, name, NULL);
    g_autofree gchar *part = g_strconcat (final, ".part", NULL);
    Progress progress = { jobs, row->id, 0, 0 };
    LbJobRun run = job_run_for (jobs, row, &f, part);
    gint64 began = g_get_monotonic_time ();
    run.progress = on_progress;
    run.progress_data = &progress;
    run.cancellable = cancellable;
    if (make_output (jobs, row, &run, final, cancellable))
      hand_over (jobs, row, &f, &run, rel, final);
    lb_job_metrics_duration (row->media_type,
        (g_get_monotonic_time () - began) / 1e6);
  }
  lb_job_footage_clear (&f);
}

/* ---- workers ---------------------------------------------------------- */

/* The store cannot hand out work: one line when that starts, one when it
 * ends, whatever the number of workers and polls. */
static void
log_claim_failure (LbJobs * jobs, const GError * error)
{
  g_mutex_lock (&jobs->lock);
  gboolean first = !jobs->claim_failing;
  jobs->claim_failing = TRUE;
  g_mutex_unlock (&jobs->lock);
  if (first)
    lb_log (LB_LOG_ERROR, NULL, "jobs cannot take retrievals from the "
        "store: %s", error->message);
  else
    GST_WARNING ("claim: %s", error->message);
}

static void
log_claim_success (LbJobs * jobs)
{
  g_mutex_lock (&jobs->lock);
  gboolean was = jobs->claim_failing;
  jobs->claim_failing = FALSE;
  g_mutex_unlock (&jobs->lock);
  if (was)
    lb_log (LB_LOG_INFO, NULL, "jobs take retrievals from the store again");
}

typedef struct
{
  LbJobs *jobs;
  GCancellable *cancellable;
  gint max_priority;            /* the rows it takes (lb_media_type_priority) */
} Worker;

static gpointer
worker_main (gpointer data)
{
  Worker *w = data;
  LbJobs *jobs = w->jobs;

  for (;;) {
    g_mutex_lock (&jobs->lock);
    gboolean stopping = jobs->stopping;
    guint pokes = jobs->pokes;
    g_mutex_unlock (&jobs->lock);
    if (stopping)
      break;

    g_autoptr (LbRetrieval) row = NULL;
    g_autoptr (GError) error = NULL;
    if (!lb_store_api_claim_next_upto (jobs->store, now_ns (jobs),
            w->max_priority, &row, &error))
      log_claim_failure (jobs, error);
    else
      log_claim_success (jobs);
    if (row) {
      lb_job_waits_remove (jobs->waits, row->id);
      process (jobs, row, w->cancellable);
      continue;
    }
    if (check_waiting (jobs))
      continue;
    gint64 until = g_get_monotonic_time () + POLL_INTERVAL;
    g_mutex_lock (&jobs->lock);
    while (!jobs->stopping && jobs->pokes == pokes)
      if (!g_cond_wait_until (&jobs->cond, &jobs->lock, until))
        break;
    g_mutex_unlock (&jobs->lock);
  }
  g_free (w);
  return NULL;
}

/* Outputs a crash left half written. */
static void
remove_partial_outputs (LbJobs * jobs)
{
  g_autoptr (GDir) d = g_dir_open (jobs->outputs_dir, 0, NULL);
  const gchar *name;
  while (d && (name = g_dir_read_name (d))) {
    if (!g_str_has_suffix (name, ".part") && !g_str_has_suffix (name, ".trim"))
      continue;
    g_autofree gchar *path = g_build_filename (jobs->outputs_dir, name, NULL);
    GST_INFO ("removing %s, left by a crash", path);
    g_unlink (path);
  }
}

/* The queue, for GET /metrics (on the rendering thread; reads the store). */
static void
collect_metrics (gpointer data)
{
  LbJobs *jobs = data;
  gint64 count = 0, oldest_ns = 0;

  if (!lb_store_api_pending_summary (jobs->store, &count, &oldest_ns, NULL))
    return;
  lb_metric_set (lb_metrics_gauge ("lookback_retrievals_pending",
          "Retrieval rows pending or running", NULL), NULL, count);
  lb_metric_set (lb_metrics_gauge ("lookback_retrievals_oldest_pending_age_"
          "seconds", "Age of the oldest pending or running retrieval row (0 "
          "when none)", NULL), NULL,
      count ? MAX (0, now_ns (jobs) - oldest_ns) / 1e9 : 0);
}

gboolean
lb_jobs_start (LbJobs * jobs, GError ** error)
{
  g_return_val_if_fail (jobs != NULL, FALSE);
  g_return_val_if_fail (jobs->threads->len == 0, FALSE);

  guint requeued = 0;
  if (!lb_store_api_requeue_running (jobs->store, &requeued, error))
    return FALSE;
  if (requeued)
    lb_log (LB_LOG_INFO, NULL, "%u retrievals were running when lookbackd "
        "stopped; they run again", requeued);
  remove_partial_outputs (jobs);
  if (!watch_footage (jobs, error))
    return FALSE;

  jobs->stopping = FALSE;
  /* The image workers: a still decodes at most one GOP, so a burst of them
   * may use every core while the long jobs leave recording one. */
  for (guint i = 0; i < jobs->n_workers + jobs->n_image_workers; i++) {
    Worker *w = g_new0 (Worker, 1);
    w->jobs = jobs;
    w->cancellable = g_cancellable_new ();
    w->max_priority = i < jobs->n_workers ? G_MAXINT :
        lb_media_type_priority (LB_MEDIA_TYPE_IMAGE);
    g_ptr_array_add (jobs->cancellables, w->cancellable);
    g_autofree gchar *name = g_strdup_printf (i < jobs->n_workers ?
        "lb-job-%u" : "lb-job-image-%u", i);
    g_ptr_array_add (jobs->threads, g_thread_new (name, worker_main, w));
  }
  GST_INFO ("%u workers and %u for images only, templates from %s",
      jobs->n_workers, jobs->n_image_workers,
      lb_pipelines_get_dir (jobs->pipelines));
  lb_metrics_add_collector (collect_metrics, jobs);
  return TRUE;
}

void
lb_jobs_stop (LbJobs * jobs)
{
  g_return_if_fail (jobs != NULL);

  lb_metrics_remove_collector (collect_metrics, jobs);
  lb_store_set_footage_func (jobs->store, NULL, NULL);
  g_mutex_lock (&jobs->lock);
  jobs->stopping = TRUE;
  g_cond_broadcast (&jobs->cond);
  g_mutex_unlock (&jobs->lock);
  for (guint i = 0; i < jobs->cancellables->len; i++)
    g_cancellable_cancel (jobs->cancellables->pdata[i]);
  for (guint i = 0; i < jobs->threads->len; i++)
    g_thread_join (jobs->threads->pdata[i]);
  lb_job_run_drain ();          /* stills' pipelines still stopping */
  g_ptr_array_set_size (jobs->threads, 0);
  g_ptr_array_set_size (jobs->cancellables, 0);
}

void
lb_jobs_free (LbJobs * jobs)
{
  if (jobs == NULL)
    return;
  if (jobs->threads->len)
    lb_jobs_stop (jobs);
  g_ptr_array_unref (jobs->threads);
  g_ptr_array_unref (jobs->cancellables);
  g_hash_table_unref (jobs->failures);
  g_hash_table_unref (jobs->pinned);
  lb_job_waits_free (jobs->waits);
  lb_pipelines_free (jobs->pipelines);
  g_free (jobs->outputs_dir);
  g_free (jobs->db_path);
  g_mutex_clear (&jobs->lock);
  g_cond_clear (&jobs->cond);
  g_free (jobs);
}
