/*
 * test_runner.c - the executor's job runner on a real libuv loop with the real launcher:
 * output capping, streaming, results of each run, cancellation, clean-up of the work dir.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cg_util.h"
#include "runner.h"

#define MAX_FRAMES 4096

static char launcher[PATH_MAX], work_root[PATH_MAX];
static char *frames[MAX_FRAMES];
static int nframes;
static bool ended;
static uv_loop_t loop;
static int budget_ms;         /* of the next run_job(); 0 = none */
static const char *abort_why; /* run_job's cancel_after_ms: runner_abort with this, not cancel */

static void on_send(void *conn, char *frame)
{
    (void)conn;
    if (nframes < MAX_FRAMES)
        frames[nframes++] = frame;
    else
        free(frame);
}

static void on_ended(void *conn, rjob_t *job)
{
    (void)conn;
    (void)job;
    ended = true;
}

static int setup(void **state)
{
    (void)state;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    self[n] = '\0';
    *strrchr(self, '/') = '\0';
    *strrchr(self, '/') = '\0';
    snprintf(launcher, sizeof launcher, "%s/launcher", self);
    snprintf(work_root, sizeof work_root, "/tmp/cg-runner-test-%d", (int)getpid());
    alarm(60);
    return 0;
}

/* The build dir of a launcher path (".../build/launcher" -> ".../build"). */
static const char *dirname_of_launcher(const char *path)
{
    static char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    return dir;
}

static void reset(void)
{
    for (int i = 0; i < nframes; i++)
        free(frames[i]);
    nframes = 0;
    ended = false;
    budget_ms = 0;
}

static int teardown(void **state)
{
    (void)state;
    reset();
    rmdir(work_root);
    alarm(0);
    return 0;
}

/* Each run's wall clock (tests that do not time out on purpose may lengthen it: a loaded
 * machine starts Node slowly). */
static int run_ms = 3000;
/* Slots out of service when the last job ended (runner_slots_down). */
static int last_slots_down;

/* Runs one job to its end; returns the runner's frames. */
static void run_job(const char *lang, const char *code, const char *const *inputs, int nruns,
                    size_t limit, bool stream, int cancel_after_ms)
{
    runner_cfg_t cfg = {
        .loop = &loop,
        .profile = profile_find(lang),
        .launcher = launcher,
        .work_root = work_root,
        .slots = 2,
        .uid_base = 60980,
        .drop_uid = geteuid() == 0,
        .compile_timeout_ms = 20000,
        .send = on_send,
        .ended = on_ended,
    };
    cg_execute_t ex = {.id = "t1",
                       .language = lang,
                       .code = code,
                       .code_len = strlen(code),
                       .nruns = nruns,
                       .memory_mb = 256,
                       .output_limit = limit,
                       .stream = stream};
    ex.budget_ms = budget_ms;
    for (int i = 0; i < nruns; i++)
        ex.runs[i] =
            (cg_run_spec_t){inputs ? inputs[i] : NULL, inputs ? strlen(inputs[i]) : 0, run_ms};
    char *s = cg_encode_execute(&ex);
    cJSON *root;
    cg_msg_t m;
    rjob_t *job;

    reset();
    mkdir(work_root, 0711);
    assert_int_equal(uv_loop_init(&loop), 0);
    runner_t *r = runner_new(&cfg);
    assert_int_equal(cg_msg_parse(s, strlen(s), &root, &m, NULL, 0), 0);
    free(s);
    assert_int_equal(runner_start_job(r, root, &m, (void *)1, &job), 0);
    if (cancel_after_ms) {
        int64_t t = cg_now_ms() + cancel_after_ms;
        while (!ended && cg_now_ms() < t)
            uv_run(&loop, UV_RUN_NOWAIT), usleep(1000);
        if (!ended && abort_why)
            runner_abort(job, abort_why);
        else if (!ended)
            runner_cancel(job);
    }
    while (!ended)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(runner_active(r), 0);
    last_slots_down = runner_slots_down(r);
    runner_free(r); /* closes the slots' launchers' handles: then the loop can close */
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static cJSON *frame(int i, const char *type)
{
    assert_true(i < nframes);
    cJSON *j = cJSON_Parse(frames[i]);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "type")->valuestring, type);
    return j;
}

static void test_runs_and_done(void **state)
{
    (void)state;
    const char *in[] = {"2 3\n", "10 20"};
    run_job("python", "a,b=map(int,input().split())\nprint(a+b)", in, 2, 1 << 20, false, 0);
    assert_int_equal(nframes, 3);
    cJSON *r0 = frame(0, "result"), *r1 = frame(1, "result"), *d = frame(2, "done");
    assert_string_equal(cJSON_GetObjectItem(r0, "stdout")->valuestring, "5\n");
    assert_string_equal(cJSON_GetObjectItem(r1, "stdout")->valuestring, "30\n");
    assert_string_equal(cJSON_GetObjectItem(r1, "status")->valuestring, "ok");
    assert_int_equal(cJSON_GetObjectItem(d, "runs")->valueint, 2);
    cJSON_Delete(r0);
    cJSON_Delete(r1);
    cJSON_Delete(d);
    char p[PATH_MAX + 16];
    snprintf(p, sizeof p, "%s/0-t1", work_root);
    assert_int_equal(access(p, F_OK), -1); /* work dir removed */
}

static void test_output_cap(void **state)
{
    (void)state;
    int64_t t0 = cg_now_ms();
    run_job("python", "import sys\nwhile True: sys.stdout.write('x' * 100)", NULL, 1, 1000, false,
            0);
    cJSON *r0 = frame(0, "result");
    assert_string_equal(cJSON_GetObjectItem(r0, "status")->valuestring, "output_limit");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(r0, "truncated")));
    assert_int_equal(strlen(cJSON_GetObjectItem(r0, "stdout")->valuestring), 1000);
    assert_true(cg_now_ms() - t0 < 2500); /* at the cap, not at the 3 s limit */
    cJSON_Delete(r0);
}

static void test_cap_counts_both_streams(void **state)
{
    (void)state;
    run_job("python", "import sys\nprint('o' * 600)\nprint('e' * 600, file=sys.stderr)\n", NULL, 1,
            1000, false, 0);
    cJSON *r0 = frame(0, "result");
    size_t o = strlen(cJSON_GetObjectItem(r0, "stdout")->valuestring);
    size_t e = strlen(cJSON_GetObjectItem(r0, "stderr")->valuestring);
    assert_int_equal(o + e, 1000);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(r0, "truncated")));
    cJSON_Delete(r0);
}

static void test_streaming(void **state)
{
    (void)state;
    run_job("python", "import sys\nprint('a')\nsys.stdout.flush()\nprint('b', file=sys.stderr)",
            NULL, 1, 1 << 20, true, 0);
    char out[64] = "", err[64] = "";
    int last = nframes - 1;
    for (int i = 0; i < nframes; i++) {
        cJSON *j = cJSON_Parse(frames[i]);
        const char *t = cJSON_GetObjectItem(j, "type")->valuestring;
        if (!strcmp(t, "stdout"))
            strcat(out, cJSON_GetObjectItem(j, "data")->valuestring);
        if (!strcmp(t, "stderr"))
            strcat(err, cJSON_GetObjectItem(j, "data")->valuestring);
        cJSON_Delete(j);
    }
    assert_string_equal(out, "a\n");
    assert_string_equal(err, "b\n");
    cJSON *res = frame(last - 1, "result");
    assert_string_equal(cJSON_GetObjectItem(res, "stdout")->valuestring, "");
    cJSON_Delete(res);
}

static void test_cancel(void **state)
{
    (void)state;
    int64_t t0 = cg_now_ms();
    const char *in[] = {"", ""};
    run_job("python", "import time\ntime.sleep(10)", in, 2, 1 << 20, false, 300);
    assert_true(cg_now_ms() - t0 < 2000);
    /* a cancelled run reports nothing; DONE says how many runs completed */
    cJSON *d = frame(nframes - 1, "done");
    assert_int_equal(cJSON_GetObjectItem(d, "runs")->valueint, 0);
    cJSON_Delete(d);
    for (int i = 0; i < nframes - 1; i++)
        assert_null(strstr(frames[i], "\"result\""));
}

/* The executor stops (drain grace over): the run that was going reports internal_error, its
 * output kept and the reason after its stderr; the next run is not started. */
static void test_abort(void **state)
{
    (void)state;
    const char *in[] = {"", ""};
    const char *code = "import sys,time\nprint('out', flush=True)\nsys.stderr.write('err\\n')\n"
                       "sys.stderr.flush()\ntime.sleep(10)";
    abort_why = "stopped: grace over";
    run_job("python", code, in, 2, 1 << 20, false, 600);
    cJSON *r = frame(0, "result");
    assert_string_equal(cJSON_GetObjectItem(r, "status")->valuestring, "internal_error");
    assert_string_equal(cJSON_GetObjectItem(r, "stdout")->valuestring, "out\n");
    assert_string_equal(cJSON_GetObjectItem(r, "stderr")->valuestring,
                        "err\nstopped: grace over\n");
    cJSON_Delete(r);
    cJSON *d = frame(1, "done");
    assert_int_equal(cJSON_GetObjectItem(d, "runs")->valueint, 1);
    cJSON_Delete(d);
    assert_int_equal(nframes, 2);
    /* streamed: the reason is a STDERR frame of its own, on a new line */
    run_job("python", code, in, 1, 1 << 20, true, 600);
    cJSON *e = frame(nframes - 3, "stderr");
    assert_string_equal(cJSON_GetObjectItem(e, "data")->valuestring, "\nstopped: grace over\n");
    cJSON_Delete(e);
    r = frame(nframes - 2, "result");
    assert_string_equal(cJSON_GetObjectItem(r, "status")->valuestring, "internal_error");
    cJSON_Delete(r);
    abort_why = NULL;
}

static void test_compile_error_skips_runs(void **state)
{
    (void)state;
    run_job("cpp", "int main( {", NULL, 1, 1 << 20, false, 0);
    cJSON *c = frame(0, "compile");
    assert_string_equal(cJSON_GetObjectItem(c, "status")->valuestring, "compile_error");
    assert_non_null(strstr(cJSON_GetObjectItem(c, "stderr")->valuestring, "error"));
    cJSON_Delete(c);
    cJSON *d = frame(1, "done");
    assert_int_equal(cJSON_GetObjectItem(d, "runs")->valueint, 0);
    cJSON_Delete(d);
}

/* Node: console.log() in a loop never returns to the event loop. Its stdout must block on the
 * full pipe (the profile's preload) so that the flood reaches the cap, instead of piling up in
 * the process until the heap limit or the wall clock ends it. */
static void test_js_flood_ends_at_cap(void **state)
{
    (void)state;
    const char *const floods[] = {
        "for (;;) console.log('flood line ' + 42);",
        "for (;;) process.stdout.write('x'.repeat(100));",
        "process.stdout.write('y'.repeat(20 << 20));",
        "for (;;) console.error('flood to stderr');",
    };
    run_ms = 15000; /* a flood must end at the cap long before this */
    for (size_t i = 0; i < sizeof floods / sizeof floods[0]; i++) {
        reset();
        run_job("javascript", floods[i], NULL, 1, 1 << 20, false, 0);
        cJSON *r0 = frame(0, "result");
        assert_string_equal(cJSON_GetObjectItem(r0, "status")->valuestring, "output_limit");
        assert_int_equal(strlen(cJSON_GetObjectItem(r0, "stdout")->valuestring) +
                             strlen(cJSON_GetObjectItem(r0, "stderr")->valuestring),
                         1 << 20);
        assert_false(cJSON_IsTrue(cJSON_GetObjectItem(r0, "timedOut")));
        cJSON_Delete(r0);
    }
    run_ms = 3000;
}

/* A slot whose limits cannot be applied (its launcher answers "slot: ..."): the runner resets it
 * once (a new launcher) and runs the step again; when that fails too the slot is taken out of
 * service and the step ends internal_error - the next student never lands there. */
static void test_slot_reset_then_out_of_service(void **state)
{
    (void)state;
    char saved[PATH_MAX], logp[PATH_MAX + 16];
    snprintf(saved, sizeof saved, "%s", launcher);
    snprintf(launcher, sizeof launcher, "%s/tests/helpers/fake_slot_launcher",
             dirname_of_launcher(saved));
    snprintf(logp, sizeof logp, "%s.starts", work_root);
    unlink(logp);
    setenv("FAKE_LAUNCHER_LOG", logp, 1);
    run_job("python", "print(1)", NULL, 1, 1 << 20, false, 0);
    unsetenv("FAKE_LAUNCHER_LOG");
    snprintf(launcher, sizeof launcher, "%s", saved);
    cJSON *r0 = frame(0, "result");
    assert_string_equal(cJSON_GetObjectItem(r0, "status")->valuestring, "internal_error");
    assert_non_null(strstr(cJSON_GetObjectItem(r0, "stderr")->valuestring, "slot: cannot set"));
    cJSON_Delete(r0);
    assert_int_equal(last_slots_down, 1);
    /* two slots' launchers at start, and one more for the reset */
    FILE *f = fopen(logp, "r");
    assert_non_null(f);
    int starts = 0;
    char line[64];
    while (fgets(line, sizeof line, f))
        starts++;
    fclose(f);
    unlink(logp);
    assert_int_equal(starts, 3);
}

static void test_budget_arithmetic(void **state)
{
    (void)state;
    assert_int_equal(runner_budget_wall_ms(0, 999999, 3000), 3000); /* no budget */
    assert_int_equal(runner_budget_wall_ms(6000, 0, 4000), 4000);
    assert_int_equal(runner_budget_wall_ms(6000, 2000, 4000), 4000); /* exactly fits */
    assert_int_equal(runner_budget_wall_ms(6000, 4100, 4000), 1900); /* cut */
    assert_int_equal(runner_budget_wall_ms(6000, 6000 - RUNNER_BUDGET_MIN_MS, 4000),
                     RUNNER_BUDGET_MIN_MS);
    assert_int_equal(runner_budget_wall_ms(6000, 6001 - RUNNER_BUDGET_MIN_MS, 4000), 0);
    assert_int_equal(runner_budget_wall_ms(6000, 5970, 30), 30);  /* short enough to fit */
    assert_int_equal(runner_budget_wall_ms(6000, 9000, 4000), 0); /* overspent (the compile) */
    assert_int_equal(runner_budget_wall_ms(CG_MAX_BUDGET_MS, 0, CG_MAX_TIMEOUT_MS),
                     CG_MAX_TIMEOUT_MS);
    /* The credit for time spent waiting for a CPU: a share of the wall limit, within the budget. */
    assert_int_equal(runner_wait_credit_ms(0, 999999, 5000), 5000 * CG_WALL_CREDIT_PCT / 100);
    assert_int_equal(runner_wait_credit_ms(60000, 0, 5000), 5000 * CG_WALL_CREDIT_PCT / 100);
    assert_int_equal(runner_wait_credit_ms(6000, 0, 4000), 2000); /* what the budget leaves */
    assert_int_equal(runner_wait_credit_ms(6000, 2000, 4000), 0); /* nothing left */
    assert_int_equal(runner_wait_credit_ms(6000, 5000, 4000), 0); /* never negative */
}

/* Three 3 s sleeping runs in a 4 s budget: the first times out, the second gets what is left
 * and times out, the third is never started; DONE says the budget was exceeded. (Sleeping, not
 * spinning: time a spinning program waits for a CPU on a busy machine is credited to it within
 * the budget, runner_wait_credit_ms, and would leave the second run less or nothing.) */
static void test_budget_skips_runs(void **state)
{
    (void)state;
    const char *in[] = {"", "", ""};
    int64_t t0 = cg_now_ms();
    budget_ms = 4000;
    run_job("python", "import time\ntime.sleep(100)", in, 3, 1 << 20, false, 0);
    int64_t took = cg_now_ms() - t0;
    assert_int_equal(nframes, 3);
    cJSON *r0 = frame(0, "result"), *r1 = frame(1, "result"), *d = frame(2, "done");
    assert_string_equal(cJSON_GetObjectItem(r0, "status")->valuestring, "timeout");
    assert_string_equal(cJSON_GetObjectItem(r1, "status")->valuestring, "timeout");
    assert_true(cJSON_GetObjectItem(r1, "durationMs")->valueint < 3000); /* cut by the budget */
    assert_int_equal(cJSON_GetObjectItem(d, "runs")->valueint, 2);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(d, "budgetExceeded")));
    assert_true(took < 9000); /* 3 x 3 s without the budget */
    cJSON_Delete(r0);
    cJSON_Delete(r1);
    cJSON_Delete(d);

    /* Runs that fit leave the budget alone. */
    reset();
    budget_ms = 4000;
    run_job("python", "print(input())", (const char *const[]){"a", "b", "c"}, 3, 1 << 20, false, 0);
    d = frame(3, "done");
    assert_int_equal(cJSON_GetObjectItem(d, "runs")->valueint, 3);
    assert_false(cJSON_IsTrue(cJSON_GetObjectItem(d, "budgetExceeded")));
    cJSON_Delete(d);
}

/* Without a memory cgroup (cfg.cg is NULL here) Python and C++ run under the RLIMIT_AS
 * fallback: 16 threads with glibc's default stack (RLIMIT_STACK) must still fit in it. */
static void test_threads_under_fallback_address_space(void **state)
{
    (void)state;
    static const char *const progs[][2] = {
        {"python", "import threading\n"
                   "b = threading.Barrier(16, timeout=10)\n"
                   "ts = [threading.Thread(target=b.wait) for i in range(16)]\n"
                   "for t in ts: t.start()\n"
                   "for t in ts: t.join()\n"
                   "print('threads', len(ts))\n"},
        {"cpp", "#include <atomic>\n#include <chrono>\n#include <cstdio>\n#include <thread>\n"
                "#include <vector>\n"
                "std::atomic<int> n{0};\n"
                "int main() {\n"
                "    std::vector<std::thread> ts;\n"
                "    for (int i = 0; i < 16; i++)\n"
                "        ts.emplace_back([] { n++; while (n.load() < 16)\n"
                "            std::this_thread::sleep_for(std::chrono::milliseconds(2)); });\n"
                "    for (auto &t : ts) t.join();\n"
                "    printf(\"threads %d\\n\", n.load());\n"
                "}\n"},
    };
    assert_true(runner_fallback_as_mb(256, 16) >= 256 + RUNNER_AS_THREADS * RUNNER_STACK_MB);
    for (size_t i = 0; i < sizeof progs / sizeof progs[0]; i++) {
        reset();
        run_job(progs[i][0], progs[i][1], NULL, 1, 1 << 20, false, 0);
        cJSON *r0 = frame(nframes - 2, "result");
        assert_string_equal(cJSON_GetObjectItem(r0, "status")->valuestring, "ok");
        assert_string_equal(cJSON_GetObjectItem(r0, "stdout")->valuestring, "threads 16\n");
        cJSON_Delete(r0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_runs_and_done, setup, teardown),
        cmocka_unit_test_setup_teardown(test_output_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cap_counts_both_streams, setup, teardown),
        cmocka_unit_test_setup_teardown(test_streaming, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compile_error_skips_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_js_flood_ends_at_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads_under_fallback_address_space, setup, teardown),
        cmocka_unit_test(test_budget_arithmetic),
        cmocka_unit_test_setup_teardown(test_slot_reset_then_out_of_service, setup, teardown),
        cmocka_unit_test_setup_teardown(test_budget_skips_runs, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
