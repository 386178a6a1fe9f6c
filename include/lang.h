/*
 * lang.h - the language table: every fact about a language, in one place.
 *
 * The gateway (request validation, sessions, /api/languages, both runtimes, metrics), the
 * executor (profiles.c: how a program is compiled, run and limited) and, through
 * GET /api/languages, the playground all read this table; nothing else names a language.
 * Adding a language is one entry in common/lang.c (and one docker/Dockerfile.<name>, or an
 * existing image named by .image); docs/LANGUAGES.md is the procedure.
 *
 * Ownership: the table and everything it points to are static and read-only; any thread may
 * read them at any time. Nothing here allocates.
 *
 * Argument templates (compile, run) may hold "{file}" (the source file name), "{dir}" (the
 * work dir's absolute path), "{mem}" (the run's memory limit in MiB) and "{options}" (an entry
 * that becomes the request's options, zero or more entries); the executor expands them
 * (profile_expand()).
 */
#ifndef CG_LANG_H
#define CG_LANG_H

#include <stddef.h>

/* How many languages the table holds: sizes per-language arrays (metrics, pool, runtimes). */
#define LANG_COUNT 5

/* The executor's default wall clock of one compile (--compile-timeout-ms) and its maximum.
 * The gateway waits for a compile this long too (http.c): the same number, not a copy. */
#define LANG_COMPILE_TIMEOUT_MS 20000
#define LANG_COMPILE_TIMEOUT_MAX_MS 120000
/* A number as a string literal (option tables hold defaults as text). */
#define LANG_STR_(x) #x
#define LANG_STR(x) LANG_STR_(x)

/* Where the images and install-deps.sh put matplotlib's prebuilt font cache (lang.c). */
#define LANG_MPL_CACHE_DIR "/usr/local/share/codegate/matplotlib"

/* A request's options (compiler or interpreter flags, "options": [...]): at most this many, each
 * at most LANG_OPTION_MAX_BYTES long; only the values of the language's allow-list. */
#define LANG_MAX_OPTIONS 16
#define LANG_OPTION_MAX_BYTES 64

/* One option a request may give: its exact text, and its group. At most one option of a group
 * (one -std=, one -O level); group NULL: a flag on its own. No option may be given twice. */
typedef struct {
    const char *value;
    const char *group;
} lang_option_t;

#define LANG_PTY_NONE 0  /* interactive runs: stdin and stdout are pipes */
#define LANG_PTY_IN 1    /* stdin is a pseudo-terminal, stdout a pipe */
#define LANG_PTY_INOUT 2 /* both are the same pseudo-terminal */
/* Marks a run-command entry that is a runtime's own memory cap (Node's --max-old-space-size):
 * kept only for runs that no memory cgroup bounds (executors/profiles.h). */
#define LANG_NOCGROUP "{nocgroup}"

typedef struct {
    const char *name;               /* canonical, as in the API: "python", "javascript", "cpp" */
    const char *image;              /* the executor image: docker/Dockerfile.<image>, tag
                                       codegate-<image>; NULL = name (see docs/LANGUAGES.md) */
    const char *display;            /* for people: "Python", "JavaScript", "C++" */
    const char *runtime;            /* what runs it, shown before its version: "Node.js" */
    const char *const *aliases;     /* other names the API accepts (case-insensitive) */
    const char *file;               /* source file name in the work dir */
    const char *const *compile;     /* NULL for interpreted languages */
    const char *const *run;         /* the run command */
    const char *const *version_cmd; /* prints the version; see profile_version() */
    const char *const *env;         /* extra "K=V" for runs */
    const char *const *oom_markers; /* stderr text that means the program ran out of memory */
    const char *binary;             /* what the compile step produces (cached), or NULL */
    const char *preload_file;       /* a file written next to the source for the run command */
    const char *preload;            /* (the runtime's own set-up, see lang.c), or NULL */
    int compile_timeout_ms;         /* default wall clock of the compile step; 0: none */
    int as_extra_mb;                /* without a memory cgroup, RLIMIT_AS = memoryMb + this (+
                                       thread stacks, runner.h); -1 = no RLIMIT_AS */
    int pty;                        /* interactive runs: LANG_PTY_* (runner.c) */
    const char *home_seed;          /* a host dir whose files are copied into home_seed_to */
    const char *home_seed_to;       /* (below the run's HOME) before each run, or NULL:
                                       Python's prebuilt matplotlib font cache (homeseed.c) */
    const lang_option_t *options;   /* the options a request may give, {NULL}-terminated;
                                       NULL: none. They replace "{options}" in the compile
                                       (or, without one, the run) template */
    int zygote;                     /* 1: runs may fork from a pre-initialised interpreter
                                       (executors/launcher_zygote.c, Python only) */
} lang_t;

/* The entries, in the order the API lists them. */
extern const lang_t lang_table[LANG_COUNT];

/* Java's compile-and-run helper (common/lang_java.c), the "preload" of the java entry. */
extern const char lang_java_helper[];

/* The executor image of an entry: its .image, or its name. */
const char *lang_image(const lang_t *l);

/* The index of a canonical name (exact match), or -1 (also for NULL). */
int lang_index(const char *name);

/* The entry of a canonical name or an alias (case-insensitive), or NULL (also for NULL). */
const lang_t *lang_find(const char *name);

/* The entry of a canonical name (exact match), or NULL. */
const lang_t *lang_get(const char *name);

/* Writes the canonical names into buf joined by sep, the last two by last (", " and " or "
 * give "python, javascript or cpp"). Returns buf; when len is too small, only the names that
 * fit whole. */
const char *lang_names(char *buf, size_t len, const char *sep, const char *last);

/* Checks a request's options against the language's allow-list (lang_t.options): known values,
 * no duplicates, at most one per group, at most LANG_MAX_OPTIONS. 0 when allowed; -1 with *bad
 * set to the index of the first offending option (-1 when the list is too long) and a reason
 * for people in msg ("-B is not allowed", "-O0 and -O2 are both of the -O group"). The gateway
 * (request.c) and the executor (runner.c) both call it. Any thread. */
int lang_options_check(const lang_t *l, const char *const *opts, int n, int *bad, char *msg,
                       size_t len);

/* Writes the allowed options of l into buf joined by ", " ("none" when the language takes none).
 * Returns buf; entries that do not fit whole are left out. */
const char *lang_options_allowed(const lang_t *l, char *buf, size_t len);

#endif
