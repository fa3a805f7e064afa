/* lookback — the block code that lbclockstamp draws and lbclockcheck reads
 *
 * A band across the top quarter of the picture holds a grid of
 * LB_CLOCK_CODE_COLS × LB_CLOCK_CODE_ROWS cells; each cell is either black
 * (luma 16) or white (luma 235) and its chroma is neutral.  Cell edges are
 * fractions of the frame size (a column is 1/20 of the width, a row 1/24 of
 * the height), so the code survives scaling to any size that keeps the
 * aspect ratio, and a cell is large enough (32×15 pixels at 640×360) to
 * survive low-bitrate H.264 and JPEG.
 *
 * Row 0 alternates white/black: it gives the reader the two levels and
 * tells a code from a picture.  Rows 1–5 hold 100 bits: the stamp (64 bits,
 * two's complement, most significant first), a CRC-32 of the stamp's eight
 * big-endian bytes (32 bits) and four fixed bits 1010.  A cell whose level
 * is neither clearly black nor clearly white, or a CRC mismatch, makes the
 * code "damaged": it is reported, never guessed.
 */
#pragma once

#include <gst/video/video.h>

G_BEGIN_DECLS

#define LB_CLOCK_CODE_COLS     20
#define LB_CLOCK_CODE_ROWS     6
#define LB_CLOCK_CODE_ROW_DIV  24   /* a row is 1/24 of the frame height */
#define LB_CLOCK_CODE_MIN_WIDTH   80
#define LB_CLOCK_CODE_MIN_HEIGHT  48

/* The raw formats both elements accept: 8-bit YUV (and grey) with a full
 * resolution luma plane. */
#define LB_CLOCK_CODE_CAPS                                             \
  "video/x-raw, "                                                      \
  "format = (string) { I420, YV12, NV12, NV21, Y42B, Y444, Y41B, GRAY8 }, " \
  "width = (int) [ 80, 32767 ], height = (int) [ 48, 32767 ], "        \
  "framerate = (fraction) [ 0, max ]"

typedef enum {
  LB_CLOCK_CODE_OK,
  LB_CLOCK_CODE_NONE,           /* no code in the picture */
  LB_CLOCK_CODE_DAMAGED,        /* a code, but not readable with certainty */
} LbClockCodeResult;

void              lb_clock_code_draw (GstVideoFrame *frame,
                                      gint64         stamp);

LbClockCodeResult lb_clock_code_read (const GstVideoFrame *frame,
                                      gint64              *out_stamp);

const gchar      *lb_clock_code_result_nick (LbClockCodeResult result);

G_END_DECLS
