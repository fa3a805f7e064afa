/* The store in cluster mode against a real PostgreSQL 15: nodes in this
 * process (each its own SQLite folder, joined to the one database), rows
 * created on one node and run by the node that records their vehicle, the
 * quota shared by nodes creating at once, the journal across a database
 * restart, rows of a node gone silent, rows left running by a crash, a
 * delivery held for an upload target. */
#include "core/lb-config.h"
#include "core/lb-error.h"
#include "core/lb-sign.h"
#include "core/lb-time.h"
#include "quota/lb-quota.h"
#include "store/lb-store-api.h"
#include "store/lb-store-cluster.h"
#include "store/lb-store-upload.h"
#include "lb-test-common.h"
#include "lb-test-pg.h"

#include <string.h>

#define INPUT "dashcamRoadFacing"

static LbTestPg *pg;            /* one server for the whole program */

typedef struct
{
  gchar *dir;
  gchar *name;
  LbStore *store;
} Node;

/* A node named @name recording @vehicle's INPUT (NULL: nothing), joined
 * with a heartbeat of @beat_ms and a pending deadline of @deadline_s. */
static Node *
node_open_in (const gchar * dir, const gchar * name, const gchar * vehicle,
    guint beat_ms, gint64 deadline_s)
{
  g_autoptr (GError) error = NULL;
  Node *n = g_new0 (Node, 1);
  n->dir = g_strdup (dir);
  n->name = g_strdup (name);
  g_autofree gchar *db = g_build_filename (dir, "lookback.db", NULL);
  n->store = lb_store_open (db, LB_STORE_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
  LbInputConfig in = {.vehicle = (gchar *) vehicle,.input = (gchar *) INPUT };
  g_autoptr (GPtrArray) inputs = g_ptr_array_new ();
  if (vehicle)
    g_ptr_array_add (inputs, &in);
  g_autofree gchar *advertise = g_strdup_printf ("http://%s.example", name);
  LbClusterOptions o = {.database = lb_test_pg_uri (pg),.node = name,
    .advertise = advertise,.inputs = inputs,.connections = 4,
    .heartbeat_ns = beat_ms * LB_NS_PER_MS,
    .pending_deadline_ns = deadline_s * LB_NS_PER_SEC,
  };
  g_assert_true (lb_store_join_cluster (n->store, &o, &error));
  g_assert_no_error (error);
  return n;
}

static Node *
node_new (const gchar * name, const gchar * vehicle)
{
  g_autofree gchar *dir = lb_test_store_new (NULL);
  return node_open_in (dir, name, vehicle, 2000, 600);
}

/* Closes the node but keeps its folder (a restart opens it again). */
static void
node_close (Node * n)
{
  g_clear_pointer (&n->store, lb_store_free);
}

/* Closes the node and forgets it; its folder stays. */
static void
node_drop (Node * n)
{
  node_close (n);
  g_free (n->dir);
  g_free (n->name);
  g_free (n);
}

static void
node_free (Node * n)
{
  lb_test_rm_rf (n->dir);
  node_drop (n);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Node, node_free);

/* A client of the cluster, as the CLI is. */
static Node *
client_new (void)
{
  g_autoptr (GError) error = NULL;
  Node *n = g_new0 (Node, 1);
  n->dir = lb_test_store_new (NULL);
  g_autofree gchar *db = g_build_filename (n->dir, "lookback.db", NULL);
  n->store = lb_store_open (db, LB_STORE_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
  LbClusterOptions o = {.database = lb_test_pg_uri (pg),.connections = 2 };
  g_assert_true (lb_store_join_cluster (n->store, &o, &error));
  g_assert_no_error (error);
  return n;
}

/* One pending image row (or an invalid one, when @input is NULL). */
static LbRetrieval *
image_row (const gchar * rid, const gchar * org, const gchar * vehicle,
    const gchar * input, gint64 at_ns)
{
  LbRetrieval *r = lb_retrieval_new ();
  r->retrieval_id = g_strdup (rid);
  r->media_id = g_uuid_string_random ();
  r->org = g_strdup (org);
  r->vehicle = g_strdup (vehicle);
  r->input = g_strdup (input);
  r->media_type = LB_MEDIA_TYPE_IMAGE;
  r->start_ns = r->end_ns = at_ns;
  r->created_ns = lb_time_now ();
  r->period = lb_quota_period (r->created_ns);
  r->status = input ? LB_RETRIEVAL_PENDING : LB_RETRIEVAL_INVALID;
  r->cost_reserved = input ? 0.1 : 0;
  r->failure_reason = input ? NULL : g_strdup ("no such input");
  return r;
}

/* Creates one image of @vehicle at @at_ns for @org; its row id. */
static gint64
create_image (LbStore * store, const gchar * org, const gchar * vehicle,
    gint64 at_ns, gchar ** out_rid)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *rid = g_uuid_string_random ();
  g_autoptr (GPtrArray) rows =
      g_ptr_array_new_with_free_func ((GDestroyNotify) lb_retrieval_free);
  g_ptr_array_add (rows, image_row (rid, org, vehicle, INPUT, at_ns));
  g_assert_true (lb_store_api_create_retrieval (store, rows, 1e9, NULL,
          &error));
  g_assert_no_error (error);
  if (out_rid)
    *out_rid = g_steal_pointer (&rid);
  return ((LbRetrieval *) rows->pdata[0])->id;
}

/* The row as the database has it now. */
static LbRetrieval *
row_now (LbStore * store, gint64 id)
{
  g_autoptr (GError) error = NULL;
  LbRetrieval *r = NULL;
  g_assert_true (lb_store_api_get (store, id, &r, &error));
  g_assert_no_error (error);
  return r;
}

/* Waits up to 20 s for row @id to reach @status (the node's thread applies
 * its journal in the background). */
static LbRetrieval *
wait_status (LbStore * store, gint64 id, LbRetrievalStatus status)
{
  gint64 until = g_get_monotonic_time () + 20 * G_TIME_SPAN_SECOND;
  for (;;) {
    LbRetrieval *r = row_now (store, id);
    if (r->status == status || g_get_monotonic_time () > until)
      return r;
    lb_retrieval_free (r);
    g_usleep (20000);
  }
}

/* A create on one node for a vehicle another records: that node claims it,
 * ends it through its journal, and every node reads the same row. */
static void
test_create_elsewhere (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Node) n1 = node_new ("n1", "v1");
  g_autoptr (Node) n2 = node_new ("n2", "v2");
  gint64 at = lb_time_now () - 60 * LB_NS_PER_SEC;

  g_autofree gchar *rid = g_uuid_string_random ();
  g_autoptr (GPtrArray) rows =
      g_ptr_array_new_with_free_func ((GDestroyNotify) lb_retrieval_free);
  g_ptr_array_add (rows, image_row (rid, "o1", "v2", INPUT, at));
  g_ptr_array_add (rows, image_row (rid, "o1", "v2", NULL, at));
  gdouble used = -1;
  g_assert_true (lb_store_api_create_retrieval (n1->store, rows, 10, &used,
          &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (used, ==, 0);
  gint64 id = ((LbRetrieval *) rows->pdata[0])->id;
  g_assert_cmpint (id, >, 0);
  g_assert_cmpint (((LbRetrieval *) rows->pdata[1])->id, >, id);
  lb_test_assert_books (n2->store, "o1", 0, 0.1);

  /* only the owner claims it */
  g_autoptr (LbRetrieval) none = NULL;
  g_assert_true (lb_store_api_claim_next (n1->store, lb_time_now (), &none,
          &error));
  g_assert_null (none);
  g_autoptr (LbRetrieval) claimed = NULL;
  g_assert_true (lb_store_api_claim_next (n2->store, lb_time_now (), &claimed,
          &error));
  g_assert_nonnull (claimed);
  g_assert_cmpint (claimed->id, ==, id);
  g_assert_cmpstr (claimed->owner, ==, "n2");
  g_assert_cmpint (claimed->attempts, ==, 1);

  g_autoptr (LbCoverage) c = lb_coverage_new ();
  c->requested_start_ns = c->requested_end_ns = at;
  c->delivered_start_ns = c->delivered_end_ns = at + 5;
  c->sub_stream = TRUE;
  g_assert_true (lb_store_api_set_progress (n2->store, id, 0.5, &error));
  g_assert_true (lb_store_api_finish_available (n2->store, id, "outputs/x.jpg",
          "image/jpeg", at + 5, at + 5, c, lb_time_now (), 0.1, &error));
  g_assert_no_error (error);
  g_autoptr (LbRetrieval) done = wait_status (n1->store, id,
      LB_RETRIEVAL_AVAILABLE);
  g_assert_cmpint (done->status, ==, LB_RETRIEVAL_AVAILABLE);
  g_assert_cmpstr (done->media_base, ==, "http://n2.example");
  g_assert_cmpint (done->coverage->delivered_start_ns, ==, at + 5);
  g_assert_true (done->coverage->sub_stream);
  lb_test_assert_books (n1->store, "o1", 0.1, 0);

  /* the same rows from every node: by request, by media id, in the list */
  g_autoptr (GPtrArray) got = NULL;
  g_assert_true (lb_store_api_get_retrieval (n1->store, rid, "o1", &got,
          &error));
  g_assert_cmpuint (got->len, ==, 2);
  g_assert_cmpint (((LbRetrieval *) got->pdata[1])->status, ==,
      LB_RETRIEVAL_INVALID);
  g_autoptr (LbRetrieval) media = NULL;
  g_assert_true (lb_store_api_get_media (n1->store, done->media_id, &media,
          &error));
  g_assert_cmpint (media->id, ==, id);
  const gchar *vehicles[] = { "v2", NULL };
  LbMediaFilter f = {.org = "o1",.vehicles = vehicles,.start_ns = at - 1,
    .end_ns = at + 10,.available_after_ns = LB_TIME_NONE,.limit = 10
  };
  g_autoptr (GPtrArray) list = NULL;
  gboolean more = TRUE;
  g_assert_true (lb_store_api_list_media (n2->store, &f, &list, &more, &error));
  g_assert_cmpuint (list->len, ==, 1);
  g_assert_false (more);
  g_autoptr (LbRetrieval) found = NULL;
  g_assert_true (lb_store_api_find (n1->store, rid, INPUT, &found, &error));
  g_assert_cmpint (found->id, ==, id);
  gint64 counts[LB_RETRIEVAL_INVALID + 1];
  g_assert_true (lb_store_api_count_status (n1->store, counts, &error));
  g_assert_cmpint (counts[LB_RETRIEVAL_AVAILABLE], >=, 1);
  g_assert_cmpint (counts[LB_RETRIEVAL_INVALID], >=, 1);
  /* another organisation sees nothing */
  g_autoptr (GPtrArray) other = NULL;
  g_assert_false (lb_store_api_get_retrieval (n2->store, rid, "o2", &other,
          &error));
  g_assert_error (error, LB_ERROR, LB_ERROR_NOT_FOUND);
}

/* Delivery to an upload target on the owner: the row waits, pending and
 * counted in the owner's queue only, while the upload does; once it is
 * uploaded the row is available and charged, on every node. */
static void
test_upload (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Node) owner = node_new ("u1", "v8");
  g_autoptr (Node) other = node_new ("u2", NULL);
  gint64 at = lb_time_now () - 60 * LB_NS_PER_SEC;
  g_autofree gchar *rid = NULL;
  gint64 id = create_image (other->store, "o8", "v8", at, &rid);
  g_autoptr (LbRetrieval) row = NULL;
  g_assert_true (lb_store_api_claim_next (owner->store, lb_time_now (), &row,
          &error));
  g_assert_nonnull (row);

  LbUploadJob job = { rid, "v8", INPUT, LB_MEDIA_TYPE_IMAGE, "outputs/u.jpg",
    at, at, NULL, id, "image/jpeg", 0.1
  };
  gint64 entry = 0;
  g_assert_true (lb_store_upload_enqueue (owner->store, &job, lb_time_now (),
          &entry, &error));
  g_assert_no_error (error);
  /* held for the upload: progress 1, pending, never claimed again */
  gint64 until = g_get_monotonic_time () + 20 * G_TIME_SPAN_SECOND;
  g_autoptr (LbRetrieval) held = row_now (other->store, id);
  while (held->progress < 1 && g_get_monotonic_time () < until) {
    g_usleep (20000);
    g_clear_pointer (&held, lb_retrieval_free);
    held = row_now (other->store, id);
  }
  g_assert_cmpfloat (held->progress, ==, 1);
  g_assert_cmpint (held->status, ==, LB_RETRIEVAL_PENDING);
  g_autoptr (LbRetrieval) again = NULL;
  g_assert_true (lb_store_api_claim_next (owner->store, lb_time_now (),
          &again, &error));
  g_assert_null (again);
  gint64 count = -1, oldest = -1;
  g_assert_true (lb_store_api_pending_summary (owner->store, &count, &oldest,
          &error));
  g_assert_cmpint (count, ==, 1);
  g_assert_cmpint (oldest, ==, held->created_ns);
  g_assert_true (lb_store_api_pending_summary (other->store, &count, &oldest,
          &error));
  g_assert_cmpint (count, ==, 0);

  g_assert_true (lb_store_upload_done (owner->store, entry, lb_time_now (),
          1234, "abcd", "https://cdn.example/u.jpg", &error));
  g_assert_no_error (error);
  g_autoptr (LbRetrieval) done = wait_status (other->store, id,
      LB_RETRIEVAL_AVAILABLE);
  g_assert_cmpint (done->status, ==, LB_RETRIEVAL_AVAILABLE);
  g_assert_cmpstr (done->content_type, ==, "image/jpeg");
  lb_test_assert_books (other->store, "o8", 0.1, 0);
}

/* One create on the store of node index % 3 (data: the nodes). */
static void
race (LbTestRacer * r)
{
  Node **nodes = r->data;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *rid = g_uuid_string_random ();
  g_autoptr (GPtrArray) rows =
      g_ptr_array_new_with_free_func ((GDestroyNotify) lb_retrieval_free);
  g_ptr_array_add (rows, image_row (rid, "small", "v2q", INPUT,
          lb_time_now ()));
  if (lb_store_api_create_retrieval (nodes[r->index % 3]->store, rows, 1.0,
          NULL, &error))
    g_atomic_int_inc (&r->ok);
  else if (g_error_matches (error, LB_ERROR, LB_ERROR_QUOTA_EXCEEDED))
    g_atomic_int_inc (&r->refused);
  else
    g_error ("create: %s", error->message);
}

/* 60 creates at once over three nodes against an allowance of ten images:
 * exactly ten are taken. */
static void
test_quota_race (void)
{
  Node *nodes[3] = { node_new ("q1", NULL), node_new ("q2", "v2q"),
    node_new ("q3", NULL)
  };
  gint ok = 0, refused = 0;
  lb_test_race (60, race, nodes, &ok, &refused);
  g_assert_cmpint (ok, ==, 10);
  g_assert_cmpint (refused, ==, 50);
  lb_test_assert_books (nodes[0]->store, "small", 0, 1.0);
  for (guint i = 0; i < 3; i++)
    node_free (nodes[i]);
}

/* The database stops while a job runs: calls answer offline, the job's
 * outcome waits in the node's journal and reaches the database when it is
 * back; nothing is lost, nothing is charged twice. */
static void
test_database_restart (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Node) n = node_new ("r1", "v3");
  g_autoptr (Node) client = client_new ();
  gint64 id = create_image (n->store, "o3", "v3", lb_time_now (), NULL);
  g_autoptr (LbRetrieval) claimed = NULL;
  g_assert_true (lb_store_api_claim_next (n->store, lb_time_now (), &claimed,
          &error));
  g_assert_nonnull (claimed);

  lb_test_pg_stop (pg);
  g_autoptr (LbToken) token = NULL;
  g_assert_false (lb_store_api_token_lookup (n->store, "x", &token, &error));
  g_assert_error (error, LB_ERROR, LB_ERROR_OFFLINE);
  g_clear_error (&error);
  gdouble used;
  g_assert_false (lb_quota_get_usage (n->store, "o3", lb_time_now (), &used,
          NULL, &error));
  g_assert_error (error, LB_ERROR, LB_ERROR_OFFLINE);
  g_clear_error (&error);
  g_autoptr (LbRetrieval) nothing = NULL;
  g_assert_true (lb_store_api_claim_next (n->store, lb_time_now (), &nothing,
          &error));
  g_assert_null (nothing);
  /* the job goes on and ends */
  for (guint i = 1; i <= 5; i++)
    g_assert_true (lb_store_api_set_progress (n->store, id, i / 10.0, &error));
  g_assert_true (lb_store_api_finish_available (n->store, id, "outputs/y.jpg",
          "image/jpeg", claimed->start_ns, claimed->end_ns, NULL,
          lb_time_now (), 0.1, &error));
  g_assert_no_error (error);
  LbClusterStatus st = { 0 };
  g_assert_true (lb_store_cluster_status (n->store, &st));
  g_assert_false (st.connected);
  g_assert_cmpuint (st.journal, ==, 2); /* one progress, the outcome */
  g_clear_pointer (&st.last_error, g_free);

  lb_test_pg_start (pg);
  g_autoptr (LbRetrieval) done = wait_status (client->store, id,
      LB_RETRIEVAL_AVAILABLE);
  g_assert_cmpint (done->status, ==, LB_RETRIEVAL_AVAILABLE);
  g_assert_cmpint (done->attempts, ==, 1);
  lb_test_assert_books (client->store, "o3", 0.1, 0);
  /* dropped from the journal once applied */
  gint64 until = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;
  do {
    g_clear_pointer (&st.last_error, g_free);
    g_assert_true (lb_store_cluster_status (n->store, &st));
  } while (st.journal > 0 && g_get_monotonic_time () < until
      && (g_usleep (1000), 1));
  g_assert_cmpuint (st.journal, ==, 0);
  g_assert_true (st.connected);
  g_free (st.last_error);
  /* and the node answers again */
  g_assert_true (lb_quota_get_usage (n->store, "o3", lb_time_now (), &used,
          NULL, &error));
  g_assert_no_error (error);
}

/* A node killed while it ran a row: at its restart the row runs again
 * (attempts 2) and ends once. */
static void
test_requeue_at_restart (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Node) n = node_new ("k1", "v6");
  gint64 id = create_image (n->store, "o6", "v6", lb_time_now (), NULL);
  g_autoptr (LbRetrieval) first = NULL;
  g_assert_true (lb_store_api_claim_next (n->store, lb_time_now (), &first,
          &error));
  g_assert_nonnull (first);
  node_close (n);               /* as far as the database knows: it died */
  g_autoptr (Node) client = client_new ();
  g_autoptr (LbRetrieval) left = row_now (client->store, id);
  g_assert_cmpint (left->status, ==, LB_RETRIEVAL_RUNNING);

  Node *again = node_open_in (n->dir, "k1", "v6", 2000, 600);
  g_autoptr (LbRetrieval) second = NULL;
  g_assert_true (lb_store_api_claim_next (again->store, lb_time_now (),
          &second, &error));
  g_assert_nonnull (second);
  g_assert_cmpint (second->id, ==, id);
  g_assert_cmpint (second->attempts, ==, 2);
  g_assert_true (lb_store_api_finish_unavailable (again->store, id, "gone",
          &error));
  g_autoptr (LbRetrieval) done = wait_status (again->store, id,
      LB_RETRIEVAL_UNAVAILABLE);
  g_assert_cmpint (done->status, ==, LB_RETRIEVAL_UNAVAILABLE);
  lb_test_assert_books (again->store, "o6", 0, 0);
  node_drop (again);
}

/* A node that goes silent: its rows wait for it, pending, until their
 * pending deadline; then another node ends them, refunded. */
static void
test_silent_node (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *dir = lb_test_store_new (NULL);
  Node *quiet = node_open_in (dir, "s1", "v4", 100, 0);
  gint64 now = lb_time_now ();
  gint64 past = create_image (quiet->store, "o4", "v4", now - LB_NS_PER_SEC,
      NULL);
  gint64 future = create_image (quiet->store, "o4", "v4",
      now + 3600 * LB_NS_PER_SEC, NULL);
  node_drop (quiet);

  g_autofree gchar *dir2 = lb_test_store_new (NULL);
  g_autoptr (Node) other = node_open_in (dir2, "s2", NULL, 100, 0);
  g_autoptr (LbRetrieval) ended = wait_status (other->store, past,
      LB_RETRIEVAL_UNAVAILABLE);
  g_assert_cmpint (ended->status, ==, LB_RETRIEVAL_UNAVAILABLE);
  g_assert_nonnull (strstr (ended->failure_reason, "pending deadline"));
  g_autoptr (LbRetrieval) waiting = row_now (other->store, future);
  g_assert_cmpint (waiting->status, ==, LB_RETRIEVAL_PENDING);
  lb_test_assert_books (other->store, "o4", 0, 0.1);
  lb_test_rm_rf (dir);
}

/* One input, one node: a second node that claims it while the first is
 * alive does not get it; once the first is silent, it does. */
static void
test_registry (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *dir = lb_test_store_new (NULL);
  Node *first = node_open_in (dir, "g1", "v7", 100, 600);
  g_autoptr (Node) second = node_new ("g2", "v7");
  g_autoptr (GPtrArray) inputs = NULL;
  g_assert_true (lb_store_cluster_vehicle (second->store, "v7", &inputs,
          &error));
  g_assert_cmpuint (inputs->len, ==, 1);
  g_assert_cmpstr (((LbClusterInput *) inputs->pdata[0])->node, ==, "g1");
  g_clear_pointer (&inputs, g_ptr_array_unref);
  g_assert_true (lb_store_cluster_vehicle (second->store, "nobody", &inputs,
          &error));
  g_assert_cmpuint (inputs->len, ==, 0);
  g_clear_pointer (&inputs, g_ptr_array_unref);

  node_close (first);
  g_usleep (500 * G_TIME_SPAN_MILLISECOND);     /* > 3 heartbeats of 100 ms */
  node_close (second);
  Node *again = node_open_in (second->dir, "g2", "v7", 2000, 600);
  g_assert_true (lb_store_cluster_vehicle (again->store, "v7", &inputs,
          &error));
  g_assert_cmpstr (((LbClusterInput *) inputs->pdata[0])->node, ==, "g2");
  node_drop (again);
  node_free (first);
}

/* Tokens and the URL-signing key are the cluster's, whichever node asks;
 * a node that starts while the database is down still has the key. */
static void
test_tokens_and_key (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Node) client = client_new ();
  g_autoptr (Node) n = node_new ("t1", NULL);
  gint64 id = 0;
  g_assert_true (lb_store_api_token_add (client->store, "h-t1", "o5",
          "media:read", lb_time_now (), &id, &error));
  g_autoptr (LbToken) token = NULL;
  g_assert_true (lb_store_api_token_lookup (n->store, "h-t1", &token, &error));
  g_assert_nonnull (token);
  g_assert_cmpstr (token->org, ==, "o5");
  g_assert_true (lb_store_api_token_revoke (client->store, id, lb_time_now (),
          &error));
  /* the node keeps the tokens it has seen until the database tells it of
   * the revocation (a notification, at once) */
  gint64 until = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;
  do {
    g_clear_pointer (&token, lb_token_free);
    g_assert_true (lb_store_api_token_lookup (n->store, "h-t1", &token,
            &error));
  } while (token && g_get_monotonic_time () < until && (g_usleep (1000), 1));
  g_assert_null (token);

  g_autoptr (GPtrArray) tokens = NULL;
  g_assert_true (lb_store_api_token_list (n->store, &tokens, &error));
  gboolean listed = FALSE;
  for (guint i = 0; i < tokens->len; i++) {
    const LbToken *t = tokens->pdata[i];
    listed |= t->id == id && t->revoked_ns > 0;
  }
  g_assert_true (listed);

  g_autoptr (GBytes) k1 = lb_store_api_get_signing_key (n->store, &error);
  g_autoptr (GBytes) k2 = lb_store_api_get_signing_key (client->store, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (k1, k2));

  node_close (n);
  lb_test_pg_stop (pg);
  Node *offline = node_open_in (n->dir, "t1", NULL, 2000, 600);
  g_autoptr (GBytes) k3 = lb_store_api_get_signing_key (offline->store, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (k1, k3));
  node_drop (offline);
  lb_test_pg_start (pg);
}

/* [cluster] from a configuration: unset, nothing happens; a node needs an
 * advertise URL it can name; a connection string that does not parse is
 * refused naming the key. */
static void
test_configured (void)
{
  g_autoptr (Node) n = client_new ();
  LbStore *store = n->store;
  g_autofree gchar *db = g_build_filename (n->dir, "other.db", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (LbStore) plain = lb_store_open (db, LB_STORE_OPEN_DEFAULT, &error);
  g_autoptr (LbConfig) none = lb_config_load_data ("[server]\nlisten="
      "127.0.0.1:0\n", "none.conf", &error);
  g_assert_true (lb_store_join_configured (plain, none, TRUE, &error));
  g_assert_false (lb_store_is_clustered (plain));
  g_assert_true (lb_store_is_clustered (store));

  g_autofree gchar *text = g_strdup_printf ("[server]\nlisten=127.0.0.1:0\n"
      "[cluster]\ndatabase=%s\n", lb_test_pg_uri (pg));
  g_autoptr (LbConfig) no_url = lb_config_load_data (text, "c.conf", &error);
  g_assert_false (lb_store_join_configured (plain, no_url, TRUE, &error));
  g_assert_error (error, LB_ERROR, LB_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "[cluster] advertise"));
  g_clear_error (&error);

  g_autoptr (LbConfig) bad = lb_config_load_data ("[cluster]\n"
      "database=host=x port\n", "bad.conf", &error);
  g_assert_false (lb_store_join_configured (plain, bad, FALSE, &error));
  g_assert_error (error, LB_ERROR, LB_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "[cluster] database"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  pg = lb_test_pg_new ();
  g_test_add_func ("/cluster/store/create-elsewhere", test_create_elsewhere);
  g_test_add_func ("/cluster/store/upload", test_upload);
  g_test_add_func ("/cluster/store/quota-race", test_quota_race);
  g_test_add_func ("/cluster/store/database-restart", test_database_restart);
  g_test_add_func ("/cluster/store/requeue-at-restart",
      test_requeue_at_restart);
  g_test_add_func ("/cluster/store/silent-node", test_silent_node);
  g_test_add_func ("/cluster/store/registry", test_registry);
  g_test_add_func ("/cluster/store/tokens-and-key", test_tokens_and_key);
  g_test_add_func ("/cluster/store/configured", test_configured);
  gint rc = g_test_run ();
  lb_test_pg_free (pg);
  return rc;
}
