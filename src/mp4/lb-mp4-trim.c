/* lookback — frame-exact trimming of a remuxed MP4 by its edit list
 *
 * Three steps: plan (what the video track's samples say: timescales, the
 * frames to show, the sync samples to keep), write a new moov from the old
 * one (the changed boxes rewritten, the others copied), and put it in the
 * file: in place when it fits the old one's bytes (a free box fills the
 * rest), else in a copy of the file renamed over it.
 */
#include "mp4/lb-mp4-trim.h"
#include "mp4/lb-mp4-box.h"

#include "core/lb-debug.h"
#include "core/lb-error.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

GST_DEBUG_CATEGORY_STATIC (lb_mp4_trim_debug);
#define GST_CAT_DEFAULT lb_mp4_trim_debug

#define FOURCC LB_MP4_FOURCC
#define MAX_MOOV (64 * 1024 * 1024)
#define COPY_BLOCK (1 << 20)

#define MDIA FOURCC ('m', 'd', 'i', 'a')
#define MINF FOURCC ('m', 'i', 'n', 'f')
#define STBL FOURCC ('s', 't', 'b', 'l')

/* What the edit needs to know about the video track. */
typedef struct
{
  const guint8 *trak;           /* the trak box (header) inside the moov */
  guint32 movie_timescale;
  guint32 media_timescale;
  guint64 new_segment_duration; /* movie timescale */
  gint64 new_media_time;        /* media timescale */
  gint64 new_media_duration;    /* the same duration, media timescale */
  GArray *sync;                 /* guint32 1-based sample numbers to list in stss, or NULL
                                 * to leave the sync samples as they are */
} Plan;

static void
plan_clear (Plan * plan)
{
  g_clear_pointer (&plan->sync, g_array_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Plan, plan_clear);

/* The video track's samples, in media time. */
typedef struct
{
  GArray *ct;                   /* gint64: composition time of each, sorted */
  GArray *dt;                   /* gint64: decode time of each, then the end */
  gint64 track_end;             /* the latest composition end */
  gint64 max_duration;
} Samples;

static void
samples_clear (Samples * s)
{
  g_clear_pointer (&s->ct, g_array_unref);
  g_clear_pointer (&s->dt, g_array_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Samples, samples_clear);

static gint
cmp_i64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? -1 : x > y;
}

static gint64
scale (gint64 v, gint64 num, gint64 den)
{
  /* v * num / den, rounded to nearest, without 64-bit overflow for our ranges */
  return (gint64) ((__int128) v * num / den + (((__int128) v * num % den) * 2 >=
          den ? 1 : 0));
}

/* Nearest value of sorted @v (n > 0) to @t; ties go to the earlier. */
static guint
nearest (const gint64 * v, guint n, gint64 t)
{
  guint lo = 0, hi = n;

  while (lo < hi) {             /* first index with v >= t */
    guint mid = (lo + hi) / 2;
    if (v[mid] < t)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == n)
    return n - 1;
  if (lo > 0 && t - v[lo - 1] <= v[lo] - t)
    return lo - 1;
  return lo;
}

/* ---- plan: the video track ---- */

/* A full box's timescale: version 0 at bytes 12-15 of its payload, version
 * 1 at 20-23; 0 when the box is too short for its version. */
static guint32
timescale_of (const LbMp4Box * b)
{
  GstByteReader r;
  guint8 version;
  guint32 flags, timescale = 0;
  lb_mp4_box_reader (b, &r);
  if (lb_mp4_box_full (&r, &version, &flags)
      && gst_byte_reader_set_pos (&r, version == 1 ? 20 : 12))
    gst_byte_reader_get_uint32_be (&r, &timescale);
  return timescale;
}

/* The first trak of @moov whose handler is 'vide'. */
static gboolean
find_video_trak (const guint8 * moov, gsize len, LbMp4Box * trak)
{
  GstByteReader r = GST_BYTE_READER_INIT (moov, len);
  const guint32 hdlr_path[] = { MDIA, FOURCC ('h', 'd', 'l', 'r') };
  LbMp4Box hdlr;

  while (lb_mp4_box_read (&r, trak)) {
    if (trak->type == FOURCC ('t', 'r', 'a', 'k')
        && lb_mp4_box_find_path (trak->payload, trak->payload_size, hdlr_path,
            2, &hdlr)
        && hdlr.payload_size >= 12
        && GST_READ_UINT32_BE (hdlr.payload + 8) == FOURCC ('v', 'i', 'd', 'e'))
      return TRUE;
  }
  return FALSE;
}

/* A table of the video track's stbl, with a reader past its version and
 * flags and @n_entries read. */
static gboolean
stbl_table (const LbMp4Box * trak, guint32 type, GstByteReader * r,
    guint32 * n_entries)
{
  const guint32 path[] = { MDIA, MINF, STBL, type };
  LbMp4Box b;
  if (!lb_mp4_box_find_path (trak->payload, trak->payload_size, path, 4, &b))
    return FALSE;
  lb_mp4_box_reader (&b, r);
  return gst_byte_reader_skip (r, 4)
      && gst_byte_reader_get_uint32_be (r, n_entries);
}

/* How many samples the track holds: stsz's count, which must fit the file
 * (a fixed size) or the table. */
static gboolean
sample_count (const LbMp4Box * trak, gint64 file_size, guint32 * count)
{
  GstByteReader r;
  guint32 fixed;
  if (!stbl_table (trak, FOURCC ('s', 't', 's', 'z'), &r, &fixed)
      || !gst_byte_reader_get_uint32_be (&r, count))
    return FALSE;
  if (fixed == 0)
    return gst_byte_reader_get_remaining (&r) / 4 >= *count;
  return (guint64) fixed **count <= (guint64) file_size;
}

/* Decode times and durations from stts, composition offsets from ctts. */
static gboolean
read_samples (const LbMp4Box * trak, gint64 file_size, Samples * s,
    GError ** error)
{
  GstByteReader r;
  guint32 n, count;
  if (!sample_count (trak, file_size, &count)
      || count > LB_MP4_MAX_TABLE_SAMPLES)
    goto bad_stsz;
  if (!stbl_table (trak, FOURCC ('s', 't', 't', 's'), &r, &n)
      || gst_byte_reader_get_remaining (&r) / 8 < n)
    goto bad_stts;
  s->ct = g_array_sized_new (FALSE, FALSE, sizeof (gint64), count);
  s->dt = g_array_sized_new (FALSE, FALSE, sizeof (gint64), count + 1);
  gint64 dt = 0;
  for (guint32 i = 0; i < n; i++) {
    guint32 c = gst_byte_reader_get_uint32_be_unchecked (&r);
    gint64 delta = gst_byte_reader_get_uint32_be_unchecked (&r);
    if (s->ct->len + (guint64) c > count)
      goto bad_stts;
    s->max_duration = MAX (s->max_duration, c ? delta : 0);
    for (guint32 k = 0; k < c; k++) {
      g_array_append_val (s->ct, dt);
      g_array_append_val (s->dt, dt);
      dt += delta;
    }
  }
  g_array_append_val (s->dt, dt);
  if (s->ct->len == 0) {
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT,
        "the video track has no samples");
    return FALSE;
  }
  /* composition ends: before the offsets, each sample ends at the next
   * one's decode time */
  return TRUE;

bad_stsz:
  g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT,
      "stsz is missing, cut short or larger than the file");
  return FALSE;
bad_stts:
  g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT,
      "stts is missing, cut short or lists more samples than stsz");
  return FALSE;
}

/* Composition offsets (version 1 is signed; version 0 values are small),
 * then the presentation end of the whole track; sorts the composition
 * times. */
static gboolean
read_offsets (const LbMp4Box * trak, Samples * s, GError ** error)
{
  GstByteReader r;
  guint32 m;
  gint64 *ct = (gint64 *) s->ct->data;
  const gint64 *dt = (const gint64 *) s->dt->data;
  guint idx = 0;

  if (stbl_table (trak, FOURCC ('c', 't', 't', 's'), &r, &m)) {
    if (gst_byte_reader_get_remaining (&r) / 8 < m) {
      g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT, "ctts is cut short");
      return FALSE;
    }
    for (guint32 i = 0; i < m; i++) {
      guint32 count = gst_byte_reader_get_uint32_be_unchecked (&r);
      gint64 off = (gint32) gst_byte_reader_get_uint32_be_unchecked (&r);
      for (guint32 k = 0; k < count && idx < s->ct->len; k++, idx++)
        ct[idx] += off;
    }
  }
  s->track_end = G_MININT64;
  for (guint i = 0; i < s->ct->len; i++)
    s->track_end = MAX (s->track_end, ct[i] + (dt[i + 1] - dt[i]));
  g_array_sort (s->ct, cmp_i64);
  return TRUE;
}

/* Where frame @k (of the sorted composition times) stops being shown: the
 * next frame's start, or when frames are missing after it (a remux stops
 * reading at the requested end, and with B-frames a frame shown before the
 * end can be decoded after it) one frame duration after its start. */
static gint64
frame_end (const Samples * s, guint k)
{
  const gint64 *v = (const gint64 *) s->ct->data;
  guint nv = s->ct->len;
  if (k + 1 == nv)
    return s->track_end;
  return MIN (v[k + 1], v[k] + MAX (s->max_duration, 1));
}

/* The frames shown: from the one nearest @skip_ns after the earliest to
 * the frame end nearest @duration_ns later (the earlier on a tie). */
static gboolean
choose_frames (Plan * plan, const Samples * s, gint64 skip_ns,
    gint64 duration_ns, LbMp4Trim * result, GError ** error)
{
  const gint64 *v = (const gint64 *) s->ct->data;
  guint nv = s->ct->len, ts = plan->media_timescale;
  guint first = nearest (v, nv, v[0] + scale (MAX (skip_ns, 0), ts,
          1000000000));
  gint64 start = v[first], end = s->track_end;
  guint last = nv;              /* one past the last frame shown */

  if (duration_ns > 0) {
    gint64 want = v[0] + scale (MAX (skip_ns, 0) + duration_ns, ts, 1000000000);
    for (guint k = first; k < nv; k++) {
      gint64 e = frame_end (s, k);
      if (k > first && ABS (e - want) >= ABS (end - want))
        break;                  /* ends grow: the nearest is behind */
      end = e;
      last = k + 1;
    }
  }
  /* Same check, during the pre-roll: qtdemux's position is then the edit's
   * media start, so a pre-roll as long as the clip ends it at once. */
  if (start - v[0] >= end - start) {
    g_set_error (error, LB_ERROR, LB_ERROR_INVALID,
        "the pre-roll (%" G_GINT64_FORMAT
        " of %u) is not shorter than the clip (%" G_GINT64_FORMAT ")",
        start - v[0], ts, end - start);
    return FALSE;
  }
  plan->new_media_time = start;
  plan->new_media_duration = end - start;
  /* rounded down: a sliver of the next frame would make players show it */
  plan->new_segment_duration =
      (guint64) ((__int128) (end - start) * plan->movie_timescale / ts);
  if (result) {
    result->skip_ns = scale (start - v[0], 1000000000, ts);
    result->duration_ns = scale (end - start, 1000000000, ts);
    result->media_start_ns = scale (start, 1000000000, ts);
    result->frames = last - first;
    result->samples = nv;
  }
  GST_DEBUG ("%u samples, timescale %u: media time %" G_GINT64_FORMAT
      " for %" G_GINT64_FORMAT " (frames %u..%u)", nv, ts, start, end - start,
      first, last);
  return TRUE;
}

/* qtdemux (1.22, pull mode) ends the movie after a keyframe once the next
 * sample's *media* time reaches the movie's duration (it adds the edit's
 * media start to a movie-time position), which would cut the last part of
 * a clip whose pre-roll is hidden.  Keyframes that late are no longer
 * listed as sync samples: a seek into the clip's last partial GOP then
 * decodes from the keyframe before, nothing else changes. */
static gboolean
plan_sync (Plan * plan, const LbMp4Box * trak, const Samples * s,
    GError ** error)
{
  const gint64 *dt = (const gint64 *) s->dt->data;
  guint n = s->ct->len;
  gint64 movie_end = plan->new_media_duration;
  gint64 slack = 2 * s->max_duration + MAX (s->track_end - dt[n], 0);
  GstByteReader r;
  guint32 nsync = n;
  gboolean has_stss = stbl_table (trak, FOURCC ('s', 't', 's', 's'), &r,
      &nsync), changed = FALSE;

  if (has_stss && gst_byte_reader_get_remaining (&r) / 4 < nsync) {
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT, "stss is cut short");
    return FALSE;
  }
  plan->sync = g_array_new (FALSE, FALSE, sizeof (guint32));
  for (guint32 i = 0; i < nsync; i++) {
    guint32 number = has_stss ? gst_byte_reader_get_uint32_be_unchecked (&r)
        : i + 1;
    /* decode time of sample number-1 */
    gint64 sample_dt = number >= 1 && number <= n ? dt[number - 1] : 0;
    if (number > 1 && sample_dt >= movie_end - slack) {
      changed = TRUE;
      continue;
    }
    g_array_append_val (plan->sync, number);
  }
  if (!changed)
    g_clear_pointer (&plan->sync, g_array_unref);
  return TRUE;
}

static gboolean
plan_track (const guint8 * moov, gsize moov_len, gint64 file_size,
    gint64 skip_ns, gint64 duration_ns, Plan * plan, LbMp4Trim * result,
    GError ** error)
{
  const guint32 mdhd_path[] = { MDIA, FOURCC ('m', 'd', 'h', 'd') };
  g_auto (Samples) samples = { 0 };
  LbMp4Box mvhd, mdhd, trak;

  if (!lb_mp4_box_find (moov, moov_len, FOURCC ('m', 'v', 'h', 'd'), &mvhd)
      || (plan->movie_timescale = timescale_of (&mvhd)) == 0) {
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT,
        "no usable mvhd in the moov");
    return FALSE;
  }
  if (!find_video_trak (moov, moov_len, &trak)) {
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT,
        "no video track in the moov");
    return FALSE;
  }
  plan->trak = trak.data;
  if (!lb_mp4_box_find_path (trak.payload, trak.payload_size, mdhd_path, 2,
          &mdhd) || (plan->media_timescale = timescale_of (&mdhd)) == 0) {
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT,
        "the video track has no usable mdhd");
    return FALSE;
  }
  return read_samples (&trak, file_size, &samples, error)
      && read_offsets (&trak, &samples, error)
      && choose_frames (plan, &samples, skip_ns, duration_ns, result, error)
      && plan_sync (plan, &trak, &samples, error);
}

/* ---- write: the new moov ---- */

typedef struct
{
  const Plan *plan;
  gint64 moov_offset;           /* chunk offsets beyond it move */
  gint64 delta;                 /* by this much */
  gboolean overflow;
  gboolean drop_udta;
} Writer;

static void
write_edts (Writer * w, GstByteWriter * out)
{
  gboolean v1 = w->plan->new_segment_duration > G_MAXUINT32 ||
      w->plan->new_media_time > G_MAXINT32;
  guint edts = lb_mp4_box_begin (out, FOURCC ('e', 'd', 't', 's'));
  guint elst = lb_mp4_box_begin (out, FOURCC ('e', 'l', 's', 't'));
  gst_byte_writer_put_uint32_be (out, v1 ? 0x01000000 : 0);
  gst_byte_writer_put_uint32_be (out, 1);
  if (v1) {
    gst_byte_writer_put_uint64_be (out, w->plan->new_segment_duration);
    gst_byte_writer_put_uint64_be (out, (guint64) w->plan->new_media_time);
  } else {
    gst_byte_writer_put_uint32_be (out,
        (guint32) w->plan->new_segment_duration);
    gst_byte_writer_put_uint32_be (out, (guint32) w->plan->new_media_time);
  }
  gst_byte_writer_put_uint32_be (out, 0x00010000);      /* rate 1.0 */
  lb_mp4_box_end (out, elst);
  lb_mp4_box_end (out, edts);
}

static void
write_stss (Writer * w, GstByteWriter * out)
{
  const GArray *sync = w->plan->sync;
  guint at = lb_mp4_box_begin (out, FOURCC ('s', 't', 's', 's'));
  gst_byte_writer_put_uint32_be (out, 0);
  gst_byte_writer_put_uint32_be (out, sync->len);
  for (guint i = 0; i < sync->len; i++)
    gst_byte_writer_put_uint32_be (out, g_array_index (sync, guint32, i));
  lb_mp4_box_end (out, at);
}

/* The duration of mvhd (@v0 / @v1: its offset in a version 0 / 1 payload),
 * copied from @b at @at of @out, set to the new one. */
static void
patch_duration (Writer * w, GstByteWriter * out, const LbMp4Box * b, guint at,
    gsize v0, gsize v1)
{
  guint payload = at + (b->payload - b->data);
  if (b->payload_size >= 1 && b->payload[0] == 1) {
    if (b->payload_size >= v1 + 8)
      lb_mp4_patch64 (out, payload + v1, w->plan->new_segment_duration);
  } else if (b->payload_size >= v0 + 4) {
    lb_mp4_patch32 (out, payload + v0,
        (guint32) MIN (w->plan->new_segment_duration, G_MAXUINT32));
  }
}

/* The chunk offsets of stco / co64 (copied from @b at @at of @out) past the
 * moov, moved by the moov's change of size. */
static void
patch_chunk_offsets (Writer * w, GstByteWriter * out, const LbMp4Box * b,
    guint at)
{
  gboolean wide = b->type == FOURCC ('c', 'o', '6', '4');
  gsize entry = wide ? 8 : 4;
  guint payload = at + (b->payload - b->data);
  guint32 n = b->payload_size >= 8 ? GST_READ_UINT32_BE (b->payload + 4) : 0;
  if (n > (b->payload_size - 8) / entry) {
    w->overflow = TRUE;
    return;
  }
  for (guint32 i = 0; i < n && w->delta != 0; i++) {
    const guint8 *e = b->payload + 8 + i * entry;
    gint64 off = wide ? (gint64) GST_READ_UINT64_BE (e)
        : (gint64) GST_READ_UINT32_BE (e);
    if (off < w->moov_offset)
      continue;
    off += w->delta;
    if (wide)
      lb_mp4_patch64 (out, payload + 8 + i * entry, off);
    else if (off > G_MAXUINT32 || off < 0)
      w->overflow = TRUE;
    else
      lb_mp4_patch32 (out, payload + 8 + i * entry, (guint32) off);
  }
}

static void
write_leaf (Writer * w, const LbMp4Box * b, GstByteWriter * out,
    gboolean in_video_trak)
{
  guint at = gst_byte_writer_get_pos (out);

  if (in_video_trak && w->plan->sync && b->type == FOURCC ('s', 't', 's', 's')) {
    write_stss (w, out);
    return;
  }
  gst_byte_writer_put_data (out, b->data, b->size);
  if (b->type == FOURCC ('m', 'v', 'h', 'd'))
    patch_duration (w, out, b, at, 16, 24);
  else if (in_video_trak && b->type == FOURCC ('t', 'k', 'h', 'd'))
    patch_duration (w, out, b, at, 20, 28);
  else if (b->type == FOURCC ('s', 't', 'c', 'o')
      || b->type == FOURCC ('c', 'o', '6', '4'))
    patch_chunk_offsets (w, out, b, at);
}

static gboolean
is_container (guint32 type)
{
  return type == FOURCC ('t', 'r', 'a', 'k') || type == MDIA || type == MINF
      || type == STBL;
}

static void
write_boxes (Writer * w, const guint8 * p, gsize len, GstByteWriter * out,
    gboolean in_video_trak)
{
  GstByteReader r = GST_BYTE_READER_INIT (p, len);
  LbMp4Box b, old;

  while (lb_mp4_box_read (&r, &b)) {
    gboolean video = in_video_trak || b.data == w->plan->trak;
    if ((in_video_trak && b.type == FOURCC ('e', 'd', 't', 's')) ||
        (w->drop_udta && b.type == FOURCC ('u', 'd', 't', 'a')))
      continue;                 /* edts: replaced by the one after tkhd */
    if (!is_container (b.type)) {
      write_leaf (w, &b, out, video);
      if (in_video_trak && b.type == FOURCC ('t', 'k', 'h', 'd'))
        write_edts (w, out);
      continue;
    }
    guint at = lb_mp4_box_begin (out, b.type);
    write_boxes (w, b.payload, b.payload_size, out, video);
    if (video && w->plan->sync && b.type == STBL
        && !lb_mp4_box_find (b.payload, b.payload_size,
            FOURCC ('s', 't', 's', 's'), &old))
      write_stss (w, out);
    lb_mp4_box_end (out, at);
  }
}

static GBytes *
build_moov (Writer * w, const LbMp4Box * moov)
{
  GstByteWriter out;
  gst_byte_writer_init_with_size (&out, moov->size + 64, FALSE);
  guint at = lb_mp4_box_begin (&out, FOURCC ('m', 'o', 'o', 'v'));
  write_boxes (w, moov->payload, moov->payload_size, &out, FALSE);
  lb_mp4_box_end (&out, at);
  gsize size = gst_byte_writer_get_pos (&out);
  return g_bytes_new_take (gst_byte_writer_reset_and_get_data (&out), size);
}

/* The new moov, as large as the old one when it fits in it (a free box
 * fills the rest, so the media data is not copied), else with the chunk
 * offsets after it moved (w->delta). */
static GBytes *
fit_moov (Writer * w, Plan * plan, const LbMp4Box * moov)
{
  g_autoptr (GBytes) m = build_moov (w, moov);
  gsize size = g_bytes_get_size (m);

  /* Entries are 4 bytes and a box at least 8: when 4 bytes are left, one
   * more late keyframe goes, or the muxer's udta tags. */
  if (size == moov->size - 4) {
    if (plan->sync && plan->sync->len > 1)
      g_array_set_size (plan->sync, plan->sync->len - 1);
    else
      w->drop_udta = TRUE;      /* muxer tags only */
    g_bytes_unref (m);
    m = build_moov (w, moov);
    size = g_bytes_get_size (m);
  }
  if (size + 8 <= moov->size) {
    GstByteWriter out;
    gst_byte_writer_init_with_size (&out, moov->size, FALSE);
    gst_byte_writer_put_data (&out, g_bytes_get_data (m, NULL), size);
    guint at = lb_mp4_box_begin (&out, FOURCC ('f', 'r', 'e', 'e'));
    gst_byte_writer_fill (&out, 0, moov->size - size - 8);
    lb_mp4_box_end (&out, at);
    lb_mp4_patch32 (&out, 0, moov->size);
    return g_bytes_new_take (gst_byte_writer_reset_and_get_data (&out),
        moov->size);
  }
  if (size != moov->size) {
    w->delta = (gint64) size - (gint64) moov->size;
    g_bytes_unref (m);
    m = build_moov (w, moov);
  }
  return g_steal_pointer (&m);
}

/* ---- the file ---- */

static gboolean
set_io_error (GError ** error, const gchar * what, const gchar * path)
{
  int e = errno;
  g_set_error (error, LB_ERROR, LB_ERROR_IO, "%s %s: %s", what, path,
      g_strerror (e));
  return FALSE;
}

/* The moov of the file @fd: its box and its bytes (header first). */
static guint8 *
load_moov (gint fd, gint64 file_size, LbMp4FileBox * box, GError ** error)
{
  gint64 pos = 0;
  GError *local = NULL;

  for (;;) {
    if (file_size - pos < 8) {
      g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT, "no usable moov");
      return NULL;
    }
    if (!lb_mp4_file_box (fd, pos, file_size, box, &local)) {
      if (local->code == LB_ERROR_NOT_YET)
        local->code = LB_ERROR_CORRUPT; /* a finished file: cut short */
      g_propagate_error (error, local);
      return NULL;
    }
    if (box->size == 0)
      box->size = file_size - pos;
    if (!lb_mp4_file_box_is_whole (box, file_size)) {
      g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT,
          "box at %" G_GINT64_FORMAT " is cut short", pos);
      return NULL;
    }
    if (box->type == FOURCC ('m', 'o', 'o', 'v'))
      break;
    pos += box->size;
  }
  if (box->size > MAX_MOOV) {
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT, "no usable moov");
    return NULL;
  }
  g_autofree guint8 *moov = g_malloc (box->size);
  if (!lb_mp4_pread (fd, moov, box->size, pos, error))
    return NULL;
  return g_steal_pointer (&moov);
}

/* Copies [from, to) of @in to the end of @out. */
static gboolean
copy_range (int in, int out, gint64 from, gint64 to)
{
  g_autofree guint8 *buf = g_malloc (COPY_BLOCK);
  gint64 dst = lseek (out, 0, SEEK_END);

  while (from < to) {
    gsize n = MIN ((gint64) COPY_BLOCK, to - from);
    if (!lb_mp4_pread (in, buf, n, from, NULL)
        || !lb_mp4_pwrite (out, buf, n, dst, NULL))
      return FALSE;
    from += n;
    dst += n;
  }
  return TRUE;
}

/* A moov of another size: the file is copied around it to @path.trim,
 * which then replaces @path. */
static gboolean
write_copy (gint fd, const gchar * path, const LbMp4FileBox * old,
    gint64 file_size, GBytes * moov, GError ** error)
{
  g_autofree gchar *tmp = g_strconcat (path, ".trim", NULL);
  gsize len;
  const guint8 *data = g_bytes_get_data (moov, &len);
  int tfd = g_open (tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (tfd < 0)
    return set_io_error (error, "cannot create", tmp);
  gboolean ok = copy_range (fd, tfd, 0, old->pos)
      && lb_mp4_pwrite (tfd, data, len, old->pos, NULL)
      && copy_range (fd, tfd, old->pos + old->size, file_size)
      && fdatasync (tfd) == 0;
  if (!ok)
    set_io_error (error, "cannot write", tmp);
  close (tfd);
  if (ok && g_rename (tmp, path) < 0)
    ok = set_io_error (error, "cannot rename to", path);
  if (!ok)
    g_unlink (tmp);
  return ok;
}

static gboolean
trim_fd (gint fd, const gchar * path, gint64 skip_ns, gint64 duration_ns,
    LbMp4Trim * out, GError ** error)
{
  gint64 file_size;
  LbMp4FileBox box;
  g_auto (Plan) plan = { 0 };
  gboolean ok;

  if (!lb_mp4_file_size (fd, &file_size, error))
    return FALSE;
  g_autofree guint8 *data = load_moov (fd, file_size, &box, error);
  GstByteReader r = GST_BYTE_READER_INIT (data, data ? box.size : 0);
  LbMp4Box moov;
  if (data == NULL)
    return FALSE;
  if (!lb_mp4_box_read (&r, &moov)) {
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT, "bad moov");
    return FALSE;
  }
  if (!plan_track (moov.payload, moov.payload_size, file_size, skip_ns,
          duration_ns, &plan, out, error))
    return FALSE;
  Writer w = {.plan = &plan,.moov_offset = box.pos + box.size };
  g_autoptr (GBytes) fitted = fit_moov (&w, &plan, &moov);
  if (w.overflow) {
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT, "chunk offsets do not fit");
    return FALSE;
  }
  if (w.delta == 0) {
    gsize len;
    const guint8 *bytes = g_bytes_get_data (fitted, &len);
    ok = (lb_mp4_pwrite (fd, bytes, len, box.pos, NULL) && fdatasync (fd) == 0)
        || set_io_error (error, "cannot write", path);
  } else {
    ok = write_copy (fd, path, &box, file_size, fitted, error);
  }
  if (ok)
    GST_INFO ("%s: edit list moved by %+" G_GINT64_FORMAT " bytes", path,
        w.delta);
  return ok;
}

gboolean
lb_mp4_trim (const gchar * path, gint64 skip_ns, gint64 duration_ns,
    LbMp4Trim * out, GError ** error)
{
  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  LB_DEBUG_INIT (lb_mp4_trim_debug, "lookback-mp4-trim",
      "edit lists of remuxed clips");
  int fd = g_open (path, O_RDWR | O_CLOEXEC, 0);
  if (fd < 0)
    return set_io_error (error, "cannot open", path);
  gboolean ok = trim_fd (fd, path, skip_ns, duration_ns, out, error);
  if (!ok && error && *error && (*error)->code == LB_ERROR_CORRUPT)
    g_prefix_error (error, "%s: ", path);
  close (fd);
  return ok;
}
