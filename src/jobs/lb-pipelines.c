/* lookback — the retrieval pipeline templates */
#include "config.h"

#include "jobs/lb-pipelines.h"
#include "jobs/lb-job-kind.h"

#include "core/lb-debug.h"
#include "core/lb-error.h"
#include "core/lb-mux-guard.h"

#include <string.h>

GST_DEBUG_CATEGORY_STATIC (lb_pipelines_debug);
#define GST_CAT_DEFAULT lb_pipelines_debug

struct _LbPipelines
{
  gchar *dir;
  GHashTable *texts;            /* name → description */
};

const gchar *
lb_pipelines_default_dir (void)
{
  g_autofree gchar *probe =
      g_build_filename (LB_PIPELINES_DIR, "image.pipeline", NULL);
  return g_file_test (probe,
      G_FILE_TEST_EXISTS) ? LB_PIPELINES_DIR : LB_SOURCE_PIPELINES_DIR;
}

/* The description without comment lines, joined by spaces. */
static gchar *
strip_comments (const gchar * text)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  GString *out = g_string_new (NULL);

  for (guint i = 0; lines[i]; i++) {
    const gchar *l = lines[i];
    while (g_ascii_isspace (*l))
      l++;
    if (*l == '#' || *l == '\0')
      continue;
    if (out->len)
      g_string_append_c (out, ' ');
    g_string_append (out, l);
  }
  return g_strstrip (g_string_free (out, FALSE));
}

LbPipelines *
lb_pipelines_load (const gchar * dir, GError ** error)
{
  LB_DEBUG_INIT (lb_pipelines_debug, "lookback-pipelines",
      "retrieval pipeline templates");

  g_autoptr (LbPipelines) p = g_new0 (LbPipelines, 1);
  p->dir = g_strdup (dir ? dir : lb_pipelines_default_dir ());
  p->texts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  guint n;
  const LbJobKind *kinds = lb_job_kinds (&n);
  for (guint i = 0; i < n; i++) {
    const gchar *name = kinds[i].template_name;
    g_autofree gchar *file = g_strconcat (name, ".pipeline", NULL);
    g_autofree gchar *path = g_build_filename (p->dir, file, NULL);
    g_autofree gchar *text = NULL;
    g_autoptr (GError) err = NULL;
    if (!g_file_get_contents (path, &text, NULL, &err)) {
      /* an operator's copy from before an optional template existed: the
       * kind's fallback runs instead */
      if (kinds[i].optional &&
          g_error_matches (err, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
        GST_INFO ("no optional template %s", path);
        continue;
      }
      g_set_error (error, LB_ERROR, LB_ERROR_CONFIG, "pipeline template %s: %s",
          path, err->message);
      return NULL;
    }
    gchar *desc = strip_comments (text);
    if (*desc == '\0') {
      g_free (desc);
      g_set_error (error, LB_ERROR, LB_ERROR_CONFIG,
          "pipeline template %s is empty", path);
      return NULL;
    }
    GST_INFO ("template %s: %s", name, desc);
    g_hash_table_insert (p->texts, g_strdup (name), desc);
  }
  return g_steal_pointer (&p);
}

const gchar *
lb_pipelines_get_dir (LbPipelines * pipelines)
{
  g_return_val_if_fail (pipelines != NULL, NULL);
  return pipelines->dir;
}

const gchar *
lb_pipelines_get_text (LbPipelines * pipelines, const gchar * name)
{
  g_return_val_if_fail (pipelines != NULL, NULL);
  return g_hash_table_lookup (pipelines->texts, name);
}

GstElement *
lb_pipelines_build (LbPipelines * pipelines, const gchar * name,
    GError ** error)
{
  g_return_val_if_fail (pipelines != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);

  const gchar *text = lb_pipelines_get_text (pipelines, name);
  g_autoptr (GError) err = NULL;
  if (text == NULL) {
    g_set_error (error, LB_ERROR, LB_ERROR_CONFIG, "no pipeline template '%s'",
        name);
    return NULL;
  }
  GstElement *pipeline =
      gst_parse_launch_full (text, NULL, GST_PARSE_FLAG_FATAL_ERRORS, &err);
  if (pipeline == NULL) {
    g_set_error (error, LB_ERROR, LB_ERROR_CONFIG,
        "pipeline template %s/%s.pipeline: %s", pipelines->dir, name,
        err->message);
    return NULL;
  }
  if (!GST_IS_PIPELINE (pipeline)) {
    GstElement *wrap = gst_pipeline_new (NULL);
    gst_bin_add (GST_BIN (wrap), pipeline);
    pipeline = wrap;
  }
  /* a clip across segments whose codec data differ sends mp4mux new caps
   * at each */
  g_autoptr (GstElement) mux = gst_bin_get_by_name (GST_BIN (pipeline), "mux");
  if (mux)
    lb_mux_guard (mux);
  return pipeline;
}

void
lb_pipelines_free (LbPipelines * pipelines)
{
  if (pipelines == NULL)
    return;
  g_free (pipelines->dir);
  g_clear_pointer (&pipelines->texts, g_hash_table_unref);
  g_free (pipelines);
}

GstElement *
lb_pipeline_get (GstElement * pipeline, const gchar * name)
{
  g_return_val_if_fail (GST_IS_BIN (pipeline), NULL);
  return gst_bin_get_by_name (GST_BIN (pipeline), name);
}

gboolean
lb_pipeline_set (GstElement * pipeline, const gchar * name,
    const gchar * property, const gchar * value)
{
  g_return_val_if_fail (GST_IS_BIN (pipeline), FALSE);

  g_autoptr (GstElement) e = lb_pipeline_get (pipeline, name);
  if (e == NULL
      || g_object_class_find_property (G_OBJECT_GET_CLASS (e),
          property) == NULL) {
    GST_WARNING ("the pipeline has no %s with a property %s", name, property);
    return FALSE;
  }
  gst_util_set_object_arg (G_OBJECT (e), property, value);
  return TRUE;
}

static gboolean
is_encoder (GstElement * e)
{
  GstElementFactory *f = gst_element_get_factory (e);
  const gchar *klass = f ? gst_element_factory_get_metadata (f,
      GST_ELEMENT_METADATA_KLASS) : NULL;
  return klass && strstr (klass, "Encoder") != NULL;
}

gboolean
lb_pipeline_has_encoder (GstElement * pipeline)
{
  g_return_val_if_fail (GST_IS_BIN (pipeline), FALSE);

  gboolean found = FALSE;
  GstIterator *it = gst_bin_iterate_recurse (GST_BIN (pipeline));
  GValue v = G_VALUE_INIT;
  while (!found && gst_iterator_next (it, &v) == GST_ITERATOR_OK) {
    found = is_encoder (g_value_get_object (&v));
    g_value_reset (&v);
  }
  g_value_unset (&v);
  gst_iterator_free (it);
  return found;
}
