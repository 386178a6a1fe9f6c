/*
 * netpolicy.h - which hosts and addresses the gateway may open outgoing connections to on a
 * client's behalf (callbacks): the SSRF policy.
 *
 * Two independent checks, both must pass:
 *  - the host name of the URL against an allow-list of names (netpolicy_host_allowed): "*" (any),
 *    "name" (exactly, case-insensitive) or "*.suffix" (any name below suffix, not suffix itself);
 *  - every address the name resolves to, and the exact address a connection is opened to,
 *    against the address policy (netpolicy_check_addr): public unicast addresses pass; special
 *    ranges are refused (loopback, private, CGNAT, link-local and so cloud metadata, unspecified,
 *    "this network", multicast, broadcast, reserved, documentation, benchmarking, IPv6 ULA,
 *    site-local, discard, IETF protocol assignments and Teredo, the NAT64 local-use prefix);
 *    IPv4-mapped (::ffff:a.b.c.d), NAT64 (64:ff9b::a.b.c.d) and 6to4 (2002:AABB:CCDD::)
 *    addresses are judged by the IPv4 address they carry; other IPv6 outside 2000::/3 (the
 *    global unicast block), IPv4-compatible ::a.b.c.d included, is refused. A network on
 *    the explicit allow list (--callback-allow-networks CIDRs) passes whatever its range.
 *
 * URLs (netpolicy_parse_url): the syntax rules a callback URL must follow, applied before any
 * host or address check, so that what is checked is exactly what curl will request.
 *
 * Ownership: netpolicy_t is a plain value filled by netpolicy_parse_networks(); no resources.
 * netpolicy_parse_url() hands back a malloc'ed URL the caller frees.
 * Threads: read-only after parsing; every function is pure and may run on any thread.
 */
#ifndef CG_NETPOLICY_H
#define CG_NETPOLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define NETPOLICY_MAX_NETS 32

/* An IPv4 network is kept as its IPv4-mapped IPv6 form (::ffff:a.b.c.d/96+len). */
typedef struct {
    uint8_t addr[16];
    int prefix; /* 0..128, on the IPv6 form */
} netpolicy_net_t;

typedef struct {
    netpolicy_net_t nets[NETPOLICY_MAX_NETS]; /* explicitly allowed networks */
    int n;
} netpolicy_t;

/* Parses a comma-separated list of CIDRs ("127.0.0.1/32,10.0.0.0/8,::1/128"; a bare address
 * means one host; blanks around items are ignored; "" = none). Host bits set below the prefix
 * are an error (a typo guard). Returns 0, or -EINVAL with the reason in err. */
int netpolicy_parse_networks(netpolicy_t *np, const char *list, char *err, size_t errlen);

/* Returns NULL when the address is public unicast, else the name of the special range it is in
 * ("loopback", "private", "link-local", ...). The explicit allow list is not consulted. */
const char *netpolicy_special(const struct sockaddr *sa);

/* The address policy: 0 when sa may be connected to (public, or inside an allowed network),
 * else -EPERM with "ADDRESS is RANGE" in why. Families other than IPv4/IPv6: -EAFNOSUPPORT. */
int netpolicy_check_addr(const netpolicy_t *np, const struct sockaddr *sa, char *why,
                         size_t whylen);

/* True when host (a name or an address literal, without brackets) matches the comma-separated
 * pattern list (see above). An empty list matches nothing. */
bool netpolicy_host_allowed(const char *patterns, const char *host);

/* Checks the syntax of a pattern list for the configuration: NULL when fine, else what is
 * wrong. */
const char *netpolicy_check_patterns(const char *patterns);

#define NETPOLICY_URL_MAX 2048

/* A callback URL taken apart by netpolicy_parse_url. */
typedef struct {
    char host[256]; /* a name or an address, without brackets */
    char port[8];   /* 1..65535, the scheme's default when none was given */
    char *url;      /* the normalised URL to request; malloc'ed, the caller frees it */
} netpolicy_url_t;

/* Checks a callback URL without DNS: at most NETPOLICY_URL_MAX printable ASCII characters (an
 * international name must be given in punycode), "http://" or "https://" followed by a host,
 * no credentials, no IPv6 zone, a host of [A-Za-z0-9._-] or an IPv6 literal, a port in
 * 1..65535, and the host allowed by the pattern list hosts. Returns 0 with out filled, or
 * -EINVAL (syntax), -EPERM (host not allowed), -ENOMEM, with a reason for the client in why. */
int netpolicy_parse_url(const char *hosts, const char *url, netpolicy_url_t *out, char *why,
                        size_t whylen);

#endif
