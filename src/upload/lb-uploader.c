/* lookback — the uploader (see lb-uploader.h) */
#include "upload/lb-uploader.h"
#include "core/lb-debug.h"
#include "core/lb-error.h"
#include "core/lb-log.h"
#include "core/lb-metrics.h"
#include "core/lb-time.h"
#include "jobs/lb-job-metrics.h"
#include "store/lb-store-api.h"
#include "config.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>

GST_DEBUG_CATEGORY_STATIC (lb_upload_debug);
#define GST_CAT_DEFAULT lb_upload_debug

#define POLL_INTERVAL_NS      (2 * LB_NS_PER_SEC)       /* journal re-read without a poke */
#define LOG_INTERVAL_NS       (60 * LB_NS_PER_SEC)      /* metrics log line */
#define SWEEP_INTERVAL_NS     (60 * LB_NS_PER_SEC)      /* at most; less when keep is short */
#define RETRY_AFTER_CAP_NS    (24 * 3600 * LB_NS_PER_SEC)
#define EXCERPT_READ          512       /* bytes of an error body read */
#define EXCERPT_KEEP          200       /* characters kept in the reason */
#define HASH_BUFFER           (64 * 1024)

/* The upload in flight (uploader thread only). */
typedef struct
{
  LbUploadEntry *entry;
  SoupMessage *msg;
  GCancellable *cancel;
  GSource *connect_timer;
  gboolean connect_timed_out;
  gint64 size;
  gchar *sha256;
  guint8 excerpt[EXCERPT_READ];
  GInputStream *response;
} Current;

struct _LbUploader
{
  LbConfig *config;             /* not owned */
  LbStore *store;               /* not owned */

  gchar *url_template;
  gchar *public_template;       /* NULL when unset */
  gchar *checksum_header;
  GPtrArray *header_names;      /* [upload-headers] */
  GPtrArray *header_values;
  gint64 connect_timeout_ns;
  gint64 timeout_ns;
  gint64 backoff_min_ns;
  gint64 backoff_max_ns;
  gint64 keep_ns;

  GMainContext *context;
  GMainLoop *loop;
  GThread *thread;
  GCancellable *stop_cancel;    /* cancelled by stop(), checked while hashing */

  /* uploader thread only */
  SoupSession *session;
  GSource *timer;
  Current *cur;
  guint failures;               /* consecutive transient failures */
  gint64 pause_until_ns;        /* wall clock; no upload starts before */
  gint64 last_failed_id;        /* entry of the last transient failure */
  gboolean last_failed_answered;        /* ... which the endpoint answered (5xx, 429, 408) */
  gint64 next_sweep_ns;
  gint64 next_log_ns;

  GMutex lock;                  /* protects the fields below */
  gboolean stopping;
  gboolean uploading;
  gchar *last_error;
  gint64 last_error_ns;
};

static void schedule (LbUploader * self);

static const gchar *const failure_classes[] = { "local", "unreachable",
  "http_429", "http_5xx", "http_4xx"
};

static void
count_failures (const gchar * class, guint n)
{
  lb_metric_add (lb_metrics_counter ("lookback_upload_failures_total",
          "Failed upload attempts, by class: local (the file or the URL), "
          "unreachable (no answer), http_429, http_5xx, http_4xx", "class"),
      LB_LABELS (class), n);
}

static void
count_uploaded (gint64 bytes)
{
  lb_metric_add (lb_metrics_counter ("lookback_upload_bytes_total",
          "Bytes uploaded (acknowledged by the endpoint)", NULL), NULL, bytes);
}

/* lookback_upload_failures_total{class} of the upload in flight @cur (or
 * of none): local (no request made: the file, the URL), unreachable (no
 * answer), http_429, http_5xx, http_4xx. */
static void
count_failure (const Current * cur)
{
  guint status = cur && cur->msg ? soup_message_get_status (cur->msg) : 0;

  count_failures (cur == NULL || cur->msg == NULL ? failure_classes[0]
      : status == 0 ? failure_classes[1] : status == 429 ? failure_classes[2]
      : status >= 500 ? failure_classes[3] : failure_classes[4], 1);
}

/* What an operator's line about an upload is about. */
#define ENTRY_CTX(e) LB_LOG_CTX (.vehicle = (e)->vehicle, .input = \
    (e)->input, .retrieval_id = (e)->retrieval_id)

static gint64
now_ns (void)
{
  return g_get_real_time () * 1000;
}

/* ------------------------------------------------------------------ helpers */

gboolean
lb_uploader_enabled (LbConfig * config)
{
  g_return_val_if_fail (config != NULL, FALSE);
  const gchar *t = lb_config_get_string (config, "upload", "url-template");
  return t != NULL && *t != '\0';
}

gchar *
lb_upload_expand_template (const gchar * tmpl, const gchar * vehicle,
    const gchar * retrieval_id, const gchar * input, const gchar * media_type,
    const gchar * ext, GError ** error)
{
  g_return_val_if_fail (tmpl != NULL, NULL);

  const struct
  {
    const gchar *name;
    const gchar *value;
  } vars[] = {
    {"vehicleId", vehicle}, {"retrievalId", retrieval_id}, {"input", input},
    {"mediaType", media_type}, {"ext", ext},
  };
  g_autoptr (GString) out = g_string_new (NULL);
  const gchar *p = tmpl;

  while (*p) {
    if (*p != '{') {
      g_string_append_c (out, *p++);
      continue;
    }
    const gchar *close = strchr (p, '}');
    if (close == NULL) {
      g_set_error (error, LB_ERROR, LB_ERROR_CONFIG,
          "upload URL template '%s': '{' without '}'", tmpl);
      return NULL;
    }
    g_autofree gchar *name = g_strndup (p + 1, close - p - 1);
    guint i;
    for (i = 0; i < G_N_ELEMENTS (vars); i++)
      if (g_str_equal (vars[i].name, name))
        break;
    if (i == G_N_ELEMENTS (vars)) {
      g_set_error (error, LB_ERROR, LB_ERROR_CONFIG,
          "upload URL template '%s': unknown placeholder {%s} (known: {vehicleId}, "
          "{retrievalId}, {input}, {mediaType}, {ext})", tmpl, name);
      return NULL;
    }
    g_autofree gchar *esc =
        g_uri_escape_string (vars[i].value ? vars[i].value : "",
        NULL, FALSE);
    g_string_append (out, esc);
    p = close + 1;
  }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

gboolean
lb_upload_parse_retry_after (const gchar * value, gint64 now,
    gint64 * out_delay_ns)
{
  g_return_val_if_fail (out_delay_ns != NULL, FALSE);
  if (value == NULL)
    return FALSE;

  g_autofree gchar *v = g_strstrip (g_strdup (value));
  gchar *end = NULL;
  if (g_ascii_isdigit (v[0])) {
    gdouble secs = g_ascii_strtod (v, &end);
    if (end != v && *end == '\0' && secs >= 0 && isfinite (secs)) {
      *out_delay_ns = (gint64) MIN (secs * 1e9, (gdouble) RETRY_AFTER_CAP_NS);
      return TRUE;
    }
  }
  g_autoptr (GDateTime) dt = soup_date_time_new_from_http_string (v);
  if (dt == NULL)
    return FALSE;
  gint64 at = g_date_time_to_unix (dt) * LB_NS_PER_SEC;
  *out_delay_ns = at > now ? MIN (at - now, RETRY_AFTER_CAP_NS) : 0;
  return TRUE;
}

gint64
lb_upload_backoff (gint64 min_ns, gint64 max_ns, guint failures, gdouble jitter)
{
  if (max_ns < min_ns)
    max_ns = min_ns;
  gdouble base = (gdouble) min_ns;
  for (guint i = 1; i < failures && base < max_ns; i++)
    base *= 2;
  base = MIN (base, (gdouble) max_ns);
  gdouble d = base / 2 + CLAMP (jitter, 0.0, 1.0) * base / 2;
  return MAX ((gint64) d, min_ns);
}

const gchar *
lb_upload_content_type (const gchar * ext)
{
  static const struct
  {
    const gchar *ext, *type;
  } types[] = {
    {"jpg", "image/jpeg"}, {"jpeg", "image/jpeg"}, {"png", "image/png"},
    {"mp4", "video/mp4"}, {"m4v", "video/mp4"}, {"mkv", "video/x-matroska"},
    {"json", "application/json"},
  };
  for (guint i = 0; ext && i < G_N_ELEMENTS (types); i++)
    if (g_ascii_strcasecmp (ext, types[i].ext) == 0)
      return types[i].type;
  return "application/octet-stream";
}

/* An RFC 9110 token. */
static gboolean
header_name_is_valid (const gchar * name)
{
  if (name == NULL || *name == '\0')
    return FALSE;
  for (const gchar * p = name; *p; p++)
    if (!g_ascii_isalnum (*p) && !strchr ("!#$%&'*+-.^_`|~", *p))
      return FALSE;
  return TRUE;
}

/* The extension of @path without the dot, or "". */
static gchar *
path_ext (const gchar * path)
{
  g_autofree gchar *base = g_path_get_basename (path);
  const gchar *dot = strrchr (base, '.');
  return g_strdup (dot && dot != base ? dot + 1 : "");
}

static gchar *
entry_url (const gchar * tmpl, const LbUploadEntry * e, GError ** error)
{
  g_autofree gchar *ext = path_ext (e->path);
  return lb_upload_expand_template (tmpl, e->vehicle, e->retrieval_id, e->input,
      lb_media_type_to_string (e->media_type), ext, error);
}

static gchar *
entry_file (LbUploader * self, const LbUploadEntry * e)
{
  if (g_path_is_absolute (e->path))
    return g_strdup (e->path);
  return g_build_filename (lb_store_get_dir (self->store), e->path, NULL);
}

/* A short, printable, single-line excerpt of an answer's body. */
static gchar *
excerpt (const guint8 * data, gsize len)
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

static void
set_last_error (LbUploader * self, const gchar * reason)
{
  g_mutex_lock (&self->lock);
  g_free (self->last_error);
  self->last_error = g_strdup (reason);
  self->last_error_ns = now_ns ();
  g_mutex_unlock (&self->lock);
}

static gboolean
is_stopping (LbUploader * self)
{
  g_mutex_lock (&self->lock);
  gboolean s = self->stopping;
  g_mutex_unlock (&self->lock);
  return s;
}

/* ------------------------------------------------------------- construction */

LbUploader *
lb_uploader_new (LbConfig * config, LbStore * store, GError ** error)
{
  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (store != NULL, NULL);

  LB_DEBUG_INIT (lb_upload_debug, "lookback-upload", "lookback uploader");

  const gchar *tmpl = lb_config_get_string (config, "upload", "url-template");
  const gchar *pub =
      lb_config_get_string (config, "upload", "public-url-template");
  if (tmpl == NULL || *tmpl == '\0') {
    g_set_error (error, LB_ERROR, LB_ERROR_CONFIG,
        "%s: [upload] url-template is empty: nothing to upload to",
        lb_config_get_source_name (config));
    return NULL;
  }
  /* Check both templates now, with sample values. */
  const gchar *tmpls[] = { tmpl, pub };
  for (guint i = 0; i < G_N_ELEMENTS (tmpls); i++) {
    if (tmpls[i] == NULL || *tmpls[i] == '\0')
      continue;
    g_autofree gchar *url =
        lb_upload_expand_template (tmpls[i], "v", "r", "i", "m", "e",
        error);
    if (url == NULL) {
      g_prefix_error (error, "%s: [upload] %s: ",
          lb_config_get_source_name (config),
          i == 0 ? "url-template" : "public-url-template");
      return NULL;
    }
    g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
    const gchar *scheme = uri ? g_uri_get_scheme (uri) : NULL;
    if (uri == NULL || g_uri_get_host (uri) == NULL
        || *g_uri_get_host (uri) == '\0'
        || (g_ascii_strcasecmp (scheme, "http") != 0
            && g_ascii_strcasecmp (scheme, "https") != 0)) {
      g_set_error (error, LB_ERROR, LB_ERROR_CONFIG,
          "%s: [upload] %s: '%s' is not an http:// or https:// URL",
          lb_config_get_source_name (config),
          i == 0 ? "url-template" : "public-url-template", tmpls[i]);
      return NULL;
    }
  }

  g_autoptr (LbUploader) self = g_new0 (LbUploader, 1);
  g_mutex_init (&self->lock);
  self->config = config;
  self->store = store;
  self->url_template = g_strdup (tmpl);
  self->public_template = (pub && *pub) ? g_strdup (pub) : NULL;
  self->checksum_header = g_strdup (lb_config_get_string (config, "upload",
          "checksum-header"));
  self->connect_timeout_ns =
      lb_config_get_duration (config, "upload", "connect-timeout");
  self->timeout_ns = lb_config_get_duration (config, "upload", "timeout");
  self->backoff_min_ns =
      lb_config_get_duration (config, "upload", "backoff-min");
  self->backoff_max_ns =
      MAX (self->backoff_min_ns, lb_config_get_duration (config, "upload",
          "backoff-max"));
  self->keep_ns = lb_config_get_duration (config, "upload", "keep");
  self->header_names = g_ptr_array_new_with_free_func (g_free);
  self->header_values = g_ptr_array_new_with_free_func (g_free);

  g_auto (GStrv) keys = lb_config_get_keys (config, "upload-headers");
  for (guint i = 0; keys[i]; i++) {
    g_autofree gchar *value =
        lb_config_get_free_string (config, "upload-headers", keys[i]);
    if (value == NULL) {
      g_set_error (error, LB_ERROR, LB_ERROR_CONFIG,
          "%s: [upload-headers] %s: no value",
          lb_config_get_source_name (config), keys[i]);
      return NULL;
    }
    if (!header_name_is_valid (keys[i]) || strpbrk (value, "\r\n")) {
      g_set_error (error, LB_ERROR, LB_ERROR_CONFIG,
          "%s: [upload-headers] %s: not a valid HTTP header",
          lb_config_get_source_name (config), keys[i]);
      return NULL;
    }
    g_ptr_array_add (self->header_names, g_strdup (keys[i]));
    g_ptr_array_add (self->header_values, g_steal_pointer (&value));
  }
  if (self->checksum_header && *self->checksum_header &&
      !header_name_is_valid (self->checksum_header)) {
    g_set_error (error, LB_ERROR, LB_ERROR_CONFIG,
        "%s: [upload] checksum-header: '%s' is not a valid header name",
        lb_config_get_source_name (config), self->checksum_header);
    return NULL;
  }

  self->context = g_main_context_new ();
  self->loop = g_main_loop_new (self->context, FALSE);
  self->stop_cancel = g_cancellable_new ();
  GST_INFO ("uploading to %s", self->url_template);
  return g_steal_pointer (&self);
}

/* ------------------------------------------------------------------ uploads */

static void
current_free (Current * cur)
{
  if (cur == NULL)
    return;
  if (cur->connect_timer) {
    g_source_destroy (cur->connect_timer);
    g_source_unref (cur->connect_timer);
  }
  if (cur->msg)
    g_signal_handlers_disconnect_by_data (cur->msg, cur);
  g_clear_object (&cur->msg);
  g_clear_object (&cur->cancel);
  g_clear_object (&cur->response);
  g_clear_pointer (&cur->entry, lb_upload_entry_free);
  g_free (cur->sha256);
  g_free (cur);
}

static gboolean
schedule_cb (gpointer data)
{
  schedule (data);
  return G_SOURCE_REMOVE;
}

/* Ends the current upload and looks for the next one from an idle. */
static void
finish_current (LbUploader * self)
{
  g_clear_pointer (&self->cur, current_free);
  g_mutex_lock (&self->lock);
  self->uploading = FALSE;
  g_mutex_unlock (&self->lock);
  GSource *idle = g_idle_source_new ();
  g_source_set_callback (idle, schedule_cb, self, NULL);
  g_source_attach (idle, self->context);
  g_source_unref (idle);
}

/* No answer (@answered FALSE), or an answer asking us to come back later.
 *
 * The whole queue pauses (backoff over the consecutive failures, or the
 * Retry-After), so that the entries keep their order while the endpoint is
 * away.  An entry the endpoint answered with an error gets a wait of its own
 * growing with its attempts, and after three such answers in a row another
 * entry is tried first (see schedule()): one object the endpoint keeps
 * refusing with 5xx does not hold the queue. */
static void
transient_failure (LbUploader * self, const gchar * reason,
    gint64 retry_after_ns, gboolean answered)
{
  Current *cur = self->cur;
  g_autoptr (GError) error = NULL;
  gint64 now = now_ns ();
  gdouble jitter = g_random_double ();

  self->failures++;
  gint64 pause = lb_upload_backoff (self->backoff_min_ns, self->backoff_max_ns,
      self->failures, jitter);
  gint64 wait =
      answered ? lb_upload_backoff (self->backoff_min_ns, self->backoff_max_ns,
      MAX (self->failures, (guint) cur->entry->attempts + 1), jitter) : pause;
  if (retry_after_ns >= 0)
    pause = wait = MAX (retry_after_ns, self->backoff_min_ns);
  self->pause_until_ns = now + pause;
  self->last_failed_id = cur->entry->id;
  self->last_failed_answered = answered;

  count_failure (cur);
  /* One line when uploads start failing; the recovery has its own. */
  if (self->failures == 1) {
    g_autofree gchar *max = lb_time_format_duration (self->backoff_max_ns);
    lb_log (LB_LOG_WARNING, ENTRY_CTX (cur->entry), "upload failed: %s; "
        "uploads are retried with a backoff of up to %s", reason, max);
  }
  GST_WARNING ("upload %" G_GINT64_FORMAT
      " (%s %s): %s; retrying in %.3f s (failure %u)", cur->entry->id,
      cur->entry->retrieval_id, cur->entry->input, reason, wait / 1e9,
      self->failures);
  set_last_error (self, reason);
  if (!lb_store_upload_retry_later (self->store, cur->entry->id, now + wait,
          reason, &error))
    lb_log (LB_LOG_ERROR, ENTRY_CTX (cur->entry), "cannot record the upload's "
        "retry: %s", error->message);
  finish_current (self);
}

/* Refused for good (or the file cannot be read): the retrieval fails. */
static void
permanent_failure (LbUploader * self, LbUploadEntry * entry,
    const gchar * reason)
{
  g_autoptr (GError) error = NULL;

  count_failure (self->cur);
  lb_log (LB_LOG_ERROR, ENTRY_CTX (entry), "upload refused for good, the "
      "retrieval fails: %s", reason);
  set_last_error (self, reason);
  if (!lb_store_upload_fail (self->store, entry->id, now_ns (), reason, &error))
    lb_log (LB_LOG_ERROR, ENTRY_CTX (entry), "cannot record the failed "
        "upload: %s", error->message);
  else if (entry->retrieval_row)
    lb_job_metrics_ended (entry->media_type, "failed");
}

static void
upload_succeeded (LbUploader * self)
{
  Current *cur = self->cur;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *public_url = NULL;

  if (self->public_template)
    public_url = entry_url (self->public_template, cur->entry, NULL);
  if (self->failures > 0)
    lb_log (LB_LOG_INFO, ENTRY_CTX (cur->entry), "uploads recovered: the "
        "cloud endpoint took an upload after %u failures", self->failures);
  self->failures = 0;
  self->pause_until_ns = 0;
  if (!lb_store_upload_done (self->store, cur->entry->id, now_ns (), cur->size,
          cur->sha256, public_url, &error)) {
    /* The bytes are there; the entry stays waiting and is uploaded again
     * (same object, same bytes) once the store answers. */
    lb_log (LB_LOG_ERROR, ENTRY_CTX (cur->entry), "cannot record the upload; "
        "it is uploaded again: %s", error->message);
    self->pause_until_ns = now_ns () + self->backoff_min_ns;
  } else {
    lb_log (LB_LOG_INFO, ENTRY_CTX (cur->entry), "%s uploaded (%"
        G_GINT64_FORMAT " bytes)",
        lb_media_type_to_string (cur->entry->media_type), cur->size);
    count_uploaded (cur->size);
    if (cur->entry->retrieval_row)
      lb_job_metrics_ended (cur->entry->media_type, "available");
  }
  finish_current (self);
}

static void
answered (LbUploader * self, gsize excerpt_len)
{
  Current *cur = self->cur;
  guint status = soup_message_get_status (cur->msg);

  if (SOUP_STATUS_IS_SUCCESSFUL (status)) {
    upload_succeeded (self);
    return;
  }
  g_autofree gchar *body = excerpt (cur->excerpt, excerpt_len);
  const gchar *phrase = soup_message_get_reason_phrase (cur->msg);
  g_autofree gchar *reason =
      g_strdup_printf ("cloud endpoint answered HTTP %u%s%s%s%s",
      status, phrase
      && *phrase ? " " : "", phrase ? phrase : "", *body ? ": " : "", body);

  if (status == SOUP_STATUS_REQUEST_TIMEOUT || status == 429 || status >= 500) {
    gint64 retry_after = -1;
    const gchar *ra =
        soup_message_headers_get_one (soup_message_get_response_headers
        (cur->msg), "Retry-After");
    if (!lb_upload_parse_retry_after (ra, now_ns (), &retry_after))
      retry_after = -1;
    transient_failure (self, reason, retry_after, TRUE);
    return;
  }
  self->failures = 0;
  self->pause_until_ns = 0;
  permanent_failure (self, cur->entry, reason);
  finish_current (self);
}

static void
excerpt_read_cb (GObject * source, GAsyncResult * res, gpointer data)
{
  LbUploader *self = data;
  gsize n = 0;
  g_autoptr (GError) error = NULL;

  if (!g_input_stream_read_all_finish (G_INPUT_STREAM (source), res, &n, &error)
      && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)
      && is_stopping (self)) {
    finish_current (self);
    return;
  }
  answered (self, n);
}

static void
sent_cb (GObject * source, GAsyncResult * res, gpointer data)
{
  LbUploader *self = data;
  Current *cur = self->cur;
  g_autoptr (GError) error = NULL;

  cur->response = soup_session_send_finish (SOUP_SESSION (source), res, &error);
  if (cur->connect_timer) {
    g_source_destroy (cur->connect_timer);
    g_clear_pointer (&cur->connect_timer, g_source_unref);
  }
  if (cur->response == NULL) {
    if (is_stopping (self)) {
      GST_INFO ("upload %" G_GINT64_FORMAT
          " interrupted by stop; it stays queued", cur->entry->id);
      finish_current (self);
      return;
    }
    g_autofree gchar *reason = cur->connect_timed_out
        ?
        g_strdup_printf
        ("cloud endpoint unreachable: no connection within %.1f s",
        self->connect_timeout_ns / 1e9)
        : g_strdup_printf ("cloud endpoint unreachable: %s", error->message);
    transient_failure (self, reason, -1, FALSE);
    return;
  }
  if (SOUP_STATUS_IS_SUCCESSFUL (soup_message_get_status (cur->msg))) {
    answered (self, 0);
    return;
  }
  g_input_stream_read_all_async (cur->response, cur->excerpt,
      sizeof cur->excerpt, G_PRIORITY_DEFAULT, cur->cancel, excerpt_read_cb,
      self);
}

static gboolean
connect_timeout_cb (gpointer data)
{
  Current *cur = data;
  GST_DEBUG ("upload %" G_GINT64_FORMAT ": connect timeout", cur->entry->id);
  cur->connect_timed_out = TRUE;
  g_clear_pointer (&cur->connect_timer, g_source_unref);
  g_cancellable_cancel (cur->cancel);
  return G_SOURCE_REMOVE;
}

/* Once connected (or reusing a connection), the connect timer is over; the
 * session's I/O timeout takes over. */
static void
stop_connect_timer (Current * cur)
{
  if (cur->connect_timer) {
    g_source_destroy (cur->connect_timer);
    g_clear_pointer (&cur->connect_timer, g_source_unref);
  }
}

static void
network_event_cb (SoupMessage * msg, GSocketClientEvent event, GIOStream * conn,
    gpointer data)
{
  if (event == G_SOCKET_CLIENT_CONNECTED || event == G_SOCKET_CLIENT_COMPLETE)
    stop_connect_timer (data);
}

static void
wrote_headers_cb (SoupMessage * msg, gpointer data)
{
  stop_connect_timer (data);
}

/* SHA-256 of the file, read in blocks (the uploader's own thread). */
static gchar *
hash_file (GFile * file, GCancellable * cancel, GError ** error)
{
  g_autoptr (GFileInputStream) in = g_file_read (file, cancel, error);
  if (in == NULL)
    return NULL;
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree guint8 *buf = g_malloc (HASH_BUFFER);
  for (;;) {
    gssize n =
        g_input_stream_read (G_INPUT_STREAM (in), buf, HASH_BUFFER, cancel,
        error);
    if (n < 0)
      return NULL;
    if (n == 0)
      break;
    g_checksum_update (sum, buf, n);
  }
  return g_strdup (g_checksum_get_string (sum));
}

static void
start_upload (LbUploader * self, LbUploadEntry * entry)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *filename = entry_file (self, entry);
  g_autoptr (GFile) file = g_file_new_for_path (filename);

  g_autoptr (GFileInfo) info =
      g_file_query_info (file, G_FILE_ATTRIBUTE_STANDARD_SIZE,
      G_FILE_QUERY_INFO_NONE, NULL, &error);
  if (info == NULL) {
    g_autofree gchar *reason =
        g_strdup_printf ("output file %s cannot be read: %s",
        filename, error->message);
    permanent_failure (self, entry, reason);
    lb_upload_entry_free (entry);
    finish_current (self);
    return;
  }

  Current *cur = g_new0 (Current, 1);
  cur->entry = entry;
  cur->size = g_file_info_get_size (info);
  cur->cancel = g_cancellable_new ();
  self->cur = cur;
  g_mutex_lock (&self->lock);
  self->uploading = TRUE;
  g_mutex_unlock (&self->lock);

  cur->sha256 = hash_file (file, self->stop_cancel, &error);
  g_autoptr (GFileInputStream) body = cur->sha256
      ? g_file_read (file, self->stop_cancel, &error) : NULL;
  if (body == NULL) {
    if (is_stopping (self)) {
      finish_current (self);
      return;
    }
    g_autofree gchar *reason =
        g_strdup_printf ("output file %s cannot be read: %s",
        filename, error->message);
    permanent_failure (self, entry, reason);
    finish_current (self);
    return;
  }

  g_autofree gchar *url = entry_url (self->url_template, entry, &error);
  cur->msg = url ? soup_message_new ("PUT", url) : NULL;
  if (cur->msg == NULL) {
    g_autofree gchar *reason = g_strdup_printf ("cannot make an upload URL: %s",
        error ? error->message : url);
    permanent_failure (self, entry, reason);
    finish_current (self);
    return;
  }

  g_autofree gchar *ext = path_ext (entry->path);
  SoupMessageHeaders *hdrs = soup_message_get_request_headers (cur->msg);
  for (guint i = 0; i < self->header_names->len; i++)
    soup_message_headers_append (hdrs, self->header_names->pdata[i],
        self->header_values->pdata[i]);
  if (self->checksum_header && *self->checksum_header)
    soup_message_headers_replace (hdrs, self->checksum_header, cur->sha256);

  soup_message_set_request_body (cur->msg, lb_upload_content_type (ext),
      G_INPUT_STREAM (body), cur->size);
  g_signal_connect (cur->msg, "network-event", G_CALLBACK (network_event_cb),
      cur);
  g_signal_connect (cur->msg, "wrote-headers", G_CALLBACK (wrote_headers_cb),
      cur);

  cur->connect_timer =
      g_timeout_source_new (MAX (1, self->connect_timeout_ns / LB_NS_PER_MS));
  g_source_set_callback (cur->connect_timer, connect_timeout_cb, cur, NULL);
  g_source_attach (cur->connect_timer, self->context);

  GST_DEBUG ("PUT %s (%" G_GINT64_FORMAT " bytes, sha256 %s), attempt %d", url,
      cur->size, cur->sha256, entry->attempts + 1);
  soup_session_send_async (self->session, cur->msg, G_PRIORITY_DEFAULT,
      cur->cancel, sent_cb, self);
}

/* --------------------------------------------------------------- scheduling */

static void
log_metrics (LbUploader * self)
{
  LbUploadStats st = { 0 };
  g_autoptr (GError) error = NULL;
  if (!lb_uploader_get_stats (self, &st, &error)) {
    GST_WARNING ("upload metrics: %s", error->message);
    return;
  }
  gint64 age = st.oldest_waiting_ns ? now_ns () - st.oldest_waiting_ns : 0;
  GST_INFO ("uploads: %u waiting (oldest %.1f s), %u done, %u failed, %"
      G_GINT64_FORMAT " bytes uploaded, last error: %s", st.queue_length,
      age / 1e9, st.done, st.failed, st.bytes_uploaded,
      st.last_error ? st.last_error : "none");
  lb_upload_stats_clear (&st);
}

static gboolean
timer_cb (gpointer data)
{
  LbUploader *self = data;
  g_clear_pointer (&self->timer, g_source_unref);
  schedule (self);
  return G_SOURCE_REMOVE;
}

static void
arm_timer (LbUploader * self, gint64 delay_ns)
{
  if (self->timer) {
    g_source_destroy (self->timer);
    g_clear_pointer (&self->timer, g_source_unref);
  }
  guint ms =
      (guint) CLAMP ((delay_ns + LB_NS_PER_MS - 1) / LB_NS_PER_MS, 1, G_MAXINT);
  self->timer = g_timeout_source_new (ms);
  g_source_set_callback (self->timer, timer_cb, self, NULL);
  g_source_attach (self->timer, self->context);
}

static void
schedule (LbUploader * self)
{
  g_autoptr (GError) error = NULL;

  if (self->cur || is_stopping (self))
    return;

  gint64 now = now_ns ();
  if (now >= self->next_sweep_ns) {
    guint deleted = 0;
    if (!lb_uploader_sweep (self, now, &deleted, &error)) {
      GST_WARNING ("sweep: %s", error->message);
      g_clear_error (&error);
    }
    self->next_sweep_ns =
        now + CLAMP (self->keep_ns, LB_NS_PER_SEC, SWEEP_INTERVAL_NS);
  }
  if (now >= self->next_log_ns) {
    log_metrics (self);
    self->next_log_ns = now + LOG_INTERVAL_NS;
  }
  gint64 wake = MIN (self->next_sweep_ns, self->next_log_ns);

  if (self->pause_until_ns > now) {
    GST_LOG ("paused for %.3f s", (self->pause_until_ns - now) / 1e9);
    arm_timer (self, MIN (self->pause_until_ns, wake) - now);
    return;
  }

  LbUploadEntry *entry = NULL;
  gint64 next = 0;
  if (!lb_store_upload_next (self->store, now, 0, &entry, &next, &error)) {
    GST_WARNING ("reading the journal: %s", error->message);
    set_last_error (self, error->message);
    arm_timer (self, MAX (self->backoff_min_ns, LB_NS_PER_SEC));
    return;
  }
  if (entry && entry->id == self->last_failed_id && self->last_failed_answered
      && self->failures >= 3) {
    /* The endpoint keeps refusing this one: try another first. */
    LbUploadEntry *other = NULL;
    if (lb_store_upload_next (self->store, now, entry->id, &other, NULL, NULL)
        && other) {
      GST_INFO ("upload %" G_GINT64_FORMAT
          " refused %u times in a row; trying %" G_GINT64_FORMAT " first",
          entry->id, self->failures, other->id);
      lb_upload_entry_free (entry);
      entry = other;
    }
  }
  if (entry) {
    start_upload (self, entry);
    return;
  }
  wake = MIN (wake, now + POLL_INTERVAL_NS);
  if (next)
    wake = MIN (wake, next);
  arm_timer (self, wake - now);
}

static gpointer
thread_main (gpointer data)
{
  LbUploader *self = data;

  g_main_context_push_thread_default (self->context);
  guint timeout_s =
      (guint) MAX (1, (self->timeout_ns + LB_NS_PER_SEC - 1) / LB_NS_PER_SEC);
  self->session =
      soup_session_new_with_options ("timeout", timeout_s, "idle-timeout", 30,
      "max-conns-per-host", 2, "user-agent", "lookback/" VERSION " ", NULL);

  /* A restart probes the endpoint at once, in order. */
  g_autoptr (GError) error = NULL;
  guint reset = 0;
  if (!lb_store_upload_reset_waits (self->store, now_ns (), &reset, &error))
    GST_WARNING ("%s", error->message);
  else if (reset)
    GST_INFO ("%u waiting uploads are due now", reset);

  GSource *idle = g_idle_source_new ();
  g_source_set_callback (idle, schedule_cb, self, NULL);
  g_source_attach (idle, self->context);
  g_source_unref (idle);

  g_main_loop_run (self->loop);

  /* Stopping: let a cancelled upload call back, then drop the session. */
  if (self->cur)
    g_cancellable_cancel (self->cur->cancel);
  while (self->cur)
    g_main_context_iteration (self->context, TRUE);
  if (self->timer) {
    g_source_destroy (self->timer);
    g_clear_pointer (&self->timer, g_source_unref);
  }
  soup_session_abort (self->session);
  g_clear_object (&self->session);
  while (g_main_context_iteration (self->context, FALSE));
  g_main_context_pop_thread_default (self->context);
  return NULL;
}

/* The journal's queue, for GET /metrics (on the rendering thread; reads
 * the store). */
static void
collect_metrics (gpointer data)
{
  LbUploader *self = data;
  LbUploadCounts c;

  if (!lb_store_upload_counts (self->store, &c, NULL))
    return;
  lb_metric_set (lb_metrics_gauge ("lookback_upload_queue_length",
          "Uploads waiting in the journal", NULL), NULL, c.waiting);
  lb_metric_set (lb_metrics_gauge ("lookback_upload_oldest_age_seconds",
          "Age of the oldest waiting upload (0 when none waits)", NULL), NULL,
      c.waiting ? (now_ns () - c.oldest_waiting_ns) / 1e9 : 0);
}

gboolean
lb_uploader_start (LbUploader * self, GError ** error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (self->thread == NULL, FALSE);

  g_mutex_lock (&self->lock);
  self->stopping = FALSE;
  g_mutex_unlock (&self->lock);
  g_cancellable_reset (self->stop_cancel);
  self->pause_until_ns = 0;
  self->failures = 0;
  self->last_failed_id = 0;
  self->next_sweep_ns = self->next_log_ns = 0;
  self->thread = g_thread_try_new ("lb-uploader", thread_main, self, error);
  if (self->thread == NULL) {
    g_prefix_error (error, "starting the uploader: ");
    return FALSE;
  }
  /* every series from 0, so that rates work before the first event */
  count_uploaded (0);
  for (guint i = 0; i < G_N_ELEMENTS (failure_classes); i++)
    count_failures (failure_classes[i], 0);
  lb_metrics_add_collector (collect_metrics, self);
  return TRUE;
}

void
lb_uploader_poke (LbUploader * self)
{
  g_return_if_fail (self != NULL);
  GSource *idle = g_idle_source_new ();
  g_source_set_callback (idle, schedule_cb, self, NULL);
  g_source_attach (idle, self->context);
  g_source_unref (idle);
}

static gboolean
stop_cb (gpointer data)
{
  LbUploader *self = data;
  if (self->cur)
    g_cancellable_cancel (self->cur->cancel);
  g_main_loop_quit (self->loop);
  return G_SOURCE_REMOVE;
}

void
lb_uploader_stop (LbUploader * self)
{
  g_return_if_fail (self != NULL);

  if (self->thread == NULL)
    return;
  lb_metrics_remove_collector (collect_metrics, self);
  g_mutex_lock (&self->lock);
  self->stopping = TRUE;
  g_mutex_unlock (&self->lock);
  g_cancellable_cancel (self->stop_cancel);
  GSource *s = g_idle_source_new ();
  g_source_set_priority (s, G_PRIORITY_HIGH);
  g_source_set_callback (s, stop_cb, self, NULL);
  g_source_attach (s, self->context);
  g_source_unref (s);
  g_thread_join (self->thread);
  self->thread = NULL;
  GST_INFO ("uploader stopped");
}

void
lb_uploader_free (LbUploader * self)
{
  if (self == NULL)
    return;
  lb_uploader_stop (self);
  g_clear_pointer (&self->loop, g_main_loop_unref);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_clear_object (&self->stop_cancel);
  g_clear_pointer (&self->header_names, g_ptr_array_unref);
  g_clear_pointer (&self->header_values, g_ptr_array_unref);
  g_free (self->url_template);
  g_free (self->public_template);
  g_free (self->checksum_header);
  g_free (self->last_error);
  g_mutex_clear (&self->lock);
  g_free (self);
}

/* ------------------------------------------------------- metrics and sweep */

gboolean
lb_uploader_get_stats (LbUploader * self, LbUploadStats * out, GError ** error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  LbUploadCounts counts;
  memset (out, 0, sizeof *out);
  if (!lb_store_upload_counts (self->store, &counts, error))
    return FALSE;
  out->queue_length = counts.waiting;
  out->oldest_waiting_ns = counts.oldest_waiting_ns;
  out->bytes_uploaded = counts.bytes_uploaded;
  out->done = counts.done;
  out->failed = counts.failed;
  g_mutex_lock (&self->lock);
  out->uploading = self->uploading;
  out->last_error = g_strdup (self->last_error);
  out->last_error_ns = self->last_error_ns;
  g_mutex_unlock (&self->lock);
  return TRUE;
}

void
lb_upload_health_json (JsonBuilder * b, gpointer uploader)
{
  g_return_if_fail (b != NULL && uploader != NULL);

  LbUploadStats st;
  g_autoptr (GError) error = NULL;
  if (!lb_uploader_get_stats (uploader, &st, &error)) {
    json_builder_set_member_name (b, "error");
    json_builder_add_string_value (b, error->message);
    return;
  }
  json_builder_set_member_name (b, "waiting");
  json_builder_add_int_value (b, st.queue_length);
  json_builder_set_member_name (b, "oldestWaitingSeconds");
  if (st.oldest_waiting_ns)
    json_builder_add_double_value (b, MAX (0,
            now_ns () - st.oldest_waiting_ns) / 1e9);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "bytesUploaded");
  json_builder_add_int_value (b, st.bytes_uploaded);
  json_builder_set_member_name (b, "done");
  json_builder_add_int_value (b, st.done);
  json_builder_set_member_name (b, "failed");
  json_builder_add_int_value (b, st.failed);
  json_builder_set_member_name (b, "uploading");
  json_builder_add_boolean_value (b, st.uploading);
  json_builder_set_member_name (b, "lastError");
  if (st.last_error)
    json_builder_add_string_value (b, st.last_error);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "lastErrorTime");
  if (st.last_error_ns) {
    g_autofree gchar *t = lb_time_format_rfc3339 (st.last_error_ns);
    json_builder_add_string_value (b, t);
  } else {
    json_builder_add_null_value (b);
  }
  lb_upload_stats_clear (&st);
}

void
lb_upload_stats_clear (LbUploadStats * stats)
{
  if (stats)
    g_clear_pointer (&stats->last_error, g_free);
}

gboolean
lb_uploader_sweep (LbUploader * self, gint64 now, guint * out_deleted,
    GError ** error)
{
  g_return_val_if_fail (self != NULL, FALSE);

  guint deleted = 0;
  g_autoptr (GPtrArray) expired =
      lb_store_upload_expired (self->store, now - self->keep_ns, error);
  if (expired == NULL)
    return FALSE;
  for (guint i = 0; i < expired->len; i++) {
    LbUploadEntry *e = expired->pdata[i];
    g_autofree gchar *filename = entry_file (self, e);
    if (g_unlink (filename) != 0 && errno != ENOENT) {
      GST_WARNING ("cannot delete uploaded output %s: %s", filename,
          g_strerror (errno));
      continue;
    }
    if (!lb_store_upload_mark_deleted (self->store, e->id, error))
      return FALSE;
    GST_DEBUG ("deleted uploaded output %s", filename);
    deleted++;
  }
  if (out_deleted)
    *out_deleted = deleted;
  return TRUE;
}

/* ------------------------------------------------------------ job handover */

gboolean
lb_upload_finish_job (LbConfig * config, LbStore * store,
    LbUploader * uploader, const LbUploadJob * job, gint64 now, GError ** error)
{
  g_return_val_if_fail (config != NULL, FALSE);
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (job != NULL && job->retrieval_row > 0
      && job->path != NULL, FALSE);

  LB_DEBUG_INIT (lb_upload_debug, "lookback-upload", "lookback uploader");
  if (!lb_uploader_enabled (config))
    return lb_store_api_finish_available (store, job->retrieval_row, job->path,
        job->content_type, job->delivered_start_ns, job->delivered_end_ns,
        job->coverage, now, job->cost, error);

  if (!lb_store_upload_enqueue (store, job, now, NULL, error))
    return FALSE;
  if (uploader)
    lb_uploader_poke (uploader);
  return TRUE;
}

gboolean
lb_upload_release_if_disabled (LbConfig * config, LbStore * store,
    guint * out_count, GError ** error)
{
  g_return_val_if_fail (config != NULL && store != NULL, FALSE);
  if (out_count)
    *out_count = 0;
  if (lb_uploader_enabled (config))
    return TRUE;
  return lb_store_upload_release_waiting (store, now_ns (), out_count, error);
}
