/* lookback — API tests: the connection limit under a low descriptor limit.
 *
 * The whole program runs with RLIMIT_NOFILE at 256 (set in main, before the
 * fixtures): a flood of idle connections from another process must neither
 * exhaust the descriptors nor lock a real client out, and an accept() that
 * fails for want of descriptors pauses instead of spinning. */
#include "api-test.h"
#include "api/lb-api-private.h"
#include "core/lb-log.h"
#include "lb-test-common.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gst/gst.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define FD_LIMIT 256
#define FLOOD 300
/* 5 inputs and 1 worker (no image worker): a reserve of 64 + 16 × 6 = 160,
 * 96 connections. */
#define CONFIG "[jobs]\nworkers=1\nimage-workers=0\n"
#define LIST "/cameras/media?vehicleIds=1234&startTime=2019-06-13T00:00:00Z" \
    "&endTime=2019-06-13T01:00:00Z"

static guint16
server_port (ApiFixture * f)
{
  g_autoptr (GUri) uri = g_uri_parse (f->uri, G_URI_FLAGS_NONE, NULL);
  return g_uri_get_port (uri);
}

/* ------------------------------------------------------------------------- */
/* A client on one connection, request after request (keep-alive). */

typedef struct
{
  GSocketConnection *conn;
  GDataInputStream *in;
} RawClient;

static void
raw_client_open (RawClient * c, ApiFixture * f)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GError) error = NULL;

  c->conn = g_socket_client_connect_to_host (client, "127.0.0.1",
      server_port (f), NULL, &error);
  g_assert_no_error (error);
  c->in = g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM
          (c->conn)));
  g_data_input_stream_set_newline_type (c->in,
      G_DATA_STREAM_NEWLINE_TYPE_CR_LF);
}

static void
raw_client_close (RawClient * c)
{
  g_clear_object (&c->in);
  g_clear_object (&c->conn);
}

/* GET @path on the client's connection; the status of the answer. */
static guint
raw_get (RawClient * c, const gchar * path, const gchar * token)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *auth = token ?
      g_strdup_printf ("Authorization: Bearer %s\r\n", token) : g_strdup ("");
  g_autofree gchar *request =
      g_strdup_printf ("GET %s HTTP/1.1\r\nHost: lookback\r\n%s\r\n", path,
      auth);
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (c->conn));

  g_output_stream_write_all (out, request, strlen (request), NULL, NULL,
      &error);
  g_assert_no_error (error);
  g_autofree gchar *status_line =
      g_data_input_stream_read_line (c->in, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (status_line);
  guint status = 0;
  g_assert_cmpint (sscanf (status_line, "HTTP/1.1 %u", &status), ==, 1);
  gsize length = 0;
  for (;;) {
    g_autofree gchar *line =
        g_data_input_stream_read_line (c->in, NULL, NULL, &error);
    g_assert_no_error (error);
    g_assert_nonnull (line);
    if (*line == '\0')
      break;
    if (g_ascii_strncasecmp (line, "Content-Length:", 15) == 0)
      length = g_ascii_strtoull (line + 15, NULL, 10);
  }
  g_autofree gchar *body = g_malloc (length + 1);
  g_input_stream_read_all (G_INPUT_STREAM (c->in), body, length, NULL, NULL,
      &error);
  g_assert_no_error (error);
  return status;
}

/* ------------------------------------------------------------------------- */
/* The other process: connects @n times, sends one byte on each, reports
 * how many it holds on @report and holds them until @hold reads EOF.  Only
 * async-signal-safe calls after fork(). */

static void
flood_child (guint16 port, guint n, gint report, gint hold)
{
  struct rlimit rl;
  struct sockaddr_in a = { 0 };
  guint32 held = 0;
  gchar c;

  if (getrlimit (RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit (RLIMIT_NOFILE, &rl);
  }
  a.sin_family = AF_INET;
  a.sin_port = htons (port);
  a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  for (guint i = 0; i < n; i++) {
    gint s = socket (AF_INET, SOCK_STREAM, 0);
    if (s < 0)
      break;
    if (connect (s, (struct sockaddr *) &a, sizeof a) == 0
        && write (s, "G", 1) == 1)
      held++;
  }
  if (write (report, &held, sizeof held) != sizeof held)
    _exit (1);
  while (read (hold, &c, 1) > 0);
  _exit (0);
}

typedef struct
{
  GPid pid;
  gint report;                  /* read end */
  gint hold;                    /* write end: closing it ends the child */
} Flood;

static void
flood_start (Flood * fl, ApiFixture * f, guint n)
{
  gint report[2], hold[2];

  g_assert_cmpint (pipe (report), ==, 0);
  g_assert_cmpint (pipe (hold), ==, 0);
  guint16 port = server_port (f);
  fl->pid = fork ();
  g_assert_cmpint (fl->pid, >=, 0);
  if (fl->pid == 0) {
    close (report[0]);
    close (hold[1]);
    flood_child (port, n, report[1], hold[0]);
  }
  close (report[1]);
  close (hold[0]);
  fl->report = report[0];
  fl->hold = hold[1];
}

/* How many connections the child holds (once it holds them all). */
static guint
flood_wait (Flood * fl)
{
  guint32 held = 0;
  g_assert_cmpint (read (fl->report, &held, sizeof held), ==, sizeof held);
  return held;
}

static void
flood_stop (Flood * fl)
{
  gint status;
  close (fl->hold);
  close (fl->report);
  g_assert_cmpint (waitpid (fl->pid, &status, 0), ==, fl->pid);
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
}

static gint64
health_int (ApiReply * r, const gchar * path)
{
  JsonNode *n = api_json_get (r, path);
  g_assert_nonnull (n);
  return json_node_get_int (n);
}

/* ------------------------------------------------------------------------- */

/* 300 connections that send one byte each, against a limit of 96 under 256
 * descriptors: each new one closes the oldest of them, a kept-alive client
 * that has been answered keeps its connection and gets its authenticated
 * GET answered, and /healthz answers on a new connection. */
static void
test_flood_of_idle (ApiFixture * f, gconstpointer data)
{
  RawClient keep = { 0 };
  Flood fl;

  raw_client_open (&keep, f);
  g_assert_cmpuint (raw_get (&keep, "/healthz", NULL), ==, 200);

  flood_start (&fl, f, FLOOD);
  g_assert_cmpuint (flood_wait (&fl), ==, FLOOD);
  /* the server has accepted them all (the backlog may still hold some) */
  g_autoptr (ApiReply) h = NULL;
  do {
    g_clear_pointer (&h, api_reply_free);
    h = api_request (f, "GET", "/healthz", NULL, NULL);
    g_assert_cmpuint (h->status, ==, 200);
  } while (health_int (h, "connections.accepted") < FLOOD + 2);
  g_assert_cmpint (health_int (h, "connections.max"), ==, 96);
  g_assert_cmpint (health_int (h, "connections.open"), <=, 96);
  g_assert_cmpint (health_int (h, "connections.closedAtLimit"), >=,
      FLOOD + 2 - 96);
  g_assert_cmpint (health_int (h, "connections.refusedAtLimit"), ==, 0);
  g_assert_cmpint (health_int (h, "connections.acceptFailures"), ==, 0);

  /* the client that was answered before still has its connection */
  g_assert_cmpuint (raw_get (&keep, LIST, f->token), ==, 200);
  /* and a new client gets in */
  RawClient fresh = { 0 };
  raw_client_open (&fresh, f);
  g_assert_cmpuint (raw_get (&fresh, "/healthz", NULL), ==, 200);
  g_assert_cmpuint (raw_get (&fresh, LIST, f->token), ==, 200);

  raw_client_close (&fresh);
  raw_client_close (&keep);
  flood_stop (&fl);
}

static gint accept_logs;        /* atomic */
static gint resume_logs;        /* atomic */

static void
count_accept_logs (LbLogLevel level, const GLogField * fields, gsize n,
    gpointer user_data)
{
  for (gsize i = 0; i < n; i++) {
    if (!g_str_equal (fields[i].key, "MESSAGE"))
      continue;
    if (strstr (fields[i].value, "cannot accept connections"))
      g_atomic_int_inc (&accept_logs);
    if (strstr (fields[i].value, "accepting connections again"))
      g_atomic_int_inc (&resume_logs);
  }
}

/* Something else holds every descriptor: accept() fails with EMFILE.  The
 * server pauses (one log line, failures a handful, not a loop spinning on
 * the error) and serves the waiting client once descriptors are back. */
static void
test_emfile_pauses (ApiFixture * f, gconstpointer data)
{
  g_autoptr (GArray) fillers = g_array_new (FALSE, FALSE, sizeof (gint));
  struct sockaddr_in a = { 0 };
  const gchar *request = "GET /healthz HTTP/1.1\r\nHost: lookback\r\n"
      "Connection: close\r\n\r\n";

  lb_log_set_capture (count_accept_logs, NULL);
  gint s = socket (AF_INET, SOCK_STREAM, 0);
  g_assert_cmpint (s, >=, 0);
  for (;;) {
    gint fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      break;
    g_array_append_val (fillers, fd);
  }
  /* the kernel queues the connection; the server cannot accept it */
  a.sin_family = AF_INET;
  a.sin_port = htons (server_port (f));
  a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (connect (s, (struct sockaddr *) &a, sizeof a), ==, 0);
  g_assert_cmpint (write (s, request, strlen (request)), ==, strlen (request));
  while (g_atomic_int_get (&f->server->accept_failures) < 3)
    g_usleep (10 * 1000);

  for (guint i = 0; i < fillers->len; i++)
    close (g_array_index (fillers, gint, i));
  gchar answer[64] = { 0 };
  g_assert_cmpint (read (s, answer, sizeof answer - 1), >, 0);
  g_assert_true (g_str_has_prefix (answer, "HTTP/1.1 200"));
  close (s);
  lb_log_set_capture (NULL, NULL);
  g_assert_cmpint (g_atomic_int_get (&accept_logs), ==, 1);
  g_assert_cmpint (g_atomic_int_get (&resume_logs), ==, 1);
}

/* ------------------------------------------------------------------------- */
/* Two connections from the same address: the second replaces the first in
 * the table while the first's stream still lives. */

typedef struct
{
  GMutex lock;
  GCond cond;
  gboolean held;
  gboolean released;
} Hold;

/* On the server's loop: holds it until the test releases it. */
static gboolean
hold_loop (gpointer data)
{
  Hold *h = data;
  g_mutex_lock (&h->lock);
  h->held = TRUE;
  g_cond_broadcast (&h->cond);
  while (!h->released)
    g_cond_wait (&h->cond, &h->lock);
  g_mutex_unlock (&h->lock);
  return G_SOURCE_REMOVE;
}

/* A connection to the server from 127.0.0.1:@local, reset at once (no
 * TIME_WAIT: the address is free again): it waits in the accept queue. */
static void
connect_and_reset (ApiFixture * f, guint16 local)
{
  gint s = socket (AF_INET, SOCK_STREAM, 0);
  gint one = 1;
  struct linger reset = { 1, 0 };
  struct sockaddr_in a = { 0 };

  g_assert_cmpint (s, >=, 0);
  g_assert_cmpint (setsockopt (s, SOL_SOCKET, SO_REUSEADDR, &one,
          sizeof one), ==, 0);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  a.sin_port = htons (local);
  g_assert_cmpint (bind (s, (struct sockaddr *) &a, sizeof a), ==, 0);
  a.sin_port = htons (server_port (f));
  g_assert_cmpint (connect (s, (struct sockaddr *) &a, sizeof a), ==, 0);
  g_assert_cmpint (setsockopt (s, SOL_SOCKET, SO_LINGER, &reset,
          sizeof reset), ==, 0);
  close (s);
}

/* Both are accepted in one burst under the same peer name; each ends when
 * libsoup drops its stream, the first after it was replaced (a use after
 * free under AddressSanitizer when the table held the only reference). */
static void
test_same_peer_again (ApiFixture * f, gconstpointer data)
{
  Hold h = { 0 };
  guint16 local = lb_test_dead_port ();
  g_mutex_init (&h.lock);
  g_cond_init (&h.cond);
  g_main_context_invoke (f->context, hold_loop, &h);
  g_mutex_lock (&h.lock);
  while (!h.held)
    g_cond_wait (&h.cond, &h.lock);
  g_mutex_unlock (&h.lock);
  connect_and_reset (f, local);
  connect_and_reset (f, local);
  g_assert_cmpint (g_atomic_int_get (&f->server->conns_accepted), ==, 0);
  g_mutex_lock (&h.lock);
  h.released = TRUE;
  g_cond_broadcast (&h.cond);
  g_mutex_unlock (&h.lock);

  /* both accepted, both gone; the server answers the next client */
  while (g_atomic_int_get (&f->server->conns_accepted) < 2)
    g_usleep (1000);
  for (;;) {
    g_mutex_lock (&f->server->lock);
    guint open = g_hash_table_size (f->server->conns);
    g_mutex_unlock (&f->server->lock);
    if (open == 0)
      break;
    g_usleep (1000);
  }
  RawClient c = { 0 };
  raw_client_open (&c, f);
  g_assert_cmpuint (raw_get (&c, "/healthz", NULL), ==, 200);
  raw_client_close (&c);
  g_cond_clear (&h.cond);
  g_mutex_clear (&h.lock);
}

/* The derived limit: the descriptor limit less 64 + 16 per input and per
 * worker (image workers too); a configured value that does not fit is
 * lowered; never below 8. */
static void
test_max_connections (ApiFixture * f, gconstpointer data)
{
  guint reserve = 0;

  g_assert_cmpuint (lb_api_max_connections (f->config, 1024, &reserve), ==,
      1024 - 160);
  g_assert_cmpuint (reserve, ==, 160);
  g_assert_cmpuint (lb_api_max_connections (f->config, 100, NULL), ==, 8);
  g_autoptr (GError) error = NULL;
  g_assert_true (lb_config_set (f->config, "jobs", "image-workers", "2",
          &error));
  g_assert_cmpuint (lb_api_max_connections (f->config, 1024, &reserve), ==,
      1024 - 192);
  g_assert_cmpuint (reserve, ==, 192);
  g_assert_true (lb_config_set (f->config, "jobs", "image-workers", "0",
          &error));
  g_assert_true (lb_config_set (f->config, "server", "max-connections", "500",
          &error));
  g_assert_cmpuint (lb_api_max_connections (f->config, 1024, NULL), ==, 500);
  g_assert_cmpuint (lb_api_max_connections (f->config, 600, NULL), ==, 440);
}

int
main (int argc, char **argv)
{
  struct rlimit rl;

  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &rl), ==, 0);
  g_assert_true (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= 2 * FLOOD);
  rl.rlim_cur = FD_LIMIT;
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &rl), ==, 0);

  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/api/connections/flood-of-idle", ApiFixture, CONFIG,
      api_fixture_setup, test_flood_of_idle, api_fixture_teardown);
  g_test_add ("/api/connections/emfile-pauses", ApiFixture, CONFIG,
      api_fixture_setup, test_emfile_pauses, api_fixture_teardown);
  g_test_add ("/api/connections/same-peer-again", ApiFixture, CONFIG,
      api_fixture_setup, test_same_peer_again, api_fixture_teardown);
  g_test_add ("/api/connections/max-derived", ApiFixture, CONFIG,
      api_fixture_setup, test_max_connections, api_fixture_teardown);
  return g_test_run ();
}
