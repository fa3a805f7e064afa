/* Fuzz target: the query of GET /cameras/media and its cursor
 * (lb_api_list_parse, lb_api_cursor_decode, src/api/lb-api-parse.c)
 *
 * The bytes are a query string.  Either a list request that keeps the
 * contract comes out or LB_ERROR_INVALID; and as a cursor (the `after`
 * value), the bytes decode to a row id only if encoding that id gives a
 * cursor that decodes to it again.
 */
#include "api/lb-api-parse.h"
#include "core/lb-error.h"
#include "core/lb-time.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t * data, size_t size);

static void
check_cursor (const gchar * text)
{
  gint64 id = -1, again = -1;

  if (!lb_api_cursor_decode (text, &id))
    return;
  g_assert_cmpint (id, >=, 0);
  g_autofree gchar *encoded = lb_api_cursor_encode (id);
  g_assert_true (lb_api_cursor_decode (encoded, &again));
  g_assert_cmpint (again, ==, id);
}

static void
check_list (const gchar * query)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LbApiList) l = lb_api_list_parse (query, &error);

  if (l == NULL) {
    g_assert_error (error, LB_ERROR, LB_ERROR_INVALID);
    return;
  }
  g_assert_no_error (error);
  guint n = g_strv_length (l->vehicles);
  g_assert_cmpuint (n, >=, 1);
  g_assert_cmpuint (n, <=, 20);
  g_assert_cmpint (l->start_ns, >=, LB_TIME_MIN);
  g_assert_cmpint (l->start_ns, <=, l->end_ns);
  g_assert_cmpint (l->end_ns - l->start_ns, <=, 24 * 3600 * LB_NS_PER_SEC);
  g_assert_cmpint (l->after_id, >=, 0);
  for (guint i = 0; l->inputs[i]; i++)
    g_assert_cmpstr (lb_api_list_spelling (l->inputs[i]), !=, NULL);
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  g_autofree gchar *text = g_strndup ((const gchar *) data, size);

  check_cursor (text);
  check_list (text);
  return 0;
}
