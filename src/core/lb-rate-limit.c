/* lookback — token-bucket rate limiter */
#include "core/lb-rate-limit.h"
#include "core/lb-time.h"

typedef struct
{
  gdouble tokens;
  gint64 last_ns;
} Bucket;

struct _LbRateLimiter
{
  gdouble burst;
  gdouble per_second;
  GMutex lock;
  GHashTable *buckets;          /* key → Bucket*; protected by lock */
};

LbRateLimiter *
lb_rate_limiter_new (gdouble burst, gdouble per_second)
{
  g_return_val_if_fail (burst >= 0 && per_second >= 0, NULL);

  LbRateLimiter *limiter = g_new0 (LbRateLimiter, 1);
  limiter->burst = MAX (burst, 1.0);
  limiter->per_second = per_second;
  g_mutex_init (&limiter->lock);
  limiter->buckets =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return limiter;
}

void
lb_rate_limiter_free (LbRateLimiter * limiter)
{
  if (limiter == NULL)
    return;
  g_hash_table_unref (limiter->buckets);
  g_mutex_clear (&limiter->lock);
  g_free (limiter);
}

gboolean
lb_rate_limiter_take_n (LbRateLimiter * limiter, const gchar * key,
    gdouble n, gint64 now_ns, gdouble * out_retry_after_s)
{
  g_return_val_if_fail (limiter != NULL && key != NULL, FALSE);
  g_return_val_if_fail (n >= 0 && n <= limiter->burst, FALSE);

  if (limiter->per_second <= 0)
    return TRUE;

  gboolean ok;
  g_mutex_lock (&limiter->lock);
  Bucket *b = g_hash_table_lookup (limiter->buckets, key);
  if (b == NULL) {
    b = g_new0 (Bucket, 1);
    b->tokens = limiter->burst;
    b->last_ns = now_ns;
    g_hash_table_insert (limiter->buckets, g_strdup (key), b);
  }
  if (now_ns > b->last_ns) {
    b->tokens = MIN (limiter->burst,
        b->tokens + (gdouble) (now_ns -
            b->last_ns) / LB_NS_PER_SEC * limiter->per_second);
    b->last_ns = now_ns;
  }
  /* The tolerance absorbs rounding: waiting exactly the Retry-After given
   * must be enough. */
  ok = b->tokens >= n - 1e-9;
  if (ok)
    b->tokens = MAX (b->tokens - n, 0.0);
  else if (out_retry_after_s)
    *out_retry_after_s = (n - b->tokens) / limiter->per_second;
  g_mutex_unlock (&limiter->lock);
  return ok;
}

gboolean
lb_rate_limiter_take (LbRateLimiter * limiter, const gchar * key, gint64 now_ns,
    gdouble * out_retry_after_s)
{
  return lb_rate_limiter_take_n (limiter, key, 1.0, now_ns, out_retry_after_s);
}

gdouble
lb_rate_limiter_burst (LbRateLimiter * limiter)
{
  g_return_val_if_fail (limiter != NULL, 0);
  return limiter->burst;
}
