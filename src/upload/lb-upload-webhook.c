/* lookback — completion webhooks: one POST per ended media item
 *
 * The body is {"eventId", "timestamp", "retrievalId", "media"}, "media"
 * being the item exactly as GET /cameras/media/retrieval writes it
 * (lb-media-item.c).  Headers:
 *   Lookback-Event-Id: <eventId>
 *   Lookback-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 over
 *                       "<t>.<body>" keyed with [webhook] secret-file>
 * Any answer but 2xx, or none, is retried with backoff until the event is
 * [webhook] deadline old; the same event always keeps its eventId, so a
 * receiver drops what it has seen.
 */
#include "upload/lb-upload-private.h"
#include "media/lb-media-item.h"
#include "core/lb-time.h"
#include "store/lb-store-api.h"

#include <string.h>

gchar *
lb_webhook_signature (GBytes * secret, gint64 t_s, const gchar * body,
    gsize len)
{
  g_return_val_if_fail (secret != NULL && body != NULL, NULL);

  gsize klen = 0;
  const guint8 *key = g_bytes_get_data (secret, &klen);
  g_autoptr (GHmac) h = g_hmac_new (G_CHECKSUM_SHA256, key, klen);
  g_autofree gchar *t = g_strdup_printf ("%" G_GINT64_FORMAT ".", t_s);
  g_hmac_update (h, (const guchar *) t, strlen (t));
  g_hmac_update (h, (const guchar *) body, len);
  return g_strdup_printf ("t=%" G_GINT64_FORMAT ",v1=%s", t_s,
      g_hmac_get_string (h));
}

static gchar *
event_body (const LbUploadEntry * e, const LbRetrieval * row,
    const LbMediaUrls * urls, gint64 now_ns)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autofree gchar *when = lb_time_format_rfc3339 (e->created_ns);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "eventId");
  json_builder_add_string_value (b, e->event_id);
  json_builder_set_member_name (b, "timestamp");
  json_builder_add_string_value (b, when);
  json_builder_set_member_name (b, "retrievalId");
  json_builder_add_string_value (b, row->retrieval_id);
  json_builder_set_member_name (b, "media");
  lb_media_item_write (b, row, urls, now_ns);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

void
lb_upload_webhook_deliver (LbDelivery * d)
{
  const LbUploadSettings *s = lb_uploader_settings (d->up);
  const LbUploadEntry *e = d->entry;
  gint64 now = g_get_real_time () * 1000;
  g_autoptr (GError) error = NULL;
  g_autoptr (LbRetrieval) row = NULL;

  if (now - e->created_ns > s->webhook_deadline_ns) {
    lb_delivery_fail (d, "not delivered within [webhook] deadline (%.0f s); "
        "last trouble: %s", s->webhook_deadline_ns / 1e9,
        e->last_error ? e->last_error : "none");
    return;
  }
  if (!lb_store_api_get (lb_uploader_store (d->up), e->retrieval_row, &row,
          &error)) {
    lb_delivery_fail (d, "retrieval row %" G_GINT64_FORMAT ": %s",
        e->retrieval_row, error->message);
    return;
  }
  g_autofree gchar *body = event_body (e, row, s->media_urls, now);
  gsize len = strlen (body);
  g_autofree gchar *sig = lb_webhook_signature (s->webhook_secret,
      now / LB_NS_PER_SEC, body, len);

  g_autoptr (SoupMessage) msg = soup_message_new ("POST", s->url_template);
  SoupMessageHeaders *h = soup_message_get_request_headers (msg);
  soup_message_headers_replace (h, "Lookback-Event-Id", e->event_id);
  soup_message_headers_replace (h, "Lookback-Signature", sig);
  g_autoptr (GBytes) bytes = g_bytes_new (body, len);
  soup_message_set_request_body_from_bytes (msg, "application/json", bytes);
  g_auto (LbHttpAnswer) a = { 0 };
  if (!lb_http_send (d, msg, NULL, 512, &a))
    return;
  if (!lb_http_check (d, &a, "webhook")) {
    /* every refusal is worth another try until the deadline */
    if (d->result == LB_DELIVERY_FAILED)
      d->result = LB_DELIVERY_RETRY;
    return;
  }
  lb_delivery_done (d);
}
