/* The store itself: its write-ahead log stays bounded while it is written,
 * and its folder and files are private to their owner. */
#include "store/lb-store-footage.h"
#include "core/lb-error.h"
#include "core/lb-time.h"
#include "footage-util.h"

#include <glib/gstdio.h>
#include <gst/gst.h>
#include <string.h>
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

static guint
mode_of (const gchar * path)
{
  GStatBuf st;
  g_assert_cmpint (g_lstat (path, &st), ==, 0);
  return st.st_mode & 07777;
}

/* Every folder under @dir (itself included) is 0700, every file 0600; the
 * number of files. */
static guint
assert_private (const gchar * dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const gchar *name;
  guint files = 0;

  g_assert_nonnull (d);
  g_assert_cmpuint (mode_of (dir), ==, 0700);
  while ((name = g_dir_read_name (d))) {
    g_autofree gchar *path = g_build_filename (dir, name, NULL);
    if (g_file_test (path, G_FILE_TEST_IS_DIR)) {
      files += assert_private (path);
    } else {
      g_test_message ("%s: 0%o", path, mode_of (path));
      g_assert_cmpuint (mode_of (path), ==, 0600);
      files++;
    }
  }
  return files;
}

/* Runs the lookback CLI with @conf under the usual umask (022); its
 * stderr, or NULL when it failed. */
static gchar *
run_cli (const gchar * conf, ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  va_list ap;
  const gchar *arg;

  g_ptr_array_add (argv, (gpointer) g_getenv ("LOOKBACK"));
  g_ptr_array_add (argv, (gpointer) "--config");
  g_ptr_array_add (argv, (gpointer) conf);
  va_start (ap, conf);
  while ((arg = va_arg (ap, const gchar *)))
      g_ptr_array_add (argv, (gpointer) arg);
  va_end (ap);
  g_ptr_array_add (argv, NULL);

  g_autofree gchar *out = NULL;
  gchar *err = NULL;
  gint status;
  g_autoptr (GError) error = NULL;
  mode_t old = umask (022);
  gboolean ok = g_spawn_sync (NULL, (gchar **) argv->pdata, NULL,
      G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, &error);
  umask (old);
  g_assert_no_error (error);
  g_test_message ("lookback %s: %s%s", (gchar *) argv->pdata[3], out, err);
  if (!ok || !g_spawn_check_wait_status (status, NULL))
    g_clear_pointer (&err, g_free);
  return err;
}

static gchar *
write_conf (const gchar * dir, const gchar * store_dir)
{
  g_autofree gchar *text = g_strdup_printf ("[store]\ndir=%s\n", store_dir);
  gchar *conf = g_build_filename (dir, "lookback.conf", NULL);
  g_assert_true (g_file_set_contents (conf, text, -1, NULL));
  return conf;
}

/* A store made by `lookback token add` and filled by `lookback import`
 * (under the usual umask 022): the folder and every folder in it 0700,
 * every file 0600 — database, WAL, segments. */
static void
test_private_from_cli (Fixture * f, gconstpointer data)
{
  g_autofree gchar *store_dir = g_build_filename (f->dir, "new-store", NULL);
  g_autofree gchar *conf = write_conf (f->dir, store_dir);
  g_autofree gchar *mp4 = g_build_filename (f->dir, "clip.mp4", NULL);
  LbtRecording rec = {.frames = 60,.fps = 30,.gop = 30,.width = 160,
    .height = 120,.fragment_ms = 1000
  };

  g_assert_true (lbt_record (mp4, &rec));
  g_autofree gchar *e1 = run_cli (conf, "token", "add", "--org", "acme",
      "--scopes", "media:read", NULL);
  g_assert_nonnull (e1);
  g_autofree gchar *e2 = run_cli (conf, "import", "--vehicle", "v1",
      "--input", "dashcamRoadFacing", "--start", "2026-03-01T10:00:00Z", mp4,
      NULL);
  g_assert_nonnull (e2);
  g_autofree gchar *segments = g_build_filename (store_dir, "segments", NULL);
  g_assert_true (g_file_test (segments, G_FILE_TEST_IS_DIR));
  /* the database and at least one segment */
  g_assert_cmpuint (assert_private (store_dir), >=, 2);
}

/* A store left open to others (an older lookback, or chmod by hand) is
 * made private when it is opened, and the log says so. */
static void
test_private_tightened (Fixture * f, gconstpointer data)
{
  /* the configuration lives outside the store */
  g_autofree gchar *conf_dir = g_dir_make_tmp ("lb-store-conf-XXXXXX", NULL);
  g_autofree gchar *conf = write_conf (conf_dir, f->dir);
  g_autofree gchar *seg_dir =
      g_build_filename (f->dir, "segments", "v1", "dashcamRoadFacing", NULL);
  g_autofree gchar *seg = g_build_filename (seg_dir, "1.mp4", NULL);
  g_autofree gchar *out_dir = g_build_filename (f->dir, "outputs", NULL);
  g_autofree gchar *jpg = g_build_filename (out_dir, "a.jpg", NULL);

  g_clear_pointer (&f->store, lb_store_free);
  g_assert_cmpint (g_mkdir_with_parents (seg_dir, 0755), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (out_dir, 0755), ==, 0);
  lbt_write_file (seg, "x");
  lbt_write_file (jpg, "x");
  const gchar *loose[] = { f->dir, f->db, seg_dir, seg, out_dir, jpg };
  for (guint i = 0; i < G_N_ELEMENTS (loose); i++)
    g_assert_cmpint (g_chmod (loose[i],
            g_file_test (loose[i], G_FILE_TEST_IS_DIR) ? 0755 : 0644), ==, 0);

  g_autofree gchar *err = run_cli (conf, "token", "list", NULL);
  g_unlink (conf);
  g_rmdir (conf_dir);
  g_assert_nonnull (err);
  g_assert_nonnull (strstr (err, f->dir));
  g_assert_nonnull (strstr (err, "mode 0755"));
  g_assert_nonnull (strstr (err, "made private"));
  g_assert_cmpuint (assert_private (f->dir), >=, 3);
}

/* Files that anything in the process creates once a store is open for
 * writing — here GStreamer's filesink, as for segments and outputs — are
 * 0600. */
static void
test_private_in_process (Fixture * f, gconstpointer data)
{
  g_autofree gchar *path = g_build_filename (f->dir, "from-filesink", NULL);
  g_autoptr (GError) error = NULL;

  umask (022);
  g_clear_pointer (&f->store, lb_store_free);
  f->store = lb_store_open (f->db, LB_STORE_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
  g_autofree gchar *launch =
      g_strdup_printf ("fakesrc num-buffers=1 sizetype=fixed sizemax=16 ! "
      "filesink location=\"%s\"", path);
  g_autoptr (GstElement) pipeline = gst_parse_launch (launch, &error);
  g_assert_no_error (error);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);
  g_autoptr (GstMessage) msg = gst_bus_timed_pop_filtered (bus,
      GST_CLOCK_TIME_NONE, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  g_assert_cmpint (GST_MESSAGE_TYPE (msg), ==, GST_MESSAGE_EOS);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  g_assert_cmpuint (assert_private (f->dir), >=, 2);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/store/wal-bounded", Fixture, NULL, fixture_setup,
      test_wal_bounded, fixture_teardown);
  g_test_add ("/store/private/from-cli", Fixture, NULL, fixture_setup,
      test_private_from_cli, fixture_teardown);
  g_test_add ("/store/private/tightened", Fixture, NULL, fixture_setup,
      test_private_tightened, fixture_teardown);
  g_test_add ("/store/private/in-process", Fixture, NULL, fixture_setup,
      test_private_in_process, fixture_teardown);
  return g_test_run ();
}
