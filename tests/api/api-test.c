/* lookback — API test helpers */
#include "api-test.h"
#include "core/lb-sign.h"
#include "quota/lb-quota.h"
#include "lb-test-common.h"

#include <stdlib.h>

#include <gst/gst.h>
#include <glib/gstdio.h>
#include <string.h>

static gpointer
server_thread (gpointer data)
{
  ApiFixture *f = data;
  GError *error = NULL;

  g_main_context_push_thread_default (f->context);
  f->server = lb_api_server_new (f->config, f->store, f->clock, &error);
  if (f->server && lb_api_server_listen (f->server, &error))
    f->uri = lb_api_server_get_uri (f->server);
  g_mutex_lock (&f->lock);
  f->error = error;
  f->ready = TRUE;
  g_cond_signal (&f->cond);
  g_mutex_unlock (&f->lock);
  if (f->uri)
    g_main_loop_run (f->loop);
  g_clear_pointer (&f->server, lb_api_server_free);
  /* Let in-flight work and closing connections finish. */
  while (g_main_context_iteration (f->context, FALSE));
  g_main_context_pop_thread_default (f->context);
  return NULL;
}

void
api_fixture_setup (ApiFixture * f, gconstpointer extra_config)
{
  const gchar *extra = extra_config;
  g_autoptr (GError) error = NULL;

  f->dir = g_dir_make_tmp ("lb-api-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree gchar *text = g_strdup_printf ("[server]\nlisten=127.0.0.1:0\n"
      "[store]\ndir=%s\n"
      "[input 1234 dashcamRoadFacing]\nsource=videotestsrc\n"
      "[input 1234 dashcamDriverFacing]\nsource=videotestsrc\n"
      "[input 1234 analog1]\nsource=videotestsrc\nrole=rearHigh\n"
      "[input 1234 analog2]\nsource=videotestsrc\nrole=leftSide\n"
      "[input 5678 dashcamRoadFacing]\nsource=videotestsrc\n"
      "%s\n", f->dir, extra ? extra : "");
  g_autofree gchar *conf_path =
      g_build_filename (f->dir, "lookback.conf", NULL);
  g_file_set_contents (conf_path, text, -1, &error);
  g_assert_no_error (error);
  f->config = lb_config_load (conf_path, &error);
  g_assert_no_error (error);
  g_autofree gchar *db = lb_config_get_db_path (f->config);
  f->store = lb_store_open (db, LB_STORE_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
  f->clock = lb_clock_new_manual (API_TEST_START_NS);
  f->context = g_main_context_new ();
  f->loop = g_main_loop_new (f->context, FALSE);
  g_mutex_init (&f->lock);
  g_cond_init (&f->cond);
  f->thread = g_thread_new ("api-server", server_thread, f);
  g_mutex_lock (&f->lock);
  while (!f->ready)
    g_cond_wait (&f->cond, &f->lock);
  g_mutex_unlock (&f->lock);
  g_assert_no_error (f->error);
  g_assert_nonnull (f->uri);
  f->session = soup_session_new_with_options ("timeout", 30, NULL);
  f->token = api_fixture_add_token (f, "acme", "media:read,media:write");
}

void
api_fixture_setup_default (ApiFixture * f, gconstpointer unused)
{
  api_fixture_setup (f, NULL);
}

ApiFixture *
api_fixture_new (const gchar * extra)
{
  ApiFixture *f = g_new0 (ApiFixture, 1);
  api_fixture_setup (f, extra);
  return f;
}

static gboolean
quit_loop (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

void
api_fixture_stop_server (ApiFixture * f)
{
  g_clear_object (&f->session);
  if (f->thread == NULL)
    return;
  g_main_context_invoke (f->context, quit_loop, f->loop);
  g_clear_pointer (&f->thread, g_thread_join);
}

void
api_fixture_teardown (ApiFixture * f, gconstpointer unused)
{
  api_fixture_stop_server (f);
  g_main_loop_unref (f->loop);
  g_main_context_unref (f->context);
  lb_store_free (f->store);
  lb_config_free (f->config);
  lb_clock_free (f->clock);
  lb_test_rm_rf (f->dir);
  g_free (f->dir);
  g_free (f->uri);
  g_free (f->token);
  g_mutex_clear (&f->lock);
  g_cond_clear (&f->cond);
}

void
api_fixture_free (ApiFixture * f)
{
  api_fixture_teardown (f, NULL);
  g_free (f);
}

gchar *
api_fixture_add_token (ApiFixture * f, const gchar * org, const gchar * scopes)
{
  g_autoptr (GError) error = NULL;
  gchar *token = lb_sign_new_token (&error);
  g_assert_no_error (error);
  g_autofree gchar *hash = lb_sign_hash_token (token);
  lb_store_api_token_add (f->store, hash, org, scopes, API_TEST_START_NS, NULL,
      &error);
  g_assert_no_error (error);
  return token;
}

ApiReply *
api_request_full (ApiFixture * f, SoupSession * session, const gchar * method,
    const gchar * path, const gchar * token, const gchar * body,
    const gchar * const *headers)
{
  g_autofree gchar *url = g_strconcat (f->uri, path, NULL);
  g_autoptr (SoupMessage) msg = soup_message_new (method, url);
  g_autoptr (GError) error = NULL;

  g_assert_nonnull (msg);
  SoupMessageHeaders *h = soup_message_get_request_headers (msg);
  if (token) {
    g_autofree gchar *auth = g_strconcat ("Bearer ", token, NULL);
    soup_message_headers_replace (h, "Authorization", auth);
  }
  for (guint i = 0; headers && headers[i] && headers[i + 1]; i += 2)
    soup_message_headers_replace (h, headers[i], headers[i + 1]);
  if (body) {
    g_autoptr (GBytes) b = g_bytes_new (body, strlen (body));
    soup_message_set_request_body_from_bytes (msg, "application/json", b);
  }
  ApiReply *r = g_new0 (ApiReply, 1);
  r->body =
      soup_session_send_and_read (session ? session : f->session, msg, NULL,
      &error);
  g_assert_no_error (error);
  r->status = soup_message_get_status (msg);
  r->reason = g_strdup (soup_message_get_reason_phrase (msg));
  r->headers =
      soup_message_headers_ref (soup_message_get_response_headers (msg));
  g_autoptr (JsonParser) parser = json_parser_new ();
  gsize len = g_bytes_get_size (r->body);
  if (len > 0
      && json_parser_load_from_data (parser, g_bytes_get_data (r->body, NULL),
          len, NULL))
    r->json = json_node_copy (json_parser_get_root (parser));
  return r;
}

ApiReply *
api_request (ApiFixture * f, const gchar * method, const gchar * path,
    const gchar * token, const gchar * body)
{
  return api_request_full (f, NULL, method, path, token, body, NULL);
}

void
api_reply_free (ApiReply * r)
{
  if (r == NULL)
    return;
  g_bytes_unref (r->body);
  g_free (r->reason);
  if (r->json)
    json_node_unref (r->json);
  soup_message_headers_unref (r->headers);
  g_free (r);
}

JsonNode *
api_json_get (ApiReply * r, const gchar * path)
{
  JsonNode *n = r->json;
  g_auto (GStrv) parts = g_strsplit (path, ".", -1);
  for (guint i = 0; n && parts[i]; i++) {
    if (JSON_NODE_HOLDS_OBJECT (n)) {
      n = json_object_get_member (json_node_get_object (n), parts[i]);
    } else if (JSON_NODE_HOLDS_ARRAY (n)) {
      guint idx = atoi (parts[i]);
      JsonArray *a = json_node_get_array (n);
      n = idx < json_array_get_length (a) ? json_array_get_element (a,
          idx) : NULL;
    } else {
      n = NULL;
    }
  }
  return n;
}

const gchar *
api_json_string (ApiReply * r, const gchar * path)
{
  JsonNode *n = api_json_get (r, path);
  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n)
      || json_node_get_value_type (n) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (n);
}

void
api_assert_error (ApiReply * r, guint status, const gchar * needle)
{
  if (r->status != status)
    g_printerr ("unexpected reply %u: %.*s\n", r->status,
        (int) g_bytes_get_size (r->body),
        (const gchar *) g_bytes_get_data (r->body, NULL));
  g_assert_cmpuint (r->status, ==, status);
  /* libsoup's table lacks 429 (RFC 6585) */
  g_assert_cmpstr (r->reason, ==, status == 429 ? "Too Many Requests"
      : soup_status_get_phrase (status));
  g_assert_nonnull (r->json);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (r->json));
  const gchar *message = api_json_string (r, "message");
  const gchar *request_id = api_json_string (r, "requestId");
  g_assert_nonnull (message);
  g_assert_nonnull (request_id);
  g_assert_true (g_uuid_string_is_valid (request_id));
  g_assert_cmpstr (soup_message_headers_get_one (r->headers, "X-Request-Id"),
      ==, request_id);
  g_assert_cmpstr (soup_message_headers_get_one (r->headers, "Content-Type"),
      ==, "application/json");
  if (needle && strstr (message, needle) == NULL)
    g_error ("message '%s' does not contain '%s'", message, needle);
}

ApiReply *
api_create (ApiFixture * f, const gchar * token, const gchar * vehicle,
    const gchar * media_type, const gchar * start, const gchar * end,
    const gchar * inputs_json)
{
  g_autofree gchar *body =
      g_strdup_printf ("{\"vehicleId\": \"%s\", \"mediaType\": \"%s\", "
      "\"startTime\": \"%s\", \"endTime\": \"%s\", \"inputs\": %s}", vehicle,
      media_type,
      start, end, inputs_json ? inputs_json : "[\"dashcamRoadFacing\"]");
  return api_request (f, "POST", "/cameras/media/retrieval", token, body);
}

guint
api_make_available (ApiFixture * f)
{
  g_autoptr (GError) error = NULL;
  guint n = 0;
  LbRetrieval *r;

  while (lb_store_api_claim_next (f->store, G_MAXINT64, &r, &error) && r) {
    g_autofree gchar *name =
        g_strdup_printf ("out-%" G_GINT64_FORMAT ".jpg", r->id);
    g_autofree gchar *path = g_build_filename (f->dir, name, NULL);
    g_autofree gchar *content =
        g_strdup_printf ("media of row %" G_GINT64_FORMAT, r->id);
    g_file_set_contents (path, content, -1, &error);
    g_assert_no_error (error);
    gdouble cost =
        lb_quota_cost (f->config, r->media_type, r->start_ns, r->end_ns);
    lb_store_api_finish_available (f->store, r->id, name, "image/jpeg",
        r->start_ns, r->end_ns, NULL, lb_clock_now (f->clock), cost, &error);
    g_assert_no_error (error);
    lb_retrieval_free (r);
    n++;
  }
  g_assert_no_error (error);
  return n;
}
