/* lookback — the commands of the `lookback` command line
 *
 * The commands live in this folder and are listed in the table of
 * lb-cli.c; they call the functions the modules export.  A command writes
 * what it has to say into @out (main prints it) and fails with @error; it
 * never prints itself.
 */
#pragma once

#include "core/lb-config.h"

G_BEGIN_DECLS

typedef gboolean (*LbCliFunc) (LbConfig  *config,
                               gint       argc,
                               gchar    **argv,
                               GString   *out,
                               GError   **error);

typedef struct {
  const gchar *name;
  const gchar *summary;
  LbCliFunc func;
} LbCliCommand;

const LbCliCommand *lb_cli_find     (const gchar *name);
/* The command table's text for --help. */
gchar              *lb_cli_describe (void);

/* Commands (LbCliFunc) of this folder. */
gboolean lb_cli_coverage (LbConfig  *config,
                          gint       argc,
                          gchar    **argv,
                          GString   *out,
                          GError   **error);
gboolean lb_cli_import   (LbConfig  *config,
                          gint       argc,
                          gchar    **argv,
                          GString   *out,
                          GError   **error);

G_END_DECLS
