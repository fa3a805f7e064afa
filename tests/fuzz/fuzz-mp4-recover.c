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

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  gint fd = fuzz_mp4_memfd (data, size);
  guint samples = 0;
  g_autofree gchar *note = NULL;
  g_autoptr (GError) error = NULL;

  if (lb_mp4_recover_tail (fd, &samples, &note, &error)) {
    if (samples > 0)
      fuzz_mp4_check_recovered (fd, NULL, samples);
    else
      g_assert_cmpint (fuzz_mp4_file_size (fd), ==, (gint64) size);
  } else {
    g_assert_error (error, LB_ERROR, LB_ERROR_IO);
  }
  close (fd);
  return 0;
}
