/* lookback — store area 'footage': clock epochs and re-timing */
#include "store/lb-store-private.h"
#include "store/lb-store-footage.h"
#include "core/lb-error.h"

#include <string.h>

gint64
lb_store_clock_epoch (LbStore * store, const gchar * boot_id, gint64 offset_ns,
    GError ** error)
{
  g_return_val_if_fail (store != NULL, 0);
  g_return_val_if_fail (boot_id != NULL, 0);

  gint64 id = 0;
  LB_STORE_LOCK (store);
  g_autoptr (LbStoreStmt) ins = lb_store_cached (store,
      "INSERT INTO footage_clock (boot_id, offset_ns) VALUES (?1, ?2) "
      "ON CONFLICT (boot_id, offset_ns) DO NOTHING", error);
  g_autoptr (LbStoreStmt) sel = lb_store_cached (store,
      "SELECT id FROM footage_clock WHERE boot_id = ?1 AND offset_ns = ?2",
      error);
  if (ins && sel) {
    sqlite3_bind_text (ins, 1, boot_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (ins, 2, offset_ns);
    sqlite3_bind_text (sel, 1, boot_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (sel, 2, offset_ns);
    if (sqlite3_step (ins) != SQLITE_DONE)
      lb_store_set_error (store, error, "adding a clock epoch");
    else if (sqlite3_step (sel) == SQLITE_ROW)
      id = sqlite3_column_int64 (sel, 0);
    else
      lb_store_set_error (store, error, "reading a clock epoch");
  }
  LB_STORE_UNLOCK (store);
  return id;
}

void
lb_footage_retime_free (LbFootageRetime * r)
{
  if (r == NULL)
    return;
  g_free (r->vehicle);
  g_free (r->input);
  g_free (r);
}

/* ---- re-timing ---- */

typedef struct
{
  gint64 id, start_ns, end_ns;
} Span;

typedef struct
{
  LbFootageRetime *r;
  GArray *spans;                /* Span: its segments where they are, in order */
  gboolean moving;              /* still to move */
} Group;

static void
group_free (gpointer p)
{
  Group *g = p;
  lb_footage_retime_free (g->r);
  g_array_unref (g->spans);
  g_free (g);
}

static gboolean
same_input (const Group * a, const Group * b)
{
  return g_str_equal (a->r->vehicle, b->r->vehicle)
      && g_str_equal (a->r->input, b->r->input);
}

/* The unsynchronised segments of @boot_id, grouped by input and epoch. */
static GPtrArray *
load_groups (LbStore * store, const gchar * boot_id, gint64 offset_ns,
    GError ** error)
{
  g_autoptr (LbStoreStmt) stmt = lb_store_cached (store,
      "SELECT s.id, s.vehicle, s.input, s.start_ns, s.end_ns, s.clock_epoch, "
      "c.offset_ns FROM footage_clock c JOIN footage_segment s "
      "ON s.clock_epoch = c.id WHERE c.boot_id = ?1 "
      "ORDER BY s.vehicle, s.input, s.clock_epoch, s.start_ns", error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, boot_id, -1, SQLITE_STATIC);
  g_autoptr (GPtrArray) groups = g_ptr_array_new_with_free_func (group_free);
  Group *g = NULL;
  gint rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
    const gchar *vehicle = (const gchar *) sqlite3_column_text (stmt, 1);
    const gchar *input = (const gchar *) sqlite3_column_text (stmt, 2);
    gint64 epoch = sqlite3_column_int64 (stmt, 5);
    if (g == NULL || g->r->epoch != epoch
        || !g_str_equal (g->r->vehicle, vehicle)
        || !g_str_equal (g->r->input, input)) {
      g = g_new0 (Group, 1);
      g->r = g_new0 (LbFootageRetime, 1);
      g->r->vehicle = g_strdup (vehicle);
      g->r->input = g_strdup (input);
      g->r->epoch = epoch;
      g->r->delta_ns = offset_ns - sqlite3_column_int64 (stmt, 6);
      g->r->start_ns = sqlite3_column_int64 (stmt, 3);
      g->spans = g_array_new (FALSE, FALSE, sizeof (Span));
      g->moving = TRUE;
      g_ptr_array_add (groups, g);
    }
    Span span = { sqlite3_column_int64 (stmt, 0),
      sqlite3_column_int64 (stmt, 3), sqlite3_column_int64 (stmt, 4)
    };
    g_array_append_val (g->spans, span);
    g->r->segments++;
    g->r->end_ns = MAX (g->r->end_ns, span.end_ns);
  }
  if (rc != SQLITE_DONE) {
    lb_store_set_error (store, error, "listing unsynchronised footage");
    return NULL;
  }
  return g_steal_pointer (&groups);
}

/* Whether [start, end) overlaps one of @g's segments moved by @delta (its
 * spans are in order and do not overlap each other). */
static gboolean
spans_overlap (const Group * g, gint64 delta, gint64 start, gint64 end)
{
  guint lo = 0, hi = g->spans->len;
  /* the first span that ends after start */
  while (lo < hi) {
    guint mid = lo + (hi - lo) / 2;
    if (g_array_index (g->spans, Span, mid).end_ns + delta <= start)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < g->spans->len
      && g_array_index (g->spans, Span, lo).start_ns + delta < end;
}

static void
set_blocker (Group * g, gint64 start, gint64 end)
{
  g->moving = FALSE;
  g->r->blocker_start_ns = start;
  g->r->blocker_end_ns = end;
}

/* Footage that stays, in the way of @g's new place: any segment of the
 * input there that no moving group holds (@moving: segment id → Group*). */
static gboolean
check_staying (LbStore * store, Group * g, GHashTable * moving, GError ** error)
{
  const Span *first = &g_array_index (g->spans, Span, 0);
  gint64 d = g->r->delta_ns;
  g_autoptr (LbStoreStmt) stmt = lb_store_cached (store,
      "SELECT id, start_ns, end_ns FROM footage_segment WHERE vehicle = ?1 "
      "AND input = ?2 AND start_ns > ?3 - 1 - (SELECT COALESCE (MAX "
      "(max_segment_ns), 0) FROM footage_input WHERE vehicle = ?1 AND "
      "input = ?2) AND start_ns < ?4 AND end_ns > ?3 ORDER BY start_ns", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, g->r->vehicle, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, g->r->input, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 3, first->start_ns + d);
  sqlite3_bind_int64 (stmt, 4, g->r->end_ns + d);
  gint rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
    gint64 id = sqlite3_column_int64 (stmt, 0);
    gint64 s = sqlite3_column_int64 (stmt, 1), e = sqlite3_column_int64 (stmt,
        2);
    Group *holder = g_hash_table_lookup (moving, &id);
    if (holder && holder->moving)
      continue;                 /* it moves away: see check_moving */
    if (spans_overlap (g, d, s, e)) {
      set_blocker (g, s, e);
      return TRUE;
    }
  }
  if (rc != SQLITE_DONE) {
    lb_store_set_error (store, error, "looking for footage in the way");
    return FALSE;
  }
  return TRUE;
}

/* Another moving group of the input whose new place overlaps @g's. */
static void
check_moving (GPtrArray * groups, Group * g)
{
  for (guint i = 0; i < groups->len && g->moving; i++) {
    Group *o = g_ptr_array_index (groups, i);
    if (o == g || !o->moving || !same_input (o, g))
      continue;
    for (guint k = 0; k < o->spans->len; k++) {
      const Span *sp = &g_array_index (o->spans, Span, k);
      gint64 s = sp->start_ns + o->r->delta_ns, e = sp->end_ns + o->r->delta_ns;
      if (spans_overlap (g, g->r->delta_ns, s, e)) {
        set_blocker (g, s, e);
        break;
      }
    }
  }
}

/* Leaves moving only the groups whose new place overlaps nothing: a group
 * that cannot move stays in the way of the others, so this runs until no
 * group drops out. */
static gboolean
settle (LbStore * store, GPtrArray * groups, GError ** error)
{
  g_autoptr (GHashTable) moving = g_hash_table_new (g_int64_hash,
      g_int64_equal);
  for (guint i = 0; i < groups->len; i++) {
    Group *g = g_ptr_array_index (groups, i);
    for (guint k = 0; k < g->spans->len; k++)
      g_hash_table_insert (moving, &g_array_index (g->spans, Span, k).id, g);
  }
  gboolean changed = TRUE;
  while (changed) {
    changed = FALSE;
    for (guint i = 0; i < groups->len; i++) {
      Group *g = g_ptr_array_index (groups, i);
      if (!g->moving || g->r->delta_ns == 0)
        continue;
      if (!check_staying (store, g, moving, error))
        return FALSE;
      check_moving (groups, g);
      changed |= !g->moving;
    }
  }
  return TRUE;
}

/* Moves @g's segments and keyframes by its delta and marks them
 * synchronised.  Keyframe rows (primary key segment_id, time_ns) pass
 * through the negated segment id so that no row meets another on its way;
 * foreign keys are checked at the commit. */
static gboolean
move_group (LbStore * store, Group * g, GError ** error)
{
  /* Each statement in parentheses: one literal, not a missing comma. */
  static const gchar *const sql[] = {
    ("UPDATE footage_keyframe SET segment_id = -segment_id, "
        "time_ns = time_ns + ?4 WHERE segment_id IN (SELECT id FROM "
        "footage_segment WHERE clock_epoch = ?3 AND vehicle = ?1 "
        "AND input = ?2)"),
    "UPDATE footage_keyframe SET segment_id = -segment_id WHERE segment_id < 0",
    ("UPDATE footage_segment SET start_ns = start_ns + ?4, "
        "end_ns = end_ns + ?4, clock_epoch = NULL "
        "WHERE clock_epoch = ?3 AND vehicle = ?1 AND input = ?2"),
  };
  for (guint i = 0; i < G_N_ELEMENTS (sql); i++) {
    g_autoptr (LbStoreStmt) stmt = lb_store_cached (store, sql[i], error);
    if (stmt == NULL)
      return FALSE;
    if (sqlite3_bind_parameter_count (stmt) > 0) {
      sqlite3_bind_text (stmt, 1, g->r->vehicle, -1, SQLITE_STATIC);
      sqlite3_bind_text (stmt, 2, g->r->input, -1, SQLITE_STATIC);
      sqlite3_bind_int64 (stmt, 3, g->r->epoch);
      sqlite3_bind_int64 (stmt, 4, g->r->delta_ns);
    }
    if (sqlite3_step (stmt) != SQLITE_DONE) {
      lb_store_set_error (store, error, "re-timing footage");
      return FALSE;
    }
  }
  g->r->moved = TRUE;
  return TRUE;
}

static gboolean
retime_locked (LbStore * store, const gchar * boot_id, gint64 offset_ns,
    GPtrArray * out, GError ** error)
{
  g_autoptr (GPtrArray) groups = load_groups (store, boot_id, offset_ns, error);
  if (groups == NULL || !settle (store, groups, error))
    return FALSE;
  if (!lb_store_exec (store, "PRAGMA defer_foreign_keys = ON", error))
    return FALSE;
  for (guint i = 0; i < groups->len; i++) {
    Group *g = g_ptr_array_index (groups, i);
    if (g->moving && !move_group (store, g, error))
      return FALSE;
  }
  g_autoptr (LbStoreStmt) forget = lb_store_cached (store,
      "DELETE FROM footage_clock WHERE boot_id != ?1 AND NOT EXISTS "
      "(SELECT 1 FROM footage_segment WHERE clock_epoch = footage_clock.id)",
      error);
  if (forget == NULL)
    return FALSE;
  sqlite3_bind_text (forget, 1, boot_id, -1, SQLITE_STATIC);
  if (sqlite3_step (forget) != SQLITE_DONE) {
    lb_store_set_error (store, error, "forgetting clock epochs");
    return FALSE;
  }
  for (guint i = 0; i < groups->len; i++) {
    Group *g = g_ptr_array_index (groups, i);
    g_ptr_array_add (out, g_steal_pointer (&g->r));
  }
  return TRUE;
}

gboolean
lb_store_footage_retime (LbStore * store, const gchar * boot_id,
    gint64 offset_ns, GPtrArray ** groups, GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (boot_id != NULL, FALSE);
  g_return_val_if_fail (groups != NULL, FALSE);

  g_autoptr (GPtrArray) out =
      g_ptr_array_new_with_free_func ((GDestroyNotify) lb_footage_retime_free);
  gboolean ok = FALSE;
  LB_STORE_LOCK (store);
  if (lb_store_begin (store, error)) {
    if (retime_locked (store, boot_id, offset_ns, out, error))
      ok = lb_store_commit (store, error);
    else
      lb_store_rollback (store);
  }
  LB_STORE_UNLOCK (store);
  if (!ok)
    return FALSE;
  /* footage came where retrievals may wait for it */
  for (guint i = 0; i < out->len; i++) {
    const LbFootageRetime *r = g_ptr_array_index (out, i);
    if (r->moved && r->delta_ns != 0)
      lb_store_footage_added (store, r->vehicle, r->input,
          r->end_ns + r->delta_ns);
  }
  *groups = g_steal_pointer (&out);
  return TRUE;
}
