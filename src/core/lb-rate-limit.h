/* lookback — token-bucket rate limiter, one bucket per key
 *
 * A bucket holds at most @burst tokens and refills at @per_second.  Each
 * request takes one token (the API's requests) or n (the uploader's bytes);
 * without them it is refused and told how long to wait.  Thread-safe.
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

/* Takes @n tokens (at most the burst) at once, or none. */
gboolean       lb_rate_limiter_take_n (LbRateLimiter *limiter,
                                       const gchar   *key,
                                       gdouble        n,
                                       gint64         now_ns,
                                       gdouble       *out_retry_after_s);
/* The burst the limiter was made with (at least 1). */
gdouble        lb_rate_limiter_burst  (LbRateLimiter *limiter);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbRateLimiter, lb_rate_limiter_free)

G_END_DECLS
