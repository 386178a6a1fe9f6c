/*
 * workdir.c - safe creation and removal of per-run work directories (see workdir.h).
 *
 * Removal walks the tree with *at() calls on directory fds opened O_NOFOLLOW | O_DIRECTORY, so
 * no path the program controls is ever resolved through a symlink. Depth is unbounded but the
 * walk is not: at WORKDIR_MAX_DEPTH nested levels, the directory found there is renamed up into
 * the top directory (same file system, we hold fds on both parents) and handled by a later pass.
 * Each pass therefore holds at most WORKDIR_MAX_DEPTH directory fds, and every pass removes or
 * lifts everything it sees, so a chain of any length is gone after depth / WORKDIR_MAX_DEPTH
 * passes.
 */
#include "workdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cg_util.h"

/* A pass count no real tree needs: 10^6 levels. Guards against a bug looping forever. */
#define WORKDIR_MAX_PASSES 20000

int workdir_prepare_root(const char *root)
{
    struct stat st;
    int fd, rc = 0;

    if (mkdir(root, 0711) != 0 && errno != EEXIST)
        return -errno;
    fd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ELOOP ? -ENOTDIR : -errno;
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        goto out;
    }
    /* Someone else's directory (say a /tmp/codegate-work planted by another user) could be
     * rearranged under us between creating a work dir and using it: refuse it. */
    if (st.st_uid != geteuid()) {
        rc = -EPERM;
        goto out;
    }
    if ((st.st_mode & 07777) != 0711 && fchmod(fd, 0711) != 0)
        rc = -errno;
out:
    close(fd);
    return rc;
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

/* Opens (creating it 0700 when missing) the directory parent/comp, never through a link. */
static int subdir(int parent, const char *comp, uid_t uid, gid_t gid, bool chown_it)
{
    int fd;

    if (mkdirat(parent, comp, 0700) == 0) {
        fd = open_dir(parent, comp);
        if (fd >= 0 && chown_it && fchown(fd, uid, gid) != 0) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        return fd;
    }
    return errno == EEXIST ? open_dir(parent, comp) : -1;
}

/* Writes one file (decoded from base64) at dfd/path, making the directories on the way. */
static int write_one(int dfd, const cg_file_t *f, unsigned char *buf, size_t *total, uid_t uid,
                     gid_t gid, bool chown_it)
{
    char path[CG_FILE_NAME_MAX + 1], *comp, *slash;
    int cur = dfd, fd, rc = 0;
    long n;

    if (snprintf(path, sizeof path, "%s", f->name) >= (int)sizeof path)
        return -EINVAL;
    n = cg_b64_decode(f->b64, f->b64_len, buf);
    if (n < 0)
        return -EINVAL;
    if ((*total += (size_t)n) > CG_MAX_FILES_BYTES)
        return -EFBIG;
    for (comp = path; (slash = strchr(comp, '/')) != NULL; comp = slash + 1) {
        *slash = '\0';
        int next = subdir(cur, comp, uid, gid, chown_it);
        if (next < 0)
            rc = -errno;
        if (cur != dfd)
            close(cur);
        if (rc)
            return rc;
        cur = next;
    }
    fd = openat(cur, comp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        rc = -errno;
    else {
        rc = cg_write_all(fd, buf, (size_t)n);
        if (rc == 0 && chown_it && fchown(fd, uid, gid) != 0)
            rc = -errno;
        close(fd);
    }
    if (cur != dfd)
        close(cur);
    return rc;
}

int workdir_write_files(const char *root, const char *name, const lang_t *l, const cg_file_t *files,
                        int nfiles, uid_t uid, gid_t gid, bool chown_it, int *bad)
{
    int rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC), dfd = -1, out, rc = 0;
    unsigned char *buf = NULL;
    size_t total = 0, most = 0;

    *bad = -1;
    if (rfd < 0)
        return -errno;
    dfd = open_dir(rfd, name);
    close(rfd);
    if (dfd < 0)
        return -errno;
    for (int i = 0; i < nfiles; i++)
        if (files[i].b64_len > most)
            most = files[i].b64_len;
    if (nfiles > CG_MAX_FILES || (nfiles > 0 && !(buf = malloc(CG_B64_DECODED_MAX(most) + 1)))) {
        rc = nfiles > CG_MAX_FILES ? -EINVAL : -ENOMEM;
        goto out;
    }
    for (int i = 0; i < nfiles && rc == 0; i++) {
        const cg_file_t *f = &files[i];
        if (cg_file_name_rule(f->name, strlen(f->name), CG_FILE_NAME_MAX, CG_FILE_DEPTH_MAX, l))
            rc = -EINVAL;
        else
            rc = write_one(dfd, f, buf, &total, uid, gid, chown_it);
        if (rc)
            *bad = i;
    }
    if (rc == 0) {
        out = subdir(dfd, CG_OUT_DIR, uid, gid, chown_it);
        if (out < 0)
            rc = -errno;
        else
            close(out);
    }
out:
    free(buf);
    close(dfd);
    return rc;
}

/* One removal pass over a tree. */
typedef struct {
    int top;         /* fd of the directory being removed (deep subtrees are lifted here) */
    unsigned lifted; /* subtrees lifted in this pass: another pass is needed */
    unsigned serial; /* names of lifted subtrees */
    int rc;          /* first error */
} sweep_t;

static void note(sweep_t *s, int rc)
{
    if (rc && !s->rc)
        s->rc = rc;
}

/* Opens the directory parent/name for emptying; a directory its owner made unreadable (000,
 * 0300) is given back its owner's permissions first (we are root or that owner). */
static int open_for_removal(int parent, const char *name)
{
    int fd = open_dir(parent, name);

    if (fd < 0 && errno == EACCES) {
        /* AT_SYMLINK_NOFOLLOW: glibc does it through an O_PATH fd, never through a link. */
        (void)!fchmodat(parent, name, 0700, AT_SYMLINK_NOFOLLOW);
        fd = open_dir(parent, name);
    }
    if (fd >= 0)
        (void)!fchmod(fd, 0700); /* 0500: we must be able to unlink its entries */
    return fd;
}

/* Moves the directory parent/name to the top directory under a fresh name. */
static int lift(sweep_t *s, int parent, const char *name)
{
    char to[32];

    for (int tries = 0; tries < 1000; tries++) {
        snprintf(to, sizeof to, ".cg-deep-%u", s->serial++);
        if (renameat2(parent, name, s->top, to, RENAME_NOREPLACE) == 0) {
            s->lifted++;
            return 0;
        }
        if (errno != EEXIST)
            return -errno;
    }
    return -EEXIST;
}

/* Empties the directory open as dfd (consumed). */
static void empty_dir(sweep_t *s, int dfd, int depth)
{
    DIR *d = fdopendir(dfd);
    struct dirent *de;

    if (!d) {
        note(s, -errno);
        close(dfd);
        return;
    }
    while ((de = readdir(d))) {
        const char *n = de->d_name;
        struct stat st;

        if (!strcmp(n, ".") || !strcmp(n, ".."))
            continue;
        if (fstatat(dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno != ENOENT)
                note(s, -errno);
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            if (unlinkat(dirfd(d), n, 0) != 0 && errno != ENOENT)
                note(s, -errno);
            continue;
        }
        if (depth + 1 >= WORKDIR_MAX_DEPTH) {
            note(s, lift(s, dirfd(d), n));
            continue;
        }
        int sub = open_for_removal(dirfd(d), n);
        if (sub < 0) {
            note(s, -errno);
            continue;
        }
        empty_dir(s, sub, depth + 1);
        if (unlinkat(dirfd(d), n, AT_REMOVEDIR) != 0)
            note(s, -errno);
    }
    closedir(d);
}

/* Empties the directory open as top (not consumed), pass after pass. */
static int empty_tree(int top)
{
    sweep_t s = {.top = top};

    (void)!fchmod(top, 0700);
    for (int pass = 0; pass < WORKDIR_MAX_PASSES; pass++) {
        /* A fresh open file description per pass: readdir starts at the beginning. */
        int fd = openat(top, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            return -errno;
        s.lifted = 0;
        s.rc = 0;
        empty_dir(&s, fd, 0);
        if (s.lifted == 0)
            return s.rc;
    }
    return -ELOOP;
}

int workdir_remove(const char *root, const char *name)
{
    int rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC), dfd, rc;

    if (rfd < 0)
        return errno == ENOENT ? 0 : -errno;
    dfd = open_for_removal(rfd, name);
    if (dfd < 0) {
        rc = errno == ENOENT ? 0 : -errno;
        if (rc == -ENOTDIR || rc == -ELOOP) /* not a directory (or a symlink): unlink it */
            rc = unlinkat(rfd, name, 0) == 0 ? 0 : -errno;
        close(rfd);
        return rc;
    }
    rc = empty_tree(dfd);
    close(dfd);
    if (unlinkat(rfd, name, AT_REMOVEDIR) != 0 && !rc)
        rc = -errno;
    close(rfd);
    return rc;
}
