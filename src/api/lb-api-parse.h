/* lookback — what a request says, checked
 *
 * Pure functions from the bytes of a request (a JSON body, a query string, a
 * header) to a validated value, or FALSE / NULL with LB_ERROR_INVALID and a
 * message that names the field.  They touch neither the server nor the
 * store: the routes call them first, and the fuzz targets (tests/fuzz) call
 * them alone.
 */
#pragma once

#include "core/lb-config.h"
#include "core/lb-media-type.h"

#include <glib.h>

G_BEGIN_DECLS

/* ---------------------------------------------------------------------------
 * Query strings: repeated keys are kept, '+' is a plus (RFC 3986).
 */
typedef struct _LbApiQuery LbApiQuery;

/* @query: the raw query (without '?'), or NULL for none. */
LbApiQuery  *lb_api_query_parse   (const gchar  *query,
                                   GError      **error);
void         lb_api_query_free    (LbApiQuery   *q);
/* The last value of @name, or NULL. */
const gchar *lb_api_query_get     (LbApiQuery   *q,
                                   const gchar  *name);
/* Every value of @name, commas splitting values too, blanks dropped. */
GStrv        lb_api_query_get_all (LbApiQuery   *q,
                                   const gchar  *name);

/* ---------------------------------------------------------------------------
 * POST /cameras/media/retrieval
 */
typedef struct {
  gint64 now_ns;                  /* the box's clock */
  gint64 pending_deadline_ns;     /* [jobs] pending-deadline: a start may be at
                                   * most this far ahead of now_ns */
  gint64 video_high_res_max_ns;   /* [limits] */
  gint64 video_low_res_max_ns;
  gint64 hyperlapse_max_ns;
} LbApiCreateLimits;

void lb_api_create_limits_init (LbApiCreateLimits *limits,
                                LbConfig          *config,
                                gint64             now_ns);

typedef struct {
  gchar *vehicle;                 /* not empty; not checked against the config */
  LbMediaType media_type;
  gint64 start_ns;
  gint64 end_ns;                  /* == start_ns for an image */
  GStrv inputs;                   /* the inputs asked for, or NULL */
  GStrv camera_roles;             /* the cameraRoles asked for, or NULL */
} LbApiCreate;

/* The body of a create, checked against the contract and @limits (exactly
 * one of inputs / cameraRoles is set). */
LbApiCreate *lb_api_create_parse (const gchar              *body,
                                  gsize                     len,
                                  const LbApiCreateLimits  *limits,
                                  GError                  **error);
void         lb_api_create_free  (LbApiCreate *c);

/* ---------------------------------------------------------------------------
 * GET /cameras/media/retrieval: the retrievalId (a UUID) of the query.
 */
gchar       *lb_api_get_parse     (const gchar  *query,
                                   GError      **error);

/* ---------------------------------------------------------------------------
 * GET /cameras/media
 */
typedef struct {
  GStrv vehicles;                 /* 1 to 20 */
  gint64 start_ns;
  gint64 end_ns;                  /* start_ns ≤ end_ns ≤ start_ns + 24 h */
  gint64 available_after_ns;      /* LB_TIME_NONE: any */
  GStrv inputs;                   /* in the API's spelling; empty: any */
  guint media_types;              /* LB_MEDIA_TYPE_BIT of each; 0: any */
  GStrv trigger_reasons;          /* empty: any */
  gint64 after_id;                /* the cursor's row id; 0: the first page */
} LbApiList;

LbApiList   *lb_api_list_parse    (const gchar  *query,
                                   GError      **error);
void         lb_api_list_free     (LbApiList *l);
/* The list's spelling of an input (dashcamForwardFacing for
 * dashcamRoadFacing, …: the vendor's quirk). */
const gchar *lb_api_list_spelling (const gchar *input);

/* The list cursor (endCursor / after): opaque, URL-safe. */
gchar       *lb_api_cursor_encode (gint64        id);
gboolean     lb_api_cursor_decode (const gchar  *cursor,
                                   gint64       *out_id);

/* ---------------------------------------------------------------------------
 * Range header of GET /media/{id}
 */
typedef enum {
  LB_API_RANGE_ALL,               /* no usable Range: serve the whole file */
  LB_API_RANGE_PART,              /* bytes [first, last] */
  LB_API_RANGE_UNSATISFIABLE,     /* 416 */
} LbApiRange;

/* "bytes=a-b", "bytes=a-", "bytes=-n" against a file of @size bytes. */
LbApiRange   lb_api_range_parse   (const gchar *header,
                                   gint64       size,
                                   gint64      *first,
                                   gint64      *last);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbApiQuery, lb_api_query_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbApiCreate, lb_api_create_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbApiList, lb_api_list_free)

G_END_DECLS
