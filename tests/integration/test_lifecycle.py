#!/usr/bin/python3
"""Lifecycle suite: load shedding, lost executors, sandbox failures and graceful SIGTERM.

    tests/integration/test_lifecycle.py BUILD_DIR [gateway args...]

Each check starts its own gateway with the configuration it needs (small queues, one slot...).
The last line is `N passed, N failed`.
"""
import concurrent.futures
from http.client import HTTPConnection
import json
import os
import socket
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Gateway, Runner, check, http  # noqa: E402

BUILD = "build"
EXTRA = ["--runtime", "local"]
SLEEP = "import time\ntime.sleep(%s)\nprint('slept')"


def gateway(*args, **kw):
    return Gateway(BUILD, EXTRA + list(args), name=kw.get("name", "lc"))


def test_overloaded_when_queue_full():
    g = gateway("--executors", "1", "--slots", "1", "--queue-max", "1").start()
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as ex:
            futs = [ex.submit(g.execute, {"language": "python", "code": SLEEP % 1.5}) for _ in range(4)]
            res = [f.result() for f in futs]
        codes = sorted(st for st, _, _ in res)
        check(codes.count(200) >= 2 and 503 in codes, "statuses %s" % codes)
        for st, doc, h in res:
            if st == 503:
                check(doc["error"]["code"] == "overloaded" and h["Retry-After"], "503 shape", doc)
        st, doc, _ = g.execute({"language": "python", "code": "print('after')"})
        check(st == 200 and doc["data"]["stdout"] == "after\n", "healthy afterwards", doc)
    finally:
        check(g.stop() == 0, "exit 0")


def test_queue_wait_deadline():
    g = gateway("--executors", "1", "--slots", "1", "--queue-wait-ms", "400").start()
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
            a = ex.submit(g.execute, {"language": "python", "code": SLEEP % 2})
            time.sleep(0.2)
            t0 = time.time()
            b = ex.submit(g.execute, {"language": "python", "code": "print(1)"})
            st, doc, h = b.result()
            waited = time.time() - t0
            check(st == 503 and doc["error"]["code"] == "overloaded" and "Retry-After" in h, "queued too long", doc)
            check(waited < 1.9, "answered at the queue deadline, not after the running job (%.2fs)" % waited)
            check(a.result()[0] == 200, "first request fine")
    finally:
        check(g.stop() == 0, "exit 0")


def executor_pid(g, language):
    for pid in g.children():
        try:
            with open("/proc/%d/environ" % pid, "rb") as f:
                if b"EXECUTOR_LANGUAGE=" + language.encode() in f.read().split(b"\0"):
                    return pid
        except OSError:
            pass
    return None


def test_executor_lost_mid_job():
    g = gateway("--executors", "1").start()
    try:
        pid = executor_pid(g, "cpp")
        check(pid, "found the cpp executor")
        res = {}

        def call():
            res["r"] = g.execute({"language": "cpp", "code":
                                  "#include <unistd.h>\n#include <cstdio>\nint main(){sleep(20);puts(\"x\");}",
                                  "timeoutMs": 25000})
        th = threading.Thread(target=call)
        th.start()
        time.sleep(2.0)  # compiled by now: its COMPILE frame came back, so no retry
        os.kill(pid, signal.SIGKILL)
        th.join(30)
        check(not th.is_alive(), "client not hung")
        st, doc, _ = res["r"]
        check(st == 503 and doc["error"]["code"] == "executor_lost", "503 executor_lost", doc)
        deadline = time.time() + 20
        while time.time() < deadline:
            st, doc, _ = g.execute({"language": "cpp", "code": "int main(){return 0;}"})
            if st == 200:
                break
            time.sleep(0.3)
        check(st == 200, "replacement serves", doc)
    finally:
        check(g.stop() == 0, "exit 0")


def test_sandbox_failure_is_internal_error():
    g = gateway("--launcher-bin", "/bin/false", "--executors", "1").start()
    try:
        st, doc, _ = g.execute({"language": "python", "code": "print(1)"})
        check(st == 500 and doc["error"]["code"] == "internal_error", "500 internal_error", doc)
        st, _, _ = http("GET", g.url + "/healthz")
        check(st == 200, "still healthy")
    finally:
        check(g.stop() == 0, "exit 0")


def test_sigterm_drains_in_flight_request():
    g = gateway().start()
    res = {}

    def call():
        res["r"] = g.execute({"language": "python", "code": SLEEP % 1.5})
    th = threading.Thread(target=call)
    th.start()
    # A keep-alive connection opened before the signal may still ask /readyz.
    keep = HTTPConnection("127.0.0.1", g.port, timeout=3)
    keep.request("GET", "/healthz")
    check(keep.getresponse().read() and True, "keep-alive connection works")
    time.sleep(0.4)
    kids = g.children()
    g.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    keep.request("GET", "/readyz")
    r = keep.getresponse()
    doc = json.loads(r.read())
    check(r.status == 503 and doc["status"] == "draining", "readyz 503 draining on an open connection", doc)
    keep.close()
    # A new connection is refused at once; it must never be accepted and left hanging.
    t0 = time.time()
    try:
        s = socket.create_connection(("127.0.0.1", g.port), timeout=3)
        s.sendall(b"GET /readyz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        try:
            data = s.recv(4096)
        except socket.timeout:
            raise AssertionError("a new connection was accepted during the drain and hung %.1fs"
                                 % (time.time() - t0))
        check(data.startswith(b"HTTP/1.1 503"), "a new connection during the drain: %r" % data[:80])
    except ConnectionRefusedError:
        pass  # the listening socket is closed: what README documents
    th.join(30)
    st, doc, _ = res["r"]
    check(st == 200 and doc["data"]["stdout"] == "slept\n", "in-flight request completed", doc)
    check(g.proc.wait(30) == 0, "exit status 0")
    alive = [p for p in kids if os.path.exists("/proc/%d" % p)]
    check(not alive, "executors left behind: %s" % alive)
    events = [l.get("event") for l in g.log_lines()]
    check("drain_start" in events and "drain_done" in events, "drain logged")


def test_drain_deadline_answers_503():
    g = gateway("--drain-ms", "500").start()
    res = {}

    def call():
        res["r"] = g.execute({"language": "python", "code": SLEEP % 10, "timeoutMs": 15000})
    th = threading.Thread(target=call)
    th.start()
    time.sleep(0.5)
    t0 = time.time()
    g.proc.send_signal(signal.SIGTERM)
    th.join(30)
    st, doc, _ = res["r"]
    check(st == 503 and doc["error"]["code"] == "shutting_down", "503 shutting_down", doc)
    check(g.proc.wait(30) == 0 and time.time() - t0 < 8, "quick exit 0")


def test_second_signal_skips_drain():
    g = gateway("--drain-ms", "60000").start()
    th = threading.Thread(target=lambda: g.execute({"language": "python", "code": SLEEP % 20, "timeoutMs": 25000}))
    th.start()
    time.sleep(0.5)
    t0 = time.time()
    g.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    g.proc.send_signal(signal.SIGTERM)
    check(g.proc.wait(30) == 0, "exit 0")
    check(time.time() - t0 < 10, "did not wait for the drain")
    th.join(30)


def test_config_errors():
    import subprocess
    exe = os.path.join(BUILD, "gateway")
    r = subprocess.run([exe, "--port", "70000"], capture_output=True, text=True, timeout=10)
    check(r.returncode == 2 and "port" in r.stderr, "range error names the flag: %r" % r.stderr)
    r = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=10)
    check(r.returncode == 0 and "CODEGATE_QUEUE_MAX" in r.stdout and "PORT" in r.stdout, "help")
    r = subprocess.run([exe], capture_output=True, text=True, timeout=10,
                       env=dict(os.environ, CODEGATE_SLOTS="zero"))
    check(r.returncode == 2 and "CODEGATE_SLOTS" in r.stderr, "env error names the variable: %r" % r.stderr)


def main():
    global BUILD, EXTRA
    BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
    EXTRA = sys.argv[2:] or ["--runtime", "local"]
    r = Runner("lifecycle (%s)" % " ".join(EXTRA))
    for t in (test_config_errors, test_overloaded_when_queue_full, test_queue_wait_deadline,
              test_executor_lost_mid_job, test_sandbox_failure_is_internal_error,
              test_sigterm_drains_in_flight_request, test_drain_deadline_answers_503,
              test_second_signal_skips_drain):
        r.run(t, timeout=240)
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
