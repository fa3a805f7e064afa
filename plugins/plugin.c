/* lookback — the GStreamer plugin "lookback" (libgstlookback.so) */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "lbelements.h"

static gboolean
plugin_init (GstPlugin * plugin)
{
  return lb_elements_register (plugin);
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, lookback,
    "Read recorded footage from a lookback store; stamp and check frame times",
    plugin_init, VERSION, GST_LICENSE, GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
