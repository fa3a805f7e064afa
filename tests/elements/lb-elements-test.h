/* lookback — helpers shared by the element tests */
#pragma once

#include <gst/gst.h>
#include <gst/video/video.h>

G_BEGIN_DECLS

/* What a pipeline run left behind. */
typedef struct {
  GPtrArray *messages;          /* GstStructure*: every element message, in order */
  GError *error;                /* the first ERROR message, or NULL */
  gchar *error_debug;
  GPtrArray *warnings;          /* gchar*: WARNING messages' texts */
  gboolean eos;
} LbTestRun;

/* Runs @pipeline (consumed) to EOS or ERROR and fails the test after
 * @timeout_s seconds.  When @base_time is valid, it becomes every element's
 * base time (start time NONE), so running-time stamps are deterministic in a
 * non-live pipeline; sinks must then not sync. */
LbTestRun  *lb_test_run          (GstElement   *pipeline,
                                  GstClockTime  base_time,
                                  guint         timeout_s);
LbTestRun  *lb_test_run_launch   (const gchar  *description,
                                  GstClockTime  base_time,
                                  guint         timeout_s);
void        lb_test_run_free     (LbTestRun *run);

/* The element messages whose structure is named @name: a new array of
 * structures borrowed from @run. */
GPtrArray  *lb_test_run_messages (LbTestRun    *run,
                                  const gchar  *name);

/* A raw frame of @format, every luma sample @luma and every chroma sample
 * @chroma, with PTS @pts and a duration of 1/30 s. */
GstBuffer  *lb_test_make_frame   (GstVideoFormat  format,
                                  gint            width,
                                  gint            height,
                                  guint8          luma,
                                  guint8          chroma,
                                  GstClockTime    pts);

/* Caps for lb_test_make_frame's frames (30 fps). */
GstCaps    *lb_test_frame_caps   (GstVideoFormat  format,
                                  gint            width,
                                  gint            height);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbTestRun, lb_test_run_free)

G_END_DECLS
