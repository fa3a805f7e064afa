/* lookback tests (jobs): stand-ins for lookback elements not built yet
 *
 * The template tests must parse every template; where the real element
 * (lbrecordingsrc, lbframepick, lbhyperlapse) is not registered, a stand-in
 * with the same name, pads and properties is.  The real ones win whenever
 * they exist. */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/* Registers the stand-ins that are missing; returns how many. */
guint jt_register_standins (void);

G_END_DECLS
