/* lookback — ISO BMFF boxes: the one reader and writer of src/mp4 */
#include "mp4/lb-mp4-box.h"

#include "core/lb-error.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

gboolean
lb_mp4_box_read (GstByteReader * reader, LbMp4Box * box)
{
  guint start = gst_byte_reader_get_pos (reader);
  gsize left = gst_byte_reader_get_remaining (reader);
  guint32 size32, type;
  guint64 size;
  gsize header = 8;

  if (!gst_byte_reader_peek_uint32_be (reader, &size32) || left < 8)
    return FALSE;
  type = GST_READ_UINT32_BE (reader->data + start + 4);
  size = size32;
  if (size32 == 1) {
    if (left < 16)
      return FALSE;
    size = GST_READ_UINT64_BE (reader->data + start + 8);
    header = 16;
  } else if (size32 == 0) {
    size = left;
  }
  if (size < header || size > left)
    return FALSE;
  box->type = type;
  box->data = reader->data + start;
  box->size = size;
  box->payload = box->data + header;
  box->payload_size = size - header;
  gst_byte_reader_skip_unchecked (reader, size);
  return TRUE;
}

gboolean
lb_mp4_box_find (const guint8 * data, gsize size, guint32 type, LbMp4Box * out)
{
  GstByteReader r = GST_BYTE_READER_INIT (data, size);
  LbMp4Box b;

  while (lb_mp4_box_read (&r, &b)) {
    if (b.type == type) {
      *out = b;
      return TRUE;
    }
  }
  return FALSE;
}

gboolean
lb_mp4_box_find_path (const guint8 * data, gsize size, const guint32 * path,
    guint depth, LbMp4Box * out)
{
  LbMp4Box b = { 0 };

  for (guint i = 0; i < depth; i++) {
    if (!lb_mp4_box_find (data, size, path[i], &b))
      return FALSE;
    data = b.payload;
    size = b.payload_size;
  }
  *out = b;
  return depth > 0;
}

void
lb_mp4_box_reader (const LbMp4Box * box, GstByteReader * reader)
{
  gst_byte_reader_init (reader, box->payload, box->payload_size);
}

gboolean
lb_mp4_box_full (GstByteReader * reader, guint8 * version, guint32 * flags)
{
  guint32 v;
  if (!gst_byte_reader_get_uint32_be (reader, &v))
    return FALSE;
  *version = v >> 24;
  *flags = v & 0xffffff;
  return TRUE;
}

/* ---- files ---- */

gboolean
lb_mp4_pread (gint fd, guint8 * dst, gsize n, gint64 offset, GError ** error)
{
  gsize done = 0;
  while (done < n) {
    ssize_t r = pread (fd, dst + done, n - done, offset + done);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      g_set_error (error, LB_ERROR, LB_ERROR_IO,
          "read at %" G_GINT64_FORMAT ": %s", offset, g_strerror (errno));
      return FALSE;
    }
    if (r == 0) {
      g_set_error (error, LB_ERROR, LB_ERROR_NOT_YET,
          "file ends at %" G_GINT64_FORMAT, offset + (gint64) done);
      return FALSE;
    }
    done += r;
  }
  return TRUE;
}

gboolean
lb_mp4_pwrite (gint fd, const guint8 * src, gsize n, gint64 offset,
    GError ** error)
{
  gsize done = 0;
  while (done < n) {
    ssize_t r = pwrite (fd, src + done, n - done, offset + done);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      g_set_error (error, LB_ERROR, LB_ERROR_IO,
          "write at %" G_GINT64_FORMAT ": %s", offset, g_strerror (errno));
      return FALSE;
    }
    done += r;
  }
  return TRUE;
}

gboolean
lb_mp4_file_size (gint fd, gint64 * size, GError ** error)
{
  struct stat st;
  if (fstat (fd, &st) != 0) {
    g_set_error (error, LB_ERROR, LB_ERROR_IO, "fstat: %s", g_strerror (errno));
    return FALSE;
  }
  *size = st.st_size;
  return TRUE;
}

static gboolean
is_fourcc_text (guint32 t)
{
  for (gint i = 0; i < 4; i++) {
    guint8 c = (t >> (24 - 8 * i)) & 0xff;
    if (c < 0x20 || c > 0x7e)
      return FALSE;
  }
  return TRUE;
}

gboolean
lb_mp4_file_box (gint fd, gint64 pos, gint64 file_size, LbMp4FileBox * box,
    GError ** error)
{
  guint8 h[16];
  guint64 size;

  if (pos < 0 || pos > LB_MP4_MAX_OFFSET)
    goto not_a_box;
  if (pos > file_size || file_size - pos < 8)
    goto not_yet;
  if (!lb_mp4_pread (fd, h, 8, pos, error))
    return FALSE;
  box->pos = pos;
  box->type = GST_READ_UINT32_BE (h + 4);
  box->header_size = 8;
  size = GST_READ_UINT32_BE (h);
  if (!is_fourcc_text (box->type))
    goto not_a_box;
  if (size == 1) {
    if (file_size - pos < 16)
      goto not_yet;
    if (!lb_mp4_pread (fd, h + 8, 8, pos + 8, error))
      return FALSE;
    size = GST_READ_UINT64_BE (h + 8);
    box->header_size = 16;
  }
  if ((size != 0 && size < box->header_size)
      || size > (guint64) LB_MP4_MAX_OFFSET)
    goto bad_size;
  box->size = (gint64) size;
  return TRUE;

  /* ERRORS */
not_yet:
  {
    g_set_error (error, LB_ERROR, LB_ERROR_NOT_YET,
        "no box header at %" G_GINT64_FORMAT, pos);
    return FALSE;
  }
not_a_box:
  {
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT,
        "not an MP4 box at %" G_GINT64_FORMAT, pos);
    return FALSE;
  }
bad_size:
  {
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT,
        "bad box size at %" G_GINT64_FORMAT, pos);
    return FALSE;
  }
}

gboolean
lb_mp4_file_box_is_whole (const LbMp4FileBox * box, gint64 file_size)
{
  return box->size != 0 && box->size <= file_size - box->pos;
}

guint8 *
lb_mp4_file_box_load (gint fd, const LbMp4FileBox * box, gsize max,
    gsize * out_size, GError ** error)
{
  gsize len = box->size - box->header_size;
  if (box->size == 0 || len > max) {
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT,
        "box at %" G_GINT64_FORMAT " too large", box->pos);
    return NULL;
  }
  g_autofree guint8 *data = g_malloc (len ? len : 1);
  if (!lb_mp4_pread (fd, data, len, box->pos + box->header_size, error))
    return NULL;
  *out_size = len;
  return g_steal_pointer (&data);
}

/* ---- writing ---- */

guint
lb_mp4_box_begin (GstByteWriter * writer, guint32 type)
{
  guint start = gst_byte_writer_get_pos (writer);
  gst_byte_writer_put_uint32_be (writer, 0);
  gst_byte_writer_put_uint32_be (writer, type);
  return start;
}

void
lb_mp4_patch32 (GstByteWriter * writer, guint at, guint32 value)
{
  guint pos = gst_byte_writer_get_pos (writer);
  gst_byte_writer_set_pos (writer, at);
  gst_byte_writer_put_uint32_be (writer, value);
  gst_byte_writer_set_pos (writer, pos);
}

void
lb_mp4_patch64 (GstByteWriter * writer, guint at, guint64 value)
{
  lb_mp4_patch32 (writer, at, value >> 32);
  lb_mp4_patch32 (writer, at + 4, (guint32) value);
}

void
lb_mp4_box_end (GstByteWriter * writer, guint start)
{
  lb_mp4_patch32 (writer, start, gst_byte_writer_get_pos (writer) - start);
}

void
lb_mp4_trak_edit_start (const LbMp4Box * trak, guint64 * empty,
    gint64 * media_time)
{
  const guint32 elst_path[] =
      { LB_MP4_FOURCC ('e', 'd', 't', 's'), LB_MP4_FOURCC ('e', 'l', 's',
        't')
  };
  LbMp4Box elst;
  GstByteReader r;
  guint8 version;
  guint32 flags, n;

  *empty = 0;
  *media_time = 0;
  if (!lb_mp4_box_find_path (trak->payload, trak->payload_size, elst_path, 2,
          &elst))
    return;
  lb_mp4_box_reader (&elst, &r);
  if (!lb_mp4_box_full (&r, &version, &flags)
      || !gst_byte_reader_get_uint32_be (&r, &n))
    return;
  for (guint32 i = 0; i < n && i < 4; i++) {
    guint64 d = 0;
    gint64 m = 0;
    guint32 d32, m32;
    if (version == 1 && gst_byte_reader_get_uint64_be (&r, &d)
        && gst_byte_reader_get_int64_be (&r, &m)
        && gst_byte_reader_skip (&r, 4)) {
    } else if (version == 0 && gst_byte_reader_get_uint32_be (&r, &d32)
        && gst_byte_reader_get_uint32_be (&r, &m32)
        && gst_byte_reader_skip (&r, 4)) {
      d = d32;
      m = (gint32) m32;
    } else {
      return;
    }
    if (m == -1) {
      *empty += d;
      continue;
    }
    *media_time = m;
    return;
  }
}
