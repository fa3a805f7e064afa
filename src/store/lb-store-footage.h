/* lookback — store area 'footage': segments, keyframes, lookup, pins
 *
 * Times are wall-clock nanoseconds since the epoch (UTC).  A segment is one
 * fragmented MP4 file with one fragment (moof + mdat) per GOP; each fragment
 * begins with a keyframe, which has one row in the keyframe table.
 *
 * Mapping between a file's media timeline and the wall clock:
 *   wall_ns = segment->start_ns + (media_pts_ns - segment->media_base_ns)
 *
 * The read side below is the contract that lbrecordingsrc and the job
 * engine use; the write side (segment begin/append/finish, pins, retention)
 * is declared further down by the footage area.
 */
#pragma once

#include "store/lb-store.h"

G_BEGIN_DECLS

typedef struct {
  gint64 id;
  gchar *vehicle;
  gchar *input;
  gchar *path;                  /* absolute path of the file */
  gint64 start_ns;              /* wall clock of the first frame */
  gint64 end_ns;                /* wall clock end of the last indexed frame */
  gint64 media_base_ns;         /* media PTS of the first frame */
  gchar *codec;                 /* "h264" or "h265" */
  gchar *caps;                  /* GstCaps of the stream, with codec_data */
  gint width, height;
  gint fps_n, fps_d;            /* 0/1 when variable or unknown */
  gint64 init_size;             /* bytes of ftyp + moov at the file's start */
  gint64 bytes;                 /* bytes indexed: complete, synced fragments */
  gboolean open;                /* still being recorded */
  gint64 clock_epoch;           /* 0: timed by a synchronised wall clock (or
                                 * imported); else the clock epoch it was
                                 * timed in, not synchronised (below) */
  gchar *audio;                 /* its audio track's codec ("aac", "opus",
                                 * lb-codec.h), NULL: no audio */
  gchar *audio_caps;            /* GstCaps of the audio, with codec_data */
} LbSegment;

typedef struct {
  gint64 segment_id;
  gint64 time_ns;               /* wall clock of the keyframe */
  gint64 offset;                /* byte offset of its fragment (moof) */
  gint64 size;                  /* bytes of the fragment, moof + mdat */
  gint64 sample_offset;         /* byte offset of the keyframe's sample */
  gint64 sample_size;           /* bytes of the keyframe's sample */
  guint frames;                 /* frames in the fragment (the GOP) */
} LbKeyframe;

typedef struct {
  gint64 start_ns;
  gint64 end_ns;
} LbTimeRange;

/* The part of one segment a request needs: the fragments from the keyframe
 * at or before the range's start (or the segment's first) to the last one
 * that begins before the range's end. */
typedef struct {
  LbSegment *segment;
  GArray *keyframes;            /* LbKeyframe, in time order: one per fragment to read */
} LbFootagePiece;

typedef struct {
  gchar *vehicle;
  gchar *input;
  gint64 start_ns, end_ns;      /* the range asked for */
  GPtrArray *pieces;            /* LbFootagePiece*, in time order */
  GArray *gaps;                 /* LbTimeRange: parts of the range with no footage */
  gint64 first_ns, last_ns;     /* extent of all footage of the input (LB_TIME_NONE if none) */
} LbFootagePlan;

/**
 * lb_store_lookup:
 *
 * What is recorded for @vehicle/@input between @start_ns and @end_ns
 * (end exclusive; an image passes start == end: when no segment covers
 * that instant but one ends or begins within ~2 frame intervals of it —
 * a crack between segments — that one is the piece).  Answered by indexed
 * queries whose cost does not grow with the hours recorded.  A plan with no
 * pieces is not an error: the caller decides between "unavailable" and "not
 * recorded yet" from first_ns/last_ns.
 */
LbFootagePlan *lb_store_lookup (LbStore      *store,
                                const gchar  *vehicle,
                                const gchar  *input,
                                gint64        start_ns,
                                gint64        end_ns,
                                GError      **error);

void           lb_footage_plan_free (LbFootagePlan *plan);
void           lb_segment_free      (LbSegment *segment);
LbSegment     *lb_segment_copy      (const LbSegment *segment);

/* ---- streams ----
 *
 * A camera's sub-stream (its low-resolution second profile, [input]
 * sub-source=) is indexed as an input of its own, INPUT.sub: its own
 * segment files (segments/VEHICLE/INPUT.sub/), rows, totals and extent, so
 * that everything that reads an input's footage reads its main stream
 * only; the segment rows carry their stream ('main' or 'sub').  Input names
 * are the API's (lb_config_is_api_input()): none ends in ".sub".  A pin of
 * an input holds the footage of both its streams. */

/* The input under which @input's sub-stream is indexed. */
gchar         *lb_footage_sub_input    (const gchar  *input);
/* The camera input of @input: itself, or the input whose sub-stream it is
 * (*@is_sub, nullable, says which). */
gchar         *lb_footage_main_input   (const gchar  *input,
                                        gboolean     *is_sub);

/* ---- write side (the indexer, the importer, retention) ---- */

/* Inserts an open segment row from @segment (vehicle, input, path — absolute
 * under the store dir or relative to it —, start_ns, media_base_ns, codec,
 * caps, width, height, fps, init_size); end_ns = start_ns, bytes =
 * init_size.  Sets @segment->id. */
gboolean       lb_store_segment_begin  (LbStore      *store,
                                        LbSegment    *segment,
                                        GError      **error);

/* Adds complete segments (LbSegment*, end_ns/bytes/open as given) with their
 * keyframes (@keyframes: GArray of LbKeyframe per segment, or NULL) in ONE
 * transaction: nothing is half-indexed.  Sets each segment's id. */
gboolean       lb_store_segment_add    (LbStore      *store,
                                        GPtrArray    *segments,
                                        GPtrArray    *keyframes,
                                        GError      **error);

/**
 * LbSegmentSource:
 * @keyframes: (out): the segment's keyframes (LbKeyframe), or left NULL
 *
 * The next segment to add, or NULL when there is none left.  The segment
 * and its keyframes stay the source's; the store sets the segment's id and
 * does not look at either after the next call.
 */
typedef LbSegment *(*LbSegmentSource) (GArray   **keyframes,
                                       gpointer   user_data);

/* lb_store_segment_add() for any number of segments: every segment
 * @source gives, with its keyframes, in ONE transaction on cached
 * statements (imports of many files, benchmarks). */
gboolean       lb_store_segment_add_all (LbStore         *store,
                                         LbSegmentSource  source,
                                         gpointer         user_data,
                                         GError         **error);

/* One transaction: grows the byte range of the segment's last keyframe
 * row to end at @extend_end (0: unchanged) and its frames by @extend_frames
 * (fragments without a keyframe belong to the GOP before them), appends
 * @keyframes (LbKeyframe, may be NULL) and moves the segment's end_ns /
 * bytes. */
gboolean       lb_store_segment_append (LbStore      *store,
                                        gint64        segment_id,
                                        gint64        extend_end,
                                        guint         extend_frames,
                                        GArray       *keyframes,
                                        gint64        end_ns,
                                        gint64        bytes,
                                        GError      **error);

/* What lb_store_segment_append() takes, for one segment. */
typedef struct {
  gint64 segment_id;
  gint64 extend_end;
  guint extend_frames;
  GArray *keyframes;            /* LbKeyframe, may be NULL */
  gint64 end_ns;
  gint64 bytes;
} LbSegmentAppend;

/* lb_store_segment_append() of @n segments (the files being recorded) in
 * ONE transaction: all or none. */
gboolean       lb_store_segment_append_all (LbStore               *store,
                                            const LbSegmentAppend *appends,
                                            guint                  n,
                                            GError               **error);

/* Marks the segment closed (no more appends). */
gboolean       lb_store_segment_finish (LbStore      *store,
                                        gint64        segment_id,
                                        GError      **error);

/* Removes the segment row and its keyframes (not the file). */
gboolean       lb_store_segment_delete (LbStore      *store,
                                        gint64        segment_id,
                                        GError      **error);

/* NULL with LB_ERROR_NOT_FOUND when there is no such row. */
LbSegment     *lb_store_segment_get    (LbStore      *store,
                                        gint64        segment_id,
                                        GError      **error);
/* The segment whose file is @path (absolute or store-relative); 0 if none. */
gint64         lb_store_segment_find_path (LbStore     *store,
                                           const gchar *path,
                                           GError     **error);

/* Segments (LbSegment*) in start order; @vehicle / @input may be NULL for
 * all; @open_only limits to open ones.  For maintenance (reconcile). */
GPtrArray     *lb_store_segment_list   (LbStore      *store,
                                        const gchar  *vehicle,
                                        const gchar  *input,
                                        gboolean      open_only,
                                        GError      **error);

/* The @limit oldest segments of an input that start after @after_ns
 * (G_MININT64 for the very oldest): retention candidates, page by page. */
GPtrArray     *lb_store_segment_oldest (LbStore      *store,
                                        const gchar  *vehicle,
                                        const gchar  *input,
                                        gint64        after_ns,
                                        guint         limit,
                                        GError      **error);

/* First start and last end of an input's footage (LB_TIME_NONE if none). */
gboolean       lb_store_footage_extent (LbStore      *store,
                                        const gchar  *vehicle,
                                        const gchar  *input,
                                        gint64       *first_ns,
                                        gint64       *last_ns,
                                        GError      **error);

/* The keyframe rows of a segment, in time order. */
GArray        *lb_store_segment_keyframes (LbStore    *store,
                                           gint64      segment_id,
                                           GError    **error);

typedef struct {
  gchar *vehicle;
  gchar *input;
  guint segments;
  gint64 bytes;                 /* sum of the segments' bytes */
  gint64 max_segment_ns;        /* longest segment ever indexed */
  gint64 last_start_ns;         /* start of its newest segment */
} LbFootageInput;

/* Every input with footage (LbFootageInput*), ordered by vehicle, input;
 * @vehicle may be NULL for all. */
GPtrArray     *lb_store_footage_inputs (LbStore      *store,
                                        const gchar  *vehicle,
                                        GError      **error);
void           lb_footage_input_free   (LbFootageInput *input);

/* ---- new footage ---- */

/**
 * LbFootageFunc:
 * @end_ns: where the input's footage written by the commit ends
 *
 * Told after each commit of this store that adds footage to an input (a
 * segment begun, appended to or added), on the committing thread, once the
 * store's SQL lock is released but with its state lock held: it must be
 * quick, may take locks of its own, and must not call the store.
 */
typedef void (*LbFootageFunc) (const gchar *vehicle,
                               const gchar *input,
                               gint64       end_ns,
                               gpointer     user_data);

/* The one watcher of the footage this store writes (the jobs engine wakes
 * the rows waiting for it); NULL removes it.  Once this returns, the
 * previous watcher is not running and will not be called again. */
void           lb_store_set_footage_func (LbStore       *store,
                                          LbFootageFunc  func,
                                          gpointer       user_data);

/* ---- pins: footage a retrieval still needs is kept by retention ---- */

gboolean       lb_store_pin            (LbStore      *store,
                                        const gchar  *owner,
                                        const gchar  *vehicle,
                                        const gchar  *input,
                                        gint64        start_ns,
                                        gint64        end_ns,
                                        GError      **error);
/* Removes every pin of @owner. */
gboolean       lb_store_unpin          (LbStore      *store,
                                        const gchar  *owner,
                                        GError      **error);
/* Whether a pin overlaps the segment's [start_ns, end_ns). */
gboolean       lb_store_segment_is_pinned (LbStore         *store,
                                           const LbSegment *segment,
                                           GError         **error);

/* ---- coverage ---- */

/* Recorded ranges and gaps (LbTimeRange) of an input within
 * [@start_ns, @end_ns): segments closer than ~2 frame intervals merge.
 * @unsynced (nullable): the recorded parts timed by a wall clock that was
 * not known to be synchronised. */
gboolean       lb_store_coverage       (LbStore      *store,
                                        const gchar  *vehicle,
                                        const gchar  *input,
                                        gint64        start_ns,
                                        gint64        end_ns,
                                        GArray      **ranges,
                                        GArray      **gaps,
                                        GArray      **unsynced,
                                        GError      **error);

/* The parts of [@start_ns, @end_ns) that @plan's footage covers with a
 * clock that was not known to be synchronised (LbTimeRange, in order). */
GArray        *lb_footage_plan_unsynced (const LbFootagePlan *plan,
                                         gint64               start_ns,
                                         gint64               end_ns);

/* ---- clock epochs (lb-store-clock.c) ----
 *
 * Footage timed by a wall clock that was not known to be synchronised
 * carries its clock epoch: the boot of the monotonic clock it was timed
 * from and the anchor (wall − monotonic, ns) that turned monotonic time into
 * wall time.  Once the synchronised anchor of the same boot is known, its
 * true time is its time + (synchronised anchor − epoch anchor).  Footage of
 * another boot cannot be moved (its monotonic clock is gone): it stays
 * marked.
 */

/* The epoch of (@boot_id, @offset_ns), created when new; 0 on error. */
gint64         lb_store_clock_epoch    (LbStore      *store,
                                        const gchar  *boot_id,
                                        gint64        offset_ns,
                                        GError      **error);

typedef struct {
  gchar *vehicle;
  gchar *input;
  gint64 epoch;                 /* the clock epoch it was timed in */
  gint64 delta_ns;              /* synchronised anchor − the epoch's anchor */
  guint segments;
  gint64 start_ns, end_ns;      /* where it was: first start, last end */
  gboolean moved;               /* FALSE: it stays where it was, marked, */
  gint64 blocker_start_ns;      /* because its new place overlaps footage */
  gint64 blocker_end_ns;        /* of the input there */
} LbFootageRetime;

/**
 * lb_store_footage_retime:
 * @offset_ns: the synchronised anchor (wall − monotonic) of boot @boot_id
 * @groups: (out): LbFootageRetime*, one per input and epoch, ordered by
 *   vehicle, input and time
 *
 * Moves the unsynchronised footage of boot @boot_id to its true time, in ONE
 * transaction: each input's segments of each epoch move by delta_ns, their
 * keyframe rows with them, and are marked synchronised — all of them or
 * none: when their new place would overlap other footage of the input
 * (footage that stays, or that this call moves), they stay where they are,
 * still marked.  Open segments move too: whoever writes them must move its
 * own idea of their times (lb_indexer_shift()).  Epochs of other boots that
 * no footage uses any more are forgotten.
 */
gboolean       lb_store_footage_retime (LbStore      *store,
                                        const gchar  *boot_id,
                                        gint64        offset_ns,
                                        GPtrArray   **groups,
                                        GError      **error);
void           lb_footage_retime_free  (LbFootageRetime *retime);

/* The SQL of the lookup's segment query and of its per-segment keyframe
 * query (tests explain them). */
const gchar   *lb_store_lookup_sql     (void);
const gchar   *lb_store_lookup_keyframes_sql (void);

/* ---- segment file layout ----
 *
 * <store dir>/segments/<vehicle, URI-escaped>/<input, URI-escaped>/<start_ns>.mp4
 * where start_ns is the wall-clock time of the file's first frame when it
 * was named: a re-timed segment (lb_store_footage_retime()) keeps its name
 * while its row's times move.  The index stores paths relative to the store
 * dir ("segments/...").
 */
gchar         *lb_footage_segment_relpath (const gchar *vehicle,
                                           const gchar *input,
                                           gint64       start_ns);
gchar         *lb_footage_segment_path    (const gchar *store_dir,
                                           const gchar *vehicle,
                                           const gchar *input,
                                           gint64       start_ns);
/* The inverse: TRUE when @path (absolute under @store_dir, or relative to
 * it) follows the layout; outputs may be NULL. */
gboolean       lb_footage_parse_segment_path (const gchar  *store_dir,
                                              const gchar  *path,
                                              gchar       **vehicle,
                                              gchar       **input,
                                              gint64       *start_ns);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbFootagePlan, lb_footage_plan_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbSegment, lb_segment_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbFootageRetime, lb_footage_retime_free)

G_END_DECLS
