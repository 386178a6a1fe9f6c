/*
 * workdir.c - safe creation and removal of per-run work directories (see workdir.h).
 */
#include "workdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cg_util.h"

int workdir_prepare_root(const char *root)
{
    struct stat st;

    if (mkdir(root, 0711) != 0 && errno != EEXIST)
        return -errno;
    if (lstat(root, &st) != 0)
        return -errno;
    if (!S_ISDIR(st.st_mode))
        return -ENOTDIR;
    return 0;
}

static int open_dir(int parent, const char *name)
{
    return openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

int workdir_create(const char *root, const char *name, uid_t uid, gid_t gid, bool chown_it)
{
    int rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd, rc = 0;

    if (rfd < 0)
        return -errno;
    if (mkdirat(rfd, name, 0700) != 0) {
        rc = -errno;
        goto out;
    }
    fd = open_dir(rfd, name);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    if (chown_it && fchown(fd, uid, gid) != 0)
        rc = -errno;
    if (rc == 0 && fchmod(fd, 0700) != 0)
        rc = -errno;
    close(fd);
out:
    close(rfd);
    return rc;
}

int workdir_write_file(const char *root, const char *name, const char *file, const char *data,
                       size_t len, uid_t uid, gid_t gid, bool chown_it)
{
    int rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC), dfd = -1, fd = -1, rc = 0;

    if (rfd < 0)
        return -errno;
    dfd = open_dir(rfd, name);
    if (dfd < 0) {
        rc = -errno;
        goto out;
    }
    fd = openat(dfd, file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    if ((rc = cg_write_all(fd, data, len)) != 0)
        goto out;
    if (chown_it && fchown(fd, uid, gid) != 0)
        rc = -errno;
out:
    if (fd >= 0)
        close(fd);
    if (dfd >= 0)
        close(dfd);
    close(rfd);
    return rc;
}

/* Empties the directory open as dfd. Consumes dfd. */
static int empty_dir(int dfd, int depth)
{
    DIR *d;
    struct dirent *de;
    int rc = 0;

    if (depth > WORKDIR_MAX_DEPTH) {
        close(dfd);
        return -ELOOP;
    }
    d = fdopendir(dfd);
    if (!d) {
        rc = -errno;
        close(dfd);
        return rc;
    }
    while ((de = readdir(d))) {
        struct stat st;
        const char *n = de->d_name;
        if (!strcmp(n, ".") || !strcmp(n, ".."))
            continue;
        if (fstatat(dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            int sub = open_dir(dirfd(d), n);
            if (sub < 0 && errno == EACCES) {
                /* A directory its owner made 000: we own the parent's fd, fix and retry. */
                (void)!fchmodat(dirfd(d), n, 0700, 0);
                sub = open_dir(dirfd(d), n);
            }
            if (sub >= 0) {
                (void)!fchmod(sub, 0700);
                int r = empty_dir(sub, depth + 1);
                if (r && !rc)
                    rc = r;
            }
            if (unlinkat(dirfd(d), n, AT_REMOVEDIR) != 0 && !rc)
                rc = -errno;
        } else if (unlinkat(dirfd(d), n, 0) != 0 && !rc) {
            rc = -errno;
        }
    }
    closedir(d);
    return rc;
}

int workdir_remove(const char *root, const char *name)
{
    int rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC), dfd, rc;

    if (rfd < 0)
        return errno == ENOENT ? 0 : -errno;
    dfd = open_dir(rfd, name);
    if (dfd < 0) {
        rc = errno == ENOENT ? 0 : -errno;
        if (rc == -ENOTDIR || rc == -ELOOP) /* not a directory (or a symlink): unlink it */
            rc = unlinkat(rfd, name, 0) == 0 ? 0 : -errno;
        close(rfd);
        return rc;
    }
    rc = empty_dir(dfd, 0);
    if (unlinkat(rfd, name, AT_REMOVEDIR) != 0 && !rc)
        rc = -errno;
    close(rfd);
    return rc;
}
