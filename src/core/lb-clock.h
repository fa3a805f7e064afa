/* lookback — clocks: the wall clock, the monotonic clock, and whether the
 * wall clock is synchronised
 *
 * Footage is timed from the monotonic clock (CLOCK_MONOTONIC, which GStreamer's
 * system clock reads in its MONOTONIC mode): it never steps.  The wall clock
 * (CLOCK_REALTIME) gives it an anchor: wall − monotonic, the same value for
 * as long as the wall clock is not stepped (NTP slewing changes both clocks
 * alike).  A change of that difference is a step of the wall clock; a change
 * of it across a suspend is one too (the monotonic clock stops while
 * suspended).
 *
 * Whether the wall clock can be trusted comes from its time source:
 *   LB_TIME_SOURCE_NTP    the kernel's NTP status, as `timedatectl` shows it
 *                         (adjtimex: STA_UNSYNC clear and maxerror under the
 *                         kernel's own 16 s limit), kept by chronyd (rtcsync),
 *                         ntpd or systemd-timesyncd;
 *   LB_TIME_SOURCE_FILE   synchronised while a file exists (systemd-timesyncd
 *                         writes /run/systemd/timesync/synchronized; a script
 *                         that sets the clock from GPS can touch one);
 *   LB_TIME_SOURCE_TRUST  always synchronised (a clock with a battery, the
 *                         demo).
 *
 * The monotonic clock restarts at each boot: an anchor is only comparable
 * with another of the same boot (lb_clock_get_boot_id()).
 *
 * Tests replace the clock: a manual clock (both clocks stand still until
 * advanced; lb_clock_step() moves the wall clock alone) or a shifted one
 * (the real clocks, the wall clock moved by a delta that lb_clock_step()
 * changes while the monotonic one runs on), either with a sync status set
 * by hand (lb_clock_set_synced()).  lb_clock_now() on %NULL reads the real
 * wall clock.
 *
 * Thread-safe.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  LB_TIME_SOURCE_NTP,
  LB_TIME_SOURCE_FILE,
  LB_TIME_SOURCE_TRUST,
} LbTimeSource;

/* "ntp", "file", "trust" ([recorder] time-source). */
gboolean     lb_time_source_parse (const gchar *text, LbTimeSource *source);

typedef struct _LbClock LbClock;
typedef gint64 (*LbClockFunc) (gpointer user_data);

/**
 * LbClockReading:
 * @wall_ns: the wall clock, ns since the epoch
 * @mono_ns: the monotonic clock at the same instant, ns
 * @synced: the wall clock is known to be synchronised (its time source)
 * @max_error_ns: the kernel's maximum error estimate (LB_TIME_SOURCE_NTP),
 *   else 0
 */
typedef struct {
  gint64 wall_ns;
  gint64 mono_ns;
  gboolean synced;
  gint64 max_error_ns;
} LbClockReading;

/* The real clocks; the wall clock is trusted until
 * lb_clock_set_time_source() says otherwise. */
LbClock     *lb_clock_new_system  (void);
/* Tests: the real clocks with the wall clock moved by @delta_ns. */
LbClock     *lb_clock_new_shifted (gint64 delta_ns);
/* Tests: a wall clock at @start_ns and a monotonic clock at 1000 s, both
 * standing still until lb_clock_advance(). */
LbClock     *lb_clock_new_manual  (gint64 start_ns);
/* Tests: a wall clock read from @func (the monotonic clock is the real one). */
LbClock     *lb_clock_new_func    (LbClockFunc func, gpointer user_data);
void         lb_clock_free        (LbClock *clock);

/* The wall clock (ns since the epoch). */
gint64       lb_clock_now         (LbClock *clock);
/* Both clocks read together, and the sync status. */
void         lb_clock_read        (LbClock *clock, LbClockReading *reading);

/* Where the sync status comes from; @sync_file for LB_TIME_SOURCE_FILE. */
void         lb_clock_set_time_source (LbClock      *clock,
                                       LbTimeSource  source,
                                       const gchar  *sync_file);
/* Tests: the sync status, whatever the time source. */
void         lb_clock_set_synced  (LbClock *clock, gboolean synced);

/* The monotonic clock's boot: an id that changes at every boot
 * (/proc/sys/kernel/random/boot_id), or a random one for this process when
 * the kernel does not tell. */
const gchar *lb_clock_get_boot_id (LbClock *clock);
/* Tests: another boot. */
void         lb_clock_set_boot_id (LbClock *clock, const gchar *boot_id);

/* Manual clocks: the wall clock is set to @ns (a step). */
void         lb_clock_set         (LbClock *clock, gint64 ns);
/* Manual clocks: both clocks run on by @delta_ns. */
void         lb_clock_advance     (LbClock *clock, gint64 delta_ns);
/* Manual and shifted clocks: the wall clock steps by @delta_ns, the
 * monotonic clock does not. */
void         lb_clock_step        (LbClock *clock, gint64 delta_ns);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbClock, lb_clock_free)

G_END_DECLS
