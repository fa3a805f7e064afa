/* Unit tests: RFC 3339 and durations */
#include "core/lb-error.h"
#include "core/lb-time.h"

#include <string.h>

static gint64
parse_ok (const gchar * text)
{
  g_autoptr (GError) error = NULL;
  gint64 ns = 0;
  g_assert_true (lb_time_parse_rfc3339 (text, &ns, &error));
  g_assert_no_error (error);
  return ns;
}

static void
test_parse_basic (void)
{
  /* date -u -d 2019-06-13T19:08:25Z +%s → 1560452905 */
  g_assert_cmpint (parse_ok ("2019-06-13T19:08:25Z"), ==,
      1560452905 * LB_NS_PER_SEC);
  g_assert_cmpint (parse_ok ("2019-06-13T19:08:25.455Z"), ==,
      1560452905 * LB_NS_PER_SEC + 455 * LB_NS_PER_MS);
  g_assert_cmpint (parse_ok ("1970-01-01T00:00:00Z"), ==, 0);
  g_assert_cmpint (parse_ok ("2019-06-13t19:08:25.000000001z"), ==,
      1560452905 * LB_NS_PER_SEC + 1);
}

static void
test_parse_offsets (void)
{
  /* 2015-09-15T14:00:12-04:00 is 18:00:12Z */
  g_assert_cmpint (parse_ok ("2015-09-15T14:00:12-04:00"), ==,
      parse_ok ("2015-09-15T18:00:12Z"));
  g_assert_cmpint (parse_ok ("2015-09-15T23:30:12+05:30"), ==,
      parse_ok ("2015-09-15T18:00:12Z"));
  g_assert_cmpint (parse_ok ("2015-09-15T18:00:12.5+00:00"), ==,
      parse_ok ("2015-09-15T18:00:12.500Z"));
}

static void
test_parse_calendar (void)
{
  g_assert_cmpint (parse_ok ("2024-02-29T12:00:00Z") + 86400 * LB_NS_PER_SEC,
      ==, parse_ok ("2024-03-01T12:00:00Z"));
  g_assert_cmpint (parse_ok ("2023-12-31T23:59:59Z") + LB_NS_PER_SEC, ==,
      parse_ok ("2024-01-01T00:00:00Z"));
  g_assert_cmpint (parse_ok ("2000-02-29T00:00:00Z"), ==,
      951782400 * LB_NS_PER_SEC);
}

static void
test_parse_bad (void)
{
  const gchar *bad[] = {
    "", "2019-06-13", "2019-06-13T19:08:25", "2019-06-13 19:08:25Z",
    "2019-13-01T00:00:00Z", "2023-02-29T00:00:00Z", "2100-02-29T00:00:00Z",
    "2019-06-31T00:00:00Z", "2019-06-13T24:00:00Z", "2019-06-13T19:60:00Z",
    "2019-06-13T19:08:61Z", "2019-06-13T19:08:25.Z", "2019-06-13T19:08:25+5:30",
    "2019-06-13T19:08:25Zjunk", "19-06-13T19:08:25Z",
    "2019-06-13T19:08:25+24:00",
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) error = NULL;
    gint64 ns;
    g_assert_false (lb_time_parse_rfc3339 (bad[i], &ns, &error));
    g_assert_error (error, LB_ERROR, LB_ERROR_INVALID);
  }
}

/* Outside years 1678 to 2261 a time is refused, never wrapped around. */
static void
test_parse_span (void)
{
  const gchar *outside[] = {
    "9999-12-31T23:59:59Z", "0000-01-01T00:00:00Z", "1677-12-31T23:59:59.999Z",
    "2262-01-01T00:00:00Z", "2262-04-11T23:47:16Z", "1678-01-01T00:30:00+01:00",
    "2261-12-31T23:30:00-01:00",
  };
  for (guint i = 0; i < G_N_ELEMENTS (outside); i++) {
    g_autoptr (GError) error = NULL;
    gint64 ns;
    g_assert_false (lb_time_parse_rfc3339 (outside[i], &ns, &error));
    g_assert_error (error, LB_ERROR, LB_ERROR_INVALID);
    g_assert_nonnull (strstr (error->message, "1678 to 2261"));
  }
  g_assert_cmpint (parse_ok ("1678-01-01T00:00:00Z"), ==, LB_TIME_MIN);
  g_assert_cmpint (parse_ok ("1678-01-01T01:00:00+01:00"), ==, LB_TIME_MIN);
  g_assert_cmpint (parse_ok ("2262-01-01T00:30:00+01:00"), ==,
      parse_ok ("2261-12-31T23:30:00Z"));
  g_assert_cmpint (parse_ok ("2261-12-31T23:59:59.999999999Z"), ==,
      LB_TIME_MAX);
  g_autofree gchar *min = lb_time_format_rfc3339 (LB_TIME_MIN);
  g_assert_cmpstr (min, ==, "1678-01-01T00:00:00Z");
  g_autofree gchar *max = lb_time_format_rfc3339 (LB_TIME_MAX);
  g_assert_cmpstr (max, ==, "2261-12-31T23:59:59.999Z");
}

/* Differences of far-apart times saturate instead of wrapping. */
static void
test_diff (void)
{
  g_assert_cmpint (lb_time_diff (LB_TIME_MAX, LB_TIME_MIN), ==, G_MAXINT64);
  g_assert_cmpint (lb_time_diff (LB_TIME_MIN, LB_TIME_MAX), ==, -G_MAXINT64);
  g_assert_cmpint (lb_time_diff (5, 7), ==, -2);
  g_assert_cmpint (lb_time_diff (LB_TIME_MAX, 0), ==, LB_TIME_MAX);
}

static void
test_format (void)
{
  g_autofree gchar *a =
      lb_time_format_rfc3339 (parse_ok ("2019-06-13T19:08:25Z"));
  g_autofree gchar *b =
      lb_time_format_rfc3339 (parse_ok ("2019-06-13T19:08:25.455Z"));
  g_autofree gchar *c =
      lb_time_format_rfc3339 (parse_ok ("2015-09-15T14:00:12-04:00"));
  g_autofree gchar *d =
      lb_time_format_rfc3339 (parse_ok ("2024-02-29T23:59:59.999999Z"));
  g_autofree gchar *e = lb_time_format_rfc3339 (-1);
  g_assert_cmpstr (a, ==, "2019-06-13T19:08:25Z");
  g_assert_cmpstr (b, ==, "2019-06-13T19:08:25.455Z");
  g_assert_cmpstr (c, ==, "2015-09-15T18:00:12Z");
  g_assert_cmpstr (d, ==, "2024-02-29T23:59:59.999Z");
  g_assert_cmpstr (e, ==, "1969-12-31T23:59:59.999Z");
}

static void
test_round_trip (void)
{
  /* Every millisecond-aligned time survives format → parse. */
  GRand *rand = g_rand_new_with_seed (42);
  for (guint i = 0; i < 10000; i++) {
    gint64 ns = (gint64) g_rand_double_range (rand, -2e9, 7e9) * LB_NS_PER_SEC
        + g_rand_int_range (rand, 0, 1000) * LB_NS_PER_MS;
    g_autofree gchar *s = lb_time_format_rfc3339 (ns);
    g_assert_cmpint (parse_ok (s), ==, ns);
  }
  g_rand_free (rand);
}

static void
test_duration (void)
{
  gint64 ns;
  g_assert_true (lb_time_parse_duration ("250ms", &ns, NULL));
  g_assert_cmpint (ns, ==, 250 * LB_NS_PER_MS);
  g_assert_true (lb_time_parse_duration ("1.5s", &ns, NULL));
  g_assert_cmpint (ns, ==, 1500 * LB_NS_PER_MS);
  g_assert_true (lb_time_parse_duration ("10min", &ns, NULL));
  g_assert_cmpint (ns, ==, 600 * LB_NS_PER_SEC);
  g_assert_true (lb_time_parse_duration ("8h", &ns, NULL));
  g_assert_cmpint (ns, ==, 8 * 3600 * LB_NS_PER_SEC);
  g_assert_true (lb_time_parse_duration ("30d", &ns, NULL));
  g_assert_cmpint (ns, ==, 30 * 86400 * LB_NS_PER_SEC);
  g_assert_true (lb_time_parse_duration ("7", &ns, NULL));
  g_assert_cmpint (ns, ==, 7 * LB_NS_PER_SEC);
  g_assert_false (lb_time_parse_duration ("-1s", &ns, NULL));
  g_assert_false (lb_time_parse_duration ("ten", &ns, NULL));
  g_assert_false (lb_time_parse_duration ("5 parsecs", &ns, NULL));
  /* beyond a gint64 (a bare number is seconds): refused, never cast */
  g_assert_false (lb_time_parse_duration ("1e30", &ns, NULL));
  g_assert_false (lb_time_parse_duration ("1e999d", &ns, NULL));
}

static void
test_manual_clock (void)
{
  g_autoptr (LbClock) clock = lb_clock_new_manual (1000);
  g_assert_cmpint (lb_clock_now (clock), ==, 1000);
  lb_clock_advance (clock, 500);
  g_assert_cmpint (lb_clock_now (clock), ==, 1500);
  lb_clock_set (clock, 7);
  g_assert_cmpint (lb_clock_now (clock), ==, 7);
  gint64 real = lb_clock_now (NULL);
  g_assert_cmpint (real, >, parse_ok ("2020-01-01T00:00:00Z"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/time/parse/basic", test_parse_basic);
  g_test_add_func ("/time/parse/offsets", test_parse_offsets);
  g_test_add_func ("/time/parse/calendar", test_parse_calendar);
  g_test_add_func ("/time/parse/bad", test_parse_bad);
  g_test_add_func ("/time/parse/span", test_parse_span);
  g_test_add_func ("/time/diff", test_diff);
  g_test_add_func ("/time/format", test_format);
  g_test_add_func ("/time/round-trip", test_round_trip);
  g_test_add_func ("/time/duration", test_duration);
  g_test_add_func ("/time/clock", test_manual_clock);
  return g_test_run ();
}
