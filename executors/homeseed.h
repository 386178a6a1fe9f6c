/*
 * homeseed.h - files copied into every run's HOME before it starts (lang.h: home_seed).
 *
 * Python's matplotlib builds a font list on its first import - a second or more - into a
 * cache dir that must be writable (HOME/.cache/matplotlib). The images and install-deps.sh
 * build that list once into a read-only host dir; each run gets a fresh copy of it in its own
 * work dir, so no run can change what the next one reads.
 *
 * Ownership: the seed's files are read once, on the first call, and kept for the executor's
 * life (static). Thread: the libuv loop thread only (the runner).
 */
#ifndef CG_HOMESEED_H
#define CG_HOMESEED_H

#include <stdbool.h>
#include <sys/types.h>

#include "lang.h"

/* Files of a seed dir at most, and the size of one. Larger or further files are ignored. */
#define HOMESEED_MAX_FILES 8
#define HOMESEED_MAX_FILE_BYTES (4u * 1024u * 1024u)

/* Copies l's seed into root/name/<l->home_seed_to> (directories 0700, files 0600, owned by
 * uid/gid when chown_it). Nothing to do (0) when the language has no seed or its dir is
 * missing. 0 or -errno. */
int homeseed_write(const lang_t *l, const char *root, const char *name, uid_t uid, gid_t gid,
                   bool chown_it);

#endif
