/* lookback — the kinds of retrieval job, one per pipeline template
 *
 * A retrieval of a media type is made by one of that type's kinds.  Each
 * kind is one template of pipelines/ with its own configure (the request's
 * values it sets on the template's named elements, and the watches its
 * finish reads) and finish (the range the output file really holds), the
 * way gst-rtsp-server gives each media factory its own configure:
 *
 *   template                  media type    copies        fallback
 *   image                     image         -             -
 *   video-high-res            videoHighRes  H.264, H.265  video-high-res-transcode
 *   video-high-res-transcode  videoHighRes  -             -
 *   video-low-res-remux       videoLowRes   H.264, H.265  video-low-res
 *   video-low-res             videoLowRes   -             -
 *   hyperlapse-remux          hyperlapse    H.264, H.265  hyperlapse
 *   hyperlapse                hyperlapse    -             -
 *
 * A job starts with the first kind of its media type.  A kind that copies
 * the recorded stream (remux) takes only footage of its codecs, and with
 * [jobs] high-res-codec=h264 (players that cannot play HEVC) only H.264:
 * its output is in the footage's codec.  The fallback runs instead when the
 * footage is another codec, when the template is missing from an
 * operator's folder (hyperlapse-remux is optional), when the kind's own
 * check says no (copied keyframes too heavy), or when the kind's pipeline
 * refuses the footage while it runs.  The fallbacks decode whatever comes
 * and encode H.264.  A kind that reads the sub-stream (video-low-res-remux:
 * the high-res remux, on the sub-stream) takes a job only when the
 * sub-stream covers its whole range (LbJobRun.sub); it runs on the
 * sub-stream's footage.
 *
 * This table is the one place that knows template names and which media
 * type each serves.
 */
#pragma once

#include "jobs/lb-job-run.h"
#include "jobs/lb-pipelines.h"
#include "jobs/lb-remux.h"

G_BEGIN_DECLS

typedef struct _LbJobKind LbJobKind;
typedef struct _LbJobPass LbJobPass;
typedef struct _LbJobWatch LbJobWatch;

struct _LbJobKind {
  const gchar *template_name;   /* pipelines/<template_name>.pipeline */
  LbMediaType media_type;
  const gchar *fallback;        /* the template run instead, or NULL */
  const gchar *content_type;    /* of the output file */
  const gchar *extension;       /* of the output file, with its dot */
  const gchar *const *copies;   /* footage codecs (lb-codec.h names) it
                                 * copies without decoding, NULL-terminated,
                                 * or NULL: it decodes whatever comes */
  gboolean optional;            /* a template folder may lack it */
  gboolean audio;               /* its clips carry the footage's audio
                                 * (lbrecordingsrc audio=true into "mux") */
  gboolean sub_stream;          /* reads the sub-stream (LbJobRun.sub) */
  gboolean stop_after;          /* its output is whole at EOS and its finish
                                 * reads no file: the pipeline is stopped
                                 * after the row is handed over
                                 * (lb-job-run.c) */
  /* FALSE when this kind should not take @run (NULL: it always may) */
  gboolean (*usable)    (const LbJobRun *run);
  /* Sets the kind's values on @pass->pipeline and attaches its watches. */
  gboolean (*configure) (LbJobPass *pass, GError **error);
  /* After EOS: the delivered range and frames into @pass->run. */
  gboolean (*finish)    (LbJobPass *pass, GError **error);
};

/* One pipeline of one kind, built for one job. */
struct _LbJobPass {
  const LbJobKind *kind;
  LbJobRun *run;                /* not owned */
  GstElement *pipeline;         /* NULL once it has run */
  gint64 picked_ns;             /* frame-time of the element "pick"
                                 * (lbstilldec), LB_TIME_NONE until it posts */
  LbRemux *remux;               /* kinds that copy: the muxer's watch */
  LbJobWatch *watch;            /* kinds that decode: frames reaching an element */
};

/* Every kind, in table order; @n_kinds (out) gets their number. */
const LbJobKind *lb_job_kinds          (guint            *n_kinds);
/* The kind of template @template_name, or NULL. */
const LbJobKind *lb_job_kind_find      (const gchar      *template_name);
/* The first kind of @media_type. */
const LbJobKind *lb_job_kind_for       (LbMediaType       media_type);
/* The kind @run starts with: lb_job_kind_for() its media type, or the
 * fallback of a kind that cannot take the footage. */
const LbJobKind *lb_job_kind_choose    (LbPipelines      *pipelines,
                                        const LbJobRun   *run);
/* @kind's fallback, or NULL. */
const LbJobKind *lb_job_kind_get_fallback (const LbJobKind *kind);

/* Builds @kind's template with every value of @run set (by the common part
 * and the kind's configure), without running it. */
LbJobPass       *lb_job_pass_new       (LbPipelines      *pipelines,
                                        LbJobRun         *run,
                                        const LbJobKind  *kind,
                                        GError          **error);
/* After the pipeline reached EOS: drops it (no buffer flows any more; a
 * still's may still be stopping on another thread) and calls the kind's
 * finish. */
gboolean         lb_job_pass_finish    (LbJobPass        *pass,
                                        GError          **error);
void             lb_job_pass_free      (LbJobPass        *pass);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbJobPass, lb_job_pass_free)

G_END_DECLS
