#!/usr/bin/python3
"""External runtime suite: a gateway with --runtime external and executors it did not start.

    tests/integration/test_external.py BUILD_DIR

The suite starts standalone executors itself (BUILD_DIR/executor configured by environment, as
Compose or Kubernetes run them) and gateways with --runtime external pointed at them. It checks:
every language works; several executors of a language share the load; DNS: under
`unshare --mount`, a hosts file owned by the test is bind-mounted over /etc/hosts (and an
nsswitch.conf with "hosts: files") and rewritten in place, so a name's address set changes: a
new executor is used within seconds, a removed one is routed around, a name that stops
resolving keeps its last addresses, a gateway whose names do not resolve yet answers /healthz
and becomes ready once they do; kill -9 of an executor under load fails only retriable requests
(503 executor_lost with Retry-After) and the load recovers within seconds; SIGTERM of an
executor under load (it drains) fails no request; a wrong token is refused, logged clearly, and
/readyz stays 503; TLS with a CA made by the test (openssl CLI) in front of an executor works,
a gateway given another CA, or a name the certificate does not carry, refuses the connection
and is not ready; the gateway runs as a non-root user. The last line is `N passed, N failed`.
"""
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Gateway, Runner, check, free_port, http  # noqa: E402

BUILD = "build"
TMP = tempfile.mkdtemp(prefix="cg-ext-")
os.chmod(TMP, 0o755)
TOKEN = "ext-" + os.urandom(16).hex()
TOKEN_FILE = os.path.join(TMP, "token")
UID_BASE = [300000]
PRINT = "print('hi')"
SLOW = "import time\ntime.sleep(0.25)\nprint('ok')"
RETRIABLE = ("executor_lost",)


def write_file(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


write_file(TOKEN_FILE, TOKEN + "\n")


class Executor:
    """One standalone executor on HOST:PORT, configured by environment only."""

    def __init__(self, lang="python", host="127.0.0.1", port=None, slots=2, token_file=TOKEN_FILE):
        self.lang, self.host = lang, host
        self.port = port or free_port()
        k = len(EXECUTORS)
        UID_BASE[0] += 64
        self.work = os.path.join(TMP, "work-%d" % k)
        self.env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "EXECUTOR_LANGUAGE": lang,
                    "EXECUTOR_LISTEN": "tcp:%s:%d" % (host, self.port),
                    "EXECUTOR_TOKEN_FILE": token_file, "EXECUTOR_SLOTS": str(slots),
                    "EXECUTOR_UID_BASE": str(UID_BASE[0]),
                    "EXECUTOR_LAUNCHER": os.path.join(BUILD, "launcher"),
                    "EXECUTOR_WORK_ROOT": self.work}
        for v in ("ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS"):
            if v in os.environ:
                self.env[v] = os.environ[v]
        self.log_path = os.path.join(BUILD, "test-logs", "executor-ext-%d-%s-%d.log"
                                     % (os.getpid(), lang, k))
        self.proc = None
        EXECUTORS.append(self)
        self.start()

    @property
    def id(self):
        return "%s@%s:%d" % (self.lang, self.host, self.port)

    def start(self):
        os.makedirs(self.work, exist_ok=True)
        os.chmod(self.work, 0o711)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([os.path.join(BUILD, "executor")], env=self.env,
                                     stdout=log, stderr=log)
        log.close()
        deadline = time.time() + 30
        while time.time() < deadline:
            check(self.proc.poll() is None, "executor %s exited at start: %s" % (self.id, self.tail()))
            try:
                socket.create_connection((self.host, self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("executor %s not listening after 30 s" % self.id)

    def signal(self, sig):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def wait(self, timeout=60):
        return self.proc.wait(timeout)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def tail(self, n=15):
        try:
            with open(self.log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-n:]).decode("utf-8", "replace")
        except OSError:
            return ""


EXECUTORS = []
GATEWAYS = []


class ExtGateway(Gateway):
    """A gateway in the external runtime; optionally in a mount namespace where the test's hosts
    file (rewritten in place by set_hosts) is /etc/hosts, and optionally as another user."""

    def __init__(self, addrs, name, extra=(), hosts=None, token_file=TOKEN_FILE, user=None):
        args = ["--runtime", "external", "--executor-addrs", addrs, "--executor-token-file",
                token_file, "--resolve-ms", "300", "--ping-ms", "300", "--slots", "2"]
        super().__init__(BUILD, args + list(extra), name=name)
        self.hosts = hosts
        self.user = user
        GATEWAYS.append(self)

    def start(self, ready=True, ready_timeout=60):
        self.log = open(self.log_path, "wb")
        gw = os.path.join(BUILD, "gateway")
        cmd = [gw] + self.args
        if self.user:
            bindir = tempfile.mkdtemp(prefix="bin-", dir=TMP)
            os.chmod(bindir, 0o755)
            shutil.copy2(gw, bindir)
            cmd = ["setpriv", "--reuid", self.user, "--regid", "nogroup", "--clear-groups",
                   os.path.join(bindir, "gateway")] + self.args
        if self.hosts:
            nss = os.path.join(TMP, "nsswitch.conf")
            write_file(nss, "hosts: files\n")
            cmd = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                   'mount --bind "$1" /etc/hosts && mount --bind "$2" /etc/nsswitch.conf && '
                   'shift 2 && exec "$@"', "sh", self.hosts, nss] + cmd
        env = dict(self.env)
        env.pop("CODEGATE_RUNTIME", None)
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        path = "/readyz" if ready else "/healthz"
        deadline = time.time() + ready_timeout
        while time.time() < deadline:
            check(self.proc.poll() is None, "gateway exited with %s: %s"
                  % (self.proc.returncode, self.tail()))
            try:
                if http("GET", self.url + path, timeout=2)[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("gateway %s not answering 200 after %ss:\n%s"
                           % (path, ready_timeout, self.tail()))

    def readyz(self):
        st, doc, _ = http("GET", self.url + "/readyz", timeout=10)
        return st, doc

    def capacity(self, lang):
        return self.readyz()[1].get("capacity", {}).get(lang, {})

    def executors_used(self, since=0):
        """Executor ids that served requests, from the request log lines after the first `since`."""
        used = {}
        for ev in self.log_lines()[since:]:
            if ev.get("event") == "request" and ev.get("executor"):
                used[ev["executor"]] = used.get(ev["executor"], 0) + 1
        return used

    def logged(self, needle):
        with open(self.log_path, "rb") as f:
            return needle in f.read().decode("utf-8", "replace")


def run(gw, code=PRINT, lang="python", tests=None):
    body = {"language": lang, "code": code}
    if tests:
        body["tests"] = [{"input": ""} for _ in range(tests)]
    return http("POST", gw.url + "/api/code/execute", body, timeout=120)


def wait_for(cond, what, timeout=15):
    """Polls cond() until true; returns the seconds it took."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        if cond():
            return time.time() - t0
        time.sleep(0.1)
    raise AssertionError("%s: not within %ss" % (what, timeout))


class Load:
    """Clients sending python requests in a loop (half with two test cases) until stopped."""

    def __init__(self, gw, clients=4):
        self.gw, self.stop_ev, self.results = gw, threading.Event(), []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.client, args=(i,), daemon=True)
                        for i in range(clients)]
        for t in self.threads:
            t.start()

    def client(self, i):
        n = 0
        while not self.stop_ev.is_set():
            n += 1
            t = time.time()
            try:
                st, doc, hdrs = run(self.gw, SLOW, tests=2 if (i + n) % 2 else None)
                code = None if st == 200 else (doc or {}).get("error", {}).get("code")
                ok = st == 200 and doc["data"].get("status", "ok") in ("ok", "accepted") and \
                    "ok" in json.dumps(doc["data"])
                retry_after = hdrs.get("Retry-After")
            except Exception as e:  # noqa: a transport failure counts as a failure
                st, code, ok, retry_after = 0, repr(e), False, None
            with self.lock:
                self.results.append((t, st, code, ok, retry_after))

    def stop(self):
        self.stop_ev.set()
        for t in self.threads:
            t.join(150)
        return self.results

    def count(self):
        with self.lock:
            return len(self.results)


def summary(results):
    fails = [r for r in results if not r[3]]
    return len(results), fails


# ---- gateway A: literal addresses, every language, two python executors ----

A = {}


def setup_a():
    A["py"] = [Executor("python"), Executor("python")]
    A["js"] = Executor("javascript")
    A["cpp"] = Executor("cpp")
    addrs = "python=127.0.0.1:%d, 127.0.0.1:%d; javascript=127.0.0.1:%d; cpp=127.0.0.1:%d" % (
        A["py"][0].port, A["py"][1].port, A["js"].port, A["cpp"].port)
    A["gw"] = ExtGateway(addrs, "ext-a").start()
    wait_for(lambda: A["gw"].capacity("python").get("executors") == 2, "both python executors up")


def test_all_languages():
    gw = A["gw"]
    for lang, code, out in (("python", "print(6*7)", "42"),
                            ("javascript", "console.log(6*7)", "42"),
                            ("cpp", "#include <cstdio>\nint main(){std::printf(\"42\\n\");}", "42")):
        st, doc, _ = run(gw, code, lang)
        check(st == 200 and doc["data"]["stdout"].strip() == out, "%s runs" % lang, doc)
    st, doc, _ = http("GET", gw.url + "/api/languages")
    langs = {e["language"]: e for e in doc["data"]}
    check(set(langs) == {"python", "javascript", "cpp"}, "three languages", doc)
    check(langs["python"]["executors"] == 2 and langs["python"]["executorsReady"] == 2
          and langs["python"]["slots"] == 4, "python: 2 executors, 4 slots", doc)
    check(langs["cpp"]["executors"] == 1 and langs["cpp"]["ready"], "cpp: 1 executor", doc)
    check(TOKEN not in json.dumps(doc), "no secret in /api/languages")
    st, doc = gw.readyz()
    check(st == 200 and doc["status"] == "ready", "ready", doc)
    check(doc["capacity"]["python"] == {"executors": 2, "draining": 0, "slots": 4,
                                       "connections": 4}, "python capacity", doc)
    text = urlget(gw.url + "/metrics")
    check('codegate_executors_ready{language="python"} 2' in text, "metrics: 2 python ready")
    check('codegate_executors_draining{language="python"} 0' in text, "metrics: draining gauge")


def urlget(url):
    import urllib.request
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read().decode()


def test_load_shared():
    gw = A["gw"]
    since = len(gw.log_lines())
    threads, res = [], []
    for _ in range(8):
        th = threading.Thread(target=lambda: res.append(run(gw, SLOW)[0]))
        th.start()
        threads.append(th)
    for th in threads:
        th.join(120)
    check(res.count(200) == 8, "8 concurrent requests answered 200: %s" % res)
    used = gw.executors_used(since)
    check(set(used) >= {A["py"][0].id, A["py"][1].id}, "both python executors served: %s" % used)


def restart_and_use(gw, victim, timeout=20):
    """Starts the executor again at its address; returns the seconds until it serves a request."""
    since = len(gw.log_lines())
    victim.start()

    def used():
        run(gw, PRINT)
        run(gw, PRINT)
        return victim.id in gw.executors_used(since)
    return wait_for(used, "the restarted executor %s serves again" % victim.id, timeout)


def concurrent(gw, n, code, tests=None, inputs=None):
    """Starts n requests at once; returns a function that joins them and gives their answers."""
    out = [None] * n

    def one(i):
        body = {"language": "python", "code": code}
        if inputs:
            body["tests"] = [{"input": x} for x in inputs]
        out[i] = http("POST", gw.url + "/api/code/execute", body, timeout=120)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()

    def join():
        for t in threads:
            t.join(120)
        return out
    return join


# First case quick, second slow: the first RESULT is back long before the job ends.
TWO_PHASE = "import sys, time\nx = sys.stdin.read()\ntime.sleep(0.05 if x == 'a' else 2)\nprint('ok')"


def test_kill9_output_seen_fails_retriable():
    """Jobs on a killed executor whose first test case answered: 503 executor_lost, never rerun."""
    gw, victim = A["gw"], A["py"][0]
    since = len(gw.log_lines())
    join = concurrent(gw, 4, TWO_PHASE, inputs=["a", "b"])  # fills both executors' 2 slots
    time.sleep(0.8)
    victim.signal(signal.SIGKILL)
    victim.wait()
    answers = join()
    lost = [a for a in answers if a[0] == 503]
    ok = [a for a in answers if a[0] == 200]
    check(len(lost) == 2 and len(ok) == 2, "2 lost (on the victim), 2 done: %s"
          % [(a[0], a[1].get("error")) for a in answers])
    for st, doc, hdrs in lost:
        check(doc["error"]["code"] == "executor_lost" and hdrs.get("Retry-After") == "1",
              "503 executor_lost with Retry-After", doc)
    reqs = [ev for ev in gw.log_lines()[since:] if ev.get("event") == "request"]
    check(all(ev.get("executor") == A["py"][1].id for ev in reqs if ev.get("http") == 200),
          "the finished ones ran on the other executor")
    restart_and_use(gw, victim)


def test_kill9_nothing_seen_requeued():
    """Jobs on a killed executor that showed nothing yet run on the other one: all succeed."""
    gw, victim = A["gw"], A["py"][0]
    join = concurrent(gw, 4, "import time\ntime.sleep(1.5)\nprint('ok')")
    time.sleep(0.6)
    victim.signal(signal.SIGKILL)
    victim.wait()
    answers = join()
    check(all(a[0] == 200 and a[1]["data"]["stdout"] == "ok\n" for a in answers),
          "all 4 answered (2 re-queued): %s" % [a[0] for a in answers])
    check(gw.logged("retrying"), "the re-queue is logged")
    restart_and_use(gw, victim)


def test_kill9_under_load():
    gw, victim = A["gw"], A["py"][0]
    load = Load(gw)
    wait_for(lambda: load.count() >= 8, "load running", 60)
    victim.signal(signal.SIGKILL)
    victim.wait()
    t_kill = time.time()
    time.sleep(4)
    results = load.stop()
    total, fails = summary(results)
    bad = [f for f in fails if not (f[1] == 503 and f[2] in RETRIABLE and f[4])]
    print("    kill -9 under load: %d requests, %d failed, all retriable: %s"
          % (total, len(fails), not bad), flush=True)
    check(not bad, "only retriable failures (503 executor_lost + Retry-After): %s" % bad[:5])
    after = [r for r in results if r[0] > t_kill + 1]
    check(after and all(r[3] for r in after), "every request sent from 1 s after the kill works")
    took = restart_and_use(gw, victim)
    print("    restarted executor serving again after %.1f s" % took, flush=True)


def test_sigterm_drain_under_load():
    gw, victim = A["gw"], A["py"][1]
    load = Load(gw)
    wait_for(lambda: load.count() >= 8, "load running", 60)
    victim.signal(signal.SIGTERM)
    rc = victim.wait(60)
    time.sleep(2)
    results = load.stop()
    total, fails = summary(results)
    print("    SIGTERM under load: %d requests, %d failed" % (total, len(fails)), flush=True)
    restart_and_use(gw, victim)  # first: the next tests need both executors
    check(not fails, "no failed request while an executor drains: %s" % fails[:5])
    check(gw.logged("is draining"), "the gateway logged the drain")
    check(rc == 0, "the draining executor exits 0, not %s (log: %s)" % (rc, victim.log_path))


def test_stall_routed_around():
    """A stopped (SIGSTOP) executor misses its pings: closed, reported, routed around; its jobs
    that showed nothing re-run elsewhere; after SIGCONT it is back in service."""
    gw, victim = A["gw"], A["py"][0]
    victim.signal(signal.SIGSTOP)
    try:
        join = concurrent(gw, 4, PRINT)
        answers = join()
        check(all(a[0] == 200 for a in answers), "all answered: %s" % [a[0] for a in answers])
        wait_for(lambda: gw.logged("stopped answering: the external runtime cannot replace it"),
                 "the stall is noticed", 15)
        check(gw.capacity("python")["executors"] == 1, "the stalled executor is out")
    finally:
        victim.signal(signal.SIGCONT)
    since = len(gw.log_lines())

    def used():
        run(gw, PRINT)
        run(gw, PRINT)
        return victim.id in gw.executors_used(since)
    wait_for(used, "the resumed executor serves again", 20)


# ---- gateway B: names in a hosts file the test rewrites ----

B = {}


def set_hosts(lines):
    with open(B["hosts"], "r+") as f:  # in place: the bind mount holds this inode
        f.seek(0)
        f.write("127.0.0.1 localhost\n" + "".join("%s\n" % l for l in lines))
        f.truncate()


def test_dns_not_resolving_yet():
    B["hosts"] = os.path.join(TMP, "hosts")
    write_file(B["hosts"], "127.0.0.1 localhost\n")
    port = free_port()
    B["py"] = [Executor("python", "127.0.0.2", port), Executor("python", "127.0.0.3", port)]
    B["js"] = Executor("javascript", "127.0.0.4")
    addrs = "python=py.ext.test:%d;javascript=js.ext.test:%d" % (port, B["js"].port)
    gw = B["gw"] = ExtGateway(addrs, "ext-b", hosts=B["hosts"]).start(ready=False)
    st, doc = gw.readyz()
    check(st == 503 and doc["status"] == "starting", "not ready while nothing resolves", doc)
    time.sleep(1)
    check(gw.logged("resolve_failed"), "the resolution failure is logged")
    set_hosts(["127.0.0.2 py.ext.test", "127.0.0.4 js.ext.test"])
    took = wait_for(lambda: gw.readyz()[0] == 200, "ready once the names resolve", 20)
    print("    ready %.1f s after the names resolved" % took, flush=True)
    check(gw.capacity("python")["executors"] == 1, "one python executor")


def test_dns_new_executor_used():
    gw = B["gw"]
    set_hosts(["127.0.0.2 py.ext.test", "127.0.0.3 py.ext.test", "127.0.0.4 js.ext.test"])
    took = wait_for(lambda: gw.capacity("python").get("executors") == 2, "second address in use")
    print("    new address in service after %.1f s" % took, flush=True)
    since = len(gw.log_lines())
    res = []
    threads = [threading.Thread(target=lambda: res.append(run(gw, SLOW)[0])) for _ in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    check(res.count(200) == 6, "all answered: %s" % res)
    check(B["py"][1].id in gw.executors_used(since), "the new executor serves")


def test_dns_removed_routed_around():
    gw = B["gw"]
    load = Load(gw, clients=3)
    wait_for(lambda: load.count() >= 4, "load running", 60)
    set_hosts(["127.0.0.3 py.ext.test", "127.0.0.4 js.ext.test"])
    wait_for(lambda: gw.capacity("python").get("executors") == 1, "removed address out", 15)
    t_gone = time.time()
    time.sleep(2)
    results = load.stop()
    total, fails = summary(results)
    check(not fails, "no failure while an address leaves the name: %s" % fails[:5])
    late = [ev for ev in gw.log_lines() if ev.get("event") == "request"
            and ev.get("executor") == B["py"][0].id and parse_ts(ev["ts"]) > t_gone + 1]
    check(not late, "no request went to the removed executor after it left: %s" % late[:3])
    check(gw.logged('"executor_down"'), "executor_down logged")


def parse_ts(ts):
    import calendar
    base, ms = ts.rstrip("Z").split(".")
    return calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) + int(ms) / 1000.0


def test_dns_failure_keeps_last_set():
    gw = B["gw"]
    set_hosts(["127.0.0.4 js.ext.test"])  # py.ext.test no longer resolves
    time.sleep(1.5)
    check(gw.capacity("python").get("executors") == 1, "last known python address kept")
    st, doc, _ = run(gw)
    check(st == 200, "python still runs", doc)
    st, doc = gw.readyz()
    check(st == 200, "still ready", doc)
    code = gw.stop()
    check(code == 0, "gateway B exits 0 (%s)" % code)


# ---- authentication, TLS, non-root ----

def test_wrong_token():
    ex = Executor("python")
    bad = os.path.join(TMP, "bad-token")
    write_file(bad, "not-the-right-token-0123456789\n")
    gw = ExtGateway("python=127.0.0.1:%d" % ex.port, "ext-tok", token_file=bad,
                    extra=["--queue-wait-ms", "1000"]).start(ready=False)
    time.sleep(2)
    st, doc = gw.readyz()
    check(st == 503, "not ready with a wrong token", doc)
    check(gw.logged("does not accept our token"), "clear log line:\n" + gw.tail(5))
    st, doc, _ = run(gw)
    check(st == 503 and doc["error"]["code"] == "executor_unavailable",
          "requests fail: no executor", doc)
    check(gw.stop() == 0)
    # A token shorter than 16 characters is refused at start.
    short = os.path.join(TMP, "short-token")
    write_file(short, "short\n")
    gw2 = ExtGateway("python=127.0.0.1:%d" % ex.port, "ext-short", token_file=short)
    try:
        gw2.start(ready=False, ready_timeout=10)
    except AssertionError:
        pass  # it may exit before /healthz was asked
    gw2.proc.wait(10)
    check(gw2.proc.returncode != 0 and gw2.logged("at least 16 are required"),
          "short token refused:\n" + gw2.tail(5))
    ex.stop()


class TlsProxy:
    """A TLS terminator (the test's certificate) in front of a plain executor port."""

    def __init__(self, cert, key, target):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.target = target
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.handshakes = 0
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        try:
            s = self.ctx.wrap_socket(c, server_side=True)
        except (ssl.SSLError, OSError):
            c.close()
            return
        self.handshakes += 1
        u = socket.create_connection(("127.0.0.1", self.target))

        def pump(a, b):
            try:
                while True:
                    d = a.recv(65536)
                    if not d:
                        break
                    b.sendall(d)
            except OSError:
                pass
            for x in (a, b):
                try:
                    x.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        threading.Thread(target=pump, args=(u, s), daemon=True).start()
        pump(s, u)


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, capture_output=True, cwd=TMP)


def make_certs():
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=codegate test CA")
    openssl("req", "-x509", *ec, "-keyout", "ca2.key", "-out", "ca2.pem", "-days", "2",
            "-subj", "/CN=another CA")
    openssl("req", *ec, "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=py.tls.test")
    write_file(os.path.join(TMP, "ext.cnf"),
               "subjectAltName=DNS:py.tls.test\nbasicConstraints=CA:FALSE\n"
               "extendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "srv.pem", "-days", "2", "-extfile", "ext.cnf")


def test_tls():
    make_certs()
    ex = Executor("python")
    proxy = TlsProxy(os.path.join(TMP, "srv.pem"), os.path.join(TMP, "srv.key"), ex.port)
    hosts = os.path.join(TMP, "hosts-tls")
    write_file(hosts, "127.0.0.1 localhost\n127.0.0.1 py.tls.test\n")
    ca = os.path.join(TMP, "ca.pem")
    gw = ExtGateway("python=py.tls.test:%d" % proxy.port, "ext-tls", hosts=hosts,
                    extra=["--executor-ca-file", ca]).start(ready=True)
    st, doc, _ = run(gw, "print(6*7)")
    check(st == 200 and doc["data"]["stdout"] == "42\n", "runs over TLS", doc)
    check(proxy.handshakes >= 1, "TLS handshakes happened")
    check(gw.logged('"tls":true'), "endpoint announced with tls")
    check(gw.stop() == 0)
    # Another CA: the certificate does not verify.
    gw2 = ExtGateway("python=py.tls.test:%d" % proxy.port, "ext-tls-ca2", hosts=hosts,
                     extra=["--executor-ca-file", os.path.join(TMP, "ca2.pem")]).start(ready=False)
    time.sleep(2)
    st, doc = gw2.readyz()
    check(st == 503, "not ready with another CA", doc)
    check(gw2.logged("TLS handshake failed") and gw2.logged("unable to get local issuer"),
          "the verification failure is logged:\n" + gw2.tail(5))
    check(gw2.stop() == 0)
    # The right CA, but a name the certificate does not carry: refused as well.
    gw3 = ExtGateway("python=127.0.0.1:%d" % proxy.port, "ext-tls-name",
                     extra=["--executor-ca-file", ca]).start(ready=False)
    time.sleep(2)
    st, doc = gw3.readyz()
    check(st == 503, "not ready when the name does not match the certificate", doc)
    check(gw3.logged("TLS handshake failed") and gw3.logged("mismatch"), "logged:\n" + gw3.tail(5))
    check(gw3.stop() == 0)
    ex.stop()


def test_non_root():
    ex = Executor("python")
    gw = ExtGateway("python=127.0.0.1:%d" % ex.port, "ext-user", user="nobody").start(ready=True)
    st, doc, _ = run(gw)
    check(st == 200 and doc["data"]["stdout"] == "hi\n", "runs as nobody", doc)
    out = subprocess.run(["ps", "-o", "user=", "-p", str(gw.proc.pid)], capture_output=True,
                         text=True).stdout.strip()
    check(out == "nobody", "the gateway runs as nobody, not %r" % out)
    check(gw.stop() == 0)
    ex.stop()


def main():
    global BUILD
    if len(sys.argv) > 1:
        BUILD = sys.argv[1]
    os.makedirs(os.path.join(BUILD, "test-logs"), exist_ok=True)
    r = Runner("external runtime (%s)" % BUILD)
    try:
        r.run(setup_a, timeout=120)
        if r.failed == 0:
            for t in (test_all_languages, test_load_shared, test_kill9_output_seen_fails_retriable,
                      test_kill9_nothing_seen_requeued, test_kill9_under_load,
                      test_sigterm_drain_under_load, test_stall_routed_around):
                r.run(t, timeout=240)
            code = A["gw"].stop()

            def gateway_a_exits_cleanly():
                check(code == 0, "exit status %s" % code)
                reports = A["gw"].sanitizer_reports()
                check(not reports, "sanitizer reports: %s" % reports[:3])
            r.run(gateway_a_exits_cleanly)
        for t in (test_dns_not_resolving_yet, test_dns_new_executor_used,
                  test_dns_removed_routed_around, test_dns_failure_keeps_last_set,
                  test_wrong_token, test_tls, test_non_root):
            r.run(t, timeout=240)

        def no_sanitizer_reports():
            def reports(g):
                tsan = [l for l in open(g.log_path, errors="replace") if "ThreadSanitizer" in l]
                return g.sanitizer_reports() + tsan
            bad = [(g.instance, reports(g)[:2]) for g in GATEWAYS if reports(g)]
            check(not bad, "sanitizer reports: %s" % bad)
        r.run(no_sanitizer_reports)
    finally:
        for g in GATEWAYS:
            try:
                g.stop(timeout=20)
            except Exception:  # noqa: clean-up
                if g.proc:
                    g.proc.kill()
        for e in EXECUTORS:
            e.stop()
        shutil.rmtree(TMP, ignore_errors=True)
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
