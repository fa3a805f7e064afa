/* lookback — [upload] protocol=tus: tus 1.0 resumable uploads (creation,
 * HEAD for the offset, PATCH to resume, the checksum extension)
 *
 * The upload URL the server creates is recorded in the journal with the
 * offset it acknowledged after each PATCH; a later attempt asks the server
 * (HEAD) where it stands and goes on from there.  Each PATCH carries at most
 * [upload] tus-chunk-size bytes and, when the server offers the checksum
 * extension, their SHA-256 (or SHA-1): a chunk cut short or damaged is
 * dropped by the server and sent again, nothing else.
 */
#include "upload/lb-upload-private.h"
#include "core/lb-error.h"
#include "store/lb-store-upload.h"

#include <string.h>

#define TUS_VERSION "1.0.0"

gboolean
lb_tus_parse_offset (const gchar * value, gint64 * out)
{
  if (value == NULL || *value == '\0' || strlen (value) > 18)
    return FALSE;
  for (const gchar * p = value; *p; p++)
    if (!g_ascii_isdigit (*p))
      return FALSE;
  *out = g_ascii_strtoll (value, NULL, 10);
  return TRUE;
}

static gboolean
list_has (const gchar * list, const gchar * word)
{
  if (list == NULL)
    return FALSE;
  g_auto (GStrv) items = g_strsplit (list, ",", 64);
  for (guint i = 0; items[i]; i++)
    if (g_ascii_strcasecmp (g_strstrip (items[i]), word) == 0)
      return TRUE;
  return FALSE;
}

const gchar *
lb_tus_pick_checksum (const gchar * extensions, const gchar * algorithms)
{
  if (!list_has (extensions, "checksum"))
    return NULL;
  if (list_has (algorithms, "sha256"))
    return "sha256";
  if (list_has (algorithms, "sha1"))
    return "sha1";
  return NULL;
}

static SoupMessage *
tus_message (const gchar * method, const gchar * url)
{
  SoupMessage *msg = soup_message_new (method, url);
  if (msg)
    soup_message_headers_replace (soup_message_get_request_headers (msg),
        "Tus-Resumable", TUS_VERSION);
  return msg;
}

/* OPTIONS: the checksum algorithm the server takes, or NULL. */
static gboolean
discover (LbDelivery * d, const gchar * url, const gchar ** algo)
{
  g_autoptr (SoupMessage) msg = tus_message ("OPTIONS", url);
  g_auto (LbHttpAnswer) a = { 0 };
  if (!lb_http_send (d, msg, NULL, 4096, &a))
    return FALSE;
  *algo = SOUP_STATUS_IS_SUCCESSFUL (a.status)
      ? lb_tus_pick_checksum (soup_message_headers_get_list (a.headers,
          "Tus-Extension"), soup_message_headers_get_list (a.headers,
          "Tus-Checksum-Algorithm")) : NULL;
  return TRUE;
}

static void
add_metadata (GString * out, const gchar * name, const gchar * value)
{
  g_autofree gchar *b64 = g_base64_encode ((const guchar *) value,
      strlen (value));
  g_string_append_printf (out, "%s%s %s", out->len ? "," : "", name, b64);
}

/* POST to the creation URL: the new upload's URL, recorded. */
static gchar *
create (LbDelivery * d, const gchar * creation_url)
{
  const LbUploadSettings *s = lb_uploader_settings (d->up);
  g_autoptr (GString) meta = g_string_new (NULL);
  g_autofree gchar *key = lb_upload_entry_expand (s->key_template, d->entry,
      NULL);
  g_autofree gchar *name = key ? g_uri_unescape_string (key, NULL) : NULL;
  add_metadata (meta, "filename", name ? name : d->entry->retrieval_id);
  add_metadata (meta, "filetype", d->entry->content_type ?
      d->entry->content_type : "application/octet-stream");
  add_metadata (meta, "vehicleId", d->entry->vehicle);
  add_metadata (meta, "retrievalId", d->entry->retrieval_id);
  add_metadata (meta, "input", d->entry->input);
  add_metadata (meta, "sha256", d->sha256);

  g_autoptr (SoupMessage) msg = tus_message ("POST", creation_url);
  SoupMessageHeaders *h = soup_message_get_request_headers (msg);
  g_autofree gchar *len = g_strdup_printf ("%" G_GINT64_FORMAT, d->size);
  soup_message_headers_replace (h, "Upload-Length", len);
  soup_message_headers_replace (h, "Upload-Metadata", meta->str);
  g_auto (LbHttpAnswer) a = { 0 };
  if (!lb_http_send (d, msg, NULL, 4096, &a)
      || !lb_http_check (d, &a, "tus creation"))
    return NULL;
  const gchar *loc = soup_message_headers_get_one (a.headers, "Location");
  g_autofree gchar *url = loc ? g_uri_resolve_relative (creation_url, loc,
      G_URI_FLAGS_NONE, NULL) : NULL;
  g_autoptr (GError) error = NULL;
  if (url == NULL) {
    lb_delivery_retry (d, TRUE, -1, "tus creation: no usable Location");
    return NULL;
  }
  if (!lb_store_upload_set_session (lb_uploader_store (d->up), d->entry->id,
          url, 0, &error)) {
    lb_delivery_retry (d, FALSE, -1, "recording the upload: %s",
        error->message);
    return NULL;
  }
  return g_steal_pointer (&url);
}

/* HEAD: the offset the server holds; *@gone when it forgot the upload. */
static gboolean
server_offset (LbDelivery * d, const gchar * url, gint64 * offset,
    gboolean * gone)
{
  g_autoptr (SoupMessage) msg = tus_message ("HEAD", url);
  g_auto (LbHttpAnswer) a = { 0 };
  *gone = FALSE;
  if (!lb_http_send (d, msg, NULL, 0, &a))
    return FALSE;
  if (a.status == 404 || a.status == 410 || a.status == 403) {
    *gone = TRUE;
    return TRUE;
  }
  if (!lb_http_check (d, &a, "tus HEAD"))
    return FALSE;
  if (!lb_tus_parse_offset (soup_message_headers_get_one (a.headers,
              "Upload-Offset"), offset) || *offset > d->size) {
    lb_delivery_retry (d, TRUE, -1, "tus HEAD: no valid Upload-Offset");
    return FALSE;
  }
  return TRUE;
}

/* One PATCH from @offset; the new offset in *@offset. */
static gboolean
patch (LbDelivery * d, const gchar * url, const gchar * algo, gint64 * offset)
{
  const LbUploadSettings *s = lb_uploader_settings (d->up);
  gint64 len = MIN (s->part_size, d->size - *offset);
  g_autoptr (SoupMessage) msg = tus_message ("PATCH", url);
  SoupMessageHeaders *h = soup_message_get_request_headers (msg);
  g_autofree gchar *off = g_strdup_printf ("%" G_GINT64_FORMAT, *offset);
  soup_message_headers_replace (h, "Upload-Offset", off);
  if (algo) {
    g_auto (LbDigests) dg = { 0 };
    g_autoptr (GError) error = NULL;
    if (!lb_file_digests (d->filename, *offset, len, d->cancel, &dg, &error)) {
      if (!lb_delivery_stopping (d))
        lb_delivery_fail (d, "output file %s cannot be read: %s",
            d->filename, error->message);
      return FALSE;
    }
    g_autofree gchar *sum = g_strdup_printf ("%s %s", algo,
        g_str_equal (algo, "sha256") ? dg.sha256_b64 : dg.sha1_b64);
    soup_message_headers_replace (h, "Upload-Checksum", sum);
  }
  LbHttpBody body = { d->filename, *offset, len,
    "application/offset+octet-stream", FALSE
  };
  g_auto (LbHttpAnswer) a = { 0 };
  if (!lb_http_send (d, msg, &body, 4096, &a))
    return FALSE;
  if (a.status == 460) {
    lb_delivery_retry (d, TRUE, -1, "tus PATCH at %s: checksum mismatch", off);
    return FALSE;
  }
  if (a.status == 409)          /* the offsets disagree: ask again */
    return TRUE;
  gint64 now = 0;
  if (!lb_http_check (d, &a, "tus PATCH"))
    return FALSE;
  if (!lb_tus_parse_offset (soup_message_headers_get_one (a.headers,
              "Upload-Offset"), &now) || now <= *offset || now > d->size) {
    lb_delivery_retry (d, TRUE, -1, "tus PATCH: no valid Upload-Offset");
    return FALSE;
  }
  *offset = now;
  return TRUE;
}

/* HEAD, then PATCH until the server holds every byte. */
static gboolean
send_rest (LbDelivery * d, const gchar * url, const gchar * algo,
    gboolean * gone)
{
  g_autoptr (GError) error = NULL;
  gint64 offset = 0;
  for (;;) {
    if (!server_offset (d, url, &offset, gone) || *gone)
      return FALSE;
    if (!lb_store_upload_set_session (lb_uploader_store (d->up), d->entry->id,
            url, offset, &error)) {
      lb_delivery_retry (d, FALSE, -1, "recording the offset: %s",
          error->message);
      return FALSE;
    }
    if (offset == d->size)
      return TRUE;
    gint64 before = offset;
    while (offset < d->size) {
      if (!patch (d, url, algo, &offset))
        return FALSE;
      if (offset == before)
        break;                  /* 409: HEAD again */
      before = offset;
      lb_store_upload_set_session (lb_uploader_store (d->up), d->entry->id,
          url, offset, NULL);
    }
    if (offset == d->size)
      return TRUE;
  }
}

void
lb_upload_tus_deliver (LbDelivery * d)
{
  const LbUploadSettings *s = lb_uploader_settings (d->up);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *creation = lb_upload_entry_expand (s->url_template,
      d->entry, &error);
  const gchar *algo = NULL;
  if (creation == NULL) {
    lb_delivery_fail (d, "cannot make the tus creation URL: %s",
        error->message);
    return;
  }
  if (!discover (d, creation, &algo))
    return;
  g_autofree gchar *url = d->entry->session ? g_strdup (d->entry->session)
      : create (d, creation);
  if (url == NULL)
    return;
  gboolean gone = FALSE;
  if (!send_rest (d, url, algo, &gone)) {
    if (gone) {
      lb_store_upload_set_session (lb_uploader_store (d->up), d->entry->id,
          NULL, 0, NULL);
      lb_delivery_retry (d, TRUE, 0, "the tus server no longer knows %s; "
          "starting again", url);
    }
    return;
  }
  d->public_url = s->public_template
      ? lb_upload_entry_expand (s->public_template, d->entry, NULL) : NULL;
  lb_delivery_done (d);
}
