/* lookback — the file system under the store: free space
 *
 * The free space is what an unprivileged writer may still use (statvfs
 * f_bavail): the blocks a file system reserves for root do not count, so a
 * floor holds whoever runs lookbackd.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Free bytes and size in bytes of the file system that holds @path (either
 * may be NULL).  LB_ERROR_IO when @path cannot be examined. */
gboolean lb_disk_space (const gchar  *path,
                        gint64       *out_free,
                        gint64       *out_size,
                        GError      **error);

G_END_DECLS
