/* lookback — GET /metrics: Prometheus' text format, from memory
 *
 * The route renders the process's metrics registry (core/lb-metrics.h): what
 * the recorder, the jobs, retention and the uploader count, and what this
 * file adds for the API:
 *
 *  - per request, when it ends (main loop): requests by route, method and
 *    status, and their latency;
 *  - per create: the rows created, by media type and status;
 *  - by a collector, just before a render: the server's own counters, the
 *    very ones /healthz shows (no second set), and each organisation's quota
 *    used and allowance this month (read from the store).
 *
 * It runs on a worker thread: the collectors may read the store, the main
 * loop never does.  With [metrics] token set only a request with
 * "Authorization: Bearer TOKEN" gets an answer (401 otherwise); empty, anyone
 * who reaches the API does.
 */
#include "api/lb-api-private.h"
#include "core/lb-log.h"
#include "core/lb-metrics.h"
#include "core/lb-sign.h"
#include "quota/lb-quota.h"

#include <string.h>

/* Latency buckets of the API, in seconds. */
static const gdouble latency_bounds[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
  0.5, 1, 2.5, 5, 10, 30
};

void
lb_api_metrics_request_done (LbApiRequest * req, guint status)
{
  g_autofree gchar *code = g_strdup_printf ("%u", status);
  const gchar *route = req->route ? req->route : "unknown";
  gdouble seconds = (g_get_monotonic_time () - req->start_us) / 1e6;

  lb_metric_add (lb_metrics_counter ("lookback_http_requests_total",
          "HTTP requests answered, by route (its OpenAPI path; unknown for "
          "paths that match none) and status", "route,status"),
      LB_LABELS (route, code), 1);
  lb_metric_observe (lb_metrics_histogram
      ("lookback_http_request_duration_seconds",
          "Time from a request's start to the end of its answer, by route",
          "route", latency_bounds, G_N_ELEMENTS (latency_bounds)),
      LB_LABELS (route), seconds);
}

void
lb_api_metrics_created (GPtrArray * rows)
{
  LbMetric *created = lb_metrics_counter ("lookback_retrievals_created_total",
      "Retrieval rows (one per input) created, by media type and status "
      "(pending, or invalid for an input the vehicle does not have)",
      "media_type,status");

  for (guint i = 0; i < rows->len; i++) {
    const LbRetrieval *r = rows->pdata[i];
    lb_metric_add (created, LB_LABELS (lb_media_type_to_string
            (r->media_type), lb_retrieval_status_to_string (r->status)), 1);
  }
}

/* --- collectors ---------------------------------------------------------- */

static void
set_counter (const gchar * name, const gchar * help, gint value)
{
  lb_metric_set (lb_metrics_counter (name, help, NULL), NULL, value);
}

static void
set_gauge (const gchar * name, const gchar * help, gdouble value)
{
  lb_metric_set (lb_metrics_gauge (name, help, NULL), NULL, value);
}

/* The counters /healthz shows, as they are. */
static void
collect_server (LbApiServer * server)
{
  g_mutex_lock (&server->lock);
  guint open = server->conns ? g_hash_table_size (server->conns) -
      server->n_closing : 0;
  g_mutex_unlock (&server->lock);

  set_gauge ("lookback_http_connections_open", "HTTP connections open", open);
  set_gauge ("lookback_http_connections_max", "[server] max-connections in "
      "force", server->max_conns);
  set_gauge ("lookback_http_requests_in_flight", "Requests being answered",
      g_atomic_int_get (&server->in_flight));
  set_counter ("lookback_http_requests_started_total", "Requests begun "
      "(/healthz requests)", g_atomic_int_get (&server->requests));
  set_counter ("lookback_http_server_errors_total", "5xx answers (/healthz "
      "errors)", g_atomic_int_get (&server->errors));
  set_counter ("lookback_http_connections_accepted_total", "Connections "
      "accepted", g_atomic_int_get (&server->conns_accepted));
  set_counter ("lookback_http_connections_closed_at_limit_total", "Idle "
      "connections closed to make room at max-connections",
      g_atomic_int_get (&server->conns_closed_at_limit));
  set_counter ("lookback_http_connections_refused_total", "Connections "
      "refused (503) with every connection busy at max-connections",
      g_atomic_int_get (&server->conns_refused));
  set_counter ("lookback_http_accept_failures_total", "Failed accept() "
      "calls (descriptors or memory short)",
      g_atomic_int_get (&server->accept_failures));
}

/* Each organisation with a token: its usage and allowance this month. */
static void
collect_quota (LbApiServer * server)
{
  LbMetric *used = lb_metrics_gauge ("lookback_quota_used_seconds",
      "Seconds of high-res video an organisation used this month (UTC)",
      "org");
  LbMetric *reserved = lb_metrics_gauge ("lookback_quota_reserved_seconds",
      "Seconds of high-res video reserved by pending retrievals", "org");
  LbMetric *allowance = lb_metrics_gauge ("lookback_quota_allowance_seconds",
      "An organisation's monthly allowance, in seconds of high-res video",
      "org");
  g_autoptr (GPtrArray) tokens = NULL;
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  gint64 now = lb_api_now (server);

  if (!lb_store_api_token_list (server->store, &tokens, NULL))
    return;
  for (guint i = 0; i < tokens->len; i++) {
    const gchar *org = ((LbToken *) tokens->pdata[i])->org;
    gdouble u = 0, r = 0;
    if (!g_hash_table_add (seen, (gpointer) org) ||
        !lb_quota_get_usage (server->store, org, now, &u, &r, NULL))
      continue;
    lb_metric_set (used, LB_LABELS (org), u);
    lb_metric_set (reserved, LB_LABELS (org), r);
    lb_metric_set (allowance, LB_LABELS (org),
        lb_config_get_org_allowance (server->config, org));
  }
}

static void
collect (gpointer data)
{
  collect_server (data);
  collect_quota (data);
}

void
lb_api_metrics_start (LbApiServer * server)
{
  lb_metrics_add_collector (collect, server);
}

void
lb_api_metrics_stop (LbApiServer * server)
{
  lb_metrics_remove_collector (collect, server);
}

/* --- the route ----------------------------------------------------------- */

/* [metrics] token, when set, compared in constant time. */
static gboolean
authorized (LbApiRequest * req)
{
  const gchar *token = lb_config_get_string (req->server->config, "metrics",
      "token");

  if (token == NULL || *token == '\0')
    return TRUE;
  if (req->authorization == NULL ||
      !g_str_has_prefix (req->authorization, "Bearer "))
    return FALSE;
  /* equal lengths whatever was sent: hashes */
  g_autofree gchar *given = lb_sign_hash_token (req->authorization +
      strlen ("Bearer "));
  g_autofree gchar *want = lb_sign_hash_token (token);
  return lb_sign_equal (given, want);
}

void
lb_api_route_metrics (LbApiRequest * req)
{
  if (!authorized (req)) {
    lb_api_add_header (req, "WWW-Authenticate", "Bearer");
    lb_api_reply_error (req, SOUP_STATUS_UNAUTHORIZED,
        "/metrics needs the [metrics] token: Authorization: Bearer TOKEN.");
    return;
  }
  gchar *text = lb_metrics_render ();
  g_clear_pointer (&req->reply, g_bytes_unref);
  req->reply = g_bytes_new_take (text, strlen (text));
  g_free (req->content_type);
  req->content_type = g_strdup (LB_METRICS_CONTENT_TYPE);
  req->status = SOUP_STATUS_OK;
}
