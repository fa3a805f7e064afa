/* lookback — registration of the lookback elements */
#include "lbelements.h"

gboolean
lb_elements_register (GstPlugin *plugin)
{
  return TRUE;
}
