/* Unit tests: logs for operators (lb-log) */
#define _GNU_SOURCE             /* posix_openpt, ptsname */
#include "core/lb-log.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct
{
  GPtrArray *events;            /* "LEVEL|KEY=VALUE|…" per event */
} Captured;

static void
capture (LbLogLevel level, const GLogField * fields, gsize n, gpointer data)
{
  Captured *c = data;
  GString *s = g_string_new (lb_log_level_name (level));

  for (gsize i = 0; i < n; i++)
    if (fields[i].length < 0)
      g_string_append_printf (s, "|%s=%s", fields[i].key,
          (const gchar *) fields[i].value);
  g_ptr_array_add (c->events, g_string_free (s, FALSE));
}

static void
test_levels (void)
{
  LbLogLevel level = LB_LOG_DEBUG;

  g_assert_true (lb_log_level_parse ("warning", &level));
  g_assert_cmpint (level, ==, LB_LOG_WARNING);
  g_assert_true (lb_log_level_parse ("INFO", &level));
  g_assert_cmpint (level, ==, LB_LOG_INFO);
  g_assert_false (lb_log_level_parse ("loud", &level));
  g_assert_false (lb_log_level_parse (NULL, &level));
  g_assert_cmpstr (lb_log_level_name (LB_LOG_NOTICE), ==, "notice");
}

static void
test_format_line (void)
{
  /* 2026-01-01T10:00:00.250Z */
  gint64 t = G_GINT64_CONSTANT (1767261600250000);
  g_autofree gchar *line = lb_log_format_line (LB_LOG_WARNING,
      LB_LOG_CTX (.vehicle = "1234",.input = "dashcamRoadFacing"),
      "camera lost:\nconnection refused", t);

  g_assert_cmpstr (line, ==, "2026-01-01T10:00:00.250Z WARNING camera lost: "
      "connection refused vehicle=1234 input=dashcamRoadFacing");

  g_autofree gchar *plain = lb_log_format_line (LB_LOG_INFO, NULL, "started",
      t);
  g_assert_cmpstr (plain, ==, "2026-01-01T10:00:00.250Z INFO    started");
}

static void
test_fields_and_filter (void)
{
  Captured c = { g_ptr_array_new_with_free_func (g_free) };

  lb_log_init (LB_LOG_INFO, LB_LOG_OUTPUT_TEXT);
  lb_log_set_capture (capture, &c);
  lb_log (LB_LOG_ERROR, LB_LOG_CTX (.retrieval_id = "r-1",.request_id = "q-2"),
      "job failed: %s", "no decoder");
  lb_log (LB_LOG_DEBUG, NULL, "not shown at info");
  lb_log (LB_LOG_INFO, LB_LOG_CTX (.vehicle = "v"), "shown");
  lb_log_set_level (LB_LOG_DEBUG);
  lb_log (LB_LOG_DEBUG, NULL, "shown at debug");
  lb_log_set_level (LB_LOG_INFO);
  lb_log_set_capture (NULL, NULL);

  g_assert_cmpuint (c.events->len, ==, 3);
  g_assert_cmpstr (c.events->pdata[0], ==, "error|PRIORITY=3"
      "|GLIB_DOMAIN=lookback|MESSAGE=job failed: no decoder"
      "|LB_RETRIEVAL_ID=r-1|LB_REQUEST_ID=q-2");
  g_assert_cmpstr (c.events->pdata[1], ==, "info|PRIORITY=6"
      "|GLIB_DOMAIN=lookback|MESSAGE=shown|LB_VEHICLE=v");
  g_assert_true (g_str_has_suffix (c.events->pdata[2],
          "MESSAGE=shown at debug"));
  g_ptr_array_unref (c.events);
}

/* An operator's error or warning never aborts, even where GLib's own
 * warnings and criticals are fatal (as under GstCheck). */
static void
test_not_fatal (void)
{
  Captured c = { g_ptr_array_new_with_free_func (g_free) };

  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
  lb_log_init (LB_LOG_INFO, LB_LOG_OUTPUT_TEXT);
  lb_log_set_capture (capture, &c);
  lb_log (LB_LOG_ERROR, NULL, "disk full");
  lb_log (LB_LOG_WARNING, NULL, "camera lost");
  lb_log_set_capture (NULL, NULL);
  g_assert_cmpuint (c.events->len, ==, 2);
  g_ptr_array_unref (c.events);
}

/* The text output: one line per event on stderr, no colour off a terminal. */
static void
test_text_output (void)
{
  if (g_test_subprocess ()) {
    lb_log_init (LB_LOG_INFO, LB_LOG_OUTPUT_TEXT);
    lb_log (LB_LOG_NOTICE, LB_LOG_CTX (.input = "cam"), "two\nlines");
    lb_log (LB_LOG_DEBUG, NULL, "hidden");
    g_message ("from glib");
    return;
  }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr ("*NOTICE  two lines input=cam\n"
      "*NOTICE  lookback-tests: from glib\n");
  g_test_trap_assert_stderr_unmatched ("*hidden*");
  g_test_trap_assert_stderr_unmatched ("*\033*");
}

/* On a terminal the level is coloured; still one line per event. */
static void
test_colour_on_terminal (void)
{
  if (g_test_subprocess ()) {
    gint tty = open (g_getenv ("LB_TEST_PTY"), O_RDWR | O_NOCTTY);
    g_assert_cmpint (tty, >=, 0);
    g_assert_cmpint (dup2 (tty, STDERR_FILENO), ==, STDERR_FILENO);
    lb_log_init (LB_LOG_INFO, LB_LOG_OUTPUT_TEXT);
    lb_log (LB_LOG_WARNING, LB_LOG_CTX (.input = "cam"), "camera lost");
    return;
  }
  gint master = posix_openpt (O_RDWR | O_NOCTTY);
  g_assert_cmpint (master, >=, 0);
  g_assert_cmpint (grantpt (master), ==, 0);
  g_assert_cmpint (unlockpt (master), ==, 0);
  g_setenv ("LB_TEST_PTY", ptsname (master), TRUE);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();

  gchar buf[512];
  gssize n = read (master, buf, sizeof buf - 1);
  g_assert_cmpint (n, >, 0);
  buf[n] = '\0';
  g_assert_nonnull (strstr (buf, "\033[33mWARNING\033[0m camera lost "
          "input=cam\r\n"));
  close (master);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/log/levels", test_levels);
  g_test_add_func ("/log/format-line", test_format_line);
  g_test_add_func ("/log/fields-and-filter", test_fields_and_filter);
  g_test_add_func ("/log/not-fatal", test_not_fatal);
  g_test_add_func ("/log/text-output", test_text_output);
  g_test_add_func ("/log/colour-on-terminal", test_colour_on_terminal);
  return g_test_run ();
}
