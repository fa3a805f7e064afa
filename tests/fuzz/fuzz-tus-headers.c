/* Fuzz target: tus headers (src/upload/lb-upload-tus.c)
 *
 * A tus server's Upload-Offset, Tus-Extension and Tus-Checksum-Algorithm
 * reach lb_tus_parse_offset() and lb_tus_pick_checksum().  The input is
 * split at its first newline: before it the offset (and the extension
 * list), after it the algorithm list.  An offset that parses is a
 * non-negative decimal that prints back the same (without leading zeros);
 * the algorithm picked is one lookback can compute, and offered.
 */
#include "upload/lb-upload-private.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t * data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  g_autofree gchar *text = g_strndup ((const gchar *) data, size);
  gchar *nl = strchr (text, '\n');
  const gchar *second = "";
  if (nl) {
    *nl = '\0';
    second = nl + 1;
  }
  gint64 off = -1;
  if (lb_tus_parse_offset (text, &off)) {
    g_assert_cmpint (off, >=, 0);
    g_autofree gchar *back = g_strdup_printf ("%" G_GINT64_FORMAT, off);
    const gchar *digits = text;
    while (digits[0] == '0' && digits[1])
      digits++;
    g_assert_cmpstr (back, ==, digits);
  }
  const gchar *algo = lb_tus_pick_checksum (text, second);
  if (algo) {
    g_assert_true (g_str_equal (algo, "sha256") || g_str_equal (algo, "sha1"));
    g_autofree gchar *ext = g_ascii_strdown (text, -1);
    g_autofree gchar *algos = g_ascii_strdown (second, -1);
    g_assert_nonnull (strstr (ext, "checksum"));
    g_assert_nonnull (strstr (algos, algo));
  }
  return 0;
}
