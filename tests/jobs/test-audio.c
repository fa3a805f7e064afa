/* Audio end to end: lookbackd records an RTSP test camera (lb-test-camera
 * --audio, on loopback) whose audio is a tick once a second, at the
 * camera's running times 0 s, 1 s, 2 s, … — the times lbclockstamp draws
 * into the frames captured with them.  With audio=true the segments carry
 * the audio (AAC and Opus as they come, PCMA encoded to AAC) from the
 * first segment on, also when the camera's audio starts 1.5 s after its
 * video, and the index says so; a high-res and a low-res clip across a segment boundary (and,
 * for AAC, across a gap in the recording) each have one audio track as
 * long as their video, and each tick in them sounds with the frame stamped
 * with the same second, within one audio frame.  A hyperlapse carries no
 * audio (a still is a JPEG); with audio=false (the default) nothing of it is
 * recorded.  One lookbackd records every case at once, one camera and one
 * vehicle each.  A camera whose sub-stream (sub-source=) has no audio
 * gives low-res clips transcoded from the main stream, with its audio:
 * every output here comes from the main stream. */
#include "core/lb-time.h"
#include "store/lb-store-footage.h"
#include "jobs-test-daemon.h"
#include "jobs-test-media.h"
#include "lb-test-common.h"

#include <gst/app/gstappsink.h>
#include <gst/pbutils/pbutils.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#define INPUT "dashcamRoadFacing"
#define FPS 15
/* footage recorded before the retrievals */
#define RECORDED (15 * LB_NS_PER_SEC)

typedef struct
{
  const gchar *vehicle;         /* its input: VEHICLE INPUT */
  const gchar *camera;          /* lb-test-camera --audio */
  const gchar *bframes;         /* lb-test-camera --bframes ("0": x264
                                 * zerolatency, keyframes in slices) */
  const gchar *late;            /* lb-test-camera --audio-late (ms) */
  gboolean audio;               /* the input's audio= */
  const gchar *recorded;        /* LbSegment.audio */
  const gchar *caps;            /* caps name of the clips' audio */
  gint64 frame_ns;              /* one audio frame of the recording */
  gboolean gap;                 /* the camera drops out for a while */
  const gchar *source;          /* the source element and its options */
  LbTestCamera *cam;            /* running */
  gint64 back;                  /* gap: when the camera came back */
  gboolean sub;                 /* its sub-stream (no audio) is recorded */
} AudioCase;

/* rtspsrc with the RTP times as the camera stamped them; lbrtspsrc (what
 * data/lookback.conf recommends) needs no options */
#define RTSPSRC "rtspsrc protocols=tcp latency=200 buffer-mode=synced"
#define LBRTSPSRC "lbrtspsrc"

/* Waits until the index holds @span of @vehicle's footage (from @since);
 * its plan. */
static LbFootagePlan *
wait_recorded (JtDaemon * d, const gchar * vehicle, gint64 since, gint64 span)
{
  g_autoptr (LbStore) store = jt_daemon_open_store (d);
  for (guint i = 0; i < 900; i++) {
    g_autoptr (GError) error = NULL;
    LbFootagePlan *plan = lb_store_lookup (store, vehicle, INPUT, since,
        lb_time_now (), &error);
    g_assert_no_error (error);
    if (plan->pieces->len > 0 && plan->last_ns - MAX (since,
            ((LbFootagePiece *) plan->pieces->pdata[0])->segment->start_ns)
        >= span)
      return plan;
    lb_footage_plan_free (plan);
    g_usleep (100 * 1000);
  }
  g_error ("less than %" G_GINT64_FORMAT " s recorded in 90 s",
      span / LB_NS_PER_SEC);
}

/* The streams of @path: caps names and durations. */
typedef struct
{
  gchar *video, *audio;
  guint audio_tracks;
  GstClockTime video_ns, audio_ns;
} Streams;

static void
streams_clear (Streams * s)
{
  g_free (s->video);
  g_free (s->audio);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Streams, streams_clear);

/* The duration of each track as a player sees it (qtdemux, edit lists
 * honoured): last buffer end minus first buffer start. */
static void
read_streams (const gchar * path, Streams * out)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GstDiscoverer) disc = gst_discoverer_new (30 * GST_SECOND, &error);
  g_assert_no_error (error);
  g_autofree gchar *uri = gst_filename_to_uri (path, NULL);
  g_autoptr (GstDiscovererInfo) info = gst_discoverer_discover_uri (disc, uri,
      &error);
  g_assert_no_error (error);
  GList *audio = gst_discoverer_info_get_audio_streams (info);
  GList *video = gst_discoverer_info_get_video_streams (info);
  out->audio_tracks = g_list_length (audio);
  if (video) {
    g_autoptr (GstCaps) c = gst_discoverer_stream_info_get_caps (video->data);
    out->video = g_strdup (gst_structure_get_name (gst_caps_get_structure (c,
                0)));
  }
  if (audio) {
    g_autoptr (GstCaps) c = gst_discoverer_stream_info_get_caps (audio->data);
    out->audio = g_strdup (gst_structure_get_name (gst_caps_get_structure (c,
                0)));
  }
  gst_discoverer_stream_info_list_free (audio);
  gst_discoverer_stream_info_list_free (video);
}

/* Clip time of each tick in @path's audio (decoded as a player does):
 * where the level first rises above 0.2 after 0.2 s of quiet (GstClockTime
 * in a GArray); *@start, *@end: the extent of the audio; @holes: where it
 * stops and starts again (a camera's outage), as pairs of clip times. */
static GArray *
read_ticks (const gchar * path, GstClockTime * start, GstClockTime * end,
    GArray * holes)
{
  g_autofree gchar *desc = g_strdup_printf ("filesrc location=\"%s\" "
      "! qtdemux name=d d.audio_0 ! decodebin ! audioconvert ! audioresample "
      "! audio/x-raw,format=F32LE,channels=1,rate=48000,layout=interleaved "
      "! appsink name=sink sync=false", path);
  g_autoptr (GError) error = NULL;
  g_autoptr (GstElement) p = gst_parse_launch (desc, &error);
  g_assert_no_error (error);
  g_autoptr (GstElement) sink = gst_bin_get_by_name (GST_BIN (p), "sink");
  GArray *ticks = g_array_new (FALSE, FALSE, sizeof (GstClockTime));
  guint quiet = 48000;          /* samples since the last loud one */
  GstSample *s;

  *start = *end = GST_CLOCK_TIME_NONE;
  gst_element_set_state (p, GST_STATE_PLAYING);
  while ((s = gst_app_sink_try_pull_sample (GST_APP_SINK (sink),
              30 * GST_SECOND))) {
    GstBuffer *b = gst_sample_get_buffer (s);
    const GstSegment *seg = gst_sample_get_segment (s);
    GstClockTime t0 = gst_segment_to_running_time (seg, GST_FORMAT_TIME,
        GST_BUFFER_PTS (b));
    GstMapInfo map;
    gst_buffer_map (b, &map, GST_MAP_READ);
    const gfloat *x = (const gfloat *) map.data;
    guint n = map.size / sizeof (gfloat);
    if (!GST_CLOCK_TIME_IS_VALID (*start))
      *start = t0;
    else if (t0 > *end + GST_SECOND / 10) {
      g_array_append_val (holes, *end);
      g_array_append_val (holes, t0);
    }
    for (guint i = 0; i < n; i++) {
      if (fabsf (x[i]) > 0.2f) {
        if (quiet > 48000 / 5) {
          GstClockTime t = t0 + gst_util_uint64_scale (i, GST_SECOND, 48000);
          g_array_append_val (ticks, t);
        }
        quiet = 0;
      } else {
        quiet++;
      }
    }
    *end = t0 + gst_util_uint64_scale (n, GST_SECOND, 48000);
    gst_buffer_unmap (b, &map);
    gst_sample_unref (s);
  }
  g_assert_true (gst_app_sink_is_eos (GST_APP_SINK (sink)));
  gst_element_set_state (p, GST_STATE_NULL);
  return ticks;
}

/* Frames of @path (stamp, clip time) as a player shows them. */
static GArray *
read_video (const gchar * path)
{
  g_autofree gchar *desc = g_strdup_printf ("filesrc location=\"%s\" "
      "! qtdemux name=d d.video_0 ! decodebin ! videoconvert ! lbclockcheck "
      "! fakesink", path);
  return jt_read_frames (desc);
}

#define FRAME(a, i) g_array_index ((a), JtFrame, (i))
#define TICK(a, i) g_array_index ((a), GstClockTime, (i))

/* Whether clip time @t is within a frame of the audio's @holes (or two
 * before one: the tick would be cut off). */
static gboolean
near_hole (GArray * holes, gint64 t, gint64 frame_ns)
{
  for (guint i = 0; i + 1 < holes->len; i += 2)
    if (t + 2 * frame_ns >= (gint64) TICK (holes, i)
        && t < (gint64) TICK (holes, i + 1) + frame_ns)
      return TRUE;
  return FALSE;
}

/* Where each tick of @path sounds against where the stamps say the
 * camera's whole second is (between the stamps of the frames around it):
 * second → offset (ns), for the ticks the audio holds whole — of a clip,
 * only the seconds of @within (the recording's); across a gap there are
 * simply no ticks.  A camera's last audio before an outage ends where its
 * video ends in decode order: it sends its frames in that order, and the
 * last ones shown (a reference frame after its B-frames) can run up to the
 * B-frames' depth past the last audio it sent, a second's tick then
 * missing with the camera's next frames.  *@astart, *@aend: the audio's
 * extent; *@ticks_heard: ticks in the audio. */
static GHashTable *
tick_offsets (const gchar * path, GArray * frames, gint64 frame_ns,
    GHashTable * within, GstClockTime * astart, GstClockTime * aend,
    guint * ticks_heard)
{
  g_autoptr (GArray) holes = g_array_new (FALSE, FALSE, sizeof (GstClockTime));
  g_autoptr (GArray) ticks = read_ticks (path, astart, aend, holes);
  GHashTable *offsets = g_hash_table_new_full (g_int64_hash, g_int64_equal,
      g_free, g_free);

  *ticks_heard = ticks->len;
  for (guint i = 0; i + 1 < frames->len; i++) {
    const JtFrame *f = &FRAME (frames, i), *g = &FRAME (frames, i + 1);
    gint64 second = f->stamp % LB_NS_PER_SEC == 0 ? f->stamp :
        (f->stamp / LB_NS_PER_SEC + 1) * LB_NS_PER_SEC;
    /* consecutive frames only (not across a gap in the recording) */
    if (second >= g->stamp || g->stamp - f->stamp > LB_NS_PER_SEC / 5)
      continue;
    gint64 want = f->running_time + (second - f->stamp);
    gint64 best = G_MAXINT64;
    for (guint k = 0; k < ticks->len; k++)
      if (ABS ((gint64) TICK (ticks, k) - want) < ABS (best))
        best = (gint64) TICK (ticks, k) - want;
    g_test_message ("%s: second %" G_GINT64_FORMAT " at %" G_GINT64_FORMAT
        " ms, its tick %+" G_GINT64_FORMAT " us", path, second / LB_NS_PER_SEC,
        want / 1000000, best / 1000);
    if (want < (gint64) * astart + frame_ns
        || want + 2 * frame_ns >= (gint64) * aend
        || (within ? !g_hash_table_contains (within, &second)
            : near_hole (holes, want, frame_ns)))
      continue;
    g_hash_table_insert (offsets, g_memdup2 (&second, sizeof (second)),
        g_memdup2 (&best, sizeof (best)));
  }
  return offsets;
}

/* Whether @second is 3 s or more into its stretch of consecutive @frames:
 * RTSP puts a camera's audio in step with its video once the camera's
 * first RTCP sender reports came (rtpbin), a second or two after it
 * connects. */
static gboolean
settled (GArray * frames, gint64 second)
{
  guint i = 0;
  while (i + 1 < frames->len && FRAME (frames, i + 1).stamp <= second)
    i++;
  while (i > 0 && FRAME (frames, i).stamp - FRAME (frames, i - 1).stamp <=
      LB_NS_PER_SEC / 5)
    i--;
  return second - FRAME (frames, i).stamp >= 3 * LB_NS_PER_SEC;
}

/* The clip @path is in sync: once the camera's streams are in step
 * (settled(); before, the video's times step when they are lined up, and
 * a re-encoded clip may move a frame there), each tick sounds where it
 * does in the recording @reference (what lookback received), within one
 * audio frame, and that is where the camera's stamps put it, within two
 * (an AAC encoder's priming delays its sound by up to one frame). */
static void
check_sync (const gchar * path, const gchar * reference, const AudioCase * c,
    guint min_ticks)
{
  g_autoptr (GArray) frames = read_video (path);
  g_autoptr (GArray) ref_frames = read_video (reference);
  GstClockTime astart, aend, rs, re;
  guint heard, ref_heard;
  g_assert_cmpuint (frames->len, >, 1);
  g_autoptr (GHashTable) want = tick_offsets (reference, ref_frames,
      c->frame_ns, NULL, &rs, &re, &ref_heard);
  g_autoptr (GHashTable) got = tick_offsets (path, frames, c->frame_ns,
      want, &astart, &aend, &heard);
  GHashTableIter it;
  gpointer key, value;
  guint matched = 0;

  g_hash_table_iter_init (&it, got);
  while (g_hash_table_iter_next (&it, &key, &value)) {
    const gint64 *ref = g_hash_table_lookup (want, key);
    g_assert_nonnull (ref);
    if (settled (ref_frames, *(gint64 *) key)) {
      g_assert_cmpint (ABS (*(gint64 *) value - *ref), <=, c->frame_ns);
      g_assert_cmpint (ABS (*(gint64 *) value), <=, 2 * c->frame_ns);
      matched++;
    }
  }
  g_assert_cmpuint (matched, >=, min_ticks);
  /* no tick where the camera made none */
  g_assert_cmpuint (heard, <=, g_hash_table_size (got) + 2);

  /* one audio track, as long as the video (within one audio frame) */
  g_auto (Streams) s = { 0 };
  read_streams (path, &s);
  g_assert_cmpuint (s.audio_tracks, ==, 1);
  g_assert_cmpstr (s.audio, ==, c->caps);
  const JtFrame *last = &FRAME (frames, frames->len - 1);
  gint64 vstart = FRAME (frames, 0).running_time;
  gint64 vend = last->running_time + LB_NS_PER_SEC / FPS;
  g_test_message ("%s: video %" G_GINT64_FORMAT " – %" G_GINT64_FORMAT
      " ms, audio %" G_GINT64_FORMAT " – %" G_GINT64_FORMAT " ms", path,
      vstart / 1000000, vend / 1000000, (gint64) astart / 1000000,
      (gint64) aend / 1000000);
  g_assert_cmpint (ABS ((gint64) astart - vstart), <=, c->frame_ns);
  /* the audio is the range's; a re-encoded clip's last frame may begin
   * just before the end and last a frame past it.  Across a camera's
   * outage, on a loaded machine (ASan), a videoLowRes clip was seen with
   * one video frame more than the videoHighRes clip of the same range
   * (frames after the reconnect come at uneven times): a known issue
   * (#12), given one frame more here until it is fixed. */
  gint64 slack = MAX (c->frame_ns, LB_NS_PER_SEC / FPS);
  if (c->gap)
    slack += LB_NS_PER_SEC / FPS;
  g_assert_cmpint (ABS ((gint64) aend - vend), <=, slack);
}

/* No audio track in @path. */
static void
check_silent (const gchar * path)
{
  g_auto (Streams) s = { 0 };
  read_streams (path, &s);
  g_assert_cmpuint (s.audio_tracks, ==, 0);
}

/* @c's sub-stream covers [@start, @end): only its want of audio keeps a
 * low-res clip from being its remux. */
static void
check_sub_covers (JtDaemon * d, const AudioCase * c, gint64 start, gint64 end)
{
  g_autoptr (LbStore) store = jt_daemon_open_store (d);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *sub = lb_footage_sub_input (INPUT);
  g_autoptr (LbFootagePlan) plan = lb_store_lookup (store, c->vehicle, sub,
      start, end, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (plan->pieces->len, >=, 1);
  g_assert_cmpuint (plan->gaps->len, ==, 0);
  const LbSegment *first =
      ((LbFootagePiece *) g_ptr_array_index (plan->pieces, 0))->segment;
  g_assert_cmpint (first->start_ns, <=, start);
  g_assert_cmpint (plan->last_ns, >=, end);
  g_assert_null (first->audio);
}

static gchar *
retrieve (JtDaemon * d, const AudioCase * c, const gchar * media_type,
    gint64 start, gint64 end)
{
  g_autoptr (JsonObject) m = jt_daemon_retrieve (d, c->vehicle, INPUT,
      media_type, start, end, 60);
  g_assert_cmpstr (json_object_get_string_member (m, "status"), ==,
      "available");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member
          (m, "coverage"), "stream"), ==, "main");
  gchar *path = g_strdup_printf ("%s/out-%s-%s.%s", d->dir, c->vehicle,
      media_type, g_str_equal (media_type, "image") ? "jpg" : "mp4");
  jt_daemon_download (d, m, path);
  return path;
}

/* The start of the third piece: a segment boundary ten seconds in, when
 * the camera's streams have long settled. */
static gint64
boundary (const LbFootagePlan * plan)
{
  g_assert_cmpuint (plan->pieces->len, >=, 3);
  return ((LbFootagePiece *) g_ptr_array_index (plan->pieces,
          2))->segment->start_ns;
}

/* one frame: 1024 samples of 48 kHz AAC, 20 ms of Opus */
#define AAC_FRAME 21333334
#define OPUS_FRAME 20000000
/* AAC, late G.711 and audio off through lbrtspsrc; the lost camera and
 * Opus through rtspsrc (tests/recorder/test-camera-loss.c loses a camera
 * through lbrtspsrc) */
static AudioCase cases[] = {
  {.vehicle = "1001",.camera = "aac",.bframes = "2",.audio = TRUE,
        .recorded = "aac",.caps = "audio/mpeg",.frame_ns = AAC_FRAME,
      .sub = TRUE,.source = LBRTSPSRC},
  {.vehicle = "1002",.camera = "aac",.bframes = "2",.audio = TRUE,
        .recorded = "aac",.caps = "audio/mpeg",.frame_ns = AAC_FRAME,
      .gap = TRUE,.source = RTSPSRC},
  {.vehicle = "1003",.camera = "opus",.bframes = "0",.audio = TRUE,
        .recorded = "opus",.caps = "audio/x-opus",.frame_ns = OPUS_FRAME,
      .source = RTSPSRC},
  /* its audio starts 1.5 s after its video, every time it connects */
  {.vehicle = "1004",.camera = "pcma",.bframes = "2",.late = "1500",
      .audio = TRUE,.recorded = "aac",.caps = "audio/mpeg",.frame_ns =
        AAC_FRAME,.source = LBRTSPSRC},
  {.vehicle = "1005",.camera = "aac",.bframes = "0",
      .frame_ns = AAC_FRAME,.source = LBRTSPSRC},
};

/* The recording all the cases read, started by the first that asks. */
static struct
{
  JtDaemon *d;
  gint64 t0;
} rec;

static LbTestCamera *
start_camera (const AudioCase * c, gint port)
{
  const gchar *args[] = { "--audio", c->camera, "--stamp", "--fps",
    G_STRINGIFY (FPS), "--bframes", c->bframes, "--audio-late",
    c->late ? c->late : "0", c->sub ? "--sub-stream" : NULL, "96x64", NULL
  };
  return lb_test_camera_start (port, args);
}

/* Every case's camera recorded by one lookbackd; the gap case's camera
 * drops out after 8 s for 3 s. */
static JtDaemon *
recording (void)
{
  if (rec.d)
    return rec.d;
  g_autoptr (GString) conf = g_string_new ("[recorder]\nsegment-duration=5s\n"
      "retry-min=1s\nretry-max=1s\n"
      "[jobs]\nworkers=1\n[api]\nreads-per-second=10000\n");
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    AudioCase *c = &cases[i];
    c->cam = start_camera (c, 0);
    g_string_append_printf (conf, "[input %s " INPUT "]\nsource=%s "
        "location=%s\n%s", c->vehicle, c->source, c->cam->url,
        c->audio ? "audio=true\n" : "");
    if (c->sub)
      g_string_append_printf (conf, "sub-source=%s location=%.*s/sub\n",
          c->source, (int) strlen (c->cam->url) - 4, c->cam->url);
  }
  rec.t0 = lb_time_now ();
  rec.d = jt_daemon_new (conf->str);
  jt_daemon_start (rec.d);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    AudioCase *c = &cases[i];
    if (!c->gap)
      continue;
    g_autoptr (LbFootagePlan) before = wait_recorded (rec.d, c->vehicle,
        rec.t0, 8 * LB_NS_PER_SEC);
    gint port = lb_test_camera_port (c->cam);
    lb_test_camera_kill (c->cam);
    g_usleep (3 * G_USEC_PER_SEC);
    c->back = lb_time_now ();
    c->cam = start_camera (c, port);
  }
  return rec.d;
}

static void
test_audio (gconstpointer data)
{
  const AudioCase *c = data;
  JtDaemon *d = recording ();
  if (c->gap) {
    /* 8 s, then the camera drops out for 3 s and comes back for 9 s */
    g_autoptr (LbFootagePlan) after = wait_recorded (d, c->vehicle, c->back,
        9 * LB_NS_PER_SEC);
  }
  g_autoptr (LbFootagePlan) plan = wait_recorded (d, c->vehicle, rec.t0,
      RECORDED);
  for (guint i = 0; i < plan->pieces->len; i++) {
    const LbSegment *seg =
        ((LbFootagePiece *) g_ptr_array_index (plan->pieces, i))->segment;
    g_assert_cmpstr (seg->audio, ==, c->recorded);
  }
  gint64 b = boundary (plan);
  gint64 after_gap = 0;
  for (guint i = 0; c->gap && i < plan->gaps->len; i++) {
    const LbTimeRange *gap = &g_array_index (plan->gaps, LbTimeRange, i);
    if (gap->start_ns > plan->first_ns && gap->end_ns < plan->last_ns) {
      b = gap->start_ns;        /* the camera's outage */
      after_gap = gap->end_ns - gap->start_ns;
    }
  }
  g_assert_true (!c->gap || after_gap > 0);
  /* the recording as lookback received it: all of it, with its audio */
  g_autofree gchar *reference = g_strdup_printf ("%s/recording-%s.mp4",
      d->dir, c->vehicle);
  g_autofree gchar *db = g_build_filename (d->dir, "lookback.db", NULL);
  g_autofree gchar *copy = g_strdup_printf ("lbrecordingsrc name=src "
      "audio=true db=\"%s\" vehicle=%s input=" INPUT
      " start-time=%" G_GINT64_FORMAT " end-time=%" G_GINT64_FORMAT
      " ! queue ! mp4mux name=mux ! filesink location=\"%s\" src.audio "
      "! queue ! mux.", db, c->vehicle, plan->first_ns, plan->last_ns,
      reference);
  jt_run_launch (copy);
  /* 4 s from mid-GOP across a segment boundary (or the gap) */
  gint64 start = b - 2 * LB_NS_PER_SEC - LB_NS_PER_SEC / 3;
  gint64 end = start + 4 * LB_NS_PER_SEC + after_gap + (c->gap ?
      LB_NS_PER_SEC * 7 / 2 : 0);
  g_autofree gchar *hi = retrieve (d, c, "videoHighRes", start, end);
  check_sync (hi, reference, c, c->gap ? 2 : 3);
  if (c->sub)
    check_sub_covers (d, c, start, end);
  g_autofree gchar *lo = retrieve (d, c, "videoLowRes", start, end);
  check_sync (lo, reference, c, c->gap ? 2 : 3);
  g_autofree gchar *lapse = retrieve (d, c, "hyperlapse", plan->first_ns,
      plan->last_ns);
  check_silent (lapse);
}

/* audio=false (the default): the camera's audio is not recorded. */
static void
test_audio_off (gconstpointer data)
{
  const AudioCase *c = data;
  JtDaemon *d = recording ();
  g_autoptr (LbFootagePlan) plan = wait_recorded (d, c->vehicle, rec.t0,
      RECORDED);
  guint closed = 0;
  for (guint i = 0; i < plan->pieces->len; i++) {
    const LbSegment *seg =
        ((LbFootagePiece *) g_ptr_array_index (plan->pieces, i))->segment;
    g_assert_null (seg->audio);
    if (!seg->open) {
      check_silent (seg->path);
      closed++;
    }
  }
  g_assert_cmpuint (closed, >=, 2);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add_data_func ("/jobs/audio/aac", &cases[0], test_audio);
  g_test_add_data_func ("/jobs/audio/aac-gap", &cases[1], test_audio);
  g_test_add_data_func ("/jobs/audio/opus-sliced", &cases[2], test_audio);
  g_test_add_data_func ("/jobs/audio/pcma-late", &cases[3], test_audio);
  g_test_add_data_func ("/jobs/audio/off", &cases[4], test_audio_off);
  gint ret = g_test_run ();
  jt_daemon_finish (rec.d);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    if (cases[i].cam)
      lb_test_camera_kill (cases[i].cam);
  return ret;
}
