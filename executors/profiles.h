/*
 * profiles.h - the language table: how each language is compiled, run and limited.
 *
 * Adding a language = one row in profiles.c (and one Dockerfile). Argument templates may hold
 * "{file}" (the source file name), "{dir}" (the work dir's absolute path) and "{mem}" (the
 * run's memory limit in MiB), expanded by profile_expand(). Read-only; any thread.
 */
#ifndef CG_PROFILES_H
#define CG_PROFILES_H

#include <stdbool.h>
#include <stddef.h>

#define PROFILE_MAX_ARGV 32

#define PROFILE_PTY_NONE 0  /* stdin and stdout are pipes */
#define PROFILE_PTY_IN 1    /* stdin is a pseudo-terminal, stdout a pipe */
#define PROFILE_PTY_INOUT 2 /* both are the same pseudo-terminal */

typedef struct {
    const char *name;           /* canonical: python, javascript, cpp */
    const char *file;           /* source file name in the work dir */
    const char *const *compile; /* NULL for interpreted languages */
    const char *const *run;
    const char *const *version_cmd; /* prints the version; see profile_version() */
    int as_extra_mb;                /* without a memory cgroup, RLIMIT_AS = memoryMb + this (+
                                       thread stacks, runner.h); -1 = no RLIMIT_AS */
    const char *const *env;         /* extra "K=V" for runs */
    const char *const *oom_markers; /* stderr text that means the program ran out of memory */
    int pty;                        /* interactive runs: PROFILE_PTY_* (runner.c) */
    const char *binary;             /* what the compile step produces (cached), or NULL */
    const char *preload_file;       /* a file written next to the source for the run command */
    const char *preload;            /* (the runtime's own set-up, see profiles.c), or NULL */
} profile_t;

/* The profile of a canonical language name, or NULL. */
const profile_t *profile_find(const char *name);

/*
 * Expands a template into out (at most PROFILE_MAX_ARGV - 1 entries plus NULL); strings that
 * needed expansion are written into buf (len bytes). Returns the number of entries, or -1 when
 * out or buf is too small.
 */
int profile_expand(const char *const *tmpl, const char *file, const char *dir, int mem_mb,
                   const char **out, char *buf, size_t len);

/* Runs the version command; writes e.g. "3.11.2" (no "Python ", no "v"). 0 or -1. */
int profile_version(const profile_t *p, char *out, size_t len);

/* True when stderr holds one of the profile's out-of-memory markers. */
bool profile_is_oom(const profile_t *p, const char *err);

#endif
