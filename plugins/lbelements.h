/* lookback — the elements of the lookback plugin */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/* Registers every lookback element with @plugin, or process-wide (for
 * lookbackd and unit tests) when @plugin is NULL. */
gboolean lb_elements_register (GstPlugin *plugin);

G_END_DECLS
