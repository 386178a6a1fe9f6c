/*
 * main.c - the executor binary: configuration from flags and environment, start-up checks,
 * the libuv loop, and shutdown on SIGTERM/SIGINT.
 *
 *   executor --language python|javascript|cpp [--listen tcp:HOST:PORT|unix:/path]
 *            [--slots N] [--token-file FILE] [--launcher PATH] [--work-root DIR]
 *            [--uid-base N|auto] [--drain-ms N] [--tls-cert-file F --tls-key-file F] ...
 *   executor --probe [the same options]     (probe.c: exit 0 when /healthz answers 200)
 *
 * Every option can also come from the environment (options.c holds the table; `executor
 * --help` prints it; docker/README.md documents running an executor on its own).
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <ifaddrs.h>
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
#include "options.h"
#include "probe.h"
#include "profiles.h"
#include "protocol.h"
#include "runner.h"
#include "slotcg.h"
#include "slotns.h"
#include "version.h"
#include "workdir.h"

static executor_t *g_ex;
static slotns_t g_ns[64]; /* --slots is at most 64 */
static bool g_have_ns;
static slotcg_t g_cg[64];
static bool g_have_cg;
static char g_areas[64][PATH_MAX];
static bool g_userns;    /* root only in a user namespace of our own (started without root) */
static uid_t g_uid_base; /* of options_t.uid_base_spec (options_uid_base) */

static char *g_box_ro[34];
static char g_box_ro_buf[4096];
static char g_pch_dir[PATH_MAX]; /* of --pch-dir, resolved (pch_dir_resolve); "" = none */

/* The extra read-only paths of --box-ro, split at ':' (at most 32). (The precompiled header's
 * directory has a place of its own in the box: SLOTNS_PCH, box_pch_dir().) */
static const char *const *box_ro_list(const char *spec)
{
    int n = 0;

    if (spec && *spec) {
        snprintf(g_box_ro_buf, sizeof g_box_ro_buf, "%s", spec);
        for (char *save = NULL, *t = strtok_r(g_box_ro_buf, ":", &save); t && n < 32;
             t = strtok_r(NULL, ":", &save))
            g_box_ro[n++] = t;
    }
    g_box_ro[n] = NULL;
    return n ? (const char *const *)g_box_ro : NULL;
}

/* The precompiled header's directory, when the boxes must show it at SLOTNS_PCH: not when it
 * is under /usr, which every box shows at the same path. */
static const char *box_pch_dir(void)
{
    return g_pch_dir[0] && strncmp(g_pch_dir, "/usr/", 5) != 0 ? g_pch_dir : NULL;
}

/* --pch-dir: "none" or "" = none; "auto" = pch/ or ../pch/ beside this binary when it holds
 * the header (build/pch for build/executor and build/san/executor); else the directory as
 * given. The result is an absolute, resolved path in g_pch_dir, or "". */
static void pch_dir_resolve(const char *spec)
{
    char exe[PATH_MAX], cand[PATH_MAX + 32], hdr[PATH_MAX + 64];
    ssize_t n;
    char *slash;

    g_pch_dir[0] = '\0';
    if (!spec || !spec[0] || !strcmp(spec, "none"))
        return;
    if (strcmp(spec, "auto") != 0) {
        if (!realpath(spec, g_pch_dir)) {
            executor_log("warn", "--pch-dir %s: %s", spec, strerror(errno));
            g_pch_dir[0] = '\0';
        }
        return;
    }
    n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return;
    exe[n] = '\0';
    slash = strrchr(exe, '/');
    if (!slash)
        return;
    *slash = '\0';
    for (int i = 0; i < 2; i++) {
        snprintf(cand, sizeof cand, i ? "%s/../pch" : "%s/pch", exe);
        snprintf(hdr, sizeof hdr, "%s/%s", cand, CXXFAST_HEADER);
        if (access(hdr, R_OK) == 0 && realpath(cand, g_pch_dir))
            return;
    }
    g_pch_dir[0] = '\0';
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

/* Default launcher: "launcher" in the directory of this binary. */
static void default_launcher(options_t *o)
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

/* Python: "launcher-py" beside the launcher, when --zygote is on and it can start the
 * interpreter here (`launcher-py --zygote-probe`); its runs fork from a pre-initialised
 * interpreter (executors/launcher_zygote.c). Else the launcher as given: every run starts
 * python3. Said once in the log either way. */
static void zygote_launcher(options_t *o, const profile_t *pf)
{
    static char buf[PATH_MAX];
    const char *slash = strrchr(o->launcher, '/');
    int status = -1;
    pid_t pid;

    if (!pf->zygote || !o->zygote)
        return;
    snprintf(buf, sizeof buf, "%.*slauncher-py", slash ? (int)(slash + 1 - o->launcher) : 0,
             o->launcher);
    if (access(buf, X_OK) != 0) {
        executor_log("info", "no %s: Python runs start python3", buf);
        return;
    }
    pid = fork();
    if (pid == 0) {
        execl(buf, buf, "--zygote-probe", (char *)NULL);
        _exit(127);
    }
    while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (pid < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        executor_log("warn",
                     "%s cannot start the Python zygote (status %d): Python runs start "
                     "python3",
                     buf, status);
        return;
    }
    executor_log("info", "Python runs fork from each slot's interpreter (%s)", buf);
    o->launcher = buf;
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

/* The slot uid base (a number, or auto: from this container's IPv4 address), logged. */
static int uid_base(const options_t *o, char *err, size_t errlen)
{
    struct ifaddrs *ifs = NULL;
    char how[96];
    bool is_auto = !strcmp(o->uid_base_spec, "auto");

    if (is_auto && getifaddrs(&ifs) != 0) {
        snprintf(err, errlen, "EXECUTOR_UID_BASE=auto: getifaddrs: %s", strerror(errno));
        return -1;
    }
    int rc = options_uid_base(o->uid_base_spec, ifs, &g_uid_base, how, sizeof how, err, errlen);
    if (ifs)
        freeifaddrs(ifs);
    if (rc == 0 && geteuid() == 0)
        executor_log("info", "slot uids %u..%u (%s)", (unsigned)g_uid_base,
                     (unsigned)g_uid_base + (unsigned)o->slots - 1, how);
    return rc;
}

/* Checks and start-up chores before the server exists. 0, or an exit status. */
static int prepare(options_t *o, const profile_t **pf, char *version, size_t vlen)
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
    char err[256];
    if (options_read_token(o, err, sizeof err) != 0) {
        fprintf(stderr, "executor: %s\n", err);
        return 2;
    }
    if (options_check_tls(o, err, sizeof err) != 0) {
        fprintf(stderr, "executor: %s\n", err);
        return 2;
    }
    if (uid_base(o, err, sizeof err) != 0) {
        fprintf(stderr, "executor: %s\n", err);
        return 2;
    }
    if (!o->launcher)
        default_launcher(o);
    if (access(o->launcher, X_OK) != 0) {
        fprintf(stderr, "executor: launcher %s: %s\n", o->launcher, strerror(errno));
        return 1;
    }
    zygote_launcher(o, *pf);
    if ((rc = workdir_prepare_root(o->work_root)) != 0) {
        fprintf(stderr, "executor: cannot use work root %s: %s\n", o->work_root,
                rc == -EPERM ? "owned by another user" : strerror(-rc));
        return 1;
    }
    if ((*pf)->compile)
        pch_dir_resolve(o->pch_dir);
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
    if (!g_userns && !slots_reach(o->work_root, g_uid_base)) {
        fprintf(stderr,
                "executor: the slot uids cannot reach %s (a parent directory is not "
                "searchable by others?)\n",
                o->work_root);
        return 1;
    }
    if (!g_userns)
        clear_slot_uids(g_uid_base, o->slots);
    clear_work_root(o->work_root);
    char box_dir[PATH_MAX];
    int cgv;
    /* Before the namespaces: a cgroup mount made writable here is copied into them. */
    if (slotcg_create(g_cg, o->slots, g_uid_base, &cgv, err, sizeof err) == 0) {
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
                        .uid_base = g_uid_base,
                        .extra_ro = box_ro_list(o->box_ro),
                        .pch_dir = box_pch_dir()};
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
    options_t o;
    char version[64] = "unknown";
    uv_loop_t loop;
    uv_signal_t sterm, sint;
    const profile_t *pf;
    int rc;

    signal(SIGPIPE, SIG_IGN);
    log_setup(STDERR_FILENO, "executor"); /* JSON lines on stderr, marked "src":"executor" */
    rc = options_load(&o, argc, argv, stderr);
    if (rc != 0) {
        memset(&o, 0, sizeof o);
        unsetenv("EXECUTOR_TOKEN");
        return rc > 0 ? 0 : 2;
    }
    if (o.probe) {
        unsetenv("EXECUTOR_TOKEN"); /* a probe needs none */
        return probe_run(o.listen, o.tls_cert != NULL, PROBE_TIMEOUT_MS, stdout, stderr);
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
        .uid_base = g_uid_base,
        .drop_uid = geteuid() == 0,
        .userns = g_userns,
        .compile_timeout_ms = o.compile_timeout_ms,
        .drain_ms = o.drain_ms,
        .tls_cert = o.tls_cert,
        .tls_key = o.tls_key,
        .cache_dir = cache_dir,
        .pch_dir = g_pch_dir[0] ? g_pch_dir : NULL,
        /* inside the boxes, compiles see it at SLOTNS_PCH (build_root) */
        .pch_run_dir = g_have_ns && box_pch_dir() ? SLOTNS_PCH : NULL,
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
