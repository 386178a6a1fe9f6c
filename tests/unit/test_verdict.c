/*
 * test_verdict.c - a step's status from the launcher's report: each status and what decides
 * it, the start failures the program caused itself, a missing or malformed report.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "verdict.h"

static unsigned char g_buf[RUNREQ_REPORT_MAX];
static size_t g_len;

/* Encodes a report of a program that ran, ended with exit code ec or signal sig. */
static void ran(int ec, int sig, bool timed_out, bool killed, bool oom)
{
    runreq_report_t r = {.exit_code = ec,
                         .signal = sig,
                         .cpu_ms = 12,
                         .wall_ms = 34,
                         .maxrss_kb = 5600,
                         .timed_out = timed_out,
                         .killed = killed,
                         .oom_killed = oom};
    g_len = runreq_report_encode(&r, g_buf);
}

static void failed(const char *error)
{
    runreq_report_t r = {.exit_code = 127};
    snprintf(r.error, sizeof r.error, "%s", error);
    g_len = runreq_report_encode(&r, g_buf);
}

static cg_status_t judge(const char *lang, bool compile, bool truncated, const char *err,
                         cg_outcome_t *o, char *msg)
{
    verdict_step_t s = {.profile = profile_find(lang),
                        .compile = compile,
                        .truncated = truncated,
                        .err = err,
                        .elapsed_ms = 99};
    assert_non_null(s.profile);
    memset(o, 0, sizeof *o);
    verdict_decide(&s, g_buf, g_len, o, msg, VERDICT_MSG_MAX);
    return o->status;
}

static void test_runs(void **state)
{
    (void)state;
    cg_outcome_t o;
    char msg[VERDICT_MSG_MAX];

    ran(0, 0, false, false, false);
    assert_int_equal(judge("python", false, false, NULL, &o, msg), CG_ST_OK);
    assert_int_equal(o.cpu_ms, 12);
    assert_int_equal(o.duration_ms, 34);
    assert_int_equal(o.memory_kb, 5600);
    assert_string_equal(msg, "");
    ran(3, 0, false, false, false);
    assert_int_equal(judge("python", false, false, "", &o, msg), CG_ST_RUNTIME_ERROR);
    assert_int_equal(o.exit_code, 3);
    ran(-1, SIGKILL, true, false, false);
    assert_int_equal(judge("python", false, false, NULL, &o, msg), CG_ST_TIMEOUT);
    assert_true(o.timed_out);
    ran(-1, SIGXCPU, false, false, false); /* CPU limit: a time-out too */
    assert_int_equal(judge("python", false, false, NULL, &o, msg), CG_ST_TIMEOUT);
    ran(0, 0, false, false, true); /* OOM in the cgroup beats a "normal" end */
    assert_int_equal(judge("python", false, false, NULL, &o, msg), CG_ST_MEMORY_LIMIT);
    ran(-1, SIGKILL, false, true, false); /* stopped at the output cap */
    assert_int_equal(judge("python", false, true, NULL, &o, msg), CG_ST_OUTPUT_LIMIT);
    ran(-1, SIGKILL, false, true, false); /* stopped by us (cancel) */
    assert_int_equal(judge("python", false, false, NULL, &o, msg), CG_ST_RUNTIME_ERROR);
    ran(-1, SIGKILL, false, false, false); /* killed by nobody we know of */
    assert_int_equal(judge("python", false, false, NULL, &o, msg), CG_ST_MEMORY_LIMIT);
    ran(1, 0, false, false, false);
    assert_int_equal(judge("python", false, false, "Traceback\nMemoryError\n", &o, msg),
                     CG_ST_MEMORY_LIMIT);
}

static void test_compile(void **state)
{
    (void)state;
    cg_outcome_t o;
    char msg[VERDICT_MSG_MAX];

    ran(0, 0, false, false, false);
    assert_int_equal(judge("cpp", true, false, NULL, &o, msg), CG_ST_OK);
    ran(1, 0, false, false, false);
    assert_int_equal(judge("cpp", true, false, NULL, &o, msg), CG_ST_COMPILE_ERROR);
    ran(-1, SIGKILL, true, false, false);
    assert_int_equal(judge("cpp", true, false, NULL, &o, msg), CG_ST_TIMEOUT);
    ran(0, 0, false, false, true); /* OOM does not decide a compile */
    assert_int_equal(judge("cpp", true, false, NULL, &o, msg), CG_ST_OK);
}

static void test_start_failures(void **state)
{
    (void)state;
    cg_outcome_t o;
    char msg[VERDICT_MSG_MAX];

    /* a compiled program whose binary the program removed: its own doing */
    failed("exec: No such file or directory");
    assert_int_equal(judge("cpp", false, false, NULL, &o, msg), CG_ST_RUNTIME_ERROR);
    assert_string_equal(msg, "cannot start the program: exec: No such file or directory");
    assert_int_equal(o.exit_code, -1);
    assert_int_equal(o.duration_ms, 99);
    /* an interpreter that cannot be started: ours */
    assert_int_equal(judge("python", false, false, NULL, &o, msg), CG_ST_INTERNAL_ERROR);
    assert_string_equal(msg, "exec: No such file or directory");
    /* an unsearchable work dir, the process limit: the program's */
    failed("chdir: Permission denied");
    assert_int_equal(judge("python", false, false, NULL, &o, msg), CG_ST_RUNTIME_ERROR);
    failed("exec: Resource temporarily unavailable");
    assert_int_equal(judge("python", false, false, NULL, &o, msg), CG_ST_RUNTIME_ERROR);
    /* the compile step never blames the program */
    failed("chdir: Permission denied");
    assert_int_equal(judge("cpp", true, false, NULL, &o, msg), CG_ST_INTERNAL_ERROR);
    /* a slot that could not be prepared, a refused request */
    failed("slot: cannot set the memory limit: Device or resource busy");
    assert_true(verdict_slot_failed(g_buf, g_len));
    assert_int_equal(judge("python", false, false, NULL, &o, msg), CG_ST_INTERNAL_ERROR);
    failed("request: not a version 1 request");
    assert_false(verdict_slot_failed(g_buf, g_len));
    ran(0, 0, false, false, false);
    assert_false(verdict_slot_failed(g_buf, g_len));
}

static void test_no_report(void **state)
{
    (void)state;
    cg_outcome_t o;
    char msg[VERDICT_MSG_MAX];
    verdict_step_t s = {.profile = profile_find("python"), .elapsed_ms = 7};

    memset(&o, 0, sizeof o);
    verdict_decide(&s, NULL, 0, &o, msg, sizeof msg);
    assert_int_equal(o.status, CG_ST_INTERNAL_ERROR);
    assert_string_equal(msg, "executor: the sandbox launcher failed");
    assert_int_equal(o.duration_ms, 7);
    /* the program's own stderr is kept */
    s.err = "some output";
    verdict_decide(&s, NULL, 0, &o, msg, sizeof msg);
    assert_string_equal(msg, "");
    /* the backstop killed a hung launcher: a time-out */
    s.backup_fired = true;
    ran(0, 0, false, false, false);
    verdict_decide(&s, g_buf, g_len - 1, &o, msg, sizeof msg);
    assert_int_equal(o.status, CG_ST_TIMEOUT);
    assert_true(o.timed_out);
    assert_false(verdict_slot_failed(g_buf, g_len - 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runs),
        cmocka_unit_test(test_compile),
        cmocka_unit_test(test_start_failures),
        cmocka_unit_test(test_no_report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
