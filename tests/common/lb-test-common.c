/* lookback — helpers shared by every test suite */
#include "lb-test-common.h"

#include <glib/gstdio.h>

void
lb_test_rm_rf (const gchar * path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR)
      && !g_file_test (path, G_FILE_TEST_IS_SYMLINK)) {
    g_autoptr (GDir) d = g_dir_open (path, 0, NULL);
    const gchar *name;
    while (d != NULL && (name = g_dir_read_name (d)) != NULL) {
      g_autofree gchar *child = g_build_filename (path, name, NULL);
      lb_test_rm_rf (child);
    }
    g_rmdir (path);
  } else {
    g_unlink (path);
  }
}

gchar *
lb_test_store_new (gchar ** out_db)
{
  g_autoptr (GError) error = NULL;
  gchar *dir = g_dir_make_tmp ("lb-store-XXXXXX", &error);

  g_assert_no_error (error);
  g_autofree gchar *db = g_build_filename (dir, "lookback.db", NULL);
  LbStore *store = lb_store_open (db, LB_STORE_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
  lb_store_free (store);
  if (out_db != NULL)
    *out_db = g_steal_pointer (&db);
  return dir;
}

gchar *
lb_test_shared_media (const gchar * file)
{
  const gchar *folder = g_getenv ("LB_SHARED_MEDIA");
  gchar *path;

  if (folder == NULL)
    g_error ("LB_SHARED_MEDIA is not set: run the tests with meson test, "
        "which points it at ../shared/media");
  path = g_build_filename (folder, file, NULL);
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    g_error ("%s is missing: this test needs the shared recordings "
        "(../shared/media beside the checkout; see README, Tests)", path);
  return path;
}

void
lb_test_store_fixture_setup (LbTestStoreFixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *db = NULL;

  f->dir = g_dir_make_tmp ("lb-store-XXXXXX", &error);
  g_assert_no_error (error);
  db = g_build_filename (f->dir, "lookback.db", NULL);
  f->store = lb_store_open (db, LB_STORE_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
}

void
lb_test_store_fixture_teardown (LbTestStoreFixture * f, gconstpointer data)
{
  g_clear_pointer (&f->store, lb_store_free);
  lb_test_rm_rf (f->dir);
  g_clear_pointer (&f->dir, g_free);
}
