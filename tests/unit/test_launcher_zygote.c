/*
 * test_launcher_zygote.c - build/launcher-py in serve mode, as a real process: Python runs fork
 * from its pre-initialised interpreter (executors/launcher_zygote.c) and behave as an exec'd
 * `python3 -E -s -u main.py`; runs it must not take are exec'd. Built only where
 * build/launcher-py is (python3-config --embed works: Makefile).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cg_util.h"
#include "runreq.h"
#include "serve_fixture.h"

#define TEST_UID 60991

static char launcher[PATH_MAX];
static char dir[] = "/tmp/cg-zygote-test-XXXXXX";
static char home[PATH_MAX + 8];
static pid_t server = -1;
static int ctl = -1;

typedef struct {
    runreq_report_t rep;
    char out[8192];
    char err[8192];
} result_t;

/* Everything a pipe holds until EOF, NUL-terminated (at most len - 1 bytes kept): its length. */
static size_t drain(int fd, char *buf, size_t len)
{
    size_t got = 0;
    ssize_t k;

    while ((k = read(fd, buf + got, len - 1 - got)) > 0)
        got += (size_t)k;
    buf[got] = '\0';
    close(fd);
    return got;
}

/* One served run of rq with input on stdin; stdout and stderr are collected (small). */
static void serve(const runreq_t *rq, const char *input, long stop_after_ms, result_t *r)
{
    unsigned char msg[8192];
    long n = runreq_encode(rq, msg, sizeof msg);
    int ours[4];

    assert_true(n > 0 && (size_t)n <= sizeof msg);
    serve_fixture_send(ctl, msg, (size_t)n, ours);
    if (input)
        assert_true(cg_write_all(ours[0], input, strlen(input)) == 0);
    close(ours[0]);
    if (stop_after_ms >= 0) {
        usleep((useconds_t)stop_after_ms * 1000);
        assert_int_equal(sigqueue(server, SIGRTMIN, (union sigval){.sival_int = (int)rq->seq}), 0);
    }
    drain(ours[1], r->out, sizeof r->out);
    drain(ours[2], r->err, sizeof r->err);
    char sbuf[1024];
    size_t slen = drain(ours[3], sbuf, sizeof sbuf);
    assert_int_equal(runreq_report_decode(sbuf, slen, &r->rep), 0);
}

static void write_main(const char *code)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/main.py", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(code, f);
    fclose(f);
    chmod(path, 0644);
}

/* A Python run of main.py as the runner asks for one (runner_step.c). */
static void py_request(runreq_t *rq, long seq, bool zygote)
{
    runreq_init(rq);
    rq->seq = seq;
    rq->wall_ms = 10000;
    rq->cwd = dir;
    rq->zygote = zygote;
    rq->argv[rq->nargv++] = "python3";
    rq->argv[rq->nargv++] = "-E";
    rq->argv[rq->nargv++] = "-s";
    rq->argv[rq->nargv++] = "-u";
    rq->argv[rq->nargv++] = "main.py";
    rq->env[rq->nenv++] = "PATH=/usr/local/bin:/usr/bin:/bin";
    rq->env[rq->nenv++] = home;
    rq->env[rq->nenv++] = "LANG=C.UTF-8";
}

static int setup(void **state)
{
    (void)state;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);

    assert_true(n > 0);
    self[n] = '\0';
    *strrchr(self, '/') = '\0'; /* build/tests */
    *strrchr(self, '/') = '\0'; /* build */
    snprintf(launcher, sizeof launcher, "%s/launcher-py", self);
    assert_int_equal(access(launcher, X_OK), 0);
    assert_non_null(mkdtemp(dir));
    chmod(dir, 0755);
    snprintf(home, sizeof home, "HOME=%s", dir);
    server = serve_fixture_start(launcher, &ctl);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    int wst;
    char cmd[PATH_MAX + 16];

    close(ctl); /* EOF: the launcher ends */
    assert_int_equal(waitpid(server, &wst, 0), server);
    assert_true(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static void test_probe(void **state)
{
    (void)state;
    char cmd[PATH_MAX + 32];
    snprintf(cmd, sizeof cmd, "%s --zygote-probe", launcher);
    assert_int_equal(system(cmd), 0);
}

/* A zygote run: the launcher's image (no exec), yet python3's argv, path, file and name. */
static void test_zygote_run_is_main_py(void **state)
{
    (void)state;
    runreq_t rq;
    result_t r;
    char want[PATH_MAX * 3];

    write_main("import os, sys\n"
               "print(os.readlink('/proc/self/exe').rsplit('/', 1)[1])\n"
               "print(__name__, sys.argv, sys.path[0], __file__)\n"
               "print(open('/proc/self/comm').read().strip(), sorted(os.environ))\n"
               "print(sys.orig_argv, sys.flags.ignore_environment, sys.flags.no_user_site)\n"
               "print(sorted(os.listdir('/proc/self/fd')))\n"
               "print(open('/proc/self/cmdline', 'rb').read())\n"
               "print(open('/proc/self/environ', 'rb').read().split(b'\\0')[1:])\n");
    py_request(&rq, 1, true);
    rq.argv[rq.nargv++] = "x y";
    serve(&rq, NULL, -1, &r);
    assert_string_equal(r.rep.error, "");
    assert_int_equal(r.rep.exit_code, 0);
    snprintf(want, sizeof want,
             "launcher-py\n"
             "__main__ ['main.py', 'x y'] %s %s/main.py\n"
             "python3 ['HOME', 'LANG', 'PATH']\n"
             "['python3', '-E', '-s', '-u', 'main.py', 'x y'] 1 1\n"
             "['0', '1', '2', '3']\n"
             "b'python3\\x00-E\\x00-s\\x00-u\\x00main.py\\x00x y\\x00'\n"
             "[b'%s', b'LANG=C.UTF-8', b'']\n",
             dir, dir, home);
    assert_string_equal(r.out, want);
}

/* Without the request's flag, or with another command line, the run is exec'd. */
static void test_other_runs_are_execd(void **state)
{
    (void)state;
    runreq_t rq;
    result_t r;

    write_main("import os, sys\nprint(os.readlink('/proc/self/exe').rsplit('/', 1)[1], "
               "sys.flags.isolated)\n");
    py_request(&rq, 2, false);
    serve(&rq, NULL, -1, &r);
    assert_string_equal(r.out, "python3.11 0\n");
    py_request(&rq, 3, true);
    rq.argv[1] = "-I";
    serve(&rq, NULL, -1, &r);
    assert_string_equal(r.out, "python3.11 1\n");
    py_request(&rq, 4, true);
    serve(&rq, NULL, -1, &r);
    assert_string_equal(r.out, "launcher-py 0\n");
}

/* Exit codes, tracebacks, KeyboardInterrupt (by SIGINT), stdin, atexit. */
static void test_endings_and_stdin(void **state)
{
    (void)state;
    runreq_t rq;
    result_t r;

    write_main("import atexit, sys\natexit.register(print, 'bye')\n"
               "print(input('Q? ') + '!')\nsys.exit(5)\n");
    py_request(&rq, 5, true);
    serve(&rq, "hi\n", -1, &r);
    assert_string_equal(r.out, "Q? hi!\nbye\n");
    assert_int_equal(r.rep.exit_code, 5);
    write_main("def f():\n    1/0\nf()\n");
    py_request(&rq, 6, true);
    serve(&rq, NULL, -1, &r);
    assert_int_equal(r.rep.exit_code, 1);
    assert_non_null(strstr(r.err, "main.py\", line 3, in <module>"));
    assert_non_null(strstr(r.err, "ZeroDivisionError: division by zero"));
    write_main("raise KeyboardInterrupt\n");
    py_request(&rq, 7, true);
    serve(&rq, NULL, -1, &r);
    assert_int_equal(r.rep.signal, SIGINT);
    assert_non_null(strstr(r.err, "KeyboardInterrupt"));
}

/* Each run starts from the clean zygote: nothing of the last one, random afresh. */
static void test_runs_start_clean(void **state)
{
    (void)state;
    runreq_t rq;
    result_t a, b;

    write_main("import builtins, random, sys\n"
               "print(hasattr(builtins, 'LEFT'), 'json' in sys.modules, random.random())\n"
               "builtins.LEFT = 1\nimport json\n");
    py_request(&rq, 8, true);
    serve(&rq, NULL, -1, &a);
    py_request(&rq, 9, true);
    serve(&rq, NULL, -1, &b);
    assert_true(!strncmp(a.out, "False False 0.", 14));
    assert_true(!strncmp(b.out, "False False 0.", 14));
    assert_string_not_equal(a.out, b.out);
}

/* The wall clock and a stop request end a zygote run as any run. */
static void test_timeout_and_stop(void **state)
{
    (void)state;
    runreq_t rq;
    result_t r;

    write_main("import time\nprint('started')\ntime.sleep(30)\n");
    py_request(&rq, 10, true);
    rq.wall_ms = 500;
    serve(&rq, NULL, -1, &r);
    assert_true(r.rep.timed_out);
    assert_string_equal(r.out, "started\n");
    py_request(&rq, 11, true);
    serve(&rq, NULL, 300, &r);
    assert_true(r.rep.killed);
}

/* As root: the run drops to the slot uid before main.py is touched. */
static void test_uid_drop(void **state)
{
    (void)state;
    runreq_t rq;
    result_t r;
    char want[64];

    if (geteuid() != 0)
        skip();
    write_main("import os\nprint(os.getuid(), os.geteuid(), os.getgid(), os.getgroups())\n");
    py_request(&rq, 12, true);
    rq.ids = true;
    rq.uid = rq.gid = TEST_UID;
    serve(&rq, NULL, -1, &r);
    snprintf(want, sizeof want, "%d %d %d []\n", TEST_UID, TEST_UID, TEST_UID);
    assert_string_equal(r.out, want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_probe),
        cmocka_unit_test(test_zygote_run_is_main_py),
        cmocka_unit_test(test_other_runs_are_execd),
        cmocka_unit_test(test_endings_and_stdin),
        cmocka_unit_test(test_runs_start_clean),
        cmocka_unit_test(test_timeout_and_stop),
        cmocka_unit_test(test_uid_drop),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
