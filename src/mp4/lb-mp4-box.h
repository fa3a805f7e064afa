/* lookback — ISO BMFF boxes: the one reader and writer of src/mp4
 *
 * In memory a box is read with a GstByteReader over its container's
 * payload: lb_mp4_box_read() takes the box at the reader's position, whole,
 * or nothing.  In a file, lb_mp4_file_box() reads the header at an offset
 * and checks the size against the file: every size and offset that comes
 * out of here fits in the data or file it came from (no sum of a position
 * and a size can overflow).  Boxes are written with a GstByteWriter:
 * lb_mp4_box_begin() … lb_mp4_box_end().
 *
 * For the files of src/mp4 only (the reader, tail recovery and the moov
 * editor); the other modules use lb-mp4.h and lb-mp4-trim.h.
 */
#pragma once

/* GStreamer's GST_READ_* and GST_WRITE_* macros, and so GstByteReader and
 * GstByteWriter, load and store misaligned words directly on CPUs that
 * allow it.  That is undefined behaviour in C, which UBSan (the sanitized
 * run, the fuzz targets) reports for box fields at odd offsets: here they
 * go byte by byte.  So this header comes before any GStreamer header. */
#ifdef __GST_UTILS_H__
#error "include mp4/lb-mp4-box.h before any GStreamer header"
#endif
#include <gst/gstconfig.h>
#undef GST_HAVE_UNALIGNED_ACCESS
#define GST_HAVE_UNALIGNED_ACCESS 0

#include <glib.h>
#include <gst/base/gstbytereader.h>
#include <gst/base/gstbytewriter.h>

G_BEGIN_DECLS

#define LB_MP4_FOURCC(a, b, c, d) \
  (((guint32) (a) << 24) | ((guint32) (b) << 16) | ((guint32) (c) << 8) | (guint32) (d))

/* Offsets and sizes beyond this are garbage (1 PiB): sums of two stay far
 * from overflowing. */
#define LB_MP4_MAX_OFFSET (G_GINT64_CONSTANT (1) << 50)

/* The most samples a moov's sample table may list for lookback to read it
 * (9.7 hours at 60 fps): more is LB_ERROR_CORRUPT. */
#define LB_MP4_MAX_TABLE_SAMPLES (1 << 21)

/* A box in memory. */
typedef struct {
  guint32 type;
  const guint8 *data;           /* the header */
  gsize size;                   /* header + payload */
  const guint8 *payload;
  gsize payload_size;
} LbMp4Box;

/* The box at @reader's position, moving past it.  Size 0 means "to the end
 * of the reader's data".  FALSE, and the position unchanged, when no whole
 * box is there. */
gboolean  lb_mp4_box_read      (GstByteReader   *reader,
                                LbMp4Box        *box);
/* The first box of @type among the boxes of @data (a container's
 * payload). */
gboolean  lb_mp4_box_find      (const guint8    *data,
                                gsize            size,
                                guint32          type,
                                LbMp4Box        *out);
/* The box at the end of @path (@depth types, outermost first) below the
 * boxes of @data: find, then find inside it, and so on. */
gboolean  lb_mp4_box_find_path (const guint8    *data,
                                gsize            size,
                                const guint32   *path,
                                guint            depth,
                                LbMp4Box        *out);
/* A reader over @box's payload. */
void      lb_mp4_box_reader    (const LbMp4Box  *box,
                                GstByteReader   *reader);
/* A full box's version and flags, at the start of @reader. */
gboolean  lb_mp4_box_full      (GstByteReader   *reader,
                                guint8          *version,
                                guint32         *flags);

/* Where the presentation of the track @trak starts, from its edit list:
 * the empty edits before it (*@empty, movie timescale) and the media time
 * of its first edit (*@media_time, media timescale); 0 and 0 without one
 * (or when it does not parse). */
void      lb_mp4_trak_edit_start (const LbMp4Box *trak,
                                  guint64        *empty,
                                  gint64         *media_time);

/* A box header in a file. */
typedef struct {
  gint64 pos;                   /* of the header */
  gint64 size;                  /* header + payload; 0: to the end of the file */
  guint32 type;
  guint header_size;            /* 8, or 16 with a 64-bit size */
} LbMp4FileBox;

/* The header of the box at @pos of a file of @file_size bytes.  LB_ERROR_NOT_YET when the header does not end within
 * @file_size (a growing file, or one cut by a crash); LB_ERROR_CORRUPT when
 * it is not a box (type not text, a size below its header or beyond
 * LB_MP4_MAX_OFFSET).  The box itself may end past @file_size: see
 * lb_mp4_file_box_is_whole(). */
gboolean  lb_mp4_file_box      (gint             fd,
                                gint64           pos,
                                gint64           file_size,
                                LbMp4FileBox    *box,
                                GError         **error);
/* TRUE when @box has a size and ends within @file_size. */
gboolean  lb_mp4_file_box_is_whole (const LbMp4FileBox *box,
                                    gint64              file_size);
/* The payload of @box (whole within the file: the caller checked), read
 * into memory; a payload over @max bytes is LB_ERROR_CORRUPT (nothing is
 * allocated). */
guint8   *lb_mp4_file_box_load (gint             fd,
                                const LbMp4FileBox *box,
                                gsize            max,
                                gsize           *out_size,
                                GError         **error);

gboolean  lb_mp4_pread         (gint             fd,
                                guint8          *dst,
                                gsize            n,
                                gint64           offset,
                                GError         **error);
gboolean  lb_mp4_pwrite        (gint             fd,
                                const guint8    *src,
                                gsize            n,
                                gint64           offset,
                                GError         **error);
gboolean  lb_mp4_file_size     (gint             fd,
                                gint64          *size,
                                GError         **error);

/* Starts a box of @type at @writer's position; returns where it starts for
 * lb_mp4_box_end(), which writes its size. */
guint     lb_mp4_box_begin     (GstByteWriter   *writer,
                                guint32          type);
void      lb_mp4_box_end       (GstByteWriter   *writer,
                                guint            start);
/* Overwrites 4 or 8 bytes at @at (already written), big-endian. */
void      lb_mp4_patch32       (GstByteWriter   *writer,
                                guint            at,
                                guint32          value);
void      lb_mp4_patch64       (GstByteWriter   *writer,
                                guint            at,
                                guint64          value);

G_END_DECLS
