/* lookback — [upload] protocol=put: one PUT of the whole file to the URL
 * made from url-template, with Expect: 100-continue (an endpoint that
 * refuses a large file answers before its body is sent) and a 307 or 308
 * redirect followed once. */
#include "upload/lb-upload-private.h"

/* Smaller bodies go at once: waiting for 100 Continue costs a round trip
 * (and some servers, nginx among them, answer an early refusal of a body
 * they will not read only after a timeout), more than sending them. */
#define EXPECT_CONTINUE_MIN  (1024 * 1024)

void
lb_upload_put_deliver (LbDelivery * d)
{
  const LbUploadSettings *s = lb_uploader_settings (d->up);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *url = lb_upload_entry_expand (s->url_template, d->entry,
      &error);
  const gchar *ctype = d->entry->content_type ? d->entry->content_type
      : "application/octet-stream";

  for (guint redirects = 0;; redirects++) {
    g_autoptr (SoupMessage) msg = url ? soup_message_new ("PUT", url) : NULL;
    if (msg == NULL) {
      lb_delivery_fail (d, "cannot make an upload URL: %s",
          error ? error->message : url);
      return;
    }
    SoupMessageHeaders *hdrs = soup_message_get_request_headers (msg);
    for (guint i = 0; i < s->header_names->len; i++)
      soup_message_headers_append (hdrs, s->header_names->pdata[i],
          s->header_values->pdata[i]);
    if (s->checksum_header && *s->checksum_header)
      soup_message_headers_replace (hdrs, s->checksum_header, d->sha256);
    LbHttpBody body = { d->filename, 0, d->size, ctype,
      d->size >= EXPECT_CONTINUE_MIN
    };
    g_auto (LbHttpAnswer) a = { 0 };
    if (!lb_http_send (d, msg, &body, 512, &a))
      return;
    const gchar *loc = soup_message_headers_get_one (a.headers, "Location");
    if ((a.status == 307 || a.status == 308) && redirects == 0 && loc) {
      gchar *next = g_uri_resolve_relative (url, loc, G_URI_FLAGS_NONE, NULL);
      if (next) {
        g_free (url);
        url = next;
        continue;
      }
    }
    if (!lb_http_check (d, &a, redirects ? "after a redirect" : NULL))
      return;
    break;
  }
  d->public_url = s->public_template
      ? lb_upload_entry_expand (s->public_template, d->entry, NULL) : NULL;
  lb_delivery_done (d);
}
