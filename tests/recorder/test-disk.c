/* A full disk, for real: each test mounts a small tmpfs of its own (in a
 * mount namespace of this process) as the store's file system.
 *
 *   floor-oldest-first   [store] min-free makes retention delete the oldest
 *                        unpinned, closed segments of all inputs, oldest
 *                        first, until the floor holds; in bytes and percent
 *   floor-recording      two cameras recording into a store filled to its
 *                        floor by a ballast file: the oldest footage goes,
 *                        recording goes on without a gap
 *   enospc               no floor, the disk filled to the last byte while
 *                        recording: the segment is closed, the gap recorded,
 *                        recording resumes by itself once space is freed
 */
#include "rec-util.h"

#include "core/lb-disk.h"
#include "core/lb-time.h"
#include "recorder/lb-retention.h"
#include "store/lb-store-footage.h"

#include <glib/gstdio.h>
#include <string.h>

#define MIB (1024 * 1024)
/* A camera whose H.264 is large (~250 KB/s): disks fill in seconds. */
#define SNOW "videotestsrc is-live=true pattern=snow ! " \
  "video/x-raw,width=320,height=240,framerate=15/1\n"

/* ---- floor-oldest-first ---- */

typedef struct
{
  const gchar *input;
  gint64 start_s;               /* seconds after T0 */
  gboolean open, pinned;
} FakeSeg;

#define T0 G_GINT64_CONSTANT (1700000000000000000)

/* Segment rows with files of @bytes each (real pages of the tmpfs). */
static void
add_segments (LbStore * store, const gchar * dir, const FakeSeg * fs, guint n,
    gsize bytes)
{
  g_autoptr (GPtrArray) add =
      g_ptr_array_new_with_free_func ((GDestroyNotify) lb_segment_free);
  g_autofree gchar *data = g_malloc0 (bytes);
  g_autoptr (GError) error = NULL;

  for (guint i = 0; i < n; i++) {
    LbSegment *s = g_new0 (LbSegment, 1);
    s->vehicle = g_strdup ("v1");
    s->input = g_strdup (fs[i].input);
    s->start_ns = T0 + fs[i].start_s * LB_NS_PER_SEC;
    s->end_ns = s->start_ns + 60 * LB_NS_PER_SEC;
    s->path = lb_footage_segment_path (dir, "v1", fs[i].input, s->start_ns);
    s->codec = g_strdup ("h264");
    s->caps = g_strdup ("video/x-h264");
    s->fps_d = 1;
    s->bytes = bytes;
    s->open = fs[i].open;
    g_autofree gchar *folder = g_path_get_dirname (s->path);
    g_assert_cmpint (g_mkdir_with_parents (folder, 0700), ==, 0);
    g_assert_true (g_file_set_contents (s->path, data, bytes, &error));
    g_ptr_array_add (add, s);
    if (fs[i].pinned)
      g_assert_true (lb_store_pin (store, "retrieval:1", "v1", fs[i].input,
              s->start_ns, s->start_ns + LB_NS_PER_SEC, &error));
  }
  g_assert_true (lb_store_segment_add (store, add, NULL, &error));
  g_assert_no_error (error);
}

/* "1" per segment of @fs still on disk and in the index, "0" per deleted. */
static gchar *
kept (LbStore * store, const gchar * dir, const FakeSeg * fs, guint n)
{
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < n; i++) {
    g_autofree gchar *path = lb_footage_segment_path (dir, "v1", fs[i].input,
        T0 + fs[i].start_s * LB_NS_PER_SEC);
    gboolean file = g_file_test (path, G_FILE_TEST_EXISTS);
    gboolean row = lb_store_segment_find_path (store, path, NULL) != 0;
    g_assert_true (file == row);
    g_string_append_c (s, file ? '1' : '0');
  }
  return g_string_free (s, FALSE);
}

static void
run_floor (const gchar * min_free, const gchar * expect)
{
  /* In start order: 2 of analog1 are older than analog2's first; the
   * oldest is pinned, one of analog2 is open. */
  static const FakeSeg fs[] = {
    {"analog1", 0, FALSE, TRUE},
    {"analog1", 60},
    {"analog1", 120},
    {"analog2", 130},
    {"analog1", 180},
    {"analog2", 190, TRUE},
    {"analog2", 250},
    {"analog1", 240},
  };
  g_autofree gchar *dir = rec_mount_tmpfs (16 * MIB);
  g_autofree gchar *conf =
      g_strdup_printf ("[store]\ndir=%s\nmin-free=%s\n"
      "[retention]\nmax-age=0\n", dir, min_free);
  g_autoptr (GError) error = NULL;
  g_autoptr (LbConfig) config = lb_config_load_data (conf, "/t.conf", &error);
  g_assert_no_error (error);
  g_autofree gchar *db = lb_config_get_db_path (config);
  LbStore *store = lb_store_open (db, LB_STORE_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
  add_segments (store, dir, fs, G_N_ELEMENTS (fs), MIB);
  /* What is left: 16 MiB less the 8 segments and the database. */
  gint64 free_b = 0;
  g_assert_true (lb_disk_space (dir, &free_b, NULL, NULL));
  g_assert_cmpint (free_b, <, 8 * MIB);
  g_autofree gchar *before = kept (store, dir, fs, G_N_ELEMENTS (fs));
  g_assert_cmpstr (before, ==, "11111111");

  RecLogCapture *log = rec_log_capture_start ();
  g_autoptr (GString) report = g_string_new (NULL);
  g_assert_true (lb_retention_run (store, config, T0 + 3600 * LB_NS_PER_SEC,
          report, &error));
  g_assert_no_error (error);
  g_autofree gchar *after = kept (store, dir, fs, G_N_ELEMENTS (fs));
  g_assert_cmpstr (after, ==, expect);
  g_assert_true (rec_log_capture_has (log, "disk floor reached"));
  g_assert_true (rec_log_capture_has (log, "(min-free) input=analog1"));
  rec_log_capture_stop (log);

  lb_store_free (store);
  rec_umount (dir);
}

static void
test_floor_oldest_first (void)
{
  /* ~7 MiB free; 9 MiB asks for 2 more: the two oldest deletable ones
   * (the first is pinned). */
  run_floor ("9MiB", "10011111");
  /* 75% of 16 MiB = 12 MiB: 5 more; analog2's open one and the pinned one
   * stay, the others go oldest first across both inputs until the floor
   * holds, which leaves analog2's newest. */
  run_floor ("75%", "10000110");
}

/* ---- floor-recording ---- */

static const gchar *const inputs[] = { "analog1", "analog2" };

typedef struct
{
  gint64 start_ns;
  gchar *input;
} Seen;

/* Every segment row now, into @seen (id → Seen). */
static void
note_segments (LbStore * store, GHashTable * seen)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) all =
      lb_store_segment_list (store, NULL, NULL, FALSE, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < all->len; i++) {
    LbSegment *s = all->pdata[i];
    if (g_hash_table_contains (seen, &s->id))
      continue;
    Seen *v = g_new0 (Seen, 1);
    v->start_ns = s->start_ns;
    v->input = g_strdup (s->input);
    gint64 *k = g_memdup2 (&s->id, sizeof s->id);
    g_hash_table_insert (seen, k, v);
  }
}

static void
seen_free (gpointer p)
{
  Seen *v = p;
  g_free (v->input);
  g_free (v);
}

static gboolean
both_deleted (RecLogCapture * log)
{
  for (guint i = 0; i < G_N_ELEMENTS (inputs); i++) {
    g_autofree gchar *n = g_strdup_printf ("(min-free) input=%s", inputs[i]);
    if (!rec_log_capture_has (log, n))
      return FALSE;
  }
  return TRUE;
}

/* Each deleted segment is older than every segment kept, whatever its
 * input; every input's footage since its oldest kept segment is whole. */
static void
check_oldest_gone (LbStore * store, GHashTable * seen)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) now =
      lb_store_segment_list (store, NULL, NULL, FALSE, &error);
  g_autoptr (GHashTable) kept_ids = g_hash_table_new (g_int64_hash,
      g_int64_equal);
  gint64 oldest_kept = G_MAXINT64, newest_gone = G_MININT64;
  guint gone = 0;

  for (guint i = 0; i < now->len; i++) {
    LbSegment *s = now->pdata[i];
    g_hash_table_add (kept_ids, &s->id);
    oldest_kept = MIN (oldest_kept, s->start_ns);
  }
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, seen);
  while (g_hash_table_iter_next (&it, &k, &v))
    if (!g_hash_table_contains (kept_ids, k)) {
      newest_gone = MAX (newest_gone, ((Seen *) v)->start_ns);
      gone++;
    }
  g_assert_cmpuint (gone, >=, 2);
  g_assert_cmpint (newest_gone, <, oldest_kept);

  for (guint i = 0; i < G_N_ELEMENTS (inputs); i++) {
    gint64 first = G_MAXINT64, last = G_MININT64;
    for (guint j = 0; j < now->len; j++) {
      LbSegment *s = now->pdata[j];
      if (g_str_equal (s->input, inputs[i])) {
        first = MIN (first, s->start_ns);
        last = MAX (last, s->end_ns);
      }
    }
    g_autoptr (GArray) ranges = NULL;
    g_autoptr (GArray) gaps = NULL;
    g_assert_true (lb_store_coverage (store, "v1", inputs[i], first, last,
            &ranges, &gaps, NULL, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (ranges->len, ==, 1);
    g_assert_cmpuint (gaps->len, ==, 0);
  }
}

static void
test_floor_recording (void)
{
  g_autofree gchar *dir = rec_mount_tmpfs (64 * MIB);
  g_autofree gchar *conf = g_strdup_printf ("[store]\ndir=%s\n"
      "min-free=16MiB\n[retention]\ninterval=1h\n"
      "[recorder]\nsegment-duration=5s\n"
      "[input v1 analog1]\nsource=" SNOW "[input v1 analog2]\nsource=" SNOW,
      dir);
  RecLogCapture *log = rec_log_capture_start ();
  g_autoptr (RecSession) session = rec_session_start (conf);
  LbRetentionOptions options = { 0 };
  LbRetention *retention =
      lb_retention_start (session->store, session->config, &options);
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_int64_hash,
      g_int64_equal, g_free, seen_free);

  /* A closed segment per input, then the disk is filled to 2 MiB above its
   * floor. */
  while (lb_recorder_count_closed (session->recorder) < 2)
    rec_run_for (200);
  g_autofree gchar *ballast = g_build_filename (dir, "ballast", NULL);
  rec_fill_disk (ballast, 18 * MIB);
  /* Recording crosses the floor: the oldest footage of both inputs goes. */
  gint64 deadline = g_get_monotonic_time () + 90 * G_USEC_PER_SEC;
  while (!both_deleted (log) && g_get_monotonic_time () < deadline) {
    note_segments (session->store, seen);
    rec_run_for (200);
  }
  note_segments (session->store, seen);
  lb_retention_stop (retention);
  rec_session_stop (session);

  g_autofree gchar *text = rec_log_capture_text (log);
  g_assert_true (both_deleted (log));
  g_assert_true (rec_log_capture_has (log, "disk floor reached"));
  g_assert_null (strstr (text, "disk full"));
  g_assert_null (strstr (text, "camera lost"));
  check_oldest_gone (session->store, seen);
  rec_log_capture_stop (log);
  g_clear_pointer (&session, rec_session_free);
  rec_umount (dir);
}

/* ---- enospc ---- */

static gboolean
wait_log (RecLogCapture * log, const gchar * needle, guint seconds)
{
  gint64 deadline = g_get_monotonic_time () + seconds * G_USEC_PER_SEC;
  while (!rec_log_capture_has (log, needle)
      && g_get_monotonic_time () < deadline)
    rec_run_for (100);
  return rec_log_capture_has (log, needle);
}

/* Every file under segments/ has a closed row, and decodes. */
static void
check_files_indexed (LbStore * store, const gchar * dir)
{
  g_autofree gchar *root = g_build_filename (dir, "segments", NULL);
  g_autoptr (GPtrArray) files = rec_list_mp4 (root);
  g_autoptr (GError) error = NULL;

  g_assert_cmpuint (files->len, >=, 2);
  for (guint i = 0; i < files->len; i++) {
    gint64 id = lb_store_segment_find_path (store, files->pdata[i], &error);
    g_assert_no_error (error);
    g_assert_cmpint (id, !=, 0);
    g_autoptr (LbSegment) seg = lb_store_segment_get (store, id, &error);
    g_assert_no_error (error);
    g_assert_false (seg->open);
    g_assert_cmpint (rec_decode_count (files->pdata[i], NULL), >, 0);
  }
}

static void
test_enospc (void)
{
  g_autofree gchar *dir = rec_mount_tmpfs (24 * MIB);
  g_autofree gchar *conf = g_strdup_printf ("[store]\ndir=%s\nmin-free=0\n"
      "[recorder]\nsegment-duration=5s\nretry-min=200ms\nretry-max=1s\n"
      "[input v1 analog1]\nsource=" SNOW, dir);
  RecLogCapture *log = rec_log_capture_start ();
  g_autoptr (RecSession) session = rec_session_start (conf);
  g_autoptr (GError) error = NULL;
  gint64 t0 = lb_time_now ();

  g_assert_true (wait_log (log, "camera connected", 20));
  rec_run_for (3000);

  /* The disk fills to its last byte: the recorder says so and stops. */
  gint64 t_full = lb_time_now ();
  g_autofree gchar *ballast = g_build_filename (dir, "ballast", NULL);
  rec_fill_disk (ballast, 0);
  g_assert_true (wait_log (log, "disk full: recording stopped", 20));
  rec_run_for (2000);
  g_assert_cmpuint (lb_recorder_count_recording (session->recorder), ==, 0);

  /* Space comes back: recording resumes by itself. */
  gint64 t_freed = lb_time_now ();
  g_assert_cmpint (g_unlink (ballast), ==, 0);
  g_assert_true (wait_log (log, "disk space back: recording again", 20));
  rec_run_for (3000);
  rec_session_stop (session);
  gint64 t1 = lb_time_now ();

  /* The index shows footage before and after, with the gap between. */
  g_autoptr (GArray) ranges = NULL;
  g_autoptr (GArray) gaps = NULL;
  g_assert_true (lb_store_coverage (session->store, "v1", "analog1", t0, t1,
          &ranges, &gaps, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (ranges->len, >=, 2);
  gboolean found = FALSE;
  for (guint i = 0; i < gaps->len; i++) {
    LbTimeRange *g = &g_array_index (gaps, LbTimeRange, i);
    if (g->start_ns <= t_full + LB_NS_PER_SEC && g->end_ns >= t_freed)
      found = TRUE;
  }
  g_assert_true (found);
  const LbTimeRange *last = &g_array_index (ranges, LbTimeRange,
      ranges->len - 1);
  g_assert_cmpint (last->start_ns, >=, t_freed);
  /* The segment the full disk cut is closed, and no empty file is left. */
  check_files_indexed (session->store, dir);

  rec_log_capture_stop (log);
  g_clear_pointer (&session, rec_session_free);
  rec_umount (dir);
}

int
main (int argc, char **argv)
{
  rec_private_mounts ();
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/disk/floor-oldest-first", test_floor_oldest_first);
  g_test_add_func ("/disk/floor-recording", test_floor_recording);
  g_test_add_func ("/disk/enospc", test_enospc);
  return g_test_run ();
}
