/* Test helper: small MP4 files written box by box */
#include "mp4/lb-mp4-box.h"
#include "mp4-synth.h"

/* A box of @type ("ftyp"), ended by end(). */
static guint
begin (GstByteWriter * w, const gchar * type)
{
  return lb_mp4_box_begin (w, GST_READ_UINT32_BE (type));
}

#define end lb_mp4_box_end

static void
ftyp (GstByteWriter * w)
{
  guint at = begin (w, "ftyp");
  gst_byte_writer_put_data (w, (const guint8 *) "isom", 4);
  gst_byte_writer_put_uint32_be (w, 0);
  gst_byte_writer_put_data (w, (const guint8 *) "isomavc1", 8);
  end (w, at);
}

static void
zeros (GstByteWriter * w, guint n)
{
  gst_byte_writer_fill (w, 0, n);
}

/* mvhd or mdhd: version, flags, times, timescale, duration, then the rest
 * (@tail zero bytes), cut to @cut payload bytes when @cut is set. */
static void
header_box (GstByteWriter * w, const gchar * type, guint8 version,
    guint32 timescale, guint64 duration, guint tail, guint32 cut)
{
  guint at = begin (w, type);
  guint start = gst_byte_writer_get_pos (w);
  gst_byte_writer_put_uint32_be (w, (guint32) version << 24);
  if (version == 1) {
    zeros (w, 16);
    gst_byte_writer_put_uint32_be (w, timescale);
    gst_byte_writer_put_uint64_be (w, duration);
  } else {
    zeros (w, 8);
    gst_byte_writer_put_uint32_be (w, timescale);
    gst_byte_writer_put_uint32_be (w, (guint32) duration);
  }
  zeros (w, tail);
  if (cut)
    gst_byte_writer_set_pos (w, start + cut);
  end (w, at);
}

static void
sample_entry (GstByteWriter * w)
{
  guint stsd = begin (w, "stsd");
  gst_byte_writer_put_uint32_be (w, 0);
  gst_byte_writer_put_uint32_be (w, 1);
  guint avc1 = begin (w, "avc1");
  zeros (w, 6);
  gst_byte_writer_put_uint16_be (w, 1); /* data reference index */
  zeros (w, 16);
  gst_byte_writer_put_uint16_be (w, 64);
  gst_byte_writer_put_uint16_be (w, 48);
  zeros (w, 50);
  guint avcc = begin (w, "avcC");
  const guint8 cfg[] = { 1, 0x42, 0xc0, 0x1e, 0xff, 0xe0, 0x00 };
  gst_byte_writer_put_data (w, cfg, sizeof cfg);
  end (w, avcc);
  end (w, avc1);
  end (w, stsd);
}

static void
sample_table (GstByteWriter * w, const LbtSynth * s, guint32 chunk_offset)
{
  guint stbl = begin (w, "stbl");
  sample_entry (w);
  guint at = begin (w, "stts");
  gst_byte_writer_put_uint32_be (w, 0);
  gst_byte_writer_put_uint32_be (w, 1);
  gst_byte_writer_put_uint32_be (w,
      (guint32) (s->stts_count ? s->stts_count : s->samples));
  gst_byte_writer_put_uint32_be (w, s->delta ? s->delta : 1);
  end (w, at);
  if (s->cto) {
    at = begin (w, "ctts");
    gst_byte_writer_put_uint32_be (w, 0x01000000);      /* version 1: signed */
    gst_byte_writer_put_uint32_be (w, s->samples);
    for (guint32 i = 0; i < s->samples; i++) {
      gst_byte_writer_put_uint32_be (w, 1);
      gst_byte_writer_put_uint32_be (w, (guint32) s->cto[i]);
    }
    end (w, at);
  }
  if (s->sync_all) {
    at = begin (w, "stss");
    gst_byte_writer_put_uint32_be (w, 0);
    gst_byte_writer_put_uint32_be (w, s->samples);
    for (guint32 i = 0; i < s->samples; i++)
      gst_byte_writer_put_uint32_be (w, i + 1);
    end (w, at);
  }
  at = begin (w, "stsz");
  gst_byte_writer_put_uint32_be (w, 0);
  gst_byte_writer_put_uint32_be (w, s->sample_size);
  gst_byte_writer_put_uint32_be (w, s->samples);
  end (w, at);
  at = begin (w, "stsc");
  gst_byte_writer_put_uint32_be (w, 0);
  gst_byte_writer_put_uint32_be (w, 1);
  gst_byte_writer_put_uint32_be (w, 1);
  gst_byte_writer_put_uint32_be (w, s->samples);
  gst_byte_writer_put_uint32_be (w, 1);
  end (w, at);
  at = begin (w, "stco");
  gst_byte_writer_put_uint32_be (w, 0);
  gst_byte_writer_put_uint32_be (w, 1);
  gst_byte_writer_put_uint32_be (w, chunk_offset);
  end (w, at);
  end (w, stbl);
}

static void
empty_sample_table (GstByteWriter * w)
{
  const gchar *tables[] = { "stts", "stsc", "stco" };
  guint stbl = begin (w, "stbl");
  sample_entry (w);
  for (guint i = 0; i < G_N_ELEMENTS (tables); i++) {
    guint at = begin (w, tables[i]);
    zeros (w, 8);
    end (w, at);
  }
  guint at = begin (w, "stsz");
  zeros (w, 12);
  end (w, at);
  end (w, stbl);
}

static void
track (GstByteWriter * w, const LbtSynth * s, guint32 timescale,
    guint64 duration, guint32 chunk_offset)
{
  guint trak = begin (w, "trak");
  guint at = begin (w, "tkhd");
  gst_byte_writer_put_uint32_be (w, 3); /* enabled, in movie */
  zeros (w, 8);
  gst_byte_writer_put_uint32_be (w, 1); /* track id */
  zeros (w, 4);
  gst_byte_writer_put_uint32_be (w, (guint32) duration);
  zeros (w, 60);
  end (w, at);
  guint mdia = begin (w, "mdia");
  header_box (w, "mdhd", s->mdhd_version, timescale, duration, 4, s->mdhd_cut);
  at = begin (w, "hdlr");
  zeros (w, 8);
  gst_byte_writer_put_data (w, (const guint8 *) "vide", 4);
  zeros (w, 13);
  end (w, at);
  guint minf = begin (w, "minf");
  if (s->samples)
    sample_table (w, s, chunk_offset);
  else
    empty_sample_table (w);
  end (w, minf);
  end (w, mdia);
  end (w, trak);
}

GBytes *
lbt_synth_mp4 (const LbtSynth * s)
{
  guint32 timescale = s->timescale ? s->timescale : 1000;
  guint64 duration = (guint64) s->samples * (s->delta ? s->delta : 1);
  guint32 mdat = s->mdat_size ? s->mdat_size : s->samples * s->sample_size;
  GstByteWriter w;
  gst_byte_writer_init (&w);

  ftyp (&w);
  guint at = begin (&w, "mdat");
  guint32 chunk_offset = gst_byte_writer_get_pos (&w);
  zeros (&w, mdat);
  end (&w, at);
  guint moov = begin (&w, "moov");
  header_box (&w, "mvhd", s->mvhd_version, timescale, duration, 80,
      s->mvhd_cut);
  track (&w, s, timescale, duration, chunk_offset);
  end (&w, moov);
  guint size = gst_byte_writer_get_pos (&w);
  return g_bytes_new_take (gst_byte_writer_reset_and_get_data (&w), size);
}

void
lbt_synth_write (const gchar * path, const LbtSynth * synth)
{
  g_autoptr (GBytes) b = lbt_synth_mp4 (synth);
  gsize len;
  const gchar *data = g_bytes_get_data (b, &len);
  g_assert_true (g_file_set_contents (path, data, len, NULL));
}

static void
fragment (GstByteWriter * w, const LbtSynthFragmented * f, guint32 data)
{
  guint moof = begin (w, "moof");
  guint at = begin (w, "mfhd");
  gst_byte_writer_put_uint32_be (w, 0);
  gst_byte_writer_put_uint32_be (w, 1);
  end (w, at);
  guint traf = begin (w, "traf");
  at = begin (w, "tfhd");
  gst_byte_writer_put_uint32_be (w, 0x000019);  /* base offset, duration, size */
  gst_byte_writer_put_uint32_be (w, 1);
  gst_byte_writer_put_uint64_be (w, data);
  gst_byte_writer_put_uint32_be (w, 1);
  gst_byte_writer_put_uint32_be (w, f->sample_size);
  end (w, at);
  at = begin (w, "tfdt");
  gst_byte_writer_put_uint32_be (w, 0x01000000);
  gst_byte_writer_put_uint64_be (w, 0);
  end (w, at);
  for (guint i = 0; i < f->truns; i++) {
    at = begin (w, "trun");
    gst_byte_writer_put_uint32_be (w, 0);
    gst_byte_writer_put_uint32_be (w, f->trun_samples);
    end (w, at);
  }
  end (w, traf);
  end (w, moof);
}

GBytes *
lbt_synth_fragmented_mp4 (const LbtSynthFragmented * f)
{
  LbtSynth empty = {.timescale = 30 };
  GstByteWriter w;
  gst_byte_writer_init (&w);

  ftyp (&w);
  guint moov = begin (&w, "moov");
  header_box (&w, "mvhd", 0, 30, 0, 80, 0);
  track (&w, &empty, 30, 0, 0);
  guint mvex = begin (&w, "mvex");
  guint at = begin (&w, "trex");
  gst_byte_writer_put_uint32_be (&w, 0);
  gst_byte_writer_put_uint32_be (&w, 1);
  gst_byte_writer_put_uint32_be (&w, 1);
  gst_byte_writer_put_uint32_be (&w, 1);
  gst_byte_writer_put_uint32_be (&w, f->sample_size);
  gst_byte_writer_put_uint32_be (&w, 0);
  end (&w, at);
  end (&w, mvex);
  end (&w, moov);
  at = begin (&w, "mdat");
  guint32 data = gst_byte_writer_get_pos (&w);
  zeros (&w, f->mdat_size);
  end (&w, at);
  fragment (&w, f, data);
  guint size = gst_byte_writer_get_pos (&w);
  return g_bytes_new_take (gst_byte_writer_reset_and_get_data (&w), size);
}
