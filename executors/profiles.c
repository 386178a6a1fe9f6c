/*
 * profiles.c - the language table (see profiles.h).
 *
 * Memory: a run is limited by what it really uses, in its slot's memory cgroup (runner.c, when
 * the executor runs as root). Only where there is no cgroup do Python and C++ run under
 * RLIMIT_AS: memoryMb plus headroom for the interpreter's or the C++ runtime's own mappings
 * (as_extra_mb) plus room for 16 threads' stacks (runner_fallback_as_mb). Node reserves large
 * virtual ranges for V8 and cannot start under a small RLIMIT_AS: its heap is bounded with
 * --max-old-space-size as well, and without a cgroup the container's memory limit is the
 * backstop.
 * Python runs unbuffered (-u) so that output written before a timeout or a crash is kept, and
 * isolated (-I: no user site, no PYTHON* variables, no script dir on sys.path).
 *
 * Interactive runs: C++ gets a pseudo-terminal as stdin and stdout, because C stdio buffers a
 * pipe fully and flushes a line-buffered stdout before reading only when stdin is a terminal
 * (printf("n? "); scanf(...) shows its prompt only then). Node gets one as stdin only: its
 * readline then ends the program on rl.close() as at a terminal, while a pipe as stdout keeps
 * readline out of terminal mode (no escape sequences). Python (-u) keeps pipes: with terminals
 * input() would write its prompt to stderr.
 *
 * Output: C, C++ and Python write to their stdout pipe with blocking write()s, so a program
 * that writes faster than the executor reads waits in write() and the output cap stops it.
 * Node does not: its stdout on a pipe is non-blocking, a write that finds the pipe full is
 * queued in the process's memory, and a loop of console.log() never returns to the event loop
 * that would flush the queue - the output stops reaching us, memory grows until the heap limit
 * (SIGABRT, "memory_limit") or the wall clock ends the run. So every Node run loads a preload
 * (written into the work dir next to main.js) that makes stdout and stderr blocking, as they
 * are on a terminal or a file: a flood then blocks on its pipe and ends "output_limit". The
 * streams are wrapped, not touched, so a program that never uses stderr does not pay for it.
 * The preload is named by its absolute path: a child started with fork() inherits the option
 * (process.execArgv) and may run in another directory.
 */
#include "profiles.h"

#include <stdio.h>
#include <string.h>

static const char *const py_run[] = {"python3", "-I", "-u", "{file}", NULL};
static const char *const py_version[] = {"python3", "--version", NULL};
static const char *const py_env[] = {"PYTHONDONTWRITEBYTECODE=1", "PYTHONIOENCODING=utf-8", NULL};
static const char *const py_oom[] = {"MemoryError", NULL};

#define JS_PRELOAD ".codegate-stdio.js"
static const char *const js_run[] = {"node",      "--max-old-space-size={mem}", "--stack-size=4096",
                                     "--require", "{dir}/" JS_PRELOAD,          "{file}",
                                     NULL};
static const char js_preload[] =
    "'use strict';\n"
    "// codegate: stdout and stderr block when their pipe is full (see the executor's\n"
    "// profiles.c), so that output cannot pile up in this process's memory.\n"
    "for (const name of ['stdout', 'stderr']) {\n"
    "  const d = Object.getOwnPropertyDescriptor(process, name);\n"
    "  if (!d || typeof d.get !== 'function' || !d.configurable) continue;\n"
    "  let done = false;\n"
    "  Object.defineProperty(process, name, {\n"
    "    configurable: true, enumerable: d.enumerable,\n"
    "    get() {\n"
    "      const s = d.get.call(this);\n"
    "      if (!done) {\n"
    "        done = true;\n"
    "        const h = s && s._handle;\n"
    "        if (h && typeof h.setBlocking === 'function') h.setBlocking(true);\n"
    "      }\n"
    "      return s;\n"
    "    },\n"
    "  });\n"
    "}\n";
static const char *const js_version[] = {"node", "--version", NULL};
static const char *const js_env[] = {"NODE_OPTIONS=", "NO_COLOR=1", NULL};
static const char *const js_oom[] = {"heap out of memory", "Allocation failed", "allocation failed",
                                     "Cannot allocate memory", NULL};

static const char *const cpp_compile[] = {"g++", "-std=c++17", "-O2",    "-pipe",
                                          "-o",  "main",       "{file}", NULL};
static const char *const cpp_run[] = {"./main", NULL};
static const char *const cpp_version[] = {"g++", "-dumpfullversion", NULL};
static const char *const cpp_env[] = {NULL};
static const char *const cpp_oom[] = {"std::bad_alloc", NULL};

static const profile_t profiles[] = {
    {"python", "main.py", NULL, py_run, py_version, 64, py_env, py_oom, PROFILE_PTY_NONE, NULL,
     NULL, NULL},
    {"javascript", "main.js", NULL, js_run, js_version, -1, js_env, js_oom, PROFILE_PTY_IN, NULL,
     JS_PRELOAD, js_preload},
    {"cpp", "main.cpp", cpp_compile, cpp_run, cpp_version, 16, cpp_env, cpp_oom, PROFILE_PTY_INOUT,
     "main", NULL, NULL},
};

const profile_t *profile_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof profiles / sizeof profiles[0]; i++)
        if (strcmp(profiles[i].name, name) == 0)
            return &profiles[i];
    return NULL;
}

int profile_expand(const char *const *tmpl, const char *file, const char *dir, int mem_mb,
                   const char **out, char *buf, size_t len)
{
    char mem[16];
    size_t used = 0;
    int n = 0;

    snprintf(mem, sizeof mem, "%d", mem_mb);
    for (; tmpl[n]; n++) {
        const char *t = tmpl[n];
        if (n >= PROFILE_MAX_ARGV - 1)
            return -1;
        if (!strchr(t, '{')) {
            out[n] = t;
            continue;
        }
        out[n] = buf + used;
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
