"""Strict hostile cases that need orchestration a data file cannot say: runs against each other
(victim and attacker, writer and reader, a flood beside normal runs), a killed executor, checks
of every slot at once, several requests whose answers depend on each other, or the suite's own
listeners. The runner (test_hostile_strict.py) calls them by the name its index gives
(tests/hostile/cases.index: {"name": ..., "bespoke": "<function>"}).

Each function takes the case's spec (the index line) and uses hostile_lib's Case, so that the
aftermath checks are exactly those of the data-driven cases.
"""
import json
import os
import re
import subprocess
import threading
import time

import hostile_lib as H
from hostile_lib import (LANGS, Case, case_program, check, concurrently, container, executor_pids,
                         net_targets,
                         restarts, send)

IPC_GIVE_AWAY_PY = r"""
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
key, mb = int(sys.argv[2]), int(sys.argv[3])
class P(ctypes.Structure):
    _fields_ = [("key", ctypes.c_int), ("uid", ctypes.c_uint), ("gid", ctypes.c_uint),
                ("cuid", ctypes.c_uint), ("cgid", ctypes.c_uint), ("mode", ctypes.c_ushort),
                ("p1", ctypes.c_ushort), ("seq", ctypes.c_ushort), ("p2", ctypes.c_ushort),
                ("r1", ctypes.c_ulong), ("r2", ctypes.c_ulong)]
class D(ctypes.Structure):
    _fields_ = [("perm", P), ("rest", ctypes.c_char * 128)]
shm = libc.shmget(key, mb << 20, 0o1666)
addr = libc.shmat(shm, None, 0)
ctypes.memset(addr, 0x41, mb << 20)          # charged to the slot's memory
ctypes.memmove(addr, b"SECRET-" + sys.argv[1].encode(), 40)
q = libc.msgget(key, 0o1666)
for ident, ctl in ((shm, libc.shmctl), (q, libc.msgctl)):
    d = D()
    ctl(ident, 2, ctypes.byref(d))           # IPC_STAT
    d.perm.uid, d.perm.mode = 65534, 0o666   # given away: no longer the slot uid's
    print("set", ctl(ident, 1, ctypes.byref(d)), ctypes.get_errno())
"""


IPC_LOOK_PY = r"""
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
key = int(sys.argv[2])
print("shm", libc.shmget(key, 0, 0) != -1, "msg", libc.msgget(key, 0) != -1)
print("objects", sum(len(open("/proc/sysvipc/" + k).read().splitlines()) - 1 for k in ("shm", "msg", "sem")))
"""


def test_py_sysv_objects_given_away(spec):
    """#10.1: SysV objects whose owner was changed with IPC_SET are removed after the run all the
    same; a large one no longer holds the slot's memory (the next, smaller run is not a 500)."""
    c = Case("python")
    d = c.run(IPC_GIVE_AWAY_PY, args=["200"], timeout_ms=8000, memory_mb=512)
    c.status(d, "ok")
    if d:
        # Unprivileged: only uid 1000 exists in the run's user namespace, so IPC_SET to 65534
        # fails (EINVAL) - there is nobody to give objects to.
        want = "set -1 22\nset -1 22\n" if H.G.as_user else "set 0 0\nset 0 0\n"
        c.want(d["stdout"] == want, "the run gave its segment and queue away", d)
    # Sequential requests take the lowest free slot: every slot of the executor is checked by
    # running as many lookups at once as there are slots.
    for _ in range(3):
        outs = []
        ths = [threading.Thread(target=lambda: outs.append(
            send("python", IPC_LOOK_PY, [c.marker, c.key], timeout_ms=4000, memory_mb=32)))
            for _ in range(4)]
        [t.start() for t in ths]
        [t.join(30) for t in ths]
        for st, doc, _ in outs:
            ok = st == 200 and doc and doc["data"]["status"] == "ok"
            c.want(ok, "a 32 MiB run after the 200 MiB segment was given away: HTTP %s" % st, doc)
            if ok:
                c.want(doc["data"]["stdout"] == "shm False msg False\nobjects 0\n",
                       "a later run finds the given-away objects", doc)
    c.finish()


PROC_FLOOD_CPP = r"""
#include <cstdio>
#include <unistd.h>
int main() { int n = 0; for (int i = 0; i < 60; i++) if (fork() == 0) { sleep(4); _exit(0); } else n++;
             printf("%d\n", n); fflush(stdout); sleep(4); }
"""


def test_process_budgets_are_per_slot(spec):
    """#10.2: a C++ run holding 60 processes (inside its own limit) leaves every Python slot (other
    container or executor, same slot number) its whole process budget."""
    c = Case("cpp")
    fork20 = ("import os\nkids = []\nfor i in range(20):\n    p = os.fork()\n"
              "    if p == 0:\n        import time; time.sleep(0.5); os._exit(0)\n    kids.append(p)\n"
              "print(sum(os.waitpid(k, 0)[1] == 0 for k in kids))\n")
    def pythons():
        out = []
        ths = [threading.Thread(target=lambda: out.append(send("python", fork20, timeout_ms=6000)))
               for _ in range(4)]
        [t.start() for t in ths]
        [t.join(60) for t in ths]
        return out
    dc, outs = concurrently(lambda: send("cpp", PROC_FLOOD_CPP, timeout_ms=8000), pythons, 1.5)
    st, doc, _ = dc
    c.want(st == 200 and doc["data"]["status"] == "ok" and doc["data"]["stdout"] == "60\n",
           "the C++ run started its 60 processes", doc)
    for st, doc, _ in outs:
        c.want(st == 200 and doc["data"]["status"] == "ok" and doc["data"]["stdout"] == "20\n",
               "a concurrent Python run could not fork 20 children: HTTP %s" % st, doc)
    c.finish(extra_langs=("python",))


def test_py_memory_promised_is_memory_given(spec):
    """#10.3: four concurrent runs each inside memoryMb 1024 (900 MiB written) all end ok."""
    c = Case("python")
    code = "b = b'x' * (900 << 20)\nprint(len(b) >> 20)\n"
    outs = []
    ths = [threading.Thread(target=lambda: outs.append(send("python", code, timeout_ms=20000,
                                                            memory_mb=1024))) for _ in range(4)]
    [t.start() for t in ths]
    [t.join(120) for t in ths]
    c.want(len(outs) == 4, "four answers")
    for st, doc, _ in outs:
        c.want(st == 200 and doc["data"]["status"] == "ok" and doc["data"]["stdout"] == "900\n",
               "a run inside its own memoryMb was killed or refused: HTTP %s" % st, doc)
    c.finish()


def test_py_work_area_bounded_per_slot(spec):
    """#10.4b: one run filling its work dir runs out of room in its own slot's area and leaves
    concurrent runs theirs (the Docker /work tmpfs was shared by every slot)."""
    c = Case("python")
    fill = ("import os\nn = 0\ntry:\n    for i in range(40):\n"
            "        with open('f%d' % i, 'wb') as f:\n            f.write(b'x' * (60 << 20))\n"
            "        n += 60\nexcept OSError as e:\n    print('stopped', e.errno)\n"
            "print('written', n)\nimport time; time.sleep(3)\n")
    cpp = "#include <cstdio>\nint main(){ FILE *f = fopen(\"out.txt\", \"w\"); fputs(\"x\", f); fclose(f); puts(\"compiled and wrote\"); }\n"
    dh, dc = concurrently(lambda: send("python", fill, timeout_ms=15000, memory_mb=1024),
                          lambda: send("cpp", cpp + "// " + c.marker + "\n", timeout_ms=8000), 2.0)
    st, doc, _ = dh
    # The filler stops at its slot's room (ENOSPC), well inside its 1024 MiB of memory.
    c.want(st == 200 and doc["data"]["status"] == "ok" and "stopped 28\n" in doc["data"]["stdout"],
           "the filler ran out of room (ENOSPC)", doc)
    if st == 200 and doc["data"]["status"] == "ok":
        m = re.search(r"written (\d+)", doc["data"]["stdout"])
        c.want(m and int(m.group(1)) <= 256, "a run could write %s MiB of files" % (m and m.group(1)), doc)
    st, doc, _ = dc
    c.want(st == 200 and doc["data"]["status"] == "ok" and doc["data"]["stdout"] == "compiled and wrote\n",
           "a concurrent C++ run lost its room", doc)
    c.finish(extra_langs=("cpp",))


def test_py_forged_stop_for_the_next_run(spec):
    """A run queues stop requests (SIGRTMIN with every plausible run number) at its slot's
    launcher, then ends: the next student's run on that slot is not stopped."""
    c = Case("python")
    d = c.run(r"""
import ctypes, signal
libc = ctypes.CDLL(None, use_errno=True)
ok = sum(libc.sigqueue(1, signal.SIGRTMIN, ctypes.c_void_p(v)) == 0 for v in range(0, 5000))
for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    libc.kill(1, s)
print("queued", ok > 0)
""", timeout_ms=8000)
    c.status(d, "ok")
    for i in range(3):
        st, doc, _ = send("python", "print('next run')", timeout_ms=4000)
        c.want(st == 200 and doc["data"]["status"] == "ok" and doc["data"]["stdout"] == "next run\n",
               "the run after the forged stops was stopped", doc)
    c.finish()


def test_py_memory_hog_in_forked_children(spec):
    # RLIMIT_AS is per process: 12 children x 96 MiB = 1.1 GiB for a run allowed 64 MiB.
    c = Case("python")
    d = c.run(r'''
import os, time
kids = []
for i in range(12):
    pid = os.fork()
    if pid == 0:
        try:
            b = bytearray(b"\1") * (96 << 20)
            time.sleep(1)
            os._exit(0)
        except MemoryError:
            os._exit(3)
    kids.append(pid)
ok = sum(1 for p in kids if os.waitpid(p, 0)[1] == 0)
print("children that held 96 MiB each:", ok)
''', timeout_ms=8000, memory_mb=64)
    if H.G.as_user:
        # Without root there is no cgroup (docs/SECURITY.md): memory is capped per process
        # (RLIMIT_AS / RLIMIT_DATA), not per run. What holds: no process exceeds its own cap.
        c.status(d, "ok")
        d = c.run("b = bytearray(b'\\1') * (400 << 20)\nprint('held 400 MiB')\n", timeout_ms=8000,
                  memory_mb=64)
        c.status(d, "memory_limit")
    else:
        c.status(d, "memory_limit")
    c.finish()


def test_api_huge_args(spec):
    c = Case("python")
    code = "import sys\nprint(len(sys.argv) - 1, sum(map(len, sys.argv[1:])))\n"
    st, doc, _ = send("python", code, ["a" * 4096] * 64)
    c.want(st == 200 and doc["success"] and doc["data"]["stdout"] == "64 262144\n",
           "64 args of 4 KiB are accepted and arrive intact: HTTP %s" % st, doc)
    st, doc, _ = send("python", code, ["a"] * 65)
    c.want(st == 400 and doc["error"]["code"] == "invalid_request"
           and doc["error"].get("details", {}).get("field") == "args", "65 args: 400 invalid_request on args", doc)
    st, doc, _ = send("python", code, ["a" * 4097])
    c.want(st == 400 and doc["error"]["code"] == "invalid_request", "an arg of 4097 bytes: 400", doc)
    st, doc, _ = send("python", "import sys\nprint(repr(sys.argv[1:]))\n", ["a\u0000b", "c"])
    # The gateway validates args before any runtime sees them: argv cannot carry a NUL byte.
    c.want(st == 400 and doc["error"]["code"] == "invalid_request", "an arg with a NUL byte: 400 invalid_request", doc)
    c.finish()


def test_cpp_compile_cache_poisoning(spec):
    # The program rewrites its own binary; the same source sent again must run the real one.
    c = Case("cpp")
    code = r'''
#include <cstdio>
#include <fstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>
int main() {
    puts("original %s");
    fflush(stdout);
    unlink("main");
    { std::ofstream f("main"); f << "#!/bin/sh\necho poisoned\n"; }
    chmod("main", 0755);
    char cwd[4096]; if (!getcwd(cwd, sizeof cwd)) return 1;
    std::string cache = std::string(cwd) + "/../.compile-cache";
    DIR *d = opendir(cache.c_str());
    printf("cache dir %%s\n", d ? "readable" : "closed");
    FILE *w = fopen((cache + "/x").c_str(), "w");
    printf("cache write %%s\n", w ? "possible" : "refused");
}
''' % c.marker
    d = c.run(code, timeout_ms=3000)
    c.status(d, "ok")
    if d:
        c.want(d["stdout"] == "original %s\ncache dir closed\ncache write refused\n" % c.marker,
               "the compile cache is out of reach", d)
    d2 = c.run(code, timeout_ms=3000)
    if d2:
        c.want(d2.get("compile", {}).get("durationMs") == 0, "second request served from the cache", d2)
        c.want(d2["stdout"].startswith("original %s\n" % c.marker), "the cached binary is the real one", d2)
    c.finish()


def test_cpp_include_secrets(spec):
    # The compiler runs as the slot uid: it cannot read what the slot cannot.
    c = Case("cpp")
    paths = ["/etc/shadow"]
    if H.RUNTIME == "local":
        paths += ["%s/%s-0.token" % (H.STATE_DIR, l) for l in LANGS]
    for p in paths:
        d = c.run('#include "%s"\nint main(){}\n' % p, timeout_ms=3000, compile_error=True)
        if d:
            c.want(d.get("status") == "compile_error", "#include %s must not compile" % p, d)
            text = d.get("stderr", "") + json.dumps(d.get("compile", {}))
            c.want("root:" not in text and "$y$" not in text and "$6$" not in text
                   and not re.search(r"\b[0-9a-f]{64}\b", text), "no secret content in diagnostics of %s" % p, d)
            # Refused either way: "No such file" where the slot's box does not hold the path
            # at all (the executors' token files live outside it), "Permission denied" where
            # it holds it unreadable (/etc/shadow). Excluded: any other diagnostic, i.e. the
            # compiler read the file.
            c.want("Permission denied" in text or "No such file" in text,
                   "the compiler was refused %s" % p, d)
    c.finish()


def network(spec):
    """The case's program connects to every target (argv[3:]) and prints a JSON object target ->
    result: nothing may connect, and the suite's own listeners accept nothing."""
    lang, code = spec["lang"], case_program(spec)
    c = Case(lang)
    acc0 = (H.LISTENERS["loop"].accepted, H.LISTENERS["any"].accepted)
    targets = net_targets()
    d = c.run(code, targets, timeout_ms=9000)
    c.status(d, "ok")
    if d and d["status"] == "ok":
        try:
            r = json.loads(d["stdout"])
        except ValueError:
            r = None
        if c.want(isinstance(r, dict) and len(r) == len(targets), "one result per target", d):
            for target, v in sorted(r.items()):
                c.want(v != "connected", "%s: connected (must fail)" % target)
    time.sleep(0.2)
    acc1 = (H.LISTENERS["loop"].accepted, H.LISTENERS["any"].accepted)
    c.want(acc1 == acc0, "the suite's own listeners (127.0.0.1, 0.0.0.0) accepted connections: %s -> %s"
           % (acc0, acc1))
    c.finish()


def test_cpp_cross_run_attack(spec):
    # A victim run and an attacker run at the same time: the attacker finds the victim by its
    # marker and tries to signal it, ptrace it, read its memory, environment and work dir.
    c = Case("cpp")
    victim = r'''
#include <cstdio>
#include <fstream>
#include <unistd.h>
int main() { { std::ofstream f("secret.txt"); f << "victim secret"; } sleep(4); puts("victim ok"); }
'''
    attacker = r'''
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <dirent.h>
#include <fcntl.h>
#include <csignal>
#include <unistd.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
static std::string slurp(const std::string &p) {
    FILE *f = fopen(p.c_str(), "r"); std::string s; char b[4096]; size_t n;
    while (f && (n = fread(b, 1, sizeof b, f)) > 0) s.append(b, n);
    if (f) fclose(f);
    return s;
}
static void r(const char *what, long rc) { printf("%s=%s ", what, rc < 0 ? strerrorname_np(errno) : "ALLOWED"); }
int main(int argc, char **argv) {
    std::string m = argv[1]; std::reverse(m.begin(), m.end());
    long victim = -1;
    for (int t = 0; t < 40 && victim < 0; t++) {
        DIR *d = opendir("/proc"); struct dirent *de;
        while ((de = readdir(d))) {
            if (de->d_name[0] < '1' || de->d_name[0] > '9' || atol(de->d_name) == getpid()) continue;
            std::string cmd = slurp(std::string("/proc/") + de->d_name + "/cmdline");
            std::replace(cmd.begin(), cmd.end(), '\0', ' ');
            if (cmd.rfind("./main " + m, 0) == 0) victim = atol(de->d_name);
        }
        closedir(d);
        if (victim < 0) usleep(50000);
    }
    if (victim < 0) { puts("victim not found"); return 0; }
    r("kill", kill(victim, SIGKILL));
    r("stop", kill(victim, SIGSTOP));
    r("attach", ptrace(PTRACE_ATTACH, victim, 0, 0));
    char buf[64]; struct iovec lo = {buf, sizeof buf}, rem = {(void *)0x400000, sizeof buf};
    r("vm_readv", process_vm_readv(victim, &lo, 1, &rem, 1, 0));
    char p[96];
    snprintf(p, sizeof p, "/proc/%ld/mem", victim); r("mem", open(p, O_RDONLY));
    snprintf(p, sizeof p, "/proc/%ld/environ", victim); r("environ", open(p, O_RDONLY));
    snprintf(p, sizeof p, "/proc/%ld/cwd/secret.txt", victim); r("cwd_secret", open(p, O_RDONLY));
    snprintf(p, sizeof p, "/proc/%ld/fd/1", victim); r("stdout", open(p, O_WRONLY));
    puts("");
}
'''
    m, k = c.marker, c.key
    dv, da = concurrently(
        lambda: send("cpp", victim, [m, k], timeout_ms=9000),
        lambda: send("cpp", attacker, [m[::-1], k], timeout_ms=9000), 0.3)
    stv, docv, _ = dv if dv else (None, None, None)
    sta, doca, _ = da
    c.want(stv == 200 and docv["data"]["status"] == "ok" and docv["data"]["stdout"] == "victim ok\n",
           "the victim ran undisturbed", docv)
    if c.want(sta == 200 and doca["data"]["status"] == "ok", "the attacker ran", doca):
        out = doca["data"]["stdout"]
        # Each slot has its own pid namespace and a hidepid /proc: the victim is invisible.
        c.want("victim not found" in out, "the attacker sees the victim's process", doca)
        c.want("ALLOWED" not in out, "the attacker could touch the victim: %s" % out.strip())
    c.finish()


def test_py_cross_run_shared_places(spec):
    # One run leaves things in places every run can write; a run at the same time must not see
    # them (no location writable by one run is readable by another).
    c = Case("python")
    writer = r'''
import ctypes, os, sys, time
m, key = sys.argv[1], int(sys.argv[2])
for p in ("/tmp/%s-plant" % m, "/dev/shm/%s-plant" % m):
    with open(p, "w") as f:
        f.write("planted by another run")
    os.chmod(p, 0o666)
libc = ctypes.CDLL(None, use_errno=True)
libc.shmget(key, 4096, 0o1000 | 0o666)
print("planted")
time.sleep(3)
'''
    reader = r'''
import ctypes, json, os, sys, time
m, key = sys.argv[1][::-1], int(sys.argv[2])
libc = ctypes.CDLL(None, use_errno=True)
seen = {}
t0 = time.time()
while time.time() - t0 < 2.5:
    for p in ("/tmp/%s-plant" % m, "/dev/shm/%s-plant" % m):
        if os.path.exists(p):
            try:
                seen[p] = open(p).read()
            except OSError as e:
                seen[p] = "exists (%s)" % e.strerror
    if libc.shmget(key, 0, 0) != -1:
        seen["sysv shm key"] = "found"
    if len(seen) == 3:
        break
    time.sleep(0.1)
print(json.dumps(seen))
'''
    m, k = c.marker, c.key
    dw, dr = concurrently(lambda: send("python", writer, [m, k], timeout_ms=6000),
                          lambda: send("python", reader, [m[::-1], k], timeout_ms=6000), 0.5)
    stw, docw, _ = dw if dw else (None, None, None)
    str_, docr, _ = dr
    c.want(stw == 200 and docw["data"]["stdout"] == "planted\n", "the writer ran", docw)
    if c.want(str_ == 200 and docr["data"]["status"] == "ok", "the reader ran", docr):
        seen = json.loads(docr["data"]["stdout"])
        c.want(not seen, "a concurrent run sees what another run left: %s" % seen)
    c.finish()


def _docker_executor_pid(name):
    """The executor's pid inside a container (its comm is 'executor')."""
    r = subprocess.run(["docker", "exec", name, "sh", "-c",
                        "for d in /proc/[0-9]*; do [ \"$(cat $d/comm)\" = executor ] && "
                        "echo ${d#/proc/}; done"], capture_output=True, text=True, timeout=30)
    return r.stdout.split()


def test_py_work_dirs_go_with_a_killed_executor(spec):
    """#10.11: when an executor is killed, its jobs' work dirs (students' code) do not stay
    behind, and the replacement starts clean. Local runtime: nothing with the job's marker is
    left on the host. Docker: the executor dies inside its container; the container (and with it
    its work areas) is removed, not left stopped with the files in it."""
    c = Case("python")
    code = "import time\nopen('secret-' + __import__('sys').argv[1], 'w').write('x')\ntime.sleep(20)\n"
    th = threading.Thread(target=lambda: send("python", code, [c.marker], timeout_ms=25000), daemon=True)
    th.start()
    time.sleep(1.5)
    old_ids = []
    if H.RUNTIME == "local":
        pids = executor_pids("python")
        c.want(pids, "found the python executor")
        for p in pids:
            os.kill(p, 9)
    else:
        name = container("python", 0)
        r = subprocess.run(["docker", "inspect", "-f", "{{.Id}}", name], capture_output=True,
                           text=True, timeout=30)
        old_ids = r.stdout.split()
        pids = _docker_executor_pid(name)
        c.want(old_ids and pids, "found the python container and its executor", r.stderr)
        for p in pids:  # the shell's kill: the image has no kill binary
            r = subprocess.run(["docker", "exec", name, "sh", "-c", "kill -9 %s" % p],
                               capture_output=True, text=True, timeout=30)
            c.want(r.returncode == 0, "killed the executor in its container: %s" % r.stderr)
    th.join(40)
    deadline = time.time() + 30
    while time.time() < deadline:
        st, doc, _ = send("python", "print(1)", timeout_ms=3000)
        if st == 200 and doc["data"]["status"] == "ok":
            break
        time.sleep(0.5)
    left = []
    if H.RUNTIME == "local":
        for d, dirs, files in os.walk(H.STATE_DIR or "/run"):
            left += [os.path.join(d, f) for f in files + dirs if c.marker in f]
    else:
        for cid in old_ids:
            r = subprocess.run(["docker", "inspect", cid], capture_output=True, text=True, timeout=30)
            if r.returncode == 0:
                left.append("container %s still exists" % cid[:12])
    c.want(not left, "work dir files of the killed executor's job remain: %s" % left)
    c.restarts = restarts()
    c.finish()


def test_normal_requests_after_start(spec):
    """The baseline requests (the probe, three times per language, on a fresh service) all ran."""
    check(not H.SETUP_ERRORS, "\n  - " + "\n  - ".join(H.SETUP_ERRORS))
