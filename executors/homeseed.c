/*
 * homeseed.c - copying a language's seed files into each run's HOME (see homeseed.h).
 */
#include "homeseed.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cg_util.h"

typedef struct {
    char name[NAME_MAX + 1];
    char *data;
    size_t len;
} seed_file_t;

static seed_file_t seed[HOMESEED_MAX_FILES];
static int nseed = -1; /* -1: not read yet */

/* Reads the regular files of dir into seed[] (once). */
static void load(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;

    nseed = 0;
    if (!d)
        return;
    while ((de = readdir(d)) && nseed < HOMESEED_MAX_FILES) {
        seed_file_t *s = &seed[nseed];
        struct stat st;
        int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            continue;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
            (size_t)st.st_size <= HOMESEED_MAX_FILE_BYTES &&
            (s->data = malloc((size_t)st.st_size))) {
            ssize_t n = read(fd, s->data, (size_t)st.st_size);
            if (n == st.st_size) {
                s->len = (size_t)n;
                snprintf(s->name, sizeof s->name, "%s", de->d_name);
                nseed++;
            } else {
                free(s->data);
                s->data = NULL;
            }
        }
        close(fd);
    }
    closedir(d);
}

/* Opens dfd/comp as a directory, creating it (0700, chowned) when missing; never a link. */
static int subdir(int dfd, const char *comp, uid_t uid, gid_t gid, bool chown_it)
{
    int fd;

    if (mkdirat(dfd, comp, 0700) != 0 && errno != EEXIST)
        return -1;
    fd = openat(dfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0 && chown_it && fchown(fd, uid, gid) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int homeseed_write(const lang_t *l, const char *root, const char *name, uid_t uid, gid_t gid,
                   bool chown_it)
{
    char to[PATH_MAX], *comp, *slash;
    int cur, rfd, rc = 0;

    if (!l->home_seed || !l->home_seed_to)
        return 0;
    if (nseed < 0)
        load(l->home_seed);
    if (nseed == 0)
        return 0;
    if (snprintf(to, sizeof to, "%s", l->home_seed_to) >= (int)sizeof to)
        return -ENAMETOOLONG;
    rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rfd < 0)
        return -errno;
    cur = openat(rfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    close(rfd);
    if (cur < 0)
        return -errno;
    for (comp = to; comp && *comp; comp = slash ? slash + 1 : NULL) {
        slash = strchr(comp, '/');
        if (slash)
            *slash = '\0';
        int next = subdir(cur, comp, uid, gid, chown_it);
        if (next < 0)
            rc = -errno;
        close(cur);
        if (rc)
            return rc;
        cur = next;
    }
    for (int i = 0; i < nseed && rc == 0; i++) {
        int fd =
            openat(cur, seed[i].name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) {
            rc = -errno;
            break;
        }
        rc = cg_write_all(fd, seed[i].data, seed[i].len);
        if (rc == 0 && chown_it && fchown(fd, uid, gid) != 0)
            rc = -errno;
        close(fd);
    }
    close(cur);
    return rc;
}
