/*
 * launcher_reap.c - reaping a run's processes and killing everything it left behind (see
 * launcher.h and the theory of operation in launcher.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mount.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cg_util.h"
#include "launcher.h"

#define KILL_BUDGET_MS 3000

int launcher_each_child(pid_t pid, bool (*fn)(pid_t child, void *arg), void *arg)
{
    char path[64];
    DIR *d;
    struct dirent *de;
    bool more = true;

    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    if (!(d = opendir(path)))
        return -1;
    while (more && (de = readdir(d))) {
        char cpath[128];
        FILE *f;
        long child;
        if (de->d_name[0] == '.')
            continue;
        snprintf(cpath, sizeof cpath, "/proc/%d/task/%s/children", (int)pid, de->d_name);
        if (!(f = fopen(cpath, "re")))
            continue;
        while (more && fscanf(f, "%ld", &child) == 1)
            more = fn((pid_t)child, arg);
        fclose(f);
    }
    closedir(d);
    return 0;
}

static int kill_descendants(pid_t pid, int depth);

typedef struct {
    int depth, n;
} kill_walk_t;

static bool kill_one(pid_t child, void *arg)
{
    kill_walk_t *w = arg;

    kill(child, SIGSTOP); /* freeze first: it cannot fork while stopped */
    w->n += 1 + kill_descendants(child, w->depth + 1);
    kill(child, SIGKILL);
    return true;
}

/* SIGKILLs every descendant of pid, depth first. Returns how many were signalled. */
static int kill_descendants(pid_t pid, int depth)
{
    kill_walk_t w = {.depth = depth, .n = 0};

    if (depth > 64)
        return 0;
    (void)launcher_each_child(pid, kill_one, &w);
    return w.n;
}

/* Number of processes whose real or effective uid is `uid` (from /proc/<pid>/status). */
static int count_uid(uid_t uid)
{
    DIR *d = opendir("/proc");
    struct dirent *de;
    int n = 0;

    if (!d)
        return -1;
    while ((de = readdir(d))) {
        char path[64], line[256];
        FILE *f;
        if (de->d_name[0] < '1' || de->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/status", de->d_name);
        f = fopen(path, "re");
        if (!f)
            continue;
        while (fgets(line, sizeof line, f)) {
            unsigned long r, e;
            if (sscanf(line, "Uid: %lu %lu", &r, &e) == 2) {
                if (r == uid || e == uid)
                    n++;
                break;
            }
        }
        fclose(f);
    }
    closedir(d);
    return n;
}

/* As the slot uid, kill(-1, SIGKILL): every process of that uid and nothing else. (Its return
 * value says nothing: Linux answers 0 as soon as any process exists, even one it may not
 * signal, so whether anything is left is counted in /proc instead.) */
static void kill_uid_once(const opts_t *o)
{
    int status;
    pid_t p = fork();

    if (p == 0) {
        uid_t r, e, s;
        if (setresgid(o->rq.gid, o->rq.gid, o->rq.gid) != 0 ||
            setresuid(o->rq.uid, o->rq.uid, o->rq.uid) != 0 || getresuid(&r, &e, &s) != 0 ||
            r == 0 || e == 0 || s == 0)
            _exit(1);      /* never kill(-1) as root */
        kill(-1, SIGKILL); /* skips the caller itself */
        _exit(0);
    }
    if (p > 0)
        while (waitpid(p, &status, 0) < 0 && errno == EINTR)
            ;
}

void launcher_reap_all(pid_t main_pid, runreq_report_t *rep, bool *main_done,
                       struct rusage *main_ru)
{
    int status;
    struct rusage ru;
    pid_t p;

    while ((p = wait4(-1, &status, WNOHANG | __WALL, &ru)) > 0) {
        if (p == main_pid && !*main_done) {
            *main_done = true;
            *main_ru = ru;
            if (WIFEXITED(status)) {
                rep->exit_code = WEXITSTATUS(status);
                rep->signal = 0;
            } else if (WIFSIGNALED(status)) {
                rep->exit_code = -1;
                rep->signal = WTERMSIG(status);
            }
        }
    }
}

/* True when no child is left: as a subreaper we inherit every orphan of the run, so no child
 * also means no descendant at all (and nobody left who could fork). */
static bool no_children(void)
{
    return waitpid(-1, NULL, WNOHANG | __WALL) < 0 && errno == ECHILD;
}

void launcher_reap_kill_all(const opts_t *o, pid_t main_pid, runreq_report_t *rep, bool *main_done,
                            struct rusage *main_ru)
{
    int64_t deadline = cg_now_ms() + KILL_BUDGET_MS;

    for (;;) {
        launcher_reap_all(main_pid, rep, main_done, main_ru);
        /* The common case - the program ended and left nothing - costs no fork and no scan:
         * no child means no descendant, and the slot's uid runs nothing else (the executor
         * clears every slot uid when it starts, and slots are never shared). */
        if (*main_done && no_children())
            break;
        if (launcher_slot.pid1) {
            /* The first process of a pid namespace: kill(-1) reaches every other process in
             * it and nothing outside - whatever uid, session or group they run as. */
            kill(-1, SIGKILL);
        } else if (o->drop) {
            kill_uid_once(o);
        } else {
            kill(-main_pid, SIGKILL);
            kill_descendants(getpid(), 0);
        }
        launcher_reap_all(main_pid, rep, main_done, main_ru);
        if (*main_done && no_children() &&
            (launcher_slot.pid1 || !o->drop || count_uid(o->rq.uid) == 0))
            break;
        if (cg_now_ms() > deadline)
            break;
        usleep(2000);
    }
    launcher_reap_all(main_pid, rep, main_done, main_ru);
}
