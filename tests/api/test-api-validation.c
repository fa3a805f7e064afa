/* lookback — API tests: every validation rule and status code of the
 * contract, auth, RFC 3339 handling.  Real HTTP on 127.0.0.1:0. */
#include "api-test.h"
#include "core/lb-error.h"

#include <gst/gst.h>
#include <sqlite3.h>
#include <string.h>

/* ------------------------------------------------------------------------- */
/* POST validation: each case is one test. */

typedef struct
{
  const gchar *name;
  const gchar *body;
  guint status;
  const gchar *needle;          /* the message names the field */
} CreateCase;

#define OK_TIMES "\"startTime\": \"2019-06-13T19:08:25Z\", \"endTime\": \"2019-06-13T19:08:55Z\""
#define IMG_TIMES "\"startTime\": \"2019-06-13T19:08:25Z\", \"endTime\": \"2019-06-13T19:08:25Z\""

static const CreateCase create_cases[] = {
  {"malformed-json", "{\"vehicleId\": \"1234\",", 400, "Malformed JSON"},
  {"not-an-object", "[1, 2, 3]", 400, "JSON object"},
  {"empty-body", "", 400, "JSON object"},
  /* one object only (json-glib 1.6 leaks what a second value holds) */
  {"two-values", "{\"vehicleId\": \"1234\"} {\"mediaType\": \"image\"}", 400,
      "data after the object"},
  {"value-then-object", "true {\"vehicleId\": \"1234\"}", 400, "JSON object"},
  {"member-without-comma", "{\"vehicleId\": \"1234\" \"mediaType\": \"image\"}",
      400, "Malformed JSON body: error at byte 21"},
  {"nul-escape", "{\"vehicleId\": \"12\\u000034\"}", 400, "Malformed JSON"},
  {"lone-surrogate", "{\"vehicleId\": \"\\ud800\"}", 400, "Malformed JSON"},
  {"too-deep",
        "{\"a\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
      400, "Malformed JSON"},
  {"vehicleId-missing",
        "{\"mediaType\": \"image\", " IMG_TIMES ", \"inputs\": [\"analog1\"]}",
      400, "vehicleId"},
  {"vehicleId-type",
      "{\"vehicleId\": 1234, \"mediaType\": \"image\", " IMG_TIMES
        ", \"inputs\": [\"analog1\"]}", 400, "vehicleId must be a string"},
  {"vehicleId-empty",
      "{\"vehicleId\": \"\", \"mediaType\": \"image\", " IMG_TIMES
        ", \"inputs\": [\"analog1\"]}", 400, "vehicleId must not be empty"},
  {"startTime-missing",
        "{\"vehicleId\": \"1234\", \"mediaType\": \"image\", "
        "\"endTime\": \"2019-06-13T19:08:25Z\", \"inputs\": [\"analog1\"]}",
      400, "startTime"},
  {"startTime-type",
        "{\"vehicleId\": \"1234\", \"mediaType\": \"image\", \"startTime\": 5, "
        "\"endTime\": \"2019-06-13T19:08:25Z\", \"inputs\": [\"analog1\"]}",
        400,
      "startTime must be a string"},
  {"startTime-unparseable",
      "{\"vehicleId\": \"1234\", \"mediaType\": \"image\", "
        "\"startTime\": \"yesterday\", \"endTime\": \"2019-06-13T19:08:25Z\", "
        "\"inputs\": [\"analog1\"]}", 400, "startTime: 'yesterday'"},
  {"startTime-no-offset",
      "{\"vehicleId\": \"1234\", \"mediaType\": \"image\", "
        "\"startTime\": \"2019-06-13T19:08:25\", \"endTime\": \"2019-06-13T19:08:25Z\", "
        "\"inputs\": [\"analog1\"]}", 400, "startTime"},
  {"endTime-missing",
        "{\"vehicleId\": \"1234\", \"mediaType\": \"image\", "
        "\"startTime\": \"2019-06-13T19:08:25Z\", \"inputs\": [\"analog1\"]}",
      400, "endTime"},
  {"endTime-unparseable",
      "{\"vehicleId\": \"1234\", \"mediaType\": \"image\", "
        "\"startTime\": \"2019-06-13T19:08:25Z\", \"endTime\": \"2019-13-13T19:08:25Z\", "
        "\"inputs\": [\"analog1\"]}", 400, "endTime: '2019-13-13T19:08:25Z'"},
  {"mediaType-missing",
        "{\"vehicleId\": \"1234\", " IMG_TIMES ", \"inputs\": [\"analog1\"]}",
      400, "mediaType"},
  {"mediaType-type",
      "{\"vehicleId\": \"1234\", \"mediaType\": [\"image\"], " IMG_TIMES
        ", \"inputs\": [\"analog1\"]}", 400, "mediaType must be a string"},
  {"mediaType-unknown",
      "{\"vehicleId\": \"1234\", \"mediaType\": \"gif\", " IMG_TIMES
        ", \"inputs\": [\"analog1\"]}", 400, "mediaType: 'gif'"},
  {"inputs-type",
      "{\"vehicleId\": \"1234\", \"mediaType\": \"image\", " IMG_TIMES
        ", \"inputs\": \"analog1\"}", 400, "inputs must be an array"},
  {"inputs-empty",
      "{\"vehicleId\": \"1234\", \"mediaType\": \"image\", " IMG_TIMES
        ", \"inputs\": []}", 400, "inputs must not be empty"},
  {"inputs-unknown",
        "{\"vehicleId\": \"1234\", \"mediaType\": \"image\", " IMG_TIMES
        ", \"inputs\": [\"analog1\", \"dashcamForwardFacing\"]}", 400,
      "inputs[1]: 'dashcamForwardFacing'"},
  {"inputs-element-type",
      "{\"vehicleId\": \"1234\", \"mediaType\": \"image\", " IMG_TIMES
        ", \"inputs\": [\"analog1\", 2]}", 400, "inputs[1] must be a string"},
  {"cameraRoles-unknown",
      "{\"vehicleId\": \"1234\", \"mediaType\": \"image\", " IMG_TIMES
        ", \"cameraRoles\": [\"roof\"]}", 400, "cameraRoles[0]: 'roof'"},
  {"cameraRoles-empty",
      "{\"vehicleId\": \"1234\", \"mediaType\": \"image\", " IMG_TIMES
        ", \"cameraRoles\": []}", 400, "cameraRoles must not be empty"},
  {"cameraRoles-type",
      "{\"vehicleId\": \"1234\", \"mediaType\": \"image\", " IMG_TIMES
        ", \"cameraRoles\": {\"a\": 1}}", 400, "cameraRoles must be an array"},
  {"inputs-and-roles-missing",
        "{\"vehicleId\": \"1234\", \"mediaType\": \"image\", " IMG_TIMES "}",
      400, "inputs or cameraRoles"},
  {"inputs-and-roles-both",
        "{\"vehicleId\": \"1234\", \"mediaType\": \"image\", " IMG_TIMES
        ", \"inputs\": [\"analog1\"], \"cameraRoles\": [\"rearHigh\"]}", 400,
      "inputs and cameraRoles"},
  {"image-end-differs",
      "{\"vehicleId\": \"1234\", \"mediaType\": \"image\", " OK_TIMES
        ", \"inputs\": [\"analog1\"]}", 400, "endTime must equal startTime"},
  {"video-too-short",
      "{\"vehicleId\": \"1234\", \"mediaType\": \"videoHighRes\", "
        "\"startTime\": \"2019-06-13T19:08:25Z\", \"endTime\": \"2019-06-13T19:08:25.999Z\", "
        "\"inputs\": [\"analog1\"]}", 400, "endTime must be at least 1 s"},
  {"video-end-before-start",
      "{\"vehicleId\": \"1234\", \"mediaType\": \"videoLowRes\", "
        "\"startTime\": \"2019-06-13T19:08:25Z\", \"endTime\": \"2019-06-13T19:08:20Z\", "
        "\"inputs\": [\"analog1\"]}", 400, "endTime"},
  {"videoHighRes-too-long",
        "{\"vehicleId\": \"1234\", \"mediaType\": \"videoHighRes\", "
        "\"startTime\": \"2019-06-13T19:08:25Z\", \"endTime\": \"2019-06-13T19:09:25.001Z\", "
        "\"inputs\": [\"analog1\"]}", 400,
      "endTime: a videoHighRes retrieval covers at most 60s"},
  {"videoLowRes-too-long",
        "{\"vehicleId\": \"1234\", \"mediaType\": \"videoLowRes\", "
        "\"startTime\": \"2019-06-13T19:00:00Z\", \"endTime\": \"2019-06-13T19:10:01Z\", "
        "\"inputs\": [\"analog1\"]}", 400,
      "endTime: a videoLowRes retrieval covers at most 600s"},
  {"hyperlapse-too-long",
        "{\"vehicleId\": \"1234\", \"mediaType\": \"hyperlapse\", "
        "\"startTime\": \"2019-06-13T19:00:00Z\", \"endTime\": \"2019-06-13T19:40:01Z\", "
        "\"inputs\": [\"analog1\"]}", 400,
      "endTime: a hyperlapse retrieval covers at most 2400s"},
  /* Times lookback cannot represent, and a range whose span overflows. */
  {"startTime-year-9999",
        "{\"vehicleId\": \"1234\", \"mediaType\": \"image\", "
        "\"startTime\": \"9999-12-31T23:59:59Z\", \"endTime\": \"9999-12-31T23:59:59Z\", "
        "\"inputs\": [\"analog1\"]}", 400,
      "startTime: '9999-12-31T23:59:59Z' is outside the times"},
  {"endTime-year-1677",
      "{\"vehicleId\": \"1234\", \"mediaType\": \"videoLowRes\", "
        "\"startTime\": \"1678-01-01T00:00:00Z\", \"endTime\": \"1677-12-31T23:59:59Z\", "
        "\"inputs\": [\"analog1\"]}", 400, "endTime: '1677-12-31T23:59:59Z'"},
  {"video-span-1678-to-2261",
        "{\"vehicleId\": \"1234\", \"mediaType\": \"videoHighRes\", "
        "\"startTime\": \"1678-01-01T00:00:00Z\", \"endTime\": \"2261-12-31T00:00:00Z\", "
        "\"inputs\": [\"analog1\"]}", 400,
      "endTime: a videoHighRes retrieval covers at most 60s"},
  /* Later than now (2026-11-15T12:00:00Z) + pending-deadline (10 min). */
  {"startTime-years-ahead",
      "{\"vehicleId\": \"1234\", \"mediaType\": \"image\", "
        "\"startTime\": \"2030-01-01T00:00:00Z\", \"endTime\": \"2030-01-01T00:00:00Z\", "
        "\"inputs\": [\"analog1\"]}", 400, "startTime: more than 600s after"},
  {"startTime-past-pending-deadline",
      "{\"vehicleId\": \"1234\", \"mediaType\": \"videoHighRes\", "
        "\"startTime\": \"2026-11-15T12:10:00.001Z\", \"endTime\": \"2026-11-15T12:10:30Z\", "
        "\"inputs\": [\"analog1\"]}", 400, "startTime: more than 600s after"},
  {"vehicle-unknown",
      "{\"vehicleId\": \"9999\", \"mediaType\": \"image\", " IMG_TIMES
        ", \"inputs\": [\"analog1\"]}", 404, "'9999'"},
  /* Accepted: the limits themselves, unknown fields, offsets. */
  {"videoHighRes-at-max",
      "{\"vehicleId\": \"1234\", \"mediaType\": \"videoHighRes\", "
        "\"startTime\": \"2019-06-13T19:08:25Z\", \"endTime\": \"2019-06-13T19:09:25Z\", "
        "\"inputs\": [\"analog1\"]}", 200, NULL},
  {"video-exactly-1s",
      "{\"vehicleId\": \"1234\", \"mediaType\": \"videoHighRes\", "
        "\"startTime\": \"2019-06-13T19:08:25.5Z\", \"endTime\": \"2019-06-13T19:08:26.5Z\", "
        "\"inputs\": [\"analog1\"]}", 200, NULL},
  {"videoLowRes-at-max",
      "{\"vehicleId\": \"1234\", \"mediaType\": \"videoLowRes\", "
        "\"startTime\": \"2019-06-13T19:00:00Z\", \"endTime\": \"2019-06-13T19:10:00Z\", "
        "\"inputs\": [\"analog1\"]}", 200, NULL},
  {"hyperlapse-at-max",
      "{\"vehicleId\": \"1234\", \"mediaType\": \"hyperlapse\", "
        "\"startTime\": \"2019-06-13T19:00:00Z\", \"endTime\": \"2019-06-13T19:40:00Z\", "
        "\"inputs\": [\"analog1\"]}", 200, NULL},
  {"startTime-at-pending-deadline",
      "{\"vehicleId\": \"1234\", \"mediaType\": \"videoHighRes\", "
        "\"startTime\": \"2026-11-15T12:10:00Z\", \"endTime\": \"2026-11-15T12:11:00Z\", "
        "\"inputs\": [\"analog1\"]}", 200, NULL},
  {"unknown-fields-ignored",
        "{\"vehicleId\": \"1234\", \"mediaType\": \"image\", " IMG_TIMES
        ", \"inputs\": [\"analog1\"], \"colour\": \"blue\", \"extra\": {\"x\": [1]}}",
      200, NULL},
  {"image-same-instant-other-offsets",
      "{\"vehicleId\": \"1234\", \"mediaType\": \"image\", "
        "\"startTime\": \"2015-09-15T14:00:12-04:00\", \"endTime\": \"2015-09-15T18:00:12Z\", "
        "\"inputs\": [\"analog1\"]}", 200, NULL},
};

static void
test_create_case (ApiFixture * f, gconstpointer data)
{
  const CreateCase *c = data;
  g_autoptr (ApiReply) r =
      api_request (f, "POST", "/cameras/media/retrieval", f->token, c->body);
  if (c->status == 200) {
    g_assert_cmpuint (r->status, ==, 200);
    g_assert_true (g_uuid_string_is_valid (api_json_string (r,
                "data.retrievalId")));
  } else {
    api_assert_error (r, c->status, c->needle);
  }
}

static void
test_create_ok (ApiFixture * f, gconstpointer data)
{
  g_autoptr (ApiReply) r = api_create (f, f->token, "1234", "videoHighRes",
      "2019-06-13T19:08:25Z", "2019-06-13T19:08:55Z",
      "[\"dashcamRoadFacing\"]");
  g_assert_cmpuint (r->status, ==, 200);
  g_assert_cmpstr (soup_message_headers_get_one (r->headers, "Content-Type"),
      ==, "application/json");
  const gchar *id = api_json_string (r, "data.retrievalId");
  g_assert_true (g_uuid_string_is_valid (id));
  const gchar *quota = api_json_string (r, "data.quotaStatus");
  g_assert_true (g_str_has_prefix (quota, "Current monthly usage is "));
  g_assert_true (g_str_has_suffix (quota,
          " seconds of high-res video out of 900000.0 available."));

  g_autofree gchar *path =
      g_strdup_printf ("/cameras/media/retrieval?retrievalId=%s", id);
  g_autoptr (ApiReply) g = api_request (f, "GET", path, f->token, NULL);
  g_assert_cmpuint (g->status, ==, 200);
  g_assert_cmpstr (api_json_string (g, "data.media.0.vehicleId"), ==, "1234");
  g_assert_cmpstr (api_json_string (g, "data.media.0.input"), ==,
      "dashcamRoadFacing");
  g_assert_cmpstr (api_json_string (g, "data.media.0.mediaType"), ==,
      "videoHighRes");
  g_assert_cmpstr (api_json_string (g, "data.media.0.status"), ==, "pending");
  g_assert_cmpstr (api_json_string (g, "data.media.0.startTime"), ==,
      "2019-06-13T19:08:25Z");
  g_assert_cmpstr (api_json_string (g, "data.media.0.endTime"), ==,
      "2019-06-13T19:08:55Z");
  g_assert_null (api_json_get (g, "data.media.0.urlInfo"));
  g_assert_null (api_json_get (g, "data.media.0.availableAtTime"));
  g_assert_null (api_json_get (g, "data.media.1"));
}

/* Configured limits replace the defaults. */
static void
test_create_limits_configurable (ApiFixture * f, gconstpointer data)
{
  g_autoptr (ApiReply) r = api_create (f, f->token, "1234", "videoHighRes",
      "2019-06-13T19:08:25Z", "2019-06-13T19:08:36Z", NULL);
  api_assert_error (r, 400, "at most 10s");
  g_autoptr (ApiReply) ok = api_create (f, f->token, "1234", "videoHighRes",
      "2019-06-13T19:08:25Z", "2019-06-13T19:08:35Z", NULL);
  g_assert_cmpuint (ok->status, ==, 200);
}

static ApiReply *
get_retrieval (ApiFixture * f, const gchar * token, ApiReply * created)
{
  const gchar *id = api_json_string (created, "data.retrievalId");
  g_assert_nonnull (id);
  g_autofree gchar *path =
      g_strdup_printf ("/cameras/media/retrieval?retrievalId=%s", id);
  return api_request (f, "GET", path, token, NULL);
}

/* An input the vehicle lacks is invalid; the others proceed. */
static void
test_create_input_missing_on_vehicle (ApiFixture * f, gconstpointer data)
{
  g_autoptr (ApiReply) r = api_create (f, f->token, "5678", "image",
      "2019-06-13T19:08:25Z", "2019-06-13T19:08:25Z",
      "[\"dashcamRoadFacing\", \"analog3\", \"dashcamRoadFacing\"]");
  g_assert_cmpuint (r->status, ==, 200);
  g_autoptr (ApiReply) g = get_retrieval (f, f->token, r);
  g_assert_cmpuint (g->status, ==, 200);
  g_assert_cmpstr (api_json_string (g, "data.media.0.input"), ==,
      "dashcamRoadFacing");
  g_assert_cmpstr (api_json_string (g, "data.media.0.status"), ==, "pending");
  g_assert_cmpstr (api_json_string (g, "data.media.1.input"), ==, "analog3");
  g_assert_cmpstr (api_json_string (g, "data.media.1.status"), ==, "invalid");
  g_assert_nonnull (strstr (api_json_string (g, "data.media.1.failureReason"),
          "analog3"));
  g_assert_null (api_json_get (g, "data.media.2"));     /* duplicates collapse */
}

/* cameraRoles resolve through the configured roles. */
static void
test_create_camera_roles (ApiFixture * f, gconstpointer data)
{
  g_autoptr (ApiReply) r =
      api_request (f, "POST", "/cameras/media/retrieval", f->token,
      "{\"vehicleId\": \"1234\", \"mediaType\": \"image\", " IMG_TIMES
      ", \"cameraRoles\": [\"rearHigh\", \"leftSide\", \"front\"]}");
  g_assert_cmpuint (r->status, ==, 200);
  g_autoptr (ApiReply) g = get_retrieval (f, f->token, r);
  g_assert_cmpstr (api_json_string (g, "data.media.0.cameraRole"), ==,
      "rearHigh");
  g_assert_cmpstr (api_json_string (g, "data.media.0.input"), ==, "analog1");
  g_assert_cmpstr (api_json_string (g, "data.media.0.status"), ==, "pending");
  g_assert_cmpstr (api_json_string (g, "data.media.1.cameraRole"), ==,
      "leftSide");
  g_assert_cmpstr (api_json_string (g, "data.media.1.input"), ==, "analog2");
  g_assert_cmpstr (api_json_string (g, "data.media.2.cameraRole"), ==, "front");
  g_assert_cmpstr (api_json_string (g, "data.media.2.status"), ==, "invalid");
  g_assert_null (api_json_get (g, "data.media.2.input"));
}

/* ------------------------------------------------------------------------- */
/* GET /cameras/media/retrieval and GET /cameras/media validation */

typedef struct
{
  const gchar *name;
  const gchar *path;
  guint status;
  const gchar *needle;
} GetCase;

#define LIST "/cameras/media?vehicleIds=1234&startTime=2019-06-13T00:00:00Z"

static const GetCase get_cases[] = {
  {"get-retrievalId-missing", "/cameras/media/retrieval", 400,
      "retrievalId is required"},
  {"get-retrievalId-empty", "/cameras/media/retrieval?retrievalId=", 400,
      "retrievalId"},
  {"get-retrievalId-not-uuid", "/cameras/media/retrieval?retrievalId=abc", 400,
      "retrievalId: 'abc'"},
  {"get-retrievalId-unknown",
        "/cameras/media/retrieval?retrievalId=2308cec4-82e0-46f1-8b3c-a3592e5cc21e",
        404,
      "2308cec4-82e0-46f1-8b3c-a3592e5cc21e"},
  {"list-vehicleIds-missing", "/cameras/media?startTime=2019-06-13T00:00:00Z"
        "&endTime=2019-06-13T01:00:00Z", 400, "vehicleIds is required"},
  {"list-vehicleIds-too-many",
        "/cameras/media?vehicleIds=1,2,3,4,5,6,7,8,9,10,11,12,13,14,"
        "15,16,17,18,19,20,21&startTime=2019-06-13T00:00:00Z&endTime=2019-06-13T01:00:00Z",
      400, "vehicleIds: at most 20"},
  {"list-startTime-missing",
        "/cameras/media?vehicleIds=1234&endTime=2019-06-13T01:00:00Z",
      400, "startTime is required"},
  {"list-startTime-unparseable", "/cameras/media?vehicleIds=1234&startTime=now"
        "&endTime=2019-06-13T01:00:00Z", 400, "startTime: 'now'"},
  {"list-endTime-missing", LIST, 400, "endTime is required"},
  {"list-endTime-unparseable", LIST "&endTime=2019-02-29T00:00:00Z", 400,
      "endTime: '2019-02-29T00:00:00Z'"},
  {"list-endTime-before-start", LIST "&endTime=2019-06-12T00:00:00Z", 400,
      "endTime is before startTime"},
  {"list-range-over-24h", LIST "&endTime=2019-06-14T00:00:00.001Z", 400,
      "endTime must be at most 24 hours"},
  {"list-window-1678-to-2261", "/cameras/media?vehicleIds=1234"
        "&startTime=1678-01-01T00:00:00Z&endTime=2261-12-31T00:00:00Z", 400,
      "endTime must be at most 24 hours"},
  {"list-endTime-year-9999", LIST "&endTime=9999-12-31T23:59:59Z", 400,
      "endTime: '9999-12-31T23:59:59Z' is outside the times"},
  {"list-availableAfterTime-year-1000", LIST "&endTime=2019-06-13T01:00:00Z"
        "&availableAfterTime=1000-01-01T00:00:00Z", 400,
      "availableAfterTime: '1000-01-01T00:00:00Z' is outside"},
  {"list-inputs-unknown", LIST "&endTime=2019-06-13T01:00:00Z&inputs=roof", 400,
      "inputs: 'roof'"},
  {"list-mediaTypes-unknown",
        LIST "&endTime=2019-06-13T01:00:00Z&mediaTypes=image" "&mediaTypes=gif",
      400, "mediaTypes: 'gif'"},
  {"list-triggerReasons-unknown",
        LIST "&endTime=2019-06-13T01:00:00Z&triggerReasons=whim",
      400, "triggerReasons: 'whim'"},
  {"list-availableAfterTime-unparseable", LIST "&endTime=2019-06-13T01:00:00Z"
        "&availableAfterTime=soon", 400, "availableAfterTime: 'soon'"},
  {"list-after-not-a-cursor", LIST "&endTime=2019-06-13T01:00:00Z&after=%2A%2A",
        400,
      "after: '**'"},
  {"list-ok-24h",
        LIST "&endTime=2019-06-14T00:00:00Z&inputs=dashcamForwardFacing"
        "&inputs=analog1&mediaTypes=image,videoHighRes&triggerReasons=api", 200,
      NULL},
};

static void
test_get_case (ApiFixture * f, gconstpointer data)
{
  const GetCase *c = data;
  g_autoptr (ApiReply) r = api_request (f, "GET", c->path, f->token, NULL);
  if (c->status == 200) {
    g_assert_cmpuint (r->status, ==, 200);
    g_assert_nonnull (api_json_get (r, "data.media"));
    g_assert_nonnull (api_json_get (r, "pagination.hasNextPage"));
  } else {
    api_assert_error (r, c->status, c->needle);
  }
}

/* ------------------------------------------------------------------------- */
/* Auth and the other status codes */

static void
test_auth_missing (ApiFixture * f, gconstpointer data)
{
  g_autoptr (ApiReply) a =
      api_create (f, NULL, "1234", "image", "2019-06-13T19:08:25Z",
      "2019-06-13T19:08:25Z", NULL);
  api_assert_error (a, 401, "bearer token");
  g_autoptr (ApiReply) b =
      api_request (f, "GET", LIST "&endTime=2019-06-13T01:00:00Z", NULL, NULL);
  api_assert_error (b, 401, NULL);
  const gchar *basic[] = { "Authorization", "Basic dXNlcjpwYXNz", NULL };
  g_autoptr (ApiReply) c = api_request_full (f, NULL, "GET",
      "/cameras/media/retrieval?retrievalId=2308cec4-82e0-46f1-8b3c-a3592e5cc21e",
      NULL, NULL, basic);
  api_assert_error (c, 401, NULL);
}

static void
test_auth_unknown (ApiFixture * f, gconstpointer data)
{
  g_autoptr (ApiReply) a = api_create (f, "lbt_0000", "1234", "image",
      "2019-06-13T19:08:25Z", "2019-06-13T19:08:25Z", NULL);
  api_assert_error (a, 401, "Unknown or revoked token");
}

static void
test_auth_scopes (ApiFixture * f, gconstpointer data)
{
  g_autofree gchar *reader = api_fixture_add_token (f, "acme", "media:read");
  g_autofree gchar *writer = api_fixture_add_token (f, "acme", "media:write");

  g_autoptr (ApiReply) a =
      api_create (f, reader, "1234", "image", "2019-06-13T19:08:25Z",
      "2019-06-13T19:08:25Z", NULL);
  api_assert_error (a, 403, "media:write");
  g_autoptr (ApiReply) b =
      api_create (f, writer, "1234", "image", "2019-06-13T19:08:25Z",
      "2019-06-13T19:08:25Z", NULL);
  g_assert_cmpuint (b->status, ==, 200);
  g_autoptr (ApiReply) c = get_retrieval (f, writer, b);
  api_assert_error (c, 403, "media:read");
  g_autoptr (ApiReply) d = get_retrieval (f, reader, b);
  g_assert_cmpuint (d->status, ==, 200);
  g_autoptr (ApiReply) e =
      api_request (f, "GET", LIST "&endTime=2019-06-13T01:00:00Z", writer,
      NULL);
  api_assert_error (e, 403, "media:read");
}

static void
test_unknown_path (ApiFixture * f, gconstpointer data)
{
  g_autoptr (ApiReply) r =
      api_request (f, "GET", "/cameras/media/retrievals", f->token, NULL);
  api_assert_error (r, 404, "/cameras/media/retrievals");
  g_autoptr (ApiReply) m = api_request (f, "GET", "/media/", NULL, NULL);
  api_assert_error (m, 404, NULL);
}

static void
test_method_not_allowed (ApiFixture * f, gconstpointer data)
{
  g_autoptr (ApiReply) r =
      api_request (f, "DELETE", "/cameras/media/retrieval", f->token, NULL);
  api_assert_error (r, 405, "DELETE");
  g_assert_cmpstr (soup_message_headers_get_one (r->headers, "Allow"), ==,
      "POST, GET, HEAD");
  g_autoptr (ApiReply) s =
      api_request (f, "POST", "/cameras/media", f->token, "{}");
  api_assert_error (s, 405, NULL);
  g_assert_cmpstr (soup_message_headers_get_one (s->headers, "Allow"), ==,
      "GET, HEAD");
  g_autoptr (ApiReply) t = api_request (f, "PUT", "/healthz", NULL, "{}");
  api_assert_error (t, 405, NULL);
}

static void
test_body_too_large (ApiFixture * f, gconstpointer data)
{
  /* default max-body is 64 KiB */
  GString *body = g_string_new ("{\"vehicleId\": \"1234\", \"pad\": \"");
  while (body->len < 70 * 1024)
    g_string_append (body,
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
  g_string_append (body, "\"}");
  g_autoptr (ApiReply) r =
      api_request (f, "POST", "/cameras/media/retrieval", f->token, body->str);
  api_assert_error (r, 413, "larger than 65536 bytes");
  g_string_free (body, TRUE);
}

/* A broken store answers 500 with a requestId, and no internals leak. */
static void
test_internal_error (ApiFixture * f, gconstpointer data)
{
  g_autoptr (ApiReply) created = api_create (f, f->token, "1234", "image",
      "2019-06-13T19:08:25Z", "2019-06-13T19:08:25Z", NULL);
  g_assert_cmpuint (created->status, ==, 200);
  sqlite3 *db;
  g_assert_cmpint (sqlite3_open (lb_store_get_path (f->store), &db), ==,
      SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db,
          "ALTER TABLE api_retrievals RENAME TO gone", NULL, NULL, NULL), ==,
      SQLITE_OK);
  sqlite3_close (db);
  g_autoptr (ApiReply) r = get_retrieval (f, f->token, created);
  api_assert_error (r, 500, api_json_string (r, "requestId"));
  g_assert_null (strstr (api_json_string (r, "message"), "api_retrievals"));
  /* and the health check says so, with 503 */
  g_autoptr (ApiReply) h = api_request (f, "GET", "/healthz", NULL, NULL);
  api_assert_error (h, 503, "store");
  g_assert_cmpstr (api_json_string (h, "status"), ==, "degraded");
}

/* ------------------------------------------------------------------------- */
/* RFC 3339: inputs with milliseconds and offsets, outputs in UTC. */

typedef struct
{
  const gchar *name;
  const gchar *start, *end;     /* request (video when they differ) */
  const gchar *want_start, *want_end;
} TimeCase;

static const TimeCase time_cases[] = {
  {"offset-minus-4", "2015-09-15T14:00:12-04:00", "2015-09-15T14:00:12-04:00",
      "2015-09-15T18:00:12Z", "2015-09-15T18:00:12Z"},
  {"offset-plus-530-ms", "2019-06-14T00:38:25.455+05:30",
        "2019-06-14T00:38:25.455+05:30",
      "2019-06-13T19:08:25.455Z", "2019-06-13T19:08:25.455Z"},
  {"zero-ms-dropped", "2019-06-13T19:08:25.000Z", "2019-06-13T19:08:25.000Z",
      "2019-06-13T19:08:25Z", "2019-06-13T19:08:25Z"},
  {"nanoseconds-to-ms", "2019-06-13T19:08:25.123456789Z",
        "2019-06-13T19:08:25.123456789Z",
      "2019-06-13T19:08:25.123Z", "2019-06-13T19:08:25.123Z"},
  {"leap-day", "2024-02-29T23:59:59.999Z", "2024-02-29T23:59:59.999Z",
      "2024-02-29T23:59:59.999Z", "2024-02-29T23:59:59.999Z"},
  {"across-leap-day", "2024-02-28T23:59:30Z", "2024-02-29T00:00:20Z",
      "2024-02-28T23:59:30Z", "2024-02-29T00:00:20Z"},
  {"month-end-offset", "2026-01-31T23:30:00-01:00", "2026-01-31T23:30:00-01:00",
      "2026-02-01T00:30:00Z", "2026-02-01T00:30:00Z"},
  {"year-end-offset", "2026-01-01T04:59:40+05:30", "2026-01-01T05:00:30+05:30",
      "2025-12-31T23:29:40Z", "2025-12-31T23:30:30Z"},
  {"lower-case", "2019-06-13t19:08:25.5z", "2019-06-13t19:08:25.5z",
      "2019-06-13T19:08:25.500Z", "2019-06-13T19:08:25.500Z"},
};

static void
test_time_case (ApiFixture * f, gconstpointer data)
{
  const TimeCase *c = data;
  gboolean image = g_str_equal (c->start, c->end);
  g_autoptr (ApiReply) r =
      api_create (f, f->token, "1234", image ? "image" : "videoHighRes",
      c->start, c->end, NULL);
  g_assert_cmpuint (r->status, ==, 200);
  g_autoptr (ApiReply) g = get_retrieval (f, f->token, r);
  g_assert_cmpstr (api_json_string (g, "data.media.0.startTime"), ==,
      c->want_start);
  g_assert_cmpstr (api_json_string (g, "data.media.0.endTime"), ==,
      c->want_end);
}

typedef struct
{
  const gchar *name;
  const gchar *text;
} BadTime;

static const BadTime bad_times[] = {
  {"not-leap-year", "2023-02-29T12:00:00Z"},
  {"april-31", "2026-04-31T12:00:00Z"},
  {"hour-24", "2026-04-30T24:00:00Z"},
  {"offset-bad", "2026-04-30T12:00:00+5:30"},
  {"no-seconds", "2026-04-30T12:00Z"},
  {"space-separator", "2026-04-30 12:00:00Z"},
};

static void
test_bad_time (ApiFixture * f, gconstpointer data)
{
  const BadTime *c = data;
  g_autoptr (ApiReply) r =
      api_create (f, f->token, "1234", "image", c->text, c->text, NULL);
  g_autofree gchar *needle = g_strdup_printf ("startTime: '%s'", c->text);
  api_assert_error (r, 400, needle);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (create_cases); i++) {
    g_autofree gchar *name =
        g_strdup_printf ("/api/create/%s", create_cases[i].name);
    g_test_add (name, ApiFixture, &create_cases[i], api_fixture_setup_default,
        test_create_case, api_fixture_teardown);
  }
  g_test_add ("/api/create/ok", ApiFixture, NULL, api_fixture_setup,
      test_create_ok, api_fixture_teardown);
  g_test_add ("/api/create/limits-configurable", ApiFixture,
      "[limits]\nvideo-high-res-max=10s\n", api_fixture_setup,
      test_create_limits_configurable, api_fixture_teardown);
  g_test_add ("/api/create/input-missing-on-vehicle", ApiFixture, NULL,
      api_fixture_setup, test_create_input_missing_on_vehicle,
      api_fixture_teardown);
  g_test_add ("/api/create/camera-roles", ApiFixture, NULL, api_fixture_setup,
      test_create_camera_roles, api_fixture_teardown);
  for (guint i = 0; i < G_N_ELEMENTS (get_cases); i++) {
    g_autofree gchar *name = g_strdup_printf ("/api/get/%s", get_cases[i].name);
    g_test_add (name, ApiFixture, &get_cases[i], api_fixture_setup_default,
        test_get_case, api_fixture_teardown);
  }
  g_test_add ("/api/status/401-missing", ApiFixture, NULL, api_fixture_setup,
      test_auth_missing, api_fixture_teardown);
  g_test_add ("/api/status/401-unknown", ApiFixture, NULL, api_fixture_setup,
      test_auth_unknown, api_fixture_teardown);
  g_test_add ("/api/status/403-scopes", ApiFixture, NULL, api_fixture_setup,
      test_auth_scopes, api_fixture_teardown);
  g_test_add ("/api/status/404-path", ApiFixture, NULL, api_fixture_setup,
      test_unknown_path, api_fixture_teardown);
  g_test_add ("/api/status/405-allow", ApiFixture, NULL, api_fixture_setup,
      test_method_not_allowed, api_fixture_teardown);
  g_test_add ("/api/status/413-body", ApiFixture, NULL, api_fixture_setup,
      test_body_too_large, api_fixture_teardown);
  g_test_add ("/api/status/500-503-store", ApiFixture, NULL, api_fixture_setup,
      test_internal_error, api_fixture_teardown);
  for (guint i = 0; i < G_N_ELEMENTS (time_cases); i++) {
    g_autofree gchar *name =
        g_strdup_printf ("/api/time/%s", time_cases[i].name);
    g_test_add (name, ApiFixture, &time_cases[i], api_fixture_setup_default,
        test_time_case, api_fixture_teardown);
  }
  for (guint i = 0; i < G_N_ELEMENTS (bad_times); i++) {
    g_autofree gchar *name =
        g_strdup_printf ("/api/time/bad/%s", bad_times[i].name);
    g_test_add (name, ApiFixture, &bad_times[i], api_fixture_setup_default,
        test_bad_time, api_fixture_teardown);
  }

  return g_test_run ();
}
