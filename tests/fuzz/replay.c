/* lookback — replays fuzz inputs through a libFuzzer target without fuzzing
 *
 * `meson test --suite fuzz` runs every target as
 *   fuzz-NAME tests/fuzz/corpus/NAME
 * built with -fsanitize=address,undefined: each file (or every file of a
 * folder) is copied into a buffer of exactly its size and handed to
 * LLVMFuzzerTestOneInput once, as libFuzzer does.  Each input is named on
 * stderr before it runs; a sanitizer report, a crash or an input that runs
 * longer than LB_FUZZ_INPUT_TIMEOUT seconds fails the run.  The libFuzzer build
 * (tests/fuzz/run.sh) does not use this file: libFuzzer has its own main().
 */
#include <glib.h>
#include <glib/gstdio.h>

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* seconds one input may run */
#define LB_FUZZ_INPUT_TIMEOUT 20

int LLVMFuzzerTestOneInput (const uint8_t * data, size_t size);
int LLVMFuzzerInitialize (int *argc, char ***argv) __attribute__((weak));

static const gchar *current_input;

static void
on_alarm (int sig)
{
  static const char msg[] = "fuzz replay: input ran too long (a hang): ";

  /* only async-signal-safe calls here */
  if (write (STDERR_FILENO, msg, sizeof msg - 1) < 0
      || write (STDERR_FILENO, current_input, strlen (current_input)) < 0
      || write (STDERR_FILENO, "\n", 1) < 0)
    _exit (2);
  _exit (1);
}

static gboolean
replay_file (const gchar * path)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *contents = NULL;
  gsize size = 0;

  if (!g_file_get_contents (path, &contents, &size, &error)) {
    fprintf (stderr, "fuzz replay: %s\n", error->message);
    return FALSE;
  }
  /* exactly the input's size, so that a read past its end is reported */
  uint8_t *copy = malloc (size ? size : 1);
  if (size)
    memcpy (copy, contents, size);
  /* named before it runs, so that a report or an abort is attributed */
  fprintf (stderr, "fuzz replay: %s\n", path);
  current_input = path;
  alarm (LB_FUZZ_INPUT_TIMEOUT);
  LLVMFuzzerTestOneInput (copy, size);
  alarm (0);
  free (copy);
  return TRUE;
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const gchar * const *) a, *(const gchar * const *) b);
}

/* Every regular file of @dir, sorted by name so that runs are repeatable. */
static GPtrArray *
list_folder (const gchar * dir, GError ** error)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, error);
  if (d == NULL)
    return NULL;

  GPtrArray *files = g_ptr_array_new_with_free_func (g_free);
  const gchar *name;
  while ((name = g_dir_read_name (d)) != NULL) {
    gchar *path = g_build_filename (dir, name, NULL);
    if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
      g_ptr_array_add (files, path);
    else
      g_free (path);
  }
  g_ptr_array_sort (files, compare_names);
  return files;
}

int
main (int argc, char **argv)
{
  guint replayed = 0;

  if (argc < 2) {
    fprintf (stderr, "usage: %s FILE|FOLDER…\n", argv[0]);
    return 2;
  }
  if (LLVMFuzzerInitialize != NULL)
    LLVMFuzzerInitialize (&argc, &argv);
  signal (SIGALRM, on_alarm);

  for (int i = 1; i < argc; i++) {
    if (!g_file_test (argv[i], G_FILE_TEST_IS_DIR)) {
      if (!replay_file (argv[i]))
        return 1;
      replayed++;
      continue;
    }
    g_autoptr (GError) error = NULL;
    g_autoptr (GPtrArray) files = list_folder (argv[i], &error);
    if (files == NULL) {
      fprintf (stderr, "fuzz replay: %s\n", error->message);
      return 1;
    }
    for (guint j = 0; j < files->len; j++) {
      if (!replay_file (g_ptr_array_index (files, j)))
        return 1;
      replayed++;
    }
  }
  if (replayed == 0) {
    fprintf (stderr, "fuzz replay: no input found (a target needs a seed "
        "corpus in tests/fuzz/corpus/NAME/)\n");
    return 1;
  }
  printf ("replayed %u inputs, no sanitizer report\n", replayed);
  return 0;
}
