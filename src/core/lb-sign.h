/* lookback — signatures and secrets: signed media URLs, token hashes, randomness
 *
 * A media URL carries the media id, an expiry (Unix seconds) and an
 * HMAC-SHA256 over both, keyed with a secret generated once per store
 * (lb_store_api_get_signing_key()).  Tokens are stored only as their SHA-256.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define LB_SIGN_KEY_SIZE 32

/* Fills @buf with @len bytes from the kernel's CSPRNG (getrandom). */
gboolean  lb_sign_random_bytes (guint8  *buf,
                                gsize    len,
                                GError **error);

/* A new random secret of LB_SIGN_KEY_SIZE bytes. */
GBytes   *lb_sign_new_key      (GError **error);

/* A new bearer token: "lbt_" followed by 64 hex digits (32 random bytes). */
gchar    *lb_sign_new_token    (GError **error);

/* Lower-case hex SHA-256 of @token: what the store keeps. */
gchar    *lb_sign_hash_token   (const gchar *token);

/* Lower-case hex HMAC-SHA256 of "@media_id\n@expires_s" under @key. */
gchar    *lb_sign_media        (GBytes      *key,
                                const gchar *media_id,
                                gint64       expires_s);

/* TRUE when @signature is the signature of (@media_id, @expires_s) and
 * @now_s is not after @expires_s.  Compares in constant time. */
gboolean  lb_sign_verify_media (GBytes      *key,
                                const gchar *media_id,
                                gint64       expires_s,
                                const gchar *signature,
                                gint64       now_s);

/* Whether @a and @b are the same string, in a time that depends only on
 * their lengths (secrets: signatures, hashes of tokens). */
gboolean  lb_sign_equal        (const gchar *a,
                                const gchar *b);

/* "@base_url/media/@media_id?expires=@expires_s&signature=…" (@base_url
 * without a trailing slash; one is dropped if present). */
gchar    *lb_sign_media_url    (GBytes      *key,
                                const gchar *base_url,
                                const gchar *media_id,
                                gint64       expires_s);

G_END_DECLS
