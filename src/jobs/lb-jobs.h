/* lookback — the retrieval jobs engine: scheduler and workers
 *
 * A bounded set of worker threads ([jobs] workers; 0 = cores − 1, at least
 * one) claims pending retrieval rows from the store in priority order
 * (images, then clips, then hyperlapses; oldest first), resolves each
 * against the footage index, and runs its pipeline (lb-job-run.h) on the
 * worker's own thread — nothing CPU-heavy runs on the main loop.
 *
 * Outcome of a row:
 *   - footage covers it: the output goes to <store dir>/outputs/<mediaId>.jpg
 *     or .mp4, then lb_upload_finish_job() marks it available (or queues it
 *     for upload when [upload] url-template is set) with the delivered
 *     range, the coverage manifest and the quota committed for the
 *     delivered duration;
 *   - nothing recorded for that input and time (footage exists after it):
 *     unavailable, refunded;
 *   - not recorded yet (the input's footage ends before the requested end):
 *     stays pending until the footage arrives or [jobs] pending-deadline
 *     after the requested end has passed; then what exists is delivered, or
 *     the row is unavailable.  Such a row is not polled (lb-job-waits.h):
 *     it is checked again, reading the index only, after a back-off that
 *     doubles from 1 s to 60 s, and at once when the store commits footage
 *     of its input that reaches its end;
 *   - a transient failure (I/O, a full disk, a busy store) is retried
 *     [jobs] retries times, then the row is failed with failureReason and
 *     refunded; corrupt footage fails it at once.
 * While a row is pending or running, its range is pinned (owner
 * "retrieval:<row id>") so that retention keeps the footage; the pin goes
 * when the row ends.  Rows left running by a crash are requeued by lb_jobs_start(), and half
 * written outputs removed: a row ends exactly once and is charged once.
 */
#pragma once

#include "core/lb-config.h"
#include "core/lb-time.h"
#include "store/lb-store.h"
#include "store/lb-store-api.h"
#include "upload/lb-uploader.h"

G_BEGIN_DECLS

typedef struct _LbJobs LbJobs;

/* What the footage index says about one row's input and range. */
typedef struct _LbJobFootage LbJobFootage;
struct _LbJobFootage {
  gint64 first_ns, last_ns;     /* extent of all the input's footage; LB_TIME_NONE: none */
  gint64 covered_start_ns;      /* footage inside the requested range (an image: the */
  gint64 covered_end_ns;        /* requested time itself); LB_TIME_NONE: none */
  GArray *gaps;                 /* LbTimeRange (lb-store-footage.h) inside the range */
  GArray *unsynced;             /* LbTimeRange: parts of the footage found
                                 * (the segments the range needs) recorded
                                 * while the clock was not known to be
                                 * synchronised; may be NULL */
  GArray *keyframes_ns;         /* gint64: keyframes the range needs, in order */
  gint64 keyframe_bytes;        /* their samples' bytes */
  gchar *codec;                 /* "h264", "h265", NULL */
  gint width, height, fps_n, fps_d;
  gboolean audio;               /* some of the footage found carries audio */
  gboolean silent;              /* some of it carries none */
  gchar *sub_input;             /* a sub-stream's: the input it is indexed as */
  LbJobFootage *sub;            /* videoLowRes: the input's sub-stream over
                                 * the range when it covers all of it
                                 * (lb-store-footage.h), else NULL */
};

void lb_job_footage_clear (LbJobFootage *footage);

typedef gboolean (*LbJobsResolveFunc) (LbStore            *store,
                                       const LbRetrieval  *row,
                                       LbJobFootage       *out,
                                       gpointer            user_data,
                                       GError            **error);

/* The default resolver: lb_store_lookup() of the footage area. */
gboolean lb_jobs_resolve_from_index (LbStore           *store,
                                     const LbRetrieval *row,
                                     LbJobFootage      *out,
                                     gpointer           user_data,
                                     GError           **error);

/* Reads [jobs] and the pipeline templates (lb_pipelines_default_dir()).
 * Finished outputs go to @uploader's journal when [upload] is on (it is
 * woken for each; NULL when uploads are off).  @config, @store and
 * @uploader are not owned and must outlive the engine. */
LbJobs  *lb_jobs_new          (LbConfig   *config,
                               LbStore    *store,
                               LbUploader *uploader,
                               GError    **error);
/* Before start: where templates come from (tests), the clock (not owned;
 * NULL = real time), another resolver. */
gboolean lb_jobs_set_pipelines_dir (LbJobs      *jobs,
                                    const gchar *dir,
                                    GError     **error);
void     lb_jobs_set_clock    (LbJobs            *jobs,
                               LbClock           *clock);
void     lb_jobs_set_resolver (LbJobs            *jobs,
                               LbJobsResolveFunc  func,
                               gpointer           user_data);

/* Requeues rows left running, removes half-written outputs, starts the
 * workers. */
gboolean lb_jobs_start        (LbJobs  *jobs,
                               GError **error);
/* A retrieval was created (or, tests, the manual clock was advanced): look
 * now.  Idle workers sleep until poked or until a row they know of is due
 * (at most 30 s; 1 s in cluster mode).  Any thread.  (New footage needs no
 * poke: the engine watches the store's commits.) */
void     lb_jobs_poke         (LbJobs  *jobs);
/* Stops the workers (blocking until they have): a row in progress goes back
 * to pending and runs again at the next start. */
void     lb_jobs_stop         (LbJobs  *jobs);
void     lb_jobs_free         (LbJobs  *jobs);

/* Workers taking any row ([jobs] workers), and those taking images only
 * ([jobs] image-workers). */
guint    lb_jobs_get_n_workers (LbJobs *jobs);
guint    lb_jobs_get_n_image_workers (LbJobs *jobs);
/* Rows finished since start (available, failed or unavailable). */
guint    lb_jobs_get_n_finished (LbJobs *jobs);
/* Claims the workers tried since start (tests: an idle engine tries none
 * until poked or a row is due). */
guint    lb_jobs_get_n_claims (LbJobs *jobs);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbJobs, lb_jobs_free)

G_END_DECLS
