/*
 * outfiles.c - reading a program's out/ directory for the answer (see outfiles.h).
 */
#include "outfiles.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "utf8.h"

typedef struct {
    const cg_out_limits_t *lim;
    cJSON *files, *omitted;
    int nfiles, nomitted, more; /* more: omissions beyond CG_MAX_OUT_OMITTED */
    size_t total;
    bool nomem;
} walk_t;

static void omit(walk_t *w, const char *path, const char *reason)
{
    cJSON *o;

    if (w->nomitted >= CG_MAX_OUT_OMITTED) {
        w->more++;
        return;
    }
    if (!w->omitted && !(w->omitted = cJSON_CreateArray())) {
        w->nomem = true;
        return;
    }
    if (!(o = cJSON_CreateObject()) || !cJSON_AddItemToArray(w->omitted, o)) {
        cJSON_Delete(o);
        w->nomem = true;
        return;
    }
    if (!cJSON_AddStringToObject(o, "name", path) || !cJSON_AddStringToObject(o, "reason", reason))
        w->nomem = true;
    w->nomitted++;
}

/* The name (from a directory the program filled) may appear in JSON: UTF-8, no controls. */
static bool name_ok(const char *n)
{
    size_t len = strlen(n);

    for (size_t i = 0; i < len; i++)
        if ((unsigned char)n[i] < 0x20 || n[i] == 0x7f)
            return false;
    return cg_utf8_valid((const unsigned char *)n, len);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads the whole open regular file fd of size bytes; NULL when it cannot. */
static unsigned char *read_all(int fd, size_t size)
{
    unsigned char *buf = malloc(size ? size : 1);
    size_t got = 0;

    while (buf && got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) { /* shrank under us, or an error: not what fstat said */
            free(buf);
            return NULL;
        }
        got += (size_t)n;
    }
    return buf;
}

static void add_file(walk_t *w, const char *path, int dfd, const char *n)
{
    int fd = openat(dfd, n, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    struct stat st;
    unsigned char *data;
    char *b64;
    cJSON *o;

    if (fd < 0) {
        omit(w, path, errno == ELOOP ? "symlink" : "unreadable");
        return;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        omit(w, path, "not_regular");
        goto out;
    }
    if ((size_t)st.st_size > w->lim->max_file_bytes) {
        omit(w, path, "too_large");
        goto out;
    }
    if (w->total + (size_t)st.st_size > w->lim->max_bytes) {
        omit(w, path, "total_too_large");
        goto out;
    }
    if (w->nfiles >= w->lim->max_files) {
        omit(w, path, "too_many");
        goto out;
    }
    if (!(data = read_all(fd, (size_t)st.st_size))) {
        omit(w, path, "unreadable");
        goto out;
    }
    b64 = cg_b64_encode(data, (size_t)st.st_size, NULL);
    if (!w->files)
        w->files = cJSON_CreateArray();
    o = cJSON_CreateObject();
    if (!b64 || !w->files || !o || !cJSON_AddItemToArray(w->files, o)) {
        cJSON_Delete(o);
        w->nomem = true;
    } else if (!cJSON_AddStringToObject(o, "name", path) ||
               !cJSON_AddNumberToObject(o, "size", (double)st.st_size) ||
               !cJSON_AddStringToObject(o, "mimeType",
                                        cg_mime_type(path, data, (size_t)st.st_size)) ||
               !cJSON_AddStringToObject(o, "content", b64)) {
        w->nomem = true;
    }
    w->nfiles++;
    w->total += (size_t)st.st_size;
    free(b64);
    free(data);
out:
    close(fd);
}

/* Walks the directory open as dfd (consumed); prefix is its path below out/ ("" or "a/b/"). */
static void walk_dir(walk_t *w, int dfd, const char *prefix, int depth)
{
    DIR *d = fdopendir(dfd);
    struct dirent *de;
    char **names = NULL;
    size_t n = 0, cap = 0, skipped = 0;

    if (!d) {
        close(dfd);
        omit(w, prefix[0] ? prefix : CG_OUT_DIR, "unreadable");
        return;
    }
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (n >= OUTFILES_SCAN_MAX) {
            skipped++;
            continue;
        }
        if (n == cap) {
            char **nn = realloc(names, (cap = cap ? cap * 2 : 16) * sizeof *names);
            if (!nn) {
                w->nomem = true;
                break;
            }
            names = nn;
        }
        if (!(names[n] = strdup(de->d_name))) {
            w->nomem = true;
            break;
        }
        n++;
    }
    if (names)
        qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n && !w->nomem; i++) {
        char path[PATH_MAX];
        struct stat st;
        bool fits = snprintf(path, sizeof path, "%s%s", prefix, names[i]) < (int)sizeof path;

        if (!fits || !name_ok(names[i])) {
            char safe[96];
            cg_utf8_sanitize(NULL, (const unsigned char *)names[i], strnlen(names[i], 20), safe,
                             true);
            omit(w, safe, "bad_name");
            continue;
        }
        if (fstatat(dirfd(d), names[i], &st, AT_SYMLINK_NOFOLLOW) != 0) {
            omit(w, path, "unreadable");
            continue;
        }
        if (S_ISLNK(st.st_mode)) {
            omit(w, path, "symlink");
        } else if (S_ISDIR(st.st_mode)) {
            int sub;
            if (depth + 1 >= CG_FILE_DEPTH_MAX) {
                omit(w, path, "too_deep");
                continue;
            }
            sub = openat(dirfd(d), names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0) {
                omit(w, path, errno == ELOOP || errno == ENOTDIR ? "symlink" : "unreadable");
                continue;
            }
            strcat(path, "/");
            walk_dir(w, sub, path, depth + 1);
        } else if (S_ISREG(st.st_mode)) {
            add_file(w, path, dirfd(d), names[i]);
        } else {
            omit(w, path, "not_regular");
        }
    }
    if (skipped) {
        char what[PATH_MAX + 32];
        snprintf(what, sizeof what, "%s(%zu entries)", prefix, skipped);
        omit(w, what, "too_many");
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    closedir(d);
}

int outfiles_collect(const char *root, const char *name, const cg_out_limits_t *lim, cJSON **files,
                     cJSON **omitted)
{
    walk_t w = {.lim = lim};
    int rfd, dfd, ofd;

    *files = *omitted = NULL;
    rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rfd < 0)
        return 0;
    dfd = openat(rfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    close(rfd);
    if (dfd < 0)
        return 0;
    ofd = openat(dfd, CG_OUT_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (ofd < 0 && errno != ENOENT)
        omit(&w, CG_OUT_DIR, "not_a_directory");
    close(dfd);
    if (ofd >= 0)
        walk_dir(&w, ofd, "", 0);
    if (w.more > 0 && !w.nomem) {
        char more[48];
        w.nomitted = 0; /* room for this last entry */
        snprintf(more, sizeof more, "%d more", w.more);
        omit(&w, "", more);
    }
    if (w.nomem) {
        cJSON_Delete(w.files);
        cJSON_Delete(w.omitted);
        return -ENOMEM;
    }
    *files = w.files;
    *omitted = w.omitted;
    return 0;
}
