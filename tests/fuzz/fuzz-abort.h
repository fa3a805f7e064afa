/* lookback — fuzz targets: GLib trouble aborts (SIGABRT), so libFuzzer keeps
 * the input.
 *
 * With G_DEBUG=fatal-criticals (tests/fuzz/run.sh sets it) a critical ends
 * the process with SIGTRAP, which libFuzzer does not catch: the run stops
 * and the input that did it is lost.  A target that includes this header
 * gets an LLVMFuzzerInitialize() that installs a log writer: every warning,
 * critical or error is written as usual, then abort() is called.
 */
#pragma once

#include <glib.h>
#include <stdlib.h>

static GLogWriterOutput
lb_fuzz_abort_writer (GLogLevelFlags level, const GLogField * fields,
    gsize n_fields, gpointer user_data)
{
  g_log_writer_default (level, fields, n_fields, user_data);
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
    abort ();
  return G_LOG_WRITER_HANDLED;
}

int LLVMFuzzerInitialize (int *argc, char ***argv);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  g_log_set_writer_func (lb_fuzz_abort_writer, NULL, NULL);
  return 0;
}
