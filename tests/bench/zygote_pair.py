#!/usr/bin/python3
"""Python print(1) through the gateway against a bare python3 start, paired (issue 15, targets
0 and 1). Not part of make test; tests/bench/bench.py owns the benchmark rows.

    tests/bench/zygote_pair.py BUILD_DIR [N] [--docker]

For each gateway (local runtime with the zygote, local with EXECUTOR_ZYGOTE=0, and with
--docker the Docker runtime with the zygote), N requests alternate with N bare
`python3 -c 'print(1)'` starts: p50 of each, back-to-back and with a 50 ms pause before each.
Then throughput: 8 keep-alive clients for 5 s against the gateway, and the bare-start ceiling
(as many parallel loops of bare starts as cores, 5 s), in the same run.
"""
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import Gateway  # noqa: E402

BODY = json.dumps({"language": "python", "code": "print(1)"})
BARE = ["/usr/bin/python3", "-c", "print(1)"]


def bare_ms():
    t = time.perf_counter()
    subprocess.run(BARE, stdout=subprocess.DEVNULL, check=True)
    return (time.perf_counter() - t) * 1000


class Client:
    def __init__(self, port):
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def ms(self):
        t = time.perf_counter()
        self.c.request("POST", "/api/code/execute", BODY, {"Content-Type": "application/json"})
        r = self.c.getresponse()
        doc = json.loads(r.read())
        assert r.status == 200 and doc["data"]["stdout"] == "1\n", doc
        return (time.perf_counter() - t) * 1000


def paired(gw, n, pause):
    c = Client(gw.port)
    for _ in range(5):
        c.ms()
        bare_ms()
    g, b = [], []
    for _ in range(n):
        if pause:
            time.sleep(pause)
        g.append(c.ms())
        if pause:
            time.sleep(pause)
        b.append(bare_ms())
    return statistics.median(g), statistics.median(b)


def loop_for(seconds, fn):
    end = time.time() + seconds
    n = 0
    while time.time() < end:
        fn()
        n += 1
    return n


def parallel(k, seconds, make):
    counts = [0] * k

    def run(i):
        f = make()
        counts[i] = loop_for(seconds, f)
    ths = [threading.Thread(target=run, args=(i,)) for i in range(k)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    return sum(counts) / seconds


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    n = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2].isdigit() else 100
    setups = [("local zygote", ["--runtime", "local"], {}),
              ("local exec", ["--runtime", "local"], {"EXECUTOR_ZYGOTE": "0"})]
    if "--docker" in sys.argv:
        setups.append(("docker zygote", ["--runtime", "docker"], {}))
        setups.append(("docker exec", ["--runtime", "docker"], {"EXECUTOR_ZYGOTE": "0"}))
    cores = os.cpu_count()
    for name, args, env in setups:
        gw = Gateway(build, args, env=env, name="zybench").start()
        try:
            g0, b0 = paired(gw, n, 0)
            g1, b1 = paired(gw, n, 0.05)
            thr = parallel(8, 5, lambda: Client(gw.port).ms)
            ceil = parallel(cores, 5, lambda: bare_ms)
            print("%-14s back-to-back p50 %.1f ms vs bare %.1f ms (%.2fx); after 50 ms %.1f vs %.1f "
                  "(%.2fx); 8 clients %.0f req/s vs bare ceiling %.0f/s on %d cores (%.2fx)"
                  % (name, g0, b0, g0 / b0, g1, b1, g1 / b1, thr, ceil, cores, thr / ceil), flush=True)
        finally:
            gw.stop()


if __name__ == "__main__":
    main()
