/* lookback — one accepted HTTP connection: a byte-counting input stream */
#include "api/lb-api-conn.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

/* A GFilterInputStream that counts what it reads and stays pollable (libsoup
 * reads its connections asynchronously through GPollableInputStream). */
typedef struct
{
  GFilterInputStream parent;
  GMutex lock;
  guint64 count;                /* bytes read; protected by lock */
  guint64 mark;                 /* count at the last lb_api_conn_mark(); lock */
  gint64 first_after_mark_us;   /* monotonic time of the first byte read after
                                 * the mark, 0 if none yet; lock */
  gint64 last_read_us;          /* monotonic time of the last byte read; lock */
} LbCountingInputStream;

typedef struct
{
  GFilterInputStreamClass parent_class;
} LbCountingInputStreamClass;

static GType lb_counting_input_stream_get_type (void);
static void pollable_iface_init (GPollableInputStreamInterface * iface);

G_DEFINE_TYPE_WITH_CODE (LbCountingInputStream, lb_counting_input_stream,
    G_TYPE_FILTER_INPUT_STREAM,
    G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM, pollable_iface_init))
     static void add_count (LbCountingInputStream * self, gssize n)
{
  if (n <= 0)
    return;
  gint64 now = g_get_monotonic_time ();
  g_mutex_lock (&self->lock);
  if (self->count == self->mark && self->first_after_mark_us == 0)
    self->first_after_mark_us = now;
  self->count += n;
  self->last_read_us = now;
  g_mutex_unlock (&self->lock);
}

static GInputStream *
base_of (gpointer self)
{
  return g_filter_input_stream_get_base_stream (G_FILTER_INPUT_STREAM (self));
}

static gssize
counting_read (GInputStream * stream, void *buffer, gsize count,
    GCancellable * cancellable, GError ** error)
{
  gssize n =
      g_input_stream_read (base_of (stream), buffer, count, cancellable, error);
  add_count ((LbCountingInputStream *) stream, n);
  return n;
}

static gboolean
counting_can_poll (GPollableInputStream * stream)
{
  GInputStream *base = base_of (stream);
  return G_IS_POLLABLE_INPUT_STREAM (base) &&
      g_pollable_input_stream_can_poll (G_POLLABLE_INPUT_STREAM (base));
}

static gboolean
counting_is_readable (GPollableInputStream * stream)
{
  return
      g_pollable_input_stream_is_readable (G_POLLABLE_INPUT_STREAM (base_of
          (stream)));
}

static GSource *
counting_create_source (GPollableInputStream * stream,
    GCancellable * cancellable)
{
  GSource *base =
      g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM (base_of
          (stream)), NULL);
  GSource *source = g_pollable_source_new_full (stream, base, cancellable);
  g_source_unref (base);
  return source;
}

static gssize
counting_read_nonblocking (GPollableInputStream * stream, void *buffer,
    gsize count, GError ** error)
{
  gssize n =
      g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (base_of
          (stream)), buffer, count, NULL, error);
  add_count ((LbCountingInputStream *) stream, n);
  return n;
}

static void
pollable_iface_init (GPollableInputStreamInterface * iface)
{
  iface->can_poll = counting_can_poll;
  iface->is_readable = counting_is_readable;
  iface->create_source = counting_create_source;
  iface->read_nonblocking = counting_read_nonblocking;
}

static void
counting_finalize (GObject * object)
{
  g_mutex_clear (&((LbCountingInputStream *) object)->lock);
  G_OBJECT_CLASS (lb_counting_input_stream_parent_class)->finalize (object);
}

static void
lb_counting_input_stream_class_init (LbCountingInputStreamClass * klass)
{
  G_OBJECT_CLASS (klass)->finalize = counting_finalize;
  G_INPUT_STREAM_CLASS (klass)->read_fn = counting_read;
}

static void
lb_counting_input_stream_init (LbCountingInputStream * self)
{
  g_mutex_init (&self->lock);
}

/* ------------------------------------------------------------------------- */

struct _LbApiConn
{
  GSocketConnection *conn;
  LbCountingInputStream *in;
  GIOStream *stream;
  gchar *peer;
  /* The server's context only: */
  gint64 answered_us;           /* monotonic: accepted, or the last answer sent */
  guint requests;               /* complete requests received */
  gboolean busy;                /* a complete request not answered yet */
  gboolean closing;             /* closed to make room */
};

LbApiConn *
lb_api_conn_new (GSocketConnection * conn, guint idle_timeout_s)
{
  g_return_val_if_fail (G_IS_SOCKET_CONNECTION (conn), NULL);

  LbApiConn *c = g_atomic_rc_box_new0 (LbApiConn);
  c->conn = g_object_ref (conn);
  GSocket *sock = g_socket_connection_get_socket (conn);
  g_socket_set_timeout (sock, idle_timeout_s);
  /* Kept-alive connections: a reply written in two parts (headers, body)
   * must not wait for the peer's delayed ACK (Nagle). */
  if (g_socket_get_family (sock) != G_SOCKET_FAMILY_UNIX)
    g_socket_set_option (sock, IPPROTO_TCP, TCP_NODELAY, TRUE, NULL);
  c->in = g_object_new (lb_counting_input_stream_get_type (),
      "base-stream", g_io_stream_get_input_stream (G_IO_STREAM (conn)),
      "close-base-stream", TRUE, NULL);
  c->stream = g_simple_io_stream_new (G_INPUT_STREAM (c->in),
      g_io_stream_get_output_stream (G_IO_STREAM (conn)));
  g_autoptr (GSocketAddress) remote =
      g_socket_connection_get_remote_address (conn, NULL);
  c->peer =
      remote ? g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (remote))
      : g_strdup ("?");
  c->answered_us = g_get_monotonic_time ();
  return c;
}

LbApiConn *
lb_api_conn_ref (LbApiConn * c)
{
  return g_atomic_rc_box_acquire (c);
}

static void
conn_clear (gpointer p)
{
  LbApiConn *c = p;
  /* The socket streams do not close the socket: the connection does. */
  g_io_stream_close (G_IO_STREAM (c->conn), NULL, NULL);
  g_clear_object (&c->stream);
  g_clear_object (&c->in);
  g_clear_object (&c->conn);
  g_free (c->peer);
}

void
lb_api_conn_unref (LbApiConn * c)
{
  g_atomic_rc_box_release_full (c, conn_clear);
}

GIOStream *
lb_api_conn_steal_stream (LbApiConn * c)
{
  return g_steal_pointer (&c->stream);
}

const gchar *
lb_api_conn_get_peer (LbApiConn * c)
{
  return c->peer;
}

guint64
lb_api_conn_bytes_read (LbApiConn * c)
{
  g_mutex_lock (&c->in->lock);
  guint64 n = c->in->count;
  g_mutex_unlock (&c->in->lock);
  return n;
}

void
lb_api_conn_mark (LbApiConn * c)
{
  g_mutex_lock (&c->in->lock);
  c->in->mark = c->in->count;
  c->in->first_after_mark_us = 0;
  g_mutex_unlock (&c->in->lock);
}

gint64
lb_api_conn_first_byte_us (LbApiConn * c)
{
  g_mutex_lock (&c->in->lock);
  gint64 t = c->in->first_after_mark_us;
  g_mutex_unlock (&c->in->lock);
  return t;
}

void
lb_api_conn_shutdown (LbApiConn * c)
{
  g_socket_shutdown (g_socket_connection_get_socket (c->conn), TRUE, TRUE,
      NULL);
}

void
lb_api_conn_request_begins (LbApiConn * c)
{
  c->requests++;
  c->busy = TRUE;
}

void
lb_api_conn_request_ends (LbApiConn * c)
{
  c->busy = FALSE;
  c->answered_us = g_get_monotonic_time ();
}

gboolean
lb_api_conn_is_busy (LbApiConn * c)
{
  return c->busy;
}

guint
lb_api_conn_get_requests (LbApiConn * c)
{
  return c->requests;
}

gint64
lb_api_conn_idle_since_us (LbApiConn * c)
{
  g_mutex_lock (&c->in->lock);
  gint64 read_us = c->in->last_read_us;
  g_mutex_unlock (&c->in->lock);
  return MAX (read_us, c->answered_us);
}

void
lb_api_conn_close (LbApiConn * c)
{
  c->closing = TRUE;
  lb_api_conn_shutdown (c);
}

gboolean
lb_api_conn_is_closing (LbApiConn * c)
{
  return c->closing;
}
