/* lb-test-camera — an RTSP camera on loopback for tests, benchmarks and demos
 *
 *   lb-test-camera [--port N] [--width W] [--height H] [--fps F]
 *                  [--codec h264|h265] [--bframes N] [--gop N]
 *                  [--bitrate KBPS] [--stamp] [--loop FILE]
 *                  [--audio none|aac|opus|pcma] [--audio-late MS]
 *                  [--sub-stream WxH]
 *                  [--user U --password P [--auth basic|digest]]
 *
 * Serves one video stream at rtsp://127.0.0.1:PORT/cam on loopback only;
 * port 0 (the default) picks a free one.  Prints the URL on one line of
 * stdout once it listens, then runs until killed.  "--port N" lets a test
 * restart the camera at the same URL.
 *
 * Live (the default): videotestsrc encoded as it plays, H.264 (x264enc) or
 * H.265 (x265enc), one keyframe every --gop frames (default: one a second),
 * closed GOPs, without B-frames unless --bframes N asks for N between
 * references.  With --stamp every frame carries, drawn by lbclockstamp (the
 * lookback plugin must be on GST_PLUGIN_PATH), the wall-clock time of its
 * capture: the camera's pipelines run on the realtime clock.
 *
 * --loop FILE serves a file encoded beforehand (H.264 or H.265 in any
 * container GStreamer reads; its frames are held in memory, at most 512 MiB)
 * over and over at its own pace, the timestamps going on from loop to loop:
 * a camera that costs almost nothing itself, for measuring what recording
 * costs.  The encoding options do not apply then.
 *
 * --audio aac|opus|pcma adds an audio stream to the same session (live
 * only): audiotestsrc wave=ticks, one tick a second from its first sample.
 * With --stamp the frames then carry their stream time plus an offset
 * (lbclockstamp source=pts) set when the first audio buffer comes: each
 * tick sounds at the instant whose stamp is a whole second (within a
 * second of the wall clock), so a test knows where each tick belongs
 * between the stamps of the frames around it.
 * AAC (voaacenc, 48 kHz), Opus (opusenc, 48 kHz) or PCMA (G.711 A-law,
 * 8 kHz).  --audio-late MS: the audio of the first MS milliseconds is not
 * sent, so its stream shows up that much after the video's, as with
 * cameras whose audio starts late; each client then gets a media of its
 * own, started when it connects.
 *
 * --sub-stream WxH (live only) serves a second profile at /sub, as IP
 * cameras do: the same test picture at WxH, the same codec, B-frames and
 * GOP, a quarter of --bitrate (when given), no audio, stamped (--stamp)
 * with the wall clock of its capture like the main stream.
 *
 * --user and --password make the camera ask for them (401), with Basic
 * authentication or, with --auth digest, Digest.
 *
 * Exit status: 2 for bad options, 1 when the camera cannot start.
 */
#include <glib-unix.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>
#include <stdio.h>
#include <string.h>

/* The most bytes of a --loop file held in memory. */
#define LOOP_MAX_BYTES (512 * 1024 * 1024)

typedef struct
{
  gint port, width, height, fps, bframes, gop, bitrate, audio_late;
  gchar *codec, *loop, *audio, *sub_stream, *user, *password, *auth;
  gboolean stamp;
} Options;

/* A --loop file: its caps and encoded frames, in decode order. */
typedef struct
{
  GstCaps *caps;
  GPtrArray *frames;            /* GstBuffer, times from the first DTS */
  GstClockTime duration;        /* of one pass */
} Loop;

/* One served pass over a Loop (per media: each gets its own appsrc). */
typedef struct
{
  const Loop *loop;
  guint next;
  guint64 pass;
} LoopFeed;

static gboolean
on_signal (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

/* ---- options ---- */

static gboolean
check_options (const Options * o, GError ** error)
{
  const gchar *audio[] = { "none", "aac", "opus", "pcma" };
  gboolean known_audio = FALSE;
  gint w = 0, h = 0;

  for (guint i = 0; i < G_N_ELEMENTS (audio); i++)
    known_audio |= g_strcmp0 (o->audio, audio[i]) == 0;
  if (g_strcmp0 (o->codec, "h264") != 0 && g_strcmp0 (o->codec, "h265") != 0)
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--codec must be h264 or h265, not '%s'", o->codec);
  else if (o->width < 80 || o->height < 48 || o->fps < 1 || o->fps > 120)
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "the picture must be at least 80x48 at 1 to 120 fps");
  else if (o->bframes < 0 || o->bframes > 4 || o->gop < 0 || o->bitrate < 0
      || o->audio_late < 0)
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--bframes is 0 to 4; --gop, --bitrate and --audio-late are not "
        "negative");
  else if (!known_audio)
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--audio must be none, aac, opus or pcma, not '%s'", o->audio);
  else if (o->sub_stream && (sscanf (o->sub_stream, "%dx%d", &w, &h) != 2
          || w < 80 || h < 48))
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--sub-stream must be WxH, at least 80x48, not '%s'", o->sub_stream);
  else if (g_strcmp0 (o->audio, "none") != 0 && o->loop)
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--audio needs the live camera, not --loop");
  else if ((o->user == NULL) != (o->password == NULL)
      || (o->auth && g_strcmp0 (o->auth, "basic")
          && g_strcmp0 (o->auth, "digest")))
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--user and --password go together; --auth is basic or digest");
  else if (o->sub_stream && o->loop)
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--sub-stream needs the live camera, not --loop");
  return error == NULL || *error == NULL;
}

/* ---- live: encoded as it plays ---- */

static gchar *
encoder_description (const Options * o)
{
  gint gop = o->gop > 0 ? o->gop : o->fps;
  g_autofree gchar *rate = o->bitrate > 0 ?
      g_strdup_printf (" bitrate=%d", o->bitrate) : g_strdup ("");

  if (g_str_equal (o->codec, "h265"))
    /* closed GOPs (IDR, no leading pictures), a fixed B-frame pattern */
    return g_strdup_printf ("x265enc speed-preset=ultrafast%s key-int-max=%d%s "
        "option-string=\"scenecut=0:open-gop=0:bframes=%d:b-adapt=0\" "
        "! h265parse ! rtph265pay name=pay0 pt=96 config-interval=-1",
        o->bframes == 0 ? " tune=zerolatency" : "", gop, rate, o->bframes);
  /* x264's ultrafast preset makes no B-frames whatever it is asked, nor
   * does the Constrained Baseline that rtph264pay's caps prefer */
  return g_strdup_printf ("x264enc speed-preset=%s bframes=%d "
      "b-adapt=false key-int-max=%d%s option-string=scenecut=0 "
      "! video/x-h264,profile=%s "
      "! h264parse ! rtph264pay name=pay0 pt=96 config-interval=-1",
      o->bframes == 0 ? "ultrafast tune=zerolatency" : "superfast",
      o->bframes, gop, rate, o->bframes == 0 ? "constrained-baseline" : "high");
}

/* The audio branch of --audio: ticks once a second, encoded and paid as
 * pay1; "" for none. */
static const gchar *
audio_description (const Options * o)
{
#define TICKS "audiotestsrc name=ticks is-live=true wave=ticks " \
    "tick-interval=1000000000 " \
    "volume=0.8 "
  if (g_str_equal (o->audio, "aac"))
    return TICKS "! audio/x-raw,rate=48000,channels=1 ! voaacenc "
        "! aacparse ! rtpmp4gpay name=pay1 pt=97";
  if (g_str_equal (o->audio, "opus"))
    return TICKS "! audio/x-raw,rate=48000,channels=1 ! opusenc "
        "! rtpopuspay name=pay1 pt=98";
  if (g_str_equal (o->audio, "pcma"))
    /* 20 ms buffers, as the packets: with audiotestsrc's 1024 samples
     * (128 ms at 8 kHz) the stream comes out ~100 ms early */
    return TICKS "samplesperbuffer=160 ! audio/x-raw,rate=8000,channels=1 "
        "! alawenc " "! rtppcmapay name=pay1 pt=8";
#undef TICKS
  return "";
}

/* The first tick (--audio with --stamp): the stamps from now on are whole
 * seconds at each tick (the whole second of the wall clock now). */
static GstPadProbeReturn
on_first_tick (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  GstElement *stamp = data;
  GstClockTime pts = GST_BUFFER_PTS (GST_PAD_PROBE_INFO_BUFFER (info));
  gint64 whole = g_get_real_time () / G_USEC_PER_SEC * GST_SECOND;

  if (GST_CLOCK_TIME_IS_VALID (pts))
    g_object_set (stamp, "offset", whole - (gint64) pts, NULL);
  return GST_PAD_PROBE_REMOVE;
}

/* --audio-late: what comes before @data ms is not sent. */
static GstPadProbeReturn
on_early_buffer (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  GstClockTime pts = GST_BUFFER_PTS (GST_PAD_PROBE_INFO_BUFFER (info));

  if (GST_CLOCK_TIME_IS_VALID (pts)
      && pts < (GstClockTime) GPOINTER_TO_INT (data) * GST_MSECOND)
    return GST_PAD_PROBE_DROP;
  return GST_PAD_PROBE_REMOVE;
}

/* Drops what @element sends before @ms (when not 0). */
static void
send_late (GstElement * element, gint ms)
{
  if (element == NULL || ms == 0)
    return;
  g_autoptr (GstPad) pad = gst_element_get_static_pad (element, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_early_buffer,
      GINT_TO_POINTER (ms), NULL);
}

static void
on_live_configure (GstRTSPMediaFactory * factory, GstRTSPMedia * media,
    gpointer data)
{
  const Options *o = data;
  g_autoptr (GstElement) bin = gst_rtsp_media_get_element (media);
  g_autoptr (GstElement) ticks = gst_bin_get_by_name (GST_BIN (bin), "ticks");
  g_autoptr (GstElement) stamp = gst_bin_get_by_name (GST_BIN (bin), "stamp");

  if (ticks && stamp) {
    g_autoptr (GstPad) pad = gst_element_get_static_pad (ticks, "src");
    g_object_set (stamp, "offset", g_get_real_time () * GST_USECOND, NULL);
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_first_tick,
        gst_object_ref (stamp), gst_object_unref);
  }
  send_late (ticks, o->audio_late);
}

static gchar *
live_launch (const Options * o)
{
  g_autofree gchar *enc = encoder_description (o);

  const gchar *audio = audio_description (o);
  const gchar *stamp = !o->stamp ? "" : !*audio ? "! lbclockstamp" :
      "! lbclockstamp name=stamp source=pts";

  return g_strdup_printf ("( videotestsrc is-live=true pattern=ball "
      "! video/x-raw,width=%d,height=%d,framerate=%d/1 ! videoconvert "
      "! video/x-raw,format=I420 %s ! %s %s )", o->width, o->height, o->fps,
      stamp, enc, audio);
}

/* ---- loop: a file encoded beforehand ---- */

static void
loop_free (Loop * l)
{
  if (l == NULL)
    return;
  gst_clear_caps (&l->caps);
  g_clear_pointer (&l->frames, g_ptr_array_unref);
  g_free (l);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Loop, loop_free);

static void
on_parsed_pad (GstElement * parsebin, GstPad * pad, gpointer sink)
{
  g_autoptr (GstPad) sinkpad = gst_element_get_static_pad (sink, "sink");
  g_autoptr (GstCaps) caps = gst_pad_query_caps (pad, NULL);
  const gchar *media = gst_structure_get_name (gst_caps_get_structure (caps,
          0));

  if (!gst_pad_is_linked (sinkpad) && (g_str_equal (media, "video/x-h264")
          || g_str_equal (media, "video/x-h265")))
    gst_pad_link (pad, sinkpad);
}

/* Appends @sample's buffer to @l (times from the first frame's DTS);
 * FALSE once the frames are over LOOP_MAX_BYTES. */
static gboolean
loop_add (Loop * l, GstSample * sample, gsize * bytes, GstClockTime * base,
    GstClockTime * end)
{
  GstBuffer *b = gst_buffer_copy (gst_sample_get_buffer (sample));
  GstClockTime dts = GST_BUFFER_DTS_IS_VALID (b) ? GST_BUFFER_DTS (b) :
      GST_BUFFER_PTS (b);

  if (l->caps == NULL)
    l->caps = gst_caps_copy (gst_sample_get_caps (sample));
  if (!GST_CLOCK_TIME_IS_VALID (*base))
    *base = dts;
  GST_BUFFER_DTS (b) = dts - MIN (dts, *base);
  GST_BUFFER_PTS (b) = GST_BUFFER_PTS (b) - MIN (GST_BUFFER_PTS (b), *base);
  *end = MAX (*end, GST_BUFFER_PTS (b) + (GST_BUFFER_DURATION_IS_VALID (b) ?
          GST_BUFFER_DURATION (b) : 0));
  *bytes += gst_buffer_get_size (b);
  g_ptr_array_add (l->frames, b);
  return *bytes <= LOOP_MAX_BYTES;
}

/* The encoded frames of @path (filesrc ! parsebin ! appsink). */
static Loop *
loop_load (const gchar * path, GError ** error)
{
  g_autoptr (GstElement) p = gst_parse_launch ("filesrc name=src "
      "! parsebin name=parse appsink name=sink sync=false "
      "caps=\"video/x-h264,alignment=au;video/x-h265,alignment=au\"", error);
  if (p == NULL)
    return NULL;
  g_autoptr (GstElement) src = gst_bin_get_by_name (GST_BIN (p), "src");
  g_autoptr (GstElement) parse = gst_bin_get_by_name (GST_BIN (p), "parse");
  g_autoptr (GstElement) sink = gst_bin_get_by_name (GST_BIN (p), "sink");
  g_autoptr (Loop) l = g_new0 (Loop, 1);
  GstClockTime base = GST_CLOCK_TIME_NONE, end = 0;
  gsize bytes = 0;
  GstSample *s;

  l->frames = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_buffer_unref);
  g_object_set (src, "location", path, NULL);
  g_signal_connect (parse, "pad-added", G_CALLBACK (on_parsed_pad), sink);
  gst_element_set_state (p, GST_STATE_PLAYING);
  while ((s = gst_app_sink_try_pull_sample (GST_APP_SINK (sink),
              10 * GST_SECOND))) {
    gboolean room = loop_add (l, s, &bytes, &base, &end);
    gst_sample_unref (s);
    if (!room) {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOMEM,
          "%s: more than %d MiB of frames", path, LOOP_MAX_BYTES >> 20);
      break;
    }
  }
  gst_element_set_state (p, GST_STATE_NULL);
  if (error && *error)
    return NULL;
  if (l->frames->len == 0 || end == 0) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
        "%s: no H.264 or H.265 video with timestamps in it", path);
    return NULL;
  }
  l->duration = end;
  return g_steal_pointer (&l);
}

/* appsrc wants more: the next frame, a pass later after the last one. */
static void
on_need_data (GstAppSrc * src, guint length, gpointer data)
{
  LoopFeed *feed = data;
  const Loop *l = feed->loop;
  GstBuffer *b = gst_buffer_copy (l->frames->pdata[feed->next]);
  GstClockTime shift = feed->pass * l->duration;

  GST_BUFFER_PTS (b) += shift;
  GST_BUFFER_DTS (b) += shift;
  if (feed->next == 0 && feed->pass > 0)
    GST_BUFFER_FLAG_SET (b, GST_BUFFER_FLAG_DISCONT);
  if (++feed->next == l->frames->len) {
    feed->next = 0;
    feed->pass++;
  }
  gst_app_src_push_buffer (src, b);
}

static void
on_media_configure (GstRTSPMediaFactory * factory, GstRTSPMedia * media,
    gpointer data)
{
  const Loop *l = data;
  g_autoptr (GstElement) bin = gst_rtsp_media_get_element (media);
  g_autoptr (GstElement) src = gst_bin_get_by_name (GST_BIN (bin), "src");
  LoopFeed *feed = g_new0 (LoopFeed, 1);
  GstAppSrcCallbacks cb = {.need_data = on_need_data };

  feed->loop = l;
  g_object_set (src, "caps", l->caps, "format", GST_FORMAT_TIME,
      "is-live", TRUE, "max-buffers", (guint64) 4, NULL);
  gst_app_src_set_callbacks (GST_APP_SRC (src), &cb, feed, g_free);
}

static gchar *
loop_launch (const Loop * l)
{
  gboolean h265 = gst_structure_has_name (gst_caps_get_structure (l->caps, 0),
      "video/x-h265");
  /* clocksync paces the frames at their own times */
  return g_strdup_printf ("( appsrc name=src ! clocksync ! %s "
      "! %s name=pay0 pt=96 config-interval=-1 )",
      h265 ? "h265parse" : "h264parse", h265 ? "rtph265pay" : "rtph264pay");
}

/* ---- the server ---- */

/* --user and --password: the camera asks every client for them. */
static void
add_auth (GstRTSPServer * server, const Options * o)
{
  g_autoptr (GstRTSPAuth) auth = gst_rtsp_auth_new ();
  GstRTSPToken *token = gst_rtsp_token_new (GST_RTSP_TOKEN_MEDIA_FACTORY_ROLE,
      G_TYPE_STRING, "viewer", NULL);

  if (g_strcmp0 (o->auth, "digest") == 0) {
    gst_rtsp_auth_set_supported_methods (auth, GST_RTSP_AUTH_DIGEST);
    gst_rtsp_auth_add_digest (auth, o->user, o->password, token);
  } else {
    g_autofree gchar *basic = gst_rtsp_auth_make_basic (o->user, o->password);
    gst_rtsp_auth_add_basic (auth, basic, token);
  }
  gst_rtsp_token_unref (token);
  gst_rtsp_server_set_auth (server, auth);
}

static GstRTSPMediaFactory *
make_factory (const Options * o, const Loop * loop, GstClock * clock)
{
  GstRTSPMediaFactory *factory = gst_rtsp_media_factory_new ();
  g_autofree gchar *launch = loop ? loop_launch (loop) : live_launch (o);

  gst_rtsp_media_factory_set_launch (factory, launch);
  /* one media for every client, but a camera whose audio starts late does
   * so at each connection */
  gst_rtsp_media_factory_set_shared (factory, o->audio_late == 0);
  gst_rtsp_media_factory_set_clock (factory, clock);
  if (o->user)
    gst_rtsp_media_factory_add_role (factory, "viewer",
        GST_RTSP_PERM_MEDIA_FACTORY_ACCESS, G_TYPE_BOOLEAN, TRUE,
        GST_RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, G_TYPE_BOOLEAN, TRUE, NULL);
  if (loop)
    g_signal_connect (factory, "media-configure",
        G_CALLBACK (on_media_configure), (gpointer) loop);
  else
    g_signal_connect (factory, "media-configure",
        G_CALLBACK (on_live_configure), (gpointer) o);
  return factory;
}

int
main (int argc, char **argv)
{
  Options o = {.width = 160,.height = 120,.fps = 15 };
  g_autoptr (GError) error = NULL;
  GOptionEntry entries[] = {
    {"port", 0, 0, G_OPTION_ARG_INT, &o.port, "TCP port (0: any free port)",
        "N"},
    {"width", 0, 0, G_OPTION_ARG_INT, &o.width, "Frame width (160)", "W"},
    {"height", 0, 0, G_OPTION_ARG_INT, &o.height, "Frame height (120)", "H"},
    {"fps", 0, 0, G_OPTION_ARG_INT, &o.fps, "Frames per second (15)", "F"},
    {"codec", 0, 0, G_OPTION_ARG_STRING, &o.codec, "h264 (default) or h265",
        "C"},
    {"bframes", 0, 0, G_OPTION_ARG_INT, &o.bframes,
        "B-frames between references, 0 to 4 (0)", "N"},
    {"gop", 0, 0, G_OPTION_ARG_INT, &o.gop,
        "Frames per keyframe (default: one keyframe a second)", "N"},
    {"bitrate", 0, 0, G_OPTION_ARG_INT, &o.bitrate,
        "Encoder bitrate in kbit/s (the encoder's default)", "KBPS"},
    {"stamp", 0, 0, G_OPTION_ARG_NONE, &o.stamp,
          "Draw the wall-clock time of capture into each frame (lbclockstamp)",
        NULL},
    {"loop", 0, 0, G_OPTION_ARG_FILENAME, &o.loop,
        "Serve this encoded file over and over instead of encoding", "FILE"},
    {"audio", 0, 0, G_OPTION_ARG_STRING, &o.audio,
          "Audio stream of ticks: none (default), aac, opus or pcma",
        "A"},
    {"audio-late", 0, 0, G_OPTION_ARG_INT, &o.audio_late,
        "Send no audio of the first MS milliseconds (0)", "MS"},
    {"sub-stream", 0, 0, G_OPTION_ARG_STRING, &o.sub_stream,
        "A second profile of this size at /sub", "WxH"},
    {"user", 0, 0, G_OPTION_ARG_STRING, &o.user,
        "Ask clients for this user name", "U"},
    {"password", 0, 0, G_OPTION_ARG_STRING, &o.password,
        "... and this password", "P"},
    {"auth", 0, 0, G_OPTION_ARG_STRING, &o.auth,
        "basic (default) or digest", "A"},
    {NULL}
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new (NULL);

  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    fprintf (stderr, "lb-test-camera: %s\n", error->message);
    return 2;
  }
  if (o.codec == NULL)
    o.codec = g_strdup ("h264");
  if (o.audio == NULL)
    o.audio = g_strdup ("none");
  if (!check_options (&o, &error)) {
    fprintf (stderr, "lb-test-camera: %s\n", error->message);
    return 2;
  }
  g_autoptr (Loop) loop = NULL;
  if (o.loop && (loop = loop_load (o.loop, &error)) == NULL) {
    fprintf (stderr, "lb-test-camera: %s\n", error->message);
    return 1;
  }

  g_autoptr (GMainLoop) main_loop = g_main_loop_new (NULL, FALSE);
  g_autoptr (GstRTSPServer) server = gst_rtsp_server_new ();
  g_autofree gchar *service = g_strdup_printf ("%d", o.port);
  gst_rtsp_server_set_address (server, "127.0.0.1");
  gst_rtsp_server_set_service (server, service);
  if (o.user)
    add_auth (server, &o);
  g_autoptr (GstClock) clock = g_object_new (GST_TYPE_SYSTEM_CLOCK,
      "clock-type", GST_CLOCK_TYPE_REALTIME, NULL);
  g_autoptr (GstRTSPMountPoints) mounts =
      gst_rtsp_server_get_mount_points (server);
  gst_rtsp_mount_points_add_factory (mounts, "/cam", make_factory (&o, loop,
          clock));
  /* the factories keep a pointer to their options: alive as long as main */
  Options sub = o;
  if (o.sub_stream) {
    sscanf (o.sub_stream, "%dx%d", &sub.width, &sub.height);
    sub.bitrate = o.bitrate / 4;
    sub.audio = (gchar *) "none";
    gst_rtsp_mount_points_add_factory (mounts, "/sub", make_factory (&sub,
            NULL, clock));
  }

  if (gst_rtsp_server_attach (server, NULL) == 0) {
    fprintf (stderr, "lb-test-camera: cannot listen on 127.0.0.1:%d\n", o.port);
    return 1;
  }
  printf ("rtsp://127.0.0.1:%d/cam\n", gst_rtsp_server_get_bound_port (server));
  fflush (stdout);

  g_unix_signal_add (SIGINT, on_signal, main_loop);
  g_unix_signal_add (SIGTERM, on_signal, main_loop);
  g_main_loop_run (main_loop);
  g_free (o.codec);
  g_free (o.loop);
  g_free (o.audio);
  g_free (o.sub_stream);
  g_free (o.user);
  g_free (o.password);
  g_free (o.auth);
  return 0;
}
