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
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Gateway:
    """A gateway process started for a test suite, with its log captured to a file.

    Attach mode: when the environment has CODEGATE_TEST_URL (http://HOST:PORT), the suite runs
    against a gateway somebody else started (tests/compose/ brings one up with Docker Compose).
    start() then only waits for /readyz, stop() does nothing and returns None, and the log comes
    from the command in CODEGATE_TEST_LOG_CMD (run with the shell; e.g. `docker logs ID`) or
    from a callable set as log_source. `attached` tells a suite which tests cannot apply (they
    must be excluded by name with the reason printed, never passed silently).
    """

    def __init__(self, build, args=(), env=None, name="it"):
        self.attached = bool(os.environ.get("CODEGATE_TEST_URL"))
        self.log_source = None
        if self.attached:
            self._init_attached(os.environ["CODEGATE_TEST_URL"].rstrip("/"))
            return
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

    def _init_attached(self, url):
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme != "http" or not parsed.hostname or not parsed.port:
            raise ValueError("CODEGATE_TEST_URL must be http://HOST:PORT, not %r" % url)
        self.build = None
        self.url = url
        self.port = parsed.port
        self.instance = None
        self.log_path = None
        self.args = []
        self.env = dict(os.environ)
        self.proc = None
        self.as_user = None

    def _wait_ready(self, deadline):
        while time.time() < deadline:
            try:
                st, _, _ = http("GET", self.url + "/readyz", timeout=2)
                if st == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.1)
        return False

    def _log_text(self):
        """The gateway's log as text: its file, or in attach mode the log source."""
        if not self.attached:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        if self.log_source is not None:
            return self.log_source()
        cmd = os.environ.get("CODEGATE_TEST_LOG_CMD")
        if not cmd:
            raise RuntimeError("attach mode: no gateway log (set CODEGATE_TEST_LOG_CMD)")
        out = subprocess.run(cmd, shell=True, capture_output=True, timeout=60)
        return (out.stdout + out.stderr).decode("utf-8", "replace")

    def start(self, ready_timeout=600):
        if self.attached:
            if not self._wait_ready(time.time() + ready_timeout):
                raise RuntimeError("attached gateway %s not ready after %ss" % (self.url, ready_timeout))
            return self
        self.log = open(self.log_path, "wb")
        cmd = [os.path.join(self.build, "gateway")] + self.args
        env = self.env
        if self.as_user:
            import shutil
            import tempfile
            bindir = tempfile.mkdtemp(prefix="codegate-bin-")
            os.chmod(bindir, 0o755)
            for b in ("gateway", "executor", "launcher", "launcher-py"):
                if b != "launcher-py" or os.path.exists(os.path.join(self.build, b)):
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
            return "\n".join(self._log_text().splitlines()[-n:])
        except (OSError, RuntimeError, subprocess.SubprocessError):
            return ""

    def log_lines(self):
        out = []
        for line in self._log_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.attached:
            return None
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
            text = self._log_text()
        except (OSError, RuntimeError, subprocess.SubprocessError):
            return []
        return [l for l in text.splitlines() if any(b in l for b in bad)]

    def children(self):
        if self.attached:
            raise RuntimeError("attach mode: the gateway is not a child of this test")
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
        self.excluded = []

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
            if gw.proc is not None and gw.proc.poll() is not None:
                print("the gateway exited (%s) during %s; log tail:\n%s"
                      % (gw.proc.returncode, t.__name__, gw.tail()))
                return
        code = gw.stop()
        if gw.attached:
            self.exclude("gateway_exits_cleanly", "attached to a gateway this suite did not start")
            return

        def gateway_exits_cleanly():
            check(code == 0, "gateway exit status %s after SIGTERM" % code)
        self.run(gateway_exits_cleanly)

    def exclude(self, name, reason):
        """A test that cannot apply to this setup: named, with its reason, and not counted."""
        self.excluded.append(name)
        print("[EXCL] %-52s %s" % (name, reason), flush=True)

    def finish(self):
        print("%s: %d passed, %d failed" % (self.title, self.passed, self.failed))
        if self.excluded:
            print("excluded (do not apply here): " + ", ".join(self.excluded))
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
