/*
 * test_docker_client.c - docker_client without a Docker daemon.
 *
 * The pure helpers (URL and filter building, error mapping, line splitting, build-stream and
 * inspect parsing, create bodies, log demultiplexing) are tested directly. The transport is
 * tested against a fake daemon: a thread that serves one canned HTTP answer on a unix socket
 * and records the request it got. The build-stream samples are copied from a real Docker 20.10
 * daemon. Every test runs under alarm().
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../server/docker_client.c"

#define TEST_ALARM_S 20

static int setup_alarm(void **state)
{
    (void)state;
    alarm(TEST_ALARM_S);
    return 0;
}

static int teardown_alarm(void **state)
{
    (void)state;
    alarm(0);
    return 0;
}

/* ---- fake daemon ---- */

typedef struct {
    char path[108];
    int lfd;
    pthread_t th;
    const char *const *chunks; /* written one by one, 2 ms apart */
    size_t big;                /* > 0: a 200 answer with this many body bytes */
    int hold_ms;               /* keep the connection open this long after the answer */
    char request[16384];
    size_t request_len;
} fake_t;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits up to ms for the client to close the connection (it does when it aborts a stream). */
static void hold_until_closed(int fd, int ms)
{
    int64_t end = now_ms() + ms;
    char junk[256];
    for (int64_t left; (left = end - now_ms()) > 0;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int n = poll(&p, 1, (int)left);
        if (n > 0 && read(fd, junk, sizeof junk) <= 0)
            break;
    }
}

static void fake_read_request(fake_t *f, int fd)
{
    size_t want = 0;
    for (;;) {
        ssize_t n = read(fd, f->request + f->request_len, sizeof f->request - 1 - f->request_len);
        if (n <= 0)
            break;
        f->request_len += (size_t)n;
        f->request[f->request_len] = '\0';
        char *end = strstr(f->request, "\r\n\r\n");
        if (!end)
            continue;
        if (!want) {
            const char *cl = strcasestr(f->request, "Content-Length:");
            want =
                (size_t)(end + 4 - f->request) + (cl && cl < end ? strtoul(cl + 15, NULL, 10) : 0);
        }
        if (f->request_len >= want || f->request_len == sizeof f->request - 1)
            break;
    }
}

static void *fake_main(void *arg)
{
    fake_t *f = arg;
    int fd = accept(f->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    fake_read_request(f, fd);
    if (f->big) {
        const char *head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                           "Connection: close\r\n\r\n";
        char block[65536];
        memset(block, 'x', sizeof block);
        if (write(fd, head, strlen(head)) < 0)
            goto out;
        for (size_t sent = 0; sent < f->big;) {
            size_t n = f->big - sent < sizeof block ? f->big - sent : sizeof block;
            ssize_t w = write(fd, block, n);
            if (w <= 0)
                break;
            sent += (size_t)w;
        }
    }
    for (const char *const *c = f->chunks; c && *c; c++) {
        if (write(fd, *c, strlen(*c)) < 0)
            break;
        sleep_ms(2);
    }
    if (f->hold_ms)
        hold_until_closed(fd, f->hold_ms);
out:
    close(fd);
    return NULL;
}

static void fake_start(fake_t *f)
{
    static int seq;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(f->path, sizeof f->path, "/tmp/cg-test-dc-%d-%d.sock", (int)getpid(), seq++);
    unlink(f->path);
    scopy(sa.sun_path, sizeof sa.sun_path, f->path);
    f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(f->lfd >= 0);
    assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(f->lfd, 1), 0);
    assert_int_equal(pthread_create(&f->th, NULL, fake_main, f), 0);
}

static void fake_join(fake_t *f)
{
    pthread_join(f->th, NULL);
    close(f->lfd);
    unlink(f->path);
}

#define HTTP_HEAD(status)                                                                          \
    "HTTP/1.1 " status "\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"

/* ---- pure helpers ---- */

static void test_strerror(void **state)
{
    (void)state;
    for (int c = DOCKER_ECANCELED; c <= DOCKER_OK; c++)
        assert_string_not_equal(docker_strerror(c), "unknown Docker client error");
    assert_string_equal(docker_strerror(-999), "unknown Docker client error");
}

static void test_ref_ok(void **state)
{
    (void)state;
    assert_true(docker_ref_ok("codegate-python-0"));
    assert_true(docker_ref_ok("codegate-python:0123456789ab"));
    assert_true(docker_ref_ok("library/debian:bookworm-slim"));
    assert_true(docker_ref_ok("sha256:ef52b0637f1b"));
    assert_false(docker_ref_ok(""));
    assert_false(docker_ref_ok(NULL));
    assert_false(docker_ref_ok("a b"));
    assert_false(docker_ref_ok("x?force=1"));
    assert_false(docker_ref_ok("x#y"));
    assert_false(docker_ref_ok("%2e%2e"));
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_false(docker_ref_ok(longname));
}

static void test_url_escape(void **state)
{
    (void)state;
    char *e = docker_url_escape("{\"label\":[\"a=b c\"]}");
    assert_string_equal(e, "%7B%22label%22%3A%5B%22a%3Db%20c%22%5D%7D");
    free(e);
    e = docker_url_escape("AZaz09-._~");
    assert_string_equal(e, "AZaz09-._~");
    free(e);
    e = docker_url_escape("\xc3\xa9/&");
    assert_string_equal(e, "%C3%A9%2F%26");
    free(e);
}

static void test_url_new(void **state)
{
    (void)state;
    char *u = docker_url_new("/_ping", NULL);
    assert_string_equal(u, "http://localhost/v1.41/_ping");
    free(u);
    const docker_kv_t q[] = {{"t", "codegate-python:abc"},
                             {"nocache", NULL},
                             {"rm", "1"},
                             {"labels", "{\"k\":\"v\"}"},
                             {NULL, NULL}};
    u = docker_url_new("/build", q);
    assert_string_equal(u, "http://localhost/v1.41/build?t=codegate-python%3Aabc&rm=1"
                           "&labels=%7B%22k%22%3A%22v%22%7D");
    free(u);
    const docker_kv_t none[] = {{"force", NULL}, {NULL, NULL}};
    u = docker_url_new("/containers/x", none);
    assert_string_equal(u, "http://localhost/v1.41/containers/x");
    free(u);
}

static void test_filters_json(void **state)
{
    (void)state;
    const docker_kv_t f[] = {{"label", "codegate.instance=default"},
                             {"name", "codegate-"},
                             {"label", "codegate.lang"},
                             {NULL, NULL}};
    char *j = docker_filters_json(f);
    assert_string_equal(j, "{\"label\":[\"codegate.instance=default\",\"codegate.lang\"],"
                           "\"name\":[\"codegate-\"]}");
    free(j);
    const docker_kv_t empty[] = {{NULL, NULL}};
    j = docker_filters_json(empty);
    assert_string_equal(j, "{}");
    free(j);
}

static void test_status_error(void **state)
{
    (void)state;
    assert_int_equal(docker_status_error(200), 0);
    assert_int_equal(docker_status_error(201), 0);
    assert_int_equal(docker_status_error(204), 0);
    assert_int_equal(docker_status_error(304), 0);
    assert_int_equal(docker_status_error(400), DOCKER_EBADREQ);
    assert_int_equal(docker_status_error(403), DOCKER_EFORBIDDEN);
    assert_int_equal(docker_status_error(404), DOCKER_ENOTFOUND);
    assert_int_equal(docker_status_error(409), DOCKER_ECONFLICT);
    assert_int_equal(docker_status_error(500), DOCKER_ESERVER);
    assert_int_equal(docker_status_error(503), DOCKER_ESERVER);
    assert_int_equal(docker_status_error(101), DOCKER_EPROTO);
    assert_int_equal(docker_status_error(302), DOCKER_EPROTO);
    assert_int_equal(docker_status_error(0), DOCKER_EPROTO);
}

static void test_error_from_body(void **state)
{
    (void)state;
    docker_err_t err;
    const char *b = "{\"message\":\"No such container: c2ada9df5af8\"}\n";
    assert_int_equal(docker_error_from_body(&err, 404, b, strlen(b)), DOCKER_ENOTFOUND);
    assert_int_equal(err.http_status, 404);
    assert_string_equal(err.msg, "No such container: c2ada9df5af8");
    b = "page not found\n";
    assert_int_equal(docker_error_from_body(&err, 400, b, strlen(b)), DOCKER_EBADREQ);
    assert_string_equal(err.msg, "page not found");
    assert_int_equal(docker_error_from_body(&err, 500, NULL, 0), DOCKER_ESERVER);
    assert_string_equal(err.msg, "HTTP 500");
    assert_int_equal(docker_error_from_body(NULL, 409, b, strlen(b)), DOCKER_ECONFLICT);
}

/* ---- line splitting ---- */

typedef struct {
    char lines[16][64];
    int n;
    int stop_at; /* return 7 on this line number (1-based), 0 = never */
} collect_t;

static int collect(void *arg, const char *line, size_t len)
{
    collect_t *c = arg;
    assert_true(c->n < 16 && len < 64);
    memcpy(c->lines[c->n], line, len);
    c->lines[c->n][len] = '\0';
    c->n++;
    return c->stop_at && c->n == c->stop_at ? 7 : 0;
}

static void test_lines_every_split(void **state)
{
    (void)state;
    const char *s = "{\"a\":1}\r\n\nsecond line\nthird\r\nlast";
    size_t n = strlen(s);
    for (size_t cut = 0; cut <= n; cut++) {
        collect_t c = {0};
        docker_lines_t lb;
        docker_lines_init(&lb, collect, &c);
        assert_int_equal(docker_lines_feed(&lb, s, cut), 0);
        assert_int_equal(docker_lines_feed(&lb, s + cut, n - cut), 0);
        assert_int_equal(docker_lines_flush(&lb), 0);
        docker_lines_free(&lb);
        assert_int_equal(c.n, 5);
        assert_string_equal(c.lines[0], "{\"a\":1}");
        assert_string_equal(c.lines[1], "");
        assert_string_equal(c.lines[2], "second line");
        assert_string_equal(c.lines[3], "third");
        assert_string_equal(c.lines[4], "last");
    }
}

static void test_lines_stop_and_long(void **state)
{
    (void)state;
    collect_t c = {.stop_at = 2};
    docker_lines_t lb;
    docker_lines_init(&lb, collect, &c);
    assert_int_equal(docker_lines_feed(&lb, "a\nb\nc\n", 6), 7);
    assert_int_equal(c.n, 2);
    docker_lines_free(&lb);

    /* An over-long line is skipped whole, even when it arrives in pieces. */
    collect_t d = {0};
    docker_lines_init(&lb, collect, &d);
    char *big = malloc(DOCKER_MAX_LINE / 2 + 1);
    assert_non_null(big);
    memset(big, 'y', DOCKER_MAX_LINE / 2);
    assert_int_equal(docker_lines_feed(&lb, "before\n", 7), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(docker_lines_feed(&lb, big, DOCKER_MAX_LINE / 2), 0);
    assert_int_equal(docker_lines_feed(&lb, "tail\nafter\n", 11), 0);
    assert_int_equal(docker_lines_flush(&lb), 0);
    docker_lines_free(&lb);
    free(big);
    assert_int_equal(d.n, 2);
    assert_string_equal(d.lines[0], "before");
    assert_string_equal(d.lines[1], "after");
}

/* ---- build stream ---- */

/* Copied from Docker 20.10.24 building a Dockerfile whose third step fails. */
static const char build_fail[] =
    "{\"stream\":\"Step 1/4 : FROM debian:bookworm-slim\"}\r\n"
    "{\"stream\":\"\\n\"}\r\n"
    "{\"stream\":\" ---\\u003e cf38a11ae42d\\n\"}\r\n"
    "{\"stream\":\"Step 2/4 : RUN echo hello\"}\r\n"
    "{\"stream\":\"\\n\"}\r\n"
    "{\"stream\":\" ---\\u003e Running in be5c469f082d\\n\"}\r\n"
    "{\"stream\":\"hello\\n\"}\r\n"
    "{\"stream\":\"Removing intermediate container be5c469f082d\\n\"}\r\n"
    "{\"stream\":\" ---\\u003e ef52b0637f1b\\n\"}\r\n"
    "{\"stream\":\"Step 3/4 : RUN echo to stderr \\u003e\\u00262; false\"}\r\n"
    "{\"stream\":\"\\n\"}\r\n"
    "{\"stream\":\" ---\\u003e Running in 33b82a40fdba\\n\"}\r\n"
    "{\"stream\":\"\\u001b[91mto stderr\\n\\u001b[0m\"}\r\n"
    "{\"stream\":\"Removing intermediate container 33b82a40fdba\\n\"}\r\n"
    "{\"errorDetail\":{\"code\":1,\"message\":\"The command '/bin/sh -c echo to stderr "
    "\\u003e\\u00262; false' returned a non-zero code: 1\"},\"error\":\"The command '/bin/sh "
    "-c echo to stderr \\u003e\\u00262; false' returned a non-zero code: 1\"}\r\n";

static const char build_ok[] =
    "{\"stream\":\"Step 1/2 : FROM debian:bookworm-slim\"}\r\n"
    "{\"stream\":\"\\n\"}\r\n"
    "{\"stream\":\" ---\\u003e cf38a11ae42d\\n\"}\r\n"
    "{\"stream\":\"Step 2/2 : RUN echo hello\"}\r\n"
    "{\"stream\":\"\\n\"}\r\n"
    "{\"stream\":\" ---\\u003e Using cache\\n\"}\r\n"
    "{\"stream\":\" ---\\u003e ef52b0637f1b\\n\"}\r\n"
    "{\"aux\":{\"ID\":\"sha256:ef52b0637f1babdfa4e7749ab794576ab6db228bfe9d2d4d187f50317c261e56\"}}"
    "\r\n"
    "{\"stream\":\"Successfully built ef52b0637f1b\\n\"}\r\n"
    "{\"stream\":\"Successfully tagged cgtest:ok\\n\"}\r\n";

static int count_progress(void *arg, const char *text)
{
    (void)text;
    (*(int *)arg)++;
    return 0;
}

static int build_parse_cb(void *arg, const char *line, size_t len)
{
    return docker_build_parse_line(arg, line, len);
}

static int parse_stream(docker_build_state_t *st, const char *s)
{
    docker_lines_t lb;
    int rc = 0;
    docker_lines_init(&lb, build_parse_cb, st);
    /* Odd-sized pieces: lines arrive split. */
    for (size_t i = 0, n = strlen(s); i < n && !rc; i += 7)
        rc = docker_lines_feed(&lb, s + i, n - i < 7 ? n - i : 7);
    if (!rc)
        rc = docker_lines_flush(&lb);
    docker_lines_free(&lb);
    return rc;
}

static void test_build_stream_error(void **state)
{
    (void)state;
    int lines = 0;
    docker_build_state_t st = {.progress = count_progress, .progress_arg = &lines};
    assert_int_equal(parse_stream(&st, build_fail), DOCKER_EBUILD);
    assert_true(st.failed);
    assert_string_equal(st.step, "Step 3/4 : RUN echo to stderr >&2; false");
    assert_string_equal(
        st.error, "The command '/bin/sh -c echo to stderr >&2; false' returned a non-zero code: 1");
    assert_int_equal(lines, 14);
    assert_non_null(strstr(st.tail, "to stderr\n"));
    assert_non_null(strstr(st.tail, "Removing intermediate container 33b82a40fdba\n"));
    assert_string_equal(st.image_id, "");
}

static void test_build_stream_ok(void **state)
{
    (void)state;
    int lines = 0;
    docker_build_state_t st = {.progress = count_progress, .progress_arg = &lines};
    assert_int_equal(parse_stream(&st, build_ok), 0);
    assert_false(st.failed);
    assert_string_equal(st.step, "Step 2/2 : RUN echo hello");
    assert_string_equal(st.image_id,
                        "sha256:ef52b0637f1babdfa4e7749ab794576ab6db228bfe9d2d4d187f50317c261e56");
    assert_int_equal(lines, 9);
    /* Garbage and blank lines are ignored. */
    assert_int_equal(docker_build_parse_line(&st, "not json", 8), 0);
    assert_int_equal(docker_build_parse_line(&st, "", 0), 0);
    assert_int_equal(docker_build_parse_line(&st, "[1]", 3), 0);
    assert_false(st.failed);
    /* "error" alone (no errorDetail) is an error too. */
    const char *e = "{\"error\":\"failed to export image\\n\"}";
    assert_int_equal(docker_build_parse_line(&st, e, strlen(e)), DOCKER_EBUILD);
    assert_string_equal(st.error, "failed to export image");
}

static int cancel_progress(void *arg, const char *text)
{
    (void)arg;
    return strncmp(text, "Step 2/", 7) == 0;
}

static void test_build_stream_cancel_and_tail(void **state)
{
    (void)state;
    docker_build_state_t st = {.progress = cancel_progress};
    assert_int_equal(parse_stream(&st, build_ok), DOCKER_ECANCELED);
    assert_string_equal(st.step, "Step 2/2 : RUN echo hello");

    /* The tail keeps the last sizeof(tail) - 1 bytes. */
    docker_build_state_t t = {0};
    char line[128];
    for (int i = 0; i < 100; i++) {
        int n = snprintf(line, sizeof line, "{\"stream\":\"line %03d xxxxxxxxxxxxxxxxxxx\\n\"}", i);
        assert_int_equal(docker_build_parse_line(&t, line, (size_t)n), 0);
    }
    assert_int_equal(t.tail_len, sizeof t.tail - 1);
    assert_int_equal(strlen(t.tail), sizeof t.tail - 1);
    const char *end = "line 099 xxxxxxxxxxxxxxxxxxx\n";
    assert_string_equal(t.tail + strlen(t.tail) - strlen(end), end);
    assert_null(strstr(t.tail, "line 000"));
}

/* ---- create body ---- */

static void test_spec_json(void **state)
{
    (void)state;
    const char *cmd[] = {"/usr/local/bin/executor", "--language", "python", NULL};
    const char *env[] = {"EXECUTOR_TOKEN=abc", NULL};
    const docker_kv_t labels[] = {
        {"codegate.instance", "default"}, {"codegate.lang", "python"}, {NULL, NULL}};
    const docker_kv_t tmpfs[] = {{"/work", "rw,exec,nosuid,size=256m,mode=1777"}, {NULL, NULL}};
    const char *drop[] = {"ALL", NULL};
    const char *add[] = {"SETUID", "SETGID", "KILL", NULL};
    const char *sec[] = {"no-new-privileges", NULL};
    docker_container_spec_t s = {
        .image = "codegate-python:0123456789ab",
        .cmd = cmd,
        .env = env,
        .labels = labels,
        .memory = 68719476736LL,
        .memory_swap = 68719476736LL,
        .nano_cpus = 2000000000LL,
        .pids_limit = 512,
        .network_mode = "codegate-default",
        .readonly_rootfs = true,
        .tmpfs = tmpfs,
        .cap_drop = drop,
        .cap_add = add,
        .security_opt = sec,
        .init = true,
        .ulimit_nofile = 1024,
    };
    cJSON *o = docker_container_spec_json(&s);
    assert_non_null(o);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    /* Exact int64 digits, no exponent. */
    assert_non_null(strstr(text, "\"Memory\":68719476736,"));
    assert_non_null(strstr(text, "\"NanoCpus\":2000000000,"));
    cJSON *p = cJSON_Parse(text);
    free(text);
    assert_non_null(p);
    assert_string_equal(jstr(p, "Image"), "codegate-python:0123456789ab");
    cJSON *c = cJSON_GetObjectItem(p, "Cmd");
    assert_int_equal(cJSON_GetArraySize(c), 3);
    assert_string_equal(cJSON_GetArrayItem(c, 2)->valuestring, "python");
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(p, "Env"), 0)->valuestring,
                        "EXECUTOR_TOKEN=abc");
    assert_string_equal(jstr(cJSON_GetObjectItem(p, "Labels"), "codegate.lang"), "python");
    assert_null(cJSON_GetObjectItem(p, "User"));
    cJSON *hc = cJSON_GetObjectItem(p, "HostConfig");
    assert_non_null(hc);
    assert_true(cJSON_GetObjectItem(hc, "MemorySwap")->valuedouble == 68719476736.0);
    assert_int_equal(cJSON_GetObjectItem(hc, "PidsLimit")->valueint, 512);
    assert_string_equal(jstr(hc, "NetworkMode"), "codegate-default");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(hc, "ReadonlyRootfs")));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(hc, "Init")));
    assert_string_equal(jstr(cJSON_GetObjectItem(hc, "Tmpfs"), "/work"),
                        "rw,exec,nosuid,size=256m,mode=1777");
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(hc, "CapDrop"), 0)->valuestring,
                        "ALL");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(hc, "CapAdd")), 3);
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(hc, "SecurityOpt"), 0)->valuestring,
                        "no-new-privileges");
    cJSON *ul = cJSON_GetArrayItem(cJSON_GetObjectItem(hc, "Ulimits"), 0);
    assert_string_equal(jstr(ul, "Name"), "nofile");
    assert_int_equal(cJSON_GetObjectItem(ul, "Hard")->valueint, 1024);
    assert_null(cJSON_GetObjectItem(hc, "ShmSize"));
    cJSON_Delete(p);

    docker_container_spec_t bad = {0};
    assert_null(docker_container_spec_json(&bad));
    assert_null(docker_container_spec_json(NULL));
}

/* ---- answer parsing ---- */

static const char inspect_json[] =
    "{\"Id\":\"ba033ac4401106a3\",\"Name\":\"/codegate-python-0\","
    "\"State\":{\"Status\":\"exited\",\"Running\":false,\"OOMKilled\":true,\"ExitCode\":137,"
    "\"Pid\":0,\"Error\":\"\",\"Health\":{\"Status\":\"unhealthy\",\"FailingStreak\":3}},"
    "\"NetworkSettings\":{\"Networks\":{"
    "\"bridge\":{\"IPAddress\":\"172.17.0.2\"},"
    "\"codegate-default\":{\"IPAddress\":\"172.20.0.5\"}}}}";

static void test_info_parse(void **state)
{
    (void)state;
    docker_container_info_t i;
    assert_int_equal(
        docker_container_info_parse(inspect_json, strlen(inspect_json), "codegate-default", &i), 0);
    assert_string_equal(i.id, "ba033ac4401106a3");
    assert_string_equal(i.name, "codegate-python-0");
    assert_string_equal(i.status, "exited");
    assert_false(i.running);
    assert_true(i.oom_killed);
    assert_int_equal(i.exit_code, 137);
    assert_string_equal(i.health, "unhealthy");
    assert_string_equal(i.ip, "172.20.0.5");
    assert_int_equal(docker_container_info_parse(inspect_json, strlen(inspect_json), NULL, &i), 0);
    assert_string_equal(i.ip, "172.17.0.2");
    assert_int_equal(docker_container_info_parse(inspect_json, strlen(inspect_json), "other", &i),
                     0);
    assert_string_equal(i.ip, "");

    const char *running = "{\"Id\":\"x\",\"State\":{\"Status\":\"running\",\"Running\":true,"
                          "\"Pid\":4242,\"ExitCode\":0}}";
    assert_int_equal(docker_container_info_parse(running, strlen(running), "n", &i), 0);
    assert_true(i.running);
    assert_int_equal(i.pid, 4242);
    assert_string_equal(i.health, "");
    assert_int_equal(docker_container_info_parse("{}", 2, NULL, &i), DOCKER_EPROTO);
    assert_int_equal(docker_container_info_parse("nonsense", 8, NULL, &i), DOCKER_EPROTO);
}

static void test_list_parse(void **state)
{
    (void)state;
    const char *cl =
        "[{\"Id\":\"aaa\",\"Names\":[\"/codegate-python-0\"],\"Image\":\"codegate-python:1\","
        "\"State\":\"running\"},{\"Names\":[\"/no-id\"]},"
        "{\"Id\":\"bbb\",\"Names\":[],\"State\":\"exited\"}]";
    docker_container_summary_t *c;
    assert_int_equal(parse_container_list(cl, strlen(cl), &c), 2);
    assert_string_equal(c[0].id, "aaa");
    assert_string_equal(c[0].name, "codegate-python-0");
    assert_string_equal(c[0].image, "codegate-python:1");
    assert_string_equal(c[0].state, "running");
    assert_string_equal(c[1].id, "bbb");
    assert_string_equal(c[1].name, "");
    free(c);
    assert_int_equal(parse_container_list("[]", 2, &c), 0);
    assert_null(c);
    assert_int_equal(parse_container_list("{}", 2, &c), DOCKER_EPROTO);

    const char *nl = "[{\"Name\":\"codegate-default\",\"Id\":\"n1\",\"Internal\":true},"
                     "{\"Name\":\"bridge\",\"Id\":\"n2\",\"Internal\":false}]";
    docker_network_t *n;
    assert_int_equal(parse_network_list(nl, strlen(nl), &n), 2);
    assert_string_equal(n[0].name, "codegate-default");
    assert_true(n[0].internal);
    assert_false(n[1].internal);
    free(n);
}

static void test_logs_demux(void **state)
{
    (void)state;
    const unsigned char in[] = {1,    0, 0, 0, 0, 0, 0, 6, 'h', 'e', 'l', 'l', 'o',
                                '\n', 2, 0, 0, 0, 0, 0, 0, 4,   'e', 'r', 'r', '\n'};
    char out[64];
    assert_int_equal(docker_logs_demux(in, sizeof in, out, sizeof out), 10);
    assert_string_equal(out, "hello\nerr\n");
    assert_int_equal(docker_logs_demux(in, sizeof in, out, 4), 3);
    assert_string_equal(out, "hel");
    /* A frame whose size runs past the end: what is there is kept. */
    assert_int_equal(docker_logs_demux(in, 11, out, sizeof out), 3);
    assert_string_equal(out, "hel");
    const unsigned char tty[] = "plain tty output\n";
    assert_int_equal(docker_logs_demux(tty, sizeof tty - 1, out, sizeof out), sizeof tty - 1);
    assert_string_equal(out, "plain tty output\n");
}

/* ---- transport against the fake daemon ---- */

static void test_no_daemon(void **state)
{
    (void)state;
    docker_client_t *dc = docker_client_new("/tmp/cg-test-dc-no-such.sock", 2000);
    assert_non_null(dc);
    docker_err_t err;
    assert_int_equal(docker_ping(dc, 0, &err), DOCKER_ECONNECT);
    assert_non_null(strstr(err.msg, "/tmp/cg-test-dc-no-such.sock"));
    assert_int_equal(err.http_status, 0);
    docker_client_free(dc);
    docker_client_free(NULL);

    char longpath[200];
    memset(longpath, 'p', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = '\0';
    assert_null(docker_client_new(longpath, 0));
}

static void test_fake_ping_and_version(void **state)
{
    (void)state;
    const char *ping[] = {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK", NULL};
    fake_t f = {.chunks = ping};
    fake_start(&f);
    docker_client_t *dc = docker_client_new(f.path, 5000);
    assert_int_equal(docker_ping(dc, 0, NULL), 0);
    fake_join(&f);
    assert_non_null(strstr(f.request, "GET /v1.41/_ping HTTP/1.1\r\n"));

    const char *ver[] = {HTTP_HEAD("200 OK"),
                         "{\"Version\":\"20.10.24+dfsg1\",\"ApiVersion\":\"1.41\","
                         "\"MinAPIVersion\":\"1.12\"}",
                         NULL};
    fake_t g = {.chunks = ver};
    fake_start(&g);
    docker_client_free(dc);
    dc = docker_client_new(g.path, 5000);
    char api[16], server[64];
    assert_int_equal(docker_version(dc, api, sizeof api, server, sizeof server, NULL), 0);
    assert_string_equal(api, "1.41");
    assert_string_equal(server, "20.10.24+dfsg1");
    fake_join(&g);
    docker_client_free(dc);
}

static void test_fake_not_found(void **state)
{
    (void)state;
    const char *ans[] = {HTTP_HEAD("404 Not Found"), "{\"message\":\"No such container: nope\"}\n",
                         NULL};
    fake_t f = {.chunks = ans};
    fake_start(&f);
    docker_client_t *dc = docker_client_new(f.path, 5000);
    docker_err_t err;
    docker_container_info_t info;
    assert_int_equal(docker_container_inspect(dc, "nope", NULL, &info, &err), DOCKER_ENOTFOUND);
    assert_int_equal(err.http_status, 404);
    assert_string_equal(err.msg, "No such container: nope");
    fake_join(&f);
    assert_non_null(strstr(f.request, "GET /v1.41/containers/nope/json HTTP/1.1"));
    /* Bad names never reach the daemon. */
    assert_int_equal(docker_container_start(dc, "../../x?y", &err), DOCKER_EINVAL);
    assert_int_equal(docker_container_remove(dc, "", true, &err), DOCKER_EINVAL);
    docker_client_free(dc);
}

static void test_fake_start_304_and_remove(void **state)
{
    (void)state;
    const char *ans[] = {"HTTP/1.1 304 Not Modified\r\nConnection: close\r\n\r\n", NULL};
    fake_t f = {.chunks = ans};
    fake_start(&f);
    docker_client_t *dc = docker_client_new(f.path, 5000);
    assert_int_equal(docker_container_start(dc, "codegate-python-0", NULL), 0);
    fake_join(&f);
    assert_non_null(strstr(f.request, "POST /v1.41/containers/codegate-python-0/start HTTP/1.1"));

    const char *del[] = {"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n", NULL};
    fake_t g = {.chunks = del};
    fake_start(&g);
    docker_client_free(dc);
    dc = docker_client_new(g.path, 5000);
    assert_int_equal(docker_container_remove(dc, "abc123", true, NULL), 0);
    fake_join(&g);
    assert_non_null(strstr(g.request, "DELETE /v1.41/containers/abc123?v=1&force=1 HTTP/1.1"));
    docker_client_free(dc);
}

static void test_fake_create(void **state)
{
    (void)state;
    const char *ans[] = {HTTP_HEAD("201 Created"), "{\"Id\":\"e90e34656806\",\"Warnings\":[]}",
                         NULL};
    fake_t f = {.chunks = ans};
    fake_start(&f);
    docker_client_t *dc = docker_client_new(f.path, 5000);
    const char *drop[] = {"ALL", NULL};
    docker_container_spec_t s = {.image = "img:1", .cap_drop = drop, .memory = 1 << 30};
    cJSON *body = docker_container_spec_json(&s);
    char id[DOCKER_ID_LEN];
    assert_int_equal(docker_container_create(dc, "codegate-x", body, id, NULL), 0);
    cJSON_Delete(body);
    assert_string_equal(id, "e90e34656806");
    fake_join(&f);
    assert_non_null(strstr(f.request, "POST /v1.41/containers/create?name=codegate-x HTTP/1.1"));
    assert_non_null(strstr(f.request, "Content-Type: application/json\r\n"));
    assert_non_null(strstr(f.request, "\r\n\r\n{\"Image\":\"img:1\","));
    assert_non_null(strstr(f.request, "\"Memory\":1073741824"));
    docker_client_free(dc);
}

static void test_fake_build_error(void **state)
{
    (void)state;
    const char *ans[] = {HTTP_HEAD("200 OK"), build_fail, NULL};
    fake_t f = {.chunks = ans};
    fake_start(&f);
    docker_client_t *dc = docker_client_new(f.path, 5000);
    int lines = 0;
    docker_build_opts_t o = {.tag = "cgtest:fail",
                             .labels_json = "{\"codegate\":\"1\"}",
                             .progress = count_progress,
                             .progress_arg = &lines};
    docker_err_t err;
    char id[DOCKER_ID_LEN];
    const char tar[] = "pretend tar";
    assert_int_equal(docker_build(dc, tar, sizeof tar - 1, &o, id, &err), DOCKER_EBUILD);
    assert_string_equal(err.step, "Step 3/4 : RUN echo to stderr >&2; false");
    assert_non_null(strstr(err.msg, "returned a non-zero code: 1"));
    assert_non_null(strstr(err.tail, "to stderr"));
    assert_int_equal(err.http_status, 200);
    assert_int_equal(lines, 14);
    fake_join(&f);
    assert_non_null(strstr(f.request, "POST /v1.41/build?t=cgtest%3Afail&labels=%7B%22codegate"
                                      "%22%3A%221%22%7D&rm=1&forcerm=1 HTTP/1.1"));
    assert_non_null(strstr(f.request, "Content-Type: application/x-tar\r\n"));
    assert_null(strstr(f.request, "Expect:"));
    assert_non_null(strstr(f.request, "\r\n\r\npretend tar"));
    docker_client_free(dc);
}

static void test_fake_build_ok_and_400(void **state)
{
    (void)state;
    const char *ans[] = {HTTP_HEAD("200 OK"), build_ok, NULL};
    fake_t f = {.chunks = ans};
    fake_start(&f);
    docker_client_t *dc = docker_client_new(f.path, 5000);
    docker_build_opts_t o = {.tag = "cgtest:ok"};
    char id[DOCKER_ID_LEN];
    assert_int_equal(docker_build(dc, "x", 1, &o, id, NULL), 0);
    assert_string_equal(id,
                        "sha256:ef52b0637f1babdfa4e7749ab794576ab6db228bfe9d2d4d187f50317c261e56");
    fake_join(&f);
    docker_client_free(dc);

    const char *bad[] = {HTTP_HEAD("400 Bad Request"),
                         "{\"message\":\"Cannot locate specified Dockerfile: Dockerfile\"}\n",
                         NULL};
    fake_t g = {.chunks = bad};
    fake_start(&g);
    dc = docker_client_new(g.path, 5000);
    docker_err_t err;
    assert_int_equal(docker_build(dc, "x", 1, &o, id, &err), DOCKER_EBADREQ);
    assert_string_equal(err.msg, "Cannot locate specified Dockerfile: Dockerfile");
    assert_string_equal(err.step, "");
    fake_join(&g);
    docker_client_free(dc);
}

static void test_fake_too_big(void **state)
{
    (void)state;
    fake_t f = {.big = DOCKER_MAX_BODY + 4096};
    fake_start(&f);
    docker_client_t *dc = docker_client_new(f.path, 10000);
    docker_container_summary_t *list = NULL;
    docker_err_t err;
    assert_int_equal(docker_container_list(dc, NULL, &list, &err), DOCKER_ETOOBIG);
    assert_null(list);
    fake_join(&f);
    docker_client_free(dc);
}

static void test_fake_list_filters(void **state)
{
    (void)state;
    const char *ans[] = {HTTP_HEAD("200 OK"),
                         "[{\"Id\":\"aaa\",\"Names\":[\"/c1\"],\"State\":\"running\"}]", NULL};
    fake_t f = {.chunks = ans};
    fake_start(&f);
    docker_client_t *dc = docker_client_new(f.path, 5000);
    const docker_kv_t filt[] = {{"label", "codegate.instance=t1"}, {NULL, NULL}};
    docker_container_summary_t *list;
    assert_int_equal(docker_container_list(dc, filt, &list, NULL), 1);
    assert_string_equal(list[0].name, "c1");
    free(list);
    fake_join(&f);
    assert_non_null(strstr(f.request, "GET /v1.41/containers/json?all=1&filters=%7B%22label%22%3A"
                                      "%5B%22codegate.instance%3Dt1%22%5D%7D HTTP/1.1"));
    docker_client_free(dc);
}

static int first_event(void *arg, const cJSON *ev)
{
    scopy(arg, 32, jstr(ev, "Action"));
    return 1;
}

static void *set_stop_later(void *arg)
{
    sleep_ms(300);
    atomic_store((atomic_bool *)arg, true);
    return NULL;
}

static void test_fake_events(void **state)
{
    (void)state;
    /* The daemon keeps the stream open; the callback ends it after the first event. */
    const char *ans[] = {HTTP_HEAD("200 OK"), "{\"Type\":\"container\",\"Action\":\"die\",",
                         "\"Actor\":{\"ID\":\"aaa\"}}\n{\"Type\":\"container\",\"Action\":\"x\"}\n",
                         NULL};
    fake_t f = {.chunks = ans, .hold_ms = 5000};
    fake_start(&f);
    docker_client_t *dc = docker_client_new(f.path, 5000);
    char action[32] = "";
    int64_t t0 = now_ms();
    assert_int_equal(docker_events(dc, NULL, first_event, action, NULL, NULL), 0);
    assert_true(now_ms() - t0 < 3000);
    assert_string_equal(action, "die");
    fake_join(&f); /* returns once the client has closed the stream */
    assert_true(now_ms() - t0 < 3000);

    /* The stop flag, set by another thread, ends a quiet stream within about a second. */
    fake_t g = {.chunks = (const char *[]){HTTP_HEAD("200 OK"), NULL}, .hold_ms = 8000};
    fake_start(&g);
    docker_client_free(dc);
    dc = docker_client_new(g.path, 5000);
    atomic_bool stop = false;
    pthread_t setter;
    assert_int_equal(pthread_create(&setter, NULL, set_stop_later, &stop), 0);
    docker_err_t err;
    t0 = now_ms();
    assert_int_equal(docker_events(dc, NULL, first_event, action, &stop, &err), DOCKER_ECANCELED);
    int64_t took = now_ms() - t0;
    assert_true(took >= 250 && took < 2500);
    pthread_join(setter, NULL);
    fake_join(&g);
    assert_non_null(strstr(g.request, "GET /v1.41/events HTTP/1.1"));
    docker_client_free(dc);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_strerror, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_ref_ok, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_url_escape, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_url_new, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_filters_json, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_status_error, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_error_from_body, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_lines_every_split, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_lines_stop_and_long, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_build_stream_error, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_build_stream_ok, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_build_stream_cancel_and_tail, setup_alarm,
                                        teardown_alarm),
        cmocka_unit_test_setup_teardown(test_spec_json, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_info_parse, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_list_parse, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_logs_demux, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_no_daemon, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_fake_ping_and_version, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_fake_not_found, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_fake_start_304_and_remove, setup_alarm,
                                        teardown_alarm),
        cmocka_unit_test_setup_teardown(test_fake_create, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_fake_build_error, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_fake_build_ok_and_400, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_fake_too_big, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_fake_list_filters, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_fake_events, setup_alarm, teardown_alarm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
