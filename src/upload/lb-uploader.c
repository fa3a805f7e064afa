/* lookback — the uploader (see lb-uploader.h) */
#include "upload/lb-uploader.h"
#include "upload/lb-upload-private.h"
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

/* The delivery in flight (uploader thread only; its delivery thread owns
 * d until it reports back). */
typedef struct
{
  LbDelivery d;
  GThread *thread;
} Current;

struct _LbUploader
{
  LbConfig *config;             /* not owned */
  LbStore *store;               /* not owned */

  LbUploadKind kind;            /* the queue it drains */
  LbDeliverFunc deliver;        /* its protocol */
  LbUploadSettings set;
  gint64 timeout_ns;
  gint64 backoff_min_ns;
  gint64 backoff_max_ns;
  gint64 keep_ns;
  LbRateLimiter *rate;          /* [upload] max-rate; NULL: none */
  gssize bytes_sent;            /* atomic */
  LbMediaUrls urls;             /* webhooks: how urlInfo is written */
  gchar *urls_base;
  GBytes *urls_key;

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

/* lookback_upload_failures_total{class} of the delivery @d (media only:
 * webhook events are not uploads): local (no request made: the file, the
 * URL), unreachable (no answer to the last request), http_429, http_5xx,
 * http_4xx (any other answer). */
static void
count_failure (LbUploader * self, const LbDelivery * d)
{
  if (self->kind != LB_UPLOAD_KIND_MEDIA)
    return;
  count_failures (!d->requested ? failure_classes[0]
      : d->status == 0 ? failure_classes[1]
      : d->status == 429 ? failure_classes[2]
      : d->status >= 500 ? failure_classes[3] : failure_classes[4], 1);
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
  if (g_str_equal (lb_config_get_string (config, "upload", "protocol"), "s3"))
    return TRUE;
  const gchar *t = lb_config_get_string (config, "upload", "url-template");
  return t != NULL && *t != '\0';
}

gboolean
lb_webhooks_enabled (LbConfig * config)
{
  g_return_val_if_fail (config != NULL, FALSE);
  const gchar *u = lb_config_get_string (config, "webhook", "url");
  return u != NULL && *u != '\0';
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

/* The extension of @path without the dot, or "". */
static gchar *
path_ext (const gchar * path)
{
  g_autofree gchar *base = g_path_get_basename (path);
  const gchar *dot = strrchr (base, '.');
  return g_strdup (dot && dot != base ? dot + 1 : "");
}

gchar *
lb_upload_entry_expand (const gchar * tmpl, const LbUploadEntry * e,
    GError ** error)
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

static LbUploader *
uploader_new (LbConfig * config, LbStore * store, LbUploadKind kind,
    GError ** error)
{
  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (store != NULL, NULL);

  LB_DEBUG_INIT (lb_upload_debug, "lookback-upload", "lookback uploader");

  const gchar *group = kind == LB_UPLOAD_KIND_MEDIA ? "upload" : "webhook";
  g_autoptr (LbUploader) self = g_new0 (LbUploader, 1);
  g_mutex_init (&self->lock);
  self->config = config;
  self->store = store;
  self->kind = kind;
  if (!lb_upload_settings_load (&self->set, config, kind, &self->deliver,
          error))
    return NULL;
  self->timeout_ns = lb_config_get_duration (config, group, "timeout");
  self->backoff_min_ns = lb_config_get_duration (config, group, "backoff-min");
  self->backoff_max_ns =
      MAX (self->backoff_min_ns, lb_config_get_duration (config, group,
          "backoff-max"));
  self->keep_ns = lb_config_get_duration (config, "upload", "keep");
  gint64 max_rate = kind == LB_UPLOAD_KIND_MEDIA
      ? lb_config_get_size (config, "upload", "max-rate") : 0;
  if (max_rate > 0)
    self->rate = lb_rate_limiter_new (max_rate, max_rate);

  self->context = g_main_context_new ();
  self->loop = g_main_loop_new (self->context, FALSE);
  self->stop_cancel = g_cancellable_new ();
  return g_steal_pointer (&self);
}

LbUploader *
lb_uploader_new (LbConfig * config, LbStore * store, GError ** error)
{
  LbUploader *self = uploader_new (config, store, LB_UPLOAD_KIND_MEDIA, error);
  if (self)
    lb_log (LB_LOG_INFO, NULL, "uploading with %s to %s",
        lb_config_get_string (config, "upload", "protocol"),
        self->set.s3_endpoint ? self->set.s3_endpoint : self->set.url_template);
  return self;
}

LbUploader *
lb_uploader_new_webhooks (LbConfig * config, LbStore * store, GError ** error)
{
  g_autoptr (LbUploader) self = uploader_new (config, store,
      LB_UPLOAD_KIND_WEBHOOK, error);
  if (self == NULL)
    return NULL;
  /* urlInfo as the API writes it, until the daemon says more */
  self->urls_key = lb_store_api_get_signing_key (store, error);
  if (self->urls_key == NULL)
    return NULL;
  const gchar *pub = lb_config_get_string (config, "server", "public-url");
  self->urls_base = *pub ? g_strdup (pub) : g_strdup_printf ("http://%s",
      lb_config_get_string (config, "server", "listen"));
  self->urls = (LbMediaUrls) {
  self->urls_key, self->urls_base, lb_config_get_duration (config, "jobs",
        "url-ttl"), NULL, NULL};
  self->set.media_urls = &self->urls;
  lb_log (LB_LOG_INFO, NULL, "sending webhooks to %s", self->set.url_template);
  return g_steal_pointer (&self);
}

void
lb_uploader_set_media_urls (LbUploader * self, const gchar * base_url,
    LbMediaPresignFunc presign, gpointer presign_data)
{
  g_return_if_fail (self != NULL && self->thread == NULL);
  if (base_url) {
    g_free (self->urls_base);
    self->urls_base = g_strdup (base_url);
    self->urls.base_url = self->urls_base;
  }
  self->urls.presign = presign;
  self->urls.presign_data = presign_data;
}

const LbUploadSettings *
lb_uploader_settings (LbUploader * self)
{
  return &self->set;
}

LbStore *
lb_uploader_store (LbUploader * self)
{
  return self->store;
}

LbRateLimiter *
lb_uploader_rate (LbUploader * self)
{
  return self->rate;
}

void
lb_uploader_count_sent (LbUploader * self, gsize bytes)
{
  g_atomic_pointer_add (&self->bytes_sent, (gssize) bytes);
}

GMainContext *
lb_uploader_context (LbUploader * self)
{
  return self->context;
}

/* ------------------------------------------------------------------ uploads */

static void
current_free (Current * cur)
{
  if (cur == NULL)
    return;
  g_assert (cur->thread == NULL);
  LbDelivery *d = &cur->d;
  g_clear_pointer (&d->entry, lb_upload_entry_free);
  g_free (d->filename);
  g_clear_object (&d->cancel);
  g_free (d->reason);
  g_free (d->sha256);
  g_free (d->public_url);
  if (d->file) {
    lb_digests_clear (d->file);
    g_free (d->file);
  }
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

static const gchar *
kind_name (LbUploader * self)
{
  return self->kind == LB_UPLOAD_KIND_MEDIA ? "upload" : "webhook event";
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
  LbDelivery *cur = &self->cur->d;
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

  count_failure (self, cur);
  /* One line when deliveries start failing; the recovery has its own. */
  if (self->failures == 1) {
    g_autofree gchar *max = lb_time_format_duration (self->backoff_max_ns);
    lb_log (LB_LOG_WARNING, ENTRY_CTX (cur->entry), "%s failed: %s; %ss "
        "are retried with a backoff of up to %s", kind_name (self), reason,
        kind_name (self), max);
  }
  GST_WARNING ("%s %" G_GINT64_FORMAT
      " (%s %s): %s; retrying in %.3f s (failure %u)", kind_name (self),
      cur->entry->id, cur->entry->retrieval_id, cur->entry->input, reason,
      wait / 1e9, self->failures);
  set_last_error (self, reason);
  if (!lb_store_upload_retry_later (self->store, cur->entry->id, now + wait,
          reason, &error))
    lb_log (LB_LOG_ERROR, ENTRY_CTX (cur->entry), "cannot record the %s's "
        "retry: %s", kind_name (self), error->message);
  finish_current (self);
}

/* Refused for good (or the file cannot be read): the retrieval fails. */
static void
permanent_failure (LbUploader * self, LbUploadEntry * entry,
    const gchar * reason)
{
  g_autoptr (GError) error = NULL;

  count_failure (self, &self->cur->d);
  lb_log (LB_LOG_ERROR, ENTRY_CTX (entry), "%s refused for good, %s: %s",
      kind_name (self), self->kind == LB_UPLOAD_KIND_MEDIA ?
      "the retrieval fails" : "the event is dropped", reason);
  set_last_error (self, reason);
  if (!lb_store_upload_fail (self->store, entry->id, now_ns (), reason, &error))
    lb_log (LB_LOG_ERROR, ENTRY_CTX (entry), "cannot record the failed "
        "%s: %s", kind_name (self), error->message);
  else if (self->kind == LB_UPLOAD_KIND_MEDIA && entry->retrieval_row)
    lb_job_metrics_ended (entry->media_type, "failed");
}

static void
upload_succeeded (LbUploader * self)
{
  LbDelivery *cur = &self->cur->d;
  g_autoptr (GError) error = NULL;
  const gchar *public_url = cur->public_url;

  if (self->failures > 0)
    lb_log (LB_LOG_INFO, ENTRY_CTX (cur->entry), "%ss recovered: the %s "
        "took an %s after %u failures", kind_name (self),
        self->kind == LB_UPLOAD_KIND_MEDIA ? "cloud endpoint" : "receiver",
        self->kind == LB_UPLOAD_KIND_MEDIA ? "upload" : "event",
        self->failures);
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
    if (self->kind == LB_UPLOAD_KIND_WEBHOOK)
      lb_log (LB_LOG_INFO, ENTRY_CTX (cur->entry), "webhook event %s "
          "delivered", cur->entry->event_id);
    else
      lb_log (LB_LOG_INFO, ENTRY_CTX (cur->entry), "%s uploaded (%"
          G_GINT64_FORMAT " bytes)",
          lb_media_type_to_string (cur->entry->media_type), cur->size);
    if (self->kind == LB_UPLOAD_KIND_MEDIA) {
      count_uploaded (cur->size);
      if (cur->entry->retrieval_row)
        lb_job_metrics_ended (cur->entry->media_type, "available");
    }
  }
  finish_current (self);
}

/* Back on the uploader's thread: the delivery thread has reported. */
static gboolean
delivered_cb (gpointer data)
{
  LbUploader *self = data;
  Current *cur = self->cur;
  LbDelivery *d = &cur->d;

  g_thread_join (cur->thread);
  cur->thread = NULL;
  switch (d->result) {
    case LB_DELIVERY_DONE:
      upload_succeeded (self);
      break;
    case LB_DELIVERY_RETRY:
      transient_failure (self, d->reason, d->retry_after_ns, d->answered);
      break;
    case LB_DELIVERY_FAILED:
      self->failures = 0;
      self->pause_until_ns = 0;
      permanent_failure (self, d->entry, d->reason);
      finish_current (self);
      break;
    case LB_DELIVERY_STOPPED:
      GST_INFO ("upload %" G_GINT64_FORMAT
          " interrupted by stop; it stays queued", d->entry->id);
      finish_current (self);
      break;
  }
  return G_SOURCE_REMOVE;
}

/* The delivery thread: the file's size and digests, then the protocol. */
static gpointer
delivery_thread (gpointer data)
{
  LbUploader *self = data;
  LbDelivery *d = &self->cur->d;
  g_autoptr (GError) error = NULL;

  if (self->kind == LB_UPLOAD_KIND_MEDIA) {
    g_autoptr (GFile) file = g_file_new_for_path (d->filename);
    g_autoptr (GFileInfo) info =
        g_file_query_info (file, G_FILE_ATTRIBUTE_STANDARD_SIZE,
        G_FILE_QUERY_INFO_NONE, NULL, &error);
    d->file = g_new0 (LbDigests, 1);
    if (info)
      d->size = g_file_info_get_size (info);
    if (info == NULL || !lb_file_digests (d->filename, 0, d->size, d->cancel,
            d->file, &error)) {
      if (!lb_delivery_stopping (d))
        lb_delivery_fail (d, "output file %s cannot be read: %s",
            d->filename, error->message);
      goto out;
    }
    d->sha256 = g_strdup (d->file->sha256_hex);
  }
  self->deliver (d);
out:;
  GSource *idle = g_idle_source_new ();
  g_source_set_callback (idle, delivered_cb, self, NULL);
  g_source_attach (idle, self->context);
  g_source_unref (idle);
  return NULL;
}

static void
start_upload (LbUploader * self, LbUploadEntry * entry)
{
  g_autoptr (GError) error = NULL;
  Current *cur = g_new0 (Current, 1);
  cur->d.up = self;
  cur->d.entry = entry;
  cur->d.filename = entry_file (self, entry);
  cur->d.cancel = g_cancellable_new ();
  cur->d.session = self->session;
  cur->d.retry_after_ns = -1;
  self->cur = cur;
  g_mutex_lock (&self->lock);
  self->uploading = TRUE;
  g_mutex_unlock (&self->lock);
  GST_DEBUG ("delivering %" G_GINT64_FORMAT " (%s %s), attempt %d", entry->id,
      entry->retrieval_id, entry->input, entry->attempts + 1);
  cur->thread = g_thread_try_new ("lb-upload-io", delivery_thread, self,
      &error);
  if (cur->thread == NULL) {
    lb_delivery_retry (&cur->d, FALSE, -1, "no thread: %s", error->message);
    transient_failure (self, cur->d.reason, -1, FALSE);
  }
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
    if (self->kind == LB_UPLOAD_KIND_MEDIA
        && !lb_uploader_sweep (self, now, &deleted, &error)) {
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
  if (!lb_store_upload_next_kind (self->store, self->kind, now, 0, &entry,
          &next, &error)) {
    GST_WARNING ("reading the journal: %s", error->message);
    set_last_error (self, error->message);
    arm_timer (self, MAX (self->backoff_min_ns, LB_NS_PER_SEC));
    return;
  }
  if (entry && entry->id == self->last_failed_id && self->last_failed_answered
      && self->failures >= 3) {
    /* The endpoint keeps refusing this one: try another first. */
    LbUploadEntry *other = NULL;
    if (lb_store_upload_next_kind (self->store, self->kind, now, entry->id,
            &other, NULL, NULL)
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
    g_cancellable_cancel (self->cur->d.cancel);
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
  /* every series from 0, so that rates work before the first event; the
   * upload metrics are the media queue's */
  if (self->kind == LB_UPLOAD_KIND_MEDIA) {
    count_uploaded (0);
    for (guint i = 0; i < G_N_ELEMENTS (failure_classes); i++)
      count_failures (failure_classes[i], 0);
    lb_metrics_add_collector (collect_metrics, self);
  }
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
    g_cancellable_cancel (self->cur->d.cancel);
  g_main_loop_quit (self->loop);
  return G_SOURCE_REMOVE;
}

void
lb_uploader_stop (LbUploader * self)
{
  g_return_if_fail (self != NULL);

  if (self->thread == NULL)
    return;
  if (self->kind == LB_UPLOAD_KIND_MEDIA)
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
  lb_upload_settings_clear (&self->set);
  lb_rate_limiter_free (self->rate);
  g_free (self->urls_base);
  g_clear_pointer (&self->urls_key, g_bytes_unref);
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
  if (!lb_store_upload_counts_kind (self->store, self->kind, &counts, error))
    return FALSE;
  out->queue_length = counts.waiting;
  out->oldest_waiting_ns = counts.oldest_waiting_ns;
  out->bytes_uploaded = counts.bytes_uploaded;
  out->done = counts.done;
  out->failed = counts.failed;
  out->bytes_sent = (gint64) g_atomic_pointer_get (&self->bytes_sent);
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
