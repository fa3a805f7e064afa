/* lookback — the media item of a retrieval, as the API and webhooks write it
 *
 * One object of GET /cameras/media/retrieval's "media" array
 * (api-contract.md): vehicle, input or camera role, media type, times,
 * status, and once available urlInfo and the coverage manifest.  The API
 * writes it in its answers, the webhook sender in its events: one writer,
 * so the two never differ.  No HTTP here (the API alone knows status codes).
 */
#pragma once

#include "store/lb-store-api.h"

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* "@name": @ns as the contract writes times (lb_time_format_rfc3339()). */
void     lb_media_json_add_time   (JsonBuilder   *b,
                                   const gchar   *name,
                                   gint64         ns);
/* "@name": [{"startTime", "endTime"}, …] of @ranges (LbTimeRange; NULL:
 * an empty array). */
void     lb_media_json_add_ranges (JsonBuilder   *b,
                                   const gchar   *name,
                                   const GArray  *ranges);

/* Makes the URL of an object uploaded to S3 (@object_url, unsigned) usable
 * by anyone holding it until @now_ns + @ttl_ns: a presigned URL. */
typedef gchar *(*LbMediaPresignFunc) (const gchar *object_url,
                                      gint64       now_ns,
                                      gint64       ttl_ns,
                                      gpointer     user_data);

/**
 * LbMediaUrls:
 * How urlInfo.url is made: a row with a public URL (uploaded) gives that URL,
 * presigned by @presign when set; any other the box's own signed URL under
 * @base_url.  Either way it expires @ttl_ns after the time of writing.
 */
typedef struct _LbMediaUrls {
  GBytes *sign_key;             /* the store's URL-signing key */
  const gchar *base_url;        /* the box's public base URL, no trailing slash */
  gint64 ttl_ns;                /* [jobs] url-ttl */
  LbMediaPresignFunc presign;   /* NULL: public URLs as they are */
  gpointer presign_data;
} LbMediaUrls;

/* urlInfo.url of @r at @now_ns; @out_expires_ns (optional) its expiry. */
gchar   *lb_media_item_url   (const LbMediaUrls  *urls,
                              const LbRetrieval  *r,
                              gint64              now_ns,
                              gint64             *out_expires_ns);

/* Writes the "urlInfo" member of @r (url, urlExpiryTime) into @b. */
void     lb_media_item_write_url_info (JsonBuilder       *b,
                                       const LbRetrieval *r,
                                       const LbMediaUrls *urls,
                                       gint64             now_ns);

/* Writes @r as one media object (begin_object … end_object) into @b. */
void     lb_media_item_write (JsonBuilder        *b,
                              const LbRetrieval  *r,
                              const LbMediaUrls  *urls,
                              gint64              now_ns);

G_END_DECLS
