/* Fuzz target: the moov editor (lb_mp4_trim, src/mp4/lb-mp4-trim.c)
 *
 * Every high-res remux ends with it.  The input's first two bytes are the
 * skip (× 20 ms) and the duration (× 50 ms; 0: to the end), the rest is
 * the file.  Nothing may crash or hang.  A refusal leaves the file as it
 * was.  After an edit the file reads as it did before (same samples, no
 * more sync samples), and the frames shown are at least one and at most
 * the samples.
 */
#define _GNU_SOURCE             /* memfd_create */
#include "fuzz-mp4.h"
#include "mp4/lb-mp4-trim.h"

#include <glib/gstdio.h>
#include <stdlib.h>

/* The folder the input is written to, made at the first input and
 * removed at exit (empty between inputs). */
static gchar *dir;

static void
remove_dir (void)
{
  g_rmdir (dir);
  g_free (dir);
}

/* The samples of the moov of @path, and how many are sync; -1 when it
 * does not read. */
static gint
read_samples (const gchar * path, guint * sync)
{
  g_autoptr (LbMp4Init) init = NULL;
  if (!lb_mp4_read_init_path (path, &init, NULL))
    return -1;
  *sync = 0;
  for (guint i = 0; i < init->samples->len; i++)
    *sync += g_array_index (init->samples, LbMp4Sample, i).sync;
  return init->samples->len;
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  if (dir == NULL) {
    dir = g_dir_make_tmp ("lb-fuzz-moov-edit-XXXXXX", NULL);
    g_assert_nonnull (dir);
    atexit (remove_dir);
  }
  if (size < 2)
    return 0;
  gint64 skip_ns = data[0] * 20 * GST_MSECOND;
  gint64 duration_ns = data[1] * 50 * GST_MSECOND;
  g_autofree gchar *path = g_build_filename (dir, "in.mp4", NULL);
  g_assert_true (g_file_set_contents (path, (const gchar *) data + 2,
          size - 2, NULL));
  guint sync_before = 0, sync_after = 0;
  gint before = read_samples (path, &sync_before);

  LbMp4Trim trim;
  g_autoptr (GError) error = NULL;
  if (lb_mp4_trim (path, skip_ns, duration_ns, &trim, &error)) {
    g_assert_cmpuint (trim.frames, >=, 1);
    g_assert_cmpuint (trim.frames, <=, trim.samples);
    if (before >= 0) {
      g_assert_cmpint (read_samples (path, &sync_after), ==, before);
      g_assert_cmpuint (sync_after, <=, sync_before);
    }
  } else {
    g_assert_true (error->domain == LB_ERROR);
    g_assert_true (error->code == LB_ERROR_CORRUPT
        || error->code == LB_ERROR_INVALID);
    g_autofree gchar *after = NULL;
    gsize len;
    g_assert_true (g_file_get_contents (path, &after, &len, NULL));
    g_assert_cmpmem (after, len, data + 2, size - 2);
  }
  g_unlink (path);
  return 0;
}
