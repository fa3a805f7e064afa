/* lookback — store area 'upload' (see lb-store-upload.h once it has functions) */
#include "store/lb-store-private.h"

static const gchar *const upload_steps[] = {
  NULL,
};

const LbStoreSchema lb_store_upload_schema = { "upload", upload_steps };
