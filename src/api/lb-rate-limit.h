/* lookback — token-bucket rate limiter, one bucket per key
 *
 * A bucket holds at most @burst tokens and refills at @per_second.  Each
 * request takes one token; without one it is refused and told how long to
 * wait for the next.  Thread-safe.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _LbRateLimiter LbRateLimiter;

/* @per_second == 0: no limit. */
LbRateLimiter *lb_rate_limiter_new  (gdouble burst,
                                     gdouble per_second);
void           lb_rate_limiter_free (LbRateLimiter *limiter);

/* Takes one token from @key's bucket at @now_ns.  FALSE when empty, with
 * @out_retry_after_s (optional) the seconds until one is there. */
gboolean       lb_rate_limiter_take (LbRateLimiter *limiter,
                                     const gchar   *key,
                                     gint64         now_ns,
                                     gdouble       *out_retry_after_s);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbRateLimiter, lb_rate_limiter_free)

G_END_DECLS
