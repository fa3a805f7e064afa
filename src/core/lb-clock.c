/* lookback — clocks: wall, monotonic, synchronised or not */
#include "core/lb-clock.h"

#include <string.h>
#include <sys/timex.h>
#include <time.h>

/* The kernel sets STA_UNSYNC itself once its maximum error estimate passes
 * this (NTP_PHASE_LIMIT, µs). */
#define KERNEL_MAX_ERROR_US 16000000
/* Monotonic time at which a manual clock starts. */
#define MANUAL_MONO_START_NS (G_GINT64_CONSTANT (1000) * 1000000000)
/* Two readings of the monotonic clock around a wall clock reading further
 * apart than this (preemption) are taken again. */
#define READ_WINDOW_NS 100000
#define READ_TRIES 3

typedef enum
{
  KIND_SYSTEM,                  /* also shifted: the real clocks + delta */
  KIND_MANUAL,
  KIND_FUNC,
} ClockKind;

struct _LbClock
{
  ClockKind kind;
  LbClockFunc func;
  gpointer user_data;
  GMutex lock;
  gint64 delta_ns;              /* KIND_SYSTEM: wall = real + delta; lock */
  gint64 manual_ns;             /* KIND_MANUAL: the wall clock; lock */
  gint64 manual_mono_ns;        /* KIND_MANUAL: the monotonic clock; lock */
  LbTimeSource source;          /* lock */
  gchar *sync_file;             /* lock */
  gboolean forced;              /* lb_clock_set_synced() was called; lock */
  gboolean forced_synced;       /* lock */
  gchar *boot_id;               /* lb_clock_set_boot_id(), or NULL: the
                                 * real one; lock */
};

gboolean
lb_time_source_parse (const gchar * text, LbTimeSource * source)
{
  static const gchar *const names[] = { "ntp", "file", "trust" };

  g_return_val_if_fail (text != NULL, FALSE);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    if (g_str_equal (text, names[i])) {
      if (source)
        *source = (LbTimeSource) i;
      return TRUE;
    }
  }
  return FALSE;
}

static LbClock *
clock_new (ClockKind kind)
{
  LbClock *clock = g_new0 (LbClock, 1);
  clock->kind = kind;
  clock->source = LB_TIME_SOURCE_TRUST;
  g_mutex_init (&clock->lock);
  return clock;
}

LbClock *
lb_clock_new_system (void)
{
  return clock_new (KIND_SYSTEM);
}

LbClock *
lb_clock_new_shifted (gint64 delta_ns)
{
  LbClock *clock = clock_new (KIND_SYSTEM);
  clock->delta_ns = delta_ns;
  return clock;
}

LbClock *
lb_clock_new_manual (gint64 start_ns)
{
  LbClock *clock = clock_new (KIND_MANUAL);
  clock->manual_ns = start_ns;
  clock->manual_mono_ns = MANUAL_MONO_START_NS;
  return clock;
}

LbClock *
lb_clock_new_func (LbClockFunc func, gpointer user_data)
{
  g_return_val_if_fail (func != NULL, NULL);
  LbClock *clock = clock_new (KIND_FUNC);
  clock->func = func;
  clock->user_data = user_data;
  return clock;
}

void
lb_clock_free (LbClock * clock)
{
  if (clock == NULL)
    return;
  g_mutex_clear (&clock->lock);
  g_free (clock->sync_file);
  g_free (clock->boot_id);
  g_free (clock);
}

static gint64
read_ns (clockid_t id)
{
  struct timespec ts;
  clock_gettime (id, &ts);
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

/* The real wall clock and the monotonic clock at (nearly) the same instant:
 * the monotonic clock is read on both sides of the wall clock. */
static void
read_real (gint64 * wall, gint64 * mono)
{
  for (guint i = 0; i < READ_TRIES; i++) {
    gint64 m1 = read_ns (CLOCK_MONOTONIC);
    *wall = read_ns (CLOCK_REALTIME);
    gint64 m2 = read_ns (CLOCK_MONOTONIC);
    *mono = m1 + (m2 - m1) / 2;
    if (m2 - m1 <= READ_WINDOW_NS)
      return;
  }
}

gint64
lb_clock_now (LbClock * clock)
{
  LbClockReading r;

  if (clock == NULL)
    return read_ns (CLOCK_REALTIME);
  if (clock->kind == KIND_FUNC)
    return clock->func (clock->user_data);
  lb_clock_read (clock, &r);
  return r.wall_ns;
}

/* The kernel's NTP status (adjtimex, read only). */
static gboolean
kernel_synced (gint64 * max_error_ns)
{
  struct timex tx;

  memset (&tx, 0, sizeof (tx));
  gint state = adjtimex (&tx);
  *max_error_ns = (gint64) tx.maxerror * 1000;
  return state != -1 && state != TIME_ERROR && !(tx.status & STA_UNSYNC)
      && tx.maxerror < KERNEL_MAX_ERROR_US;
}

/* Under clock->lock. */
static gboolean
source_synced (LbClock * clock, gint64 * max_error_ns)
{
  *max_error_ns = 0;
  if (clock->forced)
    return clock->forced_synced;
  switch (clock->source) {
    case LB_TIME_SOURCE_NTP:
      return kernel_synced (max_error_ns);
    case LB_TIME_SOURCE_FILE:
      return clock->sync_file
          && g_file_test (clock->sync_file, G_FILE_TEST_EXISTS);
    case LB_TIME_SOURCE_TRUST:
    default:
      return TRUE;
  }
}

void
lb_clock_read (LbClock * clock, LbClockReading * r)
{
  g_return_if_fail (r != NULL);

  if (clock == NULL) {
    read_real (&r->wall_ns, &r->mono_ns);
    r->synced = TRUE;
    r->max_error_ns = 0;
    return;
  }
  g_mutex_lock (&clock->lock);
  switch (clock->kind) {
    case KIND_MANUAL:
      r->wall_ns = clock->manual_ns;
      r->mono_ns = clock->manual_mono_ns;
      break;
    case KIND_FUNC:
      r->mono_ns = read_ns (CLOCK_MONOTONIC);
      r->wall_ns = 0;           /* read below, without the lock */
      break;
    case KIND_SYSTEM:
    default:
      read_real (&r->wall_ns, &r->mono_ns);
      r->wall_ns += clock->delta_ns;
      break;
  }
  r->synced = source_synced (clock, &r->max_error_ns);
  g_mutex_unlock (&clock->lock);
  if (clock->kind == KIND_FUNC)
    r->wall_ns = clock->func (clock->user_data);
}

void
lb_clock_set_time_source (LbClock * clock, LbTimeSource source,
    const gchar * sync_file)
{
  g_return_if_fail (clock != NULL);
  g_return_if_fail (source != LB_TIME_SOURCE_FILE || sync_file != NULL);

  g_mutex_lock (&clock->lock);
  clock->source = source;
  g_free (clock->sync_file);
  clock->sync_file = g_strdup (sync_file);
  g_mutex_unlock (&clock->lock);
}

void
lb_clock_set_synced (LbClock * clock, gboolean synced)
{
  g_return_if_fail (clock != NULL);

  g_mutex_lock (&clock->lock);
  clock->forced = TRUE;
  clock->forced_synced = synced;
  g_mutex_unlock (&clock->lock);
}

static gchar *
read_boot_id (void)
{
  gchar *text = NULL;

  if (g_file_get_contents ("/proc/sys/kernel/random/boot_id", &text, NULL,
          NULL) && *g_strstrip (text) != '\0')
    return text;
  g_free (text);
  g_autofree gchar *uuid = g_uuid_string_random ();
  return g_strconcat ("process-", uuid, NULL);
}

const gchar *
lb_clock_get_boot_id (LbClock * clock)
{
  static gchar *real_boot_id;   /* read once */

  if (clock) {
    g_mutex_lock (&clock->lock);
    const gchar *id = clock->boot_id;
    g_mutex_unlock (&clock->lock);
    if (id)
      return id;
  }
  if (g_once_init_enter (&real_boot_id))
    g_once_init_leave (&real_boot_id, read_boot_id ());
  return real_boot_id;
}

void
lb_clock_set_boot_id (LbClock * clock, const gchar * boot_id)
{
  g_return_if_fail (clock != NULL && boot_id != NULL);

  /* The old string stays valid for callers that hold it: tests set this
   * before handing the clock over. */
  g_mutex_lock (&clock->lock);
  g_free (clock->boot_id);
  clock->boot_id = g_strdup (boot_id);
  g_mutex_unlock (&clock->lock);
}

void
lb_clock_set (LbClock * clock, gint64 ns)
{
  g_return_if_fail (clock != NULL && clock->kind == KIND_MANUAL);
  g_mutex_lock (&clock->lock);
  clock->manual_ns = ns;
  g_mutex_unlock (&clock->lock);
}

void
lb_clock_advance (LbClock * clock, gint64 delta_ns)
{
  g_return_if_fail (clock != NULL && clock->kind == KIND_MANUAL);
  g_mutex_lock (&clock->lock);
  clock->manual_ns += delta_ns;
  clock->manual_mono_ns += delta_ns;
  g_mutex_unlock (&clock->lock);
}

void
lb_clock_step (LbClock * clock, gint64 delta_ns)
{
  g_return_if_fail (clock != NULL && clock->kind != KIND_FUNC);
  g_mutex_lock (&clock->lock);
  if (clock->kind == KIND_MANUAL)
    clock->manual_ns += delta_ns;
  else
    clock->delta_ns += delta_ns;
  g_mutex_unlock (&clock->lock);
}
