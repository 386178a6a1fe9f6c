/*
 * lang.c - the language table (see lang.h): data only, and the look-ups by name.
 *
 * Memory: a run is limited by what it really uses, in its slot's memory cgroup (runner.c, when
 * the executor runs as root). Only where there is no cgroup do Python and C++ run under
 * RLIMIT_AS: memoryMb plus headroom for the interpreter's or the C++ runtime's own mappings
 * (as_extra_mb) plus room for 16 threads' stacks (runner_fallback_as_mb). Node reserves large
 * virtual ranges for V8 and cannot start under a small RLIMIT_AS: its heap is bounded with
 * --max-old-space-size as well, and without a cgroup the container's memory limit is the
 * backstop.
 * Python runs unbuffered (-u) so that output written before a timeout or a crash is kept, with
 * no PYTHON* variables (-E) and no user site (-s); the script's dir is sys.path[0], as for any
 * `python3 main.py`, so that files given next to main.py import. Where the executor has
 * build/launcher-py, a run forks from the slot's pre-initialised interpreter instead of
 * starting one (executors/launcher_zygote.c): same flags, same sys.path, same behaviour.
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
#include "lang.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const py_run[] = {"python3", "-E", "-s", "-u", "{file}", NULL};
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

static const char *const py_aliases[] = {"py", "python3", NULL};
static const char *const js_aliases[] = {"js", "node", "nodejs", NULL};
static const char *const cpp_aliases[] = {"c++", "cxx", NULL};

const lang_t lang_table[LANG_COUNT] = {
    {
        .name = "python",
        .display = "Python",
        .runtime = "Python",
        .aliases = py_aliases,
        .file = "main.py",
        .run = py_run,
        .version_cmd = py_version,
        .env = py_env,
        .oom_markers = py_oom,
        .as_extra_mb = 64,
        .pty = LANG_PTY_NONE,
        .zygote = 1,
    },
    {
        .name = "javascript",
        .display = "JavaScript",
        .runtime = "Node.js",
        .aliases = js_aliases,
        .file = "main.js",
        .run = js_run,
        .version_cmd = js_version,
        .env = js_env,
        .oom_markers = js_oom,
        .preload_file = JS_PRELOAD,
        .preload = js_preload,
        .as_extra_mb = -1,
        .pty = LANG_PTY_IN,
    },
    {
        .name = "cpp",
        .display = "C++",
        .runtime = "g++",
        .aliases = cpp_aliases,
        .file = "main.cpp",
        .compile = cpp_compile,
        .run = cpp_run,
        .version_cmd = cpp_version,
        .env = cpp_env,
        .oom_markers = cpp_oom,
        .binary = "main",
        .compile_timeout_ms = LANG_COMPILE_TIMEOUT_MS,
        .as_extra_mb = 16,
        .pty = LANG_PTY_INOUT,
    },
};

int lang_index(const char *name)
{
    for (int i = 0; name && i < LANG_COUNT; i++)
        if (strcmp(lang_table[i].name, name) == 0)
            return i;
    return -1;
}

const lang_t *lang_get(const char *name)
{
    int i = lang_index(name);

    return i < 0 ? NULL : &lang_table[i];
}

const lang_t *lang_find(const char *name)
{
    for (int i = 0; name && i < LANG_COUNT; i++) {
        if (strcasecmp(name, lang_table[i].name) == 0)
            return &lang_table[i];
        for (const char *const *a = lang_table[i].aliases; *a; a++)
            if (strcasecmp(name, *a) == 0)
                return &lang_table[i];
    }
    return NULL;
}

const char *lang_names(char *buf, size_t len, const char *sep, const char *last)
{
    size_t used = 0;

    if (len == 0)
        return buf;
    buf[0] = '\0';
    for (int i = 0; i < LANG_COUNT; i++) {
        const char *join = i == 0 ? "" : i == LANG_COUNT - 1 ? last : sep;
        int n = snprintf(buf + used, len - used, "%s%s", join, lang_table[i].name);
        if (n < 0 || (size_t)n >= len - used) {
            buf[used] = '\0'; /* whole names only */
            break;
        }
        used += (size_t)n;
    }
    return buf;
}
