#!/usr/bin/python3
"""outcost_ab.py - two builds' answers to one program, interleaved in the same minutes.

On a shared, loaded machine two runs of tests/bench/outcost.py minutes apart see different
load; this starts a gateway (local runtime) from each build and alternates the requests
between them, so both see the same load. Prints per build the answer's p50 and min, the
program's own durationMs, and the time outside the run (answer less durationMs), p50.
Usage: /usr/bin/python3 tests/bench/outcost_ab.py BUILD_A BUILD_B [PYTHON_CODE] [N]
       (default code: print('x'*1048575), N 40)
"""
import http.client
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from harness import Gateway  # noqa: E402


def main():
    a, b = sys.argv[1], sys.argv[2]
    code = sys.argv[3] if len(sys.argv) > 3 else "print('x'*1048575)"
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 40
    gws = {a: Gateway(a, ["--runtime", "local"], name="ab-a"),
           b: Gateway(b, ["--runtime", "local"], name="ab-b")}
    res = {k: {"total": [], "dur": []} for k in gws}
    body = json.dumps({"language": "python", "code": code})
    try:
        for g in gws.values():
            g.start()
        conns = {k: http.client.HTTPConnection("127.0.0.1", g.port, timeout=60)
                 for k, g in gws.items()}
        for i in range(n + 3):
            for k in ((a, b) if i % 2 else (b, a)):
                t0 = time.perf_counter()
                conns[k].request("POST", "/api/code/execute", body,
                                 {"Content-Type": "application/json"})
                r = conns[k].getresponse()
                payload = r.read()
                dt = (time.perf_counter() - t0) * 1000
                doc = json.loads(payload)
                if r.status != 200 or doc["data"]["status"] != "ok":
                    raise SystemExit("%s: %s %s" % (k, r.status, payload[:300]))
                if i >= 3:
                    res[k]["total"].append(dt)
                    res[k]["dur"].append(doc["data"]["durationMs"])
    finally:
        for g in gws.values():
            if g.proc:
                g.stop()

    def med(x):
        return sorted(x)[len(x) // 2]
    for k, v in res.items():
        print("%-20s answer p50 %7.1f ms, min %7.1f; program durationMs p50 %4d; outside the run "
              "p50 %7.1f ms" % (k, med(v["total"]), min(v["total"]), med(v["dur"]),
                                med([t - d for t, d in zip(v["total"], v["dur"])])), flush=True)


if __name__ == "__main__":
    main()
