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

/* The times lookback represents: years 1678 to 2261.  A gint64 count of
 * nanoseconds reaches from 1677-09-21 to 2262-04-11; whole years, with a
 * margin of 100 days at the end, keep sums such as end + [jobs]
 * pending-deadline or now + url-ttl inside it.  RFC 3339 text outside this
 * span is refused (LB_ERROR_INVALID), never wrapped around. */
#define LB_TIME_MIN   (G_GINT64_CONSTANT (-9214560000) * LB_NS_PER_SEC)      /* 1678-01-01T00:00:00Z */
#define LB_TIME_MAX   (G_GINT64_CONSTANT (9214646400) * LB_NS_PER_SEC - 1)   /* 2261-12-31T23:59:59.999999999Z */

gboolean lb_time_parse_rfc3339 (const gchar  *text,
                                gint64       *out_ns,
                                GError      **error);

gchar   *lb_time_format_rfc3339 (gint64 ns);

/* @end_ns − @start_ns, saturated at G_MAXINT64 / -G_MAXINT64: two times of
 * the span above can be further apart than a gint64 counts. */
gint64   lb_time_diff           (gint64 end_ns,
                                 gint64 start_ns);

gboolean lb_time_parse_duration (const gchar  *text,
                                 gint64       *out_ns,
                                 GError      **error);

gchar   *lb_time_format_duration (gint64 ns);

gint64   lb_time_now (void);

G_END_DECLS
