/* The built plugin's metadata, as gst-inspect-1.0 shows it: no made-up
 * origin or author (lookback.invalid); the origin is where a packager
 * publishes the project (-Dpackage-origin=URL) or GStreamer's default. */
#include <gst/gst.h>
#include <string.h>

static void
test_metadata (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GstPlugin) plugin = gst_plugin_load_by_name ("lookback");

  g_assert_nonnull (plugin);
  const gchar *origin = gst_plugin_get_origin (plugin);
  g_assert_nonnull (origin);
  g_assert_true (g_str_equal (origin, "Unknown package origin") ||
      g_str_has_prefix (origin, "https://"));
  g_assert_null (strstr (origin, ".invalid"));

  GList *features = gst_registry_get_feature_list_by_plugin
      (gst_registry_get (), "lookback");
  g_assert_nonnull (features);
  for (GList * l = features; l; l = l->next) {
    if (!GST_IS_ELEMENT_FACTORY (l->data))
      continue;
    const gchar *author = gst_element_factory_get_metadata (l->data,
        GST_ELEMENT_METADATA_AUTHOR);
    g_assert_nonnull (author);
    g_assert_null (strstr (author, ".invalid"));
  }
  gst_plugin_feature_list_free (features);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/elements/plugin-metadata", test_metadata);
  return g_test_run ();
}
