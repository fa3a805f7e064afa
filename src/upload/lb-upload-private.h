/* lookback — upload internals shared by the uploader and its protocols
 *
 * The uploader's thread (lb-uploader.c) schedules: it picks the next entry
 * of its queue, and hands it to a delivery thread of its own, which runs the
 * protocol (put, s3, tus, webhook) from start to end with libsoup's
 * synchronous API (the session is shared: libsoup 3.2 allows sync use from
 * any thread) and reports one outcome back.  The protocols record what the
 * endpoint acknowledged in the journal as they go (sessions, parts), so a
 * delivery cut by a crash or a dropped link resumes there.
 */
#pragma once

#include "upload/lb-uploader.h"
#include "core/lb-sigv4.h"
#include "core/lb-rate-limit.h"

#include <libsoup/soup.h>

G_BEGIN_DECLS

typedef enum {
  LB_DELIVERY_DONE,             /* delivered */
  LB_DELIVERY_RETRY,            /* transient: try again later */
  LB_DELIVERY_FAILED,           /* refused for good */
  LB_DELIVERY_STOPPED,          /* the uploader is stopping */
} LbDeliveryResult;

typedef struct _LbDelivery LbDelivery;

/* One protocol: runs a whole delivery on the delivery thread and sets its
 * outcome (lb_delivery_done(), lb_delivery_retry(), lb_delivery_fail()). */
typedef void (*LbDeliverFunc) (LbDelivery *d);


struct _LbDelivery {
  LbUploader *up;
  LbUploadEntry *entry;         /* owned */
  gchar *filename;              /* the output file (media) */
  GCancellable *cancel;         /* the delivery's; cancelled by stop */
  SoupSession *session;

  /* the outcome */
  LbDeliveryResult result;
  gchar *reason;
  gint64 retry_after_ns;        /* -1: none */
  gboolean answered;            /* the endpoint answered (vs. no answer) */
  gboolean requested;           /* a request went out (metrics: not local) */
  guint status;                 /* the last request's answer; 0: none */
  gint64 size;                  /* bytes of the file */
  gchar *sha256;                /* hex, of the file */
  gchar *public_url;            /* urlInfo.url to record, or NULL */
  struct _LbDigestsOfFile *file;        /* media: digests of the whole file */
};

/* What the protocols read of the uploader (set at creation, then constant). */
typedef struct {
  gchar *url_template;          /* put: the object URL; tus: the creation URL;
                                 * webhook: the receiver */
  gchar *public_template;       /* NULL when unset */
  gchar *key_template;          /* s3, tus: the object key */
  gchar *checksum_header;
  GPtrArray *header_names;      /* [upload-headers] */
  GPtrArray *header_values;
  gint64 connect_timeout_ns;
  gint64 part_size;             /* s3: multipart above this; tus: PATCH size */
  /* s3 */
  gchar *s3_endpoint;           /* scheme://host[:port] */
  gchar *s3_bucket;
  gboolean s3_path_style;
  LbSigV4Key s3_key;            /* strings owned by the uploader */
  /* webhook */
  GBytes *webhook_secret;
  gint64 webhook_deadline_ns;
  const LbMediaUrls *media_urls;        /* how a webhook writes urlInfo; not owned */
} LbUploadSettings;

/* Reads and checks the settings of @kind; *@out_deliver gets its protocol. */
gboolean    lb_upload_settings_load  (LbUploadSettings  *s,
                                      LbConfig          *config,
                                      LbUploadKind       kind,
                                      LbDeliverFunc     *out_deliver,
                                      GError           **error);
void        lb_upload_settings_clear (LbUploadSettings  *s);

const LbUploadSettings *lb_uploader_settings (LbUploader *up);
LbStore    *lb_uploader_store       (LbUploader *up);
/* [upload] max-rate: the bandwidth cap every request of the uploader
 * shares (a bucket of one second's bytes), or NULL for none. */
LbRateLimiter *lb_uploader_rate     (LbUploader *up);
/* Counts body bytes handed to the network (resends included). */
void        lb_uploader_count_sent  (LbUploader *up,
                                     gsize       bytes);
GMainContext *lb_uploader_context   (LbUploader *up);

/* --- outcomes --- */
void        lb_delivery_done        (LbDelivery   *d);
/* Transient: @retry_after_ns -1 when the endpoint named no wait. */
void        lb_delivery_retry       (LbDelivery   *d,
                                     gboolean      answered,
                                     gint64        retry_after_ns,
                                     const gchar  *format,
                                     ...) G_GNUC_PRINTF (4, 5);
void        lb_delivery_fail        (LbDelivery   *d,
                                     const gchar  *format,
                                     ...) G_GNUC_PRINTF (2, 3);
/* TRUE (and the outcome STOPPED) when the uploader is stopping. */
gboolean    lb_delivery_stopping    (LbDelivery   *d);

/* --- HTTP --- */

/* An answer: the status, its headers, and at most the first bytes of its
 * body asked for (the rest is read and dropped). */
typedef struct {
  guint status;
  gchar *reason_phrase;
  SoupMessageHeaders *headers;
  GBytes *body;
} LbHttpAnswer;

void        lb_http_answer_clear    (LbHttpAnswer *a);

/* The part of a file a request sends as its body. */
typedef struct {
  const gchar *filename;
  gint64 offset;
  gint64 length;
  const gchar *content_type;
  gboolean expect_continue;     /* Expect: 100-continue */
} LbHttpBody;

/* Sends @msg (its body, if any, from @body, throttled by [upload] max-rate)
 * and reads the answer, keeping at most @max_body bytes of it.  No answer
 * (no connection within connect-timeout, a dropped link, a timeout): FALSE
 * with the outcome set (retry, or stopped). */
gboolean    lb_http_send            (LbDelivery        *d,
                                     SoupMessage       *msg,
                                     const LbHttpBody  *body,
                                     gsize              max_body,
                                     LbHttpAnswer      *out);

/* TRUE for 2xx.  Otherwise sets the outcome from @a — 408, 429, 5xx:
 * retry (with the answer's Retry-After); any other: failed — with a reason
 * naming @what, the status and an excerpt of the body, and returns FALSE. */
gboolean    lb_http_check           (LbDelivery         *d,
                                     const LbHttpAnswer *a,
                                     const gchar        *what);

/* A single-line, printable excerpt of at most 200 characters. */
gchar      *lb_http_excerpt         (const guint8 *data,
                                     gsize         len);

/* Base64 of the MD5 / SHA-1 / SHA-256 digest of @len bytes of @filename
 * from @offset, and (optional) the same digests in hex; read in blocks. */
typedef struct _LbDigestsOfFile {
  gchar *md5_hex, *md5_b64;
  gchar *sha1_b64;
  gchar *sha256_hex, *sha256_b64;
} LbDigests;

gboolean    lb_file_digests         (const gchar   *filename,
                                     gint64         offset,
                                     gint64         length,
                                     GCancellable  *cancel,
                                     LbDigests     *out,
                                     GError       **error);
void        lb_digests_clear        (LbDigests     *d);

/* The entry's expansion of @tmpl ({vehicleId} … {ext}), values escaped. */
gchar      *lb_upload_entry_expand  (const gchar          *tmpl,
                                     const LbUploadEntry  *e,
                                     GError              **error);

/* --- protocols --- */
void        lb_upload_put_deliver     (LbDelivery *d);
void        lb_upload_s3_deliver      (LbDelivery *d);
void        lb_upload_tus_deliver     (LbDelivery *d);
void        lb_upload_webhook_deliver (LbDelivery *d);

/* s3: the object's URL (path-style or virtual-hosted), unsigned, for @key
 * (decoded). */
gchar      *lb_upload_s3_object_url   (const LbUploadSettings *s,
                                       const gchar            *key);

/* s3: what an XML answer says (InitiateMultipartUploadResult,
 * ListPartsResult, CompleteMultipartUploadResult, Error). */
typedef struct {
  gchar *root;                  /* the root element's name */
  gchar *upload_id;
  gchar *error_code, *error_message;
  GArray *parts;                /* LbUploadPart (etag, size; md5 NULL) */
  gboolean truncated;           /* IsTruncated */
  gint next_marker;             /* NextPartNumberMarker */
} LbS3Answer;

/* Parses an S3 XML answer; FALSE (LB_ERROR_CORRUPT) when it is not XML. At
 * most 10 000 parts are kept. */
gboolean    lb_s3_answer_parse      (const gchar  *text,
                                     gsize         len,
                                     LbS3Answer   *out,
                                     GError      **error);
void        lb_s3_answer_clear      (LbS3Answer   *a);

/* tus: Upload-Offset (a non-negative decimal integer, nothing else). */
gboolean    lb_tus_parse_offset     (const gchar  *value,
                                     gint64       *out);
/* tus: the checksum algorithm to use given the server's Tus-Extension and
 * Tus-Checksum-Algorithm headers: "sha256", "sha1" or NULL (none). */
const gchar *lb_tus_pick_checksum   (const gchar  *extensions,
                                     const gchar  *algorithms);

/* --- rate --- */
/* Waits until @bytes may go through @limiter (NULL: at once); FALSE when
 * cancelled. */
gboolean    lb_rate_take            (LbRateLimiter *limiter,
                                     gsize         bytes,
                                     GCancellable *cancel);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (LbHttpAnswer, lb_http_answer_clear)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (LbDigests, lb_digests_clear)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (LbS3Answer, lb_s3_answer_clear)

G_END_DECLS
