/* The recorder's timeline on a manual clock: where files go when the wall
 * clock steps forwards or backwards, when sync arrives with an offset, and
 * at a start with the clock behind the last indexed footage. */
#include "core/lb-clock.h"
#include "core/lb-time.h"
#include "recorder/lb-timeline.h"

#define S(x) ((gint64) ((x) * LB_NS_PER_SEC))
#define T0 G_GINT64_CONSTANT (1800000000000000000)
#define KEY "v/a"

typedef struct
{
  LbClock *clock;
  LbTimeline *tl;
  gint64 mono0;                 /* the manual clock's monotonic start */
} Fixture;

static void
set_up (Fixture * f, gconstpointer data)
{
  LbClockReading r;
  f->clock = lb_clock_new_manual (T0);
  lb_clock_read (f->clock, &r);
  f->mono0 = r.mono_ns;
  if (data)                     /* not synchronised */
    lb_clock_set_synced (f->clock, FALSE);
  f->tl = lb_timeline_new (f->clock);
  lb_timeline_add_input (f->tl, KEY, LB_TIME_NONE);
}

static void
tear_down (Fixture * f, gconstpointer data)
{
  lb_timeline_free (f->tl);
  lb_clock_free (f->clock);
}

/* Runs both clocks on by @s seconds and places a file whose first frame is
 * now (monotonic). */
static LbSegmentTiming
place_after (Fixture * f, gdouble s, gboolean continuing)
{
  LbClockReading r;
  LbSegmentTiming t;
  lb_clock_advance (f->clock, S (s));
  lb_clock_read (f->clock, &r);
  lb_timeline_place (f->tl, KEY, continuing, r.mono_ns, &t);
  return t;
}

static void
test_steady (Fixture * f, gconstpointer data)
{
  LbTimelineChange c;
  LbSegmentTiming a = place_after (f, 0, FALSE);
  g_assert_cmpint (a.start_ns, ==, T0);
  g_assert_true (a.synced);
  g_assert_false (a.held);
  LbSegmentTiming b = place_after (f, 60, TRUE);
  g_assert_cmpint (b.start_ns, ==, T0 + S (60));
  g_assert_cmpint (b.anchor_ns, ==, a.anchor_ns);
  g_assert_false (lb_timeline_poll (f->tl, &c));
  /* less than LB_TIMELINE_STEP_MIN: jitter, not a step */
  lb_clock_step (f->clock, S (0.05));
  g_assert_false (lb_timeline_poll (f->tl, &c));
}

/* Forwards: the next file is on the new anchor; the gap shows. */
static void
test_step_forward (Fixture * f, gconstpointer data)
{
  LbTimelineChange c;
  LbSegmentTiming a = place_after (f, 0, FALSE);
  lb_clock_advance (f->clock, S (10));
  lb_clock_step (f->clock, S (3600));
  g_assert_true (lb_timeline_poll (f->tl, &c));
  g_assert_cmpint (c.step_ns, ==, S (3600));
  g_assert_false (c.sync_changed);
  LbSegmentTiming b = place_after (f, 1, TRUE);
  g_assert_cmpint (b.anchor_ns, ==, a.anchor_ns + S (3600));
  g_assert_cmpint (b.start_ns, ==, T0 + S (11) + S (3600));
  g_assert_true (b.synced);
  g_assert_false (b.held);
}

/* Backwards: the input goes on after its footage (held, unsynchronised),
 * through a pause shorter than the step; a longer pause lets it rejoin the
 * clock, never before the end of its footage. */
static void
test_step_backward (Fixture * f, gconstpointer data)
{
  LbTimelineChange c;
  LbSegmentTiming a = place_after (f, 0, FALSE);
  lb_clock_advance (f->clock, S (10));
  lb_clock_step (f->clock, -S (30));
  g_assert_true (lb_timeline_poll (f->tl, &c));
  g_assert_cmpint (c.step_ns, ==, -S (30));
  LbSegmentTiming b = place_after (f, 1, TRUE);
  g_assert_true (b.held);
  g_assert_false (b.synced);
  g_assert_cmpint (b.anchor_ns, ==, a.anchor_ns);
  g_assert_cmpint (b.start_ns, ==, T0 + S (11));        /* right after a's frames */

  /* stops at 15 s (monotonic), back 10 s later: still 20 s behind */
  LbClockReading r;
  lb_clock_advance (f->clock, S (4));
  lb_clock_read (f->clock, &r);
  lb_timeline_stopped (f->tl, KEY, r.mono_ns);
  gint64 end = a.anchor_ns + r.mono_ns;
  LbSegmentTiming d = place_after (f, 10, FALSE);
  g_assert_true (d.held);
  g_assert_cmpint (d.start_ns, >=, end);
  g_assert_cmpint (d.start_ns, ==, end + S (10));       /* the pause shows */

  /* stops again, back 40 s later: the clock's time is past the footage */
  lb_clock_advance (f->clock, S (5));
  lb_clock_read (f->clock, &r);
  lb_timeline_stopped (f->tl, KEY, r.mono_ns);
  end = d.anchor_ns + r.mono_ns;
  LbSegmentTiming e = place_after (f, 40, FALSE);
  g_assert_false (e.held);
  g_assert_true (e.synced);
  g_assert_cmpint (e.anchor_ns, ==, a.anchor_ns - S (30));
  g_assert_cmpint (e.start_ns, >=, end);
  g_assert_cmpint (lb_timeline_get_anchor (f->tl, NULL), ==, e.anchor_ns);
}

/* Not synchronised, then synchronised with a step of an hour back: files
 * placed before carry the old anchor and are re-timed by the step; a file
 * placed before the re-time but indexed after it resolves to the new one;
 * the input continues on the synchronised anchor. */
static void
test_sync_arrives (Fixture * f, gconstpointer data)
{
  LbTimelineChange c;
  LbSegmentTiming a = place_after (f, 0, FALSE);
  g_assert_false (a.synced);
  g_assert_false (a.held);
  LbSegmentTiming b = place_after (f, 60, TRUE);
  g_assert_false (b.synced);

  lb_clock_advance (f->clock, S (20));
  lb_clock_step (f->clock, -S (3600));
  lb_clock_set_synced (f->clock, TRUE);
  g_assert_true (lb_timeline_poll (f->tl, &c));
  g_assert_true (c.sync_changed);
  g_assert_true (c.synced);
  g_assert_cmpint (c.step_ns, ==, -S (3600));
  g_assert_cmpint (c.anchor_ns, ==, a.anchor_ns - S (3600));

  /* before the re-time, a new file would go back before its footage: it
   * stays on the old anchor (and is re-timed with it) */
  LbSegmentTiming racing = place_after (f, 1, TRUE);
  g_assert_cmpint (racing.anchor_ns, ==, a.anchor_ns);
  g_assert_false (racing.synced);

  lb_timeline_retimed (f->tl, KEY, a.anchor_ns, c.anchor_ns);
  g_assert_true (lb_timeline_resolve (f->tl, KEY, &racing));
  g_assert_true (racing.synced);
  g_assert_cmpint (racing.anchor_ns, ==, c.anchor_ns);
  /* the wrong clock said T0 at the first frame: it was an hour early */
  g_assert_cmpint (racing.start_ns, ==, T0 - S (3600) + S (81));
  LbSegmentTiming d = place_after (f, 60, TRUE);
  g_assert_true (d.synced);
  g_assert_false (d.held);
  g_assert_cmpint (d.start_ns, ==, T0 - S (3600) + S (141));
  /* a synchronised timing is never moved */
  g_assert_false (lb_timeline_resolve (f->tl, KEY, &d));
}

/* A start with the clock behind the last indexed footage: the first file
 * goes right after it, held and unsynchronised, synchronised clock or
 * not. */
static void
test_start_behind (Fixture * f, gconstpointer data)
{
  lb_timeline_add_input (f->tl, KEY, T0 + S (3600));
  LbSegmentTiming a = place_after (f, 1, FALSE);
  g_assert_true (a.held);
  g_assert_false (a.synced);
  g_assert_cmpint (a.start_ns, ==, T0 + S (3600));
  LbSegmentTiming b = place_after (f, 60, TRUE);
  g_assert_true (b.held);
  g_assert_cmpint (b.start_ns, ==, T0 + S (3660));

  /* the other way round, nothing is held */
  lb_timeline_add_input (f->tl, "v/b", T0 - S (3600));
  LbClockReading r;
  LbSegmentTiming c;
  lb_clock_read (f->clock, &r);
  lb_timeline_place (f->tl, "v/b", FALSE, r.mono_ns, &c);
  g_assert_false (c.held);
  g_assert_cmpint (c.start_ns, ==, T0 + S (61));
}

/* A capture started again within a frame of the nominal end of the last
 * one (its last frame's duration runs past the restart): it begins at that
 * end, on the clock's epoch, nudged by less than a step, not held. */
static void
test_quick_restart (Fixture * f, gconstpointer data)
{
  LbClockReading r;
  LbSegmentTiming a = place_after (f, 0, FALSE);
  lb_clock_advance (f->clock, S (2.5));
  lb_clock_read (f->clock, &r);
  lb_timeline_stopped (f->tl, KEY, r.mono_ns + S (0.066));
  LbSegmentTiming b = place_after (f, 0.04, FALSE);
  g_assert_false (b.held);
  g_assert_true (b.synced);
  g_assert_cmpint (b.start_ns, ==, T0 + S (2.566));
  g_assert_cmpint (b.epoch_anchor_ns, ==, a.anchor_ns);
  g_assert_cmpint (b.anchor_ns, ==, a.anchor_ns + S (0.026));
  LbSegmentTiming c = place_after (f, 60, TRUE);
  g_assert_false (c.held);
  g_assert_cmpint (c.anchor_ns, ==, b.anchor_ns);
  g_assert_cmpint (c.epoch_anchor_ns, ==, a.anchor_ns);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(name, fn, unsynced) g_test_add (name, Fixture, \
      GINT_TO_POINTER (unsynced), set_up, fn, tear_down)
  ADD ("/timeline/steady", test_steady, FALSE);
  ADD ("/timeline/step-forward", test_step_forward, FALSE);
  ADD ("/timeline/step-backward", test_step_backward, FALSE);
  ADD ("/timeline/sync-arrives", test_sync_arrives, TRUE);
  ADD ("/timeline/start-behind", test_start_behind, FALSE);
  ADD ("/timeline/quick-restart", test_quick_restart, FALSE);
  return g_test_run ();
}
