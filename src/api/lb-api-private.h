/* lookback — API internals shared by lb-api-server.c and lb-api-routes.c */
#pragma once

#include "api/lb-api-conn.h"
#include "api/lb-api-server.h"
#include "api/lb-rate-limit.h"
#include "media/lb-media-item.h"
#include "store/lb-store-api.h"

#include <libsoup/soup.h>

/* libsoup 3.2 has no name for 429. */
#define LB_HTTP_TOO_MANY_REQUESTS 429

G_BEGIN_DECLS

typedef struct {
  gchar *name;
  LbApiHealthFunc func;
  gpointer user_data;
  GDestroyNotify notify;
} LbApiHealth;

struct _LbApiServer {
  LbConfig *config;             /* not owned */
  LbStore *store;               /* not owned */
  LbClock *clock;               /* not owned; NULL = real time */
  GMainContext *context;        /* where the server runs */
  SoupServer *soup;
  GSocketService *service;
  GBytes *sign_key;
  LbRateLimiter *creates;
  LbRateLimiter *reads;
  GPtrArray *health;            /* LbApiHealth*; server context only */
  LbApiCreatedFunc created;     /* set before requests arrive; then read-only */
  gpointer created_data;
  LbMediaPresignFunc presign;   /* set before requests arrive; then read-only */
  gpointer presign_data;
  GHashTable *conns;            /* peer "ip:port" → LbApiConn*; protected by lock */
  gint64 started_ns;
  gint64 max_body;
  guint request_timeout_s, idle_timeout_s;
  gint64 url_ttl_ns;
  GMutex lock;
  gchar *uri;                   /* protected by lock */
  gchar *public_url;            /* protected by lock */
  gint requests;                /* atomic */
  gint in_flight;               /* atomic */
  gint errors;                  /* atomic: 5xx answers */
};

/* One request.  The main (server) thread fills the request part before a
 * worker runs the route; the worker fills the reply part; the main thread
 * applies it.  Never both at once. */
typedef struct {
  LbApiServer *server;          /* strong (rc box) */
  gchar *request_id;
  gint64 start_us;              /* monotonic */
  const gchar *route;           /* OpenAPI path of the route, or NULL */
  LbApiConn *conn;              /* the connection it came on (strong), or NULL */
  GSource *timer;               /* request-timeout watch; main thread only */
  gboolean got_body;
  gboolean finished;            /* "finished" was emitted; main thread only */

  /* request */
  gchar *method;
  gchar *path;
  gchar *query;                 /* raw, may be NULL */
  gchar *authorization;
  gchar *range;
  gchar *if_none_match;
  GBytes *body;

  /* reply */
  guint status;
  gchar *content_type;
  GBytes *reply;
  GPtrArray *headers;           /* name, value, name, value … */
} LbApiRequest;

typedef void (*LbApiRouteFunc) (LbApiRequest *req);

/* Replies */
void     lb_api_reply_json   (LbApiRequest *req, guint status, JsonNode *node);
void     lb_api_reply_error  (LbApiRequest *req, guint status, const gchar *format, ...)
    G_GNUC_PRINTF (3, 4);
/* Maps an LB_ERROR (or any error) to a status and replies with its message. */
void     lb_api_reply_gerror (LbApiRequest *req, const GError *error);
void     lb_api_add_header   (LbApiRequest *req, const gchar *name, const gchar *value);

/* Routes (lb-api-routes.c) */
void     lb_api_route_create (LbApiRequest *req);
void     lb_api_route_get    (LbApiRequest *req);
void     lb_api_route_list   (LbApiRequest *req);
void     lb_api_route_media  (LbApiRequest *req);
void     lb_api_route_health (LbApiRequest *req);
void     lb_api_route_openapi (LbApiRequest *req);

gint64   lb_api_now          (LbApiServer *server);

G_END_DECLS
