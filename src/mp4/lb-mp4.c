/* lookback — reading ISO BMFF (MP4) segments: init and fragments */
#include "mp4/lb-mp4.h"
#include "mp4/lb-mp4-box.h"
#include "core/lb-debug.h"
#include "core/lb-error.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

GST_DEBUG_CATEGORY_STATIC (lb_mp4_debug);
#define GST_CAT_DEFAULT lb_mp4_debug

#define FOURCC LB_MP4_FOURCC
/* Limits on what a file may make the reader allocate; a file over them is
 * LB_ERROR_CORRUPT.  Besides, every count and size is checked against the
 * file's size (or the box that holds it) before anything is allocated. */
#define MAX_MOOV (64 * 1024 * 1024)     /* bytes read at once */
#define MAX_MOOF (16 * 1024 * 1024)
#define MAX_FRAGMENT_SAMPLES (1 << 18)  /* 72 min at 60 fps in one moof */

static void
debug_init (void)
{
  LB_DEBUG_INIT (lb_mp4_debug, "lookback-mp4", "lookback MP4 parsing");
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
  g_clear_pointer (&init->audio, lb_mp4_init_free);
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

/* ---- the moov's sample table ---- */

/* The child @type of @stbl, with a reader past its version and flags. */
static gboolean
table_box (const LbMp4Box * stbl, guint32 type, GstByteReader * r)
{
  LbMp4Box b;
  if (!lb_mp4_box_find (stbl->payload, stbl->payload_size, type, &b))
    return FALSE;
  lb_mp4_box_reader (&b, r);
  return gst_byte_reader_skip (r, 4);
}

/* stsz: how many samples, and their sizes.  Samples of one size must fit
 * in the file (@file_size), one by one in the table. */
static gboolean
table_sizes (LbMp4Init * init, const LbMp4Box * stbl, gint64 file_size,
    guint32 * count, GError ** error)
{
  GstByteReader r;
  guint32 fixed;
  if (!table_box (stbl, FOURCC ('s', 't', 's', 'z'), &r)
      || !gst_byte_reader_get_uint32_be (&r, &fixed)
      || !gst_byte_reader_get_uint32_be (&r, count)
      || (fixed == 0 && gst_byte_reader_get_remaining (&r) / 4 < *count)) {
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT,
        "bad sample table in moov: stsz is missing or cut short");
    return FALSE;
  }
  if (fixed > 0 && *count > file_size / fixed) {
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT,
        "bad sample table in moov: %u samples of %u bytes do not fit in a "
        "file of %" G_GINT64_FORMAT " bytes", *count, fixed, file_size);
    return FALSE;
  }
  if (*count > LB_MP4_MAX_TABLE_SAMPLES) {
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT,
        "bad sample table in moov: %u samples, more than %u", *count,
        LB_MP4_MAX_TABLE_SAMPLES);
    return FALSE;
  }
  g_array_set_size (init->samples, *count);
  LbMp4Sample *s = (LbMp4Sample *) init->samples->data;
  for (guint32 i = 0; i < *count; i++)
    s[i].size = fixed ? fixed : gst_byte_reader_get_uint32_be_unchecked (&r);
  return TRUE;
}

typedef struct
{
  gint64 dts;
  guint32 duration;
  gint32 cto;
} Ticks;

/* stts (required) and ctts: decode times, durations, composition offsets;
 * samples past stts's count get the last decode time and no duration. */
static gboolean
table_times (LbMp4Init * init, const LbMp4Box * stbl, Ticks * t, guint32 count)
{
  GstByteReader r;
  guint32 entries, k = 0, first_delta = 0;
  gint64 dts = 0;
  if (!table_box (stbl, FOURCC ('s', 't', 't', 's'), &r)
      || !gst_byte_reader_get_uint32_be (&r, &entries)
      || gst_byte_reader_get_remaining (&r) / 8 < entries)
    return FALSE;
  for (guint32 e = 0; e < entries && k < count; e++) {
    guint32 c = gst_byte_reader_get_uint32_be_unchecked (&r);
    guint32 d = gst_byte_reader_get_uint32_be_unchecked (&r);
    if (e == 0)
      first_delta = d;
    for (guint32 j = 0; j < c && k < count; j++, k++) {
      t[k].dts = dts;
      t[k].duration = d;
      dts += d;
    }
  }
  for (; k < count; k++)
    t[k].dts = dts;
  guess_fps (init, first_delta);

  if (!table_box (stbl, FOURCC ('c', 't', 't', 's'), &r)
      || !gst_byte_reader_get_uint32_be (&r, &entries))
    return TRUE;
  k = 0;
  for (guint32 e = 0; e < entries && k < count
      && gst_byte_reader_get_remaining (&r) >= 8; e++) {
    guint32 c = gst_byte_reader_get_uint32_be_unchecked (&r);
    gint32 o = (gint32) gst_byte_reader_get_uint32_be_unchecked (&r);
    for (guint32 j = 0; j < c && k < count; j++, k++)
      t[k].cto = o;
  }
  return TRUE;
}

/* stss: the sync samples; without one, every sample is. */
static void
table_sync (LbMp4Init * init, const LbMp4Box * stbl)
{
  LbMp4Sample *s = (LbMp4Sample *) init->samples->data;
  guint32 count = init->samples->len, entries;
  GstByteReader r;

  for (guint32 i = 0; i < count; i++)
    s[i].sync = TRUE;
  if (!table_box (stbl, FOURCC ('s', 't', 's', 's'), &r)
      || !gst_byte_reader_get_uint32_be (&r, &entries))
    return;
  for (guint32 i = 0; i < count; i++)
    s[i].sync = FALSE;
  for (guint32 e = 0; e < entries && gst_byte_reader_get_remaining (&r) >= 4;
      e++) {
    guint32 idx = gst_byte_reader_get_uint32_be_unchecked (&r);
    if (idx >= 1 && idx <= count)
      s[idx - 1].sync = TRUE;
  }
}

/* stco or co64, and stsc: where each sample is. */
static gboolean
table_offsets (LbMp4Init * init, const LbMp4Box * stbl)
{
  LbMp4Sample *s = (LbMp4Sample *) init->samples->data;
  guint32 count = init->samples->len, nchunks, entries, k = 0;
  GstByteReader co, sc;
  gboolean co64 = FALSE;

  if (!table_box (stbl, FOURCC ('s', 't', 'c', 'o'), &co)) {
    if (!table_box (stbl, FOURCC ('c', 'o', '6', '4'), &co))
      return FALSE;
    co64 = TRUE;
  }
  if (!gst_byte_reader_get_uint32_be (&co, &nchunks)
      || gst_byte_reader_get_remaining (&co) / (co64 ? 8 : 4) < nchunks)
    return FALSE;
  if (!table_box (stbl, FOURCC ('s', 't', 's', 'c'), &sc)
      || !gst_byte_reader_get_uint32_be (&sc, &entries) || entries == 0
      || gst_byte_reader_get_remaining (&sc) / 12 < entries)
    return FALSE;
  const guint8 *chunks = co.data + gst_byte_reader_get_pos (&co);
  const guint8 *runs = sc.data + gst_byte_reader_get_pos (&sc);
  for (guint32 e = 0; e < entries && k < count; e++) {
    guint32 first = GST_READ_UINT32_BE (runs + 12 * (gsize) e);
    guint32 per = GST_READ_UINT32_BE (runs + 12 * (gsize) e + 4);
    guint32 last = e + 1 < entries ?
        GST_READ_UINT32_BE (runs + 12 * (gsize) (e + 1)) : nchunks + 1;
    if (first < 1 || last < first)
      return FALSE;
    for (guint32 c = first; c < last && c <= nchunks && k < count; c++) {
      guint64 coff = co64 ? GST_READ_UINT64_BE (chunks + 8 * (gsize) (c - 1))
          : GST_READ_UINT32_BE (chunks + 4 * (gsize) (c - 1));
      if (coff > (guint64) LB_MP4_MAX_OFFSET)
        return FALSE;
      gint64 off = (gint64) coff;
      for (guint32 j = 0; j < per && k < count; j++, k++) {
        s[k].offset = off;
        off += s[k].size;
      }
    }
  }
  return k == count;
}

/* The samples' times, in ns. */
static gboolean
table_times_ns (LbMp4Init * init, const LbMp4Box * stbl)
{
  guint32 count = init->samples->len;
  g_autofree Ticks *t = g_new0 (Ticks, count);
  if (!table_times (init, stbl, t, count))
    return FALSE;
  LbMp4Sample *s = (LbMp4Sample *) init->samples->data;
  for (guint32 i = 0; i < count; i++) {
    s[i].dts_ns = lb_mp4_to_ns (init, t[i].dts);
    s[i].pts_ns = lb_mp4_to_ns (init, t[i].dts + t[i].cto);
    s[i].duration_ns = lb_mp4_to_ns (init, t[i].duration);
  }
  return TRUE;
}

static gboolean
parse_sample_table (LbMp4Init * init, const LbMp4Box * stbl, gint64 file_size,
    GError ** error)
{
  guint32 count;
  if (!table_sizes (init, stbl, file_size, &count, error))
    return FALSE;
  if (count == 0)
    return TRUE;
  if (!table_times_ns (init, stbl))
    goto bad;
  table_sync (init, stbl);
  if (!table_offsets (init, stbl))
    goto bad;
  return TRUE;

bad:
  g_array_set_size (init->samples, 0);
  g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT, "bad sample table in moov");
  return FALSE;
}

/* ---- the moov's video track ---- */

static gboolean
parse_sample_entry (LbMp4Init * init, const LbMp4Box * stsd, GError ** error)
{
  GstByteReader r;
  LbMp4Box e;
  lb_mp4_box_reader (stsd, &r);
  if (stsd->payload_size < 16 || !gst_byte_reader_skip (&r, 8)
      || !lb_mp4_box_read (&r, &e)) {
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT, "bad stsd");
    return FALSE;
  }
  gchar name[5] = { 0 };
  GST_WRITE_UINT32_BE (name, e.type);
  for (gint i = 0; i < 4; i++)
    name[i] = g_ascii_isprint (name[i]) ? name[i] : '?';
  if (e.size < 86) {
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT, "bad sample entry '%s'",
        name);
    return FALSE;
  }
  guint32 cfg;
  const gchar *codec, *media, *format;
  if (e.type == FOURCC ('a', 'v', 'c', '1')
      || e.type == FOURCC ('a', 'v', 'c', '3')) {
    codec = "h264";
    media = "video/x-h264";
    cfg = FOURCC ('a', 'v', 'c', 'C');
    format = e.type == FOURCC ('a', 'v', 'c', '1') ? "avc" : "avc3";
  } else if (e.type == FOURCC ('h', 'v', 'c', '1')
      || e.type == FOURCC ('h', 'e', 'v', '1')) {
    codec = "h265";
    media = "video/x-h265";
    cfg = FOURCC ('h', 'v', 'c', 'C');
    format = name;
  } else {
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT,
        "unsupported video codec '%s' (lookback records H.264 and H.265)",
        name);
    return FALSE;
  }
  LbMp4Box c;
  if (!lb_mp4_box_find (e.data + 86, e.size - 86, cfg, &c)
      || c.payload_size < 7) {
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT,
        "sample entry '%s' has no codec configuration", name);
    return FALSE;
  }
  init->codec = g_strdup (codec);
  init->sample_entry = g_strdup (name);
  init->width = GST_READ_UINT16_BE (e.data + 8 + 24);
  init->height = GST_READ_UINT16_BE (e.data + 8 + 26);
  init->codec_data = g_bytes_new (c.payload, c.payload_size);

  g_autoptr (GstBuffer) cd = gst_buffer_new_memdup (c.payload, c.payload_size);
  g_autoptr (GstCaps) caps = gst_caps_new_simple (media,
      "stream-format", G_TYPE_STRING, format,
      "alignment", G_TYPE_STRING, "au",
      "codec_data", GST_TYPE_BUFFER, cd,
      "width", G_TYPE_INT, init->width, "height", G_TYPE_INT, init->height,
      NULL);
  init->caps = gst_caps_to_string (caps);
  return TRUE;
}

/* A 32-bit field of a full box: at @v0 in a version 0 box, at @v1 in a
 * version 1 box (offsets in the payload). */
static gboolean
full_box_u32 (const LbMp4Box * b, gsize v0, gsize v1, guint32 * out)
{
  GstByteReader r;
  lb_mp4_box_reader (b, &r);
  guint8 version;
  guint32 flags;
  return lb_mp4_box_full (&r, &version, &flags)
      && gst_byte_reader_set_pos (&r, version == 1 ? v1 : v0)
      && gst_byte_reader_get_uint32_be (&r, out);
}

/* The track @trak when its handler is @kind ('vide', 'soun'): its id,
 * timescale and stbl; FALSE otherwise, or on error (such a track without a
 * sample table). */
static gboolean
media_track (LbMp4Init * init, guint32 kind, const LbMp4Box * trak,
    LbMp4Box * stbl, LbMp4Box * stsd, GError ** error)
{
  LbMp4Box mdia, hdlr, tkhd, mdhd;
  guint32 handler;
  const guint32 stbl_path[] =
      { FOURCC ('m', 'i', 'n', 'f'), FOURCC ('s', 't', 'b', 'l') };

  if (!lb_mp4_box_find (trak->payload, trak->payload_size,
          FOURCC ('m', 'd', 'i', 'a'), &mdia)
      || !lb_mp4_box_find (mdia.payload, mdia.payload_size,
          FOURCC ('h', 'd', 'l', 'r'), &hdlr)
      || !full_box_u32 (&hdlr, 8, 8, &handler)
      || handler != kind || !lb_mp4_box_find (trak->payload, trak->payload_size,
          FOURCC ('t', 'k', 'h', 'd'), &tkhd)
      || !full_box_u32 (&tkhd, 12, 20, &init->track_id))
    return FALSE;
  if (lb_mp4_box_find (mdia.payload, mdia.payload_size,
          FOURCC ('m', 'd', 'h', 'd'), &mdhd))
    full_box_u32 (&mdhd, 12, 20, &init->timescale);
  if (init->timescale == 0
      || !lb_mp4_box_find_path (mdia.payload, mdia.payload_size, stbl_path, 2,
          stbl)
      || !lb_mp4_box_find (stbl->payload, stbl->payload_size,
          FOURCC ('s', 't', 's', 'd'), stsd)) {
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT,
        "%s track without a sample table", kind == FOURCC ('v', 'i', 'd',
            'e') ? "video" : "audio");
    return FALSE;
  }
  guint64 empty;
  gint64 media_time;
  lb_mp4_trak_edit_start (trak, &empty, &media_time);
  init->edit_ns = (init->movie_timescale ?
      (gint64) gst_util_uint64_scale_round (empty, GST_SECOND,
          init->movie_timescale) : 0) - lb_mp4_to_ns (init, media_time);
  return TRUE;
}

/* The first video track whose codec lookback reads: its sample entry and
 * sample table. */
static gboolean
parse_tracks (LbMp4Init * init, const guint8 * moov, gsize len,
    gint64 file_size, GError ** error)
{
  GstByteReader r = GST_BYTE_READER_INIT (moov, len);
  g_autofree gchar *other_codec = NULL;
  LbMp4Box trak, stbl, stsd;

  while (lb_mp4_box_read (&r, &trak)) {
    GError *local = NULL;
    if (trak.type != FOURCC ('t', 'r', 'a', 'k'))
      continue;
    if (!media_track (init, FOURCC ('v', 'i', 'd', 'e'), &trak, &stbl, &stsd,
            &local)) {
      if (local == NULL)
        continue;
      g_propagate_error (error, local);
      return FALSE;
    }
    if (parse_sample_entry (init, &stsd, &local))
      return parse_sample_table (init, &stbl, file_size, error);
    /* another video track may be usable */
    g_free (other_codec);
    other_codec = g_strdup (local->message);
    g_clear_error (&local);
  }
  g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT, "%s",
      other_codec ? other_codec : "no video track");
  return FALSE;
}

/* ---- the moov's audio track ---- */

/* A descriptor of an esds (ISO 14496-1): its tag and payload. */
static gboolean
read_descriptor (GstByteReader * r, guint8 * tag, GstByteReader * payload)
{
  guint32 len = 0;
  guint8 b;
  if (!gst_byte_reader_get_uint8 (r, tag))
    return FALSE;
  for (guint i = 0; i < 4; i++) {
    if (!gst_byte_reader_get_uint8 (r, &b))
      return FALSE;
    len = (len << 7) | (b & 0x7f);
    if (!(b & 0x80))
      break;
  }
  const guint8 *data;
  if (!gst_byte_reader_get_data (r, len, &data))
    return FALSE;
  gst_byte_reader_init (payload, data, len);
  return TRUE;
}

/* The AudioSpecificConfig in an esds payload (after version and flags). */
static GBytes *
esds_config (GstByteReader * r)
{
  GstByteReader es, dc, si;
  guint8 tag, flags;
  if (!read_descriptor (r, &tag, &es) || tag != 0x03
      || !gst_byte_reader_skip (&es, 2) || !gst_byte_reader_get_uint8 (&es,
          &flags))
    return NULL;
  if ((flags & 0x80) && !gst_byte_reader_skip (&es, 2))
    return NULL;
  if (flags & 0x40) {
    guint8 url;
    if (!gst_byte_reader_get_uint8 (&es, &url)
        || !gst_byte_reader_skip (&es, url))
      return NULL;
  }
  if (((flags & 0x20) && !gst_byte_reader_skip (&es, 2))
      || !read_descriptor (&es, &tag, &dc) || tag != 0x04
      || !gst_byte_reader_skip (&dc, 13)
      || !read_descriptor (&dc, &tag, &si) || tag != 0x05
      || gst_byte_reader_get_remaining (&si) == 0)
    return NULL;
  return g_bytes_new (si.data + si.byte, gst_byte_reader_get_remaining (&si));
}

/* AAC ('mp4a' with an esds) or Opus ('Opus' with a dOps): codec, caps. */
static gboolean
parse_audio_entry (LbMp4Init * a, const LbMp4Box * stsd)
{
  GstByteReader r;
  LbMp4Box e, cfg;
  lb_mp4_box_reader (stsd, &r);
  if (stsd->payload_size < 16 || !gst_byte_reader_skip (&r, 8)
      || !lb_mp4_box_read (&r, &e) || e.size < 36)
    return FALSE;
  guint16 version = GST_READ_UINT16_BE (e.data + 16);
  gsize children = 36 + (version == 1 ? 16 : version == 2 ? 36 : 0);
  gint channels = GST_READ_UINT16_BE (e.data + 24);
  gint rate = GST_READ_UINT16_BE (e.data + 32);
  if (e.size < children || channels < 1)
    return FALSE;
  g_autoptr (GstCaps) caps = NULL;
  if (e.type == FOURCC ('m', 'p', '4', 'a')
      && lb_mp4_box_find (e.data + children, e.size - children,
          FOURCC ('e', 's', 'd', 's'), &cfg) && cfg.payload_size > 4) {
    GstByteReader c = GST_BYTE_READER_INIT (cfg.payload + 4,
        cfg.payload_size - 4);
    a->codec_data = esds_config (&c);
    if (a->codec_data == NULL)
      return FALSE;
    g_autoptr (GstBuffer) cd = gst_buffer_new_wrapped_bytes (a->codec_data);
    a->codec = g_strdup ("aac");
    a->sample_entry = g_strdup ("mp4a");
    caps = gst_caps_new_simple ("audio/mpeg", "mpegversion", G_TYPE_INT, 4,
        "stream-format", G_TYPE_STRING, "raw", "framed", G_TYPE_BOOLEAN, TRUE,
        "codec_data", GST_TYPE_BUFFER, cd, "rate", G_TYPE_INT, rate,
        "channels", G_TYPE_INT, channels, NULL);
  } else if (e.type == FOURCC ('O', 'p', 'u', 's')
      && lb_mp4_box_find (e.data + children, e.size - children,
          FOURCC ('d', 'O', 'p', 's'), &cfg) && cfg.payload_size >= 11) {
    a->codec = g_strdup ("opus");
    a->sample_entry = g_strdup ("Opus");
    caps = gst_caps_new_simple ("audio/x-opus", "channel-mapping-family",
        G_TYPE_INT, (gint) cfg.payload[10], "channels", G_TYPE_INT,
        (gint) cfg.payload[1], "rate", G_TYPE_INT, 48000, NULL);
  } else {
    return FALSE;
  }
  a->caps = gst_caps_to_string (caps);
  return TRUE;
}

/* The first AAC or Opus track (other audio is left alone): init->audio. */
static gboolean
parse_audio (LbMp4Init * init, const guint8 * moov, gsize len,
    gint64 file_size, GError ** error)
{
  GstByteReader r = GST_BYTE_READER_INIT (moov, len);
  LbMp4Box trak, stbl, stsd;

  while (lb_mp4_box_read (&r, &trak)) {
    if (trak.type != FOURCC ('t', 'r', 'a', 'k'))
      continue;
    g_autoptr (LbMp4Init) a = g_new0 (LbMp4Init, 1);
    a->samples = g_array_new (FALSE, TRUE, sizeof (LbMp4Sample));
    a->fps_d = 1;
    a->movie_timescale = init->movie_timescale;
    if (!media_track (a, FOURCC ('s', 'o', 'u', 'n'), &trak, &stbl, &stsd,
            NULL) || !parse_audio_entry (a, &stsd))
      continue;
    if (!parse_sample_table (a, &stbl, file_size, error))
      return FALSE;
    a->tracks = init->tracks;
    a->init_size = init->init_size;
    a->moov_offset = init->moov_offset;
    a->moov_size = init->moov_size;
    a->fragmented = init->fragmented;
    init->audio = g_steal_pointer (&a);
    return TRUE;
  }
  return TRUE;
}

/* mvex's trex of our track: the defaults of its fragments. */
static void
parse_trex (LbMp4Init * init, const LbMp4Box * mvex)
{
  GstByteReader r;
  LbMp4Box trex;
  lb_mp4_box_reader (mvex, &r);
  while (lb_mp4_box_read (&r, &trex)) {
    GstByteReader t;
    guint32 id;
    lb_mp4_box_reader (&trex, &t);
    if (trex.type != FOURCC ('t', 'r', 'e', 'x') || trex.payload_size < 24
        || !gst_byte_reader_skip (&t, 4)
        || !gst_byte_reader_get_uint32_be (&t, &id) || id != init->track_id)
      continue;
    gst_byte_reader_skip_unchecked (&t, 4);
    init->trex_duration = gst_byte_reader_get_uint32_be_unchecked (&t);
    init->trex_size = gst_byte_reader_get_uint32_be_unchecked (&t);
    init->trex_flags = gst_byte_reader_get_uint32_be_unchecked (&t);
  }
  if (init->fps_n == 0 && init->trex_duration)
    guess_fps (init, init->trex_duration);
}

static gboolean
parse_moov (LbMp4Init * init, const guint8 * moov, gsize len,
    gint64 file_size, GError ** error)
{
  GstByteReader r = GST_BYTE_READER_INIT (moov, len);
  LbMp4Box mvex, b;
  while (lb_mp4_box_read (&r, &b))
    init->tracks += b.type == FOURCC ('t', 'r', 'a', 'k');
  init->fragmented =
      lb_mp4_box_find (moov, len, FOURCC ('m', 'v', 'e', 'x'), &mvex);
  if (lb_mp4_box_find (moov, len, FOURCC ('m', 'v', 'h', 'd'), &b))
    full_box_u32 (&b, 12, 20, &init->movie_timescale);
  if (!parse_tracks (init, moov, len, file_size, error)
      || !parse_audio (init, moov, len, file_size, error))
    return FALSE;
  if (init->fragmented)
    parse_trex (init, &mvex);
  if (init->fragmented && init->audio)
    parse_trex (init->audio, &mvex);
  return TRUE;
}

/* The moov box of the file: the top-level boxes up to it. */
static gboolean
find_moov (gint fd, gint64 file_size, LbMp4FileBox * box, GError ** error)
{
  static const guint32 starts[] = {
    FOURCC ('f', 't', 'y', 'p'), FOURCC ('m', 'o', 'o', 'v'),
    FOURCC ('s', 't', 'y', 'p'),
  };
  GError *local = NULL;
  gint64 pos = 0;

  if (!lb_mp4_file_box (fd, 0, file_size, box, &local)) {
    /* a file shorter than a box header may still be growing */
    if (local->code == LB_ERROR_CORRUPT) {
      g_clear_error (&local);
      g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT, "not an MP4 file");
      return FALSE;
    }
    g_propagate_error (error, local);
    return FALSE;
  }
  if (box->type != starts[0] && box->type != starts[1]
      && box->type != starts[2]) {
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT,
        "not an MP4 file (no ftyp)");
    return FALSE;
  }
  for (;;) {
    if (box->size == 0) {
      g_set_error (error, LB_ERROR, LB_ERROR_NOT_YET,
          "no moov yet (box at %" G_GINT64_FORMAT " still being written)", pos);
      return FALSE;
    }
    if (!lb_mp4_file_box_is_whole (box, file_size)) {
      g_set_error (error, LB_ERROR, LB_ERROR_NOT_YET, "%s",
          box->type == FOURCC ('m', 'o', 'o', 'v') ? "moov incomplete" :
          "no moov yet");
      return FALSE;
    }
    if (box->type == FOURCC ('m', 'o', 'o', 'v'))
      return TRUE;
    pos += box->size;
    if (!lb_mp4_file_box (fd, pos, file_size, box, error))
      return FALSE;
  }
}

gboolean
lb_mp4_read_init (gint fd, LbMp4Init ** out, GError ** error)
{
  g_return_val_if_fail (fd >= 0, FALSE);
  g_return_val_if_fail (out != NULL && *out == NULL, FALSE);
  debug_init ();

  gint64 file_size;
  LbMp4FileBox box;
  gsize len;
  if (!lb_mp4_file_size (fd, &file_size, error)
      || !find_moov (fd, file_size, &box, error))
    return FALSE;
  g_autofree guint8 *data =
      lb_mp4_file_box_load (fd, &box, MAX_MOOV, &len, error);
  if (data == NULL)
    return FALSE;
  g_autoptr (LbMp4Init) init = g_new0 (LbMp4Init, 1);
  init->samples = g_array_new (FALSE, TRUE, sizeof (LbMp4Sample));
  init->moov_offset = box.pos;
  init->moov_size = box.size;
  init->init_size = box.pos + box.size;
  init->fps_d = 1;
  if (!parse_moov (init, data, len, file_size, error))
    return FALSE;
  GST_DEBUG ("init: track %u, %s %dx%d, timescale %u, %u table samples, %s",
      init->track_id, init->codec, init->width, init->height,
      init->timescale, init->samples->len,
      init->fragmented ? "fragmented" : "finalised");
  *out = g_steal_pointer (&init);
  return TRUE;
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

/* What a traf's tfhd and tfdt say, and the samples its truns add. */
typedef struct
{
  const LbMp4Init *init;
  gint64 moof_pos;
  gint64 base;                  /* base data offset */
  guint32 def_duration, def_size, def_flags;
  gboolean tf_duration, tf_size;        /* tfhd gave those defaults */
  gboolean have_first;          /* the traf's first sample is read: */
  guint32 first_duration, first_size;
  gint64 dts;                   /* decode time of the next sample (ticks) */
  gint64 data_pos;              /* offset of the next sample */
  GArray *samples;
  gint64 *dmin, *dmax;          /* widened to the samples' bytes */
  gint64 file_size;
  const gchar *bad;             /* what is wrong, when parsing fails */
} Traf;

/* tfhd: FALSE when malformed; *@ours FALSE when it is another track's. */
static gboolean
parse_tfhd (Traf * t, const LbMp4Box * traf, gboolean * ours)
{
  LbMp4Box tfhd;
  GstByteReader r;
  guint8 version;
  guint32 tf, track;
  if (!lb_mp4_box_find (traf->payload, traf->payload_size,
          FOURCC ('t', 'f', 'h', 'd'), &tfhd))
    return FALSE;
  lb_mp4_box_reader (&tfhd, &r);
  if (!lb_mp4_box_full (&r, &version, &tf)
      || !gst_byte_reader_get_uint32_be (&r, &track))
    return FALSE;
  *ours = track == t->init->track_id;
  if (!*ours)
    return TRUE;
  t->base = t->moof_pos;
  t->def_duration = t->init->trex_duration;
  t->def_size = t->init->trex_size;
  t->def_flags = t->init->trex_flags;
  guint64 bdo;
  if ((tf & 0x1) && (!gst_byte_reader_get_uint64_be (&r, &bdo)
          || bdo > (guint64) LB_MP4_MAX_OFFSET))
    return FALSE;
  if (tf & 0x1)
    t->base = (gint64) bdo;
  t->tf_duration = (tf & 0x8) != 0;
  t->tf_size = (tf & 0x10) != 0;
  t->have_first = FALSE;
  if (((tf & 0x2) && !gst_byte_reader_skip (&r, 4))
      || ((tf & 0x8) && !gst_byte_reader_get_uint32_be (&r, &t->def_duration))
      || ((tf & 0x10) && !gst_byte_reader_get_uint32_be (&r, &t->def_size))
      || ((tf & 0x20) && !gst_byte_reader_get_uint32_be (&r, &t->def_flags)))
    return FALSE;

  LbMp4Box tfdt;
  t->dts = 0;
  if (lb_mp4_box_find (traf->payload, traf->payload_size,
          FOURCC ('t', 'f', 'd', 't'), &tfdt) && tfdt.payload_size >= 8) {
    GstByteReader d;
    lb_mp4_box_reader (&tfdt, &d);
    guint32 dummy, t32;
    guint64 t64;
    lb_mp4_box_full (&d, &version, &dummy);
    if (version == 1 && gst_byte_reader_get_uint64_be (&d, &t64))
      t->dts = (gint64) t64;
    else if (gst_byte_reader_get_uint32_be (&d, &t32))
      t->dts = t32;
  } else {
    GST_WARNING ("fragment at %" G_GINT64_FORMAT " has no tfdt", t->moof_pos);
  }
  t->data_pos = t->base;
  return TRUE;
}

/* One trun's samples. */
static gboolean
parse_trun (Traf * t, const LbMp4Box * trun)
{
  GstByteReader r;
  guint8 version;
  guint32 flags, count, first_flags = t->def_flags;
  lb_mp4_box_reader (trun, &r);
  if (!lb_mp4_box_full (&r, &version, &flags)
      || !gst_byte_reader_get_uint32_be (&r, &count))
    return FALSE;
  if (flags & 0x1) {
    guint32 off;
    if (!gst_byte_reader_get_uint32_be (&r, &off))
      return FALSE;
    t->data_pos = t->base + (gint32) off;
    if (t->data_pos < 0)
      return FALSE;
  }
  if ((flags & 0x4) && !gst_byte_reader_get_uint32_be (&r, &first_flags))
    return FALSE;
  gsize per = ((flags & 0x100) ? 4 : 0) + ((flags & 0x200) ? 4 : 0) +
      ((flags & 0x400) ? 4 : 0) + ((flags & 0x800) ? 4 : 0);
  if (per && gst_byte_reader_get_remaining (&r) / per < count)
    return FALSE;
  if (count > MAX_FRAGMENT_SAMPLES - t->samples->len) {
    t->bad = "more samples than lookback reads in one fragment";
    return FALSE;
  }
  /* mp4mux 1.22 leaves a field out of a trun whose samples match its
   * default, even after it has dropped that default from the tfhd (whose
   * value stays the traf's first sample's): such a field, in neither the
   * tfhd nor the trex, is the traf's first sample's */
  guint32 def_duration = t->def_duration, def_size = t->def_size;
  if (t->have_first && !t->tf_duration && def_duration == 0)
    def_duration = t->first_duration;
  if (t->have_first && !t->tf_size && def_size == 0)
    def_size = t->first_size;
  if (!(flags & 0x200) && count > 0 && def_size == 0) {
    t->bad = "samples of no size";
    return FALSE;
  }
  for (guint32 i = 0; i < count; i++) {
    guint32 dur = def_duration, sz = def_size;
    guint32 fl = i == 0 && (flags & 0x4) ? first_flags : t->def_flags;
    gint64 cto = 0;
    if (flags & 0x100)
      dur = gst_byte_reader_get_uint32_be_unchecked (&r);
    if (flags & 0x200)
      sz = gst_byte_reader_get_uint32_be_unchecked (&r);
    if (flags & 0x400)
      fl = gst_byte_reader_get_uint32_be_unchecked (&r);
    if (flags & 0x800) {
      guint32 v = gst_byte_reader_get_uint32_be_unchecked (&r);
      cto = version == 0 ? (gint64) v : (gint64) (gint32) v;
    }
    if (t->data_pos > LB_MP4_MAX_OFFSET || t->dts > LB_MP4_MAX_OFFSET
        || t->dts < -LB_MP4_MAX_OFFSET)
      return FALSE;
    LbMp4Sample s = {
      .offset = t->data_pos,
      .size = sz,
      .dts_ns = lb_mp4_to_ns (t->init, t->dts),
      .pts_ns = lb_mp4_to_ns (t->init, t->dts + cto),
      .duration_ns = lb_mp4_to_ns (t->init, dur),
      .sync = (fl & 0x10000) == 0,
    };
    g_array_append_val (t->samples, s);
    if (!t->have_first) {
      t->have_first = TRUE;
      t->first_duration = dur;
      t->first_size = sz;
    }
    if (sz > 0) {
      *t->dmin = MIN (*t->dmin, t->data_pos);
      *t->dmax = MAX (*t->dmax, t->data_pos + (gint64) sz);
    }
    t->data_pos += sz;
    t->dts += dur;
  }
  return TRUE;
}

/* The truns of a traf of our track. */
static gboolean
parse_truns (Traf * t, const LbMp4Box * traf)
{
  GstByteReader r;
  LbMp4Box box;
  lb_mp4_box_reader (traf, &r);
  while (gst_byte_reader_get_remaining (&r) >= 8) {
    if (!lb_mp4_box_read (&r, &box))
      return FALSE;
    if (box.type == FOURCC ('t', 'r', 'u', 'n') && !parse_trun (t, &box))
      return FALSE;
  }
  return TRUE;
}

/* A moof's traf of our track: appends its samples; widens [*dmin, *dmax)
 * to their bytes. */
static gboolean
parse_moof (const LbMp4Init * init, const guint8 * moof, gsize len,
    gint64 moof_pos, gint64 file_size, GArray * samples, gint64 * dmin,
    gint64 * dmax, GError ** error)
{
  GstByteReader r = GST_BYTE_READER_INIT (moof, len);
  Traf t = {.init = init,.moof_pos = moof_pos,.samples = samples,
    .dmin = dmin,.dmax = dmax,.file_size = file_size
  };
  LbMp4Box traf;

  while (gst_byte_reader_get_remaining (&r) >= 8) {
    gboolean ours = FALSE;
    if (!lb_mp4_box_read (&r, &traf))
      goto bad;
    if (traf.type != FOURCC ('t', 'r', 'a', 'f'))
      continue;
    if (!parse_tfhd (&t, &traf, &ours) || (ours && !parse_truns (&t, &traf)))
      goto bad;
  }
  return TRUE;

bad:
  g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT,
      "bad moof at %" G_GINT64_FORMAT "%s%s", moof_pos, t.bad ? ": " : "",
      t.bad ? t.bad : "");
  return FALSE;
}

static gboolean
read_moof (gint fd, const LbMp4Init * init, const LbMp4FileBox * box,
    gint64 file_size, GArray * samples, gint64 * dmin, gint64 * dmax,
    GError ** error)
{
  gsize len;
  g_autofree guint8 *data =
      lb_mp4_file_box_load (fd, box, MAX_MOOF, &len, error);
  return data && parse_moof (init, data, len, box->pos, file_size, samples,
      dmin, dmax, error);
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
  /* the other tracks' samples (audio) lie between this GOP's and the next
   * one's, or the moov after the last GOP (a growing file's first
   * fragment, a finalised file's last GOP) */
  if (j < n)
    end = MAX (end, s[j].offset);
  else if (init->moov_offset > s[i].offset)
    end = MAX (end, init->moov_offset);
  f->offset = s[i].offset;
  f->size = end - f->offset;
  if (j < n)
    f->next_offset = s[j].offset;
  else
    f->next_offset = init->fragmented ? MAX (end, init->init_size) : end;
  return f;
}

/* The fragment of the moov's sample table at @offset. */
static gboolean
read_table_fragment (const LbMp4Init * init, gint64 offset, gint64 file_size,
    LbMp4Fragment ** out, GError ** error)
{
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

/* The moof fragment at @offset: boxes up to the moof and the mdat(s)
 * holding its samples.  *@finalised when the file's final moov comes
 * first. */
static gboolean
read_moof_fragment (gint fd, const LbMp4Init * init, gint64 offset,
    gint64 file_size, LbMp4Fragment * f, gboolean * finalised, GError ** error)
{
  gint64 pos = offset, dmin = G_MAXINT64, dmax = G_MININT64;
  gint64 mdat_min = G_MAXINT64, mdat_max = G_MININT64;
  gboolean have_moof = FALSE;
  LbMp4FileBox box;

  while (!have_moof || (dmin != G_MAXINT64 && (dmin < mdat_min
              || dmax > mdat_max))) {
    if (!lb_mp4_file_box (fd, pos, file_size, &box, error))
      return FALSE;
    if (!lb_mp4_file_box_is_whole (&box, file_size)) {
      g_set_error (error, LB_ERROR, LB_ERROR_NOT_YET,
          "box at %" G_GINT64_FORMAT " incomplete", pos);
      return FALSE;
    }
    if (box.type == FOURCC ('m', 'o', 'o', 'f')) {
      if (have_moof) {
        g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT,
            "fragment at %" G_GINT64_FORMAT " refers to missing data", offset);
        return FALSE;
      }
      if (!read_moof (fd, init, &box, file_size, f->samples, &dmin, &dmax,
              error))
        return FALSE;
      have_moof = TRUE;
    } else if (box.type == FOURCC ('m', 'd', 'a', 't')) {
      mdat_min = MIN (mdat_min, pos + box.header_size);
      mdat_max = MAX (mdat_max, pos + box.size);
    } else if (box.type == FOURCC ('m', 'o', 'o', 'v') && !have_moof
        && f->samples->len == 0) {
      *finalised = TRUE;        /* since @init was read */
      return TRUE;
    }
    pos += box.size;            /* free, skip, sidx, udta, ... */
  }
  f->offset = offset;
  f->size = pos - offset;
  f->next_offset = pos;
  return TRUE;
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
          init->samples->len - 1).offset)
    return read_table_fragment (init, offset, file_size, out, error);
  if (!init->fragmented)
    return TRUE;                /* finalised: nothing after the table */

  g_autoptr (LbMp4Fragment) f = fragment_new ();
  gboolean finalised = FALSE;
  if (!read_moof_fragment (fd, init, offset, file_size, f, &finalised, error))
    return FALSE;
  if (!finalised)
    *out = g_steal_pointer (&f);
  return TRUE;
}

static gint
sample_cmp_offset (gconstpointer a, gconstpointer b)
{
  const LbMp4Sample *x = a, *y = b;
  return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Appends the samples of @from whose bytes lie in [@offset, @end). */
static void
append_in_range (GArray * to, const GArray * from, gint64 offset, gint64 end)
{
  for (guint i = 0; i < from->len; i++) {
    const LbMp4Sample *s = &g_array_index (from, LbMp4Sample, i);
    if (s->offset >= offset && s->offset + (gint64) s->size <= end)
      g_array_append_val (to, *s);
  }
}

/* Past the moov of a fragmented file boxes follow one another: the moofs
 * in [@offset, @end) describe the rest of the range. */
static gboolean
range_moofs (gint fd, const LbMp4Init * init, gint64 offset, gint64 end,
    GArray * samples, GError ** error)
{
  gint64 file_size, pos = MAX (offset, init->init_size);
  gint64 dmin = G_MAXINT64, dmax = G_MININT64;
  if (!lb_mp4_file_size (fd, &file_size, error))
    return FALSE;
  while (pos < end) {
    LbMp4FileBox box;
    if (!lb_mp4_file_box (fd, pos, file_size, &box, error))
      return FALSE;
    if (box.size == 0 || box.size > end - pos)
      break;
    if (box.type == FOURCC ('m', 'o', 'o', 'f')) {
      g_autoptr (GArray) tmp = g_array_new (FALSE, TRUE, sizeof (LbMp4Sample));
      if (!lb_mp4_file_box_is_whole (&box, file_size)) {
        g_set_error (error, LB_ERROR, LB_ERROR_NOT_YET,
            "box at %" G_GINT64_FORMAT " incomplete", pos);
        return FALSE;
      }
      if (!read_moof (fd, init, &box, file_size, tmp, &dmin, &dmax, error))
        return FALSE;
      append_in_range (samples, tmp, offset, end);
    }
    pos += box.size;
  }
  g_array_sort (samples, sample_cmp_offset);
  return TRUE;
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
  append_in_range (f->samples, init->samples, offset, end);
  if (init->fragmented && end > init->init_size
      && !range_moofs (fd, init, offset, end, f->samples, error))
    return FALSE;
  *out = g_steal_pointer (&f);
  return TRUE;
}
