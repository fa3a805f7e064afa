/* lookback tests (jobs): making and checking media at test time */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/* Encodes @frames frames of a moving test pattern (@width x @height, 30 fps,
 * a keyframe every 30 frames, @bframes B-frames) into an MP4 at @path. */
void       jt_make_h264_mp4   (const gchar *path, guint frames, gint width, gint height,
                               guint bframes);

/* Runs @description (gst-launch syntax) to EOS; fails the test on error. */
void       jt_run_launch      (const gchar *description);

typedef struct {
  GPtrArray *frames;            /* GBytes: the raw I420 pixels of each frame shown */
  GArray *pts;                  /* GstClockTime of each */
  gint width, height;
} JtDecoded;

/* Decodes every frame a player shows of @path (qtdemux honours edit lists). */
JtDecoded *jt_decode          (const gchar *path);
void       jt_decoded_free    (JtDecoded *d);

/* Index of @frame in @all->frames, or -1. */
gint       jt_find_frame      (JtDecoded *all, GBytes *frame);

typedef struct {
  GstClockTime duration;
  gchar *container;             /* caps name of the container */
  gchar *video;                 /* caps name of the video stream */
  gint width, height;
} JtInfo;

JtInfo    *jt_discover        (const gchar *path);

/* The lbclockcheck stamp of every frame a player shows of @path, in order
 * (gint64); fails the test on a pipeline error or an unreadable frame. */
GArray    *jt_read_stamps     (const gchar *path);

typedef struct {
  gint64 stamp;                 /* drawn in the frame */
  gint64 pts;                   /* its time at lbclockcheck */
} JtFrame;

/* Runs @description (… ! lbclockcheck ! fakesink) to EOS: each frame's
 * stamp and time (JtFrame), in order; fails the test on an error or an
 * unreadable frame. */
GArray    *jt_read_frames     (const gchar *description);
#define STAMP(a, i) g_array_index ((a), gint64, (i))
void       jt_info_free       (JtInfo *info);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (JtDecoded, jt_decoded_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (JtInfo, jt_info_free)

G_END_DECLS
