/* lookback tests — a real upload receiver: Debian's nginx with WebDAV PUT on
 * 127.0.0.1, in a temporary folder, run as a child that dies with the test
 * (single process, PR_SET_PDEATHSIG), so a failing test leaves nothing behind.
 *
 * Locations:
 *   /up/...         stores PUT bodies under root/up/...
 *   /flaky/...      503 with "Retry-After: 1" until the flag file exists, then stores
 *   /forbidden/...  403 with the body "no such bucket"
 *   /up/veh+1/r-poison/...  always 500
 * The access log has one line per request:
 *   msec method uri status request_length "checksum" "content-type" "x-lookback-test"
 */
#pragma once

#include <gio/gio.h>

#include "lb-test-common.h"

G_BEGIN_DECLS

typedef struct _LbTestNginx LbTestNginx;

/* Writes the configuration under @dir (nothing runs yet); port 0 picks one. */
LbTestNginx  *lb_test_nginx_new        (const gchar *dir, guint port);
/* Starts nginx and waits until it accepts connections. */
void          lb_test_nginx_start      (LbTestNginx *ngx);
void          lb_test_nginx_stop       (LbTestNginx *ngx);
guint         lb_test_nginx_port       (LbTestNginx *ngx);
/* Folder holding what was PUT. */
const gchar  *lb_test_nginx_root       (LbTestNginx *ngx);
/* Creating this file makes /flaky/ accept uploads. */
const gchar  *lb_test_nginx_flag       (LbTestNginx *ngx);
/* The access log, split in lines (empty lines dropped). */
GStrv         lb_test_nginx_log_lines  (LbTestNginx *ngx);
void          lb_test_nginx_free       (LbTestNginx *ngx);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LbTestNginx, lb_test_nginx_free)

G_END_DECLS
