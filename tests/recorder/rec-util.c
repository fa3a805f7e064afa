/* Helpers shared by the recorder tests */
#define _GNU_SOURCE             /* unshare, CLONE_NEWNS */
#include "rec-util.h"

#include "core/lb-disk.h"
#include "core/lb-log.h"
#include "core/lb-time.h"
#include "store/lb-store-footage.h"

#include <errno.h>
#include <fcntl.h>
#include <gst/app/gstappsink.h>
#include <glib/gstdio.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

gint
rec_decode_count (const gchar * path, gchar ** error_text)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GstElement) p =
      gst_parse_launch ("filesrc name=src ! qtdemux ! decodebin ! "
      "fakesink name=sink signal-handoffs=true", &error);
  g_assert_no_error (error);
  g_autoptr (GstElement) src = gst_bin_get_by_name (GST_BIN (p), "src");
  g_autoptr (GstElement) sink = gst_bin_get_by_name (GST_BIN (p), "sink");
  gint count = 0;

  g_object_set (src, "location", path, NULL);
  g_signal_connect_swapped (sink, "handoff", G_CALLBACK (g_atomic_int_inc),
      &count);
  gst_element_set_state (p, GST_STATE_PLAYING);
  g_autoptr (GstBus) bus = gst_element_get_bus (p);
  g_autoptr (GstMessage) msg = gst_bus_timed_pop_filtered (bus, 30 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  gst_element_set_state (p, GST_STATE_NULL);
  if (msg == NULL || GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    if (error_text) {
      g_autoptr (GError) err = NULL;
      if (msg)
        gst_message_parse_error (msg, &err, NULL);
      *error_text = g_strdup (err ? err->message : "timeout");
    }
    return -1;
  }
  return count;
}

static void
frame_clear (gpointer p)
{
  RecFrame *f = p;
  g_clear_pointer (&f->bytes, g_bytes_unref);
}

GArray *
rec_demux_frames (const gchar * path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GstElement) p = gst_parse_launch ("filesrc name=src ! qtdemux ! "
      "video/x-h264;video/x-h265 ! appsink name=sink sync=false", &error);
  g_assert_no_error (error);
  g_autoptr (GstElement) src = gst_bin_get_by_name (GST_BIN (p), "src");
  g_autoptr (GstElement) sink = gst_bin_get_by_name (GST_BIN (p), "sink");
  GArray *frames = g_array_new (FALSE, TRUE, sizeof (RecFrame));

  g_array_set_clear_func (frames, frame_clear);
  g_object_set (src, "location", path, NULL);
  gst_element_set_state (p, GST_STATE_PLAYING);
  for (;;) {
    g_autoptr (GstSample) s = gst_app_sink_try_pull_sample (GST_APP_SINK (sink),
        10 * GST_SECOND);
    if (s == NULL)
      break;
    GstBuffer *b = gst_sample_get_buffer (s);
    RecFrame f = { 0 };
    f.pts_ns = GST_BUFFER_PTS (b);
    f.dts_ns = GST_BUFFER_DTS_OR_PTS (b);
    f.key = !GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DELTA_UNIT);
    f.size = gst_buffer_get_size (b);
    if (f.key) {
      gpointer data = g_malloc (f.size);
      gst_buffer_extract (b, 0, data, f.size);
      f.bytes = g_bytes_new_take (data, f.size);
    }
    g_array_append_val (frames, f);
  }
  gboolean eos = gst_app_sink_is_eos (GST_APP_SINK (sink));
  gst_element_set_state (p, GST_STATE_NULL);
  if (!eos) {
    g_array_unref (frames);
    return NULL;
  }
  return frames;
}

static void
list_into (const gchar * dir, GPtrArray * out)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const gchar *name;

  if (d == NULL)
    return;
  while ((name = g_dir_read_name (d))) {
    g_autofree gchar *path = g_build_filename (dir, name, NULL);
    if (g_file_test (path, G_FILE_TEST_IS_DIR))
      list_into (path, out);
    else if (g_str_has_suffix (name, ".mp4"))
      g_ptr_array_add (out, g_steal_pointer (&path));
  }
}

static gint
cmp_str (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const gchar **) a, *(const gchar **) b);
}

GPtrArray *
rec_list_mp4 (const gchar * dir)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  list_into (dir, out);
  g_ptr_array_sort (out, cmp_str);
  return out;
}

static gboolean
set_flag (gpointer p)
{
  *(gboolean *) p = TRUE;
  return G_SOURCE_REMOVE;
}

void
rec_run_for (guint ms)
{
  gboolean done = FALSE;
  g_timeout_add (ms, set_flag, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

static gboolean
wake (gpointer p)
{
  return G_SOURCE_REMOVE;
}

gboolean
rec_run_until (gboolean * flag, guint ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;
  while (!*flag && g_get_monotonic_time () < end) {
    g_timeout_add (50, wake, NULL);
    g_main_context_iteration (NULL, TRUE);
  }
  return *flag;
}

RecSession *
rec_session_start (const gchar * conf_text)
{
  return rec_session_start_clock (conf_text, NULL);
}

RecSession *
rec_session_start_clock (const gchar * conf_text, LbClock * clock)
{
  g_autoptr (GError) error = NULL;
  RecSession *s = g_new0 (RecSession, 1);

  s->config = lb_config_load_data (conf_text, "/tmp/test.conf", &error);
  g_assert_no_error (error);
  g_autofree gchar *db = lb_config_get_db_path (s->config);
  s->store = lb_store_open (db, LB_STORE_OPEN_DEFAULT, &error);
  g_assert_no_error (error);
  s->recorder = lb_recorder_new (s->config, s->store, &error);
  g_assert_no_error (error);
  if (clock)
    lb_recorder_set_clock (s->recorder, clock);
  gboolean started = lb_recorder_start (s->recorder, &error);
  g_assert_no_error (error);
  g_assert_true (started);
  return s;
}

static void
on_session_stopped (LbRecorder * recorder, gpointer data)
{
  *(gboolean *) data = TRUE;
}

void
rec_session_stop (RecSession * s)
{
  gboolean stopped = FALSE;

  lb_recorder_stop (s->recorder, on_session_stopped, &stopped);
  g_assert_true (rec_run_until (&stopped, 10000));
}

void
rec_session_free (RecSession * s)
{
  if (s == NULL)
    return;
  g_clear_pointer (&s->recorder, lb_recorder_free);
  g_clear_pointer (&s->store, lb_store_free);
  g_clear_pointer (&s->config, lb_config_free);
  g_free (s);
}

static void
write_proc (const gchar * path, const gchar * text)
{
  g_autoptr (GError) error = NULL;
  if (!g_file_set_contents_full (path, text, -1, G_FILE_SET_CONTENTS_NONE,
          0644, &error))
    g_error ("%s: %s", path, error->message);
}

void
rec_private_mounts (void)
{
  if (unshare (CLONE_NEWNS) != 0) {
    /* Not root: a user namespace of our own maps us to root in it. */
    uid_t uid = getuid ();
    gid_t gid = getgid ();
    if (unshare (CLONE_NEWUSER | CLONE_NEWNS) != 0)
      g_error ("this test mounts a small tmpfs to fill a disk for real; it "
          "needs root or unprivileged user namespaces: unshare: %s",
          g_strerror (errno));
    g_autofree gchar *uid_map = g_strdup_printf ("0 %u 1", (guint) uid);
    g_autofree gchar *gid_map = g_strdup_printf ("0 %u 1", (guint) gid);
    write_proc ("/proc/self/setgroups", "deny");
    write_proc ("/proc/self/uid_map", uid_map);
    write_proc ("/proc/self/gid_map", gid_map);
  }
  /* Our mounts must not propagate to the rest of the system. */
  if (mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
    g_error ("making / private in our mount namespace: %s", g_strerror (errno));
}

gchar *
rec_mount_tmpfs (gsize bytes)
{
  g_autoptr (GError) error = NULL;
  gchar *dir = g_dir_make_tmp ("lb-disk-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree gchar *opts = g_strdup_printf ("size=%" G_GSIZE_FORMAT, bytes);
  if (mount ("lb-test", dir, "tmpfs", MS_NOSUID | MS_NODEV, opts) != 0)
    g_error ("mount tmpfs on %s: %s", dir, g_strerror (errno));
  return dir;
}

void
rec_umount (const gchar * dir)
{
  if (umount2 (dir, MNT_DETACH) != 0)
    g_error ("umount %s: %s", dir, g_strerror (errno));
  g_rmdir (dir);
}

gint64
rec_fill_disk (const gchar * path, gint64 leave)
{
  g_autofree gchar *dir = g_path_get_dirname (path);
  gint fd = open (path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  static const gchar block[64 * 1024];
  gint64 written = 0;

  g_assert_cmpint (fd, >=, 0);
  for (;;) {
    gint64 free_b = 0;
    g_assert_true (lb_disk_space (dir, &free_b, NULL, NULL));
    if (leave > 0 && free_b <= leave)
      break;
    gsize n = leave > 0 ? (gsize) MIN ((gint64) sizeof block, free_b - leave)
        : sizeof block;
    gssize w = write (fd, block, n);
    if (w < 0 && errno == ENOSPC)
      break;
    g_assert_cmpint (w, >, 0);
    written += w;
  }
  close (fd);
  return written;
}

/* ---- the index after clock changes ---- */

/* The input's segments in time order: recorded in that order (row ids),
 * none starting before the end of the one before it, each one's keyframes
 * inside it and in order. */
GPtrArray *
rec_sane_segments (LbStore * store, const gchar * vehicle, const gchar * input)
{
  g_autoptr (GError) error = NULL;
  GPtrArray *segs = lb_store_segment_list (store, vehicle, input, FALSE,
      &error);
  g_assert_no_error (error);
  g_assert_cmpuint (segs->len, >, 0);
  for (guint i = 0; i < segs->len; i++) {
    const LbSegment *s = segs->pdata[i];
    g_test_message ("segment %" G_GINT64_FORMAT ": %" G_GINT64_FORMAT
        " .. %" G_GINT64_FORMAT " ms, epoch %" G_GINT64_FORMAT, s->id,
        s->start_ns / LB_NS_PER_MS, s->end_ns / LB_NS_PER_MS, s->clock_epoch);
    g_assert_false (s->open);
    g_assert_cmpint (s->end_ns, >, s->start_ns);
    if (i > 0) {
      const LbSegment *p = segs->pdata[i - 1];
      g_assert_cmpint (s->id, >, p->id);
      g_assert_cmpint (s->start_ns, >=, p->end_ns);
    }
    g_autoptr (GArray) kfs = lb_store_segment_keyframes (store, s->id, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (kfs->len, >, 0);
    for (guint k = 0; k < kfs->len; k++) {
      gint64 t = g_array_index (kfs, LbKeyframe, k).time_ns;
      g_assert_cmpint (t, >=, s->start_ns);
      g_assert_cmpint (t, <, s->end_ns);
      if (k > 0)
        g_assert_cmpint (t, >, g_array_index (kfs, LbKeyframe, k - 1).time_ns);
    }
  }
  return segs;
}

/* Nanoseconds of the input's footage in [from, to) recorded while the
 * clock was not known to be synchronised. */
gint64
rec_unsynced_ns (LbStore * store, const gchar * vehicle, const gchar * input,
    gint64 from, gint64 to)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) ranges = NULL, gaps = NULL, unsynced = NULL;
  g_assert_true (lb_store_coverage (store, vehicle, input, from, to, &ranges,
          &gaps, &unsynced, &error));
  g_assert_no_error (error);
  gint64 sum = 0;
  for (guint i = 0; i < unsynced->len; i++) {
    const LbTimeRange *r = &g_array_index (unsynced, LbTimeRange, i);
    sum += r->end_ns - r->start_ns;
  }
  return sum;
}
