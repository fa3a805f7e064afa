/* lookback tests — uploads to real cloud peers on 127.0.0.1: s3rver (which
 * checks SigV4), the tus reference server, nginx for plain PUT, a relay that
 * drops the link every few MB, and the AWS SDK's signer as an oracle. */
#include "upload/lb-uploader.h"
#include "upload/lb-upload-private.h"
#include "store/lb-store-upload.h"
#include "store/lb-store-api.h"
#include "core/lb-sigv4.h"
#include "core/lb-time.h"
#include "lb-test-nginx.h"
#include "lb-test-peers.h"
#include "lb-test-upload-util.h"
#include "lb-test-common.h"

#include <glib/gstdio.h>
#include <gst/gst.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <string.h>

#define MiB (1024 * 1024)
#define BUCKET "media"
/* request lines and headers a resume adds besides bodies */
#define SLACK (64 * 1024)

typedef struct
{
  gchar *dir;
  gchar *outputs;
  LbStore *store;
  LbConfig *config;
  LbUploader *up;
  LbTestPeer *peer;
  LbTestRelay *relay;
} Fixture;

static void
setup (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  f->dir = g_dir_make_tmp ("lb-cloud-XXXXXX", &error);
  g_assert_no_error (error);
  f->outputs = g_build_filename (f->dir, "outputs", NULL);
  g_assert_cmpint (g_mkdir (f->outputs, 0700), ==, 0);
  g_autofree gchar *db = g_build_filename (f->dir, "lookback.db", NULL);
  f->store = lb_store_open (db, LB_STORE_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
}

static void
teardown (Fixture * f, gconstpointer data)
{
  g_clear_pointer (&f->up, lb_uploader_free);
  g_clear_pointer (&f->config, lb_config_free);
  g_clear_pointer (&f->relay, lb_test_relay_free);
  g_clear_pointer (&f->peer, lb_test_peer_free);
  g_clear_pointer (&f->store, lb_store_free);
  lb_test_rm_rf (f->dir);
  g_free (f->dir);
  g_free (f->outputs);
}

static void
start_s3 (Fixture * f, gint64 drop_every)
{
  g_autofree gchar *data = g_build_filename (f->dir, "s3", NULL);
  g_assert_cmpint (g_mkdir (data, 0700), ==, 0);
  const gchar *args[] = { data, BUCKET, NULL };
  f->peer = lb_test_peer_start ("s3-server.js", args);
  f->relay = lb_test_relay_new (lb_test_peer_port (f->peer), drop_every);
}

static void
start_tus (Fixture * f, gint64 drop_every)
{
  g_autofree gchar *data = g_build_filename (f->dir, "tus", NULL);
  g_assert_cmpint (g_mkdir (data, 0700), ==, 0);
  const gchar *args[] = { data, NULL };
  f->peer = lb_test_peer_start ("tus-server.js", args);
  f->relay = lb_test_relay_new (lb_test_peer_port (f->peer), drop_every);
}

/* The [upload] group for the fixture's relay, and @extra lines. */
static gchar *
conf_text (Fixture * f, const gchar * protocol, const gchar * extra)
{
  guint port = lb_test_relay_port (f->relay);
  return g_strdup_printf ("[store]\ndir=%s\n[recorder]\nenabled=false\n"
      "[upload]\nprotocol=%s\n"
      "url-template=http://127.0.0.1:%u/files/\n"
      "s3-endpoint=http://127.0.0.1:%u\ns3-bucket=" BUCKET "\n"
      "s3-region=eu-west-1\ns3-access-key-id=S3RVER\n"
      "s3-secret-access-key=S3RVER\ns3-path-style=true\n"
      "s3-part-size=5MiB\ntus-chunk-size=4MiB\n"
      "connect-timeout=1s\ntimeout=10s\nbackoff-min=20ms\nbackoff-max=200ms\n"
      "%s", f->dir, protocol, port, port, extra ? extra : "");
}

static void
write_conf (Fixture * f, const gchar * protocol, const gchar * extra)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *text = conf_text (f, protocol, extra);
  g_autofree gchar *name = g_build_filename (f->dir, "lookback.conf", NULL);
  g_assert_true (g_file_set_contents (name, text, -1, &error));
  f->config = lb_config_load (name, &error);
  g_assert_no_error (error);
}

static void
start_uploader (Fixture * f, const gchar * protocol, const gchar * extra)
{
  g_autoptr (GError) error = NULL;
  write_conf (f, protocol, extra);
  f->up = lb_uploader_new (f->config, f->store, &error);
  g_assert_no_error (error);
  g_assert_true (lb_uploader_start (f->up, &error));
}

/* A pending retrieval row (organisation acme). */
static gint64
make_row (Fixture * f, const gchar * rid, const gchar * input)
{
  return lb_test_pending_row (f->store, rid, "veh 1", input,
      LB_MEDIA_TYPE_VIDEO_LOW_RES, 1000, 2000, 1);
}

/* Makes an output of @size bytes for a new row and queues it; returns its
 * SHA-256. */
static gchar *
queue (Fixture * f, const gchar * rid, gsize size, gint64 * out_row)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *name = g_strdup_printf ("%s.mp4", rid);
  g_autofree gchar *path = g_build_filename (f->outputs, name, NULL);
  gchar *sha = lb_test_make_file (path, size, g_str_hash (name));
  gint64 row = make_row (f, rid, "analog1");
  LbUploadJob job = { rid, "veh 1", "analog1", LB_MEDIA_TYPE_VIDEO_LOW_RES,
    path, 1000, 2000, NULL, row, "video/mp4", 0.5
  };
  g_assert_true (lb_store_upload_enqueue (f->store, &job, lb_time_now (),
          NULL, &error));
  g_assert_no_error (error);
  if (f->up)
    lb_uploader_poke (f->up);
  if (out_row)
    *out_row = row;
  return sha;
}

static gboolean
settled (gpointer data)
{
  Fixture *f = data;
  LbUploadCounts c;
  return lb_store_upload_counts (f->store, &c, NULL) && c.waiting == 0;
}

static LbUploadEntry *
entry (Fixture * f, const gchar * rid)
{
  g_autoptr (GError) error = NULL;
  LbUploadEntry *e = lb_store_upload_find (f->store, rid, "analog1", &error);
  g_assert_no_error (error);
  return e;
}

/* GET @url; its status, and the SHA-256 of the body in *@sha. */
static guint
http_get (const gchar * url, gchar ** sha)
{
  g_autoptr (SoupSession) s = soup_session_new ();
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
  g_autoptr (GBytes) body = soup_session_send_and_read (s, msg, NULL, NULL);
  g_assert_nonnull (body);
  if (sha)
    *sha = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, body);
  return soup_message_get_status (msg);
}

/* The object of a done entry, fetched with its presigned URL. */
static gchar *
fetch_presigned (Fixture * f, const gchar * rid)
{
  g_autoptr (LbUploadEntry) e = entry (f, rid);
  g_assert_cmpint (e->state, ==, LB_UPLOAD_DONE);
  g_assert_nonnull (e->public_url);
  g_autofree gchar *url = lb_uploader_presign (e->public_url, lb_time_now (),
      8 * 3600 * LB_NS_PER_SEC, f->up);
  g_assert_nonnull (strstr (url, "X-Amz-Expires=28800"));
  gchar *sha = NULL;
  g_assert_cmpuint (http_get (url, &sha), ==, 200);
  return sha;
}

/* The relay dropped the link at least @min_drops times while @size bytes
 * went through, and each drop cost at most one @unit (part, chunk) sent
 * again. */
static void
check_resent (Fixture * f, gsize size, guint min_drops, gint64 unit)
{
  guint drops = lb_test_relay_drops (f->relay);
  LbUploadStats st;
  g_assert_true (lb_uploader_get_stats (f->up, &st, NULL));
  g_test_message ("%u drops, %" G_GINT64_FORMAT " body bytes sent for %"
      G_GSIZE_FORMAT, drops, st.bytes_sent, size);
  g_assert_cmpuint (drops, >=, min_drops);
  g_assert_cmpint (st.bytes_sent, >=, (gint64) size);
  g_assert_cmpint (st.bytes_sent - (gint64) size, <=, drops * unit);
  lb_upload_stats_clear (&st);
}

/* ------------------------------------------------------------ signatures */

static JsonObject *
oracle_request (const gchar * method, const gchar * host, const gchar * path,
    const gchar * const *query, const gchar * token, gboolean presign)
{
  JsonObject *o = json_object_new ();
  JsonObject *key = json_object_new ();
  json_object_set_string_member (key, "accessKeyId", "AKIDEXAMPLE");
  json_object_set_string_member (key, "secretAccessKey", "wJalrXUtnFEMI/K7M");
  if (token)
    json_object_set_string_member (key, "sessionToken", token);
  json_object_set_string_member (key, "region", "eu-west-1");
  json_object_set_string_member (key, "service", "s3");
  json_object_set_object_member (o, "key", key);
  json_object_set_int_member (o, "time", 1764000000);
  json_object_set_string_member (o, "method", method);
  json_object_set_string_member (o, "host", host);
  json_object_set_string_member (o, "path", path);
  JsonArray *q = json_array_new ();
  for (guint i = 0; query && query[i]; i += 2) {
    JsonArray *pair = json_array_new ();
    json_array_add_string_element (pair, query[i]);
    json_array_add_string_element (pair, query[i + 1]);
    json_array_add_array_element (q, pair);
  }
  json_object_set_array_member (o, "query", q);
  json_object_set_boolean_member (o, "presign", presign);
  json_object_set_int_member (o, "expires", 28800);
  json_object_set_string_member (o, "payloadHash", presign ?
      LB_SIGV4_UNSIGNED_PAYLOAD : LB_SIGV4_EMPTY_SHA256);
  return o;
}

/* lookback's signatures and presigned URLs are the AWS SDK's, for keys with
 * spaces, UTF-8 and reserved characters, sub-resources and session tokens. */
static void
test_oracle (void)
{
  g_autoptr (LbTestPeer) oracle = lb_test_oracle_start ();
  const gchar *paths[] = { "/media/veh 1/r-1/analog1.mp4",
    "/media/véhicule/ሴ/a+b=c&d.jpg", "/media/a~b_c-d.e/(x)!*'.mp4", NULL
  };
  const gchar *q_part[] = { "partNumber", "3", "uploadId", "a/b+c=", NULL };
  const gchar *q_uploads[] = { "uploads", "", NULL };
  const gchar *const *queries[] = { NULL, q_part, q_uploads };
  const gchar *tokens[] = { NULL, "FQoGZXIvYXdzE+/=token" };

  for (guint p = 0; paths[p]; p++)
    for (guint q = 0; q < G_N_ELEMENTS (queries); q++)
      for (guint t = 0; t < G_N_ELEMENTS (tokens); t++) {
        LbSigV4Key key = { "AKIDEXAMPLE", "wJalrXUtnFEMI/K7M", tokens[t],
          "eu-west-1", "s3"
        };
        g_autofree gchar *date = lb_sigv4_amz_date (1764000000 * LB_NS_PER_SEC);
        const gchar *hdrs[] = { "host", "127.0.0.1:9000",
          "x-amz-content-sha256", LB_SIGV4_EMPTY_SHA256, "x-amz-date", date,
          tokens[t] ? "x-amz-security-token" : NULL, tokens[t], NULL
        };
        LbSigV4Request req = { "PUT", paths[p], queries[q], hdrs,
          LB_SIGV4_EMPTY_SHA256, FALSE
        };
        g_autofree gchar *mine = lb_sigv4_authorization (&key, &req, date);
        g_autoptr (JsonObject) ask = oracle_request ("PUT", "127.0.0.1:9000",
            paths[p], queries[q], tokens[t], FALSE);
        g_autoptr (JsonObject) theirs = lb_test_oracle_ask (oracle, ask);
        g_assert_cmpstr (mine, ==, json_object_get_string_member (theirs,
                "authorization"));

        /* presigned GET */
        const gchar *host[] = { "host", "127.0.0.1:9000", NULL };
        LbSigV4Request get = { "GET", paths[p], NULL, host,
          LB_SIGV4_UNSIGNED_PAYLOAD, FALSE
        };
        g_autofree gchar *query = lb_sigv4_presign_query (&key, &get, date,
            28800);
        g_autoptr (JsonObject) pask = oracle_request ("GET", "127.0.0.1:9000",
            paths[p], NULL, tokens[t], TRUE);
        g_autoptr (JsonObject) pans = lb_test_oracle_ask (oracle, pask);
        JsonObject *pq = json_object_get_object_member (pans, "query");
        g_autofree gchar *want = g_strdup_printf ("X-Amz-Signature=%s",
            json_object_get_string_member (pq, "X-Amz-Signature"));
        g_assert_true (g_str_has_suffix (query, want));
      }
}

/* ------------------------------------------------------------------ s3 */


/* A small output: one PutObject; the presigned URL fetches it, a tampered
 * one is refused. */
static void
test_s3_put_object (Fixture * f, gconstpointer data)
{
  start_s3 (f, 0);
  start_uploader (f, "s3", NULL);
  g_autofree gchar *sha = queue (f, "r-small", 300 * 1024, NULL);
  g_assert_true (lb_test_wait_for (settled, f, 20000));
  g_autofree gchar *got = fetch_presigned (f, "r-small");
  g_assert_cmpstr (got, ==, sha);

  g_autoptr (LbUploadEntry) e = entry (f, "r-small");
  g_assert_true (g_str_has_suffix (e->public_url,
          "/" BUCKET "/veh%201/r-small/analog1.mp4"));
  g_autofree gchar *url = lb_uploader_presign (e->public_url, lb_time_now (),
      3600 * LB_NS_PER_SEC, f->up);
  g_autofree gchar *bad = g_strdup (url);
  bad[strlen (bad) - 1] = bad[strlen (bad) - 1] == '0' ? '1' : '0';
  g_assert_cmpuint (http_get (bad, NULL), ==, 403);
  /* the peer checked every signature (s3rver alone checks none) */
  g_assert_cmpint (lb_test_peer_stat (f->peer, "/__stats", "checked"), >=, 3);
  g_assert_cmpint (lb_test_peer_stat (f->peer, "/__stats", "refused"), ==, 1);
}

/* A wrong secret: s3rver refuses the signature (403), the retrieval fails
 * with the endpoint's reason (s3rver takes unsigned PUTs: this shows that
 * lookback's requests are signed and checked). */
static void
test_s3_wrong_signature (Fixture * f, gconstpointer data)
{
  start_s3 (f, 0);
  start_uploader (f, "s3", "s3-secret-access-key=not-the-secret\n");
  gint64 row = 0;
  g_autofree gchar *sha = queue (f, "r-bad", 1000, &row);
  g_assert_true (lb_test_wait_for (settled, f, 20000));
  g_autoptr (LbUploadEntry) e = entry (f, "r-bad");
  g_assert_cmpint (e->state, ==, LB_UPLOAD_FAILED);
  g_test_message ("reason: %s", e->last_error);
  g_assert_nonnull (strstr (e->last_error, "403"));
  g_assert_nonnull (strstr (e->last_error, "SignatureDoesNotMatch"));
  g_autoptr (LbRetrieval) r = NULL;
  g_assert_true (lb_store_api_get (f->store, row, &r, NULL));
  g_assert_cmpint (r->status, ==, LB_RETRIEVAL_FAILED);
}

/* 24 MiB in 5 MiB parts through a link dropped every 7 MiB: the object
 * arrives whole, each drop costs at most the part in flight, and each
 * part's ETag (the MD5 s3rver computed of what it stored) is the MD5
 * lookback sent as Content-MD5 and journaled. */
static void
test_s3_multipart_drops (Fixture * f, gconstpointer data)
{
  const gsize size = 24 * MiB;
  start_s3 (f, 7 * MiB);
  start_uploader (f, "s3", NULL);
  g_autofree gchar *sha = queue (f, "r-big", size, NULL);
  g_assert_true (lb_test_wait_for (settled, f, 120000));
  g_autofree gchar *got = fetch_presigned (f, "r-big");
  g_assert_cmpstr (got, ==, sha);

  check_resent (f, size, 3, 5 * MiB);

  g_autoptr (LbUploadEntry) e = entry (f, "r-big");
  g_autoptr (GArray) parts = lb_store_upload_parts (f->store, e->id, NULL);
  g_assert_cmpuint (parts->len, ==, 5);
  for (guint i = 0; i < parts->len; i++) {
    LbUploadPart *p = &g_array_index (parts, LbUploadPart, i);
    g_autofree gchar *quoted = g_strdup_printf ("\"%s\"", p->md5);
    g_assert_cmpint (p->number, ==, i + 1);
    g_assert_cmpstr (p->etag, ==, quoted);
  }
}

typedef struct
{
  Fixture *f;
  gint64 acked;
} AckedWait;

/* A part refused for good fails the retrieval and aborts the multipart
 * upload, so that the store drops the parts it holds. */
static void
test_s3_abort (Fixture * f, gconstpointer data)
{
  start_s3 (f, 0);
  start_uploader (f, "s3", NULL);
  gint64 row = 0;
  g_autofree gchar *sha = queue (f, "refuse-part-2", 12 * MiB, &row);
  g_assert_true (lb_test_wait_for (settled, f, 60000));
  g_autoptr (LbUploadEntry) e = entry (f, "refuse-part-2");
  g_assert_cmpint (e->state, ==, LB_UPLOAD_FAILED);
  g_test_message ("reason: %s", e->last_error);
  g_assert_nonnull (strstr (e->last_error, "InvalidArgument"));
  g_assert_cmpint (lb_test_peer_stat (f->peer, "/__stats", "aborts"), ==, 1);
  g_assert_cmpint (lb_test_peer_stat (f->peer, "/__stats", "puts"), ==, 0);
  g_autoptr (LbRetrieval) r = NULL;
  g_assert_true (lb_store_api_get (f->store, row, &r, NULL));
  g_assert_cmpint (r->status, ==, LB_RETRIEVAL_FAILED);
}

static gboolean
acked_reached (gpointer data)
{
  AckedWait *w = data;
  g_autoptr (LbUploadEntry) e = lb_store_upload_find (w->f->store, "r-kill",
      "analog1", NULL);
  return e && e->acked >= w->acked;
}

/* Runs the uploader in a process of its own (config: the fixture's) on the
 * queued "r-kill", and kills it with SIGKILL once the endpoint acknowledged
 * @acked bytes. */
static void
run_and_kill (Fixture * f, gint64 acked)
{
  g_autofree gchar *conf = g_build_filename (f->dir, "lookback.conf", NULL);
  const gchar *argv[] = { g_getenv ("LB_UPLOAD_RUNNER"), conf, NULL };
  g_autoptr (GError) error = NULL;
  AckedWait w = { f, acked };

  g_autoptr (GSubprocess) first = lb_test_spawn_tied (argv, &error);
  g_assert_no_error (error);
  g_assert_true (lb_test_wait_for (acked_reached, &w, 60000));
  g_subprocess_send_signal (first, SIGKILL);
  g_subprocess_wait (first, NULL, NULL);
  g_autoptr (LbUploadEntry) mid = entry (f, "r-kill");
  g_assert_cmpint (mid->state, ==, LB_UPLOAD_WAITING);
  g_test_message ("killed with %" G_GINT64_FORMAT " bytes acknowledged",
      mid->acked);
}

/* ... then runs it again to the end; returns the bytes of request bodies
 * and headers that went through the relay in both runs. */
static gint64
run_to_end (Fixture * f)
{
  g_autofree gchar *conf = g_build_filename (f->dir, "lookback.conf", NULL);
  const gchar *argv[] = { g_getenv ("LB_UPLOAD_RUNNER"), conf, NULL };
  g_autoptr (GError) error = NULL;

  g_autoptr (GSubprocess) second = lb_test_spawn_tied (argv, &error);
  g_assert_true (g_subprocess_wait_check (second, NULL, &error));
  g_assert_no_error (error);
  gint64 sent = lb_test_relay_bytes_up (f->relay);
  g_test_message ("%" G_GINT64_FORMAT " bytes through the relay", sent);
  return sent;
}

static gint64
kill_and_resume (Fixture * f, gint64 acked)
{
  run_and_kill (f, acked);
  return run_to_end (f);
}

/* kill -9 in the middle of a multipart upload: the next run resumes at the
 * next unacknowledged part (the relay counts every byte of both runs). */
static void
test_s3_kill_resume (Fixture * f, gconstpointer data)
{
  const gsize size = 30 * MiB;
  start_s3 (f, 0);
  write_conf (f, "s3", "max-rate=20MiB\n");
  g_autofree gchar *sha = queue (f, "r-kill", size, NULL);
  gint64 sent = kill_and_resume (f, 10 * MiB);

  g_autoptr (GError) error = NULL;
  f->up = lb_uploader_new (f->config, f->store, &error);
  g_assert_no_error (error);
  g_autofree gchar *got = fetch_presigned (f, "r-kill");
  g_assert_cmpstr (got, ==, sha);
  g_assert_cmpint (sent - (gint64) size, <=, 5 * MiB + SLACK);
}

/* A crash between the endpoint's answers and their record: the journal
 * knows the upload but none of its parts.  The next run asks the endpoint
 * (ListParts), takes the parts whose ETag is their MD5, and sends only the
 * others. */
static void
test_s3_list_parts (Fixture * f, gconstpointer data)
{
  const gsize size = 30 * MiB;
  g_autoptr (GError) error = NULL;
  start_s3 (f, 0);
  write_conf (f, "s3", "max-rate=20MiB\n");
  g_autofree gchar *sha = queue (f, "r-kill", size, NULL);
  run_and_kill (f, 10 * MiB);
  g_autoptr (LbUploadEntry) mid = entry (f, "r-kill");
  g_assert_true (lb_store_upload_set_session (f->store, mid->id,
          mid->session, 0, &error));
  g_autoptr (GArray) none = lb_store_upload_parts (f->store, mid->id, NULL);
  g_assert_cmpuint (none->len, ==, 0);
  gint64 sent = run_to_end (f);

  f->up = lb_uploader_new (f->config, f->store, &error);
  g_assert_no_error (error);
  g_autofree gchar *got = fetch_presigned (f, "r-kill");
  g_assert_cmpstr (got, ==, sha);
  g_assert_cmpint (sent - (gint64) size, <=, 5 * MiB + SLACK);
  g_autoptr (GArray) parts = lb_store_upload_parts (f->store, mid->id, NULL);
  g_assert_cmpuint (parts->len, ==, 6);
}

/* ------------------------------------------------------------------ tus */

/* The upload of @rid is done, all @size bytes acknowledged, and the file
 * the tus server holds has the SHA-256 @sha. */
static void
check_tus_stored (Fixture * f, const gchar * rid, gsize size, const gchar * sha)
{
  g_autoptr (LbUploadEntry) e = entry (f, rid);
  g_assert_cmpint (e->state, ==, LB_UPLOAD_DONE);
  g_assert_cmpint (e->acked, ==, (gint64) size);
  /* @tus/file-store keeps the upload under its id, the URL's last part */
  g_autofree gchar *id = g_path_get_basename (e->session);
  g_autofree gchar *file = g_build_filename (f->dir, "tus", id, NULL);
  g_autofree gchar *got = lb_test_file_sha256 (file);
  g_assert_cmpstr (got, ==, sha);
}

/* 18 MiB in 4 MiB PATCHes with their SHA-256 through a link dropped every
 * 6 MiB: the file the tus server holds is the output, every chunk's
 * checksum was checked, each drop cost at most the chunk in flight. */
static void
test_tus_drops (Fixture * f, gconstpointer data)
{
  const gsize size = 18 * MiB;
  start_tus (f, 6 * MiB);
  start_uploader (f, "tus", NULL);
  g_autofree gchar *sha = queue (f, "r-tus", size, NULL);
  g_assert_true (lb_test_wait_for (settled, f, 120000));
  check_tus_stored (f, "r-tus", size, sha);
  g_assert_cmpint (lb_test_peer_stat (f->peer, "/stats", "checksums"), >=, 5);

  check_resent (f, size, 2, 4 * MiB);
}

/* kill -9 in the middle of a tus upload: the next run asks the server for
 * its offset (HEAD) and sends the rest, re-sending at most the chunk that
 * was in flight. */
static void
test_tus_kill_resume (Fixture * f, gconstpointer data)
{
  const gsize size = 30 * MiB;
  start_tus (f, 0);
  write_conf (f, "tus", "max-rate=20MiB\n");
  g_autofree gchar *sha = queue (f, "r-kill", size, NULL);
  gint64 sent = kill_and_resume (f, 8 * MiB);

  check_tus_stored (f, "r-kill", size, sha);
  g_assert_cmpint (sent - (gint64) size, <=, 4 * MiB + SLACK);
}

/* ------------------------------------------------------------------ put */

/* A put uploader (a fresh one) to the nginx @ngx at @location. */
static void
start_put (Fixture * f, LbTestNginx * ngx, const gchar * location)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *tmpl = g_strdup_printf ("http://127.0.0.1:%u/%s/"
      "{retrievalId}.{ext}", lb_test_nginx_port (ngx), location);
  g_clear_pointer (&f->up, lb_uploader_free);
  g_clear_pointer (&f->config, lb_config_free);
  f->config = lb_test_upload_config (f->dir, tmpl);
  f->up = lb_uploader_new (f->config, f->store, &error);
  g_assert_no_error (error);
  g_assert_true (lb_uploader_start (f->up, &error));
}

/* A refused large file is not sent in full (Expect: 100-continue: nginx
 * refuses the body before it is sent, instead of reading it all away). */
static void
test_put_expect (Fixture * f, gconstpointer data)
{
  g_autoptr (LbTestNginx) ngx = lb_test_nginx_new (f->dir, 0);
  lb_test_nginx_start (ngx);
  start_put (f, ngx, "small");
  g_autofree gchar *sha = queue (f, "r-refused", 16 * MiB, NULL);
  g_assert_true (lb_test_wait_for (settled, f, 60000));
  g_autoptr (LbUploadEntry) e = entry (f, "r-refused");
  g_assert_cmpint (e->state, ==, LB_UPLOAD_FAILED);
  g_assert_nonnull (strstr (e->last_error, "413"));
  LbUploadStats st;
  g_assert_true (lb_uploader_get_stats (f->up, &st, NULL));
  g_test_message ("refused: %" G_GINT64_FORMAT " of %d bytes sent",
      st.bytes_sent, 16 * MiB);
  g_assert_cmpint (st.bytes_sent, <, 16 * MiB);
  lb_upload_stats_clear (&st);
}

/* A 307 and a 308 are followed, once: a redirect answered by another one
 * fails the upload. */
static void
test_put_redirect (Fixture * f, gconstpointer data)
{
  g_autoptr (LbTestNginx) ngx = lb_test_nginx_new (f->dir, 0);
  lb_test_nginx_start (ngx);
  const gchar *locations[] = { "moved", "moved308", "twice" };

  for (guint i = 0; i < G_N_ELEMENTS (locations); i++) {
    g_autofree gchar *rid = g_strdup_printf ("r-%s", locations[i]);
    g_autofree gchar *name = g_strdup_printf ("%s.mp4", rid);
    start_put (f, ngx, locations[i]);
    g_autofree gchar *sha = queue (f, rid, 100000, NULL);
    g_assert_true (lb_test_wait_for (settled, f, 20000));
    g_autoptr (LbUploadEntry) e = entry (f, rid);
    g_autofree gchar *path = g_build_filename (lb_test_nginx_root (ngx), "up",
        name, NULL);
    g_autofree gchar *got = lb_test_file_sha256 (path);
    if (g_str_equal (locations[i], "twice")) {
      g_assert_cmpint (e->state, ==, LB_UPLOAD_FAILED);
      g_test_message ("reason: %s", e->last_error);
      g_assert_nonnull (strstr (e->last_error, "after a redirect"));
      g_assert_nonnull (strstr (e->last_error, "307"));
      g_assert_null (got);
    } else {
      g_assert_cmpint (e->state, ==, LB_UPLOAD_DONE);
      g_assert_cmpstr (got, ==, sha);
    }
  }
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/upload/s3/oracle", test_oracle);
#define ADD(name, fn) g_test_add (name, Fixture, NULL, setup, fn, teardown)
  ADD ("/upload/s3/put-object", test_s3_put_object);
  ADD ("/upload/s3/wrong-signature", test_s3_wrong_signature);
  ADD ("/upload/s3/multipart-drops", test_s3_multipart_drops);
  ADD ("/upload/s3/kill-resume", test_s3_kill_resume);
  ADD ("/upload/s3/abort", test_s3_abort);
  ADD ("/upload/s3/list-parts", test_s3_list_parts);
  ADD ("/upload/tus/drops", test_tus_drops);
  ADD ("/upload/tus/kill-resume", test_tus_kill_resume);
  ADD ("/upload/put/expect-continue", test_put_expect);
  ADD ("/upload/put/redirect-once", test_put_redirect);
  return g_test_run ();
}
