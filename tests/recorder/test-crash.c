/* Crash: lookbackd killed with SIGKILL while recording keeps everything up
 * to the GOP being captured at the kill; the next start reconciles it
 * (recovering the fragment whose moof was not written yet); a SIGTERM stops
 * it cleanly (exit 0) with every segment closed and indexed.  So from an
 * encoded test source, and from RTSP test cameras sending H.265 (with and
 * without B-frames) and H.264 with B-frames, recorded as they come; a
 * camera's sub-stream recorded with it loses no more than its main stream.  Broken
 * files in the segments folder are quarantined at start, never fatal. */
#include "rec-util.h"

#include "core/lb-config.h"
#include "core/lb-time.h"
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

/* Frames lbrecordingsrc gives for [@start_ns, @end_ns) of @input. */
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

  g_object_set (src, "db", db, "vehicle", "veh-4", "input", input,
      "start-time", start, "end-time", end, NULL);
  g_signal_connect_swapped (sink, "handoff", G_CALLBACK (g_atomic_int_inc),
      &count);
  gst_element_set_state (p, GST_STATE_PLAYING);
  g_autoptr (GstBus) bus = gst_element_get_bus (p);
  g_autoptr (GstMessage) msg = gst_bus_timed_pop_filtered (bus, 30 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  gst_element_set_state (p, GST_STATE_NULL);
  g_assert_nonnull (msg);
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    g_autoptr (GError) err = NULL;
    gst_message_parse_error (msg, &err, NULL);
    g_error ("lbrecordingsrc: %s", err->message);
  }
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
   * RTP jitter buffer's 200 ms, the timestamper's reorder window). */
  gint64 margin_ns;
  gboolean audio;               /* audio=true (the camera sends AAC) */
  gboolean sub;                 /* its sub-stream is recorded too (the
                                 * camera has --sub-stream) */
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

/* The killed segment's audio reaches as far as its video (within 0.3 s,
 * the camera's audio frames in transit at the kill): a crash loses no
 * more audio than video. */
static void
check_killed_audio (const LbSegment * seg)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LbMp4Init) init = NULL;
  g_assert_cmpstr (seg->audio, ==, "aac");
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
  g_assert_cmpint (audio_end, >=, seg->end_ns - 300 * LB_NS_PER_MS);
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
  g_assert_cmpint (killed->segment->end_ns, <=, t_kill);
  g_test_message ("killed at %" G_GINT64_FORMAT " ms, indexed to %"
      G_GINT64_FORMAT " ms",
      (t_kill - killed->segment->start_ns) / LB_NS_PER_MS,
      (killed->segment->end_ns - killed->segment->start_ns) / LB_NS_PER_MS);
  /* splitmuxsink holds the GOP being captured back (to decide where to
   * split) and mp4mux the last frame of the GOP before it (to time it);
   * reconcile recovers the rest of that GOP, whose moof mp4mux had not
   * written yet: at most one GOP (1 s) is lost, and the margin */
  g_assert_cmpint (killed->segment->end_ns, >=,
      t_kill - LB_NS_PER_SEC - c->margin_ns);
  g_assert_cmpuint (killed->keyframes->len, >=, 4);
  if (c->audio) {
    /* (frames are not counted: when the camera's first RTCP sender report
     * comes, about 2.5 s in, rtpbin moves the video's times to line it up
     * with the audio, and the timestamper gives a few B-frames one DTS) */
    check_killed_audio (killed->segment);
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

static void
test_crash (gconstpointer data)
{
  const CrashCase *c = data;
  g_autofree gchar *dir = g_dir_make_tmp ("lb-crash-XXXXXX", NULL);
  g_autofree gchar *conf = g_build_filename (dir, "lookback.conf", NULL);
  g_autofree gchar *log = g_build_filename (dir, "lookbackd.log", NULL);
  g_autofree gchar *segdir = g_build_filename (dir, "store", "segments",
      "veh-4", "dashcamRoadFacing", NULL);
  g_autofree gchar *subdir = g_strconcat (segdir, ".sub", NULL);
  LbTestCamera *cam = c->camera[0] ? lb_test_camera_start (0, c->camera)
      : NULL;
  /* B-frames: the RTP timestamps as they are (the jitter buffer's default
   * slaving to arrival times puts B-frames out of order; README) */
  g_autofree gchar *source = cam ?
      g_strdup_printf ("rtspsrc location=%s protocols=tcp latency=200%s",
      cam->url, c->bframes ? " buffer-mode=synced" : "") :
      g_strdup_printf ("videotestsrc is-live=true pattern=ball ! "
      "video/x-raw,width=160,height=120,framerate=%d/1", FPS);
  g_autofree gchar *sub = c->sub ? g_strdup_printf ("sub-source=rtspsrc "
      "location=%.*s/sub protocols=tcp latency=200\n",
      (int) strlen (cam->url) - 4, cam->url) : g_strdup ("");
  g_autofree gchar *text = g_strdup_printf ("[server]\nlisten=127.0.0.1:0\n"
      "[store]\ndir=store\n"
      "[recorder]\nsegment-duration=60s\nfragment-duration=1s\n"
      "[input veh-4 dashcamRoadFacing]\nsource=%s\naudio=%s\n%s", source,
      c->audio ? "true" : "false", sub);
  g_assert_true (g_file_set_contents (conf, text, -1, NULL));

  gint64 t0 = lb_time_now ();
  GPid pid = daemon_start (conf, log);
  /* Kill just before the 6th keyframe, the worst moment: the GOP being
   * captured is nearly complete. */
  gint64 kill_at = first_frame_time (segdir, t0) + 5900 * LB_NS_PER_MS;
  while (lb_time_now () < kill_at)
    g_usleep (MAX (1000, (kill_at - lb_time_now ()) / 1000));
  gint64 t_kill = lb_time_now ();
  kill (pid, SIGKILL);
  g_assert_cmpint (daemon_wait (pid, 5000), ==, 128 + SIGKILL);
  g_spawn_close_pid (pid);

  /* Restart (reconcile closes the killed segment), record a little, stop. */
  pid = daemon_start (conf, log);
  for (guint i = 0; i < 150 && (count_files (segdir) < 2 || (c->sub
              && count_files (subdir) < 2)); i++)
    g_usleep (100 * 1000);
  g_assert_cmpuint (count_files (segdir), ==, 2);
  if (c->sub)
    g_assert_cmpuint (count_files (subdir), ==, 2);
  g_usleep (2500 * 1000);
  kill (pid, SIGTERM);
  gint status = daemon_wait (pid, 15000);
  g_spawn_close_pid (pid);
  if (cam)
    lb_test_camera_kill (cam);
  g_autofree gchar *logtext = NULL;
  g_file_get_contents (log, &logtext, NULL, NULL);
  g_test_message ("lookbackd log:\n%s", logtext);
  g_assert_cmpint (status, ==, 0);
  gint64 t_end = lb_time_now ();

  g_autofree gchar *db = g_build_filename (dir, "store", "lookback.db", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (LbStore) store = lb_store_open (db, LB_STORE_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
  g_assert_true (lb_store_check_integrity (store, &error));
  g_assert_no_error (error);

  g_autoptr (LbFootagePlan) plan = lb_store_lookup (store, "veh-4",
      "dashcamRoadFacing", t0 - LB_NS_PER_SEC, t_end, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (plan->pieces->len, ==, 2);
  check_killed (c, db, "dashcamRoadFacing", plan->pieces->pdata[0], t0, t_kill);
  if (c->sub) {
    /* the sub-stream: as much kept as of the main stream */
    g_autoptr (LbFootagePlan) subs = lb_store_lookup (store, "veh-4",
        "dashcamRoadFacing.sub", t0 - LB_NS_PER_SEC, t_end, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (subs->pieces->len, ==, 2);
    check_killed (c, db, "dashcamRoadFacing.sub", subs->pieces->pdata[0], t0,
        t_kill);
    g_assert_cmpint (((LbFootagePiece *) subs->pieces->pdata[0])->segment->
        width, ==, 96);
  }

  /* The clean stop closed and indexed the second segment to its end. */
  LbFootagePiece *clean = plan->pieces->pdata[1];
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
  g_assert_cmpint (play_count (db, "dashcamRoadFacing",
          clean->segment->start_ns, clean->segment->end_ns), ==,
      (gint) clean_rows);
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
  static const CrashCase h264_b = { {"--codec", "h264", "--bframes", "2",
      "--fps", "15", NULL}, "h264", TRUE, 600 * LB_NS_PER_MS
  };
  g_test_add_data_func ("/recorder/crash", &encoded, test_crash);
  g_test_add_data_func ("/recorder/crash/rtsp-h265-sub-stream", &h265,
      test_crash);
  g_test_add_data_func ("/recorder/crash/rtsp-h265-bframes", &h265_b,
      test_crash);
  g_test_add_data_func ("/recorder/crash/rtsp-h264-bframes", &h264_b,
      test_crash);
  /* The torn GOP of a file with audio is not recovered (its audio frames
   * carry no length): one GOP more may be lost, of audio and video alike */
  static const CrashCase h264_b_audio = { {"--codec", "h264", "--bframes",
      "2", "--fps", "15", "--audio", "aac", NULL}, "h264", TRUE,
  1600 * LB_NS_PER_MS, TRUE
  };
  g_test_add_data_func ("/recorder/crash/rtsp-h264-bframes-audio",
      &h264_b_audio, test_crash);
  g_test_add_func ("/recorder/broken-files", test_broken_files);
  return g_test_run ();
}
