/* lb-test-camera — a tiny RTSP camera for tests (and demos)
 *
 *   lb-test-camera [--port N] [--width W] [--height H] [--fps F]
 *
 * Serves live H.264 (videotestsrc → x264enc, one keyframe a second) at
 * rtsp://127.0.0.1:PORT/cam on loopback only; port 0 (the default) picks a
 * free one.  Prints the URL on one line of stdout once it listens, then runs
 * until killed.  "--port N" lets a test restart the camera at the same URL.
 */
#include <glib-unix.h>
#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>
#include <stdio.h>

static gboolean
on_signal (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
  gint port = 0, width = 160, height = 120, fps = 15;
  g_autoptr (GError) error = NULL;
  GOptionEntry entries[] = {
    {"port", 0, 0, G_OPTION_ARG_INT, &port, "TCP port (0: any free port)", "N"},
    {"width", 0, 0, G_OPTION_ARG_INT, &width, "Frame width", "W"},
    {"height", 0, 0, G_OPTION_ARG_INT, &height, "Frame height", "H"},
    {"fps", 0, 0, G_OPTION_ARG_INT, &fps, "Frames per second", "F"},
    {NULL}
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new (NULL);

  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    fprintf (stderr, "lb-test-camera: %s\n", error->message);
    return 2;
  }

  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr (GstRTSPServer) server = gst_rtsp_server_new ();
  g_autofree gchar *service = g_strdup_printf ("%d", port);
  gst_rtsp_server_set_address (server, "127.0.0.1");
  gst_rtsp_server_set_service (server, service);

  g_autofree gchar *launch =
      g_strdup_printf ("( videotestsrc is-live=true pattern=ball ! "
      "video/x-raw,width=%d,height=%d,framerate=%d/1 ! videoconvert ! "
      "video/x-raw,format=I420 ! x264enc speed-preset=ultrafast tune=zerolatency "
      "bframes=0 key-int-max=%d option-string=scenecut=0 ! "
      "rtph264pay name=pay0 pt=96 config-interval=-1 )", width, height, fps,
      fps);
  GstRTSPMediaFactory *factory = gst_rtsp_media_factory_new ();
  gst_rtsp_media_factory_set_launch (factory, launch);
  gst_rtsp_media_factory_set_shared (factory, TRUE);
  g_autoptr (GstRTSPMountPoints) mounts =
      gst_rtsp_server_get_mount_points (server);
  gst_rtsp_mount_points_add_factory (mounts, "/cam", factory);

  if (gst_rtsp_server_attach (server, NULL) == 0) {
    fprintf (stderr, "lb-test-camera: cannot listen on 127.0.0.1:%d\n", port);
    return 1;
  }
  printf ("rtsp://127.0.0.1:%d/cam\n", gst_rtsp_server_get_bound_port (server));
  fflush (stdout);

  g_unix_signal_add (SIGINT, on_signal, loop);
  g_unix_signal_add (SIGTERM, on_signal, loop);
  g_main_loop_run (loop);
  return 0;
}
