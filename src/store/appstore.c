/* appstore.c - connections opened for application data (appstore.h). */
#include "sluice/appstore.h"
#include "sluice/store.h"

sl_code sl_appstore_open(const char *path, sl_store **out, sl_err *err)
{
    sl_store_opts so;
    sl_store_opts_init(&so);
    so.path = path;
    return sl_store_open(&so, out, err);
}

void sl_appstore_close(sl_store *st)
{
    sl_store_close(st);
}
