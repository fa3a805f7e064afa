/* The store's 'footage' area: schema, write side, lookup, pins, coverage */
#include "store/lb-store-footage.h"
#include "core/lb-error.h"
#include "core/lb-time.h"
#include "lb-test-common.h"

#include <gst/gst.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>

#define T0 G_GINT64_CONSTANT (1700000000000000000)
#define S(x) ((gint64) ((x) * GST_SECOND))

typedef LbTestStoreFixture Fixture;

/* Segments of input @input timed in clock epoch @epoch (0: synchronised). */
static void
add_timed (LbStore * store, const gchar * input, gint64 epoch,
    const gint64 (*spans)[2], guint n)
{
  lb_test_add_footage (store, "v1", input, epoch, spans, n);
}

static void
add_segments (LbStore * store, const gchar * input, const gint64 (*spans)[2],
    guint n)
{
  add_timed (store, input, 0, spans, n);
}

static void
test_schema (Fixture * f, gconstpointer data)
{
  g_assert_cmpint (lb_store_schema_version (f->store, "footage"), ==, 4);
  g_autoptr (GError) error = NULL;
  g_assert_true (lb_store_check_integrity (f->store, &error));
  /* reopening keeps the version, a read-only opener sees it too */
  g_autofree gchar *db = g_strdup (lb_store_get_path (f->store));
  lb_store_free (f->store);
  f->store = lb_store_open (db, LB_STORE_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
  g_assert_cmpint (lb_store_schema_version (f->store, "footage"), ==, 4);
  g_autoptr (LbStore) ro = lb_store_open (db, LB_STORE_OPEN_READ_ONLY, &error);
  g_assert_no_error (error);
  g_autoptr (LbFootagePlan) plan =
      lb_store_lookup (ro, "v1", "a", T0, T0 + S (1), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (plan->pieces->len, ==, 0);
  g_assert_cmpint (plan->first_ns, ==, LB_TIME_NONE);
}

/* An existing empty file (e.g. touched by an installer) is migrated. */
static void
test_migrate_empty_file (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lb-footage-empty-XXXXXX", NULL);
  g_autofree gchar *db = g_build_filename (dir, "lookback.db", NULL);
  g_assert_true (g_file_set_contents (db, "", 0, NULL));
  g_autoptr (GError) error = NULL;
  LbStore *store = lb_store_open (db, LB_STORE_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
  g_assert_cmpint (lb_store_schema_version (store, "footage"), ==, 4);
  g_autofree gchar *plan =
      lb_store_explain (store, lb_store_lookup_sql (), &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (plan, "footage_segment_by_start"));
  lb_store_free (store);
  lb_test_rm_rf (dir);
}

static void
test_write_side (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *abs = lb_footage_segment_path (f->dir, "v1", "a", T0);
  LbSegment seg = {.vehicle = "v1",.input = "a",.path = abs,.start_ns = T0,
    .media_base_ns = 0,.codec = "h264",.caps = "video/x-h264",.width =
        16,.height = 16,
    .fps_n = 30,.fps_d = 1,.init_size = 100
  };
  g_assert_true (lb_store_segment_begin (f->store, &seg, &error));
  g_assert_no_error (error);
  g_assert_cmpint (seg.id, >, 0);
  g_autoptr (GArray) k = g_array_new (FALSE, TRUE, sizeof (LbKeyframe));
  LbKeyframe k0 = { 0, T0, 100, 400, 116, 300, 30 };
  g_array_append_val (k, k0);
  g_assert_true (lb_store_segment_append (f->store, seg.id, 0, 0, k, T0 + S (1),
          500, &error));
  /* a fragment without keyframe grows the last row */
  g_assert_true (lb_store_segment_append (f->store, seg.id, 700, 30, NULL,
          T0 + S (2), 700, &error));
  g_assert_no_error (error);
  g_autoptr (LbSegment) got = lb_store_segment_get (f->store, seg.id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (got->path, ==, abs);
  g_assert_true (got->open);
  g_assert_cmpint (got->end_ns, ==, T0 + S (2));
  g_assert_cmpint (got->bytes, ==, 700);
  g_autoptr (GArray) rows =
      lb_store_segment_keyframes (f->store, seg.id, &error);
  g_assert_cmpuint (rows->len, ==, 1);
  g_assert_cmpint (g_array_index (rows, LbKeyframe, 0).size, ==, 600);
  g_assert_cmpint (g_array_index (rows, LbKeyframe, 0).frames, ==, 60);
  g_assert_cmpint (lb_store_segment_find_path (f->store, abs, &error), ==,
      seg.id);
  g_autoptr (GPtrArray) open =
      lb_store_segment_list (f->store, NULL, NULL, TRUE, &error);
  g_assert_cmpuint (open->len, ==, 1);
  g_assert_true (lb_store_segment_finish (f->store, seg.id, &error));
  g_autoptr (GPtrArray) open2 =
      lb_store_segment_list (f->store, NULL, NULL, TRUE, &error);
  g_assert_cmpuint (open2->len, ==, 0);
  g_autoptr (GPtrArray) inputs =
      lb_store_footage_inputs (f->store, NULL, &error);
  g_assert_cmpuint (inputs->len, ==, 1);
  LbFootageInput *in = g_ptr_array_index (inputs, 0);
  g_assert_cmpint (in->bytes, ==, 700);
  g_assert_cmpint (in->max_segment_ns, ==, S (2));
  g_assert_true (lb_store_segment_delete (f->store, seg.id, &error));
  g_assert_no_error (error);
  g_autoptr (LbSegment) gone = lb_store_segment_get (f->store, seg.id, &error);
  g_assert_null (gone);
  g_assert_error (error, LB_ERROR, LB_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_autoptr (GArray) rows2 =
      lb_store_segment_keyframes (f->store, seg.id, &error);
  g_assert_cmpuint (rows2->len, ==, 0);
  g_autoptr (GPtrArray) inputs2 =
      lb_store_footage_inputs (f->store, NULL, &error);
  g_assert_cmpuint (inputs2->len, ==, 0);
}

static void
assert_piece (LbFootagePlan * plan, guint i, gint64 seg_start, gint64 first_kf,
    guint n)
{
  g_assert_cmpuint (plan->pieces->len, >, i);
  LbFootagePiece *p = g_ptr_array_index (plan->pieces, i);
  g_assert_cmpint (p->segment->start_ns, ==, seg_start);
  g_assert_cmpuint (p->keyframes->len, ==, n);
  g_assert_cmpint (g_array_index (p->keyframes, LbKeyframe, 0).time_ns, ==,
      first_kf);
  for (guint k = 1; k < n; k++)
    g_assert_cmpint (g_array_index (p->keyframes, LbKeyframe, k).time_ns, >,
        g_array_index (p->keyframes, LbKeyframe, k - 1).time_ns);
}

static void
assert_gap (LbFootagePlan * plan, guint i, gint64 s, gint64 e)
{
  g_assert_cmpuint (plan->gaps->len, >, i);
  g_assert_cmpint (g_array_index (plan->gaps, LbTimeRange, i).start_ns, ==, s);
  g_assert_cmpint (g_array_index (plan->gaps, LbTimeRange, i).end_ns, ==, e);
}

static LbFootagePlan *
lookup (Fixture * f, gint64 s, gint64 e)
{
  g_autoptr (GError) error = NULL;
  LbFootagePlan *plan = lb_store_lookup (f->store, "v1", "a", s, e, &error);
  g_assert_no_error (error);
  g_assert_nonnull (plan);
  return plan;
}

static void
test_lookup (Fixture * f, gconstpointer data)
{
  /* A [0, 60) and B [60.02, 120) touch (under two frames apart), C [200, 260) after a gap */
  const gint64 spans[][2] = {
    {T0, T0 + S (60)}, {T0 + S (60.02), T0 + S (120)}, {T0 + S (200),
        T0 + S (260)},
  };
  add_segments (f->store, "a", spans, 3);
  const gint64 other[][2] = { {T0 + S (130), T0 + S (140)} };
  add_segments (f->store, "b", other, 1);

  /* across a segment boundary */
  g_autoptr (LbFootagePlan) p1 = lookup (f, T0 + S (30.5), T0 + S (90));
  g_assert_cmpuint (p1->pieces->len, ==, 2);
  assert_piece (p1, 0, T0, T0 + S (30), 30);
  assert_piece (p1, 1, T0 + S (60.02), T0 + S (60.02), 30);
  g_assert_cmpuint (p1->gaps->len, ==, 0);
  g_assert_cmpint (p1->first_ns, ==, T0);
  g_assert_cmpint (p1->last_ns, ==, T0 + S (260));

  /* at an exact keyframe, and an image (start == end) */
  g_autoptr (LbFootagePlan) p2 = lookup (f, T0 + S (45), T0 + S (46));
  g_assert_cmpuint (p2->pieces->len, ==, 1);
  assert_piece (p2, 0, T0, T0 + S (45), 1);
  g_autoptr (LbFootagePlan) p3 = lookup (f, T0 + S (45.5), T0 + S (45.5));
  g_assert_cmpuint (p3->pieces->len, ==, 1);
  assert_piece (p3, 0, T0, T0 + S (45), 1);
  g_assert_cmpuint (p3->gaps->len, ==, 0);

  /* an image in the crack between A and B: the nearest frame (B's first) */
  g_autoptr (LbFootagePlan) crack = lookup (f, T0 + S (60.01), T0 + S (60.01));
  g_assert_cmpuint (crack->pieces->len, ==, 1);
  assert_piece (crack, 0, T0 + S (60.02), T0 + S (60.02), 1);
  g_assert_cmpuint (crack->gaps->len, ==, 0);
  /* a wider crack (60 ms, under two frames): just after the first
   * segment, its last frame is the nearest */
  const gint64 cracked[][2] =
      { {T0, T0 + S (10)}, {T0 + S (10.06), T0 + S (20)} };
  add_segments (f->store, "c", cracked, 2);
  g_autoptr (GError) cerr = NULL;
  g_autoptr (LbFootagePlan) crack2 =
      lb_store_lookup (f->store, "v1", "c", T0 + S (10.001), T0 + S (10.001),
      &cerr);
  g_assert_no_error (cerr);
  g_assert_cmpuint (crack2->pieces->len, ==, 1);
  assert_piece (crack2, 0, T0, T0 + S (9), 1);

  /* inside the gap (another input has footage there) */
  g_autoptr (LbFootagePlan) p4 = lookup (f, T0 + S (130), T0 + S (150));
  g_assert_cmpuint (p4->pieces->len, ==, 0);
  g_assert_cmpuint (p4->gaps->len, ==, 1);
  assert_gap (p4, 0, T0 + S (130), T0 + S (150));
  g_autoptr (LbFootagePlan) p4i = lookup (f, T0 + S (150), T0 + S (150));
  g_assert_cmpuint (p4i->pieces->len, ==, 0);
  g_assert_cmpuint (p4i->gaps->len, ==, 1);

  /* spanning the gap */
  g_autoptr (LbFootagePlan) p5 = lookup (f, T0 + S (110), T0 + S (210));
  g_assert_cmpuint (p5->pieces->len, ==, 2);
  assert_piece (p5, 0, T0 + S (60.02), T0 + S (109.02), 11);
  assert_piece (p5, 1, T0 + S (200), T0 + S (200), 10);
  g_assert_cmpuint (p5->gaps->len, ==, 1);
  assert_gap (p5, 0, T0 + S (120), T0 + S (200));

  /* before the first and after the last footage */
  g_autoptr (LbFootagePlan) p6 = lookup (f, T0 - S (100), T0 - S (10));
  g_assert_cmpuint (p6->pieces->len, ==, 0);
  assert_gap (p6, 0, T0 - S (100), T0 - S (10));
  g_assert_cmpint (p6->first_ns, ==, T0);
  g_autoptr (LbFootagePlan) p7 = lookup (f, T0 + S (300), T0 + S (400));
  g_assert_cmpuint (p7->pieces->len, ==, 0);
  g_assert_cmpint (p7->last_ns, ==, T0 + S (260));
  /* straddling the start: a gap before, then footage */
  g_autoptr (LbFootagePlan) p8 = lookup (f, T0 - S (5), T0 + S (2));
  g_assert_cmpuint (p8->pieces->len, ==, 1);
  assert_piece (p8, 0, T0, T0, 2);
  assert_gap (p8, 0, T0 - S (5), T0);
  /* straddling the end */
  g_autoptr (LbFootagePlan) p9 = lookup (f, T0 + S (259.5), T0 + S (265));
  assert_piece (p9, 0, T0 + S (200), T0 + S (259), 1);
  assert_gap (p9, 0, T0 + S (260), T0 + S (265));

  /* coverage */
  g_autoptr (GArray) ranges = NULL, gaps = NULL;
  g_autoptr (GError) error = NULL;
  g_assert_true (lb_store_coverage (f->store, "v1", "a", T0 - S (10),
          T0 + S (300), &ranges, &gaps, NULL, &error));
  g_assert_cmpuint (ranges->len, ==, 2);
  g_assert_cmpint (g_array_index (ranges, LbTimeRange, 0).start_ns, ==, T0);
  g_assert_cmpint (g_array_index (ranges, LbTimeRange, 0).end_ns, ==,
      T0 + S (120));
  g_assert_cmpint (g_array_index (ranges, LbTimeRange, 1).start_ns, ==,
      T0 + S (200));
  g_assert_cmpint (g_array_index (ranges, LbTimeRange, 1).end_ns, ==,
      T0 + S (260));
  g_assert_cmpuint (gaps->len, ==, 3);
}

static void
test_lookup_100k (Fixture * f, gconstpointer data)
{
  const guint n = 100000;
  g_autoptr (GPtrArray) segs =
      g_ptr_array_new_with_free_func ((GDestroyNotify) lb_segment_free);
  g_autoptr (GPtrArray) kfs =
      g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);
  for (guint i = 0; i < n; i++) {
    GArray *k;
    gint64 s = T0 + (gint64) i * S (60);
    g_ptr_array_add (segs, lb_test_segment_new ("v1", "a", s, s + S (60),
            S (30), &k));
    g_ptr_array_add (kfs, k);
  }
  g_autoptr (GError) error = NULL;
  g_assert_true (lb_store_segment_add (f->store, segs, kfs, &error));
  g_assert_no_error (error);

  g_autofree gchar *plan_text =
      lb_store_explain (f->store, lb_store_lookup_sql (), &error);
  g_assert_no_error (error);
  g_test_message ("plan: %s", plan_text);
  g_assert_nonnull (strstr (plan_text, "USING INDEX footage_segment_by_start"));
  g_assert_null (strstr (plan_text, "SCAN"));
  g_assert_null (strstr (plan_text, "TEMP B-TREE"));
  g_autofree gchar *kf_text =
      lb_store_explain (f->store, lb_store_lookup_keyframes_sql (),
      &error);
  g_assert_no_error (error);
  g_test_message ("keyframes plan: %s", kf_text);
  g_assert_nonnull (strstr (kf_text,
          "SEARCH footage_keyframe USING PRIMARY KEY"));
  g_assert_null (strstr (kf_text, "SCAN"));
  g_assert_null (strstr (kf_text, "TEMP B-TREE"));

  gint64 t = T0 + (gint64) 77777 * S (60) + S (45);
  gint64 before = g_get_monotonic_time ();
  g_autoptr (LbFootagePlan) plan =
      lb_store_lookup (f->store, "v1", "a", t, t + S (10), &error);
  gint64 took = g_get_monotonic_time () - before;
  g_assert_no_error (error);
  g_test_message ("lookup took %" G_GINT64_FORMAT " us", took);
  g_assert_cmpuint (plan->pieces->len, ==, 1);
  assert_piece (plan, 0, T0 + (gint64) 77777 * S (60),
      T0 + (gint64) 77777 * S (60) + S (30), 1);
  g_assert_cmpuint (plan->gaps->len, ==, 0);
  g_assert_cmpint (plan->last_ns, ==, T0 + (gint64) n * S (60));
  /* indexed: well under what a scan of 100 000 rows costs */
  g_assert_cmpint (took, <, 50000);
}

static void
test_pins (Fixture * f, gconstpointer data)
{
  const gint64 spans[][2] = { {T0, T0 + S (60)}, {T0 + S (60), T0 + S (120)} };
  add_segments (f->store, "a", spans, 2);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) segs =
      lb_store_segment_oldest (f->store, "v1", "a", G_MININT64, 10, &error);
  g_assert_cmpuint (segs->len, ==, 2);
  g_assert_false (lb_store_segment_is_pinned (f->store, g_ptr_array_index (segs,
              0), &error));
  g_assert_true (lb_store_pin (f->store, "r1", "v1", "a", T0 + S (70),
          T0 + S (80), &error));
  g_assert_false (lb_store_segment_is_pinned (f->store, g_ptr_array_index (segs,
              0), &error));
  g_assert_true (lb_store_segment_is_pinned (f->store, g_ptr_array_index (segs,
              1), &error));
  g_assert_true (lb_store_pin (f->store, "r2", "v1", "a", T0 + S (10),
          T0 + S (10), &error));
  g_assert_true (lb_store_segment_is_pinned (f->store, g_ptr_array_index (segs,
              0), &error));
  g_assert_true (lb_store_unpin (f->store, "r1", &error));
  g_assert_false (lb_store_segment_is_pinned (f->store, g_ptr_array_index (segs,
              1), &error));
  g_assert_true (lb_store_segment_is_pinned (f->store, g_ptr_array_index (segs,
              0), &error));
  g_assert_no_error (error);
}

/* ---- clock epochs ---- */

#define HOUR S (3600)

static GPtrArray *
retime (LbStore * store, const gchar * boot, gint64 offset)
{
  g_autoptr (GError) error = NULL;
  GPtrArray *groups = NULL;
  g_assert_true (lb_store_footage_retime (store, boot, offset, &groups,
          &error));
  g_assert_no_error (error);
  return groups;
}

static GArray *
unsynced_of (LbStore * store, const gchar * input, gint64 s, gint64 e)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) ranges = NULL, gaps = NULL;
  GArray *unsynced = NULL;
  g_assert_true (lb_store_coverage (store, "v1", input, s, e, &ranges, &gaps,
          &unsynced, &error));
  g_assert_no_error (error);
  return unsynced;
}

/* Footage recorded an hour ahead by an unsynchronised clock: marked in
 * coverage and in the plan; the synchronised anchor moves it (keyframes
 * included) an hour back, next to the footage before it, unmarked. */
static void
test_retime (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gint64 anchor = S (1000);     /* wall − monotonic of the wrong clock */
  gint64 e1 = lb_store_clock_epoch (f->store, "boot-1", anchor, &error);
  g_assert_no_error (error);
  g_assert_cmpint (e1, >, 0);
  g_assert_cmpint (lb_store_clock_epoch (f->store, "boot-1", anchor, &error),
      ==, e1);
  const gint64 before[][2] = { {T0 - S (60), T0} };
  const gint64 ahead[][2] = { {T0 + HOUR, T0 + HOUR + S (60)},
  {T0 + HOUR + S (60), T0 + HOUR + S (90)}
  };
  add_timed (f->store, "a", 0, before, 1);
  add_timed (f->store, "a", e1, ahead, 2);

  g_autoptr (GArray) u = unsynced_of (f->store, "a", T0 - HOUR, T0 + 2 * HOUR);
  g_assert_cmpuint (u->len, ==, 1);
  g_assert_cmpint (g_array_index (u, LbTimeRange, 0).start_ns, ==, T0 + HOUR);
  g_assert_cmpint (g_array_index (u, LbTimeRange, 0).end_ns, ==,
      T0 + HOUR + S (90));
  g_autoptr (LbFootagePlan) p1 = lb_store_lookup (f->store, "v1", "a",
      T0 + HOUR + S (50), T0 + HOUR + S (70), &error);
  g_autoptr (GArray) pu = lb_footage_plan_unsynced (p1, p1->start_ns,
      p1->end_ns);
  g_assert_cmpuint (pu->len, ==, 1);
  g_assert_cmpint (g_array_index (pu, LbTimeRange, 0).start_ns, ==,
      T0 + HOUR + S (50));
  g_assert_cmpint (g_array_index (pu, LbTimeRange, 0).end_ns, ==,
      T0 + HOUR + S (70));

  g_autoptr (GPtrArray) groups = retime (f->store, "boot-1", anchor - HOUR);
  g_assert_cmpuint (groups->len, ==, 1);
  LbFootageRetime *r = groups->pdata[0];
  g_assert_true (r->moved);
  g_assert_cmpint (r->delta_ns, ==, -HOUR);
  g_assert_cmpuint (r->segments, ==, 2);
  g_assert_cmpint (r->start_ns, ==, T0 + HOUR);
  g_assert_cmpint (r->end_ns, ==, T0 + HOUR + S (90));

  g_autoptr (LbFootagePlan) p2 = lb_store_lookup (f->store, "v1", "a",
      T0 - S (60), T0 + S (90), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (p2->pieces->len, ==, 3);
  g_assert_cmpuint (p2->gaps->len, ==, 0);
  LbFootagePiece *moved = p2->pieces->pdata[1];
  g_assert_cmpint (moved->segment->start_ns, ==, T0);
  g_assert_cmpint (moved->segment->end_ns, ==, T0 + S (60));
  g_assert_cmpint (moved->segment->clock_epoch, ==, 0);
  g_assert_cmpuint (moved->keyframes->len, ==, 60);
  for (guint i = 0; i < moved->keyframes->len; i++)
    g_assert_cmpint (g_array_index (moved->keyframes, LbKeyframe, i).time_ns,
        ==, T0 + S (i));
  g_autoptr (GArray) u2 = unsynced_of (f->store, "a", T0 - HOUR, T0 + 2 * HOUR);
  g_assert_cmpuint (u2->len, ==, 0);
  g_assert_true (lb_store_check_integrity (f->store, &error));
  g_assert_no_error (error);

  /* nothing left to move */
  g_autoptr (GPtrArray) again = retime (f->store, "boot-1", anchor - HOUR);
  g_assert_cmpuint (again->len, ==, 0);
}

/* Footage whose new place is taken stays where it is, marked, and says by
 * what; footage of another boot is never moved. */
static void
test_retime_blocked (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gint64 anchor = S (1000);
  gint64 e1 = lb_store_clock_epoch (f->store, "boot-1", anchor, &error);
  gint64 e0 = lb_store_clock_epoch (f->store, "boot-0", anchor, &error);
  g_assert_no_error (error);
  g_assert_cmpint (e0, !=, e1);
  const gint64 taken[][2] = { {T0 + S (30), T0 + S (90)} };
  const gint64 ahead[][2] = { {T0 + HOUR, T0 + HOUR + S (60)} };
  const gint64 other[][2] = { {T0 + 2 * HOUR, T0 + 2 * HOUR + S (60)} };
  add_timed (f->store, "a", 0, taken, 1);
  add_timed (f->store, "a", e1, ahead, 1);
  add_timed (f->store, "b", e0, other, 1);

  g_autoptr (GPtrArray) groups = retime (f->store, "boot-1", anchor - HOUR);
  g_assert_cmpuint (groups->len, ==, 1);
  LbFootageRetime *r = groups->pdata[0];
  g_assert_false (r->moved);
  g_assert_cmpint (r->blocker_start_ns, ==, T0 + S (30));
  g_assert_cmpint (r->blocker_end_ns, ==, T0 + S (90));
  g_autoptr (GArray) ua = unsynced_of (f->store, "a", T0, T0 + 3 * HOUR);
  g_assert_cmpuint (ua->len, ==, 1);
  g_assert_cmpint (g_array_index (ua, LbTimeRange, 0).start_ns, ==, T0 + HOUR);
  g_autoptr (GArray) ub = unsynced_of (f->store, "b", T0, T0 + 3 * HOUR);
  g_assert_cmpuint (ub->len, ==, 1);
  g_assert_cmpint (g_array_index (ub, LbTimeRange, 0).start_ns, ==,
      T0 + 2 * HOUR);
}

/* Two epochs of one input that trade places: each new place is the other's
 * old one, and both move in the one transaction. */
static void
test_retime_together (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gint64 e1 = lb_store_clock_epoch (f->store, "boot-1", S (200), &error);
  gint64 e2 = lb_store_clock_epoch (f->store, "boot-1", S (-60), &error);
  g_assert_no_error (error);
  const gint64 first[][2] = { {T0 + S (200), T0 + S (260)} };
  const gint64 second[][2] = { {T0, T0 + S (60)} };
  add_timed (f->store, "a", e1, first, 1);
  add_timed (f->store, "a", e2, second, 1);

  g_autoptr (GPtrArray) groups = retime (f->store, "boot-1", 0);
  g_assert_cmpuint (groups->len, ==, 2);
  for (guint i = 0; i < groups->len; i++)
    g_assert_true (((LbFootageRetime *) groups->pdata[i])->moved);
  g_autoptr (LbFootagePlan) plan = lb_store_lookup (f->store, "v1", "a", T0,
      T0 + S (120), &error);
  g_assert_cmpuint (plan->pieces->len, ==, 2);
  g_assert_cmpint (((LbFootagePiece *) plan->pieces->pdata[0])->
      segment->start_ns, ==, T0);
  g_assert_cmpint (((LbFootagePiece *) plan->pieces->pdata[1])->
      segment->start_ns, ==, T0 + S (60));
  g_assert_true (lb_store_check_integrity (f->store, &error));
  g_assert_no_error (error);
}

/* A segment's audio (codec and caps) is kept; a segment without it has
 * none, begun (recorder) or added (import). */
static void
test_audio (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) k1 = NULL, k2 = NULL;
  LbSegment *with =
      lb_test_segment_new ("v1", "a", T0, T0 + S (2), GST_SECOND, &k1);
  with->audio = g_strdup ("aac");
  with->audio_caps = g_strdup ("audio/mpeg, mpegversion=(int)4");
  g_assert_true (lb_store_segment_begin (f->store, with, &error));
  g_assert_no_error (error);
  g_autoptr (GPtrArray) segs =
      g_ptr_array_new_with_free_func ((GDestroyNotify) lb_segment_free);
  g_autoptr (GPtrArray) kfs =
      g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);
  g_ptr_array_add (segs, lb_test_segment_new ("v1", "a", T0 + S (2), T0 + S (4),
          GST_SECOND, &k2));
  g_ptr_array_add (kfs, g_steal_pointer (&k2));
  g_assert_true (lb_store_segment_add (f->store, segs, kfs, &error));
  g_assert_no_error (error);

  g_autoptr (LbSegment) a = lb_store_segment_get (f->store, with->id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (a->audio, ==, "aac");
  g_assert_cmpstr (a->audio_caps, ==, "audio/mpeg, mpegversion=(int)4");
  g_autoptr (LbFootagePlan) plan = lb_store_lookup (f->store, "v1", "a",
      T0 + S (2), T0 + S (4), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (plan->pieces->len, ==, 1);
  const LbSegment *b = ((LbFootagePiece *) plan->pieces->pdata[0])->segment;
  g_assert_null (b->audio);
  g_assert_null (b->audio_caps);
  g_autoptr (LbSegment) copy = lb_segment_copy (a);
  g_assert_cmpstr (copy->audio, ==, "aac");
  lb_segment_free (with);
}

/* The stream column of the segment row @id. */
static gchar *
stream_of (LbStore * store, gint64 id)
{
  sqlite3 *raw = NULL;
  sqlite3_stmt *stmt = NULL;
  g_assert_cmpint (sqlite3_open_v2 (lb_store_get_path (store), &raw,
          SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (raw,
          "SELECT stream FROM footage_segment WHERE id = ?", -1, &stmt, NULL),
      ==, SQLITE_OK);
  sqlite3_bind_int64 (stmt, 1, id);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  gchar *stream = g_strdup ((const gchar *) sqlite3_column_text (stmt, 0));
  sqlite3_finalize (stmt);
  sqlite3_close (raw);
  return stream;
}

/* A sub-stream is indexed as INPUT.sub: its rows say so, the input's own
 * lookups do not see them, and a pin of the input holds them. */
static void
test_sub_stream (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *sub = lb_footage_sub_input ("a");
  gboolean is_sub = FALSE;
  g_autofree gchar *main_of_sub = lb_footage_main_input (sub, &is_sub);
  g_autofree gchar *main_of_main = lb_footage_main_input ("a", &is_sub);
  g_assert_cmpstr (sub, ==, "a.sub");
  g_assert_cmpstr (main_of_sub, ==, "a");
  g_assert_cmpstr (main_of_main, ==, "a");
  g_assert_false (is_sub);

  const gint64 spans[][2] = { {T0, T0 + S (60)} };
  const gint64 sub_spans[][2] = { {T0 + S (10), T0 + S (70)} };
  add_segments (f->store, "a", spans, 1);
  add_segments (f->store, sub, sub_spans, 1);
  g_autoptr (GPtrArray) mains =
      lb_store_segment_oldest (f->store, "v1", "a", G_MININT64, 10, &error);
  g_autoptr (GPtrArray) subs =
      lb_store_segment_oldest (f->store, "v1", sub, G_MININT64, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (mains->len, ==, 1);
  g_assert_cmpuint (subs->len, ==, 1);
  const LbSegment *m = mains->pdata[0], *s = subs->pdata[0];
  g_autofree gchar *ms = stream_of (f->store, m->id);
  g_autofree gchar *ss = stream_of (f->store, s->id);
  g_assert_cmpstr (ms, ==, "main");
  g_assert_cmpstr (ss, ==, "sub");

  gint64 last = 0;
  g_assert_true (lb_store_footage_extent (f->store, "v1", "a", NULL, &last,
          &error));
  g_assert_cmpint (last, ==, T0 + S (60));
  g_assert_false (lb_store_segment_is_pinned (f->store, s, &error));
  g_assert_true (lb_store_pin (f->store, "r1", "v1", "a", T0 + S (65),
          T0 + S (66), &error));
  g_assert_true (lb_store_segment_is_pinned (f->store, s, &error));
  g_assert_false (lb_store_segment_is_pinned (f->store, m, &error));
  g_assert_no_error (error);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
#define ADD(name, fn) g_test_add (name, Fixture, NULL, lb_test_store_fixture_setup, fn, lb_test_store_fixture_teardown)
  ADD ("/footage/schema", test_schema);
  g_test_add_func ("/footage/migrate-empty-file", test_migrate_empty_file);
  ADD ("/footage/write-side", test_write_side);
  ADD ("/footage/lookup", test_lookup);
  ADD ("/footage/lookup-100k", test_lookup_100k);
  ADD ("/footage/pins", test_pins);
  ADD ("/footage/retime", test_retime);
  ADD ("/footage/retime-blocked", test_retime_blocked);
  ADD ("/footage/retime-together", test_retime_together);
  ADD ("/footage/audio", test_audio);
  ADD ("/footage/sub-stream", test_sub_stream);
  return g_test_run ();
}
