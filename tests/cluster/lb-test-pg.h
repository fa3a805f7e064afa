/* lookback tests — a real PostgreSQL 15 (Debian's postgresql-15) for the
 * cluster tests: a database cluster initialised in a new folder under /tmp,
 * its server on a free port of 127.0.0.1, run as the postgres user when the
 * test runs as root (PostgreSQL refuses root), as a child that dies with the
 * test (a failing test leaves no server behind).  Authentication is trust,
 * on loopback only.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _LbTestPg LbTestPg;

/* initdb in a new temporary folder, then starts the server and waits until
 * it accepts connections. */
LbTestPg    *lb_test_pg_new    (void);
/* A fast shutdown (SIGINT), waited for: every connection is cut. */
void         lb_test_pg_stop   (LbTestPg *pg);
/* Starts it again on the same port and data. */
void         lb_test_pg_start  (LbTestPg *pg);
/* postgresql://postgres@127.0.0.1:PORT/postgres */
const gchar *lb_test_pg_uri    (LbTestPg *pg);
/* Stops the server and removes its folder. */
void         lb_test_pg_free   (LbTestPg *pg);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbTestPg, lb_test_pg_free)

/* One of the racers lb_test_race () runs at once: its @index, the caller's
 * @data, and what it counted (atomic). */
typedef struct {
  guint index;
  gpointer data;
  gint ok;
  gint refused;
} LbTestRacer;

typedef void (*LbTestRaceFunc) (LbTestRacer *racer);

/* Runs @func on @n threads at once (each starts once all of them exist)
 * and waits for them all: the sums of their counts in *@ok and *@refused. */
void         lb_test_race      (guint           n,
                                LbTestRaceFunc  func,
                                gpointer        data,
                                gint           *ok,
                                gint           *refused);

G_END_DECLS
