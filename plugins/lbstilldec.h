/* lookback — lbstilldec: decodes to the one frame nearest a time */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define LB_TYPE_STILL_DEC (lb_still_dec_get_type ())
G_DECLARE_FINAL_TYPE (LbStillDec, lb_still_dec, LB, STILL_DEC, GstElement)

GST_ELEMENT_REGISTER_DECLARE (lbstilldec);

G_END_DECLS
