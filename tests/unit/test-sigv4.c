/* lookback tests — AWS Signature Version 4 against AWS's published test suite
 *
 * tests/unit/sigv4-vectors/ holds the v4 cases of the AWS SigV4 test suite
 * (see its README): for each, the request, the context (credentials, time,
 * whether the path is normalised, whether the body hash is a header), and
 * the canonical request, string to sign and signature that header signing
 * and query signing (presigned URLs) must produce.
 */
#include "core/lb-sigv4.h"
#include "core/lb-time.h"

#include <json-glib/json-glib.h>
#include <string.h>

typedef struct
{
  gchar *method;
  gchar *path;
  GPtrArray *query;             /* name, value, …, NULL */
  GPtrArray *headers;           /* name, value, …, NULL */
  gchar *body;
} Req;

static void
req_clear (Req * r)
{
  g_free (r->method);
  g_free (r->path);
  g_ptr_array_unref (r->query);
  g_ptr_array_unref (r->headers);
  g_free (r->body);
}

static gchar *
read_vector (const gchar * dir, const gchar * file)
{
  g_autofree gchar *path = g_build_filename (dir, file, NULL);
  gchar *text = NULL;
  g_autoptr (GError) error = NULL;
  g_assert_true (g_file_get_contents (path, &text, NULL, &error));
  g_assert_no_error (error);
  return text;
}

/* "GET /a b?x=1 HTTP/1.1\nHost:…\n  folded\n\nbody" */
static void
parse_request (const gchar * text, Req * r)
{
  const gchar *blank = strstr (text, "\n\n");
  g_autofree gchar *head = blank ? g_strndup (text, blank - text)
      : g_strdup (text);
  r->body = g_strdup (blank ? blank + 2 : "");
  g_auto (GStrv) lines = g_strsplit (head, "\n", -1);

  const gchar *line = lines[0];
  const gchar *sp = strchr (line, ' ');
  const gchar *proto = g_strrstr (line, " HTTP/");
  g_assert_nonnull (sp);
  g_assert_nonnull (proto);
  r->method = g_strndup (line, sp - line);
  g_autofree gchar *target = g_strndup (sp + 1, proto - sp - 1);
  gchar *q = strchr (target, '?');
  r->query = g_ptr_array_new_with_free_func (g_free);
  if (q) {
    *q++ = '\0';
    g_auto (GStrv) params = g_strsplit (q, "&", -1);
    for (guint i = 0; params[i]; i++) {
      gchar *eq = strchr (params[i], '=');
      if (eq)
        *eq++ = '\0';
      g_ptr_array_add (r->query, g_uri_unescape_string (params[i], NULL));
      g_ptr_array_add (r->query, g_uri_unescape_string (eq ? eq : "", NULL));
    }
  }
  g_ptr_array_add (r->query, NULL);
  r->path = g_uri_unescape_string (target, NULL);

  r->headers = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 1; lines[i]; i++) {
    if (lines[i][0] == '\0')
      continue;
    if (g_ascii_isspace (lines[i][0]) && r->headers->len) {
      /* a folded line continues the previous value */
      gchar *prev = r->headers->pdata[r->headers->len - 1];
      r->headers->pdata[r->headers->len - 1] =
          g_strconcat (prev, " ", lines[i], NULL);
      g_free (prev);
      continue;
    }
    const gchar *colon = strchr (lines[i], ':');
    g_assert_nonnull (colon);
    g_ptr_array_add (r->headers, g_strndup (lines[i], colon - lines[i]));
    g_ptr_array_add (r->headers, g_strdup (colon + 1));
  }
}

static void
check_vector (gconstpointer data)
{
  const gchar *dir = data;
  g_autofree gchar *ctx_text = read_vector (dir, "context.json");
  g_autofree gchar *req_text = read_vector (dir, "request.txt");
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (parser, ctx_text, -1, NULL));
  JsonObject *ctx = json_node_get_object (json_parser_get_root (parser));
  JsonObject *cred = json_object_get_object_member (ctx, "credentials");
  gboolean omit_token = json_object_get_boolean_member_with_default (ctx,
      "omit_session_token", FALSE);

  gint64 t = 0;
  g_assert_true (lb_time_parse_rfc3339 (json_object_get_string_member (ctx,
              "timestamp"), &t, NULL));
  g_autofree gchar *amz_date = lb_sigv4_amz_date (t);
  LbSigV4Key key = {
    json_object_get_string_member (cred, "access_key_id"),
    json_object_get_string_member (cred, "secret_access_key"),
    omit_token ? NULL : json_object_get_string_member_with_default (cred,
        "token", NULL),
    json_object_get_string_member (ctx, "region"),
    json_object_get_string_member (ctx, "service"),
  };

  Req r;
  parse_request (req_text, &r);
  g_autofree gchar *payload =
      g_compute_checksum_for_string (G_CHECKSUM_SHA256, r.body, -1);

  /* Query signing first: the request's own headers only. */
  g_ptr_array_add (r.headers, NULL);
  LbSigV4Request req = { r.method, r.path,
    (const gchar * const *) r.query->pdata,
    (const gchar * const *) r.headers->pdata, payload,
    json_object_get_boolean_member (ctx, "normalize")
  };
  g_autofree gchar *want_qcreq = read_vector (dir,
      "query-canonical-request.txt");
  g_autofree gchar *want_qsig = read_vector (dir, "query-signature.txt");
  g_auto (GStrv) qlines = g_strsplit (want_qcreq, "\n", -1);
  g_autofree gchar *want_query = g_strdup_printf ("%s&X-Amz-Signature=%s",
      qlines[2], want_qsig);
  g_autofree gchar *query = lb_sigv4_presign_query (&key, &req, amz_date,
      json_object_get_int_member (ctx, "expiration_in_seconds"));
  g_assert_cmpstr (query, ==, want_query);

  /* Header signing: x-amz-date, the token and the body hash are headers. */
  g_ptr_array_remove_index (r.headers, r.headers->len - 1);
  g_ptr_array_add (r.headers, g_strdup ("X-Amz-Date"));
  g_ptr_array_add (r.headers, g_strdup (amz_date));
  if (key.session_token) {
    g_ptr_array_add (r.headers, g_strdup ("X-Amz-Security-Token"));
    g_ptr_array_add (r.headers, g_strdup (key.session_token));
  }
  if (json_object_get_boolean_member (ctx, "sign_body")) {
    g_ptr_array_add (r.headers, g_strdup ("X-Amz-Content-Sha256"));
    g_ptr_array_add (r.headers, g_strdup (payload));
  }
  g_ptr_array_add (r.headers, NULL);
  req.headers = (const gchar * const *) r.headers->pdata;

  g_autofree gchar *creq = lb_sigv4_canonical_request (&req);
  g_autofree gchar *want_creq = read_vector (dir,
      "header-canonical-request.txt");
  g_assert_cmpstr (creq, ==, want_creq);
  g_autofree gchar *sts = lb_sigv4_string_to_sign (&key, amz_date, creq);
  g_autofree gchar *want_sts = read_vector (dir, "header-string-to-sign.txt");
  g_assert_cmpstr (sts, ==, want_sts);
  g_autofree gchar *sig = lb_sigv4_signature (&key, amz_date, sts);
  g_autofree gchar *want_sig = read_vector (dir, "header-signature.txt");
  g_assert_cmpstr (sig, ==, want_sig);
  g_autofree gchar *authz = lb_sigv4_authorization (&key, &req, amz_date);
  g_assert_true (g_str_has_suffix (authz, want_sig));
  g_assert_true (g_str_has_prefix (authz, "AWS4-HMAC-SHA256 Credential="));
  req_clear (&r);
}

static void
test_uri_encode (void)
{
  g_autofree gchar *a = lb_sigv4_uri_encode ("a b/c~d+e*é", TRUE);
  g_assert_cmpstr (a, ==, "a%20b/c~d%2Be%2A%C3%A9");
  g_autofree gchar *b = lb_sigv4_uri_encode ("a/b", FALSE);
  g_assert_cmpstr (b, ==, "a%2Fb");
  g_autofree gchar *d = lb_sigv4_amz_date (1440938160 * LB_NS_PER_SEC);
  g_assert_cmpstr (d, ==, "20150830T123600Z");
}

static gint
name_cmp (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const gchar * const *) a, *(const gchar * const *) b);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/sigv4/uri-encode", test_uri_encode);

  g_autoptr (GError) error = NULL;
  g_autoptr (GDir) dir = g_dir_open (LB_SIGV4_VECTORS, 0, &error);
  g_assert_no_error (error);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const gchar *name;
  while ((name = g_dir_read_name (dir))) {
    g_autofree gchar *path = g_build_filename (LB_SIGV4_VECTORS, name, NULL);
    if (g_file_test (path, G_FILE_TEST_IS_DIR))
      g_ptr_array_add (names, g_strdup (name));
  }
  g_ptr_array_sort (names, name_cmp);
  g_assert_cmpuint (names->len, ==, 38);
  g_autoptr (GPtrArray) keep = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < names->len; i++) {
    const gchar *nm = names->pdata[i];
    g_autofree gchar *test = g_strdup_printf ("/sigv4/suite/%s", nm);
    gchar *path = g_build_filename (LB_SIGV4_VECTORS, nm, NULL);
    g_ptr_array_add (keep, path);
    g_test_add_data_func (test, path, check_vector);
  }
  return g_test_run ();
}
