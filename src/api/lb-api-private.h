/* lookback — API internals shared by lb-api-server.c and lb-api-routes.c */
#pragma once

#include "api/lb-api-conn.h"
#include "api/lb-api-server.h"
#include "api/lb-rate-limit.h"
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
  /* Accepting connections (lb-api-accept.c); the server's context only: */
  GSocket *listener;            /* the listening socket, or NULL */
  GSource *accept_source;       /* watches it; NULL while paused */
  GSource *accept_timer;        /* ends a pause */
  guint accept_pause_ms;        /* the current pause, 0 when accepting */
  gint64 limit_logged_us;       /* the last line about the limit */
  guint max_conns;              /* [server] max-connections, or derived */
  GBytes *sign_key;
  GTlsCertificate *tls;         /* [server] tls-certificate and tls-key, or
                                 * NULL: plain HTTP; read-only */
  LbRateLimiter *creates;
  LbRateLimiter *reads;
  LbRateLimiter *health_reads;  /* /healthz with a token: the same rate, a
                                 * bucket apart from the media reads' */
  GPtrArray *health;            /* LbApiHealth*; added under health_lock,
                                 * dropped when the server is freed */
  LbApiCreatedFunc created;     /* set before requests arrive; then read-only */
  gpointer created_data;
  GHashTable *conns;            /* peer "ip:port" → LbApiConn*; protected by lock */
  guint n_closing;              /* of them, closed to make room; lock */
  gint conns_accepted;          /* atomic: counters for /healthz */
  gint conns_closed_at_limit;   /* atomic */
  gint conns_refused;           /* atomic: all busy at the limit */
  gint accept_failures;         /* atomic: accept() failed (EMFILE, …) */
  gint64 started_ns;
  gint64 max_body;
  guint request_timeout_s, idle_timeout_s;
  gint64 url_ttl_ns;
  GMutex lock;
  GHashTable *quota_logged;     /* org → the period ("YYYY-MM") whose
                                 * exhausted quota was logged; lock */
  gchar *uri;                   /* protected by lock */
  gchar *public_url;            /* protected by lock */
  gint requests;                /* atomic */
  gint in_flight;               /* atomic */
  gint errors;                  /* atomic: 5xx answers */

  /* Work on worker threads (routes, health probes): lb_api_server_free()
   * waits for it, since it uses the store the caller frees next. */
  GMutex work_lock;
  GCond work_cond;
  guint working;                /* work_lock */

  /* What /healthz tells, kept in memory: the main loop never asks SQLite
   * (lb-api-health.c).  All protected by health_lock. */
  GMutex health_lock;
  gint64 probe_started_us;      /* a background probe in flight since
                                 * (monotonic), or 0 */
  gint64 probe_done_us;         /* when the last probe ended, or 0 */
  gboolean probe_ok;            /* how it ended */
  gint64 store_error_us;        /* the last 5xx a route answered, or 0 */
  gint64 counts[LB_RETRIEVAL_INVALID + 1];      /* rows per status, last probe */
  JsonNode *sections;           /* the health funcs' objects, last probe */
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

/* The caller's token, with @scope, within @limiter's rate; otherwise the
 * reply (401, 403, 429) is set and NULL returned.  Reads the store: on a
 * worker thread only. */
LbToken *lb_api_authorize    (LbApiRequest *req, const gchar *scope,
                              LbRateLimiter *limiter);

LbApiServer *lb_api_server_acquire (LbApiServer *server);
void     lb_api_server_release (LbApiServer *server);

/* Connections (lb-api-accept.c).  Listens on @address and accepts in the
 * server's context, keeping at most max-connections open. */
gboolean lb_api_accept_start (LbApiServer *server, GSocketAddress *address,
                              GSocketAddress **out_bound, GError **error);
void     lb_api_accept_stop  (LbApiServer *server);
/* [server] max-connections, or when 0 (the default) @fd_limit less a
 * reserve for the rest of lookbackd (*@out_reserve): 64 descriptors plus
 * 16 per input and per job worker; never fewer than 8. */
guint    lb_api_max_connections (LbConfig *config, guint64 fd_limit,
                                 guint *out_reserve);

/* Work on a worker thread begins / ends (see LbApiServer.working). */
void     lb_api_work_begin   (LbApiServer *server);
void     lb_api_work_end     (LbApiServer *server);

/* Replies */
void     lb_api_reply_json   (LbApiRequest *req, guint status, JsonNode *node);
void     lb_api_reply_error  (LbApiRequest *req, guint status, const gchar *format, ...)
    G_GNUC_PRINTF (3, 4);
/* Maps an LB_ERROR (or any error) to a status and replies with its message. */
void     lb_api_reply_gerror (LbApiRequest *req, const GError *error);
void     lb_api_add_header   (LbApiRequest *req, const gchar *name, const gchar *value);
/* "message" and "requestId": the members of every error body. */
void     lb_api_add_error_members (LbApiRequest *req, JsonBuilder *b,
                                   const gchar *message);

/* Routes (lb-api-routes.c) */
void     lb_api_route_create (LbApiRequest *req);
void     lb_api_route_get    (LbApiRequest *req);
void     lb_api_route_list   (LbApiRequest *req);
void     lb_api_route_media  (LbApiRequest *req);
void     lb_api_route_health (LbApiRequest *req);
void     lb_api_route_openapi (LbApiRequest *req);

gint64   lb_api_now          (LbApiServer *server);

/* Metrics (lb-api-metrics.c) */
void     lb_api_route_metrics (LbApiRequest *req);
/* A request ended with @status (main loop). */
void     lb_api_metrics_request_done (LbApiRequest *req, guint status);
/* @rows (LbRetrieval*) were created. */
void     lb_api_metrics_created (GPtrArray *rows);
/* The server's counters and the quotas are collected from start to stop. */
void     lb_api_metrics_start (LbApiServer *server);
void     lb_api_metrics_stop  (LbApiServer *server);

G_END_DECLS
