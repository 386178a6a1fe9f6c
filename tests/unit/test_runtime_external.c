/*
 * test_runtime_external.c - the external runtime's parts that need no executor: parsing
 * --executor-addrs (server/extaddr.c: every accepted form and every malformed one, with the
 * message naming the faulty part), endpoint ids, the diff of two resolved sets, the token file
 * rules, and one resolve pass after another with a fake resolver (includes runtime_external.c
 * to replace getaddrinfo): new addresses announced up, vanished ones down, a failing name keeps
 * its last addresses, a name that never resolved contributes nothing.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../server/runtime_external.c"

static extaddr_target_t tg[EXTADDR_MAX_TARGETS];
static int ntg;
static char err[320];

static int parse(const char *spec)
{
    err[0] = '\0';
    return extaddr_parse(spec, tg, EXTADDR_MAX_TARGETS, &ntg, err, sizeof err);
}

static void expect_error(const char *spec, const char *needle)
{
    if (parse(spec) != -1)
        fail_msg("\"%s\" was accepted", spec);
    if (!strstr(err, needle))
        fail_msg("\"%s\": error \"%s\" does not mention \"%s\"", spec, err, needle);
}

static void test_parse_ok(void **state)
{
    (void)state;
    assert_int_equal(parse("python=python-exec:8765,10.0.0.7:8765;javascript=js:8765;"
                           "cpp=cpp_exec.ns.svc.cluster.local:1"),
                     0);
    assert_int_equal(ntg, 4);
    assert_int_equal(tg[0].lang, lang_index("python"));
    assert_string_equal(tg[0].host, "python-exec");
    assert_int_equal(tg[0].port, 8765);
    assert_string_equal(tg[1].host, "10.0.0.7");
    assert_int_equal(tg[2].lang, lang_index("javascript"));
    assert_int_equal(tg[3].lang, lang_index("cpp"));
    assert_string_equal(tg[3].host, "cpp_exec.ns.svc.cluster.local");
    assert_int_equal(tg[3].port, 1);
    /* Blanks around separators, a trailing ';', IPv6 in brackets, the largest port. */
    assert_int_equal(parse(" python = a:1 , [fd00::7]:65535 ; "), 0);
    assert_int_equal(ntg, 2);
    assert_string_equal(tg[0].host, "a");
    assert_string_equal(tg[1].host, "fd00::7");
    assert_int_equal(tg[1].port, 65535);
}

static void test_parse_errors(void **state)
{
    (void)state;
    expect_error("", "no executor address");
    expect_error(" ; ", "no executor address");
    expect_error("python", "each part is LANGUAGE=HOST:PORT");
    expect_error("ruby=r:1",
                 "\"ruby\" is not a language (one of python, javascript, cpp, c, java)");
    expect_error("Python=r:1", "\"Python\" is not a language");
    expect_error("python=a:1;python=b:2", "python appears twice");
    expect_error("python=", "an empty address in the list of python");
    expect_error("python=a:1,,b:2", "an empty address");
    expect_error("python=a:1,", "an empty address");
    expect_error("python=host", "\"host\": the port is missing (HOST:PORT)");
    expect_error("python=host:", "\"host:\": the port must be 1..65535");
    expect_error("python=host:0", "the port must be 1..65535");
    expect_error("python=host:65536", "the port must be 1..65535");
    expect_error("python=host:123456", "the port must be 1..65535");
    expect_error("python=host:8x", "the port must be 1..65535");
    expect_error("python=host:-1", "the port must be 1..65535");
    expect_error("python=ho st:1", "the host must be a name of [A-Za-z0-9._-]");
    expect_error("python=a/b:1", "the host must be a name");
    expect_error("python=:1", "the host must be a name");
    expect_error("python=-a:1", "the host must be a name");
    expect_error("python=fd00::1:8765", "the host must be a name"); /* IPv6 needs brackets */
    expect_error("python=[fd00::1]", "an IPv6 address is written [ADDRESS]:PORT");
    expect_error("python=[fd00::1:8765", "an IPv6 address is written [ADDRESS]:PORT");
    expect_error("python=[nothex]:1", "not an IPv6 address");
    char big[EXTADDR_HOST_MAX + 16];
    memset(big, 'a', sizeof big);
    memcpy(big, "python=", 7);
    snprintf(big + sizeof big - 4, 4, ":1");
    expect_error(big, "the host must be a name");
    /* More entries than fit. */
    char many[EXTADDR_MAX_TARGETS * 8 + 32];
    size_t n = (size_t)snprintf(many, sizeof many, "python=h:1");
    for (int i = 0; i < EXTADDR_MAX_TARGETS; i++)
        n += (size_t)snprintf(many + n, sizeof many - n, ",h:%d", i + 2);
    expect_error(many, "more than 32 addresses");
}

static extaddr_ep_t ep(int lang, const char *ip, int port)
{
    extaddr_ep_t e;

    memset(&e, 0, sizeof e);
    e.lang = lang;
    e.port = port;
    snprintf(e.ip, sizeof e.ip, "%s", ip);
    return e;
}

static void test_id_and_diff(void **state)
{
    (void)state;
    char id[64];
    extaddr_ep_t a = ep(0, "10.0.0.5", 8765), b = ep(0, "fd00::5", 8765),
                 c = ep(2, "10.0.0.5", 8765), d = ep(0, "10.0.0.5", 9000);

    extaddr_id(&a, id, sizeof id);
    assert_string_equal(id, "python@10.0.0.5:8765");
    extaddr_id(&b, id, sizeof id);
    assert_string_equal(id, "python@[fd00::5]:8765");
    extaddr_id(&c, id, sizeof id);
    assert_string_equal(id, "cpp@10.0.0.5:8765");

    extaddr_ep_t old[] = {a, b, c}, cur[] = {c, d, a}, gone[4], came[4];
    int ngone, ncame;
    extaddr_diff(old, 3, cur, 3, gone, &ngone, came, &ncame);
    assert_int_equal(ngone, 1);
    assert_string_equal(gone[0].ip, "fd00::5");
    assert_int_equal(ncame, 1);
    assert_int_equal(came[0].port, 9000);
    /* Same language, address and port is the same endpoint, whatever target it came from. */
    extaddr_ep_t a2 = a;
    a2.target = 7;
    assert_true(extaddr_contains(old, 3, &a2));
    extaddr_diff(old, 3, old, 3, gone, &ngone, came, &ncame);
    assert_int_equal(ngone + ncame, 0);
    extaddr_diff(NULL, 0, cur, 3, gone, &ngone, came, &ncame);
    assert_int_equal(ncame, 3);
    assert_int_equal(ngone, 0);
}

/* ---- the token file ---- */

static char tmpdir[64];

static const char *token_file(const char *content)
{
    static char path[128];
    FILE *f;

    snprintf(path, sizeof path, "%s/token", tmpdir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
    return path;
}

static void test_token(void **state)
{
    (void)state;
    char tok[RUNTIME_TOKEN_MAX + 1];
    char long_tok[RUNTIME_TOKEN_MAX + 8];

    assert_non_null(mkdtemp(strcpy(tmpdir, "/tmp/cg-ext-unit-XXXXXX")));
    assert_int_equal(read_token(token_file("0123456789abcdef\n"), tok, sizeof tok, err, sizeof err),
                     0);
    assert_string_equal(tok, "0123456789abcdef");
    assert_int_equal(read_token(token_file("0123456789abcdef"), tok, sizeof tok, err, sizeof err),
                     0);
    assert_string_equal(tok, "0123456789abcdef");
    /* Only one newline is stripped: a second is a control character. */
    assert_int_equal(
        read_token(token_file("0123456789abcdef\n\n"), tok, sizeof tok, err, sizeof err), -1);
    assert_non_null(strstr(err, "blank, control or non-ASCII character at offset 16"));
    assert_int_equal(read_token(token_file("0123456789abcde\n"), tok, sizeof tok, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "has 15 characters; at least 16 are required"));
    assert_int_equal(read_token(token_file(""), tok, sizeof tok, err, sizeof err), -1);
    assert_non_null(strstr(err, "has 0 characters"));
    assert_int_equal(read_token(token_file("0123456789 abcdef"), tok, sizeof tok, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "blank, control or non-ASCII character at offset 10"));
    memset(long_tok, 'x', sizeof long_tok - 1);
    long_tok[sizeof long_tok - 1] = '\0';
    assert_int_equal(read_token(token_file(long_tok), tok, sizeof tok, err, sizeof err), -1);
    assert_non_null(strstr(err, "longer than 255 characters"));
    char missing[96];
    snprintf(missing, sizeof missing, "%s/none", tmpdir);
    assert_int_equal(read_token(missing, tok, sizeof tok, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot open"));
    unlink(token_file(""));
    rmdir(tmpdir);
}

/* ---- resolve passes with a fake resolver ---- */

#define FAKE_HOSTS 4
static struct {
    const char *host;
    const char *ips[4]; /* NULL-terminated; ips[0] NULL with fail = resolution fails */
    bool fail;
} fake[FAKE_HOSTS];

static int fake_resolve(const char *host, char ips[][EXTADDR_IP_MAX], int max, int *n, char *e,
                        size_t elen)
{
    *n = 0;
    for (int i = 0; i < FAKE_HOSTS; i++) {
        if (!fake[i].host || strcmp(fake[i].host, host) != 0)
            continue;
        if (fake[i].fail)
            break;
        for (int k = 0; k < 4 && fake[i].ips[k] && *n < max; k++)
            snprintf(ips[(*n)++], EXTADDR_IP_MAX, "%s", fake[i].ips[k]);
        return 0;
    }
    snprintf(e, elen, "Name or service not known");
    return EAI_NONAME;
}

typedef struct {
    char id[64];
    bool up;
    bool tls, finish_on_down;
    char host[64], token[64];
} seen_t;

static seen_t seen[32];
static int nseen;

static void on_ep(void *arg, const runtime_endpoint_t *e, bool up)
{
    (void)arg;
    assert_true(nseen < 32);
    snprintf(seen[nseen].id, sizeof seen[nseen].id, "%s", e->id);
    seen[nseen].up = up;
    seen[nseen].tls = e->tls;
    seen[nseen].finish_on_down = e->finish_on_down;
    snprintf(seen[nseen].host, sizeof seen[nseen].host, "%s", e->host);
    snprintf(seen[nseen].token, sizeof seen[nseen].token, "%s", e->token);
    nseen++;
}

/* True when the announcements since `from` are exactly `want` ("+id" up, "-id" down), in any
 * order. */
static void expect_seen(int from, const char *const *want, int nwant)
{
    assert_int_equal(nseen - from, nwant);
    for (int i = 0; i < nwant; i++) {
        bool found = false;
        for (int k = from; k < nseen && !found; k++)
            found = seen[k].up == (want[i][0] == '+') && strcmp(seen[k].id, want[i] + 1) == 0;
        if (!found)
            fail_msg("no announcement %s", want[i]);
    }
}

static void test_resolve_passes(void **state)
{
    (void)state;
    config_t cfg;
    ext_rt_t *rt;
    int mark;

    memset(&cfg, 0, sizeof cfg);
    memset(fake, 0, sizeof fake);
    nseen = 0;
    snprintf(cfg.executor_addrs, sizeof cfg.executor_addrs,
             "python=py:8765,10.0.0.9:8765;cpp=cpp:9000");
    assert_non_null(mkdtemp(strcpy(tmpdir, "/tmp/cg-ext-unit-XXXXXX")));
    snprintf(cfg.executor_token_file, sizeof cfg.executor_token_file, "%s",
             token_file("shared-secret-0123456789\n"));
    cfg.resolve_ms = 250;
    rt = (ext_rt_t *)runtime_external_new(&cfg, on_ep, NULL);
    assert_non_null(rt);
    assert_int_equal(rt->base.ops->watch_ms, 250);
    rt->resolve = fake_resolve;
    fake[0].host = "py";
    fake[0].ips[0] = "10.0.0.5";
    fake[0].ips[1] = "10.0.0.6";
    fake[1].host = "10.0.0.9";
    fake[1].ips[0] = "10.0.0.9";
    /* "cpp" does not resolve yet (a Compose service not started): nothing for it. */
    assert_int_equal(rt->base.ops->start(&rt->base), 0);
    const char *first[] = {"+python@10.0.0.5:8765", "+python@10.0.0.6:8765",
                           "+python@10.0.0.9:8765"};
    expect_seen(0, first, 3);
    assert_string_equal(seen[0].token, "shared-secret-0123456789");
    assert_string_equal(seen[0].host, "py");
    assert_false(seen[0].tls);
    assert_true(seen[0].finish_on_down);
    assert_true(runtime_external_offers(&cfg, lang_index("cpp")));
    assert_false(runtime_external_offers(&cfg, lang_index("javascript")));

    /* Same answers: nothing announced. */
    mark = nseen;
    rt->base.ops->watch(&rt->base);
    assert_int_equal(nseen, mark);

    /* A replica goes, another comes, cpp starts resolving. */
    fake[0].ips[0] = "10.0.0.7";
    fake[2].host = "cpp";
    fake[2].ips[0] = "fd00::3";
    rt->base.ops->watch(&rt->base);
    const char *second[] = {"-python@10.0.0.5:8765", "+python@10.0.0.7:8765",
                            "+cpp@[fd00::3]:9000"};
    expect_seen(mark, second, 3);
    /* Downs are announced before ups. */
    assert_false(seen[mark].up);

    /* "py" fails to resolve: its last addresses stay, nothing is announced. */
    mark = nseen;
    fake[0].fail = true;
    rt->base.ops->watch(&rt->base);
    rt->base.ops->watch(&rt->base);
    assert_int_equal(nseen, mark);
    assert_true(rt->st[0].failing);
    assert_int_equal(rt->ncur, 4);

    /* It resolves again, to one address: the others leave. */
    fake[0].fail = false;
    fake[0].ips[1] = NULL;
    rt->base.ops->watch(&rt->base);
    const char *third[] = {"-python@10.0.0.6:8765"};
    expect_seen(mark, third, 1);
    assert_false(rt->st[0].failing);

    /* Two targets resolving to the same address make one endpoint. */
    mark = nseen;
    fake[1].ips[0] = "10.0.0.7";
    rt->base.ops->watch(&rt->base);
    const char *fourth[] = {"-python@10.0.0.9:8765"};
    expect_seen(mark, fourth, 1);
    assert_int_equal(rt->ncur, 2);

    runtime_stop(&rt->base); /* no watcher was started: stop_all only; nothing announced */
    assert_int_equal(nseen, mark + 1);
    runtime_free(&rt->base);
    unlink(cfg.executor_token_file);
    rmdir(tmpdir);
}

static void test_start_refuses_bad_token(void **state)
{
    (void)state;
    config_t cfg;
    runtime_t *rt;

    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.executor_addrs, sizeof cfg.executor_addrs, "python=py:8765");
    assert_non_null(mkdtemp(strcpy(tmpdir, "/tmp/cg-ext-unit-XXXXXX")));
    snprintf(cfg.executor_token_file, sizeof cfg.executor_token_file, "%s", token_file("short"));
    cfg.resolve_ms = 1000;
    rt = runtime_external_new(&cfg, on_ep, NULL);
    assert_non_null(rt);
    nseen = 0;
    assert_int_equal(runtime_start(rt), -EINVAL);
    assert_int_equal(nseen, 0);
    runtime_stop(rt);
    runtime_free(rt);
    unlink(cfg.executor_token_file);
    rmdir(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_ok),       cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_id_and_diff),    cmocka_unit_test(test_token),
        cmocka_unit_test(test_resolve_passes), cmocka_unit_test(test_start_refuses_bad_token),
    };
    alarm(60);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
