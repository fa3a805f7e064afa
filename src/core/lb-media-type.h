/* lookback — the media types of a retrieval
 *
 * The API's mediaType is an enum inside lookback.  Its wire names
 * ("image", "videoHighRes", "videoLowRes", "hyperlapse") are parsed and
 * printed here and nowhere else: the API parses them from requests and
 * prints them in answers, the store converts at its SQL boundary, the
 * upload URL template prints them.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  LB_MEDIA_TYPE_IMAGE,
  LB_MEDIA_TYPE_VIDEO_HIGH_RES,
  LB_MEDIA_TYPE_VIDEO_LOW_RES,
  LB_MEDIA_TYPE_HYPERLAPSE,
} LbMediaType;

#define LB_MEDIA_TYPE_COUNT (LB_MEDIA_TYPE_HYPERLAPSE + 1)

/* A set of media types: bit (1 << type) for each; 0 is the empty set. */
#define LB_MEDIA_TYPE_BIT(type) (1u << (type))

/* The wire name of @type. */
const gchar        *lb_media_type_to_string   (LbMediaType   type);

/* Parses a wire name (case-sensitive, as the API spells it); FALSE for
 * anything else. */
gboolean            lb_media_type_from_string (const gchar  *name,
                                               LbMediaType  *out);

/* Every wire name, in enum order, NULL-terminated. */
const gchar *const *lb_media_type_names       (void);

/* Work and upload order: images (0) before clips (1) before hyperlapses
 * (2); lower goes first. */
gint                lb_media_type_priority    (LbMediaType   type);

G_END_DECLS
