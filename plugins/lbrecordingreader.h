/* lookback — the reading half of lbrecordingsrc (not a factory)
 *
 * A GstPushSrc that pushes the samples of an LbFootagePlan, in time order,
 * with wall-clock timestamps, reading the segment files with pread().
 * lbrecordingsrc does the lookup and hands the plan over before the reader
 * starts; messages and errors are posted as the owner (the bin).
 */
#pragma once

#include <gst/base/gstpushsrc.h>

#include "store/lb-store-footage.h"

G_BEGIN_DECLS

#define LB_TYPE_RECORDING_READER (lb_recording_reader_get_type ())
G_DECLARE_FINAL_TYPE (LbRecordingReader, lb_recording_reader, LB,
    RECORDING_READER, GstPushSrc)

/* Takes @plan.  Call in READY, before the reader goes to PAUSED. */
void     lb_recording_reader_configure      (LbRecordingReader *reader,
                                             GstElement        *owner,
                                             const gchar       *store_dir,
                                             LbFootagePlan     *plan,
                                             gint64             start_ns,
                                             gint64             end_ns,
                                             gboolean           keyframes_only);

/* mode all, video: ends the stream as soon as no later sample can be
 * nearer to @nearest_ns than one pushed (LB_TIME_NONE: reads to the end).
 * Call with configure. */
void     lb_recording_reader_set_nearest    (LbRecordingReader *reader,
                                             gint64             nearest_ns);

/* Reads the audio track instead of the video (call with configure):
 * the audio frames that sound in [start, end) (the first may begin up to a
 * frame before start), from the pieces whose
 * segment has audio; no messages are posted (the video reader posts
 * them). */
void     lb_recording_reader_set_audio      (LbRecordingReader *reader,
                                             gboolean           audio);

/* Whether a piece of @plan carries audio. */
gboolean lb_recording_plan_has_audio        (const LbFootagePlan *plan);

/* keyframes mode: the parser after the reader gives every buffer the
 * duration of one frame (from the SPS); this puts the reader's (until the
 * next keyframe) back on @buffer, which must be writable.  Streaming
 * thread. */
void     lb_recording_reader_restore_duration (LbRecordingReader *reader,
                                               GstBuffer         *buffer);

/* Sample bytes read from segment files since the reader started. */
guint64  lb_recording_reader_get_bytes_read (LbRecordingReader *reader);

G_END_DECLS
