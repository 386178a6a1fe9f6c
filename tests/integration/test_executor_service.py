#!/usr/bin/python3
"""Executor service suite: the executor binary run on its own, as Compose or Kubernetes run it.

    tests/integration/test_executor_service.py BUILD_DIR

Checks the drain on SIGTERM (DRAIN on every connection, new jobs refused with
executor_draining, new upgrades refused, PONG draining, running and interactive jobs finish,
exit 0), its bound (EXECUTOR_DRAIN_MS: the job still running is killed and reported
internal_error), a second SIGTERM (stops at once), a prompt exit when idle. Each test starts
executors of its own. The last line is `N passed, N failed`.
"""
import json
import os
import signal
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


def main():
    global BUILD
    BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
    os.makedirs(os.path.join(BUILD, "test-logs"), exist_ok=True)
    r = Runner("executor service")
    for t in (test_drain_lets_running_jobs_finish, test_drain_bound_kills_late_jobs,
              test_second_sigterm_stops_at_once, test_idle_sigterm_exits_promptly):
        r.run(t, timeout=120)
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
