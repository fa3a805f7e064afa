/* Unit tests: configuration loading and validation */
#include "core/lb-config.h"
#include "core/lb-error.h"
#include "core/lb-time.h"

#include <gst/gst.h>
#include <string.h>

static void
test_defaults (void)
{
  g_autoptr (LbConfig) config = lb_config_new_default ();
  g_assert_cmpstr (lb_config_get_string (config, "server", "listen"), ==,
      "127.0.0.1:8080");
  g_assert_cmpint (lb_config_get_duration (config, "recorder",
          "segment-duration"), ==, 60 * LB_NS_PER_SEC);
  g_assert_cmpfloat (lb_config_get_double (config, "api", "create-per-minute"),
      ==, 100);
  g_assert_cmpint (lb_config_get_size (config, "server", "max-body"), ==,
      65536);
  g_assert_true (lb_config_has_vehicle (config, "demo"));
  g_assert_nonnull (lb_config_find_input (config, "demo", "dashcamRoadFacing"));
  g_assert_nonnull (lb_config_find_input (config, "demo",
          "dashcamDriverFacing"));
  g_assert_null (lb_config_find_input (config, "demo", "analog1"));
  g_assert_true (g_str_has_suffix (lb_config_get_store_dir (config),
          "/lookback-data"));
}

static void
test_documented_file_loads (void)
{
  g_autofree gchar *path =
      g_build_filename (g_getenv ("LB_SOURCE_ROOT"), "data",
      "lookback.conf", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (LbConfig) config = lb_config_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (lb_config_get_store_dir (config), ==, "/var/lib/lookback");
  g_assert_cmpint (lb_config_get_inputs (config)->len, ==, 0);
}

static void
test_inputs_and_roles (void)
{
  const gchar *text =
      "[store]\ndir=store\n"
      "[retention]\nmax-age=7d\n"
      "[input 1234 analog1]\nsource=videotestsrc\nrole=rearHigh\nretention-max-bytes=1GiB\n"
      "[input 1234 dashcamRoadFacing]\nsource=videotestsrc\naudio=true\n"
      "sub-source=videotestsrc pattern=ball\n" "[org acme]\nallowance=42\n";
  g_autoptr (GError) error = NULL;
  g_autoptr (LbConfig) config =
      lb_config_load_data (text, "/etc/lb/test.conf", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (lb_config_get_store_dir (config), ==, "/etc/lb/store");
  const LbInputConfig *in = lb_config_find_role (config, "1234", "rearHigh");
  g_assert_nonnull (in);
  g_assert_cmpstr (in->input, ==, "analog1");
  g_assert_cmpint (in->retention_max_bytes, ==, G_GINT64_CONSTANT (1073741824));
  g_assert_cmpint (in->retention_max_age, ==, 7 * 86400 * LB_NS_PER_SEC);
  g_assert_null (lb_config_find_role (config, "1234", "front"));
  /* audio is off unless asked for (in-cab audio is personal data) */
  g_assert_false (in->audio);
  g_assert_true (lb_config_find_input (config, "1234",
          "dashcamRoadFacing")->audio);
  /* a sub-stream only when asked for */
  g_assert_null (in->sub_source);
  g_assert_cmpstr (lb_config_find_input (config, "1234",
          "dashcamRoadFacing")->sub_source, ==, "videotestsrc pattern=ball");
  g_assert_cmpfloat (lb_config_get_org_allowance (config, "acme"), ==, 42);
  g_assert_cmpfloat (lb_config_get_org_allowance (config, "other"), ==, 900000);
}

static void
expect_bad (const gchar * text, const gchar * fragment)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LbConfig) config = lb_config_load_data (text, "bad.conf", &error);
  g_assert_null (config);
  g_assert_error (error, LB_ERROR, LB_ERROR_CONFIG);
  if (!strstr (error->message, fragment))
    g_error ("'%s' does not contain '%s'", error->message, fragment);
}

static void
test_bad (void)
{
  expect_bad ("[server]\nlisten=x\n[jobs]\nworkers=lots\n",
      "bad.conf:4: [jobs] workers");
  expect_bad ("[server]\nlisten=x\nlistne=y\n",
      "bad.conf:3: [server] listne: unknown key");
  expect_bad ("[sever]\nlisten=x\n", "bad.conf:1: [sever]: unknown group");
  expect_bad ("[recorder]\nsegment-duration=1s\n",
      "bad.conf:2: [recorder] segment-duration");
  expect_bad ("[retention]\nmax-bytes=lots\n", "[retention] max-bytes");
  expect_bad ("[input demo dashcamRoadFacing]\nrole=front\n",
      "[input demo dashcamRoadFacing] source");
  expect_bad ("[input demo frontCam]\nsource=videotestsrc\n",
      "'frontCam' is not an input");
  expect_bad ("[input demo analog2]\nsource=videotestsrc\nrole=roof\n",
      "bad.conf:3: [input demo analog2] role");
  expect_bad ("[input demo]\nsource=videotestsrc\n", "[input VEHICLE INPUT]");
  expect_bad ("[input demo analog1]\nsource=videotestsrc\naudio=yes please\n",
      "bad.conf:3: [input demo analog1] audio");
  expect_bad ("this is not a key file\n", "bad.conf");
  expect_bad ("[store]\nmin-free=100%\n", "[store] min-free");
  expect_bad ("[store]\nmin-free=lots\n", "[store] min-free");
  /* found by fuzz-config: sizes beyond a gint64 were cast (undefined), a
   * number could be NaN, a value not UTF-8 made a critical */
  expect_bad ("[server]\nmax-body=188888888888888888888MiB\n",
      "[server] max-body");
  expect_bad ("[quota]\nallowance=nan\n", "[quota] allowance");
  expect_bad ("[server]\npublic-url=http://x/\\\n", "[server] public-url");
  expect_bad ("[recorder]\nsegment-duration=1e30\n",
      "[recorder] segment-duration");
  expect_bad ("[server]\npublic-url=\xff\xfe\n",
      "bad.conf:2: [server] public-url");
  expect_bad ("[upload-headers]\nX-Key=\xc3\n", "[upload-headers] X-Key");
  expect_bad ("[recorder]\ntime-source=gps\n", "[recorder] time-source");
  expect_bad ("[recorder]\ntime-source=file\ntime-sync-file=\n",
      "[recorder] time-sync-file");
}

static void
test_size_or_percent (void)
{
  g_autoptr (LbConfig) config = lb_config_new_default ();
  g_autoptr (GError) error = NULL;
  gint64 disk = G_GINT64_CONSTANT (64) << 30;

  /* the documented default: 5 % of the store's file system */
  g_assert_cmpint (lb_config_get_size_of (config, "store", "min-free", disk),
      ==, disk / 20);
  g_assert_true (lb_config_set (config, "store", "min-free", "2GiB", &error));
  g_assert_cmpint (lb_config_get_size_of (config, "store", "min-free", disk),
      ==, G_GINT64_CONSTANT (2) << 30);
  g_assert_true (lb_config_set (config, "store", "min-free", "12.5%", &error));
  g_assert_cmpint (lb_config_get_size_of (config, "store", "min-free", disk),
      ==, disk / 8);
  g_assert_true (lb_config_set (config, "store", "min-free", "0", &error));
  g_assert_cmpint (lb_config_get_size_of (config, "store", "min-free", disk),
      ==, 0);
  g_assert_no_error (error);
}

static void
test_set (void)
{
  g_autoptr (LbConfig) config = lb_config_new_default ();
  g_autoptr (GError) error = NULL;
  g_assert_true (lb_config_set (config, "jobs", "workers", "3", &error));
  g_assert_cmpint (lb_config_get_int (config, "jobs", "workers"), ==, 3);
  g_assert_false (lb_config_set (config, "jobs", "workers", "x", &error));
  g_assert_error (error, LB_ERROR, LB_ERROR_CONFIG);
}

int
main (int argc, char **argv)
{
  gst_init (NULL, NULL);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/config/defaults", test_defaults);
  g_test_add_func ("/config/documented-file", test_documented_file_loads);
  g_test_add_func ("/config/inputs", test_inputs_and_roles);
  g_test_add_func ("/config/bad", test_bad);
  g_test_add_func ("/config/set", test_set);
  g_test_add_func ("/config/size-or-percent", test_size_or_percent);
  return g_test_run ();
}
