/* lookback — the one error domain of the service */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define LB_ERROR (lb_error_quark ())

/**
 * LbError:
 * @LB_ERROR_FAILED: anything not covered below (maps to 500)
 * @LB_ERROR_INVALID: bad input from a caller; the message names the field (400)
 * @LB_ERROR_UNAUTHENTICATED: missing or unknown credentials (401)
 * @LB_ERROR_FORBIDDEN: known caller without the right (403)
 * @LB_ERROR_NOT_FOUND: no such thing, or not the caller's (404)
 * @LB_ERROR_TOO_LARGE: a body or value over its limit (413)
 * @LB_ERROR_RATE_LIMITED: per-token rate limit (429)
 * @LB_ERROR_QUOTA_EXCEEDED: the organisation's monthly quota (429)
 * @LB_ERROR_UNAVAILABLE: nothing recorded for that input and time
 * @LB_ERROR_NOT_YET: footage not recorded yet; may arrive later
 * @LB_ERROR_CORRUPT: a file or row that does not hold what it should
 * @LB_ERROR_CONFIG: a bad configuration file or value
 * @LB_ERROR_IO: a file system or network error
 * @LB_ERROR_BUSY: a transient condition; retrying may succeed (503)
 * @LB_ERROR_OFFLINE: a peer lookback depends on (the cluster's database) is
 *   unreachable; the message says which, for the caller (503)
 *
 * Only the HTTP layer maps these to status codes.
 */
typedef enum {
  LB_ERROR_FAILED,
  LB_ERROR_INVALID,
  LB_ERROR_UNAUTHENTICATED,
  LB_ERROR_FORBIDDEN,
  LB_ERROR_NOT_FOUND,
  LB_ERROR_TOO_LARGE,
  LB_ERROR_RATE_LIMITED,
  LB_ERROR_QUOTA_EXCEEDED,
  LB_ERROR_UNAVAILABLE,
  LB_ERROR_NOT_YET,
  LB_ERROR_CORRUPT,
  LB_ERROR_CONFIG,
  LB_ERROR_IO,
  LB_ERROR_BUSY,
  LB_ERROR_OFFLINE,
} LbError;

GQuark lb_error_quark (void);

G_END_DECLS
