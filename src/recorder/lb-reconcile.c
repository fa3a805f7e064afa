/* lookback — reconcile: the index and the segments folder agree at start */
#include "recorder/lb-reconcile.h"
#include "recorder/lb-indexer.h"
#include "mp4/lb-mp4.h"
#include "mp4/lb-mp4-journal.h"
#include "core/lb-debug.h"
#include "core/lb-error.h"
#include "core/lb-log.h"
#include "core/lb-time.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>
#include <glib/gstdio.h>

GST_DEBUG_CATEGORY_STATIC (lb_reconcile_debug);
#define GST_CAT_DEFAULT lb_reconcile_debug

/* The quarantine keeps the newest files within these bounds. */
#define QUARANTINE_MAX_FILES 32
#define QUARANTINE_MAX_BYTES (G_GINT64_CONSTANT (1) << 30)

/* A file without a moov takes its codec data from the previous segment
 * only when it begins where that one ends, within this (not_continued). */
#define CONTINUED_MAX_GAP_NS (250 * LB_NS_PER_MS)

/* ---- quarantine ---- */

typedef struct
{
  gchar *path;
  gint64 mtime;                 /* ns */
  gint64 size;
} QFile;

static void
qfile_clear (gpointer p)
{
  g_free (((QFile *) p)->path);
}

static gint
qfile_newest_first (gconstpointer a, gconstpointer b)
{
  const QFile *x = a, *y = b;
  return x->mtime > y->mtime ? -1 : x->mtime < y->mtime;
}

static void
list_files (const gchar * dir, GArray * out)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const gchar *name;

  while (d && (name = g_dir_read_name (d))) {
    g_autofree gchar *path = g_build_filename (dir, name, NULL);
    GStatBuf st;
    if (g_lstat (path, &st) != 0)
      continue;
    if (S_ISDIR (st.st_mode)) {
      list_files (path, out);
      continue;
    }
    QFile f = {.path = g_steal_pointer (&path),.mtime =
          st.st_mtim.tv_sec * G_GINT64_CONSTANT (1000000000) +
          st.st_mtim.tv_nsec,.size = st.st_size
    };
    g_array_append_val (out, f);
  }
}

/* Keeps the newest quarantined files within QUARANTINE_MAX_FILES and
 * QUARANTINE_MAX_BYTES (the newest one always); the others are deleted. */
static void
trim_quarantine (const gchar * qdir, GString * report)
{
  g_autoptr (GArray) files = g_array_new (FALSE, TRUE, sizeof (QFile));
  gint64 total = 0;

  g_array_set_clear_func (files, qfile_clear);
  list_files (qdir, files);
  g_array_sort (files, qfile_newest_first);
  for (guint i = 0; i < files->len; i++) {
    QFile *f = &g_array_index (files, QFile, i);
    total += f->size;
    if (i == 0 || (i < QUARANTINE_MAX_FILES && total <= QUARANTINE_MAX_BYTES))
      continue;
    if (g_unlink (f->path) != 0)
      continue;
    lb_log (LB_LOG_INFO, NULL, "quarantine full (%u files, %" G_GINT64_FORMAT
        " bytes at most): deleted its oldest file %s", QUARANTINE_MAX_FILES,
        QUARANTINE_MAX_BYTES, f->path);
    g_string_append_printf (report, "deleted %s from the quarantine\n",
        f->path);
  }
}

/* Where @path (a file of the store) goes in <store>/quarantine: the same
 * path under it, with a number added when that is taken. */
static gchar *
quarantine_path (const gchar * store_dir, const gchar * qdir,
    const gchar * path)
{
  gsize n = strlen (store_dir);
  g_autofree gchar *rel = strncmp (path, store_dir, n) == 0
      && path[n] == G_DIR_SEPARATOR ? g_strdup (path + n + 1)
      : g_path_get_basename (path);
  gchar *dest = g_build_filename (qdir, rel, NULL);

  for (guint i = 1; g_file_test (dest, G_FILE_TEST_EXISTS); i++) {
    g_free (dest);
    dest = g_strdup_printf ("%s/%s.%u", qdir, rel, i);
  }
  return dest;
}

/* A segment file that does not parse is moved aside to the quarantine and
 * its rows (@segment_id, 0 if it has none) are removed: it never stops a
 * start, and the operator hears of it once. */
static gboolean
quarantine (LbStore * store, const gchar * path, gint64 segment_id,
    const gchar * why, GString * report, GError ** error)
{
  const gchar *store_dir = lb_store_get_dir (store);
  g_autofree gchar *qdir = g_build_filename (store_dir, "quarantine", NULL);
  g_autofree gchar *dest = quarantine_path (store_dir, qdir, path);
  g_autofree gchar *folder = g_path_get_dirname (dest);
  g_autofree gchar *vehicle = NULL, *input = NULL;
  const gchar *rows = segment_id ? "; its rows are removed" : "";

  /* the reader's messages start with the path, said already */
  if (g_str_has_prefix (why, path) && g_str_has_prefix (why + strlen (path),
          ": "))
    why += strlen (path) + 2;
  lb_footage_parse_segment_path (store_dir, path, &vehicle, &input, NULL);
  const LbLogContext *ctx = LB_LOG_CTX (.vehicle = vehicle,.input = input);
  if (g_mkdir_with_parents (folder, 0700) != 0 || g_rename (path, dest) != 0) {
    gint e = errno;
    lb_log (LB_LOG_ERROR, ctx, "segment file %s is broken (%s) and cannot be "
        "moved to the quarantine: %s; it is left out of the index%s", path,
        why, g_strerror (e), rows);
    g_string_append_printf (report, "cannot quarantine %s: %s: %s\n", path,
        why, g_strerror (e));
  } else {
    g_utime (dest, NULL);       /* the quarantine keeps the newest arrivals */
    lb_log (LB_LOG_WARNING, ctx,
        "segment file %s is broken (%s): moved to %s%s", path, why, dest, rows);
    g_string_append_printf (report, "quarantined %s as %s: %s\n", path, dest,
        why);
    trim_quarantine (qdir, report);
  }
  return segment_id == 0 || lb_store_segment_delete (store, segment_id, error);
}

/* ---- reconcile ---- */

/* The sample journal of @path (a segment with audio), NULL when there is
 * none or it cannot be read; it is read only up to the size of a full
 * journal. */
static GBytes *
read_journal (const gchar * path, GString * report)
{
  g_autofree gchar *jpath = lb_mp4_journal_path (path);
  gint fd = open (jpath, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return NULL;
  gsize max = 8 + 32 * (gsize) (LB_MP4_JOURNAL_MAX_RECORDS + 1), len = 0;
  g_autofree guint8 *data = g_malloc (max);
  for (;;) {
    gssize n = read (fd, data + len, max - len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      g_string_append_printf (report, "cannot read %s: %s\n", jpath,
          g_strerror (errno));
      close (fd);
      return NULL;
    }
    len += n;
    if (n == 0 || len == max)
      break;
  }
  close (fd);
  return g_bytes_new_take (g_realloc (g_steal_pointer (&data), MAX (len, 1)),
      len);
}

/* The writer of @path died: give the samples of its trailing moof-less mdat
 * a moof (lb_mp4_recover_tail_journal, with the sample journal of a
 * segment with audio) so that the scan indexes them too; the journal is
 * removed once it has served.  What came of it, for the operator's line:
 * "" (nothing to recover), "N frames of its torn tail recovered" or why
 * not. */
static gchar *
recover_tail (const gchar * path, GString * report)
{
  gint fd = open (path, O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    g_string_append_printf (report,
        "did not recover the torn tail of %s: open: %s\n", path,
        g_strerror (errno));
    return g_strdup_printf ("its torn tail not recovered (open: %s)",
        g_strerror (errno));
  }
  guint n = 0;
  g_autofree gchar *note = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) journal = read_journal (path, report);
  gchar *said = NULL;
  if (!lb_mp4_recover_tail_journal (fd, journal, &n, &note, &error)) {
    g_string_append_printf (report, "did not recover the torn tail of %s: %s\n",
        path, error->message);
    GST_WARNING ("%s: tail recovery failed: %s", path, error->message);
    said = g_strdup_printf ("its torn tail not recovered (%s)", error->message);
  } else if (n > 0) {
    g_string_append_printf (report,
        "recovered %u frames from the torn tail of %s%s\n", n, path,
        journal ? " (with its sample journal)" : "");
    GST_INFO ("%s: recovered %u frames from the torn tail", path, n);
    said = g_strdup_printf ("%u frames of its torn tail recovered", n);
  } else if (note) {
    g_string_append_printf (report, "did not recover the torn tail of %s: %s\n",
        path, note);
    said = g_strdup_printf ("its torn tail not recovered (%s)", note);
  }
  close (fd);
  g_autofree gchar *jpath = lb_mp4_journal_path (path);
  if (error == NULL)
    g_unlink (jpath);
  return said ? said : g_strdup ("");
}

/* The start time in a segment file's name ("<start_ns>.mp4"). */
static gboolean
name_start (const gchar * name, gint64 * start_ns)
{
  g_autofree gchar *num = g_str_has_suffix (name, ".mp4") ?
      g_strndup (name, strlen (name) - 4) : NULL;
  return num && g_ascii_string_to_signed (num, 10, G_MININT64, G_MAXINT64,
      start_ns, NULL);
}

/* The newest segment file of @path's folder named before @start_ns (its
 * input's previous segment), NULL when there is none: the folder's names
 * are read, no file is opened. */
static gchar *
previous_segment (const gchar * path, gint64 start_ns)
{
  g_autofree gchar *dir = g_path_get_dirname (path);
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  g_autofree gchar *best = NULL;
  gint64 best_start = G_MININT64, start;
  const gchar *name;

  while (d && (name = g_dir_read_name (d)))
    if (name_start (name, &start) && start < start_ns && start > best_start) {
      best_start = start;
      g_free (best);
      best = g_strdup (name);
    }
  return best ? g_build_filename (dir, best, NULL) : NULL;
}

/* Whether the file named for @start_ns continues the recording of @prev:
 * @prev's row ends where it begins.  Only then is @prev's codec data its
 * own (a camera's stream arrives without in-band parameter sets over RTSP,
 * so nothing in the file says otherwise): a camera whose stream changed
 * comes back through a new connection, and its first file begins after a
 * gap of a reconnect (at least retry-min, and the wait for a keyframe).
 * NULL when it does, else why not. */
static gchar *
not_continued (LbStore * store, const gchar * prev, gint64 start_ns)
{
  g_autoptr (GError) error = NULL;
  if (prev == NULL)
    return NULL;                /* lb_mp4_recover_first says so */
  gint64 id = lb_store_segment_find_path (store, prev, &error);
  g_autoptr (LbSegment) seg = id ? lb_store_segment_get (store, id, &error)
      : NULL;
  if (seg == NULL)
    return g_strdup_printf ("the previous segment %s is not in the index%s%s",
        prev, error ? ": " : "", error ? error->message : "");
  if (ABS (start_ns - seg->end_ns) <= CONTINUED_MAX_GAP_NS)
    return NULL;
  return g_strdup_printf ("it does not continue the previous segment %s "
      "(%.3f s from its end), whose codec data may not be its own", prev,
      (start_ns - seg->end_ns) / 1e9);
}

/* Recovers the frames of @path, when it has no moov (its writer died
 * within its first fragment), from its input's previous segment when it
 * continues that one (lb_mp4_recover_first): a file with audio (a sample journal) is left
 * alone.  What came of it, for the operator's line: "" (it has a moov),
 * "N frames recovered …" or why not. */
static gchar *
recover_first (LbStore * store, const gchar * path, gint64 start_ns,
    GString * report)
{
  g_autoptr (LbMp4Init) init = NULL;
  g_autoptr (GError) error = NULL;
  if (lb_mp4_read_init_path (path, &init, &error)
      || !g_error_matches (error, LB_ERROR, LB_ERROR_NOT_YET))
    return g_strdup ("");
  g_clear_error (&error);
  g_autofree gchar *jpath = lb_mp4_journal_path (path);
  g_autofree gchar *prev = previous_segment (path, start_ns);
  g_autofree gchar *note = NULL;
  guint n = 0;
  if (g_file_test (jpath, G_FILE_TEST_EXISTS)) {
    note = g_strdup ("it has audio");
  } else if ((note = not_continued (store, prev, start_ns)) == NULL) {
    gint fd = open (path, O_RDWR | O_CLOEXEC);
    gint pfd = prev ? open (prev, O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0)
      note = g_strdup_printf ("open: %s", g_strerror (errno));
    else if (!lb_mp4_recover_first (fd, pfd, &n, &note, &error)) {
      g_free (note);
      note = g_strdup (error->message);
    }
    if (fd >= 0)
      close (fd);
    if (pfd >= 0)
      close (pfd);
  }
  if (n > 0) {
    g_string_append_printf (report, "recovered %u frames of %s, which had "
        "no moov (its codec and timing from %s)\n", n, path, prev);
    return g_strdup_printf ("it had no moov: %u frames recovered (its codec "
        "and timing from %s)", n, prev);
  }
  g_string_append_printf (report, "did not recover %s, which has no moov: "
      "%s\n", path, note ? note : "nothing to recover");
  return g_strdup_printf ("not recovered: %s", note ? note :
      "nothing to recover");
}

static gboolean
reindex_open (LbStore * store, LbSegment * seg, GString * report,
    GError ** error)
{
  g_autoptr (GArray) rows = NULL;
  gint64 size = 0;
  g_autoptr (GError) local = NULL;
  g_autofree gchar *recovered = recover_tail (seg->path, report);
  g_autoptr (LbSegment) fresh =
      lb_footage_scan_file (seg->vehicle, seg->input, seg->path, seg->start_ns,
      &rows, &size, &local);
  if (fresh == NULL && g_error_matches (local, LB_ERROR, LB_ERROR_CORRUPT))
    return quarantine (store, seg->path, seg->id, local->message, report,
        error);
  if (fresh == NULL) {
    g_string_append_printf (report, "removed the row of open segment %s: %s\n",
        seg->path, local->message);
    return lb_store_segment_delete (store, seg->id, error);
  }
  if (size > fresh->bytes) {
    /* Cut the torn tail off: what remains is whole fragments, readable. */
    if (truncate (seg->path, fresh->bytes) != 0) {
      g_set_error (error, LB_ERROR, LB_ERROR_IO, "truncate %s: %s", seg->path,
          g_strerror (errno));
      return FALSE;
    }
    gint fd = open (seg->path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      fdatasync (fd);
      close (fd);
    }
  }
  /* Replace the row: delete, then add closed (a crash in between leaves the
   * file unknown, and the next reconcile indexes it again).  It keeps its
   * times and its clock epoch. */
  fresh->clock_epoch = seg->clock_epoch;
  if (!lb_store_segment_delete (store, seg->id, error))
    return FALSE;
  g_autoptr (GPtrArray) segs = g_ptr_array_new ();
  g_autoptr (GPtrArray) kfs = g_ptr_array_new ();
  g_ptr_array_add (segs, fresh);
  g_ptr_array_add (kfs, rows);
  if (!lb_store_segment_add (store, segs, kfs, error))
    return FALSE;
  g_string_append_printf (report,
      "closed open segment %s: %u keyframes, %" G_GINT64_FORMAT " bytes%s\n",
      seg->path, rows->len, fresh->bytes,
      size > fresh->bytes ? " (torn tail cut off)" : "");
  lb_log (LB_LOG_INFO, LB_LOG_CTX (.vehicle = seg->vehicle,.input =
          seg->input), "segment %s left open by a crash: closed at its last "
      "whole fragment%s%s%s", seg->path, *recovered ? "; " : "", recovered,
      size > fresh->bytes ? " (the rest of its torn tail cut off)" : "");
  return TRUE;
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const gchar * const *) a, *(const gchar * const *) b);
}

/* A file under segments/ that the index does not know: indexed when its
 * name and content parse, quarantined when it is named like a segment but
 * is not one, reported otherwise. */
static gboolean
reconcile_unknown (LbStore * store, const gchar * path, guint depth,
    GString * report, GError ** error)
{
  g_autofree gchar *vehicle = NULL, *input = NULL;
  gint64 start_ns, id = 0;
  g_autoptr (GError) local = NULL;
  GStatBuf st;

  if (depth != 2
      || !lb_footage_parse_segment_path (lb_store_get_dir (store), path,
          &vehicle, &input, &start_ns)) {
    g_string_append_printf (report,
        "unknown file %s: not named like a segment\n", path);
    return TRUE;
  }
  /* A re-timed file keeps its name (lb_store_footage_retime()): it can be
   * named after its input's newest row and known to the index all the
   * same. */
  if (lb_store_segment_find_path (store, path, &local) != 0)
    return TRUE;
  if (local) {
    g_propagate_error (error, g_steal_pointer (&local));
    return FALSE;
  }
  /* a FIFO or a device would block or never end a read: never opened */
  if (g_lstat (path, &st) != 0 || !S_ISREG (st.st_mode))
    return quarantine (store, path, 0, "not a regular file", report, error);
  g_autofree gchar *first = recover_first (store, path, start_ns, report);
  g_free (recover_tail (path, report));
  if (lb_footage_index_file (store, vehicle, input, path, start_ns, &id,
          &local)) {
    g_string_append_printf (report, "indexed unknown file %s\n", path);
    lb_log (LB_LOG_INFO, LB_LOG_CTX (.vehicle = vehicle,.input = input),
        "segment file %s was not in the index: indexed%s%s", path,
        *first ? "; " : "", first);
    return TRUE;
  }
  if (g_error_matches (local, LB_ERROR, LB_ERROR_CORRUPT)) {
    g_autofree gchar *why = *first ? g_strdup_printf ("%s; %s",
        local->message, first) : g_strdup (local->message);
    return quarantine (store, path, 0, why, report, error);
  }
  g_propagate_error (error, g_steal_pointer (&local));
  return FALSE;
}

/* Files under @dir that may be unknown to the index.  In an input's folder
 * (@newest: its newest row's start) only those named after it: the others
 * are not even looked at, so that a start does not stat every file. */
static GPtrArray *
unknown_names (const gchar * dir, const gint64 * newest)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  const gchar *name;
  gint64 start;

  while (d && (name = g_dir_read_name (d)))
    if (!newest || !name_start (name, &start) || start > *newest)
      g_ptr_array_add (names, g_strdup (name));
  return names;
}

/* The sample journals of @names still there once their segments' tails
 * are recovered (their segment closed, or gone) are not needed. */
static void
remove_stale_journals (const gchar * dir, GPtrArray * names, GString * report)
{
  for (guint i = 0; i < names->len; i++) {
    const gchar *n = g_ptr_array_index (names, i);
    g_autofree gchar *path = g_build_filename (dir, n, NULL);
    if (g_str_has_suffix (n, LB_MP4_JOURNAL_SUFFIX)
        && g_file_test (path, G_FILE_TEST_IS_REGULAR) && g_unlink (path) == 0)
      g_string_append_printf (report, "removed the stale sample journal %s\n",
          path);
  }
}

static gboolean
walk_segments (LbStore * store, const gchar * dir, guint depth,
    GHashTable * newest, GString * report, GError ** error)
{
  g_autoptr (GPtrArray) names = unknown_names (dir,
      depth == 2 ? g_hash_table_lookup (newest, dir) : NULL);
  g_ptr_array_sort (names, compare_names);
  for (guint i = 0; i < names->len; i++) {
    const gchar *n = *(const gchar **) &g_ptr_array_index (names, i);
    g_autofree gchar *path = g_build_filename (dir, n, NULL);
    gboolean ok = TRUE;
    if (g_str_has_suffix (n, LB_MP4_JOURNAL_SUFFIX))
      continue;                 /* below */
    if (g_file_test (path, G_FILE_TEST_IS_DIR)
        && !g_file_test (path, G_FILE_TEST_IS_SYMLINK)) {
      if (depth < 2)
        ok = walk_segments (store, path, depth + 1, newest, report, error);
      else
        g_string_append_printf (report, "unknown folder %s\n", path);
    } else {
      ok = reconcile_unknown (store, path, depth, report, error);
    }
    if (!ok)
      return FALSE;
  }
  remove_stale_journals (dir, names, report);
  return TRUE;
}

/* The row of a segment whose file is gone is removed. */
static gboolean
drop_missing (LbStore * store, const LbSegment * seg, GString * report,
    GError ** error)
{
  if (!lb_store_segment_delete (store, seg->id, error))
    return FALSE;
  g_string_append_printf (report, "removed the row of missing file %s\n",
      seg->path);
  lb_log (LB_LOG_WARNING, LB_LOG_CTX (.vehicle = seg->vehicle,.input =
          seg->input), "segment file %s is gone: its rows are removed",
      seg->path);
  return TRUE;
}

/* Each input's oldest rows whose file is gone: retention deletes a file,
 * then its row, one segment at a time, so a crash leaves at most one such
 * row per input.  A few are looked at, never more (a start must not grow
 * with the footage). */
#define MISSING_OLDEST_MAX 8

static gboolean
drop_missing_oldest (LbStore * store, const LbFootageInput * in,
    GString * report, GError ** error)
{
  g_autoptr (GPtrArray) oldest = lb_store_segment_oldest (store, in->vehicle,
      in->input, G_MININT64, MISSING_OLDEST_MAX, error);
  if (oldest == NULL)
    return FALSE;
  for (guint i = 0; i < oldest->len; i++) {
    LbSegment *seg = g_ptr_array_index (oldest, i);
    if (g_file_test (seg->path, G_FILE_TEST_IS_REGULAR))
      return TRUE;
    if (!drop_missing (store, seg, report, error))
      return FALSE;
  }
  return TRUE;
}

/* The folder of each input with footage → its newest row's start. */
static GHashTable *
newest_by_folder (LbStore * store, GString * report, GError ** error)
{
  g_autoptr (GPtrArray) inputs = lb_store_footage_inputs (store, NULL, error);
  if (inputs == NULL)
    return NULL;
  g_autoptr (GHashTable) newest = g_hash_table_new_full (g_str_hash,
      g_str_equal, g_free, g_free);
  for (guint i = 0; i < inputs->len; i++) {
    LbFootageInput *in = g_ptr_array_index (inputs, i);
    if (!drop_missing_oldest (store, in, report, error))
      return NULL;
    g_autofree gchar *any = lb_footage_segment_path (lb_store_get_dir (store),
        in->vehicle, in->input, 0);
    g_hash_table_insert (newest, g_path_get_dirname (any),
        g_memdup2 (&in->last_start_ns, sizeof (gint64)));
  }
  return g_steal_pointer (&newest);
}

gboolean
lb_footage_reconcile (LbStore * store, GString * report, GError ** error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (report != NULL, FALSE);
  LB_DEBUG_INIT (lb_reconcile_debug, "lookback-reconcile",
      "lookback start-up reconcile");

  /* 1. open segments: a crash (or a kill) left them */
  g_autoptr (GPtrArray) open_segs =
      lb_store_segment_list (store, NULL, NULL, TRUE, error);
  if (open_segs == NULL)
    return FALSE;
  for (guint i = 0; i < open_segs->len; i++) {
    LbSegment *seg = g_ptr_array_index (open_segs, i);
    gboolean ok;
    /* Not a regular file: its row goes as a missing file's; whatever is
     * there is newer than its input's newest row now, and the walk below
     * quarantines it. */
    if (g_file_test (seg->path, G_FILE_TEST_IS_REGULAR))
      ok = reindex_open (store, seg, report, error);
    else
      ok = drop_missing (store, seg, report, error);
    if (!ok)
      return FALSE;
  }

  /* 2. the oldest rows whose file is gone */
  g_autoptr (GHashTable) newest = newest_by_folder (store, report, error);
  if (newest == NULL)
    return FALSE;

  /* 3. files newer than their input's newest row: the recorder creates a
   * file before its row */
  g_autofree gchar *root =
      g_build_filename (lb_store_get_dir (store), "segments", NULL);
  return walk_segments (store, root, 0, newest, report, error);
}
