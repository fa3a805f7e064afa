/* lookback — the commands of the `lookback` command line
 *
 * The commands live in this folder and are listed in the table of
 * lb-cli.c; they call the functions the modules export.  A command writes
 * what it has to say into @out (main prints it) and fails with @error; it
 * never prints itself.  `lookback COMMAND --help` prints the command's help
 * text from the table (main does, before loading any configuration).
 *
 * Exit status: 0 done; 1 a runtime failure (the store, the network, a
 * file); 2 a usage or configuration error (a command fails with
 * LB_ERROR_INVALID or LB_ERROR_CONFIG for those).
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
  const gchar *help;            /* `lookback NAME --help`: usage, options */
  LbCliFunc func;
} LbCliCommand;

/* The help texts, each beside its command. */
extern const gchar lb_cli_coverage_help[];
extern const gchar lb_cli_import_help[];
extern const gchar lb_cli_retrieve_help[];
extern const gchar lb_cli_token_help[];
extern const gchar lb_cli_uploads_help[];

const LbCliCommand *lb_cli_find     (const gchar *name);
/* The command table's text for --help. */
gchar              *lb_cli_describe (void);
/* Whether @argv (argv[0] is the command) asks for help: --help or -h
 * before any "--". */
gboolean            lb_cli_wants_help (gint argc, gchar **argv);
/* The exit status for a command's @error (see above). */
gint                lb_cli_exit_status (const GError *error);

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
gboolean lb_cli_retrieve (LbConfig  *config,
                          gint       argc,
                          gchar    **argv,
                          GString   *out,
                          GError   **error);

G_END_DECLS
