/*
 * main.c - the executor binary: configuration from flags and environment, start-up checks,
 * the libuv loop, and shutdown on SIGTERM/SIGINT.
 *
 *   executor --language python|javascript|cpp [--listen tcp:HOST:PORT|unix:/path]
 *            [--slots N] [--token-file FILE] [--launcher PATH] [--work-root DIR] [--uid-base N]
 *
 * Environment: EXECUTOR_LANGUAGE, EXECUTOR_LISTEN (default tcp:0.0.0.0:8765), EXECUTOR_SLOTS
 * (4), EXECUTOR_TOKEN or EXECUTOR_TOKEN_FILE (required), EXECUTOR_LAUNCHER (default: launcher
 * next to this binary), EXECUTOR_WORK_ROOT (/tmp/codegate-work), EXECUTOR_UID_BASE (60000),
 * EXECUTOR_COMPILE_TIMEOUT_MS (20000). Flags win. The token is removed from the environment at
 * once, so no child ever sees it.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "cg_util.h"
#include "executor.h"
#include "profiles.h"
#include "protocol.h"
#include "version.h"
#include "workdir.h"

typedef struct {
    const char *language, *listen, *token_file, *launcher, *work_root;
    int slots, uid_base, compile_timeout_ms;
    char token[256];
    char launcher_buf[PATH_MAX];
} opts_t;

static executor_t *g_ex;

static const char *env_or(const char *name, const char *def)
{
    const char *v = getenv(name);
    return v && *v ? v : def;
}

static int int_opt(const char *name, const char *v, int min, int max)
{
    char *end;
    long n = strtol(v, &end, 10);

    if (end == v || *end || n < min || n > max) {
        fprintf(stderr, "executor: %s must be an integer between %d and %d\n", name, min, max);
        exit(2);
    }
    return (int)n;
}

static void load_opts(opts_t *o, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    o->language = env_or("EXECUTOR_LANGUAGE", NULL);
    o->listen = env_or("EXECUTOR_LISTEN", "tcp:0.0.0.0:8765");
    o->token_file = env_or("EXECUTOR_TOKEN_FILE", NULL);
    o->launcher = env_or("EXECUTOR_LAUNCHER", NULL);
    o->work_root = env_or("EXECUTOR_WORK_ROOT", "/tmp/codegate-work");
    o->slots = int_opt("EXECUTOR_SLOTS", env_or("EXECUTOR_SLOTS", "4"), 1, 64);
    o->uid_base = int_opt("EXECUTOR_UID_BASE", env_or("EXECUTOR_UID_BASE", "60000"), 1000,
                          2000000000);
    o->compile_timeout_ms = int_opt("EXECUTOR_COMPILE_TIMEOUT_MS",
                                    env_or("EXECUTOR_COMPILE_TIMEOUT_MS", "20000"), 1000, 120000);
    if (getenv("EXECUTOR_TOKEN"))
        snprintf(o->token, sizeof o->token, "%s", getenv("EXECUTOR_TOKEN"));
    unsetenv("EXECUTOR_TOKEN");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--version")) {
            printf("codegate executor %s (protocol %d)\n", CG_VERSION, CG_PROTO_VERSION);
            exit(0);
        }
        if (!v) {
            fprintf(stderr, "executor: %s needs a value (see the top of executors/main.c)\n", a);
            exit(2);
        }
        if (!strcmp(a, "--language"))
            o->language = v;
        else if (!strcmp(a, "--listen"))
            o->listen = v;
        else if (!strcmp(a, "--slots"))
            o->slots = int_opt(a, v, 1, 64);
        else if (!strcmp(a, "--token-file"))
            o->token_file = v;
        else if (!strcmp(a, "--launcher"))
            o->launcher = v;
        else if (!strcmp(a, "--work-root"))
            o->work_root = v;
        else if (!strcmp(a, "--uid-base"))
            o->uid_base = int_opt(a, v, 1000, 2000000000);
        else {
            fprintf(stderr, "executor: unknown option %s\n", a);
            exit(2);
        }
        i++;
    }
}

static int read_token(opts_t *o)
{
    int fd;
    ssize_t n;

    if (!o->token_file)
        return o->token[0] ? 0 : -1;
    fd = open(o->token_file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    n = cg_read_full(fd, o->token, sizeof o->token - 1);
    close(fd);
    if (n <= 0)
        return -1;
    o->token[n] = '\0';
    o->token[strcspn(o->token, "\r\n")] = '\0';
    return o->token[0] ? 0 : -1;
}

/* Can a run get its own network and IPC namespaces here? (The launcher tries for every run;
 * this start-up probe only tells the operator which isolation is in force.) */
static bool namespaces_available(void)
{
    int status;
    pid_t p = fork();

    if (p == 0)
        _exit(unshare(CLONE_NEWNET | CLONE_NEWIPC) == 0 ? 0 : 1);
    if (p < 0 || waitpid(p, &status, 0) != p)
        return false;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Kills whatever still runs under the slot uids (left by an executor that crashed): the
 * launcher relies on each slot uid running nothing but the current run. */
static void clear_slot_uids(uid_t base, int slots)
{
    for (int i = 0; i < slots; i++) {
        int status;
        pid_t p = fork();
        if (p == 0) {
            uid_t u = base + (uid_t)i;
            if (setresgid(u, u, u) == 0 && setresuid(u, u, u) == 0)
                kill(-1, SIGKILL);
            _exit(0);
        }
        if (p > 0)
            waitpid(p, &status, 0);
    }
}

static void on_signal(uv_signal_t *s, int sig)
{
    (void)s;
    executor_log("info", "signal %d: shutting down", sig);
    executor_shutdown(g_ex);
}

int main(int argc, char **argv)
{
    opts_t o;
    char version[64] = "unknown";
    uv_loop_t loop;
    uv_signal_t sterm, sint;
    const profile_t *pf;
    bool root = geteuid() == 0;

    load_opts(&o, argc, argv);
    signal(SIGPIPE, SIG_IGN);
    pf = profile_find(o.language);
    if (!pf) {
        fprintf(stderr, "executor: --language must be python, javascript or cpp\n");
        return 2;
    }
    if (read_token(&o) != 0) {
        fprintf(stderr, "executor: a token is required (EXECUTOR_TOKEN or --token-file)\n");
        return 2;
    }
    if (!o.launcher) {
        ssize_t n = readlink("/proc/self/exe", o.launcher_buf, sizeof o.launcher_buf - 1);
        if (n > 0) {
            o.launcher_buf[n] = '\0';
            char *slash = strrchr(o.launcher_buf, '/');
            if (slash)
                snprintf(slash + 1, sizeof o.launcher_buf - (size_t)(slash + 1 - o.launcher_buf),
                         "launcher");
        }
        o.launcher = o.launcher_buf;
    }
    if (workdir_prepare_root(o.work_root) != 0) {
        fprintf(stderr, "executor: cannot use work root %s: %s\n", o.work_root, strerror(errno));
        return 1;
    }
    if (profile_version(pf, version, sizeof version) != 0)
        executor_log("warn", "cannot tell the %s version", pf->name);
    if (!root) {
        executor_log("warn", "not running as root: every run uses this uid (reduced isolation)");
    } else {
        clear_slot_uids((uid_t)o.uid_base, o.slots);
        if (namespaces_available())
            executor_log("info", "runs get private network and IPC namespaces");
        else
            executor_log("info", "no per-run namespaces here (unshare refused): isolation comes "
                                 "from the container's internal network, slot uids and clean-up");
    }

    /* The compile cache lives beside the work dirs (in Docker: on the /work tmpfs). Its name
     * starts with '.', which no work dir name can. */
    char cache_dir[PATH_MAX + 32];
    snprintf(cache_dir, sizeof cache_dir, "%s/.compile-cache", o.work_root);
    uv_loop_init(&loop);
    executor_cfg_t cfg = {
        .language = pf->name,
        .version = version,
        .listen = o.listen,
        .token = o.token,
        .launcher = o.launcher,
        .work_root = o.work_root,
        .slots = o.slots,
        .uid_base = (uid_t)o.uid_base,
        .drop_uid = root,
        .compile_timeout_ms = o.compile_timeout_ms,
        .cache_dir = cache_dir,
    };
    g_ex = executor_new(&loop, &cfg);
    if (!g_ex)
        return 1;
    uv_signal_init(&loop, &sterm);
    uv_signal_init(&loop, &sint);
    uv_signal_start(&sterm, on_signal, SIGTERM);
    uv_signal_start(&sint, on_signal, SIGINT);
    executor_log("info", "%s %s executor listening on %s (%d slots, launcher %s)", pf->name,
                 version, o.listen, o.slots, o.launcher);
    uv_run(&loop, UV_RUN_DEFAULT);
    /* Our handles first, then lws's (it closes its own on the loop), then let them all close. */
    uv_close((uv_handle_t *)&sterm, NULL);
    uv_close((uv_handle_t *)&sint, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    executor_free(g_ex);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    memset(o.token, 0, sizeof o.token);
    executor_log("info", "stopped");
    return 0;
}
