/* lookback — fuzz targets: GLib trouble aborts (SIGABRT), so libFuzzer keeps
 * the input.
 *
 * With G_DEBUG=fatal-criticals (tests/fuzz/run.sh sets it) a critical ends
 * the process with SIGTRAP, which libFuzzer does not catch: the run stops
 * and the input that did it is lost.  A target calls
 * lb_fuzz_abort_on_trouble() from LLVMFuzzerInitialize(): every warning,
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

static inline void
lb_fuzz_abort_on_trouble (void)
{
  g_log_set_writer_func (lb_fuzz_abort_writer, NULL, NULL);
}
