/* lookback — configuration
 *
 * The configuration is a GKeyFile.  Every key lookback knows is listed, with
 * its type and default, in one table in lb-config.c, and documented in
 * data/lookback.conf.  Loading checks every group and key against that table
 * and refuses a bad file naming the file, the line and the key; after a
 * successful load the typed getters cannot fail.
 *
 * Groups:
 *   [server] [store] [log] [metrics] [recorder] [retention] [api] [limits]
 *   [quota] [jobs]
 *   [upload] [upload-headers] [cluster]
 *   [input VEHICLE INPUT]   one camera input of a vehicle this box records
 *   [org NAME]              per-organisation overrides (quota allowance)
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  gchar *vehicle;               /* vehicleId as the API spells it */
  gchar *input;                 /* dashcamRoadFacing, analog1, ... */
  gchar *role;                  /* cameraRole, or NULL */
  gchar *source;                /* gst-launch fragment of the capture source */
  gint64 retention_max_age;     /* ns; 0 = keep forever */
  gint64 retention_max_bytes;   /* 0 = no limit */
  gboolean audio;               /* record the camera's audio (off by default:
                                 * in-cab audio is personal data) */
  gchar *sub_source;            /* gst-launch fragment of the camera's
                                 * sub-stream (recorded as well), or NULL */
} LbInputConfig;

typedef struct _LbConfig LbConfig;

LbConfig    *lb_config_new_default (void);
LbConfig    *lb_config_load        (const gchar  *path,
                                    GError      **error);
LbConfig    *lb_config_load_data   (const gchar  *data,
                                    const gchar  *name,
                                    GError      **error);
void         lb_config_free        (LbConfig *config);

const gchar *lb_config_get_source_name (LbConfig *config);
const gchar *lb_config_default_text    (void);

const gchar *lb_config_get_string   (LbConfig *config, const gchar *group, const gchar *key);
gint64       lb_config_get_int      (LbConfig *config, const gchar *group, const gchar *key);
gdouble      lb_config_get_double   (LbConfig *config, const gchar *group, const gchar *key);
gboolean     lb_config_get_bool     (LbConfig *config, const gchar *group, const gchar *key);
gint64       lb_config_get_duration (LbConfig *config, const gchar *group, const gchar *key);
gint64       lb_config_get_size     (LbConfig *config, const gchar *group, const gchar *key);
/* A key that is a size or a percentage ("5%"): the size in bytes, or that
 * percentage of @whole. */
gint64       lb_config_get_size_of  (LbConfig *config, const gchar *group, const gchar *key,
                                     gint64 whole);

/* Overrides a value after load (tests, command-line options); the value is
 * checked as a file value would be. */
gboolean     lb_config_set          (LbConfig     *config,
                                     const gchar  *group,
                                     const gchar  *key,
                                     const gchar  *value,
                                     GError      **error);

/* [jobs] workers, 0 resolved: one less than the cores, at least 1; and in
 * @image_workers (nullable) [jobs] image-workers, the workers that take
 * images only, besides those. */
guint        lb_config_get_job_workers (LbConfig *config, guint *image_workers);

/* A key that names a file or folder, made absolute (relative to the
 * configuration file's folder, or to the working directory for the
 * embedded defaults); NULL when empty. */
gchar       *lb_config_get_path      (LbConfig    *config,
                                      const gchar *group,
                                      const gchar *key);

/* [store] dir, made absolute (a relative dir is relative to the config
 * file's folder, or to the working directory for the embedded defaults). */
const gchar *lb_config_get_store_dir (LbConfig *config);
gchar       *lb_config_get_db_path   (LbConfig *config);

/* The free-form keys of a group such as [upload-headers], in file order. */
GStrv        lb_config_get_keys      (LbConfig *config, const gchar *group);
/* The value of a free-form key such as [upload-headers] NAME (whitespace
 * trimmed), or NULL when absent. */
gchar       *lb_config_get_free_string (LbConfig *config, const gchar *group, const gchar *key);

GPtrArray           *lb_config_get_inputs  (LbConfig *config);
const LbInputConfig *lb_config_find_input  (LbConfig *config, const gchar *vehicle, const gchar *input);
const LbInputConfig *lb_config_find_role   (LbConfig *config, const gchar *vehicle, const gchar *role);
gboolean             lb_config_has_vehicle (LbConfig *config, const gchar *vehicle);
gdouble              lb_config_get_org_allowance (LbConfig *config, const gchar *org);

/* Whether @name is an input of the API: dashcamRoadFacing,
 * dashcamDriverFacing, analog1 … analog4. */
gboolean             lb_config_is_api_input (const gchar *name);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbConfig, lb_config_free)

G_END_DECLS
