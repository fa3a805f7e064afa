/* Unit tests: the token bucket (lb-rate-limit) of the API's request limits
 * and of [upload] max-rate, on a clock the test moves */
#include "core/lb-rate-limit.h"
#include "core/lb-time.h"

#define KiB 1024
#define MiB (1024 * 1024)

/* One token a request: the burst goes at once, then one a second, each
 * refusal saying how long to wait; keys have buckets of their own. */
static void
test_requests (void)
{
  g_autoptr (LbRateLimiter) l = lb_rate_limiter_new (3, 1);
  gint64 t = 5 * LB_NS_PER_SEC;
  gdouble wait = -1;

  for (guint i = 0; i < 3; i++)
    g_assert_true (lb_rate_limiter_take (l, "a", t, NULL));
  g_assert_false (lb_rate_limiter_take (l, "a", t, &wait));
  g_assert_cmpfloat_with_epsilon (wait, 1.0, 1e-9);
  g_assert_true (lb_rate_limiter_take (l, "b", t, NULL));
  g_assert_true (lb_rate_limiter_take (l, "a", t + LB_NS_PER_SEC, NULL));
  g_assert_false (lb_rate_limiter_take (l, "a", t + LB_NS_PER_SEC, NULL));

  g_autoptr (LbRateLimiter) none = lb_rate_limiter_new (1, 0);
  for (guint i = 0; i < 100; i++)
    g_assert_true (lb_rate_limiter_take (none, "a", t, NULL));
}

/* [upload] max-rate: a sender of 64 KiB blocks that waits exactly what it
 * is told sends, in 10 s, the cap's 10 seconds plus the one-second bucket
 * it started with, never more; a refused block is not taken in part. */
static void
test_bytes (void)
{
  const gint64 cap = 1 * MiB, block = 64 * KiB;
  g_autoptr (LbRateLimiter) l = lb_rate_limiter_new (cap, cap);
  gint64 t = 0, sent = 0;
  guint refusals = 0;

  g_assert_cmpfloat (lb_rate_limiter_burst (l), ==, cap);
  while (t < 10 * LB_NS_PER_SEC) {
    gdouble wait = 0;
    if (lb_rate_limiter_take_n (l, "", block, t, &wait)) {
      sent += block;
      continue;
    }
    refusals++;
    g_assert_cmpfloat (wait, >, 0);
    g_assert_cmpfloat (wait, <=, (gdouble) block / cap + 1e-9);
    t += (gint64) (wait * LB_NS_PER_SEC) + 1;
  }
  g_test_message ("%" G_GINT64_FORMAT " bytes in 10 s, %u refusals", sent,
      refusals);
  g_assert_cmpint (sent, <=, 11 * cap);
  g_assert_cmpint (sent, >=, 11 * cap - block);
  g_assert_cmpuint (refusals, >=, 10 * cap / block - 1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/rate-limit/requests", test_requests);
  g_test_add_func ("/rate-limit/bytes", test_bytes);
  return g_test_run ();
}
