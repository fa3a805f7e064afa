/* lookback — logs for operators (see lb-log.h) */
#include "core/lb-log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LB_LOG_DOMAIN "lookback"
/* An event's message is cut here: one line, never a dump. */
#define LB_LOG_MAX_MESSAGE 2048

static gint log_level = LB_LOG_INFO;    /* atomic */
static LbLogOutput log_output = LB_LOG_OUTPUT_AUTO;     /* set once, in init */
static gboolean log_installed;  /* set once, in init */

static GMutex capture_lock;
static LbLogCapture capture_func;       /* protected by capture_lock */
static gpointer capture_data;   /* protected by capture_lock */

static const struct
{
  LbLogLevel level;
  const gchar *name;
  const gchar *label;
  const gchar *colour;
} levels[] = {
  {LB_LOG_ERROR, "error", "ERROR", "\033[1;31m"},
  {LB_LOG_WARNING, "warning", "WARNING", "\033[33m"},
  {LB_LOG_NOTICE, "notice", "NOTICE", "\033[1m"},
  {LB_LOG_INFO, "info", "INFO", "\033[32m"},
  {LB_LOG_DEBUG, "debug", "DEBUG", "\033[2m"},
};

/* The lookback fields, in the order the text line prints them. */
static const struct
{
  const gchar *field;
  const gchar *key;
} context_fields[] = {
  {"LB_VEHICLE", "vehicle"},
  {"LB_INPUT", "input"},
  {"LB_RETRIEVAL_ID", "retrieval"},
  {"LB_REQUEST_ID", "request"},
};

gboolean
lb_log_level_parse (const gchar * text, LbLogLevel * level)
{
  g_return_val_if_fail (level != NULL, FALSE);

  for (guint i = 0; text && i < G_N_ELEMENTS (levels); i++) {
    if (g_ascii_strcasecmp (text, levels[i].name) == 0) {
      *level = levels[i].level;
      return TRUE;
    }
  }
  return FALSE;
}

static guint
level_index (LbLogLevel level)
{
  for (guint i = 0; i < G_N_ELEMENTS (levels); i++)
    if (levels[i].level == level)
      return i;
  return G_N_ELEMENTS (levels) - 1;
}

const gchar *
lb_log_level_name (LbLogLevel level)
{
  return levels[level_index (level)].name;
}

void
lb_log_set_level (LbLogLevel level)
{
  g_atomic_int_set (&log_level, level);
}

gboolean
lb_log_enabled (LbLogLevel level)
{
  return (gint) level <= g_atomic_int_get (&log_level);
}

static LbLogLevel
level_from_glib (GLogLevelFlags flags)
{
  if (flags & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
    return LB_LOG_ERROR;
  if (flags & G_LOG_LEVEL_WARNING)
    return LB_LOG_WARNING;
  if (flags & G_LOG_LEVEL_MESSAGE)
    return LB_LOG_NOTICE;
  if (flags & G_LOG_LEVEL_INFO)
    return LB_LOG_INFO;
  return LB_LOG_DEBUG;
}

/* The GLib level an event is handed on with.  An operator's "error" is not
 * GLib's G_LOG_LEVEL_ERROR (which aborts): it goes as a critical, which
 * lookback's writer treats as PRIORITY 3 and never as fatal. */
static GLogLevelFlags
level_to_glib (LbLogLevel level)
{
  switch (level) {
    case LB_LOG_ERROR:
      return G_LOG_LEVEL_CRITICAL;
    case LB_LOG_WARNING:
      return G_LOG_LEVEL_WARNING;
    case LB_LOG_NOTICE:
      return G_LOG_LEVEL_MESSAGE;
    case LB_LOG_INFO:
      return G_LOG_LEVEL_INFO;
    default:
      return G_LOG_LEVEL_DEBUG;
  }
}

static const gchar *
field_string (const GLogField * fields, gsize n, const gchar * key)
{
  for (gsize i = 0; i < n; i++)
    if (g_str_equal (fields[i].key, key) && fields[i].length < 0)
      return fields[i].value;
  return NULL;
}

static LbLogLevel
fields_level (GLogLevelFlags flags, const GLogField * fields, gsize n)
{
  const gchar *priority = field_string (fields, n, "PRIORITY");

  if (priority && priority[0] >= '0' && priority[0] <= '7' && !priority[1])
    return CLAMP (priority[0] - '0', LB_LOG_ERROR, LB_LOG_DEBUG);
  return level_from_glib (flags);
}

static void
append_time (GString * s, gint64 time_us)
{
  time_t secs = time_us / G_USEC_PER_SEC;
  struct tm tm;
  gchar buf[32];

  gmtime_r (&secs, &tm);
  strftime (buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  g_string_append_printf (s, "%s.%03dZ", buf,
      (gint) (time_us % G_USEC_PER_SEC / 1000));
}

/* The text line of an event: time, level, message, then key=value for the
 * lookback fields (and the domain when it is not lookback's own). */
static gchar *
format_fields (LbLogLevel level, const GLogField * fields, gsize n,
    gint64 time_us, gboolean colour)
{
  GString *s = g_string_sized_new (160);
  const gchar *message = field_string (fields, n, "MESSAGE");
  const gchar *domain = field_string (fields, n, "GLIB_DOMAIN");
  guint li = level_index (level);

  append_time (s, time_us);
  g_string_append_printf (s, " %s%-7s%s ", colour ? levels[li].colour : "",
      levels[li].label, colour ? "\033[0m" : "");
  if (domain && !g_str_equal (domain, LB_LOG_DOMAIN))
    g_string_append_printf (s, "%s: ", domain);
  /* One event, one line: newlines inside the message become spaces. */
  for (const gchar * p = message ? message : ""; *p; p++)
    g_string_append_c (s, *p == '\n' || *p == '\r' ? ' ' : *p);
  for (guint i = 0; i < G_N_ELEMENTS (context_fields); i++) {
    const gchar *v = field_string (fields, n, context_fields[i].field);
    if (v)
      g_string_append_printf (s, " %s=%s", context_fields[i].key, v);
  }
  return g_string_free (s, FALSE);
}

static void
write_text (LbLogLevel level, const GLogField * fields, gsize n)
{
  static gint colour = -1;      /* decided once: is stderr a terminal */
  if (g_atomic_int_get (&colour) < 0)
    g_atomic_int_set (&colour, isatty (STDERR_FILENO) ? 1 : 0);

  g_autofree gchar *line = format_fields (level, fields, n,
      g_get_real_time (), g_atomic_int_get (&colour) == 1);
  /* One write per line, so that lines of different threads never mix. */
  gchar *out = g_strconcat (line, "\n", NULL);
  fputs (out, stderr);
  fflush (stderr);
  g_free (out);
}

static void
write_event (LbLogLevel level, GLogLevelFlags flags, const GLogField * fields,
    gsize n)
{
  LbLogCapture func;
  gpointer data;

  g_mutex_lock (&capture_lock);
  func = capture_func;
  data = capture_data;
  g_mutex_unlock (&capture_lock);
  if (func) {
    func (level, fields, n, data);
    return;
  }

  if (log_output == LB_LOG_OUTPUT_JOURNAL ||
      (log_output == LB_LOG_OUTPUT_AUTO
          && g_log_writer_is_journald (STDERR_FILENO))) {
    if (g_log_writer_journald (flags, fields, n, NULL) == G_LOG_WRITER_HANDLED)
      return;
  }
  write_text (level, fields, n);
}

/* The writer lookback installs for the whole process: its own events and
 * everything GLib, GIO, libsoup or GStreamer log through g_log. */
static GLogWriterOutput
lb_log_writer (GLogLevelFlags flags, const GLogField * fields, gsize n,
    gpointer user_data)
{
  LbLogLevel level = fields_level (flags, fields, n);

  if (lb_log_enabled (level))
    write_event (level, flags, fields, n);
  return G_LOG_WRITER_HANDLED;
}

void
lb_log_init (LbLogLevel level, LbLogOutput output)
{
  static gsize once;

  lb_log_set_level (level);
  if (g_once_init_enter (&once)) {
    log_output = output;
    g_log_set_writer_func (lb_log_writer, NULL, NULL);
    log_installed = TRUE;
    g_once_init_leave (&once, 1);
  }
}

void
lb_log_set_capture (LbLogCapture func, gpointer user_data)
{
  g_mutex_lock (&capture_lock);
  capture_func = func;
  capture_data = user_data;
  g_mutex_unlock (&capture_lock);
}

static gsize
build_fields (GLogField * fields, LbLogLevel level, const LbLogContext * ctx,
    const gchar * message, gchar priority[2])
{
  const gchar *values[G_N_ELEMENTS (context_fields)] = {
    ctx ? ctx->vehicle : NULL, ctx ? ctx->input : NULL,
    ctx ? ctx->retrieval_id : NULL, ctx ? ctx->request_id : NULL,
  };
  gsize n = 0;

  priority[0] = '0' + level;
  priority[1] = '\0';
  fields[n++] = (GLogField) {
  "PRIORITY", priority, -1};
  fields[n++] = (GLogField) {
  "GLIB_DOMAIN", LB_LOG_DOMAIN, -1};
  fields[n++] = (GLogField) {
  "MESSAGE", message, -1};
  for (guint i = 0; i < G_N_ELEMENTS (context_fields); i++)
    if (values[i])
      fields[n++] = (GLogField) {
      context_fields[i].field, values[i], -1};
  return n;
}

gchar *
lb_log_format_line (LbLogLevel level, const LbLogContext * ctx,
    const gchar * message, gint64 time_us)
{
  GLogField fields[3 + G_N_ELEMENTS (context_fields)];
  gchar priority[2];
  gsize n = build_fields (fields, level, ctx, message, priority);

  return format_fields (level, fields, n, time_us, FALSE);
}

void
lb_log (LbLogLevel level, const LbLogContext * ctx, const gchar * format, ...)
{
  GLogField fields[3 + G_N_ELEMENTS (context_fields)];
  gchar message[LB_LOG_MAX_MESSAGE];
  gchar priority[2];
  va_list args;

  g_return_if_fail (format != NULL);

  if (!lb_log_enabled (level))
    return;
  va_start (args, format);
  g_vsnprintf (message, sizeof message, format, args);
  va_end (args);

  gsize n = build_fields (fields, level, ctx, message, priority);
  if (log_installed)
    g_log_structured_array (level_to_glib (level), fields, n);
  else
    write_event (level, level_to_glib (level), fields, n);
}
