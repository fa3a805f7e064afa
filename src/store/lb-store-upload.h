/* lookback — store area 'upload': the upload journal
 *
 * A finished retrieval output that has to go to the cloud endpoint enters the
 * journal as one entry (one per retrieval and input).  The entry stays
 * 'waiting' until the uploader has PUT it and the endpoint answered 2xx
 * ('done'), or the endpoint refused it for good ('failed').  Nothing about an
 * upload in flight is recorded: an entry whose upload was cut by a crash is
 * still 'waiting' and is simply uploaded again (the object key is fixed per
 * retrieval and input, so the retry overwrites the same object with the same
 * bytes).
 *
 * Order: waiting entries are taken by priority (lb_media_type_priority():
 * images, then videos, then hyperlapses), oldest first within a priority,
 * and only once their retry time (next_attempt_ns) has come.
 *
 * Transactions: every function below takes the store lock and runs in one
 * transaction.  When the calling thread already holds an open transaction on
 * the store (a function of another store area that calls in while holding the
 * lock), the function joins it instead of opening its own, so that e.g. "job
 * finished" and "entry queued" commit together.
 */
#pragma once

#include "core/lb-media-type.h"
#include "store/lb-store.h"
#include "store/lb-store-api.h"

G_BEGIN_DECLS

/* What an entry delivers: a media file to the cloud endpoint, or a webhook
 * event to the [webhook] url.  Each kind is its own queue. */
typedef enum {
  LB_UPLOAD_KIND_MEDIA = 0,
  LB_UPLOAD_KIND_WEBHOOK = 1,
} LbUploadKind;

typedef enum {
  LB_UPLOAD_WAITING = 0,
  LB_UPLOAD_DONE = 1,
  LB_UPLOAD_FAILED = 2,
  LB_UPLOAD_RELEASED = 3,       /* never uploaded: upload was switched off */
} LbUploadState;

/**
 * LbUploadJob:
 * What the job engine hands over when a retrieval's output is finished.
 * The delivered times and coverage are kept with the entry and handed to the
 * retrieval when the upload completes (the retrieval only becomes
 * 'available' then).
 */
typedef struct {
  const gchar *retrieval_id;    /* the API's retrievalId (UUID) */
  const gchar *vehicle;         /* vehicleId */
  const gchar *input;           /* resolved input (dashcamRoadFacing, analog1...) */
  LbMediaType media_type;
  const gchar *path;            /* output file: absolute, or relative to the store folder */
  gint64 delivered_start_ns;    /* LB_TIME_NONE when unknown */
  gint64 delivered_end_ns;
  const LbCoverage *coverage;   /* may be NULL */
  gint64 retrieval_row;         /* api_retrievals row id (LbRetrieval.id); 0: none (tests) */
  const gchar *content_type;    /* image/jpeg, video/mp4 (for the retrieval row) */
  gdouble cost;                 /* delivered cost, committed when uploaded */
} LbUploadJob;

typedef struct {
  gint64 id;
  gchar *retrieval_id;
  gchar *vehicle;
  gchar *input;
  LbMediaType media_type;
  gchar *path;                  /* as given at enqueue */
  gint priority;
  LbUploadState state;
  gint attempts;                /* finished attempts that failed */
  gint64 created_ns;
  gint64 next_attempt_ns;       /* earliest time of the next attempt */
  gint64 uploaded_ns;           /* 0 unless done */
  gint64 bytes;                 /* size uploaded (done), else 0 */
  gchar *sha256;                /* hex, once uploaded */
  gchar *public_url;            /* urlInfo.url of the uploaded object, or NULL */
  gchar *last_error;            /* last failure, or NULL */
  gint64 delivered_start_ns;
  gint64 delivered_end_ns;
  LbCoverage *coverage;         /* NULL when none was given */
  gboolean file_deleted;        /* the local output was removed by the sweep */
  gint64 retrieval_row;         /* 0 when the entry has no retrieval row */
  gchar *content_type;
  gdouble cost;
  LbUploadKind kind;
  gchar *session;               /* resumable uploads: the S3 UploadId or the tus
                                 * upload URL, NULL until one was opened */
  gint64 acked;                 /* bytes the endpoint acknowledged in it */
  gchar *event_id;              /* webhook events: the event's UUID */
} LbUploadEntry;

/* An acknowledged part of an S3 multipart upload. */
typedef struct {
  gint number;                  /* 1… */
  gchar *etag;                  /* as the endpoint gave it, quotes included */
  gint64 size;
  gchar *md5;                   /* hex MD5 of the part (sent as Content-MD5) */
} LbUploadPart;

void lb_upload_part_clear (LbUploadPart *part);

void lb_upload_entry_free (LbUploadEntry *entry);

/* Queues @job (state waiting, due now).  With a retrieval_row, in the same
 * transaction, that row (pending or running) becomes pending with progress 1
 * and is never claimed again (not_before = max): the API shows it pending
 * until the upload is over.  This is what the job engine calls INSTEAD of
 * lb_store_api_finish_available() when lb_uploader_enabled().  A row that is
 * finished already gives LB_ERROR_INVALID, an unknown one LB_ERROR_NOT_FOUND,
 * and nothing is queued.  Idempotent: a second call for the same
 * retrieval_id and input returns the existing entry's id.  Joins the
 * caller's open transaction, if any. */
gboolean lb_store_upload_enqueue (LbStore            *store,
                                  const LbUploadJob  *job,
                                  gint64              now_ns,
                                  gint64             *out_id,
                                  GError            **error);

/* The first waiting entry due at @now_ns in upload order, other than
 * @exclude_id (0: none), or *out_entry = NULL.  @out_next_ns (optional)
 * receives the earliest next_attempt_ns among the waiting entries not yet due
 * (0 when there are none). */
gboolean lb_store_upload_next    (LbStore        *store,
                                  gint64          now_ns,
                                  gint64          exclude_id,
                                  LbUploadEntry **out_entry,
                                  gint64         *out_next_ns,
                                  GError        **error);

/* The same for the queue of @kind (lb_store_upload_next() is the media
 * queue's). */
gboolean lb_store_upload_next_kind (LbStore        *store,
                                    LbUploadKind    kind,
                                    gint64          now_ns,
                                    gint64          exclude_id,
                                    LbUploadEntry **out_entry,
                                    gint64         *out_next_ns,
                                    GError        **error);

LbUploadEntry *lb_store_upload_get (LbStore      *store,
                                    gint64        id,
                                    GError      **error);

/* The entry of a retrieval and input, or NULL (LB_ERROR_NOT_FOUND). */
LbUploadEntry *lb_store_upload_find (LbStore      *store,
                                     const gchar  *retrieval_id,
                                     const gchar  *input,
                                     GError      **error);

/* Every entry in upload order (waiting first), for tests and the CLI. */
GPtrArray *lb_store_upload_list  (LbStore  *store,
                                  GError  **error);

/* At start: every waiting entry is due now (a restart probes the endpoint
 * at once, in order).  @out_count (optional): entries changed. */
gboolean lb_store_upload_reset_waits (LbStore  *store,
                                      gint64    now_ns,
                                      guint    *out_count,
                                      GError  **error);

/* A transient failure: attempts + 1, last_error, next attempt at @next_ns. */
gboolean lb_store_upload_retry_later (LbStore      *store,
                                      gint64        id,
                                      gint64        next_ns,
                                      const gchar  *reason,
                                      GError      **error);

/* Uploaded: state done with the size, checksum and public URL (NULL: the
 * box's own signed URL).  In the same transaction the retrieval row becomes
 * available (output path, content type, delivered range, coverage from the
 * entry; availableAtTime @now_ns) with its cost committed. */
gboolean lb_store_upload_done    (LbStore      *store,
                                  gint64        id,
                                  gint64        now_ns,
                                  gint64        bytes,
                                  const gchar  *sha256,
                                  const gchar  *public_url,
                                  GError      **error);

/* Refused for good: state failed with @reason.  In the same transaction the
 * retrieval row becomes failed with @reason as failureReason and its
 * reservation is refunded. */
gboolean lb_store_upload_fail    (LbStore      *store,
                                  gint64        id,
                                  gint64        now_ns,
                                  const gchar  *reason,
                                  GError      **error);

/* urlInfo.url of an uploaded retrieval row (public-url-template), or NULL
 * (no upload, not uploaded yet, or no public template: the box's own signed
 * URL applies). */
gchar     *lb_store_upload_public_url (LbStore  *store,
                                       gint64    retrieval_row,
                                       GError  **error);

/* For a box whose upload was switched off while entries waited: every
 * waiting entry becomes 'released' and its retrieval row available at once
 * (cost committed; urlInfo the box's own signed URL), one transaction per
 * entry.  @out_count (optional): entries released. */
gboolean   lb_store_upload_release_waiting (LbStore  *store,
                                            gint64    now_ns,
                                            guint    *out_count,
                                            GError  **error);

/* Done entries uploaded at or before @before_ns whose local file has not been
 * removed yet (the retention sweep deletes them, then marks them). */
GPtrArray *lb_store_upload_expired   (LbStore  *store,
                                      gint64    before_ns,
                                      GError  **error);
gboolean   lb_store_upload_mark_deleted (LbStore  *store,
                                         gint64    id,
                                         GError  **error);

/* Journal figures for metrics. */
typedef struct {
  guint waiting;                /* entries waiting */
  gint64 oldest_waiting_ns;     /* created_ns of the oldest waiting entry, 0 if none */
  guint done;
  guint failed;
  gint64 bytes_uploaded;        /* sum over done entries */
} LbUploadCounts;

/* The media queue's figures (lb_store_upload_counts_kind() for others). */
gboolean lb_store_upload_counts  (LbStore         *store,
                                  LbUploadCounts  *out,
                                  GError         **error);
gboolean lb_store_upload_counts_kind (LbStore         *store,
                                      LbUploadKind     kind,
                                      LbUploadCounts  *out,
                                      GError         **error);

/* --- resumable uploads (s3, tus): what the endpoint acknowledged, so that a
 * restart or a dropped link resumes there --- */

/* Records the endpoint's upload session of a waiting entry and the bytes it
 * acknowledged.  @session NULL (the session is gone) or @acked 0 (a new
 * session) forgets the recorded parts too. */
gboolean lb_store_upload_set_session (LbStore      *store,
                                      gint64        id,
                                      const gchar  *session,
                                      gint64        acked,
                                      GError      **error);

/* Records an acknowledged part (replacing one of the same number) and the
 * entry's acknowledged bytes, in one transaction. */
gboolean lb_store_upload_add_part (LbStore             *store,
                                   gint64               id,
                                   const LbUploadPart  *part,
                                   gint64               acked,
                                   GError             **error);

/* (element-type LbUploadPart) the recorded parts by number. */
GArray  *lb_store_upload_parts    (LbStore  *store,
                                   gint64    id,
                                   GError  **error);

/* --- webhook events ---
 *
 * With webhooks on, every lb_store_api_finish_available(),
 * _finish_failed() and _finish_unavailable() queues one event (kind
 * LB_UPLOAD_KIND_WEBHOOK, a new event_id, the row in retrieval_row) in the
 * same transaction as the row's new status.  An event entry is done when
 * the receiver took it, failed when its deadline passed; neither touches the
 * retrieval row.  Set once at start, before jobs run. */
void     lb_store_upload_set_webhooks (LbStore  *store,
                                       gboolean  on);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbUploadEntry, lb_upload_entry_free)

G_END_DECLS
