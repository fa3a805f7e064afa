/* lookback — the reading half of lbrecordingsrc (not a factory) */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "lbrecordingreader.h"

#include "core/lb-error.h"
#include "core/lb-time.h"
#include "mp4/lb-mp4.h"
#include "mp4/lb-nal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

GST_DEBUG_CATEGORY_EXTERN (lb_recording_src_debug);
#define GST_CAT_DEFAULT lb_recording_src_debug

struct _LbRecordingReader
{
  GstPushSrc parent;

  /* set by lb_recording_reader_configure() in READY, then read by the
   * streaming thread only */
  GstElement *owner;            /* the bin; not a ref (it owns us) */
  gchar *store_dir;
  LbFootagePlan *plan;
  gint64 start_ns, end_ns;
  gboolean keyframes_only;
  gboolean audio;               /* reads the audio track (exactly the range) */
  gint64 nearest_ns;            /* LB_TIME_NONE, or: stop once no later
                                 * frame can be nearer to it */

  /* streaming thread only */
  guint piece;                  /* index in plan->pieces */
  guint keyframe;               /* next keyframe (fragment) of the piece */
  gint fd;                      /* the piece's file, -1 when none is open */
  gchar *path;
  gint64 file_size;
  LbMp4Init *init;
  LbMp4Fragment *fragment;      /* mode all: the fragment being pushed */
  gboolean have_dts_shift;
  gint64 dts_shift;             /* DTS moved back by this in the piece */
  guint sample;                 /* next sample of the fragment */
  GstCaps *caps;                /* caps pushed last */
  gboolean need_segment;
  gboolean discont;
  gboolean need_sync;           /* skipped samples: resume at a keyframe */
  guint next_gap;               /* first gap of plan->gaps not announced */
  gboolean have_last;
  gint64 last_dts;
  guint64 frames;
  gint64 first_pts, last_pts;
  guint64 nearest_distance;     /* of the pushed frame nearest nearest_ns */
  gboolean nearest_pushed;      /* no later frame can be nearer: done */
  GQueue durations;             /* keyframes mode: Timing of buffers pushed
                                 * and not yet out of the parser */

  /* protected by the object lock */
  guint64 bytes_read;
};

#define lb_recording_reader_parent_class parent_class
G_DEFINE_TYPE (LbRecordingReader, lb_recording_reader, GST_TYPE_PUSH_SRC);

typedef struct
{
  gint64 pts;
  gint64 duration;
} Timing;

/* The file of @segment: index paths are absolute or relative to the store's
 * folder.  Nothing else is ever looked for on disk. */
static gchar *
segment_path (LbRecordingReader * self, const LbSegment * segment)
{
  if (g_path_is_absolute (segment->path))
    return g_strdup (segment->path);
  return g_build_filename (self->store_dir, segment->path, NULL);
}

static void
close_piece (LbRecordingReader * self)
{
  if (self->fd >= 0)
    close (self->fd);
  self->fd = -1;
  g_clear_pointer (&self->path, g_free);
  g_clear_pointer (&self->init, lb_mp4_init_free);
  g_clear_pointer (&self->fragment, lb_mp4_fragment_free);
  self->sample = 0;
  self->keyframe = 0;
  self->have_dts_shift = FALSE;
  self->dts_shift = 0;
}

static LbFootagePiece *
current_piece (LbRecordingReader * self)
{
  return g_ptr_array_index (self->plan->pieces, self->piece);
}

static GstCaps *
piece_caps (LbRecordingReader * self, const LbFootagePiece * piece)
{
  const gchar *caps = self->audio ? piece->segment->audio_caps :
      piece->segment->caps;
  if (caps == NULL)
    return NULL;
  return gst_caps_from_string (caps);
}

/* The first piece of the plan with the stream the reader reads. */
static LbFootagePiece *
first_piece (LbRecordingReader * self)
{
  for (guint i = 0; i < self->plan->pieces->len; i++) {
    LbFootagePiece *piece = g_ptr_array_index (self->plan->pieces, i);
    if (!self->audio || piece->segment->audio)
      return piece;
  }
  return NULL;
}

/* A segment still being recorded is finalised when its file closes:
 * mp4mux invalidates the file's first moov, grows the first mdat over every
 * fragment, then appends the final moov.  Read in between, the file has no
 * moov (LB_ERROR_NOT_YET) for the time mp4mux takes to write one; the reader
 * waits for it, up to FINALISE_WAIT_US, polling every FINALISE_POLL_US.  A
 * closed segment without a moov is corrupt at once. */
#define FINALISE_WAIT_US (2 * G_USEC_PER_SEC)
#define FINALISE_POLL_US (10 * 1000)

static gboolean
read_init (LbRecordingReader * self, const LbSegment * segment, GError ** error)
{
  gint64 deadline = g_get_monotonic_time () + FINALISE_WAIT_US;

  while (TRUE) {
    GError *local = NULL;
    if (lb_mp4_read_init (self->fd, &self->init, &local))
      return TRUE;
    if (!segment->open || !g_error_matches (local, LB_ERROR, LB_ERROR_NOT_YET)
        || g_get_monotonic_time () >= deadline) {
      g_propagate_error (error, local);
      return FALSE;
    }
    GST_DEBUG_OBJECT (self, "%s has no moov (%s): its recording is closing "
        "it, waiting", self->path, local->message);
    g_error_free (local);
    g_usleep (FINALISE_POLL_US);
  }
}

/* Opens the file of the current piece; FALSE after posting an error. */
static gboolean
open_piece (LbRecordingReader * self)
{
  LbFootagePiece *piece = current_piece (self);
  g_autoptr (GError) error = NULL;
  struct stat st;

  if (self->audio && piece->segment->audio == NULL) {
    /* no audio in this segment: its time is silence in the clip */
    self->keyframe = piece->keyframes->len;
    self->discont = TRUE;
    return TRUE;
  }
  self->path = segment_path (self, piece->segment);
  self->fd = open (self->path, O_RDONLY | O_CLOEXEC);
  if (self->fd < 0) {
    gint saved = errno;
    if (saved == ENOENT)
      GST_ELEMENT_ERROR (self->owner, RESOURCE, NOT_FOUND,
          ("The segment file %s listed in the index is missing.", self->path),
          ("open: %s", g_strerror (saved)));
    else
      GST_ELEMENT_ERROR (self->owner, RESOURCE, OPEN_READ,
          ("Cannot open the segment file %s: %s.", self->path,
              g_strerror (saved)), (NULL));
    return FALSE;
  }
  if (fstat (self->fd, &st) != 0) {
    GST_ELEMENT_ERROR (self->owner, RESOURCE, READ,
        ("Cannot read the segment file %s: %s.", self->path,
            g_strerror (errno)), (NULL));
    return FALSE;
  }
  self->file_size = st.st_size;

  g_autoptr (GstCaps) caps = piece_caps (self, piece);
  if (caps == NULL) {
    GST_ELEMENT_ERROR (self->owner, STREAM, FORMAT,
        ("The index has no usable stream description for %s.", self->path),
        ("caps '%s'", GST_STR_NULL (piece->segment->caps)));
    return FALSE;
  }
  if (self->caps == NULL || !gst_caps_is_equal (caps, self->caps)) {
    GST_DEBUG_OBJECT (self, "caps of %s: %" GST_PTR_FORMAT, self->path, caps);
    gst_caps_replace (&self->caps, caps);
    if (!gst_base_src_set_caps (GST_BASE_SRC (self), caps)) {
      GST_ELEMENT_ERROR (self->owner, CORE, NEGOTIATION,
          ("Downstream does not accept the stream of %s.", self->path),
          ("caps %" GST_PTR_FORMAT, caps));
      return FALSE;
    }
  }

  if (!self->keyframes_only && !read_init (self, piece->segment, &error)) {
    GST_ELEMENT_ERROR (self->owner, STREAM, DEMUX,
        ("The segment file %s is corrupt: %s", self->path, error->message),
        (NULL));
    return FALSE;
  }
  if (self->audio && self->init->audio == NULL) {
    GST_ELEMENT_ERROR (self->owner, STREAM, DEMUX,
        ("The segment file %s has no audio track, but the index says it "
            "has.", self->path), (NULL));
    return FALSE;
  }
  GST_DEBUG_OBJECT (self, "reading %s (%u fragments)", self->path,
      piece->keyframes->len);
  return TRUE;
}

/* @size bytes at @offset of the open file; NULL after posting an error. */
static GstBuffer *
read_bytes (LbRecordingReader * self, gint64 offset, gint64 size)
{
  GstMapInfo map;
  gsize done = 0;

  if (size <= 0 || offset < 0 || offset + size > self->file_size) {
    GST_ELEMENT_ERROR (self->owner, STREAM, DEMUX,
        ("The segment file %s is corrupt or truncated: a sample lies outside "
            "the file.", self->path), ("%" G_GINT64_FORMAT " bytes at %"
            G_GINT64_FORMAT ", file size %" G_GINT64_FORMAT, size, offset,
            self->file_size));
    return NULL;
  }

  GstBuffer *buffer = gst_buffer_new_allocate (NULL, size, NULL);
  gst_buffer_map (buffer, &map, GST_MAP_WRITE);
  while (done < (gsize) size) {
    ssize_t n = pread (self->fd, map.data + done, size - done, offset + done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      gint saved = errno;
      gst_buffer_unmap (buffer, &map);
      gst_buffer_unref (buffer);
      GST_ELEMENT_ERROR (self->owner, RESOURCE, READ,
          ("Cannot read the segment file %s: %s.", self->path,
              n < 0 ? g_strerror (saved) : "unexpected end of file"), (NULL));
      return NULL;
    }
    done += n;
  }
  gst_buffer_unmap (buffer, &map);

  GST_OBJECT_LOCK (self);
  self->bytes_read += size;
  GST_OBJECT_UNLOCK (self);
  return buffer;
}

/* A keyframe sample must be a run of length-prefixed NAL units holding an
 * IRAP picture: garbage is refused here rather than fed to a decoder. */
static gboolean
check_keyframe (LbRecordingReader * self, GstBuffer * buffer)
{
  const gchar *codec = current_piece (self)->segment->codec;
  LbNalCodec nal_codec = LB_NAL_H264;
  gboolean known = lb_nal_codec_from_name (codec, &nal_codec);
  gboolean irap = FALSE;
  GstMapInfo map;
  gsize pos = 0;

  gst_buffer_map (buffer, &map, GST_MAP_READ);
  while (known && pos + 5 <= map.size) {
    guint32 len = GST_READ_UINT32_BE (map.data + pos);
    LbNal nal;
    if (len == 0 || len > map.size - pos - 4)
      break;
    if (lb_nal_parse (nal_codec, map.data + pos + 4, len, &nal))
      irap |= nal.keyframe;
    pos += 4 + len;
  }
  gboolean ok = pos == map.size && irap;
  gst_buffer_unmap (buffer, &map);

  if (!ok)
    GST_ELEMENT_ERROR (self->owner, STREAM, DEMUX,
        ("The segment file %s is corrupt: the keyframe at offset %"
            G_GUINT64_FORMAT " is not an %s keyframe.", self->path,
            GST_BUFFER_OFFSET (buffer), nal_codec == LB_NAL_H265 ?
            "H.265" : "H.264"), (NULL));
  return ok;
}

static void
post_gap (LbRecordingReader * self, const LbTimeRange * gap)
{
  self->discont = TRUE;
  if (self->audio)
    return;                     /* the video reader tells */
  g_autofree gchar *start = lb_time_format_rfc3339 (gap->start_ns);
  g_autofree gchar *end = lb_time_format_rfc3339 (gap->end_ns);

  GST_INFO_OBJECT (self, "gap in the footage from %s to %s", start, end);
  gst_element_post_message (self->owner,
      gst_message_new_element (GST_OBJECT (self->owner),
          gst_structure_new ("lbrecordingsrc-gap",
              "start", G_TYPE_INT64, gap->start_ns,
              "end", G_TYPE_INT64, gap->end_ns,
              "description", G_TYPE_STRING, "no footage recorded", NULL)));
}

/* Announces the gaps that lie before @pts (all of them when @pts is
 * LB_TIME_NONE). */
static void
announce_gaps (LbRecordingReader * self, gint64 pts)
{
  GArray *gaps = self->plan->gaps;

  while (gaps != NULL && self->next_gap < gaps->len) {
    const LbTimeRange *gap = &g_array_index (gaps, LbTimeRange,
        self->next_gap);
    if (pts != LB_TIME_NONE && gap->start_ns >= pts)
      break;
    post_gap (self, gap);
    self->next_gap++;
  }
}

static void
post_done (LbRecordingReader * self)
{
  if (self->audio)
    return;
  guint64 bytes = lb_recording_reader_get_bytes_read (self);

  gst_element_post_message (self->owner,
      gst_message_new_element (GST_OBJECT (self->owner),
          gst_structure_new ("lbrecordingsrc-done",
              "frames", G_TYPE_UINT64, self->frames,
              "bytes-read", G_TYPE_UINT64, bytes,
              "first-time", G_TYPE_INT64, self->first_pts,
              "last-time", G_TYPE_INT64, self->last_pts,
              "gaps", G_TYPE_UINT, self->plan->gaps ? self->plan->gaps->len : 0,
              NULL)));
}

/* Stamps @buffer and notes it as pushed. */
static GstBuffer *
finish_buffer (LbRecordingReader * self, GstBuffer * buffer, gint64 pts,
    gint64 dts, gint64 duration, gboolean sync)
{
  GST_LOG_OBJECT (self, "sample pts %" G_GINT64_FORMAT " dts %" G_GINT64_FORMAT
      " duration %" G_GINT64_FORMAT "%s", pts, dts, duration,
      sync ? " (keyframe)" : "");
  announce_gaps (self, pts);
  GST_BUFFER_PTS (buffer) = pts;
  GST_BUFFER_DTS (buffer) = dts;
  GST_BUFFER_DURATION (buffer) = duration > 0 ? (GstClockTime) duration :
      GST_CLOCK_TIME_NONE;
  if (!sync)
    GST_BUFFER_FLAG_SET (buffer, GST_BUFFER_FLAG_DELTA_UNIT);
  if (self->discont)
    GST_BUFFER_FLAG_SET (buffer, GST_BUFFER_FLAG_DISCONT);
  self->discont = FALSE;

  if (self->keyframes_only) {
    Timing *t = g_new (Timing, 1);
    t->pts = pts;
    t->duration = duration;
    g_queue_push_tail (&self->durations, t);
  }
  if (self->frames == 0)
    self->first_pts = pts;
  self->last_pts = pts;
  self->frames++;
  self->have_last = TRUE;
  self->last_dts = dts;
  return buffer;
}

/* keyframes mode: the next keyframe's sample, straight from the index. */
static GstFlowReturn
next_keyframe (LbRecordingReader * self, GstBuffer ** out)
{
  LbFootagePiece *piece = current_piece (self);
  const LbKeyframe *kf = &g_array_index (piece->keyframes, LbKeyframe,
      self->keyframe);
  gint64 next = self->keyframe + 1 < piece->keyframes->len ?
      g_array_index (piece->keyframes, LbKeyframe, self->keyframe + 1).time_ns
      : piece->segment->end_ns;

  self->keyframe++;
  if (self->have_last && kf->time_ns <= self->last_dts)
    return GST_FLOW_OK;         /* overlapping segments: already pushed */

  GstBuffer *buffer = read_bytes (self, kf->sample_offset, kf->sample_size);
  if (buffer == NULL)
    return GST_FLOW_ERROR;
  GST_BUFFER_OFFSET (buffer) = kf->sample_offset;
  if (!check_keyframe (self, buffer)) {
    gst_buffer_unref (buffer);
    return GST_FLOW_ERROR;
  }
  *out = finish_buffer (self, buffer, kf->time_ns, kf->time_ns,
      next - kf->time_ns, TRUE);
  return GST_FLOW_OK;
}

/* With a nearest time: whether the sample decoded at @dts, and every one
 * after it, is farther from it than a frame already pushed.  A frame is
 * shown no earlier than it is decoded (dts <= pts) and decode times only
 * grow, so once the decode time is past the nearest time by the distance
 * of the best frame pushed, no later frame can beat it (a tie goes to the
 * earlier frame, which is pushed already). */
static gboolean
past_nearest (LbRecordingReader * self, gint64 dts)
{
  if (self->nearest_ns == LB_TIME_NONE || self->audio || dts < self->nearest_ns)
    return FALSE;
  return (guint64) (dts - self->nearest_ns) >= self->nearest_distance;
}

static void
note_nearest (LbRecordingReader * self, gint64 pts)
{
  if (self->nearest_ns == LB_TIME_NONE)
    return;
  self->nearest_distance = MIN (self->nearest_distance,
      (guint64) ABS (pts - self->nearest_ns));
}

/* mode all: the next sample of the current fragment, reading the fragment
 * when needed. */
static GstFlowReturn
next_sample (LbRecordingReader * self, GstBuffer ** out)
{
  LbFootagePiece *piece = current_piece (self);
  const LbSegment *segment = piece->segment;
  g_autoptr (GError) error = NULL;

  if (self->fragment == NULL || self->sample >= self->fragment->samples->len) {
    const LbKeyframe *kf = &g_array_index (piece->keyframes, LbKeyframe,
        self->keyframe);

    g_clear_pointer (&self->fragment, lb_mp4_fragment_free);
    self->sample = 0;
    self->keyframe++;
    if (!lb_mp4_read_range (self->fd, self->audio ? self->init->audio :
            self->init, kf->offset, kf->size, &self->fragment, &error)) {
      GST_ELEMENT_ERROR (self->owner, STREAM, DEMUX,
          ("The segment file %s is corrupt: %s", self->path, error->message),
          ("fragment at %" G_GINT64_FORMAT, kf->offset));
      return GST_FLOW_ERROR;
    }
    GST_LOG_OBJECT (self, "fragment at %" G_GINT64_FORMAT ": %u samples",
        kf->offset, self->fragment->samples->len);
    if (!self->have_dts_shift && !self->audio) {
      /* negative composition offsets (ctts version 1) put some DTS after
       * their PTS: move the piece's DTS back so that no frame is decoded
       * after it is shown (as qtdemux does) */
      for (guint i = 0; i < self->fragment->samples->len; i++) {
        const LbMp4Sample *x = &g_array_index (self->fragment->samples,
            LbMp4Sample, i);
        self->dts_shift = MAX (self->dts_shift, x->dts_ns - x->pts_ns);
      }
      self->have_dts_shift = TRUE;
      if (self->dts_shift > 0)
        GST_DEBUG_OBJECT (self, "%s: DTS moved back by %" G_GINT64_FORMAT
            " ns", self->path, self->dts_shift);
    }
    return GST_FLOW_OK;
  }

  const LbMp4Sample *s = &g_array_index (self->fragment->samples, LbMp4Sample,
      self->sample);
  gint64 pts = segment->start_ns + (s->pts_ns - segment->media_base_ns);
  gint64 dts = segment->start_ns + (s->dts_ns - segment->media_base_ns) -
      self->dts_shift;
  if (self->audio) {
    /* the tracks line up by their edit lists */
    gint64 shift = self->init->audio->edit_ns - self->init->edit_ns;
    pts += shift;
    dts += shift;
  }

  self->sample++;
  dts = MIN (dts, pts);
  /* audio: the frames that sound in the range (every frame decodes
   * alone): the one playing at its start first */
  if (self->audio && (pts + s->duration_ns <= self->start_ns
          || (self->end_ns > self->start_ns && pts >= self->end_ns)))
    return GST_FLOW_OK;
  /* past the range: nothing decoded from here on can be shown in it */
  if (self->end_ns > self->start_ns && dts >= self->end_ns)
    return GST_FLOW_OK;
  /* overlapping segments: never push a frame twice */
  if (self->have_last && dts <= self->last_dts) {
    self->need_sync = TRUE;
    return GST_FLOW_OK;
  }
  if (self->need_sync && !s->sync)
    return GST_FLOW_OK;
  self->need_sync = FALSE;
  if (past_nearest (self, dts)) {
    GST_DEBUG_OBJECT (self, "the frame nearest %" G_GINT64_FORMAT
        " is pushed", self->nearest_ns);
    self->nearest_pushed = TRUE;
    return GST_FLOW_OK;
  }

  GstBuffer *buffer = read_bytes (self, s->offset, s->size);
  if (buffer == NULL)
    return GST_FLOW_ERROR;
  GST_BUFFER_OFFSET (buffer) = s->offset;
  if (s->sync && !self->audio && !check_keyframe (self, buffer)) {
    gst_buffer_unref (buffer);
    return GST_FLOW_ERROR;
  }
  note_nearest (self, pts);
  *out = finish_buffer (self, buffer, pts, dts, s->duration_ns, s->sync);
  return GST_FLOW_OK;
}

static GstFlowReturn
lb_recording_reader_create (GstPushSrc * src, GstBuffer ** out)
{
  LbRecordingReader *self = LB_RECORDING_READER (src);

  if (self->need_segment) {
    GstSegment segment;

    gst_segment_init (&segment, GST_FORMAT_TIME);
    segment.start = self->start_ns;
    segment.time = self->start_ns;
    segment.position = self->start_ns;
    if (self->end_ns > self->start_ns)
      segment.stop = self->end_ns;
    GST_DEBUG_OBJECT (self, "segment %" GST_SEGMENT_FORMAT, &segment);
    gst_base_src_new_segment (GST_BASE_SRC (self), &segment);
    self->need_segment = FALSE;
  }

  *out = NULL;
  while (*out == NULL) {
    GstFlowReturn ret;

    if (self->nearest_pushed) {
      post_done (self);
      return GST_FLOW_EOS;
    }
    if (self->piece >= self->plan->pieces->len) {
      announce_gaps (self, LB_TIME_NONE);
      post_done (self);
      GST_DEBUG_OBJECT (self, "done: %" G_GUINT64_FORMAT " frames",
          self->frames);
      return GST_FLOW_EOS;
    }
    LbFootagePiece *piece = current_piece (self);
    if (self->fd < 0 && !open_piece (self))
      return GST_FLOW_ERROR;

    if (self->keyframe >= piece->keyframes->len &&
        (self->fragment == NULL ||
            self->sample >= self->fragment->samples->len)) {
      close_piece (self);
      self->piece++;
      continue;
    }
    ret = self->keyframes_only ? next_keyframe (self, out) :
        next_sample (self, out);
    if (ret != GST_FLOW_OK)
      return ret;
  }
  return GST_FLOW_OK;
}

static gboolean
lb_recording_reader_negotiate (GstBaseSrc * src)
{
  LbRecordingReader *self = LB_RECORDING_READER (src);

  /* the caps come from the index, not from a peer query */
  if (self->caps == NULL)
    return TRUE;
  return gst_base_src_set_caps (src, self->caps);
}

static gboolean
lb_recording_reader_start (GstBaseSrc * src)
{
  LbRecordingReader *self = LB_RECORDING_READER (src);

  g_return_val_if_fail (self->plan != NULL, FALSE);

  self->piece = 0;
  self->keyframe = 0;
  self->sample = 0;
  self->need_segment = TRUE;
  self->discont = TRUE;
  self->need_sync = FALSE;
  self->next_gap = 0;
  self->have_last = FALSE;
  self->frames = 0;
  self->first_pts = LB_TIME_NONE;
  self->last_pts = LB_TIME_NONE;
  self->nearest_distance = G_MAXUINT64;
  self->nearest_pushed = FALSE;
  g_queue_clear_full (&self->durations, g_free);
  GST_OBJECT_LOCK (self);
  self->bytes_read = 0;
  GST_OBJECT_UNLOCK (self);

  /* the first piece's caps, so that negotiation happens before the first
   * buffer */
  gst_clear_caps (&self->caps);
  LbFootagePiece *first = first_piece (self);
  if (first)
    self->caps = piece_caps (self, first);
  return TRUE;
}

static gboolean
lb_recording_reader_stop (GstBaseSrc * src)
{
  LbRecordingReader *self = LB_RECORDING_READER (src);

  close_piece (self);
  gst_clear_caps (&self->caps);
  g_queue_clear_full (&self->durations, g_free);
  return TRUE;
}

static gboolean
lb_recording_reader_is_seekable (GstBaseSrc * src)
{
  return FALSE;
}

void
lb_recording_reader_configure (LbRecordingReader * self, GstElement * owner,
    const gchar * store_dir, LbFootagePlan * plan, gint64 start_ns,
    gint64 end_ns, gboolean keyframes_only)
{
  g_return_if_fail (LB_IS_RECORDING_READER (self));
  g_return_if_fail (plan != NULL);

  self->owner = owner;
  g_free (self->store_dir);
  self->store_dir = g_strdup (store_dir);
  g_clear_pointer (&self->plan, lb_footage_plan_free);
  self->plan = plan;
  self->start_ns = start_ns;
  self->end_ns = end_ns;
  self->keyframes_only = keyframes_only;
}

void
lb_recording_reader_set_nearest (LbRecordingReader * self, gint64 nearest_ns)
{
  g_return_if_fail (LB_IS_RECORDING_READER (self));
  self->nearest_ns = nearest_ns;
}

void
lb_recording_reader_set_audio (LbRecordingReader * self, gboolean audio)
{
  g_return_if_fail (LB_IS_RECORDING_READER (self));
  self->audio = audio;
}

gboolean
lb_recording_plan_has_audio (const LbFootagePlan * plan)
{
  g_return_val_if_fail (plan != NULL, FALSE);
  for (guint i = 0; i < plan->pieces->len; i++) {
    const LbFootagePiece *piece = g_ptr_array_index (plan->pieces, i);
    if (piece->segment->audio)
      return TRUE;
  }
  return FALSE;
}

void
lb_recording_reader_restore_duration (LbRecordingReader * self,
    GstBuffer * buffer)
{
  GstClockTime pts = GST_BUFFER_PTS (buffer);
  Timing *t;

  while ((t = g_queue_peek_head (&self->durations)) != NULL &&
      (!GST_CLOCK_TIME_IS_VALID (pts) || t->pts <= (gint64) pts)) {
    g_queue_pop_head (&self->durations);
    if (t->pts == (gint64) pts && t->duration > 0)
      GST_BUFFER_DURATION (buffer) = t->duration;
    g_free (t);
  }
}

guint64
lb_recording_reader_get_bytes_read (LbRecordingReader * self)
{
  guint64 bytes;

  g_return_val_if_fail (LB_IS_RECORDING_READER (self), 0);

  GST_OBJECT_LOCK (self);
  bytes = self->bytes_read;
  GST_OBJECT_UNLOCK (self);
  return bytes;
}

static void
lb_recording_reader_finalize (GObject * object)
{
  LbRecordingReader *self = LB_RECORDING_READER (object);

  close_piece (self);
  gst_clear_caps (&self->caps);
  g_queue_clear_full (&self->durations, g_free);
  g_clear_pointer (&self->plan, lb_footage_plan_free);
  g_free (self->store_dir);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("video/x-h264; video/x-h265; audio/mpeg; audio/x-opus"));

static void
lb_recording_reader_class_init (LbRecordingReaderClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSrcClass *basesrc_class = GST_BASE_SRC_CLASS (klass);
  GstPushSrcClass *pushsrc_class = GST_PUSH_SRC_CLASS (klass);

  gobject_class->finalize = lb_recording_reader_finalize;

  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "Recording reader", "Source/Video",
      "Reads the samples of a footage plan (inside lbrecordingsrc)",
      "the lookback authors");

  basesrc_class->start = GST_DEBUG_FUNCPTR (lb_recording_reader_start);
  basesrc_class->stop = GST_DEBUG_FUNCPTR (lb_recording_reader_stop);
  basesrc_class->negotiate = GST_DEBUG_FUNCPTR (lb_recording_reader_negotiate);
  basesrc_class->is_seekable =
      GST_DEBUG_FUNCPTR (lb_recording_reader_is_seekable);
  pushsrc_class->create = GST_DEBUG_FUNCPTR (lb_recording_reader_create);
}

static void
lb_recording_reader_init (LbRecordingReader * self)
{
  self->fd = -1;
  self->nearest_ns = LB_TIME_NONE;
  g_queue_init (&self->durations);
  gst_base_src_set_format (GST_BASE_SRC (self), GST_FORMAT_TIME);
  gst_base_src_set_live (GST_BASE_SRC (self), FALSE);
  /* the reader decides when it is done: basesrc would stop at the first
   * buffer reaching the segment's stop, losing the B-frames that follow it
   * in decode order, the trailing gaps and the done message */
  gst_base_src_set_automatic_eos (GST_BASE_SRC (self), FALSE);
}
