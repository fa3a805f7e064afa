/* Fuzz target: the Range header of GET /media/{id}
 * (lb_api_range_parse, src/api/lb-api-parse.c)
 *
 * The first 8 bytes are the file's size (little-endian, its sign bit
 * dropped), the rest the header.  Only a well-formed single range is
 * honoured (anything else serves the whole file), and the part it asks for
 * lies inside the file, whatever the numbers.
 */
#include "api/lb-api-parse.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t * data, size_t size);

/* "bytes=" then a-b, a- or -b in digits: the only ranges honoured. */
static gboolean
well_formed (const gchar * header)
{
  return g_regex_match_simple ("^bytes=([0-9]+-[0-9]*|-[0-9]+)$", header,
      G_REGEX_DOLLAR_ENDONLY, 0);
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  guint64 raw = 0;

  if (size < sizeof raw)
    return 0;
  memcpy (&raw, data, sizeof raw);
  gint64 file_size = (gint64) (GUINT64_FROM_LE (raw) & G_MAXINT64);
  g_autofree gchar *header =
      g_strndup ((const gchar *) data + sizeof raw, size - sizeof raw);
  gint64 first = -1, last = -1;

  switch (lb_api_range_parse (header, file_size, &first, &last)) {
    case LB_API_RANGE_PART:
      g_assert_true (well_formed (header));
      g_assert_cmpint (first, >=, 0);
      g_assert_cmpint (first, <=, last);
      g_assert_cmpint (last, <, file_size);
      break;
    case LB_API_RANGE_UNSATISFIABLE:
      g_assert_true (well_formed (header));
      break;
    case LB_API_RANGE_ALL:
      break;
    default:
      g_assert_not_reached ();
  }
  return 0;
}
