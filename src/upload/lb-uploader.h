/* lookback — the uploader: drains the upload journal to the cloud endpoint
 *
 * The uploader PUTs each journal entry's file to the URL made from
 * [upload] url-template, one upload at a time, in journal order (images, then
 * videos, then hyperlapses; oldest first within each).  It runs on its own
 * thread with its own GMainContext and drives libsoup 3's asynchronous API
 * there, so neither the SHA-256 of a large file nor a slow endpoint ever
 * blocks the daemon's main loop.  The body is streamed from the file (memory
 * does not grow with the file size).
 *
 * Answers:
 *   2xx                     done: the retrieval becomes available
 *   no answer, 408, 429, 5xx  transient: the entry waits (exponential backoff
 *                           with jitter between [upload] backoff-min and
 *                           backoff-max, or the Retry-After the endpoint gave,
 *                           in seconds or as an HTTP date) and the whole queue
 *                           pauses with it, so that order is kept when the
 *                           endpoint comes back
 *   any other status        failed: the retrieval fails with the endpoint's
 *                           status and a short excerpt of its body as reason
 *
 * Done entries' local files are deleted [upload] keep after their upload by a
 * periodic sweep.  A metrics line is logged every minute (category
 * lookback-upload, level INFO).
 */
#pragma once

#include "core/lb-config.h"
#include "store/lb-store.h"
#include "store/lb-store-upload.h"
#include "media/lb-media-item.h"

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef struct _LbUploader LbUploader;

/* TRUE when uploads are on: [upload] protocol=s3, or url-template set (put,
 * tus); else the box serves its own signed URLs and nothing enters the
 * journal. */
gboolean    lb_uploader_enabled  (LbConfig *config);

/* TRUE when [webhook] url is set. */
gboolean    lb_webhooks_enabled  (LbConfig *config);

/* Checks the [upload] configuration (templates, headers); LB_ERROR_CONFIG
 * when url-template is empty or malformed. */
LbUploader *lb_uploader_new      (LbConfig  *config,
                                  LbStore   *store,
                                  GError   **error);
/* The webhook sender: the same machinery (journal, backoff, one thread)
 * draining the queue of webhook events to [webhook] url.  LB_ERROR_CONFIG
 * when the url or the secret-file is missing or bad. */
LbUploader *lb_uploader_new_webhooks (LbConfig  *config,
                                      LbStore   *store,
                                      GError   **error);
/* Webhooks: the base URL of the box's own signed media URLs (the API's
 * public URL; NULL keeps [server] public-url or listen) and the presigner
 * of uploaded objects' URLs (NULL: shown as they are).  Before start. */
void        lb_uploader_set_media_urls (LbUploader        *uploader,
                                        const gchar       *base_url,
                                        LbMediaPresignFunc presign,
                                        gpointer           presign_data);

/* An LbMediaPresignFunc (user_data: the media LbUploader with
 * protocol=s3): @object_url presigned for GET (SigV4 query signing) until
 * @now_ns + @ttl_ns (at most 7 days). */
gchar      *lb_uploader_presign  (const gchar *object_url,
                                  gint64       now_ns,
                                  gint64       ttl_ns,
                                  gpointer     uploader);

/* The Lookback-Signature header of a webhook @body sent at @t_s (Unix
 * seconds): "t=<t_s>,v1=<hex HMAC-SHA256 of "<t_s>.<body>" under @secret>". */
gchar      *lb_webhook_signature (GBytes      *secret,
                                  gint64       t_s,
                                  const gchar *body,
                                  gsize        len);

/* Starts the uploader's thread; uploading starts at once.  An uploader that
 * was stopped may be started again. */
gboolean    lb_uploader_start    (LbUploader  *uploader,
                                  GError     **error);
/* Wakes the uploader after an entry was queued (thread-safe, cheap).  Without
 * a poke a new entry is still found within a few seconds.
 * lb_upload_finish_job() pokes the uploader it is given. */
void        lb_uploader_poke     (LbUploader *uploader);
/* Cancels the upload in flight (its entry stays waiting and is uploaded again
 * at the next start) and joins the thread.  Returns quickly. */
void        lb_uploader_stop     (LbUploader *uploader);
void        lb_uploader_free     (LbUploader *uploader);

/**
 * LbUploadStats:
 * Metrics for /healthz and the log line.
 */
typedef struct {
  guint queue_length;           /* entries waiting */
  gint64 oldest_waiting_ns;     /* created time of the oldest waiting entry, 0 if none */
  gint64 bytes_uploaded;        /* total over all done entries (journal) */
  gint64 bytes_sent;            /* body bytes sent since start, resends included */
  guint done;
  guint failed;
  gboolean uploading;           /* an upload is in flight */
  gchar *last_error;            /* last failure since start, or NULL */
  gint64 last_error_ns;         /* when, or 0 */
} LbUploadStats;

gboolean    lb_uploader_get_stats (LbUploader     *uploader,
                                   LbUploadStats  *out,
                                   GError        **error);
void        lb_upload_stats_clear (LbUploadStats  *stats);

/* An LbApiHealthFunc (user_data: the LbUploader): adds the upload metrics
 * to the /healthz object: waiting, oldestWaitingSeconds, bytesUploaded,
 * done, failed, uploading, lastError, lastErrorTime.  The daemon registers
 * it with
 *   lb_api_server_add_health (api, "uploads", lb_upload_health_json, uploader, NULL); */
void        lb_upload_health_json (JsonBuilder *builder,
                                   gpointer     uploader);

/* Deletes the local files of entries uploaded more than [upload] keep before
 * @now_ns (the periodic sweep calls it; tests call it directly). */
gboolean    lb_uploader_sweep    (LbUploader  *uploader,
                                  gint64       now_ns,
                                  guint       *out_deleted,
                                  GError     **error);

/**
 * lb_upload_finish_job:
 * @uploader: (nullable): the running uploader, woken when @job is queued
 * @job: the finished output; job->retrieval_row must be set
 *
 * What the job engine calls when a retrieval's output file is finished,
 * instead of lb_store_api_finish_available():
 * - [upload] url-template set: queues @job in the upload journal; in the
 *   same transaction the row stays pending (progress 1) and is never claimed
 *   again; @uploader (if given) is woken.  The row
 *   becomes available (cost committed) when the upload succeeds, or failed
 *   (refunded) when the endpoint refuses it.
 * - empty (the default): the row becomes available at once with
 *   job->cost committed (lb_store_api_finish_available()); urlInfo is the
 *   box's own signed URL.
 * Thread-safe.
 */
gboolean    lb_upload_finish_job (LbConfig           *config,
                                  LbStore            *store,
                                  LbUploader         *uploader,
                                  const LbUploadJob  *job,
                                  gint64              now_ns,
                                  GError            **error);

/* At daemon start when the upload is switched off (lb_uploader_enabled()
 * FALSE): retrievals still waiting in the journal from an earlier
 * configuration become available at once, served by the box
 * (lb_store_upload_release_waiting()).  Does nothing when upload is on. */
gboolean    lb_upload_release_if_disabled (LbConfig  *config,
                                           LbStore   *store,
                                           guint     *out_count,
                                           GError   **error);

/* --- helpers, public for tests --- */

/* Expands {vehicleId} {retrievalId} {input} {mediaType} {ext} in @tmpl, each
 * value URL-escaped; an unknown or unclosed placeholder is an error. */
gchar      *lb_upload_expand_template (const gchar  *tmpl,
                                       const gchar  *vehicle,
                                       const gchar  *retrieval_id,
                                       const gchar  *input,
                                       const gchar  *media_type,
                                       const gchar  *ext,
                                       GError      **error);

/* Parses a Retry-After value: delta seconds (fractions allowed) or an HTTP
 * date, relative to @now_ns; a date in the past gives 0. */
gboolean    lb_upload_parse_retry_after (const gchar *value,
                                         gint64       now_ns,
                                         gint64      *out_delay_ns);

/* The wait after @failures consecutive transient failures (1, 2, ...):
 * min·2^(failures-1) capped at max, then jittered into its upper half by
 * @jitter (0..1), never below min. */
gint64      lb_upload_backoff    (gint64   min_ns,
                                  gint64   max_ns,
                                  guint    failures,
                                  gdouble  jitter);

/* Content-Type of an output by its extension (jpg, mp4, ...). */
const gchar *lb_upload_content_type (const gchar *ext);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbUploader, lb_uploader_free)

G_END_DECLS
