/*
 * test_launcher.c - the sandbox launcher, run as a real process (build/launcher next to this
 * test's directory) against small shell programs that exit, signal, flood, sleep and fork.
 * Uid tests run only as root (as CI does); they are reported as skipped otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cg_util.h"
#include "runreq.h"
#include "serve_fixture.h"
#include "slotcg.h"
#include "slotns.h"

#define TEST_UID 60990

static char launcher[PATH_MAX];
static int g_ns_fds[3] = {-1, -1, -1}; /* given to the launcher as fds 4, 5, 6 when set */

typedef struct {
    runreq_report_t rep;
    char out[65536];
    size_t out_len;
    int64_t elapsed_ms;
} result_t;

static void find_launcher(void)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);

    assert_true(n > 0);
    self[n] = '\0';
    *strrchr(self, '/') = '\0'; /* build/tests */
    *strrchr(self, '/') = '\0'; /* build */
    snprintf(launcher, sizeof launcher, "%s/launcher", self);
    assert_int_equal(access(launcher, X_OK), 0);
}

/* Runs launcher with argv (NULL-terminated, without argv[0]); collects stdout and the report. */
static void run(result_t *r, const char *const *args, const char *input, int kill_after_ms)
{
    int out[2], st[2], in[2];
    const char *argv[64];
    int n = 0;
    pid_t pid;

    memset(r, 0, sizeof *r);
    argv[n++] = launcher;
    for (int i = 0; args[i]; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    assert_int_equal(pipe(out), 0);
    assert_int_equal(pipe(st), 0);
    assert_int_equal(pipe(in), 0);
    int64_t t0 = cg_now_ms();
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* the namespaces to 4, 5, 6 by way of high numbers: they may sit on 0..6 */
        if (g_ns_fds[0] >= 0)
            for (int i = 0; i < 3; i++)
                dup2(g_ns_fds[i], 100 + i);
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(st[1], 3);
        for (int fd = 4; fd < 64; fd++)
            close(fd);
        if (g_ns_fds[0] >= 0)
            for (int i = 0; i < 3; i++) {
                dup2(100 + i, 4 + i);
                close(100 + i);
            }
        execv(launcher, (char **)argv);
        _exit(99);
    }
    close(in[0]);
    close(out[1]);
    close(st[1]);
    if (input)
        (void)!write(in[1], input, strlen(input));
    close(in[1]);
    if (kill_after_ms > 0) {
        usleep((useconds_t)kill_after_ms * 1000);
        kill(pid, SIGTERM);
    }
    ssize_t k;
    while ((k = read(out[0], r->out + r->out_len, sizeof r->out - 1 - r->out_len)) > 0)
        r->out_len += (size_t)k;
    r->out[r->out_len] = '\0';
    char sbuf[1024];
    size_t slen = 0;
    while ((k = read(st[0], sbuf + slen, sizeof sbuf - 1 - slen)) > 0)
        slen += (size_t)k;
    sbuf[slen] = '\0';
    close(out[0]);
    close(st[0]);
    int wst;
    assert_int_equal(waitpid(pid, &wst, 0), pid);
    assert_true(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
    r->elapsed_ms = cg_now_ms() - t0;
    assert_int_equal(runreq_report_decode(sbuf, slen, &r->rep), 0);
}

static int setup(void **state)
{
    (void)state;
    alarm(60);
    if (!launcher[0])
        find_launcher();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    alarm(0);
    return 0;
}

#define SH(...)                                                                                    \
    (const char *const[])                                                                          \
    {                                                                                              \
        "--wall-ms", "5000", "--", "/bin/sh", "-c", __VA_ARGS__, NULL                              \
    }

static void test_exit_code_and_output(void **state)
{
    (void)state;
    result_t r;
    run(&r, SH("echo hello; exit 7"), NULL, 0);
    assert_string_equal(r.out, "hello\n");
    assert_int_equal(r.rep.exit_code, 7);
    assert_int_equal(r.rep.signal, 0);
    assert_false(r.rep.timed_out);
    assert_true(r.rep.maxrss_kb > 0);
}

static void test_stdin_passes(void **state)
{
    (void)state;
    result_t r;
    run(&r, SH("read a; echo got:$a"), "abc\n", 0);
    assert_string_equal(r.out, "got:abc\n");
}

static void test_signal(void **state)
{
    (void)state;
    result_t r;
    run(&r, SH("kill -SEGV $$"), NULL, 0);
    assert_int_equal(r.rep.exit_code, -1);
    assert_int_equal(r.rep.signal, SIGSEGV);
}

static void test_wall_timeout(void **state)
{
    (void)state;
    result_t r;
    const char *const args[] = {"--wall-ms", "300", "--", "/bin/sleep", "10", NULL};
    run(&r, args, NULL, 0);
    assert_true(r.rep.timed_out);
    assert_int_equal(r.rep.signal, SIGKILL);
    assert_true(r.elapsed_ms < 2000);
}

/* Pins this process (and so the launcher and its program) and n busy hogs to one CPU: the
 * program gets a 1/(n+1) share of it. Returns the hogs' pids in hogs[]. */
static void share_one_cpu(pid_t *hogs, int n, cpu_set_t *old)
{
    cpu_set_t one;
    int cpu = 0;

    assert_int_equal(sched_getaffinity(0, sizeof *old, old), 0);
    while (!CPU_ISSET(cpu, old))
        cpu++;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    assert_int_equal(sched_setaffinity(0, sizeof one, &one), 0);
    for (int i = 0; i < n; i++) {
        hogs[i] = fork();
        assert_true(hogs[i] >= 0);
        if (hogs[i] == 0)
            for (;;)
                ;
    }
}

static void stop_hogs(pid_t *hogs, int n, const cpu_set_t *old)
{
    for (int i = 0; i < n; i++) {
        kill(hogs[i], SIGKILL);
        waitpid(hogs[i], NULL, 0);
    }
    sched_setaffinity(0, sizeof *old, old);
}

/* Time a program waited for a CPU is credited to its wall limit (--wait-credit-ms): 0.3 s of
 * CPU sharing one core with 3 hogs needs >= 1.2 s of wall time, which a 600 ms limit alone does
 * not allow; with a credit it ends ok. A sleeping program gains nothing from the credit, nor one
 * whose own child crowds it (a fork bomb must not hold its slot longer). */
static void test_wait_credit(void **state)
{
    (void)state;
    result_t r;
    pid_t hogs[3];
    cpu_set_t old;
    static const char spin[] = "import time\nt = time.process_time()\n"
                               "while time.process_time() - t < 0.3:\n    pass\nprint('done')";
    const char *const credit[] = {
        "--wall-ms",        "600", "--cpu-ms", "5000", "--wait-credit-ms", "30000", "--",
        "/usr/bin/python3", "-c",  spin,       NULL};
    const char *const none[] = {"--wall-ms",        "600", "--cpu-ms", "5000", "--",
                                "/usr/bin/python3", "-c",  spin,       NULL};
    const char *const sleeper[] = {
        "--wall-ms", "300", "--wait-credit-ms", "30000", "--", "/bin/sleep", "10", NULL};
    static const char forked[] = "import os, time\nif os.fork() == 0:\n    while True:\n"
                                 "        pass\nt = time.process_time()\n"
                                 "while time.process_time() - t < 0.3:\n    pass\nprint('done')";
    const char *const parent[] = {
        "--wall-ms",        "600", "--cpu-ms", "5000", "--wait-credit-ms", "30000", "--",
        "/usr/bin/python3", "-c",  forked,     NULL};

    if (access("/usr/bin/python3", X_OK) != 0)
        skip();
    share_one_cpu(hogs, 3, &old);
    run(&r, credit, NULL, 0);
    int64_t credited_ms = r.rep.wall_ms;
    bool credited_ok = !r.rep.timed_out && r.rep.exit_code == 0 && !strcmp(r.out, "done\n");
    run(&r, none, NULL, 0);
    bool none_timed_out = r.rep.timed_out;
    run(&r, parent, NULL, 0);
    bool parent_timed_out = r.rep.timed_out;
    run(&r, sleeper, NULL, 0);
    stop_hogs(hogs, 3, &old);
    print_message("with the credit: wall %lld ms\n", (long long)credited_ms);
    assert_true(credited_ok);
    assert_true(credited_ms > 600); /* it did run past its limit */
    assert_true(none_timed_out);
    assert_true(parent_timed_out);
    assert_true(r.rep.timed_out);
    assert_true(r.elapsed_ms < 5000);
}

static void test_cpu_limit(void **state)
{
    (void)state;
    result_t r;
    const char *const args[] = {
        "--wall-ms", "8000", "--cpu-ms", "500", "--", "/bin/sh", "-c", "while :; do :; done", NULL};
    run(&r, args, NULL, 0);
    assert_false(r.rep.timed_out);
    assert_true(r.rep.signal == SIGXCPU || r.rep.signal == SIGKILL);
    assert_true(r.rep.cpu_ms >= 500);
}

static void test_address_space_limit(void **state)
{
    (void)state;
    result_t r;
    /* python3 cannot allocate 1 GiB under a 100 MiB RLIMIT_AS */
    const char *const args[] = {"--wall-ms", "5000",
                                "--as-mb",   "100",
                                "--env",     "PATH=/usr/bin:/bin",
                                "--",        "python3",
                                "-c",        "x = bytearray(1 << 30)",
                                NULL};
    run(&r, args, NULL, 0);
    assert_int_equal(r.rep.exit_code, 1);
}

static void test_sigterm_kills_run(void **state)
{
    (void)state;
    result_t r;
    run(&r, SH("sleep 30"), NULL, 300);
    assert_true(r.rep.killed);
    assert_int_equal(r.rep.signal, SIGKILL);
    assert_true(r.elapsed_ms < 3000);
}

static void test_leftovers_killed(void **state)
{
    (void)state;
    result_t r;
    /* A background child and a setsid'ed double fork write their pids, then outlive main. */
    run(&r, SH("sleep 60 & echo $!; (setsid sh -c 'sleep 60 & echo $!' &); sleep 0.2; exit 0"),
        NULL, 0);
    assert_int_equal(r.rep.exit_code, 0);
    int a = 0, b = 0;
    assert_int_equal(sscanf(r.out, "%d\n%d", &a, &b), 2);
    usleep(100000);
    assert_int_equal(kill(a, 0), -1);
    assert_int_equal(kill(b, 0), -1);
    assert_true(r.elapsed_ms < 3000);
}

static void test_environment_is_exact(void **state)
{
    (void)state;
    result_t r;
    setenv("CG_SECRET_SHOULD_NOT_LEAK", "x", 1);
    const char *const args[] = {"--wall-ms",          "5000", "--env",        "A=1", "--env",
                                "PATH=/usr/bin:/bin", "--",   "/usr/bin/env", NULL};
    run(&r, args, NULL, 0);
    assert_string_equal(r.out, "A=1\nPATH=/usr/bin:/bin\n");
}

static void test_exec_error_reported(void **state)
{
    (void)state;
    result_t r;
    const char *const args[] = {"--wall-ms", "1000", "--", "/nonexistent/prog", NULL};
    run(&r, args, NULL, 0);
    char stage[64];
    runreq_report_stage(&r.rep, stage, sizeof stage);
    assert_string_equal(stage, "exec");
    assert_non_null(strstr(r.rep.error, "No such file"));
}

static void test_fds_closed(void **state)
{
    (void)state;
    result_t r;
    int extra = open("/dev/null", O_RDONLY); /* not CLOEXEC: inherited by the launcher */
    run(&r, SH("ls /proc/self/fd | sort -n | tr '\\n' ' '"), NULL, 0);
    close(extra);
    /* 0 1 2 and the fd of ls's own directory listing, nothing else */
    assert_string_equal(r.out, "0 1 2 3 ");
}

static void test_flood_passes_through(void **state)
{
    (void)state;
    result_t r;
    run(&r, SH("head -c 60000 /dev/zero | tr '\\0' x"), NULL, 0);
    assert_int_equal(r.out_len, 60000);
}

static void test_uid_drop_and_fork_bomb(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    result_t r;
    const char *const id[] = {"--wall-ms", "5000", "--uid",       "60990", "--gid",
                              "60990",     "--",   "/usr/bin/id", "-u",    NULL};
    run(&r, id, NULL, 0);
    assert_string_equal(r.out, "60990\n");
    const char *const bomb[] = {"--wall-ms", "3000",  "--uid",
                                "60990",     "--gid", "60990",
                                "--nproc",   "40",    "--",
                                "/bin/bash", "-c",    "f(){ f | f & }; f 2>/dev/null; sleep 1",
                                NULL};
    run(&r, bomb, NULL, 0);
    assert_true(r.elapsed_ms < 6000);
    usleep(100000);
    /* nothing of the uid survives */
    FILE *p = popen("ps -eo ruid= | grep -c '^ *60990$'", "r");
    char line[32] = "";
    assert_non_null(fgets(line, sizeof line, p));
    pclose(p);
    assert_int_equal(atoi(line), 0);
}

/* The seccomp filter: no new namespaces (the kernel would allow an unprivileged user namespace
 * here), no ptrace; ordinary programs still run. */
static void test_seccomp_filter(void **state)
{
    (void)state;
    result_t r;
    run(&r,
        SH("unshare -U true 2>/dev/null; echo userns=$?; "
           "unshare -n true 2>/dev/null; echo netns=$?; echo fine"),
        NULL, 0);
    assert_int_equal(r.rep.exit_code, 0);
    assert_string_equal(r.out, "userns=1\nnetns=1\nfine\n");
    const char *const py[] = {"--wall-ms",
                              "5000",
                              "--",
                              "/usr/bin/python3",
                              "-c",
                              "import ctypes, os\n"
                              "libc = ctypes.CDLL(None, use_errno=True)\n"
                              "print(libc.ptrace(16, os.getppid(), 0, 0), ctypes.get_errno())\n",
                              NULL};
    run(&r, py, NULL, 0);
    assert_string_equal(r.out, "-1 1\n"); /* PTRACE_ATTACH: EPERM */
}

/* Each slot's box: private /tmp (not the host's, not the other slot's, emptied after each run),
 * a network with nothing but a loopback, a pid namespace of its own with a /proc that shows the
 * run's processes only, a minimal read-only view of the system, the slot's area at /box, its
 * own devpts with few terminals, and nothing left of a SysV object given away with IPC_SET. */
static void test_slot_namespaces(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    slotns_t ns[2];
    char err[256], box_dir[PATH_MAX], root[] = "/tmp/cg-box-test-XXXXXX";
    static char areas[2][PATH_MAX];
    assert_non_null(mkdtemp(root));
    /* This test process gets a mount namespace of its own: the areas vanish with it. */
    assert_int_equal(slotns_prepare(root, 2, 32, areas, box_dir, sizeof box_dir, err, sizeof err),
                     0);
    slotns_opts_t so = {.box_dir = box_dir, .areas = areas, .uid_base = 60993, .extra_ro = NULL};
    if (slotns_create(ns, 2, &so, err, sizeof err) != 0)
        print_message("slotns_create: %s\n", err);
    assert_int_equal(slotns_create(ns, 2, &so, err, sizeof err), 0);
    char job[PATH_MAX + 8];
    snprintf(job, sizeof job, "%s/job", areas[0]);
    assert_int_equal(mkdir(job, 0777), 0);
    assert_int_equal(chmod(job, 0777), 0);
    result_t r;
#define SLOT(uid, cmd)                                                                             \
    (const char *const[]){"--wall-ms", "5000", "--uid",   uid,  "--gid", uid, "--ns-fds",          \
                          "4",         "--",   "/bin/sh", "-c", cmd,     NULL}
    g_ns_fds[0] = ns[0].net, g_ns_fds[1] = ns[0].ipc, g_ns_fds[2] = ns[0].mnt;
    run(&r,
        SLOT("60993", "echo hi > /tmp/cg-slot-test && ls /tmp && "
                      "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' && "
                      "ls /proc | grep -c '^[0-9]' && ls / | tr '\\n' ' ' && echo && "
                      "(ls /box >/dev/null 2>&1 || echo box-unlisted) && "
                      "touch /box/job/f && ls /box/job && "
                      "(touch /usr/x 2>/dev/null || echo usr-ro) && "
                      "(ls /home /root /run /work 2>/dev/null || echo no-host-dirs) && "
                      "grep -c . /etc/passwd"),
        NULL, 0);
    /* /proc: sh, ls and grep - the run's own processes and nothing else */
    const char *want = "cg-slot-test\nlo\n3\nbin box dev etc lib lib32 lib64 proc sbin tmp usr "
                       "var \nbox-unlisted\nf\nusr-ro\nno-host-dirs\n3\n";
    if (strcmp(r.out, want) != 0) {
        print_message("report: exit %d signal %d error \"%s\"\nout: %s\n", r.rep.exit_code,
                      r.rep.signal, r.rep.error, r.out);
    }
    assert_string_equal(r.out, want);
    assert_int_equal(access("/tmp/cg-slot-test", F_OK), -1); /* not the host's /tmp */
    g_ns_fds[0] = ns[1].net, g_ns_fds[1] = ns[1].ipc, g_ns_fds[2] = ns[1].mnt;
    run(&r, SLOT("60994", "ls -A /tmp | wc -l; ls -A /box | wc -l"), NULL, 0);
    assert_string_equal(r.out, "0\n0\n"); /* not the other slot's /tmp nor its area */
    /* A SysV segment given away to root (IPC_SET) and a file chowned away: all gone after the
     * run, whoever owns them; at most 8 terminals. */
    const char *const py[] = {
        "--wall-ms",
        "8000",
        "--uid",
        "60993",
        "--gid",
        "60993",
        "--ns-fds",
        "4",
        "--",
        "/usr/bin/python3",
        "-c",
        "import ctypes, os\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "shm = libc.shmget(0x5eed, 4096, 0o1600)\n"
        "class P(ctypes.Structure): _fields_ = [('key', ctypes.c_int), ('uid', ctypes.c_uint),"
        " ('gid', ctypes.c_uint), ('cuid', ctypes.c_uint), ('cgid', ctypes.c_uint),"
        " ('mode', ctypes.c_ushort), ('p1', ctypes.c_ushort), ('seq', ctypes.c_ushort),"
        " ('p2', ctypes.c_ushort), ('r1', ctypes.c_ulong), ('r2', ctypes.c_ulong)]\n"
        "class D(ctypes.Structure): _fields_ = [('perm', P), ('rest', ctypes.c_char * 128)]\n"
        "d = D(); libc.shmctl(shm, 2, ctypes.byref(d))\n"
        "d.perm.uid = 0; d.perm.mode = 0o666\n"
        "print('ipc_set', libc.shmctl(shm, 1, ctypes.byref(d)))\n"
        "n = 0\n"
        "fds = []\n"
        "try:\n"
        "    for i in range(20): fds.append(os.open('/dev/ptmx', os.O_RDWR)); n += 1\n"
        "except OSError: pass\n"
        "print('ptys', n)\n",
        NULL};
    g_ns_fds[0] = ns[0].net, g_ns_fds[1] = ns[0].ipc, g_ns_fds[2] = ns[0].mnt;
    run(&r, py, NULL, 0);
    assert_string_equal(r.out, "ipc_set 0\nptys 8\n");
    run(&r, SLOT("60993", "ls -A /tmp | wc -l; tail -n +2 /proc/sysvipc/shm | wc -l"), NULL, 0);
    assert_string_equal(r.out, "0\n0\n"); /* the slot's own, emptied after its last run */
#undef SLOT
    g_ns_fds[0] = g_ns_fds[1] = g_ns_fds[2] = -1;
    slotns_close(ns, 2);
    assert_int_equal(ns[0].net, -1);
}

/* A memory cgroup caps the run as a whole: four children of 24 MiB each in a 48 MiB run. */
static void test_cgroup_caps_the_whole_run(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    slotcg_t cg[1];
    char err[256];
    int version = 0;
    assert_int_equal(slotcg_create(cg, 1, 60995, &version, err, sizeof err), 0);
    assert_true(version == 1 || version == 2);
    const char *const hog[] = {
        "--wall-ms",
        "8000",
        "--uid",
        "60995",
        "--gid",
        "60995",
        "--cgroup",
        cg[0].dir,
        "--cgroup-mb",
        "48",
        "--",
        "/usr/bin/python3",
        "-c",
        "import os, time\n"
        "for i in range(4):\n"
        "    if os.fork() == 0:\n"
        "        b = bytearray(b'x') * (24 << 20); time.sleep(2); os._exit(0)\n"
        "print(sum(os.wait()[1] == 0 for i in range(4)))\n",
        NULL};
    result_t r;
    run(&r, hog, NULL, 0);
    assert_true(r.rep.oom_killed);
    assert_string_not_equal(r.out, "4\n");
    int64_t hog_peak_kb = r.rep.peak_kb; /* the cgroup's peak: the run reached its limit */
    assert_true(hog_peak_kb > 40 << 10 && hog_peak_kb <= 48 << 10);
    const char *const small[] = {"--wall-ms", "5000",      "--uid",   "60995",       "--gid",
                                 "60995",     "--cgroup",  cg[0].dir, "--cgroup-mb", "48",
                                 "--",        "/bin/echo", "fits",    NULL};
    run(&r, small, NULL, 0);
    assert_false(r.rep.oom_killed); /* the count is per run */
    assert_string_equal(r.out, "fits\n");
    assert_true(r.rep.peak_kb > 0 && r.rep.peak_kb < hog_peak_kb); /* so is the peak */
    slotcg_remove(cg, 1);
    assert_int_equal(access(cg[0].dir, F_OK), -1);
}

/* Serve mode: one launcher takes runs over a SOCK_SEQPACKET socket; a stop request names its
 * run (a stale one is ignored); EOF on the socket ends it. */
static pid_t g_server;

/* Sends one request (len bytes of msg) with the run's four descriptors; collects stdout and the
 * report. */
static void serve_send(int ctl, const void *msg, size_t len, char *out, size_t outlen,
                       long stop_seq_after_200ms, long stale_seq, runreq_report_t *rep)
{
    int ours[4];
    serve_fixture_send(ctl, msg, len, ours);
    close(ours[0]); /* no input */
    if (stale_seq >= 0 || stop_seq_after_200ms >= 0) {
        usleep(200000);
        if (stale_seq >= 0)
            assert_int_equal(
                sigqueue(g_server, SIGRTMIN, (union sigval){.sival_int = (int)stale_seq}), 0);
        usleep(200000);
        if (stop_seq_after_200ms >= 0)
            assert_int_equal(sigqueue(g_server, SIGRTMIN,
                                      (union sigval){.sival_int = (int)stop_seq_after_200ms}),
                             0);
    }
    ssize_t k;
    size_t got = 0;
    while ((k = read(ours[1], out + got, outlen - 1 - got)) > 0)
        got += (size_t)k;
    out[got] = '\0';
    char sbuf[1024];
    size_t slen = 0;
    while ((k = read(ours[3], sbuf + slen, sizeof sbuf - 1 - slen)) > 0) /* EOF: the run is over */
        slen += (size_t)k;
    sbuf[slen] = '\0';
    close(ours[1]);
    close(ours[2]);
    close(ours[3]);
    assert_int_equal(runreq_report_decode(sbuf, slen, rep), 0);
}

/* A served run of sh -c cmd with run number seq. */
static void serve_run(int ctl, long seq, int wall_ms, const char *cmd, char *out, size_t outlen,
                      long stop_seq_after_200ms, long stale_seq, runreq_report_t *rep)
{
    runreq_t rq;
    unsigned char msg[4096];

    runreq_init(&rq);
    rq.seq = seq;
    rq.wall_ms = wall_ms;
    rq.argv[rq.nargv++] = "/bin/sh";
    rq.argv[rq.nargv++] = "-c";
    rq.argv[rq.nargv++] = cmd;
    long n = runreq_encode(&rq, msg, sizeof msg);
    assert_true(n > 0 && (size_t)n <= sizeof msg);
    serve_send(ctl, msg, (size_t)n, out, outlen, stop_seq_after_200ms, stale_seq, rep);
}

static void test_serve_mode(void **state)
{
    (void)state;
    int ctl;
    g_server = serve_fixture_start(launcher, &ctl);
    char out[256];
    runreq_report_t rep;
    serve_run(ctl, 1, 5000, "echo one", out, sizeof out, -1, -1, &rep);
    assert_string_equal(out, "one\n");
    assert_int_equal(rep.exit_code, 0);
    assert_string_equal(rep.error, "");
    /* a stop for another run is ignored; one for this run stops it at once */
    int64_t t0 = cg_now_ms();
    serve_run(ctl, 2, 8000, "echo started; sleep 6; echo late", out, sizeof out, 2, 1, &rep);
    assert_string_equal(out, "started\n");
    assert_true(rep.killed);
    assert_true(cg_now_ms() - t0 < 4000);
    /* the same launcher serves on; a late stop for run 2 does not touch run 3 */
    assert_int_equal(sigqueue(g_server, SIGRTMIN, (union sigval){.sival_int = 2}), 0);
    serve_run(ctl, 3, 5000, "sleep 0.3; echo three", out, sizeof out, -1, -1, &rep);
    assert_string_equal(out, "three\n");
    assert_false(rep.killed);
    /* a malformed request, one of an old version, one longer than a datagram may be and one the
     * launcher refuses (a drop to uid 0) each get an error report; it serves on */
    static unsigned char junk[RUNREQ_INLINE_MAX + 64];
    unsigned char good[512];
    runreq_t rq;
    runreq_init(&rq);
    rq.wall_ms = 1000;
    rq.argv[rq.nargv++] = "/bin/true";
    long n = runreq_encode(&rq, good, sizeof good);
    assert_true(n > 8);
    memcpy(junk, good, (size_t)n);
    struct {
        size_t len;
        int byte; /* overwritten with 0x7f, or -1 */
        const char *want;
    } bad[] = {{(size_t)n - 1, -1, "truncated"},
               {(size_t)n, 4, "not a version"},
               {sizeof junk, -1, "not a version"}, /* cut at the datagram: read as empty */
               {3, -1, "not a version"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memcpy(junk, good, (size_t)n);
        if (bad[i].byte >= 0)
            junk[bad[i].byte] = 0x7f;
        if (bad[i].len == sizeof junk)
            memset(junk, 'x', sizeof junk);
        serve_send(ctl, junk, bad[i].len, out, sizeof out, -1, -1, &rep);
        assert_non_null(strstr(rep.error, "request: "));
        assert_non_null(strstr(rep.error, bad[i].want));
    }
    if (geteuid() == 0) {
        rq.ids = true; /* uid/gid 0 */
        n = runreq_encode(&rq, good, sizeof good);
        serve_send(ctl, good, (size_t)n, out, sizeof out, -1, -1, &rep);
        assert_string_equal(rep.error, "request: uid/gid 0 is not a sandbox identity");
    }
    serve_run(ctl, 4, 5000, "echo four", out, sizeof out, -1, -1, &rep);
    assert_string_equal(out, "four\n");
    assert_int_equal(rep.exit_code, 0);
    close(ctl); /* EOF: it ends */
    int wst;
    assert_int_equal(waitpid(g_server, &wst, 0), g_server);
    assert_true(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
}

static void test_usage_errors(void **state)
{
    (void)state;
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "%s -- /bin/true 2>/dev/null", launcher);
    assert_int_equal(WEXITSTATUS(system(cmd)), 2); /* no --wall-ms */
    snprintf(cmd, sizeof cmd, "%s --wall-ms 10 2>/dev/null", launcher);
    assert_int_equal(WEXITSTATUS(system(cmd)), 2); /* no program */
    if (geteuid() == 0) { /* a drop to root is refused before anything runs */
        snprintf(cmd, sizeof cmd, "%s --wall-ms 1000 --uid 0 --gid 0 -- /bin/true 2>/dev/null",
                 launcher);
        assert_int_equal(WEXITSTATUS(system(cmd)), 2);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exit_code_and_output, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stdin_passes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wall_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_credit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cpu_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_address_space_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigterm_kills_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leftovers_killed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_environment_is_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_error_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fds_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flood_passes_through, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uid_drop_and_fork_bomb, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seccomp_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slot_namespaces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cgroup_caps_the_whole_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_serve_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_usage_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
