/* lookback — running one retrieval's pipeline */
#include "jobs/lb-job-run.h"

#include "core/lb-debug.h"
#include "core/lb-error.h"
#include "core/lb-mux-guard.h"
#include "core/lb-time.h"
#include "jobs/lb-job-kind.h"

#include <glib/gstdio.h>

GST_DEBUG_CATEGORY_STATIC (lb_job_run_debug);
#define GST_CAT_DEFAULT lb_job_run_debug

/* The time the template's "pick" (lbstilldec, or lbframepick behind a
 * decoder) says it chose: their documented frame-time field. */
static gboolean
picked_time (GstMessage * msg, gint64 * out)
{
  const GstStructure *s = gst_message_get_structure (msg);
  guint64 t;
  if (s == NULL || !(gst_structure_has_name (s, "lbstilldec")
          || gst_structure_has_name (s, "lbframepick"))
      || !gst_structure_get_uint64 (s, "frame-time", &t))
    return FALSE;
  *out = (gint64) t;
  return TRUE;
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

/* ---- a still's pipeline stopped off the job's path ---- */

/* At EOS a still's file is whole (filesink flushes it at EOS): the row
 * can be handed over at once, while one thread here stops the pipeline
 * (joins the decoder's threads, frees its frames, closes the files).  At
 * most RETIRE_MAX pipelines wait for it; past that a job stops its own. */
#define RETIRE_MAX 2

static GMutex retire_lock;
static GCond retire_cond;
static guint retire_pending;    /* protected by retire_lock */
static GThreadPool *retire_pool;        /* protected by retire_lock */

static void
retire_one (gpointer data, gpointer user_data)
{
  GstElement *p = data;

  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (p);
  g_mutex_lock (&retire_lock);
  retire_pending--;
  g_cond_broadcast (&retire_cond);
  g_mutex_unlock (&retire_lock);
}

/* Stops @p, now or (@later) on the retiring thread when it has room. */
static void
stop_pipeline (GstElement * p, gboolean later)
{
  gboolean room = FALSE;

  if (later) {
    g_mutex_lock (&retire_lock);
    if (retire_pool == NULL)
      retire_pool = g_thread_pool_new (retire_one, NULL, 1, FALSE, NULL);
    room = retire_pending < RETIRE_MAX;
    if (room)
      retire_pending++;
    g_mutex_unlock (&retire_lock);
  }
  if (room)
    g_thread_pool_push (retire_pool, gst_object_ref (p), NULL);
  else
    gst_element_set_state (p, GST_STATE_NULL);
}

void
lb_job_run_drain (void)
{
  g_mutex_lock (&retire_lock);
  while (retire_pending > 0)
    g_cond_wait (&retire_cond, &retire_lock);
  g_mutex_unlock (&retire_lock);
}

/* An error (the posting thread, before a failed source sends its EOS):
 * the muxer @data is told not to finalise its file (lb-mux-guard.h). */
static GstBusSyncReply
on_bus_sync (GstBus * bus, GstMessage * m, gpointer data)
{
  if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR)
    lb_mux_guard_failed (data);
  return GST_BUS_PASS;
}

/* Runs @pass's pipeline to EOS on this thread; progress from the
 * position. */
static gboolean
run_pipeline (LbJobPass * pass, GError ** error)
{
  GstElement *p = pass->pipeline;
  LbJobRun *run = pass->run;
  g_autoptr (GstBus) bus = gst_element_get_bus (p);
  gboolean ok = FALSE, done = FALSE;
  gint64 span = MAX (run->end_ns - run->start_ns, 1);
  GstElement *mux = lb_pipeline_get (p, "mux");

  if (mux)
    gst_bus_set_sync_handler (bus, on_bus_sync, mux, gst_object_unref);
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
    gst_bus_set_sync_handler (bus, NULL, NULL, NULL);
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
          picked_time (m, &pass->picked_ns);
        break;
      }
      default:
        break;
    }
  }
  gst_bus_set_sync_handler (bus, NULL, NULL, NULL);
  stop_pipeline (p, ok && pass->kind->stop_after);
  return ok;
}

/* Runs @kind on @run: its pipeline to EOS, then its finish. */
static gboolean
run_pass (LbPipelines * pipelines, LbJobRun * run, const LbJobKind * kind,
    GError ** error)
{
  g_autoptr (LbJobPass) pass = lb_job_pass_new (pipelines, run, kind, error);
  return pass && run_pipeline (pass, error)
      && lb_job_pass_finish (pass, error);
}

/* @run as its sub-stream's footage gives it (kinds that read it). */
static LbJobRun
on_sub_stream (const LbJobRun * run)
{
  LbJobRun sub = *run;

  sub.input = run->sub.input;
  sub.codec = run->sub.codec;
  sub.width = run->sub.width;
  sub.height = run->sub.height;
  sub.fps_n = run->sub.fps_n;
  sub.fps_d = run->sub.fps_d;
  sub.keyframes_ns = run->sub.keyframes_ns;
  sub.keyframe_bytes = run->sub.keyframe_bytes;
  return sub;
}

/* Runs @kind (on the sub-stream when it reads it). */
static gboolean
run_kind (LbPipelines * pipelines, LbJobRun * run, const LbJobKind * kind,
    GError ** error)
{
  if (kind->sub_stream) {
    LbJobRun sub = on_sub_stream (run);
    if (!run_pass (pipelines, &sub, kind, error))
      return FALSE;
    run->delivered_start_ns = sub.delivered_start_ns;
    run->delivered_end_ns = sub.delivered_end_ns;
    run->frames = sub.frames;
  } else if (!run_pass (pipelines, run, kind, error)) {
    return FALSE;
  }
  run->template_used = kind->template_name;
  run->sub_stream_used = kind->sub_stream;
  return TRUE;
}

/* The pipeline refused the footage as it is (e.g. the pre-roll cannot be
 * hidden, or the codec data changes between two segments): the kind's
 * fallback may take it. */
static gboolean
refused (LbJobRun * run, const GError * err)
{
  return (g_error_matches (err, LB_ERROR, LB_ERROR_INVALID) ||
      g_error_matches (err, LB_ERROR, LB_ERROR_FAILED)) &&
      !(run->cancellable && g_cancellable_is_cancelled (run->cancellable));
}

gboolean
lb_job_run (LbPipelines * pipelines, LbJobRun * run, GError ** error)
{
  g_return_val_if_fail (pipelines != NULL && run != NULL, FALSE);
  g_return_val_if_fail (run->output_path != NULL, FALSE);

  LB_DEBUG_INIT (lb_job_run_debug, "lookback-job", "retrieval job runner");
  const LbJobKind *kind = lb_job_kind_choose (pipelines, run);
  const LbJobKind *fallback = lb_job_kind_get_fallback (kind);
  g_autoptr (GError) err = NULL;

  run->content_type = kind->content_type;
  gboolean ok = run_kind (pipelines, run, kind, &err);
  if (!ok && fallback && refused (run, err)) {
    GST_INFO ("%s: %s; %s instead", kind->template_name, err->message,
        fallback->template_name);
    g_clear_error (&err);
    ok = run_kind (pipelines, run, fallback, &err);
  }
  if (!ok) {
    g_unlink (run->output_path);
    g_propagate_error (error, g_steal_pointer (&err));
    return FALSE;
  }
  if (run->progress)
    run->progress (1.0, run->progress_data);
  GST_INFO ("%s %s/%s: %u frames, %" G_GINT64_FORMAT "..%" G_GINT64_FORMAT
      " → %s", lb_media_type_to_string (run->media_type), run->vehicle,
      run->input, run->frames, run->delivered_start_ns, run->delivered_end_ns,
      run->output_path);
  return TRUE;
}
