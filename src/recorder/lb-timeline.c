/* lookback — the recorder's timeline: anchors, steps, held inputs */
#include "recorder/lb-timeline.h"

#include "core/lb-log.h"
#include "core/lb-time.h"

typedef struct
{
  gint64 anchor_ns;             /* of its last file */
  gint64 epoch_anchor_ns;       /* of its last file */
  gboolean synced;              /* its last file was timed by the clock, synchronised */
  gboolean placed;              /* a file was placed in this run */
  gint64 end_ns;                /* where its footage ends (LB_TIME_NONE: none
                                 * known); meaningful between captures */
  GArray *retimed;              /* gint64 pairs: old anchor, new anchor */
} Input;

struct _LbTimeline
{
  LbClock *clock;               /* not owned */
  GMutex lock;
  gint64 anchor_ns;             /* lock */
  gboolean synced;              /* lock */
  GHashTable *inputs;           /* key → Input*; lock */
};

static void
input_free (gpointer p)
{
  Input *in = p;
  g_array_unref (in->retimed);
  g_free (in);
}

LbTimeline *
lb_timeline_new (LbClock * clock)
{
  g_return_val_if_fail (clock != NULL, NULL);

  LbTimeline *tl = g_new0 (LbTimeline, 1);
  LbClockReading r;
  tl->clock = clock;
  g_mutex_init (&tl->lock);
  tl->inputs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      input_free);
  lb_clock_read (clock, &r);
  tl->anchor_ns = r.wall_ns - r.mono_ns;
  tl->synced = r.synced;
  return tl;
}

void
lb_timeline_free (LbTimeline * tl)
{
  if (tl == NULL)
    return;
  g_hash_table_unref (tl->inputs);
  g_mutex_clear (&tl->lock);
  g_free (tl);
}

const gchar *
lb_timeline_get_boot_id (LbTimeline * tl)
{
  g_return_val_if_fail (tl != NULL, NULL);
  return lb_clock_get_boot_id (tl->clock);
}

gint64
lb_timeline_get_anchor (LbTimeline * tl, gboolean * synced)
{
  g_return_val_if_fail (tl != NULL, 0);

  g_mutex_lock (&tl->lock);
  gint64 anchor = tl->anchor_ns;
  if (synced)
    *synced = tl->synced;
  g_mutex_unlock (&tl->lock);
  return anchor;
}

gboolean
lb_timeline_poll (LbTimeline * tl, LbTimelineChange * change)
{
  g_return_val_if_fail (tl != NULL, FALSE);
  g_return_val_if_fail (change != NULL, FALSE);

  LbClockReading r;
  lb_clock_read (tl->clock, &r);
  gint64 anchor = r.wall_ns - r.mono_ns;

  g_mutex_lock (&tl->lock);
  gint64 step = anchor - tl->anchor_ns;
  if (ABS (step) <= LB_TIMELINE_STEP_MIN)
    step = 0;
  change->step_ns = step;
  change->sync_changed = r.synced != tl->synced;
  change->synced = r.synced;
  change->max_error_ns = r.max_error_ns;
  tl->anchor_ns += step;
  tl->synced = r.synced;
  change->anchor_ns = tl->anchor_ns;
  g_mutex_unlock (&tl->lock);
  return step != 0 || change->sync_changed;
}

/* Under the lock. */
static Input *
get_input (LbTimeline * tl, const gchar * key)
{
  Input *in = g_hash_table_lookup (tl->inputs, key);
  if (in == NULL) {
    in = g_new0 (Input, 1);
    in->end_ns = LB_TIME_NONE;
    in->retimed = g_array_new (FALSE, FALSE, sizeof (gint64));
    g_hash_table_insert (tl->inputs, g_strdup (key), in);
  }
  return in;
}

void
lb_timeline_add_input (LbTimeline * tl, const gchar * key, gint64 end_ns)
{
  g_return_if_fail (tl != NULL && key != NULL);

  g_mutex_lock (&tl->lock);
  get_input (tl, key)->end_ns = end_ns;
  g_mutex_unlock (&tl->lock);
}

void
lb_timeline_place (LbTimeline * tl, const gchar * key, gboolean continuing,
    gint64 mono_ns, LbSegmentTiming * timing)
{
  g_return_if_fail (tl != NULL && key != NULL && timing != NULL);

  g_mutex_lock (&tl->lock);
  Input *in = get_input (tl, key);
  /* where its footage ends: the previous file runs up to this frame */
  gint64 end = continuing && in->placed ? in->anchor_ns + mono_ns : in->end_ns;
  gint64 behind = end == LB_TIME_NONE ? 0 : end - (tl->anchor_ns + mono_ns);
  timing->held = behind > LB_TIMELINE_STEP_MIN;
  if (timing->held) {
    /* on its previous anchor (the pause in recording shows), or just after
     * the end of its footage: an epoch of its own */
    timing->anchor_ns = in->placed ? MAX (in->anchor_ns, end - mono_ns)
        : end - mono_ns;
    timing->epoch_anchor_ns = timing->anchor_ns;
    timing->synced = FALSE;
  } else {
    /* on the clock's anchor, or (a capture started again within a frame of
     * the nominal end of its last one, a held input the clock has nearly
     * caught up with) nudged after its footage by less than a step */
    timing->anchor_ns = tl->anchor_ns + MAX (behind, 0);
    timing->epoch_anchor_ns = tl->anchor_ns;
    timing->synced = tl->synced;
  }
  timing->start_ns = timing->anchor_ns + mono_ns;
  in->anchor_ns = timing->anchor_ns;
  in->epoch_anchor_ns = timing->epoch_anchor_ns;
  in->synced = timing->synced;
  in->placed = TRUE;
  g_mutex_unlock (&tl->lock);
}

void
lb_timeline_stopped (LbTimeline * tl, const gchar * key, gint64 mono_end_ns)
{
  g_return_if_fail (tl != NULL && key != NULL);

  g_mutex_lock (&tl->lock);
  Input *in = get_input (tl, key);
  if (in->placed)
    in->end_ns = MAX (in->end_ns, in->anchor_ns + mono_end_ns);
  g_mutex_unlock (&tl->lock);
}

void
lb_timeline_retimed (LbTimeline * tl, const gchar * key, gint64 old_anchor_ns,
    gint64 new_anchor_ns)
{
  g_return_if_fail (tl != NULL && key != NULL);

  g_mutex_lock (&tl->lock);
  Input *in = get_input (tl, key);
  gint64 pair[2] = { old_anchor_ns, new_anchor_ns };
  g_array_append_vals (in->retimed, pair, 2);
  if (in->placed && !in->synced && in->epoch_anchor_ns == old_anchor_ns) {
    /* its last file moved: so did the end of its footage */
    in->anchor_ns += new_anchor_ns - old_anchor_ns;
    in->epoch_anchor_ns = new_anchor_ns;
    in->synced = TRUE;
    if (in->end_ns != LB_TIME_NONE)
      in->end_ns += new_anchor_ns - old_anchor_ns;
  }
  g_mutex_unlock (&tl->lock);
}

gboolean
lb_timeline_resolve (LbTimeline * tl, const gchar * key,
    LbSegmentTiming * timing)
{
  g_return_val_if_fail (tl != NULL && key != NULL && timing != NULL, FALSE);

  gboolean found = FALSE;
  g_mutex_lock (&tl->lock);
  Input *in = g_hash_table_lookup (tl->inputs, key);
  for (guint i = 0; in && !timing->synced && i < in->retimed->len; i += 2) {
    gint64 old = g_array_index (in->retimed, gint64, i);
    gint64 new = g_array_index (in->retimed, gint64, i + 1);
    if (old == timing->epoch_anchor_ns) {
      timing->start_ns += new - old;
      timing->anchor_ns += new - old;
      timing->epoch_anchor_ns = new;
      timing->synced = TRUE;
      found = TRUE;
    }
  }
  g_mutex_unlock (&tl->lock);
  return found;
}

/* ---- operator log lines ---- */

/* Seconds to the millisecond (a step is read to a few µs). */
static gchar *
ms_duration (gint64 ns)
{
  gint64 ms = (ns + (ns >= 0 ? 1 : -1) * LB_NS_PER_MS / 2) / LB_NS_PER_MS;
  return lb_time_format_duration (ms * LB_NS_PER_MS);
}

static gchar *
signed_duration (gint64 ns)
{
  g_autofree gchar *d = ms_duration (ns);
  return g_strconcat (ns >= 0 ? "+" : "", d, NULL);
}

void
lb_timeline_log_start (LbTimeline * tl)
{
  g_return_if_fail (tl != NULL);

  gboolean synced = FALSE;
  lb_timeline_get_anchor (tl, &synced);
  if (synced)
    lb_log (LB_LOG_INFO, NULL, "wall clock synchronised: footage is timed "
        "from the monotonic clock anchored to it");
  else
    lb_log (LB_LOG_WARNING, NULL, "wall clock not known to be synchronised "
        "([recorder] time-source): new footage is marked unsynchronised, and "
        "moved to its true time once the clock is synchronised");
}

void
lb_timeline_log_change (const LbTimelineChange * c)
{
  g_return_if_fail (c != NULL);

  g_autofree gchar *step = signed_duration (c->step_ns);
  g_autofree gchar *err = lb_time_format_duration (c->max_error_ns);
  if (c->sync_changed && c->synced)
    lb_log (LB_LOG_INFO, NULL, "wall clock synchronised%s%s: footage recorded "
        "before is moved to its true time", c->step_ns ? ", stepping by " : "",
        c->step_ns ? step : "");
  else if (c->sync_changed)
    lb_log (LB_LOG_WARNING, NULL, "wall clock no longer known to be "
        "synchronised (maximum error %s)%s%s: new footage is marked "
        "unsynchronised until it is", err, c->step_ns ? ", stepping by " : "",
        c->step_ns ? step : "");
  else
    lb_log (LB_LOG_WARNING, NULL, "wall clock stepped by %s: new segments are "
        "timed from the new clock; footage already indexed stays where it is, "
        "and no input's new footage starts before its last", step);
}

void
lb_timeline_log_held (const gchar * vehicle, const gchar * input,
    gboolean held, gint64 behind_ns)
{
  const LbLogContext *ctx = LB_LOG_CTX (.vehicle = vehicle,.input = input);
  g_autofree gchar *by = ms_duration (behind_ns);

  if (held)
    lb_log (LB_LOG_WARNING, ctx, "the wall clock is %s behind the end of "
        "this input's footage: its new footage goes after it (held), marked "
        "unsynchronised", by);
  else
    lb_log (LB_LOG_INFO, ctx, "new footage is timed by the wall clock again");
}

void
lb_timeline_log_retime (const LbFootageRetime * r)
{
  g_return_if_fail (r != NULL);

  const LbLogContext *ctx = LB_LOG_CTX (.vehicle = r->vehicle,.input =
      r->input);
  g_autofree gchar *from = lb_time_format_rfc3339 (r->start_ns);
  g_autofree gchar *to = lb_time_format_rfc3339 (r->end_ns);
  g_autofree gchar *by = signed_duration (r->delta_ns);
  if (r->moved && r->delta_ns == 0) {
    lb_log (LB_LOG_INFO, ctx, "footage of %s .. %s recorded before the "
        "clock was synchronised is marked synchronised: the clock did not "
        "step", from, to);
  } else if (r->moved) {
    lb_log (LB_LOG_INFO, ctx, "footage re-timed: %u segment%s recorded before "
        "the clock was synchronised, %s .. %s, moved by %s", r->segments,
        r->segments == 1 ? "" : "s", from, to, by);
  } else {
    g_autofree gchar *b0 = lb_time_format_rfc3339 (r->blocker_start_ns);
    g_autofree gchar *b1 = lb_time_format_rfc3339 (r->blocker_end_ns);
    lb_log (LB_LOG_WARNING, ctx, "footage recorded before the clock was "
        "synchronised (%s .. %s) stays where it is, marked unsynchronised: "
        "moved by %s it would overlap footage at %s .. %s", from, to, by, b0,
        b1);
  }
}
