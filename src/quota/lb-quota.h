/* lookback — quota: cost model and monthly periods
 *
 * Quota is counted per organisation, per calendar month (UTC), in seconds of
 * high-res video.  Costs ([quota] in the configuration):
 *   image          image-cost (0.1 s)
 *   videoHighRes   its duration
 *   videoLowRes    its duration × low-res-weight
 *   hyperlapse     its (source) duration × hyperlapse-weight
 *
 * The books live in the store (lb-store-api.h): a reservation is made with
 * lb_store_api_create_retrieval() (the API computes the cost with
 * lb_quota_cost() of the requested range), committed by
 * lb_store_api_finish_available() (the jobs engine passes lb_quota_cost() of
 * the delivered range) and refunded by lb_store_api_finish_failed() /
 * lb_store_api_finish_unavailable(), each in the same transaction as the
 * status change.
 */
#pragma once

#include "core/lb-config.h"
#include "core/lb-media-type.h"
#include "store/lb-store.h"

G_BEGIN_DECLS

/* Cost in seconds of high-res video of @media_type over [@start_ns, @end_ns]. */
gdouble  lb_quota_cost            (LbConfig    *config,
                                   LbMediaType  media_type,
                                   gint64       start_ns,
                                   gint64       end_ns);

/* The quota period containing @ns: "YYYY-MM" (UTC). */
gchar   *lb_quota_period          (gint64 ns);

/* The first instant of the period after the one containing @ns (UTC). */
gint64   lb_quota_period_end      (gint64 ns);

/* "Current monthly usage is 80000.4 seconds of high-res video out of
 * 900000.0 available." */
gchar   *lb_quota_status_sentence (gdouble used,
                                   gdouble allowance);

/* Committed usage and open reservations of @org in the period of @now_ns. */
gboolean lb_quota_get_usage       (LbStore     *store,
                                   const gchar *org,
                                   gint64       now_ns,
                                   gdouble     *out_used,
                                   gdouble     *out_reserved,
                                   GError     **error);

G_END_DECLS
