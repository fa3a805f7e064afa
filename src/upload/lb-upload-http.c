/* lookback — HTTP for the upload protocols: requests with a file range as
 * body (throttled, counted), answers, outcomes (see lb-upload-private.h) */
#include "upload/lb-upload-private.h"
#include "core/lb-debug.h"
#include "core/lb-error.h"
#include "core/lb-time.h"

#include <string.h>

#define EXCERPT_KEEP  200       /* characters of an error body kept in a reason */
#define DRAIN_MAX     (1 << 20) /* bytes of an answer read past what is kept */
#define READ_BLOCK    (64 * 1024)

/* ------------------------------------------------------------------ rate */

/* In slices of at most the bucket (one second's worth), so that a block
 * larger than a second of the cap still goes, at the cap. */
gboolean
lb_rate_take (LbRateLimiter * limiter, gsize bytes, GCancellable * cancel)
{
  if (limiter == NULL)
    return !g_cancellable_is_cancelled (cancel);
  gdouble burst = lb_rate_limiter_burst (limiter);
  gdouble left = bytes;
  while (left > 0) {
    gdouble n = MIN (left, burst), wait_s = 0;
    if (lb_rate_limiter_take_n (limiter, "", n,
            g_get_monotonic_time () * 1000, &wait_s))
      left -= n;
    else                        /* short slices: a stop is never kept waiting */
      g_usleep (CLAMP ((gint64) (wait_s * G_USEC_PER_SEC), 1000, 50000));
    if (g_cancellable_is_cancelled (cancel))
      return FALSE;
  }
  return TRUE;
}

/* ----------------------------------------------------------- body stream */

/* @length bytes of a file from @offset, read through the uploader's rate
 * and counted as sent.  Seekable within the range, so that whoever sends it
 * again can rewind it (libsoup does not: see restarted_cb()). */
#define LB_TYPE_BODY_STREAM (lb_body_stream_get_type ())
G_DECLARE_FINAL_TYPE (LbBodyStream, lb_body_stream, LB, BODY_STREAM,
    GInputStream);

struct _LbBodyStream
{
  GInputStream parent;
  GInputStream *file;
  gint64 offset;                /* of the range in the file */
  gint64 length;
  gint64 left;
  LbUploader *up;
};

static void lb_body_stream_seekable_init (GSeekableIface * iface);

G_DEFINE_TYPE_WITH_CODE (LbBodyStream, lb_body_stream, G_TYPE_INPUT_STREAM,
    G_IMPLEMENT_INTERFACE (G_TYPE_SEEKABLE, lb_body_stream_seekable_init));

static goffset
body_tell (GSeekable * seekable)
{
  LbBodyStream *self = LB_BODY_STREAM (seekable);
  return self->length - self->left;
}

static gboolean
body_can_seek (GSeekable * seekable)
{
  return TRUE;
}

static gboolean
body_seek (GSeekable * seekable, goffset offset, GSeekType type,
    GCancellable * cancel, GError ** error)
{
  LbBodyStream *self = LB_BODY_STREAM (seekable);
  goffset base = type == G_SEEK_CUR ? body_tell (seekable)
      : type == G_SEEK_END ? self->length : 0;
  goffset pos = base + offset;
  if (pos < 0 || pos > self->length) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "seek outside the body");
    return FALSE;
  }
  if (!g_seekable_seek (G_SEEKABLE (self->file), self->offset + pos,
          G_SEEK_SET, cancel, error))
    return FALSE;
  self->left = self->length - pos;
  return TRUE;
}

static gboolean
body_can_truncate (GSeekable * seekable)
{
  return FALSE;
}

static gboolean
body_truncate (GSeekable * seekable, goffset offset, GCancellable * cancel,
    GError ** error)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, "read-only");
  return FALSE;
}

static void
lb_body_stream_seekable_init (GSeekableIface * iface)
{
  iface->tell = body_tell;
  iface->can_seek = body_can_seek;
  iface->seek = body_seek;
  iface->can_truncate = body_can_truncate;
  iface->truncate_fn = body_truncate;
}

static gssize
body_read (GInputStream * stream, void *buffer, gsize count,
    GCancellable * cancel, GError ** error)
{
  LbBodyStream *self = LB_BODY_STREAM (stream);
  gsize want = (gsize) MIN ((gint64) MIN (count, READ_BLOCK), self->left);
  if (want == 0)
    return 0;
  if (!lb_rate_take (lb_uploader_rate (self->up), want, cancel)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "cancelled");
    return -1;
  }
  gssize n = g_input_stream_read (self->file, buffer, want, cancel, error);
  if (n > 0) {
    self->left -= n;
    lb_uploader_count_sent (self->up, n);
  } else if (n == 0 && self->left > 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
        "the file is shorter than when the upload began");
    return -1;
  }
  return n;
}

static gboolean
body_close (GInputStream * stream, GCancellable * cancel, GError ** error)
{
  return g_input_stream_close (LB_BODY_STREAM (stream)->file, cancel, error);
}

static void
body_finalize (GObject * object)
{
  g_clear_object (&LB_BODY_STREAM (object)->file);
  G_OBJECT_CLASS (lb_body_stream_parent_class)->finalize (object);
}

static void
lb_body_stream_class_init (LbBodyStreamClass * klass)
{
  G_OBJECT_CLASS (klass)->finalize = body_finalize;
  G_INPUT_STREAM_CLASS (klass)->read_fn = body_read;
  G_INPUT_STREAM_CLASS (klass)->close_fn = body_close;
}

static void
lb_body_stream_init (LbBodyStream * self)
{
}

static GInputStream *
body_stream_new (LbUploader * up, const LbHttpBody * body,
    GCancellable * cancel, GError ** error)
{
  g_autoptr (GFile) file = g_file_new_for_path (body->filename);
  g_autoptr (GFileInputStream) in = g_file_read (file, cancel, error);
  if (in == NULL || !g_seekable_seek (G_SEEKABLE (in), body->offset,
          G_SEEK_SET, cancel, error))
    return NULL;
  LbBodyStream *s = g_object_new (LB_TYPE_BODY_STREAM, NULL);
  s->file = G_INPUT_STREAM (g_steal_pointer (&in));
  s->offset = body->offset;
  s->length = s->left = body->length;
  s->up = up;
  return G_INPUT_STREAM (s);
}

/* -------------------------------------------------------------- outcomes */

static void
set_outcome (LbDelivery * d, LbDeliveryResult result, gboolean answered,
    gint64 retry_after_ns, gchar * reason)
{
  d->result = result;
  d->answered = answered;
  d->retry_after_ns = retry_after_ns;
  g_free (d->reason);
  d->reason = reason;
}

void
lb_delivery_done (LbDelivery * d)
{
  set_outcome (d, LB_DELIVERY_DONE, TRUE, -1, NULL);
}

void
lb_delivery_retry (LbDelivery * d, gboolean answered, gint64 retry_after_ns,
    const gchar * format, ...)
{
  va_list args;
  va_start (args, format);
  set_outcome (d, LB_DELIVERY_RETRY, answered, retry_after_ns,
      g_strdup_vprintf (format, args));
  va_end (args);
}

void
lb_delivery_fail (LbDelivery * d, const gchar * format, ...)
{
  va_list args;
  va_start (args, format);
  set_outcome (d, LB_DELIVERY_FAILED, TRUE, -1, g_strdup_vprintf (format,
          args));
  va_end (args);
}

gboolean
lb_delivery_stopping (LbDelivery * d)
{
  if (!g_cancellable_is_cancelled (d->cancel))
    return FALSE;
  set_outcome (d, LB_DELIVERY_STOPPED, FALSE, -1, g_strdup ("stopped"));
  return TRUE;
}

/* ------------------------------------------------------------ requests */

void
lb_http_answer_clear (LbHttpAnswer * a)
{
  g_clear_pointer (&a->reason_phrase, g_free);
  g_clear_pointer (&a->headers, soup_message_headers_unref);
  g_clear_pointer (&a->body, g_bytes_unref);
}

gchar *
lb_http_excerpt (const guint8 * data, gsize len)
{
  GString *s = g_string_new (NULL);
  gboolean space = FALSE;
  for (gsize i = 0; i < len && s->len < EXCERPT_KEEP; i++) {
    guchar c = data[i];
    if (g_ascii_isspace (c) || c < 0x20 || c >= 0x7f) {
      space = s->len > 0;
      continue;
    }
    if (space)
      g_string_append_c (s, ' ');
    space = FALSE;
    g_string_append_c (s, c);
  }
  return g_string_free (s, FALSE);
}

/* The connect watchdog: no connection within connect-timeout cancels the
 * request.  The timer runs on the uploader's thread (the delivery thread is
 * blocked in the request), so the watch is shared and reference counted. */
typedef struct
{
  GCancellable *cancel;
  GSource *timer;
  gint timed_out;
  gint restarted;
} Watch;

static void
watch_clear (Watch * w)
{
  g_clear_object (&w->cancel);
  g_clear_pointer (&w->timer, g_source_unref);
}

static void
watch_unref (gpointer w)
{
  g_atomic_rc_box_release_full (w, (GDestroyNotify) watch_clear);
}

static gboolean
watch_fired (gpointer data)
{
  Watch *w = data;
  g_atomic_int_set (&w->timed_out, 1);
  g_cancellable_cancel (w->cancel);
  return G_SOURCE_REMOVE;
}

static void
watch_stop (Watch * w)
{
  if (w->timer)
    g_source_destroy (w->timer);
}

static void
network_event_cb (SoupMessage * msg, GSocketClientEvent event,
    GIOStream * conn, gpointer data)
{
  if (event == G_SOCKET_CLIENT_CONNECTED || event == G_SOCKET_CLIENT_COMPLETE)
    watch_stop (data);
}

static void
wrote_headers_cb (SoupMessage * msg, gpointer data)
{
  watch_stop (data);
}

/* libsoup sends a request again by itself when the kept-alive connection
 * it chose turns out closed, but libsoup 3.2 sends it again without its
 * body stream (Content-Length: 0): an S3 part stored empty.  So a restart
 * ends the request here; the protocol's own retry sends it again whole. */
static void
restarted_cb (SoupMessage * msg, gpointer data)
{
  Watch *w = data;
  g_atomic_int_set (&w->restarted, 1);
  g_cancellable_cancel (w->cancel);
}

static void
cancel_chained (GCancellable * parent, gpointer child)
{
  g_cancellable_cancel (child);
}

/* Reads the answer: up to @max bytes kept, up to DRAIN_MAX more dropped. */
static gboolean
read_answer (GInputStream * in, gsize max, GCancellable * cancel,
    GBytes ** out, GError ** error)
{
  g_autoptr (GByteArray) kept = g_byte_array_new ();
  g_autofree guint8 *buf = g_malloc (READ_BLOCK);
  gsize total = 0;
  for (;;) {
    gssize n = g_input_stream_read (in, buf, READ_BLOCK, cancel, error);
    if (n < 0)
      return FALSE;
    if (n == 0 || total > max + DRAIN_MAX)
      break;
    if (kept->len < max)
      g_byte_array_append (kept, buf, MIN ((gsize) n, max - kept->len));
    total += n;
  }
  *out = g_byte_array_free_to_bytes (g_steal_pointer (&kept));
  return TRUE;
}

static gboolean
attach_body (LbDelivery * d, SoupMessage * msg, const LbHttpBody * body)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GInputStream) in = body_stream_new (d->up, body, d->cancel,
      &error);
  if (in == NULL) {
    if (!lb_delivery_stopping (d))
      lb_delivery_fail (d, "output file %s cannot be read: %s",
          body->filename, error->message);
    return FALSE;
  }
  soup_message_set_request_body (msg, body->content_type, in, body->length);
  if (body->expect_continue)
    soup_message_headers_set_expectations (soup_message_get_request_headers
        (msg), SOUP_EXPECTATION_CONTINUE);
  return TRUE;
}

gboolean
lb_http_send (LbDelivery * d, SoupMessage * msg, const LbHttpBody * body,
    gsize max_body, LbHttpAnswer * out)
{
  g_autoptr (GError) error = NULL;
  const LbUploadSettings *s = lb_uploader_settings (d->up);

  memset (out, 0, sizeof *out);
  d->requested = TRUE;
  d->status = 0;
  soup_message_add_flags (msg, SOUP_MESSAGE_NO_REDIRECT);
  if (body && !attach_body (d, msg, body))
    return FALSE;

  Watch *w = g_atomic_rc_box_new0 (Watch);
  w->cancel = g_cancellable_new ();
  gulong chain = g_cancellable_connect (d->cancel, G_CALLBACK (cancel_chained),
      g_object_ref (w->cancel), g_object_unref);
  w->timer = g_timeout_source_new (MAX (1, s->connect_timeout_ns /
          LB_NS_PER_MS));
  g_source_set_callback (w->timer, watch_fired, g_atomic_rc_box_acquire (w),
      watch_unref);
  g_source_attach (w->timer, lb_uploader_context (d->up));
  g_signal_connect (msg, "network-event", G_CALLBACK (network_event_cb), w);
  g_signal_connect (msg, "wrote-headers", G_CALLBACK (wrote_headers_cb), w);
  g_signal_connect (msg, "restarted", G_CALLBACK (restarted_cb), w);

  g_autoptr (GInputStream) in = soup_session_send (d->session, msg, w->cancel,
      &error);
  if (in && !read_answer (in, max_body, w->cancel, &out->body, &error))
    g_clear_object (&in);
  watch_stop (w);
  g_signal_handlers_disconnect_by_data (msg, w);
  g_cancellable_disconnect (d->cancel, chain);
  gboolean timed_out = g_atomic_int_get (&w->timed_out);
  gboolean restarted = g_atomic_int_get (&w->restarted);
  watch_unref (w);

  if (in == NULL) {
    if (lb_delivery_stopping (d))
      return FALSE;
    if (timed_out)
      lb_delivery_retry (d, FALSE, -1, "cloud endpoint unreachable: no "
          "connection within %.1f s", s->connect_timeout_ns / 1e9);
    else if (restarted)
      lb_delivery_retry (d, FALSE, -1, "cloud endpoint unreachable: the "
          "connection closed under the request");
    else
      lb_delivery_retry (d, FALSE, -1, "cloud endpoint unreachable: %s",
          error->message);
    return FALSE;
  }
  out->status = d->status = soup_message_get_status (msg);
  out->reason_phrase = g_strdup (soup_message_get_reason_phrase (msg));
  out->headers =
      soup_message_headers_ref (soup_message_get_response_headers (msg));
  return TRUE;
}

gboolean
lb_http_check (LbDelivery * d, const LbHttpAnswer * a, const gchar * what)
{
  if (SOUP_STATUS_IS_SUCCESSFUL (a->status))
    return TRUE;
  gsize len = 0;
  const guint8 *data = a->body ? g_bytes_get_data (a->body, &len) : NULL;
  g_autofree gchar *body = lb_http_excerpt (data, len);
  const gchar *phrase = a->reason_phrase;
  g_autofree gchar *reason =
      g_strdup_printf ("%s%scloud endpoint answered HTTP %u%s%s%s%s",
      what ? what : "", what ? ": " : "", a->status, phrase
      && *phrase ? " " : "", phrase ? phrase : "", *body ? ": " : "", body);

  if (a->status == SOUP_STATUS_REQUEST_TIMEOUT || a->status == 429
      || a->status >= 500) {
    gint64 retry_after = -1;
    const gchar *ra = soup_message_headers_get_one (a->headers, "Retry-After");
    if (!lb_upload_parse_retry_after (ra, g_get_real_time () * 1000,
            &retry_after))
      retry_after = -1;
    lb_delivery_retry (d, TRUE, retry_after, "%s", reason);
  } else {
    lb_delivery_fail (d, "%s", reason);
  }
  return FALSE;
}

/* ------------------------------------------------------------- digests */

void
lb_digests_clear (LbDigests * d)
{
  g_clear_pointer (&d->md5_hex, g_free);
  g_clear_pointer (&d->md5_b64, g_free);
  g_clear_pointer (&d->sha1_b64, g_free);
  g_clear_pointer (&d->sha256_hex, g_free);
  g_clear_pointer (&d->sha256_b64, g_free);
}

static void
digest_out (GChecksum * sum, gchar ** hex, gchar ** b64)
{
  guint8 raw[32];
  gsize len = sizeof raw;
  if (hex)
    *hex = g_strdup (g_checksum_get_string (sum));
  g_checksum_get_digest (sum, raw, &len);
  *b64 = g_base64_encode (raw, len);
}

gboolean
lb_file_digests (const gchar * filename, gint64 offset, gint64 length,
    GCancellable * cancel, LbDigests * out, GError ** error)
{
  g_autoptr (GFile) file = g_file_new_for_path (filename);
  g_autoptr (GFileInputStream) in = g_file_read (file, cancel, error);
  if (in == NULL || !g_seekable_seek (G_SEEKABLE (in), offset, G_SEEK_SET,
          cancel, error))
    return FALSE;
  g_autoptr (GChecksum) md5 = g_checksum_new (G_CHECKSUM_MD5);
  g_autoptr (GChecksum) sha1 = g_checksum_new (G_CHECKSUM_SHA1);
  g_autoptr (GChecksum) sha256 = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree guint8 *buf = g_malloc (READ_BLOCK);
  gint64 left = length;
  while (left > 0) {
    gssize n = g_input_stream_read (G_INPUT_STREAM (in), buf,
        (gsize) MIN (left, READ_BLOCK), cancel, error);
    if (n < 0)
      return FALSE;
    if (n == 0) {
      g_set_error (error, LB_ERROR, LB_ERROR_IO, "%s is shorter than %"
          G_GINT64_FORMAT " bytes", filename, offset + length);
      return FALSE;
    }
    g_checksum_update (md5, buf, n);
    g_checksum_update (sha1, buf, n);
    g_checksum_update (sha256, buf, n);
    left -= n;
  }
  digest_out (md5, &out->md5_hex, &out->md5_b64);
  digest_out (sha1, NULL, &out->sha1_b64);
  digest_out (sha256, &out->sha256_hex, &out->sha256_b64);
  return TRUE;
}
