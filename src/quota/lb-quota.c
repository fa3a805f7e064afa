/* lookback — quota: cost model and monthly periods */
#include "quota/lb-quota.h"
#include "core/lb-time.h"
#include "store/lb-store-api.h"

#include <stdlib.h>

gdouble
lb_quota_cost (LbConfig * config, LbMediaType media_type, gint64 start_ns,
    gint64 end_ns)
{
  g_return_val_if_fail (config != NULL, -1);

  gdouble seconds = (gdouble) MAX (end_ns - start_ns, 0) / LB_NS_PER_SEC;

  switch (media_type) {
    case LB_MEDIA_TYPE_IMAGE:
      return lb_config_get_double (config, "quota", "image-cost");
    case LB_MEDIA_TYPE_VIDEO_HIGH_RES:
      return seconds;
    case LB_MEDIA_TYPE_VIDEO_LOW_RES:
      return seconds * lb_config_get_double (config, "quota", "low-res-weight");
    case LB_MEDIA_TYPE_HYPERLAPSE:
      return seconds * lb_config_get_double (config, "quota",
          "hyperlapse-weight");
  }
  g_return_val_if_reached (-1);
}

gchar *
lb_quota_period (gint64 ns)
{
  /* lb_time_format_rfc3339 is the one calendar of the project: reuse it. */
  g_autofree gchar *text = lb_time_format_rfc3339 (ns);
  return g_strndup (text, 7);
}

gint64
lb_quota_period_end (gint64 ns)
{
  g_autofree gchar *period = lb_quota_period (ns);
  gint year = atoi (period), month = atoi (period + 5);
  g_autofree gchar *next = g_strdup_printf ("%04d-%02d-01T00:00:00Z",
      month == 12 ? year + 1 : year, month == 12 ? 1 : month + 1);
  gint64 end = 0;
  if (!lb_time_parse_rfc3339 (next, &end, NULL))
    g_return_val_if_reached (ns);
  return end;
}

gchar *
lb_quota_status_sentence (gdouble used, gdouble allowance)
{
  gchar u[G_ASCII_DTOSTR_BUF_SIZE], a[G_ASCII_DTOSTR_BUF_SIZE];

  g_ascii_formatd (u, sizeof u, "%.1f", used);
  g_ascii_formatd (a, sizeof a, "%.1f", allowance);
  return
      g_strdup_printf
      ("Current monthly usage is %s seconds of high-res video out of "
      "%s available.", u, a);
}

gboolean
lb_quota_get_usage (LbStore * store, const gchar * org, gint64 now_ns,
    gdouble * out_used, gdouble * out_reserved, GError ** error)
{
  g_autofree gchar *period = lb_quota_period (now_ns);
  return lb_store_api_quota_usage (store, org, period, out_used, out_reserved,
      error);
}
