/* hash.c - FNV-1a, 64 bits: stable across runs, machines and byte orders. */
#include "sluice/util.h"

uint64_t sl_fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ULL;
    }
    return h;
}
