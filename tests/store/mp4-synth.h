/* Test helper: small MP4 files written box by box, for the cases a muxer
 * never writes (huge sample counts, truncated or odd boxes) */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* One video track (avc1, 64x48), its samples in one chunk of one mdat:
 *   ftyp | mdat | moov (mvhd, trak (tkhd, mdia (mdhd, hdlr 'vide',
 *   minf (stbl (stsd, stts, [stss], stsz, stsc, stco))))) */
typedef struct {
  guint32 samples;              /* sample count in stts and stsz */
  guint32 sample_size;          /* every sample's size (stsz fixed size) */
  guint32 mdat_size;            /* payload bytes of the mdat (0: samples × size) */
  guint32 timescale;            /* of the movie and the media; 0: 1000 */
  guint32 delta;                /* duration of each sample; 0: 1 */
  gboolean sync_all;            /* an stss listing every sample */
  guint8 mvhd_version, mdhd_version;
  guint32 mvhd_cut;             /* payload bytes of mvhd kept (0: all) */
  guint32 mdhd_cut;             /* payload bytes of mdhd kept (0: all) */
  guint64 stts_count;           /* stts sample count (0: samples) */
  const gint32 *cto;            /* a ctts: each sample's composition offset
                                 * (samples of them), or NULL */
} LbtSynth;

/* The bytes of the file @synth describes. */
GBytes *lbt_synth_mp4   (const LbtSynth *synth);

/* Writes them to @path. */
void    lbt_synth_write (const gchar *path, const LbtSynth *synth);

/* A fragmented file as mp4mux writes one (the first fragment empty):
 *   ftyp | moov (empty sample table, mvex) | mdat | moof
 * whose traf has @truns truns of @trun_samples samples each, every sample
 * of the default size @sample_size (tfhd), none listed one by one. */
typedef struct {
  guint truns;
  guint32 trun_samples;
  guint32 sample_size;
  guint32 mdat_size;            /* payload bytes of the mdat */
} LbtSynthFragmented;

GBytes *lbt_synth_fragmented_mp4 (const LbtSynthFragmented *synth);

G_END_DECLS
