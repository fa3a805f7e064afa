/* lookback tests — AWS Signature Version 4: the encodings it is made of.
 *
 * Signatures and presigned URLs themselves are checked against an
 * independent implementation, the AWS SDK for JavaScript's signer
 * (tests/peers/sigv4-oracle.js, /upload/cloud/oracle), and by s3rver,
 * which refuses a request whose signature it does not compute too.
 */
#include "core/lb-sigv4.h"
#include "core/lb-time.h"


static void
test_uri_encode (void)
{
  g_autofree gchar *a = lb_sigv4_uri_encode ("a b/c~d+e*é", TRUE);
  g_assert_cmpstr (a, ==, "a%20b/c~d%2Be%2A%C3%A9");
  g_autofree gchar *b = lb_sigv4_uri_encode ("a/b", FALSE);
  g_assert_cmpstr (b, ==, "a%2Fb");
  g_autofree gchar *d = lb_sigv4_amz_date (1440938160 * LB_NS_PER_SEC);
  g_assert_cmpstr (d, ==, "20150830T123600Z");
}

/* The canonical request, written out by hand from the specification's
 * rules: the path normalised (not for S3) and encoded, the query sorted by
 * name with both sides encoded, header names in lower case and sorted,
 * values trimmed with inner runs of spaces made one, a name given twice
 * signed once with its values joined by ",", then the signed headers and
 * the payload hash. */
static void
test_canonical_request (void)
{
  const gchar *const query[] = { "b", "2 3", "a", "x/y", "uploads", "", NULL };
  const gchar *const headers[] = { "Host", "example.com",
    "X-Amz-Date", "20150830T123600Z", "My-Header", "  one   two  ",
    "my-header", "three", NULL
  };
  LbSigV4Request req = { "GET", "/a/./b/../c d/", query, headers,
    LB_SIGV4_EMPTY_SHA256, TRUE
  };
  g_autofree gchar *creq = lb_sigv4_canonical_request (&req);
  g_assert_cmpstr (creq, ==, "GET\n"
      "/a/c%20d/\n"
      "a=x%2Fy&b=2%203&uploads=\n"
      "host:example.com\n"
      "my-header:one two,three\n"
      "x-amz-date:20150830T123600Z\n"
      "\n" "host;my-header;x-amz-date\n" LB_SIGV4_EMPTY_SHA256);

  /* S3 signs the path as it is */
  req.normalize_path = FALSE;
  g_autofree gchar *s3 = lb_sigv4_canonical_request (&req);
  g_assert_true (g_str_has_prefix (s3, "GET\n/a/./b/../c%20d/\n"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/sigv4/uri-encode", test_uri_encode);
  g_test_add_func ("/sigv4/canonical-request", test_canonical_request);

  return g_test_run ();
}
