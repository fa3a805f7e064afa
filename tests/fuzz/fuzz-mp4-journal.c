/* Fuzz target: the sample journal of a segment with audio
 * (lb_mp4_journal_parse, lb_mp4_recover_tail_journal, src/mp4)
 *
 * Reconcile reads the journal the segment writer left beside a segment a
 * crash left open, and recovers the segment's torn tail with it.  The
 * input is a 4-byte big-endian length, that many bytes of journal, then
 * the segment file.  Nothing may crash or hang: a journal that parses has
 * one record per 32 bytes after its header, and a recovery fails on I/O
 * errors only; when it recovers samples, the file reads again and its
 * last fragment holds exactly the video samples recovered, nothing after
 * it, and a second recovery finds nothing more to do.
 */
#define _GNU_SOURCE             /* memfd_create */
#include "fuzz-mp4.h"
#include "mp4/lb-mp4-journal.h"

static void
check_journal (GBytes * journal)
{
  gsize len;
  const guint8 *d = g_bytes_get_data (journal, &len);
  g_autoptr (GArray) video = NULL, audio = NULL;
  g_autoptr (GError) error = NULL;
  if (!lb_mp4_journal_parse (d, len, &video, &audio, &error)) {
    g_assert_error (error, LB_ERROR, LB_ERROR_CORRUPT);
    return;
  }
  g_assert_cmpuint (video->len + audio->len, ==, (len - 8) / 32);
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  if (size < 4)
    return 0;
  gsize jlen = MIN (GST_READ_UINT32_BE (data), size - 4);
  g_autoptr (GBytes) journal = g_bytes_new (data + 4, jlen);
  check_journal (journal);

  const uint8_t *file = data + 4 + jlen;
  gsize file_size = size - 4 - jlen;
  gint fd = fuzz_mp4_memfd (file, file_size);
  guint samples = 0;
  g_autofree gchar *note = NULL;
  g_autoptr (GError) error = NULL;
  if (lb_mp4_recover_tail_journal (fd, journal, &samples, &note, &error)) {
    if (samples > 0)
      fuzz_mp4_check_recovered (fd, journal, samples);
    else
      g_assert_cmpint (fuzz_mp4_file_size (fd), ==, (gint64) file_size);
  } else {
    g_assert_error (error, LB_ERROR, LB_ERROR_IO);
  }
  close (fd);
  return 0;
}
