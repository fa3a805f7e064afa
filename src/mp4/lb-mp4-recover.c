/* lookback — crash recovery of a fragmented MP4's trailing mdat
 *
 * See lb_mp4_recover_tail() in lb-mp4.h.  The steps, each in its own
 * function: read the complete fragments (their last samples give the
 * timing), find the moof-less mdat after them, check that its samples can
 * be described (H.264, one track, no B-frames, a frame duration), split its
 * bytes into access units, then cut the torn bytes, close the mdat and
 * append the moof.  A step that finds nothing to do, or a reason not to,
 * ends the recovery with the file as it was.
 */
#include "mp4/lb-mp4.h"
#include "mp4/lb-mp4-box.h"
#include "core/lb-debug.h"
#include "core/lb-error.h"

#include <errno.h>
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
  gboolean idr;
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
  LbMp4Sample last;             /* the last sample, when have_last */
  gboolean have_last;
  GArray *durations;            /* gint64: the last fragment's sample durations */
  /* the trailing mdat */
  LbMp4FileBox mdat;
  gint64 payload, payload_end;
  /* what describes its samples */
  guint32 duration;             /* ticks per frame */
  guint64 decode_time;          /* of its first sample */
  guint nal_len;
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
  g_array_set_size (t->durations, 0);
  for (guint i = 0; i < f->samples->len; i++) {
    const LbMp4Sample *s = &g_array_index (f->samples, LbMp4Sample, i);
    t->cto |= s->pts_ns != s->dts_ns;
    g_array_append_val (t->durations, s->duration_ns);
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

/* Whether the earlier fragments tell how to describe the tail's samples:
 * sets the frame duration, the first decode time and the NAL length size. */
static Step
check_recoverable (Tail * t)
{
  LbMp4Init *init = t->init;
  if (g_strcmp0 (init->codec, "h264") != 0 || init->codec_data == NULL)
    return refuse (t, "%s is not H.264", init->codec);
  if (init->tracks != 1)
    return refuse (t, "more than one track");
  if (t->cto)
    return refuse (t,
        "the earlier fragments have composition offsets (B-frames)");
  if (!t->have_last || t->last.dts_ns < 0)
    return refuse (t, "no earlier sample to take the frame duration from");
  g_array_sort (t->durations, cmp_gint64);
  gint64 dur_ns = g_array_index (t->durations, gint64, t->durations->len / 2);
  guint64 dur_ticks = gst_util_uint64_scale_round (MAX (dur_ns, 0),
      init->timescale, GST_SECOND);
  if (dur_ticks == 0 || dur_ticks > G_MAXUINT32)
    return refuse (t, "no usable frame duration");
  t->duration = (guint32) dur_ticks;
  t->decode_time =
      gst_util_uint64_scale_round (t->last.dts_ns, init->timescale,
      GST_SECOND) + gst_util_uint64_scale_round (MAX (t->last.duration_ns, 0),
      init->timescale, GST_SECOND);
  gsize cd_len;
  const guint8 *cd = g_bytes_get_data (init->codec_data, &cd_len);
  if (cd_len < 5 || (cd[4] & 3) == 2)
    return refuse (t, "bad avcC");
  t->nal_len = (cd[4] & 3) + 1;
  if (t->payload_end - t->payload > MAX_TAIL)
    return refuse (t, "trailing mdat too large");
  return STEP_ON;
}

/* ---- its access units ---- */

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

/* Whether the NAL unit @nal (@n bytes, header first) of type @type starts
 * a new access unit after one that has slices; FALSE in *@ok when it is
 * cut. */
static gboolean
starts_access_unit (const guint8 * nal, guint32 n, guint type, gboolean * ok)
{
  guint32 first_mb;
  *ok = TRUE;
  if (type == 9 || type == 7 || type == 8 || type == 6 || (type >= 14
          && type <= 18))
    return TRUE;
  if (type != 1 && type != 5)
    return FALSE;
  *ok = read_ue (nal + 1, n - 1, &first_mb);
  return *ok && first_mb == 0;
}

/* Splits @len bytes of AVC length-prefixed NAL units into access units.
 * Only units whose end is known (a following unit starts) go to @aus;
 * the last one, whose NAL units are complete but which may miss slices,
 * is returned in @last (vcl 0 when there is none). */
static void
split_access_units (const guint8 * d, gsize len, guint nal_len, GArray * aus,
    AccessUnit * last)
{
  AccessUnit cur = { 0 };
  gboolean open = FALSE, ok = TRUE;
  gsize p = 0;
  while (ok && p + nal_len < len) {
    guint32 n = 0;
    for (guint i = 0; i < nal_len; i++)
      n = (n << 8) | d[p + i];
    if (n == 0 || n > len - p - nal_len)
      break;                    /* torn (or garbage) */
    guint8 hdr = d[p + nal_len];
    if (hdr & 0x80)
      break;                    /* forbidden_zero_bit: garbage */
    guint type = hdr & 0x1f;
    if (open && cur.vcl > 0
        && starts_access_unit (d + p + nal_len, n, type, &ok)) {
      g_array_append_val (aus, cur);
      open = FALSE;
    }
    if (!ok)
      break;
    if (!open) {
      memset (&cur, 0, sizeof (cur));
      cur.start = p;
      open = TRUE;
    }
    if (type == 1 || type == 5) {
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

static Step
split_tail (Tail * t, GError ** error)
{
  gsize len = t->payload_end - t->payload;
  g_autofree guint8 *data = g_malloc (len);
  if (!lb_mp4_pread (t->fd, data, len, t->payload, error))
    return STEP_FAILED;
  AccessUnit tail;
  split_access_units (data, len, t->nal_len, t->aus, &tail);
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

/* ---- the new moof ---- */

/* moof (mfhd, traf: tfhd with base-data-offset, tfdt, trun with sizes,
 * durations and flags) for the access units of @t. */
static guint8 *
build_moof (const Tail * t, gsize * size)
{
  const AccessUnit *aus = (const AccessUnit *) t->aus->data;
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
  at = lb_mp4_box_begin (&w, FOURCC ('t', 'r', 'u', 'n'));
  gst_byte_writer_put_uint32_be (&w, 0x000701); /* data-offset, duration, size, flags */
  gst_byte_writer_put_uint32_be (&w, t->aus->len);
  gst_byte_writer_put_uint32_be (&w, 0);        /* data offset from base */
  for (guint i = 0; i < t->aus->len; i++) {
    gst_byte_writer_put_uint32_be (&w, t->duration);
    gst_byte_writer_put_uint32_be (&w, (guint32) (aus[i].end - aus[i].start));
    /* sync: depends on no other; else depends on others, non-sync */
    gst_byte_writer_put_uint32_be (&w, aus[i].idr ? 0x02000000 : 0x01010000);
  }
  lb_mp4_box_end (&w, at);
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
  t.durations = g_array_new (FALSE, FALSE, sizeof (gint64));
  t.aus = g_array_new (FALSE, FALSE, sizeof (AccessUnit));
  Step s = read_fragments (&t, error);
  if (s == STEP_ON)
    s = find_mdat (&t, error);
  if (s == STEP_ON)
    s = check_recoverable (&t);
  if (s == STEP_ON)
    s = split_tail (&t, error);
  if (s == STEP_ON)
    s = write_moof (&t, error);

  *out_samples = s == STEP_ON ? t.aus->len : 0;
  if (t.note)
    GST_INFO ("no tail recovery: %s", t.note);
  if (out_note)
    *out_note = g_steal_pointer (&t.note);
  g_free (t.note);
  g_clear_pointer (&t.init, lb_mp4_init_free);
  g_array_unref (t.durations);
  g_array_unref (t.aus);
  return s != STEP_FAILED;
}
