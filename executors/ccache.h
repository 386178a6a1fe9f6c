/*
 * ccache.h - the executor's cache of compiled programs (C++): a second request with the same
 * source skips the compiler.
 *
 * Keyed by SHA-256 over the compiler version, the compile command and the source, so a
 * different compiler or different flags never reuse a binary. The cache directory is created
 * 0700 and owned by the executor; only the executor writes it, after a successful compile, by
 * copying the binary out of the run's work dir (opened O_NOFOLLOW, regular files only, bounded
 * size) - user code never writes the cache. It is bounded in entries and bytes; the least
 * recently used entries go first.
 *
 * Ownership: ccache_t from ccache_new, freed by ccache_free. Threads: the loop thread only.
 */
#ifndef CG_CCACHE_H
#define CG_CCACHE_H

#include "protocol.h"
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define CCACHE_MAX_BINARY (64u * 1024u * 1024u)

typedef struct ccache ccache_t;

/* NULL when dir cannot be made (the executor then runs without a cache). */
ccache_t *ccache_new(const char *dir, int max_entries, size_t max_bytes);
void ccache_free(ccache_t *c);

/* The key of a source for a compiler version and command (argv, NULL-terminated). 0, or -ENOMEM
 * when libcrypto could not hash (key is then ""; callers compile without the cache). */
int ccache_key(const char *compiler_version, const char *const *argv, const char *src, size_t len,
               char key[65]);
/* The same, and the files given with the program (protocol.h) count too. */
int ccache_key_files(const char *compiler_version, const char *const *argv, const char *src,
                     size_t len, const cg_file_t *files, int nfiles, char key[65]);

/* Copies the cached binary of key to dir/name (mode 0700, owned by uid/gid when chown_it).
 * 0 on a hit, -ENOENT on a miss, another -errno on failure. */
int ccache_fetch(ccache_t *c, const char *key, const char *dir, const char *name, uid_t uid,
                 gid_t gid, bool chown_it);

/* Stores dir/name under key. 0 or -errno (the cache is an optimisation: callers may ignore). */
int ccache_store(ccache_t *c, const char *key, const char *dir, const char *name);

typedef struct {
    unsigned long hits, misses, stores, evictions;
    int entries;
    size_t bytes;
} ccache_stats_t;
void ccache_stats(const ccache_t *c, ccache_stats_t *st);

#endif
