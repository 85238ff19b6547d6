/*
 * util.h - the small things every Sluice subsystem shares: error codes and the
 * caller-owned error struct, fatal-on-OOM allocation, logging, clocks,
 * durations, UTC timestamps, JSON text helpers, random numbers and UUIDs.
 *
 * Invariants: (1) error codes never change value (append only); (2) an
 * sl_err message is one line with no secrets and no trailing newline;
 * (3) out of memory aborts, every other failure is returned.
 *
 * Threads: everything here is thread-safe. The clock override
 * (sl_clock_set) is meant to be set once, before threads start.
 */
#ifndef SLUICE_UTIL_H
#define SLUICE_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define SL_MUST_USE     __attribute__((warn_unused_result))
#define SL_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define SL_UNUSED(x)    ((void)(x))

#define SL_VERSION "0.1.0"

/* Invariants that comments used to state: checked in Debug and sanitizer builds
 * (SL_ENABLE_ASSERT), compiled out otherwise; the expression must have no side effects
 * the program relies on. A failure prints the condition and its place, then aborts. */
#ifdef SL_ENABLE_ASSERT
#define SL_ASSERT(cond) ((cond) ? (void)0 : sl__assert_fail(#cond, __FILE__, __LINE__))
#else
#define SL_ASSERT(cond) ((void)sizeof(!(cond)))
#endif
_Noreturn void sl__assert_fail(const char *cond, const char *file, int line);
/* Evaluate a call that cannot fail here (its preconditions were checked) and, when asserts
 * are on, check that it returned SL_OK. The call is always made. */
#ifdef SL_ENABLE_ASSERT
#define SL_ASSERT_OK(call) ((call) == SL_OK ? (void)0 : sl__assert_fail(#call, __FILE__, __LINE__))
#else
#define SL_ASSERT_OK(call) ((void)(call))
#endif

/* Append only; never renumber. */
#define SL_CODE_MAP(X)                                                                             \
    X(OK, "success")                                                                               \
    X(EINVAL, "invalid argument")                                                                  \
    X(ENOTFOUND, "not found")                                                                      \
    X(ECONFLICT, "conflict")                                                                       \
    X(EBUSY, "database busy")                                                                      \
    X(EIO, "i/o error")                                                                            \
    X(ETIMEOUT, "timed out")                                                                       \
    X(EREMOTE, "remote error")                                                                     \
    X(ENONDET, "non-deterministic replay")                                                         \
    X(ESCHEMA, "incompatible database")                                                            \
    X(EAUTH, "authentication failed")                                                              \
    X(ESTALE, "stale state")                                                                       \
    X(ELEASE, "lease lost")                                                                        \
    X(ECLOSED, "already closed")                                                                   \
    X(ELIMIT, "limit exceeded")                                                                    \
    X(ECANCELED, "canceled")

typedef enum sl_code {
#define SL__CODE_ENUM(name, text) SL_##name,
    SL_CODE_MAP(SL__CODE_ENUM)
#undef SL__CODE_ENUM
        SL__CODE_COUNT
} sl_code;

typedef struct sl_err {
    sl_code code;
    bool retryable;         /* worth another attempt under a retry policy */
    int64_t retry_after_ms; /* from Retry-After or the error itself, or -1 */
    int http_status;        /* remote errors only, else 0 */
    char error_code[64];    /* remote error code (e.g. Databricks error_code), or "" */
    char msg[256];          /* one line, no secrets, no trailing newline */
} sl_err;

const char *sl_code_name(sl_code code); /* "EINVAL" */
const char *sl_code_text(sl_code code); /* "invalid argument" */

/* Reset *err to SL_OK (err may be NULL). */
void sl_err_clear(sl_err *err);
/* Set code and message (err may be NULL); returns code so callers can `return sl_err_set(...)`. */
sl_code sl_err_set(sl_err *err, sl_code code, const char *fmt, ...) SL_PRINTF(3, 4);
/* Prefix the existing message with "<context>: "; returns err->code (SL_OK when err is NULL). */
sl_code sl_err_prefix(sl_err *err, const char *fmt, ...) SL_PRINTF(2, 3);

/* Allocation: out of memory is fatal (logged, then abort). */
void *sl_xmalloc(size_t n);
void *sl_xcalloc(size_t n, size_t size);
void *sl_xrealloc(void *p, size_t n);
char *sl_xstrdup(const char *s);
char *sl_xstrndup(const char *s, size_t n);
char *sl_xasprintf(const char *fmt, ...) SL_PRINTF(1, 2);
char *sl_xvasprintf(const char *fmt, va_list ap);
/* Abort if a jansson constructor returned NULL (OOM); returns j. */
json_t *sl_json_check(json_t *j);

/* Logging to stderr: "2026-11-25T13:00:58.123Z INFO  message". Level from LOG_LEVEL
 * (DEBUG, INFO, WARN, ERROR; default INFO) unless sl_log_set_level was called. */
typedef enum sl_log_level { SL_LOG_DEBUG, SL_LOG_INFO, SL_LOG_WARN, SL_LOG_ERROR, SL_LOG_OFF } sl_log_level;
void sl_log_set_level(sl_log_level lvl);
sl_log_level sl_log_get_level(void);
bool sl_log_parse_level(const char *s, sl_log_level *out);
void sl_log(sl_log_level lvl, const char *fmt, ...) SL_PRINTF(2, 3);
#define sl_debug(...) sl_log(SL_LOG_DEBUG, __VA_ARGS__)
#define sl_info(...)  sl_log(SL_LOG_INFO, __VA_ARGS__)
#define sl_warn(...)  sl_log(SL_LOG_WARN, __VA_ARGS__)
#define sl_error(...) sl_log(SL_LOG_ERROR, __VA_ARGS__)

/* Clocks. sl_now_ms is wall time (Unix ms) and can be overridden for tests with
 * sl_clock_set (NULL restores the system clock). sl_mono_ns never goes backwards. */
typedef int64_t (*sl_clock_fn)(void *arg);
void sl_clock_set(sl_clock_fn fn, void *arg);
int64_t sl_now_ms(void);
int64_t sl_mono_ns(void);
void sl_sleep_ms(int64_t ms);

/* Durations: "250ms", "2s", "1m30s", "10m", "1h", "1h2m3s500ms"; a bare number means
 * seconds (decimals allowed: "1.5"). Negative values and unknown units are SL_EINVAL. */
SL_MUST_USE sl_code sl_duration_parse(const char *s, int64_t *out_ms, sl_err *err);
/* Parse a duration given either as JSON string (format above) or JSON number (seconds). */
SL_MUST_USE sl_code sl_duration_from_json(const json_t *j, int64_t *out_ms, sl_err *err);
/* Shortest exact form: 90000 -> "1m30s", 250 -> "250ms", 0 -> "0s". buf >= 32 bytes. */
const char *sl_duration_format(int64_t ms, char *buf, size_t buf_len);

/* Proleptic Gregorian calendar arithmetic (Howard Hinnant's algorithms): days since
 * 1970-01-01 of y-m-d (m 1-12, d 1-31), and back. Exact for any int64 year that fits. */
int64_t sl_days_from_civil(int64_t y, int m, int d);
void sl_civil_from_days(int64_t days, int64_t *y, int *m, int *d);

/* UTC timestamps: "2026-11-25T13:00:58.123Z". buf >= 32 bytes. */
const char *sl_time_format(int64_t unix_ms, char *buf, size_t buf_len);
/* Parse RFC 3339 / ISO-8601 ("2026-11-25T13:00:58Z", "...58.123+01:00", "2026-11-25",
 * "2026-11-25T13:00"); naive values are UTC. SL_EINVAL for a date the calendar does not
 * have (2026-02-30, 2025-02-29), hours past 23, minutes past 59, a '.' without digits, or
 * an offset beyond +-18:00 or with minutes past 59. */
#define SL_TIME_OFFSET_MAX_MIN (18 * 60)
SL_MUST_USE sl_code sl_time_parse(const char *s, int64_t *out_ms, sl_err *err);

/* JSON text. sl_json_dumps returns compact text (owned, never NULL; NULL prints "null");
 * sl_json_loads parses a whole document and reports line/column on error. */
char *sl_json_dumps(const json_t *j);
SL_MUST_USE sl_code sl_json_loads(const char *text, json_t **out, sl_err *err);
/* Read "@file" or "-"(stdin) or literal JSON text. */
SL_MUST_USE sl_code sl_json_arg(const char *arg, json_t **out, sl_err *err);

/* Random numbers (thread-local xoshiro seeded from the OS) and UUIDs (libuuid). */
uint64_t sl_rand_u64(void);
double sl_rand_unit(void); /* [0, 1) */
void sl_uuid_new(char out[37]);
/* 32 lower-case hex characters (Genie-style ids). */
void sl_hexid_new(char out[33]);

/* Read a whole file (owned, NUL-terminated). */
SL_MUST_USE sl_code sl_file_read(const char *path, char **out, size_t *out_len, sl_err *err);
/* The same for a command-line argument: "-" reads standard input. */
SL_MUST_USE sl_code sl_file_read_arg(const char *path, char **out, size_t *out_len, sl_err *err);

/* mkdir -p with mode 0755; SL_EIO names the directory that could not be made, and errno
 * says why (ENOTDIR: a file is in the way). */
SL_MUST_USE sl_code sl_mkdirs(const char *path, sl_err *err);

/* Peak resident set size of this process, in bytes. */
int64_t sl_peak_rss_bytes(void);

/* CSV (RFC 4180): quoted fields with embedded separators, doubled quotes and line breaks;
 * CRLF or LF records; blank lines skipped; every record must have as many fields as the
 * first; a NUL byte is an error naming its line. Streaming: memory is one read buffer plus the current record. */
typedef struct sl_csv sl_csv;
/* Open a reader over a file (sep usually ','). NULL with errno set on failure. */
sl_csv *sl_csv_open(const char *path, char sep);
/* One record: 1 with fields (borrowed until the next call), 0 at EOF, -1 on a malformed
 * record (message in errbuf, naming the line). */
int sl_csv_next(sl_csv *c, char ***fields, size_t *n_fields, char *errbuf, size_t errlen);
/* Line where the last record started (1-based). */
long sl_csv_line(const sl_csv *c);
void sl_csv_close(sl_csv *c);

/* A growing NUL-terminated string (curl's dynbuf): zero-initialise (SL_BUF_INIT), append,
 * then read with sl_buf_str (borrowed, "" when empty) or take ownership with sl_buf_take
 * (never NULL; the buffer is left empty). Out of memory aborts, like sl_xmalloc. */
typedef struct sl_buf {
    char *p;    /* NULL until the first append */
    size_t len; /* bytes, without the NUL */
    size_t cap;
} sl_buf;
#define SL_BUF_INIT {NULL, 0, 0}
void sl_buf_put(sl_buf *b, const void *p, size_t n);
void sl_buf_puts(sl_buf *b, const char *s);
void sl_buf_putc(sl_buf *b, char c);
void sl_buf_printf(sl_buf *b, const char *fmt, ...) SL_PRINTF(2, 3);
void sl_buf_vprintf(sl_buf *b, const char *fmt, va_list ap);
const char *sl_buf_str(const sl_buf *b);
SL_MUST_USE char *sl_buf_take(sl_buf *b);
void sl_buf_reset(sl_buf *b); /* empty, keeping the allocation */
void sl_buf_free(sl_buf *b);  /* accepts NULL */

/* Secrets (tokens, client secrets, Authorization lines): wipe with explicit_bzero, which the
 * compiler may not drop as a dead store, then free. Accept NULL. */
void sl_secret_wipe(void *p, size_t n);
void sl_secret_free(char *s);

/* FNV-1a, 64 bits, continuing from h (start with SL_FNV1A_INIT). SL_FNV1A_INIT is the
 * offset basis Sluice has always used: the standard 14695981039346656037 with its last digit
 * missing. It stays, because workflow random seeds (sl_wf_random of recorded runs) and
 * genie batch workflow ids derive from it; the hash is as good with either basis. */
#define SL_FNV1A_INIT 1469598103934665603ULL
uint64_t sl_fnv1a(uint64_t h, const void *p, size_t n);

/* String helpers. */
bool sl_str_has_prefix(const char *s, const char *prefix);
bool sl_str_eq(const char *a, const char *b); /* NULL-safe */

#endif
