/* lookback — time: RFC 3339 and durations ⇄ gint64 nanoseconds */
#include "core/lb-time.h"
#include "core/lb-error.h"

#include <string.h>

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil). */
static gint64
days_from_civil (gint64 y, gint m, gint d)
{
  y -= m <= 2;
  gint64 era = (y >= 0 ? y : y - 399) / 400;
  gint64 yoe = y - era * 400;
  gint64 doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  gint64 doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static void
civil_from_days (gint64 z, gint64 * y, gint * m, gint * d)
{
  z += 719468;
  gint64 era = (z >= 0 ? z : z - 146096) / 146097;
  gint64 doe = z - era * 146097;
  gint64 yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  gint64 doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  gint64 mp = (5 * doy + 2) / 153;
  *d = (gint) (doy - (153 * mp + 2) / 5 + 1);
  *m = (gint) (mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

static gboolean
read_digits (const gchar ** p, guint n, gint * out)
{
  gint v = 0;
  for (guint i = 0; i < n; i++) {
    if (!g_ascii_isdigit ((*p)[i]))
      return FALSE;
    v = v * 10 + ((*p)[i] - '0');
  }
  *p += n;
  *out = v;
  return TRUE;
}

static gboolean
expect (const gchar ** p, gchar c)
{
  if (**p != c)
    return FALSE;
  (*p)++;
  return TRUE;
}

/**
 * lb_time_parse_rfc3339:
 * @text: e.g. "2019-06-13T19:08:25Z", "2019-06-13T19:08:25.455Z",
 *   "2015-09-15T14:00:12-04:00"
 * @out_ns: (out): nanoseconds since the epoch, UTC
 *
 * Strict RFC 3339 date-time: the offset is required, fractional seconds may
 * have any number of digits (kept to the nanosecond), 'T'/'Z' may be lower
 * case.  Dates are checked against the calendar (leap years included), and
 * the instant against what lookback represents (LB_TIME_MIN to LB_TIME_MAX,
 * years 1678 to 2261).
 */
gboolean
lb_time_parse_rfc3339 (const gchar * text, gint64 * out_ns, GError ** error)
{
  g_return_val_if_fail (out_ns != NULL, FALSE);

  const gchar *p = text;
  gint year, month, day, hour, minute, second;
  gint64 frac_ns = 0;
  gint offset_s = 0;

  if (text == NULL)
    goto bad;
  if (!read_digits (&p, 4, &year) || !expect (&p, '-') ||
      !read_digits (&p, 2, &month) || !expect (&p, '-') ||
      !read_digits (&p, 2, &day))
    goto bad;
  if (*p != 'T' && *p != 't')
    goto bad;
  p++;
  if (!read_digits (&p, 2, &hour) || !expect (&p, ':') ||
      !read_digits (&p, 2, &minute) || !expect (&p, ':') ||
      !read_digits (&p, 2, &second))
    goto bad;
  if (*p == '.') {
    gint64 scale = 100000000;
    p++;
    if (!g_ascii_isdigit (*p))
      goto bad;
    while (g_ascii_isdigit (*p)) {
      frac_ns += (*p - '0') * scale;
      scale /= 10;
      p++;
    }
  }
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    gint sign = *p == '-' ? -1 : 1;
    gint oh, om;
    p++;
    if (!read_digits (&p, 2, &oh) || !expect (&p, ':') ||
        !read_digits (&p, 2, &om) || oh > 23 || om > 59)
      goto bad;
    offset_s = sign * (oh * 3600 + om * 60);
  } else {
    goto bad;
  }
  if (*p != '\0')
    goto bad;

  /* A year beyond the span is refused before the calendar is consulted
   * (GDate knows no year 0); offsets still move the edges by a day. */
  if (year < 1677 || year > 2262)
    goto out_of_range;
  if (month < 1 || month > 12 || day < 1 ||
      day > g_date_get_days_in_month (month, year) ||
      hour > 23 || minute > 59 || second > 59)
    goto bad;

  gint64 days = days_from_civil (year, month, day);
  gint64 secs = days * 86400 + hour * 3600 + minute * 60 + second - offset_s;
  /* Years are four digits: secs is far from overflowing, secs × 10⁹ not. */
  if (secs < LB_TIME_MIN / LB_NS_PER_SEC || secs > LB_TIME_MAX / LB_NS_PER_SEC)
    goto out_of_range;
  *out_ns = secs * LB_NS_PER_SEC + frac_ns;
  return TRUE;

out_of_range:
  g_set_error (error, LB_ERROR, LB_ERROR_INVALID,
      "'%s' is outside the times lookback can represent (years 1678 to 2261)",
      text);
  return FALSE;

bad:
  g_set_error (error, LB_ERROR, LB_ERROR_INVALID,
      "'%s' is not an RFC 3339 date-time (like 2019-06-13T19:08:25.455Z "
      "or 2015-09-15T14:00:12-04:00)", text ? text : "(null)");
  return FALSE;
}

/**
 * lb_time_format_rfc3339:
 *
 * Returns: UTC, with milliseconds only when they are not zero, e.g.
 *   "2019-06-13T19:08:25Z" or "2019-06-13T19:08:25.455Z".
 */
gchar *
lb_time_format_rfc3339 (gint64 ns)
{
  gint64 secs =
      ns >=
      0 ? ns / LB_NS_PER_SEC : -((-ns + LB_NS_PER_SEC - 1) / LB_NS_PER_SEC);
  gint64 rem_ns = ns - secs * LB_NS_PER_SEC;
  gint64 days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
  gint64 sod = secs - days * 86400;
  gint64 y;
  gint m, d;
  gint ms = (gint) (rem_ns / LB_NS_PER_MS);

  civil_from_days (days, &y, &m, &d);
  if (ms != 0)
    return g_strdup_printf ("%04" G_GINT64_FORMAT
        "-%02d-%02dT%02d:%02d:%02d.%03dZ", y, m, d, (gint) (sod / 3600),
        (gint) (sod / 60 % 60), (gint) (sod % 60), ms);
  return g_strdup_printf ("%04" G_GINT64_FORMAT "-%02d-%02dT%02d:%02d:%02dZ", y,
      m, d, (gint) (sod / 3600), (gint) (sod / 60 % 60), (gint) (sod % 60));
}

gint64
lb_time_diff (gint64 end_ns, gint64 start_ns)
{
  gint64 d;
  if (__builtin_sub_overflow (end_ns, start_ns, &d))
    return end_ns > start_ns ? G_MAXINT64 : -G_MAXINT64;
  return d;
}

static const struct
{
  const gchar *suffix;
  gint64 ns;
} duration_units[] = {
  {"ns", 1},
  {"us", 1000},
  {"ms", LB_NS_PER_MS},
  {"s", LB_NS_PER_SEC},
  {"min", 60 * LB_NS_PER_SEC},
  {"m", 60 * LB_NS_PER_SEC},
  {"h", 3600 * LB_NS_PER_SEC},
  {"d", 86400 * LB_NS_PER_SEC},
};

/**
 * lb_time_parse_duration:
 * @text: a non-negative number with a unit: "250ms", "1.5s", "10min", "8h",
 *   "30d".  A bare number is seconds.
 */
gboolean
lb_time_parse_duration (const gchar * text, gint64 * out_ns, GError ** error)
{
  g_return_val_if_fail (out_ns != NULL, FALSE);

  gchar *end = NULL;
  gdouble value;

  if (text == NULL || !(g_ascii_isdigit (text[0]) || text[0] == '.'))
    goto bad;
  value = g_ascii_strtod (text, &end);
  if (end == text || value < 0)
    goto bad;
  while (*end == ' ')
    end++;
  gdouble unit = *end == '\0' ? (gdouble) LB_NS_PER_SEC : 0;
  for (guint i = 0; unit == 0 && i < G_N_ELEMENTS (duration_units); i++)
    if (g_ascii_strcasecmp (end, duration_units[i].suffix) == 0)
      unit = (gdouble) duration_units[i].ns;
  gdouble ns = value * unit;
  /* a gint64 holds it, with room for sums (and NaN fails) */
  if (unit > 0 && ns <= (gdouble) G_MAXINT64 / 2) {
    *out_ns = (gint64) (ns + 0.5);
    return TRUE;
  }

bad:
  g_set_error (error, LB_ERROR, LB_ERROR_INVALID,
      "'%s' is not a duration (like 250ms, 1.5s, 10min, 8h or 30d)",
      text ? text : "(null)");
  return FALSE;
}

gchar *
lb_time_format_duration (gint64 ns)
{
  if (ns % LB_NS_PER_SEC == 0)
    return g_strdup_printf ("%" G_GINT64_FORMAT "s", ns / LB_NS_PER_SEC);
  return g_strdup_printf ("%.3fs", (gdouble) ns / LB_NS_PER_SEC);
}

gint64
lb_time_now (void)
{
  return g_get_real_time () * 1000;
}
