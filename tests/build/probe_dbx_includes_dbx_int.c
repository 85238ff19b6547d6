/* The control for probe_dbx_includes_engine_int.c: the same target setup reaching its own
 * subsystem's private header compiles, so the violation fails for the right reason. */
#include "dbx_int.h"

int sl__layering_probe_good(void);
int sl__layering_probe_good(void)
{
    return 0;
}
