/* lookback — the media item of a retrieval (see lb-media-item.h) */
#include "media/lb-media-item.h"
#include "core/lb-sign.h"
#include "core/lb-time.h"

void
lb_media_json_add_time (JsonBuilder * b, const gchar * name, gint64 ns)
{
  g_autofree gchar *text = lb_time_format_rfc3339 (ns);
  json_builder_set_member_name (b, name);
  json_builder_add_string_value (b, text);
}

gchar *
lb_media_item_url (const LbMediaUrls * urls, const LbRetrieval * r,
    gint64 now_ns, gint64 * out_expires_ns)
{
  g_return_val_if_fail (urls != NULL && r != NULL, NULL);

  gint64 expires_s = (now_ns + urls->ttl_ns + LB_NS_PER_SEC - 1) /
      LB_NS_PER_SEC;
  if (out_expires_ns)
    *out_expires_ns = expires_s * LB_NS_PER_SEC;
  /* An uploaded object is fetched from where it was uploaded. */
  if (r->public_url && urls->presign)
    return urls->presign (r->public_url, now_ns, urls->ttl_ns,
        urls->presign_data);
  if (r->public_url)
    return g_strdup (r->public_url);
  /* cluster mode: the node that holds the output serves it */
  const gchar *base = r->media_base ? r->media_base
      : urls->base_url ? urls->base_url : "";
  return lb_sign_media_url (urls->sign_key, base, r->media_id, expires_s);
}

void
lb_media_item_write_url_info (JsonBuilder * b, const LbRetrieval * r,
    const LbMediaUrls * urls, gint64 now_ns)
{
  gint64 expires_ns = 0;
  g_autofree gchar *url = lb_media_item_url (urls, r, now_ns, &expires_ns);

  json_builder_set_member_name (b, "urlInfo");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "url");
  json_builder_add_string_value (b, url);
  lb_media_json_add_time (b, "urlExpiryTime", expires_ns);
  json_builder_end_object (b);
}

void
lb_media_json_add_ranges (JsonBuilder * b, const gchar * name,
    const GArray * ranges)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (guint i = 0; ranges && i < ranges->len; i++) {
    const LbTimeRange *g = &g_array_index (ranges, LbTimeRange, i);
    json_builder_begin_object (b);
    lb_media_json_add_time (b, "startTime", g->start_ns);
    lb_media_json_add_time (b, "endTime", g->end_ns);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
}

/* The coverage manifest (api-contract.md): requested and delivered range,
 * how far the delivered start is from the requested one, the gaps, and
 * (ours, additive) the delivered parts recorded while the clock was not
 * known to be synchronised and the stream it was made from ("main", or
 * "sub": the camera's sub-stream). */
static void
add_coverage (JsonBuilder * b, const LbCoverage * c)
{
  if (c == NULL)
    return;
  json_builder_set_member_name (b, "coverage");
  json_builder_begin_object (b);
  lb_media_json_add_time (b, "requestedStartTime", c->requested_start_ns);
  lb_media_json_add_time (b, "requestedEndTime", c->requested_end_ns);
  lb_media_json_add_time (b, "deliveredStartTime", c->delivered_start_ns);
  lb_media_json_add_time (b, "deliveredEndTime", c->delivered_end_ns);
  json_builder_set_member_name (b, "offsetMs");
  json_builder_add_double_value (b,
      (gdouble) ((c->delivered_start_ns - c->requested_start_ns) / 1000) /
      1000.0);
  lb_media_json_add_ranges (b, "gaps", c->gaps);
  lb_media_json_add_ranges (b, "unsynchronized", c->unsynced);
  json_builder_set_member_name (b, "stream");
  json_builder_add_string_value (b, c->sub_stream ? "sub" : "main");
  json_builder_end_object (b);
}

void
lb_media_item_write (JsonBuilder * b, const LbRetrieval * r,
    const LbMediaUrls * urls, gint64 now_ns)
{
  g_return_if_fail (b != NULL && r != NULL && urls != NULL);

  gboolean available = r->status == LB_RETRIEVAL_AVAILABLE;
  LbRetrievalStatus shown =
      r->status == LB_RETRIEVAL_RUNNING ? LB_RETRIEVAL_PENDING : r->status;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "vehicleId");
  json_builder_add_string_value (b, r->vehicle);
  if (r->input) {
    json_builder_set_member_name (b, "input");
    json_builder_add_string_value (b, r->input);
  }
  if (r->camera_role) {
    json_builder_set_member_name (b, "cameraRole");
    json_builder_add_string_value (b, r->camera_role);
  }
  json_builder_set_member_name (b, "mediaType");
  json_builder_add_string_value (b, lb_media_type_to_string (r->media_type));
  lb_media_json_add_time (b, "startTime",
      available ? r->delivered_start_ns : r->start_ns);
  lb_media_json_add_time (b, "endTime",
      available ? r->delivered_end_ns : r->end_ns);
  json_builder_set_member_name (b, "status");
  json_builder_add_string_value (b, lb_retrieval_status_to_string (shown));
  if (available) {
    lb_media_json_add_time (b, "availableAtTime", r->available_ns);
    lb_media_item_write_url_info (b, r, urls, now_ns);
    add_coverage (b, r->coverage);
  }
  if (shown == LB_RETRIEVAL_PENDING) {
    json_builder_set_member_name (b, "progress");
    json_builder_add_double_value (b, r->progress);
  }
  if (r->failure_reason && !available) {
    json_builder_set_member_name (b, "failureReason");
    json_builder_add_string_value (b, r->failure_reason);
  }
  json_builder_end_object (b);
}
