#!/usr/bin/python3
"""Hostile programs through the real HTTP API: each gets a clear result, the service stays
healthy, and nothing of the hostile run is visible to the next run.

    tests/integration/test_hostile.py BUILD_DIR [gateway args...]

The last line is `N passed, N failed`.
"""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Gateway, Runner, check  # noqa: E402

G = None
MARK = "cghostile%d" % os.getpid()


def run(lang, code, **kw):
    body = {"language": lang, "code": code}
    body.update(kw)
    st, doc, _ = G.execute(body, timeout=120)
    check(st == 200, "HTTP %s" % st, doc)
    return doc["data"]


def healthy():
    """A normal request right after, with normal latency."""
    t0 = time.time()
    d = run("python", "print('still fine')")
    check(d["stdout"] == "still fine\n" and d["status"] == "ok", "next request", d)
    check(time.time() - t0 < 5, "next request slow: %.1fs" % (time.time() - t0))


PROBE = r"""
import os, glob, subprocess
seen = []
for d in ("/tmp", "/var/tmp", "/dev/shm", "/dev/mqueue"):
    try:
        for n in os.listdir(d):
            if "%(mark)s" in n:
                seen.append(d + "/" + n)
    except OSError:
        pass
for p in glob.glob("/proc/[0-9]*/cmdline"):
    try:
        if b"%(mark)s" in open(p, "rb").read():
            seen.append("process " + p)
    except OSError:
        pass
try:
    for line in open("/proc/sysvipc/shm").read().splitlines()[1:]:
        if line.split()[0] == "%(key)d":
            seen.append("shm " + line)
except OSError:
    pass
print("LEFT", seen)
"""


def nothing_left():
    d = run("python", PROBE % {"mark": MARK, "key": 0x5eed})
    check(d["stdout"].strip() == "LEFT []", "left behind: %s" % d["stdout"], d)


def hostile(lang, code, status, **kw):
    """Runs a hostile program and asserts the one status it must end with, then health and that
    nothing is left for the next run."""
    d = run(lang, code, **kw)
    check(d["status"] == status, "%s: status %s, wanted %s" % (lang, d["status"], status),
          {k: d[k] for k in d if k not in ("stdout", "output")})
    healthy()
    nothing_left()
    return d


# ---- resource exhaustion ----

def test_fork_bomb_python():
    hostile("python", "import os\nwhile True:\n    try: os.fork()\n    except OSError: pass", "timeout", timeoutMs=2000)


def test_fork_bomb_cpp():
    hostile("cpp", "#include <unistd.h>\nint main(){for(;;) fork();}", "timeout", timeoutMs=2000)


def test_fork_bomb_shell_from_js():
    # The first bash returns at once (the bomb runs in the background); the program then waits,
    # so the bomb runs until the time limit ends the run, and everything it started goes with it.
    hostile("javascript", "require('child_process').execSync(\"bash -c 'f(){ f|f& }; f'\", {stdio:'ignore'})\n"
            "setTimeout(() => {}, 60000)", "timeout", timeoutMs=2000)


def test_memory_hog_python():
    hostile("python", "x = []\nwhile True: x.append(' ' * 10**6)", "memory_limit", memoryMb=64)


def test_memory_hog_cpp():
    hostile("cpp", "#include <vector>\nint main(){std::vector<std::vector<char>> v; for(;;) v.emplace_back(1<<20, 1);}",
            "memory_limit", memoryMb=64)


def test_memory_hog_js():
    hostile("javascript", "const a=[]; for(;;) a.push(new Array(1e6).fill(7));", "memory_limit", memoryMb=64)


def test_busy_loop_each_language():
    hostile("python", "while True: pass", "timeout", timeoutMs=800)
    hostile("javascript", "for(;;){}", "timeout", timeoutMs=800)
    hostile("cpp", "int main(){volatile long i=0; for(;;) i++;}", "timeout", timeoutMs=800)


def test_many_threads():
    # Thread creation fails below the process limit; the threads that did start sleep 5 s and are
    # not daemons, so the interpreter waits for them at exit: the 3 s limit ends the run.
    d = hostile("python", "import threading, time\nts=[]\ntry:\n  for i in range(10000):\n    t=threading.Thread(target=time.sleep, args=(5,)); t.start(); ts.append(t)\nexcept RuntimeError as e:\n  print('limited', len(ts))",
                "timeout", timeoutMs=3000)
    m = re.match(r"limited (\d+)\n$", d["stdout"])
    check(m and int(m.group(1)) < 64, "thread creation stops below the process limit", d)


def test_stack_overflow():
    # Python 3.11 calls Python functions without recursing in C, so plain recursion only grows
    # heap frames (a memory hog, tested above). Recursing through a C function (map) uses the C
    # stack: with the limit lifted it overflows the 8 MiB stack and dies of SIGSEGV.
    d = hostile("python", "import sys\nsys.setrecursionlimit(10**9)\ndef f(n): return list(map(f, [n+1]))\nf(0)",
                "runtime_error", timeoutMs=3000)
    check(d["signal"] == "SIGSEGV", "killed by SIGSEGV", d)
    hostile("cpp", "int f(int n){volatile char b[1024]; b[0]=n; return f(n+1)+b[0];}\nint main(){return f(0);}", "runtime_error")
    hostile("javascript", "function f(n){return f(n+1)+1} f(0)", "runtime_error")


def test_disk_fill():
    d = hostile("python", "f = open('big', 'wb')\nwhile True: f.write(b'x' * (1 << 20))", "runtime_error")
    check("File too large" in d["stderr"] or "SIGXFSZ" in str(d["signal"]), "file size limit", d)


def test_output_floods():
    hostile("python", "while True: print('y' * 4096)", "output_limit", timeoutMs=10000)
    hostile("cpp", "#include <cstdio>\nint main(){for(;;) fputs(\"zzzzzzzzzzzzzzzz\", stderr);}", "output_limit", timeoutMs=10000)
    # A synchronous loop never yields, but the Node preload makes stdout writes synchronous
    # (issue #10): the output cap, not memory, stops it.
    hostile("javascript", "const s='w'.repeat(65536); for(;;) process.stdout.write(s)",
            "output_limit", timeoutMs=10000)
    hostile("javascript", "setInterval(() => console.log('v'.repeat(8192)), 0)", "output_limit", timeoutMs=10000)


def test_no_newline_flood():
    d = hostile("python", "import sys\nwhile True: sys.stdout.write('\\xff\\x00')", "output_limit", timeoutMs=10000)
    check(d["truncated"] is True, "truncated", d)


# ---- the same attacks in C and Java (the languages added as table entries) ----

def test_fork_bomb_c():
    hostile("c", "#include <unistd.h>\nint main(void){for(;;) fork();}", "timeout", timeoutMs=2000)


def test_fork_bomb_java():
    # Every child a process of its own that outlives the loop (sleep); the slot's process limit
    # stops the spawning, the time limit the run, and nothing of it is left (nothing_left()).
    hostile("java", "public class Main { public static void main(String[] a) { for (;;) try {"
            " new ProcessBuilder(\"sleep\", \"600\", \"%s\").start(); } catch (Exception e) {} } }"
            % MARK, "timeout", timeoutMs=3000)


def test_memory_hog_c():
    # With the slot's memory cgroup the OOM killer ends it (memory_limit). Without one (the
    # unprivileged runtime) malloc() returns NULL at the process's limit and the memset crashes
    # (SIGSEGV, runtime_error): C has no out-of-memory message to recognise (docs/LANGUAGES.md).
    want = "runtime_error" if G.as_user else "memory_limit"
    d = hostile("c", "#include <stdlib.h>\n#include <string.h>\nint main(void){for(;;){"
                "char *p = malloc(1<<20); memset(p, 1, 1<<20);}}", want, memoryMb=64)
    check(not G.as_user or d["signal"] == "SIGSEGV", "the NULL from malloc() crashed it", d)


def test_memory_hog_java():
    hostile("java", "import java.util.*;\npublic class Main { public static void main(String[] a) {"
            " List<byte[]> l = new ArrayList<>(); for (;;) l.add(new byte[1 << 20]); } }",
            "memory_limit", memoryMb=64, timeoutMs=10000)


def test_busy_loop_c_and_java():
    hostile("c", "int main(void){volatile long i=0; for(;;) i++;}", "timeout", timeoutMs=800)
    hostile("java", "public class Main { public static void main(String[] a) { long i = 0;"
            " for (;;) i++; } }", "timeout", timeoutMs=1500)
    # Java's threads spin too: the wall clock ends them all.
    hostile("java", "public class Main { public static void main(String[] a) { for (int t = 0; t < 4; t++)"
            " new Thread(() -> { for (;;) {} }).start(); } }", "timeout", timeoutMs=1500)


def test_output_floods_c_and_java():
    hostile("c", "#include <stdio.h>\nint main(void){for(;;) fputs(\"cccccccccccccccc\", stdout);}",
            "output_limit", timeoutMs=10000)
    hostile("java", "public class Main { public static void main(String[] a) { for (;;)"
            " System.out.println(\"j\".repeat(4096)); } }", "output_limit", timeoutMs=10000)
    hostile("java", "public class Main { public static void main(String[] a) { for (;;)"
            " System.err.print(\"e\"); } }", "output_limit", timeoutMs=10000)


NET_C = r"""#define _DEFAULT_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
int main(int argc, char **argv) {
    for (int i = 1; i + 1 < argc; i += 2) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[i + 1]))};
        inet_pton(AF_INET, argv[i], &a.sin_addr);
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct timeval tv = {2, 0};
        setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        printf("%s:%s %s\n", argv[i], argv[i + 1],
               s >= 0 && connect(s, (struct sockaddr *)&a, sizeof a) == 0 ? "connected" : "failed");
        close(s);
    }
    return 0;
}
"""
NET_JAVA = r"""import java.net.*;
public class Main {
    public static void main(String[] a) {
        for (int i = 0; i + 1 < a.length; i += 2) {
            String r = "connected";
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(a[i], Integer.parseInt(a[i + 1])), 2000);
            } catch (Exception e) {
                r = "failed";
            }
            System.out.println(a[i] + ":" + a[i + 1] + " " + r);
        }
    }
}
"""


def test_network_c_and_java():
    # The gateway's own port on the host's loopback and an address outside: no run reaches them.
    targets = ["127.0.0.1", str(G.port), "1.1.1.1", "80", "10.0.0.1", "80"]
    for lang, code in (("c", NET_C), ("java", NET_JAVA)):
        d = hostile(lang, code, "ok", args=targets, timeoutMs=15000)
        lines = d["stdout"].splitlines()
        check(len(lines) == 3 and all(l.endswith(" failed") for l in lines),
              "%s: every connection fails: %r" % (lang, d["stdout"]), d)


FS_C = r"""#define _DEFAULT_SOURCE
#include <stdio.h>
#include <unistd.h>
int main(void) {
    const char *w[] = {"/tmp/%(m)s", "/var/tmp/%(m)s", "/dev/shm/%(m)s", "../%(m)s", "/%(m)s",
                       "/etc/%(m)s", "/usr/%(m)s", NULL};
    for (int i = 0; w[i]; i++) { FILE *f = fopen(w[i], "w"); if (f) { fputs("x", f); fclose(f); } }
    if (symlink("/etc", "/tmp/%(m)s-etc")) {}
    FILE *s = fopen("/etc/shadow", "r");
    printf("shadow %%s\n", s ? "read" : "denied");
    return 0;
}
"""
FS_JAVA = r"""import java.nio.file.*;
public class Main {
    public static void main(String[] a) {
        String[] w = {"/tmp/%(m)s", "/var/tmp/%(m)s", "/dev/shm/%(m)s", "../%(m)s", "/%(m)s",
                      "/etc/%(m)s", "/usr/%(m)s"};
        for (String p : w)
            try { Files.writeString(Paths.get(p), "x"); } catch (Exception e) { }
        try { Files.createSymbolicLink(Paths.get("/tmp/%(m)s-etc"), Paths.get("/etc")); } catch (Exception e) { }
        String r = "read";
        try { Files.readAllBytes(Paths.get("/etc/shadow")); } catch (Exception e) { r = "denied"; }
        System.out.println("shadow " + r);
    }
}
"""


def test_file_system_escape_c_and_java():
    # Files written wherever the program may try (shared places, the work dir's parent, system
    # directories) are gone or were never made: nothing_left() looks for the marker.
    for lang, code in (("c", FS_C), ("java", FS_JAVA)):
        d = hostile(lang, code % {"m": MARK}, "ok", timeoutMs=10000)
        check(d["stdout"] == "shadow denied\n", "%s: /etc/shadow unreadable: %r" % (lang, d["stdout"]), d)


# ---- leftovers ----

def test_background_sleeper_and_daemon():
    hostile("python", "import os, subprocess\nsubprocess.Popen(['sleep', '600 ', '%s'], start_new_session=True)\n"
            "if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        os.execvp('sleep', ['sleep', '600', '%s'])\n    os._exit(0)\nprint('bye')" % (MARK, MARK),
            "ok")


def test_files_in_shared_places():
    hostile("python", "import os\nfor d in ('/tmp', '/var/tmp', '/dev/shm'):\n    try: open(d + '/%s', 'w').write('x')\n    except OSError: pass\n"
            "os.makedirs('/tmp/%s-dir/sub', exist_ok=True)" % (MARK, MARK), "ok")


def test_sysv_shared_memory():
    hostile("python", "import ctypes\nlibc = ctypes.CDLL(None)\nshm = libc.shmget(0x5eed, 4096, 0o1600)\nprint('shm', shm)", "ok")


def test_posix_shm_and_mqueue():
    hostile("python", "from multiprocessing import shared_memory\ntry:\n  shared_memory.SharedMemory(name='%s', create=True, size=64)\nexcept Exception as e:\n  print(e)" % MARK,
            "ok")


def test_closes_stdio_and_ignores_stdin():
    hostile("python", "import os\nos.close(0); os.close(1); os.close(2)\nimport time\ntime.sleep(0.2)", "ok")
    hostile("cpp", "#include <unistd.h>\nint main(){close(1); close(2); sleep(1); return 0;}", "ok", input="x" * (4 << 20))


# ---- reaching out ----

def test_environment_is_clean():
    d = hostile("python", "import os\nprint(sorted(os.environ))", "ok")
    names = eval(d["stdout"])
    check(not any(n.startswith("EXECUTOR") or n.startswith("CODEGATE") for n in names), "executor env leaked: %s" % names)
    check(set(names) <= {"PATH", "HOME", "TMPDIR", "LANG", "PYTHONDONTWRITEBYTECODE", "PYTHONIOENCODING", "LC_CTYPE", "MPLBACKEND",
                          "MALLOC_ARENA_MAX"},
          "unexpected variables: %s" % names)


def test_cannot_read_executor_environment_or_signal_it():
    d = hostile("python", "import os, glob\nout = []\nfor p in glob.glob('/proc/[0-9]*/environ'):\n"
                "    try:\n        if b'EXECUTOR' in open(p,'rb').read(): out.append(p)\n    except OSError: pass\n"
                "print('READ', out)\nimport signal\nkilled = 0\nfor p in glob.glob('/proc/[0-9]*'):\n"
                "    try: os.kill(int(p[6:]), 0); killed += 1\n    except OSError: pass\nprint('SIGNALLABLE', killed)",
                "ok")
    check("READ []" in d["stdout"], "executor environment readable: %s" % d["stdout"])


def test_kill_everything_attempt():
    # The run is alone in its pid namespace: kill(-1) finds nobody (ESRCH). Its parent is the
    # slot's launcher, the namespace's pid 1. As root the launcher is another uid: EPERM, and the
    # uncaught PermissionError makes the run a runtime_error (exit 1). Unprivileged, the launcher
    # is the same uid: kill() succeeds, the kernel drops SIGKILL sent to a namespace's init from
    # inside it, and the run ends ok. Either way the launcher survives (the next run works).
    d = hostile("python", "import os, signal\ntry: os.kill(-1, signal.SIGKILL)\nexcept OSError as e: print(e)\nos.kill(os.getppid(), signal.SIGKILL)",
                "ok" if G.as_user else "runtime_error")
    if G.as_user:
        check(d["stdout"] == "[Errno 3] No such process\n" and d["exitCode"] == 0, "kill(-1): ESRCH, kill(parent): delivered and dropped", d)
    else:
        check(d["stdout"] == "[Errno 3] No such process\n" and d["exitCode"] == 1
              and "PermissionError" in d["stderr"], "kill(-1): ESRCH, kill(parent): EPERM", d)
    hostile("cpp", "#include <signal.h>\n#include <unistd.h>\nint main(){kill(-1, SIGKILL); kill(getppid(), SIGKILL); return 0;}", "ok")


def test_cannot_reach_executor_socket_or_token():
    d = hostile("python", "import glob, socket\nfound = []\nfor p in glob.glob('/run/codegate-*/*') + glob.glob('/run/codegate-*'):\n"
                "    found.append(p)\n    try:\n        s = socket.socket(socket.AF_UNIX); s.connect(p); print('CONNECTED', p)\n    except OSError: pass\n"
                "    try:\n        print('READ', p, open(p).read()[:10])\n    except OSError: pass\nprint('done', len(found))",
                "ok")
    check("CONNECTED" not in d["stdout"] and "READ" not in d["stdout"], "executor channel reachable: %s" % d["stdout"])


def test_ptrace_denied():
    hostile("python", "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nr = libc.ptrace(16, os.getppid(), 0, 0)\nprint('ptrace', r, ctypes.get_errno())", "ok")


def test_symlink_tricks_in_work_dir():
    hostile("python", "import os\nos.symlink('/etc/passwd', 'main.py.bak')\nos.symlink('.', 'loop')\nos.mkdir('locked')\nopen('locked/x','w').write('x')\nos.chmod('locked', 0)\nos.symlink('/etc', 'etc')", "ok")
    with open("/etc/passwd") as f:
        check("root:" in f.read(), "/etc/passwd intact")


def test_invalid_utf8_and_huge_argv():
    hostile("python", "import sys\nsys.stdout.buffer.write(bytes(range(256)))", "ok")
    hostile("python", "import sys\nprint(len(sys.argv))", "ok", args=["a" * 4096] * 64)


def main():
    global G
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    extra = sys.argv[2:] or ["--runtime", "local"]
    r = Runner("hostile (%s)" % " ".join(extra))
    G = Gateway(build, extra, name="hostile").start(ready_timeout=1800)
    try:
        for t in (test_fork_bomb_python, test_fork_bomb_cpp, test_fork_bomb_shell_from_js,
                  test_memory_hog_python, test_memory_hog_cpp, test_memory_hog_js,
                  test_busy_loop_each_language, test_many_threads, test_stack_overflow,
                  test_disk_fill, test_output_floods, test_no_newline_flood,
                  test_background_sleeper_and_daemon, test_files_in_shared_places,
                  test_sysv_shared_memory, test_posix_shm_and_mqueue,
                  test_closes_stdio_and_ignores_stdin, test_environment_is_clean,
                  test_cannot_read_executor_environment_or_signal_it, test_kill_everything_attempt,
                  test_cannot_reach_executor_socket_or_token, test_ptrace_denied,
                  test_symlink_tricks_in_work_dir, test_invalid_utf8_and_huge_argv,
                  test_fork_bomb_c, test_fork_bomb_java, test_memory_hog_c, test_memory_hog_java,
                  test_busy_loop_c_and_java, test_output_floods_c_and_java,
                  test_network_c_and_java, test_file_system_escape_c_and_java):
            r.run(t, timeout=240)
    finally:
        rc = G.stop()

    def clean_exit():
        check(rc == 0, "gateway exit status %s" % rc)
    r.run(clean_exit)
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
