/* lookback tests — a real PostgreSQL 15 (see lb-test-pg.h) */
#include "lb-test-pg.h"
#include "lb-test-common.h"

#include <gio/gio.h>
#include <grp.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#define PG_BINDIR "/usr/lib/postgresql/15/bin"

struct _LbTestPg
{
  gboolean as_postgres;         /* the test runs as root */
  uid_t uid;
  gid_t gid;
  gchar *dir;                   /* 0700, the server's: data/, the socket, log */
  gchar *data;
  gchar *log;
  gchar *uri;
  guint port;
  GSubprocess *server;
};

/* In the child, before exec: become postgres when root (PostgreSQL refuses
 * root), then die with the test.  The parent-death signal is set after the
 * change of user, which would clear it. */
static void
child_setup (gpointer data)
{
  const LbTestPg *pg = data;
  if (pg->as_postgres && (setgid (pg->gid) != 0 || setgroups (0, NULL) != 0
          || setuid (pg->uid) != 0))
    _exit (126);
  lb_test_child_setup (NULL);
}

static GSubprocessLauncher *
launcher (LbTestPg * pg)
{
  GSubprocessLauncher *l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_subprocess_launcher_set_child_setup (l, child_setup, pg, NULL);
  g_subprocess_launcher_set_stdout_file_path (l, pg->log);
  g_subprocess_launcher_set_stderr_file_path (l, pg->log);
  return l;
}

static gchar *
program (const gchar * name)
{
  gchar *path = g_build_filename (PG_BINDIR, name, NULL);
  if (!g_file_test (path, G_FILE_TEST_IS_EXECUTABLE))
    g_error ("%s is missing: the cluster tests need Debian's postgresql-15 "
        "(scripts/setup.sh installs it)", path);
  return path;
}

static void
init_cluster (LbTestPg * pg)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *initdb = program ("initdb");
  const gchar *argv[] = { initdb, "-D", pg->data, "-A", "trust", "-U",
    "postgres", "-E", "UTF8", "--no-sync", "--no-instructions", NULL
  };
  g_autoptr (GSubprocessLauncher) l = launcher (pg);
  g_autoptr (GSubprocess) p = g_subprocess_launcher_spawnv (l, argv, &error);
  g_assert_no_error (error);
  if (!g_subprocess_wait_check (p, NULL, &error)) {
    g_autofree gchar *log = NULL;
    g_file_get_contents (pg->log, &log, NULL, NULL);
    g_error ("initdb failed: %s\n%s", error->message, log ? log : "");
  }
}

LbTestPg *
lb_test_pg_new (void)
{
  LbTestPg *pg = g_new0 (LbTestPg, 1);
  /* /tmp: the postgres user cannot reach a folder under /root */
  pg->dir = g_strdup ("/tmp/lb-pg-XXXXXX");
  g_assert_nonnull (g_mkdtemp_full (pg->dir, 0700));
  if (getuid () == 0) {
    const struct passwd *pw = getpwnam ("postgres");
    if (pw == NULL)
      g_error ("no user postgres: install postgresql-15 (scripts/setup.sh)");
    pg->as_postgres = TRUE;
    pg->uid = pw->pw_uid;
    pg->gid = pw->pw_gid;
    g_assert_cmpint (chown (pg->dir, pg->uid, pg->gid), ==, 0);
  }
  pg->data = g_build_filename (pg->dir, "data", NULL);
  pg->log = g_build_filename (pg->dir, "server.log", NULL);
  pg->port = lb_test_dead_port ();
  pg->uri = g_strdup_printf ("postgresql://postgres@127.0.0.1:%u/postgres",
      pg->port);
  init_cluster (pg);
  lb_test_pg_start (pg);
  return pg;
}

void
lb_test_pg_start (LbTestPg * pg)
{
  g_autoptr (GError) error = NULL;
  g_assert_null (pg->server);
  g_autofree gchar *postgres = program ("postgres");
  g_autofree gchar *port = g_strdup_printf ("%u", pg->port);
  const gchar *argv[] = { postgres, "-D", pg->data, "-p", port, "-k", pg->dir,
    "-c", "listen_addresses=127.0.0.1", NULL
  };
  g_autoptr (GSubprocessLauncher) l = launcher (pg);
  pg->server = g_subprocess_launcher_spawnv (l, argv, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < 600; i++) {
    if (PQping (pg->uri) == PQPING_OK)
      return;
    if (g_subprocess_get_identifier (pg->server) == NULL)
      break;
    g_usleep (20000);
  }
  g_autofree gchar *log = NULL;
  g_file_get_contents (pg->log, &log, NULL, NULL);
  g_error ("PostgreSQL did not start on port %u:\n%s", pg->port,
      log ? log : "");
}

void
lb_test_pg_stop (LbTestPg * pg)
{
  if (pg->server == NULL)
    return;
  g_subprocess_send_signal (pg->server, SIGINT);
  g_subprocess_wait (pg->server, NULL, NULL);
  g_clear_object (&pg->server);
}

const gchar *
lb_test_pg_uri (LbTestPg * pg)
{
  return pg->uri;
}

void
lb_test_pg_free (LbTestPg * pg)
{
  if (pg == NULL)
    return;
  lb_test_pg_stop (pg);
  lb_test_rm_rf (pg->dir);
  g_free (pg->dir);
  g_free (pg->data);
  g_free (pg->log);
  g_free (pg->uri);
  g_free (pg);
}

/* The racers wait at the gate until every thread is there. */
typedef struct
{
  GMutex lock;
  GCond cond;
  gboolean open;
} Gate;

typedef struct
{
  LbTestRacer racer;
  LbTestRaceFunc func;
  Gate *gate;
} Lane;

static gpointer
run_lane (gpointer data)
{
  Lane *lane = data;
  g_mutex_lock (&lane->gate->lock);
  while (!lane->gate->open)
    g_cond_wait (&lane->gate->cond, &lane->gate->lock);
  g_mutex_unlock (&lane->gate->lock);
  lane->func (&lane->racer);
  return NULL;
}

void
lb_test_race (guint n, LbTestRaceFunc func, gpointer data, gint * ok,
    gint * refused)
{
  Gate gate = { 0 };
  g_mutex_init (&gate.lock);
  g_cond_init (&gate.cond);
  g_autofree Lane *lanes = g_new0 (Lane, n);
  g_autofree GThread **threads = g_new0 (GThread *, n);
  for (guint i = 0; i < n; i++) {
    lanes[i] = (Lane) { {
    i, data, 0, 0}
    , func, &gate};
    threads[i] = g_thread_new ("racer", run_lane, &lanes[i]);
  }
  g_mutex_lock (&gate.lock);
  gate.open = TRUE;
  g_cond_broadcast (&gate.cond);
  g_mutex_unlock (&gate.lock);
  *ok = *refused = 0;
  for (guint i = 0; i < n; i++) {
    g_thread_join (threads[i]);
    *ok += lanes[i].racer.ok;
    *refused += lanes[i].racer.refused;
  }
  g_cond_clear (&gate.cond);
  g_mutex_clear (&gate.lock);
}
