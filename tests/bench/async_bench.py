"""The async queue's row of `make bench` (tests/bench/bench.py; docs/ASYNC.md).

One gateway on the local runtime with a private redis-server (unix socket, appendonly yes,
appendfsync always: the durable setting `make run` uses), measured in one run:
  - the latency the queue adds: pairs of (synchronous POST /api/code/execute, POST
    /api/submissions + GET ?wait until done) with the same program, interleaved, p50 of each and
    of the difference;
  - submissions per second accepted (8 keep-alive clients posting single submissions; then
    batches of 100) and completed (from the first POST to the last finishedAt).
Standalone: /usr/bin/python3 tests/bench/async_bench.py [BUILD_DIR] [--quick]
"""
import datetime
import http.client
import json
import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from harness import Gateway  # noqa: E402
from test_async import Redis  # noqa: E402

BODY = {"language": "python", "code": "print(1)"}
CLIENTS = 8


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return None
    return xs[max(0, min(len(xs) - 1, int(-(-p * len(xs) // 100)) - 1))]


class Conn:
    """One keep-alive HTTP connection to the gateway."""

    def __init__(self, port):
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def req(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        hdrs = {"Content-Type": "application/json"} if data else {}
        self.c.request(method, path, body=data, headers=hdrs)
        r = self.c.getresponse()
        raw = r.read()
        return r.status, json.loads(raw) if raw else None


def epoch(ts):
    """createdAt/finishedAt: ISO 8601 text or epoch milliseconds -> epoch seconds."""
    if isinstance(ts, (int, float)):
        return ts / 1000.0
    return datetime.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def latency_pairs(port, n):
    c = Conn(port)
    sync, queued, added = [], [], []
    for i in range(n + 5):
        t0 = time.perf_counter()
        st, doc = c.req("POST", "/api/code/execute", BODY)
        t1 = time.perf_counter()
        if st != 200:
            raise RuntimeError("sync execute answered %s: %s" % (st, doc))
        st, doc = c.req("POST", "/api/submissions", BODY)
        if st != 202:
            raise RuntimeError("POST /api/submissions answered %s: %s" % (st, doc))
        sid = doc["data"]["id"]
        while True:
            st, doc = c.req("GET", "/api/submissions/%s?wait=10" % sid)
            if doc["data"]["status"] in ("done", "failed", "cancelled"):
                break
        t2 = time.perf_counter()
        if doc["data"]["status"] != "done":
            raise RuntimeError("submission ended %s" % doc["data"])
        if i >= 5:  # warm-up
            sync.append((t1 - t0) * 1000)
            queued.append((t2 - t1) * 1000)
            added.append(((t2 - t1) - (t1 - t0)) * 1000)
    return {"n": n, "sync_p50_ms": round(pct(sync, 50), 1), "async_p50_ms": round(pct(queued, 50), 1),
            "added_p50_ms": round(pct(added, 50), 1), "async_p95_ms": round(pct(queued, 95), 1)}


def throughput(port, total, batch):
    """Posts `total` submissions from CLIENTS keep-alive clients (singles, or batches of 100);
    returns accepted/s and completed/s."""
    ids, lock, errors = [], threading.Lock(), []
    per = total // CLIENTS

    def client():
        try:
            c = Conn(port)
            done = 0
            while done < per:
                if batch:
                    k = min(100, per - done)
                    st, doc = c.req("POST", "/api/submissions/batch", {"submissions": [BODY] * k})
                    got = [e["id"] for e in doc["data"]["submissions"]] if st == 202 else []
                else:
                    k = 1
                    st, doc = c.req("POST", "/api/submissions", BODY)
                    got = [doc["data"]["id"]] if st == 202 else []
                if st != 202:
                    errors.append(st)
                    time.sleep(0.05)
                    continue
                with lock:
                    ids.extend(got)
                done += k
        except Exception as e:  # noqa: reported
            errors.append(repr(e))

    t0 = time.time()
    ths = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    t_acc = time.time() - t0
    c = Conn(port)
    last = 0.0
    failed = 0
    for sid in ids:
        while True:
            st, doc = c.req("GET", "/api/submissions/%s?wait=10" % sid)
            d = doc["data"]
            if d["status"] in ("done", "failed", "cancelled"):
                break
        if d["status"] != "done" or d["result"]["stdout"] != "1\n":
            failed += 1
        last = max(last, epoch(d["finishedAt"]))
    t_done = last - t0
    return {"submissions": len(ids), "clients": CLIENTS, "batch": 100 if batch else 1,
            "accepted_per_s": round(len(ids) / t_acc, 1), "completed_per_s": round(len(ids) / t_done, 1),
            "accept_s": round(t_acc, 2), "complete_s": round(t_done, 2), "errors": len(errors),
            "not_done": failed}


def async_bench(build, quick, log=print):
    r = Redis("bench").start()
    g = Gateway(build, ["--runtime", "local", "--redis-url", r.url], name="bench-async")
    out = {"redis": "unix socket, appendonly yes, appendfsync always"}
    try:
        g.start(ready_timeout=600)
        time.sleep(1)
        log("async: queue latency over sync, %d pairs" % (30 if quick else 100))
        out["latency"] = latency_pairs(g.port, 30 if quick else 100)
        n = 400 if quick else 2000
        log("async: %d single submissions from %d clients" % (n, CLIENTS))
        out["singles"] = throughput(g.port, n, False)
        log("async: %d submissions in batches of 100 from %d clients" % (n, CLIENTS))
        out["batches"] = throughput(g.port, n, True)
    finally:
        g.stop()
        r.cleanup()
    return out


def print_report(A):
    """The async section of the report."""
    print("\n== Async queue (local runtime, Redis appendfsync always)")
    lat = A.get("latency")
    if lat:
        print("  python print(1), %d interleaved pairs: sync p50 %.1f ms; POST /api/submissions + GET ?wait "
              "until done p50 %.1f ms (p95 %.1f); added by the queue p50 %.1f ms"
              % (lat["n"], lat["sync_p50_ms"], lat["async_p50_ms"], lat["async_p95_ms"], lat["added_p50_ms"]))
    rows = []
    for k in ("singles", "batches"):
        t = A.get(k)
        if t:
            rows.append("  %-8s %5d submissions, %d clients, %3d per request: accepted %7.1f/s (%.1f s), "
                        "completed %6.1f/s (%.1f s), errors %d, not done %d"
                        % (k, t["submissions"], t["clients"], t["batch"], t["accepted_per_s"], t["accept_s"],
                           t["completed_per_s"], t["complete_s"], t["errors"], t["not_done"]))
    print("\n".join(rows))


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    res = async_bench(os.path.abspath(args[0] if args else os.path.join(ROOT, "build")), "--quick" in sys.argv,
                      log=lambda m: print("bench: " + m, file=sys.stderr, flush=True))
    print_report(res)
    print(json.dumps(res, indent=1))
