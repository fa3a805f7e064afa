/* lookback — store area 'footage' */
#include "store/lb-store-private.h"
#include "store/lb-store-footage.h"

static const gchar *const footage_steps[] = {
  NULL,
};

const LbStoreSchema lb_store_footage_schema = { "footage", footage_steps };
