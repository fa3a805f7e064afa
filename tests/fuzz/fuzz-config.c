/* Fuzz target: the configuration parser (lb_config_load_data,
 * src/core/lb-config.c)
 *
 * The bytes are a lookback.conf.  Either a configuration comes out whose
 * typed getters answer for every group and input it has, or
 * LB_ERROR_CONFIG naming what is wrong.
 */
#include "core/lb-config.h"
#include "core/lb-error.h"

#include "fuzz-abort.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t * data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  g_autofree gchar *text = g_strndup ((const gchar *) data, size);
  g_autoptr (GError) error = NULL;
  g_autoptr (LbConfig) config =
      lb_config_load_data (text, "/fuzz/lookback.conf", &error);

  if (config == NULL) {
    g_assert_error (error, LB_ERROR, LB_ERROR_CONFIG);
    return 0;
  }
  g_assert_no_error (error);
  g_assert_true (g_path_is_absolute (lb_config_get_store_dir (config)));
  g_autofree gchar *db = lb_config_get_db_path (config);
  g_assert_nonnull (db);
  g_assert_cmpint (lb_config_get_duration (config, "recorder", "retry-min"),
      <=, lb_config_get_duration (config, "recorder", "retry-max"));
  g_assert_cmpint (lb_config_get_size (config, "server", "max-body"), >, 0);
  g_assert_cmpint (lb_config_get_int (config, "server", "max-connections"),
      >=, 0);
  g_assert_cmpfloat (lb_config_get_double (config, "quota", "allowance"), >=,
      0);

  GPtrArray *inputs = lb_config_get_inputs (config);
  for (guint i = 0; i < inputs->len; i++) {
    const LbInputConfig *in = inputs->pdata[i];
    g_assert_true (lb_config_has_vehicle (config, in->vehicle));
    g_assert_true (lb_config_find_input (config, in->vehicle, in->input) == in);
    if (in->role)
      g_assert_nonnull (lb_config_find_role (config, in->vehicle, in->role));
    g_assert_nonnull (in->source);
    g_assert_cmpint (in->retention_max_age, >=, 0);
    g_assert_cmpint (in->retention_max_bytes, >=, 0);
    lb_config_get_org_allowance (config, in->vehicle);
  }
  g_auto (GStrv) headers = lb_config_get_keys (config, "upload-headers");
  for (guint i = 0; headers && headers[i]; i++)
    g_free (lb_config_get_free_string (config, "upload-headers", headers[i]));
  return 0;
}
