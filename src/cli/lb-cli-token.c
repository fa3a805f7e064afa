/* lookback — `lookback token add|list|revoke`: API bearer tokens
 *
 *   lookback --config FILE token add --org ORG --scopes media:read,media:write
 *       prints a new random token once; the store keeps only its SHA-256
 *   lookback --config FILE token list
 *   lookback --config FILE token revoke ID
 */
#include "cli/lb-cli.h"
#include "core/lb-error.h"
#include "core/lb-sign.h"
#include "core/lb-time.h"
#include "store/lb-store-api.h"
#include "store/lb-store-cluster.h"

#include <string.h>

gboolean lb_cli_token (LbConfig * config, gint argc, gchar ** argv,
    GString * out, GError ** error);

static const gchar *const known_scopes[] =
    { "media:read", "media:write", NULL };

static const gchar usage[] =
    "usage: lookback token add --org ORG --scopes media:read,media:write\n"
    "       lookback token list\n" "       lookback token revoke ID";

const gchar lb_cli_token_help[] =
    "usage: lookback [--config FILE] token add --org ORG "
    "[--scopes media:read,media:write]\n"
    "       lookback [--config FILE] token list\n"
    "       lookback [--config FILE] token revoke ID\n\n"
    "API bearer tokens.  add prints a new token once (the store keeps only\n"
    "its SHA-256) for the organisation ORG with the scopes given (default:\n"
    "both); list shows ids, organisations and scopes, never the tokens;\n"
    "revoke ID takes effect at once.\n";

/* Tokens live where the API area does: in the cluster's database when
 * [cluster] database is set. */
static LbStore *
open_store (LbConfig * config, GError ** error)
{
  g_autofree gchar *db = lb_config_get_db_path (config);
  g_autoptr (LbStore) store = lb_store_open (db, LB_STORE_OPEN_DEFAULT, error);
  if (store == NULL || !lb_store_join_configured (store, config, FALSE, error))
    return NULL;
  return g_steal_pointer (&store);
}

/* Checks and normalises a comma-separated scope list. */
static gchar *
normalise_scopes (const gchar * text, GError ** error)
{
  g_auto (GStrv) parts = g_strsplit (text, ",", -1);
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  guint n = 0;

  for (guint i = 0; parts[i]; i++) {
    g_strstrip (parts[i]);
    if (*parts[i] == '\0')
      continue;
    if (!g_strv_contains (known_scopes, parts[i])) {
      g_set_error (error, LB_ERROR, LB_ERROR_INVALID,
          "--scopes: '%s' is not a scope (media:read, media:write)", parts[i]);
      return NULL;
    }
    g_strv_builder_add (b, parts[i]);
    n++;
  }
  if (n == 0) {
    g_set_error (error, LB_ERROR, LB_ERROR_INVALID,
        "--scopes: give at least one of media:read, media:write");
    return NULL;
  }
  g_auto (GStrv) scopes = g_strv_builder_end (b);
  return g_strjoinv (",", scopes);
}

static gboolean
token_add (LbConfig * config, gint argc, gchar ** argv, GString * out,
    GError ** error)
{
  g_autofree gchar *org = NULL;
  g_autofree gchar *scopes_text = NULL;
  GOptionEntry entries[] = {
    {"org", 0, 0, G_OPTION_ARG_STRING, &org, "Organisation of the token",
        "ORG"},
    {"scopes", 0, 0, G_OPTION_ARG_STRING, &scopes_text,
        "Comma-separated: media:read, media:write", "SCOPES"},
    {NULL}
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- add an API token");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_set_help_enabled (ctx, FALSE);
  g_autoptr (GError) err = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &err)) {
    g_set_error (error, LB_ERROR, LB_ERROR_INVALID, "%s\n%s", err->message,
        usage);
    return FALSE;
  }
  if (org == NULL || *g_strstrip (org) == '\0') {
    g_set_error (error, LB_ERROR, LB_ERROR_INVALID, "--org is required\n%s",
        usage);
    return FALSE;
  }
  g_autofree gchar *scopes = normalise_scopes (scopes_text ? scopes_text
      : "media:read,media:write", error);
  if (scopes == NULL)
    return FALSE;

  g_autoptr (LbStore) store = open_store (config, error);
  if (store == NULL)
    return FALSE;
  g_autofree gchar *token = lb_sign_new_token (error);
  if (token == NULL)
    return FALSE;
  g_autofree gchar *hash = lb_sign_hash_token (token);
  gint64 id;
  if (!lb_store_api_token_add (store, hash, org, scopes, lb_time_now (), &id,
          error))
    return FALSE;
  /* Only the token, so that TOKEN=$(lookback token add …) works; the id is
   * in `token list`. */
  g_string_append_printf (out, "%s\n", token);
  (void) id;
  return TRUE;
}

static gboolean
token_list (LbConfig * config, GString * out, GError ** error)
{
  g_autoptr (LbStore) store = open_store (config, error);
  g_autoptr (GPtrArray) tokens = NULL;
  if (store == NULL || !lb_store_api_token_list (store, &tokens, error))
    return FALSE;
  g_string_append_printf (out, "%-6s %-20s %-24s %-24s %s\n", "ID", "ORG",
      "SCOPES", "CREATED", "REVOKED");
  for (guint i = 0; i < tokens->len; i++) {
    LbToken *t = tokens->pdata[i];
    g_autofree gchar *created = lb_time_format_rfc3339 (t->created_ns);
    g_autofree gchar *revoked =
        t->revoked_ns ? lb_time_format_rfc3339 (t->revoked_ns)
        : g_strdup ("-");
    g_string_append_printf (out,
        "%-6" G_GINT64_FORMAT " %-20s %-24s %-24s %s\n", t->id, t->org,
        t->scopes, created, revoked);
  }
  return TRUE;
}

static gboolean
token_revoke (LbConfig * config, const gchar * id_text, GString * out,
    GError ** error)
{
  gchar *end;
  gint64 id = g_ascii_strtoll (id_text, &end, 10);
  if (end == id_text || *end != '\0' || id <= 0) {
    g_set_error (error, LB_ERROR, LB_ERROR_INVALID, "'%s' is not a token id",
        id_text);
    return FALSE;
  }
  g_autoptr (LbStore) store = open_store (config, error);
  if (store == NULL
      || !lb_store_api_token_revoke (store, id, lb_time_now (), error))
    return FALSE;
  g_string_append_printf (out, "token %" G_GINT64_FORMAT " revoked\n", id);
  return TRUE;
}

/* argv[0] is "token". */
gboolean
lb_cli_token (LbConfig * config, gint argc, gchar ** argv, GString * out,
    GError ** error)
{
  g_return_val_if_fail (config != NULL, FALSE);

  const gchar *sub = argc > 1 ? argv[1] : NULL;
  if (g_strcmp0 (sub, "add") == 0)
    return token_add (config, argc - 1, argv + 1, out, error);
  if (g_strcmp0 (sub, "list") == 0 && argc == 2)
    return token_list (config, out, error);
  if (g_strcmp0 (sub, "revoke") == 0 && argc == 3)
    return token_revoke (config, argv[2], out, error);
  g_set_error (error, LB_ERROR, LB_ERROR_INVALID, "%s", usage);
  return FALSE;
}
