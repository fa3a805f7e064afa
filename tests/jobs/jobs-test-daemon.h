/* lookback tests (jobs): a real lookbackd, started by the test, and its API
 *
 * The daemon runs on a configuration and a store of its own in a new
 * temporary folder, with a token (org "acme", media:read and media:write)
 * already in the store; its API listens on 127.0.0.1 (a free port, read
 * from the line it logs: lb_test_daemon_spawn(), lb_test_api_call()).
 */
#pragma once

#include "store/lb-store.h"

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

typedef struct {
  gchar *dir;                   /* the store folder, the configuration's too */
  gchar *conf;
  gchar *token;
  GPid pid;                     /* 0 when not running */
  gchar *uri;                   /* http://127.0.0.1:PORT */
  SoupSession *session;
} JtDaemon;

/* The configuration: [server] listen, [store] dir, then @conf. */
JtDaemon  *jt_daemon_new        (const gchar *conf);
void       jt_daemon_free       (JtDaemon *daemon);
/* Starts lookbackd; returns once its API listens (fails the test if it
 * exits first). */
void       jt_daemon_start      (JtDaemon *daemon);
/* Sends @sig and waits: the wait status. */
gint       jt_daemon_stop       (JtDaemon *daemon, gint sig);
/* Stops it with SIGTERM, asserts a clean exit (0: no leak in the sanitized
 * run either) and frees it; NULL: nothing. */
void       jt_daemon_finish     (JtDaemon *daemon);
/* Opens its store (it may be running). */
LbStore   *jt_daemon_open_store (JtDaemon *daemon);

/* A request with the token; the reply's JSON and *@status. */
JsonNode  *jt_daemon_request    (JtDaemon *daemon, const gchar *method,
                                 const gchar *path, const gchar *body,
                                 guint *status);
/* POSTs a retrieval of one input and polls it until it is no longer
 * pending (at most @max_s seconds): its media object (a new reference). */
JsonObject *jt_daemon_retrieve  (JtDaemon *daemon, const gchar *vehicle,
                                 const gchar *input, const gchar *media_type,
                                 gint64 start_ns, gint64 end_ns, gdouble max_s);
/* Fetches the media object's urlInfo.url into @path. */
void       jt_daemon_download   (JtDaemon *daemon, JsonObject *media,
                                 const gchar *path);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (JtDaemon, jt_daemon_free)

G_END_DECLS
