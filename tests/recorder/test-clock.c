/* Recorder under a test wall clock (the real monotonic clock, the wall
 * clock shifted and stepped by the test): a step forwards or backwards
 * while recording, sync arriving with an offset, a restart with the clock
 * behind the last indexed footage, a restart once synchronised.  The index
 * never holds overlapping or misordered segments. */
#include "rec-util.h"

#include "core/lb-clock.h"
#include "core/lb-time.h"
#include "store/lb-store-footage.h"
#include "lb-test-common.h"

#define FPS 15
#define VEHICLE "veh-c"
#define INPUT "analog1"
#define HOUR (3600 * LB_NS_PER_SEC)
#define S(x) ((gint64) ((x) * LB_NS_PER_SEC))
/* the last frame ends a frame after it was captured */
#define FRAME (LB_NS_PER_SEC / FPS + LB_NS_PER_MS)

typedef struct
{
  gchar *dir;
  gchar *conf;
  LbClock *clock;
  RecLogCapture *log;
} Fixture;

static void
set_up (Fixture * f, gconstpointer data)
{
  f->dir = g_dir_make_tmp ("lb-clock-XXXXXX", NULL);
  f->conf = g_strdup_printf ("[store]\ndir=%s\n"
      "[recorder]\nsegment-duration=60s\nfragment-duration=1s\n"
      "[input " VEHICLE " " INPUT "]\n"
      "source=videotestsrc is-live=true pattern=ball ! "
      "video/x-raw,width=160,height=120,framerate=%d/1\n", f->dir, FPS);
  f->clock = lb_clock_new_shifted (0);
  lb_clock_set_synced (f->clock, TRUE);
  f->log = rec_log_capture_start ();
}

static void
tear_down (Fixture * f, gconstpointer data)
{
  rec_log_capture_stop (f->log);
  lb_clock_free (f->clock);
  lb_test_rm_rf (f->dir);
  g_free (f->dir);
  g_free (f->conf);
}

/* Records for @ms with the fixture's clock, then stops cleanly. */
static void
record (Fixture * f, guint ms, void (*midway) (Fixture *), guint more_ms)
{
  g_autoptr (RecSession) s = rec_session_start_clock (f->conf, f->clock);
  rec_run_for (ms);
  if (midway) {
    midway (f);
    rec_run_for (more_ms);
  }
  rec_session_stop (s);
}

static const LbSegment *
first_segment (GPtrArray * segs)
{
  return segs->pdata[0];
}

static const LbSegment *
last_segment (GPtrArray * segs)
{
  return segs->pdata[segs->len - 1];
}

static void
step_forward (Fixture * f)
{
  lb_clock_step (f->clock, HOUR);
}

/* Forwards while recording: the footage after the step is an hour later,
 * the gap shows, nothing is marked. */
static void
test_step_forward (Fixture * f, gconstpointer data)
{
  gint64 t0 = lb_time_now ();
  record (f, 3000, step_forward, 3500);
  gint64 t1 = lb_time_now ();
  g_autoptr (LbStore) store = lb_test_store_open (f->dir);
  g_autoptr (GPtrArray) segs = rec_sane_segments (store, VEHICLE, INPUT);
  g_assert_cmpuint (segs->len, >=, 2);
  g_assert_cmpint (first_segment (segs)->start_ns, >=, t0);
  g_assert_cmpint (first_segment (segs)->start_ns, <, t0 + S (3));
  g_assert_cmpint (last_segment (segs)->end_ns, >, t1 + HOUR - S (3));
  g_assert_cmpint (last_segment (segs)->end_ns, <=, t1 + HOUR + FRAME);
  gboolean gap = FALSE;
  for (guint i = 1; i < segs->len; i++) {
    const LbSegment *p = segs->pdata[i - 1], *s = segs->pdata[i];
    gap |= s->start_ns - p->end_ns > HOUR - S (2);
  }
  g_assert_true (gap);
  g_assert_cmpint (rec_unsynced_ns (store, VEHICLE, INPUT, t0, t1 + 2 * HOUR),
      ==, 0);
  g_assert_true (rec_log_capture_has (f->log, "wall clock stepped by +3600s"));
}

static void
step_backward (Fixture * f)
{
  lb_clock_step (f->clock, -HOUR);
}

/* Backwards while recording: the footage after the step goes on right
 * after the footage before it (held), marked unsynchronised; nothing lands
 * an hour back. */
static void
test_step_backward (Fixture * f, gconstpointer data)
{
  gint64 t0 = lb_time_now ();
  record (f, 3000, step_backward, 3500);
  gint64 t1 = lb_time_now ();
  g_autoptr (LbStore) store = lb_test_store_open (f->dir);
  g_autoptr (GPtrArray) segs = rec_sane_segments (store, VEHICLE, INPUT);
  g_assert_cmpuint (segs->len, >=, 2);
  g_assert_cmpint (first_segment (segs)->start_ns, >=, t0);
  g_assert_cmpint (last_segment (segs)->end_ns, <=, t1 + FRAME);
  for (guint i = 1; i < segs->len; i++) {
    const LbSegment *p = segs->pdata[i - 1], *s = segs->pdata[i];
    g_assert_cmpint (s->start_ns - p->end_ns, <, S (0.2));
  }
  g_assert_cmpint (first_segment (segs)->clock_epoch, ==, 0);
  g_assert_cmpint (last_segment (segs)->clock_epoch, !=, 0);
  g_assert_cmpint (rec_unsynced_ns (store, VEHICLE, INPUT, t0 - HOUR, t1), >,
      S (2));
  g_assert_true (rec_log_capture_has (f->log, "wall clock stepped by -3600s"));
  g_assert_true (rec_log_capture_has (f->log, "(held)"));
}

static void
sync_back (Fixture * f)
{
  lb_clock_step (f->clock, -HOUR);
  lb_clock_set_synced (f->clock, TRUE);
}

/* An hour ahead and not synchronised, then synchronised with the step
 * back: everything recorded, the segment open at that moment included,
 * moves to its true time; nothing stays marked or an hour ahead. */
static void
test_sync_arrives (Fixture * f, gconstpointer data)
{
  lb_clock_step (f->clock, HOUR);
  lb_clock_set_synced (f->clock, FALSE);
  gint64 t0 = lb_time_now ();
  record (f, 4000, sync_back, 3000);
  gint64 t1 = lb_time_now ();
  g_autoptr (LbStore) store = lb_test_store_open (f->dir);
  g_autoptr (GPtrArray) segs = rec_sane_segments (store, VEHICLE, INPUT);
  g_assert_cmpint (first_segment (segs)->start_ns, >=, t0);
  g_assert_cmpint (first_segment (segs)->start_ns, <, t0 + S (3));
  g_assert_cmpint (last_segment (segs)->end_ns, <=, t1 + FRAME);
  g_assert_cmpint (last_segment (segs)->end_ns, >, t1 - S (3));
  for (guint i = 0; i < segs->len; i++)
    g_assert_cmpint (((LbSegment *) segs->pdata[i])->clock_epoch, ==, 0);
  g_assert_cmpint (rec_unsynced_ns (store, VEHICLE, INPUT, t0 - HOUR,
          t1 + 2 * HOUR), ==, 0);
  g_assert_true (rec_log_capture_has (f->log,
          "wall clock synchronised, " "stepping by -3600s"));
  g_assert_true (rec_log_capture_has (f->log, "footage re-timed"));
}

/* A restart with the clock an hour behind the footage recorded by a clock
 * that said it was right: the old footage stays; the new goes on after it,
 * marked. */
static void
test_restart_behind (Fixture * f, gconstpointer data)
{
  lb_clock_step (f->clock, HOUR);
  gint64 t0 = lb_time_now ();
  record (f, 2500, NULL, 0);
  g_autoptr (LbStore) store = lb_test_store_open (f->dir);
  g_autoptr (GPtrArray) before = rec_sane_segments (store, VEHICLE, INPUT);
  const LbSegment *old = last_segment (before);
  g_assert_cmpint (old->start_ns, >=, t0 + HOUR);

  lb_clock_step (f->clock, -HOUR);
  record (f, 2500, NULL, 0);
  g_autoptr (GPtrArray) segs = rec_sane_segments (store, VEHICLE, INPUT);
  g_assert_cmpuint (segs->len, ==, before->len + 1);
  const LbSegment *kept = segs->pdata[before->len - 1];
  const LbSegment *held = last_segment (segs);
  g_assert_cmpint (kept->start_ns, ==, old->start_ns);
  g_assert_cmpint (kept->end_ns, ==, old->end_ns);
  g_assert_cmpint (kept->clock_epoch, ==, 0);
  g_assert_cmpint (held->start_ns, ==, old->end_ns);
  g_assert_cmpint (held->clock_epoch, !=, 0);
  g_assert_cmpint (rec_unsynced_ns (store, VEHICLE, INPUT, old->end_ns,
          held->end_ns), ==, held->end_ns - held->start_ns);
  g_assert_true (rec_log_capture_has (f->log, "(held)"));
}

/* A restart with the right time after footage recorded an hour ahead by a
 * clock that was not synchronised (same boot): that footage moves to its
 * true time first, the new footage follows it. */
static void
test_restart_synced (Fixture * f, gconstpointer data)
{
  lb_clock_step (f->clock, HOUR);
  lb_clock_set_synced (f->clock, FALSE);
  gint64 t0 = lb_time_now ();
  record (f, 2500, NULL, 0);
  gint64 t1 = lb_time_now ();
  g_autoptr (LbStore) store = lb_test_store_open (f->dir);
  g_assert_cmpint (rec_unsynced_ns (store, VEHICLE, INPUT, t0 + HOUR,
          t1 + HOUR), >, S (1));

  lb_clock_step (f->clock, -HOUR);
  lb_clock_set_synced (f->clock, TRUE);
  record (f, 2500, NULL, 0);
  gint64 t2 = lb_time_now ();
  g_autoptr (GPtrArray) segs = rec_sane_segments (store, VEHICLE, INPUT);
  g_assert_cmpuint (segs->len, ==, 2);
  g_assert_cmpint (first_segment (segs)->start_ns, >=, t0);
  g_assert_cmpint (first_segment (segs)->end_ns, <=, t1 + FRAME);
  g_assert_cmpint (last_segment (segs)->start_ns, >=, t1);
  g_assert_cmpint (last_segment (segs)->end_ns, <=, t2 + FRAME);
  g_assert_cmpint (rec_unsynced_ns (store, VEHICLE, INPUT, t0 - HOUR,
          t2 + 2 * HOUR), ==, 0);
  g_assert_true (rec_log_capture_has (f->log, "footage re-timed"));
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
#define ADD(name, fn) g_test_add (name, Fixture, NULL, set_up, fn, tear_down)
  ADD ("/clock/step-forward", test_step_forward);
  ADD ("/clock/step-backward", test_step_backward);
  ADD ("/clock/sync-arrives", test_sync_arrives);
  ADD ("/clock/restart-behind", test_restart_behind);
  ADD ("/clock/restart-synced", test_restart_synced);
  return g_test_run ();
}
