#!/usr/bin/python3
"""The Python zygote (issue 15, target 1): a run forked from the slot's pre-initialised
interpreter (build/launcher-py, executors/launcher_zygote.c) is indistinguishable from a fresh
`python3 -E -s -u main.py` to the student.

    tests/integration/test_zygote.py BUILD_DIR [gateway args...]

Two gateways run side by side with the given arguments (default --runtime local): Z, whose
Python runs fork from the zygote (the suite checks that they do), and R, the reference, with
EXECUTOR_ZYGOTE=0, whose runs exec python3 as before. The same programs run on
both and their answers must be equal (the work dir's name replaced by a placeholder):

  - __name__, sys.argv, sys.orig_argv, sys.path (sys.path[0] = the work dir: a module written
    next to main.py imports), __file__, the module's globals, sys.flags, sys.executable, the
    modules imported at start, the environment, stdio objects (buffering, seekability, names,
    encodings), signal dispositions, rlimits, umask, recursion limit;
  - tracebacks naming main.py, syntax errors, exit codes, SystemExit with a code and a message,
    os._exit, atexit handlers, unhandled KeyboardInterrupt (ends by SIGINT), signals sent to
    oneself (SIGINT -> KeyboardInterrupt, SIGTERM kills), BrokenPipe-free SIGPIPE, input()
    prompts and stdin reading, unbuffered output kept across a crash (os.abort);
  - the memory limit: a hog ends memory_limit, a program within memoryMb runs, on both;
  - `random` differs between runs; nothing of an earlier run is seen by a later one on the same
    slots (builtins, modules, sys.path, os.environ, files in /tmp, threads left running);
  - a session's input() prompt arrives before any input;
  - without build/launcher-py the executor says so and Python still runs (exec fallback).

What differs on purpose (docs/SECURITY.md): /proc/self/exe is the launcher, and the hash seed
is drawn once per slot: both are asserted here as documented (/proc/self/cmdline, environ and
comm are the run's, as for an exec'd python3). The last line is
`N passed, N failed`.
"""
import json
import os
import shutil
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Gateway, Runner, check  # noqa: E402

DOCKER = False
Z = None  # the gateway under test (zygote)
R = None  # the reference (exec of python3)
SLOTS = 2


def run(gw, code, **kw):
    body = {"language": "python", "code": code}
    body.update(kw)
    st, doc, _ = gw.execute(body, timeout=120)
    check(st == 200 and doc and doc.get("success") is True, "HTTP %s" % st, doc)
    return doc["data"]


PROBE = r'''
import sys, os
mods = sorted(sys.modules)
g = sorted(globals())
import json, signal, resource
def stream(s):
    b = getattr(s, "buffer", None)
    raw = getattr(b, "raw", b)
    return {"type": type(s).__name__, "buffer": type(b).__name__, "raw": type(raw).__name__,
            "name": getattr(raw, "name", None), "mode": getattr(s, "mode", None),
            "encoding": s.encoding, "errors": s.errors, "line_buffering": s.line_buffering,
            "write_through": s.write_through, "seekable": s.seekable(), "isatty": s.isatty(),
            "newlines": s.newlines, "fileno": s.fileno(), "same": s is getattr(sys, "__%s__" % raw.name.strip("<>"), None)}
sigs = {}
for n in dir(signal):
    if n.startswith("SIG") and not n.startswith("SIG_") and isinstance(getattr(signal, n), int):
        h = signal.getsignal(getattr(signal, n))
        sigs[n] = h if isinstance(h, int) else getattr(h, "__name__", repr(h))
print(json.dumps({
    "name": __name__, "file": __file__, "cwd": os.getcwd(), "argv": sys.argv,
    "orig_argv": sys.orig_argv, "path": sys.path, "path0_is_cwd": sys.path[0] == os.getcwd(),
    "globals": g, "modules": mods, "flags": repr(sys.flags), "executable": sys.executable,
    "prefix": [sys.prefix, sys.exec_prefix, sys.base_prefix], "env": dict(os.environ),
    "stdio": [stream(sys.stdin), stream(sys.stdout), stream(sys.stderr)], "signals": sigs,
    "rlimits": {n: resource.getrlimit(getattr(resource, n)) for n in dir(resource)
                if n.startswith("RLIMIT_")},
    "umask": os.umask(0o77), "recursion": sys.getrecursionlimit(),
    "switch": sys.getswitchinterval(), "warnoptions": sys.warnoptions, "xoptions": sys._xoptions,
    "dont_write_bytecode": sys.dont_write_bytecode, "pid1_parent": os.getppid(),
    "uid": [os.getuid(), os.geteuid(), os.getgid(), os.getgroups()],
    "blocking": [os.get_blocking(0), os.get_blocking(1), os.get_blocking(2)],
    "fds": sorted(int(x) for x in os.listdir("/proc/self/fd")),
    "sigmask": sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])),
    "threads": __import__("threading").active_count(),
    "main_loader": type(globals().get("__loader__")).__name__, "spec": repr(__spec__),
    "cached": __cached__, "builtins": type(__builtins__).__name__,
    "site": [sys.modules["site"].USER_BASE, sys.modules["site"].USER_SITE,
             sys.modules["site"].ENABLE_USER_SITE, sys.modules["site"].PREFIXES],
    "tz": [__import__("time").tzname, __import__("time").timezone],
    "comm": open("/proc/self/comm").read(),
    "cmdline": open("/proc/self/cmdline", "rb").read().decode(),
    "environ": open("/proc/self/environ", "rb").read().decode(),
}, sort_keys=True))
'''


def probe(gw):
    d = run(gw, PROBE)
    check(d["status"] == "ok", "probe failed", d)
    p = json.loads(d["stdout"])
    cwd = p["cwd"]
    return json.loads(d["stdout"].replace(cwd, "<cwd>"))


def same_answer(code, **kw):
    """Runs code on both gateways; returns (zygote, reference) answers, work dirs replaced."""
    out = []
    for gw in (Z, R):
        d = run(gw, "import os\nprint(os.getcwd(), flush=True)\n" + code, **kw)
        cwd, _, rest = d["stdout"].partition("\n")
        keep = {k: d.get(k) for k in ("status", "exitCode", "signal", "timedOut")}
        keep["stdout"] = rest.replace(cwd, "<cwd>")
        keep["stderr"] = d["stderr"].replace(cwd, "<cwd>")
        out.append(keep)
    # The code above main.py's first line moves line numbers by two on both sides alike.
    check(out[0] == out[1], "zygote and exec answers differ:\nzygote: %r\nexec:   %r"
          % (out[0], out[1]))
    return out[0]


# ---------------------------------------------------------------------------------------------

def test_runs_fork_from_the_zygote():
    if not DOCKER:  # the docker runtime does not pass on the executors' own log
        lines = [l.get("msg", "") for l in Z.log_lines()]
        check(any("fork from each slot's interpreter" in m for m in lines),
              "the executor did not take launcher-py: " + repr([m for m in lines if "ython" in m]))
    z = run(Z, "import os; print(os.readlink('/proc/self/exe'))")
    r = run(R, "import os; print(os.readlink('/proc/self/exe'))")
    # Documented difference: the process image is the launcher's, not python3's.
    check(z["stdout"].strip().endswith("/launcher-py"), "zygote run's image", z)
    check("python3" in r["stdout"], "reference run's image", r)


def test_start_state_equal_to_fresh_python():
    z, r = probe(Z), probe(R)
    diff = {k: (z.get(k), r.get(k)) for k in set(z) | set(r) if z.get(k) != r.get(k)}
    # The slot uid may differ between the two gateways' uid ranges; nothing else may.
    diff.pop("uid", None)
    for k, (a, b) in list(diff.items()):
        if isinstance(a, list) and isinstance(b, list) and all(isinstance(x, str) for x in a + b):
            diff[k] = {"zygote only": sorted(set(a) - set(b)), "exec only": sorted(set(b) - set(a))}
    check(not diff, "differs from a fresh python3:\n" + json.dumps(diff, indent=1)[:6000])
    check(z["name"] == "__main__" and z["argv"] == ["main.py"], "argv", z)
    check(z["path0_is_cwd"] and z["file"] == "<cwd>/main.py", "sys.path[0] / __file__", z)
    check(z["orig_argv"] == ["python3", "-E", "-s", "-u", "main.py"], "orig_argv", z)
    check("random" not in z["modules"] and "threading" not in z["modules"], "start imports", z)
    check(z["signals"]["SIGINT"] == "default_int_handler" and z["signals"]["SIGPIPE"] == 1,
          "signal dispositions", z)


def test_args_and_module_next_to_main_imports():
    a = same_answer("open('util.py', 'w').write('X = 41\\n')\nimport util, sys\n"
                    "print(util.X + 1, util.__file__, sys.argv)", args=["a b", "-c", "x"])
    check(a["stdout"] == "42 <cwd>/util.py ['main.py', 'a b', '-c', 'x']\n", "import", a)


def test_tracebacks_and_syntax_errors():
    a = same_answer("def f():\n    return 1/0\nf()\n")
    check(a["exitCode"] == 1 and 'File "<cwd>/main.py", line 5, in <module>' in a["stderr"]
          and "ZeroDivisionError" in a["stderr"], "traceback", a)
    for gw in (Z, R):
        d = run(gw, "print('never'\n")
        check(d["exitCode"] == 1 and "SyntaxError" in d["stderr"] and "main.py" in d["stderr"]
              and d["stdout"] == "", "syntax error", d)


def test_exit_codes_systemexit_atexit():
    a = same_answer("import atexit, sys\natexit.register(print, 'bye')\nsys.exit(3)")
    check(a["exitCode"] == 3 and a["stdout"] == "bye\n", "sys.exit(3) with atexit", a)
    a = same_answer("import sys\nsys.exit('no way')")
    check(a["exitCode"] == 1 and a["stderr"] == "no way\n", "sys.exit(msg)", a)
    a = same_answer("import atexit, os\natexit.register(print, 'not run')\nos._exit(7)")
    check(a["exitCode"] == 7 and a["stdout"] == "", "os._exit", a)
    a = same_answer("import atexit\natexit.register(print, 'end')\nprint('body')")
    check(a["exitCode"] == 0 and a["stdout"] == "body\nend\n", "atexit at a normal end", a)
    a = same_answer("raise SystemExit(None)")
    check(a["exitCode"] == 0, "SystemExit(None)", a)


def test_signals_and_keyboard_interrupt():
    a = same_answer("raise KeyboardInterrupt")
    check(a["signal"] == "SIGINT" and "KeyboardInterrupt" in a["stderr"], "KeyboardInterrupt", a)
    a = same_answer("import os, signal\ntry:\n    os.kill(os.getpid(), signal.SIGINT)\n"
                    "    import time; time.sleep(5)\nexcept KeyboardInterrupt:\n    print('caught')")
    check(a["stdout"] == "caught\n" and a["exitCode"] == 0, "SIGINT to itself", a)
    a = same_answer("import os, signal\nprint('x')\nos.kill(os.getpid(), signal.SIGTERM)")
    check(a["signal"] == "SIGTERM" and a["stdout"] == "x\n", "SIGTERM to itself", a)
    a = same_answer("import os\nr, w = os.pipe()\nos.close(r)\ntry:\n    os.write(w, b'x')\n"
                    "except BrokenPipeError:\n    print('EPIPE')")
    check(a["stdout"] == "EPIPE\n", "SIGPIPE ignored as at start", a)


def test_stdin_prompts_and_unbuffered_output():
    a = same_answer("n = input('Name? ')\nm = input()\nimport sys\nrest = sys.stdin.read()\n"
                    "print(f'Hello, {n} and {m}', repr(rest))", stdin="Ada\nBob\ntail\nend")
    check(a["stdout"] == "Name? Hello, Ada and Bob 'tail\\nend'\n", "input()", a)
    a = same_answer("import os, sys\nprint('kept')\nsys.stderr.write('also')\nos.abort()")
    check(a["stdout"] == "kept\n" and a["stderr"] == "also" and a["signal"] == "SIGABRT",
          "output written before a crash", a)
    a = same_answer("input('Q? ')", stdin="")
    check(a["exitCode"] == 1 and "EOFError" in a["stderr"] and a["stdout"] == "Q? ", "EOF", a)


def test_memory_limit_means_the_same():
    for gw in (Z, R):
        d = run(gw, "b = bytearray(40 << 20)\nb[::4096] = b'x' * len(b[::4096])\nprint('ok')",
                memoryMb=64)
        check(d["status"] == "ok" and d["stdout"] == "ok\n", "40 MiB within 64", d)
        d = run(gw, "x = []\nwhile True:\n    x.append(bytearray(1 << 20))", memoryMb=64)
        check(d["status"] == "memory_limit", "a hog ends memory_limit", d)
        d = run(gw, "print(1)", memoryMb=16)
        check(d["status"] == "ok" and d["stdout"] == "1\n", "the smallest memoryMb runs", d)
        d = run(gw, "b = bytearray(1 << 40)")
        check(d["status"] == "memory_limit" and "MemoryError" in d["stderr"], "1 TiB", d)


def test_random_differs_between_runs():
    seen = [run(Z, "import random; print(random.random(), random.getrandbits(64))")["stdout"]
            for _ in range(6)]
    check(len(set(seen)) == 6, "random repeated across runs: %r" % seen)
    seen = [run(Z, "import os; print(os.urandom(8).hex())")["stdout"] for _ in range(4)]
    check(len(set(seen)) == 4, "urandom repeated: %r" % seen)


POLLUTE = r'''
import builtins, sys, os, threading, json, time
builtins.LEAKED = 1
builtins.print = lambda *a, **k: sys.stdout.write("patched\n")
sys.modules["evil"] = type(sys)("evil")
sys.path.append("/tmp/evil")
os.environ["LEAKED"] = "1"
open("/tmp/leaked", "w").write("x")
open("leaked.txt", "w").write("x")
globals()["leaked_global"] = 1
threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
sys.setrecursionlimit(99)
print("polluted")
'''

CLEAN = r'''
import builtins, sys, os
bad = []
if hasattr(builtins, "LEAKED"): bad.append("builtins")
if type(builtins.print).__name__ != "builtin_function_or_method": bad.append("print")
for m in ("evil", "json", "threading"):
    if m in sys.modules: bad.append("module " + m)
if "/tmp/evil" in sys.path: bad.append("sys.path")
if "LEAKED" in os.environ: bad.append("environ")
if os.path.exists("/tmp/leaked"): bad.append("/tmp file")
if os.path.exists("leaked.txt"): bad.append("work dir file")
if "leaked_global" in globals(): bad.append("global")
if sys.getrecursionlimit() == 99: bad.append("recursion limit")
if len(os.listdir("/proc/self/task")) != 1: bad.append("threads")
if [p for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, os.getpid())]: bad.append("processes")
print("clean" if not bad else bad)
'''


def test_nothing_of_a_run_reaches_the_next():
    # Sequential runs on SLOTS slots: every slot serves polluted runs and then checks.
    for _ in range(2 * SLOTS):
        d = run(Z, POLLUTE)
        check(d["stdout"] == "patched\n", "pollution ran", d)
    for _ in range(3 * SLOTS):
        d = run(Z, CLEAN)
        check(d["stdout"] == "clean\n", "a later run saw an earlier one", d)
    # Concurrent runs too (every slot busy at once).
    res = []

    def one(code):
        res.append(run(Z, code)["stdout"])
    ths = [threading.Thread(target=one, args=(POLLUTE if i % 2 else CLEAN,)) for i in range(8)]
    for t in ths:
        t.start()
    for t in ths:
        t.join(120)
    ths = [threading.Thread(target=one, args=(CLEAN,)) for i in range(6)]
    res.clear()
    for t in ths:
        t.start()
    for t in ths:
        t.join(120)
    check(res == ["clean\n"] * 6, "after concurrent polluters: %r" % res)


SCAN = r'''
import sys
key = 0x55
want = bytes.fromhex(sys.argv[1])  # the marker XOR key: the marker itself is never made here
table = bytes(b ^ key for b in range(256))
found = []
with open("/proc/self/maps") as f:
    maps = f.read().splitlines()
with open("/proc/self/mem", "rb", buffering=0) as mem:
    for line in maps:
        addr, perms = line.split()[:2]
        if not perms.startswith("rw"):
            continue
        lo, hi = (int(x, 16) for x in addr.split("-"))
        if hi - lo > (256 << 20):  # reservations (a sanitizer's shadow), not data
            continue
        step, tail = 1 << 20, b""  # in pieces that overlap by the marker's length
        for at in range(lo, hi, step):
            try:
                mem.seek(at)
                data = tail + mem.read(min(step, hi - at))
            except (OSError, ValueError, OverflowError):
                break
            if data.translate(table).find(want) >= 0:
                found.append(line)
                break
            tail = data[-len(want):]
print("found in " + repr(found) if found else "none")
'''


def test_no_earlier_request_in_a_run_memory():
    # A run's argument and the name of a file it left in /tmp (which the launcher's clean-up
    # read) must not be in the memory of a later run forked from the same launcher.
    marker = "cgmark" + os.urandom(8).hex()
    hidden = bytes(b ^ 0x55 for b in marker.encode()).hex()
    for _ in range(2 * SLOTS):
        d = run(Z, "import sys\nopen('/tmp/' + sys.argv[1], 'w').write('x')\n"
                   "open(sys.argv[1], 'w').write('x')\nprint('ok')", args=[marker])
        check(d["stdout"] == "ok\n", "marker run", d)
    for _ in range(2 * SLOTS):
        d = run(Z, SCAN, args=[hidden], timeoutMs=30000)
        check(d["status"] == "ok" and d["stdout"] == "none\n", "an earlier run's data", d)
    # The scan does find what is there (its own argument, put in memory on purpose).
    d = run(Z, SCAN + "\nx = bytes(b ^ 0x55 for b in bytes.fromhex(sys.argv[1]))\n"
                      "print(x.decode()[:6])\n" + SCAN.split("found = []", 1)[1].replace(
                          "print(", "print('again', "), args=[hidden], timeoutMs=30000)
    check(d["stdout"].startswith("none\ncgmark\nagain found in"), "the scan finds a marker", d)


def test_hash_seed_and_frozen_objects_as_documented():
    # Documented difference: one hash seed per slot's zygote (a fresh python3 draws one per run).
    z = {run(Z, "print(hash('codegate'))")["stdout"] for _ in range(3 * SLOTS)}
    r = {run(R, "print(hash('codegate'))")["stdout"] for _ in range(3 * SLOTS)}
    check(len(z) <= SLOTS, "zygote: at most one seed per slot: %r" % z)
    check(len(r) == 3 * SLOTS, "exec: a seed per run: %r" % r)
    # Documented difference: the start-up objects are frozen for the collector.
    code = "import gc, sys; print(gc.get_freeze_count() > 0, gc.isenabled(), 'gc' in sys.modules)"
    check(run(Z, code)["stdout"] == "True True True\n", "zygote: start-up objects frozen")
    check(run(R, code)["stdout"] == "False True True\n", "exec: nothing frozen")


def test_session_prompt_before_input():
    import websocket  # Debian's python3-websocket
    ws = websocket.create_connection("ws://127.0.0.1:%d/api/code/session" % Z.port, timeout=20)
    try:
        ws.send(json.dumps({"type": "start", "language": "python",
                            "code": 'n = input("Name? ")\nprint(f"Hello, {n}!")'}))
        out = ""
        while "Name? " not in out:
            f = json.loads(ws.recv())
            if f["type"] == "stdout":
                out += f["data"]
            check(f["type"] != "exit", "exited before input: %r" % f)
        check(out == "Name? ", "only the prompt before input: %r" % out)
        ws.send(json.dumps({"type": "stdin", "data": "Ada\n"}))
        while True:
            f = json.loads(ws.recv())
            if f["type"] == "stdout":
                out += f["data"]
            if f["type"] == "exit":
                break
        check(out == "Name? Hello, Ada!\n" and f["exitCode"] == 0, "session", f)
    finally:
        ws.close()


def test_without_launcher_py_python_still_runs(build):
    tmp = tempfile.mkdtemp(prefix="cg-nozygote-")
    try:
        for b in ("gateway", "executor", "launcher"):
            shutil.copy2(os.path.join(build, b), tmp)
        g = Gateway(tmp, ["--runtime", "local", "--slots", "1"], name="nozy").start()
        try:
            d = run(g, "import os; print(1, os.readlink('/proc/self/exe'))")
            check(d["status"] == "ok" and d["stdout"].startswith("1 ") and "python3" in d["stdout"],
                  "exec fallback", d)
            msgs = [l.get("msg", "") for l in g.log_lines()]
            check(any("launcher-py: Python runs start python3" in m for m in msgs),
                  "the fallback is logged: %r" % [m for m in msgs if "ython" in m])
        finally:
            check(g.stop() == 0, "exit status")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    global Z, R, DOCKER
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    extra = sys.argv[2:] or ["--runtime", "local"]
    DOCKER = "docker" in extra
    r = Runner("zygote (%s)" % " ".join(extra))
    Z = Gateway(build, extra + ["--slots", str(SLOTS)], name="zy").start()
    # The reference runs on the same runtime (the image's Python differs from the host's).
    R = Gateway(build, extra + ["--slots", str(SLOTS)], env={"EXECUTOR_ZYGOTE": "0"},
                name="zyref").start()
    try:
        for t in (test_runs_fork_from_the_zygote, test_start_state_equal_to_fresh_python,
                  test_args_and_module_next_to_main_imports, test_tracebacks_and_syntax_errors,
                  test_exit_codes_systemexit_atexit, test_signals_and_keyboard_interrupt,
                  test_stdin_prompts_and_unbuffered_output, test_memory_limit_means_the_same,
                  test_random_differs_between_runs, test_nothing_of_a_run_reaches_the_next,
                  test_no_earlier_request_in_a_run_memory,
                  test_hash_seed_and_frozen_objects_as_documented,
                  test_session_prompt_before_input):
            r.run(t, timeout=240)
    finally:
        rz, rr = Z.stop(), R.stop()

    def clean_exit():
        check(rz in (0, None) and rr == 0, "gateway exit status %s / %s" % (rz, rr))
        reports = Z.sanitizer_reports() + R.sanitizer_reports()
        check(not reports, "sanitizer reports:\n" + "\n".join(reports[:20]))
    r.run(clean_exit)
    if not DOCKER:
        r.run(test_without_launcher_py_python_still_runs, build, timeout=240)
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
