#!/usr/bin/python3
"""Executor service suite: the executor binary run on its own, as Compose or Kubernetes run it.

    tests/integration/test_executor_service.py BUILD_DIR

Checks GET /healthz (fields, busy, 404 elsewhere, no token needed, nothing secret) and
`executor --probe` (exit 0 up, 1 down or draining, one line of reason; TCP, 0.0.0.0 and the
unix socket), the token rules (at least 16 characters, a token file ending with a newline,
bad or missing tokens refused, never logged), EXECUTOR_UID_BASE=auto, the TLS listener (a CA
and a server certificate made with the openssl CLI: wss and https verified against the CA,
plain clients and other CAs fail, the probe over TLS, clear start-up refusals), the drain on
SIGTERM (DRAIN on every connection, new jobs refused with executor_draining, new upgrades
refused, PONG draining, /healthz 503, running and interactive jobs finish, exit 0), its bound
(EXECUTOR_DRAIN_MS: the job still running is killed and reported internal_error), a second
SIGTERM (stops at once), a prompt exit when idle. Each test starts executors of its own. The
last line is `N passed, N failed`.
"""
import http.client
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

import websocket  # Debian's python3-websocket

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Runner, check, free_port  # noqa: E402

PROTO = "codegate-exec.v1"
BUILD = "build"
TOKEN = "svc-" + os.urandom(12).hex()
UID_BASE = [63000]


class Executor:
    """One executor process on a TCP port of its own, configured by environment only."""

    def __init__(self, name, env=None, lang="python", slots=3, token=TOKEN, listen=None):
        self.port = free_port()
        self.work = tempfile.mkdtemp(prefix="cg-exec-svc-")
        os.chmod(self.work, 0o711)
        UID_BASE[0] += 10
        self.env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "EXECUTOR_LANGUAGE": lang,
                    "EXECUTOR_LISTEN": listen or "tcp:127.0.0.1:%d" % self.port,
                    "EXECUTOR_WORK_ROOT": self.work, "EXECUTOR_SLOTS": str(slots),
                    "EXECUTOR_UID_BASE": str(UID_BASE[0]), "EXECUTOR_LOG_LEVEL": "debug"}
        if token is not None:
            self.env["EXECUTOR_TOKEN"] = token
        for k in ("ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS"):
            if k in os.environ:
                self.env[k] = os.environ[k]
        self.env.update(env or {})
        self.log_path = os.path.join(BUILD, "test-logs", "executor-svc-%s.log" % name)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([os.path.join(BUILD, "executor")], env=self.env,
                                     stdout=self.log, stderr=self.log)

    def wait_up(self, fn=None):
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("executor exited with %s at start: %s" % (self.proc.returncode, self.tail()))
            try:
                (fn or self.connect)().close()
                return self
            except Exception:
                time.sleep(0.05)
        raise RuntimeError("executor not up after 30 s")

    def connect(self, token=TOKEN):
        hdr = ["Authorization: Bearer %s" % token] if token is not None else []
        ws = websocket.create_connection("ws://127.0.0.1:%d/" % self.port, header=hdr,
                                         subprotocols=[PROTO], timeout=20)
        hello = json.loads(ws.recv())
        check(hello["type"] == "hello", "hello first", hello)
        return ws

    def tail(self, n=20):
        with open(self.log_path, "rb") as f:
            return b"\n".join(f.read().splitlines()[-n:]).decode("utf-8", "replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        subprocess.call(["rm", "-rf", self.work])


def get(port, path, ctx=None, host="127.0.0.1"):
    """(status, parsed JSON body) of a plain HTTP(S) GET on the executor's port."""
    if ctx:
        c = http.client.HTTPSConnection(host, port, timeout=10, context=ctx)
    else:
        c = http.client.HTTPConnection(host, port, timeout=10)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, json.loads(r.read() or b"null")
    finally:
        c.close()


def probe(env, *args):
    """Runs `executor --probe` with the executor's environment: (exit status, stdout, stderr)."""
    r = subprocess.run([os.path.join(BUILD, "executor"), "--probe"] + list(args), env=env,
                       capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout, r.stderr


def execute(ws, jid, code, runs=None, **kw):
    msg = {"type": "execute", "v": 1, "id": jid, "language": "python", "code": code,
           "runs": runs or [{"input": "", "timeoutMs": 5000}]}
    msg.update(kw)
    ws.send(json.dumps(msg))


def recv(ws):
    """The next frame that is not a PONG."""
    while True:
        f = json.loads(ws.recv())
        if f.get("type") != "pong":
            return f


def collect(ws, jid):
    frames = []
    while True:
        f = recv(ws)
        frames.append(f)
        if f.get("type") == "done" and f.get("id") == jid:
            return frames


def closed_by_server(ws):
    """True when the executor closes the connection (close frame or EOF) within 10 s."""
    ws.settimeout(10)
    try:
        while True:
            op, _ = ws.recv_data(control_frame=True)
            if op == websocket.ABNF.OPCODE_CLOSE:
                return True
    except (websocket.WebSocketConnectionClosedException, ConnectionError):
        return True
    except Exception:
        return False


def refused(fn):
    try:
        fn().close()
    except Exception:
        return True
    return False


def wait_running(ex, n=1):
    """Waits until n job dirs exist in the executor's slot areas (its private tmpfs)."""
    def jobs():
        root = "/proc/%d/root%s" % (ex.proc.pid, ex.work)
        try:
            return [j for d in os.listdir(root) if d.startswith("slot-")
                    for j in os.listdir(os.path.join(root, d))]
        except OSError:
            return os.listdir(ex.work)
    deadline = time.time() + 10
    while len(jobs()) < n and time.time() < deadline:
        time.sleep(0.05)
    check(len(jobs()) >= n, "%d job(s) running" % n, jobs())


def test_drain_lets_running_jobs_finish():
    ex = Executor("drain").wait_up()
    try:
        ws1, ws2, ws3 = ex.connect(), ex.connect(), ex.connect()
        execute(ws1, "long", "import time\ntime.sleep(4)\nprint('finished')",
                [{"input": "", "timeoutMs": 20000}])
        execute(ws3, "inter", "import sys\nprint('ready', flush=True)\nfor l in sys.stdin: print(l.strip().upper(), flush=True)",
                [{"input": "", "timeoutMs": 20000}], stream=True, interactive=True)
        got = ""
        while "ready\n" not in got.replace("\r", ""):
            f = recv(ws3)
            check(f["type"] == "stdout", "interactive job started", f)
            got += f["data"]
        wait_running(ex, 2)
        t0 = time.time()
        ex.proc.send_signal(signal.SIGTERM)
        for ws in (ws1, ws2, ws3):
            f = recv(ws)
            check(f == {"type": "drain", "graceMs": 25000}, "DRAIN on every connection", f)
        execute(ws2, "late", "print('must not run')")
        fr = collect(ws2, "late")
        check(fr[0]["type"] == "error" and fr[0]["code"] == "executor_draining" and fr[0]["id"] == "late",
              "a new job is refused: executor_draining", fr)
        check(fr[-1]["type"] == "done" and fr[-1]["runs"] == 0 and len(fr) == 2, "then DONE, nothing ran", fr)
        ws2.send(json.dumps({"type": "ping", "seq": 7}))
        pong = json.loads(ws2.recv())
        check(pong.get("type") == "pong" and pong.get("draining") is True, "PONG says draining", pong)
        check(refused(ex.connect), "new upgrades refused while draining")
        st, doc = get(ex.port, "/healthz")
        check(st == 503 and doc["status"] == "draining" and doc["draining"] is True and doc["busy"] >= 1,
              "/healthz: 503 draining", doc)
        rc, _, err = probe(ex.env)
        check(rc == 1 and "unhealthy: HTTP 503" in err and err.count("\n") == 1, "probe: 1 while draining", err)
        check(ex.proc.poll() is None, "still running while jobs run")
        # The interactive job goes on taking input.
        ws3.send(json.dumps({"type": "stdin", "id": "inter", "run": 0, "data": "abc\n"}))
        got = ""
        while "ABC" not in got:
            f = recv(ws3)
            check(f["type"] == "stdout", "interactive output while draining", f)
            got += f["data"]
        ws3.send(json.dumps({"type": "close_stdin", "id": "inter"}))
        fr = collect(ws3, "inter")
        res = [f for f in fr if f["type"] == "result"]
        check(res and res[0]["status"] == "ok", "the interactive job ends normally", fr)
        fr = collect(ws1, "long")
        res = [f for f in fr if f["type"] == "result"]
        check(len(res) == 1 and res[0]["status"] == "ok" and res[0]["stdout"] == "finished\n",
              "the running job finished with its own result", fr)
        check(fr[-1]["runs"] == 1, "DONE counts the run", fr)
        for ws in (ws1, ws2, ws3):
            check(closed_by_server(ws), "connections closed after the last job")
        rc = ex.proc.wait(15)
        check(rc == 0, "exit 0 after the drain, got %s" % rc)
        print("    drained in %.2f s after SIGTERM" % (time.time() - t0))
        log = open(ex.log_path).read()
        check('"event":"drain"' in log and '"reason":"draining"' in log, "drain and refusal logged", ex.tail())
    finally:
        ex.stop()


def test_drain_bound_kills_late_jobs():
    ex = Executor("drain-bound", {"EXECUTOR_DRAIN_MS": "1000"}).wait_up()
    try:
        ws = ex.connect()
        execute(ws, "slow", "import sys,time\nprint('started', flush=True)\nsys.stderr.write('err')\ntime.sleep(30)",
                [{"input": "", "timeoutMs": 30000}, {"input": "", "timeoutMs": 30000}])
        wait_running(ex)
        time.sleep(0.3)
        t0 = time.time()
        ex.proc.send_signal(signal.SIGTERM)
        check(recv(ws) == {"type": "drain", "graceMs": 1000}, "DRAIN with the configured grace")
        fr = collect(ws, "slow")
        dt = time.time() - t0
        res = [f for f in fr if f["type"] == "result"]
        check(len(res) == 1 and res[0]["status"] == "internal_error" and res[0]["run"] == 0,
              "the run still going is reported internal_error", fr)
        check(res[0]["stdout"] == "started\n" and res[0]["stderr"].startswith("err\n")
              and "drain grace period" in res[0]["stderr"], "its output kept, the reason after stderr", res)
        check(fr[-1]["type"] == "done" and fr[-1]["runs"] == 1, "the second run is not started", fr)
        check(dt >= 0.9, "not killed before the grace (%.2f s)" % dt)
        check(closed_by_server(ws), "connection closed")
        rc = ex.proc.wait(10)
        dt = time.time() - t0
        check(rc == 0, "exit 0, got %s" % rc)
        check(dt < 1 + 6, "exit within grace + slack (%.2f s)" % dt)
        print("    grace 1.0 s: exit after %.2f s" % dt)
    finally:
        ex.stop()


def test_second_sigterm_stops_at_once():
    ex = Executor("drain-twice").wait_up()
    try:
        ws = ex.connect()
        execute(ws, "slow", "import time\ntime.sleep(30)", [{"input": "", "timeoutMs": 30000}])
        wait_running(ex)
        ex.proc.send_signal(signal.SIGTERM)
        check(recv(ws)["type"] == "drain", "DRAIN")
        time.sleep(0.3)
        check(ex.proc.poll() is None, "the first SIGTERM waits for the job")
        t0 = time.time()
        ex.proc.send_signal(signal.SIGTERM)
        fr = collect(ws, "slow")
        res = [f for f in fr if f["type"] == "result"]
        check(len(res) == 1 and res[0]["status"] == "internal_error" and "at once" in res[0]["stderr"],
              "the killed run says why", fr)
        rc = ex.proc.wait(10)
        dt = time.time() - t0
        check(rc == 0, "exit 0, got %s" % rc)
        check(dt < 5, "prompt exit after the second SIGTERM (%.2f s)" % dt)
        print("    second SIGTERM: exit after %.2f s" % dt)
    finally:
        ex.stop()


def test_idle_sigterm_exits_promptly():
    """What the gateway's local and docker runtimes rely on: no job, an idle connection open."""
    ex = Executor("drain-idle").wait_up()
    try:
        ws = ex.connect()
        t0 = time.time()
        ex.proc.send_signal(signal.SIGTERM)
        check(recv(ws) == {"type": "drain", "graceMs": 25000}, "DRAIN before the close")
        check(closed_by_server(ws), "idle connection closed")
        rc = ex.proc.wait(10)
        dt = time.time() - t0
        check(rc == 0 and dt < 3, "exit 0 promptly (rc %s, %.2f s)" % (rc, dt))
        print("    idle SIGTERM: exit after %.2f s" % dt)
        # No connection at all (the gateway closed its pool first): the same.
        ex2 = Executor("drain-idle2").wait_up()
        try:
            t0 = time.time()
            ex2.proc.send_signal(signal.SIGINT)
            rc = ex2.proc.wait(10)
            check(rc == 0 and time.time() - t0 < 3, "SIGINT, no connection: exit 0 promptly (rc %s)" % rc)
        finally:
            ex2.stop()
    finally:
        ex.stop()


def test_health_and_probe():
    ex = Executor("health", slots=2).wait_up()
    try:
        st, doc = get(ex.port, "/healthz")
        check(st == 200 and doc == {"status": "ok", "language": "python", "slots": 2, "busy": 0,
                                    "slotsDown": 0, "draining": False}, "/healthz fields", doc)
        for path in ("/", "/healthz/x", "/readyz", "/metrics", "/healthzz", "/x/healthz"):
            st, doc = get(ex.port, path)
            check(st == 404 and doc == {"error": "not_found"}, "%s: 404" % path, doc)
        st, doc = get(ex.port, "/healthz?verbose=1")
        check(st == 200 and doc["status"] == "ok", "a query string is ignored", doc)
        # A job running shows as busy; no token is needed and none is shown.
        ws = ex.connect()
        execute(ws, "b", "import time\ntime.sleep(1.5)", [{"input": "", "timeoutMs": 5000}])
        wait_running(ex)
        st, doc = get(ex.port, "/healthz")
        check(st == 200 and doc["busy"] == 1, "busy counted", doc)
        c = http.client.HTTPConnection("127.0.0.1", ex.port, timeout=10)
        c.request("GET", "/healthz")
        raw = c.getresponse()
        text = raw.read().decode() + str(raw.getheaders())
        c.close()
        check(TOKEN not in text and "token" not in text.lower(), "nothing secret in /healthz", text)
        collect(ws, "b")
        ws.close()
        # The probe, with the executor's own environment (listen 0.0.0.0 -> 127.0.0.1).
        rc, out, err = probe(ex.env)
        check(rc == 0 and json.loads(out)["status"] == "ok" and err == "", "probe: 0 when up", (rc, out, err))
        env = dict(ex.env, EXECUTOR_LISTEN="tcp:0.0.0.0:%d" % ex.port)
        env.pop("EXECUTOR_TOKEN", None)
        rc, out, err = probe(env)
        check(rc == 0, "probe of 0.0.0.0 asks 127.0.0.1, needs no token", (rc, out, err))
        port = free_port()
        t0 = time.time()
        rc, out, err = probe(dict(env, EXECUTOR_LISTEN="tcp:0.0.0.0:%d" % port))
        check(rc == 1 and "cannot connect to 127.0.0.1:%d" % port in err and err.count("\n") == 1,
              "probe: 1 when down, one line", err)
        check(time.time() - t0 < 3.5, "bounded")
        rc, out, err = probe(env, "--listen", "tcp:127.0.0.1:%d" % ex.port)
        check(rc == 0, "flags work too", err)
        # Something that accepts and never answers: the probe gives up after its 3 s.
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        try:
            t0 = time.time()
            rc, out, err = probe(env, "--listen", "tcp:127.0.0.1:%d" % silent.getsockname()[1])
            dt = time.time() - t0
            check(rc == 1 and "timed out" in err and err.count("\n") == 1, "probe: 1 on a silent peer", err)
            check(2 < dt < 8, "bounded by its 3 s timeout (%.2f s)" % dt)
            print("    probe of a silent peer: exit 1 after %.2f s" % dt)
        finally:
            silent.close()
    finally:
        ex.stop()


def test_health_on_unix_socket():
    d = tempfile.mkdtemp(prefix="cg-exec-svc-unix-")
    os.chmod(d, 0o711)
    path = os.path.join(d, "exec.sock")
    ex = Executor("health-unix", listen="unix:" + path)
    try:
        deadline = time.time() + 30
        while probe(ex.env)[0] != 0 and time.time() < deadline:
            check(ex.proc.poll() is None, "executor running", ex.tail())
            time.sleep(0.1)
        rc, out, err = probe(ex.env)
        check(rc == 0 and json.loads(out)["language"] == "python", "probe over the unix socket", (rc, out, err))
        ex.proc.send_signal(signal.SIGTERM)
        check(ex.proc.wait(10) == 0, "exit 0")
        rc, out, err = probe(ex.env)
        check(rc == 1 and "cannot connect" in err, "probe: 1 once stopped", err)
    finally:
        ex.stop()
        subprocess.call(["rm", "-rf", d])


def test_token_rules():
    # Too short: refused at start with a clear message that does not repeat the token.
    short = "abcdefghij12345"  # 15
    ex = Executor("token-short", token=short)
    try:
        rc = ex.proc.wait(30)
        log = open(ex.log_path).read()
        check(rc == 2 and "has 15 characters; at least 16 are required" in log and short not in log,
              "a 15-character token is refused", log)
    finally:
        ex.stop()
    ex = Executor("token-none", token=None)
    try:
        rc = ex.proc.wait(30)
        check(rc == 2 and "token is required" in open(ex.log_path).read(), "no token: refused")
    finally:
        ex.stop()
    # A token file ending with a newline; 16 characters are enough.
    d = tempfile.mkdtemp(prefix="cg-exec-svc-tok-")
    tok = "0123456789abcdef"
    path = os.path.join(d, "token")
    with open(path, "w") as f:
        f.write(tok + "\n")
    os.chmod(path, 0o600)
    ex = Executor("token-file", env={"EXECUTOR_TOKEN_FILE": path}, token=None)
    try:
        ex.wait_up(lambda: ex.connect(tok))
        ex.connect(tok).close()
        for bad in (None, "", " " + tok, tok[:-1], tok + "x", TOKEN, "Basic " + tok, tok.upper()):
            check(refused(lambda: ex.connect(bad)), "upgrade refused with token %r" % bad)
        hdr = ["Authorization: Basic %s" % tok]
        check(refused(lambda: websocket.create_connection("ws://127.0.0.1:%d/" % ex.port, header=hdr,
                                                          subprotocols=[PROTO], timeout=10)),
              "another scheme refused")
        # Without the token nothing runs: /healthz answers, and says nothing secret.
        st, doc = get(ex.port, "/healthz")
        check(st == 200 and tok not in json.dumps(doc), "healthz needs no token, shows none", doc)
        ex.proc.send_signal(signal.SIGTERM)
        check(ex.proc.wait(10) == 0, "exit 0")
        log = open(ex.log_path).read()
        check(tok not in log, "the token is never logged", log)
        check(log.count('"event":"conn_refuse"') >= 8, "refusals logged", log)
    finally:
        ex.stop()
        subprocess.call(["rm", "-rf", d])


def test_uid_base_auto():
    if os.geteuid() != 0:
        print("    (not root: slot uids are not used)")
        return
    ex = Executor("uid-auto", env={"EXECUTOR_UID_BASE": "auto"}, slots=2).wait_up()
    try:
        log = open(ex.log_path).read()
        m = re.search(r"slot uids (\d+)\.\.(\d+) \(auto: from (\S+)'s address ([0-9.]+)\)", log)
        check(m, "the chosen base is logged", log)
        base, last, ifname, addr = int(m.group(1)), int(m.group(2)), m.group(3), m.group(4)
        a = [int(x) for x in addr.split(".")]
        check(base == 20000000 + ((a[2] << 8) | a[3]) * 64 and last == base + 1,
              "base = 20000000 + low 16 bits x 64", (base, addr))
        ip = subprocess.run(["ip", "-4", "-o", "addr", "show", "dev", ifname], capture_output=True, text=True)
        check(addr in ip.stdout, "the address is this host's", ip.stdout)
        ws = ex.connect()
        execute(ws, "u", "import os\nprint(os.getuid())")
        res = [f for f in collect(ws, "u") if f["type"] == "result"]
        ws.close()
        check(res and base <= int(res[0]["stdout"]) <= last, "the program runs as a slot uid", res)
    finally:
        ex.stop()
    ex = Executor("uid-bad", env={"EXECUTOR_UID_BASE": "automatic"})
    try:
        rc = ex.proc.wait(30)
        check(rc == 2 and "must be auto or an integer" in open(ex.log_path).read(), "a bad uid base is refused")
    finally:
        ex.stop()


def make_certs(d):
    """A CA and a server certificate for localhost/127.0.0.1 signed by it (openssl CLI); also a
    second key that matches nothing."""
    def ossl(*args):
        subprocess.run(["openssl"] + list(args), cwd=d, check=True, capture_output=True, timeout=60)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ossl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=codegate test CA")
    ossl("req", *ec, "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=localhost")
    with open(os.path.join(d, "ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    ossl("x509", "-req", "-in", "srv.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
         "-out", "srv.crt", "-days", "2", "-extfile", "ext")
    ossl("genpkey", "-algorithm", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", "other.key")
    return {n: os.path.join(d, n) for n in ("ca.crt", "srv.crt", "srv.key", "other.key")}


def test_tls_listener():
    d = tempfile.mkdtemp(prefix="cg-exec-svc-tls-")
    try:
        c = make_certs(d)
        ex = Executor("tls", {"EXECUTOR_TLS_CERT_FILE": c["srv.crt"], "EXECUTOR_TLS_KEY_FILE": c["srv.key"]})
        ctx = ssl.create_default_context(cafile=c["ca.crt"])   # verifies the chain and the name

        def wss(token=TOKEN, context=ctx, host="localhost"):
            ws = websocket.create_connection("wss://%s:%d/" % (host, ex.port), subprotocols=[PROTO], timeout=20,
                                             header=["Authorization: Bearer %s" % token],
                                             sslopt={"context": context})
            hello = json.loads(ws.recv())
            check(hello["type"] == "hello", "hello over TLS", hello)
            return ws
        try:
            ex.wait_up(wss)
            ws = wss()
            execute(ws, "t", "print(6*7)")
            res = [f for f in collect(ws, "t") if f["type"] == "result"]
            check(res and res[0]["stdout"] == "42\n", "a job over wss, server cert verified against the CA", res)
            ws.close()
            check(refused(lambda: wss(token="wrong-token-but-long-enough")), "bad token refused over TLS too")
            st, doc = get(ex.port, "/healthz", ctx=ctx, host="localhost")
            check(st == 200 and doc["status"] == "ok", "/healthz over https", doc)
            # Clients that must fail: plain TCP (ws:// and http://) and a client that trusts other CAs.
            check(refused(ex.connect), "plain ws:// to the TLS listener fails")
            try:
                get(ex.port, "/healthz")
                raise AssertionError("plain HTTP answered by the TLS listener")
            except AssertionError:
                raise
            except Exception:
                pass
            check(refused(lambda: wss(context=ssl.create_default_context())),
                  "a client without our CA refuses the certificate")
            # The probe speaks TLS (without verification: it is the local process).
            rc, out, err = probe(ex.env)
            check(rc == 0 and json.loads(out)["status"] == "ok", "probe over TLS", (rc, out, err))
            env = dict(ex.env)
            del env["EXECUTOR_TLS_CERT_FILE"], env["EXECUTOR_TLS_KEY_FILE"]
            rc, out, err = probe(env)
            check(rc == 1 and err.count("\n") == 1, "a plain probe of a TLS listener fails", err)
            log = open(ex.log_path).read()
            check('"tls":true' in log, "listen event says tls", log)
        finally:
            ex.stop()
        # Start-up refusals with clear messages.
        cases = [({"EXECUTOR_TLS_CERT_FILE": c["srv.crt"]}, "TLS needs both"),
                 ({"EXECUTOR_TLS_KEY_FILE": c["srv.key"]}, "only the key is set"),
                 ({"EXECUTOR_TLS_CERT_FILE": os.path.join(d, "missing.crt"), "EXECUTOR_TLS_KEY_FILE": c["srv.key"]},
                  "missing.crt: No such file"),
                 ({"EXECUTOR_TLS_CERT_FILE": c["srv.crt"], "EXECUTOR_TLS_KEY_FILE": c["other.key"]},
                  "does not match the certificate"),
                 ({"EXECUTOR_TLS_CERT_FILE": c["srv.key"], "EXECUTOR_TLS_KEY_FILE": c["srv.key"]},
                  "is not a PEM certificate"),
                 ({"EXECUTOR_TLS_CERT_FILE": c["srv.crt"], "EXECUTOR_TLS_KEY_FILE": c["srv.crt"]},
                  "is not a PEM private key")]
        for i, (env, want) in enumerate(cases):
            bad = Executor("tls-bad%d" % i, env)
            try:
                rc = bad.proc.wait(30)
                log = open(bad.log_path).read()
                check(rc == 2 and want in log and log.count("\n") == 1, "refused: %s" % want, log)
            finally:
                bad.stop()
    finally:
        subprocess.call(["rm", "-rf", d])


def main():
    global BUILD
    BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
    os.makedirs(os.path.join(BUILD, "test-logs"), exist_ok=True)
    r = Runner("executor service")
    for t in (test_health_and_probe, test_health_on_unix_socket, test_token_rules, test_uid_base_auto,
              test_tls_listener,
              test_drain_lets_running_jobs_finish, test_drain_bound_kills_late_jobs,
              test_second_sigterm_stops_at_once, test_idle_sigterm_exits_promptly):
        r.run(t, timeout=120)
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
