/* Fuzz target: RFC 3339 date-times (src/core/lb-time.c)
 *
 * Every request time reaches lb_time_parse_rfc3339() from a client.  The
 * input is taken as a string; a time that parses must print back (UTC, to
 * the millisecond) to a string that parses to the same instant, truncated to
 * the millisecond.
 */
#include "core/lb-time.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t * data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  g_autofree gchar *text = g_strndup ((const gchar *) data, size);
  g_autoptr (GError) error = NULL;
  gint64 ns = 0;

  if (!lb_time_parse_rfc3339 (text, &ns, &error)) {
    g_assert_nonnull (error);
    return 0;
  }
  g_assert_no_error (error);

  g_autofree gchar *printed = lb_time_format_rfc3339 (ns);
  gint64 again = 0;
  g_assert_true (lb_time_parse_rfc3339 (printed, &again, NULL));
  g_assert_cmpint (again, <=, ns);
  g_assert_cmpint (ns - again, <, LB_NS_PER_MS);
  return 0;
}
