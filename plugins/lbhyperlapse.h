/* lookback — lbhyperlapse: one frame per interval, re-timed to a frame rate */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define LB_TYPE_HYPERLAPSE (lb_hyperlapse_get_type ())
G_DECLARE_FINAL_TYPE (LbHyperlapse, lb_hyperlapse, LB, HYPERLAPSE, GstElement)

GST_ELEMENT_REGISTER_DECLARE (lbhyperlapse);

G_END_DECLS
