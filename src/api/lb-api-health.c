/* lookback — GET /healthz, answered from memory
 *
 * The main loop carries every HTTP connection, so it never asks SQLite
 * anything: a write lock held by another process (`lookback import`,
 * `lookback token add`, `sqlite3 … 'BEGIN EXCLUSIVE'`) must not stop it.
 * /healthz is answered from what the server keeps in memory:
 *
 *  - its own counters (requests, in flight, 5xx answers, connections: open,
 *    the limit, accepted, closed or refused at the limit, failed accepts);
 *  - what a probe last found: the rows per status and the objects of the
 *    health funcs (jobs, uploads), read on a worker thread through the
 *    store's reader connection.  A /healthz without a token starts a probe
 *    in the background (one at a time, at most once a second) and does not
 *    wait for it; one with a token runs a probe on its own worker first.
 *
 * Status: "degraded" (503) when the last probe failed, a probe has waited
 * for the store longer than PROBE_PATIENCE_US, or a route answered 5xx
 * since the last probe that worked; "ok" (200) otherwise.
 *
 * Without a token the answer holds only the status and the server's own
 * counters: nothing about upload errors, paths or vehicles.  With a
 * media:read token it adds the retrievals per status and the health
 * funcs' objects.
 */
#include "api/lb-api-private.h"
#include "core/lb-debug.h"
#include "core/lb-log.h"

#include <string.h>

GST_DEBUG_CATEGORY_STATIC (lb_api_health_debug);
#define GST_CAT_DEFAULT lb_api_health_debug

/* A background probe is started at most this often... */
#define PROBE_INTERVAL_US (1 * G_USEC_PER_SEC)
/* ...and the store is "not answering" once one has waited this long. */
#define PROBE_PATIENCE_US (5 * G_USEC_PER_SEC)

static void
debug_init (void)
{
  LB_DEBUG_INIT (lb_api_health_debug, "lookback-api-health",
      "lookback API /healthz");
}

/* Reads the store and the health funcs into memory (a worker thread). */
static void
probe (LbApiServer * server)
{
  gint64 counts[LB_RETRIEVAL_INVALID + 1];
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) funcs = g_ptr_array_new ();
  g_autoptr (JsonBuilder) b = json_builder_new ();

  gboolean ok = lb_store_api_count_status (server->store, counts, &error);

  /* Entries live until the server is freed, which waits for this probe. */
  g_mutex_lock (&server->health_lock);
  for (guint i = 0; i < server->health->len; i++)
    g_ptr_array_add (funcs, server->health->pdata[i]);
  g_mutex_unlock (&server->health_lock);
  json_builder_begin_object (b);
  for (guint i = 0; i < funcs->len; i++) {
    LbApiHealth *h = funcs->pdata[i];
    json_builder_set_member_name (b, h->name);
    json_builder_begin_object (b);
    h->func (b, h->user_data);
    json_builder_end_object (b);
  }
  json_builder_end_object (b);

  g_mutex_lock (&server->health_lock);
  /* One line when the store stops answering, one when it is back. */
  gboolean was_ok = server->probe_done_us == 0 || server->probe_ok;
  if (was_ok && !ok)
    lb_log (LB_LOG_ERROR, NULL, "health: the store does not answer: %s",
        error->message);
  else if (!was_ok && ok)
    lb_log (LB_LOG_INFO, NULL, "health: the store answers again");
  server->probe_done_us = g_get_monotonic_time ();
  server->probe_ok = ok;
  if (ok)
    memcpy (server->counts, counts, sizeof counts);
  g_clear_pointer (&server->sections, json_node_unref);
  server->sections = json_builder_get_root (b);
  g_mutex_unlock (&server->health_lock);
}

static void
probe_task (GTask * task, gpointer source, gpointer task_data,
    GCancellable * cancellable)
{
  LbApiServer *server = task_data;

  probe (server);
  g_mutex_lock (&server->health_lock);
  server->probe_started_us = 0;
  g_mutex_unlock (&server->health_lock);
  lb_api_work_end (server);
  g_task_return_boolean (task, TRUE);
}

/* Starts a background probe unless one runs or the last is recent. */
static void
kick_probe (LbApiServer * server)
{
  gint64 now = g_get_monotonic_time ();

  g_mutex_lock (&server->health_lock);
  gboolean start = server->probe_started_us == 0 &&
      (server->probe_done_us == 0
      || now - server->probe_done_us >= PROBE_INTERVAL_US);
  if (start)
    server->probe_started_us = now;
  g_mutex_unlock (&server->health_lock);
  if (!start)
    return;
  lb_api_work_begin (server);
  g_autoptr (GTask) task = g_task_new (NULL, NULL, NULL, NULL);
  g_task_set_task_data (task, server, NULL);
  g_task_run_in_thread (task, probe_task);
}

/* Why the store looks unwell, or NULL.  health_lock is held. */
static gchar *
store_trouble (LbApiServer * server)
{
  gint64 now = g_get_monotonic_time ();

  if (server->probe_started_us
      && now - server->probe_started_us > PROBE_PATIENCE_US)
    return g_strdup_printf ("The store has not answered for %" G_GINT64_FORMAT
        " s.", (now - server->probe_started_us) / G_USEC_PER_SEC);
  if (server->probe_done_us && !server->probe_ok)
    return g_strdup ("The store does not answer.");
  if (server->store_error_us && server->store_error_us >= server->probe_done_us)
    return g_strdup ("The store does not answer (a request failed).");
  return NULL;
}

static void
add_int (JsonBuilder * b, const gchar * name, gint64 value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, value);
}

static void
add_connections (LbApiServer * server, JsonBuilder * b)
{
  g_mutex_lock (&server->lock);
  guint open = g_hash_table_size (server->conns) - server->n_closing;
  g_mutex_unlock (&server->lock);

  json_builder_set_member_name (b, "connections");
  json_builder_begin_object (b);
  add_int (b, "open", open);
  add_int (b, "max", server->max_conns);
  add_int (b, "accepted", g_atomic_int_get (&server->conns_accepted));
  add_int (b, "closedAtLimit",
      g_atomic_int_get (&server->conns_closed_at_limit));
  add_int (b, "refusedAtLimit", g_atomic_int_get (&server->conns_refused));
  add_int (b, "acceptFailures", g_atomic_int_get (&server->accept_failures));
  json_builder_end_object (b);
}

/* The probe's findings (health_lock held). */
static void
add_details (LbApiServer * server, JsonBuilder * b)
{
  if (server->probe_done_us) {
    json_builder_set_member_name (b, "retrievals");
    json_builder_begin_object (b);
    for (guint i = 0; i <= LB_RETRIEVAL_INVALID; i++)
      add_int (b, lb_retrieval_status_to_string (i), server->counts[i]);
    json_builder_end_object (b);
    add_int (b, "probedMillisecondsAgo",
        (g_get_monotonic_time () - server->probe_done_us) / 1000);
  }
  if (server->sections == NULL)
    return;
  JsonObject *o = json_node_get_object (server->sections);
  g_autoptr (GList) names = json_object_get_members (o);
  for (GList * l = names; l; l = l->next) {
    json_builder_set_member_name (b, l->data);
    json_builder_add_value (b, json_node_copy (json_object_get_member (o,
                l->data)));
  }
}

void
lb_api_route_health (LbApiRequest * req)
{
  LbApiServer *server = req->server;
  g_autoptr (LbToken) token = NULL;
  g_autoptr (JsonBuilder) b = json_builder_new ();

  debug_init ();
  if (req->authorization) {     /* a worker thread: see the route table */
    token = lb_api_authorize (req, "media:read", server->health_reads);
    if (token == NULL)
      return;                   /* the reply is set */
    probe (server);
  } else {
    kick_probe (server);
  }

  g_mutex_lock (&server->health_lock);
  g_autofree gchar *trouble = store_trouble (server);
  g_mutex_unlock (&server->health_lock);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "status");
  json_builder_add_string_value (b, trouble ? "degraded" : "ok");
  add_int (b, "uptimeSeconds",
      (lb_api_now (server) - server->started_ns) / LB_NS_PER_SEC);
  add_int (b, "requests", g_atomic_int_get (&server->requests));
  add_int (b, "inFlight", g_atomic_int_get (&server->in_flight));
  add_int (b, "serverErrors", g_atomic_int_get (&server->errors));
  add_connections (server, b);
  if (token) {
    g_mutex_lock (&server->health_lock);
    add_details (server, b);
    g_mutex_unlock (&server->health_lock);
  }
  if (trouble)                  /* a non-2xx body is an error body too */
    lb_api_add_error_members (req, b, trouble);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  lb_api_reply_json (req, trouble ? SOUP_STATUS_SERVICE_UNAVAILABLE :
      SOUP_STATUS_OK, root);
}
