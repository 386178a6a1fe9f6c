/*
 * test_netpolicy.c - the SSRF address policy on a large table of IPv4 and IPv6 addresses
 * (range edges, mapped/NAT64/6to4 forms that carry an IPv4 address), the explicit allow list
 * of networks (parsing, host bits, edges of a CIDR), the host-name allow list and what the URL
 * parser hands back.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alarm_fixture.h"
#include "netpolicy.h"

/* Fills ss from an address literal of either family. */
static const struct sockaddr *addr_of(const char *text, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
    } else {
        if (inet_pton(AF_INET6, text, &in6->sin6_addr) != 1)
            fail_msg("bad literal in the test table: %s", text);
        in6->sin6_family = AF_INET6;
    }
    return (const struct sockaddr *)ss;
}

typedef struct {
    const char *addr;
    const char *special; /* NULL = public; else a word the range name contains */
} addr_case_t;

static const addr_case_t cases[] = {
    /* IPv4 public, including neighbours of special ranges */
    {"8.8.8.8", NULL},
    {"1.1.1.1", NULL},
    {"1.0.0.0", NULL},
    {"9.255.255.255", NULL},
    {"11.0.0.0", NULL},
    {"100.63.255.255", NULL},
    {"100.128.0.0", NULL},
    {"126.255.255.255", NULL},
    {"128.0.0.0", NULL},
    {"169.253.255.255", NULL},
    {"169.255.0.0", NULL},
    {"172.15.255.255", NULL},
    {"172.32.0.0", NULL},
    {"192.0.1.0", NULL},
    {"192.0.3.0", NULL},
    {"192.167.255.255", NULL},
    {"192.169.0.0", NULL},
    {"198.17.255.255", NULL},
    {"198.20.0.0", NULL},
    {"223.255.255.255", NULL},
    /* IPv4 special */
    {"0.0.0.0", "this network"},
    {"0.255.255.255", "this network"},
    {"10.0.0.0", "private"},
    {"10.255.255.255", "private"},
    {"100.64.0.0", "CGNAT"},
    {"100.127.255.255", "CGNAT"},
    {"127.0.0.1", "loopback"},
    {"127.255.255.254", "loopback"},
    {"169.254.169.254", "link-local"},
    {"169.254.0.0", "link-local"},
    {"172.16.0.0", "private"},
    {"172.31.255.255", "private"},
    {"192.0.0.8", "IETF"},
    {"192.0.2.1", "documentation"},
    {"192.88.99.1", "6to4"},
    {"192.168.0.1", "private"},
    {"192.168.255.255", "private"},
    {"198.18.0.0", "benchmarking"},
    {"198.19.255.255", "benchmarking"},
    {"198.51.100.7", "documentation"},
    {"203.0.113.9", "documentation"},
    {"224.0.0.1", "multicast"},
    {"239.255.255.255", "multicast"},
    {"240.0.0.1", "reserved"},
    {"255.255.255.254", "reserved"},
    {"255.255.255.255", "broadcast"},
    /* IPv6 public */
    {"2001:4860:4860::8888", NULL},
    {"2606:4700:4700::1111", NULL},
    {"2a00:1450:4001:80b::200e", NULL},
    {"2001:200::1", NULL}, /* just above 2001::/23 */
    {"2001:db7:ffff::1", NULL},
    {"2001:db9::1", NULL},
    {"3ffe::1", NULL},
    {"3fff:1000::1", NULL}, /* just above 3fff::/20 */
    /* IPv6 special */
    {"::", "unspecified"},
    {"::1", "loopback"},
    {"::2", "reserved"},
    {"::127.0.0.1", "reserved"}, /* IPv4-compatible: refused whatever it carries */
    {"::8.8.8.8", "reserved"},
    {"::ffff:0:8.8.8.8", "reserved"}, /* IPv4-translated */
    {"64:ff9b:1::1", "NAT64"},
    {"100::1", "discard"},
    {"2001::1", "IETF"},
    {"2001:0:4136:e378:8000:63bf:3fff:fdd2", "IETF"}, /* Teredo */
    {"2001:1ff:ffff::1", "IETF"},
    {"2001:db8::1", "documentation"},
    {"2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "documentation"},
    {"3fff::1", "documentation"},
    {"3fff:fff:ffff::1", "documentation"},
    {"fc00::1", "unique-local"},
    {"fd12:3456::1", "unique-local"},
    {"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "unique-local"},
    {"fe80::1", "link-local"},
    {"febf:ffff::1", "link-local"},
    {"fec0::1", "site-local"},
    {"ff02::1", "multicast"},
    {"ff05::1:3", "multicast"},
    {"4000::1", "reserved"},
    {"5f00::1", "reserved"},
    {"1::1", "reserved"},
    {"e000::1", "reserved"},
    /* IPv6 forms that carry an IPv4 address: judged by that address */
    {"::ffff:127.0.0.1", "loopback"},
    {"::ffff:7f00:1", "loopback"},
    {"::ffff:169.254.169.254", "link-local"},
    {"::ffff:10.1.2.3", "private"},
    {"::ffff:192.168.1.1", "private"},
    {"::ffff:100.64.0.1", "CGNAT"},
    {"::ffff:0.0.0.0", "this network"},
    {"::ffff:255.255.255.255", "broadcast"},
    {"::ffff:8.8.8.8", NULL},
    {"64:ff9b::127.0.0.1", "loopback"},
    {"64:ff9b::a9fe:a9fe", "link-local"},
    {"64:ff9b::8.8.8.8", NULL},
    {"2002:7f00:1::", "loopback"},
    {"2002:a9fe:a9fe::1", "link-local"},
    {"2002:c0a8:101::1", "private"},
    {"2002:808:808::1", NULL},
};

static void test_address_table(void **state)
{
    (void)state;
    struct sockaddr_storage ss;
    char why[128];
    size_t bad = 0;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const addr_case_t *c = &cases[i];
        const struct sockaddr *sa = addr_of(c->addr, &ss);
        const char *got = netpolicy_special(sa);
        int rc = netpolicy_check_addr(NULL, sa, why, sizeof why);
        if (c->special == NULL && (got != NULL || rc != 0)) {
            print_error("%s: expected public, got \"%s\" (%d)\n", c->addr, got, rc);
            bad++;
        } else if (c->special &&
                   (!got || !strstr(got, c->special) || rc != -EPERM || !strstr(why, got))) {
            print_error("%s: expected %s, got \"%s\" (%d, \"%s\")\n", c->addr, c->special,
                        got ? got : "public", rc, rc ? why : "");
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

static void test_reason_names_address(void **state)
{
    (void)state;
    struct sockaddr_storage ss;
    char why[128];

    assert_int_equal(netpolicy_check_addr(NULL, addr_of("169.254.169.254", &ss), why, sizeof why),
                     -EPERM);
    assert_string_equal(why, "169.254.169.254 is link-local (cloud metadata)");
    assert_int_equal(netpolicy_check_addr(NULL, addr_of("::1", &ss), why, sizeof why), -EPERM);
    assert_string_equal(why, "::1 is loopback");

    struct sockaddr un = {.sa_family = AF_UNIX};
    assert_int_equal(netpolicy_check_addr(NULL, &un, why, sizeof why), -EAFNOSUPPORT);
    assert_non_null(netpolicy_special(&un));
}

static void test_allow_networks(void **state)
{
    (void)state;
    netpolicy_t np;
    struct sockaddr_storage ss;
    char err[160], why[128];

    assert_int_equal(
        netpolicy_parse_networks(&np, " 127.0.0.1/32 , 10.1.0.0/16,fd00::/8,::1", err, sizeof err),
        0);
    assert_int_equal(np.n, 4);
    static const struct {
        const char *addr;
        int rc;
    } t[] = {
        {"127.0.0.1", 0},
        {"::ffff:127.0.0.1", 0}, /* the same address, mapped */
        {"127.0.0.2", -EPERM},
        {"10.1.0.0", 0},
        {"10.1.255.255", 0},
        {"10.0.255.255", -EPERM},
        {"10.2.0.0", -EPERM},
        {"fd00::1", 0},
        {"fdff::1", 0},
        {"fc00::1", -EPERM},
        {"::1", 0},
        {"169.254.169.254", -EPERM},
        {"8.8.8.8", 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        int rc = netpolicy_check_addr(&np, addr_of(t[i].addr, &ss), why, sizeof why);
        if (rc != t[i].rc)
            fail_msg("%s: %d, expected %d", t[i].addr, rc, t[i].rc);
    }

    /* every network allowed */
    assert_int_equal(netpolicy_parse_networks(&np, "0.0.0.0/0,::/0", err, sizeof err), 0);
    assert_int_equal(netpolicy_check_addr(&np, addr_of("10.0.0.1", &ss), why, sizeof why), 0);
    assert_int_equal(netpolicy_check_addr(&np, addr_of("fe80::1", &ss), why, sizeof why), 0);
    assert_int_equal(netpolicy_parse_networks(&np, "", err, sizeof err), 0);
    assert_int_equal(np.n, 0);
}

static void test_bad_networks(void **state)
{
    (void)state;
    netpolicy_t np;
    char err[160];
    static const char *const bad[] = {
        "10.0.0.1/8", /* host bits */
        "10.0.0.0/33", "::1/129", "10.0.0.0/",    "10.0.0.0/-1",
        "10.0.0.0/8x", "10.0.0",  "example.com",  "10.0.0.0/8,,192.168.0.0/16",
        "10.0.0.0/8,", " ",       "fe80::1%eth0", "1.2.3.4/ 8",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        if (netpolicy_parse_networks(&np, bad[i], err, sizeof err) != -EINVAL)
            fail_msg("\"%s\" was accepted", bad[i]);
        assert_true(err[0] != '\0');
    }
    char many[2048] = "";
    for (int i = 0; i <= NETPOLICY_MAX_NETS; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "%s10.0.%d.0/24", i ? "," : "",
                 i);
    assert_int_equal(netpolicy_parse_networks(&np, many, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "more than"));
}

static void test_host_patterns(void **state)
{
    (void)state;
    assert_true(netpolicy_host_allowed("*", "example.com"));
    assert_true(netpolicy_host_allowed("*", "10.0.0.1")); /* the address policy decides those */
    assert_true(netpolicy_host_allowed("example.com", "example.com"));
    assert_true(netpolicy_host_allowed("example.com", "EXAMPLE.com"));
    assert_true(netpolicy_host_allowed("example.com", "example.com."));
    assert_false(netpolicy_host_allowed("example.com", "www.example.com"));
    assert_false(netpolicy_host_allowed("example.com", "example.com.evil.net"));
    assert_false(netpolicy_host_allowed("example.com", "badexample.com"));
    assert_true(netpolicy_host_allowed("*.example.com", "hooks.example.com"));
    assert_true(netpolicy_host_allowed("*.example.com", "a.b.example.com"));
    assert_false(netpolicy_host_allowed("*.example.com", "example.com"));
    assert_false(netpolicy_host_allowed("*.example.com", "badexample.com"));
    assert_false(netpolicy_host_allowed("*.example.com", "example.com.evil.net"));
    assert_true(netpolicy_host_allowed("a.org, *.example.com ,b.net", "b.net"));
    assert_true(netpolicy_host_allowed("a.org, *.example.com ,b.net", "x.example.com"));
    assert_false(netpolicy_host_allowed("a.org,b.net", "c.org"));
    assert_false(netpolicy_host_allowed("", "example.com"));
    assert_false(netpolicy_host_allowed("*", ""));
    assert_true(netpolicy_host_allowed("127.0.0.1,::1", "::1"));

    assert_null(netpolicy_check_patterns("*"));
    assert_null(netpolicy_check_patterns(""));
    assert_null(netpolicy_check_patterns("example.com, *.hooks.example.org,10.0.0.1,::1"));
    assert_non_null(netpolicy_check_patterns("exa mple.com"));
    assert_non_null(netpolicy_check_patterns("a.com,,b.com"));
    assert_non_null(netpolicy_check_patterns("*example.com"));
    assert_non_null(netpolicy_check_patterns("a.*.com"));
    assert_non_null(netpolicy_check_patterns("*."));
    assert_non_null(netpolicy_check_patterns("http://a.com"));
}

/* URL syntax (the full table of refusals is in test_callback's test_url_checks): what the
 * parser hands back is what curl will request. */
static void test_parse_url(void **state)
{
    (void)state;
    netpolicy_url_t u;
    char why[256];

    assert_int_equal(
        netpolicy_parse_url("*", "HTTP://Hooks.Example.COM/a/b?c=d#frag", &u, why, sizeof why), 0);
    assert_string_equal(u.host, "Hooks.Example.COM");
    assert_string_equal(u.port, "80");
    assert_non_null(strstr(u.url, "http://"));
    assert_non_null(strstr(u.url, "/a/b?c=d"));
    free(u.url);
    assert_int_equal(netpolicy_parse_url("*", "https://[2001:db8::1]:8443/x", &u, why, sizeof why),
                     0);
    assert_string_equal(u.host, "2001:db8::1");
    assert_string_equal(u.port, "8443");
    free(u.url);
    assert_int_equal(netpolicy_parse_url("*", "https://example.com", &u, why, sizeof why), 0);
    assert_string_equal(u.port, "443");
    free(u.url);
    assert_int_equal(
        netpolicy_parse_url("*.example.com", "https://a.example.com/", &u, why, sizeof why), 0);
    free(u.url);
    assert_int_equal(
        netpolicy_parse_url("*.example.com", "https://example.com/", &u, why, sizeof why), -EPERM);
    assert_null(u.url);
    assert_int_equal(netpolicy_parse_url("*", "https://a@example.com/", &u, why, sizeof why),
                     -EINVAL);
    assert_null(u.url);
    assert_int_equal(netpolicy_parse_url("*", NULL, &u, why, sizeof why), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_address_table, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_reason_names_address, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_allow_networks, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_bad_networks, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_host_patterns, setup_alarm, teardown_alarm),
        cmocka_unit_test_setup_teardown(test_parse_url, setup_alarm, teardown_alarm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
