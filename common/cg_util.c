/*
 * cg_util.c - small helpers shared by both binaries (see cg_util.h).
 */
#include "cg_util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

bool cg_secret_equal(const char *given, const char *expected)
{
    size_t glen, elen;
    unsigned char diff = 0;

    if (!given || !expected)
        return false;
    glen = strlen(given);
    elen = strlen(expected);
    /* Walk `expected` whole whatever `given` is: the time depends on the secret's length only. */
    for (size_t i = 0; i < elen; i++)
        diff |= (unsigned char)expected[i] ^ (unsigned char)(i < glen ? given[i] : 0);
    diff |= (unsigned char)(glen != elen);
    return diff == 0 && elen > 0;
}

int cg_random_hex(char *out, size_t nbytes)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char buf[64];
    size_t done = 0;

    if (nbytes > sizeof buf)
        return -EINVAL;
    while (done < nbytes) {
        ssize_t n = getrandom(buf + done, nbytes - done, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        done += (size_t)n;
    }
    for (size_t i = 0; i < nbytes; i++) {
        out[2 * i] = hex[buf[i] >> 4];
        out[2 * i + 1] = hex[buf[i] & 15];
    }
    out[2 * nbytes] = '\0';
    return 0;
}

int64_t cg_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int cg_write_file(const char *dir, const char *name, const char *val)
{
    char path[PATH_MAX];

    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return -ENAMETOOLONG;
    return cg_write_at(AT_FDCWD, path, val);
}

int cg_write_at(int dirfd, const char *name, const char *val)
{
    int fd, rc = 0;

    fd = openat(dirfd, name, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (write(fd, val, strlen(val)) < 0)
        rc = -errno;
    close(fd);
    return rc;
}

int cg_enter_userns(uid_t inside_uid, gid_t inside_gid)
{
    char map[64];
    uid_t u = geteuid();
    gid_t g = getegid();
    int rc;

    if (unshare(CLONE_NEWUSER) != 0)
        return -errno;
    snprintf(map, sizeof map, "%u %u 1", (unsigned)inside_uid, (unsigned)u);
    if ((rc = cg_write_file("/proc/self", "setgroups", "deny")) == 0 &&
        (rc = cg_write_file("/proc/self", "uid_map", map)) == 0) {
        snprintf(map, sizeof map, "%u %u 1", (unsigned)inside_gid, (unsigned)g);
        rc = cg_write_file("/proc/self", "gid_map", map);
    }
    errno = -rc;
    return rc;
}

int cg_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

ssize_t cg_read_full(int fd, void *buf, size_t len)
{
    char *p = buf;
    size_t got = 0;

    while (got < len) {
        ssize_t n = read(fd, p + got, len - got);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

int cg_buf_append(cg_buf_t *b, const void *data, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 4096;
        while (ncap < b->len + n + 1)
            ncap *= 2;
        char *nb = realloc(b->data, ncap);
        if (!nb)
            return -ENOMEM;
        b->data = nb;
        b->cap = ncap;
    }
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

void cg_buf_reset(cg_buf_t *b, size_t keep)
{
    b->len = 0;
    if (b->cap > keep) {
        free(b->data);
        b->data = NULL;
        b->cap = 0;
    } else if (b->data) {
        b->data[0] = '\0';
    }
}

void cg_buf_free(cg_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int cg_own_cgroup(const char *proc_cgroup, const char *ctrl, char *out, size_t len)
{
    char line[PATH_MAX + 128];
    FILE *f = fopen(proc_cgroup, "re");
    int rc = -1;

    if (!f)
        return -1;
    while (rc != 0 && fgets(line, sizeof line, f)) {
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        bool hit = false;
        if (!c2)
            continue;
        *c1 = *c2 = '\0';
        c2[1 + strcspn(c2 + 1, "\n")] = '\0';
        if (!ctrl)
            hit = !strcmp(line, "0") && c1[1] == '\0';
        else
            for (char *save = NULL, *w = strtok_r(c1 + 1, ",", &save); w && !hit;
                 w = strtok_r(NULL, ",", &save))
                hit = !strcmp(w, ctrl);
        if (hit) {
            snprintf(out, len, "%s", c2 + 1);
            rc = 0;
        }
    }
    fclose(f);
    return rc;
}
