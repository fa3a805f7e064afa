/* lookback — H.264 and H.265 NAL units: kinds, access units, order of display
 *
 * Only the syntax that leads to the picture order count is read: the start
 * of the sequence and picture parameter sets and of the first slice header
 * of each picture (ITU-T H.264 7.3.2.1, 7.3.2.2, 7.3.3 and 8.2.1; H.265
 * 7.3.2.2, 7.3.2.3, 7.3.6 and 8.3.1).
 */
#include "mp4/lb-nal.h"

#include <string.h>

/* The most RBSP bytes read of one NAL unit: parameter sets and slice
 * headers end long before (a longer SPS fails to parse, it is not read
 * past). */
#define MAX_RBSP 1024

/* Parameter set ids: H.264 has 32 SPS and 256 PPS, H.265 16 and 64. */
#define MAX_SPS 32
#define MAX_PPS 256

/* ---- bits ---- */

typedef struct
{
  guint8 data[MAX_RBSP];
  gsize len;                    /* bytes in data */
  gsize pos;                    /* bits read */
  gboolean bad;                 /* read past the end */
} Bits;

/* The RBSP of the first @limit bytes of @p (@n bytes): emulation
 * prevention bytes (0x000003) removed. */
static void
bits_init (Bits * b, const guint8 * p, gsize n, gsize limit)
{
  gsize zeros = 0;

  b->len = b->pos = 0;
  b->bad = FALSE;
  for (gsize i = 0; i < n && b->len < MIN (limit, MAX_RBSP); i++) {
    if (zeros >= 2 && p[i] == 3) {
      zeros = 0;
      continue;
    }
    zeros = p[i] == 0 ? zeros + 1 : 0;
    b->data[b->len++] = p[i];
  }
}

static guint32
bits_u (Bits * b, guint n)
{
  guint32 v = 0;

  for (guint i = 0; i < n; i++) {
    if (b->pos >= b->len * 8) {
      b->bad = TRUE;
      return 0;
    }
    v = (v << 1) | ((b->data[b->pos / 8] >> (7 - b->pos % 8)) & 1);
    b->pos++;
  }
  return v;
}

static void
bits_skip (Bits * b, gsize n)
{
  if (n > b->len * 8 - b->pos) {
    b->bad = TRUE;
    b->pos = b->len * 8;
  } else {
    b->pos += n;
  }
}

/* ue(v); values over 2^31 are garbage here */
static guint32
bits_ue (Bits * b)
{
  guint zeros = 0;

  while (bits_u (b, 1) == 0) {
    if (b->bad || ++zeros > 31) {
      b->bad = TRUE;
      return 0;
    }
  }
  return (guint32) ((G_GUINT64_CONSTANT (1) << zeros) - 1 + bits_u (b, zeros));
}

static gint32
bits_se (Bits * b)
{
  guint32 k = bits_ue (b);

  return k & 1 ? (gint32) ((k + 1) / 2) : -(gint32) (k / 2);
}

/* ---- NAL unit headers ---- */

gboolean
lb_nal_codec_from_name (const gchar * name, LbNalCodec * out)
{
  if (g_strcmp0 (name, "h264") == 0)
    *out = LB_NAL_H264;
  else if (g_strcmp0 (name, "h265") == 0)
    *out = LB_NAL_H265;
  else
    return FALSE;
  return TRUE;
}

static gboolean
parse_h264 (const guint8 * nal, gsize len, LbNal * out)
{
  guint t = nal[0] & 0x1f;

  out->type = t;
  out->vcl = t >= 1 && t <= 5;
  out->keyframe = t == 5;
  /* SEI, SPS, PPS, delimiter, prefix and subset SPS … (7.4.1.2.3) */
  out->starts_access_unit = t == 6 || t == 7 || t == 8 || t == 9
      || (t >= 14 && t <= 18);
  if (out->vcl) {
    Bits b;
    bits_init (&b, nal + 1, len - 1, 8);
    out->first_slice = bits_ue (&b) == 0;       /* first_mb_in_slice */
    if (b.bad)
      return FALSE;
    out->starts_access_unit = out->first_slice;
  }
  return TRUE;
}

static gboolean
parse_h265 (const guint8 * nal, gsize len, LbNal * out)
{
  guint t = (nal[0] >> 1) & 0x3f;

  if (len < 2)
    return FALSE;
  out->type = t;
  out->vcl = t < 32;
  out->keyframe = t >= 16 && t <= 23;
  /* VPS, SPS, PPS, delimiter, prefix SEI, reserved (7.4.2.4.4) */
  out->starts_access_unit = (t >= 32 && t <= 35) || t == 39
      || (t >= 41 && t <= 44) || (t >= 48 && t <= 55);
  if (out->vcl) {
    if (len < 3)
      return FALSE;
    out->first_slice = (nal[2] & 0x80) != 0;    /* first_slice_segment_in_pic_flag */
    out->starts_access_unit = out->first_slice;
  }
  return TRUE;
}

gboolean
lb_nal_parse (LbNalCodec codec, const guint8 * nal, gsize len, LbNal * out)
{
  g_return_val_if_fail (out != NULL, FALSE);

  memset (out, 0, sizeof (*out));
  if (nal == NULL || len < 1 || (nal[0] & 0x80))
    return FALSE;
  return codec == LB_NAL_H264 ? parse_h264 (nal, len, out)
      : parse_h265 (nal, len, out);
}

gboolean
lb_nal_config_length_size (LbNalCodec codec, const guint8 * config,
    gsize len, guint * size)
{
  gsize at = codec == LB_NAL_H264 ? 4 : 21;

  if (config == NULL || len <= at || (config[at] & 3) == 2)
    return FALSE;
  *size = (config[at] & 3) + 1;
  return TRUE;
}

/* ---- parameter sets ---- */

typedef struct
{
  gboolean valid;
  guint log2_max_frame_num;     /* H.264 */
  guint poc_type;               /* H.264 */
  guint log2_max_poc_lsb;
  gboolean frame_mbs_only;      /* H.264 */
  gboolean separate_colour_plane;
} Sps;

typedef struct
{
  gboolean valid;
  guint sps_id;
  gboolean dependent_slices;    /* H.265 */
  gboolean output_flag;         /* H.265 */
  guint extra_bits;             /* H.265 */
} Pps;

struct _LbNalOrder
{
  LbNalCodec codec;
  Sps sps[MAX_SPS];
  Pps pps[MAX_PPS];
  gboolean started;             /* a picture was seen */
  gint64 sequence;              /* sequences (IDR …) begun */
  gint64 prev_msb, prev_lsb;    /* POC of the picture the next one's derives from */
  gint64 count;                 /* pictures of the sequence (H.264 POC type 2) */
};

LbNalOrder *
lb_nal_order_new (LbNalCodec codec)
{
  LbNalOrder *o = g_new0 (LbNalOrder, 1);
  o->codec = codec;
  return o;
}

void
lb_nal_order_free (LbNalOrder * order)
{
  g_free (order);
}

static void
skip_scaling_list (Bits * b, guint size)
{
  gint last = 8, next = 8;

  for (guint j = 0; j < size && !b->bad; j++) {
    if (next != 0)
      next = (last + bits_se (b) + 256) % 256;
    last = next == 0 ? last : next;
  }
}

static gboolean
h264_high_profile (guint profile)
{
  static const guint high[] =
      { 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135 };
  for (guint i = 0; i < G_N_ELEMENTS (high); i++)
    if (profile == high[i])
      return TRUE;
  return FALSE;
}

/* H.264 7.3.2.1.1, up to frame_mbs_only_flag */
static gboolean
h264_sps (LbNalOrder * o, Bits * b)
{
  Sps s = {.valid = TRUE };
  guint profile = bits_u (b, 8);
  bits_skip (b, 16);            /* constraint flags, level */
  guint id = bits_ue (b);
  if (h264_high_profile (profile)) {
    guint chroma = bits_ue (b);
    if (chroma == 3)
      s.separate_colour_plane = bits_u (b, 1);
    bits_ue (b);                /* bit depths */
    bits_ue (b);
    bits_skip (b, 1);
    if (bits_u (b, 1))          /* seq_scaling_matrix_present_flag */
      for (guint i = 0; i < (chroma != 3 ? 8u : 12u) && !b->bad; i++)
        if (bits_u (b, 1))
          skip_scaling_list (b, i < 6 ? 16 : 64);
  }
  s.log2_max_frame_num = bits_ue (b) + 4;
  s.poc_type = bits_ue (b);
  if (s.poc_type == 0) {
    s.log2_max_poc_lsb = bits_ue (b) + 4;
  } else if (s.poc_type == 1) {
    bits_skip (b, 1);
    bits_se (b);
    bits_se (b);
    guint n = bits_ue (b);
    for (guint i = 0; i < n && !b->bad; i++)
      bits_se (b);
  }
  bits_ue (b);                  /* max_num_ref_frames */
  bits_skip (b, 1);
  bits_ue (b);                  /* picture size */
  bits_ue (b);
  s.frame_mbs_only = bits_u (b, 1);
  if (b->bad || id >= MAX_SPS || s.log2_max_frame_num > 16
      || s.poc_type > 2 || s.log2_max_poc_lsb > 16)
    return FALSE;
  o->sps[id] = s;
  return TRUE;
}

static void
h265_profile_tier_level (Bits * b, guint max_sub_layers_minus1)
{
  gboolean profile[8], level[8];

  bits_skip (b, 96);            /* general profile, tier and level */
  for (guint i = 0; i < max_sub_layers_minus1; i++) {
    profile[i] = bits_u (b, 1);
    level[i] = bits_u (b, 1);
  }
  if (max_sub_layers_minus1 > 0)
    bits_skip (b, 2 * (8 - max_sub_layers_minus1));
  for (guint i = 0; i < max_sub_layers_minus1; i++)
    bits_skip (b, (profile[i] ? 88 : 0) + (level[i] ? 8 : 0));
}

/* H.265 7.3.2.2.1, up to log2_max_pic_order_cnt_lsb_minus4 */
static gboolean
h265_sps (LbNalOrder * o, Bits * b)
{
  Sps s = {.valid = TRUE,.frame_mbs_only = TRUE };
  bits_skip (b, 4);             /* sps_video_parameter_set_id */
  guint sub_layers = bits_u (b, 3);
  bits_skip (b, 1);
  if (sub_layers > 6)
    return FALSE;
  h265_profile_tier_level (b, sub_layers);
  guint id = bits_ue (b);
  if (bits_ue (b) == 3)         /* chroma_format_idc */
    s.separate_colour_plane = bits_u (b, 1);
  bits_ue (b);                  /* picture size */
  bits_ue (b);
  if (bits_u (b, 1))            /* conformance_window_flag */
    for (guint i = 0; i < 4; i++)
      bits_ue (b);
  bits_ue (b);                  /* bit depths */
  bits_ue (b);
  s.log2_max_poc_lsb = bits_ue (b) + 4;
  if (b->bad || id >= 16 || s.log2_max_poc_lsb > 16)
    return FALSE;
  o->sps[id] = s;
  return TRUE;
}

static gboolean
parse_pps (LbNalOrder * o, Bits * b)
{
  Pps p = {.valid = TRUE };
  guint id = bits_ue (b);
  p.sps_id = bits_ue (b);
  if (o->codec == LB_NAL_H265) {
    p.dependent_slices = bits_u (b, 1);
    p.output_flag = bits_u (b, 1);
    p.extra_bits = bits_u (b, 3);
  }
  if (b->bad || id >= (o->codec == LB_NAL_H264 ? 256u : 64u)
      || p.sps_id >= MAX_SPS)
    return FALSE;
  o->pps[id] = p;
  return TRUE;
}

/* A parameter set NAL unit (header included); TRUE for other units. */
static gboolean
parameter_set (LbNalOrder * o, const guint8 * nal, gsize len, guint type)
{
  gboolean h264 = o->codec == LB_NAL_H264;
  gsize header = h264 ? 1 : 2;
  gboolean sps = h264 ? type == 7 : type == 33;
  gboolean pps = h264 ? type == 8 : type == 34;
  Bits b;

  if (!sps && !pps)
    return TRUE;
  if (len <= header)
    return FALSE;
  bits_init (&b, nal + header, len - header, MAX_RBSP);
  if (pps)
    return parse_pps (o, &b);
  return h264 ? h264_sps (o, &b) : h265_sps (o, &b);
}

gboolean
lb_nal_order_add_config (LbNalOrder * order, const guint8 * config, gsize len)
{
  g_return_val_if_fail (order != NULL, FALSE);

  gboolean h264 = order->codec == LB_NAL_H264;
  gsize p = h264 ? 6 : 23;
  guint groups = h264 ? 2 : 0;
  if (config == NULL || len < p)
    return FALSE;
  if (!h264)
    groups = config[22];
  for (guint g = 0; g < groups; g++) {
    guint count;
    if (h264 && g == 0) {
      count = config[5] & 0x1f;
    } else if (h264) {
      if (p >= len)
        return FALSE;
      count = config[p++];
    } else {
      if (len - p < 3)
        return FALSE;
      count = ((guint) config[p + 1] << 8) | config[p + 2];
      p += 3;
    }
    for (guint i = 0; i < count; i++) {
      if (len - p < 2)
        return FALSE;
      gsize n = ((gsize) config[p] << 8) | config[p + 1];
      p += 2;
      LbNal info;
      if (n > len - p || !lb_nal_parse (order->codec, config + p, n, &info)
          || !parameter_set (order, config + p, n, info.type))
        return FALSE;
      p += n;
    }
  }
  return TRUE;
}

/* ---- picture order count ---- */

/* PicOrderCntMsb from the previous picture's (8.2.1.1 / 8.3.1) */
static gint64
poc_msb (const LbNalOrder * o, gint64 lsb, guint log2_max_lsb)
{
  gint64 max = G_GINT64_CONSTANT (1) << log2_max_lsb;

  if (lsb < o->prev_lsb && o->prev_lsb - lsb >= max / 2)
    return o->prev_msb + max;
  if (lsb > o->prev_lsb && lsb - o->prev_lsb > max / 2)
    return o->prev_msb - max;
  return o->prev_msb;
}

/* The first slice of an H.264 picture: its POC into *@poc. */
static gboolean
h264_picture (LbNalOrder * o, const guint8 * nal, gsize len, guint type,
    gint64 * poc)
{
  gboolean idr = type == 5, reference = (nal[0] >> 5) & 3;
  Bits b;

  bits_init (&b, nal + 1, len - 1, 64);
  bits_ue (&b);                 /* first_mb_in_slice */
  bits_ue (&b);                 /* slice_type */
  guint pps_id = bits_ue (&b);
  if (b.bad || pps_id >= MAX_PPS || !o->pps[pps_id].valid
      || !o->sps[o->pps[pps_id].sps_id].valid)
    return FALSE;
  const Sps *s = &o->sps[o->pps[pps_id].sps_id];
  if (s->separate_colour_plane)
    bits_skip (&b, 2);
  bits_skip (&b, s->log2_max_frame_num);
  if (!s->frame_mbs_only && bits_u (&b, 1))
    return FALSE;               /* a field: not ordered here */
  if (idr)
    bits_ue (&b);               /* idr_pic_id */
  gint64 lsb = s->poc_type == 0 ? bits_u (&b, s->log2_max_poc_lsb) : 0;
  if (b.bad || s->poc_type == 1)
    return FALSE;
  if (idr || !o->started) {
    o->sequence++;
    o->prev_msb = o->prev_lsb = 0;
    o->count = 0;
  }
  if (s->poc_type == 2) {
    *poc = o->count;            /* shown in decode order */
  } else {
    gint64 msb = idr ? 0 : poc_msb (o, lsb, s->log2_max_poc_lsb);
    *poc = msb + lsb;
    if (reference) {
      o->prev_msb = msb;
      o->prev_lsb = lsb;
    }
  }
  o->count++;
  return TRUE;
}

/* The first slice of an H.265 picture: its POC into *@poc. */
static gboolean
h265_picture (LbNalOrder * o, const guint8 * nal, gsize len, guint type,
    gint64 * poc)
{
  guint layer = ((nal[0] & 1) << 5) | (nal[1] >> 3);
  gint temporal_id = (gint) (nal[1] & 7) - 1;
  Bits b;

  if (layer != 0 || temporal_id < 0)
    return FALSE;
  bits_init (&b, nal + 2, len - 2, 64);
  bits_skip (&b, 1);            /* first_slice_segment_in_pic_flag */
  if (type >= 16 && type <= 23)
    bits_skip (&b, 1);          /* no_output_of_prior_pics_flag */
  guint pps_id = bits_ue (&b);
  if (b.bad || pps_id >= 64 || !o->pps[pps_id].valid
      || !o->sps[o->pps[pps_id].sps_id].valid)
    return FALSE;
  const Pps *p = &o->pps[pps_id];
  const Sps *s = &o->sps[p->sps_id];
  bits_skip (&b, p->extra_bits);
  bits_ue (&b);                 /* slice_type */
  if (p->output_flag)
    bits_skip (&b, 1);
  if (s->separate_colour_plane)
    bits_skip (&b, 2);
  gboolean idr = type == 19 || type == 20;
  gint64 lsb = idr ? 0 : bits_u (&b, s->log2_max_poc_lsb);
  if (b.bad)
    return FALSE;
  /* IDR, BLA, or a CRA that begins the stream: a new sequence */
  gboolean begins = (type >= 16 && type <= 20) || (type == 21 && !o->started);
  if (begins) {
    o->sequence++;
    o->prev_msb = o->prev_lsb = 0;
  }
  gint64 msb = begins ? 0 : poc_msb (o, lsb, s->log2_max_poc_lsb);
  *poc = msb + lsb;
  /* the next picture derives from the last of TemporalId 0 that is not a
   * RADL, RASL or sub-layer non-reference picture */
  gboolean skipped = (type >= 6 && type <= 9) || (type <= 14 && type % 2 == 0);
  if (temporal_id == 0 && !skipped) {
    o->prev_msb = msb;
    o->prev_lsb = lsb;
  }
  return TRUE;
}

gboolean
lb_nal_order_push (LbNalOrder * order, const guint8 * nal, gsize len,
    const LbNal * info, gint64 * key)
{
  g_return_val_if_fail (order != NULL && info != NULL && key != NULL, FALSE);

  if (nal == NULL || len == 0)
    return FALSE;
  if (!info->vcl)
    return parameter_set (order, nal, len, info->type);
  if (!info->first_slice)
    return TRUE;
  gint64 poc = 0;
  gboolean ok = order->codec == LB_NAL_H264 ?
      h264_picture (order, nal, len, info->type, &poc)
      : h265_picture (order, nal, len, info->type, &poc);
  /* POC is a 32-bit number; beyond, the stream is garbage */
  if (!ok || poc < G_MININT32 || poc > G_MAXINT32)
    return FALSE;
  order->started = TRUE;
  *key = (order->sequence << 34) + (poc + (G_GINT64_CONSTANT (1) << 33));
  return TRUE;
}
