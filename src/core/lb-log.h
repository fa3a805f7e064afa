/* lookback — logs for operators
 *
 * One event, one line, through GLib's structured logging.  Started by
 * systemd (stderr connected to the journal) each event goes to journald with
 * its fields: PRIORITY, MESSAGE, GLIB_DOMAIN and, when the event has them,
 * LB_VEHICLE, LB_INPUT, LB_RETRIEVAL_ID, LB_REQUEST_ID.  Otherwise one plain
 * line on stderr: time, level, message, then the fields as key=value; colour
 * only when stderr is a terminal.
 *
 * The level filter is [log] level (default "info"): lifecycle (start, stop,
 * camera connected / lost / back, retention, uploads) is logged at info,
 * trouble at warning or error, detail at debug.  GStreamer debug categories
 * (GST_DEBUG=lookback-*) stay for deep debugging.
 *
 * Programs call lb_log_init() once at start; before that (and in programs
 * that never call it, such as gst-launch-1.0 using the elements), events are
 * written by the same formatter without touching GLib's global writer.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * LbLogLevel:
 * @LB_LOG_ERROR: something failed and needs an operator (PRIORITY 3)
 * @LB_LOG_WARNING: trouble that lookback works around (4)
 * @LB_LOG_NOTICE: an important, normal event (5)
 * @LB_LOG_INFO: lifecycle: start, stop, connect, delete, upload (6)
 * @LB_LOG_DEBUG: detail for a person debugging (7)
 */
typedef enum {
  LB_LOG_ERROR = 3,
  LB_LOG_WARNING = 4,
  LB_LOG_NOTICE = 5,
  LB_LOG_INFO = 6,
  LB_LOG_DEBUG = 7,
} LbLogLevel;

/**
 * LbLogContext:
 * What an event is about; any member may be %NULL.  Written as the journal
 * fields LB_VEHICLE, LB_INPUT, LB_RETRIEVAL_ID and LB_REQUEST_ID.
 */
typedef struct {
  const gchar *vehicle;
  const gchar *input;
  const gchar *retrieval_id;
  const gchar *request_id;
} LbLogContext;

/* A context inline: lb_log (LB_LOG_INFO, LB_LOG_CTX (.vehicle = v), "…"). */
#define LB_LOG_CTX(...) (&(const LbLogContext) { __VA_ARGS__ })

/**
 * LbLogOutput:
 * @LB_LOG_OUTPUT_AUTO: the journal when stderr is connected to it, else text
 * @LB_LOG_OUTPUT_TEXT: one plain line per event on stderr
 * @LB_LOG_OUTPUT_JOURNAL: the journal (systemd's native protocol)
 */
typedef enum {
  LB_LOG_OUTPUT_AUTO,
  LB_LOG_OUTPUT_TEXT,
  LB_LOG_OUTPUT_JOURNAL,
} LbLogOutput;

gboolean     lb_log_level_parse  (const gchar *text, LbLogLevel *level);
const gchar *lb_log_level_name   (LbLogLevel level);

void         lb_log_init         (LbLogLevel level, LbLogOutput output);
void         lb_log_set_level    (LbLogLevel level);
gboolean     lb_log_enabled      (LbLogLevel level);

void         lb_log              (LbLogLevel level, const LbLogContext *ctx,
                                  const gchar *format, ...) G_GNUC_PRINTF (3, 4);

/* The plain line for an event (no newline, no colour): what the text output
 * writes, for tests and tools. */
gchar       *lb_log_format_line  (LbLogLevel level, const LbLogContext *ctx,
                                  const gchar *message, gint64 time_us);

/* Events are handed to @func instead of the output (tests); %NULL restores
 * the output.  @func gets the GLib fields of each event. */
typedef void (*LbLogCapture) (LbLogLevel level, const GLogField *fields,
                              gsize n_fields, gpointer user_data);
void         lb_log_set_capture  (LbLogCapture func, gpointer user_data);

G_END_DECLS
