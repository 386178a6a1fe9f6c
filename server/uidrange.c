/*
 * uidrange.c - claiming a host uid range per gateway instance (see uidrange.h).
 */
#include "uidrange.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

unsigned uidrange_candidate(const char *instance, unsigned attempt)
{
    uint32_t h = 2166136261u;

    for (const char *c = instance; *c; c++)
        h = (h ^ (unsigned char)*c) * 16777619u;
    return UIDRANGE_FIRST + ((h + attempt) % UIDRANGE_COUNT) * UIDRANGE_SPAN;
}

int uidrange_claim(const char *instance, const char *lock_dir, uidrange_t *out)
{
    char path[512];

    out->lock_fd = -1;
    out->base = uidrange_candidate(instance, 0);
    if (geteuid() != 0 && !lock_dir)
        return 0;
    if (!lock_dir)
        lock_dir = "/run/codegate-uids";
    if (mkdir(lock_dir, 0700) != 0 && errno != EEXIST)
        return -errno;
    for (unsigned a = 0; a < UIDRANGE_COUNT; a++) {
        unsigned base = uidrange_candidate(instance, a);
        snprintf(path, sizeof path, "%s/%u.lock", lock_dir, base);
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
            return -errno;
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            /* Who holds it, for an operator looking at the directory. */
            if (ftruncate(fd, 0) == 0)
                dprintf(fd, "%s %d\n", instance, (int)getpid());
            out->base = base;
            out->lock_fd = fd;
            return 0;
        }
        int e = errno;
        close(fd);
        if (e != EWOULDBLOCK)
            return -e;
    }
    return -EBUSY;
}

void uidrange_release(uidrange_t *r)
{
    if (r && r->lock_fd >= 0) {
        close(r->lock_fd);
        r->lock_fd = -1;
    }
}
