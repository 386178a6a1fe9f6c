/*
 * gate.c - pure checks of a request's head (see gate.h).
 */
#include "gate.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

/* Length of the host name in a Host value: without ":port"; "[v6]" keeps its brackets. */
static size_t host_name_len(const char *host)
{
    const char *colon;

    if (host[0] == '[') {
        const char *end = strchr(host, ']');
        return end ? (size_t)(end - host) + 1 : strlen(host);
    }
    colon = strchr(host, ':');
    return colon ? (size_t)(colon - host) : strlen(host);
}

/* True when what follows the name is empty or ":digits". */
static bool port_ok(const char *rest)
{
    if (!*rest)
        return true;
    if (*rest != ':' || !rest[1] || strlen(rest + 1) > 5)
        return false;
    for (const char *c = rest + 1; *c; c++)
        if (!isdigit((unsigned char)*c))
            return false;
    return true;
}

static bool is_loopback_name(const char *name, size_t n)
{
    static const char lh[] = "localhost", dotlh[] = ".localhost";
    char buf[64];
    struct in_addr a;

    size_t sl = sizeof dotlh - 1;

    for (size_t i = 0; i < n; i++) /* a DNS name's characters only (or an IP literal's) */
        if (!isalnum((unsigned char)name[i]) && !strchr(".-[]:", name[i]))
            return false;
    if (n == sizeof lh - 1 && !strncasecmp(name, lh, n))
        return true;
    if (n > sl && !strncasecmp(name + n - sl, dotlh, sl))
        return true;
    if (n == 5 && !strncmp(name, "[::1]", 5))
        return true;
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, name, n);
    buf[n] = '\0';
    return inet_pton(AF_INET, buf, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

/* True when name (n bytes) is one of the comma-separated names of list. */
static bool in_list(const char *list, const char *name, size_t n)
{
    for (const char *p = list; *p;) {
        size_t k = strcspn(p, ",");
        const char *s = p;
        size_t m = k;
        while (m > 0 && *s == ' ') {
            s++;
            m--;
        }
        while (m > 0 && s[m - 1] == ' ')
            m--;
        if (m == n && m > 0 && !strncasecmp(s, name, n))
            return true;
        p += k + (p[k] == ',');
    }
    return false;
}

bool gate_host_allowed(const char *host, const char *allowed, bool loopback_only)
{
    size_t n;

    if (!host)
        return true;
    if (allowed && !strcmp(allowed, "*"))
        return true;
    n = host_name_len(host);
    if (!port_ok(host + n))
        return false;
    if (is_loopback_name(host, n))
        return true;
    if (allowed && allowed[0])
        return in_list(allowed, host, n);
    return !loopback_only;
}

bool gate_is_json(const char *ct)
{
    static const char json[] = "application/json";
    size_t n = sizeof json - 1;

    if (!ct)
        return false;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (strncasecmp(ct, json, n) != 0)
        return false;
    ct += n;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == '\0' || *ct == ';';
}

int gate_content_length(const char *const *values, int n, bool has_transfer_encoding, uint64_t *len)
{
    const char *v;
    uint64_t x = 0;

    *len = UINT64_MAX;
    if (n == 0)
        return 0;
    if (n > 1 || has_transfer_encoding)
        return -1;
    v = values[0];
    while (*v == ' ' || *v == '\t')
        v++;
    if (!isdigit((unsigned char)*v))
        return -1;
    for (; isdigit((unsigned char)*v); v++) {
        if (x > (UINT64_MAX - 9) / 10)
            return -1;
        x = x * 10 + (uint64_t)(*v - '0');
    }
    while (*v == ' ' || *v == '\t')
        v++;
    if (*v)
        return -1;
    *len = x;
    return 0;
}

/* True when origin is scheme://<a loopback Host value> for http or https. */
static bool is_loopback_origin(const char *origin)
{
    const char *rest = NULL;

    if (!strncmp(origin, "http://", 7))
        rest = origin + 7;
    else if (!strncmp(origin, "https://", 8))
        rest = origin + 8;
    return rest && *rest && gate_host_allowed(rest, "", true);
}

const char *gate_cors_origin(const char *origins, const char *origin, const char *host,
                             bool loopback_bind)
{
    if (!strcmp(origins, "*"))
        return "*";
    if (!origin || !origin[0])
        return NULL;
    if (host && host[0]) {
        const char *rest = !strncmp(origin, "http://", 7)    ? origin + 7
                           : !strncmp(origin, "https://", 8) ? origin + 8
                                                             : NULL;
        if (rest && !strcasecmp(rest, host))
            return origin; /* same origin: the playground */
    }
    if (!origins[0])
        return !loopback_bind ? "*" : is_loopback_origin(origin) ? origin : NULL;
    /* Exact (case-sensitive) match: an origin is scheme://host[:port]. */
    for (const char *p = origins; *p;) {
        size_t k = strcspn(p, ","), m = k;
        const char *s = p;
        while (m > 0 && *s == ' ') {
            s++;
            m--;
        }
        while (m > 0 && s[m - 1] == ' ')
            m--;
        if (m == strlen(origin) && m > 0 && !strncmp(s, origin, m))
            return origin;
        p += k + (p[k] == ',');
    }
    return NULL;
}

bool gate_addr_is_loopback(const struct sockaddr *sa)
{
    if (!sa)
        return false;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        const uint8_t *b = in6->sin6_addr.s6_addr;
        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
            return true;
        return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && b[12] == 127;
    }
    return false;
}

bool gate_bind_is_loopback(const char *ipv4)
{
    struct in_addr a;

    return inet_pton(AF_INET, ipv4, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}
