/* lookback — running one retrieval's pipeline */
#include "jobs/lb-job-run.h"

#include "core/lb-debug.h"
#include "core/lb-error.h"
#include "core/lb-time.h"
#include "jobs/lb-remux.h"

#include <glib/gstdio.h>
#include <string.h>

GST_DEBUG_CATEGORY_STATIC (lb_job_run_debug);
#define GST_CAT_DEFAULT lb_job_run_debug

const gchar *
lb_job_template_for (const gchar * media_type, const gchar * codec)
{
  if (g_strcmp0 (media_type, "image") == 0)
    return "image";
  if (g_strcmp0 (media_type, "videoHighRes") == 0)
    return codec == NULL || g_str_equal (codec, "h264") ? "video-high-res"
        : "video-high-res-transcode";
  if (g_strcmp0 (media_type, "videoLowRes") == 0)
    return "video-low-res";
  if (g_strcmp0 (media_type, "hyperlapse") == 0)
    return codec == NULL
        || g_str_equal (codec, "h264") ? "hyperlapse-remux" : "hyperlapse";
  return NULL;
}

static void
set_i64 (GstElement * p, const gchar * name, const gchar * prop, gint64 v)
{
  g_autofree gchar *s = g_strdup_printf ("%" G_GINT64_FORMAT, v);
  lb_pipeline_set (p, name, prop, s);
}

static void
set_int (GstElement * p, const gchar * name, const gchar * prop, gint v)
{
  g_autofree gchar *s = g_strdup_printf ("%d", v);
  lb_pipeline_set (p, name, prop, s);
}

/* Where lbrecordingsrc starts: the request, or — for a remux — the keyframe
 * that is itself the nearest frame to it (no pre-roll at all then). */
static gint64
source_start (LbJobRun * run)
{
  if (run->keyframes_ns == NULL || run->fps_n <= 0 || run->fps_d <= 0)
    return run->start_ns;
  gint64 half = gst_util_uint64_scale (GST_SECOND / 2, run->fps_d, run->fps_n);
  for (guint i = 0; i < run->keyframes_ns->len; i++) {
    gint64 k = g_array_index (run->keyframes_ns, gint64, i);
    if (k > run->start_ns && k <= run->start_ns + half)
      return k;
  }
  return run->start_ns;
}

/* Where a still's source starts: at the keyframe at or before the target
 * when the index gives it — reading starts there anyway, no frame shown
 * from it on has its PTS moved onto the segment start, and no frame before
 * it can be nearer the target than it — else a frame before the target
 * (the nearest frame is at most half a frame away at a steady rate). */
static gint64
image_start (LbJobRun * run, gint64 frame)
{
  gint64 start = run->start_ns - frame;
  for (guint i = 0; run->keyframes_ns && i < run->keyframes_ns->len; i++) {
    gint64 k = g_array_index (run->keyframes_ns, gint64, i);
    if (k > run->start_ns)
      break;
    start = k;
  }
  return start;
}

/* The end of a decoded clip, as the decoder and the range watch clip it.
 * Index times drift by nanoseconds from the stamps (segment starts are
 * chained from rounded durations), so a frame indexed a few ns before the
 * requested end is the frame AT the end, which is excluded: the end moves
 * back by 1 ms (at most half a frame), as the start already lets a frame
 * straddling it by a few ns count as the first. */
static gint64
clip_end (LbJobRun * run)
{
  gint64 tol = GST_MSECOND;
  if (run->fps_n > 0 && run->fps_d > 0)
    tol =
        MIN (tol, (gint64) gst_util_uint64_scale (GST_SECOND / 2, run->fps_d,
            run->fps_n));
  return MAX (run->start_ns, run->end_ns - tol);
}

/* Output size for a low-res clip: within the box, aspect kept, even. */
static void
low_res_size (LbJobRun * run, gint * w, gint * h)
{
  gint bw = run->low_res_width, bh = run->low_res_height;
  if (run->width <= 0 || run->height <= 0) {
    *w = bw;
    *h = bh;
    return;
  }
  gdouble s =
      MIN (1.0, MIN ((gdouble) bw / run->width, (gdouble) bh / run->height));
  *w = MAX (2, ((gint) (run->width * s)) & ~1);
  *h = MAX (2, ((gint) (run->height * s)) & ~1);
}

GstElement *
lb_job_build (LbPipelines * pipelines, LbJobRun * run,
    const gchar * template_name, GError ** error)
{
  g_return_val_if_fail (pipelines != NULL && run != NULL, NULL);

  LB_DEBUG_INIT (lb_job_run_debug, "lookback-job", "retrieval job runner");
  GstElement *p = lb_pipelines_build (pipelines, template_name, error);
  if (p == NULL)
    return NULL;

  gboolean image = g_str_equal (template_name, "image");
  gboolean remux = g_str_equal (template_name, "video-high-res");
  lb_pipeline_set (p, "src", "db", run->db_path);
  lb_pipeline_set (p, "src", "vehicle", run->vehicle);
  lb_pipeline_set (p, "src", "input", run->input);
  if (image) {
    /* A still: decoders clip to the source's segment and move the PTS of
     * the frame that straddles its start onto it, so the segment starts
     * before any frame that can be the nearest (image_start()): the time
     * lbframepick posts is the real frame's.  It ends a while after the
     * target: the next frame may be the nearest one (lbframepick ends the
     * stream as soon as it has chosen). */
    gint64 frame = run->fps_n > 0 && run->fps_d > 0 ?
        (gint64) gst_util_uint64_scale (GST_SECOND, run->fps_d,
        run->fps_n) : GST_SECOND / 2;
    set_i64 (p, "src", "start-time", image_start (run, frame));
    set_i64 (p, "src", "end-time", run->start_ns + MAX (GST_SECOND, 2 * frame));
  } else {
    set_i64 (p, "src", "start-time",
        remux ? source_start (run) : run->start_ns);
    set_i64 (p, "src", "end-time", remux ? run->end_ns : clip_end (run));
  }
  lb_pipeline_set (p, "sink", "location", run->output_path);

  if (image) {
    set_i64 (p, "pick", "target-time", run->start_ns);
  } else if (g_str_equal (template_name, "video-low-res")) {
    gint w, h;
    low_res_size (run, &w, &h);
    g_autoptr (GstElement) size = lb_pipeline_get (p, "size");
    if (size) {
      g_autoptr (GstCaps) caps =
          gst_caps_new_simple ("video/x-raw", "width", G_TYPE_INT, w, "height",
          G_TYPE_INT, h, "pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1, NULL);
      g_object_set (size, "caps", caps, NULL);
    }
    set_int (p, "enc", "bitrate", run->low_res_bitrate);
  } else if (g_str_has_prefix (template_name, "hyperlapse")) {
    gint64 src_dur = run->end_ns - run->start_ns;
    gint64 interval = run->hyperlapse_interval_ns;
    gint fps = MAX (1, run->hyperlapse_framerate);
    /* output length = src / interval / fps; grow the interval to cap it */
    if (interval > 0 && run->hyperlapse_max_output_ns > 0 &&
        (gdouble) src_dur / interval / fps * GST_SECOND >
        run->hyperlapse_max_output_ns)
      interval =
          (gint64) ((gdouble) src_dur * GST_SECOND / fps /
          run->hyperlapse_max_output_ns);
    set_i64 (p, "lapse", "interval", interval);
    g_autofree gchar *rate = g_strdup_printf ("%d/1", fps);
    lb_pipeline_set (p, "lapse", "framerate", rate);
  }
  return p;
}

/* Watches frames going into an element to learn the range delivered. */
typedef struct
{
  GMutex lock;
  GstClockTime first, last_end;
  guint frames;
  gboolean clip;                /* drop frames outside [start, end) */
  GstClockTime start, end;
} Range;

static GstPadProbeReturn
on_range_buffer (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  Range *r = user_data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  GstClockTime pts = GST_BUFFER_PTS (buf), dur = GST_BUFFER_DURATION (buf);

  if (!GST_CLOCK_TIME_IS_VALID (pts))
    return GST_PAD_PROBE_OK;
  /* Decoders already clip to lbrecordingsrc's segment; this keeps the
   * delivered range exact behind any other source an operator puts in. */
  if (r->clip && (pts + (GST_CLOCK_TIME_IS_VALID (dur) ? dur : 0) <= r->start ||
          pts >= r->end) && !(pts == r->start))
    return GST_PAD_PROBE_DROP;
  g_mutex_lock (&r->lock);
  if (!GST_CLOCK_TIME_IS_VALID (r->first) || pts < r->first)
    r->first = pts;
  GstClockTime end = pts + (GST_CLOCK_TIME_IS_VALID (dur) ? dur : 0);
  if (!GST_CLOCK_TIME_IS_VALID (r->last_end) || end > r->last_end)
    r->last_end = end;
  r->frames++;
  g_mutex_unlock (&r->lock);
  return GST_PAD_PROBE_OK;
}

static gboolean
watch_range (GstElement * p, const gchar * name, Range * r)
{
  g_autoptr (GstElement) e = lb_pipeline_get (p, name);
  if (e == NULL)
    return FALSE;
  g_autoptr (GstPad) pad = gst_element_get_static_pad (e, "sink");
  if (pad == NULL)
    return FALSE;
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_range_buffer, r, NULL);
  return TRUE;
}

/* The time lbframepick says it chose, from its element message. */
static gboolean
picked_time (GstMessage * msg, gint64 * out)
{
  const GstStructure *s = gst_message_get_structure (msg);
  for (gint i = 0; s && i < gst_structure_n_fields (s); i++) {
    const gchar *f = gst_structure_nth_field_name (s, i);
    if (strstr (f, "time") == NULL || strstr (f, "target")
        || strstr (f, "distance"))
      continue;
    const GValue *v = gst_structure_get_value (s, f);
    if (G_VALUE_HOLDS_UINT64 (v)) {
      *out = (gint64) g_value_get_uint64 (v);
      return TRUE;
    }
    if (G_VALUE_HOLDS_INT64 (v)) {
      *out = g_value_get_int64 (v);
      return TRUE;
    }
  }
  return FALSE;
}

static gint
error_code_for (GError * err)
{
  if (err->domain == GST_RESOURCE_ERROR &&
      (err->code == GST_RESOURCE_ERROR_NO_SPACE_LEFT
          || err->code == GST_RESOURCE_ERROR_WRITE
          || err->code == GST_RESOURCE_ERROR_OPEN_WRITE
          || err->code == GST_RESOURCE_ERROR_CLOSE))
    return LB_ERROR_IO;
  if (err->domain == GST_STREAM_ERROR &&
      (err->code == GST_STREAM_ERROR_DECODE
          || err->code == GST_STREAM_ERROR_DEMUX
          || err->code == GST_STREAM_ERROR_FORMAT
          || err->code == GST_STREAM_ERROR_WRONG_TYPE))
    return LB_ERROR_CORRUPT;
  if (err->domain == LB_ERROR)
    return err->code;
  return LB_ERROR_FAILED;
}

/* Runs @p to EOS on this thread; progress from the position. */
static gboolean
run_pipeline (GstElement * p, LbJobRun * run, gint64 * picked, GError ** error)
{
  g_autoptr (GstBus) bus = gst_element_get_bus (p);
  gboolean ok = FALSE, done = FALSE;
  gint64 span = MAX (run->end_ns - run->start_ns, 1);

  if (gst_element_set_state (p, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    /* the bus says why */
    g_autoptr (GstMessage) m = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
    if (m) {
      g_autoptr (GError) err = NULL;
      gst_message_parse_error (m, &err, NULL);
      g_set_error (error, LB_ERROR, error_code_for (err), "%s", err->message);
    } else {
      g_set_error (error, LB_ERROR, LB_ERROR_FAILED,
          "the pipeline does not start");
    }
    gst_element_set_state (p, GST_STATE_NULL);
    return FALSE;
  }
  while (!done) {
    if (run->cancellable && g_cancellable_is_cancelled (run->cancellable)) {
      g_set_error (error, LB_ERROR, LB_ERROR_BUSY, "cancelled");
      break;
    }
    g_autoptr (GstMessage) m =
        gst_bus_timed_pop_filtered (bus, 100 * GST_MSECOND,
        GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_ELEMENT);
    if (m == NULL) {
      gint64 pos;
      if (run->progress && gst_element_query_position (p, GST_FORMAT_TIME, &pos)
          && pos >= run->start_ns)
        run->progress (CLAMP ((gdouble) (pos - run->start_ns) / span, 0, 0.99),
            run->progress_data);
      continue;
    }
    switch (GST_MESSAGE_TYPE (m)) {
      case GST_MESSAGE_EOS:
        ok = done = TRUE;
        break;
      case GST_MESSAGE_ERROR:{
        g_autoptr (GError) err = NULL;
        g_autofree gchar *dbg = NULL;
        gst_message_parse_error (m, &err, &dbg);
        GST_WARNING ("%s: %s (%s)", GST_OBJECT_NAME (GST_MESSAGE_SRC (m)),
            err->message, dbg ? dbg : "");
        g_set_error (error, LB_ERROR, error_code_for (err), "%s: %s",
            GST_OBJECT_NAME (GST_MESSAGE_SRC (m)), err->message);
        done = TRUE;
        break;
      }
      case GST_MESSAGE_ELEMENT:{
        g_autoptr (GstElement) pick = lb_pipeline_get (p, "pick");
        if (pick && GST_MESSAGE_SRC (m) == GST_OBJECT (pick))
          picked_time (m, picked);
        break;
      }
      default:
        break;
    }
  }
  gst_element_set_state (p, GST_STATE_NULL);
  return ok;
}

static gboolean
run_template (LbPipelines * pipelines, LbJobRun * run, const gchar * name,
    GError ** error)
{
  g_autoptr (GstElement) p = lb_job_build (pipelines, run, name, error);
  if (p == NULL)
    return FALSE;

  gboolean remux = g_str_equal (name, "video-high-res");
  gboolean image = g_str_equal (name, "image");
  gboolean lapse = g_str_has_prefix (name, "hyperlapse");
  g_autoptr (LbRemux) rm = NULL;
  Range range = {.first = GST_CLOCK_TIME_NONE,.last_end = GST_CLOCK_TIME_NONE };
  gint64 picked = LB_TIME_NONE;

  g_mutex_init (&range.lock);
  if (remux) {
    g_autoptr (GstElement) mux = lb_pipeline_get (p, "mux");
    if (mux == NULL) {
      g_set_error (error, LB_ERROR, LB_ERROR_CONFIG,
          "template %s has no element 'mux'", name);
      g_mutex_clear (&range.lock);
      return FALSE;
    }
    rm = lb_remux_attach (mux, run->end_ns);
  } else {
    /* the frames that reach the encoder (after clipping), or the hyperlapse */
    range.clip = !image && !lapse;
    range.start = run->start_ns;
    range.end = clip_end (run);
    if (!watch_range (p, lapse ? "lapse" : "enc", &range))
      GST_WARNING ("template %s: cannot watch the delivered range", name);
  }

  gboolean ok = run_pipeline (p, run, &picked, error);
  gst_object_unref (g_steal_pointer (&p));      /* streaming threads gone */

  if (ok && remux) {
    GstClockTime ds, de;
    guint frames;
    ok = lb_remux_finish (rm, run->output_path, run->start_ns, run->end_ns, &ds,
        &de, &frames, error);
    if (ok) {
      run->delivered_start_ns = ds;
      run->delivered_end_ns = de;
      run->frames = frames;
    }
  } else if (ok) {
    g_mutex_lock (&range.lock);
    run->frames = range.frames;
    if (image) {
      gint64 t = picked != LB_TIME_NONE ? picked : (gint64) range.first;
      run->delivered_start_ns = run->delivered_end_ns = t;
    } else {
      run->delivered_start_ns = range.first;
      run->delivered_end_ns = range.last_end;
    }
    g_mutex_unlock (&range.lock);
    if (run->frames == 0
        || run->delivered_start_ns == (gint64) GST_CLOCK_TIME_NONE) {
      g_set_error (error, LB_ERROR, LB_ERROR_UNAVAILABLE,
          "no frame in the requested range");
      ok = FALSE;
    }
  }
  g_mutex_clear (&range.lock);
  if (ok)
    run->template_used = name;
  return ok;
}

/* A remuxed hyperlapse plays the recorded keyframes at the output frame
 * rate: its bitrate is their mean size times that rate. */
static gboolean
remux_bitrate_ok (const LbJobRun * run)
{
  if (run->hyperlapse_remux_max_kbps <= 0)
    return FALSE;
  if (run->keyframes_ns == NULL || run->keyframes_ns->len == 0
      || run->keyframe_bytes <= 0)
    return TRUE;                /* unknown: the muxer and the fallback decide */
  gdouble kbps = (gdouble) run->keyframe_bytes / run->keyframes_ns->len * 8.0 *
      MAX (run->hyperlapse_framerate, 1) / 1000.0;
  if (kbps <= run->hyperlapse_remux_max_kbps)
    return TRUE;
  GST_INFO
      ("copied keyframes would make %.0f kbit/s (over %d): transcoding the hyperlapse",
      kbps, run->hyperlapse_remux_max_kbps);
  return FALSE;
}

gboolean
lb_job_run (LbPipelines * pipelines, LbJobRun * run, GError ** error)
{
  g_return_val_if_fail (pipelines != NULL && run != NULL, FALSE);
  g_return_val_if_fail (run->output_path != NULL, FALSE);

  LB_DEBUG_INIT (lb_job_run_debug, "lookback-job", "retrieval job runner");
  const gchar *name = lb_job_template_for (run->media_type, run->codec);
  g_autoptr (GError) err = NULL;

  if (name == NULL) {
    g_set_error (error, LB_ERROR, LB_ERROR_INVALID, "unknown media type '%s'",
        run->media_type);
    return FALSE;
  }
  /* an operator's template folder from before hyperlapse-remux, or copied
   * keyframes that would be too heavy a file */
  if (g_str_equal (name, "hyperlapse-remux") &&
      (lb_pipelines_get_text (pipelines, name) == NULL
          || !remux_bitrate_ok (run)))
    name = "hyperlapse";
  run->content_type = g_str_equal (name, "image") ? "image/jpeg" : "video/mp4";
  gboolean ok = run_template (pipelines, run, name, &err);
  if (!ok && g_str_equal (name, "hyperlapse-remux") &&
      (g_error_matches (err, LB_ERROR, LB_ERROR_INVALID) ||
          g_error_matches (err, LB_ERROR, LB_ERROR_FAILED)) &&
      !(run->cancellable && g_cancellable_is_cancelled (run->cancellable))) {
    /* the muxer refused the keyframes as they are (e.g. the codec data
     * changes between two segments): decode and encode instead */
    GST_INFO ("%s; transcoding the hyperlapse instead", err->message);
    g_clear_error (&err);
    ok = run_template (pipelines, run, "hyperlapse", &err);
  }
  if (!ok && g_str_equal (name, "video-high-res") &&
      (g_error_matches (err, LB_ERROR, LB_ERROR_INVALID) ||
          g_error_matches (err, LB_ERROR, LB_ERROR_FAILED)) &&
      !(run->cancellable && g_cancellable_is_cancelled (run->cancellable))) {
    /* the GOP is longer than the clip (the pre-roll cannot be hidden), or
     * the muxer refused the stream as it is (e.g. the codec data changes
     * between two segments): decode and encode instead */
    GST_INFO ("%s; transcoding instead", err->message);
    g_clear_error (&err);
    ok = run_template (pipelines, run, "video-high-res-transcode", &err);
  }
  if (!ok) {
    g_unlink (run->output_path);
    g_propagate_error (error, g_steal_pointer (&err));
    return FALSE;
  }
  if (run->progress)
    run->progress (1.0, run->progress_data);
  GST_INFO ("%s %s/%s: %u frames, %" G_GINT64_FORMAT "..%" G_GINT64_FORMAT
      " → %s", run->media_type, run->vehicle, run->input, run->frames,
      run->delivered_start_ns, run->delivered_end_ns, run->output_path);
  return TRUE;
}
