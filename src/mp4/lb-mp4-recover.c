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
 *
 * A file without a moov (lb_mp4_recover_first) goes through the same
 * steps, its track, sample entry and timing taken from the input's
 * previous segment, and gets a moov instead of a moof.
 */
#define _GNU_SOURCE             /* memmem */
#include "mp4/lb-mp4.h"
#include "mp4/lb-mp4-box.h"
#include "mp4/lb-mp4-journal.h"
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
/* The frames of the previous segment's first GOP read to learn the order
 * of display (lb_mp4_recover_first): 20 s at 30 fps. */
#define MAX_TEMPLATE_GOP 600

typedef struct
{
  gsize start, end;             /* bytes in the mdat payload */
  guint vcl;                    /* slices */
  gboolean keyframe;
  gboolean has_key;             /* key is set (B-frames only) */
  gint64 key;                   /* place in the order of display */
  gint64 cto;                   /* composition offset, ticks */
} AccessUnit;

/* A sample of the new moof: its bytes in the mdat payload, its duration
 * and composition offset in ticks of its track. */
typedef struct
{
  gsize start, end;
  guint32 duration;
  gint64 cto;
  gboolean sync;
} OutSample;

typedef struct
{
  guint32 track_id;
  guint64 decode_time;          /* of its first sample, ticks */
  gboolean cto;                 /* composition offsets are written */
  GArray *samples;              /* OutSample, decode order */
} OutTrack;

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
  /* with a journal (a file with audio) */
  GBytes *journal;
  guint video_count;            /* video samples of the complete fragments */
  guint audio_count;
  guint64 audio_decode_time;    /* ticks after their last audio sample */
  GArray *jv, *ja;              /* LbMp4JournalEntry of each track */
  GArray *pv, *pa;              /* gsize: where the tail's samples start
                                 * (from the payload), from jv[video_count]
                                 * and ja[audio_count] on */
  /* what the new moof describes: video, then audio when there is any */
  OutTrack out[2];
  guint n_out;
  /* a file without a moov (lb_mp4_recover_first) */
  gboolean first;
  GBytes *stsd;                 /* the previous segment's stsd box, whole */
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

/* An error of a read that refuses the recovery (I/O fails it): @what and
 * the error's message are the note. */
static Step
read_refused (Tail * t, GError * local, const gchar * what, GError ** error)
{
  if (local->code != LB_ERROR_IO)
    refuse (t, "%s%s", what, local->message);
  return read_failed (local, STEP_OVER, error);
}

/* ---- the complete fragments ---- */

static void
note_fragment (Tail * t, const LbMp4Fragment * f)
{
  t->fragments++;
  t->cursor = f->next_offset;
  t->video_count += f->samples->len;
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
    return read_failed (local, STEP_OVER, error);       /* no moov: lb_mp4_recover_first() */
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

/* The timing of the tail from the complete fragments: the frame duration,
 * the decode time of its first sample and the presentation time after
 * the last frame shown. */
static Step
check_timing (Tail * t)
{
  if (!t->have_last || t->last.dts_ns < 0)
    return refuse (t, "no earlier sample to take the frame duration from");
  guint64 dur_ticks = frame_duration (t);
  if (dur_ticks == 0 || dur_ticks > G_MAXUINT32)
    return refuse (t, "no usable frame duration");
  t->duration = (guint32) dur_ticks;
  t->decode_time = ns_to_ticks (t, t->last.dts_ns)
      + ns_to_ticks (t, t->last.duration_ns);
  t->presentation_time = ns_to_ticks (t, t->end_ns);
  return STEP_ON;
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
    return refuse (t, "more than one track, and no sample journal");
  if (check_timing (t) != STEP_ON)
    return STEP_OVER;
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

/* The NAL unit at *@p of the @len bytes @d, length-prefixed by
 * t->nal_len bytes: its bytes (*@nal, *@n) and what it is (@info); *@p
 * then moves past it.  FALSE at the end of @d, or where a unit is torn or
 * does not parse (*@p left there). */
static gboolean
next_nal (const Tail * t, const guint8 * d, gsize len, gsize * p,
    const guint8 ** nal, guint32 * n, LbNal * info)
{
  if (*p + t->nal_len >= len)
    return FALSE;
  guint32 size = 0;
  for (guint i = 0; i < t->nal_len; i++)
    size = (size << 8) | d[*p + i];
  if (size == 0 || size > len - *p - t->nal_len
      || !lb_nal_parse (t->codec, d + *p + t->nal_len, size, info))
    return FALSE;
  *nal = d + *p + t->nal_len;
  *n = size;
  *p += t->nal_len + size;
  return TRUE;
}

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
  gsize p = 0, at = 0;
  const guint8 *nal;
  guint32 n;
  LbNal info;
  /* (it ends where a unit is torn, or at garbage) */
  while (next_nal (t, d, len, &p, &nal, &n, &info)) {
    if (open && cur.vcl > 0 && info.starts_access_unit) {
      g_array_append_val (t->aus, cur);
      open = FALSE;
    }
    if (!open) {
      memset (&cur, 0, sizeof (cur));
      cur.start = at;
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
    cur.end = at = p;
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
  const guint8 *nal;
  guint32 n;
  LbNal info;
  while (next_nal (t, d, len, &p, &nal, &n, &info)) {
    if (!lb_nal_order_push (t->order, nal, n, &info, key))
      return FALSE;
    keyed |= info.vcl && info.first_slice;
  }
  return keyed && p == len;     /* (not when a unit does not parse) */
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

/* The order keys of the frames of t->last_samples (the last complete
 * fragment's, in @fd) against their presentation times: how far apart the
 * keys of two frames shown one after the other are (t->step), and the key
 * of the last frame shown (t->last_key).  The order state then goes on
 * into the tail. */
static Step
calibrate_order (Tail * t, gint fd, GError ** error)
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
    if (!lb_mp4_pread (fd, d, s[i].size, s[i].offset, error))
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

/* ---- a file with audio: the sample journal (lb-mp4-journal.h) ---- */

static gint64
ticks_of (gint64 ns, guint32 timescale)
{
  gint64 t = (gint64) gst_util_uint64_scale_round (ABS (ns), timescale,
      GST_SECOND);
  return ns < 0 ? -t : t;
}

static gint64
decode_ns (const LbMp4JournalEntry * e)
{
  return e->dts_ns >= 0 ? e->dts_ns : e->pts_ns;
}

/* The audio samples of the complete fragments: how many, and the decode
 * time after the last one. */
static Step
count_audio (Tail * t, GError ** error)
{
  const LbMp4Init *a = t->init->audio;
  g_autoptr (LbMp4Fragment) f = NULL;
  GError *local = NULL;
  if (!lb_mp4_read_range (t->fd, a, 0, t->cursor, &f, &local))
    return read_refused (t, local, "", error);
  t->audio_count = f->samples->len;
  if (t->audio_count > 0) {
    const LbMp4Sample *s = &g_array_index (f->samples, LbMp4Sample,
        f->samples->len - 1);
    t->audio_decode_time = ticks_of (s->dts_ns, a->timescale) +
        ticks_of (s->duration_ns, a->timescale);
  }
  return STEP_ON;
}

/* Whether the journal describes the file: its records parse and cover
 * the complete fragments' samples of both tracks. */
static Step
check_journal (Tail * t, GError ** error)
{
  LbMp4Init *init = t->init;
  if (init->audio == NULL || init->tracks != 2 || init->codec_data == NULL)
    return refuse (t, "not one video and one AAC or Opus track");
  if (check_timing (t) != STEP_ON)
    return STEP_OVER;
  if (t->payload_end - t->payload > MAX_TAIL)
    return refuse (t, "trailing mdat too large");
  gsize len;
  const guint8 *d = g_bytes_get_data (t->journal, &len);
  GError *local = NULL;
  if (!lb_mp4_journal_parse (d, len, &t->jv, &t->ja, &local)) {
    refuse (t, "%s", local->message);
    g_error_free (local);
    return STEP_OVER;
  }
  Step s = count_audio (t, error);
  if (s != STEP_ON)
    return s;
  if (t->video_count > t->jv->len || t->audio_count > t->ja->len)
    return refuse (t, "the sample journal does not cover the complete "
        "fragments");
  return STEP_ON;
}

/* Whether the journal's @e is what lies at @p of the @len bytes @d. */
static gboolean
entry_at (const LbMp4JournalEntry * e, const guint8 * d, gsize len, gsize p)
{
  if (e->size == 0 || e->size > len - p)
    return FALSE;
  gsize n = MIN (e->size, 32);
  return lb_mp4_journal_digest (e->size, d + p, d + p + e->size - n) ==
      e->digest;
}

/* Walks the trailing mdat: each sample there is the next one of the video
 * or the audio journal whose size and digest match its bytes; the walk
 * ends at the first that matches neither (torn, or never journaled). */
static Step
place_samples (Tail * t, GError ** error)
{
  gsize len = t->payload_end - t->payload;
  g_autofree guint8 *d = g_malloc (len);
  if (!lb_mp4_pread (t->fd, d, len, t->payload, error))
    return STEP_FAILED;
  guint vi = t->video_count, ai = t->audio_count;
  gsize p = 0;
  while (p < len) {
    const LbMp4JournalEntry *v = vi < t->jv->len ?
        &g_array_index (t->jv, LbMp4JournalEntry, vi) : NULL;
    const LbMp4JournalEntry *a = ai < t->ja->len ?
        &g_array_index (t->ja, LbMp4JournalEntry, ai) : NULL;
    if (v && entry_at (v, d, len, p)) {
      g_array_append_val (t->pv, p);
      p += v->size;
      vi++;
    } else if (a && entry_at (a, d, len, p)) {
      g_array_append_val (t->pa, p);
      p += a->size;
      ai++;
    } else {
      break;
    }
  }
  if (t->pv->len == 0)
    return refuse (t, "no complete video sample in the trailing mdat");
  return STEP_ON;
}

static gint
cmp_gint64_p (gconstpointer a, gconstpointer b)
{
  return cmp_gint64 (a, b);
}

/* Whether the first @k video samples of the tail, with B-frames, show
 * one frame after the other without a hole: no later one is shown before
 * their last, and no two are more than one and a half frames apart. */
static gboolean
video_closed (const Tail * t, guint k, gint64 frame_ns)
{
  const LbMp4JournalEntry *v =
      &g_array_index (t->jv, LbMp4JournalEntry, t->video_count);
  guint total = t->jv->len - t->video_count;
  g_autofree gint64 *pts = g_new (gint64, k);
  gint64 max = G_MININT64;
  for (guint i = 0; i < k; i++)
    max = MAX (max, pts[i] = v[i].pts_ns);
  for (guint i = k; i < total; i++)
    if (v[i].pts_ns <= max)
      return FALSE;
  qsort (pts, k, sizeof (gint64), cmp_gint64_p);
  for (guint i = 1; i < k; i++)
    if (pts[i] - pts[i - 1] > frame_ns * 3 / 2)
      return FALSE;
  return TRUE;
}

/* Where the presentation of the first @k video samples of the tail ends
 * (running time). */
static gint64
video_end (const Tail * t, guint k, gint64 frame_ns)
{
  const LbMp4JournalEntry *v =
      &g_array_index (t->jv, LbMp4JournalEntry, t->video_count);
  gint64 end = G_MININT64;
  for (guint i = 0; i < k; i++)
    end = MAX (end, v[i].pts_ns + (v[i].duration_ns > 0 ?
            v[i].duration_ns : frame_ns));
  return end;
}

/* How many of the tail's video samples are kept: the longest run whose
 * frames are shown without a hole and end by @limit_ns (running time). */
static guint
keep_video (const Tail * t, gint64 limit_ns)
{
  const LbMp4JournalEntry *v =
      &g_array_index (t->jv, LbMp4JournalEntry, t->video_count);
  gint64 frame_ns = gst_util_uint64_scale_round (t->duration, GST_SECOND,
      t->init->timescale);
  gboolean bframes = FALSE;
  for (guint i = 0; i < t->jv->len - t->video_count; i++)
    bframes |= v[i].dts_ns >= 0 && v[i].pts_ns != v[i].dts_ns;
  guint keep = t->pv->len;
  while (keep > 0 && ((bframes && !video_closed (t, keep, frame_ns))
          || video_end (t, keep, frame_ns) > limit_ns))
    keep--;
  return keep;
}

/* The presentation end of the audio journal's entry @i. */
static gint64
audio_end (const GArray * ja, guint i)
{
  const LbMp4JournalEntry *a = &g_array_index (ja, LbMp4JournalEntry, i);
  if (a->duration_ns > 0)
    return a->pts_ns + a->duration_ns;
  if (i + 1 < ja->len)
    return g_array_index (ja, LbMp4JournalEntry, i + 1).pts_ns;
  if (i > 0)
    return 2 * a->pts_ns - g_array_index (ja, LbMp4JournalEntry, i - 1).pts_ns;
  return a->pts_ns;
}

/* The first @keep samples of a track's tail as the samples of @o: decode
 * times from the journal, on from @o->decode_time (the complete
 * fragments' end); the duration of the last from its record (or the one
 * before it). */
static Step
time_track (Tail * t, OutTrack * o, const GArray * journal, guint first,
    const GArray * starts, guint keep, guint32 timescale)
{
  const LbMp4JournalEntry *e =
      &g_array_index (journal, LbMp4JournalEntry, first);
  guint total = journal->len - first;
  gint64 base = decode_ns (&e[0]);
  gint64 prev = 0;
  for (guint i = 0; i < keep; i++) {
    gint64 dts = ticks_of (decode_ns (&e[i]) - base, timescale);
    gint64 next = i + 1 < total ? ticks_of (decode_ns (&e[i + 1]) - base,
        timescale) : dts + (e[i].duration_ns > 0 ?
        ticks_of (e[i].duration_ns, timescale) : prev);
    if (next < dts || next - dts > G_MAXUINT32)
      return refuse (t, "decode times of the sample journal go backwards");
    gint64 cto = e[i].pts_ns >= 0 && e[i].dts_ns >= 0 ?
        ticks_of (e[i].pts_ns - base, timescale) - dts : 0;
    if (cto < G_MININT32 || cto > G_MAXINT32)
      return refuse (t, "composition offsets out of range");
    gsize start = g_array_index (starts, gsize, i);
    OutSample s = {.start = start,.end = start + e[i].size,
      .duration = (guint32) (next - dts),.cto = cto,.sync = e[i].sync
    };
    o->cto |= cto != 0;
    g_array_append_val (o->samples, s);
    prev = next - dts;
  }
  return STEP_ON;
}

/* Where the video kept must end for its audio to end with it: the audio
 * in the tail lags the video (the muxer writes a frame once the audio
 * before it is in, not the audio that goes with it), so the video stops
 * at most one audio frame after the audio.  Unbounded when the audio had
 * stopped (its last frame a second or more before the video's end): a
 * camera whose audio drops keeps its video. */
static gint64
video_limit (const Tail * t)
{
  gint64 frame_ns = gst_util_uint64_scale_round (t->duration, GST_SECOND,
      t->init->timescale);
  gint64 vend = video_end (t, t->pv->len, frame_ns);
  if (t->pa->len == 0)
    return G_MAXINT64;
  guint last = t->audio_count + t->pa->len - 1;
  gint64 aend = audio_end (t->ja, last);
  gint64 aframe = aend - g_array_index (t->ja, LbMp4JournalEntry, last).pts_ns;
  return vend - aend >= GST_SECOND ? G_MAXINT64 : aend + MAX (aframe, 0);
}

/* The samples the moof describes: the video ones shown without a hole (up
 * to where the audio ends), and the audio up to where that video ends
 * (never beyond): the two tracks end within one audio frame. */
static Step
describe_journal (Tail * t)
{
  guint keep = keep_video (t, video_limit (t));
  if (keep == 0)
    return refuse (t, "no run of frames shown one after the other");
  gint64 vend = video_end (t, keep, gst_util_uint64_scale_round (t->duration,
          GST_SECOND, t->init->timescale));
  guint keep_audio = 0;
  while (keep_audio < t->pa->len
      && audio_end (t->ja, t->audio_count + keep_audio) <= vend)
    keep_audio++;
  t->out[0].track_id = t->init->track_id;
  t->out[0].decode_time = t->decode_time;
  t->out[1].track_id = t->init->audio->track_id;
  t->out[1].decode_time = t->audio_decode_time;
  t->n_out = 2;
  Step s = time_track (t, &t->out[0], t->jv, t->video_count, t->pv, keep,
      t->init->timescale);
  if (s == STEP_ON)
    s = time_track (t, &t->out[1], t->ja, t->audio_count, t->pa, keep_audio,
        t->init->audio->timescale);
  return s;
}

/* ---- the new moof ---- */

/* The access units of the tail as the video track of the new moof. */
static Step
describe_aus (Tail * t)
{
  OutTrack *o = &t->out[0];
  o->track_id = t->init->track_id;
  o->decode_time = t->decode_time;
  o->cto = t->order != NULL;
  for (guint i = 0; i < t->aus->len; i++) {
    const AccessUnit *au = &g_array_index (t->aus, AccessUnit, i);
    OutSample s = {.start = au->start,.end = au->end,.duration = t->duration,
      .cto = au->cto,.sync = au->keyframe
    };
    g_array_append_val (o->samples, s);
  }
  t->n_out = 1;
  return STEP_ON;
}

/* The truns of @o: one per run of samples whose bytes follow one another
 * (sizes, durations, flags and, with B-frames, composition offsets:
 * version 1, signed, when one is below 0). */
static void
write_truns (const OutTrack * o, GstByteWriter * w)
{
  const OutSample *s = (const OutSample *) o->samples->data;
  guint n = o->samples->len;
  gboolean signed_cto = FALSE;
  for (guint i = 0; i < n; i++)
    signed_cto |= s[i].cto < 0;
  for (guint i = 0, j; i < n; i = j) {
    for (j = i + 1; j < n && s[j].start == s[j - 1].end; j++);
    guint at = lb_mp4_box_begin (w, FOURCC ('t', 'r', 'u', 'n'));
    /* data-offset, duration, size, flags (+ composition offsets) */
    gst_byte_writer_put_uint32_be (w, (signed_cto ? 0x01000000 : 0) |
        (o->cto ? 0x000f01 : 0x000701));
    gst_byte_writer_put_uint32_be (w, j - i);
    gst_byte_writer_put_uint32_be (w, (guint32) s[i].start);    /* from base */
    for (guint k = i; k < j; k++) {
      gst_byte_writer_put_uint32_be (w, s[k].duration);
      gst_byte_writer_put_uint32_be (w, (guint32) (s[k].end - s[k].start));
      /* sync: depends on no other; else depends on others, non-sync */
      gst_byte_writer_put_uint32_be (w, s[k].sync ? 0x02000000 : 0x01010000);
      if (o->cto)
        gst_byte_writer_put_uint32_be (w, (guint32) (gint32) s[k].cto);
    }
    lb_mp4_box_end (w, at);
  }
}

/* moof (mfhd, then per track a traf: tfhd with base-data-offset, tfdt,
 * truns) for the samples of t->out. */
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
  for (guint k = 0; k < t->n_out; k++) {
    const OutTrack *o = &t->out[k];
    if (o->samples->len == 0)
      continue;
    guint traf = lb_mp4_box_begin (&w, FOURCC ('t', 'r', 'a', 'f'));
    at = lb_mp4_box_begin (&w, FOURCC ('t', 'f', 'h', 'd'));
    gst_byte_writer_put_uint32_be (&w, 0x000001);       /* base-data-offset-present */
    gst_byte_writer_put_uint32_be (&w, o->track_id);
    gst_byte_writer_put_uint64_be (&w, (guint64) t->payload);
    lb_mp4_box_end (&w, at);
    at = lb_mp4_box_begin (&w, FOURCC ('t', 'f', 'd', 't'));
    gst_byte_writer_put_uint32_be (&w, 0x01000000);     /* version 1 */
    gst_byte_writer_put_uint64_be (&w, o->decode_time);
    lb_mp4_box_end (&w, at);
    write_truns (o, &w);
    lb_mp4_box_end (&w, traf);
  }
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

/* Cuts the torn bytes after the samples of t->out and closes the mdat
 * (its size written), synced: *@new_end is where the samples end.  The file
 * is then recovered again as it would have been before. */
static Step
close_mdat (Tail * t, gint64 * new_end, GError ** error)
{
  gint64 pos = t->mdat.pos;
  gsize end = 0;
  for (guint k = 0; k < t->n_out; k++)
    for (guint i = 0; i < t->out[k].samples->len; i++)
      end = MAX (end, g_array_index (t->out[k].samples, OutSample, i).end);
  *new_end = t->payload + (gint64) end;
  gint64 mdat_size = *new_end - pos;
  if (t->mdat.header_size == 8 && mdat_size > G_MAXUINT32)
    return refuse (t, "trailing mdat too large for its header");
  if (t->file_size > *new_end && ftruncate (t->fd, *new_end) != 0) {
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
  return STEP_ON;
}

/* Appends the @size bytes of @box at @at (the end of the samples), synced,
 * and says what was recovered. */
static Step
append_box (Tail * t, guint8 * box, gsize size, gint64 at, GError ** error)
{
  g_autofree guint8 *owned = box;
  if (!lb_mp4_pwrite (t->fd, owned, size, at, error)
      || !sync_or_fail (t->fd, error))
    return STEP_FAILED;
  GST_INFO ("recovered %u video and %u audio samples (%" G_GINT64_FORMAT
      " bytes) of a %s mdat at %" G_GINT64_FORMAT "; %" G_GINT64_FORMAT
      " torn bytes cut", t->out[0].samples->len, t->n_out > 1 ?
      t->out[1].samples->len : 0, at - t->payload, t->first ? "moov-less" :
      "moof-less", t->mdat.pos, t->file_size - at);
  return STEP_ON;
}

/* The steps of a file of one video track, told apart by its NAL units. */
static Step
recover_video (Tail * t, GError ** error)
{
  Step s = check_recoverable (t);
  if (s == STEP_ON && t->order)
    s = calibrate_order (t, t->fd, error);
  if (s == STEP_ON)
    s = split_tail (t, error);
  if (s == STEP_ON && t->order)
    s = order_tail (t);
  if (s == STEP_ON)
    s = describe_aus (t);
  return s;
}

/* The steps of a file with audio, told apart by its sample journal. */
static Step
recover_with_journal (Tail * t, GError ** error)
{
  Step s = check_journal (t, error);
  if (s == STEP_ON)
    s = place_samples (t, error);
  if (s == STEP_ON)
    s = describe_journal (t);
  return s;
}

/* ---- a file without a moov: its first fragment (lb_mp4_recover_first) ---- */

/* The file has no moov yet (else there is nothing to do here). */
static Step
check_no_moov (Tail * t, GError ** error)
{
  g_autoptr (LbMp4Init) init = NULL;
  GError *local = NULL;
  if (lb_mp4_read_init (t->fd, &init, &local))
    return STEP_OVER;
  if (local->code != LB_ERROR_NOT_YET)
    return read_refused (t, local, "", error);
  g_error_free (local);
  return STEP_ON;
}

/* Its first box is an ftyp, and the mdat of the first fragment follows
 * (after padding). */
static Step
find_first_mdat (Tail * t, GError ** error)
{
  LbMp4FileBox ftyp;
  GError *local = NULL;
  if (!lb_mp4_file_size (t->fd, &t->file_size, error))
    return STEP_FAILED;
  if (!lb_mp4_file_box (t->fd, 0, t->file_size, &ftyp, &local))
    return read_failed (local, STEP_OVER, error);
  if (ftyp.type != FOURCC ('f', 't', 'y', 'p')
      || !lb_mp4_file_box_is_whole (&ftyp, t->file_size))
    return refuse (t, "no ftyp");
  t->cursor = ftyp.size;
  Step s = find_mdat (t, error);
  /* the muxer writes the mdat's size with the moov: a closed one is whole
   * (a recovery killed before its moov was written) */
  if (s == STEP_ON && t->mdat.size != 0
      && !lb_mp4_file_box_is_whole (&t->mdat, t->file_size))
    return refuse (t, "a closed mdat cut short");
  return s;
}

/* The moov of the input's previous segment (@fd): it gives the track, its
 * sample entry (the stsd box, kept whole) and the timing. */
static Step
read_template (Tail * t, gint fd, GError ** error)
{
  static const guint32 path[] = {
    FOURCC ('t', 'r', 'a', 'k'), FOURCC ('m', 'd', 'i', 'a'),
    FOURCC ('m', 'i', 'n', 'f'), FOURCC ('s', 't', 'b', 'l'),
    FOURCC ('s', 't', 's', 'd'),
  };
  GError *local = NULL;
  if (fd < 0)
    return refuse (t, "no previous segment to take the codec and the timing "
        "from");
  if (!lb_mp4_read_init (fd, &t->init, &local))
    return read_refused (t, local, "the previous segment does not parse: ",
        error);
  if (t->init->tracks != 1)
    return refuse (t, "the previous segment is not one video track");
  if (t->init->samples->len == 0)
    return refuse (t, "the previous segment's moov describes no sample");
  gint64 size;
  LbMp4FileBox box;
  gsize len;
  if (!lb_mp4_file_size (fd, &size, error))
    return STEP_FAILED;
  if (!lb_mp4_file_box (fd, t->init->moov_offset, size, &box, &local))
    return read_refused (t, local, "the previous segment: ", error);
  g_autofree guint8 *moov = lb_mp4_file_box_load (fd, &box, box.size, &len,
      &local);
  if (moov == NULL)
    return read_refused (t, local, "the previous segment: ", error);
  LbMp4Box stsd;
  if (!lb_mp4_box_find_path (moov, len, path, G_N_ELEMENTS (path), &stsd))
    return refuse (t, "the previous segment has no stsd");
  t->stsd = g_bytes_new (stsd.data, stsd.size);
  return STEP_ON;
}

/* What the previous segment (@fd) tells of the file's samples: their codec
 * and NAL length size, the frame duration, the decode and presentation
 * time of the first (as its first GOP's) and, with B-frames, the step of
 * its picture order counts from one frame shown to the next (learnt from
 * its first GOP, at most MAX_TEMPLATE_GOP frames of it). */
static Step
check_first (Tail * t, gint fd, GError ** error)
{
  LbMp4Init *init = t->init;
  if (!lb_nal_codec_from_name (init->codec, &t->codec)
      || init->codec_data == NULL)
    return refuse (t, "%s is neither H.264 nor H.265", init->codec);
  const LbMp4Sample *s = (const LbMp4Sample *) init->samples->data;
  guint gop = 1;
  while (gop < init->samples->len && gop < MAX_TEMPLATE_GOP && !s[gop].sync)
    gop++;
  g_autoptr (GArray) first = g_array_sized_new (FALSE, FALSE,
      sizeof (LbMp4Sample), gop);
  g_array_append_vals (first, s, gop);
  gboolean timed = FALSE;
  for (guint i = 0; i < gop; i++) {
    t->cto |= s[i].pts_ns != s[i].dts_ns;
    timed |= s[i].duration_ns > 0;
  }
  if (timed)
    t->timed_samples = g_array_ref (first);
  guint64 dur_ticks = frame_duration (t);
  if (dur_ticks == 0 || dur_ticks > G_MAXUINT32)
    return refuse (t, "no usable frame duration in the previous segment");
  t->duration = (guint32) dur_ticks;
  t->decode_time = 0;
  t->presentation_time = ns_to_ticks (t, s[0].pts_ns - s[0].dts_ns);
  gsize cd_len;
  const guint8 *cd = g_bytes_get_data (init->codec_data, &cd_len);
  if (!lb_nal_config_length_size (t->codec, cd, cd_len, &t->nal_len))
    return refuse (t, "bad codec data (%s)", init->sample_entry);
  if (t->payload_end - t->payload > MAX_TAIL)
    return refuse (t, "mdat too large");
  if (!t->cto)
    return STEP_ON;
  t->order = lb_nal_order_new (t->codec);
  if (!lb_nal_order_add_config (t->order, cd, cd_len))
    return refuse (t, "the parameter sets of the codec data do not parse");
  t->last_samples = g_array_ref (first);
  GError *local = NULL;
  Step step = calibrate_order (t, fd, &local);
  if (step == STEP_FAILED)      /* its table points past its end */
    return read_refused (t, local, "the previous segment: ", error);
  return step;
}

static gboolean
is_parameter_set (LbNalCodec codec, guint type)
{
  return codec == LB_NAL_H264 ? type == 7 || type == 8 : type >= 32
      && type <= 34;
}

/* A closed mdat holds the frames kept and nothing else: else it is not
 * what the muxer (or this recovery, killed) leaves, and cutting it would
 * lose what follows them. */
static Step
check_closed (Tail * t)
{
  const AccessUnit *last = &g_array_index (t->aus, AccessUnit,
      t->aus->len - 1);
  if (t->mdat.size != 0 && (gint64) last->end != t->payload_end - t->payload)
    return refuse (t, "its closed mdat holds more than whole frames");
  return STEP_ON;
}

/* The first access unit is a keyframe, and the parameter sets it carries
 * (if any) are in the previous segment's codec data: else the sample entry
 * (its codec data, width and height) would not be this file's. */
static Step
check_first_unit (Tail * t, GError ** error)
{
  const AccessUnit *au = &g_array_index (t->aus, AccessUnit, 0);
  if (!au->keyframe)
    return refuse (t, "the first frame is not a keyframe");
  gsize len = au->end - au->start, cd_len;
  const guint8 *cd = g_bytes_get_data (t->init->codec_data, &cd_len);
  g_autofree guint8 *d = g_malloc (len);
  if (!lb_mp4_pread (t->fd, d, len, t->payload + au->start, error))
    return STEP_FAILED;
  gsize p = 0;
  const guint8 *nal;
  guint32 n;
  LbNal info;
  while (next_nal (t, d, len, &p, &nal, &n, &info))
    if (is_parameter_set (t->codec, info.type)
        && memmem (cd, cd_len, nal, n) == NULL)
      return refuse (t, "its parameter sets are not those of the previous "
          "segment");
  return STEP_ON;
}

static guint
full_box_begin (GstByteWriter * w, guint32 type, guint32 version_flags)
{
  guint at = lb_mp4_box_begin (w, type);
  gst_byte_writer_put_uint32_be (w, version_flags);
  return at;
}

static void
put_u32s (GstByteWriter * w, const guint32 * v, guint n)
{
  for (guint i = 0; i < n; i++)
    gst_byte_writer_put_uint32_be (w, v[i]);
}

/* A box of runs of equal @values (stts, ctts): count, then per run its
 * length and value. */
static void
put_runs (GstByteWriter * w, guint32 type, guint32 version_flags,
    const guint32 * values, guint n)
{
  guint at = full_box_begin (w, type, version_flags);
  guint count_at = gst_byte_writer_get_pos (w);
  guint runs = 0;
  gst_byte_writer_put_uint32_be (w, 0);
  for (guint i = 0, j; i < n; i = j) {
    for (j = i + 1; j < n && values[j] == values[i]; j++);
    gst_byte_writer_put_uint32_be (w, j - i);
    gst_byte_writer_put_uint32_be (w, values[i]);
    runs++;
  }
  lb_mp4_patch32 (w, count_at, runs);
  lb_mp4_box_end (w, at);
}

/* The sample table of @o, whose samples start at @base of the file: one
 * chunk per sample. */
static void
write_stbl (const Tail * t, const OutTrack * o, GstByteWriter * w)
{
  const OutSample *s = (const OutSample *) o->samples->data;
  guint n = o->samples->len, syncs = 0;
  gboolean co64 = FALSE, negative = FALSE;
  g_autofree guint32 *v = g_new (guint32, n);
  guint stbl = lb_mp4_box_begin (w, FOURCC ('s', 't', 'b', 'l'));
  gsize stsd_len;
  const guint8 *stsd = g_bytes_get_data (t->stsd, &stsd_len);
  gst_byte_writer_put_data (w, stsd, stsd_len);
  for (guint i = 0; i < n; i++) {
    v[i] = s[i].duration;
    syncs += s[i].sync;
    negative |= s[i].cto < 0;
    co64 |= t->payload + (gint64) s[i].start > G_MAXUINT32;
  }
  put_runs (w, FOURCC ('s', 't', 't', 's'), 0, v, n);
  for (guint i = 0; i < n; i++)
    v[i] = (guint32) (gint32) s[i].cto;
  if (o->cto)
    put_runs (w, FOURCC ('c', 't', 't', 's'), negative ? 0x01000000 : 0, v, n);
  guint at = full_box_begin (w, FOURCC ('s', 't', 's', 's'), 0);
  gst_byte_writer_put_uint32_be (w, syncs);
  for (guint i = 0; i < n; i++)
    if (s[i].sync)
      gst_byte_writer_put_uint32_be (w, i + 1);
  lb_mp4_box_end (w, at);
  at = full_box_begin (w, FOURCC ('s', 't', 's', 'c'), 0);
  put_u32s (w, (const guint32[]) {
        1, 1, 1, 1
      }, 4);
  lb_mp4_box_end (w, at);
  at = full_box_begin (w, FOURCC ('s', 't', 's', 'z'), 0);
  put_u32s (w, (const guint32[]) {
        0, n
      }, 2);
  for (guint i = 0; i < n; i++)
    gst_byte_writer_put_uint32_be (w, (guint32) (s[i].end - s[i].start));
  lb_mp4_box_end (w, at);
  at = full_box_begin (w, co64 ? FOURCC ('c', 'o', '6', '4') :
      FOURCC ('s', 't', 'c', 'o'), 0);
  gst_byte_writer_put_uint32_be (w, n);
  for (guint i = 0; i < n; i++) {
    guint64 off = (guint64) t->payload + s[i].start;
    if (co64)
      gst_byte_writer_put_uint64_be (w, off);
    else
      gst_byte_writer_put_uint32_be (w, (guint32) off);
  }
  lb_mp4_box_end (w, at);
  lb_mp4_box_end (w, stbl);
}

static const guint32 unity_matrix[9] = {
  0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000
};

/* mdia (mdhd, hdlr, minf) of the video track: @duration in its ticks. */
static void
write_mdia (const Tail * t, const OutTrack * o, guint32 duration,
    GstByteWriter * w)
{
  guint mdia = lb_mp4_box_begin (w, FOURCC ('m', 'd', 'i', 'a'));
  guint at = full_box_begin (w, FOURCC ('m', 'd', 'h', 'd'), 0);
  /* times of creation and modification, timescale, duration, 'und' */
  put_u32s (w, (const guint32[]) {
        0, 0, t->init->timescale, duration, 0x55c40000
      }, 5);
  lb_mp4_box_end (w, at);
  at = full_box_begin (w, FOURCC ('h', 'd', 'l', 'r'), 0);
  put_u32s (w, (const guint32[]) {
        0, FOURCC ('v', 'i', 'd', 'e'), 0, 0, 0
      }, 5);
  gst_byte_writer_put_data (w, (const guint8 *) "VideoHandler", 13);
  lb_mp4_box_end (w, at);
  guint minf = lb_mp4_box_begin (w, FOURCC ('m', 'i', 'n', 'f'));
  at = full_box_begin (w, FOURCC ('v', 'm', 'h', 'd'), 1);
  put_u32s (w, (const guint32[]) {
        0, 0
      }, 2);
  lb_mp4_box_end (w, at);
  guint dinf = lb_mp4_box_begin (w, FOURCC ('d', 'i', 'n', 'f'));
  at = full_box_begin (w, FOURCC ('d', 'r', 'e', 'f'), 0);
  /* one entry: the data is in this file */
  put_u32s (w, (const guint32[]) {
        1, 12, FOURCC ('u', 'r', 'l', ' '), 1
      }, 4);
  lb_mp4_box_end (w, at);
  lb_mp4_box_end (w, dinf);
  write_stbl (t, o, w);
  lb_mp4_box_end (w, minf);
  lb_mp4_box_end (w, mdia);
}

/* The moov of a file of one video track whose samples are those of t->out
 * (decode times from 0): mvhd, trak (tkhd, an edit list that starts at
 * the first frame shown, mdia) and mvex, so that more fragments could
 * follow as in the muxer's files. */
static guint8 *
build_moov (const Tail * t, gsize * size)
{
  const OutTrack *o = &t->out[0];
  const OutSample *s = (const OutSample *) o->samples->data;
  const LbMp4Init *init = t->init;
  guint32 movie_ts = init->movie_timescale ? init->movie_timescale :
      init->timescale;
  guint64 duration = 0;
  gint64 first_shown = G_MAXINT64;
  for (guint i = 0; i < o->samples->len; i++) {
    first_shown = MIN (first_shown, (gint64) duration + s[i].cto);
    duration += s[i].duration;
  }
  guint32 dur = (guint32) MIN (duration, G_MAXUINT32);
  guint32 movie_dur = (guint32) MIN (gst_util_uint64_scale (duration,
          movie_ts, init->timescale), G_MAXUINT32);
  GstByteWriter w;
  gst_byte_writer_init (&w);
  guint moov = lb_mp4_box_begin (&w, FOURCC ('m', 'o', 'o', 'v'));
  guint at = full_box_begin (&w, FOURCC ('m', 'v', 'h', 'd'), 0);
  /* times, timescale, duration, rate 1, volume 1, reserved */
  put_u32s (&w, (const guint32[]) {
        0, 0, movie_ts, movie_dur, 0x00010000, 0x01000000, 0, 0
      }, 8);
  put_u32s (&w, unity_matrix, 9);
  put_u32s (&w, (const guint32[]) {
        0, 0, 0, 0, 0, 0, o->track_id + 1
      }, 7);
  lb_mp4_box_end (&w, at);
  guint trak = lb_mp4_box_begin (&w, FOURCC ('t', 'r', 'a', 'k'));
  at = full_box_begin (&w, FOURCC ('t', 'k', 'h', 'd'), 7);
  /* times, id, reserved, duration, reserved, layer, group, volume */
  put_u32s (&w, (const guint32[]) {
        0, 0, o->track_id, 0, movie_dur, 0, 0, 0, 0
      }, 9);
  put_u32s (&w, unity_matrix, 9);
  put_u32s (&w, (const guint32[]) {
        (guint32) init->width << 16, (guint32) init->height << 16
      }, 2);
  lb_mp4_box_end (&w, at);
  guint edts = lb_mp4_box_begin (&w, FOURCC ('e', 'd', 't', 's'));
  at = full_box_begin (&w, FOURCC ('e', 'l', 's', 't'), 0);
  put_u32s (&w, (const guint32[]) {
        1, movie_dur, (guint32) CLAMP (first_shown, 0, G_MAXINT32), 0x00010000
      },
      4);
  lb_mp4_box_end (&w, at);
  lb_mp4_box_end (&w, edts);
  write_mdia (t, o, dur, &w);
  lb_mp4_box_end (&w, trak);
  guint mvex = lb_mp4_box_begin (&w, FOURCC ('m', 'v', 'e', 'x'));
  at = full_box_begin (&w, FOURCC ('t', 'r', 'e', 'x'), 0);
  put_u32s (&w, (const guint32[]) {
        o->track_id, 1, 0, 0, 0
      }, 5);
  lb_mp4_box_end (&w, at);
  lb_mp4_box_end (&w, mvex);
  lb_mp4_box_end (&w, moov);
  *size = gst_byte_writer_get_pos (&w);
  return gst_byte_writer_reset_and_get_data (&w);
}

/* Each step leaves a file this function can recover again: cut the torn
 * bytes, close the mdat, sync, then append the moof (the moov of a file
 * that had none: the layout of the muxer's file once its first fragment
 * is described) and sync. */
static Step
write_index (Tail * t, GError ** error)
{
  gint64 new_end;
  Step s = close_mdat (t, &new_end, error);
  if (s != STEP_ON)
    return s;
  gsize size;
  guint8 *box = t->first ? build_moov (t, &size) : build_moof (t, &size);
  return append_box (t, box, size, new_end, error);
}

/* The steps of a file without a moov, with the previous segment @fd. */
static Step
recover_first (Tail * t, gint fd, GError ** error)
{
  Step s = check_no_moov (t, error);
  if (s == STEP_ON)
    s = find_first_mdat (t, error);
  if (s == STEP_ON)
    s = read_template (t, fd, error);
  if (s == STEP_ON)
    s = check_first (t, fd, error);
  if (s == STEP_ON)
    s = split_tail (t, error);
  if (s == STEP_ON)
    s = check_first_unit (t, error);
  if (s == STEP_ON && t->order)
    s = order_tail (t);
  if (s == STEP_ON)
    s = check_closed (t);
  if (s == STEP_ON)
    s = describe_aus (t);
  if (s == STEP_ON)
    s = write_index (t, error);
  return s;
}

static void
tail_clear (Tail * t)
{
  g_free (t->note);
  g_clear_pointer (&t->init, lb_mp4_init_free);
  g_clear_pointer (&t->order, lb_nal_order_free);
  g_clear_pointer (&t->last_samples, g_array_unref);
  g_clear_pointer (&t->timed_samples, g_array_unref);
  g_clear_pointer (&t->stsd, g_bytes_unref);
  g_clear_pointer (&t->jv, g_array_unref);
  g_clear_pointer (&t->ja, g_array_unref);
  g_array_unref (t->pv);
  g_array_unref (t->pa);
  g_array_unref (t->aus);
  for (guint k = 0; k < G_N_ELEMENTS (t->out); k++)
    g_array_unref (t->out[k].samples);
}

static void
tail_init (Tail * t, gint fd, GBytes * journal)
{
  memset (t, 0, sizeof (*t));
  t->fd = fd;
  t->journal = journal;
  t->aus = g_array_new (FALSE, FALSE, sizeof (AccessUnit));
  t->pv = g_array_new (FALSE, FALSE, sizeof (gsize));
  t->pa = g_array_new (FALSE, FALSE, sizeof (gsize));
  for (guint k = 0; k < G_N_ELEMENTS (t->out); k++)
    t->out[k].samples = g_array_new (FALSE, FALSE, sizeof (OutSample));
  LB_DEBUG_INIT (lb_mp4_recover_debug, "lookback-mp4-recover",
      "crash recovery of MP4 tails");
}

/* What came of the steps: the video samples recovered, the note. */
static gboolean
tail_finish (Tail * t, Step s, guint * out_samples, gchar ** out_note)
{
  *out_samples = s == STEP_ON ? t->out[0].samples->len : 0;
  if (t->note)
    GST_INFO ("no %s recovery: %s", t->first ? "moov-less" : "tail", t->note);
  if (out_note)
    *out_note = g_steal_pointer (&t->note);
  tail_clear (t);
  return s != STEP_FAILED;
}

gboolean
lb_mp4_recover_tail_journal (gint fd, GBytes * journal, guint * out_samples,
    gchar ** out_note, GError ** error)
{
  g_return_val_if_fail (fd >= 0, FALSE);
  g_return_val_if_fail (out_samples != NULL, FALSE);

  Tail t;
  tail_init (&t, fd, journal);
  Step s = read_fragments (&t, error);
  if (s == STEP_ON)
    s = find_mdat (&t, error);
  if (s == STEP_ON)
    s = journal && t.init->audio ? recover_with_journal (&t, error) :
        recover_video (&t, error);
  if (s == STEP_ON)
    s = write_index (&t, error);
  return tail_finish (&t, s, out_samples, out_note);
}

gboolean
lb_mp4_recover_first (gint fd, gint previous_fd, guint * out_samples,
    gchar ** out_note, GError ** error)
{
  g_return_val_if_fail (fd >= 0, FALSE);
  g_return_val_if_fail (out_samples != NULL, FALSE);

  Tail t;
  tail_init (&t, fd, NULL);
  t.first = TRUE;
  Step s = recover_first (&t, previous_fd, error);
  return tail_finish (&t, s, out_samples, out_note);
}

gboolean
lb_mp4_recover_tail (gint fd, guint * out_samples, gchar ** out_note,
    GError ** error)
{
  return lb_mp4_recover_tail_journal (fd, NULL, out_samples, out_note, error);
}
