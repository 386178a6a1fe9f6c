/*
 * main.c - the gateway: configuration, runtime selection, start-up and graceful teardown.
 *
 * Theory of operation
 * -------------------
 * SIGTERM, SIGINT and SIGHUP are blocked before any thread starts, so every thread inherits the
 * mask and only the main thread takes them, with sigtimedwait(). Start-up: API keys, pool
 * thread, the HTTP server (so /healthz answers 200 and /readyz 503 with its progress from the
 * first second, also while Docker builds the executor images), then the runtime (which starts
 * the executors and announces them to the pool). SIGHUP re-reads the API keys file; a bad
 * file is logged and the previous keys stay.
 *
 * Teardown on the first SIGTERM/SIGINT: /readyz turns 503 on open connections and the
 * listening socket is closed, so new connections are refused (http_begin_drain); the async
 * workers stop taking submissions (async_begin_drain); requests and submissions in flight
 * get up to cfg->drain_ms to finish; then whatever is still queued or running fails with 503
 * shutting_down (pool_fail_all), the handlers answer and the workers hand their submissions
 * back to the queue (async_stop); then the HTTP server stops, the pool closes its connections,
 * and the runtime stops and removes every executor it created. A second signal skips what is
 * left of the drain. Exit status 0.
 *
 * Runtime selection: --runtime docker/local/external as asked; auto picks docker when its
 * daemon answers, else local (never external: that one needs --executor-addrs). The external
 * runtime starts nothing, so it needs no Docker socket, no uid range and no root.
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <malloc.h>
#include <sys/file.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apikeys.h"
#include "async.h"
#include "cg_util.h"
#include "config.h"
#include "http.h"
#include "lang.h"
#include "log.h"
#include "pool.h"
#include "request.h"
#include "runtime.h"
#include "session.h"
#include "sizing.h"
#include "version.h"

static config_t g_cfg;

static void on_endpoint(void *arg, const runtime_endpoint_t *ep, bool up)
{
    pool_endpoint(arg, ep, up);
}

static runtime_t *g_runtime;

/* Sessions' API keys (session.h): the key store's calls behind the hub's opaque principal. */
static const void *key_of(void *ks, const char *token)
{
    const apikey_t *k = apikeys_authenticate(ks, token);
    if (!k)
        apikeys_count_refused(ks);
    return k;
}

static int key_acquire(void *ks, const void *principal)
{
    apikey_quota_t q;
    return apikeys_acquire(ks, principal, &q);
}

static void key_release(void *ks, const void *principal)
{
    apikeys_release(ks, principal);
}

static void on_unhealthy(void *arg, const char *id)
{
    (void)arg;
    if (g_runtime)
        runtime_report_unhealthy(g_runtime, id);
}

static int wait_signal(const sigset_t *set, int timeout_ms)
{
    struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L};
    int sig;

    do
        sig = sigtimedwait(set, NULL, &ts);
    while (sig < 0 && errno == EINTR);
    return sig < 0 ? 0 : sig;
}

static void drain(http_t *http, pool_t *pool, async_t *async, const sigset_t *set)
{
    int64_t deadline = cg_now_ms() + g_cfg.drain_ms;
    cJSON *f = cJSON_CreateObject();

    if (f) {
        cJSON_AddNumberToObject(f, "inflight", http_inflight(http));
        cJSON_AddNumberToObject(f, "drainMs", g_cfg.drain_ms);
    }
    log_event(LOG_INFO, "drain_start", f);
    http_begin_drain(http);
    async_begin_drain(async); /* workers take nothing new; running submissions go on */
    while ((http_inflight(http) > 0 || async_running(async) > 0) && cg_now_ms() < deadline) {
        int sig = wait_signal(set, 50);
        if (sig) {
            log_msg(LOG_WARN, "second signal (%s): skipping the drain", cg_signal_name(sig));
            break;
        }
    }
    if (http_inflight(http) > 0 || async_running(async) > 0) {
        log_msg(LOG_WARN,
                "%d request(s) and %d submission(s) still running: answering 503 "
                "shutting_down, handing the submissions back to the queue",
                http_inflight(http), async_running(async));
        pool_fail_all(pool, "shutting_down", "the gateway is shutting down");
        int64_t d2 = cg_now_ms() + 3000;
        while ((http_inflight(http) > 0 || async_running(async) > 0) && cg_now_ms() < d2)
            usleep(20000);
    }
    log_event(LOG_INFO, "drain_done", NULL);
}

/*
 * One gateway per instance name on a host: the instance owns its state dir, its containers and
 * its network, and a second gateway of the same name would remove them from under the first.
 * An flock() on /run/codegate-<instance>.lock (or in $XDG_RUNTIME_DIR / /tmp when not root) is
 * held for the life of the process; the kernel drops it when the process dies, even by kill -9.
 */
static int lock_instance(void)
{
    char path[PATH_MAX];
    int fd;

    if (geteuid() == 0)
        snprintf(path, sizeof path, "/run/codegate-%s.lock", g_cfg.instance);
    else if (getenv("XDG_RUNTIME_DIR"))
        snprintf(path, sizeof path, "%s/codegate-%s.lock", getenv("XDG_RUNTIME_DIR"),
                 g_cfg.instance);
    else
        snprintf(path, sizeof path, "/tmp/codegate-%u-%s.lock", (unsigned)getuid(), g_cfg.instance);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        log_msg(LOG_ERROR, "cannot open the instance lock %s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        log_msg(LOG_ERROR,
                "another gateway with --instance %s is running on this host (%s is "
                "locked); give this one another --instance",
                g_cfg.instance, path);
        close(fd);
        return -1;
    }
    return fd; /* kept open (and locked) until exit */
}

static runtime_t *choose_runtime(pool_t *pool)
{
    const char *want = g_cfg.runtime;

    if (strcmp(want, "docker") == 0)
        return runtime_docker_new(&g_cfg, on_endpoint, pool);
    if (strcmp(want, "local") == 0)
        return runtime_local_new(&g_cfg, on_endpoint, pool);
    if (strcmp(want, "external") == 0) {
        /* Only what --executor-addrs names is offered (and counts for /readyz). */
        for (int l = 0; l < LANG_COUNT; l++)
            pool_set_offered(pool, l, runtime_external_offers(&g_cfg, l));
        return runtime_external_new(&g_cfg, on_endpoint, pool);
    }
    if (runtime_docker_available(&g_cfg)) {
        log_msg(LOG_INFO, "runtime auto: the Docker daemon answers on %s: using docker",
                g_cfg.docker_socket);
        return runtime_docker_new(&g_cfg, on_endpoint, pool);
    }
    log_msg(LOG_WARN,
            "runtime auto: no Docker daemon on %s: using the local runtime "
            "(executors run as processes on this host)",
            g_cfg.docker_socket);
    return runtime_local_new(&g_cfg, on_endpoint, pool);
}

/*
 * The gateway's memory under load. Answers carry program output (up to 16 MiB, copied a few
 * times on the way), on one MHD thread per connection. glibc's defaults then hold on to it:
 * every thread gets its own arena (up to 8 per core), and after the first free of a big
 * mmap'ed block the mmap threshold rises (up to 32 MiB) so that later big blocks come from
 * the arenas, where freed memory stays resident. Measured with 16 clients asking for 1 MiB
 * outputs: 54 MiB resident afterwards, 79 MiB at the peak. Fixed values turn the dynamic
 * threshold off: every block of 128 KiB or more is its own mapping, returned to the kernel
 * when freed (a few page faults per answer), and a few arenas serve all threads.
 */
static void tune_malloc(void)
{
    (void)mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    (void)mallopt(M_TRIM_THRESHOLD, 512 * 1024);
    (void)mallopt(M_ARENA_MAX, 4);
}

int main(int argc, char **argv)
{
    char err[512];
    sigset_t set;
    pool_t *pool = NULL;
    http_t *http = NULL;
    session_hub_t *hub = NULL;
    apikeys_t *keys = NULL;
    async_t *async = NULL;
    int rc, status = 1;

    if (argc == 2 && strcmp(argv[1], "--config-markdown") == 0) {
        config_print_markdown(stdout); /* the README's configuration table */
        return 0;
    }
    rc = config_load(&g_cfg, argc, argv, err, sizeof err);
    if (rc == 1)
        return 0;
    if (rc != 0) {
        fprintf(stderr, "gateway: %s\n(see --help)\n", err);
        return 2;
    }
    /* Before any thread parses a request (request.h). */
    request_set_file_limits(
        &(cg_files_limits_t){g_cfg.files_max, (size_t)g_cfg.files_max_kb * 1024u,
                             g_cfg.file_name_max, g_cfg.file_depth_max},
        &(cg_out_limits_t){g_cfg.out_files_max, (size_t)g_cfg.out_file_max_kb * 1024u,
                           (size_t)g_cfg.out_files_max_kb * 1024u});
    tune_malloc();
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    log_msg(LOG_INFO, "codegate %s starting (instance %s)", CG_VERSION, g_cfg.instance);
    {
        sizing_machine_t machine;
        sizing_probe(LANG_COUNT, &machine);
        sizing_apply(&g_cfg, &machine); /* the options left at 0, before any thread reads them */
    }
    if (lock_instance() < 0)
        return 1;
    keys = apikeys_new(g_cfg.api_keys_file, err, sizeof err);
    if (!keys) {
        log_msg(LOG_ERROR, "--api-keys-file: %s", err);
        return 1;
    }
    if (apikeys_enabled(keys))
        log_msg(LOG_INFO, "API keys required (from %s)", g_cfg.api_keys_file);
    pool = pool_new(&g_cfg, on_unhealthy, NULL);
    if (!pool || pool_start(pool) != 0) {
        log_msg(LOG_ERROR, "cannot start the connection pool");
        goto out;
    }
    g_runtime = choose_runtime(pool);
    if (!g_runtime) {
        log_msg(LOG_ERROR, "cannot create the %s runtime", g_cfg.runtime);
        goto out;
    }
    hub = session_hub_new(&g_cfg, pool);
    if (!hub)
        goto out;
    if (apikeys_enabled(keys)) {
        /* Sessions take the same keys and concurrent-run quotas as POST requests. */
        session_auth_t auth = {key_of, key_acquire, key_release, keys};
        session_hub_set_auth(hub, &auth);
    }
    async = async_new(&g_cfg, pool, keys, err, sizeof err);
    if (!async) {
        log_msg(LOG_ERROR, "%s", err);
        goto out;
    }
    http = http_start(&g_cfg, pool, hub, keys, async, g_runtime->ops->name);
    if (!http)
        goto out;
    {
        cJSON *f = cJSON_CreateObject();
        if (f) {
            cJSON_AddStringToObject(f, "bind", g_cfg.bind);
            cJSON_AddNumberToObject(f, "port", g_cfg.port);
            cJSON_AddStringToObject(f, "runtime", g_runtime->ops->name);
        }
        log_event(LOG_INFO, "listening", f);
    }
    http_set_progress(http, strcmp(g_runtime->ops->name, "docker") == 0
                                ? "starting executor containers (the first start builds their "
                                  "images: a few minutes)"
                            : strcmp(g_runtime->ops->name, "external") == 0
                                ? "resolving the executors' addresses"
                                : "starting executor processes");
    if (runtime_start(g_runtime) != 0) {
        log_msg(LOG_ERROR, "the %s runtime failed to start (details above)", g_runtime->ops->name);
        goto out;
    }
    http_set_progress(http, "waiting for executors to connect");
    if (async_start(async) != 0) {
        log_msg(LOG_ERROR, "cannot start the asynchronous submission workers");
        goto out;
    }
    for (;;) {
        int sig = wait_signal(&set, 1000);
        if (sig == SIGHUP) {
            if (apikeys_reload(keys, err, sizeof err) != 0)
                log_msg(LOG_ERROR, "SIGHUP: keeping the previous API keys: %s", err);
            else if (apikeys_enabled(keys))
                log_msg(LOG_INFO, "SIGHUP: API keys re-read from %s", g_cfg.api_keys_file);
            continue;
        }
        if (sig) {
            log_msg(LOG_INFO, "%s received: shutting down", cg_signal_name(sig));
            break;
        }
    }
    drain(http, pool, async, &set);
    status = 0;

out:
    if (hub)
        session_hub_close(hub);
    /* Workers first: one still running hands its submission back (the pool fails its job
     * with shutting_down) before the pool stops. */
    if (async) {
        pool_fail_all(pool, "shutting_down", "the gateway is shutting down");
        async_stop(async);
    }
    if (http)
        http_stop(http);
    async_free(async);
    session_hub_free(hub);
    /* The pool's connections close before the executors are told to stop, so that each
     * executor finds no client left and exits at once. */
    if (pool)
        pool_stop(pool);
    pool_free(pool);
    if (g_runtime) {
        runtime_stop(g_runtime);
        runtime_free(g_runtime);
    }
    apikeys_free(keys);
    log_event(LOG_INFO, "exit", NULL);
    return status;
}
