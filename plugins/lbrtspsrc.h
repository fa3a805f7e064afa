/* lookback — lbrtspsrc: a lean RTSP client source (interleaved TCP) */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define LB_TYPE_RTSP_SRC (lb_rtsp_src_get_type ())
G_DECLARE_FINAL_TYPE (LbRtspSrc, lb_rtsp_src, LB, RTSP_SRC, GstElement)

GST_ELEMENT_REGISTER_DECLARE (lbrtspsrc);

G_END_DECLS
