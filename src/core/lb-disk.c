/* lookback — the file system under the store: free space */
#include "core/lb-disk.h"
#include "core/lb-error.h"

#include <errno.h>
#include <sys/statvfs.h>

gboolean
lb_disk_space (const gchar * path, gint64 * out_free, gint64 * out_size,
    GError ** error)
{
  g_return_val_if_fail (path != NULL, FALSE);

  struct statvfs st;
  if (statvfs (path, &st) != 0) {
    gint e = errno;
    g_set_error (error, LB_ERROR, LB_ERROR_IO, "statvfs %s: %s", path,
        g_strerror (e));
    return FALSE;
  }
  if (out_free)
    *out_free = (gint64) st.f_bavail * (gint64) st.f_frsize;
  if (out_size)
    *out_size = (gint64) st.f_blocks * (gint64) st.f_frsize;
  return TRUE;
}
