/* lookback — lbclockcheck: reads back the time lbclockstamp drew */
#pragma once

#include <gst/video/gstvideofilter.h>

G_BEGIN_DECLS

#define LB_TYPE_CLOCK_CHECK (lb_clock_check_get_type ())
G_DECLARE_FINAL_TYPE (LbClockCheck, lb_clock_check, LB, CLOCK_CHECK,
    GstVideoFilter)

GST_ELEMENT_REGISTER_DECLARE (lbclockcheck);

G_END_DECLS
