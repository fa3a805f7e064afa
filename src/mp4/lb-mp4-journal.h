/* lookback — the sample journal of a segment being written
 *
 * mp4mux (fragment-mode=first-moov-then-finalise) appends each sample to
 * the mdat of the current fragment as it comes and writes the moof that
 * describes them only when the fragment ends, so a kill leaves the last
 * fragment's samples in a moof-less mdat.  With one video track,
 * lb_mp4_recover_tail() tells them apart by their NAL units.  With audio,
 * the video samples and the audio frames are interleaved there, and an AAC
 * or Opus frame carries no length: the file alone cannot tell where one
 * ends.  So the segment writer keeps, beside a segment with audio, a
 * journal of every sample it hands the muxer, and recovery reads it.
 *
 * The journal of "<segment>.mp4" is "<segment>.mp4.journal": an 8-byte
 * header ("LBJ1", then the record size, 32, big-endian) and one 32-byte
 * record per sample, per track in the muxer's order (the tracks' records
 * may interleave in any order):
 *
 *   0  track (0 video, 1 audio)      1  flags (bit 0: a keyframe)
 *   2  reserved (0, 2 bytes)         4  size in bytes (u32)
 *   8  digest (u32, lb_mp4_journal_digest of its bytes)
 *  12  DTS, ns of running time (s64; -1: none)
 *  20  PTS, ns of running time (s64; -1: none)
 *  28  duration, ns (u32; 0: none)
 *
 * Everything is big-endian.  Records are appended with one write(2) each
 * as the muxer receives the sample, before the muxer writes it, so after
 * a kill -9 the journal covers every sample in the file.  The journal is
 * never fsynced (neither is the mdat it describes): after a power cut the
 * recovery keeps only the samples whose bytes match their record.  It is
 * bounded: at most LB_MP4_JOURNAL_MAX_RECORDS records (8 MiB), after
 * which the writer stops appending (a longer segment's torn tail is then
 * not recovered).  It is removed when its segment closes, and by reconcile
 * once the segment's tail is recovered.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define LB_MP4_JOURNAL_SUFFIX ".journal"
#define LB_MP4_JOURNAL_MAX_RECORDS (1 << 18)

typedef enum {
  LB_MP4_JOURNAL_VIDEO = 0,
  LB_MP4_JOURNAL_AUDIO = 1,
} LbMp4JournalTrack;

typedef struct {
  LbMp4JournalTrack track;
  gboolean sync;                /* a keyframe */
  guint32 size;
  guint32 digest;
  gint64 dts_ns, pts_ns;        /* running time; -1 when unknown */
  gint64 duration_ns;           /* 0 when unknown */
} LbMp4JournalEntry;

/* "<@segment_path>.journal" */
gchar       *lb_mp4_journal_path    (const gchar *segment_path);

/* What identifies a sample of @size bytes: a hash of its size and of its
 * first and last 32 bytes (@head, @tail: min (32, @size) bytes each). */
guint32      lb_mp4_journal_digest  (guint32       size,
                                     const guint8 *head,
                                     const guint8 *tail);

/* ---- writing (the segment writer) ---- */

typedef struct _LbMp4Journal LbMp4Journal;

/* Creates (truncates) the journal of @segment_path, mode 0600. */
LbMp4Journal *lb_mp4_journal_create (const gchar  *segment_path,
                                     GError      **error);
/* Appends one record (one write(2); thread-safe).  FALSE once a write
 * failed or the journal is full: it then stays so, and appends nothing
 * more. */
gboolean     lb_mp4_journal_append  (LbMp4Journal            *journal,
                                     const LbMp4JournalEntry *entry);
/* Closes it (the file stays). */
void         lb_mp4_journal_close   (LbMp4Journal *journal);

/* ---- reading (recovery) ---- */

/* The records of @len bytes of a journal, per track (LbMp4JournalEntry
 * arrays, in the muxer's order); a torn last record is left out.
 * LB_ERROR_CORRUPT when the header is wrong, a record's track is unknown
 * or there are more than LB_MP4_JOURNAL_MAX_RECORDS records. */
gboolean     lb_mp4_journal_parse   (const guint8  *data,
                                     gsize          len,
                                     GArray       **out_video,
                                     GArray       **out_audio,
                                     GError       **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbMp4Journal, lb_mp4_journal_close)

G_END_DECLS
