/* lookback — the kinds of retrieval job, one per pipeline template */
#include "jobs/lb-job-kind.h"

#include "core/lb-debug.h"
#include "core/lb-error.h"
#include "core/lb-log.h"
#include "core/lb-time.h"

GST_DEBUG_CATEGORY_STATIC (lb_job_kind_debug);
#define GST_CAT_DEFAULT lb_job_kind_debug

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

/* ---- what reaches an element: the delivered range of decoding kinds ---- */

/* Watches frames going into an element to learn the range delivered. */
struct _LbJobWatch
{
  GMutex lock;
  GstClockTime first, last_end; /* protected by lock */
  guint frames;                 /* protected by lock */
  gboolean clip;                /* drop frames outside [start, end), and
                                 * those not after the last one passed */
  GstClockTime last_pts;        /* clip: of the last frame passed */
  GstClockTime start, end;
  GstClockTime tolerance;       /* of the times against the index */
  GstPad *pad;                  /* watched, with the probe probe_id */
  gulong probe_id;
};

static GstPadProbeReturn
on_watched_buffer (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  LbJobWatch *r = user_data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  GstClockTime pts = GST_BUFFER_PTS (buf), dur = GST_BUFFER_DURATION (buf);

  if (!GST_CLOCK_TIME_IS_VALID (pts))
    return GST_PAD_PROBE_OK;
  /* Decoders already clip to lbrecordingsrc's segment; this keeps the
   * delivered range exact behind any other source an operator puts in.  A
   * frame that ends within the tolerance after the start is before it:
   * with reordered frames a decoder can clip the frame before the start to
   * a nanosecond at the start (its duration rounded up by one). */
  gboolean before = GST_CLOCK_TIME_IS_VALID (dur) ?
      pts + dur <= r->start + r->tolerance : pts < r->start;
  if (r->clip && (before || pts >= r->end))
    return GST_PAD_PROBE_DROP;
  /* An encoder takes frames in the order they show.  Footage whose times
   * disagree with the order of its pictures (B-frames whose times step
   * mid-GOP, as rtpbin's lip-sync steps them) makes the decoder hand on a
   * frame timed before the one it showed last as of that one's time: two
   * frames of one time, which x264enc and mp4mux refuse.  The first is
   * kept (the streaming thread is the only writer of last_pts). */
  if (r->clip && GST_CLOCK_TIME_IS_VALID (r->last_pts) && pts <= r->last_pts) {
    GST_DEBUG ("frame at %" GST_TIME_FORMAT " not after the last one: left "
        "out", GST_TIME_ARGS (pts));
    return GST_PAD_PROBE_DROP;
  }
  r->last_pts = pts;
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

static void
watch_free (LbJobWatch * w)
{
  if (w->pad) {
    gst_pad_remove_probe (w->pad, w->probe_id);
    gst_object_unref (w->pad);
  }
  g_mutex_clear (&w->lock);
  g_free (w);
}

static GstClockTime time_tolerance (const LbJobRun * run);

/* Watches the frames entering element @name of @pass's pipeline; with
 * @clip, those outside [@start, @end) are dropped there. */
static void
watch (LbJobPass * pass, const gchar * name, gboolean clip, gint64 start,
    gint64 end)
{
  LbJobWatch *w = g_new0 (LbJobWatch, 1);
  g_mutex_init (&w->lock);
  w->first = w->last_end = w->last_pts = GST_CLOCK_TIME_NONE;
  w->clip = clip;
  w->start = start;
  w->end = end;
  w->tolerance = time_tolerance (pass->run);
  pass->watch = w;

  g_autoptr (GstElement) e = lb_pipeline_get (pass->pipeline, name);
  w->pad = e ? gst_element_get_static_pad (e, "sink") : NULL;
  if (w->pad == NULL) {
    lb_log (LB_LOG_WARNING, LB_LOG_CTX (.vehicle = pass->run->vehicle,.input =
            pass->run->input),
        "pipeline template %s has no element "
        "'%s' with a sink pad: the delivered range is unknown",
        pass->kind->template_name, name);
    return;
  }
  w->probe_id = gst_pad_add_probe (w->pad, GST_PAD_PROBE_TYPE_BUFFER,
      on_watched_buffer, w, NULL);
}

/* The frames the watch saw, and their range: FALSE when there were none. */
static gboolean
watched (LbJobPass * pass, GstClockTime * first, GstClockTime * last_end,
    GError ** error)
{
  LbJobWatch *w = pass->watch;
  g_mutex_lock (&w->lock);
  pass->run->frames = w->frames;
  *first = w->first;
  *last_end = w->last_end;
  g_mutex_unlock (&w->lock);
  if (pass->run->frames == 0 || !GST_CLOCK_TIME_IS_VALID (*first)) {
    g_set_error (error, LB_ERROR, LB_ERROR_UNAVAILABLE,
        "no frame in the requested range");
    return FALSE;
  }
  return TRUE;
}

/* ---- times ---- */

/* How far index times may be from the stamps: they drift by nanoseconds
 * (segment starts are chained from rounded durations).  1 ms, at most half
 * a frame. */
static GstClockTime
time_tolerance (const LbJobRun * run)
{
  GstClockTime tol = GST_MSECOND;
  if (run->fps_n > 0 && run->fps_d > 0)
    tol = MIN (tol, gst_util_uint64_scale (GST_SECOND / 2, run->fps_d,
            run->fps_n));
  return tol;
}

/* The end of a decoded clip, as the decoder and the watch clip it: a frame
 * indexed a few ns before the requested end is the frame AT the end, which
 * is excluded, so the end moves back by the tolerance, as the watch lets a
 * frame that straddles the start by less than it count as before the
 * start. */
static gint64
clip_end (const LbJobRun * run)
{
  return MAX (run->start_ns, run->end_ns - (gint64) time_tolerance (run));
}

/* Where lbrecordingsrc starts a remux: the request, or the keyframe that is
 * itself the nearest frame to it (no pre-roll at all then). */
static gint64
remux_start (const LbJobRun * run)
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
image_start (const LbJobRun * run, gint64 frame)
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

/* ---- image: lbstilldec's frame, JPEG ---- */

static gboolean
configure_image (LbJobPass * pass, GError ** error)
{
  LbJobRun *run = pass->run;
  GstElement *p = pass->pipeline;
  /* A still: the source starts at the keyframe before any frame that can
   * be the nearest (image_start()) and ends a while after the target (the
   * next frame may be the nearest one), but it stops reading as soon as no
   * later frame can be nearer (nearest-time): the decoder drains then,
   * rather than decoding frames past the target before it lets the target
   * out (frame threads hold one back each).  lbstilldec passes the nearest
   * frame alone, with its own time. */
  gint64 frame = run->fps_n > 0 && run->fps_d > 0 ?
      (gint64) gst_util_uint64_scale (GST_SECOND, run->fps_d,
      run->fps_n) : GST_SECOND / 2;
  set_i64 (p, "src", "start-time", image_start (run, frame));
  set_i64 (p, "src", "end-time", run->start_ns + MAX (GST_SECOND, 2 * frame));
  set_i64 (p, "src", "nearest-time", run->start_ns);
  set_i64 (p, "pick", "target-time", run->start_ns);
  watch (pass, "enc", FALSE, run->start_ns, clip_end (run));
  return TRUE;
}

static gboolean
finish_image (LbJobPass * pass, GError ** error)
{
  GstClockTime first, last_end;
  if (!watched (pass, &first, &last_end, error))
    return FALSE;
  gint64 t = pass->picked_ns != LB_TIME_NONE ? pass->picked_ns : (gint64) first;
  pass->run->delivered_start_ns = pass->run->delivered_end_ns = t;
  return TRUE;
}

/* ---- clips and hyperlapses that decode: the watched range ---- */

/* The source of a decoded clip: the requested range. */
static void
configure_decoded_source (LbJobPass * pass)
{
  set_i64 (pass->pipeline, "src", "start-time", pass->run->start_ns);
  set_i64 (pass->pipeline, "src", "end-time", clip_end (pass->run));
}

static gboolean
configure_transcode (LbJobPass * pass, GError ** error)
{
  configure_decoded_source (pass);
  /* the frames that reach the encoder, after clipping */
  watch (pass, "enc", TRUE, pass->run->start_ns, clip_end (pass->run));
  return TRUE;
}

/* Output size for a low-res clip: within the box, aspect kept, even. */
static void
low_res_size (const LbJobRun * run, gint * w, gint * h)
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

static gboolean
configure_low_res (LbJobPass * pass, GError ** error)
{
  gint w, h;
  low_res_size (pass->run, &w, &h);
  g_autoptr (GstElement) size = lb_pipeline_get (pass->pipeline, "size");
  if (size) {
    g_autoptr (GstCaps) caps =
        gst_caps_new_simple ("video/x-raw", "width", G_TYPE_INT, w, "height",
        G_TYPE_INT, h, "pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1, NULL);
    g_object_set (size, "caps", caps, NULL);
  }
  set_int (pass->pipeline, "enc", "bitrate", pass->run->low_res_bitrate);
  return configure_transcode (pass, error);
}

static gboolean
configure_hyperlapse (LbJobPass * pass, GError ** error)
{
  LbJobRun *run = pass->run;
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
  configure_decoded_source (pass);
  set_i64 (pass->pipeline, "lapse", "interval", interval);
  g_autofree gchar *rate = g_strdup_printf ("%d/1", fps);
  lb_pipeline_set (pass->pipeline, "lapse", "framerate", rate);
  /* the frames the hyperlapse keeps */
  watch (pass, "lapse", FALSE, run->start_ns, clip_end (run));
  return TRUE;
}

static gboolean
finish_watched (LbJobPass * pass, GError ** error)
{
  GstClockTime first, last_end;
  if (!watched (pass, &first, &last_end, error))
    return FALSE;
  pass->run->delivered_start_ns = first;
  pass->run->delivered_end_ns = last_end;
  return TRUE;
}

/* A remuxed hyperlapse plays the recorded keyframes at the output frame
 * rate: its bitrate is their mean size times that rate. */
static gboolean
hyperlapse_remux_usable (const LbJobRun * run)
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

/* ---- high-res remux: the recorded samples, trimmed by an edit list ---- */

static gboolean
configure_remux (LbJobPass * pass, GError ** error)
{
  LbJobRun *run = pass->run;
  set_i64 (pass->pipeline, "src", "start-time", remux_start (run));
  set_i64 (pass->pipeline, "src", "end-time", run->end_ns);
  g_autoptr (GstElement) mux = lb_pipeline_get (pass->pipeline, "mux");
  if (mux == NULL) {
    g_set_error (error, LB_ERROR, LB_ERROR_CONFIG,
        "template %s has no element 'mux'", pass->kind->template_name);
    return FALSE;
  }
  pass->remux = lb_remux_attach (mux, run->end_ns);
  return TRUE;
}

static gboolean
finish_remux (LbJobPass * pass, GError ** error)
{
  LbJobRun *run = pass->run;
  GstClockTime ds, de;
  guint frames;
  if (!lb_remux_finish (pass->remux, run->output_path, run->start_ns,
          run->end_ns, &ds, &de, &frames, error))
    return FALSE;
  run->delivered_start_ns = ds;
  run->delivered_end_ns = de;
  run->frames = frames;
  return TRUE;
}

/* ---- the table ---- */

/* the codecs kept as they are by the kinds that copy */
static const gchar *const copied_codecs[] = { "h264", "h265", NULL };

static const LbJobKind kinds[] = {
  {
        .template_name = "image",
        .media_type = LB_MEDIA_TYPE_IMAGE,
        .content_type = "image/jpeg",
        .extension = ".jpg",
        .stop_after = TRUE,
        .configure = configure_image,
        .finish = finish_image,
      },
  {
        .template_name = "video-high-res",
        .audio = TRUE,
        .media_type = LB_MEDIA_TYPE_VIDEO_HIGH_RES,
        .fallback = "video-high-res-transcode",
        .content_type = "video/mp4",
        .extension = ".mp4",
        .copies = copied_codecs,
        .configure = configure_remux,
        .finish = finish_remux,
      },
  {
        .template_name = "video-high-res-transcode",
        .audio = TRUE,
        .media_type = LB_MEDIA_TYPE_VIDEO_HIGH_RES,
        .content_type = "video/mp4",
        .extension = ".mp4",
        .configure = configure_transcode,
        .finish = finish_watched,
      },
  {
        .template_name = "video-low-res-remux",
        .audio = TRUE,
        .sub_stream = TRUE,
        .media_type = LB_MEDIA_TYPE_VIDEO_LOW_RES,
        .fallback = "video-low-res",
        .content_type = "video/mp4",
        .extension = ".mp4",
        .copies = copied_codecs,
        .optional = TRUE,
        .configure = configure_remux,
        .finish = finish_remux,
      },
  {
        .template_name = "video-low-res",
        .audio = TRUE,
        .media_type = LB_MEDIA_TYPE_VIDEO_LOW_RES,
        .content_type = "video/mp4",
        .extension = ".mp4",
        .configure = configure_low_res,
        .finish = finish_watched,
      },
  {
        .template_name = "hyperlapse-remux",
        .media_type = LB_MEDIA_TYPE_HYPERLAPSE,
        .fallback = "hyperlapse",
        .content_type = "video/mp4",
        .extension = ".mp4",
        .copies = copied_codecs,
        .optional = TRUE,
        .usable = hyperlapse_remux_usable,
        .configure = configure_hyperlapse,
        .finish = finish_watched,
      },
  {
        .template_name = "hyperlapse",
        .media_type = LB_MEDIA_TYPE_HYPERLAPSE,
        .content_type = "video/mp4",
        .extension = ".mp4",
        .configure = configure_hyperlapse,
        .finish = finish_watched,
      },
};

const LbJobKind *
lb_job_kinds (guint * n_kinds)
{
  g_return_val_if_fail (n_kinds != NULL, NULL);
  *n_kinds = G_N_ELEMENTS (kinds);
  return kinds;
}

const LbJobKind *
lb_job_kind_find (const gchar * template_name)
{
  for (guint i = 0; template_name && i < G_N_ELEMENTS (kinds); i++)
    if (g_str_equal (kinds[i].template_name, template_name))
      return &kinds[i];
  return NULL;
}

const LbJobKind *
lb_job_kind_for (LbMediaType media_type)
{
  for (guint i = 0; i < G_N_ELEMENTS (kinds); i++)
    if (kinds[i].media_type == media_type)
      return &kinds[i];
  g_return_val_if_reached (NULL);
}

const LbJobKind *
lb_job_kind_get_fallback (const LbJobKind * kind)
{
  g_return_val_if_fail (kind != NULL, NULL);
  return lb_job_kind_find (kind->fallback);
}

/* Whether @kind keeps @run's footage as it is: a codec it copies, and
 * H.264 only when the operator's players want nothing else. */
static gboolean
copies (const LbJobKind * kind, const LbJobRun * run)
{
  const gchar *codec = kind->sub_stream ? run->sub.codec : run->codec;
  if (codec == NULL)
    return TRUE;                /* unknown: the muxer and the fallback decide */
  if (run->copy_h264_only && !g_str_equal (codec, "h264"))
    return FALSE;
  return g_strv_contains (kind->copies, codec);
}

static gboolean
takes (const LbJobKind * kind, LbPipelines * pipelines, const LbJobRun * run)
{
  if (kind->sub_stream && run->sub.input == NULL)
    return FALSE;
  if (kind->copies && !copies (kind, run))
    return FALSE;
  /* an operator's template folder from before the kind existed */
  if (lb_pipelines_get_text (pipelines, kind->template_name) == NULL)
    return FALSE;
  return kind->usable == NULL || kind->usable (run);
}

const LbJobKind *
lb_job_kind_choose (LbPipelines * pipelines, const LbJobRun * run)
{
  g_return_val_if_fail (pipelines != NULL && run != NULL, NULL);

  const LbJobKind *kind = lb_job_kind_for (run->media_type);
  while (kind && kind->fallback && !takes (kind, pipelines, run))
    kind = lb_job_kind_get_fallback (kind);
  return kind;
}

/* ---- one pipeline of a kind ---- */

/* lbrecordingsrc's "audio" pad (footage with audio): straight into the
 * muxer, which keeps the two tracks in step by their times. */
static void
on_src_pad (GstElement * src, GstPad * pad, gpointer data)
{
  GstElement *mux = data;

  if (g_strcmp0 (GST_PAD_NAME (pad), "audio") != 0)
    return;
  g_autoptr (GstPad) sink = gst_element_request_pad_simple (mux, "audio_%u");
  if (sink == NULL || gst_pad_link (pad, sink) != GST_PAD_LINK_OK)
    GST_ELEMENT_WARNING (src, STREAM, MUX, ("The clip's muxer takes no audio "
            "from %s.", GST_ELEMENT_NAME (src)), (NULL));
}

/* Kinds that carry audio: the source adds its audio pad when the footage
 * has audio, linked to "mux" (a template without either gets none). */
static void
configure_audio (LbJobPass * pass)
{
  g_autoptr (GstElement) src = lb_pipeline_get (pass->pipeline, "src");
  g_autoptr (GstElement) mux = lb_pipeline_get (pass->pipeline, "mux");

  if (src == NULL || mux == NULL
      || !g_object_class_find_property (G_OBJECT_GET_CLASS (src), "audio"))
    return;
  g_object_set (src, "audio", TRUE, NULL);
  g_signal_connect_object (src, "pad-added", G_CALLBACK (on_src_pad), mux, 0);
}

LbJobPass *
lb_job_pass_new (LbPipelines * pipelines, LbJobRun * run,
    const LbJobKind * kind, GError ** error)
{
  g_return_val_if_fail (pipelines != NULL && run != NULL, NULL);
  g_return_val_if_fail (kind != NULL, NULL);

  LB_DEBUG_INIT (lb_job_kind_debug, "lookback-job-kind", "retrieval kinds");
  g_autoptr (LbJobPass) pass = g_new0 (LbJobPass, 1);
  pass->kind = kind;
  pass->run = run;
  pass->picked_ns = LB_TIME_NONE;
  pass->pipeline = lb_pipelines_build (pipelines, kind->template_name, error);
  if (pass->pipeline == NULL)
    return NULL;
  lb_pipeline_set (pass->pipeline, "src", "db", run->db_path);
  lb_pipeline_set (pass->pipeline, "src", "vehicle", run->vehicle);
  lb_pipeline_set (pass->pipeline, "src", "input", run->input);
  lb_pipeline_set (pass->pipeline, "sink", "location", run->output_path);
  if (kind->audio)
    configure_audio (pass);
  if (!kind->configure (pass, error))
    return NULL;
  return g_steal_pointer (&pass);
}

gboolean
lb_job_pass_finish (LbJobPass * pass, GError ** error)
{
  g_return_val_if_fail (pass != NULL, FALSE);
  gst_clear_object (&pass->pipeline);   /* nothing flows after EOS */
  return pass->kind->finish (pass, error);
}

void
lb_job_pass_free (LbJobPass * pass)
{
  if (pass == NULL)
    return;
  if (pass->pipeline)
    gst_element_set_state (pass->pipeline, GST_STATE_NULL);
  gst_clear_object (&pass->pipeline);
  g_clear_pointer (&pass->remux, lb_remux_free);
  g_clear_pointer (&pass->watch, watch_free);
  g_free (pass);
}
