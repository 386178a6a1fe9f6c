/*
 * main.c - the executor binary: configuration from flags and environment, start-up checks,
 * the libuv loop, and shutdown on SIGTERM/SIGINT.
 *
 *   executor --language python|javascript|cpp [--listen tcp:HOST:PORT|unix:/path]
 *            [--slots N] [--token-file FILE] [--launcher PATH] [--work-root DIR] [--uid-base N]
 *
 * Every option can also come from the environment (see the table below; `executor --help`
 * prints it). Flags win over the environment. The token comes from EXECUTOR_TOKEN or a token
 * file, never from a flag (argv is public in ps); it is wiped from the environment block at
 * once, so neither a child nor a reader of /proc/<pid>/environ sees it.
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uv.h>

#include "cg_util.h"
#include "executor.h"
#include "log.h"
#include "profiles.h"
#include "protocol.h"
#include "runner.h"
#include "slotcg.h"
#include "slotns.h"
#include "version.h"
#include "workdir.h"

typedef struct {
    const char *language, *listen, *token_file, *launcher, *work_root, *log_level, *box_ro;
    int slots, uid_base, compile_timeout_ms, require_ns, slot_disk_mb, allow_unsandboxed, drain_ms;
    char token[256];
    char launcher_buf[PATH_MAX];
} opts_t;

/* One row per option: the flag, its environment variable, default, bounds (integers), help. */
typedef struct {
    const char *flag, *env, *def;
    bool is_int;
    long min, max;
    size_t off; /* in opts_t: const char * or int */
    const char *help;
} opt_def_t;

// clang-format off
#define STR_OPT(f, e, d, field, h) {f, e, d, false, 0, 0, offsetof(opts_t, field), h}
#define INT_OPT(f, e, d, lo, hi, field, h) {f, e, d, true, lo, hi, offsetof(opts_t, field), h}
// clang-format on

static const opt_def_t opt_table[] = {
    STR_OPT("--language", "EXECUTOR_LANGUAGE", NULL, language,
            "a name of the language table, common/lang.c (required)"),
    STR_OPT("--listen", "EXECUTOR_LISTEN", "tcp:0.0.0.0:8765", listen,
            "tcp:HOST:PORT or unix:/path (the socket is made 0600)"),
    INT_OPT("--slots", "EXECUTOR_SLOTS", "4", 1, 64, slots, "jobs run at once"),
    STR_OPT("--token-file", "EXECUTOR_TOKEN_FILE", NULL, token_file,
            "file holding the bearer token (else EXECUTOR_TOKEN; one is required)"),
    STR_OPT("--launcher", "EXECUTOR_LAUNCHER", NULL, launcher,
            "sandbox launcher (default: launcher next to this binary)"),
    STR_OPT("--work-root", "EXECUTOR_WORK_ROOT", "/tmp/codegate-work", work_root,
            "parent of the per-run work dirs (made 0711, must be ours)"),
    INT_OPT("--uid-base", "EXECUTOR_UID_BASE", "60000", 1000, 2000000000, uid_base,
            "slot i runs as uid/gid base+i (when root)"),
    INT_OPT("--compile-timeout-ms", "EXECUTOR_COMPILE_TIMEOUT_MS",
            LANG_STR(LANG_COMPILE_TIMEOUT_MS), 1000, LANG_COMPILE_TIMEOUT_MAX_MS,
            compile_timeout_ms,
            "wall clock of one compile (the gateway waits this long by default: lang.h)"),
    INT_OPT("--drain-ms", "EXECUTOR_DRAIN_MS", "25000", 0, 3600000, drain_ms,
            "after SIGTERM: how long running jobs may still take before they are killed (a "
            "second SIGTERM kills them at once)"),
    STR_OPT("--log-level", "EXECUTOR_LOG_LEVEL", "info", log_level,
            "debug (also a line per job), info, warn or error"),
    INT_OPT("--slot-disk-mb", "EXECUTOR_SLOT_DISK_MB", "128", 16, 4096, slot_disk_mb,
            "size of each slot's private work area (a tmpfs; its pages count against the "
            "run's memory)"),
    STR_OPT("--box-ro", "EXECUTOR_BOX_RO", NULL, box_ro,
            "more read-only paths programs may see (colon-separated; /usr, /bin, /lib... and "
            "a few /etc files are always there)"),
    INT_OPT("--allow-unsandboxed", "EXECUTOR_ALLOW_UNSANDBOXED", "0", 0, 1, allow_unsandboxed,
            "1: without root and without user namespaces, run programs as this user with "
            "rlimits only (untrusted code can then read what this user can); 0: refuse to start"),
    INT_OPT("--require-namespaces", "EXECUTOR_REQUIRE_NAMESPACES", "0", 0, 1, require_ns,
            "1: refuse to start (as root) without per-slot namespaces and memory cgroups "
            "instead of warning"),
};
#define NOPTS (sizeof opt_table / sizeof opt_table[0])

static executor_t *g_ex;
static slotns_t g_ns[64]; /* --slots is at most 64 */
static bool g_have_ns;
static slotcg_t g_cg[64];
static bool g_have_cg;
static char g_areas[64][PATH_MAX];
static bool g_userns; /* root only in a user namespace of our own (started without root) */

static char *g_box_ro[33];
static char g_box_ro_buf[4096];

/* The extra read-only paths of --box-ro, split at ':' (at most 32). */
static const char *const *box_ro_list(const char *spec)
{
    int n = 0;

    if (!spec || !*spec)
        return NULL;
    snprintf(g_box_ro_buf, sizeof g_box_ro_buf, "%s", spec);
    for (char *save = NULL, *t = strtok_r(g_box_ro_buf, ":", &save); t && n < 32;
         t = strtok_r(NULL, ":", &save))
        g_box_ro[n++] = t;
    g_box_ro[n] = NULL;
    return (const char *const *)g_box_ro;
}

/* Removes what an earlier executor left in the work root (job dirs of an executor that died
 * without namespaces, an older version's compile cache): students' files never outlive us. With
 * namespaces the work root is then covered by a tmpfs only we see (slotns_prepare). */
static void clear_work_root(const char *root)
{
    DIR *d = opendir(root);
    struct dirent *de;
    int n = 0;

    if (!d)
        return;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (workdir_remove(root, de->d_name) == 0 && strcmp(de->d_name, ".compile-cache") != 0)
            n++;
    }
    closedir(d);
    if (n)
        executor_log("warn", "removed %d work dir%s left in %s by an earlier executor", n,
                     n == 1 ? "" : "s", root);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: executor --language LANG [options]\n\n");
    for (size_t i = 0; i < NOPTS; i++) {
        const opt_def_t *d = &opt_table[i];
        fprintf(f, "  %-22s %-28s %s", d->flag, d->env, d->help);
        if (d->def)
            fprintf(f, " [%s]", d->def);
        if (d->is_int)
            fprintf(f, " (%ld..%ld)", d->min, d->max);
        fputc('\n', f);
    }
    fprintf(f, "  %-22s %-28s %s\n", "", "EXECUTOR_TOKEN", "the bearer token itself");
    fprintf(f, "  --version, --help\n");
}

/* Stores value v for option d into o. 0 or -1 (a message was printed). */
static int set_opt(opts_t *o, const opt_def_t *d, const char *v, const char *origin)
{
    char *field = (char *)o + d->off;

    if (!d->is_int) {
        *(const char **)(void *)field = v;
        return 0;
    }
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < d->min || n > d->max) {
        fprintf(stderr, "executor: %s must be an integer between %ld and %ld (got \"%s\")\n",
                origin, d->min, d->max, v);
        return -1;
    }
    *(int *)(void *)field = (int)n;
    return 0;
}

/* Defaults, then the environment, then flags. 0, 1 (--help/--version answered) or -1. */
static int load_opts(opts_t *o, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    for (size_t i = 0; i < NOPTS; i++) {
        const char *e = getenv(opt_table[i].env);
        const char *v = e && *e ? e : opt_table[i].def;
        if (v && set_opt(o, &opt_table[i], v, opt_table[i].env) != 0)
            return -1;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const opt_def_t *d = NULL;
        if (!strcmp(a, "--version")) {
            printf("codegate executor %s (protocol %d)\n", CG_VERSION, CG_PROTO_VERSION);
            return 1;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 1;
        }
        for (size_t k = 0; k < NOPTS; k++)
            if (!strcmp(a, opt_table[k].flag))
                d = &opt_table[k];
        if (!d) {
            fprintf(stderr, "executor: unknown option %s\n", a);
            usage(stderr);
            return -1;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "executor: %s needs a value\n", a);
            return -1;
        }
        if (set_opt(o, d, argv[++i], a) != 0)
            return -1;
    }
    return 0;
}

/* Takes the token from EXECUTOR_TOKEN (wiping it in the environment block, which is what
 * /proc/<pid>/environ shows, then unsetting it) or from the token file. 0 or -1. */
static int read_token(opts_t *o)
{
    char *env = getenv("EXECUTOR_TOKEN");
    int fd;
    ssize_t n;

    if (env) {
        snprintf(o->token, sizeof o->token, "%s", env);
        memset(env, 0, strlen(env));
    }
    unsetenv("EXECUTOR_TOKEN");
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

/* Default launcher: "launcher" in the directory of this binary. */
static void default_launcher(opts_t *o)
{
    ssize_t n = readlink("/proc/self/exe", o->launcher_buf, sizeof o->launcher_buf - 1);
    char *slash;

    o->launcher = "launcher";
    if (n <= 0)
        return;
    o->launcher_buf[n] = '\0';
    slash = strrchr(o->launcher_buf, '/');
    if (!slash ||
        (size_t)(slash + 1 - o->launcher_buf) + sizeof "launcher" > sizeof o->launcher_buf)
        return;
    strcpy(slash + 1, "launcher");
    o->launcher = o->launcher_buf;
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

/* Can the slot uids reach the work root (every directory above it must be searchable by
 * them)? A 0700 parent would make every run fail with "permission denied". */
static bool slots_reach(const char *work_root, uid_t uid)
{
    int status;
    pid_t p = fork();

    if (p == 0) {
        if (setgroups(0, NULL) != 0 || setresgid(uid, uid, uid) != 0 ||
            setresuid(uid, uid, uid) != 0)
            _exit(2);
        _exit(access(work_root, X_OK) == 0 ? 0 : 1);
    }
    if (p < 0 || waitpid(p, &status, 0) != p)
        return false;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* The first SIGTERM or SIGINT drains (running jobs may finish within --drain-ms), the next
 * one stops at once. */
static void on_signal(uv_signal_t *s, int sig)
{
    static int count;

    (void)s;
    if (count++ == 0) {
        executor_log("info", "signal %d: draining", sig);
        executor_drain(g_ex);
    } else {
        executor_log("info", "signal %d again: stopping at once", sig);
        executor_stop(g_ex);
    }
}

/* Checks and start-up chores before the server exists. 0, or an exit status. */
static int prepare(opts_t *o, const profile_t **pf, char *version, size_t vlen)
{
    bool root = geteuid() == 0;
    int rc;

    if (executor_set_log_level(o->log_level) != 0) {
        fprintf(stderr, "executor: --log-level must be debug, info, warn or error\n");
        return 2;
    }
    *pf = profile_find(o->language);
    if (!*pf) {
        char names[128];
        fprintf(stderr, "executor: --language must be %s\n",
                lang_names(names, sizeof names, ", ", " or "));
        return 2;
    }
    if (read_token(o) != 0) {
        fprintf(stderr, "executor: a token is required (EXECUTOR_TOKEN or --token-file)\n");
        return 2;
    }
    if (!o->launcher)
        default_launcher(o);
    if (access(o->launcher, X_OK) != 0) {
        fprintf(stderr, "executor: launcher %s: %s\n", o->launcher, strerror(errno));
        return 1;
    }
    if ((rc = workdir_prepare_root(o->work_root)) != 0) {
        fprintf(stderr, "executor: cannot use work root %s: %s\n", o->work_root,
                rc == -EPERM ? "owned by another user" : strerror(-rc));
        return 1;
    }
    if (profile_version(*pf, version, vlen) != 0)
        executor_log("warn", "cannot tell the %s version", (*pf)->name);
    if (!root) {
        /* Root in a user namespace of our own (our uid and gid mapped to 0), so that the
         * slots' boxes can be built without privilege on the host, as unprivileged
         * containers do. */
        if (cg_enter_userns(0, 0) == 0) {
            g_userns = true;
            executor_log("info", "not root: building the slots' boxes in a user namespace of our "
                                 "own (programs run in nested ones, mapped to this user)");
        } else if (o->allow_unsandboxed) {
            executor_log("warn",
                         "UNSANDBOXED: not root and no user namespaces (%s): programs run "
                         "as this user with rlimits only (--allow-unsandboxed)",
                         strerror(errno));
            return 0;
        } else {
            fprintf(stderr,
                    "executor: not root, and user namespaces are not available here (%s): "
                    "refusing to run untrusted programs as this user. Run as root, enable "
                    "unprivileged user namespaces, or accept the risk with --allow-unsandboxed "
                    "(EXECUTOR_ALLOW_UNSANDBOXED=1)\n",
                    strerror(errno));
            return 1;
        }
    }
    if (!g_userns && !slots_reach(o->work_root, (uid_t)o->uid_base)) {
        fprintf(stderr,
                "executor: the slot uids cannot reach %s (a parent directory is not "
                "searchable by others?)\n",
                o->work_root);
        return 1;
    }
    if (!g_userns)
        clear_slot_uids((uid_t)o->uid_base, o->slots);
    clear_work_root(o->work_root);
    char err[256], box_dir[PATH_MAX];
    int cgv;
    /* Before the namespaces: a cgroup mount made writable here is copied into them. */
    if (slotcg_create(g_cg, o->slots, (uid_t)o->uid_base, &cgv, err, sizeof err) == 0) {
        g_have_cg = true;
        executor_log("info",
                     "each slot has its own memory cgroup (v%d): a run's processes "
                     "together stay within memoryMb + %d MiB",
                     cgv, RUNNER_CGROUP_EXTRA_MB);
    } else if (o->require_ns) {
        fprintf(stderr,
                "executor: no memory cgroup per slot (%s) and --require-namespaces is "
                "set\n",
                err);
        return 1;
    } else if (g_userns) {
        executor_log("warn",
                     "no delegated cgroup (%s): a run's memory is capped per process "
                     "(RLIMIT_AS) and its processes per run (RLIMIT_NPROC counts in the "
                     "run's own user namespace)",
                     err);
    } else {
        executor_log("warn",
                     "REDUCED ISOLATION: no memory cgroup per slot (%s): memory is "
                     "capped per process only",
                     err);
    }
    slotns_opts_t so = {.box_dir = box_dir,
                        .areas = g_areas,
                        .uid_base = (uid_t)o->uid_base,
                        .extra_ro = box_ro_list(o->box_ro)};
    if (slotns_prepare(o->work_root, o->slots, o->slot_disk_mb, g_areas, box_dir, sizeof box_dir,
                       err, sizeof err) == 0 &&
        slotns_create(g_ns, o->slots, &so, err, sizeof err) == 0) {
        g_have_ns = true;
        executor_log("info",
                     "each slot has its own box: network (loopback only), IPC, mount "
                     "and pid namespaces, a read-only minimal view of the system, "
                     "private /tmp, /var/tmp, /dev/shm, /dev/mqueue, devpts and a "
                     "%d MiB work area",
                     o->slot_disk_mb);
    } else if (o->require_ns || (g_userns && !o->allow_unsandboxed)) {
        fprintf(stderr, "executor: cannot make the slots' boxes (%s) and %s\n", err,
                g_userns ? "without root nothing else isolates programs (--allow-unsandboxed "
                           "accepts the risk)"
                         : "--require-namespaces is set");
        return 1;
    } else {
        executor_log("warn",
                     "REDUCED ISOLATION: no per-slot namespaces (%s): runs share the "
                     "network, IPC and /tmp of the %s; slot uids and the clean-up after "
                     "each run remain (grant CAP_SYS_ADMIN and CAP_SYS_CHROOT)",
                     err, getenv("container") ? "container" : "host or container");
    }
    return 0;
}

int main(int argc, char **argv)
{
    opts_t o;
    char version[64] = "unknown";
    uv_loop_t loop;
    uv_signal_t sterm, sint;
    const profile_t *pf;
    int rc;

    signal(SIGPIPE, SIG_IGN);
    log_setup(STDERR_FILENO, "executor"); /* JSON lines on stderr, marked "src":"executor" */
    rc = load_opts(&o, argc, argv);
    if (rc != 0) {
        memset(&o, 0, sizeof o);
        unsetenv("EXECUTOR_TOKEN");
        return rc > 0 ? 0 : 2;
    }
    rc = prepare(&o, &pf, version, sizeof version);
    if (rc != 0) {
        memset(o.token, 0, sizeof o.token);
        return rc;
    }
    executor_log("info", "codegate executor %s starting: %s %s, pid %d, %s", CG_VERSION, pf->name,
                 version, (int)getpid(), geteuid() == 0 ? "root (slot uids)" : "unprivileged");

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
        .drop_uid = geteuid() == 0,
        .userns = g_userns,
        .compile_timeout_ms = o.compile_timeout_ms,
        .drain_ms = o.drain_ms,
        .cache_dir = cache_dir,
        .ns = g_have_ns ? g_ns : NULL,
        .cg = g_have_cg ? g_cg : NULL,
        .areas = g_have_ns ? g_areas : NULL,
    };
    g_ex = executor_new(&loop, &cfg);
    if (!g_ex) {
        memset(o.token, 0, sizeof o.token);
        uv_run(&loop, UV_RUN_DEFAULT); /* lets the handles lws closed finish closing */
        uv_loop_close(&loop);
        return 1;
    }
    uv_signal_init(&loop, &sterm);
    uv_signal_init(&loop, &sint);
    uv_signal_start(&sterm, on_signal, SIGTERM);
    uv_signal_start(&sint, on_signal, SIGINT);
    uv_run(&loop, UV_RUN_DEFAULT);
    /* Our handles first, then lws's (it closes its own on the loop), then let them all close. */
    uv_close((uv_handle_t *)&sterm, NULL);
    uv_close((uv_handle_t *)&sint, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    executor_free(g_ex);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    slotns_close(g_ns, g_have_ns ? o.slots : 0);
    slotcg_remove(g_cg, g_have_cg ? o.slots : 0);
    memset(o.token, 0, sizeof o.token);
    executor_log("info", "stopped");
    return 0;
}
