/* lookback — the interleaved frames and messages of an RTSP session */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "lbrtspframe.h"

#include <string.h>

static inline guint16
read16 (const guint8 * p)
{
  return (guint16) (p[0] << 8 | p[1]);
}

static inline guint32
read32 (const guint8 * p)
{
  return (guint32) read16 (p) << 16 | read16 (p + 2);
}

/* The end of the header block (after its blank line) within @len bytes,
 * 0 when not there yet. */
static gsize
header_end (const guint8 * data, gsize len)
{
  for (gsize i = 0; i + 3 < len; i++)
    if (data[i] == '\r' && data[i + 1] == '\n' && data[i + 2] == '\r'
        && data[i + 3] == '\n')
      return i + 4;
  return 0;
}

/* A text message starts with a token of letters ("RTSP/1.0 200",
 * "GET_PARAMETER rtsp://…"). */
static gboolean
looks_like_message (const guint8 * data, gsize len)
{
  gsize n = MIN (len, 4);

  for (gsize i = 0; i < n; i++)
    if (!g_ascii_isupper (data[i]) && data[i] != '_')
      return FALSE;
  return TRUE;
}

static LbRtspFrameKind
message_next (const guint8 * data, gsize len, LbRtspFrame * frame)
{
  gsize head = header_end (data, MIN (len, LB_RTSP_MESSAGE_MAX));
  g_autofree gchar *length = NULL;
  guint64 body = 0;

  if (!looks_like_message (data, len))
    return frame->kind = LB_RTSP_FRAME_BAD;
  if (head == 0)
    return frame->kind = len >= LB_RTSP_MESSAGE_MAX ? LB_RTSP_FRAME_BAD :
        LB_RTSP_FRAME_NEED_MORE;
  length = lb_rtsp_message_header (data, head, "Content-Length");
  if (length && (!g_ascii_string_to_unsigned (length, 10, 0,
              LB_RTSP_MESSAGE_MAX, &body, NULL)
          || head + body > LB_RTSP_MESSAGE_MAX))
    return frame->kind = LB_RTSP_FRAME_BAD;
  if (len < head + body)
    return frame->kind = LB_RTSP_FRAME_NEED_MORE;
  frame->data = data;
  frame->size = frame->consumed = head + body;
  return frame->kind = LB_RTSP_FRAME_MESSAGE;
}

LbRtspFrameKind
lb_rtsp_frame_next (const guint8 * data, gsize len, LbRtspFrame * frame)
{
  g_return_val_if_fail (frame != NULL, LB_RTSP_FRAME_BAD);

  memset (frame, 0, sizeof *frame);
  if (len == 0)
    return frame->kind = LB_RTSP_FRAME_NEED_MORE;
  if (data[0] != '$')
    return message_next (data, len, frame);
  if (len < 4)
    return frame->kind = LB_RTSP_FRAME_NEED_MORE;
  frame->channel = data[1];
  frame->size = read16 (data + 2);
  if (len < 4 + frame->size)
    return frame->kind = LB_RTSP_FRAME_NEED_MORE;
  frame->data = data + 4;
  frame->consumed = 4 + frame->size;
  return frame->kind = LB_RTSP_FRAME_DATA;
}

guint
lb_rtsp_message_status (const guint8 * msg, gsize size)
{
  guint code = 0;

  if (size < 12 || memcmp (msg, "RTSP/", 5) != 0)
    return 0;
  for (gsize i = 5; i < size && msg[i] != ' '; i++)
    if (msg[i] == '\r' || msg[i] == '\n')
      return 0;
  const guint8 *p = memchr (msg, ' ', size);
  if (p == NULL || (gsize) (p - msg) + 4 > size)
    return 0;
  for (gint i = 1; i <= 3; i++) {
    if (!g_ascii_isdigit (p[i]))
      return 0;
    code = code * 10 + (p[i] - '0');
  }
  return code;
}

gchar *
lb_rtsp_message_header (const guint8 * msg, gsize size, const gchar * name)
{
  gsize name_len = strlen (name);
  gsize i = 0;

  g_return_val_if_fail (name != NULL, NULL);

  /* the first line is the status or request line */
  while (i < size) {
    const guint8 *eol = memchr (msg + i, '\n', size - i);
    gsize next = eol ? (gsize) (eol - msg) + 1 : size;
    gsize line = i;

    i = next;
    if (line == 0)
      continue;
    gsize end = next;
    while (end > line && (msg[end - 1] == '\n' || msg[end - 1] == '\r'))
      end--;
    if (end == line)
      break;                    /* the blank line: the headers are over */
    if (end - line <= name_len || msg[line + name_len] != ':'
        || g_ascii_strncasecmp ((const gchar *) msg + line, name, name_len))
      continue;
    gsize v = line + name_len + 1;
    while (v < end && (msg[v] == ' ' || msg[v] == '\t'))
      v++;
    while (end > v && (msg[end - 1] == ' ' || msg[end - 1] == '\t'))
      end--;
    return g_strndup ((const gchar *) msg + v, end - v);
  }
  return NULL;
}

/* Whether RTP-Info's url @info names the stream at @url. */
static gboolean
same_stream (const gchar * info, const gchar * url)
{
  const gchar *a = strrchr (info, '/'), *b = strrchr (url, '/');

  if (g_str_equal (info, url))
    return TRUE;
  return g_str_equal (a ? a + 1 : info, b ? b + 1 : url);
}

gboolean
lb_rtsp_rtp_info_rtptime (const gchar * rtp_info, const gchar * url,
    guint32 * rtptime)
{
  g_auto (GStrv) streams = NULL;

  g_return_val_if_fail (rtp_info != NULL && url != NULL, FALSE);

  streams = g_strsplit (rtp_info, ",", 16);
  for (guint i = 0; streams[i]; i++) {
    g_auto (GStrv) fields = g_strsplit (streams[i], ";", 8);
    gboolean ours = FALSE, have_time = FALSE;
    guint64 t = 0;

    for (guint f = 0; fields[f]; f++) {
      gchar *field = g_strstrip (fields[f]);
      if (g_str_has_prefix (field, "url="))
        ours = same_stream (field + 4, url);
      else if (g_str_has_prefix (field, "rtptime="))
        have_time = g_ascii_string_to_unsigned (field + 8, 10, 0, G_MAXUINT32,
            &t, NULL);
    }
    if (ours && have_time) {
      *rtptime = (guint32) t;
      return TRUE;
    }
  }
  return FALSE;
}

gboolean
lb_rtp_header_parse (const guint8 * data, gsize size, LbRtpHeader * rtp)
{
  if (size < 12 || (data[0] >> 6) != 2)
    return FALSE;
  /* an RTCP packet on the RTP channel (RFC 5761 multiplexing) */
  if (data[1] >= 200 && data[1] <= 204)
    return FALSE;
  rtp->pt = data[1] & 0x7f;
  rtp->seq = read16 (data + 2);
  rtp->timestamp = read32 (data + 4);
  rtp->ssrc = read32 (data + 8);
  return TRUE;
}

gboolean
lb_rtcp_sender_report (const guint8 * data, gsize size, guint32 * ssrc,
    guint64 * ntp, guint32 * rtptime)
{
  gsize off = 0;

  while (off + 4 <= size) {
    const guint8 *p = data + off;
    gsize len = 4 * ((gsize) read16 (p + 2) + 1);

    if ((p[0] >> 6) != 2 || off + len > size)
      return FALSE;
    if (p[1] == 200 && len >= 28) {
      *ssrc = read32 (p + 4);
      *ntp = (guint64) read32 (p + 8) << 32 | read32 (p + 12);
      *rtptime = read32 (p + 16);
      return TRUE;
    }
    off += len;
  }
  return FALSE;
}

guint64
lb_rtp_unwrap (guint64 last, guint32 ts)
{
  /* one wrap of head room below the first value: a stream may go back
   * before its first packet (B-frames, reordered audio) */
  if (last == G_MAXUINT64)
    return G_GUINT64_CONSTANT (0x100000000) + ts;
  return last + (gint64) (gint32) (ts - (guint32) last);
}
