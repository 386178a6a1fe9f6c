#!/usr/bin/python3
"""Strict hostile-program suite: the acceptance suite of the open per-run-sandbox work.

    tests/integration/test_hostile_strict.py BUILD_DIR [gateway args...]

Part of `make test`: scripts/run-tests.sh runs it on the local runtime, tests/docker/test_docker.py
on the Docker runtime. `tests/integration/test_hostile.py` is the older, smaller suite (kept: it
also runs against executors without root).

Starts BUILD_DIR/gateway (by default with --runtime local; the same file runs on Docker with
--runtime docker) and sends it programs in Python, JavaScript and C++ that fork-bomb, hog memory,
flood output, fill disks, spin, leave children and daemons behind, close their stdio, plant
symlinks, leave files in shared places and System V / POSIX IPC objects, signal or ptrace the
executor, read its environment and token, and try the network.

Every test does the same three things:
  1. the hostile run: asserts its answer (status, output, a bounded time);
  2. the service is healthy: the gateway process is alive, no executor was restarted (metric
     codegate_executor_restarts_total), /readyz answers 200, and a normal request in the same
     language (the probe, below) succeeds within normal latency (2 x the baseline measured at
     start + 1 s);
  3. nothing of the hostile run is visible to the next run: the probe, a program in the same
     language (on Docker it runs in the same container), reports what it can see: files whose
     name carries the run's marker or that belong to any slot uid (its own included: the next
     run often gets the hostile run's slot) in /tmp, /var/tmp, /dev/shm, /dev/mqueue; processes
     of any slot uid (but itself) or with the marker in their command line; System V IPC
     objects (by key and by uid) and, in C++, POSIX shm / mqueue objects by
     name; whether the hostile run's work dir still exists; its own environment (exactly PATH,
     HOME, TMPDIR, LANG and the language's own variables) and a hash of /etc/passwd. From the
     outside the suite also checks that the executor's work root holds nothing but its compile
     cache, that no host process or file carries the marker (local runtime), and that the host's
     /etc/passwd, /etc/shadow and /etc/group are unchanged.

Each hostile program gets its marker (e.g. cgh1a2b3c4d) and a System V key as argv[1], argv[2],
so that whatever it leaves behind (processes inherit their command line) can be found. The probe
gets the marker reversed, so that it never finds itself. A leftover is blamed on the test that
left it; the suite then removes it (only things its own programs made, in shared places and work
roots) so that one failure does not cascade into the following tests.

Nothing is skipped: a check that fails reports everything it observed. The last line is
`N passed, N failed`.
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
from harness import Gateway, Runner, check, http  # noqa: E402

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
LANGS = ("python", "javascript", "cpp")
EXPECTED_ENV = {
    "python": {"PATH", "HOME", "TMPDIR", "LANG", "PYTHONDONTWRITEBYTECODE", "PYTHONIOENCODING"},
    "javascript": {"PATH", "HOME", "TMPDIR", "LANG", "NODE_OPTIONS", "NO_COLOR"},
    "cpp": {"PATH", "HOME", "TMPDIR", "LANG"},
}
KILL_SLACK = 5.0          # launcher kill budget (3 s) + answer
CPP_SLACK = 6.0           # a C++ run compiles first


# ---------------------------------------------------------------------------------------------
# the probe: what the next run can see
# ---------------------------------------------------------------------------------------------

PROBE_PY = r'''
import ctypes, json, os, stat, sys
m = sys.argv[1][::-1]
lo, hi, wd, key = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
me = os.getuid()
anc = {os.getpid(), os.getppid()}
def slot(u):  # any slot uid, our own included: our slot may be the hostile run's slot
    return lo <= u < hi
r = {"uid": me, "cwd": os.getcwd(), "env": dict(os.environ), "files": [], "procs": [],
     "ipc": [], "workdir": False, "passwd": None}
def walk(d, depth):
    try:
        names = os.listdir(d)
    except OSError:
        return
    for n in names[:3000]:
        p = os.path.join(d, n)
        try:
            st = os.lstat(p)
        except OSError:
            continue
        if m in n or slot(st.st_uid):
            r["files"].append("%s (uid %d)" % (p, st.st_uid))
        elif depth < 2 and stat.S_ISDIR(st.st_mode):
            walk(p, depth + 1)
for top in ("/tmp", "/var/tmp", "/dev/shm", "/dev/mqueue"):
    walk(top, 0)
for p in os.listdir("/proc"):
    if not p.isdigit() or int(p) in anc:
        continue
    try:
        with open("/proc/%s/status" % p) as f:
            uids = [int(x) for x in [l for l in f if l.startswith("Uid:")][0].split()[1:]]
        with open("/proc/%s/cmdline" % p, "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except (OSError, IndexError, ValueError):
        continue
    if any(slot(u) for u in uids) or m in cmd:
        r["procs"].append("pid %s uid %s: %s" % (p, uids[0], cmd[:160]))
for kind, (cu, cc) in {"shm": (7, 9), "msg": (7, 9), "sem": (4, 6)}.items():
    try:
        with open("/proc/sysvipc/" + kind) as f:
            lines = f.read().splitlines()[1:]
    except OSError:
        continue
    for l in lines:
        v = l.split()
        if int(v[0]) == key or slot(int(v[cu])) or slot(int(v[cc])):
            r["ipc"].append("%s: %s" % (kind, " ".join(v[:10])))
libc = ctypes.CDLL(None, use_errno=True)
if libc.shmget(key, 0, 0) != -1: r["ipc"].append("shmget(key) finds a segment")
if libc.msgget(key, 0) != -1: r["ipc"].append("msgget(key) finds a queue")
if libc.semget(key, 0, 0) != -1: r["ipc"].append("semget(key) finds a set")
r["workdir"] = wd != "-" and os.path.lexists(wd)
h = 0x811c9dc5
with open("/etc/passwd", "rb") as f:
    for b in f.read():
        h = ((h ^ b) * 0x01000193) & 0xffffffff
r["passwd"] = "%08x" % h
print(json.dumps(r))
'''

PROBE_JS = r'''
const fs = require('fs'), path = require('path');
const m = process.argv[2].split('').reverse().join('');
const lo = +process.argv[3], hi = +process.argv[4], wd = process.argv[5], key = +process.argv[6];
const me = process.getuid();
const anc = new Set([process.pid, process.ppid]);
const slot = u => u >= lo && u < hi;  // our own uid included: it may be the hostile run's
const r = { uid: me, cwd: process.cwd(), env: { ...process.env }, files: [], procs: [], ipc: [],
            workdir: false, passwd: null };
function walk(d, depth) {
  let names;
  try { names = fs.readdirSync(d); } catch (e) { return; }
  for (const n of names.slice(0, 3000)) {
    const p = path.join(d, n);
    let st;
    try { st = fs.lstatSync(p); } catch (e) { continue; }
    if (n.includes(m) || slot(st.uid)) r.files.push(`${p} (uid ${st.uid})`);
    else if (depth < 2 && st.isDirectory()) walk(p, depth + 1);
  }
}
for (const t of ['/tmp', '/var/tmp', '/dev/shm', '/dev/mqueue']) walk(t, 0);
for (const p of fs.readdirSync('/proc')) {
  if (!/^\d+$/.test(p) || anc.has(+p)) continue;
  let uids, cmd;
  try {
    const st = fs.readFileSync(`/proc/${p}/status`, 'utf8');
    uids = st.split('\n').find(l => l.startsWith('Uid:')).split(/\s+/).slice(1, 5).map(Number);
    cmd = fs.readFileSync(`/proc/${p}/cmdline`).toString('utf8').split('\0').join(' ');
  } catch (e) { continue; }
  if (uids.some(slot) || cmd.includes(m)) r.procs.push(`pid ${p} uid ${uids[0]}: ${cmd.slice(0, 160)}`);
}
const cols = { shm: [7, 9], msg: [7, 9], sem: [4, 6] };
for (const kind of Object.keys(cols)) {
  let lines;
  try { lines = fs.readFileSync('/proc/sysvipc/' + kind, 'utf8').split('\n').slice(1); } catch (e) { continue; }
  for (const l of lines) {
    const v = l.trim().split(/\s+/);
    if (v.length < 8) continue;
    if (+v[0] === key || slot(+v[cols[kind][0]]) || slot(+v[cols[kind][1]]))
      r.ipc.push(`${kind}: ${v.slice(0, 10).join(' ')}`);
  }
}
if (wd !== '-') { try { fs.lstatSync(wd); r.workdir = true; } catch (e) {} }
let h = 0x811c9dc5;
for (const b of fs.readFileSync('/etc/passwd')) h = Math.imul(h ^ b, 0x01000193) >>> 0;
r.passwd = h.toString(16).padStart(8, '0');
console.log(JSON.stringify(r));
'''

PROBE_CPP = r'''
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>
#include <dirent.h>
#include <fcntl.h>
#include <mqueue.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>
extern char **environ;
static std::string M;
static long LO, HI;
static unsigned long ME;
static std::vector<std::string> files, procs, ipc;
static std::string esc(const std::string &s) {
    std::string o = "\"";
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') { o += '\\'; o += (char)c; }
        else if (c < 0x20 || c >= 0x7f) { char b[8]; snprintf(b, sizeof b, "\\u%04x", c); o += b; }
        else o += (char)c;
    }
    return o + "\"";
}
static std::string arr(const std::vector<std::string> &v) {
    std::string o = "[";
    for (size_t i = 0; i < v.size(); i++) o += (i ? "," : "") + esc(v[i]);
    return o + "]";
}
// Any slot uid, our own included: our slot may be the one the hostile run had.
static bool slot(unsigned long u) { return (long)u >= LO && (long)u < HI; }
static void walk(const std::string &d, int depth) {
    DIR *dir = opendir(d.c_str());
    if (!dir) return;
    struct dirent *de;
    int n = 0;
    while ((de = readdir(dir)) && n++ < 3000) {
        std::string nm = de->d_name;
        if (nm == "." || nm == "..") continue;
        std::string p = d + "/" + nm;
        struct stat st;
        if (lstat(p.c_str(), &st)) continue;
        if (nm.find(M) != std::string::npos || slot(st.st_uid))
            files.push_back(p + " (uid " + std::to_string(st.st_uid) + ")");
        else if (depth < 2 && S_ISDIR(st.st_mode)) walk(p, depth + 1);
    }
    closedir(dir);
}
static std::string slurp(const std::string &p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}
int main(int argc, char **argv) {
    if (argc < 6) return 2;
    M = argv[1];
    std::reverse(M.begin(), M.end());
    LO = atol(argv[2]); HI = atol(argv[3]);
    std::string wd = argv[4];
    int key = atoi(argv[5]);
    ME = getuid();
    for (const char *t : {"/tmp", "/var/tmp", "/dev/shm", "/dev/mqueue"}) walk(t, 0);
    long self = getpid(), parent = getppid();
    DIR *pd = opendir("/proc");
    struct dirent *de;
    while (pd && (de = readdir(pd))) {
        if (de->d_name[0] < '1' || de->d_name[0] > '9') continue;
        long pid = atol(de->d_name);
        if (pid == self || pid == parent) continue;
        std::string st = slurp(std::string("/proc/") + de->d_name + "/status");
        size_t at = st.find("\nUid:");
        if (at == std::string::npos) continue;
        unsigned long u[4] = {0, 0, 0, 0};
        sscanf(st.c_str() + at + 5, "%lu %lu %lu %lu", &u[0], &u[1], &u[2], &u[3]);
        std::string cmd = slurp(std::string("/proc/") + de->d_name + "/cmdline");
        std::replace(cmd.begin(), cmd.end(), '\0', ' ');
        if (slot(u[0]) || slot(u[1]) || slot(u[2]) || slot(u[3]) ||
            cmd.find(M) != std::string::npos)
            procs.push_back("pid " + std::to_string(pid) + " uid " + std::to_string(u[0]) + ": " +
                            cmd.substr(0, 160));
    }
    if (pd) closedir(pd);
    struct { const char *kind; int cu, cc; } cols[] = {{"shm", 7, 9}, {"msg", 7, 9}, {"sem", 4, 6}};
    for (auto &c : cols) {
        std::istringstream in(slurp(std::string("/proc/sysvipc/") + c.kind));
        std::string line;
        std::getline(in, line);
        while (std::getline(in, line)) {
            std::istringstream ls(line);
            std::vector<long> v;
            long x;
            while (ls >> x) v.push_back(x);
            if ((int)v.size() <= c.cc) continue;
            if (v[0] == key || slot(v[c.cu]) || slot(v[c.cc]))
                ipc.push_back(std::string(c.kind) + ": " + line.substr(0, 120));
        }
    }
    if (shmget(key, 0, 0) != -1) ipc.push_back("shmget(key) finds a segment");
    if (msgget(key, 0) != -1) ipc.push_back("msgget(key) finds a queue");
    if (semget(key, 0, 0) != -1) ipc.push_back("semget(key) finds a set");
    std::string nm = "/" + M;
    int sfd = shm_open(nm.c_str(), O_RDONLY, 0);
    if (sfd >= 0) ipc.push_back("shm_open(" + nm + ") finds an object");
    mqd_t q = mq_open(nm.c_str(), O_RDONLY);
    if (q != (mqd_t)-1) ipc.push_back("mq_open(" + nm + ") finds a queue");
    struct stat wst;
    bool wdx = wd != "-" && lstat(wd.c_str(), &wst) == 0;
    unsigned h = 0x811c9dc5u;
    for (unsigned char b : slurp("/etc/passwd")) h = (h ^ b) * 0x01000193u;
    char hb[16];
    snprintf(hb, sizeof hb, "%08x", h);
    std::string env = "{";
    for (char **e = environ; *e; e++) {
        std::string kv = *e;
        size_t eq = kv.find('=');
        env += (e == environ ? "" : ",") + esc(kv.substr(0, eq)) + ":" +
               esc(eq == std::string::npos ? "" : kv.substr(eq + 1));
    }
    env += "}";
    char cwd[4096] = "";
    if (!getcwd(cwd, sizeof cwd)) cwd[0] = 0;
    printf("{\"uid\":%lu,\"cwd\":%s,\"env\":%s,\"files\":%s,\"procs\":%s,\"ipc\":%s,"
           "\"workdir\":%s,\"passwd\":\"%s\"}\n",
           ME, esc(cwd).c_str(), env.c_str(), arr(files).c_str(), arr(procs).c_str(),
           arr(ipc).c_str(), wdx ? "true" : "false", hb);
    return 0;
}
'''

PROBES = {"python": PROBE_PY, "javascript": PROBE_JS, "cpp": PROBE_CPP}


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


def executor_launchers(lang):
    """Local runtime: pids (as strings) of the slot launchers under this gateway's executors of
    lang (descendants of the gateway whose ancestor's environment names the language)."""
    def children(pid):
        out = []
        try:
            for t in os.listdir("/proc/%d/task" % pid):
                with open("/proc/%d/task/%s/children" % (pid, t)) as f:
                    out += [int(x) for x in f.read().split()]
        except OSError:
            pass
        return out
    found = []
    for ex in children(G.proc.pid):
        try:
            with open("/proc/%d/environ" % ex, "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if ("EXECUTOR_LANGUAGE=%s" % lang).encode() not in env:
            continue
        todo = children(ex)
        while todo:
            p = todo.pop()
            found.append(str(p))
            todo += children(p)
    return found


def slot_uid_procs():
    """Processes on this machine running as one of this gateway's slot uids (unprivileged: as
    the gateway's user, other than the gateway, its executors and the slots' launchers)."""
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
            if user_uid in uids and not ours:
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
        for n in range(EXECUTORS):
            if pids:
                subprocess.run(["docker", "exec", container(lang, n), "kill", "-9"] + [str(p) for p in pids],
                               capture_output=True, timeout=30)
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
            bound = timeout_ms / 1000.0 + KILL_SLACK + (CPP_SLACK if lang == "cpp" else 0)
        self.want(dt <= bound, "the hostile run took %.1f s (bound %.1f s)" % (dt, bound))
        if not self.want(st == 200 and doc and doc.get("success") is True,
                         "the hostile run got no result: HTTP %s" % st, doc):
            return None
        d = doc["data"]
        d["_elapsed"] = round(dt, 2)
        m = re.search(r"CWD=(\S+)", (d.get("stderr") or "") + "\n" + (d.get("stdout") or ""))
        if m:
            self.workdir = m.group(1)
        if lang == "cpp" and d.get("status") == "compile_error" and not compile_error:
            self.problems.append("the hostile C++ program did not compile: %s" % short(d))
        return d

    def status(self, d, *want):
        if d is not None:
            self.want(d.get("status") in want, "status %r, expected %s" % (d.get("status"), " or ".join(want)), d)

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


# ---------------------------------------------------------------------------------------------
# fork bombs, memory hogs
# ---------------------------------------------------------------------------------------------

def test_py_fork_bomb():
    c = Case("python")
    d = c.run("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
              timeout_ms=2000)
    c.status(d, "timeout")
    c.finish()


def test_cpp_fork_bomb():
    c = Case("cpp")
    d = c.run("#include <unistd.h>\nint main(){ for(;;) fork(); }\n", timeout_ms=2000)
    c.status(d, "timeout")
    c.finish()


def test_js_fork_bomb():
    # The realistic one: the program spawns itself, twice per generation.
    c = Case("javascript")
    d = c.run(r'''
const { spawn } = require('child_process');
function go() {
  try { spawn(process.execPath, [__filename, ...process.argv.slice(2)], { stdio: 'ignore' }).on('error', () => {}); }
  catch (e) {}
}
go(); go(); setInterval(go, 50);
''', timeout_ms=3000)
    c.status(d, "timeout")
    c.finish()


def test_py_memory_hog():
    c = Case("python")
    d = c.run("x = []\nwhile True:\n    x.append(bytearray(8 << 20))\n", timeout_ms=4000, memory_mb=64)
    c.status(d, "memory_limit")
    c.finish()


def test_py_memory_hog_in_forked_children():
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
    if G.as_user:
        # Without root there is no cgroup (docs/SECURITY.md): memory is capped per process
        # (RLIMIT_AS / RLIMIT_DATA), not per run. What holds: no process exceeds its own cap.
        c.status(d, "ok")
        d = c.run("b = bytearray(b'\\1') * (400 << 20)\nprint('held 400 MiB')\n", timeout_ms=8000,
                  memory_mb=64)
        c.status(d, "memory_limit")
    else:
        c.status(d, "memory_limit")
    c.finish()


def test_js_heap_hog():
    c = Case("javascript")
    d = c.run("const a = [];\nfor (;;) a.push(new Array(1 << 16).fill(0).map((_, i) => ({ i })));\n",
              timeout_ms=6000, memory_mb=64)
    c.status(d, "memory_limit")
    c.finish()


def test_js_buffer_hog_outside_heap():
    # Buffers live outside the V8 heap: --max-old-space-size does not see them.
    c = Case("javascript")
    d = c.run(r'''
const bufs = []; let mb = 0;
while (mb < 768) { bufs.push(Buffer.alloc(32 << 20, 1)); mb += 32; }
console.log('allocated ' + mb + ' MiB outside the V8 heap');
''', timeout_ms=6000, memory_mb=64)
    c.status(d, "memory_limit")
    c.finish()


def test_cpp_memory_hog():
    c = Case("cpp")
    d = c.run("#include <cstring>\n#include <vector>\nint main(){ std::vector<char*> v; for(;;){ "
              "char *p = new char[8<<20]; memset(p, 1, 8<<20); v.push_back(p); } }\n",
              timeout_ms=4000, memory_mb=64)
    c.status(d, "memory_limit")
    c.finish()


# ---------------------------------------------------------------------------------------------
# output floods
# ---------------------------------------------------------------------------------------------

def flood_checks(c, d):
    if d is None:
        return
    c.status(d, "output_limit")
    c.want(d.get("truncated") is True, "truncated must be true", d)
    total = len(d["stdout"].encode()) + len(d["stderr"].encode())
    c.want(0 < total <= 1 << 20, "stdout+stderr hold %d bytes (cap 1 MiB)" % total)


def test_py_stdout_flood():
    c = Case("python")
    d = c.run("import sys\nchunk = 'x' * 65536\nwhile True:\n    sys.stdout.write(chunk)\n", timeout_ms=5000)
    flood_checks(c, d)
    if d:
        c.want(set(d["stdout"]) == {"x"}, "stdout holds only what was written", d)
    c.finish()


def test_py_stderr_flood():
    c = Case("python")
    d = c.run("import sys\nchunk = 'e' * 65536\nwhile True:\n    sys.stderr.write(chunk)\n", timeout_ms=5000)
    flood_checks(c, d)
    c.finish()


def test_js_stdout_flood():
    c = Case("javascript")
    d = c.run("const chunk = 'y'.repeat(65536);\nfunction go() { while (process.stdout.write(chunk)) {} "
              "process.stdout.once('drain', go); }\ngo();\n", timeout_ms=5000)
    flood_checks(c, d)
    c.finish()


def test_cpp_stdout_and_stderr_flood():
    c = Case("cpp")
    d = c.run(r'''
#include <cstring>
#include <unistd.h>
int main() {
    static char a[65536], b[65536];
    memset(a, 'o', sizeof a); memset(b, 'e', sizeof b);
    if (fork() == 0) for (;;) (void)!write(2, b, sizeof b);
    for (;;) (void)!write(1, a, sizeof a);
}
''', timeout_ms=5000)
    flood_checks(c, d)
    c.finish()


# ---------------------------------------------------------------------------------------------
# disk fill, many files, deep trees
# ---------------------------------------------------------------------------------------------

def test_py_disk_fill_work_dir():
    c = Case("python")
    d = c.run(r'''
import os, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
print("CWD=" + os.getcwd(), file=sys.stderr)
n = 0
chunk = b"\0" * (1 << 20)
with open("big.bin", "wb", buffering=0) as f:
    try:
        while n < (200 << 20):
            n += f.write(chunk)
        print("wrote", n)
    except OSError as e:
        print("stopped", n, e.errno)
''', timeout_ms=8000)
    c.status(d, "ok")
    if d:
        c.want(d["stdout"] == "stopped %d 27\n" % (64 << 20), "RLIMIT_FSIZE 64 MiB: EFBIG at 64 MiB", d)
    c.finish()


def test_cpp_disk_fill_sigxfsz():
    c = Case("cpp")
    d = c.run(r'''
#include <cstdio>
#include <fcntl.h>
#include <unistd.h>
int main() {
    char cwd[4096]; if (getcwd(cwd, sizeof cwd)) fprintf(stderr, "CWD=%s\n", cwd);
    int fd = open("big.bin", O_WRONLY | O_CREAT, 0600);
    static char b[1 << 20];
    for (int i = 0; i < 200; i++) (void)!write(fd, b, sizeof b);
    puts("not reached");
}
''', timeout_ms=8000)
    c.status(d, "runtime_error")
    if d:
        c.want(d.get("signal") == "SIGXFSZ" and d.get("exitCode") is None, "killed by SIGXFSZ", d)
    c.finish()


def test_js_disk_fill():
    c = Case("javascript")
    d = c.run(r'''
const fs = require('fs');
console.error('CWD=' + process.cwd());
const fd = fs.openSync('big.bin', 'w');
const b = Buffer.alloc(1 << 20);
for (let i = 0; i < 200; i++) fs.writeSync(fd, b);
console.log('not reached');
''', timeout_ms=8000)
    c.status(d, "runtime_error")
    if d:
        c.want(d.get("signal") == "SIGXFSZ" or "EFBIG" in d.get("stderr", ""), "stopped at the file size limit", d)
        c.want("not reached" not in d.get("stdout", ""), "wrote more than 64 MiB", d)
    c.finish()


def test_py_disk_fill_shared_places():
    c = Case("python")
    d = c.run(r'''
import os, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
m = sys.argv[1]
chunk = b"\0" * (1 << 20)
res = {}
for d in ("/tmp", "/var/tmp", "/dev/shm"):
    p = "%s/%s-fill" % (d, m)
    n = 0
    try:
        with open(p, "wb", buffering=0) as f:
            while n < (64 << 20):
                n += f.write(chunk)
        res[d] = n
    except OSError as e:
        res[d] = "stopped at %d: %s" % (n, e.strerror)
    try:
        t = "%s/%s-tree" % (d, m)
        os.makedirs(t + "/a/b/c")
        open(t + "/a/b/c/f", "w").write("x")
        os.chmod(t + "/a/b", 0)
        os.chmod(t, 0)
    except OSError as e:
        res[d + " tree"] = e.strerror
print(res)
''', timeout_ms=8000)
    c.status(d, "ok")
    c.finish()


def test_py_deep_directory_tree():
    # Deeper than the executor's clean-up recursion (WORKDIR_MAX_DEPTH 200): must still go away.
    c = Case("python")
    d = c.run(r'''
import os, sys
m = sys.argv[1]
print("CWD=" + os.getcwd(), file=sys.stderr)
home = os.getcwd()
for top in (home, "/tmp"):
    os.chdir(top)
    os.mkdir(m + "-deep")
    os.chdir(m + "-deep")
    for i in range(1000):
        os.mkdir("d")
        os.chdir("d")
    open("bottom", "w").write("x")
print("deep trees made")
''', timeout_ms=8000)
    c.status(d, "ok")
    c.finish()


def test_py_many_files():
    c = Case("python")
    d = c.run(r'''
import os, sys
m = sys.argv[1]
print("CWD=" + os.getcwd(), file=sys.stderr)
os.mkdir("many")
for i in range(8000):
    open("many/%d" % i, "w").close()
os.mkdir("/tmp/%s-many" % m)
for i in range(2000):
    open("/tmp/%s-many/%d" % (m, i), "w").close()
print("made")
''', timeout_ms=10000)
    c.status(d, "ok")
    c.finish()


# ---------------------------------------------------------------------------------------------
# busy loops, children and daemons left behind
# ---------------------------------------------------------------------------------------------

def timeout_checks(c, d, timeout_ms):
    c.status(d, "timeout")
    if d:
        c.want(d.get("timedOut") is True, "timedOut must be true", d)
        c.want(d["durationMs"] <= timeout_ms + 1500, "durationMs %s for a %d ms limit" % (d["durationMs"], timeout_ms), d)


def test_py_busy_loop():
    c = Case("python")
    d = c.run("while True:\n    pass\n", timeout_ms=1500)
    timeout_checks(c, d, 1500)
    c.finish()


def test_js_busy_loop():
    c = Case("javascript")
    d = c.run("for (;;) {}\n", timeout_ms=1500)
    timeout_checks(c, d, 1500)
    c.finish()


def test_cpp_busy_threads():
    c = Case("cpp")
    d = c.run(r'''
#include <thread>
#include <vector>
int main() {
    std::vector<std::thread> t;
    for (int i = 0; i < 4; i++) t.emplace_back([] { volatile unsigned long x = 0; for (;;) x++; });
    for (auto &th : t) th.join();
}
''', timeout_ms=2000)
    timeout_checks(c, d, 2000)
    c.finish()


def test_py_sleeping_child():
    c = Case("python")
    d = c.run("import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', sys.argv[1]])\n"
              "print('parent done')\n", timeout_ms=5000, bound=4.0)
    c.status(d, "ok")
    if d:
        c.want(d["stdout"] == "parent done\n", "output", d)
    c.finish()


def test_js_sleeping_child():
    c = Case("javascript")
    d = c.run("const { spawn } = require('child_process');\n"
              "const k = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)', process.argv[2]], { stdio: 'inherit' });\n"
              "k.unref();\nconsole.log('parent done');\n", timeout_ms=5000, bound=4.0)
    c.status(d, "ok")
    if d:
        c.want(d["stdout"] == "parent done\n", "output", d)
    c.finish()


def test_cpp_sleeping_child():
    c = Case("cpp")
    d = c.run("#include <cstdio>\n#include <unistd.h>\nint main(){ if (fork() == 0) { sleep(60); return 0; } "
              "puts(\"parent done\"); }\n", timeout_ms=5000, bound=4.0 + CPP_SLACK)
    c.status(d, "ok")
    if d:
        c.want(d["stdout"] == "parent done\n", "output", d)
    c.finish()


def test_py_setsid_double_fork_daemon():
    c = Case("python")
    d = c.run(r'''
import os, sys, time
m = sys.argv[1]
f = "/tmp/%s-daemon" % m
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        fd = os.open("/dev/null", os.O_RDWR)
        for i in (0, 1, 2):
            os.dup2(fd, i)
        os.chdir("/")
        while True:
            try:
                with open(f, "a") as h:
                    h.write("x")
            except OSError:
                pass
            time.sleep(0.05)
    os._exit(0)
for i in range(40):
    if os.path.exists(f):
        break
    time.sleep(0.05)
print("daemon started", os.path.exists(f))
''', timeout_ms=4000)
    c.status(d, "ok")
    if d:
        c.want(d["stdout"] == "daemon started True\n", "the daemon ran", d)
    time.sleep(0.3)  # a surviving daemon would write its file again by now
    c.finish()


def test_cpp_setsid_daemon_ignoring_signals():
    c = Case("cpp")
    d = c.run(r'''
#include <csignal>
#include <cstdio>
#include <string>
#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>
int main(int argc, char **argv) {
    std::string f = std::string("/tmp/") + argv[1] + "-daemon";
    if (fork() == 0) {
        setsid();
        for (int s = 1; s < 32; s++) signal(s, SIG_IGN);
        if (fork() == 0) {
            prctl(PR_SET_NAME, "kworker/0:1", 0, 0, 0);
            int fd = open("/dev/null", O_RDWR);
            dup2(fd, 0); dup2(fd, 1); dup2(fd, 2);
            if (chdir("/")) {}
            for (;;) {
                int o = open(f.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
                if (o >= 0) { (void)!write(o, "x", 1); close(o); }
                usleep(50000);
            }
        }
        _exit(0);
    }
    for (int i = 0; i < 40 && access(f.c_str(), F_OK); i++) usleep(50000);
    printf("daemon started %d\n", access(f.c_str(), F_OK) == 0);
}
''', timeout_ms=4000)
    c.status(d, "ok")
    if d:
        c.want(d["stdout"] == "daemon started 1\n", "the daemon ran", d)
    time.sleep(0.3)
    c.finish()


def test_js_detached_double_spawn_daemon():
    # detached: true makes the child call setsid(); the child starts a detached grandchild.
    c = Case("javascript")
    d = c.run(r'''
const { spawn } = require('child_process');
const fs = require('fs');
const m = process.argv[2];
const f = '/tmp/' + m + '-daemon';
const leaf = `const fs = require('fs'); setInterval(() => { try { fs.appendFileSync('${f}', 'x'); } catch (e) {} }, 50);`;
const mid = `const { spawn } = require('child_process');
spawn(process.execPath, ['-e', ${JSON.stringify(leaf)}, '${m}'], { detached: true, stdio: 'ignore' }).unref();`;
spawn(process.execPath, ['-e', mid, m], { detached: true, stdio: 'ignore' }).unref();
const t0 = Date.now();
const iv = setInterval(() => {
  if (fs.existsSync(f) || Date.now() - t0 > 3500) { clearInterval(iv); console.log('daemon started ' + fs.existsSync(f)); }
}, 50);
''', timeout_ms=6000)
    c.status(d, "ok")
    if d:
        c.want(d["stdout"] == "daemon started true\n", "the daemon ran", d)
    time.sleep(0.3)
    c.finish()


def test_cpp_user_namespace_escape():
    # A new user + pid namespace where the program is "root" and its child is pid 1: the child
    # double-forks a sleeper. Where unshare() is refused (Docker) the same children run without it.
    c = Case("cpp")
    d = c.run(r'''
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sched.h>
#include <unistd.h>
#include <sys/wait.h>
int main() {
    int r = unshare(CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS);
    printf("unshare: %s\n", r == 0 ? "ok" : strerror(errno));
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        setsid();
        if (fork() == 0) { if (fork() == 0) { for (;;) sleep(1); } _exit(0); }
        for (;;) sleep(1);
    }
    usleep(200000);
    return 0;
}
''', timeout_ms=4000)
    c.status(d, "ok")
    c.finish()


# ---------------------------------------------------------------------------------------------
# stdio abuse, invalid UTF-8
# ---------------------------------------------------------------------------------------------

def closed_stdio_checks(c, d):
    c.status(d, "ok")
    if d:
        c.want(d["stderr"] == "closed\n" and d["stdout"] == "", "stderr still works, stdout empty", d)
        c.want(d["durationMs"] >= 250, "the run lasted until the program exited, not until stdout closed", d)


def test_py_closes_stdin_and_stdout():
    c = Case("python")
    d = c.run("import os, sys, time\nos.close(0)\nos.close(1)\nsys.stderr.write('closed\\n')\ntime.sleep(0.3)\n",
              timeout_ms=3000, stdin="some input\n")
    closed_stdio_checks(c, d)
    c.finish()


def test_js_closes_stdin_and_stdout():
    c = Case("javascript")
    d = c.run("const fs = require('fs');\nfs.closeSync(0);\nfs.closeSync(1);\nprocess.stderr.write('closed\\n');\n"
              "setTimeout(() => {}, 300);\n", timeout_ms=3000, stdin="some input\n")
    closed_stdio_checks(c, d)
    c.finish()


def test_cpp_closes_stdin_and_stdout():
    c = Case("cpp")
    d = c.run("#include <cstdio>\n#include <unistd.h>\nint main(){ close(0); close(1); fprintf(stderr, \"closed\\n\"); "
              "usleep(300000); return 0; }\n", timeout_ms=3000, stdin="some input\n")
    closed_stdio_checks(c, d)
    c.finish()


def test_cpp_closes_all_stdio_and_lingers():
    # No stdout, no stderr: the executor sees EOF on every pipe long before the exit.
    c = Case("cpp")
    d = c.run("#include <unistd.h>\nint main(){ close(0); close(1); close(2); usleep(800000); return 7; }\n",
              timeout_ms=3000)
    c.status(d, "runtime_error")
    if d:
        c.want(d["exitCode"] == 7 and d["durationMs"] >= 700, "exit status of the program after it closed its stdio", d)
    c.finish()


BIG_INPUT = ("y" * 1023 + "\n") * 6 * 1024  # 6 MiB


def test_py_never_reads_big_stdin():
    c = Case("python")
    d = c.run("import time\ntime.sleep(0.2)\nprint('done')\n", timeout_ms=4000, stdin=BIG_INPUT, bound=4.0)
    c.status(d, "ok")
    if d:
        c.want(d["stdout"] == "done\n", "output", d)
    c.finish()


def test_js_never_reads_big_stdin():
    c = Case("javascript")
    d = c.run("console.log('done');\n", timeout_ms=4000, stdin=BIG_INPUT, bound=4.0)
    c.status(d, "ok")
    if d:
        c.want(d["stdout"] == "done\n", "output", d)
    c.finish()


def test_cpp_closes_stdin_with_big_input():
    c = Case("cpp")
    d = c.run("#include <cstdio>\n#include <unistd.h>\nint main(){ close(0); sleep(1); puts(\"done\"); }\n",
              timeout_ms=4000, stdin=BIG_INPUT)
    c.status(d, "ok")
    if d:
        c.want(d["stdout"] == "done\n", "output", d)
    c.finish()


BAD_UTF8 = b"ok \xf0\x9f\x98\x80 \xff\xfe\xc3(\x00abc\xed\xa0\x80\xf0\x9f\x98"
BAD_UTF8_TEXT = "ok \U0001F600 \ufffd\ufffd\ufffd(\ufffdabc\ufffd\ufffd\ufffd\ufffd"
BAD_UTF8_LIST = ",".join(str(b) for b in BAD_UTF8)


def utf8_checks(c, d):
    c.status(d, "ok")
    if d:
        c.want(d["stdout"] == BAD_UTF8_TEXT and d["stderr"] == BAD_UTF8_TEXT,
               "invalid UTF-8 replaced by U+FFFD (maximal subparts), NUL too", d)


def test_py_invalid_utf8():
    c = Case("python")
    d = c.run("import sys\nb = bytes([%s])\nsys.stdout.buffer.write(b)\nsys.stderr.buffer.write(b)\n" % BAD_UTF8_LIST)
    utf8_checks(c, d)
    c.finish()


def test_js_invalid_utf8():
    c = Case("javascript")
    d = c.run("const b = Buffer.from([%s]);\nprocess.stdout.write(b);\nprocess.stderr.write(b);\n" % BAD_UTF8_LIST)
    utf8_checks(c, d)
    c.finish()


def test_cpp_invalid_utf8():
    c = Case("cpp")
    d = c.run("#include <unistd.h>\nstatic const unsigned char b[] = {%s};\n"
              "int main(){ (void)!write(1, b, sizeof b); (void)!write(2, b, sizeof b); }\n" % BAD_UTF8_LIST)
    utf8_checks(c, d)
    c.finish()


# ---------------------------------------------------------------------------------------------
# threads, recursion, huge argv / env, descriptors
# ---------------------------------------------------------------------------------------------

def test_py_many_threads():
    c = Case("python")
    d = c.run(r'''
import threading, time
n = 0
try:
    for i in range(10000):
        t = threading.Thread(target=time.sleep, args=(2,), daemon=True)
        t.start()
        n += 1
    print("all", n)
except RuntimeError:
    print("stopped", n)
''', timeout_ms=5000)
    c.status(d, "ok")
    if d:
        m = re.match(r"stopped (\d+)\n$", d["stdout"])
        c.want(m and int(m.group(1)) < 64, "thread creation stops below the process limit", d)
    c.finish()


def test_cpp_many_threads():
    c = Case("cpp")
    d = c.run(r'''
#include <chrono>
#include <cstdio>
#include <system_error>
#include <thread>
#include <unistd.h>
int main() {
    int n = 0;
    try {
        for (; n < 100000; n++) {
            std::thread t([] { std::this_thread::sleep_for(std::chrono::seconds(2)); });
            t.detach();
        }
    } catch (const std::system_error &) {
        printf("stopped %d\n", n); fflush(stdout); _exit(0);
    }
    printf("all %d\n", n); fflush(stdout); _exit(0);
}
''', timeout_ms=5000)
    c.status(d, "ok")
    if d:
        m = re.match(r"stopped (\d+)\n$", d["stdout"])
        c.want(m and int(m.group(1)) < 64, "thread creation stops below the process limit", d)
    c.finish()


def test_js_many_workers():
    c = Case("javascript")
    d = c.run(r'''
const { Worker } = require('worker_threads');
let n = 0, errors = 0;
for (let i = 0; i < 200; i++) {
  try { const w = new Worker('setTimeout(() => {}, 3000)', { eval: true }); w.on('error', () => errors++); n++; }
  catch (e) { errors++; break; }
}
setTimeout(() => { console.log('workers ' + n + ' errors ' + errors); process.exit(0); }, 1500);
''', timeout_ms=5000)
    if d:
        c.want(d.get("status") in ("ok", "runtime_error", "memory_limit"),
               "a clear result (ok, runtime_error or memory_limit)", d)
    c.finish()


def test_py_deep_recursion():
    # Recursion through a C function (map) uses the C stack: Python 3.11 cannot catch it.
    c = Case("python")
    d = c.run("import sys\nsys.setrecursionlimit(1 << 30)\ndef f(n):\n    return list(map(f, [n + 1]))\nf(0)\n",
              timeout_ms=5000)
    c.status(d, "runtime_error", "memory_limit")
    c.finish()


def test_js_deep_recursion():
    c = Case("javascript")
    d = c.run("function f(n) { return f(n + 1) + 1; }\nf(0);\n", timeout_ms=4000)
    c.status(d, "runtime_error")
    if d:
        c.want("Maximum call stack size exceeded" in d["stderr"], "RangeError reported", d)
    c.finish()


def test_cpp_stack_overflow():
    c = Case("cpp")
    d = c.run("int f(int n){ volatile char buf[1024]; buf[0] = (char)n; return f(n + 1) + buf[0]; }\n"
              "int main(){ return f(0); }\n", timeout_ms=4000)
    c.status(d, "runtime_error")
    if d:
        c.want(d.get("signal") == "SIGSEGV", "killed by SIGSEGV", d)
    c.finish()


def test_api_huge_args():
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
    c.want(st == 400 or (st == 200 and doc["data"]["status"] == "ok"),
           "an arg with a NUL byte: 400, or a normal run", doc)
    c.finish()


def test_py_huge_execve():
    c = Case("python")
    d = c.run(r'''
import os
res = []
try:
    os.execv("/bin/true", ["true"] + ["A" * 100000] * 300)
except OSError as e:
    res.append(e.errno)
try:
    os.execve("/bin/true", ["true"], {"K%d" % i: "V" * 1000 for i in range(40000)})
except OSError as e:
    res.append(e.errno)
try:
    os.execv("/bin/true", ["true", "B" * 200000])
except OSError as e:
    res.append(e.errno)
print(res)
''', timeout_ms=5000)
    c.status(d, "ok")
    if d:
        c.want(d["stdout"] == "[7, 7, 7]\n", "E2BIG for every huge argv/env", d)
    c.finish()


def test_cpp_huge_execve():
    c = Case("cpp")
    d = c.run(r'''
#include <cerrno>
#include <cstdio>
#include <string>
#include <vector>
#include <unistd.h>
int main() {
    std::string big(100000, 'A');
    std::vector<char *> av{(char *)"true"};
    for (int i = 0; i < 300; i++) av.push_back((char *)big.c_str());
    av.push_back(nullptr);
    char *env[] = {nullptr};
    execve("/bin/true", av.data(), env);
    int e1 = errno;
    std::vector<std::string> ev;
    for (int i = 0; i < 40000; i++) ev.push_back("K" + std::to_string(i) + "=" + std::string(1000, 'V'));
    std::vector<char *> ep;
    for (auto &s : ev) ep.push_back((char *)s.c_str());
    ep.push_back(nullptr);
    char *a2[] = {(char *)"true", nullptr};
    execve("/bin/true", a2, ep.data());
    int e2 = errno;
    printf("%d %d\n", e1, e2);
}
''', timeout_ms=5000)
    c.status(d, "ok")
    if d:
        c.want(d["stdout"] == "7 7\n", "E2BIG for huge argv and env", d)
    c.finish()


def test_cpp_fd_exhaustion():
    c = Case("cpp")
    d = c.run(r'''
#include <cstdio>
#include <fcntl.h>
#include <unistd.h>
#include <sys/socket.h>
int main() {
    int n = 0, fds[2];
    while (open("/dev/null", O_RDONLY) >= 0) n++;
    int p = 0;
    while (pipe(fds) == 0) p++;
    int s = 0;
    while (socket(AF_INET, SOCK_STREAM, 0) >= 0) s++;
    printf("%d %d %d\n", n, p, s);
}
''', timeout_ms=3000)
    c.status(d, "ok")
    if d:
        nums = [int(x) for x in d["stdout"].split()] if re.match(r"\d+ \d+ \d+\n$", d["stdout"]) else None
        c.want(nums is not None and nums[0] <= 256, "RLIMIT_NOFILE 256 (RUNNER_NOFILE) stops open()", d)
    c.finish()


# ---------------------------------------------------------------------------------------------
# symlink tricks in the work dir and in shared places; the compiler and its cache
# ---------------------------------------------------------------------------------------------

def test_py_symlink_tricks():
    c = Case("python")
    d = c.run(r'''
import os, sys
m = sys.argv[1]
print("CWD=" + os.getcwd(), file=sys.stderr)
os.remove("main.py")
os.symlink("/etc/passwd", "main.py")
os.symlink("loop_a", "loop_b")
os.symlink("loop_b", "loop_a")
os.mkdir("locked")
open("locked/secret", "w").write("x")
os.mkdir("locked/sub")
os.chmod("locked/sub", 0)
os.chmod("locked", 0)
os.symlink("/etc", "etc_dir")
os.symlink("/", "root_dir")
os.mkdir("d")
os.symlink("/etc/passwd", "d/passwd")
os.symlink("/etc/shadow", "d/shadow")
try:
    os.link("/etc/passwd", "hardlink")
    print("hard link made")
except OSError as e:
    print("hard link:", e.strerror)
os.symlink("/etc/passwd", "/tmp/%s-passwd" % m)
os.symlink("/etc", "/dev/shm/%s-etc" % m)
os.mkfifo("fifo")
print("planted")
''', timeout_ms=3000)
    c.status(d, "ok")
    if d:
        c.want(d["stdout"].endswith("planted\n"), "the program ran", d)
    c.finish()


def test_js_symlink_tricks():
    c = Case("javascript")
    d = c.run(r'''
const fs = require('fs');
const m = process.argv[2];
console.error('CWD=' + process.cwd());
fs.unlinkSync('main.js');
fs.symlinkSync('/etc/passwd', 'main.js');
fs.symlinkSync('loop_a', 'loop_b');
fs.symlinkSync('loop_b', 'loop_a');
fs.mkdirSync('locked');
fs.writeFileSync('locked/secret', 'x');
fs.chmodSync('locked', 0);
fs.symlinkSync('/etc', 'etc_dir');
fs.symlinkSync('/etc/passwd', '/tmp/' + m + '-passwd');
console.log('planted');
''', timeout_ms=3000)
    c.status(d, "ok")
    if d:
        c.want(d["stdout"] == "planted\n", "the program ran", d)
    c.finish()


def test_cpp_symlink_tricks():
    c = Case("cpp")
    d = c.run(r'''
#include <cstdio>
#include <string>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
int main(int argc, char **argv) {
    std::string m = argv[1];
    char cwd[4096]; if (getcwd(cwd, sizeof cwd)) fprintf(stderr, "CWD=%s\n", cwd);
    unlink("main.cpp"); if (symlink("/etc/passwd", "main.cpp")) perror("symlink");
    unlink("main"); if (symlink("/etc/passwd", "main")) perror("symlink");
    if (symlink("loop_a", "loop_b") || symlink("loop_b", "loop_a")) perror("loop");
    mkdir("locked", 0700);
    int fd = open("locked/secret", O_WRONLY | O_CREAT, 0600); close(fd);
    mkdir("locked/sub", 0700); chmod("locked/sub", 0); chmod("locked", 0);
    if (symlink("/", "root_dir")) perror("root");
    if (symlink("/etc/shadow", ("/dev/shm/" + m + "-shadow").c_str())) perror("shm link");
    if (symlink("/etc", ("/tmp/" + m + "-etc").c_str())) perror("tmp link");
    puts("planted");
}
''', timeout_ms=3000)
    c.status(d, "ok")
    if d:
        c.want(d["stdout"] == "planted\n", "the program ran", d)
    c.finish()


def test_cpp_binary_swapped_between_test_cases():
    # Case 1 replaces the compiled ./main (compiled once, run per case) by a symlink to
    # /etc/passwd; case 2 must then fail as a run of the user's program, nothing else breaks.
    c = Case("cpp")
    d = c.run(r'''
#include <cstdio>
#include <unistd.h>
int main() {
    puts("1");
    unlink("main");
    if (symlink("/etc/passwd", "main")) perror("symlink");
}
''', timeout_ms=3000, tests=[{"input": "", "expectedOutput": "1"}, {"input": "", "expectedOutput": "1"}])
    if d:
        t = d.get("tests") or []
        c.want(len(t) == 2 and t[0]["passed"] is True, "case 1 runs normally", d)
        c.want(len(t) == 2 and t[1]["passed"] is False and t[1]["status"] == "runtime_error",
               "case 2 (its binary replaced by the program itself) is a runtime_error of the program", d)
    c.finish()


def test_cpp_compile_cache_poisoning():
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


def test_cpp_include_secrets():
    # The compiler runs as the slot uid: it cannot read what the slot cannot.
    c = Case("cpp")
    paths = ["/etc/shadow"]
    if RUNTIME == "local":
        paths += ["%s/%s-0.token" % (STATE_DIR, l) for l in LANGS]
    for p in paths:
        d = c.run('#include "%s"\nint main(){}\n' % p, timeout_ms=3000, compile_error=True)
        if d:
            c.want(d.get("status") == "compile_error", "#include %s must not compile" % p, d)
            text = d.get("stderr", "") + json.dumps(d.get("compile", {}))
            c.want("root:" not in text and "$y$" not in text and "$6$" not in text
                   and not re.search(r"\b[0-9a-f]{64}\b", text), "no secret content in diagnostics of %s" % p, d)
            c.want("Permission denied" in text or "No such file" in text,
                   "the compiler was refused %s" % p, d)
    c.finish()


# ---------------------------------------------------------------------------------------------
# IPC: System V, POSIX shm, mqueue, /dev/shm
# ---------------------------------------------------------------------------------------------

def test_py_sysv_ipc_and_dev_shm():
    c = Case("python")
    d = c.run(r'''
import ctypes, os, sys
m, key = sys.argv[1], int(sys.argv[2])
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
shm = libc.shmget(key, 1 << 20, 0o1000 | 0o666)
addr = libc.shmat(shm, None, 0)
ctypes.memmove(addr, m.encode(), len(m))
msq = libc.msgget(key, 0o1000 | 0o666)
sem = libc.semget(key, 1, 0o1000 | 0o666)
priv = libc.shmget(0, 1 << 16, 0o1000 | 0o600)
with open("/dev/shm/%s-posix" % m, "w") as f:
    f.write(m)
os.chmod("/dev/shm/%s-posix" % m, 0o666)
print("ids", shm, msq, sem, priv)
''', timeout_ms=3000)
    c.status(d, "ok")
    if d:
        c.want(re.match(r"ids \d+ \d+ \d+ \d+\n$", d["stdout"]) is not None, "the program made its objects", d)
    c.finish()


def test_cpp_sysv_posix_ipc():
    c = Case("cpp")
    d = c.run(r'''
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <fcntl.h>
#include <mqueue.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>
int main(int argc, char **argv) {
    std::string m = argv[1];
    int key = atoi(argv[2]);
    int shm = shmget(key, 1 << 20, IPC_CREAT | 0666);
    char *p = shm >= 0 ? (char *)shmat(shm, nullptr, 0) : nullptr;
    if (p && p != (char *)-1) strcpy(p, m.c_str());
    struct { long t; char b[32]; } msg = {1, "hello"};
    int q = msgget(key, IPC_CREAT | 0666);
    msgsnd(q, &msg, sizeof msg.b, IPC_NOWAIT);
    int s = semget(key, 3, IPC_CREAT | 0666);
    int fd = shm_open(("/" + m).c_str(), O_CREAT | O_RDWR, 0666);
    if (fd >= 0 && ftruncate(fd, 4096)) {}
    struct mq_attr at = {}; at.mq_maxmsg = 4; at.mq_msgsize = 64;
    mqd_t mq = mq_open(("/" + m).c_str(), O_CREAT | O_RDWR, 0666, &at);
    if (fork() == 0) { shmat(shm, nullptr, 0); sleep(30); _exit(0); }  // stays attached
    printf("shm %d msg %d sem %d shm_open %d mq %s\n", shm, q, s, fd, mq == (mqd_t)-1 ? strerror(errno) : "ok");
}
''', timeout_ms=3000)
    c.status(d, "ok")
    if d:
        c.want(re.match(r"shm \d+ msg \d+ sem \d+ shm_open \d+ mq ok\n$", d["stdout"]) is not None,
               "the program made its objects", d)
    c.finish()


# ---------------------------------------------------------------------------------------------
# environment, executor's secrets, signals, ptrace
# ---------------------------------------------------------------------------------------------

ENV_SCAN_PY = r'''
import json, os
r = {"env": dict(os.environ), "self": open("/proc/self/environ", "rb").read().decode("utf-8", "replace").split("\0")}
pp = os.getppid()
r["readable"] = {}
# The launcher is the first process of the run's own pid namespace (pp == 1); the executor is
# outside it and has no pid here at all.
for name, pid in (("parent", pp), ("init", 1)):
    try:
        r["readable"][name] = open("/proc/%d/environ" % pid, "rb").read().decode("utf-8", "replace")
    except OSError as e:
        r["readable"][name] = e.errno
leaks = []
for p in os.listdir("/proc"):
    if p.isdigit() and int(p) != os.getpid():
        try:
            t = open("/proc/%s/environ" % p, "rb").read()
        except OSError:
            continue
        if b"EXECUTOR" in t or b"TOKEN" in t or b"CODEGATE" in t:
            leaks.append(p)
r["leaks"] = leaks
print(json.dumps(r))
'''


def env_checks(c, lang, d, env):
    want = EXPECTED_ENV[lang]
    c.want(set(env) == want, "the environment is exactly %s, got %s" % (sorted(want), sorted(env)), d)
    c.want(not any("EXECUTOR" in k or "TOKEN" in k or "CODEGATE" in k for k in env), "executor variables leak", d)
    c.want(env.get("LANG") == "C.UTF-8" and env.get("PATH") == "/usr/local/bin:/usr/bin:/bin", "LANG / PATH", d)
    c.want(env.get("HOME") and env.get("HOME") == env.get("TMPDIR"), "HOME = TMPDIR = the work dir", d)


def test_py_environment_and_proc_environ():
    c = Case("python")
    d = c.run(ENV_SCAN_PY, timeout_ms=4000)
    c.status(d, "ok")
    if d and d["status"] == "ok":
        r = json.loads(d["stdout"])
        env_checks(c, "python", d, r["env"])
        c.want(set(x.split("=")[0] for x in r["self"] if x) == EXPECTED_ENV["python"], "/proc/self/environ", d)
        for name in ("parent", "init"):
            # ENOENT: invisible (hidepid), EACCES: unreadable - either way not readable.
            c.want(r["readable"][name] in (2, 13), "/proc/<%s>/environ must be unreadable: %r"
                   % (name, r["readable"][name]))
        c.want(not r["leaks"], "readable environments carry executor variables: pids %s" % r["leaks"])
    c.finish()


def test_js_environment():
    c = Case("javascript")
    d = c.run("console.log(JSON.stringify(process.env));\n")
    c.status(d, "ok")
    if d and d["status"] == "ok":
        env_checks(c, "javascript", d, json.loads(d["stdout"]))
    c.finish()


def test_cpp_environment():
    c = Case("cpp")
    d = c.run("#include <cstdio>\nextern char **environ;\nint main(){ for (char **e = environ; *e; e++) puts(*e); }\n")
    c.status(d, "ok")
    if d and d["status"] == "ok":
        env = dict(l.split("=", 1) for l in d["stdout"].splitlines() if "=" in l)
        env_checks(c, "cpp", d, env)
    c.finish()


def test_py_signals_to_launcher_and_executor():
    c = Case("python")
    d = c.run(r'''
import json, os, signal
pp = os.getppid()
res = {}
def k(name, pid, sig):
    try:
        os.kill(pid, sig)
        res[name] = "delivered"
    except OSError as e:
        res[name] = e.errno
k("parent_term", pp, signal.SIGTERM)
k("parent_kill", pp, signal.SIGKILL)
k("parent_stop", pp, signal.SIGSTOP)
k("init", 1, signal.SIGKILL)
res["ppid"] = pp
# Every pid this run can see is its own: nothing of the launcher, the executor or other runs.
res["visible"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
print(json.dumps(res, sort_keys=True))
try:
    os.kill(-1, signal.SIGKILL)  # every process we may signal: only our own (and not ourselves)
except ProcessLookupError:
    pass  # there is none: the run is alone in its pid namespace
''', timeout_ms=3000)
    c.status(d, "ok")
    if d and d["status"] == "ok":
        r = json.loads(d["stdout"])
        visible, ppid = r.pop("visible"), r.pop("ppid")
        if G.as_user:
            # Unprivileged: the launcher is the same kernel uid, so kill() may report delivery;
            # the kernel drops SIGKILL/SIGSTOP to a namespace's init from inside it, and the
            # launcher takes stop requests only from outside the namespace. What must hold: the
            # run ended normally (above) and the next one is unaffected (the aftermath).
            c.want(all(v in ("delivered", 1) for v in r.values()), "signals to the launcher", d)
        else:
            c.want(all(v == 1 for v in r.values()), "every signal to the launcher / init: EPERM", d)
        c.want(ppid == 1, "the launcher is the run's pid 1 (its own pid namespace)", d)
        c.want(len(visible) == 1, "the run sees only its own process in /proc: %s" % visible, d)
    c.finish()


def test_js_signals_to_parent():
    c = Case("javascript")
    d = c.run(r'''
const res = {};
for (const [name, pid, sig] of [['parent', process.ppid, 'SIGKILL'], ['init', 1, 'SIGKILL'], ['all', -1, 'SIGTERM']]) {
  try { process.kill(pid, sig); res[name] = 'delivered'; } catch (e) { res[name] = e.code; }
}
console.log(JSON.stringify(res));
''', timeout_ms=3000)
    c.status(d, "ok")
    if d and d["status"] == "ok":
        r = json.loads(d["stdout"])
        if G.as_user:  # see test_py_signals_to_launcher_and_executor
            c.want(r.get("parent") in ("EPERM", "delivered") and r.get("init") in ("EPERM", "delivered"),
                   "signals to the launcher", d)
        else:
            c.want(r.get("parent") == "EPERM" and r.get("init") == "EPERM", "EPERM for the launcher and init", d)
    c.finish()


def test_cpp_kill_everything():
    c = Case("cpp")
    d = c.run(r'''
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <unistd.h>
#include <sys/wait.h>
static long ppid_of(long pid) {
    char p[64]; snprintf(p, sizeof p, "/proc/%ld/status", pid);
    FILE *f = fopen(p, "r"); char l[256]; long pp = -1;
    while (f && fgets(l, sizeof l, f)) if (sscanf(l, "PPid: %ld", &pp) == 1) break;
    if (f) fclose(f);
    return pp;
}
int main() {
    pid_t kids[3];
    for (int i = 0; i < 3; i++) if ((kids[i] = fork()) == 0) { pause(); _exit(0); }
    int a = kill(-1, SIGKILL);
    int dead = 0;
    for (int i = 0; i < 3; i++) { int st; if (waitpid(kids[i], &st, 0) > 0 && WIFSIGNALED(st)) dead++; }
    int b = kill(getppid(), SIGKILL); int eb = errno;
    int d = kill(1, SIGKILL); int ed = errno;
    printf("kill(-1)=%d own children killed=%d parent=%ld:%d/%s init=%d/%s\n", a, dead,
           (long)getppid(), b, strerrorname_np(eb), d, strerrorname_np(ed));
}
''', timeout_ms=3000)
    c.status(d, "ok")
    if d:
        want = ("kill(-1)=0 own children killed=3 parent=1:0/0 init=0/0\n" if G.as_user else
                "kill(-1)=0 own children killed=3 parent=1:-1/EPERM init=-1/EPERM\n")
        c.want(d["stdout"] == want,
               "kill(-1) reaches only the run's own processes", d)
    c.finish()


def test_cpp_ptrace_and_proc_of_executor():
    c = Case("cpp")
    d = c.run(r'''
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
static long ppid_of(long pid) {
    char p[64]; snprintf(p, sizeof p, "/proc/%ld/status", pid);
    FILE *f = fopen(p, "r"); char l[256]; long pp = -1;
    while (f && fgets(l, sizeof l, f)) if (sscanf(l, "PPid: %ld", &pp) == 1) break;
    if (f) fclose(f);
    return pp;
}
static void r(const char *what, long rc) { printf("%s=%s ", what, rc < 0 ? strerrorname_np(errno) : "ALLOWED"); }
int main() {
    long la = getppid(), ex = ppid_of(la);
    r("attach_launcher", ptrace(PTRACE_ATTACH, la, 0, 0));
    r("attach_executor", ptrace(PTRACE_ATTACH, ex, 0, 0));
    r("seize_executor", ptrace(PTRACE_SEIZE, ex, 0, 0));
    r("attach_init", ptrace(PTRACE_ATTACH, 1, 0, 0));
    char buf[64]; struct iovec lo = {buf, sizeof buf}, rem = {(void *)0x400000, sizeof buf};
    r("vm_readv", process_vm_readv(ex, &lo, 1, &rem, 1, 0));
    char p[64];
    snprintf(p, sizeof p, "/proc/%ld/mem", ex); r("mem", open(p, O_RDONLY));
    snprintf(p, sizeof p, "/proc/%ld/environ", ex); r("environ", open(p, O_RDONLY));
    snprintf(p, sizeof p, "/proc/%ld/fd/0", ex); r("fd", open(p, O_RDONLY));
    snprintf(p, sizeof p, "/proc/%ld/root/", ex); r("root", open(p, O_RDONLY | O_DIRECTORY));
    snprintf(p, sizeof p, "/proc/%ld/cwd/", ex); r("cwd", open(p, O_RDONLY | O_DIRECTORY));
    snprintf(p, sizeof p, "/proc/%ld/environ", la); r("launcher_environ", open(p, O_RDONLY));
    puts("");
}
''', timeout_ms=3000)
    c.status(d, "ok")
    if d:
        c.want(d["stdout"].strip() != "" and "ALLOWED" not in d["stdout"],
               "no ptrace, no /proc access to the executor or the launcher", d)
    c.finish()


def executor_paths():
    """Local runtime: the state dir, the executors' sockets and token files (known names)."""
    if RUNTIME != "local":
        return []
    out = [STATE_DIR]
    for l in LANGS:
        for n in range(EXECUTORS):
            out += ["%s/%s-%d.sock" % (STATE_DIR, l, n), "%s/%s-%d.token" % (STATE_DIR, l, n)]
    return out


EXEC_ACCESS_PY = r'''
import json, os, socket, sys
res = {}
for p in sys.argv[3:]:
    if p.endswith(".sock"):
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(p); res[p] = "connected"
        except OSError as e:
            res[p] = e.strerror
        s.close()
    elif p.endswith(".token"):
        try:
            res[p] = "read: " + open(p).read()
        except OSError as e:
            res[p] = e.strerror
    else:
        try:
            res[p] = "listed: %s" % os.listdir(p)
        except OSError as e:
            res[p] = e.strerror
def upgrade(auth):
    try:
        s = socket.create_connection(("127.0.0.1", 8765), timeout=2)
    except OSError as e:
        return "no connection: " + e.strerror
    req = ("GET / HTTP/1.1\r\nHost: 127.0.0.1:8765\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
           "Sec-WebSocket-Protocol: codegate-exec.v1\r\n" + auth + "\r\n")
    try:
        s.sendall(req.encode())
        s.settimeout(2)
        line = s.recv(4096).split(b"\r\n")[0].decode("latin-1")
    except OSError as e:
        line = "error: %s" % e
    s.close()
    return "answered: " + (line or "(closed)")
res["ws_no_token"] = upgrade("")
res["ws_bad_token"] = upgrade("Authorization: Bearer " + "0" * 64 + "\r\n")
print(json.dumps(res))
'''


def test_py_executor_socket_and_token():
    c = Case("python")
    d = c.run(EXEC_ACCESS_PY, executor_paths(), timeout_ms=6000)
    c.status(d, "ok")
    if d and d["status"] == "ok":
        r = json.loads(d["stdout"])
        for p, v in r.items():
            if p.startswith("ws_"):
                c.want(" 101 " not in v + " ", "%s: the executor's WebSocket must refuse: %s" % (p, v))
            else:
                c.want(not v.startswith(("connected", "read", "listed")), "%s: %s" % (p, v))
    c.finish()


def test_js_executor_socket():
    c = Case("javascript")
    d = c.run(r'''
const net = require('net');
const paths = process.argv.slice(4).filter(p => p.endsWith('.sock'));
const res = {};
let left = paths.length + 1;
const done = () => { if (--left === 0) console.log(JSON.stringify(res)); };
for (const p of paths) {
  const s = net.connect(p);
  s.on('connect', () => { res[p] = 'connected'; s.destroy(); done(); });
  s.on('error', e => { res[p] = e.code; done(); });
}
const t = net.connect(8765, '127.0.0.1');
t.setTimeout(2000, () => { res.ws = 'timeout'; t.destroy(); done(); });
t.on('connect', () => t.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'));
t.on('data', b => { res.ws = 'answered: ' + b.toString('latin1').split('\r\n')[0]; t.destroy(); done(); });
t.on('error', e => { res.ws = e.code; done(); });
t.on('end', () => { if (!res.ws) { res.ws = 'closed'; done(); } });
''', executor_paths(), timeout_ms=6000)
    c.status(d, "ok")
    if d and d["status"] == "ok":
        r = json.loads(d["stdout"])
        for p, v in r.items():
            c.want(v != "connected" and " 101 " not in v + " ", "%s: %s" % (p, v))
    c.finish()


# ---------------------------------------------------------------------------------------------
# network
# ---------------------------------------------------------------------------------------------

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


def run_net_case(lang, code):
    c = Case(lang)
    acc0 = (LISTENERS["loop"].accepted, LISTENERS["any"].accepted)
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
    acc1 = (LISTENERS["loop"].accepted, LISTENERS["any"].accepted)
    c.want(acc1 == acc0, "the suite's own listeners (127.0.0.1, 0.0.0.0) accepted connections: %s -> %s"
           % (acc0, acc1))
    c.finish()


def test_py_network():
    run_net_case("python", r'''
import json, socket, sys, threading
res = {}
def go(t):
    h, p = t.rsplit(":", 1)
    try:
        s = socket.create_connection((h, int(p)), timeout=1.5)
        res[t] = "connected"
        s.close()
    except OSError as e:
        res[t] = type(e).__name__ + ": " + str(e)
threading.stack_size(1 << 20)  # one thread per target: small stacks (the default is RLIMIT_STACK, 8 MiB)
ths = [threading.Thread(target=go, args=(t,)) for t in sys.argv[3:]]
for th in ths: th.start()
for th in ths: th.join()
print(json.dumps(res))
''')


def test_js_network():
    run_net_case("javascript", r'''
const net = require('net');
const targets = process.argv.slice(4), res = {};
let left = targets.length;
for (const t of targets) {
  const i = t.lastIndexOf(':');
  const s = net.connect(+t.slice(i + 1), t.slice(0, i));
  const end = v => { if (!(t in res)) { res[t] = v; s.destroy(); if (--left === 0) console.log(JSON.stringify(res)); } };
  s.setTimeout(1500, () => end('timeout'));
  s.on('connect', () => end('connected'));
  s.on('error', e => end(e.code));
}
''')


def test_cpp_network():
    run_net_case("cpp", r'''
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
int main(int argc, char **argv) {
    printf("{");
    for (int i = 3; i < argc; i++) {
        std::string t = argv[i];
        size_t c = t.rfind(':');
        sockaddr_in a{}; a.sin_family = AF_INET; a.sin_port = htons(atoi(t.c_str() + c + 1));
        inet_pton(AF_INET, t.substr(0, c).c_str(), &a.sin_addr);
        int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        const char *r = "connected";
        if (connect(s, (sockaddr *)&a, sizeof a) != 0) {
            if (errno != EINPROGRESS) r = strerrorname_np(errno);
            else {
                pollfd p{s, POLLOUT, 0};
                if (poll(&p, 1, 1500) <= 0) r = "timeout";
                else { int e = 0; socklen_t l = sizeof e; getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &l); if (e) r = strerrorname_np(e); }
            }
        }
        close(s);
        printf("%s\"%s\": \"%s\"", i > 3 ? ", " : "", argv[i], r);
    }
    printf("}\n");
}
''')


# ---------------------------------------------------------------------------------------------
# runs against each other
# ---------------------------------------------------------------------------------------------

def concurrently(first, second, delay):
    """Starts first() in a thread, waits `delay`, runs second(); returns (first(), second())."""
    out = {}
    th = threading.Thread(target=lambda: out.setdefault("a", first()), daemon=True)
    th.start()
    time.sleep(delay)
    b = second()
    th.join(60)
    return out.get("a"), b


def test_cpp_cross_run_attack():
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


def test_py_cross_run_shared_places():
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


# ---------------------------------------------------------------------------------------------
# issue 10: what a determined student found after the per-slot sandbox (each fails on b0d3976)
# ---------------------------------------------------------------------------------------------

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


def test_py_sysv_objects_given_away():
    """#10.1: SysV objects whose owner was changed with IPC_SET are removed after the run all the
    same; a large one no longer holds the slot's memory (the next, smaller run is not a 500)."""
    c = Case("python")
    d = c.run(IPC_GIVE_AWAY_PY, args=["200"], timeout_ms=8000, memory_mb=512)
    c.status(d, "ok")
    if d:
        # Unprivileged: only uid 1000 exists in the run's user namespace, so IPC_SET to 65534
        # fails (EINVAL) - there is nobody to give objects to.
        want = "set -1 22\nset -1 22\n" if G.as_user else "set 0 0\nset 0 0\n"
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


def test_process_budgets_are_per_slot():
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


def test_py_memory_promised_is_memory_given():
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


WRITABLE_SCAN_PY = r"""
import os, sys
cwd = os.getcwd()
mine = (cwd, "/tmp", "/var/tmp", "/dev/shm", "/dev/mqueue")
found = []
for top in os.listdir("/"):
    if top in ("proc", "sys"):
        continue
    for d, dirs, files in os.walk("/" + top):
        if any(d == m or d.startswith(m + "/") for m in mine):
            dirs[:] = []
            continue
        try:  # can a file be made here? (mode bits alone say little on devpts or read-only mounts)
            fd = os.open(os.path.join(d, ".w-" + sys.argv[1]), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            os.close(fd)
            os.unlink(os.path.join(d, ".w-" + sys.argv[1]))
            found.append(d)
        except OSError:
            pass
        dirs[:] = [x for x in dirs if not os.path.islink(os.path.join(d, x))][:200]
        if len(found) > 20:
            break
print("writable", sorted(found))
print("visible", [p for p in sys.argv[2:] if os.path.exists(p)])
"""


def test_py_no_shared_writable_places_and_no_host_view():
    """#10.4: no directory outside the run's own places is writable (the local runtime's
    /run/lock was shared by concurrent runs), and the host's files - the checkout, home
    directories, the gateway's state - are not visible at all."""
    c = Case("python")
    here = os.path.dirname(os.path.abspath(__file__))
    d = c.run(WRITABLE_SCAN_PY, args=[here, "/home", "/root", "/run", "/srv", "/opt/codegate",
                                      STATE_DIR or "/run/codegate"], timeout_ms=10000)
    c.status(d, "ok")
    if d:
        c.want(d["stdout"] == "writable []\nvisible []\n", "shared writable places or host files", d)
    c.finish()


def test_py_work_area_bounded_per_slot():
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
    c.want(st == 200 and doc["data"]["status"] in ("ok", "memory_limit"), "the filler ran", doc)
    if st == 200 and doc["data"]["status"] == "ok":
        m = re.search(r"written (\d+)", doc["data"]["stdout"])
        c.want(m and int(m.group(1)) <= 256, "a run could write %s MiB of files" % (m and m.group(1)), doc)
    st, doc, _ = dc
    c.want(st == 200 and doc["data"]["status"] == "ok" and doc["data"]["stdout"] == "compiled and wrote\n",
           "a concurrent C++ run lost its room", doc)
    c.finish(extra_langs=("cpp",))


def test_py_pseudo_terminals_bounded():
    """#10.5: a batch run opens at most a few pseudo-terminals (its slot's own devpts): the host's
    pool (and interactive sessions) stay available."""
    c = Case("python")
    code = ("import os\nfds = []\ntry:\n    for i in range(64):\n"
            "        fds.append(os.open('/dev/ptmx', os.O_RDWR | os.O_NOCTTY))\nexcept OSError as e:\n"
            "    print('stopped', e.errno)\nprint('opened', len(fds))\n")
    d = c.run(code, timeout_ms=4000)
    c.status(d, "ok")
    if d:
        m = re.search(r"opened (\d+)", d["stdout"])
        c.want(m and int(m.group(1)) <= 16, "a run opened %s terminals" % (m and m.group(1)), d)
    c.finish()


def test_py_work_dirs_go_with_a_killed_executor():
    """#10.11 (local): when an executor is killed, its jobs' work dirs (students' code) do not
    stay behind on the host, and the replacement starts clean."""
    if RUNTIME != "local":
        return
    c = Case("python")
    code = "import time\nopen('secret-' + __import__('sys').argv[1], 'w').write('x')\ntime.sleep(20)\n"
    th = threading.Thread(target=lambda: send("python", code, [c.marker], timeout_ms=25000), daemon=True)
    th.start()
    time.sleep(1.5)
    pids = executor_pids("python")
    c.want(pids, "found the python executor")
    for p in pids:
        os.kill(p, 9)
    th.join(40)
    deadline = time.time() + 30
    while time.time() < deadline:
        st, doc, _ = send("python", "print(1)", timeout_ms=3000)
        if st == 200 and doc["data"]["status"] == "ok":
            break
        time.sleep(0.5)
    left = []
    for d, dirs, files in os.walk(STATE_DIR or "/run"):
        left += [os.path.join(d, f) for f in files + dirs if c.marker in f]
    c.want(not left, "work dir files of the killed executor's job remain: %s" % left)
    c.restarts = restarts()
    c.finish()


def test_py_forged_stop_for_the_next_run():
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


def executor_pids(lang):
    """Local runtime: pids of this gateway's executors of lang."""
    out = []
    try:
        tasks = os.listdir("/proc/%d/task" % G.proc.pid)
    except OSError:
        return out
    for t in tasks:
        try:
            with open("/proc/%d/task/%s/children" % (G.proc.pid, t)) as f:
                kids = [int(x) for x in f.read().split()]
        except OSError:
            continue
        for k in kids:
            try:
                with open("/proc/%d/environ" % k, "rb") as f:
                    if ("EXECUTOR_LANGUAGE=%s" % lang).encode() in f.read().split(b"\0"):
                        out.append(k)
            except OSError:
                pass
    return out


def test_normal_requests_after_start():
    """The baseline requests (the probe, three times per language, on a fresh service) all ran."""
    check(not SETUP_ERRORS, "\n  - " + "\n  - ".join(SETUP_ERRORS))


TESTS = [
    test_normal_requests_after_start,
    test_py_sysv_objects_given_away, test_process_budgets_are_per_slot,
    test_py_memory_promised_is_memory_given, test_py_no_shared_writable_places_and_no_host_view,
    test_py_work_area_bounded_per_slot, test_py_pseudo_terminals_bounded,
    test_py_forged_stop_for_the_next_run,
    test_py_fork_bomb, test_cpp_fork_bomb, test_js_fork_bomb,
    test_py_memory_hog, test_py_memory_hog_in_forked_children, test_js_heap_hog,
    test_js_buffer_hog_outside_heap, test_cpp_memory_hog,
    test_py_stdout_flood, test_py_stderr_flood, test_js_stdout_flood, test_cpp_stdout_and_stderr_flood,
    test_py_disk_fill_work_dir, test_cpp_disk_fill_sigxfsz, test_js_disk_fill, test_py_disk_fill_shared_places,
    test_py_deep_directory_tree, test_py_many_files,
    test_py_busy_loop, test_js_busy_loop, test_cpp_busy_threads,
    test_py_sleeping_child, test_js_sleeping_child, test_cpp_sleeping_child,
    test_py_setsid_double_fork_daemon, test_cpp_setsid_daemon_ignoring_signals,
    test_js_detached_double_spawn_daemon, test_cpp_user_namespace_escape,
    test_py_closes_stdin_and_stdout, test_js_closes_stdin_and_stdout, test_cpp_closes_stdin_and_stdout,
    test_cpp_closes_all_stdio_and_lingers,
    test_py_never_reads_big_stdin, test_js_never_reads_big_stdin, test_cpp_closes_stdin_with_big_input,
    test_py_invalid_utf8, test_js_invalid_utf8, test_cpp_invalid_utf8,
    test_py_many_threads, test_cpp_many_threads, test_js_many_workers,
    test_py_deep_recursion, test_js_deep_recursion, test_cpp_stack_overflow,
    test_api_huge_args, test_py_huge_execve, test_cpp_huge_execve, test_cpp_fd_exhaustion,
    test_py_symlink_tricks, test_js_symlink_tricks, test_cpp_symlink_tricks,
    test_cpp_binary_swapped_between_test_cases, test_cpp_compile_cache_poisoning, test_cpp_include_secrets,
    test_py_sysv_ipc_and_dev_shm, test_cpp_sysv_posix_ipc,
    test_py_environment_and_proc_environ, test_js_environment, test_cpp_environment,
    test_py_signals_to_launcher_and_executor, test_js_signals_to_parent, test_cpp_kill_everything,
    test_cpp_ptrace_and_proc_of_executor,
    test_py_executor_socket_and_token, test_js_executor_socket,
    test_py_network, test_js_network, test_cpp_network,
    test_cpp_cross_run_attack, test_py_cross_run_shared_places,
    test_py_work_dirs_go_with_a_killed_executor,
]


def arg_value(args, flag, env, default):
    for i, a in enumerate(args):
        if a == flag and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
    return os.environ.get(env, default)


def main():
    global G, RUNTIME, UID_RANGE, STATE_DIR, EXECUTORS
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    extra = sys.argv[2:] or ["--runtime", "local"]
    r = Runner("hostile (%s)" % " ".join(extra))
    G = Gateway(build, extra, name="hostile").start(ready_timeout=1800)
    try:
        listening = [l for l in G.log_lines() if l.get("event") == "listening"]
        RUNTIME = (listening[-1].get("runtime") if listening else None) or \
            arg_value(extra, "--runtime", "CODEGATE_RUNTIME", "local")
        EXECUTORS = int(arg_value(extra, "--executors", "CODEGATE_EXECUTORS", "1"))
        if RUNTIME == "local":
            default = "/run/codegate-%s" % G.instance
            if G.as_user:
                import pwd
                default = "/tmp/codegate-%d-%s" % (pwd.getpwnam(G.as_user).pw_uid, G.instance)
            STATE_DIR = arg_value(extra, "--state-dir", "CODEGATE_STATE_DIR", default)
        # The gateway claims a range of slot uids of its own and says which.
        ranges = [re.search(r"slot uids (\d+)\.\.(\d+)", l.get("msg", "")) for l in G.log_lines()]
        ranges = [m for m in ranges if m]
        check(ranges, "the gateway did not log its slot uid range")
        UID_RANGE = (int(ranges[-1].group(1)), int(ranges[-1].group(2)) + 1)
        if G.as_user:
            UID_RANGE = (1000, 1001)  # unprivileged: programs are uid 1000 in their own user ns
            # No memory cgroup there: runs get the fallback address-space limit and, with it,
            # MALLOC_ARENA_MAX (executors/runner.c); Node has no address-space limit.
            for lang in ("python", "cpp"):
                EXPECTED_ENV[lang] = EXPECTED_ENV[lang] | {"MALLOC_ARENA_MAX"}
        print("    runtime %s, instance %s, slot uids %d..%d"
              % (RUNTIME, G.instance, UID_RANGE[0], UID_RANGE[1] - 1), flush=True)
        r.run(setup, timeout=300)
        if r.failed:
            return r.finish()
        r.run_all(G, TESTS, timeout=120)
    finally:
        if G.proc and G.proc.poll() is None:
            G.stop()
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
