/* lookback — the API routes: create / get / list retrievals, media, OpenAPI
 *
 * Routes run on a worker thread (except openapi; /healthz is in
 * lb-api-health.c): they read the request fields of LbApiRequest and fill
 * its reply; they never touch soup objects.
 */
#include "api/lb-api-parse.h"
#include "api/lb-api-private.h"
#include "lb-api-resources.h"
#include "core/lb-debug.h"
#include "core/lb-error.h"
#include "core/lb-log.h"
#include "core/lb-sign.h"
#include "media/lb-media-item.h"
#include "quota/lb-quota.h"
#include "store/lb-store-cluster.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

GST_DEBUG_CATEGORY_STATIC (lb_api_routes_debug);
#define GST_CAT_DEFAULT lb_api_routes_debug

#define PAGE_SIZE 100

static void
debug_init (void)
{
  LB_DEBUG_INIT (lb_api_routes_debug, "lookback-api-routes",
      "lookback API routes");
}

/* ------------------------------------------------------------------------- */
/* Auth and rate limits */

LbToken *
lb_api_authorize (LbApiRequest * req, const gchar * scope,
    LbRateLimiter * limiter)
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
/* POST /cameras/media/retrieval: validate, build the rows, reserve, reply */

static LbRetrieval *
new_row (const LbApiCreate * c, const gchar * retrieval_id, const gchar * org,
    gint64 now_ns, const gchar * period)
{
  LbRetrieval *r = lb_retrieval_new ();
  r->retrieval_id = g_strdup (retrieval_id);
  r->media_id = g_uuid_string_random ();
  r->org = g_strdup (org);
  r->vehicle = g_strdup (c->vehicle);
  r->media_type = c->media_type;
  r->trigger_reason = g_strdup ("api");
  r->start_ns = c->start_ns;
  r->end_ns = c->end_ns;
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

/* The inputs of @vehicle (LbClusterInput*): this box's configuration, or in
 * cluster mode the registry every node writes.  Empty: no such vehicle. */
static GPtrArray *
vehicle_inputs (LbApiServer * server, const gchar * vehicle, GError ** error)
{
  GPtrArray *out = NULL;
  if (lb_store_is_clustered (server->store))
    return lb_store_cluster_vehicle (server->store, vehicle, &out, error)
        ? out : NULL;
  out = g_ptr_array_new_with_free_func ((GDestroyNotify) lb_cluster_input_free);
  GPtrArray *all = lb_config_get_inputs (server->config);
  for (guint i = 0; i < all->len; i++) {
    const LbInputConfig *in = all->pdata[i];
    if (!g_str_equal (in->vehicle, vehicle))
      continue;
    LbClusterInput *ci = g_new0 (LbClusterInput, 1);
    ci->vehicle = g_strdup (in->vehicle);
    ci->input = g_strdup (in->input);
    ci->role = in->role && *in->role ? g_strdup (in->role) : NULL;
    g_ptr_array_add (out, ci);
  }
  return out;
}

/* The input named @input, or the one whose camera role is @role. */
static const LbClusterInput *
find_input (GPtrArray * inputs, const gchar * input, const gchar * role)
{
  for (guint i = 0; i < inputs->len; i++) {
    const LbClusterInput *in = inputs->pdata[i];
    if (input ? g_str_equal (in->input, input) : g_strcmp0 (in->role,
            role) == 0)
      return in;
  }
  return NULL;
}

/* One row per distinct input or camera role asked for: pending with its
 * reservation, or invalid (no reservation) when the vehicle (whose inputs
 * are @cameras) lacks it. */
static GPtrArray *
build_rows (LbConfig * config, GPtrArray * cameras, const LbApiCreate * c,
    const gchar * retrieval_id, const gchar * org, gint64 now_ns)
{
  g_autofree gchar *period = lb_quota_period (now_ns);
  gdouble cost = lb_quota_cost (config, c->media_type, c->start_ns, c->end_ns);
  GPtrArray *rows =
      g_ptr_array_new_with_free_func ((GDestroyNotify) lb_retrieval_free);

  for (guint i = 0; c->inputs && c->inputs[i]; i++) {
    if (contains_row (rows, c->inputs[i], NULL))
      continue;
    LbRetrieval *r = new_row (c, retrieval_id, org, now_ns, period);
    r->input = g_strdup (c->inputs[i]);
    if (find_input (cameras, c->inputs[i], NULL) == NULL) {
      r->status = LB_RETRIEVAL_INVALID;
      r->failure_reason = g_strdup_printf ("Vehicle %s has no input %s.",
          c->vehicle, c->inputs[i]);
    } else {
      r->cost_reserved = cost;
    }
    g_ptr_array_add (rows, r);
  }
  for (guint i = 0; c->camera_roles && c->camera_roles[i]; i++) {
    const gchar *role = c->camera_roles[i];
    const LbClusterInput *in = find_input (cameras, NULL, role);
    if (contains_row (rows, in ? in->input : NULL, role))
      continue;
    LbRetrieval *r = new_row (c, retrieval_id, org, now_ns, period);
    r->camera_role = g_strdup (role);
    if (in == NULL) {
      r->status = LB_RETRIEVAL_INVALID;
      r->failure_reason =
          g_strdup_printf ("Vehicle %s has no input with camera role %s.",
          c->vehicle, role);
    } else {
      r->input = g_strdup (in->input);
      r->cost_reserved = cost;
    }
    g_ptr_array_add (rows, r);
  }
  return rows;
}

static void
reply_created (LbApiRequest * req, const gchar * retrieval_id, gdouble used,
    gdouble allowance)
{
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

/* The first refusal of an organisation's month is logged; the others are
 * only answered (a client retrying all month would flood the log). */
static void
log_quota_exhausted (LbApiRequest * req, const gchar * org, gint64 now_ns,
    const GError * error)
{
  LbApiServer *server = req->server;
  g_autofree gchar *period = lb_quota_period (now_ns);

  g_mutex_lock (&server->lock);
  gboolean first = g_strcmp0 (g_hash_table_lookup (server->quota_logged, org),
      period) != 0;
  if (first)
    g_hash_table_replace (server->quota_logged, g_strdup (org),
        g_strdup (period));
  g_mutex_unlock (&server->lock);
  if (first)
    lb_log (LB_LOG_WARNING, LB_LOG_CTX (.request_id = req->request_id),
        "quota of organisation %s exhausted for %s: creates are refused "
        "until the month ends or its allowance grows (%s)", org, period,
        error->message);
}

void
lb_api_route_create (LbApiRequest * req)
{
  LbApiServer *server = req->server;
  LbConfig *config = server->config;
  g_autoptr (GError) error = NULL;
  g_autoptr (LbToken) token = NULL;
  g_autoptr (LbApiCreate) c = NULL;
  g_autoptr (GPtrArray) rows = NULL;
  g_autoptr (GPtrArray) cameras = NULL;
  g_autofree gchar *retrieval_id = NULL;
  LbApiCreateLimits limits;
  gdouble used = 0;

  debug_init ();
  token = lb_api_authorize (req, "media:write", server->creates);
  if (token == NULL)
    return;                     /* the reply is set */

  gint64 now_ns = lb_api_now (server);
  lb_api_create_limits_init (&limits, config, now_ns);
  c = lb_api_create_parse (req->body ? g_bytes_get_data (req->body, NULL) :
      NULL, req->body ? g_bytes_get_size (req->body) : 0, &limits, &error);
  if (c == NULL)
    goto refused;
  cameras = vehicle_inputs (server, c->vehicle, &error);
  if (cameras == NULL)
    goto refused;
  if (cameras->len == 0)
    goto unknown_vehicle;

  retrieval_id = g_uuid_string_random ();
  rows = build_rows (config, cameras, c, retrieval_id, token->org, now_ns);
  gdouble allowance = lb_config_get_org_allowance (config, token->org);
  if (!lb_store_api_create_retrieval (server->store, rows, allowance, &used,
          &error))
    goto not_reserved;
  GST_DEBUG ("requestId=%s: retrieval %s, %u rows, org %s", req->request_id,
      retrieval_id, rows->len, token->org);
  lb_api_metrics_created (rows);
  if (server->created)
    server->created (server->created_data);
  reply_created (req, retrieval_id, used, allowance);
  return;

  /* ERRORS */
refused:
  lb_api_reply_gerror (req, error);
  return;
unknown_vehicle:
  lb_api_reply_error (req, SOUP_STATUS_NOT_FOUND,
      "vehicleId: this box records no vehicle '%s'.", c->vehicle);
  return;
not_reserved:
  lb_api_reply_gerror (req, error);
  if (g_error_matches (error, LB_ERROR, LB_ERROR_QUOTA_EXCEEDED)) {
    log_quota_exhausted (req, token->org, now_ns, error);
    /* The real wait: usage resets when the month turns (UTC). */
    g_autofree gchar *wait = g_strdup_printf ("%" G_GINT64_FORMAT,
        (lb_quota_period_end (now_ns) - now_ns + LB_NS_PER_SEC -
            1) / LB_NS_PER_SEC);
    lb_api_add_header (req, "Retry-After", wait);
  }
  return;
}

/* ------------------------------------------------------------------------- */
/* Media objects */

/* The contract's times and ranges: written as the media items write them
 * (lb-media-item.c), for the routes beside them (coverage, quota). */
void
lb_api_json_add_time (JsonBuilder * b, const gchar * name, gint64 ns)
{
  lb_media_json_add_time (b, name, ns);
}

void
lb_api_json_add_ranges (JsonBuilder * b, const gchar * name,
    const GArray * ranges)
{
  lb_media_json_add_ranges (b, name, ranges);
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

typedef void (*AddRow) (LbApiRequest * req, JsonBuilder * b, LbRetrieval * r);

/* "data": {"media": [one item per row, written by @add]} */
static void
add_data_media (LbApiRequest * req, JsonBuilder * b, GPtrArray * rows,
    AddRow add)
{
  json_builder_set_member_name (b, "data");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "media");
  json_builder_begin_array (b);
  for (guint i = 0; i < rows->len; i++)
    add (req, b, rows->pdata[i]);
  json_builder_end_array (b);
  json_builder_end_object (b);
}

static void
reply_retrieval (LbApiRequest * req, GPtrArray * rows)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  add_data_media (req, b, rows, add_retrieval_media);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  lb_api_reply_json (req, SOUP_STATUS_OK, root);
}

/* GET /cameras/media/retrieval?retrievalId=… */
void
lb_api_route_get (LbApiRequest * req)
{
  LbApiServer *server = req->server;
  g_autoptr (GError) error = NULL;
  g_autoptr (LbToken) token = NULL;
  g_autofree gchar *id = NULL;
  g_autoptr (GPtrArray) rows = NULL;

  debug_init ();
  token = lb_api_authorize (req, "media:read", server->reads);
  if (token == NULL)
    return;                     /* the reply is set */
  id = lb_api_get_parse (req->query, &error);
  if (id == NULL)
    goto failed;
  if (!lb_store_api_get_retrieval (server->store, id, token->org, &rows,
          &error))
    goto failed;
  reply_retrieval (req, rows);
  return;

  /* ERRORS */
failed:
  lb_api_reply_gerror (req, error);
  return;
}

/* ------------------------------------------------------------------------- */
/* GET /cameras/media: validate, read a page, reply */

static void
add_list_item (LbApiRequest * req, JsonBuilder * b, LbRetrieval * r)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "vehicleId");
  json_builder_add_string_value (b, r->vehicle);
  json_builder_set_member_name (b, "input");
  json_builder_add_string_value (b, lb_api_list_spelling (r->input));
  json_builder_set_member_name (b, "mediaType");
  json_builder_add_string_value (b, lb_media_type_to_string (r->media_type));
  json_builder_set_member_name (b, "triggerReason");
  json_builder_add_string_value (b, r->trigger_reason);
  lb_api_json_add_time (b, "startTime", r->delivered_start_ns);
  lb_api_json_add_time (b, "endTime", r->delivered_end_ns);
  lb_api_json_add_time (b, "availableAtTime", r->available_ns);
  add_url_info (req, b, r);
  json_builder_end_object (b);
}

void
lb_api_json_add_pagination (JsonBuilder * b, const gchar * cursor,
    gboolean more)
{
  json_builder_set_member_name (b, "pagination");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "endCursor");
  json_builder_add_string_value (b, cursor);
  json_builder_set_member_name (b, "hasNextPage");
  json_builder_add_boolean_value (b, more);
  json_builder_end_object (b);
}

static void
reply_list (LbApiRequest * req, GPtrArray * rows, gboolean more)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autofree gchar *cursor = more && rows->len
      ? lb_api_cursor_encode (((LbRetrieval *) rows->pdata[rows->len -
              1])->id) : g_strdup ("");

  json_builder_begin_object (b);
  add_data_media (req, b, rows, add_list_item);
  lb_api_json_add_pagination (b, cursor, more);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  lb_api_reply_json (req, SOUP_STATUS_OK, root);
}

void
lb_api_route_list (LbApiRequest * req)
{
  LbApiServer *server = req->server;
  g_autoptr (GError) error = NULL;
  g_autoptr (LbToken) token = NULL;
  g_autoptr (LbApiList) l = NULL;
  g_autoptr (GPtrArray) rows = NULL;
  gboolean more = FALSE;

  debug_init ();
  token = lb_api_authorize (req, "media:read", server->reads);
  if (token == NULL)
    return;                     /* the reply is set */
  l = lb_api_list_parse (req->query, &error);
  if (l == NULL)
    goto failed;

  LbMediaFilter filter = {
    .org = token->org,
    .vehicles = (const gchar * const *) l->vehicles,
    .start_ns = l->start_ns,
    .end_ns = l->end_ns,
    .inputs = (const gchar * const *) l->inputs,
    .media_types = l->media_types,
    .trigger_reasons = (const gchar * const *) l->trigger_reasons,
    .available_after_ns = l->available_after_ns,
    .after_id = l->after_id,
    .limit = PAGE_SIZE,
  };
  if (!lb_store_api_list_media (server->store, &filter, &rows, &more, &error))
    goto failed;
  reply_list (req, rows, more);
  return;

  /* ERRORS */
failed:
  lb_api_reply_gerror (req, error);
  return;
}

/* ------------------------------------------------------------------------- */
/* GET /media/{mediaId}?expires=…&signature=…: verify, find, serve a range */

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

/* The media id of a URL whose signature holds and has not expired. */
static gchar *
media_verify (LbApiRequest * req, GError ** error)
{
  LbApiServer *server = req->server;
  g_autoptr (LbApiQuery) q = lb_api_query_parse (req->query, error);
  if (q == NULL)
    return NULL;
  g_autofree gchar *media_id =
      g_uri_unescape_string (req->path + strlen ("/media/"), NULL);
  const gchar *expires_text = lb_api_query_get (q, "expires");
  const gchar *signature = lb_api_query_get (q, "signature");
  gchar *end = NULL;
  gint64 expires_s =
      expires_text ? g_ascii_strtoll (expires_text, &end, 10) : 0;
  gint64 now_s = lb_api_now (server) / LB_NS_PER_SEC;

  if (media_id == NULL || expires_text == NULL || end == expires_text
      || *end != '\0'
      || !lb_sign_verify_media (server->sign_key, media_id, expires_s,
          signature, now_s)) {
    g_set_error (error, LB_ERROR, LB_ERROR_FORBIDDEN,
        "signature: the media URL is not signed, tampered with or expired.");
    return NULL;
  }
  return g_steal_pointer (&media_id);
}

/* Serves the Range asked for of @all (or all of it) as the reply. */
static void
reply_bytes (LbApiRequest * req, GBytes * all, const gchar * content_type)
{
  gint64 size = g_bytes_get_size (all);
  gint64 first = 0, last = size - 1;

  switch (lb_api_range_parse (req->range, size, &first, &last)) {
    case LB_API_RANGE_UNSATISFIABLE:{
      g_autofree gchar *cr =
          g_strdup_printf ("bytes */%" G_GINT64_FORMAT, size);
      lb_api_reply_error (req, SOUP_STATUS_REQUESTED_RANGE_NOT_SATISFIABLE,
          "Range: '%s' is outside the %" G_GINT64_FORMAT " bytes of the file.",
          req->range, size);
      lb_api_add_header (req, "Content-Range", cr);
      return;
    }
    case LB_API_RANGE_PART:{
      g_autofree gchar *cr =
          g_strdup_printf ("bytes %" G_GINT64_FORMAT "-%" G_GINT64_FORMAT "/%"
          G_GINT64_FORMAT, first, last, size);
      req->status = SOUP_STATUS_PARTIAL_CONTENT;
      req->reply = g_bytes_new_from_bytes (all, first, last - first + 1);
      req->content_type = g_strdup (content_type);
      lb_api_add_header (req, "Content-Range", cr);
      return;
    }
    case LB_API_RANGE_ALL:
      req->status = SOUP_STATUS_OK;
      req->reply = g_bytes_ref (all);
      req->content_type = g_strdup (content_type);
      return;
  }
}

void
lb_api_route_media (LbApiRequest * req)
{
  LbApiServer *server = req->server;
  g_autoptr (GError) error = NULL;
  g_autoptr (LbRetrieval) r = NULL;
  g_autofree gchar *media_id = NULL;
  g_autofree gchar *path = NULL;
  g_autofree gchar *etag = NULL;
  g_autoptr (GMappedFile) mapped = NULL;
  g_autoptr (GBytes) all = NULL;
  GStatBuf st;

  debug_init ();
  media_id = media_verify (req, &error);
  if (media_id == NULL)
    goto failed;
  if (!lb_store_api_get_media (server->store, media_id, &r, &error))
    goto failed;
  path = g_path_is_absolute (r->output_path) ? g_strdup (r->output_path)
      : g_build_filename (lb_store_get_dir (server->store), r->output_path,
      NULL);
  if (g_stat (path, &st) != 0)
    goto gone;
  etag = g_strdup_printf ("\"%s-%" G_GINT64_MODIFIER "x-%" G_GINT64_MODIFIER
      "x\"", media_id, (gint64) st.st_size, (gint64) st.st_mtime);
  lb_api_add_header (req, "ETag", etag);
  lb_api_add_header (req, "Accept-Ranges", "bytes");
  lb_api_add_header (req, "Cache-Control", "private, max-age=0");
  if (req->if_none_match && strstr (req->if_none_match, etag)) {
    req->status = SOUP_STATUS_NOT_MODIFIED;
    return;
  }
  if (st.st_size > 0 && !(mapped = g_mapped_file_new (path, FALSE, &error)))
    goto unreadable;
  all = mapped ? g_mapped_file_get_bytes (mapped) : g_bytes_new (NULL, 0);
  reply_bytes (req, all, r->content_type ? r->content_type : guess_type (path));
  return;

  /* ERRORS */
failed:
  lb_api_reply_gerror (req, error);
  return;
gone:
  GST_WARNING ("requestId=%s: media %s: %s: %s", req->request_id, media_id,
      path, g_strerror (errno));
  lb_api_reply_error (req, SOUP_STATUS_NOT_FOUND,
      "The file of media %s is gone.", media_id);
  return;
unreadable:
  lb_api_reply_error (req, SOUP_STATUS_NOT_FOUND,
      "The file of media %s cannot be read.", media_id);
  return;
}

/* ------------------------------------------------------------------------- */
/* GET /openapi.json (on the loop: no store) */

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
