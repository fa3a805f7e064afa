/* lookback — reading ISO BMFF (MP4) segments: init and fragments
 *
 * lookback records with mp4mux fragment-mode=first-moov-then-finalise.
 * While such a file grows it looks like this (checked on GStreamer 1.22):
 *
 *   ftyp | free | mdat (first GOP) | moov (stbl for the first GOP, mvex) |
 *   free | mdat | moof | free | mdat | moof | ... | mdat (being written)
 *
 * i.e. the first fragment is described by the moov's sample table and every
 * later fragment by a moof that FOLLOWS its mdat (tfhd base-data-offset
 * points back).  At EOS mp4mux "finalises" the file: it rewrites the mdat
 * header at the start to span everything, overwrites the early moov and
 * appends a complete moov (no mvex) at the end.  All sample bytes and the
 * later moofs stay where they were, so offsets indexed while the file grew
 * stay valid.  A file cut by a crash keeps every complete mdat+moof pair,
 * and its last mdat (header size 0 while mp4mux writes into it) holds the
 * samples of a fragment whose moof was not written: lb_mp4_recover_tail()
 * gives it one.  Until the second fragment begins the file is only
 * "ftyp | free | mdat (first GOP, header size 0)": lb_mp4_recover_first()
 * gives it the moov.
 *
 * A "fragment" here is a byte range holding whole samples of the video
 * track: one moof and its mdat (+ padding boxes) in fragmented files, or one
 * GOP of samples described by a moov sample table.  Times are nanoseconds on
 * the file's media timeline.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  gint64 offset;                /* byte offset of the sample in the file */
  guint32 size;
  gint64 dts_ns, pts_ns, duration_ns;
  gboolean sync;                /* a keyframe (IDR) */
} LbMp4Sample;

typedef struct _LbMp4Init {
  guint32 track_id;             /* the (first) video track */
  guint tracks;                 /* trak boxes in the moov (any kind) */
  guint32 timescale;
  gchar *codec;                 /* "h264" or "h265" */
  gchar *sample_entry;          /* "avc1", "avc3", "hvc1", "hev1" */
  gint width, height;
  gint fps_n, fps_d;            /* from the sample durations; 0/1 when unknown */
  GBytes *codec_data;           /* avcC / hvcC payload */
  gchar *caps;                  /* GstCaps string with codec_data, width, height */
  gint64 init_size;             /* end of the moov box: fragments follow it */
  gint64 moov_offset, moov_size;
  gboolean fragmented;          /* moov has mvex: more fragments may follow */
  GArray *samples;              /* LbMp4Sample described by the moov's sample table
                                 * (the first GOP while growing, everything once
                                 * finalised), in decode order */
  guint32 trex_duration, trex_size, trex_flags;
  /* The first AAC or Opus track, NULL when there is none: its own id,
   * timescale, codec ("aac", "opus"), sample_entry, codec_data (the
   * AudioSpecificConfig), caps, samples and trex, read with the functions
   * below like the video (lb_mp4_read_range (fd, init->audio, …) gives the
   * audio samples of an indexed fragment's bytes). */
  struct _LbMp4Init *audio;
  guint32 movie_timescale;      /* mvhd's */
  gint64 edit_ns;               /* presentation time of media time 0 (its
                                 * edit list: empty edits minus the media
                                 * time it starts at); the tracks of a file
                                 * line up by it */
} LbMp4Init;

typedef struct {
  gint64 offset;                /* first byte of the fragment (padding/mdat/moof) */
  gint64 size;                  /* bytes of the fragment */
  gint64 next_offset;           /* where the next fragment's scan starts */
  GArray *samples;              /* LbMp4Sample of the video track, decode order */
} LbMp4Fragment;

/* Errors of the reader, for every function below:
 *   LB_ERROR_NOT_YET   the file ends before what is asked for (a file still
 *                      being written, or one cut by a crash);
 *   LB_ERROR_CORRUPT   not what lookback records: not MP4, no H.264/H.265
 *                      track, a box or table that does not parse, or sizes
 *                      that do not fit the file or are over the reader's
 *                      limits (a moov over 64 MiB, a moof over 16 MiB, more
 *                      than 2^21 samples in a moov or 2^18 in a moof).
 *                      Checked before anything is allocated: a damaged file
 *                      costs at most about its own size (and those limits).
 *                      Such a file stays corrupt: do not retry it;
 *   LB_ERROR_IO        reading failed. */

/* Reads ftyp + moov (wherever the moov is).  LB_ERROR_NOT_YET while the file
 * has no moov yet (the first fragment is still being written). */
gboolean     lb_mp4_read_init      (gint            fd,
                                    LbMp4Init     **out,
                                    GError        **error);
gboolean     lb_mp4_read_init_path (const gchar    *path,
                                    LbMp4Init     **out,
                                    GError        **error);

/* Where the first fragment starts (start of a scan with lb_mp4_read_fragment). */
gint64       lb_mp4_first_offset   (const LbMp4Init *init);

/* Reads the fragment that starts at @offset (a previous fragment's
 * next_offset, or lb_mp4_first_offset()).  FALSE with LB_ERROR_NOT_YET when
 * it is not complete within @file_size (growing file, or cut by a crash);
 * LB_ERROR_CORRUPT for garbage.  TRUE with *@out = NULL when the file is
 * finalised and @offset is past its last sample (nothing more will come). */
gboolean     lb_mp4_read_fragment  (gint                fd,
                                    const LbMp4Init    *init,
                                    gint64              offset,
                                    gint64              file_size,
                                    LbMp4Fragment     **out,
                                    GError            **error);

/* The video samples whose bytes lie in [@offset, @offset + @size): what a
 * reader uses to play an indexed fragment, whether the file is still
 * fragmented or has been finalised since it was indexed. */
gboolean     lb_mp4_read_range     (gint                fd,
                                    const LbMp4Init    *init,
                                    gint64              offset,
                                    gint64              size,
                                    LbMp4Fragment     **out,
                                    GError            **error);

/* Crash recovery of a fragmented file whose writer is dead (never call it
 * on a file that is still being written).  mp4mux writes each fragment as
 * its mdat first (header size 0, samples appended as they come) and its moof
 * only when the next fragment starts, so a kill leaves the last fragment's
 * samples in a trailing mdat that no moof describes.  This splits that mdat
 * (H.264 or H.265, length-prefixed NAL units) into access units, drops a
 * torn NAL unit at its end, gives each access unit the frame duration of
 * the fragments before it, and appends the moof that describes them: the
 * file becomes a normal fragmented file again (synced to disk before
 * returning).  When the earlier fragments have composition offsets
 * (B-frames), the order of display of the access units comes from their
 * picture order counts (lb-nal.h) and the moof carries composition offsets;
 * access units after a hole in that order (a reference frame whose B-frames
 * were cut off) are left out.
 *
 * @fd must be open for reading and writing.  TRUE with *@out_samples = 0 when
 * there is nothing to recover or recovery is refused (then *@out_note, if
 * given, says why): neither H.264 nor H.265, more than one track (and no
 * journal), no earlier sample to take the frame duration from (that of the
 * last fragment whose samples have a non-zero one, else trex's default,
 * else the frame rate), B-frames whose order of display cannot be told
 * (field pictures, H.264 POC type 1, parameter sets that do not parse).
 * The file is then left as it was.  FALSE only on I/O errors. */
gboolean     lb_mp4_recover_tail   (gint                fd,
                                    guint              *out_samples,
                                    gchar             **out_note,
                                    GError            **error);

/* The same for a file with a video and an AAC or Opus track, whose samples
 * lie interleaved in the trailing mdat: @journal (the bytes of its sample
 * journal, lb-mp4-journal.h; NULL: none) tells them apart.  Each sample
 * there is the next one of its track's journal whose size and digest match
 * its bytes; the video samples kept are those shown one after the other
 * without a hole (B-frames: their order of display from the journal's
 * times), the audio ones those that end no later than that video: never
 * audio beyond the kept video, so that clips stay in sync.  Times come
 * from the journal, on from the end of each track's complete fragments.
 * *@out_samples counts the video samples.  A file of one video track is
 * recovered as by lb_mp4_recover_tail() (the journal is not needed). */
gboolean     lb_mp4_recover_tail_journal (gint          fd,
                                          GBytes       *journal,
                                          guint        *out_samples,
                                          gchar       **out_note,
                                          GError      **error);

/* Crash recovery of a file whose writer died within its first fragment:
 * mp4mux writes a file's moov only when its second fragment begins, so
 * such a file holds an ftyp and the first GOP's mdat (header size 0) but
 * nothing that describes it.  @previous_fd is the input's previous segment
 * (a file lookback recorded before it, with a moov; -1: none): its sample
 * entry (codec data, width, height), timescale and frame duration are
 * taken for this file, whose samples are split into access units as by
 * lb_mp4_recover_tail() (B-frames: their order of display from their
 * picture order counts, with the step learnt from the previous segment's
 * first GOP).  The torn bytes are cut, the mdat closed and a moov appended
 * that describes the samples in its sample table and has an mvex, as the
 * muxer's own once its first fragment is over; each step synced, and a
 * file cut by a kill during the recovery is recovered again.
 *
 * TRUE with *@out_samples = 0 when there is nothing to do (the file has a
 * moov: see lb_mp4_recover_tail()) or recovery is refused, the file left
 * as it was (*@out_note, if given, says why): no previous segment, one
 * that is not a single H.264 or H.265 track (a file with audio), no frame
 * duration in it, a first frame that is not a keyframe, in-band parameter
 * sets that are not those of its codec data, no whole access unit, or a
 * closed mdat (a size in its header) that is cut short or holds more than
 * whole frames (not what a kill leaves: a damaged file is not cut).
 * FALSE only on I/O errors. */
gboolean     lb_mp4_recover_first  (gint                fd,
                                    gint                previous_fd,
                                    guint              *out_samples,
                                    gchar             **out_note,
                                    GError            **error);

gint64       lb_mp4_to_ns          (const LbMp4Init *init,
                                    gint64           ticks);

void         lb_mp4_init_free      (LbMp4Init *init);
void         lb_mp4_fragment_free  (LbMp4Fragment *fragment);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbMp4Init, lb_mp4_init_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbMp4Fragment, lb_mp4_fragment_free)

G_END_DECLS
