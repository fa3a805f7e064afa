/* lookback — lbrtspsrc: a lean RTSP client source (interleaved TCP) */

/**
 * SECTION:element-lbrtspsrc
 * @title: lbrtspsrc
 * @see_also: rtspsrc
 *
 * Receives the video and audio streams of an RTSP camera over the RTSP
 * connection itself (RTP/AVP/TCP, interleaved) and pushes each stream's RTP
 * packets on a sometimes pad `stream_%u` (video first), with the caps
 * rtspsrc gives them from the SDP, so that depayloaders and parsebin plug
 * after it as after rtspsrc.  It is what lookback records RTSP cameras with:
 * one streaming thread per camera reads the connection, timestamps the
 * packets and pushes them — no rtpbin, no jitterbuffer (TCP delivers in
 * order), no UDP.  Cameras that only stream over UDP, multicast or RTSP over
 * HTTP/TLS need rtspsrc.
 *
 * A live camera (its SDP's range starts "now") is played from now, as
 * rtspsrc does: asked for a range from 0, some servers seek their live
 * pipeline, which throws away what the encoder holds and restarts the
 * stream's clock for every client of the camera.
 *
 * Timestamps come from the RTP timestamps (unwrapped to 64 bits), mapped to
 * the running time at which the first packet arrived.  Streams named in the
 * PLAY response's RTP-Info share one mapping from the start; RTCP sender
 * reports then keep audio in sync with the first video stream, correcting
 * the audio by at most half a millisecond a packet so that no step is seen.
 *
 * Authentication: Basic or Digest, as the camera asks, with #LbRtspSrc:user-id
 * and #LbRtspSrc:user-pw or the credentials of the URL.  The session is kept
 * alive with GET_PARAMETER (OPTIONS when the camera does not list it) within
 * its timeout, receiver reports go back every 5 s, and TEARDOWN is sent on
 * stop.  A lost connection, a refused request or no packet for
 * #LbRtspSrc:timeout is an error on the bus: reconnecting is the
 * application's job (lookbackd restarts the input's pipeline).
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 lbrtspsrc location=rtsp://127.0.0.1:8554/cam ! parsebin ! fakesink num-buffers=60
 * ]|
 * Receives 60 frames of the camera's video, parsed as they come (H.264 or
 * H.265): parsebin plugs the depayloader and the parser from the caps.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "lbrtspsrc.h"
#include "lbrtspframe.h"

#include <gst/base/gstflowcombiner.h>
#include <gst/rtsp/rtsp.h>
#include <gst/sdp/sdp.h>
#include <errno.h>
#include <sys/socket.h>
#include <string.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GstRTSPMessage, gst_rtsp_message_free);

GST_DEBUG_CATEGORY_STATIC (lb_rtsp_src_debug);
#define GST_CAT_DEFAULT lb_rtsp_src_debug

#define DEFAULT_TIMEOUT (5 * G_USEC_PER_SEC)
#define DEFAULT_TCP_TIMEOUT (20 * G_USEC_PER_SEC)
#define DEFAULT_LATENCY_MS 200
/* The most streams set up of one camera (video, audio, a second video) */
#define MAX_STREAMS 4
/* Receiver reports go back this often */
#define RR_INTERVAL_US (5 * G_USEC_PER_SEC)
/* The most the sender reports move a stream's timestamps per packet */
#define SYNC_STEP_NS (GST_MSECOND / 2)
/* The most packets waiting for a stream's thread (20 s of audio in 20 ms
 * packets; video has more than one stream a frame): more are dropped */
#define MAX_QUEUED 4096
/* The read buffer: the largest interleaved frame and a message */
#define READ_BUFFER (4 + G_MAXUINT16 + LB_RTSP_MESSAGE_MAX)

typedef struct
{
  guint index;
  GstPad *pad;
  gchar *control;               /* the URL to SETUP */
  GstCaps *caps;
  gboolean video;
  gint clock_rate;
  guint8 pt;
  guint8 rtp_channel, rtcp_channel;

  /* timing (streaming thread) */
  gboolean have_rtp_info;
  guint32 rtp_info_time;
  guint64 ext;                  /* the last RTP time, unwrapped */
  guint64 base_ext;             /* the RTP time at anchor */
  GstClockTime anchor;          /* NONE until the first packet */
  gint64 offset, target;        /* sync correction (ns), applied and asked */
  gboolean pushed, have_seq;
  guint16 seq;
  guint32 ssrc;
  gboolean have_sr;
  guint64 sr_ntp, sr_ext;

  /* with more than one stream: each one's own thread pushes (pad task) */
  GAsyncQueue *queue;           /* GstBuffer, and the EOS event last */
  gint flow;                    /* GstFlowReturn of the last push (atomic) */
  gboolean dropping;            /* the queue was full (warned) */
} LbRtspStream;

struct _LbRtspSrc
{
  GstElement parent;

  /* properties (object lock) */
  gchar *location, *user_id, *user_pw;
  guint64 timeout, tcp_timeout;
  guint latency_ms;

  GstTask *task;
  GRecMutex task_lock;

  /* object lock; cond signalled on state changes */
  GCond cond;
  gboolean playing, stopping;
  GstRTSPConnection *conn;      /* set and cleared by the task */
  GCancellable *cancellable;
  GPollFD cancel_fd;            /* of the cancellable, for the task's poll */

  /* streaming thread */
  GstRTSPUrl *url;
  gchar *request_uri, *base_uri;
  gboolean use_get_parameter, tried_auth;
  gboolean live;                /* the SDP's range starts now */
  GPtrArray *streams;           /* LbRtspStream, video first */
  GstFlowCombiner *flows;
  guint next_pad;
  gboolean have_common_anchor;
  GstClockTime common_anchor;
  guint32 our_ssrc;
  guint8 *buf;
  gsize buf_len;
};

enum
{
  PROP_0,
  PROP_LOCATION,
  PROP_USER_ID,
  PROP_USER_PW,
  PROP_TIMEOUT,
  PROP_TCP_TIMEOUT,
  PROP_LATENCY,
};

static GstStaticPadTemplate src_template =
GST_STATIC_PAD_TEMPLATE ("stream_%u", GST_PAD_SRC, GST_PAD_SOMETIMES,
    GST_STATIC_CAPS ("application/x-rtp"));

#define lb_rtsp_src_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE (LbRtspSrc, lb_rtsp_src, GST_TYPE_ELEMENT,
    GST_DEBUG_CATEGORY_INIT (lb_rtsp_src_debug, "lbrtspsrc", 0,
        "lookback RTSP source"));
GST_ELEMENT_REGISTER_DEFINE (lbrtspsrc, "lbrtspsrc", GST_RANK_NONE,
    LB_TYPE_RTSP_SRC);

static void
stream_free (LbRtspStream * s)
{
  g_clear_pointer (&s->queue, g_async_queue_unref);
  g_free (s->control);
  gst_clear_caps (&s->caps);
  g_free (s);
}

/* ---- requests ---- */

static gboolean
is_stopping (LbRtspSrc * self)
{
  gboolean stopping;

  GST_OBJECT_LOCK (self);
  stopping = self->stopping;
  GST_OBJECT_UNLOCK (self);
  return stopping;
}

static void
set_error (GError ** error, GstRTSPResult res, const gchar * what,
    const gchar * uri)
{
  g_autofree gchar *why = gst_rtsp_strresult (res);

  g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ,
      "%s %s: %s", what, uri, why);
}

/* After a 401: the credentials the camera asks for (Digest when it offers
 * it, else Basic); FALSE when there are none to give. */
static gboolean
setup_auth (LbRtspSrc * self, GstRTSPMessage * response)
{
  g_autofree gchar *user = NULL, *pass = NULL;
  GstRTSPAuthCredential **creds;
  GstRTSPAuthMethod method = GST_RTSP_AUTH_NONE;

  GST_OBJECT_LOCK (self);
  user = g_strdup (self->user_id ? self->user_id : self->url->user);
  pass = g_strdup (self->user_pw ? self->user_pw : self->url->passwd);
  GST_OBJECT_UNLOCK (self);
  if (user == NULL || self->tried_auth)
    return FALSE;
  self->tried_auth = TRUE;
  creds = gst_rtsp_message_parse_auth_credentials (response,
      GST_RTSP_HDR_WWW_AUTHENTICATE);
  for (guint i = 0; creds && creds[i]; i++) {
    if (creds[i]->scheme == GST_RTSP_AUTH_DIGEST) {
      method = GST_RTSP_AUTH_DIGEST;
      gst_rtsp_connection_clear_auth_params (self->conn);
      for (guint p = 0; creds[i]->params && creds[i]->params[p]; p++)
        gst_rtsp_connection_set_auth_param (self->conn,
            creds[i]->params[p]->name, creds[i]->params[p]->value);
      break;
    }
    if (creds[i]->scheme == GST_RTSP_AUTH_BASIC)
      method = GST_RTSP_AUTH_BASIC;
  }
  if (creds)
    gst_rtsp_auth_credentials_free (creds);
  if (method == GST_RTSP_AUTH_NONE)
    return FALSE;
  gst_rtsp_connection_set_auth (self->conn, method, user, pass ? pass : "");
  return TRUE;
}

/* Sends @req and returns its 200 response (a 401 is answered once with the
 * credentials). */
static GstRTSPMessage *
request (LbRtspSrc * self, GstRTSPMessage * req, GError ** error)
{
  const gchar *uri = req->type_data.request.uri;
  GstRTSPMethod method = req->type_data.request.method;
  const gchar *what = gst_rtsp_method_as_text (method);
  g_autoptr (GstRTSPMessage) res = NULL;
  GstRTSPResult r;

  for (;;) {
    if ((r = gst_rtsp_connection_send_usec (self->conn, req,
                self->tcp_timeout)) != GST_RTSP_OK) {
      set_error (error, r, what, uri);
      return NULL;
    }
    do {
      g_clear_pointer (&res, gst_rtsp_message_free);
      gst_rtsp_message_new (&res);
      if ((r = gst_rtsp_connection_receive_usec (self->conn, res,
                  self->tcp_timeout)) != GST_RTSP_OK) {
        set_error (error, r, what, uri);
        return NULL;
      }
    } while (res->type != GST_RTSP_MESSAGE_RESPONSE);
    if (res->type_data.response.code != GST_RTSP_STS_UNAUTHORIZED
        || !setup_auth (self, res))
      break;
  }
  if (res->type_data.response.code != GST_RTSP_STS_OK) {
    g_set_error (error, GST_RESOURCE_ERROR,
        res->type_data.response.code == GST_RTSP_STS_UNAUTHORIZED ?
        GST_RESOURCE_ERROR_NOT_AUTHORIZED : GST_RESOURCE_ERROR_OPEN_READ,
        "%s %s: %d %s", what, uri, res->type_data.response.code,
        res->type_data.response.reason);
    return NULL;
  }
  return g_steal_pointer (&res);
}

static GstRTSPMessage *
new_request (GstRTSPMethod method, const gchar * uri)
{
  GstRTSPMessage *msg = NULL;

  gst_rtsp_message_new_request (&msg, method, uri);
  gst_rtsp_message_add_header (msg, GST_RTSP_HDR_USER_AGENT, "lookback");
  return msg;
}

/* ---- DESCRIBE: the streams of the SDP ---- */

/* The URL of control attribute @control relative to the base. */
static gchar *
control_uri (LbRtspSrc * self, const gchar * control)
{
  if (control == NULL || g_str_equal (control, "*"))
    return g_strdup (self->base_uri);
  if (g_str_has_prefix (control, "rtsp://")
      || g_str_has_prefix (control, "rtsps://"))
    return g_strdup (control);
  return g_strconcat (self->base_uri, g_str_has_suffix (self->base_uri,
          "/") ? "" : "/", control, NULL);
}

/* A stream for SDP media @m (video and audio only), or NULL. */
static LbRtspStream *
stream_from_media (LbRtspSrc * self, const GstSDPMessage * sdp,
    const GstSDPMedia * m)
{
  const gchar *media = gst_sdp_media_get_media (m);
  const gchar *fmt = gst_sdp_media_get_format (m, 0);
  GstCaps *caps;
  gint64 pt;

  if (fmt == NULL || (g_strcmp0 (media, "video") && g_strcmp0 (media, "audio"))
      || !g_ascii_string_to_signed (fmt, 10, 0, 127, &pt, NULL)
      || (caps = gst_sdp_media_get_caps_from_media (m, pt)) == NULL)
    return NULL;
  GstStructure *st = gst_caps_get_structure (caps, 0);
  gint rate = 0;
  gst_structure_set_name (st, "application/x-rtp");
  gst_sdp_message_attributes_to_caps (sdp, caps);
  gst_sdp_media_attributes_to_caps (m, caps);
  if (!gst_structure_get_int (st, "clock-rate", &rate) || rate <= 0) {
    gst_caps_unref (caps);
    return NULL;
  }
  LbRtspStream *s = g_new0 (LbRtspStream, 1);
  s->caps = caps;
  s->video = g_str_equal (media, "video");
  s->clock_rate = rate;
  s->pt = pt;
  s->control = control_uri (self, gst_sdp_media_get_attribute_val (m,
          "control"));
  s->ext = G_MAXUINT64;
  s->anchor = GST_CLOCK_TIME_NONE;
  return s;
}

/* Whether the SDP's range (the session's, else the first medium's with
 * one) starts "now": a live camera, which PLAY then asks for from now, as
 * rtspsrc does.  Asked for "npt=0.000-", gst-rtsp-server seeks its live
 * pipeline: it flushes what the encoder holds (with B-frames and
 * lookahead, half a second and more of footage that is never sent) and
 * pauses the camera's clock meanwhile. */
static gboolean
sdp_is_live (const GstSDPMessage * sdp)
{
  const gchar *val = gst_sdp_message_get_attribute_val (sdp, "range");
  GstRTSPTimeRange *range = NULL;
  gboolean live = FALSE;

  for (guint i = 0; val == NULL && i < gst_sdp_message_medias_len (sdp); i++)
    val = gst_sdp_media_get_attribute_val (gst_sdp_message_get_media (sdp, i),
        "range");
  if (val && gst_rtsp_range_parse (val, &range) == GST_RTSP_OK) {
    live = range->min.type == GST_RTSP_TIME_NOW;
    gst_rtsp_range_free (range);
  }
  return live;
}

static gboolean
parse_sdp (LbRtspSrc * self, GstRTSPMessage * res, GError ** error)
{
  g_autoptr (GstSDPMessage) sdp = NULL;
  guint8 *body = NULL;
  guint size = 0;

  gst_rtsp_message_get_body (res, &body, &size);
  gst_sdp_message_new (&sdp);
  if (body == NULL || gst_sdp_message_parse_buffer (body, size, sdp)
      != GST_SDP_OK) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_READ,
        "DESCRIBE %s: no SDP in the answer", self->request_uri);
    return FALSE;
  }
  self->live = sdp_is_live (sdp);
  for (guint i = 0; i < gst_sdp_message_medias_len (sdp); i++) {
    LbRtspStream *s = stream_from_media (self, sdp,
        gst_sdp_message_get_media (sdp, i));
    if (s == NULL)
      continue;
    if (self->streams->len == MAX_STREAMS) {
      stream_free (s);
      break;
    }
    /* video first: gst-launch links the first pad */
    g_ptr_array_insert (self->streams, s->video ? (gint)
        self->next_pad++ : -1, s);
  }
  if (self->streams->len == 0) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_READ,
        "DESCRIBE %s: no video or audio stream", self->request_uri);
    return FALSE;
  }
  return TRUE;
}

static gboolean
describe (LbRtspSrc * self, GError ** error)
{
  g_autoptr (GstRTSPMessage) req = new_request (GST_RTSP_OPTIONS,
      self->request_uri);
  g_autoptr (GstRTSPMessage) res = request (self, req, error);
  gchar *val = NULL;

  if (res == NULL)
    return FALSE;
  if (gst_rtsp_message_get_header (res, GST_RTSP_HDR_PUBLIC, &val, 0)
      == GST_RTSP_OK)
    self->use_get_parameter = strstr (val, "GET_PARAMETER") != NULL;
  gst_rtsp_message_free (g_steal_pointer (&req));
  gst_rtsp_message_free (g_steal_pointer (&res));

  req = new_request (GST_RTSP_DESCRIBE, self->request_uri);
  gst_rtsp_message_add_header (req, GST_RTSP_HDR_ACCEPT, "application/sdp");
  if ((res = request (self, req, error)) == NULL)
    return FALSE;
  if (gst_rtsp_message_get_header (res, GST_RTSP_HDR_CONTENT_BASE, &val, 0)
      == GST_RTSP_OK || gst_rtsp_message_get_header (res,
          GST_RTSP_HDR_CONTENT_LOCATION, &val, 0) == GST_RTSP_OK)
    self->base_uri = g_strdup (val);
  else
    self->base_uri = g_strdup (self->request_uri);
  return parse_sdp (self, res, error);
}

/* ---- SETUP and the pads ---- */

static gboolean
setup_stream (LbRtspSrc * self, LbRtspStream * s, GError ** error)
{
  g_autoptr (GstRTSPMessage) req = new_request (GST_RTSP_SETUP, s->control);
  g_autoptr (GstRTSPMessage) res = NULL;
  g_autofree gchar *transport =
      g_strdup_printf ("RTP/AVP/TCP;unicast;interleaved=%u-%u",
      2 * s->index, 2 * s->index + 1);
  GstRTSPTransport *t = NULL;
  gchar *val = NULL;

  gst_rtsp_message_add_header (req, GST_RTSP_HDR_TRANSPORT, transport);
  if ((res = request (self, req, error)) == NULL)
    return FALSE;
  s->rtp_channel = 2 * s->index;
  s->rtcp_channel = 2 * s->index + 1;
  if (gst_rtsp_message_get_header (res, GST_RTSP_HDR_TRANSPORT, &val, 0)
      == GST_RTSP_OK && gst_rtsp_transport_new (&t) == GST_RTSP_OK) {
    if (gst_rtsp_transport_parse (val, t) == GST_RTSP_OK
        && t->interleaved.min >= 0 && t->interleaved.min < 256) {
      s->rtp_channel = t->interleaved.min;
      s->rtcp_channel = t->interleaved.max >= 0 && t->interleaved.max < 256 ?
          t->interleaved.max : t->interleaved.min + 1;
    }
    gst_rtsp_transport_free (t);
  }
  return TRUE;
}

/* With more than one stream, each stream's packets go to a thread of its
 * own: one thread pushing every stream deadlocks downstream elements that
 * wait for one stream while holding back the other (splitmuxsink cutting at
 * a keyframe, sinks prerolling).  A camera with video only keeps one
 * thread. */
static GstFlowReturn
queue_buffer (LbRtspSrc * self, LbRtspStream * s, GstBuffer * buf)
{
  GstFlowReturn last = g_atomic_int_get (&s->flow);

  if (g_async_queue_length (s->queue) >= MAX_QUEUED) {
    if (!s->dropping)
      GST_ELEMENT_WARNING (self, STREAM, FAILED, ("stream %u is not taken: "
              "its packets are dropped", s->index), (NULL));
    s->dropping = TRUE;
    gst_buffer_unref (buf);
  } else {
    s->dropping = FALSE;
    g_async_queue_push (s->queue, buf);
  }
  return last < GST_FLOW_EOS ? last : GST_FLOW_OK;
}

/* The pad task of a stream (with more than one). */
static void
push_queued (LbRtspStream * s)
{
  GstMiniObject *obj = g_async_queue_timeout_pop (s->queue,
      G_USEC_PER_SEC / 10);
  GstFlowReturn ret = GST_FLOW_FLUSHING;

  /* the task holds the stream lock that deactivating the pad waits for:
   * it pauses once the pad is flushing */
  if (obj && GST_IS_EVENT (obj))
    ret = gst_pad_push_event (s->pad, GST_EVENT (obj)) ? GST_FLOW_EOS :
        GST_FLOW_FLUSHING;
  else if (obj)
    ret = gst_pad_push (s->pad, GST_BUFFER (obj));
  else if (!GST_PAD_IS_FLUSHING (s->pad))
    return;
  g_atomic_int_set (&s->flow, ret);
  if (ret == GST_FLOW_FLUSHING)
    gst_pad_pause_task (s->pad);
}

static gboolean
on_src_query (GstPad * pad, GstObject * parent, GstQuery * query)
{
  LbRtspSrc *self = LB_RTSP_SRC (parent);

  if (GST_QUERY_TYPE (query) == GST_QUERY_LATENCY) {
    GST_OBJECT_LOCK (self);
    gst_query_set_latency (query, TRUE, self->latency_ms * GST_MSECOND,
        GST_CLOCK_TIME_NONE);
    GST_OBJECT_UNLOCK (self);
    return TRUE;
  }
  return gst_pad_query_default (pad, parent, query);
}

static void
add_pad (LbRtspSrc * self, LbRtspStream * s, const gchar * group_stream)
{
  g_autofree gchar *name = g_strdup_printf ("stream_%u", s->index);
  g_autofree gchar *stream_id = NULL;
  GstSegment segment;

  s->pad = gst_pad_new_from_static_template (&src_template, name);
  gst_pad_set_query_function (s->pad, on_src_query);
  gst_pad_use_fixed_caps (s->pad);
  gst_pad_set_active (s->pad, TRUE);
  stream_id = gst_pad_create_stream_id (s->pad, GST_ELEMENT (self), name);
  GstEvent *start = gst_event_new_stream_start (stream_id);
  gst_event_set_group_id (start, GPOINTER_TO_UINT (group_stream));
  gst_pad_push_event (s->pad, start);
  gst_pad_push_event (s->pad, gst_event_new_caps (s->caps));
  gst_segment_init (&segment, GST_FORMAT_TIME);
  gst_pad_push_event (s->pad, gst_event_new_segment (&segment));
  gst_flow_combiner_add_pad (self->flows, s->pad);
  gst_element_add_pad (GST_ELEMENT (self), s->pad);
  if (self->streams->len > 1) {
    s->queue = g_async_queue_new_full ((GDestroyNotify)
        gst_mini_object_unref);
    gst_pad_start_task (s->pad, (GstTaskFunction) push_queued, s, NULL);
  }
}

static gboolean
setup (LbRtspSrc * self, GError ** error)
{
  guint group = gst_util_group_id_next ();

  for (guint i = 0; i < self->streams->len; i++) {
    LbRtspStream *s = self->streams->pdata[i];
    s->index = i;
    if (!setup_stream (self, s, error))
      return FALSE;
  }
  for (guint i = 0; i < self->streams->len; i++)
    add_pad (self, self->streams->pdata[i], GUINT_TO_POINTER (group));
  gst_element_no_more_pads (GST_ELEMENT (self));
  return TRUE;
}

/* ---- timestamps ---- */

static GstClockTime
running_time_now (LbRtspSrc * self)
{
  g_autoptr (GstClock) clock = gst_element_get_clock (GST_ELEMENT (self));
  GstClockTime base = gst_element_get_base_time (GST_ELEMENT (self));
  GstClockTime now;

  if (clock == NULL)
    return 0;
  now = gst_clock_get_time (clock);
  return now > base ? now - base : 0;
}

/* RTP time @to - @from of @s in ns, signed. */
static gint64
rtp_ns (const LbRtspStream * s, guint64 to, guint64 from)
{
  guint64 d = to >= from ? to - from : from - to;
  gint64 ns = gst_util_uint64_scale_int (d, GST_SECOND, s->clock_rate);

  return to >= from ? ns : -ns;
}

/* The first packet of @s (RTP time @ext): where its timestamps start. */
static void
anchor_stream (LbRtspSrc * self, LbRtspStream * s, guint64 ext)
{
  GstClockTime now = running_time_now (self);

  s->base_ext = ext;
  s->anchor = now;
  if (!s->have_rtp_info)
    return;
  /* the streams of RTP-Info share the instant of their rtptime */
  s->base_ext = lb_rtp_unwrap (ext, s->rtp_info_time);
  if (!self->have_common_anchor) {
    gint64 a = (gint64) now - rtp_ns (s, ext, s->base_ext);
    self->common_anchor = MAX (a, 0);
    self->have_common_anchor = TRUE;
  }
  s->anchor = self->common_anchor;
}

static GstClockTime
stream_pts (LbRtspStream * s, guint64 ext)
{
  gint64 pts;

  if (s->offset != s->target) {
    gint64 d = s->target - s->offset;
    s->offset += s->pushed ? CLAMP (d, -SYNC_STEP_NS, SYNC_STEP_NS) : d;
  }
  pts = (gint64) s->anchor + rtp_ns (s, ext, s->base_ext) + s->offset;
  return pts > 0 ? (GstClockTime) pts : 0;
}

/* NTP time difference @a - @b (32.32 fixed point) in ns. */
static gint64
ntp_diff_ns (guint64 a, guint64 b)
{
  gint64 d = (gint64) (a - b);
  gint64 whole = d >> 32;       /* arithmetic: floor */
  guint64 frac = (guint64) d & G_GUINT64_CONSTANT (0xffffffff);

  return whole * (gint64) GST_SECOND + (gint64) ((frac * GST_SECOND) >> 32);
}

/* The sender reports of the first video stream and @s say where @s's
 * timestamps belong. */
static void
sync_stream (LbRtspSrc * self, LbRtspStream * s)
{
  LbRtspStream *ref = self->streams->pdata[0];

  if (s == ref || !ref->have_sr || !s->have_sr
      || !GST_CLOCK_TIME_IS_VALID (ref->anchor)
      || !GST_CLOCK_TIME_IS_VALID (s->anchor))
    return;
  gint64 ref_at = (gint64) ref->anchor + rtp_ns (ref, ref->sr_ext,
      ref->base_ext) + ref->offset;
  gint64 want = ref_at + ntp_diff_ns (s->sr_ntp, ref->sr_ntp);
  gint64 have = (gint64) s->anchor + rtp_ns (s, s->sr_ext, s->base_ext);
  if (s->target != want - have)
    GST_DEBUG_OBJECT (self, "stream %u: sender reports move it by %"
        G_GINT64_FORMAT " ns", s->index, want - have - s->offset);
  s->target = want - have;
}

static void
on_rtcp (LbRtspSrc * self, LbRtspStream * s, const guint8 * data, gsize size)
{
  guint32 ssrc, rtptime;
  guint64 ntp;

  if (s->ext == G_MAXUINT64
      || !lb_rtcp_sender_report (data, size, &ssrc, &ntp, &rtptime))
    return;
  s->have_sr = TRUE;
  s->sr_ntp = ntp;
  s->sr_ext = lb_rtp_unwrap (s->ext, rtptime);
  if (s == self->streams->pdata[0]) {
    for (guint i = 1; i < self->streams->len; i++)
      sync_stream (self, self->streams->pdata[i]);
  } else {
    sync_stream (self, s);
  }
}

/* ---- the packets ---- */


static GstFlowReturn
on_rtp (LbRtspSrc * self, LbRtspStream * s, const guint8 * data, gsize size)
{
  LbRtpHeader rtp;
  GstBuffer *buf;
  GstFlowReturn ret;

  if (!lb_rtp_header_parse (data, size, &rtp) || rtp.pt != s->pt) {
    GST_LOG_OBJECT (self, "stream %u: not an RTP packet of payload %u",
        s->index, s->pt);
    return GST_FLOW_OK;
  }
  s->ext = lb_rtp_unwrap (s->ext, rtp.timestamp);
  s->ssrc = rtp.ssrc;
  if (!GST_CLOCK_TIME_IS_VALID (s->anchor))
    anchor_stream (self, s, s->ext);
  if (!gst_pad_is_linked (s->pad))
    return GST_FLOW_OK;
  buf = gst_buffer_new_memdup (data, size);
  GST_BUFFER_PTS (buf) = stream_pts (s, s->ext);
  if (!s->pushed || (s->have_seq && rtp.seq != (guint16) (s->seq + 1)))
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DISCONT);
  s->seq = rtp.seq;
  s->have_seq = s->pushed = TRUE;
  GST_LOG_OBJECT (self, "stream %u: %" GST_TIME_FORMAT, s->index,
      GST_TIME_ARGS (GST_BUFFER_PTS (buf)));
  if (s->queue)
    return queue_buffer (self, s, buf);
  ret = gst_pad_push (s->pad, buf);
  return gst_flow_combiner_update_pad_flow (self->flows, s->pad, ret);
}

static GstFlowReturn
on_data (LbRtspSrc * self, const LbRtspFrame * f)
{
  for (guint i = 0; i < self->streams->len; i++) {
    LbRtspStream *s = self->streams->pdata[i];
    if (f->channel == s->rtp_channel)
      return on_rtp (self, s, f->data, f->size);
    if (f->channel == s->rtcp_channel) {
      on_rtcp (self, s, f->data, f->size);
      break;
    }
  }
  return GST_FLOW_OK;
}

/* Hands every whole frame of the read buffer on; FALSE on a flow error or
 * bytes that are not RTSP. */
static gboolean
drain_buffer (LbRtspSrc * self, GstFlowReturn * flow, GError ** error)
{
  gsize off = 0;
  LbRtspFrame f;

  while (*flow == GST_FLOW_OK || *flow == GST_FLOW_NOT_LINKED) {
    switch (lb_rtsp_frame_next (self->buf + off, self->buf_len - off, &f)) {
      case LB_RTSP_FRAME_NEED_MORE:
        memmove (self->buf, self->buf + off, self->buf_len - off);
        self->buf_len -= off;
        return TRUE;
      case LB_RTSP_FRAME_BAD:
        g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ,
            "%s: the camera sent bytes that are not RTSP", self->request_uri);
        return FALSE;
      case LB_RTSP_FRAME_MESSAGE:{
        guint status = lb_rtsp_message_status (f.data, f.size);
        if (status != 0 && status != 200)
          GST_WARNING_OBJECT (self, "keep-alive answered %u", status);
        break;
      }
      case LB_RTSP_FRAME_DATA:
        *flow = on_data (self, &f);
        break;
    }
    off += f.consumed;
  }
  return TRUE;
}

/* ---- PLAY and the session ---- */

static void
parse_rtp_info (LbRtspSrc * self, const LbRtspFrame * f)
{
  g_autofree gchar *info = lb_rtsp_message_header (f->data, f->size,
      "RTP-Info");

  for (guint i = 0; info && i < self->streams->len; i++) {
    LbRtspStream *s = self->streams->pdata[i];
    s->have_rtp_info = lb_rtsp_rtp_info_rtptime (info, s->control,
        &s->rtp_info_time);
  }
}

/* Waits up to @wait_us for bytes (or the stop) and reads what is there
 * (what is there already without a poll ()).  The poll is on the socket and
 * the cancellable's fd, made once per session: g_socket_condition_timed_wait
 * () makes and closes an eventfd per call when given a cancellable. */
static gboolean
read_some (LbRtspSrc * self, GSocket * sock, gint64 wait_us, GError ** error)
{
  GPollFD fds[2] = {
    {.fd = g_socket_get_fd (sock),.events = G_IO_IN},
    self->cancel_fd,
  };
  gssize n;

  if (g_cancellable_set_error_if_cancelled (self->cancellable, error))
    return FALSE;
  n = recv (fds[0].fd, self->buf + self->buf_len, READ_BUFFER - self->buf_len,
      MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
    if (g_poll (fds, 2, (gint) MIN ((wait_us + 999) / 1000, G_MAXINT)) < 0
        && errno != EINTR) {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
          "poll: %s", g_strerror (errno));
      return FALSE;
    }
    if (g_cancellable_set_error_if_cancelled (self->cancellable, error))
      return FALSE;
    n = recv (fds[0].fd, self->buf + self->buf_len,
        READ_BUFFER - self->buf_len, MSG_DONTWAIT);
  }
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "timeout");
    return FALSE;
  }
  if (n < 0) {
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
        "%s: %s", self->request_uri, g_strerror (errno));
    return FALSE;
  }
  if (n == 0) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ,
        "%s: the camera closed the connection", self->request_uri);
    return FALSE;
  }
  self->buf_len += n;
  return TRUE;
}

/* PLAY; its response is read with the stream (packets may follow it in
 * the same read). */
static gboolean
play (LbRtspSrc * self, GSocket * sock, GError ** error)
{
  g_autoptr (GstRTSPMessage) req = new_request (GST_RTSP_PLAY, self->base_uri);
  GstRTSPResult r;
  LbRtspFrame f;

  gst_rtsp_message_add_header (req, GST_RTSP_HDR_RANGE, self->live ?
      "npt=now-" : "npt=0.000-");
  if ((r = gst_rtsp_connection_send_usec (self->conn, req,
              self->tcp_timeout)) != GST_RTSP_OK) {
    set_error (error, r, "PLAY", self->base_uri);
    return FALSE;
  }
  for (;;) {
    LbRtspFrameKind k = lb_rtsp_frame_next (self->buf, self->buf_len, &f);
    if (k == LB_RTSP_FRAME_MESSAGE && lb_rtsp_message_status (f.data, f.size))
      break;
    if (k == LB_RTSP_FRAME_BAD) {
      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ,
          "PLAY %s: the answer is not RTSP", self->base_uri);
      return FALSE;
    }
    if (k != LB_RTSP_FRAME_NEED_MORE) {
      self->buf_len -= f.consumed;
      memmove (self->buf, self->buf + f.consumed, self->buf_len);
    } else if (!read_some (self, sock, self->tcp_timeout, error)) {
      return FALSE;
    }
  }
  guint status = lb_rtsp_message_status (f.data, f.size);
  if (status != 200) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_READ,
        "PLAY %s: %u", self->base_uri, status);
    return FALSE;
  }
  parse_rtp_info (self, &f);
  self->buf_len -= f.consumed;
  memmove (self->buf, self->buf + f.consumed, self->buf_len);
  return TRUE;
}

static void
keep_alive (LbRtspSrc * self)
{
  g_autoptr (GstRTSPMessage) req = new_request (self->use_get_parameter ?
      GST_RTSP_GET_PARAMETER : GST_RTSP_OPTIONS, self->request_uri);

  if (gst_rtsp_connection_send_usec (self->conn, req, self->tcp_timeout)
      != GST_RTSP_OK)
    GST_WARNING_OBJECT (self, "keep-alive not sent");
  gst_rtsp_connection_reset_timeout (self->conn);
}

/* An RTCP receiver report (with SDES, as RFC 3550 asks) on each stream's
 * RTCP channel: some cameras end sessions without them. */
static void
send_receiver_reports (LbRtspSrc * self)
{
  for (guint i = 0; i < self->streams->len; i++) {
    LbRtspStream *s = self->streams->pdata[i];
    guint8 p[4 + 32 + 20] = { '$', s->rtcp_channel, 0, 52,
      0x81, 201, 0, 7,
    };
    GST_WRITE_UINT32_BE (p + 8, self->our_ssrc);
    GST_WRITE_UINT32_BE (p + 12, s->ssrc);
    GST_WRITE_UINT32_BE (p + 20, 0x10000 + s->seq);
    GST_WRITE_UINT32_BE (p + 28, (guint32) (s->sr_ntp >> 16));
    memcpy (p + 36, "\x81\xca\x00\x04", 4);
    GST_WRITE_UINT32_BE (p + 40, self->our_ssrc);
    memcpy (p + 44, "\x01\x08lookback\0\0", 12);
    if (s->ssrc != 0)
      gst_rtsp_connection_write_usec (self->conn, p, sizeof p,
          self->tcp_timeout);
  }
}

/* EOS on every pad, after the packets queued for it: the stream's end is
 * recorded before the error that follows stops the pipeline (waits for the
 * queues at most a second). */
static void
push_eos (LbRtspSrc * self)
{
  gint64 until = g_get_monotonic_time () + G_USEC_PER_SEC;
  gboolean queued = FALSE;

  for (guint i = 0; i < self->streams->len; i++) {
    LbRtspStream *s = self->streams->pdata[i];
    if (s->queue)
      g_async_queue_push (s->queue, gst_event_new_eos ());
    else if (s->pad)
      gst_pad_push_event (s->pad, gst_event_new_eos ());
    queued |= s->queue != NULL;
  }
  while (queued && g_get_monotonic_time () < until && !is_stopping (self)) {
    queued = FALSE;
    for (guint i = 0; i < self->streams->len; i++) {
      LbRtspStream *s = self->streams->pdata[i];
      queued |= s->queue && g_async_queue_length (s->queue) > 0;
    }
    if (queued)
      g_usleep (10 * 1000);
  }
}

/* The playing session: reads until stopped or an error. */
static gboolean
receive (LbRtspSrc * self, GSocket * sock, GError ** error)
{
  gint64 now = g_get_monotonic_time ();
  gint64 last_data = now, next_rr = now + RR_INTERVAL_US;
  GstFlowReturn flow = GST_FLOW_OK;
  g_autoptr (GError) err = NULL;

  for (;;) {
    gint64 keep = gst_rtsp_connection_next_timeout_usec (self->conn);
    if (keep <= 0)
      keep_alive (self);
    if (now >= next_rr) {
      send_receiver_reports (self);
      next_rr = now + RR_INTERVAL_US;
    }
    gint64 wait = MIN (MAX (keep, 0), next_rr - now);
    wait = MIN (wait, last_data + (gint64) self->timeout - now);
    if (read_some (self, sock, MAX (wait, 0), &err))
      last_data = g_get_monotonic_time ();
    else if (!g_error_matches (err, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
      break;
    g_clear_error (&err);
    now = g_get_monotonic_time ();
    if (now - last_data >= (gint64) self->timeout) {
      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ,
          "%s: no packet for %" G_GUINT64_FORMAT " ms", self->request_uri,
          self->timeout / 1000);
      return FALSE;
    }
    if (!drain_buffer (self, &flow, error))
      return FALSE;
    if (flow == GST_FLOW_EOS) {
      /* downstream has had enough (a sink's num-buffers): end cleanly */
      push_eos (self);
      return TRUE;
    }
    if (flow != GST_FLOW_OK && flow != GST_FLOW_NOT_LINKED) {
      g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FAILED,
          "%s: streaming stopped, reason %s", self->request_uri,
          gst_flow_get_name (flow));
      return FALSE;
    }
  }
  g_propagate_error (error, g_steal_pointer (&err));
  return FALSE;
}

/* Waits for PLAYING (the running time of the first packet needs the
 * pipeline's clock); FALSE when stopped first. */
static gboolean
wait_playing (LbRtspSrc * self)
{
  gboolean go;

  GST_OBJECT_LOCK (self);
  while (!self->playing && !self->stopping)
    g_cond_wait (&self->cond, GST_OBJECT_GET_LOCK (self));
  go = !self->stopping;
  GST_OBJECT_UNLOCK (self);
  return go;
}

static gboolean
open_session (LbRtspSrc * self, GError ** error)
{
  GstRTSPConnection *conn = NULL;
  g_autofree gchar *location = NULL;
  GstRTSPResult r;

  GST_OBJECT_LOCK (self);
  location = g_strdup (self->location);
  GST_OBJECT_UNLOCK (self);
  if (location == NULL || gst_rtsp_url_parse (location, &self->url)
      != GST_RTSP_OK) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND,
        "no valid rtsp:// location");
    return FALSE;
  }
  self->request_uri = gst_rtsp_url_get_request_uri (self->url);
  if ((r = gst_rtsp_connection_create (self->url, &conn)) != GST_RTSP_OK) {
    set_error (error, r, "connect to", self->request_uri);
    return FALSE;
  }
  GST_OBJECT_LOCK (self);
  self->conn = conn;
  if (self->stopping)
    gst_rtsp_connection_flush (conn, TRUE);
  GST_OBJECT_UNLOCK (self);
  if ((r = gst_rtsp_connection_connect_usec (conn, self->tcp_timeout))
      != GST_RTSP_OK) {
    set_error (error, r, "connect to", self->request_uri);
    return FALSE;
  }
  return describe (self, error) && setup (self, error);
}

static void
close_session (LbRtspSrc * self)
{
  GstRTSPConnection *conn;

  if (self->conn && self->base_uri) {
    g_autoptr (GstRTSPMessage) req = new_request (GST_RTSP_TEARDOWN,
        self->base_uri);
    GST_OBJECT_LOCK (self);
    gst_rtsp_connection_flush (self->conn, FALSE);
    GST_OBJECT_UNLOCK (self);
    gst_rtsp_connection_send_usec (self->conn, req, G_USEC_PER_SEC / 2);
  }
  GST_OBJECT_LOCK (self);
  conn = g_steal_pointer (&self->conn);
  GST_OBJECT_UNLOCK (self);
  if (conn) {
    gst_rtsp_connection_close (conn);
    gst_rtsp_connection_free (conn);
  }
}

static void
lb_rtsp_src_loop (LbRtspSrc * self)
{
  g_autoptr (GError) error = NULL;

  if (is_stopping (self))
    return;                     /* until the state change stops the task */
  if (open_session (self, &error) && wait_playing (self)
      && g_cancellable_make_pollfd (self->cancellable, &self->cancel_fd)) {
    GSocket *sock = gst_rtsp_connection_get_read_socket (self->conn);
    self->cancel_fd.events = G_IO_IN;
    if (play (self, sock, &error))
      receive (self, sock, &error);
    g_cancellable_release_fd (self->cancellable);
  }
  if (!is_stopping (self) && error) {
    GST_WARNING_OBJECT (self, "%s", error->message);
    push_eos (self);
    gst_element_message_full (GST_ELEMENT (self), GST_MESSAGE_ERROR,
        error->domain, error->code, g_strdup (error->message), NULL,
        __FILE__, GST_FUNCTION, __LINE__);
  }
  close_session (self);
  /* paused until the state change stops it (under the lock that orders
   * this before signal_stop's gst_task_stop: a pause after the stop would
   * never be joined) */
  GST_OBJECT_LOCK (self);
  if (!self->stopping)
    gst_task_pause (self->task);
  GST_OBJECT_UNLOCK (self);
}

/* ---- the element ---- */

static void
reset (LbRtspSrc * self)
{
  g_clear_pointer (&self->url, gst_rtsp_url_free);
  g_clear_pointer (&self->request_uri, g_free);
  g_clear_pointer (&self->base_uri, g_free);
  for (guint i = 0; i < self->streams->len; i++) {
    LbRtspStream *s = self->streams->pdata[i];
    if (s->pad) {
      gst_pad_stop_task (s->pad);
      gst_flow_combiner_remove_pad (self->flows, s->pad);
      gst_element_remove_pad (GST_ELEMENT (self), s->pad);
    }
  }
  g_ptr_array_set_size (self->streams, 0);
  self->next_pad = 0;
  self->tried_auth = self->use_get_parameter = self->live = FALSE;
  self->have_common_anchor = FALSE;
  self->buf_len = 0;
}

static gboolean
start (LbRtspSrc * self)
{
  reset (self);
  GST_OBJECT_LOCK (self);
  self->stopping = self->playing = FALSE;
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();
  GST_OBJECT_UNLOCK (self);
  self->our_ssrc = g_random_int ();
  return gst_task_start (self->task);
}

static void
signal_stop (LbRtspSrc * self)
{
  GST_OBJECT_LOCK (self);
  self->stopping = TRUE;
  g_cancellable_cancel (self->cancellable);
  if (self->conn)
    gst_rtsp_connection_flush (self->conn, TRUE);
  g_cond_broadcast (&self->cond);
  GST_OBJECT_UNLOCK (self);
}

static void
set_playing (LbRtspSrc * self, gboolean playing)
{
  GST_OBJECT_LOCK (self);
  self->playing = playing;
  g_cond_broadcast (&self->cond);
  GST_OBJECT_UNLOCK (self);
}

static GstStateChangeReturn
lb_rtsp_src_change_state (GstElement * element, GstStateChange transition)
{
  LbRtspSrc *self = LB_RTSP_SRC (element);
  GstStateChangeReturn ret;

  switch (transition) {
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      if (!start (self))
        return GST_STATE_CHANGE_FAILURE;
      break;
    case GST_STATE_CHANGE_PAUSED_TO_PLAYING:
      set_playing (self, TRUE);
      break;
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      signal_stop (self);
      break;
    default:
      break;
  }
  ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
  if (ret == GST_STATE_CHANGE_FAILURE)
    return ret;
  switch (transition) {
    case GST_STATE_CHANGE_READY_TO_PAUSED:
    case GST_STATE_CHANGE_PLAYING_TO_PAUSED:
      set_playing (self, FALSE);
      ret = GST_STATE_CHANGE_NO_PREROLL;
      break;
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      gst_task_stop (self->task);
      gst_task_join (self->task);
      reset (self);
      break;
    default:
      break;
  }
  return ret;
}

static void
lb_rtsp_src_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  LbRtspSrc *self = LB_RTSP_SRC (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_LOCATION:
      g_free (self->location);
      self->location = g_value_dup_string (value);
      break;
    case PROP_USER_ID:
      g_free (self->user_id);
      self->user_id = g_value_dup_string (value);
      break;
    case PROP_USER_PW:
      g_free (self->user_pw);
      self->user_pw = g_value_dup_string (value);
      break;
    case PROP_TIMEOUT:
      self->timeout = g_value_get_uint64 (value);
      break;
    case PROP_TCP_TIMEOUT:
      self->tcp_timeout = g_value_get_uint64 (value);
      break;
    case PROP_LATENCY:
      self->latency_ms = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
lb_rtsp_src_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  LbRtspSrc *self = LB_RTSP_SRC (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_LOCATION:
      g_value_set_string (value, self->location);
      break;
    case PROP_USER_ID:
      g_value_set_string (value, self->user_id);
      break;
    case PROP_USER_PW:
      g_value_set_string (value, self->user_pw);
      break;
    case PROP_TIMEOUT:
      g_value_set_uint64 (value, self->timeout);
      break;
    case PROP_TCP_TIMEOUT:
      g_value_set_uint64 (value, self->tcp_timeout);
      break;
    case PROP_LATENCY:
      g_value_set_uint (value, self->latency_ms);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
lb_rtsp_src_finalize (GObject * object)
{
  LbRtspSrc *self = LB_RTSP_SRC (object);

  reset (self);
  g_ptr_array_unref (self->streams);
  gst_flow_combiner_free (self->flows);
  gst_object_unref (self->task);
  g_rec_mutex_clear (&self->task_lock);
  g_cond_clear (&self->cond);
  g_clear_object (&self->cancellable);
  g_free (self->buf);
  g_free (self->location);
  g_free (self->user_id);
  g_free (self->user_pw);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
lb_rtsp_src_init (LbRtspSrc * self)
{
  self->timeout = DEFAULT_TIMEOUT;
  self->tcp_timeout = DEFAULT_TCP_TIMEOUT;
  self->latency_ms = DEFAULT_LATENCY_MS;
  self->streams = g_ptr_array_new_with_free_func ((GDestroyNotify)
      stream_free);
  self->flows = gst_flow_combiner_new ();
  self->buf = g_malloc (READ_BUFFER);
  g_cond_init (&self->cond);
  g_rec_mutex_init (&self->task_lock);
  self->task = gst_task_new ((GstTaskFunction) lb_rtsp_src_loop, self, NULL);
  gst_task_set_lock (self->task, &self->task_lock);
  GST_OBJECT_FLAG_SET (self, GST_ELEMENT_FLAG_SOURCE);
}

static void
lb_rtsp_src_class_init (LbRtspSrcClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_READY;

  gobject_class->set_property = lb_rtsp_src_set_property;
  gobject_class->get_property = lb_rtsp_src_get_property;
  gobject_class->finalize = lb_rtsp_src_finalize;
  element_class->change_state = lb_rtsp_src_change_state;

  g_object_class_install_property (gobject_class, PROP_LOCATION,
      g_param_spec_string ("location", "Location",
          "rtsp://[user:password@]host[:port]/path of the camera", NULL, rw));
  g_object_class_install_property (gobject_class, PROP_USER_ID,
      g_param_spec_string ("user-id", "User ID",
          "User name for Basic or Digest authentication (before the URL's)",
          NULL, rw));
  g_object_class_install_property (gobject_class, PROP_USER_PW,
      g_param_spec_string ("user-pw", "User password",
          "Password for Basic or Digest authentication (before the URL's)",
          NULL, rw));
  g_object_class_install_property (gobject_class, PROP_TIMEOUT,
      g_param_spec_uint64 ("timeout", "Timeout",
          "Error when no packet comes for this long, in microseconds",
          1000, G_MAXUINT64, DEFAULT_TIMEOUT, rw));
  g_object_class_install_property (gobject_class, PROP_TCP_TIMEOUT,
      g_param_spec_uint64 ("tcp-timeout", "TCP timeout",
          "Error when connecting or a request takes longer, in microseconds",
          1000, G_MAXUINT64, DEFAULT_TCP_TIMEOUT, rw));
  g_object_class_install_property (gobject_class, PROP_LATENCY,
      g_param_spec_uint ("latency", "Latency",
          "Latency reported to synchronising sinks, in milliseconds",
          0, 60000, DEFAULT_LATENCY_MS, rw));

  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "lookback RTSP source",
      "Source/Network", "Receives the RTP streams of an RTSP camera over "
      "interleaved TCP, without rtpbin", "the lookback authors");
}
