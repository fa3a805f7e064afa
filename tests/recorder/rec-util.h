/* Helpers shared by the recorder tests */
#pragma once

#include "core/lb-config.h"
#include "lb-test-common.h"
#include "recorder/lb-recorder.h"
#include "store/lb-store.h"

#include <gst/gst.h>

G_BEGIN_DECLS

typedef struct {
  gint64 pts_ns;                /* media PTS (file timeline) */
  gint64 dts_ns;
  gboolean key;
  gsize size;
  GBytes *bytes;                /* the sample as stored (keyframes only) */
} RecFrame;

/* Decodes @path (qtdemux ! decodebin: H.264 or H.265) to the end; returns
 * the decoded frame count, or -1 when the pipeline fails. */
gint       rec_decode_count   (const gchar *path, gchar **error_text);

/* Demuxes @path (no decoding): every video sample in decode order.
 * Keyframes keep their bytes.  NULL on failure. */
GArray    *rec_demux_frames   (const gchar *path);

/* Sorted list of the .mp4 files under @dir (recursively). */
GPtrArray *rec_list_mp4       (const gchar *dir);

/* Runs the default main context for @ms milliseconds. */
void       rec_run_for        (guint ms);

/* Runs the default main context until *flag is TRUE or @ms pass. */
gboolean   rec_run_until      (gboolean *flag, guint ms);

/* Removes @dir and everything in it. */

/* A file system of our own for tests of a full disk: the process enters a
 * mount namespace of its own (call it first thing in main(), before any
 * thread exists), so the tmpfs mounts below vanish with it and nobody else
 * sees them.  Needs root or unprivileged user namespaces; aborts with the
 * reason otherwise. */
void       rec_private_mounts (void);
/* A tmpfs of @bytes mounted on a new temporary folder. */
gchar     *rec_mount_tmpfs    (gsize bytes);
/* Unmounts it and removes the folder. */
void       rec_umount         (const gchar *dir);
/* Writes @path until the file system of @path has at most @leave bytes free
 * (0: until the disk is full); returns the bytes written. */
gint64     rec_fill_disk      (const gchar *path, gint64 leave);

/* The recorder tests' names for the log capture of tests/common. */
typedef LbTestLogCapture RecLogCapture;
#define rec_log_capture_start lb_test_log_capture_start
#define rec_log_capture_has   lb_test_log_capture_has
#define rec_log_capture_text  lb_test_log_capture_text
#define rec_log_capture_stop  lb_test_log_capture_stop

/* A recorder on the store and inputs of the configuration @conf_text,
 * started (asserted). */
typedef struct {
  LbConfig *config;
  LbStore *store;
  LbRecorder *recorder;
} RecSession;

RecSession *rec_session_start (const gchar *conf_text);
/* The same, the recorder reading @clock (not owned) as its wall clock. */
RecSession *rec_session_start_clock (const gchar *conf_text,
                                     LbClock     *clock);
/* Stops the recorder cleanly; asserts it reported done within 10 s. */
void        rec_session_stop  (RecSession *session);
void        rec_session_free  (RecSession *session);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RecSession, rec_session_free)

/* The segments (LbSegment*) of an input, asserted sane: in time order and
 * recorded in that order (row ids), none starting before the end of the
 * one before it, each one's keyframes inside it and in order. */
GPtrArray  *rec_sane_segments (LbStore     *store,
                               const gchar *vehicle,
                               const gchar *input);
/* Nanoseconds of an input's footage in [@from, @to) recorded while the
 * clock was not known to be synchronised. */
gint64      rec_unsynced_ns   (LbStore     *store,
                               const gchar *vehicle,
                               const gchar *input,
                               gint64       from,
                               gint64       to);

G_END_DECLS
