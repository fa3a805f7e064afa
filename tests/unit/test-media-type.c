/* The media types: wire names parsed and printed in one place */
#include "core/lb-media-type.h"

static void
test_round_trip (void)
{
  const gchar *const *names = lb_media_type_names ();
  g_assert_cmpuint (g_strv_length ((GStrv) names), ==, LB_MEDIA_TYPE_COUNT);
  for (guint t = 0; t < LB_MEDIA_TYPE_COUNT; t++) {
    LbMediaType back = LB_MEDIA_TYPE_COUNT;
    g_assert_cmpstr (lb_media_type_to_string (t), ==, names[t]);
    g_assert_true (lb_media_type_from_string (names[t], &back));
    g_assert_cmpint (back, ==, t);
  }
  g_assert_cmpstr (lb_media_type_to_string (LB_MEDIA_TYPE_VIDEO_HIGH_RES), ==,
      "videoHighRes");
}

static void
test_unknown (void)
{
  const gchar *bad[] = { "", "Image", "gif", "videohighres", "image ", NULL };
  for (guint i = 0; bad[i]; i++) {
    LbMediaType t = LB_MEDIA_TYPE_HYPERLAPSE;
    g_assert_false (lb_media_type_from_string (bad[i], &t));
    g_assert_cmpint (t, ==, LB_MEDIA_TYPE_HYPERLAPSE);
  }
  LbMediaType t;
  g_assert_false (lb_media_type_from_string (NULL, &t));
}

/* Images are worked and uploaded first, hyperlapses last. */
static void
test_priority (void)
{
  g_assert_cmpint (lb_media_type_priority (LB_MEDIA_TYPE_IMAGE), <,
      lb_media_type_priority (LB_MEDIA_TYPE_VIDEO_HIGH_RES));
  g_assert_cmpint (lb_media_type_priority (LB_MEDIA_TYPE_VIDEO_HIGH_RES), ==,
      lb_media_type_priority (LB_MEDIA_TYPE_VIDEO_LOW_RES));
  g_assert_cmpint (lb_media_type_priority (LB_MEDIA_TYPE_VIDEO_LOW_RES), <,
      lb_media_type_priority (LB_MEDIA_TYPE_HYPERLAPSE));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/media-type/round-trip", test_round_trip);
  g_test_add_func ("/media-type/unknown", test_unknown);
  g_test_add_func ("/media-type/priority", test_priority);
  return g_test_run ();
}
