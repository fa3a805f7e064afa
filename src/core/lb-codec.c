/* lookback — the video codecs stored as they come */
#include "core/lb-codec.h"

static const LbCodec codecs[] = {
  {"h264", "H.264", "video/x-h264", "h264parse", "avdec_h264",
      "h264timestamper"},
  {"h265", "H.265", "video/x-h265", "h265parse", "avdec_h265",
      "h265timestamper"},
};

const LbCodec *
lb_codecs (guint * n)
{
  g_return_val_if_fail (n != NULL, NULL);
  *n = G_N_ELEMENTS (codecs);
  return codecs;
}

const LbCodec *
lb_codec_from_name (const gchar * name)
{
  for (guint i = 0; name && i < G_N_ELEMENTS (codecs); i++)
    if (g_str_equal (codecs[i].name, name))
      return &codecs[i];
  return NULL;
}

const LbCodec *
lb_codec_from_media (const gchar * media)
{
  for (guint i = 0; media && i < G_N_ELEMENTS (codecs); i++)
    if (g_str_equal (codecs[i].media, media))
      return &codecs[i];
  return NULL;
}
