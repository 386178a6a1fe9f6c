/*
 * async_util.c - pure helpers of the asynchronous submissions (see async_util.h).
 */
#include "async_util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Copies [s, s+n) into dst (size cap) or fails. */
static bool copy_part(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        return false;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return true;
}

static bool parse_int(const char *s, size_t n, int lo, int hi, int *out)
{
    long v = 0;

    if (n == 0 || n > 6)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v < lo || v > hi)
        return false;
    *out = (int)v;
    return true;
}

/* unix:///path[?db=N][&password=P] */
static const char *parse_unix(const char *p, async_url_t *u)
{
    size_t n = strcspn(p, "?");

    u->unix_socket = true;
    if (p[0] != '/' || !copy_part(u->path, sizeof u->path, p, n))
        return "unix:// needs an absolute socket path (unix:///path/redis.sock)";
    for (const char *q = p[n] ? p + n + 1 : NULL; q && *q;) {
        size_t k = strcspn(q, "&");
        if (strncmp(q, "db=", 3) == 0) {
            if (!parse_int(q + 3, k - 3, 0, 100000, &u->db))
                return "db= must be a database number";
        } else if (strncmp(q, "password=", 9) == 0) {
            if (!copy_part(u->password, sizeof u->password, q + 9, k - 9))
                return "the password is too long";
        } else {
            return "unix:// takes only ?db=N and &password=P";
        }
        q += k + (q[k] == '&');
    }
    return NULL;
}

/* redis://[[user]:password@]host[:port][/db] */
static const char *parse_tcp(const char *p, async_url_t *u)
{
    const char *at = strrchr(p, '@'), *h = at ? at + 1 : p, *slash, *colon;
    size_t hl;

    if (at) {
        const char *c = memchr(p, ':', (size_t)(at - p));
        if (!c)
            return "credentials must be written :password@ (or user:password@)";
        if (!copy_part(u->password, sizeof u->password, c + 1, (size_t)(at - c - 1)))
            return "the password is too long";
    }
    slash = strchr(h, '/');
    hl = slash ? (size_t)(slash - h) : strlen(h);
    colon = memchr(h, ':', hl);
    if (colon) {
        if (!parse_int(colon + 1, hl - (size_t)(colon + 1 - h), 1, 65535, &u->port))
            return "the port must be a number from 1 to 65535";
        hl = (size_t)(colon - h);
    }
    if (hl == 0 || !copy_part(u->host, sizeof u->host, h, hl))
        return "a host name is needed (redis://host:port)";
    for (size_t i = 0; i < hl; i++)
        if (!isalnum((unsigned char)h[i]) && h[i] != '.' && h[i] != '-' && h[i] != '_')
            return "the host must be a name or an IPv4 address";
    if (slash && slash[1] && !parse_int(slash + 1, strlen(slash + 1), 0, 100000, &u->db))
        return "the path must be a database number (redis://host:port/0)";
    return NULL;
}

const char *async_url_parse(const char *url, async_url_t *u)
{
    memset(u, 0, sizeof *u);
    u->port = 6379;
    if (!url || !url[0])
        return "empty URL";
    if (strncmp(url, "unix://", 7) == 0)
        return parse_unix(url + 7, u);
    if (strncmp(url, "redis://", 8) == 0)
        return parse_tcp(url + 8, u);
    if (strncmp(url, "rediss://", 9) == 0)
        return "rediss:// (TLS) is not supported: the hiredis of this system (0.14) has no TLS; "
               "use a unix socket or a TLS tunnel (stunnel) to redis://";
    return "a URL starting with unix:// or redis://";
}

const char *async_url_check(const char *url)
{
    async_url_t u;

    return async_url_parse(url, &u);
}

bool async_id_ok(const char *s)
{
    size_t n = 0;

    if (!s)
        return false;
    for (; s[n]; n++)
        if (n >= ASYNC_ID_LEN || !((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return false;
    return n == ASYNC_ID_LEN;
}

static bool key_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '.' || c == ':' || c == '-';
}

bool async_idem_ok(const char *s)
{
    size_t n = 0;

    if (!s)
        return false;
    for (; s[n]; n++)
        if (n >= ASYNC_IDEM_MAX || !key_char(s[n]))
            return false;
    return n > 0;
}

void async_fkey(const char *in, char *out)
{
    size_t n = 0;

    for (; in && in[n] && n < ASYNC_FKEY_MAX; n++)
        out[n] = key_char(in[n]) ? in[n] : '_';
    if (n == 0)
        out[n++] = '-';
    out[n] = '\0';
}

int64_t async_backoff_ms(int attempt, int base_ms, int max_ms, uint32_t rnd)
{
    int64_t d = base_ms > 0 ? base_ms : 1, half;

    for (int i = 1; i < attempt && d < max_ms; i++)
        d *= 2;
    if (d > max_ms)
        d = max_ms > 0 ? max_ms : 1;
    half = d / 2;
    return half + (int64_t)(rnd % (uint64_t)(d - half + 1));
}

void async_fair_order(const char *const *keys, int n, const char *last, int *order)
{
    int start = 0;

    if (last && last[0])
        while (start < n && strcmp(keys[start], last) <= 0)
            start++;
    for (int i = 0; i < n; i++)
        order[i] = (start + i) % n;
}

bool async_retryable(int http_status)
{
    return http_status >= 500;
}

bool async_handback(const char *code)
{
    return code && strcmp(code, "shutting_down") == 0;
}

bool async_status_final(const char *s)
{
    return s && (!strcmp(s, "done") || !strcmp(s, "failed") || !strcmp(s, "cancelled"));
}

void async_iso_time(int64_t ms, char *buf, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char base[24];

    gmtime_r(&t, &tm);
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%03dZ", base, (int)(ms % 1000));
}

int64_t async_epoch_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
