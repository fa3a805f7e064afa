/* lookback tests — small helpers of the upload suite */
#pragma once

#include "core/lb-config.h"
#include "store/lb-store.h"
#include "core/lb-media-type.h"

G_BEGIN_DECLS

/* Writes @size pseudo-random bytes (from @seed) to @path, in blocks, and
 * returns their SHA-256 in hex. */
gchar    *lb_test_make_file     (const gchar *path, gsize size, guint32 seed);
/* SHA-256 of a file in hex, or NULL when it cannot be read. */
gchar    *lb_test_file_sha256   (const gchar *path);

/* A configuration for @store_dir uploading to @url_template (public URLs on
 * https://cdn.example.invalid), with tiny timeouts and backoff, plus an extra
 * header "x-lookback-test: hello world". */
gchar    *lb_test_upload_conf_text (const gchar *store_dir, const gchar *url_template);
LbConfig *lb_test_upload_config    (const gchar *store_dir, const gchar *url_template);

/* A pending retrieval row of organisation acme (period 2026-11, media id
 * "m-RID-INPUT") from @start_ns to @end_ns reserving @cost; its row id. */
gint64    lb_test_pending_row   (LbStore *store, const gchar *rid,
                                 const gchar *vehicle, const gchar *input,
                                 LbMediaType type, gint64 start_ns,
                                 gint64 end_ns, gdouble cost);

typedef gboolean (*LbTestCond) (gpointer data);
/* Polls @cond every 10 ms for up to @timeout_ms; TRUE when it held. */
gboolean  lb_test_wait_for      (LbTestCond cond, gpointer data, guint timeout_ms);

G_END_DECLS
