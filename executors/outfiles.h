/*
 * outfiles.h - the files a program left under out/ of its work dir, read for the answer.
 *
 * After the job's last step and before its work dir is removed, the executor (root) reads the
 * regular files below <root>/<name>/out/ - a tree the program controls completely - without
 * ever following a link: every directory is opened with openat(O_NOFOLLOW | O_DIRECTORY) from
 * the fd of its parent, every file with openat(O_NOFOLLOW | O_NONBLOCK) and checked with
 * fstat on the open fd (so a file swapped for a fifo or a link after the directory listing is
 * never read or followed). Entries are taken in byte order of their names, depth first, so the
 * answer is the same for the same tree. What is left out is said, with a reason:
 *
 *   symlink          a symbolic link (never followed)
 *   not_regular      a fifo, socket or device
 *   too_large        larger than the per-file limit (a sparse file counts its apparent size)
 *   total_too_large  would bring the files beyond the total limit
 *   too_many         beyond the count limit (or beyond OUTFILES_SCAN_MAX entries in a dir)
 *   too_deep         a directory nested deeper than CG_FILE_DEPTH_MAX
 *   bad_name         a name that is not valid UTF-8 or holds control characters
 *   unreadable       it could not be opened or read
 *   not_a_directory  out itself is not a directory (a link, a file)
 *
 * Ownership: the arrays returned belong to the caller (cJSON_Delete). Blocking: the executor
 * calls it on libuv's thread pool. Thread-safe on distinct directories.
 */
#ifndef CG_OUTFILES_H
#define CG_OUTFILES_H

#include <cjson/cJSON.h>

#include "files.h"

/* Names read from one directory at most; the rest of it is reported as too_many. */
#define OUTFILES_SCAN_MAX 4096

/* Reads <root>/<name>/out. *files gets [{name, size, mimeType, content (base64)}] (NULL when
 * empty) and *omitted [{name, reason}] (NULL when nothing was left out; at most
 * CG_MAX_OUT_OMITTED entries, then one {"name": "", "reason": "N more"}). A missing out/ is
 * no error. Returns 0, or -ENOMEM (both arrays NULL then). */
int outfiles_collect(const char *root, const char *name, const cg_out_limits_t *lim, cJSON **files,
                     cJSON **omitted);

#endif
