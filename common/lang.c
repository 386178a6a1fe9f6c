/*
 * lang.c - the language table (see lang.h): data only, and the look-ups by name.
 *
 * Memory: a run is limited by what it really uses, in its slot's memory cgroup (runner.c, when
 * the executor runs as root). Only where there is no cgroup do Python and C++ run under
 * RLIMIT_AS: memoryMb plus headroom for the interpreter's or the C++ runtime's own mappings
 * (as_extra_mb) plus room for 16 threads' stacks (runner_fallback_as_mb). Node reserves large
 * virtual ranges for V8 and cannot start under a small RLIMIT_AS: without a cgroup its heap
 * is bounded with --max-old-space-size instead (only there: see js_run), and the container's
 * memory limit is the backstop.
 * Python runs unbuffered (-u) so that output written before a timeout or a crash is kept,
 * without PYTHON* variables (-E) and the user site (-s), with its own directory as sys.path[0]
 * as a fresh `python3 main.py` has it, so that the files given with the program import.
 * Matplotlib draws with a tiny backend module written next to main.py (the preload, named by
 * MPLBACKEND): Agg, and plt.show() saves the open figures into out/. It is imported only by a
 * program that imports matplotlib.pyplot, so other programs pay nothing for it. Matplotlib
 * wants a writable cache dir (HOME/.cache/matplotlib, in the work dir) and builds its font list
 * there on first import - a second or more. The images and install-deps.sh build that list once
 * into LANG_MPL_CACHE_DIR (read-only for runs), and the executor copies it (~35 KB) into each
 * run's cache dir (home_seed: executors/homeseed.c).
 *
 * Where the executor has build/launcher-py, a run forks from the slot's pre-initialised
 * interpreter instead of starting one (executors/launcher_zygote.c): same flags, same sys.path,
 * same behaviour (a run with options execs python3).
 *
 * C++ compiles every given file with the entry file's extension ({sources}: profiles.c).
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
 *
 * Node is the official build pinned in scripts/node.lock (scripts/install-node.sh), at the same
 * path on the host and in the image. What a start costs beyond a bare `node main.js` (~29 ms of
 * CPU, 22.23): any V8 flag makes V8 reject the code cache that Node's built-in snapshot carries
 * for ~25 internal modules (the cache is tied to the flags' hash; NODE_DEBUG_NATIVE=CODE_CACHE
 * shows it), ~5 ms; the preload ~1 ms. The flags stay: without them a program's heap would not
 * follow memoryMb and its stack would hold a sixth of the frames. A startup snapshot built with
 * the flags (--build-snapshot; its code cache is then accepted) costs more to load than it saves
 * (~36 ms), and NODE_COMPILE_CACHE has nothing to cache across runs but the program itself.
 *
 * C is compiled like C++ (gcc, C11, -O2, libm linked) by executors of its own (--language c)
 * that run from the C++ image (.image = "cpp"): languages map to executors one to one, images
 * may serve several languages. Strict C11 hides POSIX functions (strdup, getline) unless the
 * program asks for them; a call to an undeclared function is an error, as in GCC 14, not an
 * int-returning guess that crashes at run time when it returns a pointer.
 *
 * Java: the compile step runs the helper (common/lang_java.c, written next to Main.java) in
 * the JDK's source-file mode. It compiles every .java file of the work dir in memory, so the
 * public class need not be named after its file, finds the class with public static void
 * main(String[]) (a compile error that says so when there is none) and writes the classes and
 * its own run part into main.jar, the one file the compile cache keeps. A run starts the
 * helper's Run from main.jar, which runs that main(). The JVM reserves gigabytes of address space,
 * so it never runs under RLIMIT_AS: the slot's memory cgroup limits it, and -Xmx (the heap) and
 * MaxRAM (the JVM's own sizing) follow memoryMb, so that a heap hog ends with
 * java.lang.OutOfMemoryError (memory_limit) before the cgroup's limit. The program's main() runs in
 * a thread with a 64 MiB stack (deep recursion); other threads keep the JVM's 1 MiB (where there is
 * no cgroup, every thread stack counts against RLIMIT_DATA). The serial collector and two JIT
 * threads keep the thread count within the slot's process limit and start-up short; -Xshare:auto
 * maps the JDK's class-data-sharing archive. Interactive runs keep pipes: the helper flushes stdout
 * before every read of stdin (as C stdio does at a terminal), so a prompt printed with
 * System.out.print() shows before the input it asks for.
 *
 * Options: a request may add compiler or interpreter flags ("options": ["-std=c++20", "-O0"]),
 * only values of its language's allow-list (lang_t.options), each exactly as listed - never a
 * prefix match, so no value can smuggle a file name or a second flag. They take the place of
 * "{options}" in the template, after the defaults they override. lang_options_check() is the
 * one validator; the gateway runs it on the request and the executor again on the EXECUTE frame.
 */
#include "lang.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const py_run[] = {"python3", "-E", "-s", "-u", "{options}", "{file}", NULL};
/* Python's warning filters: errors make a DeprecationWarning fail the run (-W is repeatable,
 * but one action for all warnings is what a class needs). */
static const lang_option_t py_options[] = {{"-Werror", "-W"},   {"-Wignore", "-W"},
                                           {"-Wdefault", "-W"}, {"-Walways", "-W"},
                                           {"-Wonce", "-W"},    {NULL, NULL}};
static const char *const py_version[] = {"python3", "--version", NULL};
#define PY_MPL_BACKEND "_codegate_mpl"
static const char *const py_env[] = {"PYTHONDONTWRITEBYTECODE=1", "PYTHONIOENCODING=utf-8",
                                     "MPLBACKEND=module://" PY_MPL_BACKEND, NULL};
static const char py_preload[] =
    "# codegate: matplotlib's backend here. Figures are drawn with Agg (no display);\n"
    "# plt.show() saves every open figure into out/ as figure-<n>.png and closes it.\n"
    "import os\n"
    "from matplotlib import _pylab_helpers\n"
    "from matplotlib.backend_bases import FigureManagerBase as FigureManager\n"
    "from matplotlib.backends.backend_agg import FigureCanvasAgg as FigureCanvas\n"
    "\n"
    "_out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'out')\n"
    "_shown = 0\n"
    "\n"
    "\n"
    "def show(*args, **kwargs):\n"
    "    global _shown\n"
    "    for manager in _pylab_helpers.Gcf.get_all_fig_managers():\n"
    "        _shown += 1\n"
    "        os.makedirs(_out, exist_ok=True)\n"
    "        manager.canvas.figure.savefig(os.path.join(_out, 'figure-%d.png' % _shown))\n"
    "    _pylab_helpers.Gcf.destroy_all()\n";
static const char *const py_oom[] = {"MemoryError", NULL};

#define JS_PRELOAD ".codegate-stdio.js"
/* The pinned official Node (scripts/node.lock), at the same place on the host (installed by
 * scripts/install-node.sh) and in the javascript image (docker/Dockerfile.javascript). */
#define JS_NODE "/usr/local/lib/codegate/node/bin/node"
/* No V8 flag where the slot's memory cgroup bounds the run: any V8 flag makes V8 refuse Node's
 * built-in code cache (its flag hash differs), which costs ~5 ms of every start. The heap then
 * follows Node's own defaults and the cgroup ends a run that outgrows memoryMb, as for every
 * other language; without a cgroup (the unprivileged runtime) the heap is capped by the flag.
 * The stack is Node's default (984 KiB, ~10,000 frames); --stack-size=4096 is an option. */
static const char *const js_run[] = {JS_NODE,
                                     LANG_NOCGROUP "--max-old-space-size={mem}",
                                     "{options}",
                                     "--require",
                                     "{dir}/" JS_PRELOAD,
                                     "{file}",
                                     NULL};
/* Node's counterpart of Python's -W: what a DeprecationWarning does. */
static const lang_option_t js_options[] = {{"--stack-size=4096", "stack"},
                                           {"--throw-deprecation", "deprecation"},
                                           {"--no-deprecation", "deprecation"},
                                           {"--trace-deprecation", "deprecation"},
                                           {NULL, NULL}};
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
static const char *const js_version[] = {JS_NODE, "--version", NULL};
static const char *const js_env[] = {"NODE_OPTIONS=", "NO_COLOR=1", NULL};
static const char *const js_oom[] = {"heap out of memory", "Allocation failed", "allocation failed",
                                     "Cannot allocate memory", NULL};

/* A request's options come after the defaults: GCC takes the last -std= and -O. */
static const char *const cpp_compile[] = {"g++", "-std=c++17", "-O2",       "-pipe", "{options}",
                                          "-o",  "main",       "{sources}", NULL};
/* What a request may ask of g++. Nothing that names a file or directory (-o, -I, -L, -B,
 * -include, @file, -specs=, -wrapper, -fplugin=: the compiler would read or write where the
 * program's author says), nothing that loads code into the compiler, and no -fsanitize=:
 * ASan reserves terabytes of address space (the fallback RLIMIT_AS refuses it), LeakSanitizer
 * needs ptrace, which the sandbox forbids, and both multiply memory and time, so the verdicts
 * (memory_limit, timeout) would describe the sanitizer rather than the program. */
static const lang_option_t cpp_options[] = {{"-std=c++20", "-std"}, {"-std=c++17", "-std"},
                                            {"-std=c++14", "-std"}, {"-std=c++11", "-std"},
                                            {"-O0", "-O"},          {"-O1", "-O"},
                                            {"-O2", "-O"},          {"-O3", "-O"},
                                            {"-Wall", NULL},        {"-Wextra", NULL},
                                            {"-Werror", NULL},      {"-pedantic", NULL},
                                            {"-g", NULL},           {NULL, NULL}};
static const char *const cpp_run[] = {"./main", NULL};
static const char *const cpp_version[] = {"g++", "-dumpfullversion", NULL};
static const char *const cpp_env[] = {NULL};
static const char *const cpp_oom[] = {"std::bad_alloc", NULL};

static const char *const c_compile[] = {
    "gcc",  "-std=c11",  "-O2", "-pipe", "-Werror=implicit-function-declaration", "{options}", "-o",
    "main", "{sources}", "-lm", NULL};
/* What a request may ask of gcc: the C++ list's kinds (see cpp_options), C's dialects. */
static const lang_option_t c_options[] = {
    {"-std=c17", "-std"}, {"-std=c11", "-std"}, {"-std=c99", "-std"}, {"-O0", "-O"},
    {"-O1", "-O"},        {"-O2", "-O"},        {"-O3", "-O"},        {"-Wall", NULL},
    {"-Wextra", NULL},    {"-Werror", NULL},    {"-pedantic", NULL},  {"-g", NULL},
    {NULL, NULL}};
static const char *const c_version[] = {"gcc", "-dumpfullversion", NULL};
static const char *const c_oom[] = {NULL};

/* Java: see "Java" above. The helper is named relative to the work dir (the compile runs
 * there) so that the compile command, and with it the cache key, is the same for every job. */
#define JAVA_HELPER ".codegate-java.java"
static const char *const java_compile[] = {"java",
                                           "-XX:+UseSerialGC",
                                           "-XX:TieredStopAtLevel=1",
                                           "-XX:-UsePerfData",
                                           "-Xshare:auto",
                                           "-Xmx512m",
                                           JAVA_HELPER,
                                           "{options}",
                                           NULL};
static const char *const java_run[] = {"java",
                                       "-Xmx{mem}m",
                                       "-XX:MaxRAM={mem}m",
                                       "-XX:+UseSerialGC",
                                       "-XX:CICompilerCount=2",
                                       "-XX:-UsePerfData",
                                       "-Xshare:auto",
                                       "{options}",
                                       "-cp",
                                       "main.jar",
                                       "codegate.Run",
                                       NULL};
/* Preview language features: given to javac (with --release, by the helper) and to the JVM. */
static const lang_option_t java_options[] = {{"--enable-preview", NULL}, {NULL, NULL}};
static const char *const java_version[] = {"javac", "-version", NULL};
static const char *const java_env[] = {NULL};
static const char *const java_oom[] = {"java.lang.OutOfMemoryError", NULL};

static const char *const py_aliases[] = {"py", "python3", NULL};
static const char *const js_aliases[] = {"js", "node", "nodejs", NULL};
static const char *const cpp_aliases[] = {"c++", "cxx", NULL};
static const char *const c_aliases[] = {"c11", "gcc", NULL};
static const char *const java_aliases[] = {"java17", "jdk", NULL};

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
        .preload_file = PY_MPL_BACKEND ".py",
        .preload = py_preload,
        .home_seed = LANG_MPL_CACHE_DIR,
        .home_seed_to = ".cache/matplotlib",
        .as_extra_mb = 64,
        .pty = LANG_PTY_NONE,
        .options = py_options,
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
        .options = js_options,
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
        .options = cpp_options,
    },
    {
        .name = "c",
        .image = "cpp", /* GCC is in the C++ image: its own executors, the same image */
        .display = "C",
        .runtime = "gcc",
        .aliases = c_aliases,
        .file = "main.c",
        .compile = c_compile,
        .run = cpp_run,
        .version_cmd = c_version,
        .env = cpp_env,
        .oom_markers = c_oom,
        .binary = "main",
        .compile_timeout_ms = LANG_COMPILE_TIMEOUT_MS,
        .as_extra_mb = 16,
        .pty = LANG_PTY_INOUT,
        .options = c_options,
    },
    {
        .name = "java",
        .display = "Java",
        .runtime = "OpenJDK",
        .aliases = java_aliases,
        .file = "Main.java",
        .compile = java_compile,
        .run = java_run,
        .version_cmd = java_version,
        .env = java_env,
        .oom_markers = java_oom,
        .binary = "main.jar",
        .preload_file = JAVA_HELPER,
        .preload = lang_java_helper,
        .compile_timeout_ms = LANG_COMPILE_TIMEOUT_MS,
        .as_extra_mb = -1,
        .pty = LANG_PTY_NONE,
        .options = java_options,
    },
};

const char *lang_image(const lang_t *l)
{
    return l->image ? l->image : l->name;
}

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

static const lang_option_t *option_find(const lang_t *l, const char *v)
{
    for (const lang_option_t *o = l->options; o && o->value; o++)
        if (strcmp(o->value, v) == 0)
            return o;
    return NULL;
}

int lang_options_check(const lang_t *l, const char *const *opts, int n, int *bad, char *msg,
                       size_t len)
{
    *bad = -1;
    if (n < 0 || n > LANG_MAX_OPTIONS) {
        snprintf(msg, len, "at most %d options", LANG_MAX_OPTIONS);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        const lang_option_t *o = opts[i] ? option_find(l, opts[i]) : NULL;
        *bad = i;
        if (!o) {
            snprintf(msg, len, "\"%.*s\" is not an option %s accepts", LANG_OPTION_MAX_BYTES,
                     opts[i] ? opts[i] : "(null)", l->name);
            return -1;
        }
        for (int j = 0; j < i; j++) {
            const lang_option_t *p = option_find(l, opts[j]);
            if (p == o) {
                snprintf(msg, len, "\"%s\" is given twice", o->value);
                return -1;
            }
            if (o->group && p->group && strcmp(o->group, p->group) == 0) {
                snprintf(msg, len, "\"%s\" and \"%s\" are both %s options: give one at most",
                         p->value, o->value, o->group);
                return -1;
            }
        }
    }
    *bad = -1;
    return 0;
}

const char *lang_options_allowed(const lang_t *l, char *buf, size_t len)
{
    size_t used = 0;

    if (len == 0)
        return buf;
    snprintf(buf, len, "%s", l->options && l->options[0].value ? "" : "none");
    for (const lang_option_t *o = l->options; o && o->value; o++) {
        int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", o->value);
        if (n < 0 || (size_t)n >= len - used) {
            buf[used] = '\0'; /* whole entries only */
            break;
        }
        used += (size_t)n;
    }
    return buf;
}
