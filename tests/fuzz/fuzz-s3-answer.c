/* Fuzz target: S3 XML answers (src/upload/lb-upload-s3.c)
 *
 * What an S3 endpoint answers (CreateMultipartUpload, ListParts,
 * CompleteMultipartUpload, errors) reaches lb_s3_answer_parse().  An answer
 * that parses has a root element; every part kept has a number in 1..10000
 * and an ETag; no more than 10 000 parts are kept.
 */
#include "upload/lb-upload-private.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t * data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  g_auto (LbS3Answer) a = { 0 };
  g_autoptr (GError) error = NULL;

  if (!lb_s3_answer_parse ((const gchar *) data, size, &a, &error)) {
    g_assert_nonnull (error);
    return 0;
  }
  g_assert_nonnull (a.root);
  g_assert_nonnull (a.parts);
  g_assert_cmpuint (a.parts->len, <=, 10000);
  for (guint i = 0; i < a.parts->len; i++) {
    LbUploadPart *p = &g_array_index (a.parts, LbUploadPart, i);
    g_assert_cmpint (p->number, >=, 1);
    g_assert_cmpint (p->number, <=, 10000);
    g_assert_nonnull (p->etag);
    g_assert_cmpint (p->size, >=, 0);
  }
  g_assert_cmpint (a.next_marker, >=, 0);
  return 0;
}
