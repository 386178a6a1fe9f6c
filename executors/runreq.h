/*
 * runreq.h - the hand-off between the runner (executor) and the sandbox launcher: one request
 * (what to run, under which limits) and one report (how it ended), each a typed struct with one
 * binary encoding. runreq.c is compiled into both the executor and the launcher (libc only), so
 * the limits below are defined once for both sides.
 *
 *   runner (start_step)                                launcher (serve / one-shot)
 *     runreq_t --runreq_encode--> datagram (or memfd) --runreq_decode--> runreq_t
 *     runreq_report_t <--runreq_report_decode-- status pipe <--runreq_report_encode--
 *
 * Request, all integers little-endian:
 *   u32 magic "CGRQ"  u16 version  u16 flags (1 = uid/gid given, 2 = own user namespace,
 *   4 = cwd given, 8 = may run in the launcher's zygote)  i64 seq  u32 uid  u32 gid
 *   i32 wall_ms cpu_ms as_mb data_mb fsize_mb nofile nproc stack_mb cgroup_mb wait_credit_ms
 *   u16 nargv  u16 nenv, then the strings, each u32 length + bytes (no NUL inside): cwd (when
 *   flag 4), argv[nargv], env[nenv]. Nothing may follow.
 * Report:
 *   u32 magic "CGRP"  u16 version  u16 flags (1 timed out, 2 killed, 3 OOM-killed)  i32 exit_code
 *   i32 signal  i64 cpu_ms wall_ms maxrss_kb peak_kb  u16 error length + bytes (0 = the program
 *   ran; else "<stage>: <reason>", the program never started).
 *
 * Ownership: a decoded runreq_t points into the caller's store (see runreq_decode), which must
 * outlive it; nothing here allocates. Any thread.
 */
#ifndef CG_RUNREQ_H
#define CG_RUNREQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RUNREQ_VERSION 1
#define RUNREQ_MAGIC 0x51524743u        /* "CGRQ" */
#define RUNREQ_REPORT_MAGIC 0x50524743u /* "CGRP" */

#define RUNREQ_MAX_ARGV 128        /* the program and its arguments */
#define RUNREQ_MAX_ENV 64          /* the program's whole environment */
#define RUNREQ_MAX_STR 8192        /* one string (an argument, a variable, the cwd) */
#define RUNREQ_INLINE_MAX 32768    /* larger requests travel in a memfd, not in the datagram */
#define RUNREQ_MAX_SIZE (1u << 20) /* one encoded request */
#define RUNREQ_ERROR_MAX 160       /* the report's error text, with its NUL */
#define RUNREQ_REPORT_MAX (4 + 2 + 2 + 4 + 4 + 4 * 8 + 2 + RUNREQ_ERROR_MAX)

/* One run. Integers are >= 0; 0 means "no such limit" except wall_ms, which is required. */
typedef struct {
    int64_t seq;     /* serve mode: the run's number, for stop requests; -1 = none */
    bool ids;        /* run as uid/gid (else as the launcher) */
    bool own_userns; /* in a user namespace of its own, uid/gid mapped to the launcher's */
    bool zygote;     /* a launcher with a pre-initialised interpreter (launcher_zygote.c) may
                        run argv in it instead of exec; any other launcher execs argv */
    uint32_t uid, gid;
    int32_t wall_ms, cpu_ms, as_mb, data_mb, fsize_mb, nofile, nproc, stack_mb, cgroup_mb;
    int32_t wait_credit_ms; /* the wall limit may grow by the time the program waited for a CPU,
                               by at most this (launcher.c); 0 = not at all */
    const char *cwd;        /* NULL = the launcher's */
    int nargv, nenv;
    const char *argv[RUNREQ_MAX_ARGV + 1]; /* NULL-terminated */
    const char *env[RUNREQ_MAX_ENV + 1];   /* NULL-terminated, each K=V */
} runreq_t;

/* How a run ended. error[0] != '\0': the program was not started (stage: reason). */
typedef struct {
    int32_t exit_code; /* -1 when signalled or never started */
    int32_t signal;
    int64_t cpu_ms, wall_ms, maxrss_kb;
    int64_t peak_kb; /* the run's cgroup peak memory (v1; v2 from Linux 6.12), or 0 */
    bool timed_out, killed;
    bool oom_killed; /* the OOM killer struck in the run's cgroup */
    char error[RUNREQ_ERROR_MAX];
} runreq_report_t;

/* An empty request: seq -1, no limits, no strings. */
void runreq_init(runreq_t *rq);
/* Checks what both sides require of a request (ranges, counts, sizes, K=V). 0, or -EINVAL with
 * a reason in err. */
int runreq_check(const runreq_t *rq, char *err, size_t errlen);
/* Encodes rq into out when it fits in cap. Returns the encoded size (as snprintf: also when it
 * did not fit), or -EINVAL when rq fails runreq_check or exceeds RUNREQ_MAX_SIZE. */
long runreq_encode(const runreq_t *rq, void *out, size_t cap);
/* Decodes len bytes into rq; its strings are copied, NUL-terminated, into store (storelen >= len
 * is always enough). 0, or -EINVAL (malformed: err says why) or -EPROTO (wrong magic or
 * version). rq is then unspecified. */
int runreq_decode(const void *buf, size_t len, runreq_t *rq, char *store, size_t storelen,
                  char *err, size_t errlen);

/* Encodes a report into out (at least RUNREQ_REPORT_MAX bytes). Returns its size. */
size_t runreq_report_encode(const runreq_report_t *rep, void *out);
/* Decodes a report. 0, -EINVAL (malformed) or -EPROTO (wrong magic or version). */
int runreq_report_decode(const void *buf, size_t len, runreq_report_t *rep);
/* The stage of a failed start ("exec", "chdir", "slot", ...) into out; "" when it ran. */
void runreq_report_stage(const runreq_report_t *rep, char *out, size_t len);

#endif
