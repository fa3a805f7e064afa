/* Fuzz target: the body of POST /cameras/media/retrieval
 * (lb_api_create_parse, src/api/lb-api-parse.c)
 *
 * The bytes are the request body: JSON, its fields, RFC 3339 times, enums
 * and the rules between them.  Either a create that keeps every rule of the
 * contract comes out, or LB_ERROR_INVALID.
 */
#include "api/lb-api-parse.h"
#include "core/lb-error.h"
#include "core/lb-time.h"

#include "fuzz-abort.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t * data, size_t size);

/* 2026-11-15T12:00:00Z and the default limits. */
static const LbApiCreateLimits limits = {
  .now_ns = G_GINT64_CONSTANT (1794744000) * LB_NS_PER_SEC,
  .pending_deadline_ns = 600 * LB_NS_PER_SEC,
  .video_high_res_max_ns = 60 * LB_NS_PER_SEC,
  .video_low_res_max_ns = 600 * LB_NS_PER_SEC,
  .hyperlapse_max_ns = 2400 * LB_NS_PER_SEC,
};

static gint64
max_for (LbMediaType media_type)
{
  if (media_type == LB_MEDIA_TYPE_VIDEO_HIGH_RES)
    return limits.video_high_res_max_ns;
  if (media_type == LB_MEDIA_TYPE_VIDEO_LOW_RES)
    return limits.video_low_res_max_ns;
  return limits.hyperlapse_max_ns;
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LbApiCreate) c =
      lb_api_create_parse ((const gchar *) data, size, &limits, &error);

  if (c == NULL) {
    g_assert_error (error, LB_ERROR, LB_ERROR_INVALID);
    return 0;
  }
  g_assert_no_error (error);
  g_assert_nonnull (c->vehicle);
  g_assert_cmpstr (c->vehicle, !=, "");
  g_assert_cmpint (c->media_type, <, LB_MEDIA_TYPE_COUNT);
  g_assert_true ((c->inputs == NULL) != (c->camera_roles == NULL));
  g_assert_true ((c->inputs ? c->inputs : c->camera_roles)[0] != NULL);
  g_assert_cmpint (c->start_ns, >=, LB_TIME_MIN);
  g_assert_cmpint (c->end_ns, <=, LB_TIME_MAX);
  g_assert_cmpint (c->start_ns - limits.now_ns, <=, limits.pending_deadline_ns);
  if (c->media_type == LB_MEDIA_TYPE_IMAGE) {
    g_assert_cmpint (c->end_ns, ==, c->start_ns);
  } else {
    g_assert_cmpint (c->end_ns - c->start_ns, >=, LB_NS_PER_SEC);
    g_assert_cmpint (c->end_ns - c->start_ns, <=, max_for (c->media_type));
  }
  return 0;
}
