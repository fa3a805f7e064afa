/* lookback — frame-exact trimming of a remuxed MP4 by its edit list */
#include "jobs/lb-mp4-trim.h"

#include "core/lb-debug.h"
#include "core/lb-error.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

GST_DEBUG_CATEGORY_STATIC (lb_mp4_trim_debug);
#define GST_CAT_DEFAULT lb_mp4_trim_debug

#define MAX_MOOV (64 * 1024 * 1024)
#define FOURCC(a, b, c, d) \
  (((guint32) (a) << 24) | ((guint32) (b) << 16) | ((guint32) (c) << 8) | (guint32) (d))

static guint32
rd32 (const guint8 * p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) | ((guint32) p[2] << 8)
      | p[3];
}

static guint64
rd64 (const guint8 * p)
{
  return ((guint64) rd32 (p) << 32) | rd32 (p + 4);
}

static void
wr32 (guint8 * p, guint32 v)
{
  p[0] = v >> 24;
  p[1] = v >> 16;
  p[2] = v >> 8;
  p[3] = v;
}

static void
wr64 (guint8 * p, guint64 v)
{
  wr32 (p, v >> 32);
  wr32 (p + 4, (guint32) v);
}

static void
put32 (GByteArray * out, guint32 v)
{
  guint8 b[4];
  wr32 (b, v);
  g_byte_array_append (out, b, 4);
}

static void
put64 (GByteArray * out, guint64 v)
{
  guint8 b[8];
  wr64 (b, v);
  g_byte_array_append (out, b, 8);
}

/* One box inside a buffer. */
typedef struct
{
  guint32 type;
  const guint8 *start;          /* the header */
  gsize size;                   /* header + payload */
  const guint8 *payload;
  gsize payload_size;
} Box;

/* Reads the box at @p (with @len bytes left); FALSE when it does not fit. */
static gboolean
box_at (const guint8 * p, gsize len, Box * box)
{
  guint64 size;
  gsize header = 8;

  if (len < 8)
    return FALSE;
  size = rd32 (p);
  if (size == 1) {
    if (len < 16)
      return FALSE;
    size = rd64 (p + 8);
    header = 16;
  } else if (size == 0) {
    size = len;
  }
  if (size < header || size > len)
    return FALSE;
  box->type = rd32 (p + 4);
  box->start = p;
  box->size = size;
  box->payload = p + header;
  box->payload_size = size - header;
  return TRUE;
}

/* The first child of type @type in the container payload @p. */
static gboolean
find_child (const guint8 * p, gsize len, guint32 type, Box * out)
{
  Box b;

  while (len > 0 && box_at (p, len, &b)) {
    if (b.type == type) {
      *out = b;
      return TRUE;
    }
    p += b.size;
    len -= b.size;
  }
  return FALSE;
}

static gboolean
find_path (const guint8 * p, gsize len, const guint32 * path, guint n,
    Box * out)
{
  Box b = { 0 };

  for (guint i = 0; i < n; i++) {
    if (!find_child (p, len, path[i], &b))
      return FALSE;
    p = b.payload;
    len = b.payload_size;
  }
  *out = b;
  return TRUE;
}

/* What the edit needs to know about the video track. */
typedef struct
{
  const guint8 *trak;           /* the trak box (header) inside the moov */
  guint32 movie_timescale;
  guint32 media_timescale;
  guint64 new_segment_duration; /* movie timescale */
  gint64 new_media_time;        /* media timescale */
  GArray *sync;                 /* guint32 1-based sample numbers to list in stss, or NULL
                                 * to leave the sync samples as they are */
} Plan;

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

static gboolean
plan_track (const guint8 * moov, gsize moov_len, gint64 skip_ns,
    gint64 duration_ns, Plan * plan, LbMp4Trim * result, GError ** error)
{
  Box mvhd, b;
  const guint8 *p = moov;
  gsize len = moov_len;

  if (!find_child (moov, moov_len, FOURCC ('m', 'v', 'h', 'd'), &mvhd)
      || mvhd.payload_size < 20) {
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT, "no mvhd in the moov");
    return FALSE;
  }
  plan->movie_timescale =
      rd32 (mvhd.payload + (mvhd.payload[0] == 1 ? 20 : 12));

  /* The first trak whose handler is 'vide'. */
  plan->trak = NULL;
  while (len > 0 && box_at (p, len, &b)) {
    Box hdlr;
    const guint32 hdlr_path[] =
        { FOURCC ('m', 'd', 'i', 'a'), FOURCC ('h', 'd', 'l', 'r') };
    if (b.type == FOURCC ('t', 'r', 'a', 'k')
        && find_path (b.payload, b.payload_size, hdlr_path, 2, &hdlr)
        && hdlr.payload_size >= 12
        && rd32 (hdlr.payload + 8) == FOURCC ('v', 'i', 'd', 'e')) {
      plan->trak = b.start;
      break;
    }
    p += b.size;
    len -= b.size;
  }
  if (plan->trak == NULL) {
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT,
        "no video track in the moov");
    return FALSE;
  }
  Box trak;
  box_at (plan->trak, moov + moov_len - plan->trak, &trak);

  Box mdhd, stts, ctts;
  const guint32 mdhd_path[] =
      { FOURCC ('m', 'd', 'i', 'a'), FOURCC ('m', 'd', 'h', 'd') };
  const guint32 stts_path[] =
      { FOURCC ('m', 'd', 'i', 'a'), FOURCC ('m', 'i', 'n', 'f'),
    FOURCC ('s', 't', 'b', 'l'), FOURCC ('s', 't', 't', 's')
  };
  const guint32 ctts_path[] =
      { FOURCC ('m', 'd', 'i', 'a'), FOURCC ('m', 'i', 'n', 'f'),
    FOURCC ('s', 't', 'b', 'l'), FOURCC ('c', 't', 't', 's')
  };
  if (!find_path (trak.payload, trak.payload_size, mdhd_path, 2, &mdhd)
      || mdhd.payload_size < 20
      || !find_path (trak.payload, trak.payload_size, stts_path, 4, &stts)
      || stts.payload_size < 8) {
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT,
        "the video track has no mdhd or stts");
    return FALSE;
  }
  plan->media_timescale =
      rd32 (mdhd.payload + (mdhd.payload[0] == 1 ? 20 : 12));
  if (plan->media_timescale == 0 || plan->movie_timescale == 0) {
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT, "a timescale of 0");
    return FALSE;
  }

  /* Decode times and durations from stts. */
  g_autoptr (GArray) ct = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (GArray) dur = g_array_new (FALSE, FALSE, sizeof (gint64));
  guint32 n = rd32 (stts.payload + 4);
  gint64 dt = 0;
  if ((gsize) n * 8 > stts.payload_size - 8) {
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT, "stts is cut short");
    return FALSE;
  }
  for (guint32 i = 0; i < n; i++) {
    guint32 count = rd32 (stts.payload + 8 + 8 * i);
    gint64 delta = rd32 (stts.payload + 12 + 8 * i);
    if (ct->len + (guint64) count > 10000000) {
      g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT,
          "stts lists too many samples");
      return FALSE;
    }
    for (guint32 k = 0; k < count; k++) {
      g_array_append_val (ct, dt);
      g_array_append_val (dur, delta);
      dt += delta;
    }
  }
  if (ct->len == 0) {
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT,
        "the video track has no samples");
    return FALSE;
  }
  /* Composition offsets (version 1 is signed; version 0 values are small). */
  if (find_path (trak.payload, trak.payload_size, ctts_path, 4, &ctts)
      && ctts.payload_size >= 8) {
    guint32 m = rd32 (ctts.payload + 4);
    guint idx = 0;
    if ((gsize) m * 8 > ctts.payload_size - 8) {
      g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT, "ctts is cut short");
      return FALSE;
    }
    for (guint32 i = 0; i < m; i++) {
      guint32 count = rd32 (ctts.payload + 8 + 8 * i);
      gint64 off = (gint32) rd32 (ctts.payload + 12 + 8 * i);
      for (guint32 k = 0; k < count && idx < ct->len; k++, idx++)
        g_array_index (ct, gint64, idx) += off;
    }
  }

  /* Presentation end of the whole track: the latest composition end. */
  gint64 track_end = G_MININT64;
  for (guint i = 0; i < ct->len; i++)
    track_end =
        MAX (track_end, g_array_index (ct, gint64, i) + g_array_index (dur,
            gint64, i));
  g_array_sort (ct, cmp_i64);
  const gint64 *v = (const gint64 *) ct->data;
  guint nv = ct->len;
  guint ts = plan->media_timescale;

  guint first =
      nearest (v, nv, v[0] + scale (MAX (skip_ns, 0), ts, 1000000000));
  gint64 start = v[first];
  gint64 end = track_end;
  guint last = nv;              /* one past the last frame shown */
  if (duration_ns > 0) {
    gint64 want = v[0] + scale (MAX (skip_ns, 0) + duration_ns, ts, 1000000000);
    /* boundaries after start: v[first+1..nv-1] and track_end */
    if (first + 1 < nv) {
      guint k = first + 1 + nearest (v + first + 1, nv - first - 1, want);
      if (ABS (v[k] - want) <= ABS (track_end - want)) {
        end = v[k];
        last = k;
      }
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
  /* rounded down: a sliver of the next frame would make players show it */
  plan->new_segment_duration =
      (guint64) ((__int128) (end - start) * plan->movie_timescale / ts);

  /* qtdemux (1.22, pull mode) ends the movie after a keyframe once the next
   * sample's *media* time reaches the movie's duration (it adds the edit's
   * media start to a movie-time position), which would cut the last part of
   * a clip whose pre-roll is hidden.  Keyframes that late are no longer
   * listed as sync samples: a seek into the clip's last partial GOP then
   * decodes from the keyframe before, nothing else changes. */
  gint64 movie_end = end - start;
  gint64 slack = 0, max_dur = 0;
  for (guint i = 0; i < dur->len; i++)
    max_dur = MAX (max_dur, g_array_index (dur, gint64, i));
  slack = 2 * max_dur + (track_end - dt > 0 ? track_end - dt : 0);
  Box stss = { 0 };
  const guint32 stss_path[] =
      { FOURCC ('m', 'd', 'i', 'a'), FOURCC ('m', 'i', 'n', 'f'),
    FOURCC ('s', 't', 'b', 'l'), FOURCC ('s', 't', 's', 's')
  };
  gboolean has_stss =
      find_path (trak.payload, trak.payload_size, stss_path, 4, &stss)
      && stss.payload_size >= 8;
  guint32 nsync = has_stss ? rd32 (stss.payload + 4) : dur->len;
  if (has_stss && (gsize) nsync * 4 > stss.payload_size - 8) {
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT, "stss is cut short");
    return FALSE;
  }
  gboolean changed = FALSE;
  plan->sync = g_array_new (FALSE, FALSE, sizeof (guint32));
  for (guint32 i = 0; i < nsync; i++) {
    guint32 number = has_stss ? rd32 (stss.payload + 8 + 4 * i) : i + 1;
    gint64 sample_dt = 0;
    if (number >= 1 && number <= dur->len) {
      /* decode time of sample number-1: sum of the durations before it */
      for (guint k = 0; k + 1 < number; k++)
        sample_dt += g_array_index (dur, gint64, k);
    }
    if (number > 1 && sample_dt >= movie_end - slack) {
      changed = TRUE;
      continue;
    }
    g_array_append_val (plan->sync, number);
  }
  if (!changed)
    g_clear_pointer (&plan->sync, g_array_unref);

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

/* Writing the new moov. */
typedef struct
{
  const Plan *plan;
  gint64 moov_offset;           /* chunk offsets beyond it move */
  gint64 delta;                 /* by this much */
  gboolean overflow;
  gboolean drop_udta;
} Writer;

static void write_boxes (Writer * w, const guint8 * p, gsize len,
    GByteArray * out, gboolean in_trak);

static void
write_edts (Writer * w, GByteArray * out)
{
  gboolean v1 = w->plan->new_segment_duration > G_MAXUINT32 ||
      w->plan->new_media_time > G_MAXINT32;

  put32 (out, 8 + (v1 ? 36 : 28));
  put32 (out, FOURCC ('e', 'd', 't', 's'));
  put32 (out, v1 ? 36 : 28);
  put32 (out, FOURCC ('e', 'l', 's', 't'));
  put32 (out, v1 ? 0x01000000 : 0);
  put32 (out, 1);
  if (v1) {
    put64 (out, w->plan->new_segment_duration);
    put64 (out, (guint64) w->plan->new_media_time);
  } else {
    put32 (out, (guint32) w->plan->new_segment_duration);
    put32 (out, (guint32) w->plan->new_media_time);
  }
  put32 (out, 0x00010000);      /* rate 1.0 */
}

static void
write_stss (Writer * w, GByteArray * out)
{
  const GArray *sync = w->plan->sync;

  put32 (out, 16 + 4 * sync->len);
  put32 (out, FOURCC ('s', 't', 's', 's'));
  put32 (out, 0);
  put32 (out, sync->len);
  for (guint i = 0; i < sync->len; i++)
    put32 (out, g_array_index (sync, guint32, i));
}

static void
write_leaf (Writer * w, const Box * b, GByteArray * out, gboolean in_video_trak)
{
  guint at = out->len;
  gsize header = b->payload - b->start;

  g_byte_array_append (out, b->start, b->size);
  guint8 *payload = out->data + at + header;

  switch (b->type) {
    case FOURCC ('m', 'v', 'h', 'd'):
      if (b->payload_size >= 32 && payload[0] == 1)
        wr64 (payload + 24, w->plan->new_segment_duration);
      else if (b->payload_size >= 20)
        wr32 (payload + 16, (guint32) MIN (w->plan->new_segment_duration,
                G_MAXUINT32));
      break;
    case FOURCC ('t', 'k', 'h', 'd'):
      if (!in_video_trak)
        break;
      if (b->payload_size >= 36 && payload[0] == 1)
        wr64 (payload + 28, w->plan->new_segment_duration);
      else if (b->payload_size >= 24)
        wr32 (payload + 20, (guint32) MIN (w->plan->new_segment_duration,
                G_MAXUINT32));
      break;
    case FOURCC ('s', 't', 's', 's'):
      if (in_video_trak && w->plan->sync) {
        g_byte_array_set_size (out, at);
        write_stss (w, out);
      }
      break;
    case FOURCC ('s', 't', 'c', 'o'):
    case FOURCC ('c', 'o', '6', '4'):{
      gboolean wide = b->type == FOURCC ('c', 'o', '6', '4');
      guint32 n = b->payload_size >= 8 ? rd32 (payload + 4) : 0;
      if ((gsize) n * (wide ? 8 : 4) > b->payload_size - 8) {
        w->overflow = TRUE;
        break;
      }
      for (guint32 i = 0; i < n && w->delta != 0; i++) {
        guint8 *e = payload + 8 + i * (wide ? 8 : 4);
        gint64 off = wide ? (gint64) rd64 (e) : (gint64) rd32 (e);
        if (off < w->moov_offset)
          continue;
        off += w->delta;
        if (wide)
          wr64 (e, off);
        else if (off > G_MAXUINT32 || off < 0)
          w->overflow = TRUE;
        else
          wr32 (e, (guint32) off);
      }
      break;
    }
    default:
      break;
  }
}

static gboolean
is_container (guint32 type)
{
  return type == FOURCC ('t', 'r', 'a', 'k')
      || type == FOURCC ('m', 'd', 'i', 'a')
      || type == FOURCC ('m', 'i', 'n', 'f')
      || type == FOURCC ('s', 't', 'b', 'l');
}

static void
write_boxes (Writer * w, const guint8 * p, gsize len, GByteArray * out,
    gboolean in_video_trak)
{
  Box b;

  while (len > 0 && box_at (p, len, &b)) {
    gboolean video = in_video_trak || b.start == w->plan->trak;
    if ((in_video_trak && b.type == FOURCC ('e', 'd', 't', 's')) ||
        (w->drop_udta && b.type == FOURCC ('u', 'd', 't', 'a'))) {
      /* edts: replaced by the one written after tkhd */
    } else if (is_container (b.type)) {
      guint at = out->len;
      put32 (out, 0);
      put32 (out, b.type);
      write_boxes (w, b.payload, b.payload_size, out, video);
      if (video && w->plan->sync && b.type == FOURCC ('s', 't', 'b', 'l')) {
        Box old;
        if (!find_child (b.payload, b.payload_size, FOURCC ('s', 't', 's', 's'),
                &old))
          write_stss (w, out);
      }
      wr32 (out->data + at, out->len - at);
    } else {
      write_leaf (w, &b, out, video);
      if (in_video_trak && b.type == FOURCC ('t', 'k', 'h', 'd'))
        write_edts (w, out);
    }
    p += b.size;
    len -= b.size;
  }
}

static GByteArray *
build_moov (Writer * w, const guint8 * moov_payload, gsize len)
{
  GByteArray *out = g_byte_array_sized_new (len + 64);

  put32 (out, 0);
  put32 (out, FOURCC ('m', 'o', 'o', 'v'));
  write_boxes (w, moov_payload, len, out, FALSE);
  wr32 (out->data, out->len);
  return out;
}

static gboolean
set_io_error (GError ** error, const gchar * what, const gchar * path)
{
  int e = errno;
  g_set_error (error, LB_ERROR, LB_ERROR_IO, "%s %s: %s", what, path,
      g_strerror (e));
  return FALSE;
}

static gboolean
pread_all (int fd, guint8 * buf, gsize len, gint64 offset)
{
  while (len > 0) {
    ssize_t r = pread (fd, buf, len, offset);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return FALSE;
    buf += r;
    len -= r;
    offset += r;
  }
  return TRUE;
}

static gboolean
pwrite_all (int fd, const guint8 * buf, gsize len, gint64 offset)
{
  while (len > 0) {
    ssize_t r = pwrite (fd, buf, len, offset);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return FALSE;
    buf += r;
    len -= r;
    offset += r;
  }
  return TRUE;
}

/* Copies [from, to) of @in to the end of @out. */
static gboolean
copy_range (int in, int out, gint64 from, gint64 to)
{
  g_autofree guint8 *buf = g_malloc (1 << 20);
  gint64 dst = lseek (out, 0, SEEK_END);

  while (from < to) {
    gsize n = MIN ((gint64) (1 << 20), to - from);
    if (!pread_all (in, buf, n, from) || !pwrite_all (out, buf, n, dst))
      return FALSE;
    from += n;
    dst += n;
  }
  return TRUE;
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

  struct stat st;
  Plan plan = { 0 };            /* before any goto done */
  gint64 off = 0, moov_off = -1, moov_size = 0;
  gboolean ok = FALSE;
  g_autofree guint8 *moov = NULL;
  g_autoptr (GByteArray) new_moov = NULL;
  g_autofree gchar *tmp = NULL;
  int tfd = -1;

  if (fstat (fd, &st) < 0) {
    set_io_error (error, "cannot stat", path);
    goto done;
  }
  /* Top-level boxes: find the moov. */
  while (off + 8 <= st.st_size) {
    guint8 h[16];
    gint64 size;
    if (!pread_all (fd, h, MIN (16, st.st_size - off), off)) {
      set_io_error (error, "cannot read", path);
      goto done;
    }
    size = rd32 (h);
    if (size == 1)
      size = off + 16 <= st.st_size ? (gint64) rd64 (h + 8) : 0;
    else if (size == 0)
      size = st.st_size - off;
    if (size < 8 || off + size > st.st_size) {
      g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT,
          "%s: box at %" G_GINT64_FORMAT " is cut short", path, off);
      goto done;
    }
    if (rd32 (h + 4) == FOURCC ('m', 'o', 'o', 'v')) {
      moov_off = off;
      moov_size = size;
      break;
    }
    off += size;
  }
  if (moov_off < 0 || moov_size > MAX_MOOV) {
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT, "%s: no usable moov", path);
    goto done;
  }
  moov = g_malloc (moov_size);
  if (!pread_all (fd, moov, moov_size, moov_off)) {
    set_io_error (error, "cannot read", path);
    goto done;
  }
  Box mb;
  if (!box_at (moov, moov_size, &mb)) {
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT, "%s: bad moov", path);
    goto done;
  }

  if (!plan_track (mb.payload, mb.payload_size, skip_ns, duration_ns, &plan,
          out, error))
    goto done;

  Writer w = { &plan, moov_off + moov_size, 0, FALSE, FALSE };
  new_moov = build_moov (&w, mb.payload, mb.payload_size);
  /* A smaller moov (fewer sync samples) keeps its place: a free box fills
   * the rest, so the media data is not copied.  Entries are 4 bytes and a
   * box at least 8: when 4 bytes are left, one more late keyframe goes, or
   * the muxer's udta tags. */
  if ((gint64) new_moov->len == moov_size - 4) {
    if (plan.sync && plan.sync->len > 1)
      g_array_set_size (plan.sync, plan.sync->len - 1);
    else
      w.drop_udta = TRUE;       /* muxer tags only */
    g_byte_array_unref (new_moov);
    new_moov = build_moov (&w, mb.payload, mb.payload_size);
  }
  if ((gint64) new_moov->len + 8 <= moov_size) {
    guint32 gap = moov_size - new_moov->len;
    put32 (new_moov, gap);
    put32 (new_moov, FOURCC ('f', 'r', 'e', 'e'));
    g_byte_array_set_size (new_moov, moov_size);
    memset (new_moov->data + moov_size - (gap - 8), 0, gap - 8);
    wr32 (new_moov->data, moov_size);
  }
  if ((gint64) new_moov->len != moov_size) {
    w.delta = (gint64) new_moov->len - moov_size;
    g_byte_array_unref (new_moov);
    new_moov = build_moov (&w, mb.payload, mb.payload_size);
  }
  if (w.overflow) {
    g_set_error (error, LB_ERROR, LB_ERROR_CORRUPT,
        "%s: chunk offsets do not fit", path);
    goto done;
  }

  if (w.delta == 0) {
    if (!pwrite_all (fd, new_moov->data, new_moov->len, moov_off)
        || fdatasync (fd) < 0) {
      set_io_error (error, "cannot write", path);
      goto done;
    }
  } else {
    tmp = g_strconcat (path, ".trim", NULL);
    tfd = g_open (tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (tfd < 0) {
      set_io_error (error, "cannot create", tmp);
      goto done;
    }
    if (!copy_range (fd, tfd, 0, moov_off) ||
        !pwrite_all (tfd, new_moov->data, new_moov->len, moov_off) ||
        !copy_range (fd, tfd, moov_off + moov_size, st.st_size)
        || fdatasync (tfd) < 0) {
      set_io_error (error, "cannot write", tmp);
      goto done;
    }
    if (g_rename (tmp, path) < 0) {
      set_io_error (error, "cannot rename to", path);
      goto done;
    }
    g_clear_pointer (&tmp, g_free);
  }
  GST_INFO ("%s: edit list moved by %+" G_GINT64_FORMAT " bytes", path,
      w.delta);
  ok = TRUE;

done:
  g_clear_pointer (&plan.sync, g_array_unref);
  if (tfd >= 0)
    close (tfd);
  if (tmp)
    g_unlink (tmp);
  close (fd);
  return ok;
}
