/* lookback — lbframepick: passes the one frame nearest to a time */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define LB_TYPE_FRAME_PICK (lb_frame_pick_get_type ())
G_DECLARE_FINAL_TYPE (LbFramePick, lb_frame_pick, LB, FRAME_PICK, GstElement)

GST_ELEMENT_REGISTER_DECLARE (lbframepick);

G_END_DECLS
