/* Unit tests: clocks (wall, monotonic, sync status, boot) */
#include "core/lb-clock.h"
#include "core/lb-time.h"

#include <glib/gstdio.h>
#include <time.h>

#define S(x) ((gint64) ((x) * LB_NS_PER_SEC))

static void
test_manual (void)
{
  g_autoptr (LbClock) clock = lb_clock_new_manual (S (5000));
  LbClockReading a, b;

  lb_clock_read (clock, &a);
  g_assert_cmpint (a.wall_ns, ==, S (5000));
  g_assert_true (a.synced);     /* trusted until told otherwise */

  /* running on moves both clocks: the anchor stays */
  lb_clock_advance (clock, S (2));
  lb_clock_read (clock, &b);
  g_assert_cmpint (b.wall_ns, ==, S (5002));
  g_assert_cmpint (b.mono_ns - a.mono_ns, ==, S (2));
  g_assert_cmpint (b.wall_ns - b.mono_ns, ==, a.wall_ns - a.mono_ns);

  /* a step moves the wall clock alone */
  lb_clock_step (clock, -S (3600));
  lb_clock_read (clock, &b);
  g_assert_cmpint (b.wall_ns, ==, S (5002 - 3600));
  g_assert_cmpint (b.mono_ns - a.mono_ns, ==, S (2));
  g_assert_cmpint (lb_clock_now (clock), ==, S (5002 - 3600));
  lb_clock_set (clock, S (7000));
  g_assert_cmpint (lb_clock_now (clock), ==, S (7000));

  lb_clock_set_synced (clock, FALSE);
  lb_clock_read (clock, &b);
  g_assert_false (b.synced);
}

/* The shifted clock: the real clocks, the wall clock moved. */
static void
test_shifted (void)
{
  g_autoptr (LbClock) real = lb_clock_new_system ();
  g_autoptr (LbClock) shifted = lb_clock_new_shifted (S (3600));
  LbClockReading r, s;

  lb_clock_read (real, &r);
  lb_clock_read (shifted, &s);
  /* same monotonic clock, the anchors an hour apart (to a reading's jitter) */
  g_assert_cmpint (s.mono_ns, >=, r.mono_ns);
  gint64 d = (s.wall_ns - s.mono_ns) - (r.wall_ns - r.mono_ns);
  g_assert_cmpint (ABS (d - S (3600)), <, 50 * LB_NS_PER_MS);
  /* the monotonic clock is the one GStreamer's system clock reads */
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  g_assert_cmpint ((gint64) ts.tv_sec * LB_NS_PER_SEC + ts.tv_nsec, >=,
      s.mono_ns);

  lb_clock_step (shifted, -S (3600));
  lb_clock_read (shifted, &s);
  d = (s.wall_ns - s.mono_ns) - (r.wall_ns - r.mono_ns);
  g_assert_cmpint (ABS (d), <, 50 * LB_NS_PER_MS);
}

static void
test_sources (void)
{
  g_autoptr (LbClock) clock = lb_clock_new_system ();
  g_autofree gchar *dir = g_dir_make_tmp ("lb-clock-XXXXXX", NULL);
  g_autofree gchar *marker = g_build_filename (dir, "synchronized", NULL);
  LbClockReading r;
  LbTimeSource source = LB_TIME_SOURCE_TRUST;

  g_assert_true (lb_time_source_parse ("ntp", &source));
  g_assert_cmpint (source, ==, LB_TIME_SOURCE_NTP);
  g_assert_true (lb_time_source_parse ("file", &source));
  g_assert_cmpint (source, ==, LB_TIME_SOURCE_FILE);
  g_assert_true (lb_time_source_parse ("trust", &source));
  g_assert_cmpint (source, ==, LB_TIME_SOURCE_TRUST);
  g_assert_false (lb_time_source_parse ("gps", &source));

  lb_clock_read (clock, &r);
  g_assert_true (r.synced);

  lb_clock_set_time_source (clock, LB_TIME_SOURCE_FILE, marker);
  lb_clock_read (clock, &r);
  g_assert_false (r.synced);
  g_assert_true (g_file_set_contents (marker, "", 0, NULL));
  lb_clock_read (clock, &r);
  g_assert_true (r.synced);
  g_unlink (marker);
  lb_clock_read (clock, &r);
  g_assert_false (r.synced);

  /* The kernel's status: whatever this machine says, never synchronised
   * with a maximum error the kernel itself gives up at. */
  lb_clock_set_time_source (clock, LB_TIME_SOURCE_NTP, NULL);
  lb_clock_read (clock, &r);
  g_assert_cmpint (r.max_error_ns, >=, 0);
  if (r.max_error_ns >= S (16))
    g_assert_false (r.synced);
  g_test_message ("kernel: %s, maximum error %" G_GINT64_FORMAT " µs",
      r.synced ? "synchronised" : "not synchronised", r.max_error_ns / 1000);
  g_rmdir (dir);
}

static void
test_boot_id (void)
{
  g_autoptr (LbClock) clock = lb_clock_new_system ();
  g_autofree gchar *text = NULL;

  g_assert_true (g_file_get_contents ("/proc/sys/kernel/random/boot_id",
          &text, NULL, NULL));
  g_assert_cmpstr (lb_clock_get_boot_id (clock), ==, g_strstrip (text));
  g_assert_cmpstr (lb_clock_get_boot_id (NULL), ==, text);
  lb_clock_set_boot_id (clock, "another boot");
  g_assert_cmpstr (lb_clock_get_boot_id (clock), ==, "another boot");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/clock/manual", test_manual);
  g_test_add_func ("/clock/shifted", test_shifted);
  g_test_add_func ("/clock/sources", test_sources);
  g_test_add_func ("/clock/boot-id", test_boot_id);
  return g_test_run ();
}
