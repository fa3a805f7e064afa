/* lookback — recorded footage for the lbrecordingsrc tests
 *
 * Test video recorded through the real segment sink and indexed with the
 * footage indexer into a temporary store: 30 fps, 320×180, one keyframe per
 * second (x264, scene cuts off), every frame stamped by lbclockstamp with
 * its wall-clock time, so frame i of a recording starting at @origin_ns is
 * stamped (and timed) origin_ns + i/30 s.
 */
#pragma once

#include <gst/gst.h>

#include "lb-test-common.h"

G_BEGIN_DECLS

#define LB_TEST_FPS 30
#define LB_TEST_WIDTH 320
#define LB_TEST_HEIGHT 180

/* The time of frame @i of a recording starting at @origin_ns. */
#define LB_TEST_FRAME_TIME(origin_ns, i) \
  ((origin_ns) + (gint64) gst_util_uint64_scale ((i), GST_SECOND, LB_TEST_FPS))

/* Records @n_frames from @origin_ns into the store at @db for
 * @vehicle/@input, in segment files of @segment_ns, and indexes them.
 * Returns the paths of the segment files, in time order. */
GPtrArray *lb_test_record         (const gchar *db,
                                   const gchar *vehicle,
                                   const gchar *input,
                                   gint64       origin_ns,
                                   guint        n_frames,
                                   gint64       segment_ns);

/* The same with more x264enc properties (e.g. "bframes=2"). */
GPtrArray *lb_test_record_full    (const gchar *db,
                                   const gchar *vehicle,
                                   const gchar *input,
                                   gint64       origin_ns,
                                   guint        n_frames,
                                   gint64       segment_ns,
                                   const gchar *x264_options);

/* The same with another encoder: @encoder is the chain after the stamp,
 * ending in a parser named "parse" (e.g. "x265enc … ! h265parse
 * name=parse"). */
GPtrArray *lb_test_record_encoded (const gchar *db,
                                   const gchar *vehicle,
                                   const gchar *input,
                                   gint64       origin_ns,
                                   guint        n_frames,
                                   gint64       segment_ns,
                                   const gchar *encoder);

/* x265enc making one keyframe (IDR) per second of LB_TEST_FPS, with
 * @bframes B-frames in a fixed pattern, then h265parse name=parse. */
gchar     *lb_test_x265_encoder   (guint        bframes);

/* The recording of a test suite is made once, before the suite forks its
 * tests, by the test program itself in a child process (so that the
 * process that forks never ran a GStreamer thread):
 *
 *   int main (int argc, char **argv) {
 *     if (lb_test_is_recorder (argc, argv, record))   // in the child
 *       return 0;
 *     gst_check_init (&argc, &argv);
 *     db = lb_test_prepare_store (argv[0], &store_dir); // spawns the child
 *     ...
 *
 * @record is called in the child with the database path. */
typedef void (*LbTestRecordFunc) (const gchar *db);

gboolean  lb_test_is_recorder     (int               argc,
                                   char            **argv,
                                   LbTestRecordFunc  record);
gchar    *lb_test_prepare_store   (const gchar      *program,
                                   gchar           **out_dir);

G_END_DECLS
