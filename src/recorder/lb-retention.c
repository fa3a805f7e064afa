/* lookback — retention: deleting the oldest footage */
#include "recorder/lb-retention.h"
#include "core/lb-debug.h"
#include "core/lb-error.h"
#include "core/lb-time.h"

#include <errno.h>
#include <glib/gstdio.h>

GST_DEBUG_CATEGORY_STATIC (lb_retention_debug);
#define GST_CAT_DEFAULT lb_retention_debug

#define PAGE 256

static gboolean
retain_input (LbStore * store, const LbFootageInput * in, gint64 max_age,
    gint64 max_bytes, gint64 now_ns, GString * report, GError ** error)
{
  gint64 total = in->bytes;
  gint64 cutoff = max_age > 0 ? now_ns - max_age : G_MININT64;
  gint64 after = G_MININT64;
  guint pinned_old = 0, deleted = 0;
  gint64 pinned_bytes = 0;

  for (;;) {
    g_autoptr (GPtrArray) page =
        lb_store_segment_oldest (store, in->vehicle, in->input, after, PAGE,
        error);
    if (page == NULL)
      return FALSE;
    if (page->len == 0)
      break;
    gboolean done = FALSE;
    for (guint i = 0; i < page->len && !done; i++) {
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
      if (g_unlink (seg->path) != 0 && errno != ENOENT) {
        g_set_error (error, LB_ERROR, LB_ERROR_IO, "cannot delete %s: %s",
            seg->path, g_strerror (errno));
        return FALSE;
      }
      if (!lb_store_segment_delete (store, seg->id, error))
        return FALSE;
      total -= seg->bytes;
      deleted++;
      GST_INFO ("deleted %s (%s)", seg->path, too_old ? "age" : "bytes");
      if (report)
        g_string_append_printf (report, "deleted %s (%s)\n", seg->path,
            too_old ? "older than max-age" : "over max-bytes");
    }
    if (done || page->len < PAGE)
      break;
  }

  if (max_bytes > 0 && total > max_bytes && pinned_old > 0) {
    GST_ERROR ("%s/%s stays over its retention budget: %" G_GINT64_FORMAT
        " bytes kept, " "max %" G_GINT64_FORMAT "; %u pinned segments (%"
        G_GINT64_FORMAT " bytes) are still " "needed by retrievals",
        in->vehicle, in->input, total, max_bytes, pinned_old, pinned_bytes);
    if (report)
      g_string_append_printf (report,
          "%s/%s over max-bytes: %u pinned segments kept " "(%" G_GINT64_FORMAT
          " bytes in all, max %" G_GINT64_FORMAT ")\n", in->vehicle, in->input,
          pinned_old, total, max_bytes);
  } else if (pinned_old > 0) {
    GST_WARNING ("%s/%s: %u segments past retention kept: pinned by retrievals",
        in->vehicle, in->input, pinned_old);
    if (report)
      g_string_append_printf (report,
          "%s/%s: %u pinned segments kept past retention\n", in->vehicle,
          in->input, pinned_old);
  }
  if (deleted)
    GST_DEBUG ("%s/%s: %u segments deleted, %" G_GINT64_FORMAT " bytes left",
        in->vehicle, in->input, deleted, total);
  return TRUE;
}

gboolean
lb_retention_run (LbStore * store, LbConfig * config, gint64 now_ns,
    GString * report, GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (config != NULL, FALSE);
  LB_DEBUG_INIT (lb_retention_debug, "lookback-retention",
      "lookback footage retention");

  g_autoptr (GPtrArray) inputs = lb_store_footage_inputs (store, NULL, error);
  if (inputs == NULL)
    return FALSE;
  for (guint i = 0; i < inputs->len; i++) {
    const LbFootageInput *in = g_ptr_array_index (inputs, i);
    const LbInputConfig *ic =
        lb_config_find_input (config, in->vehicle, in->input);
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
  return TRUE;
}

/* ---- the background runner ---- */

struct _LbRetention
{
  LbStore *store;
  LbConfig *config;
  LbClock *clock;
  gint64 interval_us;
  GThread *thread;
  GMutex lock;
  GCond cond;
  gboolean stop;                /* protected by lock */
  gboolean poked;               /* protected by lock */
  guint passes;                 /* protected by lock */
};

static gpointer
retention_thread (gpointer data)
{
  LbRetention *r = data;
  for (;;) {
    g_autoptr (GString) report = g_string_new (NULL);
    g_autoptr (GError) error = NULL;
    if (!lb_retention_run (r->store, r->config, lb_clock_now (r->clock), report,
            &error))
      GST_ERROR ("retention failed: %s", error->message);
    else if (report->len)
      GST_INFO ("retention:\n%s", report->str);
    g_mutex_lock (&r->lock);
    r->passes++;
    g_cond_broadcast (&r->cond);
    gint64 deadline = g_get_monotonic_time () + r->interval_us;
    while (!r->stop && !r->poked)
      if (!g_cond_wait_until (&r->cond, &r->lock, deadline))
        break;
    r->poked = FALSE;
    gboolean stop = r->stop;
    g_mutex_unlock (&r->lock);
    if (stop)
      return NULL;
  }
}

LbRetention *
lb_retention_start (LbStore * store, LbConfig * config, LbClock * clock)
{
  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (config != NULL, NULL);
  LB_DEBUG_INIT (lb_retention_debug, "lookback-retention",
      "lookback footage retention");

  LbRetention *r = g_new0 (LbRetention, 1);
  r->store = store;
  r->config = config;
  r->clock = clock;
  r->interval_us =
      lb_config_get_duration (config, "retention", "interval") / 1000;
  g_mutex_init (&r->lock);
  g_cond_init (&r->cond);
  r->thread = g_thread_new ("lb-retention", retention_thread, r);
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
  g_mutex_lock (&r->lock);
  r->stop = TRUE;
  g_cond_broadcast (&r->cond);
  g_mutex_unlock (&r->lock);
  g_thread_join (r->thread);
  g_mutex_clear (&r->lock);
  g_cond_clear (&r->cond);
  g_free (r);
}
