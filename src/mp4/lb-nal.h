/* lookback — H.264 and H.265 NAL units: what the MP4 code needs to know
 *
 * The few bitstream facts that torn-tail recovery (lb-mp4-recover.c) and
 * the recording reader need: the kind of each NAL unit, where an access
 * unit (a frame) starts, and the order in which frames given in decode
 * order are shown — their picture order count (POC), from the parameter
 * sets of the codec data (avcC / hvcC) or of the stream and the first slice
 * header of each picture.
 *
 * A NAL unit is given without its start code or length prefix, header
 * first.  Everything is read within the given length (emulation prevention
 * bytes removed); a unit cut short or holding garbage is refused, never
 * read past.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  LB_NAL_H264,
  LB_NAL_H265,
} LbNalCodec;

/* "h264" / "h265" (LbMp4Init.codec, LbSegment.codec); FALSE otherwise. */
gboolean     lb_nal_codec_from_name (const gchar *name,
                                     LbNalCodec  *out);

typedef struct {
  guint type;                   /* nal_unit_type */
  gboolean vcl;                 /* a slice of a picture */
  gboolean keyframe;            /* a slice of an IDR (H.264) or IRAP (H.265) picture */
  gboolean first_slice;         /* vcl: the first slice of its picture */
  gboolean starts_access_unit;  /* it opens a new access unit after one
                                 * holding a slice: a first slice, or a unit
                                 * that may only come before the slices of
                                 * its access unit (delimiter, parameter set,
                                 * prefix SEI, …) */
} LbNal;

/* The header (and for a slice, its first field) of @nal.  FALSE when it is
 * cut short or not a NAL unit (forbidden_zero_bit set). */
gboolean     lb_nal_parse           (LbNalCodec     codec,
                                     const guint8  *nal,
                                     gsize          len,
                                     LbNal         *out);

/* The size of the length prefix of the NAL units of samples described by
 * codec data @config (avcC / hvcC payload).  FALSE when it is not one. */
gboolean     lb_nal_config_length_size (LbNalCodec     codec,
                                        const guint8  *config,
                                        gsize          len,
                                        guint         *size);

/* ---- order of display ---- */

typedef struct _LbNalOrder LbNalOrder;

LbNalOrder  *lb_nal_order_new       (LbNalCodec     codec);
void         lb_nal_order_free      (LbNalOrder    *order);

/* Takes the parameter sets of codec data @config (avcC / hvcC payload).
 * FALSE when it does not parse. */
gboolean     lb_nal_order_add_config (LbNalOrder   *order,
                                      const guint8 *config,
                                      gsize         len);

/* Feed every NAL unit of the stream, in decode order, with what
 * lb_nal_parse() made of it.  Parameter sets are taken; for the first slice
 * of a picture, *@key gets the picture's place in the order of display: a
 * number that grows in the order frames are shown, across IDR pictures too
 * (decode order inside a sequence whose POC does not say more).  Other units
 * leave *@key alone.  FALSE when the order cannot be told: a slice whose
 * parameter sets were not seen, field pictures, H.264 POC type 1, a unit
 * that does not parse. */
gboolean     lb_nal_order_push      (LbNalOrder    *order,
                                     const guint8  *nal,
                                     gsize          len,
                                     const LbNal   *info,
                                     gint64        *key);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbNalOrder, lb_nal_order_free)

G_END_DECLS
