/* lookback tests — the cloud peers (see lb-test-peers.h) */
#include "lb-test-peers.h"
#include "lb-test-common.h"

#include <libsoup/soup.h>
#include <signal.h>
#include <string.h>

/* ------------------------------------------------------------ node peers */

struct _LbTestPeer
{
  GSubprocess *proc;
  GDataInputStream *out;
  GOutputStream *in;
  guint port;
};

static LbTestPeer *
spawn_node (const gchar * script, const gchar * const *args)
{
  g_assert_nonnull (g_getenv ("LB_PEERS_DIR"));
  /* the peer runs in its folder: a relative one is made absolute first */
  g_autofree gchar *dir = g_canonicalize_filename (g_getenv ("LB_PEERS_DIR"),
      NULL);
  g_autofree gchar *path = g_build_filename (dir, script, NULL);
  g_autofree gchar *modules = g_build_filename (dir, "node_modules", NULL);
  if (!g_file_test (modules, G_FILE_TEST_IS_DIR))
    g_error ("%s is missing: run scripts/setup.sh (npm ci in tests/peers)",
        modules);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) "node");
  g_ptr_array_add (argv, path);
  for (guint i = 0; args && args[i]; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);

  g_autoptr (GSubprocessLauncher) l =
      g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
      G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_subprocess_launcher_set_child_setup (l, lb_test_child_setup, NULL, NULL);
  g_subprocess_launcher_set_cwd (l, dir);
  g_autoptr (GError) error = NULL;
  LbTestPeer *p = g_new0 (LbTestPeer, 1);
  p->proc = g_subprocess_launcher_spawnv (l,
      (const gchar * const *) argv->pdata, &error);
  g_assert_no_error (error);
  p->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (p->proc));
  p->in = g_object_ref (g_subprocess_get_stdin_pipe (p->proc));
  return p;
}

static JsonObject *
read_json_line (LbTestPeer * p)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *line = g_data_input_stream_read_line_utf8 (p->out, NULL,
      NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (line);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (parser, line, -1, &error));
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

LbTestPeer *
lb_test_peer_start (const gchar * script, const gchar * const *args)
{
  LbTestPeer *p = spawn_node (script, args);
  g_autoptr (JsonObject) o = read_json_line (p);
  p->port = json_object_get_int_member (o, "port");
  g_assert_cmpuint (p->port, >, 0);
  return p;
}

guint
lb_test_peer_port (LbTestPeer * peer)
{
  return peer->port;
}

void
lb_test_peer_free (LbTestPeer * p)
{
  if (p == NULL)
    return;
  g_output_stream_close (p->in, NULL, NULL);
  g_subprocess_send_signal (p->proc, SIGTERM);
  g_subprocess_wait (p->proc, NULL, NULL);
  g_clear_object (&p->in);
  g_clear_object (&p->out);
  g_clear_object (&p->proc);
  g_free (p);
}

gint64
lb_test_peer_stat (LbTestPeer * peer, const gchar * path, const gchar * name)
{
  g_autofree gchar *url = g_strdup_printf ("http://127.0.0.1:%u%s",
      peer->port, path);
  g_autoptr (SoupSession) s = soup_session_new ();
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
  g_autoptr (GBytes) body = soup_session_send_and_read (s, msg, NULL, NULL);
  g_autoptr (JsonParser) p = json_parser_new ();
  g_assert_nonnull (body);
  g_assert_true (json_parser_load_from_data (p, g_bytes_get_data (body, NULL),
          g_bytes_get_size (body), NULL));
  return json_object_get_int_member (json_node_get_object
      (json_parser_get_root (p)), name);
}

LbTestPeer *
lb_test_oracle_start (void)
{
  return spawn_node ("sigv4-oracle.js", NULL);
}

JsonObject *
lb_test_oracle_ask (LbTestPeer * p, JsonObject * request)
{
  g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (),
      request);
  g_autofree gchar *text = json_to_string (node, FALSE);
  g_autofree gchar *line = g_strconcat (text, "\n", NULL);
  g_assert_true (g_output_stream_write_all (p->in, line, strlen (line), NULL,
          NULL, NULL));
  g_assert_true (g_output_stream_flush (p->in, NULL, NULL));
  return read_json_line (p);
}

/* ----------------------------------------------------------------- relay */

struct _LbTestRelay
{
  GSocket *listener;
  guint port, target;
  gint64 drop_every;
  GThread *accepter;
  GMutex lock;
  GPtrArray *threads;
  GPtrArray *sockets;           /* every relayed socket (ref), under lock */
  gint down;                    /* atomic */
  gint rate;                    /* atomic: bytes per second up; 0: no cap */
  gint stop;                    /* atomic */
  gint64 bytes_up;              /* under lock */
  gint64 next_drop;             /* under lock */
  guint drops;                  /* under lock */
};

typedef struct
{
  LbTestRelay *relay;
  GSocket *from, *to;
  gboolean up;                  /* client → server */
} Pipe;

static GSocket *
connect_target (guint port)
{
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback
      (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) sa = g_inet_socket_address_new (lo, port);
  GSocket *s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
      G_SOCKET_PROTOCOL_TCP, NULL);
  if (!g_socket_connect (s, sa, NULL, NULL))
    g_clear_object (&s);
  return s;
}

static gboolean
send_all (GSocket * s, const gchar * buf, gssize n)
{
  while (n > 0) {
    gssize w = g_socket_send (s, buf, n, NULL, NULL);
    if (w <= 0)
      return FALSE;
    buf += w;
    n -= w;
  }
  return TRUE;
}

/* How much of @n bytes may go before the next drop; TRUE: drop after. */
static gboolean
count_up (LbTestRelay * r, gssize * n)
{
  gboolean drop = FALSE;
  g_mutex_lock (&r->lock);
  if (r->drop_every > 0 && r->bytes_up + *n >= r->next_drop) {
    *n = r->next_drop - r->bytes_up;
    r->next_drop += r->drop_every;
    r->drops++;
    drop = TRUE;
  }
  r->bytes_up += *n;
  g_mutex_unlock (&r->lock);
  return drop;
}

static gpointer
pipe_thread (gpointer data)
{
  Pipe *p = data;
  gchar buf[65536];
  for (;;) {
    gssize n = g_socket_receive (p->from, buf, sizeof buf, NULL, NULL);
    if (n <= 0)
      break;
    gboolean drop = p->up && count_up (p->relay, &n);
    if (n > 0 && !send_all (p->to, buf, n))
      break;
    gint rate = p->up ? g_atomic_int_get (&p->relay->rate) : 0;
    if (rate > 0)
      g_usleep ((gulong) (n * (gdouble) G_USEC_PER_SEC / rate));
    if (drop)
      break;
  }
  g_socket_shutdown (p->from, TRUE, TRUE, NULL);
  g_socket_shutdown (p->to, TRUE, TRUE, NULL);
  g_object_unref (p->from);
  g_object_unref (p->to);
  g_free (p);
  return NULL;
}

static void
start_pipe (LbTestRelay * r, GSocket * from, GSocket * to, gboolean up)
{
  Pipe *p = g_new0 (Pipe, 1);
  p->relay = r;
  p->from = g_object_ref (from);
  p->to = g_object_ref (to);
  p->up = up;
  GThread *t = g_thread_new ("relay-pipe", pipe_thread, p);
  g_mutex_lock (&r->lock);
  g_ptr_array_add (r->threads, t);
  g_ptr_array_add (r->sockets, g_object_ref (from));
  g_mutex_unlock (&r->lock);
}

static gpointer
accept_thread (gpointer data)
{
  LbTestRelay *r = data;
  while (!g_atomic_int_get (&r->stop)) {
    g_autoptr (GSocket) c = g_socket_accept (r->listener, NULL, NULL);
    if (c == NULL)
      break;
    if (g_atomic_int_get (&r->stop))
      break;
    g_autoptr (GSocket) t = g_atomic_int_get (&r->down) ? NULL
        : connect_target (r->target);
    if (t == NULL) {
      g_socket_close (c, NULL);
      continue;
    }
    start_pipe (r, c, t, TRUE);
    start_pipe (r, t, c, FALSE);
  }
  return NULL;
}

LbTestRelay *
lb_test_relay_new (guint target_port, gint64 drop_every)
{
  LbTestRelay *r = g_new0 (LbTestRelay, 1);
  g_mutex_init (&r->lock);
  r->threads = g_ptr_array_new ();
  r->sockets = g_ptr_array_new_with_free_func (g_object_unref);
  r->target = target_port;
  r->drop_every = drop_every;
  r->next_drop = drop_every;
  r->listener = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
      G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback
      (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_assert_true (g_socket_bind (r->listener, any, TRUE, NULL));
  g_assert_true (g_socket_listen (r->listener, NULL));
  g_autoptr (GSocketAddress) bound = g_socket_get_local_address (r->listener,
      NULL);
  r->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  r->accepter = g_thread_new ("relay-accept", accept_thread, r);
  return r;
}

guint
lb_test_relay_port (LbTestRelay * r)
{
  return r->port;
}

void
lb_test_relay_set_rate (LbTestRelay * r, gint bytes_per_second)
{
  g_atomic_int_set (&r->rate, bytes_per_second);
}

void
lb_test_relay_set_down (LbTestRelay * r, gboolean down)
{
  g_atomic_int_set (&r->down, down);
}

gint64
lb_test_relay_bytes_up (LbTestRelay * r)
{
  g_mutex_lock (&r->lock);
  gint64 n = r->bytes_up;
  g_mutex_unlock (&r->lock);
  return n;
}

/* A counter of the relay's or the receiver's, read under its lock. */
static guint
read_locked (GMutex * lock, const guint * counter)
{
  g_mutex_lock (lock);
  guint n = *counter;
  g_mutex_unlock (lock);
  return n;
}

guint
lb_test_relay_drops (LbTestRelay * r)
{
  return read_locked (&r->lock, &r->drops);
}

void
lb_test_relay_free (LbTestRelay * r)
{
  if (r == NULL)
    return;
  g_atomic_int_set (&r->stop, 1);
  /* wake the accept */
  g_autoptr (GSocket) poke = connect_target (r->port);
  g_thread_join (r->accepter);
  g_socket_close (r->listener, NULL);
  g_object_unref (r->listener);
  /* every relayed connection ends here, then its pipes */
  g_mutex_lock (&r->lock);
  g_autoptr (GPtrArray) threads = g_steal_pointer (&r->threads);
  g_autoptr (GPtrArray) sockets = g_steal_pointer (&r->sockets);
  g_mutex_unlock (&r->lock);
  for (guint i = 0; i < sockets->len; i++)
    g_socket_shutdown (sockets->pdata[i], TRUE, TRUE, NULL);
  for (guint i = 0; i < threads->len; i++)
    g_thread_join (threads->pdata[i]);
  g_mutex_clear (&r->lock);
  g_free (r);
}

/* -------------------------------------------------------------- receiver */

struct _LbTestReceiver
{
  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;
  SoupServer *server;
  GSocketService *service;      /* 127.0.0.1 only; hands connections to server */
  GBytes *secret;
  guint port;
  guint fail_first;
  gboolean drop_one;
  GMutex lock;
  guint requests, bad;
  GHashTable *events;           /* id → body */
  GPtrArray *ids;
};

static gboolean
signature_ok (LbTestReceiver * r, const gchar * header, const gchar * body,
    gsize len)
{
  if (header == NULL)
    return FALSE;
  g_auto (GStrv) parts = g_strsplit (header, ",", 2);
  if (g_strv_length (parts) != 2 || !g_str_has_prefix (parts[0], "t=")
      || !g_str_has_prefix (parts[1], "v1="))
    return FALSE;
  gsize klen;
  const guint8 *key = g_bytes_get_data (r->secret, &klen);
  g_autoptr (GHmac) h = g_hmac_new (G_CHECKSUM_SHA256, key, klen);
  g_hmac_update (h, (const guchar *) parts[0] + 2, strlen (parts[0] + 2));
  g_hmac_update (h, (const guchar *) ".", 1);
  g_hmac_update (h, (const guchar *) body, len);
  return g_str_equal (g_hmac_get_string (h), parts[1] + 3);
}

static void
receive (SoupServer * server, SoupServerMessage * msg, const gchar * path,
    GHashTable * query, gpointer data)
{
  LbTestReceiver *r = data;
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  g_autoptr (GBytes) bytes = soup_message_body_flatten (body);
  gsize len;
  const gchar *text = g_bytes_get_data (bytes, &len);
  SoupMessageHeaders *h = soup_server_message_get_request_headers (msg);
  const gchar *id = soup_message_headers_get_one (h, "Lookback-Event-Id");
  gboolean ok = signature_ok (r, soup_message_headers_get_one (h,
          "Lookback-Signature"), text, len);

  g_mutex_lock (&r->lock);
  guint n = r->requests++;
  if (!ok)
    r->bad++;
  g_ptr_array_add (r->ids, g_strdup (id ? id : ""));
  gboolean fail = n < r->fail_first;
  gboolean drop = !fail && r->drop_one && n == r->fail_first;
  if (ok && !fail && !drop && id)
    g_hash_table_replace (r->events, g_strdup (id), g_strndup (text, len));
  g_mutex_unlock (&r->lock);

  if (drop) {
    GIOStream *conn = soup_server_message_steal_connection (msg);
    g_io_stream_close (conn, NULL, NULL);
    g_object_unref (conn);
    return;
  }
  soup_server_message_set_status (msg, fail ? 500 : ok ? 204 : 401, NULL);
}

static gboolean
receiver_incoming (GSocketService * service, GSocketConnection * conn,
    GObject * source, gpointer data)
{
  LbTestReceiver *r = data;
  g_autoptr (GSocketAddress) local =
      g_socket_connection_get_local_address (conn, NULL);
  g_autoptr (GSocketAddress) remote =
      g_socket_connection_get_remote_address (conn, NULL);
  soup_server_accept_iostream (r->server, G_IO_STREAM (conn), local, remote,
      NULL);
  return TRUE;
}

static gpointer
receiver_thread (gpointer data)
{
  LbTestReceiver *r = data;
  g_main_context_push_thread_default (r->context);
  g_main_loop_run (r->loop);
  g_main_context_pop_thread_default (r->context);
  return NULL;
}

LbTestReceiver *
lb_test_receiver_new (const gchar * secret, guint fail_first, gboolean drop_one)
{
  LbTestReceiver *r = g_new0 (LbTestReceiver, 1);
  g_mutex_init (&r->lock);
  r->secret = g_bytes_new (secret, strlen (secret));
  r->fail_first = fail_first;
  r->drop_one = drop_one;
  r->events = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  r->ids = g_ptr_array_new_with_free_func (g_free);
  r->context = g_main_context_new ();
  r->loop = g_main_loop_new (r->context, FALSE);
  g_main_context_push_thread_default (r->context);
  r->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (r->server, NULL, receive, r, NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback
      (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  r->service = g_socket_service_new ();
  g_assert_true (g_socket_listener_add_address (G_SOCKET_LISTENER
          (r->service), any, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL,
          &bound, &error));
  g_signal_connect (r->service, "incoming", G_CALLBACK (receiver_incoming), r);
  g_socket_service_start (r->service);
  g_main_context_pop_thread_default (r->context);
  r->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  r->thread = g_thread_new ("webhook-receiver", receiver_thread, r);
  return r;
}

guint
lb_test_receiver_port (LbTestReceiver * r)
{
  return r->port;
}

guint
lb_test_receiver_requests (LbTestReceiver * r)
{
  return read_locked (&r->lock, &r->requests);
}

guint
lb_test_receiver_bad (LbTestReceiver * r)
{
  return read_locked (&r->lock, &r->bad);
}

GHashTable *
lb_test_receiver_events (LbTestReceiver * r)
{
  GHashTable *copy = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      g_free);
  g_mutex_lock (&r->lock);
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, r->events);
  while (g_hash_table_iter_next (&it, &k, &v))
    g_hash_table_insert (copy, g_strdup (k), g_strdup (v));
  g_mutex_unlock (&r->lock);
  return copy;
}

GPtrArray *
lb_test_receiver_ids (LbTestReceiver * r)
{
  GPtrArray *copy = g_ptr_array_new_with_free_func (g_free);
  g_mutex_lock (&r->lock);
  for (guint i = 0; i < r->ids->len; i++)
    g_ptr_array_add (copy, g_strdup (r->ids->pdata[i]));
  g_mutex_unlock (&r->lock);
  return copy;
}

static gboolean
quit_cb (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

void
lb_test_receiver_free (LbTestReceiver * r)
{
  if (r == NULL)
    return;
  GSource *s = g_idle_source_new ();
  g_source_set_callback (s, quit_cb, r->loop, NULL);
  g_source_attach (s, r->context);
  g_source_unref (s);
  g_thread_join (r->thread);
  g_main_context_push_thread_default (r->context);
  g_socket_service_stop (r->service);
  g_socket_listener_close (G_SOCKET_LISTENER (r->service));
  g_clear_object (&r->service);
  soup_server_disconnect (r->server);
  g_clear_object (&r->server);
  while (g_main_context_iteration (r->context, FALSE));
  g_main_context_pop_thread_default (r->context);
  g_main_loop_unref (r->loop);
  g_main_context_unref (r->context);
  g_bytes_unref (r->secret);
  g_hash_table_unref (r->events);
  g_ptr_array_unref (r->ids);
  g_mutex_clear (&r->lock);
  g_free (r);
}
