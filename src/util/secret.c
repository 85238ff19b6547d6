/* secret.c - wiping secrets before their memory is released. */
#include <stdlib.h>
#include <string.h>

#include "sluice/util.h"

void sl_secret_wipe(void *p, size_t n)
{
    if (p && n)
        explicit_bzero(p, n); /* not removed by the optimiser as a dead store before free */
}

void sl_secret_free(char *s)
{
    if (!s)
        return;
    sl_secret_wipe(s, strlen(s));
    free(s);
}
