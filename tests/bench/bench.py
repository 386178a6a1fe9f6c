#!/usr/bin/python3
"""The benchmark behind `make bench`: one run, one machine, every number side by side.

    /usr/bin/python3 tests/bench/bench.py [--build DIR] [--quick] [--runtimes local,docker]
                                          [--no-profile]

Measures, in this order:
  1. the floor: bare process starts on the host (python3 -c 'print(1)', node -e, g++ compile +
     run of a hello program, g++ with <bits/stdc++.h>), plus what the executor really starts
     (python3 -I -u main.py) and the same under our launcher (the per-run sandbox process);
  2. the gateway on each runtime available (local always; docker when the daemon answers):
     start-up time, idle memory, sequential latency per language over one keep-alive connection
     (C++ with the same source each time: compile cache), the C++ compile cases, throughput and
     latency at 1, 2, 4, 8 and 16 concurrent keep-alive clients (wrk + tests/bench/post.lua) with
     the CPU time per process during the 8-client level (perf), an overload burst beyond the
     queue, memory under load, and (strace) the syscalls of a request in the gateway and executor;
  3. the async queue (tests/bench/async_bench.py): submissions accepted and completed per
     second, and the latency the queue adds over a synchronous call (p50), in the same run;
  4. the naive alternative: `docker run --rm <our python image> python3 -c 'print(1)'`.
Besides, for the performance issue's targets (issue 15; every reference measured in this run):
  - latency back-to-back and after an idle pause (PAUSE_MS before each request) per language;
  - Python against a bare python3 start paired request by request, and throughput at 8 clients
    against the bare-start ceiling (as many parallel loops of bare python3 starts as cores);
  - JavaScript against a bare start of the same Node (the pinned one the executors run,
    NODE_PATHS, else `node` on PATH), paired request by request;
  - C++ new small programs (a fresh source each time: no cache hit) against plain g++ -O2
    compile + run of the same source, paired;
  - the cost of 1 MiB of output, the gateway's RSS peak at 16 clients;
  - a classroom burst on the default sizing: 30 programs at once that sleep 2 s and read input,
    then 30 CPU-bound 0.5 s programs (all must be answered 200).
Then prints the tables and the issue's targets next to the measured values (tests/bench/report.py), and writes
build/bench/results.json (and a time-stamped copy). A benchmark, not a test: it reports, it does
not fail on a missed target. Only the Python standard library is used.
"""
import argparse
import concurrent.futures
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, HERE)
from harness import Gateway  # noqa: E402
from report import report  # noqa: E402
from async_bench import async_bench  # noqa: E402

CLEAN_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
HELLO = {
    "python": "print(1)",
    "javascript": "console.log(1)",
    "cpp": '#include <iostream>\nint main(){std::cout << 1 << "\\n";}\n',
}
BITS = '#include <bits/stdc++.h>\nint main(){std::vector<int> v{3,1,2}; std::sort(v.begin(), v.end()); std::cout << v[0] << "\\n";}\n'
PY_BARE = ["/usr/bin/python3", "-c", "print(1)"]
PAUSE_MS = 50                  # the idle pause before each request of the "after a pause" rows
# Where the executors' Node lives (scripts/install-node.sh); the first that exists is the
# reference of the JavaScript row, else `node` on PATH (what the executor runs without it).
NODE_PATHS = ("/usr/local/lib/codegate/node/bin/node",)
# C++ new small program: iostream and a loop; a fresh comment each time defeats the compile cache.
CPP_SMALL = ('#include <iostream>\nint main(){long s = 0; for (int i = 0; i < 1000; i++) s += i;'
             ' std::cout << s << "\\n";}\n')
CPP_SMALL_OUT = "499500\n"
CLASS = 30
SLEEPER = "import time\ntime.sleep(2)\nname = input()\nprint('hello', name)\n"
CPU_BOUND = ("import time\nt0 = time.process_time()\nwhile time.process_time() - t0 < 0.5:\n"
             "    pass\nprint('done')\n")
LEVELS = (1, 2, 4, 8, 16)
OVERLOAD_CLIENTS = 96          # beyond executors x slots + queue-max (1 x 4 + 64 by default)
LOAD_SECONDS, OVERLOAD_SECONDS = 8, 5


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


# ---- statistics ----------------------------------------------------------------------------

def pct(xs, p):
    """Nearest-rank percentile of xs (p in 0..100)."""
    xs = sorted(xs)
    if not xs:
        return None
    k = max(0, min(len(xs) - 1, int(-(-p * len(xs) // 100)) - 1))
    return xs[k]


def summary(ms):
    return {"n": len(ms), "p50": round(pct(ms, 50), 2), "p95": round(pct(ms, 95), 2),
            "p99": round(pct(ms, 99), 2), "min": round(min(ms), 2), "max": round(max(ms), 2),
            "mean": round(sum(ms) / len(ms), 2)}


# ---- the floor: processes started directly on the host -------------------------------------

def time_spawn(argv, runs, warmup, env, cwd=None):
    """Fallback without hyperfine: posix_spawn + waitpid, wall-clock per run, in ms."""
    out = []
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        for i in range(runs + warmup):
            fa = [(os.POSIX_SPAWN_DUP2, devnull, 0), (os.POSIX_SPAWN_DUP2, devnull, 1),
                  (os.POSIX_SPAWN_DUP2, devnull, 2)]
            t0 = time.perf_counter()
            if cwd:
                pid = os.posix_spawn("/bin/sh", ["sh", "-c", 'cd "$0" && exec "$@"', cwd] + argv,
                                     env, file_actions=fa)
            else:
                pid = os.posix_spawn(argv[0], argv, env, file_actions=fa)
            _, st = os.waitpid(pid, 0)
            dt = (time.perf_counter() - t0) * 1000
            if os.waitstatus_to_exitcode(st) != 0:
                raise RuntimeError("%s failed" % argv)
            if i >= warmup:
                out.append(dt)
    finally:
        os.close(devnull)
    return out


def time_cmd(argv, runs, warmup=3, env=None, cwd=None):
    """Times a command `runs` times; hyperfine (no shell) when installed. Returns a summary."""
    env = env or CLEAN_ENV
    if shutil.which("hyperfine"):
        with tempfile.NamedTemporaryFile(suffix=".json") as f:
            cmd = " ".join("'%s'" % a.replace("'", "'\\''") for a in argv)
            r = subprocess.run(["hyperfine", "-N", "--style", "none", "--warmup", str(warmup),
                                "--runs", str(runs), "--export-json", f.name, cmd],
                               env=env, cwd=cwd, capture_output=True, text=True, timeout=900)
            if r.returncode != 0:
                raise RuntimeError("hyperfine %s: %s" % (cmd, r.stderr[-500:]))
            times = json.load(open(f.name))["results"][0]["times"]
        s = summary([t * 1000 for t in times])
        s["tool"] = "hyperfine"
        return s
    s = summary(time_spawn(argv, runs, warmup, env, cwd))
    s["tool"] = "posix_spawn"
    return s


def pause_floor(quick):
    """The machine's own price of an idle moment: bare process starts back-to-back and after
    PAUSE_MS of sleep, in interleaved blocks of 10 (the reference of row 0: what any start
    pays after a pause, with no gateway at all)."""
    out = {}
    for name, argv in (("/bin/true", ["/bin/true"]),
                       ("python3 -c print(1)", ["/usr/bin/python3", "-c", "print(1)"])):
        b2b, pause = [], []
        time_spawn(argv, 3, 0, CLEAN_ENV)
        for _ in range(3 if quick else 6):
            b2b += time_spawn(argv, 10, 0, CLEAN_ENV)
            for _ in range(10):
                time.sleep(PAUSE_MS / 1000)
                pause += time_spawn(argv, 1, 0, CLEAN_ENV)
        out[name] = {"b2b": summary(b2b), "pause": summary(pause)}
    return out


def floor(build, quick):
    """Bare starts on the host, and the two layers the executor adds around a run."""
    r = {}
    node = shutil.which("node", path=CLEAN_ENV["PATH"])
    gxx = shutil.which("g++", path=CLEAN_ENV["PATH"])
    n = 30 if quick else 100
    log("floor: python3, node, g++ (hyperfine)" if shutil.which("hyperfine") else "floor")
    r["python3 -c print(1)"] = time_cmd(["/usr/bin/python3", "-c", "print(1)"], n)
    if node:
        r["node -e console.log(1)"] = time_cmd([node, "-e", "console.log(1)"], n // 2)
    d = tempfile.mkdtemp(prefix="codegate-bench-")
    try:
        os.chmod(d, 0o755)
        for name, text in (("main.py", HELLO["python"]), ("h.cpp", HELLO["cpp"]), ("b.cpp", BITS)):
            with open(os.path.join(d, name), "w") as f:
                f.write(text)
        # What the executor starts for a Python run, and the same under the launcher (run as an
        # unused uid, as the executor does when root): the launcher's own cost is the difference.
        r["python3 -I -u main.py"] = time_cmd(["/usr/bin/python3", "-I", "-u", "main.py"], n, cwd=d)
        launcher = os.path.join(build, "launcher")
        if os.path.exists(launcher):
            lau = [os.path.abspath(launcher)]
            if os.geteuid() == 0:
                lau += ["--uid", "99999", "--gid", "99999"]
            lau += ["--cwd", d, "--wall-ms", "5000", "--cpu-ms", "6000", "--as-mb", "320",
                    "--nofile", "64", "--nproc", "64", "--fsize-mb", "64", "--stack-mb", "64",
                    "--env", "PATH=/usr/local/bin:/usr/bin:/bin", "--env", "LANG=C.UTF-8",
                    "--", "/usr/bin/python3", "-I", "-u", "main.py"]
            r["launcher + python3 main.py"] = time_cmd(lau, n, cwd=d)
        if gxx:
            r["g++ -O2 hello + run"] = time_cmd(
                ["/bin/sh", "-c", "%s -std=c++17 -O2 -pipe -o h h.cpp && ./h" % gxx],
                5 if quick else 10, warmup=1, cwd=d)
            r["g++ -O2 <bits/stdc++.h>"] = time_cmd(
                [gxx, "-std=c++17", "-O2", "-pipe", "-o", "b", "b.cpp"], 3 if quick else 5,
                warmup=1, cwd=d)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return r


# ---- memory --------------------------------------------------------------------------------

def proc_status(pid):
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "Threads"):
                    out[k] = int(v.split()[0])
    except (OSError, ValueError):
        pass
    return out


def children(pid):
    kids = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                kids += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return kids


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return ""


def environ_get(pid, key):
    try:
        with open("/proc/%d/environ" % pid, "rb") as f:
            for kv in f.read().split(b"\0"):
                if kv.startswith(key.encode() + b"="):
                    return kv.split(b"=", 1)[1].decode()
    except OSError:
        pass
    return None


def find_executor(pid, depth=3):
    """The executor process at or below pid (docker: under docker-init)."""
    if comm(pid) == "executor":
        return pid
    if depth == 0:
        return None
    for k in children(pid):
        e = find_executor(k, depth - 1)
        if e:
            return e
    return None


def cgroup_memory_kb(pid):
    """Memory charged to pid's cgroup (v2 memory.current, or v1 memory.usage_in_bytes)."""
    try:
        with open("/proc/%d/cgroup" % pid) as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        _, ctrl, path = line.split(":", 2)
        for cand in (("/sys/fs/cgroup/memory" + path + "/memory.usage_in_bytes") if "memory" in ctrl.split(",") else None,
                     ("/sys/fs/cgroup" + path + "/memory.current") if ctrl == "" else None,
                     ("/sys/fs/cgroup/unified" + path + "/memory.current") if ctrl == "" else None):
            if cand and os.path.exists(cand):
                with open(cand) as f:
                    return int(f.read()) // 1024
    return None


class Executors:
    """Where the executor processes of a gateway are, per language."""

    def __init__(self, g, runtime):
        self.g, self.runtime = g, runtime
        self.pids = {}       # name -> executor pid
        self.cg_pid = {}     # name -> a pid in the container's cgroup (docker)
        self.images = {}     # language -> image (docker)
        self.containers = {}  # name -> container name (docker)
        self.refresh()

    def refresh(self):
        self.pids.clear()
        if self.runtime == "local":
            for k in children(self.g.proc.pid):
                if comm(k) == "executor":
                    lang = environ_get(k, "EXECUTOR_LANGUAGE") or str(k)
                    self.pids[lang if lang not in self.pids else "%s-%d" % (lang, k)] = k
            return
        names = subprocess.run(["docker", "ps", "--filter", "label=codegate.instance=" + self.g.instance,
                                "--format", "{{.Names}}"], capture_output=True, text=True,
                               timeout=60).stdout.split()
        for n in sorted(names):
            r = subprocess.run(["docker", "inspect", "-f", "{{.State.Pid}} {{.Config.Image}}", n],
                               capture_output=True, text=True, timeout=60).stdout.split()
            if len(r) != 2:
                continue
            short = n[len("codegate-%s-" % self.g.instance):] or n
            top = int(r[0])
            self.cg_pid[short] = top
            self.containers[short] = n
            e = find_executor(top)
            if e:
                self.pids[short] = e
            self.images[short.rsplit("-", 1)[0]] = r[1]

    def sample(self):
        out = {}
        for name, pid in self.pids.items():
            s = proc_status(pid)
            out[name] = {"rss_kb": s.get("VmRSS")}
            if name in self.cg_pid:
                out[name]["container_kb"] = cgroup_memory_kb(self.cg_pid[name])
        return out


def memory_now(g, ex):
    s = proc_status(g.proc.pid)
    return {"gateway_kb": s.get("VmRSS"), "gateway_threads": s.get("Threads"), "executors": ex.sample()}


class Sampler(threading.Thread):
    """Peak memory of the gateway and the executors while a load runs (every 200 ms)."""

    def __init__(self, g, ex):
        super().__init__(daemon=True)
        self.g, self.ex = g, ex
        self.stop_ev = threading.Event()
        self.peak = {"gateway_kb": 0, "gateway_threads": 0, "executors": {}}

    def run(self):
        while not self.stop_ev.is_set():
            m = memory_now(self.g, self.ex)
            for k in ("gateway_kb", "gateway_threads"):
                self.peak[k] = max(self.peak[k], m[k] or 0)
            for name, v in m["executors"].items():
                p = self.peak["executors"].setdefault(name, {})
                for k, x in v.items():
                    p[k] = max(p.get(k) or 0, x or 0)
            self.stop_ev.wait(0.2)

    def stop(self):
        self.stop_ev.set()
        self.join()
        return self.peak


def merge_peaks(a, b):
    if not a:
        return b
    out = {"gateway_kb": max(a["gateway_kb"], b["gateway_kb"]),
           "gateway_threads": max(a["gateway_threads"], b["gateway_threads"]), "executors": {}}
    for name in set(a["executors"]) | set(b["executors"]):
        x, y = a["executors"].get(name, {}), b["executors"].get(name, {})
        out["executors"][name] = {k: max(x.get(k) or 0, y.get(k) or 0) for k in set(x) | set(y)}
    return out


# ---- the gateway ---------------------------------------------------------------------------

def processes_started():
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("processes "):
                return int(line.split()[1])
    return 0


def post_timed(conn, body):
    """POST an execute request: (status, answer document, ms from sending the request to the
    answer's last byte). The client's own JSON parsing comes after the clock stops: it is not
    the gateway's time (a megabyte of output takes Python's json a few ms)."""
    payload = json.dumps(body)
    t0 = time.perf_counter()
    conn.request("POST", "/api/code/execute", payload, {"Content-Type": "application/json"})
    r = conn.getresponse()
    data = r.read()
    ms = (time.perf_counter() - t0) * 1000
    try:
        doc = json.loads(data)
    except ValueError:
        doc = None
    return r.status, doc, ms


def post(conn, body):
    st, doc, _ = post_timed(conn, body)
    return st, doc


BIG_OUTPUT = "import sys\nsys.stdout.write('x' * 1000000)\n"


def sequential(g, lang, code, n, warmup=5, paired=None, expect="1\n", pause_ms=0):
    """n requests one after the other on one keep-alive connection, after `warmup` unmeasured.
    With paired (an argv), that command is also started directly before each request, so that
    the ratio of the two does not depend on how busy the machine was at another moment. With
    pause_ms, the client sleeps that long before each request (after the paired start): the
    latency a student sees after the gateway was idle a moment."""
    conn = http.client.HTTPConnection("127.0.0.1", g.port, timeout=120)
    lat, run_ms, counts = [], [], {"ok": 0, "bad200": 0, "s503": 0, "other": 0}
    bare = []
    first = None
    p0 = None
    for i in range(n + warmup):
        if i == warmup:
            p0 = processes_started()
        if paired and i >= warmup:
            bare += time_spawn(paired, 1, 0, CLEAN_ENV)
        if pause_ms:
            time.sleep(pause_ms / 1000)
        st, doc, dt = post_timed(conn, {"language": lang, "code": code})
        if first is None:
            first = {"latency_ms": round(dt, 2), "compile_ms": ((doc or {}).get("data") or {}).get("compile", {}).get("durationMs")}
        if i < warmup:
            continue
        lat.append(dt)
        data = (doc or {}).get("data") or {}
        if st == 200 and data.get("status") == "ok" and data.get("stdout") == expect:
            counts["ok"] += 1
            run_ms.append(data.get("durationMs", 0))
        elif st == 200:
            counts["bad200"] += 1
        elif st == 503:
            counts["s503"] += 1
        else:
            counts["other"] += 1
    procs = processes_started() - p0 - (n if paired else 0)
    conn.close()
    s = summary(lat)
    s.update(counts)
    s["first"] = first
    s["run_p50_ms"] = pct(run_ms, 50) if run_ms else None
    s["processes_per_request"] = round(procs / n, 2)
    if paired:
        s["paired_bare"] = summary(bare)
    return s


def pause_blocks(g, lang, code, blocks, per=10):
    """Row 0: the same hello request back-to-back and after a PAUSE_MS idle pause, in
    interleaved blocks (per back-to-back, then per paused, `blocks` times, after a warm-up), on
    one keep-alive connection and with nothing else between requests: (b2b summary, paused
    summary). (The sequential rows are paired with bare starts, which leave the caches cold.)"""
    conn = http.client.HTTPConnection("127.0.0.1", g.port, timeout=120)
    b2b, paused = [], []
    try:
        for _ in range(5):
            post_timed(conn, {"language": lang, "code": code})
        for _ in range(blocks):
            for pause, into in ((0, b2b), (PAUSE_MS, paused)):
                for _ in range(per):
                    if pause:
                        time.sleep(pause / 1000)
                    st, doc, dt = post_timed(conn, {"language": lang, "code": code})
                    if st == 200 and ((doc or {}).get("data") or {}).get("status") == "ok":
                        into.append(dt)
    finally:
        conn.close()
    return summary(b2b), summary(paused)


def output_cost(g, n):
    """What 1 MB of output adds to an answer (row 5): print(1) and the 1 MB program one after
    the other, n pairs, so that both p50s come from the same minutes (a slow moment shifts
    both). Each is timed to the answer's last byte."""
    conn = http.client.HTTPConnection("127.0.0.1", g.port, timeout=120)
    small, big, bad = [], [], 0
    for i in range(n + 3):
        st1, d1, t1 = post_timed(conn, {"language": "python", "code": HELLO["python"]})
        st2, d2, t2 = post_timed(conn, {"language": "python", "code": BIG_OUTPUT})
        ok = st1 == 200 and st2 == 200 and ((d2 or {}).get("data") or {}).get("stdout") == "x" * 1000000
        if not ok:
            bad += 1
        elif i >= 3:
            small.append(t1)
            big.append(t2)
    conn.close()
    return {"print1": summary(small), "big": summary(big), "bad": bad,
            "bytes": 1000000} if small else {"bad": bad}


def node_path():
    """The Node the executors run: the pinned install (NODE_PATHS), else `node` on PATH."""
    for p in NODE_PATHS:
        if os.access(p, os.X_OK):
            return p
    return shutil.which("node", path=CLEAN_ENV["PATH"])


def bare_ceiling(argv, seconds):
    """Bare starts per second with as many parallel loops of argv as cores: what the machine
    can start at most without any gateway (the ceiling of issue 15, target 1)."""
    cores = os.cpu_count() or 1
    stop = time.perf_counter() + seconds
    counts = [0] * cores

    def loop(k):
        devnull = os.open(os.devnull, os.O_RDWR)
        fa = [(os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)]
        try:
            while time.perf_counter() < stop:
                pid = os.posix_spawn(argv[0], argv, CLEAN_ENV, file_actions=fa)
                os.waitpid(pid, 0)
                counts[k] += 1
        finally:
            os.close(devnull)
    t0 = time.perf_counter()
    th = [threading.Thread(target=loop, args=(k,)) for k in range(cores)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    secs = time.perf_counter() - t0
    return {"loops": cores, "seconds": round(secs, 2), "starts": sum(counts),
            "per_s": round(sum(counts) / secs, 1)}


def cpp_fresh(g, n):
    """C++ new small programs: a fresh source each time (no compile-cache hit), through the
    gateway, paired with plain g++ -O2 compile + run of the same source on this machine."""
    gxx = shutil.which("g++", path=CLEAN_ENV["PATH"])
    conn = http.client.HTTPConnection("127.0.0.1", g.port, timeout=180)
    lat, bare, compile_ms, ok = [], [], [], 0
    d = tempfile.mkdtemp(prefix="codegate-bench-cpp-")
    try:
        for i in range(n + 1):
            src = "// fresh %d %.6f\n%s" % (i, time.time(), CPP_SMALL)
            if gxx and i > 0:
                with open(os.path.join(d, "m.cpp"), "w") as f:
                    f.write(src)
                bare += time_spawn(["/bin/sh", "-c", "%s -std=c++17 -O2 -o m m.cpp && ./m >/dev/null" % gxx],
                                   1, 0, CLEAN_ENV, cwd=d)
            st, doc, dt = post_timed(conn, {"language": "cpp", "code": src})
            if i == 0:
                continue  # the first warms the executor's compiler (and its page cache)
            lat.append(dt)
            data = (doc or {}).get("data") or {}
            if st == 200 and data.get("status") == "ok" and data.get("stdout") == CPP_SMALL_OUT:
                ok += 1
                c = data.get("compile") or {}
                if c.get("durationMs") is not None:
                    compile_ms.append(c["durationMs"])
    finally:
        conn.close()
        shutil.rmtree(d, ignore_errors=True)
    return {"gateway": summary(lat), "bare_gxx": summary(bare) if bare else None,
            "compile_ms": summary(compile_ms) if compile_ms else None, "ok": ok, "n": n}


def classroom(g):
    """Issue 15, target 6, on the gateway's default sizing: CLASS requests at once of a program
    that sleeps 2 s and reads its input, then CLASS CPU-bound 0.5 s programs at once."""
    def burst(bodies, expect):
        def one(a):
            i, body = a
            t0 = time.perf_counter()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", g.port, timeout=300)
                st, doc = post(conn, body)
                conn.close()
            except OSError:
                st, doc = 0, None
            data = (doc or {}).get("data") or {}
            good = st == 200 and data.get("status") == "ok" and data.get("stdout") == expect(i)
            return st, good, (time.perf_counter() - t0) * 1000
        with concurrent.futures.ThreadPoolExecutor(len(bodies)) as ex:
            res = list(ex.map(one, enumerate(bodies)))
        lat = [r[2] for r in res]
        out = {"n": len(res), "http200": sum(1 for r in res if r[0] == 200),
               "ok": sum(1 for r in res if r[1]), "s503": sum(1 for r in res if r[0] == 503)}
        out.update({k: v for k, v in summary(lat).items() if k in ("p50", "p99", "max")})
        return out
    r = {"sizing": readyz_sizing(g)}
    r["sleepers"] = burst([{"language": "python", "code": SLEEPER, "stdin": "s%d\n" % i}
                           for i in range(CLASS)], lambda i: "hello s%d\n" % i)
    r["cpu_bound"] = burst([{"language": "python", "code": CPU_BOUND}] * CLASS, lambda i: "done\n")
    return r


def readyz_sizing(g):
    """The sizing the gateway chose (GET /readyz "sizing"), or {} from an older gateway."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", g.port, timeout=10)
        conn.request("GET", "/readyz")
        doc = json.loads(conn.getresponse().read())
        conn.close()
        return doc.get("sizing") or {}
    except (OSError, ValueError):
        return {}


IN_IMAGE_TIMERS = {  # language -> (timer argv in its image, the bare start it times)
    "python": (["python3", "-c", "IN_IMAGE_PY"], ["/usr/bin/python3", "-c", "print(1)"]),
    "javascript": (["node", "-e", "IN_IMAGE_JS"], ["node", "-e", "console.log(1)"]),
}


def paired_in_image(g, container, rounds, per_round, lang="python"):
    """Docker: the gateway's p50 for lang's hello program against its interpreter started
    inside the running executor container (the same binary and file system), in interleaved
    blocks: a timing loop of per_round starts by `docker exec`, then per_round requests, `rounds`
    times. (The JavaScript timer is Node's spawnSync, which forks a Node process: a little
    dearer than Python's posix_spawn.)"""
    timer, argv = IN_IMAGE_TIMERS[lang]
    timer = [{"IN_IMAGE_PY": IN_IMAGE_PY, "IN_IMAGE_JS": IN_IMAGE_JS}.get(t, t) for t in timer]
    img, gw = [], []
    conn = http.client.HTTPConnection("127.0.0.1", g.port, timeout=120)
    for _ in range(rounds):
        r = subprocess.run(["docker", "exec", container] + timer + [json.dumps(argv), str(per_round)],
                           capture_output=True, text=True, timeout=300)
        try:
            img += json.loads(r.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            log("docker exec timing failed: %s" % (r.stderr or r.stdout)[-300:])
            return None
        for _ in range(per_round):
            st, _, dt = post_timed(conn, {"language": lang, "code": HELLO[lang]})
            if st == 200:
                gw.append(dt)
    conn.close()
    return {"in_image": summary(img), "gateway": summary(gw)}


def compile_cases(g, runs):
    """C++: <bits/stdc++.h> compiled by the gateway (a new source each time, so no cache hit),
    and the same source again (cache hit)."""
    conn = http.client.HTTPConnection("127.0.0.1", g.port, timeout=120)
    comp, lat = [], []
    src = None
    for i in range(runs):
        src = "// bench %d %f\n%s" % (i, time.time(), BITS)
        t0 = time.perf_counter()
        st, doc = post(conn, {"language": "cpp", "code": src})
        lat.append((time.perf_counter() - t0) * 1000)
        c = ((doc or {}).get("data") or {}).get("compile") or {}
        if st == 200 and c.get("status") == "ok":
            comp.append(c.get("durationMs"))
    hits = []
    for _ in range(5):
        t0 = time.perf_counter()
        st, doc = post(conn, {"language": "cpp", "code": src})
        if st == 200:
            hits.append((time.perf_counter() - t0) * 1000)
    conn.close()
    return {"bits_compile_ms": summary(comp) if comp else None,
            "bits_latency_ms": summary(lat),
            "bits_repeat_latency_ms": summary(hits) if hits else None}


def metrics(g):
    """The gateway's Python request/queue/run sums and counts from GET /metrics."""
    out = {}
    try:
        conn = http.client.HTTPConnection("127.0.0.1", g.port, timeout=10)
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
        conn.close()
    except OSError:
        return out
    for line in text.splitlines():
        for name in ("request_duration", "queue_wait", "run_duration"):
            for kind in ("sum", "count"):
                key = 'codegate_%s_seconds_%s{language="python"} ' % (name, kind)
                if line.startswith(key):
                    out[name + "_" + kind] = float(line[len(key):])
    return out


def metrics_delta(a, b):
    """Mean server-side times (ms) between two /metrics scrapes."""
    out = {}
    for name in ("request_duration", "queue_wait", "run_duration"):
        n = b.get(name + "_count", 0) - a.get(name + "_count", 0)
        if n > 0:
            out[name + "_mean_ms"] = round((b[name + "_sum"] - a[name + "_sum"]) / n * 1000, 1)
    return out


PERF_GROUPS = (("python3", ("python3",)), ("launcher", ("launcher",)), ("executor", ("executor",)),
               ("gateway", ("gateway", "MHD-")), ("wrk", ("wrk",)),
               ("docker daemons", ("dockerd", "containerd", "docker-init", "runc")))


def perf_cpu(seconds, out_file):
    """perf record -a for `seconds`; returns CPU seconds by process group (None without perf)."""
    if not shutil.which("perf"):
        return None
    freq = 499
    r = subprocess.run(["perf", "record", "-a", "-F", str(freq), "-o", out_file, "--", "sleep", str(seconds)],
                       capture_output=True, text=True, timeout=seconds + 60)
    if r.returncode != 0:
        return None
    rep = subprocess.run(["perf", "report", "-i", out_file, "--sort", "comm", "--stdio", "-n", "-g", "none"],
                         capture_output=True, text=True, timeout=120).stdout
    groups = {name: 0.0 for name, _ in PERF_GROUPS}
    groups["kernel idle"] = groups["other processes"] = 0.0
    for line in rep.splitlines():
        w = line.split()
        if len(w) < 3 or line.startswith("#") or not w[0].endswith("%"):
            continue
        samples, comm_ = int(w[1]), " ".join(w[2:])
        cpu_s = samples / freq
        for name, prefixes in PERF_GROUPS:
            if any(comm_.startswith(p) for p in prefixes):
                groups[name] += cpu_s
                break
        else:
            groups["kernel idle" if comm_ == "swapper" else "other processes"] += cpu_s
    return {k: round(v, 2) for k, v in groups.items()}


def wrk(g, clients, seconds, body=None, perf_file=None, timeout_s=10):
    if not shutil.which("wrk"):
        return None
    env = dict(os.environ)
    if body:
        env["BENCH_BODY"] = json.dumps(body)
    m0 = metrics(g)
    proc = subprocess.Popen(["wrk", "-t", "1", "-c", str(clients), "-d", "%ds" % seconds, "--timeout", "%ds" % timeout_s,
                             "-s", os.path.join(HERE, "post.lua"), g.url + "/api/code/execute"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    cpu = None
    if perf_file and seconds >= 4:
        # CPU time by process over the middle of the run, and the requests answered meanwhile.
        time.sleep(1)
        p0 = metrics(g)
        cpu = perf_cpu(seconds - 2, perf_file)
        p1 = metrics(g)
        if cpu:
            cpu["requests"] = int(p1.get("request_duration_count", 0) - p0.get("request_duration_count", 0))
    try:
        stdout, stderr = proc.communicate(timeout=seconds + timeout_s + 60)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
    r = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    server = metrics_delta(m0, metrics(g))
    for line in r.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            d = json.loads(line[len("BENCH_JSON "):])
            secs = d["duration_us"] / 1e6
            out = {"clients": clients, "seconds": round(secs, 2), "requests": d["requests"],
                   "rps": round(d["requests"] / secs, 1), "ok_rps": round(d["ok"] / secs, 1)}
            for k in ("p50", "p90", "p99", "max", "mean"):
                out[k] = round(d["lat_%s_us" % k] / 1000, 1)
            for k in ("ok", "bad200", "s503", "retry_after", "other", "timeouts"):
                out[k] = d[k]
            out["socket_errors"] = d["connect_err"] + d["read_err"] + d["write_err"]
            out["server"] = server
            bad = [x[len("BENCH_BAD "):] for x in (r.stderr or "").splitlines() if x.startswith("BENCH_BAD ")]
            if bad:
                out["bad_samples"] = bad[:5]
            if cpu:
                out["cpu_s"] = cpu
            return out
    return {"clients": clients, "error": (r.stderr or r.stdout)[-300:]}


def strace_burst(g, runtime, pid, follow, n, lang="python"):
    """strace -c on pid (with -f: all its threads and everything it starts) while n sequential
    requests run; returns calls per request for the top syscalls and the raw table's path."""
    out_file = os.path.join(g.build, "bench", "strace-%s-%s%s.txt" % (runtime, comm(pid), "-f" if follow else ""))
    cmd = ["strace", "-c", "-q", "-o", out_file, "-p", str(pid)]
    if follow:
        cmd.insert(1, "-f")
        # -f follows what starts from now on; the slots' long-lived launchers already run.
        for kid in children(pid):
            cmd += ["-p", str(kid)]
    tr = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    try:
        seq = sequential(g, lang, HELLO[lang], n, warmup=0)
    finally:
        tr.send_signal(2)
        try:
            tr.wait(30)
        except subprocess.TimeoutExpired:
            tr.kill()
            tr.wait()
    rows = []
    try:
        with open(out_file) as f:
            for line in f:
                w = line.split()
                if len(w) >= 5 and w[0][0].isdigit() and w[-1] != "total":
                    calls = int(w[3])
                    rows.append({"syscall": w[-1], "time_pct": float(w[0]), "seconds": float(w[1]),
                                 "per_request": round(calls / n, 1)})
    except OSError:
        pass
    total = sum(r["per_request"] for r in rows)
    top_calls = sorted(rows, key=lambda x: -x["per_request"])[:15]
    rows.sort(key=lambda x: -x["seconds"])
    return {"target": comm(pid), "follow_children": follow, "requests": n, "p50_under_strace": seq["p50"],
            "syscalls_per_request": round(total, 1), "top": rows[:12], "top_calls": top_calls, "raw": os.path.relpath(out_file, ROOT),
            "process_starts_per_request": round(sum(r["per_request"] for r in rows if r["syscall"] in ("execve",)), 2),
            "forks_per_request": round(sum(r["per_request"] for r in rows if r["syscall"] in ("clone", "clone3", "fork", "vfork")), 2)}


def gateway_bench(build, runtime, quick, do_profile):
    g = Gateway(build, ["--runtime", runtime], name="bench-" + runtime)
    r = {}
    log("%s: starting a gateway (log %s)" % (runtime, g.log_path))
    t0 = time.time()
    try:
        g.start(ready_timeout=1800)
        r["start_s"] = round(time.time() - t0, 2)
        time.sleep(1.5)
        ex = Executors(g, runtime)
        r["images"] = ex.images
        r["memory_idle"] = memory_now(g, ex)
        r["sizing"] = readyz_sizing(g)
        n = 40 if quick else 100
        node = node_path()
        r["node"] = node
        paired = {"python": PY_BARE, "javascript": [node, "-e", "console.log(1)"] if node else None}
        log("%s: sequential latency, %d requests per language" % (runtime, n))
        r["sequential"] = {}
        for lang in HELLO:
            r["sequential"][lang] = sequential(g, lang, HELLO[lang], n + (50 if lang == "python" and not quick else 0),
                                               paired=paired.get(lang))
        nb = 3 if quick else 6
        log("%s: latency back-to-back and after a %d ms idle pause, %d blocks of 10 + 10 per language"
            % (runtime, PAUSE_MS, nb))
        r["pause"], r["pause_b2b"] = {}, {}
        for lang in HELLO:
            r["pause_b2b"][lang], r["pause"][lang] = pause_blocks(g, lang, HELLO[lang], nb)
        log("%s: C++ new small programs against plain g++ -O2, paired" % runtime)
        r["cpp_fresh"] = cpp_fresh(g, 5 if quick else 12)
        # The same interpreter start with 1 MB of output: what moving output costs on the way back.
        r["sequential"]["python 1 MB out"] = sequential(g, "python", BIG_OUTPUT, 10 if quick else 30,
                                                        expect="x" * 1000000)
        log("%s: 1 MB of output against print(1), interleaved" % runtime)
        r["output_cost"] = output_cost(g, 15 if quick else 40)
        py_c = next((c for k, c in ex.containers.items() if k.startswith("python")), None)
        if py_c:
            log("%s: Python against python3 inside its container, interleaved" % runtime)
            r["paired_in_image"] = paired_in_image(g, py_c, 3 if quick else 5, 20 if quick else 30)
        js_c = next((c for k, c in ex.containers.items() if k.startswith("javascript")), None)
        if js_c:
            log("%s: JavaScript against node inside its container, interleaved" % runtime)
            r["paired_in_image_js"] = paired_in_image(g, js_c, 3 if quick else 5, 10 if quick else 20,
                                                      lang="javascript")
        log("%s: C++ <bits/stdc++.h>" % runtime)
        r["compile"] = compile_cases(g, 2 if quick else 3)
        r["load"] = []
        peak = None
        for c in LEVELS:
            secs = 3 if quick else LOAD_SECONDS
            log("%s: load, %d client(s), %d s" % (runtime, c, secs))
            s = Sampler(g, ex)
            s.start()
            r["load"].append(wrk(g, c, secs, perf_file=os.path.join(g.build, "bench", "perf-%s.data" % runtime)
                                 if c == 8 and do_profile else None))
            pk = s.stop()
            if c == 16:
                r["memory_peak_16"] = pk
            peak = merge_peaks(peak, pk)
        r["memory_load_peak"] = peak
        log("%s: classroom bursts, %d at once (sleep 2 s + input; 0.5 s of CPU)" % (runtime, CLASS))
        r["classroom"] = classroom(g)
        secs = 3 if quick else OVERLOAD_SECONDS
        z = r["sizing"]
        over = max(OVERLOAD_CLIENTS, z.get("executors", 1) * z.get("slots", 4) + z.get("queueMax", 64) + 32)
        wait_s = -(-z.get("queueWaitMs", 10000) // 1000)
        log("%s: overload, %d clients, %d s" % (runtime, over, secs))
        # The clients wait longer than the queue may hold a request: what is shed is a 503.
        r["overload"] = wrk(g, over, secs, timeout_s=wait_s + 15)

        time.sleep(2)
        r["memory_after"] = memory_now(g, ex)
        if do_profile and shutil.which("strace") and ex.pids:
            log("%s: strace -c bursts (gateway, executor, executor + children)" % runtime)
            py = next((p for k, p in ex.pids.items() if k.startswith("python")), None)
            r["strace"] = [strace_burst(g, runtime, g.proc.pid, True, 50)]
            if py:
                r["strace"] += [strace_burst(g, runtime, py, False, 50), strace_burst(g, runtime, py, True, 50)]
    finally:
        t1 = time.time()
        g.stop()
        r["stop_s"] = round(time.time() - t1, 2)
    return r


def docker_vs_local(build, quick):
    """Row 2 in the same minutes: a local and a Docker gateway up at once, the same hello
    request sent to one then the other in alternating blocks of 10, back-to-back and after the
    idle pause, for Python and C++ (a repeat: the compile cache answers). Returns
    {lang: {"local": {"b2b", "pause"}, "docker": {...}}} of summaries."""
    gws = {rt: Gateway(build, ["--runtime", rt], name="bench-both-" + rt) for rt in ("local", "docker")}
    out = {}
    try:
        for g in gws.values():
            g.start(ready_timeout=1800)
        conns = {rt: http.client.HTTPConnection("127.0.0.1", g.port, timeout=120) for rt, g in gws.items()}
        log("docker against local: alternating blocks, python and C++ repeats")
        for lang in ("python", "cpp"):
            xs = {rt: {"b2b": [], "pause": []} for rt in gws}
            body = {"language": lang, "code": HELLO[lang]}
            for rt in gws:
                for _ in range(5):
                    post_timed(conns[rt], body)
            for _ in range(3 if quick else 6):
                for mode, pause in (("b2b", 0), ("pause", PAUSE_MS)):
                    for rt in gws:
                        for _ in range(10):
                            if pause:
                                time.sleep(pause / 1000)
                            st, doc, dt = post_timed(conns[rt], body)
                            if st == 200 and ((doc or {}).get("data") or {}).get("status") == "ok":
                                xs[rt][mode].append(dt)
            out[lang] = {rt: {m: summary(v) for m, v in d.items()} for rt, d in xs.items()}
        for c in conns.values():
            c.close()
    finally:
        for g in gws.values():
            g.stop()
    return out


def docker_ok():
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=15).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


IN_IMAGE_PY = r"""
import json, os, sys, time
argv, n = json.loads(sys.argv[1]), int(sys.argv[2])
fd = os.open("/dev/null", os.O_RDWR)
xs = []
for i in range(n + 3):
    t0 = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"},
                         file_actions=[(os.POSIX_SPAWN_DUP2, fd, 1)])
    os.waitpid(pid, 0)
    if i >= 3:
        xs.append((time.perf_counter() - t0) * 1000)
print(json.dumps(xs))
"""
IN_IMAGE_JS = r"""
const {spawnSync} = require('child_process');
const argv = JSON.parse(process.argv[1]), n = +process.argv[2], xs = [];
for (let i = 0; i < n + 3; i++) {
  const t0 = process.hrtime.bigint();
  spawnSync(argv[0], argv.slice(1), {stdio: 'ignore', env: {PATH: '/usr/local/bin:/usr/bin:/bin'}});
  if (i >= 3) xs.push(Number(process.hrtime.bigint() - t0) / 1e6);
}
console.log(JSON.stringify(xs));
"""


def in_image(image, timer, argv, n):
    """Times argv n times inside the executor image (one docker run): the floor as the executor
    sees it, without the host's own interpreter builds and site hooks."""
    cmd = ["docker", "run", "--rm", "--network", "none", "--entrypoint", timer[0], image] + timer[1:] + \
        [json.dumps(argv), str(n)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    try:
        return summary(json.loads(r.stdout.strip().splitlines()[-1]))
    except (ValueError, IndexError):
        log("in-image timing failed: %s" % (r.stderr or r.stdout)[-300:])
        return None


def docker_run(image, quick):
    log("docker run --rm %s python3 -c 'print(1)'" % image)
    s = time_cmd(["docker", "run", "--rm", "--network", "none", image, "python3", "-c", "print(1)"],
                 5 if quick else 15, warmup=2, env=dict(os.environ))
    s["image"] = image
    return s


def async_available(build):
    """The async row needs redis-server and a gateway with --redis-url (docs/ASYNC.md)."""
    if not shutil.which("redis-server"):
        log("redis-server is not installed: the async queue row is skipped")
        return False
    h = subprocess.run([os.path.join(build, "gateway"), "--help"], capture_output=True, text=True)
    return "--redis-url" in h.stdout + h.stderr


def main():
    # `timeout` and Ctrl-C: unwind, so that the gateways started here are stopped (finally blocks).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    ap.add_argument("--runtimes", default="local,docker")
    ap.add_argument("--no-profile", action="store_true", help="skip the strace and perf passes")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    out_dir = os.path.join(build, "bench")
    os.makedirs(out_dir, exist_ok=True)
    t_start = time.time()
    R = {"meta": {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "kernel": os.uname().release,
                  "cores": os.cpu_count(), "loadavg_start": open("/proc/loadavg").read().split()[:3],
                  "quick": a.quick, "pause_ms": PAUSE_MS, "hyperfine": bool(shutil.which("hyperfine")), "wrk": bool(shutil.which("wrk"))}}
    if not R["meta"]["wrk"]:
        log("wrk is not installed: the load tests are skipped (apt-get install wrk)")
    R["floor"] = floor(build, a.quick)
    log("floor after a %d ms idle pause: /bin/true, python3" % PAUSE_MS)
    R["pause_floor"] = pause_floor(a.quick)
    log("bare-start ceiling: %d parallel loops of python3 -c 'print(1)'" % (os.cpu_count() or 1))
    R["ceiling"] = bare_ceiling(PY_BARE, 3 if a.quick else 5)
    want = a.runtimes.split(",")
    docker = "docker" in want and docker_ok()
    if "docker" in want and not docker:
        log("the Docker daemon does not answer: the docker runtime and `docker run` are skipped")
    for rt in ("local", "docker"):
        if rt in want and (rt == "local" or docker):
            try:
                R["gateway " + rt] = gateway_bench(build, rt, a.quick, not a.no_profile)
            except Exception as e:  # noqa: a runtime that fails is reported, the rest still runs
                log("%s runtime failed: %s" % (rt, e))
                R["gateway %s error" % rt] = str(e)
    if R.get("gateway local") and R.get("gateway docker"):
        try:
            R["docker_vs_local"] = docker_vs_local(build, a.quick)
        except Exception as e:  # noqa: reported, the rest still runs
            log("docker against local failed: %s" % e)
            R["docker_vs_local error"] = str(e)
    if "local" in want and async_available(build):
        try:
            R["async local"] = async_bench(build, a.quick, log)
        except Exception as e:  # noqa: reported, the rest still runs
            log("async queue bench failed: %s" % e)
            R["async local error"] = str(e)
    imgs = (R.get("gateway docker") or {}).get("images", {})
    if docker and imgs.get("python"):
        R["docker run"] = docker_run(imgs["python"], a.quick)
        log("floor inside the executor images")
        x = in_image(imgs["python"], ["python3", "-c", IN_IMAGE_PY], ["/usr/bin/python3", "-c", "print(1)"],
                     30 if a.quick else 100)
        if x:
            R["floor"]["python3 -c print(1), in the image"] = x
    if docker and imgs.get("javascript"):
        x = in_image(imgs["javascript"], ["node", "-e", IN_IMAGE_JS], ["node", "-e", "console.log(1)"],
                     10 if a.quick else 30)
        if x:
            R["floor"]["node -e console.log(1), in the image"] = x
    R["meta"]["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
    R["meta"]["seconds"] = round(time.time() - t_start, 1)
    report(R)
    for name in ("results.json", time.strftime("results-%Y%m%d-%H%M%S.json")):
        with open(os.path.join(out_dir, name), "w") as f:
            json.dump(R, f, indent=1)
    print("\n  took %.0f s; results in %s" % (R["meta"]["seconds"], os.path.join(out_dir, "results.json")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
