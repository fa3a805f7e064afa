/* `lookback coverage` on a store with a gap */
#include "cli/lb-cli.h"
#include "core/lb-error.h"
#include "core/lb-time.h"
#include "store/lb-store-footage.h"
#include "lb-test-common.h"

#include <gst/gst.h>
#include <string.h>

#define T0 G_GINT64_CONSTANT (1700000000000000000)      /* 2023-11-14T22:13:20Z */
#define S(x) ((gint64) ((x) * GST_SECOND))

static gchar *dir;
static gchar *conf_path;

/* A segment [start, end) timed in clock epoch @epoch (0: synchronised). */
static void
add_timed (LbStore * store, const gchar * vehicle, const gchar * input,
    gint64 start, gint64 end, gint64 epoch)
{
  const gint64 span[1][2] = { {start, end} };

  lb_test_add_footage (store, vehicle, input, epoch, span, 1);
}

static void
add (LbStore * store, const gchar * input, gint64 start, gint64 end)
{
  add_timed (store, "v1", input, start, end, 0);
}

static gchar *
run_command (const gchar * const *args, GError ** error)
{
  g_autoptr (LbConfig) config = lb_config_load (conf_path, NULL);
  g_assert_nonnull (config);
  const LbCliCommand *cmd = lb_cli_find ("coverage");
  g_assert_nonnull (cmd);
  /* the command's option parser takes strings out of argv: free a copy */
  g_auto (GStrv) strings = g_strdupv ((gchar **) args);
  guint argc = g_strv_length (strings);
  g_autofree gchar **argv = g_memdup2 (strings, (argc + 1) * sizeof (gchar *));
  g_autoptr (GString) out = g_string_new (NULL);
  if (!cmd->func (config, argc, argv, out, error))
    return NULL;
  return g_strdup (out->str);
}

static const gchar expect_all[] =
    "v1 a: 2023-11-14T22:13:20Z .. 2023-11-14T22:17:10.500Z, 2m30.500s recorded, 2 ranges, 1 gap\n"
    "  recorded 2023-11-14T22:13:20Z .. 2023-11-14T22:15:20Z  2m\n"
    "  gap      2023-11-14T22:15:20Z .. 2023-11-14T22:16:40Z  1m20s\n"
    "  recorded 2023-11-14T22:16:40Z .. 2023-11-14T22:17:10.500Z  30.500s\n"
    "v1 b: 2023-11-14T22:13:30Z .. 2023-11-14T22:13:40Z, 10s recorded, 1 range, 0 gaps\n"
    "  recorded 2023-11-14T22:13:30Z .. 2023-11-14T22:13:40Z  10s\n";

static void
test_coverage (void)
{
  g_autoptr (GError) error = NULL;
  const gchar *all[] = { "coverage", "--vehicle", "v1", NULL };
  g_autofree gchar *out = run_command (all, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (out, ==, expect_all);

  const gchar *window[] = { "coverage", "--vehicle", "v1", "--input", "a",
    "--from", "2023-11-14T22:12:20Z", "--to", "2023-11-14T22:13:50Z", NULL
  };
  g_autofree gchar *out2 = run_command (window, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (out2, ==,
      "v1 a: 2023-11-14T22:12:20Z .. 2023-11-14T22:13:50Z, 30s recorded, 1 range, 1 gap\n"
      "  gap      2023-11-14T22:12:20Z .. 2023-11-14T22:13:20Z  1m\n"
      "  recorded 2023-11-14T22:13:20Z .. 2023-11-14T22:13:50Z  30s\n");

  const gchar *none[] = { "coverage", "--vehicle", "nobody", NULL };
  g_autofree gchar *out3 = run_command (none, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (out3, ==, "nobody: no footage\n");

  const gchar *bad[] = { "coverage", "--input", "a", NULL };
  g_autofree gchar *out4 = run_command (bad, &error);
  g_assert_null (out4);
  g_assert_error (error, LB_ERROR, LB_ERROR_INVALID);
}

static void
test_binary (void)
{
  /* the real program prints the same */
  const gchar *argv[] =
      { g_getenv ("LOOKBACK"), "--config", conf_path, "coverage",
    "--vehicle", "v1", NULL
  };
  g_autofree gchar *out = NULL, *err = NULL;
  gint status = 0;
  g_autoptr (GError) error = NULL;
  g_assert_true (g_spawn_sync (NULL, (gchar **) argv, NULL, G_SPAWN_DEFAULT,
          NULL, NULL, &out, &err, &status, &error));
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_assert_cmpstr (out, ==, expect_all);
}

/* Footage recorded before the clock was synchronised is marked. */
static void
test_unsynced (void)
{
  g_autoptr (GError) error = NULL;
  const gchar *args[] = { "coverage", "--vehicle", "v2", NULL };
  g_autofree gchar *out = run_command (args, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (out, ==,
      "v2 c: 2023-11-14T22:13:20Z .. 2023-11-14T22:15:20Z, 2m recorded, 1 range, 0 gaps, 1m30s unsynchronised\n"
      "  recorded 2023-11-14T22:13:20Z .. 2023-11-14T22:15:20Z  2m\n"
      "  unsynced 2023-11-14T22:13:20Z .. 2023-11-14T22:14:50Z  1m30s  (clock not synchronised: times may be off)\n");
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  dir = g_dir_make_tmp ("lb-coverage-XXXXXX", NULL);
  conf_path = g_build_filename (dir, "lookback.conf", NULL);
  g_autofree gchar *conf = g_strdup_printf ("[store]\ndir=%s\n", dir);
  g_assert_true (g_file_set_contents (conf_path, conf, -1, NULL));
  {
    g_autofree gchar *db = g_build_filename (dir, "lookback.db", NULL);
    g_autoptr (GError) error = NULL;
    g_autoptr (LbStore) store =
        lb_store_open (db, LB_STORE_OPEN_DEFAULT, &error);
    g_assert_no_error (error);
    add (store, "a", T0, T0 + S (60));
    add (store, "a", T0 + S (60.02), T0 + S (120));     /* touches: no gap */
    add (store, "a", T0 + S (200), T0 + S (230.5));
    add (store, "b", T0 + S (10), T0 + S (20));
    gint64 epoch = lb_store_clock_epoch (store, "boot", 0, &error);
    g_assert_no_error (error);
    add_timed (store, "v2", "c", T0, T0 + S (60), epoch);
    add_timed (store, "v2", "c", T0 + S (60), T0 + S (90), epoch);
    add_timed (store, "v2", "c", T0 + S (90), T0 + S (120), 0);
  }
  g_test_add_func ("/coverage/command", test_coverage);
  g_test_add_func ("/coverage/binary", test_binary);
  g_test_add_func ("/coverage/unsynced", test_unsynced);
  gint ret = g_test_run ();
  lb_test_rm_rf (dir);
  return ret;
}
