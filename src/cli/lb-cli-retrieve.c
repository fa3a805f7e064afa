/* lookback — `lookback retrieve`: pull a clip or a still for a person, over
 * the HTTP API of a lookbackd (this box's or another's)
 *
 *   lookback retrieve --vehicle V --input I --type image|videoHighRes|
 *       videoLowRes|hyperlapse --start T [--end T] [-o FILE]
 *       [--url URL] [--token TOKEN] [--timeout DURATION] [--cacert FILE]
 *
 * Creates the retrieval, follows it (a bar on a terminal, a line per step
 * otherwise, on stderr), downloads the file from its signed URL and says
 * what was delivered.  A retrieval that ends failed, unavailable or invalid
 * exits 1 with its reason.
 */
#include "cli/lb-cli.h"
#include "core/lb-error.h"
#include "core/lb-media-type.h"
#include "core/lb-time.h"
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Polls are this far apart, or what a 429's Retry-After says. */
#define POLL_US (500 * G_TIME_SPAN_MILLISECOND)
/* A reply body is read whole up to this size. */
#define MAX_REPLY (4 * 1024 * 1024)

const gchar lb_cli_retrieve_help[] =
    "usage: lookback [--config FILE] retrieve --vehicle ID --input NAME\n"
    "           --type image|videoHighRes|videoLowRes|hyperlapse --start TIME "
    "[--end TIME]\n"
    "           [-o FILE] [--url URL] [--token TOKEN] [--timeout DURATION]\n"
    "           [--cacert FILE]\n\n"
    "Asks a lookbackd for a still or a clip over its HTTP API, follows it and\n"
    "downloads it.  Progress goes to stderr (a bar on a terminal); the file\n"
    "and the range delivered to stdout.\n"
    "  --vehicle ID      the vehicle\n"
    "  --input NAME      dashcamRoadFacing, dashcamDriverFacing, analog1 … "
    "analog4\n"
    "  --type TYPE       image, videoHighRes, videoLowRes or hyperlapse\n"
    "  --start TIME      RFC 3339 (the still's time for an image)\n"
    "  --end TIME        RFC 3339; required but for an image\n"
    "  -o, --output FILE where to write it (default: RETRIEVALID.jpg or .mp4)\n"
    "  --url URL         the API (default: [server] public-url, else\n"
    "                    http://[server] listen of the configuration)\n"
    "  --token TOKEN     an API token with media:read and media:write\n"
    "                    (default: $LOOKBACK_TOKEN)\n"
    "  --timeout DURATION  give up waiting after this long (default 1h)\n"
    "  --cacert FILE     trust the certificates (PEM) of FILE for https://\n"
    "                    (a box with a self-signed certificate)\n";

typedef struct
{
  gchar *url, *token, *vehicle, *input, *type, *start, *end, *output,
      *timeout, *cacert;
  LbMediaType media_type;
  gint64 start_ns, end_ns, timeout_ns;
  SoupSession *session;
  gboolean tty;                 /* stderr is a terminal: a bar */
  gchar *last_step;             /* the last plain progress line */
} Retrieve;

static void
retrieve_clear (Retrieve * r)
{
  g_free (r->url);
  g_free (r->token);
  g_free (r->vehicle);
  g_free (r->input);
  g_free (r->type);
  g_free (r->start);
  g_free (r->end);
  g_free (r->output);
  g_free (r->timeout);
  g_free (r->cacert);
  g_clear_object (&r->session);
  g_free (r->last_step);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Retrieve, retrieve_clear);

static gboolean
fail_usage (GError ** error, const gchar * message)
{
  g_set_error (error, LB_ERROR, LB_ERROR_INVALID, "%s (see lookback retrieve "
      "--help)", message);
  return FALSE;
}

/* The API's address from the configuration: public-url, else listen. */
static gchar *
default_url (LbConfig * config)
{
  const gchar *pub = lb_config_get_string (config, "server", "public-url");
  const gchar *cert = lb_config_get_string (config, "server",
      "tls-certificate");
  if (pub && *pub)
    return g_strdup (pub);
  return g_strconcat (*cert ? "https://" : "http://",
      lb_config_get_string (config, "server", "listen"), NULL);
}

static gboolean
parse_times (Retrieve * r, GError ** error)
{
  g_autoptr (GError) err = NULL;

  if (!lb_time_parse_rfc3339 (r->start, &r->start_ns, &err)) {
    g_set_error (error, LB_ERROR, LB_ERROR_INVALID, "--start: %s",
        err->message);
    return FALSE;
  }
  if (r->media_type == LB_MEDIA_TYPE_IMAGE && r->end == NULL)
    r->end_ns = r->start_ns;
  else if (r->end == NULL)
    return fail_usage (error, "--end is required but for an image");
  else if (!lb_time_parse_rfc3339 (r->end, &r->end_ns, &err)) {
    g_set_error (error, LB_ERROR, LB_ERROR_INVALID, "--end: %s", err->message);
    return FALSE;
  }
  r->timeout_ns = 3600 * LB_NS_PER_SEC;
  if (r->timeout && !lb_time_parse_duration (r->timeout, &r->timeout_ns, &err)) {
    g_set_error (error, LB_ERROR, LB_ERROR_INVALID, "--timeout: %s",
        err->message);
    return FALSE;
  }
  return TRUE;
}

static gboolean
parse (Retrieve * r, LbConfig * config, gint argc, gchar ** argv,
    GError ** error)
{
  GOptionEntry entries[] = {
    {"vehicle", 0, 0, G_OPTION_ARG_STRING, &r->vehicle, NULL, NULL},
    {"input", 0, 0, G_OPTION_ARG_STRING, &r->input, NULL, NULL},
    {"type", 0, 0, G_OPTION_ARG_STRING, &r->type, NULL, NULL},
    {"start", 0, 0, G_OPTION_ARG_STRING, &r->start, NULL, NULL},
    {"end", 0, 0, G_OPTION_ARG_STRING, &r->end, NULL, NULL},
    {"output", 'o', 0, G_OPTION_ARG_FILENAME, &r->output, NULL, NULL},
    {"url", 0, 0, G_OPTION_ARG_STRING, &r->url, NULL, NULL},
    {"token", 0, 0, G_OPTION_ARG_STRING, &r->token, NULL, NULL},
    {"timeout", 0, 0, G_OPTION_ARG_STRING, &r->timeout, NULL, NULL},
    {"cacert", 0, 0, G_OPTION_ARG_FILENAME, &r->cacert, NULL, NULL},
    {NULL}
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new (NULL);
  g_autoptr (GError) err = NULL;

  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_set_help_enabled (ctx, FALSE);
  if (!g_option_context_parse (ctx, &argc, &argv, &err))
    return fail_usage (error, err->message);
  if (argc > 1)
    return fail_usage (error, "unexpected arguments");
  if (!r->vehicle || !r->input || !r->type || !r->start)
    return fail_usage (error, "--vehicle, --input, --type and --start are "
        "required");
  if (!lb_media_type_from_string (r->type, &r->media_type))
    return fail_usage (error, "--type: not one of image, videoHighRes, "
        "videoLowRes, hyperlapse");
  if (r->token == NULL)
    r->token = g_strdup (g_getenv ("LOOKBACK_TOKEN"));
  if (r->token == NULL || *r->token == '\0')
    return fail_usage (error, "no token: give --token or set LOOKBACK_TOKEN");
  if (r->url == NULL)
    r->url = default_url (config);
  while (g_str_has_suffix (r->url, "/"))
    r->url[strlen (r->url) - 1] = '\0';
  return parse_times (r, error);
}

/* --- HTTP ---------------------------------------------------------------- */

/* The error of an answer that is not 2xx: the API's message, and a code
 * for the exit status (400: the request; otherwise a runtime failure). */
static void
set_http_error (GError ** error, guint status, JsonNode * body,
    const gchar * what)
{
  const gchar *message = NULL;
  if (body && JSON_NODE_HOLDS_OBJECT (body))
    message = json_object_get_string_member_with_default
        (json_node_get_object (body), "message", NULL);
  g_set_error (error, LB_ERROR, status == 400 ? LB_ERROR_INVALID :
      LB_ERROR_FAILED, "%s: HTTP %u%s%s", what, status, message ? ": " : "",
      message ? message : "");
}

/* Sends @method @path (with a JSON @body) and parses the JSON reply.  A
 * 429 is waited out (Retry-After) and sent again. */
static JsonNode *
call (Retrieve * r, const gchar * method, const gchar * path,
    const gchar * body, guint * out_status, GError ** error)
{
  g_autofree gchar *uri = g_strconcat (r->url, path, NULL);
  g_autofree gchar *auth = g_strconcat ("Bearer ", r->token, NULL);

  for (;;) {
    g_autoptr (SoupMessage) msg = soup_message_new (method, uri);
    if (msg == NULL) {
      g_set_error (error, LB_ERROR, LB_ERROR_INVALID, "--url: '%s' is not "
          "a URL", r->url);
      return NULL;
    }
    soup_message_headers_append (soup_message_get_request_headers (msg),
        "Authorization", auth);
    if (body) {
      g_autoptr (GBytes) b = g_bytes_new (body, strlen (body));
      soup_message_set_request_body_from_bytes (msg, "application/json", b);
    }
    g_autoptr (GError) err = NULL;
    g_autoptr (GBytes) reply = soup_session_send_and_read (r->session, msg,
        NULL, &err);
    if (reply == NULL) {
      g_set_error (error, LB_ERROR, LB_ERROR_IO, "%s: %s", r->url,
          err->message);
      return NULL;
    }
    *out_status = soup_message_get_status (msg);
    const gchar *retry = soup_message_headers_get_one
        (soup_message_get_response_headers (msg), "Retry-After");
    if (*out_status == 429 && retry && g_strcmp0 (method, "GET") == 0) {
      g_usleep ((gulong) (CLAMP (g_ascii_strtod (retry, NULL), 0.1, 60) *
              G_USEC_PER_SEC));
      continue;
    }
    gsize len = 0;
    const gchar *data = g_bytes_get_data (reply, &len);
    if (len > MAX_REPLY)
      len = 0;
    return json_from_string (len ? data : "null", NULL);
  }
}

static gchar *
create_body (Retrieve * r)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autofree gchar *start = lb_time_format_rfc3339 (r->start_ns);
  g_autofree gchar *end = lb_time_format_rfc3339 (r->end_ns);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "vehicleId");
  json_builder_add_string_value (b, r->vehicle);
  json_builder_set_member_name (b, "mediaType");
  json_builder_add_string_value (b, lb_media_type_to_string (r->media_type));
  json_builder_set_member_name (b, "inputs");
  json_builder_begin_array (b);
  json_builder_add_string_value (b, r->input);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "startTime");
  json_builder_add_string_value (b, start);
  json_builder_set_member_name (b, "endTime");
  json_builder_add_string_value (b, end);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

/* Member @name of @o when it is an object (an array), else NULL: json-glib
 * 1.6 has no _with_default getters for those. */
static JsonObject *
object_member (JsonObject * o, const gchar * name)
{
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;
  return n && JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
}

static JsonArray *
array_member (JsonObject * o, const gchar * name)
{
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;
  return n && JSON_NODE_HOLDS_ARRAY (n) ? json_node_get_array (n) : NULL;
}

/* data.@member of a 2xx reply, or NULL. */
static JsonNode *
data_member (JsonNode * reply, const gchar * member)
{
  if (reply == NULL || !JSON_NODE_HOLDS_OBJECT (reply))
    return NULL;
  JsonObject *data = object_member (json_node_get_object (reply), "data");
  return data ? json_object_get_member (data, member) : NULL;
}

static gchar *
create (Retrieve * r, GError ** error)
{
  g_autofree gchar *body = create_body (r);
  guint status = 0;
  g_autoptr (JsonNode) reply = call (r, "POST", "/cameras/media/retrieval",
      body, &status, error);

  if (reply == NULL)
    return NULL;
  JsonNode *id = data_member (reply, "retrievalId");
  if (!SOUP_STATUS_IS_SUCCESSFUL (status) || id == NULL ||
      json_node_get_value_type (id) != G_TYPE_STRING) {
    set_http_error (error, status, reply, "creating the retrieval");
    return NULL;
  }
  return g_strdup (json_node_get_string (id));
}

/* --- progress (stderr) --------------------------------------------------- */

/* @what at @fraction (0–1, or < 0 when unknown): a bar redrawn in place on
 * a terminal; otherwise a line each time the step or its tenth changes. */
static void
show_progress (Retrieve * r, const gchar * what, gdouble fraction)
{
  if (r->tty) {
    gchar bar[31];
    guint filled = fraction < 0 ? 0 : (guint) (CLAMP (fraction, 0, 1) * 30);
    memset (bar, '#', filled);
    memset (bar + filled, '.', 30 - filled);
    bar[30] = '\0';
    if (fraction < 0)
      fprintf (stderr, "\r[%s]      %-24s", bar, what);
    else
      fprintf (stderr, "\r[%s] %3.0f%% %-24s", bar, fraction * 100, what);
    fflush (stderr);
    return;
  }
  g_autofree gchar *step = fraction < 0 ? g_strdup (what)
      : g_strdup_printf ("%s %d%%", what, (gint) (fraction * 10) * 10);
  if (g_strcmp0 (step, r->last_step) != 0) {
    fprintf (stderr, "%s\n", step);
    g_free (r->last_step);
    r->last_step = g_steal_pointer (&step);
  }
}

static void
end_progress (Retrieve * r)
{
  if (r->tty)
    fputc ('\n', stderr);
}

/* --- following, downloading ---------------------------------------------- */

/* The retrieval's one media object once it is no longer pending. */
static JsonObject *
wait_done (Retrieve * r, const gchar * id, GError ** error)
{
  g_autofree gchar *path =
      g_strdup_printf ("/cameras/media/retrieval?retrievalId=%s", id);
  gint64 deadline = g_get_monotonic_time () + r->timeout_ns / 1000;

  for (;;) {
    guint status = 0;
    g_autoptr (JsonNode) reply = call (r, "GET", path, NULL, &status, error);
    if (reply == NULL)
      return NULL;
    JsonNode *media = data_member (reply, "media");
    if (!SOUP_STATUS_IS_SUCCESSFUL (status) || media == NULL ||
        !JSON_NODE_HOLDS_ARRAY (media) ||
        json_array_get_length (json_node_get_array (media)) == 0) {
      set_http_error (error, status, reply, "following the retrieval");
      return NULL;
    }
    JsonNode *first = json_array_get_element (json_node_get_array (media), 0);
    if (!JSON_NODE_HOLDS_OBJECT (first))
      break;
    JsonObject *m = json_node_get_object (first);
    const gchar *state = json_object_get_string_member_with_default (m,
        "status", "");
    if (!g_str_equal (state, "pending"))
      return json_object_ref (m);
    show_progress (r, "pending", json_object_get_double_member_with_default
        (m, "progress", 0));
    if (g_get_monotonic_time () > deadline) {
      end_progress (r);
      g_set_error (error, LB_ERROR, LB_ERROR_FAILED, "still pending after "
          "%s (--timeout): retrieval %s", r->timeout, id);
      return NULL;
    }
    g_usleep (POLL_US);
  }
  g_set_error (error, LB_ERROR, LB_ERROR_FAILED, "following the retrieval: "
      "an answer without media");
  return NULL;
}

/* Copies @in to @out, showing the bytes done of @total (0: unknown). */
static gboolean
copy_body (Retrieve * r, GInputStream * in, GOutputStream * out,
    goffset total, GError ** error)
{
  gchar buf[64 * 1024];
  goffset done = 0;

  for (;;) {
    gssize n = g_input_stream_read (in, buf, sizeof buf, NULL, error);
    if (n < 0)
      return FALSE;
    if (n == 0)
      return TRUE;
    if (!g_output_stream_write_all (out, buf, n, NULL, NULL, error))
      return FALSE;
    done += n;
    show_progress (r, "downloading", total > 0 ? (gdouble) done / total : -1);
  }
}

/* Downloads @url (a signed URL: no token) into @path, through @path.part. */
static gboolean
download (Retrieve * r, const gchar * url, const gchar * path, GError ** error)
{
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
  g_autoptr (GError) err = NULL;
  g_autofree gchar *part = g_strconcat (path, ".part", NULL);

  if (msg == NULL) {
    g_set_error (error, LB_ERROR, LB_ERROR_FAILED, "bad media URL %s", url);
    return FALSE;
  }
  g_autoptr (GInputStream) in = soup_session_send (r->session, msg, NULL, &err);
  if (in == NULL || !SOUP_STATUS_IS_SUCCESSFUL (soup_message_get_status (msg))) {
    g_set_error (error, LB_ERROR, LB_ERROR_IO, "downloading %s: %s", url,
        err ? err->message : soup_message_get_reason_phrase (msg));
    return FALSE;
  }
  g_autoptr (GFile) file = g_file_new_for_path (part);
  g_autoptr (GFileOutputStream) out = g_file_replace (file, NULL, FALSE,
      G_FILE_CREATE_NONE, NULL, &err);
  goffset total = soup_message_headers_get_content_length
      (soup_message_get_response_headers (msg));
  gboolean ok = out && copy_body (r, in, G_OUTPUT_STREAM (out), total, &err)
      && g_output_stream_close (G_OUTPUT_STREAM (out), NULL, &err);
  end_progress (r);
  if (!ok || g_rename (part, path) != 0) {
    g_set_error (error, LB_ERROR, LB_ERROR_IO, "writing %s: %s", path,
        err ? err->message : g_strerror (errno));
    g_unlink (part);
    return FALSE;
  }
  return TRUE;
}

/* What was delivered, for stdout. */
static void
describe (JsonObject * m, const gchar * path, GString * out)
{
  JsonObject *coverage = object_member (m, "coverage");

  g_string_append_printf (out, "%s: %s to %s\n", path,
      json_object_get_string_member_with_default (m, "startTime", "?"),
      json_object_get_string_member_with_default (m, "endTime", "?"));
  if (coverage == NULL)
    return;
  JsonArray *gaps = array_member (coverage, "gaps");
  for (guint i = 0; gaps && i < json_array_get_length (gaps); i++) {
    JsonNode *n = json_array_get_element (gaps, i);
    JsonObject *g = JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n)
        : NULL;
    if (g)
      g_string_append_printf (out, "  gap %s to %s\n",
          json_object_get_string_member_with_default (g, "startTime", "?"),
          json_object_get_string_member_with_default (g, "endTime", "?"));
  }
}

gboolean
lb_cli_retrieve (LbConfig * config, gint argc, gchar ** argv, GString * out,
    GError ** error)
{
  g_return_val_if_fail (config != NULL, FALSE);

  g_auto (Retrieve) r = { 0 };
  if (!parse (&r, config, argc, argv, error))
    return FALSE;
  r.tty = isatty (STDERR_FILENO);
  r.session = soup_session_new_with_options ("timeout", 60, "user-agent",
      "lookback/" VERSION " ", NULL);
  if (r.cacert) {
    g_autoptr (GError) err = NULL;
    /* GLib wants an absolute path */
    g_autofree gchar *ca = g_canonicalize_filename (r.cacert, NULL);
    g_autoptr (GTlsDatabase) db = g_tls_file_database_new (ca, &err);
    if (db == NULL) {
      g_set_error (error, LB_ERROR, LB_ERROR_INVALID, "--cacert: %s",
          err->message);
      return FALSE;
    }
    soup_session_set_tls_database (r.session, db);
  }

  g_autofree gchar *id = create (&r, error);
  if (id == NULL)
    return FALSE;
  show_progress (&r, "pending", 0);
  g_autoptr (JsonObject) m = wait_done (&r, id, error);
  if (m == NULL)
    return FALSE;
  const gchar *status = json_object_get_string_member_with_default (m,
      "status", "");
  JsonObject *url_info = object_member (m, "urlInfo");
  const gchar *url = url_info ? json_object_get_string_member_with_default
      (url_info, "url", NULL) : NULL;
  if (!g_str_equal (status, "available") || url == NULL) {
    end_progress (&r);
    g_set_error (error, LB_ERROR, LB_ERROR_FAILED, "retrieval %s is %s: %s",
        id, status, json_object_get_string_member_with_default (m,
            "failureReason", "no reason given"));
    return FALSE;
  }
  g_autofree gchar *path = r.output ? g_strdup (r.output)
      : g_strconcat (id, r.media_type == LB_MEDIA_TYPE_IMAGE ? ".jpg" : ".mp4",
      NULL);
  if (!download (&r, url, path, error))
    return FALSE;
  describe (m, path, out);
  return TRUE;
}
