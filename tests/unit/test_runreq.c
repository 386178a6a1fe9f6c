/*
 * test_runreq.c - the launcher's request and report: round trips, every truncation, wrong magic
 * and version, out-of-range fields, trailing data.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runreq.h"

static void sample(runreq_t *rq)
{
    runreq_init(rq);
    rq->seq = 42;
    rq->ids = true;
    rq->own_userns = true;
    rq->uid = 60001;
    rq->gid = 60002;
    rq->wall_ms = 5000;
    rq->cpu_ms = 6000;
    rq->as_mb = 1;
    rq->data_mb = 2;
    rq->fsize_mb = 64;
    rq->nofile = 256;
    rq->nproc = 64;
    rq->stack_mb = 8;
    rq->cgroup_mb = 320;
    rq->wait_credit_ms = 15000;
    rq->cwd = "/box/0-job";
    rq->argv[rq->nargv++] = "/usr/bin/python3";
    rq->argv[rq->nargv++] = "main.py";
    rq->argv[rq->nargv++] = ""; /* an empty argument is an argument */
    rq->env[rq->nenv++] = "PATH=/usr/bin:/bin";
    rq->env[rq->nenv++] = "HOME=/box/0-job";
}

static unsigned char *encode(const runreq_t *rq, size_t *len)
{
    long n = runreq_encode(rq, NULL, 0);
    assert_true(n > 0);
    unsigned char *buf = malloc((size_t)n);
    assert_non_null(buf);
    assert_int_equal(runreq_encode(rq, buf, (size_t)n), n);
    *len = (size_t)n;
    return buf;
}

static void test_round_trip(void **state)
{
    (void)state;
    runreq_t in, out;
    char store[1024], err[128];
    size_t len;

    sample(&in);
    unsigned char *buf = encode(&in, &len);
    assert_int_equal(runreq_decode(buf, len, &out, store, len, err, sizeof err), 0);
    assert_int_equal(out.seq, 42);
    assert_true(out.ids && out.own_userns);
    assert_false(out.zygote);
    assert_int_equal(out.uid, 60001);
    assert_int_equal(out.gid, 60002);
    assert_int_equal(out.wall_ms, 5000);
    assert_int_equal(out.cpu_ms, 6000);
    assert_int_equal(out.as_mb, 1);
    assert_int_equal(out.data_mb, 2);
    assert_int_equal(out.fsize_mb, 64);
    assert_int_equal(out.nofile, 256);
    assert_int_equal(out.nproc, 64);
    assert_int_equal(out.stack_mb, 8);
    assert_int_equal(out.cgroup_mb, 320);
    assert_int_equal(out.wait_credit_ms, 15000);
    assert_string_equal(out.cwd, "/box/0-job");
    assert_int_equal(out.nargv, 3);
    assert_string_equal(out.argv[0], "/usr/bin/python3");
    assert_string_equal(out.argv[1], "main.py");
    assert_string_equal(out.argv[2], "");
    assert_null(out.argv[3]);
    assert_int_equal(out.nenv, 2);
    assert_string_equal(out.env[1], "HOME=/box/0-job");
    assert_null(out.env[2]);
    /* the same bytes again: the encoding is canonical */
    size_t len2;
    unsigned char *buf2 = encode(&out, &len2);
    assert_int_equal(len2, len);
    assert_memory_equal(buf, buf2, len);
    free(buf2);
    /* no cwd, no ids, seq -1 */
    runreq_init(&in);
    in.wall_ms = 1;
    in.argv[in.nargv++] = "/bin/true";
    free(buf);
    buf = encode(&in, &len);
    assert_int_equal(runreq_decode(buf, len, &out, store, len, err, sizeof err), 0);
    assert_null(out.cwd);
    assert_false(out.ids);
    assert_int_equal(out.seq, -1);
    free(buf);
}

static void test_every_truncation_and_trailing_byte(void **state)
{
    (void)state;
    runreq_t in, out;
    char store[1024], err[128];
    size_t len;

    sample(&in);
    unsigned char *buf = encode(&in, &len);
    for (size_t cut = 0; cut < len; cut++) {
        int rc = runreq_decode(buf, cut, &out, store, sizeof store, err, sizeof err);
        assert_true(rc == -EINVAL || rc == -EPROTO);
        assert_true(err[0] != '\0');
    }
    unsigned char *more = malloc(len + 1);
    memcpy(more, buf, len);
    more[len] = 0;
    assert_int_equal(runreq_decode(more, len + 1, &out, store, sizeof store, err, sizeof err),
                     -EINVAL);
    assert_non_null(strstr(err, "trailing"));
    /* a store too small is refused, never overrun */
    assert_int_equal(runreq_decode(buf, len, &out, store, 8, err, sizeof err), -EINVAL);
    free(more);
    free(buf);
}

static void test_wrong_magic_version_and_flags(void **state)
{
    (void)state;
    runreq_t in, out;
    char store[1024], err[128];
    size_t len;

    sample(&in);
    unsigned char *buf = encode(&in, &len);
    buf[0] ^= 1; /* magic */
    assert_int_equal(runreq_decode(buf, len, &out, store, len, err, sizeof err), -EPROTO);
    buf[0] ^= 1;
    buf[4] = RUNREQ_VERSION + 1; /* version */
    assert_int_equal(runreq_decode(buf, len, &out, store, len, err, sizeof err), -EPROTO);
    buf[4] = RUNREQ_VERSION;
    buf[6] |= 0x80; /* an unknown flag */
    assert_int_equal(runreq_decode(buf, len, &out, store, len, err, sizeof err), -EINVAL);
    buf[6] &= 0x7f;
    assert_int_equal(runreq_decode(buf, len, &out, store, len, err, sizeof err), 0);
    free(buf);
    /* flag 8: the run may fork from the launcher's zygote (launcher_zygote.c) */
    in.zygote = true;
    buf = encode(&in, &len);
    assert_int_equal(buf[6] & 8, 8);
    assert_int_equal(runreq_decode(buf, len, &out, store, len, err, sizeof err), 0);
    assert_true(out.zygote && out.ids && out.own_userns);
    free(buf);
}

/* Offsets in the encoding (runreq.h): the limits start at 24, the counts at 64, the strings at 68.
 */
#define OFF_WALL 24
#define OFF_NARGV 64
#define OFF_STRINGS 68

static void test_out_of_range_fields(void **state)
{
    (void)state;
    runreq_t in, out;
    char store[1024], err[128];
    size_t len;

    sample(&in);
    unsigned char *buf = encode(&in, &len);
    assert_int_equal(buf[OFF_WALL] | buf[OFF_WALL + 1] << 8, 5000);
    buf[OFF_WALL + 3] = 0x80; /* wall_ms negative */
    assert_int_equal(runreq_decode(buf, len, &out, store, len, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "wall_ms"));
    memset(buf + OFF_WALL, 0, 4); /* wall_ms 0: required */
    assert_int_equal(runreq_decode(buf, len, &out, store, len, err, sizeof err), -EINVAL);
    free(buf);
    buf = encode(&in, &len);
    buf[OFF_NARGV] = 0xff; /* 255 arguments > RUNREQ_MAX_ARGV */
    assert_int_equal(runreq_decode(buf, len, &out, store, len, err, sizeof err), -EINVAL);
    buf[OFF_NARGV] = 0; /* no program */
    assert_int_equal(runreq_decode(buf, len, &out, store, len, err, sizeof err), -EINVAL);
    free(buf);
}

static void test_oversized_and_invalid_strings(void **state)
{
    (void)state;
    runreq_t in, out;
    char err[128];
    static char big[RUNREQ_MAX_STR + 2];
    size_t len;

    sample(&in);
    memset(big, 'a', RUNREQ_MAX_STR + 1);
    in.argv[1] = big; /* one byte too long */
    assert_int_equal(runreq_encode(&in, NULL, 0), -EINVAL);
    big[RUNREQ_MAX_STR] = '\0'; /* exactly the limit */
    unsigned char *buf = encode(&in, &len);
    char *store = malloc(len);
    assert_int_equal(runreq_decode(buf, len, &out, store, len, err, sizeof err), 0);
    assert_int_equal(strlen(out.argv[1]), RUNREQ_MAX_STR);
    /* a length prefix over the limit, or pointing past the end */
    size_t at = OFF_STRINGS + 4 + strlen(in.cwd) + 4 + strlen(in.argv[0]); /* argv[1]'s length */
    assert_int_equal(buf[at] | buf[at + 1] << 8, RUNREQ_MAX_STR);
    buf[at] += 1; /* one over the limit */
    assert_int_equal(runreq_decode(buf, len, &out, store, len, err, sizeof err), -EINVAL);
    buf[at] -= 1;
    buf[at + 2] = 1; /* past the end */
    assert_int_equal(runreq_decode(buf, len, &out, store, len, err, sizeof err), -EINVAL);
    free(buf);
    free(store);
    /* a NUL inside a string */
    sample(&in);
    buf = encode(&in, &len);
    store = malloc(len);
    buf[OFF_STRINGS + 4 + 1] = '\0'; /* in cwd */
    assert_int_equal(runreq_decode(buf, len, &out, store, len, err, sizeof err), -EINVAL);
    free(buf);
    free(store);
    /* an environment entry that is not K=V, too many entries or arguments */
    sample(&in);
    in.env[0] = "PATH";
    assert_int_equal(runreq_encode(&in, NULL, 0), -EINVAL);
    sample(&in);
    in.nenv = RUNREQ_MAX_ENV + 1;
    assert_int_equal(runreq_encode(&in, NULL, 0), -EINVAL);
    sample(&in);
    in.nargv = RUNREQ_MAX_ARGV + 1;
    assert_int_equal(runreq_encode(&in, NULL, 0), -EINVAL);
    /* the whole request over RUNREQ_MAX_SIZE */
    runreq_init(&in);
    in.wall_ms = 1;
    memset(big, 'a', RUNREQ_MAX_STR);
    big[RUNREQ_MAX_STR] = '\0';
    for (int i = 0; i < RUNREQ_MAX_ARGV; i++)
        in.argv[in.nargv++] = big;
    assert_true((size_t)RUNREQ_MAX_ARGV * (4 + RUNREQ_MAX_STR) > RUNREQ_MAX_SIZE);
    assert_int_equal(runreq_encode(&in, NULL, 0), -EINVAL);
    in.nargv = 64; /* 64 arguments of 4 KiB (the protocol's most) fit */
    for (int i = 0; i < 64; i++)
        in.argv[i] = big + RUNREQ_MAX_STR - 4096;
    assert_true(runreq_encode(&in, NULL, 0) > RUNREQ_INLINE_MAX);
}

static void test_report_round_trip_and_truncation(void **state)
{
    (void)state;
    runreq_report_t in, out;
    unsigned char buf[RUNREQ_REPORT_MAX];
    char stage[64];

    memset(&in, 0, sizeof in);
    in.exit_code = -1;
    in.signal = 9;
    in.cpu_ms = 1234;
    in.wall_ms = 5678;
    in.maxrss_kb = 1LL << 33;
    in.peak_kb = 77;
    in.killed = true;
    in.oom_killed = true;
    size_t n = runreq_report_encode(&in, buf);
    assert_int_equal(runreq_report_decode(buf, n, &out), 0);
    assert_int_equal(out.exit_code, -1);
    assert_int_equal(out.signal, 9);
    assert_int_equal(out.cpu_ms, 1234);
    assert_int_equal(out.wall_ms, 5678);
    assert_int_equal(out.maxrss_kb, 1LL << 33);
    assert_int_equal(out.peak_kb, 77);
    assert_true(out.killed && out.oom_killed && !out.timed_out);
    assert_string_equal(out.error, "");
    runreq_report_stage(&out, stage, sizeof stage);
    assert_string_equal(stage, "");
    for (size_t cut = 0; cut < n; cut++)
        assert_int_not_equal(runreq_report_decode(buf, cut, &out), 0);
    /* an error report, its stage, and an error as long as it may be */
    memset(&in, 0, sizeof in);
    snprintf(in.error, sizeof in.error, "exec: No such file or directory");
    n = runreq_report_encode(&in, buf);
    assert_int_equal(runreq_report_decode(buf, n, &out), 0);
    assert_string_equal(out.error, "exec: No such file or directory");
    runreq_report_stage(&out, stage, sizeof stage);
    assert_string_equal(stage, "exec");
    memset(in.error, 'e', sizeof in.error - 1);
    in.error[sizeof in.error - 1] = '\0';
    n = runreq_report_encode(&in, buf);
    assert_true(n <= RUNREQ_REPORT_MAX);
    assert_int_equal(runreq_report_decode(buf, n, &out), 0);
    assert_int_equal(strlen(out.error), RUNREQ_ERROR_MAX - 1);
    for (size_t cut = 0; cut < n; cut++)
        assert_int_not_equal(runreq_report_decode(buf, cut, &out), 0);
    /* wrong magic, version; trailing data */
    buf[0] ^= 1;
    assert_int_equal(runreq_report_decode(buf, n, &out), -EPROTO);
    buf[0] ^= 1;
    buf[4]++;
    assert_int_equal(runreq_report_decode(buf, n, &out), -EPROTO);
    buf[4]--;
    n = runreq_report_encode(&(runreq_report_t){.exit_code = 0}, buf);
    assert_int_equal(runreq_report_decode(buf, n + 1, &out), -EINVAL);
    assert_int_equal(runreq_report_decode(NULL, 0, &out), -EPROTO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_every_truncation_and_trailing_byte),
        cmocka_unit_test(test_wrong_magic_version_and_flags),
        cmocka_unit_test(test_out_of_range_fields),
        cmocka_unit_test(test_oversized_and_invalid_strings),
        cmocka_unit_test(test_report_round_trip_and_truncation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
