/* Smoke test on the built plugin: every element's documented launch line
 * (the "## Example launch line" of its SECTION block) runs to EOS.
 *
 * The elements come from libgstlookback.so through GST_PLUGIN_PATH_1_0,
 * not from an in-process registration, so the plugin's file name and
 * plugin_init are tested too. */
#include <gst/gst.h>
#include <glib/gstdio.h>
#include <string.h>

#include "store/lb-store.h"
#include "lbelements.h"
#include "lb-footage-test.h"
#include "lb-test-common.h"

/* lbrecordingsrc's line reads lookback-data/lookback.db in its folder:
 * vehicle "demo", input "dashcamRoadFacing", from 2026-01-01T00:00:00Z. */
static void
make_demo_store (const gchar * cwd)
{
  g_autofree gchar *dir = g_build_filename (cwd, "lookback-data", NULL);
  g_autofree gchar *db = g_build_filename (dir, "lookback.db", NULL);
  g_autoptr (GError) error = NULL;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  LbStore *store = lb_store_open (db, LB_STORE_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
  lb_store_free (store);
  g_autoptr (GPtrArray) files = lb_test_record (db, "demo",
      "dashcamRoadFacing", G_GINT64_CONSTANT (1767225600) * GST_SECOND,
      6 * LB_TEST_FPS, 60 * GST_SECOND);
  g_assert_cmpuint (files->len, ==, 1);
}

/* The gst-launch-1.0 lines in the SECTION block of @path. */
static GPtrArray *
launch_lines (const gchar * path)
{
  g_autofree gchar *text = NULL;
  g_autoptr (GError) error = NULL;
  GPtrArray *lines = g_ptr_array_new_with_free_func (g_free);

  g_assert_true (g_file_get_contents (path, &text, NULL, &error));
  g_auto (GStrv) split = g_strsplit (text, "\n", -1);
  for (guint i = 0; split[i] != NULL; i++) {
    const gchar *line = split[i];
    if (g_str_has_prefix (line, " * gst-launch-1.0 "))
      g_ptr_array_add (lines, g_strdup (line + strlen (" * ")));
  }
  return lines;
}

static void
run_line (const gchar * line, const gchar * cwd)
{
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) argv = NULL;
  g_autofree gchar *out = NULL, *err = NULL;
  gint status = 0;

  g_test_message ("running: %s", line);
  g_assert_true (g_shell_parse_argv (line, NULL, &argv, &error));
  g_assert_no_error (error);

  /* no pipeline may hang the suite */
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_strv_builder_add_many (builder, "timeout", "60", NULL);
  g_strv_builder_addv (builder, (const gchar **) argv);
  g_auto (GStrv) full = g_strv_builder_end (builder);

  g_assert_true (g_spawn_sync (cwd, full, NULL, G_SPAWN_SEARCH_PATH, NULL,
          NULL, &out, &err, &status, &error));
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, &error))
    g_error ("'%s' failed: %s\nstdout:\n%s\nstderr:\n%s", line,
        error->message, out, err);
  g_assert_null (strstr (out, "ERROR"));
  g_assert_nonnull (strstr (out, "EOS"));
}

static void
test_launch_lines (gconstpointer data)
{
  const gchar *element = data;
  g_autofree gchar *file = g_strdup_printf ("%s.c", element);
  g_autofree gchar *path = g_build_filename (g_getenv ("LB_SOURCE_ROOT"),
      "plugins", file, NULL);
  g_autoptr (GPtrArray) lines = launch_lines (path);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *tmp = g_dir_make_tmp ("lb-launch-XXXXXX", &error);

  g_assert_no_error (error);
  g_assert_cmpuint (lines->len, >, 0);
  if (g_str_equal (element, "lbrecordingsrc"))
    make_demo_store (tmp);
  /* lbrtspsrc's line records a test camera, at whatever port it got */
  LbTestCamera *cam = g_str_equal (element, "lbrtspsrc") ?
      lb_test_camera_start (0, NULL) : NULL;
  for (guint i = 0; i < lines->len; i++) {
    g_autoptr (GString) line = g_string_new (g_ptr_array_index (lines, i));
    if (cam)
      g_string_replace (line, "rtsp://127.0.0.1:8554/cam", cam->url, 0);
    run_line (line->str, tmp);
  }
  if (cam)
    lb_test_camera_kill (cam);
  lb_test_rm_rf (tmp);
}

int
main (int argc, char **argv)
{
  static const gchar *const elements[] = {
    "lbclockstamp", "lbclockcheck", "lbframepick", "lbhyperlapse",
    "lbrecordingsrc", "lbrtspsrc", "lbstilldec",
  };

  g_test_init (&argc, &argv, NULL);
  gst_init (&argc, &argv);
  /* in-process, for the recording that lbrecordingsrc's line reads; the
   * lines themselves run gst-launch-1.0 on the built plugin */
  g_assert_true (lb_elements_register (NULL));
  g_assert_nonnull (g_getenv ("LB_SOURCE_ROOT"));
  for (guint i = 0; i < G_N_ELEMENTS (elements); i++) {
    g_autofree gchar *name = g_strdup_printf ("/launch-line/%s", elements[i]);
    g_test_add_data_func (name, elements[i], test_launch_lines);
  }
  return g_test_run ();
}
