/* lookback — GET / and GET /console/{file}: the web console's static files
 *
 * The console (src/console: HTML, CSS and JavaScript, no build step) is
 * compiled into the library as a GResource and served from memory on the
 * main loop.  It is a client of the public API like any other: the files
 * hold no data and need no token; the page asks for one and sends it with
 * each API call.  The answers forbid framing and sniffing, and a Content
 * Security Policy lets the page run only its own script and style and talk
 * only to this server (media may come from an upload endpoint's URLs).
 */
#include "api/lb-api-private.h"
#include "lb-console-resources.h"

#include <string.h>

#define CONSOLE_PREFIX "/org/lookback/console/"

/* Longer names are refused before any lookup. */
#define MAX_NAME 64

static const struct
{
  const gchar *suffix;
  const gchar *type;
} content_types[] = {
  {".html", "text/html; charset=utf-8"},
  {".css", "text/css; charset=utf-8"},
  {".js", "text/javascript; charset=utf-8"},
  {".svg", "image/svg+xml"},
};

static const gchar csp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data: http: https:; media-src 'self' http: https:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'";

/* A file name of the console: letters, digits, '-' and one '.', with a
 * known suffix; its content type, or NULL. */
static const gchar *
file_type (const gchar * name)
{
  gsize len = strlen (name);

  if (len == 0 || len > MAX_NAME || strchr (name, '.') != strrchr (name, '.'))
    return NULL;
  for (const gchar * p = name; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '.')
      return NULL;
  for (guint i = 0; i < G_N_ELEMENTS (content_types); i++)
    if (g_str_has_suffix (name, content_types[i].suffix))
      return content_types[i].type;
  return NULL;
}

void
lb_api_route_console (LbApiRequest * req)
{
  const gchar *name = g_str_equal (req->path, "/") ? "index.html"
      : req->path + strlen ("/console/");
  const gchar *type = file_type (name);
  g_autofree gchar *path = g_strconcat (CONSOLE_PREFIX, name, NULL);
  /* Through the resource itself, as /openapi.json (lb-api-routes.c). */
  GBytes *data = type ? g_resource_lookup_data (lb_console_get_resource (),
      path, G_RESOURCE_LOOKUP_FLAGS_NONE, NULL) : NULL;

  if (data == NULL) {
    lb_api_reply_error (req, SOUP_STATUS_NOT_FOUND,
        "No such file of the console: %s", req->path);
    return;
  }
  req->status = SOUP_STATUS_OK;
  req->content_type = g_strdup (type);
  req->reply = data;
  lb_api_add_header (req, "Cache-Control", "no-cache");
  lb_api_add_header (req, "Content-Security-Policy", csp);
  lb_api_add_header (req, "X-Content-Type-Options", "nosniff");
  lb_api_add_header (req, "X-Frame-Options", "DENY");
  lb_api_add_header (req, "Referrer-Policy", "no-referrer");
}
