/*
 * tar_context.c - reproducible in-memory tar (libarchive, pax_restricted) and its SHA-256.
 *
 * add_path/add_data only collect entries (path, type, mode, content). finish() sorts them by
 * path, hashes them and writes the archive through a write callback that appends to a growing
 * buffer. The hash is SHA-256 (libcrypto, through common/sha256.c) over each entry's path, type,
 * mode, size and content in path order, so equal trees give equal tags whatever their mtimes.
 */
#include "tar_context.h"

#include "sha256.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

/* ---- entries ---- */

typedef struct {
    char *path;
    bool dir;
    mode_t mode;
    unsigned char *data;
    size_t len;
} entry_t;

struct tar_context {
    entry_t *v;
    size_t n, cap;
    size_t content_bytes;
    bool finished;
    unsigned char *tar;
    size_t tar_len, tar_cap;
    char hash[TAR_CONTEXT_HASH_HEX];
    char error[512];
};

static int tc_error(tar_context_t *tc, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int tc_error(tar_context_t *tc, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tc->error, sizeof tc->error, fmt, ap);
    va_end(ap);
    return rc;
}

tar_context_t *tar_context_new(void)
{
    return calloc(1, sizeof(tar_context_t));
}

void tar_context_free(tar_context_t *tc)
{
    if (!tc)
        return;
    for (size_t i = 0; i < tc->n; i++) {
        free(tc->v[i].path);
        free(tc->v[i].data);
    }
    free(tc->v);
    free(tc->tar);
    free(tc);
}

static mode_t norm_mode(bool dir, mode_t mode)
{
    return dir || (mode & 0111) ? 0755 : 0644;
}

static entry_t *find_entry(tar_context_t *tc, const char *path)
{
    for (size_t i = 0; i < tc->n; i++) {
        if (strcmp(tc->v[i].path, path) == 0)
            return &tc->v[i];
    }
    return NULL;
}

/* Takes ownership of data (even on failure). */
static int add_entry(tar_context_t *tc, const char *path, bool dir, mode_t mode,
                     unsigned char *data, size_t len)
{
    entry_t *old = find_entry(tc, path);
    if (old) {
        /* Reached twice (overlapping adds): harmless when it is the same thing. */
        bool same = old->dir == dir && old->mode == norm_mode(dir, mode) && old->len == len &&
                    (!len || memcmp(old->data, data, len) == 0);
        free(data);
        return same ? 0 : tc_error(tc, -EEXIST, "%s: added twice with different content", path);
    }
    if (tc->n == tc->cap) {
        size_t cap = tc->cap ? 2 * tc->cap : 64;
        entry_t *nv = realloc(tc->v, cap * sizeof *nv);
        if (!nv) {
            free(data);
            return tc_error(tc, -ENOMEM, "out of memory");
        }
        tc->v = nv;
        tc->cap = cap;
    }
    char *p = strdup(path);
    if (!p) {
        free(data);
        return tc_error(tc, -ENOMEM, "out of memory");
    }
    tc->v[tc->n++] = (entry_t){p, dir, norm_mode(dir, mode), data, len};
    tc->content_bytes += len;
    return 0;
}

/* Relative, no "..", no empty components ("a//b"); a trailing '/' is dropped into out. */
static int clean_relpath(tar_context_t *tc, const char *in, char *out, size_t outlen)
{
    size_t n = strlen(in);
    while (n > 1 && in[n - 1] == '/')
        n--;
    if (n == 0 || n >= outlen || in[0] == '/')
        return tc_error(tc, -EINVAL, "%s: not a relative path", in);
    memcpy(out, in, n);
    out[n] = '\0';
    for (char *c = out, *end; c; c = end ? end + 1 : NULL) {
        end = strchr(c, '/');
        size_t len = end ? (size_t)(end - c) : strlen(c);
        if (len == 0 || (len == 2 && c[0] == '.' && c[1] == '.') || (len == 1 && c[0] == '.'))
            return tc_error(tc, -EINVAL, "%s: '.', '..' or empty component", in);
    }
    return 0;
}

static int read_file(tar_context_t *tc, const char *full, const char *rel, size_t size,
                     unsigned char **out)
{
    int rc = 0;
    unsigned char *buf = malloc(size ? size : 1);
    int fd = open(full, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (!buf || fd < 0) {
        rc = !buf ? -ENOMEM : -errno;
        tc_error(tc, rc, "%s: %s", rel, strerror(-rc));
        goto fail;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 ? -errno : -EIO;
            tc_error(tc, rc, "%s: %s", rel, n < 0 ? strerror(-rc) : "file shrank while reading");
            goto fail;
        }
        got += (size_t)n;
    }
    close(fd);
    *out = buf;
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    free(buf);
    return rc;
}

static int walk(tar_context_t *tc, const char *root, const char *rel, int depth);

static int add_one(tar_context_t *tc, const char *root, const char *rel, int depth)
{
    char full[PATH_MAX];
    struct stat st;
    if ((size_t)snprintf(full, sizeof full, "%s/%s", root, rel) >= sizeof full)
        return tc_error(tc, -ENAMETOOLONG, "%s: path too long", rel);
    if (lstat(full, &st) != 0) {
        int rc = -errno;
        return tc_error(tc, rc, "%s: %s", rel, strerror(-rc));
    }
    const char *base = strrchr(rel, '/');
    base = base ? base + 1 : rel;
    bool skip = !strcmp(base, ".git") || (S_ISDIR(st.st_mode) && !strcmp(base, "build"));
    if (depth > 0 && skip)
        return 0; /* VCS data and build output are never part of a context */
    if (S_ISDIR(st.st_mode)) {
        int rc = add_entry(tc, rel, true, st.st_mode, NULL, 0);
        return rc ? rc : walk(tc, root, rel, depth + 1);
    }
    if (!S_ISREG(st.st_mode))
        return 0; /* symlinks, sockets, devices: not part of a build context */
    if ((uint64_t)st.st_size > TAR_CONTEXT_MAX_BYTES - tc->content_bytes)
        return tc_error(tc, -EFBIG, "%s: context larger than %u bytes", rel, TAR_CONTEXT_MAX_BYTES);
    unsigned char *data = NULL;
    int rc = read_file(tc, full, rel, (size_t)st.st_size, &data);
    return rc ? rc : add_entry(tc, rel, false, st.st_mode, data, (size_t)st.st_size);
}

static int walk(tar_context_t *tc, const char *root, const char *rel, int depth)
{
    char full[PATH_MAX], child[PATH_MAX];
    int rc = 0;
    if (depth > 64)
        return tc_error(tc, -ELOOP, "%s: too deep", rel);
    snprintf(full, sizeof full, "%s/%s", root, rel);
    DIR *d = opendir(full);
    if (!d) {
        rc = -errno;
        return tc_error(tc, rc, "%s: %s", rel, strerror(-rc));
    }
    struct dirent *de;
    while (rc == 0 && (errno = 0, de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        if (!strcmp(name, ".") || !strcmp(name, ".."))
            continue;
        if ((size_t)snprintf(child, sizeof child, "%s/%s", rel, name) >= sizeof child)
            rc = tc_error(tc, -ENAMETOOLONG, "%s/%s: path too long", rel, name);
        else
            rc = add_one(tc, root, child, depth);
    }
    if (rc == 0 && errno != 0) {
        rc = -errno;
        tc_error(tc, rc, "%s: %s", rel, strerror(-rc));
    }
    closedir(d);
    return rc;
}

int tar_context_add_path(tar_context_t *tc, const char *root, const char *relpath)
{
    char rel[PATH_MAX];
    if (tc->finished)
        return tc_error(tc, -EBUSY, "already finished");
    int rc = clean_relpath(tc, relpath, rel, sizeof rel);
    return rc ? rc : add_one(tc, root, rel, 0);
}

int tar_context_add_data(tar_context_t *tc, const char *path, const void *data, size_t len,
                         mode_t mode)
{
    char rel[PATH_MAX];
    if (tc->finished)
        return tc_error(tc, -EBUSY, "already finished");
    int rc = clean_relpath(tc, path, rel, sizeof rel);
    if (rc)
        return rc;
    if (len > TAR_CONTEXT_MAX_BYTES - tc->content_bytes)
        return tc_error(tc, -EFBIG, "%s: context larger than %u bytes", rel, TAR_CONTEXT_MAX_BYTES);
    unsigned char *copy = malloc(len ? len : 1);
    if (!copy)
        return tc_error(tc, -ENOMEM, "out of memory");
    if (len)
        memcpy(copy, data, len);
    return add_entry(tc, rel, false, mode, copy, len);
}

/* ---- finish: sort, hash, write ---- */

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const entry_t *)a)->path, ((const entry_t *)b)->path);
}

static int compute_hash(tar_context_t *tc)
{
    cg_sha256_t s;
    unsigned char md[32];
    char meta[64];
    cg_sha256_init(&s);
    for (size_t i = 0; i < tc->n; i++) {
        const entry_t *e = &tc->v[i];
        int m =
            snprintf(meta, sizeof meta, "%c %o %zu", e->dir ? 'd' : 'f', (unsigned)e->mode, e->len);
        cg_sha256_update(&s, e->path, strlen(e->path) + 1);
        cg_sha256_update(&s, meta, (size_t)m + 1);
        if (e->len)
            cg_sha256_update(&s, e->data, e->len);
    }
    if (cg_sha256_final(&s, md) != 0)
        return tc_error(tc, -ENOMEM, "SHA-256: libcrypto failed");
    cg_sha256_hex(md, tc->hash);
    return 0;
}

static la_ssize_t on_tar_write(struct archive *a, void *arg, const void *buf, size_t len)
{
    tar_context_t *tc = arg;
    if (tc->tar_len + len > tc->tar_cap) {
        size_t cap = tc->tar_cap ? tc->tar_cap : 65536;
        while (cap < tc->tar_len + len)
            cap *= 2;
        unsigned char *nb = realloc(tc->tar, cap);
        if (!nb) {
            archive_set_error(a, ENOMEM, "out of memory");
            return -1;
        }
        tc->tar = nb;
        tc->tar_cap = cap;
    }
    memcpy(tc->tar + tc->tar_len, buf, len);
    tc->tar_len += len;
    return (la_ssize_t)len;
}

static int write_entries(tar_context_t *tc, struct archive *a)
{
    struct archive_entry *ae = archive_entry_new();
    if (!ae)
        return tc_error(tc, -ENOMEM, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < tc->n && rc == 0; i++) {
        const entry_t *e = &tc->v[i];
        archive_entry_clear(ae);
        archive_entry_set_pathname(ae, e->path);
        archive_entry_set_filetype(ae, e->dir ? AE_IFDIR : AE_IFREG);
        archive_entry_set_perm(ae, e->mode);
        archive_entry_set_size(ae, (la_int64_t)e->len);
        archive_entry_set_mtime(ae, 0, 0);
        archive_entry_set_uid(ae, 0);
        archive_entry_set_gid(ae, 0);
        if (archive_write_header(a, ae) != ARCHIVE_OK ||
            (e->len && archive_write_data(a, e->data, e->len) != (la_ssize_t)e->len))
            rc = tc_error(tc, -EIO, "%s: %s", e->path, archive_error_string(a));
    }
    archive_entry_free(ae);
    return rc;
}

int tar_context_finish(tar_context_t *tc)
{
    if (tc->finished)
        return tc_error(tc, -EBUSY, "already finished");
    if (tc->n)
        qsort(tc->v, tc->n, sizeof *tc->v, cmp_entry);
    int rc = compute_hash(tc);
    if (rc)
        return rc;
    rc = -EIO;
    struct archive *a = archive_write_new();
    if (!a)
        return tc_error(tc, -ENOMEM, "out of memory");
    if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
        archive_write_add_filter_none(a) != ARCHIVE_OK ||
        archive_write_open2(a, tc, NULL, on_tar_write, NULL, NULL) != ARCHIVE_OK) {
        tc_error(tc, rc, "libarchive: %s", archive_error_string(a));
        goto fail;
    }
    rc = write_entries(tc, a);
    if (archive_write_close(a) != ARCHIVE_OK && rc == 0)
        rc = tc_error(tc, -EIO, "libarchive: %s", archive_error_string(a));
fail:
    archive_write_free(a);
    if (rc == 0)
        tc->finished = true;
    else
        tc->tar_len = 0;
    return rc;
}

const void *tar_context_data(const tar_context_t *tc, size_t *len)
{
    *len = tc->finished ? tc->tar_len : 0;
    return tc->finished ? tc->tar : NULL;
}

const char *tar_context_hash(const tar_context_t *tc)
{
    return tc->finished ? tc->hash : NULL;
}

size_t tar_context_count(const tar_context_t *tc)
{
    return tc->n;
}

const char *tar_context_error(const tar_context_t *tc)
{
    return tc->error;
}
