#!/usr/bin/python3
"""Async suite (issue #14): submissions on a durable Redis queue, end to end.

    tests/integration/test_async.py BUILD_DIR [--runtime local]

Every test starts what it needs itself: a real redis-server (own unix socket in a temp dir,
port 0, appendonly yes + appendfsync always, as `make run` does) and real gateways with real
executors (`--runtime local`), with a short visibility timeout, backoff and TTL so the suite ends
in a few minutes. Nothing is faked: crashes are `kill -9` of real processes, an unavailable
executor is a real executor binary that refuses to start (a wrapper script around the real one),
callbacks go to a real HTTP receiver on 127.0.0.1 that checks the HMAC-SHA256 signature.

What it proves (docs/ASYNC.md states the semantics):
- the API: 202 + Location, GET with ?wait long-poll, DELETE (cancel; 409 once running),
  Idempotency-Key, batches (per-entry errors, ids in order, > 100 -> 400), 404 after the TTL,
  503 without --redis-url; `result` has exactly the fields /api/code/execute answers;
- durability and re-claim: 500 submissions from 10 clients while the gateway is killed with
  SIGKILL three times: every one ends done with its own output, one final result each (the
  number run more than once is printed); two gateways on one Redis: both work, one killed, the
  other finishes its submissions after the visibility timeout; Redis stopped (SIGTERM, then
  SIGKILL) with work queued and running: nothing accepted is lost;
- retries only for the service's failures: an executor that cannot start -> retries with
  backoff -> failed with the reason, in the dead letters -> re-queued by the admin endpoint
  once the executor is back -> done; a program's own failure (runtime error, timeout, compile
  error) is a result, run once;
- callbacks: signed (verified here with the secret), retried with growing gaps, a slow receiver
  does not hold others back, redirects not followed, SSRF refusals;
- fairness: another API key's single submission is not starved by one key's batch; API keys
  scope submissions and Idempotency-Keys, the admin endpoints need admin=1;
- SIGTERM drain hands running submissions back (not an attempt); `make run` (scripts/run.sh)
  brings its own Redis and stops it after the gateway;
- /metrics moves (depth, running, retries, dead letters); sync /api/code/execute still works;
  no sanitizer report in any gateway log (run it on build/san too).

Option names of the gateway are in OPT below, metric names in MET (one place each). Set
CODEGATE_TEST_SEED to repeat the kill -9 case's random moments. Last line: `N passed, N failed`.
"""
import hashlib
import hmac
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Gateway, Runner, check, free_port, http  # noqa: E402

BUILD = "build"
RUNTIME = ["--runtime", "local"]
FINAL = ("done", "failed", "cancelled")
VISIBILITY_MS = 3000

# The gateway's options for the async path (server/config.c).
OPT = {
    "redis": "--redis-url",
    "visibility": "--async-visibility-ms",
    "attempts": "--async-max-attempts",
    "backoff": "--async-backoff-ms",
    "backoff_max": "--async-backoff-max-ms",
    "ttl": "--async-result-ttl-s",
    "workers": "--async-workers",
    "cb_secret": "--callback-secret-file",
    "cb_networks": "--callback-allow-networks",
    "cb_attempts": "--callback-max-attempts",
    "cb_backoff": "--callback-backoff-ms",
    "cb_timeout": "--callback-timeout-ms",
    "cb_lease": "--async-callback-lease-ms",
}
# /metrics names (server/async_query.c).
MET = {
    "depth": "codegate_async_queue_depth",
    "oldest": "codegate_async_oldest_age_seconds",
    "running": "codegate_async_running",
    "retries": "codegate_async_retries_total",
    "dead": "codegate_async_dead_letters_total",
    "dead_kept": "codegate_async_dead_letters_kept",
    "completed": "codegate_async_completed_total",
}
DEAD_LETTERS = "/api/admin/dead-letters"


def fast_opts(**over):
    """The async knobs, short enough for a test run."""
    o = {"visibility": VISIBILITY_MS, "attempts": 6, "backoff": 100, "backoff_max": 1000}
    o.update(over)
    out = []
    for k, v in o.items():
        if v is not None:
            out += [OPT[k], str(v)]
    return out


# ---------------------------------------------------------------------------------------------
# A real redis-server of the test's own.

class Redis:
    def __init__(self, name):
        self.dir = tempfile.mkdtemp(prefix="cg-async-%s-" % name)
        os.chmod(self.dir, 0o711)
        self.sock = os.path.join(self.dir, "redis.sock")
        self.url = "unix://" + self.sock
        self.proc = None

    def start(self):
        self.log = open(os.path.join(self.dir, "redis.out"), "ab")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", "0", "--unixsocket", self.sock, "--unixsocketperm", "777",
             "--dir", self.dir, "--appendonly", "yes", "--appendfsync", "always", "--save", "",
             "--daemonize", "no", "--logfile", os.path.join(self.dir, "redis.log")],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("redis-server exited: %s" % self.tail())
            if self.cli("PING") == "PONG":
                return self
            time.sleep(0.05)
        raise RuntimeError("redis-server does not answer: %s" % self.tail())

    def cli(self, *args):
        r = subprocess.run(["redis-cli", "-s", self.sock] + list(args), capture_output=True,
                           text=True, timeout=30)
        return r.stdout.strip()

    def tail(self):
        try:
            with open(os.path.join(self.dir, "redis.log")) as f:
                return "".join(f.readlines()[-10:])
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(60)

    def cleanup(self):
        self.stop(signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)


def async_gateway(redis, name, extra=(), opts=None, env=None):
    args = RUNTIME + [OPT["redis"], redis.url] + (opts if opts is not None else fast_opts()) + list(extra)
    return Gateway(BUILD, args, env=env, name="async-" + name)


# ---------------------------------------------------------------------------------------------
# The API.

def auth(g, headers=None):
    """The request headers for g: its API key (g.key) when it has one."""
    h = dict(headers or {})
    if getattr(g, "key", None):
        h.setdefault("Authorization", "Bearer " + g.key)
    return h


def submit(g, body, key=None, headers=None, timeout=30):
    h = auth(g, headers)
    if key is not None:
        h["Idempotency-Key"] = key
    return http("POST", g.url + "/api/submissions", body, headers=h, timeout=timeout)


def submit_ok(g, body, key=None):
    st, doc, hdrs = submit(g, body, key)
    check(st == 202, "POST /api/submissions: %s" % st, doc)
    d = doc["data"]
    check(doc["success"] is True and d["status"] == "queued" and isinstance(d["id"], str) and d["id"],
          "202 answer", doc)
    check(hdrs.get("Location") == "/api/submissions/" + d["id"], "Location %r" % hdrs.get("Location"))
    return d["id"]


def get(g, sid, wait=None, timeout=60):
    q = "" if wait is None else "?wait=%s" % wait
    return http("GET", g.url + "/api/submissions/" + sid + q, headers=auth(g), timeout=timeout)


def final(g, sid, timeout=120):
    """Long-polls until sid is final; returns its data."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            st, doc, _ = get(g, sid, wait=10, timeout=40)
        except OSError:
            time.sleep(0.2)
            continue
        check(st == 200, "GET %s: %s" % (sid, st), doc)
        last = doc["data"]
        if last["status"] in FINAL:
            return last
    raise AssertionError("%s not final after %ss: %r" % (sid, timeout, last))


def batch(g, subs, timeout=60):
    return http("POST", g.url + "/api/submissions/batch", {"submissions": subs}, headers=auth(g),
                timeout=timeout)


def batch_entries(doc):
    """The per-entry answers of a batch, in order."""
    return doc["data"]["submissions"]


def metrics(g):
    """{name: summed value} of /metrics."""
    with urllib.request.urlopen(g.url + "/metrics", timeout=10) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)", line)
        if m:
            out[m.group(1)] = out.get(m.group(1), 0.0) + float(m.group(3))
    return out


def labelled(g, series):
    """The value of one labelled series of /metrics, e.g. 'x_total{result="ok"}'; None if absent."""
    with urllib.request.urlopen(g.url + "/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(series + " "):
                return float(line.split()[1])
    return None


def metric(g, key):
    return metrics(g).get(MET[key])


# ---------------------------------------------------------------------------------------------
# Programs whose answer is known: each echoes a token of its own, so a result proves whose it is.

PY_ECHO = "import sys\nprint('py:' + sys.stdin.read().strip())\n"
JS_ECHO = "const t = require('fs').readFileSync(0, 'utf8').trim();\nconsole.log('js:' + t);\n"
CPP_ECHO = ("#include <iostream>\n#include <string>\n"
            "int main(){std::string s; std::cin >> s; std::cout << \"cpp:\" << s << \"\\n\";}\n")
PY_EXIT3 = "import sys\nprint('re:' + sys.stdin.read().strip())\nsys.exit(3)\n"
PY_LOOP = "import time\nwhile True:\n    time.sleep(0.05)\n"


def py_sleep(seconds):
    return "import sys, time\ntime.sleep(%s)\nprint('slow:' + sys.stdin.read().strip())\n" % seconds


def program(kind, token):
    """(body, expected) where expected = (result status, stdout or None)."""
    if kind == "py":
        return {"language": "python", "code": PY_ECHO, "input": token}, ("ok", "py:%s\n" % token)
    if kind == "js":
        return {"language": "javascript", "code": JS_ECHO, "input": token}, ("ok", "js:%s\n" % token)
    if kind == "cpp":
        return {"language": "cpp", "code": CPP_ECHO, "input": token}, ("ok", "cpp:%s\n" % token)
    if kind == "runtime_error":
        return {"language": "python", "code": PY_EXIT3, "input": token}, ("runtime_error", "re:%s\n" % token)
    if kind == "timeout":
        return {"language": "python", "code": PY_LOOP, "timeoutMs": 300, "input": token}, ("timeout", None)
    if kind == "compile_error":
        code = "int main() { return undeclared_%s; }\n" % token.replace("-", "_")
        return {"language": "cpp", "code": code}, ("compile_error", None)
    raise ValueError(kind)


def iso_epoch(ts):
    """createdAt/startedAt/finishedAt (ISO 8601, UTC) -> epoch seconds."""
    import datetime
    return datetime.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def check_result(d, expected, what=""):
    status, stdout = expected
    check(d["status"] == "done", "%s: status %s, expected done" % (what, d["status"]), d)
    r = d["result"]
    check(r["status"] == status, "%s: result status %s, expected %s" % (what, r["status"], status), d)
    if stdout is not None:
        check(r["stdout"] == stdout, "%s: stdout %r, expected %r" % (what, r["stdout"], stdout), d)


def retry_submit(g, body, key, deadline):
    """Submits until accepted (the gateway may be down or restarting); the same Idempotency-Key
    makes a repeat of an accepted submission return its id."""
    while time.time() < deadline:
        try:
            st, doc, _ = submit(g, body, key, timeout=20)
        except OSError:
            time.sleep(0.2)
            continue
        if st == 202:
            return doc["data"]["id"]
        check(st == 503, "submit: unexpected %s" % st, doc)
        time.sleep(0.2)
    raise AssertionError("not accepted before the deadline")


# ---------------------------------------------------------------------------------------------
# The API on one gateway (GA): Redis RA, a callback secret but no network allowed.

class Ctx:
    pass


C = Ctx()


def test_submit_wait_result_shape():
    body, exp = program("py", "shape")
    t0 = time.time()
    sid = submit_ok(C.ga, body)
    st, doc, _ = get(C.ga, sid, wait=20, timeout=40)
    check(st == 200 and doc["success"] is True, "GET ?wait: %s" % st, doc)
    d = doc["data"]
    check(time.time() - t0 < 15, "the long-poll returned when done (%.1fs)" % (time.time() - t0))
    check(set(d) == {"id", "status", "attempts", "createdAt", "startedAt", "finishedAt", "result",
                     "error"}, "submission fields", d)
    check(d["error"] is None, "no error when done", d)
    check(d["id"] == sid and d["attempts"] == 1, "id and attempts", d)
    check_result(d, exp, "shape")
    for k in ("createdAt", "startedAt", "finishedAt"):
        check(d[k] is not None, "%s set" % k, d)
    # result = exactly the data object of the synchronous call with the same body.
    st, sync, _ = C.ga.execute(body)
    check(st == 200, "sync execute %s" % st, sync)
    check(set(d["result"]) == set(sync["data"]), "result fields = /api/code/execute's data: %s vs %s"
          % (sorted(d["result"]), sorted(sync["data"])))
    check(d["result"]["stdout"] == sync["data"]["stdout"], "same stdout")


def test_languages_and_program_failures_are_results():
    ids = {}
    for kind in ("py", "js", "cpp", "runtime_error", "timeout", "compile_error"):
        body, exp = program(kind, "lang-" + kind)
        ids[submit_ok(C.ga, body)] = (kind, exp)
    for sid, (kind, exp) in ids.items():
        d = final(C.ga, sid)
        check_result(d, exp, kind)
        check(d["attempts"] == 1, "%s: a program's failure is a result, run once (attempts %s)"
              % (kind, d["attempts"]), d)
    # Unknown and malformed ids.
    st, doc, _ = get(C.ga, "0123456789abcdef0123456789abcdef")
    check(st == 404 and doc["success"] is False, "unknown id -> 404 (%s)" % st, doc)
    for bad in ("..%2f..%2fetc", "0123456789ABCDEF0123456789ABCDEF", "0123456789abcdef"):
        st, doc, _ = get(C.ga, bad)
        check(st == 400 and doc["error"]["code"] == "invalid_id", "bad id %s -> 400 (%s)" % (bad, st), doc)
    st, doc, _ = http("PUT", C.ga.url + "/api/submissions", {"language": "python", "code": "x"})
    check(st == 405 and doc["error"]["code"] == "method_not_allowed", "PUT -> 405", doc)
    st, doc, _ = submit(C.ga, {"language": "cobol", "code": "x"})
    check(st == 400 and doc["error"]["code"] == "unsupported_language", "validated like execute", doc)
    st, doc, _ = submit(C.ga, {"language": "python"})
    check(st == 400 and doc["error"]["code"] == "invalid_request", "missing code -> 400", doc)


def test_idempotency_key():
    body, exp = program("py", "idem")
    key = "idem-%d" % random.randrange(1 << 30)
    a = submit(C.ga, body, key)
    b = submit(C.ga, body, key)
    check(a[0] == 202 and b[0] in (200, 202), "both accepted (%s, %s)" % (a[0], b[0]), b[1])
    check(a[1]["data"]["id"] == b[1]["data"]["id"], "same key -> same id", [a[1], b[1]])
    c = submit(C.ga, body, key + "-other")
    check(c[0] == 202 and c[1]["data"]["id"] != a[1]["data"]["id"], "another key -> another id", c[1])
    d = submit(C.ga, body)
    e = submit(C.ga, body)
    check(d[1]["data"]["id"] != e[1]["data"]["id"], "no key -> new ids")
    # The repeat after the run still names the same submission, with its result.
    check_result(final(C.ga, a[1]["data"]["id"]), exp, "idem")
    f = submit(C.ga, body, key)
    check(f[1]["data"]["id"] == a[1]["data"]["id"], "same key after the run -> same id", f[1])
    for sid in (c[1]["data"]["id"], d[1]["data"]["id"], e[1]["data"]["id"]):
        check_result(final(C.ga, sid), exp, "idem")
    for bad in ("has space", "x" * 201, "é"):
        st, doc, _ = submit(C.ga, body, bad.encode("utf-8").decode("latin-1"))
        check(st == 400 and doc["error"]["code"] == "invalid_request", "Idempotency-Key %r -> 400" % bad, doc)
    # A batch under one key: the same ids, in order, when repeated.
    hdr = {"Idempotency-Key": key + "-batch"}
    subs = [program("py", "ib%d" % i)[0] for i in range(3)]
    b1 = http("POST", C.ga.url + "/api/submissions/batch", {"submissions": subs}, headers=hdr)[1]
    b2 = http("POST", C.ga.url + "/api/submissions/batch", {"submissions": subs}, headers=hdr)[1]
    check([x["id"] for x in batch_entries(b1)] == [x["id"] for x in batch_entries(b2)], "batch repeat", [b1, b2])


def occupy(g, n, seconds, tag):
    """Submits n programs that sleep; returns their ids."""
    return [submit_ok(g, {"language": "python", "code": py_sleep(seconds), "input": "%s%d" % (tag, i),
                          "timeoutMs": int(seconds * 1000) + 10000}) for i in range(n)]


def wait_status(g, sid, status, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        st, doc, _ = get(g, sid)
        if doc["data"]["status"] == status:
            return doc["data"]
        time.sleep(0.05)
    raise AssertionError("%s never %s" % (sid, status))


def test_cancel_queued_and_running_metrics_move():
    # GA runs 2 submissions at once (--async-workers 2): the third waits in the queue.
    busy = occupy(C.ga, 2, 4, "busy")
    queued_body = {"language": "python", "code": PY_ECHO, "input": "never"}
    q = submit_ok(C.ga, queued_body)
    running = wait_status(C.ga, busy[0], "running")
    check(running["startedAt"] is not None and running["attempts"] == 1, "running fields", running)
    m = metrics(C.ga)
    check(m.get(MET["running"], 0) >= 1, "running gauge moves: %r" % m.get(MET["running"]))
    check(m.get(MET["depth"], 0) >= 1, "queue depth moves: %r" % m.get(MET["depth"]))
    check(MET["oldest"] in m, "oldest age exported")
    st, doc, _ = get(C.ga, q)
    check(doc["data"]["status"] == "queued", "still queued", doc)
    st, doc, _ = http("DELETE", C.ga.url + "/api/submissions/" + q)
    check(st in (200, 202, 204), "DELETE queued -> cancelled (%s)" % st, doc)
    d = final(C.ga, q, timeout=10)
    check(d["status"] == "cancelled" and d["result"] is None, "cancelled, no result", d)
    st, doc, _ = http("DELETE", C.ga.url + "/api/submissions/" + busy[0])
    check(st == 409 and doc["success"] is False, "DELETE running -> 409 (%s)" % st, doc)
    st, doc, _ = http("DELETE", C.ga.url + "/api/submissions/0123456789abcdef0123456789abcdef")
    check(st == 404, "DELETE unknown -> 404 (%s)" % st, doc)
    for sid in busy:
        check(final(C.ga, sid)["status"] == "done", "the running ones finish")
    # The cancelled one never ran (it was never started).
    st, doc, _ = get(C.ga, q)
    check(doc["data"]["status"] == "cancelled" and doc["data"]["startedAt"] is None, "never run", doc)
    st, doc, _ = http("DELETE", C.ga.url + "/api/submissions/" + busy[0])
    check(st == 409, "DELETE done -> 409 (%s)" % st, doc)


def test_wait_long_poll_bounds():
    sid = occupy(C.ga, 1, 6, "lp")[0]
    t0 = time.time()
    st, doc, _ = get(C.ga, sid, wait=2, timeout=30)
    dt = time.time() - t0
    check(st == 200 and doc["data"]["status"] in ("queued", "running"), "not final yet", doc)
    check(dt >= 1.8, "the long-poll waited its bound (%.2fs)" % dt)
    t0 = time.time()
    st, doc, _ = get(C.ga, sid, wait=30, timeout=60)
    dt = time.time() - t0
    check(doc["data"]["status"] == "done", "final within the wait", doc)
    check(dt < 25, "returned as soon as done, not at the bound (%.2fs)" % dt)
    t0 = time.time()
    st, doc, _ = get(C.ga, sid, wait=30)
    check(time.time() - t0 < 2, "a final submission answers at once")
    for bad in ("-1", "abc", "31"):
        st, doc, _ = get(C.ga, sid, wait=bad)
        check(st in (200, 400), "wait=%s: %s" % (bad, st), doc)
        if bad != "31":
            check(st == 400, "wait=%s -> 400 (%s)" % (bad, st), doc)


def test_waiters_bounded():
    """--async-max-waiters 2 (GA): a third and fourth long-poll at once answer at once, with the
    current state, instead of holding a thread."""
    sid = occupy(C.ga, 1, 5, "waiters")[0]
    times = []

    def waiter():
        t0 = time.time()
        st, doc, _ = get(C.ga, sid, wait=3, timeout=30)
        times.append((time.time() - t0, st, doc["data"]["status"]))

    ths = [threading.Thread(target=waiter) for _ in range(4)]
    for t in ths:
        t.start()
    for t in ths:
        t.join(60)
    quick = [x for x in times if x[0] < 1.5]
    slow = [x for x in times if x[0] >= 2.5]
    check(all(x[1] == 200 and x[2] in ("queued", "running") for x in times), "answers: %s" % times)
    check(len(quick) == 2 and len(slow) == 2, "two waited, two answered at once: %s" % times)
    final(C.ga, sid)


def test_batch():
    good = [program("py", "b0"), program("js", "b1"), program("cpp", "b2")]
    subs = [good[0][0], {"language": "cobol", "code": "x"}, good[1][0], {"code": "print(1)"},
            "not an object", good[2][0]]
    st, doc, _ = batch(C.ga, subs)
    check(st == 202 and doc["success"] is True, "batch -> 202 (%s)" % st, doc)
    ent = batch_entries(doc)
    check(len(ent) == len(subs) and [e["index"] for e in ent] == list(range(len(subs))),
          "one entry per submission, in order", doc)
    check(doc["data"]["accepted"] == 3 and doc["data"]["rejected"] == 3, "the counts", doc)
    for i, code in ((1, "unsupported_language"), (3, "invalid_request"), (4, "invalid_request")):
        check("id" not in ent[i] and ent[i]["error"]["code"] == code and ent[i]["error"]["message"],
              "entry %d: %s" % (i, code), ent[i])
    ids = [ent[0]["id"], ent[2]["id"], ent[5]["id"]]
    check(len(set(ids)) == 3 and all(ent[i]["status"] == "queued" for i in (0, 2, 5)), "valid ones queued", doc)
    for sid, (body, exp) in zip(ids, good):
        check_result(final(C.ga, sid), exp, "batch")
    st, doc, _ = batch(C.ga, [good[0][0]] * 101)
    check(st == 400 and doc["success"] is False, "101 entries -> 400 (%s)" % st, doc)
    st, doc, _ = batch(C.ga, [])
    check(st == 400, "an empty batch -> 400 (%s)" % st, doc)
    st, doc, _ = http("POST", C.ga.url + "/api/submissions/batch", {"submission": []})
    check(st == 400, "no submissions array -> 400 (%s)" % st, doc)
    # Exactly 100 is accepted.
    body = {"language": "python", "code": "print(1)"}
    st, doc, _ = batch(C.ga, [body] * 100)
    check(st == 202 and len(batch_entries(doc)) == 100, "100 entries -> 202 (%s)" % st, doc)
    for e in batch_entries(doc):
        check(final(C.ga, e["id"])["result"]["stdout"] == "1\n", "batch entry done")


def test_sync_execute_alongside():
    occupy(C.ga, 2, 2, "side")
    submit_ok(C.ga, program("py", "side")[0])
    t0 = time.time()
    st, doc, _ = C.ga.execute({"language": "python", "code": "print(6*7)"})
    check(st == 200 and doc["data"]["stdout"] == "42\n", "sync execute works (%s)" % st, doc)
    check(time.time() - t0 < 10, "and does not wait for the async queue (%.2fs)" % (time.time() - t0))


def loopback_names():
    names = []
    with open("/etc/hosts") as f:
        for line in f:
            parts = line.split("#")[0].split()
            if len(parts) > 1 and parts[0].startswith("127."):
                names += parts[1:]
    return [n for n in names if socket.gethostbyname(n).startswith("127.")]


def test_ssrf_refusals():
    receiver_port = 9  # nothing is sent: every URL is refused at submit time
    bad = ["http://127.0.0.1:%d/cb" % receiver_port, "http://localhost/cb", "http://169.254.169.254/latest",
           "http://10.1.2.3/cb", "http://192.168.0.1/cb", "http://172.16.0.1/cb", "http://[::1]/cb",
           "http://[::ffff:127.0.0.1]/cb", "http://0.0.0.0/cb", "file:///etc/passwd",
           "http://user:pw@example.com/cb", "gopher://example.com/"]
    # Names that resolve to a loopback address (what DNS rebinding would do): /etc/hosts's.
    bad += ["http://%s/cb" % n for n in loopback_names() if n != "localhost"]
    for url in bad:
        body = dict(program("py", "ssrf")[0], callbackUrl=url)
        st, doc, _ = submit(C.ga, body)
        check(st == 400 and doc["success"] is False, "callbackUrl %s refused (%s)" % (url, st), doc)
        check(doc["error"]["message"], "with a reason")


def test_metrics_exported():
    m = metrics(C.ga)
    for k in ("depth", "oldest", "running", "retries", "dead", "completed"):
        check(MET[k] in m, "%s in /metrics" % MET[k])
    check(m[MET["completed"]] >= 10, "completed counts runs: %r" % m[MET["completed"]])


# ---------------------------------------------------------------------------------------------
# Separate gateways.

def test_no_redis_url_503():
    g = Gateway(BUILD, RUNTIME, name="async-none").start()
    try:
        for method, path, body in (("POST", "/api/submissions", program("py", "x")[0]),
                                   ("POST", "/api/submissions/batch", {"submissions": [program("py", "x")[0]]}),
                                   ("GET", "/api/submissions/0123456789abcdef0123456789abcdef", None),
                                   ("DELETE", "/api/submissions/0123456789abcdef0123456789abcdef", None)):
            st, doc, _ = http(method, g.url + path, body)
            check(st == 503 and doc["success"] is False, "%s %s -> 503 (%s)" % (method, path, st), doc)
            check(doc["error"]["code"] == "async_unavailable", "code", doc)
            check("redis" in doc["error"]["message"].lower(), "the message names the cause", doc)
        st, doc, _ = g.execute({"language": "python", "code": "print(1)"})
        check(st == 200, "sync execute without Redis")
    finally:
        code = g.stop()
    check(code == 0, "clean exit %s" % code)


def test_redis_absent_at_start():
    """A gateway whose Redis is not there yet starts (sync works, /readyz async unavailable,
    submissions 503) and takes work once Redis appears."""
    r = Redis("late")
    g = async_gateway(r, "late").start()
    try:
        st, doc, _ = http("GET", g.url + "/readyz")
        check(st == 200 and doc["async"] == "unavailable", "ready, the queue unavailable", doc)
        st, doc, _ = submit(g, program("py", "late")[0])
        check(st == 503 and doc["error"]["code"] == "async_unavailable", "503 (%s)" % st, doc)
        st, doc, _ = g.execute({"language": "python", "code": "print(3)"})
        check(st == 200, "sync execute without the queue (%s)" % st, doc)
        r.start()
        body, exp = program("py", "late")
        sid = retry_submit(g, body, "late-%d" % os.getpid(), time.time() + 60)
        check_result(final(g, sid), exp, "late Redis")
        # No --callback-secret-file: a callbackUrl is refused (callbacks are only sent signed).
        st, doc, _ = submit(g, dict(body, callbackUrl="https://example.com/hook"))
        check(st == 400 and doc["error"]["details"]["field"] == "callbackUrl", "unsigned refused", doc)
        st, doc, _ = http("GET", g.url + "/readyz")
        check(doc["async"] == "ok", "/readyz: the queue is back", doc)
    finally:
        g.stop()
        r.cleanup()


def test_ttl_expiry():
    r = Redis("ttl").start()
    g = async_gateway(r, "ttl", opts=fast_opts(ttl=3)).start()
    try:
        body, exp = program("py", "ttl")
        sid = submit_ok(g, body)
        check_result(final(g, sid), exp, "ttl")
        time.sleep(4.5)
        st, doc, _ = get(g, sid)
        check(st == 404, "after the TTL the submission is gone: %s" % st, doc)
        # Nothing of it is left in Redis (sources do not outlive results).
        keys = r.cli("--scan", "--pattern", "*%s*" % sid)
        check(keys == "", "no key of the submission left: %r" % keys)
    finally:
        g.stop()
        r.cleanup()


def test_fairness_per_key():
    """One key's batch does not starve another key: with 2 workers busy on alpha's 40, beta's
    single submission runs before most of alpha's (FIFO would run it last)."""
    r = Redis("fair").start()
    tmp = tempfile.mkdtemp(prefix="cg-async-keys-")
    keys = os.path.join(tmp, "keys")
    ka, kb = "alpha-" + os.urandom(12).hex(), "beta-" + os.urandom(12).hex()
    kops = "ops-" + os.urandom(12).hex()
    with open(keys, "w") as f:
        f.write("alpha %s\nbeta %s\nops %s admin=1\n" % (ka, kb, kops))
    g = async_gateway(r, "fair", [OPT["workers"], "2", "--api-keys-file", keys]).start()
    try:
        st, doc, _ = submit(g, program("py", "nokey")[0])
        check(st == 401, "the API key applies to submissions (%s)" % st, doc)
        g.key = ka
        subs = [{"language": "python", "code": py_sleep(0.4), "input": "fa%d" % i} for i in range(40)]
        st, doc, _ = batch(g, subs)
        check(st == 202, "alpha's batch (%s)" % st, doc)
        alpha = [e["id"] for e in batch_entries(doc)]
        wait_status(g, alpha[0], "running")
        g.key = kb
        body, exp = program("py", "beta")
        beta = submit_ok(g, body)
        db = final(g, beta, timeout=120)
        check_result(db, exp, "beta")
        g.key = ka
        st, doc, _ = get(g, beta)
        check(st == 404, "another key's submission is not visible (%s)" % st, doc)
        st, doc, _ = http("DELETE", g.url + "/api/submissions/" + beta, headers=auth(g))
        check(st == 404, "nor cancellable by it (%s)" % st, doc)
        # Idempotency keys are per API key: the same header under another key is another id.
        idem = "fair-idem-%d" % os.getpid()
        a1 = submit(g, program("py", "idem-a")[0], idem)[1]["data"]["id"]
        g.key = kb
        b1 = submit(g, program("py", "idem-b")[0], idem)[1]["data"]["id"]
        check(a1 != b1, "the same Idempotency-Key under two API keys: two submissions")
        # The admin endpoints: a key with admin=1 only.
        st, doc, _ = http("GET", g.url + DEAD_LETTERS, headers=auth(g))
        check(st == 403, "dead letters refused to a key without admin=1 (%s)" % st, doc)
        st, doc, _ = http("GET", g.url + DEAD_LETTERS)
        check(st == 401, "and without a key (%s)" % st, doc)
        g.key = kops
        st, doc, _ = http("GET", g.url + DEAD_LETTERS, headers=auth(g))
        check(st == 200 and doc["data"]["count"] == 0, "an admin key lists them (%s)" % st, doc)
        st, doc, _ = get(g, beta)
        check(st == 200 and doc["data"]["id"] == beta, "an admin key reads any submission (%s)" % st, doc)
        g.key = ka
        after = 0
        for sid in alpha:
            d = final(g, sid, timeout=120)
            check(d["status"] == "done", "alpha's entry done", d)
            if d["startedAt"] > db["startedAt"]:
                after += 1
        print("    fairness: %d of alpha's 40 started after beta's single submission" % after)
        check(after >= 20, "beta did not wait behind alpha's batch (%d of 40 after it)" % after)
    finally:
        g.stop()
        r.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def executor_pids(g, language):
    out = []
    for pid in g.children():
        try:
            with open("/proc/%d/environ" % pid, "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if ("EXECUTOR_LANGUAGE=%s" % language).encode() in env:
            out.append(pid)
    return out


def language_ready(g, language):
    try:
        st, doc, _ = http("GET", g.url + "/readyz", timeout=5)
    except OSError:
        return False
    return bool(doc and doc.get("languages", {}).get(language))


def test_executor_unavailable_dead_letter_requeue():
    r = Redis("dead").start()
    tmp = tempfile.mkdtemp(prefix="cg-async-exec-")
    os.chmod(tmp, 0o755)
    flag = os.path.join(tmp, "broken")
    wrapper = os.path.join(tmp, "executor")
    real = os.path.abspath(os.path.join(BUILD, "executor"))
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\n# python's executor cannot start while %s exists\n"
                "if [ \"$EXECUTOR_LANGUAGE\" = python ] && [ -e %s ]; then exit 1; fi\nexec %s\n"
                % (flag, flag, real))
    os.chmod(wrapper, 0o755)
    # --queue-wait-ms: how long one attempt waits for an executor before it fails.
    g = async_gateway(r, "dead", ["--executor-bin", wrapper, "--queue-wait-ms", "500"],
                      fast_opts(attempts=3, backoff=1000, backoff_max=5000)).start()
    try:
        before = metrics(g)
        open(flag, "w").close()
        deadline = time.time() + 30
        while language_ready(g, "python") and time.time() < deadline:
            for pid in executor_pids(g, "python"):
                os.kill(pid, signal.SIGKILL)
            time.sleep(0.3)
        check(not language_ready(g, "python"), "python's executor is down")
        body, exp = program("py", "dead")
        t0 = time.time()
        sid = submit_ok(g, body)
        # Watch it between attempts: queued again with lastError while its backoff runs.
        samples = []
        while time.time() - t0 < 90:
            st, doc, _ = get(g, sid)
            d = doc["data"]
            samples.append((time.time(), d["status"], "lastError" in d))
            if d["status"] in FINAL:
                break
            time.sleep(0.02)
        took = time.time() - t0
        waits, start = [], None
        for t, status, last_error in samples:
            if status == "queued" and last_error:
                start = start or t
            elif start:
                waits.append(t - start)
                start = None
        print("    waits between attempts (s): %s" % [round(w, 2) for w in waits])
        check(len(waits) == 2, "two retries, each after a visible wait (queued with lastError): %s"
              % [round(w, 2) for w in waits])
        # Equal jitter: retry n waits at least half of 1000 ms x 2^(n-1) - 0.5 s, then 1 s (the
        # window seen from outside is a poll shorter at most, and up to a worker's idle wait of
        # 0.5 s longer: the due retry is moved back by the next worker loop).
        check(waits[0] >= 0.4 and waits[1] >= 0.9, "the retries waited their backoff: %s" % waits)
        check(d["status"] == "failed", "the service could not run it: failed", d)
        check(d["attempts"] == 3, "tried --async-max-attempts times (%s)" % d["attempts"], d)
        reason = d["error"]
        check(isinstance(reason, dict) and reason.get("code") and reason.get("message"),
              "failed with a reason (error code and message)", d)
        check(d["result"] is None, "no result", d)
        print("    dead letter after %.2fs, reason %r" % (took, reason))
        after = metrics(g)
        check(after[MET["retries"]] >= before.get(MET["retries"], 0) + 2, "retries counted")
        check(after[MET["dead"]] >= before.get(MET["dead"], 0) + 1, "dead letter counted")
        # A program's own failure on a working language is not retried meanwhile.
        js_body, js_exp = program("js", "dead-js")
        check_result(final(g, submit_ok(g, js_body)), js_exp, "js while python is down")
        st, doc, _ = http("GET", g.url + DEAD_LETTERS)
        check(st == 200 and doc["success"] is True, "dead letters listed (%s)" % st, doc)
        listed = json.dumps(doc["data"])
        check(sid in listed, "the submission is in the dead letters", doc)
        # The executor comes back; the dead letter is re-queued and runs.
        os.unlink(flag)
        deadline = time.time() + 60
        while not language_ready(g, "python") and time.time() < deadline:
            time.sleep(0.2)
        check(language_ready(g, "python"), "python's executor is back")
        st, doc, _ = http("POST", g.url + DEAD_LETTERS + "/" + sid + "/requeue")
        check(st in (200, 202), "requeue (%s)" % st, doc)
        d = final(g, sid, timeout=60)
        check_result(d, exp, "requeued")
        st, doc, _ = http("GET", g.url + DEAD_LETTERS)
        check(sid not in json.dumps(doc["data"]), "no longer a dead letter", doc)
        st, doc, _ = http("POST", g.url + DEAD_LETTERS + "/0123456789abcdef0123456789abcdef/requeue")
        check(st == 404, "requeue of an unknown id -> 404 (%s)" % st, doc)
    finally:
        g.stop()
        r.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Crashes.

def restart(g, n):
    g.log_path = re.sub(r"(\.\d+)?\.log$", ".%d.log" % n, g.log_path)
    deadline = time.time() + 60
    while True:
        try:
            return g.start(ready_timeout=60)
        except RuntimeError:
            if time.time() > deadline:
                raise
            time.sleep(0.5)


def test_500_submissions_three_kill9():
    rng = random.Random(int(os.environ.get("CODEGATE_TEST_SEED", time.time())))
    seed = rng.randrange(1 << 30)
    rng = random.Random(seed)
    r = Redis("crash").start()
    g = async_gateway(r, "crash", opts=fast_opts(attempts=10)).start()
    accepted = {}  # id -> (expected, label)
    lock = threading.Lock()
    errors = []
    deadline = time.time() + 300
    kinds = (["py"] * 55 + ["js"] * 25 + ["cpp"] * 12 + ["runtime_error"] * 4 + ["timeout"] * 2
             + ["compile_error"] * 2)

    def client(c):
        crng = random.Random(seed + c)
        n = 0
        try:
            while n < 50:
                time.sleep(crng.uniform(0, 0.3))
                if c % 2 == 0 and crng.random() < 0.5:
                    k = min(50 - n, crng.randint(2, 8))
                    progs = [program(crng.choice(kinds), "c%d-%d" % (c, n + i)) for i in range(k)]
                    try:
                        st, doc, _ = batch(g, [p[0] for p in progs], timeout=20)
                    except OSError:
                        time.sleep(0.2)  # the gateway is down; the batch was not answered
                        continue
                    if st == 503:
                        continue
                    check(st == 202, "batch %s" % st, doc)
                    with lock:
                        for (body, exp), e in zip(progs, batch_entries(doc)):
                            accepted[e["id"]] = (exp, body.get("input"))
                    n += k
                else:
                    body, exp = program(crng.choice(kinds), "c%d-%d" % (c, n))
                    sid = retry_submit(g, body, "crash-%d-%d-%d" % (seed, c, n), deadline)
                    with lock:
                        accepted[sid] = (exp, body.get("input"))
                    n += 1
        except BaseException as e:  # noqa: reported below
            errors.append("client %d: %r" % (c, e))

    threads = [threading.Thread(target=client, args=(c,), daemon=True) for c in range(10)]
    t0 = time.time()
    for t in threads:
        t.start()
    kills, logs = [], [g.log_path]
    for i in range(3):
        time.sleep(rng.uniform(1.0, 4.0))
        g.proc.kill()
        g.proc.wait()
        kills.append(round(time.time() - t0, 2))
        time.sleep(rng.uniform(0.1, 1.0))
        restart(g, i + 1)
        logs.append(g.log_path)
    for t in threads:
        t.join(max(1, deadline - time.time()))
    submitted_in = time.time() - t0
    try:
        check(not errors, "clients: %s" % errors)
        check(len(accepted) >= 500, "500 accepted (%d)" % len(accepted))
        mix = {}
        for exp, label in accepted.values():
            mix[exp[0]] = mix.get(exp[0], 0) + 1
        check(set(mix) == {"ok", "runtime_error", "timeout", "compile_error"}, "the mix: %s" % mix)
        langs = {exp[1].split(":")[0] for exp, _ in accepted.values() if exp[0] == "ok"}
        check(langs == {"py", "js", "cpp"}, "all three languages: %s" % langs)
        twice, first = 0, {}
        for sid, (exp, label) in accepted.items():
            d = final(g, sid, timeout=max(10, deadline - time.time()))
            check_result(d, exp, "%s (%s)" % (sid, label))
            first[sid] = d
            if d["attempts"] > 1:
                twice += 1
        # Exactly one final result: it does not change when read again.
        for sid, d in first.items():
            st, doc, _ = get(g, sid)
            again = doc["data"]
            check(again["finishedAt"] == d["finishedAt"] and again["result"] == d["result"]
                  and again["attempts"] == d["attempts"], "one final result for %s" % sid, [d, again])
        # The gateways' logs name every submission claimed from a killed gateway: each one that
        # started more than once was claimed.
        claimed = set()
        for path in logs:
            with open(path, "rb") as f:
                for line in f:
                    m = re.search(rb"async: claimed submission ([0-9a-f]{32})", line)
                    if m:
                        claimed.add(m.group(1).decode())
        again = {sid for sid, d in first.items() if d["attempts"] > 1}
        check(again <= claimed, "ran again without a logged claim: %s" % sorted(again - claimed))
        print("    seed %d; kill -9 at %s s; %d accepted (%s) in %.1fs, all done in %.1fs; "
              "%d ran more than once (attempts > 1), %d claims logged"
              % (seed, kills, len(accepted), mix, submitted_in, time.time() - t0, twice, len(claimed)))
    finally:
        g.stop()
        r.cleanup()


def test_two_gateways_share_one_redis():
    r = Redis("two").start()
    g1 = async_gateway(r, "two1").start()
    g2 = async_gateway(r, "two2").start()
    try:
        progs = [({"language": "python", "code": py_sleep(1.5), "input": "two%d" % i, "timeoutMs": 10000},
                  ("ok", "slow:two%d\n" % i)) for i in range(24)]
        ids = {}
        for i, (body, exp) in enumerate(progs):
            ids[submit_ok(g1 if i % 2 else g2, body)] = exp
        deadline = time.time() + 30
        while time.time() < deadline:
            if (metric(g1, "running") or 0) >= 1 and (metric(g2, "running") or 0) >= 1:
                break
            time.sleep(0.1)
        check((metric(g1, "running") or 0) >= 1 and (metric(g2, "running") or 0) >= 1,
              "both gateways run submissions")
        t_kill = time.time()
        g1.proc.kill()
        g1.proc.wait()
        reclaimed = 0
        for sid, exp in ids.items():
            d = final(g2, sid, timeout=120)
            check_result(d, exp, "two")
            if d["attempts"] > 1:
                reclaimed += 1
                # Not taken from the dead gateway before its claim went stale.
                check(iso_epoch(d["startedAt"]) - t_kill >= VISIBILITY_MS / 2000.0,
                      "re-run after the visibility timeout (%.2fs after the kill)"
                      % (iso_epoch(d["startedAt"]) - t_kill), d)
        check(reclaimed >= 1, "the killed gateway's submissions ran again on the other")
        print("    %d submissions re-claimed from the killed gateway; all done %.1fs after the kill"
              % (reclaimed, time.time() - t_kill))
        check(metric(g2, "completed") >= 1, "the survivor completed work")
    finally:
        g2.stop()
        if g1.proc.poll() is None:
            g1.stop()
        r.cleanup()
        # What the killed gateway could not clean up (its restart would have).
        shutil.rmtree("/run/codegate-%s" % g1.instance, ignore_errors=True)


def test_redis_restart_loses_nothing():
    r = Redis("restart").start()
    g = async_gateway(r, "restart").start()
    accepted = {}
    try:
        def burst(tag, n):
            for i in range(n):
                body = {"language": "python", "code": py_sleep(0.2), "input": "%s%d" % (tag, i)}
                accepted[retry_submit(g, body, "%s-%d-%d" % (tag, os.getpid(), i), time.time() + 60)] = \
                    ("ok", "slow:%s%d\n" % (tag, i))

        burst("a", 40)
        wait_running_and_queued(g)
        r.stop(signal.SIGTERM)
        st, doc, _ = submit(g, program("py", "down")[0])
        check(st == 503, "submit while Redis is down -> 503 (%s)" % st, doc)
        check("redis" in json.dumps(doc).lower(), "the message names Redis", doc)
        st, doc, _ = g.execute({"language": "python", "code": "print(2)"})
        check(st == 200, "sync execute while Redis is down (%s)" % st, doc)
        st, doc, _ = http("GET", g.url + "/readyz")
        check(doc["async"] == "unavailable", "/readyz says the queue is unavailable", doc)
        time.sleep(1)
        r.start()
        burst("b", 30)
        wait_running_and_queued(g)
        r.stop(signal.SIGKILL)
        time.sleep(1)
        r.start()
        burst("c", 10)
        for sid, exp in accepted.items():
            check_result(final(g, sid, timeout=120), exp, "restart %s" % sid)
        print("    %d accepted across two Redis restarts, none lost" % len(accepted))
    finally:
        g.stop()
        r.cleanup()


def wait_running_and_queued(g):
    """Waits until g runs submissions while others wait in the queue."""
    deadline = time.time() + 30
    while time.time() < deadline:
        m = metrics(g)
        if m.get(MET["running"], 0) >= 1 and m.get(MET["depth"], 0) >= 1:
            return
        time.sleep(0.02)
    raise AssertionError("never saw submissions running and queued at once")


# ---------------------------------------------------------------------------------------------
# Callbacks: a receiver on 127.0.0.1 (allowed by the test's configuration).

class Receiver:
    def __init__(self, secret, fail_first):
        self.secret = secret
        self.fail_first = fail_first
        self.hits = []  # (time, path, headers, body, verdict)
        self.lock = threading.Lock()
        self.stop_slow = threading.Event()
        rec = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                path = self.path
                sig = self.headers.get("X-Codegate-Signature", "")
                ts = self.headers.get("X-Codegate-Timestamp", "")
                good = "sha256=" + hmac.new(rec.secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
                with rec.lock:
                    seen = sum(1 for h in rec.hits if h[1] == path)
                    rec.hits.append((time.time(), path, {k.lower(): v for k, v in self.headers.items()}, body,
                                     hmac.compare_digest(sig, good)))
                if path.startswith("/slow"):
                    rec.stop_slow.wait(60)
                    code = 200
                elif path.startswith("/redirect"):
                    self.send_response(302)
                    self.send_header("Location", "http://127.0.0.1:%d/target" % rec.port)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                elif path.startswith("/fail") and seen < rec.fail_first:
                    code = 500
                else:
                    code = 200
                try:
                    self.send_response(code)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the gateway gave up on this attempt (its timeout)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def on(self, path):
        with self.lock:
            return [h for h in self.hits if h[1] == path]

    def close(self):
        self.stop_slow.set()
        self.server.shutdown()


def wait_hits(rec, path, n, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if len(rec.on(path)) >= n:
            return rec.on(path)
        time.sleep(0.05)
    return rec.on(path)


def test_callbacks_signed_retried_not_blocking():
    secret = b"test-secret-" + os.urandom(12).hex().encode()
    tmp = tempfile.mkdtemp(prefix="cg-async-cb-")
    secret_file = os.path.join(tmp, "secret")
    with open(secret_file, "wb") as f:
        f.write(secret)
    os.chmod(secret_file, 0o600)
    rec = Receiver(secret, fail_first=4)
    r = Redis("cb").start()
    g = async_gateway(r, "cb", [OPT["workers"], "2", OPT["cb_secret"], secret_file,
                                OPT["cb_networks"], "127.0.0.1/32",
                                OPT["cb_attempts"], "8", OPT["cb_backoff"], "200",
                                OPT["cb_timeout"], "60000"]).start()
    base = "http://127.0.0.1:%d" % rec.port
    try:
        # A slow receiver first: it holds its delivery for a minute.
        slow = submit_ok(g, dict(program("py", "cb-slow")[0], callbackUrl=base + "/slow"))
        check(len(wait_hits(rec, "/slow", 1, 30)) >= 1, "the slow receiver was called")
        # Signed deliveries to a receiver that answers at once.
        fast = {}
        for i in range(3):
            body, exp = program("py", "cb-ok%d" % i)
            fast[submit_ok(g, dict(body, callbackUrl=base + "/ok%d" % i))] = ("/ok%d" % i, exp)
        t0 = time.time()
        for sid, (path, exp) in fast.items():
            hits = wait_hits(rec, path, 1, 30)
            check(len(hits) == 1, "%s delivered once while the slow one hangs (%d)" % (path, len(hits)))
            t, _, hdrs, raw, verified = hits[0]
            check(verified, "the signature verifies with the secret", hdrs)
            check(hdrs.get("x-codegate-submission") == sid, "submission header", hdrs)
            check(hdrs.get("content-type", "").startswith("application/json"), "JSON body", hdrs)
            doc = json.loads(raw)
            state = doc.get("data", doc)
            check(state["id"] == sid and state["status"] == "done", "the final state", doc)
            check(state["result"]["stdout"] == exp[1], "with its result", doc)
            check(abs(int(hdrs["x-codegate-timestamp"]) - time.time()) < 120, "a current timestamp")
        check(time.time() - t0 < 30, "not held back by the slow receiver")
        check(len(rec.on("/slow")) == 1, "the slow one is still one delivery")
        # Failing receivers: 500 four times, then 200 -> five attempts, gaps growing.
        fails = []
        for i in range(6):
            fails.append(submit_ok(g, dict(program("py", "cb-f%d" % i)[0], callbackUrl=base + "/fail%d" % i)))
        gaps = []
        for i in range(6):
            hits = wait_hits(rec, "/fail%d" % i, 5, 60)
            check(len(hits) == 5, "/fail%d: 4 failures then delivered (%d attempts)" % (i, len(hits)))
            check(all(h[4] for h in hits), "every attempt signed")
            ts = [h[0] for h in hits]
            gaps.append([b - a for a, b in zip(ts, ts[1:])])
        first = sum(g_[0] for g_ in gaps) / len(gaps)
        last = sum(g_[3] for g_ in gaps) / len(gaps)
        print("    callback retry gaps (mean of 6, s): %s" %
              [round(sum(g_[k] for g_ in gaps) / len(gaps), 2) for k in range(4)])
        check(last > first, "retry gaps grow (%.2fs -> %.2fs)" % (first, last))
        time.sleep(1)
        for i in range(6):
            check(len(rec.on("/fail%d" % i)) == 5, "no delivery after the success")
        # A redirect is not followed.
        submit_ok(g, dict(program("py", "cb-redir")[0], callbackUrl=base + "/redirect"))
        check(len(wait_hits(rec, "/redirect", 1, 30)) >= 1, "redirecting receiver called")
        time.sleep(2)
        check(not rec.on("/target"), "the redirect was not followed")
        # Allowing 127.0.0.1/32 allows nothing else.
        for url in ("http://10.0.0.1/cb", "http://169.254.169.254/", "http://[::1]:%d/cb" % rec.port,
                    "http://127.0.0.2:%d/cb" % rec.port):
            st, doc, _ = submit(g, dict(program("py", "x")[0], callbackUrl=url))
            check(st == 400, "%s refused (%s)" % (url, st), doc)
        st, doc, _ = submit(g, dict(program("py", "x")[0], callbackUrl="not a url"))
        check(st == 400, "a malformed callbackUrl -> 400", doc)
        check(final(g, slow)["status"] == "done", "the slow receiver's submission is done")
        # A cancelled submission's final state is delivered too.
        busy = occupy(g, 2, 3, "cb-busy")
        for sid in busy:
            wait_status(g, sid, "running")
        cancelled = submit_ok(g, dict(program("py", "cb-cancel")[0], callbackUrl=base + "/cancelled"))
        st, doc, _ = http("DELETE", g.url + "/api/submissions/" + cancelled)
        check(st == 200, "cancelled (%s)" % st, doc)
        hits = wait_hits(rec, "/cancelled", 1, 30)
        check(len(hits) == 1 and hits[0][4], "the cancel was delivered, signed (%d)" % len(hits))
        state = json.loads(hits[0][3])["data"]
        check(state["id"] == cancelled and state["status"] == "cancelled" and state["result"] is None,
              "the cancelled state", state)
        # The slow receiver answers at last: one attempt, delivered. Every delivery is counted:
        # 1 slow + 3 + 6 + the cancel delivered, the redirect failed.
        rec.stop_slow.set()
        deadline = time.time() + 30
        while time.time() < deadline and (labelled(g, 'codegate_callbacks_total{result="delivered"}') or 0) < 11:
            time.sleep(0.1)
        check(len(rec.on("/slow")) == 1, "the slow delivery was one attempt")
        check(labelled(g, 'codegate_callbacks_total{result="delivered"}') == 11, "11 delivered")
        check(labelled(g, 'codegate_callbacks_total{result="failed"}') == 1, "1 failed (the redirect)")
    finally:
        rec.close()
        g.stop()
        r.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def test_callback_survives_kill9():
    """The callback obligation is in Redis, written by the same script as the final state: right
    after the final state the due entry exists; a gateway killed (kill -9) while it retries a
    failing receiver loses nothing - the restarted gateway claims the entry once its lease ends
    (--async-callback-lease-ms, short here) and delivers it, signed."""
    secret = b"kill-secret-" + os.urandom(12).hex().encode()
    tmp = tempfile.mkdtemp(prefix="cg-async-cbk-")
    secret_file = os.path.join(tmp, "secret")
    with open(secret_file, "wb") as f:
        f.write(secret)
    os.chmod(secret_file, 0o600)
    rec = Receiver(secret, fail_first=1 << 30)  # /fail...: 500 until told otherwise
    r = Redis("cbkill").start()
    lease_ms = 2000
    g = async_gateway(r, "cbkill", [OPT["workers"], "1", OPT["cb_secret"], secret_file,
                                    OPT["cb_networks"], "127.0.0.1/32", OPT["cb_attempts"], "30",
                                    OPT["cb_backoff"], "300", OPT["cb_timeout"], "5000",
                                    OPT["cb_lease"], str(lease_ms)]).start()
    base = "http://127.0.0.1:%d" % rec.port
    due = "codegate:cb:due"
    try:
        plain = submit_ok(g, program("py", "cbk-plain")[0])
        check(final(g, plain)["status"] == "done", "a submission without callbackUrl is done")
        check(r.cli("ZSCORE", due, plain) == "", "no callback owed without a callbackUrl")
        body, exp = program("py", "cbk")
        sid = submit_ok(g, dict(body, callbackUrl=base + "/fail-kill"))
        d = final(g, sid)
        check_result(d, exp, "with a callbackUrl")
        # Right after the final state: the obligation is in Redis (written by the same script,
        # so a gateway killed between the final write and the post loses nothing either).
        check(r.cli("ZSCORE", due, sid) != "", "the due entry exists right after the final state")
        check(r.cli("HGET", "codegate:sub:" + sid, "cbStatus") == "pending", "cbStatus pending")
        check(d.get("callback", {}).get("status") == "pending", "GET shows the callback pending", d)
        check(metrics(g).get("codegate_async_callbacks_owed") == 1, "/metrics: one callback owed")
        hits = wait_hits(rec, "/fail-kill", 2, 30)
        check(len(hits) >= 2, "the failing receiver is retried (%d attempts)" % len(hits))
        g.proc.kill()
        g.proc.wait(30)
        t_kill = time.time()
        check(r.cli("ZSCORE", due, sid) != "", "the entry survives the kill")
        check(r.cli("HGET", "codegate:sub:" + sid, "cbStatus") == "pending", "still pending")
        n_before = len(rec.on("/fail-kill"))
        rec.fail_first = 0  # the receiver recovers
        restart(g, 1)
        deadline = time.time() + 60
        while time.time() < deadline and len(rec.on("/fail-kill")) <= n_before:
            time.sleep(0.05)
        after = rec.on("/fail-kill")[n_before:]
        check(after, "the restarted gateway delivered the callback (%d before the kill)" % n_before)
        t, _, hdrs, raw, verified = after[0]
        check(verified, "the delivery is signed with the secret", hdrs)
        check(hdrs.get("x-codegate-submission") == sid, "submission header", hdrs)
        state = json.loads(raw)["data"]
        check(state["id"] == sid and state["status"] == "done", "the final state", state)
        check(state["result"]["stdout"] == exp[1], "with its result", state)
        check(t - t_kill >= lease_ms / 2000.0, "re-delivered after the lease ran out (%.2fs)" % (t - t_kill))
        deadline = time.time() + 30
        while time.time() < deadline:
            d = get(g, sid)[1]["data"]
            if d.get("callback", {}).get("status") == "delivered":
                break
            time.sleep(0.1)
        check(d.get("callback", {}).get("status") == "delivered", "GET shows it delivered", d)
        check(d["callback"]["attempts"] >= 1, "with its attempts", d)
        check(r.cli("ZSCORE", due, sid) == "", "the entry is gone once delivered")
        check(metrics(g).get("codegate_async_callbacks_owed") == 0, "/metrics: none owed")
        time.sleep(1)
        check(len(rec.on("/fail-kill")) == n_before + 1, "delivered once after the restart")
        print("    killed after %d failed attempts; delivered %.1fs after the kill (lease %.1fs)"
              % (n_before, t - t_kill, lease_ms / 1000.0))
    finally:
        rec.close()
        g.stop()
        r.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def test_callback_handed_back_on_stop():
    """SIGTERM while a callback is being retried: the gateway does not record it as failed but
    hands it back due at once, so the next gateway delivers it at once - long before the lease
    (60 s here) would have released it."""
    secret = b"stop-secret-" + os.urandom(12).hex().encode()
    tmp = tempfile.mkdtemp(prefix="cg-async-cbs-")
    secret_file = os.path.join(tmp, "secret")
    with open(secret_file, "wb") as f:
        f.write(secret)
    os.chmod(secret_file, 0o600)
    rec = Receiver(secret, fail_first=1 << 30)
    r = Redis("cbstop").start()
    lease_ms = 60000
    g = async_gateway(r, "cbstop", [OPT["workers"], "1", OPT["cb_secret"], secret_file,
                                    OPT["cb_networks"], "127.0.0.1/32", OPT["cb_attempts"], "30",
                                    OPT["cb_backoff"], "300", OPT["cb_timeout"], "5000",
                                    OPT["cb_lease"], str(lease_ms)]).start()
    base = "http://127.0.0.1:%d" % rec.port
    try:
        sid = submit_ok(g, dict(program("py", "cbs")[0], callbackUrl=base + "/fail-stop"))
        check(final(g, sid)["status"] == "done", "done")
        check(len(wait_hits(rec, "/fail-stop", 2, 30)) >= 2, "the failing receiver is retried")
        code = g.stop()
        check(code == 0, "exit status %s after SIGTERM" % code)
        check(r.cli("HGET", "codegate:sub:" + sid, "cbStatus") == "pending", "not recorded as failed")
        score = r.cli("ZSCORE", "codegate:cb:due", sid)
        check(score != "" and float(score) <= time.time() * 1000 + 1000, "handed back due now (%s)" % score)
        n_before = len(rec.on("/fail-stop"))
        rec.fail_first = 0
        t0 = time.time()
        restart(g, 1)
        deadline = time.time() + 45
        while time.time() < deadline and len(rec.on("/fail-stop")) <= n_before:
            time.sleep(0.05)
        after = rec.on("/fail-stop")[n_before:]
        check(len(after) == 1 and after[0][4], "delivered once, signed, by the next gateway (%d)" % len(after))
        check(after[0][0] - t0 < lease_ms / 1000.0 - 10, "at once, not after the lease (%.1fs)" % (after[0][0] - t0))
        print("    handed back on SIGTERM; delivered %.1fs after the restart (lease %ds)"
              % (after[0][0] - t0, lease_ms // 1000))
    finally:
        rec.close()
        g.stop()
        r.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def test_drain_hands_back():
    """SIGTERM: the gateway takes nothing new, lets its runs go on for --drain-ms, then hands
    what still runs back to the queue (not an attempt) and exits 0; the next gateway runs them at
    once - long before the visibility timeout (60 s here) would have released them."""
    r = Redis("drain").start()
    opts = fast_opts(visibility=60000)
    g = async_gateway(r, "drain", ["--drain-ms", "1000", OPT["workers"], "2"], opts).start()
    try:
        long_ids = occupy(g, 2, 6, "drain")
        body, exp = program("py", "drain-queued")
        queued = submit_ok(g, body)
        for sid in long_ids:
            wait_status(g, sid, "running")
        t0 = time.time()
        code = g.stop()
        check(code == 0, "exit status %s after SIGTERM" % code)
        check(time.time() - t0 < 30, "the drain ended after --drain-ms, not after the runs")
        g2 = async_gateway(r, "drain2", opts=opts).start()
        try:
            t1 = time.time()
            check_result(final(g2, queued, timeout=60), exp, "queued at the drain")
            for i, sid in enumerate(long_ids):
                d = final(g2, sid, timeout=60)
                check_result(d, ("ok", "slow:drain%d\n" % i), "handed back")
                check(d["attempts"] == 1, "a hand-back is not an attempt", d)
            took = time.time() - t1
            check(took < 55, "handed back at once, not claimed after the visibility timeout (%.1fs)" % took)
            print("    handed back and finished %.1fs after the restart (attempts %s)"
                  % (took, [final(g2, sid)["attempts"] for sid in long_ids]))
        finally:
            g2.stop()
    finally:
        r.cleanup()


def test_make_run_private_redis():
    """scripts/run.sh (make run) starts a private redis-server for its instance - unix socket in
    the state directory, AOF with appendfsync always - passes it to the gateway, and stops it
    after the gateway on SIGTERM; the next start finds what was accepted before."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    port = free_port()
    instance = "%srun-%d" % (os.environ.get("CODEGATE_TEST_PREFIX", ""), os.getpid())
    data = tempfile.mkdtemp(prefix="cg-async-run-")
    env = dict(os.environ, CODEGATE_RUNTIME="local", CODEGATE_REDIS_DATA_DIR=data,
               ARGS="--port %d --instance %s" % (port, instance))
    env.pop("CODEGATE_REDIS_URL", None)
    url = "http://127.0.0.1:%d" % port
    rundir = "/run/codegate-%s" % instance if os.geteuid() == 0 else None

    def start():
        log = open(os.path.join(data, "run.out"), "ab")
        p = subprocess.Popen([os.path.join(root, "scripts", "run.sh")], cwd=root, env=env,
                             stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 120
        while time.time() < deadline:
            check(p.poll() is None, "run.sh exited: %s" % open(os.path.join(data, "run.out")).read()[-2000:])
            try:
                st, doc, _ = http("GET", url + "/readyz", timeout=2)
                if st == 200:
                    return p, doc
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError("make run not ready")

    def stop(p):
        p.send_signal(signal.SIGTERM)
        check(p.wait(60) == 0, "run.sh exits 0 after SIGTERM")

    p, doc = start()
    try:
        check(doc["async"] == "ok", "the async API works out of the box", doc)
        if rundir:
            sock = os.path.join(rundir, "redis.sock")
            check(os.path.exists(sock), "the socket is in the state directory")
            out = subprocess.run(["redis-cli", "-s", sock, "CONFIG", "GET", "append*"],
                                 capture_output=True, text=True).stdout.split()
            conf = dict(zip(out[::2], out[1::2]))
            check(conf.get("appendonly") == "yes" and conf.get("appendfsync") == "always",
                  "AOF with fsync always: %s" % conf)
        body, exp = program("py", "make-run")
        g = Ctx()
        g.url = url
        sid = submit_ok(g, body)
        check_result(final(g, sid), exp, "make run")
        redis_pids = subprocess.run(["pgrep", "-f", "redis-server.*%s" % instance],
                                    capture_output=True, text=True).stdout.split()
        check(len(redis_pids) == 1, "one private redis-server: %s" % redis_pids)
    finally:
        stop(p)
    check(subprocess.run(["pgrep", "-f", "redis-server.*%s" % instance]).returncode == 1,
          "the private redis-server stopped with the gateway")
    check(os.path.isdir(os.path.join(data, "appendonlydir")), "the append-only files are kept")
    p, doc = start()
    try:
        st, doc, _ = http("GET", url + "/api/submissions/" + sid)
        check(st == 200 and doc["data"]["status"] == "done", "the submission outlived the restart", doc)
    finally:
        stop(p)
        shutil.rmtree(data, ignore_errors=True)


def test_no_sanitizer_reports():
    """Every gateway log of this run (restarts included; sanitizer builds report there)."""
    import glob
    bad = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:", "WARNING: ThreadSanitizer")
    logs = glob.glob(os.path.join(BUILD, "test-logs", "gateway-*-%d-*.log" % os.getpid()))
    check(logs, "the gateways' logs are found")
    found = {}
    for path in logs:
        with open(path, "rb") as f:
            lines = [l for l in f.read().decode("utf-8", "replace").splitlines() if any(b in l for b in bad)]
        if lines:
            found[os.path.basename(path)] = lines[:5]
    check(not found, "sanitizer reports: %s" % found)


# ---------------------------------------------------------------------------------------------

def main():
    global BUILD, RUNTIME
    BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
    RUNTIME = sys.argv[2:] or ["--runtime", "local"]
    r = Runner("async (%s)" % " ".join(RUNTIME))
    tmp = tempfile.mkdtemp(prefix="cg-async-ga-")
    secret_file = os.path.join(tmp, "secret")
    with open(secret_file, "w") as f:
        f.write("ga-secret-0123456789abcdef")
    ra = Redis("ga").start()
    C.ga = async_gateway(ra, "ga", [OPT["workers"], "2", OPT["cb_secret"], secret_file,
                                    "--async-max-waiters", "2"])
    try:
        C.ga.start()
        r.run_all(C.ga, [test_submit_wait_result_shape, test_languages_and_program_failures_are_results,
                         test_idempotency_key, test_cancel_queued_and_running_metrics_move,
                         test_wait_long_poll_bounds, test_waiters_bounded, test_batch,
                         test_sync_execute_alongside, test_ssrf_refusals, test_metrics_exported],
                  timeout=240)
    finally:
        if C.ga.proc and C.ga.proc.poll() is None:
            C.ga.stop()
        ra.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    r.run(test_no_redis_url_503, timeout=120)
    r.run(test_redis_absent_at_start, timeout=180)
    r.run(test_ttl_expiry, timeout=120)
    r.run(test_fairness_per_key, timeout=300)
    r.run(test_executor_unavailable_dead_letter_requeue, timeout=300)
    r.run(test_callbacks_signed_retried_not_blocking, timeout=300)
    r.run(test_callback_survives_kill9, timeout=300)
    r.run(test_callback_handed_back_on_stop, timeout=300)
    r.run(test_two_gateways_share_one_redis, timeout=300)
    r.run(test_redis_restart_loses_nothing, timeout=300)
    r.run(test_500_submissions_three_kill9, timeout=600)
    r.run(test_drain_hands_back, timeout=300)
    r.run(test_make_run_private_redis, timeout=300)
    r.run(test_no_sanitizer_reports)
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
