/* lookback import: generated MP4 / Matroska / MPEG-TS land at the right
 * wall-clock times; truncated and non-video files are refused by name and
 * leave nothing behind; the real recordings of $LB_SHARED_MEDIA import or
 * are refused by name. */
#include "rec-util.h"

#include "cli/lb-cli.h"
#include "core/lb-config.h"
#include "core/lb-error.h"
#include "core/lb-time.h"
#include "mp4/lb-mp4.h"
#include "recorder/lb-import.h"
#include "store/lb-store.h"
#include "store/lb-store-footage.h"
#include "lb-test-common.h"

#include <glib/gstdio.h>
#include <string.h>

#define FPS 15

typedef struct
{
  gchar *dir;
  gchar *media;                 /* generated inputs */
  LbConfig *config;
} Fixture;

static void
fixture_set_up (Fixture * fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  fx->dir = g_dir_make_tmp ("lb-imp-XXXXXX", NULL);
  fx->media = g_build_filename (fx->dir, "in", NULL);
  g_mkdir (fx->media, 0755);
  g_autofree gchar *store = g_build_filename (fx->dir, "store", NULL);
  g_autofree gchar *conf = g_strdup_printf ("[store]\ndir=%s\n"
      "[recorder]\nsegment-duration=5s\n", store);
  fx->config = lb_config_load_data (conf, "/tmp/test.conf", &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture * fx, gconstpointer data)
{
  lb_config_free (fx->config);
  lb_test_rm_rf (fx->dir);
  g_free (fx->dir);
  g_free (fx->media);
}

/* Runs @desc (gst-launch syntax) to EOS. */
static void
run_to_eos (const gchar * desc)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GstElement) p = gst_parse_launch (desc, &error);
  g_assert_no_error (error);
  gst_element_set_state (p, GST_STATE_PLAYING);
  g_autoptr (GstBus) bus = gst_element_get_bus (p);
  g_autoptr (GstMessage) msg = gst_bus_timed_pop_filtered (bus, 30 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  g_assert_nonnull (msg);
  g_assert_cmpint (GST_MESSAGE_TYPE (msg), ==, GST_MESSAGE_EOS);
  gst_element_set_state (p, GST_STATE_NULL);
}

/* Encodes @frames frames of test video with @encoder (… ! parser) then
 * @tail (muxer ! filesink). */
static gchar *
make_media_with (Fixture * fx, const gchar * name, guint frames,
    const gchar * encoder, const gchar * tail)
{
  g_autofree gchar *path = g_build_filename (fx->media, name, NULL);
  g_autofree gchar *desc =
      g_strdup_printf ("videotestsrc num-buffers=%u pattern=ball ! "
      "video/x-raw,width=160,height=120,framerate=%d/1 ! videoconvert ! "
      "video/x-raw,format=I420 ! %s ! %s location=\"%s\"", frames, FPS,
      encoder, tail, path);
  run_to_eos (desc);
  return g_steal_pointer (&path);
}

/* H.264 without B-frames, a keyframe a second */
static gchar *
make_media (Fixture * fx, const gchar * name, guint frames, const gchar * tail)
{
  g_autofree gchar *x264 = g_strdup_printf ("x264enc speed-preset=ultrafast "
      "bframes=0 key-int-max=%d option-string=scenecut=0 ! h264parse", FPS);
  return make_media_with (fx, name, frames, x264, tail);
}

static gboolean
run_import (Fixture * fx, GString * out, GError ** error, ...)
{
  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  va_list ap;
  const gchar *a;

  g_ptr_array_add (args, (gpointer) "import");
  g_ptr_array_add (args, (gpointer) "--vehicle");
  g_ptr_array_add (args, (gpointer) "veh 3");
  g_ptr_array_add (args, (gpointer) "--input");
  g_ptr_array_add (args, (gpointer) "dashcamDriverFacing");
  va_start (ap, error);
  while ((a = va_arg (ap, const gchar *)))
      g_ptr_array_add (args, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (args, NULL);
  return lb_cli_import (fx->config, args->len - 1, (gchar **) args->pdata,
      out, error);
}

static LbStore *
open_store (Fixture * fx)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *db = lb_config_get_db_path (fx->config);
  LbStore *store = lb_store_open (db, LB_STORE_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
  return store;
}

static guint
count_segment_files (Fixture * fx)
{
  g_autofree gchar *segs =
      g_build_filename (lb_config_get_store_dir (fx->config),
      "segments", NULL);
  g_autoptr (GPtrArray) files = rec_list_mp4 (segs);
  return files->len;
}

static LbFootagePlan *
lookup (LbStore * store, gint64 start, gint64 end)
{
  g_autoptr (GError) error = NULL;
  LbFootagePlan *plan =
      lb_store_lookup (store, "veh 3", "dashcamDriverFacing", start, end,
      &error);
  g_assert_no_error (error);
  return plan;
}

static gint64
at (const gchar * rfc3339)
{
  gint64 ns = 0;
  g_assert_true (lb_time_parse_rfc3339 (rfc3339, &ns, NULL));
  return ns;
}

/* Three containers, one after the other from one --start; a fourth file at
 * its own --start. */
static void
test_good_files (Fixture * fx, gconstpointer data)
{
  g_autofree gchar *mp4 =
      make_media (fx, "a.mp4", 3 * FPS, "mp4mux ! filesink");
  g_autofree gchar *mkv =
      make_media (fx, "b.mkv", 3 * FPS, "matroskamux ! filesink");
  g_autofree gchar *ts =
      make_media (fx, "c.ts", 3 * FPS, "mpegtsmux ! filesink");
  g_autofree gchar *late =
      make_media (fx, "d.mp4", 6 * FPS, "mp4mux ! filesink");
  g_autoptr (GString) out = g_string_new (NULL);
  g_autoptr (GError) error = NULL;

  gboolean ok =
      run_import (fx, out, &error, "--start", "2026-03-01T10:00:00Z", mp4, mkv,
      ts,
      "--start", "2026-03-01T12:00:00.500+01:00", late, NULL);
  g_test_message ("%s", out->str);
  g_assert_no_error (error);
  g_assert_true (ok);

  g_autoptr (LbStore) store = open_store (fx);
  gint64 t = at ("2026-03-01T10:00:00Z");
  g_autoptr (LbFootagePlan) plan =
      lookup (store, t - LB_NS_PER_SEC, t + 20 * LB_NS_PER_SEC);
  g_assert_cmpuint (plan->pieces->len, ==, 3);
  for (guint i = 0; i < 3; i++) {
    LbFootagePiece *p = plan->pieces->pdata[i];
    /* each file starts where the previous one ended: 3 s apart */
    g_assert_cmpint (ABS (p->segment->start_ns - (t + i * 3 * LB_NS_PER_SEC)),
        <=, LB_NS_PER_SEC / FPS);
    g_assert_cmpint (ABS (p->segment->end_ns - (t + (i +
                    1) * 3 * LB_NS_PER_SEC)), <=, LB_NS_PER_SEC / FPS);
    g_assert_false (p->segment->open);
    g_assert_cmpstr (p->segment->codec, ==, "h264");
    g_assert_cmpint (rec_decode_count (p->segment->path, NULL), ==, 3 * FPS);
    /* one keyframe a second, each at its second */
    g_assert_cmpuint (p->keyframes->len, ==, 3);
    for (guint k = 0; k < 3; k++) {
      LbKeyframe *kf = &g_array_index (p->keyframes, LbKeyframe, k);
      g_assert_cmpint (ABS (kf->time_ns - (p->segment->start_ns +
                  k * LB_NS_PER_SEC)), <=, LB_NS_PER_MS);
    }
  }
  /* 12:00:00.500+01:00 is 11:00:00.500Z: 6 s, split at the keyframe after
   * 5 s into two segments that follow each other. */
  gint64 t2 = at ("2026-03-01T11:00:00.500Z");
  g_autoptr (LbFootagePlan) plan2 =
      lookup (store, t2 - LB_NS_PER_SEC, t2 + 60 * LB_NS_PER_SEC);
  g_assert_cmpuint (plan2->pieces->len, ==, 2);
  LbFootagePiece *p0 = plan2->pieces->pdata[0];
  LbFootagePiece *p1 = plan2->pieces->pdata[1];
  g_assert_cmpint (p0->segment->start_ns, ==, t2);
  g_assert_cmpint (ABS (p1->segment->start_ns - (t2 + 5 * LB_NS_PER_SEC)), <=,
      LB_NS_PER_MS);
  g_assert_cmpint (ABS (p1->segment->end_ns - (t2 + 6 * LB_NS_PER_SEC)), <=,
      LB_NS_PER_MS);
  g_assert_cmpint (rec_decode_count (p0->segment->path,
          NULL) + rec_decode_count (p1->segment->path, NULL), ==, 6 * FPS);
}

static void
test_bad_files (Fixture * fx, gconstpointer data)
{
  g_autofree gchar *good =
      make_media (fx, "good.mp4", 2 * FPS, "mp4mux ! filesink");
  g_autofree gchar *whole =
      make_media (fx, "whole.mp4", 4 * FPS, "mp4mux ! filesink");
  g_autofree gchar *whole_fs = make_media (fx, "whole-fs.mp4", 4 * FPS,
      "mp4mux faststart=true ! filesink");
  g_autofree gchar *whole_mkv =
      make_media (fx, "whole.mkv", 4 * FPS, "matroskamux ! filesink");
  g_autofree gchar *cut = g_build_filename (fx->media, "cut.mp4", NULL);
  g_autofree gchar *cut_fs = g_build_filename (fx->media, "cut-fs.mp4", NULL);
  g_autofree gchar *cut_mkv = g_build_filename (fx->media, "cut.mkv", NULL);
  g_autofree gchar *text = g_build_filename (fx->media, "notes.mp4", NULL);
  g_autofree gchar *audio = g_build_filename (fx->media, "sound.ogg", NULL);
  gchar *data_ = NULL;
  gsize len = 0;

  /* A recording cut short (mp4mux writes its moov last). */
  g_assert_true (g_file_get_contents (whole, &data_, &len, NULL));
  g_assert_true (g_file_set_contents (cut, data_, len * 6 / 10, NULL));
  g_free (data_);
  /* ... and cut short with its index first: what is left plays, but less
   * than the header declares. */
  g_assert_true (g_file_get_contents (whole_fs, &data_, &len, NULL));
  g_assert_true (g_file_set_contents (cut_fs, data_, len * 6 / 10, NULL));
  g_free (data_);
  g_assert_true (g_file_get_contents (whole_mkv, &data_, &len, NULL));
  g_assert_true (g_file_set_contents (cut_mkv, data_, len * 6 / 10, NULL));
  g_free (data_);
  g_assert_true (g_file_set_contents (text, "not a video\n", -1, NULL));
  {
    g_autoptr (GError) error = NULL;
    g_autofree gchar *desc =
        g_strdup_printf ("audiotestsrc num-buffers=20 ! vorbisenc ! "
        "oggmux ! filesink location=\"%s\"", audio);
    g_autoptr (GstElement) p = gst_parse_launch (desc, &error);
    g_assert_no_error (error);
    gst_element_set_state (p, GST_STATE_PLAYING);
    g_autoptr (GstBus) bus = gst_element_get_bus (p);
    g_autoptr (GstMessage) msg =
        gst_bus_timed_pop_filtered (bus, 30 * GST_SECOND,
        GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
    g_assert_cmpint (GST_MESSAGE_TYPE (msg), ==, GST_MESSAGE_EOS);
    gst_element_set_state (p, GST_STATE_NULL);
  }

  g_autoptr (GString) out = g_string_new (NULL);
  g_autoptr (GError) error = NULL;
  gboolean ok =
      run_import (fx, out, &error, "--start", "2026-03-02T00:00:00Z", cut,
      cut_fs,
      cut_mkv, text, audio, "--start", "2026-03-02T01:00:00Z", good, NULL);
  g_test_message ("%s", out->str);
  g_assert_false (ok);
  g_assert_error (error, LB_ERROR, LB_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "5 of 6"));
  /* each bad file is named, with the reason */
  g_assert_nonnull (strstr (out->str, "skipped"));
  g_assert_nonnull (strstr (out->str, cut));
  g_assert_nonnull (strstr (out->str, "cut-fs.mp4: truncated"));
  g_assert_nonnull (strstr (out->str, "cut.mkv: truncated"));
  g_assert_nonnull (strstr (out->str, text));
  g_assert_nonnull (strstr (out->str, audio));
  g_assert_nonnull (strstr (out->str, "no video"));
  g_assert_nonnull (strstr (out->str, "imported"));

  /* Only the good file left files and rows. */
  g_autoptr (LbStore) store = open_store (fx);
  gint64 t = at ("2026-03-02T00:00:00Z");
  g_autoptr (LbFootagePlan) bad =
      lookup (store, t - LB_NS_PER_SEC, t + 1800 * LB_NS_PER_SEC);
  g_assert_cmpuint (bad->pieces->len, ==, 0);
  g_autoptr (LbFootagePlan) plan = lookup (store, t, t + 7200 * LB_NS_PER_SEC);
  g_assert_cmpuint (plan->pieces->len, ==, 1);
  g_assert_cmpuint (count_segment_files (fx), ==, 1);
  g_assert_cmpint (rec_decode_count (((LbFootagePiece *) plan->
              pieces->pdata[0])->segment->path, NULL), ==, 2 * FPS);
}

/* An Annex-B stream with B-frames: --framerate numbers the frames, their
 * order of display comes from the stream; the PTS/DTS match what mp4mux
 * writes for the same stream. */
static void
test_annexb_bframes (Fixture * fx, gconstpointer data)
{
  g_autofree gchar *es = g_build_filename (fx->media, "b.h264", NULL);
  g_autofree gchar *ref = g_build_filename (fx->media, "ref.mp4", NULL);
  g_autofree gchar *desc =
      g_strdup_printf ("videotestsrc num-buffers=30 pattern=ball ! "
      "video/x-raw,width=160,height=120,framerate=25/1 ! videoconvert ! "
      "video/x-raw,format=I420 ! x264enc speed-preset=ultrafast bframes=2 b-adapt=false "
      "key-int-max=10 ! tee name=t "
      "t. ! queue ! h264parse ! video/x-h264,stream-format=byte-stream ! "
      "filesink location=\"%s\" "
      "t. ! queue ! h264parse ! mp4mux ! filesink location=\"%s\"", es, ref);
  run_to_eos (desc);
  g_autoptr (GError) error = NULL;

  g_autoptr (GString) out = g_string_new (NULL);
  gboolean ok = run_import (fx, out, &error, "--start", "2026-03-03T00:00:00Z",
      "--framerate", "25", es, NULL);
  g_test_message ("%s", out->str);
  g_assert_no_error (error);
  g_assert_true (ok);

  g_autoptr (LbStore) store = open_store (fx);
  gint64 t = at ("2026-03-03T00:00:00Z");
  g_autoptr (LbFootagePlan) plan =
      lookup (store, t - LB_NS_PER_SEC, t + 60 * LB_NS_PER_SEC);
  g_assert_cmpuint (plan->pieces->len, ==, 1);
  LbFootagePiece *piece = plan->pieces->pdata[0];
  g_assert_cmpint (piece->segment->start_ns, ==, t);
  g_assert_cmpint (ABS (piece->segment->end_ns - (t + 30 * LB_NS_PER_SEC / 25)),
      <=, LB_NS_PER_MS);

  g_autoptr (GArray) got = rec_demux_frames (piece->segment->path);
  g_autoptr (GArray) want = rec_demux_frames (ref);
  g_assert_cmpuint (got->len, ==, 30);
  g_assert_cmpuint (want->len, ==, 30);
  gint64 g0 = g_array_index (got, RecFrame, 0).pts_ns;
  gint64 w0 = g_array_index (want, RecFrame, 0).pts_ns;
  gboolean reordered = FALSE;
  for (guint i = 0; i < 30; i++) {
    const RecFrame *g = &g_array_index (got, RecFrame, i);
    const RecFrame *w = &g_array_index (want, RecFrame, i);
    if (!w->key)                /* keyframes may carry SPS/PPS in band */
      g_assert_cmpuint (g->size, ==, w->size);
    g_assert_cmpint (ABS ((g->pts_ns - g0) - (w->pts_ns - w0)), <=,
        LB_NS_PER_MS);
    g_assert_cmpint (g->dts_ns, <=, g->pts_ns);
    if (g->pts_ns != g->dts_ns)
      reordered = TRUE;
  }
  g_assert_true (reordered);
  g_assert_cmpint (rec_decode_count (piece->segment->path, NULL), ==, 30);
}

/* The frames of @path and of @ref match: sizes (keyframes may differ by
 * their parameter sets), times from the first, and DTS never after PTS;
 * TRUE when some were reordered (B-frames). */
static gboolean
same_frames (const gchar * path, const gchar * ref, guint n)
{
  g_autoptr (GArray) got = rec_demux_frames (path);
  g_autoptr (GArray) want = rec_demux_frames (ref);
  g_assert_cmpuint (got->len, ==, n);
  g_assert_cmpuint (want->len, ==, n);
  gint64 g0 = g_array_index (got, RecFrame, 0).pts_ns;
  gint64 w0 = g_array_index (want, RecFrame, 0).pts_ns;
  gboolean reordered = FALSE;
  for (guint i = 0; i < n; i++) {
    const RecFrame *g = &g_array_index (got, RecFrame, i);
    const RecFrame *w = &g_array_index (want, RecFrame, i);
    if (!w->key)
      g_assert_cmpuint (g->size, ==, w->size);
    g_assert_cmpint (g->key, ==, w->key);
    g_assert_cmpint (ABS ((g->pts_ns - g0) - (w->pts_ns - w0)), <=,
        LB_NS_PER_MS);
    g_assert_cmpint (g->dts_ns, <=, g->pts_ns);
    reordered |= g->pts_ns != g->dts_ns;
  }
  return reordered;
}

/* H.265 with B-frames in every container the import takes, and as an
 * Annex-B stream: remuxed as they are (codec h265, the same frames at the
 * same times, keyframes indexed once a second). */
static void
test_h265_files (Fixture * fx, gconstpointer data)
{
  g_autofree gchar *x265 = g_strdup_printf ("x265enc speed-preset=ultrafast "
      "key-int-max=%d option-string=\"scenecut=0:open-gop=0:bframes=2:"
      "b-adapt=0\" ! h265parse", FPS);
  g_autofree gchar *mp4 = make_media_with (fx, "a.mp4", 2 * FPS, x265,
      "mp4mux ! filesink");
  g_autofree gchar *mkv = make_media_with (fx, "b.mkv", 2 * FPS, x265,
      "matroskamux ! filesink");
  g_autofree gchar *ts = make_media_with (fx, "c.ts", 2 * FPS, x265,
      "mpegtsmux ! filesink");
  g_autofree gchar *es = make_media_with (fx, "d.h265", 2 * FPS, x265,
      "video/x-h265,stream-format=byte-stream ! filesink");
  g_autoptr (GString) out = g_string_new (NULL);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *fps = g_strdup_printf ("%d", FPS);

  gboolean ok = run_import (fx, out, &error, "--start", "2026-03-04T10:00:00Z",
      mp4, mkv, ts, NULL) && run_import (fx, out, &error, "--start",
      "2026-03-04T11:00:00Z", "--framerate", fps, es, NULL);
  g_test_message ("%s", out->str);
  g_assert_no_error (error);
  g_assert_true (ok);

  g_autoptr (LbStore) store = open_store (fx);
  const gchar *files[] = { mp4, mkv, ts, es };
  for (guint i = 0; i < G_N_ELEMENTS (files); i++) {
    gint64 t = at (i < 3 ? "2026-03-04T10:00:00Z" : "2026-03-04T11:00:00Z") +
        (i < 3 ? i : 0) * 2 * LB_NS_PER_SEC;
    g_autoptr (LbFootagePlan) plan = lookup (store, t + LB_NS_PER_SEC / 10,
        t + 19 * LB_NS_PER_SEC / 10);
    g_assert_cmpuint (plan->pieces->len, ==, 1);
    LbFootagePiece *p = plan->pieces->pdata[0];
    g_test_message ("%s: %s", files[i], p->segment->path);
    g_assert_cmpint (ABS (p->segment->start_ns - t), <=, LB_NS_PER_SEC / FPS);
    g_assert_cmpint (ABS (p->segment->end_ns - (t + 2 * LB_NS_PER_SEC)), <=,
        LB_NS_PER_SEC / FPS);
    g_assert_cmpstr (p->segment->codec, ==, "h265");
    g_assert_cmpuint (p->keyframes->len, ==, 2);
    g_assert_cmpint (rec_decode_count (p->segment->path, NULL), ==, 2 * FPS);
    /* the frames of the MP4 itself, at their times */
    g_assert_true (same_frames (p->segment->path, mp4, 2 * FPS));
  }
}

/* Imports @path (2 s) at @start for an input with @audio: its segment's
 * init, and the index's audio codec of it (*@out_audio, NULL: none). */
static LbMp4Init *
import_one (LbStore * store, const gchar * path, gint64 start,
    gboolean audio, gchar ** out_audio)
{
  LbImportOptions opt = {.store = store,.vehicle = "veh 3",.input =
        "dashcamDriverFacing",.segment_duration_ns = 5 * LB_NS_PER_SEC,
    .start_ns = start,.audio = audio
  };
  g_autoptr (GString) out = g_string_new (NULL);
  g_autoptr (GError) error = NULL;
  gint64 end = 0;
  gboolean ok = lb_import_file (&opt, path, &end, out, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  g_autoptr (LbFootagePlan) plan = lookup (store, start,
      start + 2 * LB_NS_PER_SEC);
  g_assert_cmpuint (plan->pieces->len, ==, 1);
  LbSegment *seg = ((LbFootagePiece *) plan->pieces->pdata[0])->segment;
  LbMp4Init *init = NULL;
  g_assert_true (lb_mp4_read_init_path (seg->path, &init, &error));
  *out_audio = g_strdup (seg->audio);
  return init;
}

/* An MP4 with AAC audio: imported for an input with audio=true, its
 * segment carries the audio (as long as the video) and the index says so;
 * for one without, neither. */
static void
test_audio (Fixture * fx, gconstpointer data)
{
  g_autofree gchar *path = g_build_filename (fx->media, "a.mp4", NULL);
  g_autofree gchar *desc = g_strdup_printf ("videotestsrc num-buffers=%d "
      "pattern=ball ! video/x-raw,width=160,height=120,framerate=%d/1 "
      "! videoconvert ! video/x-raw,format=I420 ! x264enc "
      "speed-preset=ultrafast bframes=0 key-int-max=%d "
      "option-string=scenecut=0 ! h264parse ! mp4mux name=m "
      "! filesink location=\"%s\" audiotestsrc num-buffers=%d wave=ticks "
      "! audio/x-raw,rate=48000,channels=1 ! voaacenc ! aacparse ! m.",
      2 * FPS, FPS, FPS, path, 2 * 48000 / 1024);
  run_to_eos (desc);
  g_autoptr (LbStore) store = open_store (fx);
  const gchar *start[] = { "2026-03-05T10:00:00Z", "2026-03-05T11:00:00Z" };

  for (guint with = 0; with < 2; with++) {
    g_autofree gchar *audio = NULL;
    g_autoptr (LbMp4Init) init = import_one (store, path, at (start[with]),
        with == 1, &audio);
    if (!with) {
      g_assert_null (audio);
      g_assert_null (init->audio);
      continue;
    }
    g_assert_cmpstr (audio, ==, "aac");
    g_assert_nonnull (init->audio);
    g_assert_cmpstr (init->audio->codec, ==, "aac");
    /* 2 s of 1024-sample frames at 48 kHz */
    g_assert_cmpint (ABS ((gint) init->audio->samples->len - 2 * 48000 / 1024),
        <=, 1);
  }
}

/* Matroska files with H.264 and G.711 (A-law, µ-law) or raw PCM audio,
 * imported for an input with audio=true: the audio is encoded to AAC as
 * the recorder does, as long as the video. */
static void
test_audio_encoded (Fixture * fx, gconstpointer data)
{
  static const struct
  {
    const gchar *name;
    gint rate;
    const gchar *encode;
  } cases[] = {
    {"pcma", 8000, "audio/x-raw,rate=8000,channels=1 ! alawenc"},
    {"pcmu", 8000, "audio/x-raw,rate=8000,channels=1 ! mulawenc"},
    {"raw", 16000, "audio/x-raw,format=S16LE,rate=16000,channels=1"},
  };
  g_autoptr (LbStore) store = open_store (fx);
  gint64 t = at ("2026-03-06T10:00:00Z");

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++, t += 3600 * LB_NS_PER_SEC) {
    g_autofree gchar *name = g_strdup_printf ("%s.mkv", cases[i].name);
    g_autofree gchar *path = g_build_filename (fx->media, name, NULL);
    g_autofree gchar *desc = g_strdup_printf ("videotestsrc num-buffers=%d "
        "pattern=ball ! video/x-raw,width=160,height=120,framerate=%d/1 "
        "! videoconvert ! video/x-raw,format=I420 ! x264enc "
        "speed-preset=ultrafast bframes=0 key-int-max=%d "
        "option-string=scenecut=0 ! h264parse ! matroskamux name=m "
        "! filesink location=\"%s\" audiotestsrc wave=ticks "
        "samplesperbuffer=%d num-buffers=20 ! %s ! m.", 2 * FPS, FPS, FPS,
        path, cases[i].rate / 10, cases[i].encode);
    run_to_eos (desc);
    g_autofree gchar *audio = NULL;
    g_autoptr (LbMp4Init) init = import_one (store, path, t, TRUE, &audio);
    g_test_message ("%s: %u AAC frames", cases[i].name,
        init->audio ? init->audio->samples->len : 0);
    g_assert_cmpstr (audio, ==, "aac");
    g_assert_nonnull (init->audio);
    g_assert_cmpstr (init->audio->codec, ==, "aac");
    /* 2 s of 1024-sample frames at 48 kHz (the encoder's last frame or
     * two may be padding) */
    g_assert_cmpint (ABS ((gint) init->audio->samples->len - 2 * 48000 / 1024),
        <=, 2);
  }
}

static void
test_usage (Fixture * fx, gconstpointer data)
{
  g_autoptr (GString) out = g_string_new (NULL);
  g_autoptr (GError) error = NULL;

  g_assert_false (run_import (fx, out, &error, "x.mp4", NULL));
  g_assert_error (error, LB_ERROR, LB_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (run_import (fx, out, &error, "--start", "yesterday", "x.mp4",
          NULL));
  g_assert_error (error, LB_ERROR, LB_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (run_import (fx, out, &error, "--start",
          "2026-03-02T00:00:00Z", "--framerate", "fast", "x.mp4", NULL));
  g_assert_error (error, LB_ERROR, LB_ERROR_INVALID);
  g_clear_error (&error);
  /* a file that does not exist is a bad file like any other */
  g_assert_false (run_import (fx, out, &error, "--start",
          "2026-03-02T00:00:00Z", "/nonexistent/x.mp4", NULL));
  g_assert_nonnull (strstr (out->str, "/nonexistent/x.mp4"));
}

/* The real recordings: each imports with its own frames, or is refused by name. */
static void
test_shared_media (Fixture * fx, gconstpointer data)
{
  g_autofree gchar *media = lb_test_shared_media (NULL);
  static const struct
  {
    const gchar *name;
    const gchar *framerate;
    gint frames;                /* decodable frames; 0: refused */
    gint64 duration_ms;
    const gchar *refusal;
  } cases[] = {
    {"kerberos-480p.mp4", NULL, 94, 3170, NULL},        /* B-frames */
    {"moonfire-clip.mp4", NULL, 10, 10000, NULL},       /* 1 fps */
    {"mediamtx-offline.mp4", NULL, 30, 1000, NULL},     /* 1080p */
    {"bbb-avc.mp4", NULL, 150, 5000, NULL},
    {"gst-h264-aac.mp4", NULL, 15, 1000, NULL}, /* audio dropped */
    {"exnvr-30-10s.h264", "30", 300, 10000, NULL},      /* Annex B */
    {"exnvr-30-10s.h264", NULL, 0, 0, "--framerate"},
    {"bbb-hevc.mp4", NULL, 150, 5000, NULL},    /* H.265 */
  };
  g_autoptr (LbStore) store = open_store (fx);
  gint64 t = at ("2026-04-01T00:00:00Z");

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++, t += 3600 * LB_NS_PER_SEC) {
    g_autofree gchar *path = g_build_filename (media, cases[i].name, NULL);
    g_autofree gchar *start = lb_time_format_rfc3339 (t);
    g_autoptr (GString) out = g_string_new (NULL);
    g_autoptr (GError) error = NULL;
    guint before = count_segment_files (fx);
    gboolean ok = cases[i].framerate ?
        run_import (fx, out, &error, "--start", start, "--framerate",
        cases[i].framerate,
        path, NULL) : run_import (fx, out, &error, "--start", start, path,
        NULL);
    g_test_message ("%s", out->str);
    g_autoptr (LbFootagePlan) plan =
        lookup (store, t - LB_NS_PER_SEC, t + 1800 * LB_NS_PER_SEC);

    if (cases[i].refusal) {
      g_assert_false (ok);
      g_assert_nonnull (strstr (out->str, cases[i].name));
      g_assert_nonnull (strstr (out->str, cases[i].refusal));
      g_assert_cmpuint (plan->pieces->len, ==, 0);
      g_assert_cmpuint (count_segment_files (fx), ==, before);
      continue;
    }
    g_assert_no_error (error);
    g_assert_true (ok);
    g_assert_cmpuint (plan->pieces->len, >=, 1);
    LbFootagePiece *first = plan->pieces->pdata[0];
    LbFootagePiece *last = plan->pieces->pdata[plan->pieces->len - 1];
    g_assert_cmpint (first->segment->start_ns, ==, t);
    g_assert_cmpint (ABS (last->segment->end_ns - t -
            cases[i].duration_ms * LB_NS_PER_MS), <=, 100 * LB_NS_PER_MS);
    gint frames = 0;
    for (guint k = 0; k < plan->pieces->len; k++) {
      LbFootagePiece *p = plan->pieces->pdata[k];
      gint n = rec_decode_count (p->segment->path, NULL);
      g_assert_cmpint (n, >, 0);
      frames += n;
    }
    g_assert_cmpint (frames, ==, cases[i].frames);
  }
}

/* --sub-stream: the files are the input's sub-stream, indexed as such. */
static void
test_sub_stream (Fixture * fx, gconstpointer data)
{
  g_autofree gchar *mp4 =
      make_media (fx, "sub.mp4", 2 * FPS, "mp4mux ! filesink");
  g_autoptr (GString) out = g_string_new (NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (run_import (fx, out, &error, "--sub-stream", "--start",
          "2026-03-01T10:00:00Z", mp4, NULL));
  g_assert_no_error (error);

  g_autoptr (LbStore) store = open_store (fx);
  gint64 t = at ("2026-03-01T10:00:00Z");
  g_autoptr (LbFootagePlan) main = lookup (store, t, t + 2 * LB_NS_PER_SEC);
  g_assert_cmpuint (main->pieces->len, ==, 0);
  g_autofree gchar *sub = lb_footage_sub_input ("dashcamDriverFacing");
  g_autoptr (LbFootagePlan) plan = lb_store_lookup (store, "veh 3", sub, t,
      t + 2 * LB_NS_PER_SEC, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (plan->pieces->len, ==, 1);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/import/sub-stream", Fixture, NULL, fixture_set_up,
      test_sub_stream, fixture_tear_down);
  g_test_add ("/import/good-files", Fixture, NULL, fixture_set_up,
      test_good_files, fixture_tear_down);
  g_test_add ("/import/bad-files", Fixture, NULL, fixture_set_up,
      test_bad_files, fixture_tear_down);
  g_test_add ("/import/annexb-bframes", Fixture, NULL, fixture_set_up,
      test_annexb_bframes, fixture_tear_down);
  g_test_add ("/import/h265-files", Fixture, NULL, fixture_set_up,
      test_h265_files, fixture_tear_down);
  g_test_add ("/import/audio", Fixture, NULL, fixture_set_up, test_audio,
      fixture_tear_down);
  g_test_add ("/import/audio-encoded", Fixture, NULL, fixture_set_up,
      test_audio_encoded, fixture_tear_down);
  g_test_add ("/import/usage", Fixture, NULL, fixture_set_up, test_usage,
      fixture_tear_down);
  g_test_add ("/import/shared-media", Fixture, NULL, fixture_set_up,
      test_shared_media, fixture_tear_down);
  return g_test_run ();
}
