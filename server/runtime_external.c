/*
 * runtime_external.c - executors someone else runs (the `external` runtime): Docker Compose
 * services, Kubernetes Deployments behind headless Services, or plain host:port addresses.
 * Nothing is started, replaced or removed here; the runtime only finds executors.
 *
 * Theory of operation
 * -------------------
 * --executor-addrs names, per language, one or more HOST:PORT targets (syntax in extaddr.h).
 * Every resolve period (--resolve-ms, the skeleton's watch pass on the watcher thread) each
 * target's HOST is resolved with getaddrinfo: all A/AAAA records, so a headless Service or a
 * Compose service with replicas yields one address per replica. Each address:port is one
 * executor endpoint, id "LANG@IP:PORT". The union over all targets is compared with the set
 * announced before (extaddr_diff): new endpoints are announced up, vanished ones down. The
 * pool connects to what is up and routes around what does not answer or drains.
 *
 * A target whose resolution fails keeps its last known addresses (an orchestrator's DNS
 * hiccup must not take every executor away); the failure is logged once when it starts and
 * once when it ends. A name that never resolved contributes nothing: the gateway starts, answers
 * /healthz, and /readyz stays 503 until the executors' names resolve (a Compose gateway may
 * start before its executors).
 *
 * Authentication: every endpoint carries the shared secret read once at start from
 * --executor-token-file (one trailing newline stripped; at least 16 characters, printable,
 * no blanks). With --executor-ca-file the endpoints are marked tls: the pool speaks TLS and
 * checks the executor's certificate against that CA and the configured HOST name.
 *
 * Health: report_unhealthy (an executor stopped answering pings) cannot replace anything: it
 * is logged; the pool keeps retrying that endpoint with backoff and routes around it. No uid
 * range is claimed and no Docker socket is used: the gateway may run as any user.
 *
 * Threads: start runs on runtime_start's thread before the watcher exists; watch on the
 * watcher thread; so the resolved state needs no lock. report_unhealthy (pool thread) touches
 * nothing but the log. stop_all announces nothing (the pool is gone by then).
 */
#include "runtime.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "extaddr.h"
#include "lang.h"
#include "log.h"
#include "secret.h"

#define EXT_TOKEN_MIN 16
#define EXT_ADDRS_PER_TARGET 64

/* Resolves host into ips[0..*n) (numeric strings, distinct). 0, or a getaddrinfo error code
 * with a message in err. Replaceable by tests. */
typedef int (*ext_resolve_fn)(const char *host, char ips[][EXTADDR_IP_MAX], int max, int *n,
                              char *err, size_t errlen);

typedef struct {
    extaddr_ep_t addrs[EXT_ADDRS_PER_TARGET]; /* last known */
    int n;
    bool failing; /* the last resolution failed (logged) */
} ext_target_state_t;

typedef struct {
    runtime_t base;
    runtime_ops_t ops; /* ext_ops with watch_ms = cfg->resolve_ms */
    ext_resolve_fn resolve;
    extaddr_target_t targets[EXTADDR_MAX_TARGETS];
    int ntargets;
    ext_target_state_t st[EXTADDR_MAX_TARGETS];
    extaddr_ep_t cur[EXTADDR_MAX_ENDPOINTS]; /* announced up */
    int ncur;
    bool truncated_logged;
    char token[RUNTIME_TOKEN_MAX + 1];
} ext_rt_t;

static int resolve_gai(const char *host, char ips[][EXTADDR_IP_MAX], int max, int *n, char *err,
                       size_t errlen)
{
    struct addrinfo hints, *res = NULL;
    int rc;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    *n = 0;
    rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "%s", rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
        return rc;
    }
    for (struct addrinfo *a = res; a && *n < max; a = a->ai_next) {
        char ip[EXTADDR_IP_MAX];
        const void *src =
            a->ai_family == AF_INET6
                ? (const void *)&((struct sockaddr_in6 *)(void *)a->ai_addr)->sin6_addr
                : (const void *)&((struct sockaddr_in *)(void *)a->ai_addr)->sin_addr;
        bool dup = false;
        if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) ||
            !inet_ntop(a->ai_family, src, ip, sizeof ip))
            continue;
        for (int i = 0; i < *n && !dup; i++)
            dup = strcmp(ips[i], ip) == 0;
        if (!dup)
            snprintf(ips[(*n)++], EXTADDR_IP_MAX, "%s", ip);
    }
    freeaddrinfo(res);
    return 0;
}

/*
 * Reads the shared secret from path into out (outlen bytes, more than RUNTIME_TOKEN_MAX) by the
 * rules every secret follows (common/secret.c: one trailing line end ignored, EXT_TOKEN_MIN or
 * more printable characters without blanks: it travels in an Authorization header). 0, or -1
 * with err.
 */
static int read_token(const char *path, char *out, size_t outlen, char *err, size_t errlen)
{
    char buf[RUNTIME_TOKEN_MAX + 4];
    size_t len;
    int rc =
        cg_secret_read(path, EXT_TOKEN_MIN, RUNTIME_TOKEN_MAX, buf, sizeof buf, &len, err, errlen);

    if (rc == 0 && len >= outlen) {
        snprintf(err, errlen, "the secret in %s is longer than %zu characters", path, outlen - 1);
        rc = -1;
    }
    if (rc == 0)
        memcpy(out, buf, len + 1);
    explicit_bzero(buf, sizeof buf);
    return rc;
}

static void log_target_failure(const extaddr_target_t *t, const ext_target_state_t *s,
                               const char *why)
{
    cJSON *f = cJSON_CreateObject();

    if (f) {
        cJSON_AddStringToObject(f, "language", lang_table[t->lang].name);
        cJSON_AddStringToObject(f, "host", t->host);
        cJSON_AddNumberToObject(f, "port", t->port);
        cJSON_AddStringToObject(f, "error", why);
        cJSON_AddNumberToObject(f, "keeping", s->n);
    }
    log_event(LOG_WARN, "resolve_failed", f);
}

/* Resolves target i into its state; a failure keeps the last known addresses. */
static void resolve_target(ext_rt_t *rt, int i)
{
    const extaddr_target_t *t = &rt->targets[i];
    ext_target_state_t *s = &rt->st[i];
    char ips[EXT_ADDRS_PER_TARGET][EXTADDR_IP_MAX], err[160] = "";
    int n = 0;

    if (rt->resolve(t->host, ips, EXT_ADDRS_PER_TARGET, &n, err, sizeof err) != 0 || n == 0) {
        if (err[0] == '\0')
            snprintf(err, sizeof err, "no address");
        if (!s->failing)
            log_target_failure(t, s, err);
        s->failing = true;
        return;
    }
    if (s->failing)
        log_msg(LOG_INFO, "executor name %s resolves again (%d address%s)", t->host, n,
                n == 1 ? "" : "es");
    s->failing = false;
    s->n = n;
    for (int k = 0; k < n; k++) {
        s->addrs[k].lang = t->lang;
        s->addrs[k].target = i;
        s->addrs[k].port = t->port;
        snprintf(s->addrs[k].ip, sizeof s->addrs[k].ip, "%s", ips[k]);
    }
}

/* The union of every target's last known addresses, without duplicates, in cur[0..*n). */
static void union_targets(ext_rt_t *rt, extaddr_ep_t *cur, int *n)
{
    *n = 0;
    for (int i = 0; i < rt->ntargets; i++)
        for (int k = 0; k < rt->st[i].n; k++) {
            const extaddr_ep_t *e = &rt->st[i].addrs[k];
            if (extaddr_contains(cur, *n, e))
                continue;
            if (*n == EXTADDR_MAX_ENDPOINTS) {
                if (!rt->truncated_logged)
                    log_msg(LOG_ERROR, "more than %d executor addresses: ignoring the rest",
                            EXTADDR_MAX_ENDPOINTS);
                rt->truncated_logged = true;
                return;
            }
            cur[(*n)++] = *e;
        }
}

static void announce(ext_rt_t *rt, const extaddr_ep_t *e, bool up)
{
    runtime_endpoint_t ep;
    const extaddr_target_t *t = &rt->targets[e->target];
    bool v6 = strchr(t->host, ':') != NULL; /* an IPv6 literal: written [ADDRESS]:PORT */
    cJSON *f = cJSON_CreateObject();

    memset(&ep, 0, sizeof ep);
    extaddr_id(e, ep.id, sizeof ep.id);
    ep.language = lang_table[e->lang].name;
    snprintf(ep.address, sizeof ep.address, "%s", e->ip);
    ep.port = e->port;
    snprintf(ep.host, sizeof ep.host, "%s", t->host);
    ep.tls = rt->base.cfg->executor_ca_file[0] != '\0';
    ep.finish_on_down = true;
    snprintf(ep.token, sizeof ep.token, "%s", rt->token);
    snprintf(ep.where, sizeof ep.where, "%s%s%s:%d", v6 ? "[" : "", t->host, v6 ? "]" : "",
             t->port);
    if (f) {
        cJSON_AddStringToObject(f, "host", t->host);
        cJSON_AddStringToObject(f, "address", e->ip);
        cJSON_AddNumberToObject(f, "port", e->port);
        cJSON_AddBoolToObject(f, "tls", ep.tls);
    }
    runtime_announce(&rt->base, &ep, up, f);
}

/* One pass: resolve every target, announce what went away, then what appeared. */
static void ext_refresh(ext_rt_t *rt)
{
    extaddr_ep_t cur[EXTADDR_MAX_ENDPOINTS], gone[EXTADDR_MAX_ENDPOINTS],
        came[EXTADDR_MAX_ENDPOINTS];
    int ncur, ngone, ncame;

    for (int i = 0; i < rt->ntargets && !atomic_load(&rt->base.stopping); i++)
        resolve_target(rt, i);
    if (atomic_load(&rt->base.stopping))
        return;
    union_targets(rt, cur, &ncur);
    extaddr_diff(rt->cur, rt->ncur, cur, ncur, gone, &ngone, came, &ncame);
    for (int i = 0; i < ngone; i++)
        announce(rt, &gone[i], false);
    for (int i = 0; i < ncame; i++)
        announce(rt, &came[i], true);
    memcpy(rt->cur, cur, (size_t)ncur * sizeof cur[0]);
    rt->ncur = ncur;
}

static int ext_start(runtime_t *base)
{
    ext_rt_t *rt = (ext_rt_t *)base;
    const config_t *cfg = base->cfg;
    char err[320];

    if (extaddr_parse(cfg->executor_addrs, rt->targets, EXTADDR_MAX_TARGETS, &rt->ntargets, err,
                      sizeof err) != 0) {
        log_msg(LOG_ERROR, "--executor-addrs: %s", err);
        return -EINVAL;
    }
    if (read_token(cfg->executor_token_file, rt->token, sizeof rt->token, err, sizeof err) != 0) {
        log_msg(LOG_ERROR, "--executor-token-file: %s", err);
        return -EINVAL;
    }
    for (int i = 0; i < rt->ntargets; i++) {
        bool v6 = strchr(rt->targets[i].host, ':') != NULL;
        log_msg(LOG_INFO, "external executors for %s at %s%s%s:%d (re-resolved every %d ms%s)",
                lang_table[rt->targets[i].lang].name, v6 ? "[" : "", rt->targets[i].host,
                v6 ? "]" : "", rt->targets[i].port, cfg->resolve_ms,
                cfg->executor_ca_file[0] ? ", TLS" : "");
    }
    ext_refresh(rt);
    return 0;
}

static void ext_watch(runtime_t *base)
{
    ext_refresh((ext_rt_t *)base);
}

static void ext_report_unhealthy(runtime_t *base, const char *id)
{
    (void)base;
    log_msg(LOG_WARN,
            "executor %s stopped answering: the external runtime cannot replace it (its "
            "orchestrator does); the pool routes around it and retries it with backoff",
            id);
}

static void ext_stop_all(runtime_t *base)
{
    /* Nothing to stop: the executors are someone else's. Forget what was announced. */
    ((ext_rt_t *)base)->ncur = 0;
}

static void ext_destroy(runtime_t *base)
{
    ext_rt_t *rt = (ext_rt_t *)base;

    memset(rt->token, 0, sizeof rt->token);
}

static const runtime_ops_t ext_ops = {
    .name = "external",
    .watch_ms = 2000,
    .start = ext_start,
    .report_unhealthy = ext_report_unhealthy,
    .watch = ext_watch,
    .stop_all = ext_stop_all,
    .destroy = ext_destroy,
};

runtime_t *runtime_external_new(const config_t *cfg, runtime_endpoint_cb cb, void *arg)
{
    ext_rt_t *rt = calloc(1, sizeof *rt);

    if (!rt)
        return NULL;
    rt->ops = ext_ops;
    rt->ops.watch_ms = cfg->resolve_ms;
    rt->resolve = resolve_gai;
    runtime_init(&rt->base, &rt->ops, cfg, cb, arg);
    return &rt->base;
}

bool runtime_external_offers(const config_t *cfg, int lang)
{
    extaddr_target_t t[EXTADDR_MAX_TARGETS];
    int n;
    char err[8];

    if (extaddr_parse(cfg->executor_addrs, t, EXTADDR_MAX_TARGETS, &n, err, sizeof err) != 0)
        return false;
    for (int i = 0; i < n; i++)
        if (t[i].lang == lang)
            return true;
    return false;
}
