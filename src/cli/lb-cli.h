/* lookback — the commands of the `lookback` command line
 *
 * Each command lives in the module it belongs to and is listed in the table
 * of lb-cli.c.  A command writes what it has to say into @out (main prints
 * it) and fails with @error; it never prints itself.
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
gchar              *lb_cli_describe (void);

G_END_DECLS
