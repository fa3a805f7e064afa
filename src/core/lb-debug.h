/* lookback — debug categories
 *
 * Every .c file of the service owns one GStreamer debug category named
 * "lookback-<area>".  Service code has no class_init to set it up in, so the
 * category is created on first use through LB_DEBUG_INIT(), which is cheap
 * after the first call.
 */
#pragma once

#include <gst/gst.h>

#define LB_DEBUG_INIT(cat, name, description)                            \
  G_STMT_START {                                                         \
    static gsize _lb_debug_once = 0;                                     \
    if (g_once_init_enter (&_lb_debug_once)) {                           \
      GST_DEBUG_CATEGORY_INIT (cat, name, 0, description);               \
      g_once_init_leave (&_lb_debug_once, 1);                            \
    }                                                                    \
  } G_STMT_END
