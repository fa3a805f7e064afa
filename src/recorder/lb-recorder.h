/* lookback — the recorder: one capture pipeline per configured input
 *
 * Each [input VEHICLE INPUT] of the configuration gets a pipeline
 *
 *   <source from the config> ! <pipelines/record-source.pipeline>
 *       → H.264:           <pipelines/record-h264.pipeline>   (passed through)
 *       → H.265:           <pipelines/record-h265.pipeline>   (passed through)
 *       → raw video:       <pipelines/record-encode.pipeline> (encoded)
 *       → other video:     the best-ranked decoder for it ! record-encode
 *   ! the splitmuxsink of an LbSegmentWriter (lb-segment-writer.h)
 *
 * An input with sub-source= gets a second pipeline of the same shape for its
 * camera's sub-stream, recorded as the input INPUT.sub (lb-store-footage.h):
 * its own files, timeline, retries and log lines, never disturbing the main
 * stream's.
 *
 * record-source.pipeline ends in a parsebin named "parse" (it depayloads
 * RTP and parses what the source gives); its capsfilter "accept" lists, in
 * order of preference, what a source may negotiate (H.264 and H.265 first:
 * they are recorded as they come; then I420).
 *
 * running on the MONOTONIC system clock: a step of the wall clock does not
 * disturb capture.  Each file is timed, and named, by the wall clock of its
 * first frame as the timeline places it (lb-timeline.h: the monotonic clock
 * anchored to the wall clock; steps; footage recorded while the clock is
 * not synchronised is marked and re-timed once it is; an input never goes
 * back before the end of its footage).  The element named "enc" of the encode
 * template gets key-int-max = one [recorder] fragment-duration of frames
 * when it has that property (x264enc); an operator can swap in a hardware
 * encoder by editing the template.
 *
 * Indexing happens as it records, on one indexing thread: about once a second
 * lb_indexer_update() for every open file (fsync + one transaction), and
 * lb_indexer_finish() when splitmuxsink closes a file.
 *
 * A camera that stops (error, EOS, or no video for a few seconds) has its
 * open segment closed and indexed, and is reopened after [recorder]
 * retry-min, doubling up to retry-max; the backoff resets once a new segment
 * opens.  The gap shows between segments.  A full disk stops an input the
 * same way; it records again once the store's file system has 8 MiB free
 * (looked at every second, and not before the backoff).  A segment whose
 * final indexing fails for want of space (or a busy store) is indexed again
 * every second until it succeeds; a file that holds no whole fragment with a
 * keyframe is removed.
 *
 * The operator sees one lb_log line per event: camera connected, lost and
 * back (once per outage, not per retry), disk full and back, and the first
 * indexing failure of each segment.
 *
 * Everything runs on the thread-default main context of the caller of
 * lb_recorder_start() (the daemon's main loop); pipelines stream on their own
 * threads and report through their buses.
 */
#pragma once

#include "core/lb-clock.h"
#include "core/lb-config.h"
#include "store/lb-store.h"

#include <gst/gst.h>

G_BEGIN_DECLS

typedef struct _LbRecorder LbRecorder;

typedef void (*LbRecorderDoneFunc) (LbRecorder *recorder,
                                    gpointer    user_data);

LbRecorder *lb_recorder_new   (LbConfig    *config,
                               LbStore     *store,
                               GError     **error);

/* Before start: the wall clock and its sync status (not owned; it must
 * outlive the recorder).  By default the system's, with [recorder]
 * time-source.  Its monotonic clock must be the system's (lb-clock.h): the
 * pipelines run on it. */
void        lb_recorder_set_clock (LbRecorder *recorder,
                                   LbClock    *clock);

/* Starts every input's pipeline (an input that fails to start is retried
 * like a camera that drops; only a bad configuration fails here). */
gboolean    lb_recorder_start (LbRecorder  *recorder,
                               GError     **error);

/* Clean stop: EOS through every pipeline, waits until the last segment of
 * each input is closed and indexed, then calls @done on the main context.
 * Calling it again (or on a recorder never started) just calls @done. */
void        lb_recorder_stop  (LbRecorder          *recorder,
                               LbRecorderDoneFunc   done,
                               gpointer             user_data);

/* Number of inputs whose pipeline is delivering video right now. */
guint       lb_recorder_count_recording (LbRecorder *recorder);

/* Segments closed and indexed since start (all inputs). */
guint       lb_recorder_count_closed    (LbRecorder *recorder);

/* Stops without waiting (if still running, open files are left for the next
 * start's reconcile) and frees. */
void        lb_recorder_free  (LbRecorder *recorder);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbRecorder, lb_recorder_free)

/* For capture pipelines (the recorder's and the importer's): a stream that
 * is not recorded (audio without audio=true, a second video) goes to a
 * fakesink added to
 * @pipeline and kept PLAYING whatever the pipeline's state, so that a
 * demuxer never blocks in preroll on it while the segment sink waits for
 * video.  Returns the fakesink's sink pad (for a probe).  Before @pipeline
 * goes to NULL, lb_recorder_release_dropped() lets those sinks follow. */
GstPad     *lb_recorder_drop_stream     (GstElement *pipeline,
                                         GstPad     *pad);
void        lb_recorder_release_dropped (GstElement *pipeline);

/* The text of the pipeline template @name ("record-audio-encode.pipeline"):
 * the source tree's when run from it, else the installed one.  For the
 * importer, which encodes audio as the recorder does. */
gchar      *lb_recorder_read_template   (const gchar *name,
                                         GError     **error);
/* A new instance of the best decoder of @caps, or NULL. */
GstElement *lb_recorder_make_decoder    (GstCaps     *caps);

G_END_DECLS
