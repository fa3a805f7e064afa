/* The command lines: every `lookback` command answers --help with exit 0
 * (whatever else is on its line, before any configuration is read), and
 * the exit status is the documented one: 0 done, 1 a runtime failure, 2 a
 * usage or configuration error — for lookback and lookbackd alike. */
#include "lb-test-common.h"

#include <gio/gio.h>
#include <string.h>


/* Runs $@program (LOOKBACK or LOOKBACKD) with the NULL-terminated @args. */
static void
run (LbTestProgram * r, const gchar * program, const gchar * const *args)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();

  g_ptr_array_add (argv, (gpointer) g_getenv (program));
  for (guint i = 0; args[i]; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  lb_test_program_run (r, NULL, NULL, (const gchar * const *) argv->pdata);
}

#define RUN(r, program, ...) \
  run (r, program, (const gchar * const []) { __VA_ARGS__, NULL })

/* The commands `lookback --help` lists. */
static GPtrArray *
command_names (void)
{
  g_auto (LbTestProgram) r = { 0 };
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);

  RUN (&r, "LOOKBACK", "--help");
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "Exit status: 0 done, 1 a runtime "
          "failure, 2 a usage or configuration error."));
  g_auto (GStrv) lines = g_strsplit (strstr (r.out, "Commands:\n"), "\n", -1);
  for (guint i = 1; lines[i] && g_str_has_prefix (lines[i], "  "); i++) {
    g_auto (GStrv) words = g_strsplit (g_strstrip (lines[i]), " ", 2);
    g_ptr_array_add (names, g_strdup (words[0]));
  }
  return names;
}

static void
test_help (void)
{
  g_autoptr (GPtrArray) names = command_names ();

  g_assert_cmpuint (names->len, >=, 4);
  for (guint i = 0; i < names->len; i++) {
    const gchar *name = names->pdata[i];
    g_auto (LbTestProgram) a = { 0 };
    g_auto (LbTestProgram) b = { 0 };
    g_auto (LbTestProgram) c = { 0 };

    RUN (&a, "LOOKBACK", name, "--help");
    g_test_message ("lookback %s --help: %d", name, a.status);
    g_assert_cmpint (a.status, ==, 0);
    g_autofree gchar *usage = g_strdup_printf ("usage: lookback [--config "
        "FILE] %s", name);
    g_assert_true (g_str_has_prefix (a.out, usage));
    g_assert_cmpstr (a.err, ==, "");
    /* -h, after other arguments, and with a configuration that does not
     * exist: help all the same */
    RUN (&b, "LOOKBACK", "--config", "/nonexistent.conf", name, "list", "-h");
    g_assert_cmpint (b.status, ==, 0);
    g_assert_cmpstr (b.out, ==, a.out);
    /* "--" ends the options: what follows is an argument */
    RUN (&c, "LOOKBACK", "--config", "/nonexistent.conf", name, "--", "--help");
    g_assert_cmpint (c.status, ==, 2);
  }
  g_auto (LbTestProgram) d = { 0 };
  RUN (&d, "LOOKBACKD", "--help");
  g_assert_cmpint (d.status, ==, 0);
}

static void
test_exit_status (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("lb-cli-XXXXXX", &error);
  g_autofree gchar *bad_key = g_build_filename (dir, "bad.conf", NULL);
  g_autofree gchar *broken = g_build_filename (dir, "broken.conf", NULL);
  g_autofree gchar *db = g_build_filename (dir, "lookback.db", NULL);
  g_autofree gchar *text = g_strdup_printf ("[store]\ndir=%s\n", dir);
  struct
  {
    const gchar *program;
    gint status;
    const gchar *args[6];
  } cases[] = {
    /* usage */
    {"LOOKBACK", 2, {NULL}},
    {"LOOKBACK", 2, {"no-such-command"}},
    {"LOOKBACK", 2, {"--no-such-option", "coverage"}},
    {"LOOKBACK", 2, {"--config", broken, "coverage"}},
    {"LOOKBACK", 2, {"--config", broken, "coverage", "--vehicle"}},
    {"LOOKBACK", 2, {"--config", broken, "token", "add"}},
    {"LOOKBACK", 2, {"--config", broken, "token", "revoke", "x"}},
    {"LOOKBACK", 2, {"--config", broken, "uploads", "--some"}},
    {"LOOKBACK", 2, {"--config", broken, "import", "--vehicle", "v"}},
    {"LOOKBACKD", 2, {"--no-such-option"}},
    /* configuration */
    {"LOOKBACK", 2, {"--config", "/nonexistent.conf", "uploads"}},
    {"LOOKBACK", 2, {"--config", bad_key, "uploads"}},
    {"LOOKBACKD", 2, {"--config", bad_key}},
    /* runtime: the store is not a database */
    {"LOOKBACK", 1, {"--config", broken, "uploads"}},
    {"LOOKBACK", 1, {"--config", broken, "token", "list"}},
    {"LOOKBACK", 1, {"--config", broken, "coverage", "--vehicle", "v"}},
    {"LOOKBACKD", 1, {"--config", broken}},
    /* done */
    {"LOOKBACK", 0, {"--version"}},
    {"LOOKBACKD", 0, {"--version"}},
  };

  g_assert_no_error (error);
  g_assert_true (g_file_set_contents (bad_key, "[server]\nlisten=x\n"
          "colour=blue\n", -1, NULL));
  g_assert_true (g_file_set_contents (broken, text, -1, NULL));
  g_assert_true (g_file_set_contents (db, "not a database, not at all, no",
          -1, NULL));
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_auto (LbTestProgram) r = { 0 };
    run (&r, cases[i].program, cases[i].args);
    g_autofree gchar *line = g_strjoinv (" ", (gchar **) cases[i].args);
    g_test_message ("%s %s: %d: %s", cases[i].program, line, r.status, r.err);
    g_assert_cmpint (r.status, ==, cases[i].status);
    if (r.status != 0)
      g_assert_cmpstr (r.err, !=, "");
  }
  lb_test_rm_rf (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cli/help", test_help);
  g_test_add_func ("/cli/exit-status", test_exit_status);
  return g_test_run ();
}
