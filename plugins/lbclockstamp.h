/* lookback — lbclockstamp: draws the frame's wall-clock time into the picture */
#pragma once

#include <gst/video/gstvideofilter.h>

G_BEGIN_DECLS

/**
 * LbClockStampSource:
 * @LB_CLOCK_STAMP_SOURCE_RUNNING_TIME: the element's base time plus the
 *   buffer's running time (the capture time of the frame on the pipeline
 *   clock)
 * @LB_CLOCK_STAMP_SOURCE_CLOCK: the pipeline clock's time when the frame
 *   passes the element
 * @LB_CLOCK_STAMP_SOURCE_PTS: the buffer's PTS plus #LbClockStamp:offset
 *   (for footage made faster than real time: a corpus, a test recording)
 * @LB_CLOCK_STAMP_SOURCE_WALL: the capture time of the frame on the wall
 *   clock: its time on the pipeline clock (as with running-time) moved by
 *   the wall clock minus the pipeline clock, read as the frame passes
 *   (lookbackd's pipelines run on the monotonic clock)
 */
typedef enum {
  LB_CLOCK_STAMP_SOURCE_RUNNING_TIME,
  LB_CLOCK_STAMP_SOURCE_CLOCK,
  LB_CLOCK_STAMP_SOURCE_PTS,
  LB_CLOCK_STAMP_SOURCE_WALL,
} LbClockStampSource;

#define LB_TYPE_CLOCK_STAMP_SOURCE (lb_clock_stamp_source_get_type ())
GType lb_clock_stamp_source_get_type (void);

#define LB_TYPE_CLOCK_STAMP (lb_clock_stamp_get_type ())
G_DECLARE_FINAL_TYPE (LbClockStamp, lb_clock_stamp, LB, CLOCK_STAMP,
    GstVideoFilter)

GST_ELEMENT_REGISTER_DECLARE (lbclockstamp);

G_END_DECLS
