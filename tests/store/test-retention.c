/* Retention: by age and by bytes, oldest first; pins and the open segment stay */
#include "recorder/lb-retention.h"
#include "core/lb-error.h"
#include "core/lb-time.h"
#include "footage-util.h"
#include "lb-test-common.h"

#include "store/lb-store-api.h"

#include <gst/gst.h>
#include <glib/gstdio.h>
#include <string.h>
#include <utime.h>

#define NOW G_GINT64_CONSTANT (1700000000000000000)
#define MIN_NS (60 * GST_SECOND)

typedef struct
{
  /* first: the fixture's dir and store */
  gchar *dir;
  LbStore *store;
  GPtrArray *segs;              /* LbSegment*, oldest first */
} Fixture;

static void
fixture_setup (Fixture * f, gconstpointer data)
{
  lb_test_store_fixture_setup ((LbTestStoreFixture *) f, data);
  f->segs = g_ptr_array_new_with_free_func ((GDestroyNotify) lb_segment_free);
}

static void
fixture_teardown (Fixture * f, gconstpointer data)
{
  g_ptr_array_unref (f->segs);
  lb_test_store_fixture_teardown ((LbTestStoreFixture *) f, data);
}

/* Five one-minute segments of 1000 bytes each of @input, the newest ending
 * at @newest_end; the newest is open when @open_last. */
static void
add_five_of (Fixture * f, const gchar * input, gint64 newest_end,
    gboolean open_last)
{
  g_autoptr (GPtrArray) add = g_ptr_array_new ();
  for (gint i = 0; i < 5; i++) {
    LbSegment *s = g_new0 (LbSegment, 1);
    s->vehicle = g_strdup ("v1");
    s->input = g_strdup (input);
    s->start_ns = newest_end - (5 - i) * MIN_NS;
    s->end_ns = s->start_ns + MIN_NS;
    s->path = lb_footage_segment_path (f->dir, "v1", input, s->start_ns);
    s->codec = g_strdup ("h264");
    s->caps = g_strdup ("video/x-h264");
    s->fps_n = 30;
    s->fps_d = 1;
    s->bytes = 1000;
    s->open = open_last && i == 4;
    lbt_write_file (s->path, "segment bytes");
    g_ptr_array_add (f->segs, s);
    g_ptr_array_add (add, s);
  }
  g_autoptr (GError) error = NULL;
  g_assert_true (lb_store_segment_add (f->store, add, NULL, &error));
  g_assert_no_error (error);
}

static void
add_five (Fixture * f, gint64 newest_end, gboolean open_last)
{
  add_five_of (f, "analog1", newest_end, open_last);
}

static LbConfig *
config (const gchar * text)
{
  g_autoptr (GError) error = NULL;
  LbConfig *c = lb_config_load_data (text, "/etc/lookback/test.conf", &error);
  g_assert_no_error (error);
  return c;
}

/* Which of the five still have a row and a file ("10011": 1 = kept). */
static gchar *
kept (Fixture * f)
{
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < f->segs->len; i++) {
    LbSegment *seg = g_ptr_array_index (f->segs, i);
    gboolean row = lb_store_segment_find_path (f->store, seg->path, NULL) != 0;
    gboolean file = g_file_test (seg->path, G_FILE_TEST_EXISTS);
    g_assert_cmpint (row, ==, file);
    g_string_append_c (s, row ? '1' : '0');
  }
  return g_string_free (s, FALSE);
}

static gboolean
run (Fixture * f, LbConfig * c, GString * report)
{
  g_autoptr (GError) error = NULL;
  gboolean ok = lb_retention_run (f->store, c, NOW, report, &error);
  g_assert_no_error (error);
  g_test_message ("%s", report->str);
  return ok;
}

static void
test_age (Fixture * f, gconstpointer data)
{
  /* newest ends 1 min ago: segments end 5,4,3,2,1 minutes ago */
  add_five (f, NOW - MIN_NS, FALSE);
  g_autoptr (LbConfig) c = config ("[retention]\nmax-age=150s\n");
  g_autoptr (GString) report = g_string_new (NULL);
  g_assert_true (run (f, c, report));
  g_autofree gchar *k = kept (f);
  g_assert_cmpstr (k, ==, "00011");
  g_assert_nonnull (strstr (report->str, "older than max-age"));
  /* a per-input override wins over [retention] */
  g_autoptr (LbConfig) c2 = config ("[retention]\nmax-age=150s\n"
      "[input v1 analog1]\nsource=videotestsrc\nretention-max-age=90s\n");
  g_assert_true (run (f, c2, report));
  g_autofree gchar *k2 = kept (f);
  g_assert_cmpstr (k2, ==, "00001");
}

/* A pass with the configuration @text: what is kept (kept()). */
static gchar *
kept_after (Fixture * f, const gchar * text, GString * report)
{
  g_autoptr (LbConfig) c = config (text);
  g_assert_true (run (f, c, report));
  return kept (f);
}

/* A sub-stream's footage is the input's: its settings hold for it. */
static void
test_sub_stream (Fixture * f, gconstpointer data)
{
  g_autofree gchar *sub = lb_footage_sub_input ("analog1");
  add_five (f, NOW - MIN_NS, FALSE);
  add_five_of (f, sub, NOW - MIN_NS / 2, FALSE);
  g_autoptr (GString) report = g_string_new (NULL);
  g_autofree gchar *k = kept_after (f, "[retention]\nmax-age=0\n"
      "[input v1 analog1]\nsource=videotestsrc\nretention-max-age=100s\n",
      report);
  g_assert_cmpstr (k, ==, "0000100011");
}

static void
test_bytes (Fixture * f, gconstpointer data)
{
  add_five (f, NOW, FALSE);
  g_autoptr (GString) report = g_string_new (NULL);
  g_autofree gchar *k = kept_after (f, "[retention]\nmax-age=0\n"
      "[input v1 analog1]\nsource=videotestsrc\nretention-max-bytes=3000\n",
      report);
  g_assert_cmpstr (k, ==, "00111");
  g_assert_nonnull (strstr (report->str, "over max-bytes"));
  /* oldest first: the report names the first segment before the second */
  LbSegment *s0 = g_ptr_array_index (f->segs, 0), *s1 =
      g_ptr_array_index (f->segs, 1);
  g_assert_true (strstr (report->str, s0->path) < strstr (report->str,
          s1->path));
  g_autoptr (GPtrArray) inputs = lb_store_footage_inputs (f->store, "v1", NULL);
  g_assert_cmpint (((LbFootageInput *) g_ptr_array_index (inputs, 0))->bytes,
      ==, 3000);
}

static void
test_pinned (Fixture * f, gconstpointer data)
{
  add_five (f, NOW, FALSE);
  g_autoptr (GError) error = NULL;
  LbSegment *s0 = g_ptr_array_index (f->segs, 0);
  g_assert_true (lb_store_pin (f->store, "retrieval-1", "v1", "analog1",
          s0->start_ns + GST_SECOND, s0->start_ns + 2 * GST_SECOND, &error));
  g_autoptr (LbConfig) c = config ("[retention]\nmax-age=0\nmax-bytes=3000\n");
  g_autoptr (GString) report = g_string_new (NULL);
  g_assert_true (run (f, c, report));
  g_autofree gchar *k = kept (f);
  g_assert_cmpstr (k, ==, "10011");

  /* pins alone keep the input over its budget: kept, and said loudly */
  for (guint i = 3; i < 5; i++) {
    LbSegment *s = g_ptr_array_index (f->segs, i);
    g_assert_true (lb_store_pin (f->store, "retrieval-2", "v1", "analog1",
            s->start_ns, s->end_ns, &error));
  }
  g_autoptr (LbConfig) c2 = config ("[retention]\nmax-age=0\nmax-bytes=500\n");
  g_autoptr (GString) report2 = g_string_new (NULL);
  g_assert_true (run (f, c2, report2));
  g_autofree gchar *k2 = kept (f);
  g_assert_cmpstr (k2, ==, "10011");
  g_assert_nonnull (strstr (report2->str,
          "v1/analog1 over max-bytes: 3 pinned segments kept"));

  /* unpinned, they go */
  g_assert_true (lb_store_unpin (f->store, "retrieval-1", &error));
  g_assert_true (lb_store_unpin (f->store, "retrieval-2", &error));
  g_autoptr (GString) report3 = g_string_new (NULL);
  g_assert_true (run (f, c2, report3));
  g_autofree gchar *k3 = kept (f);
  g_assert_cmpstr (k3, ==, "00000");
}

static void
test_open_stays (Fixture * f, gconstpointer data)
{
  /* everything is too old and too big, the newest is still being recorded */
  add_five (f, NOW - 100 * MIN_NS, TRUE);
  g_autoptr (LbConfig) c = config ("[retention]\nmax-age=1min\nmax-bytes=1\n");
  g_autoptr (GString) report = g_string_new (NULL);
  g_assert_true (run (f, c, report));
  g_autofree gchar *k = kept (f);
  g_assert_cmpstr (k, ==, "00001");
}

static void
test_runner (Fixture * f, gconstpointer data)
{
  add_five (f, NOW - MIN_NS, FALSE);
  g_autoptr (LbConfig) c = config ("[retention]\nmax-age=150s\ninterval=1h\n");
  g_autoptr (LbClock) clock = lb_clock_new_manual (NOW - 10 * MIN_NS);
  LbRetentionOptions options = {.clock = clock };
  LbRetention *r = lb_retention_start (f->store, c, &options);
  /* the first pass runs at start: nothing is old yet */
  while (lb_retention_get_passes (r) < 1)
    g_usleep (1000);
  g_autofree gchar *k = kept (f);
  g_assert_cmpstr (k, ==, "11111");
  /* time passes; a poke runs a pass without waiting for the hour */
  lb_clock_set (clock, NOW);
  lb_retention_poke (r);
  gint64 deadline = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;
  while (lb_retention_get_passes (r) < 2 && g_get_monotonic_time () < deadline)
    g_usleep (1000);
  lb_retention_stop (r);
  g_autofree gchar *k2 = kept (f);
  g_assert_cmpstr (k2, ==, "00011");
}

/* An image retrieval row whose output is <store>/outputs/<mediaId>.jpg,
 * written @written_ago before NOW; available @available_ago before NOW
 * unless that is negative (the row stays pending). */
static gchar *
add_output (Fixture * f, gint64 written_ago, gint64 available_ago)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) rows =
      g_ptr_array_new_with_free_func ((GDestroyNotify) lb_retrieval_free);
  LbRetrieval *r = lb_retrieval_new ();
  r->retrieval_id = g_uuid_string_random ();
  r->media_id = g_uuid_string_random ();
  r->org = g_strdup ("acme");
  r->vehicle = g_strdup ("v1");
  r->input = g_strdup ("analog1");
  r->media_type = LB_MEDIA_TYPE_IMAGE;
  r->trigger_reason = g_strdup ("api");
  r->start_ns = r->end_ns = NOW - 3600 * GST_SECOND;
  r->created_ns = NOW - written_ago;
  r->period = g_strdup ("2023-11");
  r->status = LB_RETRIEVAL_PENDING;
  r->cost_reserved = 0.1;
  g_ptr_array_add (rows, r);
  g_assert_true (lb_store_api_create_retrieval (f->store, rows, 1e6, NULL,
          &error));
  g_assert_no_error (error);

  g_autofree gchar *name = g_strconcat (r->media_id, ".jpg", NULL);
  g_autofree gchar *rel = g_build_filename ("outputs", name, NULL);
  gchar *path = g_build_filename (f->dir, rel, NULL);
  lbt_write_file (path, "jpeg bytes");
  struct utimbuf times = { 0 };
  times.actime = times.modtime = (NOW - written_ago) / GST_SECOND;
  g_assert_cmpint (g_utime (path, &times), ==, 0);
  if (available_ago >= 0) {
    LbRetrieval *claimed = NULL;
    g_assert_true (lb_store_api_claim_next (f->store, G_MAXINT64, &claimed,
            &error));
    g_assert_cmpint (claimed->id, ==, r->id);
    lb_retrieval_free (claimed);
    g_assert_true (lb_store_api_finish_available (f->store, r->id, rel,
            "image/jpeg", r->start_ns, r->end_ns, NULL, NOW - available_ago,
            0.1, &error));
    g_assert_no_error (error);
  }
  return path;
}

static void
test_outputs_swept (Fixture * f, gconstpointer data)
{
  gint64 hour = 3600 * GST_SECOND;
  /* url-ttl 8 h: available 9 h ago goes; 7 h ago stays, and so does one
   * written long ago but available 5 h ago (released from the upload
   * journal); pending stays however old; a half-written output and a file of
   * no retrieval stay. */
  g_autofree gchar *expired = add_output (f, 10 * hour, 9 * hour);
  g_autofree gchar *fresh = add_output (f, 7 * hour, 7 * hour);
  g_autofree gchar *released = add_output (f, 10 * hour, 5 * hour);
  g_autofree gchar *pending = add_output (f, 10 * hour, -1);
  g_autofree gchar *part = g_strconcat (expired, ".part", NULL);
  lbt_write_file (part, "half");
  g_autofree gchar *stray =
      g_build_filename (f->dir, "outputs", "notes.txt", NULL);
  lbt_write_file (stray, "operator's");

  g_autoptr (GString) report = g_string_new (NULL);
  g_autoptr (GError) error = NULL;
  guint deleted = 0;
  g_assert_true (lb_retention_sweep_outputs (f->store, NOW - 8 * hour, report,
          &deleted, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (deleted, ==, 1);
  g_assert_false (g_file_test (expired, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (fresh, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (released, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (pending, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (part, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (stray, G_FILE_TEST_EXISTS));

  /* The runner sweeps when given a TTL (uploads off). */
  g_autoptr (LbConfig) c = config ("[retention]\nmax-age=0\ninterval=1h\n");
  g_autoptr (LbClock) clock = lb_clock_new_manual (NOW + 2 * hour);
  LbRetentionOptions options = {.clock = clock,.output_ttl_ns = 8 * hour };
  LbRetention *r = lb_retention_start (f->store, c, &options);
  while (lb_retention_get_passes (r) < 1)
    g_usleep (1000);
  lb_retention_stop (r);
  g_assert_false (g_file_test (fresh, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (released, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (pending, G_FILE_TEST_EXISTS));
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
#define ADD(name, fn) g_test_add (name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/retention/age", test_age);
  ADD ("/retention/sub-stream", test_sub_stream);
  ADD ("/retention/bytes", test_bytes);
  ADD ("/retention/pinned", test_pinned);
  ADD ("/retention/open-stays", test_open_stays);
  ADD ("/retention/runner", test_runner);
  ADD ("/retention/outputs-swept", test_outputs_swept);
  return g_test_run ();
}
