/* lookback — what the MP4 fuzz targets share: the input as a file
 * descriptor, and the checks every read must pass */
#pragma once

#include "mp4/lb-mp4.h"
#include "core/lb-error.h"

#include <gst/gst.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

/* The targets call gst_init(): GStreamer registers so many quarks that
 * GLib moves its quark table, and leaves the first block (allocated by its
 * constructor, at load time) unreferenced on purpose.  LeakSanitizer would
 * report it after every run: allocations made by shared-library
 * constructors are not leaks of the code under test.  Stacks are taken
 * with the slow unwinder, so that the constructor (_dl_init) shows in
 * them: GLib has no frame pointers. */
const char *__lsan_default_suppressions (void);
const char *__asan_default_options (void);

const char *
__lsan_default_suppressions (void)
{
  return "leak:_dl_init\n";
}

const char *
__asan_default_options (void)
{
  return "fast_unwind_on_malloc=0";
}

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t * data, size_t size);

/* The reader makes GstCaps: GStreamer is initialised once. */
int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  gst_init (NULL, NULL);
  return 0;
}

/* @data in an anonymous memory file, open for reading and writing. */
static inline gint
fuzz_mp4_memfd (const uint8_t * data, size_t size)
{
  gint fd = memfd_create ("fuzz-mp4", MFD_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  for (size_t done = 0; done < size;) {
    ssize_t n = pwrite (fd, data + done, size - done, done);
    g_assert_cmpint (n, >, 0);
    done += n;
  }
  return fd;
}

static inline gint64
fuzz_mp4_file_size (gint fd)
{
  off_t end = lseek (fd, 0, SEEK_END);
  g_assert_cmpint (end, >=, 0);
  return end;
}

/* A failure of the reader is one of its documented errors. */
static inline void
fuzz_mp4_check_error (const GError * error)
{
  g_assert_nonnull (error);
  g_assert_true (error->domain == LB_ERROR);
  g_assert_true (error->code == LB_ERROR_NOT_YET
      || error->code == LB_ERROR_CORRUPT || error->code == LB_ERROR_IO);
}

/* Every sample that has bytes has them inside [@start, @end). */
static inline void
fuzz_mp4_check_samples (const GArray * samples, gint64 start, gint64 end)
{
  for (guint i = 0; i < samples->len; i++) {
    const LbMp4Sample *s = &g_array_index (samples, LbMp4Sample, i);
    if (s->size == 0)
      continue;
    g_assert_cmpint (s->offset, >=, start);
    g_assert_cmpint (s->offset + (gint64) s->size, <=, end);
  }
}

/* Reads every fragment of @fd from the first on, as the indexer does,
 * and each one's range again, as lbrecordingsrc does.  Returns the last
 * fragment read (NULL if none) and the error that ended the scan (NULL
 * when the file is finalised and read to its end). */
static inline LbMp4Fragment *
fuzz_mp4_scan (gint fd, const LbMp4Init * init, GError ** stop)
{
  gint64 file_size = fuzz_mp4_file_size (fd);
  gint64 offset = lb_mp4_first_offset (init);
  LbMp4Fragment *last = NULL;

  /* each fragment takes at least 8 bytes of the file */
  for (gint64 n = 0; n <= file_size / 8 + 1; n++) {
    LbMp4Fragment *f = NULL;
    if (!lb_mp4_read_fragment (fd, init, offset, file_size, &f, stop)) {
      fuzz_mp4_check_error (*stop);
      return last;
    }
    if (f == NULL)
      return last;
    g_assert_cmpint (f->next_offset, >, offset);
    fuzz_mp4_check_samples (f->samples, 0, file_size);
    LbMp4Fragment *again = NULL;
    g_autoptr (GError) error = NULL;
    if (lb_mp4_read_range (fd, init, f->offset, f->size, &again, &error)) {
      fuzz_mp4_check_samples (again->samples, f->offset, f->offset + f->size);
      lb_mp4_fragment_free (again);
    } else {
      fuzz_mp4_check_error (error);
    }
    offset = f->next_offset;
    g_clear_pointer (&last, lb_mp4_fragment_free);
    last = f;
  }
  g_assert_not_reached ();
}

/* After a recovery of @fd (with @journal, or none) that gave @samples:
 * the file reads again, its last fragment holds exactly those samples and
 * nothing follows it, and a second recovery finds nothing more to do. */
static inline void
fuzz_mp4_check_recovered (gint fd, GBytes * journal, guint samples)
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
  g_assert_true (lb_mp4_recover_tail_journal (fd, journal, &again, &note,
          &error));
  g_assert_cmpuint (again, ==, 0);
}
