/* lb-bench-year — a year of footage index for one camera
 *
 *   lb-bench-year generate DB SEGMENTS
 *       writes SEGMENTS synthetic one-minute segments of one input
 *       (vehicle "bench", dashcamRoadFacing), each with a keyframe row per
 *       second, ending at the start of today (UTC), in ONE transaction;
 *       prints "segments=N keyframes=M generate_s=T first_ns=… end_ns=…"
 *       (525 600 segments: a year)
 *   lb-bench-year measure DB
 *       times, on the store as it is: 2000 lookups of 30 s windows and 2000
 *       of single instants (an image) at random times (fixed seed), and a
 *       day's coverage for 30 random days; prints
 *       "lookup_us=… image_us=… coverage_ms=… coverage_max_ms=…"
 *
 * The rows point to files that do not exist: the index alone is measured
 * (bench/run.py times lookbackd's start and its API on the same store).
 */
#include "core/lb-time.h"
#include "store/lb-store-footage.h"

#include <gst/gst.h>
#include <stdio.h>
#include <stdlib.h>

#define SEGMENT_NS (60 * LB_NS_PER_SEC)
#define DAY_NS (24 * 3600 * LB_NS_PER_SEC)
#define LOOKUPS 2000
#define DAYS 30

typedef struct
{
  gint64 first_ns;
  gint64 n, next;
  LbSegment seg;
  GArray *keyframes;
} Generator;

/* The store's source: one segment at a time, its 60 keyframes. */
static LbSegment *
next_segment (GArray ** keyframes, gpointer user_data)
{
  Generator *g = user_data;
  if (g->next >= g->n)
    return NULL;

  LbSegment *s = &g->seg;
  gint64 start = g->first_ns + g->next * SEGMENT_NS;
  g_free (s->path);
  s->path = lb_footage_segment_relpath (s->vehicle, s->input, start);
  s->start_ns = start;
  s->end_ns = start + SEGMENT_NS;
  s->bytes = 1200;
  g_array_set_size (g->keyframes, 0);
  for (guint j = 0; j < SEGMENT_NS / LB_NS_PER_SEC; j++) {
    LbKeyframe k = {
      .time_ns = start + j * LB_NS_PER_SEC,.offset = s->bytes,.size = 250000,
      .sample_offset = s->bytes + 800,.sample_size = 60000,.frames = 15,
    };
    g_array_append_val (g->keyframes, k);
    s->bytes += k.size;
  }
  *keyframes = g->keyframes;
  g->next++;
  return s;
}

static int
generate (const gchar * db, gint64 n)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LbStore) store = lb_store_open (db, LB_STORE_OPEN_DEFAULT, &error);
  gint64 today = g_get_real_time () / G_USEC_PER_SEC / 86400 * DAY_NS;
  Generator g = {.first_ns = today - n * SEGMENT_NS,.n = n };

  if (store == NULL) {
    fprintf (stderr, "lb-bench-year: %s\n", error->message);
    return 1;
  }
  g.seg = (LbSegment) {
  .vehicle = (gchar *) "bench",.input = (gchar *) "dashcamRoadFacing",.codec =
        (gchar *) "h264",.caps =
        (gchar *) "video/x-h264,stream-format=avc,alignment=au",.width =
        1280,.height = 720,.fps_n = 15,.fps_d = 1,.init_size = 1200,};
  g.keyframes = g_array_new (FALSE, TRUE, sizeof (LbKeyframe));
  gint64 t0 = g_get_monotonic_time ();
  gboolean ok = lb_store_segment_add_all (store, next_segment, &g, &error);
  gdouble secs = (g_get_monotonic_time () - t0) / 1e6;
  g_free (g.seg.path);
  g_array_unref (g.keyframes);
  if (!ok) {
    fprintf (stderr, "lb-bench-year: %s\n", error->message);
    return 1;
  }
  printf ("segments=%" G_GINT64_FORMAT " keyframes=%" G_GINT64_FORMAT
      " generate_s=%.1f first_ns=%" G_GINT64_FORMAT " end_ns=%" G_GINT64_FORMAT
      "\n", n, n * (SEGMENT_NS / LB_NS_PER_SEC), secs, g.first_ns, today);
  return 0;
}

/* Mean µs of LOOKUPS lookups of @len ns at random times in [first, end). */
static gdouble
time_lookups (LbStore * store, gint64 first, gint64 end, gint64 len,
    GError ** error)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (7);
  guint pieces = 0;
  gint64 t0 = g_get_monotonic_time ();

  for (guint i = 0; i < LOOKUPS; i++) {
    gint64 at = first + (gint64) (g_rand_double (rand) * (end - first - len));
    g_autoptr (LbFootagePlan) plan = lb_store_lookup (store, "bench",
        "dashcamRoadFacing", at, at + len, error);
    if (plan == NULL)
      return -1;
    pieces += plan->pieces->len;
  }
  gdouble us = (gdouble) (g_get_monotonic_time () - t0) / LOOKUPS;
  if (pieces < LOOKUPS) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
        "the lookups found too little footage (%u pieces)", pieces);
    return -1;
  }
  return us;
}

/* A day's coverage for DAYS random whole days: mean and worst ms. */
static gboolean
time_coverage (LbStore * store, gint64 first, gint64 end, gdouble * mean_ms,
    gdouble * max_ms, GError ** error)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (11);
  gint64 days = MAX ((end - first) / DAY_NS, 1), total = 0, worst = 0;

  for (guint i = 0; i < DAYS; i++) {
    gint64 day = end - (1 + g_rand_int_range (rand, 0, days)) * DAY_NS;
    g_autoptr (GArray) ranges = NULL;
    g_autoptr (GArray) gaps = NULL;
    gint64 t0 = g_get_monotonic_time ();
    if (!lb_store_coverage (store, "bench", "dashcamRoadFacing", day,
            day + DAY_NS, &ranges, &gaps, NULL, error))
      return FALSE;
    gint64 t = g_get_monotonic_time () - t0;
    total += t;
    worst = MAX (worst, t);
  }
  *mean_ms = total / 1000.0 / DAYS;
  *max_ms = worst / 1000.0;
  return TRUE;
}

static int
measure (const gchar * db)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LbStore) store = lb_store_open (db, LB_STORE_OPEN_DEFAULT, &error);
  gint64 first, end;
  gdouble window_us, image_us, mean_ms, max_ms;

  if (store == NULL || !lb_store_footage_extent (store, "bench",
          "dashcamRoadFacing", &first, &end, &error))
    goto fail;
  window_us = time_lookups (store, first, end, 30 * LB_NS_PER_SEC, &error);
  image_us = window_us < 0 ? -1 : time_lookups (store, first, end, 0, &error);
  if (image_us < 0
      || !time_coverage (store, first, end, &mean_ms, &max_ms, &error))
    goto fail;
  printf ("lookup_us=%.1f image_us=%.1f coverage_ms=%.2f coverage_max_ms=%.2f"
      "\n", window_us, image_us, mean_ms, max_ms);
  return 0;

fail:
  fprintf (stderr, "lb-bench-year: %s\n", error->message);
  return 1;
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  if (argc == 4 && g_str_equal (argv[1], "generate"))
    return generate (argv[2], g_ascii_strtoll (argv[3], NULL, 10));
  if (argc == 3 && g_str_equal (argv[1], "measure"))
    return measure (argv[2]);
  fprintf (stderr, "usage: lb-bench-year generate DB SEGMENTS\n"
      "       lb-bench-year measure DB\n");
  return 2;
}
