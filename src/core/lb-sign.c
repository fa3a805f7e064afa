/* lookback — signatures and secrets */
#include "core/lb-sign.h"
#include "core/lb-error.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

gboolean
lb_sign_random_bytes (guint8 * buf, gsize len, GError ** error)
{
  g_return_val_if_fail (buf != NULL || len == 0, FALSE);

  gsize done = 0;
  while (done < len) {
    gssize n = getrandom (buf + done, len - done, 0);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      g_set_error (error, LB_ERROR, LB_ERROR_IO, "no random bytes: %s",
          g_strerror (errno));
      return FALSE;
    }
    done += n;
  }
  return TRUE;
}

GBytes *
lb_sign_new_key (GError ** error)
{
  guint8 *key = g_malloc (LB_SIGN_KEY_SIZE);
  if (!lb_sign_random_bytes (key, LB_SIGN_KEY_SIZE, error)) {
    g_free (key);
    return NULL;
  }
  return g_bytes_new_take (key, LB_SIGN_KEY_SIZE);
}

gchar *
lb_sign_new_token (GError ** error)
{
  guint8 raw[32];
  GString *s = g_string_new ("lbt_");

  if (!lb_sign_random_bytes (raw, sizeof raw, error)) {
    g_string_free (s, TRUE);
    return NULL;
  }
  for (guint i = 0; i < sizeof raw; i++)
    g_string_append_printf (s, "%02x", raw[i]);
  memset (raw, 0, sizeof raw);
  return g_string_free (s, FALSE);
}

gchar *
lb_sign_hash_token (const gchar * token)
{
  g_return_val_if_fail (token != NULL, NULL);
  return g_compute_checksum_for_string (G_CHECKSUM_SHA256, token, -1);
}

gchar *
lb_sign_media (GBytes * key, const gchar * media_id, gint64 expires_s)
{
  g_return_val_if_fail (key != NULL, NULL);
  g_return_val_if_fail (media_id != NULL, NULL);

  g_autofree gchar *msg =
      g_strdup_printf ("%s\n%" G_GINT64_FORMAT, media_id, expires_s);
  gsize key_len;
  const guint8 *key_data = g_bytes_get_data (key, &key_len);
  return g_compute_hmac_for_string (G_CHECKSUM_SHA256, key_data, key_len, msg,
      -1);
}

gboolean
lb_sign_verify_media (GBytes * key, const gchar * media_id, gint64 expires_s,
    const gchar * signature, gint64 now_s)
{
  g_return_val_if_fail (key != NULL, FALSE);

  if (media_id == NULL || signature == NULL || now_s > expires_s)
    return FALSE;
  g_autofree gchar *want = lb_sign_media (key, media_id, expires_s);
  g_autofree gchar *given = g_ascii_strdown (signature, -1);
  return lb_sign_equal (want, given);
}

gboolean
lb_sign_equal (const gchar * a, const gchar * b)
{
  g_return_val_if_fail (a != NULL && b != NULL, FALSE);

  gsize n = strlen (a);
  if (strlen (b) != n)
    return FALSE;
  guint diff = 0;
  for (gsize i = 0; i < n; i++)
    diff |= (guint) (a[i] ^ b[i]);
  return diff == 0;
}

gchar *
lb_sign_media_url (GBytes * key, const gchar * base_url, const gchar * media_id,
    gint64 expires_s)
{
  g_return_val_if_fail (base_url != NULL, NULL);

  g_autofree gchar *sig = lb_sign_media (key, media_id, expires_s);
  g_autofree gchar *id = g_uri_escape_string (media_id, NULL, FALSE);
  gsize n = strlen (base_url);
  gboolean slash = n > 0 && base_url[n - 1] == '/';
  return g_strdup_printf ("%.*s/media/%s?expires=%" G_GINT64_FORMAT
      "&signature=%s", (int) (slash ? n - 1 : n), base_url, id, expires_s, sig);
}
