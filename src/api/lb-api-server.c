/* lookback — the HTTP API server: routing, timeouts, workers, logging
 *
 * Every request gets a requestId at "request-started".  The handler matches
 * the route (404 / 405 with Allow), checks the body size (413), then pauses
 * the message and runs the route on a worker thread (GTask); the reply the
 * worker built is applied back in the server's context and the message
 * unpaused.  "finished" logs one line per request on lookback-api.
 */
#include "config.h"

#include "api/lb-api-private.h"
#include "core/lb-debug.h"
#include "core/lb-error.h"
#include "core/lb-log.h"

#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <stdarg.h>
#include <string.h>

GST_DEBUG_CATEGORY_STATIC (lb_api_debug);
#define GST_CAT_DEFAULT lb_api_debug

/* Where a route runs: the main loop never waits on the store, so a route
 * that reads it runs on a worker thread while the message is paused. */
typedef enum
{
  RUN_ON_LOOP,                  /* memory only */
  RUN_ON_WORKER,
  RUN_ON_WORKER_IF_TOKEN,       /* a token to look up: a worker; else the loop */
} RunOn;

typedef struct
{
  const gchar *method;
  const gchar *path;            /* exact, or a prefix ending in '/' */
  gboolean prefix;
  LbApiRouteFunc func;
  RunOn run_on;
  const gchar *openapi;         /* "METHOD /path" as in data/openapi.json */
} Route;

static const Route routes[] = {
  {"POST", "/cameras/media/retrieval", FALSE, lb_api_route_create,
      RUN_ON_WORKER, "POST /cameras/media/retrieval"},
  {"GET", "/cameras/media/retrieval", FALSE, lb_api_route_get, RUN_ON_WORKER,
      "GET /cameras/media/retrieval"},
  {"GET", "/cameras/media", FALSE, lb_api_route_list, RUN_ON_WORKER,
      "GET /cameras/media"},
  {"GET", "/media/", TRUE, lb_api_route_media, RUN_ON_WORKER,
      "GET /media/{mediaId}"},
  {"GET", "/healthz", FALSE, lb_api_route_health, RUN_ON_WORKER_IF_TOKEN,
      "GET /healthz"},
  {"GET", "/openapi.json", FALSE, lb_api_route_openapi, RUN_ON_LOOP,
      "GET /openapi.json"},
  {"GET", "/metrics", FALSE, lb_api_route_metrics, RUN_ON_WORKER,
      "GET /metrics"},
};

const gchar *const *
lb_api_server_routes (void)
{
  static const gchar *names[G_N_ELEMENTS (routes) + 1];
  for (guint i = 0; i < G_N_ELEMENTS (routes); i++)
    names[i] = routes[i].openapi;
  return names;
}

gint64
lb_api_now (LbApiServer * server)
{
  return lb_clock_now (server->clock);
}

LbApiServer *
lb_api_server_acquire (LbApiServer * server)
{
  return g_atomic_rc_box_acquire (server);
}

static void
server_clear (gpointer p)
{
  LbApiServer *server = p;
  g_clear_object (&server->soup);
  g_clear_pointer (&server->sign_key, g_bytes_unref);
  g_clear_object (&server->tls);
  g_clear_pointer (&server->creates, lb_rate_limiter_free);
  g_clear_pointer (&server->reads, lb_rate_limiter_free);
  g_clear_pointer (&server->health_reads, lb_rate_limiter_free);
  g_clear_pointer (&server->health, g_ptr_array_unref);
  g_clear_pointer (&server->conns, g_hash_table_unref);
  g_clear_pointer (&server->quota_logged, g_hash_table_unref);
  g_clear_pointer (&server->context, g_main_context_unref);
  g_clear_pointer (&server->sections, json_node_unref);
  g_free (server->uri);
  g_free (server->public_url);
  g_mutex_clear (&server->lock);
  g_mutex_clear (&server->work_lock);
  g_cond_clear (&server->work_cond);
  g_mutex_clear (&server->health_lock);
}

void
lb_api_work_begin (LbApiServer * server)
{
  g_mutex_lock (&server->work_lock);
  server->working++;
  g_mutex_unlock (&server->work_lock);
}

void
lb_api_work_end (LbApiServer * server)
{
  g_mutex_lock (&server->work_lock);
  if (--server->working == 0)
    g_cond_broadcast (&server->work_cond);
  g_mutex_unlock (&server->work_lock);
}

void
lb_api_server_release (LbApiServer * server)
{
  g_atomic_rc_box_release_full (server, server_clear);
}

/* ------------------------------------------------------------------------- */

static void
request_clear (gpointer p)
{
  LbApiRequest *req = p;
  if (req->timer) {
    g_source_destroy (req->timer);
    g_source_unref (req->timer);
  }
  g_clear_pointer (&req->conn, lb_api_conn_unref);
  g_free (req->request_id);
  g_free (req->method);
  g_free (req->path);
  g_free (req->query);
  g_free (req->authorization);
  g_free (req->range);
  g_free (req->if_none_match);
  g_clear_pointer (&req->body, g_bytes_unref);
  g_free (req->content_type);
  g_clear_pointer (&req->reply, g_bytes_unref);
  g_clear_pointer (&req->headers, g_ptr_array_unref);
  lb_api_server_release (req->server);
}

static void
request_unref (gpointer req)
{
  g_rc_box_release_full (req, request_clear);
}

static LbApiRequest *
request_get (SoupServerMessage * msg)
{
  return g_object_get_data (G_OBJECT (msg), "lb-request");
}

void
lb_api_add_header (LbApiRequest * req, const gchar * name, const gchar * value)
{
  if (req->headers == NULL)
    req->headers = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (req->headers, g_strdup (name));
  g_ptr_array_add (req->headers, g_strdup (value));
}

void
lb_api_reply_json (LbApiRequest * req, guint status, JsonNode * node)
{
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  gsize len;

  json_generator_set_root (gen, node);
  gchar *text = json_generator_to_data (gen, &len);
  req->status = status;
  g_free (req->content_type);
  req->content_type = g_strdup ("application/json");
  g_clear_pointer (&req->reply, g_bytes_unref);
  req->reply = g_bytes_new_take (text, len);
}

void
lb_api_add_error_members (LbApiRequest * req, JsonBuilder * b,
    const gchar * message)
{
  json_builder_set_member_name (b, "message");
  json_builder_add_string_value (b, message);
  json_builder_set_member_name (b, "requestId");
  json_builder_add_string_value (b, req->request_id);
}

void
lb_api_reply_error (LbApiRequest * req, guint status, const gchar * format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree gchar *message = g_strdup_vprintf (format, args);
  va_end (args);

  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  lb_api_add_error_members (req, b, message);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  lb_api_reply_json (req, status, root);
  if (status >= 500) {
    /* /healthz reports it until a probe finds the store well again. */
    g_atomic_int_inc (&req->server->errors);
    g_mutex_lock (&req->server->health_lock);
    req->server->store_error_us = g_get_monotonic_time ();
    g_mutex_unlock (&req->server->health_lock);
  }
}

void
lb_api_reply_gerror (LbApiRequest * req, const GError * error)
{
  guint status = SOUP_STATUS_INTERNAL_SERVER_ERROR;

  if (error->domain == LB_ERROR) {
    switch ((LbError) error->code) {
      case LB_ERROR_INVALID:
        status = SOUP_STATUS_BAD_REQUEST;
        break;
      case LB_ERROR_UNAUTHENTICATED:
        status = SOUP_STATUS_UNAUTHORIZED;
        break;
      case LB_ERROR_FORBIDDEN:
        status = SOUP_STATUS_FORBIDDEN;
        break;
      case LB_ERROR_NOT_FOUND:
        status = SOUP_STATUS_NOT_FOUND;
        break;
      case LB_ERROR_TOO_LARGE:
        status = SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE;
        break;
      case LB_ERROR_RATE_LIMITED:
      case LB_ERROR_QUOTA_EXCEEDED:
        status = LB_HTTP_TOO_MANY_REQUESTS;
        break;
      case LB_ERROR_BUSY:
        status = SOUP_STATUS_SERVICE_UNAVAILABLE;
        break;
      case LB_ERROR_OFFLINE:
        /* the message is written for the caller: say why */
        lb_api_reply_error (req, SOUP_STATUS_SERVICE_UNAVAILABLE, "%s",
            error->message);
        lb_api_add_header (req, "Retry-After", "1");
        return;
      default:
        break;
    }
  }
  if (status >= 500) {
    lb_log (LB_LOG_ERROR, LB_LOG_CTX (.request_id = req->request_id),
        "%s %s answered %u: %s", req->method, req->path, status,
        error->message);
    /* Internal details stay in the log. */
    lb_api_reply_error (req, status, status == SOUP_STATUS_SERVICE_UNAVAILABLE
        ? "The server is busy; try again." :
        "Internal error (see the server log " "for requestId %s).",
        req->request_id);
    return;
  }
  lb_api_reply_error (req, status, "%s", error->message);
}

/* The reason phrase of @status: libsoup 3.2 knows none for 429 (RFC 6585)
 * and would send "Unknown Error". */
static const gchar *
reason_phrase (guint status)
{
  return status == LB_HTTP_TOO_MANY_REQUESTS ? "Too Many Requests" : NULL;
}

/* Writes the reply the route built into @msg (server context). */
static void
apply_reply (LbApiRequest * req, SoupServerMessage * msg)
{
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);

  if (req->status == 0)
    lb_api_reply_error (req, SOUP_STATUS_INTERNAL_SERVER_ERROR, "No reply.");
  soup_server_message_set_status (msg, req->status,
      reason_phrase (req->status));
  soup_message_headers_replace (h, "X-Request-Id", req->request_id);
  for (guint i = 0; req->headers && i + 1 < req->headers->len; i += 2)
    soup_message_headers_replace (h, req->headers->pdata[i],
        req->headers->pdata[i + 1]);
  if (req->reply) {
    if (req->content_type)
      soup_message_headers_replace (h, "Content-Type", req->content_type);
    soup_message_body_append_bytes (soup_server_message_get_response_body (msg),
        req->reply);
  }
}

/* ------------------------------------------------------------------------- */

static void
task_run (GTask * task, gpointer source, gpointer task_data,
    GCancellable * cancellable)
{
  LbApiRequest *req = task_data;
  const Route *route = g_object_get_data (G_OBJECT (task), "lb-route");
  route->func (req);
  lb_api_work_end (req->server);
  g_task_return_boolean (task, TRUE);
}

static void
task_done (GObject * source, GAsyncResult * result, gpointer user_data)
{
  SoupServerMessage *msg = user_data;
  LbApiRequest *req = g_task_get_task_data (G_TASK (result));

  if (!req->finished) {         /* the client may have gone meanwhile */
    apply_reply (req, msg);
    soup_server_message_unpause (msg);
  }
  g_atomic_int_dec_and_test (&req->server->in_flight);
  g_object_unref (msg);
}

static const Route *
match_route (const gchar * path, const gchar * method, GString * allow)
{
  const Route *found = NULL;
  gboolean known = FALSE;
  gboolean is_get = g_str_equal (method, "GET") || g_str_equal (method, "HEAD");

  for (guint i = 0; i < G_N_ELEMENTS (routes); i++) {
    const Route *r = &routes[i];
    gboolean hit = r->prefix ? (g_str_has_prefix (path, r->path)
        && path[strlen (r->path)])
        : g_str_equal (path, r->path);
    if (!hit)
      continue;
    known = TRUE;
    if (allow->len)
      g_string_append (allow, ", ");
    g_string_append (allow, r->method);
    if (g_str_equal (r->method, "GET"))
      g_string_append (allow, ", HEAD");
    if (g_str_equal (r->method, method) || (is_get
            && g_str_equal (r->method, "GET")))
      found = r;
  }
  if (!known)
    g_string_truncate (allow, 0);
  return found;
}

static void
handle (SoupServer * soup, SoupServerMessage * msg, const char *path,
    GHashTable * query, gpointer user_data)
{
  LbApiServer *server = user_data;
  LbApiRequest *req = request_get (msg);
  const gchar *method = soup_server_message_get_method (msg);
  SoupMessageHeaders *rh = soup_server_message_get_request_headers (msg);
  g_autoptr (GString) allow = g_string_new (NULL);

  if (req == NULL)              /* request-started always comes first */
    return;
  const Route *route = match_route (path, method, allow);
  req->method = g_strdup (method);
  req->path = g_strdup (path);
  if (route == NULL && allow->len == 0) {
    lb_api_reply_error (req, SOUP_STATUS_NOT_FOUND, "No such path: %s", path);
    apply_reply (req, msg);
    return;
  }
  if (route == NULL) {
    lb_api_reply_error (req, SOUP_STATUS_METHOD_NOT_ALLOWED,
        "Method %s is not allowed on %s (allowed: %s).", method, path,
        allow->str);
    lb_api_add_header (req, "Allow", allow->str);
    apply_reply (req, msg);
    return;
  }
  req->route = route->openapi;

  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  if (body->length > server->max_body) {
    lb_api_reply_error (req, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE,
        "The request body is larger than %" G_GINT64_FORMAT " bytes.",
        server->max_body);
    apply_reply (req, msg);
    return;
  }
  GUri *uri = soup_server_message_get_uri (msg);
  req->query = g_strdup (g_uri_get_query (uri));
  req->authorization =
      g_strdup (soup_message_headers_get_one (rh, "Authorization"));
  req->range = g_strdup (soup_message_headers_get_one (rh, "Range"));
  /* The media route answers Range itself; libsoup would apply it again to
   * any 200 (with a laxer parser that g_critical's on a start beyond
   * 2^64): it finds none. */
  soup_message_headers_remove (rh, "Range");
  req->if_none_match =
      g_strdup (soup_message_headers_get_one (rh, "If-None-Match"));
  req->body = soup_message_body_flatten (body);

  if (route->run_on == RUN_ON_LOOP || (route->run_on == RUN_ON_WORKER_IF_TOKEN
          && req->authorization == NULL)) {
    route->func (req);
    apply_reply (req, msg);
    return;
  }
  g_autoptr (GTask) task =
      g_task_new (NULL, NULL, task_done, g_object_ref (msg));
  g_task_set_task_data (task, g_rc_box_acquire (req), request_unref);
  g_object_set_data (G_OBJECT (task), "lb-route", (gpointer) route);
  g_atomic_int_inc (&server->in_flight);
  lb_api_work_begin (server);
  soup_server_message_pause (msg);
  g_task_run_in_thread (task, task_run);
}

/* Early handler: refuses a declared body over the limit before reading it. */
static void
handle_early (SoupServer * soup, SoupServerMessage * msg, const char *path,
    GHashTable * query, gpointer user_data)
{
  LbApiServer *server = user_data;
  LbApiRequest *req = request_get (msg);
  SoupMessageHeaders *rh = soup_server_message_get_request_headers (msg);

  if (req == NULL)
    return;
  if (soup_message_headers_get_encoding (rh) == SOUP_ENCODING_CONTENT_LENGTH &&
      soup_message_headers_get_content_length (rh) > server->max_body) {
    req->method = g_strdup (soup_server_message_get_method (msg));
    req->path = g_strdup (path);
    lb_api_reply_error (req, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE,
        "The request body is larger than %" G_GINT64_FORMAT " bytes.",
        server->max_body);
    lb_api_add_header (req, "Connection", "close");
    apply_reply (req, msg);
  }
}

static gboolean request_tick (gpointer user_data);

static void
arm_timer (LbApiRequest * req, SoupServerMessage * msg, GSource * source)
{
  if (req->timer) {
    g_source_destroy (req->timer);
    g_source_unref (req->timer);
  }
  req->timer = source;
  g_source_set_callback (source, request_tick, msg, NULL);
  g_source_attach (source, req->server->context);
}

/* While a request is being read: it must arrive whole (headers and body)
 * within request-timeout of its first byte.  Before any byte the connection
 * is merely idle (the socket's idle timeout applies), so a coarse tick
 * watches for that byte; then a precise deadline takes over. */
static gboolean
request_tick (gpointer user_data)
{
  SoupServerMessage *msg = user_data;
  LbApiRequest *req = request_get (msg);

  if (req == NULL || req->got_body || req->finished || req->conn == NULL) {
    if (req)
      g_clear_pointer (&req->timer, g_source_unref);
    return G_SOURCE_REMOVE;
  }
  gint64 first = lb_api_conn_first_byte_us (req->conn);
  if (first == 0)
    return G_SOURCE_CONTINUE;
  gint64 deadline =
      first + (gint64) req->server->request_timeout_s * G_USEC_PER_SEC;
  gint64 now = g_get_monotonic_time ();
  if (now < deadline) {
    /* replaces (and destroys) the current source */
    arm_timer (req, msg, g_timeout_source_new ((deadline - now + 999) / 1000));
    return G_SOURCE_REMOVE;
  }
  GST_INFO
      ("requestId=%s: the request from %s did not arrive within %u s; closing",
      req->request_id, lb_api_conn_get_peer (req->conn),
      req->server->request_timeout_s);
  lb_api_conn_shutdown (req->conn);
  g_clear_pointer (&req->timer, g_source_unref);
  return G_SOURCE_REMOVE;
}

/* A body without a declared length (chunked) is cut off as soon as it
 * outgrows max-body, before it can fill the memory. */
static void
on_got_chunk (SoupServerMessage * msg, GBytes * chunk, gpointer user_data)
{
  LbApiRequest *req = request_get (msg);
  SoupMessageBody *body = soup_server_message_get_request_body (msg);

  /* A declared length over the limit was answered by handle_early. */
  if (req == NULL || body->length <= req->server->max_body ||
      soup_message_headers_get_encoding (soup_server_message_get_request_headers
          (msg)) == SOUP_ENCODING_CONTENT_LENGTH)
    return;
  GST_INFO ("requestId=%s: body over %" G_GINT64_FORMAT " bytes; closing",
      req->request_id, req->server->max_body);
  soup_message_body_truncate (body);
  if (req->conn)
    lb_api_conn_shutdown (req->conn);
}

static void
on_got_body (SoupServerMessage * msg, gpointer user_data)
{
  LbApiRequest *req = request_get (msg);
  if (req == NULL)
    return;
  req->got_body = TRUE;
  if (req->conn)
    lb_api_conn_request_begins (req->conn);
  if (req->timer) {
    g_source_destroy (req->timer);
    g_clear_pointer (&req->timer, g_source_unref);
  }
}

static void
on_finished (SoupServerMessage * msg, gpointer user_data)
{
  LbApiRequest *req = request_get (msg);

  if (req == NULL)
    return;
  req->finished = TRUE;
  if (req->conn)
    lb_api_conn_request_ends (req->conn);
  if (req->timer) {
    g_source_destroy (req->timer);
    g_clear_pointer (&req->timer, g_source_unref);
  }
  if (req->method == NULL)
    return;                     /* the connection closed before a request */
  guint status = soup_server_message_get_status (msg);
  gdouble ms = (g_get_monotonic_time () - req->start_us) / 1000.0;
  GST_INFO ("requestId=%s method=%s path=%s route=%s status=%u duration=%.3fms",
      req->request_id, req->method, req->path, req->route ? req->route : "-",
      status, ms);
  /* [log] level=debug: a line per request for operators too */
  lb_log (LB_LOG_DEBUG, LB_LOG_CTX (.request_id = req->request_id),
      "%s %s: %u in %.3f ms", req->method, req->path, status, ms);
  lb_api_metrics_request_done (req, status);
}

static void
on_request_started (SoupServer * soup, SoupServerMessage * msg,
    gpointer user_data)
{
  LbApiServer *server = user_data;
  LbApiRequest *req = g_rc_box_new0 (LbApiRequest);

  req->server = lb_api_server_acquire (server);
  req->request_id = g_uuid_string_random ();
  req->start_us = g_get_monotonic_time ();
  g_atomic_int_inc (&server->requests);
  g_object_set_data_full (G_OBJECT (msg), "lb-request", req, request_unref);

  /* libsoup 3.2 emits request-started as soon as the connection waits for a
   * request, before any byte: the tick finds when the first one came. */
  GSocketAddress *remote = soup_server_message_get_remote_address (msg);
  g_autofree gchar *peer = remote
      ? g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (remote)) : NULL;
  g_mutex_lock (&server->lock);
  LbApiConn *c = peer ? g_hash_table_lookup (server->conns, peer) : NULL;
  req->conn = c ? lb_api_conn_ref (c) : NULL;
  g_mutex_unlock (&server->lock);
  if (req->conn)
    lb_api_conn_mark (req->conn);
  GST_LOG ("requestId=%s: started on %s (%s)", req->request_id, peer,
      req->conn ? "known" : "unknown connection");
  arm_timer (req, msg, g_timeout_source_new (500));

  g_signal_connect (msg, "got-chunk", G_CALLBACK (on_got_chunk), NULL);
  g_signal_connect (msg, "got-body", G_CALLBACK (on_got_body), NULL);
  g_signal_connect (msg, "finished", G_CALLBACK (on_finished), NULL);
}

/* ------------------------------------------------------------------------- */

static void
health_free (gpointer p)
{
  LbApiHealth *h = p;
  if (h->notify)
    h->notify (h->user_data);
  g_free (h->name);
  g_free (h);
}

/* libsoup 3.2 keeps a connection open after a response only while the
 * server has a listener of its own (request_finished() checks
 * priv->listeners); connections handed over with soup_server_accept_iostream
 * are otherwise closed after every request, and each request pays a new TCP
 * connection.  So the server gets a listener nobody can reach: a Unix socket
 * whose file is removed as soon as it listens. */
static gboolean
add_keepalive_listener (SoupServer * soup, GError ** error)
{
  g_autoptr (GError) err = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("lookback-api-XXXXXX", &err);
  if (dir == NULL) {
    g_set_error (error, LB_ERROR, LB_ERROR_IO, "keep-alive listener: %s",
        err->message);
    return FALSE;
  }
  g_autofree gchar *path = g_build_filename (dir, "unreachable", NULL);
  g_autoptr (GSocket) sock =
      g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
      G_SOCKET_PROTOCOL_DEFAULT, &err);
  g_autoptr (GSocketAddress) addr = g_unix_socket_address_new (path);
  gboolean ok = sock && g_socket_bind (sock, addr, FALSE, &err) &&
      g_socket_listen (sock, &err) &&
      soup_server_listen_socket (soup, sock, 0, &err);
  g_unlink (path);
  g_rmdir (dir);
  if (!ok) {
    g_set_error (error, LB_ERROR, LB_ERROR_IO, "keep-alive listener: %s",
        err->message);
    return FALSE;
  }
  return TRUE;
}

/* [server] tls-certificate and tls-key (PEM files), when set: *@out, or
 * FALSE with a configuration error naming the file. */
static gboolean
load_tls (LbConfig * config, GTlsCertificate ** out, GError ** error)
{
  g_autofree gchar *cert = lb_config_get_path (config, "server",
      "tls-certificate");
  g_autofree gchar *key = lb_config_get_path (config, "server", "tls-key");
  g_autoptr (GError) err = NULL;

  if (cert == NULL)
    return TRUE;
  if (!g_tls_backend_supports_tls (g_tls_backend_get_default ())) {
    g_set_error (error, LB_ERROR, LB_ERROR_CONFIG, "[server] tls-certificate: "
        "GLib has no TLS backend here (install glib-networking)");
    return FALSE;
  }
  *out = g_tls_certificate_new_from_files (cert, key, &err);
  if (*out == NULL) {
    g_set_error (error, LB_ERROR, LB_ERROR_CONFIG, "[server] tls-certificate "
        "%s, tls-key %s: %s", cert, key, err->message);
    return FALSE;
  }
  return TRUE;
}

LbApiServer *
lb_api_server_new (LbConfig * config, LbStore * store, LbClock * clock,
    GError ** error)
{
  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (store != NULL, NULL);

  LB_DEBUG_INIT (lb_api_debug, "lookback-api", "lookback HTTP API");

  g_autoptr (GTlsCertificate) tls = NULL;
  if (!load_tls (config, &tls, error))
    return NULL;
  GBytes *key = lb_store_api_get_signing_key (store, error);
  if (key == NULL)
    return NULL;

  LbApiServer *server = g_atomic_rc_box_new0 (LbApiServer);
  g_mutex_init (&server->lock);
  g_mutex_init (&server->work_lock);
  g_cond_init (&server->work_cond);
  g_mutex_init (&server->health_lock);
  server->config = config;
  server->store = store;
  server->clock = clock;
  server->sign_key = key;
  server->tls = g_steal_pointer (&tls);
  server->context = g_main_context_ref_thread_default ();
  server->started_ns = lb_clock_now (clock);
  server->max_body = lb_config_get_size (config, "server", "max-body");
  server->request_timeout_s = MAX (1, lb_config_get_duration (config, "server",
          "request-timeout") / LB_NS_PER_SEC);
  server->idle_timeout_s = MAX (1, lb_config_get_duration (config, "server",
          "idle-timeout") / LB_NS_PER_SEC);
  server->url_ttl_ns = lb_config_get_duration (config, "jobs", "url-ttl");
  gdouble per_minute =
      lb_config_get_double (config, "api", "create-per-minute");
  gdouble per_second = lb_config_get_double (config, "api", "reads-per-second");
  server->creates = lb_rate_limiter_new (per_minute, per_minute / 60.0);
  server->reads = lb_rate_limiter_new (per_second, per_second);
  server->health_reads = lb_rate_limiter_new (per_second, per_second);
  server->health = g_ptr_array_new_with_free_func (health_free);
  server->conns = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) lb_api_conn_unref);
  server->quota_logged = g_hash_table_new_full (g_str_hash, g_str_equal,
      g_free, g_free);

  /* The trailing space makes libsoup append its own product token. */
  server->soup =
      soup_server_new ("server-header", PACKAGE "/" VERSION " ", NULL);
  soup_server_add_early_handler (server->soup, NULL, handle_early, server,
      NULL);
  soup_server_add_handler (server->soup, NULL, handle, server, NULL);
  g_signal_connect (server->soup, "request-started",
      G_CALLBACK (on_request_started), server);
  if (!add_keepalive_listener (server->soup, error)) {
    lb_api_server_free (server);
    return NULL;
  }
  return server;
}

gboolean
lb_api_server_listen (LbApiServer * server, GError ** error)
{
  g_return_val_if_fail (server != NULL, FALSE);

  const gchar *listen =
      lb_config_get_string (server->config, "server", "listen");
  const gchar *colon = strrchr (listen, ':');
  g_autoptr (GError) err = NULL;

  if (colon == NULL) {
    g_set_error (error, LB_ERROR, LB_ERROR_CONFIG,
        "[server] listen: '%s' is not host:port", listen);
    return FALSE;
  }
  g_autofree gchar *host = g_strndup (listen, colon - listen);
  gchar *end;
  guint64 port = g_ascii_strtoull (colon + 1, &end, 10);
  if (*end != '\0' || end == colon + 1 || port > 65535) {
    g_set_error (error, LB_ERROR, LB_ERROR_CONFIG,
        "[server] listen: '%s' has no valid port", listen);
    return FALSE;
  }
  if (host[0] == '[' && host[strlen (host) - 1] == ']') {
    memmove (host, host + 1, strlen (host));
    host[strlen (host) - 1] = '\0';
  }
  g_autoptr (GInetAddress) addr = NULL;
  if (*host == '\0' || g_str_equal (host, "*"))
    addr = g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
  else if (g_str_equal (host, "localhost"))
    addr = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  else
    addr = g_inet_address_new_from_string (host);
  if (addr == NULL) {
    g_set_error (error, LB_ERROR, LB_ERROR_CONFIG,
        "[server] listen: '%s' is not an IP address", host);
    return FALSE;
  }
  g_autoptr (GSocketAddress) sa = g_inet_socket_address_new (addr, port);
  g_autoptr (GSocketAddress) bound = NULL;
  if (!lb_api_accept_start (server, sa, &bound, &err)) {
    g_set_error (error, LB_ERROR, LB_ERROR_IO, "[server] listen %s: %s",
        listen, err->message);
    return FALSE;
  }

  GInetSocketAddress *isa = G_INET_SOCKET_ADDRESS (bound);
  g_autofree gchar *ip =
      g_inet_address_to_string (g_inet_socket_address_get_address (isa));
  g_autofree gchar *uri =
      g_strdup_printf (strchr (ip, ':') ? "%s://[%s]:%u" : "%s://%s:%u",
      server->tls ? "https" : "http", ip,
      g_inet_socket_address_get_port (isa));
  const gchar *public_url =
      lb_config_get_string (server->config, "server", "public-url");

  g_mutex_lock (&server->lock);
  g_free (server->uri);
  server->uri = g_strdup (uri);
  g_free (server->public_url);
  server->public_url = g_strdup (*public_url ? public_url : uri);
  g_mutex_unlock (&server->lock);
  GST_INFO ("listening on %s", uri);
  lb_api_metrics_start (server);
  return TRUE;
}

gchar *
lb_api_server_get_uri (LbApiServer * server)
{
  g_return_val_if_fail (server != NULL, NULL);
  g_mutex_lock (&server->lock);
  gchar *uri = g_strdup (server->uri);
  g_mutex_unlock (&server->lock);
  return uri;
}

void
lb_api_server_add_health (LbApiServer * server, const gchar * name,
    LbApiHealthFunc func, gpointer user_data, GDestroyNotify notify)
{
  g_return_if_fail (server != NULL && name != NULL && func != NULL);

  LbApiHealth *h = g_new0 (LbApiHealth, 1);
  h->name = g_strdup (name);
  h->func = func;
  h->user_data = user_data;
  h->notify = notify;
  g_mutex_lock (&server->health_lock);
  g_ptr_array_add (server->health, h);
  g_mutex_unlock (&server->health_lock);
}

void
lb_api_server_set_created_func (LbApiServer * server, LbApiCreatedFunc func,
    gpointer user_data)
{
  g_return_if_fail (server != NULL);
  server->created = func;
  server->created_data = user_data;
}

void
lb_api_server_free (LbApiServer * server)
{
  if (server == NULL)
    return;
  lb_api_metrics_stop (server);
  lb_api_accept_stop (server);
  soup_server_disconnect (server->soup);
  g_signal_handlers_disconnect_by_data (server->soup, server);
  soup_server_remove_handler (server->soup, NULL);
  /* Routes and probes on workers use the store (and the health funcs'
   * objects), which the caller frees next: wait for them.  The store's
   * busy timeout bounds the wait. */
  g_mutex_lock (&server->work_lock);
  while (server->working > 0)
    g_cond_wait (&server->work_cond, &server->work_lock);
  g_mutex_unlock (&server->work_lock);
  /* Health callbacks belong to the caller's objects: drop them now. */
  g_ptr_array_set_size (server->health, 0);
  lb_api_server_release (server);
}
