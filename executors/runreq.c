/*
 * runreq.c - encoding and decoding the launcher's request and report (see runreq.h for the
 * format). Both directions use a sticky cursor: a write past the end or a read past the data
 * only clears ok, and one check at the end decides.
 */
#include "runreq.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define FLAG_IDS 1u
#define FLAG_USERNS 2u
#define FLAG_CWD 4u
#define FLAG_ZYGOTE 8u
#define REP_TIMED_OUT 1u
#define REP_KILLED 2u
#define REP_OOM 4u

typedef struct {
    unsigned char *p; /* NULL: only count */
    size_t len, cap;
} wr_t;

typedef struct {
    const unsigned char *p;
    size_t len, off;
    bool ok;
} rd_t;

static void put(wr_t *w, const void *data, size_t n)
{
    if (w->p && w->len + n <= w->cap)
        memcpy(w->p + w->len, data, n);
    w->len += n;
}

static void put_u(wr_t *w, uint64_t v, int bytes)
{
    unsigned char b[8];

    for (int i = 0; i < bytes; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    put(w, b, (size_t)bytes);
}

static void put_str(wr_t *w, const char *s)
{
    size_t n = strlen(s);

    put_u(w, n, 4);
    put(w, s, n);
}

static uint64_t get_u(rd_t *r, int bytes)
{
    uint64_t v = 0;

    if (!r->ok || r->len - r->off < (size_t)bytes) {
        r->ok = false;
        return 0;
    }
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)r->p[r->off + (size_t)i] << (8 * i);
    r->off += (size_t)bytes;
    return v;
}

/* A length-prefixed string, copied NUL-terminated into store at *used. NULL when malformed. */
static const char *get_str(rd_t *r, char *store, size_t storelen, size_t *used)
{
    uint64_t n = get_u(r, 4);
    char *s;

    if (!r->ok || n > RUNREQ_MAX_STR || r->len - r->off < n || storelen - *used < n + 1 ||
        memchr(r->p + r->off, '\0', (size_t)n)) {
        r->ok = false;
        return NULL;
    }
    s = store + *used;
    memcpy(s, r->p + r->off, (size_t)n);
    s[n] = '\0';
    r->off += (size_t)n;
    *used += (size_t)n + 1;
    return s;
}

void runreq_init(runreq_t *rq)
{
    memset(rq, 0, sizeof *rq);
    rq->seq = -1;
}

static int32_t *limits(runreq_t *rq, int i)
{
    int32_t *const all[] = {&rq->wall_ms,   &rq->cpu_ms,        &rq->as_mb, &rq->data_mb,
                            &rq->fsize_mb,  &rq->nofile,        &rq->nproc, &rq->stack_mb,
                            &rq->cgroup_mb, &rq->wait_credit_ms};
    return i < (int)(sizeof all / sizeof all[0]) ? all[i] : NULL;
}

int runreq_check(const runreq_t *rq, char *err, size_t errlen)
{
    static const char *const names[] = {"wall_ms",   "cpu_ms",        "as_mb", "data_mb",
                                        "fsize_mb",  "nofile",        "nproc", "stack_mb",
                                        "cgroup_mb", "wait_credit_ms"};
    const char *why = NULL;

    for (int i = 0; !why && limits((runreq_t *)rq, i); i++)
        if (*limits((runreq_t *)rq, i) < 0)
            why = names[i];
    if (why) {
        snprintf(err, errlen, "%s is negative", why);
        return -EINVAL;
    }
    if (rq->wall_ms <= 0)
        why = "wall_ms is required";
    else if (rq->seq < -1)
        why = "seq is negative";
    else if (rq->nargv < 1 || rq->nargv > RUNREQ_MAX_ARGV)
        why = "no program, or too many arguments";
    else if (rq->nenv < 0 || rq->nenv > RUNREQ_MAX_ENV)
        why = "too many environment variables";
    else if (rq->cwd && (strlen(rq->cwd) > RUNREQ_MAX_STR || !rq->cwd[0]))
        why = "cwd is empty or too long";
    for (int i = 0; !why && i < rq->nargv; i++)
        if (!rq->argv[i] || strlen(rq->argv[i]) > RUNREQ_MAX_STR || (i == 0 && !rq->argv[0][0]))
            why = "an argument is missing, empty or too long";
    for (int i = 0; !why && i < rq->nenv; i++)
        if (!rq->env[i] || strlen(rq->env[i]) > RUNREQ_MAX_STR || !strchr(rq->env[i], '='))
            why = "an environment entry is not K=V or too long";
    if (why) {
        snprintf(err, errlen, "%s", why);
        return -EINVAL;
    }
    return 0;
}

long runreq_encode(const runreq_t *rq, void *out, size_t cap)
{
    wr_t w = {.p = out, .cap = cap};
    char err[96];

    if (runreq_check(rq, err, sizeof err) != 0)
        return -EINVAL;
    put_u(&w, RUNREQ_MAGIC, 4);
    put_u(&w, RUNREQ_VERSION, 2);
    put_u(&w,
          (rq->ids ? FLAG_IDS : 0) | (rq->own_userns ? FLAG_USERNS : 0) | (rq->cwd ? FLAG_CWD : 0) |
              (rq->zygote ? FLAG_ZYGOTE : 0),
          2);
    put_u(&w, (uint64_t)rq->seq, 8);
    put_u(&w, rq->uid, 4);
    put_u(&w, rq->gid, 4);
    for (int i = 0; limits((runreq_t *)rq, i); i++)
        put_u(&w, (uint32_t)*limits((runreq_t *)rq, i), 4);
    put_u(&w, (uint64_t)rq->nargv, 2);
    put_u(&w, (uint64_t)rq->nenv, 2);
    if (rq->cwd)
        put_str(&w, rq->cwd);
    for (int i = 0; i < rq->nargv; i++)
        put_str(&w, rq->argv[i]);
    for (int i = 0; i < rq->nenv; i++)
        put_str(&w, rq->env[i]);
    if (w.len > RUNREQ_MAX_SIZE)
        return -EINVAL;
    return (long)w.len;
}

int runreq_decode(const void *buf, size_t len, runreq_t *rq, char *store, size_t storelen,
                  char *err, size_t errlen)
{
    rd_t r = {.p = buf, .len = len, .ok = true};
    size_t used = 0;
    unsigned flags;

    runreq_init(rq);
    if (len > RUNREQ_MAX_SIZE) {
        snprintf(err, errlen, "request of %zu bytes (at most %u)", len, RUNREQ_MAX_SIZE);
        return -EINVAL;
    }
    uint32_t magic = (uint32_t)get_u(&r, 4);
    unsigned version = (unsigned)get_u(&r, 2);
    if (!r.ok || magic != RUNREQ_MAGIC || version != RUNREQ_VERSION) {
        snprintf(err, errlen, "not a version %d request", RUNREQ_VERSION);
        return -EPROTO;
    }
    flags = (unsigned)get_u(&r, 2);
    rq->seq = (int64_t)get_u(&r, 8);
    rq->uid = (uint32_t)get_u(&r, 4);
    rq->gid = (uint32_t)get_u(&r, 4);
    for (int i = 0; limits(rq, i); i++)
        *limits(rq, i) = (int32_t)(uint32_t)get_u(&r, 4);
    rq->nargv = (int)get_u(&r, 2);
    rq->nenv = (int)get_u(&r, 2);
    rq->ids = flags & FLAG_IDS;
    rq->own_userns = flags & FLAG_USERNS;
    rq->zygote = flags & FLAG_ZYGOTE;
    if (r.ok && (flags & ~(FLAG_IDS | FLAG_USERNS | FLAG_CWD | FLAG_ZYGOTE))) {
        snprintf(err, errlen, "unknown flags %#x", flags);
        return -EINVAL;
    }
    if (r.ok && (rq->nargv > RUNREQ_MAX_ARGV || rq->nenv > RUNREQ_MAX_ENV)) {
        snprintf(err, errlen, "%d arguments, %d environment entries (at most %d, %d)", rq->nargv,
                 rq->nenv, RUNREQ_MAX_ARGV, RUNREQ_MAX_ENV);
        return -EINVAL;
    }
    if (flags & FLAG_CWD)
        rq->cwd = get_str(&r, store, storelen, &used);
    for (int i = 0; r.ok && i < rq->nargv; i++)
        rq->argv[i] = get_str(&r, store, storelen, &used);
    for (int i = 0; r.ok && i < rq->nenv; i++)
        rq->env[i] = get_str(&r, store, storelen, &used);
    if (!r.ok || r.off != len) {
        snprintf(err, errlen, "request %s at byte %zu of %zu",
                 r.ok ? "has trailing data" : "is truncated or has a bad string", r.off, len);
        return -EINVAL;
    }
    rq->argv[rq->nargv] = NULL;
    rq->env[rq->nenv] = NULL;
    return runreq_check(rq, err, errlen);
}

size_t runreq_report_encode(const runreq_report_t *rep, void *out)
{
    wr_t w = {.p = out, .cap = RUNREQ_REPORT_MAX};
    size_t n = strnlen(rep->error, RUNREQ_ERROR_MAX - 1);

    put_u(&w, RUNREQ_REPORT_MAGIC, 4);
    put_u(&w, RUNREQ_VERSION, 2);
    put_u(&w,
          (rep->timed_out ? REP_TIMED_OUT : 0) | (rep->killed ? REP_KILLED : 0) |
              (rep->oom_killed ? REP_OOM : 0),
          2);
    put_u(&w, (uint32_t)rep->exit_code, 4);
    put_u(&w, (uint32_t)rep->signal, 4);
    put_u(&w, (uint64_t)rep->cpu_ms, 8);
    put_u(&w, (uint64_t)rep->wall_ms, 8);
    put_u(&w, (uint64_t)rep->maxrss_kb, 8);
    put_u(&w, (uint64_t)rep->peak_kb, 8);
    put_u(&w, n, 2);
    put(&w, rep->error, n);
    return w.len;
}

int runreq_report_decode(const void *buf, size_t len, runreq_report_t *rep)
{
    rd_t r = {.p = buf, .len = len, .ok = true};

    memset(rep, 0, sizeof *rep);
    uint32_t magic = (uint32_t)get_u(&r, 4);
    unsigned version = (unsigned)get_u(&r, 2);
    if (!r.ok || magic != RUNREQ_REPORT_MAGIC || version != RUNREQ_VERSION)
        return -EPROTO;
    unsigned flags = (unsigned)get_u(&r, 2);
    rep->exit_code = (int32_t)(uint32_t)get_u(&r, 4);
    rep->signal = (int32_t)(uint32_t)get_u(&r, 4);
    rep->cpu_ms = (int64_t)get_u(&r, 8);
    rep->wall_ms = (int64_t)get_u(&r, 8);
    rep->maxrss_kb = (int64_t)get_u(&r, 8);
    rep->peak_kb = (int64_t)get_u(&r, 8);
    size_t n = (size_t)get_u(&r, 2);
    rep->timed_out = flags & REP_TIMED_OUT;
    rep->killed = flags & REP_KILLED;
    rep->oom_killed = flags & REP_OOM;
    if (!r.ok || (flags & ~(REP_TIMED_OUT | REP_KILLED | REP_OOM)) || n >= RUNREQ_ERROR_MAX ||
        len - r.off != n || memchr(r.p + r.off, '\0', n))
        return -EINVAL;
    memcpy(rep->error, r.p + r.off, n);
    rep->error[n] = '\0';
    return 0;
}

void runreq_report_stage(const runreq_report_t *rep, char *out, size_t len)
{
    size_t n = strcspn(rep->error, ":");

    snprintf(out, len, "%.*s", (int)n, rep->error);
}
