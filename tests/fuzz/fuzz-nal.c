/* Fuzz target: H.264 / H.265 NAL units (src/mp4/lb-nal.c)
 *
 * Tail recovery reads the parameter sets of a recorded file's codec data
 * and the slice headers of its torn tail: bytes from a camera.  The input:
 * one byte choosing the codec (bit 0: H.265), a 2-byte big-endian length
 * and that many bytes of codec data (avcC / hvcC payload), then NAL units,
 * each after a 2-byte big-endian length.  Nothing may crash, hang or read
 * out of bounds.
 */
#include "mp4/lb-nal.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t * data, size_t size);

static gsize
take (const uint8_t * data, size_t size, gsize * pos)
{
  if (size - *pos < 2)
    return 0;
  gsize n = ((gsize) data[*pos] << 8) | data[*pos + 1];
  *pos += 2;
  return MIN (n, size - *pos);
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  if (size < 1)
    return 0;
  LbNalCodec codec = data[0] & 1 ? LB_NAL_H265 : LB_NAL_H264;
  gsize pos = 1;
  gsize n = take (data, size, &pos);
  g_autoptr (LbNalOrder) order = lb_nal_order_new (codec);
  guint length_size = 0;

  if (lb_nal_config_length_size (codec, data + pos, n, &length_size))
    g_assert_true (length_size == 1 || length_size == 2 || length_size == 4);
  lb_nal_order_add_config (order, data + pos, n);
  pos += n;
  while (pos < size) {
    n = take (data, size, &pos);
    if (n == 0)
      break;
    LbNal info;
    gint64 key = -1;
    if (lb_nal_parse (codec, data + pos, n, &info)) {
      g_assert_true (!info.first_slice || info.vcl);
      lb_nal_order_push (order, data + pos, n, &info, &key);
    }
    pos += n;
  }
  return 0;
}
