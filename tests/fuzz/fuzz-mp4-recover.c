/* Fuzz target: torn-tail recovery (lb_mp4_recover_tail, src/mp4)
 *
 * Reconcile runs it on every segment a crash left open.  The input is the
 * file.  Nothing may crash or hang; a failure is an I/O error only.  When
 * it recovers samples, the file reads again: its last fragment holds
 * exactly those samples, nothing after it, and a second recovery finds
 * nothing more to do.
 */
#define _GNU_SOURCE             /* memfd_create */
#include "fuzz-mp4.h"

static void
check_recovered (gint fd, guint samples)
{
  g_autoptr (LbMp4Init) init = NULL;
  g_autoptr (GError) error = NULL;
  g_assert_true (lb_mp4_read_init (fd, &init, &error));
  g_autoptr (LbMp4Fragment) last = fuzz_mp4_scan (fd, init, &error);
  g_assert_nonnull (last);
  g_assert_cmpuint (last->samples->len, ==, samples);
  g_assert_cmpint (last->next_offset, ==, fuzz_mp4_file_size (fd));
  g_assert_error (error, LB_ERROR, LB_ERROR_NOT_YET);

  guint again = 1;
  g_autofree gchar *note = NULL;
  g_clear_error (&error);
  g_assert_true (lb_mp4_recover_tail (fd, &again, &note, &error));
  g_assert_cmpuint (again, ==, 0);
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  gint fd = fuzz_mp4_memfd (data, size);
  guint samples = 0;
  g_autofree gchar *note = NULL;
  g_autoptr (GError) error = NULL;

  if (lb_mp4_recover_tail (fd, &samples, &note, &error)) {
    if (samples > 0)
      check_recovered (fd, samples);
    else
      g_assert_cmpint (fuzz_mp4_file_size (fd), ==, (gint64) size);
  } else {
    g_assert_error (error, LB_ERROR, LB_ERROR_IO);
  }
  close (fd);
  return 0;
}
