/* Fuzz target: the MP4 reader (src/mp4/lb-mp4.c)
 *
 * Reconcile hands it whatever file lies in the segments folder, and
 * lbrecordingsrc every indexed one.  The input is a file: its init is
 * read, then every fragment and each fragment's byte range.  Nothing may
 * crash, hang or allocate more than the file and the reader's limits
 * allow; a failure is one of the reader's errors; every sample read lies
 * inside the file (and inside the range asked for).
 */
#define _GNU_SOURCE             /* memfd_create */
#include "fuzz-mp4.h"

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  gint fd = fuzz_mp4_memfd (data, size);
  g_autoptr (LbMp4Init) init = NULL;
  g_autoptr (GError) error = NULL;

  if (lb_mp4_read_init (fd, &init, &error)) {
    g_assert_cmpuint (init->timescale, >, 0);
    g_assert_nonnull (init->caps);
    g_assert_cmpint (init->init_size, <=, (gint64) size);
    lb_mp4_fragment_free (fuzz_mp4_scan (fd, init, &error));
    if (error)
      fuzz_mp4_check_error (error);
  } else {
    fuzz_mp4_check_error (error);
  }
  close (fd);
  return 0;
}
