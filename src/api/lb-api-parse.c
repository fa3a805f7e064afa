/* lookback — what a request says, checked (see lb-api-parse.h) */
#include "api/lb-api-parse.h"
#include "core/lb-error.h"
#include "core/lb-time.h"

#include <json-glib/json-glib.h>
#include <string.h>

#define MAX_VEHICLES 20
#define MAX_LIST_WINDOW_NS (24 * 3600 * LB_NS_PER_SEC)

static const gchar *const inputs[] = {
  "dashcamRoadFacing", "dashcamDriverFacing",
  "analog1", "analog2", "analog3", "analog4", NULL,
};

/* The list endpoint's spelling of the dashcam inputs (vendor quirk). */
static const gchar *const list_inputs[] = {
  "dashcamForwardFacing", "dashcamInwardFacing",
  "analog1", "analog2", "analog3", "analog4", NULL,
};

/* Both spellings: the list accepts either. */
static const gchar *const any_inputs[] = {
  "dashcamForwardFacing", "dashcamInwardFacing",
  "analog1", "analog2", "analog3", "analog4",
  "dashcamRoadFacing", "dashcamDriverFacing", NULL,
};

static const gchar *const camera_roles[] = {
  "leftMirrorMount", "leftSide", "rightMirrorMount", "rightSide", "rearHigh",
  "rearBumper", "inCab", "front", "hopper", "other1", "other2", "other3",
  "other4", "leftBev", "rightBev", "rearBev", "frontBev", "otherBev",
  "bevNotUsed", NULL,
};

static const gchar *const trigger_reasons[] = {
  "api", "panicButton", "periodicStill", "rfidEvent", "safetyEvent",
  "tripEndStill", "tripStartStill", "videoRetrieval", NULL,
};

static gboolean
invalid (GError ** error, const gchar * format, ...)
G_GNUC_PRINTF (2, 3);

     static gboolean invalid (GError ** error, const gchar * format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree gchar *message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, LB_ERROR, LB_ERROR_INVALID, message);
  return FALSE;
}

static gboolean
check_enum (const gchar * name, const gchar * value,
    const gchar * const *allowed, GError ** error)
{
  if (g_strv_contains (allowed, value))
    return TRUE;
  g_autofree gchar *list = g_strjoinv (", ", (GStrv) allowed);
  return invalid (error, "%s: '%s' is not one of %s.", name, value, list);
}

/* A media type by its wire name, or LB_ERROR_INVALID naming the field. */
static gboolean
check_media_type (const gchar * name, const gchar * value, LbMediaType * out,
    GError ** error)
{
  return lb_media_type_from_string (value, out)
      || check_enum (name, value, lb_media_type_names (), error);
}

static gboolean
parse_time (const gchar * name, const gchar * text, gint64 * out,
    GError ** error)
{
  g_autoptr (GError) err = NULL;
  if (lb_time_parse_rfc3339 (text, out, &err))
    return TRUE;
  return invalid (error, "%s: %s", name, err->message);
}

/* ------------------------------------------------------------------------- */
/* Query strings */

struct _LbApiQuery
{
  GPtrArray *names;
  GPtrArray *values;
};

void
lb_api_query_free (LbApiQuery * q)
{
  if (q == NULL)
    return;
  g_ptr_array_unref (q->names);
  g_ptr_array_unref (q->values);
  g_free (q);
}

LbApiQuery *
lb_api_query_parse (const gchar * query, GError ** error)
{
  g_autoptr (LbApiQuery) q = g_new0 (LbApiQuery, 1);

  q->names = g_ptr_array_new_with_free_func (g_free);
  q->values = g_ptr_array_new_with_free_func (g_free);
  if (query == NULL)
    return g_steal_pointer (&q);
  g_auto (GStrv) parts = g_strsplit (query, "&", -1);
  for (guint i = 0; parts[i]; i++) {
    if (*parts[i] == '\0')
      continue;
    gchar *eq = strchr (parts[i], '=');
    g_autofree gchar *raw_name =
        eq ? g_strndup (parts[i], eq - parts[i]) : g_strdup (parts[i]);
    gchar *name = g_uri_unescape_string (raw_name, NULL);
    gchar *value = g_uri_unescape_string (eq ? eq + 1 : "", NULL);
    if (name == NULL || value == NULL) {
      g_free (name);
      g_free (value);
      invalid (error, "%s: the query string is not valid percent-encoding.",
          raw_name);
      return NULL;
    }
    g_ptr_array_add (q->names, name);
    g_ptr_array_add (q->values, value);
  }
  return g_steal_pointer (&q);
}

const gchar *
lb_api_query_get (LbApiQuery * q, const gchar * name)
{
  const gchar *v = NULL;
  for (guint i = 0; i < q->names->len; i++)
    if (g_str_equal (q->names->pdata[i], name))
      v = q->values->pdata[i];
  return v;
}

GStrv
lb_api_query_get_all (LbApiQuery * q, const gchar * name)
{
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  for (guint i = 0; i < q->names->len; i++) {
    if (!g_str_equal (q->names->pdata[i], name))
      continue;
    g_auto (GStrv) parts = g_strsplit (q->values->pdata[i], ",", -1);
    for (guint j = 0; parts[j]; j++) {
      g_strstrip (parts[j]);
      if (*parts[j])
        g_strv_builder_add (b, parts[j]);
    }
  }
  return g_strv_builder_end (b);
}

/* ------------------------------------------------------------------------- */
/* POST /cameras/media/retrieval */

void
lb_api_create_limits_init (LbApiCreateLimits * limits, LbConfig * config,
    gint64 now_ns)
{
  g_return_if_fail (limits != NULL && config != NULL);

  limits->now_ns = now_ns;
  limits->pending_deadline_ns =
      lb_config_get_duration (config, "jobs", "pending-deadline");
  limits->video_high_res_max_ns =
      lb_config_get_duration (config, "limits", "video-high-res-max");
  limits->video_low_res_max_ns =
      lb_config_get_duration (config, "limits", "video-low-res-max");
  limits->hyperlapse_max_ns =
      lb_config_get_duration (config, "limits", "hyperlapse-max");
}

void
lb_api_create_free (LbApiCreate * c)
{
  if (c == NULL)
    return;
  g_free (c->vehicle);
  g_strfreev (c->inputs);
  g_strfreev (c->camera_roles);
  g_free (c);
}

/* ------------------------------------------------------------------------- */
/* The body is checked to be well-formed JSON before json-glib builds it:
 * json-glib 1.6 leaks what it has built on several malformed inputs (a
 * second top-level value, a member without its comma, …), about a
 * kilobyte a request for any client.  This recognizer (RFC 8259, nesting
 * at most MAX_DEPTH deep) allocates nothing; json-glib then only ever sees
 * text it parses whole. */

#define MAX_DEPTH 32

typedef struct
{
  const gchar *p;
  const gchar *end;
  guint depth;
} Scan;

static gboolean scan_value (Scan * s);

static void
scan_blanks (Scan * s)
{
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n'
          || *s->p == '\r'))
    s->p++;
}

static gboolean
scan_char (Scan * s, gchar c)
{
  scan_blanks (s);
  if (s->p == s->end || *s->p != c)
    return FALSE;
  s->p++;
  return TRUE;
}

static gboolean
scan_word (Scan * s, const gchar * word)
{
  gsize n = strlen (word);
  if ((gsize) (s->end - s->p) < n || memcmp (s->p, word, n) != 0)
    return FALSE;
  s->p += n;
  return TRUE;
}

static gboolean
scan_digits (Scan * s)
{
  const gchar *start = s->p;
  while (s->p < s->end && g_ascii_isdigit (*s->p))
    s->p++;
  return s->p > start;
}

static gboolean
scan_number (Scan * s)
{
  if (s->p < s->end && *s->p == '-')
    s->p++;
  if (s->p < s->end && *s->p == '0')
    s->p++;
  else if (!scan_digits (s))
    return FALSE;
  if (s->p < s->end && *s->p == '.' && (s->p++, !scan_digits (s)))
    return FALSE;
  if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
    s->p++;
    if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
      s->p++;
    return scan_digits (s);
  }
  return TRUE;
}

/* \uXXXX: its value, or -1. */
static gint
scan_hex4 (Scan * s)
{
  gint v = 0;
  if (s->end - s->p < 5 || s->p[0] != 'u')
    return -1;
  for (guint i = 1; i <= 4; i++) {
    if (!g_ascii_isxdigit (s->p[i]))
      return -1;
    v = v * 16 + g_ascii_xdigit_value (s->p[i]);
  }
  s->p += 5;
  return v;
}

/* An escape after the backslash: surrogates come in pairs, NUL never. */
static gboolean
scan_escape (Scan * s)
{
  if (s->p < s->end && strchr ("\"\\/bfnrt", *s->p) && *s->p) {
    s->p++;
    return TRUE;
  }
  gint u = scan_hex4 (s);
  if (u <= 0 || (u >= 0xdc00 && u <= 0xdfff))
    return FALSE;
  if (u >= 0xd800 && u <= 0xdbff) {
    if (!scan_word (s, "\\"))
      return FALSE;
    gint low = scan_hex4 (s);
    return low >= 0xdc00 && low <= 0xdfff;
  }
  return TRUE;
}

static gboolean
scan_string (Scan * s)
{
  if (!scan_char (s, '"'))
    return FALSE;
  while (s->p < s->end) {
    guchar c = *s->p++;
    if (c == '"')
      return TRUE;
    if (c < 0x20 || (c == '\\' && !scan_escape (s)))
      return FALSE;
  }
  return FALSE;
}

/* The members of an object or the elements of an array, after its '{' or
 * '[', up to its @close. */
static gboolean
scan_items (Scan * s, gboolean members, gchar close)
{
  if (++s->depth > MAX_DEPTH)
    return FALSE;
  if (scan_char (s, close)) {
    s->depth--;
    return TRUE;
  }
  do {
    if (members && (!scan_string (s) || !scan_char (s, ':')))
      return FALSE;
    if (!scan_value (s))
      return FALSE;
  } while (scan_char (s, ','));
  s->depth--;
  return scan_char (s, close);
}

static gboolean
scan_value (Scan * s)
{
  scan_blanks (s);
  if (s->p == s->end)
    return FALSE;
  switch (*s->p) {
    case '{':
      s->p++;
      return scan_items (s, TRUE, '}');
    case '[':
      s->p++;
      return scan_items (s, FALSE, ']');
    case '"':
      return scan_string (s);
    case 't':
      return scan_word (s, "true");
    case 'f':
      return scan_word (s, "false");
    case 'n':
      return scan_word (s, "null");
    default:
      return scan_number (s);
  }
}

/* The body must be one JSON object, well formed and valid UTF-8. */
static gboolean
check_body (const gchar * body, gsize len, GError ** error)
{
  Scan s = { body, body + len, 0 };

  scan_blanks (&s);
  if (s.p == s.end || *s.p != '{')
    return invalid (error, "The request body must be a JSON object.");
  if (!g_utf8_validate (body, len, NULL))
    return invalid (error, "Malformed JSON body: not UTF-8.");
  if (!scan_value (&s))
    return invalid (error, "Malformed JSON body: error at byte %"
        G_GSIZE_FORMAT ".", (gsize) (s.p - body));
  scan_blanks (&s);
  if (s.p != s.end)
    return invalid (error, "Malformed JSON body: data after the object "
        "(byte %" G_GSIZE_FORMAT ").", (gsize) (s.p - body));
  return TRUE;
}

/* The body as a JSON object (owned by @parser). */
static JsonObject *
body_object (JsonParser * parser, const gchar * body, gsize len,
    GError ** error)
{
  g_autoptr (GError) err = NULL;

  if (body == NULL || !check_body (body, len, error))
    return NULL;
  if (!json_parser_load_from_data (parser, body, len, &err)) {
    invalid (error, "Malformed JSON body: %s", err->message);
    return NULL;
  }
  JsonNode *root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
    invalid (error, "The request body must be a JSON object.");
    return NULL;
  }
  return json_node_get_object (root);
}

static gboolean
field_string (JsonObject * o, const gchar * name, const gchar ** out,
    GError ** error)
{
  JsonNode *n = json_object_get_member (o, name);
  if (n == NULL || JSON_NODE_HOLDS_NULL (n))
    return invalid (error, "%s is required.", name);
  if (!JSON_NODE_HOLDS_VALUE (n)
      || json_node_get_value_type (n) != G_TYPE_STRING)
    return invalid (error, "%s must be a string.", name);
  *out = json_node_get_string (n);
  return TRUE;
}

static gboolean
field_time (JsonObject * o, const gchar * name, gint64 * out, GError ** error)
{
  const gchar *text;
  return field_string (o, name, &text, error)
      && parse_time (name, text, out, error);
}

/* An array of enum strings; *@out stays NULL when the member is absent. */
static gboolean
field_enum_array (JsonObject * o, const gchar * name,
    const gchar * const *allowed, GStrv * out, GError ** error)
{
  JsonNode *n = json_object_get_member (o, name);
  if (n == NULL || JSON_NODE_HOLDS_NULL (n))
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (n))
    return invalid (error, "%s must be an array of strings.", name);
  JsonArray *a = json_node_get_array (n);
  guint len = json_array_get_length (a);
  if (len == 0)
    return invalid (error, "%s must not be empty.", name);
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  for (guint i = 0; i < len; i++) {
    JsonNode *e = json_array_get_element (a, i);
    g_autofree gchar *label = g_strdup_printf ("%s[%u]", name, i);
    if (!JSON_NODE_HOLDS_VALUE (e)
        || json_node_get_value_type (e) != G_TYPE_STRING)
      return invalid (error, "%s must be a string.", label);
    if (!check_enum (label, json_node_get_string (e), allowed, error))
      return FALSE;
    g_strv_builder_add (b, json_node_get_string (e));
  }
  *out = g_strv_builder_end (b);
  return TRUE;
}

static gint64
max_duration (const LbApiCreateLimits * limits, LbMediaType media_type)
{
  if (media_type == LB_MEDIA_TYPE_VIDEO_HIGH_RES)
    return limits->video_high_res_max_ns;
  if (media_type == LB_MEDIA_TYPE_VIDEO_LOW_RES)
    return limits->video_low_res_max_ns;
  return limits->hyperlapse_max_ns;
}

/* The rules between fields: inputs or roles, the range per media type. */
static gboolean
check_create (const LbApiCreate * c, const LbApiCreateLimits * limits,
    GError ** error)
{
  if (*c->vehicle == '\0')
    return invalid (error, "vehicleId must not be empty.");
  if (c->inputs == NULL && c->camera_roles == NULL)
    return invalid (error, "inputs or cameraRoles is required.");
  if (c->inputs && c->camera_roles)
    return invalid (error,
        "inputs and cameraRoles: give one of them, not both.");
  /* Footage that far ahead cannot be recorded before the row's deadline:
   * refused now rather than polled until then. */
  if (lb_time_diff (c->start_ns, limits->now_ns) > limits->pending_deadline_ns) {
    g_autofree gchar *ahead = lb_time_format_duration
        (limits->pending_deadline_ns);
    g_autofree gchar *now = lb_time_format_rfc3339 (limits->now_ns);
    return invalid (error, "startTime: more than %s after the box's clock "
        "(%s): footage for it cannot be recorded in time.", ahead, now);
  }
  if (c->media_type == LB_MEDIA_TYPE_IMAGE) {
    if (c->end_ns != c->start_ns)
      return invalid (error, "endTime must equal startTime for an image.");
    return TRUE;
  }
  gint64 max = max_duration (limits, c->media_type);
  gint64 span = lb_time_diff (c->end_ns, c->start_ns);
  if (span < LB_NS_PER_SEC)
    return invalid (error,
        "endTime must be at least 1 s after startTime for %s.",
        lb_media_type_to_string (c->media_type));
  if (span > max) {
    g_autofree gchar *max_text = lb_time_format_duration (max);
    return invalid (error,
        "endTime: a %s retrieval covers at most %s after startTime.",
        lb_media_type_to_string (c->media_type), max_text);
  }
  return TRUE;
}

LbApiCreate *
lb_api_create_parse (const gchar * body, gsize len,
    const LbApiCreateLimits * limits, GError ** error)
{
  g_return_val_if_fail (limits != NULL, NULL);

  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (LbApiCreate) c = g_new0 (LbApiCreate, 1);
  const gchar *vehicle, *media_type;

  JsonObject *o = body_object (parser, body, len, error);
  if (o == NULL)
    return NULL;
  if (!field_string (o, "vehicleId", &vehicle, error) ||
      !field_time (o, "startTime", &c->start_ns, error) ||
      !field_time (o, "endTime", &c->end_ns, error) ||
      !field_string (o, "mediaType", &media_type, error) ||
      !check_media_type ("mediaType", media_type, &c->media_type, error) ||
      !field_enum_array (o, "inputs", inputs, &c->inputs, error) ||
      !field_enum_array (o, "cameraRoles", camera_roles, &c->camera_roles,
          error))
    return NULL;
  c->vehicle = g_strdup (vehicle);
  if (!check_create (c, limits, error))
    return NULL;
  return g_steal_pointer (&c);
}

/* ------------------------------------------------------------------------- */
/* GET /cameras/media/retrieval */

gchar *
lb_api_get_parse (const gchar * query, GError ** error)
{
  g_autoptr (LbApiQuery) q = lb_api_query_parse (query, error);
  if (q == NULL)
    return NULL;
  const gchar *id = lb_api_query_get (q, "retrievalId");
  if (id == NULL || *id == '\0') {
    invalid (error, "retrievalId is required.");
    return NULL;
  }
  if (!g_uuid_string_is_valid (id)) {
    invalid (error, "retrievalId: '%s' is not a UUID.", id);
    return NULL;
  }
  return g_strdup (id);
}

/* ------------------------------------------------------------------------- */
/* GET /cameras/media */

void
lb_api_list_free (LbApiList * l)
{
  if (l == NULL)
    return;
  g_strfreev (l->vehicles);
  g_strfreev (l->inputs);
  g_strfreev (l->trigger_reasons);
  g_free (l);
}

const gchar *
lb_api_list_spelling (const gchar * input)
{
  for (guint i = 0; inputs[i]; i++)
    if (g_strcmp0 (inputs[i], input) == 0)
      return list_inputs[i];
  return input;
}

static const gchar *
api_spelling (const gchar * list_input)
{
  for (guint i = 0; list_inputs[i]; i++)
    if (g_str_equal (list_inputs[i], list_input))
      return inputs[i];
  return list_input;
}

gchar *
lb_api_cursor_encode (gint64 id)
{
  g_autofree gchar *plain = g_strdup_printf ("lb1:%" G_GINT64_FORMAT, id);
  gchar *b64 = g_base64_encode ((const guchar *) plain, strlen (plain));
  /* URL-safe, unpadded */
  for (gchar * p = b64; *p; p++)
    *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
  gchar *eq = strchr (b64, '=');
  if (eq)
    *eq = '\0';
  return b64;
}

gboolean
lb_api_cursor_decode (const gchar * cursor, gint64 * out_id)
{
  g_return_val_if_fail (cursor != NULL && out_id != NULL, FALSE);

  gsize n = strlen (cursor);
  if (n == 0 || n > 64)
    return FALSE;
  g_autoptr (GString) s = g_string_new (NULL);
  for (const gchar * p = cursor; *p; p++) {
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_')
      return FALSE;
    g_string_append_c (s, *p == '-' ? '+' : *p == '_' ? '/' : *p);
  }
  while (s->len % 4)
    g_string_append_c (s, '=');
  gsize len;
  g_autofree guchar *raw = g_base64_decode (s->str, &len);
  g_autofree gchar *text = g_strndup ((const gchar *) raw, len);
  if (!g_str_has_prefix (text, "lb1:"))
    return FALSE;
  gchar *end;
  gint64 id = g_ascii_strtoll (text + 4, &end, 10);
  if (end == text + 4 || *end != '\0' || id < 0)
    return FALSE;
  *out_id = id;
  return TRUE;
}

static gboolean
check_enum_list (const gchar * name, GStrv values,
    const gchar * const *allowed, GError ** error)
{
  for (guint i = 0; values[i]; i++)
    if (!check_enum (name, values[i], allowed, error))
      return FALSE;
  return TRUE;
}

/* The set (LB_MEDIA_TYPE_BIT) of the media types named in @values. */
static gboolean
media_type_set (const gchar * name, GStrv values, guint * out, GError ** error)
{
  for (guint i = 0; values[i]; i++) {
    LbMediaType t;
    if (!check_media_type (name, values[i], &t, error))
      return FALSE;
    *out |= LB_MEDIA_TYPE_BIT (t);
  }
  return TRUE;
}

static gboolean
query_time (LbApiQuery * q, const gchar * name, gboolean required,
    gint64 * out, GError ** error)
{
  const gchar *text = lb_api_query_get (q, name);
  *out = LB_TIME_NONE;
  if (text == NULL || *text == '\0')
    return required ? invalid (error, "%s is required.", name) : TRUE;
  return parse_time (name, text, out, error);
}

static gboolean
list_window (LbApiList * l, LbApiQuery * q, GError ** error)
{
  if (!query_time (q, "startTime", TRUE, &l->start_ns, error) ||
      !query_time (q, "endTime", TRUE, &l->end_ns, error) ||
      !query_time (q, "availableAfterTime", FALSE, &l->available_after_ns,
          error))
    return FALSE;
  if (l->end_ns < l->start_ns)
    return invalid (error, "endTime is before startTime.");
  if (lb_time_diff (l->end_ns, l->start_ns) > MAX_LIST_WINDOW_NS)
    return invalid (error, "endTime must be at most 24 hours after startTime.");
  return TRUE;
}

static gboolean
list_filters (LbApiList * l, LbApiQuery * q, GError ** error)
{
  l->inputs = lb_api_query_get_all (q, "inputs");
  g_auto (GStrv) types = lb_api_query_get_all (q, "mediaTypes");
  l->trigger_reasons = lb_api_query_get_all (q, "triggerReasons");
  if (!check_enum_list ("inputs", l->inputs, any_inputs, error)
      || !media_type_set ("mediaTypes", types, &l->media_types, error)
      || !check_enum_list ("triggerReasons", l->trigger_reasons,
          trigger_reasons, error))
    return FALSE;
  for (guint i = 0; l->inputs[i]; i++) {
    gchar *api = g_strdup (api_spelling (l->inputs[i]));
    g_free (l->inputs[i]);
    l->inputs[i] = api;
  }
  const gchar *after = lb_api_query_get (q, "after");
  if (after && *after && !lb_api_cursor_decode (after, &l->after_id))
    return invalid (error,
        "after: '%s' is not a cursor returned by this endpoint.", after);
  return TRUE;
}

LbApiList *
lb_api_list_parse (const gchar * query, GError ** error)
{
  g_autoptr (LbApiQuery) q = lb_api_query_parse (query, error);
  g_autoptr (LbApiList) l = g_new0 (LbApiList, 1);

  if (q == NULL)
    return NULL;
  l->vehicles = lb_api_query_get_all (q, "vehicleIds");
  if (l->vehicles[0] == NULL) {
    invalid (error, "vehicleIds is required.");
    return NULL;
  }
  if (g_strv_length (l->vehicles) > MAX_VEHICLES) {
    invalid (error, "vehicleIds: at most %d vehicles per request.",
        MAX_VEHICLES);
    return NULL;
  }
  if (!list_window (l, q, error) || !list_filters (l, q, error))
    return NULL;
  return g_steal_pointer (&l);
}

/* ------------------------------------------------------------------------- */
/* Range */

/* A decimal number of digits only (no sign, no blanks) that fits a gint64. */
static gboolean
read_number (const gchar ** p, gint64 * out)
{
  gint64 v = 0;

  if (!g_ascii_isdigit (**p))
    return FALSE;
  for (; g_ascii_isdigit (**p); (*p)++) {
    if (v > (G_MAXINT64 - (**p - '0')) / 10)
      return FALSE;
    v = v * 10 + (**p - '0');
  }
  *out = v;
  return TRUE;
}

LbApiRange
lb_api_range_parse (const gchar * header, gint64 size, gint64 * first,
    gint64 * last)
{
  g_return_val_if_fail (first != NULL && last != NULL, LB_API_RANGE_ALL);

  /* Anything but one well-formed range is ignored: the whole file is a
   * valid answer to it (RFC 9110 14.2). */
  if (header == NULL || !g_str_has_prefix (header, "bytes="))
    return LB_API_RANGE_ALL;
  const gchar *p = header + 6;
  gint64 a, b;
  if (*p == '-') {              /* the last b bytes */
    p++;
    if (!read_number (&p, &b) || *p)
      return LB_API_RANGE_ALL;
    if (b == 0 || size == 0)
      return LB_API_RANGE_UNSATISFIABLE;
    *first = b >= size ? 0 : size - b;
    *last = size - 1;
    return LB_API_RANGE_PART;
  }
  if (!read_number (&p, &a) || *p++ != '-')
    return LB_API_RANGE_ALL;
  b = G_MAXINT64;
  if (*p && (!read_number (&p, &b) || *p || b < a))
    return LB_API_RANGE_ALL;
  if (a >= size)
    return LB_API_RANGE_UNSATISFIABLE;
  *first = a;
  *last = MIN (b, size - 1);
  return LB_API_RANGE_PART;
}
