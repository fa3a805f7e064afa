/* lookback — helpers shared by every test suite (tests/common)
 *
 * Linked into each test program through lb_test_dep (tests/meson.build).
 */
#pragma once

#include <gio/gio.h>
#include <gst/gst.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "store/lb-store.h"
#include "store/lb-store-footage.h"

G_BEGIN_DECLS

/* Removes @path and everything under it; symbolic links are removed, never
 * followed.  Missing paths are fine. */
void      lb_test_rm_rf                   (const gchar *path);

/* The store of @dir (<dir>/lookback.db, created when missing), opened
 * (asserted). */
LbStore  *lb_test_store_open              (const gchar *dir);

/* A closed segment row of @vehicle's @input over [@start_ns, @end_ns) for
 * lb_store_segment_add(): H.264 320x240 at 30 fps, its path relative in the
 * store's layout, a keyframe every @gop_ns (5000 bytes each) put in
 * *@keyframes (LbKeyframe).  No file is written. */
LbSegment *lb_test_segment_new            (const gchar *vehicle,
                                           const gchar *input,
                                           gint64       start_ns,
                                           gint64       end_ns,
                                           gint64       gop_ns,
                                           GArray     **keyframes);

/* Adds @n segments of @vehicle's @input over @spans ([start, end) in ns),
 * timed in clock epoch @epoch (0: synchronised), each with a keyframe every
 * second (lb_test_segment_new()), in one transaction (asserted). */
void       lb_test_add_footage            (LbStore     *store,
                                           const gchar *vehicle,
                                           const gchar *input,
                                           gint64       epoch,
                                           const gint64 (*spans)[2],
                                           guint        n);

/* A new temporary folder holding an empty store: its database is
 * <dir>/lookback.db.  Returns the folder; *@out_db (if not NULL) gets the
 * database's path. */
gchar    *lb_test_store_new               (gchar **out_db);

/* A store opened in a new temporary folder, for a g_test fixture:
 *
 *   g_test_add ("/x", LbTestStoreFixture, NULL, lb_test_store_fixture_setup,
 *       test_x, lb_test_store_fixture_teardown);
 *
 * A test with more fields embeds it first and calls both functions from its
 * own set-up and tear-down. */
typedef struct
{
  gchar   *dir;
  LbStore *store;
} LbTestStoreFixture;

void      lb_test_store_fixture_setup     (LbTestStoreFixture *f,
                                           gconstpointer       data);
void      lb_test_store_fixture_teardown  (LbTestStoreFixture *f,
                                           gconstpointer       data);

/* The path of @file among the shared recordings (../shared/media beside the
 * checkout, $LB_SHARED_MEDIA in the tests' environment), or of the folder
 * itself when @file is NULL.  A missing file or folder fails the test at
 * once, naming it: the tests that need the recordings never pass without
 * them (README, "Tests"). */
gchar    *lb_test_shared_media            (const gchar *file);

/* A program run to its end by a test, and what it said. */
typedef struct
{
  gint status;                  /* exit status */
  gchar *out;
  gchar *err;
} LbTestProgram;

/* Runs @argv in @cwd (NULL: the test's) with @env changed ("NAME=value";
 * "NAME" alone unsets it; NULL: none) and waits for it; fails the test if
 * it cannot start or does not exit by itself. */
void      lb_test_program_run             (LbTestProgram      *run,
                                           const gchar        *cwd,
                                           const gchar *const *env,
                                           const gchar *const *argv);
void      lb_test_program_clear           (LbTestProgram      *run);

/* $LOOKBACK --config @conf @args… (NULL-terminated), as
 * lb_test_program_run() runs it. */
void      lb_test_lookback                (LbTestProgram      *run,
                                           const gchar        *conf,
                                           const gchar        *cwd,
                                           const gchar *const *env,
                                           const gchar *const *args);

/* A TCP port on 127.0.0.1 where nothing listens (bound, then released:
 * connecting is refused): a dead camera, an endpoint that is down, or a port
 * for a server the test starts. */
guint16   lb_test_dead_port               (void);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (LbTestProgram, lb_test_program_clear)

/* Captures lb_log events ("LEVEL message input=…" per line) from any thread,
 * instead of writing them. */
typedef struct _LbTestLogCapture LbTestLogCapture;
LbTestLogCapture *lb_test_log_capture_start (void);
/* Whether an event containing @needle was logged (thread-safe). */
gboolean      lb_test_log_capture_has     (LbTestLogCapture *capture,
                                           const gchar      *needle);
/* Every event so far, one per line.  lb_test_log_capture_stop() writes
 * them to the test output. */
gchar        *lb_test_log_capture_text    (LbTestLogCapture *capture);
void          lb_test_log_capture_stop    (LbTestLogCapture *capture);

/* lookbackd run by a test ($LOOKBACKD, built by meson).  Its stderr is read
 * on a thread of its own, line by line, so that the daemon never blocks on
 * a full pipe; the test waits for the lines it expects. */
typedef struct _LbTestDaemon LbTestDaemon;

/* Starts lookbackd --config @conf with @env added to the test's environment
 * (NULL-terminated "NAME=value" strings, or NULL) and waits until it
 * listens.  Fails the test if it exits first. */
LbTestDaemon *lb_test_daemon_start        (const gchar        *conf,
                                           const gchar *const *env);
/* "http://127.0.0.1:PORT" (from the daemon's start line). */
const gchar  *lb_test_daemon_get_uri      (LbTestDaemon *daemon);
GPid          lb_test_daemon_get_pid      (LbTestDaemon *daemon);
/* The first stderr line matching the glob @pattern, waiting for it; NULL
 * when stderr ends (the daemon exited) before one does.  Lines already
 * seen count too. */
gchar        *lb_test_daemon_wait_line    (LbTestDaemon *daemon,
                                           const gchar  *pattern);
/* Every stderr line so far, each ending in a newline. */
gchar        *lb_test_daemon_get_output   (LbTestDaemon *daemon);
/* Sends @sig and waits for the exit; returns the exit status (a killed
 * daemon: 128 + the signal). */
gint          lb_test_daemon_stop         (LbTestDaemon *daemon,
                                           gint          sig);
/* Kills a daemon still running (SIGKILL) and frees. */
void          lb_test_daemon_free         (LbTestDaemon *daemon);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbTestDaemon, lb_test_daemon_free)

/* Runs @argv (lookbackd, or a wrapper that execs it) with the environment
 * @envp (NULL: this process's) and reads its output up to the line that
 * says where its API listens: returns its pid (a child of this process,
 * killed if this process dies), *@uri gets the API's base URI, and the
 * lines read are appended to @log (nullable); the rest of its standard
 * error goes to this process's, each line prefixed "lookbackd: " (meson
 * shows it for a failed test).  Its standard output goes to /dev/null. */
GPid      lb_test_daemon_spawn            (const gchar *const *argv,
                                           gchar             **envp,
                                           gchar             **uri,
                                           GString            *log);

/* A request to @base_uri@path with the bearer @token (NULL: none) and the
 * JSON @body (NULL: none), the server in another process: the body of the
 * answer; *@status gets the HTTP status, 0 (and an empty body) when nothing
 * answered. */
GBytes   *lb_test_http_call               (SoupSession       *session,
                                           const gchar       *base_uri,
                                           const gchar       *token,
                                           const gchar       *method,
                                           const gchar       *path,
                                           const gchar       *body,
                                           guint             *status);

/* A request to the API at @base_uri with the bearer @token (the server runs
 * in another process): its JSON body (JSON null when empty); *@status gets
 * the HTTP status. */
JsonNode *lb_test_api_call                (SoupSession       *session,
                                           const gchar       *base_uri,
                                           const gchar       *token,
                                           const gchar       *method,
                                           const gchar       *path,
                                           const gchar       *body,
                                           guint             *status);

/* Spawns @argv as a child that is killed when the test dies. */
GSubprocess *lb_test_spawn_tied           (const gchar * const *argv,
                                           GError            **error);
/* The same with its stdout and stderr written to the file @log. */
GSubprocess *lb_test_spawn_tied_logged    (const gchar * const *argv,
                                           const gchar        *log,
                                           GError            **error);
/* Asserts the quota books of @org this month: committed usage @used and
 * open reservations @reserved (seconds of high-res video). */
void      lb_test_assert_books            (LbStore     *store,
                                           const gchar *org,
                                           gdouble      used,
                                           gdouble      reserved);

/* A GSpawnChildSetupFunc: the child is killed when the test dies (a
 * failed assertion leaves no camera or daemon running). */
void      lb_test_child_setup             (gpointer data);

/* An RTSP test camera (tests/tools/lb-test-camera) on loopback, started by
 * the test: @port 0 picks a free port; @args (NULL-terminated, or NULL)
 * are more of its options ("--codec", "h265", "--bframes", "2",
 * "--stamp", …).  Fails the test when it does not start. */
typedef struct
{
  GPid pid;
  gchar *url;                   /* rtsp://127.0.0.1:PORT/cam */
} LbTestCamera;

LbTestCamera *lb_test_camera_start       (gint                port,
                                          const gchar *const *args);
gint          lb_test_camera_port        (LbTestCamera       *camera);
/* Kills it (SIGKILL) and frees it. */
void          lb_test_camera_kill        (LbTestCamera       *camera);

/* Plays @pipeline to its end and stops it: fails the test on an error
 * (with its message) or when it does not end within 30 s. */
void          lb_test_play_to_eos        (GstElement         *pipeline);

/* Pushes @frames frames of 64x48 H.264 (stream-format avc, as the
 * recorder's parsers give it, 15 fps from 0) into @sink — a muxer's pad,
 * or one that leads to one, of a pipeline that is PLAYING — each frame
 * after @changes caps that differ from the frame's in their rate only
 * (mp4mux takes those as renegotiations); no EOS.  A stream that changes
 * caps often, as some cameras' do at their start (lb-mux-guard.h). */
void          lb_test_push_caps_changes  (GstPad             *sink,
                                          guint               frames,
                                          guint               changes);
/* The video samples of the MP4 file @path, as lookback's reader finds
 * them (fails the test when it does not read). */
guint         lb_test_mp4_video_samples  (const gchar        *path);

G_END_DECLS
