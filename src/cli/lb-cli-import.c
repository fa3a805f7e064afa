/* lookback — `lookback import`: existing H.264 recordings into the store
 *
 *   lookback [--config FILE] import --vehicle ID --input NAME [--sub-stream]
 *            --start RFC3339 [--framerate N/D] FILE... [--start RFC3339 FILE...]
 *
 * --start is the wall-clock time of the first frame of the next FILE; the
 * files after it follow each other (each starts where the previous one
 * ended) until another --start.  --framerate applies to the files after it.
 * --sub-stream: the files are the input's sub-stream (lb-store-footage.h).
 * Each FILE is imported by lb_import_file() (src/recorder/lb-import.h); a
 * bad one is reported and skipped, and the command fails at the end.
 */
#include "cli/lb-cli.h"
#include "core/lb-error.h"
#include "core/lb-time.h"
#include "recorder/lb-import.h"
#include "store/lb-store-footage.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

static const gchar usage[] =
    "usage: lookback [--config FILE] import --vehicle ID --input NAME "
    "[--sub-stream] --start RFC3339 [--framerate N/D] FILE... [--start RFC3339 FILE...]";

const gchar lb_cli_import_help[] =
    "usage: lookback [--config FILE] import --vehicle ID --input NAME "
    "[--sub-stream]\n"
    "           --start RFC3339 [--framerate N/D] FILE... "
    "[--start RFC3339 FILE...]\n\n"
    "Indexes existing recordings (MP4, Matroska, MPEG-TS, Annex-B H.264) as\n"
    "footage of an input, without transcoding.\n"
    "  --vehicle ID         the vehicle (required)\n"
    "  --input NAME         dashcamRoadFacing, dashcamDriverFacing, analog1 … "
    "analog4\n"
    "  --sub-stream         the files are the input's sub-stream (its "
    "low-resolution\n"
    "                       profile, as sub-source= records it)\n"
    "  --start RFC3339      wall-clock time of the first frame of the next "
    "FILE;\n"
    "                       the files after it follow each other\n"
    "  --framerate N/D      frame rate of the Annex-B files after it\n";

/* "--name value" or "--name=value" at argv[*i]; advances *i past it. */
static gboolean
take_option (gint argc, gchar ** argv, gint * i, const gchar * name,
    const gchar ** value, GError ** error)
{
  gsize n = strlen (name);
  const gchar *arg = argv[*i];

  if (strncmp (arg, name, n) != 0)
    return FALSE;
  if (arg[n] == '=') {
    *value = arg + n + 1;
    return TRUE;
  }
  if (arg[n] != '\0')
    return FALSE;
  if (*i + 1 >= argc) {
    g_set_error (error, LB_ERROR, LB_ERROR_INVALID, "%s needs a value\n%s",
        name, usage);
    *value = NULL;
    return TRUE;
  }
  *value = argv[++*i];
  return TRUE;
}

static gboolean
parse_framerate (const gchar * text, gint * n, gint * d)
{
  gchar *end = NULL;
  gint64 a = g_ascii_strtoll (text, &end, 10), b = 1;

  if (end == text)
    return FALSE;
  if (*end == '/') {
    const gchar *p = end + 1;
    b = g_ascii_strtoll (p, &end, 10);
    if (end == p)
      return FALSE;
  }
  if (*end != '\0' || a <= 0 || b <= 0 || a > 1000000 || b > 1000000)
    return FALSE;
  *n = (gint) a;
  *d = (gint) b;
  return TRUE;
}

typedef struct
{
  gchar *path;
  gboolean has_start;
  gint64 start_ns;
  gint fps_n, fps_d;
} FileArg;

static void
file_arg_free (gpointer p)
{
  FileArg *f = p;
  g_free (f->path);
  g_free (f);
}

/* The command line, read. */
typedef struct
{
  const gchar *vehicle, *input;
  gboolean sub_stream;          /* --sub-stream */
  gboolean pending_start;       /* --start given, no file after it yet */
  gint64 start_ns;
  gint fps_n, fps_d;
  GPtrArray *files;             /* FileArg*, each with the options before it */
} Args;

/* The option at argv[*i] (advancing *i past its value). */
static gboolean
parse_option (gint argc, gchar ** argv, gint * i, Args * a, GError ** error)
{
  const gchar *arg = argv[*i], *value = NULL;
  g_autoptr (GError) err = NULL;

  if (g_str_equal (arg, "--sub-stream")) {
    a->sub_stream = TRUE;
  } else if (take_option (argc, argv, i, "--vehicle", &value, &err)) {
    a->vehicle = value;
  } else if (take_option (argc, argv, i, "--input", &value, &err)) {
    a->input = value;
  } else if (take_option (argc, argv, i, "--start", &value, &err)) {
    if (value && !lb_time_parse_rfc3339 (value, &a->start_ns, &err)) {
      g_set_error (error, LB_ERROR, LB_ERROR_INVALID, "--start: %s",
          err->message);
      return FALSE;
    }
    a->pending_start = TRUE;
  } else if (take_option (argc, argv, i, "--framerate", &value, &err)) {
    if (value && !parse_framerate (value, &a->fps_n, &a->fps_d)) {
      g_set_error (error, LB_ERROR, LB_ERROR_INVALID,
          "--framerate: '%s' is not a frame rate such as 30 or 30000/1001",
          value);
      return FALSE;
    }
  } else {
    g_set_error (error, LB_ERROR, LB_ERROR_INVALID,
        "unknown option '%s'\n%s", arg, usage);
    return FALSE;
  }
  if (err) {
    g_propagate_error (error, g_steal_pointer (&err));
    return FALSE;
  }
  return TRUE;
}

static gboolean
parse_args (gint argc, gchar ** argv, Args * a, GError ** error)
{
  gboolean options_done = FALSE;

  for (gint i = 1; i < argc; i++) {
    const gchar *arg = argv[i];
    if (!options_done && g_str_equal (arg, "--")) {
      options_done = TRUE;
    } else if (!options_done && arg[0] == '-' && arg[1] != '\0') {
      if (!parse_option (argc, argv, &i, a, error))
        return FALSE;
    } else {
      FileArg *f = g_new0 (FileArg, 1);
      f->path = g_strdup (arg);
      f->has_start = a->pending_start;
      f->start_ns = a->start_ns;
      f->fps_n = a->fps_n;
      f->fps_d = a->fps_d;
      a->pending_start = FALSE;
      g_ptr_array_add (a->files, f);
    }
  }
  return TRUE;
}

static gboolean
check_args (const Args * a, GError ** error)
{
  if (a->vehicle == NULL || *a->vehicle == '\0' || a->input == NULL
      || *a->input == '\0') {
    g_set_error (error, LB_ERROR, LB_ERROR_INVALID,
        "--vehicle and --input are required\n%s", usage);
    return FALSE;
  }
  if (!lb_config_is_api_input (a->input)) {
    g_set_error (error, LB_ERROR, LB_ERROR_INVALID,
        "--input: '%s' is not an input of the API "
        "(dashcamRoadFacing, dashcamDriverFacing, analog1 … analog4)",
        a->input);
    return FALSE;
  }
  if (a->files->len == 0) {
    g_set_error (error, LB_ERROR, LB_ERROR_INVALID, "no file to import\n%s",
        usage);
    return FALSE;
  }
  if (!((FileArg *) a->files->pdata[0])->has_start) {
    g_set_error (error, LB_ERROR, LB_ERROR_INVALID,
        "--start (the wall-clock time of the first frame) must come before the first file\n%s",
        usage);
    return FALSE;
  }
  return TRUE;
}

static LbStore *
open_store (LbConfig * config, GError ** error)
{
  g_autofree gchar *db = lb_config_get_db_path (config);
  const gchar *store_dir = lb_config_get_store_dir (config);

  if (g_mkdir_with_parents (store_dir, 0700) < 0) {
    g_set_error (error, LB_ERROR, LB_ERROR_IO, "cannot create %s: %s",
        store_dir, g_strerror (errno));
    return NULL;
  }
  return lb_store_open (db, LB_STORE_OPEN_DEFAULT, error);
}

/* Each file in turn; a file that fails is reported and skipped (the next
 * one keeps the time it would have started at). */
static gboolean
import_files (LbConfig * config, LbStore * store, const Args * a,
    GString * out, GError ** error)
{
  const LbInputConfig *input = lb_config_find_input (config, a->vehicle,
      a->input);
  g_autofree gchar *key = a->sub_stream ? lb_footage_sub_input (a->input)
      : g_strdup (a->input);
  LbImportOptions opt = {
    .store = store,.vehicle = a->vehicle,.input = key,
    .segment_duration_ns =
        lb_config_get_duration (config, "recorder", "segment-duration"),
    .audio = input && input->audio,
  };
  gint64 next_start = 0;
  guint failed = 0;
  g_autoptr (GString) failures = g_string_new (NULL);

  for (guint i = 0; i < a->files->len; i++) {
    FileArg *f = a->files->pdata[i];
    g_autoptr (GError) err = NULL;
    gint64 end = 0;

    opt.start_ns = f->has_start ? f->start_ns : next_start;
    opt.fps_n = f->fps_n;
    opt.fps_d = f->fps_d;
    if (lb_import_file (&opt, f->path, &end, out, &err)) {
      next_start = end;
      continue;
    }
    failed++;
    g_string_append_printf (out, "skipped %s\n", err->message);
    g_string_append_printf (failures, "%s%s", failures->len ? "; " : "",
        err->message);
    next_start = opt.start_ns;
  }
  if (failed) {
    g_set_error (error, LB_ERROR, LB_ERROR_FAILED,
        "%u of %u files not imported (%s)", failed, a->files->len,
        failures->str);
    return FALSE;
  }
  return TRUE;
}

/**
 * lb_cli_import:
 *
 * `lookback import`: see the usage above and src/recorder/lb-import.h.
 */
gboolean
lb_cli_import (LbConfig * config, gint argc, gchar ** argv, GString * out,
    GError ** error)
{
  g_return_val_if_fail (config != NULL, FALSE);

  g_autoptr (GPtrArray) files = g_ptr_array_new_with_free_func (file_arg_free);
  Args a = {.files = files };

  if (!parse_args (argc, argv, &a, error))
    return FALSE;
  if (!check_args (&a, error))
    return FALSE;
  g_autoptr (LbStore) store = open_store (config, error);
  return store && import_files (config, store, &a, out, error);
}
