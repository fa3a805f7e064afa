/* lookbackd — the lookback daemon: records cameras, answers retrievals */
#include "config.h"

#include "lb-daemon.h"
#include "core/lb-error.h"
#include "core/lb-log.h"
#include "core/lb-notify.h"

#include <glib-unix.h>
#include <gst/gst.h>
#include <signal.h>
#include <stdio.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

/* glibc's @param set to @value, unless glibc's environment variable @env
 * sets it (before any thread starts). */
#ifdef __GLIBC__
static void
set_malloc_option (int param, int value, const gchar * env)
{
  if (g_getenv (env) == NULL)
    mallopt (param, value);
}
#endif

/* Two malloc arenas, set before any thread starts.  glibc gives each thread
 * that allocates under contention an arena of its own, up to 8 per core, and
 * what is freed in an arena stays there for that arena's next allocations:
 * with a streaming thread per camera and the pipelines of every job, RSS
 * climbed from 36 MB to 247 MB in 15 minutes of recording and retrievals,
 * and was still climbing (issue 10); with two arenas the same load levels
 * off.  MALLOC_ARENA_MAX in the environment, when set, wins. */
static void
limit_malloc_arenas (void)
{
#ifdef __GLIBC__
  set_malloc_option (M_ARENA_MAX, 2, "MALLOC_ARENA_MAX");
#endif
}

/* A decoder's frames (1.4 MB at 720p, 3 MB at 1080p) are freed when its
 * retrieval ends; glibc handed each back to the kernel at once (mmap, or
 * the trimmed top of the heap), so every still faulted its decoder's
 * memory in again: 2 800 page faults at 720p, 6 000 at 1080p, a tenth of
 * an H.265 still.  Blocks up to MMAP_THRESHOLD come from the arenas and
 * up to TRIM_THRESHOLD of free heap top stays for the next retrieval; the
 * half-minute malloc_trim (trim_malloc) hands all of it back, so an idle
 * lookbackd keeps nothing of it.  MALLOC_MMAP_THRESHOLD_ and
 * MALLOC_TRIM_THRESHOLD_ in the environment, when set, win. */
#define MMAP_THRESHOLD (8 << 20)
#define TRIM_THRESHOLD (32 << 20)

static void
keep_freed_frames (void)
{
#ifdef __GLIBC__
  set_malloc_option (M_MMAP_THRESHOLD, MMAP_THRESHOLD,
      "MALLOC_MMAP_THRESHOLD_");
  set_malloc_option (M_TRIM_THRESHOLD, TRIM_THRESHOLD,
      "MALLOC_TRIM_THRESHOLD_");
#endif
}

/* Tells systemd (Type=notify) what lookbackd is doing; nothing without
 * $NOTIFY_SOCKET.  A refusal is logged and changes nothing else. */
static void
notify (const gchar * state)
{
  g_autoptr (GError) error = NULL;

  if (!lb_notify (state, &error))
    lb_log (LB_LOG_WARNING, NULL, "%s", error->message);
}

/* What is freed inside an arena stays resident until the top of the heap
 * is free, which a long-lived allocation prevents: a thousand idle
 * connections opened and closed left 17 MB resident, a burst of jobs its
 * pipelines' buffers.  Every half minute the loop hands the free pages of
 * every arena back to the kernel (malloc_trim walks them: milliseconds). */
#define MALLOC_TRIM_INTERVAL_S 30

static gboolean
trim_malloc (gpointer user_data)
{
#ifdef __GLIBC__
  malloc_trim (0);
#endif
  return G_SOURCE_CONTINUE;
}

static gboolean
on_signal (gpointer user_data)
{
  LbDaemon *daemon = user_data;

  notify ("STOPPING=1\nSTATUS=closing the open segments");
  lb_daemon_stop (daemon);
  return G_SOURCE_CONTINUE;
}

int
main (int argc, char **argv)
{
  g_autofree gchar *config_path = NULL;
  gboolean version = FALSE;
  g_autoptr (GError) error = NULL;
  GOptionEntry entries[] = {
    {"config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
        "Configuration file (default: the embedded defaults)", "FILE"},
    {"version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version", NULL},
    {NULL}
  };
  g_autoptr (GOptionContext) ctx = NULL;

  limit_malloc_arenas ();
  keep_freed_frames ();
  ctx = g_option_context_new (NULL);
  g_option_context_set_summary (ctx,
      "Records cameras and answers media retrieval requests over HTTP.\n"
      "Without --config it runs on the embedded defaults: a demo vehicle with "
      "two test cameras, a store in ./lookback-data, listening on 127.0.0.1:8080.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    fprintf (stderr, "lookbackd: %s\n", error->message);
    return 2;
  }
  if (version) {
    printf ("lookbackd %s\n", VERSION);
    return 0;
  }

  g_autoptr (LbConfig) config =
      config_path ? lb_config_load (config_path, &error)
      : lb_config_new_default ();
  if (config == NULL) {
    fprintf (stderr, "lookbackd: %s\n", error->message);
    return 2;
  }

  /* A reader gone (a closed log pipe, a client) is an error to handle
   * where it happens, never a reason to die. */
  signal (SIGPIPE, SIG_IGN);
  LbLogLevel level = LB_LOG_INFO;
  lb_log_level_parse (lb_config_get_string (config, "log", "level"), &level);
  lb_log_init (level, LB_LOG_OUTPUT_AUTO);

  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr (LbDaemon) daemon = lb_daemon_new (config, loop, &error);
  if (daemon == NULL || !lb_daemon_start (daemon, &error)) {
    lb_log (LB_LOG_ERROR, NULL, "lookbackd cannot start: %s", error->message);
    return g_error_matches (error, LB_ERROR, LB_ERROR_CONFIG) ? 2 : 1;
  }
  /* before saying it started: a stop asked for from then on is clean */
  g_unix_signal_add (SIGINT, on_signal, daemon);
  g_unix_signal_add (SIGTERM, on_signal, daemon);
  lb_log (LB_LOG_INFO, NULL, "lookbackd %s started: %s", VERSION,
      lb_daemon_describe (daemon));
  /* Reconciled and listening: ready; the loop feeds the watchdog. */
  g_autofree gchar *ready = g_strdup_printf ("READY=1\nSTATUS=%s",
      lb_daemon_describe (daemon));
  notify (ready);
  lb_notify_watchdog_attach (NULL);

  g_timeout_add_seconds (MALLOC_TRIM_INTERVAL_S, trim_malloc, NULL);
  g_main_loop_run (loop);

  if (!lb_daemon_finish (daemon, &error)) {
    lb_log (LB_LOG_ERROR, NULL, "lookbackd stopped with an error: %s",
        error->message);
    return 1;
  }
  lb_log (LB_LOG_INFO, NULL, "lookbackd stopped");
  return 0;
}
