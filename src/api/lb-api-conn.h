/* lookback — one accepted HTTP connection, as the API server sees it
 *
 * libsoup gets the connection through soup_server_accept_iostream(), with
 * its input wrapped in a stream that counts the bytes read.  The count tells
 * an idle keep-alive connection (nothing since the last response) from a
 * slow client (a request trickling in), which libsoup 3.2 cannot: its
 * "request-started" comes before the first byte and
 * soup_server_message_get_socket() is NULL for such connections.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _LbApiConn LbApiConn;

/* Wraps @conn; its socket gets @idle_timeout_s (no traffic for that long
 * fails the pending read or write, and libsoup closes the connection). */
LbApiConn   *lb_api_conn_new        (GSocketConnection *conn,
                                     guint              idle_timeout_s);
LbApiConn   *lb_api_conn_ref        (LbApiConn *c);
void         lb_api_conn_unref      (LbApiConn *c);

/* The stream to hand to libsoup (transfer full; once).  The LbApiConn does
 * not keep it: when libsoup drops it, the connection is over. */
GIOStream   *lb_api_conn_steal_stream (LbApiConn *c);
/* "ip:port" of the peer: the key that finds the connection of a message. */
const gchar *lb_api_conn_get_peer   (LbApiConn *c);
/* Bytes read from the client so far (any thread). */
guint64      lb_api_conn_bytes_read (LbApiConn *c);
/* Starts watching for the next byte (a new request may begin). */
void         lb_api_conn_mark       (LbApiConn *c);
/* Monotonic time (µs) of the first byte read since lb_api_conn_mark(), or 0. */
gint64       lb_api_conn_first_byte_us (LbApiConn *c);
/* Cuts the connection off (both directions). */
void         lb_api_conn_shutdown   (LbApiConn *c);

/* What the connection limit looks at (the server's context only). */
/* A complete request arrived: the connection is busy until it is answered. */
void         lb_api_conn_request_begins (LbApiConn *c);
/* The answer went out: idle from now. */
void         lb_api_conn_request_ends   (LbApiConn *c);
gboolean     lb_api_conn_is_busy        (LbApiConn *c);
/* Complete requests received so far. */
guint        lb_api_conn_get_requests   (LbApiConn *c);
/* Monotonic time (µs) of the last byte read or answer sent (or of the
 * accept): idle since then unless busy. */
gint64       lb_api_conn_idle_since_us  (LbApiConn *c);
/* Shuts the connection down to make room for another; libsoup drops it at
 * its next read, which closes the socket. */
void         lb_api_conn_close          (LbApiConn *c);
gboolean     lb_api_conn_is_closing     (LbApiConn *c);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbApiConn, lb_api_conn_unref)

G_END_DECLS
