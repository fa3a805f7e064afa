/* lookback — reading ISO BMFF (MP4) segments: init and fragments */
#include "mp4/lb-mp4.h"
#include "core/lb-debug.h"
#include "core/lb-error.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

GST_DEBUG_CATEGORY_STATIC (lb_mp4_debug);
#define GST_CAT_DEFAULT lb_mp4_debug

#define FOURCC(a,b,c,d) ((guint32) (((guint32) (a) << 24) | ((guint32) (b) << 16) | ((guint32) (c) << 8) | (guint32) (d)))
#define MAX_MOOV (64 * 1024 * 1024)
#define MAX_MOOF (16 * 1024 * 1024)
/* Offsets and times beyond this are garbage (and could overflow sums). */
#define MAX_OFFSET (G_GINT64_CONSTANT (1) << 50)

static void
debug_init (void)
{
  LB_DEBUG_INIT (lb_mp4_debug, "lookback-mp4", "lookback MP4 parsing");
}

/* ---- byte helpers ---- */

typedef struct
{
  const guint8 *p;
  gsize len;
} Buf;

static inline guint32
rd32 (const guint8 * p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) | ((guint32) p[2] << 8)
      | p[3];
}

static inline guint16
rd16 (const guint8 * p)
{
  return (guint16) ((p[0] << 8) | p[1]);
}

static inline guint64
rd64 (const guint8 * p)
{
  return ((guint64) rd32 (p) << 32) | rd32 (p + 4);
}

static gboolean
pread_all (gint fd, guint8 * dst, gsize n, gint64 offset, GError ** error)
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

static gboolean
file_size_of (gint fd, gint64 * size, GError ** error)
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

/* A top-level box header at @pos.  size 0 means "to the end of the file". */
typedef struct
{
  gint64 pos, size;
  guint32 type;
  guint hdr;
} BoxHdr;

static gboolean
read_box_header (gint fd, gint64 pos, gint64 file_size, BoxHdr * box,
    GError ** error)
{
  guint8 h[16];
  if (pos + 8 > file_size) {
    g_set_error (error, LB_ERROR, LB_ERROR_NOT_YET,
        "no box header at %" G_GINT64_FORMAT, pos);
    return FALSE;
  }
  if (!pread_all (fd, h, 8, pos, error))
    return FALSE;
  box->pos = pos;
  box->type = rd32 (h + 4);
  box->size = rd32 (h);
  box->hdr = 8;
  if (!is_fourcc_text (box->type)) {
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT,
        "not an MP4 box at %" G_GINT64_FORMAT, pos);
    return FALSE;
  }
  if (box->size == 1) {
    if (pos + 16 > file_size) {
      g_set_error (error, LB_ERROR, LB_ERROR_NOT_YET,
          "no box header at %" G_GINT64_FORMAT, pos);
      return FALSE;
    }
    if (!pread_all (fd, h + 8, 8, pos + 8, error))
      return FALSE;
    box->size = (gint64) rd64 (h + 8);
    box->hdr = 16;
    if (box->size < 16) {
      g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT,
          "bad box size at %" G_GINT64_FORMAT, pos);
      return FALSE;
    }
  } else if (box->size != 0 && box->size < 8) {
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT,
        "bad box size at %" G_GINT64_FORMAT, pos);
    return FALSE;
  }
  return TRUE;
}

/* Finds child @type inside [start, end) of @b; returns payload offset/len. */
static gboolean
find_child (const Buf * b, gsize start, gsize end, guint32 type, gsize * pay,
    gsize * pay_len)
{
  gsize pos = start;
  while (pos + 8 <= end) {
    guint64 size = rd32 (b->p + pos);
    guint hdr = 8;
    if (size == 1) {
      if (pos + 16 > end)
        return FALSE;
      size = rd64 (b->p + pos + 8);
      hdr = 16;
    } else if (size == 0) {
      size = end - pos;
    }
    if (size < hdr || size > end - pos)
      return FALSE;
    if (rd32 (b->p + pos + 4) == type) {
      *pay = pos + hdr;
      *pay_len = size - hdr;
      return TRUE;
    }
    pos += size;
  }
  return FALSE;
}

gint64
lb_mp4_to_ns (const LbMp4Init * init, gint64 ticks)
{
  g_return_val_if_fail (init != NULL && init->timescale > 0, 0);
  if (ticks < 0)
    return -(gint64) gst_util_uint64_scale_round (-ticks, GST_SECOND,
        init->timescale);
  return (gint64) gst_util_uint64_scale_round (ticks, GST_SECOND,
      init->timescale);
}

void
lb_mp4_init_free (LbMp4Init * init)
{
  if (init == NULL)
    return;
  g_free (init->codec);
  g_free (init->sample_entry);
  g_clear_pointer (&init->codec_data, g_bytes_unref);
  g_free (init->caps);
  g_clear_pointer (&init->samples, g_array_unref);
  g_free (init);
}

void
lb_mp4_fragment_free (LbMp4Fragment * fragment)
{
  if (fragment == NULL)
    return;
  g_clear_pointer (&fragment->samples, g_array_unref);
  g_free (fragment);
}

static LbMp4Fragment *
fragment_new (void)
{
  LbMp4Fragment *f = g_new0 (LbMp4Fragment, 1);
  f->samples = g_array_new (FALSE, TRUE, sizeof (LbMp4Sample));
  return f;
}

static void
guess_fps (LbMp4Init * init, guint32 delta)
{
  if (delta == 0 || init->timescale == 0) {
    init->fps_n = 0;
    init->fps_d = 1;
    return;
  }
  guint32 a = init->timescale, b = delta;
  while (b) {
    guint32 t = a % b;
    a = b;
    b = t;
  }
  init->fps_n = init->timescale / a;
  init->fps_d = delta / a;
}

/* ---- moov ---- */

typedef struct
{
  guint32 track_id, timescale;
  gboolean video;
  gsize stbl, stbl_len;
} TrakInfo;

static gboolean
parse_sample_table (LbMp4Init * init, const Buf * b, gsize stbl, gsize stbl_len,
    GError ** error)
{
  gsize end = stbl + stbl_len, p, n;
  guint32 count = 0;

  /* sizes */
  if (!find_child (b, stbl, end, FOURCC ('s', 't', 's', 'z'), &p, &n) || n < 12)
    goto bad;
  guint32 fixed = rd32 (b->p + p + 4);
  count = rd32 (b->p + p + 8);
  if (fixed == 0 && (n - 12) / 4 < count)
    goto bad;
  if (count > 10 * 1000 * 1000)
    goto bad;
  g_array_set_size (init->samples, count);
  LbMp4Sample *s = (LbMp4Sample *) init->samples->data;
  for (guint32 i = 0; i < count; i++)
    s[i].size = fixed ? fixed : rd32 (b->p + p + 12 + 4 * i);
  if (count == 0)
    return TRUE;

  /* times */
  if (!find_child (b, stbl, end, FOURCC ('s', 't', 't', 's'), &p, &n) || n < 8)
    goto bad;
  guint32 entries = rd32 (b->p + p + 4);
  if ((n - 8) / 8 < entries)
    goto bad;
  gint64 dts = 0;
  guint32 k = 0, first_delta = 0;
  gint64 *dts_ticks = g_new0 (gint64, count);
  guint32 *dur_ticks = g_new0 (guint32, count);
  for (guint32 e = 0; e < entries && k < count; e++) {
    guint32 c = rd32 (b->p + p + 8 + 8 * e), d = rd32 (b->p + p + 12 + 8 * e);
    if (e == 0)
      first_delta = d;
    for (guint32 j = 0; j < c && k < count; j++, k++) {
      dts_ticks[k] = dts;
      dur_ticks[k] = d;
      dts += d;
    }
  }
  for (; k < count; k++)
    dts_ticks[k] = dts;
  gint32 *cts = g_new0 (gint32, count);
  if (find_child (b, stbl, end, FOURCC ('c', 't', 't', 's'), &p, &n) && n >= 8) {
    entries = rd32 (b->p + p + 4);
    k = 0;
    for (guint32 e = 0;
        e < entries && (8 + 8 * (gsize) e + 8) <= n && k < count; e++) {
      guint32 c = rd32 (b->p + p + 8 + 8 * e);
      gint32 o = (gint32) rd32 (b->p + p + 12 + 8 * e);
      for (guint32 j = 0; j < c && k < count; j++, k++)
        cts[k] = o;
    }
  }
  for (guint32 i = 0; i < count; i++) {
    s[i].dts_ns = lb_mp4_to_ns (init, dts_ticks[i]);
    s[i].pts_ns = lb_mp4_to_ns (init, dts_ticks[i] + cts[i]);
    s[i].duration_ns = lb_mp4_to_ns (init, dur_ticks[i]);
    s[i].sync = TRUE;
  }
  g_free (dts_ticks);
  g_free (dur_ticks);
  g_free (cts);
  guess_fps (init, first_delta);

  if (find_child (b, stbl, end, FOURCC ('s', 't', 's', 's'), &p, &n) && n >= 8) {
    entries = rd32 (b->p + p + 4);
    for (guint32 i = 0; i < count; i++)
      s[i].sync = FALSE;
    for (guint32 e = 0; e < entries && 8 + 4 * (gsize) e + 4 <= n; e++) {
      guint32 idx = rd32 (b->p + p + 8 + 4 * e);
      if (idx >= 1 && idx <= count)
        s[idx - 1].sync = TRUE;
    }
  }

  /* offsets: chunks + sample-to-chunk */
  gboolean co64 = FALSE;
  gsize cp, cn;
  if (!find_child (b, stbl, end, FOURCC ('s', 't', 'c', 'o'), &cp, &cn)) {
    if (!find_child (b, stbl, end, FOURCC ('c', 'o', '6', '4'), &cp, &cn))
      goto bad;
    co64 = TRUE;
  }
  if (cn < 8)
    goto bad;
  guint32 nchunks = rd32 (b->p + cp + 4);
  if ((cn - 8) / (co64 ? 8 : 4) < nchunks)
    goto bad;
  if (!find_child (b, stbl, end, FOURCC ('s', 't', 's', 'c'), &p, &n) || n < 8)
    goto bad;
  entries = rd32 (b->p + p + 4);
  if ((n - 8) / 12 < entries || entries == 0)
    goto bad;
  k = 0;
  for (guint32 e = 0; e < entries && k < count; e++) {
    guint32 first = rd32 (b->p + p + 8 + 12 * e);
    guint32 per = rd32 (b->p + p + 12 + 12 * e);
    guint32 last =
        (e + 1 < entries) ? rd32 (b->p + p + 8 + 12 * (e + 1)) : nchunks + 1;
    if (first < 1 || last < first)
      goto bad;
    for (guint32 c = first; c < last && c <= nchunks && k < count; c++) {
      guint64 coff = co64 ? rd64 (b->p + cp + 8 + 8 * (gsize) (c - 1))
          : rd32 (b->p + cp + 8 + 4 * (gsize) (c - 1));
      if (coff > MAX_OFFSET)
        goto bad;
      gint64 off = (gint64) coff;
      for (guint32 j = 0; j < per && k < count; j++, k++) {
        s[k].offset = off;
        off += s[k].size;
      }
    }
  }
  if (k < count)
    goto bad;
  return TRUE;

bad:
  g_array_set_size (init->samples, 0);
  g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT, "bad sample table in moov");
  return FALSE;
}

static gboolean
parse_sample_entry (LbMp4Init * init, const Buf * b, gsize stsd, gsize stsd_len,
    GError ** error)
{
  if (stsd_len < 16) {
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT, "bad stsd");
    return FALSE;
  }
  gsize e = stsd + 8;           /* first entry */
  guint32 esize = rd32 (b->p + e);
  guint32 etype = rd32 (b->p + e + 4);
  gchar name[5] = { 0 };
  for (gint i = 0; i < 4; i++)
    name[i] = (gchar) ((etype >> (24 - 8 * i)) & 0xff);
  if (esize < 86 || e + esize > stsd + stsd_len) {
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT, "bad sample entry '%s'",
        name);
    return FALSE;
  }
  guint32 cfg;
  const gchar *codec, *media;
  if (etype == FOURCC ('a', 'v', 'c', '1')
      || etype == FOURCC ('a', 'v', 'c', '3')) {
    codec = "h264";
    media = "video/x-h264";
    cfg = FOURCC ('a', 'v', 'c', 'C');
  } else if (etype == FOURCC ('h', 'v', 'c', '1')
      || etype == FOURCC ('h', 'e', 'v', '1')) {
    codec = "h265";
    media = "video/x-h265";
    cfg = FOURCC ('h', 'v', 'c', 'C');
  } else {
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT,
        "unsupported video codec '%s' (lookback records H.264 and H.265)",
        name);
    return FALSE;
  }
  init->codec = g_strdup (codec);
  init->sample_entry = g_strdup (name);
  init->width = rd16 (b->p + e + 8 + 24);
  init->height = rd16 (b->p + e + 8 + 26);
  gsize p, n;
  if (!find_child (b, e + 86, e + esize, cfg, &p, &n) || n < 7) {
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT,
        "sample entry '%s' has no codec configuration", name);
    return FALSE;
  }
  init->codec_data = g_bytes_new (b->p + p, n);

  GstBuffer *cd = gst_buffer_new_memdup (b->p + p, n);
  GstCaps *caps = gst_caps_new_simple (media,
      "stream-format", G_TYPE_STRING, etype == FOURCC ('a', 'v', 'c',
          '1') ? "avc" : etype == FOURCC ('a', 'v', 'c', '3') ? "avc3" : name,
      "alignment", G_TYPE_STRING, "au",
      "codec_data", GST_TYPE_BUFFER, cd,
      "width", G_TYPE_INT, init->width, "height", G_TYPE_INT, init->height,
      NULL);
  gst_buffer_unref (cd);
  init->caps = gst_caps_to_string (caps);
  gst_caps_unref (caps);
  return TRUE;
}

static gboolean
parse_moov (LbMp4Init * init, const Buf * b, GError ** error)
{
  gsize pos = 0, end = b->len;
  gboolean found = FALSE;
  gchar *other_codec_error = NULL;

  /* mvex: trex defaults and "fragmented" */
  gsize mvex, mvex_len;
  init->fragmented =
      find_child (b, 0, end, FOURCC ('m', 'v', 'e', 'x'), &mvex, &mvex_len);

  while (pos + 8 <= end && !found) {
    guint64 size = rd32 (b->p + pos);
    guint hdr = 8;
    if (size == 1 && pos + 16 <= end) {
      size = rd64 (b->p + pos + 8);
      hdr = 16;
    } else if (size == 0) {
      size = end - pos;
    }
    if (size < hdr || size > end - pos)
      break;
    if (rd32 (b->p + pos + 4) == FOURCC ('t', 'r', 'a', 'k')) {
      gsize t = pos + hdr, tend =
          pos + size, p, n, mdia, mdia_len, minf, minf_len, stbl, stbl_len;
      if (find_child (b, t, tend, FOURCC ('m', 'd', 'i', 'a'), &mdia, &mdia_len)
          && find_child (b, mdia, mdia + mdia_len, FOURCC ('h', 'd', 'l', 'r'),
              &p, &n) && n >= 12
          && rd32 (b->p + p + 8) == FOURCC ('v', 'i', 'd', 'e')
          && find_child (b, t, tend, FOURCC ('t', 'k', 'h', 'd'), &p, &n)
          && n >= 24) {
        init->track_id = rd32 (b->p + p + (b->p[p] == 1 ? 20 : 12));
        if (find_child (b, mdia, mdia + mdia_len, FOURCC ('m', 'd', 'h', 'd'),
                &p, &n) && n >= 24)
          init->timescale = rd32 (b->p + p + (b->p[p] == 1 ? 20 : 12));
        if (init->timescale == 0 ||
            !find_child (b, mdia, mdia + mdia_len, FOURCC ('m', 'i', 'n', 'f'),
                &minf, &minf_len)
            || !find_child (b, minf, minf + minf_len, FOURCC ('s', 't', 'b',
                    'l'), &stbl, &stbl_len)
            || !find_child (b, stbl, stbl + stbl_len, FOURCC ('s', 't', 's',
                    'd'), &p, &n)) {
          g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT,
              "video track without a sample table");
          return FALSE;
        }
        GError *local = NULL;
        if (!parse_sample_entry (init, b, p, n, &local)) {
          /* Another video track may be usable. */
          g_free (other_codec_error);
          other_codec_error = g_strdup (local->message);
          g_clear_error (&local);
          g_clear_pointer (&init->codec, g_free);
          g_clear_pointer (&init->sample_entry, g_free);
          g_clear_pointer (&init->codec_data, g_bytes_unref);
        } else {
          if (!parse_sample_table (init, b, stbl, stbl_len, error)) {
            g_free (other_codec_error);
            return FALSE;
          }
          found = TRUE;
        }
      }
    }
    pos += size;
  }
  if (!found) {
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT, "%s",
        other_codec_error ? other_codec_error : "no video track");
    g_free (other_codec_error);
    return FALSE;
  }
  g_free (other_codec_error);

  if (init->fragmented) {
    gsize p = mvex, p_end = mvex + mvex_len;
    while (p + 8 <= p_end) {
      guint32 sz = rd32 (b->p + p);
      if (sz < 8 || sz > p_end - p)
        break;
      if (rd32 (b->p + p + 4) == FOURCC ('t', 'r', 'e', 'x') && sz >= 32 &&
          rd32 (b->p + p + 12) == init->track_id) {
        init->trex_duration = rd32 (b->p + p + 20);
        init->trex_size = rd32 (b->p + p + 24);
        init->trex_flags = rd32 (b->p + p + 28);
      }
      p += sz;
    }
    if (init->fps_n == 0 && init->trex_duration)
      guess_fps (init, init->trex_duration);
  }
  return TRUE;
}

gboolean
lb_mp4_read_init (gint fd, LbMp4Init ** out, GError ** error)
{
  g_return_val_if_fail (fd >= 0, FALSE);
  g_return_val_if_fail (out != NULL && *out == NULL, FALSE);
  debug_init ();

  gint64 file_size;
  if (!file_size_of (fd, &file_size, error))
    return FALSE;

  gint64 pos = 0;
  BoxHdr box;
  gboolean first = TRUE;
  for (;;) {
    GError *local = NULL;
    if (!read_box_header (fd, pos, file_size, &box, &local)) {
      /* a file shorter than a box header may still be growing */
      if (first && local->code == LB_ERROR_CORRUPT) {
        g_clear_error (&local);
        g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT, "not an MP4 file");
        return FALSE;
      }
      g_propagate_error (error, local);
      return FALSE;
    }
    if (first) {
      static const guint32 starts[] = {
        FOURCC ('f', 't', 'y', 'p'), FOURCC ('m', 'o', 'o', 'v'), FOURCC ('s',
            't', 'y', 'p'),
      };
      gboolean ok = FALSE;
      for (guint i = 0; i < G_N_ELEMENTS (starts); i++)
        ok |= box.type == starts[i];
      if (!ok) {
        g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT,
            "not an MP4 file (no ftyp)");
        return FALSE;
      }
      first = FALSE;
    }
    if (box.size == 0) {
      g_set_error (error, LB_ERROR, LB_ERROR_NOT_YET,
          "no moov yet (box at %" G_GINT64_FORMAT " still being written)", pos);
      return FALSE;
    }
    if (box.type == FOURCC ('m', 'o', 'o', 'v')) {
      if (pos + box.size > file_size) {
        g_set_error (error, LB_ERROR, LB_ERROR_NOT_YET, "moov incomplete");
        return FALSE;
      }
      if (box.size > MAX_MOOV) {
        g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT, "moov too large");
        return FALSE;
      }
      gsize len = box.size - box.hdr;
      g_autofree guint8 *data = g_malloc (len ? len : 1);
      if (!pread_all (fd, data, len, pos + box.hdr, error))
        return FALSE;
      g_autoptr (LbMp4Init) init = g_new0 (LbMp4Init, 1);
      init->samples = g_array_new (FALSE, TRUE, sizeof (LbMp4Sample));
      init->moov_offset = pos;
      init->moov_size = box.size;
      init->init_size = pos + box.size;
      init->fps_d = 1;
      Buf b = { data, len };
      if (!parse_moov (init, &b, error))
        return FALSE;
      GST_DEBUG ("init: track %u, %s %dx%d, timescale %u, %u table samples, %s",
          init->track_id, init->codec, init->width, init->height,
          init->timescale, init->samples->len,
          init->fragmented ? "fragmented" : "finalised");
      *out = g_steal_pointer (&init);
      return TRUE;
    }
    if (pos + box.size > file_size) {
      g_set_error (error, LB_ERROR, LB_ERROR_NOT_YET, "no moov yet");
      return FALSE;
    }
    pos += box.size;
  }
}

gboolean
lb_mp4_read_init_path (const gchar * path, LbMp4Init ** out, GError ** error)
{
  g_return_val_if_fail (path != NULL, FALSE);
  gint fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    g_set_error (error, LB_ERROR,
        errno == ENOENT ? LB_ERROR_NOT_FOUND : LB_ERROR_IO,
        "cannot open %s: %s", path, g_strerror (errno));
    return FALSE;
  }
  gboolean ok = lb_mp4_read_init (fd, out, error);
  if (!ok)
    g_prefix_error (error, "%s: ", path);
  close (fd);
  return ok;
}

gint64
lb_mp4_first_offset (const LbMp4Init * init)
{
  g_return_val_if_fail (init != NULL, 0);
  if (init->samples->len > 0)
    return g_array_index (init->samples, LbMp4Sample, 0).offset;
  return init->init_size;
}

/* ---- moof ---- */

/* Parses a moof's traf of our track; appends samples; widens [*dmin, *dmax). */
static gboolean
parse_moof (const LbMp4Init * init, const Buf * b, gint64 moof_pos,
    GArray * samples, gint64 * dmin, gint64 * dmax, GError ** error)
{
  gsize pos = 0, end = b->len;
  while (pos + 8 <= end) {
    guint32 size = rd32 (b->p + pos);
    if (size < 8 || size > end - pos)
      goto bad;
    if (rd32 (b->p + pos + 4) != FOURCC ('t', 'r', 'a', 'f')) {
      pos += size;
      continue;
    }
    gsize t = pos + 8, tend = pos + size, p, n;
    if (!find_child (b, t, tend, FOURCC ('t', 'f', 'h', 'd'), &p, &n) || n < 8)
      goto bad;
    guint32 tf = rd32 (b->p + p) & 0xffffff;
    if (rd32 (b->p + p + 4) != init->track_id) {
      pos += size;
      continue;
    }
    gsize q = p + 8;
    gint64 base = moof_pos;
    guint32 def_dur = init->trex_duration, def_size =
        init->trex_size, def_flags = init->trex_flags;
    if (tf & 0x1) {
      if (q + 8 > p + n)
        goto bad;
      guint64 bdo = rd64 (b->p + q);
      if (bdo > MAX_OFFSET)
        goto bad;
      base = (gint64) bdo;
      q += 8;
    }
    if (tf & 0x2)
      q += 4;
    if (tf & 0x8) {
      if (q + 4 > p + n)
        goto bad;
      def_dur = rd32 (b->p + q);
      q += 4;
    }
    if (tf & 0x10) {
      if (q + 4 > p + n)
        goto bad;
      def_size = rd32 (b->p + q);
      q += 4;
    }
    if (tf & 0x20) {
      if (q + 4 > p + n)
        goto bad;
      def_flags = rd32 (b->p + q);
      q += 4;
    }
    gint64 dts = 0;
    if (find_child (b, t, tend, FOURCC ('t', 'f', 'd', 't'), &p, &n) && n >= 8)
      dts = b->p[p] == 1
          && n >= 12 ? (gint64) rd64 (b->p + p + 4) : rd32 (b->p + p + 4);
    else
      GST_WARNING ("fragment at %" G_GINT64_FORMAT " has no tfdt", moof_pos);

    gint64 data_pos = base;
    gsize r = t;
    while (r + 8 <= tend) {
      guint32 rsize = rd32 (b->p + r);
      if (rsize < 8 || rsize > tend - r)
        goto bad;
      if (rd32 (b->p + r + 4) == FOURCC ('t', 'r', 'u', 'n')) {
        gsize rp = r + 8, rend = r + rsize;
        if (rp + 8 > rend)
          goto bad;
        guint8 version = b->p[rp];
        guint32 flags = rd32 (b->p + rp) & 0xffffff;
        guint32 count = rd32 (b->p + rp + 4);
        rp += 8;
        if (flags & 0x1) {
          if (rp + 4 > rend)
            goto bad;
          data_pos = base + (gint32) rd32 (b->p + rp);
          if (data_pos < 0)
            goto bad;
          rp += 4;
        }
        guint32 first_flags = def_flags;
        gboolean has_first = FALSE;
        if (flags & 0x4) {
          if (rp + 4 > rend)
            goto bad;
          first_flags = rd32 (b->p + rp);
          has_first = TRUE;
          rp += 4;
        }
        gsize per = ((flags & 0x100) ? 4 : 0) + ((flags & 0x200) ? 4 : 0) +
            ((flags & 0x400) ? 4 : 0) + ((flags & 0x800) ? 4 : 0);
        if (per && (rend - rp) / per < count)
          goto bad;
        if (!per && count > 100000)
          goto bad;
        for (guint32 i = 0; i < count; i++) {
          guint32 dur = def_dur, sz = def_size, fl = (i == 0
              && has_first) ? first_flags : def_flags;
          gint64 cto = 0;
          if (flags & 0x100) {
            dur = rd32 (b->p + rp);
            rp += 4;
          }
          if (flags & 0x200) {
            sz = rd32 (b->p + rp);
            rp += 4;
          }
          if (flags & 0x400) {
            fl = rd32 (b->p + rp);
            rp += 4;
          }
          if (flags & 0x800) {
            cto =
                version ==
                0 ? (gint64) rd32 (b->p + rp) : (gint64) (gint32) rd32 (b->p +
                rp);
            rp += 4;
          }
          if (data_pos > MAX_OFFSET || dts > MAX_OFFSET)
            goto bad;
          LbMp4Sample s = {
            .offset = data_pos,
            .size = sz,
            .dts_ns = lb_mp4_to_ns (init, dts),
            .pts_ns = lb_mp4_to_ns (init, dts + cto),
            .duration_ns = lb_mp4_to_ns (init, dur),
            .sync = (fl & 0x10000) == 0,
          };
          g_array_append_val (samples, s);
          if (sz > 0) {
            *dmin = MIN (*dmin, data_pos);
            *dmax = MAX (*dmax, data_pos + (gint64) sz);
          }
          data_pos += sz;
          dts += dur;
        }
      }
      r += rsize;
    }
    pos += size;
  }
  return TRUE;

bad:
  g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT,
      "bad moof at %" G_GINT64_FORMAT, moof_pos);
  return FALSE;
}

static gboolean
read_moof (gint fd, const LbMp4Init * init, const BoxHdr * box,
    GArray * samples, gint64 * dmin, gint64 * dmax, GError ** error)
{
  if (box->size > MAX_MOOF) {
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT,
        "moof too large at %" G_GINT64_FORMAT, box->pos);
    return FALSE;
  }
  gsize len = box->size - box->hdr;
  g_autofree guint8 *data = g_malloc (len ? len : 1);
  if (!pread_all (fd, data, len, box->pos + box->hdr, error))
    return FALSE;
  Buf b = { data, len };
  return parse_moof (init, &b, box->pos, samples, dmin, dmax, error);
}

/* One GOP of the moov's sample table starting at the first sample at or
 * after @offset; NULL when there is none. */
static LbMp4Fragment *
table_fragment (const LbMp4Init * init, gint64 offset)
{
  const LbMp4Sample *s = (const LbMp4Sample *) init->samples->data;
  guint n = init->samples->len, i = 0;
  while (i < n && s[i].offset < offset)
    i++;
  if (i >= n)
    return NULL;
  guint j = i + 1;
  while (j < n && !s[j].sync)
    j++;
  LbMp4Fragment *f = fragment_new ();
  g_array_append_vals (f->samples, s + i, j - i);
  gint64 end = s[i].offset;
  for (guint k = i; k < j; k++)
    end = MAX (end, s[k].offset + (gint64) s[k].size);
  f->offset = s[i].offset;
  f->size = end - f->offset;
  if (j < n)
    f->next_offset = s[j].offset;
  else
    f->next_offset = init->fragmented ? MAX (end, init->init_size) : end;
  return f;
}

gboolean
lb_mp4_read_fragment (gint fd, const LbMp4Init * init, gint64 offset,
    gint64 file_size, LbMp4Fragment ** out, GError ** error)
{
  g_return_val_if_fail (fd >= 0, FALSE);
  g_return_val_if_fail (init != NULL, FALSE);
  g_return_val_if_fail (out != NULL && *out == NULL, FALSE);
  debug_init ();

  if (init->samples->len > 0 &&
      offset <= g_array_index (init->samples, LbMp4Sample,
          init->samples->len - 1).offset) {
    g_autoptr (LbMp4Fragment) f = table_fragment (init, offset);
    if (f && f->offset + f->size > file_size) {
      g_set_error (error, LB_ERROR, LB_ERROR_NOT_YET,
          "samples beyond the end of the file");
      return FALSE;
    }
    if (f && f->next_offset <= offset) {
      g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT,
          "sample table goes backwards at %" G_GINT64_FORMAT, offset);
      return FALSE;
    }
    *out = g_steal_pointer (&f);
    return TRUE;
  }
  if (!init->fragmented)
    return TRUE;                /* finalised: nothing after the table */

  g_autoptr (LbMp4Fragment) f = fragment_new ();
  gint64 pos = offset, dmin = G_MAXINT64, dmax = G_MININT64;
  gint64 mdat_min = G_MAXINT64, mdat_max = G_MININT64;
  gboolean have_moof = FALSE;
  for (;;) {
    if (have_moof && (dmin == G_MAXINT64 || (dmin >= mdat_min
                && dmax <= mdat_max)))
      break;
    BoxHdr box;
    if (!read_box_header (fd, pos, file_size, &box, error))
      return FALSE;
    if (box.size == 0 || pos + box.size > file_size) {
      g_set_error (error, LB_ERROR, LB_ERROR_NOT_YET,
          "box at %" G_GINT64_FORMAT " incomplete", pos);
      return FALSE;
    }
    switch (box.type) {
      case FOURCC ('m', 'o', 'o', 'f'):
        if (have_moof) {
          g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT,
              "fragment at %" G_GINT64_FORMAT " refers to missing data",
              offset);
          return FALSE;
        }
        if (!read_moof (fd, init, &box, f->samples, &dmin, &dmax, error))
          return FALSE;
        have_moof = TRUE;
        break;
      case FOURCC ('m', 'd', 'a', 't'):
        mdat_min = MIN (mdat_min, pos + box.hdr);
        mdat_max = MAX (mdat_max, pos + box.size);
        break;
      case FOURCC ('m', 'o', 'o', 'v'):
        if (!have_moof && f->samples->len == 0)
          return TRUE;          /* finalised since @init was read */
        break;
      default:
        break;                  /* free, skip, sidx, udta, ... */
    }
    pos += box.size;
  }
  f->offset = offset;
  f->size = pos - offset;
  f->next_offset = pos;
  *out = g_steal_pointer (&f);
  return TRUE;
}

static gint
sample_cmp_offset (gconstpointer a, gconstpointer b)
{
  const LbMp4Sample *x = a, *y = b;
  return x->offset < y->offset ? -1 : x->offset > y->offset;
}

gboolean
lb_mp4_read_range (gint fd, const LbMp4Init * init, gint64 offset, gint64 size,
    LbMp4Fragment ** out, GError ** error)
{
  g_return_val_if_fail (fd >= 0, FALSE);
  g_return_val_if_fail (init != NULL, FALSE);
  g_return_val_if_fail (out != NULL && *out == NULL, FALSE);
  debug_init ();

  g_autoptr (LbMp4Fragment) f = fragment_new ();
  f->offset = offset;
  f->size = size;
  f->next_offset = offset + size;
  gint64 end = offset + size;
  for (guint i = 0; i < init->samples->len; i++) {
    const LbMp4Sample *s = &g_array_index (init->samples, LbMp4Sample, i);
    if (s->offset >= offset && s->offset + (gint64) s->size <= end)
      g_array_append_val (f->samples, *s);
  }
  /* Past the moov of a fragmented file, boxes follow one another: moofs
   * describe the rest of the range. */
  if (init->fragmented && end > init->init_size) {
    gint64 file_size;
    if (!file_size_of (fd, &file_size, error))
      return FALSE;
    gint64 pos = MAX (offset, init->init_size), dmin = G_MAXINT64, dmax =
        G_MININT64;
    while (pos < end) {
      BoxHdr box;
      if (!read_box_header (fd, pos, file_size, &box, error))
        return FALSE;
      if (box.size == 0 || pos + box.size > end)
        break;
      if (box.type == FOURCC ('m', 'o', 'o', 'f')) {
        GArray *tmp = g_array_new (FALSE, TRUE, sizeof (LbMp4Sample));
        if (!read_moof (fd, init, &box, tmp, &dmin, &dmax, error)) {
          g_array_unref (tmp);
          return FALSE;
        }
        for (guint i = 0; i < tmp->len; i++) {
          const LbMp4Sample *s = &g_array_index (tmp, LbMp4Sample, i);
          if (s->offset >= offset && s->offset + (gint64) s->size <= end)
            g_array_append_val (f->samples, *s);
        }
        g_array_unref (tmp);
      }
      pos += box.size;
    }
    g_array_sort (f->samples, sample_cmp_offset);
  }
  *out = g_steal_pointer (&f);
  return TRUE;
}

/* ---- crash recovery of the trailing mdat ---- */

#define MAX_TAIL (256 * 1024 * 1024)

/* Exp-Golomb ue(v) at the start of @p (@len bytes); FALSE when cut. */
static gboolean
read_ue (const guint8 * p, gsize len, guint32 * out)
{
  gsize bit = 0, nbits = len * 8;
  guint zeros = 0;
  while (bit < nbits && !(p[bit / 8] & (0x80 >> (bit % 8)))) {
    zeros++;
    bit++;
    if (zeros > 31)
      return FALSE;
  }
  if (bit >= nbits)
    return FALSE;
  bit++;                        /* the 1 */
  if (bit + zeros > nbits)
    return FALSE;
  guint64 v = 0;
  for (guint i = 0; i < zeros; i++, bit++)
    v = (v << 1) | ((p[bit / 8] >> (7 - bit % 8)) & 1);
  *out = (guint32) ((G_GUINT64_CONSTANT (1) << zeros) - 1 + v);
  return TRUE;
}

typedef struct
{
  gsize start, end;             /* bytes in the mdat payload */
  guint vcl;                    /* slices */
  gboolean idr;
} AccessUnit;

/* Splits @len bytes of AVC length-prefixed NAL units into access units.
 * Only units whose end is known (a following unit starts) go to @aus;
 * the last one, whose NAL units are complete but which may miss slices,
 * is returned in @last (vcl 0 when there is none). */
static void
split_access_units (const guint8 * d, gsize len, guint nal_len, GArray * aus,
    AccessUnit * last)
{
  AccessUnit cur = { 0 };
  gboolean open = FALSE;
  gsize p = 0;
  while (p + nal_len < len) {
    guint32 n = 0;
    for (guint i = 0; i < nal_len; i++)
      n = (n << 8) | d[p + i];
    if (n == 0 || n > len - p - nal_len)
      break;                    /* torn (or garbage) */
    guint8 hdr = d[p + nal_len];
    if (hdr & 0x80)
      break;                    /* forbidden_zero_bit: garbage */
    guint type = hdr & 0x1f;
    gboolean vcl = type == 1 || type == 5;
    gboolean starts = FALSE;
    if (open && cur.vcl > 0) {
      if (type == 9 || type == 7 || type == 8 || type == 6 || (type >= 14
              && type <= 18)) {
        starts = TRUE;
      } else if (vcl) {
        guint32 first_mb;
        if (!read_ue (d + p + nal_len + 1, n - 1, &first_mb))
          break;
        starts = first_mb == 0;
      }
    }
    if (starts) {
      g_array_append_val (aus, cur);
      open = FALSE;
    }
    if (!open) {
      memset (&cur, 0, sizeof (cur));
      cur.start = p;
      open = TRUE;
    }
    if (vcl) {
      cur.vcl++;
      cur.idr |= type == 5;
    }
    p += nal_len + n;
    cur.end = p;
  }
  memset (last, 0, sizeof (*last));
  if (open && cur.vcl > 0)
    *last = cur;
}

static gboolean
pwrite_all (gint fd, const guint8 * src, gsize n, gint64 offset,
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

static gboolean
sync_or_fail (gint fd, GError ** error)
{
  if (fdatasync (fd) != 0) {
    g_set_error (error, LB_ERROR, LB_ERROR_IO, "fdatasync: %s",
        g_strerror (errno));
    return FALSE;
  }
  return TRUE;
}

static void
put32 (GByteArray * a, guint32 v)
{
  guint8 b[4] = { v >> 24, v >> 16, v >> 8, v };
  g_byte_array_append (a, b, 4);
}

static void
put64 (GByteArray * a, guint64 v)
{
  put32 (a, v >> 32);
  put32 (a, (guint32) v);
}

static void
set32 (GByteArray * a, gsize at, guint32 v)
{
  a->data[at] = v >> 24;
  a->data[at + 1] = v >> 16;
  a->data[at + 2] = v >> 8;
  a->data[at + 3] = v;
}

/* moof (mfhd, traf: tfhd with base-data-offset, tfdt, trun with sizes,
 * durations and flags) for @n access units starting at @base. */
static GByteArray *
build_moof (guint32 seq, guint32 track_id, gint64 base, guint64 decode_time,
    guint32 duration, const AccessUnit * aus, guint n)
{
  GByteArray *a = g_byte_array_new ();
  put32 (a, 0);
  put32 (a, FOURCC ('m', 'o', 'o', 'f'));
  put32 (a, 16);
  put32 (a, FOURCC ('m', 'f', 'h', 'd'));
  put32 (a, 0);
  put32 (a, seq);
  gsize traf = a->len;
  put32 (a, 0);
  put32 (a, FOURCC ('t', 'r', 'a', 'f'));
  put32 (a, 24);
  put32 (a, FOURCC ('t', 'f', 'h', 'd'));
  put32 (a, 0x000001);          /* base-data-offset-present */
  put32 (a, track_id);
  put64 (a, (guint64) base);
  put32 (a, 20);
  put32 (a, FOURCC ('t', 'f', 'd', 't'));
  put32 (a, 0x01000000);        /* version 1 */
  put64 (a, decode_time);
  put32 (a, 20 + 12 * n);
  put32 (a, FOURCC ('t', 'r', 'u', 'n'));
  put32 (a, 0x000701);          /* data-offset, duration, size, flags */
  put32 (a, n);
  put32 (a, 0);                 /* data offset from base */
  for (guint i = 0; i < n; i++) {
    put32 (a, duration);
    put32 (a, (guint32) (aus[i].end - aus[i].start));
    /* sync: depends on no other; else depends on others, non-sync */
    put32 (a, aus[i].idr ? 0x02000000 : 0x01010000);
  }
  set32 (a, traf, a->len - traf);
  set32 (a, 0, a->len);
  return a;
}

static guint
count_traks (gint fd, const LbMp4Init * init)
{
  BoxHdr box;
  if (!read_box_header (fd, init->moov_offset,
          init->moov_offset + init->moov_size, &box, NULL))
    return 0;
  gsize len = init->moov_size - box.hdr;
  g_autofree guint8 *data = g_malloc (len ? len : 1);
  if (!pread_all (fd, data, len, init->moov_offset + box.hdr, NULL))
    return 0;
  guint n = 0;
  gsize pos = 0;
  while (pos + 8 <= len) {
    guint32 size = rd32 (data + pos);
    if (size < 8 || size > len - pos)
      break;
    if (rd32 (data + pos + 4) == FOURCC ('t', 'r', 'a', 'k'))
      n++;
    pos += size;
  }
  return n;
}

static gint
cmp_gint64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? -1 : x > y;
}

#define REFUSE(...) G_STMT_START { \
    if (out_note) *out_note = g_strdup_printf (__VA_ARGS__); \
    GST_INFO ("no tail recovery: %s", out_note ? *out_note : ""); \
    return TRUE; \
  } G_STMT_END

gboolean
lb_mp4_recover_tail (gint fd, guint * out_samples, gchar ** out_note,
    GError ** error)
{
  g_return_val_if_fail (fd >= 0, FALSE);
  g_return_val_if_fail (out_samples != NULL, FALSE);
  debug_init ();

  *out_samples = 0;
  if (out_note)
    *out_note = NULL;
  g_autoptr (LbMp4Init) init = NULL;
  GError *local = NULL;
  if (!lb_mp4_read_init (fd, &init, &local)) {
    if (local->code == LB_ERROR_IO) {
      g_propagate_error (error, local);
      return FALSE;
    }
    g_clear_error (&local);
    return TRUE;                /* no moov: nothing can describe the samples */
  }
  if (!init->fragmented)
    return TRUE;                /* finalised: complete */
  gint64 file_size;
  if (!file_size_of (fd, &file_size, error))
    return FALSE;

  /* The complete fragments: the last one's samples give the timing. */
  gint64 cursor = lb_mp4_first_offset (init);
  guint fragments = 0;
  gboolean cto = FALSE;
  LbMp4Sample last = { 0 };
  gboolean have_last = FALSE;
  g_autoptr (GArray) durations = g_array_new (FALSE, FALSE, sizeof (gint64));
  for (;;) {
    LbMp4Fragment *f = NULL;
    if (!lb_mp4_read_fragment (fd, init, cursor, file_size, &f, &local)) {
      if (local->code == LB_ERROR_NOT_YET) {
        g_clear_error (&local);
        break;
      }
      if (local->code == LB_ERROR_IO) {
        g_propagate_error (error, local);
        return FALSE;
      }
      g_autofree gchar *why = g_strdup (local->message);
      g_clear_error (&local);
      REFUSE ("%s", why);
    }
    if (f == NULL)
      return TRUE;              /* finalised since */
    fragments++;
    if (f->samples->len > 0) {
      g_array_set_size (durations, 0);
      for (guint i = 0; i < f->samples->len; i++) {
        const LbMp4Sample *s = &g_array_index (f->samples, LbMp4Sample, i);
        cto |= s->pts_ns != s->dts_ns;
        g_array_append_val (durations, s->duration_ns);
      }
      last = g_array_index (f->samples, LbMp4Sample, f->samples->len - 1);
      have_last = TRUE;
    }
    cursor = f->next_offset;
    lb_mp4_fragment_free (f);
  }

  /* What follows the last complete fragment: padding, then an mdat. */
  gint64 pos = cursor;
  BoxHdr box;
  for (;;) {
    if (!read_box_header (fd, pos, file_size, &box, &local)) {
      if (local->code == LB_ERROR_IO) {
        g_propagate_error (error, local);
        return FALSE;
      }
      g_clear_error (&local);
      return TRUE;              /* nothing (or a torn box header) */
    }
    if (box.type == FOURCC ('m', 'd', 'a', 't'))
      break;
    if (box.size == 0 || pos + box.size > file_size ||
        (box.type != FOURCC ('f', 'r', 'e', 'e')
            && box.type != FOURCC ('s', 'k', 'i', 'p')))
      REFUSE ("no moof-less mdat at %" G_GINT64_FORMAT, pos);
    pos += box.size;
  }
  gint64 payload = pos + box.hdr;
  gint64 payload_end = box.size == 0
      || pos + box.size > file_size ? file_size : pos + box.size;
  if (payload_end <= payload)
    return TRUE;

  if (g_strcmp0 (init->codec, "h264") != 0 || init->codec_data == NULL)
    REFUSE ("%s is not H.264", init->codec);
  if (count_traks (fd, init) != 1)
    REFUSE ("more than one track");
  if (cto)
    REFUSE ("the earlier fragments have composition offsets (B-frames)");
  if (!have_last || last.dts_ns < 0)
    REFUSE ("no earlier sample to take the frame duration from");
  g_array_sort (durations, cmp_gint64);
  gint64 dur_ns = g_array_index (durations, gint64, durations->len / 2);
  guint64 dur_ticks =
      gst_util_uint64_scale_round (MAX (dur_ns, 0), init->timescale,
      GST_SECOND);
  if (dur_ticks == 0 || dur_ticks > G_MAXUINT32)
    REFUSE ("no usable frame duration");
  guint64 decode_time =
      gst_util_uint64_scale_round (last.dts_ns, init->timescale,
      GST_SECOND) + gst_util_uint64_scale_round (MAX (last.duration_ns, 0),
      init->timescale, GST_SECOND);
  gsize cd_len;
  const guint8 *cd = g_bytes_get_data (init->codec_data, &cd_len);
  if (cd_len < 5 || (cd[4] & 3) == 2)
    REFUSE ("bad avcC");
  guint nal_len = (cd[4] & 3) + 1;
  if (payload_end - payload > MAX_TAIL)
    REFUSE ("trailing mdat too large");

  gsize len = payload_end - payload;
  g_autofree guint8 *data = g_malloc (len);
  if (!pread_all (fd, data, len, payload, error))
    return FALSE;
  g_autoptr (GArray) aus = g_array_new (FALSE, FALSE, sizeof (AccessUnit));
  AccessUnit tail;
  split_access_units (data, len, nal_len, aus, &tail);
  /* The last access unit counts when it has as many slices as the others
   * (a picture cut between two slices does not). */
  guint min_vcl = G_MAXUINT;
  for (guint i = 0; i < aus->len; i++)
    min_vcl = MIN (min_vcl, g_array_index (aus, AccessUnit, i).vcl);
  if (tail.vcl > 0 && (aus->len == 0 || tail.vcl >= min_vcl))
    g_array_append_val (aus, tail);
  if (aus->len == 0)
    REFUSE ("no complete access unit in the trailing mdat");

  gint64 new_end =
      payload + (gint64) g_array_index (aus, AccessUnit, aus->len - 1).end;
  gint64 mdat_size = new_end - pos;
  if (box.hdr == 8 && mdat_size > G_MAXUINT32)
    REFUSE ("trailing mdat too large for its header");

  /* Each step leaves a file this function can recover again: cut the torn
   * bytes, close the mdat, sync, then append the moof and sync. */
  if (file_size > new_end && ftruncate (fd, new_end) != 0) {
    g_set_error (error, LB_ERROR, LB_ERROR_IO, "truncate: %s",
        g_strerror (errno));
    return FALSE;
  }
  guint8 sz[8];
  if (box.hdr == 8) {
    sz[0] = mdat_size >> 24;
    sz[1] = mdat_size >> 16;
    sz[2] = mdat_size >> 8;
    sz[3] = mdat_size;
    if (!pwrite_all (fd, sz, 4, pos, error))
      return FALSE;
  } else {
    for (gint i = 0; i < 8; i++)
      sz[i] = (guint64) mdat_size >> (56 - 8 * i);
    if (!pwrite_all (fd, sz, 8, pos + 8, error))
      return FALSE;
  }
  if (!sync_or_fail (fd, error))
    return FALSE;
  g_autoptr (GByteArray) moof =
      build_moof (fragments + 1, init->track_id, payload, decode_time,
      (guint32) dur_ticks, (const AccessUnit *) aus->data, aus->len);
  if (!pwrite_all (fd, moof->data, moof->len, new_end, error)
      || !sync_or_fail (fd, error))
    return FALSE;
  GST_INFO ("recovered %u samples (%" G_GINT64_FORMAT
      " bytes) of a moof-less mdat at %" G_GINT64_FORMAT "; %" G_GINT64_FORMAT
      " torn bytes cut", aus->len, new_end - payload, pos, file_size - new_end);
  *out_samples = aus->len;
  return TRUE;
}
