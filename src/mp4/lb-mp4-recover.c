/* lookback — crash recovery of a fragmented MP4's trailing mdat
 *
 * See lb_mp4_recover_tail() in lb-mp4.h.  The steps, each in its own
 * function: read the complete fragments (their last samples give the
 * timing), find the moof-less mdat after them, check that its samples can
 * be described (H.264 or H.265, one track, a frame duration: that of the
 * last fragment whose samples have one), split its bytes into access
 * units, give them their order of display when the stream has B-frames,
 * then cut the torn bytes, close the mdat and append the moof.  A step that finds nothing to do, or a reason not to, ends the
 * recovery with the file as it was.
 */
#include "mp4/lb-mp4.h"
#include "mp4/lb-mp4-box.h"
#include "mp4/lb-nal.h"
#include "core/lb-debug.h"
#include "core/lb-error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

GST_DEBUG_CATEGORY_STATIC (lb_mp4_recover_debug);
#define GST_CAT_DEFAULT lb_mp4_recover_debug

#define FOURCC LB_MP4_FOURCC
#define MAX_TAIL (256 * 1024 * 1024)

typedef struct
{
  gsize start, end;             /* bytes in the mdat payload */
  guint vcl;                    /* slices */
  gboolean keyframe;
  gboolean has_key;             /* key is set (B-frames only) */
  gint64 key;                   /* place in the order of display */
  gint64 cto;                   /* composition offset, ticks */
} AccessUnit;

typedef struct
{
  gint fd;
  gint64 file_size;
  LbMp4Init *init;
  /* the complete fragments */
  guint fragments;
  gint64 cursor;                /* where they end */
  gboolean cto;                 /* composition offsets (B-frames) */
  gint64 end_ns;                /* the latest presentation end of their samples */
  LbMp4Sample last;             /* the last sample, when have_last */
  gboolean have_last;
  GArray *last_samples;         /* LbMp4Sample of the last fragment with any */
  GArray *timed_samples;        /* ... of the last one with a non-zero duration */
  /* the trailing mdat */
  LbMp4FileBox mdat;
  gint64 payload, payload_end;
  /* what describes its samples */
  LbNalCodec codec;
  guint32 duration;             /* ticks per frame */
  guint64 decode_time;          /* of its first sample */
  guint64 presentation_time;    /* of the first shown (B-frames only) */
  guint nal_len;
  /* B-frames: the order of display of the AUs */
  LbNalOrder *order;            /* picture order counts, from the last
                                 * complete fragment on */
  gint64 step;                  /* order keys from one frame shown to the next */
  gint64 last_key;              /* of the last frame shown before the tail */
  GArray *aus;                  /* AccessUnit */
  gchar *note;                  /* why nothing is recovered, when it is refused */
} Tail;

/* How a step ends: on to the next, or the recovery is over (nothing to do,
 * or refused: see Tail.note), or it failed (I/O). */
typedef enum
{
  STEP_ON,
  STEP_OVER,
  STEP_FAILED,
} Step;

static Step
refuse (Tail * t, const gchar * format, ...)
G_GNUC_PRINTF (2, 3);

     static Step refuse (Tail * t, const gchar * format, ...)
{
  va_list args;
  va_start (args, format);
  g_free (t->note);
  t->note = g_strdup_vprintf (format, args);
  va_end (args);
  return STEP_OVER;
}

/* An error of a read: I/O fails the recovery, anything else is @over. */
static Step
read_failed (GError * local, Step over, GError ** error)
{
  if (local->code == LB_ERROR_IO) {
    g_propagate_error (error, local);
    return STEP_FAILED;
  }
  g_error_free (local);
  return over;
}

/* ---- the complete fragments ---- */

static void
note_fragment (Tail * t, const LbMp4Fragment * f)
{
  t->fragments++;
  t->cursor = f->next_offset;
  if (f->samples->len == 0)
    return;
  g_clear_pointer (&t->last_samples, g_array_unref);
  t->last_samples = g_array_ref (f->samples);
  gboolean timed = FALSE;
  for (guint i = 0; i < f->samples->len; i++) {
    const LbMp4Sample *s = &g_array_index (f->samples, LbMp4Sample, i);
    t->cto |= s->pts_ns != s->dts_ns;
    t->end_ns = MAX (t->end_ns, s->pts_ns + s->duration_ns);
    timed |= s->duration_ns > 0;
  }
  if (timed) {
    g_clear_pointer (&t->timed_samples, g_array_unref);
    t->timed_samples = g_array_ref (f->samples);
  }
  t->last = g_array_index (f->samples, LbMp4Sample, f->samples->len - 1);
  t->have_last = TRUE;
}

static Step
read_fragments (Tail * t, GError ** error)
{
  GError *local = NULL;
  if (!lb_mp4_read_init (t->fd, &t->init, &local))
    return read_failed (local, STEP_OVER, error);       /* no moov: nothing describes the samples */
  if (!t->init->fragmented)
    return STEP_OVER;           /* finalised: complete */
  if (!lb_mp4_file_size (t->fd, &t->file_size, error))
    return STEP_FAILED;
  t->cursor = lb_mp4_first_offset (t->init);
  for (;;) {
    g_autoptr (LbMp4Fragment) f = NULL;
    if (!lb_mp4_read_fragment (t->fd, t->init, t->cursor, t->file_size, &f,
            &local)) {
      if (local->code == LB_ERROR_NOT_YET) {
        g_clear_error (&local);
        return STEP_ON;
      }
      if (local->code == LB_ERROR_IO) {
        g_propagate_error (error, local);
        return STEP_FAILED;
      }
      refuse (t, "%s", local->message);
      g_clear_error (&local);
      return STEP_OVER;
    }
    if (f == NULL)
      return STEP_OVER;         /* finalised since */
    note_fragment (t, f);
  }
}

/* ---- the trailing mdat ---- */

/* What follows the last complete fragment: padding, then an mdat. */
static Step
find_mdat (Tail * t, GError ** error)
{
  gint64 pos = t->cursor;
  GError *local = NULL;
  for (;;) {
    if (!lb_mp4_file_box (t->fd, pos, t->file_size, &t->mdat, &local))
      return read_failed (local, STEP_OVER, error);     /* nothing, or a torn header */
    if (t->mdat.type == FOURCC ('m', 'd', 'a', 't'))
      break;
    if (!lb_mp4_file_box_is_whole (&t->mdat, t->file_size) ||
        (t->mdat.type != FOURCC ('f', 'r', 'e', 'e')
            && t->mdat.type != FOURCC ('s', 'k', 'i', 'p')))
      return refuse (t, "no moof-less mdat at %" G_GINT64_FORMAT, pos);
    pos += t->mdat.size;
  }
  t->payload = pos + t->mdat.header_size;
  t->payload_end = lb_mp4_file_box_is_whole (&t->mdat, t->file_size) ?
      pos + t->mdat.size : t->file_size;
  return t->payload_end > t->payload ? STEP_ON : STEP_OVER;
}

static gint
cmp_gint64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? -1 : x > y;
}

static guint64
ns_to_ticks (const Tail * t, gint64 ns)
{
  return gst_util_uint64_scale_round (MAX (ns, 0), t->init->timescale,
      GST_SECOND);
}

/* The frame duration of the tail, in ticks (0: none): the median of the
 * non-zero sample durations of the last fragment that has any (a fragment
 * of one sample of duration 0 comes with cameras whose keyframes are
 * sliced), else the defaults of the fragments (trex), else the frame rate
 * read from the moov. */
static guint64
frame_duration (const Tail * t)
{
  if (t->timed_samples) {
    g_autoptr (GArray) durations = g_array_new (FALSE, FALSE, sizeof (gint64));
    for (guint i = 0; i < t->timed_samples->len; i++) {
      gint64 d = g_array_index (t->timed_samples, LbMp4Sample, i).duration_ns;
      if (d > 0)
        g_array_append_val (durations, d);
    }
    g_array_sort (durations, cmp_gint64);
    return ns_to_ticks (t, g_array_index (durations, gint64,
            durations->len / 2));
  }
  if (t->init->trex_duration > 0)
    return t->init->trex_duration;
  if (t->init->fps_n > 0 && t->init->fps_d > 0)
    return gst_util_uint64_scale_round (t->init->timescale, t->init->fps_d,
        t->init->fps_n);
  return 0;
}

/* Whether the earlier fragments tell how to describe the tail's samples:
 * sets the frame duration, the first decode (and presentation) time and
 * the NAL length size; with B-frames, the parameter sets that tell their
 * order of display. */
static Step
check_recoverable (Tail * t)
{
  LbMp4Init *init = t->init;
  if (!lb_nal_codec_from_name (init->codec, &t->codec)
      || init->codec_data == NULL)
    return refuse (t, "%s is neither H.264 nor H.265", init->codec);
  if (init->tracks != 1)
    return refuse (t, "more than one track");
  if (!t->have_last || t->last.dts_ns < 0)
    return refuse (t, "no earlier sample to take the frame duration from");
  guint64 dur_ticks = frame_duration (t);
  if (dur_ticks == 0 || dur_ticks > G_MAXUINT32)
    return refuse (t, "no usable frame duration");
  t->duration = (guint32) dur_ticks;
  t->decode_time = ns_to_ticks (t, t->last.dts_ns)
      + ns_to_ticks (t, t->last.duration_ns);
  t->presentation_time = ns_to_ticks (t, t->end_ns);
  gsize cd_len;
  const guint8 *cd = g_bytes_get_data (init->codec_data, &cd_len);
  if (!lb_nal_config_length_size (t->codec, cd, cd_len, &t->nal_len))
    return refuse (t, "bad codec data (%s)", init->sample_entry);
  if (t->cto) {
    /* B-frames: the frames' order of display is in their slice headers */
    t->order = lb_nal_order_new (t->codec);
    if (!lb_nal_order_add_config (t->order, cd, cd_len))
      return refuse (t, "the parameter sets of the codec data do not parse");
  }
  if (t->payload_end - t->payload > MAX_TAIL)
    return refuse (t, "trailing mdat too large");
  return STEP_ON;
}

/* ---- its access units ---- */

/* Splits @len bytes of length-prefixed NAL units into access units; with
 * t->order, each gets its place in the order of display.  Only units whose
 * end is known (a following unit starts) go to t->aus; the last one, whose
 * NAL units are complete but which may miss slices, is returned in @last
 * (vcl 0 when there is none).  Garbage, a torn NAL unit or a picture whose
 * order cannot be told ends the split. */
static void
split_access_units (Tail * t, const guint8 * d, gsize len, AccessUnit * last)
{
  AccessUnit cur = { 0 };
  gboolean open = FALSE;
  gsize p = 0;
  guint nal_len = t->nal_len;
  while (p + nal_len < len) {
    guint32 n = 0;
    for (guint i = 0; i < nal_len; i++)
      n = (n << 8) | d[p + i];
    const guint8 *nal = d + p + nal_len;
    LbNal info;
    if (n == 0 || n > len - p - nal_len || !lb_nal_parse (t->codec, nal, n,
            &info))
      break;                    /* torn (or garbage) */
    if (open && cur.vcl > 0 && info.starts_access_unit) {
      g_array_append_val (t->aus, cur);
      open = FALSE;
    }
    if (!open) {
      memset (&cur, 0, sizeof (cur));
      cur.start = p;
      open = TRUE;
    }
    if (t->order && !lb_nal_order_push (t->order, nal, n, &info, &cur.key)) {
      open = FALSE;             /* this picture cannot be placed */
      break;
    }
    if (info.vcl) {
      cur.vcl++;
      cur.keyframe |= info.keyframe;
      cur.has_key |= info.first_slice;
    }
    p += nal_len + n;
    cur.end = p;
  }
  memset (last, 0, sizeof (*last));
  if (open && cur.vcl > 0)
    *last = cur;
}

static Step
split_tail (Tail * t, GError ** error)
{
  gsize len = t->payload_end - t->payload;
  g_autofree guint8 *data = g_malloc (len);
  if (!lb_mp4_pread (t->fd, data, len, t->payload, error))
    return STEP_FAILED;
  AccessUnit tail;
  split_access_units (t, data, len, &tail);
  /* The last access unit counts when it has as many slices as the others
   * (a picture cut between two slices does not). */
  guint min_vcl = G_MAXUINT;
  for (guint i = 0; i < t->aus->len; i++)
    min_vcl = MIN (min_vcl, g_array_index (t->aus, AccessUnit, i).vcl);
  if (tail.vcl > 0 && (t->aus->len == 0 || tail.vcl >= min_vcl))
    g_array_append_val (t->aus, tail);
  if (t->aus->len == 0)
    return refuse (t, "no complete access unit in the trailing mdat");
  return STEP_ON;
}

/* ---- their order of display (B-frames) ---- */

/* Feeds the NAL units of the access unit @d (@len bytes) to t->order: its
 * order key into *@key.  FALSE when they do not parse. */
static gboolean
push_access_unit (Tail * t, const guint8 * d, gsize len, gint64 * key)
{
  gboolean keyed = FALSE;
  gsize p = 0;
  while (p + t->nal_len < len) {
    guint32 n = 0;
    for (guint i = 0; i < t->nal_len; i++)
      n = (n << 8) | d[p + i];
    const guint8 *nal = d + p + t->nal_len;
    LbNal info;
    if (n == 0 || n > len - p - t->nal_len
        || !lb_nal_parse (t->codec, nal, n, &info)
        || !lb_nal_order_push (t->order, nal, n, &info, key))
      return FALSE;
    keyed |= info.vcl && info.first_slice;
    p += t->nal_len + n;
  }
  return keyed && p == len;
}

typedef struct
{
  gint64 pts_ns;
  gint64 key;
} Shown;

static gint
cmp_shown (gconstpointer a, gconstpointer b)
{
  const Shown *x = a, *y = b;
  return x->pts_ns < y->pts_ns ? -1 : x->pts_ns > y->pts_ns;
}

/* The order keys of the last complete fragment's frames against their
 * presentation times: how far apart the keys of two frames shown one after
 * the other are (t->step), and the key of the last frame shown
 * (t->last_key).  The order state then goes on into the tail. */
static Step
calibrate_order (Tail * t, GError ** error)
{
  const LbMp4Sample *s = (const LbMp4Sample *) t->last_samples->data;
  guint n = t->last_samples->len;
  g_autofree Shown *shown = g_new (Shown, n);
  gint64 frame_ns = gst_util_uint64_scale (t->duration, GST_SECOND,
      t->init->timescale);

  for (guint i = 0; i < n; i++) {
    if (s[i].size > MAX_TAIL)
      return refuse (t, "a frame of the last fragment is too large");
    g_autofree guint8 *d = g_malloc (s[i].size);
    if (!lb_mp4_pread (t->fd, d, s[i].size, s[i].offset, error))
      return STEP_FAILED;
    shown[i].pts_ns = s[i].pts_ns;
    if (!push_access_unit (t, d, s[i].size, &shown[i].key))
      return refuse (t, "the order of display of the last fragment's "
          "frames cannot be told");
  }
  qsort (shown, n, sizeof (Shown), cmp_shown);
  t->step = 0;
  for (guint k = 1; k < n; k++) {
    gint64 dk = shown[k].key - shown[k - 1].key;
    gint64 frames = (shown[k].pts_ns - shown[k - 1].pts_ns + frame_ns / 2) /
        MAX (frame_ns, 1);
    if (frames != 1 || (shown[k].key >> 34) != (shown[k - 1].key >> 34))
      continue;
    if (dk <= 0 || (t->step != 0 && dk != t->step))
      return refuse (t, "irregular picture order counts");
    t->step = dk;
  }
  if (t->step == 0)
    return refuse (t, "no two frames shown one after the other to learn "
        "the picture order count from");
  t->last_key = shown[n - 1].key;
  return STEP_ON;
}

/* The frame slot of @au after the last frame shown before the tail (0: the
 * next one), -1 when its key says nothing sure, or G_MAXINT64 when it
 * begins (or belongs to) a second new sequence. */
static gint64
slot_of (const Tail * t, const AccessUnit * au, gint64 * new_sequence)
{
  gint64 seq = au->key >> 34;
  if (seq == t->last_key >> 34) {
    gint64 d = au->key - t->last_key;
    return d % t->step == 0 ? d / t->step - 1 : -1;
  }
  /* a new sequence (IDR): its POC 0 is shown first, right after */
  if (*new_sequence == 0)
    *new_sequence = seq;
  if (seq != *new_sequence)
    return G_MAXINT64;
  gint64 poc = (au->key & ((G_GINT64_CONSTANT (1) << 34) - 1)) -
      (G_GINT64_CONSTANT (1) << 33);
  return poc % t->step == 0 ? poc / t->step : -1;
}

/* Each access unit's composition offset from its slot in the order of
 * display.  The tail keeps the longest run of access units (in decode
 * order) whose frames are shown one after the other, right after those of
 * the complete fragments, without a hole: a reference frame whose B-frames
 * were lost is left out with them. */
static Step
order_tail (Tail * t)
{
  guint n = t->aus->len;
  AccessUnit *aus = (AccessUnit *) t->aus->data;
  g_autofree gint64 *slot = g_new (gint64, n);
  g_autofree gboolean *taken = g_new0 (gboolean, n);
  gint64 new_sequence = 0, max_slot = -1;
  guint keep = 0;

  for (guint i = 0; i < n; i++) {
    slot[i] = aus[i].has_key ? slot_of (t, &aus[i], &new_sequence) : -1;
    GST_LOG ("access unit %u: key %" G_GINT64_FORMAT ", slot %" G_GINT64_FORMAT,
        i, aus[i].key, slot[i]);
    if (slot[i] == G_MAXINT64)
      break;                    /* the rest belongs to a later sequence */
    if (slot[i] < 0)
      return refuse (t, "a frame that cannot be placed in the order of "
          "display");
    if (slot[i] < n && taken[slot[i]])
      return refuse (t, "two frames with the same picture order count");
    if (slot[i] < n)
      taken[slot[i]] = TRUE;
    /* distinct slots 0.. with the largest i: frames 0..i, no hole */
    max_slot = MAX (max_slot, slot[i]);
    if (max_slot == i)
      keep = i + 1;
  }
  if (keep == 0)
    return refuse (t, "no run of frames shown one after the other");
  g_array_set_size (t->aus, keep);
  for (guint i = 0; i < keep; i++) {
    gint64 cto = (gint64) (t->presentation_time + (guint64) slot[i] *
        t->duration) - (gint64) (t->decode_time + (guint64) i * t->duration);
    if (cto < G_MININT32 || cto > G_MAXINT32)
      return refuse (t, "composition offsets out of range");
    g_array_index (t->aus, AccessUnit, i).cto = cto;
  }
  return STEP_ON;
}

/* ---- the new moof ---- */

/* The trun of the access units of @t: sizes, durations, flags and, with
 * B-frames, composition offsets (version 1, signed, when one is below 0). */
static void
write_trun (const Tail * t, GstByteWriter * w)
{
  const AccessUnit *aus = (const AccessUnit *) t->aus->data;
  gboolean signed_cto = FALSE;
  for (guint i = 0; i < t->aus->len; i++)
    signed_cto |= aus[i].cto < 0;
  guint at = lb_mp4_box_begin (w, FOURCC ('t', 'r', 'u', 'n'));
  /* data-offset, duration, size, flags (+ composition offsets) */
  gst_byte_writer_put_uint32_be (w, (signed_cto ? 0x01000000 : 0) |
      (t->order ? 0x000f01 : 0x000701));
  gst_byte_writer_put_uint32_be (w, t->aus->len);
  gst_byte_writer_put_uint32_be (w, 0); /* data offset from base */
  for (guint i = 0; i < t->aus->len; i++) {
    gst_byte_writer_put_uint32_be (w, t->duration);
    gst_byte_writer_put_uint32_be (w, (guint32) (aus[i].end - aus[i].start));
    /* sync: depends on no other; else depends on others, non-sync */
    gst_byte_writer_put_uint32_be (w, aus[i].keyframe ? 0x02000000 :
        0x01010000);
    if (t->order)
      gst_byte_writer_put_uint32_be (w, (guint32) (gint32) aus[i].cto);
  }
  lb_mp4_box_end (w, at);
}

/* moof (mfhd, traf: tfhd with base-data-offset, tfdt, trun) for the access
 * units of @t. */
static guint8 *
build_moof (const Tail * t, gsize * size)
{
  GstByteWriter w;
  gst_byte_writer_init (&w);
  guint moof = lb_mp4_box_begin (&w, FOURCC ('m', 'o', 'o', 'f'));
  guint at = lb_mp4_box_begin (&w, FOURCC ('m', 'f', 'h', 'd'));
  gst_byte_writer_put_uint32_be (&w, 0);
  gst_byte_writer_put_uint32_be (&w, t->fragments + 1);
  lb_mp4_box_end (&w, at);
  guint traf = lb_mp4_box_begin (&w, FOURCC ('t', 'r', 'a', 'f'));
  at = lb_mp4_box_begin (&w, FOURCC ('t', 'f', 'h', 'd'));
  gst_byte_writer_put_uint32_be (&w, 0x000001); /* base-data-offset-present */
  gst_byte_writer_put_uint32_be (&w, t->init->track_id);
  gst_byte_writer_put_uint64_be (&w, (guint64) t->payload);
  lb_mp4_box_end (&w, at);
  at = lb_mp4_box_begin (&w, FOURCC ('t', 'f', 'd', 't'));
  gst_byte_writer_put_uint32_be (&w, 0x01000000);       /* version 1 */
  gst_byte_writer_put_uint64_be (&w, t->decode_time);
  lb_mp4_box_end (&w, at);
  write_trun (t, &w);
  lb_mp4_box_end (&w, traf);
  lb_mp4_box_end (&w, moof);
  *size = gst_byte_writer_get_pos (&w);
  return gst_byte_writer_reset_and_get_data (&w);
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

/* Each step leaves a file this function can recover again: cut the torn
 * bytes, close the mdat, sync, then append the moof and sync. */
static Step
write_moof (Tail * t, GError ** error)
{
  gint64 pos = t->mdat.pos;
  gint64 new_end = t->payload +
      (gint64) g_array_index (t->aus, AccessUnit, t->aus->len - 1).end;
  gint64 mdat_size = new_end - pos;
  if (t->mdat.header_size == 8 && mdat_size > G_MAXUINT32)
    return refuse (t, "trailing mdat too large for its header");
  if (t->file_size > new_end && ftruncate (t->fd, new_end) != 0) {
    g_set_error (error, LB_ERROR, LB_ERROR_IO, "truncate: %s",
        g_strerror (errno));
    return STEP_FAILED;
  }
  guint8 sz[8];
  gboolean written;
  if (t->mdat.header_size == 8) {
    GST_WRITE_UINT32_BE (sz, (guint32) mdat_size);
    written = lb_mp4_pwrite (t->fd, sz, 4, pos, error);
  } else {
    GST_WRITE_UINT64_BE (sz, (guint64) mdat_size);
    written = lb_mp4_pwrite (t->fd, sz, 8, pos + 8, error);
  }
  if (!written || !sync_or_fail (t->fd, error))
    return STEP_FAILED;
  gsize moof_size;
  g_autofree guint8 *moof = build_moof (t, &moof_size);
  if (!lb_mp4_pwrite (t->fd, moof, moof_size, new_end, error)
      || !sync_or_fail (t->fd, error))
    return STEP_FAILED;
  GST_INFO ("recovered %u samples (%" G_GINT64_FORMAT
      " bytes) of a moof-less mdat at %" G_GINT64_FORMAT "; %" G_GINT64_FORMAT
      " torn bytes cut", t->aus->len, new_end - t->payload, pos,
      t->file_size - new_end);
  return STEP_ON;
}

gboolean
lb_mp4_recover_tail (gint fd, guint * out_samples, gchar ** out_note,
    GError ** error)
{
  g_return_val_if_fail (fd >= 0, FALSE);
  g_return_val_if_fail (out_samples != NULL, FALSE);
  LB_DEBUG_INIT (lb_mp4_recover_debug, "lookback-mp4-recover",
      "crash recovery of MP4 tails");

  Tail t = {.fd = fd };
  t.aus = g_array_new (FALSE, FALSE, sizeof (AccessUnit));
  Step s = read_fragments (&t, error);
  if (s == STEP_ON)
    s = find_mdat (&t, error);
  if (s == STEP_ON)
    s = check_recoverable (&t);
  if (s == STEP_ON && t.order)
    s = calibrate_order (&t, error);
  if (s == STEP_ON)
    s = split_tail (&t, error);
  if (s == STEP_ON && t.order)
    s = order_tail (&t);
  if (s == STEP_ON)
    s = write_moof (&t, error);

  *out_samples = s == STEP_ON ? t.aus->len : 0;
  if (t.note)
    GST_INFO ("no tail recovery: %s", t.note);
  if (out_note)
    *out_note = g_steal_pointer (&t.note);
  g_free (t.note);
  g_clear_pointer (&t.init, lb_mp4_init_free);
  g_clear_pointer (&t.order, lb_nal_order_free);
  g_clear_pointer (&t.last_samples, g_array_unref);
  g_clear_pointer (&t.timed_samples, g_array_unref);
  g_array_unref (t.aus);
  return s != STEP_FAILED;
}
