#!/usr/bin/python3
"""A class at once, on the defaults (issue 15, target 6): the sizing that follows the machine.

    tests/integration/test_classroom.py BUILD_DIR [gateway args...]

Part of `make test` (scripts/run-tests.sh, local runtime). The gateway is started with no sizing
option at all (default: --runtime local and nothing else), so executors, slots, queue length and
queue wait come from the machine (server/sizing.c).

  - /readyz shows the sizing: the CPUs and memory read, the values in use, and that every one of
    them came from the machine; the gateway logged one line with the inputs and the result.
  - 30 students at once each run a 2-second program that mostly sleeps and then reads its input:
    all 30 are answered 200 with the program ended ok and its own output (before sizing, 10 of
    30 got 503 after waiting 10 s).
  - 30 CPU-bound 0.5 s programs at once: all 200, ended ok (no wall-clock timeout from sharing
    the cores); p50/p99 are printed, not asserted.
  - An explicit option still wins: a second gateway with --slots 2 --queue-wait-ms 30000 uses
    them, and /readyz says they were not sized.

No timing assertion. The last line is `N passed, N failed`.
"""
import concurrent.futures
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Gateway, Runner, check, http  # noqa: E402

G = None
CLASS = 30
SIZED = ["executors", "slots", "queueMax", "queueWaitMs", "containerCpusMilli"]

SLEEPER = """import time
time.sleep(2)
name = input()
print("hello", name)
"""
CPU_BOUND = """import time
t0 = time.process_time()
n = 0
while time.process_time() - t0 < 0.5:
    n += 1
print("done", n > 0)
"""


def pct(xs, p):
    xs = sorted(xs)
    return xs[max(0, min(len(xs) - 1, -(-p * len(xs) // 100) - 1))]


def burst(bodies):
    """POSTs every body at once (one thread each); returns [(status, doc, seconds)]."""
    def one(body):
        t0 = time.time()
        st, doc, _ = G.execute(body, timeout=300)
        return st, doc, time.time() - t0
    with concurrent.futures.ThreadPoolExecutor(len(bodies)) as ex:
        return list(ex.map(one, bodies))


def readyz(g):
    st, doc, _ = http("GET", g.url + "/readyz")
    check(st == 200, "readyz %s" % st, doc)
    return doc


def test_readyz_shows_the_sizing():
    doc = readyz(G)
    z = doc.get("sizing")
    check(isinstance(z, dict), "/readyz has sizing", doc)
    check(z["cpuMilli"] >= 1 and z["memoryMb"] >= 1, "machine read", z)
    check(sorted(z["fromMachine"]) == sorted(SIZED), "every value from the machine", z)
    cores = -(-z["cpuMilli"] // 1000)
    check(z["executors"] * z["slots"] >= 1 and z["queueMax"] >= CLASS, "slots and queue", z)
    # The capacity /readyz reports per language is what the sizing chose.
    for lang, cap in doc["capacity"].items():
        check(cap["slots"] == z["executors"] * z["slots"], "%s slots = sizing" % lang, doc)
    print("  sizing: %.2f CPUs (%d cores), %d MiB -> %d executor(s) x %d slots, queue %d, wait %d ms"
          % (z["cpuMilli"] / 1000, cores, z["memoryMb"], z["executors"], z["slots"], z["queueMax"],
             z["queueWaitMs"]))
    lines = [l for l in G.log_lines() if str(l.get("msg", "")).startswith("sizing:")]
    check(len(lines) == 1, "one sizing line in the log: %s" % lines)


def report(name, res):
    secs = [r[2] for r in res]
    print("  %s: %d requests, statuses %s, latency p50 %.1f s, p99 %.1f s, max %.1f s"
          % (name, len(res), sorted({r[0] for r in res}), pct(secs, 50), pct(secs, 99), max(secs)))


def test_class_of_sleepers_all_answered():
    bodies = [{"language": "python", "code": SLEEPER, "stdin": "student%d\n" % i}
              for i in range(CLASS)]
    res = burst(bodies)
    report("30 x sleep 2 s + input", res)
    for i, (st, doc, _) in enumerate(res):
        check(st == 200 and doc and doc.get("success") is True, "student %d: HTTP %s" % (i, st), doc)
        d = doc["data"]
        check(d["status"] == "ok" and d["stdout"] == "hello student%d\n" % i, "student %d" % i, d)


def test_class_of_cpu_bound_all_answered():
    res = burst([{"language": "python", "code": CPU_BOUND} for _ in range(CLASS)])
    report("30 x 0.5 s CPU", res)
    for i, (st, doc, _) in enumerate(res):
        check(st == 200 and doc and doc.get("success") is True, "student %d: HTTP %s" % (i, st), doc)
        d = doc["data"]
        check(d["status"] == "ok" and d["stdout"] == "done True\n", "student %d: %s" % (i, d["status"]), d)


def test_explicit_options_win(build, extra):
    g = Gateway(build, extra + ["--slots", "2", "--queue-wait-ms", "30000"], name="class-explicit")
    g.start()
    try:
        z = readyz(g)["sizing"]
        check(z["slots"] == 2 and z["queueWaitMs"] == 30000, "explicit values used", z)
        check("slots" not in z["fromMachine"] and "queueWaitMs" not in z["fromMachine"]
              and "executors" in z["fromMachine"], "only the rest sized", z)
    finally:
        check(g.stop() == 0, "explicit gateway exits cleanly")


def main():
    global G
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    extra = sys.argv[2:] or ["--runtime", "local"]
    r = Runner("classroom (%s)" % " ".join(extra))
    G = Gateway(build, extra, name="class").start()
    r.run_all(G, [test_readyz_shows_the_sizing, test_class_of_sleepers_all_answered,
                  test_class_of_cpu_bound_all_answered], timeout=600)

    def explicit_options_win():
        test_explicit_options_win(build, extra)
    r.run(explicit_options_win, timeout=600)
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
