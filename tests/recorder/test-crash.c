/* Crash: lookbackd killed with SIGKILL while recording keeps everything up
 * to the GOP being captured at the kill; the next start reconciles it
 * (recovering the fragment whose moof was not written yet); a SIGTERM stops
 * it cleanly (exit 0) with every segment closed and indexed.  So from an
 * encoded test source, and from RTSP test cameras sending H.265 (with and
 * without B-frames) and H.264 (with B-frames, and without: x264
 * zerolatency, whose keyframes are sliced), recorded as they come.  A
 * camera with audio (AAC, Opus) is recorded by two inputs at once, one
 * with audio=true: a kill loses no more of the input with audio, audio or
 * video, than of the one without, and clips of the audio input made after
 * the restart have both tracks start and end together.  A camera's
 * sub-stream recorded with it loses no more than its main stream.  A kill
 * within a new segment's first fragment (before its moov is written) loses
 * no more: the file's frames are recovered at the next start.  Broken
 * files in the segments folder are quarantined at start, never fatal. */
#include "rec-util.h"

#include "core/lb-config.h"
#include "core/lb-error.h"
#include "core/lb-time.h"
#include "jobs/lb-job-run.h"
#include "jobs/lb-pipelines.h"
#include "mp4/lb-mp4.h"
#include "store/lb-store.h"
#include "store/lb-store-footage.h"
#include "lb-test-common.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <unistd.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#define FPS 15
#define VEHICLE "veh-4"
#define VIDEO_INPUT "dashcamRoadFacing"
#define AUDIO_INPUT "dashcamDriverFacing"       /* audio=true, same camera */

static GPid
daemon_start (const gchar * conf, const gchar * log)
{
  const gchar *exe = g_getenv ("LOOKBACKD");
  g_assert_nonnull (exe);
  g_autofree gchar *cmd =
      g_strdup_printf ("exec '%s' --config '%s' >>'%s' 2>&1", exe, conf,
      log);
  const gchar *argv[] = { "/bin/sh", "-c", cmd, NULL };
  g_autoptr (GError) error = NULL;
  GPid pid = 0;

  g_assert_true (g_spawn_async (NULL, (gchar **) argv, NULL,
          G_SPAWN_DO_NOT_REAP_CHILD, lb_test_child_setup, NULL, &pid, &error));
  g_assert_no_error (error);
  return pid;
}

/* Waits up to @ms for @pid to exit; its exit status, or -1 on timeout. */
static gint
daemon_wait (GPid pid, guint ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;
  gint status = 0;

  while (g_get_monotonic_time () < end) {
    if (waitpid (pid, &status, WNOHANG) == pid)
      return WIFEXITED (status) ? WEXITSTATUS (status) : 128 +
          WTERMSIG (status);
    g_usleep (50 * 1000);
  }
  return -1;
}

static guint
count_files (const gchar * dir)
{
  g_autoptr (GPtrArray) files = rec_list_mp4 (dir);
  return files->len;
}

/* Frames lbrecordingsrc gives for [@start_ns, @end_ns) of the test input. */
static gint
play_count (const gchar * db, const gchar * input, gint64 start_ns,
    gint64 end_ns)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GstElement) p =
      gst_parse_launch ("lbrecordingsrc name=src ! decodebin ! "
      "fakesink name=sink signal-handoffs=true", &error);
  g_assert_no_error (error);
  g_autoptr (GstElement) src = gst_bin_get_by_name (GST_BIN (p), "src");
  g_autoptr (GstElement) sink = gst_bin_get_by_name (GST_BIN (p), "sink");
  g_autofree gchar *start = g_strdup_printf ("%" G_GINT64_FORMAT, start_ns);
  g_autofree gchar *end = g_strdup_printf ("%" G_GINT64_FORMAT, end_ns);
  gint count = 0;

  g_object_set (src, "db", db, "vehicle", VEHICLE, "input", input,
      "start-time", start, "end-time", end, NULL);
  g_signal_connect_swapped (sink, "handoff", G_CALLBACK (g_atomic_int_inc),
      &count);
  lb_test_play_to_eos (p);
  return count;
}

typedef struct
{
  const gchar *camera[10];      /* lb-test-camera options; {NULL}: an
                                 * encoded videotestsrc instead */
  const gchar *codec;           /* recorded as */
  gboolean bframes;
  /* What may be lost beyond the GOP being captured: the frame mp4mux
   * holds, and for a camera the frames still in transit at the kill (the
   * RTP jitter buffer's 200 ms, the timestamper's reorder window); and how
   * much later than the wall clock a camera's frames may be timed. */
  gint64 margin_ns;
  const gchar *audio;           /* the camera's audio (--audio), NULL: none;
                                 * AUDIO_INPUT records it */
  gboolean sub;                 /* VIDEO_INPUT records its sub-stream too
                                 * (the camera has --sub-stream) */
} CrashCase;

/* The segment file once it exists, then the wall clock of its first frame
 * (the file is named by it). */
static gint64
first_frame_time (const gchar * segdir, gint64 t0)
{
  for (guint i = 0; i < 150 && count_files (segdir) == 0; i++)
    g_usleep (100 * 1000);
  g_assert_cmpuint (count_files (segdir), ==, 1);
  g_autoptr (GPtrArray) files = rec_list_mp4 (segdir);
  g_autofree gchar *base = g_path_get_basename (files->pdata[0]);
  gint64 first_ns = g_ascii_strtoll (base, NULL, 10);
  g_assert_cmpint (first_ns, >=, t0 - LB_NS_PER_SEC);
  return first_ns;
}

/* How long a restarted lookbackd may take to make a file for each input. */
#define RESTART_WAIT_S 30

/* The camera's audio still in transit at a kill: what rtspsrc's jitter
 * buffer holds (latency=200, crash_config) and the AAC frames behind the
 * video; a sanitized run on a loaded machine saw 314 ms. */
#define AUDIO_TRANSIT_NS (400 * LB_NS_PER_MS)

/* The killed segment's audio reaches as far as its video (within
 * AUDIO_TRANSIT_NS): a crash loses no more audio than video. */
static void
check_killed_audio (const CrashCase * c, const LbSegment * seg)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LbMp4Init) init = NULL;
  g_assert_cmpstr (seg->audio, ==, c->audio);
  g_assert_true (lb_mp4_read_init_path (seg->path, &init, &error));
  g_assert_no_error (error);
  g_assert_nonnull (init->audio);
  /* every audio sample of the file (moov and moofs) */
  gint fd = g_open (seg->path, O_RDONLY, 0);
  g_assert_cmpint (fd, >=, 0);
  g_autoptr (LbMp4Fragment) all = NULL;
  g_assert_true (lb_mp4_read_range (fd, init->audio, 0, seg->bytes, &all,
          &error));
  g_assert_no_error (error);
  close (fd);
  g_assert_cmpuint (all->samples->len, >, 0);
  const LbMp4Sample *a = &g_array_index (all->samples, LbMp4Sample,
      all->samples->len - 1);
  gint64 audio_end = seg->start_ns + (a->pts_ns + a->duration_ns +
      init->audio->edit_ns) - (seg->media_base_ns + init->edit_ns);
  g_test_message ("video indexed to %" G_GINT64_FORMAT " ms, audio to %"
      G_GINT64_FORMAT " ms", (seg->end_ns - seg->start_ns) / LB_NS_PER_MS,
      (audio_end - seg->start_ns) / LB_NS_PER_MS);
  g_assert_cmpint (audio_end, >=, seg->end_ns - AUDIO_TRANSIT_NS);
}

/* The killed segment: closed by reconcile, indexed up to the last frame on
 * disk, every frame of it decodes (the recovered ones included), and the
 * last fragment (recovered or not) plays in full. */
static void
check_killed (const CrashCase * c, const gchar * db, const gchar * input,
    LbFootagePiece * killed, gint64 t0, gint64 t_kill)
{
  g_assert_false (killed->segment->open);
  g_assert_cmpstr (killed->segment->codec, ==, c->codec);
  g_assert_cmpint (killed->segment->start_ns, >=, t0 - LB_NS_PER_SEC);
  /* A camera's frames are timed from the arrival of the first packet its
   * input received, so they can be later than the wall clock they were
   * written at by what was in transit then (the margin): each input of
   * the camera has its own first packet, and once one started 250 ms late
   * its next GOP arrived before a kill timed from the other input's
   * times, and was recovered with times after the kill. */
  g_assert_cmpint (killed->segment->end_ns, <=, t_kill + c->margin_ns);
  g_test_message ("%s: killed at %" G_GINT64_FORMAT " ms, indexed to %"
      G_GINT64_FORMAT " ms", input,
      (t_kill - killed->segment->start_ns) / LB_NS_PER_MS,
      (killed->segment->end_ns - killed->segment->start_ns) / LB_NS_PER_MS);
  /* splitmuxsink holds the GOP being captured back (to decide where to
   * split) and mp4mux the last frame of the GOP before it (to time it);
   * reconcile recovers the rest of that GOP, whose moof mp4mux had not
   * written yet: at most one GOP (1 s) is lost, and the margin */
  g_assert_cmpint (killed->segment->end_ns, >=,
      t_kill - LB_NS_PER_SEC - c->margin_ns);
  g_assert_cmpuint (killed->keyframes->len, >=, 4);
  if (g_str_equal (input, AUDIO_INPUT))
    check_killed_audio (c, killed->segment);
  if (c->audio) {
    /* (frames are not counted: when the camera's first RTCP sender report
     * comes, about 2.5 s in, rtpbin moves the video's times to line it up
     * with the audio, and the timestamper gives a few B-frames one DTS) */
    return;
  }
  guint rows_frames = 0;
  for (guint i = 0; i < killed->keyframes->len; i++)
    rows_frames += g_array_index (killed->keyframes, LbKeyframe, i).frames;
  gint64 indexed_frames =
      (killed->segment->end_ns -
      killed->segment->start_ns) * FPS / LB_NS_PER_SEC;
  g_autofree gchar *decode_error = NULL;
  gint n = rec_decode_count (killed->segment->path, &decode_error);
  g_assert_null (decode_error);
  /* (qtdemux shows all but the B-frames' delay of a fragmented file) */
  if (!c->bframes)
    g_assert_cmpint (n, ==, (gint) rows_frames);
  g_assert_cmpint (play_count (db, input, killed->segment->start_ns,
          killed->segment->end_ns), ==, (gint) rows_frames);
  /* (a camera's frames are timed by their arrival: not one every 1/FPS) */
  if (c->camera[0] == NULL)
    g_assert_cmpint (ABS ((gint64) rows_frames - indexed_frames), <=, 1);
  LbKeyframe *last = &g_array_index (killed->keyframes, LbKeyframe,
      killed->keyframes->len - 1);
  g_assert_cmpint (play_count (db, input, last->time_ns,
          killed->segment->end_ns), ==, (gint) last->frames);
}

/* The clean stop closed and indexed the second segment to its end. */
static void
check_clean (const CrashCase * c, const gchar * db, const gchar * input,
    LbFootagePiece * clean, gint64 t_kill)
{
  g_assert_false (clean->segment->open);
  g_assert_cmpint (clean->segment->start_ns, >, t_kill);
  g_assert_cmpint (clean->segment->end_ns, >=,
      clean->segment->start_ns + 2 * LB_NS_PER_SEC);
  guint clean_rows = 0;
  for (guint i = 0; i < clean->keyframes->len; i++)
    clean_rows += g_array_index (clean->keyframes, LbKeyframe, i).frames;
  gint64 clean_frames =
      (clean->segment->end_ns - clean->segment->start_ns) * FPS / LB_NS_PER_SEC;
  if (c->camera[0] == NULL)
    g_assert_cmpint (ABS ((gint64) clean_rows - clean_frames), <=, 1);
  /* (a camera with audio: frames are not counted, as in check_killed) */
  if (c->audio == NULL)
    g_assert_cmpint (play_count (db, input, clean->segment->start_ns,
            clean->segment->end_ns), ==, (gint) clean_rows);
}

typedef struct
{
  gint64 start, end;            /* running time; start G_MAXINT64: none */
  gint64 frame;                 /* the longest buffer */
} Span;

static void
on_clip_buffer (GstElement * sink, GstBuffer * buf, GstPad * pad, Span * span)
{
  g_autoptr (GstEvent) ev = gst_pad_get_sticky_event (pad, GST_EVENT_SEGMENT,
      0);
  const GstSegment *seg;
  g_assert_nonnull (ev);
  gst_event_parse_segment (ev, &seg);
  GstClockTime pts = GST_BUFFER_PTS (buf), dur = GST_BUFFER_DURATION (buf);
  if (!GST_CLOCK_TIME_IS_VALID (pts) || !GST_CLOCK_TIME_IS_VALID (dur))
    return;
  /* what is shown of it, as a decoder clips it (the remux's pre-roll,
   * before the edit list's start, not at all) */
  GstClockTime from = MAX (pts, seg->start), to = pts + dur;
  if (GST_CLOCK_TIME_IS_VALID (seg->stop))
    to = MIN (to, seg->stop);
  if (to <= from)
    return;
  guint64 rs = gst_segment_to_running_time (seg, GST_FORMAT_TIME, from);
  guint64 re = gst_segment_to_running_time (seg, GST_FORMAT_TIME, to);
  span->start = MIN (span->start, (gint64) rs);
  span->end = MAX (span->end, (gint64) re);
  span->frame = MAX (span->frame, (gint64) dur);
}

/* Where each track of @path plays, decoded (qtdemux, edit lists
 * honoured). */
static void
read_spans (const gchar * path, Span * video, Span * audio)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *desc = g_strdup_printf ("filesrc location=\"%s\" ! "
      "qtdemux name=d d.video_0 ! queue ! decodebin ! fakesink name=v "
      "signal-handoffs=true d.audio_0 ! queue ! decodebin ! fakesink name=a "
      "signal-handoffs=true", path);
  g_autoptr (GstElement) p = gst_parse_launch (desc, &error);
  g_assert_no_error (error);
  Span *spans[] = { video, audio };
  const gchar *names[] = { "v", "a" };
  for (guint i = 0; i < 2; i++) {
    *spans[i] = (Span) {
    G_MAXINT64, G_MININT64, 0};
    g_autoptr (GstElement) sink = gst_bin_get_by_name (GST_BIN (p), names[i]);
    g_signal_connect (sink, "handoff", G_CALLBACK (on_clip_buffer), spans[i]);
  }
  lb_test_play_to_eos (p);
}

/* A videoHighRes clip of [@start, @end) of the audio input: its video and
 * its audio start and end within one audio frame of each other. */
static void
check_clip_sync (const gchar * dir, const gchar * db, const LbSegment * seg,
    gint64 start, gint64 end, const gchar * name)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *tdir = g_build_filename (g_getenv ("LB_SOURCE_ROOT"),
      "pipelines", NULL);
  g_autoptr (LbPipelines) pipelines = lb_pipelines_load (tdir, &error);
  g_assert_no_error (error);
  g_autofree gchar *out = g_strdup_printf ("%s/%s.mp4", dir, name);
  LbJobRun run = {.media_type = LB_MEDIA_TYPE_VIDEO_HIGH_RES,.db_path = db,
    .vehicle = VEHICLE,.input = AUDIO_INPUT,.start_ns = start,.end_ns = end,
    .output_path = out,.codec = seg->codec,.width = seg->width,
    .height = seg->height,.fps_n = FPS,.fps_d = 1,
  };
  gboolean ran = lb_job_run (pipelines, &run, &error);
  g_assert_no_error (error);
  g_assert_true (ran);
  Span v, a;
  read_spans (out, &v, &a);
  g_test_message ("clip %s: video %" G_GINT64_FORMAT " – %" G_GINT64_FORMAT
      " ms, audio %" G_GINT64_FORMAT " – %" G_GINT64_FORMAT " ms", name,
      v.start / LB_NS_PER_MS, v.end / LB_NS_PER_MS, a.start / LB_NS_PER_MS,
      a.end / LB_NS_PER_MS);
  g_assert_cmpint (v.start, <, v.end);
  g_assert_cmpint (a.start, <, a.end);
  g_assert_cmpint (ABS (a.start - v.start), <=, a.frame);
  g_assert_cmpint (ABS (a.end - v.end), <=, a.frame);
}

/* The inputs recording the camera: the video one, and with the camera's
 * audio one with audio=true. */
static gchar *
crash_config (const CrashCase * c, LbTestCamera * cam)
{
  /* B-frames: the RTP timestamps as they are (the jitter buffer's default
   * slaving to arrival times puts B-frames out of order; README).  Audio
   * too: slaved to arrival times, the video's times jump by the streams'
   * offset (up to half a second) when the first RTCP sender reports line
   * them up, and the index's times with them. */
  g_autofree gchar *source = cam ?
      g_strdup_printf ("rtspsrc location=%s protocols=tcp latency=200%s",
      cam->url, c->bframes || c->audio ? " buffer-mode=synced" : "") :
      g_strdup_printf ("videotestsrc is-live=true pattern=ball ! "
      "video/x-raw,width=160,height=120,framerate=%d/1", FPS);
  g_autofree gchar *audio = c->audio ? g_strdup_printf ("[input " VEHICLE
      " " AUDIO_INPUT "]\nsource=%s\naudio=true\n", source) : g_strdup ("");
  g_autofree gchar *sub = c->sub ? g_strdup_printf ("sub-source=rtspsrc "
      "location=%.*s/sub protocols=tcp latency=200\n",
      (int) strlen (cam->url) - 4, cam->url) : g_strdup ("");
  return g_strdup_printf ("[server]\nlisten=127.0.0.1:0\n"
      "[store]\ndir=store\n"
      "[recorder]\nsegment-duration=60s\nfragment-duration=1s\n"
      "[input " VEHICLE " " VIDEO_INPUT "]\nsource=%s\n%s%s", source, sub,
      audio);
}

/* Records, kills lookbackd just before the 6th keyframe of the input that
 * started last (the worst moment: the GOP being captured is nearly
 * complete; the inputs record one camera, whose keyframes they share),
 * restarts it (reconcile
 * closes the killed segments), records a little and stops it; the kill's
 * wall clock. */
static gint64
record_and_kill (const gchar * dir, const gchar * conf, const CrashCase * c,
    gint64 t0)
{
  g_autofree gchar *log = g_build_filename (dir, "lookbackd.log", NULL);
  g_autofree gchar *all = g_build_filename (dir, "store", "segments", NULL);
  const gchar *inputs[] = { VIDEO_INPUT, c->sub ? VIDEO_INPUT ".sub" : NULL,
    c->audio ? AUDIO_INPUT : NULL
  };
  GPid pid = daemon_start (conf, log);
  /* each input's pipeline starts on its own (one with audio waits for the
   * audio's pad): timed from the one whose first frame came last */
  gint64 first_ns = 0;
  guint n = 0;
  for (guint i = 0; i < G_N_ELEMENTS (inputs); i++) {
    if (inputs[i] == NULL)
      continue;
    g_autofree gchar *segdir = g_build_filename (all, VEHICLE, inputs[i],
        NULL);
    first_ns = MAX (first_ns, first_frame_time (segdir, t0));
    n++;
  }
  gint64 kill_at = first_ns + 5900 * LB_NS_PER_MS;
  while (lb_time_now () < kill_at)
    g_usleep (MAX (1000, (kill_at - lb_time_now ()) / 1000));
  gint64 t_kill = lb_time_now ();
  kill (pid, SIGKILL);
  g_assert_cmpint (daemon_wait (pid, 5000), ==, 128 + SIGKILL);
  g_spawn_close_pid (pid);
  g_assert_cmpuint (count_files (all), ==, n);

  pid = daemon_start (conf, log);
  /* Each input makes its file at its first keyframe, 1 to 2 s after the
   * start.  A camera that does not answer the new connection (seen twice
   * in the loaded plain suite: neither input of the camera connected
   * within 15 s) is given up by rtspsrc after its tcp-timeout, 20 s, and
   * the recorder connects again: that is waited for too. */
  for (guint i = 0; i < RESTART_WAIT_S * 10 && count_files (all) < 2 * n; i++)
    g_usleep (100 * 1000);
  if (count_files (all) != 2 * n) {
    /* say why before failing: which input did not start again */
    g_autofree gchar *so_far = NULL;
    g_file_get_contents (log, &so_far, NULL, NULL);
    g_test_message ("lookbackd log (an input made no file after the "
        "restart):\n%s", so_far);
  }
  g_assert_cmpuint (count_files (all), ==, 2 * n);
  g_usleep (2500 * 1000);
  kill (pid, SIGTERM);
  gint status = daemon_wait (pid, 15000);
  g_spawn_close_pid (pid);
  g_autofree gchar *logtext = NULL;
  g_file_get_contents (log, &logtext, NULL, NULL);
  g_test_message ("lookbackd log:\n%s", logtext);
  g_assert_cmpint (status, ==, 0);
  return t_kill;
}

/* The killed and the clean segment of @input; how much the kill lost. */
static gint64
check_input (const CrashCase * c, LbStore * store, const gchar * db,
    const gchar * input, gint64 t0, gint64 t_kill, gint64 t_end,
    LbFootagePlan ** out_plan)
{
  g_autoptr (GError) error = NULL;
  LbFootagePlan *plan = lb_store_lookup (store, VEHICLE, input,
      t0 - LB_NS_PER_SEC, t_end, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (plan->pieces->len, ==, 2);
  LbFootagePiece *killed = plan->pieces->pdata[0];
  check_killed (c, db, input, killed, t0, t_kill);
  check_clean (c, db, input, plan->pieces->pdata[1], t_kill);
  *out_plan = plan;
  return t_kill - killed->segment->end_ns;
}

static void
test_crash (gconstpointer data)
{
  const CrashCase *c = data;
  g_autofree gchar *dir = g_dir_make_tmp ("lb-crash-XXXXXX", NULL);
  g_autofree gchar *conf = g_build_filename (dir, "lookback.conf", NULL);
  LbTestCamera *cam = c->camera[0] ? lb_test_camera_start (0, c->camera)
      : NULL;
  g_autofree gchar *text = crash_config (c, cam);
  g_assert_true (g_file_set_contents (conf, text, -1, NULL));

  gint64 t0 = lb_time_now ();
  gint64 t_kill = record_and_kill (dir, conf, c, t0);
  if (cam)
    lb_test_camera_kill (cam);
  gint64 t_end = lb_time_now ();

  g_autofree gchar *db = g_build_filename (dir, "store", "lookback.db", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (LbStore) store = lb_store_open (db, LB_STORE_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
  g_assert_true (lb_store_check_integrity (store, &error));
  g_assert_no_error (error);
  g_autoptr (LbFootagePlan) plan = NULL;
  gint64 lost = check_input (c, store, db, VIDEO_INPUT, t0, t_kill, t_end,
      &plan);
  if (c->sub) {
    /* the sub-stream: as much kept as of the main stream */
    g_autoptr (LbFootagePlan) subs = NULL;
    check_input (c, store, db, VIDEO_INPUT ".sub", t0, t_kill, t_end, &subs);
    g_assert_cmpint (((LbFootagePiece *) subs->pieces->pdata[0])->segment->
        width, ==, 96);
  }
  if (c->audio) {
    /* reconcile used the killed segment's sample journal, the clean stop
     * removed the other's: none is left */
    g_autofree gchar *adir = g_build_filename (dir, "store", "segments",
        VEHICLE, AUDIO_INPUT, NULL);
    g_autoptr (GDir) d = g_dir_open (adir, 0, NULL);
    g_assert_nonnull (d);
    for (const gchar * n; (n = g_dir_read_name (d));)
      g_assert_false (g_str_has_suffix (n, ".journal"));
    /* the same camera, the same kill: the input with audio loses no more,
     * but for the audio still in transit at the kill (as in
     * check_killed_audio): its video is kept as far as its audio goes, so
     * that clips end with both */
    g_autoptr (LbFootagePlan) aplan = NULL;
    gint64 alost = check_input (c, store, db, AUDIO_INPUT, t0, t_kill, t_end,
        &aplan);
    g_test_message ("lost %" G_GINT64_FORMAT " ms without audio, %"
        G_GINT64_FORMAT " ms with", lost / LB_NS_PER_MS, alost / LB_NS_PER_MS);
    g_assert_cmpint (alost, <=, lost + AUDIO_TRANSIT_NS);
    /* clips made after the restart: the killed segment's last GOP (its
     * recovered tail), and its last three.  (They start and end at frames:
     * a clip starts with the frame shown at its start, which may begin a
     * video frame before its audio.  Not across the kill: a clip across a
     * gap is another matter, tests/jobs/test-audio.c.) */
    const LbFootagePiece *killed = aplan->pieces->pdata[0];
    guint n = killed->keyframes->len;
    g_assert_cmpuint (n, >=, 3);
    check_clip_sync (dir, db, killed->segment, g_array_index (killed->keyframes,
            LbKeyframe, n - 1).time_ns, killed->segment->end_ns, "last-gop");
    check_clip_sync (dir, db, killed->segment, g_array_index (killed->keyframes,
            LbKeyframe, n - 3).time_ns, killed->segment->end_ns, "last-gops");
  }
  lb_test_rm_rf (dir);
}

/* The API address lookbackd logs once it listens; NULL if it exits first. */
static gchar *
daemon_uri (GPid pid, const gchar * log)
{
  for (guint i = 0; i < 300; i++) {
    g_autofree gchar *text = NULL;
    g_file_get_contents (log, &text, NULL, NULL);
    const gchar *at = text ? strstr (text, "API on ") : NULL;
    if (at)
      return g_strndup (at + 7, strcspn (at + 7, ", \n"));
    if (waitpid (pid, NULL, WNOHANG) == pid)
      return NULL;
    g_usleep (100 * 1000);
  }
  return NULL;
}

static guint
http_get_status (const gchar * uri, const gchar * path)
{
  g_autoptr (SoupSession) session = soup_session_new ();
  g_autofree gchar *url = g_strconcat (uri, path, NULL);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
  g_autoptr (GError) error = NULL;
  GBytes *body = soup_session_send_and_read (session, msg, NULL, &error);
  g_assert_no_error (error);
  g_bytes_unref (body);
  return soup_message_get_status (msg);
}

static void
write_segment (const gchar * path, const guint8 * data, gsize len)
{
  g_autofree gchar *dir = g_path_get_dirname (path);
  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (path, (const gchar *) data, len, NULL));
}

/* Broken files in the segments folder (garbage, cut short, damaged) never
 * stop lookbackd: it starts, answers, and has moved them to the
 * quarantine. */
static void
test_broken_files (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lb-broken-XXXXXX", NULL);
  g_autofree gchar *conf = g_build_filename (dir, "lookback.conf", NULL);
  g_autofree gchar *log = g_build_filename (dir, "lookbackd.log", NULL);
  g_autofree gchar *store = g_build_filename (dir, "store", NULL);
  g_autofree gchar *rec_conf = g_strdup_printf ("[store]\ndir=%s\n"
      "[recorder]\nsegment-duration=60s\n"
      "[input veh-5 analog1]\nsource=videotestsrc is-live=true "
      "pattern=ball ! video/x-raw,width=160,height=120,framerate=15/1\n",
      store);
  g_autofree gchar *text = g_strdup_printf ("[server]\nlisten=127.0.0.1:0\n"
      "[store]\ndir=store\n[recorder]\nenabled=false\n");
  g_assert_true (g_file_set_contents (conf, text, -1, NULL));

  /* One real segment, recorded here. */
  g_autoptr (RecSession) session = rec_session_start (rec_conf);
  while (lb_recorder_count_closed (session->recorder) == 0
      && lb_recorder_count_recording (session->recorder) == 0)
    rec_run_for (100);
  rec_run_for (2500);
  rec_session_stop (session);
  g_clear_pointer (&session, rec_session_free);
  g_autoptr (GPtrArray) files = rec_list_mp4 (store);
  g_assert_cmpuint (files->len, ==, 1);
  gsize n = 0;
  g_autofree guint8 *good = NULL;
  g_assert_true (g_file_get_contents (files->pdata[0], (gchar **) & good, &n,
          NULL));

  /* Its broken cousins, named like segments of another input. */
  gint64 t = lb_time_now ();
  const gchar *what[] = { "garbage", "cut in its header", "damaged header" };
  gchar *broken[3];
  for (guint i = 0; i < 3; i++)
    broken[i] = lb_footage_segment_path (store, "veh-5", "analog2",
        t + i * LB_NS_PER_SEC);
  guint8 garbage[8192];
  for (guint i = 0; i < sizeof garbage; i++)
    garbage[i] = (guint8) g_test_rand_int ();
  write_segment (broken[0], garbage, sizeof garbage);
  write_segment (broken[1], good, 200);
  g_autofree guint8 *damaged = g_memdup2 (good, n);
  memset (damaged + 8, 0xff, 64);
  write_segment (broken[2], damaged, n);

  GPid pid = daemon_start (conf, log);
  g_autofree gchar *uri = daemon_uri (pid, log);
  g_autofree gchar *logtext = NULL;
  g_file_get_contents (log, &logtext, NULL, NULL);
  g_test_message ("lookbackd log:\n%s", logtext);
  g_assert_nonnull (uri);
  g_assert_cmpuint (http_get_status (uri, "/healthz"), ==, 200);
  kill (pid, SIGTERM);
  g_assert_cmpint (daemon_wait (pid, 15000), ==, 0);
  g_spawn_close_pid (pid);

  for (guint i = 0; i < 3; i++) {
    g_test_message ("%s: %s", what[i], broken[i]);
    g_assert_false (g_file_test (broken[i], G_FILE_TEST_EXISTS));
    g_autofree gchar *name = g_path_get_basename (broken[i]);
    g_autofree gchar *moved = g_build_filename (store, "quarantine",
        "segments", "veh-5", "analog2", name, NULL);
    g_assert_true (g_file_test (moved, G_FILE_TEST_IS_REGULAR));
    g_autofree gchar *line = g_strdup_printf ("segment file %s is broken",
        broken[i]);
    g_assert_nonnull (strstr (logtext, line));
    g_free (broken[i]);
  }
  /* the good segment is still there */
  g_autofree gchar *segments = g_build_filename (store, "segments", NULL);
  g_autoptr (GPtrArray) left = rec_list_mp4 (segments);
  g_assert_cmpuint (left->len, ==, 1);
  lb_test_rm_rf (dir);
}

/* A segment file of @segdir newer than @tried, stopped (SIGSTOP) within
 * its first fragment: it has samples but no moov yet (mp4mux writes it when
 * the second fragment begins).  A file caught later is let go on. */
static gchar *
stop_in_first_fragment (GPid pid, const gchar * segdir)
{
  g_autofree gchar *tried = NULL;
  for (guint i = 0; i < 6000; i++, g_usleep (10 * 1000)) {
    g_autoptr (GPtrArray) files = rec_list_mp4 (segdir);
    const gchar *last = files->len >= 2 ? files->pdata[files->len - 1] : NULL;
    GStatBuf st;
    /* (48 bytes: ftyp, free and the mdat header, without a sample) */
    if (last == NULL || g_strcmp0 (last, tried) == 0 || g_stat (last, &st) != 0
        || st.st_size <= 48)
      continue;
    kill (pid, SIGSTOP);
    g_autoptr (LbMp4Init) init = NULL;
    g_autoptr (GError) error = NULL;
    if (!lb_mp4_read_init_path (last, &init, &error)
        && g_error_matches (error, LB_ERROR, LB_ERROR_NOT_YET))
      return g_strdup (last);
    g_free (tried);
    tried = g_strdup (last);
    kill (pid, SIGCONT);
  }
  g_assert_not_reached ();
}

/* lookbackd killed within a new segment's first fragment, before the
 * muxer wrote the file's moov: the next start recovers the file's frames
 * from the input's previous segment and indexes them; nothing is
 * quarantined. */
static void
test_crash_first_fragment (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("lb-crash-first-XXXXXX", NULL);
  g_autofree gchar *conf = g_build_filename (dir, "lookback.conf", NULL);
  g_autofree gchar *log = g_build_filename (dir, "lookbackd.log", NULL);
  g_autofree gchar *segdir = g_build_filename (dir, "store", "segments",
      VEHICLE, VIDEO_INPUT, NULL);
  static const gchar *args[] = { "--codec", "h264", "--bframes", "2",
    "--fps", "15", NULL
  };
  LbTestCamera *cam = lb_test_camera_start (0, args);
  g_autofree gchar *text = g_strdup_printf ("[server]\nlisten=127.0.0.1:0\n"
      "[store]\ndir=store\n[recorder]\nsegment-duration=5s\n"
      "fragment-duration=1s\n[input " VEHICLE " " VIDEO_INPUT "]\n"
      "source=rtspsrc location=%s protocols=tcp latency=200 "
      "buffer-mode=synced\n", cam->url);
  g_assert_true (g_file_set_contents (conf, text, -1, NULL));

  GPid pid = daemon_start (conf, log);
  g_autofree gchar *victim = stop_in_first_fragment (pid, segdir);
  kill (pid, SIGKILL);
  g_assert_cmpint (daemon_wait (pid, 5000), ==, 128 + SIGKILL);
  g_spawn_close_pid (pid);
  g_autofree gchar *log2 = g_build_filename (dir, "restart.log", NULL);
  pid = daemon_start (conf, log2);
  g_autofree gchar *uri = daemon_uri (pid, log2);
  g_assert_nonnull (uri);
  kill (pid, SIGTERM);
  g_assert_cmpint (daemon_wait (pid, 15000), ==, 0);
  g_spawn_close_pid (pid);
  lb_test_camera_kill (cam);
  g_autofree gchar *logtext = NULL;
  g_file_get_contents (log2, &logtext, NULL, NULL);
  g_test_message ("lookbackd log:\n%s", logtext);

  g_autofree gchar *line = g_strdup_printf ("segment file %s was not in the "
      "index: indexed; it had no moov: ", victim);
  g_assert_nonnull (strstr (logtext, line));
  g_autofree gchar *db = g_build_filename (dir, "store", "lookback.db", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (LbStore) store = lb_store_open (db, LB_STORE_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
  gint64 id = lb_store_segment_find_path (store, victim, &error);
  g_assert_no_error (error);
  g_assert_cmpint (id, !=, 0);
  g_autoptr (GArray) kf = lb_store_segment_keyframes (store, id, &error);
  g_assert_cmpuint (kf->len, ==, 1);
  g_assert_cmpuint (g_array_index (kf, LbKeyframe, 0).frames, >=, 1);
  g_autofree gchar *qdir = g_build_filename (dir, "store", "quarantine", NULL);
  g_assert_false (g_file_test (qdir, G_FILE_TEST_EXISTS));
  lb_test_rm_rf (dir);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  static const CrashCase encoded =
      { {NULL}, "h264", FALSE, 100 * LB_NS_PER_MS };
  static const CrashCase h265 = { {"--codec", "h265", "--fps", "15",
      "--sub-stream", "96x64", NULL}, "h265", FALSE, 400 * LB_NS_PER_MS,
  .sub = TRUE
  };
  static const CrashCase h265_b = { {"--codec", "h265", "--bframes", "2",
      "--fps", "15", NULL}, "h265", TRUE, 600 * LB_NS_PER_MS
  };
  /* no B-frames: x264 zerolatency, whose keyframes come in slices */
  static const CrashCase h264 = { {"--codec", "h264", "--fps", "15", NULL},
  "h264", FALSE, 400 * LB_NS_PER_MS
  };
  /* a camera with audio, recorded by an input with audio and one without:
   * the torn GOP is recovered for both (the audio one's by its sample
   * journal), with the same margin */
  static const CrashCase h264_b_aac = { {"--codec", "h264", "--bframes",
      "2", "--fps", "15", "--audio", "aac", NULL}, "h264", TRUE,
  600 * LB_NS_PER_MS, "aac"
  };
  g_test_add_data_func ("/recorder/crash", &encoded, test_crash);
  g_test_add_data_func ("/recorder/crash/rtsp-h265-sub-stream", &h265,
      test_crash);
  g_test_add_data_func ("/recorder/crash/rtsp-h265-bframes", &h265_b,
      test_crash);
  g_test_add_data_func ("/recorder/crash/rtsp-h264", &h264, test_crash);
  g_test_add_data_func ("/recorder/crash/rtsp-h264-bframes-aac", &h264_b_aac,
      test_crash);
  g_test_add_func ("/recorder/crash/first-fragment", test_crash_first_fragment);
  g_test_add_func ("/recorder/broken-files", test_broken_files);
  return g_test_run ();
}
