/* lb-bench-lookup — time of the nearest-media lookup against store size
 *
 *   lb-bench-lookup N [N…]
 *
 * For each N, fills a fresh store with N synthetic 60 s segments of one
 * input (four keyframe rows each, a 2 s gap every 100 segments), then times
 * 2000 lookups of 30 s windows at random times (fixed seed) and prints
 * "segments=N lookup_us=MEAN".  BENCH.md's target: the time at 10^6
 * segments is at most twice the time at 10^3.
 */
#include "core/lb-time.h"
#include "store/lb-store-footage.h"

#include <glib/gstdio.h>
#include <gst/gst.h>
#include <stdio.h>
#include <stdlib.h>

#define SEGMENT_NS (60 * LB_NS_PER_SEC)
#define KEYFRAMES_PER_SEGMENT 4
#define LOOKUPS 2000
#define BATCH 10000

static gint64
segment_start (gint64 i)
{
  return G_GINT64_CONSTANT (1700000000) * LB_NS_PER_SEC + i * SEGMENT_NS
      + (i / 100) * 2 * LB_NS_PER_SEC;
}

static gboolean
fill (LbStore * store, gint64 n, GError ** error)
{
  for (gint64 base = 0; base < n; base += BATCH) {
    g_autoptr (GPtrArray) segs =
        g_ptr_array_new_with_free_func ((GDestroyNotify) lb_segment_free);
    g_autoptr (GPtrArray) kfs =
        g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);
    for (gint64 i = base; i < MIN (n, base + BATCH); i++) {
      LbSegment *s = g_new0 (LbSegment, 1);
      s->vehicle = g_strdup ("bench");
      s->input = g_strdup ("dashcamRoadFacing");
      s->path =
          g_strdup_printf ("segments/bench/dashcamRoadFacing/%" G_GINT64_FORMAT
          ".mp4", i);
      s->start_ns = segment_start (i);
      s->end_ns = s->start_ns + SEGMENT_NS;
      s->codec = g_strdup ("h264");
      s->caps = g_strdup ("video/x-h264");
      s->width = 1280;
      s->height = 720;
      s->fps_n = 30;
      s->fps_d = 1;
      s->init_size = 1000;
      s->bytes = 30000000;
      g_ptr_array_add (segs, s);
      GArray *k = g_array_new (FALSE, TRUE, sizeof (LbKeyframe));
      for (guint j = 0; j < KEYFRAMES_PER_SEGMENT; j++) {
        LbKeyframe kf = {
          .time_ns = s->start_ns + j * (SEGMENT_NS / KEYFRAMES_PER_SEGMENT),
          .offset = 1000 + j * 7500000,
          .size = 7500000,
          .sample_offset = 1100 + j * 7500000,
          .sample_size = 100000,
          .frames = 450,
        };
        g_array_append_val (k, kf);
      }
      g_ptr_array_add (kfs, k);
    }
    if (!lb_store_segment_add (store, segs, kfs, error))
      return FALSE;
  }
  return TRUE;
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  if (argc < 2) {
    fprintf (stderr, "usage: lb-bench-lookup N [N…]\n");
    return 2;
  }
  for (int a = 1; a < argc; a++) {
    gint64 n = g_ascii_strtoll (argv[a], NULL, 10);
    g_autoptr (GError) error = NULL;
    g_autofree gchar *dir = g_dir_make_tmp ("lb-bench-lookup-XXXXXX", &error);
    g_autofree gchar *db = g_build_filename (dir, "lookback.db", NULL);
    g_autoptr (LbStore) store =
        lb_store_open (db, LB_STORE_OPEN_DEFAULT, &error);

    if (store == NULL || !fill (store, n, &error)) {
      fprintf (stderr, "lb-bench-lookup: %s\n", error->message);
      return 1;
    }
    GRand *rand = g_rand_new_with_seed (7);
    gint64 span = segment_start (n) - segment_start (0);
    gint64 t0 = g_get_monotonic_time ();
    guint pieces = 0;
    for (guint i = 0; i < LOOKUPS; i++) {
      gint64 at =
          segment_start (0) + (gint64) (g_rand_double (rand) * (span -
              30 * LB_NS_PER_SEC));
      g_autoptr (LbFootagePlan) plan =
          lb_store_lookup (store, "bench", "dashcamRoadFacing", at,
          at + 30 * LB_NS_PER_SEC, &error);
      if (plan == NULL) {
        fprintf (stderr, "lb-bench-lookup: %s\n", error->message);
        return 1;
      }
      pieces += plan->pieces->len;
    }
    gdouble us = (gdouble) (g_get_monotonic_time () - t0) / LOOKUPS;
    g_rand_free (rand);
    if (pieces < LOOKUPS) {
      fprintf (stderr,
          "lb-bench-lookup: lookups found too little footage (%u pieces)\n",
          pieces);
      return 1;
    }
    printf ("segments=%" G_GINT64_FORMAT " lookup_us=%.1f\n", n, us);
    fflush (stdout);
    lb_store_free (g_steal_pointer (&store));
    g_autofree gchar *wal = g_strconcat (db, "-wal", NULL);
    g_autofree gchar *shm = g_strconcat (db, "-shm", NULL);
    g_unlink (db);
    g_unlink (wal);
    g_unlink (shm);
    g_rmdir (dir);
  }
  return 0;
}
