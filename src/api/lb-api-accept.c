/* lookback — accepting connections, and the limit on how many stay open
 *
 * A box has a fixed number of file descriptors (RLIMIT_NOFILE), and the
 * recorder needs some of them to open its next segment.  So the API keeps
 * at most [server] max-connections open: by default the descriptor limit
 * less a reserve for the rest of lookbackd (lb_api_max_connections()).
 *
 * At the limit a new connection is still accepted, and the connection idle
 * the longest is closed to make room: first among those that have never
 * sent a complete request (a flood of silent or 1-byte connections), then
 * among kept-alive ones.  A connection whose request is being answered is
 * never closed.  When every connection is busy the new one gets a 503 and
 * is closed.  So idle connections can never lock a real client out.
 *
 * The listening socket is watched by a source of our own (not a
 * GSocketService, which retries a failing accept at once, for ever): when
 * accept() fails (EMFILE from something else holding descriptors, ENOBUFS,
 * …) the watch is paused and resumed after 100 ms, doubling up to 2 s,
 * with one log line per episode, never a loop spinning on the error.
 */
#include "api/lb-api-private.h"
#include "core/lb-debug.h"
#include "core/lb-error.h"
#include "core/lb-log.h"

#include <sys/resource.h>

GST_DEBUG_CATEGORY_STATIC (lb_api_accept_debug);
#define GST_CAT_DEFAULT lb_api_accept_debug

/* Connections accepted per wake-up: the loop serves the others in between,
 * and connections closed to make room are gone before the next batch. */
#define ACCEPT_BURST 16
#define PAUSE_MIN_MS 100
#define PAUSE_MAX_MS 2000
/* At most one line a minute about connections closed at the limit. */
#define LIMIT_LOG_INTERVAL_US (60 * G_USEC_PER_SEC)

/* Descriptors kept for the rest of lookbackd: the database (three
 * connections with their WAL and shared memory), logging, GLib's and
 * GStreamer's wake-up pipes, the upload client... */
#define RESERVE_BASE 64
/* ...and per input (the camera's sockets, the open segment and the next)
 * and per job worker (the segments it reads, its output, its pipeline). */
#define RESERVE_PER_PIPELINE 16
/* The fewest connections lookbackd keeps open whatever the limit. */
#define MIN_CONNECTIONS 8

static void
debug_init (void)
{
  LB_DEBUG_INIT (lb_api_accept_debug, "lookback-api-accept",
      "lookback API connections");
}

guint
lb_api_max_connections (LbConfig * config, guint64 fd_limit,
    guint * out_reserve)
{
  g_return_val_if_fail (config != NULL, MIN_CONNECTIONS);

  guint image_workers = 0;
  guint64 workers = lb_config_get_job_workers (config, &image_workers);
  guint64 reserve = RESERVE_BASE + RESERVE_PER_PIPELINE *
      (lb_config_get_inputs (config)->len + workers + image_workers);
  guint64 room = fd_limit > reserve ? fd_limit - reserve : 0;
  gint64 configured = lb_config_get_int (config, "server", "max-connections");

  if (out_reserve)
    *out_reserve = (guint) MIN (reserve, G_MAXUINT);
  if (configured > 0 && (guint64) configured <= room)
    return (guint) configured;
  if (configured > 0)
    lb_log (LB_LOG_WARNING, NULL, "[server] max-connections=%" G_GINT64_FORMAT
        " does not fit the descriptor limit (%" G_GUINT64_FORMAT " less %"
        G_GUINT64_FORMAT " kept for segments, the database and outputs): "
        "%" G_GUINT64_FORMAT " instead", configured, fd_limit, reserve,
        MAX (room, MIN_CONNECTIONS));
  return (guint) MIN (MAX (room, MIN_CONNECTIONS), G_MAXINT);
}

/* ------------------------------------------------------------------------- */

typedef struct
{
  LbApiServer *server;          /* strong */
  LbApiConn *conn;              /* strong: a connection from the same peer
                                 * address may replace it in the table
                                 * before its stream is gone */
} ConnGone;

/* libsoup dropped a connection's stream: the connection is over. */
static void
on_stream_gone (gpointer data, GObject * where_the_stream_was)
{
  ConnGone *g = data;
  LbApiServer *server = g->server;

  g_mutex_lock (&server->lock);
  if (server->conns &&
      g_hash_table_lookup (server->conns,
          lb_api_conn_get_peer (g->conn)) == g->conn) {
    if (lb_api_conn_is_closing (g->conn))
      server->n_closing--;
    g_hash_table_remove (server->conns, lb_api_conn_get_peer (g->conn));
  }
  g_mutex_unlock (&server->lock);
  lb_api_conn_unref (g->conn);
  lb_api_server_release (server);
  g_free (g);
}

/* Logs the connections closed or refused at the limit, at most once a
 * minute (a flood would otherwise write a line per connection). */
static void
log_limit (LbApiServer * server, guint open)
{
  gint64 now = g_get_monotonic_time ();

  if (server->limit_logged_us &&
      now - server->limit_logged_us < LIMIT_LOG_INTERVAL_US)
    return;
  lb_log (LB_LOG_WARNING, NULL, "connections at the limit (%u of %u): "
      "%d idle closed and %d refused since start",
      open, server->max_conns,
      g_atomic_int_get (&server->conns_closed_at_limit),
      g_atomic_int_get (&server->conns_refused));
  server->limit_logged_us = now;
}

/* The connection to close for a new one: the one idle the longest among
 * those that never sent a complete request, else among the others; never
 * a busy one.  NULL when all are busy.  Sets *@open.  The lock is held. */
static LbApiConn *
pick_victim (LbApiServer * server, guint * open)
{
  LbApiConn *victim = NULL;
  gboolean victim_fresh = FALSE;
  gint64 victim_since = 0;
  GHashTableIter iter;
  gpointer value;

  *open = 0;
  g_hash_table_iter_init (&iter, server->conns);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    LbApiConn *c = value;
    if (lb_api_conn_is_closing (c))
      continue;
    (*open)++;
    if (lb_api_conn_is_busy (c))
      continue;
    gboolean fresh = lb_api_conn_get_requests (c) == 0;
    gint64 since = lb_api_conn_idle_since_us (c);
    if (victim == NULL || (fresh && !victim_fresh) ||
        (fresh == victim_fresh && since < victim_since)) {
      victim = c;
      victim_fresh = fresh;
      victim_since = since;
    }
  }
  return victim;
}

/* Makes room for one more connection: FALSE when it cannot (all busy). */
static gboolean
make_room (LbApiServer * server)
{
  guint open;
  gboolean ok = TRUE;

  g_mutex_lock (&server->lock);
  if (g_hash_table_size (server->conns) - server->n_closing < server->max_conns) {
    g_mutex_unlock (&server->lock);
    return TRUE;
  }
  LbApiConn *victim = pick_victim (server, &open);
  if (open < server->max_conns) {
    g_mutex_unlock (&server->lock);
    return TRUE;
  }
  if (victim) {
    GST_DEBUG ("at the limit (%u): closing %s, idle since %" G_GINT64_FORMAT
        " µs, %u requests", open, lb_api_conn_get_peer (victim),
        lb_api_conn_idle_since_us (victim), lb_api_conn_get_requests (victim));
    lb_api_conn_close (victim);
    server->n_closing++;
    g_atomic_int_inc (&server->conns_closed_at_limit);
  } else {
    g_atomic_int_inc (&server->conns_refused);
    ok = FALSE;
  }
  g_mutex_unlock (&server->lock);
  log_limit (server, open);
  return ok;
}

/* Every connection is busy answering: this one is told so and closed. */
static void
refuse (GSocket * sock)
{
  static const gchar busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
      "Connection: close\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n";
  /* A fresh socket's send buffer takes it whole, or the client is gone. */
  g_socket_set_blocking (sock, FALSE);
  g_socket_send (sock, busy, sizeof busy - 1, NULL, NULL);
  g_socket_close (sock, NULL);
}

/* The stream libsoup serves for a connection's @stream: a TLS server
 * connection over it when the server has a certificate. */
static GIOStream *
wrap_stream (LbApiServer * server, GIOStream * stream, GError ** error)
{
  if (server->tls == NULL)
    return g_object_ref (stream);
  /* The handshake happens with libsoup's first read, on the loop, bounded
   * by the connection's idle timeout like any other read. */
  return G_IO_STREAM (g_tls_server_connection_new (stream, server->tls, error));
}

/* A new connection: its socket gets the idle timeout (no traffic for that
 * long and libsoup's pending read or write fails), its input is counted
 * (see lb-api-conn.h), and it is handed to libsoup. */
static void
accept_one (LbApiServer * server, GSocket * sock)
{
  g_autoptr (GError) err = NULL;

  g_atomic_int_inc (&server->conns_accepted);
  if (!make_room (server)) {
    refuse (sock);
    return;
  }
  g_autoptr (GSocketConnection) conn =
      g_socket_connection_factory_create_connection (sock);
  g_autoptr (GSocketAddress) local =
      g_socket_connection_get_local_address (conn, NULL);
  g_autoptr (GSocketAddress) remote =
      g_socket_connection_get_remote_address (conn, NULL);
  if (local == NULL || remote == NULL) {
    /* reset while it waited in the queue: nobody to answer */
    g_socket_close (sock, NULL);
    return;
  }
  LbApiConn *c = lb_api_conn_new (conn, server->idle_timeout_s);
  g_autoptr (GIOStream) stream = lb_api_conn_steal_stream (c);
  ConnGone *g = g_new0 (ConnGone, 1);

  g->server = lb_api_server_acquire (server);
  g->conn = lb_api_conn_ref (c);
  g_mutex_lock (&server->lock);
  LbApiConn *old = g_hash_table_lookup (server->conns,
      lb_api_conn_get_peer (c));
  if (old && lb_api_conn_is_closing (old))
    server->n_closing--;
  g_hash_table_replace (server->conns, g_strdup (lb_api_conn_get_peer (c)), c);
  g_mutex_unlock (&server->lock);
  g_object_weak_ref (G_OBJECT (stream), on_stream_gone, g);
  g_autoptr (GIOStream) served = wrap_stream (server, stream, &err);
  if (served == NULL ||
      !soup_server_accept_iostream (server->soup, served, local, remote, &err))
    GST_WARNING ("cannot accept a connection: %s", err->message);
}

static gboolean on_listener_ready (GSocket * listener, GIOCondition condition,
    gpointer user_data);

static void
watch_listener (LbApiServer * server)
{
  server->accept_source = g_socket_create_source (server->listener, G_IO_IN,
      NULL);
  g_source_set_callback (server->accept_source,
      (GSourceFunc) (GCallback) on_listener_ready, server, NULL);
  g_source_attach (server->accept_source, server->context);
}

static gboolean
on_pause_over (gpointer user_data)
{
  LbApiServer *server = user_data;

  g_clear_pointer (&server->accept_timer, g_source_unref);
  watch_listener (server);
  return G_SOURCE_REMOVE;
}

/* accept() failed for want of something (descriptors, memory): the
 * connections waiting in the backlog wait a little longer. */
static void
pause_accepting (LbApiServer * server, const GError * error)
{
  if (server->accept_pause_ms == 0) {
    server->accept_pause_ms = PAUSE_MIN_MS;
    lb_log (LB_LOG_WARNING, NULL, "cannot accept connections: %s; "
        "closing an idle one and trying again in %u ms", error->message,
        server->accept_pause_ms);
  } else {
    server->accept_pause_ms = MIN (server->accept_pause_ms * 2, PAUSE_MAX_MS);
  }
  g_atomic_int_inc (&server->accept_failures);
  /* At the limit, or close to it: an idle connection gives a descriptor
   * back.  Below it the shortage is elsewhere and only waiting helps. */
  make_room (server);
  g_source_destroy (server->accept_source);
  g_clear_pointer (&server->accept_source, g_source_unref);
  server->accept_timer = g_timeout_source_new (server->accept_pause_ms);
  g_source_set_callback (server->accept_timer, on_pause_over, server, NULL);
  g_source_attach (server->accept_timer, server->context);
}

static gboolean
on_listener_ready (GSocket * listener, GIOCondition condition,
    gpointer user_data)
{
  LbApiServer *server = user_data;

  for (guint i = 0; i < ACCEPT_BURST; i++) {
    g_autoptr (GError) err = NULL;
    GSocket *sock = g_socket_accept (listener, NULL, &err);
    if (sock) {
      if (server->accept_pause_ms) {
        lb_log (LB_LOG_INFO, NULL, "accepting connections again");
        server->accept_pause_ms = 0;
      }
      accept_one (server, sock);
      g_object_unref (sock);
      continue;
    }
    if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
      break;
    if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED) ||
        g_error_matches (err, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE))
      continue;                 /* that client gave up: the next one */
    pause_accepting (server, err);
    return G_SOURCE_REMOVE;     /* pause_accepting dropped the source */
  }
  return G_SOURCE_CONTINUE;
}

gboolean
lb_api_accept_start (LbApiServer * server, GSocketAddress * address,
    GSocketAddress ** out_bound, GError ** error)
{
  g_autoptr (GError) err = NULL;

  debug_init ();
  if (server->listener) {
    g_set_error (error, LB_ERROR, LB_ERROR_FAILED, "already listening");
    return FALSE;
  }
  g_autoptr (GSocket) sock =
      g_socket_new (g_socket_address_get_family (address),
      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &err);
  if (sock == NULL)
    goto failed;
  /* The default backlog (10) resets bursts of clients. */
  g_socket_set_listen_backlog (sock, 128);
  g_socket_set_blocking (sock, FALSE);
  if (!g_socket_bind (sock, address, TRUE, &err) ||
      !g_socket_listen (sock, &err))
    goto failed;
  *out_bound = g_socket_get_local_address (sock, &err);
  if (*out_bound == NULL)
    goto failed;

  struct rlimit rl = { 0 };
  getrlimit (RLIMIT_NOFILE, &rl);
  guint64 fd_limit = rl.rlim_cur == RLIM_INFINITY ? G_MAXINT : rl.rlim_cur;
  guint reserve;
  server->max_conns = lb_api_max_connections (server->config, fd_limit,
      &reserve);
  lb_log (LB_LOG_INFO, NULL, "API connections: at most %u (descriptor limit %"
      G_GUINT64_FORMAT ", %u kept for segments, the database and outputs)",
      server->max_conns, fd_limit, reserve);
  server->listener = g_steal_pointer (&sock);
  watch_listener (server);
  return TRUE;

failed:
  g_set_error (error, LB_ERROR, LB_ERROR_IO, "cannot listen: %s", err->message);
  return FALSE;
}

void
lb_api_accept_stop (LbApiServer * server)
{
  if (server->accept_source) {
    g_source_destroy (server->accept_source);
    g_clear_pointer (&server->accept_source, g_source_unref);
  }
  if (server->accept_timer) {
    g_source_destroy (server->accept_timer);
    g_clear_pointer (&server->accept_timer, g_source_unref);
  }
  if (server->listener) {
    g_socket_close (server->listener, NULL);
    g_clear_object (&server->listener);
  }
}
