/* The web console's routes: its static files (GET /, GET /console/{file})
 * and lookback's API extensions it reads, GET /cameras/media/coverage (what
 * was recorded when, per input) and GET /cameras/media/quota (the
 * organisation's quota), with their validation, paging and bounds.  The
 * console itself is driven in a browser by tests/console. */
#include "api-test.h"
#include "lb-test-common.h"

#include <string.h>

#define T API_TEST_START_NS
#define S(x) ((gint64) ((x) * LB_NS_PER_SEC))

/* Segments of 1234 @input: @n spans [a, b) in seconds from T. */
static void
add_footage (ApiFixture * f, const gchar * input, const gint64 (*spans)[2],
    guint n)
{
  g_autofree gint64 (*ns)[2] = g_malloc_n (n, sizeof *ns);

  for (guint i = 0; i < n; i++) {
    ns[i][0] = T + S (spans[i][0]);
    ns[i][1] = T + S (spans[i][1]);
  }
  lb_test_add_footage (f->store, "1234", input, 0, ns, n);
}

/* GET /cameras/media/coverage over [T + @from, T + @to] (seconds). */
static ApiReply *
get_coverage (ApiFixture * f, const gchar * token, gint64 from, gint64 to,
    const gchar * extra)
{
  g_autofree gchar *a = lb_time_format_rfc3339 (T + S (from));
  g_autofree gchar *b = lb_time_format_rfc3339 (T + S (to));
  g_autofree gchar *path =
      g_strdup_printf ("/cameras/media/coverage?startTime=%s&endTime=%s%s", a,
      b, extra ? extra : "");
  return api_request (f, "GET", path, token, NULL);
}

/* "startTime–endTime" of each range of @member ("…recorded"), joined by
 * ' ' and shortened to the time of day. */
static gchar *
ranges_text (ApiReply * r, const gchar * member)
{
  JsonArray *a = json_node_get_array (api_json_get (r, member));
  g_autoptr (GString) s = g_string_new (NULL);

  for (guint i = 0; i < json_array_get_length (a); i++) {
    JsonObject *o = json_array_get_object_element (a, i);
    g_string_append_printf (s, "%s%.8s-%.8s", i ? " " : "",
        json_object_get_string_member (o, "startTime") + 11,
        json_object_get_string_member (o, "endTime") + 11);
  }
  return g_string_free (g_steal_pointer (&s), FALSE);
}

static void
test_ranges (ApiFixture * f, gconstpointer data)
{
  const gint64 spans[][2] = { {0, 10}, {20, 30} };
  add_footage (f, "dashcamRoadFacing", spans, G_N_ELEMENTS (spans));

  g_autoptr (ApiReply) r = get_coverage (f, f->token, -10, 25, NULL);
  g_assert_cmpuint (r->status, ==, 200);
  /* every input of the box, in the configuration's order */
  JsonArray *all = json_node_get_array (api_json_get (r, "data.coverage"));
  g_assert_cmpuint (json_array_get_length (all), ==, 5);
  g_assert_cmpstr (api_json_string (r, "data.coverage.0.vehicleId"), ==,
      "1234");
  g_assert_cmpstr (api_json_string (r, "data.coverage.0.input"), ==,
      "dashcamRoadFacing");
  g_assert_cmpstr (api_json_string (r, "data.coverage.0.firstRecordedTime"),
      ==, "2026-11-15T12:00:00Z");
  /* the extent whatever the window */
  g_assert_cmpstr (api_json_string (r, "data.coverage.0.lastRecordedTime"),
      ==, "2026-11-15T12:00:30Z");
  g_autofree gchar *rec = ranges_text (r, "data.coverage.0.recorded");
  g_assert_cmpstr (rec, ==, "12:00:00-12:00:10 12:00:20-12:00:25");
  g_autofree gchar *gaps = ranges_text (r, "data.coverage.0.gaps");
  g_assert_cmpstr (gaps, ==, "11:59:50-12:00:00 12:00:10-12:00:20");
  g_assert_null (api_json_get (r, "data.coverage.0.gapsMergedUpToMs"));
  /* an input without footage: no extent, one gap over the window */
  g_assert_cmpstr (api_json_string (r, "data.coverage.2.input"), ==, "analog1");
  g_assert_cmpstr (api_json_string (r, "data.coverage.2.cameraRole"), ==,
      "rearHigh");
  g_assert_null (api_json_get (r, "data.coverage.2.firstRecordedTime"));
  g_autofree gchar *none = ranges_text (r, "data.coverage.2.recorded");
  g_assert_cmpstr (none, ==, "");
  g_assert_cmpstr (api_json_string (r, "data.coverage.4.vehicleId"), ==,
      "5678");
  g_assert_false (json_node_get_boolean (api_json_get (r,
              "pagination.hasNextPage")));

  /* vehicles and inputs asked for (the list endpoint's spelling too) */
  g_autoptr (ApiReply) one = get_coverage (f, f->token, -10, 25,
      "&vehicleIds=1234&inputs=dashcamForwardFacing,analog2");
  g_assert_cmpuint (one->status, ==, 200);
  all = json_node_get_array (api_json_get (one, "data.coverage"));
  g_assert_cmpuint (json_array_get_length (all), ==, 2);
  g_assert_cmpstr (api_json_string (one, "data.coverage.0.input"), ==,
      "dashcamRoadFacing");
  g_assert_cmpstr (api_json_string (one, "data.coverage.1.input"), ==,
      "analog2");
}

/* More inputs than a page: the rest through pagination.endCursor. */
static void
test_pages (ApiFixture * f, gconstpointer data)
{
  g_autoptr (ApiReply) first = get_coverage (f, f->token, 0, 60, NULL);
  g_assert_cmpuint (first->status, ==, 200);
  JsonArray *a = json_node_get_array (api_json_get (first, "data.coverage"));
  g_assert_cmpuint (json_array_get_length (a), ==, 8);
  g_assert_true (json_node_get_boolean (api_json_get (first,
              "pagination.hasNextPage")));
  const gchar *cursor = api_json_string (first, "pagination.endCursor");
  g_autofree gchar *after = g_strconcat ("&after=", cursor, NULL);
  g_autoptr (ApiReply) second = get_coverage (f, f->token, 0, 60, after);
  g_assert_cmpuint (second->status, ==, 200);
  a = json_node_get_array (api_json_get (second, "data.coverage"));
  /* 5 inputs of the fixture and 6 of extra vehicles */
  g_assert_cmpuint (json_array_get_length (a), ==, 3);
  g_assert_cmpstr (api_json_string (second, "data.coverage.2.vehicleId"), ==,
      "9002");
  g_assert_false (json_node_get_boolean (api_json_get (second,
              "pagination.hasNextPage")));
  g_assert_cmpstr (api_json_string (second, "pagination.endCursor"), ==, "");
}

/* More recorded ranges than an answer holds: the shortest spaces merged. */
static void
test_merged (ApiFixture * f, gconstpointer data)
{
  /* three more than an answer holds (MAX_RANGES, lb-api-coverage.c) */
  gint64 spans[1003][2];
  const guint n = G_N_ELEMENTS (spans);
  gint64 t = 0;

  /* 1 s of footage every 2 s, but three spaces of 5 s: the spaces of 1 s
   * are merged over */
  for (guint i = 0; i < n; i++) {
    spans[i][0] = t;
    spans[i][1] = t + 1;
    t += (i == 100 || i == 200 || i == 300) ? 6 : 2;
  }
  add_footage (f, "analog1", spans, n);
  g_autoptr (ApiReply) r = get_coverage (f, f->token, 0, t,
      "&vehicleIds=1234&inputs=analog1");
  g_assert_cmpuint (r->status, ==, 200);
  g_autofree gchar *rec = ranges_text (r, "data.coverage.0.recorded");
  g_assert_cmpstr (rec, ==, "12:00:00-12:03:21 12:03:26-12:06:45 "
      "12:06:50-12:10:09 12:10:14-12:33:37");
  g_autofree gchar *gaps = ranges_text (r, "data.coverage.0.gaps");
  g_assert_cmpstr (gaps, ==, "12:03:21-12:03:26 12:06:45-12:06:50 "
      "12:10:09-12:10:14 12:33:37-12:33:38");
  g_assert_cmpfloat (json_node_get_double (api_json_get (r,
              "data.coverage.0.gapsMergedUpToMs")), ==, 1000.0);
}

static void
test_refused (ApiFixture * f, gconstpointer data)
{
  g_autofree gchar *write_only = api_fixture_add_token (f, "acme",
      "media:write");
  g_autoptr (ApiReply) no_token = get_coverage (f, NULL, 0, 10, NULL);
  g_autoptr (ApiReply) no_scope = get_coverage (f, write_only, 0, 10, NULL);
  g_autoptr (ApiReply) week = get_coverage (f, f->token, 0,
      7 * 24 * 3600 + 1, NULL);
  g_autoptr (ApiReply) reversed = get_coverage (f, f->token, 10, 0, NULL);
  g_autoptr (ApiReply) unknown = get_coverage (f, f->token, 0, 10,
      "&vehicleIds=1234,4321");
  g_autoptr (ApiReply) input = get_coverage (f, f->token, 0, 10,
      "&inputs=analog9");
  g_autoptr (ApiReply) cursor = get_coverage (f, f->token, 0, 10,
      "&after=nope");
  g_autoptr (ApiReply) no_end = api_request (f, "GET",
      "/cameras/media/coverage?startTime=2026-11-15T12:00:00Z", f->token, NULL);
  g_autoptr (ApiReply) quota = api_request (f, "GET", "/cameras/media/quota",
      NULL, NULL);

  api_assert_error (no_token, 401, NULL);
  api_assert_error (no_scope, 403, NULL);
  api_assert_error (week, 400, "at most 7 days after startTime");
  api_assert_error (reversed, 400, "endTime is before startTime");
  api_assert_error (unknown, 404, "no vehicle '4321'");
  api_assert_error (input, 400, "inputs");
  api_assert_error (cursor, 400, "after");
  api_assert_error (no_end, 400, "endTime");
  api_assert_error (quota, 401, NULL);
  /* the window's bound itself is allowed */
  g_autoptr (ApiReply) full_week = get_coverage (f, f->token, 0,
      7 * 24 * 3600, "&vehicleIds=5678");
  g_assert_cmpuint (full_week->status, ==, 200);
}

static void
test_quota (ApiFixture * f, gconstpointer data)
{
  g_autoptr (ApiReply) before = api_request (f, "GET",
      "/cameras/media/quota", f->token, NULL);
  g_assert_cmpuint (before->status, ==, 200);
  g_assert_cmpstr (api_json_string (before, "data.organization"), ==, "acme");
  g_assert_cmpstr (api_json_string (before, "data.period"), ==, "2026-11");
  g_assert_cmpstr (api_json_string (before, "data.periodEndTime"), ==,
      "2026-12-01T00:00:00Z");
  g_assert_cmpfloat (json_node_get_double (api_json_get (before,
              "data.allowanceSeconds")), ==, 600.0);
  g_assert_cmpfloat (json_node_get_double (api_json_get (before,
              "data.usedSeconds")), ==, 0.0);
  g_assert_cmpfloat (json_node_get_double (api_json_get (before,
              "data.reservedSeconds")), ==, 0.0);
  g_assert_cmpstr (api_json_string (before, "data.quotaStatus"), ==,
      "Current monthly usage is 0.0 seconds of high-res video out of "
      "600.0 available.");

  /* a pending high-res clip of 30 s holds 30 s of it */
  g_autoptr (ApiReply) c = api_create (f, f->token, "1234", "videoHighRes",
      "2026-11-15T11:50:00Z", "2026-11-15T11:50:30Z",
      "[\"dashcamRoadFacing\"]");
  g_assert_cmpuint (c->status, ==, 200);
  g_autoptr (ApiReply) after = api_request (f, "GET",
      "/cameras/media/quota", f->token, NULL);
  g_assert_cmpfloat (json_node_get_double (api_json_get (after,
              "data.usedSeconds")) + json_node_get_double (api_json_get (after,
              "data.reservedSeconds")), ==, 30.0);
  /* another organisation's quota is its own */
  g_autofree gchar *other = api_fixture_add_token (f, "globex", "media:read");
  g_autoptr (ApiReply) theirs = api_request (f, "GET",
      "/cameras/media/quota", other, NULL);
  g_assert_cmpstr (api_json_string (theirs, "data.organization"), ==, "globex");
  g_assert_cmpfloat (json_node_get_double (api_json_get (theirs,
              "data.reservedSeconds")), ==, 0.0);
}

/* GET @path: 200 with @type, the console's security headers, and a body
 * holding @needle. */
static void
assert_file (ApiFixture * f, const gchar * path, const gchar * type,
    const gchar * needle)
{
  g_autoptr (ApiReply) r = api_request (f, "GET", path, NULL, NULL);
  gsize len = 0;
  const gchar *body = g_bytes_get_data (r->body, &len);

  g_assert_cmpuint (r->status, ==, 200);
  g_assert_cmpstr (soup_message_headers_get_one (r->headers, "Content-Type"),
      ==, type);
  g_assert_nonnull (g_strstr_len (body, len, needle));
  g_assert_nonnull (strstr (soup_message_headers_get_one (r->headers,
              "Content-Security-Policy"), "script-src 'self';"));
  g_assert_cmpstr (soup_message_headers_get_one (r->headers,
          "X-Frame-Options"), ==, "DENY");
  g_assert_cmpstr (soup_message_headers_get_one (r->headers,
          "X-Content-Type-Options"), ==, "nosniff");
}

static void
test_files (ApiFixture * f, gconstpointer data)
{
  assert_file (f, "/", "text/html; charset=utf-8",
      "<script src=\"/console/console.js\" defer></script>");
  assert_file (f, "/console/index.html", "text/html; charset=utf-8",
      "<title>lookback</title>");
  assert_file (f, "/console/console.js", "text/javascript; charset=utf-8",
      "'use strict';");
  assert_file (f, "/console/console.css", "text/css; charset=utf-8",
      "#timeline {");
  assert_file (f, "/console/icon.svg", "image/svg+xml", "<svg");

  /* nothing else: not the resource's other names, no path tricks */
  const gchar *missing[] = { "/console/", "/console/nope.js",
    "/console/lb-console.gresource.xml", "/console/..openapi.json",
    "/console/a.b.js", "/console/console.js.map", "/index.html",
  };
  for (guint i = 0; i < G_N_ELEMENTS (missing); i++) {
    g_autoptr (ApiReply) r = api_request (f, "GET", missing[i], NULL, NULL);
    g_test_message ("%s", missing[i]);
    api_assert_error (r, 404, NULL);
  }
  /* an encoded slash: libsoup refuses it before any route */
  g_autoptr (ApiReply) slash = api_request (f, "GET",
      "/console/..%2Fopenapi.json", NULL, NULL);
  g_assert_cmpuint (slash->status, ==, 400);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/api/console/files", ApiFixture, NULL, api_fixture_setup,
      test_files, api_fixture_teardown);
  g_test_add ("/api/coverage/ranges", ApiFixture, NULL, api_fixture_setup,
      test_ranges, api_fixture_teardown);
  g_test_add ("/api/coverage/pages", ApiFixture,
      "[input 9000 analog1]\nsource=videotestsrc\n"
      "[input 9001 analog1]\nsource=videotestsrc\n"
      "[input 9001 analog2]\nsource=videotestsrc\n"
      "[input 9002 analog1]\nsource=videotestsrc\n"
      "[input 9002 analog2]\nsource=videotestsrc\n"
      "[input 9002 analog3]\nsource=videotestsrc\n",
      api_fixture_setup, test_pages, api_fixture_teardown);
  g_test_add ("/api/coverage/merged", ApiFixture, NULL, api_fixture_setup,
      test_merged, api_fixture_teardown);
  g_test_add ("/api/coverage/refused", ApiFixture,
      "[api]\nreads-per-second=1000\n", api_fixture_setup, test_refused,
      api_fixture_teardown);
  g_test_add ("/api/quota", ApiFixture, "[quota]\nallowance=600\n",
      api_fixture_setup, test_quota, api_fixture_teardown);
  return g_test_run ();
}
