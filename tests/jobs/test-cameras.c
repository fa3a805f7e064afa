/* Real cameras end to end: lookbackd records an RTSP test camera
 * (lb-test-camera on loopback, every frame stamped with the wall clock of
 * its capture) sending H.265 or H.264 with or without B-frames (H.264
 * without them has its keyframes in slices), as it comes; then every retrieval type is asked over the API
 * and checked frame by frame.  The truth is the recording itself: what
 * lbrecordingsrc reads back gives each recorded frame's time and stamp, and
 * each output must hold exactly the frames it should (lbclockcheck reads
 * their stamps): the still the frame nearest the time, the clips the frames
 * from the one at the start to the one before the end, across a segment
 * boundary, the hyperlapse the keyframes.  One lookbackd records every
 * camera at once, one vehicle each.  One more vehicle has a sub-stream
 * (sub-source=, from a camera with --sub-stream): both streams are recorded
 * and indexed; low-res clips the sub-stream covers are its remux
 * (frame-exact, at its size), the others the main stream's transcode. */
#include "core/lb-time.h"
#include "store/lb-store-footage.h"
#include "jobs-test-daemon.h"
#include "jobs-test-media.h"
#include "lb-test-common.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#define INPUT "dashcamRoadFacing"
#define SUB_INPUT INPUT ".sub"  /* its sub-stream's, in the index */
#define SUB_VEHICLE "2005"
#define FPS 15
/* footage recorded before the retrievals */
#define RECORDED (12 * LB_NS_PER_SEC)

typedef struct
{
  const gchar *vehicle;         /* its input: VEHICLE INPUT */
  const gchar *codec;           /* "h264" / "h265" */
  const gchar *bframes;         /* B-frames between references ("0" with
                                 * H.264: x264 zerolatency, keyframes in
                                 * slices) */
  const gchar *clip_video;      /* caps of a high-res clip (remuxed) */
  const gchar *source;          /* the source element and its options */
  LbTestCamera *cam;            /* running */
} CameraCase;

/* The RTP times as the camera stamped them: lbrtspsrc's own, rtspsrc's with
 * buffer-mode=synced (as README asks for B-frame cameras).  rtspsrc's
 * default re-times frames by their arrival: on a loaded machine a frame then
 * lasts 30 to 430 ms instead of 67, and players (which show a frame for
 * 1/fps) disagree with the recorded times on which frame is on screen at a
 * clip's start. */
#define RTSPSRC "rtspsrc protocols=tcp latency=200 buffer-mode=synced"
#define LBRTSPSRC "lbrtspsrc"

typedef JtFrame Frame;          /* pts: recorded wall clock; stamp: capture */

/* Every frame lbrecordingsrc gives for [@start, @end) (@keyframes: mode),
 * decoded: its time and its stamp, in the order shown. */
static GArray *
recorded_frames (const gchar * db, const gchar * vehicle, const gchar * input,
    gint64 start, gint64 end, gboolean keyframes)
{
  g_autofree gchar *d = g_strdup_printf ("lbrecordingsrc db=\"%s\" "
      "vehicle=%s input=%s start-time=%" G_GINT64_FORMAT
      " end-time=%" G_GINT64_FORMAT " mode=%s ! decodebin ! videoconvert ! "
      "lbclockcheck ! fakesink", db, vehicle, input, start, end, keyframes ?
      "keyframes" : "all");
  return jt_read_frames (d);
}

#define AT(a, i) g_array_index ((a), Frame, (i))

/* Waits until the index holds @span of @vehicle's @input footage; its
 * start. */
static gint64
wait_recorded (JtDaemon * d, const gchar * vehicle, const gchar * input,
    gint64 since, gint64 span)
{
  g_autoptr (LbStore) store = jt_daemon_open_store (d);
  for (guint i = 0; i < 600; i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (LbFootagePlan) plan = lb_store_lookup (store, vehicle, input,
        since, lb_time_now (), &error);
    g_assert_no_error (error);
    if (plan->first_ns != LB_TIME_NONE && plan->last_ns - plan->first_ns >=
        span)
      return plan->first_ns;
    g_usleep (100 * 1000);
  }
  g_error ("less than %" G_GINT64_FORMAT " s recorded in a minute",
      span / LB_NS_PER_SEC);
}

/* What an output must be: its video (caps name, NULL: a still), its width
 * and the stream it was made from ("main", "sub"). */
typedef struct
{
  const gchar *video;
  gint width;
  const gchar *stream;
} Output;

#define MAIN(video) (&(const Output) { (video), 160, "main" })

/* The stamps of an output of @media_type for [@start, @end): it must be
 * available, and as @want says. */
static GArray *
retrieve (JtDaemon * d, const gchar * vehicle, const gchar * media_type,
    gint64 start, gint64 end, const Output * want)
{
  const gchar *video = want->video;
  g_autoptr (JsonObject) m = jt_daemon_retrieve (d, vehicle, INPUT,
      media_type, start, end, 60);
  g_assert_cmpstr (json_object_get_string_member (m, "status"), ==,
      "available");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member
          (m, "coverage"), "stream"), ==, want->stream);
  g_autofree gchar *name = g_strdup_printf ("out-%s-%s%s", vehicle,
      media_type, video ? ".mp4" : ".jpg");
  g_autofree gchar *path = g_build_filename (d->dir, name, NULL);
  jt_daemon_download (d, m, path);
  g_test_message ("%s %" G_GINT64_FORMAT " – %" G_GINT64_FORMAT ": %s",
      media_type, start, end, path);
  g_autoptr (JtInfo) info = jt_discover (path);
  g_assert_cmpstr (info->video, ==, video ? video : "image/jpeg");
  g_assert_cmpint (info->width, ==, want->width);
  return jt_read_stamps (path);
}

/* What lbhyperlapse keeps of the keyframes @keys for a hyperlapse from
 * @start, one per second: the first frame of each 1 s slot from @start (a
 * frame from before @start, on screen at it, is the first of slot 0). */
static GArray *
lapse_of (GArray * keys, gint64 start, gint64 end)
{
  GArray *kept = g_array_new (FALSE, FALSE, sizeof (Frame));
  gint64 last_slot = -1;
  for (guint i = 0; i < keys->len; i++) {
    const Frame *k = &AT (keys, i);
    gint64 slot = (MAX (k->pts, start) - start) / LB_NS_PER_SEC;
    if (k->pts >= end || slot == last_slot)
      continue;
    if (i + 1 < keys->len && AT (keys, i + 1).pts <= start)
      continue;                 /* not on screen at the start */
    g_array_append_val (kept, *k);
    last_slot = slot;
  }
  return kept;
}

/* The stamps of @want [@from, @from + @n) are exactly @got. */
static void
assert_stamps (GArray * got, GArray * want, guint from, guint n)
{
  for (guint i = 0; i < got->len && got->len != n; i++)
    g_test_message ("got %u: %" G_GINT64_FORMAT, i, STAMP (got, i));
  for (guint i = 0; i < n && got->len != n; i++)
    g_test_message ("want %u: %" G_GINT64_FORMAT " (recorded at %"
        G_GINT64_FORMAT ")", i, AT (want, from + i).stamp,
        AT (want, from + i).pts);
  g_assert_cmpuint (got->len, ==, n);
  for (guint i = 0; i < n; i++)
    g_assert_cmpint (STAMP (got, i), ==, AT (want, from + i).stamp);
}

/* The recording: stamps readable, frames shown in capture order. */
static void
check_recording (GArray * all)
{
  g_assert_cmpuint (all->len, >=, (RECORDED / LB_NS_PER_SEC - 1) * FPS);
  for (guint i = 1; i < all->len; i++) {
    g_assert_cmpint (AT (all, i).stamp, >, AT (all, i - 1).stamp);
    g_assert_cmpint (AT (all, i).pts, >, AT (all, i - 1).pts);
  }
}

/* H.265 and H.264 with B-frames through lbrtspsrc (what
 * data/lookback.conf recommends), the others through rtspsrc */
static CameraCase cases[] = {
  {"2001", "h265", "0", "video/x-h265", LBRTSPSRC},
  {"2002", "h265", "2", "video/x-h265", RTSPSRC},
  {"2003", "h264", "2", "video/x-h264", LBRTSPSRC},
  {"2004", "h264", "0", "video/x-h264", RTSPSRC},
};

/* The recording all the cases read, started by the first that asks. */
static struct
{
  JtDaemon *d;
  gint64 t0;
  LbTestCamera *sub_cam;        /* SUB_VEHICLE's sub-stream at /sub */
} rec;

static const gchar *sub_args[] = { "--sub-stream", "96x64", "--stamp",
  "--fps", G_STRINGIFY (FPS), NULL
};

/* Every case's camera recorded by one lookbackd. */
static JtDaemon *
recording (void)
{
  if (rec.d)
    return rec.d;
  g_autoptr (GString) conf = g_string_new ("[recorder]\nsegment-duration=5s\n"
      "[jobs]\nworkers=1\n[api]\nreads-per-second=10000\n");
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    CameraCase *c = &cases[i];
    const gchar *args[] = { "--codec", c->codec, "--bframes", c->bframes,
      "--stamp", "--fps", G_STRINGIFY (FPS), NULL
    };
    c->cam = lb_test_camera_start (0, args);
    g_string_append_printf (conf, "[input %s " INPUT "]\nsource=%s "
        "location=%s\n", c->vehicle, c->source, c->cam->url);
  }
  /* the sub-stream of a camera with one; the main stream from another
   * (the last case's), so that the sub-stream alone can drop */
  rec.sub_cam = lb_test_camera_start (0, sub_args);
  g_string_append_printf (conf, "[input " SUB_VEHICLE " " INPUT "]\n"
      "source=rtspsrc location=%s protocols=tcp latency=200 "
      "buffer-mode=synced\nsub-source=rtspsrc location=%.*s/sub "
      "protocols=tcp latency=200 buffer-mode=synced\n",
      cases[G_N_ELEMENTS (cases) - 1].cam->url,
      (int) strlen (rec.sub_cam->url) - 4, rec.sub_cam->url);
  rec.t0 = lb_time_now ();
  rec.d = jt_daemon_new (conf->str);
  jt_daemon_start (rec.d);
  return rec.d;
}

static void
test_camera (gconstpointer data)
{
  const CameraCase *c = data;
  JtDaemon *d = recording ();
  const gchar *v = c->vehicle;
  gint64 first = wait_recorded (d, v, INPUT, rec.t0, RECORDED);

  g_autofree gchar *db = g_build_filename (d->dir, "lookback.db", NULL);
  g_autoptr (GArray) all = recorded_frames (db, v, INPUT, first,
      first + RECORDED, FALSE);
  g_autoptr (GArray) keys = recorded_frames (db, v, INPUT, first,
      first + RECORDED, TRUE);
  check_recording (all);

  /* stills: a third and two thirds of the way between two frames */
  for (guint i = 40; i <= 100; i += 60) {
    gint64 gap = AT (all, i + 1).pts - AT (all, i).pts;
    g_autoptr (GArray) a = retrieve (d, v, "image", AT (all, i).pts + gap / 3,
        AT (all, i).pts + gap / 3, MAIN (NULL));
    assert_stamps (a, all, i, 1);
    g_autoptr (GArray) b = retrieve (d, v, "image",
        AT (all, i).pts + 2 * gap / 3, AT (all, i).pts + 2 * gap / 3,
        MAIN (NULL));
    assert_stamps (b, all, i + 1, 1);
  }
  /* 4 s from mid-GOP, across a segment boundary (5 s files) */
  guint from = 52, n = 4 * FPS;
  g_autoptr (GArray) hi = retrieve (d, v, "videoHighRes", AT (all, from).pts,
      AT (all, from + n).pts, MAIN (c->clip_video));
  assert_stamps (hi, all, from, n);
  g_autoptr (GArray) lo = retrieve (d, v, "videoLowRes", AT (all, from).pts,
      AT (all, from + n).pts, MAIN ("video/x-h264"));
  assert_stamps (lo, all, from, n);
  /* the hyperlapse: keyframes only (one a second), one per second */
  gint64 lstart = AT (keys, 1).pts - LB_NS_PER_SEC / 2;
  gint64 lend = AT (keys, keys->len - 2).pts;
  g_autoptr (GArray) lapse = retrieve (d, v, "hyperlapse", lstart, lend,
      MAIN (c->clip_video));
  g_autoptr (GArray) kept = lapse_of (keys, lstart, lend);
  g_assert_cmpuint (kept->len, >=, keys->len - 4);
  assert_stamps (lapse, kept, 0, kept->len);
}

/* The size of @input's footage at @t (a segment of the index). */
static void
recorded_size (JtDaemon * d, const gchar * input, gint64 t, gint * width,
    gint * height)
{
  g_autoptr (LbStore) store = jt_daemon_open_store (d);
  g_autoptr (GError) error = NULL;
  g_autoptr (LbFootagePlan) plan = lb_store_lookup (store, SUB_VEHICLE,
      input, t, t + LB_NS_PER_SEC, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (plan->pieces->len, >=, 1);
  const LbSegment *seg = ((LbFootagePiece *) plan->pieces->pdata[0])->segment;
  *width = seg->width;
  *height = seg->height;
}

/* The start of the first recorded range of @o (a coverage object). */
static gint64
first_recorded (JsonObject * o)
{
  JsonArray *ranges = json_object_get_array_member (o, "recorded");
  g_assert_cmpuint (json_array_get_length (ranges), >=, 1);
  gint64 t = 0;
  g_assert_true (lb_time_parse_rfc3339 (json_object_get_string_member
          (json_array_get_object_element (ranges, 0), "startTime"), &t, NULL));
  return t;
}

/* /cameras/media/coverage shows both streams of the input. */
static void
check_coverage (JtDaemon * d, gint64 first, gint64 sub_first)
{
  g_autofree gchar *s = lb_time_format_rfc3339 (rec.t0 - LB_NS_PER_SEC);
  g_autofree gchar *e = lb_time_format_rfc3339 (lb_time_now ());
  g_autofree gchar *path = g_strdup_printf ("/cameras/media/coverage?"
      "vehicleIds=" SUB_VEHICLE "&startTime=%s&endTime=%s", s, e);
  guint status = 0;
  g_autoptr (JsonNode) root = jt_daemon_request (d, "GET", path, NULL, &status);
  g_assert_cmpuint (status, ==, 200);
  JsonArray *all = json_object_get_array_member (json_object_get_object_member
      (json_node_get_object (root), "data"), "coverage");
  g_assert_cmpuint (json_array_get_length (all), ==, 1);
  JsonObject *o = json_array_get_object_element (all, 0);
  g_assert_cmpint (ABS (first_recorded (o) - first), <, LB_NS_PER_MS);
  g_assert_true (json_object_has_member (o, "subStream"));
  JsonObject *sub = json_object_get_object_member (o, "subStream");
  g_assert_cmpint (ABS (first_recorded (sub) - sub_first), <, LB_NS_PER_MS);
}

/* The index of the first frame of @all at or after @t. */
static guint
frame_at (GArray * all, gint64 t)
{
  guint i = 0;
  while (i < all->len && AT (all, i).pts < t)
    i++;
  g_assert_cmpuint (i, <, all->len);
  return i;
}

/* A sub-stream: recorded (at its size) and indexed with the main stream,
 * both in the coverage; a low-res clip it covers is its remux, from the
 * frame at the start.  It drops and comes back on its own, the main stream
 * going on; a low-res clip across its outage is the main stream's
 * transcode. */
static void
test_sub_stream (void)
{
  JtDaemon *d = recording ();
  const gchar *v = SUB_VEHICLE;
  gint64 first = wait_recorded (d, v, INPUT, rec.t0, 2 * LB_NS_PER_SEC);
  gint64 sub_first = wait_recorded (d, v, SUB_INPUT, rec.t0,
      7 * LB_NS_PER_SEC);
  gint w = 0, h = 0;
  recorded_size (d, INPUT, first, &w, &h);
  g_assert_cmpint (w, ==, 160);
  g_assert_cmpint (h, ==, 120);
  recorded_size (d, SUB_INPUT, sub_first, &w, &h);
  g_assert_cmpint (w, ==, 96);
  g_assert_cmpint (h, ==, 64);
  check_coverage (d, first, sub_first);

  /* 4 s from mid-GOP, across a segment boundary (5 s files) */
  g_autofree gchar *db = g_build_filename (d->dir, "lookback.db", NULL);
  g_autoptr (GArray) sub = recorded_frames (db, v, SUB_INPUT, sub_first,
      sub_first + 7 * LB_NS_PER_SEC, FALSE);
  guint from = 20, n = 4 * FPS;
  g_assert_cmpuint (sub->len, >, from + n);
  g_autoptr (GArray) lo = retrieve (d, v, "videoLowRes", AT (sub, from).pts,
      AT (sub, from + n).pts, &(const Output) { "video/x-h264", 96, "sub" });
  assert_stamps (lo, sub, from, n);

  /* the sub-stream's camera drops for a while */
  gint port = lb_test_camera_port (rec.sub_cam);
  lb_test_camera_kill (rec.sub_cam);
  gint64 lost = lb_time_now ();
  g_usleep (1500 * 1000);
  rec.sub_cam = lb_test_camera_start (port, sub_args);
  gint64 back = lb_time_now ();
  wait_recorded (d, v, SUB_INPUT, rec.t0, back + 2 * LB_NS_PER_SEC - sub_first);
  /* the main stream went on, every frame */
  g_autoptr (GArray) all = recorded_frames (db, v, INPUT, lost -
      2 * LB_NS_PER_SEC, back + 2 * LB_NS_PER_SEC, FALSE);
  for (guint i = 1; i < all->len; i++)
    g_assert_cmpint (AT (all, i).stamp - AT (all, i - 1).stamp, <,
        2 * LB_NS_PER_SEC / FPS);
  /* across the outage: the main stream, transcoded */
  from = frame_at (all, lost - LB_NS_PER_SEC);
  n = frame_at (all, back + LB_NS_PER_SEC) - from;
  g_autoptr (GArray) across = retrieve (d, v, "videoLowRes",
      AT (all, from).pts, AT (all, from + n).pts, MAIN ("video/x-h264"));
  assert_stamps (across, all, from, n);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add_data_func ("/jobs/cameras/h265", &cases[0], test_camera);
  g_test_add_data_func ("/jobs/cameras/h265-bframes", &cases[1], test_camera);
  g_test_add_data_func ("/jobs/cameras/h264-bframes", &cases[2], test_camera);
  g_test_add_data_func ("/jobs/cameras/h264-sliced", &cases[3], test_camera);
  g_test_add_func ("/jobs/cameras/sub-stream", test_sub_stream);
  gint ret = g_test_run ();
  jt_daemon_finish (rec.d);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    if (cases[i].cam)
      lb_test_camera_kill (cases[i].cam);
  if (rec.sub_cam)
    lb_test_camera_kill (rec.sub_cam);
  return ret;
}
