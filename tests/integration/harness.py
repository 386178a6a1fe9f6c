"""Shared helpers for the integration suites: start a real gateway, talk HTTP to it, count results.

Only the Python standard library is used (Debian's python3), so the suites need no pip install.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Gateway:
    """A gateway process started for a test suite, with its log captured to a file."""

    def __init__(self, build, args=(), env=None, name="it"):
        self.build = build
        self.port = free_port()
        # CODEGATE_TEST_PREFIX (e.g. "http-") marks the instances of one test run on a shared host.
        self.instance = "%s%s-%d-%d" % (os.environ.get("CODEGATE_TEST_PREFIX", ""), name,
                                        os.getpid(), self.port)
        self.url = "http://127.0.0.1:%d" % self.port
        self.log_path = os.path.join(build, "test-logs", "gateway-%s.log" % self.instance)
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        self.args = ["--port", str(self.port), "--instance", self.instance] + list(args)
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.proc = None
        # CODEGATE_TEST_AS_USER: start the gateway as this (non-root) user, from a copy of the
        # binaries it can reach: the unprivileged local runtime (user namespaces).
        self.as_user = os.environ.get("CODEGATE_TEST_AS_USER") or None

    def start(self, ready_timeout=600):
        self.log = open(self.log_path, "wb")
        cmd = [os.path.join(self.build, "gateway")] + self.args
        env = self.env
        if self.as_user:
            import shutil
            import tempfile
            bindir = tempfile.mkdtemp(prefix="codegate-bin-")
            os.chmod(bindir, 0o755)
            for b in ("gateway", "executor", "launcher"):
                shutil.copy2(os.path.join(self.build, b), bindir)
            cmd = ["setpriv", "--reuid", self.as_user, "--regid", self.as_user, "--init-groups",
                   os.path.join(bindir, "gateway")] + self.args
            env = {k: v for k, v in env.items() if k not in ("XDG_RUNTIME_DIR", "HOME")}
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + ready_timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("gateway exited with %s during start-up; log: %s\n%s"
                                   % (self.proc.returncode, self.log_path, self.tail()))
            try:
                st, _, _ = http("GET", self.url + "/readyz", timeout=2)
                if st == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("gateway not ready after %ss; log tail:\n%s" % (ready_timeout, self.tail()))

    def tail(self, n=40):
        try:
            with open(self.log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-n:]).decode("utf-8", "replace")
        except OSError:
            return ""

    def log_lines(self):
        with open(self.log_path, "rb") as f:
            out = []
            for line in f.read().splitlines():
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
            return out

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def sanitizer_reports(self):
        """Lines of the log where AddressSanitizer, LeakSanitizer or UBSan reported a problem."""
        bad = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return []
        return [l for l in text.splitlines() if any(b in l for b in bad)]

    def children(self):
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True)
        return [int(x) for x in out.stdout.split()]

    def execute(self, body, timeout=120):
        return http("POST", self.url + "/api/code/execute", body, timeout=timeout)


def http(method, url, body=None, headers=None, timeout=60, raw=None):
    """Returns (status, parsed JSON or None, headers)."""
    data = raw
    hdrs = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            payload = r.read()
            status, rh = r.status, r.headers
    except urllib.error.HTTPError as e:
        payload = e.read()
        status, rh = e.code, e.headers
    try:
        doc = json.loads(payload) if payload else None
    except ValueError:
        doc = {"_raw": payload}
    return status, doc, rh


def raw_http(port, data, timeout=10, send_after=None):
    """Sends raw bytes (optionally more after the first answer bytes would have been sent: a
    list of chunks sent one by one, errors ignored) and reads until the server closes or the
    timeout. Returns (status or None, headers dict lower-cased, parsed JSON body or raw bytes,
    seconds taken, whether the read timed out)."""
    t0 = time.time()
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    out, timed_out = b"", False
    try:
        s.sendall(data)
        for chunk in send_after or ():
            try:
                s.sendall(chunk)
            except OSError:
                break
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
            head, sep, body = out.partition(b"\r\n\r\n")
            m = [l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
            if sep and m and len(body) >= int(m[0].split(b":")[1]):
                break
    except socket.timeout:
        timed_out = True
    except OSError:
        pass
    finally:
        s.close()
    dt = time.time() - t0
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = None
    if lines and lines[0].startswith(b"HTTP/"):
        try:
            status = int(lines[0].split()[1])
        except (IndexError, ValueError):
            pass
    hdrs = {}
    for l in lines[1:]:
        k, _, v = l.decode("latin1").partition(":")
        hdrs[k.strip().lower()] = v.strip()
    try:
        doc = json.loads(body) if body else None
    except ValueError:
        doc = body
    return status, hdrs, doc, dt, timed_out


class Runner:
    """Runs test functions, each with a hard timeout, and prints `N passed, N failed`."""

    def __init__(self, title):
        self.title = title
        self.passed = 0
        self.failed = 0
        self.failures = []

    def run(self, fn, *args, timeout=180):
        name = fn.__name__
        t0 = time.time()
        result = {}

        def target():
            try:
                fn(*args)
                result["ok"] = True
            except BaseException:  # noqa: report everything
                result["err"] = traceback.format_exc()

        th = threading.Thread(target=target, daemon=True)
        th.start()
        th.join(timeout)
        dt = time.time() - t0
        if th.is_alive():
            result["err"] = "hard timeout after %ss" % timeout
        if result.get("ok"):
            self.passed += 1
            print("[ OK ] %-52s %6.2fs" % (name, dt), flush=True)
        else:
            self.failed += 1
            self.failures.append(name)
            print("[FAIL] %-52s %6.2fs\n%s" % (name, dt, result.get("err")), flush=True)

    def run_all(self, gw, tests, timeout=180):
        """Runs tests against the gateway gw, stopping early if it dies; then stops it with SIGTERM
        and checks that it exits cleanly (one more test)."""
        for t in tests:
            self.run(t, timeout=timeout)
            if gw.proc.poll() is not None:
                print("the gateway exited (%s) during %s; log tail:\n%s"
                      % (gw.proc.returncode, t.__name__, gw.tail()))
                return
        code = gw.stop()

        def gateway_exits_cleanly():
            check(code == 0, "gateway exit status %s after SIGTERM" % code)
        self.run(gateway_exits_cleanly)

    def finish(self):
        print("%s: %d passed, %d failed" % (self.title, self.passed, self.failed))
        if self.failures:
            print("failed: " + ", ".join(self.failures))
        print("%d passed, %d failed" % (self.passed, self.failed), flush=True)
        return 0 if self.failed == 0 else 1


def check(cond, msg="check failed", doc=None):
    if not cond:
        if doc is not None:
            msg += "\n" + json.dumps(doc, indent=1)[:3000]
        raise AssertionError(msg)


def expect_ok(doc, status=200, st=None):
    """Asserts a 200 success answer (optionally with a given result status); returns data."""
    check(st is None or doc.get("success") is True, "not a success", doc)
    return doc["data"]


if __name__ == "__main__":
    sys.exit("import me")
