/* The moov editor (lb_mp4_trim) on files written box by box: the cases a
 * muxer never writes */
#include "mp4/lb-mp4-trim.h"
#include "mp4/lb-mp4.h"
#include "core/lb-error.h"
#include "mp4-synth.h"

#include <gst/gst.h>
#include <glib/gstdio.h>

static gchar *tmpdir;

static void
assert_refused_untouched (const gchar * name, const LbtSynth * synth)
{
  g_autofree gchar *path = g_build_filename (tmpdir, name, NULL);
  g_autoptr (GBytes) before = lbt_synth_mp4 (synth);
  lbt_synth_write (path, synth);
  g_autoptr (GError) error = NULL;
  g_assert_false (lb_mp4_trim (path, 0, GST_SECOND, NULL, &error));
  g_assert_error (error, LB_ERROR, LB_ERROR_CORRUPT);
  g_autofree gchar *after = NULL;
  gsize len;
  g_assert_true (g_file_get_contents (path, &after, &len, NULL));
  g_assert_cmpmem (after, len, g_bytes_get_data (before, NULL),
      g_bytes_get_size (before));
}

/* A version 1 mvhd or mdhd keeps its timescale at bytes 20-23 of its
 * payload: one cut to 20 bytes has none (the editor read 4 bytes past it). */
static void
test_cut_v1_headers (void)
{
  LbtSynth whole = {.samples = 60,.sample_size = 10,.timescale = 30,
    .mvhd_version = 1,.mdhd_version = 1
  };
  g_autofree gchar *path = g_build_filename (tmpdir, "v1.mp4", NULL);
  lbt_synth_write (path, &whole);
  LbMp4Trim trim;
  g_autoptr (GError) error = NULL;
  g_assert_true (lb_mp4_trim (path, 0, GST_SECOND, &trim, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (trim.frames, ==, 30);

  LbtSynth mvhd = whole;
  mvhd.mvhd_cut = 20;
  assert_refused_untouched ("mvhd.mp4", &mvhd);
  LbtSynth mdhd = whole;
  mdhd.mdhd_cut = 20;
  assert_refused_untouched ("mdhd.mp4", &mdhd);
}

/* A million sync samples: the editor keeps the keyframes of the clip in
 * stss in one pass (it summed every earlier sample's duration for each
 * one: ~5·10^11 steps, minutes, which the suite's timeout failed). */
static void
test_many_sync_samples (void)
{
  LbtSynth s = {.samples = 1000000,.sample_size = 1,.timescale = 1000,
    .sync_all = TRUE
  };
  g_autofree gchar *path = g_build_filename (tmpdir, "sync.mp4", NULL);
  lbt_synth_write (path, &s);
  LbMp4Trim trim;
  g_autoptr (GError) error = NULL;
  g_assert_true (lb_mp4_trim (path, 0, 10 * GST_SECOND, &trim, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (trim.samples, ==, 1000000);
  g_assert_cmpuint (trim.frames, ==, 10000);
  g_assert_cmpint (trim.duration_ns, ==, 10 * GST_SECOND);

  /* sync samples listed: those decoded before the clip's end less two
   * frames (see plan_track), 9998 of them */
  g_autoptr (LbMp4Init) init = NULL;
  g_assert_true (lb_mp4_read_init_path (path, &init, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (init->samples->len, ==, 1000000);
  guint sync = 0;
  for (guint i = 0; i < init->samples->len; i++)
    sync += g_array_index (init->samples, LbMp4Sample, i).sync;
  g_assert_cmpuint (sync, ==, 9998);
}

/* B-frames, remuxed up to the requested end: the frame shown last before
 * the end can be decoded after a later reference, and the reference
 * decoded after the end is not in the file.  Decode order (display slots):
 * I0 P3 B1 B2 P6 B4 B5 P9 B7 — B8 missing.  A clip of frames 3..7 (the
 * pre-roll 0..2 hidden, ending where 8 would start) ends at the end of
 * frame 7, not at the start of frame 7 (as near the end as 9's start). */
static void
test_bframes_end (void)
{
  static const gint32 slot[] = { 0, 3, 1, 2, 6, 4, 5, 9, 7 };
  gint32 cto[G_N_ELEMENTS (slot)];
  for (guint i = 0; i < G_N_ELEMENTS (slot); i++)
    cto[i] = slot[i] + 1 - (gint32) i;  /* one frame of delay */
  LbtSynth s = {.samples = G_N_ELEMENTS (slot),.sample_size = 10,
    .timescale = 30,.cto = cto
  };
  g_autofree gchar *path = g_build_filename (tmpdir, "bframes.mp4", NULL);
  lbt_synth_write (path, &s);
  LbMp4Trim trim;
  g_autoptr (GError) error = NULL;
  g_assert_true (lb_mp4_trim (path, 3 * GST_SECOND / 30, 5 * GST_SECOND / 30,
          &trim, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (trim.frames, ==, 5);
  g_assert_cmpint (trim.skip_ns, ==, 3 * GST_SECOND / 30);
  g_assert_cmpint (ABS (trim.duration_ns - 5 * GST_SECOND / 30), <=, 1);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  tmpdir = g_dir_make_tmp ("lb-mp4-trim-XXXXXX", NULL);
  g_test_add_func ("/mp4/trim/cut-v1-headers", test_cut_v1_headers);
  g_test_add_func ("/mp4/trim/many-sync-samples", test_many_sync_samples);
  g_test_add_func ("/mp4/trim/bframes-end", test_bframes_end);
  gint ret = g_test_run ();
  g_autofree gchar *cmd = g_strdup_printf ("rm -rf '%s'", tmpdir);
  (void) !system (cmd);
  g_free (tmpdir);
  return ret;
}
