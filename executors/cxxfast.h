/*
 * cxxfast.h - what makes a first C++ compile fast: a precompiled header of the common standard
 * headers, and a faster linker (issue #15).
 *
 * Theory of operation. GCC reads a precompiled header (a .gch) in place of a header only when
 * it is the first thing a translation unit includes, and only when it was made with the same
 * options where they matter: the -std= dialect, whether optimization is on (__OPTIMIZE__) and
 * -pedantic (verified with GCC 12: -O1/-O2/-O3, -Wall, -Wextra, -Werror and -g may differ).
 * User programs start with <iostream>, <vector>, <algorithm>... in any order, so one header,
 * codegate-pch.h, includes the common set; "-include DIR/codegate-pch.h" makes it the first
 * include, and DIR/codegate-pch.h.gch/ holds one .gch per variant of the options
 * ("c++17-O2.gch", "c++20-O0.gch"; GCC tries each file of such a directory and takes the one
 * that fits). The PCH is made by scripts/build-pch.sh: at image build time in the cpp image,
 * by `make` under build/pch for the local runtime.
 *
 * The forced include is added only when it cannot change what the program means:
 *   - a variant for the compile's options exists (otherwise GCC would parse the whole set);
 *   - every preprocessor directive before the last #include is an #include <h> of a header
 *     of the set (no macro the program defines first, such as _GLIBCXX_DEBUG, can be missed),
 *     and every #include is one of the set;
 *   - the program includes at least one header.
 * The program then sees more of the standard library than it included. A name it declares
 * itself may then clash with one of std (using namespace std; int count;): the compile fails
 * where a plain one would not. So a compile with the PCH that fails is done again without it
 * (runner.c), and its diagnostics are those of the plain compile.
 *
 * mold (-fuse-ld=mold) links several times faster than GNU ld; it is used when installed.
 *
 * Ownership: cxxfast_t is a plain value filled by cxxfast_init and read-only afterwards; any
 * thread may read it. Nothing here allocates.
 */
#ifndef CG_CXXFAST_H
#define CG_CXXFAST_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#define CXXFAST_HEADER "codegate-pch.h"
#define CXXFAST_MAX_HEADERS 64
#define CXXFAST_MAX_VARIANTS 16
/* The entries cxxfast_options() may add after the request's options. */
#define CXXFAST_MAX_EXTRA 3

typedef struct {
    bool mold;                             /* -fuse-ld=mold */
    char header[PATH_MAX];                 /* DIR/codegate-pch.h, "" = no PCH */
    char headers[CXXFAST_MAX_HEADERS][48]; /* what it includes: "iostream", "vector" */
    int nheaders;
    char variants[CXXFAST_MAX_VARIANTS][32]; /* the .gch files: "c++17-O2" */
    int nvariants;
} cxxfast_t;

/*
 * Fills f for a compile command (tmpl: the language's compile template; only g++ gets the PCH,
 * g++ and gcc get mold). pch_dir: the directory of codegate-pch.h and its .gch directory, or
 * NULL/"" for none. A PCH directory that is unusable leaves the PCH off (says why in why, when
 * non-NULL). Always succeeds: everything here is optional.
 */
void cxxfast_init(cxxfast_t *f, const char *const *tmpl, const char *pch_dir, char *why,
                  size_t why_len);

/* The compiles see pch_dir at dir (inside a box): -include names the header there. */
void cxxfast_set_run_dir(cxxfast_t *f, const char *dir);

/*
 * The options of one compile: the request's opts (NULL-terminated, may be NULL), then what f
 * adds for this source (mold; the forced include, unless no_pch). out gets at most
 * LANG_MAX_OPTIONS + CXXFAST_MAX_EXTRA entries plus NULL. *pch says whether the forced include
 * was added. Returns the number of entries.
 */
int cxxfast_options(const cxxfast_t *f, const char *const *tmpl, const char *const *opts,
                    const char *src, size_t len, bool no_pch, const char **out, bool *pch);

/* Pure: the variant name of a compile command (template entries, then opts): "c++17-O2",
 * "c++20-O0", "c++17-O2-pedantic". */
void cxxfast_variant(const char *const *tmpl, const char *const *opts, char *buf, size_t len);

/* Pure: whether a source may get the forced include of a header that includes headers[n]
 * (the rules above). */
bool cxxfast_source_fits(const char (*headers)[48], int n, const char *src, size_t len);

#endif
