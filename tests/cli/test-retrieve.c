/* `lookback retrieve` against a real lookbackd: footage made at test time
 * and imported with `lookback import`, a token from `lookback token add`,
 * then stills and clips pulled over the HTTP API and the failures told
 * (unavailable, a bad token, bad arguments) with their exit status. */
#include "jobs-test-media.h"
#include "lb-test-common.h"

#include <gio/gio.h>
#include <string.h>

#define VEHICLE "1234"
#define INPUT "dashcamRoadFacing"

typedef struct
{
  gchar *dir;
  gchar *conf;
  gchar *token;
  LbTestDaemon *daemon;
} Fixture;


/* lookback --config CONF @args… in the fixture's folder; LOOKBACK_TOKEN is
 * @token (or unset when NULL). */
static void
lookback (Fixture * f, LbTestProgram * r, const gchar * token,
    const gchar * const *args)
{
  g_autofree gchar *env_token = token ? g_strconcat ("LOOKBACK_TOKEN=", token,
      NULL) : g_strdup ("LOOKBACK_TOKEN");
  const gchar *env[] = { env_token, NULL };

  lb_test_lookback (r, f->conf, f->dir, env, args);
  g_test_message ("lookback %s: %d\n%s%s", args[0], r->status, r->out, r->err);
}

#define LOOKBACK(f, r, token, ...) \
  lookback (f, r, token, (const gchar * const []) { __VA_ARGS__, NULL })

/* A store with 20 s of footage from 2026-01-01T10:00:00Z, a token, and
 * lookbackd serving it (no recording). */
static void
set_up (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_auto (LbTestProgram) imp = { 0 };
  g_auto (LbTestProgram) tok = { 0 };

  f->dir = g_dir_make_tmp ("lb-retrieve-XXXXXX", &error);
  g_assert_no_error (error);
  f->conf = g_build_filename (f->dir, "lookback.conf", NULL);
  g_autofree gchar *text = g_strdup_printf ("[server]\nlisten=127.0.0.1:0\n"
      "[store]\ndir=%s\n[recorder]\nenabled=false\n[retention]\nmax-age=0\n"
      "[jobs]\nworkers=1\n[api]\nreads-per-second=1000\n"
      "[input " VEHICLE " " INPUT "]\nsource=videotestsrc\n", f->dir);
  g_assert_true (g_file_set_contents (f->conf, text, -1, NULL));
  g_autofree gchar *mp4 = g_build_filename (f->dir, "footage.mp4", NULL);
  jt_make_h264_mp4 (mp4, 600, 320, 240, 0);
  LOOKBACK (f, &imp, NULL, "import", "--vehicle", VEHICLE, "--input", INPUT,
      "--start", "2026-01-01T10:00:00Z", mp4);
  g_assert_cmpint (imp.status, ==, 0);
  LOOKBACK (f, &tok, NULL, "token", "add", "--org", "acme");
  g_assert_cmpint (tok.status, ==, 0);
  f->token = g_strdup (g_strstrip (tok.out));
  f->daemon = lb_test_daemon_start (f->conf, NULL);
}

static void
tear_down (Fixture * f, gconstpointer data)
{
  g_clear_pointer (&f->daemon, lb_test_daemon_free);
  lb_test_rm_rf (f->dir);
  g_free (f->dir);
  g_free (f->conf);
  g_free (f->token);
}

static gchar *
file_in (Fixture * f, const gchar * name)
{
  return g_build_filename (f->dir, name, NULL);
}

static void
test_image_and_clip (Fixture * f, gconstpointer data)
{
  g_auto (LbTestProgram) still = { 0 };
  g_auto (LbTestProgram) clip = { 0 };
  const gchar *url = lb_test_daemon_get_uri (f->daemon);

  /* an image, named after its retrieval, with the token from the env */
  LOOKBACK (f, &still, f->token, "retrieve", "--url", url, "--vehicle",
      VEHICLE, "--input", INPUT, "--type", "image", "--start",
      "2026-01-01T10:00:05Z");
  g_assert_cmpint (still.status, ==, 0);
  g_assert_true (g_regex_match_simple ("^[0-9a-f-]{36}\\.jpg: "
          "2026-01-01T10:00:05Z to 2026-01-01T10:00:05Z\n$", still.out, 0, 0));
  g_autofree gchar *jpg_name = g_strndup (still.out, strcspn (still.out,
          ":"));
  g_autofree gchar *jpg = file_in (f, jpg_name);
  g_autofree gchar *bytes = NULL;
  gsize len = 0;
  g_assert_true (g_file_get_contents (jpg, &bytes, &len, NULL));
  g_assert_cmpuint (len, >, 1000);
  g_assert_cmpint ((guchar) bytes[0], ==, 0xff);
  g_assert_cmpint ((guchar) bytes[1], ==, 0xd8);
  /* progress off a terminal: plain lines */
  g_assert_nonnull (strstr (still.err, "pending 0%\n"));
  g_assert_nonnull (strstr (still.err, "downloading 100%\n"));
  g_assert_null (strchr (still.err, '\r'));

  /* a clip, --token and -o, times with an offset */
  LOOKBACK (f, &clip, NULL, "retrieve", "--url", url, "--token", f->token,
      "--vehicle", VEHICLE, "--input", INPUT, "--type", "videoHighRes",
      "--start", "2026-01-01T11:00:02+01:00", "--end", "2026-01-01T10:00:07Z",
      "-o", "clip.mp4");
  g_assert_cmpint (clip.status, ==, 0);
  g_assert_cmpstr (clip.out, ==,
      "clip.mp4: 2026-01-01T10:00:02Z to 2026-01-01T10:00:07Z\n");
  g_autofree gchar *mp4 = file_in (f, "clip.mp4");
  g_autoptr (JtInfo) info = jt_discover (mp4);
  g_assert_cmpstr (info->container, ==, "video/quicktime");
  g_assert_cmpuint (info->duration, >=, 4900 * GST_MSECOND);
  g_assert_cmpuint (info->duration, <=, 5100 * GST_MSECOND);
}

static void
test_failures (Fixture * f, gconstpointer data)
{
  const gchar *url = lb_test_daemon_get_uri (f->daemon);
  g_auto (LbTestProgram) none = { 0 };
  g_auto (LbTestProgram) unauth = { 0 };
  g_auto (LbTestProgram) reversed = { 0 };
  g_auto (LbTestProgram) no_token = { 0 };
  g_auto (LbTestProgram) bad_type = { 0 };
  g_auto (LbTestProgram) no_end = { 0 };

  /* nothing recorded then: unavailable, with the server's reason */
  LOOKBACK (f, &none, f->token, "retrieve", "--url", url, "--vehicle",
      VEHICLE, "--input", INPUT, "--type", "videoLowRes", "--start",
      "2026-01-01T09:00:00Z", "--end", "2026-01-01T09:00:10Z");
  g_assert_cmpint (none.status, ==, 1);
  g_assert_nonnull (strstr (none.err, " is unavailable: Nothing was "
          "recorded for this input and time"));
  /* a token the server does not know */
  LOOKBACK (f, &unauth, "not-a-token", "retrieve", "--url", url,
      "--vehicle", VEHICLE, "--input", INPUT, "--type", "image", "--start",
      "2026-01-01T10:00:05Z");
  g_assert_cmpint (unauth.status, ==, 1);
  g_assert_nonnull (strstr (unauth.err, "creating the retrieval: HTTP 401"));
  /* the server refuses the request (400): a usage error */
  LOOKBACK (f, &reversed, f->token, "retrieve", "--url", url, "--vehicle",
      VEHICLE, "--input", INPUT, "--type", "videoHighRes", "--start",
      "2026-01-01T10:00:07Z", "--end", "2026-01-01T10:00:02Z");
  g_assert_cmpint (reversed.status, ==, 2);
  g_assert_nonnull (strstr (reversed.err, "HTTP 400: "));
  /* refused before asking */
  LOOKBACK (f, &no_token, NULL, "retrieve", "--url", url, "--vehicle",
      VEHICLE, "--input", INPUT, "--type", "image", "--start",
      "2026-01-01T10:00:05Z");
  g_assert_cmpint (no_token.status, ==, 2);
  g_assert_nonnull (strstr (no_token.err, "LOOKBACK_TOKEN"));
  LOOKBACK (f, &bad_type, f->token, "retrieve", "--vehicle", VEHICLE,
      "--input", INPUT, "--type", "gif", "--start", "2026-01-01T10:00:05Z");
  g_assert_cmpint (bad_type.status, ==, 2);
  LOOKBACK (f, &no_end, f->token, "retrieve", "--vehicle", VEHICLE,
      "--input", INPUT, "--type", "hyperlapse", "--start",
      "2026-01-01T10:00:05Z");
  g_assert_cmpint (no_end.status, ==, 2);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/cli/retrieve/image-and-clip", Fixture, NULL, set_up,
      test_image_and_clip, tear_down);
  g_test_add ("/cli/retrieve/failures", Fixture, NULL, set_up,
      test_failures, tear_down);
  return g_test_run ();
}
