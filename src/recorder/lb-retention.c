/* lookback — retention: what stays on disk */
#include "recorder/lb-retention.h"
#include "core/lb-debug.h"
#include "core/lb-disk.h"
#include "core/lb-error.h"
#include "core/lb-log.h"
#include "core/lb-metrics.h"
#include "core/lb-time.h"
#include "store/lb-store-api.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <glib/gstdio.h>

GST_DEBUG_CATEGORY_STATIC (lb_retention_debug);
#define GST_CAT_DEFAULT lb_retention_debug

#define PAGE 256
/* How often the thread checks the free-space floor between passes. */
#define FLOOR_PERIOD_US (5 * G_USEC_PER_SEC)

static void
debug_init (void)
{
  LB_DEBUG_INIT (lb_retention_debug, "lookback-retention",
      "lookback footage retention");
}

/* "1.5 MiB", with a plain space (GLib's has a no-break space): log lines
 * stay plain ASCII. */
static gchar *
format_size (gint64 bytes)
{
  g_autofree gchar *text =
      g_format_size_full ((guint64) MAX (bytes, 0), G_FORMAT_SIZE_IEC_UNITS);
  GString *out = g_string_new (text);
  g_string_replace (out, "\u00a0", " ", 0);
  return g_string_free (out, FALSE);
}

/* What a pass deleted of one input, for its log line. */
typedef struct
{
  guint segments;
  gint64 bytes;
  gint64 first_ns, last_ns;     /* the footage deleted */
} Deleted;

static void
deleted_add (Deleted * d, const LbSegment * seg)
{
  if (d->segments == 0 || seg->start_ns < d->first_ns)
    d->first_ns = seg->start_ns;
  if (d->segments == 0 || seg->end_ns > d->last_ns)
    d->last_ns = seg->end_ns;
  d->segments++;
  d->bytes += seg->bytes;
}

static const gchar *const deletion_reasons[] = { "age", "bytes", "floor" };

/* lookback_retention_deleted_*_total{reason}: @segments and @bytes more
 * deleted for @reason (one of deletion_reasons). */
static void
count_deleted (const gchar * reason, guint segments, gint64 bytes)
{
  lb_metric_add (lb_metrics_counter ("lookback_retention_deleted_segments_"
          "total", "Segments retention deleted, by reason: age (max-age), "
          "bytes (max-bytes), floor (min-free)", "reason"), LB_LABELS (reason),
      segments);
  lb_metric_add (lb_metrics_counter ("lookback_retention_deleted_bytes_total",
          "Bytes of footage retention deleted, by reason", "reason"),
      LB_LABELS (reason), bytes);
}

/* Logs and counts what a pass deleted of one input for @reason. */
static void
deleted_log (const Deleted * d, const gchar * vehicle, const gchar * input,
    const gchar * reason, const gchar * why)
{
  if (d->segments == 0)
    return;
  count_deleted (reason, d->segments, d->bytes);
  g_autofree gchar *a = lb_time_format_rfc3339 (d->first_ns);
  g_autofree gchar *b = lb_time_format_rfc3339 (d->last_ns);
  g_autofree gchar *size = format_size (d->bytes);
  lb_log (LB_LOG_INFO, LB_LOG_CTX (.vehicle = vehicle,.input = input),
      "retention deleted %u segment%s (%s, footage from %s to %s): %s",
      d->segments, d->segments == 1 ? "" : "s", size, a, b, why);
}

/* The file first, then its row. */
static gboolean
delete_segment (LbStore * store, const LbSegment * seg, GError ** error)
{
  if (g_unlink (seg->path) != 0 && errno != ENOENT) {
    gint e = errno;
    g_set_error (error, LB_ERROR, LB_ERROR_IO, "cannot delete %s: %s",
        seg->path, g_strerror (e));
    return FALSE;
  }
  return lb_store_segment_delete (store, seg->id, error);
}

static void
report_pinned (const LbFootageInput * in, gint64 total, gint64 max_bytes,
    guint pinned_old, gint64 pinned_bytes, GString * report)
{
  if (max_bytes > 0 && total > max_bytes) {
    lb_log (LB_LOG_ERROR, LB_LOG_CTX (.vehicle = in->vehicle,.input =
            in->input), "footage stays over its retention budget: %"
        G_GINT64_FORMAT " bytes kept, max %" G_GINT64_FORMAT "; %u pinned "
        "segments (%" G_GINT64_FORMAT " bytes) are still needed by retrievals",
        total, max_bytes, pinned_old, pinned_bytes);
    if (report)
      g_string_append_printf (report,
          "%s/%s over max-bytes: %u pinned segments kept " "(%" G_GINT64_FORMAT
          " bytes in all, max %" G_GINT64_FORMAT ")\n", in->vehicle, in->input,
          pinned_old, total, max_bytes);
  } else {
    GST_INFO ("%s/%s: %u segments past retention kept: pinned by retrievals",
        in->vehicle, in->input, pinned_old);
    if (report)
      g_string_append_printf (report,
          "%s/%s: %u pinned segments kept past retention\n", in->vehicle,
          in->input, pinned_old);
  }
}

static gboolean
retain_input (LbStore * store, const LbFootageInput * in, gint64 max_age,
    gint64 max_bytes, gint64 now_ns, GString * report, GError ** error)
{
  gint64 total = in->bytes;
  gint64 cutoff = max_age > 0 ? now_ns - max_age : G_MININT64;
  gint64 after = G_MININT64;
  guint pinned_old = 0;
  gint64 pinned_bytes = 0;
  Deleted by_age = { 0 }, by_bytes = { 0 };
  gboolean done = FALSE;

  while (!done) {
    g_autoptr (GPtrArray) page =
        lb_store_segment_oldest (store, in->vehicle, in->input, after, PAGE,
        error);
    if (page == NULL)
      return FALSE;
    done = page->len < PAGE;
    for (guint i = 0; i < page->len; i++) {
      LbSegment *seg = g_ptr_array_index (page, i);
      after = seg->start_ns;
      gboolean too_old = seg->end_ns <= cutoff;
      gboolean too_big = max_bytes > 0 && total > max_bytes;
      if (!too_old && !too_big) {
        done = TRUE;            /* the rest is newer and fits */
        break;
      }
      if (seg->open)
        continue;               /* being recorded */
      if (lb_store_segment_is_pinned (store, seg, NULL)) {
        pinned_old++;
        pinned_bytes += seg->bytes;
        continue;
      }
      if (!delete_segment (store, seg, error))
        return FALSE;
      total -= seg->bytes;
      deleted_add (too_old ? &by_age : &by_bytes, seg);
      GST_INFO ("deleted %s (%s)", seg->path, too_old ? "age" : "bytes");
      if (report)
        g_string_append_printf (report, "deleted %s (%s)\n", seg->path,
            too_old ? "older than max-age" : "over max-bytes");
    }
  }

  if (pinned_old > 0)
    report_pinned (in, total, max_bytes, pinned_old, pinned_bytes, report);
  deleted_log (&by_age, in->vehicle, in->input, "age", "older than max-age");
  deleted_log (&by_bytes, in->vehicle, in->input, "bytes", "over max-bytes");
  return TRUE;
}

/* ---- the free-space floor ---- */

typedef struct
{
  gboolean reached;             /* the floor was reached and is being held */
  gboolean stuck;               /* below it with nothing left to delete */
} FloorState;

/* The oldest segments of one input, page by page. */
typedef struct
{
  const LbFootageInput *in;
  GPtrArray *page;
  guint pos;
  gint64 after;
  gboolean last_page;
  Deleted deleted;
} Cursor;

static void
cursor_clear (gpointer p)
{
  Cursor *c = p;
  g_clear_pointer (&c->page, g_ptr_array_unref);
}

/* The cursor's oldest segment not looked at yet (*out NULL: none left). */
static gboolean
cursor_head (LbStore * store, Cursor * c, const LbSegment ** out,
    GError ** error)
{
  *out = NULL;
  if (c->page == NULL || c->pos >= c->page->len) {
    if (c->page && c->last_page)
      return TRUE;
    g_clear_pointer (&c->page, g_ptr_array_unref);
    c->page = lb_store_segment_oldest (store, c->in->vehicle, c->in->input,
        c->after, PAGE, error);
    if (c->page == NULL)
      return FALSE;
    c->pos = 0;
    c->last_page = c->page->len < PAGE;
  }
  if (c->pos < c->page->len)
    *out = c->page->pdata[c->pos];
  return TRUE;
}

/* The oldest segment of all inputs not looked at yet, and its cursor. */
static gboolean
oldest_head (LbStore * store, GArray * cursors, Cursor ** out_cursor,
    const LbSegment ** out, GError ** error)
{
  *out = NULL;
  for (guint i = 0; i < cursors->len; i++) {
    Cursor *c = &g_array_index (cursors, Cursor, i);
    const LbSegment *head;
    if (!cursor_head (store, c, &head, error))
      return FALSE;
    if (head && (*out == NULL || head->start_ns < (*out)->start_ns)) {
      *out = head;
      *out_cursor = c;
    }
  }
  return TRUE;
}

static void
floor_log_state (FloorState * state, gint64 free_b, gint64 size,
    gint64 floor, guint kept)
{
  g_autofree gchar *f = format_size (free_b);
  g_autofree gchar *s = format_size (size);
  g_autofree gchar *m = format_size (floor);

  if (free_b < floor && !state->stuck) {
    lb_log (LB_LOG_ERROR, NULL, "disk below its floor: %s free of %s, "
        "min-free is %s, and no more footage can be deleted (%u segments are "
        "being recorded or needed by retrievals)", f, s, m, kept);
    state->stuck = TRUE;
  } else if (free_b >= floor && state->stuck) {
    lb_log (LB_LOG_INFO, NULL, "disk back above its floor: %s free of %s, "
        "min-free is %s", f, s, m);
    state->stuck = FALSE;
  }
}

/* Deletes the oldest unpinned closed segments of all inputs until the disk
 * has @floor bytes free again.  Freed space is counted from the segments'
 * sizes as well as measured, so that a file system that frees lazily never
 * makes it delete more than it needs. */
static gboolean
free_to_floor (LbStore * store, gint64 free_b, gint64 floor,
    gint64 * out_free, guint * out_kept, GString * report, GError ** error)
{
  g_autoptr (GPtrArray) inputs = lb_store_footage_inputs (store, NULL, error);
  if (inputs == NULL)
    return FALSE;
  g_autoptr (GArray) cursors = g_array_new (FALSE, TRUE, sizeof (Cursor));
  g_array_set_clear_func (cursors, cursor_clear);
  for (guint i = 0; i < inputs->len; i++) {
    Cursor c = {.in = inputs->pdata[i],.after = G_MININT64 };
    g_array_append_val (cursors, c);
  }

  gint64 counted = free_b;
  gboolean ok = TRUE;
  while (ok && free_b < floor && counted < floor) {
    Cursor *c = NULL;
    const LbSegment *seg;
    if (!(ok = oldest_head (store, cursors, &c, &seg, error)) || seg == NULL)
      break;
    c->pos++;
    c->after = seg->start_ns;
    if (seg->open || lb_store_segment_is_pinned (store, seg, NULL)) {
      (*out_kept)++;
      continue;
    }
    if (!(ok = delete_segment (store, seg, error)))
      break;
    deleted_add (&c->deleted, seg);
    counted += seg->bytes;
    if (report)
      g_string_append_printf (report, "deleted %s (under min-free)\n",
          seg->path);
    ok = lb_disk_space (lb_store_get_dir (store), &free_b, NULL, error);
  }
  for (guint i = 0; i < cursors->len; i++) {
    Cursor *c = &g_array_index (cursors, Cursor, i);
    deleted_log (&c->deleted, c->in->vehicle, c->in->input, "floor",
        "the disk is at its floor (min-free)");
  }
  *out_free = free_b;
  return ok;
}

static gboolean
defend_floor (LbStore * store, LbConfig * config, FloorState * state,
    GString * report, GError ** error)
{
  gint64 free_b = 0, size = 0;
  if (!lb_disk_space (lb_store_get_dir (store), &free_b, &size, error))
    return FALSE;
  gint64 floor = lb_config_get_size_of (config, "store", "min-free", size);
  guint kept = 0;

  if (floor <= 0)
    return TRUE;
  if (free_b >= floor) {
    floor_log_state (state, free_b, size, floor, 0);
    if (free_b >= 2 * floor)
      state->reached = FALSE;
    return TRUE;
  }
  if (!state->reached) {
    g_autofree gchar *f = format_size (free_b);
    g_autofree gchar *m = format_size (floor);
    lb_log (LB_LOG_NOTICE, NULL, "disk floor reached: %s free, min-free is "
        "%s: the oldest footage is deleted from now on to keep it", f, m);
    state->reached = TRUE;
  }
  if (!free_to_floor (store, free_b, floor, &free_b, &kept, report, error))
    return FALSE;
  floor_log_state (state, free_b, size, floor, kept);
  return TRUE;
}

/* ---- one pass ---- */

static gboolean
retention_pass (LbStore * store, LbConfig * config, gint64 now_ns,
    FloorState * floor, GString * report, GError ** error)
{
  g_autoptr (GPtrArray) inputs = lb_store_footage_inputs (store, NULL, error);
  if (inputs == NULL)
    return FALSE;
  for (guint i = 0; i < inputs->len; i++) {
    const LbFootageInput *in = g_ptr_array_index (inputs, i);
    /* a sub-stream keeps its camera input's settings */
    g_autofree gchar *main_input = lb_footage_main_input (in->input, NULL);
    const LbInputConfig *ic =
        lb_config_find_input (config, in->vehicle, main_input);
    /* an input no longer configured keeps the [retention] defaults */
    gint64 max_age = ic ? ic->retention_max_age
        : lb_config_get_duration (config, "retention", "max-age");
    gint64 max_bytes = ic ? ic->retention_max_bytes
        : lb_config_get_size (config, "retention", "max-bytes");
    if (max_age <= 0 && max_bytes <= 0)
      continue;
    if (!retain_input (store, in, max_age, max_bytes, now_ns, report, error))
      return FALSE;
  }
  return defend_floor (store, config, floor, report, error);
}

gboolean
lb_retention_run (LbStore * store, LbConfig * config, gint64 now_ns,
    GString * report, GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (config != NULL, FALSE);
  debug_init ();

  FloorState floor = { 0 };
  return retention_pass (store, config, now_ns, &floor, report, error);
}

/* ---- outputs ---- */

/* Deletes <dir>/<name> when it is the output of a retrieval that became
 * available at or before @before_ns; *@out_bytes: its size, 0 if kept. */
static gboolean
sweep_output (LbStore * store, const gchar * dir, const gchar * name,
    gint64 before_ns, gint64 * out_bytes, GError ** error)
{
  const gchar *dot = strrchr (name, '.');
  g_autofree gchar *path = g_build_filename (dir, name, NULL);
  GStatBuf st;

  *out_bytes = 0;
  /* Half-written outputs are the job engine's; a file written after
   * @before_ns cannot have become available before it. */
  if (dot == NULL || dot == name || g_str_equal (dot, ".part")
      || g_str_equal (dot, ".trim") || g_stat (path, &st) != 0
      || !S_ISREG (st.st_mode) || (gint64) st.st_mtime * LB_NS_PER_SEC >
      before_ns)
    return TRUE;

  g_autofree gchar *media_id = g_strndup (name, dot - name);
  g_autoptr (LbRetrieval) r = NULL;
  g_autoptr (GError) local = NULL;
  if (!lb_store_api_get_media (store, media_id, &r, &local)) {
    if (g_error_matches (local, LB_ERROR, LB_ERROR_NOT_FOUND))
      return TRUE;              /* not available: pending, or not ours */
    g_propagate_error (error, g_steal_pointer (&local));
    return FALSE;
  }
  if (r->available_ns > before_ns)
    return TRUE;
  if (g_unlink (path) != 0) {
    gint e = errno;
    lb_log (LB_LOG_WARNING, LB_LOG_CTX (.vehicle = r->vehicle,.input =
            r->input,.retrieval_id = r->retrieval_id),
        "cannot delete the expired output %s: %s", path, g_strerror (e));
    return TRUE;
  }
  *out_bytes = st.st_size;
  return TRUE;
}

gboolean
lb_retention_sweep_outputs (LbStore * store, gint64 before_ns,
    GString * report, guint * out_deleted, GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  debug_init ();

  g_autofree gchar *dir =
      g_build_filename (lb_store_get_dir (store), "outputs", NULL);
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const gchar *name;
  guint deleted = 0;
  gint64 total = 0;

  while (d && (name = g_dir_read_name (d))) {
    gint64 bytes = 0;
    if (!sweep_output (store, dir, name, before_ns, &bytes, error))
      return FALSE;
    if (bytes == 0)
      continue;
    deleted++;
    total += bytes;
    if (report)
      g_string_append_printf (report, "deleted output %s/%s (URL expired)\n",
          dir, name);
  }
  if (deleted) {
    g_autofree gchar *size = format_size (total);
    lb_log (LB_LOG_INFO, NULL, "retention deleted %u output%s (%s) whose URL "
        "has expired", deleted, deleted == 1 ? "" : "s", size);
  }
  if (out_deleted)
    *out_deleted = deleted;
  return TRUE;
}

/* ---- the background runner ---- */

struct _LbRetention
{
  LbStore *store;
  LbConfig *config;
  LbClock *clock;
  gint64 output_ttl_ns;
  gint64 interval_us;
  GThread *thread;
  GMutex lock;
  GCond cond;
  gboolean stop;                /* protected by lock */
  gboolean poked;               /* protected by lock */
  guint passes;                 /* protected by lock */
  FloorState floor;             /* retention thread only */
  gchar *last_error;            /* retention thread only: logged once */
};

/* One line per distinct failure: a store that stays broken is not logged
 * every few seconds. */
static void
log_failure (LbRetention * r, const gchar * what, const GError * error)
{
  if (g_strcmp0 (r->last_error, error->message) == 0) {
    GST_WARNING ("%s failed again: %s", what, error->message);
    return;
  }
  lb_log (LB_LOG_ERROR, NULL, "%s failed: %s", what, error->message);
  g_free (r->last_error);
  r->last_error = g_strdup (error->message);
}

static void
full_pass (LbRetention * r)
{
  gint64 now = lb_clock_now (r->clock);
  g_autoptr (GString) report = g_string_new (NULL);
  g_autoptr (GError) error = NULL;

  if (!retention_pass (r->store, r->config, now, &r->floor, report, &error)) {
    log_failure (r, "retention", error);
    g_clear_error (&error);
  }
  if (r->output_ttl_ns > 0 && !lb_retention_sweep_outputs (r->store,
          now - r->output_ttl_ns, report, NULL, &error))
    log_failure (r, "the outputs sweep", error);
  if (report->len)
    GST_INFO ("retention:\n%s", report->str);
}

static void
floor_check (LbRetention * r)
{
  g_autoptr (GError) error = NULL;

  if (!defend_floor (r->store, r->config, &r->floor, NULL, &error))
    log_failure (r, "the disk floor check", error);
}

static gpointer
retention_thread (gpointer data)
{
  LbRetention *r = data;
  gint64 next_pass = 0;         /* monotonic µs */

  for (;;) {
    if (g_get_monotonic_time () >= next_pass) {
      full_pass (r);
      next_pass = g_get_monotonic_time () + r->interval_us;
      g_mutex_lock (&r->lock);
      r->passes++;
      g_cond_broadcast (&r->cond);
      g_mutex_unlock (&r->lock);
    } else {
      floor_check (r);
    }
    g_mutex_lock (&r->lock);
    gint64 wake = MIN (next_pass, g_get_monotonic_time () + FLOOR_PERIOD_US);
    while (!r->stop && !r->poked)
      if (!g_cond_wait_until (&r->cond, &r->lock, wake))
        break;
    if (r->poked)
      next_pass = 0;
    r->poked = FALSE;
    gboolean stop = r->stop;
    g_mutex_unlock (&r->lock);
    if (stop)
      return NULL;
  }
}

/* The store's footage and file system, for GET /metrics (on the rendering
 * thread; reads the store). */
static void
collect_metrics (gpointer data)
{
  LbRetention *r = data;
  LbMetric *footage = lb_metrics_gauge ("lookback_store_footage_bytes",
      "Bytes of recorded footage in the store", "vehicle,input");
  gint64 free_b = 0, size_b = 0;
  GStatBuf st;

  if (lb_disk_space (lb_store_get_dir (r->store), &free_b, &size_b, NULL)) {
    lb_metric_set (lb_metrics_gauge ("lookback_store_disk_free_bytes",
            "Free bytes of the store's file system (for lookbackd's user)",
            NULL), NULL, free_b);
    lb_metric_set (lb_metrics_gauge ("lookback_store_disk_size_bytes",
            "Size of the store's file system", NULL), NULL, size_b);
  }
  g_autofree gchar *wal = g_strconcat (lb_store_get_path (r->store), "-wal",
      NULL);
  lb_metric_set (lb_metrics_gauge ("lookback_store_wal_bytes",
          "Size of the index's SQLite write-ahead log", NULL), NULL,
      g_stat (wal, &st) == 0 ? st.st_size : 0);
  g_autoptr (GPtrArray) inputs = lb_store_footage_inputs (r->store, NULL, NULL);
  if (inputs == NULL)
    return;
  lb_metric_clear (footage);
  for (guint i = 0; i < inputs->len; i++) {
    const LbFootageInput *in = g_ptr_array_index (inputs, i);
    lb_metric_set (footage, LB_LABELS (in->vehicle, in->input), in->bytes);
  }
}

LbRetention *
lb_retention_start (LbStore * store, LbConfig * config,
    const LbRetentionOptions * options)
{
  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (config != NULL, NULL);
  debug_init ();

  LbRetention *r = g_new0 (LbRetention, 1);
  r->store = store;
  r->config = config;
  if (options) {
    r->clock = options->clock;
    r->output_ttl_ns = options->output_ttl_ns;
  }
  r->interval_us =
      lb_config_get_duration (config, "retention", "interval") / 1000;
  g_mutex_init (&r->lock);
  g_cond_init (&r->cond);
  r->thread = g_thread_new ("lb-retention", retention_thread, r);
  /* every reason from 0, so that rates work before the first deletion */
  for (guint i = 0; i < G_N_ELEMENTS (deletion_reasons); i++)
    count_deleted (deletion_reasons[i], 0, 0);
  lb_metrics_add_collector (collect_metrics, r);
  return r;
}

void
lb_retention_poke (LbRetention * r)
{
  g_return_if_fail (r != NULL);
  g_mutex_lock (&r->lock);
  r->poked = TRUE;
  g_cond_broadcast (&r->cond);
  g_mutex_unlock (&r->lock);
}

guint
lb_retention_get_passes (LbRetention * r)
{
  g_return_val_if_fail (r != NULL, 0);
  g_mutex_lock (&r->lock);
  guint n = r->passes;
  g_mutex_unlock (&r->lock);
  return n;
}

void
lb_retention_stop (LbRetention * r)
{
  if (r == NULL)
    return;
  lb_metrics_remove_collector (collect_metrics, r);
  g_mutex_lock (&r->lock);
  r->stop = TRUE;
  g_cond_broadcast (&r->cond);
  g_mutex_unlock (&r->lock);
  g_thread_join (r->thread);
  g_mutex_clear (&r->lock);
  g_cond_clear (&r->cond);
  g_free (r->last_error);
  g_free (r);
}
