/* lookback bench — delivery to cloud peers on 127.0.0.1 (the peers of the
 * upload tests: tests/peers and tests/upload/lb-test-peers.c)
 *
 *   lb-bench-delivery [--size-mb 200] [--drop-mb 20] [--retrievals 200]
 *                     [--outage-s 120] [--events 200]
 *
 * Prints one Markdown row per measure:
 *   s3, tus   an object of --size-mb through a link dropped every --drop-mb:
 *             drops, body bytes sent ÷ object size, intact (SHA-256)
 *   offline   --retrievals outputs queued while the S3 endpoint is down for
 *             --outage-s: each stored once, in priority order
 *   webhooks  --events ended retrievals, the receiver failing its first 10
 *             answers and dropping one: events delivered, requests, lost
 *   max-rate  an object of --rate-s seconds at [upload] max-rate=--rate-mb
 *             MiB/s to S3: the rate achieved ÷ the cap (at most
 *             rate_s ÷ (rate_s - 1): the uploader starts with a second's
 *             bytes in its bucket; --rate-s 2 at least)
 * Exit status 1 when a target is missed.  Needs LB_PEERS_DIR (the bench
 * suite's environment sets it).
 */
#include "upload/lb-uploader.h"
#include "store/lb-store-upload.h"
#include "store/lb-store-api.h"
#include "core/lb-time.h"
#include "lb-test-peers.h"
#include "lb-test-upload-util.h"
#include "lb-test-common.h"

#include <glib/gstdio.h>
#include <gst/gst.h>
#include <libsoup/soup.h>
#include <string.h>

#define MiB (1024 * 1024)

static gint size_mb = 200, drop_mb = 20, retrievals = 200, outage_s = 120,
    events = 200, rate_mb = 2, rate_s = 15;
static gchar **only;
static gboolean failed;

typedef struct
{
  gchar *dir;
  LbStore *store;
  LbConfig *config;
  LbUploader *up;
} Bench;

static void
bench_open (Bench * b)
{
  b->dir = g_dir_make_tmp ("lb-bench-delivery-XXXXXX", NULL);
  g_autofree gchar *db = g_build_filename (b->dir, "lookback.db", NULL);
  b->store = lb_store_open (db, LB_STORE_OPEN_DEFAULT, NULL);
  g_assert_nonnull (b->store);
}

static void
bench_close (Bench * b)
{
  g_clear_pointer (&b->up, lb_uploader_free);
  g_clear_pointer (&b->config, lb_config_free);
  g_clear_pointer (&b->store, lb_store_free);
  lb_test_rm_rf (b->dir);
  g_free (b->dir);
}

/* An uploader of @protocol to 127.0.0.1:@port, capped at @max_rate bytes a
 * second (0: none). */
static void
start (Bench * b, const gchar * protocol, guint port, gint64 max_rate)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *text = g_strdup_printf ("[store]\ndir=%s\n"
      "[upload]\nprotocol=%s\nurl-template=http://127.0.0.1:%u/files/\n"
      "s3-endpoint=http://127.0.0.1:%u\ns3-bucket=media\n"
      "s3-access-key-id=S3RVER\ns3-secret-access-key=S3RVER\n"
      "s3-path-style=true\nbackoff-min=50ms\nbackoff-max=1s\ntimeout=20s\n"
      "max-rate=%" G_GINT64_FORMAT "\n", b->dir, protocol, port, port,
      max_rate);
  b->config = lb_config_load_data (text, "bench.conf", &error);
  g_assert_no_error (error);
  b->up = lb_uploader_new (b->config, b->store, &error);
  g_assert_no_error (error);
  g_assert_true (lb_uploader_start (b->up, &error));
}

static gchar *
queue (Bench * b, guint i, LbMediaType type, gsize size)
{
  g_autofree gchar *rid = g_strdup_printf ("r-%04u", i);
  g_autofree gchar *path = g_strdup_printf ("%s/%s.mp4", b->dir, rid);
  gchar *sha = lb_test_make_file (path, size, i + 1);
  LbUploadJob job = { rid, "veh1", "analog1", type, path, 1000, 2000, NULL, 0,
    "video/mp4", 0
  };
  g_assert_true (lb_store_upload_enqueue (b->store, &job, lb_time_now () + i,
          NULL, NULL));
  return sha;
}

static gboolean
settled (gpointer data)
{
  Bench *b = data;
  LbUploadCounts c;
  return lb_store_upload_counts (b->store, &c, NULL) && c.waiting == 0;
}


/* The object as the endpoint holds it. */
static gchar *
stored_sha (Bench * b, const gchar * protocol, LbTestPeer * peer)
{
  g_autoptr (LbUploadEntry) e = lb_store_upload_find (b->store, "r-0000",
      "analog1", NULL);
  if (e == NULL || e->state != LB_UPLOAD_DONE)
    return g_strdup ("not delivered");
  if (g_str_equal (protocol, "tus")) {
    g_autofree gchar *id = g_path_get_basename (e->session);
    g_autofree gchar *file = g_build_filename (b->dir, "peer", id, NULL);
    return lb_test_file_sha256 (file);
  }
  g_autofree gchar *url = lb_uploader_presign (e->public_url, lb_time_now (),
      3600 * LB_NS_PER_SEC, b->up);
  g_autoptr (SoupSession) s = soup_session_new ();
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) body = soup_session_send_and_read (s, msg, NULL, &error);
  if (body == NULL || soup_message_get_status (msg) != 200)
    return g_strdup_printf ("GET: HTTP %u %s", soup_message_get_status (msg),
        error ? error->message : "");
  g_autofree gchar *path = g_strdup_printf ("%s/r-0000.mp4", b->dir);
  g_autoptr (GMappedFile) orig = g_mapped_file_new (path, FALSE, NULL);
  gsize len = 0;
  const gchar *got = g_bytes_get_data (body, &len);
  const gchar *want = g_mapped_file_get_contents (orig);
  for (gsize off = 0; off < len; off += 8 * MiB)
    if (off + 8 * MiB > g_mapped_file_get_length (orig)
        || memcmp (got + off, want + off, MIN (8 * MiB, len - off)) != 0) {
      g_printerr ("the object differs in the 8 MiB part at %" G_GSIZE_FORMAT
          " (%" G_GSIZE_FORMAT " bytes got, %" G_GSIZE_FORMAT " sent)\n",
          off / (8 * MiB) + 1, len, g_mapped_file_get_length (orig));
      break;
    }
  return g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, body);
}

/* The peer of @protocol (s3: bucket "media"), keeping its files in
 * the bench's folder "peer". */
static LbTestPeer *
start_peer (Bench * b, const gchar * protocol)
{
  g_autofree gchar *data = g_build_filename (b->dir, "peer", NULL);
  g_mkdir (data, 0700);
  const gchar *s3args[] = { data, "media", NULL };
  const gchar *tusargs[] = { data, NULL };
  gboolean s3 = g_str_equal (protocol, "s3");
  return lb_test_peer_start (s3 ? "s3-server.js" : "tus-server.js",
      s3 ? s3args : tusargs);
}

static void
bench_drops (const gchar * protocol)
{
  Bench b = { 0 };
  bench_open (&b);
  g_autoptr (LbTestPeer) peer = start_peer (&b, protocol);
  g_autoptr (LbTestRelay) relay =
      lb_test_relay_new (lb_test_peer_port (peer), (gint64) drop_mb * MiB);
  start (&b, protocol, lb_test_relay_port (relay), 0);
  gint64 t0 = g_get_monotonic_time ();
  g_autofree gchar *sha = queue (&b, 0, LB_MEDIA_TYPE_VIDEO_HIGH_RES,
      (gsize) size_mb * MiB);
  lb_uploader_poke (b.up);
  gboolean done = lb_test_wait_for (settled, &b, 1800 * 1000);
  gdouble secs = (g_get_monotonic_time () - t0) / 1e6;
  g_autofree gchar *got = stored_sha (&b, protocol, peer);
  LbUploadStats st;
  lb_uploader_get_stats (b.up, &st, NULL);
  guint drops = lb_test_relay_drops (relay);
  gint64 size = (gint64) size_mb * MiB;
  gdouble ratio = st.bytes_sent / (gdouble) size;
  gboolean intact = done && g_str_equal (got, sha);
  if (!intact)
    g_printerr ("%s: %s, want %s\n", protocol, got, sha);
  /* target: at most one part (chunk) re-sent per drop, compared in bytes
   * (exactly one part per drop is 1.6666666666666667 against a bound of
   * 1.6666666666666665 in doubles, for 2 drops of 24 MB) */
  gint64 allowed = size + (gint64) drops * 8 * MiB;
  gdouble bound = allowed / (gdouble) size;
  g_print ("| %s, %d MB, link dropped every %d MB | %u drops | %.3f "
      "(bound %.3f) | %s | %.1f s |\n", protocol, size_mb, drop_mb, drops,
      ratio, bound, intact ? "intact (SHA-256)" : "DAMAGED OR MISSING", secs);
  failed |= !intact || st.bytes_sent > allowed;
  lb_upload_stats_clear (&st);
  bench_close (&b);
}

/* Uploaded order: priority first, then creation, each object once. */
static gboolean
in_priority_order (Bench * b, guint * out_done)
{
  g_autoptr (GPtrArray) all = lb_store_upload_list (b->store, NULL);
  g_autoptr (GArray) order = g_array_new (FALSE, FALSE, sizeof (gint64));
  gboolean ok = TRUE;
  *out_done = 0;
  for (guint i = 0; i < all->len; i++) {
    LbUploadEntry *e = all->pdata[i];
    if (e->state == LB_UPLOAD_DONE)
      (*out_done)++;
  }
  /* list is in (priority, created) order: uploaded_ns must not go back */
  gint64 last = 0;
  for (guint i = 0; i < all->len; i++) {
    LbUploadEntry *e = all->pdata[i];
    if (e->uploaded_ns < last)
      ok = FALSE;
    last = e->uploaded_ns;
  }
  return ok;
}

static void
bench_offline (void)
{
  Bench b = { 0 };
  bench_open (&b);
  g_autoptr (LbTestPeer) peer = start_peer (&b, "s3");
  g_autoptr (LbTestRelay) relay = lb_test_relay_new (lb_test_peer_port (peer),
      0);
  lb_test_relay_set_down (relay, TRUE);
  start (&b, "s3", lb_test_relay_port (relay), 0);
  const LbMediaType types[] = { LB_MEDIA_TYPE_HYPERLAPSE,
    LB_MEDIA_TYPE_VIDEO_LOW_RES, LB_MEDIA_TYPE_IMAGE,
    LB_MEDIA_TYPE_VIDEO_HIGH_RES
  };
  for (gint i = 0; i < retrievals; i++)
    g_free (queue (&b, i, types[i % 4], 20000 + i));
  lb_uploader_poke (b.up);
  g_usleep ((gulong) outage_s * G_USEC_PER_SEC);
  lb_test_relay_set_down (relay, FALSE);
  gint64 t0 = g_get_monotonic_time ();
  gboolean done = lb_test_wait_for (settled, &b, 600 * 1000);
  gdouble secs = (g_get_monotonic_time () - t0) / 1e6;
  guint n_done = 0;
  gboolean order = in_priority_order (&b, &n_done);
  gint64 puts = lb_test_peer_stat (peer, "/__stats", "puts");
  gboolean ok = done && order && n_done == (guint) retrievals
      && puts == retrievals;
  g_print ("| %d retrievals queued, endpoint down %d s | %u uploaded, %"
      G_GINT64_FORMAT
      " objects stored | %s | %s | %.1f s after it came back |\n", retrievals,
      outage_s, n_done, puts, order ? "priority order" : "OUT OF ORDER",
      ok ? "each once" : "MISSED", secs);
  failed |= !ok;
  bench_close (&b);
}

/* [upload] max-rate: the time from the poke to the acknowledged object
 * includes hashing it; the uploader starts with a full bucket (one second's
 * bytes), so an object of rate_s seconds takes at least rate_s - 1. */
static void
bench_rate (void)
{
  Bench b = { 0 };
  bench_open (&b);
  g_autoptr (LbTestPeer) peer = start_peer (&b, "s3");
  rate_s = MAX (rate_s, 2);
  const gint64 cap = (gint64) rate_mb * MiB, size = cap * rate_s;
  start (&b, "s3", lb_test_peer_port (peer), cap);
  g_autofree gchar *sha = queue (&b, 0, LB_MEDIA_TYPE_VIDEO_HIGH_RES, size);
  gint64 t0 = g_get_monotonic_time ();
  lb_uploader_poke (b.up);
  gboolean done = lb_test_wait_for (settled, &b, 600 * 1000);
  gdouble secs = (g_get_monotonic_time () - t0) / 1e6;
  g_autofree gchar *got = stored_sha (&b, "s3", peer);
  gboolean intact = done && g_str_equal (got, sha);
  gdouble ratio = size / secs / cap, bound = rate_s / (rate_s - 1.0);
  g_print ("| s3, %" G_GINT64_FORMAT " MiB at max-rate=%dMiB | %.2f MiB/s | "
      "%.3f of the cap (bound %.3f) | %s | %.1f s |\n", size / MiB, rate_mb,
      size / secs / MiB, ratio, bound, intact ? "intact (SHA-256)" :
      "DAMAGED OR MISSING", secs);
  failed |= !intact || ratio > bound;
  bench_close (&b);
}

static gboolean
events_settled (gpointer data)
{
  Bench *b = data;
  LbUploadCounts c;
  return lb_store_upload_counts_kind (b->store, LB_UPLOAD_KIND_WEBHOOK, &c,
      NULL) && c.waiting == 0;
}

static void
bench_webhooks (void)
{
  Bench b = { 0 };
  bench_open (&b);
  g_autoptr (LbTestReceiver) recv = lb_test_receiver_new ("bench-secret", 10,
      TRUE);
  g_autofree gchar *secret = g_build_filename (b.dir, "secret", NULL);
  g_file_set_contents (secret, "bench-secret", -1, NULL);
  g_autofree gchar *text = g_strdup_printf ("[store]\ndir=%s\n[webhook]\n"
      "url=http://127.0.0.1:%u/hook\nsecret-file=%s\nbackoff-min=20ms\n"
      "backoff-max=500ms\n", b.dir, lb_test_receiver_port (recv), secret);
  b.config = lb_config_load_data (text, "bench.conf", NULL);
  lb_store_upload_set_webhooks (b.store, TRUE);
  b.up = lb_uploader_new_webhooks (b.config, b.store, NULL);
  lb_uploader_start (b.up, NULL);
  for (gint i = 0; i < events; i++) {
    g_autofree gchar *rid = g_uuid_string_random ();
    gint64 row = lb_test_pending_row (b.store, rid, "veh1", "analog1",
        LB_MEDIA_TYPE_IMAGE, 1000, 1000, 0.1);
    lb_store_api_finish_unavailable (b.store, row, "nothing", NULL);
  }
  lb_uploader_poke (b.up);
  gboolean done = lb_test_wait_for (events_settled, &b, 300 * 1000);
  g_autoptr (GHashTable) ev = lb_test_receiver_events (recv);
  g_autoptr (GPtrArray) ids = lb_test_receiver_ids (recv);
  guint strangers = 0;
  for (guint i = 0; i < ids->len; i++)
    strangers += !g_hash_table_contains (ev, ids->pdata[i]);
  gboolean ok = done && g_hash_table_size (ev) == (guint) events
      && strangers == 0 && lb_test_receiver_bad (recv) == 0;
  g_print ("| %d events, receiver fails 10 answers and drops 1 | %u "
      "delivered, %u requests | %u lost | duplicates only retries of an "
      "event id: %s |\n", events, g_hash_table_size (ev), ids->len,
      events - g_hash_table_size (ev), strangers == 0 ? "yes" : "NO");
  failed |= !ok;
  bench_close (&b);
}

static gboolean
want (const gchar * part)
{
  return only == NULL || g_strv_contains ((const gchar * const *) only, part);
}

int
main (int argc, char **argv)
{
  const GOptionEntry entries[] = {
    {"size-mb", 0, 0, G_OPTION_ARG_INT, &size_mb, "object size", "MB"},
    {"drop-mb", 0, 0, G_OPTION_ARG_INT, &drop_mb, "drop every", "MB"},
    {"retrievals", 0, 0, G_OPTION_ARG_INT, &retrievals, "queued", "N"},
    {"outage-s", 0, 0, G_OPTION_ARG_INT, &outage_s, "endpoint down", "S"},
    {"events", 0, 0, G_OPTION_ARG_INT, &events, "webhook events", "N"},
    {"rate-mb", 0, 0, G_OPTION_ARG_INT, &rate_mb, "max-rate", "MiB/s"},
    {"rate-s", 0, 0, G_OPTION_ARG_INT, &rate_s, "object at max-rate", "S"},
    {"only", 0, 0, G_OPTION_ARG_STRING_ARRAY, &only,
        "s3, tus, offline, webhooks or max-rate (repeatable)", "PART"},
    {NULL}
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("");
  g_option_context_add_main_entries (ctx, entries, NULL);
  gst_init (&argc, &argv);
  if (!g_option_context_parse (ctx, &argc, &argv, NULL))
    return 2;
  g_print ("| measure | figures | ratio / order | result | time |\n"
      "| --- | --- | --- | --- | --- |\n");
  if (want ("s3"))
    bench_drops ("s3");
  if (want ("tus"))
    bench_drops ("tus");
  if (want ("offline"))
    bench_offline ();
  if (want ("webhooks"))
    bench_webhooks ();
  if (want ("max-rate"))
    bench_rate ();
  return failed ? 1 : 0;
}
