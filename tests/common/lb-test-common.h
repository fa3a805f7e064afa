/* lookback — helpers shared by every test suite (tests/common)
 *
 * Linked into each test program through lb_test_dep (tests/meson.build).
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "store/lb-store.h"

G_BEGIN_DECLS

/* Removes @path and everything under it; symbolic links are removed, never
 * followed.  Missing paths are fine. */
void      lb_test_rm_rf                   (const gchar *path);

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

/* Asserts the quota books of @org this month: committed usage @used and
 * open reservations @reserved (seconds of high-res video). */
void      lb_test_assert_books            (LbStore     *store,
                                           const gchar *org,
                                           gdouble      used,
                                           gdouble      reserved);

/* A free TCP port on 127.0.0.1 (bound then released). */
guint     lb_test_free_port               (void);

/* Spawns @argv as a child that is killed when the test dies. */
GSubprocess *lb_test_spawn_tied           (const gchar * const *argv,
                                           GError            **error);
/* @method @base@path through @session, with "Authorization: Bearer @token"
 * (NULL: none) and the JSON @body (NULL: none).  The reply's JSON, or NULL
 * when it has none; *@status gets the status (0 when nothing answered). */
JsonNode *lb_test_http_json               (SoupSession  *session,
                                           const gchar  *base,
                                           const gchar  *method,
                                           const gchar  *path,
                                           const gchar  *token,
                                           const gchar  *body,
                                           guint        *status);

/* The same with its stdout and stderr written to the file @log. */
GSubprocess *lb_test_spawn_tied_logged    (const gchar * const *argv,
                                           const gchar        *log,
                                           GError            **error);

G_END_DECLS
