/* lookback — helpers shared by every test suite (tests/common)
 *
 * Linked into each test program through lb_test_dep (tests/meson.build).
 */
#pragma once

#include <glib.h>

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

/* A GSpawnChildSetupFunc: the child is killed when the test dies (a
 * failed assertion leaves no camera or daemon running). */
void      lb_test_child_setup             (gpointer data);

/* An RTSP test camera (tests/tools/lb-test-camera) on loopback, started by
 * the test: @port 0 picks a free port; @args (NULL-terminated, or NULL)
 * are more of its options ("--codec", "h265", "--bframes", "2",
 * "--stamp", …).  Fails the test when it does not start. */
typedef struct
{
  GPid pid;
  gchar *url;                   /* rtsp://127.0.0.1:PORT/cam */
} LbTestCamera;

LbTestCamera *lb_test_camera_start       (gint                port,
                                          const gchar *const *args);
gint          lb_test_camera_port        (LbTestCamera       *camera);
/* Kills it (SIGKILL) and frees it. */
void          lb_test_camera_kill        (LbTestCamera       *camera);

G_END_DECLS
