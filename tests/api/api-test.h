/* lookback — API test helpers: a store, a manual clock and the API server
 * running in its own thread on 127.0.0.1:0, and a synchronous client. */
#pragma once

#include "api/lb-api-server.h"
#include "core/lb-config.h"
#include "core/lb-time.h"
#include "store/lb-store-api.h"

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

/* 2026-11-15T12:00:00Z */
#define API_TEST_START_NS (G_GINT64_CONSTANT (1794744000) * LB_NS_PER_SEC)

typedef struct {
  gchar *dir;
  LbConfig *config;
  LbStore *store;
  LbClock *clock;
  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;
  LbApiServer *server;
  gchar *uri;
  SoupSession *session;
  gchar *token;                 /* org acme, media:read,media:write */
  GMutex lock;
  GCond cond;
  gboolean ready;
  GError *error;
} ApiFixture;

typedef struct {
  guint status;
  gchar *reason;                /* the reason phrase of the status line */
  GBytes *body;
  JsonNode *json;               /* NULL when the body is not JSON */
  SoupMessageHeaders *headers;  /* response headers */
} ApiReply;

/* Vehicles: 1234 (dashcamRoadFacing, dashcamDriverFacing, analog1 role
 * rearHigh, analog2 role leftSide) and 5678 (dashcamRoadFacing).
 * @extra_config (a string, may be NULL) is appended to the configuration.
 * The g_test fixture functions:
 *   g_test_add ("/api/x", ApiFixture, "[quota]\nallowance=1\n",
 *       api_fixture_setup, test_x, api_fixture_teardown); */
void         api_fixture_setup     (ApiFixture *f, gconstpointer extra_config);
/* The same without extra configuration, whatever the test's data is. */
void         api_fixture_setup_default (ApiFixture *f, gconstpointer unused);
void         api_fixture_teardown  (ApiFixture *f, gconstpointer unused);
/* Stops the server and joins its thread (every log line of a request is
 * out); teardown does it when the test did not. */
void         api_fixture_stop_server (ApiFixture *f);
/* The same fixture outside g_test fixtures (other suites). */
ApiFixture  *api_fixture_new       (const gchar *extra);
void         api_fixture_free      (ApiFixture *f);
gchar       *api_fixture_add_token (ApiFixture *f, const gchar *org, const gchar *scopes);

/* A request with @session (NULL: the fixture's); @token NULL sends none;
 * @body NULL sends none. */
ApiReply    *api_request_full      (ApiFixture *f, SoupSession *session, const gchar *method,
                                    const gchar *path, const gchar *token,
                                    const gchar *body, const gchar *const *headers);
ApiReply    *api_request           (ApiFixture *f, const gchar *method, const gchar *path,
                                    const gchar *token, const gchar *body);
void         api_reply_free        (ApiReply *r);

/* A member by dotted path ("data.retrievalId", "data.media.0.status"). */
JsonNode    *api_json_get          (ApiReply *r, const gchar *path);
const gchar *api_json_string       (ApiReply *r, const gchar *path);

/* Asserts an error reply: @status with its standard reason phrase, a
 * requestId, and a message containing @needle (NULL: any). */
void         api_assert_error      (ApiReply *r, guint status, const gchar *needle);

/* POST /cameras/media/retrieval with a body built from the arguments;
 * returns the reply. */
ApiReply    *api_create            (ApiFixture *f, const gchar *token, const gchar *vehicle,
                                    const gchar *media_type, const gchar *start,
                                    const gchar *end, const gchar *inputs_json);

/* Makes every pending row available through the job-facing functions (a
 * small file per row); returns how many. */
guint        api_make_available    (ApiFixture *f);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ApiReply, api_reply_free)

G_END_DECLS
