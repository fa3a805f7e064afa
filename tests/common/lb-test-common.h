/* lookback — helpers shared by every test suite (tests/common)
 *
 * Linked into each test program through lb_test_dep (tests/meson.build).
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "store/lb-store.h"

G_BEGIN_DECLS

/* Removes @path and everything under it; symbolic links are removed, never
 * followed.  Missing paths are fine. */
void      lb_test_rm_rf                   (const gchar *path);

/* The store of @dir (<dir>/lookback.db, created when missing), opened
 * (asserted). */
LbStore  *lb_test_store_open              (const gchar *dir);

/* A new temporary folder holding an empty store: its database is
 * <dir>/lookback.db.  Returns the folder; *@out_db (if not NULL) gets the
 * database's path. */
gchar    *lb_test_store_new               (gchar **out_db);

/* A store opened in a new temporary folder, for a g_test fixture:
 *
 *   g_test_add ("/x", LbTestStoreFixture, NULL, lb_test_store_fixture_setup,
 *       test_x, lb_test_store_fixture_teardown);
 *
 * A test with more fields embeds it first and calls both functions from its
 * own set-up and tear-down. */
typedef struct
{
  gchar   *dir;
  LbStore *store;
} LbTestStoreFixture;

void      lb_test_store_fixture_setup     (LbTestStoreFixture *f,
                                           gconstpointer       data);
void      lb_test_store_fixture_teardown  (LbTestStoreFixture *f,
                                           gconstpointer       data);

/* The path of @file among the shared recordings (../shared/media beside the
 * checkout, $LB_SHARED_MEDIA in the tests' environment), or of the folder
 * itself when @file is NULL.  A missing file or folder fails the test at
 * once, naming it: the tests that need the recordings never pass without
 * them (README, "Tests"). */
gchar    *lb_test_shared_media            (const gchar *file);

/* Runs @argv (lookbackd, or a wrapper that execs it) with the environment
 * @envp (NULL: this process's) and reads its output up to the line that
 * says where its API listens: returns its pid (a child of this process,
 * killed if this process dies), *@uri gets the API's base URI, and the
 * lines read are appended to @log (nullable).  Its standard output goes to
 * /dev/null. */
GPid      lb_test_daemon_spawn            (const gchar *const *argv,
                                           gchar             **envp,
                                           gchar             **uri,
                                           GString            *log);

/* A request to the API at @base_uri with the bearer @token (the server runs
 * in another process): its JSON body (JSON null when empty); *@status gets
 * the HTTP status. */
JsonNode *lb_test_api_call                (SoupSession       *session,
                                           const gchar       *base_uri,
                                           const gchar       *token,
                                           const gchar       *method,
                                           const gchar       *path,
                                           const gchar       *body,
                                           guint             *status);

G_END_DECLS
