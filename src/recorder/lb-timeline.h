/* lookback — the recorder's timeline: wall time for footage timed by the
 * monotonic clock
 *
 * The capture pipelines run on the monotonic clock, so a step of the wall
 * clock never disturbs them.  A segment file's first frame is at monotonic
 * time m (base-time + running time); the timeline places it at wall time
 * anchor + m, and the indexer times the rest of the file from its media
 * timeline, so every file is timed by one anchor.  The anchor is the wall
 * clock minus the monotonic clock, read when the recorder starts and again
 * every second (lb_timeline_poll()):
 *
 *   - a change of more than LB_TIMELINE_STEP_MIN is a step of the wall
 *     clock (forwards or backwards, or a suspend): the anchor follows it and
 *     the recorder starts new files on it (the new anchor applies from the
 *     next file on, never inside one);
 *   - the sync status comes with each reading (lb-clock.h).  A file placed
 *     while the clock is not known to be synchronised is marked
 *     unsynchronised, with its anchor: when the clock becomes synchronised,
 *     its true time is known (time + synchronised anchor − its anchor, same
 *     boot) and the recorder re-times it (lb_store_footage_retime()).
 *
 * The index never goes backwards: a file never starts before the end of its
 * input's footage (the end indexed when the recorder started, or the end of
 * the file before it).  After a backward step, or at a start with a clock
 * behind the last footage, the input goes on from where its footage ends,
 * on the anchor of its previous file (or on one that puts it just after the
 * indexed end): its footage is "held", marked unsynchronised because its
 * times are not the clock's, and it joins the clock's anchor again as soon
 * as that no longer goes backwards (after a pause in recording at least as
 * long as the hold, or once the held footage is re-timed).  Held footage is
 * kept rather than dropped, and footage already indexed (perhaps delivered
 * already) never moves except by a re-time.  A capture that starts again
 * less than a step after its last one's nominal end (a last frame's
 * duration outlives its capture; a quick restart) is not held: it begins
 * at that end, less than a step late, in the clock's epoch.
 *
 * Thread-safe: lb_timeline_poll() runs on the recorder's main context,
 * lb_timeline_place() on streaming threads, the rest where the recorder
 * says.
 */
#pragma once

#include "core/lb-clock.h"
#include "recorder/lb-segment-writer.h"
#include "store/lb-store-footage.h"

G_BEGIN_DECLS

/* A smaller change of wall − monotonic is the jitter of reading two clocks
 * (or a slew), not a step. */
#define LB_TIMELINE_STEP_MIN (100 * G_GINT64_CONSTANT (1000000))

typedef struct _LbTimeline LbTimeline;

typedef struct {
  gint64 step_ns;               /* how far the anchor moved (0: no step) */
  gint64 anchor_ns;             /* the anchor now */
  gboolean synced;              /* the clock is synchronised now */
  gboolean sync_changed;        /* ... and was not before (or the reverse) */
  gint64 max_error_ns;          /* the kernel's estimate (time-source ntp) */
} LbTimelineChange;

/* Reads @clock (not owned; it must outlive the timeline) for the first
 * anchor. */
LbTimeline  *lb_timeline_new        (LbClock          *clock);
void         lb_timeline_free       (LbTimeline       *timeline);

const gchar *lb_timeline_get_boot_id (LbTimeline      *timeline);
/* The clock's anchor and sync status as of the last reading. */
gint64       lb_timeline_get_anchor (LbTimeline       *timeline,
                                     gboolean         *synced);

/* Reads the clock again; TRUE when the anchor stepped or the sync status
 * changed (what changed in @change). */
gboolean     lb_timeline_poll       (LbTimeline       *timeline,
                                     LbTimelineChange *change);

/* An input (@key: "vehicle/input"), whose indexed footage ends at @end_ns
 * (LB_TIME_NONE: none). */
void         lb_timeline_add_input  (LbTimeline       *timeline,
                                     const gchar      *key,
                                     gint64            end_ns);

/* Where a new file of @key goes, its first frame being at monotonic time
 * @mono_ns; @continuing: it follows the input's previous file without a
 * pause (the same running capture).  Fills @timing. */
void         lb_timeline_place      (LbTimeline       *timeline,
                                     const gchar      *key,
                                     gboolean          continuing,
                                     gint64            mono_ns,
                                     LbSegmentTiming  *timing);

/* The input stopped; its last frame ended at monotonic time @mono_end_ns. */
void         lb_timeline_stopped    (LbTimeline       *timeline,
                                     const gchar      *key,
                                     gint64            mono_end_ns);

/* @key's footage timed with the unsynchronised @old_anchor_ns was re-timed
 * to the synchronised @new_anchor_ns: its next files continue on it. */
void         lb_timeline_retimed    (LbTimeline       *timeline,
                                     const gchar      *key,
                                     gint64            old_anchor_ns,
                                     gint64            new_anchor_ns);

/* A file placed before such a re-time but not indexed yet: TRUE (and its
 * @timing moved to the synchronised anchor) when its anchor was re-timed. */
gboolean     lb_timeline_resolve    (LbTimeline       *timeline,
                                     const gchar      *key,
                                     LbSegmentTiming  *timing);

/* Operator log lines: the clock at start (@timeline's first reading), a
 * change, an input starting (@held) or ceasing to be held (the clock
 * @behind_ns behind the end of its footage), a re-time's outcome for one
 * input and epoch. */
void         lb_timeline_log_start  (LbTimeline       *timeline);
void         lb_timeline_log_change (const LbTimelineChange *change);
void         lb_timeline_log_held   (const gchar      *vehicle,
                                     const gchar      *input,
                                     gboolean          held,
                                     gint64            behind_ns);
void         lb_timeline_log_retime (const LbFootageRetime  *retime);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbTimeline, lb_timeline_free)

G_END_DECLS
