/* A deliberate layering violation: a file compiled as part of src/dbx that reaches for the
 * engine's private header. tests/build/layering.sh expects this to fail to compile. */
#include "engine_int.h"

int sl__layering_probe_bad(void);
int sl__layering_probe_bad(void)
{
    return 0;
}
