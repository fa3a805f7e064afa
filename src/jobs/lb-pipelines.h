/* lookback — the retrieval pipeline templates (pipelines/NAME.pipeline)
 *
 * A template is a gst-launch description in a text file; '#' lines are
 * comments.  The elements the engine touches are named (src, pick, lapse,
 * size, enc, mux, sink).  Templates are read once; every job gets a fresh
 * gst_parse_launch() of the template text, then properties are set on the
 * named elements.  A request's values never go into the text.
 *
 * The templates are those of the job kinds (lb-job-kind.h); a folder must
 * hold every one but the optional ones.
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

typedef struct _LbPipelines LbPipelines;

/* The folder templates are read from by default: LB_PIPELINES_DIR when it
 * holds them (installed), else the source tree's pipelines/ (build tree). */
const gchar  *lb_pipelines_default_dir (void);

/* Reads the template of every job kind from @dir (NULL: the default
 * folder). */
LbPipelines  *lb_pipelines_load     (const gchar  *dir,
                                     GError      **error);
const gchar  *lb_pipelines_get_dir  (LbPipelines  *pipelines);
/* The description of template @name (comments removed), or NULL. */
const gchar  *lb_pipelines_get_text (LbPipelines  *pipelines,
                                     const gchar  *name);
/* A new pipeline from template @name. */
GstElement   *lb_pipelines_build    (LbPipelines  *pipelines,
                                     const gchar  *name,
                                     GError      **error);
void          lb_pipelines_free     (LbPipelines  *pipelines);

/* The element named @name in @pipeline (new reference), or NULL. */
GstElement   *lb_pipeline_get       (GstElement   *pipeline,
                                     const gchar  *name);

/* Sets @property of element @name from a string, as gst-launch would,
 * when the element exists and has the property (an operator may have
 * swapped it for one that does not); FALSE otherwise. */
gboolean      lb_pipeline_set       (GstElement   *pipeline,
                                     const gchar  *name,
                                     const gchar  *property,
                                     const gchar  *value);

/* TRUE when an element of @pipeline (recursively) is an encoder
 * (factory klass "Encoder"). */
gboolean      lb_pipeline_has_encoder (GstElement *pipeline);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbPipelines, lb_pipelines_free)

G_END_DECLS
