/* lookback — the one error domain of the service */
#include "core/lb-error.h"

G_DEFINE_QUARK (lookback - error - quark, lb_error)
