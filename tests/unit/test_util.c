/*
 * test_util.c - the shared helpers of cg_util.h: secret comparison, random tokens, the
 * monotonic clock, and the I/O loops, including retry after EINTR and partial transfers.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cg_util.h"

static void test_secret_equal(void **state)
{
    (void)state;
    assert_true(cg_secret_equal("s3cret-token", "s3cret-token"));
    assert_false(cg_secret_equal("s3cret-tokeN", "s3cret-token"));
    assert_false(cg_secret_equal("X3cret-token", "s3cret-token"));
    assert_false(cg_secret_equal("s3cret", "s3cret-token"));        /* prefix */
    assert_false(cg_secret_equal("s3cret-token-", "s3cret-token")); /* longer */
    assert_false(cg_secret_equal("", "s3cret-token"));
    assert_false(cg_secret_equal(NULL, "s3cret-token"));
    assert_false(cg_secret_equal("x", NULL));
    /* An empty expected secret never matches: a missing token must not open the door. */
    assert_false(cg_secret_equal("", ""));
    /* A byte that only differs after a NUL-equivalent position. */
    assert_false(cg_secret_equal("ab", "a\x80"));
}

static bool is_hex(const char *s)
{
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

static void test_random_hex(void **state)
{
    (void)state;
    char a[129], b[129];

    memset(a, 'X', sizeof a);
    assert_int_equal(cg_random_hex(a, 16), 0);
    assert_int_equal(strlen(a), 32);
    assert_true(is_hex(a));
    assert_int_equal(a[33], 'X'); /* nothing written past the terminator */
    assert_int_equal(cg_random_hex(b, 16), 0);
    assert_string_not_equal(a, b);
    assert_int_equal(cg_random_hex(a, 64), 0);
    assert_int_equal(strlen(a), 128);
    assert_true(is_hex(a));
    assert_int_equal(cg_random_hex(a, 0), 0);
    assert_string_equal(a, "");
    assert_int_equal(cg_random_hex(a, 65), -EINVAL);
    /* Both nibbles vary: over many draws every hex digit shows up in both positions. */
    int seen_hi = 0, seen_lo = 0;
    for (int i = 0; i < 200; i++) {
        assert_int_equal(cg_random_hex(a, 8), 0);
        for (int k = 0; k < 16; k += 2) {
            seen_hi |= 1 << (a[k] <= '9' ? a[k] - '0' : a[k] - 'a' + 10);
            seen_lo |= 1 << (a[k + 1] <= '9' ? a[k + 1] - '0' : a[k + 1] - 'a' + 10);
        }
    }
    assert_int_equal(seen_hi, 0xFFFF);
    assert_int_equal(seen_lo, 0xFFFF);
}

static void test_now_ms(void **state)
{
    (void)state;
    struct timespec d = {0, 30 * 1000 * 1000};
    int64_t t0 = cg_now_ms();

    assert_true(t0 > 0);
    while (nanosleep(&d, &d) != 0 && errno == EINTR)
        ;
    int64_t t1 = cg_now_ms();
    assert_true(t1 - t0 >= 29);
    assert_true(t1 - t0 < 5000);
    assert_true(cg_now_ms() >= t1);
}

#define BIG (4u * 1024u * 1024u)

typedef struct {
    int fd;
    unsigned char *buf;
    size_t len;
    size_t chunk;      /* write in pieces of this size, sleeping a little between them */
    bool take_signals; /* the writer, not the reader, is interrupted */
    int rc;
} writer_t;

static void block_tick(bool block)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(block ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL);
}

static void *writer_main(void *arg)
{
    writer_t *w = arg;

    block_tick(!w->take_signals);
    for (size_t off = 0; off < w->len; off += w->chunk) {
        size_t n = w->len - off < w->chunk ? w->len - off : w->chunk;
        w->rc = cg_write_all(w->fd, w->buf + off, n);
        if (w->rc != 0)
            break;
        if (w->chunk < w->len)
            usleep(2000);
    }
    close(w->fd);
    return NULL;
}

static volatile sig_atomic_t ticks;

static void on_tick(int sig)
{
    (void)sig;
    ticks++;
}

/* A large transfer through a pipe: the writer's write() is partial (the pipe holds 64 KiB),
 * the reader's read() is partial and interrupted by a 1 ms timer (SIGUSR1, no SA_RESTART). */
static void test_io_loops(void **state)
{
    (void)state;
    int p[2];
    pthread_t th;
    struct sigaction sa;
    struct sigevent sev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1};
    struct itimerspec it = {{0, 1000000}, {0, 1000000}}, off = {{0, 0}, {0, 0}};
    timer_t timer;
    unsigned char *src = malloc(BIG), *dst = malloc(BIG + 16);

    for (size_t i = 0; i < BIG; i++)
        src[i] = (unsigned char)(i * 7 + (i >> 11));
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_tick; /* no SA_RESTART: read() fails with EINTR */
    sigaction(SIGUSR1, &sa, NULL);
    assert_int_equal(timer_create(CLOCK_MONOTONIC, &sev, &timer), 0);

    /* One big write interrupted by signals: write() returns partial counts (a blocking pipe
     * write stops early when a signal arrives after some bytes went through). The reader
     * blocks the signal for this part and reads slowly so the writer spends its time blocked. */
    assert_int_equal(pipe(p), 0);
    writer_t w = {p[1], src, BIG, BIG, true, -1};
    ticks = 0;
    timer_settime(timer, 0, &it, NULL);
    block_tick(true);
    assert_int_equal(pthread_create(&th, NULL, writer_main, &w), 0);
    size_t got = 0;
    while (got < BIG) {
        usleep(500);
        ssize_t k = cg_read_full(p[0], dst + got, 256 * 1024);
        assert_true(k > 0);
        got += (size_t)k;
    }
    ssize_t n = cg_read_full(p[0], dst + got, 16); /* EOF after the last byte */
    assert_int_equal(n, 0);
    n = (ssize_t)got;
    pthread_join(th, NULL);
    block_tick(false);
    assert_true(ticks > 0);
    assert_int_equal(w.rc, 0);
    assert_int_equal(n, BIG);
    assert_memory_equal(src, dst, BIG);
    close(p[0]);

    /* Many small, slow writes: the reader sleeps in read() and catches alarms there. */
    assert_int_equal(pipe(p), 0);
    w = (writer_t){p[1], src, 64 * 1024, 1000, false, -1};
    ticks = 0;
    assert_int_equal(pthread_create(&th, NULL, writer_main, &w), 0);
    n = cg_read_full(p[0], dst, 64 * 1024);
    pthread_join(th, NULL);
    timer_settime(timer, 0, &off, NULL);
    timer_delete(timer);
    assert_int_equal(n, 64 * 1024);
    assert_memory_equal(src, dst, 64 * 1024);
    assert_true(ticks > 0); /* the loop really was interrupted */
    close(p[0]);
    signal(SIGUSR1, SIG_DFL);
    free(src);
    free(dst);
}

static void test_io_errors(void **state)
{
    (void)state;
    int p[2];
    char buf[8];

    assert_int_equal(cg_write_all(-1, "x", 1), -EBADF);
    assert_int_equal(cg_read_full(-1, buf, sizeof buf), -EBADF);
    assert_int_equal(cg_write_all(-1, "x", 0), 0); /* nothing to do */
    assert_int_equal(pipe(p), 0);
    close(p[0]);
    signal(SIGPIPE, SIG_IGN);
    assert_int_equal(cg_write_all(p[1], "x", 1), -EPIPE);
    close(p[1]);
    assert_int_equal(pipe(p), 0);
    assert_int_equal(cg_write_all(p[1], "abc", 3), 0);
    close(p[1]);
    assert_int_equal(cg_read_full(p[0], buf, sizeof buf), 3); /* short at EOF */
    assert_memory_equal(buf, "abc", 3);
    assert_int_equal(cg_read_full(p[0], buf, sizeof buf), 0);
    close(p[0]);
}

static void test_grow_buffer(void **state)
{
    (void)state;
    cg_buf_t b = {0};
    char big[100000];

    memset(big, 'x', sizeof big);
    assert_int_equal(cg_buf_append(&b, "ab", 2), 0);
    assert_int_equal(b.cap, 4096);
    assert_string_equal(b.data, "ab");
    assert_int_equal(cg_buf_append(&b, big, sizeof big), 0);
    assert_int_equal(b.len, 2 + sizeof big);
    assert_true(b.cap >= b.len + 1 && b.cap == 131072);
    assert_int_equal(b.data[b.len], '\0');
    assert_memory_equal(b.data, "abxx", 4);
    assert_int_equal(cg_buf_append(&b, NULL, 0), 0); /* nothing: still a string */
    assert_int_equal(b.len, 2 + sizeof big);
    cg_buf_reset(&b, 1u << 20); /* small enough: kept, empty string */
    assert_int_equal(b.len, 0);
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    assert_int_equal(cg_buf_append(&b, "x", 1), 0);
    cg_buf_reset(&b, 1000); /* beyond keep: freed */
    assert_null(b.data);
    assert_int_equal(b.cap, 0);
    assert_int_equal(cg_buf_append(&b, "y", 1), 0);
    cg_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    cg_buf_free(&b); /* twice: a no-op */
}

/* The threads of this process (from /proc/self/status). */
static int thread_count(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[128];
    int n = -1;

    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %d", &n) == 1)
            break;
    if (f)
        fclose(f);
    return n;
}

/* A user namespace of its own: the caller is inside_uid/inside_gid there, nothing else is
 * mapped (a child does it: the test process stays where it is). The kernel refuses a new user
 * namespace to a multi-threaded process: under ThreadSanitizer, whose runtime keeps a thread in
 * the forked child, the contract checked is the clean -EINVAL. */
static void test_own_cgroup(void **state)
{
    (void)state;
    char path[] = "/tmp/cg-own-cgroup-XXXXXX", out[64];
    int fd = mkstemp(path);
    const char *text = "12:pids:/p\n5:memory:/m/x\n4:cpu,cpuacct:/c\n1:name=systemd:/s\n0::/v2\n";

    assert_true(fd >= 0);
    assert_int_equal(cg_write_all(fd, text, strlen(text)), 0);
    close(fd);
    assert_int_equal(cg_own_cgroup(path, "memory", out, sizeof out), 0);
    assert_string_equal(out, "/m/x");
    assert_int_equal(cg_own_cgroup(path, "cpuacct", out, sizeof out), 0); /* a co-mounted one */
    assert_string_equal(out, "/c");
    assert_int_equal(cg_own_cgroup(path, NULL, out, sizeof out), 0); /* v2: "0::" */
    assert_string_equal(out, "/v2");
    assert_int_equal(cg_own_cgroup(path, "cpuset", out, sizeof out), -1);
    assert_int_equal(cg_own_cgroup(path, "cpu,cpuacct", out, sizeof out), -1); /* one name */
    unlink(path);
    assert_int_equal(cg_own_cgroup(path, "memory", out, sizeof out), -1); /* no file */
}

static void test_enter_userns(void **state)
{
    (void)state;
    pid_t p = fork();
    if (p == 0) {
        int threads = thread_count();
        int rc = cg_enter_userns(1000, 1001);
        if (threads > 1)
            _exit(rc == -EINVAL && errno == EINVAL && getuid() == 0 ? 0 : 3);
        if (rc != 0)
            _exit(2);
        FILE *f = fopen("/proc/self/uid_map", "r");
        unsigned in = 0, out = 0, n = 0;
        int ok = f && fscanf(f, "%u %u %u", &in, &out, &n) == 3;
        if (f)
            fclose(f);
        _exit(getuid() == 1000 && getgid() == 1001 && ok && in == 1000 && n == 1 ? 0 : 1);
    }
    int st;
    assert_int_equal(waitpid(p, &st, 0), p);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secret_equal), cmocka_unit_test(test_random_hex),
        cmocka_unit_test(test_now_ms),       cmocka_unit_test(test_enter_userns),
        cmocka_unit_test(test_io_loops),     cmocka_unit_test(test_io_errors),
        cmocka_unit_test(test_grow_buffer),  cmocka_unit_test(test_own_cgroup),
    };
    alarm(60); /* hard limit for the whole binary */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
