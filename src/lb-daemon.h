/* lookback — the daemon: owns the store and the modules, starts and stops them */
#pragma once

#include "core/lb-config.h"

G_BEGIN_DECLS

typedef struct _LbDaemon LbDaemon;

LbDaemon    *lb_daemon_new      (LbConfig   *config,
                                 GMainLoop  *loop,
                                 GError    **error);
gboolean     lb_daemon_start    (LbDaemon  *daemon,
                                 GError   **error);
/* Asks every module to finish its work (open segments are closed cleanly);
 * the loop quits when they have. */
void         lb_daemon_stop     (LbDaemon  *daemon);
gboolean     lb_daemon_finish   (LbDaemon  *daemon,
                                 GError   **error);
const gchar *lb_daemon_describe (LbDaemon  *daemon);
void         lb_daemon_free     (LbDaemon  *daemon);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbDaemon, lb_daemon_free)

G_END_DECLS
