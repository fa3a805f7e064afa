/* lookback — [upload] and [webhook]: what each protocol needs, checked at
 * start (see lb-upload-private.h) */
#include "upload/lb-upload-private.h"
#include "core/lb-error.h"

#include <string.h>

#define SECRET_MAX  4096        /* bytes of a secret file read */

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

static gchar *
nonempty (LbConfig * config, const gchar * group, const gchar * key)
{
  const gchar *v = lb_config_get_string (config, group, key);
  return v && *v ? g_strdup (v) : NULL;
}

/* An http(s) URL template, checked with sample values. */
static gboolean
check_template (LbConfig * config, const gchar * group, const gchar * key,
    const gchar * tmpl, GError ** error)
{
  g_autofree gchar *url = lb_upload_expand_template (tmpl, "v", "r", "i", "m",
      "e", error);
  if (url == NULL) {
    g_prefix_error (error, "%s: [%s] %s: ", lb_config_get_source_name (config),
        group, key);
    return FALSE;
  }
  g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  const gchar *scheme = uri ? g_uri_get_scheme (uri) : NULL;
  if (uri == NULL || g_uri_get_host (uri) == NULL
      || *g_uri_get_host (uri) == '\0'
      || (g_ascii_strcasecmp (scheme, "http") != 0
          && g_ascii_strcasecmp (scheme, "https") != 0)) {
    g_set_error (error, LB_ERROR, LB_ERROR_CONFIG,
        "%s: [%s] %s: '%s' is not an http:// or https:// URL",
        lb_config_get_source_name (config), group, key, tmpl);
    return FALSE;
  }
  return TRUE;
}

/* A secret from @file_key (a file, trailing white space dropped) or, when
 * @value_key is not NULL, from that key itself. */
static gchar *
read_secret (LbConfig * config, const gchar * group, const gchar * file_key,
    const gchar * value_key, GError ** error)
{
  g_autofree gchar *file = nonempty (config, group, file_key);
  if (file == NULL)
    return value_key ? nonempty (config, group, value_key) : NULL;
  gchar *text = NULL;
  gsize len = 0;
  g_autoptr (GError) err = NULL;
  if (!g_file_get_contents (file, &text, &len, &err) || len > SECRET_MAX) {
    g_set_error (error, LB_ERROR, LB_ERROR_CONFIG, "%s: [%s] %s: %s",
        lb_config_get_source_name (config), group, file_key,
        err ? err->message : "more than 4 KiB");
    g_free (text);
    return NULL;
  }
  return g_strchomp (text);
}

static gboolean
load_headers (LbUploadSettings * s, LbConfig * config, GError ** error)
{
  s->header_names = g_ptr_array_new_with_free_func (g_free);
  s->header_values = g_ptr_array_new_with_free_func (g_free);
  g_auto (GStrv) keys = lb_config_get_keys (config, "upload-headers");
  for (guint i = 0; keys[i]; i++) {
    g_autofree gchar *value =
        lb_config_get_free_string (config, "upload-headers", keys[i]);
    if (value == NULL || !header_name_is_valid (keys[i])
        || strpbrk (value, "\r\n")) {
      g_set_error (error, LB_ERROR, LB_ERROR_CONFIG,
          "%s: [upload-headers] %s: not a valid HTTP header",
          lb_config_get_source_name (config), keys[i]);
      return FALSE;
    }
    g_ptr_array_add (s->header_names, g_strdup (keys[i]));
    g_ptr_array_add (s->header_values, g_steal_pointer (&value));
  }
  if (s->checksum_header && !header_name_is_valid (s->checksum_header)) {
    g_set_error (error, LB_ERROR, LB_ERROR_CONFIG,
        "%s: [upload] checksum-header: '%s' is not a valid header name",
        lb_config_get_source_name (config), s->checksum_header);
    return FALSE;
  }
  return TRUE;
}

static gboolean
load_s3 (LbUploadSettings * s, LbConfig * config, GError ** error)
{
  const gchar *src = lb_config_get_source_name (config);
  s->s3_endpoint = nonempty (config, "upload", "s3-endpoint");
  s->s3_bucket = nonempty (config, "upload", "s3-bucket");
  s->s3_path_style = lb_config_get_bool (config, "upload", "s3-path-style");
  s->s3_key.access_key_id = nonempty (config, "upload", "s3-access-key-id");
  s->s3_key.region = nonempty (config, "upload", "s3-region");
  s->s3_key.service = g_strdup ("s3");
  if (s->s3_endpoint == NULL || s->s3_bucket == NULL
      || s->s3_key.access_key_id == NULL || s->s3_key.region == NULL) {
    g_set_error (error, LB_ERROR, LB_ERROR_CONFIG, "%s: [upload] protocol=s3 "
        "needs s3-endpoint, s3-bucket, s3-region and s3-access-key-id", src);
    return FALSE;
  }
  while (g_str_has_suffix (s->s3_endpoint, "/"))
    s->s3_endpoint[strlen (s->s3_endpoint) - 1] = '\0';
  if (!check_template (config, "upload", "s3-endpoint", s->s3_endpoint, error))
    return FALSE;
  GError *err = NULL;
  s->s3_key.secret_access_key = read_secret (config, "upload",
      "s3-secret-access-key-file", "s3-secret-access-key", &err);
  if (s->s3_key.secret_access_key == NULL) {
    if (err == NULL)
      g_set_error (&err, LB_ERROR, LB_ERROR_CONFIG, "%s: [upload] protocol=s3 "
          "needs s3-secret-access-key-file (or s3-secret-access-key)", src);
    g_propagate_error (error, err);
    return FALSE;
  }
  s->s3_key.session_token = read_secret (config, "upload",
      "s3-session-token-file", NULL, &err);
  if (err) {
    g_propagate_error (error, err);
    return FALSE;
  }
  return TRUE;
}

static gboolean
load_webhook (LbUploadSettings * s, LbConfig * config, GError ** error)
{
  s->url_template = nonempty (config, "webhook", "url");
  if (s->url_template == NULL) {
    g_set_error (error, LB_ERROR, LB_ERROR_CONFIG, "%s: [webhook] url is "
        "empty", lb_config_get_source_name (config));
    return FALSE;
  }
  if (strchr (s->url_template, '{') || !check_template (config, "webhook",
          "url", s->url_template, error)) {
    if (error && *error == NULL)
      g_set_error (error, LB_ERROR, LB_ERROR_CONFIG, "%s: [webhook] url: "
          "placeholders have no meaning here",
          lb_config_get_source_name (config));
    return FALSE;
  }
  GError *err = NULL;
  g_autofree gchar *secret = read_secret (config, "webhook", "secret-file",
      NULL, &err);
  if (secret == NULL || *secret == '\0') {
    if (err == NULL)
      g_set_error (&err, LB_ERROR, LB_ERROR_CONFIG, "%s: [webhook] "
          "secret-file is needed (the key of the events' signatures)",
          lb_config_get_source_name (config));
    g_propagate_error (error, err);
    return FALSE;
  }
  gsize len = strlen (secret);
  s->webhook_secret = g_bytes_new_take (g_steal_pointer (&secret), len);
  s->webhook_deadline_ns = lb_config_get_duration (config, "webhook",
      "deadline");
  s->connect_timeout_ns = lb_config_get_duration (config, "upload",
      "connect-timeout");
  return TRUE;
}

gboolean
lb_upload_settings_load (LbUploadSettings * s, LbConfig * config,
    LbUploadKind kind, LbDeliverFunc * out_deliver, GError ** error)
{
  memset (s, 0, sizeof *s);
  if (kind == LB_UPLOAD_KIND_WEBHOOK) {
    *out_deliver = lb_upload_webhook_deliver;
    return load_webhook (s, config, error);
  }
  const gchar *protocol = lb_config_get_string (config, "upload", "protocol");
  s->url_template = nonempty (config, "upload", "url-template");
  s->public_template = nonempty (config, "upload", "public-url-template");
  s->key_template = nonempty (config, "upload", "key-template");
  s->checksum_header = nonempty (config, "upload", "checksum-header");
  s->connect_timeout_ns = lb_config_get_duration (config, "upload",
      "connect-timeout");
  s->part_size = lb_config_get_size (config, "upload",
      g_str_equal (protocol, "tus") ? "tus-chunk-size" : "s3-part-size");
  if (!load_headers (s, config, error))
    return FALSE;
  if (g_str_equal (protocol, "s3")) {
    *out_deliver = lb_upload_s3_deliver;
    if (!load_s3 (s, config, error))
      return FALSE;
  } else {
    *out_deliver = g_str_equal (protocol, "tus") ? lb_upload_tus_deliver
        : lb_upload_put_deliver;
    if (s->url_template == NULL) {
      g_set_error (error, LB_ERROR, LB_ERROR_CONFIG,
          "%s: [upload] url-template is empty: nothing to upload to",
          lb_config_get_source_name (config));
      return FALSE;
    }
    if (!check_template (config, "upload", "url-template", s->url_template,
            error))
      return FALSE;
  }
  if (s->public_template && !check_template (config, "upload",
          "public-url-template", s->public_template, error))
    return FALSE;
  g_autofree gchar *key = lb_upload_expand_template (s->key_template, "v", "r",
      "i", "m", "e", error);
  if (key == NULL) {
    g_prefix_error (error, "%s: [upload] key-template: ",
        lb_config_get_source_name (config));
    return FALSE;
  }
  return TRUE;
}

void
lb_upload_settings_clear (LbUploadSettings * s)
{
  g_clear_pointer (&s->url_template, g_free);
  g_clear_pointer (&s->public_template, g_free);
  g_clear_pointer (&s->key_template, g_free);
  g_clear_pointer (&s->checksum_header, g_free);
  g_clear_pointer (&s->header_names, g_ptr_array_unref);
  g_clear_pointer (&s->header_values, g_ptr_array_unref);
  g_clear_pointer (&s->s3_endpoint, g_free);
  g_clear_pointer (&s->s3_bucket, g_free);
  g_free ((gchar *) s->s3_key.access_key_id);
  g_free ((gchar *) s->s3_key.secret_access_key);
  g_free ((gchar *) s->s3_key.session_token);
  g_free ((gchar *) s->s3_key.region);
  g_free ((gchar *) s->s3_key.service);
  memset (&s->s3_key, 0, sizeof s->s3_key);
  g_clear_pointer (&s->webhook_secret, g_bytes_unref);
}
