/* lookback — AWS Signature Version 4 (see lb-sigv4.h) */
#include "core/lb-sigv4.h"
#include "core/lb-time.h"

#include <string.h>

#define ALGORITHM "AWS4-HMAC-SHA256"

gchar *
lb_sigv4_amz_date (gint64 time_ns)
{
  g_autoptr (GDateTime) dt =
      g_date_time_new_from_unix_utc (time_ns / LB_NS_PER_SEC);
  return dt ? g_date_time_format (dt, "%Y%m%dT%H%M%SZ") : g_strdup ("");
}

gchar *
lb_sigv4_uri_encode (const gchar * s, gboolean keep_slash)
{
  g_return_val_if_fail (s != NULL, NULL);

  GString *out = g_string_sized_new (strlen (s) + 8);
  for (const guchar * p = (const guchar *)s; *p; p++) {
    if (g_ascii_isalnum (*p) || *p == '-' || *p == '.' || *p == '_'
        || *p == '~' || (keep_slash && *p == '/'))
      g_string_append_c (out, *p);
    else
      g_string_append_printf (out, "%%%02X", *p);
  }
  return g_string_free (out, FALSE);
}

/* "/a/./b/../c//" → "/a/c/": dot segments and empty segments removed. */
static gchar *
normalize_path (const gchar * path)
{
  g_auto (GStrv) segs = g_strsplit (path, "/", -1);
  g_autoptr (GPtrArray) stack = g_ptr_array_new ();
  guint n = g_strv_length (segs);

  for (guint i = 0; i < n; i++) {
    if (*segs[i] == '\0' || g_str_equal (segs[i], "."))
      continue;
    if (g_str_equal (segs[i], "..")) {
      if (stack->len)
        g_ptr_array_remove_index (stack, stack->len - 1);
      continue;
    }
    g_ptr_array_add (stack, segs[i]);
  }
  const gchar *last = n ? segs[n - 1] : "";
  gboolean trailing = n > 1 && (*last == '\0' || g_str_equal (last, ".")
      || g_str_equal (last, ".."));
  GString *out = g_string_new ("/");
  for (guint i = 0; i < stack->len; i++) {
    if (i)
      g_string_append_c (out, '/');
    g_string_append (out, stack->pdata[i]);
  }
  if (trailing && stack->len)
    g_string_append_c (out, '/');
  return g_string_free (out, FALSE);
}

typedef struct
{
  gchar *name;
  gchar *value;
} Pair;

static void
pair_clear (gpointer data)
{
  Pair *p = data;
  g_free (p->name);
  g_free (p->value);
}

static gint
pair_cmp (gconstpointer a, gconstpointer b)
{
  const Pair *x = a, *y = b;
  gint c = strcmp (x->name, y->name);
  return c ? c : strcmp (x->value, y->value);
}

static gint
pair_name_cmp (gconstpointer a, gconstpointer b)
{
  return strcmp (((const Pair *) a)->name, ((const Pair *) b)->name);
}

/* The canonical query string: names and values encoded, sorted by name,
 * then value, joined with '&'.  @extra (nullable) adds pairs. */
static gchar *
canonical_query (const gchar * const *query, const gchar * const *extra)
{
  g_autoptr (GArray) pairs = g_array_new (FALSE, FALSE, sizeof (Pair));
  g_array_set_clear_func (pairs, pair_clear);
  const gchar *const *lists[] = { query, extra };

  for (guint l = 0; l < G_N_ELEMENTS (lists); l++)
    for (guint i = 0; lists[l] && lists[l][i] && lists[l][i + 1]; i += 2) {
      Pair p = { lb_sigv4_uri_encode (lists[l][i], FALSE),
        lb_sigv4_uri_encode (lists[l][i + 1], FALSE)
      };
      g_array_append_val (pairs, p);
    }
  g_array_sort (pairs, pair_cmp);
  GString *out = g_string_new (NULL);
  for (guint i = 0; i < pairs->len; i++) {
    Pair *p = &g_array_index (pairs, Pair, i);
    g_string_append_printf (out, "%s%s=%s", i ? "&" : "", p->name, p->value);
  }
  return g_string_free (out, FALSE);
}

/* A header value as SigV4 signs it: leading and trailing white space gone,
 * runs of white space one space. */
static gchar *
trim_all (const gchar * v)
{
  GString *out = g_string_new (NULL);
  gboolean space = FALSE;
  for (const gchar * p = v; *p; p++) {
    if (g_ascii_isspace (*p)) {
      space = out->len > 0;
      continue;
    }
    if (space)
      g_string_append_c (out, ' ');
    space = FALSE;
    g_string_append_c (out, *p);
  }
  return g_string_free (out, FALSE);
}

/* Canonical headers ("name:value\n" each) and the signed header list. */
static void
canonical_headers (const gchar * const *headers, GString * out_canon,
    GString * out_signed)
{
  g_autoptr (GArray) pairs = g_array_new (FALSE, FALSE, sizeof (Pair));
  g_array_set_clear_func (pairs, pair_clear);

  for (guint i = 0; headers && headers[i] && headers[i + 1]; i += 2) {
    Pair p = { g_ascii_strdown (headers[i], -1), trim_all (headers[i + 1]) };
    g_array_append_val (pairs, p);
  }
  /* stable: values of one name keep their order */
  g_array_sort (pairs, pair_name_cmp);
  for (guint i = 0; i < pairs->len; i++) {
    Pair *p = &g_array_index (pairs, Pair, i);
    if (i > 0 && g_str_equal (p->name, g_array_index (pairs, Pair, i - 1).name)) {
      g_string_truncate (out_canon, out_canon->len - 1);
      g_string_append_printf (out_canon, ",%s\n", p->value);
      continue;
    }
    g_string_append_printf (out_canon, "%s:%s\n", p->name, p->value);
    g_string_append_printf (out_signed, "%s%s", out_signed->len ? ";" : "",
        p->name);
  }
}

static gchar *
signed_headers (const gchar * const *headers)
{
  g_autoptr (GString) canon = g_string_new (NULL);
  GString *names = g_string_new (NULL);
  canonical_headers (headers, canon, names);
  return g_string_free (names, FALSE);
}

static gchar *
canonical_request_with (const LbSigV4Request * req, const gchar * const *extra)
{
  g_return_val_if_fail (req != NULL && req->method && req->path, NULL);

  g_autofree gchar *path = req->normalize_path ? normalize_path (req->path)
      : g_strdup (*req->path ? req->path : "/");
  g_autofree gchar *uri = lb_sigv4_uri_encode (path, TRUE);
  g_autofree gchar *query = canonical_query (req->query, extra);
  g_autoptr (GString) canon = g_string_new (NULL);
  g_autoptr (GString) names = g_string_new (NULL);
  canonical_headers (req->headers, canon, names);

  return g_strdup_printf ("%s\n%s\n%s\n%s\n%s\n%s", req->method, uri, query,
      canon->str, names->str,
      req->payload_hash ? req->payload_hash : LB_SIGV4_UNSIGNED_PAYLOAD);
}

gchar *
lb_sigv4_canonical_request (const LbSigV4Request * req)
{
  return canonical_request_with (req, NULL);
}

static gchar *
scope (const LbSigV4Key * key, const gchar * amz_date)
{
  return g_strdup_printf ("%.8s/%s/%s/aws4_request", amz_date, key->region,
      key->service);
}

gchar *
lb_sigv4_string_to_sign (const LbSigV4Key * key, const gchar * amz_date,
    const gchar * canonical_request)
{
  g_return_val_if_fail (key != NULL && amz_date != NULL, NULL);
  g_return_val_if_fail (canonical_request != NULL, NULL);

  g_autofree gchar *sc = scope (key, amz_date);
  g_autofree gchar *hash = g_compute_checksum_for_string (G_CHECKSUM_SHA256,
      canonical_request, -1);
  return g_strdup_printf (ALGORITHM "\n%s\n%s\n%s", amz_date, sc, hash);
}

/* HMAC-SHA256 of @data under @key, raw (32 bytes into @out). */
static void
hmac (const guint8 * key, gsize key_len, const gchar * data, guint8 * out)
{
  g_autoptr (GHmac) h = g_hmac_new (G_CHECKSUM_SHA256, key, key_len);
  gsize len = 32;
  g_hmac_update (h, (const guchar *) data, strlen (data));
  g_hmac_get_digest (h, out, &len);
}

gchar *
lb_sigv4_signature (const LbSigV4Key * key, const gchar * amz_date,
    const gchar * string_to_sign)
{
  g_return_val_if_fail (key != NULL && key->secret_access_key, NULL);
  g_return_val_if_fail (amz_date != NULL && string_to_sign != NULL, NULL);

  g_autofree gchar *secret = g_strconcat ("AWS4", key->secret_access_key,
      NULL);
  g_autofree gchar *date = g_strndup (amz_date, 8);
  guint8 k[32], sig[32];

  hmac ((const guint8 *) secret, strlen (secret), date, k);
  hmac (k, sizeof k, key->region, k);
  hmac (k, sizeof k, key->service, k);
  hmac (k, sizeof k, "aws4_request", k);
  hmac (k, sizeof k, string_to_sign, sig);
  GString *hex = g_string_sized_new (64);
  for (guint i = 0; i < sizeof sig; i++)
    g_string_append_printf (hex, "%02x", sig[i]);
  memset (k, 0, sizeof k);
  return g_string_free (hex, FALSE);
}

gchar *
lb_sigv4_authorization (const LbSigV4Key * key, const LbSigV4Request * req,
    const gchar * amz_date)
{
  g_return_val_if_fail (key != NULL && req != NULL && amz_date != NULL, NULL);

  g_autofree gchar *creq = lb_sigv4_canonical_request (req);
  g_autofree gchar *sts = lb_sigv4_string_to_sign (key, amz_date, creq);
  g_autofree gchar *sig = lb_sigv4_signature (key, amz_date, sts);
  g_autofree gchar *sc = scope (key, amz_date);
  g_autofree gchar *names = signed_headers (req->headers);
  return g_strdup_printf (ALGORITHM
      " Credential=%s/%s, SignedHeaders=%s, Signature=%s", key->access_key_id,
      sc, names, sig);
}

gchar *
lb_sigv4_presign_query (const LbSigV4Key * key, const LbSigV4Request * req,
    const gchar * amz_date, gint64 expires_s)
{
  g_return_val_if_fail (key != NULL && req != NULL && amz_date != NULL, NULL);

  g_autofree gchar *sc = scope (key, amz_date);
  g_autofree gchar *credential = g_strdup_printf ("%s/%s", key->access_key_id,
      sc);
  g_autofree gchar *expires = g_strdup_printf ("%" G_GINT64_FORMAT,
      expires_s);
  g_autofree gchar *names = signed_headers (req->headers);
  const gchar *extra[] = {
    "X-Amz-Algorithm", ALGORITHM,
    "X-Amz-Credential", credential,
    "X-Amz-Date", amz_date,
    "X-Amz-Expires", expires,
    "X-Amz-SignedHeaders", names,
    key->session_token ? "X-Amz-Security-Token" : NULL, key->session_token,
    NULL,
  };
  g_autofree gchar *creq = canonical_request_with (req, extra);
  g_autofree gchar *sts = lb_sigv4_string_to_sign (key, amz_date, creq);
  g_autofree gchar *sig = lb_sigv4_signature (key, amz_date, sts);
  g_autofree gchar *query = canonical_query (req->query, extra);
  return g_strdup_printf ("%s&X-Amz-Signature=%s", query, sig);
}
