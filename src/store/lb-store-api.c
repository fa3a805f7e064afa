/* lookback — store area 'api' (see lb-store-api.h once it has functions) */
#include "store/lb-store-private.h"

static const gchar *const api_steps[] = {
  NULL,
};

const LbStoreSchema lb_store_api_schema = { "api", api_steps };
