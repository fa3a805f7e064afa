/* lookback — store area 'footage': segments, keyframes, lookup, pins */
#include "store/lb-store-private.h"
#include "store/lb-store-footage.h"
#include "core/lb-debug.h"
#include "core/lb-error.h"
#include "core/lb-time.h"

#include <gst/gst.h>
#include <string.h>

GST_DEBUG_CATEGORY_STATIC (lb_footage_debug);
#define GST_CAT_DEFAULT lb_footage_debug

static void
debug_init (void)
{
  LB_DEBUG_INIT (lb_footage_debug, "lookback-footage",
      "lookback footage index");
}

/* Migration steps of the 'footage' area: append only, never edit. */
static const gchar *const footage_steps[] = {
  /* 1: segments, keyframes, per-input totals, pins */
  "CREATE TABLE footage_segment (" "  id INTEGER PRIMARY KEY," "  vehicle TEXT NOT NULL," "  input TEXT NOT NULL," "  path TEXT NOT NULL UNIQUE,"       /* relative to the store dir */
      "  start_ns INTEGER NOT NULL,"
      "  end_ns INTEGER NOT NULL,"
      "  media_base_ns INTEGER NOT NULL,"
      "  codec TEXT NOT NULL,"
      "  caps TEXT NOT NULL,"
      "  width INTEGER NOT NULL,"
      "  height INTEGER NOT NULL,"
      "  fps_n INTEGER NOT NULL,"
      "  fps_d INTEGER NOT NULL,"
      "  init_size INTEGER NOT NULL,"
      "  bytes INTEGER NOT NULL,"
      "  open INTEGER NOT NULL DEFAULT 1);"
      "CREATE INDEX footage_segment_by_start ON footage_segment (vehicle, input, start_ns);"
      "CREATE INDEX footage_segment_open ON footage_segment (open) WHERE open;"
      "CREATE TABLE footage_keyframe ("
      "  segment_id INTEGER NOT NULL REFERENCES footage_segment (id) ON DELETE CASCADE,"
      "  time_ns INTEGER NOT NULL,"
      "  offset INTEGER NOT NULL,"
      "  size INTEGER NOT NULL,"
      "  sample_offset INTEGER NOT NULL,"
      "  sample_size INTEGER NOT NULL,"
      "  frames INTEGER NOT NULL,"
      "  PRIMARY KEY (segment_id, time_ns)) WITHOUT ROWID;"
      "CREATE TABLE footage_input ("
      "  vehicle TEXT NOT NULL,"
      "  input TEXT NOT NULL,"
      "  segments INTEGER NOT NULL DEFAULT 0,"
      "  bytes INTEGER NOT NULL DEFAULT 0,"
      "  max_segment_ns INTEGER NOT NULL DEFAULT 0,"
      "  PRIMARY KEY (vehicle, input)) WITHOUT ROWID;"
      "CREATE TABLE footage_pin ("
      "  id INTEGER PRIMARY KEY,"
      "  owner TEXT NOT NULL,"
      "  vehicle TEXT NOT NULL,"
      "  input TEXT NOT NULL,"
      "  start_ns INTEGER NOT NULL,"
      "  end_ns INTEGER NOT NULL);"
      "CREATE INDEX footage_pin_by_owner ON footage_pin (owner);"
      "CREATE INDEX footage_pin_by_start ON footage_pin (vehicle, input, start_ns);",
  /* 2: footage timed by a wall clock not known to be synchronised
   * (lb-store-clock.c) */
  "CREATE TABLE footage_clock ("
      "  id INTEGER PRIMARY KEY,"
      "  boot_id TEXT NOT NULL,"
      "  offset_ns INTEGER NOT NULL,"
      "  UNIQUE (boot_id, offset_ns));"
      "ALTER TABLE footage_segment ADD COLUMN clock_epoch INTEGER;"
      "CREATE INDEX footage_segment_unsynced ON footage_segment (clock_epoch) "
      "WHERE clock_epoch IS NOT NULL;",
  /* 3: segments that carry audio (audio=true): its codec and caps */
  "ALTER TABLE footage_segment ADD COLUMN audio TEXT;"
      "ALTER TABLE footage_segment ADD COLUMN audio_caps TEXT;",
  /* 4: the stream of the camera a segment holds: 'main', or 'sub' (its
   * sub-stream, sub-source=, indexed as the input INPUT.sub) */
  "ALTER TABLE footage_segment ADD COLUMN stream TEXT NOT NULL DEFAULT 'main';",
  NULL,
};

const LbStoreSchema lb_store_footage_schema = { "footage", footage_steps };

/* ---- streams: a camera's sub-stream is an input of its own ---- */

#define SUB_SUFFIX ".sub"

gchar *
lb_footage_sub_input (const gchar * input)
{
  g_return_val_if_fail (input != NULL && *input, NULL);
  return g_strconcat (input, SUB_SUFFIX, NULL);
}

/* Whether @input is the input of a sub-stream. */
static gboolean
is_sub_input (const gchar * input)
{
  return strlen (input) > strlen (SUB_SUFFIX)
      && g_str_has_suffix (input, SUB_SUFFIX);
}

gchar *
lb_footage_main_input (const gchar * input, gboolean * is_sub)
{
  g_return_val_if_fail (input != NULL, NULL);
  gboolean sub = is_sub_input (input);
  if (is_sub)
    *is_sub = sub;
  return sub ? g_strndup (input, strlen (input) - strlen (SUB_SUFFIX))
      : g_strdup (input);
}

/* ---- segment file layout ---- */

/* URI-escapes a path component; a leading '.' is escaped too so that no
 * component can be "." or "..". */
static gchar *
escape_component (const gchar * s)
{
  g_autofree gchar *e = g_uri_escape_string (s, NULL, FALSE);
  if (e[0] == '.')
    return g_strconcat ("%2E", e + 1, NULL);
  return g_steal_pointer (&e);
}

gchar *
lb_footage_segment_relpath (const gchar * vehicle, const gchar * input,
    gint64 start_ns)
{
  g_return_val_if_fail (vehicle != NULL && *vehicle, NULL);
  g_return_val_if_fail (input != NULL && *input, NULL);

  g_autofree gchar *v = escape_component (vehicle);
  g_autofree gchar *i = escape_component (input);
  g_autofree gchar *name =
      g_strdup_printf ("%" G_GINT64_FORMAT ".mp4", start_ns);
  return g_build_filename ("segments", v, i, name, NULL);
}

gchar *
lb_footage_segment_path (const gchar * store_dir, const gchar * vehicle,
    const gchar * input, gint64 start_ns)
{
  g_return_val_if_fail (store_dir != NULL, NULL);
  g_autofree gchar *rel = lb_footage_segment_relpath (vehicle, input, start_ns);
  g_return_val_if_fail (rel != NULL, NULL);
  return g_build_filename (store_dir, rel, NULL);
}

gboolean
lb_footage_parse_segment_path (const gchar * store_dir, const gchar * path,
    gchar ** vehicle, gchar ** input, gint64 * start_ns)
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
lb_segment_free (LbSegment * segment)
{
  if (segment == NULL)
    return;
  g_free (segment->vehicle);
  g_free (segment->input);
  g_free (segment->path);
  g_free (segment->codec);
  g_free (segment->caps);
  g_free (segment->audio);
  g_free (segment->audio_caps);
  g_free (segment);
}

LbSegment *
lb_segment_copy (const LbSegment * segment)
{
  g_return_val_if_fail (segment != NULL, NULL);
  LbSegment *c = g_memdup2 (segment, sizeof (LbSegment));
  c->vehicle = g_strdup (segment->vehicle);
  c->input = g_strdup (segment->input);
  c->path = g_strdup (segment->path);
  c->codec = g_strdup (segment->codec);
  c->caps = g_strdup (segment->caps);
  c->audio = g_strdup (segment->audio);
  c->audio_caps = g_strdup (segment->audio_caps);
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
lb_footage_plan_free (LbFootagePlan * plan)
{
  if (plan == NULL)
    return;
  g_free (plan->vehicle);
  g_free (plan->input);
  g_clear_pointer (&plan->pieces, g_ptr_array_unref);
  g_clear_pointer (&plan->gaps, g_array_unref);
  g_free (plan);
}

/* ---- helpers ---- */

#define SEGMENT_COLUMNS \
  "id, vehicle, input, path, start_ns, end_ns, media_base_ns, codec, caps, width, height, " \
  "fps_n, fps_d, init_size, bytes, open, clock_epoch, audio, audio_caps"

static gchar *
col_dup (sqlite3_stmt * stmt, gint i)
{
  return g_strdup ((const gchar *) sqlite3_column_text (stmt, i));
}

static LbSegment *
segment_from_row (LbStore * store, sqlite3_stmt * stmt)
{
  LbSegment *s = g_new0 (LbSegment, 1);
  s->id = sqlite3_column_int64 (stmt, 0);
  s->vehicle = col_dup (stmt, 1);
  s->input = col_dup (stmt, 2);
  s->path =
      g_build_filename (store->dir, (const gchar *) sqlite3_column_text (stmt,
          3), NULL);
  s->start_ns = sqlite3_column_int64 (stmt, 4);
  s->end_ns = sqlite3_column_int64 (stmt, 5);
  s->media_base_ns = sqlite3_column_int64 (stmt, 6);
  s->codec = col_dup (stmt, 7);
  s->caps = col_dup (stmt, 8);
  s->width = sqlite3_column_int (stmt, 9);
  s->height = sqlite3_column_int (stmt, 10);
  s->fps_n = sqlite3_column_int (stmt, 11);
  s->fps_d = sqlite3_column_int (stmt, 12);
  s->init_size = sqlite3_column_int64 (stmt, 13);
  s->bytes = sqlite3_column_int64 (stmt, 14);
  s->open = sqlite3_column_int (stmt, 15) != 0;
  s->clock_epoch = sqlite3_column_int64 (stmt, 16);
  s->audio = col_dup (stmt, 17);
  s->audio_caps = col_dup (stmt, 18);
  return s;
}

/* The store-relative spelling of @path, or NULL when it is outside. */
static gchar *
relative_path (LbStore * store, const gchar * path)
{
  if (!g_path_is_absolute (path))
    return g_strdup (path);
  g_autofree gchar *prefix = g_strconcat (store->dir, G_DIR_SEPARATOR_S, NULL);
  if (!g_str_has_prefix (path, prefix))
    return NULL;
  return g_strdup (path + strlen (prefix));
}

static gboolean
step_done (LbStore * store, sqlite3_stmt * stmt, GError ** error,
    const gchar * what)
{
  if (sqlite3_step (stmt) != SQLITE_DONE) {
    lb_store_set_error (store, error, what);
    return FALSE;
  }
  return TRUE;
}

static gint64
frame_ns (const LbSegment * s)
{
  if (s->fps_n > 0 && s->fps_d > 0)
    return gst_util_uint64_scale_int (GST_SECOND, s->fps_d, s->fps_n);
  return GST_SECOND;
}

/* Gap tolerance: spaces up to about two frame intervals are not gaps. */
static gint64
gap_tolerance (const LbSegment * s)
{
  return 2 * frame_ns (s) + GST_MSECOND;
}

static gboolean
store_writable (LbStore * store, GError ** error)
{
  if (store->read_only) {
    g_set_error (error, LB_ERROR, LB_ERROR_FAILED, "store %s is open read-only",
        store->path);
    return FALSE;
  }
  return TRUE;
}

/* ---- write side ---- */

/* Inserts the row of @segment (end_ns, bytes and open as given) and counts
 * it in footage_input.  Lock held, inside a transaction. */
static gboolean
insert_segment (LbStore * store, LbSegment * segment, GError ** error)
{
  g_autofree gchar *rel = relative_path (store, segment->path);
  if (rel == NULL) {
    g_set_error (error, LB_ERROR, LB_ERROR_INVALID,
        "segment %s is outside the store %s", segment->path, store->dir);
    return FALSE;
  }
  g_autoptr (LbStoreStmt) ins = lb_store_cached (store,
      "INSERT INTO footage_segment (vehicle, input, path, start_ns, end_ns, media_base_ns, "
      "codec, caps, width, height, fps_n, fps_d, init_size, bytes, open, clock_epoch, "
      "audio, audio_caps, stream) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, NULLIF (?16, 0), "
      "?17, ?18, ?19)", error);
  g_autoptr (LbStoreStmt) inp =
      lb_store_cached (store,
      "INSERT INTO footage_input (vehicle, input, segments, bytes, max_segment_ns) "
      "VALUES (?1, ?2, 1, ?3, ?4) ON CONFLICT (vehicle, input) DO UPDATE SET "
      "segments = segments + 1, bytes = bytes + excluded.bytes, "
      "max_segment_ns = MAX (max_segment_ns, excluded.max_segment_ns)", error);
  if (ins == NULL || inp == NULL)
    return FALSE;
  sqlite3_bind_text (ins, 1, segment->vehicle, -1, SQLITE_STATIC);
  sqlite3_bind_text (ins, 2, segment->input, -1, SQLITE_STATIC);
  sqlite3_bind_text (ins, 3, rel, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (ins, 4, segment->start_ns);
  sqlite3_bind_int64 (ins, 5, segment->end_ns);
  sqlite3_bind_int64 (ins, 6, segment->media_base_ns);
  sqlite3_bind_text (ins, 7, segment->codec ? segment->codec : "", -1,
      SQLITE_STATIC);
  sqlite3_bind_text (ins, 8, segment->caps ? segment->caps : "", -1,
      SQLITE_STATIC);
  sqlite3_bind_int (ins, 9, segment->width);
  sqlite3_bind_int (ins, 10, segment->height);
  sqlite3_bind_int (ins, 11, segment->fps_n);
  sqlite3_bind_int (ins, 12, segment->fps_d ? segment->fps_d : 1);
  sqlite3_bind_int64 (ins, 13, segment->init_size);
  sqlite3_bind_int64 (ins, 14, segment->bytes);
  sqlite3_bind_int (ins, 15, segment->open ? 1 : 0);
  sqlite3_bind_int64 (ins, 16, segment->clock_epoch);
  sqlite3_bind_text (ins, 17, segment->audio, -1, SQLITE_STATIC);
  sqlite3_bind_text (ins, 18, segment->audio ? segment->audio_caps : NULL, -1,
      SQLITE_STATIC);
  sqlite3_bind_text (ins, 19, is_sub_input (segment->input) ? "sub" : "main",
      -1, SQLITE_STATIC);
  if (!step_done (store, ins, error, "inserting a segment"))
    return FALSE;
  segment->id = sqlite3_last_insert_rowid (store->db);
  sqlite3_bind_text (inp, 1, segment->vehicle, -1, SQLITE_STATIC);
  sqlite3_bind_text (inp, 2, segment->input, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (inp, 3, segment->bytes);
  sqlite3_bind_int64 (inp, 4, segment->end_ns - segment->start_ns);
  return step_done (store, inp, error, "counting a segment");
}

static gboolean
insert_keyframes (LbStore * store, gint64 segment_id, GArray * keyframes,
    GError ** error)
{
  if (keyframes == NULL || keyframes->len == 0)
    return TRUE;
  g_autoptr (LbStoreStmt) ins = lb_store_cached (store,
      "INSERT OR REPLACE INTO footage_keyframe (segment_id, time_ns, offset, size, "
      "sample_offset, sample_size, frames) VALUES (?, ?, ?, ?, ?, ?, ?)",
      error);
  if (ins == NULL)
    return FALSE;
  for (guint i = 0; i < keyframes->len; i++) {
    const LbKeyframe *k = &g_array_index (keyframes, LbKeyframe, i);
    sqlite3_reset (ins);
    sqlite3_bind_int64 (ins, 1, segment_id);
    sqlite3_bind_int64 (ins, 2, k->time_ns);
    sqlite3_bind_int64 (ins, 3, k->offset);
    sqlite3_bind_int64 (ins, 4, k->size);
    sqlite3_bind_int64 (ins, 5, k->sample_offset);
    sqlite3_bind_int64 (ins, 6, k->sample_size);
    sqlite3_bind_int (ins, 7, k->frames);
    if (!step_done (store, ins, error, "inserting a keyframe"))
      return FALSE;
  }
  return TRUE;
}

gboolean
lb_store_segment_begin (LbStore * store, LbSegment * segment, GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (segment != NULL, FALSE);
  g_return_val_if_fail (segment->vehicle && segment->input
      && segment->path, FALSE);
  debug_init ();
  if (!store_writable (store, error))
    return FALSE;

  segment->end_ns = segment->start_ns;
  segment->bytes = segment->init_size;
  segment->open = TRUE;
  gboolean ok = FALSE;
  LB_STORE_LOCK (store);
  if (lb_store_begin (store, error)) {
    if (insert_segment (store, segment, error))
      ok = lb_store_commit (store, error);
    else
      lb_store_rollback (store);
  }
  LB_STORE_UNLOCK (store);
  if (ok) {
    GST_DEBUG ("segment %" G_GINT64_FORMAT " begun: %s", segment->id,
        segment->path);
    lb_store_footage_added (store, segment->vehicle, segment->input,
        segment->end_ns);
  }
  return ok;
}

/* Where the footage of each input added by one transaction ends:
 * "vehicle/input" → gint64*. */
static void
note_end (GHashTable * ends, const LbSegment * seg)
{
  g_autofree gchar *key = g_strconcat (seg->vehicle, "/", seg->input, NULL);
  gint64 *end = g_hash_table_lookup (ends, key);
  if (end == NULL) {
    end = g_new (gint64, 1);
    *end = seg->end_ns;
    g_hash_table_insert (ends, g_steal_pointer (&key), end);
  }
  *end = MAX (*end, seg->end_ns);
}

static void
tell_ends (LbStore * store, GHashTable * ends)
{
  GHashTableIter iter;
  const gchar *key;
  gint64 *end;

  g_hash_table_iter_init (&iter, ends);
  while (g_hash_table_iter_next (&iter, (gpointer *) & key, (gpointer *) & end)) {
    g_auto (GStrv) parts = g_strsplit (key, "/", 2);
    lb_store_footage_added (store, parts[0], parts[1], *end);
  }
}

gboolean
lb_store_segment_add_all (LbStore * store, LbSegmentSource source,
    gpointer user_data, GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (source != NULL, FALSE);
  debug_init ();
  if (!store_writable (store, error))
    return FALSE;

  g_autoptr (GHashTable) ends = g_hash_table_new_full (g_str_hash,
      g_str_equal, g_free, g_free);
  gboolean ok = FALSE;
  LbSegment *seg;
  GArray *keyframes = NULL;

  LB_STORE_LOCK (store);
  if (!lb_store_begin (store, error))
    goto out;
  while ((seg = source (&keyframes, user_data))) {
    if (!insert_segment (store, seg, error)
        || !insert_keyframes (store, seg->id, keyframes, error)) {
      lb_store_rollback (store);
      goto out;
    }
    note_end (ends, seg);
    keyframes = NULL;
  }
  ok = lb_store_commit (store, error);
out:
  LB_STORE_UNLOCK (store);
  if (ok)
    tell_ends (store, ends);
  return ok;
}

/* lb_store_segment_add()'s arrays as a source. */
typedef struct
{
  GPtrArray *segments, *keyframes;
  guint next;
} Arrays;

static LbSegment *
next_of_arrays (GArray ** keyframes, gpointer user_data)
{
  Arrays *a = user_data;
  if (a->next >= a->segments->len)
    return NULL;
  if (a->keyframes)
    *keyframes = g_ptr_array_index (a->keyframes, a->next);
  return g_ptr_array_index (a->segments, a->next++);
}

gboolean
lb_store_segment_add (LbStore * store, GPtrArray * segments,
    GPtrArray * keyframes, GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (segments != NULL, FALSE);
  g_return_val_if_fail (keyframes == NULL
      || keyframes->len == segments->len, FALSE);

  Arrays a = { segments, keyframes, 0 };
  return lb_store_segment_add_all (store, next_of_arrays, &a, error);
}

/* The row's vehicle and input, start and bytes, in the transaction. */
static gboolean
segment_head (LbStore * store, gint64 segment_id, gchar ** vehicle,
    gchar ** input, gint64 * start_ns, gint64 * bytes, GError ** error)
{
  g_autoptr (LbStoreStmt) old = lb_store_cached (store,
      "SELECT vehicle, input, start_ns, bytes FROM footage_segment WHERE id = ?",
      error);
  if (old == NULL)
    return FALSE;
  sqlite3_bind_int64 (old, 1, segment_id);
  if (sqlite3_step (old) != SQLITE_ROW) {
    g_set_error (error, LB_ERROR, LB_ERROR_NOT_FOUND,
        "no segment %" G_GINT64_FORMAT, segment_id);
    return FALSE;
  }
  *vehicle = col_dup (old, 0);
  *input = col_dup (old, 1);
  *start_ns = sqlite3_column_int64 (old, 2);
  *bytes = sqlite3_column_int64 (old, 3);
  return TRUE;
}

/* Grows the byte range and frames of the segment's last keyframe row. */
static gboolean
extend_last_keyframe (LbStore * store, gint64 segment_id, gint64 extend_end,
    guint extend_frames, GError ** error)
{
  g_autoptr (LbStoreStmt) ext = lb_store_cached (store,
      "UPDATE footage_keyframe SET size = MAX (size, ?2 - offset), frames = frames + ?3 "
      "WHERE segment_id = ?1 AND time_ns = (SELECT MAX (time_ns) FROM footage_keyframe "
      "WHERE segment_id = ?1)", error);
  if (ext == NULL)
    return FALSE;
  sqlite3_bind_int64 (ext, 1, segment_id);
  sqlite3_bind_int64 (ext, 2, extend_end);
  sqlite3_bind_int (ext, 3, extend_frames);
  return step_done (store, ext, error, "extending a keyframe");
}

/* Moves the segment's end and bytes, and its input's totals. */
static gboolean
move_segment_end (LbStore * store, gint64 segment_id, const gchar * vehicle,
    const gchar * input, gint64 grown_bytes, gint64 end_ns, gint64 bytes,
    gint64 length_ns, GError ** error)
{
  g_autoptr (LbStoreStmt) upd = lb_store_cached (store,
      "UPDATE footage_segment SET end_ns = MAX (end_ns, ?2), bytes = ?3 WHERE id = ?1",
      error);
  if (upd == NULL)
    return FALSE;
  sqlite3_bind_int64 (upd, 1, segment_id);
  sqlite3_bind_int64 (upd, 2, end_ns);
  sqlite3_bind_int64 (upd, 3, bytes);
  if (!step_done (store, upd, error, "moving a segment's end"))
    return FALSE;
  g_autoptr (LbStoreStmt) inp = lb_store_cached (store,
      "UPDATE footage_input SET bytes = bytes + ?3, "
      "max_segment_ns = MAX (max_segment_ns, ?4) WHERE vehicle = ?1 AND input = ?2",
      error);
  if (inp == NULL)
    return FALSE;
  sqlite3_bind_text (inp, 1, vehicle, -1, SQLITE_STATIC);
  sqlite3_bind_text (inp, 2, input, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (inp, 3, grown_bytes);
  sqlite3_bind_int64 (inp, 4, length_ns);
  return step_done (store, inp, error, "counting bytes");
}

/* One append inside the caller's transaction; @vehicle and @input get the
 * segment's. */
static gboolean
append_one (LbStore * store, const LbSegmentAppend * a, gchar ** vehicle,
    gchar ** input, GError ** error)
{
  gint64 start_ns, old_bytes;

  if (!segment_head (store, a->segment_id, vehicle, input, &start_ns,
          &old_bytes, error))
    return FALSE;
  if ((a->extend_end > 0 || a->extend_frames > 0)
      && !extend_last_keyframe (store, a->segment_id, a->extend_end,
          a->extend_frames, error))
    return FALSE;
  return insert_keyframes (store, a->segment_id, a->keyframes, error)
      && move_segment_end (store, a->segment_id, *vehicle, *input,
      a->bytes - old_bytes, a->end_ns, a->bytes, a->end_ns - start_ns, error);
}

gboolean
lb_store_segment_append_all (LbStore * store, const LbSegmentAppend * appends,
    guint n, GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (appends != NULL || n == 0, FALSE);
  for (guint i = 0; i < n; i++)
    g_return_val_if_fail (appends[i].segment_id > 0, FALSE);
  debug_init ();
  if (n == 0)
    return TRUE;
  if (!store_writable (store, error))
    return FALSE;

  g_auto (GStrv) vehicles = g_new0 (gchar *, n + 1);
  g_auto (GStrv) inputs = g_new0 (gchar *, n + 1);
  gboolean ok = FALSE;
  LB_STORE_LOCK (store);
  if (!lb_store_begin (store, error))
    goto out;
  for (guint i = 0; i < n; i++)
    if (!append_one (store, &appends[i], &vehicles[i], &inputs[i], error)) {
      lb_store_rollback (store);
      goto out;
    }
  ok = lb_store_commit (store, error);
out:
  LB_STORE_UNLOCK (store);
  for (guint i = 0; ok && i < n; i++)
    lb_store_footage_added (store, vehicles[i], inputs[i], appends[i].end_ns);
  return ok;
}

gboolean
lb_store_segment_append (LbStore * store, gint64 segment_id, gint64 extend_end,
    guint extend_frames, GArray * keyframes, gint64 end_ns, gint64 bytes,
    GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (segment_id > 0, FALSE);
  LbSegmentAppend a = { segment_id, extend_end, extend_frames, keyframes,
    end_ns, bytes
  };
  return lb_store_segment_append_all (store, &a, 1, error);
}

gboolean
lb_store_segment_finish (LbStore * store, gint64 segment_id, GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  if (!store_writable (store, error))
    return FALSE;
  LB_STORE_LOCK (store);
  gboolean ok = lb_store_exec_id (store,
      "UPDATE footage_segment SET open = 0 WHERE id = ?",
      segment_id, error, "closing a segment");
  LB_STORE_UNLOCK (store);
  return ok;
}

gboolean
lb_store_segment_delete (LbStore * store, gint64 segment_id, GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  if (!store_writable (store, error))
    return FALSE;
  gboolean ok = FALSE;
  LB_STORE_LOCK (store);
  if (!lb_store_begin (store, error))
    goto out;
  if (!lb_store_exec_id (store,
          "UPDATE footage_input SET segments = segments - 1, "
          "bytes = bytes - (SELECT bytes FROM footage_segment WHERE id = ?1) "
          "WHERE (vehicle, input) = (SELECT vehicle, input FROM footage_segment WHERE id = ?1)",
          segment_id, error, "uncounting a segment") ||
      !lb_store_exec_id (store,
          "DELETE FROM footage_keyframe WHERE segment_id = ?", segment_id,
          error, "deleting keyframes")
      || !lb_store_exec_id (store, "DELETE FROM footage_segment WHERE id = ?",
          segment_id, error, "deleting a segment")) {
    lb_store_rollback (store);
    goto out;
  }
  ok = lb_store_commit (store, error);
out:
  LB_STORE_UNLOCK (store);
  return ok;
}

LbSegment *
lb_store_segment_get (LbStore * store, gint64 segment_id, GError ** error)
{
  g_return_val_if_fail (store != NULL, NULL);
  LbSegment *seg = NULL;
  LB_STORE_LOCK (store);
  g_autoptr (sqlite3_stmt) stmt = lb_store_prepare (store,
      "SELECT " SEGMENT_COLUMNS " FROM footage_segment WHERE id = ?", error);
  if (stmt) {
    sqlite3_bind_int64 (stmt, 1, segment_id);
    if (sqlite3_step (stmt) == SQLITE_ROW)
      seg = segment_from_row (store, stmt);
    else
      g_set_error (error, LB_ERROR, LB_ERROR_NOT_FOUND,
          "no segment %" G_GINT64_FORMAT, segment_id);
  }
  LB_STORE_UNLOCK (store);
  return seg;
}

gint64
lb_store_segment_find_path (LbStore * store, const gchar * path,
    GError ** error)
{
  g_return_val_if_fail (store != NULL, 0);
  g_return_val_if_fail (path != NULL, 0);
  g_autofree gchar *rel = relative_path (store, path);
  if (rel == NULL)
    return 0;
  gint64 id = 0;
  LB_STORE_LOCK (store);
  g_autoptr (sqlite3_stmt) stmt = lb_store_prepare (store,
      "SELECT id FROM footage_segment WHERE path = ?", error);
  if (stmt) {
    sqlite3_bind_text (stmt, 1, rel, -1, SQLITE_STATIC);
    if (sqlite3_step (stmt) == SQLITE_ROW)
      id = sqlite3_column_int64 (stmt, 0);
  }
  LB_STORE_UNLOCK (store);
  return id;
}

static GPtrArray *
segments_query (LbStore * store, const gchar * sql, const gchar * vehicle,
    const gchar * input, gint64 n, GError ** error)
{
  GPtrArray *out = NULL;
  LB_STORE_LOCK (store);
  g_autoptr (sqlite3_stmt) stmt = lb_store_prepare (store, sql, error);
  if (stmt) {
    sqlite3_bind_text (stmt, 1, vehicle, -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 2, input, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 3, n);
    out = g_ptr_array_new_with_free_func ((GDestroyNotify) lb_segment_free);
    gint rc;
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
      g_ptr_array_add (out, segment_from_row (store, stmt));
    if (rc != SQLITE_DONE) {
      lb_store_set_error (store, error, "listing segments");
      g_clear_pointer (&out, g_ptr_array_unref);
    }
  }
  LB_STORE_UNLOCK (store);
  return out;
}

GPtrArray *
lb_store_segment_list (LbStore * store, const gchar * vehicle,
    const gchar * input, gboolean open_only, GError ** error)
{
  g_return_val_if_fail (store != NULL, NULL);
  /* The open ones are few: the partial index on open finds them without
   * reading every row (reconcile at start). */
  if (open_only)
    return segments_query (store,
        "SELECT " SEGMENT_COLUMNS " FROM footage_segment "
        "INDEXED BY footage_segment_open WHERE open AND (?1 IS NULL OR vehicle = ?1) AND (?2 IS NULL OR input = ?2) "
        "AND ?3 ORDER BY vehicle, input, start_ns", vehicle, input, TRUE,
        error);
  return segments_query (store,
      "SELECT " SEGMENT_COLUMNS " FROM footage_segment "
      "WHERE (?1 IS NULL OR vehicle = ?1) AND (?2 IS NULL OR input = ?2) "
      "AND ?3 ORDER BY vehicle, input, start_ns", vehicle, input, TRUE, error);
}

GPtrArray *
lb_store_segment_oldest (LbStore * store, const gchar * vehicle,
    const gchar * input, gint64 after_ns, guint limit, GError ** error)
{
  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (vehicle != NULL && input != NULL, NULL);
  GPtrArray *out = NULL;
  LB_STORE_LOCK (store);
  g_autoptr (sqlite3_stmt) stmt = lb_store_prepare (store,
      "SELECT " SEGMENT_COLUMNS " FROM footage_segment "
      "WHERE vehicle = ?1 AND input = ?2 AND start_ns > ?3 ORDER BY start_ns LIMIT ?4",
      error);
  if (stmt) {
    sqlite3_bind_text (stmt, 1, vehicle, -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 2, input, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 3, after_ns);
    sqlite3_bind_int64 (stmt, 4, limit);
    out = g_ptr_array_new_with_free_func ((GDestroyNotify) lb_segment_free);
    while (sqlite3_step (stmt) == SQLITE_ROW)
      g_ptr_array_add (out, segment_from_row (store, stmt));
  }
  LB_STORE_UNLOCK (store);
  return out;
}

static LbKeyframe
keyframe_from_row (sqlite3_stmt * stmt)
{
  LbKeyframe k = {
    .segment_id = sqlite3_column_int64 (stmt, 0),
    .time_ns = sqlite3_column_int64 (stmt, 1),
    .offset = sqlite3_column_int64 (stmt, 2),
    .size = sqlite3_column_int64 (stmt, 3),
    .sample_offset = sqlite3_column_int64 (stmt, 4),
    .sample_size = sqlite3_column_int64 (stmt, 5),
    .frames = sqlite3_column_int (stmt, 6),
  };
  return k;
}

#define KEYFRAME_COLUMNS "segment_id, time_ns, offset, size, sample_offset, sample_size, frames"

GArray *
lb_store_segment_keyframes (LbStore * store, gint64 segment_id, GError ** error)
{
  g_return_val_if_fail (store != NULL, NULL);
  GArray *out = NULL;
  LB_STORE_LOCK (store);
  g_autoptr (sqlite3_stmt) stmt = lb_store_prepare (store,
      "SELECT " KEYFRAME_COLUMNS " FROM footage_keyframe WHERE segment_id = ? "
      "ORDER BY time_ns", error);
  if (stmt) {
    out = g_array_new (FALSE, TRUE, sizeof (LbKeyframe));
    sqlite3_bind_int64 (stmt, 1, segment_id);
    while (sqlite3_step (stmt) == SQLITE_ROW) {
      LbKeyframe k = keyframe_from_row (stmt);
      g_array_append_val (out, k);
    }
  }
  LB_STORE_UNLOCK (store);
  return out;
}

void
lb_footage_input_free (LbFootageInput * input)
{
  if (input == NULL)
    return;
  g_free (input->vehicle);
  g_free (input->input);
  g_free (input);
}

GPtrArray *
lb_store_footage_inputs (LbStore * store, const gchar * vehicle,
    GError ** error)
{
  g_return_val_if_fail (store != NULL, NULL);
  GPtrArray *out = NULL;
  LB_STORE_LOCK (store);
  g_autoptr (sqlite3_stmt) stmt = lb_store_prepare (store,
      "SELECT vehicle, input, segments, bytes, max_segment_ns, "
      "(SELECT MAX (start_ns) FROM footage_segment s "
      "WHERE s.vehicle = i.vehicle AND s.input = i.input) FROM footage_input i "
      "WHERE (?1 IS NULL OR vehicle = ?1) AND segments > 0 ORDER BY vehicle, input",
      error);
  if (stmt) {
    sqlite3_bind_text (stmt, 1, vehicle, -1, SQLITE_STATIC);
    out =
        g_ptr_array_new_with_free_func ((GDestroyNotify) lb_footage_input_free);
    while (sqlite3_step (stmt) == SQLITE_ROW) {
      LbFootageInput *in = g_new0 (LbFootageInput, 1);
      in->vehicle = col_dup (stmt, 0);
      in->input = col_dup (stmt, 1);
      in->segments = sqlite3_column_int (stmt, 2);
      in->bytes = sqlite3_column_int64 (stmt, 3);
      in->max_segment_ns = sqlite3_column_int64 (stmt, 4);
      in->last_start_ns = sqlite3_column_int64 (stmt, 5);
      g_ptr_array_add (out, in);
    }
  }
  LB_STORE_UNLOCK (store);
  return out;
}

/* ---- pins ---- */

gboolean
lb_store_pin (LbStore * store, const gchar * owner, const gchar * vehicle,
    const gchar * input, gint64 start_ns, gint64 end_ns, GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (owner && vehicle && input, FALSE);
  if (!store_writable (store, error))
    return FALSE;
  LB_STORE_LOCK (store);
  g_autoptr (sqlite3_stmt) stmt = lb_store_prepare (store,
      "INSERT INTO footage_pin (owner, vehicle, input, start_ns, end_ns) VALUES (?, ?, ?, ?, ?)",
      error);
  gboolean ok = FALSE;
  if (stmt) {
    sqlite3_bind_text (stmt, 1, owner, -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 2, vehicle, -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 3, input, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 4, start_ns);
    sqlite3_bind_int64 (stmt, 5, MAX (end_ns, start_ns + 1));
    ok = step_done (store, stmt, error, "pinning");
  }
  LB_STORE_UNLOCK (store);
  return ok;
}

gboolean
lb_store_unpin (LbStore * store, const gchar * owner, GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (owner != NULL, FALSE);
  if (!store_writable (store, error))
    return FALSE;
  LB_STORE_LOCK (store);
  g_autoptr (sqlite3_stmt) stmt = lb_store_prepare (store,
      "DELETE FROM footage_pin WHERE owner = ?", error);
  gboolean ok = FALSE;
  if (stmt) {
    sqlite3_bind_text (stmt, 1, owner, -1, SQLITE_STATIC);
    ok = step_done (store, stmt, error, "unpinning");
  }
  LB_STORE_UNLOCK (store);
  return ok;
}

gboolean
lb_store_segment_is_pinned (LbStore * store, const LbSegment * segment,
    GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (segment != NULL, FALSE);
  gboolean pinned = FALSE;
  /* a pin of an input holds its sub-stream's footage too (a low-res clip
   * may be made from either) */
  g_autofree gchar *input = lb_footage_main_input (segment->input, NULL);
  LB_STORE_LOCK (store);
  g_autoptr (sqlite3_stmt) stmt = lb_store_prepare (store,
      "SELECT 1 FROM footage_pin WHERE vehicle = ? AND input = ? AND start_ns < ? "
      "AND end_ns > ? LIMIT 1", error);
  if (stmt) {
    sqlite3_bind_text (stmt, 1, segment->vehicle, -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 2, input, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 3, MAX (segment->end_ns, segment->start_ns + 1));
    sqlite3_bind_int64 (stmt, 4, segment->start_ns);
    pinned = sqlite3_step (stmt) == SQLITE_ROW;
  }
  LB_STORE_UNLOCK (store);
  return pinned;
}

/* ---- lookup ---- */

/* Segments overlapping [?4, ?5): the index on (vehicle, input, start_ns)
 * bounds the scan to start_ns in (?3, ?5) where ?3 = ?4 - the input's
 * longest segment, so the cost does not grow with the hours recorded. */
static const gchar lookup_sql[] =
    "SELECT " SEGMENT_COLUMNS " FROM footage_segment "
    "WHERE vehicle = ?1 AND input = ?2 AND start_ns > ?3 AND start_ns < ?5 AND end_ns > ?4 "
    "ORDER BY start_ns";

/* The keyframes of one segment from the one at or before ?2 to the last
 * before ?3: two searches of the primary key (segment_id, time_ns). */
static const gchar lookup_keyframes_sql[] =
    "SELECT " KEYFRAME_COLUMNS " FROM footage_keyframe WHERE segment_id = ?1 "
    "AND time_ns >= COALESCE ((SELECT MAX (time_ns) FROM footage_keyframe "
    "WHERE segment_id = ?1 AND time_ns <= ?2), ?2) AND time_ns < ?3 ORDER BY time_ns";

const gchar *
lb_store_lookup_sql (void)
{
  return lookup_sql;
}

const gchar *
lb_store_lookup_keyframes_sql (void)
{
  return lookup_keyframes_sql;
}

static gboolean
input_extent (LbStore * store, const gchar * vehicle, const gchar * input,
    gint64 * max_len, gint64 * first_ns, gint64 * last_ns, GError ** error)
{
  *max_len = 0;
  *first_ns = *last_ns = LB_TIME_NONE;
  g_autoptr (LbStoreStmt) a = lb_store_cached (store,
      "SELECT max_segment_ns FROM footage_input WHERE vehicle = ? AND input = ?",
      error);
  g_autoptr (LbStoreStmt) b =
      lb_store_cached (store,
      "SELECT start_ns FROM footage_segment WHERE vehicle = ? AND input = ? "
      "ORDER BY start_ns LIMIT 1", error);
  g_autoptr (LbStoreStmt) c =
      lb_store_cached (store,
      "SELECT end_ns FROM footage_segment WHERE vehicle = ? AND input = ? "
      "ORDER BY start_ns DESC LIMIT 1", error);
  if (!a || !b || !c)
    return FALSE;
  sqlite3_stmt *all[] = { a, b, c };
  for (guint i = 0; i < 3; i++) {
    sqlite3_bind_text (all[i], 1, vehicle, -1, SQLITE_STATIC);
    sqlite3_bind_text (all[i], 2, input, -1, SQLITE_STATIC);
  }
  if (sqlite3_step (a) == SQLITE_ROW)
    *max_len = sqlite3_column_int64 (a, 0);
  if (sqlite3_step (b) == SQLITE_ROW)
    *first_ns = sqlite3_column_int64 (b, 0);
  if (sqlite3_step (c) == SQLITE_ROW)
    *last_ns = sqlite3_column_int64 (c, 0);
  return TRUE;
}

/* Segments overlapping [start_ns, end_ns) in start order. */
static GPtrArray *
overlapping_segments (LbStore * store, const gchar * vehicle,
    const gchar * input, gint64 start_ns, gint64 end_ns, gint64 max_len,
    GError ** error)
{
  g_autoptr (LbStoreStmt) stmt = lb_store_cached (store, lookup_sql, error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, vehicle, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, input, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 3, start_ns - max_len - 1);
  sqlite3_bind_int64 (stmt, 4, start_ns);
  sqlite3_bind_int64 (stmt, 5, end_ns);
  GPtrArray *out =
      g_ptr_array_new_with_free_func ((GDestroyNotify) lb_segment_free);
  gint rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (out, segment_from_row (store, stmt));
  if (rc != SQLITE_DONE) {
    lb_store_set_error (store, error, "looking up segments");
    g_ptr_array_unref (out);
    return NULL;
  }
  return out;
}

static void
add_range (GArray * a, gint64 s, gint64 e)
{
  LbTimeRange r = { s, e };
  g_array_append_val (a, r);
}

/* Merges @segments into covered ranges and gaps within [start_ns, end_ns):
 * spaces of up to ~2 frame intervals between segments are not gaps. */
static void
ranges_and_gaps (GPtrArray * segments, gint64 start_ns, gint64 end_ns,
    GArray * ranges, GArray * gaps)
{
  if (segments->len == 0) {
    if (gaps && end_ns > start_ns)
      add_range (gaps, start_ns, end_ns);
    return;
  }
  gint64 cursor = start_ns, range_start = 0, tol = 0;
  gboolean in_range = FALSE;
  for (guint i = 0; i < segments->len; i++) {
    const LbSegment *s = g_ptr_array_index (segments, i);
    gint64 s0 = MAX (s->start_ns, start_ns), s1 = MIN (s->end_ns, end_ns);
    tol = gap_tolerance (s);
    if (s0 - cursor > tol) {
      if (in_range && ranges)
        add_range (ranges, range_start, cursor);
      in_range = FALSE;
      if (gaps)
        add_range (gaps, cursor, s0);
    }
    if (!in_range) {
      in_range = TRUE;
      range_start = s0;
    }
    cursor = MAX (cursor, s1);
  }
  if (ranges)
    add_range (ranges, range_start, cursor);
  if (end_ns - cursor > tol && gaps)
    add_range (gaps, cursor, end_ns);
}

/* The part of @s within [start_ns, end_ns) joins @out (LbTimeRange) when
 * its clock was not synchronised; it extends the last range when it
 * follows it within the gap tolerance. */
static void
add_unsynced (GArray * out, const LbSegment * s, gint64 start_ns, gint64 end_ns)
{
  gint64 s0 = MAX (s->start_ns, start_ns), s1 = MIN (s->end_ns, end_ns);

  if (s->clock_epoch == 0 || s1 <= s0)
    return;
  if (out->len > 0) {
    LbTimeRange *last = &g_array_index (out, LbTimeRange, out->len - 1);
    if (s0 - last->end_ns <= gap_tolerance (s)) {
      last->end_ns = MAX (last->end_ns, s1);
      return;
    }
  }
  add_range (out, s0, s1);
}

GArray *
lb_footage_plan_unsynced (const LbFootagePlan * plan, gint64 start_ns,
    gint64 end_ns)
{
  g_return_val_if_fail (plan != NULL, NULL);
  GArray *out = g_array_new (FALSE, TRUE, sizeof (LbTimeRange));

  for (guint i = 0; i < plan->pieces->len; i++) {
    const LbFootagePiece *piece = g_ptr_array_index (plan->pieces, i);
    add_unsynced (out, piece->segment, start_ns, end_ns);
  }
  return out;
}

gboolean
lb_store_footage_extent (LbStore * store, const gchar * vehicle,
    const gchar * input, gint64 * first_ns, gint64 * last_ns, GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (vehicle != NULL && input != NULL, FALSE);
  gint64 max_len, first, last;
  LB_STORE_LOCK (store);
  gboolean ok =
      input_extent (store, vehicle, input, &max_len, &first, &last, error);
  LB_STORE_UNLOCK (store);
  if (first_ns)
    *first_ns = first;
  if (last_ns)
    *last_ns = last;
  return ok;
}

static LbFootagePlan *
plan_new (const gchar * vehicle, const gchar * input, gint64 start_ns,
    gint64 end_ns)
{
  LbFootagePlan *plan = g_new0 (LbFootagePlan, 1);
  plan->vehicle = g_strdup (vehicle);
  plan->input = g_strdup (input);
  plan->start_ns = start_ns;
  plan->end_ns = end_ns;
  plan->pieces = g_ptr_array_new_with_free_func (piece_free);
  plan->gaps = g_array_new (FALSE, TRUE, sizeof (LbTimeRange));
  return plan;
}

/* An image in a crack between segments (under ~2 frames wide): the segment
 * with the nearest frame around @at_ns, if one is that close, is added to
 * @segments; when its first frame is after @at_ns, *@kf_from / *@kf_to
 * move to that frame.  The lock is held. */
static gboolean
nearest_across_crack (LbStore * store, const gchar * vehicle,
    const gchar * input, gint64 at_ns, gint64 max_len, GPtrArray * segments,
    gint64 * kf_from, gint64 * kf_to, GError ** error)
{
  g_autoptr (GPtrArray) near = overlapping_segments (store, vehicle, input,
      at_ns - 3 * GST_SECOND, at_ns + 3 * GST_SECOND, max_len, error);
  if (near == NULL)
    return FALSE;
  LbSegment *best = NULL;
  gint64 best_d = G_MAXINT64;
  for (guint i = 0; i < near->len; i++) {
    LbSegment *s = g_ptr_array_index (near, i);
    gint64 d = s->start_ns > at_ns ? s->start_ns - at_ns
        : at_ns - (s->end_ns - frame_ns (s));
    if (d <= gap_tolerance (s) && d < best_d) {
      best = s;
      best_d = d;
    }
  }
  if (best == NULL)
    return TRUE;
  if (best->start_ns > at_ns) {
    *kf_from = best->start_ns;
    *kf_to = best->start_ns + 1;
  }
  g_ptr_array_add (segments, lb_segment_copy (best));
  return TRUE;
}

/* One piece per segment of @segments that has keyframes in [from, to)
 * (from the one at or before @from).  The lock is held. */
static gboolean
collect_pieces (LbStore * store, LbFootagePlan * plan, GPtrArray * segments,
    gint64 from, gint64 to, GError ** error)
{
  g_autoptr (LbStoreStmt) kf =
      lb_store_cached (store, lookup_keyframes_sql, error);
  if (kf == NULL)
    return FALSE;
  for (guint i = 0; i < segments->len; i++) {
    LbSegment *s = g_ptr_array_index (segments, i);
    sqlite3_reset (kf);
    sqlite3_bind_int64 (kf, 1, s->id);
    sqlite3_bind_int64 (kf, 2, from);
    sqlite3_bind_int64 (kf, 3, to);
    LbFootagePiece *piece = g_new0 (LbFootagePiece, 1);
    piece->keyframes = g_array_new (FALSE, TRUE, sizeof (LbKeyframe));
    while (sqlite3_step (kf) == SQLITE_ROW) {
      LbKeyframe k = keyframe_from_row (kf);
      g_array_append_val (piece->keyframes, k);
    }
    if (piece->keyframes->len == 0) {
      piece_free (piece);
      continue;
    }
    piece->segment = lb_segment_copy (s);
    g_ptr_array_add (plan->pieces, piece);
  }
  return TRUE;
}

LbFootagePlan *
lb_store_lookup (LbStore * store, const gchar * vehicle, const gchar * input,
    gint64 start_ns, gint64 end_ns, GError ** error)
{
  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (vehicle != NULL && input != NULL, NULL);
  g_return_val_if_fail (end_ns >= start_ns, NULL);
  debug_init ();

  g_autoptr (LbFootagePlan) plan = plan_new (vehicle, input, start_ns, end_ns);
  /* An image asks for one instant: look for what covers it. */
  gint64 q_end = MAX (end_ns, start_ns + 1), kf_from = start_ns, kf_to = q_end;
  g_autoptr (GPtrArray) segments = NULL;
  gint64 max_len;
  gboolean ok = FALSE;

  LB_STORE_LOCK (store);
  if (!input_extent (store, vehicle, input, &max_len, &plan->first_ns,
          &plan->last_ns, error))
    goto out;
  segments = overlapping_segments (store, vehicle, input, start_ns, q_end,
      max_len, error);
  if (segments == NULL)
    goto out;
  if (start_ns == end_ns && segments->len == 0
      && !nearest_across_crack (store, vehicle, input, start_ns, max_len,
          segments, &kf_from, &kf_to, error))
    goto out;
  if (!collect_pieces (store, plan, segments, kf_from, kf_to, error))
    goto out;
  if (end_ns > start_ns)
    ranges_and_gaps (segments, start_ns, end_ns, NULL, plan->gaps);
  else if (plan->pieces->len == 0)
    add_range (plan->gaps, start_ns, end_ns);
  ok = TRUE;
out:
  LB_STORE_UNLOCK (store);
  if (!ok)
    return NULL;
  GST_DEBUG ("lookup %s/%s: %u pieces, %u gaps", vehicle, input,
      plan->pieces->len, plan->gaps->len);
  return g_steal_pointer (&plan);
}

gboolean
lb_store_coverage (LbStore * store, const gchar * vehicle, const gchar * input,
    gint64 start_ns, gint64 end_ns, GArray ** ranges, GArray ** gaps,
    GArray ** unsynced, GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (vehicle != NULL && input != NULL, FALSE);
  g_return_val_if_fail (ranges != NULL && gaps != NULL, FALSE);
  debug_init ();

  gboolean ok = FALSE;
  g_autoptr (GPtrArray) segments = NULL;
  LB_STORE_LOCK (store);
  gint64 max_len, first, last;
  if (!input_extent (store, vehicle, input, &max_len, &first, &last, error))
    goto out;
  segments = overlapping_segments (store, vehicle, input, start_ns,
      end_ns, max_len, error);
  if (segments == NULL)
    goto out;
  *ranges = g_array_new (FALSE, TRUE, sizeof (LbTimeRange));
  *gaps = g_array_new (FALSE, TRUE, sizeof (LbTimeRange));
  ranges_and_gaps (segments, start_ns, end_ns, *ranges, *gaps);
  if (unsynced) {
    *unsynced = g_array_new (FALSE, TRUE, sizeof (LbTimeRange));
    for (guint i = 0; i < segments->len; i++)
      add_unsynced (*unsynced, g_ptr_array_index (segments, i), start_ns,
          end_ns);
  }
  ok = TRUE;
out:
  LB_STORE_UNLOCK (store);
  return ok;
}
