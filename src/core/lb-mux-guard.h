/* lookback — mp4mux 1.22.0 guarded
 *
 * Two of its faults, worked around from outside.  Both are fixed upstream;
 * this goes when the base (Debian 12) moves past 1.22.0.
 *
 * Its caps.  mp4mux 1.22.0 checks a caps event, in the thread that sends it, against
 * the caps it configured from the previous one, which its own thread may
 * replace — and free — meanwhile, with no lock on either side
 * (gst_qt_mux_can_renegotiate; fixed in 1.22.1 by "qtmux: Fix assertion on
 * caps update").  A stream that sends a few caps in a row (an RTSP camera
 * with H.265 and B-frames at its start: the parser's caps, then its
 * updates) crashed lookbackd in about one start in twenty.
 *
 * lb_mux_guard() keeps, on each sink pad of a muxer, the last
 * LB_MUX_GUARD_CAPS caps the pad received alive, so the caps mp4mux
 * compares with is never freed under it: that is always one of the caps
 * events queued between its two threads, those sent since the last buffer
 * or two (its pads queue one buffer at a time).  A stream that sends more
 * caps than that without a buffer between them is not covered; the oldest
 * go.
 *
 * Its EOS after an error.  A source that fails posts its error and then
 * sends EOS, and mp4mux finalises its file at that EOS while the pipeline
 * is being stopped: with faststart it has not set its output caps yet
 * (nothing was pushed), and gst_qt_mux_set_header_on_caps copies NULL
 * caps, a critical (fixed upstream by "qtmux: fix critical warnings on
 * negotiation error").  Once lb_mux_guard_failed() says so, the guarded
 * muxer's pads drop EOS: a failed pipeline's file is not finalised (it is
 * thrown away).
 *
 * Harmless with any other muxer.
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define LB_MUX_GUARD_CAPS 64

/* Guards @muxer's sink pads, those it has and those it adds (once per
 * muxer; call it before data flows). */
void         lb_mux_guard          (GstElement *muxer);
/* @muxer's pipeline failed: its pads drop EOS from now on (any thread; a
 * muxer that is not guarded is left alone). */
void         lb_mux_guard_failed   (GstElement *muxer);

G_END_DECLS
