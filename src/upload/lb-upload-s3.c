/* lookback — [upload] protocol=s3: PutObject, or a multipart upload that
 * resumes at the next unacknowledged part; every request signed with AWS
 * Signature Version 4 (see lb-upload-private.h, lb-sigv4.h)
 *
 * Multipart: CreateMultipartUpload once (its UploadId is recorded in the
 * journal), then each part with Content-MD5 and its signed SHA-256; the
 * ETag of each acknowledged part is recorded before the next one is sent.
 * A later attempt (after a dropped link or a restart) reconciles the
 * recorded parts with ListParts (a part the endpoint has but the journal
 * missed is taken when its ETag is the part's MD5; an endpoint that cannot
 * list is trusted as recorded) and sends only the missing ones, so at most
 * the part in flight is sent again.  CompleteMultipartUpload ends it; an
 * upload the endpoint refuses for good is aborted (AbortMultipartUpload).
 */
#include "upload/lb-upload-private.h"
#include "core/lb-debug.h"
#include "core/lb-error.h"
#include "core/lb-log.h"
#include "core/lb-time.h"
#include "store/lb-store-upload.h"

#include <string.h>

#define XML_ANSWER_MAX   (256 * 1024)   /* bytes of an XML answer read */
#define MAX_PARTS        10000  /* S3's limit */

/* ------------------------------------------------------------ XML answers */

typedef struct
{
  LbS3Answer *a;
  GPtrArray *path;              /* element names, root first */
  LbUploadPart part;            /* the Part being read */
} XmlState;

static const gchar *
xml_parent (XmlState * st, guint up)
{
  return st->path->len > up ? st->path->pdata[st->path->len - 1 - up] : "";
}

static void
set_once (gchar ** field, const gchar * text, gsize len)
{
  if (*field == NULL)
    *field = g_strndup (text, len);
}

static void
xml_start (GMarkupParseContext * ctx, const gchar * name,
    const gchar ** attr_names, const gchar ** attr_values, gpointer data,
    GError ** error)
{
  XmlState *st = data;
  if (st->path->len == 0)
    set_once (&st->a->root, name, strlen (name));
  if (st->path->len > 16) {
    g_set_error (error, G_MARKUP_ERROR, G_MARKUP_ERROR_INVALID_CONTENT,
        "too deep");
    return;
  }
  g_ptr_array_add (st->path, g_strdup (name));
  if (g_str_equal (name, "Part")) {
    lb_upload_part_clear (&st->part);   /* a Part inside a Part */
    memset (&st->part, 0, sizeof st->part);
  }
}

static void
xml_end (GMarkupParseContext * ctx, const gchar * name, gpointer data,
    GError ** error)
{
  XmlState *st = data;
  if (g_str_equal (name, "Part")) {
    if (g_str_equal (xml_parent (st, 1), "ListPartsResult")
        && st->part.number > 0 && st->part.etag
        && st->a->parts->len < MAX_PARTS)
      g_array_append_val (st->a->parts, st->part);
    else
      lb_upload_part_clear (&st->part);
    memset (&st->part, 0, sizeof st->part);
  }
  if (st->path->len)
    g_ptr_array_remove_index (st->path, st->path->len - 1);
}

static void
xml_text (GMarkupParseContext * ctx, const gchar * text, gsize len,
    gpointer data, GError ** error)
{
  XmlState *st = data;
  const gchar *el = xml_parent (st, 0), *parent = xml_parent (st, 1);
  g_autofree gchar *v = g_strstrip (g_strndup (text, len));

  if (g_str_equal (parent, "Part")) {
    if (g_str_equal (el, "PartNumber"))
      st->part.number = (gint) CLAMP (g_ascii_strtoll (v, NULL, 10), 0,
          MAX_PARTS);
    else if (g_str_equal (el, "ETag"))
      set_once (&st->part.etag, v, strlen (v));
    else if (g_str_equal (el, "Size"))
      st->part.size = MAX (g_ascii_strtoll (v, NULL, 10), 0);
  } else if (g_str_equal (el, "UploadId")) {
    set_once (&st->a->upload_id, v, strlen (v));
  } else if (g_str_equal (el, "Code") && g_str_equal (parent, "Error")) {
    set_once (&st->a->error_code, v, strlen (v));
  } else if (g_str_equal (el, "Message") && g_str_equal (parent, "Error")) {
    set_once (&st->a->error_message, v, strlen (v));
  } else if (g_str_equal (el, "IsTruncated")) {
    st->a->truncated = g_ascii_strcasecmp (v, "true") == 0;
  } else if (g_str_equal (el, "NextPartNumberMarker")) {
    st->a->next_marker = (gint) CLAMP (g_ascii_strtoll (v, NULL, 10), 0,
        MAX_PARTS);
  }
}

void
lb_s3_answer_clear (LbS3Answer * a)
{
  g_clear_pointer (&a->root, g_free);
  g_clear_pointer (&a->upload_id, g_free);
  g_clear_pointer (&a->error_code, g_free);
  g_clear_pointer (&a->error_message, g_free);
  g_clear_pointer (&a->parts, g_array_unref);
}

gboolean
lb_s3_answer_parse (const gchar * text, gsize len, LbS3Answer * out,
    GError ** error)
{
  static const GMarkupParser parser = { xml_start, xml_end, xml_text, NULL,
    NULL
  };
  memset (out, 0, sizeof *out);
  out->parts = g_array_new (FALSE, TRUE, sizeof (LbUploadPart));
  g_array_set_clear_func (out->parts, (GDestroyNotify) lb_upload_part_clear);

  XmlState st = { out, g_ptr_array_new_with_free_func (g_free) };
  g_autoptr (GError) err = NULL;
  GMarkupParseContext *ctx = g_markup_parse_context_new (&parser,
      G_MARKUP_IGNORE_QUALIFIED, &st, NULL);
  gboolean ok = g_markup_parse_context_parse (ctx, text, len, &err)
      && g_markup_parse_context_end_parse (ctx, &err) && out->root != NULL;
  g_markup_parse_context_free (ctx);
  lb_upload_part_clear (&st.part);
  g_ptr_array_unref (st.path);
  if (!ok) {
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT,
        "the S3 endpoint's answer is not XML: %s",
        err ? err->message : "empty");
    lb_s3_answer_clear (out);
    return FALSE;
  }
  return TRUE;
}

/* ------------------------------------------------------------- requests */

gchar *
lb_upload_s3_object_url (const LbUploadSettings * s, const gchar * key)
{
  g_autofree gchar *path = lb_sigv4_uri_encode (key, TRUE);
  if (s->s3_path_style)
    return g_strdup_printf ("%s/%s/%s", s->s3_endpoint, s->s3_bucket, path);
  g_autoptr (GUri) ep = g_uri_parse (s->s3_endpoint, G_URI_FLAGS_NONE, NULL);
  g_autofree gchar *host = g_strdup_printf ("%s.%s", s->s3_bucket,
      g_uri_get_host (ep));
  g_autoptr (GUri) u = g_uri_build (G_URI_FLAGS_ENCODED, g_uri_get_scheme (ep),
      NULL, host, g_uri_get_port (ep), "/", NULL, NULL);
  g_autofree gchar *base = g_uri_to_string (u);
  return g_strconcat (base, path, NULL);
}

/* The Host header libsoup sends for @uri (the port only when it is not the
 * scheme's default): what SigV4 signs. */
static gchar *
host_header (GUri * uri)
{
  gint port = g_uri_get_port (uri);
  const gchar *scheme = g_uri_get_scheme (uri);
  gboolean dflt = port < 0 || (port == 80 && g_str_equal (scheme, "http"))
      || (port == 443 && g_str_equal (scheme, "https"));
  const gchar *host = g_uri_get_host (uri);
  gboolean v6 = strchr (host, ':') != NULL;
  return dflt ? g_strdup_printf (v6 ? "[%s]" : "%s", host)
      : g_strdup_printf (v6 ? "[%s]:%d" : "%s:%d", host, port);
}

/* A signed request on @key; @query: decoded name, value pairs; @headers:
 * extra name, value pairs to send and sign. */
static SoupMessage *
s3_message (LbDelivery * d, const gchar * method, const gchar * key,
    const gchar * const *query, const gchar * payload_hash,
    const gchar * const *headers)
{
  const LbUploadSettings *s = lb_uploader_settings (d->up);
  g_autofree gchar *object = lb_upload_s3_object_url (s, key);
  g_autoptr (GString) url = g_string_new (object);
  for (guint i = 0; query && query[i]; i += 2) {
    g_autofree gchar *n = lb_sigv4_uri_encode (query[i], FALSE);
    g_autofree gchar *v = lb_sigv4_uri_encode (query[i + 1], FALSE);
    g_string_append_printf (url, "%c%s%s%s", i ? '&' : '?', n, *v ? "=" : "",
        v);
  }
  g_autoptr (GUri) uri = g_uri_parse (url->str, G_URI_FLAGS_ENCODED, NULL);
  if (uri == NULL)
    return NULL;
  g_autofree gchar *host = host_header (uri);
  g_autofree gchar *date = lb_sigv4_amz_date (g_get_real_time () * 1000);
  g_autoptr (GPtrArray) sign = g_ptr_array_new ();
  const gchar *fixed[] = { "host", host, "x-amz-date", date,
    "x-amz-content-sha256", payload_hash,
    s->s3_key.session_token ? "x-amz-security-token" : NULL,
    s->s3_key.session_token, NULL
  };
  for (guint i = 0; fixed[i]; i++)
    g_ptr_array_add (sign, (gpointer) fixed[i]);
  for (guint i = 0; headers && headers[i]; i++)
    g_ptr_array_add (sign, (gpointer) headers[i]);
  g_ptr_array_add (sign, NULL);

  g_autofree gchar *path = g_uri_unescape_string (g_uri_get_path (uri), NULL);
  LbSigV4Request req = { method, path, query,
    (const gchar * const *) sign->pdata, payload_hash, FALSE
  };
  g_autofree gchar *authz = lb_sigv4_authorization (&s->s3_key, &req, date);
  SoupMessage *msg = soup_message_new_from_uri (method, uri);
  SoupMessageHeaders *h = soup_message_get_request_headers (msg);
  for (guint i = 0; i + 1 < sign->len - 1; i += 2)
    soup_message_headers_replace (h, sign->pdata[i], sign->pdata[i + 1]);
  soup_message_headers_replace (h, "Authorization", authz);
  return msg;
}

/* Sends and parses an XML answer (an empty body parses as nothing). */
static gboolean
s3_send_xml (LbDelivery * d, SoupMessage * msg, LbHttpAnswer * a,
    LbS3Answer * x)
{
  memset (x, 0, sizeof *x);
  if (!lb_http_send (d, msg, NULL, XML_ANSWER_MAX, a))
    return FALSE;
  gsize len = 0;
  const gchar *data = a->body ? g_bytes_get_data (a->body, &len) : NULL;
  if (len > 0 && !lb_s3_answer_parse (data, len, x, NULL))
    memset (x, 0, sizeof *x);
  return TRUE;
}

static gchar *
s3_key (LbDelivery * d, GError ** error)
{
  g_autofree gchar *escaped = lb_upload_entry_expand (lb_uploader_settings
      (d->up)->key_template, d->entry, error);
  return escaped ? g_uri_unescape_string (escaped, NULL) : NULL;
}

static gboolean
put_object (LbDelivery * d, const gchar * key)
{
  const gchar *ctype = d->entry->content_type ? d->entry->content_type
      : "application/octet-stream";
  const gchar *headers[] = { "content-md5", d->file->md5_b64,
    "content-type", ctype, NULL
  };
  g_autoptr (SoupMessage) msg = s3_message (d, "PUT", key, NULL,
      d->sha256, headers);
  LbHttpBody body = { d->filename, 0, d->size, ctype, TRUE };
  g_auto (LbHttpAnswer) a = { 0 };
  return lb_http_send (d, msg, &body, 4096, &a)
      && lb_http_check (d, &a, "PutObject");
}

/* -------------------------------------------------------------- multipart */

typedef struct
{
  gchar *key;
  gchar *upload_id;
  gint64 part_size;
  gint n_parts;
  LbUploadPart *have;           /* [n_parts], etag NULL where missing */
} Multipart;

static void
multipart_clear (Multipart * m)
{
  for (gint i = 0; m->have && i < m->n_parts; i++)
    lb_upload_part_clear (&m->have[i]);
  g_clear_pointer (&m->have, g_free);
  g_clear_pointer (&m->key, g_free);
  g_clear_pointer (&m->upload_id, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Multipart, multipart_clear);

static gint64
part_length (const Multipart * m, gint64 size, gint n)
{
  gint64 offset = (gint64) (n - 1) * m->part_size;
  return MIN (m->part_size, size - offset);
}

static gint64
acked_bytes (const Multipart * m)
{
  gint64 sum = 0;
  for (gint i = 0; i < m->n_parts; i++)
    if (m->have[i].etag)
      sum += m->have[i].size;
  return sum;
}

static void
unquote (gchar * etag)
{
  gchar *w = etag;
  for (gchar * r = etag; *r; r++)
    if (*r != '"')
      *w++ = *r;
  *w = '\0';
}

static gboolean
same_etag (const gchar * a, const gchar * b)
{
  g_autofree gchar *x = g_strdup (a), *y = g_strdup (b);
  unquote (x);
  unquote (y);
  return g_ascii_strcasecmp (x, y) == 0;
}

static gboolean
create_upload (LbDelivery * d, Multipart * m)
{
  const gchar *ctype = d->entry->content_type ? d->entry->content_type
      : "application/octet-stream";
  const gchar *query[] = { "uploads", "", NULL };
  const gchar *headers[] = { "content-type", ctype, NULL };
  g_autoptr (SoupMessage) msg = s3_message (d, "POST", m->key, query,
      LB_SIGV4_EMPTY_SHA256, headers);
  g_auto (LbHttpAnswer) a = { 0 };
  g_auto (LbS3Answer) x = { 0 };
  g_autoptr (GError) error = NULL;
  if (!s3_send_xml (d, msg, &a, &x)
      || !lb_http_check (d, &a, "CreateMultipartUpload"))
    return FALSE;
  if (x.upload_id == NULL || *x.upload_id == '\0') {
    lb_delivery_retry (d, TRUE, -1, "CreateMultipartUpload: the answer has no "
        "UploadId");
    return FALSE;
  }
  if (!lb_store_upload_set_session (lb_uploader_store (d->up), d->entry->id,
          x.upload_id, 0, &error)) {
    lb_delivery_retry (d, FALSE, -1, "recording the upload: %s",
        error->message);
    return FALSE;
  }
  m->upload_id = g_strdup (x.upload_id);
  return TRUE;
}

/* The parts the endpoint holds: FALSE with the outcome set on trouble;
 * *@gone when the upload is unknown to it (expired, aborted, completed). */
static gboolean
list_parts (LbDelivery * d, Multipart * m, GArray ** out, gboolean * gone)
{
  *gone = FALSE;
  *out = NULL;
  g_autoptr (GArray) all = g_array_new (FALSE, TRUE, sizeof (LbUploadPart));
  g_array_set_clear_func (all, (GDestroyNotify) lb_upload_part_clear);
  gint marker = 0;
  for (guint page = 0; page < MAX_PARTS / 1000 + 1; page++) {
    g_autofree gchar *mk = g_strdup_printf ("%d", marker);
    const gchar *query[] = { "uploadId", m->upload_id,
      "part-number-marker", mk, NULL
    };
    g_autoptr (SoupMessage) msg = s3_message (d, "GET", m->key, query,
        LB_SIGV4_EMPTY_SHA256, NULL);
    g_auto (LbHttpAnswer) a = { 0 };
    g_auto (LbS3Answer) x = { 0 };
    if (!s3_send_xml (d, msg, &a, &x))
      return FALSE;
    if (a.status == 404) {
      *gone = TRUE;
      return TRUE;
    }
    if (a.status == 405 || a.status == 501)
      return TRUE;              /* cannot list: the journal is the record */
    if (!lb_http_check (d, &a, "ListParts"))
      return FALSE;
    for (guint i = 0; x.parts && i < x.parts->len; i++) {
      LbUploadPart *p = &g_array_index (x.parts, LbUploadPart, i);
      LbUploadPart copy = { p->number, g_strdup (p->etag), p->size, NULL };
      g_array_append_val (all, copy);
    }
    if (!x.truncated || x.next_marker <= marker)
      break;
    marker = x.next_marker;
  }
  *out = g_steal_pointer (&all);
  return TRUE;
}

/* A part the endpoint holds that the journal missed (a crash between its
 * answer and the record): taken when its ETag is the part's MD5. */
static void
adopt_part (LbDelivery * d, Multipart * m, const LbUploadPart * p)
{
  g_auto (LbDigests) dg = { 0 };
  gint64 off = (gint64) (p->number - 1) * m->part_size;
  if (p->size != part_length (m, d->size, p->number)
      || !lb_file_digests (d->filename, off, p->size, d->cancel, &dg, NULL)
      || !same_etag (p->etag, dg.md5_hex))
    return;
  LbUploadPart *h = &m->have[p->number - 1];
  lb_upload_part_clear (h);
  *h = (LbUploadPart) {
  p->number, g_strdup (p->etag), p->size, g_strdup (dg.md5_hex)};
  lb_store_upload_add_part (lb_uploader_store (d->up), d->entry->id, h,
      acked_bytes (m), NULL);
}

/* The recorded parts, checked against what the endpoint lists. */
static gboolean
reconcile (LbDelivery * d, Multipart * m, gboolean * gone)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) rec = lb_store_upload_parts (lb_uploader_store (d->up),
      d->entry->id, &error);
  if (rec == NULL) {
    lb_delivery_retry (d, FALSE, -1, "reading the upload's parts: %s",
        error->message);
    return FALSE;
  }
  for (guint i = 0; i < rec->len; i++) {
    LbUploadPart *p = &g_array_index (rec, LbUploadPart, i);
    if (p->number < 1 || p->number > m->n_parts
        || p->size != part_length (m, d->size, p->number))
      continue;
    m->have[p->number - 1] = *p;
    memset (p, 0, sizeof *p);
  }
  g_autoptr (GArray) listed = NULL;
  if (!list_parts (d, m, &listed, gone))
    return FALSE;
  if (*gone || listed == NULL)
    return TRUE;
  for (gint n = 1; n <= m->n_parts; n++) {
    const LbUploadPart *l = NULL;
    for (guint i = 0; i < listed->len && !l; i++)
      if (g_array_index (listed, LbUploadPart, i).number == n)
        l = &g_array_index (listed, LbUploadPart, i);
    LbUploadPart *h = &m->have[n - 1];
    if (h->etag && (l == NULL || !same_etag (h->etag, l->etag)))
      lb_upload_part_clear (h); /* the endpoint lost it: send it again */
    else if (h->etag == NULL && l)
      adopt_part (d, m, l);
  }
  return TRUE;
}

static gboolean
upload_part (LbDelivery * d, Multipart * m, gint n)
{
  g_autoptr (GError) error = NULL;
  g_auto (LbDigests) dg = { 0 };
  gint64 off = (gint64) (n - 1) * m->part_size;
  gint64 len = part_length (m, d->size, n);
  if (!lb_file_digests (d->filename, off, len, d->cancel, &dg, &error)) {
    if (!lb_delivery_stopping (d))
      lb_delivery_fail (d, "output file %s cannot be read: %s", d->filename,
          error->message);
    return FALSE;
  }
  g_autofree gchar *num = g_strdup_printf ("%d", n);
  const gchar *query[] = { "partNumber", num, "uploadId", m->upload_id, NULL };
  const gchar *headers[] = { "content-md5", dg.md5_b64, NULL };
  g_autoptr (SoupMessage) msg = s3_message (d, "PUT", m->key, query,
      dg.sha256_hex, headers);
  LbHttpBody body = { d->filename, off, len, "application/octet-stream", TRUE };
  g_auto (LbHttpAnswer) a = { 0 };
  g_autofree gchar *what = g_strdup_printf ("UploadPart %d", n);
  if (!lb_http_send (d, msg, &body, 4096, &a) || !lb_http_check (d, &a, what))
    return FALSE;
  const gchar *etag = soup_message_headers_get_one (a.headers, "ETag");
  if (etag == NULL || *etag == '\0') {
    lb_delivery_retry (d, TRUE, -1, "%s: the answer has no ETag", what);
    return FALSE;
  }
  LbUploadPart *h = &m->have[n - 1];
  lb_upload_part_clear (h);
  *h = (LbUploadPart) {
  n, g_strdup (etag), len, g_strdup (dg.md5_hex)};
  if (!lb_store_upload_add_part (lb_uploader_store (d->up), d->entry->id, h,
          acked_bytes (m), &error)) {
    lb_delivery_retry (d, FALSE, -1, "recording part %d: %s", n,
        error->message);
    return FALSE;
  }
  return TRUE;
}

static gboolean
complete_upload (LbDelivery * d, Multipart * m)
{
  g_autoptr (GString) xml = g_string_new ("<CompleteMultipartUpload>");
  for (gint i = 0; i < m->n_parts; i++) {
    g_autofree gchar *etag = g_markup_escape_text (m->have[i].etag, -1);
    g_string_append_printf (xml, "<Part><PartNumber>%d</PartNumber>"
        "<ETag>%s</ETag></Part>", i + 1, etag);
  }
  g_string_append (xml, "</CompleteMultipartUpload>");
  g_autofree gchar *hash = g_compute_checksum_for_string (G_CHECKSUM_SHA256,
      xml->str, xml->len);
  const gchar *query[] = { "uploadId", m->upload_id, NULL };
  const gchar *headers[] = { "content-type", "application/xml", NULL };
  g_autoptr (SoupMessage) msg = s3_message (d, "POST", m->key, query, hash,
      headers);
  g_autoptr (GBytes) body = g_bytes_new (xml->str, xml->len);
  soup_message_set_request_body_from_bytes (msg, "application/xml", body);
  g_auto (LbHttpAnswer) a = { 0 };
  g_auto (LbS3Answer) x = { 0 };
  if (!s3_send_xml (d, msg, &a, &x)
      || !lb_http_check (d, &a, "CompleteMultipartUpload"))
    return FALSE;
  /* S3 may answer 200 and still fail, with an Error body */
  if (x.error_code) {
    lb_delivery_retry (d, TRUE, -1, "CompleteMultipartUpload: %s: %s",
        x.error_code, x.error_message ? x.error_message : "");
    return FALSE;
  }
  return TRUE;
}

/* Best effort: the endpoint drops the parts of an upload refused for good. */
static void
abort_upload (LbDelivery * d, Multipart * m)
{
  const gchar *query[] = { "uploadId", m->upload_id, NULL };
  g_autoptr (SoupMessage) msg = s3_message (d, "DELETE", m->key, query,
      LB_SIGV4_EMPTY_SHA256, NULL);
  g_auto (LbHttpAnswer) a = { 0 };
  LbDelivery probe = *d;        /* keeps d's outcome */
  probe.reason = NULL;
  if (lb_http_send (&probe, msg, NULL, 4096, &a))
    lb_log (LB_LOG_INFO, LB_LOG_CTX (.vehicle = d->entry->vehicle,.input =
            d->entry->input,.retrieval_id = d->entry->retrieval_id),
        "upload %s aborted (AbortMultipartUpload: HTTP %u)", m->upload_id,
        a.status);
  g_free (probe.reason);
}

static gboolean
multipart (LbDelivery * d, const gchar * key)
{
  const LbUploadSettings *s = lb_uploader_settings (d->up);
  g_auto (Multipart) m = { 0 };
  m.key = g_strdup (key);
  m.part_size = MAX (s->part_size, (d->size + MAX_PARTS - 1) / MAX_PARTS);
  m.n_parts = (gint) ((d->size + m.part_size - 1) / m.part_size);
  m.have = g_new0 (LbUploadPart, m.n_parts);

  gboolean gone = FALSE;
  if (d->entry->session) {
    m.upload_id = g_strdup (d->entry->session);
    if (!reconcile (d, &m, &gone))
      return FALSE;
    if (gone) {
      lb_store_upload_set_session (lb_uploader_store (d->up), d->entry->id,
          NULL, 0, NULL);
      lb_delivery_retry (d, TRUE, 0, "the endpoint no longer knows upload %s; "
          "starting it again", m.upload_id);
      return FALSE;
    }
  } else if (!create_upload (d, &m)) {
    return FALSE;
  }
  for (gint n = 1; n <= m.n_parts; n++)
    if (m.have[n - 1].etag == NULL && !upload_part (d, &m, n)) {
      if (d->result == LB_DELIVERY_FAILED)
        abort_upload (d, &m);
      return FALSE;
    }
  if (!complete_upload (d, &m)) {
    if (d->result == LB_DELIVERY_FAILED)
      abort_upload (d, &m);
    return FALSE;
  }
  return TRUE;
}

void
lb_upload_s3_deliver (LbDelivery * d)
{
  const LbUploadSettings *s = lb_uploader_settings (d->up);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *key = s3_key (d, &error);
  if (key == NULL) {
    lb_delivery_fail (d, "cannot make the object key: %s", error->message);
    return;
  }
  gboolean ok = d->size <= s->part_size ? put_object (d, key)
      : multipart (d, key);
  if (!ok)
    return;
  /* urlInfo: the public template, else the object's own URL (presigned
   * whenever it is shown) */
  d->public_url = s->public_template
      ? lb_upload_entry_expand (s->public_template, d->entry, NULL)
      : lb_upload_s3_object_url (s, key);
  lb_delivery_done (d);
}

gchar *
lb_uploader_presign (const gchar * object_url, gint64 now_ns, gint64 ttl_ns,
    gpointer uploader)
{
  g_return_val_if_fail (object_url != NULL && uploader != NULL, NULL);

  const LbUploadSettings *s = lb_uploader_settings (uploader);
  g_autoptr (GUri) uri = g_uri_parse (object_url, G_URI_FLAGS_ENCODED, NULL);
  if (uri == NULL)
    return g_strdup (object_url);
  g_autofree gchar *host = host_header (uri);
  g_autofree gchar *date = lb_sigv4_amz_date (now_ns);
  g_autofree gchar *path = g_uri_unescape_string (g_uri_get_path (uri), NULL);
  const gchar *headers[] = { "host", host, NULL };
  LbSigV4Request req = { "GET", path, NULL, headers,
    LB_SIGV4_UNSIGNED_PAYLOAD, FALSE
  };
  /* SigV4 presigned URLs live at most 7 days */
  gint64 expires = CLAMP ((ttl_ns + LB_NS_PER_SEC - 1) / LB_NS_PER_SEC, 1,
      7 * 86400);
  g_autofree gchar *query = lb_sigv4_presign_query (&s->s3_key, &req, date,
      expires);
  g_autofree gchar *base = g_uri_to_string_partial (uri,
      G_URI_HIDE_QUERY | G_URI_HIDE_FRAGMENT);
  return g_strdup_printf ("%s?%s", base, query);
}
