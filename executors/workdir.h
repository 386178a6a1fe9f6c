/*
 * workdir.h - per-run work directories: created fresh and private, removed without ever
 * following a path the user controls.
 *
 * The executor (root in its container) creates <root>/<name> with mode 0700 and hands it to
 * the slot's uid; the program may fill it with anything (symlinks to /etc, 000 directories,
 * fifos, deep trees). workdir_remove() works only with *at() calls relative to directory fds
 * opened with O_NOFOLLOW, so a symlink is removed as a link and never traversed.
 *
 * Ownership: no allocation survives a call. Threads: any, on distinct directories.
 */
#ifndef CG_WORKDIR_H
#define CG_WORKDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "protocol.h"

/* Directory fds one removal pass holds at most; deeper trees are removed all the same (in
 * more passes, see workdir.c). */
#define WORKDIR_MAX_DEPTH 64

/* Makes sure root exists as a directory of ours (not a symlink, owned by our euid: -EPERM
 * otherwise) with mode 0711 (set when it differs). 0 or -errno. */
int workdir_prepare_root(const char *root);

/* Creates root/name (must not exist) with mode 0700, owned by uid/gid when chown_it. 0 or -errno.
 */
int workdir_create(const char *root, const char *name, uid_t uid, gid_t gid, bool chown_it);

/* Creates the file root/name/file (O_EXCL, O_NOFOLLOW) with data, mode 0600, owned by uid/gid
 * when chown_it. 0 or -errno. */
int workdir_write_file(const char *root, const char *name, const char *file, const char *data,
                       size_t len, uid_t uid, gid_t gid, bool chown_it);

/* Writes the files given with a job into root/name (files.h rules are checked again here:
 * the caller passes what came over the wire), creating the directories of their names (0700)
 * and then the empty directory out/ (0700), all owned by uid/gid when chown_it. Nothing the
 * program controls exists yet, and still every component is opened with O_NOFOLLOW and every
 * file created O_EXCL. Returns 0 or -errno (-EINVAL: a name breaks a rule or a content is not
 * base64; -EFBIG: more than CG_MAX_FILES_BYTES); *bad is then the index of the file (-1: out/).
 */
int workdir_write_files(const char *root, const char *name, const lang_t *l, const cg_file_t *files,
                        int nfiles, uid_t uid, gid_t gid, bool chown_it, int *bad);

/* Removes root/name and everything below it, however deep. A symlink (also root/name itself)
 * is removed as a link; directories made unreadable are made readable first. Returns 0 when
 * it is gone (or was never there), else -errno of the first failure (what could be removed is
 * removed). Blocking: the executor calls it from libuv's thread pool. */
int workdir_remove(const char *root, const char *name);

#endif
