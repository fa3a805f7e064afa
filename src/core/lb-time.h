/* lookback — time
 *
 * Inside lookback a time is a gint64 count of nanoseconds since the Unix
 * epoch, UTC.  RFC 3339 strings are parsed and printed here and nowhere else.
 */
#pragma once

#include <glib.h>

/* LbClock lived here first; its users include this header. */
#include "core/lb-clock.h"

G_BEGIN_DECLS

#define LB_NS_PER_MS  G_GINT64_CONSTANT (1000000)
#define LB_NS_PER_SEC G_GINT64_CONSTANT (1000000000)
#define LB_TIME_NONE  G_MININT64

gboolean lb_time_parse_rfc3339 (const gchar  *text,
                                gint64       *out_ns,
                                GError      **error);

gchar   *lb_time_format_rfc3339 (gint64 ns);

gboolean lb_time_parse_duration (const gchar  *text,
                                 gint64       *out_ns,
                                 GError      **error);

gchar   *lb_time_format_duration (gint64 ns);

gint64   lb_time_now (void);

G_END_DECLS
