/* lookback — registration of the lookback elements */
#include "lbelements.h"

#include "lbclockcheck.h"
#include "lbclockstamp.h"
#include "lbframepick.h"
#include "lbhyperlapse.h"
#include "lbrecordingsrc.h"
#include "lbrtspsrc.h"
#include "lbstilldec.h"

gboolean
lb_elements_register (GstPlugin * plugin)
{
  gboolean ok = TRUE;

  ok &= GST_ELEMENT_REGISTER (lbclockstamp, plugin);
  ok &= GST_ELEMENT_REGISTER (lbclockcheck, plugin);
  ok &= GST_ELEMENT_REGISTER (lbframepick, plugin);
  ok &= GST_ELEMENT_REGISTER (lbhyperlapse, plugin);
  ok &= GST_ELEMENT_REGISTER (lbrecordingsrc, plugin);
  ok &= GST_ELEMENT_REGISTER (lbrtspsrc, plugin);
  ok &= GST_ELEMENT_REGISTER (lbstilldec, plugin);
  return ok;
}
