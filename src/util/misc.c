/* misc.c - random numbers, UUIDs, whole-file reads, process RSS. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uuid/uuid.h>

#include "sluice/util.h"

static _Thread_local uint64_t rng_state[4];
static _Thread_local bool rng_seeded;

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void rng_seed(void)
{
    uint64_t seed = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (read(fd, &seed, sizeof(seed)) != sizeof(seed))
            seed = 0;
        close(fd);
    }
    seed ^= (uint64_t)sl_mono_ns() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)&rng_state;
    for (int i = 0; i < 4; i++)
        rng_state[i] = splitmix(&seed);
    rng_seeded = true;
}

uint64_t sl_rand_u64(void)
{
    if (!rng_seeded)
        rng_seed();
    uint64_t *s = rng_state;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double sl_rand_unit(void)
{
    return (double)(sl_rand_u64() >> 11) * 0x1.0p-53;
}

void sl_uuid_new(char out[37])
{
    uuid_t u;
    uuid_generate(u);
    uuid_unparse_lower(u, out);
}

void sl_hexid_new(char out[33])
{
    static const char hex[] = "0123456789abcdef";
    uuid_t u;
    uuid_generate(u);
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[u[i] >> 4];
        out[2 * i + 1] = hex[u[i] & 15];
    }
    out[32] = '\0';
}

static sl_code read_stream(FILE *f, const char *name, char **out, size_t *out_len, sl_err *err)
{
    size_t cap = 4096, len = 0;
    char *buf = sl_xmalloc(cap);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len - 1 == 0) {
            cap *= 2;
            buf = sl_xrealloc(buf, cap);
        }
    }
    if (ferror(f)) {
        free(buf);
        return sl_err_set(err, SL_EIO, "cannot read %s: %s", name, strerror(errno));
    }
    buf[len] = '\0';
    *out = buf;
    if (out_len)
        *out_len = len;
    return SL_OK;
}

sl_code sl_file_read(const char *path, char **out, size_t *out_len, sl_err *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return sl_err_set(err, SL_EIO, "cannot read %s: %s", path, strerror(errno));
    sl_code rc = read_stream(f, path, out, out_len, err);
    fclose(f);
    return rc;
}

sl_code sl_file_read_arg(const char *path, char **out, size_t *out_len, sl_err *err)
{
    if (strcmp(path, "-") != 0)
        return sl_file_read(path, out, out_len, err);
    *out = NULL;
    return read_stream(stdin, "stdin", out, out_len, err);
}

/* mkdir for one component; an existing directory is fine, an existing file is ENOTDIR. */
static int mkdir_one(const char *p)
{
    if (mkdir(p, 0755) == 0)
        return 0;
    if (errno != EEXIST)
        return -1;
    struct stat sb;
    if (stat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
        return 0;
    errno = ENOTDIR;
    return -1;
}

sl_code sl_mkdirs(const char *path, sl_err *err)
{
    char *p = sl_xstrdup(path);
    sl_code rc = SL_OK;
    for (char *s = p + 1;; s++) {
        bool end = *s == '\0';
        if (*s != '/' && !end)
            continue;
        *s = '\0';
        if (*p && mkdir_one(p) != 0) {
            int e = errno;
            rc = sl_err_set(err, SL_EIO, "cannot create %s: %s", p, strerror(e));
            free(p);
            errno = e;
            return rc;
        }
        if (end)
            break;
        *s = '/';
    }
    free(p);
    return rc;
}

int64_t sl_peak_rss_bytes(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (int64_t)ru.ru_maxrss * 1024;
}
