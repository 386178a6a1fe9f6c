/*
 * test_config.c - the option table: defaults, environment, flags over environment, both flag
 * forms, validation messages that name the flag or variable, DOCKER_HOST, --help / --version,
 * and the README's Markdown table. Includes config.c to walk the table itself, so a new
 * option is covered by the generic checks without touching this file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../server/config.c"

static config_t cfg;
static char err[512];

/* The environment variables config.h documents, in its order. */
static const char *const documented_env[] = {
    "CODEGATE_BIND",
    "PORT",
    "CODEGATE_CORS_ORIGINS",
    "CODEGATE_ALLOWED_HOSTS",
    "CODEGATE_MAX_CONNECTIONS",
    "CODEGATE_MAX_CONNS_PER_IP",
    "CODEGATE_PER_IP_LOOPBACK",
    "CODEGATE_HEADER_TIMEOUT_MS",
    "CODEGATE_BODY_TIMEOUT_MS",
    "CODEGATE_API_KEYS_FILE",
    "CODEGATE_RUNTIME",
    "CODEGATE_EXECUTORS",
    "CODEGATE_SLOTS",
    "CODEGATE_EXECUTOR_BIN",
    "CODEGATE_LAUNCHER_BIN",
    "CODEGATE_STATE_DIR",
    "CODEGATE_INSTANCE",
    "CODEGATE_ALLOW_UNSANDBOXED",
    "CODEGATE_EXECUTOR_ADDRS",
    "CODEGATE_RESOLVE_MS",
    "CODEGATE_EXECUTOR_TOKEN_FILE",
    "CODEGATE_EXECUTOR_CA_FILE",
    "CODEGATE_QUEUE_MAX",
    "CODEGATE_QUEUE_WAIT_MS",
    "CODEGATE_OUTPUT_LIMIT_KB",
    "CODEGATE_FILES_MAX",
    "CODEGATE_FILES_MAX_KB",
    "CODEGATE_FILE_NAME_MAX",
    "CODEGATE_FILE_DEPTH_MAX",
    "CODEGATE_OUT_FILES_MAX",
    "CODEGATE_OUT_FILE_MAX_KB",
    "CODEGATE_OUT_FILES_MAX_KB",
    "CODEGATE_JOB_BUDGET_MS",
    "CODEGATE_DRAIN_MS",
    "CODEGATE_PING_MS",
    "CODEGATE_DOCKER_SOCKET",
    "CODEGATE_BASE_IMAGE",
    "CODEGATE_CONTAINER_MEMORY_MB",
    "CODEGATE_CONTAINER_CPUS",
    "CODEGATE_CONTAINER_PIDS",
    "CODEGATE_SRC_DIR",
    "CODEGATE_SESSIONS_MAX",
    "CODEGATE_SESSION_SHARE",
    "CODEGATE_SESSION_START_MS",
    "CODEGATE_SESSION_MS",
    "CODEGATE_SESSION_IDLE_MS",
    "CODEGATE_STATIC_DIR",
    "CODEGATE_CALLBACK_SECRET_FILE",
    "CODEGATE_CALLBACK_ALLOWED_HOSTS",
    "CODEGATE_CALLBACK_ALLOW_NETWORKS",
    "CODEGATE_CALLBACK_MAX_ATTEMPTS",
    "CODEGATE_CALLBACK_CONNECT_TIMEOUT_MS",
    "CODEGATE_CALLBACK_TIMEOUT_MS",
    "CODEGATE_CALLBACK_BACKOFF_MS",
    "CODEGATE_CALLBACK_BACKOFF_MAX_MS",
    "CODEGATE_CALLBACK_QUEUE_MAX",
    "CODEGATE_CALLBACK_CONCURRENCY",
    "CODEGATE_LOG_REQUESTS",
    /* asynchronous submissions */
    "CODEGATE_REDIS_URL",
    "CODEGATE_REDIS_PREFIX",
    "CODEGATE_ASYNC_WORKERS",
    "CODEGATE_ASYNC_VISIBILITY_MS",
    "CODEGATE_ASYNC_MAX_ATTEMPTS",
    "CODEGATE_ASYNC_BACKOFF_MS",
    "CODEGATE_ASYNC_BACKOFF_MAX_MS",
    "CODEGATE_ASYNC_RESULT_TTL_S",
    "CODEGATE_ASYNC_MAX_WAITERS",
    "CODEGATE_ASYNC_CALLBACK_LEASE_MS",
};
#define NDOC (sizeof documented_env / sizeof documented_env[0])

static int load(int argc, const char **argv)
{
    err[0] = '\0';
    return config_load(&cfg, argc, (char **)argv, err, sizeof err);
}

#define LOAD(...)                                                                                  \
    ({                                                                                             \
        const char *argv_[] = {"gw", __VA_ARGS__};                                                 \
        load((int)(sizeof argv_ / sizeof argv_[0]), argv_);                                        \
    })

#define LOAD0()                                                                                    \
    ({                                                                                             \
        const char *argv0_[] = {"gw"};                                                             \
        load(1, argv0_);                                                                           \
    })

static void expect_fail(int rc, const char *needle)
{
    assert_int_equal(rc, -1);
    if (!strstr(err, needle))
        fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
}

static int setup(void **state)
{
    (void)state;
    for (size_t i = 0; i < NOPTS; i++)
        unsetenv(opts[i].env);
    unsetenv("DOCKER_HOST");
    return 0;
}

/* Runs config_load with stdout captured; returns the malloc'ed output. */
static char *load_capture(int argc, const char **argv, int *rc)
{
    FILE *tmp = tmpfile();
    int saved = dup(STDOUT_FILENO);
    long n;
    char *out;

    assert_non_null(tmp);
    fflush(stdout);
    dup2(fileno(tmp), STDOUT_FILENO);
    *rc = load(argc, argv);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    n = lseek(fileno(tmp), 0, SEEK_END); /* written through fd 1, which shares the offset */
    out = calloc(1, (size_t)n + 1);
    lseek(fileno(tmp), 0, SEEK_SET);
    assert_int_equal(read(fileno(tmp), out, (size_t)n), n);
    fclose(tmp);
    return out;
}

static void test_defaults(void **state)
{
    (void)state;
    const char *argv[] = {"gw"};
    assert_int_equal(load(1, argv), 0);
    assert_string_equal(cfg.bind, "127.0.0.1");
    assert_int_equal(cfg.port, 5000);
    assert_string_equal(cfg.cors_origins, ""); /* automatic: see gate_cors_origin */
    assert_string_equal(cfg.runtime, "auto");
    assert_int_equal(cfg.executors, 0); /* 0 = sized from the machine (server/sizing.c) */
    assert_int_equal(cfg.slots, 0);
    assert_string_equal(cfg.executor_bin, "");
    assert_string_equal(cfg.launcher_bin, "");
    assert_string_equal(cfg.state_dir, "");
    assert_string_equal(cfg.instance, "default");
    assert_int_equal(cfg.queue_max, 0);
    assert_int_equal(cfg.queue_wait_ms, 0);
    assert_int_equal(cfg.output_limit_kb, 1024);
    assert_int_equal(cfg.job_budget_ms, CG_DEFAULT_BUDGET_MS);
    assert_int_equal(cfg.job_budget_ms, 60000);
    assert_int_equal(cfg.drain_ms, 10000);
    assert_int_equal(cfg.ping_ms, 1000);
    assert_string_equal(cfg.docker_socket, "/var/run/docker.sock");
    assert_string_equal(cfg.base_image, "debian:bookworm-slim");
    assert_int_equal(cfg.container_memory_mb, 0); /* sized from the slots */
    assert_int_equal(cfg.container_cpus_milli, 0);
    assert_int_equal(cfg.container_pids, 512);
    assert_string_equal(cfg.src_dir, "");
    assert_int_equal(cfg.sessions_max, 8);
    assert_int_equal(cfg.session_ms, 300000);
    assert_int_equal(cfg.session_idle_ms, 60000);
    assert_string_equal(cfg.static_dir, "");
    assert_true(cfg.log_requests);
    assert_string_equal(cfg.executor_addrs, "");
    assert_int_equal(cfg.resolve_ms, 3000);
    assert_string_equal(cfg.executor_token_file, "");
    assert_string_equal(cfg.executor_ca_file, "");
    assert_string_equal(cfg.redis_url, ""); /* async API off */
    assert_string_equal(cfg.redis_prefix, "codegate");
    assert_int_equal(cfg.async_workers, 0);
    assert_int_equal(cfg.async_result_ttl_s, 86400);
}

/* --runtime external: addresses and the token file are required, a CA file must be readable,
 * a malformed address list is refused with the part that is wrong; other runtimes need none. */
static void test_external(void **state)
{
    (void)state;
    assert_int_equal(LOAD("--runtime", "external"), -1);
    assert_non_null(strstr(err, "--runtime external needs --executor-addrs"));
    assert_int_equal(LOAD("--runtime", "external", "--executor-addrs", "python=p:8765"), -1);
    assert_non_null(strstr(err, "needs --executor-token-file"));
    assert_int_equal(LOAD("--runtime", "external", "--executor-addrs", "python=p:8765",
                          "--executor-token-file", "/t", "--executor-ca-file",
                          "/nonexistent/ca.pem"),
                     -1);
    assert_non_null(strstr(err, "--executor-ca-file: cannot read /nonexistent/ca.pem"));
    assert_int_equal(LOAD("--runtime", "external", "--executor-addrs",
                          "python=p:8765,10.0.0.7:8765;cpp=[fd00::1]:9", "--executor-token-file",
                          "/t", "--resolve-ms", "500"),
                     0);
    assert_string_equal(cfg.runtime, "external");
    assert_int_equal(cfg.resolve_ms, 500);
    assert_int_equal(LOAD("--executor-addrs", "python=p"), -1);
    assert_non_null(strstr(err, "--executor-addrs: "));
    assert_non_null(strstr(err, "\"p\": the port is missing (HOST:PORT)"));
    setenv("CODEGATE_EXECUTOR_ADDRS", "ruby=r:1", 1);
    assert_int_equal(LOAD0(), -1);
    assert_non_null(strstr(err, "CODEGATE_EXECUTOR_ADDRS: "));
    assert_non_null(strstr(err, "\"ruby\" is not a language"));
    unsetenv("CODEGATE_EXECUTOR_ADDRS");
    /* The other runtimes ignore the external options. */
    assert_int_equal(LOAD("--runtime", "local"), 0);
}

/* --redis-url is checked when read: rediss:// (no TLS in this hiredis) and junk are refused
 * with the flag's name. */
static void test_redis_url(void **state)
{
    (void)state;
    assert_int_equal(LOAD("--redis-url", "unix:///run/r.sock"), 0);
    assert_string_equal(cfg.redis_url, "unix:///run/r.sock");
    assert_int_equal(LOAD("--redis-url=redis://:pw@10.0.0.2:6380/3"), 0);
    expect_fail(LOAD("--redis-url", "rediss://h:6379"), "(TLS) is not supported");
    expect_fail(LOAD("--redis-url", "http://x"), "--redis-url");
    setenv("CODEGATE_REDIS_URL", "redis://", 1);
    expect_fail(LOAD0(), "CODEGATE_REDIS_URL");
    unsetenv("CODEGATE_REDIS_URL");
}

static void test_table_matches_header(void **state)
{
    (void)state;
    /* Every documented variable has a row, every row is documented, names are unique. */
    assert_int_equal(NOPTS, NDOC);
    for (size_t i = 0; i < NDOC; i++) {
        size_t hits = 0;
        for (size_t k = 0; k < NOPTS; k++)
            hits += strcmp(opts[k].env, documented_env[i]) == 0;
        if (hits != 1)
            fail_msg("%s has %zu rows", documented_env[i], hits);
    }
    for (size_t i = 0; i < NOPTS; i++) {
        for (size_t k = 0; k < i; k++)
            assert_string_not_equal(opts[i].name, opts[k].name);
        /* Each row's member lies inside config_t and defaults are valid (load succeeds). */
        assert_true(opts[i].off + opts[i].size <= sizeof(config_t));
        assert_non_null(opts[i].help);
        if (opts[i].type == OPT_INT)
            assert_true(opts[i].min <= opts[i].max);
    }
}

static void test_env(void **state)
{
    (void)state;
    setenv("PORT", "6000", 1);
    setenv("CODEGATE_SLOTS", "8", 1);
    setenv("CODEGATE_LOG_REQUESTS", "no", 1);
    setenv("CODEGATE_RUNTIME", "local", 1);
    setenv("CODEGATE_BIND", "0.0.0.0", 1);
    setenv("CODEGATE_STATE_DIR", "/tmp/st", 1);
    setenv("CODEGATE_QUEUE_MAX", "", 1); /* empty = unset */
    assert_int_equal(LOAD("--instance", "x"), 0);
    assert_int_equal(cfg.port, 6000);
    assert_int_equal(cfg.slots, 8);
    assert_false(cfg.log_requests);
    assert_string_equal(cfg.runtime, "local");
    assert_string_equal(cfg.bind, "0.0.0.0");
    assert_string_equal(cfg.state_dir, "/tmp/st");
    assert_int_equal(cfg.queue_max, 0);
}

static void test_flags_override_env(void **state)
{
    (void)state;
    setenv("PORT", "6000", 1);
    setenv("CODEGATE_SLOTS", "8", 1);
    setenv("CODEGATE_RUNTIME", "docker", 1);
    setenv("CODEGATE_LOG_REQUESTS", "false", 1);
    assert_int_equal(LOAD("--port", "7000", "--runtime=local", "--instance", "a-b_1", "--slots=16",
                          "--log-requests", "--cors-origins=https://a,https://b"),
                     0);
    assert_int_equal(cfg.port, 7000);
    assert_int_equal(cfg.slots, 16);
    assert_string_equal(cfg.runtime, "local");
    assert_string_equal(cfg.instance, "a-b_1");
    assert_true(cfg.log_requests); /* a boolean flag alone means true */
    assert_string_equal(cfg.cors_origins, "https://a,https://b");
    /* The last occurrence wins; a value may contain '='. */
    assert_int_equal(LOAD("--port", "1", "--port=2", "--base-image=reg/x:tag=1"), 0);
    assert_int_equal(cfg.port, 2);
    assert_string_equal(cfg.base_image, "reg/x:tag=1");
    /* Every row can be set by its flag, in both forms. */
    for (size_t i = 0; i < NOPTS; i++) {
        const opt_t *o = &opts[i];
        char num[32], flag[64], joined[96];
        snprintf(num, sizeof num, "%ld", o->max);
        const char *val = o->type == OPT_BOOL               ? "false"
                          : o->type == OPT_INT              ? num
                          : o->choices                      ? "docker"
                          : o->check == check_ipv4          ? "10.0.0.1"
                          : o->check == check_networks      ? "10.0.0.0/8"
                          : o->check == check_addrs         ? "python=h:1"
                          : o->check == check_redis_url     ? "redis://h:1/2"
                                                            : "v";
        snprintf(flag, sizeof flag, "--%s", o->name);
        snprintf(joined, sizeof joined, "--%s=%s", o->name, val);
        for (int form = 0; form < 2; form++) {
            const char *a1[] = {"gw", flag, val}, *a2[] = {"gw", joined};
            int rc = form ? load(2, a2) : load(3, a1);
            if (rc != 0)
                fail_msg("%s %s: %s", flag, val, err);
            const char *p = (const char *)&cfg + o->off;
            if (o->type == OPT_INT)
                assert_int_equal(*(const int *)(const void *)p, o->max);
            else if (o->type == OPT_BOOL)
                assert_false(*(const bool *)p);
            else
                assert_string_equal(p, val);
        }
    }
}

/* The callback rows (server/callback.c): defaults and the two checked string options. */
static void test_callback_options(void **state)
{
    (void)state;
    assert_int_equal(LOAD0(), 0);
    assert_string_equal(cfg.callback_secret_file, "");
    assert_string_equal(cfg.callback_allowed_hosts, "*");
    assert_string_equal(cfg.callback_allow_networks, "");
    assert_int_equal(cfg.callback_max_attempts, 6);
    assert_int_equal(cfg.callback_backoff_ms, 2000);
    assert_int_equal(cfg.callback_backoff_max_ms, 300000);
    assert_int_equal(LOAD("--callback-allowed-hosts", "hooks.example.com,*.example.org",
                          "--callback-allow-networks", "127.0.0.1/32, ::1/128"),
                     0);
    assert_string_equal(cfg.callback_allow_networks, "127.0.0.1/32, ::1/128");
    expect_fail(LOAD("--callback-allow-networks", "10.0.0.1/8"), "--callback-allow-networks");
    expect_fail(LOAD("--callback-allow-networks", "localhost"), "networks such as");
    expect_fail(LOAD("--callback-allowed-hosts", "http://x.org"), "--callback-allowed-hosts");
    expect_fail(LOAD("--callback-max-attempts", "0"), "between 1 and 30");
}

static void test_booleans(void **state)
{
    (void)state;
    static const char *const yes[] = {"true", "TRUE", "1", "yes", "Yes"};
    static const char *const no[] = {"false", "False", "0", "no", "NO"};
    for (size_t i = 0; i < 5; i++) {
        setenv("CODEGATE_LOG_REQUESTS", no[i], 1);
        assert_int_equal(LOAD0(), 0);
        assert_false(cfg.log_requests);
        assert_int_equal(LOAD("--log-requests", yes[i]), 0);
        assert_true(cfg.log_requests);
        setenv("CODEGATE_LOG_REQUESTS", yes[i], 1);
        assert_int_equal(LOAD("--log-requests="
                              "0"),
                         0);
        assert_false(cfg.log_requests);
    }
    setenv("CODEGATE_LOG_REQUESTS", "maybe", 1);
    expect_fail(LOAD0(), "CODEGATE_LOG_REQUESTS: \"maybe\" is not a boolean");
    unsetenv("CODEGATE_LOG_REQUESTS");
    expect_fail(LOAD("--log-requests=on"), "--log-requests");
}

static void test_errors(void **state)
{
    (void)state;
    expect_fail(LOAD("--port", "70000"), "--port: \"70000\" is not an integer between 1 and 65535");
    expect_fail(LOAD("--port", "0"), "--port");
    expect_fail(LOAD("--port=5x"), "--port: \"5x\"");
    expect_fail(LOAD("--port", " 5"), "--port");
    expect_fail(LOAD("--port", "+5"), "--port");
    expect_fail(LOAD("--port", ""), "--port");
    expect_fail(LOAD("--port", "99999999999999999999"), "--port");
    expect_fail(LOAD("--slots", "65"), "--slots: \"65\" is not an integer between 0 and 64");
    expect_fail(LOAD("--job-budget-ms", "999"),
                "--job-budget-ms: \"999\" is not an integer between 1000 and 3600000");
    assert_int_equal(LOAD("--job-budget-ms", "5000"), 0);
    assert_int_equal(cfg.job_budget_ms, 5000);
    expect_fail(LOAD("--drain-ms", "-1"), "--drain-ms");
    assert_int_equal(LOAD("--drain-ms", "0"), 0); /* 0 is the minimum here */
    expect_fail(LOAD("--runtime", "kubernetes"), "--runtime: \"kubernetes\" is not one of "
                                                 "auto|docker|local");
    expect_fail(LOAD("--runtime", "auto|docker"), "is not one of");
    expect_fail(LOAD("--runtime", "dock"), "is not one of");
    expect_fail(LOAD("--runtime", "docker|"), "is not one of");
    expect_fail(LOAD("--runtime", ""), "is not one of");
    expect_fail(LOAD("--runtime", "Docker"), "is not one of");
    expect_fail(LOAD("--nope"), "unknown option \"--nope\"");
    expect_fail(LOAD("--nope=1"), "unknown option \"--nope\"");
    expect_fail(LOAD("--port"), "--port needs a value");
    expect_fail(LOAD("port"), "unexpected argument \"port\"");
    expect_fail(LOAD("-p", "1"), "unexpected argument \"-p\"");
    expect_fail(LOAD("--instance", "../etc"), "--instance: \"../etc\" must be 1 to 32 characters");
    expect_fail(LOAD("--instance", ""), "--instance");
    expect_fail(LOAD("--instance", "abcdefghijabcdefghijabcdefghijabc"), "--instance"); /* 33 */
    assert_int_equal(LOAD("--instance", "abcdefghijabcdefghijabcdefghijab"), 0);        /* 32 */
    expect_fail(LOAD("--bind", "localhost"), "--bind: \"localhost\" must be an IPv4 address");
    expect_fail(LOAD("--bind", "::1"), "--bind");
    expect_fail(LOAD("--base-image", ""), "--base-image");
    char longval[PATH_MAX + 10];
    memset(longval, 'a', sizeof longval - 1);
    longval[sizeof longval - 1] = '\0';
    expect_fail(LOAD("--state-dir", longval), "--state-dir: the value is longer than");

    setenv("CODEGATE_SLOTS", "zero", 1);
    expect_fail(LOAD0(), "CODEGATE_SLOTS: \"zero\" is not an integer between 0 and 64");
    /* A bad variable is an error even when a flag would override it. */
    expect_fail(LOAD("--slots", "2"), "CODEGATE_SLOTS");
    unsetenv("CODEGATE_SLOTS");
    setenv("CODEGATE_INSTANCE", "a b", 1);
    expect_fail(LOAD0(), "CODEGATE_INSTANCE: \"a b\" must be");
}

static void test_docker_host(void **state)
{
    (void)state;
    setenv("DOCKER_HOST", "unix:///tmp/d.sock", 1);
    assert_int_equal(LOAD0(), 0);
    assert_string_equal(cfg.docker_socket, "/tmp/d.sock");
    /* An explicit socket wins over DOCKER_HOST. */
    assert_int_equal(LOAD("--docker-socket", "/x.sock"), 0);
    assert_string_equal(cfg.docker_socket, "/x.sock");
    setenv("CODEGATE_DOCKER_SOCKET", "/env.sock", 1);
    assert_int_equal(LOAD0(), 0);
    assert_string_equal(cfg.docker_socket, "/env.sock");
    unsetenv("CODEGATE_DOCKER_SOCKET");

    /* Not a unix socket: only an error when the runtime must be docker. */
    setenv("DOCKER_HOST", "tcp://10.0.0.1:2375", 1);
    assert_int_equal(LOAD0(), 0);
    assert_string_equal(cfg.docker_socket, "/var/run/docker.sock");
    assert_int_equal(LOAD("--runtime", "local"), 0);
    expect_fail(LOAD("--runtime", "docker"), "DOCKER_HOST=tcp://10.0.0.1:2375");
    assert_int_equal(LOAD("--runtime", "docker", "--docker-socket", "/s"), 0);
    assert_string_equal(cfg.docker_socket, "/s");
    setenv("DOCKER_HOST", "unix://", 1); /* no path: like no DOCKER_HOST for auto */
    assert_int_equal(LOAD0(), 0);
    assert_string_equal(cfg.docker_socket, "/var/run/docker.sock");
    setenv("DOCKER_HOST", "", 1);
    assert_int_equal(LOAD("--runtime", "docker"), 0);
    assert_string_equal(cfg.docker_socket, "/var/run/docker.sock");
}

static void test_help_and_version(void **state)
{
    (void)state;
    int rc;
    const char *ah[] = {"gateway", "--port", "1", "--help", "--nope"};
    char *out = load_capture(5, ah, &rc);
    assert_int_equal(rc, 1); /* printed; the caller exits 0 */
    assert_non_null(strstr(out, "Usage: gateway"));
    for (size_t i = 0; i < NDOC; i++)
        if (!strstr(out, documented_env[i]))
            fail_msg("--help does not mention %s", documented_env[i]);
    for (size_t i = 0; i < NOPTS; i++) {
        char flag[64];
        snprintf(flag, sizeof flag, "--%s ", opts[i].name);
        assert_non_null(strstr(out, flag));
        assert_non_null(strstr(out, opts[i].help));
    }
    assert_non_null(strstr(out, "1..65535"));
    assert_non_null(strstr(out, "auto|docker|local"));
    assert_non_null(strstr(out, "--version"));
    free(out);

    const char *av[] = {"gateway", "--version"};
    out = load_capture(2, av, &rc);
    assert_int_equal(rc, 1);
    assert_string_equal(out, "codegate " CG_VERSION "\n");
    assert_string_equal(CG_VERSION, "0.1.0");
    free(out);
    const char *a3[] = {"gateway", "-h"};
    out = load_capture(2, a3, &rc);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "Usage"));
    free(out);
}

static void test_markdown(void **state)
{
    (void)state;
    char *buf = NULL, *line, *save = NULL;
    size_t len = 0, rows = 0;
    FILE *f = open_memstream(&buf, &len);

    config_print_markdown(f);
    fclose(f);
    assert_non_null(strstr(buf, "| `--port` | `PORT` | `5000` | 1..65535 | HTTP port |\n"));
    assert_non_null(strstr(buf, "| `--runtime` | `CODEGATE_RUNTIME` | `auto` | auto, docker, "
                                "local, external |"));
    assert_non_null(strstr(buf, "| `--log-requests` | `CODEGATE_LOG_REQUESTS` | `true` | "
                                "true, false |"));
    assert_non_null(strstr(buf, "| `--state-dir` | `CODEGATE_STATE_DIR` | (see description) |"));
    for (size_t i = 0; i < NDOC; i++) {
        char cell[64];
        snprintf(cell, sizeof cell, "| `%s` |", documented_env[i]);
        if (!strstr(buf, cell))
            fail_msg("markdown table has no row for %s", documented_env[i]);
    }
    /* A well-formed table: header, separator, one row per option, 6 pipes on every line. */
    for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        size_t pipes = 0;
        for (char *p = line; *p; p++)
            pipes += *p == '|';
        if (pipes != 6)
            fail_msg("line with %zu pipes: %s", pipes, line);
        rows++;
    }
    assert_int_equal(rows, NOPTS + 2);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults, setup),
        cmocka_unit_test_setup(test_table_matches_header, setup),
        cmocka_unit_test_setup(test_env, setup),
        cmocka_unit_test_setup(test_flags_override_env, setup),
        cmocka_unit_test_setup(test_callback_options, setup),
        cmocka_unit_test_setup(test_booleans, setup),
        cmocka_unit_test_setup(test_errors, setup),
        cmocka_unit_test_setup(test_external, setup),
        cmocka_unit_test_setup(test_docker_host, setup),
        cmocka_unit_test_setup(test_help_and_version, setup),
        cmocka_unit_test_setup(test_markdown, setup),
        cmocka_unit_test_setup(test_redis_url, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
