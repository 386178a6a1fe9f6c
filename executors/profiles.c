/*
 * profiles.c - what the executor does with its language's entry of the table (common/lang.c):
 * expands its command templates, asks its version, reads its out-of-memory markers.
 */
#include "profiles.h"

#include <stdio.h>
#include <string.h>

const profile_t *profile_find(const char *name)
{
    return lang_get(name);
}

int profile_sources(const profile_t *p, const cg_file_t *files, int nfiles, const char **out,
                    int max)
{
    const char *ext = strrchr(p->file, '.');
    int n = 0;

    if (max < 1)
        return -1;
    out[n++] = p->file;
    for (int i = 0; ext && i < nfiles; i++) {
        size_t len = strlen(files[i].name), el = strlen(ext);
        if (len <= el || strcmp(files[i].name + len - el, ext) != 0)
            continue;
        if (n >= max)
            return -1;
        out[n++] = files[i].name;
    }
    return n;
}

static int expand(const char *const *tmpl, const char *file, const char *dir, int mem_mb,
                  bool cgroup, const char *const *opts, const char *const *sources, int nsources,
                  const char **out, char *buf, size_t len);

int profile_expand(const char *const *tmpl, const char *file, const char *dir, int mem_mb,
                   const char *const *opts, const char **out, char *buf, size_t len)
{
    return expand(tmpl, file, dir, mem_mb, false, opts, NULL, 0, out, buf, len);
}

int profile_expand_run(const char *const *tmpl, const char *file, const char *dir, int mem_mb,
                       bool cgroup, const char *const *opts, const char **out, char *buf,
                       size_t len)
{
    return expand(tmpl, file, dir, mem_mb, cgroup, opts, NULL, 0, out, buf, len);
}

int profile_expand_sources(const char *const *tmpl, const char *file, const char *dir, int mem_mb,
                           const char *const *opts, const char *const *sources, int nsources,
                           const char **out, char *buf, size_t len)
{
    return expand(tmpl, file, dir, mem_mb, false, opts, sources, nsources, out, buf, len);
}

static int expand(const char *const *tmpl, const char *file, const char *dir, int mem_mb,
                  bool cgroup, const char *const *opts, const char *const *sources, int nsources,
                  const char **out, char *buf, size_t len)
{
    static const size_t nocg_len = sizeof PROFILE_NOCGROUP - 1;

    char mem[16];
    size_t used = 0;
    int n = 0;

    snprintf(mem, sizeof mem, "%d", mem_mb);
    for (int i = 0; tmpl[i]; i++) {
        const char *t = tmpl[i];
        if (!strncmp(t, PROFILE_NOCGROUP, nocg_len)) { /* a runtime's own memory cap */
            if (cgroup)
                continue;
            t += nocg_len;
        }
        if (!strcmp(t, "{options}")) { /* whole entries, as given; none when opts is NULL */
            for (int j = 0; opts && opts[j]; j++) {
                if (n >= PROFILE_MAX_ARGV - 1)
                    return -1;
                out[n++] = opts[j];
            }
            continue;
        }
        if (n >= PROFILE_MAX_ARGV - 1)
            return -1;
        if (!strcmp(t, "{sources}")) { /* a whole argument: one entry per source */
            if (!sources) {
                out[n++] = file;
                continue;
            }
            if (n + nsources >= PROFILE_MAX_ARGV)
                return -1;
            for (int k = 0; k < nsources; k++)
                out[n++] = sources[k];
            continue;
        }
        if (!strchr(t, '{')) {
            out[n++] = t;
            continue;
        }
        out[n++] = buf + used;
        while (*t) {
            const char *val = NULL;
            size_t skip = 1, vlen;
            if (!strncmp(t, "{file}", 6))
                val = file, skip = 6;
            else if (!strncmp(t, "{mem}", 5))
                val = mem, skip = 5;
            else if (!strncmp(t, "{dir}", 5))
                val = dir, skip = 5;
            vlen = val ? strlen(val) : 1;
            if (used + vlen + 1 > len)
                return -1;
            memcpy(buf + used, val ? val : t, vlen);
            used += vlen;
            t += skip;
        }
        buf[used++] = '\0';
    }
    out[n] = NULL;
    return n;
}

int profile_version(const profile_t *p, char *out, size_t len)
{
    /* The same PATH as the runs get (runner.c), so the version is that of what runs. */
    char cmd[256] = "PATH=/usr/local/bin:/usr/bin:/bin ", line[256] = "";
    FILE *f;

    for (int i = 0; p->version_cmd[i]; i++) {
        strncat(cmd, p->version_cmd[i], sizeof cmd - strlen(cmd) - 2);
        strncat(cmd, " ", sizeof cmd - strlen(cmd) - 1);
    }
    strncat(cmd, "2>&1", sizeof cmd - strlen(cmd) - 1);
    f = popen(cmd, "r");
    if (!f)
        return -1;
    if (!fgets(line, sizeof line, f))
        line[0] = '\0';
    if (pclose(f) != 0 || !line[0])
        return -1;
    line[strcspn(line, "\r\n")] = '\0';
    /* The last word, without a leading 'v': "Python 3.11.2" -> "3.11.2", "v18.19.0" -> "18.19.0" */
    const char *w = strrchr(line, ' ');
    w = w ? w + 1 : line;
    if (*w == 'v')
        w++;
    snprintf(out, len, "%s", w);
    return 0;
}

bool profile_is_oom(const profile_t *p, const char *err)
{
    for (int i = 0; err && p->oom_markers[i]; i++)
        if (strstr(err, p->oom_markers[i]))
            return true;
    return false;
}
