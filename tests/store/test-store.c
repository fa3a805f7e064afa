/* The store itself: its write-ahead log stays bounded while it is written,
 * and its folder and files are private to their owner. */
#include "store/lb-store-footage.h"
#include "core/lb-error.h"
#include "core/lb-time.h"

#include <glib/gstdio.h>
#include <gst/gst.h>
#include <sys/stat.h>

#define T0 G_GINT64_CONSTANT (1700000000000000000)

typedef struct
{
  gchar *dir;
  gchar *db;
  LbStore *store;
} Fixture;

static void
fixture_setup (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  f->dir = g_dir_make_tmp ("lb-store-XXXXXX", &error);
  g_assert_no_error (error);
  f->db = g_build_filename (f->dir, "lookback.db", NULL);
  f->store = lb_store_open (f->db, LB_STORE_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture * f, gconstpointer data)
{
  g_clear_pointer (&f->store, lb_store_free);
  g_autofree gchar *cmd = g_strdup_printf ("rm -rf '%s'", f->dir);
  g_assert_cmpint (system (cmd), ==, 0);
  g_free (f->db);
  g_free (f->dir);
}

static gint64
file_size (const gchar * path)
{
  GStatBuf st;
  return g_stat (path, &st) == 0 ? (gint64) st.st_size : 0;
}

/* An open segment of one 60 s file, begun as the indexer begins it. */
static gint64
begin_segment (LbStore * store, gint64 start_ns)
{
  g_autoptr (GError) error = NULL;
  LbSegment s = {
    .vehicle = (gchar *) "v1",.input = (gchar *) "dashcamRoadFacing",
    .start_ns = start_ns,.codec = (gchar *) "h264",
    .caps = (gchar *) "video/x-h264,stream-format=avc",.width = 1280,
    .height = 720,.fps_n = 15,.fps_d = 1,.init_size = 1200,
  };
  g_autofree gchar *path =
      lb_footage_segment_relpath (s.vehicle, s.input, start_ns);
  s.path = path;
  g_assert_true (lb_store_segment_begin (store, &s, &error));
  g_assert_no_error (error);
  return s.id;
}

/* A camera recording: one commit per GOP (a keyframe row a second), a new
 * segment a minute, as the indexer writes them.  With a 1 MiB bound the
 * WAL never holds more at any commit, while the data lands in the
 * database file.  (Without checkpoints while running, each commit adds its
 * pages to the WAL: past 1 MiB after a hundred commits.) */
static void
test_wal_bounded (Fixture * f, gconstpointer data)
{
  const gint64 limit = 1024 * 1024;
  g_autofree gchar *wal = g_strconcat (f->db, "-wal", NULL);
  g_autoptr (GError) error = NULL;

  lb_store_set_wal_limit (f->store, limit);
  gint64 db_at_start = file_size (f->db), wal_max = 0;
  gint64 seg = 0, bytes = 1200;
  for (guint i = 0; i < 480; i++) {
    gint64 t = T0 + i * LB_NS_PER_SEC;
    if (i % 60 == 0) {
      if (seg)
        g_assert_true (lb_store_segment_finish (f->store, seg, &error));
      seg = begin_segment (f->store, t);
      bytes = 1200;
    }
    g_autoptr (GArray) kf = g_array_new (FALSE, TRUE, sizeof (LbKeyframe));
    LbKeyframe k = { seg, t, bytes, 180000, bytes + 900, 60000, 15 };
    g_array_append_val (kf, k);
    bytes += k.size;
    g_assert_true (lb_store_segment_append (f->store, seg, 0, 0, kf,
            t + LB_NS_PER_SEC, bytes, &error));
    g_assert_no_error (error);
    wal_max = MAX (wal_max, file_size (wal));
    g_assert_cmpint (file_size (wal), <=, limit);
  }
  g_test_message ("WAL at most %" G_GINT64_FORMAT " bytes; database %"
      G_GINT64_FORMAT " -> %" G_GINT64_FORMAT " bytes", wal_max, db_at_start,
      file_size (f->db));
  /* the rows went into the database file, not only into the WAL */
  g_assert_cmpint (file_size (f->db), >, db_at_start);
  g_assert_true (lb_store_check_integrity (f->store, &error));
  g_autoptr (GArray) rows = lb_store_segment_keyframes (f->store, seg, &error);
  g_assert_cmpuint (rows->len, ==, 60);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/store/wal-bounded", Fixture, NULL, fixture_setup,
      test_wal_bounded, fixture_teardown);
  return g_test_run ();
}
