"""The machinery of the strict hostile suite (tests/integration/test_hostile_strict.py): the
gateway under test and what the suite learned about it at start, sending programs, the probe (what
the next run can see), the host-side scans, and Case - one hostile test with its aftermath checks.

The runner (test_hostile_strict.py) and the bespoke cases (hostile_bespoke.py) both use it; the
state below is set by the runner's main() before any case runs.
"""
import hashlib
import json
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ROOT, check, http  # noqa: E402

HOSTILE_DIR = os.path.join(ROOT, "tests", "hostile")
HERE = os.path.dirname(os.path.abspath(__file__))

G = None
RUNTIME = "local"
UID_RANGE = (0, 0)        # slot uids of this gateway: other uids' processes are not our business
STATE_DIR = None          # local runtime: /run/codegate-<instance>
EXECUTORS = 1
BASE = {}                 # language -> baseline probe latency (s)
PASSWD = {}               # language -> /etc/passwd hash as the probe saw it at start
HOST_FILES = {}           # path -> (sha256, mode, uid, gid) at start
HOST_IPS = []
LISTENERS = {}            # "loop" / "any" -> Listener
KNOWN = set()             # leftovers an earlier test already reported
SETUP_ERRORS = []         # normal requests that failed while the baselines were measured
LANGS = ("python", "javascript", "cpp", "c", "java")
COMPILED = ("cpp", "c", "java")  # a run compiles first (or takes the compile cache's program)
EXPECTED_ENV = {
    "python": {"PATH", "HOME", "TMPDIR", "LANG", "PYTHONDONTWRITEBYTECODE", "PYTHONIOENCODING",
               "MPLBACKEND"},
    "javascript": {"PATH", "HOME", "TMPDIR", "LANG", "NODE_OPTIONS", "NO_COLOR"},
    "cpp": {"PATH", "HOME", "TMPDIR", "LANG"},
    "c": {"PATH", "HOME", "TMPDIR", "LANG"},
    "java": {"PATH", "HOME", "TMPDIR", "LANG"},
}
KILL_SLACK = 5.0          # launcher kill budget (3 s) + answer
CPP_SLACK = 6.0           # a C++, C or Java run compiles first



# ---------------------------------------------------------------------------------------------
# the probe: what the next run can see (tests/hostile/probes/probe.<ext>)
# ---------------------------------------------------------------------------------------------

EXT = {"python": "py", "javascript": "js", "cpp": "cpp", "c": "c", "java": "java"}


def read_program(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


PROBES = {lang: read_program(os.path.join(HOSTILE_DIR, "probes", "probe." + ext)) for lang, ext in EXT.items()}



# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------

def short(d):
    if not isinstance(d, dict):
        return repr(d)[:1500]
    c = dict(d)
    for k in ("stdout", "stderr", "output"):
        if isinstance(c.get(k), str) and len(c[k]) > 600:
            c[k] = c[k][:300] + "...<%d chars>..." % len(c[k]) + c[k][-200:]
    if isinstance(c.get("compile"), dict):
        c["compile"] = {k: (v[:300] if isinstance(v, str) else v) for k, v in c["compile"].items()}
    return json.dumps(c)[:3000]


def new_marker():
    k = random.randint(0x10000000, 0x7fffffff)
    return "cgh%08x" % k, k


def metric(name):
    with urllib.request.urlopen(G.url + "/metrics", timeout=10) as r:
        text = r.read().decode()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def restarts():
    return metric("codegate_executor_restarts_total")


def send(lang, code, args=(), timeout_ms=3000, memory_mb=None, stdin=None, tests=None,
         http_timeout=120):
    body = {"language": lang, "code": code, "args": [str(a) for a in args], "timeoutMs": timeout_ms}
    if memory_mb is not None:
        body["memoryMb"] = memory_mb
    if stdin is not None:
        body["input"] = stdin
    if tests is not None:
        body["tests"] = tests
    t0 = time.time()
    st, doc, _ = G.execute(body, timeout=http_timeout)
    return st, doc, time.time() - t0


def probe(lang, marker=None, key=None, workdir="-"):
    """Runs the probe; returns (report or None, elapsed s, problem or None)."""
    if marker is None:
        marker, key = new_marker()  # a baseline: a marker nobody used (key 0 is IPC_PRIVATE)
    args = [marker[::-1], UID_RANGE[0], UID_RANGE[1], workdir or "-", key]
    st, doc, dt = send(lang, PROBES[lang], args, timeout_ms=10000)
    if st != 200 or not doc or doc.get("success") is not True:
        return None, dt, "the next request failed: HTTP %s %s" % (st, short(doc))
    d = doc["data"]
    if d["status"] != "ok":
        return None, dt, "the next request did not run normally: %s" % short(d)
    try:
        return json.loads(d["stdout"]), dt, None
    except ValueError:
        return None, dt, "probe output is not JSON: %s" % short(d)


def file_state(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
        st = os.stat(path)
        return (hashlib.sha256(data).hexdigest(), st.st_mode, st.st_uid, st.st_gid)
    except OSError as e:
        return ("error", e.errno)


def work_roots(lang):
    """Local runtime: the executors' work roots of this language."""
    return ["%s/work-%s-%d" % (STATE_DIR, lang, n) for n in range(EXECUTORS)]


def container(lang, n=0):
    return "codegate-%s-%s-%d" % (G.instance, lang, n)


# Seen from outside the slots (as root, on the host or in the executor's container): each slot's
# launcher is the first process of the slot's pid namespace, and its root is the slot's box; what
# the box's writable places, its work area (/box) and its IPC namespace hold, for every slot at
# once - a probe run inside one slot sees only its own.
SLOT_SCAN = r"""
for d in /proc/[0-9]*; do
  [ "$(cat $d/comm 2>/dev/null)" = launcher ] || continue
  grep -qE '^NSpid:.*[[:space:]]1$' $d/status 2>/dev/null || continue
  p=${d#/proc/}
  for t in tmp var/tmp dev/shm dev/mqueue box; do
    ls -A "$d/root/$t" 2>/dev/null | sed "s#^#$p /$t/#"
  done
  for k in shm msg sem; do
    nsenter -t $p -i cat /proc/sysvipc/$k 2>/dev/null | tail -n +2 | sed "s#^#$p ipc $k #"
  done
done
"""


def work_root_leftovers(lang):
    """What the slots of this language's executors hold between runs: files in their private
    places and work areas, SysV objects in their IPC namespaces (no run is in flight)."""
    out = []
    if RUNTIME == "local":
        r = subprocess.run(["sh", "-c", SLOT_SCAN], capture_output=True, text=True, timeout=30)
        mine = set(executor_launchers(lang))
        out += [l for l in r.stdout.splitlines() if l.split(" ", 1)[0] in mine]
    else:
        for n in range(EXECUTORS):
            r = subprocess.run(["docker", "exec", container(lang, n), "sh", "-c", SLOT_SCAN],
                               capture_output=True, text=True, timeout=30)
            if r.returncode != 0:
                out.append("docker exec (slot scan) failed: %s" % r.stderr.strip())
            out += ["%s: %s" % (container(lang, n), l) for l in r.stdout.splitlines()]
    return out


def children(pid):
    """The pids of pid's children (all its threads' children)."""
    out = []
    try:
        for t in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, t)) as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def executor_launchers(lang):
    """Local runtime: pids (as strings) of the slot launchers under this gateway's executors of
    lang (every descendant of those executors)."""
    found = []
    todo = [c for ex in executor_pids(lang) for c in children(ex)]
    while todo:
        p = todo.pop()
        found.append(str(p))
        todo += children(p)
    return found


def another_gateways(pid):
    """Unprivileged runs of every gateway started as the same user share its uid: is pid a
    descendant of a gateway other than ours (another suite's run on a shared machine)? A process
    of ours that left our gateway's tree has no gateway above it and stays ours."""
    for attempt in range(5):  # an ancestor that exits mid-walk (a dying fork bomb): walk again
        p, seen, broken = pid, 0, False
        while p > 1 and seen < 64:
            seen += 1
            try:
                with open("/proc/%d/stat" % p) as f:
                    stat = f.read()
                with open("/proc/%d/cmdline" % p, "rb") as f:
                    name = f.read().split(b"\0", 1)[0].rsplit(b"/", 1)[-1]
            except OSError:
                broken = True
                break
            if name == b"gateway":
                return p != G.proc.pid
            p = int(stat.rsplit(")", 1)[1].split()[1])
        if not broken or p == pid:
            return False
        time.sleep(0.05)
    return False


def slot_uid_procs():
    """Processes on this machine running as one of this gateway's slot uids (unprivileged: as
    the gateway's user, other than the gateway, its executors and the slots' launchers, and
    other than the runs of other gateways started as that user)."""
    out = []
    user_uid = None
    if G.as_user:
        import pwd
        user_uid = pwd.getpwnam(G.as_user).pw_uid
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/status" % p) as f:
                uids = [int(x) for x in [l for l in f if l.startswith("Uid:")][0].split()[1:]]
            with open("/proc/%s/cmdline" % p, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except (OSError, IndexError, ValueError):
            continue
        if user_uid is not None:
            ours = cmd.split(" ", 1)[0].rsplit("/", 1)[-1] in ("gateway", "executor", "launcher",
                                                                "setpriv")
            if user_uid in uids and not ours and not another_gateways(int(p)):
                out.append("pid %s uid %d: %s" % (p, uids[0], cmd[:160]))
        elif any(UID_RANGE[0] <= u < UID_RANGE[1] for u in uids):
            out.append("pid %s uid %d: %s" % (p, uids[0], cmd[:160]))
    return out


def host_marker_leftovers(marker):
    """Local runtime, seen as root from the host: processes and files carrying the marker."""
    procs, files = [], []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % p, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if marker in cmd:
            procs.append("pid %s: %s" % (p, cmd[:160]))
    for top in ("/tmp", "/var/tmp", "/dev/shm"):
        for dirpath, dirnames, filenames in os.walk(top):
            if dirpath.count("/") - top.count("/") >= 2:
                dirnames[:] = []
            for n in dirnames + filenames:
                if marker in n:
                    files.append(os.path.join(dirpath, n))
    return procs, files


def fresh(items):
    return [x for x in items if x not in KNOWN]


def clean_up_after_product(lang, files, procs):
    """Removes what the product failed to remove or kill once a test has reported it: it was made
    by this suite's own hostile programs, and left in place it would cascade into the following
    tests. Files: "<path> (uid N)" or "<path>"; processes: "pid N ...". Only shared places and
    the executors' work roots are touched."""
    paths = [f.split(" (uid ")[0] for f in files]
    roots = ("/tmp/", "/var/tmp/", "/dev/shm/", "/dev/mqueue/", "/work/") + tuple(
        r + "/" for l in LANGS for r in (work_roots(l) if RUNTIME == "local" else []))
    paths = [p for p in paths if p.startswith(roots) and ".." not in p]
    pids = [int(m.group(1)) for m in (re.match(r"pid (\d+)", x) for x in procs) if m]
    if not paths and not pids:
        return
    if RUNTIME == "local":
        for pid in pids:
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        if paths:
            subprocess.run(["chmod", "-R", "u+rwx", "--"] + paths, capture_output=True, timeout=60)
            subprocess.run(["rm", "-rf", "--"] + paths, capture_output=True, timeout=60)
    else:
        for pid in pids:  # host pids (the scans read the host's /proc): killed from here
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        for n in range(EXECUTORS):
            if paths:
                subprocess.run(["docker", "exec", container(lang, n), "rm", "-rf", "--"] + paths,
                               capture_output=True, timeout=60)


class Case:
    """One hostile test: the run, its checks, then the aftermath checks; every problem found is
    collected and reported together at the end."""

    def __init__(self, lang):
        self.lang = lang
        self.marker, self.key = new_marker()
        self.problems = []
        self.workdir = None
        self.restarts = restarts()

    def want(self, cond, msg, d=None):
        if not cond:
            self.problems.append(msg + ("" if d is None else "\n      observed: " + short(d)))
        return cond

    def run(self, code, args=(), timeout_ms=2000, bound=None, lang=None, compile_error=False, **kw):
        """The hostile run. Returns its data (or None when the HTTP answer was not a result)."""
        lang = lang or self.lang
        st, doc, dt = send(lang, code, [self.marker, self.key] + list(args), timeout_ms=timeout_ms, **kw)
        if bound is None:
            bound = timeout_ms / 1000.0 + KILL_SLACK + (CPP_SLACK if lang in COMPILED else 0)
        self.want(dt <= bound, "the hostile run took %.1f s (bound %.1f s)" % (dt, bound))
        if not self.want(st == 200 and doc and doc.get("success") is True,
                         "the hostile run got no result: HTTP %s" % st, doc):
            return None
        d = doc["data"]
        d["_elapsed"] = round(dt, 2)
        m = re.search(r"CWD=(\S+)", (d.get("stderr") or "") + "\n" + (d.get("stdout") or ""))
        if m:
            self.workdir = m.group(1)
        if lang in COMPILED and d.get("status") == "compile_error" and not compile_error:
            self.problems.append("the hostile %s program did not compile: %s" % (lang, short(d)))
        return d

    def status(self, d, want):
        """The one status the run must end with."""
        if d is not None:
            self.want(d.get("status") == want, "status %r, expected %s" % (d.get("status"), want), d)

    def finish(self, extra_langs=()):
        """Aftermath: health and leftovers, then raises with every problem found."""
        for lang in (self.lang,) + tuple(l for l in extra_langs if l != self.lang):
            self._aftermath(lang)
        if self.problems:
            raise AssertionError("\n  - " + "\n  - ".join(self.problems))

    def _aftermath(self, lang):
        w = self.want
        w(G.proc.poll() is None, "the gateway process died (exit %s)" % G.proc.returncode)
        if G.proc.poll() is not None:
            return
        rep, dt, err = probe(lang, self.marker, self.key, self.workdir)
        limit = 2 * BASE[lang] + 1.0
        w(err is None, "[%s] %s" % (lang, err))
        w(dt <= limit, "[%s] the next request took %.2f s (normal: %.2f s, limit %.2f s)"
          % (lang, dt, BASE[lang], limit))
        if rep is not None:
            files, procs, ipc = fresh(rep["files"]), fresh(rep["procs"]), fresh(rep["ipc"])
            w(not files, "[%s] the next run sees files left behind: %s" % (lang, files))
            w(not procs, "[%s] the next run sees processes left behind: %s" % (lang, procs))
            w(not ipc, "[%s] the next run sees IPC objects left behind: %s" % (lang, ipc))
            w(not rep["workdir"], "[%s] the hostile run's work dir %s still exists" % (lang, self.workdir))
            w(set(rep["env"]) == EXPECTED_ENV[lang], "[%s] environment of the next run: %s"
              % (lang, sorted(rep["env"])))
            w(rep["env"].get("LANG") == "C.UTF-8" and rep["env"].get("HOME") == rep["cwd"]
              and rep["env"].get("TMPDIR") == rep["cwd"], "[%s] LANG/HOME/TMPDIR: %s" % (lang, rep["env"]))
            w(rep["passwd"] == PASSWD[lang], "[%s] /etc/passwd as runs see it changed" % lang)
            KNOWN.update(files + procs + ipc)
            clean_up_after_product(lang, files, procs)
        left = fresh(work_root_leftovers(lang))
        w(not left, "[%s] the slots still hold (pid place entry) %s" % (lang, left))
        KNOWN.update(left)
        # Between runs no slot uid runs anything, anywhere on the machine.
        lingering = fresh(slot_uid_procs())
        w(not lingering, "[%s] processes of slot uids still run: %s" % (lang, lingering))
        KNOWN.update(lingering)
        clean_up_after_product(lang, [], lingering)
        if RUNTIME == "local":
            procs, files = host_marker_leftovers(self.marker)
            procs, files = fresh(procs), fresh(files)
            w(not procs, "host: processes of the hostile run still alive: %s" % procs)
            w(not files, "host: files of the hostile run left: %s" % files)
            KNOWN.update(procs + files)
            clean_up_after_product(lang, files, procs)
        for path, st in HOST_FILES.items():
            w(file_state(path) == st, "host: %s changed" % path)
        try:
            now = restarts()
            w(now == self.restarts, "an executor was restarted (it crashed or hung): "
              "codegate_executor_restarts_total %s -> %s" % (self.restarts, now))
            st, doc, _ = http("GET", G.url + "/readyz", timeout=10)
            w(st == 200, "/readyz answers %s after the hostile run" % st, doc)
        except OSError as e:
            self.problems.append("the gateway does not answer: %s" % e)


class Listener:
    """A TCP listener of the suite itself; counts the connections it accepted."""

    def __init__(self, host):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while True:
            try:
                c, _ = self.sock.accept()
                self.accepted += 1
                c.close()
            except OSError:
                return



def concurrently(first, second, delay):
    """Starts first() in a thread, waits `delay`, runs second(); returns (first(), second())."""
    out = {}
    th = threading.Thread(target=lambda: out.setdefault("a", first()), daemon=True)
    th.start()
    time.sleep(delay)
    b = second()
    th.join(60)
    return out.get("a"), b



BIG_INPUT = ("y" * 1023 + "\n") * 6 * 1024  # 6 MiB


def executor_paths():
    """Local runtime: the state dir, the executors' sockets and token files (known names)."""
    if RUNTIME != "local":
        return []
    out = [STATE_DIR]
    for l in LANGS:
        for n in range(EXECUTORS):
            out += ["%s/%s-%d.sock" % (STATE_DIR, l, n), "%s/%s-%d.token" % (STATE_DIR, l, n)]
    return out



def net_targets():
    """The gateway's own port, a listener of the suite on 127.0.0.1, one on 0.0.0.0 reached
    through every address of the host (including Docker bridges), and an outside address."""
    t = ["127.0.0.1:%d" % G.port, "127.0.0.1:%d" % LISTENERS["loop"].port]
    for ip in HOST_IPS:
        t.append("%s:%d" % (ip, LISTENERS["any"].port))
        if ip != "127.0.0.1":
            t.append("%s:%d" % (ip, G.port))
    t.append("1.1.1.1:80")
    return t



def executor_pids(lang):
    """Local runtime: pids of this gateway's executors of lang (its children whose environment
    names the language)."""
    out = []
    for k in children(G.proc.pid):
        try:
            with open("/proc/%d/environ" % k, "rb") as f:
                if ("EXECUTOR_LANGUAGE=%s" % lang).encode() in f.read().split(b"\0"):
                    out.append(k)
        except OSError:
            pass
    return out



# ---------------------------------------------------------------------------------------------

def setup():
    """Baselines: probe latency and what the probe sees on a quiet service."""
    global HOST_IPS
    for path in ("/etc/passwd", "/etc/shadow", "/etc/group"):
        HOST_FILES[path] = file_state(path)
    LISTENERS["loop"] = Listener("127.0.0.1")
    LISTENERS["any"] = Listener("0.0.0.0")
    out = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True).stdout
    HOST_IPS = sorted({l.split()[3].split("/")[0] for l in out.splitlines() if len(l.split()) > 3})
    for lang in LANGS:
        times = []
        for i in range(6):
            rep, dt, err = probe(lang)
            if err is not None:
                SETUP_ERRORS.append("baseline request %d in %s: %s" % (i + 1, lang, err))
                continue
            check(not rep["files"] and not rep["procs"] and not rep["ipc"],
                  "baseline probe %s already sees leftovers: %s" % (lang, rep))
            check(UID_RANGE[0] <= rep["uid"] < UID_RANGE[1], "slot uid %s outside %s" % (rep["uid"], UID_RANGE))
            times.append(dt)
            PASSWD[lang] = rep["passwd"]
            if len(times) == 3:
                break
        check(len(times) == 3, "no baseline for %s: %s" % (lang, SETUP_ERRORS))
        BASE[lang] = sorted(times)[1]
    print("    baseline latency: " + ", ".join("%s %.0f ms" % (l, BASE[l] * 1000) for l in LANGS)
          + "; host addresses " + " ".join(HOST_IPS), flush=True)



def case_program(spec):
    """The program of a case of the index: tests/hostile/cases/<name>.<ext> unless it says file."""
    name = spec.get("file") or "%s.%s" % (spec["name"], EXT[spec["lang"]])
    return read_program(os.path.join(HOSTILE_DIR, "cases", name))
