/* The indexer on real segments made at test time; reconcile at start-up */
#include "recorder/lb-indexer.h"
#include "recorder/lb-reconcile.h"
#include "recorder/lb-segment-writer.h"
#include "mp4/lb-mp4-journal.h"
#include "mp4/lb-mp4.h"
#include "core/lb-error.h"
#include "footage-util.h"
#include "lb-test-common.h"

#include <gst/gst.h>
#include <glib/gstdio.h>
#include <string.h>
#include <stdio.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define T0 G_GINT64_CONSTANT (1700000000000000000)

/* Recordings shared by the tests (made once). */
static gchar *media_dir;
static gchar *growing_path;     /* 160 frames @30, GOP 30, cut without EOS */
static gchar *final_path;       /* 90 frames @30, GOP 30, finalised */
/* 160 frames @30, GOP 30, two B-frames between references, cut without EOS */
static gchar *bframes_path[2];  /* H.264, H.265 */

typedef LbTestStoreFixture Fixture;

/* Writes the first @len bytes of @src to @dst (creating its folders). */
static void
copy_prefix (const gchar * src, const gchar * dst, gssize len)
{
  g_autoptr (GBytes) b = lbt_read_bytes (src);
  g_assert_nonnull (b);
  gsize n;
  const gchar *data = g_bytes_get_data (b, &n);
  g_autofree gchar *dir = g_path_get_dirname (dst);
  g_mkdir_with_parents (dir, 0755);
  /* in place, like a muxer appending: an indexer's open fd sees it */
  FILE *fp = fopen (dst, "wb");
  g_assert_nonnull (fp);
  gsize want = len < 0 ? n : (gsize) len;
  g_assert_cmpuint (fwrite (data, 1, want, fp), ==, want);
  g_assert_cmpint (fclose (fp), ==, 0);
}

static gint64
file_size (const gchar * path)
{
  GStatBuf st;
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  return st.st_size;
}

/* Every row's keyframe sample is an IDR inside its fragment's bytes, rows
 * are one second apart from the segment's start. */
static void
check_rows (LbStore * store, gint64 segment_id, guint expect_rows)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LbSegment) seg = lb_store_segment_get (store, segment_id, &error);
  g_assert_no_error (error);
  g_autoptr (GArray) rows =
      lb_store_segment_keyframes (store, segment_id, &error);
  g_assert_cmpuint (rows->len, ==, expect_rows);
  g_autoptr (GBytes) bytes = lbt_read_bytes (seg->path);
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  for (guint i = 0; i < rows->len; i++) {
    LbKeyframe *k = &g_array_index (rows, LbKeyframe, i);
    g_assert_cmpint (k->time_ns, ==, seg->start_ns + (gint64) i * GST_SECOND);
    g_assert_cmpint (k->sample_offset, >=, k->offset);
    g_assert_cmpint (k->sample_offset + k->sample_size, <=,
        k->offset + k->size);
    g_assert_cmpint (k->offset + k->size, <=, (gint64) len);
    g_assert_true (lbt_avc_sample_is_idr (data + k->sample_offset,
            k->sample_size));
    g_assert_cmpuint (k->frames, ==, 30);
    if (i > 0) {
      LbKeyframe *p = &g_array_index (rows, LbKeyframe, i - 1);
      g_assert_cmpint (k->offset, >=, p->offset + p->size);
    }
  }
  g_assert_cmpint (seg->end_ns, ==,
      seg->start_ns + (gint64) expect_rows * GST_SECOND);
  g_assert_cmpstr (seg->codec, ==, "h264");
  g_assert_cmpint (seg->width, ==, 160);
  g_assert_cmpint (seg->fps_n, ==, 30);
}

static guint
count_segments (LbStore * store)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) all =
      lb_store_segment_list (store, NULL, NULL, FALSE, &error);
  g_assert_no_error (error);
  return all->len;
}

static void
test_growing (Fixture * f, gconstpointer data)
{
  g_autofree gchar *path = lb_footage_segment_path (f->dir, "v1", "a", T0);
  g_autoptr (GError) error = NULL;
  g_autoptr (LbIndexer) ix =
      lb_indexer_new (f->store, "v1", "a", path, T0, &error);
  g_assert_no_error (error);

  /* not created yet, then only a header: nothing to index */
  g_assert_true (lb_indexer_update (ix, &error));
  g_assert_no_error (error);
  copy_prefix (growing_path, path, 100);
  g_assert_true (lb_indexer_update (ix, &error));
  g_assert_cmpint (lb_indexer_get_segment_id (ix), ==, 0);
  g_assert_cmpuint (count_segments (f->store), ==, 0);

  /* the file grows: the first fragment (moov table), then the others */
  gint64 full = file_size (growing_path);
  g_autoptr (LbMp4Init) init = NULL;
  g_assert_true (lb_mp4_read_init_path (growing_path, &init, &error));
  copy_prefix (growing_path, path, init->init_size + 20);
  g_assert_true (lb_indexer_update (ix, &error));
  g_assert_no_error (error);
  g_assert_cmpint (lb_indexer_get_segment_id (ix), >, 0);
  check_rows (f->store, lb_indexer_get_segment_id (ix), 1);

  copy_prefix (growing_path, path, full);
  g_assert_true (lb_indexer_update (ix, &error));
  g_assert_no_error (error);
  check_rows (f->store, lb_indexer_get_segment_id (ix), 3);
  g_autoptr (LbSegment) open =
      lb_store_segment_get (f->store, lb_indexer_get_segment_id (ix), &error);
  g_assert_true (open->open);
  g_assert_cmpint (open->media_base_ns, ==, 0);
  /* updating again adds nothing */
  g_assert_true (lb_indexer_update (ix, &error));
  check_rows (f->store, lb_indexer_get_segment_id (ix), 3);

  g_assert_true (lb_indexer_finish (ix, &error));
  g_assert_no_error (error);
  g_autoptr (LbSegment) closed =
      lb_store_segment_get (f->store, lb_indexer_get_segment_id (ix), &error);
  g_assert_false (closed->open);
  g_assert_cmpint (closed->bytes, ==, full);

  /* the lookup finds the rows */
  g_autoptr (LbFootagePlan) plan =
      lb_store_lookup (f->store, "v1", "a", T0 + GST_SECOND / 2,
      T0 + 2 * GST_SECOND, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (plan->pieces->len, ==, 1);
  LbFootagePiece *piece = g_ptr_array_index (plan->pieces, 0);
  g_assert_cmpuint (piece->keyframes->len, ==, 2);
  g_assert_cmpint (g_array_index (piece->keyframes, LbKeyframe, 0).time_ns, ==,
      T0);
}

/* Three files being recorded are indexed together: their new rows in one
 * commit (one sync of the store's log, after a segment row begun for
 * each), and a file whose segment row went away does not hold the others
 * back. */
static void
test_update_all (Fixture * f, gconstpointer data)
{
  const gchar *inputs[] = { "a", "b", "c" };
  gchar *paths[3];
  LbIndexer *ix[3];
  GError *errors[3] = { NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (LbMp4Init) init = NULL;
  g_assert_true (lb_mp4_read_init_path (growing_path, &init, &error));

  for (guint i = 0; i < 3; i++) {
    paths[i] = lb_footage_segment_path (f->dir, "v1", inputs[i], T0);
    ix[i] = lb_indexer_new (f->store, "v1", inputs[i], paths[i], T0, &error);
    g_assert_no_error (error);
    copy_prefix (growing_path, paths[i], init->init_size + 20);
  }
  guint commits = lb_store_get_n_commits (f->store);
  lb_indexer_update_all (ix, 3, errors);
  g_assert_cmpuint (lb_store_get_n_commits (f->store), ==, commits + 3 + 1);
  for (guint i = 0; i < 3; i++) {
    g_assert_no_error (errors[i]);
    check_rows (f->store, lb_indexer_get_segment_id (ix[i]), 1);
  }
  /* nothing new: no commit */
  lb_indexer_update_all (ix, 3, errors);
  g_assert_cmpuint (lb_store_get_n_commits (f->store), ==, commits + 3 + 1);

  /* b's row is gone (retention): a and c are indexed all the same */
  g_assert_true (lb_store_segment_delete (f->store,
          lb_indexer_get_segment_id (ix[1]), &error));
  for (guint i = 0; i < 3; i++)
    copy_prefix (growing_path, paths[i], -1);
  lb_indexer_update_all (ix, 3, errors);
  g_assert_error (errors[1], LB_ERROR, LB_ERROR_NOT_FOUND);
  g_clear_error (&errors[1]);
  for (guint i = 0; i < 3; i += 2) {
    g_assert_no_error (errors[i]);
    check_rows (f->store, lb_indexer_get_segment_id (ix[i]), 3);
  }
  for (guint i = 0; i < 3; i++) {
    lb_indexer_free (ix[i]);
    g_free (paths[i]);
  }
}

static void
test_complete_file (Fixture * f, gconstpointer data)
{
  g_autofree gchar *path = lb_footage_segment_path (f->dir, "v1", "a", T0);
  copy_prefix (final_path, path, -1);
  g_autoptr (GError) error = NULL;
  gint64 id = 0;
  g_assert_true (lb_footage_index_file (f->store, "v1", "a", path, T0, &id,
          &error));
  g_assert_no_error (error);
  check_rows (f->store, id, 3);
  g_autoptr (LbSegment) seg = lb_store_segment_get (f->store, id, &error);
  g_assert_false (seg->open);
  g_assert_cmpint (seg->bytes, ==, file_size (path));
  g_assert_true (g_str_has_prefix (seg->caps, "video/x-h264"));
  /* twice: refused, nothing doubled */
  g_assert_false (lb_footage_index_file (f->store, "v1", "a", path, T0, NULL,
          &error));
  g_assert_error (error, LB_ERROR, LB_ERROR_INVALID);
  g_assert_cmpuint (count_segments (f->store), ==, 1);
}

static void
test_truncated (Fixture * f, gconstpointer data)
{
  /* cut in the middle of the third fragment: two remain */
  g_autoptr (GError) error = NULL;
  g_autoptr (LbMp4Init) init = NULL;
  g_assert_true (lb_mp4_read_init_path (growing_path, &init, &error));
  gint fd = g_open (growing_path, O_RDONLY, 0);
  gint64 off = lb_mp4_first_offset (init);
  for (gint i = 0; i < 2; i++) {
    g_autoptr (LbMp4Fragment) fr = NULL;
    g_assert_true (lb_mp4_read_fragment (fd, init, off,
            file_size (growing_path), &fr, &error));
    off = fr->next_offset;
  }
  g_autoptr (LbMp4Fragment) third = NULL;
  g_assert_true (lb_mp4_read_fragment (fd, init, off, file_size (growing_path),
          &third, &error));
  close (fd);
  g_autofree gchar *path = lb_footage_segment_path (f->dir, "v1", "a", T0);
  copy_prefix (growing_path, path, third->offset + third->size / 2);
  gint64 id = 0;
  g_assert_true (lb_footage_index_file (f->store, "v1", "a", path, T0, &id,
          &error));
  g_assert_no_error (error);
  check_rows (f->store, id, 2);
}

static void
test_refused (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *text =
      g_build_filename (f->dir, "segments", "v1", "a", "1.mp4", NULL);
  lbt_write_file (text, "hello, not a video\n");
  g_autofree gchar *garbage =
      g_build_filename (f->dir, "segments", "v1", "a", "2.mp4", NULL);
  {
    GRand *r = g_rand_new_with_seed (7);
    GString *s = g_string_new (NULL);
    for (gint i = 0; i < 5000; i++)
      g_string_append_c (s, (gchar) g_rand_int_range (r, 1, 256));
    g_assert_true (g_file_set_contents (garbage, s->str, s->len, NULL));
    g_string_free (s, TRUE);
    g_rand_free (r);
  }
  /* an MP4 with only audio: not video */
  g_autofree gchar *audio =
      g_build_filename (f->dir, "segments", "v1", "a", "3.mp4", NULL);
  g_autofree gchar *desc =
      g_strdup_printf ("audiotestsrc num-buffers=20 ! audioconvert ! "
      "avenc_aac ! mp4mux ! filesink location=\"%s\"", audio);
  GstElement *p = gst_parse_launch (desc, &error);
  g_assert_no_error (error);
  gst_element_set_state (p, GST_STATE_PLAYING);
  GstBus *bus = gst_element_get_bus (p);
  GstMessage *m = gst_bus_timed_pop_filtered (bus, 30 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  g_assert_nonnull (m);
  g_assert_cmpint (GST_MESSAGE_TYPE (m), ==, GST_MESSAGE_EOS);
  gst_message_unref (m);
  gst_object_unref (bus);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (p);

  const gchar *files[] = { text, garbage, audio };
  for (guint i = 0; i < G_N_ELEMENTS (files); i++) {
    gint64 id = 0;
    g_assert_false (lb_footage_index_file (f->store, "v1", "a", files[i], T0,
            &id, &error));
    g_assert_error (error, LB_ERROR, LB_ERROR_CORRUPT);
    g_test_message ("%s", error->message);
    g_clear_error (&error);
    g_assert_cmpint (id, ==, 0);
  }
  g_assert_cmpuint (count_segments (f->store), ==, 0);
}

static void
test_reconcile (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  /* (a) an open segment: indexed while it grew, then the process died; the
   * file has a torn tail */
  g_autofree gchar *open_path = lb_footage_segment_path (f->dir, "v1", "a", T0);
  g_autoptr (LbMp4Init) init = NULL;
  g_assert_true (lb_mp4_read_init_path (growing_path, &init, &error));
  copy_prefix (growing_path, open_path, init->init_size + 20);
  LbIndexer *ix = lb_indexer_new (f->store, "v1", "a", open_path, T0, &error);
  g_assert_true (lb_indexer_update (ix, &error));
  gint64 open_id = lb_indexer_get_segment_id (ix);
  g_assert_cmpint (open_id, >, 0);
  lb_indexer_free (ix);         /* crash: never finished */
  copy_prefix (growing_path, open_path, -1);

  /* (b) the oldest segment, whose file was deleted by retention just
   * before the crash (its row was not) */
  g_autofree gchar *lost =
      lb_footage_segment_path (f->dir, "v1", "a", T0 - 100 * GST_SECOND);
  copy_prefix (final_path, lost, -1);
  g_assert_true (lb_footage_index_file (f->store, "v1", "a", lost,
          T0 - 100 * GST_SECOND, NULL, &error));
  g_assert_cmpint (g_unlink (lost), ==, 0);

  /* (c) files the index does not know */
  g_autofree gchar *unknown =
      lb_footage_segment_path (f->dir, "v2", "b", T0 + 50 * GST_SECOND);
  copy_prefix (final_path, unknown, -1);
  g_autofree gchar *junk =
      lb_footage_segment_path (f->dir, "v1", "a", T0 + 200 * GST_SECOND);
  lbt_write_file (junk, "junk");
  g_autofree gchar *stray =
      g_build_filename (f->dir, "segments", "v1", "a", "notes.txt", NULL);
  lbt_write_file (stray, "x");

  g_autoptr (GString) report = g_string_new (NULL);
  LbTestLogCapture *log = lb_test_log_capture_start ();
  g_assert_true (lb_footage_reconcile (f->store, report, &error));
  g_assert_no_error (error);
  g_test_message ("%s", report->str);
  /* the operator hears what became of the torn tail */
  g_assert_true (lb_test_log_capture_has (log, "left open by a crash: closed "
          "at its last whole fragment; 30 frames of its torn tail recovered"));
  lb_test_log_capture_stop (log);

  /* (a) closed, re-indexed to its last complete fragment, tail cut off */
  g_autoptr (GPtrArray) segs =
      lb_store_segment_list (f->store, "v1", "a", FALSE, &error);
  g_assert_cmpuint (segs->len, ==, 1);
  LbSegment *a = g_ptr_array_index (segs, 0);
  g_assert_false (a->open);
  g_assert_cmpstr (a->path, ==, open_path);
  /* ... and the GOP whose moof the muxer had not written is recovered */
  check_rows (f->store, a->id, 4);
  g_assert_cmpint (file_size (open_path), ==, a->bytes);
  g_assert_nonnull (strstr (report->str, "closed open segment"));
  g_autofree gchar *recovered =
      g_strdup_printf ("recovered 30 frames from the torn tail of %s",
      open_path);
  g_assert_nonnull (strstr (report->str, recovered));
  /* still readable after the cut */
  gint64 again = 0;
  g_autofree gchar *copy = lb_footage_segment_path (f->dir, "v3", "a", T0);
  copy_prefix (open_path, copy, -1);
  g_assert_true (lb_footage_index_file (f->store, "v3", "a", copy, T0, &again,
          &error));
  check_rows (f->store, again, 4);

  /* (b) the lost file's row is gone and reported */
  g_assert_nonnull (strstr (report->str, "removed the row of missing file"));
  g_assert_nonnull (strstr (report->str, lost));

  /* (c) the unknown segment is indexed from its name; the rest reported */
  g_autoptr (GPtrArray) v2 =
      lb_store_segment_list (f->store, "v2", "b", FALSE, &error);
  g_assert_cmpuint (v2->len, ==, 1);
  g_assert_cmpint (((LbSegment *) g_ptr_array_index (v2, 0))->start_ns, ==,
      T0 + 50 * GST_SECOND);
  check_rows (f->store, ((LbSegment *) g_ptr_array_index (v2, 0))->id, 3);
  g_assert_nonnull (strstr (report->str, "indexed unknown file"));
  /* a file named like a segment that does not parse is moved aside */
  g_autofree gchar *junk_line = g_strdup_printf ("quarantined %s as", junk);
  g_assert_nonnull (strstr (report->str, junk_line));
  g_assert_false (g_file_test (junk, G_FILE_TEST_EXISTS));
  g_autofree gchar *junk_name = g_path_get_basename (junk);
  g_autofree gchar *moved = g_build_filename (f->dir, "quarantine", "segments",
      "v1", "a", junk_name, NULL);
  g_assert_true (g_file_test (moved, G_FILE_TEST_IS_REGULAR));
  g_autofree gchar *stray_line =
      g_strdup_printf ("unknown file %s: not named like a segment",
      stray);
  g_assert_nonnull (strstr (report->str, stray_line));

  /* a second run has nothing to do but report the stray file again */
  g_autoptr (GString) report2 = g_string_new (NULL);
  g_assert_true (lb_footage_reconcile (f->store, report2, &error));
  g_assert_null (strstr (report2->str, junk));
  g_assert_null (strstr (report2->str, "closed open segment"));
  g_assert_null (strstr (report2->str, "indexed unknown file"));
  g_assert_null (strstr (report2->str, "torn tail"));
}

static void
write_bytes (const gchar * path, const guint8 * data, gsize len)
{
  g_autofree gchar *dir = g_path_get_dirname (path);
  g_mkdir_with_parents (dir, 0755);
  g_assert_true (g_file_set_contents (path, (const gchar *) data, len, NULL));
}

static gboolean
quarantined (Fixture * f, const gchar * path)
{
  g_autofree gchar *rel = g_strdup (path + strlen (f->dir) + 1);
  g_autofree gchar *moved = g_build_filename (f->dir, "quarantine", rel, NULL);
  return !g_file_test (path, G_FILE_TEST_EXISTS)
      && g_file_test (moved, G_FILE_TEST_EXISTS);
}

/* Files that do not parse never stop a start: each is moved to the
 * quarantine, its rows removed; good files are indexed all the same. */
static void
test_quarantine (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) good = lbt_read_bytes (final_path);
  gsize n;
  const guint8 *bytes = g_bytes_get_data (good, &n);
  g_autoptr (LbMp4Init) init = NULL;
  g_assert_true (lb_mp4_read_init_path (final_path, &init, &error));
  gchar *p[7];
  for (guint i = 0; i < G_N_ELEMENTS (p); i++)
    p[i] = lb_footage_segment_path (f->dir, "v1", "q", T0 + i * GST_SECOND);

  /* 0: good; 1: garbage; 2: cut in its moov; 3: a moov that claims more
   * bytes than the file has; 4: empty; 5: garbage behind an open row;
   * 6: a FIFO (a read would block) */
  write_bytes (p[0], bytes, n);
  guint8 garbage[4096];
  for (guint i = 0; i < sizeof garbage; i++)
    garbage[i] = (guint8) g_test_rand_int ();
  write_bytes (p[1], garbage, sizeof garbage);
  write_bytes (p[2], bytes, init->init_size / 2);
  g_autofree guint8 *mutated = g_memdup2 (bytes, n);
  gsize at = 4;
  while (at + 4 <= n && memcmp (mutated + at, "moov", 4) != 0)
    at++;
  g_assert_cmpuint (at + 4, <=, n);
  mutated[at - 4] = 0x7f;
  write_bytes (p[3], mutated, n);
  write_bytes (p[4], (const guint8 *) "", 0);
  write_bytes (p[5], garbage, sizeof garbage);
  g_assert_cmpint (mkfifo (p[6], 0600), ==, 0);
  LbSegment open_row = {.vehicle = "v1",.input = "q",.path = p[5],.start_ns =
        T0 + 5 * GST_SECOND,.codec = "h264",.caps = "video/x-h264",.fps_d = 1
  };
  g_assert_true (lb_store_segment_begin (f->store, &open_row, &error));
  g_assert_no_error (error);

  g_autoptr (GString) report = g_string_new (NULL);
  g_assert_true (lb_footage_reconcile (f->store, report, &error));
  g_assert_no_error (error);
  g_test_message ("%s", report->str);

  g_autoptr (GPtrArray) segs =
      lb_store_segment_list (f->store, "v1", "q", FALSE, &error);
  g_assert_cmpuint (segs->len, ==, 1);
  g_assert_cmpstr (((LbSegment *) segs->pdata[0])->path, ==, p[0]);
  for (guint i = 1; i < G_N_ELEMENTS (p); i++) {
    g_test_message ("%u: %s", i, p[i]);
    g_assert_true (quarantined (f, p[i]));
  }
  /* a second start finds nothing more */
  g_autoptr (GString) again = g_string_new (NULL);
  g_assert_true (lb_footage_reconcile (f->store, again, &error));
  g_assert_null (strstr (again->str, "quarantine"));
  for (guint i = 0; i < G_N_ELEMENTS (p); i++)
    g_free (p[i]);
}

/* The quarantine keeps its newest 32 files. */
static void
test_quarantine_bounded (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  for (guint i = 0; i < 40; i++) {
    g_autofree gchar *p =
        lb_footage_segment_path (f->dir, "v1", "j", T0 + i * GST_SECOND);
    lbt_write_file (p, "junk");
  }
  g_autoptr (GString) report = g_string_new (NULL);
  g_assert_true (lb_footage_reconcile (f->store, report, &error));
  g_assert_no_error (error);
  g_autofree gchar *q =
      g_build_filename (f->dir, "quarantine", "segments", "v1", "j", NULL);
  g_autoptr (GDir) d = g_dir_open (q, 0, NULL);
  guint count = 0;
  while (d && g_dir_read_name (d))
    count++;
  g_assert_cmpuint (count, ==, 32);
  /* the last one moved in is kept */
  g_autofree gchar *last =
      lb_footage_segment_path (f->dir, "v1", "j", T0 + 39 * GST_SECOND);
  g_assert_true (quarantined (f, last));
}

/* mp4mux cuts fragments by duration, not at keyframes: with a 2 s GOP and
 * 1 s fragments every other fragment has no keyframe; it belongs to the
 * row of the GOP before it. */
static void
test_fragments_without_keyframes (Fixture * f, gconstpointer data)
{
  g_autofree gchar *path = lb_footage_segment_path (f->dir, "v1", "a", T0);
  LbtRecording rec = {.frames = 300,.fps = 30,.gop = 60,.crash = TRUE };
  g_autofree gchar *src = g_build_filename (f->dir, "gop60.mp4", NULL);
  g_assert_true (lbt_record (src, &rec));
  g_autoptr (GError) error = NULL;
  g_autoptr (LbIndexer) ix =
      lb_indexer_new (f->store, "v1", "a", path, T0, &error);
  g_autoptr (LbMp4Init) init = NULL;
  g_assert_true (lb_mp4_read_init_path (src, &init, &error));
  /* grow it in steps so that some updates end on a keyframe-less fragment */
  gint64 full = file_size (src);
  for (gint64 len = init->init_size + 10; len < full; len += 7000) {
    copy_prefix (src, path, len);
    g_assert_true (lb_indexer_update (ix, &error));
    g_assert_no_error (error);
  }
  copy_prefix (src, path, full);
  g_assert_true (lb_indexer_finish (ix, &error));
  g_assert_no_error (error);

  g_autoptr (GArray) rows = lb_store_segment_keyframes (f->store,
      lb_indexer_get_segment_id (ix), &error);
  /* complete fragments: 0-1 s (moov), then moofs up to 5 or 6 s */
  g_assert_cmpuint (rows->len, >=, 3);
  g_autoptr (GBytes) bytes = lbt_read_bytes (path);
  const guint8 *d = g_bytes_get_data (bytes, NULL);
  for (guint i = 0; i < rows->len; i++) {
    LbKeyframe *k = &g_array_index (rows, LbKeyframe, i);
    g_assert_cmpint (k->time_ns, ==, T0 + (gint64) i * 2 * GST_SECOND);
    g_assert_true (lbt_avc_sample_is_idr (d + k->sample_offset,
            k->sample_size));
    if (i + 1 < rows->len) {
      LbKeyframe *n = &g_array_index (rows, LbKeyframe, i + 1);
      g_assert_cmpuint (k->frames, ==, 60);
      g_assert_cmpint (k->offset + k->size, ==, n->offset);
    }
    /* a reader gets every frame of the GOP from the row's byte range */
    gint fd = open (path, O_RDONLY);
    g_autoptr (LbMp4Init) now = NULL;
    g_autoptr (LbMp4Fragment) range = NULL;
    g_assert_true (lb_mp4_read_init (fd, &now, &error));
    g_assert_true (lb_mp4_read_range (fd, now, k->offset, k->size, &range,
            &error));
    close (fd);
    g_assert_cmpuint (range->samples->len, ==, k->frames);
    g_assert_cmpint (g_array_index (range->samples, LbMp4Sample, 0).offset, ==,
        k->sample_offset);
  }
  g_autoptr (LbSegment) seg =
      lb_store_segment_get (f->store, lb_indexer_get_segment_id (ix), &error);
  g_assert_cmpint ((seg->end_ns - T0) % GST_SECOND, ==, 0);
  g_assert_cmpint (seg->end_ns, >=, T0 + 5 * GST_SECOND);
}

/* An indexer follows a file while splitmuxsink writes it, then the muxer
 * finalises it at EOS: every GOP ends up indexed exactly once, including the
 * last frames that only the final moov describes. */
static void
test_follow_recording (Fixture * f, gconstpointer data)
{
  g_autofree gchar *seg_dir =
      g_build_filename (f->dir, "segments", "v1", "a", NULL);
  g_mkdir_with_parents (seg_dir, 0755);
  g_autofree gchar *tmpl = g_build_filename (seg_dir, "rec%03d.mp4", NULL);
  g_autofree gchar *path = g_build_filename (seg_dir, "rec000.mp4", NULL);
  g_autofree gchar *desc =
      g_strdup_printf ("videotestsrc num-buffers=150 pattern=ball ! "
      "video/x-raw,width=160,height=120,framerate=30/1 ! videoconvert ! "
      "video/x-raw,format=I420 ! identity sleep-time=3000 ! x264enc speed-preset=superfast "
      "bframes=0 key-int-max=30 option-string=scenecut=0 ! video/x-h264,profile=high ! "
      "h264parse ! splitmuxsink async-finalize=true muxer-factory=mp4mux "
      "muxer-properties=\"properties,fragment-duration=(uint)1000,fragment-mode=(int)1\" "
      "location=%s max-size-time=3600000000000", tmpl);
  g_autoptr (GError) error = NULL;
  GstElement *pipeline = gst_parse_launch (desc, &error);
  g_assert_no_error (error);
  g_autoptr (LbIndexer) ix =
      lb_indexer_new (f->store, "v1", "a", path, T0, &error);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *msg = NULL;
  guint updates = 0;
  while (!(msg = gst_bus_timed_pop_filtered (bus, 20 * GST_MSECOND,
              GST_MESSAGE_EOS | GST_MESSAGE_ERROR))) {
    g_assert_true (lb_indexer_update (ix, &error));
    g_assert_no_error (error);
    updates++;
  }
  g_assert_cmpint (GST_MESSAGE_TYPE (msg), ==, GST_MESSAGE_EOS);
  gst_message_unref (msg);
  gst_object_unref (bus);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  g_test_message ("%u updates while recording", updates);
  g_assert_cmpint (lb_indexer_get_segment_id (ix), >, 0);       /* rows while it grew */
  g_assert_true (lb_indexer_finish (ix, &error));
  g_assert_no_error (error);

  gint64 id = lb_indexer_get_segment_id (ix);
  check_rows (f->store, id, 5);
  g_autoptr (LbSegment) seg = lb_store_segment_get (f->store, id, &error);
  g_assert_false (seg->open);
  g_assert_cmpint (seg->bytes, ==, file_size (path));
  /* the rows read back through the finalised file give all 150 frames */
  g_autoptr (GArray) rows = lb_store_segment_keyframes (f->store, id, &error);
  gint fd = open (path, O_RDONLY);
  g_autoptr (LbMp4Init) init = NULL;
  g_assert_true (lb_mp4_read_init (fd, &init, &error));
  g_assert_false (init->fragmented);
  guint total = 0;
  for (guint i = 0; i < rows->len; i++) {
    LbKeyframe *k = &g_array_index (rows, LbKeyframe, i);
    g_autoptr (LbMp4Fragment) r = NULL;
    g_assert_true (lb_mp4_read_range (fd, init, k->offset, k->size, &r,
            &error));
    g_assert_cmpuint (r->samples->len, ==, k->frames);
    total += r->samples->len;
  }
  close (fd);
  g_assert_cmpuint (total, ==, 150);
}

static gboolean
hevc_is_irap (const guint8 * data, gsize size)
{
  gsize pos = 0;
  while (pos + 5 < size) {
    guint32 n = ((guint32) data[pos] << 24) | ((guint32) data[pos + 1] << 16) |
        ((guint32) data[pos + 2] << 8) | data[pos + 3];
    if (n == 0 || n > size - pos - 4)
      return FALSE;
    guint type = (data[pos + 4] >> 1) & 0x3f;
    if (type >= 16 && type <= 21)
      return TRUE;
    if (type < 16)
      return FALSE;
    pos += 4 + n;
  }
  return FALSE;
}

/* Real files from other recorders: B-frames with an audio track first,
 * 1 fps, H.265, one keyframe at 1080p. */
static void
test_shared_media (Fixture * f, gconstpointer data)
{
  g_autofree gchar *media = lb_test_shared_media (NULL);
  static const struct
  {
    const gchar *name;
    const gchar *codec;
    guint rows;
    gdouble key_s[4];           /* keyframe times from the segment start */
    gdouble end_s;
  } cases[] = {
    {"kerberos-480p.mp4", "h264", 4, {0, 1.0344, 2.002, 3.0364}, 3.2},
    {"moonfire-clip.mp4", "h264", 3, {0, 4.0, 8.0}, 10.0},
    {"bbb-hevc.mp4", "h265", 3, {0, 2, 4}, 5.0},
    {"mediamtx-offline.mp4", "h264", 1, {0}, 1.0},
  };
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++) {
    g_autofree gchar *src = g_build_filename (media, cases[c].name, NULL);
    gint64 start = T0 + c * 100 * GST_SECOND;
    g_autofree gchar *path = lb_footage_segment_path (f->dir, "v1", "a", start);
    copy_prefix (src, path, -1);
    g_autoptr (GError) error = NULL;
    gint64 id = 0;
    g_assert_true (lb_footage_index_file (f->store, "v1", "a", path, start, &id,
            &error));
    g_assert_no_error (error);
    g_autoptr (LbSegment) seg = lb_store_segment_get (f->store, id, &error);
    g_assert_cmpstr (seg->codec, ==, cases[c].codec);
    g_assert_true (g_str_has_prefix (seg->caps, g_str_equal (cases[c].codec,
                "h264")
            ? "video/x-h264" : "video/x-h265"));
    g_assert_cmpfloat_with_epsilon ((seg->end_ns - start) / 1e9, cases[c].end_s,
        0.1);
    g_autoptr (GArray) rows = lb_store_segment_keyframes (f->store, id, &error);
    g_assert_cmpuint (rows->len, ==, cases[c].rows);
    g_autoptr (GBytes) bytes = lbt_read_bytes (path);
    gsize len;
    const guint8 *d = g_bytes_get_data (bytes, &len);
    for (guint i = 0; i < rows->len; i++) {
      LbKeyframe *k = &g_array_index (rows, LbKeyframe, i);
      g_assert_cmpfloat_with_epsilon ((k->time_ns - start) / 1e9,
          cases[c].key_s[i], 0.002);
      if (g_str_equal (cases[c].codec, "h264"))
        g_assert_true (lbt_avc_sample_is_idr (d + k->sample_offset,
                k->sample_size));
      else
        g_assert_true (hevc_is_irap (d + k->sample_offset, k->sample_size));
    }
  }
}

/* ---- recovery of the fragment whose moof was not written (kill -9) ---- */

typedef struct _RefFragment RefFragment;
struct _RefFragment
{
  gint64 mdat_pos;              /* the reference fragment's mdat header */
  gint64 payload_end;           /* its moof starts here */
  GArray *samples;              /* its samples (LbMp4Sample) */
  guint before_frames;          /* frames of the fragments before it */
  guint before_fragments;
  gint64 media_base_ns;         /* the first frame's PTS: T0 in the index */
};

static void
ref_fragment_clear (RefFragment * r)
{
  g_clear_pointer (&r->samples, g_array_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (RefFragment, ref_fragment_clear)
/* The @index-th fragment (0: the moov's) of @src, whose mdat holds only
 * its samples. */
     static void find_fragment (const gchar * src, guint index, RefFragment * r)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LbMp4Init) init = NULL;
  gint fd = g_open (src, O_RDONLY, 0);
  g_assert_cmpint (fd, >=, 0);
  g_assert_true (lb_mp4_read_init (fd, &init, &error));
  gint64 off = lb_mp4_first_offset (init);
  memset (r, 0, sizeof (*r));
  r->media_base_ns = G_MAXINT64;
  for (guint i = 0; i <= index; i++) {
    g_autoptr (LbMp4Fragment) fr = NULL;
    g_assert_true (lb_mp4_read_fragment (fd, init, off, file_size (src), &fr,
            &error));
    g_assert_no_error (error);
    g_assert_nonnull (fr);
    for (guint k = 0; i == 0 && k < fr->samples->len; k++)
      r->media_base_ns = MIN (r->media_base_ns, g_array_index (fr->samples,
              LbMp4Sample, k).pts_ns);
    if (i < index) {
      r->before_frames += fr->samples->len;
      r->before_fragments++;
    } else {
      r->samples = g_array_ref (fr->samples);
    }
    off = fr->next_offset;
  }
  close (fd);
  g_autoptr (GBytes) bytes = lbt_read_bytes (src);
  const guint8 *d = g_bytes_get_data (bytes, NULL);
  LbMp4Sample *first = &g_array_index (r->samples, LbMp4Sample, 0);
  LbMp4Sample *last =
      &g_array_index (r->samples, LbMp4Sample, r->samples->len - 1);
  r->mdat_pos = first->offset - 8;
  r->payload_end = last->offset + last->size;
  g_assert_cmpint (memcmp (d + r->mdat_pos + 4, "mdat", 4), ==, 0);
  /* the moov describes the first fragment, a moof each later one */
  g_assert_cmpint (memcmp (d + r->payload_end + 4, index ? "moof" : "moov",
          4), ==, 0);
}

/* What a kill leaves: @src up to @len bytes, where the reference
 * fragment's moof is not written yet and (unless @keep_size) its mdat
 * header says "to the end of the file" (size 0). */
static void
write_killed (const gchar * src, const gchar * dst, const RefFragment * r,
    gint64 len, gboolean keep_size)
{
  g_autoptr (GBytes) b = lbt_read_bytes (src);
  gsize n;
  const guint8 *data = g_bytes_get_data (b, &n);
  g_assert_cmpint (len, <=, (gint64) n);
  g_autofree guint8 *copy = g_memdup2 (data, len);
  if (!keep_size && r->mdat_pos + 4 <= len)
    memset (copy + r->mdat_pos, 0, 4);
  g_autofree gchar *dir = g_path_get_dirname (dst);
  g_mkdir_with_parents (dir, 0755);
  g_assert_true (g_file_set_contents (dst, (const gchar *) copy, len, NULL));
}

static gint
decode_count (const gchar * path)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *desc =
      g_strdup_printf ("filesrc location=\"%s\" ! decodebin ! "
      "fakesink name=sink signal-handoffs=true", path);
  g_autoptr (GstElement) p = gst_parse_launch (desc, &error);
  g_assert_no_error (error);
  g_autoptr (GstElement) sink = gst_bin_get_by_name (GST_BIN (p), "sink");
  gint count = 0;
  g_signal_connect_swapped (sink, "handoff", G_CALLBACK (g_atomic_int_inc),
      &count);
  lb_test_play_to_eos (p);
  return count;
}

/* Frames ffprobe decodes in @path (-1 when it reports an error). */
static gint
ffprobe_count (const gchar * path)
{
  const gchar *argv[] =
      { "ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
    "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", path, NULL
  };
  g_autofree gchar *out = NULL, *err = NULL;
  gint status = 0;
  g_autoptr (GError) error = NULL;
  g_assert_true (g_spawn_sync (NULL, (gchar **) argv, NULL, G_SPAWN_SEARCH_PATH,
          NULL, NULL, &out, &err, &status, &error));
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL) || (err && *err)) {
    g_test_message ("ffprobe %s: %s", path, err);
    return -1;
  }
  return (gint) g_ascii_strtoll (out, NULL, 10);
}

/* @got holds @expect samples: the first @expect of the reference
 * fragment @r, with the muxer's own sizes, offsets, times and flags. */
static void
check_same_samples (const GArray * got, const RefFragment * r, guint expect)
{
  g_assert_cmpuint (got->len, ==, expect);
  for (guint i = 0; i < expect; i++) {
    const LbMp4Sample *a = &g_array_index (got, LbMp4Sample, i);
    const LbMp4Sample *b = &g_array_index (r->samples, LbMp4Sample, i);
    g_assert_cmpint (a->offset, ==, b->offset);
    g_assert_cmpuint (a->size, ==, b->size);
    g_assert_cmpint (a->dts_ns, ==, b->dts_ns);
    g_assert_cmpint (a->pts_ns, ==, b->pts_ns);
    g_assert_cmpint (a->duration_ns, ==, b->duration_ns);
    g_assert_cmpint (a->sync, ==, b->sync);
  }
}

/* Reconciles the killed file at @path (unknown to the index) and checks
 * that exactly @expect frames of the reference fragment were recovered,
 * timed and flagged like the muxer would have, and that all decode. */
static void
check_recovered (LbStore * store, const gchar * path, const gchar * input,
    const RefFragment * r, guint expect)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) report = g_string_new (NULL);
  g_assert_true (lb_footage_reconcile (store, report, &error));
  g_assert_no_error (error);
  g_test_message ("%s: %s", input, report->str);
  if (expect > 0) {
    g_autofree gchar *line =
        g_strdup_printf ("recovered %u frames from the torn tail of %s",
        expect, path);
    g_assert_nonnull (strstr (report->str, line));
  } else {
    g_assert_null (strstr (report->str, "recovered"));
  }
  g_autoptr (GPtrArray) segs =
      lb_store_segment_list (store, "v1", input, FALSE, &error);
  g_assert_cmpuint (segs->len, ==, 1);
  LbSegment *seg = g_ptr_array_index (segs, 0);
  guint rows = r->before_fragments + (expect > 0 ? 1 : 0);
  g_autoptr (GArray) kf = lb_store_segment_keyframes (store, seg->id, &error);
  g_assert_cmpuint (kf->len, ==, rows);
  /* (an unknown file's torn tail is left in place, outside the index) */
  if (expect > 0)
    g_assert_cmpint (seg->bytes, ==, file_size (path));
  else
    g_assert_cmpint (seg->bytes, <=, file_size (path));
  LbMp4Sample *s0 = &g_array_index (r->samples, LbMp4Sample, 0);
  /* the end of the frames shown: with B-frames the last one in decode
   * order is not the last shown, the keyframe is the first */
  gint64 end = s0->pts_ns;
  for (guint i = 0; i < expect; i++) {
    LbMp4Sample *si = &g_array_index (r->samples, LbMp4Sample, i);
    end = MAX (end, si->pts_ns + si->duration_ns);
  }
  end += T0 - r->media_base_ns;
  /* (ns from ticks are rounded down: pts + duration of one frame may be a
   * nanosecond short of the next frame's pts) */
  g_assert_cmpint (ABS (seg->end_ns - end), <=, 1);

  /* the file is a normal fragmented MP4 again: the reader finds the
   * fragment, with the muxer's own sizes, offsets, times and flags */
  gint fd = g_open (path, O_RDONLY, 0);
  g_autoptr (LbMp4Init) init = NULL;
  g_assert_true (lb_mp4_read_init (fd, &init, &error));
  g_assert_true (init->fragmented);
  if (expect > 0) {
    LbKeyframe *k = &g_array_index (kf, LbKeyframe, rows - 1);
    g_assert_cmpuint (k->frames, ==, expect);
    g_autoptr (LbMp4Fragment) range = NULL;
    g_assert_true (lb_mp4_read_range (fd, init, k->offset, k->size, &range,
            &error));
    check_same_samples (range->samples, r, expect);
  }
  close (fd);
  /* (qtdemux 1.22 ends the presentation of a file with moof fragments as
   * much before its last frame as mp4mux's edit list starts after its
   * first: the B-frames' delay; ffprobe shows them all) */
  LbMp4Sample *k0 = &g_array_index (r->samples, LbMp4Sample, 0);
  gboolean moofs = r->before_fragments >= 2 || expect > 0;
  gint delay = moofs ? (gint) ((r->media_base_ns + k0->duration_ns / 2) /
      k0->duration_ns) : 0;
  g_assert_cmpint (decode_count (path), ==, (gint) (r->before_frames + expect)
      - delay);
  g_assert_cmpint (ffprobe_count (path), ==,
      (gint) (r->before_frames + expect));

  /* a second reconcile finds nothing more to do */
  g_autoptr (GString) again = g_string_new (NULL);
  g_assert_true (lb_footage_reconcile (store, again, &error));
  g_assert_null (strstr (again->str, "torn tail"));
}

/* How many of the first @k samples (decode order) of @r a recovery keeps:
 * the longest run from the start that holds the frames shown first, one
 * after the other (all @k without B-frames). */
static guint
shown_prefix (const RefFragment * r, guint k)
{
  const LbMp4Sample *s = (const LbMp4Sample *) r->samples->data;
  guint keep = 0, max_rank = 0;
  for (guint i = 0; i < k; i++) {
    guint rank = 0;             /* among the whole fragment */
    for (guint j = 0; j < r->samples->len; j++)
      rank += s[j].pts_ns < s[i].pts_ns;
    max_rank = MAX (max_rank, rank);
    if (max_rank == i)
      keep = i + 1;
  }
  return keep;
}

typedef struct
{
  const gchar **path;           /* the recording */
  guint index;                  /* the killed fragment */
} RecoverCase;

/* Where the kills of the recovery tests cut the fragment @r, and how many
 * of its frames are whole then. */
static const struct
{
  const gchar *what;
  guint whole;
} kill_cuts[] = {
  {"inside the mdat header", 0},
  {"right after the mdat header", 0},
  {"inside the first NAL length", 0},
  {"mid-NAL in frame 10", 10},
  {"between frames 19 and 20", 20},
  {"between frames 21 and 22", 22},
  {"exactly at the end", 30},
  {"mdat closed, nothing after it", 30},
  {"mdat closed, then a torn box", 30},
};

/* The length of the file cut by kill_cuts[@cut], and whether its mdat
 * is closed (*@keep_size). */
static gint64
kill_cut (const RefFragment * r, guint cut, gboolean * keep_size)
{
  const LbMp4Sample *s = (const LbMp4Sample *) r->samples->data;
  const gint64 len[] = {
    r->mdat_pos + 5, r->mdat_pos + 8, s[0].offset + 2,
    s[10].offset + s[10].size / 2, s[20].offset, s[22].offset,
    r->payload_end, r->payload_end, r->payload_end + 20,
  };
  G_STATIC_ASSERT (G_N_ELEMENTS (len) == G_N_ELEMENTS (kill_cuts));
  *keep_size = cut >= 7;
  g_test_message ("cut %s (%" G_GINT64_FORMAT " bytes)", kill_cuts[cut].what,
      len[cut]);
  return len[cut];
}

/* The killed fragment is the one after the moov's (index 1) or after a
 * moof fragment (2), of a recording with or without B-frames: the frames
 * whose bytes are whole are recovered, with B-frames those shown before
 * any that was cut off (their order of display from the bitstream). */
static void
test_recover_tail (Fixture * f, gconstpointer data)
{
  const RecoverCase *rc = data;
  guint index = rc->index;
  g_auto (RefFragment) r;
  find_fragment (*rc->path, index, &r);
  g_assert_cmpuint (r.samples->len, ==, 30);
  g_assert_cmpuint (r.before_frames, ==, 30 * index);
  const LbMp4Sample *s = (const LbMp4Sample *) r.samples->data;
  g_assert_true (s[0].sync);
  g_assert_true (s[10].size > 8);
  for (guint c = 0; c < G_N_ELEMENTS (kill_cuts); c++) {
    g_autofree gchar *input = g_strdup_printf ("c%u", c);
    g_autofree gchar *path = lb_footage_segment_path (f->dir, "v1", input, T0);
    gboolean keep_size;
    gint64 len = kill_cut (&r, c, &keep_size);
    write_killed (*rc->path, path, &r, len, keep_size);
    check_recovered (f->store, path, input, &r, shown_prefix (&r,
            kill_cuts[c].whole));
  }
}

/* Pictures of two slices: a picture torn between its slices is left out
 * (it would decode half grey). */
static void
test_recover_slices (Fixture * f, gconstpointer data)
{
  g_autofree gchar *src = g_build_filename (f->dir, "slices.mp4", NULL);
  LbtRecording rec = {.frames = 160,.fps = 30,.gop = 30,.slices = 2,.crash =
        TRUE
  };
  g_assert_true (lbt_record (src, &rec));
  g_auto (RefFragment) r;
  find_fragment (src, 2, &r);
  g_assert_cmpuint (r.samples->len, ==, 30);
  /* the slices (VCL NAL units) of frame 10 */
  const LbMp4Sample *s10 = &g_array_index (r.samples, LbMp4Sample, 10);
  g_autoptr (GBytes) bytes = lbt_read_bytes (src);
  const guint8 *d =
      (const guint8 *) g_bytes_get_data (bytes, NULL) + s10->offset;
  gint64 slice_end[4];
  guint slices = 0;
  for (gsize pos = 0; pos + 4 < s10->size;) {
    guint32 n = ((guint32) d[pos] << 24) | ((guint32) d[pos + 1] << 16) |
        ((guint32) d[pos + 2] << 8) | d[pos + 3];
    g_assert_cmpuint (n, <=, s10->size - pos - 4);
    guint type = d[pos + 4] & 0x1f;
    pos += 4 + n;
    if ((type == 1 || type == 5) && slices < G_N_ELEMENTS (slice_end))
      slice_end[slices++] = s10->offset + (gint64) pos;
  }
  g_assert_cmpuint (slices, ==, 2);
  g_assert_cmpint (slice_end[1], ==, s10->offset + s10->size);
  static const struct
  {
    const gchar *what;
    gint kind;
    guint expect;
  } cases[] = {
    {"between the slices of frame 10", 0, 10},
    {"inside the second slice of frame 10", 1, 10},
    {"after frame 10", 2, 11},
  };
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++) {
    g_autofree gchar *input = g_strdup_printf ("s%u", c);
    g_autofree gchar *path = lb_footage_segment_path (f->dir, "v1", input, T0);
    gint64 len = cases[c].kind == 0 ? slice_end[0] : cases[c].kind == 1 ?
        slice_end[0] + 7 : slice_end[1];
    g_test_message ("cut %s (%" G_GINT64_FORMAT " bytes)", cases[c].what, len);
    write_killed (src, path, &r, len, FALSE);
    check_recovered (f->store, path, input, &r, cases[c].expect);
  }
}

static void
put_be (GByteArray * a, guint64 v, guint bytes)
{
  for (guint i = bytes; i > 0; i--) {
    guint8 b = (guint8) (v >> (8 * (i - 1)));
    g_byte_array_append (a, &b, 1);
  }
}

/* A moof for one sample of @size bytes at @data_pos, decode time @dts
 * ticks, duration 0, a keyframe: what mp4mux writes for the first part of
 * a keyframe that came as two buffers of one timestamp. */
static void
put_zero_duration_moof (GByteArray * a, guint32 track, gint64 data_pos,
    guint64 dts, guint32 size)
{
  const guint tfhd = 24, tfdt = 20, trun = 32, traf = 8 + tfhd + tfdt + trun;
  put_be (a, 8 + 16 + traf, 4);
  g_byte_array_append (a, (const guint8 *) "moof", 4);
  put_be (a, 16, 4);
  g_byte_array_append (a, (const guint8 *) "mfhd", 4);
  put_be (a, 0, 4);
  put_be (a, 99, 4);
  put_be (a, traf, 4);
  g_byte_array_append (a, (const guint8 *) "traf", 4);
  put_be (a, tfhd, 4);
  g_byte_array_append (a, (const guint8 *) "tfhd", 4);
  put_be (a, 0x000001, 4);      /* base-data-offset */
  put_be (a, track, 4);
  put_be (a, (guint64) data_pos, 8);
  put_be (a, tfdt, 4);
  g_byte_array_append (a, (const guint8 *) "tfdt", 4);
  put_be (a, 0x01000000, 4);
  put_be (a, dts, 8);
  put_be (a, trun, 4);
  g_byte_array_append (a, (const guint8 *) "trun", 4);
  put_be (a, 0x000701, 4);      /* data offset, duration, size, flags */
  put_be (a, 1, 4);
  put_be (a, 0, 4);
  put_be (a, 0, 4);             /* duration 0 */
  put_be (a, size, 4);
  put_be (a, 0x02000000, 4);
}

/* The last complete fragment holds one sample of duration 0 (cameras that
 * slice their keyframes): the tail still gets the frame duration of the
 * fragments before it, and decode times that go on from that sample. */
static void
test_recover_zero_duration (Fixture * f, gconstpointer data)
{
  g_auto (RefFragment) r;
  find_fragment (growing_path, 2, &r);
  const LbMp4Sample *s = (const LbMp4Sample *) r.samples->data;
  g_autoptr (GBytes) src = lbt_read_bytes (growing_path);
  const guint8 *d = g_bytes_get_data (src, NULL);
  g_autoptr (LbMp4Init) init = NULL;
  g_autoptr (GError) error = NULL;
  g_assert_true (lb_mp4_read_init_path (growing_path, &init, &error));

  /* the file up to F2, then F2's keyframe as a fragment of its own whose
   * sample lasts 0, then the rest of F2 without a moof, cut after frame 19 */
  g_autoptr (GByteArray) a = g_byte_array_new ();
  g_byte_array_append (a, d, r.mdat_pos);
  put_be (a, 8 + s[0].size, 4);
  g_byte_array_append (a, (const guint8 *) "mdat", 4);
  gint64 key_pos = a->len;
  g_byte_array_append (a, d + s[0].offset, s[0].size);
  put_zero_duration_moof (a, init->track_id, key_pos,
      gst_util_uint64_scale_round (s[0].dts_ns, init->timescale, GST_SECOND),
      s[0].size);
  put_be (a, 0, 4);
  g_byte_array_append (a, (const guint8 *) "mdat", 4);
  gint64 tail_pos = a->len;
  g_byte_array_append (a, d + s[1].offset, s[20].offset - s[1].offset);
  g_autofree gchar *path = g_build_filename (f->dir, "zero.mp4", NULL);
  g_assert_true (g_file_set_contents (path, (const gchar *) a->data, a->len,
          NULL));

  gint fd = g_open (path, O_RDWR, 0);
  g_assert_cmpint (fd, >=, 0);
  guint n = 0;
  g_autofree gchar *note = NULL;
  g_assert_true (lb_mp4_recover_tail (fd, &n, &note, &error));
  g_assert_no_error (error);
  g_test_message ("recovered %u (%s)", n, note ? note : "");
  g_assert_cmpuint (n, ==, 19);

  /* the recovered fragment: F2's frames 1 to 19, one frame apart from the
   * keyframe's decode time on */
  g_autoptr (LbMp4Init) again = NULL;
  g_assert_true (lb_mp4_read_init (fd, &again, &error));
  gint64 size = file_size (path), off = lb_mp4_first_offset (again);
  g_autoptr (LbMp4Fragment) last = NULL;
  for (;;) {
    g_autoptr (LbMp4Fragment) fr = NULL;
    g_assert_true (lb_mp4_read_fragment (fd, again, off, size, &fr, &error));
    g_assert_no_error (error);
    if (fr == NULL || fr->next_offset >= size) {
      last = g_steal_pointer (&fr);
      break;
    }
    off = fr->next_offset;
  }
  close (fd);
  g_assert_nonnull (last);
  g_assert_cmpuint (last->samples->len, ==, 19);
  for (guint i = 0; i < 19; i++) {
    const LbMp4Sample *got = &g_array_index (last->samples, LbMp4Sample, i);
    g_assert_cmpint (got->offset, ==, tail_pos + s[i + 1].offset - s[1].offset);
    g_assert_cmpuint (got->size, ==, s[i + 1].size);
    g_assert_cmpint (got->duration_ns, ==, s[i + 1].duration_ns);
    g_assert_cmpint (ABS (got->dts_ns - (s[0].dts_ns + (gint64) i *
                s[1].duration_ns)), <=, 1000);
  }
}

/* ---- a file killed within its first fragment: no moov yet ---- */

static gboolean
same_bytes (const gchar * a, GBytes * b)
{
  g_autoptr (GBytes) now = lbt_read_bytes (a);
  return g_bytes_equal (now, b);
}

/* Recovers the moov-less file @path with the previous segment @previous
 * (NULL: none) and checks that exactly @expect frames of @r (the first
 * fragment of the recording @src) were recovered: the file then reads as
 * the muxer's own once its moov is written (the same samples, times and
 * flags), qtdemux and ffprobe decode them all, and a second recovery
 * finds nothing to do.  With @expect 0, the file is left as it was. */
static void
check_first_recovered (const gchar * path, const gchar * previous,
    const gchar * src, const RefFragment * r, guint expect)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) before = lbt_read_bytes (path);
  gint fd = g_open (path, O_RDWR, 0);
  gint pfd = previous ? g_open (previous, O_RDONLY, 0) : -1;
  g_assert_cmpint (fd, >=, 0);
  guint n = G_MAXUINT;
  g_autofree gchar *note = NULL;
  g_assert_true (lb_mp4_recover_first (fd, pfd, &n, &note, &error));
  g_assert_no_error (error);
  g_test_message ("%u frames recovered (%s)", n, note ? note : "");
  g_assert_cmpuint (n, ==, expect);
  if (expect == 0) {
    g_assert_true (same_bytes (path, before));
    close (fd);
    if (pfd >= 0)
      close (pfd);
    return;
  }
  g_autoptr (LbMp4Init) init = NULL, ref = NULL;
  g_assert_true (lb_mp4_read_init (fd, &init, &error));
  g_assert_true (lb_mp4_read_init_path (src, &ref, &error));
  g_assert_true (init->fragmented);
  g_assert_cmpstr (init->codec, ==, ref->codec);
  g_assert_cmpstr (init->caps, ==, ref->caps);
  g_assert_cmpuint (init->timescale, ==, ref->timescale);
  g_assert_cmpint (init->edit_ns, ==, ref->edit_ns);
  g_assert_cmpint (init->fps_n, ==, ref->fps_n);
  gint64 size = file_size (path);
  g_autoptr (LbMp4Fragment) fr = NULL, next = NULL;
  g_assert_true (lb_mp4_read_fragment (fd, init, lb_mp4_first_offset (init),
          size, &fr, &error));
  g_assert_cmpint (fr->next_offset, ==, size);
  check_same_samples (fr->samples, r, expect);
  g_assert_false (lb_mp4_read_fragment (fd, init, fr->next_offset, size,
          &next, &error));
  g_assert_error (error, LB_ERROR, LB_ERROR_NOT_YET);
  g_clear_error (&error);
  g_assert_cmpint (decode_count (path), ==, (gint) expect);
  g_assert_cmpint (ffprobe_count (path), ==, (gint) expect);

  guint again = G_MAXUINT;
  g_assert_true (lb_mp4_recover_first (fd, pfd, &again, NULL, &error));
  g_assert_cmpuint (again, ==, 0);
  g_assert_true (lb_mp4_recover_tail (fd, &again, NULL, &error));
  g_assert_cmpuint (again, ==, 0);
  g_assert_cmpint (file_size (path), ==, size);
  close (fd);
  close (pfd);
}

/* A kill within a file's first fragment (before the muxer wrote its moov,
 * which describes that fragment): with the input's previous segment, the
 * frames whose bytes are whole are recovered (with B-frames those shown
 * before any that was cut off), H.264 and H.265. */
static void
test_recover_first (Fixture * f, gconstpointer data)
{
  const gchar *src = *(const gchar **) data;
  g_auto (RefFragment) r;
  find_fragment (src, 0, &r);
  g_assert_cmpuint (r.samples->len, ==, 30);
  /* the previous segment: another file of the same encoder */
  g_autofree gchar *previous = g_build_filename (f->dir, "previous.mp4", NULL);
  copy_prefix (src, previous, -1);
  for (guint c = 0; c < G_N_ELEMENTS (kill_cuts); c++) {
    g_autofree gchar *name = g_strdup_printf ("first-%u.mp4", c);
    g_autofree gchar *path = g_build_filename (f->dir, name, NULL);
    gboolean keep_size;
    gint64 len = kill_cut (&r, c, &keep_size);
    write_killed (src, path, &r, len, keep_size);
    check_first_recovered (path, previous, src, &r, shown_prefix (&r,
            kill_cuts[c].whole));
  }
}

/* Without a previous segment, with one of another codec or size (its
 * parameter sets are not the file's) or with garbage for samples, a
 * moov-less file is left as it was. */
static void
test_recover_first_refused (Fixture * f, gconstpointer data)
{
  g_auto (RefFragment) r;
  find_fragment (growing_path, 0, &r);
  g_autofree gchar *path = g_build_filename (f->dir, "first.mp4", NULL);
  g_autofree gchar *other = g_build_filename (f->dir, "other.mp4", NULL);
  g_autofree gchar *h265 = g_build_filename (f->dir, "h265.mp4", NULL);
  LbtRecording small = {.frames = 10,.fps = 30,.gop = 30,.width = 176,
    .height = 144
  };
  g_assert_true (lbt_record (other, &small));
  copy_prefix (bframes_path[1], h265, -1);
  write_killed (growing_path, path, &r, r.payload_end, FALSE);

  check_first_recovered (path, NULL, growing_path, &r, 0);
  check_first_recovered (path, other, growing_path, &r, 0);
  check_first_recovered (path, h265, growing_path, &r, 0);
  /* the previous segment is moov-less too */
  g_autofree gchar *moovless = g_build_filename (f->dir, "moovless.mp4", NULL);
  write_killed (growing_path, moovless, &r, r.payload_end, FALSE);
  check_first_recovered (path, moovless, growing_path, &r, 0);

  /* with B-frames, a previous segment whose frames are not there (its
   * moov moved up over its mdat): the order of display cannot be learnt */
  g_auto (RefFragment) rb;
  find_fragment (bframes_path[0], 0, &rb);
  g_autofree gchar *path_b = g_build_filename (f->dir, "first-b.mp4", NULL);
  g_autofree gchar *hollow = g_build_filename (f->dir, "hollow.mp4", NULL);
  write_killed (bframes_path[0], path_b, &rb, rb.payload_end, FALSE);
  g_autoptr (GBytes) bb = lbt_read_bytes (bframes_path[0]);
  const guint8 *db = g_bytes_get_data (bb, NULL);
  guint32 moov_size = GST_READ_UINT32_BE (db + rb.payload_end);
  g_autoptr (GByteArray) h = g_byte_array_new ();
  g_byte_array_append (h, db, rb.mdat_pos);
  g_byte_array_append (h, db + rb.payload_end, moov_size);
  g_assert_true (g_file_set_contents (hollow, (const gchar *) h->data, h->len,
          NULL));
  check_first_recovered (path_b, hollow, bframes_path[0], &rb, 0);
  check_first_recovered (path_b, bframes_path[0], bframes_path[0], &rb, 30);

  /* garbage after the ftyp, and the frames cut into pieces */
  g_autoptr (GBytes) b = lbt_read_bytes (growing_path);
  const guint8 *d = g_bytes_get_data (b, NULL);
  g_autoptr (GByteArray) a = g_byte_array_new ();
  g_byte_array_append (a, d, r.mdat_pos + 8);
  memset (a->data + r.mdat_pos, 0, 4);
  for (guint i = 0; i < 20000; i++) {
    guint8 x = (guint8) g_test_rand_int ();
    g_byte_array_append (a, &x, 1);
  }
  g_assert_true (g_file_set_contents (path, (const gchar *) a->data, a->len,
          NULL));
  check_first_recovered (path, growing_path, growing_path, &r, 0);
  g_byte_array_set_size (a, r.mdat_pos + 8);
  const LbMp4Sample *s = (const LbMp4Sample *) r.samples->data;
  for (guint i = 0; i < 30; i += 2)
    g_byte_array_append (a, d + s[i].offset, s[i].size / 2);
  g_assert_true (g_file_set_contents (path, (const gchar *) a->data, a->len,
          NULL));
  gint fd = g_open (path, O_RDWR, 0);
  gint pfd = g_open (growing_path, O_RDONLY, 0);
  guint n = 0;
  g_autoptr (GError) error = NULL;
  g_assert_true (lb_mp4_recover_first (fd, pfd, &n, NULL, &error));
  g_assert_no_error (error);
  g_test_message ("from the pieces: %u frames", n);
  g_assert_cmpuint (n, <=, 1);
  close (fd);
  close (pfd);
}

/* How long final_path lasts as the index sees it: indexed for a moment as
 * input @input's at @start (then removed), its row's end less @start. */
static gint64
indexed_duration (Fixture * f, const gchar * input, gint64 start)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *probe = lb_footage_segment_path (f->dir, "v1", input,
      start);
  gint64 id;
  copy_prefix (final_path, probe, -1);
  g_assert_true (lb_footage_index_file (f->store, "v1", input, probe, start,
          &id, &error));
  g_autoptr (LbSegment) seg = lb_store_segment_get (f->store, id, &error);
  g_assert_no_error (error);
  g_assert_true (lb_store_segment_delete (f->store, id, &error));
  g_assert_cmpint (g_unlink (probe), ==, 0);
  return seg->end_ns - start;
}

/* At a start, a segment file without a moov is recovered from its input's
 * previous segment and indexed instead of quarantined; one without a
 * previous segment is quarantined as before. */
static void
test_reconcile_first (Fixture * f, gconstpointer data)
{
  g_auto (RefFragment) r;
  find_fragment (growing_path, 0, &r);
  /* the file killed at T0 continues the previous segment (of the index,
   * as the recorder left it), ending at T0; the file of input "c" is not
   * continued (a reconnect's gap of 2 s before it) */
  gint64 prev_start = T0 - indexed_duration (f, "a", T0 - 10 * GST_SECOND);
  gint64 gap_start = T0 - indexed_duration (f, "c", T0 - 10 * GST_SECOND);
  g_autofree gchar *previous =
      lb_footage_segment_path (f->dir, "v1", "a", prev_start);
  g_autofree gchar *path = lb_footage_segment_path (f->dir, "v1", "a", T0);
  g_autofree gchar *alone = lb_footage_segment_path (f->dir, "v1", "b", T0);
  g_autofree gchar *after_gap = lb_footage_segment_path (f->dir, "v1", "c",
      T0 + 2 * GST_SECOND);
  copy_prefix (final_path, previous, -1);
  g_assert_true (lb_footage_index_file (f->store, "v1", "a", previous,
          prev_start, NULL, NULL));
  g_autofree gchar *gap_previous =
      lb_footage_segment_path (f->dir, "v1", "c", gap_start);
  copy_prefix (final_path, gap_previous, -1);
  g_assert_true (lb_footage_index_file (f->store, "v1", "c", gap_previous,
          gap_start, NULL, NULL));
  write_killed (growing_path, path, &r,
      g_array_index (r.samples, LbMp4Sample, 20).offset, FALSE);
  write_killed (growing_path, alone, &r, r.payload_end, FALSE);
  write_killed (growing_path, after_gap, &r, r.payload_end, FALSE);

  g_autoptr (GError) error = NULL;
  g_autoptr (GString) report = g_string_new (NULL);
  g_assert_true (lb_footage_reconcile (f->store, report, &error));
  g_assert_no_error (error);
  g_test_message ("%s", report->str);
  g_autofree gchar *line = g_strdup_printf ("recovered 20 frames of %s, "
      "which had no moov", path);
  g_assert_nonnull (strstr (report->str, line));

  g_autoptr (GPtrArray) segs =
      lb_store_segment_list (f->store, "v1", "a", FALSE, &error);
  g_assert_cmpuint (segs->len, ==, 2);
  LbSegment *seg = g_ptr_array_index (segs, 1);
  g_assert_cmpstr (seg->path, ==, path);
  g_assert_cmpint (seg->start_ns, ==, T0);
  g_assert_cmpint (seg->bytes, ==, file_size (path));
  const LbMp4Sample *s19 = &g_array_index (r.samples, LbMp4Sample, 19);
  g_assert_cmpint (ABS (seg->end_ns - (T0 + s19->pts_ns + s19->duration_ns)),
      <=, 1);
  g_autoptr (GArray) kf = lb_store_segment_keyframes (f->store, seg->id,
      &error);
  g_assert_cmpuint (kf->len, ==, 1);
  g_assert_cmpuint (g_array_index (kf, LbKeyframe, 0).frames, ==, 20);
  g_assert_cmpint (decode_count (path), ==, 20);

  g_assert_true (quarantined (f, alone));
  g_assert_nonnull (strstr (report->str, "no previous segment"));
  g_assert_true (quarantined (f, after_gap));
  g_autofree gchar *gap_line = g_strdup_printf ("does not continue the "
      "previous segment %s (2.000 s from its end)", gap_previous);
  g_assert_nonnull (strstr (report->str, gap_line));

  g_autoptr (GString) again = g_string_new (NULL);
  g_assert_true (lb_footage_reconcile (f->store, again, &error));
  g_assert_null (strstr (again->str, "recovered"));
}

/* ---- recovery of a torn tail with audio, by its sample journal ---- */

/* 30 fps H.264 (GOP 30) and its @audio ("aac", "opus") from live sources,
 * written by the segment writer as the recorder does; 3.7 s in, @path and
 * its journal as they are then: what a kill leaves.  The fourth GOP is
 * the torn tail (about 20 frames of it). */
static void
record_av_killed (const gchar * dir, const gchar * audio, const gchar * path)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *desc = g_strdup_printf ("videotestsrc is-live=true "
      "pattern=ball ! video/x-raw,width=160,height=120,framerate=30/1 ! "
      "videoconvert ! video/x-raw,format=I420 ! x264enc speed-preset="
      "ultrafast tune=zerolatency key-int-max=30 option-string=scenecut=0 ! "
      "h264parse ! queue name=vq audiotestsrc is-live=true "
      "samplesperbuffer=960 wave=ticks ! audio/x-raw,rate=48000,channels=1 ! "
      "audioconvert ! %s ! queue name=aq", g_str_equal (audio, "aac") ?
      "voaacenc ! aacparse" : "opusenc ! opusparse");
  g_autoptr (GstElement) p = gst_parse_launch (desc, &error);
  g_assert_no_error (error);
  g_autoptr (LbSegmentWriter) w = lb_segment_writer_new (dir, "v1", audio,
      60 * GST_SECOND, GST_SECOND);
  GstElement *sink = lb_segment_writer_get_sink (w);
  gst_bin_add (GST_BIN (p), sink);
  const gchar *queues[] = { "vq", "aq" }, *pads[] = { "video", "audio_%u" };
  for (guint i = 0; i < 2; i++) {
    g_autoptr (GstElement) q = gst_bin_get_by_name (GST_BIN (p), queues[i]);
    g_autoptr (GstPad) src = gst_element_get_static_pad (q, "src");
    g_autoptr (GstPad) in = gst_element_request_pad_simple (sink, pads[i]);
    g_assert_cmpint (gst_pad_link (src, in), ==, GST_PAD_LINK_OK);
  }
  gst_element_set_state (p, GST_STATE_PLAYING);
  g_usleep (3700 * 1000);
  g_auto (GStrv) open = lb_segment_writer_list_open (w);
  g_assert_cmpuint (g_strv_length (open), ==, 1);
  g_autofree gchar *journal = lb_mp4_journal_path (open[0]);
  g_autofree gchar *to_journal = lb_mp4_journal_path (path);
  /* the file first: the journal, written before the muxer writes a
   * sample, covers it */
  g_autoptr (GBytes) file = lbt_read_bytes (open[0]);
  g_autoptr (GBytes) jbytes = lbt_read_bytes (journal);
  gst_element_set_state (p, GST_STATE_NULL);
  g_assert_nonnull (file);
  g_assert_nonnull (jbytes);
  g_assert_true (g_file_set_contents (path, g_bytes_get_data (file, NULL),
          g_bytes_get_size (file), NULL));
  g_assert_true (g_file_set_contents (to_journal, g_bytes_get_data (jbytes,
              NULL), g_bytes_get_size (jbytes), NULL));
}

/* The last complete fragment of @path: its video and its audio samples;
 * *@frames: the video samples of all complete fragments. */
static void
last_fragment (const gchar * path, GArray ** video, GArray ** audio,
    LbMp4Init ** out_init, guint * frames)
{
  g_autoptr (GError) error = NULL;
  gint fd = g_open (path, O_RDONLY, 0);
  g_assert_true (lb_mp4_read_init (fd, out_init, &error));
  LbMp4Init *init = *out_init;
  gint64 size = file_size (path), off = lb_mp4_first_offset (init);
  *frames = 0;
  *video = *audio = NULL;
  for (;;) {
    g_autoptr (LbMp4Fragment) f = NULL;
    if (!lb_mp4_read_fragment (fd, init, off, size, &f, &error)) {
      g_assert_error (error, LB_ERROR, LB_ERROR_NOT_YET);       /* torn */
      break;
    }
    g_assert_nonnull (f);
    *frames += f->samples->len;
    g_clear_pointer (video, g_array_unref);
    g_clear_pointer (audio, g_array_unref);
    g_autoptr (LbMp4Fragment) a = NULL;
    g_assert_true (lb_mp4_read_range (fd, init->audio, f->offset, f->size,
            &a, &error));
    *video = g_array_ref (f->samples);
    *audio = g_array_ref (a->samples);
    if (f->next_offset >= size)
      break;
    off = f->next_offset;
  }
  close (fd);
}


/* A file with audio: without its journal its torn GOP is not recovered;
 * with it, the GOP's frames in the file are, with the audio that goes with
 * them, ending within one audio frame of the video, and the file reads
 * again.  Cut inside the tail, fewer frames are. */
static void
test_recover_journal (Fixture * f, gconstpointer data)
{
  const gchar *audio = data;
  g_autofree gchar *rec = g_build_filename (f->dir, "rec", NULL);
  g_autofree gchar *path = g_build_filename (f->dir, "killed.mp4", NULL);
  record_av_killed (rec, audio, path);
  g_autofree gchar *jpath = lb_mp4_journal_path (path);
  g_autoptr (GBytes) journal = lbt_read_bytes (jpath);
  g_autoptr (GBytes) killed = lbt_read_bytes (path);
  g_autoptr (GError) error = NULL;
  guint before;
  {
    g_autoptr (GArray) v = NULL, a = NULL;
    g_autoptr (LbMp4Init) init = NULL;
    last_fragment (path, &v, &a, &init, &before);
  }

  for (guint cut = 0; cut < 3; cut++) {
    /* the file as killed, then cut 1000 bytes short, then torn further */
    gsize len = g_bytes_get_size (killed) - (cut == 0 ? 0 : cut * 1000 + 7);
    g_assert_true (g_file_set_contents (path, g_bytes_get_data (killed, NULL),
            len, NULL));
    gint fd = g_open (path, O_RDWR, 0);
    guint n = 1;
    g_autofree gchar *note = NULL;
    g_assert_true (lb_mp4_recover_tail (fd, &n, &note, &error));
    g_assert_cmpuint (n, ==, 0);        /* audio: the file alone cannot tell */
    g_assert_cmpint (file_size (path), ==, (gint64) len);
    g_clear_pointer (&note, g_free);
    g_assert_true (lb_mp4_recover_tail_journal (fd, journal, &n, &note,
            &error));
    g_assert_no_error (error);
    close (fd);
    g_test_message ("%s cut %u: %u frames recovered (%s)", audio, cut, n,
        note ? note : "");
    g_assert_cmpuint (n, <=, 30);
    g_assert_cmpuint (n, >=, cut == 0 ? 10 : 1);

    g_autoptr (GArray) v = NULL, a = NULL;
    g_autoptr (LbMp4Init) init = NULL;
    guint frames;
    last_fragment (path, &v, &a, &init, &frames);
    g_assert_cmpuint (frames, ==, before + n);
    g_assert_cmpuint (v->len, ==, n);
    g_assert_cmpuint (a->len, >, 0);
    gint64 vend = 0, aend = 0, aframe = 0;
    for (guint i = 0; i < v->len; i++) {
      const LbMp4Sample *s = &g_array_index (v, LbMp4Sample, i);
      vend = MAX (vend, s->pts_ns + s->duration_ns + init->edit_ns);
    }
    const LbMp4Sample *al = &g_array_index (a, LbMp4Sample, a->len - 1);
    aend = al->pts_ns + al->duration_ns + init->audio->edit_ns;
    aframe = al->duration_ns;
    g_assert_cmpint (aend, <=, vend);
    /* within an audio frame, give or take the rounding of two timescales
     * and two edit lists to nanoseconds (a run saw 20.146 ms of 20) */
    g_assert_cmpint (vend - aend, <=, aframe + GST_MSECOND);
  }
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  media_dir = g_dir_make_tmp ("lb-indexer-media-XXXXXX", NULL);
  growing_path = g_build_filename (media_dir, "growing.mp4", NULL);
  final_path = g_build_filename (media_dir, "final.mp4", NULL);
  LbtRecording grow = {.frames = 160,.fps = 30,.gop = 30,.crash = TRUE };
  LbtRecording fin = {.frames = 90,.fps = 30,.gop = 30 };
  g_assert_true (lbt_record (growing_path, &grow));
  g_assert_true (lbt_record (final_path, &fin));
  for (guint i = 0; i < G_N_ELEMENTS (bframes_path); i++) {
    LbtRecording b = {.frames = 160,.fps = 30,.gop = 30,.bframes = 2,
      .crash = TRUE,.codec = i == 0 ? "h264" : "h265"
    };
    bframes_path[i] = g_build_filename (media_dir, i == 0 ? "bframes-h264.mp4"
        : "bframes-h265.mp4", NULL);
    g_assert_true (lbt_record (bframes_path[i], &b));
  }
  static const RecoverCase after_moov = { (const gchar **) &growing_path, 1 };
  static const RecoverCase after_moof = { (const gchar **) &growing_path, 2 };
  static const RecoverCase h264_b = { (const gchar **) &bframes_path[0], 2 };
  static const RecoverCase h265_b = { (const gchar **) &bframes_path[1], 2 };
  static const RecoverCase h265_b_moov = { (const gchar **) &bframes_path[1], 1
  };
#define ADD(name, fn) g_test_add (name, Fixture, NULL, lb_test_store_fixture_setup, fn, lb_test_store_fixture_teardown)
  ADD ("/indexer/growing", test_growing);
  ADD ("/indexer/update-all", test_update_all);
  ADD ("/indexer/complete-file", test_complete_file);
  ADD ("/indexer/truncated", test_truncated);
  ADD ("/indexer/refused", test_refused);
  ADD ("/indexer/reconcile", test_reconcile);
  ADD ("/indexer/quarantine", test_quarantine);
  ADD ("/indexer/quarantine-bounded", test_quarantine_bounded);
  ADD ("/indexer/shared-media", test_shared_media);
  ADD ("/indexer/follow-recording", test_follow_recording);
  ADD ("/indexer/fragments-without-keyframes",
      test_fragments_without_keyframes);
#define ADD_RECOVER(name, c) g_test_add (name, Fixture, &c, lb_test_store_fixture_setup, test_recover_tail, lb_test_store_fixture_teardown)
  ADD_RECOVER ("/indexer/recover-tail/after-moov", after_moov);
  ADD_RECOVER ("/indexer/recover-tail/after-moof", after_moof);
  ADD_RECOVER ("/indexer/recover-tail/h264-bframes", h264_b);
  ADD_RECOVER ("/indexer/recover-tail/h265-bframes", h265_b);
  ADD_RECOVER ("/indexer/recover-tail/h265-bframes-after-moov", h265_b_moov);
  ADD ("/indexer/recover-slices", test_recover_slices);
  ADD ("/indexer/recover-zero-duration", test_recover_zero_duration);
  g_test_add ("/indexer/recover-first/h264", Fixture, &growing_path,
      lb_test_store_fixture_setup, test_recover_first,
      lb_test_store_fixture_teardown);
  g_test_add ("/indexer/recover-first/h264-bframes", Fixture,
      &bframes_path[0], lb_test_store_fixture_setup, test_recover_first,
      lb_test_store_fixture_teardown);
  g_test_add ("/indexer/recover-first/h265-bframes", Fixture,
      &bframes_path[1], lb_test_store_fixture_setup, test_recover_first,
      lb_test_store_fixture_teardown);
  ADD ("/indexer/recover-first-refused", test_recover_first_refused);
  ADD ("/indexer/reconcile-first", test_reconcile_first);
  g_test_add ("/indexer/recover-journal/aac", Fixture, "aac",
      lb_test_store_fixture_setup, test_recover_journal,
      lb_test_store_fixture_teardown);
  g_test_add ("/indexer/recover-journal/opus", Fixture, "opus",
      lb_test_store_fixture_setup, test_recover_journal,
      lb_test_store_fixture_teardown);
  gint ret = g_test_run ();
  lb_test_rm_rf (media_dir);
  return ret;
}
