/* lookback — what lbrtspsrc reads off an RTSP connection by itself: the
 * interleaved frames and RTSP messages of a playing session, the headers it
 * needs of them, RTP and RTCP sender-report headers.  Pure functions on
 * bytes (no I/O), fuzzed by tests/fuzz/fuzz-rtsp-frame.c. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The largest RTSP message (header block and body) accepted in a playing
 * session: larger ones are a broken or hostile peer. */
#define LB_RTSP_MESSAGE_MAX (16 * 1024)

typedef enum {
  LB_RTSP_FRAME_NEED_MORE,      /* the frame is not all there yet */
  LB_RTSP_FRAME_DATA,           /* '$' channel length payload */
  LB_RTSP_FRAME_MESSAGE,        /* an RTSP response or request */
  LB_RTSP_FRAME_BAD,            /* not RTSP: the connection is lost */
} LbRtspFrameKind;

typedef struct {
  LbRtspFrameKind kind;
  guint8 channel;               /* DATA */
  const guint8 *data;           /* DATA: the payload; MESSAGE: all of it */
  gsize size;
  gsize consumed;               /* bytes of the input the frame takes */
} LbRtspFrame;

/* Reads the frame at the start of @data (@len bytes). */
LbRtspFrameKind lb_rtsp_frame_next (const guint8 *data, gsize len,
    LbRtspFrame *frame);

/* The status code of response @msg (@size bytes), 0 when it is none. */
guint lb_rtsp_message_status (const guint8 *msg, gsize size);

/* The value of header @name (case-insensitive) in the header block of
 * @msg, without surrounding blanks; NULL when absent. */
gchar *lb_rtsp_message_header (const guint8 *msg, gsize size,
    const gchar *name);

/* The rtptime an RTP-Info header value gives the stream whose control URL
 * is @url (matched whole or by its last path element). */
gboolean lb_rtsp_rtp_info_rtptime (const gchar *rtp_info, const gchar *url,
    guint32 *rtptime);

/* The fields of an RTP packet lbrtspsrc uses; FALSE when it is no RTP
 * version 2 packet. */
typedef struct {
  guint8 pt;
  guint16 seq;
  guint32 timestamp;
  guint32 ssrc;
} LbRtpHeader;

gboolean lb_rtp_header_parse (const guint8 *data, gsize size,
    LbRtpHeader *rtp);

/* The first sender report of compound RTCP packet @data: its sender's
 * SSRC, NTP time (32.32 fixed point) and RTP time. */
gboolean lb_rtcp_sender_report (const guint8 *data, gsize size,
    guint32 *ssrc, guint64 *ntp, guint32 *rtptime);

/* Extends 32-bit RTP time @ts to 64 bits next to @last (the previous
 * extended value; G_MAXUINT64 for none). */
guint64 lb_rtp_unwrap (guint64 last, guint32 ts);

G_END_DECLS
