/*
 * slotcg_run.c - the slot cgroup's per-run side, used by the launcher (libc only, linked into
 * it): joining the slot's cgroups, setting a run's memory and task limits, reading its OOM
 * kills and peak. slotcg.c makes the cgroups; see slotcg.h.
 *
 * Everything works on a directory descriptor opened before the launcher entered its box (where
 * the cgroup files are not visible). v1 or v2 is told by the files present (memory.max is v2's):
 *                 v1                                   v2
 *   limit         memory.limit_in_bytes (+ memsw)      memory.max (+ memory.swap.max 0)
 *   tasks         pids.max (own hierarchy)             pids.max (the same directory)
 *   OOM kills     memory.oom_control oom_kill          memory.events oom_kill
 *   peak          memory.max_usage_in_bytes, reset     memory.peak, reset per descriptor (6.12)
 * Single-threaded (the launcher); no state kept here.
 */
#include "slotcg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cg_util.h"

/* Reads "<key> N" from a flat-keyed cgroup file (v1 memory.oom_control, v2 memory.events), or
 * a single number when key is NULL. -1 when absent. */
int64_t slotcg_read(int dfd, const char *file, const char *key)
{
    char line[128];
    int64_t v = -1;
    FILE *f;
    int fd = openat(dfd, file, O_RDONLY | O_CLOEXEC);

    if (fd < 0 || !(f = fdopen(fd, "re"))) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        size_t kl = key ? strlen(key) : 0;
        long long n;
        if (key && (strncmp(line, key, kl) != 0 || line[kl] != ' '))
            continue;
        if (sscanf(line + kl, "%lld", &n) == 1)
            v = n;
        break;
    }
    fclose(f);
    return v;
}

bool slotcg_v2(int dfd)
{
    return faccessat(dfd, "memory.max", F_OK, 0) == 0;
}

/* The OOM kills the cgroup has seen so far. */
int64_t slotcg_oom_kills(int dfd)
{
    return slotcg_v2(dfd) ? slotcg_read(dfd, "memory.events", "oom_kill")
                          : slotcg_read(dfd, "memory.oom_control", "oom_kill");
}

/* Sets the run's memory limit (and no swap beyond it). 0 or -errno. */
int slotcg_set_memory(int dfd, long mb)
{
    char val[32];
    int rc;

    snprintf(val, sizeof val, "%lld", (long long)mb << 20);
    if (slotcg_v2(dfd)) {
        if ((rc = cg_write_at(dfd, "memory.max", val)) != 0)
            return rc;
        (void)cg_write_at(dfd, "memory.swap.max", "0");
        return 0;
    }
    /* memsw >= limit at every step: lift memsw, set the limit, then memsw to match. */
    (void)cg_write_at(dfd, "memory.memsw.limit_in_bytes", "-1");
    if (cg_write_at(dfd, "memory.limit_in_bytes", val) != 0) {
        /* Below what the cgroup still holds (page cache of earlier runs): drop it, retry. */
        (void)cg_write_at(dfd, "memory.force_empty", "0");
        if ((rc = cg_write_at(dfd, "memory.limit_in_bytes", val)) != 0)
            return rc;
    }
    (void)cg_write_at(dfd, "memory.memsw.limit_in_bytes", val);
    return 0;
}

/* pids.max: the same file on v1 and v2. */
int slotcg_set_tasks(int dfd, int max)
{
    char val[32];

    snprintf(val, sizeof val, "%d", max);
    return cg_write_at(dfd, "pids.max", val);
}

/* v1: resets memory.max_usage_in_bytes (read back through dfd: -1). v2: memory.peak is reset
 * per open file, for reads through the descriptor that wrote it (Linux 6.12 and later; before,
 * the file is read-only and holds the cgroup's lifetime peak, which says nothing of one run). */
int slotcg_peak_start(int dfd)
{
    int fd;

    if (!slotcg_v2(dfd)) {
        (void)cg_write_at(dfd, "memory.max_usage_in_bytes", "0");
        return -1;
    }
    if ((fd = openat(dfd, "memory.peak", O_RDWR | O_CLOEXEC)) < 0)
        return -1;
    if (write(fd, "reset\n", 6) != 6) {
        close(fd);
        return -1;
    }
    return fd;
}

int64_t slotcg_peak_kb(int dfd, int peakfd)
{
    char buf[32];
    long long v;
    ssize_t n;

    if (!slotcg_v2(dfd)) {
        int64_t b = slotcg_read(dfd, "memory.max_usage_in_bytes", NULL);
        return b > 0 ? b / 1024 : 0;
    }
    if (peakfd < 0)
        return 0;
    do
        n = pread(peakfd, buf, sizeof buf - 1, 0);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    return sscanf(buf, "%lld", &v) == 1 && v > 0 ? v / 1024 : 0;
}

/* One-shot use with --cgroup: opens the directory, sets the limit, and opens cgroup.procs for
 * the child to move itself in. Returns that fd (and *dfd), or -1 with errno set. */
int slotcg_prepare(const char *dir, long mb, int *dfd)
{
    int rc, fd;

    *dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*dfd < 0)
        return -1;
    if ((rc = slotcg_set_memory(*dfd, mb)) != 0) {
        close(*dfd);
        *dfd = -1;
        errno = -rc;
        return -1;
    }
    fd = openat(*dfd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        close(*dfd);
        *dfd = -1;
        errno = e;
    }
    return fd;
}

/* Joins the cgroup at dir (this process and every child it makes from now on) and returns a
 * directory descriptor of it, or -1 with errno set. */
int slotcg_join(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), dfd, rc;

    if (fd < 0)
        return -1;
    /* Out of the way of 0-3, which every run reuses. */
    dfd = fcntl(fd, F_DUPFD_CLOEXEC, 20);
    close(fd);
    if (dfd < 0)
        return -1;
    if ((rc = cg_write_at(dfd, "cgroup.procs", "0")) != 0) {
        close(dfd);
        errno = -rc;
        return -1;
    }
    return dfd;
}
