/* Jobs unit tests: frame-exact high-res remux (pre-roll kept, hidden by the
 * edit list), checked by decoding the result and comparing pixels. */
#define _GNU_SOURCE
#include "mp4/lb-mp4-trim.h"
#include "jobs/lb-remux.h"
#include "core/lb-error.h"
#include "jobs-test-media.h"

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <glib/gstdio.h>
#include <string.h>

/* A wall-clock-like base, as lbrecordingsrc timestamps (ns since the epoch). */
#define WALL (G_GINT64_CONSTANT (1785000000) * GST_SECOND)
#define FRAME (GST_SECOND / 30)

typedef struct
{
  gchar *dir;
} Fixture;

static void
fixture_set_up (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  f->dir = g_dir_make_tmp ("lb-remux-XXXXXX", &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture * f, gconstpointer data)
{
  if (g_getenv ("LB_TEST_KEEP"))
    return;
  g_autoptr (GDir) d = g_dir_open (f->dir, 0, NULL);
  const gchar *name;
  while (d && (name = g_dir_read_name (d))) {
    g_autofree gchar *p = g_build_filename (f->dir, name, NULL);
    g_unlink (p);
  }
  g_rmdir (f->dir);
  g_free (f->dir);
}

/* The encoded samples of @path, as a recording source would read them. */
static GPtrArray *
read_samples (const gchar * path)
{
  g_autofree gchar *d =
      g_strdup_printf ("filesrc location=\"%s\" ! qtdemux ! h264parse "
      "! video/x-h264,stream-format=avc,alignment=au ! appsink name=out sync=false",
      path);
  g_autoptr (GError) error = NULL;
  g_autoptr (GstElement) p = gst_parse_launch (d, &error);
  g_assert_no_error (error);
  g_autoptr (GstElement) sink = gst_bin_get_by_name (GST_BIN (p), "out");
  GPtrArray *samples =
      g_ptr_array_new_with_free_func ((GDestroyNotify) gst_sample_unref);
  gst_element_set_state (p, GST_STATE_PLAYING);
  GstSample *s;
  /* Timestamps on the presentation timeline (qtdemux's are media times
   * shifted by the file's own edit list, as its segment says), like
   * lbrecordingsrc's wall clock: PTS of frame n = n / 30 s. */
  while ((s =
          gst_app_sink_try_pull_sample (GST_APP_SINK (sink),
              30 * GST_SECOND))) {
    const GstSegment *seg = gst_sample_get_segment (s);
    GstBuffer *b = gst_buffer_copy (gst_sample_get_buffer (s));
    GstClockTime shift = seg->start - seg->time;
    GST_BUFFER_PTS (b) -= shift;
    if (GST_BUFFER_DTS_IS_VALID (b))
      GST_BUFFER_DTS (b) = GST_BUFFER_DTS (b) + WALL - shift - WALL;
    g_ptr_array_add (samples, gst_sample_new (b, gst_sample_get_caps (s), NULL,
            NULL));
    gst_buffer_unref (b);
    gst_sample_unref (s);
  }
  gst_element_set_state (p, GST_STATE_NULL);
  g_assert_cmpuint (samples->len, >, 0);
  return samples;
}

/* Remuxes [start, end) (media time of @src) the way the high-res job does:
 * samples from the keyframe at or before @start to the end of the GOP that
 * holds @end, in a segment [start, end), with wall-clock timestamps. */
static void
remux (const gchar * src, const gchar * out, GstClockTime start,
    GstClockTime end, GstClockTime * dstart, GstClockTime * dend,
    guint * frames)
{
  g_autoptr (GPtrArray) samples = read_samples (src);
  g_autofree gchar *d = g_strdup_printf ("appsrc name=src format=time "
      "handle-segment-change=true ! h264parse ! mp4mux name=mux faststart=true "
      "! filesink location=\"%s\"", out);
  g_autoptr (GError) error = NULL;
  g_autoptr (GstElement) p = gst_parse_launch (d, &error);
  g_assert_no_error (error);
  g_autoptr (GstElement) appsrc = gst_bin_get_by_name (GST_BIN (p), "src");
  g_autoptr (GstElement) mux = gst_bin_get_by_name (GST_BIN (p), "mux");
  g_autoptr (LbRemux) rm = lb_remux_attach (mux, WALL + end);

  GstSegment seg;
  gst_segment_init (&seg, GST_FORMAT_TIME);
  seg.start = WALL + start;
  seg.stop = GST_CLOCK_TIME_NONE;       /* basesrc would end at the first P-frame past it */
  seg.time = WALL + start;
  seg.position = seg.start;

  /* first: the last keyframe with PTS <= start, or the keyframe that is the
   * nearest frame (as the job starts lbrecordingsrc there) */
  guint first = 0, last = samples->len;
  for (guint i = 0; i < samples->len; i++) {
    GstBuffer *b = gst_sample_get_buffer (samples->pdata[i]);
    if (!GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DELTA_UNIT)
        && GST_BUFFER_PTS (b) <= start + FRAME / 2)
      first = i;
    if (!GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DELTA_UNIT)
        && GST_BUFFER_PTS (b) >= end && last == samples->len)
      last = i;
  }
  gst_element_set_state (p, GST_STATE_PLAYING);
  for (guint i = first; i < last; i++) {
    GstSample *s = samples->pdata[i];
    GstBuffer *b = gst_buffer_copy (gst_sample_get_buffer (s));
    GST_BUFFER_PTS (b) += WALL;
    if (GST_BUFFER_DTS_IS_VALID (b))
      GST_BUFFER_DTS (b) += WALL;
    g_autoptr (GstSample) ns =
        gst_sample_new (b, gst_sample_get_caps (s), &seg, NULL);
    gst_buffer_unref (b);
    g_assert_cmpint (gst_app_src_push_sample (GST_APP_SRC (appsrc), ns), ==,
        GST_FLOW_OK);
  }
  gst_app_src_end_of_stream (GST_APP_SRC (appsrc));
  g_autoptr (GstBus) bus = gst_element_get_bus (p);
  g_autoptr (GstMessage) msg = gst_bus_timed_pop_filtered (bus, 30 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  g_assert_nonnull (msg);
  g_assert_cmpint (GST_MESSAGE_TYPE (msg), ==, GST_MESSAGE_EOS);
  gst_element_set_state (p, GST_STATE_NULL);
  g_assert_cmpuint (lb_remux_samples (rm), >=, 1);

  GstClockTime ds, de;
  GStatBuf before, after;
  g_assert_cmpint (g_stat (out, &before), ==, 0);
  gboolean ok =
      lb_remux_finish (rm, out, WALL + start, WALL + end, &ds, &de, frames,
      &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  /* edited in place: the media data did not move */
  g_assert_cmpint (g_stat (out, &after), ==, 0);
  g_assert_cmpint (before.st_size, ==, after.st_size);
  g_assert_cmpint (before.st_ino, ==, after.st_ino);
  *dstart = ds - WALL;
  *dend = de - WALL;
}

/* Remuxes and checks by decoding: the first frame shown is frame
 * @want_first of the source, the clip shows @want_frames frames in order,
 * and the container's duration is within one frame of the request. */
static void
check_clip (const gchar * src, const gchar * out, GstClockTime start,
    GstClockTime end, gint want_first, guint want_frames)
{
  g_autoptr (JtDecoded) all = jt_decode (src);
  GstClockTime ds, de;
  guint frames;

  remux (src, out, start, end, &ds, &de, &frames);
  g_assert_cmpuint (frames, ==, want_frames);
  /* within a nanosecond (timescale rounding) */
  g_assert_cmpint (ABS (GST_CLOCK_DIFF (gst_util_uint64_scale (want_first,
                  GST_SECOND, 30), ds)), <=, 1);
  g_assert_cmpint (ABS (GST_CLOCK_DIFF (gst_util_uint64_scale (want_frames,
                  GST_SECOND, 30), de - ds)), <=, 1);

  g_autoptr (JtDecoded) clip = jt_decode (out);
  g_assert_cmpuint (clip->frames->len, ==, want_frames);
  for (guint i = 0; i < clip->frames->len; i++)
    g_assert_cmpint (jt_find_frame (all, clip->frames->pdata[i]), ==,
        want_first + (gint) i);

  g_autoptr (JtInfo) info = jt_discover (out);
  g_assert_cmpstr (info->container, ==, "video/quicktime");
  g_assert_cmpstr (info->video, ==, "video/x-h264");
  GstClockTimeDiff diff = GST_CLOCK_DIFF (end - start, info->duration);
  g_assert_cmpint (ABS (diff), <=, FRAME);
}

/* Mid-GOP start (frame 45, GOP from frame 30): 15 frames of pre-roll hidden. */
static void
test_mid_gop (Fixture * f, gconstpointer data)
{
  g_autofree gchar *src = g_build_filename (f->dir, "src.mp4", NULL);
  g_autofree gchar *out = g_build_filename (f->dir, "clip.mp4", NULL);
  jt_make_h264_mp4 (src, 150, 160, 120, 0);
  check_clip (src, out, 1500 * GST_MSECOND, 3000 * GST_MSECOND, 45, 45);
}

/* Times between frames snap to the nearest frame. */
static void
test_snaps_to_nearest_frame (Fixture * f, gconstpointer data)
{
  g_autofree gchar *src = g_build_filename (f->dir, "src.mp4", NULL);
  g_autofree gchar *out = g_build_filename (f->dir, "clip.mp4", NULL);
  jt_make_h264_mp4 (src, 150, 160, 120, 0);
  /* 1.51 s is nearest frame 45 (1.5 s); 3.02 s is nearest boundary 3.0333 */
  check_clip (src, out, 1510 * GST_MSECOND, 3020 * GST_MSECOND, 45, 46);
  /* 0.99 s: the last frame of the first GOP (frame 29.7 → 30, a keyframe) */
  check_clip (src, out, 990 * GST_MSECOND, 2000 * GST_MSECOND, 30, 30);
  /* the last frame of a GOP: 29 frames of pre-roll */
  check_clip (src, out, 59 * FRAME, 59 * FRAME + GST_SECOND, 59, 30);
}

/* B-frames: composition offsets (ctts) and mp4mux's own edit list shift. */
static void
test_b_frames (Fixture * f, gconstpointer data)
{
  g_autofree gchar *src = g_build_filename (f->dir, "src.mp4", NULL);
  g_autofree gchar *out = g_build_filename (f->dir, "clip.mp4", NULL);
  jt_make_h264_mp4 (src, 150, 160, 120, 2);
  check_clip (src, out, 2000 * GST_MSECOND, 3200 * GST_MSECOND, 60, 36);
  check_clip (src, out, 1700 * GST_MSECOND, 2700 * GST_MSECOND, 51, 30);
}

/* Requested range beyond the recorded end: plays to the last frame. */
static void
test_to_the_end (Fixture * f, gconstpointer data)
{
  g_autofree gchar *src = g_build_filename (f->dir, "src.mp4", NULL);
  g_autofree gchar *out = g_build_filename (f->dir, "clip.mp4", NULL);
  jt_make_h264_mp4 (src, 90, 160, 120, 0);
  GstClockTime ds, de;
  guint frames;
  remux (src, out, 2 * GST_SECOND, 5 * GST_SECOND, &ds, &de, &frames);
  g_assert_cmpuint (frames, ==, 30);
  g_assert_cmpuint (ds, ==, 2 * GST_SECOND);
  g_assert_cmpuint (de, ==, 3 * GST_SECOND);
  g_autoptr (JtDecoded) all = jt_decode (src);
  g_autoptr (JtDecoded) clip = jt_decode (out);
  g_assert_cmpuint (clip->frames->len, ==, 30);
  g_assert_cmpint (jt_find_frame (all, clip->frames->pdata[0]), ==, 60);
  g_assert_cmpint (jt_find_frame (all, clip->frames->pdata[29]), ==, 89);
}

/* A file without an edit list (ffmpeg -use_editlist 0, moov first): trim
 * inserts one and moves every chunk offset. */
static void
test_inserts_edit_list (Fixture * f, gconstpointer data)
{
  g_autofree gchar *src = g_build_filename (f->dir, "src.mp4", NULL);
  g_autofree gchar *plain = g_build_filename (f->dir, "plain.mp4", NULL);
  jt_make_h264_mp4 (src, 120, 160, 120, 0);
  const gchar *argv[] =
      { "ffmpeg", "-v", "error", "-y", "-i", src, "-c", "copy",
    "-use_editlist", "0", "-movflags", "+faststart", plain, NULL
  };
  gint status;
  g_autoptr (GError) error = NULL;
  g_assert_true (g_spawn_sync (NULL, (gchar **) argv, NULL, G_SPAWN_SEARCH_PATH,
          NULL, NULL, NULL, NULL, &status, &error));
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_autofree gchar *before = NULL;
  gsize before_len, after_len;
  g_assert_true (g_file_get_contents (plain, &before, &before_len, NULL));
  g_assert_null (memmem (before, MIN (before_len, 4096), "elst", 4));

  LbMp4Trim trim;
  g_assert_true (lb_mp4_trim (plain, 40 * FRAME, 50 * FRAME, &trim, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (trim.frames, ==, 50);
  g_assert_cmpint (ABS (trim.skip_ns - (gint64) (40 * FRAME)), <=, GST_MSECOND);        /* ffmpeg: 1/15360 s */
  g_autofree gchar *after = NULL;
  g_assert_true (g_file_get_contents (plain, &after, &after_len, NULL));
  g_assert_cmpuint (after_len, >, before_len);  /* + edts, - late sync samples */
  g_assert_nonnull (memmem (after, MIN (after_len, 4096), "elst", 4));

  g_autoptr (JtDecoded) all = jt_decode (src);
  g_autoptr (JtDecoded) clip = jt_decode (plain);
  g_assert_cmpuint (clip->frames->len, ==, 50);
  for (guint i = 0; i < 50; i++)
    g_assert_cmpint (jt_find_frame (all, clip->frames->pdata[i]), ==, 40 + i);
}

/* A pre-roll as long as the clip cannot be hidden from qtdemux: refused,
 * the file left as it was. */
static void
test_refuses_long_preroll (Fixture * f, gconstpointer data)
{
  g_autofree gchar *src = g_build_filename (f->dir, "src.mp4", NULL);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *before = NULL, *after = NULL;
  gsize before_len, after_len;

  jt_make_h264_mp4 (src, 60, 160, 120, 0);
  g_assert_true (g_file_get_contents (src, &before, &before_len, NULL));
  g_assert_false (lb_mp4_trim (src, 20 * FRAME, 15 * FRAME, NULL, &error));
  g_assert_error (error, LB_ERROR, LB_ERROR_INVALID);
  g_assert_true (g_file_get_contents (src, &after, &after_len, NULL));
  g_assert_cmpmem (before, before_len, after, after_len);
}

static void
test_refuses_garbage (Fixture * f, gconstpointer data)
{
  g_autofree gchar *path = g_build_filename (f->dir, "junk.mp4", NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (g_file_set_contents (path,
          "\0\0\0\x10" "ftypjunkjunk\0\0\0\xff" "moov", 20, NULL));
  g_assert_false (lb_mp4_trim (path, 0, GST_SECOND, NULL, &error));
  g_assert_error (error, LB_ERROR, LB_ERROR_CORRUPT);
  g_clear_error (&error);
  g_autofree gchar *missing = g_build_filename (f->dir, "missing.mp4", NULL);
  g_assert_false (lb_mp4_trim (missing, 0, GST_SECOND, NULL, &error));
  g_assert_error (error, LB_ERROR, LB_ERROR_IO);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
#define ADD(name, fn) g_test_add (name, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("/jobs/remux/mid-gop", test_mid_gop);
  ADD ("/jobs/remux/snaps-to-nearest-frame", test_snaps_to_nearest_frame);
  ADD ("/jobs/remux/b-frames", test_b_frames);
  ADD ("/jobs/remux/to-the-end", test_to_the_end);
  ADD ("/jobs/remux/inserts-edit-list", test_inserts_edit_list);
  ADD ("/jobs/remux/refuses-long-preroll", test_refuses_long_preroll);
  ADD ("/jobs/remux/refuses-garbage", test_refuses_garbage);
  return g_test_run ();
}
