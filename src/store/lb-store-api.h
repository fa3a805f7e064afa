/* lookback — store area 'api': tokens, retrievals, quota, signing key
 *
 * A retrieval request (one retrievalId) becomes one row per resolved input;
 * every function below works on rows, named by their row id, except
 * lb_store_api_get_retrieval() which returns the rows of one retrievalId.
 *
 * Life of a row:
 *
 *   pending ──claim──► running ──finish_available──► available  (quota committed)
 *      ▲                 │  │ ──finish_failed──────► failed     (refunded)
 *      └──── defer ──────┘  └─finish_unavailable──► unavailable (refunded)
 *   invalid: written so at create (the vehicle has no such input); never runs.
 *
 * Quota: a row's reservation (cost_reserved) counts against its
 * organisation's period while it is pending or running; its committed cost
 * (cost_committed) counts as usage once it is available.  Commit and refund
 * happen in the same transaction as the status change, so the books can
 * never disagree with the rows.  The period is the calendar month (UTC) the
 * retrieval was created in ("YYYY-MM", see lb_quota_period()).
 *
 * The API shows `running` as `pending`.  All times are ns since the epoch
 * (UTC); 0 / LB_TIME_NONE where noted means "not set".  Every function is
 * safe to call from any thread.
 */
#pragma once

#include "core/lb-media-type.h"
#include "store/lb-store.h"
#include "store/lb-store-footage.h"

G_BEGIN_DECLS

typedef enum {
  LB_RETRIEVAL_PENDING,
  LB_RETRIEVAL_RUNNING,
  LB_RETRIEVAL_AVAILABLE,
  LB_RETRIEVAL_FAILED,
  LB_RETRIEVAL_UNAVAILABLE,
  LB_RETRIEVAL_INVALID,
} LbRetrievalStatus;

/* "pending", "running", "available", "failed", "unavailable", "invalid". */
const gchar *lb_retrieval_status_to_string (LbRetrievalStatus status);

/**
 * LbCoverage:
 * The coverage manifest of a finished retrieval (api-contract.md): what was
 * asked for, what the output really holds, the parts of the requested
 * range with no footage, and the parts of the delivered range recorded
 * while the wall clock was not known to be synchronised (their times may be
 * off).  The jobs engine makes it, the store keeps it with the row (its
 * serialisation is the store's own), the API writes it as JSON.
 */
typedef struct {
  gint64 requested_start_ns, requested_end_ns;
  gint64 delivered_start_ns, delivered_end_ns;
  GArray *gaps;                 /* LbTimeRange (lb-store-footage.h), in order */
  GArray *unsynced;             /* LbTimeRange, in order; an image's instant
                                 * is a range of length 0 */
  gboolean sub_stream;          /* made from the input's sub-stream */
} LbCoverage;

LbCoverage  *lb_coverage_new   (void);
LbCoverage  *lb_coverage_copy  (const LbCoverage *coverage);
void         lb_coverage_free  (LbCoverage *coverage);

/**
 * LbRetrieval:
 * One row: one input (or camera role) of one retrieval request.
 */
typedef struct {
  gint64 id;                    /* row id: what the job-facing calls take */
  gchar *retrieval_id;          /* UUID returned by the API; shared by the rows of a request */
  gchar *media_id;              /* random id in the signed URL /media/<media_id> */
  gchar *org;                   /* organisation of the token that created it */
  gchar *vehicle;
  gchar *input;                 /* dashcamRoadFacing, analog1, …; NULL when a camera
                                 * role resolved to no input (the row is invalid) */
  gchar *camera_role;           /* the requested cameraRole, or NULL */
  LbMediaType media_type;
  gchar *trigger_reason;        /* "api" */
  gint64 start_ns;              /* requested */
  gint64 end_ns;                /* requested (== start_ns for an image) */
  LbRetrievalStatus status;
  gdouble progress;             /* 0–1 */
  gint64 not_before_ns;         /* a claim skips the row before this time; 0 = now */
  gint64 created_ns;
  gint attempts;                /* how often it was claimed */
  gchar *period;                /* quota period, "YYYY-MM" */
  gdouble cost_reserved;        /* seconds of high-res video */
  gdouble cost_committed;       /* set when available */
  /* Set when available: */
  gchar *output_path;           /* absolute, or relative to the store's folder */
  gchar *content_type;          /* image/jpeg, video/mp4, … */
  gint64 delivered_start_ns;    /* LB_TIME_NONE until available */
  gint64 delivered_end_ns;
  LbCoverage *coverage;         /* set when available; NULL otherwise */
  gint64 available_ns;          /* 0 until available */
  gchar *failure_reason;        /* failed / unavailable / invalid: why; else NULL */
  gchar *public_url;            /* urlInfo.url of an uploaded object, or NULL: the
                                 * box's own signed URL */
  /* Cluster mode (lb-store-cluster.h); NULL on a single box: */
  gchar *owner;                 /* the node that records the row's input */
  gchar *media_base;            /* set when available: the base URL (advertise)
                                 * of the node that holds the output */
} LbRetrieval;

LbRetrieval *lb_retrieval_new  (void);
void         lb_retrieval_free (LbRetrieval *r);

/* ---------------------------------------------------------------------------
 * API side
 */

/**
 * lb_store_api_create_retrieval:
 * @rows: (element-type LbRetrieval): the rows of one request, filled with
 *   retrieval_id, media_id, org, vehicle, input, camera_role, media_type,
 *   start_ns, end_ns, status (pending or invalid), created_ns, period,
 *   cost_reserved (0 for invalid rows), failure_reason (invalid rows);
 *   their ids are set on success
 * @allowance: the organisation's monthly allowance
 * @out_used: (out) (optional): the organisation's committed usage in the period
 *
 * In ONE transaction (BEGIN IMMEDIATE, so concurrent creates serialise):
 * checks that usage + reservations + the new rows' reservations stays
 * within @allowance, then inserts the rows.  Over the allowance: nothing is
 * written, FALSE with LB_ERROR_QUOTA_EXCEEDED (@out_used is still set).
 * When this returns TRUE the rows are committed.
 */
gboolean lb_store_api_create_retrieval (LbStore      *store,
                                        GPtrArray    *rows,
                                        gdouble       allowance,
                                        gdouble      *out_used,
                                        GError      **error);

/* The rows of @retrieval_id that belong to @org, in creation order.  None:
 * FALSE with LB_ERROR_NOT_FOUND (whether the id is unknown or another
 * organisation's). */
gboolean lb_store_api_get_retrieval    (LbStore      *store,
                                        const gchar  *retrieval_id,
                                        const gchar  *org,
                                        GPtrArray   **out_rows,
                                        GError      **error);

/* The available row whose media id is @media_id (LB_ERROR_NOT_FOUND
 * otherwise). */
gboolean lb_store_api_get_media        (LbStore      *store,
                                        const gchar  *media_id,
                                        LbRetrieval **out,
                                        GError      **error);

typedef struct {
  const gchar *org;
  const gchar *const *vehicles;         /* required */
  gint64 start_ns, end_ns;              /* delivered range overlaps [start, end] */
  const gchar *const *inputs;           /* NULL or empty: any */
  guint media_types;                    /* LB_MEDIA_TYPE_BIT of each; 0: any */
  const gchar *const *trigger_reasons;  /* NULL or empty: any */
  gint64 available_after_ns;            /* LB_TIME_NONE: any */
  gint64 after_id;                      /* rows with a larger id only (cursor) */
  guint limit;                          /* page size */
} LbMediaFilter;

/* Available rows matching @filter, by increasing id; @out_more tells
 * whether rows follow the page. */
gboolean lb_store_api_list_media       (LbStore             *store,
                                        const LbMediaFilter *filter,
                                        GPtrArray          **out_rows,
                                        gboolean            *out_more,
                                        GError             **error);

/* Quota books of @org in @period: committed usage and open reservations. */
gboolean lb_store_api_quota_usage      (LbStore      *store,
                                        const gchar  *org,
                                        const gchar  *period,
                                        gdouble      *out_used,
                                        gdouble      *out_reserved,
                                        GError      **error);

/* Rows waiting or running (pending, running) and the creation time of the
 * oldest of them (0 when none); the last committed state, read without
 * waiting for a write.  In cluster mode: the rows this node owns. */
gboolean lb_store_api_pending_summary  (LbStore      *store,
                                        gint64       *out_count,
                                        gint64       *out_oldest_ns,
                                        GError      **error);

/* Number of rows per status, indexed by LbRetrievalStatus
 * (@counts has LB_RETRIEVAL_INVALID + 1 entries). */
gboolean lb_store_api_count_status     (LbStore      *store,
                                        gint64       *counts,
                                        GError      **error);

/* ---------------------------------------------------------------------------
 * Job side (the jobs engine)
 *
 * Every finish_* call applies only to a row that is pending or running: a
 * row that is already finished gives LB_ERROR_INVALID, an unknown id
 * LB_ERROR_NOT_FOUND, and nothing changes.
 *
 * set_progress, finish_*, set_public_url and defer join the caller's open
 * transaction when there is one (another store area, e.g. the upload
 * journal, finishing a retrieval in its own transaction: a SAVEPOINT), and
 * run in a transaction of their own otherwise.
 */

/**
 * lb_store_api_claim_next:
 * @now_ns: rows whose not_before is later are skipped
 * @out: (out) (transfer full) (nullable): the claimed row, NULL when there
 *   is nothing to do
 *
 * Picks the next pending row — images first, then videoHighRes and
 * videoLowRes clips, then hyperlapses; oldest first within a kind — and
 * marks it running (attempts + 1), in one transaction.  Returns FALSE only
 * on a store error.
 */
gboolean lb_store_api_claim_next       (LbStore      *store,
                                        gint64        now_ns,
                                        LbRetrieval **out,
                                        GError      **error);
/* The same, among the rows of lb_media_type_priority() @max_priority or
 * more urgent only (0: images). */
gboolean lb_store_api_claim_next_upto  (LbStore      *store,
                                        gint64        now_ns,
                                        gint          max_priority,
                                        LbRetrieval **out,
                                        GError      **error);

/* Progress (clamped to 0–1) of a pending or running row, shown by the API. */
gboolean lb_store_api_set_progress     (LbStore      *store,
                                        gint64        id,
                                        gdouble       progress,
                                        GError      **error);

/**
 * lb_store_api_finish_available:
 * @output_path: the media file (absolute, or relative to the store's folder)
 * @content_type: e.g. "image/jpeg", "video/mp4"
 * @delivered_start_ns, @delivered_end_ns: what the file really covers
 * @coverage: (nullable): the coverage manifest
 * @available_ns: when it became available (availableAtTime)
 * @cost: the delivered cost (lb_quota_cost() of the delivered range)
 *
 * Marks the row available and commits @cost to its organisation's quota
 * (its reservation is released), in one transaction.
 */
gboolean lb_store_api_finish_available (LbStore      *store,
                                        gint64        id,
                                        const gchar  *output_path,
                                        const gchar  *content_type,
                                        gint64        delivered_start_ns,
                                        gint64        delivered_end_ns,
                                        const LbCoverage *coverage,
                                        gint64        available_ns,
                                        gdouble       cost,
                                        GError      **error);

/* Marks the row failed with @reason (failureReason) and refunds its
 * reservation, in one transaction. */
gboolean lb_store_api_finish_failed    (LbStore      *store,
                                        gint64        id,
                                        const gchar  *reason,
                                        GError      **error);

/* Marks the row unavailable (nothing recorded for it) and refunds its
 * reservation, in one transaction.  @reason may be NULL. */
gboolean lb_store_api_finish_unavailable (LbStore      *store,
                                          gint64        id,
                                          const gchar  *reason,
                                          GError      **error);

/* The upload journal's public URL of the row's object: the API shows it as
 * urlInfo.url instead of the box's own signed URL.  Call it before (or in
 * the same transaction as) finish_available. */
gboolean lb_store_api_set_public_url   (LbStore      *store,
                                        gint64        id,
                                        const gchar  *public_url,
                                        GError      **error);

/* Puts a running row back to pending, not to be claimed before
 * @not_before_ns (footage not recorded yet).  The reservation stays. */
gboolean lb_store_api_defer            (LbStore      *store,
                                        gint64        id,
                                        gint64        not_before_ns,
                                        GError      **error);

/* A row deferred by lb_store_api_defer() may be claimed now (its footage
 * arrived).  Nothing happens to a row that is not pending any more (running
 * or finished): that is not an error. */
gboolean lb_store_api_wake             (LbStore      *store,
                                        gint64        id,
                                        GError      **error);

/* At start-up: every row left running (by a crash) goes back to pending,
 * progress 0.  @out_count (optional) gets the number of rows requeued. */
gboolean lb_store_api_requeue_running  (LbStore      *store,
                                        guint        *out_count,
                                        GError      **error);

/* Every pending or running row, oldest first (for deadlines, and for
 * pinning the footage they need against retention). */
gboolean lb_store_api_list_open        (LbStore      *store,
                                        GPtrArray   **out_rows,
                                        GError      **error);

/* One row by id (LB_ERROR_NOT_FOUND when there is none). */
gboolean lb_store_api_get              (LbStore      *store,
                                        gint64        id,
                                        LbRetrieval **out,
                                        GError      **error);

/* The row of @retrieval_id for @input (what the upload journal knows a
 * retrieval by); LB_ERROR_NOT_FOUND when there is none. */
gboolean lb_store_api_find             (LbStore      *store,
                                        const gchar  *retrieval_id,
                                        const gchar  *input,
                                        LbRetrieval **out,
                                        GError      **error);

/* ---------------------------------------------------------------------------
 * Tokens (only their SHA-256 is stored) and the signing key
 */

typedef struct {
  gint64 id;
  gchar *org;
  gchar *scopes;                /* comma-separated: media:read,media:write */
  gint64 created_ns;
  gint64 revoked_ns;            /* 0 while valid */
} LbToken;

void     lb_token_free                 (LbToken *token);
/* TRUE when @token's scopes include @scope. */
gboolean lb_token_has_scope            (const LbToken *token,
                                        const gchar   *scope);

gboolean lb_store_api_token_add        (LbStore      *store,
                                        const gchar  *hash,
                                        const gchar  *org,
                                        const gchar  *scopes,
                                        gint64        created_ns,
                                        gint64       *out_id,
                                        GError      **error);
/* The valid (not revoked) token whose hash is @hash; *@out is NULL when
 * there is none (that is not an error). */
gboolean lb_store_api_token_lookup     (LbStore      *store,
                                        const gchar  *hash,
                                        LbToken     **out,
                                        GError      **error);
/* (element-type LbToken), revoked ones included, by id. */
gboolean lb_store_api_token_list       (LbStore      *store,
                                        GPtrArray   **out,
                                        GError      **error);
/* LB_ERROR_NOT_FOUND when there is no such valid token. */
gboolean lb_store_api_token_revoke     (LbStore      *store,
                                        gint64        id,
                                        gint64        revoked_ns,
                                        GError      **error);

/* The store's URL-signing secret, generated on first use and kept. */
GBytes  *lb_store_api_get_signing_key  (LbStore      *store,
                                        GError      **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbCoverage, lb_coverage_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbRetrieval, lb_retrieval_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbToken, lb_token_free)

G_END_DECLS
