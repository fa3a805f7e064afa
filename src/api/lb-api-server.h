/* lookback — the HTTP API server (libsoup 3)
 *
 * Serves the retrieval API of /work/shared/api-contract.md:
 *   POST /cameras/media/retrieval     create a retrieval (media:write)
 *   GET  /cameras/media/retrieval     one retrieval (media:read)
 *   GET  /cameras/media               list uploaded media (media:read)
 *   GET  /media/{mediaId}             a finished file, by signed URL only
 *   GET  /healthz                     liveness and counters (details with a token)
 *   GET  /openapi.json                the OpenAPI 3 document (no auth)
 *
 * The server runs in the thread-default GMainContext of the thread that
 * calls lb_api_server_new(); store work and file reads happen on worker
 * threads while the message is paused, so the loop never waits on SQLite.
 */
#pragma once

#include "core/lb-config.h"
#include "core/lb-time.h"
#include "store/lb-store.h"

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef struct _LbApiServer LbApiServer;

/* Adds members to a /healthz object.  Called on a worker thread, never on
 * the main loop, by one health probe at a time (it may read the store);
 * what it adds is shown only to callers with a media:read token. */
typedef void (*LbApiHealthFunc) (JsonBuilder *builder,
                                 gpointer     user_data);

/* @clock: (nullable): not owned, must outlive the server; NULL = real time.
 * @config and @store are not owned either. */
LbApiServer *lb_api_server_new      (LbConfig     *config,
                                     LbStore      *store,
                                     LbClock      *clock,
                                     GError      **error);

/* Listens on [server] listen ("host:port"; port 0 picks a free one). */
gboolean     lb_api_server_listen   (LbApiServer  *server,
                                     GError      **error);

/* "http://127.0.0.1:8080" (no trailing slash) once listening, else NULL. */
gchar       *lb_api_server_get_uri  (LbApiServer  *server);

/* Registers @func to add a member object @name to /healthz (see
 * LbApiHealthFunc).  @user_data must outlive the server. */
void         lb_api_server_add_health (LbApiServer    *server,
                                       const gchar    *name,
                                       LbApiHealthFunc func,
                                       gpointer        user_data,
                                       GDestroyNotify  notify);

/* Called (on the thread that committed it, possibly not the server's) after
 * a create has committed its rows: e.g. to wake the job engine.  Set it
 * before the first request arrives. */
typedef void (*LbApiCreatedFunc) (gpointer user_data);

void         lb_api_server_set_created_func (LbApiServer      *server,
                                             LbApiCreatedFunc  func,
                                             gpointer          user_data);

/* Every route the server answers, "METHOD /path" in OpenAPI spelling
 * ("GET /media/{mediaId}"), NULL-terminated. */
const gchar *const *lb_api_server_routes (void);

/* Stops listening and frees the server, once the work running on worker
 * threads (routes, health probes: they use the store) has ended.  Messages
 * in flight are dropped with their connections. */
void         lb_api_server_free     (LbApiServer  *server);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbApiServer, lb_api_server_free)

G_END_DECLS
