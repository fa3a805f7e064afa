/* lookback — the segment writer: crash-safe fragmented MP4 segments
 *
 * An LbSegmentWriter owns the splitmuxsink that writes one input's segment
 * files in the store's layout, and keeps the record of the files it has
 * named (path → wall clock of the first frame) until they are closed.
 *
 * Its splitmuxsink (lb_segment_writer_get_sink) is configured so:
 *   - mp4mux with fragment-mode=first-moov-then-finalise: the file is a
 *     fragmented MP4 while it grows (after a kill -9, readable up to its
 *     last complete fragment, and up to its last sample once reconcile has
 *     recovered the fragment whose moof was not written) and a plain MP4
 *     once closed at EOS;
 *   - a new fragment at every keyframe (mp4mux cuts at keyframes; its
 *     fragment-duration is only an upper bound, set to the segment length so
 *     that a fragment is always exactly one GOP);
 *   - an unbuffered filesink: every buffer mp4mux pushes is written at once,
 *     so after a kill the file holds every sample splitmuxsink had handed to
 *     the muxer (except the one mp4mux holds to time it); the samples of the
 *     last fragment, whose moof is not written yet, are recovered at the next
 *     start (lb_footage_reconcile, lb-reconcile.h);
 *   - beside a file with audio, its sample journal (lb-mp4-journal.h:
 *     one record per sample the muxer receives, written at once, never
 *     fsynced; removed when the file closes): the video and audio samples
 *     of a torn last fragment lie interleaved, and an audio frame carries
 *     no length, so recovery needs it;
 *   - a new file every @segment_duration_ns, at a keyframe;
 *   - files named <store>/segments/<vehicle>/<input>/<start_ns>.mp4 where
 *     start_ns is the wall-clock time of the file's first frame when it was
 *     opened (a re-timed file keeps its name).
 *
 * Wall clock of a buffer: the anchor of its file + base-time + running-time
 * of its PTS.  A placer (lb_segment_writer_set_placer(), the recorder's
 * timeline) chooses each file's anchor when the pipeline runs on
 * lb_segment_writer_new_clock() (the MONOTONIC system clock);
 * lb_segment_writer_set_origin() replaces base-time with an explicit origin
 * (imports of files, which run as fast as they can).  Without either the
 * anchor is 0.
 *
 * The sink posts splitmuxsink's element messages;
 * lb_segment_writer_parse_message() turns the "file opened" and "file
 * closed" ones into (path, start_ns).
 *
 * The writer may be freed only once the pipeline holding its sink is in
 * NULL (no streaming thread names a file any more).
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

typedef enum {
  LB_SEGMENT_EVENT_NONE,
  LB_SEGMENT_EVENT_OPENED,      /* a new file was created; it grows from now on */
  LB_SEGMENT_EVENT_CLOSED,      /* the file is complete and closed */
} LbSegmentEvent;

typedef struct _LbSegmentWriter LbSegmentWriter;

/**
 * LbSegmentTiming:
 * How a file is timed: the wall clock of a frame is @anchor_ns + its
 * pipeline clock time (base-time + running time).
 */
typedef struct {
  gint64 start_ns;              /* wall clock of its first frame (its name) */
  gint64 anchor_ns;
  gint64 epoch_anchor_ns;       /* the clock anchor it was timed under, which
                                 * a re-time replaces (lb-timeline.h):
                                 * anchor_ns, or less than a step below it */
  gboolean synced;              /* timed by a wall clock known to be
                                 * synchronised (an import: by its origin) */
  gboolean held;                /* placed after its input's footage rather
                                 * than where the clock says (lb-timeline.h) */
} LbSegmentTiming;

/* Times a new file whose first frame is at pipeline clock time @clock_ns;
 * @continuing: a file of this writer came just before it.  Called on a
 * streaming thread. */
typedef void (*LbSegmentPlaceFunc) (gboolean         continuing,
                                    gint64           clock_ns,
                                    LbSegmentTiming *timing,
                                    gpointer         user_data);

/* @fragment_duration_ns: the GOP length the recorder asks of encoders; the
 * muxer cuts a fragment at every keyframe, and at the latest after
 * max(@segment_duration_ns, @fragment_duration_ns).  NULL when mp4mux or
 * splitmuxsink is missing. */
LbSegmentWriter *lb_segment_writer_new        (const gchar *store_dir,
                                               const gchar *vehicle,
                                               const gchar *input,
                                               gint64       segment_duration_ns,
                                               gint64       fragment_duration_ns);
void             lb_segment_writer_free       (LbSegmentWriter *writer);

/* (transfer none): its splitmuxsink, with a "video" request pad; add it to
 * a bin (the bin takes its own reference). */
GstElement      *lb_segment_writer_get_sink   (LbSegmentWriter *writer);

/* Wall clock = @origin_ns + running time (instead of base-time + running
 * time).  May be called from a streaming thread before the first buffer of
 * a file reaches the sink. */
void             lb_segment_writer_set_origin (LbSegmentWriter *writer,
                                               gint64           origin_ns);

/* Each new file is timed by @func (before the first buffer). */
void             lb_segment_writer_set_placer (LbSegmentWriter   *writer,
                                               LbSegmentPlaceFunc func,
                                               gpointer           user_data);

/* The MONOTONIC system clock (the monotonic clock of lb-clock.h). */
GstClock        *lb_segment_writer_new_clock  (void);

/* How the open file @path is timed; FALSE when the writer does not know it
 * (closed, or never named by it). */
gboolean         lb_segment_writer_get_timing (LbSegmentWriter *writer,
                                               const gchar     *path,
                                               LbSegmentTiming *timing);

/* Closes the file being written at the next keyframe and goes on in a new
 * one (timed anew). */
void             lb_segment_writer_split      (LbSegmentWriter *writer);

/* Files named by the writer and not closed yet (being written, or about to
 * be), and their paths. */
guint            lb_segment_writer_count_open (LbSegmentWriter *writer);
GStrv            lb_segment_writer_list_open  (LbSegmentWriter *writer);

/* If @message is a segment event of the writer's sink, returns it with the
 * file's path and first-frame wall clock (a closed file is forgotten). */
LbSegmentEvent   lb_segment_writer_parse_message (LbSegmentWriter  *writer,
                                                  GstMessage       *message,
                                                  gchar           **out_path,
                                                  gint64           *out_start_ns);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbSegmentWriter, lb_segment_writer_free)

G_END_DECLS
