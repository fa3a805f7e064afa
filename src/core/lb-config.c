/* lookback — configuration: one table of known keys, checked at load */
#include "core/lb-config.h"
#include "core/lb-debug.h"
#include "core/lb-error.h"
#include "core/lb-time.h"

#include <math.h>
#include <string.h>

GST_DEBUG_CATEGORY_STATIC (lb_config_debug);
#define GST_CAT_DEFAULT lb_config_debug

typedef enum
{
  T_STRING,
  T_INT,
  T_DOUBLE,
  T_BOOL,
  T_DURATION,
  T_SIZE,
  T_CHOICE,                     /* one of the '|'-separated words of choices */
  T_SIZE_PERCENT,               /* a size, or a percentage ("5%") of a whole */
} KeyType;

typedef struct
{
  const gchar *group;           /* exact name, or "input" / "org" for the
                                 * groups named "input V I" / "org NAME" */
  const gchar *key;
  KeyType type;
  const gchar *def;             /* default, as it would be written in a file */
  gdouble min, max;             /* numeric range, inclusive (ignored if equal) */
  const gchar *choices;         /* T_CHOICE: "a|b|c" */
} KeySpec;

/* Keep in step with data/lookback.conf, which documents each of these. */
static const KeySpec key_specs[] = {
  {"server", "listen", T_STRING, "127.0.0.1:8080"},
  {"server", "public-url", T_STRING, ""},
  {"server", "request-timeout", T_DURATION, "30s", 1e9, 3600e9},
  {"server", "idle-timeout", T_DURATION, "60s", 1e9, 3600e9},
  {"server", "max-body", T_SIZE, "64KiB", 1024, 64 * 1048576.0},
  {"server", "tls-certificate", T_STRING, ""},
  {"server", "tls-key", T_STRING, ""},
  {"server", "max-connections", T_INT, "0", 0, 1000000},

  {"store", "dir", T_STRING, "lookback-data"},
  {"store", "min-free", T_SIZE_PERCENT, "5%"},

  {"log", "level", T_CHOICE, "info", 0, 0, "error|warning|notice|info|debug"},

  {"metrics", "token", T_STRING, ""},

  {"recorder", "enabled", T_BOOL, "true"},
  {"recorder", "segment-duration", T_DURATION, "60s", 5e9, 3600e9},
  {"recorder", "fragment-duration", T_DURATION, "1s", 0.1e9, 60e9},
  {"recorder", "retry-min", T_DURATION, "1s", 0.05e9, 3600e9},
  {"recorder", "retry-max", T_DURATION, "30s", 0.05e9, 3600e9},
  {"recorder", "time-source", T_CHOICE, "ntp", 0, 0, "ntp|file|trust"},
  {"recorder", "time-sync-file", T_STRING,
      "/run/systemd/timesync/synchronized"},

  {"retention", "max-age", T_DURATION, "30d"},
  {"retention", "max-bytes", T_SIZE, "0"},
  {"retention", "interval", T_DURATION, "60s", 1e9, 86400e9},

  {"api", "create-per-minute", T_DOUBLE, "100", 0, 1e9},
  {"api", "reads-per-second", T_DOUBLE, "5", 0, 1e9},

  {"limits", "video-high-res-max", T_DURATION, "60s", 1e9, 86400e9},
  {"limits", "video-low-res-max", T_DURATION, "10min", 1e9, 86400e9},
  {"limits", "hyperlapse-max", T_DURATION, "40min", 1e9, 86400e9},

  {"quota", "allowance", T_DOUBLE, "900000", 0, 1e15},
  {"quota", "image-cost", T_DOUBLE, "0.1", 0, 1e9},
  {"quota", "low-res-weight", T_DOUBLE, "0.25", 0, 1e9},
  {"quota", "hyperlapse-weight", T_DOUBLE, "0.05", 0, 1e9},

  {"jobs", "workers", T_INT, "0", 0, 64},
  {"jobs", "image-workers", T_INT, "1", 0, 64},
  {"jobs", "retries", T_INT, "3", 0, 100},
  {"jobs", "pending-deadline", T_DURATION, "10min", 0, 30 * 86400e9},
  {"jobs", "url-ttl", T_DURATION, "8h", 1e9, 7 * 86400e9},
  {"jobs", "low-res-width", T_INT, "640", 16, 7680},
  {"jobs", "low-res-height", T_INT, "360", 16, 4320},
  {"jobs", "low-res-bitrate", T_INT, "500", 16, 100000},
  {"jobs", "hyperlapse-interval", T_DURATION, "1s", 0.01e9, 3600e9},
  {"jobs", "hyperlapse-framerate", T_INT, "30", 1, 120},
  {"jobs", "hyperlapse-max-output", T_DURATION, "120s", 1e9, 3600e9},
  {"jobs", "hyperlapse-remux-max-bitrate", T_INT, "8000", 0, 1000000},
  {"jobs", "high-res-codec", T_CHOICE, "copy", 0, 0, "copy|h264"},

  {"upload", "url-template", T_STRING, ""},
  {"upload", "public-url-template", T_STRING, ""},
  {"upload", "checksum-header", T_STRING, "x-checksum-sha256"},
  {"upload", "connect-timeout", T_DURATION, "10s", 0.1e9, 3600e9},
  {"upload", "timeout", T_DURATION, "60s", 0.1e9, 86400e9},
  {"upload", "backoff-min", T_DURATION, "1s", 0.01e9, 3600e9},
  {"upload", "backoff-max", T_DURATION, "5min", 0.01e9, 86400e9},
  {"upload", "keep", T_DURATION, "24h", 0, 365 * 86400e9},
  {"upload", "protocol", T_CHOICE, "put", 0, 0, "put|s3|tus"},
  {"upload", "key-template", T_STRING,
      "{vehicleId}/{retrievalId}/{input}.{ext}"},
  {"upload", "max-rate", T_SIZE, "0"},
  {"upload", "s3-endpoint", T_STRING, ""},
  {"upload", "s3-bucket", T_STRING, ""},
  {"upload", "s3-region", T_STRING, "us-east-1"},
  {"upload", "s3-access-key-id", T_STRING, ""},
  {"upload", "s3-secret-access-key-file", T_STRING, ""},
  {"upload", "s3-secret-access-key", T_STRING, ""},
  {"upload", "s3-session-token-file", T_STRING, ""},
  {"upload", "s3-path-style", T_BOOL, "false"},
  {"upload", "s3-part-size", T_SIZE, "8MiB", 5 * 1048576.0, 5 * 1073741824.0},
  {"upload", "tus-chunk-size", T_SIZE, "8MiB", 65536, 5 * 1073741824.0},

  {"webhook", "url", T_STRING, ""},
  {"webhook", "secret-file", T_STRING, ""},
  {"webhook", "deadline", T_DURATION, "24h", 1e9, 30 * 86400e9},
  {"webhook", "timeout", T_DURATION, "30s", 0.1e9, 3600e9},
  {"webhook", "backoff-min", T_DURATION, "1s", 0.01e9, 3600e9},
  {"webhook", "backoff-max", T_DURATION, "5min", 0.01e9, 86400e9},

  {"cluster", "database", T_STRING, ""},
  {"cluster", "node", T_STRING, ""},
  {"cluster", "advertise", T_STRING, ""},
  {"cluster", "connections", T_INT, "4", 1, 64},
  {"cluster", "heartbeat", T_DURATION, "2s", 0.1e9, 600e9},

  {"input", "source", T_STRING, NULL},
  {"input", "role", T_STRING, ""},
  {"input", "retention-max-age", T_DURATION, ""},
  {"input", "retention-max-bytes", T_SIZE, ""},
  {"input", "audio", T_BOOL, "false"},
  {"input", "sub-source", T_STRING, ""},

  {"org", "allowance", T_DOUBLE, "", 0, 1e15},
};

/* Groups whose keys are free-form strings. */
/* NULL-terminated: read with g_strv_contains */
static const gchar *const free_groups[] = { "upload-headers", NULL };

static const gchar *const api_inputs[] = {
  "dashcamRoadFacing", "dashcamDriverFacing",
  "analog1", "analog2", "analog3", "analog4", NULL
};

static const gchar *const camera_roles[] = {
  "leftMirrorMount", "leftSide", "rightMirrorMount", "rightSide", "rearHigh",
  "rearBumper", "inCab", "front", "hopper", "other1", "other2", "other3",
  "other4", "leftBev", "rightBev", "rearBev", "frontBev", "otherBev",
  "bevNotUsed", NULL
};

static const gchar default_text[] =
    "# lookback embedded defaults: one demo vehicle with two test cameras\n"
    "[server]\n"
    "listen=127.0.0.1:8080\n"
    "\n"
    "[store]\n"
    "dir=lookback-data\n"
    "\n"
    "# a developer's machine may not say its clock is synchronised\n"
    "[recorder]\n"
    "time-source=trust\n"
    "\n"
    "[input demo dashcamRoadFacing]\n"
    "source=videotestsrc is-live=true pattern=smpte horizontal-speed=2 ! "
    "video/x-raw,width=640,height=360,framerate=15/1 ! lbclockstamp source=wall\n"
    "\n"
    "[input demo dashcamDriverFacing]\n"
    "source=videotestsrc is-live=true pattern=ball ! "
    "video/x-raw,width=640,height=360,framerate=15/1 ! lbclockstamp source=wall\n";

typedef struct
{
  KeyType type;
  gchar *text;
  gboolean percent;             /* T_SIZE_PERCENT given as a percentage (in d) */
  union
  {
    gint64 i;                   /* T_INT, T_DURATION, T_SIZE(_PERCENT), T_BOOL */
    gdouble d;                  /* T_DOUBLE, T_SIZE_PERCENT's percentage */
  };
} Value;

struct _LbConfig
{
  gchar *source_name;           /* the file's path, or "embedded defaults" */
  gchar *base_dir;              /* where relative paths start */
  GKeyFile *kf;
  GHashTable *lines;            /* "group\nkey" → line number (GINT_TO_POINTER) */
  GHashTable *values;           /* "group\nkey" → Value*, every known key */
  GPtrArray *inputs;            /* LbInputConfig* */
  gchar *store_dir;
};

static void
value_free (gpointer p)
{
  Value *v = p;
  g_free (v->text);
  g_free (v);
}

static void
input_config_free (gpointer p)
{
  LbInputConfig *in = p;
  g_free (in->vehicle);
  g_free (in->input);
  g_free (in->role);
  g_free (in->source);
  g_free (in->sub_source);
  g_free (in);
}

void
lb_config_free (LbConfig * config)
{
  if (config == NULL)
    return;
  g_free (config->source_name);
  g_free (config->base_dir);
  g_clear_pointer (&config->kf, g_key_file_unref);
  g_clear_pointer (&config->lines, g_hash_table_unref);
  g_clear_pointer (&config->values, g_hash_table_unref);
  g_clear_pointer (&config->inputs, g_ptr_array_unref);
  g_free (config->store_dir);
  g_free (config);
}

static gchar *
vkey (const gchar * group, const gchar * key)
{
  return g_strconcat (group, "\n", key, NULL);
}

/* Records the line of every "key=" in the raw text, per group, so that
 * errors can point at it.  GKeyFile does the real parsing. */
static void
index_lines (LbConfig * config, const gchar * data)
{
  g_auto (GStrv) lines = g_strsplit (data, "\n", -1);
  g_autofree gchar *group = NULL;

  for (guint i = 0; lines[i]; i++) {
    g_autofree gchar *line = g_strstrip (g_strdup (lines[i]));
    if (line[0] == '#' || line[0] == '\0')
      continue;
    if (line[0] == '[') {
      gchar *end = strrchr (line, ']');
      g_free (group);
      group =
          g_strndup (line + 1,
          end ? (gsize) (end - line - 1) : strlen (line + 1));
      g_hash_table_insert (config->lines, vkey (group, ""),
          GINT_TO_POINTER (i + 1));
      continue;
    }
    gchar *eq = strchr (line, '=');
    if (group && eq) {
      g_autofree gchar *key = g_strstrip (g_strndup (line, eq - line));
      g_hash_table_insert (config->lines, vkey (group, key),
          GINT_TO_POINTER (i + 1));
    }
  }
}

static gint
line_of (LbConfig * config, const gchar * group, const gchar * key)
{
  g_autofree gchar *k = vkey (group, key ? key : "");
  return GPOINTER_TO_INT (g_hash_table_lookup (config->lines, k));
}

G_GNUC_PRINTF (5, 6)
     static void
         set_config_error (GError ** error, LbConfig * config,
    const gchar * group, const gchar * key, const gchar * format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree gchar *msg = g_strdup_vprintf (format, args);
  va_end (args);
  gint line = line_of (config, group, key);

  if (key)
    g_set_error (error, LB_ERROR, LB_ERROR_CONFIG, "%s:%d: [%s] %s: %s",
        config->source_name, line, group, key, msg);
  else
    g_set_error (error, LB_ERROR, LB_ERROR_CONFIG, "%s:%d: [%s]: %s",
        config->source_name, line, group, msg);
}

static const gchar *
group_kind (const gchar * group)
{
  if (g_str_has_prefix (group, "input ") || g_str_equal (group, "input"))
    return "input";
  if (g_str_has_prefix (group, "org ") || g_str_equal (group, "org"))
    return "org";
  return group;
}

static const KeySpec *
find_spec (const gchar * kind, const gchar * key)
{
  for (guint i = 0; i < G_N_ELEMENTS (key_specs); i++)
    if (g_str_equal (key_specs[i].group, kind)
        && g_str_equal (key_specs[i].key, key))
      return &key_specs[i];
  return NULL;
}

static gboolean
known_group (const gchar * kind)
{
  for (guint i = 0; i < G_N_ELEMENTS (key_specs); i++)
    if (g_str_equal (key_specs[i].group, kind))
      return TRUE;
  return g_strv_contains (free_groups, kind);
}

static gboolean
parse_size (const gchar * text, gint64 * out)
{
  static const struct
  {
    const gchar *suffix;
    gdouble mult;
  } units[] = {
    {"", 1}, {"B", 1}, {"K", 1e3}, {"KB", 1e3}, {"KiB", 1024.0},
    {"M", 1e6}, {"MB", 1e6}, {"MiB", 1048576.0},
    {"G", 1e9}, {"GB", 1e9}, {"GiB", 1073741824.0},
    {"T", 1e12}, {"TB", 1e12}, {"TiB", 1099511627776.0},
  };
  gchar *end;
  if (!g_ascii_isdigit (text[0]))
    return FALSE;
  gdouble v = g_ascii_strtod (text, &end);
  while (*end == ' ')
    end++;
  for (guint i = 0; i < G_N_ELEMENTS (units); i++)
    if (g_ascii_strcasecmp (end, units[i].suffix) == 0) {
      gdouble bytes = v * units[i].mult;
      /* a gint64 holds it (and NaN fails both) */
      if (!(bytes >= 0 && bytes <= (gdouble) G_MAXINT64 / 2))
        return FALSE;
      *out = (gint64) (bytes + 0.5);
      return TRUE;
    }
  return FALSE;
}

/* "5%" (0 to under 100) into v->d, or a size into v->i. */
static gboolean
parse_size_percent (const gchar * text, Value * v, gchar ** why)
{
  if (g_str_has_suffix (text, "%")) {
    g_autofree gchar *num = g_strndup (text, strlen (text) - 1);
    gchar *end = NULL;
    v->d = g_ascii_strtod (num, &end);
    v->percent = TRUE;
    if (end != num && *end == '\0' && v->d >= 0 && v->d < 100)
      return TRUE;
    *why = g_strdup_printf ("'%s' is not a percentage from 0%% to under 100%%",
        text);
    return FALSE;
  }
  if (parse_size (text, &v->i))
    return TRUE;
  *why = g_strdup_printf ("'%s' is not a size (like 2GiB) or a percentage "
      "(like 5%%)", text);
  return FALSE;
}

/* Parses @text as @spec says into @v; FALSE with a message otherwise. */
static gboolean
parse_value (const KeySpec * spec, const gchar * text, Value * v, gchar ** why)
{
  gchar *end = NULL;
  gdouble num = 0;

  v->type = spec->type;
  v->text = g_strdup (text);
  switch (spec->type) {
    case T_STRING:
      return TRUE;
    case T_CHOICE:{
      g_auto (GStrv) words = g_strsplit (spec->choices, "|", -1);
      if (g_strv_contains ((const gchar * const *) words, text))
        return TRUE;
      *why = g_strdup_printf ("'%s' is not one of %s", text, spec->choices);
      return FALSE;
    }
    case T_BOOL:
      if (g_ascii_strcasecmp (text, "true") == 0 || g_str_equal (text, "1"))
        v->i = 1;
      else if (g_ascii_strcasecmp (text, "false") == 0
          || g_str_equal (text, "0"))
        v->i = 0;
      else {
        *why = g_strdup_printf ("'%s' is not true or false", text);
        return FALSE;
      }
      return TRUE;
    case T_INT:
      v->i = g_ascii_strtoll (text, &end, 10);
      if (end == text || *end != '\0') {
        *why = g_strdup_printf ("'%s' is not a whole number", text);
        return FALSE;
      }
      num = v->i;
      break;
    case T_DOUBLE:
      v->d = g_ascii_strtod (text, &end);
      if (end == text || *end != '\0' || !isfinite (v->d)) {
        *why = g_strdup_printf ("'%s' is not a number", text);
        return FALSE;
      }
      num = v->d;
      break;
    case T_DURATION:{
      g_autoptr (GError) err = NULL;
      if (!lb_time_parse_duration (text, &v->i, &err)) {
        *why = g_strdup (err->message);
        return FALSE;
      }
      num = v->i;
      break;
    }
    case T_SIZE:
      if (!parse_size (text, &v->i)) {
        *why =
            g_strdup_printf ("'%s' is not a size (like 500MiB or 20GB)", text);
        return FALSE;
      }
      num = v->i;
      break;
    case T_SIZE_PERCENT:
      return parse_size_percent (text, v, why);
  }
  if (spec->min != spec->max && (num < spec->min || num > spec->max)) {
    *why =
        g_strdup_printf ("'%s' is out of range (%g to %g)", text, spec->min,
        spec->max);
    return FALSE;
  }
  return TRUE;
}

gboolean
lb_config_is_api_input (const gchar * name)
{
  g_return_val_if_fail (name != NULL, FALSE);
  return g_strv_contains (api_inputs, name);
}

static gboolean
load_inputs (LbConfig * config, GError ** error)
{
  g_auto (GStrv) groups = g_key_file_get_groups (config->kf, NULL);

  for (guint i = 0; groups[i]; i++) {
    if (!g_str_equal (group_kind (groups[i]), "input"))
      continue;
    g_auto (GStrv) words = g_strsplit (groups[i], " ", -1);
    if (g_strv_length (words) != 3 || !*words[1] || !*words[2]) {
      set_config_error (error, config, groups[i], NULL,
          "an input group is named [input VEHICLE INPUT]");
      return FALSE;
    }
    if (!lb_config_is_api_input (words[2])) {
      set_config_error (error, config, groups[i], NULL,
          "'%s' is not an input of the API (dashcamRoadFacing, dashcamDriverFacing, "
          "analog1 … analog4)", words[2]);
      return FALSE;
    }
    LbInputConfig *in = g_new0 (LbInputConfig, 1);
    g_ptr_array_add (config->inputs, in);
    in->vehicle = g_strdup (words[1]);
    in->input = g_strdup (words[2]);
    in->source = g_key_file_get_string (config->kf, groups[i], "source", NULL);
    if (in->source == NULL || !*g_strstrip (in->source)) {
      set_config_error (error, config, groups[i], "source",
          "every input needs a capture source (a gst-launch fragment such as "
          "'rtspsrc location=rtsp://…' or 'videotestsrc is-live=true')");
      return FALSE;
    }
    g_autofree gchar *role =
        g_key_file_get_string (config->kf, groups[i], "role", NULL);
    if (role && *g_strstrip (role)) {
      if (!g_strv_contains (camera_roles, role)) {
        set_config_error (error, config, groups[i], "role",
            "'%s' is not a camera role of the API", role);
        return FALSE;
      }
      in->role = g_steal_pointer (&role);
    }
    in->retention_max_age =
        lb_config_get_duration (config, "retention", "max-age");
    in->retention_max_bytes =
        lb_config_get_size (config, "retention", "max-bytes");
    g_autofree gchar *k1 = vkey (groups[i], "retention-max-age");
    g_autofree gchar *k2 = vkey (groups[i], "retention-max-bytes");
    Value *age = g_hash_table_lookup (config->values, k1);
    Value *bytes = g_hash_table_lookup (config->values, k2);
    if (age)
      in->retention_max_age = age->i;
    if (bytes)
      in->retention_max_bytes = bytes->i;
    g_autofree gchar *k3 = vkey (groups[i], "audio");
    Value *audio = g_hash_table_lookup (config->values, k3);
    in->audio = audio && audio->i != 0;
    in->sub_source = g_key_file_get_string (config->kf, groups[i],
        "sub-source", NULL);
    if (in->sub_source && !*g_strstrip (in->sub_source))
      g_clear_pointer (&in->sub_source, g_free);
  }
  return TRUE;
}

/* The value of @key, unescaped, or NULL with the reason: not UTF-8, a bad
 * escape.  A value ending in a lone backslash is refused before GLib
 * unescapes it: 2.74 sets its GError twice for it (a warning). */
static gchar *
get_string (LbConfig * config, const gchar * group, const gchar * key,
    GError ** error)
{
  g_autofree gchar *value = g_key_file_get_value (config->kf, group, key,
      NULL);
  gsize n = value ? strlen (value) : 0, slashes = 0;
  gchar *text = NULL;

  while (slashes < n && value[n - 1 - slashes] == '\\')
    slashes++;
  if (value && slashes % 2 == 0)
    text = g_key_file_get_string (config->kf, group, key, NULL);
  if (text == NULL)
    set_config_error (error, config, group, key,
        "not UTF-8 text with valid escapes");
  return text;
}

static gboolean
load_key_file (LbConfig * config, const gchar * data, GError ** error)
{
  g_autoptr (GError) err = NULL;

  config->kf = g_key_file_new ();
  config->lines = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  config->values =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, value_free);
  config->inputs = g_ptr_array_new_with_free_func (input_config_free);

  index_lines (config, data);
  if (!g_key_file_load_from_data (config->kf, data, -1, G_KEY_FILE_NONE, &err)) {
    g_set_error (error, LB_ERROR, LB_ERROR_CONFIG, "%s: %s",
        config->source_name, err->message);
    return FALSE;
  }

  /* Defaults of the fixed groups. */
  for (guint i = 0; i < G_N_ELEMENTS (key_specs); i++) {
    const KeySpec *s = &key_specs[i];
    if (g_str_equal (s->group, "input") || g_str_equal (s->group, "org"))
      continue;
    Value *v = g_new0 (Value, 1);
    g_autofree gchar *why = NULL;
    if (!parse_value (s, s->def, v, &why))
      g_error ("lookback: built-in default of [%s] %s is bad: %s", s->group,
          s->key, why);
    g_hash_table_insert (config->values, vkey (s->group, s->key), v);
  }

  /* The file's values, each checked. */
  g_auto (GStrv) groups = g_key_file_get_groups (config->kf, NULL);
  for (guint g = 0; groups[g]; g++) {
    const gchar *kind = group_kind (groups[g]);
    if (!known_group (kind)) {
      set_config_error (error, config, groups[g], NULL, "unknown group");
      return FALSE;
    }
    g_auto (GStrv) keys =
        g_key_file_get_keys (config->kf, groups[g], NULL, NULL);
    for (guint k = 0; keys[k]; k++) {
      g_autofree gchar *raw = get_string (config, groups[g], keys[k], error);
      g_autofree gchar *why = NULL;
      if (raw == NULL)
        return FALSE;
      if (g_strv_contains (free_groups, kind))
        continue;
      const KeySpec *s = find_spec (kind, keys[k]);
      if (s == NULL) {
        set_config_error (error, config, groups[g], keys[k], "unknown key");
        return FALSE;
      }
      g_strstrip (raw);
      if (*raw == '\0' && (g_str_equal (kind, "input")
              || g_str_equal (kind, "org")))
        continue;
      Value *v = g_new0 (Value, 1);
      if (!parse_value (s, raw, v, &why)) {
        value_free (v);
        set_config_error (error, config, groups[g], keys[k], "%s", why);
        return FALSE;
      }
      g_hash_table_replace (config->values, vkey (groups[g], keys[k]), v);
    }
  }

  if (!load_inputs (config, error))
    return FALSE;

  const gchar *dir = lb_config_get_string (config, "store", "dir");
  if (*dir == '\0') {
    set_config_error (error, config, "store", "dir",
        "the store needs a folder");
    return FALSE;
  }
  config->store_dir = lb_config_get_path (config, "store", "dir");
  if ((*lb_config_get_string (config, "server", "tls-certificate") == '\0') !=
      (*lb_config_get_string (config, "server", "tls-key") == '\0')) {
    set_config_error (error, config, "server", "tls-key",
        "tls-certificate and tls-key go together");
    return FALSE;
  }

  if (lb_config_get_duration (config, "recorder", "retry-min") >
      lb_config_get_duration (config, "recorder", "retry-max")) {
    set_config_error (error, config, "recorder", "retry-min",
        "is longer than retry-max");
    return FALSE;
  }
  if (g_str_equal (lb_config_get_string (config, "recorder", "time-source"),
          "file")
      && *lb_config_get_string (config, "recorder", "time-sync-file") == '\0') {
    set_config_error (error, config, "recorder", "time-sync-file",
        "is empty while time-source=file");
    return FALSE;
  }
  GST_INFO ("configuration from %s: %u inputs, store in %s",
      config->source_name, config->inputs->len, config->store_dir);
  return TRUE;
}

/**
 * lb_config_load_data:
 * @data: the text of a configuration file
 * @name: what to call it in errors (a path)
 */
LbConfig *
lb_config_load_data (const gchar * data, const gchar * name, GError ** error)
{
  g_return_val_if_fail (data != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);

  LB_DEBUG_INIT (lb_config_debug, "lookback-config", "lookback configuration");
  g_autoptr (LbConfig) config = g_new0 (LbConfig, 1);
  config->source_name = g_strdup (name);
  config->base_dir = g_path_is_absolute (name) ? g_path_get_dirname (name)
      : g_get_current_dir ();
  if (!load_key_file (config, data, error))
    return NULL;
  return g_steal_pointer (&config);
}

LbConfig *
lb_config_load (const gchar * path, GError ** error)
{
  g_return_val_if_fail (path != NULL, NULL);

  g_autofree gchar *data = NULL;
  g_autoptr (GError) err = NULL;
  g_autofree gchar *abs = g_canonicalize_filename (path, NULL);

  if (!g_file_get_contents (path, &data, NULL, &err)) {
    g_set_error (error, LB_ERROR, LB_ERROR_CONFIG, "%s: %s", path,
        err->message);
    return NULL;
  }
  return lb_config_load_data (data, abs, error);
}

const gchar *
lb_config_default_text (void)
{
  return default_text;
}

LbConfig *
lb_config_new_default (void)
{
  g_autoptr (GError) error = NULL;
  LbConfig *config =
      lb_config_load_data (default_text, "embedded defaults", &error);

  if (config == NULL)
    g_error ("lookback: the embedded defaults do not load: %s", error->message);
  g_free (config->source_name);
  config->source_name = g_strdup ("embedded defaults");
  return config;
}

const gchar *
lb_config_get_source_name (LbConfig * config)
{
  g_return_val_if_fail (config != NULL, NULL);
  return config->source_name;
}

static const Value *
get_value (LbConfig * config, const gchar * group, const gchar * key,
    KeyType type)
{
  g_autofree gchar *k = vkey (group, key);
  const Value *v = g_hash_table_lookup (config->values, k);

  /* A choice is read as the string it is. */
  gboolean same = v && (v->type == type
      || (type == T_STRING && v->type == T_CHOICE));

  if (v == NULL)
    g_critical ("lookback: [%s] %s is not a configuration key", group, key);
  else if (!same)
    g_critical ("lookback: [%s] %s is read with the wrong type", group, key);
  return same ? v : NULL;
}

const gchar *
lb_config_get_string (LbConfig * config, const gchar * group, const gchar * key)
{
  g_return_val_if_fail (config != NULL, NULL);
  const Value *v = get_value (config, group, key, T_STRING);
  return v ? v->text : "";
}

gint64
lb_config_get_int (LbConfig * config, const gchar * group, const gchar * key)
{
  g_return_val_if_fail (config != NULL, 0);
  const Value *v = get_value (config, group, key, T_INT);
  return v ? v->i : 0;
}

gdouble
lb_config_get_double (LbConfig * config, const gchar * group, const gchar * key)
{
  g_return_val_if_fail (config != NULL, 0);
  const Value *v = get_value (config, group, key, T_DOUBLE);
  return v ? v->d : 0;
}

gboolean
lb_config_get_bool (LbConfig * config, const gchar * group, const gchar * key)
{
  g_return_val_if_fail (config != NULL, FALSE);
  const Value *v = get_value (config, group, key, T_BOOL);
  return v ? v->i != 0 : FALSE;
}

gint64
lb_config_get_duration (LbConfig * config, const gchar * group,
    const gchar * key)
{
  g_return_val_if_fail (config != NULL, 0);
  const Value *v = get_value (config, group, key, T_DURATION);
  return v ? v->i : 0;
}

gint64
lb_config_get_size (LbConfig * config, const gchar * group, const gchar * key)
{
  g_return_val_if_fail (config != NULL, 0);
  const Value *v = get_value (config, group, key, T_SIZE);
  return v ? v->i : 0;
}

gint64
lb_config_get_size_of (LbConfig * config, const gchar * group,
    const gchar * key, gint64 whole)
{
  g_return_val_if_fail (config != NULL, 0);
  const Value *v = get_value (config, group, key, T_SIZE_PERCENT);
  if (v == NULL)
    return 0;
  return v->percent ? (gint64) (whole * (v->d / 100.0)) : v->i;
}

gboolean
lb_config_set (LbConfig * config, const gchar * group, const gchar * key,
    const gchar * value, GError ** error)
{
  g_return_val_if_fail (config != NULL, FALSE);
  g_return_val_if_fail (group != NULL && key != NULL && value != NULL, FALSE);

  const KeySpec *s = find_spec (group_kind (group), key);
  g_autofree gchar *why = NULL;

  if (s == NULL) {
    set_config_error (error, config, group, key, "unknown key");
    return FALSE;
  }
  Value *v = g_new0 (Value, 1);
  if (!parse_value (s, value, v, &why)) {
    value_free (v);
    set_config_error (error, config, group, key, "%s", why);
    return FALSE;
  }
  g_hash_table_replace (config->values, vkey (group, key), v);
  g_key_file_set_string (config->kf, group, key, value);
  return TRUE;
}

guint
lb_config_get_job_workers (LbConfig * config, guint * image_workers)
{
  g_return_val_if_fail (config != NULL, 1);
  gint64 workers = lb_config_get_int (config, "jobs", "workers");
  if (workers <= 0)
    workers = MAX (1, (gint64) g_get_num_processors () - 1);
  if (image_workers)
    *image_workers =
        (guint) lb_config_get_int (config, "jobs", "image-workers");
  return (guint) workers;
}

gchar *
lb_config_get_path (LbConfig * config, const gchar * group, const gchar * key)
{
  g_return_val_if_fail (config != NULL, NULL);

  const gchar *path = lb_config_get_string (config, group, key);
  if (path == NULL || *path == '\0')
    return NULL;
  return g_path_is_absolute (path) ? g_strdup (path)
      : g_build_filename (config->base_dir, path, NULL);
}

const gchar *
lb_config_get_store_dir (LbConfig * config)
{
  g_return_val_if_fail (config != NULL, NULL);
  return config->store_dir;
}

gchar *
lb_config_get_db_path (LbConfig * config)
{
  g_return_val_if_fail (config != NULL, NULL);
  return g_build_filename (config->store_dir, "lookback.db", NULL);
}

GStrv
lb_config_get_keys (LbConfig * config, const gchar * group)
{
  g_return_val_if_fail (config != NULL, NULL);
  GStrv keys = g_key_file_get_keys (config->kf, group, NULL, NULL);
  return keys ? keys : g_new0 (gchar *, 1);
}

gchar *
lb_config_get_free_string (LbConfig * config, const gchar * group,
    const gchar * key)
{
  g_return_val_if_fail (config != NULL, NULL);
  gchar *v = g_key_file_get_string (config->kf, group, key, NULL);
  return v ? g_strstrip (v) : NULL;
}

GPtrArray *
lb_config_get_inputs (LbConfig * config)
{
  g_return_val_if_fail (config != NULL, NULL);
  return config->inputs;
}

const LbInputConfig *
lb_config_find_input (LbConfig * config, const gchar * vehicle,
    const gchar * input)
{
  g_return_val_if_fail (config != NULL, NULL);
  for (guint i = 0; i < config->inputs->len; i++) {
    const LbInputConfig *in = config->inputs->pdata[i];
    if (g_strcmp0 (in->vehicle, vehicle) == 0
        && g_strcmp0 (in->input, input) == 0)
      return in;
  }
  return NULL;
}

const LbInputConfig *
lb_config_find_role (LbConfig * config, const gchar * vehicle,
    const gchar * role)
{
  g_return_val_if_fail (config != NULL, NULL);
  for (guint i = 0; i < config->inputs->len; i++) {
    const LbInputConfig *in = config->inputs->pdata[i];
    if (g_strcmp0 (in->vehicle, vehicle) == 0
        && g_strcmp0 (in->role, role) == 0)
      return in;
  }
  return NULL;
}

gboolean
lb_config_has_vehicle (LbConfig * config, const gchar * vehicle)
{
  g_return_val_if_fail (config != NULL, FALSE);
  for (guint i = 0; i < config->inputs->len; i++) {
    const LbInputConfig *in = config->inputs->pdata[i];
    if (g_strcmp0 (in->vehicle, vehicle) == 0)
      return TRUE;
  }
  return FALSE;
}

gdouble
lb_config_get_org_allowance (LbConfig * config, const gchar * org)
{
  g_return_val_if_fail (config != NULL, 0);
  g_autofree gchar *group = g_strconcat ("org ", org, NULL);
  g_autofree gchar *k = vkey (group, "allowance");
  const Value *v = g_hash_table_lookup (config->values, k);
  return v ? v->d : lb_config_get_double (config, "quota", "allowance");
}
