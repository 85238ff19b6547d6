/*
 * xfer.c - one transfer on a curl easy handle, shared by both drivers of src/dbx: the
 * blocking transport (http.c: curl_easy_perform, retries) and the multi driver (async.c:
 * curl_multi_socket_action, thousands at once). As in curl itself, where
 * curl_easy_perform runs the same transfer code as the multi interface, both go through
 * the same three steps here:
 *
 *   sl__dbx_xfer_setup_handle (what stays for every request on the handle: protocols,
 *   TLS, user agent, connect timeout, callbacks) -> sl__dbx_xfer_headers (auth, Accept,
 *   Content-Type) -> sl__dbx_xfer_reset + sl__dbx_xfer_setup_request (URL, timeouts,
 *   method and body) -> [the driver runs the transfer; the callbacks below fill the
 *   struct] -> sl__dbx_xfer_finish (statistics, and the outcome as an sl_code/sl_err)
 *
 * The blocking transport does all of it for every attempt on a reset handle; the multi
 * driver sets a pooled handle up once and caches its header lists, so a request costs
 * no more than the loop it replaced.
 *
 * Bodies: a 2xx body is kept up to x->max bytes (beyond that the transfer is aborted and
 * fails SL_ELIMIT), counted only (x->discard), or written to x->download_fd; an error
 * body keeps its first ERROR_BODY_MAX bytes, enough to find its message.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "dbx_int.h"

#define ERROR_BODY_MAX    (64 * 1024) /* enough of an error body to find its message */
#define PROGRESS_EVERY_NS (500 * 1000000LL)

static bool is_2xx(long status)
{
    return status >= 200 && status < 300;
}

static long response_code(CURL *h)
{
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *arg)
{
    sl__dbx_xfer *x = arg;
    size_t n = size * nmemb;
    x->bytes_down += n;
    if (!x->wstatus)
        x->wstatus = response_code(x->h);
    bool ok = is_2xx(x->wstatus);
    if (ok && x->download_fd >= 0) {
        size_t done = 0;
        while (done < n) {
            ssize_t w = pwrite(x->download_fd, data + done, n - done, (off_t)x->down_off);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                x->io_errno = errno;
                x->io_read = false;
                return 0; /* aborts with CURLE_WRITE_ERROR */
            }
            done += (size_t)w;
            x->down_off += w;
        }
        return n;
    }
    if (ok && x->discard)
        return n;
    size_t max = ok ? x->max : ERROR_BODY_MAX;
    size_t keep = n;
    if (x->len + n > max) {
        if (ok) {
            x->too_big = true;
            return 0;
        }
        keep = max > x->len ? max - x->len : 0; /* keep the start of an error body */
        if (keep == 0)
            return n;
    }
    if (x->len + keep + 1 > x->cap) {
        size_t cap = x->cap ? x->cap : 1024;
        while (x->len + keep + 1 > cap)
            cap *= 2;
        x->buf = sl_xrealloc(x->buf, cap);
        x->cap = cap;
    }
    memcpy(x->buf + x->len, data, keep);
    x->len += keep;
    x->buf[x->len] = '\0';
    return n;
}

static void header_value(char *dst, size_t cap, const char *v, size_t n)
{
    while (n > 0 && (*v == ' ' || *v == '\t'))
        v++, n--;
    while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
        n--;
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    sl__dbx_xfer *x = arg;
    size_t n = size * nmemb;
    if (n < 12) /* shorter than any name below: "HTTP/1.1 200", the final CRLF */
        return n;
    switch (data[0]) {
    case 'H':
        if (strncmp(data, "HTTP/", 5) == 0) { /* a new response (after 100, ...) */
            x->retry_after[0] = x->content_type[0] = x->last_modified[0] = '\0';
            x->content_length = -1;
            x->wstatus = 0;
        }
        return n;
    case 'R':
    case 'r':
        if (strncasecmp(data, "retry-after:", 12) == 0)
            header_value(x->retry_after, sizeof(x->retry_after), data + 12, n - 12);
        return n;
    case 'C':
    case 'c':
        if (!x->meta)
            return n;
        if (n > 13 && strncasecmp(data, "content-type:", 13) == 0) {
            header_value(x->content_type, sizeof(x->content_type), data + 13, n - 13);
        } else if (n > 15 && strncasecmp(data, "content-length:", 15) == 0) {
            char v[32];
            header_value(v, sizeof(v), data + 15, n - 15);
            char *end;
            long long cl = strtoll(v, &end, 10);
            x->content_length = (end != v && cl >= 0) ? cl : -1;
        }
        return n;
    case 'L':
    case 'l':
        if (x->meta && n > 14 && strncasecmp(data, "last-modified:", 14) == 0)
            header_value(x->last_modified, sizeof(x->last_modified), data + 14, n - 14);
        return n;
    default:
        return n;
    }
}

static size_t on_read(char *buf, size_t size, size_t nmemb, void *arg)
{
    sl__dbx_xfer *x = arg;
    size_t want = size * nmemb;
    int64_t left = x->upload_size - x->up_off;
    if (left <= 0)
        return 0;
    if ((int64_t)want > left)
        want = (size_t)left;
    for (;;) {
        ssize_t r = pread(x->upload_fd, buf, want, (off_t)x->up_off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            x->io_errno = errno;
            x->io_read = true;
            return CURL_READFUNC_ABORT;
        }
        if (r == 0) { /* file shrank under us */
            x->io_errno = EIO;
            x->io_read = true;
            return CURL_READFUNC_ABORT;
        }
        x->up_off += r;
        return (size_t)r;
    }
}

static int on_seek(void *arg, curl_off_t offset, int origin)
{
    sl__dbx_xfer *x = arg;
    if (origin != SEEK_SET || offset < 0 || offset > x->upload_size)
        return CURL_SEEKFUNC_CANTSEEK;
    x->up_off = offset;
    return CURL_SEEKFUNC_OK;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    sl__dbx_xfer *x = arg;
    const sl_dbx_call *call = x->call;
    if (!call)
        return 0;
    if (call->cancel && call->cancel(call->cancel_arg)) {
        x->abort_reason = 1;
        return 1;
    }
    if (call->deadline_ms > 0 && sl_now_ms() >= call->deadline_ms) {
        x->abort_reason = 2;
        return 1;
    }
    if (call->progress && x->progress_op) {
        int64_t now = sl_mono_ns();
        if (now - x->last_progress_ns >= PROGRESS_EVERY_NS) {
            x->last_progress_ns = now;
            bool up = x->upload_fd >= 0;
            sl_dbx_progress p = {
                .op = x->progress_op,
                .id = x->progress_id,
                .state = NULL,
                .polls = 0,
                .bytes_done = up ? (int64_t)ulnow : (int64_t)dlnow,
                .bytes_total = up ? (int64_t)ultotal : (dltotal > 0 ? (int64_t)dltotal : -1),
            };
            call->progress(call->progress_arg, &p);
        }
    }
    return 0;
}

static bool is_conn_error(CURLcode cc)
{
    switch (cc) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return true;
    default:
        return false;
    }
}

CURL *sl__dbx_easy_new(void)
{
    CURL *h = curl_easy_init();
    if (!h) {
        sl_error("dbx: curl_easy_init failed (out of memory)");
        abort();
    }
    return h;
}

void sl__dbx_xfer_reset(sl__dbx_xfer *x)
{
    x->len = 0;
    if (x->buf)
        x->buf[0] = '\0';
    x->too_big = false;
    x->bytes_down = 0;
    x->down_off = 0;
    x->up_off = 0;
    x->io_errno = 0;
    x->io_read = false;
    x->abort_reason = 0;
    x->last_progress_ns = 0;
    x->content_length = -1;
    x->retry_after[0] = x->content_type[0] = x->last_modified[0] = '\0';
    x->errbuf[0] = '\0';
    x->wstatus = 0;
}

static struct curl_slist *append(struct curl_slist *l, const char *line)
{
    struct curl_slist *n = curl_slist_append(l, line);
    if (!n) {
        sl_error("dbx: curl_slist_append failed (out of memory)");
        abort();
    }
    return n;
}

void sl__dbx_xfer_setup_handle(sl__dbx_xfer *x, const sl__dbx_xfer_spec *s)
{
    CURL *h = x->h;
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L); /* never carry a token elsewhere */
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, s->user_agent);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, s->tls_verify ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, s->tls_verify ? 2L : 0L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    if (s->progress) {
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, x);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    }
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(s->connect_timeout_ms > 0 ? s->connect_timeout_ms : 10000));
}

/* What Content-Type a request carries. */
typedef enum { CT_NONE, CT_UPLOAD, CT_BODY, CT_EMPTY } ctype;

static ctype content_kind(const sl__dbx_xfer_spec *s)
{
    if (s->upload_fd >= 0)
        return CT_UPLOAD;
    if (s->body)
        return CT_BODY;
    const char *m = s->method;
    if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 || strcmp(m, "DELETE") == 0)
        return CT_NONE;
    return CT_EMPTY; /* POST/PUT/PATCH without a body: no Content-Type at all */
}

int sl__dbx_xfer_header_kind(const sl__dbx_xfer_spec *s)
{
    return (int)content_kind(s);
}

struct curl_slist *sl__dbx_xfer_headers(const sl__dbx_xfer_spec *s)
{
    struct curl_slist *hdrs = NULL;
    if (s->bearer && !s->basic_user) {
        char *auth = sl_xasprintf("Authorization: Bearer %s", s->bearer);
        hdrs = append(hdrs, auth); /* curl copies the line */
        sl_secret_free(auth);
    }
    if (s->accept) {
        char accept[160];
        snprintf(accept, sizeof(accept), "Accept: %s", s->accept);
        hdrs = append(hdrs, accept);
    }
    for (size_t i = 0; i < s->n_extra; i++)
        hdrs = append(hdrs, s->extra[i]);
    switch (content_kind(s)) {
    case CT_UPLOAD:
        hdrs = append(hdrs, "Content-Type: application/octet-stream");
        break;
    case CT_BODY: {
        char ct[160];
        snprintf(ct, sizeof(ct), "Content-Type: %s",
                 s->content_type ? s->content_type : "application/json");
        hdrs = append(hdrs, ct);
        break;
    }
    case CT_EMPTY:
        hdrs = append(hdrs, "Content-Type:");
        break;
    case CT_NONE:
        break;
    }
    return hdrs;
}

void sl__dbx_xfer_setup_request(sl__dbx_xfer *x, const sl__dbx_xfer_spec *s,
                                struct curl_slist *hdrs, bool own_hdrs)
{
    CURL *h = x->h;
    curl_slist_free_all(x->hdrs);
    x->hdrs = own_hdrs ? hdrs : NULL;

    curl_easy_setopt(h, CURLOPT_URL, s->url);
    /* Timeouts: a whole-request limit, or (streams) a stall limit. */
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(s->timeout_ms > 0 ? s->timeout_ms : 0));
    if (s->stall_s > 0) {
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, s->stall_s);
    }
    if (s->basic_user) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERNAME, s->basic_user);
        curl_easy_setopt(h, CURLOPT_PASSWORD, s->basic_pass ? s->basic_pass : "");
    }

    /* The method. A reused handle may carry the previous request's: undo it first. */
    const char *m = s->method;
    curl_easy_setopt(h, CURLOPT_NOBODY, 0L);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 0L);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
    switch (content_kind(s)) {
    case CT_UPLOAD:
        x->upload_fd = s->upload_fd;
        x->upload_size = s->upload_size;
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 256L * 1024); /* fewer syscalls */
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)s->upload_size);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, x);
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, x);
        if (strcmp(m, "PUT") != 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
        break;
    case CT_BODY:
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(s->body));
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, s->body);
        if (strcmp(m, "POST") != 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
        break;
    case CT_EMPTY: /* Content-Length: 0 */
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
        if (strcmp(m, "POST") != 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
        break;
    case CT_NONE:
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        if (strcmp(m, "HEAD") == 0)
            curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        else if (strcmp(m, "DELETE") == 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
        break;
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
}

void sl__dbx_xfer_detach(sl__dbx_xfer *x)
{
    if (x->h) {
        curl_easy_setopt(x->h, CURLOPT_HTTPHEADER, NULL);
        curl_easy_setopt(x->h, CURLOPT_ERRORBUFFER, NULL);
    }
    curl_slist_free_all(x->hdrs);
    x->hdrs = NULL;
}

sl_code sl__dbx_xfer_finish(sl__dbx_xfer *x, CURLcode cc, sl_err *err)
{
    sl_dbx_client *c = x->c;
    const sl_dbx_call *call = x->call;
    long status = x->wstatus ? x->wstatus : response_code(x->h); /* known once a body came */
    x->status = status;
    if (c) {
        curl_off_t up = 0;
        curl_easy_getinfo(x->h, CURLINFO_SIZE_UPLOAD_T, &up);
        SL__DBX_STAT_ADD(c, n_requests, 1);
        SL__DBX_STAT_ADD(c, n_bytes_up, up > 0 ? up : 0);
        SL__DBX_STAT_ADD(c, n_bytes_down, x->bytes_down);
        if (status == 429)
            SL__DBX_STAT_ADD(c, n_429, 1);
        else if (status >= 500 && status <= 599)
            SL__DBX_STAT_ADD(c, n_5xx, 1);
    }
    if (err->code != SL_OK || err->http_status || err->msg[0] || err->error_code[0])
        sl_err_clear(err); /* a reused err after a success is clear already: the hot path */
    err->retry_after_ms = -1;
    if (cc == CURLE_OK) {
        if (!is_2xx(status))
            sl_dbx_error_from_http((int)status, x->buf, x->len, x->retry_after, sl_now_ms(), err);
    } else if (cc == CURLE_ABORTED_BY_CALLBACK && x->abort_reason == 1) {
        sl_err_set(err, SL_ECANCELED, "canceled");
        err->retryable = false;
    } else if ((cc == CURLE_ABORTED_BY_CALLBACK && x->abort_reason == 2) ||
               (cc == CURLE_OPERATION_TIMEDOUT && call && call->deadline_ms > 0 &&
                sl_now_ms() >= call->deadline_ms)) {
        sl_err_set(err, SL_ETIMEOUT, "deadline reached");
        err->retryable = true;
    } else if ((cc == CURLE_ABORTED_BY_CALLBACK || cc == CURLE_READ_ERROR) && x->io_errno &&
               x->io_read) {
        sl_err_set(err, SL_EIO, "reading local file: %s", strerror(x->io_errno));
        err->retryable = false;
    } else if (cc == CURLE_WRITE_ERROR && x->too_big) {
        sl_err_set(err, SL_ELIMIT, "response larger than %zu bytes", x->max);
        err->retryable = false;
    } else if (cc == CURLE_WRITE_ERROR && x->io_errno) {
        sl_err_set(err, SL_EIO, "writing local file: %s", strerror(x->io_errno));
        err->retryable = false;
    } else {
        bool conn = is_conn_error(cc);
        if (conn && c)
            SL__DBX_STAT_ADD(c, n_conn_errors, 1);
        sl_err_set(err,
                   conn ? (cc == CURLE_OPERATION_TIMEDOUT ? SL_ETIMEOUT : SL_EREMOTE) : SL_EREMOTE,
                   "%s (curl %d)", x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc), (int)cc);
        err->retryable = conn;
    }
    return err->code;
}
