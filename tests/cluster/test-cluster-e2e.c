/* Three lookbackd nodes and one PostgreSQL 15, all on loopback: each node
 * records its own test camera (videotestsrc, every frame stamped with its
 * wall-clock time) and any node answers any call.  Tokens are made as an
 * operator makes them, by `lookback token add` with a node's configuration.
 *
 *  - creates spread round-robin over the nodes, each for a vehicle another
 *    node records, all end available with the right frames (stamps read
 *    back from the images, fetched from the recording node's URL);
 *  - 60 creates at once over the three nodes against an allowance of ten
 *    images: exactly ten;
 *  - a node killed -9 in the middle of a transcode: its vehicle's new
 *    retrievals wait, pending; at its restart the row runs again and ends
 *    once, charged once;
 *  - PostgreSQL stopped in the middle of a transcode: creates, reads and
 *    lists answer 503 saying why, the job ends and its outcome waits in the
 *    node's journal (read from its SQLite), recording goes on; once the
 *    database is back the outcome is recorded, the journal empties, nothing
 *    is lost. */
#include "core/lb-error.h"
#include "core/lb-time.h"
#include "quota/lb-quota.h"
#include "recorder/lb-indexer.h"
#include "store/lb-store-api.h"
#include "store/lb-store-cluster.h"
#include "store/lb-store-footage.h"
#include "store/lb-store-pg.h"
#include "jobs-test-media.h"
#include "lb-test-common.h"
#include "lb-test-pg.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <string.h>

#define N_NODES 3
#define INPUT "dashcamRoadFacing"
#define FPS 10
#define SEC LB_NS_PER_SEC
#define MS LB_NS_PER_MS
/* Footage this old is indexed whole, the frames after it too (a 1 s
 * fragment, and the encoder's delay on a busy machine): images ask for it. */
#define SETTLED (4 * SEC)

typedef struct
{
  gchar *name;
  gchar *vehicle;
  gchar *dir;
  gchar *conf;
  gchar *log;
  gchar *url;
  GSubprocess *proc;
} Node;

static LbTestPg *pg;
static Node nodes[N_NODES];
static LbStore *client;         /* joined as the CLI is: tokens, checks */
static gchar *base_dir;
static gint64 import_t0;        /* node 2's imported 30 s of 640x480 */

/* ---- nodes ------------------------------------------------------------- */

static void
node_init (Node * n, guint i)
{
  guint port = lb_test_dead_port ();
  n->name = g_strdup_printf ("node%u", i);
  n->vehicle = g_strdup_printf ("veh%u", i);
  n->dir = g_build_filename (base_dir, n->name, NULL);
  n->conf = g_build_filename (n->dir, "lookback.conf", NULL);
  n->log = g_build_filename (n->dir, "lookbackd.log", NULL);
  n->url = g_strdup_printf ("http://127.0.0.1:%u", port);
  g_assert_cmpint (g_mkdir_with_parents (n->dir, 0700), ==, 0);
  g_autofree gchar *text = g_strdup_printf ("[server]\nlisten=127.0.0.1:%u\n"
      "[store]\ndir=%s\n"
      "[cluster]\ndatabase=%s\nnode=%s\nadvertise=%s\nheartbeat=500ms\n"
      "[recorder]\ntime-source=trust\n[jobs]\nworkers=1\n"
      "[api]\ncreate-per-minute=1000000\nreads-per-second=1000000\n"
      "[org small]\nallowance=1.0\n"
      "[input %s " INPUT "]\nsource=videotestsrc is-live=true pattern=ball "
      "! video/x-raw,width=160,height=120,framerate=%d/1 ! lbclockstamp source=wall\n",
      port, n->dir, lb_test_pg_uri (pg), n->name, n->url, n->vehicle, FPS);
  g_assert_true (g_file_set_contents (n->conf, text, -1, NULL));
}

static JsonNode *http (const gchar * base, const gchar * method,
    const gchar * path, const gchar * token, const gchar * body,
    guint * status);

static void
node_start (Node * n)
{
  g_autoptr (GError) error = NULL;
  g_assert_null (n->proc);
  const gchar *argv[] = { g_getenv ("LOOKBACKD"), "--config", n->conf, NULL };
  g_assert_nonnull (argv[0]);
  /* tied to the test: a failing test leaves no daemon behind */
  n->proc = lb_test_spawn_tied_logged (argv, n->log, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < 3000; i++) {
    guint status = 0;
    g_autoptr (JsonNode) h = http (n->url, "GET", "/healthz", NULL, NULL,
        &status);
    if (status == 200)
      return;
    if (g_subprocess_get_identifier (n->proc) == NULL)
      break;
    g_usleep (20000);
  }
  g_error ("%s did not start (see %s)", n->name, n->log);
}

/* SIGTERM (a clean stop, which must exit 0: leaks fail the sanitized run)
 * or SIGKILL. */
static void
node_stop (Node * n, gint sig)
{
  if (n->proc == NULL)
    return;
  g_subprocess_send_signal (n->proc, sig);
  g_assert_true (g_subprocess_wait (n->proc, NULL, NULL));
  if (sig == SIGTERM && !g_subprocess_get_successful (n->proc)) {
    g_autofree gchar *text = NULL;
    g_file_get_contents (n->log, &text, NULL, NULL);
    g_test_message ("%s ended badly (signal %d, status %d):\n%s", n->name,
        g_subprocess_get_if_signaled (n->proc) ?
        g_subprocess_get_term_sig (n->proc) : 0,
        g_subprocess_get_if_exited (n->proc) ?
        g_subprocess_get_exit_status (n->proc) : -1, text ? text : "");
    g_assert_true (g_subprocess_get_successful (n->proc));
  }
  g_clear_object (&n->proc);
}

/* ---- HTTP -------------------------------------------------------------- */

static JsonNode *
http (const gchar * base, const gchar * method, const gchar * path,
    const gchar * token, const gchar * body, guint * status)
{
  g_autoptr (SoupSession) session =
      soup_session_new_with_options ("timeout", 60, NULL);
  JsonNode *reply = lb_test_api_call (session, base, token, method, path,
      body, status);
  if (reply && JSON_NODE_HOLDS_NULL (reply))
    g_clear_pointer (&reply, json_node_unref);
  return reply;
}

static gchar *
rfc (gint64 ns)
{
  return lb_time_format_rfc3339 (ns);
}

static const gchar *
member (JsonNode * n, const gchar * a, const gchar * b)
{
  JsonObject *o = json_object_get_object_member (json_node_get_object (n), a);
  return json_object_get_string_member (o, b);
}

/* The body of a create of @vehicle's INPUT over [@start, @end]. */
static gchar *
create_body (const gchar * vehicle, const gchar * type, gint64 start,
    gint64 end)
{
  g_autofree gchar *s = rfc (start);
  g_autofree gchar *e = rfc (end);
  return g_strdup_printf ("{\"vehicleId\": \"%s\", \"mediaType\": \"%s\", "
      "\"startTime\": \"%s\", \"endTime\": \"%s\", \"inputs\": [\"" INPUT
      "\"]}", vehicle, type, s, e);
}

/* POST a retrieval of @vehicle over [@start, @end]; its retrievalId, or
 * NULL when the answer is not 200 (*@status says what it was). */
static gchar *
create (const Node * via, const gchar * token, const gchar * vehicle,
    const gchar * type, gint64 start, gint64 end, guint * status)
{
  g_autofree gchar *body = create_body (vehicle, type, start, end);
  g_autoptr (JsonNode) r = http (via->url, "POST",
      "/cameras/media/retrieval", token, body, status);
  return *status == 200 ? g_strdup (member (r, "data", "retrievalId")) : NULL;
}

/* GET the retrieval through @via until it is not pending (a 503 while the
 * database is coming back is waited out); its first media object. */
static JsonObject *
wait_done (const Node * via, const gchar * token, const gchar * rid,
    guint seconds)
{
  g_autofree gchar *path =
      g_strdup_printf ("/cameras/media/retrieval?retrievalId=%s", rid);
  gint64 until = g_get_monotonic_time () + seconds * G_TIME_SPAN_SECOND;
  while (g_get_monotonic_time () < until) {
    guint status = 0;
    g_autoptr (JsonNode) r = http (via->url, "GET", path, token, NULL, &status);
    if (status == 200) {
      JsonObject *m =
          json_array_get_object_element (json_object_get_array_member
          (json_object_get_object_member (json_node_get_object (r), "data"),
              "media"), 0);
      if (g_strcmp0 (json_object_get_string_member (m, "status"),
              "pending") != 0)
        return json_object_ref (m);
    } else {
      g_assert_cmpuint (status, ==, 503);
    }
    g_usleep (50000);
  }
  g_error ("retrieval %s still pending after %u s", rid, seconds);
}

static gint64
time_member (JsonObject * o, const gchar * name)
{
  gint64 ns = 0;
  g_assert_true (lb_time_parse_rfc3339 (json_object_get_string_member (o,
              name), &ns, NULL));
  return ns;
}

/* ---- tokens; the cluster's books, through a client store ---------------- */

/* A new token of @org, made as an operator makes one: `lookback token add`
 * with node @i's configuration, which joins the cluster as a client and
 * writes the token to the database (any node accepts it). */
static gchar *
add_token_on (guint i, const gchar * org)
{
  g_auto (LbTestProgram) p = { 0 };
  const gchar *args[] = { "token", "add", "--org", org, "--scopes",
    "media:read,media:write", NULL
  };
  lb_test_lookback (&p, nodes[i].conf, NULL, NULL, args);
  if (p.status != 0)
    g_error ("lookback token add: %d: %s", p.status, p.err);
  return g_strdup (g_strstrip (p.out));
}

static gchar *
add_token (const gchar * org)
{
  static guint turn;
  return add_token_on (turn++ % N_NODES, org);
}

static LbRetrieval *
row_of (const gchar * rid, const gchar * org)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) rows = NULL;
  g_assert_true (lb_store_api_get_retrieval (client, rid, org, &rows, &error));
  g_assert_no_error (error);
  return g_ptr_array_steal_index (rows, 0);
}

/* Waits (up to 60 s) for the row to be running on its node. */
static void
wait_running (const gchar * rid, const gchar * org)
{
  gint64 until = g_get_monotonic_time () + 60 * G_TIME_SPAN_SECOND;
  while (g_get_monotonic_time () < until) {
    g_autoptr (LbRetrieval) r = row_of (rid, org);
    g_assert_cmpint (r->status, !=, LB_RETRIEVAL_AVAILABLE);    /* too fast */
    if (r->status == LB_RETRIEVAL_RUNNING)
      return;
    g_usleep (5000);
  }
  g_error ("retrieval %s never ran", rid);
}

/* ---- checks ------------------------------------------------------------- */

/* The media of @m (available), fetched from @owner's own URL into @name. */
static gchar *
download (JsonObject * m, const Node * owner, const gchar * name)
{
  g_autoptr (GError) error = NULL;
  g_assert_cmpstr (json_object_get_string_member (m, "status"), ==,
      "available");
  const gchar *url =
      json_object_get_string_member (json_object_get_object_member (m,
          "urlInfo"), "url");
  g_assert_true (g_str_has_prefix (url, owner->url));
  g_autoptr (SoupSession) session = soup_session_new ();
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
  g_autoptr (GBytes) body = soup_session_send_and_read (session, msg, NULL,
      &error);
  g_assert_no_error (error);
  g_assert_cmpuint (soup_message_get_status (msg), ==, 200);
  gchar *path = g_build_filename (base_dir, name, NULL);
  g_assert_true (g_file_set_contents (path, g_bytes_get_data (body, NULL),
          g_bytes_get_size (body), NULL));
  return path;
}

/* The stamps of the frames @owner recorded from @from to @to, read from a
 * high-res clip of that range: a live camera on a busy machine does not
 * keep its frames evenly spaced, so the nearest frame is looked up. */
static GArray *
recorded (const Node * owner, const gchar * token, gint64 from, gint64 to)
{
  guint status = 0;
  g_autofree gchar *rid = create (owner, token, owner->vehicle,
      "videoHighRes", from, to, &status);
  g_assert_cmpuint (status, ==, 200);
  g_autoptr (JsonObject) m = wait_done (owner, token, rid, 60);
  g_autofree gchar *path = download (m, owner, "around.mp4");
  GArray *stamps = jt_read_stamps (path);
  g_assert_cmpuint (stamps->len, >, 0);
  return stamps;
}

/* An available image of @owner's camera at @at: fetched from @owner's own
 * URL, its stamp is the delivered time, and it is the frame recorded
 * nearest @at among @frames.  The job compares recorded times, the test
 * compares stamps, which differ by under a millisecond, and @at went out in
 * milliseconds: on a near tie (within 2 ms) either neighbour is right. */
static void
assert_image (JsonObject * m, const Node * owner, GArray * frames, gint64 at)
{
  g_autofree gchar *path = download (m, owner, "still.jpg");
  g_autoptr (GArray) stamps = jt_read_stamps (path);
  g_assert_cmpuint (stamps->len, ==, 1);
  gint64 stamp = STAMP (stamps, 0);
  g_assert_cmpint (ABS (stamp - time_member (m, "startTime")), <, MS);
  at = at / MS * MS;            /* as the request said it */
  gint64 best = STAMP (frames, 0);
  gboolean recorded = FALSE;
  for (guint i = 0; i < frames->len; i++) {
    recorded |= STAMP (frames, i) == stamp;
    if (ABS (STAMP (frames, i) - at) < ABS (best - at))
      best = STAMP (frames, i);
  }
  g_assert_true (recorded);
  g_assert_cmpint (ABS (stamp - at) - ABS (best - at), <, 2 * MS);
}

/* assert_image() with the frames of the second around @at. */
static void
assert_image_at (JsonObject * m, const Node * owner, const gchar * token,
    gint64 at)
{
  g_autoptr (GArray) frames = recorded (owner, token, at - SEC, at + SEC);
  assert_image (m, owner, frames, at);
}

/* ---- tests -------------------------------------------------------------- */

/* Node i creates for the vehicle of node i + 1; a third node reads. */
static void
test_round_robin (void)
{
  g_autofree gchar *token = add_token ("acme");
  gchar *rids[6];
  gint64 at[6];
  for (guint i = 0; i < 6; i++) {
    guint status = 0;
    at[i] = lb_time_now () - SETTLED - i * 137 * MS;
    rids[i] = create (&nodes[i % 3], token, nodes[(i + 1) % 3].vehicle,
        "image", at[i], at[i], &status);
    g_assert_cmpuint (status, ==, 200);
  }
  /* the frames each camera recorded around its two images */
  GArray *frames[3];
  for (guint b = 0; b < 3; b++)
    frames[b] = recorded (&nodes[b], token, at[5] - SEC, at[0] + SEC);
  for (guint i = 0; i < 6; i++) {
    JsonObject *m = wait_done (&nodes[(i + 2) % 3], token, rids[i], 60);
    assert_image (m, &nodes[(i + 1) % 3], frames[(i + 1) % 3], at[i]);
    json_object_unref (m);
    g_free (rids[i]);
  }
  for (guint b = 0; b < 3; b++)
    g_array_unref (frames[b]);

  /* the list, from a node that records none of them */
  g_autofree gchar *s = rfc (at[5] - SEC);
  g_autofree gchar *e = rfc (lb_time_now ());
  g_autofree gchar *path = g_strdup_printf ("/cameras/media?vehicleIds=%s"
      "&startTime=%s&endTime=%s&mediaTypes=image", nodes[1].vehicle, s, e);
  guint status = 0;
  g_autoptr (JsonNode) list = http (nodes[1].url, "GET", path, token, NULL,
      &status);
  g_assert_cmpuint (status, ==, 200);
  JsonArray *media = json_object_get_array_member (json_object_get_object_member
      (json_node_get_object (list), "data"), "media");
  g_assert_cmpuint (json_array_get_length (media), ==, 2);      /* i = 0, 3 */

  /* a vehicle no node records */
  g_autofree gchar *none = create (&nodes[0], token, "nobody", "image",
      at[0], at[0], &status);
  g_assert_cmpuint (status, ==, 404);
}

typedef struct
{
  gchar *token;
  GPtrArray *rids;
  GMutex lock;
} Race;

/* One create through node index % 3 for the vehicle of the next node
 * (data: the Race). */
static void
race (LbTestRacer * r)
{
  Race *race = r->data;
  guint k = r->index, status = 0;
  gint64 at = lb_time_now () - SETTLED;
  gchar *rid = create (&nodes[k % 3], race->token, nodes[(k + 1) % 3].vehicle,
      "image", at, at, &status);
  g_assert_true (status == 200 || status == 429);
  g_atomic_int_inc (status == 200 ? &r->ok : &r->refused);
  if (rid) {
    g_mutex_lock (&race->lock);
    g_ptr_array_add (race->rids, rid);
    g_mutex_unlock (&race->lock);
  }
}

/* 60 creates at once over the three nodes, an allowance of ten images. */
static void
test_quota (void)
{
  g_autofree gchar *token = add_token ("small");
  g_autoptr (GPtrArray) rids = g_ptr_array_new_with_free_func (g_free);
  Race race_data = {.token = token,.rids = rids };
  g_mutex_init (&race_data.lock);
  gint ok = 0, refused = 0;
  lb_test_race (60, race, &race_data, &ok, &refused);
  g_mutex_clear (&race_data.lock);
  g_assert_cmpint (ok, ==, 10);
  g_assert_cmpint (refused, ==, 50);
  for (guint i = 0; i < rids->len; i++) {
    JsonObject *m = wait_done (&nodes[i % 3], token, rids->pdata[i], 60);
    g_assert_cmpstr (json_object_get_string_member (m, "status"), ==,
        "available");
    json_object_unref (m);
  }
  lb_test_assert_books (client, "small", 1.0, 0);
}

static guint
count_outputs (const Node * n, const gchar * suffix)
{
  g_autofree gchar *outputs = g_build_filename (n->dir, "outputs", NULL);
  g_autoptr (GDir) d = g_dir_open (outputs, 0, NULL);
  const gchar *name;
  guint count = 0;
  while (d && (name = g_dir_read_name (d)))
    count += suffix == NULL || g_str_has_suffix (name, suffix);
  return count;
}

/* Node 2 killed -9 while it transcodes: its rows wait; at its restart the
 * transcode runs again, ends once, is charged once. */
static void
test_kill_node (void)
{
  g_autofree gchar *token = add_token ("kill");
  Node *owner = &nodes[2];
  guint status = 0;
  guint outputs = count_outputs (owner, ".mp4");
  g_autofree gchar *lowres = create (&nodes[0], token, owner->vehicle,
      "videoLowRes", import_t0, import_t0 + 30 * SEC, &status);
  g_assert_cmpuint (status, ==, 200);
  wait_running (lowres, "kill");
  g_usleep (150000);
  node_stop (owner, SIGKILL);
  g_autoptr (LbRetrieval) cut = row_of (lowres, "kill");
  g_assert_cmpint (cut->status, ==, LB_RETRIEVAL_RUNNING);

  /* the node is down: a retrieval of its vehicle waits for it */
  gint64 at = lb_time_now () - SETTLED;
  g_autofree gchar *image = create (&nodes[1], token, owner->vehicle, "image",
      at, at, &status);
  g_assert_cmpuint (status, ==, 200);
  g_usleep (G_USEC_PER_SEC);
  g_autoptr (LbRetrieval) waiting = row_of (image, "kill");
  g_assert_cmpint (waiting->status, ==, LB_RETRIEVAL_PENDING);

  node_start (owner);
  JsonObject *m = wait_done (&nodes[1], token, lowres, 120);
  g_assert_cmpstr (json_object_get_string_member (m, "status"), ==,
      "available");
  json_object_unref (m);
  m = wait_done (&nodes[0], token, image, 60);
  g_autoptr (LbRetrieval) r = row_of (lowres, "kill");
  g_assert_cmpint (r->attempts, ==, 2);
  g_autoptr (LbRetrieval) i = row_of (image, "kill");
  lb_test_assert_books (client, "kill", r->cost_committed + i->cost_committed,
      0);
  g_assert_cmpfloat_with_epsilon (r->cost_committed, 30 * 0.25, 0.05);
  g_assert_cmpuint (count_outputs (owner, ".mp4"), ==, outputs + 1);
  g_assert_cmpuint (count_outputs (owner, ".part"), ==, 0);
  assert_image_at (m, owner, token, at);
  json_object_unref (m);
}

/* Whether an entry of @kind for row @row waits in @n's local journal (read
 * from its SQLite, read-only, as a second process may). */
static gboolean
journal_holds (const Node * n, gint64 row, LbJournalKind kind)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *db = g_build_filename (n->dir, "lookback.db", NULL);
  g_autoptr (LbStore) store = lb_store_open (db, LB_STORE_OPEN_READ_ONLY,
      &error);
  g_assert_no_error (error);
  g_autoptr (GPtrArray) head = lb_store_journal_head (store, 1000, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < head->len; i++) {
    const LbJournalEntry *e = head->pdata[i];
    if (e->row == row && e->kind == kind)
      return TRUE;
  }
  return FALSE;
}

/* Asserts that @path on @via answers 503 saying the database is the cause. */
static void
assert_offline (const Node * via, const gchar * token, const gchar * method,
    const gchar * path, const gchar * body)
{
  guint status = 0;
  g_autoptr (JsonNode) r = http (via->url, method, path, token, body, &status);
  g_assert_cmpuint (status, ==, 503);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (r),
          "message"), ==, "The cluster database is unreachable; try again "
      "later.");
}

/* PostgreSQL stops while node 2 transcodes. */
static void
test_database_restart (void)
{
  g_autofree gchar *token = add_token ("outage");
  Node *owner = &nodes[2];
  guint status = 0;
  g_autofree gchar *lowres = create (&nodes[1], token, owner->vehicle,
      "videoLowRes", import_t0, import_t0 + 30 * SEC, &status);
  g_assert_cmpuint (status, ==, 200);
  wait_running (lowres, "outage");
  g_autoptr (LbRetrieval) before = row_of (lowres, "outage");
  g_autofree gchar *name = g_strconcat (before->media_id, ".mp4", NULL);
  g_autofree gchar *output =
      g_build_filename (owner->dir, "outputs", name, NULL);

  lb_test_pg_stop (pg);
  /* creates, reads and lists, on any node, say why they cannot answer */
  gint64 at = lb_time_now () - SETTLED;
  g_autofree gchar *s = rfc (at);
  g_autofree gchar *body = create_body (nodes[1].vehicle, "image", at, at);
  assert_offline (&nodes[0], token, "POST", "/cameras/media/retrieval", body);
  g_autofree gchar *path =
      g_strdup_printf ("/cameras/media/retrieval?retrievalId=%s", lowres);
  assert_offline (&nodes[1], token, "GET", path, NULL);
  g_autofree gchar *list = g_strdup_printf ("/cameras/media?vehicleIds=%s"
      "&startTime=%s&endTime=%s", owner->vehicle, s, s);
  assert_offline (&nodes[2], token, "GET", list, NULL);
  /* the transcode ends meanwhile: its outcome waits in node 2's journal */
  gint64 until = g_get_monotonic_time () + 120 * G_TIME_SPAN_SECOND;
  while (!journal_holds (owner, before->id, LB_JOURNAL_AVAILABLE)
      && g_get_monotonic_time () < until)
    g_usleep (100000);
  g_assert_true (journal_holds (owner, before->id, LB_JOURNAL_AVAILABLE));
  g_assert_true (g_file_test (output, G_FILE_TEST_EXISTS));
  gint64 during = lb_time_now () - 500 * MS;
  g_usleep (G_USEC_PER_SEC);
  lb_test_pg_start (pg);

  JsonObject *m = wait_done (&nodes[0], token, lowres, 60);
  g_assert_cmpstr (json_object_get_string_member (m, "status"), ==,
      "available");
  json_object_unref (m);
  g_autoptr (LbRetrieval) after = row_of (lowres, "outage");
  g_assert_cmpint (after->attempts, ==, 1);
  lb_test_assert_books (client, "outage", after->cost_committed, 0);
  /* and the journal let it go once recorded */
  until = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;
  while (journal_holds (owner, before->id, LB_JOURNAL_AVAILABLE)
      && g_get_monotonic_time () < until)
    g_usleep (50000);
  g_assert_false (journal_holds (owner, before->id, LB_JOURNAL_AVAILABLE));
  /* recording went on while the database was down */
  while (lb_time_now () < during + SETTLED)
    g_usleep (100000);
  g_autofree gchar *image = create (&nodes[2], token, nodes[0].vehicle,
      "image", during, during, &status);
  g_assert_cmpuint (status, ==, 200);
  m = wait_done (&nodes[1], token, image, 60);
  assert_image_at (m, &nodes[0], token, during);
  json_object_unref (m);
}

/* ---- set-up -------------------------------------------------------------- */

/* 30 s of 640x480 stamped footage for node 2's camera, two minutes old,
 * indexed in its store before it starts: a transcode long enough to be
 * caught in the middle. */
static void
import_footage (Node * n)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *db = g_build_filename (n->dir, "lookback.db", NULL);
  g_autoptr (LbStore) store = lb_store_open (db, LB_STORE_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
  import_t0 = (lb_time_now () / SEC - 150) * SEC;
  g_autofree gchar *path =
      lb_footage_segment_path (n->dir, n->vehicle, INPUT, import_t0);
  g_autofree gchar *seg_dir = g_path_get_dirname (path);
  g_assert_cmpint (g_mkdir_with_parents (seg_dir, 0700), ==, 0);
  g_autofree gchar *d =
      g_strdup_printf ("videotestsrc pattern=smpte horizontal-speed=3 "
      "num-buffers=900 ! video/x-raw,width=640,height=480,framerate=30/1 "
      "! lbclockstamp source=pts offset=%" G_GINT64_FORMAT " ! videoconvert "
      "! video/x-raw,format=I420 ! x264enc speed-preset=ultrafast bframes=0 "
      "key-int-max=30 option-string=scenecut=0 ! h264parse "
      "! mp4mux fragment-duration=1000 ! filesink location=\"%s\"", import_t0,
      path);
  jt_run_launch (d);
  g_assert_true (lb_footage_index_file (store, n->vehicle, INPUT, path,
          import_t0, NULL, &error));
  g_assert_no_error (error);
}

/* Completion webhooks need a row's end and its event in one transaction,
 * which cluster mode does not give yet: a node with [webhook] url set does
 * not start (a configuration error, exit 2) rather than never send them. */
static void
test_no_webhooks (void)
{
  g_autofree gchar *dir = g_build_filename (base_dir, "hooks", NULL);
  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_autofree gchar *secret = g_build_filename (dir, "secret", NULL);
  g_assert_true (g_file_set_contents (secret, "s", -1, NULL));
  g_autofree gchar *conf = g_build_filename (dir, "lookback.conf", NULL);
  g_autofree gchar *text = g_strdup_printf ("[server]\nlisten=127.0.0.1:0\n"
      "[store]\ndir=%s\n[recorder]\nenabled=false\n"
      "[cluster]\ndatabase=%s\nnode=hooks\nadvertise=http://127.0.0.1:9\n"
      "[webhook]\nurl=http://127.0.0.1:9/hook\nsecret-file=%s\n", dir,
      lb_test_pg_uri (pg), secret);
  g_assert_true (g_file_set_contents (conf, text, -1, NULL));
  g_auto (LbTestProgram) run = { 0 };
  const gchar *argv[] = { g_getenv ("LOOKBACKD"), "--config", conf, NULL };
  lb_test_program_run (&run, NULL, NULL, argv);
  g_test_message ("%s", run.err);
  g_assert_cmpint (run.status, ==, 2);
  g_assert_nonnull (strstr (run.err, "not available in cluster mode"));
}

static void
join_client (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *dir = g_build_filename (base_dir, "client", NULL);
  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_autofree gchar *db = g_build_filename (dir, "lookback.db", NULL);
  client = lb_store_open (db, LB_STORE_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
  LbClusterOptions o = {.database = lb_test_pg_uri (pg),.connections = 2 };
  g_assert_true (lb_store_join_cluster (client, &o, &error));
  g_assert_no_error (error);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  base_dir = g_dir_make_tmp ("lb-cluster-XXXXXX", &error);
  g_assert_no_error (error);
  pg = lb_test_pg_new ();
  for (guint i = 0; i < N_NODES; i++)
    node_init (&nodes[i], i);
  import_footage (&nodes[2]);
  for (guint i = 0; i < N_NODES; i++)
    node_start (&nodes[i]);
  join_client ();
  /* a few seconds of footage on every camera before the first image */
  g_usleep ((SETTLED + 2 * SEC) / 1000);

  g_test_add_func ("/cluster/e2e/round-robin", test_round_robin);
  g_test_add_func ("/cluster/e2e/quota", test_quota);
  g_test_add_func ("/cluster/e2e/kill-node", test_kill_node);
  g_test_add_func ("/cluster/e2e/database-restart", test_database_restart);
  g_test_add_func ("/cluster/e2e/no-webhooks", test_no_webhooks);
  gint rc = g_test_run ();

  for (guint i = 0; i < N_NODES; i++)
    node_stop (&nodes[i], SIGTERM);
  g_clear_pointer (&client, lb_store_free);
  lb_test_pg_free (pg);
  if (rc == 0 && !g_getenv ("LB_TEST_KEEP"))
    lb_test_rm_rf (base_dir);
  return rc;
}
