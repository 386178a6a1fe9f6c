/*
 * test_docker_client.c - the transport (docker_client.c) and the endpoints built on it
 * (docker_system, docker_image, docker_network, docker_container) without a Docker daemon.
 *
 * Names and URLs (what a path accepts, how query values are escaped) are tested directly. The
 * requests are tested against a fake daemon: a thread that serves one canned HTTP answer on a
 * unix socket and records the request it got, so the tests pin the bytes on the wire. The
 * parsers have their own tests (test_docker_json.c, test_docker_stream.c). Every test runs
 * under alarm().
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

#include "alarm_fixture.h"

#include "docker_client.h"
#include "docker_container.h"
#include "docker_image.h"
#include "docker_network.h"
#include "docker_samples.h"
#include "docker_system.h"

/* ---- fake daemon ---- */

typedef struct {
    char path[108];
    int lfd;
    pthread_t th;
    const char *const *chunks; /* written one by one, 2 ms apart */
    const size_t *lens;        /* their lengths (binary chunks), NULL: strlen */
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
        if (write(fd, *c, f->lens ? f->lens[c - f->chunks] : strlen(*c)) < 0)
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
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", f->path);
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

static void test_ref_ok(void **state)
{
    (void)state;
    assert_true(docker_client_ref_ok("codegate-python-0"));
    assert_true(docker_client_ref_ok("codegate-python:0123456789ab"));
    assert_true(docker_client_ref_ok("library/debian:bookworm-slim"));
    assert_true(docker_client_ref_ok("sha256:ef52b0637f1b"));
    assert_false(docker_client_ref_ok(""));
    assert_false(docker_client_ref_ok(NULL));
    assert_false(docker_client_ref_ok("a b"));
    assert_false(docker_client_ref_ok("x?force=1"));
    assert_false(docker_client_ref_ok("x#y"));
    assert_false(docker_client_ref_ok("%2e%2e"));
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_false(docker_client_ref_ok(longname));
}

static void test_url_escape(void **state)
{
    (void)state;
    /* Everything but RFC 3986's unreserved characters, upper-case hex, spaces as %20. */
    const docker_kv_t q[] = {{"filters", "{\"label\":[\"a=b c\"]}"},
                             {"u", "AZaz09-._~"},
                             {"x", "\xc3\xa9/&+%"},
                             {NULL, NULL}};
    char *u = docker_client_url("/events", q);
    assert_string_equal(u, "http://localhost/v1.41/events?filters=%7B%22label%22%3A%5B%22a%3Db%20c"
                           "%22%5D%7D&u=AZaz09-._~&x=%C3%A9%2F%26%2B%25");
    free(u);
}

static void test_url_new(void **state)
{
    (void)state;
    char *u = docker_client_url("/_ping", NULL);
    assert_string_equal(u, "http://localhost/v1.41/_ping");
    free(u);
    const docker_kv_t q[] = {{"t", "codegate-python:abc"},
                             {"nocache", NULL},
                             {"rm", "1"},
                             {"labels", "{\"k\":\"v\"}"},
                             {NULL, NULL}};
    u = docker_client_url("/build", q);
    assert_string_equal(u, "http://localhost/v1.41/build?t=codegate-python%3Aabc&rm=1"
                           "&labels=%7B%22k%22%3A%22v%22%7D");
    free(u);
    const docker_kv_t none[] = {{"force", NULL}, {NULL, NULL}};
    u = docker_client_url("/containers/x", none);
    assert_string_equal(u, "http://localhost/v1.41/containers/x");
    free(u);
}

static void test_path(void **state)
{
    (void)state;
    char path[32];
    docker_err_t err;
    assert_int_equal(docker_client_path(path, sizeof path, "/containers/%s/start", "cg-1", &err),
                     0);
    assert_string_equal(path, "/containers/cg-1/start");
    assert_int_equal(docker_client_path(path, sizeof path, "/x/%s", "a b", &err), DOCKER_EINVAL);
    assert_string_equal(err.msg, "invalid name or id: 'a b'");
    assert_int_equal(docker_client_path(path, 8, "/containers/%s", "abc", &err), DOCKER_EINVAL);
    assert_string_equal(err.msg, "name too long");
}

/* ---- transport against the fake daemon ---- */

static int count_progress(void *arg, const char *text)
{
    (void)text;
    (*(int *)arg)++;
    return 0;
}

static void test_no_daemon(void **state)
{
    (void)state;
    docker_client_t *dc = docker_client_new("/tmp/cg-test-dc-no-such.sock", 2000);
    assert_non_null(dc);
    docker_err_t err;
    assert_int_equal(docker_system_ping(dc, 0, &err), DOCKER_ECONNECT);
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
    assert_int_equal(docker_system_ping(dc, 0, NULL), 0);
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
    assert_int_equal(docker_system_version(dc, api, sizeof api, server, sizeof server, NULL), 0);
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
    cJSON *body = docker_json_container_spec(&s);
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
    docker_image_build_opts_t o = {.tag = "cgtest:fail",
                                   .labels_json = "{\"codegate\":\"1\"}",
                                   .progress = count_progress,
                                   .progress_arg = &lines};
    docker_err_t err;
    char id[DOCKER_ID_LEN];
    const char tar[] = "pretend tar";
    assert_int_equal(docker_image_build(dc, tar, sizeof tar - 1, &o, id, &err), DOCKER_EBUILD);
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
    docker_image_build_opts_t o = {.tag = "cgtest:ok"};
    char id[DOCKER_ID_LEN];
    assert_int_equal(docker_image_build(dc, "x", 1, &o, id, NULL), 0);
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
    assert_int_equal(docker_image_build(dc, "x", 1, &o, id, &err), DOCKER_EBADREQ);
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
    snprintf(arg, 32, "%s", docker_json_str(ev, "Action"));
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
    assert_int_equal(docker_system_events(dc, NULL, first_event, action, NULL, NULL), 0);
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
    assert_int_equal(docker_system_events(dc, NULL, first_event, action, &stop, &err),
                     DOCKER_ECANCELED);
    int64_t took = now_ms() - t0;
    assert_true(took >= 250 && took < 2500);
    pthread_join(setter, NULL);
    fake_join(&g);
    assert_non_null(strstr(g.request, "GET /v1.41/events HTTP/1.1"));
    docker_client_free(dc);
}

static void test_fake_logs_and_wait(void **state)
{
    (void)state;
    /* A multiplexed logs answer, its frames cut across the writes. */
    const char *ans[] = {HTTP_HEAD("200 OK"), "\x01\x00\x00\x00\x00\x00\x00\x06hel",
                         "lo\n\x02\x00\x00",
                         "\x00\x00\x00\x00\x04"
                         "err\n",
                         NULL};
    const size_t lens[] = {strlen(ans[0]), 11, 6, 9};
    fake_t f = {.chunks = ans, .lens = lens};
    fake_start(&f);
    docker_client_t *dc = docker_client_new(f.path, 5000);
    char out[64];
    assert_int_equal(docker_container_logs(dc, "cg-1", 20, out, sizeof out, NULL), 10);
    assert_string_equal(out, "hello\nerr\n");
    fake_join(&f);
    assert_non_null(
        strstr(f.request, "GET /v1.41/containers/cg-1/logs?stdout=1&stderr=1&tail=20 HTTP/1.1"));

    const char *w[] = {HTTP_HEAD("200 OK"), "{\"Error\":null,\"StatusCode\":137}", NULL};
    fake_t g = {.chunks = w};
    fake_start(&g);
    docker_client_free(dc);
    dc = docker_client_new(g.path, 5000);
    int code = 0;
    assert_int_equal(docker_container_wait(dc, "cg-1", 0, &code, NULL), 0);
    assert_int_equal(code, 137);
    fake_join(&g);
    assert_non_null(
        strstr(g.request, "POST /v1.41/containers/cg-1/wait?condition=not-running HTTP/1.1"));
    docker_client_free(dc);
}

static void test_fake_network_create_and_kill(void **state)
{
    (void)state;
    const char *ans[] = {HTTP_HEAD("201 Created"), "{\"Id\":\"5d1e\",\"Warning\":\"\"}", NULL};
    fake_t f = {.chunks = ans};
    fake_start(&f);
    docker_client_t *dc = docker_client_new(f.path, 5000);
    const docker_kv_t labels[] = {{"codegate.instance", "t1"}, {NULL, NULL}};
    char id[DOCKER_ID_LEN];
    assert_int_equal(docker_network_create(dc, "codegate-t1", true, labels, id, NULL), 0);
    assert_string_equal(id, "5d1e");
    fake_join(&f);
    assert_non_null(strstr(f.request, "POST /v1.41/networks/create HTTP/1.1"));
    assert_non_null(strstr(f.request, "\r\n\r\n{\"Name\":\"codegate-t1\",\"Driver\":\"bridge\","
                                      "\"Internal\":true,\"CheckDuplicate\":true,"
                                      "\"Labels\":{\"codegate.instance\":\"t1\"}}"));

    const char *conflict[] = {HTTP_HEAD("409 Conflict"),
                              "{\"message\":\"Container cg-1 is not running\"}", NULL};
    fake_t g = {.chunks = conflict};
    fake_start(&g);
    docker_client_free(dc);
    dc = docker_client_new(g.path, 5000);
    docker_err_t err;
    assert_int_equal(docker_container_kill(dc, "cg-1", "SIGTERM", &err), DOCKER_ECONFLICT);
    assert_string_equal(err.msg, "Container cg-1 is not running");
    assert_int_equal(err.http_status, 409);
    fake_join(&g);
    assert_non_null(strstr(g.request, "POST /v1.41/containers/cg-1/kill?signal=SIGTERM HTTP/1.1"));
    docker_client_free(dc);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ref_ok, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_url_escape, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_url_new, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_path, setup_alarm, teardown_alarm),
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
        cmocka_unit_test_setup_teardown(test_fake_logs_and_wait, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_fake_network_create_and_kill, setup_alarm,
                                        teardown_alarm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
