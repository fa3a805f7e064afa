/* lookback — the store folder is private to its owner
 *
 * It holds the URL-signing key and the token hashes (in the database) and
 * the footage: a store folder is 0700 and every file in it 0600, whichever
 * program creates them (lookbackd, `lookback import`, `lookback token add`,
 * GStreamer's filesink writing a segment or an output).  A process that
 * opens a store for writing therefore masks group and other bits out of
 * every file it creates from then on (umask), the database is created 0600
 * (SQLite gives its -wal and -shm the database's mode), and looser modes
 * found at open — a store made by an older lookback, or by hand — are
 * tightened, with a log line.
 */
#include "store/lb-store-private.h"
#include "core/lb-error.h"
#include "core/lb-log.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

#define PRIVATE_DIR 0700
#define PRIVATE_FILE 0600

/* Group and other bits masked out of what this process creates from now on
 * (a stricter mask stays). */
static void
mask_group_and_other (void)
{
  mode_t old = umask (077);
  if ((old | 077) != 077)
    umask (old | 077);
}

/* Sets @path (never followed if a link) to the private mode of its kind
 * when group or others have any access to it.  TRUE when it was loose;
 * @old gets its mode. */
static gboolean
tighten (const gchar * path, mode_t * old)
{
  GStatBuf st;

  if (g_lstat (path, &st) != 0 || S_ISLNK (st.st_mode)
      || (st.st_mode & 077) == 0)
    return FALSE;
  *old = st.st_mode & 07777;
  if (g_chmod (path, S_ISDIR (st.st_mode) ? PRIVATE_DIR : PRIVATE_FILE) != 0)
    lb_log (LB_LOG_WARNING, NULL, "store: cannot make %s private (mode 0%o): "
        "%s", path, (guint) * old, g_strerror (errno));
  return TRUE;
}

/* Tightens everything under @dir; the number of loose entries found. */
static guint
tighten_tree (const gchar * dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const gchar *name;
  guint n = 0;
  mode_t old;

  while (d && (name = g_dir_read_name (d))) {
    g_autofree gchar *path = g_build_filename (dir, name, NULL);
    n += tighten (path, &old);
    if (g_file_test (path, G_FILE_TEST_IS_DIR)
        && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
      n += tighten_tree (path);
  }
  return n;
}

static void
tighten_logged (const gchar * path)
{
  mode_t old;

  if (tighten (path, &old))
    lb_log (LB_LOG_WARNING, NULL, "store: %s was open to other users "
        "(mode 0%o): made private to its owner", path, (guint) old);
}

/* The folder itself: created 0700, tightened when looser.  TRUE when it
 * was loose (what is inside may be too). */
static gboolean
prepare_dir (const gchar * dir, gboolean * was_loose, GError ** error)
{
  GStatBuf st;
  mode_t old;

  if (g_mkdir_with_parents (dir, PRIVATE_DIR) != 0 || g_stat (dir, &st) != 0) {
    g_set_error (error, LB_ERROR, LB_ERROR_IO,
        "cannot create the store folder %s: %s", dir, g_strerror (errno));
    return FALSE;
  }
  /* A shared folder such as /tmp is never made private: the store wants a
   * folder of its own. */
  if (st.st_mode & S_ISVTX) {
    lb_log (LB_LOG_WARNING, NULL, "store: %s is a shared folder; keep the "
        "store in a folder of its own to make it private", dir);
    *was_loose = FALSE;
    return TRUE;
  }
  *was_loose = tighten (dir, &old);
  if (*was_loose)
    lb_log (LB_LOG_WARNING, NULL, "store: the folder %s was open to other "
        "users (mode 0%o): made private to its owner (0700)", dir, (guint) old);
  return TRUE;
}

gboolean
lb_store_folder_prepare (const gchar * dir, const gchar * db_path,
    GError ** error)
{
  static const gchar *const db_suffixes[] = { "", "-wal", "-shm", "-journal" };
  static const gchar *const trees[] = { "segments", "outputs" };
  gboolean was_loose;

  mask_group_and_other ();
  if (!prepare_dir (dir, &was_loose, error))
    return FALSE;
  /* Created 0600 before SQLite opens it: its -wal and -shm take its mode. */
  gint fd = g_open (db_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
      PRIVATE_FILE);
  if (fd >= 0)
    close (fd);
  for (guint i = 0; i < G_N_ELEMENTS (db_suffixes); i++) {
    g_autofree gchar *path = g_strconcat (db_path, db_suffixes[i], NULL);
    tighten_logged (path);
  }
  for (guint i = 0; i < G_N_ELEMENTS (trees); i++) {
    g_autofree gchar *path = g_build_filename (dir, trees[i], NULL);
    tighten_logged (path);
    /* Inside a private folder nobody else reaches them: look at every
     * file only when the folder itself was open (once). */
    guint n = was_loose ? tighten_tree (path) : 0;
    if (n > 0)
      lb_log (LB_LOG_WARNING, NULL, "store: %u files and folders under %s "
          "were open to other users: made private to their owner", n, path);
  }
  return TRUE;
}
