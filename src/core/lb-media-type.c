/* lookback — the media types of a retrieval */
#include "core/lb-media-type.h"

static const gchar *const names[] = {
  [LB_MEDIA_TYPE_IMAGE] = "image",
  [LB_MEDIA_TYPE_VIDEO_HIGH_RES] = "videoHighRes",
  [LB_MEDIA_TYPE_VIDEO_LOW_RES] = "videoLowRes",
  [LB_MEDIA_TYPE_HYPERLAPSE] = "hyperlapse",
  NULL,
};

G_STATIC_ASSERT (G_N_ELEMENTS (names) == LB_MEDIA_TYPE_COUNT + 1);

const gchar *
lb_media_type_to_string (LbMediaType type)
{
  g_return_val_if_fail ((guint) type < LB_MEDIA_TYPE_COUNT, NULL);
  return names[type];
}

gboolean
lb_media_type_from_string (const gchar * name, LbMediaType * out)
{
  g_return_val_if_fail (out != NULL, FALSE);
  for (guint i = 0; name && i < LB_MEDIA_TYPE_COUNT; i++) {
    if (g_str_equal (names[i], name)) {
      *out = (LbMediaType) i;
      return TRUE;
    }
  }
  return FALSE;
}

const gchar *const *
lb_media_type_names (void)
{
  return names;
}

gint
lb_media_type_priority (LbMediaType type)
{
  switch (type) {
    case LB_MEDIA_TYPE_IMAGE:
      return 0;
    case LB_MEDIA_TYPE_HYPERLAPSE:
      return 2;
    default:
      return 1;
  }
}
