/* lookback — the sample journal of a segment being written (see the header) */
#include "mp4/lb-mp4-journal.h"
#include "core/lb-error.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#define RECORD 32
#define HEADER 8
#define DIGEST_BYTES 32

struct _LbMp4Journal
{
  gint fd;
  gint records;                 /* atomic: appended so far */
  gint failed;                  /* atomic: a write failed or it is full */
};

gchar *
lb_mp4_journal_path (const gchar * segment_path)
{
  g_return_val_if_fail (segment_path != NULL, NULL);
  return g_strconcat (segment_path, LB_MP4_JOURNAL_SUFFIX, NULL);
}

/* FNV-1a */
static guint32
fnv (guint32 h, const guint8 * d, gsize n)
{
  for (gsize i = 0; i < n; i++)
    h = (h ^ d[i]) * 16777619u;
  return h;
}

guint32
lb_mp4_journal_digest (guint32 size, const guint8 * head, const guint8 * tail)
{
  guint8 be[4] = { size >> 24, size >> 16, size >> 8, size };
  gsize n = MIN (size, DIGEST_BYTES);
  guint32 h = fnv (2166136261u, be, 4);
  h = fnv (h, head, n);
  return fnv (h, tail, n);
}

LbMp4Journal *
lb_mp4_journal_create (const gchar * segment_path, GError ** error)
{
  g_return_val_if_fail (segment_path != NULL, NULL);
  g_autofree gchar *path = lb_mp4_journal_path (segment_path);
  gint fd = g_open (path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC,
      0600);
  if (fd < 0) {
    g_set_error (error, LB_ERROR, LB_ERROR_IO, "cannot create %s: %s", path,
        g_strerror (errno));
    return NULL;
  }
  guint8 header[HEADER] = { 'L', 'B', 'J', '1', 0, 0, 0, RECORD };
  if (write (fd, header, HEADER) != HEADER) {
    g_set_error (error, LB_ERROR, LB_ERROR_IO, "cannot write %s: %s", path,
        g_strerror (errno));
    close (fd);
    return NULL;
  }
  LbMp4Journal *j = g_new0 (LbMp4Journal, 1);
  j->fd = fd;
  return j;
}

static void
put_be (guint8 * p, guint64 v, guint bytes)
{
  for (guint i = 0; i < bytes; i++)
    p[i] = (guint8) (v >> (8 * (bytes - 1 - i)));
}

static guint64
get_be (const guint8 * p, guint bytes)
{
  guint64 v = 0;
  for (guint i = 0; i < bytes; i++)
    v = (v << 8) | p[i];
  return v;
}

gboolean
lb_mp4_journal_append (LbMp4Journal * j, const LbMp4JournalEntry * e)
{
  g_return_val_if_fail (j != NULL && e != NULL, FALSE);
  if (g_atomic_int_get (&j->failed))
    return FALSE;
  if (g_atomic_int_add (&j->records, 1) >= LB_MP4_JOURNAL_MAX_RECORDS) {
    g_atomic_int_set (&j->failed, 1);
    return FALSE;
  }
  guint8 r[RECORD] = { 0 };
  r[0] = (guint8) e->track;
  r[1] = e->sync ? 1 : 0;
  put_be (r + 4, e->size, 4);
  put_be (r + 8, e->digest, 4);
  put_be (r + 12, (guint64) e->dts_ns, 8);
  put_be (r + 20, (guint64) e->pts_ns, 8);
  put_be (r + 28, (guint64) CLAMP (e->duration_ns, 0, G_MAXUINT32), 4);
  /* O_APPEND: records of two threads never overlap */
  if (write (j->fd, r, RECORD) != RECORD) {
    g_atomic_int_set (&j->failed, 1);
    return FALSE;
  }
  return TRUE;
}

void
lb_mp4_journal_close (LbMp4Journal * j)
{
  if (j == NULL)
    return;
  close (j->fd);
  g_free (j);
}

gboolean
lb_mp4_journal_parse (const guint8 * data, gsize len, GArray ** out_video,
    GArray ** out_audio, GError ** error)
{
  g_return_val_if_fail (data != NULL || len == 0, FALSE);
  g_return_val_if_fail (out_video != NULL && out_audio != NULL, FALSE);
  if (len < HEADER || memcmp (data, "LBJ1", 4) != 0
      || get_be (data + 4, 4) != RECORD) {
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT, "not a sample journal");
    return FALSE;
  }
  gsize n = (len - HEADER) / RECORD;
  if (n > LB_MP4_JOURNAL_MAX_RECORDS) {
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT,
        "sample journal of %" G_GSIZE_FORMAT " records, more than %u", n,
        LB_MP4_JOURNAL_MAX_RECORDS);
    return FALSE;
  }
  g_autoptr (GArray) video = g_array_new (FALSE, FALSE,
      sizeof (LbMp4JournalEntry));
  g_autoptr (GArray) audio = g_array_new (FALSE, FALSE,
      sizeof (LbMp4JournalEntry));
  for (gsize i = 0; i < n; i++) {
    const guint8 *r = data + HEADER + i * RECORD;
    if (r[0] > LB_MP4_JOURNAL_AUDIO) {
      g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT,
          "sample journal record %" G_GSIZE_FORMAT " of unknown track %u", i,
          r[0]);
      return FALSE;
    }
    LbMp4JournalEntry e = {
      .track = r[0],
      .sync = (r[1] & 1) != 0,
      .size = (guint32) get_be (r + 4, 4),
      .digest = (guint32) get_be (r + 8, 4),
      .dts_ns = (gint64) get_be (r + 12, 8),
      .pts_ns = (gint64) get_be (r + 20, 8),
      .duration_ns = (gint64) get_be (r + 28, 4),
    };
    g_array_append_val (e.track == LB_MP4_JOURNAL_VIDEO ? video : audio, e);
  }
  *out_video = g_steal_pointer (&video);
  *out_audio = g_steal_pointer (&audio);
  return TRUE;
}
