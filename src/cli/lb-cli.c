/* lookback — the table of `lookback` commands */
#include "cli/lb-cli.h"
#include "core/lb-error.h"

gboolean lb_cli_token (LbConfig * config, gint argc, gchar ** argv,
    GString * out, GError ** error);
gboolean lb_cli_uploads (LbConfig * config, gint argc, gchar ** argv,
    GString * out, GError ** error);

static const LbCliCommand commands[] = {
  {"coverage",
        "recorded ranges and gaps: --vehicle ID [--input NAME] [--from T --to T]",
      lb_cli_coverage_help, lb_cli_coverage},
  {"token", "API tokens: add --org ORG --scopes S | list | revoke ID",
      lb_cli_token_help, lb_cli_token},
  {"uploads", "the upload journal: waiting and failed uploads [--all]",
      lb_cli_uploads_help, lb_cli_uploads},
  {"import", "Index existing H.264 recordings as footage of an input",
      lb_cli_import_help, lb_cli_import},
  {"retrieve", "a still or a clip from a lookbackd over its API, downloaded",
      lb_cli_retrieve_help, lb_cli_retrieve},
  {NULL, NULL, NULL, NULL},
};

const LbCliCommand *
lb_cli_find (const gchar * name)
{
  g_return_val_if_fail (name != NULL, NULL);
  for (guint i = 0; commands[i].name; i++)
    if (g_str_equal (commands[i].name, name))
      return &commands[i];
  return NULL;
}

gchar *
lb_cli_describe (void)
{
  GString *s = g_string_new ("Commands:\n");
  for (guint i = 0; commands[i].name; i++)
    g_string_append_printf (s, "  %-10s %s\n", commands[i].name,
        commands[i].summary);
  return g_string_free (s, FALSE);
}

gboolean
lb_cli_wants_help (gint argc, gchar ** argv)
{
  for (gint i = 1; i < argc && !g_str_equal (argv[i], "--"); i++)
    if (g_str_equal (argv[i], "--help") || g_str_equal (argv[i], "-h"))
      return TRUE;
  return FALSE;
}

gint
lb_cli_exit_status (const GError * error)
{
  if (error && (g_error_matches (error, LB_ERROR, LB_ERROR_INVALID) ||
          g_error_matches (error, LB_ERROR, LB_ERROR_CONFIG)))
    return 2;
  return 1;
}
