/* lookback — store area 'footage': segments, keyframes, lookup, pins */
#include "store/lb-store-private.h"
#include "store/lb-store-footage.h"
#include "core/lb-debug.h"
#include "core/lb-error.h"
#include "core/lb-time.h"

#include <string.h>

GST_DEBUG_CATEGORY_STATIC (lb_footage_debug);
#define GST_CAT_DEFAULT lb_footage_debug

static void
debug_init (void)
{
  LB_DEBUG_INIT (lb_footage_debug, "lookback-footage", "lookback footage index");
}

static const gchar *const footage_steps[] = {
  NULL,
};

const LbStoreSchema lb_store_footage_schema = { "footage", footage_steps };

/* ---- segment file layout ---- */

/* URI-escapes a path component; a leading '.' is escaped too so that no
 * component can be "." or "..". */
static gchar *
escape_component (const gchar *s)
{
  g_autofree gchar *e = g_uri_escape_string (s, NULL, FALSE);
  if (e[0] == '.')
    return g_strconcat ("%2E", e + 1, NULL);
  return g_steal_pointer (&e);
}

gchar *
lb_footage_segment_relpath (const gchar *vehicle, const gchar *input, gint64 start_ns)
{
  g_return_val_if_fail (vehicle != NULL && *vehicle, NULL);
  g_return_val_if_fail (input != NULL && *input, NULL);

  g_autofree gchar *v = escape_component (vehicle);
  g_autofree gchar *i = escape_component (input);
  g_autofree gchar *name = g_strdup_printf ("%" G_GINT64_FORMAT ".mp4", start_ns);
  return g_build_filename ("segments", v, i, name, NULL);
}

gchar *
lb_footage_segment_path (const gchar *store_dir, const gchar *vehicle, const gchar *input,
    gint64 start_ns)
{
  g_return_val_if_fail (store_dir != NULL, NULL);
  g_autofree gchar *rel = lb_footage_segment_relpath (vehicle, input, start_ns);
  g_return_val_if_fail (rel != NULL, NULL);
  return g_build_filename (store_dir, rel, NULL);
}

gboolean
lb_footage_parse_segment_path (const gchar *store_dir, const gchar *path, gchar **vehicle,
    gchar **input, gint64 *start_ns)
{
  g_return_val_if_fail (store_dir != NULL, FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  const gchar *rel = path;
  g_autofree gchar *prefix = g_str_has_suffix (store_dir, G_DIR_SEPARATOR_S)
      ? g_strdup (store_dir) : g_strconcat (store_dir, G_DIR_SEPARATOR_S, NULL);
  if (g_path_is_absolute (path)) {
    if (!g_str_has_prefix (path, prefix))
      return FALSE;
    rel = path + strlen (prefix);
  }
  g_auto (GStrv) parts = g_strsplit (rel, G_DIR_SEPARATOR_S, -1);
  if (g_strv_length (parts) != 4 || !g_str_equal (parts[0], "segments") ||
      !g_str_has_suffix (parts[3], ".mp4"))
    return FALSE;
  g_autofree gchar *num = g_strndup (parts[3], strlen (parts[3]) - 4);
  gint64 t;
  if (!g_ascii_string_to_signed (num, 10, G_MININT64 + 1, G_MAXINT64, &t, NULL))
    return FALSE;
  g_autofree gchar *v = g_uri_unescape_string (parts[1], NULL);
  g_autofree gchar *i = g_uri_unescape_string (parts[2], NULL);
  if (v == NULL || i == NULL || *v == '\0' || *i == '\0')
    return FALSE;
  /* Only the canonical spelling counts. */
  g_autofree gchar *again = lb_footage_segment_relpath (v, i, t);
  if (!g_str_equal (again, rel))
    return FALSE;
  if (vehicle)
    *vehicle = g_steal_pointer (&v);
  if (input)
    *input = g_steal_pointer (&i);
  if (start_ns)
    *start_ns = t;
  return TRUE;
}

/* ---- value types ---- */

void
lb_segment_free (LbSegment *segment)
{
  if (segment == NULL)
    return;
  g_free (segment->vehicle);
  g_free (segment->input);
  g_free (segment->path);
  g_free (segment->codec);
  g_free (segment->caps);
  g_free (segment);
}

LbSegment *
lb_segment_copy (const LbSegment *segment)
{
  g_return_val_if_fail (segment != NULL, NULL);
  LbSegment *c = g_memdup2 (segment, sizeof (LbSegment));
  c->vehicle = g_strdup (segment->vehicle);
  c->input = g_strdup (segment->input);
  c->path = g_strdup (segment->path);
  c->codec = g_strdup (segment->codec);
  c->caps = g_strdup (segment->caps);
  return c;
}

static void
piece_free (gpointer p)
{
  LbFootagePiece *piece = p;
  lb_segment_free (piece->segment);
  g_clear_pointer (&piece->keyframes, g_array_unref);
  g_free (piece);
}

void
lb_footage_plan_free (LbFootagePlan *plan)
{
  if (plan == NULL)
    return;
  g_free (plan->vehicle);
  g_free (plan->input);
  g_clear_pointer (&plan->pieces, g_ptr_array_unref);
  g_clear_pointer (&plan->gaps, g_array_unref);
  g_free (plan);
}

LbFootagePlan *
lb_store_lookup (LbStore *store, const gchar *vehicle, const gchar *input, gint64 start_ns,
    gint64 end_ns, GError **error)
{
  g_return_val_if_fail (store != NULL, NULL);
  debug_init ();
  (void) piece_free;
  g_set_error (error, LB_ERROR, LB_ERROR_FAILED, "not implemented yet");
  return NULL;
}
