/* lookback — the command line: import footage, show coverage, manage tokens */
#include "config.h"

#include "cli/lb-cli.h"
#include "core/lb-error.h"
#include "core/lb-log.h"

#include <gst/gst.h>
#include <stdio.h>
#include <stdlib.h>

int
main (int argc, char **argv)
{
  g_autofree gchar *config_path = NULL;
  gboolean version = FALSE;
  g_autoptr (GError) error = NULL;
  GOptionEntry entries[] = {
    {"config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
        "Configuration file (default: the embedded defaults)", "FILE"},
    {"version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version", NULL},
    {NULL}
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("COMMAND [ARGS…]");
  g_autofree gchar *commands = lb_cli_describe ();

  g_autofree gchar *description = g_strconcat (commands,
      "\n`lookback COMMAND --help` tells more of each.\n"
      "Exit status: 0 done, 1 a runtime failure, 2 a usage or configuration "
      "error.\n", NULL);

  g_option_context_set_summary (ctx,
      "Works on a lookback store from the command line.");
  g_option_context_set_description (ctx, description);
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  g_option_context_set_strict_posix (ctx, TRUE);
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    fprintf (stderr, "lookback: %s\n", error->message);
    return 2;
  }
  if (version) {
    printf ("lookback %s\n", VERSION);
    return 0;
  }
  if (argc < 2) {
    g_autofree gchar *help = g_option_context_get_help (ctx, TRUE, NULL);
    fprintf (stderr, "%s", help);
    return 2;
  }

  const LbCliCommand *cmd = lb_cli_find (argv[1]);
  if (cmd == NULL) {
    fprintf (stderr, "lookback: unknown command '%s'\n%s", argv[1], commands);
    return 2;
  }

  if (lb_cli_wants_help (argc - 1, argv + 1)) {
    printf ("%s", cmd->help);
    return 0;
  }

  g_autoptr (LbConfig) config =
      config_path ? lb_config_load (config_path, &error)
      : lb_config_new_default ();
  if (config == NULL) {
    fprintf (stderr, "lookback: %s\n", error->message);
    return 2;
  }

  /* A command prints its results; the log says only what went wrong. */
  lb_log_init (LB_LOG_WARNING, LB_LOG_OUTPUT_TEXT);

  g_autoptr (GString) out = g_string_new (NULL);
  gboolean ok = cmd->func (config, argc - 1, argv + 1, out, &error);
  fputs (out->str, stdout);
  fflush (stdout);
  if (!ok) {
    fprintf (stderr, "lookback %s: %s\n", cmd->name,
        error ? error->message : "failed");
    return lb_cli_exit_status (error);
  }
  return 0;
}
