/*
 * ccache.c - cache of compiled programs (see ccache.h).
 *
 * Entries are files <dir>/<key> (64 hex digits). The index (names, sizes, last use) is kept in
 * memory and rebuilt from the directory at start; a store writes <dir>/.tmp-<key> and renames it
 * into place, so a reader never sees half a binary.
 */
#include "ccache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cg_util.h"
#include "sha256.h"

typedef struct {
    char key[65];
    size_t size;
    int64_t used; /* monotonic ms of the last hit or store */
} entry_t;

struct ccache {
    int dfd;
    int max_entries;
    size_t max_bytes;
    entry_t *e;
    int n;
    size_t bytes;
    ccache_stats_t st;
};

static bool key_ok(const char *k)
{
    size_t n = strlen(k);

    if (n != 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((k[i] >= '0' && k[i] <= '9') || (k[i] >= 'a' && k[i] <= 'f')))
            return false;
    return true;
}

ccache_t *ccache_new(const char *dir, int max_entries, size_t max_bytes)
{
    ccache_t *c = calloc(1, sizeof *c);
    DIR *d;
    struct dirent *de;

    if (!c)
        return NULL;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        goto fail;
    c->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (c->dfd < 0)
        goto fail;
    (void)fchmod(c->dfd, 0700);
    c->max_entries = max_entries;
    c->max_bytes = max_bytes;
    c->e = calloc((size_t)max_entries, sizeof *c->e);
    if (!c->e)
        goto fail_fd;
    d = fdopendir(dup(c->dfd));
    while (d && (de = readdir(d))) {
        struct stat st;
        if (!key_ok(de->d_name) || c->n == max_entries) {
            if (de->d_name[0] != '.' || !strncmp(de->d_name, ".tmp-", 5))
                unlinkat(c->dfd, de->d_name, 0); /* stray files, leftover temporaries */
            continue;
        }
        if (fstatat(c->dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;
        snprintf(c->e[c->n].key, sizeof c->e[c->n].key, "%s", de->d_name);
        c->e[c->n].size = (size_t)st.st_size;
        c->bytes += (size_t)st.st_size;
        c->n++;
    }
    if (d)
        closedir(d);
    return c;
fail_fd:
    close(c->dfd);
fail:
    free(c);
    return NULL;
}

void ccache_free(ccache_t *c)
{
    if (!c)
        return;
    close(c->dfd);
    free(c->e);
    free(c);
}

int ccache_key(const char *compiler_version, const char *const *argv, const char *src, size_t len,
               char key[65])
{
    return ccache_key_files(compiler_version, argv, src, len, NULL, 0, key);
}

int ccache_key_files(const char *compiler_version, const char *const *argv, const char *src,
                     size_t len, const cg_file_t *files, int nfiles, char key[65])
{
    cg_sha256_t s;
    unsigned char md[32];

    cg_sha256_init(&s);
    cg_sha256_update(&s, compiler_version, strlen(compiler_version) + 1);
    for (int i = 0; argv[i]; i++)
        cg_sha256_update(&s, argv[i], strlen(argv[i]) + 1);
    cg_sha256_update(&s, "\n", 1);
    cg_sha256_update(&s, src, len);
    for (int i = 0; i < nfiles; i++) { /* name NUL base64 NUL: unambiguous */
        cg_sha256_update(&s, "\0", 1);
        cg_sha256_update(&s, files[i].name, strlen(files[i].name) + 1);
        cg_sha256_update(&s, files[i].b64, files[i].b64_len);
    }
    if (cg_sha256_final(&s, md) != 0) {
        key[0] = '\0';
        return -ENOMEM;
    }
    cg_sha256_hex(md, key);
    return 0;
}

static entry_t *find(ccache_t *c, const char *key)
{
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->e[i].key, key))
            return &c->e[i];
    return NULL;
}

/* Copies from fd `in` (size bytes) to a new file at dfd/name. */
static int copy_fd(int in, size_t size, int dfd, const char *name, mode_t mode)
{
    char buf[65536];
    int out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    size_t done = 0;
    int rc = 0;

    if (out < 0)
        return -errno;
    while (done < size) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 ? -errno : -EIO;
            break;
        }
        if ((rc = cg_write_all(out, buf, (size_t)n)) != 0)
            break;
        done += (size_t)n;
    }
    if (close(out) != 0 && rc == 0)
        rc = -errno;
    if (rc != 0)
        unlinkat(dfd, name, 0);
    return rc;
}

int ccache_fetch(ccache_t *c, const char *key, const char *dir, const char *name, uid_t uid,
                 gid_t gid, bool chown_it)
{
    entry_t *e = find(c, key);
    int in, dfd, rc;

    if (!e) {
        c->st.misses++;
        return -ENOENT;
    }
    in = openat(c->dfd, key, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0)
        return -errno;
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) {
        rc = -errno;
        close(in);
        return rc;
    }
    rc = copy_fd(in, e->size, dfd, name, 0700);
    if (rc == 0 && chown_it && fchownat(dfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) != 0)
        rc = -errno;
    close(dfd);
    close(in);
    if (rc == 0) {
        e->used = cg_now_ms();
        c->st.hits++;
    }
    return rc;
}

static void evict(ccache_t *c, size_t need)
{
    while (c->n > 0 && (c->n >= c->max_entries || c->bytes + need > c->max_bytes)) {
        int old = 0;
        for (int i = 1; i < c->n; i++)
            if (c->e[i].used < c->e[old].used)
                old = i;
        unlinkat(c->dfd, c->e[old].key, 0);
        c->bytes -= c->e[old].size;
        c->e[old] = c->e[--c->n];
        c->st.evictions++;
    }
}

int ccache_store(ccache_t *c, const char *key, const char *dir, const char *name)
{
    char tmp[80];
    struct stat st;
    int dfd, in, rc;

    if (!key_ok(key) || find(c, key))
        return 0;
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    /* The binary was written by the slot's uid: never follow it, never block on a fifo. */
    in = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    close(dfd);
    if (in < 0)
        return -errno;
    if (fstat(in, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
        (size_t)st.st_size > CCACHE_MAX_BINARY || (size_t)st.st_size > c->max_bytes) {
        close(in);
        return -EINVAL;
    }
    evict(c, (size_t)st.st_size);
    snprintf(tmp, sizeof tmp, ".tmp-%s", key);
    unlinkat(c->dfd, tmp, 0);
    rc = copy_fd(in, (size_t)st.st_size, c->dfd, tmp, 0700);
    close(in);
    if (rc == 0 && renameat(c->dfd, tmp, c->dfd, key) != 0) {
        rc = -errno;
        unlinkat(c->dfd, tmp, 0);
    }
    if (rc == 0) {
        entry_t *e = &c->e[c->n++];
        snprintf(e->key, sizeof e->key, "%s", key);
        e->size = (size_t)st.st_size;
        e->used = cg_now_ms();
        c->bytes += e->size;
        c->st.stores++;
    }
    return rc;
}

void ccache_stats(const ccache_t *c, ccache_stats_t *st)
{
    *st = c->st;
    st->entries = c->n;
    st->bytes = c->bytes;
}
