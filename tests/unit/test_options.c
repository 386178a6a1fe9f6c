/*
 * test_options.c - the executor's configuration (executors/options.c): environment and flags,
 * the token (file with a newline, too short, too long, never kept when refused), the slot uid
 * base (a number, or auto from a fake interface list), the TLS file pair; and the pure parts
 * of the health answer and the probe.
 */
// LDWRAP: -lssl
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "health.h"
#include "options.h"
#include "probe.h"

static char g_dir[] = "/tmp/cg-options-XXXXXX";
static char g_err[256];

static FILE *null_out(void)
{
    return fopen("/dev/null", "w");
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* argv of the given words (at most 7) in writable storage, as main() gets it. */
static char g_words[8][40];
static char *g_argv[9];

static char **make_argv(int n, ...)
{
    va_list ap;

    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        snprintf(g_words[i], sizeof g_words[i], "%s", va_arg(ap, const char *));
        g_argv[i] = g_words[i];
    }
    va_end(ap);
    g_argv[n] = NULL;
    return g_argv;
}

static void test_env_then_flags(void **state)
{
    (void)state;
    options_t o;
    FILE *err = null_out();
    char **argv = make_argv(6, "executor", "--slots", "7", "--probe", "--listen", "unix:/x");

    setenv("EXECUTOR_SLOTS", "3", 1);
    setenv("EXECUTOR_DRAIN_MS", "1500", 1);
    setenv("EXECUTOR_UID_BASE", "auto", 1);
    assert_int_equal(options_load(&o, 6, argv, err), 0);
    assert_int_equal(o.slots, 7); /* the flag wins */
    assert_int_equal(o.drain_ms, 1500);
    assert_true(o.probe);
    assert_string_equal(o.listen, "unix:/x");
    assert_string_equal(o.uid_base_spec, "auto");
    assert_null(o.tls_cert);
    /* defaults */
    unsetenv("EXECUTOR_DRAIN_MS");
    unsetenv("EXECUTOR_UID_BASE");
    argv = make_argv(1, "executor");
    assert_int_equal(options_load(&o, 1, argv, err), 0);
    assert_int_equal(o.drain_ms, 25000);
    assert_string_equal(o.uid_base_spec, "60000");
    assert_false(o.probe);
    /* out of range, unknown flag, missing value */
    setenv("EXECUTOR_DRAIN_MS", "-1", 1);
    assert_int_equal(options_load(&o, 1, argv, err), -1);
    unsetenv("EXECUTOR_DRAIN_MS");
    assert_int_equal(options_load(&o, 2, make_argv(2, "executor", "--nope"), err), -1);
    assert_int_equal(options_load(&o, 2, make_argv(2, "executor", "--tls-key-file"), err), -1);
    unsetenv("EXECUTOR_SLOTS");
    fclose(err);
}

static void test_token(void **state)
{
    (void)state;
    options_t o;
    char path[128];

    memset(&o, 0, sizeof o);
    /* from the environment: taken, then wiped */
    setenv("EXECUTOR_TOKEN", "0123456789abcdef", 1);
    assert_int_equal(options_read_token(&o, g_err, sizeof g_err), 0);
    assert_string_equal(o.token, "0123456789abcdef");
    assert_null(getenv("EXECUTOR_TOKEN"));
    /* too short: refused, the message does not repeat it, nothing kept */
    setenv("EXECUTOR_TOKEN", "short-token-15c", 1);
    assert_int_equal(options_read_token(&o, g_err, sizeof g_err), -1);
    assert_non_null(strstr(g_err, "has 15 characters; at least 16 are required"));
    assert_null(strstr(g_err, "short-token"));
    assert_string_equal(o.token, "");
    /* none at all */
    assert_int_equal(options_read_token(&o, g_err, sizeof g_err), -1);
    assert_non_null(strstr(g_err, "required"));
    /* a file ending with a newline (echo, editors, Kubernetes Secrets made from files) */
    snprintf(path, sizeof path, "%s/token", g_dir);
    write_file(path, "file-token-0123456789\n");
    o.token_file = path;
    assert_int_equal(options_read_token(&o, g_err, sizeof g_err), 0);
    assert_string_equal(o.token, "file-token-0123456789");
    write_file(path, "crlf-token-0123456789\r\n");
    assert_int_equal(options_read_token(&o, g_err, sizeof g_err), 0);
    assert_string_equal(o.token, "crlf-token-0123456789");
    /* two lines: not a token */
    write_file(path, "line-one-0123456789\nline-two\n");
    assert_int_equal(options_read_token(&o, g_err, sizeof g_err), -1);
    /* longer than the maximum: refused, not cut */
    char big[OPTIONS_TOKEN_MAX + 8];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    write_file(path, big);
    assert_int_equal(options_read_token(&o, g_err, sizeof g_err), -1);
    /* an empty file, a missing file */
    write_file(path, "\n");
    assert_int_equal(options_read_token(&o, g_err, sizeof g_err), -1);
    o.token_file = "/nonexistent/token";
    assert_int_equal(options_read_token(&o, g_err, sizeof g_err), -1);
    assert_non_null(strstr(g_err, "/nonexistent/token"));
    unlink(path);
}

/* A fake getifaddrs() list. */
static struct sockaddr_in g_sin[3];
static struct ifaddrs g_if[3];

static void fake_if(int i, const char *name, const char *addr, unsigned flags)
{
    g_sin[i].sin_family = AF_INET;
    inet_pton(AF_INET, addr, &g_sin[i].sin_addr);
    g_if[i] = (struct ifaddrs){.ifa_name = (char *)name,
                               .ifa_flags = flags,
                               .ifa_addr = (struct sockaddr *)&g_sin[i],
                               .ifa_next = i < 2 ? &g_if[i + 1] : NULL};
}

static void test_uid_base(void **state)
{
    (void)state;
    uid_t base;
    char how[96];

    assert_int_equal(options_uid_base("61000", NULL, &base, how, sizeof how, g_err, sizeof g_err),
                     0);
    assert_int_equal(base, 61000);
    assert_int_equal(options_uid_base("999", NULL, &base, how, sizeof how, g_err, sizeof g_err),
                     -1);
    assert_int_equal(options_uid_base("12x", NULL, &base, how, sizeof how, g_err, sizeof g_err),
                     -1);
    /* auto: loopback and interfaces that are down are skipped */
    fake_if(0, "lo", "127.0.0.1", IFF_UP | IFF_LOOPBACK);
    fake_if(1, "eth1", "10.9.9.9", 0);
    fake_if(2, "eth0", "172.18.3.7", IFF_UP);
    assert_int_equal(options_uid_base("auto", g_if, &base, how, sizeof how, g_err, sizeof g_err),
                     0);
    assert_int_equal(base, OPTIONS_UID_AUTO_FIRST + 0x0307 * OPTIONS_UID_AUTO_STRIDE);
    assert_non_null(strstr(how, "eth0"));
    assert_non_null(strstr(how, "172.18.3.7"));
    /* neighbours get disjoint ranges of 64 (the largest --slots) */
    uid_t a = options_uid_auto_base(0xac120307), b = options_uid_auto_base(0xac120308);
    assert_int_equal(b - a, 64);
    /* the largest address still fits the numeric bound */
    assert_true(options_uid_auto_base(0xffffffff) + 63 <= 2000000000u);
    /* nothing usable */
    g_if[2].ifa_flags = 0;
    assert_int_equal(options_uid_base("auto", g_if, &base, how, sizeof how, g_err, sizeof g_err),
                     -1);
    assert_non_null(strstr(g_err, "auto"));
    assert_int_equal(options_uid_base("auto", NULL, &base, how, sizeof how, g_err, sizeof g_err),
                     -1);
}

static void test_tls_pair(void **state)
{
    (void)state;
    options_t o;
    char cert[128], key[128];

    memset(&o, 0, sizeof o);
    assert_int_equal(options_check_tls(&o, g_err, sizeof g_err), 0); /* no TLS */
    snprintf(cert, sizeof cert, "%s/cert.pem", g_dir);
    snprintf(key, sizeof key, "%s/key.pem", g_dir);
    o.tls_cert = cert;
    assert_int_equal(options_check_tls(&o, g_err, sizeof g_err), -1);
    assert_non_null(strstr(g_err, "only the certificate"));
    o.tls_key = key;
    assert_int_equal(options_check_tls(&o, g_err, sizeof g_err), -1); /* missing files */
    assert_non_null(strstr(g_err, cert));
    write_file(cert, "not a certificate\n");
    write_file(key, "not a key\n");
    assert_int_equal(options_check_tls(&o, g_err, sizeof g_err), -1);
    assert_non_null(strstr(g_err, "not a PEM private key"));
    unlink(cert);
    unlink(key);
}

static void test_health(void **state)
{
    (void)state;
    char body[256];
    health_t h = {.language = "python", .slots = 4, .busy = 1};

    assert_int_equal(health_answer(&h, body, sizeof body), 200);
    assert_string_equal(body, "{\"status\":\"ok\",\"language\":\"python\",\"slots\":4,\"busy\":1,"
                              "\"slotsDown\":0,\"draining\":false}");
    h.slots_down = 3;
    assert_int_equal(health_answer(&h, body, sizeof body), 200); /* one slot left */
    h.slots_down = 4;
    assert_int_equal(health_answer(&h, body, sizeof body), 503);
    assert_non_null(strstr(body, "\"status\":\"unavailable\""));
    h.slots_down = 0;
    h.draining = true;
    assert_int_equal(health_answer(&h, body, sizeof body), 503);
    assert_non_null(strstr(body, "\"status\":\"draining\""));
    assert_non_null(strstr(body, "\"draining\":true"));
}

static void test_probe(void **state)
{
    (void)state;
    FILE *out = null_out();
    FILE *err = tmpfile();
    char line[256] = "";

    assert_string_equal(probe_host("0.0.0.0"), "127.0.0.1");
    assert_string_equal(probe_host(""), "127.0.0.1");
    assert_string_equal(probe_host("::"), "::1");
    assert_string_equal(probe_host("10.1.2.3"), "10.1.2.3");
    /* nothing listens: exit 1 and one line saying why */
    char sock[160];
    snprintf(sock, sizeof sock, "unix:%s/none.sock", g_dir);
    assert_int_equal(probe_run(sock, false, 1000, out, err), 1);
    assert_int_equal(probe_run("tcp:nohost", false, 1000, out, err), 1);
    rewind(err);
    assert_non_null(fgets(line, sizeof line, err));
    assert_non_null(strstr(line, "executor probe: cannot connect to"));
    assert_non_null(fgets(line, sizeof line, err));
    assert_non_null(strstr(line, "bad listen address"));
    fclose(out);
    fclose(err);
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return rmdir(g_dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_env_then_flags), cmocka_unit_test(test_token),
        cmocka_unit_test(test_uid_base),       cmocka_unit_test(test_tls_pair),
        cmocka_unit_test(test_health),         cmocka_unit_test(test_probe),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
