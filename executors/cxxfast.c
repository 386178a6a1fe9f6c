/*
 * cxxfast.c - the precompiled header and the linker of a C++ compile (see cxxfast.h): what is
 * there (at start), and what one compile gets (per job, on the loop thread; pure but for f).
 */
#include "cxxfast.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lang.h"

/* The same PATH as the compile gets (runner_step.c). */
static bool on_path(const char *name)
{
    static const char *const dirs[] = {"/usr/local/bin", "/usr/bin", "/bin", NULL};
    char p[PATH_MAX];

    for (int i = 0; dirs[i]; i++) {
        snprintf(p, sizeof p, "%s/%s", dirs[i], name);
        if (access(p, X_OK) == 0)
            return true;
    }
    return false;
}

/* "  #  include <name>  // x" -> name; NULL when the line is no #include <...>. A line that is
 * some other directive sets *other. */
static const char *directive(const char *p, const char *end, bool *is_dir, char *name, size_t nlen)
{
    size_t k = 0;

    *is_dir = false;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p == end || *p != '#')
        return NULL;
    *is_dir = true;
    for (p++; p < end && (*p == ' ' || *p == '\t'); p++)
        ;
    if ((size_t)(end - p) < 7 || strncmp(p, "include", 7) != 0)
        return NULL;
    for (p += 7; p < end && (*p == ' ' || *p == '\t'); p++)
        ;
    if (p == end || *p != '<')
        return NULL;
    for (p++; p < end && *p != '>' && k + 1 < nlen; p++)
        name[k++] = *p;
    if (p == end || *p != '>' || k == 0)
        return NULL;
    name[k] = '\0';
    return name;
}

static bool in_set(const char (*headers)[48], int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(headers[i], name) == 0)
            return true;
    return false;
}

bool cxxfast_source_fits(const char (*headers)[48], int n, const char *src, size_t len)
{
    const char *p = src, *end = src + len;
    bool other = false;
    int includes = 0;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        char name[48];
        bool is_dir;
        const char *h = directive(p, eol, &is_dir, name, sizeof name);
        if (h) {
            if (other || !in_set(headers, n, h))
                return false;
            includes++;
        } else if (is_dir) {
            /* #include "x", #include MACRO, #define, #if, #pragma...: fine after the last
             * include, not before one. An #include of another form is caught here too. */
            const char *q = p;
            while (*q == ' ' || *q == '\t' || *q == '#')
                q++;
            if (strncmp(q, "include", 7) == 0)
                return false;
            other = true;
        }
        p = eol + 1;
    }
    return includes > 0;
}

void cxxfast_variant(const char *const *tmpl, const char *const *opts, char *buf, size_t len)
{
    const char *std = "gnu++17", *opt = "O0";
    bool pedantic = false;

    for (int pass = 0; pass < 2; pass++)
        for (const char *const *a = pass ? opts : tmpl; a && *a; a++) {
            if (strncmp(*a, "-std=", 5) == 0)
                std = *a + 5;
            else if (strncmp(*a, "-O", 2) == 0)
                opt = strcmp(*a, "-O0") == 0 ? "O0" : "O2";
            else if (strcmp(*a, "-pedantic") == 0)
                pedantic = true;
        }
    snprintf(buf, len, "%s-%s%s", std, opt, pedantic ? "-pedantic" : "");
}

/* Reads the headers that DIR/codegate-pch.h includes. 0 or -1. */
static int read_headers(cxxfast_t *f, char *why, size_t why_len)
{
    FILE *in = fopen(f->header, "r");
    char line[256], name[48];
    bool is_dir;

    if (!in) {
        snprintf(why, why_len, "cannot read %s: %m", f->header);
        return -1;
    }
    while (fgets(line, sizeof line, in) && f->nheaders < CXXFAST_MAX_HEADERS)
        if (directive(line, line + strcspn(line, "\n"), &is_dir, name, sizeof name))
            snprintf(f->headers[f->nheaders++], sizeof f->headers[0], "%s", name);
    fclose(in);
    if (f->nheaders == 0) {
        snprintf(why, why_len, "%s includes nothing", f->header);
        return -1;
    }
    return 0;
}

/* Lists DIR/codegate-pch.h.gch/<variant>.gch. 0 or -1. */
static int read_variants(cxxfast_t *f, char *why, size_t why_len)
{
    char gch[PATH_MAX + 8];
    struct dirent *e;
    DIR *d;

    snprintf(gch, sizeof gch, "%s.gch", f->header);
    d = opendir(gch);
    if (!d) {
        snprintf(why, why_len, "no precompiled header %s: %m", gch);
        return -1;
    }
    while ((e = readdir(d)) && f->nvariants < CXXFAST_MAX_VARIANTS) {
        size_t n = strlen(e->d_name);
        if (n > 4 && n - 4 < sizeof f->variants[0] && !strcmp(e->d_name + n - 4, ".gch"))
            snprintf(f->variants[f->nvariants++], sizeof f->variants[0], "%.*s", (int)(n - 4),
                     e->d_name);
    }
    closedir(d);
    if (f->nvariants == 0) {
        snprintf(why, why_len, "%s holds no .gch file", gch);
        return -1;
    }
    return 0;
}

void cxxfast_init(cxxfast_t *f, const char *const *tmpl, const char *pch_dir, char *why,
                  size_t why_len)
{
    char scratch[8];
    bool gxx = tmpl && tmpl[0] && strcmp(tmpl[0], "g++") == 0;

    memset(f, 0, sizeof *f);
    if (!why) {
        why = scratch;
        why_len = sizeof scratch;
    }
    why[0] = '\0';
    if (!tmpl || !tmpl[0])
        return;
    f->mold = (gxx || strcmp(tmpl[0], "gcc") == 0) && on_path("mold");
    if (!gxx || !pch_dir || !pch_dir[0])
        return;
    snprintf(f->header, sizeof f->header, "%s/%s", pch_dir, CXXFAST_HEADER);
    if (read_headers(f, why, why_len) != 0 || read_variants(f, why, why_len) != 0) {
        f->header[0] = '\0';
        f->nheaders = f->nvariants = 0;
    }
}

void cxxfast_set_run_dir(cxxfast_t *f, const char *dir)
{
    if (f->header[0])
        snprintf(f->header, sizeof f->header, "%s/%s", dir, CXXFAST_HEADER);
}

int cxxfast_options(const cxxfast_t *f, const char *const *tmpl, const char *const *opts,
                    const char *src, size_t len, bool no_pch, const char **out, bool *pch)
{
    int n = 0;

    *pch = false;
    for (; opts && opts[n] && n < LANG_MAX_OPTIONS; n++)
        out[n] = opts[n];
    if (f && f->mold)
        out[n++] = "-fuse-ld=mold";
    if (f && f->header[0] && !no_pch) {
        char v[64];
        cxxfast_variant(tmpl, opts, v, sizeof v);
        for (int i = 0; i < f->nvariants; i++)
            if (strcmp(f->variants[i], v) == 0) {
                *pch = cxxfast_source_fits((const char(*)[48])f->headers, f->nheaders, src, len);
                break;
            }
        if (*pch) {
            out[n++] = "-include";
            out[n++] = f->header;
        }
    }
    out[n] = NULL;
    return n;
}
