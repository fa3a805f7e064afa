/* Fuzz target: what lbrtspsrc reads off an RTSP connection by itself
 * (plugins/lbrtspframe.c): interleaved '$' frames and RTSP messages of a
 * playing session, their headers (status, Content-Length, RTP-Info), RTP
 * headers and RTCP sender reports.  The input is the byte stream as a
 * camera sends it.  Nothing may crash, hang or read out of bounds; every
 * frame lies within the input and takes at least one byte.
 */
#include "lbrtspframe.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t * data, size_t size);

static void
check_message (const LbRtspFrame * f)
{
  g_autofree gchar *info = lb_rtsp_message_header (f->data, f->size,
      "RTP-Info");
  g_autofree gchar *session = lb_rtsp_message_header (f->data, f->size,
      "Session");
  guint status = lb_rtsp_message_status (f->data, f->size);
  guint32 rtptime = 0;

  g_assert_cmpuint (status, <=, 999);
  g_assert_cmpuint (f->size, <=, LB_RTSP_MESSAGE_MAX);
  if (info) {
    lb_rtsp_rtp_info_rtptime (info, "rtsp://127.0.0.1/cam/stream=0", &rtptime);
    lb_rtsp_rtp_info_rtptime (info, "stream=1", &rtptime);
  }
}

static void
check_data (const LbRtspFrame * f)
{
  LbRtpHeader rtp;
  guint32 ssrc, rtptime;
  guint64 ntp, ext = G_MAXUINT64;

  if (lb_rtp_header_parse (f->data, f->size, &rtp)) {
    ext = lb_rtp_unwrap (ext, rtp.timestamp);
    g_assert_cmpuint ((guint32) ext, ==, rtp.timestamp);
  }
  if (lb_rtcp_sender_report (f->data, f->size, &ssrc, &ntp, &rtptime))
    g_assert_cmpuint (f->size, >=, 28);
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  gsize off = 0;
  LbRtspFrame f;

  while (off < size) {
    LbRtspFrameKind k = lb_rtsp_frame_next (data + off, size - off, &f);
    if (k == LB_RTSP_FRAME_NEED_MORE || k == LB_RTSP_FRAME_BAD)
      break;
    g_assert_cmpuint (f.consumed, >, 0);
    g_assert_cmpuint (f.consumed, <=, size - off);
    g_assert_true (f.data >= data + off);
    g_assert_true (f.data + f.size <= data + off + f.consumed);
    if (k == LB_RTSP_FRAME_MESSAGE)
      check_message (&f);
    else
      check_data (&f);
    off += f.consumed;
  }
  return 0;
}
