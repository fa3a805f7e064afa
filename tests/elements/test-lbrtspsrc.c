/* GstCheck suite for lbrtspsrc against RTSP test cameras on loopback
 * (tests/tools/lb-test-camera): H.264 and H.265 through parsebin as after
 * rtspsrc, video with audio on a second pad, Basic and Digest
 * authentication, and the errors on the bus (wrong password, no camera, the
 * camera killed). */
#include <gst/app/gstappsink.h>
#include <gst/check/gstcheck.h>

#include "lbelements.h"
#include "lb-elements-test.h"
#include "lb-test-common.h"

/* Frames pulled of each stream */
#define FRAMES 20

static GstElement *
launch (const gchar * description)
{
  g_autoptr (GError) error = NULL;
  GstElement *p = gst_parse_launch (description, &error);

  g_assert_no_error (error);
  return p;
}

/* @n samples of appsink @name in @p, each with a PTS later than the one
 * before; the caps name of the stream. */
static gchar *
pull (GstElement * p, const gchar * name, guint n, GstClockTime * first)
{
  g_autoptr (GstElement) sink = gst_bin_get_by_name (GST_BIN (p), name);
  GstClockTime last = GST_CLOCK_TIME_NONE;
  gchar *caps_name = NULL;

  for (guint i = 0; i < n; i++) {
    g_autoptr (GstSample) s = gst_app_sink_try_pull_sample (GST_APP_SINK
        (sink), 20 * GST_SECOND);
    fail_unless (s != NULL, "%s: %u samples of %u", name, i, n);
    GstBuffer *b = gst_sample_get_buffer (s);
    GstClockTime pts = GST_BUFFER_PTS (b);
    /* h264parse after rtph264depay (alignment=nal) splits a keyframe whose
     * slices each carry SPS and PPS: the pieces after the first have no
     * time (the recorder's parsebin linking is fixed on its own) */
    fail_unless (i > 0 || GST_CLOCK_TIME_IS_VALID (pts));
    if (!GST_CLOCK_TIME_IS_VALID (pts))
      continue;
    if (i == 0) {
      caps_name = g_strdup (gst_structure_get_name (gst_caps_get_structure
              (gst_sample_get_caps (s), 0)));
      *first = pts;
    } else if (!GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DELTA_UNIT)
        || g_str_has_prefix (caps_name, "audio/")) {
      /* keyframes and audio come in presentation order */
      fail_unless (pts > last, "%s: %" GST_TIME_FORMAT " after %"
          GST_TIME_FORMAT, name, GST_TIME_ARGS (pts), GST_TIME_ARGS (last));
    }
    if (!GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DELTA_UNIT)
        || g_str_has_prefix (caps_name, "audio/"))
      last = pts;
  }
  return caps_name;
}

/* The video of a camera with @args through "lbrtspsrc @props ! parsebin"
 * is @caps_name. */
static void
check_video (const gchar * const *args, const gchar * props,
    const gchar * caps_name)
{
  LbTestCamera *cam = lb_test_camera_start (0, args);
  g_autofree gchar *d = g_strdup_printf ("lbrtspsrc location=%s %s "
      "! parsebin ! appsink name=v sync=false", cam->url, props);
  GstElement *p = launch (d);
  GstClockTime first;

  gst_element_set_state (p, GST_STATE_PLAYING);
  g_autofree gchar *got = pull (p, "v", FRAMES, &first);
  g_assert_cmpstr (got, ==, caps_name);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (p);
  lb_test_camera_kill (cam);
}

GST_START_TEST (test_h264)
{
  const gchar *args[] = { "--codec", "h264", NULL };
  check_video (args, "", "video/x-h264");
}

GST_END_TEST;

GST_START_TEST (test_h265_bframes)
{
  const gchar *args[] = { "--codec", "h265", "--bframes", "2", NULL };
  check_video (args, "", "video/x-h265");
}

GST_END_TEST;

/* Audio comes on a second pad, its times next to the video's (the PLAY
 * answer's RTP-Info puts both streams on one time line). */
static void
check_audio (const gchar * audio, const gchar * caps_name)
{
  const gchar *args[] = { "--audio", audio, NULL };
  LbTestCamera *cam = lb_test_camera_start (0, args);
  g_autofree gchar *d = g_strdup_printf ("lbrtspsrc name=s location=%s "
      "s.stream_0 ! parsebin ! appsink name=v sync=false "
      "s.stream_1 ! parsebin ! appsink name=a sync=false", cam->url);
  GstElement *p = launch (d);
  GstClockTime v0, a0;

  gst_element_set_state (p, GST_STATE_PLAYING);
  g_autofree gchar *video = pull (p, "v", FRAMES, &v0);
  g_autofree gchar *sound = pull (p, "a", FRAMES, &a0);
  g_assert_cmpstr (video, ==, "video/x-h264");
  g_assert_cmpstr (sound, ==, caps_name);
  fail_unless (ABS (GST_CLOCK_DIFF (v0, a0)) < GST_SECOND,
      "video from %" GST_TIME_FORMAT ", audio from %" GST_TIME_FORMAT,
      GST_TIME_ARGS (v0), GST_TIME_ARGS (a0));
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (p);
  lb_test_camera_kill (cam);
}

GST_START_TEST (test_audio_aac)
{
  check_audio ("aac", "audio/mpeg");
}

GST_END_TEST;

GST_START_TEST (test_audio_pcma)
{
  check_audio ("pcma", "audio/x-alaw");
}

GST_END_TEST;

GST_START_TEST (test_auth_basic)
{
  const gchar *args[] = { "--user", "op", "--password", "s3cret", NULL };
  check_video (args, "user-id=op user-pw=s3cret", "video/x-h264");
}

GST_END_TEST;

/* Digest, with the credentials in the URL as rtspsrc takes them */
GST_START_TEST (test_auth_digest_url)
{
  const gchar *args[] = { "--user", "op", "--password", "s3cret", "--auth",
    "digest", NULL
  };
  LbTestCamera *cam = lb_test_camera_start (0, args);
  g_autofree gchar *url = g_strdup_printf ("rtsp://op:s3cret@%s",
      cam->url + strlen ("rtsp://"));
  g_autofree gchar *d = g_strdup_printf ("lbrtspsrc location=%s "
      "! parsebin ! appsink name=v sync=false", url);
  GstElement *p = launch (d);
  GstClockTime first;

  gst_element_set_state (p, GST_STATE_PLAYING);
  g_autofree gchar *got = pull (p, "v", FRAMES, &first);
  g_assert_cmpstr (got, ==, "video/x-h264");
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (p);
  lb_test_camera_kill (cam);
}

GST_END_TEST;

static gint
compare_times (gconstpointer a, gconstpointer b)
{
  GstClockTime x = *(const GstClockTime *) a, y = *(const GstClockTime *) b;

  return x < y ? -1 : x > y;
}

/* The PTS of @n more frames of appsink @name in @p, appended to @times. */
static void
pull_times (GstElement * p, const gchar * name, guint n, GArray * times)
{
  g_autoptr (GstElement) sink = gst_bin_get_by_name (GST_BIN (p), name);

  for (guint i = 0; i < n; i++) {
    g_autoptr (GstSample) s = gst_app_sink_try_pull_sample (GST_APP_SINK
        (sink), 20 * GST_SECOND);
    fail_unless (s != NULL, "%s: %u frames of %u", name, i, n);
    GstClockTime pts = GST_BUFFER_PTS (gst_sample_get_buffer (s));
    fail_unless (GST_CLOCK_TIME_IS_VALID (pts));
    g_array_append_val (times, pts);
  }
}

/* A live camera is played from now: a second client of a camera (its media
 * shared) takes nothing from the first one's stream.  Asked for the
 * stream from 0, gst-rtsp-server seeks its live pipeline: it flushes the
 * frames its encoder holds (with B-frames, half a second of them), pauses
 * and starts its clock again, and the first client's RTP times step back
 * by what it has played. */
GST_START_TEST (test_live_from_now)
{
  const gchar *args[] = { "--bframes", "2", NULL };
  LbTestCamera *cam = lb_test_camera_start (0, args);
  g_autofree gchar *d = g_strdup_printf ("lbrtspsrc location=%s "
      "! rtph264depay ! appsink name=v sync=false "
      "caps=video/x-h264,alignment=au", cam->url);
  GstElement *first = launch (d), *second = launch (d);

  g_autoptr (GArray) times = g_array_new (FALSE, FALSE, sizeof (GstClockTime));
  g_autoptr (GArray) joined = g_array_new (FALSE, FALSE, sizeof (GstClockTime));

  gst_element_set_state (first, GST_STATE_PLAYING);
  pull_times (first, "v", FRAMES, times);
  gst_element_set_state (second, GST_STATE_PLAYING);
  pull_times (second, "v", FRAMES, joined);
  /* what the first client got before, meanwhile and after: 15 frames a
   * second, one after the other (a B-frame comes after the frame it
   * precedes: the ends may miss a few) */
  pull_times (first, "v", 3 * FRAMES, times);
  g_array_sort (times, compare_times);
  for (guint i = 3; i + 4 < times->len; i++) {
    GstClockTime a = g_array_index (times, GstClockTime, i);
    GstClockTime b = g_array_index (times, GstClockTime, i + 1);
    fail_unless (ABS (GST_CLOCK_DIFF (a, b) - GST_SECOND / 15) < GST_MSECOND,
        "the first client's frames at %" GST_TIME_FORMAT " and %"
        GST_TIME_FORMAT " when the second one joined", GST_TIME_ARGS (a),
        GST_TIME_ARGS (b));
  }
  gst_element_set_state (second, GST_STATE_NULL);
  gst_element_set_state (first, GST_STATE_NULL);
  gst_object_unref (second);
  gst_object_unref (first);
  lb_test_camera_kill (cam);
}

GST_END_TEST;

/* The error a pipeline from lbrtspsrc at @url (with @props) ends with. */
static GError *
run_error (const gchar * url, const gchar * props)
{
  g_autofree gchar *d = g_strdup_printf ("lbrtspsrc location=%s %s "
      "! fakesink", url, props);
  g_autoptr (LbTestRun) run = lb_test_run_launch (d, GST_CLOCK_TIME_NONE, 60);

  fail_unless (run->error != NULL, "no error");
  return g_steal_pointer (&run->error);
}

GST_START_TEST (test_auth_refused)
{
  const gchar *args[] = { "--user", "op", "--password", "s3cret", "--auth",
    "digest", NULL
  };
  LbTestCamera *cam = lb_test_camera_start (0, args);
  g_autoptr (GError) wrong = run_error (cam->url, "user-id=op user-pw=nope");
  g_autoptr (GError) none = run_error (cam->url, "");

  g_assert_error (wrong, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_AUTHORIZED);
  g_assert_error (none, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_AUTHORIZED);
  /* the password is not in what the operator reads */
  fail_unless (strstr (wrong->message, "nope") == NULL);
  lb_test_camera_kill (cam);
}

GST_END_TEST;

/* No camera at the address: an error, not a wait. */
GST_START_TEST (test_no_camera)
{
  g_autofree gchar *url = g_strdup_printf ("rtsp://127.0.0.1:%u/cam",
      lb_test_dead_port ());
  g_autoptr (GError) e = run_error (url, "tcp-timeout=2000000");

  g_assert_true (e->domain == GST_RESOURCE_ERROR);
}

GST_END_TEST;

/* The camera dies while playing: EOS, then an error on the bus (lookbackd
 * restarts the input's pipeline on it).  (An appsink holds an EOS until
 * its buffers are taken, unless wait-on-eos=false.) */
GST_START_TEST (test_camera_killed)
{
  LbTestCamera *cam = lb_test_camera_start (0, NULL);
  g_autofree gchar *d = g_strdup_printf ("lbrtspsrc location=%s "
      "! parsebin ! appsink name=v sync=false wait-on-eos=false", cam->url);
  GstElement *p = launch (d);
  g_autoptr (GstBus) bus = gst_element_get_bus (p);
  GstClockTime first;

  gst_element_set_state (p, GST_STATE_PLAYING);
  g_autofree gchar *got = pull (p, "v", 5, &first);
  lb_test_camera_kill (cam);
  g_autoptr (GstMessage) m = gst_bus_timed_pop_filtered (bus,
      20 * GST_SECOND, GST_MESSAGE_ERROR);
  fail_unless (m != NULL, "no error after the camera died");
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (p);
}

GST_END_TEST;

static Suite *
lbrtspsrc_suite (void)
{
  Suite *s = suite_create ("lbrtspsrc");
  TCase *tc = tcase_create ("general");

  g_assert_true (lb_elements_register (NULL));
  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_h264);
  tcase_add_test (tc, test_h265_bframes);
  tcase_add_test (tc, test_audio_aac);
  tcase_add_test (tc, test_audio_pcma);
  tcase_add_test (tc, test_auth_basic);
  tcase_add_test (tc, test_auth_digest_url);
  tcase_add_test (tc, test_auth_refused);
  tcase_add_test (tc, test_no_camera);
  tcase_add_test (tc, test_camera_killed);
  tcase_add_test (tc, test_live_from_now);
  return s;
}

GST_CHECK_MAIN (lbrtspsrc);
