/* HTTPS: lookbackd with [server] tls-certificate and tls-key, a
 * self-signed certificate made at test time with openssl.  curl --cacert
 * trusts it and gets answers; curl without it refuses the certificate;
 * plain HTTP gets nothing; lookback retrieve --cacert works over it; a
 * certificate without its key, or a key file without a key, is a
 * configuration error (exit 2). */
#include "lb-test-common.h"

#include <gio/gio.h>
#include <signal.h>
#include <string.h>

typedef struct
{
  gchar *dir;
  gchar *cert, *key;
} Fixture;

static void
run_ok (const gchar * const *argv)
{
  g_auto (LbTestProgram) p = { 0 };

  lb_test_program_run (&p, NULL, NULL, argv);
  if (p.status != 0)
    g_error ("%s: %d: %s", argv[0], p.status, p.err);
}

#define RUN_OK(...) run_ok ((const gchar * const []) { __VA_ARGS__, NULL })

static void
set_up (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  f->dir = g_dir_make_tmp ("lb-tls-XXXXXX", &error);
  g_assert_no_error (error);
  f->cert = g_build_filename (f->dir, "cert.pem", NULL);
  f->key = g_build_filename (f->dir, "key.pem", NULL);
  RUN_OK ("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
      "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj",
      "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
      "-keyout", f->key, "-out", f->cert);
}

static void
tear_down (Fixture * f, gconstpointer data)
{
  lb_test_rm_rf (f->dir);
  g_free (f->dir);
  g_free (f->cert);
  g_free (f->key);
}

/* The environment of the programs that speak TLS: in a sanitized build,
 * GnuTLS loaded at their start (see LB_TEST_TLS_PRELOAD in
 * tests/meson.build); elsewhere nothing. */
static const gchar *const *
tls_env (void)
{
  static gchar *preload;
  static const gchar *env[2];
  const gchar *value = g_getenv ("LB_TEST_TLS_PRELOAD");

  if (value == NULL)
    return NULL;
  if (preload == NULL)
    preload = g_strconcat ("LD_PRELOAD=", value, NULL);
  env[0] = preload;
  return env;
}

/* A configuration (in the fixture's folder) with @server_keys in [server]. */
static gchar *
conf (Fixture * f, const gchar * server_keys)
{
  gchar *path = g_build_filename (f->dir, "lookback.conf", NULL);
  g_autofree gchar *text = g_strdup_printf ("[server]\nlisten=127.0.0.1:0\n"
      "%s[store]\ndir=%s\n[recorder]\nenabled=false\n", server_keys, f->dir);

  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  return path;
}

/* curl @args… @url: its exit status and, in *@out, what it printed. */
static gint
curl (const gchar * url, const gchar * cacert, gchar ** out)
{
  g_auto (LbTestProgram) p = { 0 };
  const gchar *argv[] = { "curl", "-sS", "--max-time", "30", url,
    cacert ? "--cacert" : NULL, cacert, NULL
  };

  lb_test_program_run (&p, NULL, NULL, argv);
  g_test_message ("curl %s: %d: %s%s", url, p.status, p.out, p.err);
  *out = g_steal_pointer (&p.out);
  return p.status;
}

static void
test_https (Fixture * f, gconstpointer data)
{
  /* relative paths: to the configuration's folder */
  g_autofree gchar *path = conf (f, "tls-certificate=cert.pem\n"
      "tls-key=key.pem\n");
  g_autoptr (LbTestDaemon) d = lb_test_daemon_start (path, tls_env ());
  const gchar *uri = lb_test_daemon_get_uri (d);
  g_autofree gchar *healthz = g_strconcat (uri, "/healthz", NULL);
  g_autofree gchar *doc = g_strconcat (uri, "/openapi.json", NULL);
  g_autofree gchar *a = NULL, *b = NULL, *c = NULL, *e = NULL;

  g_assert_true (g_str_has_prefix (uri, "https://127.0.0.1:"));
  g_assert_cmpint (curl (healthz, f->cert, &a), ==, 0);
  g_assert_nonnull (strstr (a, "\"status\":\"ok\""));
  g_assert_cmpint (curl (doc, f->cert, &b), ==, 0);
  g_assert_true (g_str_has_prefix (b, "{"));
  /* not trusted without the certificate: curl's 60 */
  g_assert_cmpint (curl (healthz, NULL, &c), ==, 60);
  /* plain HTTP to the TLS port: no HTTP answer */
  g_autofree gchar *plain = g_strdup_printf ("http://%s/healthz",
      uri + strlen ("https://"));
  g_assert_cmpint (curl (plain, NULL, &e), !=, 0);
  /* lookback retrieve over HTTPS: with --cacert the server answers (an
   * unknown token: 401); without, the certificate is refused */
  g_auto (LbTestProgram) r = { 0 };
  g_auto (LbTestProgram) s = { 0 };
  const gchar *retrieve[] = { g_getenv ("LOOKBACK"), "--config", path,
    "retrieve", "--url", uri, "--token", "unknown", "--vehicle", "v",
    "--input", "dashcamRoadFacing", "--type", "image", "--start",
    "2026-01-01T10:00:00Z", "--cacert", f->cert, NULL
  };
  lb_test_program_run (&r, NULL, tls_env (), retrieve);
  g_assert_cmpint (r.status, ==, 1);
  g_assert_nonnull (strstr (r.err, "creating the retrieval: HTTP 401"));
  retrieve[16] = NULL;          /* no --cacert */
  lb_test_program_run (&s, NULL, tls_env (), retrieve);
  g_assert_cmpint (s.status, ==, 1);
  g_assert_null (strstr (s.err, "HTTP 401"));
  /* and the server still answers afterwards */
  g_autofree gchar *again = NULL;
  g_assert_cmpint (curl (healthz, f->cert, &again), ==, 0);
  g_assert_cmpint (lb_test_daemon_stop (d, SIGTERM), ==, 0);
}

static void
test_config_errors (Fixture * f, gconstpointer data)
{
  g_autofree gchar *half = conf (f, "tls-certificate=cert.pem\n");
  g_auto (LbTestProgram) a = { 0 };
  const gchar *argv_half[] = { g_getenv ("LOOKBACKD"), "--config", half, NULL };

  lb_test_program_run (&a, NULL, NULL, argv_half);
  g_assert_cmpint (a.status, ==, 2);
  g_assert_nonnull (strstr (a.err, "[server] tls-key: tls-certificate and "
          "tls-key go together"));

  /* a key file with no key in it: refused at start, naming the files */
  g_autofree gchar *keys = g_strdup_printf ("tls-certificate=%s\n"
      "tls-key=%s\n", f->cert, f->cert);
  g_autofree gchar *mismatch = conf (f, keys);
  g_auto (LbTestProgram) b = { 0 };
  const gchar *argv_mismatch[] = { g_getenv ("LOOKBACKD"), "--config",
    mismatch, NULL
  };
  lb_test_program_run (&b, NULL, NULL, argv_mismatch);
  g_assert_cmpint (b.status, ==, 2);
  g_assert_nonnull (strstr (b.err, "[server] tls-certificate"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/tls/https", Fixture, NULL, set_up, test_https, tear_down);
  g_test_add ("/tls/config-errors", Fixture, NULL, set_up, test_config_errors,
      tear_down);
  return g_test_run ();
}
