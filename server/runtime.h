/*
 * runtime.h - where executors live: the interface the gateway uses to start, watch and stop
 * its executors. Three implementations: runtime_local.c (child processes on this host),
 * runtime_docker.c (long-lived containers through the Docker Engine API) and
 * runtime_external.c (executors someone else runs - Compose, Kubernetes - found by resolving
 * configured names; nothing is started, replaced or removed).
 *
 * Theory of operation
 * -------------------
 * runtime_start() brings up cfg->executors executors for every language and returns once each
 * of them accepts connections (or fails, having removed whatever it created). Each executor is
 * announced through the endpoint callback with up = true: an id ("python-0"), its language,
 * where to connect and its token. When an executor dies or is replaced, the runtime announces
 * it down (up = false) and, once a replacement answers, up again with the same id and the new
 * address/token. The pool keeps one entry per id.
 *
 * The pool may tell the runtime that an executor stopped answering pings
 * (runtime_report_unhealthy); the runtime then replaces it. runtime_stop() stops and removes
 * every executor (in parallel where it can) and everything else the runtime created.
 *
 * Threads: the runtime runs its own watcher thread; the endpoint callback is called from it (and
 * from runtime_start's thread) and must be quick and thread-safe. runtime_report_unhealthy may be
 * called from any thread.
 *
 * Ownership: runtime_t is created by runtime_*_new and freed by runtime_free() after
 * runtime_stop(). The endpoint passed to the callback is only valid during the call.
 *
 * The skeleton (runtime.c) is the same for both runtimes. runtime_init() fills the base.
 * runtime_start() calls ops->start, then starts the watcher thread; when either fails it calls
 * ops->stop_all, which removes whatever was created (a start may fail half-way). The watcher
 * calls ops->watch every ops->watch_ms until runtime_stop(), which joins it, calls
 * ops->stop_all and logs runtime_stopped. runtime_announce() logs executor_up/executor_down and
 * calls the endpoint callback. runtime_free() releases the uid range, calls ops->destroy and
 * frees the runtime. A runtime keeps its own state in a struct whose first member is the
 * runtime_t.
 */
#ifndef CG_RUNTIME_H
#define CG_RUNTIME_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "uidrange.h"

/* The longest bearer token an endpoint carries (the external runtime's shared secret). */
#define RUNTIME_TOKEN_MAX 255

typedef struct {
    char id[64];            /* stable across restarts: "<language>-<n>"; external:
                               "<language>@<ip>:<port>" */
    const char *language;   /* canonical, static */
    char address[PATH_MAX]; /* IP literal, or "+/path/to.sock" for a unix socket */
    int port;               /* 0 for unix sockets */
    char host[256];         /* external: the configured name (Host header, TLS name check);
                               "" = the address */
    bool tls;               /* external with --executor-ca-file: TLS, server certificate checked */
    bool finish_on_down;    /* external: when announced down, jobs running there may finish
                               (the executor may still be there, e.g. a terminating pod) */
    char token[RUNTIME_TOKEN_MAX + 1];
    char where[96]; /* for logs: "pid 1234" or "container 3f2a..." */
} runtime_endpoint_t;

typedef void (*runtime_endpoint_cb)(void *arg, const runtime_endpoint_t *ep, bool up);

typedef struct runtime runtime_t;

/* What differs between the runtimes. All but start and report_unhealthy run on the thread
 * the skeleton says: watch on the watcher thread, stop_all and destroy on runtime_stop's and
 * runtime_free's caller. */
typedef struct {
    const char *name; /* "local", "docker" or "external" */
    int watch_ms;     /* pause between two watch passes */
    int (*start)(runtime_t *rt);
    void (*report_unhealthy)(runtime_t *rt, const char *id);
    void (*watch)(runtime_t *rt);    /* one pass: notice deaths, restart, replace */
    void (*stop_all)(runtime_t *rt); /* stop and remove every executor (the watcher is gone) */
    void (*destroy)(runtime_t *rt);  /* free the runtime's own members, not rt itself */
} runtime_ops_t;

/* The part both runtimes share. Created by runtime_init(), freed by runtime_free(). `mu` is the
 * runtime's lock for what its watcher shares with report_unhealthy and stop (see each runtime's
 * file); stopping is set once by runtime_stop() and read by any thread. */
struct runtime {
    const runtime_ops_t *ops;
    const config_t *cfg;
    runtime_endpoint_cb cb;
    void *cb_arg;
    uidrange_t uids; /* this instance's slot uids (claimed by start, released by destroy) */
    pthread_mutex_t mu;
    pthread_t watcher;
    bool watcher_started; /* start's and stop's thread only */
    atomic_bool stopping;
};

/* Fills the base of a zeroed runtime. */
void runtime_init(runtime_t *rt, const runtime_ops_t *ops, const config_t *cfg,
                  runtime_endpoint_cb cb, void *arg);
/* Logs executor_up (info) or executor_down (warn) with {"executor", "runtime", ...extra's
 * members} and calls the endpoint callback. Takes extra (may be NULL). */
void runtime_announce(runtime_t *rt, const runtime_endpoint_t *ep, bool up, cJSON *extra);

/* Claims the instance's uid range into rt->uids (logged on failure). 0 or -errno. */
int runtime_claim_uids(runtime_t *rt);
/* The memory of one executor container: --container-memory-mb, or when 0 what every slot
 * holding the largest run at once needs. A configured value below that: minus the need. */
int runtime_container_memory_mb(const config_t *cfg);

runtime_t *runtime_local_new(const config_t *cfg, runtime_endpoint_cb cb, void *arg);
runtime_t *runtime_docker_new(const config_t *cfg, runtime_endpoint_cb cb, void *arg);
runtime_t *runtime_external_new(const config_t *cfg, runtime_endpoint_cb cb, void *arg);
/* True when cfg's --executor-addrs names an executor for language index lang. */
bool runtime_external_offers(const config_t *cfg, int lang);

/* True when a Docker daemon answers on cfg's socket (used by --runtime auto). */
bool runtime_docker_available(const config_t *cfg);

/* Starts every executor (ops->start), then the watcher thread; when either fails, stops and
 * removes whatever was started (ops->stop_all). 0 or -errno. */
int runtime_start(runtime_t *rt);
static inline void runtime_report_unhealthy(runtime_t *rt, const char *id)
{
    rt->ops->report_unhealthy(rt, id);
}
/* Stops the watcher, then every executor (ops->stop_all); logs runtime_stopped. */
void runtime_stop(runtime_t *rt);
/* Releases the uid range, the runtime's members (ops->destroy) and rt. NULL: no-op. */
void runtime_free(runtime_t *rt);

#endif
