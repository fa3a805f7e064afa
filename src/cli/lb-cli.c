/* lookback — the table of `lookback` commands */
#include "cli/lb-cli.h"

gboolean lb_cli_token (LbConfig * config, gint argc, gchar ** argv,
    GString * out, GError ** error);
gboolean lb_cli_uploads (LbConfig * config, gint argc, gchar ** argv,
    GString * out, GError ** error);

static const LbCliCommand commands[] = {
  {"coverage",
        "recorded ranges and gaps: --vehicle ID [--input NAME] [--from T --to T]",
      lb_cli_coverage},
  {"token", "API tokens: add --org ORG --scopes S | list | revoke ID",
      lb_cli_token},
  {"uploads", "the upload journal: waiting and failed uploads [--all]",
      lb_cli_uploads},
  {"import", "Index existing H.264 recordings as footage of an input",
      lb_cli_import},
  {NULL, NULL, NULL},
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
