/* Jobs unit tests: the pipeline templates parse, hold their named
 * elements, take the request's values as properties, and the high-res
 * template of H.264 footage has no encoder. */
#include "jobs/lb-job-kind.h"
#include "jobs/lb-pipelines.h"
#include "core/lb-error.h"
#include "core/lb-mux-guard.h"
#include "lb-test-common.h"

#include <glib/gstdio.h>
#include <string.h>

static const struct
{
  const gchar *name;
  const gchar *elements[6];
  gboolean encoder;
} expected[] = {
  {"image", {"src", "pick", "enc", "sink"}, TRUE},
  {"video-high-res", {"src", "mux", "sink"}, FALSE},
  {"video-high-res-transcode", {"src", "enc", "mux", "sink"}, TRUE},
  {"video-low-res-remux", {"src", "mux", "sink"}, FALSE},
  {"video-low-res", {"src", "size", "enc", "mux", "sink"}, TRUE},
  {"hyperlapse", {"src", "lapse", "enc", "mux", "sink"}, TRUE},
  {"hyperlapse-remux", {"src", "lapse", "mux", "sink"}, FALSE},
};

static void
test_templates_parse (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LbPipelines) p = lb_pipelines_load (NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_suffix (lb_pipelines_get_dir (p), "pipelines"));

  for (guint i = 0; i < G_N_ELEMENTS (expected); i++) {
    const gchar *text = lb_pipelines_get_text (p, expected[i].name);
    g_assert_nonnull (text);
    g_assert_null (strchr (text, '#'));
    g_autoptr (GstElement) pipeline =
        lb_pipelines_build (p, expected[i].name, &error);
    g_assert_no_error (error);
    g_assert_true (GST_IS_PIPELINE (pipeline));
    for (guint k = 0; expected[i].elements[k]; k++) {
      g_autoptr (GstElement) e =
          lb_pipeline_get (pipeline, expected[i].elements[k]);
      if (e == NULL)
        g_error ("%s has no element named %s", expected[i].name,
            expected[i].elements[k]);
    }
    g_assert_cmpint (lb_pipeline_has_encoder (pipeline), ==,
        expected[i].encoder);
  }
}

static LbJobRun
make_run (LbMediaType media_type, const gchar * codec)
{
  LbJobRun run = {
    .media_type = media_type,.db_path = "/tmp/x.db",.vehicle = "v1",
    .input = "dashcamRoadFacing",.start_ns = 1785000000 * GST_SECOND,
    .end_ns = 1785000030 * GST_SECOND,.output_path = "/tmp/out.mp4",.codec =
        codec,
    .width = 1280,.height = 720,.fps_n = 30,.fps_d = 1,
    .low_res_width = 640,.low_res_height = 360,.low_res_bitrate = 500,
    .hyperlapse_interval_ns = GST_SECOND,.hyperlapse_framerate = 30,
    .hyperlapse_max_output_ns = 120 * GST_SECOND,
    .hyperlapse_remux_max_kbps = 8000,
  };
  return run;
}

/* The pipeline of kind @template_name with every value of @run set. */
static GstElement *
build (LbPipelines * p, LbJobRun * run, const gchar * template_name)
{
  g_autoptr (GError) error = NULL;
  const LbJobKind *kind = lb_job_kind_find (template_name);
  g_assert_nonnull (kind);
  g_autoptr (LbJobPass) pass = lb_job_pass_new (p, run, kind, &error);
  g_assert_no_error (error);
  return gst_object_ref (pass->pipeline);
}

/* The template a job of @run starts with (@h264_only: [jobs]
 * high-res-codec=h264). */
static const gchar *
chosen_with (LbPipelines * p, LbMediaType media_type, const gchar * codec,
    gboolean h264_only)
{
  LbJobRun run = make_run (media_type, codec);
  run.copy_h264_only = h264_only;
  return lb_job_kind_choose (p, &run)->template_name;
}

static const gchar *
chosen (LbPipelines * p, LbMediaType media_type, const gchar * codec)
{
  return chosen_with (p, media_type, codec, FALSE);
}

static gint64
get_i64 (GstElement * pipeline, const gchar * name, const gchar * prop)
{
  g_autoptr (GstElement) e = lb_pipeline_get (pipeline, name);
  GValue v = G_VALUE_INIT;
  g_object_get_property (G_OBJECT (e), prop, &v);
  if (G_VALUE_HOLDS_STRING (&v)) {      /* lbrecordingsrc: times as text */
    gint64 n = g_ascii_strtoll (g_value_get_string (&v), NULL, 10);
    g_value_unset (&v);
    return n;
  }
  if (GST_VALUE_HOLDS_FRACTION (&v)) {
    g_assert_cmpint (gst_value_get_fraction_denominator (&v), ==, 1);
    return gst_value_get_fraction_numerator (&v);
  }
  GValue i = G_VALUE_INIT;
  g_value_init (&i, G_TYPE_INT64);
  g_assert_true (g_value_transform (&v, &i));
  g_value_unset (&v);
  return g_value_get_int64 (&i);
}

/* The high-res pipeline for H.264 and H.265 footage remuxes: no encoder,
 * whatever the request; other codecs transcode, and so does H.265 when the
 * operator asks for H.264 clips ([jobs] high-res-codec=h264). */
static void
test_high_res_has_no_encoder (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LbPipelines) p = lb_pipelines_load (NULL, &error);
  g_assert_no_error (error);

  LbJobRun run = make_run (LB_MEDIA_TYPE_VIDEO_HIGH_RES, "h264");
  g_assert_cmpstr (chosen (p, LB_MEDIA_TYPE_VIDEO_HIGH_RES, "h264"), ==,
      "video-high-res");
  g_autoptr (GstElement) remux = build (p, &run, "video-high-res");
  g_assert_no_error (error);
  g_assert_false (lb_pipeline_has_encoder (remux));
  g_assert_cmpint (get_i64 (remux, "src", "start-time"), ==, run.start_ns);
  g_assert_cmpint (get_i64 (remux, "src", "end-time"), ==, run.end_ns);

  g_assert_cmpstr (chosen (p, LB_MEDIA_TYPE_VIDEO_HIGH_RES, "h265"), ==,
      "video-high-res");
  g_assert_cmpstr (chosen (p, LB_MEDIA_TYPE_VIDEO_HIGH_RES, "vp9"), ==,
      "video-high-res-transcode");
  g_assert_cmpstr (chosen_with (p, LB_MEDIA_TYPE_VIDEO_HIGH_RES, "h264",
          TRUE), ==, "video-high-res");
  g_assert_cmpstr (chosen_with (p, LB_MEDIA_TYPE_VIDEO_HIGH_RES, "h265",
          TRUE), ==, "video-high-res-transcode");
  LbJobRun hevc = make_run (LB_MEDIA_TYPE_VIDEO_HIGH_RES, "h265");
  g_autoptr (GstElement) transcode =
      build (p, &hevc, "video-high-res-transcode");
  g_assert_no_error (error);
  g_assert_true (lb_pipeline_has_encoder (transcode));

  /* a hyperlapse of H.264 footage remuxes its keyframes too */
  g_assert_cmpstr (chosen (p, LB_MEDIA_TYPE_HYPERLAPSE, "h264"), ==,
      "hyperlapse-remux");
  g_assert_cmpstr (chosen (p, LB_MEDIA_TYPE_HYPERLAPSE, NULL), ==,
      "hyperlapse-remux");
  g_assert_cmpstr (chosen (p, LB_MEDIA_TYPE_HYPERLAPSE, "h265"), ==,
      "hyperlapse-remux");
  g_assert_cmpstr (chosen_with (p, LB_MEDIA_TYPE_HYPERLAPSE, "h265", TRUE),
      ==, "hyperlapse");
  LbJobRun hl = make_run (LB_MEDIA_TYPE_HYPERLAPSE, "h264");
  g_autoptr (GstElement) lapse = build (p, &hl, "hyperlapse-remux");
  g_assert_no_error (error);
  g_assert_false (lb_pipeline_has_encoder (lapse));
  g_assert_cmpint (get_i64 (lapse, "lapse", "interval"), ==, GST_SECOND);
}

/* A keyframe that is itself the nearest frame: the remux starts there. */
static void
test_high_res_starts_at_nearest_keyframe (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LbPipelines) p = lb_pipelines_load (NULL, &error);
  LbJobRun run = make_run (LB_MEDIA_TYPE_VIDEO_HIGH_RES, "h264");
  g_autoptr (GArray) kf = g_array_new (FALSE, FALSE, sizeof (gint64));
  gint64 k0 = run.start_ns - GST_SECOND + 10 * GST_MSECOND, k1 =
      k0 + GST_SECOND;
  g_array_append_val (kf, k0);
  g_array_append_val (kf, k1);
  run.keyframes_ns = kf;
  g_autoptr (GstElement) pipeline = build (p, &run, "video-high-res");
  g_assert_no_error (error);
  /* k1 is 10 ms after the request, less than half a frame at 30 fps */
  g_assert_cmpint (get_i64 (pipeline, "src", "start-time"), ==, k1);
}

static void
test_values_set_by_name (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LbPipelines) p = lb_pipelines_load (NULL, &error);
  g_assert_no_error (error);

  LbJobRun image = make_run (LB_MEDIA_TYPE_IMAGE, "h264");
  image.end_ns = image.start_ns;
  g_autoptr (GstElement) still = build (p, &image, "image");
  g_assert_no_error (error);
  g_assert_cmpint (get_i64 (still, "pick", "target-time"), ==, image.start_ns);
  /* a frame early: decoders move the PTS of a frame straddling the start */
  g_assert_cmpint (get_i64 (still, "src", "start-time"), ==,
      image.start_ns - GST_SECOND / 30);
  /* the next frame may be the nearest: the source reads on */
  g_assert_cmpint (get_i64 (still, "src", "end-time"), >, image.start_ns);
  /* with the index's keyframes: at the keyframe at or before the target,
   * even a GOP earlier than a frame before it (no PTS is moved, and no
   * frame before that keyframe can be the nearest) */
  g_autoptr (GArray) kf = g_array_new (FALSE, FALSE, sizeof (gint64));
  gint64 k[] =
      { image.start_ns - 2 * GST_SECOND, image.start_ns - 700 * GST_MSECOND,
    image.start_ns + 300 * GST_MSECOND
  };
  g_array_append_vals (kf, k, G_N_ELEMENTS (k));
  image.keyframes_ns = kf;
  g_autoptr (GstElement) still_kf = build (p, &image, "image");
  g_assert_no_error (error);
  g_assert_cmpint (get_i64 (still_kf, "src", "start-time"), ==, k[1]);
  /* the target a few ms after a keyframe: that keyframe, not the GOP before */
  k[1] = image.start_ns - 10 * GST_MSECOND;
  g_array_index (kf, gint64, 1) = k[1];
  g_autoptr (GstElement) still_kf2 = build (p, &image, "image");
  g_assert_no_error (error);
  g_assert_cmpint (get_i64 (still_kf2, "src", "start-time"), ==, k[1]);
  g_autoptr (GstElement) sink = lb_pipeline_get (still, "sink");
  g_autofree gchar *location = NULL;
  g_object_get (sink, "location", &location, NULL);
  g_assert_cmpstr (location, ==, "/tmp/out.mp4");

  /* low-res: within 640x360, aspect kept */
  const gint sizes[][4] = { {1280, 720, 640, 360}, {640, 480, 480, 360},
  {480, 240, 480, 240}, {1920, 1080, 640, 360}
  };
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++) {
    LbJobRun lo = make_run (LB_MEDIA_TYPE_VIDEO_LOW_RES, "h264");
    lo.width = sizes[i][0];
    lo.height = sizes[i][1];
    g_autoptr (GstElement) pl = build (p, &lo, "video-low-res");
    g_assert_no_error (error);
    g_autoptr (GstElement) size = lb_pipeline_get (pl, "size");
    g_autoptr (GstCaps) caps = NULL;
    g_object_get (size, "caps", &caps, NULL);
    gint w, h;
    GstStructure *s = gst_caps_get_structure (caps, 0);
    g_assert_true (gst_structure_get_int (s, "width", &w));
    g_assert_true (gst_structure_get_int (s, "height", &h));
    g_assert_cmpint (w, ==, sizes[i][2]);
    g_assert_cmpint (h, ==, sizes[i][3]);
    g_assert_cmpint (get_i64 (pl, "enc", "bitrate"), ==, 500);
  }

  /* hyperlapse: 1 s interval for 30 min (60 s out); 40 min at 1 s would be
   * 80 s, under the 120 s cap; 4 h would not: the interval grows */
  LbJobRun hl = make_run (LB_MEDIA_TYPE_HYPERLAPSE, "h264");
  g_autoptr (GstElement) lapse = build (p, &hl, "hyperlapse");
  g_assert_no_error (error);
  g_assert_cmpint (get_i64 (lapse, "lapse", "interval"), ==, GST_SECOND);
  g_assert_cmpint (get_i64 (lapse, "lapse", "framerate"), ==, 30);
  hl.end_ns = hl.start_ns + 4 * 3600 * GST_SECOND;
  g_autoptr (GstElement) capped = build (p, &hl, "hyperlapse");
  g_assert_no_error (error);
  g_assert_cmpint (get_i64 (capped, "lapse", "interval"), ==, 4 * GST_SECOND);
}

/* The kinds table: every media type has a kind; a fallback is a kind of
 * the same media type that decodes (so it takes any footage) and has no
 * fallback of its own; the template of a kind with a fallback may be the
 * missing one. */
static void
test_kinds_table (void)
{
  guint n;
  const LbJobKind *kinds = lb_job_kinds (&n);
  for (guint t = 0; t < LB_MEDIA_TYPE_COUNT; t++) {
    const LbJobKind *first = lb_job_kind_for (t);
    g_assert_nonnull (first);
    g_assert_cmpint (first->media_type, ==, t);
  }
  for (guint i = 0; i < n; i++) {
    const LbJobKind *k = &kinds[i];
    g_assert_true (lb_job_kind_find (k->template_name) == k);
    g_assert_nonnull (k->configure);
    g_assert_nonnull (k->finish);
    g_assert_nonnull (k->content_type);
    g_assert_true (g_str_has_prefix (k->extension, "."));
    const LbJobKind *fb = lb_job_kind_get_fallback (k);
    if (k->fallback == NULL) {
      g_assert_null (fb);
      g_assert_null (k->copies);
      g_assert_false (k->optional);
      continue;
    }
    g_assert_nonnull (fb);
    g_assert_cmpint (fb->media_type, ==, k->media_type);
    g_assert_null (fb->fallback);
    g_assert_null (fb->copies);
    g_assert_cmpstr (fb->content_type, ==, k->content_type);
  }
}

/* An operator swaps x264enc for another encoder by editing a copy of the
 * templates; the engine sets what the new element has. */
static void
test_swapped_encoder (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("lb-templates-XXXXXX", &error);
  g_assert_no_error (error);
  guint n;
  const LbJobKind *kinds = lb_job_kinds (&n);
  for (guint i = 0; i < n; i++) {
    g_autofree gchar *file =
        g_strconcat (kinds[i].template_name, ".pipeline", NULL);
    g_autofree gchar *src =
        g_build_filename (g_getenv ("LB_SOURCE_ROOT"), "pipelines", file, NULL);
    g_autofree gchar *dst = g_build_filename (dir, file, NULL);
    g_autofree gchar *text = NULL;
    g_assert_true (g_file_get_contents (src, &text, NULL, NULL));
    g_auto (GStrv) parts = g_strsplit (text, "x264enc", -1);
    g_autofree gchar *swapped = g_strjoinv ("openh264enc", parts);
    /* x264enc's own options do not exist on openh264enc */
    g_autoptr (GRegex) re =
        g_regex_new ("openh264enc name=enc[^\\n]*", 0, 0, NULL);
    g_autofree gchar *fixed = g_regex_replace_literal (re, swapped, -1, 0,
        "openh264enc name=enc", 0, NULL);
    g_assert_true (g_file_set_contents (dst, fixed, -1, NULL));
  }
  g_autoptr (LbPipelines) p = lb_pipelines_load (dir, &error);
  g_assert_no_error (error);
  LbJobRun lo = make_run (LB_MEDIA_TYPE_VIDEO_LOW_RES, "h264");
  g_autoptr (GstElement) pl = build (p, &lo, "video-low-res");
  g_assert_no_error (error);
  g_autoptr (GstElement) enc = lb_pipeline_get (pl, "enc");
  g_assert_cmpstr (GST_OBJECT_NAME (gst_element_get_factory (enc)), ==,
      "openh264enc");

  for (guint i = 0; i < n; i++) {
    g_autofree gchar *file =
        g_strconcat (kinds[i].template_name, ".pipeline", NULL);
    g_autofree gchar *dst = g_build_filename (dir, file, NULL);
    g_unlink (dst);
  }
  g_rmdir (dir);
}

static void
test_missing_template (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("lb-templates-XXXXXX", &error);
  g_assert_null (lb_pipelines_load (dir, &error));
  g_assert_error (error, LB_ERROR, LB_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "image.pipeline"));
  g_rmdir (dir);
}

/* The video-high-res template's muxer and file alone (*@dir, *@out), fed
 * @frames frames after @changes caps changes each (lb_test_push_caps_changes),
 * told the pipeline @failed (lb_mux_guard_failed), then sent EOS; stopped
 * at the EOS or error it posts (NULL: none within 2 s when @failed). */
static GstMessage *
feed_mux (guint frames, guint changes, gboolean failed, gchar ** dir,
    gchar ** out)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LbPipelines) p = lb_pipelines_load (NULL, &error);
  g_assert_no_error (error);
  g_autoptr (GstElement) pipeline =
      lb_pipelines_build (p, "video-high-res", &error);
  g_assert_no_error (error);
  /* the muxer and the file alone, fed by the test */
  g_autoptr (GstElement) src = lb_pipeline_get (pipeline, "src");
  g_autoptr (GstElement) mux = lb_pipeline_get (pipeline, "mux");
  g_autoptr (GstElement) sink = lb_pipeline_get (pipeline, "sink");
  gst_bin_remove (GST_BIN (pipeline), src);
  *dir = g_dir_make_tmp ("lb-templates-XXXXXX", &error);
  g_assert_no_error (error);
  *out = g_build_filename (*dir, "out.mp4", NULL);
  g_object_set (sink, "location", *out, NULL);
  GstIterator *it = gst_element_iterate_sink_pads (mux);
  GValue v = G_VALUE_INIT;
  g_assert_cmpint (gst_iterator_next (it, &v), ==, GST_ITERATOR_OK);
  GstPad *in = g_value_get_object (&v);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  lb_test_push_caps_changes (in, frames, changes);
  if (failed)
    lb_mux_guard_failed (mux);
  gst_pad_send_event (in, gst_event_new_eos ());
  g_value_unset (&v);
  gst_iterator_free (it);
  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);
  g_autoptr (GstMessage) msg = gst_bus_timed_pop_filtered (bus,
      (failed ? 2 : 60) * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  return g_steal_pointer (&msg);
}

/* A clip's muxer takes many caps changes (footage across segments whose
 * codec data differ) without crashing: lb_pipelines_build guards the
 * template's "mux" (lb-mux-guard.h).  Without it mp4mux 1.22.0 freed caps
 * it was still comparing in most runs. */
static void
test_mux_caps_changes (void)
{
  g_autofree gchar *dir = NULL;
  g_autofree gchar *out = NULL;
  g_autoptr (GstMessage) msg = feed_mux (300, 4, FALSE, &dir, &out);
  g_assert_nonnull (msg);
  g_assert_cmpint (GST_MESSAGE_TYPE (msg), ==, GST_MESSAGE_EOS);
  g_assert_cmpuint (lb_test_mp4_video_samples (out), ==, 300);
  g_unlink (out);
  g_rmdir (dir);
}

/* A failed job's muxer does not finalise its file at the EOS a failed
 * source sends after its error (lb_mux_guard_failed, which the job runner
 * calls at an error): mp4mux 1.22.0 would, while the pipeline is being
 * stopped, and make criticals.  The EOS never reaches it; with faststart
 * nothing was written. */
static void
test_mux_failed_eos (void)
{
  g_autofree gchar *dir = NULL;
  g_autofree gchar *out = NULL;
  g_autoptr (GstMessage) msg = feed_mux (30, 0, TRUE, &dir, &out);
  g_assert_null (msg);
  GStatBuf st;
  g_assert_cmpint (g_stat (out, &st), ==, 0);
  g_assert_cmpint (st.st_size, ==, 0);
  g_unlink (out);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/jobs/templates/parse", test_templates_parse);
  g_test_add_func ("/jobs/templates/high-res-has-no-encoder",
      test_high_res_has_no_encoder);
  g_test_add_func ("/jobs/templates/high-res-starts-at-nearest-keyframe",
      test_high_res_starts_at_nearest_keyframe);
  g_test_add_func ("/jobs/templates/values-set-by-name",
      test_values_set_by_name);
  g_test_add_func ("/jobs/templates/kinds-table", test_kinds_table);
  g_test_add_func ("/jobs/templates/swapped-encoder", test_swapped_encoder);
  g_test_add_func ("/jobs/templates/missing-template", test_missing_template);
  g_test_add_func ("/jobs/templates/mux-caps-changes", test_mux_caps_changes);
  g_test_add_func ("/jobs/templates/mux-failed-eos", test_mux_failed_eos);
  return g_test_run ();
}
