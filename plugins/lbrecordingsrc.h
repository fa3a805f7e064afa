/* lookback — lbrecordingsrc: recorded footage out of a lookback store */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/**
 * LbRecordingSrcMode:
 * @LB_RECORDING_SRC_MODE_ALL: every frame, from the keyframe at or before
 *   the start
 * @LB_RECORDING_SRC_MODE_KEYFRAMES: keyframes only; only their bytes are
 *   read (offsets and sizes come from the index)
 */
typedef enum {
  LB_RECORDING_SRC_MODE_ALL,
  LB_RECORDING_SRC_MODE_KEYFRAMES,
} LbRecordingSrcMode;

#define LB_TYPE_RECORDING_SRC_MODE (lb_recording_src_mode_get_type ())
GType lb_recording_src_mode_get_type (void);

#define LB_TYPE_RECORDING_SRC (lb_recording_src_get_type ())
G_DECLARE_FINAL_TYPE (LbRecordingSrc, lb_recording_src, LB, RECORDING_SRC,
    GstBin)

GST_ELEMENT_REGISTER_DECLARE (lbrecordingsrc);

G_END_DECLS
