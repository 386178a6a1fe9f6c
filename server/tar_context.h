/*
 * tar_context.h - an in-memory, reproducible tar archive for `docker build`, and its content hash.
 *
 * The docker runtime builds each executor image from a few paths of the repository (Makefile,
 * include/, common/, executors/) plus in-memory entries (the Dockerfile). Entries are collected
 * first, then written in sorted path order with mtime 0, uid/gid 0, no user/group names and
 * normalised permissions (0755 for directories and files with any execute bit, else 0644) in
 * pax_restricted format, so the same tree always gives the same bytes.
 *
 * The content hash is SHA-256 (a small embedded implementation, FIPS 180-4) over the sorted
 * entries, each contributing "<path>\0<type d|f> <mode octal> <size>\0<content>". It does not
 * depend on the tar format or on libarchive's version. The runtime tags images with it:
 * "codegate-<language>:<first 12 hex digits>", so an unchanged tree reuses the existing image
 * and any change of path, mode or content gives a new tag.
 *
 * Directories are walked recursively; below the added path, directories named "build" and
 * anything named ".git" are skipped; only regular files and directories are taken (symlinks,
 * sockets, ... are skipped).
 * File contents are read when added, so the hash and the archive always agree.
 *
 * Ownership and threads: tar_context_new() returns an object freed with tar_context_free() (NULL
 * is a no-op). It owns copies of every path and content, the archive and the hash; the pointers
 * returned by tar_context_data() and tar_context_hash() stay valid until it is freed. One thread
 * at a time.
 *
 * Errors: 0 or -errno (-EEXIST for a path added twice with different type, mode or content;
 * the same entry reached twice is fine, -EFBIG past TAR_CONTEXT_MAX_BYTES,
 * -EINVAL for absolute paths or "..", -EBUSY for adding after finish, -EIO when libarchive
 * fails); tar_context_error() describes the last failure (which file, why).
 */
#ifndef CG_TAR_CONTEXT_H
#define CG_TAR_CONTEXT_H

#include <stddef.h>
#include <sys/types.h>

#define TAR_CONTEXT_MAX_BYTES (64u * 1024u * 1024u) /* sum of file contents */
#define TAR_CONTEXT_HASH_HEX 65                     /* 64 hex digits + NUL */

typedef struct tar_context tar_context_t;

/* NULL when out of memory. */
tar_context_t *tar_context_new(void);
void tar_context_free(tar_context_t *tc);

/*
 * Adds root/relpath: a regular file, or a directory with everything below it. relpath is
 * relative ("executors", "Makefile", "include/"); a trailing '/' is ignored. Paths in the
 * archive are relpath and below. Parent directories of relpath are not added (Docker creates
 * them).
 */
int tar_context_add_path(tar_context_t *tc, const char *root, const char *relpath);

/* Adds a regular file with the given content (copied) at path, e.g. "Dockerfile". mode's
 * permission bits are normalised as described above. */
int tar_context_add_data(tar_context_t *tc, const char *path, const void *data, size_t len,
                         mode_t mode);

/* Sorts the entries, writes the archive and computes the hash. No adds afterwards. */
int tar_context_finish(tar_context_t *tc);

/* After tar_context_finish(): the archive bytes (owned by tc) and its length. */
const void *tar_context_data(const tar_context_t *tc, size_t *len);

/* After tar_context_finish(): the SHA-256 as 64 lowercase hex digits (owned by tc). */
const char *tar_context_hash(const tar_context_t *tc);

/* Number of entries added so far (files and directories). */
size_t tar_context_count(const tar_context_t *tc);

/* Text about the last failure ("" when none). */
const char *tar_context_error(const tar_context_t *tc);

#endif
