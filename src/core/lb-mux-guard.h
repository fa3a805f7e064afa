/* lookback — a muxer's caps kept alive (mp4mux 1.22.0)
 *
 * mp4mux 1.22.0 checks a caps event, in the thread that sends it, against
 * the caps it configured from the previous one, which its own thread may
 * replace — and free — meanwhile, with no lock on either side
 * (gst_qt_mux_can_renegotiate; fixed in 1.22.1 by "qtmux: Fix assertion on
 * caps update").  A stream that sends a few caps in a row (an RTSP camera
 * with H.265 and B-frames at its start: the parser's caps, then its
 * updates) crashed lookbackd in about one start in twenty.
 *
 * lb_mux_guard_caps() keeps, on each sink pad of a muxer, the last
 * LB_MUX_GUARD_CAPS caps the pad received alive, so the caps mp4mux
 * compares with is never freed under it: that is always one of the caps
 * events queued between its two threads, those sent since the last buffer
 * or two (its pads queue one buffer at a time).  A stream that sends more
 * caps than that without a buffer between them is not covered; the oldest
 * go.  Harmless with any other muxer.
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define LB_MUX_GUARD_CAPS 64

/* Guards @muxer's sink pads, those it has and those it adds (once per
 * muxer; call it before data flows). */
void         lb_mux_guard_caps     (GstElement *muxer);

G_END_DECLS
