/* lookback — the API routes: create / get / list retrievals, media, health
 *
 * Routes run on a worker thread (except health and openapi): they read the
 * request fields of LbApiRequest and fill its reply; they never touch soup
 * objects.
 */
#include "api/lb-api-private.h"
#include "lb-api-resources.h"
#include "core/lb-debug.h"
#include "core/lb-error.h"
#include "core/lb-sign.h"
#include "media/lb-media-item.h"
#include "quota/lb-quota.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

GST_DEBUG_CATEGORY_STATIC (lb_api_routes_debug);
#define GST_CAT_DEFAULT lb_api_routes_debug

#define PAGE_SIZE 100
#define MAX_VEHICLES 20

static const gchar *const inputs[] = {
  "dashcamRoadFacing", "dashcamDriverFacing",
  "analog1", "analog2", "analog3", "analog4", NULL,
};

/* The list endpoint's spelling of the dashcam inputs (vendor quirk). */
static const gchar *const list_inputs[] = {
  "dashcamForwardFacing", "dashcamInwardFacing",
  "analog1", "analog2", "analog3", "analog4", NULL,
};

static const gchar *const camera_roles[] = {
  "leftMirrorMount", "leftSide", "rightMirrorMount", "rightSide", "rearHigh",
  "rearBumper", "inCab", "front", "hopper", "other1", "other2", "other3",
  "other4", "leftBev", "rightBev", "rearBev", "frontBev", "otherBev",
  "bevNotUsed", NULL,
};

static const gchar *const trigger_reasons[] = {
  "api", "panicButton", "periodicStill", "rfidEvent", "safetyEvent",
  "tripEndStill", "tripStartStill", "videoRetrieval", NULL,
};

static void
debug_init (void)
{
  LB_DEBUG_INIT (lb_api_routes_debug, "lookback-api-routes",
      "lookback API routes");
}

static const gchar *
list_spelling (const gchar * input)
{
  for (guint i = 0; inputs[i]; i++)
    if (g_strcmp0 (inputs[i], input) == 0)
      return list_inputs[i];
  return input;
}

static const gchar *
api_spelling (const gchar * list_input)
{
  for (guint i = 0; list_inputs[i]; i++)
    if (g_str_equal (list_inputs[i], list_input))
      return inputs[i];
  return list_input;
}

static gchar *
join_enum (const gchar * const *values)
{
  return g_strjoinv (", ", (GStrv) values);
}

/* ------------------------------------------------------------------------- */
/* Auth and rate limits */

/* The caller's token, with @scope, within its rate limit; otherwise the
 * reply is set and NULL returned. */
static LbToken *
authorize (LbApiRequest * req, const gchar * scope, LbRateLimiter * limiter)
{
  LbApiServer *server = req->server;
  const gchar *auth = req->authorization;
  g_autoptr (GError) error = NULL;
  g_autoptr (LbToken) token = NULL;

  if (auth == NULL || g_ascii_strncasecmp (auth, "Bearer ", 7) != 0) {
    lb_api_reply_error (req, SOUP_STATUS_UNAUTHORIZED,
        "Missing bearer token: send 'Authorization: Bearer <token>'.");
    lb_api_add_header (req, "WWW-Authenticate", "Bearer");
    return NULL;
  }
  g_autofree gchar *raw = g_strstrip (g_strdup (auth + 7));
  g_autofree gchar *hash = lb_sign_hash_token (raw);
  if (!lb_store_api_token_lookup (server->store, hash, &token, &error)) {
    lb_api_reply_gerror (req, error);
    return NULL;
  }
  if (token == NULL) {
    lb_api_reply_error (req, SOUP_STATUS_UNAUTHORIZED,
        "Unknown or revoked token.");
    lb_api_add_header (req, "WWW-Authenticate",
        "Bearer error=\"invalid_token\"");
    return NULL;
  }
  if (!lb_token_has_scope (token, scope)) {
    lb_api_reply_error (req, SOUP_STATUS_FORBIDDEN,
        "This token lacks the %s scope.", scope);
    return NULL;
  }
  g_autofree gchar *key = g_strdup_printf ("%" G_GINT64_FORMAT, token->id);
  gdouble wait = 0;
  if (!lb_rate_limiter_take (limiter, key, lb_api_now (server), &wait)) {
    /* Rounded up so that waiting exactly this long is enough. */
    gchar text[G_ASCII_DTOSTR_BUF_SIZE];
    g_ascii_formatd (text, sizeof text, "%.5f", ceil (wait * 1e5) / 1e5);
    lb_api_reply_error (req, LB_HTTP_TOO_MANY_REQUESTS, "Exceeded rate limit.");
    lb_api_add_header (req, "Retry-After", text);
    return NULL;
  }
  return g_steal_pointer (&token);
}

/* ------------------------------------------------------------------------- */
/* Query strings: repeated keys are kept, '+' is a plus (RFC 3986). */

typedef struct
{
  GPtrArray *names;
  GPtrArray *values;
} Query;

static void
query_clear (Query * q)
{
  g_clear_pointer (&q->names, g_ptr_array_unref);
  g_clear_pointer (&q->values, g_ptr_array_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Query, query_clear)
     static gboolean query_parse (LbApiRequest * req, Query * q)
{
  q->names = g_ptr_array_new_with_free_func (g_free);
  q->values = g_ptr_array_new_with_free_func (g_free);
  if (req->query == NULL)
    return TRUE;
  g_auto (GStrv) parts = g_strsplit (req->query, "&", -1);
  for (guint i = 0; parts[i]; i++) {
    if (*parts[i] == '\0')
      continue;
    gchar *eq = strchr (parts[i], '=');
    g_autofree gchar *raw_name =
        eq ? g_strndup (parts[i], eq - parts[i]) : g_strdup (parts[i]);
    gchar *name = g_uri_unescape_string (raw_name, NULL);
    gchar *value = g_uri_unescape_string (eq ? eq + 1 : "", NULL);
    if (name == NULL || value == NULL) {
      lb_api_reply_error (req, SOUP_STATUS_BAD_REQUEST,
          "%s: the query string is not valid percent-encoding.", raw_name);
      g_free (name);
      g_free (value);
      return FALSE;
    }
    g_ptr_array_add (q->names, name);
    g_ptr_array_add (q->values, value);
  }
  return TRUE;
}

/* The last value of @name, or NULL. */
static const gchar *
query_get (Query * q, const gchar * name)
{
  const gchar *v = NULL;
  for (guint i = 0; i < q->names->len; i++)
    if (g_str_equal (q->names->pdata[i], name))
      v = q->values->pdata[i];
  return v;
}

/* Every value of @name, commas splitting values too; NULL-terminated. */
static GStrv
query_get_all (Query * q, const gchar * name)
{
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  for (guint i = 0; i < q->names->len; i++) {
    if (!g_str_equal (q->names->pdata[i], name))
      continue;
    g_auto (GStrv) parts = g_strsplit (q->values->pdata[i], ",", -1);
    for (guint j = 0; parts[j]; j++) {
      g_strstrip (parts[j]);
      if (*parts[j])
        g_strv_builder_add (b, parts[j]);
    }
  }
  return g_strv_builder_end (b);
}

/* ------------------------------------------------------------------------- */
/* JSON field checks: each sets a 400 naming the field and returns FALSE. */

static gboolean
field_string (LbApiRequest * req, JsonObject * o, const gchar * name,
    const gchar ** out)
{
  JsonNode *n = json_object_get_member (o, name);
  if (n == NULL || JSON_NODE_HOLDS_NULL (n)) {
    lb_api_reply_error (req, SOUP_STATUS_BAD_REQUEST, "%s is required.", name);
    return FALSE;
  }
  if (!JSON_NODE_HOLDS_VALUE (n)
      || json_node_get_value_type (n) != G_TYPE_STRING) {
    lb_api_reply_error (req, SOUP_STATUS_BAD_REQUEST, "%s must be a string.",
        name);
    return FALSE;
  }
  *out = json_node_get_string (n);
  return TRUE;
}

static gboolean
parse_time (LbApiRequest * req, const gchar * name, const gchar * text,
    gint64 * out)
{
  g_autoptr (GError) error = NULL;
  if (!lb_time_parse_rfc3339 (text, out, &error)) {
    lb_api_reply_error (req, SOUP_STATUS_BAD_REQUEST, "%s: %s", name,
        error->message);
    return FALSE;
  }
  return TRUE;
}

static gboolean
field_time (LbApiRequest * req, JsonObject * o, const gchar * name,
    gint64 * out)
{
  const gchar *text;
  return field_string (req, o, name, &text)
      && parse_time (req, name, text, out);
}

static gboolean
check_enum (LbApiRequest * req, const gchar * name, const gchar * value,
    const gchar * const *allowed)
{
  if (g_strv_contains (allowed, value))
    return TRUE;
  g_autofree gchar *list = join_enum (allowed);
  lb_api_reply_error (req, SOUP_STATUS_BAD_REQUEST,
      "%s: '%s' is not one of %s.", name, value, list);
  return FALSE;
}

/* A media type by its wire name, or a 400 naming the field. */
static gboolean
check_media_type (LbApiRequest * req, const gchar * name, const gchar * value,
    LbMediaType * out)
{
  if (lb_media_type_from_string (value, out))
    return TRUE;
  check_enum (req, name, value, lb_media_type_names ());
  return FALSE;
}

/* An array of enum strings; *@out NULL when the member is absent. */
static gboolean
field_enum_array (LbApiRequest * req, JsonObject * o, const gchar * name,
    const gchar * const *allowed, GStrv * out)
{
  JsonNode *n = json_object_get_member (o, name);
  *out = NULL;
  if (n == NULL || JSON_NODE_HOLDS_NULL (n))
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (n)) {
    lb_api_reply_error (req, SOUP_STATUS_BAD_REQUEST,
        "%s must be an array of strings.", name);
    return FALSE;
  }
  JsonArray *a = json_node_get_array (n);
  guint len = json_array_get_length (a);
  if (len == 0) {
    lb_api_reply_error (req, SOUP_STATUS_BAD_REQUEST, "%s must not be empty.",
        name);
    return FALSE;
  }
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  for (guint i = 0; i < len; i++) {
    JsonNode *e = json_array_get_element (a, i);
    g_autofree gchar *label = g_strdup_printf ("%s[%u]", name, i);
    if (!JSON_NODE_HOLDS_VALUE (e)
        || json_node_get_value_type (e) != G_TYPE_STRING) {
      lb_api_reply_error (req, SOUP_STATUS_BAD_REQUEST, "%s must be a string.",
          label);
      return FALSE;
    }
    if (!check_enum (req, label, json_node_get_string (e), allowed))
      return FALSE;
    g_strv_builder_add (b, json_node_get_string (e));
  }
  *out = g_strv_builder_end (b);
  return TRUE;
}

static gint64
max_duration (LbConfig * config, LbMediaType media_type)
{
  if (media_type == LB_MEDIA_TYPE_VIDEO_HIGH_RES)
    return lb_config_get_duration (config, "limits", "video-high-res-max");
  if (media_type == LB_MEDIA_TYPE_VIDEO_LOW_RES)
    return lb_config_get_duration (config, "limits", "video-low-res-max");
  return lb_config_get_duration (config, "limits", "hyperlapse-max");
}

static gboolean
parse_body (LbApiRequest * req, JsonParser * parser, JsonObject ** out)
{
  g_autoptr (GError) error = NULL;
  gsize len = req->body ? g_bytes_get_size (req->body) : 0;

  if (len == 0) {
    lb_api_reply_error (req, SOUP_STATUS_BAD_REQUEST,
        "The request body must be a JSON object.");
    return FALSE;
  }
  if (!json_parser_load_from_data (parser, g_bytes_get_data (req->body, NULL),
          len, &error)) {
    lb_api_reply_error (req, SOUP_STATUS_BAD_REQUEST, "Malformed JSON body: %s",
        error->message);
    return FALSE;
  }
  JsonNode *root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
    lb_api_reply_error (req, SOUP_STATUS_BAD_REQUEST,
        "The request body must be a JSON object.");
    return FALSE;
  }
  *out = json_node_get_object (root);
  return TRUE;
}

/* ------------------------------------------------------------------------- */
/* POST /cameras/media/retrieval */

static LbRetrieval *
new_row (const gchar * retrieval_id, const gchar * org, const gchar * vehicle,
    LbMediaType media_type, gint64 start_ns, gint64 end_ns, gint64 now_ns,
    const gchar * period)
{
  LbRetrieval *r = lb_retrieval_new ();
  r->retrieval_id = g_strdup (retrieval_id);
  r->media_id = g_uuid_string_random ();
  r->org = g_strdup (org);
  r->vehicle = g_strdup (vehicle);
  r->media_type = media_type;
  r->trigger_reason = g_strdup ("api");
  r->start_ns = start_ns;
  r->end_ns = end_ns;
  r->created_ns = now_ns;
  r->period = g_strdup (period);
  r->status = LB_RETRIEVAL_PENDING;
  return r;
}

static gboolean
contains_row (GPtrArray * rows, const gchar * input, const gchar * role)
{
  for (guint i = 0; i < rows->len; i++) {
    LbRetrieval *r = rows->pdata[i];
    if (g_strcmp0 (r->input, input) == 0
        && g_strcmp0 (r->camera_role, role) == 0)
      return TRUE;
  }
  return FALSE;
}

void
lb_api_route_create (LbApiRequest * req)
{
  LbApiServer *server = req->server;
  LbConfig *config = server->config;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *o;
  const gchar *vehicle, *type_name;
  LbMediaType media_type;
  gint64 start_ns, end_ns;
  g_auto (GStrv) req_inputs = NULL;
  g_auto (GStrv) req_roles = NULL;

  debug_init ();
  g_autoptr (LbToken) token = authorize (req, "media:write", server->creates);
  if (token == NULL)
    return;
  if (!parse_body (req, parser, &o))
    return;
  if (!field_string (req, o, "vehicleId", &vehicle) ||
      !field_time (req, o, "startTime", &start_ns) ||
      !field_time (req, o, "endTime", &end_ns) ||
      !field_string (req, o, "mediaType", &type_name) ||
      !check_media_type (req, "mediaType", type_name, &media_type) ||
      !field_enum_array (req, o, "inputs", inputs, &req_inputs) ||
      !field_enum_array (req, o, "cameraRoles", camera_roles, &req_roles))
    return;
  if (*vehicle == '\0') {
    lb_api_reply_error (req, SOUP_STATUS_BAD_REQUEST,
        "vehicleId must not be empty.");
    return;
  }
  if (req_inputs == NULL && req_roles == NULL) {
    lb_api_reply_error (req, SOUP_STATUS_BAD_REQUEST,
        "inputs or cameraRoles is required.");
    return;
  }
  if (req_inputs && req_roles) {
    lb_api_reply_error (req, SOUP_STATUS_BAD_REQUEST,
        "inputs and cameraRoles: give one of them, not both.");
    return;
  }
  if (media_type == LB_MEDIA_TYPE_IMAGE) {
    if (end_ns != start_ns) {
      lb_api_reply_error (req, SOUP_STATUS_BAD_REQUEST,
          "endTime must equal startTime for an image.");
      return;
    }
  } else {
    gint64 max = max_duration (config, media_type);
    if (end_ns - start_ns < LB_NS_PER_SEC) {
      lb_api_reply_error (req, SOUP_STATUS_BAD_REQUEST,
          "endTime must be at least 1 s after startTime for %s.", type_name);
      return;
    }
    if (end_ns - start_ns > max) {
      g_autofree gchar *max_text = lb_time_format_duration (max);
      lb_api_reply_error (req, SOUP_STATUS_BAD_REQUEST,
          "endTime: a %s retrieval covers at most %s after startTime.",
          type_name, max_text);
      return;
    }
  }
  if (!lb_config_has_vehicle (config, vehicle)) {
    lb_api_reply_error (req, SOUP_STATUS_NOT_FOUND,
        "vehicleId: this box records no vehicle '%s'.", vehicle);
    return;
  }

  gint64 now_ns = lb_api_now (server);
  g_autofree gchar *period = lb_quota_period (now_ns);
  g_autofree gchar *retrieval_id = g_uuid_string_random ();
  gdouble cost = lb_quota_cost (config, media_type, start_ns, end_ns);
  g_autoptr (GPtrArray) rows =
      g_ptr_array_new_with_free_func ((GDestroyNotify) lb_retrieval_free);

  for (guint i = 0; req_inputs && req_inputs[i]; i++) {
    if (contains_row (rows, req_inputs[i], NULL))
      continue;
    LbRetrieval *r =
        new_row (retrieval_id, token->org, vehicle, media_type, start_ns,
        end_ns, now_ns, period);
    r->input = g_strdup (req_inputs[i]);
    if (lb_config_find_input (config, vehicle, req_inputs[i]) == NULL) {
      r->status = LB_RETRIEVAL_INVALID;
      r->failure_reason =
          g_strdup_printf ("Vehicle %s has no input %s.", vehicle,
          req_inputs[i]);
    } else {
      r->cost_reserved = cost;
    }
    g_ptr_array_add (rows, r);
  }
  for (guint i = 0; req_roles && req_roles[i]; i++) {
    const LbInputConfig *in =
        lb_config_find_role (config, vehicle, req_roles[i]);
    if (contains_row (rows, in ? in->input : NULL, req_roles[i]))
      continue;
    LbRetrieval *r =
        new_row (retrieval_id, token->org, vehicle, media_type, start_ns,
        end_ns, now_ns, period);
    r->camera_role = g_strdup (req_roles[i]);
    if (in == NULL) {
      r->status = LB_RETRIEVAL_INVALID;
      r->failure_reason =
          g_strdup_printf ("Vehicle %s has no input with camera role %s.",
          vehicle, req_roles[i]);
    } else {
      r->input = g_strdup (in->input);
      r->cost_reserved = cost;
    }
    g_ptr_array_add (rows, r);
  }

  gdouble allowance = lb_config_get_org_allowance (config, token->org);
  gdouble used = 0;
  if (!lb_store_api_create_retrieval (server->store, rows, allowance, &used,
          &error)) {
    lb_api_reply_gerror (req, error);
    if (g_error_matches (error, LB_ERROR, LB_ERROR_QUOTA_EXCEEDED)) {
      /* The real wait: usage resets when the month turns (UTC). */
      g_autofree gchar *wait = g_strdup_printf ("%" G_GINT64_FORMAT,
          (lb_quota_period_end (now_ns) - now_ns + LB_NS_PER_SEC -
              1) / LB_NS_PER_SEC);
      lb_api_add_header (req, "Retry-After", wait);
    }
    return;
  }
  GST_DEBUG ("requestId=%s: retrieval %s, %u rows, org %s", req->request_id,
      retrieval_id, rows->len, token->org);
  if (server->created)
    server->created (server->created_data);

  g_autofree gchar *sentence = lb_quota_status_sentence (used, allowance);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "data");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "retrievalId");
  json_builder_add_string_value (b, retrieval_id);
  json_builder_set_member_name (b, "quotaStatus");
  json_builder_add_string_value (b, sentence);
  json_builder_end_object (b);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  lb_api_reply_json (req, SOUP_STATUS_OK, root);
}

/* ------------------------------------------------------------------------- */
/* Media objects */

static void
add_time (JsonBuilder * b, const gchar * name, gint64 ns)
{
  g_autofree gchar *text = lb_time_format_rfc3339 (ns);
  json_builder_set_member_name (b, name);
  json_builder_add_string_value (b, text);
}

/* How this server writes urlInfo: the box's signed URLs under its public
 * URL, or the uploaded objects' (presigned when the uploader presigns). */
static void
media_urls (LbApiRequest * req, LbMediaUrls * urls, gchar ** base)
{
  LbApiServer *server = req->server;

  g_mutex_lock (&server->lock);
  *base = g_strdup (server->public_url ? server->public_url : "");
  g_mutex_unlock (&server->lock);
  *urls = (LbMediaUrls) {
  server->sign_key, *base, server->url_ttl_ns, server->presign,
        server->presign_data};
}

static void
add_url_info (LbApiRequest * req, JsonBuilder * b, LbRetrieval * r)
{
  LbMediaUrls urls;
  g_autofree gchar *base = NULL;

  media_urls (req, &urls, &base);
  lb_media_item_write_url_info (b, r, &urls, lb_api_now (req->server));
}

/* One object of GET /cameras/media/retrieval (lb-media-item.c, which the
 * webhook events share). */
static void
add_retrieval_media (LbApiRequest * req, JsonBuilder * b, LbRetrieval * r)
{
  LbMediaUrls urls;
  g_autofree gchar *base = NULL;

  media_urls (req, &urls, &base);
  lb_media_item_write (b, r, &urls, lb_api_now (req->server));
}

/* GET /cameras/media/retrieval?retrievalId=… */
void
lb_api_route_get (LbApiRequest * req)
{
  LbApiServer *server = req->server;
  g_auto (Query) q = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) rows = NULL;

  debug_init ();
  g_autoptr (LbToken) token = authorize (req, "media:read", server->reads);
  if (token == NULL || !query_parse (req, &q))
    return;
  const gchar *id = query_get (&q, "retrievalId");
  if (id == NULL || *id == '\0') {
    lb_api_reply_error (req, SOUP_STATUS_BAD_REQUEST,
        "retrievalId is required.");
    return;
  }
  if (!g_uuid_string_is_valid (id)) {
    lb_api_reply_error (req, SOUP_STATUS_BAD_REQUEST,
        "retrievalId: '%s' is not a UUID.", id);
    return;
  }
  if (!lb_store_api_get_retrieval (server->store, id, token->org, &rows,
          &error)) {
    lb_api_reply_gerror (req, error);
    return;
  }

  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "data");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "media");
  json_builder_begin_array (b);
  for (guint i = 0; i < rows->len; i++)
    add_retrieval_media (req, b, rows->pdata[i]);
  json_builder_end_array (b);
  json_builder_end_object (b);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  lb_api_reply_json (req, SOUP_STATUS_OK, root);
}

/* ------------------------------------------------------------------------- */
/* GET /cameras/media */

static gchar *
cursor_encode (gint64 id)
{
  g_autofree gchar *plain = g_strdup_printf ("lb1:%" G_GINT64_FORMAT, id);
  gchar *b64 = g_base64_encode ((const guchar *) plain, strlen (plain));
  /* URL-safe, unpadded */
  for (gchar * p = b64; *p; p++)
    *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
  gchar *eq = strchr (b64, '=');
  if (eq)
    *eq = '\0';
  return b64;
}

static gboolean
cursor_decode (const gchar * cursor, gint64 * out)
{
  gsize n = strlen (cursor);
  if (n == 0 || n > 64)
    return FALSE;
  g_autoptr (GString) s = g_string_new (NULL);
  for (const gchar * p = cursor; *p; p++) {
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_')
      return FALSE;
    g_string_append_c (s, *p == '-' ? '+' : *p == '_' ? '/' : *p);
  }
  while (s->len % 4)
    g_string_append_c (s, '=');
  gsize len;
  g_autofree guchar *raw = g_base64_decode (s->str, &len);
  g_autofree gchar *text = g_strndup ((const gchar *) raw, len);
  if (!g_str_has_prefix (text, "lb1:"))
    return FALSE;
  gchar *end;
  gint64 id = g_ascii_strtoll (text + 4, &end, 10);
  if (end == text + 4 || *end != '\0' || id < 0)
    return FALSE;
  *out = id;
  return TRUE;
}

static gboolean
check_enum_list (LbApiRequest * req, const gchar * name, GStrv values,
    const gchar * const *allowed)
{
  for (guint i = 0; values[i]; i++)
    if (!check_enum (req, name, values[i], allowed))
      return FALSE;
  return TRUE;
}

/* The set (LB_MEDIA_TYPE_BIT) of the media types named in @values. */
static gboolean
media_type_set (LbApiRequest * req, const gchar * name, GStrv values,
    guint * out)
{
  for (guint i = 0; values[i]; i++) {
    LbMediaType t;
    if (!check_media_type (req, name, values[i], &t))
      return FALSE;
    *out |= LB_MEDIA_TYPE_BIT (t);
  }
  return TRUE;
}

static gboolean
query_time (LbApiRequest * req, Query * q, const gchar * name,
    gboolean required, gint64 * out)
{
  const gchar *text = query_get (q, name);
  *out = LB_TIME_NONE;
  if (text == NULL || *text == '\0') {
    if (required)
      lb_api_reply_error (req, SOUP_STATUS_BAD_REQUEST, "%s is required.",
          name);
    return !required;
  }
  return parse_time (req, name, text, out);
}

void
lb_api_route_list (LbApiRequest * req)
{
  LbApiServer *server = req->server;
  g_auto (Query) q = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) rows = NULL;
  gint64 start_ns, end_ns, after_ns, after_id = 0;
  gboolean more = FALSE;

  debug_init ();
  g_autoptr (LbToken) token = authorize (req, "media:read", server->reads);
  if (token == NULL || !query_parse (req, &q))
    return;

  g_auto (GStrv) vehicles = query_get_all (&q, "vehicleIds");
  if (vehicles[0] == NULL) {
    lb_api_reply_error (req, SOUP_STATUS_BAD_REQUEST,
        "vehicleIds is required.");
    return;
  }
  if (g_strv_length (vehicles) > MAX_VEHICLES) {
    lb_api_reply_error (req, SOUP_STATUS_BAD_REQUEST,
        "vehicleIds: at most %d vehicles per request.", MAX_VEHICLES);
    return;
  }
  if (!query_time (req, &q, "startTime", TRUE, &start_ns) ||
      !query_time (req, &q, "endTime", TRUE, &end_ns) ||
      !query_time (req, &q, "availableAfterTime", FALSE, &after_ns))
    return;
  if (end_ns < start_ns) {
    lb_api_reply_error (req, SOUP_STATUS_BAD_REQUEST,
        "endTime is before startTime.");
    return;
  }
  if (end_ns - start_ns > 24 * 3600 * LB_NS_PER_SEC) {
    lb_api_reply_error (req, SOUP_STATUS_BAD_REQUEST,
        "endTime must be at most 24 hours after startTime.");
    return;
  }
  g_auto (GStrv) in_list = query_get_all (&q, "inputs");
  g_auto (GStrv) types = query_get_all (&q, "mediaTypes");
  g_auto (GStrv) reasons = query_get_all (&q, "triggerReasons");
  /* Both spellings of the dashcam inputs are accepted here. */
  g_autoptr (GStrvBuilder) all_inputs = g_strv_builder_new ();
  g_strv_builder_addv (all_inputs, (const gchar **) list_inputs);
  g_strv_builder_add_many (all_inputs, "dashcamRoadFacing",
      "dashcamDriverFacing", NULL);
  g_auto (GStrv) input_names = g_strv_builder_end (all_inputs);
  guint type_set = 0;
  if (!check_enum_list (req, "inputs", in_list,
          (const gchar * const *) input_names)
      || !media_type_set (req, "mediaTypes", types, &type_set)
      || !check_enum_list (req, "triggerReasons", reasons, trigger_reasons))
    return;
  for (guint i = 0; in_list[i]; i++) {
    gchar *api = g_strdup (api_spelling (in_list[i]));
    g_free (in_list[i]);
    in_list[i] = api;
  }
  const gchar *after = query_get (&q, "after");
  if (after && *after && !cursor_decode (after, &after_id)) {
    lb_api_reply_error (req, SOUP_STATUS_BAD_REQUEST,
        "after: '%s' is not a cursor returned by this endpoint.", after);
    return;
  }

  LbMediaFilter filter = {
    .org = token->org,
    .vehicles = (const gchar * const *) vehicles,
    .start_ns = start_ns,
    .end_ns = end_ns,
    .inputs = (const gchar * const *) in_list,
    .media_types = type_set,
    .trigger_reasons = (const gchar * const *) reasons,
    .available_after_ns = after_ns,
    .after_id = after_id,
    .limit = PAGE_SIZE,
  };
  if (!lb_store_api_list_media (server->store, &filter, &rows, &more, &error)) {
    lb_api_reply_gerror (req, error);
    return;
  }

  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "data");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "media");
  json_builder_begin_array (b);
  for (guint i = 0; i < rows->len; i++) {
    LbRetrieval *r = rows->pdata[i];
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "vehicleId");
    json_builder_add_string_value (b, r->vehicle);
    json_builder_set_member_name (b, "input");
    json_builder_add_string_value (b, list_spelling (r->input));
    json_builder_set_member_name (b, "mediaType");
    json_builder_add_string_value (b, lb_media_type_to_string (r->media_type));
    json_builder_set_member_name (b, "triggerReason");
    json_builder_add_string_value (b, r->trigger_reason);
    add_time (b, "startTime", r->delivered_start_ns);
    add_time (b, "endTime", r->delivered_end_ns);
    add_time (b, "availableAtTime", r->available_ns);
    add_url_info (req, b, r);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "pagination");
  json_builder_begin_object (b);
  g_autofree gchar *cursor = more && rows->len
      ? cursor_encode (((LbRetrieval *) rows->pdata[rows->len -
              1])->id) : g_strdup ("");
  json_builder_set_member_name (b, "endCursor");
  json_builder_add_string_value (b, cursor);
  json_builder_set_member_name (b, "hasNextPage");
  json_builder_add_boolean_value (b, more);
  json_builder_end_object (b);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  lb_api_reply_json (req, SOUP_STATUS_OK, root);
}

/* ------------------------------------------------------------------------- */
/* GET /media/{mediaId}?expires=…&signature=… */

/* "bytes=a-b", "bytes=a-", "bytes=-n" against @size: 1 = a range in
 * [*first, *last], 0 = no usable Range (serve it all), -1 = unsatisfiable. */
static gint
parse_range (const gchar * header, gint64 size, gint64 * first, gint64 * last)
{
  if (header == NULL || !g_str_has_prefix (header, "bytes="))
    return 0;
  const gchar *spec = header + 6;
  if (strchr (spec, ','))
    return 0;                   /* several ranges: the whole file is a valid answer */
  gchar *end;
  if (*spec == '-') {
    gint64 n = g_ascii_strtoll (spec + 1, &end, 10);
    if (end == spec + 1 || *end)
      return 0;
    if (n <= 0 || size == 0)
      return -1;
    *first = MAX (size - n, 0);
    *last = size - 1;
    return 1;
  }
  if (!g_ascii_isdigit (*spec))
    return 0;
  gint64 a = g_ascii_strtoll (spec, &end, 10);
  if (*end != '-')
    return 0;
  const gchar *b_text = end + 1;
  gint64 b = size - 1;
  if (*b_text) {
    b = g_ascii_strtoll (b_text, &end, 10);
    if (end == b_text || *end || b < a)
      return 0;
  }
  if (a >= size)
    return -1;
  *first = a;
  *last = MIN (b, size - 1);
  return 1;
}

static const gchar *
guess_type (const gchar * path)
{
  if (g_str_has_suffix (path, ".jpg") || g_str_has_suffix (path, ".jpeg"))
    return "image/jpeg";
  if (g_str_has_suffix (path, ".png"))
    return "image/png";
  if (g_str_has_suffix (path, ".mp4"))
    return "video/mp4";
  return "application/octet-stream";
}

void
lb_api_route_media (LbApiRequest * req)
{
  LbApiServer *server = req->server;
  g_auto (Query) q = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (LbRetrieval) r = NULL;

  debug_init ();
  if (!query_parse (req, &q))
    return;
  g_autofree gchar *media_id =
      g_uri_unescape_string (req->path + strlen ("/media/"), NULL);
  const gchar *expires_text = query_get (&q, "expires");
  const gchar *signature = query_get (&q, "signature");
  gchar *end = NULL;
  gint64 expires_s =
      expires_text ? g_ascii_strtoll (expires_text, &end, 10) : 0;
  gint64 now_s = lb_api_now (server) / LB_NS_PER_SEC;

  if (media_id == NULL || expires_text == NULL || end == expires_text
      || *end != '\0'
      || !lb_sign_verify_media (server->sign_key, media_id, expires_s,
          signature, now_s)) {
    lb_api_reply_error (req, SOUP_STATUS_FORBIDDEN,
        "signature: the media URL is not signed, tampered with or expired.");
    return;
  }
  if (!lb_store_api_get_media (server->store, media_id, &r, &error)) {
    lb_api_reply_gerror (req, error);
    return;
  }
  g_autofree gchar *path =
      g_path_is_absolute (r->output_path) ? g_strdup (r->output_path)
      : g_build_filename (lb_store_get_dir (server->store), r->output_path,
      NULL);
  GStatBuf st;
  if (g_stat (path, &st) != 0) {
    GST_WARNING ("requestId=%s: media %s: %s: %s", req->request_id, media_id,
        path, g_strerror (errno));
    lb_api_reply_error (req, SOUP_STATUS_NOT_FOUND,
        "The file of media %s is gone.", media_id);
    return;
  }
  g_autofree gchar *etag =
      g_strdup_printf ("\"%s-%" G_GINT64_MODIFIER "x-%" G_GINT64_MODIFIER "x\"",
      media_id, (gint64) st.st_size, (gint64) st.st_mtime);
  lb_api_add_header (req, "ETag", etag);
  lb_api_add_header (req, "Accept-Ranges", "bytes");
  lb_api_add_header (req, "Cache-Control", "private, max-age=0");

  if (req->if_none_match && strstr (req->if_none_match, etag)) {
    req->status = SOUP_STATUS_NOT_MODIFIED;
    return;
  }

  GMappedFile *mapped =
      st.st_size > 0 ? g_mapped_file_new (path, FALSE, &error) : NULL;
  if (st.st_size > 0 && mapped == NULL) {
    lb_api_reply_error (req, SOUP_STATUS_NOT_FOUND,
        "The file of media %s cannot be read.", media_id);
    return;
  }
  g_autoptr (GBytes) all =
      mapped ? g_mapped_file_get_bytes (mapped) : g_bytes_new (NULL, 0);
  g_clear_pointer (&mapped, g_mapped_file_unref);
  gint64 size = g_bytes_get_size (all);
  gint64 first = 0, last = size - 1;

  switch (parse_range (req->range, size, &first, &last)) {
    case -1:{
      g_autofree gchar *cr =
          g_strdup_printf ("bytes */%" G_GINT64_FORMAT, size);
      lb_api_reply_error (req, SOUP_STATUS_REQUESTED_RANGE_NOT_SATISFIABLE,
          "Range: '%s' is outside the %" G_GINT64_FORMAT " bytes of the file.",
          req->range, size);
      lb_api_add_header (req, "Content-Range", cr);
      return;
    }
    case 1:{
      g_autofree gchar *cr =
          g_strdup_printf ("bytes %" G_GINT64_FORMAT "-%" G_GINT64_FORMAT "/%"
          G_GINT64_FORMAT, first, last, size);
      req->status = SOUP_STATUS_PARTIAL_CONTENT;
      req->reply = g_bytes_new_from_bytes (all, first, last - first + 1);
      lb_api_add_header (req, "Content-Range", cr);
      break;
    }
    default:
      req->status = SOUP_STATUS_OK;
      req->reply = g_bytes_ref (all);
      break;
  }
  req->content_type =
      g_strdup (r->content_type ? r->content_type : guess_type (path));
}

/* ------------------------------------------------------------------------- */
/* GET /healthz, GET /openapi.json (server context) */

void
lb_api_route_health (LbApiRequest * req)
{
  LbApiServer *server = req->server;
  gint64 counts[LB_RETRIEVAL_INVALID + 1];
  g_autoptr (GError) error = NULL;
  gboolean store_ok = lb_store_api_count_status (server->store, counts, &error);

  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "status");
  json_builder_add_string_value (b, store_ok ? "ok" : "degraded");
  json_builder_set_member_name (b, "uptimeSeconds");
  json_builder_add_int_value (b,
      (lb_api_now (server) - server->started_ns) / LB_NS_PER_SEC);
  json_builder_set_member_name (b, "requests");
  json_builder_add_int_value (b, g_atomic_int_get (&server->requests));
  json_builder_set_member_name (b, "inFlight");
  json_builder_add_int_value (b, g_atomic_int_get (&server->in_flight));
  json_builder_set_member_name (b, "serverErrors");
  json_builder_add_int_value (b, g_atomic_int_get (&server->errors));
  json_builder_set_member_name (b, "retrievals");
  json_builder_begin_object (b);
  for (guint i = 0; store_ok && i <= LB_RETRIEVAL_INVALID; i++) {
    json_builder_set_member_name (b, lb_retrieval_status_to_string (i));
    json_builder_add_int_value (b, counts[i]);
  }
  json_builder_end_object (b);
  if (!store_ok) {
    /* A non-2xx body is an error body too: message and requestId. */
    GST_ERROR ("requestId=%s: health: %s", req->request_id, error->message);
    json_builder_set_member_name (b, "message");
    json_builder_add_string_value (b, "The store does not answer.");
    json_builder_set_member_name (b, "requestId");
    json_builder_add_string_value (b, req->request_id);
  }
  for (guint i = 0; i < server->health->len; i++) {
    LbApiHealth *h = server->health->pdata[i];
    json_builder_set_member_name (b, h->name);
    json_builder_begin_object (b);
    h->func (b, h->user_data);
    json_builder_end_object (b);
  }
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  lb_api_reply_json (req,
      store_ok ? SOUP_STATUS_OK : SOUP_STATUS_SERVICE_UNAVAILABLE, root);
}

void
lb_api_route_openapi (LbApiRequest * req)
{
  g_autoptr (GError) error = NULL;
  /* Through the resource itself: a static link would drop the generated
   * constructor that registers it globally. */
  GBytes *doc = g_resource_lookup_data (lb_api_get_resource (),
      "/org/lookback/api/openapi.json", G_RESOURCE_LOOKUP_FLAGS_NONE, &error);

  if (doc == NULL) {
    lb_api_reply_gerror (req, error);
    return;
  }
  req->status = SOUP_STATUS_OK;
  req->content_type = g_strdup ("application/json");
  req->reply = doc;
}
