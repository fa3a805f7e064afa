/* lookback — frame-exact trimming of a remuxed MP4 by its edit list
 *
 * A high-res clip is remuxed without decoding: the file holds every sample
 * from the keyframe at or before the requested start (the decoder needs
 * them), and the video track's edit list hides the pre-roll, the way Moonfire
 * NVR writes its clips.  mp4mux (GStreamer 1.22) writes such a file with an
 * edit list that starts at media time 0; lb_mp4_trim() rewrites the moov so
 * that the presentation starts at the wanted frame and lasts the wanted
 * duration: the elst entry (replaced, or inserted when the track has none),
 * the durations in mvhd and tkhd, and — when the moov changes size and the
 * media data follows it — every chunk offset (stco / co64).
 *
 * Small, self-contained ISO BMFF editing: only the moov is read into memory;
 * the file is rewritten in place when the moov keeps its size, else copied
 * to a temporary file beside it and renamed over it.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  gint64 skip_ns;               /* presentation start after the earliest frame */
  gint64 duration_ns;           /* presented duration */
  gint64 media_start_ns;        /* media time (track timeline) of the first shown frame */
  guint frames;                 /* frames presented */
  guint samples;                /* samples in the track */
} LbMp4Trim;

/**
 * lb_mp4_trim:
 * @path: an MP4 file with one video track (other tracks are left alone)
 * @skip_ns: how far after the earliest presented frame playback starts;
 *   snapped to the nearest frame
 * @duration_ns: how long it plays: the end (@skip_ns + @duration_ns after
 *   the earliest frame) is snapped to the nearest frame boundary after the
 *   first frame shown; <= 0 plays to the end
 * @out: (out) (optional): what was really done, in whole frames
 *
 * Fails with LB_ERROR_INVALID when the pre-roll to hide is not shorter than
 * the clip: GStreamer's qtdemux (1.22) stops such a file before its first
 * frame, so the caller transcodes instead.  For the same reason keyframes in
 * the clip's last partial GOP stop being listed as sync samples.
 */
gboolean lb_mp4_trim (const gchar  *path,
                      gint64        skip_ns,
                      gint64        duration_ns,
                      LbMp4Trim    *out,
                      GError      **error);

G_END_DECLS
