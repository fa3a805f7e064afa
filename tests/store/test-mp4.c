/* MP4 parsing of segments made at test time, and the segment path layout */
#include "mp4/lb-mp4.h"
#include "store/lb-store-footage.h"
#include "core/lb-error.h"
#include "footage-util.h"
#include "mp4-synth.h"
#include "lb-test-common.h"

#include <gst/gst.h>
#include <glib/gstdio.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>

static gchar *tmpdir;

typedef struct
{
  LbMp4Init *init;
  GPtrArray *fragments;
  GError *stop;
  gboolean ended;
} Scan;

static void
scan_clear (Scan * s)
{
  g_clear_pointer (&s->init, lb_mp4_init_free);
  g_clear_pointer (&s->fragments, g_ptr_array_unref);
  g_clear_error (&s->stop);
}

static void
scan_file (const gchar * path, Scan * s)
{
  GError *error = NULL;
  gint fd = open (path, O_RDONLY);
  g_assert_cmpint (fd, >=, 0);
  struct stat st;
  g_assert_cmpint (fstat (fd, &st), ==, 0);
  g_assert_true (lb_mp4_read_init (fd, &s->init, &error));
  g_assert_no_error (error);
  s->fragments =
      g_ptr_array_new_with_free_func ((GDestroyNotify) lb_mp4_fragment_free);
  gint64 off = lb_mp4_first_offset (s->init);
  for (;;) {
    LbMp4Fragment *f = NULL;
    if (!lb_mp4_read_fragment (fd, s->init, off, st.st_size, &f, &s->stop))
      break;
    if (f == NULL) {
      s->ended = TRUE;
      break;
    }
    g_assert_cmpint (f->next_offset, >, off);
    off = f->next_offset;
    g_ptr_array_add (s->fragments, f);
  }
  close (fd);
}

static void
check_keyframes_are_idr (const gchar * path, Scan * s)
{
  g_autoptr (GBytes) bytes = lbt_read_bytes (path);
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  guint keyframes = 0;
  for (guint i = 0; i < s->fragments->len; i++) {
    LbMp4Fragment *f = g_ptr_array_index (s->fragments, i);
    for (guint k = 0; k < f->samples->len; k++) {
      LbMp4Sample *smp = &g_array_index (f->samples, LbMp4Sample, k);
      g_assert_cmpint (smp->offset + smp->size, <=, (gint64) len);
      g_assert_cmpint (smp->offset, >=, f->offset);
      g_assert_cmpint (smp->offset + smp->size, <=, f->offset + f->size);
      g_assert_cmpint (lbt_avc_sample_is_idr (data + smp->offset, smp->size),
          ==, smp->sync);
      keyframes += smp->sync;
    }
  }
  g_assert_cmpuint (keyframes, >, 0);
}

static void
test_growing (void)
{
  g_autofree gchar *path = g_build_filename (tmpdir, "growing.mp4", NULL);
  LbtRecording rec = {.frames = 160,.fps = 30,.gop = 30,.crash = TRUE };
  g_assert_true (lbt_record (path, &rec));

  Scan s = { 0 };
  scan_file (path, &s);
  g_assert_true (s.init->fragmented);
  g_assert_cmpstr (s.init->codec, ==, "h264");
  g_assert_cmpint (s.init->width, ==, 160);
  g_assert_cmpint (s.init->height, ==, 120);
  g_assert_cmpint (s.init->fps_n, ==, 30);
  g_assert_cmpint (s.init->fps_d, ==, 1);
  g_assert_true (g_str_has_prefix (s.init->caps, "video/x-h264"));
  g_assert_nonnull (strstr (s.init->caps, "codec_data=(buffer)01"));
  /* The cut file ends in an incomplete fragment. */
  g_assert_false (s.ended);
  g_assert_error (s.stop, LB_ERROR, LB_ERROR_NOT_YET);
  /* 100 frames, one fragment per second (= per GOP); the muxer still holds
   * the last partial one: at least two complete fragments. */
  g_assert_cmpuint (s.fragments->len, >=, 2);
  for (guint i = 0; i < s.fragments->len; i++) {
    LbMp4Fragment *f = g_ptr_array_index (s.fragments, i);
    g_assert_cmpuint (f->samples->len, ==, 30);
    LbMp4Sample *first = &g_array_index (f->samples, LbMp4Sample, 0);
    g_assert_true (first->sync);
    g_assert_cmpint (first->pts_ns, ==, i * GST_SECOND);
    for (guint k = 1; k < f->samples->len; k++) {
      LbMp4Sample *smp = &g_array_index (f->samples, LbMp4Sample, k);
      g_assert_false (smp->sync);
      g_assert_cmpint (smp->pts_ns, ==,
          first->pts_ns + (gint64) gst_util_uint64_scale_round (k, GST_SECOND,
              30));
    }
  }
  check_keyframes_are_idr (path, &s);

  /* read_range gives back the same samples for each indexed byte range */
  gint fd = open (path, O_RDONLY);
  for (guint i = 0; i < s.fragments->len; i++) {
    LbMp4Fragment *f = g_ptr_array_index (s.fragments, i);
    g_autoptr (LbMp4Fragment) r = NULL;
    g_autoptr (GError) error = NULL;
    g_assert_true (lb_mp4_read_range (fd, s.init, f->offset, f->size, &r,
            &error));
    g_assert_no_error (error);
    g_assert_cmpuint (r->samples->len, ==, f->samples->len);
    g_assert_cmpint (g_array_index (r->samples, LbMp4Sample, 0).offset, ==,
        g_array_index (f->samples, LbMp4Sample, 0).offset);
  }
  close (fd);
  scan_clear (&s);
}

static void
test_finalised (void)
{
  g_autofree gchar *path = g_build_filename (tmpdir, "final.mp4", NULL);
  LbtRecording rec = {.frames = 90,.fps = 30,.gop = 30 };
  g_assert_true (lbt_record (path, &rec));

  Scan s = { 0 };
  scan_file (path, &s);
  g_assert_no_error (s.stop);
  g_assert_true (s.ended);
  g_assert_false (s.init->fragmented);
  g_assert_cmpuint (s.init->samples->len, ==, 90);
  g_assert_cmpuint (s.fragments->len, ==, 3);
  for (guint i = 0; i < s.fragments->len; i++) {
    LbMp4Fragment *f = g_ptr_array_index (s.fragments, i);
    g_assert_cmpuint (f->samples->len, ==, 30);
    g_assert_cmpint (g_array_index (f->samples, LbMp4Sample, 0).pts_ns, ==,
        i * GST_SECOND);
  }
  check_keyframes_are_idr (path, &s);
  scan_clear (&s);
}

static void
test_bframes (void)
{
  g_autofree gchar *path = g_build_filename (tmpdir, "bframes.mp4", NULL);
  LbtRecording rec = {.frames = 150,.fps = 25,.gop = 25,.bframes = 2,.crash =
        TRUE
  };
  g_assert_true (lbt_record (path, &rec));

  Scan s = { 0 };
  scan_file (path, &s);
  g_assert_cmpuint (s.fragments->len, >=, 2);
  gboolean reordered = FALSE;
  for (guint i = 0; i < s.fragments->len; i++) {
    LbMp4Fragment *f = g_ptr_array_index (s.fragments, i);
    LbMp4Sample *first = &g_array_index (f->samples, LbMp4Sample, 0);
    g_assert_true (first->sync);
    /* the keyframe is shown first within its GOP; every frame's PTS is on the grid */
    g_autoptr (GHashTable) seen =
        g_hash_table_new (g_int64_hash, g_int64_equal);
    for (guint k = 0; k < f->samples->len; k++) {
      LbMp4Sample *smp = &g_array_index (f->samples, LbMp4Sample, k);
      g_assert_cmpint (smp->pts_ns, >=, first->pts_ns);
      reordered |= smp->pts_ns != smp->dts_ns;
      g_assert_false (g_hash_table_contains (seen, &smp->pts_ns));
      g_hash_table_add (seen, &smp->pts_ns);
    }
    g_assert_cmpint (first->pts_ns - g_array_index (((LbMp4Fragment *)
                g_ptr_array_index (s.fragments, 0))->samples, LbMp4Sample,
            0).pts_ns, ==, i * GST_SECOND);
  }
  g_assert_true (reordered);
  check_keyframes_are_idr (path, &s);
  scan_clear (&s);
}

static void
test_one_fps (void)
{
  g_autofree gchar *path = g_build_filename (tmpdir, "onefps.mp4", NULL);
  LbtRecording rec = {.frames = 6,.fps = 1,.gop = 2 };
  g_assert_true (lbt_record (path, &rec));
  Scan s = { 0 };
  scan_file (path, &s);
  g_assert_cmpint (s.init->fps_n, ==, 1);
  g_assert_cmpint (s.init->fps_d, ==, 1);
  g_assert_cmpuint (s.fragments->len, ==, 3);
  for (guint i = 0; i < s.fragments->len; i++) {
    LbMp4Fragment *f = g_ptr_array_index (s.fragments, i);
    g_assert_cmpuint (f->samples->len, ==, 2);
    g_assert_cmpint (g_array_index (f->samples, LbMp4Sample, 0).pts_ns, ==,
        2 * i * GST_SECOND);
    g_assert_cmpint (g_array_index (f->samples, LbMp4Sample, 1).duration_ns, ==,
        GST_SECOND);
  }
  check_keyframes_are_idr (path, &s);
  scan_clear (&s);
}

static void
test_garbage (void)
{
  g_autofree gchar *text = g_build_filename (tmpdir, "text.mp4", NULL);
  g_autofree gchar *empty = g_build_filename (tmpdir, "empty.mp4", NULL);
  g_autofree gchar *missing = g_build_filename (tmpdir, "missing.mp4", NULL);
  lbt_write_file (text, "this is not a video, just some words in a file\n");
  lbt_write_file (empty, "");
  LbMp4Init *init = NULL;
  GError *error = NULL;
  g_assert_false (lb_mp4_read_init_path (text, &init, &error));
  g_assert_error (error, LB_ERROR, LB_ERROR_CORRUPT);
  g_clear_error (&error);
  g_assert_false (lb_mp4_read_init_path (empty, &init, &error));
  g_assert_error (error, LB_ERROR, LB_ERROR_NOT_YET);
  g_clear_error (&error);
  g_assert_false (lb_mp4_read_init_path (missing, &init, &error));
  g_assert_error (error, LB_ERROR, LB_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_null (init);
}

/* A box whose 64-bit size reaches past any file (pos + size overflowed
 * int64): not MP4, whatever follows. */
static void
test_huge_box (void)
{
  static const guint8 data[] = {
    0, 0, 0, 16, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm', 0, 0, 0, 0,
    0, 0, 0, 1, 'f', 'r', 'e', 'e', 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xf0, 0, 0, 0, 8, 'm', 'o', 'o', 'v',
  };
  g_autofree gchar *path = g_build_filename (tmpdir, "huge.mp4", NULL);
  g_assert_true (g_file_set_contents (path, (const gchar *) data,
          sizeof data, NULL));
  LbMp4Init *init = NULL;
  GError *error = NULL;
  g_assert_false (lb_mp4_read_init_path (path, &init, &error));
  g_assert_error (error, LB_ERROR, LB_ERROR_CORRUPT);
  g_clear_error (&error);
}

static void
assert_corrupt (const gchar * name, GBytes * bytes)
{
  g_autofree gchar *path = g_build_filename (tmpdir, name, NULL);
  g_assert_true (g_file_set_contents (path, g_bytes_get_data (bytes, NULL),
          g_bytes_get_size (bytes), NULL));
  gint fd = open (path, O_RDONLY);
  g_assert_cmpint (fd, >=, 0);
  g_autoptr (LbMp4Init) init = NULL;
  g_autoptr (LbMp4Fragment) f = NULL;
  g_autoptr (GError) error = NULL;
  if (lb_mp4_read_init (fd, &init, &error))
    lb_mp4_read_fragment (fd, init, lb_mp4_first_offset (init),
        g_bytes_get_size (bytes), &f, &error);
  close (fd);
  g_assert_null (f);
  g_assert_error (error, LB_ERROR, LB_ERROR_CORRUPT);
  g_test_message ("%s: %s", name, error->message);
}

/* Sizes read from a file are checked against the file before anything is
 * sized by them: a moov whose sample table lists ten million samples in a
 * file of a few hundred bytes (it took 560 MB), a moof whose truns list
 * three million samples without a table (thousands of such truns aborted),
 * samples of no size. */
static void
test_sizes_checked (void)
{
  LbtSynth table = {.samples = 10000000,.sample_size = 1,.mdat_size = 16 };
  g_autoptr (GBytes) t = lbt_synth_mp4 (&table);
  g_assert_cmpuint (g_bytes_get_size (t), <, 1000);
  assert_corrupt ("table.mp4", t);

  LbtSynthFragmented many = {.truns = 30,.trun_samples = 100000,
    .sample_size = 1,.mdat_size = 16
  };
  g_autoptr (GBytes) m = lbt_synth_fragmented_mp4 (&many);
  assert_corrupt ("truns.mp4", m);

  LbtSynthFragmented empty = {.truns = 1,.trun_samples = 10,.mdat_size = 16 };
  g_autoptr (GBytes) e = lbt_synth_fragmented_mp4 (&empty);
  assert_corrupt ("empty-samples.mp4", e);

  /* the same files with sizes that fit read well */
  LbtSynth fits = {.samples = 16,.sample_size = 1 };
  g_autofree gchar *path = g_build_filename (tmpdir, "fits.mp4", NULL);
  lbt_synth_write (path, &fits);
  g_autoptr (LbMp4Init) init = NULL;
  g_autoptr (GError) error = NULL;
  g_assert_true (lb_mp4_read_init_path (path, &init, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (init->samples->len, ==, 16);
}

/* Damaged files (flipped bytes, cuts) never crash or loop: every call
 * either fails with an LB_ERROR or returns samples inside the file. */
static void
test_mutations (void)
{
  g_autofree gchar *src = g_build_filename (tmpdir, "mut-src.mp4", NULL);
  LbtRecording rec = {.frames = 100,.fps = 30,.gop = 15,.crash = TRUE };
  g_assert_true (lbt_record (src, &rec));
  g_autoptr (GBytes) orig = lbt_read_bytes (src);
  gsize len;
  const guint8 *data = g_bytes_get_data (orig, &len);
  g_autofree gchar *path = g_build_filename (tmpdir, "mut.mp4", NULL);
  GRand *r = g_rand_new_with_seed (1234);
  guint readable = 0;
  for (guint round = 0; round < 400; round++) {
    g_autofree guint8 *copy = g_memdup2 (data, len);
    gsize n = len;
    guint flips = g_rand_int_range (r, 1, 8);
    for (guint k = 0; k < flips; k++) {
      /* mostly in the boxes' headers and tables (start and around moofs) */
      gsize at =
          g_rand_boolean (r) ? (gsize) g_rand_int_range (r, 0, MIN (len, 20000))
          : (gsize) g_rand_int_range (r, 0, len);
      copy[at] = (guint8) g_rand_int_range (r, 0, 256);
    }
    if (g_rand_int_range (r, 0, 4) == 0)
      n = g_rand_int_range (r, 0, len);
    g_assert_true (g_file_set_contents_full (path, (gchar *) copy, n,
            G_FILE_SET_CONTENTS_NONE, 0644, NULL));

    gint fd = open (path, O_RDONLY);
    g_assert_cmpint (fd, >=, 0);
    LbMp4Init *init = NULL;
    GError *error = NULL;
    if (lb_mp4_read_init (fd, &init, &error)) {
      readable++;
      gint64 off = lb_mp4_first_offset (init);
      for (guint it = 0; it < 1000; it++) {
        LbMp4Fragment *f = NULL;
        if (!lb_mp4_read_fragment (fd, init, off, n, &f, &error) || f == NULL)
          break;
        for (guint k = 0; k < f->samples->len; k++) {
          LbMp4Sample *smp = &g_array_index (f->samples, LbMp4Sample, k);
          g_assert_cmpint (smp->offset, >=, 0);
        }
        g_assert_cmpint (f->next_offset, >, off);
        off = f->next_offset;
        LbMp4Fragment *rg = NULL;
        if (lb_mp4_read_range (fd, init, f->offset, f->size, &rg, NULL))
          lb_mp4_fragment_free (rg);
        lb_mp4_fragment_free (f);
        g_assert_cmpuint (it, <, 999);
      }
      lb_mp4_init_free (init);
    }
    if (error) {
      g_assert_true (error->domain == LB_ERROR);
      g_clear_error (&error);
    }
    close (fd);
  }
  g_rand_free (r);
  g_test_message ("%u of 400 damaged files still had a readable moov",
      readable);
  g_assert_cmpuint (readable, >, 0);
}

static void
test_segment_path (void)
{
  g_autofree gchar *p =
      lb_footage_segment_path ("/srv/lb", "veh/1 ..", "analog1",
      G_GINT64_CONSTANT (1700000000123456789));
  g_assert_cmpstr (p, ==,
      "/srv/lb/segments/veh%2F1%20../analog1/1700000000123456789.mp4");
  g_autofree gchar *v = NULL, *i = NULL;
  gint64 t = 0;
  g_assert_true (lb_footage_parse_segment_path ("/srv/lb", p, &v, &i, &t));
  g_assert_cmpstr (v, ==, "veh/1 ..");
  g_assert_cmpstr (i, ==, "analog1");
  g_assert_cmpint (t, ==, G_GINT64_CONSTANT (1700000000123456789));
  g_autofree gchar *dots = lb_footage_segment_relpath ("..", "x", 5);
  g_assert_cmpstr (dots, ==, "segments/%2E./x/5.mp4");
  g_assert_true (lb_footage_parse_segment_path ("/srv/lb",
          "segments/%2E./x/5.mp4", NULL, NULL, NULL));
  g_assert_false (lb_footage_parse_segment_path ("/srv/lb",
          "/srv/lb/segments/a/b/c.mp4", NULL, NULL, NULL));
  g_assert_false (lb_footage_parse_segment_path ("/srv/lb",
          "/srv/lb/segments/a/b/12.mkv", NULL, NULL, NULL));
  g_assert_false (lb_footage_parse_segment_path ("/srv/lb",
          "/other/segments/a/b/12.mp4", NULL, NULL, NULL));
  g_assert_false (lb_footage_parse_segment_path ("/srv/lb",
          "segments/a/b/c/12.mp4", NULL, NULL, NULL));
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  tmpdir = g_dir_make_tmp ("lb-mp4-XXXXXX", NULL);
  g_test_add_func ("/mp4/growing", test_growing);
  g_test_add_func ("/mp4/finalised", test_finalised);
  g_test_add_func ("/mp4/bframes", test_bframes);
  g_test_add_func ("/mp4/one-fps", test_one_fps);
  g_test_add_func ("/mp4/garbage", test_garbage);
  g_test_add_func ("/mp4/huge-box", test_huge_box);
  g_test_add_func ("/mp4/sizes-checked", test_sizes_checked);
  g_test_add_func ("/mp4/mutations", test_mutations);
  g_test_add_func ("/footage/segment-path", test_segment_path);
  gint ret = g_test_run ();
  lb_test_rm_rf (tmpdir);
  g_free (tmpdir);
  return ret;
}
