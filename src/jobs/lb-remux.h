/* lookback — frame-exact remux: keep the pre-roll, hide it with an edit list
 *
 * The high-res pipeline (pipelines/video-high-res.pipeline) feeds mp4mux the
 * encoded samples from the keyframe at or before the requested start, in a
 * segment that starts at the requested time.  mp4mux 1.22 would clip every
 * sample before the segment start (dropping the keyframe the others depend
 * on), so LbRemux watches the muxer's sink pads: it widens each segment to
 * start up to an hour earlier (dropping instead what is decoded after the
 * requested end) and notes the earliest PTS that reached the muxer.  After EOS, lb_remux_finish() trims the written file with
 * lb_mp4_trim(): the file keeps the whole GOP, the edit list starts at the
 * requested frame.
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

typedef struct _LbRemux LbRemux;

/* Installs the probes on every sink pad @mux has, now or later.
 * Samples decoded after @end (in the stream's PTS time base) are dropped;
 * those before it stay, even if shown after it (B-frames' references). */
LbRemux  *lb_remux_attach     (GstElement   *mux,
                               GstClockTime  end);
/* Earliest PTS that reached the muxer (GST_CLOCK_TIME_NONE before any). */
GstClockTime lb_remux_first_pts (LbRemux *remux);
guint     lb_remux_samples    (LbRemux *remux);

/**
 * lb_remux_finish:
 * @path: the file the muxer wrote (after EOS)
 * @start, @end: the requested range, in the stream's PTS time base
 * @delivered_start, @delivered_end: (out) (optional): the range the file
 *   really plays, frame-exact, in the same time base
 * @frames: (out) (optional): frames presented
 */
gboolean  lb_remux_finish     (LbRemux      *remux,
                               const gchar  *path,
                               GstClockTime  start,
                               GstClockTime  end,
                               GstClockTime *delivered_start,
                               GstClockTime *delivered_end,
                               guint        *frames,
                               GError      **error);
void      lb_remux_free       (LbRemux *remux);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbRemux, lb_remux_free)

G_END_DECLS
