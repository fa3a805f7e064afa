/* lookback tests (jobs): stand-ins for lookback elements not built yet */
#include "jobs-standins.h"

#include <gst/base/gstbasesrc.h>
#include <gst/base/gstbasetransform.h>

typedef struct { GstBaseSrc parent; GHashTable *props; } JtSrc;
typedef struct { GstBaseSrcClass parent_class; } JtSrcClass;
typedef struct { GstBaseTransform parent; GHashTable *props; } JtFilter;
typedef struct { GstBaseTransformClass parent_class; } JtFilterClass;

static GType jt_src_get_type (void);
static GType jt_pick_get_type (void);
static GType jt_lapse_get_type (void);
G_DEFINE_TYPE (JtSrc, jt_src, GST_TYPE_BASE_SRC)
/* two filter types with different properties */
typedef JtFilter JtPick;
typedef JtFilterClass JtPickClass;
typedef JtFilter JtLapse;
typedef JtFilterClass JtLapseClass;
G_DEFINE_TYPE (JtPick, jt_pick, GST_TYPE_BASE_TRANSFORM)
G_DEFINE_TYPE (JtLapse, jt_lapse, GST_TYPE_BASE_TRANSFORM)

static GstStaticPadTemplate src_t = GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC,
    GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);
static GstStaticPadTemplate sink_t = GST_STATIC_PAD_TEMPLATE ("sink", GST_PAD_SINK,
    GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

/* Every property is kept as a GValue in a table. */
static void
set_prop (GObject *o, guint id, const GValue *v, GParamSpec *ps)
{
  GHashTable *props = g_object_get_data (o, "jt-props");
  GValue *copy = g_new0 (GValue, 1);
  g_value_init (copy, G_VALUE_TYPE (v));
  g_value_copy (v, copy);
  g_hash_table_replace (props, g_strdup (ps->name), copy);
}

static void
get_prop (GObject *o, guint id, GValue *v, GParamSpec *ps)
{
  GHashTable *props = g_object_get_data (o, "jt-props");
  GValue *stored = g_hash_table_lookup (props, ps->name);
  if (stored)
    g_value_copy (stored, v);
  else
    g_param_value_set_default (ps, v);
}

static void
free_value (gpointer p)
{
  g_value_unset (p);
  g_free (p);
}

static void
attach_props (GObject *o)
{
  g_object_set_data_full (o, "jt-props", g_hash_table_new_full (g_str_hash, g_str_equal,
          g_free, free_value), (GDestroyNotify) g_hash_table_unref);
}

static void
install_i64 (GObjectClass *oc, guint id, const gchar *name)
{
  g_object_class_install_property (oc, id, g_param_spec_int64 (name, name, name,
          G_MININT64, G_MAXINT64, 0, G_PARAM_READWRITE));
}

static void
jt_src_class_init (JtSrcClass *klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);
  oc->set_property = set_prop;
  oc->get_property = get_prop;
  g_object_class_install_property (oc, 1, g_param_spec_string ("db", "db", "db", NULL,
          G_PARAM_READWRITE));
  g_object_class_install_property (oc, 2, g_param_spec_string ("vehicle", "v", "v", NULL,
          G_PARAM_READWRITE));
  g_object_class_install_property (oc, 3, g_param_spec_string ("input", "i", "i", NULL,
          G_PARAM_READWRITE));
  install_i64 (oc, 4, "start-time");
  install_i64 (oc, 5, "end-time");
  g_object_class_install_property (oc, 6, g_param_spec_string ("mode", "m", "m", "all",
          G_PARAM_READWRITE));
  gst_element_class_add_static_pad_template (GST_ELEMENT_CLASS (klass), &src_t);
  gst_element_class_set_static_metadata (GST_ELEMENT_CLASS (klass), "stand-in",
      "Source/Video", "test stand-in", "lookback tests");
}

static void
jt_src_init (JtSrc *self)
{
  attach_props (G_OBJECT (self));
}

static void
jt_pick_class_init (JtPickClass *klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);
  oc->set_property = set_prop;
  oc->get_property = get_prop;
  install_i64 (oc, 1, "target-time");
  gst_element_class_add_static_pad_template (GST_ELEMENT_CLASS (klass), &src_t);
  gst_element_class_add_static_pad_template (GST_ELEMENT_CLASS (klass), &sink_t);
  gst_element_class_set_static_metadata (GST_ELEMENT_CLASS (klass), "stand-in",
      "Filter/Video", "test stand-in", "lookback tests");
}

static void
jt_pick_init (JtPick *self)
{
  attach_props (G_OBJECT (self));
}

static void
jt_lapse_class_init (JtLapseClass *klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);
  oc->set_property = set_prop;
  oc->get_property = get_prop;
  install_i64 (oc, 1, "interval");
  install_i64 (oc, 2, "target-duration");
  g_object_class_install_property (oc, 3, gst_param_spec_fraction ("framerate", "f", "f", 1, 1,
          1000, 1, 30, 1, G_PARAM_READWRITE));
  gst_element_class_add_static_pad_template (GST_ELEMENT_CLASS (klass), &src_t);
  gst_element_class_add_static_pad_template (GST_ELEMENT_CLASS (klass), &sink_t);
  gst_element_class_set_static_metadata (GST_ELEMENT_CLASS (klass), "stand-in",
      "Filter/Video", "test stand-in", "lookback tests");
}

static void
jt_lapse_init (JtLapse *self)
{
  attach_props (G_OBJECT (self));
}

guint
jt_register_standins (void)
{
  struct { const gchar *name; GType (*type) (void); } list[] = {
    { "lbrecordingsrc", jt_src_get_type },
    { "lbframepick", jt_pick_get_type },
    { "lbhyperlapse", jt_lapse_get_type },
  };
  guint n = 0;
  for (guint i = 0; i < G_N_ELEMENTS (list); i++) {
    g_autoptr (GstElementFactory) f = gst_element_factory_find (list[i].name);
    if (f)
      continue;
    gst_element_register (NULL, list[i].name, GST_RANK_NONE, list[i].type ());
    n++;
  }
  return n;
}
