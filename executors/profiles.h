/*
 * profiles.h - the executor's use of the language table (include/lang.h, common/lang.c): how
 * its language is compiled, run and limited. Argument templates may hold "{file}" (the source
 * file name), "{dir}" (the work dir's absolute path), "{mem}" (the run's memory limit in
 * MiB) and, as a whole argument, "{sources}" (every source file of a compile), expanded by
 * profile_expand_sources(). An entry that starts with "{nocgroup}" (PROFILE_NOCGROUP) is a
 * runtime's own memory cap: kept, without the marker, only for a run that no memory cgroup
 * bounds (profile_expand_run); a flag costs Node its built-in code cache (~5 ms a start), so
 * where the cgroup is the bound the run goes without it. Read-only; any thread.
 */
#ifndef CG_PROFILES_H
#define CG_PROFILES_H

#include <stdbool.h>
#include <stddef.h>

#include "lang.h"
#include "protocol.h"

#define PROFILE_MAX_ARGV (32 + CG_MAX_FILES)

/* The executor's name for an entry of the language table (include/lang.h), and its pty modes. */
typedef lang_t profile_t;
#define PROFILE_PTY_NONE LANG_PTY_NONE
#define PROFILE_PTY_IN LANG_PTY_IN
#define PROFILE_PTY_INOUT LANG_PTY_INOUT
#define PROFILE_NOCGROUP LANG_NOCGROUP

/* The profile of a canonical language name, or NULL. */
const profile_t *profile_find(const char *name);

/*
 * Expands a template into out (at most PROFILE_MAX_ARGV - 1 entries plus NULL); strings that
 * needed expansion are written into buf (len bytes); an entry "{options}" becomes the entries
 * of opts (NULL-terminated; NULL: none), which out then points to. Returns the number of
 * entries, or -1 when out or buf is too small.
 */
int profile_expand(const char *const *tmpl, const char *file, const char *dir, int mem_mb,
                   const char *const *opts, const char **out, char *buf, size_t len);

/* Like profile_expand, and an argument "{sources}" becomes one entry per sources[] (the entry
 * file when sources is NULL). */
int profile_expand_sources(const char *const *tmpl, const char *file, const char *dir, int mem_mb,
                           const char *const *opts, const char *const *sources, int nsources,
                           const char **out, char *buf, size_t len);

/* Like profile_expand, for the run command: entries marked PROFILE_NOCGROUP are dropped when
 * cgroup is true (the run's memory is bounded by its slot's memory cgroup). */
int profile_expand_run(const char *const *tmpl, const char *file, const char *dir, int mem_mb,
                       bool cgroup, const char *const *opts, const char **out, char *buf,
                       size_t len);

/* The sources of a compile: the entry file, then every given file with its extension (".cpp"
 * for main.cpp), in the order given. Returns their number, or -1 when more than max. */
int profile_sources(const profile_t *p, const cg_file_t *files, int nfiles, const char **out,
                    int max);

/* Runs the version command; writes e.g. "3.11.2" (no "Python ", no "v"). 0 or -1. */
int profile_version(const profile_t *p, char *out, size_t len);

/* True when stderr holds one of the profile's out-of-memory markers. */
bool profile_is_oom(const profile_t *p, const char *err);

#endif
