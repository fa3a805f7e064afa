/* lookback — AWS Signature Version 4 (header and query signing)
 *
 * Written against AWS's specification ("Create a signed AWS API request",
 * "Authenticating requests: using query parameters"); checked against the
 * AWS SDK for JavaScript's signer in the upload tests, and by s3rver.
 *
 * A request is given decoded: the path as the object key reads ("/bucket/a
 * b.mp4"), query names and values as they mean.  The functions encode them
 * the way SigV4 asks (RFC 3986 unreserved characters kept, everything else
 * %XX in upper case); the caller puts the same encoded path and query on the
 * wire (lb_sigv4_uri_encode()).  Pure functions: no I/O, no clock.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define LB_SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
/* hex SHA-256 of nothing */
#define LB_SIGV4_EMPTY_SHA256 \
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/**
 * LbSigV4Key:
 * Who signs, and for what scope.  @session_token (temporary credentials) may
 * be NULL.
 */
typedef struct {
  const gchar *access_key_id;
  const gchar *secret_access_key;
  const gchar *session_token;
  const gchar *region;          /* "eu-west-1" */
  const gchar *service;         /* "s3" */
} LbSigV4Key;

/**
 * LbSigV4Request:
 * @method: "GET", "PUT", …
 * @path: the decoded absolute path ("/" at least)
 * @query: (nullable): decoded name, value pairs, NULL-terminated (a value
 *   is "" when the parameter has none: "?uploads")
 * @headers: name, value pairs to sign, NULL-terminated; host must be one of
 *   them, and x-amz-date (and x-amz-security-token) when signing headers.
 *   A name given twice is signed as one header with the values joined by
 *   ",", in the order given.
 * @payload_hash: hex SHA-256 of the body, or LB_SIGV4_UNSIGNED_PAYLOAD
 * @normalize_path: remove "." and ".." segments and empty segments (every
 *   service but S3); S3 signs the path as it is
 */
typedef struct {
  const gchar *method;
  const gchar *path;
  const gchar *const *query;
  const gchar *const *headers;
  const gchar *payload_hash;
  gboolean normalize_path;
} LbSigV4Request;

/* "20150830T123600Z" for @time_ns (UTC). */
gchar    *lb_sigv4_amz_date        (gint64 time_ns);

/* @s percent-encoded as SigV4 wants: unreserved characters (A-Z a-z 0-9 - .
 * _ ~) as they are, '/' kept when @keep_slash, every other byte %XX. */
gchar    *lb_sigv4_uri_encode      (const gchar *s,
                                    gboolean     keep_slash);

/* The canonical request of @req (the first step of signing). */
gchar    *lb_sigv4_canonical_request (const LbSigV4Request *req);

/* The string to sign for @canonical_request at @amz_date. */
gchar    *lb_sigv4_string_to_sign  (const LbSigV4Key *key,
                                    const gchar      *amz_date,
                                    const gchar      *canonical_request);

/* The hex signature of @string_to_sign (the signing key is derived from the
 * secret, the date of @amz_date, the region and the service). */
gchar    *lb_sigv4_signature       (const LbSigV4Key *key,
                                    const gchar      *amz_date,
                                    const gchar      *string_to_sign);

/* The value of the Authorization header for @req signed at @amz_date
 * ("AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…"). */
gchar    *lb_sigv4_authorization   (const LbSigV4Key     *key,
                                    const LbSigV4Request *req,
                                    const gchar          *amz_date);

/* The query string of a presigned URL: @req's own query plus
 * X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires,
 * X-Amz-Security-Token (when the key has one) and X-Amz-SignedHeaders, in
 * canonical order and encoding, then X-Amz-Signature.  @req->headers holds
 * the headers the URL's user must send (host at least). */
gchar    *lb_sigv4_presign_query   (const LbSigV4Key     *key,
                                    const LbSigV4Request *req,
                                    const gchar          *amz_date,
                                    gint64                expires_s);

G_END_DECLS
