/* lookback tests — the cloud peers of the upload tests, on 127.0.0.1:
 *
 * - node peers from tests/peers (installed by scripts/setup.sh): s3rver,
 *   which checks SigV4 signatures; the tus reference server (@tus/server)
 *   with the checksum extension; the AWS SDK's SigV4 signer as an oracle;
 * - a TCP relay that drops every connection through it each time N more
 *   bytes went from client to server, counts what went, and can play an
 *   endpoint that is down;
 * - a webhook receiver that answers its first N events with an error,
 *   checks each event's signature and keeps what it received.
 * Each runs until freed; node peers die with the test.
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef struct _LbTestPeer LbTestPeer;

/* Starts tests/peers/@script with @args (NULL-terminated) and waits for
 * the port it prints. */
LbTestPeer *lb_test_peer_start   (const gchar        *script,
                                  const gchar *const *args);
guint       lb_test_peer_port    (LbTestPeer *peer);
void        lb_test_peer_free    (LbTestPeer *peer);
/* A figure @name of the peer's statistics page @path ("/stats" of the tus
 * peer, "/__stats" of the S3 peer). */
gint64      lb_test_peer_stat    (LbTestPeer  *peer,
                                  const gchar *path,
                                  const gchar *name);

/* The SigV4 oracle: one request (see tests/peers/sigv4-oracle.js) in, its
 * answer out. */
LbTestPeer *lb_test_oracle_start (void);
JsonObject *lb_test_oracle_ask   (LbTestPeer *oracle,
                                  JsonObject *request);

typedef struct _LbTestRelay LbTestRelay;

/* Relays 127.0.0.1:<its port> to 127.0.0.1:@target_port; @drop_every 0
 * never drops. */
LbTestRelay *lb_test_relay_new       (guint   target_port,
                                      gint64  drop_every);
guint        lb_test_relay_port      (LbTestRelay *relay);
/* Caps the bytes per second going client → server (0: no cap). */
void         lb_test_relay_set_rate  (LbTestRelay *relay,
                                      gint         bytes_per_second);
/* Down: connections are accepted and closed at once. */
void         lb_test_relay_set_down  (LbTestRelay *relay,
                                      gboolean     down);
gint64       lb_test_relay_bytes_up  (LbTestRelay *relay);
guint        lb_test_relay_drops     (LbTestRelay *relay);
/* Ends every relayed connection, then frees. */
void         lb_test_relay_free      (LbTestRelay *relay);

typedef struct _LbTestReceiver LbTestReceiver;

/* A webhook receiver on 127.0.0.1 keyed with @secret; answers 500 to its
 * first @fail_first requests, and drops the connection of the request
 * after those without answering when @drop_one. */
LbTestReceiver *lb_test_receiver_new      (const gchar *secret,
                                           guint        fail_first,
                                           gboolean     drop_one);
guint           lb_test_receiver_port     (LbTestReceiver *r);
/* Requests received, events accepted (2xx) and bad signatures seen. */
guint           lb_test_receiver_requests (LbTestReceiver *r);
guint           lb_test_receiver_bad      (LbTestReceiver *r);
/* The accepted events' bodies by event id (a copy; unref it). */
GHashTable     *lb_test_receiver_events   (LbTestReceiver *r);
/* Every event id received, accepted or not, in order (a copy). */
GPtrArray      *lb_test_receiver_ids      (LbTestReceiver *r);
void            lb_test_receiver_free     (LbTestReceiver *r);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbTestPeer, lb_test_peer_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbTestRelay, lb_test_relay_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbTestReceiver, lb_test_receiver_free)

G_END_DECLS
