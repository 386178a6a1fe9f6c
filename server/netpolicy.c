/*
 * netpolicy.c - the SSRF policy for outgoing connections (see netpolicy.h).
 *
 * Every address is compared in its IPv6 form (IPv4 as ::ffff:a.b.c.d), so one table of special
 * ranges and one prefix match serve both families, and an IPv4-mapped address can never slip
 * past a rule written for IPv4. The tables follow the IANA special-purpose address registries;
 * beyond them, IPv6 outside 2000::/3 (the only block allocated for global unicast) is refused
 * as reserved, so a future special block is refused until it is looked at.
 *
 * URLs are parsed by curl's own URL parser (curl_url), after a stricter first look, and the
 * URL handed back is curl's normalised form: the host that was checked is the host curl will
 * resolve, whatever spelling the client used (2130706433, 0x7f.1, upper case).
 */
#include "netpolicy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    const char *cidr; /* IPv4 or IPv6 text */
    const char *what;
} special_t;

/* IPv4 special-purpose ranges. Order matters only where ranges nest (broadcast before 240/4). */
static const special_t special_v4[] = {
    {"0.0.0.0/8", "\"this network\" (unspecified)"},
    {"10.0.0.0/8", "private"},
    {"100.64.0.0/10", "shared address space (CGNAT)"},
    {"127.0.0.0/8", "loopback"},
    {"169.254.0.0/16", "link-local (cloud metadata)"},
    {"172.16.0.0/12", "private"},
    {"192.0.0.0/24", "IETF protocol assignments"},
    {"192.0.2.0/24", "documentation"},
    {"192.88.99.0/24", "6to4 relay anycast"},
    {"192.168.0.0/16", "private"},
    {"198.18.0.0/15", "benchmarking"},
    {"198.51.100.0/24", "documentation"},
    {"203.0.113.0/24", "documentation"},
    {"224.0.0.0/4", "multicast"},
    {"255.255.255.255/32", "broadcast"},
    {"240.0.0.0/4", "reserved"},
};

/* IPv6 special-purpose ranges inside 2000::/3 and the named ones outside it. The blocks that
 * carry an IPv4 address (::ffff:0:0/96, 64:ff9b::/96, 2002::/16) are handled by embedded_v4. */
static const special_t special_v6[] = {
    {"::/128", "unspecified"},
    {"::1/128", "loopback"},
    {"64:ff9b:1::/48", "NAT64 local-use"},
    {"100::/64", "discard-only"},
    {"2001:db8::/32", "documentation"},
    {"2001::/23", "IETF protocol assignments (Teredo, ORCHID, benchmarking)"},
    {"3fff::/20", "documentation"},
    {"fc00::/7", "unique-local (private)"},
    {"fe80::/10", "link-local"},
    {"fec0::/10", "site-local"},
    {"ff00::/8", "multicast"},
};

static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
static const uint8_t nat64_prefix[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};

/* True when the first prefix bits of a and b agree. */
static bool prefix_match(const uint8_t *a, const uint8_t *b, int prefix)
{
    int full = prefix / 8, rest = prefix % 8;

    if (memcmp(a, b, (size_t)full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[full] & mask) == (b[full] & mask);
}

/* Parses "addr[/len]" into its IPv6 form. Returns 0 or -EINVAL. */
static int parse_cidr(const char *s, size_t n, netpolicy_net_t *out)
{
    char buf[64], *slash;
    struct in_addr a4;
    long len = -1;

    if (n == 0 || n >= sizeof buf)
        return -EINVAL;
    memcpy(buf, s, n);
    buf[n] = '\0';
    slash = strchr(buf, '/');
    if (slash) {
        char *end;
        *slash = '\0';
        if (!isdigit((unsigned char)slash[1]))
            return -EINVAL;
        len = strtol(slash + 1, &end, 10);
        if (*end || len < 0 || len > 128)
            return -EINVAL;
    }
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, buf, &a4) == 1) {
        if (len > 32)
            return -EINVAL;
        memcpy(out->addr, v4mapped_prefix, 12);
        memcpy(out->addr + 12, &a4, 4);
        out->prefix = 96 + (len < 0 ? 32 : (int)len);
    } else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
        out->prefix = len < 0 ? 128 : (int)len;
    } else {
        return -EINVAL;
    }
    /* Host bits below the prefix: "10.0.0.1/8" is more likely a typo than a network. */
    for (int bit = out->prefix; bit < 128; bit++)
        if (out->addr[bit / 8] & (0x80 >> (bit % 8)))
            return -EINVAL;
    return 0;
}

int netpolicy_parse_networks(netpolicy_t *np, const char *list, char *err, size_t errlen)
{
    const char *p = list;

    memset(np, 0, sizeof *np);
    if (*list && list[strlen(list) - 1] == ',') {
        snprintf(err, errlen, "empty item in the network list");
        return -EINVAL;
    }
    while (*p) {
        size_t k = strcspn(p, ","), b = 0, e = k;
        while (b < e && isspace((unsigned char)p[b]))
            b++;
        while (e > b && isspace((unsigned char)p[e - 1]))
            e--;
        if (b == e) {
            snprintf(err, errlen, "empty item in the network list");
            return -EINVAL;
        }
        if (np->n == NETPOLICY_MAX_NETS) {
            snprintf(err, errlen, "more than %d networks", NETPOLICY_MAX_NETS);
            return -EINVAL;
        }
        if (parse_cidr(p + b, e - b, &np->nets[np->n]) != 0) {
            snprintf(err, errlen,
                     "\"%.*s\" is not a network such as 10.0.0.0/8 or fd00::/8 "
                     "(no host bits below the prefix)",
                     (int)(e - b), p + b);
            return -EINVAL;
        }
        np->n++;
        p += k + (p[k] == ',');
    }
    return 0;
}

/* The IPv6 form of sa (IPv4 as ::ffff:a.b.c.d). Returns 0 or -EAFNOSUPPORT. */
static int to_v6(const struct sockaddr *sa, uint8_t out[16])
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        memcpy(out, v4mapped_prefix, 12);
        memcpy(out + 12, &in->sin_addr, 4);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        memcpy(out, &in6->sin6_addr, 16);
        return 0;
    }
    return -EAFNOSUPPORT;
}

/* When a carries an IPv4 address (mapped, NAT64 well-known prefix, 6to4), stores it in v4 and
 * returns true. */
static bool embedded_v4(const uint8_t a[16], uint8_t v4[4])
{
    if (memcmp(a, v4mapped_prefix, 12) == 0 || memcmp(a, nat64_prefix, 12) == 0) {
        memcpy(v4, a + 12, 4);
        return true;
    }
    if (a[0] == 0x20 && a[1] == 0x02) {
        memcpy(v4, a + 2, 4);
        return true;
    }
    return false;
}

static const char *special_of(const special_t *tab, size_t n, const uint8_t a[16])
{
    for (size_t i = 0; i < n; i++) {
        netpolicy_net_t net;
        if (parse_cidr(tab[i].cidr, strlen(tab[i].cidr), &net) == 0 &&
            prefix_match(a, net.addr, net.prefix))
            return tab[i].what;
    }
    return NULL;
}

static const char *special_v6form(const uint8_t a[16])
{
    uint8_t v4[4];

    if (embedded_v4(a, v4)) {
        uint8_t m[16];
        memcpy(m, v4mapped_prefix, 12);
        memcpy(m + 12, v4, 4);
        return special_of(special_v4, sizeof special_v4 / sizeof special_v4[0], m);
    }
    const char *what = special_of(special_v6, sizeof special_v6 / sizeof special_v6[0], a);
    if (what)
        return what;
    if ((a[0] & 0xe0) != 0x20) /* outside 2000::/3 */
        return a[0] == 0 ? "reserved (IPv4-compatible or translated)" : "reserved";
    return NULL;
}

const char *netpolicy_special(const struct sockaddr *sa)
{
    uint8_t a[16];

    if (to_v6(sa, a) != 0)
        return "not an IP address";
    return special_v6form(a);
}

int netpolicy_check_addr(const netpolicy_t *np, const struct sockaddr *sa, char *why, size_t whylen)
{
    uint8_t a[16];
    char text[INET6_ADDRSTRLEN];
    const char *what;

    if (to_v6(sa, a) != 0) {
        snprintf(why, whylen, "address family %d is not IP", sa->sa_family);
        return -EAFNOSUPPORT;
    }
    for (int i = 0; np && i < np->n; i++)
        if (prefix_match(a, np->nets[i].addr, np->nets[i].prefix))
            return 0;
    what = special_v6form(a);
    if (!what)
        return 0;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, a + 12, text, sizeof text);
    else
        inet_ntop(AF_INET6, a, text, sizeof text);
    snprintf(why, whylen, "%s is %s", text, what);
    return -EPERM;
}

/* Compares host (len n, one trailing dot dropped) with one pattern item. */
static bool item_matches(const char *item, size_t k, const char *host, size_t n)
{
    if (k == 1 && item[0] == '*')
        return true;
    if (k > 2 && item[0] == '*' && item[1] == '.') {
        size_t sfx = k - 1; /* ".suffix" */
        return n > sfx && strncasecmp(host + n - sfx, item + 1, sfx) == 0;
    }
    return k == n && strncasecmp(item, host, n) == 0;
}

bool netpolicy_host_allowed(const char *patterns, const char *host)
{
    size_t n = strlen(host);

    if (n > 1 && host[n - 1] == '.')
        n--;
    if (n == 0)
        return false;
    for (const char *p = patterns; *p;) {
        size_t k = strcspn(p, ","), b = 0, e = k;
        while (b < e && isspace((unsigned char)p[b]))
            b++;
        while (e > b && isspace((unsigned char)p[e - 1]))
            e--;
        if (e > b && item_matches(p + b, e - b, host, n))
            return true;
        p += k + (p[k] == ',');
    }
    return false;
}

const char *netpolicy_check_patterns(const char *patterns)
{
    static const char *const must =
        "a comma-separated list of *, host names, *.suffix or IP addresses";

    if (*patterns && patterns[strlen(patterns) - 1] == ',')
        return must;

    for (const char *p = patterns; *p;) {
        size_t k = strcspn(p, ","), b = 0, e = k;
        while (b < e && isspace((unsigned char)p[b]))
            b++;
        while (e > b && isspace((unsigned char)p[e - 1]))
            e--;
        if (b == e)
            return must;
        const char *it = p + b;
        size_t n = e - b, start = 0;
        if (n == 1 && it[0] == '*') {
            p += k + (p[k] == ',');
            continue;
        }
        if (n > 2 && it[0] == '*' && it[1] == '.')
            start = 2;
        for (size_t i = start; i < n; i++)
            if (!isalnum((unsigned char)it[i]) && it[i] != '.' && it[i] != '-' && it[i] != ':')
                return must;
        p += k + (p[k] == ',');
    }
    return NULL;
}

/* ---- URLs ---- */

/* The checks before curl's parser, which forgives more than a callback URL may have
 * ("http:///host", "http:/host", blanks). 0 or -EINVAL with why. */
static int url_precheck(const char *url, char *why, size_t whylen)
{
    size_t n = url ? strlen(url) : 0, sl;

    if (n == 0 || n > NETPOLICY_URL_MAX) {
        snprintf(why, whylen, "callbackUrl must be 1 to %d characters", NETPOLICY_URL_MAX);
        return -EINVAL;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f) {
            snprintf(why, whylen,
                     "callbackUrl may contain only printable ASCII without blanks "
                     "(international names in punycode, xn--)");
            return -EINVAL;
        }
    sl = strncasecmp(url, "https://", 8) == 0 ? 8 : strncasecmp(url, "http://", 7) == 0 ? 7 : 0;
    if (sl == 0) {
        snprintf(why, whylen, "callbackUrl must be an absolute http:// or https:// URL");
        return -EINVAL;
    }
    if (strchr("/\\?#", url[sl])) { /* also the NUL after "http://" */
        snprintf(why, whylen, "callbackUrl has no host");
        return -EINVAL;
    }
    return 0;
}

/* Copies curl's host (IPv6 in brackets) into out->host. 0 or -EINVAL. */
static int take_host(const char *host, netpolicy_url_t *out)
{
    size_t hl = strlen(host);

    if (hl == 0 || hl >= sizeof out->host)
        return -EINVAL;
    if (host[0] == '[') {
        struct in6_addr a6;
        if (hl < 3 || host[hl - 1] != ']')
            return -EINVAL;
        memcpy(out->host, host + 1, hl - 2);
        out->host[hl - 2] = '\0';
        return inet_pton(AF_INET6, out->host, &a6) == 1 ? 0 : -EINVAL;
    }
    if (host[0] == '.' || host[0] == '-')
        return -EINVAL;
    for (const char *h = host; *h; h++)
        if (!isalnum((unsigned char)*h) && *h != '.' && *h != '-' && *h != '_')
            return -EINVAL;
    memcpy(out->host, host, hl + 1);
    return 0;
}

/* What is wrong with the parts of u, or NULL; fills out->host and out->port. */
static const char *check_parts(CURLU *u, netpolicy_url_t *out)
{
    char *v = NULL;
    const char *bad = NULL;
    long port;

    if (curl_url_get(u, CURLUPART_SCHEME, &v, 0) != CURLUE_OK ||
        (strcmp(v, "http") != 0 && strcmp(v, "https") != 0))
        bad = "callbackUrl must use http or https";
    curl_free(v);
    v = NULL;
    if (!bad && (curl_url_get(u, CURLUPART_USER, &v, 0) != CURLUE_NO_USER ||
                 curl_url_get(u, CURLUPART_PASSWORD, &v, 0) != CURLUE_NO_PASSWORD))
        bad = "callbackUrl must not contain credentials (user@host)";
    curl_free(v);
    v = NULL;
    if (!bad && curl_url_get(u, CURLUPART_ZONEID, &v, 0) == CURLUE_OK)
        bad = "callbackUrl must not contain an IPv6 zone";
    curl_free(v);
    v = NULL;
    if (!bad && (curl_url_get(u, CURLUPART_HOST, &v, 0) != CURLUE_OK || take_host(v, out) != 0))
        bad = "callbackUrl host is not a valid name or address";
    curl_free(v);
    v = NULL;
    if (!bad) {
        port = curl_url_get(u, CURLUPART_PORT, &v, CURLU_DEFAULT_PORT) == CURLUE_OK
                   ? strtol(v, NULL, 10)
                   : 0;
        if (port < 1 || port > 65535)
            bad = "callbackUrl has no valid port (1..65535)";
        else
            snprintf(out->port, sizeof out->port, "%ld", port);
    }
    curl_free(v);
    return bad;
}

int netpolicy_parse_url(const char *hosts, const char *url, netpolicy_url_t *out, char *why,
                        size_t whylen)
{
    CURLU *u;
    char *norm = NULL;
    const char *bad;
    int rc;

    memset(out, 0, sizeof *out);
    rc = url_precheck(url, why, whylen);
    if (rc)
        return rc;
    u = curl_url();
    if (!u) {
        snprintf(why, whylen, "out of memory");
        return -ENOMEM;
    }
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
        snprintf(why, whylen, "callbackUrl is not a valid absolute URL");
        rc = -EINVAL;
    } else if ((bad = check_parts(u, out)) != NULL) {
        snprintf(why, whylen, "%s", bad);
        rc = -EINVAL;
    } else if (!netpolicy_host_allowed(hosts, out->host)) {
        snprintf(why, whylen, "callbackUrl host %s is not allowed by --callback-allowed-hosts",
                 out->host);
        rc = -EPERM;
    } else if (curl_url_get(u, CURLUPART_URL, &norm, 0) != CURLUE_OK ||
               !(out->url = strdup(norm))) {
        snprintf(why, whylen, "out of memory");
        rc = -ENOMEM;
    }
    curl_free(norm);
    curl_url_cleanup(u);
    return rc;
}
