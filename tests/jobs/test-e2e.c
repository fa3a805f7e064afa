/* Jobs end to end: stamped footage imported at test time, the API server
 * and the jobs engine in this process, real HTTP on 127.0.0.1: create →
 * poll → available → download urlInfo.url → GstDiscoverer + lbclockcheck. */
#include "api-test.h"
#include "jobs/lb-jobs.h"
#include "quota/lb-quota.h"
#include "recorder/lb-indexer.h"
#include "store/lb-store-footage.h"
#include "jobs-test-media.h"
#include "lb-test-common.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

/* Footage: 10 s from T0, 160x120, 30 fps, a keyframe per second, every
 * frame stamped with its wall-clock time. */
#define T0 (API_TEST_START_NS - 120 * LB_NS_PER_SEC)
#define FRAME (LB_NS_PER_SEC / 30)
/* the time of frame n, as videotestsrc stamps it */
#define F(n) ((gint64) gst_util_uint64_scale ((n), GST_SECOND, 30))

typedef struct
{
  ApiFixture *api;
  LbJobs *jobs;
  gboolean mounted;
} Fixture;

static gchar *
rfc (gint64 ns)
{
  return lb_time_format_rfc3339 (ns);
}

/* Records @seconds of stamped video starting at wall time @start into the
 * store's segment layout and indexes it. */
static void import_footage_codec (Fixture * f, const gchar * input,
    gint64 start, guint seconds, const gchar * codec);

static void
import_footage (Fixture * f, const gchar * input, gint64 start, guint seconds)
{
  import_footage_codec (f, input, start, seconds, "h264");
}

/* Runs @launch (a description ending in a muxer) into the segment of
 * @input starting at @start, and indexes it. */
static void
index_made (Fixture * f, const gchar * input, gint64 start,
    const gchar * launch)
{
  g_autoptr (GError) error = NULL;
  const gchar *store_dir = lb_config_get_store_dir (f->api->config);
  g_autofree gchar *path =
      lb_footage_segment_path (store_dir, "1234", input, start);
  g_autofree gchar *dir = g_path_get_dirname (path);
  g_mkdir_with_parents (dir, 0755);
  g_autofree gchar *d = g_strdup_printf ("%s ! filesink location=\"%s\"",
      launch, path);
  jt_run_launch (d);
  g_assert_true (lb_footage_index_file (f->api->store, "1234", input, path,
          start, NULL, &error));
  g_assert_no_error (error);
  lb_jobs_poke (f->jobs);
}

/* A recording from ../shared/media, remuxed by mp4mux (@parser: the
 * codec's) into the segment of @input starting at @start. */
static void
index_shared (Fixture * f, const gchar * file, const gchar * parser,
    const gchar * input, gint64 start)
{
  g_autofree gchar *src = lb_test_shared_media (file);
  g_autofree gchar *launch = g_strdup_printf ("filesrc location=\"%s\" ! "
      "qtdemux ! %s ! mp4mux fragment-duration=1000", src, parser);
  index_made (f, input, start, launch);
}

static void
import_footage_codec (Fixture * f, const gchar * input, gint64 start,
    guint seconds, const gchar * codec)
{
  g_autofree gchar *d =
      g_strdup_printf ("videotestsrc pattern=smpte horizontal-speed=3 "
      "num-buffers=%u ! video/x-raw,width=160,height=120,framerate=30/1 "
      "! lbclockstamp source=pts offset=%" G_GINT64_FORMAT " ! videoconvert "
      "! video/x-raw,format=I420 ! %s ! mp4mux fragment-duration=1000",
      seconds * 30, start, g_str_equal (codec,
          "h265") ?
      "x265enc speed-preset=ultrafast key-int-max=30 option-string=scenecut=0:bframes=0 "
      "! h265parse" : g_str_equal (codec, "h265-b") ?
      /* B-frames in a fixed pattern, closed GOPs */
      "x265enc speed-preset=ultrafast key-int-max=30 "
      "option-string=scenecut=0:open-gop=0:bframes=2:b-adapt=0 ! h265parse" :
      g_str_equal (codec, "h264-high") ?
      /* H.264 with another SPS than the default's (Constrained Baseline) */
      "x264enc speed-preset=superfast bframes=0 key-int-max=30 option-string=scenecut=0 "
      "! video/x-h264,profile=high ! h264parse" :
      "x264enc speed-preset=ultrafast bframes=0 key-int-max=30 "
      "option-string=scenecut=0 ! h264parse");
  index_made (f, input, start, d);
}

/* The manual clock runs on: the workers look again. */
static void
advance (Fixture * f, gint64 ns)
{
  lb_clock_advance (f->api->clock, ns);
  lb_jobs_poke (f->jobs);
}

static void
on_created (gpointer jobs)
{
  lb_jobs_poke (jobs);
}

/* @data: more [jobs] keys, or NULL */
static void
set_up (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *conf =
      g_strdup_printf ("[jobs]\nworkers=1\nretries=1\npending-deadline=5s\n"
      "%s[api]\nreads-per-second=10000\n", data ? (const gchar *) data : "");
  f->api = api_fixture_new (conf);
  f->jobs = lb_jobs_new (f->api->config, f->api->store, NULL, &error);
  g_assert_no_error (error);
  lb_jobs_set_clock (f->jobs, f->api->clock);
  g_assert_true (lb_jobs_start (f->jobs, &error));
  /* as lookbackd does: a create pokes the workers */
  lb_api_server_set_created_func (f->api->server, on_created, f->jobs);
  import_footage (f, "dashcamRoadFacing", T0, 10);
}

static void
tear_down (Fixture * f, gconstpointer data)
{
  g_clear_pointer (&f->jobs, lb_jobs_free);
  if (f->mounted) {
    g_autofree gchar *outputs =
        g_build_filename (lb_config_get_store_dir (f->api->config),
        "outputs", NULL);
    umount (outputs);
  }
  api_fixture_free (f->api);
}

/* POSTs a retrieval; returns its id. */
static gchar *
create (Fixture * f, const gchar * media_type, gint64 start, gint64 end,
    const gchar * input)
{
  g_autofree gchar *s = rfc (start), *e = rfc (end);
  g_autofree gchar *inputs = g_strdup_printf ("[\"%s\"]", input);
  g_autoptr (ApiReply) r =
      api_create (f->api, f->api->token, "1234", media_type, s, e, inputs);
  g_assert_cmpuint (r->status, ==, 200);
  return g_strdup (api_json_string (r, "data.retrievalId"));
}

/* Polls GET /cameras/media/retrieval until the media is no longer pending. */
static ApiReply *
poll_done (Fixture * f, const gchar * id, gdouble max_s)
{
  g_autofree gchar *path =
      g_strdup_printf ("/cameras/media/retrieval?retrievalId=%s", id);
  gint64 until = g_get_monotonic_time () + max_s * G_TIME_SPAN_SECOND;
  for (;;) {
    ApiReply *r = api_request (f->api, "GET", path, f->api->token, NULL);
    g_assert_cmpuint (r->status, ==, 200);
    if (g_strcmp0 (api_json_string (r, "data.media.0.status"), "pending") != 0
        || g_get_monotonic_time () > until)
      return r;
    api_reply_free (r);
    g_usleep (30000);
  }
}

/* Downloads urlInfo.url into a file of the fixture's folder. */
static gchar *
download (Fixture * f, ApiReply * r, const gchar * name)
{
  const gchar *url = api_json_string (r, "data.media.0.urlInfo.url");
  g_assert_nonnull (url);
  g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_ENCODED, NULL);
  g_assert_nonnull (uri);
  g_autofree gchar *path = g_strdup_printf ("%s%s%s", g_uri_get_path (uri),
      g_uri_get_query (uri) ? "?" : "",
      g_uri_get_query (uri) ? g_uri_get_query (uri) : "");
  g_autoptr (ApiReply) media = api_request (f->api, "GET", path, NULL, NULL);
  g_assert_cmpuint (media->status, ==, 200);
  g_autofree gchar *file = g_build_filename (f->api->dir, name, NULL);
  gsize len;
  const gchar *data = g_bytes_get_data (media->body, &len);
  g_assert_true (g_file_set_contents (file, data, len, NULL));
  return g_steal_pointer (&file);
}

static void
assert_books (Fixture * f, gdouble used, gdouble reserved)
{
  g_autoptr (GError) error = NULL;
  gdouble u, r;
  g_assert_true (lb_quota_get_usage (f->api->store, "acme",
          lb_clock_now (f->api->clock), &u, &r, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat_with_epsilon (u, used, 1e-3);
  g_assert_cmpfloat_with_epsilon (r, reserved, 1e-3);
}

static void
test_image (Fixture * f, gconstpointer data)
{
  /* 2.51 s: nearest frame 75 (2.500 s); 2.52 s: frame 76 (2.533 s) */
  g_autofree gchar *id =
      create (f, "image", T0 + 2510 * LB_NS_PER_MS, T0 + 2510 * LB_NS_PER_MS,
      "dashcamRoadFacing");
  g_autoptr (ApiReply) r = poll_done (f, id, 30);
  g_assert_cmpstr (api_json_string (r, "data.media.0.status"), ==, "available");
  g_autofree gchar *file = download (f, r, "still.jpg");
  g_autoptr (JtInfo) info = jt_discover (file);
  g_assert_cmpstr (info->video, ==, "image/jpeg");
  g_assert_cmpint (info->width, ==, 160);
  g_assert_cmpint (info->height, ==, 120);
  g_autoptr (GArray) stamps = jt_read_stamps (file);
  g_assert_cmpuint (stamps->len, ==, 1);
  g_assert_cmpint (STAMP (stamps, 0), ==, T0 + F (75));
  g_autofree gchar *delivered = rfc (T0 + F (75));
  g_assert_cmpstr (api_json_string (r, "data.media.0.startTime"), ==,
      delivered);
  g_assert_cmpstr (api_json_string (r,
          "data.media.0.coverage.deliveredStartTime"), ==, delivered);
  g_assert_cmpfloat (json_node_get_double (api_json_get (r,
              "data.media.0.coverage.offsetMs")), ==, -10.0);
  g_assert_cmpuint (json_array_get_length (json_node_get_array (api_json_get (r,
                  "data.media.0.coverage.gaps"))), ==, 0);

  g_autofree gchar *id2 = create (f, "image", T0 + 2520 * LB_NS_PER_MS,
      T0 + 2520 * LB_NS_PER_MS, "dashcamRoadFacing");
  g_autoptr (ApiReply) r2 = poll_done (f, id2, 30);
  g_autofree gchar *file2 = download (f, r2, "still2.jpg");
  g_autoptr (GArray) stamps2 = jt_read_stamps (file2);
  g_assert_cmpint (STAMP (stamps2, 0), ==, T0 + F (76));
  assert_books (f, 0.2, 0);
}

/* A clip of @input from @start to @end: an MP4 of @video (caps name) at
 * @w x @h whose frames are exactly those stamped @start to @end. */
static void
check_clip_of (Fixture * f, const gchar * input, const gchar * media_type,
    gint64 start, gint64 end, gint w, gint h, const gchar * video)
{
  g_autofree gchar *id = create (f, media_type, start, end, input);
  g_autoptr (ApiReply) r = poll_done (f, id, 60);
  g_assert_cmpstr (api_json_string (r, "data.media.0.status"), ==, "available");
  g_autofree gchar *file = download (f, r, "clip.mp4");
  g_autoptr (JtInfo) info = jt_discover (file);
  g_assert_cmpstr (info->container, ==, "video/quicktime");
  g_assert_cmpstr (info->video, ==, video);
  g_assert_cmpint (info->width, ==, w);
  g_assert_cmpint (info->height, ==, h);
  g_assert_cmpint (ABS (GST_CLOCK_DIFF (end - start, info->duration)), <=,
      FRAME);
  g_autoptr (GArray) stamps = jt_read_stamps (file);
  guint frames = (end - start) / FRAME;
  for (guint i = 0; i < stamps->len && stamps->len != frames; i++)
    g_test_message ("frame %u: stamp %+" G_GINT64_FORMAT " ns from the start",
        i, STAMP (stamps, i) - start);
  g_assert_cmpuint (stamps->len, ==, frames);
  g_assert_cmpint (STAMP (stamps, 0), ==, start);
  /* (F () rounds: a ns either way) */
  g_assert_cmpint (ABS (STAMP (stamps, stamps->len - 1) - (start +
              F (frames - 1))), <=, 1);
}

static void
check_clip (Fixture * f, const gchar * media_type, gint64 start, gint64 end,
    gint w, gint h)
{
  check_clip_of (f, "dashcamRoadFacing", media_type, start, end, w, h,
      "video/x-h264");
}

static void
test_high_res (Fixture * f, gconstpointer data)
{
  /* mid-GOP start, across fragments */
  check_clip (f, "videoHighRes", T0 + F (45), T0 + F (105), 160, 120);
  assert_books (f, 2.0, 0);
}

/* A clip across two segment files: still one remux, frame-exact. */
static void
test_high_res_across_segments (Fixture * f, gconstpointer data)
{
  import_footage (f, "dashcamRoadFacing", T0 + 10 * LB_NS_PER_SEC, 4);
  check_clip (f, "videoHighRes", T0 + F (285), T0 + F (345), 160, 120);
  assert_books (f, 2.0, 0);
}

/* H.265 footage with B-frames: the clip is remuxed, HEVC as recorded,
 * frame-exact from a mid-GOP start, across fragments. */
static void
test_high_res_h265 (Fixture * f, gconstpointer data)
{
  import_footage_codec (f, "dashcamDriverFacing", T0, 4, "h265-b");
  check_clip_of (f, "dashcamDriverFacing", "videoHighRes", T0 + F (15),
      T0 + F (75), 160, 120, "video/x-h265");
  check_clip_of (f, "dashcamDriverFacing", "videoHighRes", T0 + F (44),
      T0 + F (104), 160, 120, "video/x-h265");
  assert_books (f, 4.0, 0);
}

/* [jobs] high-res-codec=h264 (players without HEVC): the same clip is
 * transcoded to H.264, still frame-exact. */
static void
test_high_res_h265_as_h264 (Fixture * f, gconstpointer data)
{
  import_footage_codec (f, "dashcamDriverFacing", T0, 3, "h265-b");
  check_clip_of (f, "dashcamDriverFacing", "videoHighRes", T0 + F (15),
      T0 + F (75), 160, 120, "video/x-h264");
}

/* The other retrievals from H.265 footage with B-frames: the still is the
 * frame nearest the time, the low-res clip an H.264 transcode of exactly
 * the range, the hyperlapse its keyframes remuxed as they are (HEVC). */
static void
test_h265_retrievals (Fixture * f, gconstpointer data)
{
  import_footage_codec (f, "dashcamDriverFacing", T0, 10, "h265-b");
  const gint64 times[][2] = { {2510, 75}, {2520, 76}, {2990, 90} };
  for (guint i = 0; i < G_N_ELEMENTS (times); i++) {
    gint64 t = T0 + times[i][0] * LB_NS_PER_MS;
    g_autofree gchar *id = create (f, "image", t, t, "dashcamDriverFacing");
    g_autoptr (ApiReply) r = poll_done (f, id, 30);
    g_assert_cmpstr (api_json_string (r, "data.media.0.status"), ==,
        "available");
    g_autofree gchar *still = download (f, r, "still.jpg");
    g_autoptr (GArray) stamps = jt_read_stamps (still);
    g_assert_cmpuint (stamps->len, ==, 1);
    g_assert_cmpint (STAMP (stamps, 0), ==, T0 + F (times[i][1]));
  }
  check_clip_of (f, "dashcamDriverFacing", "videoLowRes", T0 + F (40),
      T0 + F (100), 160, 120, "video/x-h264");

  g_autofree gchar *id = create (f, "hyperlapse", T0, T0 + 10 * LB_NS_PER_SEC,
      "dashcamDriverFacing");
  g_autoptr (ApiReply) r = poll_done (f, id, 60);
  g_assert_cmpstr (api_json_string (r, "data.media.0.status"), ==, "available");
  g_autofree gchar *file = download (f, r, "lapse.mp4");
  g_autoptr (JtInfo) info = jt_discover (file);
  g_assert_cmpstr (info->video, ==, "video/x-h265");
  g_autoptr (GArray) stamps = jt_read_stamps (file);
  g_assert_cmpuint (stamps->len, ==, 10);
  for (guint i = 0; i < stamps->len; i++)
    g_assert_cmpint (STAMP (stamps, i), ==, T0 + i * LB_NS_PER_SEC);
}

static void
test_low_res (Fixture * f, gconstpointer data)
{
  check_clip (f, "videoLowRes", T0 + F (30), T0 + F (90), 160, 120);
}

static void
test_hyperlapse (Fixture * f, gconstpointer data)
{
  g_autofree gchar *id = create (f, "hyperlapse", T0, T0 + 10 * LB_NS_PER_SEC,
      "dashcamRoadFacing");
  g_autoptr (ApiReply) r = poll_done (f, id, 60);
  g_assert_cmpstr (api_json_string (r, "data.media.0.status"), ==, "available");
  g_autofree gchar *file = download (f, r, "lapse.mp4");
  g_autoptr (JtInfo) info = jt_discover (file);
  g_assert_cmpstr (info->video, ==, "video/x-h264");
  g_autoptr (GArray) stamps = jt_read_stamps (file);
  /* one frame per source second (the keyframes), played at 30 fps */
  g_assert_cmpuint (stamps->len, ==, 10);
  for (guint i = 0; i < stamps->len; i++)
    g_assert_cmpint (STAMP (stamps, i), ==, T0 + i * LB_NS_PER_SEC);
  g_assert_cmpint (ABS (GST_CLOCK_DIFF (F (10), info->duration)), <=, FRAME);
}

/* The codec data changes between two segment files (the camera was
 * reconfigured): whether the muxer takes the remuxed keyframes (the new
 * SPS/PPS travel in band) or refuses them (then the hyperlapse is
 * transcoded), every frame decodes, one per source second. */
static void
test_hyperlapse_codec_data_changes (Fixture * f, gconstpointer data)
{
  import_footage_codec (f, "dashcamRoadFacing", T0 + 10 * LB_NS_PER_SEC, 3,
      "h264-high");
  g_autofree gchar *id = create (f, "hyperlapse", T0 + 7 * LB_NS_PER_SEC,
      T0 + 13 * LB_NS_PER_SEC, "dashcamRoadFacing");
  g_autoptr (ApiReply) r = poll_done (f, id, 60);
  g_assert_cmpstr (api_json_string (r, "data.media.0.status"), ==, "available");
  g_autofree gchar *file = download (f, r, "lapse.mp4");
  g_autoptr (JtInfo) info = jt_discover (file);
  g_assert_cmpstr (info->video, ==, "video/x-h264");
  g_autoptr (GArray) stamps = jt_read_stamps (file);
  g_assert_cmpuint (stamps->len, ==, 6);
  for (guint i = 0; i < stamps->len; i++)
    g_assert_cmpint (STAMP (stamps, i), ==, T0 + (7 + i) * LB_NS_PER_SEC);
}

static void
test_unavailable (Fixture * f, gconstpointer data)
{
  g_autofree gchar *id = create (f, "videoHighRes", T0 - 60 * LB_NS_PER_SEC,
      T0 - 50 * LB_NS_PER_SEC, "dashcamRoadFacing");
  g_autoptr (ApiReply) r = poll_done (f, id, 30);
  g_assert_cmpstr (api_json_string (r, "data.media.0.status"), ==,
      "unavailable");
  assert_books (f, 0, 0);
}

/* Nothing recorded yet on the driver camera: pending; imported later:
 * available. */
static void
test_late_footage (Fixture * f, gconstpointer data)
{
  /* a second before the clock's now: the deadline (5 s) is still ahead */
  gint64 t = API_TEST_START_NS - LB_NS_PER_SEC;
  g_autofree gchar *id = create (f, "image", t, t, "dashcamDriverFacing");
  g_usleep (500000);
  {
    g_autoptr (ApiReply) r = poll_done (f, id, 0);
    g_assert_cmpstr (api_json_string (r, "data.media.0.status"), ==, "pending");
    assert_books (f, 0, 0.1);
  }
  import_footage (f, "dashcamDriverFacing",
      API_TEST_START_NS - 3 * LB_NS_PER_SEC, 3);
  advance (f, 2 * LB_NS_PER_SEC);
  g_autoptr (ApiReply) r = poll_done (f, id, 30);
  g_assert_cmpstr (api_json_string (r, "data.media.0.status"), ==, "available");
  assert_books (f, 0.1, 0);
}

static void
test_pending_deadline (Fixture * f, gconstpointer data)
{
  gint64 t = API_TEST_START_NS - LB_NS_PER_SEC;
  g_autofree gchar *id = create (f, "image", t, t, "dashcamDriverFacing");
  g_usleep (300000);
  {
    g_autoptr (ApiReply) r = poll_done (f, id, 0);
    g_assert_cmpstr (api_json_string (r, "data.media.0.status"), ==, "pending");
  }
  /* the deadline is 5 s after the requested time */
  advance (f, 10 * LB_NS_PER_SEC);
  g_autoptr (ApiReply) r = poll_done (f, id, 30);
  g_assert_cmpstr (api_json_string (r, "data.media.0.status"), ==,
      "unavailable");
  assert_books (f, 0, 0);
}

/* Real footage from another recorder (Moonfire NVR's test clip: 1 fps,
 * irregular frame times, a keyframe every 4 frames): the still is the
 * nearest frame, up to half a second away, and the coverage says how far;
 * a clip starts at the nearest frame. */
static void
test_one_fps_recording (Fixture * f, gconstpointer data)
{
  gint64 t2 = T0 + 20 * LB_NS_PER_SEC;
  index_shared (f, "moonfire-clip.mp4", "h264parse", "dashcamDriverFacing", t2);

  /* 3.4 s: the frame at 3.000133 s is 0.4 s away, the next 0.6 s */
  g_autofree gchar *id =
      create (f, "image", t2 + 3400 * LB_NS_PER_MS, t2 + 3400 * LB_NS_PER_MS,
      "dashcamDriverFacing");
  g_autoptr (ApiReply) r = poll_done (f, id, 30);
  g_assert_cmpstr (api_json_string (r, "data.media.0.status"), ==, "available");
  gdouble offset =
      json_node_get_double (api_json_get (r, "data.media.0.coverage.offsetMs"));
  /* (the import's timescale may round the frame time by a fraction of a ms) */
  g_assert_cmpfloat_with_epsilon (offset, -399.867, 1.0);
  g_autofree gchar *still = download (f, r, "moonfire.jpg");
  g_autoptr (JtInfo) info = jt_discover (still);
  g_assert_cmpint (info->width, ==, 320);
  g_assert_cmpint (info->height, ==, 240);

  /* a clip from 2 s to 6 s: frames 2..5, remuxed */
  g_autofree gchar *cid = create (f, "videoHighRes", t2 + 2 * LB_NS_PER_SEC,
      t2 + 6 * LB_NS_PER_SEC, "dashcamDriverFacing");
  g_autoptr (ApiReply) c = poll_done (f, cid, 30);
  g_assert_cmpstr (api_json_string (c, "data.media.0.status"), ==, "available");
  g_autofree gchar *clip = download (f, c, "moonfire.mp4");
  g_autoptr (JtDecoded) frames = jt_decode (clip);
  g_assert_cmpuint (frames->frames->len, ==, 4);
  g_autoptr (JtInfo) cinfo = jt_discover (clip);
  g_assert_cmpint (ABS (GST_CLOCK_DIFF (4 * GST_SECOND, cinfo->duration)), <=,
      GST_SECOND);
  gdouble coffset =
      json_node_get_double (api_json_get (c, "data.media.0.coverage.offsetMs"));
  g_assert_cmpfloat (ABS (coffset), <, 4.0);    /* the frame at 2.0029 s (or 2.0) */
}

/* The HEVC clip of ../shared/media (Big Buck Bunny, 480x240, 30 fps, a
 * keyframe every 2 s), imported as recorded elsewhere: the still is at the
 * frame nearest the time, the high-res clip is an HEVC remux whose frames
 * are the source's own, from the frame at the start to the one before the
 * end. */
static void
test_shared_hevc (Fixture * f, gconstpointer data)
{
  g_autofree gchar *src = lb_test_shared_media ("bbb-hevc.mp4");
  gint64 t2 = T0 + 20 * LB_NS_PER_SEC;
  index_shared (f, "bbb-hevc.mp4", "h265parse", "dashcamDriverFacing", t2);

  g_autofree gchar *id = create (f, "image", t2 + 2510 * LB_NS_PER_MS,
      t2 + 2510 * LB_NS_PER_MS, "dashcamDriverFacing");
  g_autoptr (ApiReply) r = poll_done (f, id, 30);
  g_assert_cmpstr (api_json_string (r, "data.media.0.status"), ==, "available");
  g_autofree gchar *delivered = rfc (t2 + F (75));
  g_assert_cmpstr (api_json_string (r, "data.media.0.startTime"), ==,
      delivered);
  g_autofree gchar *still = download (f, r, "bbb.jpg");
  g_autoptr (JtInfo) info = jt_discover (still);
  g_assert_cmpint (info->width, ==, 480);
  g_assert_cmpint (info->height, ==, 240);

  g_autofree gchar *cid = create (f, "videoHighRes", t2 + F (45), t2 + F (105),
      "dashcamDriverFacing");
  g_autoptr (ApiReply) c = poll_done (f, cid, 30);
  g_assert_cmpstr (api_json_string (c, "data.media.0.status"), ==, "available");
  g_autofree gchar *clip = download (f, c, "bbb.mp4");
  g_autoptr (JtInfo) cinfo = jt_discover (clip);
  g_assert_cmpstr (cinfo->video, ==, "video/x-h265");
  g_autoptr (JtDecoded) source = jt_decode (src);
  g_autoptr (JtDecoded) frames = jt_decode (clip);
  g_assert_cmpuint (source->frames->len, ==, 150);
  g_assert_cmpuint (frames->frames->len, ==, 60);
  g_assert_true (g_bytes_equal (frames->frames->pdata[0],
          source->frames->pdata[45]));
  g_assert_true (g_bytes_equal (frames->frames->pdata[59],
          source->frames->pdata[104]));
}

static guint
count_outputs (Fixture * f)
{
  g_autofree gchar *outputs =
      g_build_filename (lb_config_get_store_dir (f->api->config),
      "outputs", NULL);
  g_autoptr (GDir) d = g_dir_open (outputs, 0, NULL);
  guint n = 0;
  while (d && g_dir_read_name (d))
    n++;
  return n;
}

/* The segment file lost its second half after it was indexed: the clip
 * over it fails with a reason, refunded, nothing left behind. */
static void
test_corrupt_segment (Fixture * f, gconstpointer data)
{
  g_autofree gchar *path =
      lb_footage_segment_path (lb_config_get_store_dir (f->api->config),
      "1234", "dashcamRoadFacing", T0);
  GStatBuf st;
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (truncate (path, st.st_size * 4 / 10), ==, 0);
  g_autofree gchar *id = create (f, "videoLowRes", T0 + 6 * LB_NS_PER_SEC,
      T0 + 9 * LB_NS_PER_SEC, "dashcamRoadFacing");
  g_autoptr (ApiReply) r = poll_done (f, id, 30);
  g_assert_cmpstr (api_json_string (r, "data.media.0.status"), ==, "failed");
  g_assert_nonnull (api_json_string (r, "data.media.0.failureReason"));
  assert_books (f, 0, 0);
  g_assert_cmpuint (count_outputs (f), ==, 0);
}

/* No room for the output: failed after the retries, refunded, no file. */
static void
test_full_disk (Fixture * f, gconstpointer data)
{
  g_autofree gchar *outputs =
      g_build_filename (lb_config_get_store_dir (f->api->config),
      "outputs", NULL);
  g_mkdir_with_parents (outputs, 0755);
  if (mount ("tmpfs", outputs, "tmpfs", 0, "size=8k") != 0) {
    g_test_message ("mount: %s; a file size limit instead", g_strerror (errno));
    struct rlimit rl = { 8 * 1024, 8 * 1024 };
    signal (SIGXFSZ, SIG_IGN);
    g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &rl), ==, 0);
  } else {
    f->mounted = TRUE;
  }
  g_autofree gchar *id = create (f, "videoHighRes", T0 + 1 * LB_NS_PER_SEC,
      T0 + 9 * LB_NS_PER_SEC, "dashcamRoadFacing");
  /* retries wait on the (manual) clock */
  ApiReply *r = NULL;
  for (guint i = 0; i < 100; i++) {
    g_clear_pointer (&r, api_reply_free);
    r = poll_done (f, id, 0.2);
    if (g_strcmp0 (api_json_string (r, "data.media.0.status"), "pending") != 0)
      break;
    advance (f, LB_NS_PER_SEC);
  }
  if (!f->mounted) {
    struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
    setrlimit (RLIMIT_FSIZE, &rl);
  }
  g_assert_cmpstr (api_json_string (r, "data.media.0.status"), ==, "failed");
  g_assert_nonnull (api_json_string (r, "data.media.0.failureReason"));
  api_reply_free (r);
  assert_books (f, 0, 0);
  g_assert_cmpuint (count_outputs (f), ==, 0);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
#define ADD(name, fn) g_test_add (name, Fixture, NULL, set_up, fn, tear_down)
  ADD ("/jobs/e2e/image", test_image);
  ADD ("/jobs/e2e/high-res", test_high_res);
  ADD ("/jobs/e2e/high-res-across-segments", test_high_res_across_segments);
  ADD ("/jobs/e2e/high-res-h265", test_high_res_h265);
  g_test_add ("/jobs/e2e/high-res-h265-as-h264", Fixture,
      "high-res-codec=h264\n", set_up, test_high_res_h265_as_h264, tear_down);
  ADD ("/jobs/e2e/h265-retrievals", test_h265_retrievals);
  ADD ("/jobs/e2e/low-res", test_low_res);
  ADD ("/jobs/e2e/hyperlapse", test_hyperlapse);
  ADD ("/jobs/e2e/hyperlapse-codec-data-changes",
      test_hyperlapse_codec_data_changes);
  ADD ("/jobs/e2e/unavailable", test_unavailable);
  ADD ("/jobs/e2e/late-footage", test_late_footage);
  ADD ("/jobs/e2e/pending-deadline", test_pending_deadline);
  ADD ("/jobs/e2e/one-fps-recording", test_one_fps_recording);
  ADD ("/jobs/e2e/shared-hevc", test_shared_hevc);
  ADD ("/jobs/e2e/corrupt-segment", test_corrupt_segment);
  ADD ("/jobs/e2e/full-disk", test_full_disk);
  return g_test_run ();
}
