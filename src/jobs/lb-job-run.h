/* lookback — running one retrieval's pipeline
 *
 * Builds the template of the retrieval's kind (lb-job-kind.h), sets the
 * request's values on the named elements, runs it on the calling thread (a
 * worker: bus messages are popped here, nothing touches the main loop), and
 * writes the output file.  High-res clips from H.264 and H.265 footage are
 * remuxed frame-exactly in the footage's codec (lb-remux.h); when the
 * pre-roll cannot be hidden, the muxer refuses the stream, or the footage
 * is neither (or H.265 with [jobs] high-res-codec=h264), they are transcoded
 * to H.264.  Hyperlapses remux the recorded keyframes (hyperlapse-remux) the
 * same way, and are transcoded when the muxer refuses them.  Low-res clips
 * are a remux of the input's recorded sub-stream, the same way, when it
 * covers the whole range (LbJobRun.sub), else a transcode of the main
 * stream.
 */
#pragma once

#include "core/lb-media-type.h"
#include "jobs/lb-pipelines.h"

#include <gio/gio.h>

G_BEGIN_DECLS

typedef void (*LbJobProgressFunc) (gdouble progress, gpointer user_data);

typedef struct {
  /* what to make */
  LbMediaType media_type;
  const gchar *db_path;         /* lbrecordingsrc's index */
  const gchar *vehicle;
  const gchar *input;
  gint64 start_ns, end_ns;      /* requested (wall clock); equal for an image */
  const gchar *output_path;     /* written whole or not at all */
  /* about the footage (from the index) */
  const gchar *codec;           /* "h264", "h265", or NULL when unknown */
  gint width, height;           /* 0 when unknown */
  gint fps_n, fps_d;            /* 0/1 when unknown */
  const GArray *keyframes_ns;   /* gint64, in time order, or NULL */
  gint64 keyframe_bytes;        /* bytes of those keyframes' samples; 0: unknown */
  /* the same about the input's sub-stream when it covers the whole range
   * (videoLowRes; lb-store-footage.h): the kinds that read it
   * (LbJobKind.sub_stream) run on it.  input NULL: none. */
  struct {
    const gchar *input;         /* the input it is indexed as */
    const gchar *codec;
    gint width, height, fps_n, fps_d;
    const GArray *keyframes_ns;
    gint64 keyframe_bytes;
  } sub;
  /* [jobs] settings */
  gint low_res_width, low_res_height, low_res_bitrate;
  gint64 hyperlapse_interval_ns;
  gint hyperlapse_framerate;
  gint64 hyperlapse_max_output_ns;
  gint hyperlapse_remux_max_kbps; /* remux only at or below this; 0: never remux */
  gboolean copy_h264_only;      /* [jobs] high-res-codec=h264: clips copied from
                                 * footage of another codec are transcoded */
  /* reporting */
  LbJobProgressFunc progress;
  gpointer progress_data;
  GCancellable *cancellable;
  /* results */
  gint64 delivered_start_ns, delivered_end_ns;
  guint frames;
  const gchar *content_type;
  const gchar *template_used;   /* the kind's template that made the file */
  gboolean sub_stream_used;     /* it was made from the sub-stream */
} LbJobRun;

/**
 * lb_job_run:
 *
 * Runs @run to its output file.  Errors: LB_ERROR_UNAVAILABLE (no frame in
 * the range), LB_ERROR_IO (writing failed: a full disk), LB_ERROR_CORRUPT
 * (the footage does not decode / parse), LB_ERROR_BUSY (cancelled),
 * LB_ERROR_FAILED otherwise.  On failure nothing is left at output_path.
 */
gboolean     lb_job_run          (LbPipelines  *pipelines,
                                  LbJobRun     *run,
                                  GError      **error);

/**
 * lb_job_run_drain:
 *
 * Waits until the pipelines of stills that lb_job_run() left to stop
 * once their output was whole have stopped (a still's run returns at
 * EOS; its pipeline stops on another thread).  Call before the store or
 * the process goes away.
 */
void         lb_job_run_drain    (void);

G_END_DECLS
