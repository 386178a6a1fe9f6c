/*
 * runtime_local.c - executors as child processes of the gateway (the `local` runtime).
 *
 * Theory of operation
 * -------------------
 * For every language, cfg->executors executors are started as `build/executor` children, each
 * listening on a unix socket in the instance's state directory with a fresh random token
 * handed over in a 0600 file. The directory is 0711: the slot uids must traverse it to reach
 * their work dirs below, but cannot list it; the sockets are 0600 (only our uid may connect)
 * and the token files 0600.
 * Every child gets PR_SET_PDEATHSIG(SIGTERM): if the gateway dies, its executors follow.
 *
 * Slot uids: each executor runs its jobs as uid_base + slot. Executors share this host's pid
 * space, so every executor gets its own uid range (instance base + k * slots): a kill of "every
 * process of a uid" by one executor can never hit another executor's run. The instance base is
 * derived from the instance name (100000 + (FNV-1a(name) mod 4096) * 4096), so two gateway
 * instances on one host use different ranges too (distinct names could still collide, with
 * probability 1/4096 per pair: give such instances names that differ).
 *
 * A watcher thread polls the children (waitpid WNOHANG, every 100 ms): one that exited is
 * announced down, restarted with backoff (200 ms doubling to 5 s; reset after 30 s of life),
 * and announced up once its socket accepts connections. An executor reported unhealthy by the
 * pool (pings stopped) is killed with SIGKILL and so restarted the same way.
 */
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cg_util.h"
#include "lang.h"
#include "log.h"
#include "metrics.h"
#include "request.h"

#define LOCAL_READY_TIMEOUT_MS 15000
#define LOCAL_STOP_TIMEOUT_MS 5000

typedef struct {
    char id[64];
    const char *language;
    int index; /* global index, for the uid range */
    pid_t pid;
    char sock[108];
    char token_file[PATH_MAX];
    char token[65];
    int64_t started_ms;
    int backoff_ms;
    int64_t restart_at_ms; /* 0 = not scheduled */
    int restarts;
} local_exec_t;

typedef struct {
    runtime_t base;
    char state_dir[PATH_MAX];
    char executor_bin[PATH_MAX];
    char launcher_bin[PATH_MAX];
    local_exec_t *ex;
    int nex; /* base.mu protects ex[].pid against report_unhealthy */
} local_rt_t;

static void sibling_path(char *out, size_t len, const char *configured, const char *name)
{
    char self[PATH_MAX];
    ssize_t n;

    if (configured[0]) {
        snprintf(out, len, "%s", configured);
        return;
    }
    n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n < 0) {
        snprintf(out, len, "%s", name);
        return;
    }
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = '\0';
    snprintf(out, len, "%s/%s", self, name);
}

static int make_state_dir(local_rt_t *rt)
{
    const config_t *cfg = rt->base.cfg;

    if (cfg->state_dir[0])
        snprintf(rt->state_dir, sizeof rt->state_dir, "%s", cfg->state_dir);
    else if (geteuid() == 0)
        snprintf(rt->state_dir, sizeof rt->state_dir, "/run/codegate-%s", cfg->instance);
    else if (getenv("XDG_RUNTIME_DIR"))
        snprintf(rt->state_dir, sizeof rt->state_dir, "%s/codegate-%s", getenv("XDG_RUNTIME_DIR"),
                 cfg->instance);
    else
        snprintf(rt->state_dir, sizeof rt->state_dir, "/tmp/codegate-%u-%s", (unsigned)getuid(),
                 cfg->instance);
    if (mkdir(rt->state_dir, 0711) != 0 && errno != EEXIST) {
        log_msg(LOG_ERROR, "cannot create state dir %s: %m", rt->state_dir);
        return -errno;
    }
    struct stat st;
    if (lstat(rt->state_dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid()) {
        log_msg(LOG_ERROR, "state dir %s is not a directory owned by us", rt->state_dir);
        return -EPERM;
    }
    (void)chmod(rt->state_dir, 0711);
    return 0;
}

static int write_token(local_exec_t *e)
{
    int fd;

    if (cg_random_hex(e->token, 32) != 0)
        return -EIO;
    (void)unlink(e->token_file);
    fd = open(e->token_file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -errno;
    int rc = cg_write_all(fd, e->token, strlen(e->token));
    close(fd);
    return rc;
}

/* fork + exec one executor. Everything the child needs is prepared before fork(): the gateway
 * is multi-threaded, so the child may only make async-signal-safe calls. */
static int spawn(local_rt_t *rt, local_exec_t *e)
{
    const config_t *cfg = rt->base.cfg;
    char env_lang[64], env_listen[160], env_slots[32], env_launcher[PATH_MAX + 32],
        env_work[PATH_MAX + 32], env_uid[48], env_token[PATH_MAX + 32];
    char *envp[18], *argv[2];
    int n = 0;
    pid_t pid;

    if (write_token(e) != 0) {
        log_msg(LOG_ERROR, "executor %s: cannot write its token file %s", e->id, e->token_file);
        return -EIO;
    }
    (void)unlink(e->sock);
    snprintf(env_lang, sizeof env_lang, "EXECUTOR_LANGUAGE=%s", e->language);
    snprintf(env_listen, sizeof env_listen, "EXECUTOR_LISTEN=unix:%s", e->sock);
    snprintf(env_slots, sizeof env_slots, "EXECUTOR_SLOTS=%d", cfg->slots);
    snprintf(env_launcher, sizeof env_launcher, "EXECUTOR_LAUNCHER=%s", rt->launcher_bin);
    snprintf(env_work, sizeof env_work, "EXECUTOR_WORK_ROOT=%s/work-%s", rt->state_dir, e->id);
    snprintf(env_uid, sizeof env_uid, "EXECUTOR_UID_BASE=%u",
             rt->base.uids.base + (unsigned)(e->index * cfg->slots));
    snprintf(env_token, sizeof env_token, "EXECUTOR_TOKEN_FILE=%s", e->token_file);
    envp[n++] = env_lang;
    envp[n++] = env_listen;
    envp[n++] = env_slots;
    envp[n++] = env_launcher;
    envp[n++] = env_work;
    envp[n++] = env_uid;
    envp[n++] = env_token;
    if (cfg->allow_unsandboxed)
        envp[n++] = (char *)"EXECUTOR_ALLOW_UNSANDBOXED=1";
    envp[n++] = (char *)"PATH=/usr/local/bin:/usr/bin:/bin";
    envp[n++] = (char *)"LANG=C.UTF-8";
    /* Sanitizer builds: their options reach the executors too (nothing else of ours does). */
    /* EXECUTOR_ZYGOTE=0 (tests, benchmarks): Python runs start python3 (executors/options.c). */
    static const char *const pass[] = {"ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS",
                                       "TSAN_OPTIONS", "EXECUTOR_ZYGOTE"};
    char passbuf[5][1024];
    for (int i = 0; i < 5; i++) {
        const char *v = getenv(pass[i]);
        if (v && strlen(v) < 900) {
            snprintf(passbuf[i], sizeof passbuf[i], "%s=%s", pass[i], v);
            envp[n++] = passbuf[i];
        }
    }
    envp[n] = NULL;
    argv[0] = rt->executor_bin;
    argv[1] = NULL;

    pid_t parent = getpid();
    pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(1);
        /* Leave the gateway's process group: a ^C in the terminal reaches the gateway, which
         * then stops its executors in order. */
        setpgid(0, 0);
        execve(rt->executor_bin, argv, envp);
        _exit(127);
    }
    pthread_mutex_lock(&rt->base.mu);
    e->pid = pid;
    pthread_mutex_unlock(&rt->base.mu);
    e->started_ms = cg_now_ms();
    return 0;
}

/* Polls until the executor's socket accepts a connection, or it died, or the timeout. */
static int wait_ready(local_rt_t *rt, local_exec_t *e)
{
    int64_t deadline = cg_now_ms() + LOCAL_READY_TIMEOUT_MS;
    struct sockaddr_un sa;

    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", e->sock);
    while (cg_now_ms() < deadline && !atomic_load(&rt->base.stopping)) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -errno;
        int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
        close(fd);
        if (rc == 0)
            return 0;
        int status;
        if (waitpid(e->pid, &status, WNOHANG) == e->pid) {
            pthread_mutex_lock(&rt->base.mu);
            e->pid = 0;
            pthread_mutex_unlock(&rt->base.mu);
            log_msg(LOG_ERROR, "executor %s exited during start-up (status %d)", e->id, status);
            return -ECHILD;
        }
        usleep(20000);
    }
    return -ETIMEDOUT;
}

static void announce(local_rt_t *rt, local_exec_t *e, bool up)
{
    runtime_endpoint_t ep;
    cJSON *f = cJSON_CreateObject();

    memset(&ep, 0, sizeof ep);
    snprintf(ep.id, sizeof ep.id, "%s", e->id);
    ep.language = e->language;
    snprintf(ep.address, sizeof ep.address, "+%s", e->sock);
    ep.port = 0;
    snprintf(ep.token, sizeof ep.token, "%s", e->token);
    snprintf(ep.where, sizeof ep.where, "pid %d", (int)e->pid);
    if (f) {
        cJSON_AddNumberToObject(f, "pid", e->pid);
        cJSON_AddNumberToObject(f, "restarts", e->restarts);
    }
    runtime_announce(&rt->base, &ep, up, f);
}

static int start_one(local_rt_t *rt, local_exec_t *e)
{
    int rc = spawn(rt, e);

    if (rc == 0)
        rc = wait_ready(rt, e);
    if (rc == 0) {
        announce(rt, e, true);
        return 0;
    }
    log_msg(LOG_ERROR, "executor %s did not start: %s", e->id, strerror(-rc));
    pthread_mutex_lock(&rt->base.mu);
    if (e->pid > 0) {
        kill(e->pid, SIGKILL);
        waitpid(e->pid, NULL, 0);
        e->pid = 0;
    }
    pthread_mutex_unlock(&rt->base.mu);
    return rc;
}

static void schedule_restart(local_exec_t *e)
{
    int64_t now = cg_now_ms();

    if (now - e->started_ms > 30000)
        e->backoff_ms = 0;
    e->backoff_ms = e->backoff_ms ? e->backoff_ms * 2 : 200;
    if (e->backoff_ms > 5000)
        e->backoff_ms = 5000;
    e->restart_at_ms = now + e->backoff_ms;
}

/* One pass of the watcher thread (runtime.c): reap, announce down, restart when due. */
static void local_watch(runtime_t *base)
{
    local_rt_t *rt = (local_rt_t *)base;

    for (int i = 0; i < rt->nex && !atomic_load(&rt->base.stopping); i++) {
        local_exec_t *e = &rt->ex[i];
        int status;
        if (e->pid > 0 && waitpid(e->pid, &status, WNOHANG) == e->pid) {
            cJSON *f = cJSON_CreateObject();
            if (f) {
                cJSON_AddStringToObject(f, "executor", e->id);
                cJSON_AddNumberToObject(f, "pid", e->pid);
                if (WIFSIGNALED(status))
                    cJSON_AddStringToObject(f, "signal", cg_signal_name(WTERMSIG(status)));
                else
                    cJSON_AddNumberToObject(f, "exitCode", WEXITSTATUS(status));
            }
            log_event(LOG_WARN, "executor_exited", f);
            pthread_mutex_lock(&rt->base.mu);
            e->pid = 0;
            pthread_mutex_unlock(&rt->base.mu);
            announce(rt, e, false);
            schedule_restart(e);
        }
        if (e->pid == 0 && e->restart_at_ms && cg_now_ms() >= e->restart_at_ms) {
            e->restart_at_ms = 0;
            e->restarts++;
            metrics_executor_restart();
            if (start_one(rt, e) != 0)
                schedule_restart(e);
        }
    }
}

static void stop_all(local_rt_t *rt)
{
    int64_t deadline = cg_now_ms() + LOCAL_STOP_TIMEOUT_MS;
    bool left = true;

    pthread_mutex_lock(&rt->base.mu);
    for (int i = 0; i < rt->nex; i++)
        if (rt->ex[i].pid > 0)
            kill(rt->ex[i].pid, SIGTERM);
    pthread_mutex_unlock(&rt->base.mu);
    while (left) {
        left = false;
        for (int i = 0; i < rt->nex; i++) {
            local_exec_t *e = &rt->ex[i];
            if (e->pid <= 0)
                continue;
            if (waitpid(e->pid, NULL, WNOHANG) == e->pid) {
                e->pid = 0;
                continue;
            }
            if (cg_now_ms() > deadline) {
                log_msg(LOG_WARN, "executor %s did not stop in time: SIGKILL", e->id);
                kill(e->pid, SIGKILL);
                waitpid(e->pid, NULL, 0);
                e->pid = 0;
                continue;
            }
            left = true;
        }
        if (left)
            usleep(20000);
    }
    for (int i = 0; i < rt->nex; i++) {
        (void)unlink(rt->ex[i].sock);
        (void)unlink(rt->ex[i].token_file);
        char work[PATH_MAX + 80];
        snprintf(work, sizeof work, "%s/work-%s", rt->state_dir, rt->ex[i].id);
        (void)rmdir(work);
    }
    (void)rmdir(rt->state_dir);
}

static int local_start(runtime_t *base)
{
    local_rt_t *rt = (local_rt_t *)base;
    const config_t *cfg = base->cfg;
    int rc, k = 0;

    if ((rc = runtime_claim_uids(base)) != 0)
        return rc;
    sibling_path(rt->executor_bin, sizeof rt->executor_bin, cfg->executor_bin, "executor");
    sibling_path(rt->launcher_bin, sizeof rt->launcher_bin, cfg->launcher_bin, "launcher");
    if (access(rt->executor_bin, X_OK) != 0 || access(rt->launcher_bin, X_OK) != 0) {
        log_msg(LOG_ERROR, "executor or launcher binary missing: %s, %s (run make)",
                rt->executor_bin, rt->launcher_bin);
        return -ENOENT;
    }
    if ((rc = make_state_dir(rt)) != 0)
        return rc;
    rt->nex = LANG_COUNT * cfg->executors;
    rt->ex = calloc((size_t)rt->nex, sizeof *rt->ex);
    if (!rt->ex)
        return -ENOMEM;
    for (int l = 0; l < LANG_COUNT; l++)
        for (int n = 0; n < cfg->executors; n++, k++) {
            local_exec_t *e = &rt->ex[k];
            e->language = lang_table[l].name;
            e->index = k;
            snprintf(e->id, sizeof e->id, "%s-%d", e->language, n);
            if ((size_t)snprintf(e->sock, sizeof e->sock, "%s/%s.sock", rt->state_dir, e->id) >=
                sizeof e->sock) {
                log_msg(LOG_ERROR, "state dir path too long for a unix socket: %s", rt->state_dir);
                return -ENAMETOOLONG;
            }
            snprintf(e->token_file, sizeof e->token_file, "%s/%s.token", rt->state_dir, e->id);
        }
    if (geteuid() != 0)
        log_msg(LOG_INFO, "local runtime without root: the executors build their boxes in user "
                          "namespaces (no cgroups: memory by rlimits; see docs/SECURITY.md)");
    /* Start all, then wait for all: executors start in parallel. */
    for (k = 0; k < rt->nex; k++)
        if ((rc = spawn(rt, &rt->ex[k])) != 0)
            return rc; /* runtime_start() stops what started */
    for (k = 0; k < rt->nex; k++) {
        if ((rc = wait_ready(rt, &rt->ex[k])) != 0) {
            log_msg(LOG_ERROR, "executor %s did not become ready: %s", rt->ex[k].id, strerror(-rc));
            return rc;
        }
        announce(rt, &rt->ex[k], true);
    }
    return 0;
}

static void local_report_unhealthy(runtime_t *base, const char *id)
{
    local_rt_t *rt = (local_rt_t *)base;

    pthread_mutex_lock(&rt->base.mu);
    for (int i = 0; i < rt->nex; i++)
        if (strcmp(rt->ex[i].id, id) == 0 && rt->ex[i].pid > 0) {
            log_msg(LOG_WARN, "executor %s stopped answering: killing it (pid %d)", id,
                    (int)rt->ex[i].pid);
            kill(rt->ex[i].pid, SIGKILL);
        }
    pthread_mutex_unlock(&rt->base.mu);
}

static void local_stop_all(runtime_t *base)
{
    local_rt_t *rt = (local_rt_t *)base;

    if (rt->ex)
        stop_all(rt);
}

static void local_destroy(runtime_t *base)
{
    free(((local_rt_t *)base)->ex);
}

static const runtime_ops_t local_ops = {
    .name = "local",
    .watch_ms = 100,
    .start = local_start,
    .report_unhealthy = local_report_unhealthy,
    .watch = local_watch,
    .stop_all = local_stop_all,
    .destroy = local_destroy,
};

runtime_t *runtime_local_new(const config_t *cfg, runtime_endpoint_cb cb, void *arg)
{
    local_rt_t *rt = calloc(1, sizeof *rt);

    if (!rt)
        return NULL;
    runtime_init(&rt->base, &local_ops, cfg, cb, arg);
    return &rt->base;
}
