/* lookback — the block code that lbclockstamp draws and lbclockcheck reads */
#include "lbclockcode.h"

#define LUMA_BLACK 16
#define LUMA_WHITE 235
#define CHROMA_NEUTRAL 128

#define N_BITS        ((LB_CLOCK_CODE_ROWS - 1) * LB_CLOCK_CODE_COLS)
#define N_STAMP_BITS  64
#define N_CRC_BITS    32
#define N_FIXED_BITS  (N_BITS - N_STAMP_BITS - N_CRC_BITS)

/* below this difference between the marker's white and black cells there
 * is no code in the picture */
#define MIN_CONTRAST 64.0
/* a cell is black below 35 % of the way from black to white, white above
 * 65 %, and unreadable in between */
#define LOW_LIMIT  0.35
#define HIGH_LIMIT 0.65

G_STATIC_ASSERT (N_FIXED_BITS == 4);

static guint32
crc32_of_stamp (guint64 stamp)
{
  guint32 crc = 0xffffffff;

  for (gint i = 7; i >= 0; i--) {
    crc ^= (guint8) (stamp >> (8 * i));
    for (gint k = 0; k < 8; k++)
      crc = (crc >> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return ~crc;
}

/* Pixel bounds of cell (col, row) in a frame of @width × @height. */
static void
cell_bounds (gint width, gint height, gint col, gint row,
    gint * x0, gint * x1, gint * y0, gint * y1)
{
  *x0 = (gint) ((gint64) col * width / LB_CLOCK_CODE_COLS);
  *x1 = (gint) ((gint64) (col + 1) * width / LB_CLOCK_CODE_COLS);
  *y0 = (gint) ((gint64) row * height / LB_CLOCK_CODE_ROW_DIV);
  *y1 = (gint) ((gint64) (row + 1) * height / LB_CLOCK_CODE_ROW_DIV);
}

/* The value of bit @i of the rows below the marker. */
static gboolean
payload_bit (guint64 stamp, guint32 crc, guint i)
{
  if (i < N_STAMP_BITS)
    return (stamp >> (N_STAMP_BITS - 1 - i)) & 1;
  i -= N_STAMP_BITS;
  if (i < N_CRC_BITS)
    return (crc >> (N_CRC_BITS - 1 - i)) & 1;
  i -= N_CRC_BITS;
  return (i % 2) == 0;          /* fixed 1010 */
}

static gboolean
marker_bit (gint col)
{
  return (col % 2) == 0;
}

static void
fill_luma (GstVideoFrame * frame, gint x0, gint x1, gint y0, gint y1,
    guint8 value)
{
  guint8 *data = GST_VIDEO_FRAME_COMP_DATA (frame, 0);
  gint stride = GST_VIDEO_FRAME_COMP_STRIDE (frame, 0);
  gint pstride = GST_VIDEO_FRAME_COMP_PSTRIDE (frame, 0);

  for (gint y = y0; y < y1; y++) {
    guint8 *line = data + (gsize) y * stride;
    for (gint x = x0; x < x1; x++)
      line[x * pstride] = value;
  }
}

/* Neutral chroma under the whole band: no colour bleeds into the cells. */
static void
neutral_chroma (GstVideoFrame * frame, gint band_height)
{
  const GstVideoFormatInfo *finfo = frame->info.finfo;

  for (guint c = 1; c < GST_VIDEO_FRAME_N_COMPONENTS (frame); c++) {
    guint8 *data = GST_VIDEO_FRAME_COMP_DATA (frame, c);
    gint stride = GST_VIDEO_FRAME_COMP_STRIDE (frame, c);
    gint pstride = GST_VIDEO_FRAME_COMP_PSTRIDE (frame, c);
    gint width = GST_VIDEO_FRAME_COMP_WIDTH (frame, c);
    gint height = MIN (GST_VIDEO_FORMAT_INFO_SCALE_HEIGHT (finfo, c,
            band_height), GST_VIDEO_FRAME_COMP_HEIGHT (frame, c));

    for (gint y = 0; y < height; y++) {
      guint8 *line = data + (gsize) y * stride;
      for (gint x = 0; x < width; x++)
        line[x * pstride] = CHROMA_NEUTRAL;
    }
  }
}

/**
 * lb_clock_code_draw:
 * @frame: a mapped, writable frame in one of LB_CLOCK_CODE_CAPS' formats
 * @stamp: the value to draw (ns since the epoch)
 *
 * Draws the code over the top quarter of @frame.
 */
void
lb_clock_code_draw (GstVideoFrame * frame, gint64 stamp)
{
  gint width = GST_VIDEO_FRAME_WIDTH (frame);
  gint height = GST_VIDEO_FRAME_HEIGHT (frame);
  guint32 crc = crc32_of_stamp ((guint64) stamp);
  gint x0, x1, y0, y1;

  for (gint col = 0; col < LB_CLOCK_CODE_COLS; col++) {
    cell_bounds (width, height, col, 0, &x0, &x1, &y0, &y1);
    fill_luma (frame, x0, x1, y0, y1,
        marker_bit (col) ? LUMA_WHITE : LUMA_BLACK);
  }
  for (guint i = 0; i < N_BITS; i++) {
    cell_bounds (width, height, i % LB_CLOCK_CODE_COLS,
        1 + i / LB_CLOCK_CODE_COLS, &x0, &x1, &y0, &y1);
    fill_luma (frame, x0, x1, y0, y1,
        payload_bit ((guint64) stamp, crc, i) ? LUMA_WHITE : LUMA_BLACK);
  }
  cell_bounds (width, height, 0, LB_CLOCK_CODE_ROWS - 1, &x0, &x1, &y0, &y1);
  neutral_chroma (frame, y1);
}

/* Mean luma of the middle half (in both directions) of a cell: the edges
 * are where compression and scaling blur one cell into the next. */
static gdouble
cell_level (const GstVideoFrame * frame, gint col, gint row)
{
  const guint8 *data = GST_VIDEO_FRAME_COMP_DATA (frame, 0);
  gint stride = GST_VIDEO_FRAME_COMP_STRIDE (frame, 0);
  gint pstride = GST_VIDEO_FRAME_COMP_PSTRIDE (frame, 0);
  gint x0, x1, y0, y1;
  guint64 sum = 0;

  cell_bounds (GST_VIDEO_FRAME_WIDTH (frame), GST_VIDEO_FRAME_HEIGHT (frame),
      col, row, &x0, &x1, &y0, &y1);
  gint w = x1 - x0, h = y1 - y0;
  x0 += w / 4;
  x1 -= w / 4;
  y0 += h / 4;
  y1 -= h / 4;
  if (x1 <= x0 || y1 <= y0)
    return -1.0;

  for (gint y = y0; y < y1; y++) {
    const guint8 *line = data + (gsize) y * stride;
    for (gint x = x0; x < x1; x++)
      sum += line[x * pstride];
  }
  return (gdouble) sum / ((gdouble) (x1 - x0) * (y1 - y0));
}

/* 1, 0, or -1 when the level is in between. */
static gint
classify (gdouble level, gdouble black, gdouble white)
{
  gdouble n = (level - black) / (white - black);

  if (n >= HIGH_LIMIT)
    return 1;
  if (n <= LOW_LIMIT)
    return 0;
  return -1;
}

/**
 * lb_clock_code_read:
 * @frame: a mapped frame in one of LB_CLOCK_CODE_CAPS' formats
 * @out_stamp: (out): the stamp, set only when the result is
 *   %LB_CLOCK_CODE_OK
 *
 * Returns: whether @frame holds a readable code.
 */
LbClockCodeResult
lb_clock_code_read (const GstVideoFrame * frame, gint64 * out_stamp)
{
  gdouble black = 0.0, white = 0.0;

  if (GST_VIDEO_FRAME_WIDTH (frame) < LB_CLOCK_CODE_MIN_WIDTH ||
      GST_VIDEO_FRAME_HEIGHT (frame) < LB_CLOCK_CODE_MIN_HEIGHT)
    return LB_CLOCK_CODE_NONE;

  /* the marker row: its white and black cells give the two levels */
  for (gint col = 0; col < LB_CLOCK_CODE_COLS; col++) {
    gdouble level = cell_level (frame, col, 0);
    if (marker_bit (col))
      white += level;
    else
      black += level;
  }
  white /= LB_CLOCK_CODE_COLS / 2;
  black /= LB_CLOCK_CODE_COLS / 2;
  if (white - black < MIN_CONTRAST)
    return LB_CLOCK_CODE_NONE;
  for (gint col = 0; col < LB_CLOCK_CODE_COLS; col++) {
    if (classify (cell_level (frame, col, 0), black, white) != marker_bit (col))
      return LB_CLOCK_CODE_NONE;
  }

  guint64 stamp = 0;
  guint32 crc = 0;
  for (guint i = 0; i < N_BITS; i++) {
    gint bit = classify (cell_level (frame, i % LB_CLOCK_CODE_COLS,
            1 + i / LB_CLOCK_CODE_COLS), black, white);
    if (bit < 0)
      return LB_CLOCK_CODE_DAMAGED;
    if (i < N_STAMP_BITS)
      stamp = (stamp << 1) | (guint) bit;
    else if (i < N_STAMP_BITS + N_CRC_BITS)
      crc = (crc << 1) | (guint) bit;
    else if (bit != payload_bit (0, 0, i))
      return LB_CLOCK_CODE_DAMAGED;
  }
  if (crc != crc32_of_stamp (stamp))
    return LB_CLOCK_CODE_DAMAGED;

  *out_stamp = (gint64) stamp;
  return LB_CLOCK_CODE_OK;
}

const gchar *
lb_clock_code_result_nick (LbClockCodeResult result)
{
  switch (result) {
    case LB_CLOCK_CODE_OK:
      return "ok";
    case LB_CLOCK_CODE_NONE:
      return "no-code";
    case LB_CLOCK_CODE_DAMAGED:
      return "damaged";
  }
  return "unknown";
}
