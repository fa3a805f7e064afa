/* lookback — the recorder: capture pipelines, indexing thread, retries */
#include "config.h"

#include "recorder/lb-recorder.h"

#include "core/lb-codec.h"
#include "core/lb-debug.h"
#include "core/lb-disk.h"
#include "core/lb-error.h"
#include "core/lb-log.h"
#include "core/lb-metrics.h"
#include "core/lb-time.h"
#include "recorder/lb-indexer.h"
#include "recorder/lb-segment-writer.h"
#include "recorder/lb-timeline.h"
#include "store/lb-store-footage.h"

#include <glib/gstdio.h>
#include <string.h>

GST_DEBUG_CATEGORY_STATIC (lb_recorder_debug);
#define GST_CAT_DEFAULT lb_recorder_debug

/* A pipeline that delivers no video for this long is treated as a camera
 * that dropped; one that has not delivered any after START_TIMEOUT too. */
#define STALL_TIMEOUT_S 5
#define START_TIMEOUT_S 15
/* Longest wait for splitmuxsink to close the open file after EOS. */
#define DRAIN_TIMEOUT_MS 5000
/* With audio=true, how long a new pipeline's video waits for the audio
 * stream before it is recorded alone (audio_settled). */
#define AUDIO_WAIT_US (3 * G_USEC_PER_SEC)
/* After a full disk, recording starts again once the store's file system
 * has this much free space (retention or the operator freed it). */
#define DISK_RESUME_BYTES (8 * 1024 * 1024)
#define INDEX_PERIOD_US G_USEC_PER_SEC

/* Templates of the codecs recorded as they come (lb-codec.h): at most. */
#define MAX_COPIED 4

/* ------------------------------------------------------------------------ */
/* The indexing thread: owns every LbIndexer; all fsync and SQLite work of
 * the recorder happens here. */

typedef enum
{
  TASK_OPEN,
  TASK_CLOSE,
  TASK_BARRIER,                 /* calls back on the main context once reached */
  TASK_RETIME,                  /* the clock is synchronised: re-time footage */
  TASK_QUIT,
} TaskKind;

typedef struct
{
  TaskKind kind;
  gchar *vehicle, *input, *path;
  LbSegmentTiming timing;       /* TASK_OPEN, TASK_CLOSE; TASK_RETIME: anchor */
  GSourceFunc callback;         /* TASK_BARRIER */
  gpointer user_data;
} Task;

/* An epoch not looked up yet (OpenFile.epoch). */
#define EPOCH_UNKNOWN (-1)

typedef struct
{
  gchar *vehicle, *input, *path;
  gchar *key;                   /* "vehicle/input": the timeline's name */
  LbSegmentTiming timing;
  gint64 epoch;                 /* its clock epoch: 0 when synchronised,
                                 * EPOCH_UNKNOWN until looked up */
  LbIndexer *indexer;           /* NULL until lb_indexer_new succeeds */
  gboolean closing;             /* closed by the writer; its final indexing
                                 * failed for a while (full disk, busy store)
                                 * and is tried again at every tick */
  gboolean warned;              /* an indexing failure was logged */
} OpenFile;

static void
task_free (Task * t)
{
  g_free (t->vehicle);
  g_free (t->input);
  g_free (t->path);
  g_free (t);
}

static void
open_file_free (gpointer p)
{
  OpenFile *f = p;
  g_clear_pointer (&f->indexer, lb_indexer_free);
  g_free (f->key);
  g_free (f->vehicle);
  g_free (f->input);
  g_free (f->path);
  g_free (f);
}

/* ------------------------------------------------------------------------ */

typedef enum
{
  IN_IDLE,                      /* not running (stopped) */
  IN_RUNNING,                   /* pipeline playing */
  IN_DRAINING,                  /* EOS sent, waiting for the open file to close */
  IN_WAITING,                   /* waiting to retry */
} InState;

typedef struct
{
  LbRecorder *rec;
  gchar *vehicle, *input, *source;
  const gchar *source_key;      /* its config key: "source", "sub-source" */
  gchar *name;                  /* "vehicle/input", for logs */
  InState state;
  GstElement *pipeline;
  LbSegmentWriter *writer;      /* writes the segments; its sink is in pipeline */
  GstPad *sink_pad;             /* its video request pad (ref) */
  guint bus_watch;
  guint retry_id;
  guint drain_id;
  gboolean retry_after_drain;
  gint64 backoff_ns;
  gchar *open_path;             /* file being written, main thread */
  gint64 started_s;             /* monotonic seconds at pipeline start */
  gint last_data_s;             /* atomic: monotonic seconds of the last buffer */
  gint64 last_end_pts;          /* atomic (__atomic): PTS + duration of the
                                 * last buffer to the segment sink */
  gint linked;                  /* atomic: the video branch is linked */
  gboolean audio;               /* record its audio (audio=true) */
  gint audio_linked;            /* atomic: the audio branch is linked */
  gint audio_ready;             /* atomic: … and has its segment sink pad */
  gint maybe_audio;             /* atomic: the source added a pad that is or
                                 * may carry audio (not video RTP of
                                 * lb-codec.h) */
  gint no_audio;                /* atomic: the source added all its pads,
                                 * none of them audio: nothing to wait for */
  gint64 first_video_us;        /* streaming thread: monotonic time of the
                                 * first video buffer of this pipeline */
  gboolean audio_waited;        /* streaming thread: gave up waiting */
  guint64 bytes, frames;        /* atomic (__atomic): recorded, for metrics */
  gint gaps;                    /* atomic: outages after recording began */
  gint connected;               /* atomic: video flows (live, for metrics) */
  gboolean seen_key;            /* streaming thread: a keyframe reached the sink */
  gboolean sink_eos;            /* the segment sink posted EOS (main thread) */
  /* main thread: what the operator was told */
  gboolean live;                /* video flows since the last start */
  gboolean warned;              /* the current outage was logged */
  gint64 lost_ns;               /* wall clock when it stopped recording, 0 */
  gboolean held;                /* its files go after its footage, not where
                                 * the clock says (lb-timeline.h) */
  gboolean disk_full;           /* stopped by a full disk: waits for space */
  gboolean outage_disk;         /* the current outage began with a full disk */
  gint64 retry_at_us;           /* disk_full: monotonic time of the next try */
} RecInput;

struct _LbRecorder
{
  LbConfig *config;             /* not owned */
  LbStore *store;               /* not owned */
  GMainContext *context;
  gchar *store_dir;
  gint64 segment_ns, fragment_ns, retry_min_ns, retry_max_ns;
  gchar *tpl_source, *tpl_encode;
  gchar *tpl_copy[MAX_COPIED];  /* record-<codec>.pipeline of lb_codecs () */
  gchar *tpl_audio_copy[MAX_COPIED];    /* record-<codec>.pipeline of
                                         * lb_audio_codecs () */
  gchar *tpl_audio_encode;
  GstClock *clock;              /* the pipelines' (monotonic) */
  LbClock *wall;                /* the wall clock and its sync status */
  LbClock *own_wall;            /* wall when the recorder made it */
  LbTimeline *timeline;         /* from start on */
  GPtrArray *inputs;            /* RecInput* */
  gint created_s;               /* monotonic seconds at start */
  guint watchdog_id;
  gboolean started;
  gboolean stopping;
  GPtrArray *done_cbs;          /* DoneCb*, main thread */

  GThread *index_thread;
  GAsyncQueue *tasks;           /* Task* to the indexing thread */
  GHashTable *open_files;       /* path → OpenFile*; indexing thread only */
  GHashTable *epochs;           /* anchor → clock epoch (gint64); indexing
                                 * thread only */
  gint closed;                  /* atomic */
};

typedef struct
{
  LbRecorderDoneFunc func;
  gpointer user_data;
} DoneCb;

static void start_input (RecInput * in);
static void drain_input (RecInput * in, gboolean retry, const gchar * why);
static void check_stopped (LbRecorder * rec);
static void collect_metrics (gpointer data);

/* --- indexing thread ---------------------------------------------------- */

/* An indexing failure of @f reaches the operator once per file. */
static void
index_warn (OpenFile * f, const gchar * what, const GError * error)
{
  if (f->warned) {
    GST_DEBUG ("%s: %s: %s", f->path, what, error->message);
    return;
  }
  f->warned = TRUE;
  lb_log (LB_LOG_WARNING, LB_LOG_CTX (.vehicle = f->vehicle,.input =
          f->input), "segment %s: %s: %s", f->path, what, error->message);
}

/* The clock epoch of @f: 0 when it is timed by the synchronised clock,
 * else the store's epoch of its anchor (one row per anchor, remembered). */
static gboolean
resolve_epoch (LbRecorder * rec, OpenFile * f, GError ** error)
{
  if (f->epoch != EPOCH_UNKNOWN)
    return TRUE;
  if (f->timing.synced) {
    f->epoch = 0;
    return TRUE;
  }
  gint64 *known = g_hash_table_lookup (rec->epochs,
      &f->timing.epoch_anchor_ns);
  if (known) {
    f->epoch = known[1];
    return TRUE;
  }
  gint64 id = lb_store_clock_epoch (rec->store,
      lb_timeline_get_boot_id (rec->timeline), f->timing.epoch_anchor_ns,
      error);
  if (id == 0)
    return FALSE;
  gint64 *entry = g_new (gint64, 2);
  entry[0] = f->timing.epoch_anchor_ns;
  entry[1] = id;
  g_hash_table_insert (rec->epochs, entry, entry);
  f->epoch = id;
  return TRUE;
}

static gboolean
ensure_indexer (LbRecorder * rec, OpenFile * f, gboolean quiet)
{
  g_autoptr (GError) error = NULL;

  if (f->indexer)
    return TRUE;
  if (resolve_epoch (rec, f, &error))
    f->indexer =
        lb_indexer_new (rec->store, f->vehicle, f->input, f->path,
        f->timing.start_ns, &error);
  if (f->indexer)
    lb_indexer_retime (f->indexer, 0, f->epoch);
  else {
    if (quiet && g_error_matches (error, LB_ERROR, LB_ERROR_NOT_YET))
      GST_DEBUG ("%s: not indexable yet: %s", f->path, error->message);
    else
      index_warn (f, "cannot index", error);
  }
  return f->indexer != NULL;
}

/* The file is complete: its last rows and the segment row's close.  FALSE
 * while that has to be tried again (a full disk or a busy store); a file
 * that holds nothing decodable is removed. */
static gboolean
index_finish (LbRecorder * rec, OpenFile * f)
{
  g_autoptr (GError) error = NULL;

  if (!ensure_indexer (rec, f, FALSE))
    return TRUE;
  if (!lb_indexer_finish (f->indexer, &error)) {
    gboolean again = g_error_matches (error, LB_ERROR, LB_ERROR_IO)
        || g_error_matches (error, LB_ERROR, LB_ERROR_BUSY);
    index_warn (f, again ? "final indexing failed, tried again every second"
        : "final indexing failed", error);
    return !again;
  }
  if (lb_indexer_get_segment_id (f->indexer) == 0) {
    /* Not one whole fragment with a keyframe (the camera or the disk gave
     * up at once): nothing in it can be decoded. */
    GST_INFO ("%s: nothing to index, removed", f->path);
    g_unlink (f->path);
  } else {
    GST_INFO ("%s: closed and indexed", f->path);
    if (f->warned)
      lb_log (LB_LOG_INFO, LB_LOG_CTX (.vehicle = f->vehicle,.input =
              f->input), "segment %s: closed and indexed", f->path);
  }
  return TRUE;
}

/* The files being written are indexed together: their rows in one
 * transaction (lb_indexer_update_all()). */
static void
index_update_all (LbRecorder * rec)
{
  GHashTableIter it;
  gpointer value;
  g_autoptr (GPtrArray) files = g_ptr_array_new ();
  g_autoptr (GPtrArray) indexers = g_ptr_array_new ();

  g_hash_table_iter_init (&it, rec->open_files);
  while (g_hash_table_iter_next (&it, NULL, &value)) {
    OpenFile *f = value;
    if (f->closing) {
      if (index_finish (rec, f))
        g_hash_table_iter_remove (&it);
    } else if (ensure_indexer (rec, f, TRUE)) {
      g_ptr_array_add (files, f);
      g_ptr_array_add (indexers, f->indexer);
    }
  }
  g_autofree GError **errors = g_new0 (GError *, files->len + 1);
  lb_indexer_update_all ((LbIndexer **) indexers->pdata, indexers->len, errors);
  for (guint i = 0; i < files->len; i++) {
    if (errors[i] && !g_error_matches (errors[i], LB_ERROR, LB_ERROR_NOT_YET))
      index_warn (files->pdata[i], "index update failed", errors[i]);
    g_clear_error (&errors[i]);
  }
}

/* The file of @t (TASK_OPEN, TASK_CLOSE), known to the indexing thread
 * from now on; timed anew when its anchor was re-timed since it opened. */
static OpenFile *
open_file_add (LbRecorder * rec, Task * t)
{
  OpenFile *f = g_new0 (OpenFile, 1);

  f->vehicle = g_steal_pointer (&t->vehicle);
  f->input = g_steal_pointer (&t->input);
  f->path = g_steal_pointer (&t->path);
  f->key = g_strdup_printf ("%s/%s", f->vehicle, f->input);
  f->timing = t->timing;
  lb_timeline_resolve (rec->timeline, f->key, &f->timing);
  f->epoch = EPOCH_UNKNOWN;
  g_hash_table_replace (rec->open_files, f->path, f);
  return f;
}

static void
index_close (LbRecorder * rec, Task * t)
{
  OpenFile *f = g_hash_table_lookup (rec->open_files, t->path);

  if (f == NULL)
    f = open_file_add (rec, t);
  f->closing = TRUE;
  if (index_finish (rec, f))
    g_hash_table_remove (rec->open_files, f->path);
  g_atomic_int_inc (&rec->closed);
}

/* @f, timed in an unsynchronised epoch, moves by @delta_ns to the
 * synchronised @anchor_ns. */
static void
shift_open_file (LbRecorder * rec, OpenFile * f, gint64 anchor_ns,
    gint64 delta_ns)
{
  lb_timeline_retimed (rec->timeline, f->key, f->timing.epoch_anchor_ns,
      anchor_ns);
  f->timing.start_ns += delta_ns;
  f->timing.anchor_ns += delta_ns;
  f->timing.epoch_anchor_ns = anchor_ns;
  f->timing.synced = TRUE;
  f->epoch = 0;
  if (f->indexer)
    lb_indexer_retime (f->indexer, delta_ns, 0);
}

/* Whether the footage of @f's input and epoch moved (a group of
 * @groups), and if it has no group (no row yet), whether it can move: its
 * new start is not before the input's indexed footage ends. */
static gboolean
open_file_moves (LbRecorder * rec, OpenFile * f, GPtrArray * groups,
    gint64 delta_ns)
{
  for (guint i = 0; i < groups->len; i++) {
    const LbFootageRetime *g = g_ptr_array_index (groups, i);
    if (g->epoch == f->epoch && g_str_equal (g->vehicle, f->vehicle)
        && g_str_equal (g->input, f->input))
      return g->moved;
  }
  gint64 last = LB_TIME_NONE;
  return lb_store_footage_extent (rec->store, f->vehicle, f->input, NULL,
      &last, NULL) && (last == LB_TIME_NONE
      || f->timing.start_ns + delta_ns >= last);
}

/* The clock is synchronised, its anchor @anchor_ns: the footage recorded
 * before moves to its true time (lb_store_footage_retime()), the files
 * being written with it. */
static void
retime_footage (LbRecorder * rec, gint64 anchor_ns)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) groups = NULL;

  index_update_all (rec);       /* rows for all that is on disk */
  if (!lb_store_footage_retime (rec->store,
          lb_timeline_get_boot_id (rec->timeline), anchor_ns, &groups,
          &error)) {
    lb_log (LB_LOG_ERROR, NULL, "footage recorded before the clock was "
        "synchronised could not be re-timed: %s; it stays marked",
        error->message);
    return;
  }
  for (guint i = 0; i < groups->len; i++) {
    const LbFootageRetime *g = g_ptr_array_index (groups, i);
    g_autofree gchar *key = g_strdup_printf ("%s/%s", g->vehicle, g->input);
    if (g->moved)
      lb_timeline_retimed (rec->timeline, key, anchor_ns - g->delta_ns,
          anchor_ns);
    lb_timeline_log_retime (g);
  }
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init (&it, rec->open_files);
  while (g_hash_table_iter_next (&it, NULL, &value)) {
    OpenFile *f = value;
    gint64 delta = anchor_ns - f->timing.epoch_anchor_ns;
    if (!f->timing.synced && resolve_epoch (rec, f, NULL)
        && open_file_moves (rec, f, groups, delta))
      shift_open_file (rec, f, anchor_ns, delta);
  }
}

static gpointer
index_thread_main (gpointer data)
{
  LbRecorder *rec = data;
  gint64 next_tick = g_get_monotonic_time () + INDEX_PERIOD_US;

  for (;;) {
    gint64 now = g_get_monotonic_time ();
    Task *t = now < next_tick ? g_async_queue_timeout_pop (rec->tasks,
        next_tick - now)
        : g_async_queue_try_pop (rec->tasks);

    if (t == NULL) {
      index_update_all (rec);
      next_tick = g_get_monotonic_time () + INDEX_PERIOD_US;
      continue;
    }
    switch (t->kind) {
      case TASK_OPEN:
        ensure_indexer (rec, open_file_add (rec, t), TRUE);
        break;
      case TASK_CLOSE:
        index_close (rec, t);
        break;
      case TASK_RETIME:
        retime_footage (rec, t->timing.epoch_anchor_ns);
        break;
      case TASK_BARRIER:
        g_main_context_invoke (rec->context, t->callback, t->user_data);
        break;
      case TASK_QUIT:{
        /* Files still open are left as they are: the next start's
         * reconcile recovers their last fragment and indexes them. */
        index_update_all (rec);
        task_free (t);
        return NULL;
      }
    }
    task_free (t);
  }
}

static void
push_task (LbRecorder * rec, TaskKind kind, RecInput * in, const gchar * path,
    const LbSegmentTiming * timing)
{
  Task *t = g_new0 (Task, 1);

  t->kind = kind;
  if (in) {
    t->vehicle = g_strdup (in->vehicle);
    t->input = g_strdup (in->input);
  }
  t->path = g_strdup (path);
  if (timing)
    t->timing = *timing;
  g_async_queue_push (rec->tasks, t);
}

/* --- templates ---------------------------------------------------------- */

static gchar *
read_template (const gchar * name, GError ** error)
{
  g_autofree gchar *installed = g_build_filename (LB_PIPELINES_DIR, name, NULL);
  g_autofree gchar *source =
      g_build_filename (LB_SOURCE_PIPELINES_DIR, name, NULL);
  const gchar *path =
      g_file_test (source, G_FILE_TEST_EXISTS) ? source : installed;
  gchar *text = NULL;
  g_autoptr (GError) err = NULL;

  if (!g_file_get_contents (path, &text, NULL, &err)) {
    g_set_error (error, LB_ERROR, LB_ERROR_CONFIG, "pipeline template %s: %s",
        path, err->message);
    return NULL;
  }
  return g_strstrip (text);
}

gchar *
lb_recorder_read_template (const gchar * name, GError ** error)
{
  g_return_val_if_fail (name != NULL, NULL);
  return read_template (name, error);
}

/* --- one input ---------------------------------------------------------- */

static void
teardown_pipeline (RecInput * in)
{
  if (in->drain_id) {
    g_source_remove (in->drain_id);
    in->drain_id = 0;
  }
  if (in->bus_watch) {
    g_source_remove (in->bus_watch);
    in->bus_watch = 0;
  }
  if (in->pipeline) {
    lb_recorder_release_dropped (in->pipeline);
    gst_element_set_state (in->pipeline, GST_STATE_NULL);
    gst_clear_object (&in->sink_pad);
    gst_clear_object (&in->pipeline);
  }
  g_clear_pointer (&in->writer, lb_segment_writer_free);
  g_atomic_int_set (&in->linked, 0);
  g_atomic_int_set (&in->audio_linked, 0);
  g_atomic_int_set (&in->audio_ready, 0);
  g_atomic_int_set (&in->maybe_audio, 0);
  g_atomic_int_set (&in->no_audio, 0);
}

static gboolean
on_retry (gpointer data)
{
  RecInput *in = data;

  in->retry_id = 0;
  if (in->rec->stopping)
    return G_SOURCE_REMOVE;
  start_input (in);
  return G_SOURCE_REMOVE;
}

static void
schedule_retry (RecInput * in)
{
  LbRecorder *rec = in->rec;
  guint ms = (guint) (in->backoff_ns / GST_MSECOND);

  in->state = IN_WAITING;
  if (in->disk_full) {
    /* on_watchdog starts it once there is space again */
    in->retry_at_us = g_get_monotonic_time () + in->backoff_ns / 1000;
    GST_INFO ("%s: waiting for free space, at least %u ms", in->name, ms);
  } else {
    GST_INFO ("%s: retrying in %u ms", in->name, ms);
    in->retry_id =
        g_timeout_add_full (G_PRIORITY_DEFAULT, MAX (ms, 1), on_retry, in,
        NULL);
  }
  in->backoff_ns = MIN (in->backoff_ns * 2, rec->retry_max_ns);
}

/* The timeline learns where the input's footage ends (its last buffer), so
 * that its next capture never starts before it. */
static void
note_stopped (RecInput * in)
{
  gint64 pts_end = __atomic_load_n (&in->last_end_pts, __ATOMIC_RELAXED);
  GstEvent *ev = in->sink_pad ? gst_pad_get_sticky_event (in->sink_pad,
      GST_EVENT_SEGMENT, 0) : NULL;
  const GstSegment *seg = NULL;
  guint64 running = 0;

  if (ev)
    gst_event_parse_segment (ev, &seg);
  if (seg && seg->format == GST_FORMAT_TIME && pts_end > 0
      && gst_segment_to_running_time_full (seg, GST_FORMAT_TIME, pts_end,
          &running) > 0)
    lb_timeline_stopped (in->rec->timeline, in->name,
        (gint64) gst_element_get_base_time (in->pipeline) + (gint64) running);
  if (ev)
    gst_event_unref (ev);
}

/* The drain is over (file closed, or given up): index what is left, tear
 * the pipeline down, then retry or report stopped. */
static void
finish_drain (RecInput * in)
{
  LbRecorder *rec = in->rec;

  /* Files splitmuxsink did not close in time: index them to their last
   * complete fragment all the same, once nothing writes them any more. */
  g_auto (GStrv) open =
      in->writer ? lb_segment_writer_list_open (in->writer) : NULL;
  g_autofree LbSegmentTiming *timings = g_new0 (LbSegmentTiming,
      open ? g_strv_length (open) : 0);
  for (guint i = 0; open && open[i]; i++)
    lb_segment_writer_get_timing (in->writer, open[i], &timings[i]);
  note_stopped (in);
  g_clear_pointer (&in->open_path, g_free);
  teardown_pipeline (in);
  for (guint i = 0; open && open[i]; i++) {
    lb_log (LB_LOG_WARNING, LB_LOG_CTX (.vehicle = in->vehicle,.input =
            in->input), "segment %s was not closed cleanly: it is indexed "
        "to its last complete fragment", open[i]);
    push_task (rec, TASK_CLOSE, in, open[i], &timings[i]);
  }
  if (in->retry_after_drain && !rec->stopping) {
    schedule_retry (in);
  } else {
    in->state = IN_IDLE;
    check_stopped (rec);
  }
}

static gboolean
on_drain_timeout (gpointer data)
{
  RecInput *in = data;

  in->drain_id = 0;
  lb_log (LB_LOG_WARNING, LB_LOG_CTX (.vehicle = in->vehicle,.input =
          in->input), "the open segment did not close within %d ms",
      DRAIN_TIMEOUT_MS);
  finish_drain (in);
  return G_SOURCE_REMOVE;
}

static gboolean
send_eos_to_pad (GstElement * sink, GstPad * pad, gpointer data)
{
  gst_pad_send_event (pad, gst_event_new_eos ());
  return TRUE;
}

/* EOS on every pad of the segment sink (video, and audio when recorded). */
static void
send_eos_to_sink (GstElement * pipeline, gpointer data)
{
  gst_element_foreach_sink_pad (data, send_eos_to_pad, NULL);
}

/* The drain is over when the segment sink has taken the EOS (it posts its
 * own) and closed every file it opened (in async-finalize mode the next
 * file can open while the previous one closes). */
static gboolean
drain_done (RecInput * in)
{
  return in->writer == NULL || (in->sink_eos
      && lb_segment_writer_count_open (in->writer) == 0);
}

/* The input stopped recording (camera lost, full disk, failed start): one
 * line per outage, not one per retry. */
static void
report_lost (RecInput * in, const gchar * why)
{
  const LbLogContext *ctx = LB_LOG_CTX (.vehicle = in->vehicle,.input =
      in->input);

  g_autofree gchar *every = lb_time_format_duration (in->rec->retry_max_ns);

  if (in->live) {
    in->lost_ns = lb_time_now ();
    g_atomic_int_inc (&in->gaps);
  }
  in->live = FALSE;
  g_atomic_int_set (&in->connected, FALSE);
  if (in->warned)
    return;
  in->warned = TRUE;
  in->outage_disk = in->disk_full;
  if (in->disk_full)
    lb_log (LB_LOG_ERROR, ctx, "disk full: recording stopped, the open "
        "segment is closed; it resumes by itself once space is freed");
  else if (in->lost_ns)
    lb_log (LB_LOG_WARNING, ctx, "camera lost (%s): the open segment is "
        "closed; retrying with a backoff of up to %s", why, every);
  else
    lb_log (LB_LOG_WARNING, ctx, "camera not recording (%s); retrying with a "
        "backoff of up to %s", why, every);
}

/* Video flows again (main thread, from the watchdog). */
static void
report_live (RecInput * in)
{
  const LbLogContext *ctx = LB_LOG_CTX (.vehicle = in->vehicle,.input =
      in->input);

  in->live = TRUE;
  g_atomic_int_set (&in->connected, TRUE);
  in->warned = FALSE;
  if (in->lost_ns == 0) {
    lb_log (LB_LOG_INFO, ctx, "camera connected: recording");
    return;
  }
  g_autofree gchar *gap = lb_time_format_duration (lb_time_now () -
      in->lost_ns);
  lb_log (LB_LOG_INFO, ctx, "%s: recording again after a gap of %s",
      in->outage_disk ? "disk space back" : "camera back", gap);
  in->lost_ns = 0;
}

static void
drain_input (RecInput * in, gboolean retry, const gchar * why)
{
  if (in->state != IN_RUNNING)
    return;
  GST_INFO ("%s: stopping (%s)", in->name, why);
  if (retry)
    report_lost (in, why);
  in->state = IN_DRAINING;
  in->retry_after_drain = retry;
  if (in->sink_pad == NULL || drain_done (in) ||
      (g_atomic_int_get (&in->last_data_s) == 0 &&
          lb_segment_writer_count_open (in->writer) == 0)) {
    finish_drain (in);
    return;
  }
  /* EOS straight into the segment sink: it closes the file whatever the
   * state of the source.  From a pool thread, as it takes the pad's stream
   * lock. */
  gst_element_call_async (in->pipeline, send_eos_to_sink,
      gst_object_ref (lb_segment_writer_get_sink (in->writer)),
      gst_object_unref);
  in->drain_id = g_timeout_add (DRAIN_TIMEOUT_MS, on_drain_timeout, in);
}

/* A held input (lb-timeline.h) tells the operator when it starts and stops
 * being held. */
static void
report_held (RecInput * in, const LbSegmentTiming * timing)
{
  if (timing->held == in->held)
    return;
  in->held = timing->held;
  lb_timeline_log_held (in->vehicle, in->input, timing->held,
      timing->anchor_ns - lb_timeline_get_anchor (in->rec->timeline, NULL));
}

static void
on_segment_event (RecInput * in, LbSegmentEvent ev, const gchar * path)
{
  LbRecorder *rec = in->rec;
  LbSegmentTiming timing = { 0 };

  if (ev == LB_SEGMENT_EVENT_OPENED) {
    lb_segment_writer_get_timing (in->writer, path, &timing);
    report_held (in, &timing);
    if (in->open_path) {
      /* splitmuxsink announces the next file before closing the previous
       * one in async-finalize mode; the close comes with its own message. */
      GST_DEBUG ("%s: %s opened while %s open", in->name, path, in->open_path);
    }
    g_free (in->open_path);
    in->open_path = g_strdup (path);
    in->backoff_ns = rec->retry_min_ns;
    GST_INFO ("%s: recording %s", in->name, path);
    push_task (rec, TASK_OPEN, in, path, &timing);
  } else if (ev == LB_SEGMENT_EVENT_CLOSED) {
    push_task (rec, TASK_CLOSE, in, path, NULL);
    if (g_strcmp0 (in->open_path, path) == 0)
      g_clear_pointer (&in->open_path, g_free);
    if (in->state == IN_DRAINING && drain_done (in))
      finish_drain (in);
  }
}

/* An error while the store's disk is (nearly) full is the disk's doing,
 * whatever element saw it first. */
static gboolean
disk_is_full (LbRecorder * rec)
{
  gint64 free_b = 0;
  return lb_disk_space (rec->store_dir, &free_b, NULL, NULL)
      && free_b < DISK_RESUME_BYTES;
}

/* What an operator reads about a pipeline error: GStreamer's message and,
 * when its debug text ends in a line of its own ("Failed to connect."),
 * that line. */
static gchar *
error_reason (const GError * err, const gchar * dbg)
{
  const gchar *detail = dbg ? strrchr (dbg, '\n') : NULL;

  if (detail == NULL || detail[1] == '\0')
    return g_strdup (err->message);
  return g_strdup_printf ("%s %s", err->message, detail + 1);
}

static gboolean
on_bus (GstBus * bus, GstMessage * msg, gpointer data)
{
  RecInput *in = data;
  g_autofree gchar *path = NULL;
  LbSegmentEvent ev;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ELEMENT:{
      const GstStructure *st = gst_message_get_structure (msg);
      GstMessage *inner = NULL;
      /* The pipeline forwards its children's messages (message-forward):
       * the segment sink's own EOS says it has finished. */
      if (st && gst_structure_has_name (st, "GstBinForwarded") &&
          gst_structure_get (st, "message", GST_TYPE_MESSAGE, &inner, NULL)) {
        if (GST_MESSAGE_TYPE (inner) == GST_MESSAGE_EOS &&
            GST_MESSAGE_SRC (inner) ==
            GST_OBJECT (lb_segment_writer_get_sink (in->writer))) {
          in->sink_eos = TRUE;
          if (in->state == IN_DRAINING && drain_done (in))
            finish_drain (in);
        }
        gst_message_unref (inner);
        break;
      }
      ev = lb_segment_writer_parse_message (in->writer, msg, &path, NULL);
      if (ev != LB_SEGMENT_EVENT_NONE)
        on_segment_event (in, ev, path);
      break;
    }
    case GST_MESSAGE_ASYNC_DONE:
      /* splitmuxsink completes its first state change asynchronously, when
       * its first file opens; a PLAYING asked for meanwhile can be lost:
       * ask again. */
      if (in->state == IN_RUNNING
          && GST_MESSAGE_SRC (msg) == GST_OBJECT (in->pipeline))
        gst_element_set_state (in->pipeline, GST_STATE_PLAYING);
      break;
    case GST_MESSAGE_EOS:
      GST_INFO ("%s: end of stream", in->name);
      in->sink_eos = TRUE;      /* the whole pipeline is done */
      if (in->state == IN_DRAINING) {
        if (drain_done (in))
          finish_drain (in);
      } else if (in->state == IN_RUNNING) {
        drain_input (in, TRUE, "the camera ended its stream");
      }
      break;
    case GST_MESSAGE_ERROR:{
      g_autoptr (GError) err = NULL;
      g_autofree gchar *dbg = NULL;
      gst_message_parse_error (msg, &err, &dbg);
      GST_WARNING ("%s: error from %s: %s (%s)", in->name,
          GST_OBJECT_NAME (msg->src), err->message, dbg ? dbg : "");
      if (g_error_matches (err, GST_RESOURCE_ERROR,
              GST_RESOURCE_ERROR_NO_SPACE_LEFT) || disk_is_full (in->rec))
        in->disk_full = TRUE;
      if (in->state == IN_RUNNING) {
        g_autofree gchar *why = error_reason (err, dbg);
        drain_input (in, TRUE, why);
      } else if (in->state == IN_DRAINING && (in->writer == NULL ||
              lb_segment_writer_count_open (in->writer) == 0))
        finish_drain (in);
      break;
    }
    case GST_MESSAGE_WARNING:{
      g_autoptr (GError) err = NULL;
      gst_message_parse_warning (msg, &err, NULL);
      GST_WARNING ("%s: warning from %s: %s", in->name,
          GST_OBJECT_NAME (msg->src), err->message);
      break;
    }
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

/* mp4mux refuses a buffer without PTS (RTSP depayloaders emit some before
 * the stream is synchronised): the probe's buffer with its DTS as PTS, or
 * NULL when it has neither (drop it). */
static GstBuffer *
buffer_with_pts (GstPadProbeInfo * info)
{
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);

  if (GST_BUFFER_PTS_IS_VALID (buf))
    return buf;
  if (!GST_BUFFER_DTS_IS_VALID (buf))
    return NULL;
  buf = gst_buffer_make_writable (buf);
  GST_BUFFER_PTS (buf) = GST_BUFFER_DTS (buf);
  GST_PAD_PROBE_INFO_DATA (info) = buf;
  return buf;
}

/* Whether a new pipeline's video may go to the segment sink (its
 * streaming thread).  mp4mux takes no new track once it has written a
 * sample, and a camera's audio stream often shows up a moment after its
 * video: with audio=true the video waits (dropped until its first
 * keyframe after) for the audio's pad, at most AUDIO_WAIT_US; a stream
 * later than that is refused and the camera started again (link_audio).
 * Dropping rather than blocking: a source may add the audio pad from the
 * very thread that carries the video.  A source that said it has added
 * all its pads, none of them audio (on_no_more_pads), is not waited for:
 * a camera without audio, or a sub-stream profile without it. */
static gboolean
audio_settled (RecInput * in)
{
  if (!in->audio || g_atomic_int_get (&in->audio_ready) || in->audio_waited)
    return TRUE;
  if (g_atomic_int_get (&in->no_audio)) {
    in->audio_waited = TRUE;
    lb_log (LB_LOG_INFO, LB_LOG_CTX (.vehicle = in->vehicle,.input =
            in->input), "the camera sends no audio stream: recording video "
        "alone");
    return TRUE;
  }
  gint64 now = g_get_monotonic_time ();
  if (in->first_video_us == 0)
    in->first_video_us = now;
  if (now - in->first_video_us < AUDIO_WAIT_US)
    return FALSE;
  in->audio_waited = TRUE;
  lb_log (LB_LOG_INFO, LB_LOG_CTX (.vehicle = in->vehicle,.input = in->input),
      "no audio stream within %d s of the video: recording video alone",
      (gint) (AUDIO_WAIT_US / G_USEC_PER_SEC));
  return TRUE;
}

static GstPadProbeReturn
on_sink_buffer (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  RecInput *in = data;
  GstBuffer *buf = buffer_with_pts (info);

  if (buf == NULL)
    return GST_PAD_PROBE_DROP;
  g_atomic_int_set (&in->last_data_s,
      (gint) (g_get_monotonic_time () / G_USEC_PER_SEC));
  __atomic_fetch_add (&in->bytes, gst_buffer_get_size (buf), __ATOMIC_RELAXED);
  __atomic_fetch_add (&in->frames, 1, __ATOMIC_RELAXED);
  /* A file starts with a keyframe: what a camera sends before its first
   * one cannot be decoded anyway. */
  if (!in->seen_key) {
    if (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT)
        || !audio_settled (in))
      return GST_PAD_PROBE_DROP;
    in->seen_key = TRUE;
  }
  /* where the footage ends, for note_stopped (only this thread writes it) */
  gint64 end = (gint64) GST_BUFFER_PTS (buf) +
      (GST_BUFFER_DURATION_IS_VALID (buf) ? (gint64) GST_BUFFER_DURATION (buf)
      : 0);
  if (end > __atomic_load_n (&in->last_end_pts, __ATOMIC_RELAXED))
    __atomic_store_n (&in->last_end_pts, end, __ATOMIC_RELAXED);
  return GST_PAD_PROBE_OK;
}

/* The caps @pad carries (or can carry, before it is negotiated). */
static GstCaps *
pad_caps (GstPad * pad)
{
  GstCaps *caps = gst_pad_get_current_caps (pad);
  return caps ? caps : gst_pad_query_caps (pad, NULL);
}

/* The best-ranked decoder for @caps, or NULL. */
static GstElement *
make_decoder (GstCaps * caps)
{
  GList *all =
      gst_element_factory_list_get_elements (GST_ELEMENT_FACTORY_TYPE_DECODER,
      GST_RANK_MARGINAL);
  GList *fit = gst_element_factory_list_filter (all, caps, GST_PAD_SINK, FALSE);
  GstElement *decoder = NULL;

  fit = g_list_sort (fit, gst_plugin_feature_rank_compare_func);
  if (fit)
    decoder = gst_element_factory_create (fit->data, NULL);
  gst_plugin_feature_list_free (fit);
  gst_plugin_feature_list_free (all);
  return decoder;
}

GstElement *
lb_recorder_make_decoder (GstCaps * caps)
{
  g_return_val_if_fail (GST_IS_CAPS (caps), NULL);
  return make_decoder (caps);
}

/* The recording branch for a stream @s: the template of its codec when it
 * is recorded as it comes (lb-codec.h), or record-encode.pipeline whose "enc"
 * (when it has key-int-max) makes one keyframe per fragment-duration of
 * frames (30 when the rate is unknown).  Set here only: x264enc applies a
 * template's key-int-max after ours. */
static GstElement *
make_branch (RecInput * in, const GstStructure * s, GError ** error)
{
  LbRecorder *rec = in->rec;
  const gchar *media = gst_structure_get_name (s);
  guint n;
  const LbCodec *codecs = lb_codecs (&n);
  const LbCodec *copy = lb_codec_from_media (media);
  GstElement *bin = gst_parse_bin_from_description (copy ?
      rec->tpl_copy[copy - codecs] : rec->tpl_encode, TRUE, error);

  if (bin == NULL)
    return NULL;
  if (copy) {
    GST_INFO ("%s: recording %s as it comes", in->name, copy->label);
    return bin;
  }
  g_autoptr (GstElement) enc = gst_bin_get_by_name (GST_BIN (bin), "enc");
  gint fps_n = 0, fps_d = 1;
  guint frames = 30;
  if (gst_structure_get_fraction (s, "framerate", &fps_n, &fps_d) && fps_n > 0
      && fps_d > 0)
    frames =
        (guint) MAX (1, gst_util_uint64_scale_round (rec->fragment_ns, fps_n,
            (guint64) fps_d * GST_SECOND));
  if (enc
      && g_object_class_find_property (G_OBJECT_GET_CLASS (enc),
          "key-int-max")) {
    g_object_set (enc, "key-int-max", frames, NULL);
    GST_INFO ("%s: encoding %s with a keyframe every %u frames", in->name,
        media, frames);
  }
  return bin;
}

/* parsebin's @pad → [@head] → @bin → @sink_pad of the segment sink, all
 * added to the pipeline.  NULL, or what failed (*@debug: details). */
static const gchar *
link_branch (RecInput * in, GstPad * pad, GstElement * head,
    GstElement * bin, GstPad * sink_pad, gchar ** debug)
{
  gst_bin_add (GST_BIN (in->pipeline), bin);
  if (head) {
    gst_bin_add (GST_BIN (in->pipeline), head);
    if (!gst_element_link (head, bin))
      return "cannot link the depayloader or decoder";
    gst_element_sync_state_with_parent (head);
  }
  g_autoptr (GstPad) binsink =
      gst_element_get_static_pad (head ? head : bin, "sink");
  g_autoptr (GstPad) binsrc = gst_element_get_static_pad (bin, "src");
  GstPadLinkReturn r1 = GST_PAD_LINK_REFUSED, r2 = GST_PAD_LINK_REFUSED;
  if (binsink == NULL || binsrc == NULL ||
      (r1 = gst_pad_link (pad, binsink)) != GST_PAD_LINK_OK ||
      (r2 = gst_pad_link (binsrc, sink_pad)) != GST_PAD_LINK_OK) {
    *debug =
        g_strdup_printf ("stream → branch: %s, branch → segment sink: %s",
        gst_pad_link_get_name (r1), gst_pad_link_get_name (r2));
    return "cannot link the recording branch";
  }
  gst_element_sync_state_with_parent (bin);
  return NULL;
}

/* Audio to the segment sink: with a PTS (buffer_with_pts), and none from
 * before the first video keyframe (no file to go to yet). */
static GstPadProbeReturn
on_audio_buffer (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  RecInput *in = data;

  if (!in->seen_key || buffer_with_pts (info) == NULL)
    return GST_PAD_PROBE_DROP;
  return GST_PAD_PROBE_OK;
}

/* The audio branch for @s: AAC and Opus as they come (*@as_is; their
 * parser's template), anything else encoded to AAC (*@decoder: the best
 * decoder for it, unless it is raw). */
static GstElement *
make_audio_branch (RecInput * in, GstCaps * caps, GstElement ** decoder,
    gboolean * as_is, GError ** error)
{
  LbRecorder *rec = in->rec;
  const GstStructure *s = gst_caps_get_structure (caps, 0);
  const gchar *media = gst_structure_get_name (s);
  gint version = 0;
  guint n;
  const LbAudioCodec *codecs = lb_audio_codecs (&n);

  gst_structure_get_int (s, "mpegversion", &version);
  const LbAudioCodec *copy = lb_audio_codec_from_media (media, version);
  *decoder = NULL;
  *as_is = copy != NULL;
  if (copy == NULL && !g_str_equal (media, "audio/x-raw")
      && (*decoder = make_decoder (caps)) == NULL) {
    g_set_error (error, LB_ERROR, LB_ERROR_FAILED, "no decoder for %s", media);
    return NULL;
  }
  GstElement *bin = gst_parse_bin_from_description (copy ?
      rec->tpl_audio_copy[copy - codecs] : rec->tpl_audio_encode, TRUE, error);
  if (bin == NULL && *decoder)
    gst_object_unref (gst_object_ref_sink (g_steal_pointer (decoder)));
  return bin;
}

/* An audio stream of an input with audio=true: recorded (the first one)
 * into the same segment files as its video, on the segment sink's audio
 * pad. */
static void
link_audio (RecInput * in, GstElement * parse, GstPad * pad, GstCaps * caps)
{
  const gchar *media = gst_structure_get_name (gst_caps_get_structure (caps,
          0));
  GstElement *decoder = NULL;
  gboolean as_is = FALSE;
  g_autoptr (GError) error = NULL;
  GstElement *bin = make_audio_branch (in, caps, &decoder, &as_is, &error);

  if (bin == NULL) {
    lb_log (LB_LOG_WARNING, LB_LOG_CTX (.vehicle = in->vehicle,.input =
            in->input), "not recording audio %s: %s", media, error->message);
    gst_object_unref (lb_recorder_drop_stream (in->pipeline, pad));
    return;
  }
  GstElement *sink = lb_segment_writer_get_sink (in->writer);
  g_autoptr (GstPad) sink_pad = gst_element_request_pad_simple (sink,
      "audio_%u");
  if (sink_pad == NULL) {
    GST_ELEMENT_ERROR (parse, CORE, NEGOTIATION, ("the segment sink takes no "
            "audio"), (NULL));
    return;
  }
  gst_pad_add_probe (sink_pad, GST_PAD_PROBE_TYPE_BUFFER, on_audio_buffer,
      in, NULL);
  g_autofree gchar *debug = NULL;
  const gchar *failed = link_branch (in, pad, decoder, bin, sink_pad, &debug);
  g_atomic_int_set (&in->audio_ready, 1);
  if (failed)
    GST_ELEMENT_ERROR (parse, CORE, NEGOTIATION, ("%s (%s)", failed, media),
        ("%s", debug ? debug : ""));
  else
    lb_log (LB_LOG_INFO, LB_LOG_CTX (.vehicle = in->vehicle,.input =
            in->input), "recording audio (%s, %s)", media,
        as_is ? "as it comes" : "encoded to AAC");
}

/* *@head: the element before the recording branch of a stream of @caps
 * (@media, @rtp: its codec when it is RTP of one recorded as it comes):
 * that codec's depayloader; for video lb-codec.h does not record as it
 * comes, the best decoder (its frames go to the encode template); none for
 * lb-codec.h's codecs and raw video.  FALSE when the element is missing. */
static gboolean
make_head (GstCaps * caps, const gchar * media, const LbCodec * rtp,
    GstElement ** head)
{
  *head = NULL;
  if (rtp)
    *head = gst_element_factory_make (rtp->depayloader, NULL);
  else if (lb_codec_from_media (media) == NULL
      && !g_str_equal (media, "video/x-raw"))
    *head = make_decoder (caps);
  else
    return TRUE;
  return *head != NULL;
}

/* parsebin exposed a stream (streaming thread): the first video stream is
 * recorded (other video than lb-codec.h's and raw through the best decoder
 * for it, then the encode template; RTP of lb-codec.h's codecs through its
 * depayloader, see on_autoplug_continue), and with audio=true the first
 * audio stream; the others are dropped. */
static void
on_pad_added (GstElement * parse, GstPad * pad, gpointer data)
{
  RecInput *in = data;
  g_autoptr (GstCaps) caps = pad_caps (pad);
  const GstStructure *s = gst_caps_get_structure (caps, 0);
  const gchar *media = gst_structure_get_name (s);
  const LbCodec *rtp = lb_codec_from_rtp (s);
  gboolean video = rtp || g_str_has_prefix (media, "video/")
      || g_str_has_prefix (media, "image/");

  if (in->audio && g_str_has_prefix (media, "audio/")
      && g_atomic_int_compare_and_exchange (&in->audio_linked, 0, 1)) {
    link_audio (in, parse, pad, caps);
    return;
  }
  if (!video || !g_atomic_int_compare_and_exchange (&in->linked, 0, 1)) {
    GST_INFO ("%s: not recording stream %s", in->name, media);
    gst_object_unref (lb_recorder_drop_stream (in->pipeline, pad));
    return;
  }
  GstElement *head;
  if (!make_head (caps, media, rtp, &head)) {
    GST_ELEMENT_ERROR (parse, CORE, MISSING_PLUGIN, ("no %s for %s",
            rtp ? "depayloader" : "decoder", media), (NULL));
    return;
  }
  g_autoptr (GError) error = NULL;
  g_autoptr (GstStructure) stored =
      rtp ? gst_structure_new_empty (rtp->media) : NULL;
  GstElement *bin = make_branch (in, stored ? stored : s, &error);
  if (bin == NULL) {
    if (head)
      gst_object_unref (gst_object_ref_sink (head));
    GST_ELEMENT_ERROR (parse, CORE, NEGOTIATION, ("bad recording template: %s",
            error->message), (NULL));
    return;
  }
  g_autofree gchar *debug = NULL;
  const gchar *failed = link_branch (in, pad, head, bin, in->sink_pad, &debug);
  if (failed)
    GST_ELEMENT_ERROR (parse, CORE, NEGOTIATION, ("%s (%s)", failed, media),
        ("%s", debug ? debug : ""));
}

/* parsebin found a stream of @caps and asks whether to plug more (a
 * streaming thread).  RTP of a codec recorded as it comes is exposed as
 * RTP: inside parsebin its depayloader would start with nothing linked
 * downstream and, with no one to ask for whole access units, send NAL
 * units, which the parser then cuts by the specification's rules — a
 * keyframe whose slices each carry SPS/PPS (as rtph264pay with
 * config-interval=-1 sends a sliced keyframe) became two samples of one
 * timestamp.  Linked by on_pad_added to the codec's template first, the
 * depayloader sends access units as the camera framed them. */
static gboolean
on_autoplug_continue (GstElement * parse, GstPad * pad, GstCaps * caps,
    gpointer data)
{
  return gst_caps_is_empty (caps) || gst_caps_is_any (caps)
      || lb_codec_from_rtp (gst_caps_get_structure (caps, 0)) == NULL;
}

/* A source's pad that gst-launch's linking left alone (rtspsrc links its
 * first stream to record-source.pipeline; the audio stream comes on a
 * second pad): an audio stream gets a parsebin of its own whose streams go
 * to on_pad_added (audio=true only). */
static void
on_source_pad (GstElement * source, GstPad * pad, gpointer data)
{
  RecInput *in = data;

  if (GST_PAD_DIRECTION (pad) != GST_PAD_SRC)
    return;
  g_autoptr (GstCaps) caps = pad_caps (pad);
  const GstStructure *s = gst_caps_get_structure (caps, 0);
  if (lb_codec_from_rtp (s) == NULL)
    g_atomic_int_set (&in->maybe_audio, 1);
  if (gst_pad_is_linked (pad))
    return;
  const gchar *media = gst_structure_get_string (s, "media");
  if (!g_str_has_prefix (gst_structure_get_name (s), "audio/")
      && g_strcmp0 (media, "audio") != 0)
    return;
  GstElement *parse = gst_element_factory_make ("parsebin", NULL);
  if (parse == NULL)
    return;
  g_signal_connect (parse, "pad-added", G_CALLBACK (on_pad_added), in);
  gst_bin_add (GST_BIN (in->pipeline), parse);
  g_autoptr (GstPad) sink = gst_element_get_static_pad (parse, "sink");
  if (gst_pad_link (pad, sink) != GST_PAD_LINK_OK)
    lb_log (LB_LOG_WARNING, LB_LOG_CTX (.vehicle = in->vehicle,.input =
            in->input), "not recording audio: the camera's audio stream "
        "does not link");
  gst_element_sync_state_with_parent (parse);
}

/* A source added all its pads (rtspsrc and lbrtspsrc say so once they
 * know the camera's streams): when each is video RTP of a codec recorded
 * as it comes, which carries no audio, no audio stream is coming. */
static void
on_no_more_pads (GstElement * source, gpointer data)
{
  RecInput *in = data;

  if (!g_atomic_int_get (&in->maybe_audio))
    g_atomic_int_set (&in->no_audio, 1);
}

/* Every element of the capture pipeline that may add streams later. */
static void
watch_sources (RecInput * in, GstElement * parse)
{
  GstIterator *it = gst_bin_iterate_recurse (GST_BIN (in->pipeline));
  GValue v = G_VALUE_INIT;

  while (gst_iterator_next (it, &v) == GST_ITERATOR_OK) {
    GstElement *e = g_value_get_object (&v);
    GstElementClass *klass = GST_ELEMENT_GET_CLASS (e);
    for (GList * l = gst_element_class_get_pad_template_list (klass); l;
        l = l->next) {
      GstPadTemplate *t = l->data;
      if (e != parse && GST_PAD_TEMPLATE_DIRECTION (t) == GST_PAD_SRC
          && GST_PAD_TEMPLATE_PRESENCE (t) == GST_PAD_SOMETIMES) {
        g_signal_connect (e, "pad-added", G_CALLBACK (on_source_pad), in);
        g_signal_connect (e, "no-more-pads", G_CALLBACK (on_no_more_pads), in);
        break;
      }
    }
    g_value_reset (&v);
  }
  g_value_unset (&v);
  gst_iterator_free (it);
}

/* A new file of @in (its writer's streaming thread): the timeline says
 * where it goes. */
static void
place_file (gboolean continuing, gint64 clock_ns, LbSegmentTiming * timing,
    gpointer data)
{
  RecInput *in = data;

  lb_timeline_place (in->rec->timeline, in->name, continuing, clock_ns, timing);
}

static gboolean
build_pipeline (RecInput * in, GError ** error)
{
  LbRecorder *rec = in->rec;
  g_autoptr (GError) err = NULL;
  g_autofree gchar *desc =
      g_strdup_printf ("%s ! %s", in->source, rec->tpl_source);
  GstElement *el =
      gst_parse_launch_full (desc, NULL, GST_PARSE_FLAG_FATAL_ERRORS, &err);

  if (el == NULL) {
    g_autofree gchar *input = lb_footage_main_input (in->input, NULL);
    g_set_error (error, LB_ERROR, LB_ERROR_CONFIG, "[input %s %s] %s: %s",
        in->vehicle, input, in->source_key, err->message);
    return FALSE;
  }
  if (!GST_IS_PIPELINE (el)) {
    GstElement *p = gst_pipeline_new (NULL);
    gst_bin_add (GST_BIN (p), el);
    el = p;
  }
  in->pipeline = gst_object_ref_sink (el);
  g_autofree gchar *pname =
      g_strdup_printf ("record-%s-%s", in->vehicle, in->input);
  gst_object_set_name (GST_OBJECT (in->pipeline), pname);

  g_autoptr (GstElement) parse =
      gst_bin_get_by_name (GST_BIN (in->pipeline), "parse");
  if (parse == NULL) {
    g_set_error (error, LB_ERROR, LB_ERROR_CONFIG,
        "pipeline template record-source.pipeline has no element named 'parse'");
    gst_clear_object (&in->pipeline);
    return FALSE;
  }
  in->writer =
      lb_segment_writer_new (rec->store_dir, in->vehicle, in->input,
      rec->segment_ns, rec->fragment_ns);
  if (in->writer == NULL) {
    g_set_error (error, LB_ERROR, LB_ERROR_FAILED,
        "splitmuxsink or mp4mux is missing (gst-plugins-good)");
    gst_clear_object (&in->pipeline);
    return FALSE;
  }
  GstElement *sink = lb_segment_writer_get_sink (in->writer);
  gst_bin_add (GST_BIN (in->pipeline), sink);
  in->sink_pad = gst_element_request_pad_simple (sink, "video");
  gst_pad_add_probe (in->sink_pad, GST_PAD_PROBE_TYPE_BUFFER, on_sink_buffer,
      in, NULL);
  lb_segment_writer_set_placer (in->writer, place_file, in);
  g_signal_connect (parse, "pad-added", G_CALLBACK (on_pad_added), in);
  if (g_signal_lookup ("autoplug-continue", G_OBJECT_TYPE (parse)))
    g_signal_connect (parse, "autoplug-continue",
        G_CALLBACK (on_autoplug_continue), in);
  if (in->audio)
    watch_sources (in, parse);
  gst_pipeline_use_clock (GST_PIPELINE (in->pipeline), rec->clock);
  g_object_set (in->pipeline, "message-forward", TRUE, NULL);

  g_autoptr (GstBus) bus = gst_pipeline_get_bus (GST_PIPELINE (in->pipeline));
  GSource *src = gst_bus_create_watch (bus);
  g_source_set_callback (src, (GSourceFunc) (void (*)(void)) on_bus, in, NULL);
  in->bus_watch = g_source_attach (src, rec->context);
  g_source_unref (src);
  return TRUE;
}

static void
start_input (RecInput * in)
{
  g_autoptr (GError) error = NULL;

  g_atomic_int_set (&in->last_data_s, 0);
  __atomic_store_n (&in->last_end_pts, 0, __ATOMIC_RELAXED);
  in->seen_key = FALSE;
  in->first_video_us = 0;
  in->audio_waited = FALSE;
  in->sink_eos = FALSE;
  in->disk_full = FALSE;
  in->started_s = g_get_monotonic_time () / G_USEC_PER_SEC;
  if (!build_pipeline (in, &error)) {
    GST_WARNING ("%s: %s", in->name, error->message);
    report_lost (in, error->message);
    schedule_retry (in);
    return;
  }
  in->state = IN_RUNNING;
  /* PAUSED first, as gst-launch does: going straight to PLAYING loses the
   * PLAYING of splitmuxsink, which is still changing state asynchronously. */
  if (gst_element_set_state (in->pipeline,
          GST_STATE_PAUSED) == GST_STATE_CHANGE_FAILURE
      || gst_element_set_state (in->pipeline,
          GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    GST_WARNING ("%s: the pipeline does not start", in->name);
    report_lost (in, "the pipeline does not start");
    in->state = IN_DRAINING;
    in->retry_after_drain = TRUE;
    finish_drain (in);
    return;
  }
  GST_INFO ("%s: started", in->name);
}

/* An input stopped by a full disk starts again once there is room. */
static void
retry_if_space (RecInput * in)
{
  if (g_get_monotonic_time () >= in->retry_at_us && !disk_is_full (in->rec))
    start_input (in);
}

/* A step of the wall clock or a change of its sync status: the operator
 * hears of it; a step or a loss of sync starts new files (timed anew) on
 * every input; once synchronised, the footage recorded before is
 * re-timed. */
static void
check_clock (LbRecorder * rec)
{
  LbTimelineChange change;

  if (!lb_timeline_poll (rec->timeline, &change))
    return;
  lb_timeline_log_change (&change);
  for (guint i = 0; i < rec->inputs->len; i++) {
    RecInput *in = rec->inputs->pdata[i];
    if (in->state == IN_RUNNING && (change.step_ns != 0 || !change.synced))
      lb_segment_writer_split (in->writer);
  }
  if (change.synced) {
    LbSegmentTiming t = {.epoch_anchor_ns = change.anchor_ns };
    push_task (rec, TASK_RETIME, NULL, NULL, &t);
  }
}

static gboolean
on_watchdog (gpointer data)
{
  LbRecorder *rec = data;
  gint now = (gint) (g_get_monotonic_time () / G_USEC_PER_SEC);

  check_clock (rec);

  for (guint i = 0; i < rec->inputs->len; i++) {
    RecInput *in = rec->inputs->pdata[i];
    if (in->state == IN_WAITING && in->disk_full)
      retry_if_space (in);
    if (in->state != IN_RUNNING)
      continue;
    gint last = g_atomic_int_get (&in->last_data_s);
    if (last == 0 && now - in->started_s > START_TIMEOUT_S)
      drain_input (in, TRUE, "no video since the start");
    else if (last != 0 && now - last > STALL_TIMEOUT_S)
      drain_input (in, TRUE, "no video for a while");
    else if (last != 0 && !in->live)
      report_live (in);
  }
  return G_SOURCE_CONTINUE;
}

/* --- the recorder --------------------------------------------------------- */

static void
rec_input_free (gpointer p)
{
  RecInput *in = p;

  if (in->retry_id)
    g_source_remove (in->retry_id);
  teardown_pipeline (in);
  g_free (in->open_path);
  g_free (in->vehicle);
  g_free (in->input);
  g_free (in->source);
  g_free (in->name);
  g_free (in);
}

/* One recorded stream of @ic: its main stream, or its sub-stream
 * (sub-source=), recorded as an input of its own (@input, taken;
 * lb-store-footage.h) with its own pipeline, files, timeline and retries. */
static void
add_input (LbRecorder * rec, const LbInputConfig * ic, gchar * input,
    const gchar * source)
{
  RecInput *in = g_new0 (RecInput, 1);

  in->rec = rec;
  in->vehicle = g_strdup (ic->vehicle);
  in->input = input;
  in->source = g_strdup (source);
  in->source_key = source == ic->source ? "source" : "sub-source";
  in->audio = ic->audio;
  in->name = g_strdup_printf ("%s/%s", ic->vehicle, input);
  in->backoff_ns = rec->retry_min_ns;
  g_ptr_array_add (rec->inputs, in);
}

LbRecorder *
lb_recorder_new (LbConfig * config, LbStore * store, GError ** error)
{
  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (store != NULL, NULL);

  LB_DEBUG_INIT (lb_recorder_debug, "lookback-recorder", "lookback recorder");

  g_autoptr (LbRecorder) rec = g_new0 (LbRecorder, 1);
  rec->config = config;
  rec->store = store;
  rec->context = g_main_context_ref_thread_default ();
  rec->store_dir = g_strdup (lb_config_get_store_dir (config));
  rec->segment_ns =
      lb_config_get_duration (config, "recorder", "segment-duration");
  rec->fragment_ns =
      lb_config_get_duration (config, "recorder", "fragment-duration");
  rec->retry_min_ns = lb_config_get_duration (config, "recorder", "retry-min");
  rec->retry_max_ns = lb_config_get_duration (config, "recorder", "retry-max");
  rec->inputs = g_ptr_array_new_with_free_func (rec_input_free);
  rec->done_cbs = g_ptr_array_new_with_free_func (g_free);
  rec->open_files =
      g_hash_table_new_full (g_str_hash, g_str_equal, NULL, open_file_free);
  rec->epochs = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL,
      g_free);
  rec->tasks = g_async_queue_new ();

  if (!(rec->tpl_source = read_template ("record-source.pipeline", error)) ||
      !(rec->tpl_encode = read_template ("record-encode.pipeline", error)))
    return NULL;
  /* record-<codec>.pipeline of each codec recorded as it comes */
  guint nv, na;
  const LbCodec *video = lb_codecs (&nv);
  const LbAudioCodec *audio = lb_audio_codecs (&na);
  g_assert (nv <= MAX_COPIED && na <= MAX_COPIED);
  for (guint i = 0; i < nv + na; i++) {
    const gchar *name = i < nv ? video[i].name : audio[i - nv].name;
    gchar **slot = i < nv ? &rec->tpl_copy[i] : &rec->tpl_audio_copy[i - nv];
    g_autofree gchar *file = g_strdup_printf ("record-%s.pipeline", name);
    if (!(*slot = read_template (file, error)))
      return NULL;
  }
  if (!(rec->tpl_audio_encode = read_template ("record-audio-encode.pipeline",
              error)))
    return NULL;
  rec->clock = lb_segment_writer_new_clock ();
  LbTimeSource source = LB_TIME_SOURCE_NTP;
  lb_time_source_parse (lb_config_get_string (config, "recorder",
          "time-source"), &source);
  rec->own_wall = rec->wall = lb_clock_new_system ();
  lb_clock_set_time_source (rec->wall, source, lb_config_get_string (config,
          "recorder", "time-sync-file"));

  GPtrArray *inputs = lb_config_get_inputs (config);
  for (guint i = 0; i < inputs->len; i++) {
    const LbInputConfig *ic = inputs->pdata[i];
    add_input (rec, ic, g_strdup (ic->input), ic->source);
    if (ic->sub_source)
      add_input (rec, ic, lb_footage_sub_input (ic->input), ic->sub_source);
  }
  return g_steal_pointer (&rec);
}

void
lb_recorder_set_clock (LbRecorder * rec, LbClock * clock)
{
  g_return_if_fail (rec != NULL && clock != NULL);
  g_return_if_fail (!rec->started);
  rec->wall = clock;
}

/* The first reading of the clock: footage recorded before it was
 * synchronised is re-timed if it is now (nothing is open yet: reconcile has
 * closed what a crash left open), then each input's footage ends where the
 * index says. */
static void
start_timeline (LbRecorder * rec)
{
  gboolean synced = FALSE;

  rec->timeline = lb_timeline_new (rec->wall);
  lb_timeline_log_start (rec->timeline);
  gint64 anchor = lb_timeline_get_anchor (rec->timeline, &synced);
  if (synced)
    retime_footage (rec, anchor);
  for (guint i = 0; i < rec->inputs->len; i++) {
    RecInput *in = rec->inputs->pdata[i];
    gint64 last = LB_TIME_NONE;
    g_autoptr (GError) error = NULL;
    if (!lb_store_footage_extent (rec->store, in->vehicle, in->input, NULL,
            &last, &error))
      GST_WARNING ("%s: %s", in->name, error->message);
    lb_timeline_add_input (rec->timeline, in->name, last);
  }
}

gboolean
lb_recorder_start (LbRecorder * rec, GError ** error)
{
  g_return_val_if_fail (rec != NULL, FALSE);
  g_return_val_if_fail (!rec->started, FALSE);

  /* Check every source parses before anything starts. */
  for (guint i = 0; i < rec->inputs->len; i++) {
    RecInput *in = rec->inputs->pdata[i];
    if (!build_pipeline (in, error)) {
      for (guint j = 0; j < rec->inputs->len; j++)
        teardown_pipeline (rec->inputs->pdata[j]);
      return FALSE;
    }
    teardown_pipeline (in);
  }

  start_timeline (rec);
  rec->started = TRUE;
  rec->created_s = (gint) (g_get_monotonic_time () / G_USEC_PER_SEC);
  lb_metrics_add_collector (collect_metrics, rec);
  rec->index_thread = g_thread_new ("lb-indexer", index_thread_main, rec);
  for (guint i = 0; i < rec->inputs->len; i++)
    start_input (rec->inputs->pdata[i]);
  GSource *wd = g_timeout_source_new_seconds (1);
  g_source_set_callback (wd, on_watchdog, rec, NULL);
  rec->watchdog_id = g_source_attach (wd, rec->context);
  g_source_unref (wd);
  GST_INFO ("recording %u inputs into %s", rec->inputs->len, rec->store_dir);
  return TRUE;
}

static gboolean
on_index_barrier (gpointer data)
{
  LbRecorder *rec = data;
  g_autoptr (GPtrArray) cbs = g_steal_pointer (&rec->done_cbs);

  rec->done_cbs = g_ptr_array_new_with_free_func (g_free);
  GST_INFO ("stopped: every segment closed and indexed");
  for (guint i = 0; i < cbs->len; i++) {
    DoneCb *cb = cbs->pdata[i];
    cb->func (rec, cb->user_data);
  }
  return G_SOURCE_REMOVE;
}

static void
check_stopped (LbRecorder * rec)
{
  if (!rec->stopping || rec->done_cbs->len == 0)
    return;
  for (guint i = 0; i < rec->inputs->len; i++) {
    RecInput *in = rec->inputs->pdata[i];
    if (in->state != IN_IDLE)
      return;
  }
  if (rec->index_thread == NULL) {
    on_index_barrier (rec);
    return;
  }
  Task *t = g_new0 (Task, 1);
  t->kind = TASK_BARRIER;
  t->callback = on_index_barrier;
  t->user_data = rec;
  g_async_queue_push (rec->tasks, t);
}

void
lb_recorder_stop (LbRecorder * rec, LbRecorderDoneFunc done, gpointer user_data)
{
  g_return_if_fail (rec != NULL);

  if (done) {
    DoneCb *cb = g_new0 (DoneCb, 1);
    cb->func = done;
    cb->user_data = user_data;
    g_ptr_array_add (rec->done_cbs, cb);
  }
  gboolean first = !rec->stopping;
  rec->stopping = TRUE;
  if (rec->watchdog_id) {
    g_source_remove (rec->watchdog_id);
    rec->watchdog_id = 0;
  }
  if (first) {
    GST_INFO ("stopping: closing the open segments");
    for (guint i = 0; i < rec->inputs->len; i++) {
      RecInput *in = rec->inputs->pdata[i];
      if (in->retry_id) {
        g_source_remove (in->retry_id);
        in->retry_id = 0;
      }
      if (in->state == IN_RUNNING)
        drain_input (in, FALSE, "recorder stopping");
      else if (in->state == IN_WAITING)
        in->state = IN_IDLE;
    }
  }
  check_stopped (rec);
}

guint
lb_recorder_count_recording (LbRecorder * rec)
{
  g_return_val_if_fail (rec != NULL, 0);
  gint now = (gint) (g_get_monotonic_time () / G_USEC_PER_SEC);
  guint n = 0;

  for (guint i = 0; i < rec->inputs->len; i++) {
    RecInput *in = rec->inputs->pdata[i];
    gint last = g_atomic_int_get (&in->last_data_s);
    if (in->state == IN_RUNNING && last != 0 && now - last <= 2)
      n++;
  }
  return n;
}

guint
lb_recorder_count_closed (LbRecorder * rec)
{
  g_return_val_if_fail (rec != NULL, 0);
  return (guint) g_atomic_int_get (&rec->closed);
}

/* Per input, for GET /metrics (on the rendering thread: atomics only). */
static void
collect_metrics (gpointer data)
{
  LbRecorder *rec = data;
  LbMetric *bytes = lb_metrics_counter ("lookback_input_bytes_total",
      "Bytes of video recorded", "vehicle,input");
  LbMetric *frames = lb_metrics_counter ("lookback_input_frames_total",
      "Frames recorded", "vehicle,input");
  LbMetric *gaps = lb_metrics_counter ("lookback_input_gaps_total",
      "Times recording stopped after it had begun (camera lost, disk full)",
      "vehicle,input");
  LbMetric *age = lb_metrics_gauge ("lookback_input_last_frame_age_seconds",
      "Seconds since the last frame was recorded (since the start when none "
      "was)", "vehicle,input");
  LbMetric *connected = lb_metrics_gauge ("lookback_input_connected",
      "1 while video flows from the camera, else 0", "vehicle,input");
  gint now = (gint) (g_get_monotonic_time () / G_USEC_PER_SEC);

  for (guint i = 0; i < rec->inputs->len; i++) {
    RecInput *in = rec->inputs->pdata[i];
    const gchar *const *l = LB_LABELS (in->vehicle, in->input);
    gint last = g_atomic_int_get (&in->last_data_s);
    lb_metric_set (bytes, l, __atomic_load_n (&in->bytes, __ATOMIC_RELAXED));
    lb_metric_set (frames, l, __atomic_load_n (&in->frames, __ATOMIC_RELAXED));
    lb_metric_set (gaps, l, g_atomic_int_get (&in->gaps));
    lb_metric_set (age, l, now - (last ? last : rec->created_s));
    lb_metric_set (connected, l, g_atomic_int_get (&in->connected));
  }
}

void
lb_recorder_free (LbRecorder * rec)
{
  if (rec == NULL)
    return;
  lb_metrics_remove_collector (collect_metrics, rec);
  rec->stopping = TRUE;
  if (rec->watchdog_id)
    g_source_remove (rec->watchdog_id);
  g_clear_pointer (&rec->inputs, g_ptr_array_unref);
  if (rec->index_thread) {
    Task *t = g_new0 (Task, 1);
    t->kind = TASK_QUIT;
    g_async_queue_push (rec->tasks, t);
    g_thread_join (rec->index_thread);
  }
  g_clear_pointer (&rec->open_files, g_hash_table_unref);
  g_clear_pointer (&rec->epochs, g_hash_table_unref);
  g_clear_pointer (&rec->timeline, lb_timeline_free);
  g_clear_pointer (&rec->own_wall, lb_clock_free);
  if (rec->tasks) {
    Task *t;
    while ((t = g_async_queue_try_pop (rec->tasks)))
      task_free (t);
    g_async_queue_unref (rec->tasks);
  }
  g_clear_pointer (&rec->done_cbs, g_ptr_array_unref);
  gst_clear_object (&rec->clock);
  g_main_context_unref (rec->context);
  g_free (rec->tpl_source);
  for (guint i = 0; i < MAX_COPIED; i++)
    g_free (rec->tpl_audio_copy[i]);
  g_free (rec->tpl_audio_encode);
  for (guint i = 0; i < MAX_COPIED; i++)
    g_free (rec->tpl_copy[i]);
  g_free (rec->tpl_encode);
  g_free (rec->store_dir);
  g_free (rec);
}

/* --- helpers for capture pipelines ------------------------------------- */

GstPad *
lb_recorder_drop_stream (GstElement * pipeline, GstPad * pad)
{
  g_return_val_if_fail (GST_IS_BIN (pipeline), NULL);
  g_return_val_if_fail (GST_IS_PAD (pad), NULL);

  GstElement *fake = gst_element_factory_make ("fakesink", NULL);
  g_object_set (fake, "sync", FALSE, "async", FALSE, NULL);
  gst_bin_add (GST_BIN (pipeline), fake);
  GstPad *sinkpad = gst_element_get_static_pad (fake, "sink");
  gst_pad_link (pad, sinkpad);
  gst_element_set_locked_state (fake, TRUE);
  gst_element_set_state (fake, GST_STATE_PLAYING);
  return sinkpad;
}

void
lb_recorder_release_dropped (GstElement * pipeline)
{
  g_return_if_fail (GST_IS_BIN (pipeline));

  GstIterator *it = gst_bin_iterate_sinks (GST_BIN (pipeline));
  GValue v = G_VALUE_INIT;

  while (gst_iterator_next (it, &v) == GST_ITERATOR_OK) {
    GstElement *e = g_value_get_object (&v);
    if (gst_element_is_locked_state (e)) {
      gst_element_set_locked_state (e, FALSE);
      gst_element_set_state (e, GST_STATE_NULL);
    }
    g_value_reset (&v);
  }
  g_value_unset (&v);
  gst_iterator_free (it);
}
