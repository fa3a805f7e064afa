/* lookback — the video codecs stored as they come */
#include "core/lb-codec.h"

static const LbCodec codecs[] = {
  {"h264", "H.264", "video/x-h264", "h264parse", "avdec_h264",
      "h264timestamper", "H264", "rtph264depay"},
  {"h265", "H.265", "video/x-h265", "h265parse", "avdec_h265",
      "h265timestamper", "H265", "rtph265depay"},
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

const LbCodec *
lb_codec_from_rtp (const GstStructure * s)
{
  g_return_val_if_fail (s != NULL, NULL);
  if (!gst_structure_has_name (s, "application/x-rtp")
      || g_strcmp0 (gst_structure_get_string (s, "media"), "video") != 0)
    return NULL;
  const gchar *encoding = gst_structure_get_string (s, "encoding-name");
  for (guint i = 0; encoding && i < G_N_ELEMENTS (codecs); i++)
    if (g_ascii_strcasecmp (codecs[i].rtp_encoding, encoding) == 0)
      return &codecs[i];
  return NULL;
}

static const LbAudioCodec audio_codecs[] = {
  {"aac", "AAC", "audio/mpeg", "aacparse", "avdec_aac"},
  {"opus", "Opus", "audio/x-opus", "opusparse", "opusdec"},
};

const LbAudioCodec *
lb_audio_codecs (guint * n)
{
  g_return_val_if_fail (n != NULL, NULL);
  *n = G_N_ELEMENTS (audio_codecs);
  return audio_codecs;
}

const LbAudioCodec *
lb_audio_codec_from_name (const gchar * name)
{
  for (guint i = 0; name && i < G_N_ELEMENTS (audio_codecs); i++)
    if (g_str_equal (audio_codecs[i].name, name))
      return &audio_codecs[i];
  return NULL;
}

const LbAudioCodec *
lb_audio_codec_from_media (const gchar * media, gint mpegversion)
{
  if (g_strcmp0 (media, "audio/mpeg") == 0)
    return mpegversion == 2 || mpegversion == 4 ? &audio_codecs[0] : NULL;
  for (guint i = 1; media && i < G_N_ELEMENTS (audio_codecs); i++)
    if (g_str_equal (audio_codecs[i].media, media))
      return &audio_codecs[i];
  return NULL;
}
