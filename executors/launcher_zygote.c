/*
 * launcher_zygote.c - the Python zygote of build/launcher-py: the slot's launcher starts the
 * interpreter once, and each Python run forks from it instead of starting python3 again.
 *
 * Theory of operation
 * -------------------
 * build/launcher-py is build/launcher plus this file, linked with Debian's libpython3.11 (the
 * plain launcher links launcher_nozygote.c instead). When it serves a slot, after it has joined
 * the slot's cgroups and namespaces and become pid 1 of the slot's pid namespace, and before
 * any run, launcher_zygote_init() initialises CPython exactly as `python3 -E -s -u` starts: no
 * PYTHON* variables, no user site, unbuffered stdio, the environment a run gets (PATH, LANG),
 * the same executable, prefix and sys.path, site and its .pth files, signal handlers. Start-up
 * state that depends on the run (os.environ, site.USER_BASE/USER_SITE from HOME, sys.argv,
 * sys.path[0], the stdio objects) is made again in the child. No user code ever runs in this
 * process; it only holds the interpreter's initial state (the pages are
 * charged to the slot's memory cgroup, as a starting python3's were), and it never runs
 * anything else: the interpreter does not run between runs, so every run forks from the same
 * clean state, never from a used process.
 *
 * A run request that says it may use the zygote (runreq_t.zygote: the language entry's
 * `zygote`) and whose argv is the language's own run command (python3 -E -s -u FILE ARGS...;
 * any other option means exec) is forked as every run is (launcher.c): the child does today's
 * whole sandbox set-up (launcher_child.c: rlimits, cgroup, groups/gid/uid drop, cwd as that
 * uid, no_new_privs, parent-death signal, every fd above 2 closed, seccomp) and then, instead
 * of execve, launcher_zygote_run(): PyOS_AfterFork_Child(); the environment, sys.argv,
 * sys.orig_argv, os.environ and sys.path[0] (the script's real directory) of the run; stdin,
 * stdout and stderr made again as start-up makes them (their first objects were made for
 * /dev/null: seekability and buffer sizes are cached); the signal dispositions Python sets at
 * start (SIGINT -> KeyboardInterrupt, SIGPIPE and SIGXFSZ ignored) restored after the child's
 * reset to defaults; the error pipe closed (the run has started); then main.py runs through
 * the same calls as python3's own main (Modules/main.c pymain_run_file, Py_RunMain):
 * PyRun_AnyFileExFlags as __main__ with __file__ the absolute path, SystemExit and tracebacks
 * by PyErr_Print, atexit and flushing by Py_FinalizeEx (120 when that fails), an unhandled
 * KeyboardInterrupt ends the process by SIGINT.
 *
 * What differs from a fresh interpreter, and why that is acceptable (docs/SECURITY.md):
 * - the str/bytes hash seed is drawn once per zygote, so runs of one slot share it until the
 *   launcher is restarted: hash() values and set iteration order repeat between runs of a slot.
 *   It protects a process against hash flooding by its input; here input comes from the same
 *   student who writes the program, and the seed says nothing about any other run's data. It
 *   cannot be changed after the start (the interned strings and module dicts are keyed by it).
 * - already imported modules are those python3 imports at start, no more: `random` and
 *   everything else seeded at import is imported, and seeded, in the run.
 * - the start-up objects are frozen for the collector (gc.get_freeze_count() is not 0, and
 *   gc.get_objects() leaves them out): runs do not copy their pages when they collect.
 * - /proc/self/exe and /proc/self/maps show launcher-py and libpython3.11.so (the process name,
 *   /proc/self/cmdline and /proc/self/environ are the run's: set_proc_args()).
 * A fork starts with a copy of the launcher's memory where an exec starts empty, so nothing of
 * an earlier run may be left in it: freed heap memory is overwritten (M_PERTURB from start-up
 * on), requests are wiped after each run (launcher_serve.c), the child wipes the stack below it
 * (wipe_stack_below), and the executor's environment strings are wiped at start.
 *
 * If the interpreter cannot start here, the launcher says so once on stderr and every run
 * falls back to exec of the run command; the executor does not pick launcher-py at all when
 * `launcher-py --zygote-probe` fails (executors/main.c).
 *
 * Threads: the launcher is single-threaded; the interpreter's main thread state stays with
 * it (the GIL is held from initialisation on) and each child takes it over after the fork.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/prctl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "lang.h"
#include "launcher.h"

/* Set by CPython when a run ended in an unhandled KeyboardInterrupt (Python/pythonrun.c); its
 * own main reads it the same way (Modules/main.c Py_RunMain). Exported by libpython3.11. */
extern int _Py_UnhandledKeyboardInterrupt;

/* The run command the zygote stands for: the language's template up to "{file}". */
static const char *const *zy_cmd;
static int zy_ncmd = -1;
static PyObject *zy_boot; /* the boot function below, compiled once at start-up */
static bool zy_ready;
static bool zy_child; /* this process is a run (LeakSanitizer, see below) */

/* Run in the child, before main.py: the run's environment, argv, sys.path[0], stdio and
 * signal dispositions, made as a starting python3 makes them. Returns main.py's absolute path
 * (bytes, as python3's config makes it absolute: cwd + "/" + script). Only modules that start-up
 * imports are used. */
static const char zy_boot_src[] =
    "def boot(argv, orig_argv, env):\n"
    "    import sys, os, io, posix, _signal\n"
    "    os.environ.clear()\n"
    "    posix.environ.clear()\n"
    "    for kv in env:\n"
    "        k, _, v = kv.partition(b'=')\n"
    "        posix.environ[k] = v\n"
    "        os.environ[os.fsdecode(k)] = os.fsdecode(v)\n"
    "    import site\n"
    "    site.USER_BASE = site.USER_SITE = None\n"
    "    site.getusersitepackages()\n"
    "    sys.argv = [os.fsdecode(a) for a in argv]\n"
    "    sys.orig_argv = [os.fsdecode(a) for a in orig_argv]\n"
    "    script = sys.argv[0]\n"
    "    sys.path.insert(0, os.path.dirname(os.path.realpath(script)))\n"
    "    path = script if script.startswith('/') else os.getcwd() + '/' + script\n"
    "    for fd, name in ((0, 'stdin'), (1, 'stdout'), (2, 'stderr')):\n"
    "        old = getattr(sys, '__' + name + '__')\n"
    "        w = fd != 0\n"
    "        buf = io.open(fd, 'wb' if w else 'rb', 0 if w else -1, closefd=False)\n"
    "        (buf if w else buf.raw).name = '<' + name + '>'\n"
    "        s = io.TextIOWrapper(buf, old.encoding, old.errors, '\\n', False, True)\n"
    "        s.mode = 'w' if w else 'r'\n"
    "        setattr(sys, name, s)\n"
    "        setattr(sys, '__' + name + '__', s)\n"
    "    _signal.signal(_signal.SIGINT, _signal.default_int_handler)\n"
    "    _signal.signal(_signal.SIGPIPE, _signal.SIG_IGN)\n"
    "    _signal.signal(_signal.SIGXFSZ, _signal.SIG_IGN)\n"
    "    return os.fsencode(path)\n";

/* LeakSanitizer (the sanitizer build): CPython keeps its objects in arenas it maps itself,
 * which LeakSanitizer does not scan, so what they reference looks leaked at exit; allocations
 * made inside libpython are not ours to judge (ours still are). A run's exit is not checked at
 * all: a python3 started by exec is not either. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libpython3\n";
}

const char *__lsan_default_options(void);
const char *__lsan_default_options(void)
{
    return "print_suppressions=0";
}

/* AddressSanitizer (the sanitizer build): a run is this process, so it must meet Python's
 * allocator and signals, not the sanitizer's: a failed allocation is MemoryError (NULL), not an
 * abort, and SIGSEGV, SIGBUS and SIGFPE keep the dispositions Python gives them. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    /* max_free_fill_size: freed memory is overwritten, as M_PERTURB does for glibc's malloc,
     * which the sanitizer's allocator replaces (what a fork must not carry over, above). */
    return "allocator_may_return_null=1:handle_segv=0:handle_sigbus=0:handle_sigfpe=0:"
           "max_free_fill_size=2147483647:free_fill_byte=90";
}

int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void)
{
    return zy_child;
}

/* The executable python3 resolves to in PATH (as the run's exec would find it): into out. */
static int find_python(const char *path, const char *name, char *out, size_t len)
{
    while (*path) {
        const char *end = strchr(path, ':');
        size_t n = end ? (size_t)(end - path) : strlen(path);
        snprintf(out, len, "%.*s/%s", (int)n, path, name);
        if (access(out, X_OK) == 0)
            return 0;
        path += n + (end ? 1 : 0);
    }
    return -1;
}

/* Is the python3 that runs would exec this libpython's own interpreter? (<prefix>/bin/pythonX.Y
 * after symlinks.) Else the zygote would run another Python than the exec path. */
static bool same_python(const char *exe)
{
    char real[PATH_MAX], want[PATH_MAX];

    if (!realpath(exe, real))
        return false;
    snprintf(want, sizeof want, "/bin/python%d.%d", PY_MAJOR_VERSION, PY_MINOR_VERSION);
    size_t n = strlen(real), w = strlen(want);
    return n > w && !strcmp(real + n - w, want);
}

const bool launcher_has_zygote = true;

/* This process is the slot's launcher like build/launcher: it is named so, in ps and for the
 * tools that find a slot's launcher by name (comm "launcher"; argv[0] ".../launcher", the
 * variant following as a first word "py"); /proc/<pid>/exe names the file. */
void launcher_zygote_rename(char **argv)
{
    char *base = argv[0] ? strrchr(argv[0], '/') : NULL;

    base = base ? base + 1 : argv[0];
    (void)prctl(PR_SET_NAME, "launcher", 0, 0, 0);
    if (base && !strcmp(base, "launcher-py"))
        base[strlen("launcher")] = '\0';
}

int launcher_zygote_init(const char **why)
{
    static const char run_path[] = "/usr/local/bin:/usr/bin:/bin"; /* runner_step.c's PATH */
    const lang_t *py = lang_get("python");
    char exe[PATH_MAX];
    PyStatus st;
    PyPreConfig pre;
    PyConfig c;

    *why = NULL;
    if (!py || !py->zygote) {
        *why = "the language table has no Python zygote entry";
        return -1;
    }
    zy_cmd = py->run;
    /* The fixed words before the first placeholder ({options} or {file}): a run whose argv
     * has them followed by the file, and no option between, is one the zygote can be. */
    for (zy_ncmd = 0; zy_cmd[zy_ncmd] && !strchr(zy_cmd[zy_ncmd], '{'); zy_ncmd++)
        ;
    if (!zy_cmd[zy_ncmd] || zy_ncmd < 1 || find_python(run_path, zy_cmd[0], exe, sizeof exe) ||
        !same_python(exe)) {
        *why = "python3 in the runs' PATH is not this libpython's interpreter";
        return -1;
    }
    /* Runs are forks of this process: what it held of earlier runs must not be in their
     * memory. Freed heap memory is overwritten (M_PERTURB; requests are also wiped where they
     * are kept: launcher_serve.c), the child wipes the stack below it (launcher_zygote_run),
     * and the executor's environment strings we started with are wiped here. */
    mallopt(M_PERTURB, 0x5a);
    for (char **e = environ; e && *e; e++)
        explicit_bzero(*e, strlen(*e));
    /* The environment a run starts with; nothing of the executor's reaches the interpreter.
     * HOME is per run (the work dir): site computes the user site from it at start even with
     * -s (and imports pwd without one), so boot computes it again with the run's HOME. */
    if (clearenv() != 0 || setenv("PATH", run_path, 1) != 0 || setenv("LANG", "C.UTF-8", 1) != 0 ||
        setenv("HOME", "/nonexistent", 1) != 0) {
        *why = "cannot set the environment";
        return -1;
    }
    PyPreConfig_InitPythonConfig(&pre);
    pre.use_environment = 0; /* -E */
    pre.parse_argv = 0;
    st = Py_PreInitialize(&pre);
    if (PyStatus_Exception(st)) {
        *why = st.err_msg ? st.err_msg : "Py_PreInitialize failed";
        return -1;
    }
    PyConfig_InitPythonConfig(&c);
    c.use_environment = 0;     /* -E */
    c.user_site_directory = 0; /* -s */
    c.buffered_stdio = 0;      /* -u */
    c.parse_argv = 0;
    c.safe_path = 0;
    c.install_signal_handlers = 1;
    st = PyConfig_SetBytesString(&c, &c.program_name, exe);
    if (!PyStatus_Exception(st))
        st = Py_InitializeFromConfig(&c);
    PyConfig_Clear(&c);
    if (PyStatus_Exception(st)) {
        *why = st.err_msg ? st.err_msg : "Py_InitializeFromConfig failed";
        return -1;
    }
    PyObject *g = PyDict_New();
    PyObject *r = g && PyDict_SetItemString(g, "__builtins__", PyEval_GetBuiltins()) == 0
                      ? PyRun_String(zy_boot_src, Py_file_input, g, g)
                      : NULL;
    zy_boot = r ? PyDict_GetItemString(g, "boot") : NULL;
    Py_XINCREF(zy_boot);
    Py_XDECREF(r);
    Py_XDECREF(g);
    if (!zy_boot) {
        PyErr_Clear();
        *why = "cannot compile the run's boot code";
        return -1;
    }
    /* The collector leaves the start-up objects alone from now on (gc.freeze(), made for
     * pre-fork servers): a run's collections, and the last one when it ends, would otherwise
     * touch every one of them and copy their pages (~2 ms of each print(1)). Only gc's own
     * introspection tells (gc.get_freeze_count(); gc.get_objects() leaves them out). gc is not
     * among the modules python3 imports at start: it is taken out of sys.modules again. */
    PyObject *gc = PyImport_ImportModule("gc");
    PyObject *fr = gc ? PyObject_CallMethod(gc, "freeze", NULL) : NULL;
    Py_XDECREF(fr);
    Py_XDECREF(gc);
    if (!fr || PyDict_DelItemString(PySys_GetObject("modules"), "gc") != 0)
        PyErr_Clear(); /* not frozen: only slower */
    zy_ready = true;
    return 0;
}

bool launcher_zygote_takes(const runreq_t *rq)
{
    if (!zy_ready || !rq->zygote || rq->nargv <= zy_ncmd || rq->argv[zy_ncmd][0] == '-')
        return false; /* a request's options (-W...): python3 is exec'd with them */
    for (int i = 0; i < zy_ncmd; i++)
        if (strcmp(rq->argv[i], zy_cmd[i]) != 0)
            return false;
    return true;
}

void launcher_zygote_before_fork(void)
{
    PyOS_BeforeFork();
}

void launcher_zygote_after_fork_parent(void)
{
    PyOS_AfterFork_Parent();
}

/* n strings joined, each with its NUL, in a new buffer (*len bytes), or NULL. */
static char *join_nul(const char *const *v, int n, size_t *len)
{
    size_t total = 0, off = 0;
    char *buf;

    for (int i = 0; i < n; i++)
        total += strlen(v[i]) + 1;
    if (!(buf = malloc(total ? total : 1)))
        return NULL;
    for (int i = 0; i < n; i++) {
        size_t k = strlen(v[i]) + 1;
        memcpy(buf + off, v[i], k);
        off += k;
    }
    *len = total;
    return buf;
}

/*
 * /proc/self/cmdline and /proc/self/environ of the run show its argv and environment, as an
 * exec'd python3's do (not the launcher's: ps, and whoever looks for a program by its command
 * line, see the program). PR_SET_MM_MAP moves the kernel's argument and environment ranges to
 * new copies; it needs no privilege as long as the executable stays the same (exe_fd -1), and
 * the other fields are the process's own (from /proc/self/stat). Best effort: on a kernel
 * without it, the launcher's are shown.
 */
static void set_proc_args(const runreq_t *rq)
{
    struct prctl_mm_map m;
    unsigned long long f[52] = {0};
    char stat[2048], *p;
    size_t alen = 0, elen = 0;
    ssize_t n;
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return;
    n = read(fd, stat, sizeof stat - 1);
    close(fd);
    if (n <= 0 || !(p = strrchr((stat[n] = '\0', stat), ')')))
        return;
    /* Fields from 3 on, after the command name in parentheses (proc(5)). */
    for (int i = 3; i <= 51 && *p; i++) {
        while (*p && *p != ' ')
            p++;
        while (*p == ' ')
            p++;
        f[i] = strtoull(p, NULL, 10);
    }
    char *args = join_nul(rq->argv, rq->nargv, &alen), *env = join_nul(rq->env, rq->nenv, &elen);
    if (!args || !env) {
        free(args);
        free(env);
        return;
    }
    memset(&m, 0, sizeof m);
    m.start_code = f[26];
    m.end_code = f[27];
    m.start_stack = f[28];
    m.start_data = f[45];
    m.end_data = f[46];
    m.start_brk = f[47];
    m.brk = (uintptr_t)sbrk(0);
    m.arg_start = (uintptr_t)args;
    m.arg_end = (uintptr_t)args + alen;
    m.env_start = (uintptr_t)env;
    m.env_end = (uintptr_t)env + elen;
    m.exe_fd = (uint32_t)-1;
    if (prctl(PR_SET_MM, PR_SET_MM_MAP, (unsigned long)&m, sizeof m, 0) != 0) {
        free(args);
        free(env);
    }
    /* else they are the process's own until it ends */
}

/* Overwrites the stack below the caller: what earlier, deeper calls of the launcher left
 * there (the clean-up's paths of an earlier run's files) is not the run's to read. */
__attribute__((noinline)) static void wipe_stack_below(void)
{
    volatile char pad[256 * 1024];

    explicit_bzero((char *)pad, sizeof pad);
}

/* A list of bytes objects from n C strings. New reference, or NULL. */
static PyObject *bytes_list(const char *const *s, int n)
{
    PyObject *l = PyList_New(n);

    for (int i = 0; l && i < n; i++) {
        PyObject *b = PyBytes_FromString(s[i]);
        if (!b) {
            Py_DECREF(l);
            return NULL;
        }
        PyList_SET_ITEM(l, i, b);
    }
    return l;
}

void launcher_zygote_run(const opts_t *o, int errfd)
{
    const runreq_t *rq = &o->rq;
    PyObject *argv, *orig, *env, *path = NULL;
    int rc;

    zy_child = true;
    wipe_stack_below();
    mallopt(M_PERTURB, 0); /* Python's own allocations as in any python3 */
    /* The name, command line and environment ps and /proc/self show, as the exec'd python3's;
     * dumpable as after an exec (the uid drop cleared it; the launcher is not): the run may
     * read its own /proc/self files, as any python3 can. */
    (void)prctl(PR_SET_NAME, "python3", 0, 0, 0);
    set_proc_args(rq);
    (void)prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    PyOS_AfterFork_Child();
    /* The run's own environment for C code as well (getenv, a subprocess's exec). */
    clearenv();
    argv = bytes_list(rq->argv + zy_ncmd, rq->nargv - zy_ncmd);
    orig = bytes_list(rq->argv, rq->nargv);
    env = bytes_list(rq->env, rq->nenv);
    if (argv && orig && env)
        path = PyObject_CallFunctionObjArgs(zy_boot, argv, orig, env, NULL);
    Py_XDECREF(argv);
    Py_XDECREF(orig);
    Py_XDECREF(env);
    if (!path || !PyBytes_Check(path)) {
        static const char msg[] = "zygote: cannot prepare the run";
        PyErr_Clear();
        (void)!write(errfd, msg, sizeof msg - 1);
        _exit(127);
    }
    /* The run has started: EOF on the error pipe, as a successful exec gives. */
    close(errfd);
    const char *file = PyBytes_AS_STRING(path);
    FILE *fp = fopen(file, "rb");
    if (!fp) {
        int e = errno;
        fprintf(stderr, "%s: can't open file '%s': [Errno %d] %s\n", rq->argv[0], file, e,
                strerror(e));
        rc = 2;
    } else if (Py_MakePendingCalls() == -1) {
        fclose(fp);
        PyErr_Print();
        rc = 1;
    } else {
        PyCompilerFlags cf = _PyCompilerFlags_INIT;
        rc = PyRun_AnyFileExFlags(fp, file, 1, &cf) != 0;
    }
    Py_DECREF(path);
    if (Py_FinalizeEx() < 0)
        rc = 120;
    if (_Py_UnhandledKeyboardInterrupt) {
        signal(SIGINT, SIG_DFL);
        kill(getpid(), SIGINT);
        rc = 128 + SIGINT;
    }
    fflush(NULL);
    exit(rc);
}
