/* Fuzz target: crash recovery (lb_mp4_recover_tail, lb_mp4_recover_first,
 * src/mp4)
 *
 * Reconcile runs them on the segments a crash left.  The input is the
 * file; or, when it starts with "LBP1" and a 4-byte big-endian length,
 * that many bytes of the input's previous segment, then the file (a file
 * killed before its first moov is recovered from the previous segment).
 * Nothing may crash or hang; a failure is an I/O error only.  When a
 * recovery recovers samples, the file reads again: its last fragment holds
 * exactly those samples, nothing after it, and a second recovery finds
 * nothing more to do; when it recovers none, the file is as it was.
 */
#define _GNU_SOURCE             /* memfd_create */
#include "fuzz-mp4.h"

#include <string.h>

/* After lb_mp4_recover_first gave @samples: the file reads again, its
 * moov describes exactly those samples (in as many fragments as they hold
 * keyframes) and nothing follows it, and a second recovery of either kind
 * finds nothing to do. */
static void
check_first_recovered (gint fd, gint previous_fd, guint samples)
{
  g_autoptr (LbMp4Init) init = NULL;
  g_autoptr (GError) error = NULL;
  g_assert_true (lb_mp4_read_init (fd, &init, &error));
  g_assert_cmpuint (init->samples->len, ==, samples);
  g_assert_cmpint (init->init_size, ==, fuzz_mp4_file_size (fd));
  g_autoptr (LbMp4Fragment) last = fuzz_mp4_scan (fd, init, &error);
  g_assert_nonnull (last);
  g_assert_cmpint (last->next_offset, ==, fuzz_mp4_file_size (fd));
  g_assert_error (error, LB_ERROR, LB_ERROR_NOT_YET);
  g_clear_error (&error);
  guint again = 1;
  g_assert_true (lb_mp4_recover_first (fd, previous_fd, &again, NULL, &error));
  g_assert_cmpuint (again, ==, 0);
  again = 1;
  g_assert_true (lb_mp4_recover_tail (fd, &again, NULL, &error));
  g_assert_cmpuint (again, ==, 0);
}

/* lb_mp4_recover_first of @fd (@size bytes) with the previous segment
 * @previous_fd (-1: none). */
static void
recover_first (gint fd, gint previous_fd, gint64 size)
{
  guint samples = 0;
  g_autofree gchar *note = NULL;
  g_autoptr (GError) error = NULL;
  if (!lb_mp4_recover_first (fd, previous_fd, &samples, &note, &error)) {
    g_assert_error (error, LB_ERROR, LB_ERROR_IO);
    return;
  }
  if (samples == 0) {
    g_assert_cmpint (fuzz_mp4_file_size (fd), ==, size);
    return;
  }
  check_first_recovered (fd, previous_fd, samples);
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  gint previous_fd = -1;
  if (size >= 8 && memcmp (data, "LBP1", 4) == 0) {
    gsize plen = MIN (GST_READ_UINT32_BE (data + 4), size - 8);
    previous_fd = fuzz_mp4_memfd (data + 8, plen);
    data += 8 + plen;
    size -= 8 + plen;
  }
  gint fd = fuzz_mp4_memfd (data, size);
  guint samples = 0;
  g_autofree gchar *note = NULL;
  g_autoptr (GError) error = NULL;

  recover_first (fd, previous_fd, size);
  gint64 now = fuzz_mp4_file_size (fd);
  if (lb_mp4_recover_tail (fd, &samples, &note, &error)) {
    if (samples > 0)
      fuzz_mp4_check_recovered (fd, NULL, samples);
    else
      g_assert_cmpint (fuzz_mp4_file_size (fd), ==, now);
  } else {
    g_assert_error (error, LB_ERROR, LB_ERROR_IO);
  }
  close (fd);
  if (previous_fd >= 0)
    close (previous_fd);
  return 0;
}
