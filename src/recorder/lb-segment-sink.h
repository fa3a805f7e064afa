/* lookback — the segment sink: crash-safe fragmented MP4 segments
 *
 * A splitmuxsink configured for the store's segment layout:
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
 *   - a new file every @segment_duration_ns, at a keyframe;
 *   - files named <store>/segments/<vehicle>/<input>/<start_ns>.mp4 where
 *     start_ns is the wall-clock time of the file's first frame.
 *
 * Wall clock of a buffer: by default base-time + running-time of its PTS,
 * which is the wall clock when the pipeline runs on lb_segment_sink_new_clock()
 * (the REALTIME system clock).  lb_segment_sink_set_origin() replaces
 * base-time with an explicit origin (imports of files, which run as fast as
 * they can).
 *
 * The sink posts splitmuxsink's element messages; lb_segment_sink_parse_message()
 * turns the "file opened" and "file closed" ones into (path, start_ns).
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

typedef enum {
  LB_SEGMENT_EVENT_NONE,
  LB_SEGMENT_EVENT_OPENED,      /* a new file was created; it grows from now on */
  LB_SEGMENT_EVENT_CLOSED,      /* the file is complete and closed */
} LbSegmentEvent;

GstElement     *lb_segment_sink_new          (const gchar *store_dir,
                                              const gchar *vehicle,
                                              const gchar *input,
                                              gint64       segment_duration_ns,
                                              gint64       fragment_duration_ns);

/* Wall clock = @origin_ns + running time (instead of base-time + running
 * time).  May be called from a streaming thread before the first buffer of
 * a file reaches the sink. */
void            lb_segment_sink_set_origin   (GstElement *sink,
                                              gint64      origin_ns);

/* The REALTIME system clock: base-time + running-time = ns since the epoch. */
GstClock       *lb_segment_sink_new_clock    (void);

/* Files named by @sink and not closed yet (being written, or about to be). */
guint           lb_segment_sink_count_open    (GstElement *sink);

/* Streams that are not recorded (audio, a second video) go to a fakesink
 * added to @pipeline and kept PLAYING whatever the pipeline's state, so that
 * a demuxer never blocks in preroll on them while the segment sink waits for
 * video.  Returns the fakesink's sink pad (for a probe).  Before @pipeline
 * goes to NULL, lb_segment_sink_release_dropped() lets those sinks follow. */
GstPad         *lb_segment_sink_drop_stream   (GstElement *pipeline,
                                               GstPad     *pad);
void            lb_segment_sink_release_dropped (GstElement *pipeline);

/* Their paths. */
GStrv           lb_segment_sink_list_open     (GstElement *sink);

/* If @message is a segment event of @sink (or of any segment sink when @sink
 * is NULL), returns it with the file's path and first-frame wall clock. */
LbSegmentEvent  lb_segment_sink_parse_message (GstElement  *sink,
                                               GstMessage  *message,
                                               gchar      **out_path,
                                               gint64      *out_start_ns);

G_END_DECLS
