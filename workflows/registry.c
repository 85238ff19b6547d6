/* registry.c - the names under which shipped workflows and activities run. */
#include "sluice/workflows.h"

void sl_workflows_register(sl_registry *r)
{
    sl_workflows_register_bench(r);
    sl_workflows_register_dataset_sync(r);
    sl_workflows_register_genie(r);
}
